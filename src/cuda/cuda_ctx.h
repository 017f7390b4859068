/* cuda_ctx.h — the CUDA backend's state (struct rr_cuda, the rr_blocks_cuda state) and the files built on
 * it, each depending only on those above it:
 *   cuda_errors.cu   failures as rerank errors, health after a fault
 *   cuda_weights.cu  device memory, the linear layers uploaded at create, the other tensors on first use
 *   cuda_blocks.cu   the blocks of engine/blocks.h: each records one step of the pass (validated there)
 *   cuda_pass.cu     the recorded steps of one chunk lowered to kernels and GEMMs on the stream
 *   cuda_graph.cu    the same captured as CUDA graphs for small chunks
 *   cuda_chunks.cu   a packed batch cut into device chunks (whole spans, with the prefixes they read)
 *   cuda_forward.cu  end of a pass: chunks copied in and run, workspace, logits
 *   cuda_context.cu  create / destroy / queries, and rr_blocks_cuda itself
 *   cuda_trace.cu    rr_cuda_trace: the blocks and the lowering without a device (tests)
 * C++ (nvcc) only. */
#ifndef RR_CUDA_CTX_H
#define RR_CUDA_CTX_H

#include <pthread.h>

#include "cuda/cuda_internal.h"
#include "engine/blocks.h"

/* A linear layer on the device (by rr_dense_t.id): W in the GEMM input type (fp32 for a head layer the
 * family keeps in fp32), its bias in fp32 and in the activation type (for the GEMM epilogue). */
typedef struct rr_cu_dense {
    rr_cu_linear_t L;   /* w, w_scale, out, in, in_dt; out_dt / bias set per use */
    float *b32;         /* [out] fp32                                            */
    void *bdt;          /* [out] activation type (NULL for an fp32 layer)        */
    int fp32;           /* kept in fp32 (rr_dense_t.keep_fp32): read by the head kernel */
} rr_cu_dense_t;

/* One recorded block call. */
typedef enum rr_cu_op_kind {
    RR_OP_EMBED = 0,
    RR_OP_NORM,
    RR_OP_LINEAR,
    RR_OP_ATTN,
    RR_OP_FFN,
    RR_OP_POOL,
    RR_OP_CLASSIFY,
} rr_cu_op_kind_t;

typedef struct rr_cu_op {
    rr_cu_op_kind_t kind;
    const void *desc;    /* rr_embed_t, rr_norm_t, rr_dense_t, rr_attn_t, rr_ffn_t or rr_classifier_t */
    rr_act_t src, dst;
    int arg;             /* rr_epilogue_t (LINEAR), rr_pooling_t (POOL), rr_cu_head_kind_t (CLASSIFY) */
} rr_cu_op_t;

/* Which head a classify step runs (cuda_blocks.cu, rr_cu_classify): BERT / XLM-R's (rr_cu_head) or the
 * pooled head kernel (rr_cu_pool_head: Qwen3, ModernBERT). */
typedef enum rr_cu_head_kind { RR_CU_HEAD_BERT = 0, RR_CU_HEAD_POOLED = 1 } rr_cu_head_kind_t;

/* The steps of a head, read back from the tape ending at the classify step `at`: pool, an optional dense
 * layer (POOL to HEAD) and an optional norm (in place). */
typedef struct rr_cu_head_steps {
    const rr_cu_op_t *pool;
    const rr_dense_t *dense; /* NULL: none */
    int epi;                 /* its rr_epilogue_t */
    const rr_norm_t *norm;   /* NULL: none */
} rr_cu_head_steps_t;
/* 1 and *h if the steps before tape[at] are a head's, else 0. */
int rr_cu_head_steps(const rr_cu_op_t *tape, size_t at, rr_cu_head_steps_t *h);

/* Device tensors uploaded on first use, by host address and type (open addressing). */
typedef struct rr_cu_tmap {
    const void **key;
    int *dt;
    void **val;
    size_t cap, n;
} rr_cu_tmap_t;

/* Device buffers of one chunk of up to cap_tokens tokens / cap_pairs pairs. */
typedef struct rr_cu_ws {
    size_t cap_tokens, cap_pairs;
    void *base;          /* one cudaMalloc holding the buffers below                          */
    size_t bytes;
    int32_t *d_in;       /* ids [T] | types [T] | positions [T] | cu [P+1] | pre [2P] (cuda_chunks.cu) */
    float *x32;          /* [T, H] residual stream (X)                                        */
    float *y32;          /* [T, H] output of a residual linear layer, added by the next norm   */
    void *xh;            /* [T, xh_cols] GEMM input: X or H in wdt, E4M3 ctx / FFN activations */
    float *xs;           /* [T] row scales of xh (fp8 mode)                                   */
    void *wide;          /* [T, wide_cols] dt: q | k | v, FFN up                              */
    void *ctx;           /* [T, heads * head_dim] dt: attention output (CTX)                  */
    float *d_logits;     /* [P]                                                               */
} rr_cu_ws_t;

/* A pass ended without waiting (rr_blocks_t.end_async): its logits on their way to pinned memory, and where
 * they go once the copy is done (wait). */
typedef struct rr_cu_ticket {
    int busy;            /* taken by a pass not yet waited for (under rr_cuda.mu)           */
    cudaEvent_t done;    /* recorded after the pass's last copy out                          */
    float *h_logits;     /* pinned [cap]: the pass's logits in packed order                  */
    size_t cap;
    size_t *idx;         /* [cap_idx]: out index of h_logits[first + i], i < n               */
    size_t cap_idx, first, n;
    float *out;
} rr_cu_ticket_t;

/* Passes in flight at once: the server runs two batches at a time on a GPU (one computing, the next queued
 * behind it); more only hold pinned memory. A pass that finds none free waits for one (end_async). */
#define RR_CU_TICKETS 4

#define RR_CU_GRAPHS 16             /* captured forward passes kept (least recently used goes) */
#define RR_CU_GRAPH_MAX_TOKENS 2048 /* larger chunks run without a graph                       */

typedef struct rr_cu_graph {
    int64_t T, P;        /* bucketed shape; T = 0: empty slot */
    int32_t max_n;
    uint64_t sig;        /* the recorded steps (rr_cu_tape_sig) */
    cudaGraphExec_t exec;
    unsigned long used;  /* LRU stamp */
} rr_cu_graph_t;

struct rr_cuda {
    int device;
    char name[256];
    int cc_major, cc_minor;
    rr_cu_dtype_t dt;   /* activations, attention: F16 / BF16                     */
    rr_cu_dtype_t wdt;  /* GEMM inputs and weights: dt, or E4M3 (fp8)             */
    rr_cu_dtype_t res_dt; /* residual GEMM outputs: F32, or dt where FP8 has no fp32 output */
    rerank_precision_t precision;
    int fp8_tensor;     /* fp8 weights: 1 = one scale per tensor, 0 = per output channel */
    const rr_config_t *cfg;
    int32_t xh_cols, wide_cols, ctx_cols; /* widths of the workspace matrices      */
    cudaStream_t stream;
    rr_cu_gemm_t gemm;
    rr_cu_attn_impl_t attn_impl;
    int healthy;        /* 0 after a sticky device error (atomic: read without the model lock) */
    char fault[256];    /* that error (written under mu, before healthy turns 0)  */
    size_t dev_bytes;   /* device memory held (weights, workspaces)               */
    size_t chunk_tokens; /* most tokens per device pass; halved when memory runs out */
    size_t ws_limit;    /* RERANK_CUDA_WORKSPACE_MB in bytes (0: none): larger workspaces count as out of memory */
    int use_graphs;     /* RERANK_CUDA_GRAPHS=0 disables                          */
    long launches;      /* kernels (not GEMMs: c->gemm counts those) and graph launches so far */

    /* weights (device) */
    rr_cu_dense_t *dense; /* [n_dense], by rr_dense_t.id                           */
    int32_t n_dense;
    rr_cu_tmap_t tmap;
    void **allocs;      /* every cudaMalloc of the weights, for free            */
    size_t *alloc_bytes;
    size_t n_allocs, cap_allocs;

    /* the pass under way */
    const rr_batch_t *b;
    int32_t pos_max;    /* the batch's largest position id (rotary tables must cover it) */
    rr_cu_op_t *tape;
    size_t n_ops, cap_ops;
    float *logits;      /* where classify writes (the caller's array, by pair idx) */
    int failed;         /* a block call failed: end runs nothing                  */

    rr_cu_ws_t ws;
    int32_t *h_in[2];   /* pinned, double-buffered packed input (chunk k uses k & 1) */
    size_t h_in_cap;    /* int32 values each                                     */
    cudaEvent_t in_done[2]; /* the copy out of h_in[i] finished                    */
    /* passes ended, not yet waited for (their waits run without the model lock: mu guards the tickets'
     * busy flags and the health) */
    rr_cu_ticket_t tk[RR_CU_TICKETS];
    pthread_mutex_t mu;
    pthread_cond_t tk_free;
    int mu_ready;
    int32_t *chunk_mark; /* [chunk_mark_cap] scratch of the chunking (all zero)  */
    size_t chunk_mark_cap;

    rr_cu_graph_t graph[RR_CU_GRAPHS];
    unsigned long graph_clock;

    char *trace;        /* rr_cuda_trace: the launches a traced chunk would make */
    size_t trace_cap, trace_len;
};

/* Whether a linear layer has a bias to add: the checkpoint's, not the zeros the weights give a layer
 * without one (decoders), which the GPU skips. */
static inline int rr_cu_has_bias(const rr_dense_t *d) {
    const float *b = (const float *)d->b.p;
    if (!b) return 0;
    for (int32_t i = 0; i < d->w.rows; i++)
        if (b[i] != 0.0f) return 1;
    return 0;
}

/* A rotary table (cos, or sin) as a tensor [positions, dim / 2] fp32, uploaded and found by its host
 * address; an empty tensor without rotary positions (r NULL). */
static inline rr_tensor_t rr_cu_rope_table(const rr_rope_t *r, int sin) {
    rr_tensor_t t = {};
    if (r) t.p = sin ? r->sin : r->cos, t.rows = r->positions, t.cols = r->dim / 2, t.dtype = RR_DT_F32;
    return t;
}

/* cuda_errors.cu: after a failure, find out whether the device hit a sticky error (the context is then
 * unusable: healthy = 0, fault says why). Returns st. */
rerank_status_t rr_cu_note_failure(rr_cuda_t *c, rerank_status_t st);

/* cuda_weights.cu: cudaMalloc counted in c->dev_bytes (out of memory: RERANK_ERR_NOMEM naming `what`). */
rerank_status_t rr_cu_malloc(rr_cuda_t *c, void **p, size_t bytes, const char *what);
void rr_cu_free(rr_cuda_t *c, void *p, size_t bytes);
/* Upload every linear layer of w (w->dense) at c->wdt and drop the host copies. */
rerank_status_t rr_cu_upload_dense(rr_cuda_t *c, rr_weights_t *w);
/* Tensor t on the device in type dt (F32, or F16 / BF16 for an embedding table): uploaded the first time
 * (rr_cu_tensor_put; `what` names it in errors), found afterwards (rr_cu_tensor_get: NULL if never put). */
rerank_status_t rr_cu_tensor_put(rr_cuda_t *c, const rr_tensor_t *t, rr_cu_dtype_t dt, const char *what);
void *rr_cu_tensor_get(const rr_cuda_t *c, const rr_tensor_t *t, rr_cu_dtype_t dt);
void rr_cu_free_weights(rr_cuda_t *c);

/* cuda_blocks.cu: the blocks (as rr_blocks_t declares them). */
rerank_status_t rr_cu_begin(void *be, const rr_batch_t *b, int64_t group_max);
void rr_cu_group(void *be, size_t p0, size_t p1);
rerank_status_t rr_cu_embed(void *be, const rr_embed_t *e);
rerank_status_t rr_cu_norm_block(void *be, const rr_norm_t *n, rr_act_t src, rr_act_t dst);
rerank_status_t rr_cu_linear_block(void *be, const rr_dense_t *d, rr_act_t src, rr_act_t dst, rr_epilogue_t epi);
rerank_status_t rr_cu_attention_block(void *be, const rr_attn_t *a, rr_act_t src, rr_act_t dst);
rerank_status_t rr_cu_ffn(void *be, const rr_ffn_t *f, rr_act_t src, rr_act_t dst);
rerank_status_t rr_cu_pool(void *be, rr_pooling_t how);
rerank_status_t rr_cu_classify(void *be, const rr_classifier_t *cl, rr_act_t src, float *logits);
/* A hash of the recorded steps: the same steps give the same graph. */
uint64_t rr_cu_tape_sig(const rr_cuda_t *c);

/* cuda_pass.cu: the recorded steps on one chunk on c->stream, reading the packed input in c->ws.d_in: T
 * tokens, P sequences (cu [P+1], pre [2P]), max_n the longest. dry 1: only choose the GEMM plans (before a capture);
 * dry 2: no CUDA call at all, each launch is named in c->trace (rr_cuda_trace). */
rerank_status_t rr_cu_run_chunk(rr_cuda_t *c, int64_t T, int64_t P, int32_t max_n, int dry);

/* cuda_graph.cu: chunks of up to RR_CU_GRAPH_MAX_TOKENS tokens run as captured CUDA graphs, one per bucketed
 * shape and recorded steps (rr_cu_graph_bucket: T, P, max_n rounded up; the caller packs the padding: extra
 * tokens outside every pair, extra pairs empty). */
int rr_cu_graph_bucket(const rr_cuda_t *c, int64_t T, int64_t P, int32_t max_n, int64_t *bT, int64_t *bP,
                       int32_t *bmax_n);
rerank_status_t rr_cu_graph_run(rr_cuda_t *c, int64_t bT, int64_t bP, int32_t bmax_n);
void rr_cu_graphs_clear(rr_cuda_t *c);

/* cuda_context.cu: the types a precision computes in (int8: RERANK_ERR_UNSUPPORTED); what the device path
 * refuses at load (config.json tells). */
rerank_status_t rr_cu_precision_types(rerank_precision_t p, rr_cu_dtype_t *dt, rr_cu_dtype_t *wdt);
rerank_status_t rr_cu_check_config(const rr_config_t *cfg);
/* cuda_weights.cu: the workspace widths from the uploaded layers (xh takes any GEMM input, wide any 16-bit
 * GEMM output). */
void rr_cu_size_workspace(rr_cuda_t *c);

/* cuda_chunks.cu: a packed batch cut into device chunks, and one chunk's input laid out (the layout is there).
 * A chunk: spans [a, e) of the batch (after its prefixes: chunks start at b->n_prefix) and, first, the
 * n_pre prefix spans they read; P = n_pre + e - a sequences, `tokens` tokens in all, the longest max_n.
 * mark: b->n_prefix values, all zero before and after each call. */
typedef struct rr_cu_chunk {
    size_t a, e, n_pre, tokens;
    int32_t max_n;
} rr_cu_chunk_t;
/* The chunk that starts at span a: whole spans while the tokens (their prefixes counted) fit in cap, at
 * least one. */
void rr_cu_chunk_next(const rr_batch_t *b, size_t a, size_t cap, int32_t *mark, rr_cu_chunk_t *ch);
/* ch's input for T >= ch->tokens tokens and P >= its sequences, into h: 3 T + 3 P + 1 values. */
void rr_cu_chunk_pack(const rr_batch_t *b, const rr_cu_chunk_t *ch, size_t T, size_t P, int32_t *mark, int32_t *h);
#define RR_CU_IN_VALUES(T, P) (3 * (size_t)(T) + 3 * (size_t)(P) + 1)

/* cuda_forward.cu: the end of a pass (rr_blocks_t.end, or end_async then wait), and the chunk workspace
 * (device and pinned host). */
rerank_status_t rr_cu_end(void *be);
rerank_status_t rr_cu_end_async(void *be, float *out, void **ticket);
rerank_status_t rr_cu_wait(void *be, void *ticket);
/* Every tensor the recorded steps name, uploaded if not yet there (the start of end). */
rerank_status_t rr_cu_resolve(rr_cuda_t *c);
void rr_cu_ws_release(rr_cuda_t *c);
/* The tickets' lock and condition (mu, tk_free): made at create, destroyed at free (NULL-safe: mu_ready). */
rerank_status_t rr_cu_tickets_init(rr_cuda_t *c);
void rr_cu_tickets_destroy(rr_cuda_t *c);
/* Everything the passes allocated: the workspace, the pinned inputs and tickets' logits (device 1: the
 * device is usable, so these can be given back), the tickets' index arrays and the chunking's scratch. */
void rr_cu_pass_buffers_free(rr_cuda_t *c, int device);

#endif
