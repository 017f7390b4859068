/* simt.h — the warp-level primitives the hand-written kernels use (ldmatrix, mma.sync m16n8k16, cp.async,
 * shuffles, barriers, 16-bit float conversions), so that one kernel source compiles two ways:
 *   - with nvcc (__CUDACC__): inline PTX / intrinsics, for the GPU;
 *   - with a host C++ compiler: declarations that tests/simt_emu.cc implements by running a thread block as
 *     fibers (every thread a fiber; warp-collective operations and barriers wait for their warp / block), so
 *     the fragment layouts, shared-memory offsets, cp.async group waits, barriers and masks of a kernel are
 *     checked on a machine without a GPU (tests/test_cuda_emu.cc).
 * Kernel bodies written against this header take their thread / block indices and shared memory as
 * arguments (no threadIdx, no __shared__), and use only these primitives for anything warp-collective. */
#ifndef RR_CUDA_SIMT_H
#define RR_CUDA_SIMT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#define RR_DEV __device__ __forceinline__
#define RR_UNROLL _Pragma("unroll")

namespace rr_simt {

typedef __half f16;
typedef __nv_bfloat16 bf16;
typedef uint4 u128; /* 16 bytes, 16-byte aligned */

RR_DEV void bar() { __syncthreads(); }
RR_DEV float shfl_xor(float v, int mask) { return __shfl_xor_sync(0xffffffffu, v, mask); }
RR_DEV float ex2(float x) { /* 2^x, approximate (2 ulp), -inf -> 0 */
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/* Four 8x8 b16 matrices from shared memory: lanes 8m..8m+7 give the row addresses of matrix m; r[m] of lane
 * i holds row i/4, columns 2(i%4), 2(i%4)+1 (ldsm_x4) or, transposed, column i/4, rows 2(i%4), 2(i%4)+1
 * (ldsm_x4_t). */
RR_DEV void ldsm_x4(uint32_t r[4], const void *p) {
    const uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a)
                 : "memory");
}
RR_DEV void ldsm_x4_t(uint32_t r[4], const void *p) {
    const uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a)
                 : "memory");
}

/* d (16x8 fp32) += a (16x16, row) * b (16x8, col) on tensor cores; T = f16 or bf16. */
template <typename T> RR_DEV void mma16816(float d[4], const uint32_t a[4], const uint32_t b0, const uint32_t b1);
template <> RR_DEV void mma16816<f16>(float d[4], const uint32_t a[4], const uint32_t b0, const uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <> RR_DEV void mma16816<bf16>(float d[4], const uint32_t a[4], const uint32_t b0, const uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* 16 bytes global -> shared without registers; the first src_bytes (0 or 16) are read, the rest zero-filled.
 * src must be a valid global address even when src_bytes is 0. */
RR_DEV void cp_async16(void *smem, const void *src, int src_bytes) {
    const uint32_t s = (uint32_t)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(src_bytes) : "memory");
}
RR_DEV void cp_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
/* Wait until at most N of this thread's committed groups are still in flight. */
template <int N> RR_DEV void cp_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

RR_DEV float to_f32(f16 v) { return __half2float(v); }
RR_DEV float to_f32(bf16 v) { return __bfloat162float(v); }
RR_DEV float to_f32(float v) { return v; }
template <typename T> RR_DEV T from_f32(float v);
template <> RR_DEV f16 from_f32<f16>(float v) { return __float2half_rn(v); }
template <> RR_DEV bf16 from_f32<bf16>(float v) { return __float2bfloat16_rn(v); }
template <> RR_DEV float from_f32<float>(float v) { return v; }
/* Two values as one 32-bit register, lo in the low half (the element with the lower index). */
template <typename T> RR_DEV uint32_t pack2(float lo, float hi);
template <> RR_DEV uint32_t pack2<f16>(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *(uint32_t *)&h;
}
template <> RR_DEV uint32_t pack2<bf16>(float lo, float hi) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *(uint32_t *)&h;
}
/* The two values of a packed register. */
template <typename T> RR_DEV void unpack2(uint32_t v, float *lo, float *hi);
template <> RR_DEV void unpack2<f16>(uint32_t v, float *lo, float *hi) {
    __half2 h = *(__half2 *)&v;
    float2 f = __half22float2(h);
    *lo = f.x;
    *hi = f.y;
}
template <> RR_DEV void unpack2<bf16>(uint32_t v, float *lo, float *hi) {
    __nv_bfloat162 h = *(__nv_bfloat162 *)&v;
    float2 f = __bfloat1622float2(h);
    *lo = f.x;
    *hi = f.y;
}
/* Two floats as two FP8 E4M3 values (saturating to +-448, round to nearest even), lo in the low byte. */
RR_DEV uint16_t pack2_e4m3(float lo, float hi) {
    return (uint16_t)__nv_cvt_float2_to_fp8x2(make_float2(lo, hi), __NV_SATFINITE, __NV_E4M3);
}

/* 8 consecutive values (16- or 32-byte aligned) as floats, and back. */
RR_DEV void ld8(const float *p, float v[8]) {
    const float4 a = ((const float4 *)p)[0], b = ((const float4 *)p)[1];
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
RR_DEV void st8(float *p, const float v[8]) {
    ((float4 *)p)[0] = make_float4(v[0], v[1], v[2], v[3]);
    ((float4 *)p)[1] = make_float4(v[4], v[5], v[6], v[7]);
}
template <typename T> RR_DEV void ld8(const T *p, float v[8]) {
    const uint4 a = *(const uint4 *)p;
    unpack2<T>(a.x, &v[0], &v[1]);
    unpack2<T>(a.y, &v[2], &v[3]);
    unpack2<T>(a.z, &v[4], &v[5]);
    unpack2<T>(a.w, &v[6], &v[7]);
}
template <typename T> RR_DEV void st8(T *p, const float v[8]) {
    *(uint4 *)p = make_uint4(pack2<T>(v[0], v[1]), pack2<T>(v[2], v[3]), pack2<T>(v[4], v[5]), pack2<T>(v[6], v[7]));
}
/* 8 values * mul as E4M3 (8-byte aligned). */
RR_DEV void st8_e4m3(uint8_t *p, const float v[8], float mul) {
    *(uint2 *)p = make_uint2((uint32_t)pack2_e4m3(v[0] * mul, v[1] * mul) | (uint32_t)pack2_e4m3(v[2] * mul, v[3] * mul) << 16,
                             (uint32_t)pack2_e4m3(v[4] * mul, v[5] * mul) | (uint32_t)pack2_e4m3(v[6] * mul, v[7] * mul) << 16);
}
RR_DEV float erf_(float x) { return erff(x); }
RR_DEV float tanh_(float x) { return tanhf(x); }
RR_DEV float exp_(float x) { return __expf(x); }
RR_DEV float rsqrt_(float x) { return rsqrtf(x); }

} /* namespace rr_simt */

#else /* host emulation: implemented by tests/simt_emu.cc */

#define RR_DEV inline
#define RR_UNROLL

namespace rr_simt {

struct f16 {
    uint16_t x;
};
struct bf16 {
    uint16_t x;
};
struct alignas(16) u128 {
    uint32_t x, y, z, w;
};

void bar();
float shfl_xor(float v, int mask);
float ex2(float x);
void ldsm_x4(uint32_t r[4], const void *p);
void ldsm_x4_t(uint32_t r[4], const void *p);
void mma16816_f16(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1);
void mma16816_bf16(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1);
template <typename T> inline void mma16816(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1);
template <> inline void mma16816<f16>(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    mma16816_f16(d, a, b0, b1);
}
template <> inline void mma16816<bf16>(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    mma16816_bf16(d, a, b0, b1);
}
void cp_async16(void *smem, const void *src, int src_bytes);
void cp_commit();
void cp_wait_n(int n);
template <int N> inline void cp_wait() { cp_wait_n(N); }

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
uint8_t f32_to_e4m3(float f);
float e4m3_to_f32(uint8_t v);

inline float to_f32(f16 v) { return f16_to_f32(v.x); }
inline float to_f32(bf16 v) { return bf16_to_f32(v.x); }
inline float to_f32(float v) { return v; }
template <typename T> inline T from_f32(float v);
template <> inline f16 from_f32<f16>(float v) { return f16{f32_to_f16(v)}; }
template <> inline bf16 from_f32<bf16>(float v) { return bf16{f32_to_bf16(v)}; }
template <> inline float from_f32<float>(float v) { return v; }
template <typename T> inline uint32_t pack2(float lo, float hi) {
    return (uint32_t)from_f32<T>(lo).x | (uint32_t)from_f32<T>(hi).x << 16;
}
template <typename T> inline void unpack2(uint32_t v, float *lo, float *hi) {
    *lo = to_f32(T{(uint16_t)(v & 0xffffu)});
    *hi = to_f32(T{(uint16_t)(v >> 16)});
}
inline uint16_t pack2_e4m3(float lo, float hi) { return (uint16_t)(f32_to_e4m3(lo) | f32_to_e4m3(hi) << 8); }

inline void ld8(const float *p, float v[8]) {
    for (int i = 0; i < 8; i++) v[i] = p[i];
}
inline void st8(float *p, const float v[8]) {
    for (int i = 0; i < 8; i++) p[i] = v[i];
}
template <typename T> inline void ld8(const T *p, float v[8]) {
    for (int i = 0; i < 8; i++) v[i] = to_f32(p[i]);
}
template <typename T> inline void st8(T *p, const float v[8]) {
    for (int i = 0; i < 8; i++) p[i] = from_f32<T>(v[i]);
}
inline void st8_e4m3(uint8_t *p, const float v[8], float mul) {
    for (int i = 0; i < 8; i++) p[i] = f32_to_e4m3(v[i] * mul);
}
inline float erf_(float x) { return erff(x); }
inline float tanh_(float x) { return tanhf(x); }
inline float exp_(float x) { return expf(x); }
inline float rsqrt_(float x) { return 1.0f / sqrtf(x); }

} /* namespace rr_simt */

#endif
#endif
