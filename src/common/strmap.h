/* strmap.h — open-addressing hash map from byte strings to int32 values.
 * Keys are copied into one arena owned by the map. Not thread-safe for
 * writes; concurrent lookups on a finished map are safe. */
#ifndef RR_STRMAP_H
#define RR_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "rerank.h"

typedef struct rr_strmap rr_strmap_t;

rr_strmap_t *rr_strmap_new(size_t expected);
void rr_strmap_free(rr_strmap_t *m);
/* Insert or overwrite. RERANK_ERR_NOMEM on allocation failure. */
rerank_status_t rr_strmap_put(rr_strmap_t *m, const char *key, size_t len, int32_t value);
/* Returns 1 and sets *value if found, else 0. */
int rr_strmap_get(const rr_strmap_t *m, const char *key, size_t len, int32_t *value);
size_t rr_strmap_size(const rr_strmap_t *m);

#endif
