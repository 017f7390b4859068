/* fuzz_tokenize — arbitrary bytes through the XLM-R, BERT, Qwen3 and
 * ModernBERT tokenizers (Unigram, WordPiece, byte-level BPE).
 * Properties: invalid UTF-8 is rejected with RERANK_ERR_INVALID_UTF8 and
 * valid text is tokenized; every id is inside the vocabulary; tokenizing the
 * same text twice gives the same ids; byte-level BPE with all 256 bytes in
 * its vocabulary (Qwen3) gives a non-empty text at least one id; a pair (the
 * input split in two) fits max_length under longest_first; truncated from
 * the left it has the same length and type ids, and keeps the document's
 * last token (the templates end "B </s>", "B [SEP]", or B itself for Qwen3). */
#include <stdint.h>
#include <string.h>

#include "common/utf8.h"
#include "fuzz.h"
#include "rerank.h"
#include "../tests/tok_pair.h"

RR_FUZZ_TARGET(tokenize);

#define N_TOK 4
static rerank_tokenizer_t *g_tok[N_TOK];
/* special tokens after B in each pair template, and whether every byte has a token */
static const struct { const char *model; int after_b, all_bytes; } k_models[N_TOK] = {
    {"tiny-xlmr", 1, 0}, {"tiny-bert", 1, 0}, {"tiny-qwen3", 0, 1}, {"tiny-modernbert", 1, 0}};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *shared = getenv("RERANK_SHARED");
    char path[1024];
    for (int i = 0; i < N_TOK; i++) {
        snprintf(path, sizeof path, "%s/fixtures/models/%s", shared && *shared ? shared : "../shared", k_models[i].model);
        if (rerank_tokenizer_load(path, &g_tok[i]) != RERANK_OK) {
            fprintf(stderr, "fuzz_tokenize: cannot load %s: %s\n", path, rerank_last_error());
            abort();
        }
    }
    return 0;
}

static void check_one(const rerank_tokenizer_t *tok, int after_b, int all_bytes, const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    int valid = rr_utf8_valid(s, size, NULL);
    int32_t vocab = rerank_tokenizer_vocab_size(tok);
    rerank_encoding_t a = {0}, b = {0};
    rerank_status_t st = rerank_tokenize(tok, s, size, &a);
    if (!valid) {
        RR_FUZZ_CHECK(st == RERANK_ERR_INVALID_UTF8);
        goto out;
    }
    RR_FUZZ_CHECK(st == RERANK_OK);
    for (size_t i = 0; i < a.n; i++) RR_FUZZ_CHECK(a.ids[i] >= 0 && a.ids[i] < vocab);
    if (all_bytes && size > 0) RR_FUZZ_CHECK(a.n > 0);
    RR_FUZZ_CHECK(rerank_tokenize(tok, s, size, &b) == RERANK_OK);
    RR_FUZZ_CHECK(a.n == b.n && (a.n == 0 || !memcmp(a.ids, b.ids, a.n * sizeof *a.ids)));
    /* Pair: split at the first byte boundary that keeps both halves valid. */
    size_t cut = size / 2;
    while (cut > 0 && !(rr_utf8_valid(s, cut, NULL) && rr_utf8_valid(s + cut, size - cut, NULL))) cut--;
    int32_t overhead = rerank_tokenizer_pair_overhead(tok);
    int32_t max_len = overhead + 1 + (int32_t)(size % 23);
    RR_FUZZ_CHECK(tok_pair(tok, s, cut, s + cut, size - cut, max_len, RERANK_TRUNC_LONGEST_FIRST, RERANK_TRUNC_RIGHT,
                                       &b) == RERANK_OK);
    RR_FUZZ_CHECK(b.n >= (size_t)overhead && b.n <= (size_t)max_len);
    for (size_t i = 0; i < b.n; i++) RR_FUZZ_CHECK(b.ids[i] >= 0 && b.ids[i] < vocab);
    rerank_encoding_t l = {0}, doc = {0};
    RR_FUZZ_CHECK(tok_pair(tok, s, cut, s + cut, size - cut, max_len, RERANK_TRUNC_LONGEST_FIRST,
                                          RERANK_TRUNC_LEFT, &l) == RERANK_OK);
    RR_FUZZ_CHECK(l.n == b.n && (l.n == 0 || !memcmp(l.type_ids, b.type_ids, l.n * sizeof *l.type_ids)));
    RR_FUZZ_CHECK(rerank_tokenize(tok, s + cut, size - cut, &doc) == RERANK_OK);
    /* with room for 2+ tokens, longest_first keeps at least one of a
     * non-empty document: from the left, its last */
    if (doc.n > 0 && max_len - overhead >= 2) RR_FUZZ_CHECK(l.ids[l.n - 1 - after_b] == doc.ids[doc.n - 1]);
    rerank_encoding_free(&l);
    rerank_encoding_free(&doc);
    RR_FUZZ_CHECK(tok_pair(tok, s, cut, s + cut, size - cut, 512, RERANK_TRUNC_FLAG, RERANK_TRUNC_RIGHT, &b) ==
                  RERANK_OK);
out:
    rerank_encoding_free(&a);
    rerank_encoding_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    for (int i = 0; i < N_TOK; i++) check_one(g_tok[i], k_models[i].after_b, k_models[i].all_bytes, data, size);
    return 0;
}
