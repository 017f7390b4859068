/* weights.c — find each tensor by name, check its shape, expose it as F32. */
#include "model/weights.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "common/alloc.h"
#include "common/error.h"
#include "kernels/kernels.h"

/* Look `name` up as `prefix + name`, then bare (checkpoints saved from the
 * base model carry no prefix). */
static const rr_st_tensor_t *find(const rr_weights_t *w, const char *prefix, const char *name,
                                  char *full, size_t full_cap) {
    snprintf(full, full_cap, "%s%s", prefix, name);
    const rr_st_tensor_t *t = rr_st_set_find(&w->files, full);
    if (!t && *prefix) t = rr_st_set_find(&w->files, name);
    return t;
}

static rerank_status_t keep(rr_weights_t *w, float *p) {
    if (w->n_owned == w->cap_owned) {
        int32_t cap = w->cap_owned ? 2 * w->cap_owned : 64;
        float **o = rr_realloc(w->owned, (size_t)cap * sizeof *o);
        if (!o) return RERANK_ERR_NOMEM;
        w->owned = o;
        w->cap_owned = cap;
    }
    w->owned[w->n_owned++] = p;
    return RERANK_OK;
}

/* Resolve `name` with shape [d0] (d1 < 0) or [d0, d1] to F32 data. */
static rerank_status_t get_f32(rr_weights_t *w, const char *prefix, const char *name, int64_t d0,
                               int64_t d1, const float **out) {
    char full[256];
    const rr_st_tensor_t *t = find(w, prefix, name, full, sizeof full);
    if (!t) return rr_error(RERANK_ERR_FORMAT, "model.safetensors: missing tensor '%s'", full);
    int ok = d1 < 0 ? (t->ndim == 1 && t->shape[0] == d0)
                    : (t->ndim == 2 && t->shape[0] == d0 && t->shape[1] == d1);
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
    if (t->dtype == RR_DT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = t->data; /* a view into the mapping */
        return RERANK_OK;
    }
    float *p = rr_malloc(t->numel ? (size_t)t->numel * sizeof(float) : 1);
    if (!p || keep(w, p)) {
        rr_free(p);
        return rr_error(RERANK_ERR_NOMEM, "out of memory converting tensor '%s' to F32", t->name);
    }
    rr_convert_to_f32(t->data, (int)t->dtype, p, (size_t)t->numel);
    *out = p;
    return RERANK_OK;
}

static rerank_status_t get_dense(rr_weights_t *w, const char *prefix, const char *name, int32_t out,
                                 int32_t in, rr_dense_t *d) {
    char wn[200], bn[200];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    rerank_status_t st;
    if ((st = get_f32(w, prefix, wn, out, in, &d->w.p))) return st;
    if ((st = get_f32(w, prefix, bn, out, -1, &d->b.p))) return st;
    d->w.rows = out;
    d->w.cols = in;
    d->b.n = out;
    return RERANK_OK;
}

static rerank_status_t get_norm(rr_weights_t *w, const char *prefix, const char *name, int32_t h,
                                rr_norm_t *n) {
    char gn[200], bn[200];
    snprintf(gn, sizeof gn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    rerank_status_t st;
    if ((st = get_f32(w, prefix, gn, h, -1, &n->g.p))) return st;
    if ((st = get_f32(w, prefix, bn, h, -1, &n->b.p))) return st;
    n->g.n = n->b.n = h;
    return RERANK_OK;
}

static rerank_status_t get_word_emb(rr_weights_t *w, const char *prefix, const rr_config_t *c) {
    char full[256];
    const rr_st_tensor_t *t = find(w, prefix, "embeddings.word_embeddings.weight", full, sizeof full);
    if (!t) return rr_error(RERANK_ERR_FORMAT, "model.safetensors: missing tensor '%s'", full);
    if (t->ndim != 2 || t->shape[0] != c->vocab || t->shape[1] != c->hidden)
        return rr_error(RERANK_ERR_FORMAT, "tensor '%s' must have shape [%d, %d] (vocab_size, hidden_size)",
                        t->name, c->vocab, c->hidden);
    if (t->dtype == RR_DT_OTHER)
        return rr_error(RERANK_ERR_UNSUPPORTED, "tensor '%s' has dtype %s; only F32, F16 and BF16 are supported",
                        t->name, t->dtype_str);
    w->word_emb = (rr_table_t){.p = t->data, .dtype = t->dtype, .rows = c->vocab, .cols = c->hidden};
    return RERANK_OK;
}

rerank_status_t rr_weights_load(const char *dir, const rr_config_t *c, rr_weights_t *w) {
    memset(w, 0, sizeof *w);
    rerank_status_t st = rr_st_set_open(dir, &w->files);
    if (st) return st;
    const char *pre = c->arch == RR_ARCH_BERT ? "bert." : "roberta.";
    const int32_t H = c->hidden, I = c->ffn;

    /* Embeddings. */
    if ((st = get_word_emb(w, pre, c))) goto fail;
    w->pos_emb = (rr_mat_t){.rows = c->max_pos, .cols = H};
    w->type_emb = (rr_mat_t){.rows = c->type_vocab, .cols = H};
    if ((st = get_f32(w, pre, "embeddings.position_embeddings.weight", c->max_pos, H, &w->pos_emb.p)) ||
        (st = get_f32(w, pre, "embeddings.token_type_embeddings.weight", c->type_vocab, H, &w->type_emb.p)) ||
        (st = get_norm(w, pre, "embeddings.LayerNorm", H, &w->emb_norm)))
        goto fail;

    /* Encoder layers. */
    w->layer = rr_calloc((size_t)c->layers, sizeof *w->layer);
    if (!w->layer) { st = rr_error(RERANK_ERR_NOMEM, "out of memory for %d layers", c->layers); goto fail; }
    for (int32_t l = 0; l < c->layers; l++) {
        rr_layer_weights_t *L = &w->layer[l];
        char n[8][96];
        const char *fmt[8] = {"attention.self.query", "attention.self.key", "attention.self.value",
                              "attention.output.dense", "attention.output.LayerNorm",
                              "intermediate.dense", "output.dense", "output.LayerNorm"};
        for (int i = 0; i < 8; i++) snprintf(n[i], sizeof n[i], "encoder.layer.%d.%s", l, fmt[i]);
        if ((st = get_dense(w, pre, n[0], H, H, &L->q)) || (st = get_dense(w, pre, n[1], H, H, &L->k)) ||
            (st = get_dense(w, pre, n[2], H, H, &L->v)) || (st = get_dense(w, pre, n[3], H, H, &L->attn_out)) ||
            (st = get_norm(w, pre, n[4], H, &L->attn_norm)) || (st = get_dense(w, pre, n[5], I, H, &L->ffn_up)) ||
            (st = get_dense(w, pre, n[6], H, I, &L->ffn_down)) || (st = get_norm(w, pre, n[7], H, &L->ffn_norm)))
            goto fail;
    }

    /* Classification head on the first token. */
    if (c->arch == RR_ARCH_XLMR) {
        if ((st = get_dense(w, "", "classifier.dense", H, H, &w->head_dense)) ||
            (st = get_dense(w, "", "classifier.out_proj", c->num_labels, H, &w->head_out)))
            goto fail;
    } else {
        if ((st = get_dense(w, pre, "pooler.dense", H, H, &w->head_dense)) ||
            (st = get_dense(w, "", "classifier", c->num_labels, H, &w->head_out)))
            goto fail;
    }
    return RERANK_OK;
fail:
    rr_weights_free(w);
    return st;
}

void rr_weights_free(rr_weights_t *w) {
    if (!w) return;
    for (int32_t i = 0; i < w->n_owned; i++) rr_free(w->owned[i]);
    rr_free(w->owned);
    rr_free(w->layer);
    rr_st_set_close(&w->files);
    memset(w, 0, sizeof *w);
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

void rr_weights_prefault(const rr_weights_t *w, const rr_config_t *c) {
    const size_t H = (size_t)c->hidden, I = (size_t)c->ffn, f = sizeof(float);
    for (int32_t l = 0; l < c->layers; l++) {
        const rr_layer_weights_t *L = &w->layer[l];
        touch(L->q.w.p, H * H * f);
        touch(L->k.w.p, H * H * f);
        touch(L->v.w.p, H * H * f);
        touch(L->attn_out.w.p, H * H * f);
        touch(L->ffn_up.w.p, I * H * f);
        touch(L->ffn_down.w.p, H * I * f);
    }
}

void rr_weights_drop_pages(const rr_weights_t *w, const void *p, size_t n) {
    for (int32_t i = 0; i < w->n_owned; i++)
        if (w->owned[i] == p) return;
    /* Whole pages strictly inside the tensor only: neighbours stay mapped. */
    uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)p + n) & ~(uintptr_t)4095;
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}
