/* cuda_internal.h — shared by the .cu files of src/cuda: the context, error
 * helpers and the kernel launchers. C++ (nvcc) only. */
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

/* A CUDA runtime call that failed becomes RERANK_ERR_INTERNAL
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

/* Element type of weights and activations fed to tensor cores. */
typedef enum rr_cu_dtype { RR_CU_F16 = 0, RR_CU_BF16 = 1, RR_CU_F32 = 2 } rr_cu_dtype_t;

static inline size_t rr_cu_dtype_size(rr_cu_dtype_t t) { return t == RR_CU_F32 ? 4 : 2; }
static inline cudaDataType_t rr_cu_cuda_type(rr_cu_dtype_t t) {
    return t == RR_CU_F16 ? CUDA_R_16F : t == RR_CU_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

/* Sub-allocations are aligned to 256 bytes: cuBLASLt's heuristics assume it
 * (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES default to 256). */
#define RR_CU_ALIGN 256
static inline size_t rr_cu_align(size_t n) { return (n + RR_CU_ALIGN - 1) & ~(size_t)(RR_CU_ALIGN - 1); }

/* ---- GEMM (cuda_gemm.cu) --------------------------------------------- */

/* The four linear layers of a layer; each has its own shape and epilogue. */
typedef enum rr_cu_gemm_kind {
    RR_GEMM_QKV = 0,  /* [T,H] x [3H,H]^T + b -> [T,3H] dt                  */
    RR_GEMM_OUT = 1,  /* [T,H] x [H,H]^T + b + x32 -> x32 (fp32, residual)  */
    RR_GEMM_UP = 2,   /* [T,H] x [I,H]^T + b -> [T,I] dt (GELU separately)  */
    RR_GEMM_DOWN = 3, /* [T,I] x [H,I]^T + b + x32 -> x32 (fp32, residual)  */
    RR_GEMM_KINDS = 4,
} rr_cu_gemm_kind_t;

#define RR_GEMM_CACHE 16 /* algorithms remembered per kind (distinct token counts) */

typedef struct rr_cu_algo_entry {
    int64_t n; /* tokens; 0 = empty slot */
    cublasLtMatrixLayout_t a, b, c; /* W, x, y (C == D) */
    cublasLtMatmulAlgo_t algo;
} rr_cu_algo_entry_t;

typedef struct rr_cu_gemm {
    cublasLtHandle_t lt;
    void *ws;        /* cuBLASLt workspace */
    size_t ws_size;
    rr_cu_dtype_t dt; /* A/B type */
    cublasLtMatmulDesc_t desc[RR_GEMM_KINDS];
    int32_t out[RR_GEMM_KINDS], in[RR_GEMM_KINDS];
    rr_cu_algo_entry_t cache[RR_GEMM_KINDS][RR_GEMM_CACHE];
    int next[RR_GEMM_KINDS];
} rr_cu_gemm_t;

rerank_status_t rr_cu_gemm_init(rr_cu_gemm_t *g, rr_cu_dtype_t dt, int32_t hidden, int32_t ffn);
void rr_cu_gemm_destroy(rr_cu_gemm_t *g);
/* y = x W^T + bias (+ y when the kind accumulates), x [n, in], W [out, in]
 * row-major, y [n, out] row-major. */
rerank_status_t rr_cu_gemm(rr_cu_gemm_t *g, rr_cu_gemm_kind_t kind, int64_t n, const void *x, const void *w,
                           const void *bias, void *y, cudaStream_t stream);

/* ---- the context (cuda_context.cu, cuda_weights.cu, cuda_forward.cu) ---- */

typedef struct rr_cu_layer {
    void *wqkv, *bqkv;  /* [3H, H], [3H] dt (q rows, then k, then v)       */
    void *wo;           /* [H, H] dt                                       */
    float *bo;          /* [H]                                             */
    float *ln1_g, *ln1_b;
    void *w1, *b1;      /* [I, H], [I] dt                                  */
    void *w2;           /* [H, I] dt                                       */
    float *b2;          /* [H]                                             */
    float *ln2_g, *ln2_b;
} rr_cu_layer_t;

struct rr_cuda {
    int device;
    char name[256];
    rr_cu_dtype_t dt;
    rr_config_t cfg;
    cudaStream_t stream;
    rr_cu_gemm_t gemm;
    int attn_tc;        /* 1: tensor-core attention kernel for this head_dim */

    /* weights (device) */
    void *word;         /* [vocab, H] dt                                   */
    float *pos, *type;  /* [max_pos, H], [type_vocab, H]                   */
    float *emb_g, *emb_b;
    rr_cu_layer_t *layer; /* host array [layers]                           */
    float *head_w, *head_b; /* [H, H], [H] fp32 (XLM-R dense / BERT pooler) */
    float *out_w, *out_b;   /* [H], [1] fp32                               */
    void **allocs;      /* every cudaMalloc of the weights, for free        */
    size_t n_allocs, cap_allocs;

    /* per-batch workspace, grown to the largest batch */
    size_t cap_tokens, cap_pairs;
    void *ws;           /* one cudaMalloc holding the buffers below         */
    int32_t *d_in;      /* this batch: ids [T], types [T], pos [T], cu [P+1] */
    const int32_t *ids, *types, *posi, *cu; /* into d_in for this batch     */
    float *x32;         /* [T, H] residual stream                           */
    void *xh;           /* [T, H] dt: LayerNorm output, GEMM input          */
    void *qkv;          /* [T, 3H] dt                                       */
    void *ctx;          /* [T, H] dt                                        */
    void *ffn;          /* [T, I] dt                                        */
    float *d_logits;    /* [P]                                              */
    int32_t *h_in;      /* pinned host mirror of d_in                       */
    float *h_logits;    /* pinned [P]                                       */
};

/* cuda_weights.cu: upload everything; errors name the tensor. */
rerank_status_t rr_cu_upload_weights(rr_cuda_t *c, const rr_weights_t *w);
void rr_cu_free_weights(rr_cuda_t *c);

/* ---- kernels (cuda_kernels.cu, cuda_attention.cu) ---------------------- */

/* dst[i] = convert(src[i]); src holds n raw elements of checkpoint dtype
 * src_dt (RR_DT_F32/F16/BF16), dst is dst_dt. */
rerank_status_t rr_cu_convert(const void *src, int src_dt, void *dst, rr_cu_dtype_t dst_dt, size_t n,
                              cudaStream_t s);
/* x32[t] = LN(word[ids[t]] + type[types[t]] + pos[pos[t]]); xh = (dt)x32. */
rerank_status_t rr_cu_embed(const rr_cuda_t *c, int64_t T, cudaStream_t s);
/* x32[t] = LN(x32[t]) in place; xh = (dt)x32. */
rerank_status_t rr_cu_layernorm(const rr_cuda_t *c, int64_t T, const float *g, const float *b, cudaStream_t s);
/* y = gelu_erf(y) over n elements of dt. */
rerank_status_t rr_cu_gelu(void *y, rr_cu_dtype_t dt, int64_t n, cudaStream_t s);
/* logits[p] = out_b + out_w . tanh(head_w x32[cu[p]] + head_b). */
rerank_status_t rr_cu_head(const rr_cuda_t *c, int64_t P, cudaStream_t s);
/* ctx = softmax(q k^T / sqrt(d)) v per sequence and head, qkv [T, 3H]
 * packed as [q | k | v], sequences given by cu_seqlens [P+1]. tc selects
 * the tensor-core kernel (only where rr_cu_attention_tc_ok(head_dim)). */
rerank_status_t rr_cu_attention(const void *qkv, void *ctx, const int32_t *cu_seqlens, int64_t P, int32_t max_n,
                                int32_t heads, int32_t head_dim, rr_cu_dtype_t dt, int tc, cudaStream_t s);
int rr_cu_attention_tc_ok(int32_t head_dim);
/* Largest head_dim the CUDA-core kernel supports. */
#define RR_CU_ATTN_MAX_D 128

#endif
