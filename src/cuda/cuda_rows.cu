/* cuda_rows.cu — launchers of the element-wise and row-wise kernels: dtype conversion (weight upload),
 * embeddings + LayerNorm, residual add + LayerNorm / RMSNorm, bias + activation (GELU, gated), FP8 row
 * quantization, q / k head norms + rotary positions, an LLM reranker's head (bodies in rows.cuh), and the
 * classification head of BERT / XLM-R. All arithmetic in fp32. */
#include "cuda/cuda_common.cuh"
#include "cuda/cuda_internal.h"
#include "cuda/rows_params.h"

/* ---- conversion --------------------------------------------------------- */

template <typename D>
__global__ void convert_kernel(const void *src, int src_dt, D *dst, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v;
        if (src_dt == RR_DT_F32) {
            v = ((const float *)src)[i];
        } else {
            unsigned short bits = ((const unsigned short *)src)[i];
            v = src_dt == RR_DT_F16 ? __half2float(__ushort_as_half(bits)) : __uint_as_float((unsigned)bits << 16);
        }
        dst[i] = rr_from_f32<D>(v);
    }
}

static unsigned grid_for(size_t n, unsigned threads) {
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 65535u * 8u ? (b ? b : 1) : 65535u * 8u);
}

rerank_status_t rr_cu_convert(const void *src, int src_dt, void *dst, rr_cu_dtype_t dst_dt, size_t n,
                              cudaStream_t s) {
    if (!n) return RERANK_OK;
    if (src_dt != RR_DT_F32 && src_dt != RR_DT_F16 && src_dt != RR_DT_BF16)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: cannot convert weights of dtype %d", src_dt);
    unsigned g = grid_for(n, 256);
    switch (dst_dt) {
    case RR_CU_F16: convert_kernel<__half><<<g, 256, 0, s>>>(src, src_dt, (__half *)dst, n); break;
    case RR_CU_BF16: convert_kernel<__nv_bfloat16><<<g, 256, 0, s>>>(src, src_dt, (__nv_bfloat16 *)dst, n); break;
    case RR_CU_F32: convert_kernel<float><<<g, 256, 0, s>>>(src, src_dt, (float *)dst, n); break;
    default: return rr_error(RERANK_ERR_INTERNAL, "cuda: E4M3 needs row scales (rr_cu_quantize_rows)");
    }
    CU_LAUNCHED("convert_kernel");
    return RERANK_OK;
}

/* ---- row kernels (bodies in rows.cuh) ------------------------------------------------------------------ */

template <typename T, int NV> __global__ void norm_kernel(rr_rows::norm_params p) {
    __shared__ float red[32];
    rr_rows::norm_row<T, NV>(p, blockIdx.x, (int)threadIdx.x, (int)blockDim.x, red);
}
template <typename T, int NV> __global__ void embed_kernel(rr_rows::embed_params p) {
    __shared__ float red[32];
    rr_rows::embed_row<T, NV>(p, blockIdx.x, (int)threadIdx.x, (int)blockDim.x, red);
}
template <typename T, int NV> __global__ void act_kernel(rr_rows::act_params p) {
    __shared__ float red[32];
    rr_rows::act_row<T, NV>(p, blockIdx.x, (int)threadIdx.x, (int)blockDim.x, red);
}
template <typename S, int NV>
__global__ void quant_kernel(const S *x, int w, float fixed, uint8_t *q, float *scale) {
    __shared__ float red[32];
    rr_rows::quant_row<S, NV>(x, w, fixed, q, scale, blockIdx.x, (int)threadIdx.x, (int)blockDim.x, red);
}

/* One block per row (grid.x up to 2^31 - 1), sized by rows.cuh; K(NV) launches the NV instantiation. */
#define ROW_LAUNCH(K, rows, w, s, ...)                                                                      \
    do {                                                                                                     \
        const unsigned g_ = (unsigned)(rows), t_ = (unsigned)rr_rows::row_threads(w);                        \
        switch (rr_rows::row_nv(w)) {                                                                        \
        case 1: K(1)<<<g_, t_, 0, s>>>(__VA_ARGS__); break;                                                  \
        case 2: K(2)<<<g_, t_, 0, s>>>(__VA_ARGS__); break;                                                  \
        default: K(4)<<<g_, t_, 0, s>>>(__VA_ARGS__); break;                                                 \
        }                                                                                                    \
        CU_LAUNCHED(#K);                                                                                     \
    } while (0)

static rerank_status_t check_rows(int64_t rows, int32_t w, const char *what) {
    if (w < 8 || w % 8 || w > RR_CU_MAX_ROW || rows > INT32_MAX)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: %s over rows of %d values (a multiple of 8 up to %d)", what,
                        (int)w, RR_CU_MAX_ROW);
    return RERANK_OK;
}

/* Instantiations by vectors per thread, for ROW_LAUNCH. */
#define NORM_F16(NV) norm_kernel<__half, NV>
#define NORM_BF16(NV) norm_kernel<__nv_bfloat16, NV>
#define EMBED_F16(NV) embed_kernel<__half, NV>
#define EMBED_BF16(NV) embed_kernel<__nv_bfloat16, NV>
#define ACT_F16(NV) act_kernel<__half, NV>
#define ACT_BF16(NV) act_kernel<__nv_bfloat16, NV>
#define QUANT_F16(NV) quant_kernel<__half, NV>
#define QUANT_BF16(NV) quant_kernel<__nv_bfloat16, NV>
#define QUANT_F32(NV) quant_kernel<float, NV>

rerank_status_t rr_cu_add_norm(const rr_cu_norm_t *nm, float *x, const void *y, rr_cu_dtype_t y_dt, const float *bias,
                               int prenorm, int64_t rows, int32_t w, const rr_cu_mat_t *out, cudaStream_t s) {
    if (rows <= 0) return RERANK_OK;
    rerank_status_t st = check_rows(rows, w, "normalization");
    if (st) return st;
    if (y && y_dt == RR_CU_E4M3) return rr_error(RERANK_ERR_INTERNAL, "cuda: normalization of an E4M3 input");
    const rr_rows::norm_params p = rr_rows::norm_params_of(nm, x, y, y_dt, bias, prenorm, w, out);
    if (out->dt == RR_CU_BF16) ROW_LAUNCH(NORM_BF16, rows, w, s, p);
    else ROW_LAUNCH(NORM_F16, rows, w, s, p); /* fp16 or E4M3 (the type is unused then) */
    return RERANK_OK;
}

rerank_status_t rr_cu_embed_norm(const rr_cu_embed_t *e, const rr_cu_norm_t *nm, float *x, int64_t rows, int32_t w,
                                 const rr_cu_mat_t *out, cudaStream_t s) {
    if (rows <= 0) return RERANK_OK;
    rerank_status_t st = check_rows(rows, w, "embeddings");
    if (st) return st;
    if (out->dt != RR_CU_E4M3 && out->dt != e->word_dt)
        return rr_error(RERANK_ERR_INTERNAL, "cuda: embeddings: output type differs from the word table's");
    const rr_rows::embed_params p = rr_rows::embed_params_of(e, nm, x, w, out);
    if (e->word_dt == RR_CU_BF16) ROW_LAUNCH(EMBED_BF16, rows, w, s, p);
    else ROW_LAUNCH(EMBED_F16, rows, w, s, p);
    return RERANK_OK;
}

rerank_status_t rr_cu_bias_act(const void *y, rr_cu_dtype_t y_dt, const float *bias, rr_cu_act_t act, int gated,
                               int64_t rows, int32_t w, const rr_cu_mat_t *out, cudaStream_t s) {
    if (rows <= 0) return RERANK_OK;
    rerank_status_t st = check_rows(rows, w, "activation");
    if (st) return st;
    if ((y_dt != RR_CU_F16 && y_dt != RR_CU_BF16) || (out->dt != RR_CU_E4M3 && out->dt != y_dt) ||
        (gated && out->data == y))
        return rr_error(RERANK_ERR_INTERNAL, "cuda: activation: bad input / output types or in-place gated call");
    const rr_rows::act_params p = rr_rows::act_params_of(y, bias, act, gated, w, out);
    if (y_dt == RR_CU_BF16) ROW_LAUNCH(ACT_BF16, rows, w, s, p);
    else ROW_LAUNCH(ACT_F16, rows, w, s, p);
    return RERANK_OK;
}

rerank_status_t rr_cu_quantize_rows(const void *x, rr_cu_dtype_t x_dt, int64_t rows, int32_t w, float fixed_scale,
                                    const rr_cu_mat_t *out, cudaStream_t s) {
    if (rows <= 0) return RERANK_OK;
    rerank_status_t st = check_rows(rows, w, "FP8 quantization");
    if (st) return st;
    uint8_t *q = (uint8_t *)out->data;
    if (x_dt == RR_CU_F32) ROW_LAUNCH(QUANT_F32, rows, w, s, (const float *)x, w, fixed_scale, q, out->scale);
    else if (x_dt == RR_CU_BF16)
        ROW_LAUNCH(QUANT_BF16, rows, w, s, (const __nv_bfloat16 *)x, w, fixed_scale, q, out->scale);
    else ROW_LAUNCH(QUANT_F16, rows, w, s, (const __half *)x, w, fixed_scale, q, out->scale);
    return RERANK_OK;
}

/* ---- q / k heads ------------------------------------------------------------------------------------------ */

template <typename T> __global__ void qk_kernel(rr_rows::qk_params p) {
    rr_rows::qk_row<T>(p, blockIdx.x, (int)threadIdx.x, (int)blockDim.x);
}

rerank_status_t rr_cu_qk_norm_rope(void *qkv, rr_cu_dtype_t dt, const int32_t *pos, int64_t rows, const rr_cu_qk_t *q,
                                   cudaStream_t s) {
    if (rows <= 0 || (!q->q_gamma && !q->k_gamma && !q->cos)) return RERANK_OK;
    if (q->head_dim < 2 || q->head_dim % 2 || q->head_dim > RR_QK_MAX_D || rows > INT32_MAX || (!q->cos != !q->sin) ||
        (dt != RR_CU_F16 && dt != RR_CU_BF16))
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: q / k norms and rotary positions on heads of %d (an even size up "
                        "to %d, fp16 / bf16)", (int)q->head_dim, RR_QK_MAX_D);
    const rr_rows::qk_params p = rr_rows::qk_params_of(qkv, pos, q);
    const unsigned threads = (unsigned)rr_rows::qk_threads(q);
    if (dt == RR_CU_BF16) qk_kernel<__nv_bfloat16><<<(unsigned)rows, threads, 0, s>>>(p);
    else qk_kernel<__half><<<(unsigned)rows, threads, 0, s>>>(p);
    CU_LAUNCHED("qk_kernel");
    return RERANK_OK;
}

/* ---- pooled heads (Qwen3, ModernBERT) ----------------------------------------------------------------------- */

template <int NV> __global__ void pool_head_kernel(rr_rows::head_params p) {
    extern __shared__ float dsm[]; /* 32 for the reductions, then the dense layer's rows */
    rr_rows::head_row<NV>(p, blockIdx.x, (int)threadIdx.x, (int)blockDim.x, dsm, dsm + 32);
}

rerank_status_t rr_cu_pool_head(const rr_cu_pool_head_t *h, int64_t P, int32_t hidden, float *logits, cudaStream_t s) {
    if (P <= 0) return RERANK_OK;
    rerank_status_t st = check_rows(P, hidden, "the head");
    if (st) return st;
    if ((h->rows != 1 && h->rows != 2) || h->y_dt == RR_CU_E4M3 || h->pool < 0 || h->pool > 2 ||
        (h->dw && hidden > RR_CU_HEAD_MAX_DENSE))
        return rr_error(RERANK_ERR_INTERNAL, "cuda: head of %d rows (1 or 2), pooling %d, hidden %d", (int)h->rows,
                        h->pool, (int)hidden);
    const rr_rows::head_params p = rr_rows::head_params_of(h, hidden, logits);
    const unsigned g = (unsigned)P, t = (unsigned)rr_rows::row_threads(hidden);
    const size_t smem = (32 + rr_rows::head_smem_floats(hidden, h->dw != NULL)) * sizeof(float);
    switch (rr_rows::row_nv(hidden)) {
    case 1: pool_head_kernel<1><<<g, t, smem, s>>>(p); break;
    case 2: pool_head_kernel<2><<<g, t, smem, s>>>(p); break;
    default: pool_head_kernel<4><<<g, t, smem, s>>>(p); break;
    }
    CU_LAUNCHED("pool_head_kernel");
    return RERANK_OK;
}

/* ---- head ----------------------------------------------------------------------------------------------- */

/* One block per pair: logit = out_b + sum_j out_w[j] tanh(head_b[j] (NULL: 0) + head_w[j,:] . x[first token]), all fp32
 * (the first-token state is read from the fp32 residual stream); 0 for an empty (padding) pair. */
__global__ void head_kernel(const float *x32, const int32_t *cu, const float *W, const float *bias,
                            const float *ow, const float *ob, int H, float *logits) {
    __shared__ float sh[32];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (cu[blockIdx.x] == cu[blockIdx.x + 1]) { /* whole block, before any barrier */
        if (threadIdx.x == 0) logits[blockIdx.x] = 0.0f;
        return;
    }
    const float *x = x32 + (size_t)cu[blockIdx.x] * H;
    float acc = 0.0f;
    for (int j = w; j < H; j += nw) {
        const float *wr = W + (size_t)j * H;
        float s = 0.0f;
        for (int k = lane; k < H; k += 32) s += wr[k] * x[k];
        s = rr_warp_sum(s);
        if (lane == 0) acc += ow[j] * tanhf(s + (bias ? bias[j] : 0.0f));
    }
    float total = rr_block_sum(acc, sh);
    if (threadIdx.x == 0) logits[blockIdx.x] = total + ob[0];
}

rerank_status_t rr_cu_head(const float *x, const int32_t *cu, int64_t P, int32_t hidden, const float *head_w,
                           const float *head_b, const float *out_w, const float *out_b, float *logits,
                           cudaStream_t s) {
    if (P <= 0) return RERANK_OK;
    head_kernel<<<(unsigned)P, 256, 0, s>>>(x, cu, head_w, head_b, out_w, out_b, hidden, logits);
    CU_LAUNCHED("head_kernel");
    return RERANK_OK;
}
