/* weights.c — find each tensor by name, check its shape, expose it as F32;
 * materialize a linear layer's weights when a backend asks. */
#include "model/weights.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "common/alloc.h"
#include "common/error.h"
#include "kernels/kernels.h"

rerank_status_t rr_weights_open(rr_weights_t *w, const char *dir) {
    memset(w, 0, sizeof *w);
    return rr_st_set_open(dir, &w->files);
}

void rr_weights_release(rr_weights_t *w) {
    if (!w) return;
    for (int32_t i = 0; i < w->n_owned; i++) rr_free(w->owned[i]);
    rr_free(w->owned);
    rr_free(w->dense);
    rr_st_set_close(&w->files);
    memset(w, 0, sizeof *w);
}

static const rr_st_tensor_t *find(const rr_weights_t *w, const char *prefix, const char *name, char *full,
                                  size_t full_cap) {
    snprintf(full, full_cap, "%s%s", prefix, name);
    const rr_st_tensor_t *t = rr_st_set_find(&w->files, full);
    if (!t && *prefix) t = rr_st_set_find(&w->files, name);
    return t;
}

int rr_weights_has(const rr_weights_t *w, const char *prefix, const char *name) {
    char full[256];
    return find(w, prefix, name, full, sizeof full) != NULL;
}

/* Keep p (an rr_malloc block) until the weights are released. */
static rerank_status_t keep(rr_weights_t *w, void *p) {
    if (w->n_owned == w->cap_owned) {
        int32_t cap = w->cap_owned ? 2 * w->cap_owned : 64;
        void **o = rr_realloc(w->owned, (size_t)cap * sizeof *o);
        if (!o) return RERANK_ERR_NOMEM;
        w->owned = o;
        w->cap_owned = cap;
    }
    w->owned[w->n_owned++] = p;
    return RERANK_OK;
}

void *rr_weights_alloc(rr_weights_t *w, size_t bytes) {
    void *p = rr_calloc(1, bytes ? bytes : 1);
    if (p && keep(w, p)) {
        rr_free(p);
        return NULL;
    }
    return p;
}

/* The tensor `name` with shape [d0] (d1 < 0) or [d0, d1], in a dtype the
 * engine computes with. */
static rerank_status_t lookup(const rr_weights_t *w, const char *prefix, const char *name, int64_t d0, int64_t d1,
                              const rr_st_tensor_t **out) {
    char full[256];
    const rr_st_tensor_t *t = find(w, prefix, name, full, sizeof full);
    if (!t) return rr_error(RERANK_ERR_FORMAT, "missing tensor '%s'", full);
    int ok = d1 < 0 ? (t->ndim == 1 && t->shape[0] == d0) : (t->ndim == 2 && t->shape[0] == d0 && t->shape[1] == d1);
    if (!ok) {
        char got[128] = "", want[64];
        size_t off = 0;
        for (int32_t i = 0; i < t->ndim && off < sizeof got - 24; i++)
            off += (size_t)snprintf(got + off, sizeof got - off, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        if (d1 < 0) snprintf(want, sizeof want, "%lld", (long long)d0);
        else snprintf(want, sizeof want, "%lld, %lld", (long long)d0, (long long)d1);
        return rr_error(RERANK_ERR_FORMAT, "tensor '%s' has shape [%s], expected [%s]", t->name, got, want);
    }
    if (t->dtype == RR_DT_OTHER)
        return rr_error(RERANK_ERR_UNSUPPORTED, "tensor '%s' has dtype %s; only F32, F16 and BF16 are supported",
                        t->name, t->dtype_str);
    *out = t;
    return RERANK_OK;
}

rerank_status_t rr_weights_f32(rr_weights_t *w, const char *prefix, const char *name, int64_t d0, int64_t d1,
                               rr_tensor_t *out) {
    const rr_st_tensor_t *t;
    rerank_status_t st = lookup(w, prefix, name, d0, d1, &t);
    if (st) return st;
    *out = (rr_tensor_t){.dtype = RR_DT_F32, .rows = d1 < 0 ? 1 : (int32_t)d0, .cols = (int32_t)(d1 < 0 ? d0 : d1)};
    if (t->dtype == RR_DT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        out->p = t->data; /* a view into the mapping */
        return RERANK_OK;
    }
    float *p = rr_malloc(t->numel ? (size_t)t->numel * sizeof(float) : 1);
    if (!p || keep(w, p)) {
        rr_free(p);
        return rr_error(RERANK_ERR_NOMEM, "out of memory converting tensor '%s' to F32", t->name);
    }
    rr_convert_to_f32(t->data, (int)t->dtype, p, (size_t)t->numel);
    out->p = p;
    return RERANK_OK;
}

rerank_status_t rr_weights_table(rr_weights_t *w, const char *prefix, const char *name, int64_t rows, int64_t cols,
                                 rr_tensor_t *out) {
    const rr_st_tensor_t *t;
    rerank_status_t st = lookup(w, prefix, name, rows, cols, &t);
    if (st) return st;
    *out = (rr_tensor_t){.p = t->data, .dtype = t->dtype, .rows = (int32_t)rows, .cols = (int32_t)cols};
    if (!w->has_dtype) {
        w->dtype = t->dtype;
        w->has_dtype = 1;
    }
    return RERANK_OK;
}

rerank_status_t rr_weights_rows(rr_weights_t *w, const rr_tensor_t *table, const int32_t *which, int32_t n,
                                rr_tensor_t *out) {
    const size_t cols = (size_t)table->cols, es = rr_dtype_size(table->dtype);
    for (int32_t i = 0; i < n; i++)
        if (which[i] < 0 || which[i] >= table->rows)
            return rr_error(RERANK_ERR_FORMAT, "row %d is outside a table of %d rows", which[i], table->rows);
    float *p = rr_weights_alloc(w, (size_t)n * cols * sizeof(float));
    if (!p) return rr_error(RERANK_ERR_NOMEM, "out of memory copying %d table rows", n);
    for (int32_t i = 0; i < n; i++)
        rr_convert_to_f32((const char *)table->p + (size_t)which[i] * cols * es, (int)table->dtype, p + i * cols, cols);
    *out = (rr_tensor_t){.p = p, .dtype = RR_DT_F32, .rows = n, .cols = table->cols};
    return RERANK_OK;
}

rerank_status_t rr_weights_zeros(rr_weights_t *w, int32_t n, rr_tensor_t *t) {
    float *p = rr_weights_alloc(w, (size_t)n * sizeof(float));
    if (!p) return rr_error(RERANK_ERR_NOMEM, "out of memory for a bias of %d", n);
    *t = (rr_tensor_t){.p = p, .dtype = RR_DT_F32, .rows = 1, .cols = n};
    return RERANK_OK;
}

/* List d as linear layer number w->n_dense. */
static rerank_status_t enlist(rr_weights_t *w, rr_dense_t *d) {
    if (w->n_dense == w->cap_dense) {
        int32_t cap = w->cap_dense ? 2 * w->cap_dense : 64;
        rr_dense_t **o = rr_realloc(w->dense, (size_t)cap * sizeof *o);
        if (!o) return rr_error(RERANK_ERR_NOMEM, "out of memory listing linear layers");
        w->dense = o;
        w->cap_dense = cap;
    }
    d->id = w->n_dense;
    w->dense[w->n_dense++] = d;
    return RERANK_OK;
}

/* Record `name` [rows, in] as the next part of d (not converted). */
static rerank_status_t add_part(rr_weights_t *w, const char *prefix, const char *name, int32_t rows, int32_t in,
                                rr_dense_t *d) {
    const rr_st_tensor_t *t;
    rerank_status_t st = lookup(w, prefix, name, rows, in, &t);
    if (st) return st;
    if (d->n_parts == RR_DENSE_MAX_PARTS)
        return rr_error(RERANK_ERR_INTERNAL, "a linear layer stacks more than %d tensors", RR_DENSE_MAX_PARTS);
    d->part[d->n_parts++] = (rr_dense_part_t){.p = t->data, .dtype = t->dtype, .rows = rows};
    return RERANK_OK;
}

rerank_status_t rr_weights_dense(rr_weights_t *w, const char *prefix, const char *name, int32_t out, int32_t in,
                                 int bias, rr_dense_t *d) {
    char wn[200], bn[200];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    memset(d, 0, sizeof *d);
    rerank_status_t st;
    if ((st = add_part(w, prefix, wn, out, in, d))) return st;
    d->w = (rr_tensor_t){.dtype = RR_DT_F32, .rows = out, .cols = in};
    /* An aligned F32 tensor is usable as it lies: a view into the mapping. */
    if (d->part[0].dtype == RR_DT_F32 && ((uintptr_t)d->part[0].p % sizeof(float)) == 0) d->w.p = d->part[0].p;
    if ((st = bias ? rr_weights_f32(w, prefix, bn, out, -1, &d->b) : rr_weights_zeros(w, out, &d->b))) return st;
    return enlist(w, d);
}

rerank_status_t rr_weights_dense_stacked(rr_weights_t *w, const char *prefix, const char *const *names,
                                         const int32_t *outs, int n, int32_t in, int bias, rr_dense_t *d) {
    memset(d, 0, sizeof *d);
    if (n < 1 || n > RR_DENSE_MAX_PARTS)
        return rr_error(RERANK_ERR_INTERNAL, "cannot stack %d tensors into one linear layer", n);
    int64_t rows = 0;
    for (int i = 0; i < n; i++) rows += outs[i];
    /* The biases, stacked (zeros without): small, converted now. */
    float *bp = rr_weights_alloc(w, (size_t)rows * sizeof *bp);
    if (!bp) return rr_error(RERANK_ERR_NOMEM, "out of memory stacking a [%lld, %d] layer", (long long)rows, in);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        const rr_st_tensor_t *t;
        char wn[200], bn[200];
        snprintf(wn, sizeof wn, "%s.weight", names[i]);
        snprintf(bn, sizeof bn, "%s.bias", names[i]);
        rerank_status_t st;
        /* The weights are recorded as part i; the bias converted in place. */
        if ((st = add_part(w, prefix, wn, outs[i], in, d))) return st;
        if (bias) {
            if ((st = lookup(w, prefix, bn, outs[i], -1, &t))) return st;
            rr_convert_to_f32(t->data, (int)t->dtype, bp + at, (size_t)outs[i]);
        }
        at += outs[i];
    }
    d->w = (rr_tensor_t){.dtype = RR_DT_F32, .rows = (int32_t)rows, .cols = in};
    d->b = (rr_tensor_t){.p = bp, .dtype = RR_DT_F32, .rows = 1, .cols = (int32_t)rows};
    return enlist(w, d);
}

rerank_status_t rr_weights_norm(rr_weights_t *w, const char *prefix, const char *name, int32_t n, int bias,
                                rr_norm_type_t kind, float eps, rr_norm_t *out) {
    char gn[200], bn[200];
    snprintf(gn, sizeof gn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    memset(out, 0, sizeof *out);
    out->eps = eps;
    out->kind = kind;
    rerank_status_t st;
    if ((st = rr_weights_f32(w, prefix, gn, n, -1, &out->g))) return st;
    if (bias) return rr_weights_f32(w, prefix, bn, n, -1, &out->b);
    /* A LayerNorm without bias (ModernBERT) adds zeros: the same kernel. */
    return kind == RR_NORM_LAYER ? rr_weights_zeros(w, n, &out->b) : RERANK_OK;
}

/* ---- materializing a linear layer's weights ------------------------------ */

/* Elements per task when a conversion is split over the threads. */
#define RR_CONVERT_BLOCK ((size_t)1 << 16)

rr_dtype_t rr_weights_dense_dtype(const rr_weights_t *w, int32_t id) {
    const rr_dense_t *d = w->dense[id];
    for (int32_t i = 1; i < d->n_parts; i++)
        if (d->part[i].dtype != d->part[0].dtype) return RR_DT_OTHER;
    return d->part[0].dtype;
}

/* 16-bit elements read from the file at a time (on the stack) to convert. */
#define RR_STAGE_ELEMS 16384

/* Elements [at, at + len) of part `pt` as F32 into dst, read from the file
 * (16-bit ones through a stack buffer, then converted). */
static void part_f32(const rr_weights_t *w, const rr_dense_part_t *pt, size_t at, size_t len, float *dst) {
    const size_t es = rr_dtype_size(pt->dtype);
    const unsigned char *src = (const unsigned char *)pt->p + at * es;
    if (pt->dtype == RR_DT_F32) {
        rr_st_set_copy(&w->files, src, len * es, dst);
        return;
    }
    uint16_t stage[RR_STAGE_ELEMS];
    for (size_t i = 0; i < len; i += RR_STAGE_ELEMS) {
        const size_t k = len - i < RR_STAGE_ELEMS ? len - i : RR_STAGE_ELEMS;
        rr_st_set_copy(&w->files, src + i * es, k * es, stage);
        rr_convert_to_f32(stage, (int)pt->dtype, dst + i, k);
    }
}

void rr_weights_dense_f32(const rr_weights_t *w, int32_t id, float *dst) {
    const rr_dense_t *d = w->dense[id];
    const size_t in = (size_t)d->w.cols;
    /* a layer made in memory (no checkpoint parts): its F32 rows as they are */
    if (d->n_parts == 0 && d->w.p) {
        memcpy(dst, d->w.p, (size_t)d->w.rows * in * sizeof *dst);
        return;
    }
    for (int32_t i = 0; i < d->n_parts; i++) {
        /* part i lands after the rows of the parts before it, in blocks over the threads */
        const rr_dense_part_t *pt = &d->part[i];
        const size_t n = (size_t)pt->rows * in;
        const int64_t blocks = (int64_t)((n + RR_CONVERT_BLOCK - 1) / RR_CONVERT_BLOCK);
#pragma omp parallel for schedule(static) if (blocks > 1)
        for (int64_t b = 0; b < blocks; b++) {
            const size_t at = (size_t)b * RR_CONVERT_BLOCK, len = n - at < RR_CONVERT_BLOCK ? n - at : RR_CONVERT_BLOCK;
            part_f32(w, pt, at, len, dst + at);
        }
        dst += n;
    }
}

/* BF16 bits in place as rr_f32_to_bf16(rr_bf16_to_f32(h)) gives them: h
 * itself, except that a NaN is made quiet (bit 6 set). Four at a time in a
 * 64-bit word: a lane is NaN when (lane & 0x7fff) > 0x7f80, i.e. when adding
 * 0x7f to it sets bit 15 (at most 0x807e: no carry into the next lane). */
static void bf16_quiet(uint16_t *x, size_t n) {
    const uint64_t mag = 0x7fff7fff7fff7fffull, bump = 0x007f007f007f007full, top = 0x8000800080008000ull;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint64_t v;
        memcpy(&v, x + i, 8);
        v |= (((v & mag) + bump) & top) >> 9;
        memcpy(x + i, &v, 8);
    }
    for (; i < n; i++)
        if ((x[i] & 0x7fffu) > 0x7f80u) x[i] |= 0x40u;
}

void rr_weights_dense_bf16(const rr_weights_t *w, int32_t id, uint16_t *dst) {
    const rr_dense_t *d = w->dense[id];
    const size_t in = (size_t)d->w.cols;
    for (int32_t i = 0; i < d->n_parts; i++) {
        /* part i lands after the rows of the parts before it, in blocks over the threads */
        const size_t n = (size_t)d->part[i].rows * in;
        const int64_t blocks = (int64_t)((n + RR_CONVERT_BLOCK - 1) / RR_CONVERT_BLOCK);
        const unsigned char *src = d->part[i].p;
#pragma omp parallel for schedule(static) if (blocks > 1)
        for (int64_t b = 0; b < blocks; b++) {
            const size_t at = (size_t)b * RR_CONVERT_BLOCK, len = n - at < RR_CONVERT_BLOCK ? n - at : RR_CONVERT_BLOCK;
            rr_st_set_copy(&w->files, src + 2 * at, 2 * len, dst + at);
            bf16_quiet(dst + at, len);
        }
        dst += n;
    }
}

rerank_status_t rr_weights_dense_keep(rr_weights_t *w, int32_t id) {
    rr_dense_t *d = w->dense[id];
    if (d->w.p) return RERANK_OK;
    const size_t n = (size_t)d->w.rows * (size_t)d->w.cols;
    float *p = rr_malloc_large(n ? n * sizeof(float) : 1);
    if (!p || keep(w, p)) {
        rr_free(p);
        return rr_error(RERANK_ERR_NOMEM, "out of memory for a [%d, %d] layer in F32", d->w.rows, d->w.cols);
    }
    rr_weights_dense_f32(w, id, p);
    d->w.p = p;
    return RERANK_OK;
}

size_t rr_weights_dense_max(const rr_weights_t *w) {
    size_t most = 0;
    for (int32_t i = 0; i < w->n_dense; i++) {
        const size_t n = (size_t)w->dense[i]->w.rows * (size_t)w->dense[i]->w.cols;
        most = n > most ? n : most;
    }
    return most;
}

static void touch(const void *p, size_t n) {
    if (!p || !n) return;
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)4095;
    madvise((void *)a, (uintptr_t)p + n - a, MADV_WILLNEED);
    volatile const unsigned char *b = p;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i += 4096) sum += b[i];
    sum += b[n - 1];
    (void)sum;
}

void rr_weights_prefault(const rr_weights_t *w) {
    for (int32_t i = 0; i < w->n_dense; i++) {
        const rr_tensor_t *t = &w->dense[i]->w;
        touch(t->p, (size_t)t->rows * (size_t)t->cols * sizeof(float));
    }
}

/* Drop the mapped pages strictly inside [p, p + n) (neighbours stay). */
static void drop_pages(const void *p, size_t n) {
    uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)p + n) & ~(uintptr_t)4095;
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

void rr_weights_drop_dense(rr_weights_t *w, int32_t id) {
    if (id < 0 || id >= w->n_dense) return;
    rr_dense_t *d = w->dense[id];
    const void *p = d->w.p;
    d->w.p = NULL;
    /* an owned F32 copy: freed */
    for (int32_t i = 0; p && i < w->n_owned; i++)
        if (w->owned[i] == p) {
            rr_free(w->owned[i]);
            w->owned[i] = w->owned[--w->n_owned];
            break;
        }
    /* the checkpoint's pages the parts were read from: dropped */
    for (int32_t i = 0; i < d->n_parts; i++)
        drop_pages(d->part[i].p, (size_t)d->part[i].rows * (size_t)d->w.cols * rr_dtype_size(d->part[i].dtype));
}
