/* vocab_fast.h — the big tables of a tokenizer.json (a Unigram vocab array),
 * parsed straight from the file's bytes before jansson sees the rest. */
#ifndef RR_TOKENIZER_VOCAB_FAST_H
#define RR_TOKENIZER_VOCAB_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "rerank.h"

/* Piece i is arena[off[i] .. off[i] + len[i]) with score[i]; n == 0: the
 * fast path took nothing (the model's JSON holds everything). */
typedef struct rr_vocab {
    char *arena;
    size_t arena_n;
    uint32_t *off, *len;
    double *score;
    size_t n;
} rr_vocab_t;

/* If buf (a whole tokenizer.json, *n bytes) has a Unigram model.vocab array,
 * parse it into *out and cut it out of buf (replaced by "[]", *n updated);
 * otherwise leave buf as is and set out->n = 0. */
rerank_status_t rr_vocab_fast_parse(char *buf, size_t *n, rr_vocab_t *out);
void rr_vocab_release(rr_vocab_t *v);

#endif
