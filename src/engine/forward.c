/* forward.c — one forward pass over a packed batch: lay the pairs out back
 * to back (longest first, no padding), number their positions, then run the
 * model family's steps on the backend's blocks:
 *
 *   embed                               all tokens
 *   layer l = 0 .. layers-1             group by group (whole pairs)
 *   head                                one logit per pair
 *
 * Groups bound the working set of a layer (a CPU keeps a group's GEMM
 * outputs in cache; a GPU takes the whole batch as one group).
 *
 * With a causal model, pairs that begin with the same ids (an LLM
 * reranker's prompt up to the document) share them: each such prefix is
 * one span of its own, packed first, and the pairs keep only their own
 * tokens (engine/prefix.c plans it; the backend's attention reads the
 * prefix's keys and values, rr_span_t.shared). */
#include <omp.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "engine/bench_api.h"
#include "engine/engine.h"

/* Grow the pack buffers (grow-only; no allocation in the steady state). */
static rerank_status_t pack_reserve(rr_pack_t *k, size_t pairs, size_t max_n, size_t tokens) {
    if (pairs > k->cap_pairs) {
        rr_span_t *sp = rr_realloc(k->sp, pairs * sizeof *sp);
        if (!sp) return rr_error(RERANK_ERR_NOMEM, "out of memory packing %zu pairs", pairs);
        k->sp = sp;
        k->cap_pairs = pairs;
    }
    if (max_n + 1 > k->cap_len) {
        size_t *count = rr_realloc(k->count, (max_n + 1) * sizeof *count);
        if (!count) return rr_error(RERANK_ERR_NOMEM, "out of memory packing pairs of %zu tokens", max_n);
        k->count = count;
        k->cap_len = max_n + 1;
    }
    if (tokens > k->cap_tokens) {
        int32_t *pos = rr_realloc(k->pos, tokens * sizeof *pos);
        if (!pos) return rr_error(RERANK_ERR_NOMEM, "out of memory for %zu position ids", tokens);
        k->pos = pos;
        k->cap_tokens = tokens;
    }
    return RERANK_OK;
}

/* Grow the shared-prefix buffers: the plan for n pairs, up to 2 n spans
 * (a cluster has >= 2 pairs), one pair's positions. */
static rerank_status_t plan_reserve(rr_pack_t *k, size_t n, size_t max_n) {
#define RR_GROW(field, count)                                                                         \
    do {                                                                                              \
        void *q = rr_realloc(k->field, (count) * sizeof *k->field);                                   \
        if (!q) return rr_error(RERANK_ERR_NOMEM, "out of memory planning shared prefixes of %zu pairs", n); \
        k->field = q;                                                                                 \
    } while (0)
    if (n > k->cap_plan) {
        RR_GROW(keys, n);
        RR_GROW(shared, n);
        RR_GROW(cluster, n);
        RR_GROW(cl_len, n);
        RR_GROW(cl_leader, n);
        RR_GROW(rp, 2 * n);
        RR_GROW(logits, 2 * n);
        k->cap_plan = n;
    }
    if (max_n > k->cap_pair_pos) {
        RR_GROW(pair_pos, max_n);
        k->cap_pair_pos = max_n;
    }
#undef RR_GROW
    return RERANK_OK;
}

/* Pack the pairs longest first (a stable counting sort on length: O(pairs +
 * max_n)). The linear layers do not care about the order; attention hands
 * out its (pair, head) items in this order, so the longest come first and
 * the short ones fill the threads' tails. */
static void pack_spans(const rerank_pair_t *pairs, size_t n_pairs, int64_t max_n, rr_span_t *sp, size_t *count) {
    if (!n_pairs) return;
    memset(count, 0, ((size_t)max_n + 1) * sizeof *count);
    for (size_t p = 0; p < n_pairs; p++) count[pairs[p].n]++;
    size_t at = 0; /* first slot of each length, longest first */
    for (int64_t n = max_n; n >= 0; n--) {
        size_t c = count[n];
        count[n] = at;
        at += c;
    }
    for (size_t p = 0; p < n_pairs; p++) sp[count[pairs[p].n]++] = (rr_span_t){.n = pairs[p].n, .idx = p};
    int64_t start = 0;
    for (size_t p = 0; p < n_pairs; p++) {
        sp[p].start = start;
        start += sp[p].n;
    }
}

/* The end of the group of pairs that starts at p0: whole pairs while they
 * fit in `budget` tokens (0: no limit), and at least one. */
static size_t group_end(const rr_span_t *sp, size_t n_pairs, size_t p0, int64_t budget) {
    if (budget <= 0) return n_pairs;
    size_t p1 = p0 + 1;
    while (p1 < n_pairs && sp[p1].start + sp[p1].n - sp[p0].start <= budget) p1++;
    return p1;
}

static int64_t group_tokens(const rr_span_t *sp, size_t p0, size_t p1) {
    return sp[p1 - 1].start + sp[p1 - 1].n - sp[p0].start;
}

/* The family's steps on the backend: embeddings, the layers group by
 * group, the head. */
static rerank_status_t run(rerank_model_t *m, const rr_batch_t *b, int64_t budget, int32_t layers, float *logits) {
    const rr_family_t *f = m->family;
    const rr_blocks_t *B = m->backend;
    const rr_run_t r = {.B = B, .be = m->be, .cfg = &m->cfg, .w = m->w.family};
    rerank_status_t st;
    B->group(m->be, 0, b->n_pairs);
    if ((st = f->embed(&r))) return st;
    for (int32_t l = 0; l < layers; l++)
        for (size_t p0 = 0, p1; p0 < b->n_pairs; p0 = p1) {
            p1 = group_end(b->sp, b->n_pairs, p0, budget);
            B->group(m->be, p0, p1);
            if ((st = f->layer(&r, l))) return st;
        }
    B->group(m->be, 0, b->n_pairs);
    return f->head(&r, logits);
}

/* Pack with shared prefixes (engine/prefix.c): the rewritten pairs (the
 * caller's pair p after its shared[p] ids at rp[p], cluster c's prefix at
 * rp[n + c]); the prefixes first, so every layer computes them before the
 * spans that read them, then the pairs longest first, each linked to its
 * prefix. Returns the spans, 0 when nothing is shared. */
static size_t pack_shared(rerank_model_t *m, const rerank_pair_t *pairs, size_t n, int64_t max_n, rr_batch_t *b) {
    rr_pack_t *k = &m->pack;
    const size_t nc = rr_prefix_plan(pairs, n, k->keys, k->shared, k->cluster, k->cl_len, k->cl_leader);
    if (!nc) return 0;
    /* the rewritten pairs */
    for (size_t p = 0; p < n; p++) {
        const int64_t P = k->shared[p];
        k->rp[p] = (rerank_pair_t){pairs[p].ids + P, pairs[p].type_ids ? pairs[p].type_ids + P : NULL,
                                   pairs[p].n - (int32_t)P};
    }
    for (size_t c = 0; c < nc; c++) {
        const rerank_pair_t *l = &pairs[k->cl_leader[c]];
        k->rp[n + c] = (rerank_pair_t){l->ids, l->type_ids, (int32_t)k->cl_len[c]};
    }
    /* spans: the prefixes, then the pairs longest first; starts back to back */
    rr_span_t *sp = k->sp;
    for (size_t c = 0; c < nc; c++) sp[c] = (rr_span_t){.n = k->cl_len[c], .idx = n + c};
    pack_spans(k->rp, n, max_n, sp + nc, k->count);
    int64_t start = 0, prefix_tokens = 0, longest = 0, keys = 0;
    for (size_t s = 0; s < n + nc; s++) {
        sp[s].start = start;
        start += sp[s].n;
        if (s < nc) prefix_tokens += sp[s].n;
        /* a pair's link: its cluster's span (cluster c is span c) */
        const size_t p = sp[s].idx;
        if (s >= nc && k->shared[p]) {
            sp[s].shared = k->shared[p];
            sp[s].parent = k->cluster[p];
        }
        longest = sp[s].n > longest ? sp[s].n : longest;
        keys = sp[s].shared + sp[s].n > keys ? sp[s].shared + sp[s].n : keys;
    }
    /* positions: a member's are its whole pair's from `shared` on */
    for (size_t s = 0; s < n + nc; s++) {
        const rr_span_t *x = &sp[s];
        int32_t *pos = k->pos + x->start;
        if (!x->shared) {
            m->family->positions(&m->cfg, k->rp[x->idx].ids, x->n, pos);
            continue;
        }
        const rerank_pair_t *pr = &pairs[x->idx];
        m->family->positions(&m->cfg, pr->ids, pr->n, k->pair_pos);
        memcpy(pos, k->pair_pos + x->shared, (size_t)x->n * sizeof *pos);
    }
    *b = (rr_batch_t){.pairs = k->rp, .n_pairs = n + nc, .sp = sp, .pos = k->pos, .tokens = start, .max_n = longest,
                      .n_prefix = nc, .prefix_tokens = prefix_tokens, .max_keys = keys};
    return n + nc;
}

/* Add the pass's work: every pair in full, and what its spans computed. */
static void count_work(rerank_model_t *m, const rerank_pair_t *pairs, size_t n_pairs, const rr_batch_t *b,
                       int32_t layers) {
    rr_work_t *w = &m->work;
    rr_pair_flops_t f;
    for (size_t p = 0; p < n_pairs; p++) {
        rr_model_pair_flops(m, layers, pairs[p].n, &f);
        w->tokens_prompt += pairs[p].n;
        w->prompt.linear += f.linear;
        w->prompt.attention += f.attention;
        w->prompt.head += f.head;
    }
    for (size_t s = 0; s < b->n_pairs; s++) {
        rr_model_span_flops(m, layers, (double)b->sp[s].shared, (double)b->sp[s].n, &f);
        w->tokens_computed += (double)b->sp[s].n;
        w->computed.linear += f.linear;
        w->computed.attention += f.attention;
        w->computed.head += f.head;
    }
}

rerank_status_t rr_model_forward(rerank_model_t *m, const rerank_pair_t *pairs, size_t n_pairs, int32_t layers,
                                 float *logits, void **ticket) {
    const double t_start = omp_get_wtime();
    if (ticket) *ticket = NULL;
    int64_t tokens = 0, max_n = 0;
    for (size_t p = 0; p < n_pairs; p++) {
        tokens += pairs[p].n;
        if (pairs[p].n > max_n) max_n = pairs[p].n;
    }
    rr_pack_t *k = &m->pack;
    /* Shared prefixes: a causal family on a backend that reads them, two
     * pairs or more (up to 2 n spans) */
    const int share = m->shared_prefix && n_pairs >= 2;
    rerank_status_t st = pack_reserve(k, share ? 2 * n_pairs : n_pairs, (size_t)max_n, (size_t)tokens);
    if (!st && share) st = plan_reserve(k, n_pairs, (size_t)max_n);
    if (st) return st;
    rr_batch_t b;
    if (!share || !pack_shared(m, pairs, n_pairs, max_n, &b)) {
        pack_spans(pairs, n_pairs, max_n, k->sp, k->count);
        for (size_t p = 0; p < n_pairs; p++)
            m->family->positions(&m->cfg, pairs[k->sp[p].idx].ids, k->sp[p].n, k->pos + k->sp[p].start);
        b = (rr_batch_t){.pairs = pairs, .n_pairs = n_pairs, .sp = k->sp, .pos = k->pos, .tokens = tokens,
                         .max_n = max_n, .max_keys = max_n};
    }
    const int shared = b.n_prefix > 0;

    /* Each layer runs group by group: whole spans, about `budget` tokens. */
    const int64_t budget = m->backend->group_tokens ? m->backend->group_tokens(m->be) : 0;
    int64_t group_max = 0;
    for (size_t p0 = 0, p1; p0 < b.n_pairs; p0 = p1) {
        p1 = group_end(k->sp, b.n_pairs, p0, budget);
        int64_t t = group_tokens(k->sp, p0, p1);
        group_max = t > group_max ? t : group_max;
    }
    if ((st = m->backend->begin(m->be, &b, group_max))) return st;
    /* the prefixes' logits are never returned: all go to scratch */
    st = run(m, &b, budget, layers, shared ? k->logits : logits);
    /* Ended without waiting, the backend sends the pairs' logits straight
     * to the caller's array (the scratch is the next pass's). */
    const int async = ticket && m->backend->end_async;
    rerank_status_t e = async ? m->backend->end_async(m->be, logits, ticket) : m->backend->end(m->be);
    if (st && async && *ticket) { /* a block failed, yet the backend ran something: let it finish */
        (void)m->backend->wait(m->be, *ticket);
        *ticket = NULL;
    }
    if (!st && !e) {
        if (shared && !async) memcpy(logits, k->logits, n_pairs * sizeof *logits);
        count_work(m, pairs, n_pairs, &b, layers);
    }
    m->forward_s += omp_get_wtime() - t_start;
    return st ? st : e;
}

rerank_status_t rr_model_wait(rerank_model_t *m, void *ticket) {
    if (!ticket) return RERANK_OK;
    const double t0 = omp_get_wtime();
    const rerank_status_t st = m->backend->wait(m->be, ticket);
    const double dt = omp_get_wtime() - t0;
    pthread_mutex_lock(&m->wait_lock);
    m->wait_s += dt;
    pthread_mutex_unlock(&m->wait_lock);
    return st;
}
