/* api_long.c — the long-document members of a rerank request, in every API:
 * "long_docs", "chunk_tokens", "chunk_overlap", "max_chunks_per_doc"
 * (Cohere v1), "max_tokens_per_doc" (Cohere v2); and the winning window in
 * a result. */
#include <jansson.h>
#include <string.h>

#include "server/api.h"
#include "server/api_internal.h"
#include "server/server_limits.h"

/* Optional integer member in [lo, hi] (absent or null: *out stays -1). */
static rr_api_status_t get_int(json_t *root, const char *key, long lo, long hi, int32_t *out, char *err,
                               size_t cap) {
    *out = -1;
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return RR_API_OK;
    if (!json_is_integer(v)) return rr_api_fail(RR_API_BAD_REQUEST, err, cap, "\"%s\" must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return rr_api_fail(RR_API_UNPROCESSABLE, err, cap, "\"%s\" must be in [%ld, %ld], got %lld", key, lo, hi,
                           (long long)x);
    *out = (int32_t)x;
    return RR_API_OK;
}

rr_api_status_t rr_api_get_long_docs(json_t *root, rr_rerank_req_t *r, char *err, size_t cap) {
    r->long_docs = -1;
    rr_api_status_t st;
    json_t *m = json_object_get(root, "long_docs");
    if (m && !json_is_null(m)) {
        const char *s = json_string_value(m);
        size_t n = json_is_string(m) ? json_string_length(m) : 0;
        if (!json_is_string(m))
            return rr_api_fail(RR_API_BAD_REQUEST, err, cap, "\"long_docs\" must be \"truncate\" or \"chunk\"");
        if (n == 8 && !strcmp(s, "truncate")) r->long_docs = RERANK_LONG_DOCS_TRUNCATE;
        else if (n == 5 && !strcmp(s, "chunk")) r->long_docs = RERANK_LONG_DOCS_CHUNK;
        else return rr_api_fail(RR_API_UNPROCESSABLE, err, cap, "\"long_docs\" must be \"truncate\" or \"chunk\"");
    }
    if ((st = get_int(root, "chunk_tokens", 1, RR_MAX_SEQ_TOKENS, &r->chunk_tokens, err, cap)) ||
        (st = get_int(root, "chunk_overlap", 0, RR_MAX_SEQ_TOKENS, &r->chunk_overlap, err, cap)) ||
        (st = get_int(root, "max_chunks_per_doc", 1, RR_SRV_MAX_CHUNKS_PER_DOC, &r->max_chunks_per_doc, err, cap)) ||
        (st = get_int(root, "max_tokens_per_doc", 1, RR_MAX_TEXT_BYTES, &r->max_tokens_per_doc, err, cap)))
        return st;
    if (r->chunk_tokens > 0 && r->chunk_overlap >= r->chunk_tokens)
        return rr_api_fail(RR_API_UNPROCESSABLE, err, cap, "\"chunk_overlap\" (%d) must be below \"chunk_tokens\" (%d)",
                           r->chunk_overlap, r->chunk_tokens);
    /* Cohere v1's max_chunks_per_doc asks for chunks: not with truncation */
    if (r->long_docs == RERANK_LONG_DOCS_TRUNCATE &&
        (r->max_chunks_per_doc > 0 || r->chunk_tokens > 0 || r->chunk_overlap >= 0))
        return rr_api_fail(RR_API_UNPROCESSABLE, err, cap,
                           "\"chunk_tokens\", \"chunk_overlap\" and \"max_chunks_per_doc\" need \"long_docs\": \"chunk\"");
    return RR_API_OK;
}

int rr_api_set_chunk(json_t *o, const rerank_chunk_info_t *c) {
    int bad = json_object_set_new(o, "chunk", json_integer(c->chunk));
    bad |= json_object_set_new(o, "chunks", json_integer(c->n_chunks));
    bad |= json_object_set_new(o, "token_start", json_integer(c->token_start));
    bad |= json_object_set_new(o, "token_end", json_integer(c->token_end));
    bad |= json_object_set_new(o, "doc_tokens", json_integer(c->doc_tokens));
    return bad ? -1 : 0;
}
