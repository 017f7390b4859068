/* grpc_server.c — TEI's gRPC API over the gRPC C core (see grpc_server.h).
 *
 * Completion-queue threads take every event; each call is a small state
 * machine: NEW (method known) -> RECV (one message, or a stream of them)
 * -> tokenize and submit to the default model's batcher -> the batcher's
 * done callback sends the answer -> SENT. (The model: the call's metadata
 * "model", else the default.) Every call's status is counted in the
 * metrics (rerank_grpc_requests_total). A RECV_CLOSE_ON_SERVER op runs
 * from the start: when the client cancels, its deadline expires or it
 * disconnects, it completes with `cancelled` and the call's queued pairs
 * are dropped from the batcher. A call is freed when both its main path
 * and that op are over (two references). */
#include "server/grpc_server.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "health.pb-c.h"
#include "server/auth.h"
#include "server/server_internal.h"
#include "server/server_limits.h"
#include "tei.pb-c.h"

/* the methods are the metrics' (rr_grpc_method_t) */
enum { M_RERANK = RR_GRPC_RERANK, M_STREAM = RR_GRPC_RERANK_STREAM, M_INFO = RR_GRPC_INFO, M_HEALTH = RR_GRPC_HEALTH,
       M_UNKNOWN = RR_GRPC_OTHER };
enum { T_NEW = 0, T_RECV, T_CLOSE, T_SEND };
#define RR_GRPC_MAX_THREADS 64

typedef struct gcall gcall_t;
typedef struct gtag { gcall_t *c; int op; } gtag_t;

struct gcall {
    rr_grpc_t *g;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    gtag_t tags[4];
    int method;
    int cancelled; /* set by RECV_CLOSE_ON_SERVER */
    grpc_byte_buffer *recv;
    atomic_int refs;
    pthread_mutex_t mu;
    int submitted, close_seen;
    double t0;
    /* the request: query, texts (owned), flags */
    char *query;
    char **texts;
    size_t n_texts, cap_texts;
    int truncate, raw_scores, return_text, first_seen;
    rerank_trunc_direction_t direction;
    /* scoring */
    rr_served_t *m;
    rerank_encoding_t *encs;
    rerank_pair_t *pairs;
    float *scores;
    rr_text_t *docs;  /* the texts as the scorer takes them (views into texts) */
    rr_long_req_t lr; /* documents in windows (the server's --long-docs chunk) */
    size_t total_tokens;
    size_t compute_chars; /* TEI's metadata: the characters of every pair */
    double tokenize_s;    /* seconds spent tokenizing the pairs */
    rr_job_t job;
    /* the answer (sent by send_answer, kept until SENT) */
    grpc_byte_buffer *send;
    grpc_slice details_slice;
    int has_details;
};

struct rr_grpc {
    rr_server_t *srv;
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t threads[RR_GRPC_MAX_THREADS];
    int n_threads;
    int port;
    atomic_int live;     /* calls not yet freed (armed ones included) */
    atomic_int stopping; /* no more re-arming */
    atomic_int shutdown_done;
    gtag_t shutdown_tag;
};

/* protobuf-c allocations through rr_malloc (fault injection covers them). */
static void *pb_alloc(void *d, size_t n) { (void)d; return rr_malloc(n ? n : 1); }
static void pb_free(void *d, void *p) { (void)d; rr_free(p); }
static ProtobufCAllocator k_pb_alloc = {pb_alloc, pb_free, NULL};

static void call_free(gcall_t *c) {
    if (c->encs) {
        for (size_t i = 0; i < c->n_texts; i++) rerank_encoding_free(&c->encs[i]);
        rr_free(c->encs);
    }
    rr_free(c->pairs);
    rr_free(c->scores);
    rr_free(c->docs);
    rr_long_release(&c->lr);
    for (size_t i = 0; i < c->n_texts; i++) rr_free(c->texts[i]);
    rr_free(c->texts);
    rr_free(c->query);
    if (c->recv) grpc_byte_buffer_destroy(c->recv);
    if (c->send) grpc_byte_buffer_destroy(c->send);
    if (c->has_details) grpc_slice_unref(c->details_slice);
    if (c->call) grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    pthread_mutex_destroy(&c->mu);
    rr_grpc_t *g = c->g;
    rr_free(c);
    atomic_fetch_sub(&g->live, 1);
}

static void call_unref(gcall_t *c) {
    if (atomic_fetch_sub(&c->refs, 1) == 1) call_free(c);
}

/* Wait for the next call (one is always armed while running). */
static void arm(rr_grpc_t *g) {
    if (atomic_load(&g->stopping)) return;
    gcall_t *c = rr_calloc(1, sizeof *c);
    if (!c) return; /* out of memory: the next completed call re-arms */
    c->g = g;
    pthread_mutex_init(&c->mu, NULL);
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    for (int i = 0; i < 4; i++) c->tags[i] = (gtag_t){c, i};
    atomic_fetch_add(&g->live, 1);
    if (grpc_server_request_call(g->server, &c->call, &c->details, &c->md, g->cq, g->cq, &c->tags[T_NEW]) !=
        GRPC_CALL_OK) {
        c->call = NULL;
        call_free(c);
    }
}

/* End the call's main path: status (and a message when payload != NULL). */
static int send_answer(gcall_t *c, grpc_status_code code, const char *msg, grpc_byte_buffer *payload) {
    rr_metrics_grpc(c->g->srv->metrics, (rr_grpc_method_t)c->method, (int)code, rr_now_s() - c->t0);
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (payload) {
        c->send = payload;
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = payload;
    }
    c->details_slice = grpc_slice_from_copied_string(msg ? msg : "");
    c->has_details = 1;
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n++].data.send_status_from_server.status_details = &c->details_slice;
    if (grpc_call_start_batch(c->call, ops, n, &c->tags[T_SEND], NULL) != GRPC_CALL_OK) call_unref(c);
    return 0;
}

static int send_error(gcall_t *c, grpc_status_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int send_error(gcall_t *c, grpc_status_code code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    send_answer(c, code, msg, NULL);
    return 0;
}

/* Pack a protobuf-c message into a byte buffer (NULL: out of memory). */
static grpc_byte_buffer *pack(const ProtobufCMessage *msg) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *b = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return b;
}

static int read_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && *i < n; shift += 7) {
        uint8_t b = p[(*i)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 1;
    }
    return 0;
}

/* 1 if a top-level length-delimited field numbered 1 or 2 holds a NUL byte:
 * those are every string of RerankRequest (query, texts) and
 * RerankStreamRequest (query, text). protobuf-c hands strings over
 * NUL-terminated and without their length, so "a\0b" would silently become
 * "a" (another score, a cut return_text). Run on bytes protobuf-c accepted. */
static int wire_strings_have_nul(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint64_t key, v;
        if (!read_varint(p, n, &i, &key)) return 0;
        switch (key & 7) {
        case 0: if (!read_varint(p, n, &i, &v)) return 0; break;
        case 1: i += 8; break;
        case 5: i += 4; break;
        case 2:
            if (!read_varint(p, n, &i, &v) || v > n - i) return 0;
            if ((key >> 3 == 1 || key >> 3 == 2) && memchr(p + i, 0, (size_t)v)) return 1;
            i += (size_t)v;
            break;
        default: return 0; /* groups: none in these messages */
        }
    }
    return 0;
}

/* The received message's bytes (one copy) unpacked; NULL if malformed, or
 * (*nul set; nul NULL: not checked) if one of its strings holds a NUL. */
static ProtobufCMessage *unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc, int *nul) {
    grpc_byte_buffer_reader rd;
    if (!grpc_byte_buffer_reader_init(&rd, bb)) return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(desc, &k_pb_alloc, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    if (m && nul && wire_strings_have_nul(GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s))) {
        *nul = 1;
        protobuf_c_message_free_unpacked(m, &k_pb_alloc);
        m = NULL;
    }
    grpc_slice_unref(s);
    return m;
}

static void job_done(rr_job_t *job, void *user) {
    gcall_t *c = user;
    (void)job;
    if (c->job.status == RR_JOB_CANCELLED) {
        send_error(c, GRPC_STATUS_CANCELLED, "cancelled");
        return;
    }
    if (c->job.status == RR_JOB_FAILED) {
        send_error(c, GRPC_STATUS_INTERNAL, "scoring failed: %s", c->job.error);
        return;
    }
    size_t n = c->n_texts;
    if (c->lr.wins) rr_long_reduce(&c->lr, c->scores); /* each text's best window */
    size_t *order = rr_malloc(n * sizeof *order);
    Tei__V1__Rank *ranks = rr_calloc(n, sizeof *ranks);
    Tei__V1__Rank **rp = rr_calloc(n, sizeof *rp);
    if (!order || !ranks || !rp) {
        rr_free(order);
        rr_free(ranks);
        rr_free(rp);
        send_error(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double s = c->scores[i];
        if (!c->raw_scores) c->scores[i] = (float)(1.0 / (1.0 + exp(-s)));
    }
    rr_api_rank(c->scores, n, order);
    int finite = 1;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        tei__v1__rank__init(&ranks[k]);
        ranks[k].has_index = 1;
        ranks[k].index = (uint32_t)i;
        ranks[k].has_score = 1;
        ranks[k].score = c->scores[i];
        if (c->return_text) ranks[k].text = c->texts[i];
        rp[k] = &ranks[k];
        if (!isfinite(c->scores[i])) finite = 0;
    }
    Tei__V1__Metadata md = TEI__V1__METADATA__INIT;
    md.has_compute_tokens = 1;
    md.compute_tokens = (uint32_t)c->total_tokens;
    md.has_compute_chars = 1;
    md.compute_chars = (uint32_t)c->compute_chars;
    md.has_total_time_ns = 1;
    md.total_time_ns = (uint64_t)((rr_now_s() - c->t0) * 1e9);
    md.has_tokenization_time_ns = 1;
    md.tokenization_time_ns = (uint64_t)(c->tokenize_s * 1e9);
    md.has_queue_time_ns = 1;
    md.queue_time_ns = (uint64_t)(c->job.queue_s * 1e9);
    md.has_inference_time_ns = 1;
    md.inference_time_ns = (uint64_t)(c->job.infer_s * 1e9);
    Tei__V1__RerankResponse resp = TEI__V1__RERANK_RESPONSE__INIT;
    resp.n_ranks = n;
    resp.ranks = rp;
    resp.metadata = &md;
    grpc_byte_buffer *bb = finite ? pack(&resp.base) : NULL;
    rr_free(order);
    rr_free(ranks);
    rr_free(rp);
    if (!finite) send_error(c, GRPC_STATUS_INTERNAL, "the model produced a non-finite score");
    else send_answer(c, GRPC_STATUS_OK, "", bb);
}

/* The model the call's metadata "model: NAME" names (TEI's messages have no
 * such field), else the default; NULL (err set) if none is served so. */
static rr_served_t *pick_model(gcall_t *c, char *err, size_t cap) {
    const char *name = NULL;
    size_t name_n = 0;
    for (size_t i = 0; i < c->md.count; i++)
        if (!grpc_slice_str_cmp(c->md.metadata[i].key, "model")) {
            name = (const char *)GRPC_SLICE_START_PTR(c->md.metadata[i].value);
            name_n = GRPC_SLICE_LENGTH(c->md.metadata[i].value);
        }
    return rr_models_pick(c->g->srv, name, name_n, err, cap);
}

/* Tokenize the request with the call's model and queue it (the answer
 * follows from job_done), or answer an error now. */
static int submit(gcall_t *c) {
    rr_server_t *s = c->g->srv;
    const rr_api_limits_t *lim = &s->limits;
    if (atomic_load(&s->state) != RR_STATE_READY) {
        send_error(c, GRPC_STATUS_UNAVAILABLE, "the model is still loading or the server is shutting down");
        return 0;
    }
    size_t n = c->n_texts;
    if (!c->query) return send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "no query");
    if (n == 0) return send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "\"texts\" must not be empty");
    if (n > lim->max_docs)
        return send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "\"texts\" has %zu entries; the limit is %zu", n, lim->max_docs);
    if (strlen(c->query) > lim->max_text_bytes)
        return send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "\"query\" is %zu bytes; the limit is %zu", strlen(c->query),
                          lim->max_text_bytes);
    char err[512];
    rr_served_t *m = pick_model(c, err, sizeof err);
    if (!m) return send_error(c, GRPC_STATUS_NOT_FOUND, "%s", err);
    c->m = m;
    rr_scorer_state_t st = {.healthy = 1};
    if (m->scorer.state) m->scorer.state(m->scorer.ctx, &st);
    if (!st.healthy) return send_error(c, GRPC_STATUS_UNAVAILABLE, "the model failed on its device and cannot score");
    if (!rr_batcher_has_room(m->batcher, n))
        return send_error(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "the queue is full (%ld pairs); retry later",
                          s->cfg->max_queue_pairs);
    c->encs = rr_calloc(n, sizeof *c->encs);
    c->pairs = rr_calloc(n, sizeof *c->pairs);
    c->scores = rr_calloc(n, sizeof *c->scores);
    c->docs = rr_calloc(n, sizeof *c->docs);
    if (!c->encs || !c->pairs || !c->scores || !c->docs)
        return send_error(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    int truncate = c->truncate >= 0 ? c->truncate : s->cfg->auto_truncate;
    rerank_pair_options_t po = rerank_pair_options_default();
    po.max_length = m->max_length;
    po.truncation = truncate ? m->truncation : RERANK_TRUNC_NONE;
    po.direction = c->direction;
    if (m->info.instruction) {
        po.instruction = m->info.instruction;
        po.instruction_len = strlen(m->info.instruction);
    }
    /* a --long-docs chunk server scores long texts in windows over gRPC too
     * (TEI's messages have no fields for it: the server's options hold) */
    rerank_long_options_t lo;
    rr_long_options_server(s->cfg, &lo);
    const int windowed = lo.mode == RERANK_LONG_DOCS_CHUNK;
    double t_tok = rr_now_s();
    const rr_text_t query = {c->query, strlen(c->query)};
    for (size_t i = 0; i < n; i++) {
        c->docs[i] = (rr_text_t){c->texts[i], strlen(c->texts[i])};
        if (c->docs[i].n > lim->max_text_bytes)
            return send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "texts[%zu] is %zu bytes; the limit is %zu", i,
                              c->docs[i].n, lim->max_text_bytes);
    }
    for (size_t i = 0; i < n && !windowed; i++) {
        rerank_encoding_t *e = &c->encs[i];
        rerank_status_t rs =
            m->scorer.encode_pair(m->scorer.ctx, query.s, query.n, c->docs[i].s, c->docs[i].n, &po, e);
        if (rs != RERANK_OK)
            return send_error(c, rs == RERANK_ERR_NOMEM ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_INVALID_ARGUMENT,
                              "texts[%zu]: %s", i, rerank_last_error());
        if (!truncate && e->n > (size_t)m->max_length)
            return send_error(c, GRPC_STATUS_INVALID_ARGUMENT,
                              "query + texts[%zu] is %zu tokens; the limit is %d (set truncate to cut it)", i, e->n,
                              m->max_length);
        c->pairs[i] = (rerank_pair_t){e->ids, e->type_ids, (int32_t)e->n};
        c->total_tokens += e->n;
    }
    if (windowed) {
        const char *type;
        int code = rr_long_encode(&c->lr, m, (size_t)s->cfg->max_queue_pairs, &query, c->docs, n, &po, &lo, truncate,
                                  "texts", err, sizeof err, &type);
        if (code)
            return send_error(c, code == 503 ? GRPC_STATUS_RESOURCE_EXHAUSTED
                                 : code == 500 ? GRPC_STATUS_INTERNAL
                                               : GRPC_STATUS_INVALID_ARGUMENT,
                              "%s", err);
        c->total_tokens = c->lr.tokens;
    }
    c->compute_chars = rr_api_compute_chars(&query, c->docs, n); /* valid UTF-8 now */
    c->tokenize_s = rr_now_s() - t_tok;
    c->job.pairs = windowed ? c->lr.pairs : c->pairs;
    c->job.n_pairs = windowed ? c->lr.first[n] : n;
    c->job.scores = windowed ? c->lr.win_scores : c->scores;
    c->job.done = job_done;
    c->job.user = c;
    pthread_mutex_lock(&c->mu);
    if (c->cancelled && c->close_seen) { /* the client is already gone */
        pthread_mutex_unlock(&c->mu);
        return send_error(c, GRPC_STATUS_CANCELLED, "cancelled");
    }
    const size_t tokens = c->total_tokens;
    rr_submit_result_t sr = rr_batcher_submit(m->batcher, &c->job);
    c->submitted = sr == RR_SUBMIT_OK;
    pthread_mutex_unlock(&c->mu);
    /* counted once queued, as over HTTP: a call refused here is not accepted */
    if (sr == RR_SUBMIT_OK) rr_metrics_docs(s->metrics, m->idx, n, tokens);
    if (sr == RR_SUBMIT_FULL)
        send_error(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "the queue is full (%ld pairs); retry later", s->cfg->max_queue_pairs);
    else if (sr == RR_SUBMIT_CLOSED) send_error(c, GRPC_STATUS_UNAVAILABLE, "the server is shutting down");
    else if (sr != RR_SUBMIT_OK) send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "too many texts for the queue");
    return 0;
}

static int add_text(gcall_t *c, const char *t) {
    if (c->n_texts == c->cap_texts) {
        size_t nc = c->cap_texts ? 2 * c->cap_texts : 16;
        char **nt = rr_realloc(c->texts, nc * sizeof *nt);
        if (!nt) return -1;
        c->texts = nt;
        c->cap_texts = nc;
    }
    c->texts[c->n_texts] = rr_strndup(t ? t : "", t ? strlen(t) : 0);
    if (!c->texts[c->n_texts]) return -1;
    c->n_texts++;
    return 0;
}

static int start_recv(gcall_t *c) {
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv;
    if (grpc_call_start_batch(c->call, &op, 1, &c->tags[T_RECV], NULL) != GRPC_CALL_OK) call_unref(c);
    return 0;
}

static int answer_info(gcall_t *c) {
    rr_server_t *s = c->g->srv;
    if (atomic_load(&s->state) == RR_STATE_LOADING)
        return send_error(c, GRPC_STATUS_UNAVAILABLE, "the model is still loading");
    /* the model a Rerank call with the same metadata would use */
    char err[512];
    const rr_served_t *m = pick_model(c, err, sizeof err);
    if (!m) return send_error(c, GRPC_STATUS_NOT_FOUND, "%s", err);
    Tei__V1__InfoResponse r = TEI__V1__INFO_RESPONSE__INIT;
    r.version = (char *)rerank_version();
    r.model_id = (char *)m->info.model_id;
    r.model_dtype = (char *)m->info.precision;
    r.has_model_type = 1;
    r.model_type = TEI__V1__MODEL_TYPE__MODEL_TYPE_RERANKER;
    r.has_max_concurrent_requests = 1;
    r.max_concurrent_requests = (uint32_t)s->cfg->max_connections;
    r.has_max_input_length = 1;
    r.max_input_length = (uint32_t)m->info.max_length;
    r.has_max_batch_tokens = 1;
    r.max_batch_tokens = (uint32_t)s->cfg->max_batch_tokens;
    r.has_max_batch_requests = 1;
    r.max_batch_requests = (uint32_t)s->cfg->max_batch_pairs;
    r.has_max_client_batch_size = 1;
    r.max_client_batch_size = (uint32_t)s->cfg->max_docs;
    r.has_tokenization_workers = 1;
    r.tokenization_workers = (uint32_t)c->g->n_threads;
    grpc_byte_buffer *bb = pack(&r.base);
    send_answer(c, GRPC_STATUS_OK, "", bb);
    return 0;
}

/* The services grpc.health.v1 knows by name ("" is the whole server). */
static int health_service_known(const char *name) {
    return !name || !*name || !strcmp(name, "tei.v1.Rerank") || !strcmp(name, "tei.v1.Info");
}

static int answer_health(gcall_t *c, grpc_byte_buffer *bb) {
    rr_server_t *s = c->g->srv;
    Grpc__Health__V1__HealthCheckRequest *q = (Grpc__Health__V1__HealthCheckRequest *)unpack(
        bb, &grpc__health__v1__health_check_request__descriptor, NULL);
    if (!q) return send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "malformed HealthCheckRequest message");
    /* the health protocol: a service the server does not know is NOT_FOUND */
    int known = health_service_known(q->service);
    protobuf_c_message_free_unpacked(&q->base, &k_pb_alloc);
    if (!known) return send_error(c, GRPC_STATUS_NOT_FOUND, "unknown service");
    Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    int ok = atomic_load(&s->state) == RR_STATE_READY;
    for (int i = 0; ok && i < atomic_load(&s->n_models); i++) {
        rr_scorer_state_t st = {.healthy = 1};
        if (s->models[i].scorer.state) s->models[i].scorer.state(s->models[i].scorer.ctx, &st);
        ok = st.healthy;
    }
    r.has_status = 1;
    r.status = ok ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                  : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    send_answer(c, GRPC_STATUS_OK, "", pack(&r.base));
    return 0;
}

/* TEI's TruncationDirection as ours; -1 for a value it does not define. */
static int direction_of(Tei__V1__TruncationDirection d) {
    if (d == TEI__V1__TRUNCATION_DIRECTION__TRUNCATION_DIRECTION_RIGHT) return RERANK_TRUNC_RIGHT;
    if (d == TEI__V1__TRUNCATION_DIRECTION__TRUNCATION_DIRECTION_LEFT) return RERANK_TRUNC_LEFT;
    return -1;
}

static int send_unpack_error(gcall_t *c, int nul, const char *what) {
    if (nul)
        return send_error(c, GRPC_STATUS_INVALID_ARGUMENT,
                          "a string of the %s holds a NUL character, which this server cannot take over gRPC", what);
    return send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "malformed %s message", what);
}

/* The first stream message's query and options, for the whole call; -1
 * when it answered the call with an error. */
static int stream_first(gcall_t *c, const Tei__V1__RerankStreamRequest *q) {
    c->first_seen = 1;
    c->raw_scores = q->has_raw_scores && q->raw_scores;
    c->return_text = q->has_return_text && q->return_text;
    c->truncate = q->has_truncate ? q->truncate : -1;
    c->direction = RERANK_TRUNC_RIGHT;
    if (q->has_truncation_direction) {
        int d = direction_of(q->truncation_direction);
        if (d < 0) {
            send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "\"truncation_direction\" must be RIGHT (0) or LEFT (1)");
            return -1;
        }
        c->direction = (rerank_trunc_direction_t)d;
    }
    c->query = rr_strndup(q->query ? q->query : "", q->query ? strlen(q->query) : 0);
    if (!c->query) {
        send_error(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return -1;
    }
    return 0;
}

/* The field a later stream message sets to another value than the first
 * message did, else NULL. One call scores one query: rather than score a
 * text against a query other than the one sent with it, the call is refused.
 * Fields left out (what a proto3 client sends for "", false, RIGHT) follow
 * the first message; raw_scores and return_text are the first's (TEI too). */
static const char *stream_disagrees(const gcall_t *c, const Tei__V1__RerankStreamRequest *q) {
    if (q->query && *q->query && strcmp(q->query, c->query)) return "query";
    if (q->has_truncate && (int)q->truncate != c->truncate) return "truncate";
    if (q->has_truncation_direction && direction_of(q->truncation_direction) != (int)c->direction)
        return "truncation_direction";
    return NULL;
}

/* One RerankStream message (bb NULL: the client half-closed, so score). */
static int on_stream_msg(gcall_t *c, grpc_byte_buffer *bb) {
    if (!bb) return submit(c); /* end of the stream */
    int nul = 0;
    Tei__V1__RerankStreamRequest *q =
        (Tei__V1__RerankStreamRequest *)unpack(bb, &tei__v1__rerank_stream_request__descriptor, &nul);
    grpc_byte_buffer_destroy(bb);
    if (!q) return send_unpack_error(c, nul, "RerankStreamRequest");
    const char *diff = NULL;
    int answered = 0;
    if (!c->first_seen) answered = stream_first(c, q) < 0;
    else diff = stream_disagrees(c, q);
    if (!answered && diff)
        send_error(c, GRPC_STATUS_INVALID_ARGUMENT,
                   "message %zu of the stream sets \"%s\" other than the first message; all must agree", c->n_texts,
                   diff);
    else if (!answered && c->n_texts >= c->g->srv->limits.max_docs)
        send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "the stream has more than %zu texts", c->g->srv->limits.max_docs);
    else if (!answered && add_text(c, q->text))
        send_error(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    else if (!answered)
        start_recv(c);
    protobuf_c_message_free_unpacked(&q->base, &k_pb_alloc);
    return 0;
}

/* A message arrived (or the client half-closed: c->recv NULL). */
static int on_recv(gcall_t *c, int success) {
    grpc_byte_buffer *bb = c->recv;
    c->recv = NULL;
    if (!success) { /* the call is gone */
        rr_metrics_grpc(c->g->srv->metrics, (rr_grpc_method_t)c->method, GRPC_STATUS_CANCELLED, rr_now_s() - c->t0);
        if (bb) grpc_byte_buffer_destroy(bb);
        call_unref(c);
        return 0;
    }
    if (c->method == M_STREAM) return on_stream_msg(c, bb);
    if (!bb) return send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "no request message");
    if (c->method == M_INFO || c->method == M_HEALTH) {
        int r = c->method == M_INFO ? answer_info(c) : answer_health(c, bb);
        grpc_byte_buffer_destroy(bb);
        return r;
    }
    int nul = 0;
    Tei__V1__RerankRequest *q = (Tei__V1__RerankRequest *)unpack(bb, &tei__v1__rerank_request__descriptor, &nul);
    grpc_byte_buffer_destroy(bb);
    if (!q) return send_unpack_error(c, nul, "RerankRequest");
    if (q->has_truncation_direction && direction_of(q->truncation_direction) < 0) {
        protobuf_c_message_free_unpacked(&q->base, &k_pb_alloc);
        return send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "\"truncation_direction\" must be RIGHT (0) or LEFT (1)");
    }
    c->direction = q->has_truncation_direction ? (rerank_trunc_direction_t)direction_of(q->truncation_direction)
                                               : RERANK_TRUNC_RIGHT;
    int bad = 0;
    if (q->query) bad = !(c->query = rr_strndup(q->query, strlen(q->query)));
    else bad = !(c->query = rr_strndup("", 0));
    c->raw_scores = q->has_raw_scores && q->raw_scores;
    c->return_text = q->has_return_text && q->return_text;
    c->truncate = q->has_truncate ? q->truncate : -1;
    if (q->n_texts > c->g->srv->limits.max_docs) {
        size_t nt = q->n_texts;
        protobuf_c_message_free_unpacked(&q->base, &k_pb_alloc);
        return send_error(c, GRPC_STATUS_INVALID_ARGUMENT, "\"texts\" has %zu entries; the limit is %zu", nt,
                          c->g->srv->limits.max_docs);
    }
    for (size_t i = 0; i < q->n_texts && !bad; i++) bad = add_text(c, q->texts[i]);
    protobuf_c_message_free_unpacked(&q->base, &k_pb_alloc);
    if (bad) return send_error(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    submit(c);
    return 0;
}

static int method_of(grpc_slice m) {
    if (!grpc_slice_str_cmp(m, "/tei.v1.Rerank/Rerank")) return M_RERANK;
    if (!grpc_slice_str_cmp(m, "/tei.v1.Rerank/RerankStream")) return M_STREAM;
    if (!grpc_slice_str_cmp(m, "/tei.v1.Info/Info")) return M_INFO;
    if (!grpc_slice_str_cmp(m, "/grpc.health.v1.Health/Check")) return M_HEALTH;
    return M_UNKNOWN;
}

/* The API key from metadata "authorization: Bearer KEY". */
static int authorized(gcall_t *c) {
    const char *key = c->g->srv->cfg->api_key;
    if (!key || c->method == M_HEALTH) return 1;
    for (size_t i = 0; i < c->md.count; i++) {
        if (grpc_slice_str_cmp(c->md.metadata[i].key, "authorization")) continue;
        grpc_slice v = c->md.metadata[i].value;
        char buf[RR_SRV_MAX_API_KEY_BYTES + 64];
        size_t n = GRPC_SLICE_LENGTH(v);
        if (n >= sizeof buf) return 0;
        memcpy(buf, GRPC_SLICE_START_PTR(v), n);
        buf[n] = 0;
        return rr_auth_check(buf, key);
    }
    return 0;
}

static int on_new(gcall_t *c, int success) {
    rr_grpc_t *g = c->g;
    if (!success) { /* shutting down: the armed request ends */
        call_free(c);
        return 0;
    }
    arm(g);
    c->t0 = rr_now_s();
    c->truncate = -1;
    c->method = method_of(c->details.method);
    atomic_store(&c->refs, 2); /* the main path and the close op */
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->cancelled;
    if (grpc_call_start_batch(c->call, &op, 1, &c->tags[T_CLOSE], NULL) != GRPC_CALL_OK) call_unref(c);
    if (c->method == M_UNKNOWN) return send_error(c, GRPC_STATUS_UNIMPLEMENTED, "no method %.*s",
                                                  (int)GRPC_SLICE_LENGTH(c->details.method),
                                                  (const char *)GRPC_SLICE_START_PTR(c->details.method));
    if (!authorized(c))
        return send_error(c, GRPC_STATUS_UNAUTHENTICATED, "missing or invalid API key (authorization: Bearer KEY)");
    start_recv(c);
    return 0;
}

static void on_close(gcall_t *c) {
    pthread_mutex_lock(&c->mu);
    c->close_seen = 1;
    int cancel = c->cancelled && c->submitted;
    pthread_mutex_unlock(&c->mu);
    /* client cancel, deadline or disconnect: drop its queued pairs (this
     * op's own reference keeps the call, and so the job, valid; cancelling
     * a job already done is a no-op) */
    if (cancel) {
        rr_batcher_cancel(c->m->batcher, &c->job);
        rr_metrics_cancelled(c->g->srv->metrics);
    }
    call_unref(c);
}

static void *cq_main(void *arg) {
    rr_grpc_t *g = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        gtag_t *t = ev.tag;
        if (t == &g->shutdown_tag) {
            atomic_store(&g->shutdown_done, 1);
            continue;
        }
        switch (t->op) {
        case T_NEW: on_new(t->c, ev.success); break;
        case T_RECV: on_recv(t->c, ev.success); break;
        case T_CLOSE: on_close(t->c); break;
        case T_SEND: call_unref(t->c); break;
        }
    }
    return NULL;
}

rerank_status_t rr_grpc_start(rr_server_t *srv, const char *host, long port, int threads, rr_grpc_t **out) {
    *out = NULL;
    if (threads < 1) threads = 1;
    if (threads > RR_GRPC_MAX_THREADS) threads = RR_GRPC_MAX_THREADS;
    rr_grpc_t *g = rr_calloc(1, sizeof *g);
    if (!g) return rr_error(RERANK_ERR_NOMEM, "out of memory");
    g->srv = srv;
    g->shutdown_tag = (gtag_t){NULL, -1};
    grpc_init();
    /* messages up to --max-body-bytes, as HTTP bodies */
    grpc_arg args[2];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)(srv->cfg->max_body_bytes < (1L << 30) ? srv->cfg->max_body_bytes : (1L << 30));
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_MAX_CONCURRENT_STREAMS;
    args[1].value.integer = (int)srv->cfg->max_connections;
    grpc_channel_args ca = {2, args};
    g->server = grpc_server_create(&ca, NULL);
    g->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(g->server, g->cq, NULL);
    char addr[400];
    snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%ld" : "%s:%ld", host, port);
    grpc_server_credentials *cr = grpc_insecure_server_credentials_create();
    g->port = grpc_server_add_http2_port(g->server, addr, cr);
    grpc_server_credentials_release(cr);
    if (g->port <= 0) {
        grpc_server_destroy(g->server);
        grpc_completion_queue_shutdown(g->cq);
        grpc_completion_queue_destroy(g->cq);
        rr_free(g);
        grpc_shutdown();
        return rr_error(RERANK_ERR_IO, "cannot listen for gRPC on %s", addr);
    }
    grpc_server_start(g->server);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&g->threads[i], NULL, cq_main, g) != 0) break;
        g->n_threads++;
    }
    for (int i = 0; i < g->n_threads; i++) arm(g); /* one waiting call per thread */
    *out = g;
    if (g->n_threads == 0) {
        rr_grpc_stop(g, 0);
        *out = NULL;
        return rr_error(RERANK_ERR_INTERNAL, "cannot start gRPC threads");
    }
    return RERANK_OK;
}

int rr_grpc_port(const rr_grpc_t *g) { return g->port; }

void rr_grpc_stop(rr_grpc_t *g, double timeout_s) {
    if (!g) return;
    atomic_store(&g->stopping, 1);
    grpc_server_shutdown_and_notify(g->server, g->cq, &g->shutdown_tag);
    double end = rr_now_s() + timeout_s;
    while (g->n_threads && !atomic_load(&g->shutdown_done) && rr_now_s() < end) usleep(5000);
    if (!atomic_load(&g->shutdown_done)) grpc_server_cancel_all_calls(g->server);
    /* every call ends (cancelled ones through the batcher's done) */
    end = rr_now_s() + 10;
    while (g->n_threads && (atomic_load(&g->live) > 0 || !atomic_load(&g->shutdown_done)) && rr_now_s() < end)
        usleep(5000);
    grpc_server_destroy(g->server);
    grpc_completion_queue_shutdown(g->cq);
    for (int i = 0; i < g->n_threads; i++) pthread_join(g->threads[i], NULL);
    grpc_completion_queue_destroy(g->cq);
    rr_free(g);
    grpc_shutdown();
}
