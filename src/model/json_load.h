/* json_load.h — jansson parsing that tells allocation failures apart from
 * malformed input (jansson reports some of its failed allocations as syntax
 * errors). */
#ifndef RR_MODEL_JSON_LOAD_H
#define RR_MODEL_JSON_LOAD_H

#include <jansson.h>
#include <stddef.h>

#include "rerank.h"

/* Parse len bytes of JSON (duplicate keys rejected) into *out. Errors name
 * `what`: RERANK_ERR_FORMAT for bad JSON, RERANK_ERR_NOMEM when memory ran
 * out. */
rerank_status_t rr_json_parse(const char *text, size_t len, const char *what, json_t **out);

/* Read a whole file of at most max_bytes and parse it. */
rerank_status_t rr_json_parse_file(const char *path, size_t max_bytes, json_t **out);

#endif
