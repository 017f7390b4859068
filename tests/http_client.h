/* http_client.h — the libcurl client the server tests share: one request,
 * its status, body and the headers they check. */
#ifndef RR_TEST_HTTP_CLIENT_H
#define RR_TEST_HTTP_CLIENT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

typedef struct hc_resp {
    long status; /* 0: no answer */
    CURLcode rc;
    char *body;  /* NUL-terminated, or NULL */
    size_t len;
    char retry_after[32], ctype[128], allow[64];
    char headers[4096]; /* every header line as received (cut at 4095 bytes) */
    long connects; /* new connections this request opened (keep-alive: 0) */
} hc_resp_t;

/* METHOD base+path with `body` (NULL: none; body_len < 0: strlen) as JSON,
 * `auth` an extra header line or NULL, timeout_ms 0: 60 s. On handle c
 * (reused connections) or, c NULL, on a fresh one. GET without a body and
 * POST with one need no method (NULL). */
hc_resp_t hc_request(CURL *c, const char *base, const char *method, const char *path, const char *body,
                     long body_len, const char *auth, long timeout_ms);
void hc_free(hc_resp_t *r);
/* The write and header callbacks hc_request sets (userdata: an hc_resp_t),
 * for tests that drive their own handles (curl_multi). */
size_t hc_on_body(char *p, size_t sz, size_t n, void *u);
size_t hc_on_header(char *p, size_t sz, size_t n, void *u);
/* The value of header `name` (case-insensitive) as a number, or -1 when
 * absent or not a whole number. */
long long hc_header_num(const hc_resp_t *r, const char *name);
/* The body parsed as JSON (NUL bytes allowed), or NULL. */
json_t *hc_json(const hc_resp_t *r);
/* The answer is `status` with {"error":{"message","type"}} (and that type
 * unless NULL); says what came instead on stderr. */
int hc_is_error(const hc_resp_t *r, long status, const char *type);

#endif
