/* cuda_common.cuh — device helpers shared by the kernels: conversions
 * between fp32 and the storage types, warp and block reductions. */
#ifndef RR_CUDA_COMMON_CUH
#define RR_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>

__device__ __forceinline__ float rr_to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float rr_to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float rr_to_f32(float v) { return v; }

template <typename T> __device__ __forceinline__ T rr_from_f32(float v);
template <> __device__ __forceinline__ __half rr_from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 rr_from_f32<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}
template <> __device__ __forceinline__ float rr_from_f32<float>(float v) { return v; }

__device__ __forceinline__ float rr_warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float rr_warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum of v over the block (blockDim.x a multiple of 32, <= 1024); every
 * thread gets the result. sh: 32 floats of shared memory. Must be reached
 * by all threads of the block. */
__device__ __forceinline__ float rr_block_sum(float v, float *sh) {
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = rr_warp_sum(v);
    __syncthreads(); /* the previous call's readers of sh[0] are done */
    if (lane == 0) sh[w] = v;
    __syncthreads();
    if (w == 0) {
        float s = lane < nw ? sh[lane] : 0.0f;
        s = rr_warp_sum(s);
        if (lane == 0) sh[0] = s;
    }
    __syncthreads();
    return sh[0];
}

#endif
