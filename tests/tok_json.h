/* tok_json.h — tests' shorthand: a tokenizer from tokenizer.json text. */
#ifndef RR_TESTS_TOK_JSON_H
#define RR_TESTS_TOK_JSON_H

#include <jansson.h>

#include "common/error.h"
#include "tokenizer/internal.h"

static inline rerank_status_t tok_from_string(const char *js, rerank_tokenizer_t **out) {
    json_error_t e;
    json_t *root = json_loads(js, 0, &e);
    if (!root) {
        *out = NULL;
        return rr_error(RERANK_ERR_FORMAT, "test json: %s", e.text);
    }
    rerank_status_t st = rr_tokenizer_from_json(root, NULL, out);
    json_decref(root);
    return st;
}

#endif
