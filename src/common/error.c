/* error.c — the calling thread's last error message (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char tl_error[1024];

rerank_status_t rr_error(rerank_status_t status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_error, sizeof tl_error, fmt, ap);
    va_end(ap);
    return status;
}

void rr_error_prefix(const char *fmt, ...) {
    char prefix[512], old[sizeof tl_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tl_error, sizeof old);
    snprintf(tl_error, sizeof tl_error, "%.500s: %.500s", prefix, old);
}

const char *rerank_last_error(void) { return tl_error; }

const char *rerank_version(void) { return RERANK_VERSION; }

const char *rerank_status_str(rerank_status_t s) {
    switch (s) {
    case RERANK_OK: return "ok";
    case RERANK_ERR_INVALID_ARGUMENT: return "invalid_argument";
    case RERANK_ERR_IO: return "io_error";
    case RERANK_ERR_FORMAT: return "format_error";
    case RERANK_ERR_UNSUPPORTED: return "unsupported";
    case RERANK_ERR_NOMEM: return "out_of_memory";
    case RERANK_ERR_INVALID_UTF8: return "invalid_utf8";
    case RERANK_ERR_LIMIT: return "limit_exceeded";
    case RERANK_ERR_INTERNAL: return "internal_error";
    }
    return "unknown";
}

_Noreturn void rr_assert_fail(const char *file, int line, const char *expr) {
    fprintf(stderr, "rerank: assertion failed at %s:%d: %s\n", file, line, expr);
    abort();
}
