/* server_internal.h — state shared by the server's files: http.c (dispatch) -> handlers.c -> respond.c, watch.c. */
#ifndef RR_SERVER_INTERNAL_H
#define RR_SERVER_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "server/api.h"
#include "server/metrics.h"
#include "server/server.h"

enum { RR_STATE_LOADING = 0, RR_STATE_READY = 1, RR_STATE_DRAINING = 2 };
/* A rerank request's progress through the batcher (conn_req.phase). */
enum { RR_PHASE_NONE = 0, RR_PHASE_SUBMITTED, RR_PHASE_SUSPENDED, RR_PHASE_DONE };

typedef struct rr_conn_req rr_conn_req_t;

/* The strings of rr_server_info_t the server copies. */
#define RR_SERVER_INFO_STRINGS 10

/* One served model: its scorer, what the API reports, its own batcher
 * (so one model's backlog never delays another's requests). */
typedef struct rr_served {
    rr_server_t *srv;
    int idx;                /* in rr_server.models, the metrics slot */
    rr_scorer_t scorer;
    rr_server_info_t info;
    char *info_strings[RR_SERVER_INFO_STRINGS];
    rr_batcher_t *batcher;
    rerank_truncation_t truncation;
    int32_t max_length;
    int batches_in_flight;  /* its batcher's workers */
} rr_served_t;

/* Where a connection's current request is (rr_sock_t.phase). */
typedef enum rr_sock_phase {
    RR_SOCK_HEADERS = 0, /* waiting for a request's headers (or idle keep-alive) */
    RR_SOCK_BODY = 1,    /* headers complete, the body still arriving           */
    RR_SOCK_ANSWER = 2,  /* request complete: handled, queued or answered       */
} rr_sock_phase_t;

/* One accepted socket (MHD socket context), listed for the watcher:
 * - the header deadline: a request's headers must arrive within --timeout
 *   of the connection's start (or of the previous response on a keep-alive
 *   connection). MHD's own timeout only counts time without progress, so a
 *   client trickling a byte at a time (slowloris) would otherwise hold its
 *   connection forever;
 * - a peer that hung up before its request was complete: MHD 0.9.75 (epoll,
 *   several connections at once) may miss the FIN of a client that closed
 *   mid-headers or mid-body and keep the connection, its fd and its
 *   in-flight request until the idle timeout; shutdown drain waits for them.
 * The fields are guarded by rr_server.watch_mu. */
typedef struct rr_sock {
    int fd;
    double start; /* connection start or previous request completed  */
    int phase;    /* rr_sock_phase_t                                  */
    int gone;     /* watcher rounds in a row it found the peer gone   */
    int cut;      /* shut down by the watcher                         */
    struct rr_sock *next, *prev;
} rr_sock_t;

struct rr_server {
    const rr_server_config_t *cfg;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int state;
    atomic_long in_flight;
    atomic_ullong seq;
    rr_served_t models[RR_SRV_MAX_MODELS]; /* [0] is the default          */
    atomic_int n_models;                   /* stored once a slot is filled */
    rr_metrics_t *metrics;
    rr_api_limits_t limits;
    /* disconnect watcher over suspended connections */
    pthread_mutex_t watch_mu;
    rr_conn_req_t *watch_head;
    size_t watch_n;
    pthread_t watch_thread;
    int watch_started;
    atomic_int watch_stop;
    rr_sock_t *socks; /* open connections (header deadline), under watch_mu */
    size_t n_socks;   /* their number, under watch_mu                        */
    int drained;
};

/* A request's documents scored in windows (long_req.c): the job's pairs are
 * every document's windows, scored into win_scores; each document's score
 * and best window follow when it is done. */
typedef struct rr_long_req {
    size_t n_docs;
    rerank_windows_t *wins;
    size_t *first;        /* document i's windows: pairs[first[i], first[i + 1]) */
    rerank_pair_t *pairs; /* views into wins' ids */
    float *win_scores;
    rerank_chunk_info_t *best;
    size_t tokens;        /* of all the windows */
} rr_long_req_t;

struct rr_conn_req {
    rr_server_t *srv;
    struct MHD_Connection *conn;
    unsigned long long id;
    rr_route_t route;
    double t0;
    int before_drain;     /* headers arrived before the drain began      */
    char method[8];
    char path[64];
    char client[64];
    /* body */
    char *body;
    size_t len, cap, discarded;
    int too_large;
    int received;         /* the whole request arrived (its socket left RR_SOCK_BODY) */
    int refused;          /* 404/405/401 to answer once a bodiless request is complete */
    /* response bookkeeping */
    int status;           /* HTTP status sent (499: client went away)     */
    size_t resp_bytes;
    /* rerank */
    rr_served_t *model;   /* chosen by the request's "model" (NULL: none yet) */
    rr_rerank_req_t req;
    rerank_encoding_t *encs;
    rerank_pair_t *pairs;
    float *scores;
    size_t total_tokens;
    double tokenize_s;    /* tokenizing the pairs (TEI's x-tokenization-time) */
    rr_long_req_t lr;     /* long documents in windows (long_req.c; zero otherwise) */
    rr_job_t job;
    atomic_int phase;
    /* watch list */
    int watched, watch_cancelled;
    rr_conn_req_t *wnext, *wprev;
};

/* respond.c: queue r's response (takes `body`, an rr_malloc'd buffer or
 * NULL; X-Request-Id, Retry-After when retry_after > 0, Allow on 405 from
 * the route table, WWW-Authenticate on 401, Connection: close when
 * draining). */
enum MHD_Result rr_respond(rr_conn_req_t *r, int status, const char *ctype, char *body, size_t len,
                           int retry_after);
/* A rerank route's 200 (application/json) with TEI's timing headers:
 * x-compute-type (the model's device), x-compute-time and x-total-time (since
 * the request arrived), x-compute-characters, x-compute-tokens,
 * x-tokenization-time, x-queue-time, x-inference-time (whole milliseconds). */
enum MHD_Result rr_respond_scored(rr_conn_req_t *r, char *body, size_t len);
/* {"error": {"message", "type", "code"}} (Retry-After on 429 and 503). */
enum MHD_Result rr_respond_error(rr_conn_req_t *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Compact JSON of j (consumed; NULL answers 503). */
enum MHD_Result rr_respond_json(rr_conn_req_t *r, int status, json_t *j);

/* handlers.c */
enum MHD_Result rr_handle_rerank_start(rr_conn_req_t *r);
enum MHD_Result rr_handle_rerank_finish(rr_conn_req_t *r);
enum MHD_Result rr_handle_get(rr_conn_req_t *r);
void rr_conn_req_release_rerank(rr_conn_req_t *r);

/* long_req.c: the long-document options of the server's defaults
 * (--long-docs, --chunk-tokens, --chunk-overlap, --max-chunks-per-doc), as
 * gRPC requests (no such fields in TEI's messages) get them. */
void rr_long_options_server(const rr_server_config_t *c, rerank_long_options_t *lo);
/* ...and r's request over them; 1 when they need windows (chunks or
 * max_tokens_per_doc). */
int rr_long_options(const rr_conn_req_t *r, rerank_long_options_t *lo);
/* Encode the n documents in windows with the query: L's arrays allocated,
 * L->pairs the job's pairs (document i's in [first[i], first[i + 1])),
 * L->tokens their tokens; at most max_pairs windows in all. 0, or the HTTP
 * status with err (cap bytes) and *type set. */
int rr_long_encode(rr_long_req_t *L, const rr_served_t *m, size_t max_pairs, const rr_text_t *query,
                   const rr_text_t *docs, size_t n, const rerank_pair_options_t *po, const rerank_long_options_t *lo,
                   int truncate, const char *what, char *err, size_t cap, const char **type);
/* Once the job is done: each document's score (its best window's logit)
 * into scores[0, n_docs), and L->best[i] its window. */
void rr_long_reduce(rr_long_req_t *L, float *scores);
/* Free L's buffers (a zeroed L is fine) and zero it. */
void rr_long_release(rr_long_req_t *L);

/* watch.c */
int rr_watch_start(rr_server_t *s);
void rr_watch_stop(rr_server_t *s);
void rr_watch_add(rr_server_t *s, rr_conn_req_t *r);
void rr_watch_remove(rr_server_t *s, rr_conn_req_t *r);
/* Header deadline bookkeeping (MHD_OPTION_NOTIFY_CONNECTION). */
void rr_sock_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode code);
void rr_sock_set_phase(rr_server_t *s, struct MHD_Connection *conn, rr_sock_phase_t phase);
/* r arrived whole or was answered early: its socket moves to RR_SOCK_ANSWER
 * (once), where a peer that hangs up cancels the request instead of being
 * cut. */
void rr_req_received(rr_conn_req_t *r);

/* models.c: the model a request names (NULL name: the default), or NULL
 * with the 404 message in err; with one model every name gets it. */
rr_served_t *rr_models_pick(rr_server_t *s, const char *name, size_t n, char *err, size_t cap);
/* /v1/models and the "models" list of /info. */
json_t *rr_models_json(rr_server_t *s);
json_t *rr_model_info_json(rr_served_t *m);

/* openapi.c */
extern const char rr_openapi_json[];

#endif
