/* attention_util.h — the rules every attention implementation shares: the
 * exp2 approximations, the int8 quantization rule, each row's allowed keys
 * and the workspace layout (internal to src/kernels). */
#ifndef RR_KERNELS_ATTENTION_UTIL_H
#define RR_KERNELS_ATTENTION_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/attention.h"

/* exp2(x) for x <= 0, as every implementation computes it:
 *   x < -125 -> 0;  n = round-half-even(x), f = x - n (exact),
 *   y = poly(f) by Horner with fused multiply-adds, times 2^n (exact: y is normal).
 * Coefficients: relative minimax fits of 2^f on [-0.5, 0.5] with c0 = 1
 * (so exp2(0) = 1 exactly). Error bounds, relative, for -125 <= x <= 0:
 * the fit's own error (at 8M points in float64) plus the Horner rounding
 * bound (sum of u |partial result| |f|^k, u = 2^-24): degree 5 (fp32, bf16)
 * 1.084e-7 + 0.894e-7; degree 3 (int8, whose p has 8 bits) 1.0130e-4 +
 * 0.009e-4. tests/test_attention.c checks every implementation against them. */
#define RR_ATTN_EXP2_FINE_ERR 2.0e-7
#define RR_ATTN_EXP2_COARSE_ERR 1.02e-4
#define RR_ATTN_EXP2_MIN (-125.0f)
#define RR_ATTN_F5 6.931470037e-01f, 2.402224243e-01f, 5.550733581e-02f, 9.671512991e-03f, 1.326472731e-03f
#define RR_ATTN_F3 6.932829022e-01f, 2.422109544e-01f, 5.500892922e-02f

/* Scalar forms, bit for bit what the SIMD code computes. */
static inline float rr_attn_pow2i(int32_t n) { /* 2^n for -126 <= n <= 127 */
    uint32_t b = (uint32_t)(n + 127) << 23;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static inline float rr_attn_exp2_fine(float x) {
    if (!(x >= RR_ATTN_EXP2_MIN)) return 0.0f; /* also -inf (and NaN) */
    const float c[5] = {RR_ATTN_F5};
    const float n = nearbyintf(x), f = x - n;
    float p = c[4];
    for (int i = 3; i >= 0; i--) p = fmaf(p, f, c[i]);
    p = fmaf(p, f, 1.0f);
    return p * rr_attn_pow2i((int32_t)n);
}

static inline float rr_attn_exp2_coarse(float x) {
    if (!(x >= RR_ATTN_EXP2_MIN)) return 0.0f;
    const float c[3] = {RR_ATTN_F3};
    const float n = nearbyintf(x), f = x - n;
    float p = fmaf(fmaf(c[2], f, c[1]), f, c[0]);
    p = fmaf(p, f, 1.0f);
    return p * rr_attn_pow2i((int32_t)n);
}

/* int8 quantization of a vector with largest magnitude amax: scale =
 * amax / 127, q = clamp(round-half-even(x * (127 / amax)), -127, 127);
 * amax 0 (or not a positive finite number): scale 0, q = 0. */
static inline void rr_attn_s8_scale(float amax, float *scale, float *inv) {
    if (amax > 0 && amax <= 3.4028234664e38f) {
        *scale = amax / 127.0f;
        *inv = 127.0f / amax;
    } else {
        *scale = 0.0f;
        *inv = 0.0f;
    }
}

static inline int32_t rr_attn_s8(float x, float inv) {
    float r = nearbyintf(x * inv);
    r = fminf(fmaxf(r, -127.0f), 127.0f); /* NaN -> -127: no undefined conversion */
    return (int32_t)r;
}

/* The int8 probability of x = s - mu <= 0: round-half-even(255 exp2(x)),
 * with 255 folded into the coarse polynomial and x clamped at -125 (where
 * the result is 0 anyway; the clamp also turns -inf and NaN into 0):
 *   x' = max(x, -125), n = round(x'), f = x' - n,
 *   p8 = round(poly255(f) * 2^n), poly255 = 255 + f (q1 + f (q2 + f q3)), q_i = fl(255 c_i).
 * Relative error of poly255(f) 2^n against 255 exp2(x): within
 * RR_ATTN_EXP2_COARSE_ERR (the same fit, coefficients scaled). */
#define RR_ATTN_Q3 1.767871399e+02f, 6.176379395e+01f, 1.402727699e+01f
static inline int32_t rr_attn_p8(float x) {
    const float q[3] = {RR_ATTN_Q3};
    x = x > RR_ATTN_EXP2_MIN ? x : RR_ATTN_EXP2_MIN; /* NaN -> the limit, as vmaxps(x, limit) */
    const float n = nearbyintf(x), f = x - n;
    const float p = fmaf(fmaf(fmaf(q[2], f, q[1]), f, q[0]), f, 255.0f) * rr_attn_pow2i((int32_t)n);
    return (int32_t)nearbyintf(p); /* 0 <= p <= 255.03: no clamp needed */
}

/* max as vmaxps(a, b) computes it (b when either is NaN). */
static inline float rr_attn_max(float a, float b) { return a > b ? a : b; }

/* The score factor of the fp32 / bf16 modes (and the int8 one before the
 * row scale): scale * log2(e), rounded to float once. */
static inline float rr_attn_scale2(float scale) { return scale * 1.44269504088896341f; }

/* Where row i of query head h is read and its output written. */
static inline const float *rr_attn_q_row(const rr_attn_args_t *a, int64_t h, int64_t i) {
    return a->q + h * (a->ldqh ? a->ldqh : a->nq * a->ldq) + i * a->ldq;
}
static inline float *rr_attn_o_row(const rr_attn_args_t *a, int64_t h, int64_t i) {
    return a->o + h * (a->ldoh ? a->ldoh : a->nq * a->ldo) + i * a->ldo;
}

/* Allowed keys [*lo, *hi) of query i (see attention.h); *lo >= *hi: none. */
void rr_attn_row_keys(const rr_attn_args_t *a, int64_t i, int64_t *lo, int64_t *hi);

/* Keys [*a, *b) of tile t that block row r may see, relative to the tile. */
static inline void rr_attn_row_span(const rr_attn_tile_t *t, int64_t r, int64_t *a, int64_t *b) {
    if (t->full) {
        *a = 0;
        *b = t->kt;
        return;
    }
    const int64_t lo = t->ws->lo[r] - t->j0, hi = t->ws->hi[r] - t->j0;
    *a = lo > 0 ? lo : 0;
    *b = hi < t->kt ? hi : t->kt;
    if (*b < *a) *b = *a;
}

/* Carve the workspace of `im` for nk keys of size d out of base (64-byte
 * aligned; NULL: only measure). Returns its size in bytes. */
size_t rr_attn_ws_layout(const rr_attn_impl_t *im, int64_t nk, int64_t d, void *base, rr_attn_ws_t *ws);

/* AMX (attention.c). rr_attn_amx_usable: the CPU has AMX-TILE, -BF16 and
 * -INT8, the OS saves the tile state and this process may use it (asked of
 * Linux once, arch_prctl ARCH_REQ_XCOMP_PERM). rr_attn_amx_enter loads the
 * one tile shape every AMX kernel here uses: all eight tiles 16 rows x 64
 * bytes (tmm0-3 accumulators, tmm4-5 the A operand, tmm6-7 the B operand);
 * rr_attn_amx_leave releases them. */
int rr_attn_amx_usable(void);
void rr_attn_amx_enter(void);
void rr_attn_amx_leave(void);

/* The shared driver of the SIMD implementations (attention_drive.c): packs
 * K and V once, then for each head and block of query rows packs the rows
 * and runs im->tile over the key tiles the block sees. `a` is valid. */
void rr_attn_drive(const rr_attn_impl_t *im, const rr_attn_args_t *a);

#endif
