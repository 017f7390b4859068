/* attention_avx512_int8.c — the int8 attention mode with AVX512_VNNI
 * (vpdpbusd: u8 x s8, four products summed into each 32-bit lane, exact).
 * Scores: q as u8 (s8 + 128) against s8 keys in 16-key panels of channel
 * quads, the +128 taken back by a per-key correction (-128 * sum of the
 * key's values) that starts each accumulator. P V: u8 probabilities
 * against s8 values in key quads. Float steps as in attention_ref.c. */
#include "kernels/attention_amx_tiles.h"

#define TVNNI __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,avx512vnni")))
#define KT RR_ATTN_TILE_KEYS
#define DOT RR_DPBUSD

/* round(x * inv) clamped to +-127, in 32-bit lanes (rr_attn_s8). */
TVNNI static inline __m512i s8x16(__m512 x, __m512 inv) {
    const __m512i r = _mm512_cvtps_epi32(_mm512_mul_ps(x, inv)); /* NaN -> INT_MIN -> -127 */
    return _mm512_min_epi32(_mm512_max_epi32(r, _mm512_set1_epi32(-127)), _mm512_set1_epi32(127));
}

TVNNI static float amax_row(const float *x, int64_t d) {
    __m512 m = _mm512_setzero_ps();
    for (int64_t c = 0; c < d; c += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_maskz_loadu_ps(rr_tail16(d - c), x + c)));
    return _mm512_reduce_max_ps(m);
}

/* Keys: one scale per key; panels of 16 keys, [nkp / 16][dp / 4][16][4]:
 * per 16 keys and 16 channels, each key's quantized channels are packed to
 * 4 dwords, and 16 x 4 dwords transposed to 4 panel rows; the correction
 * -128 * sum follows from a dot product of each panel row with ones. */
TVNNI static void pack_k(const float *k, int64_t ldk, int64_t nk, const rr_attn_ws_t *ws) {
    const int64_t dp = ws->dp, d = ws->d;
    int8_t *kp = ws->k;
    /* dword p of a 4-key block Z holds key p / 4, group p % 4; lo/hi: groups
     * 0-1 / 2-3 of two blocks; then the two halves of the 16 keys */
    const __m512i ia = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29),
                  ib = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31),
                  i0 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
                  i1 = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31),
                  ones = _mm512_set1_epi8(1);
    for (int64_t j0 = 0; j0 < ws->nkp; j0 += 16) {
        float inv[16];
        for (int64_t i = 0; i < 16; i++) {
            ws->kfac[j0 + i] = inv[i] = 0;
            if (j0 + i < nk) rr_attn_s8_scale(amax_row(k + (j0 + i) * ldk, d), &ws->kfac[j0 + i], &inv[i]);
        }
        int8_t *panel = kp + j0 * dp;
        __m512i sum = _mm512_setzero_si512();
        for (int64_t c = 0; c < dp; c += 16) {
            __m512i z[4];
            for (int64_t b4 = 0; b4 < 4; b4++) {
                __m128i q4[4];
                for (int64_t i = 0; i < 4; i++) {
                    const int64_t j = j0 + 4 * b4 + i;
                    const __m512 x = j < nk ? _mm512_maskz_loadu_ps(rr_tail16(d - c), k + j * ldk + c) : _mm512_setzero_ps();
                    q4[i] = _mm512_cvtepi32_epi8(s8x16(x, _mm512_set1_ps(inv[4 * b4 + i])));
                }
                z[b4] = _mm512_inserti32x4(_mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(q4[0]), q4[1], 1),
                                                              q4[2], 2), q4[3], 3);
            }
            const __m512i lo01 = _mm512_permutex2var_epi32(z[0], ia, z[1]), hi01 = _mm512_permutex2var_epi32(z[0], ib, z[1]),
                          lo23 = _mm512_permutex2var_epi32(z[2], ia, z[3]), hi23 = _mm512_permutex2var_epi32(z[2], ib, z[3]);
            const __m512i row[4] = {_mm512_permutex2var_epi32(lo01, i0, lo23), _mm512_permutex2var_epi32(lo01, i1, lo23),
                                    _mm512_permutex2var_epi32(hi01, i0, hi23), _mm512_permutex2var_epi32(hi01, i1, hi23)};
            for (int64_t g = 0; g < 4 && c + 4 * g < dp; g++) {
                _mm512_storeu_si512(panel + (c + 4 * g) * 16, row[g]);
                sum = _mm512_dpbusd_epi32(sum, ones, row[g]);
            }
        }
        _mm512_storeu_si512(ws->kcorr + j0, _mm512_mullo_epi32(sum, _mm512_set1_epi32(-128)));
    }
}

/* Values: one scale per channel over all keys; key quads, [nkp / 4][d16][4]. */
TVNNI static void pack_v(const float *v, int64_t ldv, int64_t nk, const rr_attn_ws_t *ws) {
    const int64_t d16 = ws->d16, d = ws->d;
    float inv[RR_ATTN_MAX_D + 16];
    for (int64_t c = 0; c < d16; c += 16) {
        const __mmask16 m = rr_tail16(d - c);
        __m512 mx = _mm512_setzero_ps();
        for (int64_t j = 0; j < nk; j++) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, v + j * ldv + c)));
        float amax[16];
        _mm512_storeu_ps(amax, mx);
        for (int i = 0; i < 16; i++) {
            float scale;
            rr_attn_s8_scale(amax[i], &scale, &inv[c + i]);
            ws->vfac[c + i] = scale;
        }
    }
    int8_t *vp = ws->v;
    const __m512i byte = _mm512_set1_epi32(0xff);
    for (int64_t j = 0; j < ws->nkp; j += 4)
        for (int64_t c = 0; c < d16; c += 16) {
            const __mmask16 m = rr_tail16(d - c);
            const __m512 vi = _mm512_loadu_ps(inv + c);
            __m512i quad = _mm512_setzero_si512();
            for (int i = 0; i < 4; i++) {
                const __m512 x = j + i < nk ? _mm512_maskz_loadu_ps(m, v + (j + i) * ldv + c) : _mm512_setzero_ps();
                quad = _mm512_or_si512(quad, _mm512_slli_epi32(_mm512_and_si512(s8x16(x, vi), byte), 8 * i));
            }
            _mm512_storeu_si512(vp + j * d16 + 4 * c, quad);
        }
}

/* Query rows [rows][dp] as u8 (s8 + 128; padding 128), factor row scale * scale2. */
TVNNI static void pack_q(const float *q, int64_t ldq, int64_t rows, float scale2, const rr_attn_ws_t *ws) {
    uint8_t *qp = ws->q;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = q + r * ldq;
        float scale, inv;
        rr_attn_s8_scale(amax_row(x, ws->d), &scale, &inv);
        const __m512 vi = _mm512_set1_ps(inv);
        const __m512i off = _mm512_set1_epi32(128);
        int64_t c = 0;
        for (; c + 64 <= ws->d; c += 64) { /* whole vectors (1 .. 255: packed exactly), then the masked tail */
#define QU(o) _mm512_add_epi32(s8x16(_mm512_loadu_ps(x + c + (o)), vi), off)
            _mm512_storeu_si512(qp + r * ws->dp + c, rr_pack_u8x64(QU(0), QU(16), QU(32), QU(48)));
#undef QU
        }
        for (; c < ws->dp; c += 16) {
            const __m512i u = _mm512_add_epi32(s8x16(_mm512_maskz_loadu_ps(rr_tail16(ws->d - c), x + c), vi), off);
            _mm512_mask_cvtepi32_storeu_epi8(qp + r * ws->dp + c, rr_tail16(ws->dp - c), u);
        }
        ws->qfac[r] = scale * scale2;
    }
}

#define EPI(r, A0, A1)                                                                                        \
    if (r < nr) {                                                                                             \
        const __m512 f = _mm512_set1_ps(qfac[r]);                                                             \
        const __m512 x0 = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(A0), f0), f),                        \
                     x1 = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(A1), f1), f);                        \
        _mm512_storeu_ps(s + r * KT + jj, x0);                                                                \
        _mm512_storeu_ps(s + r * KT + jj + 16, x1);                                                           \
        mx##r = _mm512_max_ps(mx##r, _mm512_max_ps(x0, x1));                                                  \
    }

/* s[r][j] = (float)(q8[r] . k8[j]) * kfac[j] * qfac[r] for the nr <= 8 rows
 * of one group, 8 rows x 32 keys a register tile; rowmax[r]: the max of
 * row r over all ktp keys (no mask). */
TVNNI static void scores(const uint8_t *q, int64_t dp, int64_t nr, const int8_t *kp, const int32_t *kcorr,
                         const float *kfac, int64_t ktp, const float *qfac, float *s, float *rowmax) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 mx0 = ninf, mx1 = ninf, mx2 = ninf, mx3 = ninf, mx4 = ninf, mx5 = ninf, mx6 = ninf, mx7 = ninf;
    const uint8_t *qr[8];
    for (int64_t r = 0; r < 8; r++) qr[r] = q + (r < nr ? r : 0) * dp; /* rows past nr repeat row 0 */
    for (int64_t jj = 0; jj < ktp; jj += 32) {
        const int8_t *k0p = kp + jj * dp, *k1p = k0p + 16 * dp;
        const __m512i c0 = _mm512_loadu_si512(kcorr + jj), c1 = _mm512_loadu_si512(kcorr + jj + 16);
        __m512i a00 = c0, a01 = c1, a10 = c0, a11 = c1, a20 = c0, a21 = c1, a30 = c0, a31 = c1, a40 = c0, a41 = c1,
                a50 = c0, a51 = c1, a60 = c0, a61 = c1, a70 = c0, a71 = c1;
        for (int64_t c = 0; c < dp; c += 4) {
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
        const __m512 f0 = _mm512_loadu_ps(kfac + jj), f1 = _mm512_loadu_ps(kfac + jj + 16);
        EPI(0, a00, a01) EPI(1, a10, a11) EPI(2, a20, a21) EPI(3, a30, a31)
        EPI(4, a40, a41) EPI(5, a50, a51) EPI(6, a60, a61) EPI(7, a70, a71)
    }
    const __m512 mx[8] = {mx0, mx1, mx2, mx3, mx4, mx5, mx6, mx7};
    for (int64_t r = 0; r < nr; r++) rowmax[r] = _mm512_reduce_max_ps(mx[r]);
}
#undef EPI

/* rr_attn_p8 on 16 lanes, as int32, without its clamp: below -125 the
 * scaled value underflows to 0 here too, and -inf (masked keys) gives NaN,
 * converted to INT_MIN, which the caller's unsigned saturating pack turns
 * into 0 as rr_attn_p8 does (its sum is taken after the pack). */
TVNNI static inline __m512i p8x16(__m512 x) {
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), f = _mm512_sub_ps(x, n);
    const float q[3] = {RR_ATTN_Q3};
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(q[2]), f, _mm512_set1_ps(q[1]));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(q[0]));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(255.0f));
    return _mm512_cvtps_epi32(_mm512_scalef_ps(p, n));
}

/* One row's online softmax step: p8 = rr_attn_p8(s - mu), 64 at a time
 * packed to bytes and summed by a dot product with ones. rowmax: the row's
 * unmasked max from the scores (used when the row sees the whole tile). */
TVNNI static void softmax_row(float *s, uint8_t *p, int64_t ktp, int64_t a, int64_t b, float rowmax, float *m,
                              float *l, float *alpha) {
    const float mt = a == 0 && b == ktp ? rowmax : rr_row_mask_max(s, ktp, a, b);
    const float mn = rr_attn_max(*m, mt), mu = isinf(mn) ? 0.0f : mn;
    *alpha = rr_attn_exp2_coarse(*m - mu);
    const __m512 vmu = _mm512_set1_ps(mu);
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i sum = _mm512_setzero_si512();
    for (int64_t jj = 0; jj < ktp; jj += 64) {
        const int whole = jj + 64 <= ktp; /* else 32 left */
        const __m512i e0 = p8x16(_mm512_sub_ps(_mm512_loadu_ps(s + jj), vmu)),
                      e1 = p8x16(_mm512_sub_ps(_mm512_loadu_ps(s + jj + 16), vmu)),
                      e2 = whole ? p8x16(_mm512_sub_ps(_mm512_loadu_ps(s + jj + 32), vmu)) : _mm512_setzero_si512(),
                      e3 = whole ? p8x16(_mm512_sub_ps(_mm512_loadu_ps(s + jj + 48), vmu)) : _mm512_setzero_si512();
        const __m512i bytes = rr_pack_u8x64(e0, e1, e2, e3);
        _mm512_mask_storeu_epi8(p + jj, whole ? ~(__mmask64)0 : (__mmask64)0xffffffffu, bytes);
        sum = _mm512_dpbusd_epi32(sum, bytes, ones);
    }
    *l = fmaf(*alpha, *l, (float)_mm512_reduce_add_epi32(sum));
    *m = mn;
}

/* o[r] = alpha[r] o[r] + (float)(p8[r] . V8) for nr <= 8 rows, kn keys (rounded up to a quad). */
TVNNI static void pv(const uint8_t *p, int64_t nr, int64_t kn, const int8_t *v, int64_t d16, const float *alpha,
                     float *o) {
    for (int64_t r = 0; r < nr; r += 4) {
        const int64_t k = nr - r < 4 ? nr - r : 4;
        const uint8_t *p0 = p + r * KT, *p1 = p0 + (k > 1) * KT, *p2 = p0 + (k > 2) * 2 * KT,
                      *p3 = p0 + (k > 3) * 3 * KT;
        int64_t c = 0;
        for (; c + 64 <= d16; c += 64) {
            __m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00,
                    a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            for (int64_t j = 0; j < kn; j += 4) {
                const int8_t *vr = v + j * d16 + 4 * c;
                const __m512i v0 = _mm512_loadu_si512(vr), v1 = _mm512_loadu_si512(vr + 64),
                              v2 = _mm512_loadu_si512(vr + 128), v3 = _mm512_loadu_si512(vr + 192);
                __m512i b = _mm512_set1_epi32(rr_ld32(p0 + j));
                DOT(a00, b, v0); DOT(a01, b, v1); DOT(a02, b, v2); DOT(a03, b, v3);
                b = _mm512_set1_epi32(rr_ld32(p1 + j));
                DOT(a10, b, v0); DOT(a11, b, v1); DOT(a12, b, v2); DOT(a13, b, v3);
                b = _mm512_set1_epi32(rr_ld32(p2 + j));
                DOT(a20, b, v0); DOT(a21, b, v1); DOT(a22, b, v2); DOT(a23, b, v3);
                b = _mm512_set1_epi32(rr_ld32(p3 + j));
                DOT(a30, b, v0); DOT(a31, b, v1); DOT(a32, b, v2); DOT(a33, b, v3);
            }
            const __m512i acc[4][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23},
                                       {a30, a31, a32, a33}};
            for (int64_t i = 0; i < k; i++) {
                const __m512 al = _mm512_set1_ps(alpha[r + i]);
                float *orow = o + (r + i) * d16 + c;
                for (int u = 0; u < 4; u++)
                    _mm512_storeu_ps(orow + 16 * u, _mm512_fmadd_ps(al, _mm512_loadu_ps(orow + 16 * u),
                                                                    _mm512_cvtepi32_ps(acc[i][u])));
            }
        }
        for (; c < d16; c += 16) {
            __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t j = 0; j < kn; j += 4) {
                const __m512i vv = _mm512_loadu_si512(v + j * d16 + 4 * c);
                DOT(a0, _mm512_set1_epi32(rr_ld32(p0 + j)), vv);
                DOT(a1, _mm512_set1_epi32(rr_ld32(p1 + j)), vv);
                DOT(a2, _mm512_set1_epi32(rr_ld32(p2 + j)), vv);
                DOT(a3, _mm512_set1_epi32(rr_ld32(p3 + j)), vv);
            }
            const __m512i acc[4] = {a0, a1, a2, a3};
            for (int64_t i = 0; i < k; i++) {
                float *orow = o + (r + i) * d16 + c;
                _mm512_storeu_ps(orow, _mm512_fmadd_ps(_mm512_set1_ps(alpha[r + i]), _mm512_loadu_ps(orow),
                                                       _mm512_cvtepi32_ps(acc[i])));
            }
        }
    }
}

TVNNI static void tile(const rr_attn_tile_t *t) {
    const rr_attn_ws_t *ws = t->ws;
    const int64_t ktp = (t->kt + 31) & ~(int64_t)31;
    uint8_t *p = ws->p;
    for (int64_t r0 = 0; r0 < t->rows; r0 += 8) {
        const int64_t nr = t->rows - r0 < 8 ? t->rows - r0 : 8;
        float rowmax[8];
        scores((const uint8_t *)ws->q + r0 * ws->dp, ws->dp, nr, (const int8_t *)ws->k + t->j0 * ws->dp,
               ws->kcorr + t->j0, ws->kfac + t->j0, ktp, ws->qfac + r0, ws->s, rowmax);
        for (int64_t r = 0; r < nr; r++) {
            int64_t a, b;
            rr_attn_row_span(t, r0 + r, &a, &b);
            softmax_row(ws->s + r * KT, p + r * KT, ktp, a, b, rowmax[r], &ws->m[r0 + r], &ws->l[r0 + r],
                        &ws->alpha[r0 + r]);
        }
        pv(p, nr, t->kt, (const int8_t *)ws->v + t->j0 * ws->d16, ws->d16, ws->alpha + r0, ws->o + r0 * ws->d16);
    }
}

TVNNI static void exp2_coarse(const float *x, int64_t n, float *y) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = rr_tail16(n - i);
        _mm512_mask_storeu_ps(y + i, m, rr_exp2_coarse16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

TVNNI static void finish(const float *acc, float inv, const float *vfac, int64_t d, float *out) {
    rr_finish16(acc, inv, vfac, d, out);
}

/* ---- AMX: the same packing, float steps and softmax, the two integer
 * products on tiles (tdpbusd: u8 x s8 summed exactly into 32-bit lanes, as
 * vpdpbusd; so every bit equals the AVX-512 variant's). Keys go 64 per step
 * in P V: 32 zero keys are packed past the padded nk, and p is 0 there. */
#define TAMX __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,avx512vnni,amx-tile,amx-int8")))

/* As pack_q, and the block's rows past `rows` zero (a tile reads 16 rows). */
TVNNI static void pack_q_amx(const float *q, int64_t ldq, int64_t rows, float scale2, const rr_attn_ws_t *ws) {
    pack_q(q, ldq, rows, scale2, ws);
    memset((uint8_t *)ws->q + rows * ws->dp, 0, (size_t)((RR_ATTN_BLOCK_ROWS - rows) * ws->dp));
}

/* s[r][j] (as int32) = q8[r] . k8[j] without the key's correction;
 * o[r] = alpha[r] o[r] + (float)(p8[r] . V8) (attention_amx_tiles.h) */
#define LOAD_I32(x) _mm512_cvtepi32_ps(_mm512_loadu_si512(x))
RR_AMX_SCORES(TAMX, scores_amx, uint8_t, int8_t, int32_t, _tile_dpbusd)
RR_AMX_PV(TAMX, pv_amx, uint8_t, int8_t, int32_t, _tile_dpbusd, LOAD_I32)

/* s[r][j] = (float)(acc + kcorr[j]) * kfac[j] * qfac[r] in place, and each
 * row's max over ktp keys (as scores' epilogue). */
TVNNI static void scale_rows(float *s, int64_t rows, int64_t ktp, const int32_t *kcorr, const float *kfac,
                             const float *qfac, float *rowmax) {
    for (int64_t r = 0; r < rows; r++) {
        const __m512 f = _mm512_set1_ps(qfac[r]);
        __m512 mx = _mm512_set1_ps(-INFINITY);
        float *row = s + r * KT;
        for (int64_t jj = 0; jj < ktp; jj += 16) {
            const __m512i acc = _mm512_add_epi32(_mm512_loadu_si512(row + jj), _mm512_loadu_si512(kcorr + jj));
            const __m512 x = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(kfac + jj)), f);
            _mm512_storeu_ps(row + jj, x);
            mx = _mm512_max_ps(mx, x);
        }
        rowmax[r] = _mm512_reduce_max_ps(mx);
    }
}

TVNNI static void tile_amx(const rr_attn_tile_t *t) {
    const rr_attn_ws_t *ws = t->ws;
    const int64_t ktp = (t->kt + 31) & ~(int64_t)31, kp64 = (ktp + 63) & ~(int64_t)63;
    uint8_t *p = ws->p;
    float rowmax[RR_ATTN_BLOCK_ROWS];
    scores_amx(ws->q, ws->dp, t->rows, (const int8_t *)ws->k + t->j0 * ws->dp, ktp, (int32_t *)ws->s);
    scale_rows(ws->s, t->rows, ktp, ws->kcorr + t->j0, ws->kfac + t->j0, ws->qfac, rowmax);
    for (int64_t r = 0; r < t->rows; r++) {
        int64_t a, b;
        rr_attn_row_span(t, r, &a, &b);
        softmax_row(ws->s + r * KT, p + r * KT, ktp, a, b, rowmax[r], &ws->m[r], &ws->l[r], &ws->alpha[r]);
        if (kp64 > ktp) memset(p + r * KT + ktp, 0, (size_t)(kp64 - ktp)); /* ktp <= 224 here: within the row */
    }
    const int64_t rows16 = (t->rows + 15) & ~(int64_t)15; /* the last row tile's other rows: p 0 */
    for (int64_t r = t->rows; r < rows16; r++) memset(p + r * KT, 0, (size_t)kp64);
    pv_amx(p, t->rows, kp64, (const int8_t *)ws->v + t->j0 * ws->d16, ws->d16, ws->alpha, ws->o, (int32_t *)ws->s);
}

const rr_attn_impl_t rr_attn_amx_int8 = {
    .name = "amx", .mode = RERANK_PRECISION_INT8, .k_bytes = 1, .v_bytes = 1, .q_bytes = 1, .p_bytes = 1,
    .d_align = 64, .tile_rows = RR_ATTN_BLOCK_ROWS, .key_extra = 32, .enter = rr_attn_amx_enter,
    .leave = rr_attn_amx_leave, .pack_k = pack_k, .pack_v = pack_v, .pack_q = pack_q_amx, .tile = tile_amx,
    .finish = finish, .exp2 = exp2_coarse,
};

const rr_attn_impl_t rr_attn_avx512_int8 = {
    .name = "avx512", .mode = RERANK_PRECISION_INT8, .k_bytes = 1, .v_bytes = 1, .q_bytes = 1, .p_bytes = 1,
    .pack_k = pack_k, .pack_v = pack_v, .pack_q = pack_q, .tile = tile, .finish = finish, .exp2 = exp2_coarse,
};
