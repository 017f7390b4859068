/* attention_simd512.h — AVX-512 pieces the attention files share: exp2,
 * lane masks, the score row's mask-and-max pass (bf16 rounding and packs:
 * pack512.h) (internal
 * to src/kernels; every function is static inline with its target). */
#ifndef RR_KERNELS_ATTENTION_SIMD512_H
#define RR_KERNELS_ATTENTION_SIMD512_H

#include <immintrin.h>

#include "kernels/attention_util.h"
#include "kernels/pack512.h"

#define RR_T512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))

static inline __mmask16 rr_tail16(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
}

/* Lanes jj .. jj + 15 that lie in [a, b). */
static inline __mmask16 rr_span16(int64_t jj, int64_t a, int64_t b) {
    const uint32_t lo = a - jj <= 0 ? 0xffffu : a - jj >= 16 ? 0u : (0xffffu << (a - jj)) & 0xffffu;
    const uint32_t hi = b - jj >= 16 ? 0xffffu : b - jj <= 0 ? 0u : (1u << (b - jj)) - 1;
    return (__mmask16)(lo & hi);
}

/* acc += a . b in place: u8 x s8 quads (vpdpbusd) or bf16 pairs (vdpbf16ps).
 * Written as asm because gcc 12 surrounds the intrinsics with register
 * copies of the accumulator (1.5x slower score and P V loops). b may be a
 * memory operand. */
/* gcc's _tile_loadd reads memory without saying so (no "memory" clobber):
 * AMX kernels start with this barrier so that the stores which made their
 * operands (packing, softmax) are not moved past the tile loads. */
#define RR_AMX_OPERANDS_READY() __asm__ volatile("" ::: "memory")
#define RR_DPBUSD(acc, a, b) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(b))
#define RR_DPBF16(acc, a, b) __asm__("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(b))

static inline int32_t rr_ld32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* rr_attn_exp2_fine / _coarse on 16 lanes, bit for bit. */
RR_T512 static inline __m512 rr_exp2_fine16(__m512 x) {
    const __mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(RR_ATTN_EXP2_MIN), _CMP_GE_OQ);
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), f = _mm512_sub_ps(x, n);
    const float c[5] = {RR_ATTN_F5};
    __m512 p = _mm512_set1_ps(c[4]);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c[3]));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c[2]));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c[1]));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c[0]));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(ok, p, n);
}

RR_T512 static inline __m512 rr_exp2_coarse16(__m512 x) {
    const __mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(RR_ATTN_EXP2_MIN), _CMP_GE_OQ);
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), f = _mm512_sub_ps(x, n);
    const float c[3] = {RR_ATTN_F3};
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(c[2]), f, _mm512_set1_ps(c[1]));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c[0]));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(ok, p, n);
}

/* One score row of ktp (a multiple of 32) values: lanes outside [a, b) set
 * to -inf (skipped when the row sees the whole padded tile); returns the max. */
RR_T512 static inline float rr_row_mask_max(float *s, int64_t ktp, int64_t a, int64_t b) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m0 = ninf, m1 = ninf;
    if (a == 0 && b == ktp) {
        for (int64_t jj = 0; jj < ktp; jj += 32) {
            m0 = _mm512_max_ps(m0, _mm512_loadu_ps(s + jj));
            m1 = _mm512_max_ps(m1, _mm512_loadu_ps(s + jj + 16));
        }
    } else {
        for (int64_t jj = 0; jj < ktp; jj += 16) {
            const __m512 v = _mm512_mask_mov_ps(ninf, rr_span16(jj, a, b), _mm512_loadu_ps(s + jj));
            _mm512_storeu_ps(s + jj, v);
            m0 = _mm512_max_ps(m0, v);
        }
    }
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

/* In place: r[c] lane i <- r[i] lane c (a 16 x 16 matrix of 32-bit
 * elements): the key panels are the transpose of the key rows. 64 shuffles. */
RR_T512 static inline void rr_transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { /* r[i + e], lane l: rows i .. i + 3 at column 4 l + e */
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int e = 0; e < 4; e++) {
        const __m512i x0 = _mm512_shuffle_i32x4(r[e], r[4 + e], 0x44), x1 = _mm512_shuffle_i32x4(r[e], r[4 + e], 0xee),
                      y0 = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0x44),
                      y1 = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0xee);
        t[e] = _mm512_shuffle_i32x4(x0, y0, 0x88);
        t[4 + e] = _mm512_shuffle_i32x4(x0, y0, 0xdd);
        t[8 + e] = _mm512_shuffle_i32x4(x1, y1, 0x88);
        t[12 + e] = _mm512_shuffle_i32x4(x1, y1, 0xdd);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

/* The impl table's finish: out = acc * inv (* vfac), in that order.
 * Whole, aligned vectors go out with non-temporal stores: an output row is
 * d floats of a row whose other heads other calls write (ctx [n, heads *
 * d]), in lines the caches have not held since the previous layer, so a
 * normal store waits for each line to be read first; in the engine that
 * read took a fifth of int8 W1's attention time (README, "Attention output
 * stores"). rr_attn_drive fences them before it returns. */
RR_T512 static inline void rr_finish16(const float *acc, float inv, const float *vfac, int64_t d, float *out) {
    const __m512 vi = _mm512_set1_ps(inv);
    for (int64_t c = 0; c < d; c += 16) {
        const __mmask16 m = rr_tail16(d - c);
        __m512 x = _mm512_mul_ps(_mm512_loadu_ps(acc + c), vi);
        if (vfac) x = _mm512_mul_ps(x, _mm512_loadu_ps(vfac + c));
        if (m == 0xffff && !((uintptr_t)(out + c) & 63)) _mm512_stream_ps(out + c, x);
        else _mm512_mask_storeu_ps(out + c, m, x);
    }
}

#endif
