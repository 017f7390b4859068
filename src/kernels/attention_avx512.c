/* attention_avx512.c — the fp32 attention mode with AVX-512F: keys packed
 * in 16-key panels (one vector per channel), 8 query rows x 32 keys per
 * score tile, 4 rows x 64 channels per P V tile. Only called when the CPU
 * has AVX-512 (F/DQ/BW/VL). */
#include "kernels/attention_simd512.h"

#define KT RR_ATTN_TILE_KEYS
#define FMA2(a0, a1, b, k0, k1) (a0 = _mm512_fmadd_ps(b, k0, a0), a1 = _mm512_fmadd_ps(b, k1, a1))

/* Panels of 16 keys, [nkp / 16][dp][16]: 16 rows of 16 channels transposed at a time. */
RR_T512 static void pack_k(const float *k, int64_t ldk, int64_t nk, const rr_attn_ws_t *ws) {
    const int64_t dp = ws->dp, d = ws->d;
    float *kp = ws->k;
    for (int64_t j0 = 0; j0 < ws->nkp; j0 += 16) {
        float *panel = kp + j0 * dp;
        for (int64_t c = 0; c < dp; c += 16) {
            __m512i r[16];
            for (int64_t i = 0; i < 16; i++)
                r[i] = j0 + i < nk ? _mm512_maskz_loadu_epi32(rr_tail16(d - c), k + (j0 + i) * ldk + c)
                                   : _mm512_setzero_si512();
            rr_transpose16(r);
            for (int64_t i = 0; i < 16 && c + i < dp; i++) _mm512_storeu_si512(panel + (c + i) * 16, r[i]);
        }
    }
}

/* Values [nkp][d16], zero padded. */
RR_T512 static void pack_v(const float *v, int64_t ldv, int64_t nk, const rr_attn_ws_t *ws) {
    float *vp = ws->v;
    for (int64_t j = 0; j < ws->nkp; j++)
        for (int64_t c = 0; c < ws->d16; c += 16)
            _mm512_storeu_ps(vp + j * ws->d16 + c,
                             j < nk ? _mm512_maskz_loadu_ps(rr_tail16(ws->d - c), v + j * ldv + c) : _mm512_setzero_ps());
}

/* Query rows [rows][dp], zero padded; every row's factor is scale2. */
RR_T512 static void pack_q(const float *q, int64_t ldq, int64_t rows, float scale2, const rr_attn_ws_t *ws) {
    float *qp = ws->q;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < ws->dp; c += 16)
            _mm512_mask_storeu_ps(qp + r * ws->dp + c, rr_tail16(ws->dp - c),
                                  _mm512_maskz_loadu_ps(rr_tail16(ws->d - c), q + r * ldq + c));
        ws->qfac[r] = scale2;
    }
}

#define EPI(r, A0, A1)                                                                                        \
    if (r < nr) {                                                                                             \
        const __m512 f = _mm512_set1_ps(qfac[r]), x0 = _mm512_mul_ps(A0, f), x1 = _mm512_mul_ps(A1, f);          \
        _mm512_storeu_ps(s + r * KT + jj, x0);                                                                \
        _mm512_storeu_ps(s + r * KT + jj + 16, x1);                                                           \
        mx##r = _mm512_max_ps(mx##r, _mm512_max_ps(x0, x1));                                                  \
    }

/* s[r][0 .. ktp) = qfac[r] * q[r] . key for nr <= 8 rows (rows past nr
 * repeat row 0: computed, not stored), 8 rows x 32 keys a register tile;
 * kp: the tile's first panel; rowmax[r]: row r's max over all ktp keys. */
RR_T512 static void scores(const float *q, int64_t dp, int64_t nr, const float *kp, int64_t ktp, const float *qfac,
                           float *s, float *rowmax) {
    const float *q0 = q, *q1 = q + (nr > 1) * dp, *q2 = q + (nr > 2) * 2 * dp, *q3 = q + (nr > 3) * 3 * dp,
                *q4 = q + (nr > 4) * 4 * dp, *q5 = q + (nr > 5) * 5 * dp, *q6 = q + (nr > 6) * 6 * dp,
                *q7 = q + (nr > 7) * 7 * dp;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 mx0 = ninf, mx1 = ninf, mx2 = ninf, mx3 = ninf, mx4 = ninf, mx5 = ninf, mx6 = ninf, mx7 = ninf;
    for (int64_t jj = 0; jj < ktp; jj += 32) {
        const float *k0p = kp + jj * dp, *k1p = k0p + 16 * dp;
        __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
               a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00, a60 = a00, a61 = a00, a70 = a00, a71 = a00;
        for (int64_t c = 0; c < dp; c++) {
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
        EPI(0, a00, a01) EPI(1, a10, a11) EPI(2, a20, a21) EPI(3, a30, a31)
        EPI(4, a40, a41) EPI(5, a50, a51) EPI(6, a60, a61) EPI(7, a70, a71)
    }
    const __m512 mx[8] = {mx0, mx1, mx2, mx3, mx4, mx5, mx6, mx7};
    for (int64_t r = 0; r < nr; r++) rowmax[r] = _mm512_reduce_max_ps(mx[r]);
}
#undef EPI

/* One row's online softmax step: p = exp2(s - mu) over ktp keys. */
RR_T512 static void softmax_row(float *s, float *p, int64_t ktp, int64_t a, int64_t b, float rowmax, float *m,
                                float *l, float *alpha) {
    const float mt = a == 0 && b == ktp ? rowmax : rr_row_mask_max(s, ktp, a, b);
    const float mn = rr_attn_max(*m, mt), mu = isinf(mn) ? 0.0f : mn;
    *alpha = rr_attn_exp2_fine(*m - mu);
    const __m512 vmu = _mm512_set1_ps(mu);
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    for (int64_t jj = 0; jj < ktp; jj += 32) {
        const __m512 e0 = rr_exp2_fine16(_mm512_sub_ps(_mm512_loadu_ps(s + jj), vmu)),
                     e1 = rr_exp2_fine16(_mm512_sub_ps(_mm512_loadu_ps(s + jj + 16), vmu));
        _mm512_storeu_ps(p + jj, e0);
        _mm512_storeu_ps(p + jj + 16, e1);
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
    }
    *l = fmaf(*alpha, *l, _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)));
    *m = mn;
}

/* o[r] = alpha[r] o[r] + p[r] V for nr <= 8 rows, kn keys, d16 channels. */
RR_T512 static void pv(const float *p, int64_t nr, int64_t kn, const float *v, int64_t d16, const float *alpha,
                       float *o) {
    for (int64_t r = 0; r < nr; r += 4) {
        const int64_t k = nr - r < 4 ? nr - r : 4;
        const float *p0 = p + r * KT, *p1 = p0 + (k > 1) * KT, *p2 = p0 + (k > 2) * 2 * KT, *p3 = p0 + (k > 3) * 3 * KT;
        int64_t c = 0;
        for (; c + 64 <= d16; c += 64) {
            __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00,
                   a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            for (int64_t j = 0; j < kn; j++) {
                const float *vr = v + j * d16 + c;
                const __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16), v2 = _mm512_loadu_ps(vr + 32),
                             v3 = _mm512_loadu_ps(vr + 48);
                __m512 b = _mm512_set1_ps(p0[j]);
                a00 = _mm512_fmadd_ps(b, v0, a00); a01 = _mm512_fmadd_ps(b, v1, a01);
                a02 = _mm512_fmadd_ps(b, v2, a02); a03 = _mm512_fmadd_ps(b, v3, a03);
                b = _mm512_set1_ps(p1[j]);
                a10 = _mm512_fmadd_ps(b, v0, a10); a11 = _mm512_fmadd_ps(b, v1, a11);
                a12 = _mm512_fmadd_ps(b, v2, a12); a13 = _mm512_fmadd_ps(b, v3, a13);
                b = _mm512_set1_ps(p2[j]);
                a20 = _mm512_fmadd_ps(b, v0, a20); a21 = _mm512_fmadd_ps(b, v1, a21);
                a22 = _mm512_fmadd_ps(b, v2, a22); a23 = _mm512_fmadd_ps(b, v3, a23);
                b = _mm512_set1_ps(p3[j]);
                a30 = _mm512_fmadd_ps(b, v0, a30); a31 = _mm512_fmadd_ps(b, v1, a31);
                a32 = _mm512_fmadd_ps(b, v2, a32); a33 = _mm512_fmadd_ps(b, v3, a33);
            }
            const __m512 acc[4][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23},
                                      {a30, a31, a32, a33}};
            for (int64_t i = 0; i < k; i++) {
                const __m512 al = _mm512_set1_ps(alpha[r + i]);
                float *orow = o + (r + i) * d16 + c;
                for (int u = 0; u < 4; u++)
                    _mm512_storeu_ps(orow + 16 * u, _mm512_fmadd_ps(al, _mm512_loadu_ps(orow + 16 * u), acc[i][u]));
            }
        }
        for (; c < d16; c += 16) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t j = 0; j < kn; j++) {
                const __m512 vv = _mm512_loadu_ps(v + j * d16 + c);
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(p0[j]), vv, a0);
                a1 = _mm512_fmadd_ps(_mm512_set1_ps(p1[j]), vv, a1);
                a2 = _mm512_fmadd_ps(_mm512_set1_ps(p2[j]), vv, a2);
                a3 = _mm512_fmadd_ps(_mm512_set1_ps(p3[j]), vv, a3);
            }
            const __m512 acc[4] = {a0, a1, a2, a3};
            for (int64_t i = 0; i < k; i++) {
                float *orow = o + (r + i) * d16 + c;
                _mm512_storeu_ps(orow, _mm512_fmadd_ps(_mm512_set1_ps(alpha[r + i]), _mm512_loadu_ps(orow), acc[i]));
            }
        }
    }
}

RR_T512 static void tile(const rr_attn_tile_t *t) {
    const rr_attn_ws_t *ws = t->ws;
    const int64_t ktp = (t->kt + 31) & ~(int64_t)31;
    float *p = ws->p;
    for (int64_t r0 = 0; r0 < t->rows; r0 += 8) {
        const int64_t nr = t->rows - r0 < 8 ? t->rows - r0 : 8;
        float rowmax[8];
        scores((const float *)ws->q + r0 * ws->dp, ws->dp, nr, (const float *)ws->k + t->j0 * ws->dp, ktp,
               ws->qfac + r0, ws->s, rowmax);
        for (int64_t r = 0; r < nr; r++) {
            int64_t a, b;
            rr_attn_row_span(t, r0 + r, &a, &b);
            softmax_row(ws->s + r * KT, p + r * KT, ktp, a, b, rowmax[r], &ws->m[r0 + r], &ws->l[r0 + r],
                        &ws->alpha[r0 + r]);
        }
        pv(p, nr, t->kt, (const float *)ws->v + t->j0 * ws->d16, ws->d16, ws->alpha + r0, ws->o + r0 * ws->d16);
    }
}

RR_T512 static void exp2_fine(const float *x, int64_t n, float *y) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = rr_tail16(n - i);
        _mm512_mask_storeu_ps(y + i, m, rr_exp2_fine16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

RR_T512 static void finish(const float *acc, float inv, const float *vfac, int64_t d, float *out) {
    rr_finish16(acc, inv, vfac, d, out);
}

const rr_attn_impl_t rr_attn_avx512_fp32 = {
    .name = "avx512", .mode = RERANK_PRECISION_FP32, .k_bytes = 4, .v_bytes = 4, .q_bytes = 4, .p_bytes = 4,
    .pack_k = pack_k, .pack_v = pack_v, .pack_q = pack_q, .tile = tile, .finish = finish, .exp2 = exp2_fine,
};
