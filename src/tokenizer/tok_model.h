/* tok_model.h — the tokenizer-model seam: a model (Unigram, WordPiece, BPE)
 * turns one pre-tokenized word into ids. Each model is one file that defines
 * its ops table; tokenizer.c picks the table by tokenizer.json's
 * model.type. A loaded model is immutable and shared by all threads. */
#ifndef RR_TOKENIZER_TOK_MODEL_H
#define RR_TOKENIZER_TOK_MODEL_H

#include <jansson.h>

#include "tokenizer/tok_util.h"
#include "tokenizer/vocab_fast.h"

typedef struct rr_tok_model_ops {
    const char *type; /* tokenizer.json "model.type", e.g. "Unigram" */
    /* Build from the "model" object; `pre` (never NULL) holds the tables
     * vocab_fast.c already took out of the JSON (pre->n == 0: none, all is
     * in `model`). *vocab_size: largest id + 1. */
    rerank_status_t (*load)(const json_t *model, const rr_vocab_t *pre, void **impl, int32_t *vocab_size);
    /* Append the ids of one word (s[0..n), n > 0, valid UTF-8). */
    rerank_status_t (*encode)(const void *impl, const char *s, size_t n, rr_ids_t *ids);
    /* 1 and *id when s[0..n) is one token of the vocabulary, else 0. */
    int (*token_id)(const void *impl, const char *s, size_t n, int32_t *id);
    void (*free)(void *impl);
} rr_tok_model_ops_t;

typedef struct rr_tok_model {
    const rr_tok_model_ops_t *ops;
    void *impl;
    int32_t vocab_size;
} rr_tok_model_t;

extern const rr_tok_model_ops_t rr_unigram_ops;   /* unigram.c   */
extern const rr_tok_model_ops_t rr_wordpiece_ops; /* wordpiece.c */
extern const rr_tok_model_ops_t rr_bpe_ops;       /* bpe.c       */

#endif
