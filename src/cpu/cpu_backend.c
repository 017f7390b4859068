/* cpu_backend.c — the CPU backend's life: prepare every linear layer at the
 * model's precision, size the buffers per pass, report what it ran. */
#include <omp.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "cpu/cpu.h"

static void cpu_destroy(void *ctx) {
    rr_cpu_t *c = ctx;
    if (!c) return;
    for (int32_t i = 0; c->lin && i < c->w->n_dense; i++) rr_linear_release(&c->lin[i]);
    rr_free(c->lin);
    rr_scratch_t *s = &c->s;
    rr_buf_t *bufs[] = {&s->x, &s->h, &s->wide, &s->ctx, &s->attn, &s->stash, &s->pool, &s->head};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) rr_buf_release(bufs[i]);
    rr_gemm_free(c->gemm);
    rr_free(c);
}

/* Linear layer d at precision p, from its weights in the checkpoint; `buf`
 * [rr_weights_dense_max] takes a layer's F32 weights while they convert. */
static rerank_status_t prepare(rr_cpu_t *c, const rr_dense_t *d, rerank_precision_t p, float *buf) {
    rr_linear_t *L = &c->lin[d->id];
    const int32_t out = d->w.rows, in = d->w.cols;
    rerank_precision_t got;
    rerank_status_t st = rr_linear_precision(c->gemm, out, in, p, &got);
    if (st) return st;
    int blocked = 0;
    if (got == RERANK_PRECISION_FP32 && (st = rr_gemm_layout_blocked(c->gemm, out, in, got, &blocked))) return st;
    /* fp32 in the plain layout (asked for, or no matmul at p here) reads F32
     * weights at every call: a view into an F32 checkpoint, else a copy kept
     * for good. In the blocked layout it gets its own copy, as below. */
    if (got == RERANK_PRECISION_FP32 && !blocked) {
        if ((st = rr_weights_dense_keep(c->w, d->id))) return st;
        return rr_linear_init(c->gemm, L, rr_f32(&d->w), rr_f32(&d->b), out, in, RERANK_PRECISION_FP32);
    }
    if (got == RERANK_PRECISION_BF16 && rr_weights_dense_dtype(c->w, d->id) == RR_DT_BF16) {
        /* BF16 weights at bf16: their bits as they are, no F32 round trip */
        uint16_t *q = rr_malloc_large((size_t)out * (size_t)in * sizeof *q);
        if (!q) return rr_error(RERANK_ERR_NOMEM, "out of memory for a [%d, %d] layer in bf16", out, in);
        rr_weights_dense_bf16(c->w, d->id, q);
        st = rr_linear_init_bf16(c->gemm, L, q, rr_f32(&d->b), out, in);
    } else {
        /* else F32 into buf (read from the file even for a view: cheaper
         * than faulting in the mapping), then bf16 / int8 / blocked fp32 */
        rr_weights_dense_f32(c->w, d->id, buf);
        st = rr_linear_init(c->gemm, L, buf, rr_f32(&d->b), out, in, got);
    }
    if (st) return st;
    /* The layer owns its converted weights: the F32 ones are not read again. */
    L->w = NULL;
    rr_weights_drop_dense(c->w, d->id);
    return RERANK_OK;
}

static rerank_status_t cpu_create(const rr_config_t *cfg, rr_weights_t *w, const rr_backend_opts_t *o, void **out) {
    *out = NULL;
    if (o->precision == RERANK_PRECISION_FP16 || o->precision == RERANK_PRECISION_FP8)
        return rr_error(RERANK_ERR_UNSUPPORTED, "precision %s runs only on CUDA (the CPU has fp32, bf16 and int8)",
                        rerank_precision_str(o->precision));
    float *buf = NULL;
    rr_cpu_t *c = rr_calloc(1, sizeof *c);
    if (!c) return rr_error(RERANK_ERR_NOMEM, "out of memory creating the CPU backend");
    c->cfg = cfg;
    c->w = w;
    c->prec = RERANK_PRECISION_FP32;
    rerank_status_t st;
    if ((st = rr_gemm_new(&c->gemm))) goto fail;
    c->lin = rr_calloc(w->n_dense ? (size_t)w->n_dense : 1, sizeof *c->lin);
    /* One layer's F32 weights at a time pass through buf (bf16 / int8 /
     * blocked fp32). */
    buf = rr_malloc_large(rr_weights_dense_max(w) * sizeof *buf + 1);
    if (!c->lin || !buf) {
        st = rr_error(RERANK_ERR_NOMEM, "out of memory for %d linear layers", w->n_dense);
        goto fail;
    }
    /* fp32 in the plain layout reads the checkpoint's pages: fault them in
     * now, not mid-batch (the others read them once below, to convert; the
     * layout is the same for every fp32 shape on a CPU, so the first tells). */
    int blocked = 1;
    if (o->precision == RERANK_PRECISION_FP32 && w->n_dense > 0 &&
        (st = rr_gemm_layout_blocked(c->gemm, w->dense[0]->w.rows, w->dense[0]->w.cols, RERANK_PRECISION_FP32,
                                     &blocked)))
        goto fail;
    if (o->precision == RERANK_PRECISION_FP32 && !blocked) rr_weights_prefault(w);
    /* Layer by layer: materialize, convert, drop the source. */
    int first = 1;
    for (int32_t i = 0; i < w->n_dense; i++) {
        const rr_dense_t *d = w->dense[i];
        if ((st = prepare(c, d, d->keep_fp32 ? RERANK_PRECISION_FP32 : o->precision, buf))) goto fail;
        if (d->w.rows > c->widest) c->widest = d->w.rows;
        /* Every layer converts the same way, so the first tells. */
        if (!d->keep_fp32 && first) {
            c->prec = c->lin[i].prec;
            first = 0;
        }
    }
    rr_free(buf);
    *out = c;
    return RERANK_OK;
fail:
    rr_free(buf);
    cpu_destroy(c);
    return st;
}

static const char *cpu_compute(const void *ctx) { return rerank_precision_str(((const rr_cpu_t *)ctx)->prec); }

static void cpu_profile(const void *ctx, rr_profile_t *p) {
    const rr_cpu_t *c = ctx;
    *p = (rr_profile_t){.gemm_s = rr_gemm_seconds(c->gemm), .attention_s = c->attention_s,
                        .attention_local_s = c->attention_local_s, .attention_calls = c->attention_calls,
                        .attention_local_calls = c->attention_local_calls,
                        .gemm_inputs_staged = rr_gemm_staged_uses(c->gemm)};
    p->n_gemm_shapes = rr_gemm_shape_stats(c->gemm, p->gemm_shapes, RR_PROFILE_MAX_SHAPES);
}

static int64_t cpu_group_tokens(const void *ctx) {
    const rr_cpu_t *c = ctx;
    int64_t per = c->prec == RERANK_PRECISION_FP32 ? RR_GROUP_TOKENS_PER_THREAD_FP32 : RR_GROUP_TOKENS_PER_THREAD;
    return (int64_t)omp_get_max_threads() * per;
}

/* Grow the buffers for batch b with groups of at most group_max tokens. */
static rerank_status_t cpu_begin(void *ctx, const rr_batch_t *b, int64_t group_max) {
    rr_cpu_t *c = ctx;
    const rr_config_t *cfg = c->cfg;
    rr_scratch_t *s = &c->s;
    const size_t H = (size_t)cfg->hidden, f = sizeof(float), G = (size_t)group_max, P = b->n_pairs,
                 A = (size_t)cfg->heads * (size_t)cfg->head_dim;
    rerank_status_t st;
    if ((st = rr_buf_reserve(&s->x, (size_t)b->tokens * H * f, "hidden")) ||

        (st = rr_buf_reserve(&s->wide, G * (size_t)c->widest * f, "projections")) ||
        (st = rr_buf_reserve(&s->ctx, G * A * f, "context")) ||

        (st = rr_buf_reserve(&s->pool, P * H * f, "pooled")) || (st = rr_buf_reserve(&s->head, P * H * f, "head")) ||
        /* keys and values of the shared prefixes, one layer at a time */
        (st = rr_buf_reserve(&s->stash, 2 * (size_t)b->prefix_tokens * (size_t)cfg->kv_heads * (size_t)cfg->head_dim * f,
                             "shared prefix keys and values")))
        return st;
    rr_gemm_unstage(c->gemm);
    c->b = b;
    c->group_max = group_max;
    return RERANK_OK;
}

static void cpu_group(void *ctx, size_t p0, size_t p1) {
    rr_cpu_t *c = ctx;
    const rr_span_t *sp = c->b->sp;
    rr_gemm_unstage(c->gemm); /* staged rows belong to the previous group */
    c->p0 = p0;
    c->p1 = p1;
    c->t0 = sp[p0].start;
    c->n = sp[p1 - 1].start + sp[p1 - 1].n - sp[p0].start;
}

static rerank_status_t cpu_end(void *ctx) {
    ((rr_cpu_t *)ctx)->b = NULL;
    return RERANK_OK;
}

const rr_blocks_t rr_blocks_cpu = {
    .name = "cpu",
    .create = cpu_create,
    .destroy = cpu_destroy,
    .compute = cpu_compute,
    .profile = cpu_profile,
    .group_tokens = cpu_group_tokens,
    .begin = cpu_begin,
    .group = cpu_group,
    .end = cpu_end,
    .embed = rr_cpu_embed,
    .norm = rr_cpu_norm,
    .linear = rr_cpu_linear,
    .residual_norm = rr_cpu_residual_norm,
    .attention = rr_cpu_attention,
    .ffn = rr_cpu_ffn,
    .pool = rr_cpu_pool,
    .classify = rr_cpu_classify,
    .shares_prefix = 1,
};
