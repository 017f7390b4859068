/* auth.h — API key check for `Authorization: Bearer KEY`. */
#ifndef RR_SERVER_AUTH_H
#define RR_SERVER_AUTH_H

#include <stddef.h>

/* 1 if `header` (the Authorization value, may be NULL) is "Bearer <key>"
 * (scheme case-insensitive). The key comparison takes time independent of
 * where the first difference is. */
int rr_auth_check(const char *header, const char *key);
/* Constant-time equality of two byte strings (time depends on the lengths
 * only). */
int rr_ct_equal(const char *a, size_t na, const char *b, size_t nb);

#endif
