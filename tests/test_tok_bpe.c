/* test_tok_bpe.c — the byte-level BPE path on hand-made tokenizer.json
 * texts: merge order, both merges serializations, unk / byte_fallback /
 * ignore_merges, the ByteLevel byte map, Split (scanner, regex, String;
 * Isolated / Removed), load errors and limits, and the per-thread word
 * cache keeping two models apart. The Hugging Face goldens (Qwen3,
 * ModernBERT) are test_tok_golden's. */
#include <jansson.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "common/utf8.h"
#include "rerank.h"
#include "test.h"
#include "tok_json.h"
#include "tokenizer/internal.h"

/* Tokenize text with a tokenizer made of `js`; 1 if the ids are want[0..n). */
static int ids_of(const char *js, const char *text, const int32_t *want, size_t n) {
    rerank_tokenizer_t *t = NULL;
    rerank_status_t st = tok_from_string(js, &t);
    CHECK_MSG(st == RERANK_OK, "load: %s", rerank_last_error());
    if (!t) return 0;
    rerank_encoding_t e = {0};
    int ok = rerank_tokenize(t, text, strlen(text), &e) == RERANK_OK && e.n == n &&
             (n == 0 || !memcmp(e.ids, want, n * sizeof *want));
    if (!ok) {
        fprintf(stderr, "    \"%s\" -> [", text);
        for (size_t i = 0; i < e.n; i++) fprintf(stderr, "%s%d", i ? "," : "", e.ids[i]);
        fprintf(stderr, "]\n");
    }
    rerank_encoding_free(&e);
    rerank_tokenizer_free(t);
    return ok;
}

#define IDS(js, text, ...)                                                  \
    do {                                                                    \
        static const int32_t want_[] = {__VA_ARGS__};                       \
        CHECK_MSG(ids_of(js, text, want_, sizeof want_ / sizeof *want_), "%s", text); \
    } while (0)

/* vocab a b c ab bc abc; merges in the given order/serialization */
#define ABC_VOCAB "{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,\"bc\":4,\"abc\":5,\"<unk>\":6}"

static char g_js[4096];
static const char *bpe(const char *merges, const char *extra) {
    snprintf(g_js, sizeof g_js, "{\"model\":{\"type\":\"BPE\",\"vocab\":" ABC_VOCAB ",\"merges\":%s%s}}", merges, extra);
    return g_js;
}

TEST(merge_order) {
    /* a b c with "b c" ranked before "a b": bc first, then nothing joins a+bc */
    IDS(bpe("[\"b c\",\"a b\"]", ""), "abc", 0, 4);
    IDS(bpe("[\"a b\",\"b c\"]", ""), "abc", 3, 2);
    IDS(bpe("[\"a b\",\"b c\",\"ab c\"]", ""), "abc", 5);
    /* the two serializations are the same model */
    IDS(bpe("[[\"a\",\"b\"],[\"b\",\"c\"],[\"ab\",\"c\"]]", ""), "abc", 5);
    /* equal ranks: the leftmost pair first ("aaa" with only "a a" -> "aa"
     * would need an "aa" token; use bb: b b b -> (bb) b) */
    snprintf(g_js, sizeof g_js,
             "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"b\":0,\"bb\":1},\"merges\":[\"b b\"]}}");
    IDS(g_js, "bbb", 1, 0);
    IDS(g_js, "bbbb", 1, 1);
    /* a later duplicate of a pair takes the later rank */
    IDS(bpe("[\"a b\",\"b c\",\"a b\"]", ""), "abc", 0, 4);
    /* no merges at all */
    IDS(bpe("[]", ""), "cab", 2, 0, 1);
}

TEST(unknown_chars) {
    /* no unk_token: an unknown char is dropped, and its neighbours merge */
    IDS(bpe("[\"a b\"]", ""), "axb", 3);
    IDS(bpe("[]", ""), "axb", 0, 1);
    IDS(bpe("[\"a b\"]", ""), "xyz");
    /* unk_token, not fused: one unk per char; fused: one per run */
    IDS(bpe("[\"a b\"]", ",\"unk_token\":\"<unk>\""), "axyb", 0, 6, 6, 1);
    IDS(bpe("[\"a b\"]", ",\"unk_token\":\"<unk>\",\"fuse_unk\":true"), "axyb", 0, 6, 1);
    /* an unk splits merges: a <unk> b does not merge */
    IDS(bpe("[\"a b\"]", ",\"unk_token\":\"<unk>\",\"fuse_unk\":true"), "abxab", 3, 6, 3);
    /* byte_fallback: <0xXX> pieces for a char that has no token */
    snprintf(g_js, sizeof g_js,
             "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"unk_token\":\"<unk>\",\"vocab\":{\"a\":0,\"<unk>\":1,"
             "\"<0xC3>\":2,\"<0xA9>\":3},\"merges\":[]}}");
    IDS(g_js, "a\xC3\xA9", 0, 2, 3);
    IDS(g_js, "a\xC3\xA8", 0, 1); /* <0xA8> missing: the whole char is unk */
}

TEST(ignore_merges) {
    /* "abc" is a token but no merge reaches it from a b c */
    IDS(bpe("[\"a b\"]", ""), "abc", 3, 2);
    IDS(bpe("[\"a b\"]", ",\"ignore_merges\":true"), "abc", 5);
    /* a word that is one token AND is reached by the merges (memo path) */
    IDS(bpe("[\"a b\",\"ab c\"]", ""), "abc", 5);
}

/* GPT-2's bytes_to_unicode, written out independently. */
static int expected_char(int b, char *out) {
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
    int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    return rr_utf8_encode(printable ? (uint32_t)b : 256u + (uint32_t)n, out);
}

TEST(byte_level_map) {
    /* a vocab of the 256 stand-in chars with id = byte, no merges: the ids
     * of a text are its bytes */
    size_t cap = 16384, k = 0;
    char *js = malloc(cap);
    k += (size_t)snprintf(js + k, cap - k,
                          "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false},"
                          "\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":{");
    for (int b = 0; b < 256; b++) {
        char c[4];
        int len = expected_char(b, c);
        json_t *s = json_stringn(c, (size_t)len);
        char *enc = json_dumps(s, JSON_ENCODE_ANY);
        k += (size_t)snprintf(js + k, cap - k, "%s%s:%d", b ? "," : "", enc, b);
        free(enc);
        json_decref(s);
    }
    snprintf(js + k, cap - k, "}}}");
    rerank_tokenizer_t *t = NULL;
    CHECK_MSG(tok_from_string(js, &t) == RERANK_OK, "%s", rerank_last_error());
    char text[512];
    size_t n = 0;
    for (int b = 1; b < 256; b++) /* every byte value in valid UTF-8 runs */
        if (b < 0x80) text[n++] = (char)b;
    n += (size_t)rr_utf8_encode(0xE9, text + n);
    n += (size_t)rr_utf8_encode(0x4E2D, text + n);
    n += (size_t)rr_utf8_encode(0x1F600, text + n);
    text[n++] = 0; /* NUL too */
    rerank_encoding_t e = {0};
    int ok = t && rerank_tokenize(t, text, n, &e) == RERANK_OK && e.n == n;
    for (size_t i = 0; ok && i < n; i++) ok = e.ids[i] == (uint8_t)text[i];
    CHECK(ok);
    rerank_tokenizer_free(t);
    /* add_prefix_space: a space before each piece that has none */
    memcpy(strstr(js, "\"add_prefix_space\":false"), "\"add_prefix_space\":true ", 24);
    CHECK(tok_from_string(js, &t) == RERANK_OK);
    CHECK(t && rerank_tokenize(t, "ab", 2, &e) == RERANK_OK && e.n == 3 && e.ids[0] == ' ' && e.ids[1] == 'a');
    CHECK(t && rerank_tokenize(t, " ab", 3, &e) == RERANK_OK && e.n == 3 && e.ids[0] == ' ');
    rerank_tokenizer_free(t);
    rerank_encoding_free(&e);
    free(js);
}

/* A whitespace-run vocabulary for Split tests: words are made visible by
 * tokens for each piece the splits may produce. */
static const char *split_js(const char *pattern_json, const char *behavior) {
    snprintf(g_js, sizeof g_js,
             "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":%s,\"behavior\":\"%s\",\"invert\":false},"
             "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"-\":2,\"ab\":3,\"a-\":4,\"-b\":5,\"a-b\":6},"
             "\"merges\":[\"a b\",\"a -\",\"- b\",\"a- b\"]}}",
             pattern_json, behavior);
    return g_js;
}

TEST(split_pre_tokenizer) {
    /* String pattern: Isolated keeps the delimiter as its own word */
    IDS(split_js("{\"String\":\"-\"}", "Isolated"), "a-b", 0, 2, 1);
    IDS(split_js("{\"String\":\"-\"}", "Removed"), "a-b-ab", 0, 1, 3);
    /* no split: the merges join across */
    IDS(split_js("{\"String\":\"x\"}", "Isolated"), "a-b", 6);
    /* a regex regex.c runs */
    IDS(split_js("{\"Regex\":\"-+\"}", "Removed"), "a--b", 0, 1);
    /* what regex.c cannot run is refused by name, not guessed */
    rerank_tokenizer_t *t = NULL;
    CHECK(tok_from_string(split_js("{\"Regex\":\"\\\\p{Lu}+\"}", "Isolated"), &t) == RERANK_ERR_UNSUPPORTED && !t);
    CHECK(strstr(rerank_last_error(), "Split") != NULL);
    CHECK(tok_from_string(split_js("{\"Regex\":\"\\\\s+(?!\\\\S)\"}", "Isolated"), &t) == RERANK_ERR_UNSUPPORTED && !t);
    CHECK(tok_from_string(split_js("{\"String\":\"-\"}", "MergedWithNext"), &t) == RERANK_ERR_UNSUPPORTED && !t);
    CHECK(strstr(rerank_last_error(), "MergedWithNext") != NULL);
    CHECK(tok_from_string(split_js("{\"Nope\":1}", "Isolated"), &t) == RERANK_ERR_FORMAT && !t);
}

/* The scanners against their patterns, piece by piece. */
static int pieces_are(const char *pattern, const char *text, const char *const *want, size_t nw) {
    rr_split_scanner_t scan = rr_split_scanner_find(pattern, strlen(pattern));
    if (!scan) return 0;
    size_t n = strlen(text), pos = 0, k = 0;
    int ok = 1;
    while (pos < n) {
        size_t e = scan(text, n, pos);
        if (e <= pos || k >= nw || strlen(want[k]) != e - pos || memcmp(want[k], text + pos, e - pos)) {
            fprintf(stderr, "    piece %zu: \"%.*s\"\n", k, (int)(e > pos ? e - pos : 0), text + pos);
            ok = 0;
            if (e <= pos) break;
        }
        k++;
        pos = e;
    }
    return ok && k == nw;
}

#define QWEN2                                                                                            \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

TEST(scanners) {
    /* digits one by one, never with a space; a tab or a quote joins the letters after it */
    const char *q1[] = {"I", "'M", " fine", ",", " don", "'T", " ", "1", " ", "2", "3", "  ", " x", "  \n\n", "\ty", "!!\n", "  "};
    CHECK(pieces_are(QWEN2, "I'M fine, don'T 1 23   x  \n\n\ty!!\n  ", q1, sizeof q1 / sizeof *q1));
    const char *q2[] = {"'\xC5\xBF", "'re", "'x", " \xE4\xB8\xAD\xE6\x96\x87", " ...\r\n", "\xC2\xA0"};
    CHECK(pieces_are(QWEN2, "'\xC5\xBF're'x \xE4\xB8\xAD\xE6\x96\x87 ...\r\n\xC2\xA0", q2, sizeof q2 / sizeof *q2));
    /* case-sensitive contractions; only a plain space joins what follows */
    const char *g1[] = {"I", "'m", " fine", ",", " don", "'t", " 123", "  ", " x", "!!", "   ", "\t", "y", " '", "M"};
    CHECK(pieces_are(GPT2, "I'm fine, don't 123   x!!   \ty 'M", g1, sizeof g1 / sizeof *g1));
    CHECK(rr_split_scanner_find("\\s+", 3) == NULL);
}

TEST(load_errors_and_limits) {
    struct { const char *js; rerank_status_t want; const char *msg; } cases[] = {
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}", RERANK_ERR_FORMAT, "\"b\" is not in the vocab"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a\"]}}", RERANK_ERR_FORMAT, "\"aa\" is not in the vocab"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a a\"]}}", RERANK_ERR_FORMAT, "one space"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[[\"a\"]]}}", RERANK_ERR_FORMAT, "merge 0"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":{}}}", RERANK_ERR_FORMAT, "merges"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":[],\"merges\":[]}}", RERANK_ERR_FORMAT, "vocab"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}", RERANK_ERR_FORMAT, "id"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"x\"},\"merges\":[]}}", RERANK_ERR_FORMAT, "integer"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":16777216},\"merges\":[]}}", RERANK_ERR_FORMAT, "id"},
        {"{\"model\":{\"type\":\"BPE\",\"dropout\":0.1,\"vocab\":{\"a\":0},\"merges\":[]}}", RERANK_ERR_UNSUPPORTED, "dropout"},
        {"{\"model\":{\"type\":\"BPE\",\"continuing_subword_prefix\":\"##\",\"vocab\":{\"a\":0},\"merges\":[]}}",
         RERANK_ERR_UNSUPPORTED, "continuing_subword_prefix"},
        {"{\"model\":{\"type\":\"BPE\",\"end_of_word_suffix\":\"</w>\",\"vocab\":{\"a\":0},\"merges\":[]}}",
         RERANK_ERR_UNSUPPORTED, "end_of_word_suffix"},
        {"{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"vocab\":{\"a\":0},\"merges\":[]}}", RERANK_ERR_FORMAT, "unk_token"},
        {"{\"model\":{\"type\":\"BPE\",\"fuse_unk\":1,\"vocab\":{\"a\":0},\"merges\":[]}}", RERANK_ERR_FORMAT, "fuse_unk"},
        {"{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"use_regex\":\"yes\"},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},"
         "\"merges\":[]}}", RERANK_ERR_FORMAT, "use_regex"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rerank_tokenizer_t *t = NULL;
        rerank_status_t st = tok_from_string(cases[i].js, &t);
        CHECK_MSG(st == cases[i].want && !t, "case %zu: status %d (%s)", i, (int)st, rerank_last_error());
        CHECK_MSG(strstr(rerank_last_error(), cases[i].msg) != NULL, "case %zu: %s", i, rerank_last_error());
        rerank_tokenizer_free(t);
    }
    /* a token longer than RR_MAX_TOKEN_BYTES */
    size_t big = RR_MAX_TOKEN_BYTES + 1;
    char *js = malloc(big + 128);
    int k = snprintf(js, big + 128, "{\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":{\"");
    memset(js + k, 'a', big);
    snprintf(js + k + big, 128, "\":0}}}");
    rerank_tokenizer_t *t = NULL;
    CHECK(tok_from_string(js, &t) == RERANK_ERR_LIMIT && !t);
    free(js);
    /* a word longer than the BPE word limit: a clear LIMIT error, no attempt */
    CHECK(tok_from_string(bpe("[\"a b\"]", ""), &t) == RERANK_OK);
    size_t n = (1u << 20) + 1;
    char *text = malloc(n);
    memset(text, 'a', n);
    rerank_encoding_t e = {0};
    CHECK(t && rerank_tokenize(t, text, n, &e) == RERANK_ERR_LIMIT && e.n == 0);
    CHECK(strstr(rerank_last_error(), "word") != NULL);
    free(text);
    rerank_encoding_free(&e);
    rerank_tokenizer_free(t);
}

/* Two models, one thread: each keeps its own ids for the same word, also
 * when the second is loaded where the first was freed (the word cache is
 * tagged per load, not per address). */
TEST(word_cache_per_model) {
    const char *ja = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2},\"merges\":[\"a b\"]}}";
    const char *jb = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":5,\"b\":6,\"ab\":7},\"merges\":[]}}";
    rerank_tokenizer_t *a = NULL, *b = NULL;
    rerank_encoding_t e = {0};
    for (int round = 0; round < 4; round++) {
        CHECK(tok_from_string(round % 2 ? jb : ja, &a) == RERANK_OK);
        CHECK(tok_from_string(round % 2 ? ja : jb, &b) == RERANK_OK);
        if (!a || !b) break;
        for (int rep = 0; rep < 2; rep++) {
            CHECK(rerank_tokenize(a, "ab", 2, &e) == RERANK_OK);
            CHECK(round % 2 ? e.n == 2 && e.ids[0] == 5 : e.n == 1 && e.ids[0] == 2);
            CHECK(rerank_tokenize(b, "ab", 2, &e) == RERANK_OK);
            CHECK(round % 2 ? e.n == 1 && e.ids[0] == 2 : e.n == 2 && e.ids[0] == 5);
        }
        rerank_tokenizer_free(a);
        rerank_tokenizer_free(b);
        a = b = NULL;
    }
    rerank_encoding_free(&e);
}

TEST(alloc_failures) {
    /* load and tokenize, each allocation failed in turn: a clean NOMEM */
    const char *js = "{\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
                     "{\"type\":\"Split\",\"pattern\":{},\"behavior\":\"Isolated\"},"
                     "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]},"
                     "\"added_tokens\":[{\"id\":9,\"content\":\"<x>\",\"special\":true}],"
                     "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"\\u0120\":3,\"\\u0120a\":4},"
                     "\"merges\":[\"a b\",[\"\\u0120\",\"a\"]]}}";
    json_t *root = json_loads(js, 0, NULL);
    CHECK(root != NULL);
    json_t *split = json_array_get(json_object_get(json_object_get(root, "pre_tokenizer"), "pretokenizers"), 0);
    json_object_set_new(json_object_get(split, "pattern"), "Regex", json_string(QWEN2));
    int done = 0;
    for (unsigned long k = 1; root && k < 400 && !done; k++) {
        rerank_tokenizer_t *t = NULL;
        rr_alloc_fail_at(k);
        rerank_status_t st = rr_tokenizer_from_json(root, NULL, &t);
        rerank_encoding_t e = {0};
        if (!st) st = rerank_tokenize(t, "ab <x> a\xCC\x81 ab", 13, &e);
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        CHECK_MSG(failed ? st == RERANK_ERR_NOMEM : st == RERANK_OK, "k=%lu status %d", k, (int)st);
        if (!failed) {
            done = 1;
            /* "ab", " ", <x>, " á" (NFC; á's bytes have no token: only Ġ),
             * " ab" (a b merges before Ġ a) */
            static const int32_t want[] = {2, 3, 9, 3, 3, 2};
            CHECK(e.n == 6 && !memcmp(e.ids, want, sizeof want));
        }
        rerank_encoding_free(&e);
        rerank_tokenizer_free(t);
    }
    CHECK(done);
    json_decref(root);
}

/* Added tokens with their flags, through rerank_tokenize: normalized ones
 * match the normalized text, the others the raw text; single_word,
 * lstrip / rstrip (as ModernBERT's [MASK]); the longest match wins (as
 * ModernBERT's runs of spaces). Vocab: the bytes a b space (ids 0..2). */
TEST(added_token_flags) {
    const char *js =
        "{\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},"
        "\"added_tokens\":["
        "{\"id\":10,\"content\":\"\u00e9\",\"normalized\":true},"
        "{\"id\":11,\"content\":\"\u00e8\",\"normalized\":false},"
        "{\"id\":12,\"content\":\"[M]\",\"lstrip\":true,\"special\":true},"
        "{\"id\":13,\"content\":\"<r>\",\"rstrip\":true,\"special\":true},"
        "{\"id\":14,\"content\":\"ab\",\"single_word\":true,\"normalized\":false},"
        "{\"id\":15,\"content\":\"  \",\"normalized\":true},{\"id\":16,\"content\":\"   \",\"normalized\":true}],"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"\u0120\":2},\"merges\":[]}}";
    /* é written decomposed is the normalized token; è decomposed is not the raw one */
    IDS(js, "e\xCC\x81", 10);
    IDS(js, "\xC3\xA8", 11);
    IDS(js, "ae\xCC\x80", 0); /* the raw token is not matched on decomposed text; è has no byte tokens */
    /* lstrip swallows the spaces before, rstrip those after */
    IDS(js, "a [M]b", 0, 12, 1);
    IDS(js, "a<r> b", 0, 13, 1);
    /* single_word: only where no word char touches it */
    IDS(js, "ab", 14);
    IDS(js, "aab", 0, 0, 1);
    IDS(js, "a ab b", 0, 2, 14, 2, 1);
    /* runs of spaces: the longest token, then the rest */
    IDS(js, "a     b", 0, 16, 15, 1);
}

int main(void) {
    rr_alloc_init_json();
    RUN(merge_order);
    RUN(unknown_chars);
    RUN(ignore_merges);
    RUN(byte_level_map);
    RUN(split_pre_tokenizer);
    RUN(scanners);
    RUN(load_errors_and_limits);
    RUN(word_cache_per_model);
    RUN(alloc_failures);
    RUN(added_token_flags);
    TEST_MAIN_END();
}
