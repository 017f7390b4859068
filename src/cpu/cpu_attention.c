/* cpu_attention.c — the attention block on the CPU: the QKV projection over
 * the current group, then rr_attend (src/kernels/attention.h) per (pair,
 * K/V head) in the model's precision, with online-softmax tiles: memory
 * O(tile * n) per thread, never an [n, n] score matrix.
 *
 * Shared prefixes (rr_span_t.shared): a prefix span is an ordinary causal
 * pair whose keys and values (normed, rotated: what rr_attend reads) are
 * also kept for the layer in a stash; a span after a prefix attends over
 * the stash's rows of its parent, then its own, its queries at positions
 * shared + r: the very keys, values and queries of the whole pair. */
#include <omp.h>
#include <string.h>

#include "common/error.h"
#include "cpu/cpu.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"

/* What every (pair, K/V head, query chunk) item of one call shares. */
typedef struct attn_job {
    const rr_attn_t *a;
    rerank_precision_t mode;
    const float *qkv;    /* the group's projections, row i at qkv + i * ld */
    int64_t ld;          /* q heads | k heads | v heads                    */
    rr_raw_out_t raw;    /* int8: how to finish the raw rows (scale NULL: final) */
    float *ctx;          /* the group's output rows, stride ldo            */
    int64_t ldo;
    const rr_span_t *sp; /* the group's pairs                              */
    const rr_span_t *all; /* the batch's spans (parents by index)           */
    float *stash_k, *stash_v; /* prefixes' keys, values [kv_heads, prefix_tokens, d] */
    int64_t prefix_tokens;
    int64_t t0;          /* the group's first token                        */
    const int32_t *pos;  /* position ids of the whole batch                */
    int64_t chunk;       /* query rows per item                            */
    size_t ws_bytes;     /* rr_attend's scratch per thread                 */
    size_t per_thread;   /* bytes of c->s.attn per thread                  */
    char *scratch;
} attn_job_t;

/* One row of h values normalized in place. */
static void norm_row(const rr_kernels_t *k, const rr_norm_t *n, float *x, int64_t h) {
    if (n->kind == RR_NORM_RMS) k->rms_norm(x, rr_f32(&n->g), h, n->eps);
    else k->add_layernorm(x, NULL, rr_f32(&n->g), rr_f32(&n->b), h, n->eps);
}

/* p + c, or NULL for an absent term (no bias: Qwen3's projections). */
static const float *at_col(const float *p, int64_t c) { return p ? p + c : NULL; }

/* d columns (from col on) of the group's rows [i, i + rows) into dst [rows,
 * d]: copied, or for int8 dequantized (the layer's raw output). The rows
 * lie ld floats apart, a stride the hardware prefetchers do not follow, so
 * the rows RR_ROWS_PREFETCH ahead are prefetched; copying beats reading them
 * in place in every mode. */
static void load_rows(const rr_kernels_t *k, const attn_job_t *j, int64_t i, int64_t col, int64_t rows, int64_t d,
                      float *dst) {
    const float *src = j->qkv + i * j->ld + col;
    const rr_raw_out_t *w = &j->raw;
    if (w->scale) {
        k->dequant_rows(dst, d, src, j->ld, rows, at_col(w->wscale, col), at_col(w->wzero, col), w->zero + i,
                        w->scale + i, at_col(w->b, col), d);
        return;
    }
    for (int64_t r = 0; r < rows; r++) {
        if (r + RR_ROWS_PREFETCH < rows) rr_prefetch_floats(src + (r + RR_ROWS_PREFETCH) * j->ld, d);
        memcpy(dst + r * d, src + r * j->ld, (size_t)d * sizeof *dst);
    }
}

/* Per-head norm, then rotary positions (rotate-half), on n rows [n, d] in
 * place (pos: the rows' position ids). */
static void rotate_rows(const rr_kernels_t *k, const rr_norm_t *nrm, const rr_rope_t *rope, const int32_t *pos,
                        int64_t n, int64_t d, float *x) {
    for (int64_t j = 0; j < n; j++) {
        float *row = x + j * d;
        if (nrm) norm_row(k, nrm, row, d);
        if (!rope) continue;
        const int64_t half = rope->dim / 2;
        k->rope(row, rope->cos + (int64_t)pos[j] * half, rope->sin + (int64_t)pos[j] * half, half);
    }
}

/* Item (pair p, K/V head kvh, query rows [r0, r1)) on the calling thread's
 * scratch: the g query heads of the group see the same keys, so K and V are
 * packed once for them. Every item takes all the pair's keys (its shared
 * prefix's first), even where a causal mask hides the last ones: int8
 * scales each value channel over all keys, and a pair's score must not
 * depend on how its rows were split. */
static rerank_status_t attend_item(const attn_job_t *j, size_t p, int64_t kvh, int64_t r0, int64_t r1, int tid) {
    const rr_attn_t *a = j->a;
    const rr_kernels_t *k = rr_kernels();
    const int64_t d = a->head_dim, g = a->heads / a->kv_heads, n = j->sp[p].n, nq = r1 - r0;
    const int64_t P = j->sp[p].shared, nk = P + n; /* keys: the shared prefix's, then the span's own */
    const int64_t i0 = j->sp[p].start - j->t0; /* the pair's first row in the group */
    const int64_t qc = kvh * g * d, kc = ((int64_t)a->heads + kvh) * d, vc = ((int64_t)a->heads + a->kv_heads + kvh) * d;
    char *base = j->scratch + (size_t)tid * j->per_thread;
    /* q [g * nq, d] (head after head), k and v [nk, d] after rr_attend's
     * workspace */
    float *qh = (float *)(base + j->ws_bytes), *kh = qh + g * nq * d, *vh = kh + nk * d;
    if (P) { /* the parent's keys and values, as its own items read them */
        const int64_t at = (kvh * j->prefix_tokens + j->all[j->sp[p].parent].start) * d;
        memcpy(kh, j->stash_k + at, (size_t)(P * d) * sizeof *kh);
        memcpy(vh, j->stash_v + at, (size_t)(P * d) * sizeof *vh);
        kh += P * d;
        vh += P * d;
    }
    load_rows(k, j, i0, kc, n, d, kh);
    load_rows(k, j, i0, vc, n, d, vh);
    for (int64_t h = 0; h < g; h++) load_rows(k, j, i0 + r0, qc + h * d, nq, d, qh + h * nq * d);
    /* per-head norms and rotary positions on the copies */
    const int32_t *pos = j->pos + j->sp[p].start;
    if (a->q_norm || a->rope)
        for (int64_t h = 0; h < g; h++) rotate_rows(k, a->q_norm, a->rope, pos + r0, nq, d, qh + h * nq * d);
    if (a->k_norm || a->rope) rotate_rows(k, a->k_norm, a->rope, pos, n, d, kh);
    kh -= P * d;
    vh -= P * d;
    /* the g heads' rows into their columns of ctx */
    const rr_attn_args_t arg = {.q = qh, .ldq = d, .ldqh = nq * d, .k = kh, .v = vh, .ldk = d, .ldv = d,
                                .o = j->ctx + (i0 + r0) * j->ldo + qc, .ldo = j->ldo, .ldoh = d, .nq = nq, .nk = nk,
                                .d = d, .g = g, .scale = a->scale, .causal = a->causal, .q_offset = P + r0,
                                .window = a->window, .mode = j->mode, .scratch = base, .scratch_bytes = j->ws_bytes};
    return rr_attend(&arg);
}

/* Keys and values of prefix span p of the group, K/V head kvh, normed and
 * rotated exactly as attend_item does, into the stash (its rows at the
 * span's tokens: prefixes are the batch's first tokens). */
static void stash_prefix(const attn_job_t *j, size_t p, int64_t kvh) {
    const rr_attn_t *a = j->a;
    const rr_kernels_t *k = rr_kernels();
    const int64_t d = a->head_dim, n = j->sp[p].n, i0 = j->sp[p].start - j->t0;
    const int64_t kc = ((int64_t)a->heads + kvh) * d, vc = ((int64_t)a->heads + a->kv_heads + kvh) * d;
    float *kh = j->stash_k + (kvh * j->prefix_tokens + j->sp[p].start) * d;
    float *vh = j->stash_v + (kvh * j->prefix_tokens + j->sp[p].start) * d;
    load_rows(k, j, i0, kc, n, d, kh);
    load_rows(k, j, i0, vc, n, d, vh);
    if (a->k_norm || a->rope) rotate_rows(k, a->k_norm, a->rope, j->pos + j->sp[p].start, n, d, kh);
}

/* Query rows per item: a whole pair, unless there are too few (pair, K/V
 * head) items to keep every thread busy (one long pair): then the pair's
 * rows are split in chunks (whole blocks of RR_ATTN_BLOCK_ROWS), each item
 * packing K and V again. */
static int64_t chunk_rows(size_t n_pairs, int64_t kv_heads, int64_t max_n, int threads) {
    const int64_t items = (int64_t)n_pairs * kv_heads, want = 2 * (int64_t)threads;
    if (threads < 2 || items >= want || max_n < 4 * RR_ATTN_BLOCK_ROWS) return max_n;
    const int64_t pieces = (want + items - 1) / items, B = RR_ATTN_BLOCK_ROWS;
    int64_t rows = (max_n + pieces - 1) / pieces;
    rows = (rows + B - 1) / B * B;
    return rows < 2 * B ? 2 * B : rows;
}

/* ctx = softmax(q k^T * scale, masked) v for every pair and head of the
 * group. q | k | v come from one GEMM over the group's rows (int8: left raw
 * and dequantized as each item copies its rows out); per-head norms and
 * rotary positions are applied on the copies. */
rerank_status_t rr_cpu_attention(void *be, const rr_attn_t *a, rr_act_t src, rr_act_t dst) {
    rr_cpu_t *c = be;
    const int64_t H = c->cfg->hidden, d = a->head_dim, heads = a->heads, kvh = a->kv_heads;
    if (d < 1 || d > RR_ATTN_MAX_D || kvh < 1 || heads % kvh || heads / kvh > RR_ATTN_MAX_GROUP)
        return rr_error(RERANK_ERR_UNSUPPORTED, "attention: head_dim %lld, %lld heads over %lld key/value heads",
                        (long long)d, (long long)heads, (long long)kvh);
    (void)dst; /* the context rows (RR_ACT_CTX) */
    float *x = src == RR_ACT_H ? c->s.h.p : (float *)c->s.x.p + c->t0 * H; /* the group's rows of H or X */
    float *ctx = c->s.ctx.p;
    const int64_t ld = (heads + 2 * kvh) * d, ldo = heads * d; /* qkv row: q heads | k heads | v heads */
    rr_raw_out_t raw;
    rerank_status_t st = rr_linear_raw(c->gemm, &c->lin[a->qkv->id], x, c->n, c->s.wide.p, &raw);
    if (st) return st;

    const double ta = omp_get_wtime();
    const rr_batch_t *b = c->b;
    const rr_span_t *sp = b->sp + c->p0;
    const size_t n_pairs = c->p1 - c->p0;
    /* the group's longest span and most keys (a prefix's and its own) */
    int64_t max_n = 0, max_keys = 0;
    for (size_t p = 0; p < n_pairs; p++) {
        max_n = sp[p].n > max_n ? sp[p].n : max_n;
        max_keys = sp[p].shared + sp[p].n > max_keys ? sp[p].shared + sp[p].n : max_keys;
    }
    const int threads = omp_get_max_threads();
    float *stash = c->s.stash.p;
    const size_t stash_half = (size_t)b->prefix_tokens * (size_t)kvh * (size_t)d;
    if (b->n_prefix && 2 * stash_half * sizeof(float) > c->s.stash.bytes)
        return rr_error(RERANK_ERR_INTERNAL, "attention: the shared-prefix stash holds fewer than %lld key/value heads",
                        (long long)kvh);
    attn_job_t j = {.a = a, .mode = c->prec, .qkv = c->s.wide.p, .ld = ld, .raw = raw, .ctx = ctx, .ldo = ldo,
                    .sp = sp, .all = b->sp, .stash_k = stash, .stash_v = stash ? stash + stash_half : NULL,
                    .prefix_tokens = b->prefix_tokens, .t0 = sp[0].start, .pos = b->pos,
                    .chunk = chunk_rows(n_pairs, kvh, max_n, threads)};
    j.ws_bytes = (rr_attn_scratch_size(max_keys, d, j.mode) + 63) & ~(size_t)63;
    if (!j.ws_bytes)
        return rr_error(RERANK_ERR_LIMIT, "attention: %lld tokens of head size %lld are beyond the kernel's limits",
                        (long long)max_keys, (long long)d);
    const int64_t copy_rows = (heads / kvh) * j.chunk + 2 * max_keys;
    j.per_thread = j.ws_bytes + (((size_t)copy_rows * (size_t)d * sizeof(float) + 63) & ~(size_t)63);
    if ((st = rr_buf_reserve(&c->s.attn, (size_t)threads * j.per_thread, "attention"))) return st;
    j.scratch = c->s.attn.p;

    /* the group's prefixes into the stash first: later items (here and in
     * the next groups of this layer) read it */
    const size_t n_stash = c->p0 < b->n_prefix ? (c->p1 < b->n_prefix ? c->p1 : b->n_prefix) - c->p0 : 0;
    const int64_t stash_items = (int64_t)n_stash * kvh;
#pragma omp parallel for schedule(dynamic, 1) if (stash_items > 1 && (int64_t)n_stash * max_n * H >= RR_PAR_MIN_WORK)
    for (int64_t it = 0; it < stash_items; it++) stash_prefix(&j, (size_t)(it / kvh), it % kvh);

    const int64_t chunks = (max_n + j.chunk - 1) / j.chunk, items = (int64_t)n_pairs * kvh * chunks;
    rerank_status_t failed = RERANK_OK;
#pragma omp parallel for schedule(dynamic, 1) if (items > 1 && (int64_t)n_pairs * max_n * max_keys * H >= RR_PAR_MIN_WORK)
    for (int64_t it = 0; it < items; it++) {
        const size_t p = (size_t)(it / (kvh * chunks));
        const int64_t h = it / chunks % kvh, r0 = it % chunks * j.chunk;
        if (r0 >= sp[p].n) continue;
        const int64_t r1 = r0 + j.chunk < sp[p].n ? r0 + j.chunk : sp[p].n;
        rerank_status_t e = attend_item(&j, p, h, r0, r1, omp_get_thread_num());
        if (e) {
#pragma omp critical(rr_cpu_attention_failed)
            failed = e;
        }
    }
    const double dt = omp_get_wtime() - ta;
    c->attention_s += dt;
    c->attention_calls++;
    if (a->window > 0) { /* the time split of local vs global layers (bench) */
        c->attention_local_s += dt;
        c->attention_local_calls++;
    }
    return failed ? rr_error(failed, "attention: a (pair, head) failed (bad arguments to rr_attend)") : RERANK_OK;
}
