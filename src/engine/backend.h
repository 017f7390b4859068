/* backend.h — where a forward pass runs. A backend turns the loaded
 * checkpoint (config + host weights) into its own state once, then computes
 * logits for packed batches of validated pairs. The engine (model.c,
 * score.c) owns validation, chunking (<= RR_CHUNK_TOKENS tokens per call,
 * or one longer pair), the model lock and thread settings; backends only
 * compute. */
#ifndef RR_ENGINE_BACKEND_H
#define RR_ENGINE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "engine/bench_api.h" /* rr_profile_t */
#include "model/config.h"
#include "model/weights.h"
#include "rerank.h"

typedef struct rr_backend_opts {
    rerank_precision_t precision;
    int device;  /* device index (cuda:N); 0 for the CPU */
    int threads; /* CPU threads the forward pass may use  */
} rr_backend_opts_t;

typedef struct rr_backend {
    const char *name; /* "cpu", "cuda" */
    /* Prepare to run `cfg` with weights `w`; both outlive the context. */
    rerank_status_t (*create)(const rr_config_t *cfg, const rr_weights_t *w, const rr_backend_opts_t *o,
                              void **ctx);
    /* Logits of n_pairs packed pairs through the first `layers` layers. */
    rerank_status_t (*forward)(void *ctx, const rerank_pair_t *pairs, size_t n_pairs, int32_t layers,
                               float *logits);
    void (*destroy)(void *ctx); /* NULL-safe */
    /* What the linear layers compute in ("fp32", "bf16", "int8", "fp16"). */
    const char *(*compute)(const void *ctx);
    /* Time spent so far (NULL: the backend does not measure it). */
    void (*profile)(const void *ctx, rr_profile_t *p);
} rr_backend_t;

extern const rr_backend_t rr_backend_cpu;  /* engine/cpu_backend.c  */
extern const rr_backend_t rr_backend_cuda; /* engine/cuda_adapter.c */

#endif
