/* window.c — chunked pairs at the token level (window.h): tokenize the
 * query and the document once, keep the query as the truncation would
 * against a long document, cut the document's ids into windows of the room
 * left, wrap each window in the pair template. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "tokenizer/internal.h"
#include "tokenizer/window.h"

rerank_long_options_t rerank_long_options_default(void) {
    return (rerank_long_options_t){.mode = RERANK_LONG_DOCS_TRUNCATE};
}

void rerank_windows_free(rerank_windows_t *w) {
    if (!w) return;
    rerank_encoding_free(&w->enc);
    rr_free(w->offset);
    rr_free(w->len);
    rr_free(w->chunks);
    memset(w, 0, sizeof *w);
}

rerank_status_t rr_long_options_check(const rerank_long_options_t *lo) {
    if (lo->mode != RERANK_LONG_DOCS_TRUNCATE && lo->mode != RERANK_LONG_DOCS_CHUNK)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "long documents: unknown mode %d (truncate or chunk)",
                        (int)lo->mode);
    if (lo->chunk_tokens < 0)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "chunk_tokens = %d is negative", lo->chunk_tokens);
    if (lo->chunk_overlap < 0)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "chunk_overlap = %d is negative", lo->chunk_overlap);
    if (lo->max_chunks_per_doc < 0)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "max_chunks_per_doc = %d is negative", lo->max_chunks_per_doc);
    if (lo->max_tokens_per_doc < 0)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "max_tokens_per_doc = %d is negative", lo->max_tokens_per_doc);
    return RERANK_OK;
}

/* Room for one more window in out (its encoding grows in add_window). */
static rerank_status_t reserve_window(rerank_windows_t *out) {
    if (out->n < out->cap) return RERANK_OK;
    size_t cap = out->cap ? out->cap * 2 : 4;
    size_t *off = rr_realloc(out->offset, cap * sizeof *off);
    if (off) out->offset = off;
    int32_t *len = off ? rr_realloc(out->len, cap * sizeof *len) : NULL;
    if (len) out->len = len;
    rerank_chunk_info_t *ch = len ? rr_realloc(out->chunks, cap * sizeof *ch) : NULL;
    if (ch) out->chunks = ch;
    if (!ch) return rr_error(RERANK_ERR_NOMEM, "windows: out of memory");
    out->cap = cap;
    return RERANK_OK;
}

rerank_status_t rr_windows_append(const rerank_encoding_t *e, rerank_chunk_info_t info, rerank_windows_t *out) {
    rerank_status_t st = reserve_window(out);
    if (st) return st;
    size_t need = out->enc.n + e->n;
    if (need > out->enc.cap) {
        size_t cap = need * 2, bytes;
        if (rr_mul_size(cap, sizeof(int32_t), &bytes)) return rr_error(RERANK_ERR_LIMIT, "windows: too many ids");
        int32_t *ids = rr_realloc(out->enc.ids, bytes);
        if (ids) out->enc.ids = ids;
        int32_t *ty = ids ? rr_realloc(out->enc.type_ids, bytes) : NULL;
        if (ty) out->enc.type_ids = ty;
        if (!ty) return rr_error(RERANK_ERR_NOMEM, "windows: out of memory");
        out->enc.cap = cap;
    }
    memcpy(out->enc.ids + out->enc.n, e->ids, e->n * sizeof(int32_t));
    memcpy(out->enc.type_ids + out->enc.n, e->type_ids, e->n * sizeof(int32_t));
    out->offset[out->n] = out->enc.n;
    out->len[out->n] = (int32_t)e->n;
    out->chunks[out->n] = info;
    out->enc.n = need;
    out->n++;
    return RERANK_OK;
}

/* The pair template around each window: the query's ids and the tokenizer. */
typedef struct pair_wrap {
    const rerank_tokenizer_t *tok;
    const int32_t *q;
    size_t nq;
    rerank_encoding_t *tmp;
} pair_wrap_t;

/* Append the pair (q, d) wrapped in the pair template as the next window. */
static rerank_status_t add_window(void *ctx, const int32_t *d, size_t nd, rerank_chunk_info_t info,
                                  rerank_windows_t *out) {
    static const int32_t empty[1] = {0};
    const pair_wrap_t *pw = ctx;
    rerank_status_t st = rr_template_apply(&pw->tok->tpl, pw->q, pw->nq, d ? d : empty, nd, pw->tmp);
    return st ? st : rr_windows_append(pw->tmp, info, out);
}

/* Query ids kept against a long document: flag keeps up to 3/4 of
 * max_length, longest_first up to half the room after the special tokens,
 * none all of them. */
static size_t query_keep(size_t nq, int32_t max_length, size_t overhead, rerank_truncation_t tr) {
    size_t max = (size_t)max_length, keep = nq;
    if (tr == RERANK_TRUNC_FLAG) keep = max * 3 / 4;
    else if (tr == RERANK_TRUNC_LONGEST_FIRST) keep = max > overhead ? (max - overhead) / 2 : 0;
    return nq < keep ? nq : keep;
}

rerank_status_t rr_windows_cut(const int32_t *d, size_t nd, size_t room, const rerank_long_options_t *lo,
                               rr_window_wrap_fn wrap, void *ctx, rerank_windows_t *out) {
    const size_t asked = lo->chunk_tokens > 0 ? (size_t)lo->chunk_tokens : 0, win = asked && asked < room ? asked : room;
    size_t overlap = (size_t)lo->chunk_overlap;
    /* A window the query's room made smaller than chunk_tokens keeps the
     * overlap's share of it, rounded down: options valid for a short query
     * (overlap below chunk_tokens) hold for every query. */
    if (asked > win && overlap < asked) overlap = overlap * win / asked;
    if (!win || overlap >= win)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT,
                        "chunk_overlap = %d must be below the window's %zu document tokens (chunk_tokens %d, room "
                        "left by the query %zu)",
                        lo->chunk_overlap, win, lo->chunk_tokens, room);
    const size_t stride = win - overlap;
    size_t n = nd <= win ? 1 : 1 + (nd - win + stride - 1) / stride;
    if (lo->max_chunks_per_doc > 0 && n > (size_t)lo->max_chunks_per_doc) n = (size_t)lo->max_chunks_per_doc;
    rerank_status_t st = RERANK_OK;
    for (size_t w = 0; w < n && !st; w++) {
        size_t a = w * stride, b = a + win < nd ? a + win : nd;
        rerank_chunk_info_t info = {.chunk = (int32_t)w, .n_chunks = (int32_t)n, .token_start = (int32_t)a,
                                    .token_end = (int32_t)b, .doc_tokens = (int32_t)nd};
        st = wrap(ctx, d ? d + a : NULL, b - a, info, out);
    }
    return st;
}

rerank_status_t rr_tokenize_windows(const rerank_tokenizer_t *tok, const char *query, size_t query_len,
                                    const char *doc, size_t doc_len, const rerank_pair_options_t *po,
                                    const rerank_long_options_t *lo, rerank_windows_t *out) {
    out->enc.n = 0;
    out->n = 0;
    rerank_status_t st = rr_long_options_check(lo);
    if (st) return st;
    if (po->max_length <= 0)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "windows: max_length %d must be resolved", po->max_length);
    rerank_encoding_t tmp = {0};
    if ((st = rr_tokenizer_check_text("query", query, query_len)) ||
        (st = rr_tokenizer_check_text("document", doc, doc_len)))
        return st;
    size_t overhead = rr_template_overhead(&tok->tpl, 1);
    int left = po->direction == RERANK_TRUNC_LEFT;
    rr_ids_t q = {0}, d = {0};
    /* Each text tokenized once, in full. */
    st = rr_tokenizer_encode(tok, query, query_len, NULL, &q);
    if (!st) st = rr_tokenizer_encode(tok, doc, doc_len, NULL, &d);
    if (st) goto done;
    /* Cohere v2's per-document cut comes first, in both modes. */
    const int32_t *dv = d.v;
    size_t nd = d.n;
    if (lo->max_tokens_per_doc > 0 && nd > (size_t)lo->max_tokens_per_doc) {
        if (left) dv += nd - (size_t)lo->max_tokens_per_doc;
        nd = (size_t)lo->max_tokens_per_doc;
    }
    const int32_t *qv = q.v;
    size_t nq = q.n;
    if (lo->mode == RERANK_LONG_DOCS_TRUNCATE) {
        /* The pair truncation on the cut document (counted in full). */
        size_t na = nq, nb = nd;
        rr_truncate_pair(&na, &nb, po->max_length, overhead, po->truncation);
        if (left) {
            qv += nq - na;
            dv += nd - nb;
        }
        rerank_chunk_info_t info = {.n_chunks = 1, .token_start = (int32_t)(left ? nd - nb : 0),
                                    .token_end = (int32_t)(left ? nd : nb), .doc_tokens = (int32_t)nd};
        st = add_window(&(pair_wrap_t){tok, qv, na, &tmp}, dv, nb, info, out);
        goto done;
    }
    /* Chunks: the query keeps its share, the document gets the room. */
    size_t keep = query_keep(nq, po->max_length, overhead, po->truncation);
    if (left) qv += nq - keep;
    size_t used = keep + overhead;
    if (used >= (size_t)po->max_length) {
        st = rr_error(RERANK_ERR_LIMIT,
                      "chunking: the query (%zu tokens) and %zu special tokens leave no room for the document in "
                      "max_length %d",
                      keep, overhead, po->max_length);
        goto done;
    }
    st = rr_windows_cut(dv, nd, (size_t)po->max_length - used, lo, add_window, &(pair_wrap_t){tok, qv, keep, &tmp},
                        out);
done:
    rr_ids_release(&q);
    rr_ids_release(&d);
    rerank_encoding_free(&tmp);
    if (st) out->enc.n = out->n = 0;
    return st;
}
