/* error.h — thread-local error messages and always-on invariant checks. */
#ifndef RR_ERROR_H
#define RR_ERROR_H

#include "rerank.h"

/* Record a failure for the calling thread and return `status`, so callers can
 * write `return rr_error(RERANK_ERR_FORMAT, "bad tensor %s", name);`. */
rerank_status_t rr_error(rerank_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current thread's message with context: "ctx: <old message>". */
void rr_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Always-on assertion for broken internal invariants (never for bad input). */
#define RR_ASSERT(x)                                                          \
    do {                                                                      \
        if (!(x)) rr_assert_fail(__FILE__, __LINE__, #x);                     \
    } while (0)
_Noreturn void rr_assert_fail(const char *file, int line, const char *expr);

#endif
