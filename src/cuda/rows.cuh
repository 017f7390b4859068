/* rows.cuh — bodies of the row-wise kernels (one thread block per token row, sized to the row: thread k
 * holds the 8-value vectors k, k + threads, ... of the row in registers, NV of them), written against
 * simt.h so the host emulator runs them too (tests/test_cuda_emu.cc). cuda_rows.cu launches them.
 *   norm_row:  x <- x + y + bias (residual add of a GEMM output, fp32 / fp16 / bf16, both optional), then
 *              LayerNorm or RMSNorm;
 *              x keeps the normalized row (post-norm, BERT / XLM-R) or the sum (pre-norm), and the
 *              normalized row is also written as fp16 / bf16 or as FP8 E4M3 with a per-row scale.
 *   embed_row: x = word[id] (+ type[type id]) (+ pos[position]), then the same normalization, or none
 *              (decoders: x and out get the sum).
 *   qk_row:    the q and k heads of a fused q | k | v row: per-head RMSNorm (Qwen3's q_norm / k_norm), then
 *              rotary positions (rotate-half layout), in place; one warp per head.
 *   head_row:  a reranker's head on one pair: its first or last token's row of x, or the mean of its rows
 *              (+ a pending residual y + bias), an optional fp32 dense layer + GELU, an optional norm, then
 *              one or two classifier rows (optionally of tanh(v)): w0 . v (+ b0), or the difference of two
 *              (logit("yes") - logit("no")). Qwen3, ModernBERT.
 *   act_row:   out = act(y + bias), or act(y1 + b1) * (y2 + b2) with y = [y1 | y2] (gated: GeGLU, SwiGLU),
 *              or (y1 + b1) * act(y2 + b2) (gated second: GTE's [up | gate]),
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

/* v = (v - mean) / sqrt(var + eps) * gamma + beta (LayerNorm; beta may be NULL) or, rms, v / sqrt(mean(v^2)
 * + eps) * gamma, over the w values the block holds in v. Every thread must call. */
template <int NV>
RR_DEV void normalize(float (&v)[NV][8], int w, const float *gamma, const float *beta, float eps, int rms, int tid,
                      int nthreads, float *red) {
    float mean = 0.0f;
    if (!rms) {
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
    const float inv = rsqrt_(block_reduce(sq, false, red, tid, nthreads) / (float)w + eps);
    RR_UNROLL
    for (int k = 0; k < NV; k++) {
        const int c = (tid + k * nthreads) * 8;
        if (c >= w) continue;
        float g[8], b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        ld8(gamma + c, g);
        if (beta) ld8(beta + c, b);
        RR_UNROLL
        for (int e = 0; e < 8; e++) v[k][e] = (v[k][e] - mean) * inv * g[e] + b[e];
    }
}

/* The w values the block holds in v into dst (fp32). */
template <int NV> RR_DEV void store_f32(float *dst, int w, float (&v)[NV][8], int tid, int nthreads) {
    RR_UNROLL
    for (int k = 0; k < NV; k++) {
        const int c = (tid + k * nthreads) * 8;
        if (c < w) st8(dst + c, v[k]);
    }
}

/* Normalize the row held in v (already summed) and write x / out. */
template <typename T, int NV>
RR_DEV void norm_tail(const norm_params &p, size_t r, float (&v)[NV][8], int tid, int nthreads, float *red) {
    float *xr = p.x + r * (size_t)p.w;
    if (p.prenorm) store_f32<NV>(xr, p.w, v, tid, nthreads);
    normalize<NV>(v, p.w, p.gamma, p.beta, p.eps, p.rms, tid, nthreads, red);
    if (!p.prenorm) store_f32<NV>(xr, p.w, v, tid, nthreads);
    store_row<T, NV>(p.out, r, p.w, v, tid, nthreads, red);
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
    const float *pe = p.pemb ? p.pemb + (size_t)p.pos[r] * w : NULL, *te = p.temb ? p.temb + (size_t)p.types[r] * w : NULL;
    float v[NV][8];
    RR_UNROLL
    for (int k = 0; k < NV; k++) {
        const int c = (tid + k * nthreads) * 8;
        if (c >= w) continue;
        float a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        ld8<T>(we + c, v[k]);
        if (te) ld8(te + c, a);
        if (pe) ld8(pe + c, b);
        RR_UNROLL
        for (int e = 0; e < 8; e++) v[k][e] = (v[k][e] + a[e]) + b[e]; /* (word + type) + position, as HF */
    }
    if (p.norm.gamma) {
        norm_tail<T, NV>(p.norm, r, v, tid, nthreads, red);
        return;
    }
    /* no embedding norm (decoders): x and out are the sum itself */
    store_f32<NV>(p.norm.x + r * (size_t)w, w, v, tid, nthreads);
    store_row<T, NV>(p.norm.out, r, w, v, tid, nthreads, red);
}

/* ---- q and k heads: per-head RMSNorm, rotary positions -------------------------------------------------- */

#define RR_QK_MAX_D 256 /* head_dim the q / k kernel takes: 32 lanes x 4 rotary pairs */

struct qk_params {
    void *qkv;                /* [rows, (hq + 2 hkv) d] T: q | k | v; the q and k heads are rewritten    */
    const int32_t *pos;       /* [rows] position ids (rotary)                                            */
    const float *q_gamma;     /* [d] RMSNorm weight of every q head, or NULL (no norm)                   */
    const float *k_gamma;     /* [d] of every k head, or NULL                                            */
    float eps;
    const float *cos, *sin;   /* [positions, d / 2] rotary tables, or NULL (no rotary positions)        */
    int hq, hkv, d;           /* d even, at most RR_QK_MAX_D                                             */
};

/* Row r: each warp takes heads warp, warp + warps, ... of the hq + hkv q and k heads; lane l holds the
 * rotary pairs (i, i + d/2) for i = l, l + 32, .. . x = x / sqrt(mean(x^2) + eps) * gamma, then
 * (x1, x2) = (x1 cos - x2 sin, x2 cos + x1 sin) at the token's position, all in fp32. */
template <typename T> RR_DEV void qk_row(const qk_params &p, size_t r, int tid, int nthreads) {
    const int lane = tid & 31, half = p.d / 2;
    T *row = (T *)p.qkv + r * (size_t)(p.hq + 2 * p.hkv) * p.d;
    const float *cs = p.cos ? p.cos + (size_t)p.pos[r] * half : NULL, *sn = p.sin ? p.sin + (size_t)p.pos[r] * half : NULL;
    for (int h = tid >> 5; h < p.hq + p.hkv; h += nthreads >> 5) { /* warp-uniform */
        T *x = row + (size_t)h * p.d;
        const float *g = h < p.hq ? p.q_gamma : p.k_gamma;
        float a[RR_QK_MAX_D / 64], b[RR_QK_MAX_D / 64], sq = 0.0f;
        RR_UNROLL
        for (int k = 0; k < RR_QK_MAX_D / 64; k++) {
            const int i = lane + 32 * k;
            a[k] = b[k] = 0.0f;
            if (i < half) {
                a[k] = to_f32(x[i]);
                b[k] = to_f32(x[i + half]);
                sq += a[k] * a[k] + b[k] * b[k];
            }
        }
        if (g) {
            RR_UNROLL
            for (int o = 16; o > 0; o >>= 1) sq += shfl_xor(sq, o);
            const float inv = rsqrt_(sq / (float)p.d + p.eps);
            RR_UNROLL
            for (int k = 0; k < RR_QK_MAX_D / 64; k++) {
                const int i = lane + 32 * k;
                if (i < half) {
                    a[k] = a[k] * inv * g[i];
                    b[k] = b[k] * inv * g[i + half];
                }
            }
        }
        RR_UNROLL
        for (int k = 0; k < RR_QK_MAX_D / 64; k++) {
            const int i = lane + 32 * k;
            if (i >= half) continue;
            float lo = a[k], hi = b[k];
            if (cs) {
                lo = a[k] * cs[i] - b[k] * sn[i];
                hi = b[k] * cs[i] + a[k] * sn[i];
            }
            x[i] = from_f32<T>(lo);
            x[i + half] = from_f32<T>(hi);
        }
    }
}

/* ---- a reranker's head on one pair ----------------------------------------------------------------------- */

enum head_pool { POOL_FIRST = 0, POOL_LAST = 1, POOL_MEAN = 2 };
enum head_act { HEAD_NONE = 0, HEAD_GELU = 1, HEAD_TANH = 2 };

struct head_params {
    const float *x;          /* [tokens, w] residual stream                                          */
    const void *y;           /* [tokens, w] pending residual (fp32 / fp16 / bf16: y_dt 0 / 1 / 2), or NULL */
    int y_dt;
    const float *bias;       /* [w] added with y, or NULL                                            */
    const int32_t *cu;       /* [pairs + 1] token offsets of the pairs                               */
    int pool;                /* head_pool: the pair's first or last token, or the mean of its tokens  */
    const float *dw;         /* [w, w] a dense layer on the pooled row (fp32), or NULL                */
    const float *db;         /* [w] its bias, or NULL                                                 */
    int dact;                /* head_act after it (none or exact GELU)                                */
    const float *gamma;      /* [w] a norm (after the dense layer if any; NULL: none)                 */
    const float *beta;       /* [w] LayerNorm shift, or NULL (RMSNorm, or no shift)                  */
    float eps;
    int rms;
    int cact;                /* head_act of the classifier's input (none or tanh)                     */
    const float *cw;         /* [rows, w] classifier rows                                            */
    const float *cb;         /* [rows] their biases, or NULL                                         */
    int rows;                /* 1: logit = cw[0] . v + cb[0]; 2: that minus cw[1] . v + cb[1]         */
    float *logits;           /* [pairs]                                                             */
    int w;
};

/* Shared floats head_row needs beyond the 32 of `red`: the pooled and the dense rows (dense heads). */
inline size_t head_smem_floats(int w, bool dense) { return dense ? 2 * (size_t)w : 0; }

/* Row t of x plus the pending residual, as NV vectors of 8 (added into v when add). */
template <int NV>
RR_DEV void head_load(const head_params &p, size_t t, float (&v)[NV][8], bool add, int tid, int nthreads) {
    const int w = p.w;
    const size_t at = t * (size_t)w;
    RR_UNROLL
    for (int k = 0; k < NV; k++) {
        const int c = (tid + k * nthreads) * 8;
        if (c >= w) continue;
        float r[8];
        ld8(p.x + at + c, r);
        if (p.y) {
            float y[8], b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            if (p.y_dt == 1) ld8((const f16 *)p.y + at + c, y);
            else if (p.y_dt == 2) ld8((const bf16 *)p.y + at + c, y);
            else ld8((const float *)p.y + at + c, y);
            if (p.bias) ld8(p.bias + c, b);
            RR_UNROLL
            for (int e = 0; e < 8; e++) r[e] += y[e] + b[e];
        }
        RR_UNROLL
        for (int e = 0; e < 8; e++) v[k][e] = add ? v[k][e] + r[e] : r[e];
    }
}

/* Pair `pair` (one block): pool, [dense + act], [norm], logit; 0 for an empty (padding) pair. red: 32
 * floats; sh: head_smem_floats(w, dw != NULL) floats. */
template <int NV>
RR_DEV void head_row(const head_params &p, size_t pair, int tid, int nthreads, float *red, float *sh) {
    const int32_t t0 = p.cu[pair], t1 = p.cu[pair + 1];
    if (t0 == t1) { /* the whole block, before any barrier */
        if (tid == 0) p.logits[pair] = 0.0f;
        return;
    }
    const int w = p.w;
    float v[NV][8];
    /* pool: one row, or the mean of the pair's rows */
    if (p.pool == POOL_MEAN) {
        RR_UNROLL
        for (int k = 0; k < NV; k++)
            RR_UNROLL
            for (int e = 0; e < 8; e++) v[k][e] = 0.0f;
        for (int32_t t = t0; t < t1; t++) head_load<NV>(p, (size_t)t, v, true, tid, nthreads);
        const float inv_n = 1.0f / (float)(t1 - t0);
        RR_UNROLL
        for (int k = 0; k < NV; k++)
            RR_UNROLL
            for (int e = 0; e < 8; e++) v[k][e] *= inv_n;
    } else {
        head_load<NV>(p, (size_t)(p.pool == POOL_LAST ? t1 - 1 : t0), v, false, tid, nthreads);
    }
    /* dense: u[j] = act(dw[j] . v + db[j]), a warp per output, through shared memory */
    if (p.dw) {
        float *vs = sh, *us = sh + w;
        store_f32<NV>(vs, w, v, tid, nthreads);
        bar();
        const int lane = tid & 31;
        for (int j = tid >> 5; j < w; j += nthreads >> 5) { /* warp-uniform */
            const float *wr = p.dw + (size_t)j * w;
            float s = 0.0f;
            for (int i = lane; i < w; i += 32) s += wr[i] * vs[i];
            RR_UNROLL
            for (int o = 16; o > 0; o >>= 1) s += shfl_xor(s, o);
            if (lane == 0) {
                s += p.db ? p.db[j] : 0.0f;
                us[j] = p.dact == HEAD_GELU ? 0.5f * s * (1.0f + erf_(s * 0.70710678118654752f)) : s;
            }
        }
        bar();
        RR_UNROLL
        for (int k = 0; k < NV; k++) {
            const int c = (tid + k * nthreads) * 8;
            if (c < w) ld8(us + c, v[k]);
        }
    }
    /* norm */
    if (p.gamma) normalize<NV>(v, w, p.gamma, p.beta, p.eps, p.rms, tid, nthreads, red);
    /* logit = cw[0] . f(v) + cb[0] (- the same with row 1) */
    float d0 = 0.0f, d1 = 0.0f;
    RR_UNROLL
    for (int k = 0; k < NV; k++) {
        const int c = (tid + k * nthreads) * 8;
        if (c >= w) continue;
        float c0[8], c1[8];
        ld8(p.cw + c, c0);
        if (p.rows == 2) ld8(p.cw + (size_t)w + c, c1);
        RR_UNROLL
        for (int e = 0; e < 8; e++) {
            const float f = p.cact == HEAD_TANH ? tanh_(v[k][e]) : v[k][e];
            d0 += c0[e] * f;
            if (p.rows == 2) d1 += c1[e] * f;
        }
    }
    d0 = block_reduce(d0, false, red, tid, nthreads);
    if (p.rows == 2) d1 = block_reduce(d1, false, red, tid, nthreads);
    if (tid == 0) {
        float logit = d0 + (p.cb ? p.cb[0] : 0.0f);
        if (p.rows == 2) logit -= d1 + (p.cb ? p.cb[1] : 0.0f);
        p.logits[pair] = logit;
    }
}

struct act_params {
    const void *y;      /* [rows, w] or [rows, 2w] (gated) T */
    const float *bias;  /* [w] or [2w], or NULL              */
    out_desc out;       /* [rows, w]; may be y when T out and not gated */
    int w;
    int act;            /* act_kind */
    int gated;          /* 1: out = act(y1 + b1) * (y2 + b2); 2: (y1 + b1) * act(y2 + b2) */
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
        if (p.gated == 2) { /* [up | gate]: (y1 + b1) * act(y2 + b2) */
            float u[8], bu[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            ld8<T>(yr + w + c, u);
            if (p.bias) ld8(p.bias + w + c, bu);
            RR_UNROLL
            for (int e = 0; e < 8; e++) v[k][e] = (v[k][e] + b[e]) * act_apply(p.act, u[e] + bu[e]);
            continue;
        }
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
