/* route.h — the route table of `rerank serve`: every path, its methods and whether it needs the API key. */
#ifndef RR_SERVER_ROUTE_H
#define RR_SERVER_ROUTE_H

#include <stddef.h>

/* Route ids: the request dispatcher (http.c), the handlers (handlers.c) and
 * the metrics' route labels (metrics.c) all read route.c's table. */
typedef enum rr_route {
    RR_ROUTE_RERANK = 0, /* POST /rerank      */
    RR_ROUTE_V1,         /* POST /v1/rerank   */
    RR_ROUTE_V2,         /* POST /v2/rerank   */
    RR_ROUTE_HEALTH,
    RR_ROUTE_READY,
    RR_ROUTE_INFO,
    RR_ROUTE_METRICS,
    RR_ROUTE_OPENAPI,
    RR_ROUTE_MODELS,     /* GET /v1/models    */
    RR_ROUTE_OTHER,      /* 404 / 405         */
    RR_ROUTE_COUNT
} rr_route_t;

/* HTTP methods a route accepts (bit set). */
enum { RR_METHOD_GET = 1, RR_METHOD_HEAD = 2, RR_METHOD_POST = 4 };

typedef struct rr_route_def {
    const char *path;  /* exact match; also the metrics label   */
    rr_route_t route;
    unsigned methods;  /* RR_METHOD_* accepted                  */
    int open;          /* 1: answered without the API key       */
} rr_route_def_t;

/* The table entry for an exact path, or NULL (404). */
const rr_route_def_t *rr_route_find(const char *path);
/* The entry of a route id (RR_ROUTE_OTHER and beyond: NULL). */
const rr_route_def_t *rr_route_get_def(rr_route_t route);
/* The i-th entry, i < rr_route_count() (tests iterate the table). */
size_t rr_route_count(void);
const rr_route_def_t *rr_route_at(size_t i);
/* The path of a route id, or "other" (metrics label of 404/405). */
const char *rr_route_path(rr_route_t route);
/* RR_METHOD_* of a request method name, or 0 for any other method. */
unsigned rr_route_method(const char *method);
/* The Allow header of a 405 answer: the accepted methods, e.g. "GET, HEAD". */
const char *rr_route_allow(const rr_route_def_t *def);

#endif
