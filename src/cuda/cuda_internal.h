/* cuda_internal.h — shared by the .cu files of src/cuda: error helpers and the building blocks (one launch
 * function per concern, usable on their own by a model family's block). C++ (nvcc) only. */
#ifndef RR_CUDA_INTERNAL_H
#define RR_CUDA_INTERNAL_H

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "common/alloc.h"
#include "model/config.h"
#include "model/weights.h"
/* common/error.h uses C11 _Noreturn, which C++ lacks: declare what we use. */
rerank_status_t rr_error(rerank_status_t status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rr_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
}
#include "cuda/cuda_backend.h"

/* A CUDA runtime call that failed becomes RERANK_ERR_NOMEM (out of device memory) or RERANK_ERR_INTERNAL
 * "cuda: <call>: <message>"; the enclosing function returns it. */
rerank_status_t rr_cu_fail(cudaError_t e, const char *call);
rerank_status_t rr_cublas_fail(cublasStatus_t s, const char *call);
#define CU(call)                                                   \
    do {                                                           \
        cudaError_t e_ = (call);                                   \
        if (e_ != cudaSuccess) return rr_cu_fail(e_, #call);       \
    } while (0)
#define CUBLAS(call)                                                     \
    do {                                                                 \
        cublasStatus_t s_ = (call);                                      \
        if (s_ != CUBLAS_STATUS_SUCCESS) return rr_cublas_fail(s_, #call); \
    } while (0)
/* After a kernel launch: configuration errors surface here. */
#define CU_LAUNCHED(what) CU(cudaGetLastError())

/* Element types. E4M3 (FP8) matrices carry one float scale per row (value = byte * scale). */
typedef enum rr_cu_dtype { RR_CU_F16 = 0, RR_CU_BF16 = 1, RR_CU_F32 = 2, RR_CU_E4M3 = 3 } rr_cu_dtype_t;

static inline size_t rr_cu_dtype_size(rr_cu_dtype_t t) { return t == RR_CU_F32 ? 4 : t == RR_CU_E4M3 ? 1 : 2; }
static inline cudaDataType_t rr_cu_cuda_type(rr_cu_dtype_t t) {
    return t == RR_CU_F16 ? CUDA_R_16F : t == RR_CU_BF16 ? CUDA_R_16BF : t == RR_CU_E4M3 ? CUDA_R_8F_E4M3 : CUDA_R_32F;
}

/* Sub-allocations are aligned to 256 bytes: cuBLASLt's heuristics assume it
 * (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES default to 256). */
#define RR_CU_ALIGN 256
static inline size_t rr_cu_align(size_t n) { return (n + RR_CU_ALIGN - 1) & ~(size_t)(RR_CU_ALIGN - 1); }

/* A row-major matrix [rows, cols] on the device; E4M3 matrices have scale[rows]. */
typedef struct rr_cu_mat {
    void *data;
    rr_cu_dtype_t dt;
    float *scale;
} rr_cu_mat_t;

/* ---- linear layers (cuda_gemm.cu) -------------------------------------------------------------------- */

/* y [n, out] = x [n, in] W^T (+ bias), W [out, in] row-major (PyTorch layout), x and W of one type: fp16 /
 * bf16, or E4M3 with per-row scales on both (w_scale[out] per output channel, x's per token), accumulated in
 * fp32; y fp16 / bf16 (with an optional bias of that type) or fp32 (no bias). */
typedef struct rr_cu_linear {
    const void *w;
    const float *w_scale; /* E4M3 only */
    const void *bias;     /* [out] of out_dt, or NULL; not with an fp32 y */
    int32_t out, in;
    rr_cu_dtype_t in_dt, out_dt;
} rr_cu_linear_t;

#define RR_GEMM_CACHE 64 /* (shape, types, tokens) combinations remembered */

typedef struct rr_cu_plan {
    int64_t n; /* tokens; 0 = empty slot */
    int32_t out, in;
    rr_cu_dtype_t in_dt, out_dt;
    int bias;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, c; /* W, x, y (C == D) */
    cublasLtMatmulAlgo_t algo;
} rr_cu_plan_t;

typedef struct rr_cu_gemm {
    cublasLtHandle_t lt;
    void *ws;        /* cuBLASLt workspace */
    size_t ws_size;
    int fp8_fast;    /* CUBLASLT_MATMUL_DESC_FAST_ACCUM for E4M3 (RERANK_CUDA_FP8_FAST=1) */
    rr_cu_plan_t plan[RR_GEMM_CACHE];
    int next;
    long launches;   /* cublasLtMatmul calls so far */
} rr_cu_gemm_t;

rerank_status_t rr_cu_gemm_init(rr_cu_gemm_t *g);
void rr_cu_gemm_destroy(rr_cu_gemm_t *g);
/* Choose (and cache) the algorithm for L at n tokens without running it: a shape / type combination the
 * library cannot run fails here (RERANK_ERR_UNSUPPORTED). */
rerank_status_t rr_cu_gemm_prepare(rr_cu_gemm_t *g, const rr_cu_linear_t *L, int64_t n);
rerank_status_t rr_cu_linear(rr_cu_gemm_t *g, const rr_cu_linear_t *L, int64_t n, const rr_cu_mat_t *x, void *y,
                             cudaStream_t s);

/* ---- row kernels (cuda_rows.cu; bodies in rows.cuh) ----------------------------------------------------- */

typedef enum rr_cu_act { RR_ACT_GELU = 0, RR_ACT_GELU_TANH = 1, RR_ACT_SILU = 2 } rr_cu_act_t;

/* A normalization layer: LayerNorm (gamma, beta) or RMSNorm (gamma; beta NULL). */
typedef struct rr_cu_norm {
    const float *gamma, *beta;
    float eps;
    int rms;
} rr_cu_norm_t;

/* Widest row the row kernels take (values; a multiple of 8). */
#define RR_CU_MAX_ROW 32768

/* x = norm(x + y + bias) (post-norm; prenorm = 0) or x += y + bias, out = norm(x) (prenorm = 1); y (fp32,
 * fp16 or bf16: y_dt) and bias (fp32) optional; out [rows, w] fp16 / bf16, or E4M3 with a scale per row.
 * One pass, one block per row. */
rerank_status_t rr_cu_add_norm(const rr_cu_norm_t *nm, float *x, const void *y, rr_cu_dtype_t y_dt, const float *bias,
                               int prenorm, int64_t rows, int32_t w, const rr_cu_mat_t *out, cudaStream_t s);
/* out = act(y + bias) or, gated (1), act(y1 + b1) * (y2 + b2) for y = [y1 | y2] ([rows, 2w]), or gated 2
 * (GTE's [up | gate]) (y1 + b1) * act(y2 + b2); y fp16 / bf16,
 * bias fp32 (or NULL), out [rows, w] of y's type (may be y when not gated) or E4M3 with row scales. */
rerank_status_t rr_cu_bias_act(const void *y, rr_cu_dtype_t y_dt, const float *bias, rr_cu_act_t act, int gated,
                               int64_t rows, int32_t w, const rr_cu_mat_t *out, cudaStream_t s);
/* out (E4M3, scale per row) = x [rows, w] (fp16 / bf16 / fp32); fixed_scale > 0 uses that scale for every
 * row (per-tensor), else each row's amax / 448. */
rerank_status_t rr_cu_quantize_rows(const void *x, rr_cu_dtype_t x_dt, int64_t rows, int32_t w, float fixed_scale,
                                    const rr_cu_mat_t *out, cudaStream_t s);
/* Token embeddings: x = word[ids] + type[types] + pos[positions] (word fp16 / bf16, the others fp32; either
 * table may be NULL), then the embedding LayerNorm (post-norm: x keeps the normalized row; nm NULL: no norm,
 * x and out get the sum), out as in rr_cu_add_norm. */
typedef struct rr_cu_embed {
    const int32_t *ids, *types, *pos;
    const void *word;
    rr_cu_dtype_t word_dt;
    const float *pemb, *temb;
} rr_cu_embed_t;
rerank_status_t rr_cu_embed_norm(const rr_cu_embed_t *e, const rr_cu_norm_t *nm, float *x, int64_t rows, int32_t w,
                                 const rr_cu_mat_t *out, cudaStream_t s);
/* The q and k heads of the fused projection qkv [rows, (heads + 2 kv_heads) d] (fp16 / bf16), in place:
 * per-head RMSNorm (q_gamma / k_gamma [d], either NULL: none), then rotary positions at pos[rows] (cos /
 * sin [positions, d / 2], NULL: none). d even, at most 256. One block per token, a warp per head. */
typedef struct rr_cu_qk {
    int32_t heads, kv_heads, head_dim;
    const float *q_gamma, *k_gamma;
    float eps;
    const float *cos, *sin;
} rr_cu_qk_t;
rerank_status_t rr_cu_qk_norm_rope(void *qkv, rr_cu_dtype_t dt, const int32_t *pos, int64_t rows, const rr_cu_qk_t *q,
                                   cudaStream_t s);
/* dst[i] = convert(src[i]): n raw elements of checkpoint dtype src_dt (RR_DT_F32/F16/BF16) to dst_dt. */
rerank_status_t rr_cu_convert(const void *src, int src_dt, void *dst, rr_cu_dtype_t dst_dt, size_t n,
                              cudaStream_t s);
/* Sequence classification head: logits[p] = out_b + out_w . tanh(head_w x[cu[p]] + head_b) (fp32), 0 for an
 * empty sequence (cu[p] == cu[p+1]). */
rerank_status_t rr_cu_head(const float *x, const int32_t *cu, int64_t P, int32_t hidden, const float *head_w,
                           const float *head_b, const float *out_w, const float *out_b, float *logits,
                           cudaStream_t s);

/* A reranker's head (all fp32), per pair (cu [P+1]): its first or last token's row of x, or the mean of its
 * rows (pool: 0 first, 1 last, 2 mean), each + y + bias (a pending residual of type y_dt: F32 / F16 / BF16;
 * y NULL: none); an optional dense layer dw [hidden, hidden] + db with exact GELU (dgelu) or none; an
 * optional norm (nm NULL: none); then logit = cw[0] . f(v) + cb[0], minus cw[1] . f(v) + cb[1] when rows
 * is 2 (cb may be NULL), f = tanh (ctanh) or identity; 0 for an empty pair. Qwen3 (last token, norm, yes -
 * no), ModernBERT (mean / first, dense + GELU, norm). A dense head takes hidden <= RR_CU_HEAD_MAX_DENSE. */
#define RR_CU_HEAD_MAX_DENSE 4096
typedef struct rr_cu_pool_head {
    const float *x;
    const void *y;
    rr_cu_dtype_t y_dt;
    const float *bias;
    const int32_t *cu;
    int pool;
    const float *dw, *db;
    int dgelu;
    const rr_cu_norm_t *nm;
    int ctanh;
    const float *cw, *cb;
    int32_t rows;
} rr_cu_pool_head_t;
rerank_status_t rr_cu_pool_head(const rr_cu_pool_head_t *h, int64_t P, int32_t hidden, float *logits, cudaStream_t s);

/* ---- attention (cuda_flash.cu; legacy kernels in cuda_attention_legacy.cu) --------------------------- */

typedef struct rr_cu_attn {
    int32_t heads, kv_heads, head_dim; /* kv_heads divides heads (grouped-query when smaller)      */
    int32_t causal;                    /* 1: query i sees keys j <= i                               */
    int32_t window;                    /* -1: none; else |i - j| <= window (sliding-window layers) */
    float scale;                       /* 0: 1 / sqrt(head_dim)                                     */
} rr_cu_attn_t;

typedef enum rr_cu_attn_impl {
    RR_ATTN_FLASH = 0,   /* tensor-core flash kernel, 64 query rows per block (default)      */
    RR_ATTN_FLASH8 = 1,  /* the same with 128 query rows per block (8 warps), head_dim 64 / 128 */
    RR_ATTN_LEGACY = 2,  /* the previous WMMA kernel (head_dim 32, 64, 128) / CUDA-core kernel */
    RR_ATTN_SIMPLE = 3,  /* the CUDA-core kernel (fp32 math, any head_dim <= 128)             */
} rr_cu_attn_impl_t;

/* ctx [T, heads*d] = softmax(scale q k^T + mask) v per sequence (cu_seqlens [P+1]) and head, q / k / v read
 * from qkv [T, (heads + 2 kv_heads) d] (the fused projection). pre (NULL: none): [P][2], the shared-prefix
 * keys each sequence reads before its own, first row and count (rows of another sequence: flash_attn.cuh).
 * max_n: longest sequence (or more). The legacy kernels take only bidirectional attention with kv_heads ==
 * heads and the default scale (and so no shared prefix: only causal families share one, engine/model.c);
 * the flash kernel needs an even head_dim (else the CUDA-core kernel runs). */
rerank_status_t rr_cu_attention(const void *qkv, void *ctx, const int32_t *cu_seqlens, const int32_t *pre, int64_t P,
                                int32_t max_n, const rr_cu_attn_t *a, rr_cu_dtype_t dt, rr_cu_attn_impl_t impl,
                                cudaStream_t s);
/* Parse RERANK_CUDA_ATTN (flash, flash8, legacy, simple; unset = flash); -1 for anything else. */
int rr_cu_attn_impl_from_env(void);
rerank_status_t rr_cu_attention_legacy(const void *qkv, void *ctx, const int32_t *cu_seqlens, int64_t P,
                                       int32_t max_n, int32_t heads, int32_t head_dim, rr_cu_dtype_t dt, int tc,
                                       cudaStream_t s);
int rr_cu_attention_tc_ok(int32_t head_dim);
/* Largest head_dim any attention kernel supports. */
#define RR_CU_ATTN_MAX_D 128

/* The context (struct rr_cuda) and the files built on it: cuda_ctx.h. */

#endif
