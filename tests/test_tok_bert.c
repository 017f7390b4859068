/* test_tok_bert.c — the BERT stages (BertNormalizer, BertPreTokenizer,
 * WordPiece) through the tokenizer's own calls: tokenizers built from small
 * tokenizer.json texts show each stage's output, and the real BERT
 * tokenizer (tiny-bert) its words. The golden ids of Hugging Face tokenizers
 * are test_tok_golden's. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/utf8.h"
#include "rerank.h"
#include "test.h"
#include "tok_json.h"
#include "tokenizer/internal.h"

static rerank_tokenizer_t *g_bert; /* tiny-bert's tokenizer */

/* A tokenizer that echoes its normalized text: no pre-tokenizer, and a
 * Unigram model of only the 256 byte pieces <0xXX> (ids 1..256) with
 * byte_fallback, so every char is unknown and comes out as its bytes. */
static rerank_tokenizer_t *echo_tokenizer(const char *normalizer) {
    size_t cap = 16384, k = 0;
    char *js = malloc(cap);
    k += (size_t)snprintf(js + k, cap - k,
                          "{\"normalizer\": %s, \"model\": {\"type\": \"Unigram\", \"unk_id\": 0, "
                          "\"byte_fallback\": true, \"vocab\": [[\"<unk>\", 0]",
                          normalizer);
    for (int b = 0; b < 256; b++) k += (size_t)snprintf(js + k, cap - k, ", [\"<0x%02X>\", -1]", b);
    snprintf(js + k, cap - k, "]}}");
    rerank_tokenizer_t *t = NULL;
    rerank_status_t st = tok_from_string(js, &t);
    CHECK_MSG(st == RERANK_OK, "echo tokenizer %s: %s", normalizer, rerank_last_error());
    free(js);
    return t;
}

/* The text `normalizer` makes of s[0..n), as a malloc'd NUL-terminated
 * string (NULL on error). */
static char *normalize(const char *normalizer, const char *s, size_t n) {
    rerank_tokenizer_t *t = echo_tokenizer(normalizer);
    rerank_encoding_t e = {0};
    char *r = NULL;
    if (t && rerank_tokenize(t, s, n, &e) == RERANK_OK) {
        r = malloc(e.n + 1);
        for (size_t i = 0; i < e.n; i++) r[i] = (char)(e.ids[i] - 1);
        r[e.n] = 0;
    }
    rerank_encoding_free(&e);
    rerank_tokenizer_free(t);
    return r;
}

#define UNCASED "{\"type\": \"BertNormalizer\"}"
#define CASED "{\"type\": \"BertNormalizer\", \"lowercase\": false}"
#define LOWER_ONLY "{\"type\": \"BertNormalizer\", \"strip_accents\": false}"
#define RAW                                                                                           \
    "{\"type\": \"BertNormalizer\", \"clean_text\": false, \"handle_chinese_chars\": false, "        \
    "\"lowercase\": false}"

#define CHECK_NORM(nz, in, want)                                                               \
    do {                                                                                       \
        char *got_ = normalize(nz, in, strlen(in));                                            \
        CHECK_MSG(got_ && strcmp(got_, want) == 0, "normalize(\"%s\") = \"%s\", want \"%s\"", in, \
                  got_ ? got_ : "(error)", want);                                              \
        free(got_);                                                                            \
    } while (0)

/* A tokenizer: BertPreTokenizer and a WordPiece model with the given vocab
 * (JSON object text), no normalizer. */
static rerank_tokenizer_t *wp_tokenizer(const char *vocab, int pretok) {
    char js[2048];
    snprintf(js, sizeof js, "{\"pre_tokenizer\": %s, \"model\": {\"type\": \"WordPiece\", \"vocab\": %s}}",
             pretok ? "{\"type\": \"BertPreTokenizer\"}" : "null", vocab);
    rerank_tokenizer_t *t = NULL;
    rerank_status_t st = tok_from_string(js, &t);
    CHECK_MSG(st == RERANK_OK, "%s: %s", js, rerank_last_error());
    return t;
}

/* Is cp punctuation to BertPreTokenizer? "a" cp "a" becomes three words
 * (a, unk, a) if so, else one unknown word. */
static rerank_tokenizer_t *g_punct;

static int is_punct(uint32_t cp) {
    if (!g_punct) g_punct = wp_tokenizer("{\"[UNK]\": 0, \"a\": 1}", 1);
    const rerank_tokenizer_t *t = g_punct;
    if (!t) return -1;
    char s[8] = "a";
    int k = 1 + rr_utf8_encode(cp, s + 1);
    s[k++] = 'a';
    rerank_encoding_t e = {0};
    int r = rerank_tokenize(t, s, (size_t)k, &e) == RERANK_OK ? e.n == 3 && e.ids[0] == 1 && e.ids[1] == 0 && e.ids[2] == 1
                                                                : -1;
    CHECK(r == 1 || (e.n == 1 && e.ids[0] == 0));
    rerank_encoding_free(&e);
    return r;
}

TEST(normalizer_options) {
    /* strip_accents null follows lowercase; explicit values win */
    CHECK_NORM("{\"type\": \"BertNormalizer\", \"strip_accents\": null, \"lowercase\": true}", "Héllo", "hello");
    CHECK_NORM("{\"type\": \"BertNormalizer\", \"strip_accents\": null, \"lowercase\": false}", "Héllo", "Héllo");
    CHECK_NORM("{\"type\": \"BertNormalizer\", \"strip_accents\": true, \"lowercase\": false}", "Héllo", "Hello");
    CHECK_NORM("{\"type\": \"BertNormalizer\", \"clean_text\": null}", "A\x01", "a");
    /* malformed options: a clear FORMAT error naming the field */
    const char *bad[] = {"{\"type\": \"BertNormalizer\", \"strip_accents\": \"yes\"}",
                         "{\"type\": \"BertNormalizer\", \"lowercase\": 1}",
                         "{\"type\": \"BertNormalizer\", \"clean_text\": \"no\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char js[512];
        snprintf(js, sizeof js, "{\"normalizer\": %s, \"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}}", bad[i]);
        rerank_tokenizer_t *t = NULL;
        CHECK(tok_from_string(js, &t) == RERANK_ERR_FORMAT && !t);
        CHECK(strstr(rerank_last_error(), "BertNormalizer.") != NULL);
    }
}

TEST(normalizer_accents_case) {
    CHECK_NORM(UNCASED, "Héllo WÖRLD", "hello world");
    CHECK_NORM(UNCASED, "Ångström naïve façade", "angstrom naive facade");
    CHECK_NORM(CASED, "Héllo", "Héllo");
    CHECK_NORM(UNCASED, "e\xCC\x81", "e");               /* decomposed input */
    CHECK_NORM(UNCASED, "\xEA\xB0\x80", "\xE1\x84\x80\xE1\x85\xA1"); /* 가 -> jamo */
    CHECK_NORM(UNCASED, "ΣΑΣ", "σασ");                     /* no final-sigma rule */
    /* Turkish İ: lowercase alone gives "i" + U+0307; with strip_accents the
     * NFD mark goes first */
    CHECK_NORM(LOWER_ONLY, "İ", "i\xCC\x87");
    CHECK_NORM(UNCASED, "İstanbul", "istanbul");
    /* canonical reordering of surviving non-starters: U+1D16D (ccc 226)
     * before U+1D165 (ccc 216) are swapped by NFD; both are Mc, so kept */
    CHECK_NORM(UNCASED, "a\xF0\x9D\x85\xAD\xF0\x9D\x85\xA5",
               "a\xF0\x9D\x85\xA5\xF0\x9D\x85\xAD");
    /* a Mn mark of class 0 (U+0900) between them blocks the reordering */
    CHECK_NORM(UNCASED, "a\xF0\x9D\x85\xAD\xE0\xA4\x80\xF0\x9D\x85\xA5",
               "a\xF0\x9D\x85\xAD\xF0\x9D\x85\xA5");
    /* a Mn mark of class > 0 between them is dropped */
    CHECK_NORM(UNCASED, "a\xF0\x9D\x85\xAD\xCC\x81\xF0\x9D\x85\xA5",
               "a\xF0\x9D\x85\xA5\xF0\x9D\x85\xAD");
}

TEST(unicode_8_categories) {
    /* HF's categories are Unicode 8.0's (unicode_categories crate) */
    CHECK_NORM(UNCASED, "a\xE0\xA3\xA2" "b", "a\xE0\xA3\xA2" "b"); /* U+08E2: Cf since 9.0, kept */
    CHECK_NORM(UNCASED, "a\xF0\x9E\xA5\x84", "a\xF0\x9E\xA5\x84"); /* U+1E944: Mn since 9.0, kept */
    CHECK_NORM(UNCASED, "a\xE1\x9C\xB4", "a");                 /* U+1734: Mn in 8.0, dropped */
    CHECK_NORM(UNCASED, "a\xEA\xA6\xBD", "a\xEA\xA6\xBD");      /* U+A9BD: Mc in 8.0, kept */
    CHECK_NORM(UNCASED, "a\xCD\xB8" "b", "a\xCD\xB8" "b");        /* U+0378 unassigned (Cn): kept */
    CHECK_NORM(UNCASED, "a\xF3\xB0\x80\x80" "b\xF4\x8F\xBF\xBD" "c", "abc"); /* Co planes 15/16 */
    CHECK(!is_punct(0x61D));  /* Po since Unicode 14 */
    CHECK(is_punct(0x166D));  /* Po in 8.0, So today */
    CHECK(is_punct(0x111C9)); /* Po in 8.0, Mn today */
    CHECK(!is_punct(0x1E95E)); /* Adlam punctuation, Unicode 9.0 */
    CHECK(is_punct(0x2E3B) && !is_punct(0x2E43)); /* 8.0 vs 9.0 */
}

TEST(normalizer_long_run_reordering) {
    /* 40 x (U+1D16D U+1D165): long run takes the per-class path */
    char in[1 + 40 * 8 + 1], want[1 + 40 * 8 + 1];
    size_t k = 0, w = 0;
    in[k++] = 'a';
    want[w++] = 'a';
    for (int i = 0; i < 40; i++) {
        memcpy(in + k, "\xF0\x9D\x85\xAD\xF0\x9D\x85\xA5", 8);
        k += 8;
    }
    for (int i = 0; i < 40; i++, w += 4) memcpy(want + w, "\xF0\x9D\x85\xA5", 4);
    for (int i = 0; i < 40; i++, w += 4) memcpy(want + w, "\xF0\x9D\x85\xAD", 4);
    in[k] = want[w] = 0;
    CHECK_NORM(UNCASED, in, want);
}

TEST(normalizer_clean_text) {
    CHECK_NORM(UNCASED, "a\tb\nc\rd", "a b c d");
    CHECK_NORM(UNCASED, "a\x01" "b\x7F" "c", "abc");          /* Cc removed */
    CHECK_NORM(UNCASED, "a\x0B" "b\x0C" "c\xC2\x85" "d", "abcd"); /* Cc, though whitespace */
    CHECK_NORM(UNCASED, "a\xE2\x80\x8B" "b", "ab");           /* U+200B ZWSP: Cf */
    CHECK_NORM(UNCASED, "a\xEF\xBB\xBF" "b", "ab");           /* U+FEFF: Cf */
    CHECK_NORM(UNCASED, "a\xEF\xBF\xBD" "b", "ab");           /* U+FFFD */
    CHECK_NORM(UNCASED, "a\xEE\x80\x80" "b", "ab");           /* U+E000: Co */
    CHECK_NORM(UNCASED, "a\xC2\xA0" "b\xE3\x80\x80" "c\xE2\x80\xA8" "d", "a b c d");
    /* embedded NUL */
    char *got = normalize(UNCASED, "a\0b", 3);
    CHECK(got && !strcmp(got, "ab"));
    free(got);
    /* clean_text off keeps controls */
    CHECK_NORM(RAW, "a\x01\tb", "a\x01\tb");
    /* no normalizer at all */
    CHECK_NORM("null", "ÀB\x01", "ÀB\x01");
}

TEST(normalizer_chinese) {
    CHECK_NORM(UNCASED, "中文abc", " 中  文 abc");
    CHECK_NORM(UNCASED, "ひらがな", "ひらかな"); /* kana: no spaces, but NFD drops dakuten */
    /* U+F900 (compatibility ideograph) gets spaces, then NFD maps it to U+8C48 */
    CHECK_NORM(UNCASED, "\xEF\xA4\x80", " \xE8\xB1\x88 ");
    /* HF's range starts at U+2B920 (not BERT's U+2B820) */
    CHECK_NORM(UNCASED, "\xF0\xAB\xA0\xA0", "\xF0\xAB\xA0\xA0");     /* U+2B820 */
    CHECK_NORM(UNCASED, "\xF0\xAB\xA4\xA0", " \xF0\xAB\xA4\xA0 ");   /* U+2B920 */
}

static int ids_are(const rerank_encoding_t *e, const int32_t *want, size_t n) {
    if (e->n != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (e->ids[i] != want[i]) return 0;
    return 1;
}

TEST(pretokenizer) {
    /* every expected word is in the vocab; a missed split would make an
     * unknown word (0) */
    rerank_tokenizer_t *t = wp_tokenizer(
        "{\"[UNK]\": 0, \"hello\": 1, \",\": 2, \"world\": 3, \"!\": 4, \"it\": 5, \"'\": 6, \"s\": 7, \"$\": 8, "
        "\"5\": 9, \"a\": 10, \"\u2014\": 11, \"b\": 12, \"\u00bf\": 13, \"x\": 14}",
        1);
    if (!t) return;
    rerank_encoding_t e = {0};
    const char *s = "hello, world!! it's $5 a\xE2\x80\x94" "b \xC2\xBF" "x";
    static const int32_t want[] = {1, 2, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    CHECK(rerank_tokenize(t, s, strlen(s), &e) == RERANK_OK && ids_are(&e, want, 15));
    /* only whitespace (incl. U+3000) -> nothing */
    CHECK(rerank_tokenize(t, " \t\xE3\x80\x80 ", 6, &e) == RERANK_OK && e.n == 0);
    CHECK(rerank_tokenize(t, "", 0, &e) == RERANK_OK && e.n == 0);
    /* Rust char::is_whitespace splits (U+0085, U+3000), U+200B and U+001C do not */
    static const int32_t two[] = {10, 12}, one_unk[] = {0};
    CHECK(rerank_tokenize(t, "a\xC2\x85" "b", 4, &e) == RERANK_OK && ids_are(&e, two, 2));
    CHECK(rerank_tokenize(t, "a\xE3\x80\x80" "b", 5, &e) == RERANK_OK && ids_are(&e, two, 2));
    CHECK(rerank_tokenize(t, "a\xE2\x80\x8B" "b", 5, &e) == RERANK_OK && ids_are(&e, one_unk, 1));
    CHECK(rerank_tokenize(t, "a\x1C" "b", 3, &e) == RERANK_OK && ids_are(&e, one_unk, 1));
    rerank_encoding_free(&e);
    rerank_tokenizer_free(t);
    CHECK(is_punct('^') == 1 && is_punct('`') == 1 && is_punct('~') == 1 && is_punct(0x3002) == 1);
    CHECK(is_punct(0xA2) == 0 /* ¢ is Sc */ && is_punct('b') == 0);
}

static int32_t vid(const char *piece) {
    int32_t id = -2;
    if (!g_bert || !g_bert->model.ops->token_id(g_bert->model.impl, piece, strlen(piece), &id)) return -2;
    return id;
}

static size_t bert_ids(const char *text, int32_t *out, size_t max) {
    rerank_encoding_t e = {0};
    size_t n = rerank_tokenize(g_bert, text, strlen(text), &e) == RERANK_OK ? e.n : (size_t)-1;
    for (size_t i = 0; n != (size_t)-1 && i < n && i < max; i++) out[i] = e.ids[i];
    rerank_encoding_free(&e);
    return n;
}

TEST(wordpiece_words) {
    if (!g_bert) { CHECK(g_bert != NULL); return; }
    int32_t unk = vid("[UNK]");
    CHECK(unk == 100);
    int32_t got[64];
    /* subword split */
    size_t n = bert_ids("tokenization", got, 64);
    CHECK(n == 2 && got[0] == vid("token") && got[1] == vid("##ization"));
    /* unknown piece in a word -> whole word unk */
    n = bert_ids("hello \xE2\x98\x83\xE2\x98\x83x world", got, 64);
    CHECK(n == 3 && got[0] == vid("hello") && got[1] == unk && got[2] == vid("world"));
    /* 100 chars is fine, 101 is unk */
    char w[256];
    memset(w, 'a', 100);
    w[100] = 0;
    n = bert_ids(w, got, 64);
    CHECK(n >= 1 && got[0] != unk);
    memset(w, 'a', 101);
    w[101] = 0;
    n = bert_ids(w, got, 64);
    CHECK(n == 1 && got[0] == unk);
    /* the limit counts chars, not bytes: 60 x "ж" (120 bytes) stays below it */
    for (int i = 0; i < 60; i++) memcpy(w + 2 * i, "\xD0\xB6", 2);
    w[120] = 0;
    n = bert_ids(w, got, 64);
    CHECK(n >= 1 && got[0] != unk);
    /* empty and whitespace-only input */
    CHECK(bert_ids("", got, 64) == 0);
    CHECK(bert_ids(" \t\n", got, 64) == 0);
    n = bert_ids("playing", got, 64);
    CHECK(n >= 1 && got[0] == vid(n == 1 ? "playing" : "play"));
}

TEST(wordpiece_load_errors) {
    rerank_tokenizer_t *t = NULL;
    /* unk_token must be in the vocab */
    CHECK(tok_from_string("{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {\"a\": 0, \"##b\": 1}}}",
                      &t) == RERANK_ERR_FORMAT && !t);
    CHECK(strstr(rerank_last_error(), "unk_token") != NULL);
    /* no normalizer, no pre-tokenizer: the whole text is one word */
    t = wp_tokenizer("{\"a\": 0, \"##b\": 1, \"[UNK]\": 2}", 0);
    if (t) {
        rerank_encoding_t e = {0};
        static const int32_t abb[] = {0, 1, 1}, unk[] = {2};
        CHECK(rerank_tokenize(t, "abb", 3, &e) == RERANK_OK && ids_are(&e, abb, 3));
        CHECK(rerank_tokenize(t, "a b", 3, &e) == RERANK_OK && ids_are(&e, unk, 1));
        rerank_encoding_free(&e);
        rerank_tokenizer_free(t);
    }
    const char *bad[] = {
        "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"c\": -1}}}",
        "{\"model\": {\"type\": \"WordPiece\", \"vocab\": []}}",
        "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}",
        "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}, \"max_input_chars_per_word\": -3}}",
        "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}, \"continuing_subword_prefix\": 7}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        t = NULL;
        rerank_status_t st = tok_from_string(bad[i], &t);
        CHECK_MSG(st == RERANK_ERR_FORMAT && !t, "case %zu: status %d", i, (int)st);
        rerank_tokenizer_free(t);
    }
}

TEST(alloc_failures) {
    /* every allocation failure is reported, never crashes or leaks (asan) */
    if (!g_bert) { CHECK(g_bert != NULL); return; }
    const char *text = "Héllo, WORLD! 中文 tokenization \xF0\x9D\x85\xAD\xF0\x9D\x85\xA5 "
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    int done = 0;
    for (unsigned long k = 1; k < 100 && !done; k++) {
        rerank_encoding_t e = {0};
        rr_alloc_fail_at(k);
        rerank_status_t st = rerank_tokenize(g_bert, text, strlen(text), &e);
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        CHECK(failed ? st == RERANK_ERR_NOMEM : st == RERANK_OK);
        if (!failed) done = 1;
        rerank_encoding_free(&e);
    }
    CHECK(done);
    /* loading a small BERT tokenizer (strmap growth included) */
    json_t *root = json_loads("{\"normalizer\": {\"type\": \"BertNormalizer\"}, \"pre_tokenizer\": {\"type\": "
                              "\"BertPreTokenizer\"}, \"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, "
                              "\"a\": 1, \"##b\": 2, \"c\": 3}}}",
                              0, NULL);
    done = 0;
    for (unsigned long k = 1; root && k < 200 && !done; k++) {
        rerank_tokenizer_t *t = NULL;
        rr_alloc_fail_at(k);
        rerank_status_t st = rr_tokenizer_from_json(root, NULL, &t);
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        CHECK(failed ? (st == RERANK_ERR_NOMEM && !t) : (st == RERANK_OK && t));
        if (!failed) done = 1;
        rerank_tokenizer_free(t);
    }
    CHECK(done);
    json_decref(root);
}

TEST(random_utf8_never_crashes) {
    if (!g_bert) { CHECK(g_bert != NULL); return; }
    uint64_t x = 0x9E3779B97F4A7C15ull;
    char buf[4096];
    rerank_encoding_t e = {0};
    for (int it = 0; it < 300; it++) {
        size_t k = 0;
        while (k + 4 < sizeof buf) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            uint32_t cp;
            switch (x % 4) {
            case 0: cp = (uint32_t)(x >> 8) % 0x80; break;
            case 1: cp = (uint32_t)(x >> 8) % 0x800; break;
            case 2: cp = (uint32_t)(x >> 8) % 0x10000; break;
            default: cp = (uint32_t)(x >> 8) % 0x110000; break;
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) continue;
            /* mostly short words */
            if ((x >> 40) % 8 == 0) cp = ' ';
            k += (size_t)rr_utf8_encode(cp, buf + k);
        }
        CHECK(rerank_tokenize(g_bert, buf, k, &e) == RERANK_OK);
        for (size_t i = 0; i < e.n; i++) CHECK(e.ids[i] >= 0 && e.ids[i] < 30522);
    }
    rerank_encoding_free(&e);
}

int main(void) {
    rr_alloc_init_json(); /* jansson's allocations count in the fault loops (the library never routes them) */
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/models/tiny-bert", t_shared());
    if (rerank_tokenizer_load(path, &g_bert) != RERANK_OK)
        fprintf(stderr, "  cannot load %s: %s\n", path, rerank_last_error());
    RUN(normalizer_options);
    RUN(normalizer_accents_case);
    RUN(unicode_8_categories);
    RUN(normalizer_long_run_reordering);
    RUN(normalizer_clean_text);
    RUN(normalizer_chinese);
    RUN(pretokenizer);
    RUN(wordpiece_words);
    RUN(wordpiece_load_errors);
    RUN(alloc_failures);
    RUN(random_utf8_never_crashes);
    rerank_tokenizer_free(g_bert);
    rerank_tokenizer_free(g_punct);
    TEST_MAIN_END();
}
