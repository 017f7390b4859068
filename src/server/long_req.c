/* long_req.c — a rerank request whose documents are scored in windows
 * (chunks, or Cohere v2's max_tokens_per_doc cut): the request's options
 * over the server's defaults, every document's windows as the job's pairs,
 * and each document's best window once they are scored. Shared by the HTTP
 * routes (handlers.c) and gRPC (grpc_server.c). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "server/server_internal.h"

void rr_long_options_server(const rr_server_config_t *c, rerank_long_options_t *lo) {
    *lo = rerank_long_options_default();
    if (c->long_docs && !strcmp(c->long_docs, "chunk")) lo->mode = RERANK_LONG_DOCS_CHUNK;
    lo->chunk_tokens = (int32_t)c->chunk_tokens;
    lo->chunk_overlap = (int32_t)c->chunk_overlap;
    lo->max_chunks_per_doc = (int32_t)c->max_chunks_per_doc;
}

int rr_long_options(const rr_conn_req_t *r, rerank_long_options_t *lo) {
    const rr_rerank_req_t *q = &r->req;
    rr_long_options_server(r->srv->cfg, lo);
    /* the request's mode; Cohere v1's max_chunks_per_doc alone asks for chunks */
    if (q->long_docs >= 0) lo->mode = (rerank_long_docs_t)q->long_docs;
    else if (q->max_chunks_per_doc > 0 || q->chunk_tokens > 0 || q->chunk_overlap >= 0) lo->mode = RERANK_LONG_DOCS_CHUNK;
    if (q->chunk_tokens >= 0) lo->chunk_tokens = q->chunk_tokens;
    if (q->chunk_overlap >= 0) lo->chunk_overlap = q->chunk_overlap;
    /* a request's own window size does not inherit the server's overlap */
    if (q->chunk_tokens > 0 && q->chunk_overlap < 0 && lo->chunk_overlap >= lo->chunk_tokens) lo->chunk_overlap = 0;
    if (q->max_chunks_per_doc > 0) lo->max_chunks_per_doc = q->max_chunks_per_doc;
    lo->max_tokens_per_doc = q->max_tokens_per_doc > 0 ? q->max_tokens_per_doc : 0;
    return lo->mode == RERANK_LONG_DOCS_CHUNK || lo->max_tokens_per_doc > 0;
}

static int status_of(rerank_status_t st, const char **type) {
    *type = "validation";
    switch (st) {
    case RERANK_ERR_INVALID_UTF8: return 400;
    case RERANK_ERR_INVALID_ARGUMENT: /* the window does not fit the options */
    case RERANK_ERR_UNSUPPORTED: return 422;
    case RERANK_ERR_LIMIT: return 413;
    case RERANK_ERR_NOMEM: *type = "unavailable"; return 503;
    default: *type = "backend"; return 500;
    }
}

int rr_long_encode(rr_long_req_t *L, const rr_served_t *m, size_t max_pairs, const rr_text_t *query,
                   const rr_text_t *docs, size_t n, const rerank_pair_options_t *po, const rerank_long_options_t *lo,
                   int truncate, const char *what, char *err, size_t cap, const char **type) {
    *type = "validation";
    if (!m->scorer.window_pair) {
        snprintf(err, cap, "this server's model cannot score long documents in windows");
        return 422;
    }
    L->wins = rr_calloc(n, sizeof *L->wins);
    L->first = rr_calloc(n + 1, sizeof *L->first);
    L->best = rr_calloc(n, sizeof *L->best);
    if (!L->wins || !L->first || !L->best) goto nomem;
    L->n_docs = n;
    /* Each document's windows, checked against the length as a pair is.
     * The queue bound is checked as they come: a document is cut into at
     * most one window more than the queue has left for it (enough to tell
     * it does not fit), so a request that cannot be queued is refused
     * before its windows' ids are built (up to max_chunks_per_doc copies
     * of the query per document, for every document). */
    for (size_t i = 0; i < n; i++) {
        rerank_windows_t *w = &L->wins[i];
        rerank_long_options_t lo_i = *lo;
        const size_t left = max_pairs - L->first[i]; /* first[i] <= max_pairs: checked below */
        if (left < INT32_MAX && (lo_i.max_chunks_per_doc == 0 || (size_t)lo_i.max_chunks_per_doc > left + 1))
            lo_i.max_chunks_per_doc = (int32_t)(left + 1);
        rerank_status_t st = m->scorer.window_pair(m->scorer.ctx, query->s, query->n, docs[i].s, docs[i].n, po, &lo_i, w);
        if (st != RERANK_OK) {
            int code = status_of(st, type);
            snprintf(err, cap, "%s[%zu]: %s", what, i, rerank_last_error());
            return code;
        }
        for (size_t k = 0; k < w->n; k++)
            if (!truncate && w->len[k] > m->max_length) {
                snprintf(err, cap, "query + %s[%zu] is %d tokens; the limit is %d (send \"truncate\": true to cut it)",
                         what, i, w->len[k], m->max_length);
                return 413;
            }
        L->first[i + 1] = L->first[i] + w->n;
        if (L->first[i + 1] > max_pairs) {
            snprintf(err, cap, "the %s make at least %zu windows; the queue holds %zu (ask for fewer max_chunks_per_doc)",
                     what, L->first[i + 1], max_pairs);
            return 413;
        }
    }
    size_t total = L->first[n];
    /* Every window as one of the job's pairs. */
    L->pairs = rr_calloc(total, sizeof *L->pairs);
    L->win_scores = rr_calloc(total, sizeof *L->win_scores);
    if (!L->pairs || !L->win_scores) goto nomem;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < L->wins[i].n; k++) {
            const rerank_windows_t *w = &L->wins[i];
            L->pairs[L->first[i] + k] =
                (rerank_pair_t){w->enc.ids + w->offset[k], w->enc.type_ids + w->offset[k], w->len[k]};
            L->tokens += (size_t)w->len[k];
        }
    return 0;
nomem:
    *type = "unavailable";
    snprintf(err, cap, "out of memory");
    return 503;
}

void rr_long_reduce(rr_long_req_t *L, float *scores) {
    for (size_t i = 0; i < L->n_docs; i++) {
        size_t b = L->first[i];
        for (size_t k = b + 1; k < L->first[i + 1]; k++)
            if (L->win_scores[k] > L->win_scores[b]) b = k;
        scores[i] = L->win_scores[b];
        L->best[i] = L->wins[i].chunks[b - L->first[i]];
    }
}

void rr_long_release(rr_long_req_t *L) {
    if (L->wins)
        for (size_t i = 0; i < L->n_docs; i++) rerank_windows_free(&L->wins[i]);
    rr_free(L->wins);
    rr_free(L->first);
    rr_free(L->win_scores);
    rr_free(L->best);
    rr_free(L->pairs);
    memset(L, 0, sizeof *L);
}
