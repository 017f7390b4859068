/* cuda_weights.cu — device memory accounting and the model upload, converted to the compute types.
 *
 * Matrices feeding the GEMMs (Q/K/V fused into one [3H, H], attention output, FFN up / down) go to fp16 /
 * bf16, or to FP8 E4M3 with one float scale per output channel (amax of the row / 448; with
 * RERANK_CUDA_FP8_WEIGHTS=tensor one scale per tensor, for comparison); the word-embedding table to fp16 /
 * bf16; the QKV bias to the activation type (it rides in the GEMM epilogue). Everything read by fp32 code —
 * the other biases (added in the bias + GELU and residual + LayerNorm kernels), LayerNorms, position / type
 * embeddings, the classification head — stays fp32.
 *
 * Every tensor goes through one pinned staging buffer in chunks (whole rows for FP8): memcpy from the
 * (possibly unaligned) safetensors mapping, one host-to-device copy of the raw checkpoint bytes, then a
 * conversion (or quantization) kernel into place. So the 250002 x 1024 word table of bge-m3 (F32: 1 GB) is
 * converted on the GPU in 32 MB pieces and never exists converted on the host. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cuda/cuda_internal.h"

#define STAGE_BYTES ((size_t)32 << 20)

typedef struct stage {
    void *host;   /* pinned */
    void *dev;
} stage_t;

rerank_status_t rr_cu_malloc(rr_cuda_t *c, void **p, size_t bytes, const char *what) {
    *p = NULL;
    const cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        *p = NULL;
        (void)cudaGetLastError(); /* not sticky */
        return rr_error(e == cudaErrorMemoryAllocation ? RERANK_ERR_NOMEM : RERANK_ERR_INTERNAL,
                        "cuda: cudaMalloc(%zu bytes) for %s: %s", bytes, what, cudaGetErrorString(e));
    }
    c->dev_bytes += bytes;
    return RERANK_OK;
}

void rr_cu_free(rr_cuda_t *c, void *p, size_t bytes) {
    if (!p) return;
    cudaFree(p);
    c->dev_bytes -= bytes;
}

/* A weight allocation, remembered for rr_cu_free_weights. */
static rerank_status_t dalloc(rr_cuda_t *c, void **p, size_t bytes, const char *what) {
    *p = NULL;
    if (c->n_allocs == c->cap_allocs) {
        const size_t cap = c->cap_allocs ? 2 * c->cap_allocs : 64;
        void **a = (void **)rr_realloc(c->allocs, cap * sizeof *a);
        if (!a) return rr_error(RERANK_ERR_NOMEM, "out of memory (cuda allocation list)");
        c->allocs = a;
        size_t *b = (size_t *)rr_realloc(c->alloc_bytes, cap * sizeof *b);
        if (!b) return rr_error(RERANK_ERR_NOMEM, "out of memory (cuda allocation list)");
        c->alloc_bytes = b;
        c->cap_allocs = cap;
    }
    rerank_status_t st = rr_cu_malloc(c, p, bytes, what);
    if (st) return st;
    c->allocs[c->n_allocs] = *p;
    c->alloc_bytes[c->n_allocs++] = bytes;
    return RERANK_OK;
}

/* dst[0..n) (dst_dt) = src[0..n) (checkpoint dtype src_dt, host). */
static rerank_status_t upload(rr_cuda_t *c, stage_t *st, void *dst, rr_cu_dtype_t dst_dt, const void *src, int src_dt,
                              size_t n) {
    const size_t ssize = src_dt == RR_DT_F32 ? 4 : 2, dsize = rr_cu_dtype_size(dst_dt);
    const size_t per = STAGE_BYTES / ssize;
    for (size_t off = 0; off < n; off += per) {
        const size_t cnt = n - off < per ? n - off : per;
        memcpy(st->host, (const char *)src + off * ssize, cnt * ssize);
        CU(cudaMemcpyAsync(st->dev, st->host, cnt * ssize, cudaMemcpyHostToDevice, c->stream));
        rerank_status_t s = rr_cu_convert(st->dev, src_dt, (char *)dst + off * dsize, dst_dt, cnt, c->stream);
        if (s) return s;
        CU(cudaStreamSynchronize(c->stream)); /* the staging buffers are reused */
    }
    return RERANK_OK;
}

/* Allocate and upload an fp32 host array as dt. */
static rerank_status_t put(rr_cuda_t *c, stage_t *st, void **dst, rr_cu_dtype_t dt, const float *src, size_t n,
                           const char *what) {
    rerank_status_t s = dalloc(c, dst, n * rr_cu_dtype_size(dt), what);
    if (!s) s = upload(c, st, *dst, dt, src, RR_DT_F32, n);
    if (s) rr_error_prefix("uploading %s", what);
    return s;
}

static rerank_status_t put_f32(rr_cuda_t *c, stage_t *st, float **dst, const float *src, size_t n,
                               const char *what) {
    void *p = NULL;
    rerank_status_t s = put(c, st, &p, RR_CU_F32, src, n, what);
    *dst = (float *)p;
    return s;
}

static rerank_status_t check_shape(const char *what, int32_t rows, int32_t cols, int32_t want_rows,
                                   int32_t want_cols) {
    if (rows != want_rows || cols != want_cols)
        return rr_error(RERANK_ERR_FORMAT, "cuda: %s is [%d, %d], expected [%d, %d]", what, (int)rows, (int)cols,
                        (int)want_rows, (int)want_cols);
    return RERANK_OK;
}

/* A [rows, cols] fp32 host matrix as E4M3 + one scale per row (or one per tensor: fp8_tensor). */
static rerank_status_t put_e4m3(rr_cuda_t *c, stage_t *st, uint8_t *dst, float *scale, const float *src, size_t rows,
                                size_t cols) {
    float fixed = 0.0f;
    if (c->fp8_tensor) {
        float amax = 0.0f;
        for (size_t i = 0; i < rows * cols; i++) amax = fmaxf(amax, fabsf(src[i]));
        fixed = amax > 1e-30f ? amax / 448.0f : 1.0f;
    }
    const size_t per = STAGE_BYTES / sizeof(float) / cols; /* whole rows per chunk */
    if (per == 0) return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: rows of %zu values are too long for FP8", cols);
    for (size_t r0 = 0; r0 < rows; r0 += per) {
        const size_t nr = rows - r0 < per ? rows - r0 : per;
        memcpy(st->host, src + r0 * cols, nr * cols * sizeof(float));
        CU(cudaMemcpyAsync(st->dev, st->host, nr * cols * sizeof(float), cudaMemcpyHostToDevice, c->stream));
        const rr_cu_mat_t out = {dst + r0 * cols, RR_CU_E4M3, scale + r0};
        rerank_status_t s = rr_cu_quantize_rows(st->dev, RR_CU_F32, (int64_t)nr, (int32_t)cols, fixed, &out, c->stream);
        if (s) return s;
        CU(cudaStreamSynchronize(c->stream)); /* the staging buffers are reused */
    }
    return RERANK_OK;
}

/* The GEMM weights of one linear layer ([out, in] fp32 on the host, row blocks of `parts` tensors stacked)
 * in c->wdt, described in L (out_dt and bias are set by the caller). */
static rerank_status_t put_linear(rr_cuda_t *c, stage_t *st, rr_cu_linear_t *L, const float *const *parts, int nparts,
                                  int32_t out_per_part, int32_t in, const char *what) {
    const size_t rows = (size_t)out_per_part * nparts, per = (size_t)out_per_part * in;
    void *w = NULL, *sc = NULL;
    rerank_status_t s = dalloc(c, &w, rows * in * rr_cu_dtype_size(c->wdt), what);
    if (!s && c->wdt == RR_CU_E4M3) s = dalloc(c, &sc, rows * sizeof(float), what);
    for (int i = 0; i < nparts && !s; i++) {
        if (c->wdt == RR_CU_E4M3)
            s = put_e4m3(c, st, (uint8_t *)w + i * per, (float *)sc + (size_t)i * out_per_part, parts[i],
                         (size_t)out_per_part, (size_t)in);
        else s = upload(c, st, (char *)w + i * per * rr_cu_dtype_size(c->wdt), c->wdt, parts[i], RR_DT_F32, per);
    }
    if (s) {
        rr_error_prefix("uploading %s", what);
        return s;
    }
    L->w = w;
    L->w_scale = (const float *)sc;
    L->out = (int32_t)rows;
    L->in = in;
    L->in_dt = c->wdt;
    return RERANK_OK;
}

static rerank_status_t upload_layer(rr_cuda_t *c, stage_t *st, const rr_layer_weights_t *L, rr_cu_layer_t *d,
                                    int32_t l) {
    const int32_t H = c->cfg.hidden, I = c->cfg.ffn;
    char what[64];
    rerank_status_t s;
    snprintf(what, sizeof what, "layer %d", (int)l);
    const rr_dense_t *qkv[3] = {&L->q, &L->k, &L->v};
    for (int i = 0; i < 3; i++)
        if ((s = check_shape(what, qkv[i]->w.rows, qkv[i]->w.cols, H, H))) return s;
    if ((s = check_shape(what, L->attn_out.w.rows, L->attn_out.w.cols, H, H)) ||
        (s = check_shape(what, L->ffn_up.w.rows, L->ffn_up.w.cols, I, H)) ||
        (s = check_shape(what, L->ffn_down.w.rows, L->ffn_down.w.cols, H, I)))
        return s;
    /* Q, K, V stacked: rows [0,H) query, [H,2H) key, [2H,3H) value; the bias in the activation type. */
    const float *wq[3] = {L->q.w.p, L->k.w.p, L->v.w.p}, *wo[1] = {L->attn_out.w.p}, *w1[1] = {L->ffn_up.w.p},
                *w2[1] = {L->ffn_down.w.p};
    void *bqkv = NULL;
    const size_t ds = rr_cu_dtype_size(c->dt);
    if ((s = put_linear(c, st, &d->qkv, wq, 3, H, H, what)) || (s = dalloc(c, &bqkv, 3 * (size_t)H * ds, what)))
        return s;
    for (int i = 0; i < 3; i++)
        if ((s = upload(c, st, (char *)bqkv + i * (size_t)H * ds, c->dt, qkv[i]->b.p, RR_DT_F32, (size_t)H))) {
            rr_error_prefix("uploading %s attention bias", what);
            return s;
        }
    d->qkv.bias = bqkv;
    d->qkv.out_dt = c->dt;
    if ((s = put_linear(c, st, &d->o, wo, 1, H, H, what)) || (s = put_linear(c, st, &d->up, w1, 1, I, H, what)) ||
        (s = put_linear(c, st, &d->down, w2, 1, H, I, what)))
        return s;
    d->o.out_dt = RR_CU_F32;
    d->up.out_dt = c->dt;
    d->down.out_dt = RR_CU_F32;
    float *g1 = NULL, *be1 = NULL, *g2 = NULL, *be2 = NULL;
    if ((s = put_f32(c, st, &d->bo, L->attn_out.b.p, (size_t)H, what)) ||
        (s = put_f32(c, st, &g1, L->attn_norm.g.p, (size_t)H, what)) ||
        (s = put_f32(c, st, &be1, L->attn_norm.b.p, (size_t)H, what)) ||
        (s = put_f32(c, st, &d->b1, L->ffn_up.b.p, (size_t)I, what)) ||
        (s = put_f32(c, st, &d->b2, L->ffn_down.b.p, (size_t)H, what)) ||
        (s = put_f32(c, st, &g2, L->ffn_norm.g.p, (size_t)H, what)) ||
        (s = put_f32(c, st, &be2, L->ffn_norm.b.p, (size_t)H, what)))
        return s;
    d->ln1 = (rr_cu_norm_t){g1, be1, c->cfg.ln_eps, 0};
    d->ln2 = (rr_cu_norm_t){g2, be2, c->cfg.ln_eps, 0};
    return RERANK_OK;
}

static rerank_status_t upload_all(rr_cuda_t *c, stage_t *st, const rr_weights_t *w) {
    const rr_config_t *cfg = &c->cfg;
    const int32_t H = cfg->hidden;
    rerank_status_t s;
    const rr_table_t *we = &w->word_emb;
    if ((s = check_shape("word embeddings", we->rows, we->cols, cfg->vocab, H)) ||
        (s = check_shape("position embeddings", w->pos_emb.rows, w->pos_emb.cols, cfg->max_pos, H)) ||
        (s = check_shape("token type embeddings", w->type_emb.rows, w->type_emb.cols, cfg->type_vocab, H)) ||
        (s = check_shape("head dense", w->head_dense.w.rows, w->head_dense.w.cols, H, H)) ||
        (s = check_shape("head output", w->head_out.w.rows, w->head_out.w.cols, 1, H)))
        return s;
    if (we->dtype != RR_DT_F32 && we->dtype != RR_DT_F16 && we->dtype != RR_DT_BF16)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: word embeddings of dtype %s", rr_dtype_name(we->dtype));
    const size_t nw = (size_t)we->rows * (size_t)we->cols;
    if ((s = dalloc(c, &c->word, nw * rr_cu_dtype_size(c->dt), "word embeddings")) ||
        (s = upload(c, st, c->word, c->dt, we->p, (int)we->dtype, nw))) {
        rr_error_prefix("uploading word embeddings");
        return s;
    }
    float *eg = NULL, *eb = NULL;
    if ((s = put_f32(c, st, &c->pos, w->pos_emb.p, (size_t)cfg->max_pos * H, "position embeddings")) ||
        (s = put_f32(c, st, &c->type, w->type_emb.p, (size_t)cfg->type_vocab * H, "token type embeddings")) ||
        (s = put_f32(c, st, &eg, w->emb_norm.g.p, (size_t)H, "embeddings LayerNorm")) ||
        (s = put_f32(c, st, &eb, w->emb_norm.b.p, (size_t)H, "embeddings LayerNorm")))
        return s;
    c->emb_ln = (rr_cu_norm_t){eg, eb, cfg->ln_eps, 0};
    c->layer = (rr_cu_layer_t *)rr_calloc((size_t)cfg->layers, sizeof *c->layer);
    if (!c->layer) return rr_error(RERANK_ERR_NOMEM, "out of memory (cuda layers)");
    for (int32_t l = 0; l < cfg->layers; l++)
        if ((s = upload_layer(c, st, &w->layer[l], &c->layer[l], l))) return s;
    if ((s = put_f32(c, st, &c->head_w, w->head_dense.w.p, (size_t)H * H, "head dense")) ||
        (s = put_f32(c, st, &c->head_b, w->head_dense.b.p, (size_t)H, "head dense bias")) ||
        (s = put_f32(c, st, &c->out_w, w->head_out.w.p, (size_t)H, "head output")) ||
        (s = put_f32(c, st, &c->out_b, w->head_out.b.p, 1, "head output bias")))
        return s;
    return RERANK_OK;
}

rerank_status_t rr_cu_upload_weights(rr_cuda_t *c, const rr_weights_t *w) {
    stage_t st = {NULL, NULL};
    rerank_status_t s = RERANK_OK;
    cudaError_t e = cudaMallocHost(&st.host, STAGE_BYTES);
    if (e == cudaSuccess) e = cudaMalloc(&st.dev, STAGE_BYTES);
    if (e != cudaSuccess) s = rr_cu_fail(e, "cudaMalloc(staging buffers)");
    if (!s) s = upload_all(c, &st, w);
    cudaStreamSynchronize(c->stream); /* nothing in flight on the staging buffers */
    if (st.dev) cudaFree(st.dev);
    if (st.host) cudaFreeHost(st.host);
    return s;
}

void rr_cu_free_weights(rr_cuda_t *c) {
    for (size_t i = 0; i < c->n_allocs; i++) rr_cu_free(c, c->allocs[i], c->alloc_bytes[i]);
    rr_free(c->allocs);
    rr_free(c->alloc_bytes);
    rr_free(c->layer);
    c->allocs = NULL;
    c->alloc_bytes = NULL;
    c->layer = NULL;
    c->n_allocs = c->cap_allocs = 0;
}
