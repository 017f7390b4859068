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

rerank_status_t rr_cpu_norm(void *be, const rr_norm_t *n, rr_act_t src, rr_act_t dst) {
    rr_cpu_t *c = be;
    const rr_kernels_t *k = rr_kernels();
    const int64_t h = n->g.cols;
    rerank_status_t st;
    if (dst == RR_ACT_H &&
        (st = rr_buf_reserve(&c->s.h, (size_t)c->group_max * (size_t)c->cfg->hidden * sizeof(float), "normalized")))
        return st;
    const view_t s = act(c, src), d = act(c, dst);
#pragma omp parallel for schedule(static) if (s.rows * h >= RR_PAR_MIN_WORK)
    for (int64_t r = 0; r < s.rows; r++) {
        float *row = d.p + r * d.ld;
        if (d.p != s.p) memcpy(row, s.p + r * s.ld, (size_t)h * sizeof *row);
        norm_row(k, n, row, h);
    }
    return RERANK_OK;
}

rerank_status_t rr_cpu_linear(void *be, const rr_dense_t *dn, rr_act_t src, rr_act_t dst, rr_epilogue_t epi) {
    rr_cpu_t *c = be;
    const view_t s = act(c, src), d = act(c, dst);
    return rr_linear(c->gemm, &c->lin[dn->id], s.p, s.rows, epi, d.p);
}

/* Rows [0, n) of one head's q, k or v (row j at src + j * ld, d columns)
 * into dst [n, d]: copied, or for int8 dequantized on the way (token i0 + j
 * of the group, columns col.. of the layer's output). */
static void load_head_rows(const rr_kernels_t *k, const rr_raw_out_t *raw, const float *src, int64_t ld, int64_t n,
                           int64_t d, int64_t i0, int64_t col, float *dst) {
    for (int64_t j = 0; j < n; j++) {
        if (raw->scale)
            k->dequant(dst + j * d, src + j * ld, raw->wzero + col, (float)raw->zero[i0 + j], raw->scale[i0 + j],
                       raw->b + col, d, 0);
        else
            memcpy(dst + j * d, src + j * ld, (size_t)d * sizeof *dst);
    }
}

/* Per-head norm and rotary positions on n rows [n, d] of q or k (pos: the
 * rows' position ids). */
static void rotate_rows(const rr_kernels_t *k, const rr_norm_t *nrm, const rr_rope_t *rope, const int32_t *pos,
                        int64_t n, int64_t d, float *x) {
    for (int64_t j = 0; j < n; j++) {
        float *row = x + j * d;
        if (nrm) norm_row(k, nrm, row, d);
        if (!rope) continue;
        const int64_t half = rope->dim / 2;
        const float *cs = rope->cos + (int64_t)pos[j] * half, *sn = rope->sin + (int64_t)pos[j] * half;
        for (int64_t i = 0; i < half; i++) {
            const float x1 = row[i], x2 = row[i + half];
            row[i] = x1 * cs[i] - x2 * sn[i];
            row[i + half] = x2 * cs[i] + x1 * sn[i];
        }
    }
}

/* The keys query row i may see: [lo, hi). */
static void key_range(const rr_attn_t *a, int64_t i, int64_t n, int64_t *lo, int64_t *hi) {
    *lo = 0;
    *hi = n;
    if (a->causal) *hi = i + 1;
    if (a->window > 0) {
        *lo = i - a->window > 0 ? i - a->window : 0;
        if (!a->causal) *hi = i + a->window + 1 < n ? i + a->window + 1 : n;
    }
}

/* The keys a block of query rows [r0, r0 + rows) scores: [*j0, *j1), from
 * the first row's lowest (down to a 16-key panel) to the last row's
 * highest. A sliding window thus costs O(n (QB + 2 window)) scores, not
 * O(n^2); unmasked attention scores all n. */
static void block_keys(const rr_attn_t *a, int64_t r0, int64_t rows, int64_t n, int64_t *j0, int64_t *j1) {
    int64_t lo, hi;
    *j0 = 0;
    *j1 = n;
    if (!a->causal && a->window <= 0) return;
    key_range(a, r0, n, &lo, &hi);
    *j0 = lo & ~(int64_t)15;
    key_range(a, r0 + rows - 1, n, &lo, &hi);
    *j1 = hi;
}

/* Attention of one (pair, head): rows q/k/v [n, d] ready, keys packed in
 * kp; ctx rows at o with stride ldo. Masked (causal / windowed) keys get
 * no weight; blocks of query rows only score the keys some row sees. */
static void attend(const rr_kernels_t *k, const rr_attn_t *a, const float *qh, const float *kp, const float *vh,
                   int64_t n, int64_t d, float *s, float *o, int64_t ldo) {
    const int masked = a->causal || a->window > 0;
    for (int64_t r0 = 0; r0 < n; r0 += RR_ATTN_QB) {
        const int64_t rows = n - r0 < RR_ATTN_QB ? n - r0 : RR_ATTN_QB;
        int64_t j0, j1, lo, hi;
        block_keys(a, r0, rows, n, &j0, &j1);
        const int64_t nk = j1 - j0, nk16 = (nk + 15) & ~(int64_t)15;
        k->scores(qh + r0 * d, d, rows, kp + j0 * d, nk16, d, a->scale, s, nk16);
        float norm[RR_ATTN_QB]; /* each row's 1 / sum of its exps */
        for (int64_t r = 0; r < rows; r++) {
            float *row = s + r * nk16;
            if (masked) {
                key_range(a, r0 + r, n, &lo, &hi);
                for (int64_t j = j0; j < j1; j++)
                    if (j < lo || j >= hi) row[j - j0] = -INFINITY;
            }
            norm[r] = k->softmax(row, nk);
            if (masked) /* exp(-inf) is clamped to ~1e-38 by the SIMD exp: make it 0 */
                for (int64_t j = j0; j < j1; j++)
                    if (j < lo || j >= hi) row[j - j0] = 0.0f;
        }
        k->weighted_sum(s, nk16, rows, nk, vh + j0 * d, d, d, norm, o + r0 * ldo, ldo);
    }
}

/* ctx = softmax(q k^T * scale) v for every pair and head of the group.
 * q | k | v come from one GEMM over the group's rows (int8: left raw and
 * dequantized by attention as it copies each head's rows out of the
 * strided rows they sit in: no prefetcher follows that stride); per-head
 * norms and rotary positions are applied on the copies; keys are packed in
 * panels; each thread holds one block of RR_ATTN_QB score rows at a time. */
rerank_status_t rr_cpu_attention(void *be, const rr_attn_t *a, rr_act_t src, rr_act_t dst) {
    rr_cpu_t *c = be;
    const rr_kernels_t *k = rr_kernels();
    const view_t in = act(c, src), out = act(c, dst);
    const int64_t d = a->head_dim, heads = a->heads, group = a->heads / a->kv_heads;
    const int64_t ld = (heads + 2 * (int64_t)a->kv_heads) * d; /* qkv row: q heads | k heads | v heads */
    float *qkv = c->s.wide.p;
    rr_raw_out_t raw;
    rerank_status_t st = rr_linear_raw(c->gemm, &c->lin[a->qkv->id], in.p, in.rows, qkv, &raw);
    if (st) return st;

    const double ta = omp_get_wtime();
    const rr_span_t *sp = c->b->sp + c->p0;
    const size_t n_pairs = c->p1 - c->p0;
    const int64_t t0 = sp[0].start, max_n = sp[0].n; /* longest first */
    const int64_t n16max = (max_n + 15) & ~(int64_t)15;
    const int32_t *pos = c->b->pos;
    float *scratch = c->s.attn.p, *ctx = out.p;
    const int64_t items = (int64_t)n_pairs * heads;
#pragma omp parallel for schedule(dynamic, 1) if (items * max_n * max_n * d >= RR_PAR_MIN_WORK)
    for (int64_t it = 0; it < items; it++) {
        const int64_t p = it / heads, h = it % heads, kvh = h / group, n = sp[p].n, n16 = (n + 15) & ~(int64_t)15;
        float *kp = scratch + (int64_t)omp_get_thread_num() * RR_ATTN_SCRATCH(d, n16max); /* key panels */
        float *qh = kp + d * n16, *kh = qh + d * n16, *vh = kh + d * n16;                  /* [n, d] each */
        float *s = vh + d * n16;                                                          /* [QB, n16]  */
        const int64_t i0 = sp[p].start - t0; /* this pair's first token in the group */
        const float *row = qkv + i0 * ld;
        const int64_t qc = h * d, kc = (heads + kvh) * d, vc = (heads + a->kv_heads + kvh) * d;
        load_head_rows(k, &raw, row + qc, ld, n, d, i0, qc, qh);
        load_head_rows(k, &raw, row + kc, ld, n, d, i0, kc, kh);
        load_head_rows(k, &raw, row + vc, ld, n, d, i0, vc, vh);
        if (a->q_norm || a->rope) {
            rotate_rows(k, a->q_norm, a->rope, pos + sp[p].start, n, d, qh);
            rotate_rows(k, a->k_norm, a->rope, pos + sp[p].start, n, d, kh);
        }
        k->pack_keys(kh, d, n, d, kp);
        attend(k, a, qh, kp, vh, n, d, s, ctx + (i0 * out.ld) + h * d, out.ld);
    }
    const double dt = omp_get_wtime() - ta;
    c->attention_s += dt;
    c->attention_calls++;
    if (a->window > 0) { /* the time split of local vs global layers (bench) */
        c->attention_local_s += dt;
        c->attention_local_calls++;
    }
    return RERANK_OK;
}

/* dst += down(act(up(src))); gated: one half of up's output activated,
 * times the other, into [n, I] rows for the down projection. */
rerank_status_t rr_cpu_ffn(void *be, const rr_ffn_t *f, rr_act_t src, rr_act_t dst) {
    rr_cpu_t *c = be;
    const view_t s = act(c, src), d = act(c, dst);
    const rr_linear_t *up = &c->lin[f->up->id], *down = &c->lin[f->down->id];
    float *u = c->s.wide.p;
    if (f->gate == RR_GATE_NONE && f->act == RR_FN_GELU) return rr_ffn(c->gemm, up, down, s.p, s.rows, u, d.p);
    rerank_status_t st = rr_linear(c->gemm, up, s.p, s.rows, RR_EPI_NONE, u);
    if (st) return st;
    const rr_kernels_t *k = rr_kernels();
    const int64_t I = down->in, w = up->out;
    if (f->gate != RR_GATE_NONE &&
        (st = rr_buf_reserve(&c->s.gated, (size_t)c->group_max * (size_t)I * sizeof(float), "gated FFN")))
        return st;
    float *g = f->gate == RR_GATE_NONE ? u : c->s.gated.p; /* [n, I] input of down */
#pragma omp parallel for schedule(static) if (s.rows * w >= RR_PAR_MIN_WORK)
    for (int64_t r = 0; r < s.rows; r++) {
        float *ur = u + r * w, *gr = g + r * I;
        float *a = f->gate == RR_GATE_SECOND ? ur + I : ur, *m = f->gate == RR_GATE_SECOND ? ur : ur + I;
        if (f->act == RR_FN_GELU) k->gelu(a, I);
        else if (f->act == RR_FN_SILU) k->silu(a, I);
        else if (f->act == RR_FN_TANH)
            for (int64_t i = 0; i < I; i++) a[i] = tanhf(a[i]);
        if (f->gate != RR_GATE_NONE)
            for (int64_t i = 0; i < I; i++) gr[i] = a[i] * m[i];
    }
    return rr_linear(c->gemm, down, g, s.rows, RR_EPI_ACC, d.p);
}

rerank_status_t rr_cpu_pool(void *be, rr_pooling_t how) {
    rr_cpu_t *c = be;
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
