/* engine.h — the model object behind rerank_model_t, shared by the engine's
 * files (load, forward, scoring). Not part of the public API. */
#ifndef RR_ENGINE_ENGINE_H
#define RR_ENGINE_ENGINE_H

#include <pthread.h>

#include "common/limits.h"
#include "engine/blocks.h"
#include "families/family.h"
#include "model/config.h"
#include "model/weights.h"
#include "rerank.h"

/* Tokens per forward pass on the CPU: larger batches are split into chunks of whole
 * pairs (a pair scores the same in any chunk, up to float rounding; a GPU
 * backend cuts its own chunks to fit device memory). Bounds scratch memory
 * (the hidden states, tokens x H x 4 bytes: 64 MB for bge-m3, plus one
 * layer group's buffers, see RR_GROUP_TOKENS_PER_THREAD). */
#define RR_CHUNK_TOKENS 16384

/* Shared prefixes (engine/prefix.c): pairs of a causal model that begin
 * with at least this many equal ids compute them once. Below it the saving
 * is small next to what sharing costs: one more span (a row of attention
 * items, a head row thrown away) and each member copying the prefix's
 * keys and values per head; the Qwen3-Reranker prompt up to a document is
 * some 60-100 tokens. */
#define RR_SHARED_PREFIX_MIN 16

/* A pair as the prefix planner sorts it. */
typedef struct rr_prefix_key {
    const int32_t *ids;
    int32_t n;
    size_t idx;
} rr_prefix_key_t;

/* Clusters of >= 2 pairs whose ids share >= RR_SHARED_PREFIX_MIN leading
 * ids: pair p shares shared[p] tokens (0: none) with cluster[p]; cluster c
 * shares cl_len[c] tokens, those of pair cl_leader[c]. Returns the number
 * of clusters (keys: n_pairs of scratch). */
size_t rr_prefix_plan(const rerank_pair_t *pairs, size_t n_pairs, rr_prefix_key_t *keys, int64_t *shared,
                      size_t *cluster, int64_t *cl_len, size_t *cl_leader);

/* The engine's per-pass buffers: packed spans, counting-sort slots and
 * position ids (grow-only); with shared prefixes also the plan, the
 * rewritten pairs (the caller's after their prefixes, then the prefixes),
 * their logits, and one pair's position ids. */
typedef struct rr_pack {
    rr_span_t *sp;
    size_t *count;
    int32_t *pos;
    size_t cap_pairs, cap_len, cap_tokens;
    rr_prefix_key_t *keys;
    int64_t *shared, *cl_len;
    size_t *cluster, *cl_leader;
    rerank_pair_t *rp;
    float *logits;
    int32_t *pair_pos;
    size_t cap_plan, cap_pair_pos;
} rr_pack_t;

struct rerank_model {
    rr_config_t cfg;
    const rr_family_t *family;
    rr_weights_t w;
    rerank_tokenizer_t *tok;
    struct rr_prompt *prompt; /* an LLM reranker's recipe bound to tok, or NULL */
    rerank_precision_t precision;
    int32_t threads;     /* OpenMP threads for a forward pass            */
    char device[32];     /* "cpu", "cuda:0", ...                          */
    const rr_blocks_t *backend;
    void *be;            /* the backend's state                          */
    rr_pack_t pack;
    double forward_s;    /* time in forward passes so far                */
    double wait_s;       /* of which waiting for a device, without lock  */
    pthread_mutex_t wait_lock; /* guards wait_s (taken without `lock`)   */
    int shared_prefix;   /* 1: pack shared prefixes once (causal family, backend that can, option on) */
    rr_work_t work;      /* tokens and FLOPs so far (bench)              */
    pthread_mutex_t lock; /* one forward pass at a time                  */
};

/* What max_length 0 means for m: its family's default, capped at its
 * positions. */
static inline int32_t rr_model_default_max_length(const struct rerank_model *m) {
    int32_t d = m->family->default_max_length;
    return m->cfg.usable_pos < d ? m->cfg.usable_pos : d;
}

/* Logits of n_pairs validated pairs through the first `layers` layers
 * (engine/forward.c; the caller holds the model lock and bounds the batch).
 * ticket NULL: the logits are there on return. Else, on a backend that
 * ends passes without waiting (rr_blocks_t.end_async), *ticket may come
 * back non-NULL: the logits are there once rr_model_wait(m, *ticket)
 * returns, which the caller calls, once, without the model lock (so another
 * thread's pass overlaps this one's device work), before its next pass. */
rerank_status_t rr_model_forward(rerank_model_t *m, const rerank_pair_t *pairs, size_t n_pairs, int32_t layers,
                                 float *logits, void **ticket);
rerank_status_t rr_model_wait(rerank_model_t *m, void *ticket);

/* rr_model_load flags. */
#define RR_LOAD_NO_TOKENIZER 1 /* tests: load without tokenizer.json */

rerank_status_t rr_model_load(const char *dir, const rerank_model_options_t *opts, int flags,
                              rerank_model_t **out);

#endif
