/* api_internal.h — helpers shared by api_common.c, api_tei.c, api_cohere.c. */
#ifndef RR_SERVER_API_INTERNAL_H
#define RR_SERVER_API_INTERNAL_H

#include <jansson.h>

#include "server/api.h"

rr_api_status_t rr_api_fail(rr_api_status_t st, char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Size/UTF-8/value-count checks, then parse; root must be an object. */
rr_api_status_t rr_api_load(const char *body, size_t n, const rr_api_limits_t *lim, json_t **root,
                            char *err, size_t cap);
rr_api_status_t rr_api_get_text(json_t *v, const char *what, size_t max_bytes, rr_text_t *out,
                                char *err, size_t cap);
/* Optional boolean member (absent or null leaves *out unchanged). */
rr_api_status_t rr_api_get_bool(json_t *obj, const char *key, int *out, char *err, size_t cap);
/* Required non-empty string member "query". */
rr_api_status_t rr_api_get_query(json_t *root, const rr_api_limits_t *lim, rr_text_t *out, char *err,
                                 size_t cap);
/* The long-document members of a request (api_long.c): r's fields -1
 * when absent; 400 for a wrong type, 422 for a value out of range. */
rr_api_status_t rr_api_get_long_docs(json_t *root, rr_rerank_req_t *r, char *err, size_t cap);
/* Add the window `c` to a result object: 0, or -1 out of memory. */
int rr_api_set_chunk(json_t *o, const rerank_chunk_info_t *c);
/* Optional string member "instruction" (absent or null: out->s NULL). */
rr_api_status_t rr_api_get_instruction(json_t *root, const rr_api_limits_t *lim, rr_text_t *out, char *err,
                                       size_t cap);
/* Serialize (compact, 9 significant digits), decref root; rr_free-able. */
char *rr_api_dump(json_t *root, size_t *len);

#endif
