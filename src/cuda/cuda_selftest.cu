/* cuda_selftest.cu — rr_cuda_attention_selftest: both attention kernels on
 * random packed sequences against an fp64 host reference. The fixture
 * models have head_dim 8, which only the CUDA-core kernel handles; this is
 * how the tensor-core kernel gets tested (head_dim 32 / 64 / 128). */
#include <math.h>
#include <string.h>

#include "cuda/cuda_internal.h"

typedef struct st_res {
    cudaStream_t s;
    void *qkv, *ctx;
    int32_t *cu;
    uint16_t *h_qkv, *h_ctx;
    float *ref_in; /* qkv rounded to dt, as fp32 */
    double *ref;   /* [T, H] */
} st_res_t;

static float to_f32(uint16_t bits, int bf16) {
    if (bf16) {
        __nv_bfloat16_raw r;
        r.x = bits;
        return __bfloat162float(__nv_bfloat16(r));
    }
    __half_raw r;
    r.x = bits;
    return __half2float(__half(r));
}

static uint16_t from_f32(float v, int bf16) {
    if (bf16) return ((__nv_bfloat16_raw)__float2bfloat16_rn(v)).x;
    return ((__half_raw)__float2half_rn(v)).x;
}

static rerank_status_t run_kernel(st_res_t *r, const int32_t *cu, size_t n, int32_t max_n, int heads, int d,
                                  int bf16, int tc, size_t T, double *max_err) {
    const size_t H = (size_t)heads * d;
    CU(cudaMemsetAsync(r->ctx, 0, T * H * 2, r->s));
    rerank_status_t st = rr_cu_attention(r->qkv, r->ctx, r->cu, (int64_t)n, max_n, heads, d,
                                         bf16 ? RR_CU_BF16 : RR_CU_F16, tc, r->s);
    if (st) return st;
    CU(cudaMemcpyAsync(r->h_ctx, r->ctx, T * H * 2, cudaMemcpyDeviceToHost, r->s));
    CU(cudaStreamSynchronize(r->s));
    double e = 0;
    for (size_t i = 0; i < T * H; i++) {
        double diff = fabs((double)to_f32(r->h_ctx[i], bf16) - r->ref[i]);
        if (!(diff <= e)) e = diff; /* NaN propagates as the error */
    }
    *max_err = e;
    (void)cu;
    return RERANK_OK;
}

static rerank_status_t selftest(st_res_t *r, int device, int heads, int d, const int32_t *lens, size_t n, int bf16,
                                double *e_simple, double *e_tc) {
    size_t T = 0;
    int32_t max_n = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] < 1) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "selftest: sequence %zu is empty", i);
        T += (size_t)lens[i];
        if (lens[i] > max_n) max_n = lens[i];
    }
    const size_t H = (size_t)heads * d, ld = 3 * H;
    int32_t *cu = (int32_t *)rr_malloc((n + 1) * sizeof *cu);
    r->h_qkv = (uint16_t *)rr_malloc(T * ld * 2);
    r->h_ctx = (uint16_t *)rr_malloc(T * H * 2);
    r->ref_in = (float *)rr_malloc(T * ld * sizeof(float));
    r->ref = (double *)rr_malloc(T * H * sizeof(double));
    double *sc = (double *)rr_malloc((size_t)max_n * sizeof(double));
    if (!cu || !r->h_qkv || !r->h_ctx || !r->ref_in || !r->ref || !sc) {
        rr_free(cu);
        rr_free(sc);
        return rr_error(RERANK_ERR_NOMEM, "selftest: out of memory");
    }
    cu[0] = 0;
    for (size_t i = 0; i < n; i++) cu[i + 1] = cu[i] + lens[i];
    uint32_t seed = 12345u;
    for (size_t i = 0; i < T * ld; i++) {
        seed = seed * 1664525u + 1013904223u;
        float v = ((float)(seed >> 8) / 16777216.0f * 2.0f - 1.0f) * 2.0f; /* [-2, 2) */
        r->h_qkv[i] = from_f32(v, bf16);
        r->ref_in[i] = to_f32(r->h_qkv[i], bf16);
    }
    const double scale = 1.0 / sqrt((double)d);
    for (size_t p = 0; p < n; p++)
        for (int h = 0; h < heads; h++)
            for (int32_t i = 0; i < lens[p]; i++) {
                const float *q = r->ref_in + (size_t)(cu[p] + i) * ld + (size_t)h * d;
                double mx = -INFINITY, sum = 0;
                for (int32_t j = 0; j < lens[p]; j++) {
                    const float *k = r->ref_in + (size_t)(cu[p] + j) * ld + H + (size_t)h * d;
                    double s = 0;
                    for (int c = 0; c < d; c++) s += (double)q[c] * k[c];
                    sc[j] = s * scale;
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int32_t j = 0; j < lens[p]; j++) sum += (sc[j] = exp(sc[j] - mx));
                double *out = r->ref + (size_t)(cu[p] + i) * H + (size_t)h * d;
                for (int c = 0; c < d; c++) {
                    double acc = 0;
                    for (int32_t j = 0; j < lens[p]; j++)
                        acc += sc[j] * r->ref_in[(size_t)(cu[p] + j) * ld + 2 * H + (size_t)h * d + c];
                    out[c] = acc / sum;
                }
            }
    rr_free(sc);

    rerank_status_t st = RERANK_OK;
    cudaError_t e;
    if ((e = cudaSetDevice(device)) != cudaSuccess || (e = cudaStreamCreateWithFlags(&r->s, cudaStreamNonBlocking)) ||
        (e = cudaMalloc(&r->qkv, T * ld * 2)) || (e = cudaMalloc(&r->ctx, T * H * 2)) ||
        (e = cudaMalloc((void **)&r->cu, (n + 1) * sizeof(int32_t))) ||
        (e = cudaMemcpy(r->qkv, r->h_qkv, T * ld * 2, cudaMemcpyHostToDevice)) ||
        (e = cudaMemcpy(r->cu, cu, (n + 1) * sizeof(int32_t), cudaMemcpyHostToDevice)))
        st = rr_cu_fail(e, "selftest setup");
    if (!st) st = run_kernel(r, cu, n, max_n, heads, d, bf16, 0, T, e_simple);
    *e_tc = -1;
    if (!st && rr_cu_attention_tc_ok(d)) st = run_kernel(r, cu, n, max_n, heads, d, bf16, 1, T, e_tc);
    rr_free(cu);
    return st;
}

extern "C" rerank_status_t rr_cuda_attention_selftest(int device, int heads, int head_dim, const int32_t *lens,
                                                      size_t n, int bf16, double *max_err_simple,
                                                      double *max_err_tc) {
    if (!lens || !n || !max_err_simple || !max_err_tc || heads < 1 || head_dim < 1 || head_dim > RR_CU_ATTN_MAX_D)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rr_cuda_attention_selftest: bad arguments");
    if (device < 0 || device >= rr_cuda_available())
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cuda: device %d does not exist", device);
    st_res_t r;
    memset(&r, 0, sizeof r);
    rerank_status_t st = selftest(&r, device, heads, head_dim, lens, n, bf16, max_err_simple, max_err_tc);
    if (r.s) cudaStreamSynchronize(r.s);
    if (r.qkv) cudaFree(r.qkv);
    if (r.ctx) cudaFree(r.ctx);
    if (r.cu) cudaFree(r.cu);
    if (r.s) cudaStreamDestroy(r.s);
    rr_free(r.h_qkv);
    rr_free(r.h_ctx);
    rr_free(r.ref_in);
    rr_free(r.ref);
    return st;
}
