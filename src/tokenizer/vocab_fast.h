/* vocab_fast.h — the big tables of a tokenizer.json (a Unigram vocab array;
 * a BPE vocab object and merges list), parsed straight from the file's
 * bytes before jansson sees the rest. */
#ifndef RR_TOKENIZER_VOCAB_FAST_H
#define RR_TOKENIZER_VOCAB_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "rerank.h"

/* Piece i is arena[off[i] .. off[i] + len[i]) with score[i] (Unigram) or
 * id[i] (BPE); n == 0: the fast path took nothing (the model's JSON holds
 * everything). BPE merge k joins strings 2k and 2k + 1 of m_off / m_len
 * (also in the arena); has_merges: the merges were taken too. */
typedef struct rr_vocab {
    char *arena;
    size_t arena_n;
    uint32_t *off, *len;
    double *score;
    int32_t *id;
    size_t n;
    uint32_t *m_off, *m_len;
    size_t n_merges;
    int has_merges;
} rr_vocab_t;

/* If buf (a whole tokenizer.json, *n bytes) has a Unigram model.vocab array
 * or a BPE model.vocab object and merges array, parse them into *out and
 * cut them out of buf (leaving "[]" / "{}", *n updated); otherwise leave buf
 * as is and set out->n = 0. */
rerank_status_t rr_vocab_fast_parse(char *buf, size_t *n, rr_vocab_t *out);
void rr_vocab_release(rr_vocab_t *v);

#endif
