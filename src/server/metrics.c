/* metrics.c — counters and histograms behind one mutex (updates are a few
 * per request and per batch: contention is negligible). */
#include "server/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

static const int k_codes[] = {200, 400, 401, 404, 405, 408, 413, 422, 429, 499, 500, 503}; /* 499: client went away */
#define N_CODES (sizeof k_codes / sizeof k_codes[0])

#define MAX_BUCKETS 24
typedef struct hist {
    const double *le;
    size_t n;
    unsigned long long counts[MAX_BUCKETS + 1]; /* last: +Inf */
    double sum;
    unsigned long long total;
} hist_t;

static const double k_lat_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double k_pair_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const double k_tok_buckets[] = {64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536};

/* What one served model accumulates; slot 0 of rr_metrics is "no model"
 * (requests refused before a model was chosen, other routes). */
typedef struct mslot {
    unsigned long long requests[RR_ROUTE_COUNT][N_CODES + 1]; /* last: other codes */
    hist_t latency[RR_ROUTE_COUNT];
    hist_t queue_wait, batch_pairs, batch_tokens, batch_seconds;
    unsigned long long batches, pairs_scored, tokens_scored, docs, request_tokens;
} mslot_t;

#define N_SLOTS (RR_SRV_MAX_MODELS + 1)

#define N_GRPC_CODES 17
static const char *const k_grpc_methods[RR_GRPC_METHOD_COUNT] = {
    "/tei.v1.Rerank/Rerank", "/tei.v1.Rerank/RerankStream", "/tei.v1.Info/Info", "/grpc.health.v1.Health/Check",
    "other"};
static const char *const k_grpc_codes[N_GRPC_CODES] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};

struct rr_metrics {
    pthread_mutex_t mu;
    mslot_t slot[N_SLOTS];
    unsigned long long cancelled;
    unsigned long long grpc[RR_GRPC_METHOD_COUNT][N_GRPC_CODES];
    hist_t grpc_latency[RR_GRPC_METHOD_COUNT];
};

static void hist_init(hist_t *h, const double *le, size_t n) {
    memset(h, 0, sizeof *h);
    h->le = le;
    h->n = n;
}
static void hist_obs(hist_t *h, double v) {
    size_t i = 0;
    while (i < h->n && v > h->le[i]) i++;
    h->counts[i]++;
    h->sum += v;
    h->total++;
}
/* dst += src (same buckets). */
static void hist_add(hist_t *dst, const hist_t *src) {
    for (size_t i = 0; i <= dst->n; i++) dst->counts[i] += src->counts[i];
    dst->sum += src->sum;
    dst->total += src->total;
}

#define N_LAT (sizeof k_lat_buckets / sizeof *k_lat_buckets)

rr_metrics_t *rr_metrics_new(void) {
    rr_metrics_t *m = rr_calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->mu, NULL);
    for (int k = 0; k < N_SLOTS; k++) {
        mslot_t *sl = &m->slot[k];
        for (int r = 0; r < RR_ROUTE_COUNT; r++) hist_init(&sl->latency[r], k_lat_buckets, N_LAT);
        hist_init(&sl->queue_wait, k_lat_buckets, N_LAT);
        hist_init(&sl->batch_seconds, k_lat_buckets, N_LAT);
        hist_init(&sl->batch_pairs, k_pair_buckets, sizeof k_pair_buckets / sizeof *k_pair_buckets);
        hist_init(&sl->batch_tokens, k_tok_buckets, sizeof k_tok_buckets / sizeof *k_tok_buckets);
    }
    for (int k = 0; k < RR_GRPC_METHOD_COUNT; k++) hist_init(&m->grpc_latency[k], k_lat_buckets, N_LAT);
    return m;
}

void rr_metrics_free(rr_metrics_t *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    rr_free(m);
}

static mslot_t *slot_of(rr_metrics_t *m, int model) {
    return &m->slot[model >= 0 && model < RR_SRV_MAX_MODELS ? model + 1 : 0];
}

void rr_metrics_request(rr_metrics_t *m, int model, rr_route_t route, int status, double seconds) {
    if (route >= RR_ROUTE_COUNT) route = RR_ROUTE_OTHER;
    size_t c = N_CODES;
    for (size_t i = 0; i < N_CODES; i++)
        if (k_codes[i] == status) c = i;
    pthread_mutex_lock(&m->mu);
    mslot_t *sl = slot_of(m, model);
    sl->requests[route][c]++;
    hist_obs(&sl->latency[route], seconds);
    pthread_mutex_unlock(&m->mu);
}

void rr_metrics_queue_wait(rr_metrics_t *m, int model, double seconds) {
    pthread_mutex_lock(&m->mu);
    hist_obs(&slot_of(m, model)->queue_wait, seconds);
    pthread_mutex_unlock(&m->mu);
}

void rr_metrics_batch(rr_metrics_t *m, int model, size_t pairs, size_t tokens, double seconds, int ok) {
    pthread_mutex_lock(&m->mu);
    mslot_t *sl = slot_of(m, model);
    hist_obs(&sl->batch_pairs, (double)pairs);
    hist_obs(&sl->batch_tokens, (double)tokens);
    hist_obs(&sl->batch_seconds, seconds);
    sl->batches++;
    if (ok) {
        sl->pairs_scored += pairs;
        sl->tokens_scored += tokens;
    }
    pthread_mutex_unlock(&m->mu);
}

void rr_metrics_docs(rr_metrics_t *m, int model, size_t docs, size_t tokens) {
    pthread_mutex_lock(&m->mu);
    mslot_t *sl = slot_of(m, model);
    sl->docs += docs;
    sl->request_tokens += tokens;
    pthread_mutex_unlock(&m->mu);
}

void rr_metrics_grpc(rr_metrics_t *m, rr_grpc_method_t method, int code, double seconds) {
    if ((unsigned)method >= RR_GRPC_METHOD_COUNT) method = RR_GRPC_OTHER;
    if (code < 0 || code >= N_GRPC_CODES) code = 2; /* UNKNOWN */
    pthread_mutex_lock(&m->mu);
    m->grpc[method][code]++;
    hist_obs(&m->grpc_latency[method], seconds);
    pthread_mutex_unlock(&m->mu);
}

void rr_metrics_cancelled(rr_metrics_t *m) {
    pthread_mutex_lock(&m->mu);
    m->cancelled++;
    pthread_mutex_unlock(&m->mu);
}

typedef struct sbuf { char *p; size_t n, cap; int oom; } sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if ((size_t)k < b->cap - b->n) { b->n += (size_t)k; return; }
        size_t nc = b->cap * 2 + (size_t)k + 1;
        char *np = rr_realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
}

/* Label values here are our own strings or the model's config; escape the
 * three characters the exposition format requires anyway. */
static void sb_label(sbuf_t *b, const char *v) {
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\') sb_printf(b, "\\\\");
        else if (*p == '"') sb_printf(b, "\\\"");
        else if (*p == '\n') sb_printf(b, "\\n");
        else sb_printf(b, "%c", *p);
    }
}

static void sb_hist(sbuf_t *b, const char *name, const char *labels, const hist_t *h) {
    unsigned long long cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (size_t i = 0; i < h->n; i++) {
        cum += h->counts[i];
        sb_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, h->le[i], cum);
    }
    cum += h->counts[h->n];
    sb_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, cum);
    sb_printf(b, "%s_sum%s%s%s %.9g\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "", h->sum);
    sb_printf(b, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "", h->total);
}

/* One unlabelled metric: HELP and TYPE lines, then its value (counters and
 * gauges here are integers below 2^53, printed exactly by %.17g). */
static void sb_value(sbuf_t *b, const char *name, const char *type, const char *help, double v) {
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

/* `model="NAME"` (escaped) into buf; "" for slot 0 or a one-model server. */
static void model_label(const rr_metrics_gauges_t *g, int k, char *buf, size_t cap) {
    buf[0] = 0;
    if (g->n_models <= 1 || k == 0) return;
    const char *v = g->models[k - 1].model;
    size_t n = (size_t)snprintf(buf, cap, "model=\"");
    for (const char *p = v ? v : ""; *p && n + 4 < cap; p++) {
        if (*p == '\\' || *p == '"') buf[n++] = '\\';
        if (*p == '\n') { buf[n++] = '\\'; buf[n++] = 'n'; continue; }
        buf[n++] = *p;
    }
    buf[n++] = '"';
    buf[n] = 0;
}

/* The slots a family is rendered from: with one model (or none), slot 0
 * alone holds the sum of all (unlabelled, as before several models);
 * with several, slot k is model k-1 and slot 0 what no model took. */
static size_t fold_slots(const rr_metrics_t *m, const rr_metrics_gauges_t *g, mslot_t *out) {
    if (g->n_models > 1) {
        for (size_t k = 0; k <= g->n_models; k++) out[k] = m->slot[k];
        return g->n_models + 1;
    }
    out[0] = m->slot[0];
    for (int k = 1; k < N_SLOTS; k++) {
        const mslot_t *s = &m->slot[k];
        for (int r = 0; r < RR_ROUTE_COUNT; r++) {
            for (size_t c = 0; c <= N_CODES; c++) out[0].requests[r][c] += s->requests[r][c];
            hist_add(&out[0].latency[r], &s->latency[r]);
        }
        hist_add(&out[0].queue_wait, &s->queue_wait);
        hist_add(&out[0].batch_pairs, &s->batch_pairs);
        hist_add(&out[0].batch_tokens, &s->batch_tokens);
        hist_add(&out[0].batch_seconds, &s->batch_seconds);
        out[0].batches += s->batches;
        out[0].pairs_scored += s->pairs_scored;
        out[0].tokens_scored += s->tokens_scored;
        out[0].docs += s->docs;
        out[0].request_tokens += s->request_tokens;
    }
    return 1;
}

/* A per-model histogram family: slot 0 alone (one model), else one
 * labelled series per model. */
static void sb_model_hist(sbuf_t *b, const char *name, const char *help, const mslot_t *sl, size_t n,
                          const rr_metrics_gauges_t *g, size_t off) {
    sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t k = n > 1 ? 1 : 0; k < n; k++) {
        char lab[RR_SRV_MAX_MODEL_NAME * 2 + 16];
        model_label(g, (int)k, lab, sizeof lab);
        sb_hist(b, name, lab, (const hist_t *)((const char *)&sl[k] + off));
    }
}

/* A per-model counter or gauge family: vals[k] for slot k as above. */
static void sb_model_value(sbuf_t *b, const char *name, const char *type, const char *help, const double *vals,
                           size_t n, const rr_metrics_gauges_t *g) {
    if (n <= 1) {
        sb_value(b, name, type, help, vals[0]);
        return;
    }
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t k = 1; k < n; k++) {
        char lab[RR_SRV_MAX_MODEL_NAME * 2 + 16];
        model_label(g, (int)k, lab, sizeof lab);
        sb_printf(b, "%s{%s} %.17g\n", name, lab, vals[k]);
    }
}

char *rr_metrics_render(rr_metrics_t *m, const rr_metrics_gauges_t *g, size_t *len) {
    sbuf_t b = {rr_malloc(8192), 0, 8192, 0};
    mslot_t *sl = rr_malloc(N_SLOTS * sizeof *sl);
    if (!b.p || !sl) {
        rr_free(b.p);
        rr_free(sl);
        return NULL;
    }
    double v[N_SLOTS];
    char lab[RR_SRV_MAX_MODEL_NAME * 2 + 16], lab2[RR_SRV_MAX_MODEL_NAME * 2 + 96];
    pthread_mutex_lock(&m->mu);
    size_t n = fold_slots(m, g, sl);
    unsigned long long cancelled = m->cancelled;
    unsigned long long grpc[RR_GRPC_METHOD_COUNT][N_GRPC_CODES];
    hist_t grpc_lat[RR_GRPC_METHOD_COUNT];
    memcpy(grpc, m->grpc, sizeof grpc);
    memcpy(grpc_lat, m->grpc_latency, sizeof grpc_lat);
    pthread_mutex_unlock(&m->mu);
    sb_printf(&b, "# HELP rerank_requests_total HTTP requests by route and status code.\n"
                  "# TYPE rerank_requests_total counter\n");
    for (size_t k = 0; k < n; k++) {
        model_label(g, (int)k, lab, sizeof lab);
        const char *sep = lab[0] ? "," : "";
        for (int r = 0; r < RR_ROUTE_COUNT; r++)
            for (size_t c = 0; c <= N_CODES; c++) {
                if (!sl[k].requests[r][c]) continue;
                if (c < N_CODES)
                    sb_printf(&b, "rerank_requests_total{%s%sroute=\"%s\",status=\"%d\"} %llu\n", lab, sep,
                              rr_route_path((rr_route_t)r), k_codes[c], sl[k].requests[r][c]);
                else
                    sb_printf(&b, "rerank_requests_total{%s%sroute=\"%s\",status=\"other\"} %llu\n", lab, sep,
                              rr_route_path((rr_route_t)r), sl[k].requests[r][c]);
            }
    }
    sb_printf(&b, "# HELP rerank_request_duration_seconds Time from the first byte of a request to its response.\n"
                  "# TYPE rerank_request_duration_seconds histogram\n");
    for (size_t k = 0; k < n; k++) {
        model_label(g, (int)k, lab, sizeof lab);
        for (int r = 0; r < RR_ROUTE_COUNT; r++) {
            if (!sl[k].latency[r].total) continue;
            snprintf(lab2, sizeof lab2, "%s%sroute=\"%s\"", lab, lab[0] ? "," : "", rr_route_path((rr_route_t)r));
            sb_hist(&b, "rerank_request_duration_seconds", lab2, &sl[k].latency[r]);
        }
    }
    /* gRPC calls (only the series that happened: none without --grpc-port) */
    int any_grpc = 0;
    for (int k = 0; k < RR_GRPC_METHOD_COUNT; k++) any_grpc |= grpc_lat[k].total > 0;
    if (any_grpc) {
        sb_printf(&b, "# HELP rerank_grpc_requests_total gRPC calls by method and status code.\n"
                      "# TYPE rerank_grpc_requests_total counter\n");
        for (int k = 0; k < RR_GRPC_METHOD_COUNT; k++)
            for (int c = 0; c < N_GRPC_CODES; c++)
                if (grpc[k][c])
                    sb_printf(&b, "rerank_grpc_requests_total{method=\"%s\",code=\"%s\"} %llu\n", k_grpc_methods[k],
                              k_grpc_codes[c], grpc[k][c]);
        sb_printf(&b, "# HELP rerank_grpc_request_duration_seconds Time from a gRPC call's start to its status.\n"
                      "# TYPE rerank_grpc_request_duration_seconds histogram\n");
        for (int k = 0; k < RR_GRPC_METHOD_COUNT; k++) {
            if (!grpc_lat[k].total) continue;
            snprintf(lab, sizeof lab, "method=\"%s\"", k_grpc_methods[k]);
            sb_hist(&b, "rerank_grpc_request_duration_seconds", lab, &grpc_lat[k]);
        }
    }
    sb_model_hist(&b, "rerank_queue_wait_seconds", "Time a request's first pair waited in the batch queue.", sl, n, g,
                  offsetof(mslot_t, queue_wait));
    sb_model_hist(&b, "rerank_batch_pairs", "Pairs per forward pass.", sl, n, g, offsetof(mslot_t, batch_pairs));
    sb_model_hist(&b, "rerank_batch_tokens", "Tokens per forward pass.", sl, n, g, offsetof(mslot_t, batch_tokens));
    sb_model_hist(&b, "rerank_batch_duration_seconds", "Duration of one forward pass.", sl, n, g,
                  offsetof(mslot_t, batch_seconds));
#define PER_SLOT(expr)                                                                                                 \
    for (size_t k = 0; k < n; k++) v[k] = (double)(expr)
    PER_SLOT(sl[k].batches);
    sb_model_value(&b, "rerank_batches_total", "counter", "Forward passes run (failed ones too).", v, n, g);
    PER_SLOT(sl[k].pairs_scored);
    sb_model_value(&b, "rerank_pairs_scored_total", "counter", "Pairs scored (by forward passes that succeeded).", v, n, g);
    PER_SLOT(sl[k].tokens_scored);
    sb_model_value(&b, "rerank_tokens_scored_total", "counter", "Tokens of the pairs scored.", v, n, g);
    PER_SLOT(sl[k].docs);
    sb_model_value(&b, "rerank_documents_total", "counter", "Documents received in accepted requests.", v, n, g);
    sb_value(&b, "rerank_cancelled_requests_total", "counter", "Requests whose client went away before the answer.",
             (double)cancelled);
    /* gauges: slot k > 0 is model k-1; with one model slot 0 is the sum */
    const rr_metrics_model_t *mm = g->models;
    size_t nm = g->n_models;
#define PER_MODEL(field)                                                                                               \
    do {                                                                                                               \
        v[0] = 0;                                                                                                      \
        for (size_t k = 0; k < nm; k++) {                                                                              \
            v[k + 1] = (double)mm[k].field;                                                                            \
            v[0] += v[k + 1];                                                                                          \
        }                                                                                                              \
    } while (0)
    PER_MODEL(queue_pairs);
    sb_model_value(&b, "rerank_queue_pairs", "gauge", "Pairs waiting for a batch.", v, n, g);
    PER_MODEL(queue_tokens);
    sb_model_value(&b, "rerank_queue_tokens", "gauge", "Tokens waiting for a batch.", v, n, g);
    PER_MODEL(queue_jobs);
    sb_model_value(&b, "rerank_queue_requests", "gauge", "Requests with pairs waiting for a batch.", v, n, g);
    PER_MODEL(batches_running);
    sb_model_value(&b, "rerank_batches_running", "gauge", "Batches being scored now (at most --batches-in-flight).", v, n,
                   g);
    sb_value(&b, "rerank_in_flight_requests", "gauge", "Requests being received, queued or answered.", (double)g->in_flight);
    sb_value(&b, "rerank_ready", "gauge", "1 when the model is loaded, healthy and the server accepts work.", (double)g->ready);
    PER_MODEL(healthy);
    v[0] = nm == 0 || v[0] == (double)nm; /* one model: its health (none yet: healthy) */
    sb_model_value(&b, "rerank_model_healthy", "gauge", "0 once the model failed on its device and cannot score.", v, n, g);
    PER_MODEL(device_memory_bytes);
    sb_model_value(&b, "rerank_device_memory_bytes", "gauge", "Bytes the model holds on its device (0 on the CPU).", v, n,
                   g);
#undef PER_SLOT
#undef PER_MODEL
    sb_printf(&b, "# HELP rerank_model_info The served model.\n# TYPE rerank_model_info gauge\n");
    static const rr_metrics_model_t k_none = {.model = "", .architecture = "", .precision = "", .compute = "", .device = ""};
    for (size_t k = 0; k < (nm ? nm : 1); k++) {
        const rr_metrics_model_t *x = nm ? &mm[k] : &k_none;
        sb_printf(&b, "rerank_model_info{model=\"");
        sb_label(&b, x->model);
        sb_printf(&b, "\",architecture=\"");
        sb_label(&b, x->architecture);
        sb_printf(&b, "\",precision=\"");
        sb_label(&b, x->precision);
        sb_printf(&b, "\",compute=\"");
        sb_label(&b, x->compute);
        sb_printf(&b, "\",device=\"");
        sb_label(&b, x->device);
        sb_printf(&b, "\",version=\"");
        sb_label(&b, g->version);
        sb_printf(&b, "\",max_length=\"%ld\"} 1\n", x->max_length);
    }
    rr_free(sl);
    if (b.oom) { rr_free(b.p); return NULL; }
    if (len) *len = b.n;
    return b.p;
}
