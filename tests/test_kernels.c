/* test_kernels.c — every SIMD kernel variant this CPU runs against the
 * scalar reference, and the F16/BF16 conversions. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

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

TEST(rms_norm) {
    for (int v = 1; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        int hs[] = {1, 7, 8, 15, 16, 17, 64, 100, 128, 1024, 1031};
        for (size_t t = 0; t < sizeof hs / sizeof hs[0]; t++) {
            int h = hs[t];
            float *x = malloc(h * sizeof *x), *y = malloc(h * sizeof *y), *g = malloc(h * sizeof *g);
            for (int i = 0; i < h; i++) {
                x[i] = y[i] = frand(-3, 5);
                g[i] = frand(0.5f, 1.5f);
            }
            rr_kernels_scalar.rms_norm(x, g, h, 1e-6f);
            k->rms_norm(y, g, h, 1e-6f);
            float e = max_rel(y, x, (size_t)h, 1.0f);
            CHECK_MSG(e < 1e-5f, "%s h=%d: rel err %g", k->name, h, e);
            free(x); free(y); free(g);
        }
    }
    /* The reference itself: x / rms * g on a row whose rms is 2. */
    float x[4] = {2, -2, 2, -2}, g[4] = {1, 2, 3, 4};
    rr_kernels_scalar.rms_norm(x, g, 4, 0.0f);
    CHECK(x[0] == 1.0f && x[1] == -2.0f && x[2] == 3.0f && x[3] == -4.0f);
}

TEST(silu) {
    enum { N = 4099 };
    static float x[N], y[N];
    for (int v = 1; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        for (int i = 0; i < N; i++) x[i] = y[i] = -20.0f + 40.0f * (float)i / N;
        x[0] = y[0] = 0; x[1] = y[1] = -100; x[2] = y[2] = 100;
        rr_kernels_scalar.silu(x, N);
        k->silu(y, N);
        float worst = 0;
        for (int i = 0; i < N; i++) worst = fmaxf(worst, fabsf(x[i] - y[i]) / fmaxf(1.0f, fabsf(x[i])));
        CHECK_MSG(worst < 2e-6f, "%s: err %g", k->name, worst);
        CHECK(y[0] == 0.0f && fabsf(y[1]) < 1e-30f && y[2] == 100.0f);
    }
}

/* mul and rope: the same bits as the reference (products and sums rounded
 * one by one), every length around the vector widths, nothing written past
 * the row. */
TEST(mul_and_rope) {
    enum { N = 300 };
    static float a0[N + 1], a1[N + 1], b[N], x0[2 * N + 1], x1[2 * N + 1], cs[N], sn[N];
    const int ns[] = {1, 7, 8, 15, 16, 17, 32, 64, 100, 257, 300};
    for (int v = 1; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
            const int n = ns[t];
            for (int i = 0; i < n; i++) {
                a0[i] = a1[i] = frand(-5, 5);
                b[i] = frand(-3, 3);
                cs[i] = cosf(0.37f * (float)i);
                sn[i] = sinf(0.37f * (float)i);
            }
            for (int i = 0; i < 2 * n; i++) x0[i] = x1[i] = frand(-4, 4);
            a0[n] = a1[n] = x0[2 * n] = x1[2 * n] = 42.0f;
            rr_kernels_scalar.mul(a0, b, n);
            k->mul(a1, b, n);
            rr_kernels_scalar.rope(x0, cs, sn, n);
            k->rope(x1, cs, sn, n);
            CHECK_MSG(!memcmp(a0, a1, sizeof a0), "%s mul n=%d: not the reference's bits", k->name, n);
            CHECK_MSG(!memcmp(x0, x1, sizeof x0), "%s rope half=%d: not the reference's bits", k->name, n);
        }
    }
    /* the reference itself: a quarter turn maps (1, 0) to (0, 1) */
    float x[2] = {1.0f, 0.0f}, c[1] = {0.0f}, s[1] = {1.0f}, m[2] = {2.0f, -0.5f}, y[2] = {3.0f, 4.0f};
    rr_kernels_scalar.rope(x, c, s, 1);
    CHECK(x[0] == 0.0f && x[1] == 1.0f);
    rr_kernels_scalar.mul(y, m, 2);
    CHECK(y[0] == 6.0f && y[1] == -2.0f);
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
            const float fx = rr_kernels_scalar.softmax(x, n), fy = k->softmax(y, n);
            float worst = 0, sum = 0;
            for (int i = 0; i < n; i++) { worst = fmaxf(worst, fabsf(x[i] * fx - y[i] * fy)); sum += y[i] * fy; }
            CHECK_MSG(worst < 1e-6f && fabsf(sum - 1) < 1e-5f && fabsf(fx - fy) <= 1e-5f * fx,
                      "%s n=%d: abs err %g sum %g factor %g vs %g", k->name, n, worst, sum, fy, fx);
            /* unnormalized: the largest value's exp is exactly 1 */
            float top = 0;
            for (int i = 0; i < n; i++) top = fmaxf(top, y[i]);
            CHECK_MSG(top == 1.0f, "%s n=%d: largest exp %g", k->name, n, top);
            free(x); free(y);
        }
    }
}

/* Packed keys hold every channel of every key where RR_KEY_PANEL_AT says,
 * zeros for the padding keys, and nothing past the last panel, in every
 * variant; scores over them equal plain dot products of the unpacked rows. */
TEST(pack_keys) {
    int ds[] = {1, 8, 13, 64};
    for (int v = 0; rr_kernels_variant(v); v++)
    for (size_t t = 0; t < sizeof ds / sizeof ds[0]; t++)
        for (int n = 1; n <= 50; n += 7) {
            const rr_kernels_t *k = rr_kernels_variant(v);
            int d = ds[t], ldk = d + 5, n16 = (n + 15) / 16 * 16;
            float *key = malloc(n * ldk * sizeof *key), *kp = malloc((n16 * d + 16) * sizeof *kp);
            for (int i = 0; i < n * ldk; i++) key[i] = frand(-1, 1);
            for (int i = 0; i < n16 * d + 16; i++) kp[i] = 42;
            k->pack_keys(key, ldk, n, d, kp);
            int bad = 0;
            for (int j = 0; j < n16; j++)
                for (int c = 0; c < d; c++) bad += kp[RR_KEY_PANEL_AT(j, c, d)] != (j < n ? key[j * ldk + c] : 0.0f);
            for (int i = n16 * d; i < n16 * d + 16; i++) bad += kp[i] != 42;
            CHECK_MSG(!bad, "%s d=%d n=%d: %d misplaced values", k->name, d, n, bad);
            float q[64], s[64];
            for (int c = 0; c < d; c++) q[c] = frand(-1, 1);
            k->scores(q, d, 1, kp, n16, d, 0.5f, s, n16);
            float e = 0;
            for (int j = 0; j < n16; j++) {
                double ref = 0;
                for (int c = 0; c < d && j < n; c++) ref += (double)q[c] * key[j * ldk + c];
                e = fmaxf(e, fabsf(s[j] - 0.5f * (float)ref));
            }
            CHECK_MSG(e < 1e-5f, "%s d=%d n=%d: scores over packed keys off by %g", k->name, d, n, e);
            free(key); free(kp);
        }
}

TEST(attention_blocks) {
    for (int v = 1; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        int ds[] = {8, 13, 64, 80};
        for (size_t t = 0; t < sizeof ds / sizeof ds[0]; t++) {
            int d = ds[t];
            for (int rows = 1; rows <= 17; rows += 2)
                for (int ncols = 16; ncols <= 80; ncols += 16) {
                    int ldq = d + 3, lds = ncols + 32;
                    float *q = malloc(rows * ldq * sizeof *q), *kp = malloc(d * ncols * sizeof *kp);
                    float *s1 = calloc(rows * lds, sizeof *s1), *s2 = calloc(rows * lds, sizeof *s2);
                    for (int i = 0; i < rows * ldq; i++) q[i] = frand(-1, 1);
                    for (int i = 0; i < d * ncols; i++) kp[i] = frand(-1, 1);
                    rr_kernels_scalar.scores(q, ldq, rows, kp, ncols, d, 0.125f, s1, lds);
                    k->scores(q, ldq, rows, kp, ncols, d, 0.125f, s2, lds);
                    float e = 0;
                    for (int r = 0; r < rows; r++)
                        for (int j = 0; j < lds; j++) e = fmaxf(e, fabsf(s1[r * lds + j] - s2[r * lds + j]));
                    CHECK_MSG(e < 1e-5f, "%s scores d=%d rows=%d ncols=%d: err %g", k->name, d, rows, ncols, e);
                    free(q); free(kp); free(s1); free(s2);
                }
            for (int n = 1; n <= 300; n += 37)
                for (int rows = 1; rows <= 9; rows += 2) {
                    int ldv = d + 5, ldp = n + 3, ldo = d + 7;
                    float *p = malloc(rows * ldp * sizeof *p), *vv = malloc(n * ldv * sizeof *vv);
                    float *o1 = malloc(rows * ldo * sizeof *o1), *o2 = malloc(rows * ldo * sizeof *o2);
                    for (int i = 0; i < rows * ldp; i++) p[i] = frand(0, 1);
                    for (int i = 0; i < n * ldv; i++) vv[i] = frand(-1, 1);
                    for (int i = 0; i < rows * ldo; i++) o1[i] = o2[i] = 42;
                    float scale[17];
                    for (int r = 0; r < rows; r++) scale[r] = frand(0.25f, 2);
                    rr_kernels_scalar.weighted_sum(p, ldp, rows, n, vv, ldv, d, scale, o1, ldo);
                    k->weighted_sum(p, ldp, rows, n, vv, ldv, d, scale, o2, ldo);
                    float e = 0;
                    int outside = 0;
                    for (int r = 0; r < rows; r++)
                        for (int c = 0; c < ldo; c++) {
                            if (c < d) e = fmaxf(e, fabsf(o1[r * ldo + c] - o2[r * ldo + c]));
                            else outside += o2[r * ldo + c] != 42;
                        }
                    CHECK_MSG(e < 1e-4f && !outside, "%s weighted_sum d=%d n=%d rows=%d: err %g, %d writes outside",
                              k->name, d, n, rows, e, outside);
                    free(p); free(vv); free(o1); free(o2);
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

/* Same bytes, scale and zero point as the reference for every variant:
 * lengths around the vector widths, one-sided, constant and empty-range
 * rows, and rows holding NaN and infinities. */
/* Every variant rounds to bf16 exactly as rr_f32_to_bf16: ties both ways,
 * values that round up into the next binade or to inf, subnormals, signed
 * zeros, inf and NaNs (signalling ones come back quiet); writes n values. */
TEST(to_bf16) {
    enum { N = 1037 };
    static float x[N];
    static uint16_t y0[N + 1], y1[N + 1];
    const uint32_t special[] = {0x00000000u, 0x80000000u, 0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu,
                                0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffa00000u,
                                0x00000001u, 0x807fffffu, 0x3fffffffu, 0x00008000u};
    for (int v = 1; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        for (int i = 0; i < N; i++) {
            uint32_t b = i < (int)(sizeof special / sizeof *special) ? special[i] : (uint32_t)rand() * 2654435761u;
            if (i % 7 == 3) b = (b & 0xffff0000u) | 0x8000u; /* exact tie */
            memcpy(&x[i], &b, 4);
        }
        int ns[] = {1, 7, 8, 9, 16, 17, 100, N};
        for (size_t t = 0; t < sizeof ns / sizeof *ns; t++) {
            int n = ns[t], diff = -1;
            memset(y0, 0xAA, sizeof y0);
            memset(y1, 0xAA, sizeof y1);
            rr_kernels_scalar.to_bf16(x, n, y0);
            k->to_bf16(x, n, y1);
            for (int i = 0; i < n && diff < 0; i++)
                if (y0[i] != y1[i] || y0[i] != rr_f32_to_bf16(x[i])) diff = i;
            CHECK_MSG(diff < 0, "%s n=%d: element %d is %04x, reference %04x", k->name, n, diff, diff < 0 ? 0 : y1[diff],
                      diff < 0 ? 0 : y0[diff]);
            CHECK_MSG(y1[n] == 0xAAAA, "%s n=%d: wrote past the end", k->name, n);
        }
    }
}

TEST(quantize_u8) {
    enum { K = 1031 };
    static float x[K];
    static uint8_t q0[K + 1], q1[K + 1];
    int ks[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 1024, 1031};
    for (int v = 1; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        for (int kind = 0; kind < 7; kind++)
            for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
                int n = ks[t];
                for (int i = 0; i < n; i++) {
                    float r = frand(-4, 6);
                    x[i] = kind == 1 ? fabsf(r) : kind == 2 ? -fabsf(r) : kind == 3 ? 0.0f : kind == 4 ? 2.5f : r;
                    if (kind == 0 && i % 5 == 0) x[i] = (float)(i % 11) * 0.5f - 2.5f; /* exact ties */
                }
                if (kind == 5) x[n / 2] = NAN;
                if (kind == 6) x[n - 1] = n % 2 ? INFINITY : -INFINITY;
                float s0 = -1, s1 = -2;
                int32_t z0 = -1, z1 = -2;
                memset(q0, 0xAA, sizeof q0);
                memset(q1, 0x55, sizeof q1);
                rr_kernels_scalar.quantize_u8(x, n, q0, &s0, &z0);
                k->quantize_u8(x, n, q1, &s1, &z1);
                int diff = -1;
                for (int i = 0; i < n && diff < 0; i++)
                    if (q0[i] != q1[i]) diff = i;
                CHECK_MSG(diff < 0, "%s kind %d k=%d: byte %d is %u, reference %u", k->name, kind, n, diff,
                          diff < 0 ? 0 : q1[diff], diff < 0 ? 0 : q0[diff]);
                CHECK_MSG(memcmp(&s0, &s1, sizeof s0) == 0 && z0 == z1, "%s kind %d k=%d: scale %g/%g zero %d/%d",
                          k->name, kind, n, s1, s0, z1, z0);
                CHECK_MSG(q1[n] == 0x55, "%s k=%d: wrote past the row", k->name, n);
            }
    }
    /* The reference itself: the row's range maps onto 0..255 around zero. */
    float r[4] = {-1.0f, 0.0f, 0.5f, 1.55f}, s;
    int32_t z;
    uint8_t qr[4];
    rr_kernels_scalar.quantize_u8(r, 4, qr, &s, &z);
    CHECK(fabsf(s - 2.55f / 255.0f) < 1e-9f && z == 100);
    CHECK(qr[0] == 0 && qr[1] == 100 && qr[2] == 150 && qr[3] == 255);
}

/* Zero-point correction, scale, bias and accumulation, every combination. */
TEST(dequant) {
    enum { N = 1037 };
    static float raw[N], ws[N], wz[N], b[N], y0[N + 1], y1[N + 1];
    int ns[] = {1, 7, 8, 15, 16, 17, 100, 1024, 1037};
    for (int v = 1; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        for (int flags = 0; flags < 32; flags++)
            for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
                int n = ns[t], use_wz = flags & 1, use_b = flags & 2, acc = (flags & 4) != 0, inplace = flags & 8,
                    use_ws = flags & 16;
                for (int i = 0; i < n; i++) {
                    raw[i] = frand(-3000, 3000);
                    ws[i] = frand(0.001f, 0.05f);
                    wz[i] = frand(-20, 20);
                    b[i] = frand(-1, 1);
                    y0[i] = y1[i] = inplace ? raw[i] : frand(-2, 2);
                }
                y0[n] = y1[n] = 42.0f;
                const float *src = inplace ? NULL : raw;
                rr_kernels_scalar.dequant(y0, src ? src : y0, use_ws ? ws : NULL, use_wz ? wz : NULL, 37.0f, 0.0021f,
                                          use_b ? b : NULL, n, acc);
                k->dequant(y1, src ? src : y1, use_ws ? ws : NULL, use_wz ? wz : NULL, 37.0f, 0.0021f,
                           use_b ? b : NULL, n, acc);
                float e = max_rel(y1, y0, (size_t)n, 1.0f);
                CHECK_MSG(e < 1e-5f, "%s flags %d n=%d: rel err %g", k->name, flags, n, e);
                CHECK_MSG(y1[n] == 42.0f, "%s n=%d: wrote past the row", k->name, n);
            }
    }
    float y[2] = {1.0f, 2.0f}, r2[2] = {10.0f, 20.0f}, w2[2] = {1.0f, 2.0f}, b2[2] = {0.5f, -0.5f};
    rr_kernels_scalar.dequant(y, r2, NULL, w2, 3.0f, 0.5f, b2, 2, 1); /* y += (r - 3 w) / 2 + b */
    CHECK(y[0] == 1.0f + 3.5f + 0.5f && y[1] == 2.0f + 7.0f - 0.5f);
    float s2[2] = {2.0f, 0.5f};
    rr_kernels_scalar.dequant(y, r2, s2, w2, 3.0f, 0.5f, NULL, 2, 0); /* y = (r s - 3 w) / 2 */
    CHECK(y[0] == (20.0f - 3.0f) * 0.5f && y[1] == (10.0f - 6.0f) * 0.5f);
}

/* dequant_gelu_u8: the bytes, scale and zero point of the variant's own
 * dequant, gelu and quantize_u8 in sequence (tails, absent terms, rows all
 * of one sign, NaN and inf sums), tmp holding the GELU row, nothing written
 * past either row. */
TEST(dequant_gelu_u8) {
    enum { N = 1037 };
    static float raw[N], ws[N], wz[N], b[N], seq[N + 1], tmp[N + 1];
    static uint8_t q0[N + 1], q1[N + 1];
    const int ns[] = {1, 7, 15, 16, 17, 63, 64, 65, 100, 1024, 1037};
    for (int v = 0; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        for (int kind = 0; kind < 6; kind++)
            for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
                const int n = ns[t], terms = kind < 2 ? kind : 2; /* 0: no ws / wz / b, 1: no wz */
                for (int i = 0; i < n; i++) {
                    raw[i] = kind == 3 ? frand(100, 3000) : kind == 4 ? frand(-3000, -100) : frand(-3000, 3000);
                    ws[i] = frand(0.001f, 0.05f);
                    wz[i] = kind == 3 || kind == 4 ? 0.0f : frand(-20, 20);
                    b[i] = frand(-1, 1);
                }
                if (kind == 5 && n > 3) {
                    raw[n / 2] = NAN;
                    raw[n - 1] = INFINITY;
                    raw[0] = -INFINITY;
                }
                const float *pws = terms ? ws : NULL, *pwz = terms == 2 ? wz : NULL, *pb = terms ? b : NULL;
                float s0, s1;
                int32_t z0, z1;
                seq[n] = tmp[n] = 42.0f;
                q0[n] = q1[n] = 0xA5;
                k->dequant(seq, raw, pws, pwz, 37.0f, 0.0021f, pb, n, 0);
                k->gelu(seq, n);
                k->quantize_u8(seq, n, q0, &s0, &z0);
                k->dequant_gelu_u8(raw, pws, pwz, 37.0f, 0.0021f, pb, n, tmp, q1, &s1, &z1);
                CHECK_MSG(!memcmp(q0, q1, (size_t)n) && s0 == s1 && z0 == z1,
                          "%s kind %d n=%d: bytes, scale or zero differ from the sequence", k->name, kind, n);
                CHECK_MSG(!memcmp(seq, tmp, (size_t)n * sizeof *tmp), "%s kind %d n=%d: tmp is not the GELU row",
                          k->name, kind, n);
                CHECK_MSG(tmp[n] == 42.0f && q1[n] == 0xA5, "%s n=%d: wrote past the row", k->name, n);
            }
    }
}

/* dequant_rows: each row the bits of the variant's own dequant (absent
 * terms included), rows read ldr and written ldy apart, nothing else of y
 * touched. */
TEST(dequant_rows) {
    enum { N = 70, LDR = 3 * N + 5, LDY = N + 3, ROWS = 11 };
    static float raw[ROWS * LDR], ws[N], wz[N], b[N], y[ROWS * LDY], want[N];
    static int32_t zero[ROWS];
    static float scale[ROWS];
    for (int v = 0; rr_kernels_variant(v); v++) {
        const rr_kernels_t *k = rr_kernels_variant(v);
        for (int terms = 0; terms < 8; terms++)
            for (int rows = 0; rows <= ROWS; rows += rows < 3 ? 1 : 4)
                for (int n = 1; n <= N; n += 23) {
                    for (int i = 0; i < ROWS * LDR; i++) raw[i] = frand(-3000, 3000);
                    for (int i = 0; i < N; i++) {
                        ws[i] = frand(0.001f, 0.05f);
                        wz[i] = frand(-20, 20);
                        b[i] = frand(-1, 1);
                    }
                    for (int r = 0; r < ROWS; r++) {
                        zero[r] = (int32_t)frand(-128, 128);
                        scale[r] = frand(0.001f, 0.1f);
                    }
                    for (int i = 0; i < ROWS * LDY; i++) y[i] = -7.0f;
                    const float *pws = terms & 1 ? ws : NULL, *pwz = terms & 2 ? wz : NULL, *pb = terms & 4 ? b : NULL;
                    k->dequant_rows(y, LDY, raw + 5, LDR, rows, pws, pwz, zero, scale, pb, n);
                    for (int r = 0; r < ROWS; r++) {
                        if (r < rows) {
                            k->dequant(want, raw + 5 + r * LDR, pws, pwz, (float)zero[r], scale[r], pb, n, 0);
                            CHECK_MSG(!memcmp(y + r * LDY, want, (size_t)n * sizeof *want),
                                      "%s terms %d rows %d n %d: row %d not dequant's bits", k->name, terms, rows, n, r);
                        }
                        for (int c = r < rows ? n : 0; c < LDY; c++)
                            CHECK_MSG(y[r * LDY + c] == -7.0f, "%s rows %d n %d: wrote y[%d][%d]", k->name, rows, n, r, c);
                    }
                }
    }
}

int main(void) {
    RUN(variants_listed);
    RUN(layernorm);
    RUN(rms_norm);
    RUN(silu);
    RUN(mul_and_rope);
    RUN(gelu);
    RUN(softmax);
    RUN(pack_keys);
    RUN(attention_blocks);
    RUN(to_bf16);
    RUN(quantize_u8);
    RUN(dequant);
    RUN(dequant_rows);
    RUN(dequant_gelu_u8);
    RUN(conversions);
    TEST_MAIN_END();
}
