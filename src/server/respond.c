/* respond.c — building and queueing an HTTP response (headers, error bodies); used by the dispatcher and the routes. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "server/api.h"
#include "server/route.h"
#include "server/server_internal.h"
#include "server/server_limits.h"

/* TEI's timing headers of a scored request (rr_respond_scored). */
static void add_timing(struct MHD_Response *resp, const rr_conn_req_t *r) {
    const unsigned long long total_ms = (unsigned long long)((rr_now_s() - r->t0) * 1e3);
    const struct { const char *name; unsigned long long v; } k[] = {
        {"x-compute-time", total_ms},
        {"x-compute-characters", rr_api_compute_chars(&r->req.query, r->req.docs, r->req.n_docs)},
        {"x-compute-tokens", r->total_tokens},
        {"x-total-time", total_ms},
        {"x-tokenization-time", (unsigned long long)(r->tokenize_s * 1e3)},
        {"x-queue-time", (unsigned long long)(r->job.queue_s * 1e3)},
        {"x-inference-time", (unsigned long long)(r->job.infer_s * 1e3)},
    };
    MHD_add_response_header(resp, "x-compute-type", r->model && r->model->info.device ? r->model->info.device : "cpu");
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char v[24];
        snprintf(v, sizeof v, "%llu", k[i].v);
        MHD_add_response_header(resp, k[i].name, v);
    }
}

static enum MHD_Result respond(rr_conn_req_t *r, int status, const char *ctype, char *body, size_t len,
                               int retry_after, int timed) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        rr_free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    char id[32];
    snprintf(id, sizeof id, "%llu", r->id);
    MHD_add_response_header(resp, "X-Request-Id", id);
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (status == 405) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rr_route_allow(rr_route_get_def(r->route)));
    if (status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (timed) add_timing(resp, r);
    if (atomic_load(&r->srv->state) == RR_STATE_DRAINING)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = status;
    r->resp_bytes = len;
    rr_req_received(r); /* an early answer (413 from the headers): the rest of the body no longer matters */
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result rr_respond(rr_conn_req_t *r, int status, const char *ctype, char *body, size_t len,
                           int retry_after) {
    return respond(r, status, ctype, body, len, retry_after, 0);
}

enum MHD_Result rr_respond_scored(rr_conn_req_t *r, char *body, size_t len) {
    return respond(r, 200, "application/json", body, len, 0, 1);
}

enum MHD_Result rr_respond_error(rr_conn_req_t *r, int status, const char *type, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    char *body = rr_api_render_error(status, type, msg, &len);
    if (!body) return rr_respond(r, status, "text/plain", NULL, 0, 0);
    int retry = (status == 429 || status == 503) ? RR_SRV_RETRY_AFTER_S : 0;
    return rr_respond(r, status, "application/json", body, len, retry);
}

enum MHD_Result rr_respond_json(rr_conn_req_t *r, int status, json_t *j) {
    char *body = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(j);
    if (!body) return rr_respond_error(r, 503, "unavailable", "out of memory");
    return rr_respond(r, status, "application/json", body, strlen(body), status == 503 ? RR_SRV_RETRY_AFTER_S : 0);
}
