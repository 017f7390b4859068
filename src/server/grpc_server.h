/* grpc_server.h — TEI's gRPC API (tei.v1 Info, Rerank, RerankStream; grpc.health.v1 Check) beside the HTTP server,
 * sharing its models, batchers, limits, API key and batch metrics. */
#ifndef RR_SERVER_GRPC_SERVER_H
#define RR_SERVER_GRPC_SERVER_H

#include "rerank.h"
#include "server/server.h"

typedef struct rr_grpc rr_grpc_t;

/* Listen on host:port (0: a free port) with `threads` completion-queue
 * threads; requests are answered once `srv` is ready (UNAVAILABLE before),
 * by the model named in the call's metadata "model", else the default
 * (first) one. `srv` must outlive the gRPC server. */
rerank_status_t rr_grpc_start(rr_server_t *srv, const char *host, long port, int threads, rr_grpc_t **out);
int rr_grpc_port(const rr_grpc_t *g);
/* Refuse new calls, let calls in flight finish for up to timeout_s, cancel
 * the rest, then free everything (NULL: no-op). Call before freeing srv. */
void rr_grpc_stop(rr_grpc_t *g, double timeout_s);

#endif
