/* kernels_scalar.c — portable reference implementations of rr_kernels_t.
 * Written for clarity and accuracy (double accumulators, libm); the SIMD
 * variants are checked against these. */
#include <math.h>

#include "kernels/kernels.h"

static void add_layernorm(float *x, const float *res, const float *g, const float *b, int64_t h,
                          float eps) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < h; i++) {
        if (res) x[i] += res[i];
        mean += x[i];
    }
    mean /= (double)h;
    for (int64_t i = 0; i < h; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= (double)h;
    double inv = 1.0 / sqrt(var + eps);
    for (int64_t i = 0; i < h; i++) x[i] = (float)((x[i] - mean) * inv) * g[i] + b[i];
}

static void rms_norm(float *x, const float *g, int64_t h, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < h; i++) ss += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(ss / (double)h + eps));
    for (int64_t i = 0; i < h; i++) x[i] = g[i] * (x[i] * inv);
}

static void silu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

static void gelu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

static float softmax(float *x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    return (float)(1.0 / sum);
}

static void pack_keys(const float *k, int64_t ldk, int64_t n, int64_t d, float *kp) {
    const int64_t n16 = (n + 15) & ~(int64_t)15;
    for (int64_t j = 0; j < n16; j++)
        for (int64_t c = 0; c < d; c++) kp[RR_KEY_PANEL_AT(j, c, d)] = j < n ? k[j * ldk + c] : 0.0f;
}

static void scores(const float *q, int64_t ldq, int64_t rows, const float *kp, int64_t ncols, int64_t d,
                   float scale, float *s, int64_t lds) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < ncols; j++) {
            float acc = 0;
            for (int64_t c = 0; c < d; c++) acc += q[r * ldq + c] * kp[RR_KEY_PANEL_AT(j, c, d)];
            s[r * lds + j] = acc * scale;
        }
}

static void weighted_sum(const float *p, int64_t ldp, int64_t rows, int64_t n, const float *v, int64_t ldv,
                         int64_t d, const float *scale, float *o, int64_t ldo) {
    for (int64_t r = 0; r < rows; r++) {
        float *orow = o + r * ldo;
        for (int64_t c = 0; c < d; c++) orow[c] = 0;
        for (int64_t j = 0; j < n; j++)
            for (int64_t c = 0; c < d; c++) orow[c] += p[r * ldp + j] * v[j * ldv + c];
        for (int64_t c = 0; c < d; c++) orow[c] *= scale[r];
    }
}

static void quantize_u8(const float *x, int64_t k, uint8_t *q, float *scale, int32_t *zero) {
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < k; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    float s = hi > lo ? (hi - lo) / 255.0f : 1.0f, inv = 1.0f / s;
    float z = nearbyintf(-lo * inv); /* in [0, 255] since lo <= 0 <= hi */
    for (int64_t i = 0; i < k; i++) {
        float v = nearbyintf(x[i] * inv) + z;
        q[i] = (uint8_t)(v > 255.0f ? 255.0f : v >= 0.0f ? v : 0.0f); /* NaN -> 0 */
    }
    *scale = s;
    *zero = (int32_t)z;
}

static void to_bf16(const float *x, int64_t n, uint16_t *y) {
    for (int64_t i = 0; i < n; i++) y[i] = rr_f32_to_bf16(x[i]);
}

static void mul(float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) a[i] *= b[i];
}

static void rope(float *x, const float *cs, const float *sn, int64_t half) {
    for (int64_t i = 0; i < half; i++) {
        const float x1 = x[i], x2 = x[i + half];
        x[i] = x1 * cs[i] - x2 * sn[i];
        x[i + half] = x2 * cs[i] + x1 * sn[i];
    }
}

static void dequant(float *y, const float *raw, const float *ws, const float *wz, float zero, float scale,
                    const float *b, int64_t n, int accumulate) {
    for (int64_t j = 0; j < n; j++) {
        float t = ((ws ? raw[j] * ws[j] : raw[j]) - (wz ? zero * wz[j] : 0.0f)) * scale + (b ? b[j] : 0.0f);
        y[j] = accumulate ? y[j] + t : t;
    }
}

RR_DEFINE_DEQUANT_ROWS(, dequant)
RR_DEFINE_DEQUANT_GELU_U8(, dequant, gelu, quantize_u8)

const rr_kernels_t rr_kernels_scalar = {
    .name = "scalar",
    .add_layernorm = add_layernorm,
    .rms_norm = rms_norm,
    .gelu = gelu,
    .silu = silu,
    .mul = mul,
    .rope = rope,
    .softmax = softmax,
    .pack_keys = pack_keys,
    .scores = scores,
    .weighted_sum = weighted_sum,
    .quantize_u8 = quantize_u8,
    .to_bf16 = to_bf16,
    .dequant = dequant,
    .dequant_rows = dequant_rows,
    .dequant_gelu_u8 = dequant_gelu_u8,
};
