/* tok_pair.h — tests' shorthand for rerank_tokenize_pair with the options
 * spelled out as arguments (max_length, truncation, direction). */
#ifndef RR_TESTS_TOK_PAIR_H
#define RR_TESTS_TOK_PAIR_H

#include "rerank.h"

static inline rerank_status_t tok_pair(const rerank_tokenizer_t *tok, const char *q, size_t ql, const char *d,
                                       size_t dl, int32_t max_length, rerank_truncation_t truncation,
                                       rerank_trunc_direction_t direction, rerank_encoding_t *enc) {
    rerank_pair_options_t o = rerank_pair_options_default();
    o.max_length = max_length;
    o.truncation = truncation;
    o.direction = direction;
    return rerank_tokenize_pair(tok, q, ql, d, dl, &o, enc);
}

#endif
