/* api_common.c — shared pieces of the JSON API: body pre-checks, field
 * readers, ranking and error bodies. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/utf8.h"
#include "server/api.h"
#include "server/api_internal.h"
#include "server/server_limits.h"

rr_api_status_t rr_api_fail(rr_api_status_t st, char *err, size_t cap, const char *fmt, ...) {
    if (cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* Count JSON containers and separators outside strings: an upper bound on
 * the number of values jansson would allocate, computed without allocating. */
static size_t count_json_values(const char *s, size_t n) {
    size_t count = 1;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') in_str = 1;
        else if (c == '[' || c == '{' || c == ',') count++;
    }
    return count;
}

rr_api_status_t rr_api_load(const char *body, size_t n, const rr_api_limits_t *lim, json_t **root,
                            char *err, size_t cap) {
    *root = NULL;
    if (n > lim->max_body_bytes)
        return rr_api_fail(RR_API_TOO_LARGE, err, cap, "request body is %zu bytes; the limit is %zu", n,
                           lim->max_body_bytes);
    if (n == 0 || !body) return rr_api_fail(RR_API_BAD_REQUEST, err, cap, "request body is empty; expected a JSON object");
    size_t bad;
    if (!rr_utf8_valid(body, n, &bad))
        return rr_api_fail(RR_API_BAD_REQUEST, err, cap, "request body is not valid UTF-8 (byte %zu)", bad);
    size_t max_values = RR_SRV_JSON_VALUES_BASE + lim->max_docs * RR_SRV_JSON_VALUES_PER_DOC;
    if (count_json_values(body, n) > max_values)
        return rr_api_fail(RR_API_TOO_LARGE, err, cap,
                           "request has too many JSON values (more than %zu); at most %zu documents are accepted",
                           max_values, lim->max_docs);
    json_error_t je;
    json_t *r = json_loadb(body, n, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
    if (!r) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return rr_api_fail(RR_API_NOMEM, err, cap, "out of memory");
        return rr_api_fail(RR_API_BAD_REQUEST, err, cap, "malformed JSON at line %d column %d: %s", je.line,
                           je.column, je.text);
    }
    if (!json_is_object(r)) {
        json_decref(r);
        return rr_api_fail(RR_API_BAD_REQUEST, err, cap, "request body must be a JSON object");
    }
    *root = r;
    return RR_API_OK;
}

rr_api_status_t rr_api_get_text(json_t *v, const char *what, size_t max_bytes, rr_text_t *out, char *err,
                                size_t cap) {
    if (!json_is_string(v)) return rr_api_fail(RR_API_BAD_REQUEST, err, cap, "%s must be a string", what);
    out->s = json_string_value(v);
    out->n = json_string_length(v);
    if (out->n > max_bytes)
        return rr_api_fail(RR_API_TOO_LARGE, err, cap, "%s is %zu bytes; the limit is %zu", what, out->n, max_bytes);
    return RR_API_OK;
}

rr_api_status_t rr_api_get_bool(json_t *obj, const char *key, int *out, char *err, size_t cap) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return RR_API_OK;
    if (!json_is_boolean(v)) return rr_api_fail(RR_API_BAD_REQUEST, err, cap, "\"%s\" must be a boolean", key);
    *out = json_is_true(v);
    return RR_API_OK;
}

rr_api_status_t rr_api_get_query(json_t *root, const rr_api_limits_t *lim, rr_text_t *out, char *err,
                                 size_t cap) {
    json_t *q = json_object_get(root, "query");
    if (!q) return rr_api_fail(RR_API_BAD_REQUEST, err, cap, "missing field \"query\"");
    rr_api_status_t st = rr_api_get_text(q, "\"query\"", lim->max_text_bytes, out, err, cap);
    return st; /* an empty query is scored, as by TEI and Hugging Face tokenizers */
}

rr_api_status_t rr_api_get_instruction(json_t *root, const rr_api_limits_t *lim, rr_text_t *out, char *err,
                                       size_t cap) {
    json_t *v = json_object_get(root, "instruction");
    *out = (rr_text_t){NULL, 0};
    if (!v || json_is_null(v)) return RR_API_OK;
    return rr_api_get_text(v, "\"instruction\"", lim->max_text_bytes, out, err, cap);
}

void rr_rerank_req_release(rr_rerank_req_t *req) {
    if (!req) return;
    if (req->root_) json_decref((json_t *)req->root_);
    rr_free(req->docs);
    memset(req, 0, sizeof *req);
}

typedef struct { float s; size_t i; } ranked_t;

static int cmp_ranked(const void *a, const void *b) {
    const ranked_t *x = a, *y = b;
    int xn = isnan(x->s), yn = isnan(y->s);
    if (xn != yn) return xn - yn;
    if (!xn && x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void rr_api_rank(const float *scores, size_t n, size_t *order) {
    ranked_t *r = n ? rr_malloc(n * sizeof *r) : NULL;
    if (!r) { /* fall back to an insertion sort in place: no allocation */
        for (size_t i = 0; i < n; i++) order[i] = i;
        for (size_t i = 1; i < n; i++) {
            size_t k = order[i], j = i;
            ranked_t kk = {scores[k], k};
            while (j > 0) {
                ranked_t pj = {scores[order[j - 1]], order[j - 1]};
                if (cmp_ranked(&pj, &kk) <= 0) break;
                order[j] = order[j - 1];
                j--;
            }
            order[j] = k;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) r[i] = (ranked_t){scores[i], i};
    qsort(r, n, sizeof *r, cmp_ranked);
    for (size_t i = 0; i < n; i++) order[i] = r[i].i;
    rr_free(r);
}

char *rr_api_dump(json_t *root, size_t *len) {
    if (!root) return NULL;
    char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(root);
    if (!s) return NULL;
    /* json_dumps allocates through rr_malloc once rr_alloc_init_json ran,
     * through malloc otherwise; rr_free is free either way. */
    if (len) *len = strlen(s);
    return s;
}

/* A message can hold a byte sequence jansson refuses: it echoes client text
 * cut at a byte count (a model name, "%.*s") and vsnprintf cuts it at its
 * buffer's size, either of which can split a UTF-8 character. jansson then
 * builds nothing and the error would go out without its JSON body, so every
 * byte of an invalid sequence becomes '?'. */
static void utf8_scrub(char *s, size_t n) {
    size_t off = 0, bad;
    while (off < n && !rr_utf8_valid(s + off, n - off, &bad)) {
        s[off + bad] = '?';
        off += bad + 1;
    }
}

char *rr_api_render_error(int code, const char *type, const char *msg, size_t *len) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", msg ? msg : "");
    utf8_scrub(buf, strlen(buf));
    json_t *e = json_pack("{s:{s:s, s:s, s:i}}", "error", "message", buf, "type", type, "code", code);
    return rr_api_dump(e, len);
}

static size_t utf8_chars(const rr_text_t *t) {
    size_t c = 0;
    for (size_t i = 0; i < t->n; i++) c += ((unsigned char)t->s[i] & 0xC0) != 0x80;
    return c;
}

size_t rr_api_compute_chars(const rr_text_t *query, const rr_text_t *docs, size_t n) {
    size_t c = n * utf8_chars(query);
    for (size_t i = 0; i < n; i++) c += utf8_chars(&docs[i]);
    return c;
}
