/* rows_ref.h — float64 references of the row kernels (rows.cuh), shared by the GPU self-test
 * (cuda_selftest_rows.cu) and the host emulation test (tests/test_cuda_emu.cc). Plain C / C++. */
#ifndef RR_CUDA_ROWS_REF_H
#define RR_CUDA_ROWS_REF_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

/* One row: v = x + (y + bias) (y, bias may be NULL); n = LayerNorm(v) (beta may be NULL) or, rms, RMSNorm.
 * xo gets v (prenorm) or n; no gets n. Returns amax of n. */
static inline double rr_ref_norm_row(const float *x, const float *y, const float *bias, const float *g,
                                     const float *b, int w, double eps, int rms, int prenorm, double *xo,
                                     double *no) {
    double mean = 0, sq = 0, amax = 0;
    for (int i = 0; i < w; i++) {
        no[i] = (double)x[i] + (y ? (double)y[i] + (bias ? (double)bias[i] : 0.0) : 0.0);
        mean += no[i];
    }
    mean = rms ? 0 : mean / w;
    for (int i = 0; i < w; i++) sq += (no[i] - mean) * (no[i] - mean);
    const double inv = 1.0 / sqrt(sq / w + eps);
    for (int i = 0; i < w; i++) {
        const double v = no[i];
        no[i] = (v - mean) * inv * g[i] + (b && !rms ? b[i] : 0.0);
        xo[i] = prenorm ? v : no[i];
        if (fabs(no[i]) > amax) amax = fabs(no[i]);
    }
    return amax;
}

/* act: 0 exact GELU, 1 tanh GELU, 2 SiLU. */
static inline double rr_ref_act(int act, double a) {
    if (act == 0) return 0.5 * a * (1 + erf(a / sqrt(2.0)));
    if (act == 1) return 0.5 * a * (1 + tanh(sqrt(2 / M_PI) * (a + 0.044715 * a * a * a)));
    return a / (1 + exp(-a));
}

/* One row: out[i] = act(y[i] + b[i]), or gated act(y[i] + b[i]) * (y[w + i] + b[w + i]), or gated 2
 * (y[i] + b[i]) * act(y[w + i] + b[w + i]). Returns amax. */
static inline double rr_ref_act_row(const float *y, const float *bias, int w, int act, int gated, double *out) {
    double amax = 0;
    for (int i = 0; i < w; i++) {
        const double a = (double)y[i] + (bias ? bias[i] : 0.0f), u = gated ? (double)y[w + i] + (bias ? bias[w + i] : 0.0f) : 0;
        out[i] = gated == 2 ? a * rr_ref_act(act, u) : gated ? rr_ref_act(act, a) * u : rr_ref_act(act, a);
        if (fabs(out[i]) > amax) amax = fabs(out[i]);
    }
    return amax;
}

/* One q or k head of d values in place: RMSNorm with gamma (NULL: none), then rotary positions with the
 * position's cos / sin [d / 2] (NULL: none), rotate-half layout. */
static inline void rr_ref_qk_head(double *x, int d, const float *gamma, double eps, const float *cs, const float *sn) {
    const int half = d / 2;
    if (gamma) {
        double sq = 0;
        for (int i = 0; i < d; i++) sq += x[i] * x[i];
        const double inv = 1.0 / sqrt(sq / d + eps);
        for (int i = 0; i < d; i++) x[i] = x[i] * inv * gamma[i];
    }
    if (cs)
        for (int i = 0; i < half; i++) {
            const double a = x[i], b = x[i + half];
            x[i] = a * cs[i] - b * sn[i];
            x[i + half] = b * cs[i] + a * sn[i];
        }
}

/* A reranker's head on one pooled row v [w] (the residual already added, the mean taken): an optional
 * dense layer dw [w, w] (+ db) with exact GELU (dact 1) or none; an optional norm (gamma NULL: none; rms,
 * or LayerNorm with beta); then cw[0] . f(v) + cb[0], minus cw[1] . f(v) + cb[1] when rows is 2 (cb may be
 * NULL), f = tanh (cact 2) or identity. */
static inline double rr_ref_head_row(const double *v0, int w, const float *dw, const float *db, int dact,
                                     const float *gamma, const float *beta, double eps, int rms, int cact,
                                     const float *cw, const float *cb, int rows) {
    double *v = (double *)malloc((size_t)w * sizeof *v), mean = 0, sq = 0, d[2] = {0, 0};
    for (int j = 0; j < w; j++) {
        if (!dw) {
            v[j] = v0[j];
            continue;
        }
        double s = db ? db[j] : 0.0;
        for (int i = 0; i < w; i++) s += (double)dw[(size_t)j * w + i] * v0[i];
        v[j] = dact == 1 ? 0.5 * s * (1 + erf(s / sqrt(2.0))) : s;
    }
    if (gamma && !rms) {
        for (int i = 0; i < w; i++) mean += v[i];
        mean /= w;
    }
    if (gamma)
        for (int i = 0; i < w; i++) sq += (v[i] - mean) * (v[i] - mean);
    const double inv = gamma ? 1.0 / sqrt(sq / w + eps) : 1.0;
    for (int i = 0; i < w; i++) {
        double n = gamma ? (v[i] - mean) * inv * gamma[i] + (beta ? beta[i] : 0.0) : v[i];
        if (cact == 2) n = tanh(n);
        for (int r = 0; r < rows; r++) d[r] += (double)cw[(size_t)r * w + i] * n;
    }
    free(v);
    double logit = d[0] + (cb ? cb[0] : 0.0);
    if (rows == 2) logit -= d[1] + (cb ? cb[1] : 0.0);
    return logit;
}

/* Allowed |got - ref| for an output stored as: 0 fp32, 1 fp16, 2 bf16, 3 E4M3 with row scale `scale` (half a
 * step of the format at |ref|, plus float rounding of the inputs). */
static inline double rr_ref_tol(int kind, double ref, double scale) {
    if (kind == 0) return 8e-6 * fabs(ref) + 1e-5;
    if (kind == 1) return fabs(ref) / 2048 + 1e-5;
    if (kind == 2) return fabs(ref) / 256 + 1e-5;
    return fabs(ref) / 16 + scale / 1024 + 1e-5;
}

#endif
