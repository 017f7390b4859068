/* cuda_selftest.cu — test hooks for tests/test_cuda.c: the attention kernels on random packed sequences
 * against the float64 reference (attn_ref.h), attention timing, and a deliberate device fault. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "cuda/attn_ref.h"
#include "cuda/cuda_ctx.h"
#include "cuda/cuda_selftest.h"

/* Random packed q/k/v (uniform [-2, 2), rounded to fp16 / bf16) on the device, and its cu_seqlens. */
struct attn_setup {
    rr_st_dev qkv, ctx, cu;
    std::vector<uint16_t> h;
    std::vector<int32_t> hcu;
    int32_t max_n = 0;
    size_t T = 0, ld = 0, ldo = 0;

    rerank_status_t init(const rr_cuda_attn_case_t *t, const int32_t *lens, size_t n) {
        hcu.assign(n + 1, 0);
        for (size_t i = 0; i < n; i++) {
            if (lens[i] < 1) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "selftest: sequence %zu is empty", i);
            hcu[i + 1] = hcu[i] + lens[i];
            max_n = std::max(max_n, lens[i]);
        }
        T = (size_t)hcu[n];
        ld = (size_t)(t->heads + 2 * t->kv_heads) * t->head_dim;
        ldo = (size_t)t->heads * t->head_dim;
        h.resize(T * ld);
        uint32_t seed = 12345u;
        for (size_t i = 0; i < h.size(); i++) h[i] = rr_st_bits(rr_st_uniform(&seed) * 2.0f, t->bf16);
        rerank_status_t st;
        if ((st = qkv.alloc(T * ld * 2)) || (st = ctx.alloc(T * ldo * 2)) || (st = cu.alloc((n + 1) * sizeof(int32_t))))
            return st;
        CU(cudaMemcpy(qkv.p, h.data(), T * ld * 2, cudaMemcpyHostToDevice));
        CU(cudaMemcpy(cu.p, hcu.data(), (n + 1) * sizeof(int32_t), cudaMemcpyHostToDevice));
        CU(cudaMemset(ctx.p, 0xff, T * ldo * 2)); /* NaN: unwritten outputs show */
        return RERANK_OK;
    }
    rerank_status_t run(const rr_cuda_attn_case_t *t, size_t n, cudaStream_t s) {
        const rr_cu_attn_t a = {t->heads, t->kv_heads, t->head_dim, t->causal, t->window, 0.0f};
        return rr_cu_attention(qkv.p, ctx.p, (const int32_t *)cu.p, NULL, (int64_t)n, max_n, &a,
                               t->bf16 ? RR_CU_BF16 : RR_CU_F16, (rr_cu_attn_impl_t)t->impl, s);
    }
};

static rerank_status_t check_case(int device, const rr_cuda_attn_case_t *t, size_t n) {
    if (!t || t->heads < 1 || t->kv_heads < 1 || t->head_dim < 1 || t->head_dim > RR_CU_ATTN_MAX_D || t->impl < 0 ||
        t->impl > RR_ATTN_SIMPLE || !n)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "attention self-test: bad arguments");
    if (device < 0 || device >= rr_cuda_available())
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cuda: device %d does not exist", device);
    CU(cudaSetDevice(device));
    return RERANK_OK;
}

extern "C" rerank_status_t rr_cuda_attention_selftest(int device, const rr_cuda_attn_case_t *t, const int32_t *lens,
                                                      size_t n, double *max_err) {
    rerank_status_t st = check_case(device, t, n);
    if (st) return st;
    attn_setup a;
    if ((st = a.init(t, lens, n)) || (st = a.run(t, n, 0))) return st;
    std::vector<uint16_t> out(a.T * a.ldo);
    CU(cudaMemcpy(out.data(), a.ctx.p, out.size() * 2, cudaMemcpyDeviceToHost));
    std::vector<float> in(a.h.size());
    for (size_t i = 0; i < in.size(); i++) in[i] = rr_st_float(a.h[i], t->bf16);
    std::vector<double> ref(out.size()), scratch((size_t)a.max_n);
    rr_attn_reference(in.data(), a.hcu.data(), n, t->heads, t->kv_heads, t->head_dim, t->causal, t->window,
                      1.0 / sqrt((double)t->head_dim), scratch.data(), ref.data());
    double e = 0;
    for (size_t i = 0; i < out.size(); i++) {
        const double d = fabs((double)rr_st_float(out[i], t->bf16) - ref[i]);
        if (!(d <= e)) e = d; /* NaN sticks */
    }
    *max_err = e;
    return RERANK_OK;
}

extern "C" rerank_status_t rr_cuda_attention_bench(int device, const rr_cuda_attn_case_t *t, const int32_t *lens,
                                                   size_t n, int reps, double *ms) {
    rerank_status_t st = check_case(device, t, n);
    if (st) return st;
    attn_setup a;
    if ((st = a.init(t, lens, n)) || (st = a.run(t, n, 0))) return st; /* warm-up */
    cudaEvent_t e0, e1;
    CU(cudaEventCreate(&e0));
    CU(cudaEventCreate(&e1));
    std::vector<float> times;
    for (int r = 0; r < std::max(reps, 1) && !st; r++) {
        float t_ms = 0;
        cudaEventRecord(e0, 0);
        st = a.run(t, n, 0);
        cudaEventRecord(e1, 0);
        const cudaError_t e = cudaEventSynchronize(e1);
        if (!st && e != cudaSuccess) st = rr_cu_fail(e, "cudaEventSynchronize");
        if (!st) cudaEventElapsedTime(&t_ms, e0, e1);
        times.push_back(t_ms);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    if (st) return st;
    std::sort(times.begin(), times.end());
    *ms = times[times.size() / 2];
    return RERANK_OK;
}

__global__ void fault_kernel(int *p) { *p = 1; }

extern "C" rerank_status_t rr_cuda_inject_fault(rr_cuda_t *c) {
    if (!c) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rr_cuda_inject_fault: context is NULL");
    CU(cudaSetDevice(c->device));
    fault_kernel<<<1, 1, 0, c->stream>>>((int *)(uintptr_t)16);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
    return rr_cu_note_failure(c, e == cudaSuccess ? RERANK_OK : rr_cu_fail(e, "fault_kernel"));
}
