/* fuzz_tokenize — arbitrary bytes through the XLM-R, BERT, Qwen3 and
 * ModernBERT tokenizers (Unigram, WordPiece, byte-level BPE).
 * Properties: invalid UTF-8 is rejected with RERANK_ERR_INVALID_UTF8 and
 * valid text is tokenized; every id is inside the vocabulary; tokenizing the
 * same text twice gives the same ids; byte-level BPE with all 256 bytes in
 * its vocabulary (Qwen3) gives a non-empty text at least one id; a pair (the
 * input split in two) fits max_length under longest_first; truncated from
 * the left it has the same length and type ids, and keeps the document's
 * last token (the templates end "B </s>", "B [SEP]", or B itself for Qwen3).
 * Qwen3-Reranker's prompt windows of the same pair (tokenizer/prompt.c):
 * each fits max_length and starts with the same ids; the first, of the
 * whole room, is the recipe's own truncated prompt; the windows reach the
 * document's end; a document that fits is one window. */
#include <stdint.h>
#include <string.h>

#include "common/utf8.h"
#include "fuzz.h"
#include "tokenizer/prompt.h"
#include "rerank.h"
#include "../tests/tok_pair.h"

RR_FUZZ_TARGET(tokenize);

#define N_TOK 4
static rerank_tokenizer_t *g_tok[N_TOK];
static rr_prompt_t *g_prompt; /* Qwen3-Reranker's recipe on tiny-qwen3's tokenizer */
static rerank_encoding_t g_suffix; /* its suffix's ids */
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
    const char *sfx = rr_prompt_qwen3_reranker.suffix;
    if (rr_prompt_new(g_tok[2], &rr_prompt_qwen3_reranker, &g_prompt) != RERANK_OK ||
        rerank_tokenize(g_tok[2], sfx, strlen(sfx), &g_suffix) != RERANK_OK) {
        fprintf(stderr, "fuzz_tokenize: prompt recipe: %s\n", rerank_last_error());
        abort();
    }
    return 0;
}

/* The prompt's windows of (query q, document d), both valid UTF-8. */
static void check_prompt(const char *q, size_t nq, const char *d, size_t nd, size_t seed) {
    const int32_t max_len = (int32_t)(rr_prompt_fixed_ids(g_prompt) + 1 + seed % 97);
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.chunk_overlap = (int32_t)(seed % 3);
    rerank_windows_t w = {0};
    rerank_encoding_t cut = {0};
    rerank_status_t st = rr_prompt_windows(g_prompt, NULL, 0, q, nq, d, nd, max_len, &lo, &w);
    RR_FUZZ_CHECK(st == RERANK_OK || st == RERANK_ERR_LIMIT || st == RERANK_ERR_INVALID_ARGUMENT);
    if (st != RERANK_OK) {
        RR_FUZZ_CHECK(w.n == 0);
        goto out;
    }
    RR_FUZZ_CHECK(w.n >= 1 && w.chunks[w.n - 1].token_end == w.chunks[0].doc_tokens);
    /* every window: the same ids before the document's and the suffix after */
    const size_t fixed = (size_t)w.len[0] - (size_t)(w.chunks[0].token_end - w.chunks[0].token_start),
                 head = fixed - g_suffix.n;
    for (size_t k = 0; k < w.n; k++) {
        const int32_t *v = w.enc.ids + w.offset[k];
        const size_t nk = (size_t)(w.chunks[k].token_end - w.chunks[k].token_start);
        RR_FUZZ_CHECK(w.len[k] <= max_len && (size_t)w.len[k] == fixed + nk);
        RR_FUZZ_CHECK(!memcmp(v, w.enc.ids, head * sizeof *v) &&
                      !memcmp(v + head + nk, g_suffix.ids, g_suffix.n * sizeof *v));
    }
    if (w.n > 1) RR_FUZZ_CHECK(w.len[0] == max_len);
    RR_FUZZ_CHECK(rr_prompt_encode(g_prompt, NULL, 0, q, nq, d, nd, max_len, &cut) == RERANK_OK);
    RR_FUZZ_CHECK(cut.n == (size_t)w.len[0] && !memcmp(cut.ids, w.enc.ids, cut.n * sizeof *cut.ids));
out:
    rerank_windows_free(&w);
    rerank_encoding_free(&cut);
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
    /* Left counts each side's early exit from its end (HF), so with an odd
     * budget the odd token may sit on the other side than from the right */
    RR_FUZZ_CHECK(l.n == b.n);
    {
        long diff = 0;
        for (size_t i = 0; i < l.n; i++) diff += (long)(l.type_ids[i] != 0) - (long)(b.type_ids[i] != 0);
        RR_FUZZ_CHECK(diff >= -1 && diff <= 1);
    }
    RR_FUZZ_CHECK(rerank_tokenize(tok, s + cut, size - cut, &doc) == RERANK_OK);
    /* with room for 2+ tokens, longest_first keeps at least one of a
     * non-empty document: from the left, its last */
    if (doc.n > 0 && max_len - overhead >= 2) RR_FUZZ_CHECK(l.ids[l.n - 1 - after_b] == doc.ids[doc.n - 1]);
    rerank_encoding_free(&l);
    rerank_encoding_free(&doc);
    RR_FUZZ_CHECK(tok_pair(tok, s, cut, s + cut, size - cut, 512, RERANK_TRUNC_FLAG, RERANK_TRUNC_RIGHT, &b) ==
                  RERANK_OK);
    if (tok == g_tok[2]) check_prompt(s, cut, s + cut, size - cut, size);
out:
    rerank_encoding_free(&a);
    rerank_encoding_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    for (int i = 0; i < N_TOK; i++) check_one(g_tok[i], k_models[i].after_b, k_models[i].all_bytes, data, size);
    return 0;
}
