/* golden.h — the golden pair files of ../shared/fixtures/golden for tests:
 * each record's input ids as a rerank_pair_t and its reference scores. */
#ifndef RR_TESTS_GOLDEN_H
#define RR_TESTS_GOLDEN_H

#include <jansson.h>
#include <stddef.h>

#include "rerank.h"

#define GOLDEN_MAX_RECORDS 512

typedef struct golden {
    size_t n;
    rerank_pair_t pairs[GOLDEN_MAX_RECORDS];
    json_t *scores[GOLDEN_MAX_RECORDS]; /* record.scores objects (owned by roots) */
    json_t *roots[GOLDEN_MAX_RECORDS];
} golden_t;

/* Load fixtures/golden/FILE; NULL (with a message on stderr) if it cannot
 * be read. Free with golden_free. */
golden_t *golden_load(const char *file);
void golden_free(golden_t *g); /* NULL-safe */

/* The reference score of record i under `key` ("tiny-xlmr", ...). */
double golden_score(const golden_t *g, size_t i, const char *key);

#endif
