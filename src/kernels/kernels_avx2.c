/* kernels_avx2.c — AVX2 + FMA variants of rr_kernels_t (8 floats a vector).
 * Compiled for the target by attribute; only called when the CPU has it. */
#include <immintrin.h>
#include <math.h>

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

TARGET static void gelu(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

TARGET static void softmax(float *x, int64_t n) {
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
    __m256 vi = _mm256_set1_ps(1.0f / (hsum8(acc) + tail));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vi));
    for (; i < n; i++) x[i] *= _mm256_cvtss_f32(vi);
}

/* 4 query rows x 16 key columns per tile: 8 accumulators in registers. */
TARGET static void scores(const float *q, int64_t ldq, int64_t rows, const float *kt, int64_t ldk,
                          int64_t ncols, int64_t d, float scale, float *s, int64_t lds) {
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float *q0 = q + r * ldq, *q1 = q0 + ldq, *q2 = q1 + ldq, *q3 = q2 + ldq;
        for (int64_t j = 0; j < ncols; j += 16) {
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
                   a30 = a00, a31 = a00;
            for (int64_t c = 0; c < d; c++) {
                __m256 k0 = _mm256_loadu_ps(kt + c * ldk + j), k1 = _mm256_loadu_ps(kt + c * ldk + j + 8);
                __m256 b = _mm256_broadcast_ss(q0 + c);
                a00 = _mm256_fmadd_ps(b, k0, a00); a01 = _mm256_fmadd_ps(b, k1, a01);
                b = _mm256_broadcast_ss(q1 + c);
                a10 = _mm256_fmadd_ps(b, k0, a10); a11 = _mm256_fmadd_ps(b, k1, a11);
                b = _mm256_broadcast_ss(q2 + c);
                a20 = _mm256_fmadd_ps(b, k0, a20); a21 = _mm256_fmadd_ps(b, k1, a21);
                b = _mm256_broadcast_ss(q3 + c);
                a30 = _mm256_fmadd_ps(b, k0, a30); a31 = _mm256_fmadd_ps(b, k1, a31);
            }
            __m256 vs = _mm256_set1_ps(scale);
            float *s0 = s + r * lds + j;
            _mm256_storeu_ps(s0, _mm256_mul_ps(a00, vs)); _mm256_storeu_ps(s0 + 8, _mm256_mul_ps(a01, vs));
            s0 += lds;
            _mm256_storeu_ps(s0, _mm256_mul_ps(a10, vs)); _mm256_storeu_ps(s0 + 8, _mm256_mul_ps(a11, vs));
            s0 += lds;
            _mm256_storeu_ps(s0, _mm256_mul_ps(a20, vs)); _mm256_storeu_ps(s0 + 8, _mm256_mul_ps(a21, vs));
            s0 += lds;
            _mm256_storeu_ps(s0, _mm256_mul_ps(a30, vs)); _mm256_storeu_ps(s0 + 8, _mm256_mul_ps(a31, vs));
        }
    }
    for (; r < rows; r++) {
        const float *q0 = q + r * ldq;
        for (int64_t j = 0; j < ncols; j += 16) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;
            for (int64_t c = 0; c < d; c++) {
                __m256 b = _mm256_broadcast_ss(q0 + c);
                a0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(kt + c * ldk + j), a0);
                a1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(kt + c * ldk + j + 8), a1);
            }
            __m256 vs = _mm256_set1_ps(scale);
            _mm256_storeu_ps(s + r * lds + j, _mm256_mul_ps(a0, vs));
            _mm256_storeu_ps(s + r * lds + j + 8, _mm256_mul_ps(a1, vs));
        }
    }
}

TARGET static void weighted_sum(const float *p, int64_t n, const float *v, int64_t ldv, int64_t d,
                                float *o) {
    int64_t c = 0;
    for (; c + 32 <= d; c += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t j = 0; j < n; j++) {
            __m256 b = _mm256_broadcast_ss(p + j);
            const float *vr = v + j * ldv + c;
            a0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr), a0);
            a1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr + 8), a1);
            a2 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr + 16), a2);
            a3 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr + 24), a3);
        }
        _mm256_storeu_ps(o + c, a0); _mm256_storeu_ps(o + c + 8, a1);
        _mm256_storeu_ps(o + c + 16, a2); _mm256_storeu_ps(o + c + 24, a3);
    }
    for (; c + 8 <= d; c += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (int64_t j = 0; j < n; j++)
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), _mm256_loadu_ps(v + j * ldv + c), a0);
        _mm256_storeu_ps(o + c, a0);
    }
    for (; c < d; c++) {
        float a = 0;
        for (int64_t j = 0; j < n; j++) a += p[j] * v[j * ldv + c];
        o[c] = a;
    }
}

const rr_kernels_t rr_kernels_avx2 = {
    .name = "avx2",
    .add_layernorm = add_layernorm,
    .gelu = gelu,
    .softmax = softmax,
    .scores = scores,
    .weighted_sum = weighted_sum,
};
