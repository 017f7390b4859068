/* cpu.h — state of the CPU backend: the linear layers at the chosen
 * precision, the oneDNN context and the grow-only scratch buffers. */
#ifndef RR_ENGINE_CPU_H
#define RR_ENGINE_CPU_H

#include "engine/backend.h"
#include "engine/gemm.h"
#include "engine/scratch.h"

/* Query rows per attention block: one block's scores (QB x n) per thread. */
#define RR_ATTN_QB 64
/* Floats of attention scratch per thread for head size d and n16 keys:
 * key panels, q, k and v rows [n16, d] each, one block of scores. */
#define RR_ATTN_SCRATCH(d, n16) ((4 * (d) + RR_ATTN_QB) * (n16))

/* A layer runs over groups of whole pairs of about this many tokens per
 * thread, one group after another: a group's GEMM outputs ([n, 4H] floats
 * for the FFN) and attention inputs stay in the caches instead of
 * streaming through memory. That pays where the GEMM is fast next to its
 * output traffic (int8, bf16); fp32 GEMMs gain more from a large M.
 * Full-size XLM-R, 2 threads, `rerank bench` one run each, rebuilt with
 * other values: W1 int8, one 8192-token group 5.00 pairs/s; 2048 per
 * thread 5.13; 1024: 5.17-5.20; 512: 5.25-5.40; 256: 5.26-5.29. bf16 W2,
 * 512: 0.917, 4096: 0.902. fp32 W2, 512: 1.525, 4096: 1.645; W1 1.849 vs
 * 1.874. */
#define RR_GROUP_TOKENS_PER_THREAD 512
#define RR_GROUP_TOKENS_PER_THREAD_FP32 4096

typedef struct rr_cpu_layer {
    rr_linear_t qkv;       /* [3H, H]: query, key, value rows stacked (one GEMM) */
    float *qkv_w;          /* fp32: the stacked weights qkv views (owned); else NULL */
    float *qkv_b;          /* the stacked biases [3H] (owned)                 */
    rr_linear_t attn_out;  /* [H, H] */
    rr_linear_t ffn_up;    /* [I, H] */
    rr_linear_t ffn_down;  /* [H, I] */
} rr_cpu_layer_t;

typedef struct rr_scratch {
    rr_buf_t x;          /* hidden states [tokens, H]                     */
    rr_buf_t qkv;        /* one group's attention projections [n, 3H]: q | k | v */
    rr_buf_t ctx;        /* one group's attention output [n, H]           */
    rr_buf_t ffn;        /* one group's FFN intermediate [n, I]           */
    rr_buf_t attn;       /* per thread: RR_ATTN_SCRATCH floats            */
    rr_buf_t pairs;      /* per pair: start offset + length               */
    rr_buf_t head;       /* first-token states and head hidden [P, H] x 2 */
} rr_scratch_t;

typedef struct rr_cpu {
    const rr_config_t *cfg;
    const rr_weights_t *w;
    rr_gemm_t *gemm;
    rr_cpu_layer_t *layer; /* [layers] */
    rr_linear_t head_dense; /* always fp32 */
    rr_scratch_t s;
    double forward_s, attention_s; /* time spent so far (rr_profile_t) */
} rr_cpu_t;

rerank_status_t rr_cpu_forward(void *ctx, const rerank_pair_t *pairs, size_t n_pairs, int32_t layers,
                               float *logits);

#endif
