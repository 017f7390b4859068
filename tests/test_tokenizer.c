/* test_tokenizer.c — unit tests of the tokenizer framework and the XLM-R
 * (Unigram) path: precompiled charsmap, Replace/regex, Metaspace, Viterbi,
 * added tokens, templates, truncation, errors, threads, fault injection. */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "rerank.h"
#include "test.h"
#include "tok_json.h"
#include "tok_expect.h"
#include "tok_pair.h"
#include "tokenizer/internal.h"

static rerank_tokenizer_t *g_xlmr, *g_bert;
static json_t *g_xlmr_json; /* normalizer / pre_tokenizer objects of XLM-R */

static rerank_tokenizer_t *load_fixture(const char *model) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/models/%s", t_shared(), model);
    rerank_tokenizer_t *tok = NULL;
    if (rerank_tokenizer_load(path, &tok) != RERANK_OK)
        fprintf(stderr, "  cannot load %s: %s\n", path, rerank_last_error());
    return tok;
}

/* A tokenizer from a JSON string (no file). */
static int ids_eq(const rerank_encoding_t *e, const int32_t *want, size_t n) {
    if (e->n != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (e->ids[i] != want[i]) return 0;
    return 1;
}

static void print_ids(const char *label, const rerank_encoding_t *e) {
    fprintf(stderr, "    %s: [", label);
    for (size_t i = 0; i < e->n; i++) fprintf(stderr, "%s%d", i ? "," : "", e->ids[i]);
    fprintf(stderr, "]\n");
}

#define CHECK_IDS(enc, ...)                                                       \
    do {                                                                          \
        static const int32_t want_[] = {__VA_ARGS__};                             \
        int ok_ = ids_eq((enc), want_, sizeof want_ / sizeof want_[0]);           \
        CHECK_MSG(ok_, "ids differ (want %s)", #__VA_ARGS__);                     \
        if (!ok_) print_ids("got", (enc));                                        \
    } while (0)

/* ---- precompiled charsmap ------------------------------------------------ */

static rr_precompiled_t *xlmr_charsmap(void) {
    const json_t *seq = json_object_get(json_object_get(g_xlmr_json, "normalizer"), "normalizers");
    const json_t *pc = json_object_get(json_array_get(seq, 0), "precompiled_charsmap");
    unsigned char *blob;
    size_t n;
    if (!json_is_string(pc) || rr_base64_decode(json_string_value(pc), json_string_length(pc), &blob, &n))
        return NULL;
    rr_precompiled_t *p = NULL;
    rr_precompiled_new(blob, n, &p);
    rr_free(blob);
    return p;
}

static int pc_norm_is(rr_precompiled_t *pc, const char *in, const char *want) {
    rr_sbuf_t b = {0};
    rerank_status_t st = rr_precompiled_normalize(pc, in, strlen(in), &b);
    int ok = !st && b.n == strlen(want) && (!b.n || !memcmp(b.p, want, b.n));
    if (!ok) fprintf(stderr, "    normalize(%s) = '%.*s', want '%s'\n", in, (int)b.n, b.p ? b.p : "", want);
    rr_sbuf_release(&b);
    return ok;
}

TEST(precompiled_lookups) {
    rr_precompiled_t *pc = xlmr_charsmap();
    CHECK(pc != NULL);
    if (!pc) return;
    const char *rep;
    size_t rl;
    CHECK(!rr_precompiled_transform(pc, "a", 1, &rep, &rl));          /* ASCII: no entry */
    CHECK(rr_precompiled_transform(pc, "\xef\xbc\xa1", 3, &rep, &rl)); /* fullwidth A */
    CHECK(rl == 1 && rep[0] == 'A');
    CHECK(pc_norm_is(pc, "\xe3\x80\x80x", " x"));           /* ideographic space */
    CHECK(pc_norm_is(pc, "\xef\xac\x81", "fi"));             /* ligature fi */
    CHECK(pc_norm_is(pc, "abc", "abc"));
    CHECK(pc_norm_is(pc, "\xe2\x85\xa8", "IX"));             /* roman numeral nine */
    /* halfwidth KA + voiced mark: one 6-byte grapheme, so per char:
     * U+30AB + U+3099, not the precomposed U+30AC */
    CHECK(pc_norm_is(pc, "\xef\xbd\xb6\xef\xbe\x9e", "\xe3\x82\xab\xe3\x82\x99"));
    /* e + combining acute (3 bytes) is looked up whole and composed */
    CHECK(pc_norm_is(pc, "e\xcc\x81", "\xc3\xa9"));
    /* expansions (U+FDFA is 3 bytes in, 33 out) followed by ASCII runs */
    char in[3 * 40 + 400 + 1];
    size_t k = 0;
    for (int i = 0; i < 40; i++) { memcpy(in + k, "\xef\xb7\xba", 3); k += 3; }
    memset(in + k, 'a', 400);
    k += 400;
    rr_sbuf_t b = {0};
    CHECK(rr_precompiled_normalize(pc, in, k, &b) == RERANK_OK);
    CHECK(b.n > k + 40 * 20 && b.p[b.n - 1] == 'a');
    rr_sbuf_release(&b);
    rr_precompiled_free(pc);
}

TEST(precompiled_bad_blobs) {
    rr_precompiled_t *pc = NULL;
    unsigned char b1[2] = {1, 2};
    CHECK(rr_precompiled_new(b1, 2, &pc) == RERANK_ERR_FORMAT && !pc);
    unsigned char b2[8] = {0xff, 0, 0, 0, 1, 2, 3, 4}; /* trie larger than blob */
    CHECK(rr_precompiled_new(b2, 8, &pc) == RERANK_ERR_FORMAT && !pc);
    unsigned char b3[8] = {3, 0, 0, 0, 1, 2, 3, 4}; /* not a multiple of 4 */
    CHECK(rr_precompiled_new(b3, 8, &pc) == RERANK_ERR_FORMAT && !pc);
    /* a garbage trie never reads out of bounds */
    unsigned char b4[12] = {4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 'x', 0, 'y', 0};
    CHECK(rr_precompiled_new(b4, 12, &pc) == RERANK_OK);
    if (pc) {
        rr_sbuf_t out = {0};
        CHECK(rr_precompiled_normalize(pc, "hello \xc3\xa9", 8, &out) == RERANK_OK);
        rr_sbuf_release(&out);
        rr_precompiled_free(pc);
    }
    unsigned char *blob;
    size_t n;
    CHECK(rr_base64_decode("aGk=", 4, &blob, &n) == RERANK_OK && n == 2 && !memcmp(blob, "hi", 2));
    rr_free(blob);
    CHECK(rr_base64_decode("a$k=", 4, &blob, &n) == RERANK_ERR_FORMAT);
}

/* ---- regex / Replace ------------------------------------------------------ */

static int replace_is(const char *pattern, int literal, const char *content, const char *in,
                      const char *want) {
    char js[512];
    json_t *pat = json_object();
    json_object_set_new(pat, literal ? "String" : "Regex", json_string(pattern));
    json_t *o = json_pack("{s:s, s:o, s:s}", "type", "Replace", "pattern", pat, "content", content);
    (void)js;
    rr_normalizer_t *nz = NULL;
    rerank_status_t st = rr_normalizer_new(o, &nz);
    json_decref(o);
    if (st) { fprintf(stderr, "    compile %s: %s\n", pattern, rerank_last_error()); return 0; }
    rr_sbuf_t b = {0};
    st = rr_normalize(nz, in, strlen(in), &b);
    int ok = !st && b.n == strlen(want) && (!b.n || !memcmp(b.p, want, b.n));
    if (!ok) fprintf(stderr, "    replace(/%s/, '%s', '%s') = '%.*s', want '%s'\n", pattern, content,
                     in, (int)b.n, b.p ? b.p : "", want);
    rr_sbuf_release(&b);
    rr_normalizer_free(nz);
    return ok;
}

TEST(replace_and_regex) {
    CHECK(replace_is(" {2,}", 0, " ", "a   b  c d", "a b c d"));
    CHECK(replace_is(" {2,}", 0, " ", "", ""));
    CHECK(replace_is("aaa", 1, "b", "aaaab", "bab"));
    CHECK(replace_is(".", 1, "!", "a.b.", "a!b!"));           /* literal, not any-char */
    CHECK(replace_is("\\s+", 0, "_", " Hello \t friend ", "_Hello_friend_"));
    CHECK(replace_is("a*", 0, "-", "baa", "-b-"));            /* no empty match after a match */
    CHECK(replace_is("[0-9]+|x", 0, "#", "a12x3", "a###"));
    CHECK(replace_is("(ab)+c?", 0, "-", "xababcab", "x--"));
    CHECK(replace_is("[^a-c]", 0, "", "abxcdy", "abc"));
    CHECK(replace_is("\\u00e9|\\x{e8}", 0, "e", "\xc3\xa9t\xc3\xa8", "ete"));
    CHECK(replace_is("a{2}", 0, "b", "aaaaa", "bba"));
    CHECK(replace_is("a{1,2}?", 0, "b", "aaa", "bbb"));        /* lazy */
    CHECK(replace_is("``", 1, "\"", "``x''", "\"x''"));
    rr_regex_t *re = NULL;
    const char *bad[] = {"(?=x)", "^a", "a$", "(a", "a)", "[a", "\\p{L}", "a**", "\\1", "x{3,1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rerank_status_t st = rr_regex_compile(bad[i], strlen(bad[i]), &re);
        CHECK_MSG(st == RERANK_ERR_UNSUPPORTED && !re, "pattern %s gave %d", bad[i], st);
    }
    /* a pathological pattern stays linear */
    CHECK(rr_regex_compile("(a*)*b", 6, &re) == RERANK_OK);
    if (re) {
        char text[20001];
        memset(text, 'a', 20000);
        text[20000] = 0;
        size_t ms, me;
        CHECK(rr_regex_find(re, text, 20000, 0, &ms, &me) == 0);
        rr_regex_free(re);
    }
}

/* ---- normalizers by JSON ---------------------------------------------------- */

static int norm_is(const char *json, const char *in, const char *want) {
    json_t *o = json_loads(json, 0, NULL);
    rr_normalizer_t *nz = NULL;
    rerank_status_t st = rr_normalizer_new(o, &nz);
    json_decref(o);
    if (st) { fprintf(stderr, "    %s: %s\n", json, rerank_last_error()); return 0; }
    rr_sbuf_t b = {0};
    st = rr_normalize(nz, in, strlen(in), &b);
    int ok = !st && b.n == strlen(want) && (!b.n || !memcmp(b.p, want, b.n));
    if (!ok) fprintf(stderr, "    %s('%s') = '%.*s', want '%s'\n", json, in, (int)b.n, b.p ? b.p : "", want);
    rr_sbuf_release(&b);
    rr_normalizer_free(nz);
    return ok;
}

TEST(other_normalizers) {
    CHECK(norm_is("{\"type\":\"Lowercase\"}", "HeLLo \xc3\x89", "hello \xc3\xa9"));
    CHECK(norm_is("{\"type\":\"NFD\"}", "\xc3\xa9", "e\xcc\x81"));
    CHECK(norm_is("{\"type\":\"NFC\"}", "e\xcc\x81", "\xc3\xa9"));
    CHECK(norm_is("{\"type\":\"NFKC\"}", "\xef\xac\x81", "fi"));
    CHECK(norm_is("{\"type\":\"NFKD\"}", "\xc2\xbd", "1\xe2\x81\x84" "2"));
    CHECK(norm_is("{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":false}", "  a b  ", "a b  "));
    CHECK(norm_is("{\"type\":\"StripAccents\"}", "e\xcc\x81", "e"));
    CHECK(norm_is("{\"type\":\"Prepend\",\"prepend\":\"_\"}", "ab", "_ab"));
    CHECK(norm_is("{\"type\":\"Prepend\",\"prepend\":\"_\"}", "", ""));
    CHECK(norm_is("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":\"StripAccents\"},"
                  "{\"type\":\"Lowercase\"}]}", "\xc3\x89T\xc3\x89", "ete"));
    json_t *o = json_loads("{\"type\":\"Nmt\"}", 0, NULL);
    rr_normalizer_t *nz = NULL;
    CHECK(rr_normalizer_new(o, &nz) == RERANK_ERR_UNSUPPORTED && !nz);
    CHECK(strstr(rerank_last_error(), "Nmt") != NULL);
    json_decref(o);
}

/* ---- Metaspace ------------------------------------------------------------ */

static int words_are(const char *json, const char *in, int first, const char *const *want, size_t nw) {
    json_t *o = json_loads(json, 0, NULL);
    rr_pretok_t *p = NULL;
    rerank_status_t st = rr_pretok_new(o, &p);
    json_decref(o);
    if (st) { fprintf(stderr, "    %s: %s\n", json, rerank_last_error()); return 0; }
    rr_words_t w = {0};
    st = rr_pretokenize(p, in, strlen(in), first, &w);
    int ok = !st && w.n == nw;
    for (size_t i = 0; ok && i < nw; i++)
        ok = w.w[i].len == strlen(want[i]) && !memcmp(w.text.p + w.w[i].start, want[i], w.w[i].len);
    if (!ok) {
        fprintf(stderr, "    %s('%s') =", json, in);
        for (size_t i = 0; i < w.n; i++) fprintf(stderr, " [%.*s]", (int)w.w[i].len, w.text.p + w.w[i].start);
        fprintf(stderr, "\n");
    }
    rr_words_release(&w);
    rr_pretok_free(p);
    return ok;
}

#define MS "\xe2\x96\x81"
TEST(metaspace) {
    const char *legacy = "{\"type\":\"Metaspace\",\"replacement\":\"" MS "\",\"add_prefix_space\":true}";
    const char *w1[] = {MS "Hey", MS "friend!"};
    CHECK(words_are(legacy, "Hey friend!", 1, w1, 2));
    const char *w2[] = {MS "Hey", MS, MS, MS "friend!"};
    CHECK(words_are(legacy, "Hey   friend!", 1, w2, 4));
    const char *w3[] = {MS "a"};
    CHECK(words_are(legacy, " a", 1, w3, 1)); /* already starts with a space: no prepend */
    CHECK(words_are(legacy, "", 1, NULL, 0));
    const char *first = "{\"type\":\"Metaspace\",\"replacement\":\"" MS "\",\"prepend_scheme\":\"first\",\"split\":true}";
    const char *w4[] = {"a", MS "b"};
    CHECK(words_are(first, "a b", 0, w4, 2));
    const char *w5[] = {MS "a", MS "b"};
    CHECK(words_are(first, "a b", 1, w5, 2));
    const char *never = "{\"type\":\"Metaspace\",\"replacement\":\"_\",\"prepend_scheme\":\"never\",\"split\":false}";
    const char *w6[] = {"a__b"};
    CHECK(words_are(never, "a  b", 1, w6, 1));
    const char *seq = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"WhitespaceSplit\"},"
                      "{\"type\":\"Metaspace\",\"replacement\":\"" MS "\",\"prepend_scheme\":\"always\"}]}";
    const char *w7[] = {MS "x", MS "y"};
    CHECK(words_are(seq, "  x \t y ", 1, w7, 2));
    json_t *o = json_loads("{\"type\":\"Split\",\"pattern\":{\"String\":\"x\"},\"behavior\":\"Contiguous\"}", 0, NULL);
    rr_pretok_t *p = NULL;
    CHECK(rr_pretok_new(o, &p) == RERANK_ERR_UNSUPPORTED && !p);
    json_decref(o);
    o = json_loads("{\"type\":\"Metaspace\",\"replacement\":\"ab\"}", 0, NULL);
    CHECK(rr_pretok_new(o, &p) == RERANK_ERR_FORMAT && !p);
    json_decref(o);
}

/* ---- Unigram Viterbi ------------------------------------------------------- */

static int viterbi_is(rr_unigram_t *u, const char *s, const int32_t *want, size_t n) {
    rr_ids_t ids = {0};
    rerank_status_t st = rr_unigram_encode(u, s, strlen(s), &ids);
    int ok = !st && ids.n == n && (!n || !memcmp(ids.v, want, n * sizeof(int32_t)));
    if (!ok) {
        fprintf(stderr, "    viterbi(%s) = [", s);
        for (size_t i = 0; i < ids.n; i++) fprintf(stderr, "%s%d", i ? "," : "", ids.v[i]);
        fprintf(stderr, "]\n");
    }
    rr_ids_release(&ids);
    return ok;
}
#define VITERBI(u, s, ...)                                                       \
    do {                                                                         \
        static const int32_t w_[] = {__VA_ARGS__};                               \
        CHECK(viterbi_is(u, s, w_, sizeof w_ / sizeof w_[0]));                   \
    } while (0)

TEST(unigram_viterbi) {
    const char *pieces[] = {"<unk>", "a", "b", "ab", "abc", "c", "xy", "\xc3\xa9", "b"};
    const double scores[] = {0, -1, -2, -1.5, -10, -3, -1, -1, -2.5};
    rr_unigram_t *u = NULL;
    CHECK(rr_unigram_new_raw(pieces, scores, 9, 0, 0, &u) == RERANK_OK);
    if (!u) return;
    int32_t id;
    CHECK(rr_unigram_lookup(u, "b", 1, &id) && id == 8); /* duplicates: last id wins */
    CHECK(!rr_unigram_lookup(u, "abcd", 4, &id));
    VITERBI(u, "ab", 3);
    VITERBI(u, "abc", 3, 5);           /* ab + c beats abc and a + b + c */
    VITERBI(u, "qqab", 0, 3);          /* unknowns fused into one <unk> */
    VITERBI(u, "aqzq\xc3\xa9", 1, 0, 7);
    VITERBI(u, "xy", 6);               /* x and y alone are unknown, xy is a piece */
    rr_unigram_free(u);
    /* ties keep the first candidate: ab (from position 0) over a + b */
    const char *p2[] = {"<unk>", "a", "b", "ab"};
    const double s2[] = {0, -1, -1, -2};
    CHECK(rr_unigram_new_raw(p2, s2, 4, 0, 0, &u) == RERANK_OK);
    if (u) { VITERBI(u, "ab", 3); rr_unigram_free(u); }
    /* byte fallback */
    const char *p3[] = {"<unk>", "a", "<0x71>", "<0xC3>", "<0xA9>"};
    const double s3[] = {0, -1, -5, -5, -5};
    CHECK(rr_unigram_new_raw(p3, s3, 5, 0, 1, &u) == RERANK_OK);
    if (u) {
        VITERBI(u, "aq", 1, 2);
        VITERBI(u, "\xc3\xa9", 3, 4);
        VITERBI(u, "z", 0); /* <0x7A> missing: unk */
        rr_unigram_free(u);
    }
    /* no unk id: an unknown character is an error, not a crash */
    CHECK(rr_unigram_new_raw(p2, s2, 4, -1, 0, &u) == RERANK_OK);
    if (u) {
        rr_ids_t ids = {0};
        CHECK(rr_unigram_encode(u, "az", 2, &ids) == RERANK_ERR_UNSUPPORTED);
        rr_ids_release(&ids);
        rr_unigram_free(u);
    }
}

/* ---- added tokens --------------------------------------------------------- */

TEST(added_token_split) {
    rr_added_t toks[] = {
        {.content = "<s>", .len = 3, .id = 0},
        {.content = "<s>x", .len = 4, .id = 9},
        {.content = "[M]", .len = 3, .id = 5, .lstrip = 1, .rstrip = 1},
        {.content = "tok", .len = 3, .id = 7, .single_word = 1},
        {.content = "norm", .len = 4, .id = 8, .normalized = 1},
    };
    size_t nt = sizeof toks / sizeof toks[0];
    struct { const char *in; int n; size_t s[6], e[6]; int32_t id[6]; } cases[] = {
        {"a<s>b", 3, {0, 1, 4}, {1, 4, 5}, {-1, 0, -1}},
        {"<s>xy", 2, {0, 4}, {4, 5}, {9, -1}},                  /* longest match */
        {"a  [M]  b", 3, {0, 1, 8}, {1, 8, 9}, {-1, 5, -1}},    /* lstrip + rstrip */
        {"tok atok tok", 3, {0, 3, 9}, {3, 9, 12}, {7, -1, 7}}, /* single word */
        {"norm", 1, {0}, {4}, {-1}},                            /* normalized: other pass */
        {"", 0, {0}, {0}, {0}},
        {"<s<s>", 2, {0, 2}, {2, 5}, {-1, 0}},                  /* a failed walk restarts one byte on */
    };
    rr_added_trie_t *raw = NULL, *norm = NULL;
    CHECK(rr_added_trie_new(toks, nt, 0, &raw) == RERANK_OK && raw);
    CHECK(rr_added_trie_new(toks, nt, 1, &norm) == RERANK_OK && norm);
    if (!raw || !norm) { rr_added_trie_free(raw); rr_added_trie_free(norm); return; }
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rr_splits_t sp = {0};
        CHECK(rr_added_split(toks, raw, cases[c].in, strlen(cases[c].in), &sp) == RERANK_OK);
        int ok = sp.n == (size_t)cases[c].n;
        for (int i = 0; ok && i < cases[c].n; i++)
            ok = sp.v[i].start == cases[c].s[i] && sp.v[i].end == cases[c].e[i] && sp.v[i].id == cases[c].id[i];
        CHECK_MSG(ok, "split of '%s'", cases[c].in);
        rr_free(sp.v);
    }
    rr_splits_t sp = {0};
    CHECK(rr_added_split(toks, norm, "a norm b", 8, &sp) == RERANK_OK);
    CHECK(sp.n == 3 && sp.v[1].id == 8);
    rr_free(sp.v);
    rr_added_trie_free(raw);
    rr_added_trie_free(norm);
    /* no token of a class: no trie */
    CHECK(rr_added_trie_new(toks + 4, 1, 0, &raw) == RERANK_OK && !raw);
}

TEST(xlmr_added_tokens_in_text) {
    if (!g_xlmr) { CHECK(g_xlmr != NULL); return; }
    rerank_encoding_t e = {0};
    CHECK(rerank_tokenize(g_xlmr, "a<s>b", 5, &e) == RERANK_OK);
    CHECK_IDS(&e, 10, 0, 876); /* each split gets its own ▁ prefix */
    CHECK(rerank_tokenize(g_xlmr, "Hey friend!", 11, &e) == RERANK_OK);
    CHECK_IDS(&e, 28240, 34391, 38);
    CHECK(rerank_tokenize(g_xlmr, "</s><mask>", 10, &e) == RERANK_OK);
    CHECK_IDS(&e, 2, 250001);
    CHECK(rerank_tokenize(g_xlmr, "", 0, &e) == RERANK_OK && e.n == 0);
    CHECK(rerank_tokenize(g_xlmr, NULL, 0, &e) == RERANK_OK && e.n == 0);
    CHECK(rerank_tokenize(g_xlmr, "   ", 3, &e) == RERANK_OK);
    CHECK_IDS(&e, 6); /* collapsed to one space -> a lone ▁ */
    for (size_t i = 0; i < e.n; i++) CHECK(e.type_ids[i] == 0);
    rerank_encoding_free(&e);
}

/* ---- templates, pairs, truncation ----------------------------------------- */

TEST(templates) {
    if (!g_xlmr || !g_bert) { CHECK(g_xlmr && g_bert); return; }
    CHECK(rerank_tokenizer_pair_overhead(g_xlmr) == 4);
    CHECK(rerank_tokenizer_pair_overhead(g_bert) == 3);
    CHECK(rerank_tokenizer_vocab_size(g_xlmr) == 250002);
    CHECK(rerank_tokenizer_vocab_size(g_bert) == 30522);
    rerank_encoding_t e = {0};
    CHECK(tok_pair(g_xlmr, "", 0, "", 0, 0, RERANK_TRUNC_FLAG, RERANK_TRUNC_RIGHT, &e) == RERANK_OK);
    CHECK_IDS(&e, 0, 2, 2, 2);
    CHECK(tok_pair(g_xlmr, "a", 1, "b", 1, 0, RERANK_TRUNC_FLAG, RERANK_TRUNC_RIGHT, &e) == RERANK_OK);
    CHECK_IDS(&e, 0, 10, 2, 2, 876, 2);
    for (size_t i = 0; i < e.n; i++) CHECK(e.type_ids[i] == 0);
    CHECK(tok_pair(g_bert, "", 0, "", 0, 0, RERANK_TRUNC_LONGEST_FIRST, RERANK_TRUNC_RIGHT, &e) == RERANK_OK);
    CHECK_IDS(&e, 101, 102, 102);
    CHECK(e.n == 3 && e.type_ids[0] == 0 && e.type_ids[1] == 0 && e.type_ids[2] == 1);
    rerank_encoding_free(&e);

    /* Roberta / Bert processors and no processor, on a tiny Unigram */
    const char *base = "{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"<s>\",0],"
                       "[\"</s>\",0],[\"a\",-1],[\"b\",-1]]},\"post_processor\":%s}";
    struct { const char *pp; int32_t ids[8], types[8]; size_t n; } cases[] = {
        {"{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",2],\"cls\":[\"<s>\",1]}",
         {1, 3, 2, 2, 4, 2}, {0, 0, 0, 0, 0, 0}, 6},
        {"{\"type\":\"BertProcessing\",\"sep\":[\"</s>\",2],\"cls\":[\"<s>\",1]}",
         {1, 3, 2, 4, 2}, {0, 0, 0, 1, 1}, 5},
        {"null", {3, 4}, {0, 1}, 2},
        {"{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],"
         "\"pair\":[{\"SpecialToken\":{\"id\":\"X\",\"type_id\":2}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}},"
         "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"X\":{\"id\":\"X\",\"ids\":[1,2],"
         "\"tokens\":[\"<s>\",\"</s>\"]}}}",
         {1, 2, 4, 3}, {2, 2, 1, 0}, 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char js[1024];
        snprintf(js, sizeof js, base, cases[c].pp);
        rerank_tokenizer_t *t = NULL;
        rerank_status_t st = tok_from_string(js, &t);
        CHECK_MSG(st == RERANK_OK, "case %zu: %s", c, rerank_last_error());
        if (!t) continue;
        CHECK(tok_pair(t, "a", 1, "b", 1, 0, RERANK_TRUNC_FLAG, RERANK_TRUNC_RIGHT, &e) == RERANK_OK);
        int ok = e.n == cases[c].n;
        for (size_t i = 0; ok && i < e.n; i++) ok = e.ids[i] == cases[c].ids[i] && e.type_ids[i] == cases[c].types[i];
        CHECK_MSG(ok, "template case %zu", c);
        if (!ok) print_ids("got", &e);
        rerank_tokenizer_free(t);
    }
    rerank_encoding_free(&e);
}

static void trunc_case(size_t na, size_t nb, int32_t max, size_t ov, rerank_truncation_t s,
                       size_t wa, size_t wb) {
    size_t a = na, b = nb;
    rr_truncate_pair(&a, &b, max, ov, s);
    CHECK_MSG(a == wa && b == wb, "truncate(%zu, %zu, max %d, %s) = (%zu, %zu), want (%zu, %zu)", na,
              nb, max, s == RERANK_TRUNC_FLAG ? "flag" : "longest_first", a, b, wa, wb);
}

TEST(truncation) {
    const rerank_truncation_t F = RERANK_TRUNC_FLAG, L = RERANK_TRUNC_LONGEST_FIRST;
    trunc_case(5, 30, 16, 4, F, 5, 7);     /* doc absorbs the overflow */
    trunc_case(20, 30, 16, 4, F, 12, 16);  /* doc too short: left untruncated (transformers) */
    trunc_case(20, 30, 100, 4, F, 20, 30); /* fits */
    trunc_case(100, 5, 64, 4, F, 48, 5);   /* query cut to 3/4 */
    trunc_case(100, 100, 0, 4, F, 100, 100);
    trunc_case(10, 10, 14, 4, L, 5, 5);
    trunc_case(3, 20, 14, 4, L, 3, 7);     /* only the longer one shrinks */
    trunc_case(7, 7, 13, 4, L, 4, 5);      /* tie: the second keeps the odd token */
    trunc_case(8, 7, 13, 4, L, 5, 4);      /* the longer keeps the odd token */
    trunc_case(7, 8, 13, 4, L, 4, 5);
    trunc_case(2, 2, 13, 4, L, 2, 2);
    trunc_case(50, 50, 4, 4, L, 0, 0);
    trunc_case(50, 9, 3, 4, L, 50, 9);     /* below the specials: HF's length wraps, no cut */
    trunc_case(50, 50, -1, 4, L, 50, 50);
    if (!g_xlmr) return;
    /* end to end: lengths respect max_length */
    const char *q = "what is the capital of france and why is it paris";
    const char *d = "Paris is the capital and most populous city of France, with an estimated "
                    "population of 2,102,650 residents as of January 2023 in an area of more than 105 km2.";
    rerank_encoding_t e = {0};
    CHECK(tok_pair(g_xlmr, q, strlen(q), d, strlen(d), 0, L, RERANK_TRUNC_RIGHT, &e) == RERANK_OK);
    size_t full = e.n;
    for (int32_t max = 8; max <= 64; max += 7) {
        CHECK(tok_pair(g_xlmr, q, strlen(q), d, strlen(d), max, L, RERANK_TRUNC_RIGHT, &e) == RERANK_OK);
        CHECK(e.n == ((size_t)max < full ? (size_t)max : full));
        CHECK(tok_pair(g_xlmr, q, strlen(q), d, strlen(d), max, F, RERANK_TRUNC_RIGHT, &e) == RERANK_OK);
        CHECK(e.n <= (size_t)max || max < 16);
    }
    /* max_length 3 < the 4 specials: HF tokenizers' max_length - added
     * tokens wraps (usize), so nothing is cut after the early exit, which
     * stopped each side at the first word where it reached 3 ids: "▁what
     * ▁is ▁the" (2367 83 70) and "▁Paris ▁is ▁the" (7270 83 70), each word
     * one piece of the XLM-R vocab. */
    CHECK(tok_pair(g_xlmr, q, strlen(q), d, strlen(d), 3, L, RERANK_TRUNC_RIGHT, &e) == RERANK_OK);
    CHECK(ids_eq(&e, (const int32_t[]){0, 2367, 83, 70, 2, 2, 7270, 83, 70, 2}, 10));
    /* Left: HF's early exit (PreTokenizedString::tokenize_with_limit) walks
     * the words from the end, so the count is "▁is ▁the ▁capital" (83 70
     * 10323), reaching 3, not the 5 ids of the first word "xyzzyplugh" (1022
     * 53 151581 145301 127) a count from the start would keep. */
    const char *q2 = "xyzzyplugh is the capital", *d2 = "Paris is the capital";
    CHECK(tok_pair(g_xlmr, q2, strlen(q2), d2, strlen(d2), 3, L, RERANK_TRUNC_LEFT, &e) == RERANK_OK);
    CHECK(ids_eq(&e, (const int32_t[]){0, 83, 70, 10323, 2, 2, 83, 70, 10323, 2}, 10));
    CHECK(tok_pair(g_xlmr, q2, strlen(q2), d2, strlen(d2), 3, L, RERANK_TRUNC_RIGHT, &e) == RERANK_OK);
    CHECK(ids_eq(&e, (const int32_t[]){0, 1022, 53, 151581, 145301, 127, 2, 2, 7270, 83, 70, 2}, 12));
    /* Both sides long, odd budget (9 - 4 specials = 5): the side counted
     * longer keeps the odd token. Query "xyzzyplugh(5) is the capital of
     * france(2)", doc "Paris is the capital of france(2) and the largest
     * city". Right counts from the start: 9 and 9, a tie, so the doc gets
     * it (query 1022 53, doc 7270 83 70). Left counts from the end: the
     * query only reaches 9 with its first word (11), the doc at "the" (9),
     * so the query gets it: "▁of ▁franc e" (111 37863 13) and "▁largest
     * ▁city" (142105 26349), not 2 and 3 ids as Right's counts would give. */
    const char *q3 = "xyzzyplugh is the capital of france", *d3 = "Paris is the capital of france and the largest city";
    CHECK(tok_pair(g_xlmr, q3, strlen(q3), d3, strlen(d3), 9, L, RERANK_TRUNC_RIGHT, &e) == RERANK_OK);
    CHECK(ids_eq(&e, (const int32_t[]){0, 1022, 53, 2, 2, 7270, 83, 70, 2}, 9));
    CHECK(tok_pair(g_xlmr, q3, strlen(q3), d3, strlen(d3), 9, L, RERANK_TRUNC_LEFT, &e) == RERANK_OK);
    CHECK(ids_eq(&e, (const int32_t[]){0, 111, 37863, 13, 2, 2, 142105, 26349, 2}, 9));
    CHECK(tok_pair(g_xlmr, q, strlen(q), d, strlen(d), 64, (rerank_truncation_t)7, RERANK_TRUNC_RIGHT, &e) ==
          RERANK_ERR_INVALID_ARGUMENT);
    rerank_encoding_free(&e);
}

/* ---- truncation direction ---------------------------------------------------- */

static int ids_list_eq(const rerank_encoding_t *e, const char *want) {
    size_t k = 0;
    for (const char *p = want; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (k >= e->n || e->ids[k] != v) return 0;
        k++;
        p = end;
        while (*p == ',' || *p == ' ') p++;
    }
    return k == e->n;
}

/* Expected ids computed with Hugging Face tokenizers 0.23 (its Rust core, via
 * the node binding): longest_first is tokenizer.encode(q, d) with
 * TruncationParams{LongestFirst, max, direction}; flag is FlagEmbedding's
 * steps with truncation_side = direction (q and d each truncated by
 * tokenizers, then transformers' only_second slice, then the template). */
TEST(truncation_direction_hf) {
    struct {
        int bert;
        rerank_truncation_t tr;
        int32_t max;
        const char *q, *d, *right, *left;
    } cases[] = {
        /* flag: only the document absorbs the overflow; Left keeps its tail */
        {0, RERANK_TRUNC_FLAG, 12, "hello world", "one two three four five six seven eight nine ten eleven twelve",
         "0, 33600, 31, 8999, 2, 2, 1632, 6626, 17262, 22759, 43606, 2",
         "0, 33600, 31, 8999, 2, 2, 86, 1492, 103155, 77488, 76456, 2"},
        /* flag: the query (20 tokens) is cut to 16*3/4 = 12 from its start;
         * the document is not longer than the overflow: left whole */
        {0, RERANK_TRUNC_FLAG, 16, "what is the capital of france and why is it paris and not lyon or marseille",
         "Paris is the capital and most populous city of France.",
         "0, 2367, 83, 70, 10323, 111, 37863, 13, 136, 15400, 83, 442, 366, 2, 2, 7270, 83, 70, 10323, 136, 2684, "
         "132573, 223, 26349, 111, 9942, 5, 2",
         "0, 15400, 83, 442, 366, 164, 136, 959, 96, 9480, 707, 10283, 55228, 2, 2, 7270, 83, 70, 10323, 136, 2684, "
         "132573, 223, 26349, 111, 9942, 5, 2"},
        /* longest_first: both sequences cut (5 + 5), each keeps its tail */
        {0, RERANK_TRUNC_LONGEST_FIRST, 14, "what is the capital of france and why is it paris",
         "Paris is the capital and most populous city of France, with an estimated population of two million.",
         "0, 2367, 83, 70, 10323, 111, 2, 2, 7270, 83, 70, 10323, 136, 2",
         "0, 15400, 83, 442, 366, 164, 2, 2, 43904, 111, 6626, 19879, 5, 2"},
        /* longest_first, BERT: the short query is untouched */
        {1, RERANK_TRUNC_LONGEST_FIRST, 12, "capital of france", "Paris is the capital and most populous city of France.",
         "101, 3007, 1997, 2605, 102, 3000, 2003, 1996, 3007, 1998, 2087, 102",
         "101, 3007, 1997, 2605, 102, 2087, 20151, 2103, 1997, 2605, 1012, 102"},
        /* flag, BERT: query cut to 7 from its start, document to 10 */
        {1, RERANK_TRUNC_FLAG, 10, "what is the capital of france and why", "Paris is the capital and most populous city of France.",
         "101, 2054, 2003, 1996, 3007, 1997, 2605, 1998, 102, 3000, 2003, 1996, 3007, 1998, 2087, 20151, 2103, 1997, 2605, 102",
         "101, 2003, 1996, 3007, 1997, 2605, 1998, 2339, 102, 2003, 1996, 3007, 1998, 2087, 20151, 2103, 1997, 2605, 1012, 102"},
    };
    rerank_encoding_t r = {0}, l = {0}, p = {0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rerank_tokenizer_t *t = cases[i].bert ? g_bert : g_xlmr;
        if (!t) { CHECK(t != NULL); continue; }
        const char *q = cases[i].q, *d = cases[i].d;
        CHECK(tok_pair(t, q, strlen(q), d, strlen(d), cases[i].max, cases[i].tr, RERANK_TRUNC_RIGHT, &p) == RERANK_OK);
        CHECK(tok_pair(t, q, strlen(q), d, strlen(d), cases[i].max, cases[i].tr, RERANK_TRUNC_RIGHT, &r) ==
              RERANK_OK);
        CHECK(tok_pair(t, q, strlen(q), d, strlen(d), cases[i].max, cases[i].tr, RERANK_TRUNC_LEFT, &l) ==
              RERANK_OK);
        CHECK_MSG(ids_list_eq(&p, cases[i].right), "case %zu: right (rerank_tokenize_pair)", i);
        CHECK_MSG(ids_list_eq(&r, cases[i].right), "case %zu: right", i);
        CHECK_MSG(ids_list_eq(&l, cases[i].left), "case %zu: left", i);
        if (!ids_list_eq(&l, cases[i].left)) print_ids("left got", &l);
        CHECK(l.n == r.n && !memcmp(l.type_ids, r.type_ids, l.n * sizeof *l.type_ids));
    }
    rerank_encoding_free(&r);
    rerank_encoding_free(&l);
    rerank_encoding_free(&p);
}

/* Property, both tokenizers, both strategies, every max length in a range:
 * Left keeps as many tokens of each sequence as Right does, and they are
 * the last ones of the untruncated sequence (Right: the first ones);
 * special tokens and type ids are the same. */
TEST(truncation_direction_property) {
    const char *texts[] = {
        "what is the capital of france and why is it paris",
        "Paris is the capital and most populous city of France, with an estimated population of 2,102,650 "
        "residents as of January 2023 in an area of more than 105 km2.",
        "hi",
        "",
        "Der Große Panda ist eine Bärenart aus China. パンダは中国に生息するクマの一種です。",
    };
    size_t nt = sizeof texts / sizeof *texts;
    rerank_encoding_t r = {0}, l = {0}, want = {0};
    int checked = 0, cut_left = 0;
    for (int b = 0; b < 2; b++) {
        rerank_tokenizer_t *t = b ? g_bert : g_xlmr;
        if (!t) { CHECK(t != NULL); continue; }
        size_t ov = rr_template_overhead(&t->tpl, 1);
        for (size_t qi = 0; qi < nt; qi++)
            for (size_t di = 0; di < nt; di++) {
                const char *q = texts[qi], *d = texts[di];
                for (int s = 0; s < 2; s++)
                    for (int32_t max = s ? (int32_t)ov : 1; max <= 48; max++) {
                        rerank_truncation_t tr = s ? RERANK_TRUNC_LONGEST_FIRST : RERANK_TRUNC_FLAG;
                        CHECK(tok_pair(t, q, strlen(q), d, strlen(d), max, tr, RERANK_TRUNC_RIGHT, &r) ==
                              RERANK_OK);
                        CHECK(tok_pair(t, q, strlen(q), d, strlen(d), max, tr, RERANK_TRUNC_LEFT, &l) ==
                              RERANK_OK);
                        CHECK(tok_expect_pair(t, q, strlen(q), d, strlen(d), max, tr, RERANK_TRUNC_RIGHT, &want) ==
                              RERANK_OK);
                        int ok_r = want.n == r.n && !memcmp(want.ids, r.ids, r.n * sizeof *r.ids) &&
                                   !memcmp(want.type_ids, r.type_ids, r.n * sizeof *r.ids);
                        CHECK(tok_expect_pair(t, q, strlen(q), d, strlen(d), max, tr, RERANK_TRUNC_LEFT, &want) ==
                              RERANK_OK);
                        int ok_l = want.n == l.n && !memcmp(want.ids, l.ids, l.n * sizeof *l.ids) &&
                                   !memcmp(want.type_ids, l.type_ids, l.n * sizeof *l.ids);
                        CHECK_MSG(ok_r && ok_l, "%s q%zu d%zu %s max %d: right %s, left %s", b ? "bert" : "xlmr", qi, di,
                                  s ? "longest_first" : "flag", max, ok_r ? "ok" : "WRONG", ok_l ? "ok" : "WRONG");
                        checked++;
                        cut_left += l.n != r.n || memcmp(l.ids, r.ids, l.n * sizeof *l.ids) != 0;
                    }
            }
    }
    CHECK(checked > 1000 && cut_left > checked / 4); /* the cases really cut */
    /* bad direction */
    if (g_xlmr) {
        CHECK(tok_pair(g_xlmr, "a", 1, "b", 1, 16, RERANK_TRUNC_FLAG, (rerank_trunc_direction_t)2, &l) ==
              RERANK_ERR_INVALID_ARGUMENT);
        CHECK(l.n == 0 && strstr(rerank_last_error(), "direction") != NULL);
        CHECK(tok_pair(NULL, "a", 1, "b", 1, 16, RERANK_TRUNC_FLAG, RERANK_TRUNC_LEFT, &l) ==
              RERANK_ERR_INVALID_ARGUMENT);
        CHECK(tok_pair(g_xlmr, "ok", 2, "\xc3", 1, 16, RERANK_TRUNC_FLAG, RERANK_TRUNC_LEFT, &l) ==
              RERANK_ERR_INVALID_UTF8);
        /* no truncation: the direction changes nothing */
        CHECK(tok_pair(g_xlmr, "a b", 3, "c d", 3, 0, RERANK_TRUNC_FLAG, RERANK_TRUNC_LEFT, &l) == RERANK_OK);
        CHECK(tok_pair(g_xlmr, "a b", 3, "c d", 3, 0, RERANK_TRUNC_FLAG, RERANK_TRUNC_RIGHT, &r) == RERANK_OK);
        CHECK(l.n == r.n && !memcmp(l.ids, r.ids, l.n * sizeof *l.ids));
    }
    rerank_encoding_free(&r);
    rerank_encoding_free(&l);
    rerank_encoding_free(&want);
}

/* ---- errors ------------------------------------------------------------------ */

TEST(input_errors) {
    if (!g_xlmr) { CHECK(g_xlmr != NULL); return; }
    rerank_encoding_t e = {0};
    CHECK(rerank_tokenize(g_xlmr, "ab\xff", 3, &e) == RERANK_ERR_INVALID_UTF8 && e.n == 0);
    CHECK(strstr(rerank_last_error(), "offset 2") != NULL);
    CHECK(rerank_tokenize(g_xlmr, "\xed\xa0\x80", 3, &e) == RERANK_ERR_INVALID_UTF8); /* surrogate */
    CHECK(tok_pair(g_xlmr, "ok", 2, "\xc3", 1, 16, RERANK_TRUNC_FLAG, RERANK_TRUNC_RIGHT, &e) == RERANK_ERR_INVALID_UTF8);
    CHECK(rerank_tokenize(g_xlmr, NULL, 5, &e) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(rerank_tokenize(NULL, "a", 1, &e) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(rerank_tokenize(g_xlmr, "a", 1, NULL) == RERANK_ERR_INVALID_ARGUMENT);
    char *big = calloc(RR_MAX_TEXT_BYTES + 1, 1);
    if (big) {
        CHECK(rerank_tokenize(g_xlmr, big, RR_MAX_TEXT_BYTES + 1, &e) == RERANK_ERR_LIMIT);
        free(big);
    }
    /* embedded NUL is fine */
    CHECK(rerank_tokenize(g_xlmr, "a\0b", 3, &e) == RERANK_OK && e.n > 0);
    rerank_encoding_free(&e);
    CHECK(rerank_tokenizer_pair_overhead(NULL) == 0 && rerank_tokenizer_vocab_size(NULL) == 0);
    rerank_tokenizer_free(NULL);
    rerank_encoding_free(NULL);
}

static rerank_status_t load_text(const char *json, rerank_tokenizer_t **out) {
    char dir[] = "/tmp/rr_tok_XXXXXX";
    if (!mkdtemp(dir)) return RERANK_ERR_IO;
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f) return RERANK_ERR_IO;
    fputs(json, f);
    fclose(f);
    rerank_status_t st = rerank_tokenizer_load(dir, out); /* directory form */
    unlink(path);
    rmdir(dir);
    return st;
}

#define TINY_MODEL "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"a\",-1]]}"

TEST(load_errors) {
    rerank_tokenizer_t *t = NULL;
    CHECK(rerank_tokenizer_load("/nonexistent/dir", &t) == RERANK_ERR_IO && !t);
    CHECK(rerank_tokenizer_load(NULL, &t) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(rerank_tokenizer_load("/tmp", NULL) == RERANK_ERR_INVALID_ARGUMENT);
    struct { const char *json; rerank_status_t want; const char *msg; } cases[] = {
        {"{", RERANK_ERR_FORMAT, "invalid JSON"},
        {"[]", RERANK_ERR_FORMAT, "not an object"},
        {"{}", RERANK_ERR_FORMAT, "model"},
        {"{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}", RERANK_ERR_FORMAT, "BPE vocab is empty"},
        {"{\"model\":{\"type\":\"Bigram\"}}", RERANK_ERR_UNSUPPORTED, "Bigram"},
        {"{" TINY_MODEL ",\"normalizer\":{\"type\":\"Nmt\"}}", RERANK_ERR_UNSUPPORTED, "Nmt"},
        {"{" TINY_MODEL ",\"pre_tokenizer\":{\"type\":\"Digits\"}}", RERANK_ERR_UNSUPPORTED, "Digits"},
        {"{" TINY_MODEL ",\"post_processor\":{\"type\":\"Foo\"}}", RERANK_ERR_UNSUPPORTED, "Foo"},
        {"{" TINY_MODEL ",\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"(?<=a)b\"},\"content\":\"\"}}",
         RERANK_ERR_UNSUPPORTED, "regex"},
        {"{\"model\":{\"type\":\"Unigram\",\"unk_id\":5,\"vocab\":[[\"a\",-1]]}}", RERANK_ERR_FORMAT, "unk_id"},
        {"{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\"]]}}", RERANK_ERR_FORMAT, "entry 0"},
        {"{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", RERANK_ERR_FORMAT, "empty"},
        {"{" TINY_MODEL ",\"added_tokens\":[{\"id\":-1,\"content\":\"x\"}]}", RERANK_ERR_FORMAT, "added_tokens"},
        {"{" TINY_MODEL ",\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AAAA\"}}",
         RERANK_ERR_FORMAT, "precompiled_charsmap"},
        /* a clone without git-lfs leaves a pointer (bge-reranker-v2-m3's tokenizer.json is an LFS file) */
        {"version https://git-lfs.github.com/spec/v1\n"
         "oid sha256:69564a4e2e5e4d4a4d8c1c0f4b6e9d9a2f1c3b5a7e9d1f3b5a7c9e1d3f5b7a9c\nsize 17082999\n",
         RERANK_ERR_FORMAT, "tokenizer.json: a Git LFS pointer (133 bytes), not the tokenizer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rerank_status_t st = load_text(cases[i].json, &t);
        CHECK_MSG(st == cases[i].want && !t, "case %zu: got %d (%s)", i, st, rerank_last_error());
        CHECK_MSG(strstr(rerank_last_error(), cases[i].msg) != NULL, "case %zu message: %s", i,
                  rerank_last_error());
        rerank_tokenizer_free(t);
        t = NULL;
    }
    CHECK(load_text("{" TINY_MODEL "}", &t) == RERANK_OK);
    rerank_encoding_t e = {0};
    if (t) {
        CHECK(rerank_tokenize(t, "aza", 3, &e) == RERANK_OK);
        CHECK_IDS(&e, 1, 0, 1);
    }
    rerank_encoding_free(&e);
    rerank_tokenizer_free(t);
}

/* Random mutations of a small valid tokenizer.json never crash. */
TEST(fuzz_json) {
    const char *seed =
        "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true,\"normalized\":false},"
        "{\"id\":3,\"content\":\"[x]\",\"lstrip\":true,\"normalized\":true}],"
        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":\"Replace\","
        "\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\" \"}]},"
        "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"" MS "\",\"add_prefix_space\":true},"
        "\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",2],\"cls\":[\"<s>\",1]},"
        "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"" MS "\",-2],[\"a\",-1],"
        "[\"" MS "a\",-1.5],[\"b\\u00e9\",-3]]}}";
    size_t n = strlen(seed);
    char *buf = malloc(n + 1);
    unsigned rng = 12345;
    int loaded = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, seed, n + 1);
        int edits = 1 + iter % 4;
        for (int k = 0; k < edits; k++) {
            rng = rng * 1103515245u + 12345u;
            size_t at = (rng >> 8) % n;
            rng = rng * 1103515245u + 12345u;
            static const char alphabet[] = "{}[]\",:0-9 a\\u\xe2\x96\x81tfn.e";
            buf[at] = alphabet[(rng >> 8) % (sizeof alphabet - 1)];
        }
        json_t *root = json_loads(buf, 0, NULL);
        if (!root) continue;
        rerank_tokenizer_t *t = NULL;
        if (rr_tokenizer_from_json(root, NULL, &t) == RERANK_OK) {
            loaded++;
            rerank_encoding_t e = {0};
            static const char txt[] = "a  ab\xc3\xa9 [x] <unk>";
            rerank_tokenize(t, txt, sizeof txt - 1, &e);
            tok_pair(t, "a", 1, "b a b a", 7, 5, RERANK_TRUNC_LONGEST_FIRST, RERANK_TRUNC_RIGHT, &e);
            rerank_encoding_free(&e);
            rerank_tokenizer_free(t);
        }
        json_decref(root);
    }
    free(buf);
    CHECK(loaded > 0);
}

/* The vocab fast path and the jansson path build the same tokenizer. */
TEST(fast_vocab_path) {
    const char *js = "{\"model\":{\"unk_id\":0,\"type\":\"Unigram\",\"byte_fallback\":false,\"vocab\":[[\"<unk>\",0.0],"
                     "[\"a\\\"\\u00e9\\ud83d\\ude00\",-1e-1],[\"b\",-2]]},\"x\":[1,{\"vocab\":3}]}";
    char buf[512];
    strcpy(buf, js);
    size_t n = strlen(buf);
    rr_vocab_t v;
    CHECK(rr_vocab_fast_parse(buf, &n, &v) == RERANK_OK);
    CHECK(v.n == 3);
    if (v.n == 3) {
        CHECK(v.len[1] == 8 && !memcmp(v.arena + v.off[1], "a\"\xc3\xa9\xf0\x9f\x98\x80", 8));
        CHECK(v.score[1] == -0.1 && v.score[2] == -2);
        buf[n] = 0;
        CHECK(strstr(buf, "\"vocab\":[]") != NULL);
        json_t *root = json_loadb(buf, n, 0, NULL);
        CHECK(root != NULL);
        rerank_tokenizer_t *t = NULL;
        CHECK(rr_tokenizer_from_json(root, &v, &t) == RERANK_OK);
        rerank_encoding_t e = {0};
        if (t) {
            CHECK(rerank_tokenize(t, "a\"\xc3\xa9\xf0\x9f\x98\x80" "bz", 11, &e) == RERANK_OK);
            CHECK_IDS(&e, 1, 2, 0);
        }
        rerank_encoding_free(&e);
        rerank_tokenizer_free(t);
        json_decref(root);
    }
    rr_vocab_release(&v);
    /* malformed vocab: left for jansson */
    strcpy(buf, "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1],[\"b\"]]}}");
    n = strlen(buf);
    CHECK(rr_vocab_fast_parse(buf, &n, &v) == RERANK_OK && v.n == 0 && n == strlen(buf));
    strcpy(buf, "{\"model\":{\"type\":\"WordPiece\",\"vocab\":[[\"a\",-1]]}}");
    n = strlen(buf);
    CHECK(rr_vocab_fast_parse(buf, &n, &v) == RERANK_OK && v.n == 0);
}

/* ---- threads ------------------------------------------------------------------ */

typedef struct {
    const rerank_tokenizer_t *tok;
    const char *const *texts;
    int n;
    rerank_encoding_t out[8];
    int errors;
} thr_job_t;

static void *thr_main(void *arg) {
    thr_job_t *j = arg;
    for (int r = 0; r < 20; r++)
        for (int i = 0; i < j->n; i++)
            if (tok_pair(j->tok, j->texts[i], strlen(j->texts[i]), j->texts[(i + 1) % j->n],
                                     strlen(j->texts[(i + 1) % j->n]), 32, RERANK_TRUNC_FLAG, RERANK_TRUNC_RIGHT, &j->out[i]))
                j->errors++;
    return NULL;
}

TEST(two_threads_same_ids) {
    if (!g_xlmr) { CHECK(g_xlmr != NULL); return; }
    static const char *const texts[] = {
        "The giant panda is a bear species endemic to China.", "what is panda?",
        "\xe5\xa4\xa7\xe7\x86\x8a\xe7\x8c\xab\xe6\x98\xaf\xe4\xb8\x80\xe7\xa7\x8d\xe7\x86\x8a", "hi",
        "Ｆｕｌｌｗｉｄｔｈ   and  <s> tokens </s>", "", "caf\xc3\xa9 na\xc3\xafve", "1 2 3 4 5 6 7 8 9 10 11 12"};
    thr_job_t a = {.tok = g_xlmr, .texts = texts, .n = 8}, b = a;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, thr_main, &a);
    pthread_create(&tb, NULL, thr_main, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(a.errors == 0 && b.errors == 0);
    for (int i = 0; i < 8; i++) {
        CHECK(a.out[i].n == b.out[i].n && a.out[i].n > 0);
        CHECK(a.out[i].n == b.out[i].n && !memcmp(a.out[i].ids, b.out[i].ids, a.out[i].n * 4));
        rerank_encoding_free(&a.out[i]);
        rerank_encoding_free(&b.out[i]);
    }
}

/* ---- fault injection ---------------------------------------------------------- */

TEST(alloc_failures) {
    const char *js = "{" TINY_MODEL ",\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},"
                     "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\" \"}]},"
                     "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"_\",\"add_prefix_space\":true},"
                     "\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"normalized\":false}]}";
    int completed = 0;
    for (unsigned long k = 1; k < 2000 && !completed; k++) {
        rr_alloc_fail_at(k);
        rerank_tokenizer_t *t = NULL;
        rerank_status_t st = load_text(js, &t);
        rerank_encoding_t e = {0};
        if (st == RERANK_OK) {
            st = tok_pair(t, "a  a<unk>a", 10, "aa  zz", 6, 6, RERANK_TRUNC_LONGEST_FIRST, RERANK_TRUNC_RIGHT, &e);
        }
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        if (!failed) {
            CHECK(st == RERANK_OK);
            completed = 1;
        }
        rerank_encoding_free(&e);
        rerank_tokenizer_free(t);
    }
    CHECK(completed);
}

int main(void) {
    rr_alloc_init_json();
    g_xlmr = load_fixture("tiny-xlmr");
    g_bert = load_fixture("tiny-bert");
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/models/tiny-xlmr/tokenizer.json", t_shared());
    g_xlmr_json = json_load_file(path, 0, NULL);
    RUN(precompiled_lookups);
    RUN(precompiled_bad_blobs);
    RUN(replace_and_regex);
    RUN(other_normalizers);
    RUN(metaspace);
    RUN(unigram_viterbi);
    RUN(added_token_split);
    RUN(xlmr_added_tokens_in_text);
    RUN(templates);
    RUN(truncation);
    RUN(truncation_direction_hf);
    RUN(truncation_direction_property);
    RUN(input_errors);
    RUN(load_errors);
    RUN(fuzz_json);
    RUN(fast_vocab_path);
    RUN(two_threads_same_ids);
    RUN(alloc_failures);
    json_decref(g_xlmr_json);
    rerank_tokenizer_free(g_xlmr);
    rerank_tokenizer_free(g_bert);
    TEST_MAIN_END();
}
