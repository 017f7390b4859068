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
    rr_long_release(&r->lr);
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

/* A model's state now: healthy and nothing on a device without a state
 * callback. */
static rr_scorer_state_t scorer_state(const rr_served_t *m) {
    rr_scorer_state_t st = {.healthy = 1, .device_memory_bytes = 0};
    if (m->scorer.state) m->scorer.state(m->scorer.ctx, &st);
    return st;
}

/* Every served model healthy (the server's /health and /ready). The
 * models are read only once the server is ready (READY was stored after
 * them). */
static int all_healthy(rr_server_t *s, int state) {
    if (state == RR_STATE_LOADING) return 1;
    for (int i = 0; i < atomic_load(&s->n_models); i++)
        if (!scorer_state(&s->models[i]).healthy) return 0;
    return 1;
}

enum MHD_Result rr_handle_rerank_start(rr_conn_req_t *r) {
    rr_server_t *s = r->srv;
    int state = atomic_load(&s->state);
    if (state == RR_STATE_LOADING) return rr_respond_error(r, 503, "unavailable", "the model is still loading");
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
    rr_served_t *m = rr_models_pick(s, r->req.model.s, r->req.model.n, err, sizeof err);
    if (!m) return rr_respond_error(r, 404, "not_found", "%s", err);
    r->model = m;
    if (!scorer_state(m).healthy)
        return rr_respond_error(r, 503, "unavailable", "the model failed on its device and cannot score; restart the server");
    size_t n = r->req.n_docs;
    /* A queue already too full for these pairs: 429 before tokenizing them
     * (a flood costs its own model's queue, not every model's CPU). */
    if (!rr_batcher_has_room(m->batcher, n))
        return rr_respond_error(r, 429, "overloaded", "the queue is full (%ld pairs); retry later", s->cfg->max_queue_pairs);
    r->encs = rr_calloc(n, sizeof *r->encs);
    r->pairs = rr_calloc(n, sizeof *r->pairs);
    r->scores = rr_calloc(n, sizeof *r->scores);
    if (!r->encs || !r->pairs || !r->scores) return rr_respond_error(r, 503, "unavailable", "out of memory");
    int truncate = r->req.truncate >= 0 ? r->req.truncate : s->cfg->auto_truncate;
    const char *what = r->route == RR_ROUTE_RERANK ? "texts" : "documents";
    rerank_pair_options_t po = rerank_pair_options_default();
    po.max_length = m->max_length;
    po.truncation = truncate ? m->truncation : RERANK_TRUNC_NONE;
    po.direction = r->req.direction;
    /* An LLM reranker's instruction: the request's, else the model's
     * (--instruction, or instruction= in its --model spec), else its
     * recipe's; a cross-encoder takes none. */
    const rr_text_t *ins = &r->req.instruction;
    if (ins->s && !(m->info.prompt && m->info.prompt[0]))
        return rr_respond_error(r, 422, "validation",
                                "\"instruction\": %s is a cross-encoder: it takes no instruction (only LLM rerankers "
                                "such as Qwen3-Reranker do)", m->info.architecture);
    po.instruction = ins->s ? ins->s : m->info.instruction;
    po.instruction_len = ins->s ? ins->n : m->info.instruction ? strlen(m->info.instruction) : 0;
    rerank_long_options_t lo;
    int windowed = rr_long_options(r, &lo); /* long documents in windows: long_req.c */
    const double t_tok = rr_now_s();
    for (size_t i = 0; i < n && !windowed; i++) {
        rerank_encoding_t *e = &r->encs[i];
        rerank_status_t st = m->scorer.encode_pair(m->scorer.ctx, r->req.query.s, r->req.query.n, r->req.docs[i].s,
                                                    r->req.docs[i].n, &po, e);
        if (st != RERANK_OK)
            return rr_respond_error(r, encode_status(st), encode_status(st) == 500 ? "backend" : "validation",
                                    "%s[%zu]: %s", what, i, rerank_last_error());
        if (!truncate && e->n > (size_t)m->max_length)
            return rr_respond_error(r, 413, "validation",
                                    "query + %s[%zu] is %zu tokens; the limit is %d (send \"truncate\": true to cut it)",
                                    what, i, e->n, m->max_length);
        r->pairs[i].ids = e->ids;
        r->pairs[i].type_ids = e->type_ids;
        r->pairs[i].n = (int32_t)e->n;
        r->total_tokens += e->n;
    }
    if (windowed) {
        const char *type;
        int code = rr_long_encode(&r->lr, m, (size_t)s->cfg->max_queue_pairs, &r->req.query, r->req.docs, n, &po, &lo,
                                  truncate, what, err, sizeof err, &type);
        if (code) return rr_respond_error(r, code, type, "%s", err);
        if (lo.mode == RERANK_LONG_DOCS_CHUNK) r->req.best = r->lr.best;
        r->total_tokens = r->lr.tokens;
    }
    r->tokenize_s = rr_now_s() - t_tok;
    const size_t tokens = r->total_tokens;
    r->job.pairs = windowed ? r->lr.pairs : r->pairs;
    r->job.n_pairs = windowed ? r->lr.first[n] : n;
    r->job.scores = windowed ? r->lr.win_scores : r->scores;
    r->job.done = job_done;
    r->job.user = r;
    atomic_store(&r->phase, RR_PHASE_SUBMITTED);
    rr_submit_result_t sr = rr_batcher_submit(m->batcher, &r->job);
    if (sr != RR_SUBMIT_OK) {
        atomic_store(&r->phase, RR_PHASE_NONE);
        if (sr == RR_SUBMIT_FULL)
            return rr_respond_error(r, 429, "overloaded", "the queue is full (%ld pairs); retry later", s->cfg->max_queue_pairs);
        if (sr == RR_SUBMIT_CLOSED) return rr_respond_error(r, 503, "unavailable", "the server is shutting down");
        return rr_respond_error(r, 413, "validation", "too many documents for the queue");
    }
    /* counted once queued: a request refused here (429, 503) is not accepted */
    rr_metrics_docs(s->metrics, m->idx, n, tokens);
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
    rr_watch_remove(s, r); /* after it the watcher no longer writes r->watch_cancelled */
    if (r->job.status == RR_JOB_CANCELLED && !r->watch_cancelled)
        /* dropped by the drain when --shutdown-timeout ran out, not by its
         * client: it is still there and may retry elsewhere (a bare close
         * read as a failure mid-answer, logged and counted as 499, "client
         * went away") */
        return rr_respond_error(r, 503, "unavailable", "the server is shutting down; the request was not scored");
    if (r->job.status == RR_JOB_CANCELLED) {
        r->status = 499;
        return MHD_NO; /* the client is gone: close */
    }
    if (r->job.status == RR_JOB_FAILED)
        return rr_respond_error(r, 500, "backend", "scoring failed: %s", r->job.error);
    size_t n = r->req.n_docs;
    if (r->lr.wins) rr_long_reduce(&r->lr, r->scores); /* each document's best window */
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
        body = rr_api_render_cohere(&r->req, r->scores, id, r->model->info.model_id, r->total_tokens, &len);
    }
    if (!body) return rr_respond_error(r, 503, "unavailable", "out of memory");
    return rr_respond_scored(r, body, len);
}

/* The default model's fields (TEI's /info shape), the server's limits,
 * and "models": every served model's fields. */
static json_t *info_json(rr_server_t *s) {
    const rr_server_config_t *c = s->cfg;
    json_t *j = rr_model_info_json(&s->models[0]);
    json_t *models = rr_models_json(s);
    if (!j || !models) {
        json_decref(j);
        json_decref(models);
        return NULL;
    }
    json_object_set_new(j, "auto_truncate", json_boolean(c->auto_truncate));
    json_object_set_new(j, "max_batch_tokens", json_integer(c->max_batch_tokens));
    json_object_set_new(j, "max_batch_requests", json_integer(c->max_batch_pairs));
    json_object_set_new(j, "max_wait_ms", json_real(c->max_wait_ms));
    json_object_set_new(j, "batches_in_flight", json_integer(s->models[0].batches_in_flight));
    json_object_set_new(j, "max_queue_pairs", json_integer(c->max_queue_pairs));
    json_object_set_new(j, "batch_order", json_string(c->batch_order ? c->batch_order : "fifo"));
    json_object_set_new(j, "long_docs", json_string(c->long_docs ? c->long_docs : "truncate"));
    json_object_set_new(j, "chunk_tokens", json_integer(c->chunk_tokens));
    json_object_set_new(j, "chunk_overlap", json_integer(c->chunk_overlap));
    json_object_set_new(j, "max_chunks_per_doc", json_integer(c->max_chunks_per_doc));
    json_object_set_new(j, "max_client_batch_size", json_integer(c->max_docs));
    json_object_set_new(j, "max_body_bytes", json_integer(c->max_body_bytes));
    json_object_set_new(j, "max_text_bytes", json_integer(c->max_text_bytes));
    json_object_set_new(j, "max_concurrent_requests", json_integer(c->max_connections));
    json_object_set_new(j, "tokenization_workers", json_integer(c->http_threads));
    json_object_set_new(j, "auth", json_boolean(c->api_key != NULL));
    json_object_set_new(j, "version", json_string(rerank_version()));
    json_object_set(j, "models", json_object_get(models, "data"));
    json_decref(models);
    return j;
}

/* The sampled values of /metrics. */
static void metrics_gauges(rr_server_t *s, int state, rr_metrics_gauges_t *g) {
    memset(g, 0, sizeof *g);
    g->in_flight = atomic_load(&s->in_flight);
    g->version = rerank_version();
    if (state != RR_STATE_LOADING) g->n_models = (size_t)atomic_load(&s->n_models);
    g->ready = state == RR_STATE_READY;
    for (size_t i = 0; i < g->n_models; i++) {
        rr_served_t *m = &s->models[i];
        rr_metrics_model_t *x = &g->models[i];
        rr_batcher_stats_t st;
        rr_batcher_get_stats(m->batcher, &st);
        x->queue_pairs = st.queued_pairs;
        x->queue_tokens = st.queued_tokens;
        x->queue_jobs = st.queued_jobs;
        x->batches_running = st.running;
        rr_scorer_state_t sst = scorer_state(m);
        x->healthy = sst.healthy;
        x->device_memory_bytes = sst.device_memory_bytes;
        if (!sst.healthy) g->ready = 0;
        x->model = m->info.model_id;
        x->architecture = m->info.architecture;
        x->precision = m->info.precision;
        x->compute = m->info.compute;
        x->device = m->info.device;
        x->max_length = m->info.max_length;
    }
}

enum MHD_Result rr_handle_get(rr_conn_req_t *r) {
    rr_server_t *s = r->srv;
    int state = atomic_load(&s->state);
    int healthy = all_healthy(s, state);
    switch (r->route) {
    case RR_ROUTE_HEALTH:
        if (state == RR_STATE_LOADING) return rr_respond_json(r, 503, json_pack("{s:s}", "status", "loading"));
        if (!healthy) return rr_respond_json(r, 503, json_pack("{s:s}", "status", "unhealthy"));
        return rr_respond_json(r, 200, json_pack("{s:s}", "status", "ok"));
    case RR_ROUTE_READY:
        if (state != RR_STATE_READY)
            return rr_respond_json(r, 503, json_pack("{s:s}", "status", state == RR_STATE_LOADING ? "loading" : "draining"));
        if (!healthy) return rr_respond_json(r, 503, json_pack("{s:s}", "status", "unhealthy"));
        return rr_respond_json(r, 200, json_pack("{s:s}", "status", "ready"));
    case RR_ROUTE_INFO:
        if (state == RR_STATE_LOADING) return rr_respond_error(r, 503, "unavailable", "the model is still loading");
        return rr_respond_json(r, 200, info_json(s));
    case RR_ROUTE_MODELS:
        if (state == RR_STATE_LOADING) return rr_respond_error(r, 503, "unavailable", "the model is still loading");
        return rr_respond_json(r, 200, rr_models_json(s));
    case RR_ROUTE_OPENAPI: {
        size_t n = strlen(rr_openapi_json);
        char *body = rr_strndup(rr_openapi_json, n);
        if (!body) return rr_respond_error(r, 503, "unavailable", "out of memory");
        return rr_respond(r, 200, "application/json", body, n, 0);
    }
    case RR_ROUTE_METRICS: {
        rr_metrics_gauges_t g;
        metrics_gauges(s, state, &g);
        size_t len = 0;
        char *body = rr_metrics_render(s->metrics, &g, &len);
        if (!body) return rr_respond_error(r, 503, "unavailable", "out of memory");
        return rr_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", body, len, 0);
    }
    default:
        return rr_respond_error(r, 404, "not_found", "no route %s", r->path);
    }
}
