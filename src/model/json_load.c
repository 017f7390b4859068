/* json_load.c — see json_load.h. */
#include "model/json_load.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/error.h"

rerank_status_t rr_json_parse(const char *text, size_t len, const char *what, json_t **out) {
    rr_alloc_init_json();
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
    FILE *fp = fopen(path, "rb");
    if (!fp) return rr_error(RERANK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    rerank_status_t st = RERANK_OK;
    char *buf = NULL;
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = rr_error(RERANK_ERR_IO, "%s: not a regular file", path);
    } else if ((unsigned long long)sb.st_size > max_bytes) {
        st = rr_error(RERANK_ERR_LIMIT, "%s: %lld bytes exceeds the %zu-byte limit", path, (long long)sb.st_size,
                      max_bytes);
    } else if (!(buf = rr_malloc((size_t)sb.st_size + 1))) {
        st = rr_error(RERANK_ERR_NOMEM, "%s: out of memory", path);
    } else if (fread(buf, 1, (size_t)sb.st_size, fp) != (size_t)sb.st_size) {
        st = rr_error(RERANK_ERR_IO, "%s: short read", path);
    } else {
        st = rr_json_parse(buf, (size_t)sb.st_size, path, out);
    }
    fclose(fp);
    rr_free(buf);
    return st;
}
