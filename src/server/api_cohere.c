/* api_cohere.c — Cohere / Jina rerank (`POST /v1/rerank`, `/v2/rerank`):
 *   {"model"?, "query", "documents": [string | {"text"}], "top_n"?,
 *    "return_documents"?, "raw_scores"?, "truncate"?, "instruction"?}
 *   -> {"id", "model", "results": [{"index", "relevance_score",
 *       "document"?: {"text"}}], "usage": {"total_tokens"}, "meta"} */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "server/api.h"
#include "server/api_internal.h"

rr_api_status_t rr_api_parse_cohere(const char *body, size_t n, rr_api_kind_t kind,
                                    const rr_api_limits_t *lim, rr_rerank_req_t *out,
                                    char *err, size_t cap) {
    memset(out, 0, sizeof *out);
    json_t *root;
    rr_api_status_t st = rr_api_load(body, n, lim, &root, err, cap);
    if (st) return st;
    rr_rerank_req_t r = {.kind = kind, .root_ = root, .truncate = -1};
    json_t *model = json_object_get(root, "model");
    if (model && !json_is_null(model)) {
        if ((st = rr_api_get_text(model, "\"model\"", 1024, &r.model, err, cap))) goto fail;
    }
    if ((st = rr_api_get_query(root, lim, &r.query, err, cap)) ||
        (st = rr_api_get_instruction(root, lim, &r.instruction, err, cap)))
        goto fail;
    json_t *docs = json_object_get(root, "documents");
    if (!docs) { st = rr_api_fail(RR_API_BAD_REQUEST, err, cap, "missing field \"documents\""); goto fail; }
    if (!json_is_array(docs)) {
        st = rr_api_fail(RR_API_BAD_REQUEST, err, cap, "\"documents\" must be an array of strings or {\"text\": string} objects");
        goto fail;
    }
    r.n_docs = json_array_size(docs);
    if (r.n_docs == 0) { st = rr_api_fail(RR_API_BAD_REQUEST, err, cap, "\"documents\" must not be empty"); goto fail; }
    if (r.n_docs > lim->max_docs) {
        st = rr_api_fail(RR_API_TOO_LARGE, err, cap, "\"documents\" has %zu entries; the limit is %zu", r.n_docs, lim->max_docs);
        goto fail;
    }
    r.docs = rr_calloc(r.n_docs, sizeof *r.docs);
    if (!r.docs) { st = rr_api_fail(RR_API_NOMEM, err, cap, "out of memory"); goto fail; }
    for (size_t i = 0; i < r.n_docs; i++) {
        json_t *d = json_array_get(docs, i);
        char what[64];
        if (json_is_object(d)) {
            snprintf(what, sizeof what, "\"documents\"[%zu].text", i);
            json_t *t = json_object_get(d, "text");
            if (!t) { st = rr_api_fail(RR_API_BAD_REQUEST, err, cap, "%s is missing", what); goto fail; }
            d = t;
        } else if (!json_is_string(d)) {
            st = rr_api_fail(RR_API_BAD_REQUEST, err, cap, "\"documents\"[%zu] must be a string or {\"text\": string}", i);
            goto fail;
        } else {
            snprintf(what, sizeof what, "\"documents\"[%zu]", i);
        }
        if ((st = rr_api_get_text(d, what, lim->max_text_bytes, &r.docs[i], err, cap))) goto fail;
    }
    json_t *top = json_object_get(root, "top_n");
    if (top && !json_is_null(top)) {
        if (!json_is_integer(top)) { st = rr_api_fail(RR_API_BAD_REQUEST, err, cap, "\"top_n\" must be an integer"); goto fail; }
        json_int_t t = json_integer_value(top);
        if (t < 1) { st = rr_api_fail(RR_API_UNPROCESSABLE, err, cap, "\"top_n\" must be >= 1"); goto fail; }
        r.top_n = (size_t)t < r.n_docs ? (size_t)t : r.n_docs;
    }
    int b = -1;
    if ((st = rr_api_get_bool(root, "truncate", &b, err, cap))) goto fail;
    r.truncate = b;
    if ((st = rr_api_get_bool(root, "return_documents", &r.return_text, err, cap))) goto fail;
    if ((st = rr_api_get_bool(root, "raw_scores", &r.raw_scores, err, cap))) goto fail;
    if ((st = rr_api_get_long_docs(root, &r, err, cap))) goto fail;
    *out = r;
    return RR_API_OK;
fail:
    rr_rerank_req_release(&r);
    return st;
}

char *rr_api_render_cohere(const rr_rerank_req_t *req, const float *scores, const char *id,
                           const char *model, size_t total_tokens, size_t *len) {
    size_t *order = rr_malloc(req->n_docs * sizeof *order);
    json_t *root = json_object(), *results = json_array();
    if (!order || !root || !results || json_object_set_new(root, "id", json_string(id)) ||
        json_object_set_new(root, "model", json_string(model)) || json_object_set(root, "results", results))
        goto fail;
    rr_api_rank(scores, req->n_docs, order);
    size_t n = req->top_n ? req->top_n : req->n_docs;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        if (!isfinite(scores[i])) goto fail;
        json_t *o = json_object();
        if (!o || json_array_append_new(results, o)) goto fail;
        if (json_object_set_new(o, "index", json_integer((json_int_t)i)) ||
            json_object_set_new(o, "relevance_score", json_real(scores[i])))
            goto fail;
        if (req->return_text &&
            json_object_set_new(o, "document", json_pack("{s:s%}", "text", req->docs[i].s, req->docs[i].n)))
            goto fail;
        if (req->best && rr_api_set_chunk(o, &req->best[i])) goto fail;
    }
    json_t *usage = json_pack("{s:I}", "total_tokens", (json_int_t)total_tokens);
    json_t *meta = json_pack("{s:{s:s}, s:{s:i}}", "api_version", "version",
                             req->kind == RR_API_COHERE_V2 ? "2" : "1", "billed_units", "search_units", 1);
    /* set_new takes ownership even on failure: call both */
    int bad = json_object_set_new(root, "usage", usage);
    bad |= json_object_set_new(root, "meta", meta);
    if (bad) goto fail;
    json_decref(results);
    rr_free(order);
    return rr_api_dump(root, len);
fail:
    rr_free(order);
    json_decref(results);
    json_decref(root);
    return NULL;
}
