/* attention_avx2.c — every attention mode with AVX2 + FMA, in fp32 math:
 * bf16 operands are held as floats (their products are exact in fp32 as
 * in vdpbf16ps), int8 operands as floats holding the integers (AVX2 has no
 * 8-bit dot product that does not saturate; in floats every u8 x s8 sum of
 * a tile and every s8 x s8 sum of a head of <= 1040 channels is an exact
 * integer, so the int8 results equal VNNI's bit for bit). Keys in 16-key
 * panels, 4 query rows x 16 keys per score tile, 4 rows x 16 channels per
 * P V tile. Only called when the CPU has AVX2 and FMA. */
#include <immintrin.h>

#include "kernels/attention_util.h"
#include "kernels/kernels.h"

#define TARGET __attribute__((target("avx2,fma")))
#define KT RR_ATTN_TILE_KEYS

static float bf16_value(float x) { return rr_bf16_to_f32(rr_f32_to_bf16(x)); }

/* Operand values as this mode holds them: fp32 as is, bf16 rounded. */
static float operand(rerank_precision_t mode, float x) { return mode == RERANK_PRECISION_BF16 ? bf16_value(x) : x; }

/* Panels of 16 keys, [nkp / 16][dp][16]; int8: s8 values, one scale per key. */
static void pack_k(rerank_precision_t mode, const float *k, int64_t ldk, int64_t nk, const rr_attn_ws_t *ws) {
    float *kp = ws->k;
    for (int64_t j = 0; j < ws->nkp; j++) {
        const float *x = j < nk ? k + j * ldk : k;
        float inv = 0;
        ws->kfac[j] = 0;
        ws->kcorr[j] = 0;
        if (mode == RERANK_PRECISION_INT8 && j < nk) {
            float amax = 0;
            for (int64_t c = 0; c < ws->d; c++) amax = fmaxf(amax, fabsf(x[c]));
            rr_attn_s8_scale(amax, &ws->kfac[j], &inv);
        }
        for (int64_t c = 0; c < ws->dp; c++) {
            float val = 0;
            if (j < nk && c < ws->d) val = mode == RERANK_PRECISION_INT8 ? (float)rr_attn_s8(x[c], inv) : operand(mode, x[c]);
            kp[(j >> 4) * 16 * ws->dp + c * 16 + (j & 15)] = val;
        }
    }
}

/* Values [nkp][d16]; int8: s8 values, one scale per channel. */
static void pack_v(rerank_precision_t mode, const float *v, int64_t ldv, int64_t nk, const rr_attn_ws_t *ws) {
    float *vp = ws->v, inv[RR_ATTN_MAX_D];
    if (mode == RERANK_PRECISION_INT8) {
        for (int64_t c = 0; c < ws->d; c++) {
            float amax = 0, scale;
            for (int64_t j = 0; j < nk; j++) amax = fmaxf(amax, fabsf(v[j * ldv + c]));
            rr_attn_s8_scale(amax, &scale, &inv[c]);
            ws->vfac[c] = scale;
        }
        for (int64_t c = ws->d; c < ws->d16; c++) ws->vfac[c] = 0;
    }
    for (int64_t j = 0; j < ws->nkp; j++)
        for (int64_t c = 0; c < ws->d16; c++) {
            float val = 0;
            if (j < nk && c < ws->d)
                val = mode == RERANK_PRECISION_INT8 ? (float)rr_attn_s8(v[j * ldv + c], inv[c]) : operand(mode, v[j * ldv + c]);
            vp[j * ws->d16 + c] = val;
        }
}

/* Query rows [rows][dp]; int8: s8 values, factor row scale * scale2. */
static void pack_q(rerank_precision_t mode, const float *q, int64_t ldq, int64_t rows, float scale2,
                   const rr_attn_ws_t *ws) {
    float *qp = ws->q;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = q + r * ldq;
        float scale = 1, inv = 0;
        if (mode == RERANK_PRECISION_INT8) {
            float amax = 0;
            for (int64_t c = 0; c < ws->d; c++) amax = fmaxf(amax, fabsf(x[c]));
            rr_attn_s8_scale(amax, &scale, &inv);
        }
        for (int64_t c = 0; c < ws->dp; c++)
            qp[r * ws->dp + c] = c >= ws->d ? 0.0f : mode == RERANK_PRECISION_INT8 ? (float)rr_attn_s8(x[c], inv) : operand(mode, x[c]);
        ws->qfac[r] = mode == RERANK_PRECISION_INT8 ? scale * scale2 : scale2;
    }
}

TARGET static inline __m256 exp2_8(__m256 x, int coarse) {
    const __m256 ok = _mm256_cmp_ps(x, _mm256_set1_ps(RR_ATTN_EXP2_MIN), _CMP_GE_OQ);
    const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), f = _mm256_sub_ps(x, n);
    __m256 p;
    if (coarse) {
        const float c[3] = {RR_ATTN_F3};
        p = _mm256_fmadd_ps(_mm256_set1_ps(c[2]), f, _mm256_set1_ps(c[1]));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(c[0]));
    } else {
        const float c[5] = {RR_ATTN_F5};
        p = _mm256_fmadd_ps(_mm256_set1_ps(c[4]), f, _mm256_set1_ps(c[3]));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(c[2]));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(c[1]));
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(c[0]));
    }
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    /* 2^n from its exponent bits (lanes below the limit are dropped, whatever n was) */
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(_mm256_and_ps(n, ok)), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), ok);
}

/* rr_attn_p8 on 8 lanes, as floats holding the integers. */
TARGET static inline __m256 p8_8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(RR_ATTN_EXP2_MIN)); /* NaN -> the limit */
    const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), f = _mm256_sub_ps(x, n);
    const float q[3] = {RR_ATTN_Q3};
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(q[2]), f, _mm256_set1_ps(q[1]));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(q[0]));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(255.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_round_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* s[r][0 .. ktp) for nr <= 8 rows, 4 rows x 16 keys per register tile
 * (rows past nr repeat row 0: computed, not stored). */
TARGET static void scores(const float *q, int64_t dp, int64_t nr, const float *kp, int64_t ktp, const float *kfac,
                          const float *qfac, float *s) {
    for (int64_t r = 0; r < nr; r += 4) {
        const int64_t k = nr - r < 4 ? nr - r : 4;
        const float *q0 = q + r * dp, *q1 = q0 + (k > 1) * dp, *q2 = q0 + (k > 2) * 2 * dp, *q3 = q0 + (k > 3) * 3 * dp;
        for (int64_t jj = 0; jj < ktp; jj += 16) {
            const float *pk = kp + jj * dp;
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            for (int64_t c = 0; c < dp; c++) {
                const __m256 k0 = _mm256_loadu_ps(pk + c * 16), k1 = _mm256_loadu_ps(pk + c * 16 + 8);
                __m256 b = _mm256_broadcast_ss(q0 + c);
                a00 = _mm256_fmadd_ps(b, k0, a00); a01 = _mm256_fmadd_ps(b, k1, a01);
                b = _mm256_broadcast_ss(q1 + c);
                a10 = _mm256_fmadd_ps(b, k0, a10); a11 = _mm256_fmadd_ps(b, k1, a11);
                b = _mm256_broadcast_ss(q2 + c);
                a20 = _mm256_fmadd_ps(b, k0, a20); a21 = _mm256_fmadd_ps(b, k1, a21);
                b = _mm256_broadcast_ss(q3 + c);
                a30 = _mm256_fmadd_ps(b, k0, a30); a31 = _mm256_fmadd_ps(b, k1, a31);
            }
            const __m256 acc[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
            for (int64_t i = 0; i < k; i++)
                for (int h = 0; h < 2; h++) {
                    __m256 x = acc[i][h];
                    if (kfac) x = _mm256_mul_ps(x, _mm256_loadu_ps(kfac + jj + 8 * h));
                    _mm256_storeu_ps(s + (r + i) * KT + jj + 8 * h, _mm256_mul_ps(x, _mm256_set1_ps(qfac[r + i])));
                }
        }
    }
}

TARGET static inline float hsum8(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

TARGET static inline float hmax8(__m256 v) {
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_max_ss(x, _mm_movehdup_ps(x)));
}

/* One row's online softmax step over ktp keys: mask to [a, b), then p in the
 * mode's rounding (bf16: nearest even, low half cleared; int8: round(255 e)). */
TARGET static void softmax_row(rerank_precision_t mode, float *s, float *p, int64_t ktp, int64_t a, int64_t b,
                               float *m, float *l, float *alpha) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 mx = ninf;
    for (int64_t jj = 0; jj < ktp; jj += 8) {
        __m256 x = _mm256_loadu_ps(s + jj);
        if (a > 0 || b < ktp) {
            const __m256i j = _mm256_add_epi32(lane, _mm256_set1_epi32((int32_t)jj));
            const __m256i in = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)a), j),
                                                   _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)b), j));
            x = _mm256_blendv_ps(ninf, x, _mm256_castsi256_ps(in));
            _mm256_storeu_ps(s + jj, x);
        }
        mx = _mm256_max_ps(mx, x);
    }
    const float mn = rr_attn_max(*m, hmax8(mx)), mu = isinf(mn) ? 0.0f : mn;
    *alpha = mode == RERANK_PRECISION_INT8 ? rr_attn_exp2_coarse(*m - mu) : rr_attn_exp2_fine(*m - mu);
    const __m256 vmu = _mm256_set1_ps(mu);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t jj = 0; jj < ktp; jj += 8) {
        __m256 e;
        if (mode == RERANK_PRECISION_INT8) {
            e = p8_8(_mm256_sub_ps(_mm256_loadu_ps(s + jj), vmu));
        } else {
            e = exp2_8(_mm256_sub_ps(_mm256_loadu_ps(s + jj), vmu), 0);
        }
        if (mode == RERANK_PRECISION_BF16) { /* e is 0 or normal: round the bits, no NaN care */
            const __m256i bits = _mm256_castps_si256(e);
            const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
            e = _mm256_castsi256_ps(_mm256_and_si256(
                _mm256_add_epi32(bits, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), odd)), _mm256_set1_epi32((int)0xffff0000u)));
        }
        _mm256_storeu_ps(p + jj, e);
        sum = _mm256_add_ps(sum, e);
    }
    *l = fmaf(*alpha, *l, hsum8(sum));
    *m = mn;
}

/* o[r] = alpha[r] o[r] + p[r] V for nr <= 8 rows, kn keys, 4 rows x 16 channels a tile. */
TARGET static void pv(const float *p, int64_t nr, int64_t kn, const float *v, int64_t d16, const float *alpha, float *o) {
    for (int64_t r = 0; r < nr; r += 4) {
        const int64_t k = nr - r < 4 ? nr - r : 4;
        const float *p0 = p + r * KT, *p1 = p0 + (k > 1) * KT, *p2 = p0 + (k > 2) * 2 * KT, *p3 = p0 + (k > 3) * 3 * KT;
        for (int64_t c = 0; c < d16; c += 16) {
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            const float *vc = v + c;
            for (int64_t j = 0; j < kn; j++, vc += d16) {
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
            const __m256 acc[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
            for (int64_t i = 0; i < k; i++) {
                const __m256 al = _mm256_set1_ps(alpha[r + i]);
                float *orow = o + (r + i) * d16 + c;
                _mm256_storeu_ps(orow, _mm256_fmadd_ps(al, _mm256_loadu_ps(orow), acc[i][0]));
                _mm256_storeu_ps(orow + 8, _mm256_fmadd_ps(al, _mm256_loadu_ps(orow + 8), acc[i][1]));
            }
        }
    }
}

TARGET static void tile(rerank_precision_t mode, const rr_attn_tile_t *t) {
    const rr_attn_ws_t *ws = t->ws;
    const int64_t ktp = (t->kt + 31) & ~(int64_t)31;
    float *p = ws->p;
    for (int64_t r0 = 0; r0 < t->rows; r0 += 8) {
        const int64_t nr = t->rows - r0 < 8 ? t->rows - r0 : 8;
        scores((const float *)ws->q + r0 * ws->dp, ws->dp, nr, (const float *)ws->k + t->j0 * ws->dp, ktp,
               mode == RERANK_PRECISION_INT8 ? ws->kfac + t->j0 : NULL, ws->qfac + r0, ws->s);
        for (int64_t r = 0; r < nr; r++) {
            int64_t a, b;
            rr_attn_row_span(t, r0 + r, &a, &b);
            softmax_row(mode, ws->s + r * KT, p + r * KT, ktp, a, b, &ws->m[r0 + r], &ws->l[r0 + r],
                        &ws->alpha[r0 + r]);
        }
        pv(p, nr, t->kt, (const float *)ws->v + t->j0 * ws->d16, ws->d16, ws->alpha + r0, ws->o + r0 * ws->d16);
    }
}

TARGET static void exp2_n(const float *x, int64_t n, float *y, int coarse) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp2_8(_mm256_loadu_ps(x + i), coarse));
    if (i < n) {
        float t[8] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof *t);
        _mm256_storeu_ps(t, exp2_8(_mm256_loadu_ps(t), coarse));
        memcpy(y + i, t, (size_t)(n - i) * sizeof *t);
    }
}

TARGET static void finish(const float *acc, float inv, const float *vfac, int64_t d, float *out) {
    const __m256 vi = _mm256_set1_ps(inv);
    int64_t c = 0;
    for (; c + 8 <= d; c += 8) {
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(acc + c), vi);
        if (vfac) x = _mm256_mul_ps(x, _mm256_loadu_ps(vfac + c));
        if (!((uintptr_t)(out + c) & 31)) _mm256_stream_ps(out + c, x); /* as rr_finish16 */
        else _mm256_storeu_ps(out + c, x);
    }
    for (; c < d; c++) out[c] = vfac ? acc[c] * inv * vfac[c] : acc[c] * inv;
}

/* Per mode entry points of the table. */
#define MODE_FNS(tag, MODE, COARSE)                                                                                     \
    static void pack_k_##tag(const float *k, int64_t ldk, int64_t nk, const rr_attn_ws_t *ws) {                         \
        pack_k(MODE, k, ldk, nk, ws);                                                                                   \
    }                                                                                                                   \
    static void pack_v_##tag(const float *v, int64_t ldv, int64_t nk, const rr_attn_ws_t *ws) {                         \
        pack_v(MODE, v, ldv, nk, ws);                                                                                   \
    }                                                                                                                   \
    static void pack_q_##tag(const float *q, int64_t ldq, int64_t rows, float scale2, const rr_attn_ws_t *ws) {         \
        pack_q(MODE, q, ldq, rows, scale2, ws);                                                                         \
    }                                                                                                                   \
    static void tile_##tag(const rr_attn_tile_t *t) { tile(MODE, t); }                                                  \
    static void exp2_##tag(const float *x, int64_t n, float *y) { exp2_n(x, n, y, COARSE); }
MODE_FNS(fp32, RERANK_PRECISION_FP32, 0)
MODE_FNS(bf16, RERANK_PRECISION_BF16, 0)
MODE_FNS(int8, RERANK_PRECISION_INT8, 1)
#undef MODE_FNS

#define IMPL(tag, MODE) \
    [MODE] = {.name = "avx2", .mode = MODE, .k_bytes = 4, .v_bytes = 4, .q_bytes = 4, .p_bytes = 4, \
              .pack_k = pack_k_##tag, .pack_v = pack_v_##tag, .pack_q = pack_q_##tag, .tile = tile_##tag, .finish = finish, .exp2 = exp2_##tag}
const rr_attn_impl_t rr_attn_avx2[3] = {IMPL(fp32, RERANK_PRECISION_FP32), IMPL(bf16, RERANK_PRECISION_BF16),
                                        IMPL(int8, RERANK_PRECISION_INT8)};
#undef IMPL
