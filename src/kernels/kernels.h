/* kernels.h — the small fp32 kernels of the forward pass (everything that
 * is not a big GEMM), each with a scalar reference and SIMD variants chosen
 * at run time from what the CPU supports (never from -march).
 *
 * A variant table holds one implementation of every kernel; rr_kernels()
 * returns the best one for this CPU, rr_kernels_variant(i) enumerates all
 * that this CPU can run (tests check each against the scalar reference). */
#ifndef RR_KERNELS_H
#define RR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Keys in panels of 16: channel c of key j sits at kp[RR_KEY_PANEL_AT(j,
 * c, d)], so one panel row (16 keys, one channel) is one vector and a
 * panel (16 keys, d channels) is contiguous: the scores kernels stream it
 * with unit stride instead of striding through a [d, n] transpose. */
#define RR_KEY_PANEL_AT(j, c, d) (((j) >> 4) * 16 * (d) + (c) * 16 + ((j) & 15))

typedef struct rr_kernels {
    const char *name; /* "scalar", "avx2", "avx512" */

    /* One row of h values: x = LayerNorm(x + res) * g + b, res may be NULL. */
    void (*add_layernorm)(float *x, const float *res, const float *g, const float *b, int64_t h,
                          float eps);
    /* One row of h values: x = x / sqrt(mean(x^2) + eps) * g (RMSNorm). */
    void (*rms_norm)(float *x, const float *g, int64_t h, float eps);
    /* In place exact GELU: x * 0.5 * (1 + erf(x / sqrt 2)). */
    void (*gelu)(float *x, int64_t n);
    /* In place SiLU: x / (1 + exp(-x)). */
    void (*silu)(float *x, int64_t n);
    /* In place a[i] *= b[i] for i < n (the gate of SwiGLU / GeGLU). Every
     * variant gives the same bits. */
    void (*mul)(float *a, const float *b, int64_t n);
    /* Rotary position embedding of one row, rotate-half layout, in place:
     * for i < half, (x[i], x[i + half]) = (x[i] c - x[i + half] s,
     * x[i + half] c + x[i] s) with c = cs[i], s = sn[i]; products and sums
     * rounded one by one (no FMA), so every variant gives the same bits. */
    void (*rope)(float *x, const float *cs, const float *sn, int64_t half);
    /* Softmax of one row of n values, left unnormalized: x[i] = exp(x[i] -
     * max) in place; returns 1 / sum of them, the factor weighted_sum
     * applies to the row's output (one pass over the row less). */
    float (*softmax)(float *x, int64_t n);
    /* Pack n keys (key j at k + j * ldk, d channels) into panels, padding
     * to a multiple of 16 keys with zeros: kp gets ((n + 15) / 16) * 16 * d
     * floats. Every variant writes the same bits. */
    void (*pack_keys)(const float *k, int64_t ldk, int64_t n, int64_t d, float *kp);
    /* Attention scores for rows of queries against keys packed in panels
     * (pack_keys): s[r * lds + j] = scale * sum_c q[r * ldq + c] *
     * key[j][c] for r < rows, j < ncols (a multiple of 16; padding keys are
     * zero). */
    void (*scores)(const float *q, int64_t ldq, int64_t rows, const float *kp, int64_t ncols, int64_t d,
                   float scale, float *s, int64_t lds);
    /* For rows of weights: o[r * ldo + c] = scale[r] * sum_j p[r * ldp + j] *
     * v[j * ldv + c] for r < rows, c < d, j < n (several rows at once reuse
     * each v row). */
    void (*weighted_sum)(const float *p, int64_t ldp, int64_t rows, int64_t n, const float *v, int64_t ldv,
                         int64_t d, const float *scale, float *o, int64_t ldo);
    /* One row of k activations to u8 with its own scale and zero point:
     * range [min(lo, 0), max(hi, 0)] -> 0..255, scale = range / 255 (1 if
     * the range is empty), zero = round(-lo / scale), q = clamp(round(x /
     * scale) + zero, 0, 255) with NaN -> 0; rounding half to even. Every
     * variant gives the same bytes as the reference. */
    void (*quantize_u8)(const float *x, int64_t k, uint8_t *q, float *scale, int32_t *zero);
    /* n floats to bf16, rounding to nearest even, NaN kept quiet: the same
     * bits as rr_f32_to_bf16 in every variant. */
    void (*to_bf16)(const float *x, int64_t n, uint16_t *y);
    /* One row of n int8 GEMM outputs back to floats:
     * t = (raw[j] * ws[j] - zero * wz[j]) * scale + b[j]; y[j] = t, or
     * y[j] += t if accumulate. ws NULL: no column scales; wz NULL: no
     * zero-point term; b NULL: no bias; raw may be y. */
    void (*dequant)(float *y, const float *raw, const float *ws, const float *wz, float zero, float scale,
                    const float *b, int64_t n, int accumulate);
    /* dequant (no accumulation) on `rows` rows: y[r * ldy + j] = t of
     * raw[r * ldr + j] with zero[r], scale[r] and the column terms at j,
     * for r < rows, j < n; each row gets the bits the variant's dequant
     * gives it. Attention takes each head's n rows this way from a GEMM
     * output whose rows lie far apart (ldr floats): one call per head
     * instead of one per row, and the rows RR_ROWS_PREFETCH ahead are
     * prefetched, a stride the hardware prefetchers do not follow. */
    void (*dequant_rows)(float *y, int64_t ldy, const float *raw, int64_t ldr, int64_t rows, const float *ws,
                         const float *wz, const int32_t *zero, const float *scale, const float *b, int64_t n);
    /* One row of an int8 FFN up projection's raw sums to the u8 row its
     * down projection reads: dequant (no accumulation) into tmp [n], gelu,
     * quantize_u8 into q, *qscale, *qzero: the same bytes as those three
     * calls of the variant, in fewer passes over the row (AVX-512, AVX2: the
     * GELU and the row's range in the dequantizing pass). */
    void (*dequant_gelu_u8)(const float *raw, const float *ws, const float *wz, float zero, float scale,
                            const float *b, int64_t n, float *tmp, uint8_t *q, float *qscale, int32_t *qzero);
} rr_kernels_t;

/* How many rows ahead dequant_rows (and attention's row copies) prefetch. */
#define RR_ROWS_PREFETCH 6

/* Prefetch the n floats at p (one hint per 64-byte line). */
static inline void rr_prefetch_floats(const float *p, int64_t n) {
    for (int64_t c = 0; c < n; c += 16) __builtin_prefetch(p + c);
}

/* The loop of dequant_rows around a variant's own dequant (same bits), in
 * each variant's file with its target attribute. */
#define RR_DEFINE_DEQUANT_ROWS(ATTR, DEQUANT)                                                                    \
    ATTR static void dequant_rows(float *y, int64_t ldy, const float *raw, int64_t ldr, int64_t rows,          \
                                  const float *ws, const float *wz, const int32_t *zero, const float *scale,  \
                                  const float *b, int64_t n) {                                                  \
        for (int64_t r = 0; r < rows; r++) {                                                                    \
            if (r + RR_ROWS_PREFETCH < rows) rr_prefetch_floats(raw + (r + RR_ROWS_PREFETCH) * ldr, n);           \
            DEQUANT(y + r * ldy, raw + r * ldr, ws, wz, (float)zero[r], scale[r], b, n, 0);                     \
        }                                                                                                       \
    }

/* dequant_gelu_u8 as the three calls it stands for (variants without a
 * fused one). */
#define RR_DEFINE_DEQUANT_GELU_U8(ATTR, DEQUANT, GELU, QUANTIZE_U8)                                             \
    ATTR static void dequant_gelu_u8(const float *raw, const float *ws, const float *wz, float zero, float scale, \
                                     const float *b, int64_t n, float *tmp, uint8_t *q, float *qscale,          \
                                     int32_t *qzero) {                                                          \
        DEQUANT(tmp, raw, ws, wz, zero, scale, b, n, 0);                                                        \
        GELU(tmp, n);                                                                                           \
        QUANTIZE_U8(tmp, n, q, qscale, qzero);                                                                  \
    }

const rr_kernels_t *rr_kernels(void);
/* i = 0 is the scalar reference; NULL past the last variant this CPU runs. */
const rr_kernels_t *rr_kernels_variant(int i);

/* Variant tables (defined in their own files; NULL-safe to reference). */
extern const rr_kernels_t rr_kernels_scalar;
extern const rr_kernels_t rr_kernels_avx2;
extern const rr_kernels_t rr_kernels_avx512;

/* Element conversion (scalar; used at load time and for embedding rows). */
float rr_f16_to_f32(uint16_t h);
float rr_bf16_to_f32(uint16_t h);
uint16_t rr_f32_to_bf16(float f); /* round to nearest even */
/* Convert n elements of dtype (0 = F32, 1 = F16, 2 = BF16; matches
 * rr_dtype_t) from possibly unaligned src to dst. */
void rr_convert_to_f32(const void *src, int dtype, float *dst, size_t n);

/* Loops with less work than this (in floats touched) run on one thread: a
 * parallel region costs microseconds, and far more (a scheduler time slice
 * per barrier) when another process holds a core, which made small batches
 * of small models hundreds of times slower on a busy machine. */
#define RR_PAR_MIN_WORK 65536

#endif
