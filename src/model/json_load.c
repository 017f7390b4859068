/* json_load.c — see json_load.h. */
#include "model/json_load.h"

#include "common/alloc.h"
#include "common/error.h"
#include "common/file.h"

rerank_status_t rr_json_parse(const char *text, size_t len, const char *what, json_t **out) {
    json_error_t e;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (*out) return RERANK_OK;
    if (json_error_code(&e) == json_error_out_of_memory)
        return rr_error(RERANK_ERR_NOMEM, "%s: out of memory parsing JSON", what);
    /* jansson's lexer reports a failed string allocation as a syntax error:
     * if the same text parses now, the first failure was memory. */
    json_t *again = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (again) {
        json_decref(again);
        return rr_error(RERANK_ERR_NOMEM, "%s: out of memory parsing JSON", what);
    }
    return rr_error(RERANK_ERR_FORMAT, "%s: not valid JSON (line %d, column %d: %s)", what, e.line, e.column,
                    e.text);
}

rerank_status_t rr_json_parse_file(const char *path, size_t max_bytes, json_t **out) {
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    rerank_status_t st = rr_file_read(path, max_bytes, &buf, &len);
    if (st == RERANK_OK) st = rr_json_parse(buf, len, path, out);
    rr_free(buf);
    return st;
}
