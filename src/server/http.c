/* http.c — libmicrohttpd plumbing: daemon start/stop, request bodies, dispatch through the route table, access log and request metrics. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/route.h"
#include "server/server_internal.h"
#include "server/server_limits.h"

static void format_client(struct MHD_Connection *c, char *out, size_t cap) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "-");
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

static void copy_trunc(char *dst, size_t cap, const char *src) {
    size_t n = 0;
    for (; src && src[n] && n + 1 < cap; n++) dst[n] = (src[n] >= 0x20 && src[n] < 0x7f && src[n] != '"') ? src[n] : '?';
    dst[n] = 0;
}

/* What the route table rules out for r before its body: unknown path
 * (404), method (405), API key (401); 0 when it may go on. */
static int refusal(const rr_conn_req_t *r, const rr_route_def_t *rd, const char *method) {
    if (!rd) return 404;
    if (!(rr_route_method(method) & rd->methods)) return 405;
    if (!rd->open && r->srv->cfg->api_key) {
        const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!rr_auth_check(h, r->srv->cfg->api_key)) return 401;
    }
    return 0;
}

static enum MHD_Result respond_refusal(rr_conn_req_t *r, int code) {
    if (code == 404) return rr_respond_error(r, 404, "not_found", "no route %s", r->path);
    if (code == 405) return rr_respond_error(r, 405, "method_not_allowed", "%s %s is not allowed", r->method, r->path);
    return rr_respond_error(r, 401, "unauthorized", "missing or invalid API key (Authorization: Bearer KEY)");
}

/* The request declares a body (a non-zero Content-Length, or chunked). */
static int has_body(struct MHD_Connection *conn) {
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return te || (cl && strtoull(cl, NULL, 10) != 0);
}

/* First call for a request (headers complete): set up its state, then
 * answer what the table rules out: unknown path (404), method (405), API
 * key (401), a declared body over the limit (413). A refusal is answered
 * at once only when a body would follow (better than reading it); a
 * request without one is answered once complete, because MHD closes the
 * connection after a response queued this early: a keep-alive client
 * probing a wrong path would lose its connection for nothing. */
static enum MHD_Result request_begin(rr_server_t *s, struct MHD_Connection *conn, const char *url, const char *method,
                                     void **con_cls) {
    rr_conn_req_t *r = rr_calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    r->srv = s;
    r->conn = conn;
    r->t0 = rr_now_s();
    r->id = atomic_fetch_add(&s->seq, 1) + 1;
    r->route = RR_ROUTE_OTHER;
    r->status = 0;
    r->before_drain = atomic_load(&s->state) != RR_STATE_DRAINING;
    copy_trunc(r->method, sizeof r->method, method);
    copy_trunc(r->path, sizeof r->path, url);
    format_client(conn, r->client, sizeof r->client);
    atomic_fetch_add(&s->in_flight, 1);
    *con_cls = r;
    rr_sock_set_phase(s, conn, RR_SOCK_BODY); /* headers are complete: no header deadline */

    const rr_route_def_t *rd = rr_route_find(url);
    if (rd) r->route = rd->route;
    int refuse = refusal(r, rd, method);
    if (refuse) {
        if (has_body(conn)) return respond_refusal(r, refuse);
        r->refused = refuse;
        return MHD_YES;
    }
    if (rd->methods & RR_METHOD_POST) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            unsigned long long n = strtoull(cl, NULL, 10);
            if (n > (unsigned long long)s->cfg->max_body_bytes)
                return rr_respond_error(r, 413, "validation", "request body is %llu bytes; the limit is %ld", n,
                                        s->cfg->max_body_bytes);
        }
    }
    return MHD_YES;
}

/* Append a piece of the body, within --max-body-bytes (beyond it the rest
 * is counted and dropped, and the request answers 413 once complete). */
static enum MHD_Result request_body(rr_conn_req_t *r, const char *data, size_t n) {
    size_t max = (size_t)r->srv->cfg->max_body_bytes;
    if (r->too_large || r->len + n > max) {
        r->too_large = 1;
        r->discarded += n;
        /* A client streaming far past the limit is cut off. */
        return r->discarded > 4 * max ? MHD_NO : MHD_YES;
    }
    if (r->len + n + 1 > r->cap) {
        size_t nc = r->cap ? r->cap : 4096;
        while (nc < r->len + n + 1) nc *= 2;
        if (nc > max + 1) nc = max + 1;
        char *nb = rr_realloc(r->body, nc);
        if (!nb) return MHD_NO;
        r->body = nb;
        r->cap = nc;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = 0;
    return MHD_YES;
}

/* Whole request received, or resumed after the batcher finished: run the
 * route's handler. */
static enum MHD_Result request_complete(rr_conn_req_t *r) {
    rr_req_received(r);
    if (r->refused) return respond_refusal(r, r->refused);
    if (atomic_load(&r->phase) == RR_PHASE_DONE) return rr_handle_rerank_finish(r);
    const rr_route_def_t *rd = rr_route_get_def(r->route);
    if (rd && (rd->methods & RR_METHOD_POST)) {
        if (r->too_large)
            return rr_respond_error(r, 413, "validation", "request body is larger than %ld bytes",
                                    r->srv->cfg->max_body_bytes);
        return rr_handle_rerank_start(r);
    }
    return rr_handle_get(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    rr_conn_req_t *r = *con_cls;
    if (!r) return request_begin(cls, conn, url, method, con_cls);
    if (r->status) { /* response already queued (early error); drop any body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return request_body(r, upload_data, n);
    }
    return request_complete(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    rr_server_t *s = cls;
    rr_conn_req_t *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    rr_sock_set_phase(s, conn, RR_SOCK_HEADERS);
    /* A queued job cannot be pending here (its connection is suspended),
     * except if the daemon is stopped underneath it: cancel and wait. */
    int ph = atomic_load(&r->phase);
    if (ph == RR_PHASE_SUBMITTED || ph == RR_PHASE_SUSPENDED) {
        rr_batcher_cancel(r->model->batcher, &r->job);
        while (atomic_load(&r->phase) != RR_PHASE_DONE) usleep(1000);
    }
    rr_watch_remove(s, r);
    int status = r->status;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK || !status) {
        if (!status || status == 200) status = 499; /* client went away before the answer */
    }
    double dt = rr_now_s() - r->t0;
    rr_metrics_request(s->metrics, r->model ? r->model->idx : -1, r->route, status, dt);
    if (status == 499) rr_metrics_cancelled(s->metrics);
    if (s->cfg->access_log) {
        fprintf(stderr, "rerank: %s \"%s %s\" %d %zu %.2fms id=%llu docs=%zu tokens=%zu\n", r->client, r->method,
                r->path, status, r->resp_bytes, dt * 1e3, r->id, r->req.n_docs, r->total_tokens);
    }
    rr_conn_req_release_rerank(r);
    rr_free(r->body);
    rr_free(r);
    atomic_fetch_sub(&s->in_flight, 1);
}

/* Why binding failed, kept by mhd_log on the thread in rr_server_start:
 * MHD's own line names port 0 (it is given a sockaddr), so the reason goes
 * into our error, which names the real address. */
static _Thread_local char t_bind_error[128];

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n') buf[--n] = 0;
    /* Our own MHD_NO after a client went away (cancelled request). */
    if (strstr(buf, "Application reported internal error")) return;
    if (!strncmp(buf, "Failed to bind to port", 22)) {
        const char *why = strstr(buf, ": ");
        snprintf(t_bind_error, sizeof t_bind_error, "%.*s", (int)sizeof t_bind_error - 1, why ? why + 2 : buf);
        return;
    }
    fprintf(stderr, "rerank: http: %s\n", buf);
}

rerank_status_t rr_server_start(const rr_server_config_t *cfg, rr_server_t **out) {
    *out = NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%ld", cfg->port);
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0 || !ai)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cannot resolve --host '%s': %s", cfg->host, gai_strerror(gai));
    rr_server_t *s = rr_calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(ai);
        return rr_error(RERANK_ERR_NOMEM, "out of memory");
    }
    s->cfg = cfg;
    s->metrics = rr_metrics_new();
    pthread_mutex_init(&s->watch_mu, NULL);
    s->limits.max_body_bytes = (size_t)cfg->max_body_bytes;
    s->limits.max_docs = (size_t)cfg->max_docs;
    s->limits.max_text_bytes = (size_t)cfg->max_text_bytes;
    if (!s->metrics || rr_watch_start(s) != 0) {
        freeaddrinfo(ai);
        rr_server_free(s);
        return rr_error(RERANK_ERR_NOMEM, "cannot start the server (out of memory or threads)");
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen < sizeof ss ? ai->ai_addrlen : sizeof ss);
    freeaddrinfo(ai);
    t_bind_error[0] = 0;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)RR_SRV_CONNECTION_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, rr_sock_notify, s, MHD_OPTION_END);
    if (!s->daemon) {
        rr_server_free(s);
        return rr_error(RERANK_ERR_IO, "cannot listen on %s port %ld: %s", cfg->host, cfg->port,
                        t_bind_error[0] ? t_bind_error : "address in use, or not permitted?");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : (int)cfg->port;
    *out = s;
    return RERANK_OK;
}

int rr_server_port(const rr_server_t *s) { return s->port; }

static void on_batch(void *ctx, size_t pairs, size_t tokens, double seconds, int ok) {
    rr_served_t *m = ctx;
    rr_metrics_batch(m->srv->metrics, m->idx, pairs, tokens, seconds, ok);
}
static void on_wait(void *ctx, double seconds) {
    rr_served_t *m = ctx;
    rr_metrics_queue_wait(m->srv->metrics, m->idx, seconds);
}

/* Batches a model runs at once: --batches-in-flight, or by the model's own device when left at 0 (a model's
 * device= key may differ from the global --device). */
static int batches_in_flight(const rr_server_config_t *cfg, const char *device) {
    if (!cfg->batches_in_flight_auto) return (int)cfg->batches_in_flight;
    return device && !strncmp(device, "cuda", 4) ? RR_SERVE_CUDA_BATCHES_IN_FLIGHT : RR_SERVE_CPU_BATCHES_IN_FLIGHT;
}

rerank_status_t rr_server_add_scorer(rr_server_t *s, const rr_scorer_t *sc, const rr_server_info_t *info) {
    int k = atomic_load(&s->n_models);
    if (k >= RR_SRV_MAX_MODELS) return rr_error(RERANK_ERR_LIMIT, "at most %d models", RR_SRV_MAX_MODELS);
    for (int i = 0; i < k; i++)
        if (!strcmp(s->models[i].info.model_id, info->model_id ? info->model_id : ""))
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "two models are named '%s'", s->models[i].info.model_id);
    rr_served_t *m = &s->models[k];
    memset(m, 0, sizeof *m);
    m->srv = s;
    m->idx = k;
    m->scorer = *sc;
    m->info = *info;
    const char *src[RR_SERVER_INFO_STRINGS] = {info->model_id, info->architecture, info->model_type, info->precision,
                          info->compute ? info->compute : info->precision, info->weights_dtype, info->device,
                          info->family, info->prompt, info->instruction};
    const char **dst[RR_SERVER_INFO_STRINGS] = {&m->info.model_id, &m->info.architecture, &m->info.model_type,
                           &m->info.precision, &m->info.compute, &m->info.weights_dtype, &m->info.device,
                           &m->info.family, &m->info.prompt, &m->info.instruction};
    for (int i = 0; i < RR_SERVER_INFO_STRINGS; i++) {
        if (dst[i] == &m->info.instruction && !src[i]) continue; /* NULL: the recipe's default */
        const char *v = src[i] ? src[i] : "";
        m->info_strings[i] = rr_strndup(v, strlen(v));
        if (!m->info_strings[i]) {
            for (int j = 0; j < i; j++) rr_free(m->info_strings[j]);
            memset(m, 0, sizeof *m);
            return rr_error(RERANK_ERR_NOMEM, "out of memory");
        }
        *dst[i] = m->info_strings[i];
    }
    m->max_length = info->max_length;
    m->truncation = info->truncation;
    m->batches_in_flight = batches_in_flight(s->cfg, info->device);
    rr_batcher_config_t bc = {.max_batch_tokens = (size_t)s->cfg->max_batch_tokens,
                              .max_batch_pairs = (size_t)s->cfg->max_batch_pairs,
                              .max_wait_ms = s->cfg->max_wait_ms,
                              .max_queue_pairs = (size_t)s->cfg->max_queue_pairs,
                              .fair = s->cfg->batch_order && !strcmp(s->cfg->batch_order, "fair"),
                              .workers = m->batches_in_flight};
    rr_batch_observer_t obs = {.ctx = m, .on_batch = on_batch, .on_queue_wait = on_wait};
    rerank_status_t st = rr_batcher_new(&bc, sc->score, sc->ctx, &obs, &m->batcher);
    if (st) {
        for (int i = 0; i < RR_SERVER_INFO_STRINGS; i++) rr_free(m->info_strings[i]);
        memset(m, 0, sizeof *m);
        return st;
    }
    atomic_store(&s->n_models, k + 1); /* the slot is complete: readers may use it */
    return RERANK_OK;
}

void rr_server_set_ready(rr_server_t *s) {
    if (atomic_load(&s->n_models) > 0) atomic_store(&s->state, RR_STATE_READY);
}

rerank_status_t rr_server_set_scorer(rr_server_t *s, const rr_scorer_t *sc, const rr_server_info_t *info) {
    rerank_status_t st = rr_server_add_scorer(s, sc, info);
    if (st) return st;
    rr_server_set_ready(s);
    return RERANK_OK;
}

void rr_server_drain(rr_server_t *s, double timeout_s) {
    if (s->drained) return;
    s->drained = 1;
    atomic_store(&s->state, RR_STATE_DRAINING);
    if (s->daemon) {
        MHD_socket fd = MHD_quiesce_daemon(s->daemon); /* no new connections */
        if (fd != MHD_INVALID_SOCKET) close(fd);
    }
    double end = rr_now_s() + timeout_s;
    while (atomic_load(&s->in_flight) > 0 && rr_now_s() < end) usleep(5000);
    for (int i = 0; i < atomic_load(&s->n_models); i++) {
        rr_batcher_close(s->models[i].batcher);
        rr_batcher_cancel_all(s->models[i].batcher); /* past the timeout: drop what is queued */
    }
    /* Cancelled requests resume and close; give them a moment. */
    end = rr_now_s() + 2.0;
    while (atomic_load(&s->in_flight) > 0 && rr_now_s() < end) usleep(5000);
}

void rr_server_free(rr_server_t *s) {
    if (!s) return;
    if (s->daemon) {
        rr_server_drain(s, 0);
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
    }
    rr_watch_stop(s);
    for (int k = 0; k < atomic_load(&s->n_models); k++) {
        rr_batcher_free(s->models[k].batcher);
        for (int i = 0; i < RR_SERVER_INFO_STRINGS; i++) rr_free(s->models[k].info_strings[i]);
    }
    rr_metrics_free(s->metrics);
    pthread_mutex_destroy(&s->watch_mu);
    rr_free(s);
}
