/* bench_api.h — what `rerank bench` measures beyond the public API: where a
 * model's forward passes spent their time, and the bare GEMM ceiling it is
 * compared with. Internal (not installed); the engine defines both. */
#ifndef RR_ENGINE_BENCH_API_H
#define RR_ENGINE_BENCH_API_H

#include <stdint.h>

#include "rerank.h"

/* Useful FLOPs of scoring one pair of n tokens through the first `layers`
 * layers (0: all): linear layers as the family bound them, attention (the
 * causal triangle for a decoder), the head (engine/flops.c). */
typedef struct rr_pair_flops {
    double linear, attention, head;
} rr_pair_flops_t;

/* The work of the forward passes so far: the pairs' tokens and FLOPs in
 * full (prompt) and what was computed (less with shared prefixes). */
typedef struct rr_work {
    double tokens_prompt, tokens_computed;
    rr_pair_flops_t prompt, computed;
} rr_work_t;

/* One linear-layer shape's GEMMs (CPU): calls, seconds inside the GEMM
 * library and the useful FLOPs of the rows asked for (padding not counted). */
#define RR_PROFILE_MAX_SHAPES 8
typedef struct rr_gemm_shape_stat {
    int32_t in, out;
    rerank_precision_t precision;
    int64_t calls;
    double seconds, flops;
} rr_gemm_shape_stat_t;

/* Where a backend's forward passes spent their time, in seconds summed
 * since it was created (wall clock of the calling thread), and the work
 * done (the engine's count). */
typedef struct rr_profile {
    double forward_s;   /* whole forward passes                          */
    double gemm_s;      /* inside the GEMM library (the linear layers)   */
    double attention_s; /* scores, softmax and weighted sums             */
    double attention_local_s;      /* of which in sliding-window layers     */
    int64_t attention_calls;       /* attention blocks run (layers x groups) */
    int64_t attention_local_calls; /* of which sliding-window ones          */
    int64_t gemm_inputs_staged;    /* GEMM inputs made by the step before (CPU: rr_gemm_stage) */
    int n_gemm_shapes;             /* gemm_s by layer shape (CPU; the first RR_PROFILE_MAX_SHAPES) */
    rr_gemm_shape_stat_t gemm_shapes[RR_PROFILE_MAX_SHAPES];
    rr_work_t work;
} rr_profile_t;

/* The backend's time split so far (zeros where it does not measure). */
void rr_model_profile(rerank_model_t *m, rr_profile_t *p);

void rr_model_pair_flops(const rerank_model_t *m, int32_t layers, double n, rr_pair_flops_t *f);
/* The same for n tokens that follow `shared` tokens computed elsewhere (a
 * shared prefix): their linear layers and head, and attention of their
 * queries over the shared keys and (causal) the triangle of their own. */
void rr_model_span_flops(const rerank_model_t *m, int32_t layers, double shared, double n, rr_pair_flops_t *f);

/* GFLOP/s of one [m x k] x [k x n] GEMM at `precision`: the same oneDNN
 * matmul primitive the engine uses, timed alone (activations converted or
 * quantized once beforehand, no int8 epilogue), best of `reps` after a
 * warm-up, on `threads`. */
rerank_status_t rr_gemm_ceiling(rerank_precision_t precision, int64_t m, int32_t k, int32_t n, int reps,
                                int threads, double *gflops);
/* The same GEMM with its rows split as rr_gemm_set_row_blocks(row_blocks)
 * says (> 0 always, < 0 never, 0 on AMX only, as the engine runs):
 * bench/gemm_rows. */
rerank_status_t rr_gemm_rate(rerank_precision_t precision, int64_t m, int32_t k, int32_t n, int reps, int threads,
                             int row_blocks, double *gflops);
/* The weight layout a [k x n] layer at `precision` gets on this CPU:
 * "blocked" (oneDNN's brgemm layout, a primitive per M) or "plain";
 * NULL on error. */
const char *rr_gemm_layout(rerank_precision_t precision, int32_t k, int32_t n);

#endif
