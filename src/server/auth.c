/* auth.c — constant-time API key comparison. */
#include "server/auth.h"

#include <string.h>
#include <strings.h>

int rr_ct_equal(const char *a, size_t na, const char *b, size_t nb) {
    /* Walk the expected key (b) completely whatever a is; a's bytes beyond
     * its length read as 0 and the length difference is folded in. */
    volatile unsigned char diff = (unsigned char)(na != nb);
    for (size_t i = 0; i < nb; i++) {
        unsigned char x = i < na ? (unsigned char)a[i] : 0;
        diff |= (unsigned char)(x ^ (unsigned char)b[i]);
    }
    return diff == 0;
}

int rr_auth_check(const char *header, const char *key) {
    if (!key) return 1;
    if (!header) return 0;
    while (*header == ' ' || *header == '\t') header++;
    if (strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t')) return 0;
    const char *v = header + 7;
    while (*v == ' ' || *v == '\t') v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    return rr_ct_equal(v, n, key, strlen(key));
}
