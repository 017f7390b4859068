/* attention_ref.c — the scalar reference of every attention mode, one query
 * row at a time over the same key tiles as the SIMD implementations:
 * fp32 and bf16 in float64 arithmetic (exp2 from libm, the bf16 rounding of
 * p done on the float64 value), int8 with exactly the integer and float
 * steps the SIMD code takes, so that every int8 implementation gives the
 * same bits. Written for clarity, not speed. */
#include "kernels/attention_util.h"
#include "kernels/kernels.h"

#define KT RR_ATTN_TILE_KEYS

/* x rounded to 8 significant bits, half to even (bf16 without the range limits). */
static double round_bf16(double x) {
    if (x == 0 || !isfinite(x)) return x;
    int e;
    const double m = frexp(x, &e); /* 0.5 <= |m| < 1 */
    return ldexp(nearbyint(m * 256.0) / 256.0, e);
}

static float to_bf16_value(float x) { return rr_bf16_to_f32(rr_f32_to_bf16(x)); }

/* fp32 and bf16: keys [nk][dp] and values [nk][d16] as floats (bf16: rounded). */
static void run_float(const rr_attn_impl_t *im, const rr_attn_args_t *a) {
    rr_attn_ws_t ws;
    rr_attn_ws_layout(im, a->nk, a->d, a->scratch, &ws);
    const int bf16 = im->mode == RERANK_PRECISION_BF16;
    const int64_t d = a->d;
    float *K = ws.k, *V = ws.v;
    for (int64_t j = 0; j < a->nk; j++)
        for (int64_t c = 0; c < d; c++) {
            K[j * ws.dp + c] = bf16 ? to_bf16_value(a->k[j * a->ldk + c]) : a->k[j * a->ldk + c];
            V[j * ws.d16 + c] = bf16 ? to_bf16_value(a->v[j * a->ldv + c]) : a->v[j * a->ldv + c];
        }
    const double scale2 = rr_attn_scale2(a->scale);
    double q[RR_ATTN_MAX_D], O[RR_ATTN_MAX_D], s[KT];
    for (int64_t row = 0; row < a->g * a->nq; row++) {
        const int64_t i = row % a->nq;
        const float *x = rr_attn_q_row(a, row / a->nq, i);
        for (int64_t c = 0; c < d; c++) q[c] = bf16 ? to_bf16_value(x[c]) : x[c];
        int64_t lo, hi;
        rr_attn_row_keys(a, i, &lo, &hi);
        double m = -INFINITY, l = 0;
        for (int64_t c = 0; c < d; c++) O[c] = 0;
        for (int64_t t0 = lo / KT * KT; t0 < hi; t0 += KT) {
            const int64_t js = t0 > lo ? t0 : lo, je = t0 + KT < hi ? t0 + KT : hi;
            double mt = -INFINITY;
            for (int64_t j = js; j < je; j++) {
                double acc = 0;
                for (int64_t c = 0; c < d; c++) acc += q[c] * K[j * ws.dp + c];
                s[j - t0] = scale2 * acc;
                mt = s[j - t0] > mt ? s[j - t0] : mt;
            }
            const double mn = mt > m ? mt : m, alpha = exp2(m - mn);
            l *= alpha;
            for (int64_t c = 0; c < d; c++) O[c] *= alpha;
            for (int64_t j = js; j < je; j++) {
                double p = exp2(s[j - t0] - mn);
                if (bf16) p = round_bf16(p);
                l += p;
                for (int64_t c = 0; c < d; c++) O[c] += p * V[j * ws.d16 + c];
            }
            m = mn;
        }
        float *out = rr_attn_o_row(a, row / a->nq, i);
        for (int64_t c = 0; c < d; c++) out[c] = l > 0 ? (float)(O[c] / l) : 0.0f;
    }
}

/* int8: keys [nk][dp] and values [nk][d16] hold the s8 values as floats. */
static void run_int8(const rr_attn_impl_t *im, const rr_attn_args_t *a) {
    rr_attn_ws_t ws;
    rr_attn_ws_layout(im, a->nk, a->d, a->scratch, &ws);
    const int64_t d = a->d;
    float *K = ws.k, *V = ws.v, scale, inv;
    for (int64_t j = 0; j < a->nk; j++) { /* keys: one scale per key */
        const float *x = a->k + j * a->ldk;
        float amax = 0;
        for (int64_t c = 0; c < d; c++) amax = fmaxf(amax, fabsf(x[c]));
        rr_attn_s8_scale(amax, &ws.kfac[j], &inv);
        for (int64_t c = 0; c < d; c++) K[j * ws.dp + c] = (float)rr_attn_s8(x[c], inv);
    }
    for (int64_t c = 0; c < d; c++) { /* values: one scale per channel */
        float amax = 0;
        for (int64_t j = 0; j < a->nk; j++) amax = fmaxf(amax, fabsf(a->v[j * a->ldv + c]));
        rr_attn_s8_scale(amax, &scale, &inv);
        ws.vfac[c] = scale;
        for (int64_t j = 0; j < a->nk; j++) V[j * ws.d16 + c] = (float)rr_attn_s8(a->v[j * a->ldv + c], inv);
    }
    const float scale2 = rr_attn_scale2(a->scale);
    int32_t q[RR_ATTN_MAX_D], acc[RR_ATTN_MAX_D], p[KT];
    float O[RR_ATTN_MAX_D], s[KT];
    for (int64_t row = 0; row < a->g * a->nq; row++) {
        const int64_t i = row % a->nq;
        const float *x = rr_attn_q_row(a, row / a->nq, i);
        float amax = 0;
        for (int64_t c = 0; c < d; c++) amax = fmaxf(amax, fabsf(x[c]));
        rr_attn_s8_scale(amax, &scale, &inv);
        for (int64_t c = 0; c < d; c++) q[c] = rr_attn_s8(x[c], inv);
        const float qfac = scale * scale2;
        int64_t lo, hi;
        rr_attn_row_keys(a, i, &lo, &hi);
        float m = -INFINITY, l = 0;
        for (int64_t c = 0; c < d; c++) O[c] = 0;
        for (int64_t t0 = lo / KT * KT; t0 < hi; t0 += KT) {
            const int64_t js = t0 > lo ? t0 : lo, je = t0 + KT < hi ? t0 + KT : hi;
            float mt = -INFINITY;
            for (int64_t j = js; j < je; j++) {
                int32_t dot = 0;
                for (int64_t c = 0; c < d; c++) dot += q[c] * (int32_t)K[j * ws.dp + c];
                s[j - t0] = (float)dot * ws.kfac[j] * qfac;
                mt = rr_attn_max(mt, s[j - t0]);
            }
            const float mn = rr_attn_max(m, mt), mu = isinf(mn) ? 0.0f : mn, alpha = rr_attn_exp2_coarse(m - mu);
            int32_t sum = 0;
            for (int64_t j = js; j < je; j++) sum += p[j - t0] = rr_attn_p8(s[j - t0] - mu);
            for (int64_t c = 0; c < d; c++) {
                acc[c] = 0;
                for (int64_t j = js; j < je; j++) acc[c] += p[j - t0] * (int32_t)V[j * ws.d16 + c];
            }
            l = fmaf(alpha, l, (float)sum);
            for (int64_t c = 0; c < d; c++) O[c] = fmaf(alpha, O[c], (float)acc[c]);
            m = mn;
        }
        const float linv = l > 0 ? 1.0f / l : 0.0f;
        float *out = rr_attn_o_row(a, row / a->nq, i);
        for (int64_t c = 0; c < d; c++) out[c] = O[c] * linv * ws.vfac[c];
    }
}

/* The exp2 definitions the SIMD code follows bit for bit (the float64
 * reference itself uses libm's exp2). */
static void exp2_fine(const float *x, int64_t n, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] = rr_attn_exp2_fine(x[i]);
}

static void exp2_coarse(const float *x, int64_t n, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] = rr_attn_exp2_coarse(x[i]);
}

const rr_attn_impl_t rr_attn_ref[3] = {
    [RERANK_PRECISION_FP32] = {.name = "scalar", .mode = RERANK_PRECISION_FP32, .k_bytes = 4, .v_bytes = 4,
                               .run = run_float, .exp2 = exp2_fine},
    [RERANK_PRECISION_BF16] = {.name = "scalar", .mode = RERANK_PRECISION_BF16, .k_bytes = 4, .v_bytes = 4,
                               .run = run_float, .exp2 = exp2_fine},
    [RERANK_PRECISION_INT8] = {.name = "scalar", .mode = RERANK_PRECISION_INT8, .k_bytes = 4, .v_bytes = 4,
                               .run = run_int8, .exp2 = exp2_coarse},
};
