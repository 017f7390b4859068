/* test_kernels.c — every SIMD kernel variant this CPU runs against the
 * scalar reference, and the F16/BF16 conversions. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "test.h"

static unsigned g_seed = 1;
static float frand(float lo, float hi) {
    g_seed = g_seed * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(g_seed >> 8) / (float)(1u << 24);
}

static float max_rel(const float *a, const float *b, size_t n, float floor_) {
    float worst = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]) / fmaxf(fabsf(b[i]), floor_);
        if (!(d <= worst)) worst = d; /* NaN propagates as failure */
    }
    return worst;
}

TEST(variants_listed) {
    CHECK(rr_kernels_variant(0) == &rr_kernels_scalar);
    CHECK(rr_kernels() != NULL);
    for (int i = 0; rr_kernels_variant(i); i++) printf("  variant %d: %s\n", i, rr_kernels_variant(i)->name);
    printf("  selected: %s\n", rr_kernels()->name);
}

TEST(layernorm) {
    const rr_kernels_t *ref = &rr_kernels_scalar;
    for (int v = 1; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        int hs[] = {1, 7, 8, 15, 16, 17, 32, 100, 1024, 1031};
        for (size_t t = 0; t < sizeof hs / sizeof hs[0]; t++) {
            int h = hs[t];
            float *x = malloc(h * sizeof *x), *y = malloc(h * sizeof *y), *r = malloc(h * sizeof *r),
                  *g = malloc(h * sizeof *g), *b = malloc(h * sizeof *b);
            for (int use_res = 0; use_res < 2; use_res++) {
                for (int i = 0; i < h; i++) {
                    x[i] = y[i] = frand(-3, 5);
                    r[i] = frand(-2, 2);
                    g[i] = frand(0.5f, 1.5f);
                    b[i] = frand(-0.2f, 0.2f);
                }
                ref->add_layernorm(x, use_res ? r : NULL, g, b, h, 1e-5f);
                k->add_layernorm(y, use_res ? r : NULL, g, b, h, 1e-5f);
                float e = max_rel(y, x, (size_t)h, 1.0f);
                CHECK_MSG(e < 1e-5f, "%s h=%d res=%d: rel err %g", k->name, h, use_res, e);
            }
            free(x); free(y); free(r); free(g); free(b);
        }
    }
}

TEST(gelu) {
    enum { N = 4099 };
    static float x[N], y[N];
    for (int v = 1; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        for (int i = 0; i < N; i++) x[i] = y[i] = -12.0f + 24.0f * (float)i / N;
        x[0] = y[0] = 0; x[1] = y[1] = -100; x[2] = y[2] = 100;
        rr_kernels_scalar.gelu(x, N);
        k->gelu(y, N);
        float worst = 0;
        for (int i = 0; i < N; i++) worst = fmaxf(worst, fabsf(x[i] - y[i]));
        CHECK_MSG(worst < 2e-6f, "%s: abs err %g", k->name, worst);
    }
}

TEST(softmax) {
    for (int v = 1; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        int ns[] = {1, 2, 7, 8, 9, 16, 33, 256, 511, 4097};
        for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
            int n = ns[t];
            float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            for (int i = 0; i < n; i++) x[i] = y[i] = frand(-30, 30) + (i == n / 2 ? 80.0f : 0.0f);
            rr_kernels_scalar.softmax(x, n);
            k->softmax(y, n);
            float worst = 0, sum = 0;
            for (int i = 0; i < n; i++) { worst = fmaxf(worst, fabsf(x[i] - y[i])); sum += y[i]; }
            CHECK_MSG(worst < 1e-6f && fabsf(sum - 1) < 1e-5f, "%s n=%d: abs err %g sum %g", k->name, n, worst, sum);
            free(x); free(y);
        }
    }
}

TEST(attention_blocks) {
    for (int v = 1; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        int ds[] = {8, 13, 64, 80};
        for (size_t t = 0; t < sizeof ds / sizeof ds[0]; t++) {
            int d = ds[t];
            for (int rows = 1; rows <= 9; rows += 2)
                for (int ncols = 16; ncols <= 80; ncols += 16) {
                    int ldq = d + 3, ldk = ncols + 16, lds = ncols + 32;
                    float *q = malloc(rows * ldq * sizeof *q), *kt = malloc(d * ldk * sizeof *kt);
                    float *s1 = calloc(rows * lds, sizeof *s1), *s2 = calloc(rows * lds, sizeof *s2);
                    for (int i = 0; i < rows * ldq; i++) q[i] = frand(-1, 1);
                    for (int i = 0; i < d * ldk; i++) kt[i] = frand(-1, 1);
                    rr_kernels_scalar.scores(q, ldq, rows, kt, ldk, ncols, d, 0.125f, s1, lds);
                    k->scores(q, ldq, rows, kt, ldk, ncols, d, 0.125f, s2, lds);
                    float e = 0;
                    for (int r = 0; r < rows; r++)
                        for (int j = 0; j < lds; j++) e = fmaxf(e, fabsf(s1[r * lds + j] - s2[r * lds + j]));
                    CHECK_MSG(e < 1e-5f, "%s scores d=%d rows=%d ncols=%d: err %g", k->name, d, rows, ncols, e);
                    free(q); free(kt); free(s1); free(s2);
                }
            for (int n = 1; n <= 300; n += 37) {
                int ldv = d + 5;
                float *p = malloc(n * sizeof *p), *vv = malloc(n * ldv * sizeof *vv);
                float o1[80], o2[81];
                for (int i = 0; i < n; i++) p[i] = frand(0, 1);
                for (int i = 0; i < n * ldv; i++) vv[i] = frand(-1, 1);
                o2[d] = 42;
                rr_kernels_scalar.weighted_sum(p, n, vv, ldv, d, o1);
                k->weighted_sum(p, n, vv, ldv, d, o2);
                float e = 0;
                for (int c = 0; c < d; c++) e = fmaxf(e, fabsf(o1[c] - o2[c]));
                CHECK_MSG(e < 1e-4f && o2[d] == 42, "%s weighted_sum d=%d n=%d: err %g", k->name, d, n, e);
                free(p); free(vv);
            }
        }
    }
}

__attribute__((target("f16c"))) static float f16c_ref(uint16_t h) { return _cvtsh_ss(h); }

TEST(conversions) {
    CHECK(rr_f16_to_f32(0x3c00) == 1.0f);
    CHECK(rr_f16_to_f32(0xc000) == -2.0f);
    CHECK(rr_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(rr_f16_to_f32(0x0001) == ldexpf(1, -24));
    CHECK(isinf(rr_f16_to_f32(0x7c00)) && isnan(rr_f16_to_f32(0x7e00)));
    CHECK(rr_f16_to_f32(0x8000) == 0.0f && signbit(rr_f16_to_f32(0x8000)));
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) { /* every AVX2 CPU has F16C */
        int bad = 0;
        for (uint32_t h = 0; h < 65536; h++) {
            float a = rr_f16_to_f32((uint16_t)h), b = f16c_ref((uint16_t)h);
            if (!(a == b || (isnan(a) && isnan(b))) || (a == 0 && signbit(a) != signbit(b))) bad++;
        }
        CHECK_MSG(bad == 0, "%d half values differ from F16C", bad);
    }
    CHECK(rr_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(rr_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(rr_f32_to_bf16(1.00390625f) == 0x3f80);   /* tie -> even */
    CHECK(rr_f32_to_bf16(1.01171875f) == 0x3f82);   /* tie -> even (up) */
    CHECK(isnan(rr_bf16_to_f32(rr_f32_to_bf16(NAN))));
    unsigned char raw[7] = {0, 0x00, 0x3c, 0x00, 0xc0, 0, 0};
    float out[3];
    rr_convert_to_f32(raw + 1, 1, out, 3); /* unaligned F16 */
    CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0.0f);
}

int main(void) {
    RUN(variants_listed);
    RUN(layernorm);
    RUN(gelu);
    RUN(softmax);
    RUN(attention_blocks);
    RUN(conversions);
    TEST_MAIN_END();
}
