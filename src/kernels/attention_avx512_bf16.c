/* attention_avx512_bf16.c — the bf16 attention mode with AVX512_BF16:
 * vdpbf16ps multiplies pairs of bf16 values exactly and accumulates in
 * fp32. Keys in 16-key panels of channel pairs, values in key pairs, p
 * rounded to bf16 with vcvtne2ps2bf16 (p is 0 or normal, so its flushing
 * of subnormal inputs never applies). */
#include "kernels/attention_amx_tiles.h"

#define TBF16 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,avx512bf16")))
#define KT RR_ATTN_TILE_KEYS
#define DOT RR_DPBF16

/* Two channels (or keys) rounded to bf16 in one 32-bit lane: x0 low, x1 high. */
TBF16 static inline __m512i pair16(__m512 x0, __m512 x1) {
    return _mm512_or_si512(rr_bf16_bits16(x0), _mm512_slli_epi32(rr_bf16_bits16(x1), 16));
}

/* Panels of 16 keys, [nkp / 16][dp / 2][16][2]: channels 2c, 2c + 1 of key j in one lane;
 * 16 rows of 32 channels rounded, paired and transposed at a time. */
TBF16 static void pack_k(const float *k, int64_t ldk, int64_t nk, const rr_attn_ws_t *ws) {
    const int64_t dp = ws->dp, d = ws->d;
    uint16_t *kp = ws->k;
    for (int64_t j0 = 0; j0 < ws->nkp; j0 += 16) {
        uint16_t *panel = kp + j0 * dp;
        for (int64_t c = 0; c < dp; c += 32) {
            __m512i r[16];
            for (int64_t i = 0; i < 16; i++) {
                r[i] = _mm512_setzero_si512();
                if (j0 + i >= nk) continue;
                const float *x = k + (j0 + i) * ldk + c;
                const __m512i lo = rr_bf16_bits16(_mm512_maskz_loadu_ps(rr_tail16(d - c), x)),
                              hi = rr_bf16_bits16(_mm512_maskz_loadu_ps(rr_tail16(d - c - 16), x + 16));
                r[i] = rr_pack_u16x32(lo, hi);
            }
            rr_transpose16(r);
            for (int64_t i = 0; i < 16 && c + 2 * i < dp; i++) _mm512_storeu_si512(panel + (c + 2 * i) * 16, r[i]);
        }
    }
}

/* Values in key pairs, [nkp / 2][d16][2]: channel c of keys 2j, 2j + 1 in one lane. */
TBF16 static void pack_v(const float *v, int64_t ldv, int64_t nk, const rr_attn_ws_t *ws) {
    uint16_t *vp = ws->v;
    for (int64_t j = 0; j < ws->nkp; j += 2)
        for (int64_t c = 0; c < ws->d16; c += 16) {
            const __mmask16 m = rr_tail16(ws->d - c);
            const __m512 x0 = j < nk ? _mm512_maskz_loadu_ps(m, v + j * ldv + c) : _mm512_setzero_ps(),
                         x1 = j + 1 < nk ? _mm512_maskz_loadu_ps(m, v + (j + 1) * ldv + c) : _mm512_setzero_ps();
            _mm512_storeu_si512(vp + j * ws->d16 + 2 * c, pair16(x0, x1));
        }
}

/* Query rows [rows][dp] in bf16, zero padded. */
TBF16 static void pack_q(const float *q, int64_t ldq, int64_t rows, float scale2, const rr_attn_ws_t *ws) {
    uint16_t *qp = ws->q;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = q + r * ldq;
        int64_t c = 0;
        for (; c + 32 <= ws->d; c += 32) /* whole vectors, then the masked tail */
            _mm512_storeu_si512(qp + r * ws->dp + c, rr_pack_u16x32(rr_bf16_bits16(_mm512_loadu_ps(x + c)),
                                                                    rr_bf16_bits16(_mm512_loadu_ps(x + c + 16))));
        for (; c < ws->dp; c += 16)
            _mm512_mask_cvtepi32_storeu_epi16(qp + r * ws->dp + c, rr_tail16(ws->dp - c),
                                              rr_bf16_bits16(_mm512_maskz_loadu_ps(rr_tail16(ws->d - c), x + c)));
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

/* As the fp32 scores, one channel pair per step. */
TBF16 static void scores(const uint16_t *q, int64_t dp, int64_t nr, const uint16_t *kp, int64_t ktp, const float *qfac,
                         float *s, float *rowmax) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 mx0 = ninf, mx1 = ninf, mx2 = ninf, mx3 = ninf, mx4 = ninf, mx5 = ninf, mx6 = ninf, mx7 = ninf;
    const uint16_t *qr[8];
    for (int64_t r = 0; r < 8; r++) qr[r] = q + (r < nr ? r : 0) * dp;
    for (int64_t jj = 0; jj < ktp; jj += 32) {
        const uint16_t *k0p = kp + jj * dp, *k1p = k0p + 16 * dp;
        __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
               a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00, a60 = a00, a61 = a00, a70 = a00, a71 = a00;
        for (int64_t c = 0; c < dp; c += 2) {
            const __m512i k0 = _mm512_loadu_si512(k0p + c * 16), k1 = _mm512_loadu_si512(k1p + c * 16);
            __m512i b = _mm512_set1_epi32(rr_ld32(qr[0] + c));
            DOT(a00, b, k0); DOT(a01, b, k1);
            b = _mm512_set1_epi32(rr_ld32(qr[1] + c));
            DOT(a10, b, k0); DOT(a11, b, k1);
            b = _mm512_set1_epi32(rr_ld32(qr[2] + c));
            DOT(a20, b, k0); DOT(a21, b, k1);
            b = _mm512_set1_epi32(rr_ld32(qr[3] + c));
            DOT(a30, b, k0); DOT(a31, b, k1);
            b = _mm512_set1_epi32(rr_ld32(qr[4] + c));
            DOT(a40, b, k0); DOT(a41, b, k1);
            b = _mm512_set1_epi32(rr_ld32(qr[5] + c));
            DOT(a50, b, k0); DOT(a51, b, k1);
            b = _mm512_set1_epi32(rr_ld32(qr[6] + c));
            DOT(a60, b, k0); DOT(a61, b, k1);
            b = _mm512_set1_epi32(rr_ld32(qr[7] + c));
            DOT(a70, b, k0); DOT(a71, b, k1);
        }
        EPI(0, a00, a01) EPI(1, a10, a11) EPI(2, a20, a21) EPI(3, a30, a31)
        EPI(4, a40, a41) EPI(5, a50, a51) EPI(6, a60, a61) EPI(7, a70, a71)
    }
    const __m512 mx[8] = {mx0, mx1, mx2, mx3, mx4, mx5, mx6, mx7};
    for (int64_t r = 0; r < nr; r++) rowmax[r] = _mm512_reduce_max_ps(mx[r]);
}
#undef EPI

/* One row's online softmax step; p stored as bf16 and summed as rounded
 * (a dot product with bf16 ones adds both halves of each lane exactly). */
TBF16 static void softmax_row(float *s, uint16_t *p, int64_t ktp, int64_t a, int64_t b, float rowmax, float *m,
                              float *l, float *alpha) {
    const float mt = a == 0 && b == ktp ? rowmax : rr_row_mask_max(s, ktp, a, b);
    const float mn = rr_attn_max(*m, mt), mu = isinf(mn) ? 0.0f : mn;
    *alpha = rr_attn_exp2_fine(*m - mu);
    const __m512 vmu = _mm512_set1_ps(mu);
    const __m512i ones = _mm512_set1_epi32(0x3f803f80);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t jj = 0; jj < ktp; jj += 32) {
        const __m512 e0 = rr_exp2_fine16(_mm512_sub_ps(_mm512_loadu_ps(s + jj), vmu)),
                     e1 = rr_exp2_fine16(_mm512_sub_ps(_mm512_loadu_ps(s + jj + 16), vmu));
        const __m512bh pp = _mm512_cvtne2ps_pbh(e1, e0);
        _mm512_storeu_si512(p + jj, (__m512i)pp);
        sum = _mm512_dpbf16_ps(sum, pp, (__m512bh)ones);
    }
    *l = fmaf(*alpha, *l, _mm512_reduce_add_ps(sum));
    *m = mn;
}

/* o[r] = alpha[r] o[r] + p[r] V for nr <= 8 rows, kn keys (rounded up to a pair). */
TBF16 static void pv(const uint16_t *p, int64_t nr, int64_t kn, const uint16_t *v, int64_t d16, const float *alpha,
                     float *o) {
    for (int64_t r = 0; r < nr; r += 4) {
        const int64_t k = nr - r < 4 ? nr - r : 4;
        const uint16_t *p0 = p + r * KT, *p1 = p0 + (k > 1) * KT, *p2 = p0 + (k > 2) * 2 * KT,
                       *p3 = p0 + (k > 3) * 3 * KT;
        int64_t c = 0;
        for (; c + 64 <= d16; c += 64) {
            __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00,
                   a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            for (int64_t j = 0; j < kn; j += 2) {
                const uint16_t *vr = v + j * d16 + 2 * c;
                const __m512i v0 = _mm512_loadu_si512(vr), v1 = _mm512_loadu_si512(vr + 32),
                              v2 = _mm512_loadu_si512(vr + 64), v3 = _mm512_loadu_si512(vr + 96);
                __m512i b = _mm512_set1_epi32(rr_ld32(p0 + j));
                DOT(a00, b, v0); DOT(a01, b, v1); DOT(a02, b, v2); DOT(a03, b, v3);
                b = _mm512_set1_epi32(rr_ld32(p1 + j));
                DOT(a10, b, v0); DOT(a11, b, v1); DOT(a12, b, v2); DOT(a13, b, v3);
                b = _mm512_set1_epi32(rr_ld32(p2 + j));
                DOT(a20, b, v0); DOT(a21, b, v1); DOT(a22, b, v2); DOT(a23, b, v3);
                b = _mm512_set1_epi32(rr_ld32(p3 + j));
                DOT(a30, b, v0); DOT(a31, b, v1); DOT(a32, b, v2); DOT(a33, b, v3);
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
            for (int64_t j = 0; j < kn; j += 2) {
                const __m512i vv = _mm512_loadu_si512(v + j * d16 + 2 * c);
                DOT(a0, _mm512_set1_epi32(rr_ld32(p0 + j)), vv);
                DOT(a1, _mm512_set1_epi32(rr_ld32(p1 + j)), vv);
                DOT(a2, _mm512_set1_epi32(rr_ld32(p2 + j)), vv);
                DOT(a3, _mm512_set1_epi32(rr_ld32(p3 + j)), vv);
            }
            const __m512 acc[4] = {a0, a1, a2, a3};
            for (int64_t i = 0; i < k; i++) {
                float *orow = o + (r + i) * d16 + c;
                _mm512_storeu_ps(orow, _mm512_fmadd_ps(_mm512_set1_ps(alpha[r + i]), _mm512_loadu_ps(orow), acc[i]));
            }
        }
    }
}

TBF16 static void tile(const rr_attn_tile_t *t) {
    const rr_attn_ws_t *ws = t->ws;
    const int64_t ktp = (t->kt + 31) & ~(int64_t)31;
    uint16_t *p = ws->p;
    for (int64_t r0 = 0; r0 < t->rows; r0 += 8) {
        const int64_t nr = t->rows - r0 < 8 ? t->rows - r0 : 8;
        float rowmax[8];
        scores((const uint16_t *)ws->q + r0 * ws->dp, ws->dp, nr, (const uint16_t *)ws->k + t->j0 * ws->dp, ktp,
               ws->qfac + r0, ws->s, rowmax);
        for (int64_t r = 0; r < nr; r++) {
            int64_t a, b;
            rr_attn_row_span(t, r0 + r, &a, &b);
            softmax_row(ws->s + r * KT, p + r * KT, ktp, a, b, rowmax[r], &ws->m[r0 + r], &ws->l[r0 + r],
                        &ws->alpha[r0 + r]);
        }
        pv(p, nr, t->kt, (const uint16_t *)ws->v + t->j0 * ws->d16, ws->d16, ws->alpha + r0, ws->o + r0 * ws->d16);
    }
}

TBF16 static void exp2_fine(const float *x, int64_t n, float *y) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = rr_tail16(n - i);
        _mm512_mask_storeu_ps(y + i, m, rr_exp2_fine16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

TBF16 static void finish(const float *acc, float inv, const float *vfac, int64_t d, float *out) {
    rr_finish16(acc, inv, vfac, d, out);
}

/* ---- AMX: the same packing and softmax, the two products on tiles ---- */
#define TAMX __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,avx512bf16,amx-tile,amx-bf16")))

/* As pack_q, and the block's rows past `rows` zero (a tile reads 16 rows). */
TBF16 static void pack_q_amx(const float *q, int64_t ldq, int64_t rows, float scale2, const rr_attn_ws_t *ws) {
    pack_q(q, ldq, rows, scale2, ws);
    memset((uint16_t *)ws->q + rows * ws->dp, 0, (size_t)((RR_ATTN_BLOCK_ROWS - rows) * ws->dp) * 2);
}

/* s[r][j] = q[r] . k[j] (unscaled); o[r] = alpha[r] o[r] + p[r] V (attention_amx_tiles.h) */
#define LOAD_F32(x) _mm512_loadu_ps(x)
RR_AMX_SCORES(TAMX, scores_amx, uint16_t, uint16_t, float, _tile_dpbf16ps)
RR_AMX_PV(TAMX, pv_amx, uint16_t, uint16_t, float, _tile_dpbf16ps, LOAD_F32)

/* s[r] *= qfac[r] over ktp keys, and each row's max (as scores' epilogue). */
TBF16 static void scale_rows(float *s, int64_t rows, int64_t ktp, const float *qfac, float *rowmax) {
    for (int64_t r = 0; r < rows; r++) {
        const __m512 f = _mm512_set1_ps(qfac[r]);
        __m512 mx = _mm512_set1_ps(-INFINITY);
        for (int64_t jj = 0; jj < ktp; jj += 16) {
            const __m512 x = _mm512_mul_ps(_mm512_loadu_ps(s + r * KT + jj), f);
            _mm512_storeu_ps(s + r * KT + jj, x);
            mx = _mm512_max_ps(mx, x);
        }
        rowmax[r] = _mm512_reduce_max_ps(mx);
    }
}

TBF16 static void tile_amx(const rr_attn_tile_t *t) {
    const rr_attn_ws_t *ws = t->ws;
    const int64_t ktp = (t->kt + 31) & ~(int64_t)31;
    uint16_t *p = ws->p;
    float rowmax[RR_ATTN_BLOCK_ROWS];
    scores_amx(ws->q, ws->dp, t->rows, (const uint16_t *)ws->k + t->j0 * ws->dp, ktp, ws->s);
    scale_rows(ws->s, t->rows, ktp, ws->qfac, rowmax);
    for (int64_t r = 0; r < t->rows; r++) {
        int64_t a, b;
        rr_attn_row_span(t, r, &a, &b);
        softmax_row(ws->s + r * KT, p + r * KT, ktp, a, b, rowmax[r], &ws->m[r], &ws->l[r], &ws->alpha[r]);
    }
    const int64_t rows16 = (t->rows + 15) & ~(int64_t)15; /* the last row tile's other rows: p 0 */
    for (int64_t r = t->rows; r < rows16; r++) memset(p + r * KT, 0, (size_t)ktp * 2);
    pv_amx(p, t->rows, ktp, (const uint16_t *)ws->v + t->j0 * ws->d16, ws->d16, ws->alpha, ws->o, ws->s);
}

const rr_attn_impl_t rr_attn_amx_bf16 = {
    .name = "amx", .mode = RERANK_PRECISION_BF16, .k_bytes = 2, .v_bytes = 2, .q_bytes = 2, .p_bytes = 2,
    .d_align = 32, .tile_rows = RR_ATTN_BLOCK_ROWS, .enter = rr_attn_amx_enter, .leave = rr_attn_amx_leave,
    .pack_k = pack_k, .pack_v = pack_v, .pack_q = pack_q_amx, .tile = tile_amx, .finish = finish, .exp2 = exp2_fine,
};

const rr_attn_impl_t rr_attn_avx512_bf16 = {
    .name = "avx512", .mode = RERANK_PRECISION_BF16, .k_bytes = 2, .v_bytes = 2, .q_bytes = 2, .p_bytes = 2,
    .pack_k = pack_k, .pack_v = pack_v, .pack_q = pack_q, .tile = tile, .finish = finish, .exp2 = exp2_fine,
};
