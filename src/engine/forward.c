/* forward.c — the forward pass of a BERT / XLM-RoBERTa cross-encoder over
 * a packed batch: the tokens of all pairs are concatenated (no padding);
 * each layer runs group by group (whole pairs, RR_GROUP_TOKENS_PER_THREAD
 * tokens per thread), every linear layer once over a group's tokens, and
 * attention per pair and head.
 *
 *   x = LayerNorm(word[id] + pos[p] + type[t])                 embeddings
 *   for each layer:
 *     q | k | v = x [Wq | Wk | Wv] + [bq | bk | bv]       one GEMM
 *     ctx = softmax(q k^T / sqrt(d)) v        per pair and head
 *     x = LayerNorm(x + ctx Wo + bo)
 *     x = LayerNorm(x + gelu(x W1 + b1) W2 + b2)
 *   logit = Wout tanh(Wd x[first token] + bd) + bout             head
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "common/error.h"
#include "engine/cpu.h"
#include "engine/engine.h"
#include "kernels/kernels.h"

/* A pair's tokens in the packed batch; idx: its place in the caller's array. */
typedef struct span {
    int64_t start, n;
    size_t idx;
} span_t;

/* Grow the scratch buffers for `tokens` rows in all, groups of at most
 * `group` rows, `pairs` pairs of at most `max_n` tokens each. */
static rerank_status_t reserve(rr_cpu_t *m, size_t tokens, size_t group, size_t pairs, int64_t max_n, int threads) {
    const rr_config_t *c = m->cfg;
    rr_scratch_t *s = &m->s;
    size_t H = (size_t)c->hidden, I = (size_t)c->ffn, f = sizeof(float), n16 = ((size_t)max_n + 15) & ~(size_t)15;
    rerank_status_t st;
    if ((st = rr_buf_reserve(&s->x, tokens * H * f, "hidden")) ||
        (st = rr_buf_reserve(&s->qkv, group * 3 * H * f, "query/key/value")) ||
        (st = rr_buf_reserve(&s->ctx, group * H * f, "context")) ||
        (st = rr_buf_reserve(&s->ffn, group * I * f, "ffn")) ||
        (st = rr_buf_reserve(&s->attn, (size_t)threads * RR_ATTN_SCRATCH((size_t)c->head_dim, n16) * f,
                             "attention")) ||
        (st = rr_buf_reserve(&s->head, 2 * pairs * H * f, "head")))
        return st;
    return RERANK_OK;
}

/* Pack the pairs longest first (a stable counting sort on length: no
 * allocation, O(pairs + max_n)). The linear layers do not care about the
 * order; attention hands out its (pair, head) items in this order, so the
 * longest come first and the short ones fill the threads' tails. */
static void pack_spans(const rerank_pair_t *pairs, size_t n_pairs, int64_t max_n, span_t *sp, size_t *count) {
    memset(count, 0, ((size_t)max_n + 1) * sizeof *count);
    for (size_t p = 0; p < n_pairs; p++) count[pairs[p].n]++;
    size_t at = 0; /* first slot of each length, longest first */
    for (int64_t n = max_n; n >= 0; n--) {
        size_t c = count[n];
        count[n] = at;
        at += c;
    }
    for (size_t p = 0; p < n_pairs; p++) sp[count[pairs[p].n]++] = (span_t){0, pairs[p].n, p};
    int64_t start = 0;
    for (size_t p = 0; p < n_pairs; p++) {
        sp[p].start = start;
        start += sp[p].n;
    }
}

/* The end of the group of pairs that starts at p0: whole pairs while they
 * fit in `budget` tokens, and at least one. */
static size_t group_end(const span_t *sp, size_t n_pairs, size_t p0, int64_t budget) {
    size_t p1 = p0 + 1;
    while (p1 < n_pairs && sp[p1].start + sp[p1].n - sp[p0].start <= budget) p1++;
    return p1;
}

static int64_t group_tokens(const span_t *sp, size_t p0, size_t p1) {
    return sp[p1 - 1].start + sp[p1 - 1].n - sp[p0].start;
}

/* Position id of token i of a pair: BERT counts from 0; RoBERTa counts
 * non-padding tokens from pad_id + 1 and gives padding tokens pad_id. */
static void position_ids(const rr_config_t *c, const int32_t *ids, int64_t n, int32_t *pos) {
    if (c->arch == RR_ARCH_BERT) {
        for (int64_t i = 0; i < n; i++) pos[i] = (int32_t)i;
        return;
    }
    int32_t count = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] != c->pad_id) count++;
        pos[i] = ids[i] != c->pad_id ? c->pad_id + count : c->pad_id;
    }
}

/* x[token] = LayerNorm(word_emb[id] + pos_emb[pos] + type_emb[type]). The
 * word table stays in its checkpoint dtype: only the rows used are
 * converted. */
static void embed(const rr_cpu_t *m, const rerank_pair_t *pairs, const span_t *sp, size_t n_pairs, float *x) {
    const rr_config_t *c = m->cfg;
    const rr_weights_t *w = m->w;
    const rr_kernels_t *k = rr_kernels();
    const int64_t H = c->hidden;
    const size_t esize = rr_dtype_size(w->word_emb.dtype);
    const int64_t tokens = n_pairs ? sp[n_pairs - 1].start + sp[n_pairs - 1].n : 0;
#pragma omp parallel for schedule(dynamic, 1) if (tokens * H >= RR_PAR_MIN_WORK)
    for (size_t p = 0; p < n_pairs; p++) {
        const rerank_pair_t *pr = &pairs[sp[p].idx];
        int32_t pos[RR_MAX_SEQ_TOKENS];
        position_ids(c, pr->ids, pr->n, pos);
        for (int64_t i = 0; i < pr->n; i++) {
            float *row = x + (sp[p].start + i) * H;
            const char *src = (const char *)w->word_emb.p + (size_t)pr->ids[i] * (size_t)H * esize;
            rr_convert_to_f32(src, (int)w->word_emb.dtype, row, (size_t)H);
            const float *pe = w->pos_emb.p + (int64_t)pos[i] * H;
            const float *te = w->type_emb.p + (int64_t)(pr->type_ids ? pr->type_ids[i] : 0) * H;
            for (int64_t j = 0; j < H; j++) row[j] = (row[j] + te[j]) + pe[j]; /* HF order */
            k->add_layernorm(row, NULL, w->emb_norm.g.p, w->emb_norm.b.p, H, c->ln_eps);
        }
    }
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

/* ctx = softmax(q k^T / sqrt(d)) v for every pair and head of a group
 * (qkv and ctx start at the group's first token; `raw` says whether qkv
 * still needs its int8 dequantization). Each thread copies one head's
 * q, k and v rows out of the [n, 3H] rows they sit in (3H floats apart:
 * no prefetcher follows that), keys then packed in panels, and holds one
 * block of RR_ATTN_QB score rows at a time. */
static void attention(const rr_cpu_t *m, const span_t *sp, size_t n_pairs, const float *qkv, const rr_raw_out_t *raw,
                      float *ctx) {
    const rr_config_t *c = m->cfg;
    const rr_kernels_t *k = rr_kernels();
    const int64_t H = c->hidden, d = c->head_dim, heads = c->heads, ld = 3 * H; /* qkv row: q | k | v */
    const int64_t t0 = sp[0].start, max_n = sp[0].n; /* longest first */
    const int64_t n16max = (max_n + 15) & ~(int64_t)15;
    const float scale = 1.0f / sqrtf((float)d);
    float *scratch = m->s.attn.p;
    const int64_t items = (int64_t)n_pairs * heads;
#pragma omp parallel for schedule(dynamic, 1) if (items * max_n * max_n * d >= RR_PAR_MIN_WORK)
    for (int64_t it = 0; it < items; it++) {
        const int64_t p = it / heads, h = it % heads, n = sp[p].n, n16 = (n + 15) & ~(int64_t)15;
        float *kp = scratch + (int64_t)omp_get_thread_num() * RR_ATTN_SCRATCH(d, n16max); /* key panels */
        float *qh = kp + d * n16, *kh = qh + d * n16, *vh = kh + d * n16;                  /* [n, d] each */
        float *s = vh + d * n16;                                                          /* [QB, n16]  */
        const int64_t i0 = sp[p].start - t0;          /* this pair's first token in the group */
        const float *row = qkv + i0 * ld + h * d;     /* its q columns for this head */
        load_head_rows(k, raw, row, ld, n, d, i0, h * d, qh);
        load_head_rows(k, raw, row + H, ld, n, d, i0, H + h * d, kh);
        load_head_rows(k, raw, row + 2 * H, ld, n, d, i0, 2 * H + h * d, vh);
        k->pack_keys(kh, d, n, d, kp);
        for (int64_t r0 = 0; r0 < n; r0 += RR_ATTN_QB) {
            const int64_t rows = n - r0 < RR_ATTN_QB ? n - r0 : RR_ATTN_QB;
            k->scores(qh + r0 * d, d, rows, kp, n16, d, scale, s, n16);
            float norm[RR_ATTN_QB]; /* each row's 1 / sum of its exps */
            for (int64_t r = 0; r < rows; r++) norm[r] = k->softmax(s + r * n16, n);
            k->weighted_sum(s, n16, rows, n, vh, d, d, norm, ctx + (i0 + r0) * H + h * d, H);
        }
    }
}

/* Row-wise x = LayerNorm(x) (the residual was already added by the GEMM). */
static void layernorm_rows(const rr_cpu_t *m, float *x, int64_t rows, const rr_norm_t *nrm) {
    const rr_kernels_t *k = rr_kernels();
    const int64_t H = m->cfg->hidden;
    const float eps = m->cfg->ln_eps;
#pragma omp parallel for schedule(static) if (rows * H >= RR_PAR_MIN_WORK)
    for (int64_t r = 0; r < rows; r++) k->add_layernorm(x + r * H, NULL, nrm->g.p, nrm->b.p, H, eps);
}

/* out = epi(in[rows, in] W^T + b) for an rr_linear_t at the model's precision. */
#define LINEAR(lin, in_buf, m_rows, epi, out_buf) rr_linear(m->gemm, &(lin), (in_buf), (m_rows), (epi), (out_buf))

rerank_status_t rr_cpu_forward(void *state, const rerank_pair_t *pairs, size_t n_pairs, int32_t layers,
                               float *logits) {
    rr_cpu_t *m = state;
    const rr_config_t *c = m->cfg;
    const rr_weights_t *w = m->w;
    const int64_t H = c->hidden;
    const int threads = omp_get_max_threads();
    rerank_status_t st;
    const double t_start = omp_get_wtime();

    /* Lay the pairs out back to back, longest first. */
    int64_t tokens = 0, max_n = 0;
    for (size_t p = 0; p < n_pairs; p++) {
        tokens += pairs[p].n;
        if (pairs[p].n > max_n) max_n = pairs[p].n;
    }
    if ((st = rr_buf_reserve(&m->s.pairs, n_pairs * sizeof(span_t) + ((size_t)max_n + 1) * sizeof(size_t), "pairs")))
        return st;
    span_t *sp = m->s.pairs.p;
    pack_spans(pairs, n_pairs, max_n, sp, (size_t *)(sp + n_pairs));
    /* Each layer runs group by group: whole pairs, about `budget` tokens. */
    const int64_t budget = (int64_t)threads * (m->layer[0].qkv.prec == RERANK_PRECISION_FP32
                                                    ? RR_GROUP_TOKENS_PER_THREAD_FP32
                                                    : RR_GROUP_TOKENS_PER_THREAD);
    int64_t group_max = 0;
    for (size_t p0 = 0, p1; p0 < n_pairs; p0 = p1) {
        p1 = group_end(sp, n_pairs, p0, budget);
        int64_t t = group_tokens(sp, p0, p1);
        group_max = t > group_max ? t : group_max;
    }
    if ((st = reserve(m, (size_t)tokens, (size_t)group_max, n_pairs, max_n, threads))) return st;
    float *x = m->s.x.p, *qkv = m->s.qkv.p, *ctx = m->s.ctx.p, *ffn = m->s.ffn.p;

    /* Embeddings: word + position + token type, LayerNorm. */
    embed(m, pairs, sp, n_pairs, x);

    for (int32_t l = 0; l < layers; l++) {
        const rr_layer_weights_t *N = &w->layer[l]; /* norms */
        const rr_cpu_layer_t *L = &m->layer[l];      /* linear layers */
        for (size_t p0 = 0, p1; p0 < n_pairs; p0 = p1) {
            p1 = group_end(sp, n_pairs, p0, budget);
            const int64_t n = group_tokens(sp, p0, p1);
            float *xc = x + sp[p0].start * H; /* this group's hidden states */
            /* Self-attention projections over all the group's tokens: one GEMM
             * (int8: left raw, dequantized by attention as it reads them). */
            rr_raw_out_t raw;
            if ((st = rr_linear_raw(m->gemm, &L->qkv, xc, n, qkv, &raw))) return st;
            /* Scaled dot-product attention within each pair. */
            const double ta = omp_get_wtime();
            attention(m, sp + p0, p1 - p0, qkv, &raw, ctx);
            m->attention_s += omp_get_wtime() - ta;
            /* Output projection + residual (fused into the GEMM), LayerNorm. */
            if ((st = LINEAR(L->attn_out, ctx, n, RR_EPI_ACC, xc))) return st;
            layernorm_rows(m, xc, n, &N->attn_norm);
            /* Feed-forward: GELU(x W1 + b1) W2 + b2 + residual, LayerNorm. */
            if ((st = rr_ffn(m->gemm, &L->ffn_up, &L->ffn_down, xc, n, ffn, xc))) return st;
            layernorm_rows(m, xc, n, &N->ffn_norm);
        }
    }

    /* Head on each pair's first token: tanh(dense) then the single logit. */
    float *first = m->s.head.p, *hid = first + n_pairs * H;
    for (size_t p = 0; p < n_pairs; p++) memcpy(first + p * H, x + sp[p].start * H, (size_t)H * sizeof(float));
    if ((st = LINEAR(m->head_dense, first, (int64_t)n_pairs, RR_EPI_NONE, hid))) return st;
    for (size_t p = 0; p < n_pairs; p++) {
        double acc = w->head_out.b.p[0];
        for (int64_t j = 0; j < H; j++) acc += (double)w->head_out.w.p[j] * tanh((double)hid[p * H + j]);
        logits[sp[p].idx] = (float)acc;
    }
    m->forward_s += omp_get_wtime() - t_start;
    return RERANK_OK;
}
