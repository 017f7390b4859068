/* cuda_chunks.cu — a packed batch (engine/blocks.h) cut into the chunks the device runs one after the other,
 * and one chunk laid out for the device. Host code only (tests/test_cuda_host compiles it for the host).
 *
 * A chunk is a run of the batch's spans, whole, of at most `cap` tokens (at least one span). With shared
 * prefixes (an LLM reranker's prompt up to the document: engine/prefix.c) the batch begins with the
 * prefixes; a chunk is then a run of the spans after them, and carries the prefixes its spans read, first:
 * the device computes a prefix in every chunk that reads it, so a batch split for memory stays exact. The
 * chunk's layout:
 *
 *   ids [T] | types [T] | positions [T] | cu [P + 1] | pre [2 P]
 *
 * sequence q is tokens [cu[q], cu[q + 1]); pre[2q], pre[2q + 1]: the first row and the count of the prefix
 * keys it reads before its own (0, 0: none). T and P may exceed the chunk's (graph buckets): extra tokens
 * belong to no sequence (id / type / position 0), extra sequences are empty. */
#include <string.h>

#include "cuda/cuda_ctx.h"

/* The prefix span that span s reads, or SIZE_MAX. */
static size_t parent_of(const rr_batch_t *b, size_t s) {
    return b->sp[s].shared > 0 ? b->sp[s].parent : SIZE_MAX;
}

void rr_cu_chunk_next(const rr_batch_t *b, size_t a, size_t cap, int32_t *mark, rr_cu_chunk_t *ch) {
    size_t i = a, t = 0, n_pre = 0;
    int32_t longest = 0;
    while (i < b->n_pairs) {
        const size_t par = parent_of(b, i);
        const int adds_parent = par != SIZE_MAX && !mark[par];
        const size_t add = (size_t)b->sp[i].n + (adds_parent ? (size_t)b->sp[par].n : 0);
        if (i > a && t + add > cap) break;
        if (adds_parent) {
            mark[par] = 1;
            n_pre++;
            if (b->sp[par].n > longest) longest = (int32_t)b->sp[par].n;
        }
        if (b->sp[i].n > longest) longest = (int32_t)b->sp[i].n;
        t += add;
        i++;
    }
    for (size_t j = a; j < i; j++) /* leave mark all zero */
        if (parent_of(b, j) != SIZE_MAX) mark[b->sp[j].parent] = 0;
    *ch = (rr_cu_chunk_t){a, i, n_pre, t, longest};
}

/* Span s's ids, types and positions at token `at`. */
static void put_span(const rr_batch_t *b, size_t s, size_t at, int32_t *ids, int32_t *types, int32_t *pos) {
    const rr_span_t *sp = &b->sp[s];
    const rerank_pair_t *pr = &b->pairs[sp->idx];
    memcpy(ids + at, pr->ids, (size_t)pr->n * sizeof *ids);
    if (pr->type_ids) memcpy(types + at, pr->type_ids, (size_t)pr->n * sizeof *types);
    else memset(types + at, 0, (size_t)pr->n * sizeof *types);
    memcpy(pos + at, b->pos + sp->start, (size_t)pr->n * sizeof *pos);
}

void rr_cu_chunk_pack(const rr_batch_t *b, const rr_cu_chunk_t *ch, size_t T, size_t P, int32_t *mark, int32_t *h) {
    int32_t *ids = h, *types = h + T, *pos = h + 2 * T, *cu = h + 3 * T, *pre = cu + P + 1;
    size_t at = 0, q = 0;
    /* the prefixes the chunk's spans read, in the order of first use; mark: 1 + their first row */
    for (size_t s = ch->a; s < ch->e; s++) {
        const size_t par = parent_of(b, s);
        if (par == SIZE_MAX || mark[par]) continue;
        mark[par] = (int32_t)at + 1;
        cu[q] = (int32_t)at;
        pre[2 * q] = pre[2 * q + 1] = 0;
        put_span(b, par, at, ids, types, pos);
        at += (size_t)b->sp[par].n;
        q++;
    }
    /* then the spans, each linked to its prefix's rows */
    for (size_t s = ch->a; s < ch->e; s++) {
        const size_t par = parent_of(b, s);
        cu[q] = (int32_t)at;
        pre[2 * q] = par == SIZE_MAX ? 0 : mark[par] - 1;
        pre[2 * q + 1] = par == SIZE_MAX ? 0 : (int32_t)b->sp[s].shared;
        put_span(b, s, at, ids, types, pos);
        at += (size_t)b->sp[s].n;
        q++;
    }
    for (size_t s = ch->a; s < ch->e; s++) /* leave mark all zero */
        if (parent_of(b, s) != SIZE_MAX) mark[b->sp[s].parent] = 0;
    for (; q <= P; q++) {
        cu[q] = (int32_t)at;
        if (q < P) pre[2 * q] = pre[2 * q + 1] = 0;
    }
    for (; at < T; at++) ids[at] = types[at] = pos[at] = 0;
}
