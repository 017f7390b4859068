/* server.h — the HTTP reranking server, independent of where scores come from: a scorer supplies tokenization and scoring.
 * (The real model is the scorer in serve_main.c, a fake one in the tests.) */
#ifndef RR_SERVER_SERVER_H
#define RR_SERVER_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "rerank.h"
#include "server/batcher.h"
#include "server/config.h"

/* The model's state now, for /health, /ready, /info and /metrics. */
typedef struct rr_scorer_state {
    int healthy;                 /* 0 once the model cannot score any more */
    int64_t device_memory_bytes; /* held on its device (0 on the CPU)      */
} rr_scorer_state_t;

/* Not the engine's compute backend (engine/blocks.h): the calls the
 * server needs from a model. */
typedef struct rr_scorer {
    void *ctx;
    /* Encode (query, doc) as the model scores it (special tokens or the
     * prompt), truncated as `po` says (RERANK_TRUNC_NONE: not at all).
     * Must be thread-safe: it runs on the HTTP threads, once per document,
     * with each request's own options. */
    rerank_status_t (*encode_pair)(void *ctx, const char *q, size_t qn, const char *d, size_t dn,
                                   const rerank_pair_options_t *po, rerank_encoding_t *enc);
    /* Raw logits of token pairs; called from the batcher thread only. */
    rr_score_fn score;
    /* Optional (NULL: always healthy, nothing on a device). Called on the
     * HTTP threads: must be thread-safe. An unhealthy model (a device
     * fault) makes /health, /ready and the rerank routes answer 503. */
    void (*state)(void *ctx, rr_scorer_state_t *st);
    /* Optional (NULL: requests for chunks or max_tokens_per_doc answer
     * 422): the windows of (query, doc) under lo, as
     * rerank_model_window_pair does. Thread-safe like encode_pair. */
    rerank_status_t (*window_pair)(void *ctx, const char *q, size_t qn, const char *d, size_t dn,
                                   const rerank_pair_options_t *po, const rerank_long_options_t *lo,
                                   rerank_windows_t *out);
} rr_scorer_t;

/* What /info, /metrics and the Cohere "model" field report. */
typedef struct rr_server_info {
    const char *model_id;
    const char *architecture;
    const char *model_type;
    const char *precision;     /* requested                                  */
    const char *compute;       /* what the linear layers compute in          */
    const char *weights_dtype;
    const char *device;
    int32_t num_layers;    /* of the checkpoint          */
    int32_t layers_used;   /* run per request            */
    int32_t max_length;    /* pair cap used for requests */
    rerank_truncation_t truncation;
    const char *family;        /* the model family ("qwen3", "bert", ...)    */
    const char *prompt;        /* an LLM reranker's recipe, "" for a cross-encoder */
    const char *instruction;   /* its default task instruction (NULL: the recipe's) */
} rr_server_info_t;

typedef struct rr_server rr_server_t;

/* Bind and start serving (health answers 503 "loading" until a scorer is
 * set). `cfg` is copied by reference and must outlive the server. */
rerank_status_t rr_server_start(const rr_server_config_t *cfg, rr_server_t **out);
int rr_server_port(const rr_server_t *s);
/* Attach the scorer (strings in info are copied): starts the batcher and
 * makes the rerank routes available. The one-model form of the two below. */
rerank_status_t rr_server_set_scorer(rr_server_t *s, const rr_scorer_t *sc, const rr_server_info_t *info);
/* Add a served model (up to RR_SRV_MAX_MODELS; the first is the default),
 * with its own batcher and queue bound, named info->model_id (must be
 * unique). The routes answer 503 "loading" until rr_server_set_ready. */
rerank_status_t rr_server_add_scorer(rr_server_t *s, const rr_scorer_t *sc, const rr_server_info_t *info);
void rr_server_set_ready(rr_server_t *s);
/* Graceful stop: refuse new connections and new requests, let in-flight
 * requests finish for up to timeout_s seconds, cancel the rest. */
void rr_server_drain(rr_server_t *s, double timeout_s);
/* Stop everything and free (drains with timeout 0 if not drained). */
void rr_server_free(rr_server_t *s);

#endif
