/* cpu.h — state of the CPU backend: every linear layer at the chosen
 * precision (oneDNN), the grow-only activation buffers and the pass under
 * way. cpu_backend.c creates it; cpu_blocks.c and cpu_attention.c implement
 * the blocks. */
#ifndef RR_CPU_CPU_H
#define RR_CPU_CPU_H

#include "cpu/gemm.h"
#include "cpu/scratch.h"
#include "engine/blocks.h"

/* A layer runs over groups of whole pairs of about this many tokens per
 * thread, one group after another: a group's GEMM outputs ([n, 4H] floats
 * for the FFN) and attention inputs stay in the caches instead of
 * streaming through memory. That pays where the GEMM is fast next to its
 * output traffic (int8, bf16); fp32 GEMMs gain more from a large M (the
 * measurements are in the README, "Layer groups"). */
#define RR_GROUP_TOKENS_PER_THREAD 512
#define RR_GROUP_TOKENS_PER_THREAD_FP32 4096

typedef struct rr_scratch {
    rr_buf_t x;     /* hidden states [tokens, H]                          */
    rr_buf_t h;     /* one group's normalized copy [n, H] (pre-norm; grown on first use) */
    rr_buf_t wide;  /* one group's projections [n, widest layer]: q|k|v, FFN */
    rr_buf_t ctx;   /* one group's attention output [n, heads * head_dim]  */
    rr_buf_t attn;  /* per thread: rr_attend's workspace + copied q/k/v rows (cpu_attention.c) */
    rr_buf_t stash; /* the current layer's keys | values of the shared prefixes [kv_heads, prefix tokens, d] each */
    rr_buf_t pool;  /* one row per pair [P, H]                            */
    rr_buf_t head;  /* one row per pair [P, H]                            */
} rr_scratch_t;

typedef struct rr_cpu {
    const rr_config_t *cfg;
    rr_weights_t *w;
    rr_gemm_t *gemm;
    rr_linear_t *lin;      /* [w->n_dense], by rr_dense_t.id */
    rerank_precision_t prec; /* what the (non-head) layers compute in */
    int64_t widest;        /* the largest `out` of any linear layer */
    rr_scratch_t s;
    const rr_batch_t *b;   /* the forward pass under way */
    int64_t group_max;     /* its largest group's tokens              */
    size_t p0, p1;         /* its current group: pairs sp[p0, p1)     */
    int64_t t0, n;         /* the group's first token and token count */
    double attention_s;    /* time spent so far (rr_profile_t)        */
    double attention_local_s;           /* of which in windowed layers */
    int64_t attention_calls, attention_local_calls;
} rr_cpu_t;

/* The blocks (cpu_blocks.c; attention: cpu_attention.c), as rr_blocks_t
 * declares them. */
rerank_status_t rr_cpu_embed(void *be, const rr_embed_t *e);
rerank_status_t rr_cpu_norm(void *be, const rr_norm_t *n, rr_act_t src, rr_act_t dst);
rerank_status_t rr_cpu_linear(void *be, const rr_dense_t *d, rr_act_t src, rr_act_t dst, rr_epilogue_t epi);
rerank_status_t rr_cpu_attention(void *be, const rr_attn_t *a, rr_act_t src, rr_act_t dst);
rerank_status_t rr_cpu_ffn(void *be, const rr_ffn_t *f, rr_act_t src, rr_act_t dst);
rerank_status_t rr_cpu_residual_norm(void *be, const rr_residual_norm_t *r);
rerank_status_t rr_cpu_pool(void *be, rr_pooling_t how);
rerank_status_t rr_cpu_classify(void *be, const rr_classifier_t *c, rr_act_t src, float *logits);

#endif
