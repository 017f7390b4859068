/* cuda_kernels.cu — the element-wise and row-wise kernels of the forward
 * pass: dtype conversion (weight upload), embeddings + LayerNorm, LayerNorm,
 * exact GELU, and the classification head. All arithmetic in fp32. */
#include "cuda/cuda_common.cuh"
#include "cuda/cuda_internal.h"

#define ROW_THREADS 256 /* one block per row (token / pair) */

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
    }
    CU_LAUNCHED("convert_kernel");
    return RERANK_OK;
}

/* ---- LayerNorm ------------------------------------------------------------ */

/* row[0..H) holds values this thread wrote itself (j = tid + k*blockDim):
 * normalize them in place (two-pass mean / variance, as the CPU) and write
 * the dt copy. */
template <typename T>
__device__ void ln_row(float *row, T *out, int H, const float *g, const float *b, float eps, float sum,
                       float *sh) {
    const float mean = rr_block_sum(sum, sh) / (float)H;
    float sq = 0.0f;
    for (int j = threadIdx.x; j < H; j += blockDim.x) {
        float d = row[j] - mean;
        sq += d * d;
    }
    const float var = rr_block_sum(sq, sh) / (float)H;
    const float inv = rsqrtf(var + eps);
    for (int j = threadIdx.x; j < H; j += blockDim.x) {
        float y = (row[j] - mean) * inv * g[j] + b[j];
        row[j] = y;
        out[j] = rr_from_f32<T>(y);
    }
}

template <typename T>
__global__ void embed_kernel(const int32_t *ids, const int32_t *types, const int32_t *pos, const T *word,
                             const float *pemb, const float *temb, const float *g, const float *b, int H, float eps,
                             float *x32, T *xh) {
    __shared__ float sh[32];
    const size_t t = blockIdx.x;
    const T *we = word + (size_t)ids[t] * H;
    const float *pe = pemb + (size_t)pos[t] * H, *te = temb + (size_t)types[t] * H;
    float *row = x32 + t * H;
    float sum = 0.0f;
    for (int j = threadIdx.x; j < H; j += blockDim.x) {
        float v = (rr_to_f32(we[j]) + te[j]) + pe[j]; /* the CPU's (HF's) order */
        row[j] = v;
        sum += v;
    }
    ln_row<T>(row, xh + t * H, H, g, b, eps, sum, sh);
}

template <typename T>
__global__ void layernorm_kernel(float *x32, T *xh, int H, const float *g, const float *b, float eps) {
    __shared__ float sh[32];
    const size_t t = blockIdx.x;
    float *row = x32 + t * H;
    float sum = 0.0f;
    for (int j = threadIdx.x; j < H; j += blockDim.x) sum += row[j];
    ln_row<T>(row, xh + t * H, H, g, b, eps, sum, sh);
}

rerank_status_t rr_cu_embed(const rr_cuda_t *c, int64_t T, cudaStream_t s) {
    if (T <= 0) return RERANK_OK;
    const int32_t *ids = c->ids, *types = c->types, *pos = c->posi;
    const int H = c->cfg.hidden;
    if (c->dt == RR_CU_F16)
        embed_kernel<__half><<<(unsigned)T, ROW_THREADS, 0, s>>>(ids, types, pos, (const __half *)c->word, c->pos,
                                                                  c->type, c->emb_g, c->emb_b, H, c->cfg.ln_eps,
                                                                  c->x32, (__half *)c->xh);
    else
        embed_kernel<__nv_bfloat16><<<(unsigned)T, ROW_THREADS, 0, s>>>(
            ids, types, pos, (const __nv_bfloat16 *)c->word, c->pos, c->type, c->emb_g, c->emb_b, H, c->cfg.ln_eps,
            c->x32, (__nv_bfloat16 *)c->xh);
    CU_LAUNCHED("embed_kernel");
    return RERANK_OK;
}

rerank_status_t rr_cu_layernorm(const rr_cuda_t *c, int64_t T, const float *g, const float *b, cudaStream_t s) {
    if (T <= 0) return RERANK_OK;
    const int H = c->cfg.hidden;
    if (c->dt == RR_CU_F16)
        layernorm_kernel<__half><<<(unsigned)T, ROW_THREADS, 0, s>>>(c->x32, (__half *)c->xh, H, g, b, c->cfg.ln_eps);
    else
        layernorm_kernel<__nv_bfloat16>
            <<<(unsigned)T, ROW_THREADS, 0, s>>>(c->x32, (__nv_bfloat16 *)c->xh, H, g, b, c->cfg.ln_eps);
    CU_LAUNCHED("layernorm_kernel");
    return RERANK_OK;
}

/* ---- exact GELU ----------------------------------------------------------- */

template <typename T> __global__ void gelu_kernel(T *y, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float x = rr_to_f32(y[i]);
        y[i] = rr_from_f32<T>(0.5f * x * (1.0f + erff(x * 0.70710678118654752f)));
    }
}

rerank_status_t rr_cu_gelu(void *y, rr_cu_dtype_t dt, int64_t n, cudaStream_t s) {
    if (n <= 0) return RERANK_OK;
    unsigned g = grid_for((size_t)n, 256);
    if (dt == RR_CU_F16) gelu_kernel<__half><<<g, 256, 0, s>>>((__half *)y, (size_t)n);
    else gelu_kernel<__nv_bfloat16><<<g, 256, 0, s>>>((__nv_bfloat16 *)y, (size_t)n);
    CU_LAUNCHED("gelu_kernel");
    return RERANK_OK;
}

/* ---- head ----------------------------------------------------------------- */

/* One block per pair: logit = out_b + sum_j out_w[j] tanh(head_b[j] +
 * head_w[j,:] . x[first token]), all fp32 (the first-token state is read
 * from the fp32 residual stream). */
__global__ void head_kernel(const float *x32, const int32_t *cu, const float *W, const float *bias,
                            const float *ow, const float *ob, int H, float *logits) {
    __shared__ float sh[32];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    const float *x = x32 + (size_t)cu[blockIdx.x] * H;
    float acc = 0.0f;
    for (int j = w; j < H; j += nw) {
        const float *wr = W + (size_t)j * H;
        float s = 0.0f;
        for (int k = lane; k < H; k += 32) s += wr[k] * x[k];
        s = rr_warp_sum(s);
        if (lane == 0) acc += ow[j] * tanhf(s + bias[j]);
    }
    float total = rr_block_sum(acc, sh);
    if (threadIdx.x == 0) logits[blockIdx.x] = total + ob[0];
}

rerank_status_t rr_cu_head(const rr_cuda_t *c, int64_t P, cudaStream_t s) {
    if (P <= 0) return RERANK_OK;
    head_kernel<<<(unsigned)P, ROW_THREADS, 0, s>>>(c->x32, c->cu, c->head_w, c->head_b, c->out_w, c->out_b,
                                                    c->cfg.hidden, c->d_logits);
    CU_LAUNCHED("head_kernel");
    return RERANK_OK;
}
