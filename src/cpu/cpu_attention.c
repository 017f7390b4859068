/* cpu_attention.c — the attention block on the CPU: the QKV projection over
 * the current group, then rr_attend (src/kernels/attention.h) per (pair,
 * K/V head) in the model's precision, with online-softmax tiles: memory
 * O(tile * n) per thread, never an [n, n] score matrix. */
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
    int64_t t0;          /* the group's first token                        */
    const int32_t *pos;  /* position ids of the whole batch                */
    int64_t chunk;       /* query rows per item                            */
    int copy;            /* rows are copied (dequantized, normed, rotated) first */
    size_t ws_bytes;     /* rr_attend's scratch per thread                 */
    size_t per_thread;   /* bytes of c->s.attn per thread                  */
    char *scratch;
} attn_job_t;

/* One row of h values normalized in place. */
static void norm_row(const rr_kernels_t *k, const rr_norm_t *n, float *x, int64_t h) {
    if (n->kind == RR_NORM_RMS) k->rms_norm(x, rr_f32(&n->g), h, n->eps);
    else k->add_layernorm(x, NULL, rr_f32(&n->g), rr_f32(&n->b), h, n->eps);
}

/* Rows [0, n) of one head's q, k or v (row j at src + j * ld, d columns)
 * into dst [n, d]: copied, or for int8 dequantized on the way (group row
 * i0 + j, columns col.. of the layer's output). */
static void load_rows(const rr_kernels_t *k, const rr_raw_out_t *raw, const float *src, int64_t ld, int64_t n,
                      int64_t d, int64_t i0, int64_t col, float *dst) {
    for (int64_t j = 0; j < n; j++) {
        if (raw->scale)
            k->dequant(dst + j * d, src + j * ld, raw->wzero + col, (float)raw->zero[i0 + j], raw->scale[i0 + j],
                       raw->b + col, d, 0);
        else
            memcpy(dst + j * d, src + j * ld, (size_t)d * sizeof *dst);
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
        const float *cs = rope->cos + (int64_t)pos[j] * half, *sn = rope->sin + (int64_t)pos[j] * half;
        for (int64_t i = 0; i < half; i++) {
            const float x1 = row[i], x2 = row[i + half];
            row[i] = x1 * cs[i] - x2 * sn[i];
            row[i + half] = x2 * cs[i] + x1 * sn[i];
        }
    }
}

/* Item (pair p, K/V head kvh, query rows [r0, r1)) on the calling thread's
 * scratch: the g query heads of the group see the same keys, so K and V are
 * packed once for them. Every item takes all n keys, even where a causal
 * mask hides the last ones: int8 scales each value channel over all keys,
 * and a pair's score must not depend on how its rows were split. */
static rerank_status_t attend_item(const attn_job_t *j, size_t p, int64_t kvh, int64_t r0, int64_t r1, int tid) {
    const rr_attn_t *a = j->a;
    const rr_kernels_t *k = rr_kernels();
    const int64_t d = a->head_dim, g = a->heads / a->kv_heads, n = j->sp[p].n, nq = r1 - r0;
    const int64_t nk = n;
    const int64_t i0 = j->sp[p].start - j->t0; /* the pair's first row in the group */
    const int64_t qc = kvh * g * d, kc = ((int64_t)a->heads + kvh) * d, vc = ((int64_t)a->heads + a->kv_heads + kvh) * d;
    char *base = j->scratch + (size_t)tid * j->per_thread;
    const float *row = j->qkv + i0 * j->ld;
    rr_attn_args_t arg = {.nq = nq, .nk = nk, .d = d, .g = g, .scale = a->scale, .causal = a->causal,
                          .q_offset = r0, .window = a->window, .mode = j->mode, .scratch = base,
                          .scratch_bytes = j->ws_bytes, .o = j->ctx + (i0 + r0) * j->ldo + qc, .ldo = j->ldo,
                          .ldoh = d};
    if (!j->copy) { /* q, k, v final in the projection rows: read in place */
        arg.q = row + r0 * j->ld + qc;
        arg.ldq = j->ld;
        arg.ldqh = d;
        arg.k = row + kc;
        arg.v = row + vc;
        arg.ldk = arg.ldv = j->ld;
        return rr_attend(&arg);
    }
    /* Copies [g * nq, d] (head after head), [nk, d], [nk, d] after the
     * workspace: dequantized, normed and rotated. */
    float *qh = (float *)(base + j->ws_bytes), *kh = qh + g * nq * d, *vh = kh + nk * d;
    const int32_t *pos = j->pos + j->sp[p].start;
    for (int64_t h = 0; h < g; h++) {
        load_rows(k, &j->raw, row + r0 * j->ld + qc + h * d, j->ld, nq, d, i0 + r0, qc + h * d, qh + h * nq * d);
        if (a->q_norm || a->rope) rotate_rows(k, a->q_norm, a->rope, pos + r0, nq, d, qh + h * nq * d);
    }
    load_rows(k, &j->raw, row + kc, j->ld, nk, d, i0, kc, kh);
    if (a->k_norm || a->rope) rotate_rows(k, a->k_norm, a->rope, pos, nk, d, kh);
    load_rows(k, &j->raw, row + vc, j->ld, nk, d, i0, vc, vh);
    arg.q = qh;
    arg.ldq = d;
    arg.ldqh = nq * d;
    arg.k = kh;
    arg.v = vh;
    arg.ldk = arg.ldv = d;
    return rr_attend(&arg);
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
 * rotary positions are applied on the copies; without either (fp32, bf16
 * bidirectional models) rr_attend reads the projection rows in place. */
rerank_status_t rr_cpu_attention(void *be, const rr_attn_t *a, rr_act_t src, rr_act_t dst) {
    rr_cpu_t *c = be;
    const int64_t H = c->cfg->hidden, d = a->head_dim, heads = a->heads, kvh = a->kv_heads;
    if (d < 1 || d > RR_ATTN_MAX_D || kvh < 1 || heads % kvh || heads / kvh > RR_ATTN_MAX_GROUP)
        return rr_error(RERANK_ERR_UNSUPPORTED, "attention: head_dim %lld, %lld heads over %lld key/value heads",
                        (long long)d, (long long)heads, (long long)kvh);
    float *x = src == RR_ACT_H ? c->s.h.p : (float *)c->s.x.p + c->t0 * H;
    float *ctx = c->s.ctx.p;
    const int64_t ld = (heads + 2 * kvh) * d, ldo = heads * d; /* qkv row: q heads | k heads | v heads */
    rr_raw_out_t raw;
    rerank_status_t st = rr_linear_raw(c->gemm, &c->lin[a->qkv->id], x, c->n, c->s.wide.p, &raw);
    if (st) return st;

    const double ta = omp_get_wtime();
    const rr_span_t *sp = c->b->sp + c->p0;
    const size_t n_pairs = c->p1 - c->p0;
    const int64_t max_n = sp[0].n; /* longest first */
    const int threads = omp_get_max_threads();
    attn_job_t j = {.a = a, .mode = c->prec, .qkv = c->s.wide.p, .ld = ld, .raw = raw, .ctx = ctx, .ldo = ldo,
                    .sp = sp, .t0 = sp[0].start, .pos = c->b->pos,
                    .chunk = chunk_rows(n_pairs, kvh, max_n, threads)};
    j.copy = raw.scale || a->q_norm || a->k_norm || a->rope;
    j.ws_bytes = (rr_attn_scratch_size(max_n, d, j.mode) + 63) & ~(size_t)63;
    if (!j.ws_bytes)
        return rr_error(RERANK_ERR_LIMIT, "attention: %lld tokens of head size %lld are beyond the kernel's limits",
                        (long long)max_n, (long long)d);
    const int64_t copy_rows = j.copy ? (heads / kvh) * j.chunk + 2 * max_n : 0;
    j.per_thread = j.ws_bytes + (((size_t)copy_rows * (size_t)d * sizeof(float) + 63) & ~(size_t)63);
    if ((st = rr_buf_reserve(&c->s.attn, (size_t)threads * j.per_thread, "attention"))) return st;
    j.scratch = c->s.attn.p;

    const int64_t chunks = (max_n + j.chunk - 1) / j.chunk, items = (int64_t)n_pairs * kvh * chunks;
    rerank_status_t failed = RERANK_OK;
#pragma omp parallel for schedule(dynamic, 1) if (items > 1 && (int64_t)n_pairs * max_n * max_n * H >= RR_PAR_MIN_WORK)
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
    c->attention_s += omp_get_wtime() - ta;
    return failed ? rr_error(failed, "attention: a (pair, head) failed (bad arguments to rr_attend)") : RERANK_OK;
}
