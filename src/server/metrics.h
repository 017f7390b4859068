/* metrics.h — Prometheus metrics of `rerank serve` (text format 0.0.4). */
#ifndef RR_SERVER_METRICS_H
#define RR_SERVER_METRICS_H

#include <stddef.h>

#include "server/model_spec.h" /* RR_SRV_MAX_MODELS */
#include "server/route.h"      /* per-route series, labelled with the route's path */

typedef struct rr_metrics rr_metrics_t;

/* One served model's values sampled at render time. */
typedef struct rr_metrics_model {
    const char *model, *architecture, *precision, *compute, *device;
    long max_length;
    size_t queue_pairs, queue_tokens, queue_jobs;
    size_t batches_running; /* batches being scored now */
    int healthy; /* the model can still score */
    long long device_memory_bytes;
} rr_metrics_model_t;

/* Values sampled at render time. With one model (or none yet) every series
 * is unlabelled, as it always was; with several, the per-model series
 * (queue, batches, scored pairs, health, device memory, rerank requests)
 * carry a model="NAME" label instead, one series per model. */
typedef struct rr_metrics_gauges {
    long in_flight;
    int ready; /* loaded, healthy and accepting work */
    const char *version;
    size_t n_models;
    rr_metrics_model_t models[RR_SRV_MAX_MODELS];
} rr_metrics_gauges_t;

rr_metrics_t *rr_metrics_new(void);
void rr_metrics_free(rr_metrics_t *m);
/* `model`: the index of the served model the request went to, -1 if none
 * (not a rerank route, or refused before a model was chosen). */
void rr_metrics_request(rr_metrics_t *m, int model, rr_route_t route, int status, double seconds);
void rr_metrics_queue_wait(rr_metrics_t *m, int model, double seconds);
/* One forward pass of `pairs` pairs: counted and timed whether or not it
 * succeeded; its pairs and tokens count as scored only when ok. */
void rr_metrics_batch(rr_metrics_t *m, int model, size_t pairs, size_t tokens, double seconds, int ok);
void rr_metrics_docs(rr_metrics_t *m, int model, size_t docs, size_t tokens);
void rr_metrics_cancelled(rr_metrics_t *m);
/* gRPC calls by method and status code (grpc_status_code 0..16). */
typedef enum rr_grpc_method {
    RR_GRPC_RERANK = 0, RR_GRPC_RERANK_STREAM, RR_GRPC_INFO, RR_GRPC_HEALTH, RR_GRPC_OTHER, RR_GRPC_METHOD_COUNT
} rr_grpc_method_t;
void rr_metrics_grpc(rr_metrics_t *m, rr_grpc_method_t method, int code, double seconds);
/* Text exposition (rr_free it); NULL on out of memory. */
char *rr_metrics_render(rr_metrics_t *m, const rr_metrics_gauges_t *g, size_t *len);

#endif
