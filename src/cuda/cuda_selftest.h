/* cuda_selftest.h — small host helpers shared by the self-test hooks (cuda_selftest.cu,
 * cuda_selftest_rows.cu): a device buffer freed on scope exit, a seeded uniform generator, and fp16 / bf16
 * bit conversions. C++ (nvcc) only. */
#ifndef RR_CUDA_SELFTEST_H
#define RR_CUDA_SELFTEST_H

#include "cuda/cuda_internal.h"

struct rr_st_dev {
    void *p = nullptr;
    rr_st_dev() = default;
    rr_st_dev(const rr_st_dev &) = delete;
    rr_st_dev &operator=(const rr_st_dev &) = delete;
    ~rr_st_dev() {
        if (p) cudaFree(p);
    }
    rerank_status_t alloc(size_t bytes) {
        const cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
        if (e != cudaSuccess) {
            p = nullptr;
            return rr_cu_fail(e, "cudaMalloc (self-test)");
        }
        return RERANK_OK;
    }
};

/* Uniform in [-1, 1). */
static inline float rr_st_uniform(uint32_t *seed) {
    *seed = *seed * 1664525u + 1013904223u;
    return (float)(*seed >> 8) / 8388608.0f - 1.0f;
}

static inline uint16_t rr_st_bits(float v, int bf16) {
    if (bf16) return ((__nv_bfloat16_raw)__float2bfloat16_rn(v)).x;
    return ((__half_raw)__float2half_rn(v)).x;
}

static inline float rr_st_float(uint16_t bits, int bf16) {
    if (bf16) {
        __nv_bfloat16_raw r;
        r.x = bits;
        return __bfloat162float(__nv_bfloat16(r));
    }
    __half_raw r;
    r.x = bits;
    return __half2float(__half(r));
}

#endif
