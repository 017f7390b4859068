/* tok_expect.h — tests' independent rebuild of a truncated pair from the
 * tokenizer's parts: each side tokenized whole, its count measured at the
 * max_length early exit (Left: words taken from the end, as HF), the counts
 * split by rr_truncate_pair, and the kept
 * tokens taken from the start (Right) or the end (Left) of each side. */
#ifndef RR_TESTS_TOK_EXPECT_H
#define RR_TESTS_TOK_EXPECT_H

#include "tokenizer/internal.h"

static inline rerank_status_t tok_expect_pair(const rerank_tokenizer_t *tok, const char *q, size_t ql,
                                              const char *d, size_t dl, int32_t max_length,
                                              rerank_truncation_t tr, rerank_trunc_direction_t dir,
                                              rerank_encoding_t *want) {
    rr_ids_t Q = {0}, D = {0};
    rr_enc_limit_t lq = {.full = dir == RERANK_TRUNC_LEFT}, ld = {.full = dir == RERANK_TRUNC_LEFT};
    if (max_length > 0 && tr != RERANK_TRUNC_NONE) {
        lq.max = tr == RERANK_TRUNC_FLAG ? (size_t)max_length * 3 / 4 : (size_t)max_length;
        ld.max = (size_t)max_length;
    }
    rerank_status_t st = rr_tokenizer_encode(tok, q, ql, &lq, &Q);
    if (!st) st = rr_tokenizer_encode(tok, d, dl, &ld, &D);
    if (!st) {
        static const int32_t none[1] = {0};
        size_t na = lq.count, nb = ld.count;
        rr_truncate_pair(&na, &nb, max_length, rr_template_overhead(&tok->tpl, 1), tr);
        size_t qs = dir == RERANK_TRUNC_LEFT ? Q.n - na : 0, ds = dir == RERANK_TRUNC_LEFT ? D.n - nb : 0;
        st = rr_template_apply(&tok->tpl, Q.v ? Q.v + qs : NULL, na, D.v ? D.v + ds : none, nb, want);
    }
    rr_ids_release(&Q);
    rr_ids_release(&D);
    return st;
}

#endif
