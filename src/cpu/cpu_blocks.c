/* cpu_blocks.c — the blocks of engine/blocks.h on the CPU: oneDNN GEMMs
 * (gemm.c) and the kernels of src/kernels, over the current group of whole
 * pairs of a packed batch. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "common/error.h"
#include "cpu/cpu.h"
#include "kernels/kernels.h"

/* An activation buffer of the current group: rows x ld floats. */
typedef struct view {
    float *p;
    int64_t rows, ld;
} view_t;

static view_t act(const rr_cpu_t *c, rr_act_t a) {
    const int64_t H = c->cfg->hidden, P = (int64_t)c->b->n_pairs;
    switch (a) {
    case RR_ACT_X: return (view_t){(float *)c->s.x.p + c->t0 * H, c->n, H};
    case RR_ACT_H: return (view_t){c->s.h.p, c->n, H};
    case RR_ACT_CTX: return (view_t){c->s.ctx.p, c->n, (int64_t)c->cfg->heads * c->cfg->head_dim};
    case RR_ACT_POOL: return (view_t){c->s.pool.p, P, H};
    case RR_ACT_HEAD: return (view_t){c->s.head.p, P, H};
    }
    return (view_t){NULL, 0, 0};
}

/* One row of h values normalized in place. */
static void norm_row(const rr_kernels_t *k, const rr_norm_t *n, float *x, int64_t h) {
    if (n->kind == RR_NORM_RMS) k->rms_norm(x, rr_f32(&n->g), h, n->eps);
    else k->add_layernorm(x, NULL, rr_f32(&n->g), rr_f32(&n->b), h, n->eps);
}

/* x[token] = norm((word[id] + type[t]) + pos[p]). The word table stays in
 * its checkpoint dtype: only the rows used are converted. */
rerank_status_t rr_cpu_embed(void *be, const rr_embed_t *e) {
    rr_cpu_t *c = be;
    rr_gemm_unstage(c->gemm);
    const rr_batch_t *b = c->b;
    const rr_kernels_t *k = rr_kernels();
    const int64_t H = c->cfg->hidden;
    const size_t esize = rr_dtype_size(e->word.dtype);
    const float *te0 = rr_f32(&e->type), *pe0 = rr_f32(&e->pos);
    float *x = c->s.x.p;
#pragma omp parallel for schedule(dynamic, 1) if (b->tokens * H >= RR_PAR_MIN_WORK)
    for (size_t p = 0; p < b->n_pairs; p++) {
        const rr_span_t *sp = &b->sp[p];
        const rerank_pair_t *pr = &b->pairs[sp->idx];
        for (int64_t i = 0; i < pr->n; i++) {
            float *row = x + (sp->start + i) * H;
            const char *src = (const char *)e->word.p + (size_t)pr->ids[i] * (size_t)H * esize;
            rr_convert_to_f32(src, (int)e->word.dtype, row, (size_t)H);
            if (te0) {
                const float *te = te0 + (int64_t)(pr->type_ids ? pr->type_ids[i] : 0) * H;
                for (int64_t j = 0; j < H; j++) row[j] += te[j];
            }
            if (pe0) {
                const float *pe = pe0 + (int64_t)b->pos[sp->start + i] * H;
                for (int64_t j = 0; j < H; j++) row[j] += pe[j];
            }
            if (e->norm) norm_row(k, e->norm, row, H);
        }
    }
    return RERANK_OK;
}

/* Row r of the residual stream is final: ndst's row = norm(it). */
typedef struct norm_then {
    const rr_kernels_t *k;
    const rr_norm_t *n;
    view_t nd;
    int64_t h;
} norm_then_t;

static void norm_then_row(void *ctx, int64_t r, float *row) {
    const norm_then_t *t = ctx;
    float *out = t->nd.p + r * t->nd.ld;
    if (out != row) memcpy(out, row, (size_t)t->h * sizeof *out);
    norm_row(t->k, t->n, out, t->h);
}

/* The residual step's epilogue normalizes each row as it finishes it and,
 * when a GEMM reads ndst next, converts / quantizes the normalized row for
 * it (rr_gemm_stage): one pass over the rows instead of three. */
rerank_status_t rr_cpu_residual_norm(void *be, const rr_residual_norm_t *rn) {
    rr_cpu_t *c = be;
    const int64_t h = rn->norm->g.cols;
    rerank_status_t st;
    if (rn->ndst == RR_ACT_H &&
        (st = rr_buf_reserve(&c->s.h, (size_t)c->group_max * (size_t)c->cfg->hidden * sizeof(float), "normalized")))
        return st;
    const view_t s = act(c, rn->src), d = act(c, rn->dst), nd = act(c, rn->ndst);
    norm_then_t t = {.k = rr_kernels(), .n = rn->norm, .nd = nd, .h = h};
    const int stage = rn->feeds_gemm && c->prec != RERANK_PRECISION_FP32 && nd.ld == h;
    const rr_row_then_t then = {.fn = norm_then_row, .ctx = &t, .stage_x = stage ? nd.p : NULL, .stage_k = h,
                                .stage_prec = c->prec};
    if (rn->linear) return rr_linear_then(c->gemm, &c->lin[rn->linear->id], s.p, s.rows, RR_EPI_ACC, d.p, &then);
    if (rn->ffn)
        return rr_ffn(c->gemm, &c->lin[rn->ffn->up->id], &c->lin[rn->ffn->down->id], rn->ffn->act, rn->ffn->gate, s.p,
                      s.rows, c->s.wide.p, d.p, &then);
    if (stage) {
        if ((st = rr_gemm_stage(c->gemm, c->prec, nd.p, d.rows, h))) return st;
    } else {
        rr_gemm_unstage(c->gemm);
    }
    rr_gemm_t *g = c->gemm;
#pragma omp parallel for schedule(static) if (d.rows * h >= RR_PAR_MIN_WORK)
    for (int64_t r = 0; r < d.rows; r++) {
        norm_then_row(&t, r, d.p + r * d.ld);
        rr_gemm_stage_row(g, r);
    }
    return RERANK_OK;
}

/* dst = norm(src): the residual block with neither step. */
rerank_status_t rr_cpu_norm(void *be, const rr_norm_t *n, rr_act_t src, rr_act_t dst) {
    return rr_cpu_residual_norm(be, &(rr_residual_norm_t){.dst = src, .norm = n, .ndst = dst});
}

rerank_status_t rr_cpu_linear(void *be, const rr_dense_t *dn, rr_act_t src, rr_act_t dst, rr_epilogue_t epi) {
    rr_cpu_t *c = be;
    const view_t s = act(c, src), d = act(c, dst);
    return rr_linear(c->gemm, &c->lin[dn->id], s.p, s.rows, epi, d.p);
}

/* dst += down(act(up(src))); gated: one half of up's output activated,
 * times the other (rr_ffn). */
rerank_status_t rr_cpu_ffn(void *be, const rr_ffn_t *f, rr_act_t src, rr_act_t dst) {
    rr_cpu_t *c = be;
    const view_t s = act(c, src), d = act(c, dst);
    return rr_ffn(c->gemm, &c->lin[f->up->id], &c->lin[f->down->id], f->act, f->gate, s.p, s.rows, c->s.wide.p, d.p,
                  NULL);
}

rerank_status_t rr_cpu_pool(void *be, rr_pooling_t how) {
    rr_cpu_t *c = be;
    rr_gemm_unstage(c->gemm);
    const rr_batch_t *b = c->b;
    const int64_t H = c->cfg->hidden;
    const float *x = c->s.x.p;
    float *pool = c->s.pool.p;
    for (size_t p = 0; p < b->n_pairs; p++) {
        const rr_span_t *sp = &b->sp[p];
        float *dst = pool + (int64_t)p * H;
        if (how == RR_POOL_MEAN) {
            for (int64_t j = 0; j < H; j++) {
                double acc = 0;
                for (int64_t i = 0; i < sp->n; i++) acc += x[(sp->start + i) * H + j];
                dst[j] = (float)(acc / (double)sp->n);
            }
        } else {
            const int64_t t = how == RR_POOL_LAST ? sp->start + sp->n - 1 : sp->start;
            memcpy(dst, x + t * H, (size_t)H * sizeof *dst);
        }
    }
    return RERANK_OK;
}

/* logit = b + sum_j w[j] f(x[j]) in double (two rows: the difference). */
rerank_status_t rr_cpu_classify(void *be, const rr_classifier_t *cl, rr_act_t src, float *logits) {
    rr_cpu_t *c = be;
    rr_gemm_unstage(c->gemm);
    const rr_batch_t *b = c->b;
    const view_t s = act(c, src);
    const int64_t H = cl->w.cols;
    const float *w = rr_f32(&cl->w), *bias = rr_f32(&cl->b);
    for (size_t p = 0; p < b->n_pairs; p++) {
        const float *x = s.p + (int64_t)p * s.ld;
        double out[2];
        for (int32_t r = 0; r < cl->w.rows && r < 2; r++) {
            double acc = bias ? bias[r] : 0.0;
            const float *wr = w + r * H;
            for (int64_t j = 0; j < H; j++)
                acc += (double)wr[j] * (cl->f == RR_FN_TANH ? tanh((double)x[j]) : (double)x[j]);
            out[r] = acc;
        }
        logits[b->sp[p].idx] = (float)(cl->w.rows == 2 ? out[0] - out[1] : out[0]);
    }
    return RERANK_OK;
}
