/* engine.h — the model object behind rerank_model_t, shared by the engine's
 * files (load, forward, scoring). Not part of the public API. */
#ifndef RR_ENGINE_ENGINE_H
#define RR_ENGINE_ENGINE_H

#include <pthread.h>

#include "common/limits.h"
#include "engine/backend.h"
#include "model/config.h"
#include "model/weights.h"
#include "rerank.h"

/* Tokens per forward pass: larger batches are split into chunks of whole
 * pairs (results never depend on batch composition). Bounds scratch memory
 * (the hidden states, tokens x H x 4 bytes: 64 MB for bge-m3, plus one
 * layer group's buffers, see RR_GROUP_TOKENS_PER_THREAD). */
#define RR_CHUNK_TOKENS 16384

struct rerank_model {
    rr_config_t cfg;
    rr_weights_t w;
    rerank_tokenizer_t *tok;
    rerank_precision_t precision;
    int32_t threads;     /* OpenMP threads for a forward pass            */
    char device[32];     /* "cpu", "cuda:0", ...                          */
    const rr_backend_t *backend;
    void *ctx;           /* the backend's state                          */
    pthread_mutex_t lock; /* one forward pass at a time                  */
};

/* What max_length 0 means for m: its family's default, capped at its
 * positions. */
static inline int32_t rr_model_default_max_length(const struct rerank_model *m) {
    return m->cfg.usable_pos < RR_DEFAULT_MAX_LENGTH ? m->cfg.usable_pos : RR_DEFAULT_MAX_LENGTH;
}

/* rr_model_load flags. */
#define RR_LOAD_NO_TOKENIZER 1 /* tests: load without tokenizer.json */

rerank_status_t rr_model_load(const char *dir, const rerank_model_options_t *opts, int flags,
                              rerank_model_t **out);

#endif
