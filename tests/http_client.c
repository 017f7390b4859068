/* http_client.c — see http_client.h. */
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t hc_on_body(char *p, size_t sz, size_t n, void *u) {
    hc_resp_t *r = u;
    size_t k = sz * n;
    char *nb = realloc(r->body, r->len + k + 1);
    if (!nb) return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = 0;
    return k;
}

/* Header `name: value\r\n` into dst (without the CRLF). */
static void header(const char *p, size_t k, const char *name, char *dst, size_t cap) {
    size_t n = strlen(name);
    if (k >= n + 2 && !strncasecmp(p, name, n)) snprintf(dst, cap, "%.*s", (int)(k - n - 2), p + n);
}

size_t hc_on_header(char *p, size_t sz, size_t n, void *u) {
    hc_resp_t *r = u;
    size_t k = sz * n;
    header(p, k, "Retry-After: ", r->retry_after, sizeof r->retry_after);
    header(p, k, "Content-Type: ", r->ctype, sizeof r->ctype);
    header(p, k, "Allow: ", r->allow, sizeof r->allow);
    size_t have = strlen(r->headers), room = sizeof r->headers - 1 - have;
    memcpy(r->headers + have, p, k < room ? k : room);
    r->headers[have + (k < room ? k : room)] = 0;
    return k;
}

long long hc_header_num(const hc_resp_t *r, const char *name) {
    size_t n = strlen(name);
    for (const char *l = r->headers; *l;) {
        const char *e = strchr(l, '\n');
        if (!strncasecmp(l, name, n) && l[n] == ':') {
            char *end;
            long long v = strtoll(l + n + 1, &end, 10);
            return end != l + n + 1 && (*end == '\r' || *end == '\n' || !*end) ? v : -1;
        }
        if (!e) break;
        l = e + 1;
    }
    return -1;
}

hc_resp_t hc_request(CURL *c, const char *base, const char *method, const char *path, const char *body,
                     long body_len, const char *auth, long timeout_ms) {
    hc_resp_t r = {0};
    int own = !c;
    if (own) c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (auth) h = curl_slist_append(h, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hc_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, hc_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms ? timeout_ms : 60000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body_len >= 0 ? body_len : (long)strlen(body));
    }
    if (method && !strcmp(method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (method && strcmp(method, body ? "POST" : "GET")) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    r.rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r.connects);
    curl_slist_free_all(h);
    if (own) curl_easy_cleanup(c);
    return r;
}

void hc_free(hc_resp_t *r) {
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

json_t *hc_json(const hc_resp_t *r) {
    json_error_t e;
    return r->body ? json_loadb(r->body, r->len, JSON_ALLOW_NUL, &e) : NULL;
}

int hc_is_error(const hc_resp_t *r, long status, const char *type) {
    json_t *j = hc_json(r);
    json_t *e = json_object_get(j, "error");
    const char *t = json_string_value(json_object_get(e, "type"));
    int ok = r->status == status && json_is_string(json_object_get(e, "message")) && t && (!type || !strcmp(t, type));
    if (!ok)
        fprintf(stderr, "    got %ld %s (want %ld %s)\n", r->status, r->body ? r->body : "(none)", status,
                type ? type : "");
    json_decref(j);
    return ok;
}
