/* forward.c — one forward pass over a packed batch: lay the pairs out back
 * to back (longest first, no padding), number their positions, then run the
 * model family's steps on the backend's blocks:
 *
 *   embed                               all tokens
 *   layer l = 0 .. layers-1             group by group (whole pairs)
 *   head                                one logit per pair
 *
 * Groups bound the working set of a layer (a CPU keeps a group's GEMM
 * outputs in cache; a GPU takes the whole batch as one group). */
#include <omp.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
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

/* Pack the pairs longest first (a stable counting sort on length: O(pairs +
 * max_n)). The linear layers do not care about the order; attention hands
 * out its (pair, head) items in this order, so the longest come first and
 * the short ones fill the threads' tails. */
static void pack_spans(const rerank_pair_t *pairs, size_t n_pairs, int64_t max_n, rr_span_t *sp, size_t *count) {
    memset(count, 0, ((size_t)max_n + 1) * sizeof *count);
    for (size_t p = 0; p < n_pairs; p++) count[pairs[p].n]++;
    size_t at = 0; /* first slot of each length, longest first */
    for (int64_t n = max_n; n >= 0; n--) {
        size_t c = count[n];
        count[n] = at;
        at += c;
    }
    for (size_t p = 0; p < n_pairs; p++) sp[count[pairs[p].n]++] = (rr_span_t){0, pairs[p].n, p};
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

rerank_status_t rr_model_forward(rerank_model_t *m, const rerank_pair_t *pairs, size_t n_pairs, int32_t layers,
                                 float *logits) {
    const double t_start = omp_get_wtime();
    int64_t tokens = 0, max_n = 0;
    for (size_t p = 0; p < n_pairs; p++) {
        tokens += pairs[p].n;
        if (pairs[p].n > max_n) max_n = pairs[p].n;
    }
    rr_pack_t *k = &m->pack;
    rerank_status_t st = pack_reserve(k, n_pairs, (size_t)max_n, (size_t)tokens);
    if (st) return st;
    pack_spans(pairs, n_pairs, max_n, k->sp, k->count);
    for (size_t p = 0; p < n_pairs; p++)
        m->family->positions(&m->cfg, pairs[k->sp[p].idx].ids, k->sp[p].n, k->pos + k->sp[p].start);
    const rr_batch_t b = {.pairs = pairs, .n_pairs = n_pairs, .sp = k->sp, .pos = k->pos, .tokens = tokens,
                          .max_n = max_n};

    /* Each layer runs group by group: whole pairs, about `budget` tokens. */
    const int64_t budget = m->backend->group_tokens ? m->backend->group_tokens(m->be) : 0;
    int64_t group_max = 0;
    for (size_t p0 = 0, p1; p0 < n_pairs; p0 = p1) {
        p1 = group_end(k->sp, n_pairs, p0, budget);
        int64_t t = group_tokens(k->sp, p0, p1);
        group_max = t > group_max ? t : group_max;
    }
    if ((st = m->backend->begin(m->be, &b, group_max))) return st;
    st = run(m, &b, budget, layers, logits);
    rerank_status_t e = m->backend->end(m->be);
    m->forward_s += omp_get_wtime() - t_start;
    return st ? st : e;
}
