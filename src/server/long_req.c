/* long_req.c — a rerank request whose documents are scored in windows
 * (chunks, or Cohere v2's max_tokens_per_doc cut): the request's options
 * over the server's defaults, every document's windows as the job's pairs,
 * and each document's best window once they are scored. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "server/server_internal.h"

int rr_long_options(const rr_conn_req_t *r, rerank_long_options_t *lo) {
    const rr_rerank_req_t *q = &r->req;
    const rr_server_config_t *c = r->srv->cfg;
    *lo = rerank_long_options_default();
    /* the request's mode; Cohere v1's max_chunks_per_doc alone asks for chunks */
    if (q->long_docs >= 0) lo->mode = (rerank_long_docs_t)q->long_docs;
    else if (q->max_chunks_per_doc > 0 || q->chunk_tokens > 0 || q->chunk_overlap >= 0) lo->mode = RERANK_LONG_DOCS_CHUNK;
    else if (c->long_docs && !strcmp(c->long_docs, "chunk")) lo->mode = RERANK_LONG_DOCS_CHUNK;
    lo->chunk_tokens = q->chunk_tokens >= 0 ? q->chunk_tokens : (int32_t)c->chunk_tokens;
    lo->chunk_overlap = q->chunk_overlap >= 0 ? q->chunk_overlap : (int32_t)c->chunk_overlap;
    /* a request's own window size does not inherit the server's overlap */
    if (q->chunk_tokens > 0 && q->chunk_overlap < 0 && lo->chunk_overlap >= lo->chunk_tokens) lo->chunk_overlap = 0;
    lo->max_chunks_per_doc = q->max_chunks_per_doc > 0 ? q->max_chunks_per_doc : (int32_t)c->max_chunks_per_doc;
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

int rr_long_encode(rr_conn_req_t *r, const rerank_pair_options_t *po, const rerank_long_options_t *lo, int truncate,
                   const char *what, char *err, size_t cap, const char **type) {
    rr_server_t *s = r->srv;
    const rr_served_t *m = r->model;
    size_t n = r->req.n_docs;
    *type = "validation";
    if (!m->scorer.window_pair) {
        snprintf(err, cap, "this server's model cannot score long documents in windows");
        return 422;
    }
    r->wins = rr_calloc(n, sizeof *r->wins);
    r->first = rr_calloc(n + 1, sizeof *r->first);
    r->best = rr_calloc(n, sizeof *r->best);
    if (!r->wins || !r->first || !r->best) goto nomem;
    /* Each document's windows, checked against the length as a pair is.
     * The queue bound is checked as they come: a document is cut into at
     * most one window more than the queue has left for it (enough to tell
     * it does not fit), so a request that cannot be queued is refused
     * before its windows' ids are built (up to max_chunks_per_doc copies
     * of the query per document, for every document). */
    const size_t max_pairs = (size_t)s->cfg->max_queue_pairs;
    for (size_t i = 0; i < n; i++) {
        rerank_windows_t *w = &r->wins[i];
        rerank_long_options_t lo_i = *lo;
        const size_t left = max_pairs - r->first[i]; /* first[i] <= max_pairs: checked below */
        if (left < INT32_MAX && (lo_i.max_chunks_per_doc == 0 || (size_t)lo_i.max_chunks_per_doc > left + 1))
            lo_i.max_chunks_per_doc = (int32_t)(left + 1);
        rerank_status_t st = m->scorer.window_pair(m->scorer.ctx, r->req.query.s, r->req.query.n, r->req.docs[i].s,
                                                   r->req.docs[i].n, po, &lo_i, w);
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
        r->first[i + 1] = r->first[i] + w->n;
        if (r->first[i + 1] > max_pairs) {
            snprintf(err, cap,
                     "the %s make at least %zu windows; the queue holds %ld (ask for fewer max_chunks_per_doc)",
                     what, r->first[i + 1], s->cfg->max_queue_pairs);
            return 413;
        }
    }
    size_t total = r->first[n];
    /* Every window as one of the job's pairs. */
    rr_free(r->pairs);
    r->pairs = rr_calloc(total, sizeof *r->pairs);
    r->win_scores = rr_calloc(total, sizeof *r->win_scores);
    if (!r->pairs || !r->win_scores) goto nomem;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < r->wins[i].n; k++) {
            const rerank_windows_t *w = &r->wins[i];
            r->pairs[r->first[i] + k] =
                (rerank_pair_t){w->enc.ids + w->offset[k], w->enc.type_ids + w->offset[k], w->len[k]};
            r->total_tokens += (size_t)w->len[k];
        }
    return 0;
nomem:
    *type = "unavailable";
    snprintf(err, cap, "out of memory");
    return 503;
}

void rr_long_reduce(rr_conn_req_t *r) {
    for (size_t i = 0; i < r->req.n_docs; i++) {
        size_t b = r->first[i];
        for (size_t k = b + 1; k < r->first[i + 1]; k++)
            if (r->win_scores[k] > r->win_scores[b]) b = k;
        r->scores[i] = r->win_scores[b];
        r->best[i] = r->wins[i].chunks[b - r->first[i]];
    }
}

void rr_long_release(rr_conn_req_t *r) {
    if (r->wins)
        for (size_t i = 0; i < r->req.n_docs; i++) rerank_windows_free(&r->wins[i]);
    rr_free(r->wins);
    rr_free(r->first);
    rr_free(r->win_scores);
    rr_free(r->best);
    r->wins = NULL;
    r->first = NULL;
    r->win_scores = NULL;
    r->best = NULL;
}
