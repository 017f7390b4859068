/* rows.cuh — bodies of the row-wise kernels (one thread block per token row, sized to the row: thread k
 * holds the 8-value vectors k, k + threads, ... of the row in registers, NV of them), written against
 * simt.h so the host emulator runs them too (tests/test_cuda_emu.cc). cuda_rows.cu launches them.
 *   norm_row:  x <- x + y + bias (residual add of a GEMM output, fp32 / fp16 / bf16, both optional), then
 *              LayerNorm or RMSNorm;
 *              x keeps the normalized row (post-norm, BERT / XLM-R) or the sum (pre-norm), and the
 *              normalized row is also written as fp16 / bf16 or as FP8 E4M3 with a per-row scale.
 *   embed_row: x = word[id] + type[type id] + pos[position], then the same normalization.
 *   act_row:   out = act(y + bias), or act(y1 + b1) * (y2 + b2) with y = [y1 | y2] (gated: GeGLU, SwiGLU),
 *              act = exact (erf) GELU, tanh GELU or SiLU; out fp16 / bf16 or E4M3 + per-row scale.
 *   quant_row: E4M3 + per-row scale of a fp16 / bf16 / fp32 row (attention output, weights at upload).
 * Widths are multiples of 8 (16-byte vectors). All arithmetic in fp32. E4M3 rows: scale = amax / 448 (1 when
 * amax <= 1e-30), q = v / scale rounded to nearest even, so q * scale approximates the row. */
#ifndef RR_CUDA_ROWS_CUH
#define RR_CUDA_ROWS_CUH

#include "cuda/simt.h"

namespace rr_rows {

using namespace rr_simt;

#define RR_E4M3_MAX 448.0f

enum act_kind { ACT_GELU = 0, ACT_GELU_TANH = 1, ACT_SILU = 2 };

/* Launch shape of a row of w values (w % 8 == 0, w <= 32768): NV vectors of 8 per thread, and threads. */
inline int row_nv(int w) { return w / 8 <= 1024 ? 1 : w / 8 <= 2048 ? 2 : 4; }
inline int row_threads(int w) {
    const int vec = w / 8, nv = row_nv(w), t = (vec + nv - 1) / nv;
    return (t + 31) / 32 * 32;
}

/* Block-wide sum / max; every thread gets the result (the same bits: every thread adds the warp partials
 * in the same order). red: >= nthreads / 32 floats of shared memory; every thread must call. */
RR_DEV float block_reduce(float x, bool is_max, float *red, int tid, int nthreads) {
    RR_UNROLL
    for (int o = 16; o > 0; o >>= 1) {
        const float y = shfl_xor(x, o);
        x = is_max ? fmaxf(x, y) : x + y;
    }
    bar(); /* earlier readers of red are done */
    if ((tid & 31) == 0) red[tid >> 5] = x;
    bar();
    float r = red[0];
    for (int i = 1; i < nthreads >> 5; i++) r = is_max ? fmaxf(r, red[i]) : r + red[i];
    return r;
}

/* Where the normalized row goes: fp16 / bf16 (T), or E4M3 bytes + one float scale per row. */
struct out_desc {
    void *data;
    float *scale; /* non-NULL: E4M3 */
};

/* Write the NV vectors v (row r of width w) to o; E4M3 with a per-row scale when o.scale. */
template <typename T, int NV>
RR_DEV void store_row(const out_desc &o, size_t r, int w, float (&v)[NV][8], int tid, int nthreads, float *red) {
    if (o.scale) {
        float amax = 0.0f;
        RR_UNROLL
        for (int k = 0; k < NV; k++)
            if ((tid + k * nthreads) * 8 < w)
                RR_UNROLL
                for (int e = 0; e < 8; e++) amax = fmaxf(amax, fabsf(v[k][e]));
        amax = block_reduce(amax, true, red, tid, nthreads);
        const float scale = amax > 1e-30f ? amax / RR_E4M3_MAX : 1.0f;
        if (tid == 0) o.scale[r] = scale;
        uint8_t *dst = (uint8_t *)o.data + r * (size_t)w;
        RR_UNROLL
        for (int k = 0; k < NV; k++) {
            const int c = (tid + k * nthreads) * 8;
            if (c < w) st8_e4m3(dst + c, v[k], 1.0f / scale);
        }
    } else {
        T *dst = (T *)o.data + r * (size_t)w;
        RR_UNROLL
        for (int k = 0; k < NV; k++) {
            const int c = (tid + k * nthreads) * 8;
            if (c < w) st8<T>(dst + c, v[k]);
        }
    }
}

struct norm_params {
    float *x;            /* [rows, w] residual stream (read, written)           */
    const void *y;       /* [rows, w] or NULL: added to x (a GEMM output)       */
    int y_dt;            /* y's type: 0 fp32, 1 fp16, 2 bf16                    */
    const float *bias;   /* [w] or NULL: added with y                           */
    const float *gamma;  /* [w]                                                 */
    const float *beta;   /* [w] or NULL (RMSNorm, or a LayerNorm without shift) */
    out_desc out;        /* [rows, w] the normalized row                        */
    int w;
    float eps;
    int rms;             /* 1: RMSNorm x / sqrt(mean(x^2) + eps) * gamma           */
    int prenorm;         /* 1: x keeps x + y + bias; 0: x gets the normalized row */
};

/* Normalize the row held in v (already summed) and write x / out. */
template <typename T, int NV>
RR_DEV void norm_tail(const norm_params &p, size_t r, float (&v)[NV][8], int tid, int nthreads, float *red) {
    const int w = p.w;
    float *xr = p.x + r * (size_t)w;
    float mean = 0.0f;
    if (!p.rms) {
        float s = 0.0f;
        RR_UNROLL
        for (int k = 0; k < NV; k++)
            if ((tid + k * nthreads) * 8 < w)
                RR_UNROLL
                for (int e = 0; e < 8; e++) s += v[k][e];
        mean = block_reduce(s, false, red, tid, nthreads) / (float)w;
    }
    float sq = 0.0f;
    RR_UNROLL
    for (int k = 0; k < NV; k++)
        if ((tid + k * nthreads) * 8 < w)
            RR_UNROLL
            for (int e = 0; e < 8; e++) sq += (v[k][e] - mean) * (v[k][e] - mean);
    const float inv = rsqrt_(block_reduce(sq, false, red, tid, nthreads) / (float)w + p.eps);
    RR_UNROLL
    for (int k = 0; k < NV; k++) {
        const int c = (tid + k * nthreads) * 8;
        if (c >= w) continue;
        if (p.prenorm) st8(xr + c, v[k]);
        float g[8], b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        ld8(p.gamma + c, g);
        if (p.beta) ld8(p.beta + c, b);
        RR_UNROLL
        for (int e = 0; e < 8; e++) v[k][e] = (v[k][e] - mean) * inv * g[e] + b[e];
        if (!p.prenorm) st8(xr + c, v[k]);
    }
    store_row<T, NV>(p.out, r, w, v, tid, nthreads, red);
}

template <typename T, int NV> RR_DEV void norm_row(const norm_params &p, size_t r, int tid, int nthreads, float *red) {
    const int w = p.w;
    float v[NV][8];
    RR_UNROLL
    for (int k = 0; k < NV; k++) {
        const int c = (tid + k * nthreads) * 8;
        if (c >= w) continue;
        ld8(p.x + r * (size_t)w + c, v[k]);
        if (p.y) {
            float y[8], b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            const size_t at = r * (size_t)w + c;
            if (p.y_dt == 1) ld8((const f16 *)p.y + at, y);
            else if (p.y_dt == 2) ld8((const bf16 *)p.y + at, y);
            else ld8((const float *)p.y + at, y);
            if (p.bias) ld8(p.bias + c, b);
            RR_UNROLL
            for (int e = 0; e < 8; e++) v[k][e] += y[e] + b[e]; /* x + (y + b), the order of y = dense(.) + b */
        }
    }
    norm_tail<T, NV>(p, r, v, tid, nthreads, red);
}

struct embed_params {
    const int32_t *ids, *types, *pos; /* [rows] */
    const void *word;                 /* [vocab, w] T */
    const float *pemb, *temb;         /* [positions, w], [types, w] */
    norm_params norm;                 /* x, gamma, beta, out, w, eps (y, bias unused) */
};

template <typename T, int NV> RR_DEV void embed_row(const embed_params &p, size_t r, int tid, int nthreads, float *red) {
    const int w = p.norm.w;
    const T *we = (const T *)p.word + (size_t)p.ids[r] * w;
    const float *pe = p.pemb + (size_t)p.pos[r] * w, *te = p.temb + (size_t)p.types[r] * w;
    float v[NV][8];
    RR_UNROLL
    for (int k = 0; k < NV; k++) {
        const int c = (tid + k * nthreads) * 8;
        if (c >= w) continue;
        float a[8], b[8];
        ld8<T>(we + c, v[k]);
        ld8(te + c, a);
        ld8(pe + c, b);
        RR_UNROLL
        for (int e = 0; e < 8; e++) v[k][e] = (v[k][e] + a[e]) + b[e]; /* (word + type) + position, as HF */
    }
    norm_tail<T, NV>(p.norm, r, v, tid, nthreads, red);
}

struct act_params {
    const void *y;      /* [rows, w] or [rows, 2w] (gated) T */
    const float *bias;  /* [w] or [2w], or NULL              */
    out_desc out;       /* [rows, w]; may be y when T out and not gated */
    int w;
    int act;            /* act_kind */
    int gated;          /* out = act(y1 + b1) * (y2 + b2)    */
};

RR_DEV float act_apply(int act, float x) {
    if (act == ACT_GELU) return 0.5f * x * (1.0f + erf_(x * 0.70710678118654752f));
    if (act == ACT_GELU_TANH) return 0.5f * x * (1.0f + tanh_(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    return x / (1.0f + exp_(-x));
}

template <typename T, int NV> RR_DEV void act_row(const act_params &p, size_t r, int tid, int nthreads, float *red) {
    const int w = p.w;
    const size_t ldy = p.gated ? 2 * (size_t)w : (size_t)w;
    const T *yr = (const T *)p.y + r * ldy;
    float v[NV][8];
    RR_UNROLL
    for (int k = 0; k < NV; k++) {
        const int c = (tid + k * nthreads) * 8;
        if (c >= w) continue;
        float b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        ld8<T>(yr + c, v[k]);
        if (p.bias) ld8(p.bias + c, b);
        RR_UNROLL
        for (int e = 0; e < 8; e++) v[k][e] = act_apply(p.act, v[k][e] + b[e]);
        if (p.gated) {
            float u[8], bu[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            ld8<T>(yr + w + c, u);
            if (p.bias) ld8(p.bias + w + c, bu);
            RR_UNROLL
            for (int e = 0; e < 8; e++) v[k][e] *= u[e] + bu[e];
        }
    }
    store_row<T, NV>(p.out, r, w, v, tid, nthreads, red);
}

/* E4M3 + per-row scale of a row of S (f16, bf16 or float), or with a fixed scale for every row (fixed > 0;
 * per-tensor weights). */
template <typename S, int NV>
RR_DEV void quant_row(const S *x, int w, float fixed, uint8_t *q, float *scale, size_t r, int tid, int nthreads,
                      float *red) {
    float v[NV][8];
    float amax = 0.0f;
    RR_UNROLL
    for (int k = 0; k < NV; k++) {
        const int c = (tid + k * nthreads) * 8;
        if (c >= w) continue;
        ld8(x + r * (size_t)w + c, v[k]);
        RR_UNROLL
        for (int e = 0; e < 8; e++) amax = fmaxf(amax, fabsf(v[k][e]));
    }
    float s = fixed;
    if (!(s > 0.0f)) {
        amax = block_reduce(amax, true, red, tid, nthreads);
        s = amax > 1e-30f ? amax / RR_E4M3_MAX : 1.0f;
    }
    if (tid == 0) scale[r] = s;
    RR_UNROLL
    for (int k = 0; k < NV; k++) {
        const int c = (tid + k * nthreads) * 8;
        if (c < w) st8_e4m3(q + r * (size_t)w + c, v[k], 1.0f / s);
    }
}

} /* namespace rr_rows */

#endif
