/* gemm.h — the linear layers, y[M, out] = x[M, in] W^T + b, through oneDNN
 * matmul at the model's precision. Each (out, in, precision) has one weight
 * layout, oneDNN's choice: blocked where its brgemm kernels run (AVX-512),
 * with a primitive per (epilogue, M) made on first use and kept in a
 * least-recently-used table; plain W [out, in] elsewhere (AVX2), with one
 * run-time-M primitive per epilogue. Layers of one shape share them.
 * Where the kernel is AMX, oneDNN sees M as whole 64-row blocks plus a tail
 * of a multiple of 16 rows (some other row counts run 5-20x slower there;
 * gemm.c, run), so primitives are made per block and tail size.
 *
 *  fp32: F32 weights (views into the checkpoint where the layout is plain,
 *        else a blocked copy), bias and epilogue fused by oneDNN post-ops.
 *  bf16: weights converted to BF16 once; activations converted per call;
 *        F32 accumulation and output, fused epilogue. Where oneDNN has no
 *        bf16 matmul for this CPU (no AVX-512), the layer falls back to fp32.
 *  int8: weights quantized per output channel (symmetric s8), activations
 *        per token (asymmetric u8: scale + zero point) at each call;
 *        u8 x s8 -> f32 raw sums; the weight scales, zero-point correction,
 *        token scale, bias and epilogue are applied in one pass after the
 *        GEMM. */
#ifndef RR_ENGINE_GEMM_H
#define RR_ENGINE_GEMM_H

#include <stdint.h>

#include "engine/bench_api.h"
#include "engine/blocks.h"
#include "rerank.h"


typedef struct rr_gemm rr_gemm_t;

typedef struct rr_linear {
    int32_t out, in;         /* W: [out, in]                                 */
    rerank_precision_t prec; /* how this layer computes                      */
    const float *w;          /* F32 weights [out, in] (fp32; a view)         */
    const float *b;          /* bias [out] (a view)                          */
    void *wq;                /* BF16 or s8 weights [out, in] (owned)         */
    float *wscale;           /* int8: per-output-channel scale [out] (owned) */
    float *wzero;            /* int8: wscale[o] * sum_i wq[o, i] [out] (owned) */
    int shape;               /* the GEMM context's layout for (out, in, prec) */
} rr_linear_t;

rerank_status_t rr_gemm_new(rr_gemm_t **out);
void rr_gemm_free(rr_gemm_t *g);
/* Seconds spent in oneDNN matmuls through g so far. */
double rr_gemm_seconds(const rr_gemm_t *g);
/* Up to cap of g's layer shapes that have run (calls, seconds in oneDNN,
 * useful FLOPs since g was made), in the order they were first described;
 * returns how many. */
int rr_gemm_shape_stats(const rr_gemm_t *g, rr_gemm_shape_stat_t *out, int cap);
/* oneDNN primitives g has created so far (one per M for blocked layouts). */
int64_t rr_gemm_primitives_created(const rr_gemm_t *g);
/* Keep every later layer's weights in the plain layout (tests, and the
 * comparison in bench); call before the first rr_linear_init. */
void rr_gemm_set_plain(rr_gemm_t *g, int plain);
/* How later shapes split their rows (see gemm.c, run): mode > 0 every
 * shape as AMX shapes do (whole 64-row blocks in one call, the rest padded
 * to 16 rows in another), on any CPU; < 0 none, AMX included; 0 (the
 * default) AMX shapes only. Tests and bench; call before the first
 * rr_linear_init. */
void rr_gemm_set_row_blocks(rr_gemm_t *g, int mode);
/* *blocked = 1 if layers [out, in] at prec get oneDNN's blocked layout
 * here (0 also where oneDNN has no matmul at prec). */
rerank_status_t rr_gemm_layout_blocked(rr_gemm_t *g, int32_t out, int32_t in, rerank_precision_t prec, int *blocked);

/* Describe W [out, in] (row-major, PyTorch layout) and b [out] as a layer
 * computing at `prec`: converts or quantizes the weights once. */
rerank_status_t rr_linear_init(rr_gemm_t *g, rr_linear_t *L, const float *w, const float *b, int32_t out,
                               int32_t in, rerank_precision_t prec);
/* The precision a layer [out, in] asked for `prec` computes at: prec, or
 * fp32 where oneDNN has no matmul for it on this CPU. */
rerank_status_t rr_linear_precision(rr_gemm_t *g, int32_t out, int32_t in, rerank_precision_t prec,
                                    rerank_precision_t *got);
/* A bf16 layer from weights already in BF16: L takes wq (an rr_malloc block
 * [out, in]; freed by rr_linear_release, or here on failure). An error where
 * rr_linear_precision does not give bf16. */
rerank_status_t rr_linear_init_bf16(rr_gemm_t *g, rr_linear_t *L, uint16_t *wq, const float *b, int32_t out,
                                    int32_t in);
void rr_linear_release(rr_linear_t *L);

/* y[m, out] = epi(x[m, in] W^T + b). */
rerank_status_t rr_linear(rr_gemm_t *g, const rr_linear_t *L, const float *x, int64_t m, rr_epilogue_t epi,
                          float *y);

/* Work on each finished output row while it is still in cache: fn(ctx, r,
 * y + r * out) once per row r, after row r of y is final, rows in
 * parallel (fn must touch nothing another row's call does). With stage_x,
 * fn writes row r of stage_x [m, stage_k] too, and that row is staged
 * (below) for the next GEMM at stage_prec right after fn returns. */
typedef struct rr_row_then {
    void (*fn)(void *ctx, int64_t r, float *row);
    void *ctx;
    const float *stage_x; /* NULL: stage nothing */
    int64_t stage_k;
    rerank_precision_t stage_prec;
} rr_row_then_t;

/* rr_linear(.., epi, y), then `then` on each row of y (NULL: none). int8
 * calls it from the pass that finishes the row; fp32 / bf16 (whose
 * epilogue oneDNN fuses) from one pass after the GEMM. */
rerank_status_t rr_linear_then(rr_gemm_t *g, const rr_linear_t *L, const float *x, int64_t m, rr_epilogue_t epi,
                               float *y, const rr_row_then_t *then);

/* Staged activations: the next GEMM's left operand prepared row by row by
 * whoever writes those rows, while they are in cache, instead of in a
 * pass of its own. rr_gemm_stage arms g for x [m, k] at precision prec
 * (bf16: converted, int8: quantized per token; fp32: nothing is staged);
 * the caller then writes each row and calls rr_gemm_stage_row for it
 * (rows in parallel). The next rr_linear, rr_linear_raw or rr_ffn whose
 * input is exactly x [m, k] at prec uses the staged rows (bit for bit
 * what it would have made itself); any other GEMM call, or
 * rr_gemm_unstage, drops them. The caller must not change x in between. */
rerank_status_t rr_gemm_stage(rr_gemm_t *g, rerank_precision_t prec, const float *x, int64_t m, int64_t k);
void rr_gemm_stage_row(rr_gemm_t *g, int64_t r);
void rr_gemm_unstage(rr_gemm_t *g);
/* GEMM inputs taken from a stage so far (tests, bench). */
int64_t rr_gemm_staged_uses(const rr_gemm_t *g);

/* How to finish a layer's raw int8 output: y = (raw * wscale[c] - zero[t]
 * * wzero[c]) * scale[t] + b[c] for token t, column c (the dequant
 * kernel). scale == NULL: nothing to do. */
typedef struct rr_raw_out {
    const float *scale;   /* per token [m], or NULL */
    const int32_t *zero;  /* per token [m]          */
    const float *wscale;  /* per column [out]       */
    const float *wzero;   /* per column [out]       */
    const float *b;       /* per column [out]       */
} rr_raw_out_t;

/* y[m, out] = x W^T + b, except that an int8 layer leaves its raw GEMM
 * output in y and says in *raw how to finish it (the token arrays live in
 * g: valid until the next call on g). fp32 / bf16: y is final. */
rerank_status_t rr_linear_raw(rr_gemm_t *g, const rr_linear_t *L, const float *x, int64_t m, float *y,
                              rr_raw_out_t *raw);

/* The feed-forward block: y[m, down.out] += down(a(up(x))) with a = act
 * (gate NONE) or act of one half of up's output times the other half
 * (up.out = 2 down.in); `ffn` [m, up.out] scratch. Equal bit for bit to
 * rr_linear(up) (with a fused GELU when ungated), a, rr_linear_then(down,
 * ACC, then);
 * in int8 the activations are requantized row by row without going back to
 * memory as floats. */
rerank_status_t rr_ffn(rr_gemm_t *g, const rr_linear_t *up, const rr_linear_t *down, rr_fn_t act, rr_gate_t gate,
                       const float *x, int64_t m, float *ffn, float *y, const rr_row_then_t *then);

/* The int8 weight range: 127 where oneDNN runs VNNI, else 63 (the 16-bit
 * intermediate sums of AVX2/AVX-512 without VNNI saturate otherwise). */
float rr_gemm_int8_weight_qmax(void);

/* Quantize rows of x [m, k] to s8 with one symmetric scale per row
 * (x ~= q * scale). Exposed for tests. */
void rr_quantize_rows_s8(const float *x, int64_t m, int64_t k, int8_t *q, float *scale);

/* Quantize rows of x [m, k] to u8 with a scale and zero point per row
 * (x ~= (q - zero) * scale; zero in [0, 255], 0.0 exact). */
void rr_quantize_rows_u8(const float *x, int64_t m, int64_t k, uint8_t *q, float *scale, int32_t *zero);

#endif
