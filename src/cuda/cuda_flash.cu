/* cuda_flash.cu — launches the flash-attention kernel (body in flash_attn.cuh) and picks the attention
 * implementation (RERANK_CUDA_ATTN: flash, flash8, legacy, simple).
 *
 * Grid: x = query tiles of the longest sequence, y = query heads, z = sequences (in launches of up to 65535);
 * blocks past the end of their sequence return at once. Head dims are padded to DP = a multiple of 16
 * (16 .. 128): 64 and 128 are the fast paths, the others (8, 24, 32, 80, 96, ...) run the same code with
 * zero-filled columns; even sizes that are not a multiple of 8 (4, 10, ...: tiny models) load element by
 * element; odd ones go to the CUDA-core kernel. 4 warps (64 query rows) and 64-key tiles: 4 x 64 x (DP + 8) x 2 bytes of shared
 * memory (69.6 KB at DP = 128), so two blocks fit an sm_80 / sm_90 SM and one an sm_89 one. flash8 uses 8
 * warps (128 query rows, half the K/V traffic per query) for DP 64 and 128. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"
#include "cuda/flash_attn.cuh"

#define MAX_GRID_Z 65535
#define LOG2E 1.4426950408889634

template <typename T, int DP, int WARPS, int BK>
__global__ void __launch_bounds__(32 * WARPS) flash_kernel(rr_fa::params p, int seq_off) {
    extern __shared__ __align__(128) unsigned char rr_flash_smem[];
    rr_fa::flash_block<T, DP, WARPS, BK>(p, (int)blockIdx.x, (int)blockIdx.y, (int)blockIdx.z + seq_off,
                                         (int)threadIdx.x, (uint16_t *)rr_flash_smem);
}

template <typename T, int DP, int WARPS>
static rerank_status_t launch(const rr_fa::params &p, int64_t P, int32_t max_n, cudaStream_t s) {
    constexpr int BK = 64;
    using S = rr_fa::shape<DP, WARPS, BK>;
    /* Not a stream operation (allowed while a graph is being captured); per device, so set every time. */
    CU(cudaFuncSetAttribute(flash_kernel<T, DP, WARPS, BK>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            S::SMEM_BYTES));
    for (int64_t p0 = 0; p0 < P; p0 += MAX_GRID_Z) {
        const unsigned np = (unsigned)(P - p0 < MAX_GRID_Z ? P - p0 : MAX_GRID_Z);
        const dim3 grid((unsigned)((max_n + S::BQ - 1) / S::BQ), (unsigned)p.hq, np);
        flash_kernel<T, DP, WARPS, BK><<<grid, S::NT, S::SMEM_BYTES, s>>>(p, (int)p0);
        CU_LAUNCHED("flash_kernel");
    }
    return RERANK_OK;
}

template <typename T>
static rerank_status_t dispatch(const rr_fa::params &p, int64_t P, int32_t max_n, int wide, cudaStream_t s) {
    const int dp = (p.d + 15) / 16 * 16;
    if (wide && dp == 64) return launch<T, 64, 8>(p, P, max_n, s);
    if (wide && dp == 128) return launch<T, 128, 8>(p, P, max_n, s);
    switch (dp) {
    case 16: return launch<T, 16, 4>(p, P, max_n, s);
    case 32: return launch<T, 32, 4>(p, P, max_n, s);
    case 48: return launch<T, 48, 4>(p, P, max_n, s);
    case 64: return launch<T, 64, 4>(p, P, max_n, s);
    case 80: return launch<T, 80, 4>(p, P, max_n, s);
    case 96: return launch<T, 96, 4>(p, P, max_n, s);
    case 112: return launch<T, 112, 4>(p, P, max_n, s);
    case 128: return launch<T, 128, 4>(p, P, max_n, s);
    }
    return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: no flash-attention kernel for head_dim %d", (int)p.d);
}

int rr_cu_attn_impl_from_env(void) {
    const char *e = getenv("RERANK_CUDA_ATTN");
    if (!e || !*e || !strcmp(e, "flash")) return RR_ATTN_FLASH;
    if (!strcmp(e, "flash8")) return RR_ATTN_FLASH8;
    if (!strcmp(e, "legacy")) return RR_ATTN_LEGACY;
    if (!strcmp(e, "simple")) return RR_ATTN_SIMPLE;
    return -1;
}

rerank_status_t rr_cu_attention(const void *qkv, void *ctx, const int32_t *cu_seqlens, const int32_t *pre, int64_t P,
                                int32_t max_n, const rr_cu_attn_t *a, rr_cu_dtype_t dt, rr_cu_attn_impl_t impl,
                                cudaStream_t s) {
    if (P <= 0 || max_n <= 0) return RERANK_OK;
    const int d = a->head_dim;
    if (d < 1 || d > RR_CU_ATTN_MAX_D || a->heads < 1 || a->kv_heads < 1 || a->heads % a->kv_heads)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: attention with %d heads, %d kv heads, head_dim %d (head_dim at "
                        "most %d, kv heads dividing heads)", (int)a->heads, (int)a->kv_heads, d, RR_CU_ATTN_MAX_D);
    if (dt != RR_CU_F16 && dt != RR_CU_BF16)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: attention takes fp16 or bf16 q/k/v");
    const int plain = !a->causal && a->window < 0 && a->kv_heads == a->heads &&
                      (a->scale == 0.0f || fabs(a->scale * sqrt((double)d) - 1.0) < 1e-6);
    if (impl == RR_ATTN_LEGACY || impl == RR_ATTN_SIMPLE || d % 2) {
        if (!plain) /* (so no shared prefix either: only causal families share one) */
            return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: the %s attention kernel is bidirectional only, with kv "
                            "heads == heads and the default scale", d % 2 ? "CUDA-core (odd head_dim)" : "legacy");
        return rr_cu_attention_legacy(qkv, ctx, cu_seqlens, P, max_n, a->heads, d, dt, impl == RR_ATTN_LEGACY, s);
    }
    rr_fa::params p;
    p.qkv = (const uint16_t *)qkv;
    p.out = (uint16_t *)ctx;
    p.cu = cu_seqlens;
    p.pre = pre;
    p.hq = a->heads;
    p.hkv = a->kv_heads;
    p.d = d;
    p.causal = a->causal != 0;
    p.window = a->window < 0 ? -1 : a->window;
    p.scale_log2 = (float)((a->scale > 0.0f ? (double)a->scale : 1.0 / sqrt((double)d)) * LOG2E);
    const int wide = impl == RR_ATTN_FLASH8;
    return dt == RR_CU_F16 ? dispatch<rr_simt::f16>(p, P, max_n, wide, s)
                           : dispatch<rr_simt::bf16>(p, P, max_n, wide, s);
}
