/* cuda_selftest_rows.cu — test hooks for tests/test_cuda.c: the row kernels (rows.cuh through cuda_rows.cu:
 * norms, activations, the q / k kernel, the pooled head) against the float64 references of rows_ref.h, the FP8 GEMM path against float64 products, and the
 * cuBLASLt GEMM rate (the ceiling the attention and end-to-end figures are quoted against). */
#include <cuda_fp8.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "cuda/cuda_internal.h"
#include "cuda/cuda_selftest.h"
#include "cuda/rows_ref.h"

static rerank_status_t use_device(int device) {
    if (device < 0 || device >= rr_cuda_available())
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cuda: device %d does not exist", device);
    CU(cudaSetDevice(device));
    return RERANK_OK;
}

static std::vector<float> randv(size_t n, float amp, uint32_t *seed) {
    std::vector<float> v(n);
    for (float &x : v) x = amp * rr_st_uniform(seed);
    return v;
}

static rerank_status_t upload(rr_st_dev &d, const void *h, size_t bytes) {
    rerank_status_t st = d.alloc(bytes);
    if (st) return st;
    CU(cudaMemcpy(d.p, h, bytes, cudaMemcpyHostToDevice));
    return RERANK_OK;
}

/* Output row values of a [rows, w] result on the host: 16-bit (bf16 flag) or E4M3 times the row scales. */
struct host_out {
    std::vector<uint8_t> raw;
    std::vector<float> scale;
    int fp8 = 0, bf16 = 0;
    double at(size_t r, int w, int i) const {
        if (fp8) return (double)(float)*(const __nv_fp8_e4m3 *)&raw[r * w + i] * scale[r];
        uint16_t b;
        memcpy(&b, &raw[2 * (r * w + i)], 2);
        return rr_st_float(b, bf16);
    }
};

static rerank_status_t fetch(host_out &o, const rr_cu_mat_t &m, size_t rows, int w, int bf16) {
    o.fp8 = m.dt == RR_CU_E4M3;
    o.bf16 = bf16;
    o.raw.resize(rows * w * (o.fp8 ? 1 : 2));
    CU(cudaMemcpy(o.raw.data(), m.data, o.raw.size(), cudaMemcpyDeviceToHost));
    if (o.fp8) {
        o.scale.resize(rows);
        CU(cudaMemcpy(o.scale.data(), m.scale, rows * sizeof(float), cudaMemcpyDeviceToHost));
    }
    return RERANK_OK;
}

/* Residual add + norm: worst error / tolerance over x and out. */
static rerank_status_t norm_case(int bf16, size_t rows, int w, int rms, int prenorm, int fp8, uint32_t *seed,
                                 double *worst) {
    std::vector<float> x = randv(rows * w, 3.0f, seed), y = randv(rows * w, 2.0f, seed), bias = randv(w, 0.5f, seed),
                       g = randv(w, 1.0f, seed), b = randv(w, 0.3f, seed);
    rr_st_dev dx, dy, dbias, dg, db, dout, dscale;
    rerank_status_t st;
    if ((st = upload(dx, x.data(), x.size() * 4)) || (st = upload(dy, y.data(), y.size() * 4)) ||
        (st = upload(dbias, bias.data(), w * 4)) || (st = upload(dg, g.data(), w * 4)) ||
        (st = upload(db, b.data(), w * 4)) || (st = dout.alloc(rows * w * 2)) || (st = dscale.alloc(rows * 4)))
        return st;
    const rr_cu_norm_t nm = {(const float *)dg.p, rms ? NULL : (const float *)db.p, 1e-5f, rms};
    const rr_cu_mat_t out = {dout.p, fp8 ? RR_CU_E4M3 : bf16 ? RR_CU_BF16 : RR_CU_F16, (float *)dscale.p};
    if ((st = rr_cu_add_norm(&nm, (float *)dx.p, dy.p, RR_CU_F32, (const float *)dbias.p, prenorm, (int64_t)rows, w,
                             &out, 0)))
        return st;
    std::vector<float> gx(rows * w);
    CU(cudaMemcpy(gx.data(), dx.p, gx.size() * 4, cudaMemcpyDeviceToHost));
    host_out o;
    if ((st = fetch(o, out, rows, w, bf16))) return st;
    std::vector<double> xo(w), no(w);
    for (size_t r = 0; r < rows; r++) {
        rr_ref_norm_row(&x[r * w], &y[r * w], bias.data(), g.data(), rms ? NULL : b.data(), w, 1e-5, rms, prenorm,
                        xo.data(), no.data());
        for (int i = 0; i < w; i++) {
            *worst = std::max(*worst, fabs(gx[r * w + i] - xo[i]) / rr_ref_tol(0, xo[i], 0));
            const double tol = rr_ref_tol(fp8 ? 3 : bf16 ? 2 : 1, no[i], fp8 ? o.scale[r] : 0);
            const double e = fabs(o.at(r, w, i) - no[i]) / tol;
            *worst = e == e ? std::max(*worst, e) : INFINITY;
        }
    }
    return RERANK_OK;
}

/* Bias + activation: worst error / tolerance. */
static rerank_status_t act_case(int bf16, size_t rows, int w, int act, int gated, int fp8, uint32_t *seed,
                                double *worst) {
    const size_t ldy = gated ? 2 * (size_t)w : (size_t)w;
    std::vector<float> yf = randv(rows * ldy, 4.0f, seed), bias = randv(ldy, 0.5f, seed);
    std::vector<uint16_t> y(yf.size());
    for (size_t i = 0; i < y.size(); i++) {
        y[i] = rr_st_bits(yf[i], bf16);
        yf[i] = rr_st_float(y[i], bf16);
    }
    rr_st_dev dy, dbias, dout, dscale;
    rerank_status_t st;
    if ((st = upload(dy, y.data(), y.size() * 2)) || (st = upload(dbias, bias.data(), ldy * 4)) ||
        (st = dout.alloc(rows * w * 2)) || (st = dscale.alloc(rows * 4)))
        return st;
    const rr_cu_dtype_t dt = bf16 ? RR_CU_BF16 : RR_CU_F16;
    const rr_cu_mat_t out = {fp8 || gated ? dout.p : dy.p, fp8 ? RR_CU_E4M3 : dt, (float *)dscale.p};
    if ((st = rr_cu_bias_act(dy.p, dt, (const float *)dbias.p, (rr_cu_act_t)act, gated, (int64_t)rows, w, &out, 0)))
        return st;
    host_out o;
    if ((st = fetch(o, out, rows, w, bf16))) return st;
    std::vector<double> ref(w);
    for (size_t r = 0; r < rows; r++) {
        rr_ref_act_row(&yf[r * ldy], bias.data(), w, act, gated, ref.data());
        for (int i = 0; i < w; i++) {
            /* the device erff / tanhf / __expf: a few float ulps on top of the output rounding */
            const double tol = rr_ref_tol(fp8 ? 3 : bf16 ? 2 : 1, ref[i], fp8 ? o.scale[r] : 0) + 4e-6 * fabs(ref[i]);
            const double e = fabs(o.at(r, w, i) - ref[i]) / tol;
            *worst = e == e ? std::max(*worst, e) : INFINITY;
        }
    }
    return RERANK_OK;
}

/* Per-head q / k RMSNorm + rotary positions in place (hq + 2 hkv heads of d per row): worst error /
 * tolerance over the q and k heads; the v heads must come back untouched (else infinity). */
static rerank_status_t qk_case(int bf16, size_t rows, int hq, int hkv, int d, uint32_t *seed, double *worst) {
    const size_t ld = (size_t)(hq + 2 * hkv) * d, half = (size_t)d / 2, npos = 64;
    std::vector<float> xf = randv(rows * ld, 3.0f, seed), qg = randv(d, 1.0f, seed), kg = randv(d, 1.0f, seed),
                       cs(npos * half), sn(npos * half);
    std::vector<uint16_t> x(xf.size());
    for (size_t i = 0; i < x.size(); i++) {
        x[i] = rr_st_bits(xf[i], bf16);
        xf[i] = rr_st_float(x[i], bf16);
    }
    for (size_t q = 0; q < npos; q++)
        for (size_t i = 0; i < half; i++) {
            const double a = (double)q * pow(1e6, -2.0 * (double)i / d);
            cs[q * half + i] = (float)cos(a);
            sn[q * half + i] = (float)sin(a);
        }
    std::vector<int32_t> pos(rows);
    for (size_t r = 0; r < rows; r++) pos[r] = (int32_t)((r * 7) % npos);
    rr_st_dev dx, dq, dk, dc, ds, dp;
    rerank_status_t st;
    if ((st = upload(dx, x.data(), x.size() * 2)) || (st = upload(dq, qg.data(), d * 4)) ||
        (st = upload(dk, kg.data(), d * 4)) || (st = upload(dc, cs.data(), cs.size() * 4)) ||
        (st = upload(ds, sn.data(), sn.size() * 4)) || (st = upload(dp, pos.data(), rows * 4)))
        return st;
    const rr_cu_qk_t q = {hq, hkv, d, (const float *)dq.p, (const float *)dk.p, 1e-6f, (const float *)dc.p,
                          (const float *)ds.p};
    if ((st = rr_cu_qk_norm_rope(dx.p, bf16 ? RR_CU_BF16 : RR_CU_F16, (const int32_t *)dp.p, (int64_t)rows, &q, 0)))
        return st;
    std::vector<uint16_t> got(x.size());
    CU(cudaMemcpy(got.data(), dx.p, got.size() * 2, cudaMemcpyDeviceToHost));
    std::vector<double> v(d);
    for (size_t r = 0; r < rows; r++)
        for (int h = 0; h < hq + 2 * hkv; h++) {
            const size_t at = r * ld + (size_t)h * d;
            if (h >= hq + hkv) {
                if (memcmp(&got[at], &x[at], (size_t)d * 2)) *worst = INFINITY;
                continue;
            }
            for (int i = 0; i < d; i++) v[i] = xf[at + i];
            rr_ref_qk_head(v.data(), d, h < hq ? qg.data() : kg.data(), 1e-6, &cs[(size_t)pos[r] * half],
                           &sn[(size_t)pos[r] * half]);
            for (int i = 0; i < d; i++) {
                const double tol = rr_ref_tol(bf16 ? 2 : 1, v[i], 0) + 4e-6 * fabs(v[i]);
                const double e = fabs(rr_st_float(got[at + i], bf16) - v[i]) / tol;
                *worst = e == e ? std::max(*worst, e) : INFINITY;
            }
        }
    return RERANK_OK;
}

/* The pooled head over a packed batch with an empty pair: pool (0 first, 1 last, 2 mean), a pending fp32
 * residual, an optional dense layer with GELU, a norm, one or two rows: worst error / (1e-4 (1 + |ref|)). */
static rerank_status_t head_case(int w, int pool, int dense, int rms, int rows2, uint32_t *seed, double *worst) {
    const std::vector<int32_t> cu = {0, 3, 3, 7, 8, 12};
    const size_t P = cu.size() - 1, T = (size_t)cu.back(), nr = rows2 ? 2 : 1;
    std::vector<float> x = randv(T * w, 2.0f, seed), y = randv(T * w, 1.0f, seed), yb = randv(w, 0.3f, seed),
                       g = randv(w, 1.0f, seed), b = randv(w, 0.2f, seed), dw = randv((size_t)w * w, 1.0f / sqrtf((float)w), seed),
                       db = randv(w, 0.1f, seed), cw = randv(nr * w, 0.5f, seed), cb = randv(nr, 0.5f, seed);
    rr_st_dev dx, dy, dyb, dg, dbeta, ddw, ddb, dcw, dcb, dcu, dl;
    rerank_status_t st;
    if ((st = upload(dx, x.data(), x.size() * 4)) || (st = upload(dy, y.data(), y.size() * 4)) ||
        (st = upload(dyb, yb.data(), w * 4)) || (st = upload(dg, g.data(), w * 4)) || (st = upload(dbeta, b.data(), w * 4)) ||
        (st = upload(ddw, dw.data(), dw.size() * 4)) || (st = upload(ddb, db.data(), w * 4)) ||
        (st = upload(dcw, cw.data(), cw.size() * 4)) || (st = upload(dcb, cb.data(), nr * 4)) ||
        (st = upload(dcu, cu.data(), cu.size() * 4)) || (st = dl.alloc(P * 4)))
        return st;
    const rr_cu_norm_t nm = {(const float *)dg.p, rms ? NULL : (const float *)dbeta.p, 1e-6f, rms};
    const rr_cu_pool_head_t h = {(const float *)dx.p, dy.p, RR_CU_F32, (const float *)dyb.p, (const int32_t *)dcu.p, pool,
                                 dense ? (const float *)ddw.p : NULL, dense ? (const float *)ddb.p : NULL, dense,
                                 &nm, 0, (const float *)dcw.p, (const float *)dcb.p, (int32_t)nr};
    if ((st = rr_cu_pool_head(&h, (int64_t)P, w, (float *)dl.p, 0))) return st;
    std::vector<float> got(P);
    CU(cudaMemcpy(got.data(), dl.p, P * 4, cudaMemcpyDeviceToHost));
    std::vector<double> v(w);
    for (size_t q = 0; q < P; q++) {
        double want = 0;
        if (cu[q] != cu[q + 1]) {
            const int32_t a = pool == 1 ? cu[q + 1] - 1 : cu[q], e = pool == 2 ? cu[q + 1] : a + 1;
            std::fill(v.begin(), v.end(), 0.0);
            for (int32_t t = a; t < e; t++)
                for (int i = 0; i < w; i++) v[i] += (double)x[(size_t)t * w + i] + (double)y[(size_t)t * w + i] + yb[i];
            for (int i = 0; i < w; i++) v[i] /= e - a;
            want = rr_ref_head_row(v.data(), w, dense ? dw.data() : NULL, dense ? db.data() : NULL, dense, g.data(),
                                   rms ? NULL : b.data(), 1e-6, rms, 0, cw.data(), cb.data(), (int)nr);
        }
        const double e = fabs(got[q] - want) / (1e-4 * (1 + fabs(want)));
        *worst = e == e ? std::max(*worst, e) : INFINITY;
    }
    return RERANK_OK;
}

extern "C" rerank_status_t rr_cuda_rows_selftest(int device, int bf16, char *report, size_t cap, double *worst) {
    rerank_status_t st = use_device(device);
    if (st) return st;
    uint32_t seed = 777u;
    size_t used = 0;
    *worst = 0;
    if (cap) report[0] = 0;
    struct norm_spec {
        int w, rms, prenorm, fp8;
    } ncases[] = {{1024, 0, 0, 0}, {1000, 0, 0, 1}, {4096, 1, 1, 0}, {768, 1, 1, 1}, {16400, 0, 0, 0}, {32, 0, 0, 0}};
    for (const norm_spec &c : ncases) {
        double e = 0;
        if ((st = norm_case(bf16, 37, c.w, c.rms, c.prenorm, c.fp8, &seed, &e))) return st;
        *worst = std::max(*worst, e);
        if (used < cap)
            used += snprintf(report + used, cap - used, "  %s w=%-5d %s%s -> %s: max err / tol %.3g\n", c.rms ? "RMSNorm" : "LayerNorm",
                             c.w, c.prenorm ? "pre-norm" : "post-norm", "", c.fp8 ? "e4m3" : bf16 ? "bf16" : "fp16", e);
    }
    struct act_spec {
        int w, act, gated, fp8;
        const char *name;
    } acases[] = {{4096, RR_ACT_GELU, 0, 0, "bias + GELU (in place)"},
                  {4096, RR_ACT_GELU, 0, 1, "bias + GELU"},
                  {2048, RR_ACT_SILU, 1, 1, "bias + SwiGLU"},
                  {512, RR_ACT_GELU_TANH, 1, 0, "bias + GeGLU (tanh)"},
                  {64, RR_ACT_GELU, 1, 0, "bias + GeGLU"},
                  {1536, RR_ACT_GELU, 2, 0, "bias + [up | gate] GELU"}};
    for (const act_spec &c : acases) {
        double e = 0;
        if ((st = act_case(bf16, 37, c.w, c.act, c.gated, c.fp8, &seed, &e))) return st;
        *worst = std::max(*worst, e);
        if (used < cap)
            used += snprintf(report + used, cap - used, "  %-22s w=%-5d -> %s: max err / tol %.3g\n", c.name, c.w,
                             c.fp8 ? "e4m3" : bf16 ? "bf16" : "fp16", e);
    }
    struct qk_spec {
        int hq, hkv, d;
    } qcases[] = {{16, 8, 128}, {4, 1, 64}, {2, 2, 10}};
    for (const qk_spec &c : qcases) {
        double e = 0;
        if ((st = qk_case(bf16, 37, c.hq, c.hkv, c.d, &seed, &e))) return st;
        *worst = std::max(*worst, e);
        if (used < cap)
            used += snprintf(report + used, cap - used, "  q / k norm + rotary %d/%d heads of %d -> %s: max err / tol %.3g\n",
                             c.hq, c.hkv, c.d, bf16 ? "bf16" : "fp16", e);
    }
    struct head_spec {
        int w, pool, dense, rms, rows2;
        const char *name;
    } hcases[] = {{1024, 1, 0, 1, 1, "last, RMSNorm, yes - no"}, {768, 2, 1, 0, 0, "mean, dense + GELU, LN"},
                  {768, 0, 1, 0, 0, "first, dense + GELU, LN"}};
    for (const head_spec &c : hcases) {
        double e = 0;
        if ((st = head_case(c.w, c.pool, c.dense, c.rms, c.rows2, &seed, &e))) return st;
        *worst = std::max(*worst, e);
        if (used < cap)
            used += snprintf(report + used, cap - used, "  pooled head (%s) w=%d: max err / tol %.3g\n", c.name, c.w, e);
    }
    return RERANK_OK;
}

/* x [rows, w] fp32 (host) -> E4M3 + row scales on the device (fixed scale when fixed > 0); also returns the
 * dequantized values on the host. */
static rerank_status_t quantize(const std::vector<float> &x, size_t rows, int w, float fixed, rr_st_dev &q,
                                rr_st_dev &s, std::vector<double> &deq) {
    rr_st_dev dx;
    rerank_status_t st;
    if ((st = upload(dx, x.data(), x.size() * 4)) || (st = q.alloc(rows * w)) || (st = s.alloc(rows * 4))) return st;
    const rr_cu_mat_t m = {q.p, RR_CU_E4M3, (float *)s.p};
    if ((st = rr_cu_quantize_rows(dx.p, RR_CU_F32, (int64_t)rows, w, fixed, &m, 0))) return st;
    host_out o;
    if ((st = fetch(o, m, rows, w, 0))) return st;
    deq.resize(rows * w);
    for (size_t r = 0; r < rows; r++)
        for (int i = 0; i < w; i++) deq[r * w + i] = o.at(r, w, i);
    return RERANK_OK;
}

extern "C" rerank_status_t rr_cuda_fp8_gemm_selftest(int device, int n, int out, int in, int tensor_w, double *err_q,
                                                     double *err_full) {
    rerank_status_t st = use_device(device);
    if (st) return st;
    if (n < 1 || out < 16 || in < 16 || out % 16 || in % 16)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "fp8 GEMM self-test: sizes (multiples of 16)");
    uint32_t seed = 4242u;
    /* rows of very different magnitudes: what per-token / per-channel scales are for */
    std::vector<float> x = randv((size_t)n * in, 1.0f, &seed), w = randv((size_t)out * in, 0.05f, &seed),
                       bias = randv(out, 0.5f, &seed);
    for (int r = 0; r < n; r++)
        for (int i = 0; i < in; i++) x[(size_t)r * in + i] *= 1.0f + 20.0f * (float)(r % 5);
    for (int r = 0; r < out; r++)
        for (int i = 0; i < in; i++) w[(size_t)r * in + i] *= r % 3 ? 1.0f : 8.0f;
    float fixed = 0;
    if (tensor_w) {
        float amax = 0;
        for (float v : w) amax = std::max(amax, fabsf(v));
        fixed = amax / 448.0f;
    }
    rr_st_dev qx, sx, qw, sw, dbias, dy16, dy32;
    std::vector<double> dx, dw;
    std::vector<uint16_t> hb(out);
    for (int i = 0; i < out; i++) hb[i] = rr_st_bits(bias[i], 0);
    if ((st = quantize(x, n, in, 0.0f, qx, sx, dx)) || (st = quantize(w, out, in, fixed, qw, sw, dw)) ||
        (st = upload(dbias, hb.data(), out * 2)) || (st = dy16.alloc((size_t)n * out * 2)) ||
        (st = dy32.alloc((size_t)n * out * 4)))
        return st;
    for (int i = 0; i < out; i++) bias[i] = rr_st_float(hb[i], 0);
    rr_cu_gemm_t g;
    if ((st = rr_cu_gemm_init(&g))) {
        rr_cu_gemm_destroy(&g);
        return st;
    }
    const rr_cu_mat_t xm = {qx.p, RR_CU_E4M3, (float *)sx.p};
    const rr_cu_linear_t l16 = {qw.p, (const float *)sw.p, dbias.p, out, in, RR_CU_E4M3, RR_CU_F16},
                         l32 = {qw.p, (const float *)sw.p, NULL, out, in, RR_CU_E4M3, RR_CU_F32};
    if (!(st = rr_cu_linear(&g, &l16, n, &xm, dy16.p, 0))) st = rr_cu_linear(&g, &l32, n, &xm, dy32.p, 0);
    const cudaError_t e = cudaDeviceSynchronize();
    rr_cu_gemm_destroy(&g);
    if (st) return st;
    if (e != cudaSuccess) return rr_cu_fail(e, "fp8 GEMM self-test");
    std::vector<uint16_t> y16((size_t)n * out);
    std::vector<float> y32((size_t)n * out);
    CU(cudaMemcpy(y16.data(), dy16.p, y16.size() * 2, cudaMemcpyDeviceToHost));
    CU(cudaMemcpy(y32.data(), dy32.p, y32.size() * 4, cudaMemcpyDeviceToHost));
    double sq = 0, eq = 0, ef = 0;
    for (int r = 0; r < n; r++)
        for (int o = 0; o < out; o++) {
            double pq = 0, pf = 0;
            for (int i = 0; i < in; i++) {
                pq += dx[(size_t)r * in + i] * dw[(size_t)o * in + i];
                pf += (double)x[(size_t)r * in + i] * w[(size_t)o * in + i];
            }
            sq += pf * pf;
            const double g16 = rr_st_float(y16[(size_t)r * out + o], 0) - bias[o], g32 = y32[(size_t)r * out + o];
            /* fp16 output: its own rounding on top */
            const double e16 = fabs(g16 - pq) - (fabs(pq) + fabs(bias[o])) / 2048, e32 = fabs(g32 - pq);
            eq = std::max(eq, std::max(e16 == e16 ? e16 : INFINITY, e32 == e32 ? e32 : INFINITY));
            ef = std::max(ef, fabs(g32 - pf));
        }
    const double rms = sqrt(sq / ((double)n * out));
    *err_q = eq / rms;
    *err_full = ef / rms;
    return RERANK_OK;
}

extern "C" rerank_status_t rr_cuda_gemm_bench(int device, int type, int m, int n, int k, double *tflops) {
    rerank_status_t st = use_device(device);
    if (st) return st;
    if (m < 16 || n < 16 || k < 16 || n % 16 || k % 16 || type < 0 || type > 2)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "GEMM bench: sizes (multiples of 16) or type");
    const rr_cu_dtype_t in_dt = type == 2 ? RR_CU_E4M3 : type ? RR_CU_BF16 : RR_CU_F16;
    const size_t es = rr_cu_dtype_size(in_dt);
    rr_st_dev a, b, y, sa, sb;
    if ((st = a.alloc((size_t)m * k * es)) || (st = b.alloc((size_t)n * k * es)) || (st = y.alloc((size_t)m * n * 2)) ||
        (st = sa.alloc((size_t)std::max(m, n) * 4)) || (st = sb.alloc((size_t)std::max(m, n) * 4)))
        return st;
    CU(cudaMemset(a.p, 0x11, (size_t)m * k * es)); /* small normal values in every format */
    CU(cudaMemset(b.p, 0x11, (size_t)n * k * es));
    CU(cudaMemset(sa.p, 0, (size_t)std::max(m, n) * 4));
    CU(cudaMemset(sb.p, 0, (size_t)std::max(m, n) * 4));
    rr_cu_gemm_t g;
    if ((st = rr_cu_gemm_init(&g))) {
        rr_cu_gemm_destroy(&g);
        return st;
    }
    /* y [m, n] = x [m, k] W [n, k]^T */
    const rr_cu_linear_t L = {b.p, (const float *)sb.p, NULL, n, k, in_dt, type == 1 ? RR_CU_BF16 : RR_CU_F16};
    const rr_cu_mat_t x = {a.p, in_dt, (float *)sa.p};
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    const int reps = 20;
    for (int r = 0; r < 3 && !st; r++) st = rr_cu_linear(&g, &L, m, &x, y.p, 0); /* warm-up, plan */
    cudaEventRecord(e0, 0);
    for (int r = 0; r < reps && !st; r++) st = rr_cu_linear(&g, &L, m, &x, y.p, 0);
    cudaEventRecord(e1, 0);
    const cudaError_t e = cudaEventSynchronize(e1);
    float ms = 0;
    if (!st && e == cudaSuccess) cudaEventElapsedTime(&ms, e0, e1);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    rr_cu_gemm_destroy(&g);
    if (st) return st;
    if (e != cudaSuccess) return rr_cu_fail(e, "GEMM bench");
    *tflops = 2.0 * m * n * (double)k * reps / (ms * 1e-3) / 1e12;
    return RERANK_OK;
}
