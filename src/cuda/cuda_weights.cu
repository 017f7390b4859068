/* cuda_weights.cu — device memory accounting and the model upload, converted to the compute types.
 *
 * Linear layers (every rr_weights_t.dense, uploaded at create: the family stacks Q/K/V into one [3H, H])
 * go to fp16 / bf16, or to FP8 E4M3 with one float scale per output channel (amax of the row / 448; with
 * RERANK_CUDA_FP8_WEIGHTS=tensor one scale per tensor, for comparison); a layer the family keeps in fp32
 * (the head's dense layer) stays fp32. Each bias goes up in fp32 (added by the bias + GELU and residual +
 * norm kernels) and in the activation type (for a GEMM epilogue: the QKV bias). The tensors the family
 * names only in its block calls (norms, embedding tables, the classifier) are uploaded when a pass first
 * uses them and found again by host address: the word-embedding table in the activation type, the rest
 * fp32.
 *
 * Every tensor goes through one pinned staging buffer in chunks (whole rows for FP8): memcpy from the
 * (possibly unaligned) safetensors mapping, one host-to-device copy of the raw checkpoint bytes, then a
 * conversion (or quantization) kernel into place. So the 250002 x 1024 word table of bge-m3 (F32: 1 GB) is
 * converted on the GPU in 32 MB pieces and never exists converted on the host. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cuda/cuda_ctx.h"

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
                              size_t n, size_t stage_bytes = STAGE_BYTES) {
    const size_t ssize = src_dt == RR_DT_F32 ? 4 : 2, dsize = rr_cu_dtype_size(dst_dt);
    const size_t per = stage_bytes / ssize;
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


/* Staging buffers for uploads of up to `bytes` bytes per piece. */
static rerank_status_t stage_open(stage_t *st, size_t bytes) {
    st->host = st->dev = NULL;
    cudaError_t e = cudaMallocHost(&st->host, bytes);
    if (e == cudaSuccess) e = cudaMalloc(&st->dev, bytes);
    if (e != cudaSuccess) {
        st->dev = NULL;
        (void)cudaGetLastError();
        return rr_cu_fail(e, "cudaMalloc(staging buffers)");
    }
    return RERANK_OK;
}

static void stage_close(rr_cuda_t *c, stage_t *st) {
    if (c->stream) cudaStreamSynchronize(c->stream); /* nothing in flight on the staging buffers */
    if (st->dev) cudaFree(st->dev);
    if (st->host) cudaFreeHost(st->host);
    st->host = st->dev = NULL;
}

/* One linear layer: W [out, in] in c->wdt (or fp32), both biases (none: NULL, decoders). */
static rerank_status_t put_dense(rr_cuda_t *c, stage_t *st, const rr_dense_t *d, const float *wf, rr_cu_dense_t *D) {
    const size_t out = (size_t)d->w.rows, in = (size_t)d->w.cols;
    char what[48];
    snprintf(what, sizeof what, "linear layer %d", (int)d->id);
    if (in % 16 || out % 8)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: %s is [%zu, %zu]; the GEMMs need multiples of 16 inputs and "
                        "8 outputs", what, out, in);
    D->fp32 = d->keep_fp32;
    const rr_cu_dtype_t wdt = D->fp32 ? RR_CU_F32 : c->wdt;
    void *w = NULL, *sc = NULL;
    rerank_status_t s = dalloc(c, &w, out * in * rr_cu_dtype_size(wdt), what);
    if (!s && wdt == RR_CU_E4M3) {
        if (!(s = dalloc(c, &sc, out * sizeof(float), what)))
            s = put_e4m3(c, st, (uint8_t *)w, (float *)sc, wf, out, in);
    } else if (!s) {
        s = upload(c, st, w, wdt, wf, RR_DT_F32, out * in);
    }
    if (s) {
        rr_error_prefix("uploading %s", what);
        return s;
    }
    D->b32 = NULL;
    D->bdt = NULL;
    if (rr_cu_has_bias(d) && ((s = put_f32(c, st, &D->b32, rr_f32(&d->b), out, what)) ||
                   (!D->fp32 && (s = put(c, st, &D->bdt, c->dt, rr_f32(&d->b), out, what)))))
        return s; /* (put names the layer) */
    D->L = (rr_cu_linear_t){w, (const float *)sc, NULL, (int32_t)out, (int32_t)in, wdt, c->dt};
    return RERANK_OK;
}

rerank_status_t rr_cu_upload_dense(rr_cuda_t *c, rr_weights_t *w) {
    c->dense = (rr_cu_dense_t *)rr_calloc(w->n_dense ? (size_t)w->n_dense : 1, sizeof *c->dense);
    if (!c->dense) return rr_error(RERANK_ERR_NOMEM, "out of memory for %d linear layers", (int)w->n_dense);
    c->n_dense = w->n_dense;
    /* Each layer's F32 weights: the view of an F32 checkpoint, else
     * materialized (converted, stacked) into one host buffer in turn. */
    float *buf = (float *)rr_malloc_large(rr_weights_dense_max(w) * sizeof(float) + 1);
    if (!buf) return rr_error(RERANK_ERR_NOMEM, "out of memory for a linear layer's host weights");
    stage_t st;
    rerank_status_t s = stage_open(&st, STAGE_BYTES);
    for (int32_t i = 0; i < w->n_dense && !s; i++) {
        const rr_dense_t *d = w->dense[i];
        const float *wf = d->w.p ? rr_f32(&d->w) : buf;
        if (!d->w.p) rr_weights_dense_f32(w, i, buf);
        s = put_dense(c, &st, d, wf, &c->dense[i]);
    }
    stage_close(c, &st);
    rr_free(buf);
    if (s) return s;
    for (int32_t i = 0; i < w->n_dense; i++) rr_weights_drop_dense(w, i); /* the host copies are not read again */
    return RERANK_OK;
}

void rr_cu_size_workspace(rr_cuda_t *c) {
    c->ctx_cols = c->cfg->heads * c->cfg->head_dim;
    c->xh_cols = c->cfg->hidden > c->ctx_cols ? c->cfg->hidden : c->ctx_cols;
    c->wide_cols = 8;
    for (int32_t i = 0; i < c->n_dense; i++) {
        const rr_cu_linear_t *L = &c->dense[i].L;
        if (c->dense[i].fp32) continue;
        if (L->in > c->xh_cols) c->xh_cols = L->in;
        if (L->out > c->wide_cols) c->wide_cols = L->out;
    }
}

/* ---- tensors uploaded on first use ---------------------------------------------------------------------- */

static size_t tmap_slot(const rr_cu_tmap_t *m, const void *key, int dt) {
    size_t h = ((uintptr_t)key >> 4) * 0x9E3779B97F4A7C15ull + (size_t)dt;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
        if (!m->key[i] || (m->key[i] == key && m->dt[i] == dt)) return i;
}

static rerank_status_t tmap_grow(rr_cu_tmap_t *m) {
    rr_cu_tmap_t n = {NULL, NULL, NULL, m->cap ? 2 * m->cap : 64, 0};
    n.key = (const void **)rr_calloc(n.cap, sizeof *n.key);
    n.dt = (int *)rr_calloc(n.cap, sizeof *n.dt);
    n.val = (void **)rr_calloc(n.cap, sizeof *n.val);
    if (!n.key || !n.dt || !n.val) {
        rr_free(n.key), rr_free(n.dt), rr_free(n.val);
        return rr_error(RERANK_ERR_NOMEM, "out of memory (cuda tensor map)");
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->key[i]) {
            const size_t j = tmap_slot(&n, m->key[i], m->dt[i]);
            n.key[j] = m->key[i], n.dt[j] = m->dt[i], n.val[j] = m->val[i];
            n.n++;
        }
    rr_free(m->key), rr_free(m->dt), rr_free(m->val);
    *m = n;
    return RERANK_OK;
}

void *rr_cu_tensor_get(const rr_cuda_t *c, const rr_tensor_t *t, rr_cu_dtype_t dt) {
    if (!c->tmap.cap || !t->p) return NULL;
    const size_t i = tmap_slot(&c->tmap, t->p, (int)dt);
    return c->tmap.key[i] ? c->tmap.val[i] : NULL;
}

rerank_status_t rr_cu_tensor_put(rr_cuda_t *c, const rr_tensor_t *t, rr_cu_dtype_t dt, const char *what) {
    if (!t->p) return rr_error(RERANK_ERR_INTERNAL, "cuda: %s is absent", what);
    if (rr_cu_tensor_get(c, t, dt)) return RERANK_OK;
    if (t->dtype != RR_DT_F32 && t->dtype != RR_DT_F16 && t->dtype != RR_DT_BF16)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: %s has dtype %s", what, rr_dtype_name(t->dtype));
    rerank_status_t s;
    if (2 * (c->tmap.n + 1) > c->tmap.cap && (s = tmap_grow(&c->tmap))) return s;
    const size_t n = (size_t)t->rows * (size_t)t->cols, bytes = n * (t->dtype == RR_DT_F32 ? 4 : 2);
    void *dev = NULL;
    stage_t st;
    if ((s = dalloc(c, &dev, n * rr_cu_dtype_size(dt), what))) return s;
    if (!(s = stage_open(&st, bytes < STAGE_BYTES ? bytes : STAGE_BYTES)))
        s = upload(c, &st, dev, dt, t->p, (int)t->dtype, n, bytes < STAGE_BYTES ? bytes : STAGE_BYTES);
    stage_close(c, &st);
    if (s) {
        rr_error_prefix("uploading %s", what);
        return s;
    }
    const size_t i = tmap_slot(&c->tmap, t->p, (int)dt);
    c->tmap.key[i] = t->p, c->tmap.dt[i] = (int)dt, c->tmap.val[i] = dev;
    c->tmap.n++;
    return RERANK_OK;
}

void rr_cu_free_weights(rr_cuda_t *c) {
    for (size_t i = 0; i < c->n_allocs; i++) rr_cu_free(c, c->allocs[i], c->alloc_bytes[i]);
    rr_free(c->allocs);
    rr_free(c->alloc_bytes);
    rr_free(c->dense);
    rr_free(c->tmap.key), rr_free(c->tmap.dt), rr_free(c->tmap.val);
    memset(&c->tmap, 0, sizeof c->tmap);
    c->allocs = NULL;
    c->alloc_bytes = NULL;
    c->dense = NULL;
    c->n_allocs = c->cap_allocs = 0;
}
