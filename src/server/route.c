/* route.c — the one route table (see route.h); no HTTP library here. */
#include "server/route.h"

#include <string.h>

static const rr_route_def_t k_routes[] = {
    {"/rerank", RR_ROUTE_RERANK, RR_METHOD_POST, 0},
    {"/v1/rerank", RR_ROUTE_V1, RR_METHOD_POST, 0},
    {"/v2/rerank", RR_ROUTE_V2, RR_METHOD_POST, 0},
    {"/health", RR_ROUTE_HEALTH, RR_METHOD_GET | RR_METHOD_HEAD, 1},
    {"/ready", RR_ROUTE_READY, RR_METHOD_GET | RR_METHOD_HEAD, 1},
    {"/info", RR_ROUTE_INFO, RR_METHOD_GET | RR_METHOD_HEAD, 0},
    {"/metrics", RR_ROUTE_METRICS, RR_METHOD_GET | RR_METHOD_HEAD, 1},
    {"/openapi.json", RR_ROUTE_OPENAPI, RR_METHOD_GET | RR_METHOD_HEAD, 0},
    {"/v1/models", RR_ROUTE_MODELS, RR_METHOD_GET | RR_METHOD_HEAD, 0},
};
#define N_ROUTES (sizeof k_routes / sizeof k_routes[0])
_Static_assert(N_ROUTES == RR_ROUTE_OTHER, "one table entry per route id, in id order");

const rr_route_def_t *rr_route_find(const char *path) {
    for (size_t i = 0; path && i < N_ROUTES; i++)
        if (!strcmp(path, k_routes[i].path)) return &k_routes[i];
    return NULL;
}

const rr_route_def_t *rr_route_get_def(rr_route_t route) {
    return (size_t)route < N_ROUTES ? &k_routes[route] : NULL;
}

size_t rr_route_count(void) { return N_ROUTES; }

const rr_route_def_t *rr_route_at(size_t i) { return i < N_ROUTES ? &k_routes[i] : NULL; }

const char *rr_route_path(rr_route_t route) {
    const rr_route_def_t *d = rr_route_get_def(route);
    return d ? d->path : "other";
}

unsigned rr_route_method(const char *method) {
    if (!method) return 0;
    if (!strcmp(method, "GET")) return RR_METHOD_GET;
    if (!strcmp(method, "HEAD")) return RR_METHOD_HEAD;
    if (!strcmp(method, "POST")) return RR_METHOD_POST;
    return 0;
}

const char *rr_route_allow(const rr_route_def_t *def) {
    /* every combination of the three methods, in the order GET, HEAD, POST */
    static const char *const k_allow[8] = {"",     "GET",       "HEAD",       "GET, HEAD",
                                           "POST", "GET, POST", "HEAD, POST", "GET, HEAD, POST"};
    return def ? k_allow[def->methods & 7u] : "";
}
