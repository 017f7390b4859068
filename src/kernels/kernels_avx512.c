/* kernels_avx512.c — AVX-512 (F/DQ/BW/VL) variants of rr_kernels_t, 16
 * floats a vector, tails by masked loads. Only called when the CPU has it. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/pack512.h"

#define TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* Same approximation as exp8 in kernels_avx2.c; vscalefps applies 2^n
 * (and overflows to inf past 88.7), so only the low end is clamped, where
 * results would turn subnormal. */
TARGET static inline __m512 exp16(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

TARGET static void add_layernorm(float *x, const float *res, const float *g, const float *b, int64_t h,
                                 float eps) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < h; i += 16) {
        __mmask16 m = tail_mask(h - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        if (res) {
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + i));
            _mm512_mask_storeu_ps(x + i, m, v);
        }
        acc = _mm512_add_ps(acc, v);
    }
    float mean = _mm512_reduce_add_ps(acc) / (float)h;
    __m512 vm = _mm512_set1_ps(mean);
    acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < h; i += 16) {
        __mmask16 m = tail_mask(h - i);
        __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), vm);
        acc = _mm512_fmadd_ps(d, d, acc);
    }
    __m512 vi = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(acc) / (float)h + eps));
    for (int64_t i = 0; i < h; i += 16) {
        __mmask16 m = tail_mask(h - i);
        __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm), vi);
        d = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m, g + i), _mm512_maskz_loadu_ps(m, b + i));
        _mm512_mask_storeu_ps(x + i, m, d);
    }
}

TARGET static void rms_norm(float *x, const float *g, int64_t h, float eps) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < h; i += 16) {
        __m512 v = _mm512_maskz_loadu_ps(tail_mask(h - i), x + i);
        acc = _mm512_fmadd_ps(v, v, acc);
    }
    __m512 vi = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(acc) / (float)h + eps));
    for (int64_t i = 0; i < h; i += 16) {
        __mmask16 m = tail_mask(h - i);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vi);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, g + i), v));
    }
}

TARGET static void silu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), v)); /* exp(-x); inf past 88.7 */
        _mm512_mask_storeu_ps(x + i, m, _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e)));
    }
}

TARGET static inline __m512 gelu16(__m512 x) {
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps((float)M_SQRT1_2));
    __m512 az = _mm512_abs_ps(z);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f),
                             _mm512_fmadd_ps(az, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    __m512 e = exp16(_mm512_fnmadd_ps(az, az, _mm512_setzero_ps())); /* exp(-z^2) */
    __m512 erf_abs = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
    /* erf = erf_abs with z's sign bit: one bitwise select (A ? B : C) */
    __m512 erf = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        _mm512_set1_epi32((int)0x80000000u), _mm512_castps_si512(z), _mm512_castps_si512(erf_abs), 0xCA));
    __m512 hx = _mm512_mul_ps(_mm512_set1_ps(0.5f), x);
    return _mm512_fmadd_ps(hx, erf, hx); /* x/2 (1 + erf) */
}

TARGET static void gelu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, gelu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* Two vectors a step: two independent max and sum chains. */
TARGET static float softmax(float *x, int64_t n) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m0 = ninf, m1 = ninf;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + i + 16));
    }
    for (; i < n; i += 16) m0 = _mm512_max_ps(m0, _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i));
    const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(m0, m1)));
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    for (i = 0; i + 32 <= n; i += 32) {
        const __m512 e0 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm)),
                     e1 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vm));
        _mm512_storeu_ps(x + i, e0);
        _mm512_storeu_ps(x + i + 16, e1);
        a0 = _mm512_add_ps(a0, e0);
        a1 = _mm512_add_ps(a1, e1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm));
        _mm512_mask_storeu_ps(x + i, m, e);
        a0 = _mm512_add_ps(a0, _mm512_maskz_mov_ps(m, e));
    }
    return 1.0f / _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

/* One gather per panel row: lane i reads channel c of key j0 + i (lanes
 * past n read nothing and write 0). */
TARGET static void pack_keys(const float *k, int64_t ldk, int64_t n, int64_t d, float *kp) {
    if (ldk > INT32_MAX / 16) { /* gather offsets are 32-bit */
        rr_kernels_scalar.pack_keys(k, ldk, n, d, kp);
        return;
    }
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int32_t)ldk));
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        const __mmask16 m = tail_mask(n - j0);
        const float *base = k + j0 * ldk;
        float *panel = kp + j0 * d;
        for (int64_t c = 0; c < d; c++)
            _mm512_storeu_ps(panel + c * 16, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, base + c, 4));
    }
}

#define FMA2(a0, a1, b, k0, k1) (a0 = _mm512_fmadd_ps(b, k0, a0), a1 = _mm512_fmadd_ps(b, k1, a1))

/* 8 query rows x 32 key columns (two panels) per tile: 16 accumulators,
 * each pair of key loads feeds 8 rows; a last single-panel tile. */
TARGET static void scores(const float *q, int64_t ldq, int64_t rows, const float *kp, int64_t ncols, int64_t d,
                          float scale, float *s, int64_t lds) {
    const __m512 vs = _mm512_set1_ps(scale);
    for (int64_t r = 0; r < rows; r += 8) {
        const int64_t nr = rows - r < 8 ? rows - r : 8;
        /* rows past the end repeat row r (computed, not stored) */
        const float *q0 = q + r * ldq, *q1 = q0 + (nr > 1) * ldq, *q2 = q0 + (nr > 2) * 2 * ldq,
                    *q3 = q0 + (nr > 3) * 3 * ldq, *q4 = q0 + (nr > 4) * 4 * ldq, *q5 = q0 + (nr > 5) * 5 * ldq,
                    *q6 = q0 + (nr > 6) * 6 * ldq, *q7 = q0 + (nr > 7) * 7 * ldq;
        for (int64_t j = 0; j < ncols; j += 32) {
            const int two = j + 32 <= ncols; /* else one panel: the second is the first again */
            const float *k0p = kp + j * d, *k1p = two ? k0p + 16 * d : k0p;
            __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
                   a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00, a60 = a00, a61 = a00, a70 = a00, a71 = a00;
            for (int64_t c = 0; c < d; c++) {
                const __m512 k0 = _mm512_loadu_ps(k0p + c * 16), k1 = _mm512_loadu_ps(k1p + c * 16);
                FMA2(a00, a01, _mm512_set1_ps(q0[c]), k0, k1);
                FMA2(a10, a11, _mm512_set1_ps(q1[c]), k0, k1);
                FMA2(a20, a21, _mm512_set1_ps(q2[c]), k0, k1);
                FMA2(a30, a31, _mm512_set1_ps(q3[c]), k0, k1);
                FMA2(a40, a41, _mm512_set1_ps(q4[c]), k0, k1);
                FMA2(a50, a51, _mm512_set1_ps(q5[c]), k0, k1);
                FMA2(a60, a61, _mm512_set1_ps(q6[c]), k0, k1);
                FMA2(a70, a71, _mm512_set1_ps(q7[c]), k0, k1);
            }
            const __m512 acc[8][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31},
                                      {a40, a41}, {a50, a51}, {a60, a61}, {a70, a71}};
            for (int64_t k = 0; k < nr; k++) {
                _mm512_storeu_ps(s + (r + k) * lds + j, _mm512_mul_ps(acc[k][0], vs));
                if (two) _mm512_storeu_ps(s + (r + k) * lds + j + 16, _mm512_mul_ps(acc[k][1], vs));
            }
        }
    }
}

/* 4 rows x 64 columns per tile (16 accumulators; each v load feeds 4
 * rows), then 16-column masked tiles. */
TARGET static void weighted_sum(const float *p, int64_t ldp, int64_t rows, int64_t n, const float *v, int64_t ldv,
                                int64_t d, const float *scale, float *o, int64_t ldo) {
    for (int64_t r = 0; r < rows; r += 4) {
        const int64_t nr = rows - r < 4 ? rows - r : 4;
        const float *pr[4];
        for (int64_t k = 0; k < 4; k++) pr[k] = p + (r + (k < nr ? k : 0)) * ldp;
        int64_t c = 0;
        for (; c + 64 <= d; c += 64) {
            /* named accumulators: gcc -O2 keeps arrays of vectors in memory */
            __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00,
                   a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            for (int64_t j = 0; j < n; j++) {
                const float *vr = v + j * ldv + c;
                __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16), v2 = _mm512_loadu_ps(vr + 32),
                       v3 = _mm512_loadu_ps(vr + 48);
                __m512 b = _mm512_set1_ps(pr[0][j]);
                a00 = _mm512_fmadd_ps(b, v0, a00); a01 = _mm512_fmadd_ps(b, v1, a01);
                a02 = _mm512_fmadd_ps(b, v2, a02); a03 = _mm512_fmadd_ps(b, v3, a03);
                b = _mm512_set1_ps(pr[1][j]);
                a10 = _mm512_fmadd_ps(b, v0, a10); a11 = _mm512_fmadd_ps(b, v1, a11);
                a12 = _mm512_fmadd_ps(b, v2, a12); a13 = _mm512_fmadd_ps(b, v3, a13);
                b = _mm512_set1_ps(pr[2][j]);
                a20 = _mm512_fmadd_ps(b, v0, a20); a21 = _mm512_fmadd_ps(b, v1, a21);
                a22 = _mm512_fmadd_ps(b, v2, a22); a23 = _mm512_fmadd_ps(b, v3, a23);
                b = _mm512_set1_ps(pr[3][j]);
                a30 = _mm512_fmadd_ps(b, v0, a30); a31 = _mm512_fmadd_ps(b, v1, a31);
                a32 = _mm512_fmadd_ps(b, v2, a32); a33 = _mm512_fmadd_ps(b, v3, a33);
            }
            __m512 acc[4][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23}, {a30, a31, a32, a33}};
            for (int64_t k = 0; k < nr; k++) {
                const __m512 sk = _mm512_set1_ps(scale[r + k]);
                for (int u = 0; u < 4; u++) _mm512_storeu_ps(o + (r + k) * ldo + c + 16 * u, _mm512_mul_ps(acc[k][u], sk));
            }
        }
        for (; c < d; c += 16) {
            __mmask16 m = tail_mask(d - c);
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t j = 0; j < n; j++) {
                __m512 vv = _mm512_maskz_loadu_ps(m, v + j * ldv + c);
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(pr[0][j]), vv, a0);
                a1 = _mm512_fmadd_ps(_mm512_set1_ps(pr[1][j]), vv, a1);
                a2 = _mm512_fmadd_ps(_mm512_set1_ps(pr[2][j]), vv, a2);
                a3 = _mm512_fmadd_ps(_mm512_set1_ps(pr[3][j]), vv, a3);
            }
            __m512 acc[4] = {a0, a1, a2, a3};
            for (int64_t k = 0; k < nr; k++)
                _mm512_mask_storeu_ps(o + (r + k) * ldo + c, m, _mm512_mul_ps(acc[k], _mm512_set1_ps(scale[r + k])));
        }
    }
}

/* quantize_u8 of a row whose range [lo, hi] (lo <= 0 <= hi, NaN ignored)
 * is known. */
TARGET static void quantize_u8_in(const float *x, int64_t k, float lo, float hi, uint8_t *q, float *scale,
                                  int32_t *zero) {
    float s = hi > lo ? (hi - lo) / 255.0f : 1.0f, inv = 1.0f / s;
    float z = nearbyintf(-lo * inv);
    /* round(x / scale) + zero in integers: vcvtps2dq rounds half to even
     * like nearbyintf, and turns NaN (and inf * 0) into INT_MIN, which the
     * clamp sends to 0 as the reference does. Finite sums stay within
     * [-1, 256], so the saturating packs are the clamp. */
    const int32_t zi = (int32_t)z;
    const __m512 vi = _mm512_set1_ps(inv);
    const __m512i vz = _mm512_set1_epi32(zi), lo8 = _mm512_setzero_si512(), hi8 = _mm512_set1_epi32(255);
#define QROUND(off) _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i + (off)), vi)), vz)
    int64_t i = 0;
    for (; i + 64 <= k; i += 64) _mm512_storeu_si512(q + i, rr_pack_u8x64(QROUND(0), QROUND(16), QROUND(32), QROUND(48)));
#undef QROUND
    for (; i < k; i += 16) {
        const __mmask16 m = tail_mask(k - i);
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vi));
        v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, vz), lo8), hi8);
        _mm512_mask_cvtepi32_storeu_epi8(q + i, m, v);
    }
    *scale = s;
    *zero = zi;
}

TARGET static void quantize_u8(const float *x, int64_t k, uint8_t *q, float *scale, int32_t *zero) {
    __m512 vlo = _mm512_setzero_ps(), vhi = vlo;
    for (int64_t i = 0; i < k; i += 16) {
        __m512 v = _mm512_maskz_loadu_ps(tail_mask(k - i), x + i); /* masked lanes read 0: in range */
        vlo = _mm512_min_ps(v, vlo);                                /* NaN in v: keeps vlo */
        vhi = _mm512_max_ps(v, vhi);
    }
    quantize_u8_in(x, k, _mm512_reduce_min_ps(vlo), _mm512_reduce_max_ps(vhi), q, scale, zero);
}

/* rr_f32_to_bf16 on every value (rr_bf16_bits16). */
TARGET static void to_bf16(const float *x, int64_t n, uint16_t *y) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) /* whole vectors, then the masked tail */
        _mm512_storeu_si512(y + i, rr_pack_u16x32(rr_bf16_bits16(_mm512_loadu_ps(x + i)),
                                                  rr_bf16_bits16(_mm512_loadu_ps(x + i + 16))));
    for (; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_cvtepi32_storeu_epi16(y + i, m, rr_bf16_bits16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

TARGET static void mul(float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(a + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}

TARGET static void rope(float *x, const float *cs, const float *sn, int64_t half) {
    for (int64_t i = 0; i < half; i += 16) {
        const __mmask16 m = tail_mask(half - i);
        const __m512 x1 = _mm512_maskz_loadu_ps(m, x + i), x2 = _mm512_maskz_loadu_ps(m, x + i + half),
                     c = _mm512_maskz_loadu_ps(m, cs + i), s = _mm512_maskz_loadu_ps(m, sn + i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_sub_ps(_mm512_mul_ps(x1, c), _mm512_mul_ps(x2, s)));
        _mm512_mask_storeu_ps(x + i + half, m, _mm512_add_ps(_mm512_mul_ps(x2, c), _mm512_mul_ps(x1, s)));
    }
}

/* dequant's value for the 16 (m) columns at j. */
TARGET static inline __m512 dequant16(const float *raw, const float *ws, const float *wz, __m512 vz, __m512 vs,
                                      const float *b, int64_t j, __mmask16 m) {
    __m512 t = _mm512_maskz_loadu_ps(m, raw + j);
    if (ws) t = _mm512_mul_ps(t, _mm512_maskz_loadu_ps(m, ws + j));
    if (wz) t = _mm512_fnmadd_ps(vz, _mm512_maskz_loadu_ps(m, wz + j), t);
    return b ? _mm512_fmadd_ps(t, vs, _mm512_maskz_loadu_ps(m, b + j)) : _mm512_mul_ps(t, vs);
}

TARGET static void dequant(float *y, const float *raw, const float *ws, const float *wz, float zero, float scale,
                           const float *b, int64_t n, int accumulate) {
    const __m512 vz = _mm512_set1_ps(zero), vs = _mm512_set1_ps(scale);
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = tail_mask(n - j);
        __m512 t = dequant16(raw, ws, wz, vz, vs, b, j, m);
        if (accumulate) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, y + j));
        _mm512_mask_storeu_ps(y + j, m, t);
    }
}

/* One pass dequantizes, applies GELU, stores the row in tmp and keeps its
 * range (masked lanes are 0, as quantize_u8's loads make them); the second
 * quantizes it. */
TARGET static void dequant_gelu_u8(const float *raw, const float *ws, const float *wz, float zero, float scale,
                                   const float *b, int64_t n, float *tmp, uint8_t *q, float *qscale,
                                   int32_t *qzero) {
    const __m512 vz = _mm512_set1_ps(zero), vs = _mm512_set1_ps(scale);
    __m512 vlo = _mm512_setzero_ps(), vhi = vlo;
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = tail_mask(n - j);
        const __m512 t = _mm512_maskz_mov_ps(m, gelu16(dequant16(raw, ws, wz, vz, vs, b, j, m)));
        vlo = _mm512_min_ps(t, vlo); /* NaN in t: keeps vlo */
        vhi = _mm512_max_ps(t, vhi);
        _mm512_mask_storeu_ps(tmp + j, m, t);
    }
    quantize_u8_in(tmp, n, _mm512_reduce_min_ps(vlo), _mm512_reduce_max_ps(vhi), q, qscale, qzero);
}

RR_DEFINE_DEQUANT_ROWS(TARGET, dequant)

const rr_kernels_t rr_kernels_avx512 = {
    .name = "avx512",
    .add_layernorm = add_layernorm,
    .rms_norm = rms_norm,
    .gelu = gelu,
    .silu = silu,
    .mul = mul,
    .rope = rope,
    .softmax = softmax,
    .pack_keys = pack_keys,
    .scores = scores,
    .weighted_sum = weighted_sum,
    .quantize_u8 = quantize_u8,
    .to_bf16 = to_bf16,
    .dequant = dequant,
    .dequant_rows = dequant_rows,
    .dequant_gelu_u8 = dequant_gelu_u8,
};
