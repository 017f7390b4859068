/* blocks.h — the building blocks a model family's forward pass is written
 * in, and the contract every backend (CPU, CUDA) implements them by.
 *
 * A forward pass runs over a packed batch (the tokens of all pairs back to
 * back, no padding). Blocks read and write activation buffers named by
 * rr_act_t; the backend owns them:
 *
 *   RR_ACT_X     the residual stream [tokens, hidden]
 *   RR_ACT_H     a normalized copy of X for pre-norm layers [tokens, hidden]
 *   RR_ACT_CTX   attention output [tokens, heads * head_dim]
 *   RR_ACT_POOL  one row per pair [pairs, hidden] (pooling, head)
 *   RR_ACT_HEAD  one row per pair [pairs, hidden] (head hidden layer)
 *
 * Inside layers, X, H and CTX hold the rows of the current group (whole
 * pairs; see rr_blocks_t.group); outside them (embeddings, head) the group
 * is the whole batch and only X, POOL and HEAD are used. */
#ifndef RR_ENGINE_BLOCKS_H
#define RR_ENGINE_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/bench_api.h" /* rr_profile_t */
#include "model/config.h"
#include "model/weights.h"
#include "rerank.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rr_act {
    RR_ACT_X = 0,
    RR_ACT_H,
    RR_ACT_CTX,
    RR_ACT_POOL,
    RR_ACT_HEAD,
} rr_act_t;

/* What a linear layer does after y = x W^T + b. */
typedef enum rr_epilogue {
    RR_EPI_NONE = 0, /* y  = x W^T + b            */
    RR_EPI_GELU = 1, /* y  = gelu(x W^T + b)      */
    RR_EPI_ACC = 2,  /* y += x W^T + b (residual) */
} rr_epilogue_t;

/* Element-wise activations. */
typedef enum rr_fn {
    RR_FN_NONE = 0,
    RR_FN_GELU, /* exact: x/2 (1 + erf(x / sqrt 2)) */
    RR_FN_SILU, /* x / (1 + exp(-x))                */
    RR_FN_TANH,
} rr_fn_t;

/* A pair's tokens in the packed batch; idx: its place in the batch's pairs.
 * A span with shared > 0 holds only the tokens after the first `shared`
 * ones of its pair: those are the span `parent` (an earlier span, a prefix
 * several pairs of a causal model share), whose keys and values its
 * attention reads before its own (engine/prefix.c). */
typedef struct rr_span {
    int64_t start, n;
    size_t idx;
    int64_t shared; /* tokens before the span's own, computed by its parent; 0: none */
    size_t parent;  /* with shared > 0: the parent's index in sp                    */
} rr_span_t;

/* A packed batch, built by the engine (engine/forward.c). With shared
 * prefixes (rr_blocks_t.shares_prefix), the first n_prefix spans are the
 * prefixes (tokens [0, prefix_tokens) of the batch), `pairs` is the
 * engine's rewritten array (a pair's ids after its prefix; the prefixes
 * after the caller's pairs) and logits of the prefixes go to scratch. */
typedef struct rr_batch {
    const rerank_pair_t *pairs; /* the spans' ids, by rr_span_t.idx        */
    size_t n_pairs;             /* spans (pairs + prefixes)                */
    const rr_span_t *sp;        /* packed order: prefixes, then longest first */
    const int32_t *pos;         /* position id of each packed token        */
    int64_t tokens, max_n;      /* tokens in all; the longest span         */
    size_t n_prefix;            /* spans sp[0, n_prefix) are shared prefixes */
    int64_t prefix_tokens;      /* their tokens                            */
    int64_t max_keys;           /* the most keys of any span (shared + n)  */
} rr_batch_t;

/* Word (+ token type) (+ absolute position) embeddings, then a norm. In
 * that order of addition: (word + type) + position. */
typedef struct rr_embed {
    rr_tensor_t word;       /* [vocab, hidden], checkpoint dtype            */
    rr_tensor_t type;       /* [type_vocab, hidden] or p NULL               */
    rr_tensor_t pos;        /* [positions, hidden] or p NULL                */
    const rr_norm_t *norm;  /* NULL: none                                   */
} rr_embed_t;

/* Rotary position embeddings, rotate-half layout: channel i < d/2 of a head
 * pairs with i + d/2; angle = pos * inv_freq[i]. Tables [positions, d/2]. */
typedef struct rr_rope {
    const float *cos, *sin;
    int32_t dim, positions;
} rr_rope_t;

/* Self-attention from a layer's input to its context rows:
 * q | k | v = src Wqkv^T + b (one GEMM), optional per-head norms of q and
 * k, rotary positions, then per pair and head
 * ctx = softmax(q k^T * scale, masked) v. */
typedef struct rr_attn {
    const rr_dense_t *qkv;       /* [(heads + 2 kv_heads) * head_dim, hidden] */
    int32_t heads, kv_heads, head_dim;
    const rr_norm_t *q_norm;     /* per head, over head_dim (Qwen3); or NULL   */
    const rr_norm_t *k_norm;
    const rr_rope_t *rope;       /* NULL: no rotary positions                  */
    int causal;                  /* query i sees keys j <= i                   */
    int32_t window;              /* > 0: and only |i - j| <= window            */
    float scale;                 /* usually 1 / sqrt(head_dim)                 */
} rr_attn_t;

/* Feed-forward: dst += down(act(up(src))) (gated: act of one half of up's
 * output times the other half). */
typedef enum rr_gate {
    RR_GATE_NONE = 0,  /* act(u)                          */
    RR_GATE_FIRST = 1, /* act(u[:I]) * u[I:]  (GeGLU, SwiGLU as [gate; up]) */
    RR_GATE_SECOND = 2 /* u[:I] * act(u[I:])  (GTE: [up | gate])            */
} rr_gate_t;

typedef struct rr_ffn {
    const rr_dense_t *up;   /* [I, hidden], or [2I, hidden] when gated */
    const rr_dense_t *down; /* [hidden, I]                             */
    rr_fn_t act;
    rr_gate_t gate;
} rr_ffn_t;

/* The last step: logit = sum_j w[j] f(x[j]) + b, in double, for each pair's
 * row x; with two rows, logit = (row 0's) - (row 1's) (e.g. the "yes" and
 * "no" rows of an LM head). */
typedef struct rr_classifier {
    rr_tensor_t w; /* [1 or 2, hidden] F32 */
    rr_tensor_t b; /* [1, rows] or p NULL  */
    rr_fn_t f;     /* NONE or TANH         */
} rr_classifier_t;


typedef struct rr_backend_opts {
    rerank_precision_t precision;
    int device;  /* device index (cuda:N); 0 for the CPU */
    int threads; /* CPU threads the forward pass may use  */
} rr_backend_opts_t;

/* dst += src W^T + b (linear, as RR_EPI_ACC), or dst += ffn(src) (ffn), or
 * neither; then ndst = norm(dst) (ndst may be dst). feeds_gemm: the next
 * block's first GEMM reads ndst (a backend may make that GEMM's input while
 * the rows are in cache). */
typedef struct rr_residual_norm {
    const rr_dense_t *linear;
    const rr_ffn_t *ffn;
    rr_act_t src, dst;
    const rr_norm_t *norm;
    rr_act_t ndst;
    int feeds_gemm;
} rr_residual_norm_t;

typedef struct rr_blocks {
    const char *name; /* "cpu", "cuda" */

    /* Lifetime. create prepares every linear layer of w (w->dense) at
     * o->precision and may drop the F32 copies it no longer reads
     * (rr_weights_drop_dense); cfg and w outlive the backend. */
    rerank_status_t (*create)(const rr_config_t *cfg, rr_weights_t *w, const rr_backend_opts_t *o, void **be);
    void (*destroy)(void *be); /* NULL-safe */
    /* What the linear layers compute in ("fp32", "bf16", "int8", "fp16", ...). */
    const char *(*compute)(const void *be);
    /* Time spent so far (NULL: the backend does not measure it). */
    void (*profile)(const void *be, rr_profile_t *p);
    /* Tokens per layer group (0: the whole batch in one group). */
    int64_t (*group_tokens)(const void *be);
    /* Bytes held on the device (NULL: none, a CPU backend). */
    size_t (*memory_used)(const void *be);
    /* 0 after a fault that poisons the backend (NULL: always healthy). */
    int (*healthy)(const void *be);

    /* One forward pass: begin, blocks, end (end also after a failure). */
    rerank_status_t (*begin)(void *be, const rr_batch_t *b, int64_t group_max);
    /* Pairs sp[p0, p1) are the current group (rows of X, H, CTX). */
    void (*group)(void *be, size_t p0, size_t p1);
    rerank_status_t (*end)(void *be);

    /* X = norm(word[id] + type[t] + pos[p]) for every token. */
    rerank_status_t (*embed)(void *be, const rr_embed_t *e);
    /* dst = norm(src), row by row (dst may be src). */
    rerank_status_t (*norm)(void *be, const rr_norm_t *n, rr_act_t src, rr_act_t dst);
    /* dst = epi(src W^T + b). */
    rerank_status_t (*linear)(void *be, const rr_dense_t *d, rr_act_t src, rr_act_t dst, rr_epilogue_t epi);
    /* dst (CTX) = attention(src), see rr_attn_t. */
    rerank_status_t (*attention)(void *be, const rr_attn_t *a, rr_act_t src, rr_act_t dst);
    /* dst += down(act(up(src))). */
    rerank_status_t (*ffn)(void *be, const rr_ffn_t *f, rr_act_t src, rr_act_t dst);
    /* Optional (NULL: the engine calls linear or ffn, then norm): a residual
     * step and the norm after it, in one pass over the rows where the
     * backend can (see rr_residual_norm_t). */
    rerank_status_t (*residual_norm)(void *be, const rr_residual_norm_t *r);
    /* POOL = one row per pair of X: its first or last token, or the mean. */
    rerank_status_t (*pool)(void *be, rr_pooling_t how);
    /* logits[pair's idx] from its row of src (POOL or HEAD). */
    rerank_status_t (*classify)(void *be, const rr_classifier_t *c, rr_act_t src, float *logits);

    /* 1: its attention reads a span's shared prefix from its parent span
     * (rr_span_t.shared), so the engine may pack shared prefixes once. */
    int shares_prefix;

    /* Optional (NULL: end waits for the device): end the pass without
     * waiting for it. The logits of the batch's own spans (not its
     * prefixes) reach out[sp.idx] when wait(*ticket) returns; *ticket is
     * NULL when there is nothing to wait for (an empty or failed pass).
     * Between the two the engine may run other passes: wait touches only
     * the ticket, so the engine calls it without its model lock, and the
     * device computes pass k while the host prepares pass k + 1. The
     * thread that ended a pass waits for it, once, before ending another
     * (a backend holds a few tickets; end_async blocks until one is free). */
    rerank_status_t (*end_async)(void *be, float *out, void **ticket);
    rerank_status_t (*wait)(void *be, void *ticket);
} rr_blocks_t;

extern const rr_blocks_t rr_blocks_cpu;  /* src/cpu/            */
extern const rr_blocks_t rr_blocks_cuda; /* src/cuda/ (a stub without CUDA) */

#ifdef __cplusplus
}
#endif
#endif
