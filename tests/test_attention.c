/* test_attention.c — rr_attend (src/kernels/attention.h): every
 * implementation of every mode against a float64 simulation of the mode's
 * format and against exact float64 attention, with error bounds derived
 * (not guessed) from the arithmetic each implementation performs; int8
 * bit for bit across implementations; determinism; masks; bad arguments.
 *
 * The bound, per output element, of an implementation against the format
 * simulated in float64 (same quantized inputs, same tiles, exact arithmetic):
 *
 *  1. Scores. fp32/bf16: an fp32 dot product of d terms (bf16 products are
 *     exact) is off by <= gamma_d sum|q_c k_c| (gamma_n = n u / (1 - n u),
 *     u = 2^-24), one more u |s| for the scale, and the subnormal flushing
 *     of vdpbf16ps adds <= d 2^-126 per score. int8: the integer dot product
 *     is exact; its two float scalings add <= 2u |s|.
 *     The running max m~ is one of the s~, so |m~ - m| <= the largest score
 *     error so far (Delta_t).
 *  2. exp2. x~ = s~ - m~ rounded once: |x~ - x| <= ds + Delta_t + u(|x| + ds
 *     + Delta_t) =: dx; exp2 itself is within E (RR_ATTN_EXP2_FINE_ERR or
 *     _COARSE_ERR, checked in exp2_accuracy). So the unrounded probability
 *     lies in [p (1 - eta), p (1 + eta)], eta = 2^dx (1 + E) - 1.
 *  3. Rounding of p (bf16, u8): if both ends of that interval round to the
 *     same value, so does the implementation's p (rounding is monotonic);
 *     else it may differ by the gap between the two roundings. fp32: no
 *     rounding, |dp| <= eta p. Values below 2^-125 are flushed to 0 (<= that
 *     much each).
 *  4. Rescaling. Each alpha = exp2(m~_{t-1} - m~_t) is within eta_a of
 *     exact (same reasoning, the alpha exp2 of the mode); the product over
 *     the tiles after a key's tile within (1 + eta_a)^T - 1 =: eta_A.
 *  5. The weights w_j = p_j A_t(j) then move by sum |dw| <= sum_j A (1 +
 *     eta_A) |dp_j| + eta_A p_j A; a weighted mean sum w v / sum w moves by
 *     <= 2 sum |dw| / (W - sum |dw|) max |v| over the row's keys.
 *  6. Accumulation. fp32/bf16: each tile's P V sum has <= KT roundings
 *     (relative to that tile's sum of |terms|), l's <= KT + 20 (vector and
 *     horizontal sums), each rescale one, the final O * (1 / l) two:
 *     (2 KT + 2 T + 24) u max|v|. int8: integer sums are exact; 2 T + 6
 *     roundings (rescales, 1 / l, the two final products).
 *
 * The scalar reference computes fp32 and bf16 in float64: the same bound
 * with u = 2^-53 and E = 2^-52 covers it. */
#include <stdint.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/attention_util.h"
#include "kernels/kernels.h"
#include "test.h"

#define KT RR_ATTN_TILE_KEYS

static uint64_t g_rng = 88172645463325252ull;
static double urand(void) { /* [0, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) * 0x1p-53;
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)urand(); }

static void *xalloc(size_t n) {
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!p) abort();
    return p;
}

static const char *mode_name(rerank_precision_t m) {
    return m == RERANK_PRECISION_FP32 ? "fp32" : m == RERANK_PRECISION_BF16 ? "bf16" : "int8";
}

/* ---- one test case ---- */
typedef struct tcase {
    int64_t nq, nk, d, g, q_offset, window;
    int causal;
    int kind; /* 0 random, 1 large scores, 2 all-equal scores (identical keys) */
    int interleave; /* rows of q and o interleaved by token, heads side by side (ldqh = ldoh = row size) */
    int64_t ld_pad;
    float *q, *k, *v; /* with row strides d + ld_pad */
} tcase_t;

static int64_t ld_of(const tcase_t *c) { return c->d + c->ld_pad; }

/* Row index of query row i of head h in q (stride ld) and in outputs (stride ldo). */
static int64_t row_of(const tcase_t *c, int64_t h, int64_t i) { return c->interleave ? i * c->g + h : h * c->nq + i; }

static void make_case(tcase_t *c) {
    const int64_t ld = ld_of(c);
    c->q = xalloc(sizeof(float) * (size_t)(c->g * c->nq * ld));
    c->k = xalloc(sizeof(float) * (size_t)(c->nk * ld));
    c->v = xalloc(sizeof(float) * (size_t)(c->nk * ld));
    const float qs = c->kind == 1 ? 40.0f : 2.0f; /* kind 1: scores up to ~1e3-1e4 */
    for (int64_t i = 0; i < c->g * c->nq * ld; i++) c->q[i] = frand(-qs, qs);
    for (int64_t j = 0; j < c->nk; j++)
        for (int64_t x = 0; x < ld; x++) {
            c->k[j * ld + x] = c->kind == 2 && j > 0 ? c->k[x] : frand(-qs, qs); /* kind 2: every key = key 0 */
            c->v[j * ld + x] = frand(-1, 1) + (x % 3 == 0 ? 0.5f : 0.0f);
        }
}

static void free_case(tcase_t *c) {
    free(c->q); free(c->k); free(c->v);
}

/* Run one implementation on the whole case (or one row: nq = 1 at row i of head h). */
static rerank_status_t run(const rr_attn_impl_t *im, const tcase_t *c, int64_t h, int64_t i, int whole, float *o,
                           int64_t ldo) {
    const int64_t ld = ld_of(c);
    const size_t bytes = rr_attn_impl_scratch_size(im, c->nk, c->d);
    void *scratch = xalloc(bytes);
    rr_attn_args_t a = {.q = c->q, .ldq = c->interleave ? c->g * ld : ld, .ldqh = c->interleave ? ld : 0, .k = c->k,
                        .v = c->v, .ldk = ld, .ldv = ld, .o = o, .ldo = c->interleave ? c->g * ldo : ldo,
                        .ldoh = c->interleave ? ldo : 0,
                        .nq = c->nq, .nk = c->nk, .d = c->d, .g = c->g, .scale = 1.0f / sqrtf((float)c->d),
                        .causal = c->causal, .q_offset = c->q_offset, .window = c->window, .mode = im->mode,
                        .scratch = scratch, .scratch_bytes = bytes};
    if (!whole) {
        a.q = c->q + row_of(c, h, i) * ld;
        a.nq = 1;
        a.g = 1;
        a.q_offset = c->q_offset + i;
    }
    rerank_status_t st = rr_attend_with(im, &a);
    free(scratch);
    return st;
}

/* ---- the format in float64 ---- */
static double round_bf16_d(double x) {
    if (x == 0) return 0;
    int e;
    const double m = frexp(x, &e);
    return ldexp(nearbyint(m * 256.0) / 256.0, e);
}
static float bf16v(float x) { return rr_bf16_to_f32(rr_f32_to_bf16(x)); }

/* Quantized operands of one case for a mode: values as doubles, int8 factors. */
typedef struct qops {
    double *k, *v;     /* [nk][d] */
    double *kfac;      /* int8: key scale (float value) */
    double *vscale;    /* int8: channel scale */
    double scale2;     /* float scale * log2 e, as the implementations use */
} qops_t;

static void quantize_case(const tcase_t *c, rerank_precision_t mode, qops_t *Q) {
    const int64_t d = c->d, nk = c->nk, ld = ld_of(c);
    Q->k = xalloc(sizeof(double) * (size_t)(nk * d));
    Q->v = xalloc(sizeof(double) * (size_t)(nk * d));
    Q->kfac = xalloc(sizeof(double) * (size_t)nk);
    Q->vscale = xalloc(sizeof(double) * (size_t)d);
    Q->scale2 = rr_attn_scale2(1.0f / sqrtf((float)d));
    for (int64_t j = 0; j < nk; j++) {
        float amax = 0, s, inv;
        for (int64_t x = 0; x < d; x++) amax = fmaxf(amax, fabsf(c->k[j * ld + x]));
        rr_attn_s8_scale(amax, &s, &inv);
        Q->kfac[j] = s;
        for (int64_t x = 0; x < d; x++) {
            const float kv = c->k[j * ld + x];
            Q->k[j * d + x] = mode == RERANK_PRECISION_INT8 ? rr_attn_s8(kv, inv) : mode == RERANK_PRECISION_BF16 ? bf16v(kv) : kv;
        }
    }
    for (int64_t x = 0; x < d; x++) {
        float amax = 0, s, inv;
        for (int64_t j = 0; j < nk; j++) amax = fmaxf(amax, fabsf(c->v[j * ld + x]));
        rr_attn_s8_scale(amax, &s, &inv);
        Q->vscale[x] = s;
        for (int64_t j = 0; j < nk; j++) {
            const float vv = c->v[j * ld + x];
            Q->v[j * d + x] = mode == RERANK_PRECISION_INT8 ? rr_attn_s8(vv, inv) * (double)s
                              : mode == RERANK_PRECISION_BF16 ? bf16v(vv) : vv;
        }
    }
}

static void free_qops(qops_t *Q) {
    free(Q->k); free(Q->v); free(Q->kfac); free(Q->vscale);
}

/* Allowed keys of query i straight from the definition (independent of
 * rr_attn_row_keys): j < nk, j <= pos if causal, |pos - j| <= window if a
 * window; the allowed set is an interval [*lo, *hi). */
static void allowed_keys(const tcase_t *c, int64_t i, int64_t *lo, int64_t *hi) {
    const int64_t pos = c->q_offset + i;
    *lo = *hi = 0;
    int found = 0;
    for (int64_t j = 0; j < c->nk; j++) {
        const int ok = (!c->causal || j <= pos) && (!c->window || (pos - j <= c->window && j - pos <= c->window));
        if (ok && !found) *lo = j, found = 1;
        if (ok) *hi = j + 1;
    }
}

/* Float64 results for row i of head h: the exact attention, the format
 * simulated, and the bound (per channel) of an implementation with unit
 * roundoff u and exp2 error E against the simulation. */
typedef struct rowref {
    double exact[RR_ATTN_MAX_D], sim[RR_ATTN_MAX_D], bound[RR_ATTN_MAX_D], bound_ref[RR_ATTN_MAX_D];
    int64_t flips; /* keys whose rounded p the bound lets differ */
} rowref_t;

static int64_t g_flip_total, g_key_total;

static void row_reference(const tcase_t *c, rerank_precision_t mode, const qops_t *Q, int64_t h, int64_t i,
                          rowref_t *R) {
    const int64_t d = c->d, ld = ld_of(c);
    const float *qr = c->q + row_of(c, h, i) * ld;
    int64_t lo, hi;
    allowed_keys(c, i, &lo, &hi);
    double q[RR_ATTN_MAX_D], qfac = Q->scale2;
    if (mode == RERANK_PRECISION_INT8) {
        float amax = 0, s, inv;
        for (int64_t x = 0; x < d; x++) amax = fmaxf(amax, fabsf(qr[x]));
        rr_attn_s8_scale(amax, &s, &inv);
        qfac = s * rr_attn_scale2(1.0f / sqrtf((float)d)); /* the float product, as implemented */
        for (int64_t x = 0; x < d; x++) q[x] = rr_attn_s8(qr[x], inv);
    } else {
        for (int64_t x = 0; x < d; x++) q[x] = mode == RERANK_PRECISION_BF16 ? bf16v(qr[x]) : qr[x];
    }
    /* exact attention */
    {
        const double sc = 1.4426950408889634 / sqrt((double)d);
        double m = -INFINITY, W = 0, acc[RR_ATTN_MAX_D] = {0};
        double *s = xalloc(sizeof(double) * (size_t)(hi > lo ? hi - lo : 1));
        for (int64_t j = lo; j < hi; j++) {
            double t = 0;
            for (int64_t x = 0; x < d; x++) t += (double)qr[x] * c->k[j * ld + x];
            s[j - lo] = t * sc;
            m = fmax(m, s[j - lo]);
        }
        for (int64_t j = lo; j < hi; j++) {
            const double p = exp2(s[j - lo] - m);
            W += p;
            for (int64_t x = 0; x < d; x++) acc[x] += p * c->v[j * ld + x];
        }
        for (int64_t x = 0; x < d; x++) R->exact[x] = W > 0 ? acc[x] / W : 0;
        free(s);
    }
    /* the format, tile by tile, and the pieces of the bound */
    const int fine = mode != RERANK_PRECISION_INT8;
    const double E = fine ? RR_ATTN_EXP2_FINE_ERR : RR_ATTN_EXP2_COARSE_ERR;
    const int64_t n = hi > lo ? hi - lo : 0;
    double *s = xalloc(sizeof(double) * (size_t)(n ? n : 1)), *ds = xalloc(sizeof(double) * (size_t)(n ? n : 1));
    double *pq = xalloc(sizeof(double) * (size_t)(n ? n : 1)), *dp = xalloc(sizeof(double) * (size_t)(n ? n : 1)),
           *dpr = xalloc(sizeof(double) * (size_t)(n ? n : 1));
    int64_t *tile = xalloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    const double u = 0x1p-24, ur = 0x1p-53, Er = 0x1p-52;
    for (int64_t j = lo; j < hi; j++) {
        double t = 0, ta = 0;
        for (int64_t x = 0; x < d; x++) {
            t += q[x] * Q->k[j * d + x];
            ta += fabs(q[x] * Q->k[j * d + x]);
        }
        if (mode == RERANK_PRECISION_INT8) {
            s[j - lo] = t * Q->kfac[j] * qfac;
            ds[j - lo] = 2.000001 * u * fabs(s[j - lo]);
        } else {
            const double gd = (double)d * u / (1 - (double)d * u);
            s[j - lo] = t * Q->scale2;
            ds[j - lo] = Q->scale2 * (gd * ta + (double)d * 0x1p-126) + 1.000001 * u * fabs(s[j - lo]);
        }
    }
    double mt[RR_ATTN_MAX_KEYS / KT + 1], Dt[RR_ATTN_MAX_KEYS / KT + 1];
    int64_t T = 0;
    double m = -INFINITY, D = 0, eta_alpha = 0, eta_alpha_r = 0;
    for (int64_t t0 = lo / KT * KT; t0 < hi; t0 += KT, T++) {
        const int64_t js = t0 > lo ? t0 : lo, je = t0 + KT < hi ? t0 + KT : hi;
        const double mprev = m, Dprev = D;
        for (int64_t j = js; j < je; j++) {
            m = fmax(m, s[j - lo]);
            D = fmax(D, ds[j - lo]);
        }
        mt[T] = m;
        Dt[T] = D;
        if (T > 0) { /* this tile's alpha */
            const double dx = Dprev + D + u * (fabs(mprev - m) + Dprev + D);
            eta_alpha = fmax(eta_alpha, exp2(dx) * (1 + E) - 1);
            eta_alpha_r = fmax(eta_alpha_r, exp2(Dprev + D) * (1 + Er) - 1);
        }
        for (int64_t j = js; j < je; j++) {
            const double x = s[j - lo] - m, p = exp2(x);
            const double dx = ds[j - lo] + D + u * (fabs(x) + ds[j - lo] + D);
            const double eta = exp2(dx) * (1 + E) - 1, eta_r = exp2(ds[j - lo] + D) * (1 + Er) - 1 + ur;
            double plo = p * (1 - eta), phi = p * (1 + eta), rlo, rhi, pv;
            tile[j - lo] = T;
            if (mode == RERANK_PRECISION_INT8) {
                pv = nearbyint(255 * p);
                rlo = nearbyint(255 * plo);
                rhi = nearbyint(255 * phi);
                dp[j - lo] = rhi - rlo;
                dpr[j - lo] = nearbyint(255 * p * (1 + eta_r)) - nearbyint(255 * p * (1 - eta_r));
            } else if (mode == RERANK_PRECISION_BF16) {
                pv = round_bf16_d(p);
                rlo = round_bf16_d(plo);
                rhi = round_bf16_d(phi);
                dp[j - lo] = rlo == rhi ? 0 : eta * p + 0x1p-8 * (2 + eta) * p;
                dpr[j - lo] = round_bf16_d(p * (1 - eta_r)) == round_bf16_d(p * (1 + eta_r))
                                  ? 0 : eta_r * p + 0x1p-8 * (2 + eta_r) * p;
            } else {
                pv = p;
                dp[j - lo] = eta * p;
                dpr[j - lo] = eta_r * p;
                rlo = rhi = 0;
            }
            if (mode != RERANK_PRECISION_INT8 && x < RR_ATTN_EXP2_MIN + 1) { /* flushed (or nearly): p < 2^-124 */
                dp[j - lo] = fmax(dp[j - lo], 0x1p-124);
                dpr[j - lo] = fmax(dpr[j - lo], 0x1p-124);
            }
            R->flips += mode != RERANK_PRECISION_FP32 && rlo != rhi;
            pq[j - lo] = pv;
        }
    }
    (void)Dt;
    const double etaA = pow(1 + eta_alpha, (double)T) - 1, etaAr = pow(1 + eta_alpha_r, (double)T) - 1;
    double W = 0, dW = 0, dWr = 0, acc[RR_ATTN_MAX_D] = {0}, vmax[RR_ATTN_MAX_D] = {0};
    for (int64_t j = lo; j < hi; j++) {
        const double A = exp2(mt[tile[j - lo]] - m), w = pq[j - lo] * A;
        W += w;
        dW += A * ((1 + etaA) * dp[j - lo] + etaA * pq[j - lo]) + 0x1p-124;
        dWr += A * ((1 + etaAr) * dpr[j - lo] + etaAr * pq[j - lo]) + 0x1p-124;
        for (int64_t x = 0; x < d; x++) {
            acc[x] += w * Q->v[j * d + x];
            vmax[x] = fmax(vmax[x], fabs(Q->v[j * d + x]));
        }
    }
    const double accu = mode == RERANK_PRECISION_INT8 ? (2.0 * (double)T + 6) * u : (2.0 * KT + 2.0 * (double)T + 24) * u,
                 accr = (2.0 * KT + 2.0 * (double)T + 24) * ur;
    /* (a weighted mean stays within +-max|v|: where the weights' bound
     * exceeds their sum, 2 max|v| is still a bound) */
    for (int64_t x = 0; x < d; x++) {
        R->sim[x] = W > 0 ? acc[x] / W : 0;
        R->bound[x] = W <= 0 ? 0 : W > dW ? (2 * dW / (W - dW) + accu) * vmax[x] * 1.000001 : 2 * vmax[x];
        R->bound_ref[x] = W <= 0 ? 0 : W > dWr ? (2 * dWr / (W - dWr) + accr) * vmax[x] * 1.000001 : 2 * vmax[x];
        R->bound_ref[x] += 0x1p-24 * (fabs(R->sim[x]) + R->bound_ref[x]); /* its float output */
    }
    g_key_total += n;
    free(s); free(ds); free(pq); free(dp); free(dpr); free(tile);
}

/* Rows checked: all for small cases, else the first and last few and some at random. */
static int64_t pick_rows(const tcase_t *c, int64_t *rows) {
    const int64_t total = c->g * c->nq;
    if (total <= 96) {
        for (int64_t r = 0; r < total; r++) rows[r] = r;
        return total;
    }
    int64_t n = 0;
    for (int64_t r = 0; r < 6; r++) rows[n++] = r;
    for (int64_t r = total - 6; r < total; r++) rows[n++] = r;
    while (n < 36) rows[n++] = (int64_t)(urand() * (double)total);
    return n;
}

/* One case: every mode, every implementation. */
static void check_case(tcase_t *c) {
    make_case(c);
    const int64_t d = c->d, ldo = d + 3, total = c->g * c->nq;
    int64_t rows[96];
    const int64_t nrows = pick_rows(c, rows);
    rowref_t *R = xalloc(sizeof *R);
    for (int mi = 0; mi < 3; mi++) {
        const rerank_precision_t mode = (rerank_precision_t)mi;
        qops_t Q;
        quantize_case(c, mode, &Q);
        float **out = calloc(4, sizeof *out); /* per implementation: checked rows [nrows][ldo] */
        int nimpl = 0;
        const rr_attn_impl_t *impl[4];
        for (int v = 0; rr_attn_impl_variant(mode, v) && v < 4; v++, nimpl++) {
            impl[v] = rr_attn_impl_variant(mode, v);
            out[v] = xalloc(sizeof(float) * (size_t)(nrows * ldo));
            if (v == 0) { /* the scalar reference, row by row */
                for (int64_t r = 0; r < nrows; r++) {
                    float *o = out[v] + r * ldo;
                    for (int64_t x = 0; x < ldo; x++) o[x] = 42.0f;
                    CHECK(run(impl[v], c, rows[r] / c->nq, rows[r] % c->nq, 0, o, ldo) == RERANK_OK);
                }
            } else { /* the whole call; then keep the checked rows */
                float *all = xalloc(sizeof(float) * (size_t)(total * ldo));
                for (int64_t x = 0; x < total * ldo; x++) all[x] = 42.0f;
                CHECK(run(impl[v], c, 0, 0, 1, all, ldo) == RERANK_OK);
                int outside = 0;
                for (int64_t r = 0; r < total; r++)
                    for (int64_t x = d; x < ldo; x++) outside += all[r * ldo + x] != 42.0f;
                CHECK_MSG(!outside, "%s %s: %d writes past d", impl[v]->name, mode_name(mode), outside);
                for (int64_t r = 0; r < nrows; r++)
                    memcpy(out[v] + r * ldo, all + row_of(c, rows[r] / c->nq, rows[r] % c->nq) * ldo,
                           sizeof(float) * (size_t)ldo);
                free(all);
            }
        }
        int bad_sim = 0, bad_exact = 0, bad_ref = 0, bad_bits = 0, reported = 0;
        double worst_fmt = 0, worst_ratio = 0;
        for (int64_t r = 0; r < nrows; r++) {
            memset(R, 0, sizeof *R);
            row_reference(c, mode, &Q, rows[r] / c->nq, rows[r] % c->nq, R);
            g_flip_total += R->flips;
            for (int64_t x = 0; x < d; x++) {
                const double fmt_err = fabs(R->sim[x] - R->exact[x]);
                worst_fmt = fmax(worst_fmt, fmt_err);
                for (int v = 0; v < nimpl; v++) {
                    /* the fp32 and bf16 references compute in float64, the int8 one in floats */
                    const double o = out[v][r * ldo + x],
                                 bnd = v == 0 && mode != RERANK_PRECISION_INT8 ? R->bound_ref[x] : R->bound[x];
                    const double e_sim = fabs(o - R->sim[x]), e_exact = fabs(o - R->exact[x]);
                    if (bnd > 0) worst_ratio = fmax(worst_ratio, e_sim / bnd);
                    int fail = 0;
                    if (!(e_sim <= bnd)) { bad_sim++; fail = 1; }
                    if (!(e_exact <= fmt_err + bnd)) { bad_exact++; fail = 1; }
                    if (v > 0) {
                        const double e_ref = fabs(o - out[0][r * ldo + x]), bnd_ref = R->bound_ref[x];
                        if (mode == RERANK_PRECISION_INT8) {
                            if (memcmp(&out[v][r * ldo + x], &out[0][r * ldo + x], sizeof(float))) { bad_bits++; fail = 1; }
                        } else if (!(e_ref <= R->bound[x] + bnd_ref)) {
                            bad_ref++;
                            fail = 1;
                        }
                    }
                    if (fail && reported++ < 3)
                        fprintf(stderr, "    %s %s nq=%lld nk=%lld d=%lld g=%lld causal=%d off=%lld win=%lld kind=%d row %lld c %lld: "
                                "got %.9g sim %.9g exact %.9g ref %.9g bound %.3g\n",
                                impl[v]->name, mode_name(mode), (long long)c->nq, (long long)c->nk, (long long)d,
                                (long long)c->g, c->causal, (long long)c->q_offset, (long long)c->window, c->kind,
                                (long long)rows[r], (long long)x, o, R->sim[x], R->exact[x], out[0][r * ldo + x], bnd);
                }
            }
            for (int64_t x = d; x < ldo; x++) bad_sim += out[0][r * ldo + x] != 42.0f; /* the reference's padding */
        }
        CHECK_MSG(!bad_sim && !bad_exact && !bad_ref && !bad_bits,
                  "%s nq=%lld nk=%lld d=%lld g=%lld: %d beyond the bound vs the format, %d vs exact, %d vs the "
                  "reference, %d int8 elements not bit-equal to the reference",
                  mode_name(mode), (long long)c->nq, (long long)c->nk, (long long)d, (long long)c->g, bad_sim,
                  bad_exact, bad_ref, bad_bits);
        if (getenv("RR_ATTN_VERBOSE"))
            printf("  %s nq=%lld nk=%lld d=%lld g=%lld causal=%d win=%lld kind=%d: format error %.3g, worst "
                   "error/bound %.3g\n",
                   mode_name(mode), (long long)c->nq, (long long)c->nk, (long long)d, (long long)c->g, c->causal,
                   (long long)c->window, c->kind, worst_fmt, worst_ratio);
        for (int v = 0; v < nimpl; v++) free(out[v]);
        free(out);
        free_qops(&Q);
    }
    free(R);
    free_case(c);
}

/* Head sizes that are not powers of two: the packing kernels' whole-vector
 * steps (32 bf16 / 64 int8 channels) followed by their masked tails. */
TEST(odd_head_sizes) {
    const int64_t ds[] = {24, 80, 96, 200};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++)
        for (int cfg = 0; cfg < 2; cfg++) {
            tcase_t c = {.nq = cfg ? 65 : 17, .nk = cfg ? 65 : 17, .d = ds[i], .g = 1 + cfg, .causal = cfg,
                         .ld_pad = 3};
            check_case(&c);
        }
}

/* n = 1 .. 257 with every head size, mask and group size in rotation. */
TEST(small_shapes) {
    const int64_t ns[] = {1, 2, 15, 16, 17, 63, 64, 65, 255, 256, 257};
    const int64_t ds[] = {8, 16, 32, 64, 128};
    for (size_t t = 0; t < sizeof ns / sizeof *ns; t++)
        for (int cfg = 0; cfg < 7; cfg++) {
            const int64_t n = ns[t];
            tcase_t c = {.nq = n, .nk = n, .d = ds[(t + (size_t)cfg) % 5], .g = 1 + cfg % 3 + (cfg % 3 == 2),
                         .ld_pad = cfg % 2 ? 5 : 0, .interleave = cfg % 3 == 2 && t % 2};
            switch (cfg) {
            case 1: c.causal = 1; break;                                   /* causal, q_offset 0 */
            case 2: c.causal = 1; c.q_offset = 37; c.nk = n + 37; break;   /* causal after a prefix */
            case 3: c.window = 1; break;
            case 4: c.window = 8; c.causal = 1; break;
            case 5: c.window = 64; break;
            case 6: c.window = 8; c.causal = 1; c.q_offset = 300; c.nk = n + 300; break;
            default: break;
            }
            check_case(&c);
        }
}

/* Long rows: 1000 and 4096 keys (rows sampled), the bge-m3 and Qwen3 shapes. */
TEST(long_shapes) {
    tcase_t cases[] = {
        {.nq = 1000, .nk = 1000, .d = 64, .g = 1},
        {.nq = 1000, .nk = 1000 + 24, .d = 128, .g = 2, .causal = 1, .q_offset = 24, .interleave = 1},
        {.nq = 1000, .nk = 1000, .d = 32, .g = 1, .window = 64},
        {.nq = 4096, .nk = 4096, .d = 64, .g = 1},
        {.nq = 4096, .nk = 4096, .d = 128, .g = 2, .causal = 1},
        {.nq = 4096, .nk = 4096, .d = 16, .g = 4, .window = 8, .causal = 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(&cases[i]);
}

/* Masked-out extremes: scores in the thousands (exp2 of most keys flushes
 * to 0) and all scores equal (uniform weights: the mean of v). */
TEST(extreme_scores) {
    const int64_t ns[] = {17, 300, 1000};
    for (size_t t = 0; t < sizeof ns / sizeof *ns; t++) {
        tcase_t big = {.nq = ns[t], .nk = ns[t], .d = 64, .g = 2, .kind = 1, .causal = t == 1};
        check_case(&big);
        tcase_t flat = {.nq = ns[t], .nk = ns[t], .d = 32, .g = 1, .kind = 2, .window = t == 2 ? 8 : 0};
        check_case(&flat);
    }
}

/* Each row's result depends on nothing but its own query, position and the
 * keys: a whole call (blocks, heads) equals calls of one row, bit for bit,
 * in every implementation and mode; and a call repeated gives the same bits. */
TEST(deterministic_rows) {
    tcase_t c = {.nq = 77, .nk = 77 + 300, .d = 48, .g = 3, .causal = 1, .q_offset = 300, .window = 200, .ld_pad = 1,
                 .interleave = 1};
    make_case(&c);
    const int64_t ldo = c.d, total = c.g * c.nq;
    float *all = xalloc(sizeof(float) * (size_t)(total * ldo)), *again = xalloc(sizeof(float) * (size_t)(total * ldo)),
          *one = xalloc(sizeof(float) * (size_t)ldo);
    for (int mi = 0; mi < 3; mi++)
        for (int v = 1; rr_attn_impl_variant((rerank_precision_t)mi, v); v++) {
            const rr_attn_impl_t *im = rr_attn_impl_variant((rerank_precision_t)mi, v);
            CHECK(run(im, &c, 0, 0, 1, all, ldo) == RERANK_OK);
            CHECK(run(im, &c, 0, 0, 1, again, ldo) == RERANK_OK);
            CHECK_MSG(!memcmp(all, again, sizeof(float) * (size_t)(total * ldo)), "%s %s: repeated call differs",
                      im->name, mode_name(im->mode));
            int differ = 0;
            for (int64_t r = 0; r < total; r++) {
                CHECK(run(im, &c, r / c.nq, r % c.nq, 0, one, ldo) == RERANK_OK);
                differ += memcmp(one, all + row_of(&c, r / c.nq, r % c.nq) * ldo, sizeof(float) * (size_t)ldo) != 0;
            }
            CHECK_MSG(!differ, "%s %s: %d rows differ when computed alone", im->name, mode_name(im->mode), differ);
        }
    free(all); free(again); free(one);
    free_case(&c);
}

/* exp2 of every implementation: bit for bit the scalar definition, and
 * within the stated error of exp2; the int8 probability within half a step
 * plus that error. */
TEST(exp2_accuracy) {
    enum { N = 300000 };
    float *x = xalloc(sizeof(float) * N), *y = xalloc(sizeof(float) * N), *yr = xalloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) {
        if (i < 128000) x[i] = -(float)i / 1024.0f;                      /* -125 .. 0 on a 2^-10 grid */
        else if (i < 290000) x[i] = -125.0f * (float)urand();            /* random */
        else x[i] = -(float)(i - 290000) * 0.5f - 0.25f * (float)(i % 2); /* ties of round() */
    }
    x[N - 1] = -INFINITY;
    x[N - 2] = -125.00001f;
    x[N - 3] = -300.0f;
    x[N - 4] = -0.0f;
    for (int mi = 0; mi < 3; mi++) {
        const rerank_precision_t mode = (rerank_precision_t)mi;
        const int coarse = mode == RERANK_PRECISION_INT8;
        const double E = coarse ? RR_ATTN_EXP2_COARSE_ERR : RR_ATTN_EXP2_FINE_ERR;
        for (int i = 0; i < N; i++) yr[i] = coarse ? rr_attn_exp2_coarse(x[i]) : rr_attn_exp2_fine(x[i]);
        double worst = 0;
        int bad = 0;
        for (int i = 0; i < N; i++) {
            const double want = x[i] < RR_ATTN_EXP2_MIN ? 0 : exp2((double)x[i]);
            const double err = want > 0 ? fabs(yr[i] / want - 1) : fabs((double)yr[i]);
            worst = fmax(worst, err);
            bad += !(err <= E);
        }
        CHECK_MSG(!bad, "%s exp2: %d values beyond %g (worst %g)", coarse ? "coarse" : "fine", bad, E, worst);
        printf("  exp2 of %s: worst relative error %.3g (bound %.3g)\n", mode_name(mode), worst, E);
        for (int v = 0; rr_attn_impl_variant(mode, v); v++) {
            const rr_attn_impl_t *im = rr_attn_impl_variant(mode, v);
            im->exp2(x, N, y);
            int differ = 0;
            for (int i = 0; i < N; i++) differ += memcmp(&y[i], &yr[i], sizeof(float)) != 0;
            CHECK_MSG(!differ, "%s %s exp2: %d values differ from the scalar definition", im->name, mode_name(mode),
                      differ);
        }
    }
    int bad = 0;
    for (int i = 0; i < N; i++) {
        const double want = 255 * exp2((double)fmaxf(x[i], -125.0f));
        bad += !(fabs(rr_attn_p8(x[i]) - want) <= 0.5 + want * RR_ATTN_EXP2_COARSE_ERR);
    }
    CHECK_MSG(!bad, "p8: %d values off by more than half a step plus the exp2 error", bad);
    free(x); free(y); free(yr);
}

/* Every bad argument gets an error and leaves o alone. */
TEST(bad_arguments) {
    enum { n = 8, d = 16 };
    float q[n * d], k[n * d], v[n * d], o[n * d];
    for (int i = 0; i < n * d; i++) { q[i] = k[i] = v[i] = 0.5f; o[i] = 42.0f; }
    const size_t bytes = rr_attn_scratch_size(n, d, RERANK_PRECISION_INT8);
    CHECK(bytes > 0);
    void *scratch = xalloc(bytes);
    const rr_attn_args_t good = {.q = q, .ldq = d, .k = k, .v = v, .ldk = d, .ldv = d, .o = o, .ldo = d, .nq = n,
                                 .nk = n, .d = d, .g = 1, .scale = 0.25f, .mode = RERANK_PRECISION_INT8,
                                 .scratch = scratch, .scratch_bytes = bytes};
    rr_attn_args_t a;
#define BAD(field, value, want)                                                                        \
    do {                                                                                               \
        a = good;                                                                                      \
        a.field = value;                                                                               \
        const rerank_status_t st = rr_attend(&a);                                                      \
        CHECK_MSG(st == want, #field " = " #value ": status %d, want %d", (int)st, (int)want);         \
        CHECK_MSG(strlen(rerank_last_error()) > 0, #field ": no message");                             \
    } while (0)
    const rerank_status_t inv = RERANK_ERR_INVALID_ARGUMENT, lim = RERANK_ERR_LIMIT;
    BAD(q, NULL, inv); BAD(k, NULL, inv); BAD(v, NULL, inv); BAD(o, NULL, inv); BAD(scratch, NULL, inv);
    BAD(nq, 0, inv); BAD(nk, 0, inv); BAD(d, 0, inv); BAD(g, 0, inv); BAD(nq, -3, inv);
    BAD(d, RR_ATTN_MAX_D + 1, lim); BAD(nk, RR_ATTN_MAX_KEYS + 1, lim); BAD(nq, RR_ATTN_MAX_QUERIES + 1, lim);
    BAD(g, RR_ATTN_MAX_GROUP + 1, lim);
    BAD(ldq, d - 1, inv); BAD(ldk, 0, inv); BAD(ldv, d - 1, inv); BAD(ldo, d - 1, inv); BAD(ldq, (int64_t)1 << 40, inv);
    BAD(ldqh, -1, inv); BAD(ldoh, (int64_t)1 << 40, inv);
    BAD(q_offset, -1, inv); BAD(window, -1, inv); BAD(scale, NAN, inv); BAD(scale, INFINITY, inv);
    BAD(mode, (rerank_precision_t)3, inv); BAD(scratch_bytes, bytes - 1, inv);
    BAD(scratch, (char *)scratch + 4, inv);
#undef BAD
    CHECK(rr_attend(NULL) == inv);
    int touched = 0;
    for (int i = 0; i < n * d; i++) touched += o[i] != 42.0f;
    CHECK_MSG(!touched, "%d outputs written by failed calls", touched);
    CHECK(rr_attn_scratch_size(0, d, RERANK_PRECISION_FP32) == 0);
    CHECK(rr_attn_scratch_size(RR_ATTN_MAX_KEYS + 1, d, RERANK_PRECISION_FP32) == 0);
    CHECK(rr_attn_scratch_size(n, RR_ATTN_MAX_D + 1, RERANK_PRECISION_BF16) == 0);
    CHECK(rr_attn_scratch_size(n, d, (rerank_precision_t)7) == 0);
    CHECK(rr_attend(&good) == RERANK_OK);
    /* a row that sees no key gets zeros: window 1 around position 20 of 8 keys */
    a = good;
    a.window = 1;
    a.q_offset = 20;
    CHECK(rr_attend(&a) == RERANK_OK);
    int nonzero = 0;
    for (int i = 0; i < n * d; i++) nonzero += o[i] != 0.0f;
    CHECK_MSG(!nonzero, "%d outputs of rows without keys are not 0", nonzero);
    free(scratch);
}

TEST(implementations_listed) {
    for (int mi = 0; mi < 3; mi++) {
        CHECK(rr_attn_impl_variant((rerank_precision_t)mi, 0) != NULL);
        CHECK(!strcmp(rr_attn_impl_variant((rerank_precision_t)mi, 0)->name, "scalar"));
        printf("  %s:", mode_name((rerank_precision_t)mi));
        for (int v = 0; rr_attn_impl_variant((rerank_precision_t)mi, v); v++)
            printf(" %s", rr_attn_impl_variant((rerank_precision_t)mi, v)->name);
        printf(" (selected %s)\n", rr_attn_impl((rerank_precision_t)mi)->name);
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2")) printf("  SKIP: no AVX2 on this CPU: only the scalar reference is tested\n");
    else if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512bf16"))
        printf("  SKIP: no AVX512_BF16 / AVX512_VNNI on this CPU: their implementations are not tested here\n");
}

int main(void) {
    RUN(implementations_listed);
    RUN(exp2_accuracy);
    RUN(bad_arguments);
    RUN(deterministic_rows);
    RUN(odd_head_sizes);
    RUN(small_shapes);
    RUN(extreme_scores);
    RUN(long_shapes);
    printf("  keys checked %lld, with a possible rounding flip %lld\n", (long long)g_key_total,
           (long long)g_flip_total);
    TEST_MAIN_END();
}
