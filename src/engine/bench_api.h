/* bench_api.h — what `rerank bench` measures beyond the public API: where a
 * model's forward passes spent their time, and the bare GEMM ceiling it is
 * compared with. Internal (not installed); the engine defines both. */
#ifndef RR_ENGINE_BENCH_API_H
#define RR_ENGINE_BENCH_API_H

#include <stdint.h>

#include "rerank.h"

/* Where a backend's forward passes spent their time, in seconds summed
 * since it was created (wall clock of the calling thread). */
typedef struct rr_profile {
    double forward_s;   /* whole forward passes                          */
    double gemm_s;      /* inside the GEMM library (the linear layers)   */
    double attention_s; /* scores, softmax and weighted sums             */
    double attention_local_s;      /* of which in sliding-window layers     */
    int64_t attention_calls;       /* attention blocks run (layers x groups) */
    int64_t attention_local_calls; /* of which sliding-window ones          */
} rr_profile_t;

/* The backend's time split so far (zeros where it does not measure). */
void rr_model_profile(rerank_model_t *m, rr_profile_t *p);

/* Useful FLOPs of scoring one pair of n tokens through the first `layers`
 * layers (0: all): linear layers as the family bound them, attention (the
 * causal triangle for a decoder), the head (engine/flops.c). */
typedef struct rr_pair_flops {
    double linear, attention, head;
} rr_pair_flops_t;
void rr_model_pair_flops(const rerank_model_t *m, int32_t layers, double n, rr_pair_flops_t *f);

/* GFLOP/s of one [m x k] x [k x n] GEMM at `precision`: the same oneDNN
 * matmul primitive the engine uses, timed alone (activations converted or
 * quantized once beforehand, no int8 epilogue), best of `reps` after a
 * warm-up, on `threads`. */
rerank_status_t rr_gemm_ceiling(rerank_precision_t precision, int64_t m, int32_t k, int32_t n, int reps,
                                int threads, double *gflops);

#endif
