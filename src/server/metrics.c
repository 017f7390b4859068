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

struct rr_metrics {
    pthread_mutex_t mu;
    unsigned long long requests[RR_ROUTE_COUNT][N_CODES + 1]; /* last: other codes */
    hist_t latency[RR_ROUTE_COUNT];
    hist_t queue_wait, batch_pairs, batch_tokens, batch_seconds;
    unsigned long long batches, pairs_scored, tokens_scored, docs, request_tokens, cancelled;
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

rr_metrics_t *rr_metrics_new(void) {
    rr_metrics_t *m = rr_calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->mu, NULL);
    for (int r = 0; r < RR_ROUTE_COUNT; r++) hist_init(&m->latency[r], k_lat_buckets, sizeof k_lat_buckets / sizeof *k_lat_buckets);
    hist_init(&m->queue_wait, k_lat_buckets, sizeof k_lat_buckets / sizeof *k_lat_buckets);
    hist_init(&m->batch_seconds, k_lat_buckets, sizeof k_lat_buckets / sizeof *k_lat_buckets);
    hist_init(&m->batch_pairs, k_pair_buckets, sizeof k_pair_buckets / sizeof *k_pair_buckets);
    hist_init(&m->batch_tokens, k_tok_buckets, sizeof k_tok_buckets / sizeof *k_tok_buckets);
    return m;
}

void rr_metrics_free(rr_metrics_t *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    rr_free(m);
}

void rr_metrics_request(rr_metrics_t *m, rr_route_t route, int status, double seconds) {
    if (route >= RR_ROUTE_COUNT) route = RR_ROUTE_OTHER;
    size_t c = N_CODES;
    for (size_t i = 0; i < N_CODES; i++)
        if (k_codes[i] == status) c = i;
    pthread_mutex_lock(&m->mu);
    m->requests[route][c]++;
    hist_obs(&m->latency[route], seconds);
    pthread_mutex_unlock(&m->mu);
}

void rr_metrics_queue_wait(rr_metrics_t *m, double seconds) {
    pthread_mutex_lock(&m->mu);
    hist_obs(&m->queue_wait, seconds);
    pthread_mutex_unlock(&m->mu);
}

void rr_metrics_batch(rr_metrics_t *m, size_t pairs, size_t tokens, double seconds) {
    pthread_mutex_lock(&m->mu);
    hist_obs(&m->batch_pairs, (double)pairs);
    hist_obs(&m->batch_tokens, (double)tokens);
    hist_obs(&m->batch_seconds, seconds);
    m->batches++;
    m->pairs_scored += pairs;
    m->tokens_scored += tokens;
    pthread_mutex_unlock(&m->mu);
}

void rr_metrics_docs(rr_metrics_t *m, size_t docs, size_t tokens) {
    pthread_mutex_lock(&m->mu);
    m->docs += docs;
    m->request_tokens += tokens;
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

static void sb_one_hist(sbuf_t *b, const char *name, const char *help, const hist_t *h) {
    sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    sb_hist(b, name, "", h);
}

char *rr_metrics_render(rr_metrics_t *m, const rr_metrics_gauges_t *g, size_t *len) {
    sbuf_t b = {rr_malloc(8192), 0, 8192, 0};
    if (!b.p) return NULL;
    pthread_mutex_lock(&m->mu);
    sb_printf(&b, "# HELP rerank_requests_total HTTP requests by route and status code.\n"
                  "# TYPE rerank_requests_total counter\n");
    for (int r = 0; r < RR_ROUTE_COUNT; r++)
        for (size_t c = 0; c <= N_CODES; c++) {
            if (!m->requests[r][c]) continue;
            if (c < N_CODES)
                sb_printf(&b, "rerank_requests_total{route=\"%s\",status=\"%d\"} %llu\n", rr_route_path((rr_route_t)r), k_codes[c], m->requests[r][c]);
            else
                sb_printf(&b, "rerank_requests_total{route=\"%s\",status=\"other\"} %llu\n", rr_route_path((rr_route_t)r), m->requests[r][c]);
        }
    sb_printf(&b, "# HELP rerank_request_duration_seconds Time from the first byte of a request to its response.\n"
                  "# TYPE rerank_request_duration_seconds histogram\n");
    for (int r = 0; r < RR_ROUTE_COUNT; r++) {
        if (!m->latency[r].total) continue;
        char lab[64];
        snprintf(lab, sizeof lab, "route=\"%s\"", rr_route_path((rr_route_t)r));
        sb_hist(&b, "rerank_request_duration_seconds", lab, &m->latency[r]);
    }
    sb_one_hist(&b, "rerank_queue_wait_seconds", "Time a request's first pair waited in the batch queue.", &m->queue_wait);
    sb_one_hist(&b, "rerank_batch_pairs", "Pairs per forward pass.", &m->batch_pairs);
    sb_one_hist(&b, "rerank_batch_tokens", "Tokens per forward pass.", &m->batch_tokens);
    sb_one_hist(&b, "rerank_batch_duration_seconds", "Duration of one forward pass.", &m->batch_seconds);
    sb_value(&b, "rerank_batches_total", "counter", "Forward passes run.", (double)m->batches);
    sb_value(&b, "rerank_pairs_scored_total", "counter", "Pairs scored.", (double)m->pairs_scored);
    sb_value(&b, "rerank_tokens_scored_total", "counter", "Tokens run through the model.", (double)m->tokens_scored);
    sb_value(&b, "rerank_documents_total", "counter", "Documents received in accepted requests.", (double)m->docs);
    sb_value(&b, "rerank_cancelled_requests_total", "counter", "Requests whose client went away before the answer.",
             (double)m->cancelled);
    pthread_mutex_unlock(&m->mu);
    sb_value(&b, "rerank_queue_pairs", "gauge", "Pairs waiting for a batch.", (double)g->queue_pairs);
    sb_value(&b, "rerank_queue_tokens", "gauge", "Tokens waiting for a batch.", (double)g->queue_tokens);
    sb_value(&b, "rerank_queue_requests", "gauge", "Requests with pairs waiting for a batch.", (double)g->queue_jobs);
    sb_value(&b, "rerank_in_flight_requests", "gauge", "Requests being received, queued or answered.", (double)g->in_flight);
    sb_value(&b, "rerank_ready", "gauge", "1 when the model is loaded, healthy and the server accepts work.", (double)g->ready);
    sb_value(&b, "rerank_model_healthy", "gauge", "0 once the model failed on its device and cannot score.",
             (double)g->healthy);
    sb_value(&b, "rerank_device_memory_bytes", "gauge", "Bytes the model holds on its device (0 on the CPU).",
             (double)g->device_memory_bytes);
    sb_printf(&b, "# HELP rerank_model_info The served model.\n# TYPE rerank_model_info gauge\nrerank_model_info{model=\"");
    sb_label(&b, g->model);
    sb_printf(&b, "\",architecture=\"");
    sb_label(&b, g->architecture);
    sb_printf(&b, "\",precision=\"");
    sb_label(&b, g->precision);
    sb_printf(&b, "\",compute=\"");
    sb_label(&b, g->compute);
    sb_printf(&b, "\",device=\"");
    sb_label(&b, g->device);
    sb_printf(&b, "\",version=\"");
    sb_label(&b, g->version);
    sb_printf(&b, "\",max_length=\"%ld\"} 1\n", g->max_length);
    if (b.oom) { rr_free(b.p); return NULL; }
    if (len) *len = b.n;
    return b.p;
}
