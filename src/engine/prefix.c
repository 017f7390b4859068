/* prefix.c — which pairs of a batch share a prefix (issue #14). With a
 * causal model, token i's keys and values depend only on tokens 0..i: pairs
 * that begin with the same ids (an LLM reranker's prompt up to the
 * document, for every document of a query) have the same keys and values
 * there, so the engine computes that prefix once and runs each pair's own
 * tokens against it (engine/forward.c packs it, the backend's attention
 * reads it: rr_span_t.shared).
 *
 * The shared part is the longest common prefix of the ids, not a text
 * boundary: exact by construction (a BPE merge across the boundary just
 * shortens it). Every pair keeps at least one token of its own: its last
 * token is the one scored. */
#include <stdlib.h>

#include "engine/engine.h"

/* Lexicographic order of the ids (a shorter pair before the longer one it
 * begins), ties by index so the plan does not depend on qsort. */
static int cmp_key(const void *pa, const void *pb) {
    const rr_prefix_key_t *a = pa, *b = pb;
    const int32_t n = a->n < b->n ? a->n : b->n;
    for (int32_t i = 0; i < n; i++)
        if (a->ids[i] != b->ids[i]) return a->ids[i] < b->ids[i] ? -1 : 1;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Leading ids two keys have in common. */
static int64_t common_prefix(const rr_prefix_key_t *a, const rr_prefix_key_t *b) {
    const int32_t n = a->n < b->n ? a->n : b->n;
    int32_t i = 0;
    while (i < n && a->ids[i] == b->ids[i]) i++;
    return i;
}

/* Close the cluster keys[s, e) with shared length len: kept if it has two
 * pairs or more and len reaches the minimum. */
static size_t close_cluster(const rr_prefix_key_t *keys, size_t s, size_t e, int64_t len, size_t c,
                            int64_t *shared, size_t *cluster, int64_t *cl_len, size_t *cl_leader) {
    if (e - s < 2 || len < RR_SHARED_PREFIX_MIN) return c;
    for (size_t i = s; i < e; i++) {
        shared[keys[i].idx] = len;
        cluster[keys[i].idx] = c;
    }
    cl_len[c] = len;
    cl_leader[c] = keys[s].idx;
    return c + 1;
}

size_t rr_prefix_plan(const rerank_pair_t *pairs, size_t n_pairs, rr_prefix_key_t *keys, int64_t *shared,
                      size_t *cluster, int64_t *cl_len, size_t *cl_leader) {
    /* 1. sort the pairs by their ids: pairs with a common prefix become
     * neighbours, and a run's common prefix is the least of its
     * neighbours' */
    for (size_t p = 0; p < n_pairs; p++) {
        keys[p] = (rr_prefix_key_t){pairs[p].ids, pairs[p].n, p};
        shared[p] = 0;
    }
    qsort(keys, n_pairs, sizeof *keys, cmp_key);
    /* 2. cut the sorted run into clusters, greedily: a cluster of k pairs
     * sharing len tokens saves (k - 1) len; the next pair joins when that
     * does not shrink the saving (k len' >= (k - 1) len, len' the shorter
     * prefix with it), so the documents of two queries that share only a
     * system prompt become two clusters, not one with the short prefix.
     * len is capped at each member's n - 1 (its last token is its own) */
    size_t c = 0, s = 0;
    int64_t len = n_pairs ? keys[0].n - 1 : 0;
    for (size_t i = 1; i < n_pairs; i++) {
        int64_t with = common_prefix(&keys[i - 1], &keys[i]);
        if (with > len) with = len;
        if (with > keys[i].n - 1) with = keys[i].n - 1;
        const int64_t k = (int64_t)(i - s);
        if (with >= RR_SHARED_PREFIX_MIN && k * with >= (k - 1) * len) {
            len = with;
            continue;
        }
        c = close_cluster(keys, s, i, len, c, shared, cluster, cl_len, cl_leader);
        s = i;
        len = keys[i].n - 1;
    }
    return n_pairs ? close_cluster(keys, s, n_pairs, len, c, shared, cluster, cl_len, cl_leader) : 0;
}
