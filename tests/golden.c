/* golden.c — see golden.h. */
#include "golden.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>


golden_t *golden_load(const char *file) {
    const char *shared = getenv("RERANK_SHARED"); /* as t_shared() in test.h */
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/golden/%s", shared && *shared ? shared : "../shared", file);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        return NULL;
    }
    golden_t *g = calloc(1, sizeof *g);
    char *line = NULL;
    size_t cap = 0;
    while (g && getline(&line, &cap, f) > 0 && g->n < GOLDEN_MAX_RECORDS) {
        json_error_t e;
        json_t *r = json_loads(line, JSON_ALLOW_NUL, &e);
        if (!r) continue;
        json_t *ids = json_object_get(r, "input_ids"), *tt = json_object_get(r, "token_type_ids");
        size_t n = json_array_size(ids);
        int32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        if (!a || !b) {
            free(a);
            free(b);
            json_decref(r);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            a[i] = (int32_t)json_integer_value(json_array_get(ids, i));
            b[i] = tt ? (int32_t)json_integer_value(json_array_get(tt, i)) : 0;
        }
        g->pairs[g->n] = (rerank_pair_t){a, b, (int32_t)n};
        g->scores[g->n] = json_object_get(r, "scores");
        g->roots[g->n++] = r;
    }
    free(line);
    fclose(f);
    return g;
}

void golden_free(golden_t *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) {
        free((void *)g->pairs[i].ids);
        free((void *)g->pairs[i].type_ids);
        json_decref(g->roots[i]);
    }
    free(g);
}

double golden_score(const golden_t *g, size_t i, const char *key) {
    return json_number_value(json_object_get(g->scores[i], key));
}
