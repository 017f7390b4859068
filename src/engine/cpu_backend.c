/* cpu_backend.c — create / destroy the CPU backend (forward.c computes). */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "engine/cpu.h"

static void cpu_destroy(void *ctx) {
    rr_cpu_t *c = ctx;
    if (!c) return;
    for (int32_t l = 0; c->layer && l < c->cfg->layers; l++) {
        rr_cpu_layer_t *L = &c->layer[l];
        rr_linear_t *all[] = {&L->qkv, &L->attn_out, &L->ffn_up, &L->ffn_down};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rr_linear_release(all[i]);
        rr_free(L->qkv_w);
        rr_free(L->qkv_b);
    }
    rr_free(c->layer);
    rr_scratch_t *s = &c->s;
    rr_buf_t *bufs[] = {&s->x, &s->qkv, &s->ctx, &s->ffn, &s->attn, &s->pairs, &s->head};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) rr_buf_free(bufs[i]);
    rr_gemm_free(c->gemm);
    rr_free(c);
}

static rerank_status_t init_linear(rr_cpu_t *c, rr_linear_t *L, const rr_dense_t *d, rerank_precision_t p) {
    rerank_status_t st = rr_linear_init(c->gemm, L, d->w.p, d->b.p, d->w.rows, d->w.cols, p);
    /* Converted: the checkpoint's F32 pages are not read again. */
    if (!st && L->wq) {
        rr_weights_drop_pages(c->w, d->w.p, (size_t)d->w.rows * (size_t)d->w.cols * sizeof(float));
        L->w = NULL;
    }
    return st;
}

/* Query, key and value as one [3H, H] layer: one GEMM (and, for bf16 and
 * int8, one conversion of the activations) instead of three. The stacked
 * F32 copy stays for fp32 (the layer views it) and is freed once converted;
 * the checkpoint's pages are not read again either way. */
static rerank_status_t init_qkv(rr_cpu_t *c, rr_cpu_layer_t *L, const rr_layer_weights_t *W, rerank_precision_t p) {
    const rr_dense_t *part[3] = {&W->q, &W->k, &W->v};
    const int32_t H = W->q.w.cols;
    const size_t hh = (size_t)H * (size_t)H;
    float *w = rr_malloc(3 * hh * sizeof *w), *b = rr_malloc(3 * (size_t)H * sizeof *b);
    if (!w || !b) {
        rr_free(w);
        rr_free(b);
        return rr_error(RERANK_ERR_NOMEM, "out of memory stacking a [%d, %d] query/key/value layer", 3 * H, H);
    }
    for (int i = 0; i < 3; i++) {
        memcpy(w + i * hh, part[i]->w.p, hh * sizeof *w);
        memcpy(b + i * (size_t)H, part[i]->b.p, (size_t)H * sizeof *b);
    }
    L->qkv_b = b;
    rerank_status_t st = rr_linear_init(c->gemm, &L->qkv, w, b, 3 * H, H, p);
    if (st || L->qkv.wq) {
        rr_free(w);
        L->qkv.w = NULL;
    } else {
        L->qkv_w = w;
    }
    if (!st)
        for (int i = 0; i < 3; i++) rr_weights_drop_pages(c->w, part[i]->w.p, hh * sizeof(float));
    return st;
}

static rerank_status_t cpu_create(const rr_config_t *cfg, const rr_weights_t *w, const rr_backend_opts_t *o,
                                  void **out) {
    *out = NULL;
    if (o->precision == RERANK_PRECISION_FP16 || o->precision == RERANK_PRECISION_FP8)
        return rr_error(RERANK_ERR_UNSUPPORTED, "precision %s is only available on CUDA (device cuda); the CPU "
                        "computes in fp32, bf16 or int8", rerank_precision_str(o->precision));
    rr_cpu_t *c = rr_calloc(1, sizeof *c);
    if (!c) return rr_error(RERANK_ERR_NOMEM, "out of memory creating the CPU backend");
    c->cfg = cfg;
    c->w = w;
    rerank_status_t st;
    if ((st = rr_gemm_new(&c->gemm))) goto fail;
    c->layer = rr_calloc((size_t)cfg->layers, sizeof *c->layer);
    if (!c->layer) { st = rr_error(RERANK_ERR_NOMEM, "out of memory for %d layers", cfg->layers); goto fail; }
    /* fp32 reads the checkpoint's pages: fault them in now, not mid-batch
     * (bf16/int8 read them once below, to convert). */
    if (o->precision == RERANK_PRECISION_FP32) rr_weights_prefault(w, cfg);
    for (int32_t l = 0; l < cfg->layers; l++) {
        const rr_layer_weights_t *W = &w->layer[l];
        rr_cpu_layer_t *L = &c->layer[l];
        if ((st = init_qkv(c, L, W, o->precision)) || (st = init_linear(c, &L->attn_out, &W->attn_out, o->precision)) ||
            (st = init_linear(c, &L->ffn_up, &W->ffn_up, o->precision)) ||
            (st = init_linear(c, &L->ffn_down, &W->ffn_down, o->precision)))
            goto fail;
    }
    if ((st = init_linear(c, &c->head_dense, &w->head_dense, RERANK_PRECISION_FP32))) goto fail;
    *out = c;
    return RERANK_OK;
fail:
    cpu_destroy(c);
    return st;
}

/* Every linear layer is converted the same way, so the first tells. */
static const char *cpu_compute(const void *ctx) {
    const rr_cpu_t *c = ctx;
    return rerank_precision_str(c->layer[0].qkv.prec);
}

static void cpu_profile(const void *ctx, rr_profile_t *p) {
    const rr_cpu_t *c = ctx;
    *p = (rr_profile_t){.forward_s = c->forward_s, .gemm_s = rr_gemm_seconds(c->gemm), .attention_s = c->attention_s};
}

const rr_backend_t rr_backend_cpu = {
    .profile = cpu_profile,
    .compute = cpu_compute,
    .name = "cpu",
    .create = cpu_create,
    .forward = rr_cpu_forward,
    .destroy = cpu_destroy,
};
