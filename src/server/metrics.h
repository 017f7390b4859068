/* metrics.h — Prometheus metrics of `rerank serve` (text format 0.0.4). */
#ifndef RR_SERVER_METRICS_H
#define RR_SERVER_METRICS_H

#include <stddef.h>

#include "server/route.h" /* per-route series, labelled with the route's path */

typedef struct rr_metrics rr_metrics_t;

/* Values sampled at render time. */
typedef struct rr_metrics_gauges {
    size_t queue_pairs, queue_tokens, queue_jobs;
    long in_flight;
    int ready;   /* loaded, healthy and accepting work */
    int healthy; /* the model can still score          */
    long long device_memory_bytes;
    const char *model, *architecture, *precision, *compute, *device, *version;
    long max_length;
} rr_metrics_gauges_t;

rr_metrics_t *rr_metrics_new(void);
void rr_metrics_free(rr_metrics_t *m);
void rr_metrics_request(rr_metrics_t *m, rr_route_t route, int status, double seconds);
void rr_metrics_queue_wait(rr_metrics_t *m, double seconds);
void rr_metrics_batch(rr_metrics_t *m, size_t pairs, size_t tokens, double seconds);
void rr_metrics_docs(rr_metrics_t *m, size_t docs, size_t tokens);
void rr_metrics_cancelled(rr_metrics_t *m);
/* Text exposition (rr_free it); NULL on out of memory. */
char *rr_metrics_render(rr_metrics_t *m, const rr_metrics_gauges_t *g, size_t *len);

#endif
