/* api_tei.c — Hugging Face text-embeddings-inference `POST /rerank`:
 *   {"query", "texts": [string], "truncate"?, "truncation_direction"?,
 *    "raw_scores"?, "return_text"?, "instruction"?}  ->  [{"index", "score", "text"?}] */
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "server/api.h"
#include "server/api_internal.h"

rr_api_status_t rr_api_parse_tei(const char *body, size_t n, const rr_api_limits_t *lim,
                                 rr_rerank_req_t *out, char *err, size_t cap) {
    memset(out, 0, sizeof *out);
    json_t *root;
    rr_api_status_t st = rr_api_load(body, n, lim, &root, err, cap);
    if (st) return st;
    rr_rerank_req_t r = {.kind = RR_API_TEI, .root_ = root, .truncate = -1};
    if ((st = rr_api_get_query(root, lim, &r.query, err, cap)) ||
        (st = rr_api_get_instruction(root, lim, &r.instruction, err, cap)))
        goto fail;
    json_t *texts = json_object_get(root, "texts");
    if (!texts) { st = rr_api_fail(RR_API_BAD_REQUEST, err, cap, "missing field \"texts\""); goto fail; }
    if (!json_is_array(texts)) { st = rr_api_fail(RR_API_BAD_REQUEST, err, cap, "\"texts\" must be an array of strings"); goto fail; }
    r.n_docs = json_array_size(texts);
    if (r.n_docs == 0) { st = rr_api_fail(RR_API_BAD_REQUEST, err, cap, "\"texts\" must not be empty"); goto fail; }
    if (r.n_docs > lim->max_docs) {
        st = rr_api_fail(RR_API_TOO_LARGE, err, cap, "\"texts\" has %zu entries; the limit is %zu", r.n_docs, lim->max_docs);
        goto fail;
    }
    r.docs = rr_calloc(r.n_docs, sizeof *r.docs);
    if (!r.docs) { st = rr_api_fail(RR_API_NOMEM, err, cap, "out of memory"); goto fail; }
    for (size_t i = 0; i < r.n_docs; i++) {
        char what[48];
        snprintf(what, sizeof what, "\"texts\"[%zu]", i);
        if ((st = rr_api_get_text(json_array_get(texts, i), what, lim->max_text_bytes, &r.docs[i], err, cap))) goto fail;
    }
    int b = -1;
    if ((st = rr_api_get_bool(root, "truncate", &b, err, cap))) goto fail;
    r.truncate = b;
    if ((st = rr_api_get_bool(root, "raw_scores", &r.raw_scores, err, cap))) goto fail;
    if ((st = rr_api_get_bool(root, "return_text", &r.return_text, err, cap))) goto fail;
    if ((st = rr_api_get_long_docs(root, &r, err, cap))) goto fail;
    json_t *dir = json_object_get(root, "truncation_direction");
    if (dir && !json_is_null(dir)) {
        if (!json_is_string(dir)) { st = rr_api_fail(RR_API_BAD_REQUEST, err, cap, "\"truncation_direction\" must be \"Right\" or \"Left\""); goto fail; }
        const char *d = json_string_value(dir);
        size_t dn = json_string_length(dir); /* "left\u0000x" is not "left" */
        if (dn == 4 && !strcasecmp(d, "left")) r.direction = RERANK_TRUNC_LEFT;
        else if (dn == 5 && !strcasecmp(d, "right")) r.direction = RERANK_TRUNC_RIGHT;
        else { st = rr_api_fail(RR_API_BAD_REQUEST, err, cap, "\"truncation_direction\" must be \"Right\" or \"Left\""); goto fail; }
    }
    *out = r;
    return RR_API_OK;
fail:
    rr_rerank_req_release(&r);
    return st;
}

char *rr_api_render_tei(const rr_rerank_req_t *req, const float *scores, size_t *len) {
    size_t *order = rr_malloc(req->n_docs * sizeof *order);
    json_t *arr = json_array();
    if (!order || !arr) goto fail;
    rr_api_rank(scores, req->n_docs, order);
    for (size_t k = 0; k < req->n_docs; k++) {
        size_t i = order[k];
        if (!isfinite(scores[i])) goto fail;
        json_t *o = json_object();
        if (!o || json_array_append_new(arr, o)) goto fail;
        if (json_object_set_new(o, "index", json_integer((json_int_t)i)) ||
            json_object_set_new(o, "score", json_real(scores[i])))
            goto fail;
        if (req->return_text && json_object_set_new(o, "text", json_stringn(req->docs[i].s, req->docs[i].n)))
            goto fail;
        if (req->best && rr_api_set_chunk(o, &req->best[i])) goto fail;
    }
    rr_free(order);
    return rr_api_dump(arr, len);
fail:
    rr_free(order);
    json_decref(arr);
    return NULL;
}
