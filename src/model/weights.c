/* weights.c — find each tensor by name, check its shape, expose it as F32. */
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
    if (!t) return rr_error(RERANK_ERR_FORMAT, "model.safetensors: missing tensor '%s'", full);
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

rerank_status_t rr_weights_dense(rr_weights_t *w, const char *prefix, const char *name, int32_t out, int32_t in,
                                 int bias, rr_dense_t *d) {
    char wn[200], bn[200];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    memset(d, 0, sizeof *d);
    rerank_status_t st;
    if ((st = rr_weights_f32(w, prefix, wn, out, in, &d->w))) return st;
    if ((st = bias ? rr_weights_f32(w, prefix, bn, out, -1, &d->b) : rr_weights_zeros(w, out, &d->b))) return st;
    return enlist(w, d);
}

rerank_status_t rr_weights_dense_stacked(rr_weights_t *w, const char *prefix, const char *const *names,
                                         const int32_t *outs, int n, int32_t in, int bias, rr_dense_t *d) {
    int64_t rows = 0;
    for (int i = 0; i < n; i++) rows += outs[i];
    memset(d, 0, sizeof *d);
    float *wp = rr_weights_alloc(w, (size_t)rows * (size_t)in * sizeof *wp);
    float *bp = rr_weights_alloc(w, (size_t)rows * sizeof *bp);
    if (!wp || !bp)
        return rr_error(RERANK_ERR_NOMEM, "out of memory stacking a [%lld, %d] layer", (long long)rows, in);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        rr_dense_t part;
        const rr_st_tensor_t *t;
        char wn[200], bn[200];
        snprintf(wn, sizeof wn, "%s.weight", names[i]);
        snprintf(bn, sizeof bn, "%s.bias", names[i]);
        rerank_status_t st;
        /* Converted straight into the stacked copy: an F32 copy of each
         * part (rr_weights_f32 of an F16/BF16 checkpoint) would be kept for
         * the model's life, beside the stacked one. */
        if ((st = lookup(w, prefix, wn, outs[i], in, &t))) return st;
        rr_convert_to_f32(t->data, (int)t->dtype, wp + at * in, (size_t)outs[i] * (size_t)in);
        if (bias) {
            if ((st = rr_weights_f32(w, prefix, bn, outs[i], -1, &part.b))) return st;
            memcpy(bp + at, part.b.p, (size_t)outs[i] * sizeof *bp);
        }
        at += outs[i];
    }
    d->w = (rr_tensor_t){.p = wp, .dtype = RR_DT_F32, .rows = (int32_t)rows, .cols = in};
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

void rr_weights_drop_dense(rr_weights_t *w, int32_t id) {
    if (id < 0 || id >= w->n_dense) return;
    rr_tensor_t *t = &w->dense[id]->w;
    const void *p = t->p;
    const size_t n = (size_t)t->rows * (size_t)t->cols * sizeof(float);
    t->p = NULL;
    if (!p) return;
    for (int32_t i = 0; i < w->n_owned; i++)
        if (w->owned[i] == p) {
            rr_free(w->owned[i]);
            w->owned[i] = w->owned[--w->n_owned];
            return;
        }
    /* A view: drop whole pages strictly inside the tensor only. */
    uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)p + n) & ~(uintptr_t)4095;
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}
