/* handlers.c — what each route does once its request is complete (the table that names the routes is route.c). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "server/server_internal.h"
#include "server/server_limits.h"

static void job_done(rr_job_t *job, void *user) {
    rr_conn_req_t *r = user;
    (void)job;
    int prev = atomic_exchange(&r->phase, RR_PHASE_DONE);
    /* SUBMITTED: the HTTP thread has not suspended yet and resumes itself. */
    if (prev == RR_PHASE_SUSPENDED) MHD_resume_connection(r->conn);
}

void rr_conn_req_release_rerank(rr_conn_req_t *r) {
    if (r->encs) {
        for (size_t i = 0; i < r->req.n_docs; i++) rerank_encoding_free(&r->encs[i]);
        rr_free(r->encs);
        r->encs = NULL;
    }
    rr_free(r->pairs);
    rr_free(r->scores);
    r->pairs = NULL;
    r->scores = NULL;
    size_t n_docs = r->req.n_docs;
    rr_rerank_req_release(&r->req);
    r->req.n_docs = n_docs; /* kept for the access log */
}

static int encode_status(rerank_status_t st) {
    switch (st) {
    case RERANK_ERR_INVALID_UTF8:
    case RERANK_ERR_INVALID_ARGUMENT: return 400;
    case RERANK_ERR_LIMIT: return 413;
    case RERANK_ERR_NOMEM: return 503;
    default: return 500;
    }
}

/* The scorer's state now: healthy and nothing on a device without a state
 * callback. The callback is read only once the scorer is set (READY was
 * stored after it). */
static rr_scorer_state_t scorer_state(rr_server_t *s, int state) {
    rr_scorer_state_t st = {.healthy = 1, .device_memory_bytes = 0};
    if (state != RR_STATE_LOADING && s->scorer.state) s->scorer.state(s->scorer.ctx, &st);
    return st;
}

enum MHD_Result rr_handle_rerank_start(rr_conn_req_t *r) {
    rr_server_t *s = r->srv;
    int state = atomic_load(&s->state);
    if (state == RR_STATE_LOADING) return rr_respond_error(r, 503, "unavailable", "the model is still loading");
    if (!scorer_state(s, state).healthy)
        return rr_respond_error(r, 503, "unavailable", "the model failed on its device and cannot score; restart the server");
    if (state == RR_STATE_DRAINING && !r->before_drain)
        return rr_respond_error(r, 503, "unavailable", "the server is shutting down");

    char err[512];
    rr_api_status_t ast = r->route == RR_ROUTE_RERANK
                              ? rr_api_parse_tei(r->body, r->len, &s->limits, &r->req, err, sizeof err)
                              : rr_api_parse_cohere(r->body, r->len, r->route == RR_ROUTE_V2 ? RR_API_COHERE_V2 : RR_API_COHERE_V1,
                                                    &s->limits, &r->req, err, sizeof err);
    rr_free(r->body); /* the JSON tree holds what we need */
    r->body = NULL;
    r->cap = 0;
    if (ast != RR_API_OK) {
        const char *type = ast == RR_API_NOMEM ? "unavailable" : "validation";
        return rr_respond_error(r, (int)ast, type, "%s", err);
    }
    size_t n = r->req.n_docs;
    r->encs = rr_calloc(n, sizeof *r->encs);
    r->pairs = rr_calloc(n, sizeof *r->pairs);
    r->scores = rr_calloc(n, sizeof *r->scores);
    if (!r->encs || !r->pairs || !r->scores) return rr_respond_error(r, 503, "unavailable", "out of memory");
    int truncate = r->req.truncate >= 0 ? r->req.truncate : s->cfg->auto_truncate;
    const char *what = r->route == RR_ROUTE_RERANK ? "texts" : "documents";
    rerank_pair_options_t po = rerank_pair_options_default();
    po.max_length = s->max_length;
    po.truncation = truncate ? s->truncation : RERANK_TRUNC_NONE;
    po.direction = r->req.direction;
    /* An LLM reranker's instruction: the request's, else the server's
     * (--instruction), else its recipe's; a cross-encoder takes none. */
    const rr_text_t *ins = &r->req.instruction;
    if (ins->s && !s->info.prompt[0])
        return rr_respond_error(r, 422, "validation",
                                "\"instruction\": %s is a cross-encoder: it takes no instruction (only LLM rerankers "
                                "such as Qwen3-Reranker do)", s->info.architecture);
    po.instruction = ins->s ? ins->s : s->info.instruction;
    po.instruction_len = ins->s ? ins->n : s->info.instruction ? strlen(s->info.instruction) : 0;
    for (size_t i = 0; i < n; i++) {
        rerank_encoding_t *e = &r->encs[i];
        rerank_status_t st = s->scorer.encode_pair(s->scorer.ctx, r->req.query.s, r->req.query.n, r->req.docs[i].s,
                                                    r->req.docs[i].n, &po, e);
        if (st != RERANK_OK)
            return rr_respond_error(r, encode_status(st), encode_status(st) == 500 ? "backend" : "validation",
                                    "%s[%zu]: %s", what, i, rerank_last_error());
        if (!truncate && e->n > (size_t)s->max_length)
            return rr_respond_error(r, 413, "validation",
                                    "query + %s[%zu] is %zu tokens; the limit is %d (send \"truncate\": true to cut it)",
                                    what, i, e->n, s->max_length);
        r->pairs[i].ids = e->ids;
        r->pairs[i].type_ids = e->type_ids;
        r->pairs[i].n = (int32_t)e->n;
        r->total_tokens += e->n;
    }
    rr_metrics_docs(s->metrics, n, r->total_tokens);
    r->job.pairs = r->pairs;
    r->job.n_pairs = n;
    r->job.scores = r->scores;
    r->job.done = job_done;
    r->job.user = r;
    atomic_store(&r->phase, RR_PHASE_SUBMITTED);
    rr_submit_result_t sr = rr_batcher_submit(s->batcher, &r->job);
    if (sr != RR_SUBMIT_OK) {
        atomic_store(&r->phase, RR_PHASE_NONE);
        if (sr == RR_SUBMIT_FULL)
            return rr_respond_error(r, 429, "overloaded", "the queue is full (%ld pairs); retry later", s->cfg->max_queue_pairs);
        if (sr == RR_SUBMIT_CLOSED) return rr_respond_error(r, 503, "unavailable", "the server is shutting down");
        return rr_respond_error(r, 413, "validation", "too many documents for the queue");
    }
    MHD_suspend_connection(r->conn);
    int prev = atomic_exchange(&r->phase, RR_PHASE_SUSPENDED);
    if (prev == RR_PHASE_DONE) {
        atomic_store(&r->phase, RR_PHASE_DONE);
        MHD_resume_connection(r->conn);
    } else {
        rr_watch_add(s, r);
    }
    return MHD_YES;
}

static void make_uuid(char out[37]) {
    unsigned char b[16];
    if (getrandom(b, sizeof b, GRND_NONBLOCK) != (ssize_t)sizeof b) {
        static atomic_ullong ctr;
        unsigned long long c = atomic_fetch_add(&ctr, 1) ^ (unsigned long long)(rr_now_s() * 1e9);
        for (int i = 0; i < 16; i++) b[i] = (unsigned char)(c >> (8 * (i % 8))) ^ (unsigned char)(i * 37);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

enum MHD_Result rr_handle_rerank_finish(rr_conn_req_t *r) {
    rr_server_t *s = r->srv;
    rr_watch_remove(s, r);
    if (r->job.status == RR_JOB_CANCELLED) {
        r->status = 499;
        return MHD_NO; /* the client is gone (or shutdown timed out): close */
    }
    if (r->job.status == RR_JOB_FAILED)
        return rr_respond_error(r, 500, "backend", "scoring failed: %s", r->job.error);
    size_t n = r->req.n_docs;
    if (!r->req.raw_scores)
        for (size_t i = 0; i < n; i++) r->scores[i] = (float)(1.0 / (1.0 + exp(-(double)r->scores[i])));
    for (size_t i = 0; i < n; i++)
        if (!isfinite(r->scores[i]))
            return rr_respond_error(r, 500, "backend", "the model produced a non-finite score for document %zu", i);
    size_t len = 0;
    char *body;
    if (r->route == RR_ROUTE_RERANK) {
        body = rr_api_render_tei(&r->req, r->scores, &len);
    } else {
        char id[37];
        make_uuid(id);
        body = rr_api_render_cohere(&r->req, r->scores, id, s->info.model_id, r->total_tokens, &len);
    }
    if (!body) return rr_respond_error(r, 503, "unavailable", "out of memory");
    return rr_respond(r, 200, "application/json", body, len, 0);
}

static json_t *info_json(rr_server_t *s, const rr_scorer_state_t *st) {
    const rr_server_config_t *c = s->cfg;
    json_t *j = json_object();
    if (!j) return NULL;
    json_object_set_new(j, "model_id", json_string(s->info.model_id));
    json_object_set_new(j, "model_dtype", json_string(s->info.precision));
    json_object_set_new(j, "model_type", json_pack("{s:{s:s, s:s}}", "reranker", "architecture", s->info.architecture,
                                                   "model_type", s->info.model_type));
    json_object_set_new(j, "architecture", json_string(s->info.architecture));
    json_object_set_new(j, "family", json_string(s->info.family));
    /* An LLM reranker's prompt recipe and the instruction requests get by
     * default (null: the recipe's own); null and null for a cross-encoder. */
    json_object_set_new(j, "prompt", s->info.prompt[0] ? json_string(s->info.prompt) : json_null());
    json_object_set_new(j, "instruction", s->info.instruction ? json_string(s->info.instruction) : json_null());
    json_object_set_new(j, "precision", json_string(s->info.precision));
    json_object_set_new(j, "weights_dtype", json_string(s->info.weights_dtype));
    json_object_set_new(j, "compute", json_string(s->info.compute));
    json_object_set_new(j, "device", json_string(s->info.device));
    json_object_set_new(j, "device_memory_bytes", json_integer(st->device_memory_bytes));
    json_object_set_new(j, "healthy", json_boolean(st->healthy));
    json_object_set_new(j, "num_layers", json_integer(s->info.num_layers));
    json_object_set_new(j, "layers_used", json_integer(s->info.layers_used));
    json_object_set_new(j, "max_input_length", json_integer(s->info.max_length));
    json_object_set_new(j, "truncation", json_string(s->info.truncation == RERANK_TRUNC_FLAG ? "flag" : "longest_first"));
    json_object_set_new(j, "auto_truncate", json_boolean(c->auto_truncate));
    json_object_set_new(j, "max_batch_tokens", json_integer(c->max_batch_tokens));
    json_object_set_new(j, "max_batch_requests", json_integer(c->max_batch_pairs));
    json_object_set_new(j, "max_wait_ms", json_real(c->max_wait_ms));
    json_object_set_new(j, "max_queue_pairs", json_integer(c->max_queue_pairs));
    json_object_set_new(j, "max_client_batch_size", json_integer(c->max_docs));
    json_object_set_new(j, "max_body_bytes", json_integer(c->max_body_bytes));
    json_object_set_new(j, "max_text_bytes", json_integer(c->max_text_bytes));
    json_object_set_new(j, "max_concurrent_requests", json_integer(c->max_connections));
    json_object_set_new(j, "tokenization_workers", json_integer(c->http_threads));
    json_object_set_new(j, "auth", json_boolean(c->api_key != NULL));
    json_object_set_new(j, "version", json_string(rerank_version()));
    return j;
}

enum MHD_Result rr_handle_get(rr_conn_req_t *r) {
    rr_server_t *s = r->srv;
    int state = atomic_load(&s->state);
    rr_scorer_state_t sst = scorer_state(s, state);
    switch (r->route) {
    case RR_ROUTE_HEALTH:
        if (state == RR_STATE_LOADING) return rr_respond_json(r, 503, json_pack("{s:s}", "status", "loading"));
        if (!sst.healthy) return rr_respond_json(r, 503, json_pack("{s:s}", "status", "unhealthy"));
        return rr_respond_json(r, 200, json_pack("{s:s}", "status", "ok"));
    case RR_ROUTE_READY:
        if (state != RR_STATE_READY)
            return rr_respond_json(r, 503, json_pack("{s:s}", "status", state == RR_STATE_LOADING ? "loading" : "draining"));
        if (!sst.healthy) return rr_respond_json(r, 503, json_pack("{s:s}", "status", "unhealthy"));
        return rr_respond_json(r, 200, json_pack("{s:s}", "status", "ready"));
    case RR_ROUTE_INFO:
        if (state == RR_STATE_LOADING) return rr_respond_error(r, 503, "unavailable", "the model is still loading");
        return rr_respond_json(r, 200, info_json(s, &sst));
    case RR_ROUTE_OPENAPI: {
        size_t n = strlen(rr_openapi_json);
        char *body = rr_strndup(rr_openapi_json, n);
        if (!body) return rr_respond_error(r, 503, "unavailable", "out of memory");
        return rr_respond(r, 200, "application/json", body, n, 0);
    }
    case RR_ROUTE_METRICS: {
        rr_metrics_gauges_t g = {0};
        if (s->batcher) {
            rr_batcher_stats_t st;
            rr_batcher_get_stats(s->batcher, &st);
            g.queue_pairs = st.queued_pairs;
            g.queue_tokens = st.queued_tokens;
            g.queue_jobs = st.queued_jobs;
        }
        g.in_flight = atomic_load(&s->in_flight);
        g.ready = state == RR_STATE_READY && sst.healthy;
        g.healthy = sst.healthy;
        g.device_memory_bytes = sst.device_memory_bytes;
        g.model = s->info.model_id ? s->info.model_id : "";
        g.architecture = s->info.architecture ? s->info.architecture : "";
        g.precision = s->info.precision ? s->info.precision : "";
        g.compute = s->info.compute ? s->info.compute : "";
        g.device = s->info.device ? s->info.device : "";
        g.version = rerank_version();
        g.max_length = s->info.max_length;
        size_t len = 0;
        char *body = rr_metrics_render(s->metrics, &g, &len);
        if (!body) return rr_respond_error(r, 503, "unavailable", "out of memory");
        return rr_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", body, len, 0);
    }
    default:
        return rr_respond_error(r, 404, "not_found", "no route %s", r->path);
    }
}
