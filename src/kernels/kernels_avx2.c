/* kernels_avx2.c — AVX2 + FMA variants of rr_kernels_t (8 floats a vector).
 * Compiled for the target by attribute; only called when the CPU has it. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/kernels.h"

#define TARGET __attribute__((target("avx2,fma")))

/* exp(x) for x in float range: Cephes-style range reduction + degree-6
 * polynomial, ~1 ulp; inputs below -87.3 flush to 2^-126-ish, not denormals. */
TARGET static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

TARGET static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

TARGET static void rms_norm(float *x, const float *g, int64_t h, float eps) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= h; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        acc = _mm256_fmadd_ps(v, v, acc);
    }
    float ss = hsum8(acc);
    for (; i < h; i++) ss += x[i] * x[i];
    const float inv = 1.0f / sqrtf(ss / (float)h + eps);
    const __m256 vi = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= h; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(g + i), _mm256_mul_ps(_mm256_loadu_ps(x + i), vi)));
    for (; i < h; i++) x[i] = g[i] * (x[i] * inv);
}

TARGET static void silu(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e)));
    }
    for (; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

TARGET static inline float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

TARGET static void add_layernorm(float *x, const float *res, const float *g, const float *b, int64_t h,
                                 float eps) {
    int64_t i = 0;
    __m256 acc = _mm256_setzero_ps();
    float tail = 0;
    for (; i + 8 <= h; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        if (res) { v = _mm256_add_ps(v, _mm256_loadu_ps(res + i)); _mm256_storeu_ps(x + i, v); }
        acc = _mm256_add_ps(acc, v);
    }
    for (; i < h; i++) {
        if (res) x[i] += res[i];
        tail += x[i];
    }
    float mean = (hsum8(acc) + tail) / (float)h;
    __m256 vm = _mm256_set1_ps(mean);
    acc = _mm256_setzero_ps();
    tail = 0;
    for (i = 0; i + 8 <= h; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
        acc = _mm256_fmadd_ps(d, d, acc);
    }
    for (; i < h; i++) tail += (x[i] - mean) * (x[i] - mean);
    float inv = 1.0f / sqrtf((hsum8(acc) + tail) / (float)h + eps);
    __m256 vi = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= h; i += 8) {
        __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vi);
        _mm256_storeu_ps(x + i, _mm256_fmadd_ps(d, _mm256_loadu_ps(g + i), _mm256_loadu_ps(b + i)));
    }
    for (; i < h; i++) x[i] = (x[i] - mean) * inv * g[i] + b[i];
}

/* erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7). */
TARGET static inline __m256 gelu8(__m256 x) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    __m256 z = _mm256_mul_ps(x, _mm256_set1_ps((float)M_SQRT1_2));
    __m256 az = _mm256_andnot_ps(sign_mask, z);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(az, _mm256_set1_ps(0.3275911f),
                                                                   _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(az, az)));
    __m256 erf_abs = _mm256_fnmadd_ps(p, e, _mm256_set1_ps(1.0f));
    __m256 erf = _mm256_or_ps(erf_abs, _mm256_and_ps(sign_mask, z));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

/* The tails' GELU, one value (gelu's and dequant_gelu_u8's: the same bits). */
static inline float gelu1(float x) { return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2)); }

TARGET static void gelu(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) x[i] = gelu1(x[i]);
}

TARGET static float softmax(float *x, int64_t n) {
    int64_t i = 0;
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float mx = hmax8(vmax);
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    __m256 vm = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    float tail = 0;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    for (; i < n; i++) { x[i] = expf(x[i] - mx); tail += x[i]; }
    return 1.0f / (hsum8(acc) + tail);
}

/* Two 8-lane gathers per panel row (see the AVX-512 variant). */
TARGET static void pack_keys(const float *k, int64_t ldk, int64_t n, int64_t d, float *kp) {
    if (ldk > INT32_MAX / 16) { /* gather offsets are 32-bit */
        rr_kernels_scalar.pack_keys(k, ldk, n, d, kp);
        return;
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i idx = _mm256_mullo_epi32(lane, _mm256_set1_epi32((int32_t)ldk));
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        const float *base = k + j0 * ldk;
        float *panel = kp + j0 * d;
        const int64_t left = n - j0;
        /* lane i of half h is live if 8h + i < left */
        const __m256 m0 = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)(left < 8 ? left : 8)), lane));
        const __m256 m1 = _mm256_castsi256_ps(
            _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)(left < 16 ? (left > 8 ? left - 8 : 0) : 8)), lane));
        for (int64_t c = 0; c < d; c++) {
            _mm256_storeu_ps(panel + c * 16, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base + c, idx, m0, 4));
            _mm256_storeu_ps(panel + c * 16 + 8,
                             _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base + 8 * ldk + c, idx, m1, 4));
        }
    }
}

/* dst[0..16) = (lo | hi) * f: one output row of a 16-column tile. */
TARGET static inline void store16_scaled(float *dst, __m256 lo, __m256 hi, __m256 f) {
    _mm256_storeu_ps(dst, _mm256_mul_ps(lo, f));
    _mm256_storeu_ps(dst + 8, _mm256_mul_ps(hi, f));
}

/* 6 query rows x 16 key columns (one panel) per tile: 12 accumulators,
 * each pair of key loads feeds 6 rows (15 of the 16 ymm registers). */
TARGET static void scores(const float *q, int64_t ldq, int64_t rows, const float *kp, int64_t ncols, int64_t d,
                          float scale, float *s, int64_t lds) {
    const __m256 vs = _mm256_set1_ps(scale);
    for (int64_t r = 0; r < rows; r += 6) {
        const int64_t nr = rows - r < 6 ? rows - r : 6;
        /* rows past the end repeat row r (computed, not stored) */
        const float *q0 = q + r * ldq, *q1 = q0 + (nr > 1) * ldq, *q2 = q0 + (nr > 2) * 2 * ldq,
                    *q3 = q0 + (nr > 3) * 3 * ldq, *q4 = q0 + (nr > 4) * 4 * ldq, *q5 = q0 + (nr > 5) * 5 * ldq;
        for (int64_t j = 0; j < ncols; j += 16) {
            const float *pk = kp + j * d;
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
                   a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
            for (int64_t c = 0; c < d; c++) {
                const __m256 k0 = _mm256_loadu_ps(pk + c * 16), k1 = _mm256_loadu_ps(pk + c * 16 + 8);
                __m256 b = _mm256_broadcast_ss(q0 + c);
                a00 = _mm256_fmadd_ps(b, k0, a00); a01 = _mm256_fmadd_ps(b, k1, a01);
                b = _mm256_broadcast_ss(q1 + c);
                a10 = _mm256_fmadd_ps(b, k0, a10); a11 = _mm256_fmadd_ps(b, k1, a11);
                b = _mm256_broadcast_ss(q2 + c);
                a20 = _mm256_fmadd_ps(b, k0, a20); a21 = _mm256_fmadd_ps(b, k1, a21);
                b = _mm256_broadcast_ss(q3 + c);
                a30 = _mm256_fmadd_ps(b, k0, a30); a31 = _mm256_fmadd_ps(b, k1, a31);
                b = _mm256_broadcast_ss(q4 + c);
                a40 = _mm256_fmadd_ps(b, k0, a40); a41 = _mm256_fmadd_ps(b, k1, a41);
                b = _mm256_broadcast_ss(q5 + c);
                a50 = _mm256_fmadd_ps(b, k0, a50); a51 = _mm256_fmadd_ps(b, k1, a51);
            }
            float *sj = s + r * lds + j;
#define STORE_ROW(k, lo, hi) \
    if (nr > k) store16_scaled(sj + k * lds, lo, hi, vs);
            STORE_ROW(0, a00, a01) STORE_ROW(1, a10, a11) STORE_ROW(2, a20, a21)
            STORE_ROW(3, a30, a31) STORE_ROW(4, a40, a41) STORE_ROW(5, a50, a51)
#undef STORE_ROW
        }
    }
}

/* 4 rows x 16 columns per tile (8 accumulators; each v load feeds 4 rows),
 * then 8-column tiles, then single columns. Named row pointers and no
 * array of accumulators: with either, gcc kept an accumulator on the stack
 * inside the loop (39 against 80 GFLOP/s). */
TARGET static void weighted_sum(const float *p, int64_t ldp, int64_t rows, int64_t n, const float *v, int64_t ldv,
                                int64_t d, const float *scale, float *o, int64_t ldo) {
    for (int64_t r = 0; r < rows; r += 4) {
        const int64_t nr = rows - r < 4 ? rows - r : 4;
        /* rows past the end repeat row r (computed, not stored) */
        const float *p0 = p + r * ldp, *p1 = p0 + (nr > 1) * ldp, *p2 = p0 + (nr > 2) * 2 * ldp,
                    *p3 = p0 + (nr > 3) * 3 * ldp;
        const float *pr[4] = {p0, p1, p2, p3};
        int64_t c = 0;
        for (; c + 16 <= d; c += 16) {
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
                   a31 = a00;
            const float *vc = v + c;
            for (int64_t j = 0; j < n; j++, vc += ldv) {
                const __m256 v0 = _mm256_loadu_ps(vc), v1 = _mm256_loadu_ps(vc + 8);
                __m256 b = _mm256_broadcast_ss(p0 + j);
                a00 = _mm256_fmadd_ps(b, v0, a00); a01 = _mm256_fmadd_ps(b, v1, a01);
                b = _mm256_broadcast_ss(p1 + j);
                a10 = _mm256_fmadd_ps(b, v0, a10); a11 = _mm256_fmadd_ps(b, v1, a11);
                b = _mm256_broadcast_ss(p2 + j);
                a20 = _mm256_fmadd_ps(b, v0, a20); a21 = _mm256_fmadd_ps(b, v1, a21);
                b = _mm256_broadcast_ss(p3 + j);
                a30 = _mm256_fmadd_ps(b, v0, a30); a31 = _mm256_fmadd_ps(b, v1, a31);
            }
            float *oc = o + r * ldo + c;
#define STORE_ROW(k, lo, hi) \
    if (nr > k) store16_scaled(oc + k * ldo, lo, hi, _mm256_set1_ps(scale[r + k]));
            STORE_ROW(0, a00, a01) STORE_ROW(1, a10, a11) STORE_ROW(2, a20, a21) STORE_ROW(3, a30, a31)
#undef STORE_ROW
        }
        for (int64_t k = 0; k < nr; k++) {
            const float *pk = pr[k];
            float *ok = o + (r + k) * ldo;
            int64_t cc = c;
            for (; cc + 8 <= d; cc += 8) {
                __m256 a0 = _mm256_setzero_ps();
                for (int64_t j = 0; j < n; j++)
                    a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(pk + j), _mm256_loadu_ps(v + j * ldv + cc), a0);
                _mm256_storeu_ps(ok + cc, _mm256_mul_ps(a0, _mm256_set1_ps(scale[r + k])));
            }
            for (; cc < d; cc++) {
                float a = 0;
                for (int64_t j = 0; j < n; j++) a += pk[j] * v[j * ldv + cc];
                ok[cc] = a * scale[r + k];
            }
        }
    }
}

/* quantize_u8 of a row whose range [lo, hi] (lo <= 0 <= hi, NaN ignored)
 * is known. */
TARGET static void quantize_u8_in(const float *x, int64_t k, float lo, float hi, uint8_t *q, float *scale,
                                  int32_t *zero) {
    float s = hi > lo ? (hi - lo) / 255.0f : 1.0f, inv = 1.0f / s;
    float z = nearbyintf(-lo * inv);
    __m256 vi = _mm256_set1_ps(inv), vz = _mm256_set1_ps(z), v0 = _mm256_setzero_ps(), v255 = _mm256_set1_ps(255.0f);
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vi), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, vz), v0), v255); /* NaN -> 0 */
        __m256i w = _mm256_cvtps_epi32(v);
        __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        _mm_storel_epi64((__m128i *)(q + i), _mm_packus_epi16(p16, p16));
    }
    for (; i < k; i++) {
        float v = nearbyintf(x[i] * inv) + z;
        q[i] = (uint8_t)(v > 255.0f ? 255.0f : v >= 0.0f ? v : 0.0f);
    }
    *scale = s;
    *zero = (int32_t)z;
}

/* The lanes' min / max folded into *lo / *hi (which start at 0). */
TARGET static void fold_range(__m256 vlo, __m256 vhi, float *lo, float *hi) {
    float l8[8], h8[8];
    _mm256_storeu_ps(l8, vlo);
    _mm256_storeu_ps(h8, vhi);
    for (int j = 0; j < 8; j++) {
        *lo = l8[j] < *lo ? l8[j] : *lo;
        *hi = h8[j] > *hi ? h8[j] : *hi;
    }
}

TARGET static void quantize_u8(const float *x, int64_t k, uint8_t *q, float *scale, int32_t *zero) {
    __m256 vlo = _mm256_setzero_ps(), vhi = vlo;
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        vlo = _mm256_min_ps(v, vlo); /* NaN in v: keeps vlo */
        vhi = _mm256_max_ps(v, vhi);
    }
    float lo = 0, hi = 0;
    fold_range(vlo, vhi, &lo, &hi);
    for (; i < k; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    quantize_u8_in(x, k, lo, hi, q, scale, zero);
}

/* rr_f32_to_bf16 on 8 lanes (see the AVX-512 variant); the tail in scalar. */
TARGET static void to_bf16(const float *x, int64_t n, uint16_t *y) {
    const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff), abs = _mm256_set1_epi32(0x7fffffff),
                  inf = _mm256_set1_epi32(0x7f800000), quiet = _mm256_set1_epi32(0x40);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i b = _mm256_loadu_si256((const __m256i *)(x + i));
        /* |b| > inf as signed compare: both sides are non-negative */
        const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, abs), inf);
        const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(b, 16), one);
        const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(b, _mm256_add_epi32(bias, odd)), 16);
        const __m256i qn = _mm256_or_si256(_mm256_srli_epi32(b, 16), quiet);
        const __m256i v = _mm256_blendv_epi8(r, qn, nan); /* each lane <= 0xffff */
        const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storeu_si128((__m128i *)(y + i), packed);
    }
    for (; i < n; i++) y[i] = rr_f32_to_bf16(x[i]);
}

TARGET static void mul(float *a, const float *b, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(a + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) a[i] *= b[i];
}

TARGET static void rope(float *x, const float *cs, const float *sn, int64_t half) {
    int64_t i = 0;
    for (; i + 8 <= half; i += 8) {
        const __m256 x1 = _mm256_loadu_ps(x + i), x2 = _mm256_loadu_ps(x + i + half), c = _mm256_loadu_ps(cs + i),
                     s = _mm256_loadu_ps(sn + i);
        _mm256_storeu_ps(x + i, _mm256_sub_ps(_mm256_mul_ps(x1, c), _mm256_mul_ps(x2, s)));
        _mm256_storeu_ps(x + i + half, _mm256_add_ps(_mm256_mul_ps(x2, c), _mm256_mul_ps(x1, s)));
    }
    for (; i < half; i++) {
        const float x1 = x[i], x2 = x[i + half];
        x[i] = x1 * cs[i] - x2 * sn[i];
        x[i + half] = x2 * cs[i] + x1 * sn[i];
    }
}

/* dequant's value of column j, one value (the tail) or 8 (dequant8). */
static inline float dequant1(const float *raw, const float *ws, const float *wz, float zero, float scale,
                             const float *b, int64_t j) {
    return ((ws ? raw[j] * ws[j] : raw[j]) - (wz ? zero * wz[j] : 0.0f)) * scale + (b ? b[j] : 0.0f);
}

TARGET static inline __m256 dequant8(const float *raw, const float *ws, const float *wz, __m256 vz, __m256 vs,
                                     const float *b, int64_t j) {
    __m256 t = _mm256_loadu_ps(raw + j);
    if (ws) t = _mm256_mul_ps(t, _mm256_loadu_ps(ws + j));
    if (wz) t = _mm256_fnmadd_ps(vz, _mm256_loadu_ps(wz + j), t);
    return b ? _mm256_fmadd_ps(t, vs, _mm256_loadu_ps(b + j)) : _mm256_mul_ps(t, vs);
}

TARGET static void dequant(float *y, const float *raw, const float *ws, const float *wz, float zero, float scale,
                           const float *b, int64_t n, int accumulate) {
    const __m256 vz = _mm256_set1_ps(zero), vs = _mm256_set1_ps(scale);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 t = dequant8(raw, ws, wz, vz, vs, b, j);
        if (accumulate) t = _mm256_add_ps(t, _mm256_loadu_ps(y + j));
        _mm256_storeu_ps(y + j, t);
    }
    for (; j < n; j++) {
        const float t = dequant1(raw, ws, wz, zero, scale, b, j);
        y[j] = accumulate ? y[j] + t : t;
    }
}

/* dequant, gelu and the row's range in one pass (whole vectors as gelu8,
 * the tail as gelu's scalar tail), then the quantization. */
TARGET static void dequant_gelu_u8(const float *raw, const float *ws, const float *wz, float zero, float scale,
                                   const float *b, int64_t n, float *tmp, uint8_t *q, float *qscale,
                                   int32_t *qzero) {
    const __m256 vz = _mm256_set1_ps(zero), vs = _mm256_set1_ps(scale);
    __m256 vlo = _mm256_setzero_ps(), vhi = vlo;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 t = gelu8(dequant8(raw, ws, wz, vz, vs, b, j));
        vlo = _mm256_min_ps(t, vlo); /* NaN in t: keeps vlo */
        vhi = _mm256_max_ps(t, vhi);
        _mm256_storeu_ps(tmp + j, t);
    }
    float lo = 0, hi = 0;
    fold_range(vlo, vhi, &lo, &hi);
    for (; j < n; j++) {
        const float t = gelu1(dequant1(raw, ws, wz, zero, scale, b, j));
        tmp[j] = t;
        lo = t < lo ? t : lo;
        hi = t > hi ? t : hi;
    }
    quantize_u8_in(tmp, n, lo, hi, q, qscale, qzero);
}

RR_DEFINE_DEQUANT_ROWS(TARGET, dequant)

const rr_kernels_t rr_kernels_avx2 = {
    .name = "avx2",
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
