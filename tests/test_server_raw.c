/* test_server_raw.c — bad input against the real `rerank serve` binary over
 * raw TCP sockets (exact bytes on the wire, no HTTP client library in the
 * way). One test per row of docs/bad-input.md; after every bad input the
 * same server must still answer a valid POST /rerank with 200 and one
 * result per text. The server runs with small limits so that every limit is
 * reachable cheaply:
 *   --max-body-bytes 1M --max-text-bytes 64K --max-docs 64 --timeout 2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "server_proc.h"
#include "test.h"

static char g_bin[PATH_MAX];
static char g_model[PATH_MAX];

#define MAX_BODY (1u << 20)
#define MAX_TEXT (64u << 10)
#define MAX_DOCS 64
#define TIMEOUT_S 2

static srvproc_t S;

/* ---------------- raw connections ---------------- */
typedef struct rconn {
    int fd;
    char *buf; /* bytes received, not yet consumed */
    size_t len, cap;
    int eof;   /* peer closed (or reset) */
} rconn_t;

typedef struct rresp {
    int status;  /* 0: no (complete) response */
    char *head;  /* status line + headers      */
    char *body;
    size_t body_len;
} rresp_t;

static int rc_open(rconn_t *c) {
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)S.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

static void rc_close(rconn_t *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

/* Write all of p; returns bytes written (short on EPIPE/ECONNRESET: the
 * server may answer and close before a large body is sent). */
static size_t rc_write(rconn_t *c, const void *p, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t k = send(c->fd, (const char *)p + off, n - off, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        off += (size_t)k;
    }
    return off;
}

/* Read more bytes into c->buf; 1: got some, 0: EOF/reset, -1: timeout. */
static int rc_fill(rconn_t *c, double deadline) {
    if (c->eof) return 0;
    for (;;) {
        int ms = (int)((deadline - rr_now_s()) * 1000);
        if (ms <= 0) return -1;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, ms);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) return -1;
        if (c->len + 65536 + 1 > c->cap) {
            c->cap = (c->len + 65536 + 1) * 2;
            c->buf = realloc(c->buf, c->cap);
        }
        ssize_t k = recv(c->fd, c->buf + c->len, 65536, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            c->eof = 1;
            return 0;
        }
        c->len += (size_t)k;
        c->buf[c->len] = 0;
        return 1;
    }
}

static void rr_free_resp(rresp_t *r) {
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static const char *find_header(const char *head, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ') v++;
            return v;
        }
    }
    return NULL;
}

/* Read one response (Content-Length, chunked or read-to-EOF body). */
static rresp_t rc_read(rconn_t *c, double timeout_s) {
    rresp_t r = {0};
    double deadline = rr_now_s() + timeout_s;
    char *e;
    while (!(c->buf && (e = memmem(c->buf, c->len, "\r\n\r\n", 4))))
        if (rc_fill(c, deadline) <= 0) return r;
    size_t hlen = (size_t)(e - c->buf) + 4;
    r.head = strndup(c->buf, hlen);
    int status = 0;
    if (sscanf(r.head, "HTTP/1.%*d %d", &status) != 1) status = 0;
    const char *cl = find_header(r.head, "Content-Length");
    const char *te = find_header(r.head, "Transfer-Encoding");
    size_t need;
    if (cl) {
        need = (size_t)strtoull(cl, NULL, 10);
        while (c->len < hlen + need)
            if (rc_fill(c, deadline) <= 0) return r;
        r.body = malloc(need + 1);
        memcpy(r.body, c->buf + hlen, need);
        r.body[need] = 0;
        r.body_len = need;
        need += hlen;
    } else if (te && !strncasecmp(te, "chunked", 7)) {
        size_t pos = hlen;
        r.body = malloc(1);
        for (;;) {
            char *nl;
            while (!(nl = memmem(c->buf + pos, c->len - pos, "\r\n", 2)))
                if (rc_fill(c, deadline) <= 0) return r;
            size_t sz = (size_t)strtoull(c->buf + pos, NULL, 16);
            size_t start = (size_t)(nl - c->buf) + 2;
            while (c->len < start + sz + 2)
                if (rc_fill(c, deadline) <= 0) return r;
            if (sz == 0) { /* no trailers from MHD: just the final CRLF */
                pos = start + 2;
                break;
            }
            r.body = realloc(r.body, r.body_len + sz + 1);
            memcpy(r.body + r.body_len, c->buf + start, sz);
            r.body_len += sz;
            pos = start + sz + 2;
        }
        r.body[r.body_len] = 0;
        need = pos;
    } else {
        while (rc_fill(c, deadline) > 0) {}
        need = c->len;
        r.body_len = need - hlen;
        r.body = malloc(r.body_len + 1);
        memcpy(r.body, c->buf + hlen, r.body_len);
        r.body[r.body_len] = 0;
    }
    memmove(c->buf, c->buf + need, c->len - need);
    c->len -= need;
    r.status = status;
    return r;
}

/* Connection closed by the server within timeout_s (EOF after any bytes). */
static int rc_closed_within(rconn_t *c, double timeout_s) {
    double deadline = rr_now_s() + timeout_s;
    int k;
    while ((k = rc_fill(c, deadline)) > 0) {}
    return k == 0;
}

/* Open, send exactly n bytes, read one response, close. */
static rresp_t raw(const void *bytes, size_t n) {
    rconn_t c;
    rresp_t r = {0};
    if (rc_open(&c) != 0) return r;
    rc_write(&c, bytes, n);
    r = rc_read(&c, 30);
    rc_close(&c);
    return r;
}

/* POST path with the given body (n bytes) and content type. */
static rresp_t post(const char *path, const char *ctype, const void *body, size_t n) {
    size_t cap = n + 512;
    char *m = malloc(cap);
    int h = snprintf(m, cap, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", path, ctype, n);
    memcpy(m + h, body, n);
    rresp_t r = raw(m, (size_t)h + n);
    free(m);
    return r;
}
static rresp_t post_json(const char *path, const char *body) {
    return post(path, "application/json", body, strlen(body));
}

/* A JSON error body {"error": {"message", "type" == type, "code" == status}}. */
static int is_error(const rresp_t *r, int status, const char *type) {
    json_error_t je;
    json_t *j = r->body ? json_loadb(r->body, r->body_len, 0, &je) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *t = json_string_value(json_object_get(e, "type"));
    int ok = r->status == status && json_is_string(json_object_get(e, "message")) && t && !strcmp(t, type) &&
             json_integer_value(json_object_get(e, "code")) == status;
    if (!ok) fprintf(stderr, "    got %d %s (want %d %s)\n", r->status, r->body ? r->body : "(none)", status, type);
    json_decref(j);
    return ok;
}
#define CHECK_ERR(resp, status, type) CHECK(is_error(&(resp), status, type))

/* Number of entries of a 200 JSON array/results body, -1 otherwise. */
static long n_results(const rresp_t *r) {
    if (r->status != 200 || !r->body) return -1;
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, 0, &je);
    json_t *a = json_is_array(j) ? j : json_object_get(j, "results");
    long n = json_is_array(a) ? (long)json_array_size(a) : -1;
    json_decref(j);
    return n;
}

static const char *k_good = "{\"query\":\"what is a panda?\",\"texts\":[\"hi\",\"The giant panda is a bear.\",\"pandas is a library\"]}";

/* The server is alive and answers a valid request correctly. */
static int still_good(void) {
    rresp_t r = post_json("/rerank", k_good);
    long n = n_results(&r);
    int ok = r.status == 200 && n == 3;
    if (!ok) fprintf(stderr, "    valid request after bad input: %d %s\n", r.status, r.body ? r.body : "(none)");
    rr_free_resp(&r);
    return ok && sp_alive(&S);
}
#define CHECK_GOOD() CHECK_MSG(still_good(), "server no longer answers a valid request")

/* Post a TEI/Cohere body, check status (+ JSON error type), then a good one. */
static void expect(const char *path, const char *body, size_t n, int status, const char *type) {
    rresp_t r = post(path, "application/json", body, n);
    if (type) CHECK_MSG(is_error(&r, status, type), "body %.80s", body);
    else CHECK_MSG(r.status == status, "body %.80s: got %d %s", body, r.status, r.body ? r.body : "");
    rr_free_resp(&r);
    CHECK_GOOD();
}
#define EXPECT(path, lit, status, type) expect(path, lit, sizeof(lit) - 1, status, type)

/* ---------------- tests: JSON body ---------------- */
TEST(valid_baseline) {
    CHECK_MSG(S.port > 0, "server did not start");
    CHECK_GOOD();
    rresp_t r = post_json("/v1/rerank", "{\"query\":\"q\",\"documents\":[\"a\",{\"text\":\"b\"}]}");
    CHECK(n_results(&r) == 2);
    rr_free_resp(&r);
}

TEST(malformed_json) {
    EXPECT("/rerank", "{\"query\":\"q\" \"texts\":[\"a\"]}", 400, "validation");
    EXPECT("/rerank", "{query:'q',texts:['a']}", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"a\",]}", 400, "validation");
    EXPECT("/rerank", "not json at all", 400, "validation");
    EXPECT("/rerank", "[\"q\",[\"a\"]]", 400, "validation");        /* valid JSON, not an object */
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"a\"]} {}", 400, "validation"); /* trailing data */
    EXPECT("/rerank", "", 400, "validation");                         /* empty body */
}

TEST(truncated_json) {
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"a\"", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"a", 400, "validation");
    EXPECT("/v2/rerank", "{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"\\u00", 400, "validation");
}

TEST(deep_nesting) {
    /* 100000 '[': refused by the value count before jansson parses it. */
    size_t n = 100000;
    char *b = malloc(n + 1);
    memset(b, '[', n);
    b[n] = 0;
    expect("/rerank", b, n, 413, "validation");
    /* Deep but within the value budget (256 + 8*64): parsed, not an object. */
    n = 600;
    b = realloc(b, 2 * n + 1);
    memset(b, '[', n);
    memset(b + n, ']', n);
    expect("/rerank", b, 2 * n, 400, "validation");
    /* Deep objects inside a valid request's field. */
    char *o = malloc(8 * n + 64);
    size_t k = (size_t)sprintf(o, "{\"query\":\"q\",\"texts\":[\"a\"],\"x\":");
    for (size_t i = 0; i < 500; i++) k += (size_t)sprintf(o + k, "{\"a\":");
    k += (size_t)sprintf(o + k, "1");
    for (size_t i = 0; i < 500; i++) o[k++] = '}';
    o[k++] = '}';
    expect("/rerank", o, k, 200, NULL); /* unknown members are ignored */
    free(o);
    free(b);
}

TEST(wrong_types) {
    EXPECT("/rerank", "{\"query\":42,\"texts\":[\"a\"]}", 400, "validation");
    EXPECT("/rerank", "{\"query\":null,\"texts\":[\"a\"]}", 400, "validation");
    EXPECT("/rerank", "{\"query\":[\"q\"],\"texts\":[\"a\"]}", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":\"a\"}", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":{\"0\":\"a\"}}", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"a\",1]}", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"a\",null]}", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"a\"],\"truncate\":\"yes\"}", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"a\"],\"truncation_direction\":5}", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"q\"}", 400, "validation");
    EXPECT("/v1/rerank", "{\"query\":\"q\",\"documents\":[\"a\",7]}", 400, "validation");
    EXPECT("/v1/rerank", "{\"query\":\"q\",\"documents\":[{\"text\":3}]}", 400, "validation");
    EXPECT("/v1/rerank", "{\"query\":\"q\",\"documents\":[{\"txt\":\"a\"}]}", 400, "validation");
    EXPECT("/v1/rerank", "{\"query\":\"q\",\"documents\":[[\"a\"]]}", 400, "validation");
    EXPECT("/v1/rerank", "{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":\"2\"}", 400, "validation");
    EXPECT("/v1/rerank", "{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":1.5}", 400, "validation");
    EXPECT("/v1/rerank", "{\"query\":\"q\",\"documents\":[\"a\"],\"return_documents\":1}", 400, "validation");
    EXPECT("/v1/rerank", "{\"model\":7,\"query\":\"q\",\"documents\":[\"a\"]}", 400, "validation");
}

TEST(invalid_utf8) {
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"a\xff" "b\"]}", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"\xc0\xaf\",\"texts\":[\"a\"]}", 400, "validation");          /* overlong '/' */
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"\xe0\x80\xaf\"]}", 400, "validation");      /* overlong, 3 bytes */
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"\xed\xa0\x80\"]}", 400, "validation");      /* UTF-16 surrogate */
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"\xf4\x90\x80\x80\"]}", 400, "validation");  /* > U+10FFFF */
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"abc\xe2\x82\"]}", 400, "validation");       /* truncated sequence */
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"\\ud800\"]}", 400, "validation");           /* lone surrogate escape */
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"\\udc00x\"]}", 400, "validation");
    /* Valid multi-byte text and a valid surrogate pair escape are fine. */
    EXPECT("/rerank", "{\"query\":\"\xe3\x83\x91\xe3\x83\xb3\xe3\x83\x80\",\"texts\":[\"\\ud83d\\udc3c panda\"]}", 200, NULL);
}

TEST(nul_bytes) {
    /* \u0000 escapes are accepted (JSON_ALLOW_NUL) and scored: texts are
     * length-delimited throughout. */
    EXPECT("/rerank", "{\"query\":\"a\\u0000b\",\"texts\":[\"c\\u0000\",\"\\u0000\"]}", 200, NULL);
    /* A raw NUL byte inside a string is an unescaped control character. */
    EXPECT("/rerank", "{\"query\":\"a\0b\",\"texts\":[\"c\"]}", 400, "validation");
    /* A raw NUL between tokens / after the object. */
    EXPECT("/rerank", "{\"query\":\"q\",\0\"texts\":[\"c\"]}", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"c\"]}\0", 400, "validation");
}

static char *doc_body(size_t doc_bytes) {
    char *b = malloc(doc_bytes + 64);
    size_t k = (size_t)sprintf(b, "{\"query\":\"q\",\"texts\":[\"");
    memset(b + k, 'a', doc_bytes);
    k += doc_bytes;
    strcpy(b + k, "\"]}");
    return b;
}

TEST(one_megabyte_document) {
    /* 1 MiB of text: the body exceeds --max-body-bytes; refused from the
     * Content-Length header, before the body is read. */
    char *b = doc_body(1u << 20);
    expect("/rerank", b, strlen(b), 413, "validation");
    free(b);
    /* 100 KB: within the body limit, beyond --max-text-bytes (64K). */
    b = doc_body(100000);
    expect("/rerank", b, strlen(b), 413, "validation");
    free(b);
    /* 60 KB of one word: accepted and truncated to the max length. */
    b = doc_body(60000);
    rresp_t r = post_json("/rerank", b);
    CHECK_MSG(n_results(&r) == 1, "got %d %.200s", r.status, r.body ? r.body : "");
    rr_free_resp(&r);
    /* The same with "truncate": false: 413 naming the token limit. */
    strcpy(b + strlen(b) - 1, ",\"truncate\":false}");
    expect("/rerank", b, strlen(b), 413, "validation");
    free(b);
}

static char *many_docs(size_t n, const char *field) {
    char *b = malloc(n * 4 + 64);
    size_t k = (size_t)sprintf(b, "{\"query\":\"q\",\"%s\":[", field);
    for (size_t i = 0; i < n; i++) k += (size_t)sprintf(b + k, i ? ",\"a\"" : "\"a\"");
    strcpy(b + k, "]}");
    return b;
}

TEST(too_many_documents) {
    /* 100000 tiny texts (~400 KB): refused by the JSON value count (413). */
    char *b = many_docs(100000, "texts");
    expect("/rerank", b, strlen(b), 413, "validation");
    free(b);
    b = many_docs(100000, "documents");
    expect("/v1/rerank", b, strlen(b), 413, "validation");
    free(b);
    /* --max-docs + 1: 413 naming the limit; exactly --max-docs: 200. */
    b = many_docs(MAX_DOCS + 1, "texts");
    rresp_t r = post_json("/rerank", b);
    CHECK(is_error(&r, 413, "validation") && strstr(r.body, "the limit is 64"));
    rr_free_resp(&r);
    free(b);
    b = many_docs(MAX_DOCS, "texts");
    r = post_json("/rerank", b);
    CHECK(n_results(&r) == MAX_DOCS);
    rr_free_resp(&r);
    free(b);
    CHECK_GOOD();
}

TEST(empty_values) {
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[]}", 400, "validation");
    EXPECT("/v2/rerank", "{\"query\":\"q\",\"documents\":[]}", 400, "validation");
    EXPECT("/rerank", "{}", 400, "validation");
    /* An empty query or document is scored like any text (as TEI does). */
    rresp_t r = post_json("/rerank", "{\"query\":\"\",\"texts\":[\"a\"]}");
    CHECK(n_results(&r) == 1);
    rr_free_resp(&r);
    r = post_json("/rerank", "{\"query\":\"q\",\"texts\":[\"\",\"a\"]}");
    CHECK(n_results(&r) == 2);
    rr_free_resp(&r);
    r = post_json("/v1/rerank", "{\"query\":\"q\",\"documents\":[{\"text\":\"\"}]}");
    CHECK(n_results(&r) == 1);
    rr_free_resp(&r);
    CHECK_GOOD();
}

TEST(top_n_values) {
    const char *docs = "{\"query\":\"q\",\"documents\":[\"a\",\"b\",\"c\"],\"top_n\":";
    const char *tops[] = {"1", "3", "4", "1000000", "9223372036854775807", "null"};
    const long want[] = {1, 3, 3, 3, 3, 3};
    char body[256];
    for (size_t i = 0; i < sizeof tops / sizeof *tops; i++) {
        snprintf(body, sizeof body, "%s%s}", docs, tops[i]);
        rresp_t r = post_json("/v2/rerank", body);
        CHECK_MSG(n_results(&r) == want[i], "top_n %s: %d %s", tops[i], r.status, r.body ? r.body : "");
        rr_free_resp(&r);
    }
    EXPECT("/v2/rerank", "{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":0}", 422, "validation");
    EXPECT("/v2/rerank", "{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":-1}", 422, "validation");
    EXPECT("/v2/rerank", "{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":-9223372036854775808}", 422, "validation");
    /* Beyond int64: jansson refuses the number (malformed JSON). */
    EXPECT("/v2/rerank", "{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":99999999999999999999}", 400, "validation");
    EXPECT("/v2/rerank", "{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":1e3}", 400, "validation");
}

TEST(duplicate_keys) {
    /* Refused (JSON_REJECT_DUPLICATES): no silent first/last-wins. */
    EXPECT("/rerank", "{\"query\":\"q\",\"query\":\"r\",\"texts\":[\"a\"]}", 400, "validation");
    EXPECT("/rerank", "{\"query\":\"q\",\"texts\":[\"a\"],\"texts\":[\"a\",\"b\"]}", 400, "validation");
    EXPECT("/v1/rerank", "{\"query\":\"q\",\"documents\":[{\"text\":\"a\",\"text\":\"b\"}]}", 400, "validation");
    rresp_t r = post_json("/rerank", "{\"query\":\"q\",\"query\":\"r\",\"texts\":[\"a\"]}");
    CHECK(r.body && strstr(r.body, "duplicate"));
    rr_free_resp(&r);
}

/* ---------------- tests: HTTP layer ---------------- */
typedef struct slow_arg {
    volatile int closed;
    double closed_after, sent_s;
    size_t sent;
} slow_arg_t;

static void *slowloris_main(void *p) {
    slow_arg_t *a = p;
    rconn_t c;
    if (rc_open(&c) != 0) return NULL;
    const char *req = "POST /rerank HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    double t0 = rr_now_s();
    /* One byte every 200 ms, for up to 3x the timeout. */
    for (size_t i = 0; req[i] && rr_now_s() - t0 < 3.0 * TIMEOUT_S; i++) {
        if (rc_write(&c, req + i, 1) != 1) break;
        a->sent = i + 1;
        struct pollfd pfd = {.fd = c.fd, .events = POLLIN | POLLRDHUP};
        if (poll(&pfd, 1, 200) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) break;
    }
    a->sent_s = rr_now_s() - t0;
    if (rc_closed_within(&c, 0.5)) {
        a->closed = 1;
        a->closed_after = rr_now_s() - t0;
    }
    rc_close(&c);
    return NULL;
}

TEST(slowloris) {
    /* Headers trickled one byte per 200 ms: each byte is "progress", so
     * the idle timeout alone would never fire; the header deadline
     * (--timeout from the start of the request) closes the connection.
     * Other clients are served meanwhile. */
    slow_arg_t a = {0};
    pthread_t th;
    pthread_create(&th, NULL, slowloris_main, &a);
    int served = 0, good = 0;
    double t0 = rr_now_s();
    while (rr_now_s() - t0 < TIMEOUT_S + 0.5) {
        served++;
        good += still_good();
        usleep(100000);
    }
    pthread_join(th, NULL);
    CHECK_MSG(good == served, "%d of %d valid requests answered during the trickle", good, served);
    CHECK_MSG(a.closed, "slow connection still open after %.1f s (%zu bytes sent)", a.sent_s, a.sent);
    CHECK_MSG(a.closed_after < TIMEOUT_S + 2.0, "closed only after %.1f s", a.closed_after);
    CHECK_GOOD();
}

TEST(pipelined_requests) {
    /* Two requests in one write: two responses, in order. */
    char m[2048];
    const char *b2 = "{\"query\":\"q\",\"texts\":[\"x\"]}";
    int k = snprintf(m, sizeof m,
                     "POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s"
                     "POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s"
                     "GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                     strlen(k_good), k_good, strlen(b2), b2);
    rconn_t c;
    CHECK(rc_open(&c) == 0);
    CHECK(rc_write(&c, m, (size_t)k) == (size_t)k);
    rresp_t r1 = rc_read(&c, 30), r2 = rc_read(&c, 30), r3 = rc_read(&c, 30);
    CHECK_MSG(n_results(&r1) == 3, "first: %d", r1.status);
    CHECK_MSG(n_results(&r2) == 1, "second: %d", r2.status);
    CHECK_MSG(r3.status == 200 && r3.body && strstr(r3.body, "ok"), "third: %d", r3.status);
    rr_free_resp(&r1);
    rr_free_resp(&r2);
    rr_free_resp(&r3);
    rc_close(&c);
    /* A bad request pipelined before a good one: 400, then 200. */
    k = snprintf(m, sizeof m,
                 "POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n{{{"
                 "POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 strlen(k_good), k_good);
    CHECK(rc_open(&c) == 0);
    rc_write(&c, m, (size_t)k);
    r1 = rc_read(&c, 30);
    r2 = rc_read(&c, 30);
    CHECK(is_error(&r1, 400, "validation"));
    CHECK(n_results(&r2) == 3);
    rr_free_resp(&r1);
    rr_free_resp(&r2);
    rc_close(&c);
    CHECK_GOOD();
}

TEST(dropped_mid_request) {
    /* Half a body, then close; and half the headers, then close; and a
     * reset (SO_LINGER 0) mid-body. */
    char m[1024];
    int k = snprintf(m, sizeof m, "POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n%.*s",
                     strlen(k_good), (int)(strlen(k_good) / 2), k_good);
    for (int mode = 0; mode < 3; mode++) {
        rconn_t c;
        CHECK(rc_open(&c) == 0);
        size_t n = mode == 1 ? 20 : (size_t)k;
        rc_write(&c, m, n);
        usleep(50000);
        if (mode == 2) {
            struct linger lg = {1, 0};
            setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        rc_close(&c);
        CHECK_GOOD();
    }
    /* Half a body and wait: the idle timeout closes it, without a response. */
    rconn_t c;
    CHECK(rc_open(&c) == 0);
    rc_write(&c, m, (size_t)k);
    CHECK(rc_closed_within(&c, TIMEOUT_S + 3.0));
    CHECK(c.len == 0);
    rc_close(&c);
    CHECK_GOOD();
}

TEST(unknown_routes_and_methods) {
    rresp_t r = raw("GET /nope HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 50);
    CHECK_ERR(r, 404, "not_found");
    rr_free_resp(&r);
    r = post_json("/rerank/", k_good);
    CHECK_ERR(r, 404, "not_found");
    rr_free_resp(&r);
    r = post_json("/v3/rerank", k_good);
    CHECK_ERR(r, 404, "not_found");
    rr_free_resp(&r);
    const char *m405[] = {"GET /rerank", "PUT /rerank", "DELETE /v1/rerank", "PATCH /v2/rerank",
                          "POST /health", "DELETE /info", "BREW /rerank"};
    for (size_t i = 0; i < sizeof m405 / sizeof *m405; i++) {
        char m[256];
        int k = snprintf(m, sizeof m, "%s HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", m405[i]);
        r = raw(m, (size_t)k);
        CHECK_MSG(is_error(&r, 405, "method_not_allowed"), "%s", m405[i]);
        CHECK_MSG(r.head && find_header(r.head, "Allow"), "%s: no Allow header", m405[i]);
        rr_free_resp(&r);
    }
    /* Keep-alive: a 404 or 405 for a request without a body leaves the
     * connection open (the request pipelined after it is answered); with
     * a body it is answered before the body and the connection closed. */
    const char *bodiless[] = {"GET /nope", "GET /rerank", "DELETE /v2/rerank", "OPTIONS /health"};
    for (size_t i = 0; i < sizeof bodiless / sizeof *bodiless; i++) {
        char m[256];
        int k = snprintf(m, sizeof m, "%s HTTP/1.1\r\nHost: h\r\n\r\nGET /health HTTP/1.1\r\nHost: h\r\n"
                         "Connection: close\r\n\r\n", bodiless[i]);
        rconn_t c;
        CHECK(rc_open(&c) == 0);
        rc_write(&c, m, (size_t)k);
        rresp_t r1 = rc_read(&c, 30);
        rresp_t r2 = rc_read(&c, 30);
        CHECK_MSG(r1.status == 404 || r1.status == 405, "%s: %d", bodiless[i], r1.status);
        CHECK_MSG(r1.head && !find_header(r1.head, "Connection"), "%s: %s", bodiless[i], r1.head ? r1.head : "");
        CHECK_MSG(r2.status == 200 && r2.body && strstr(r2.body, "ok"), "%s, then /health: %d", bodiless[i], r2.status);
        rr_free_resp(&r1);
        rr_free_resp(&r2);
        rc_close(&c);
    }
    CHECK_GOOD();
}

TEST(content_type_not_checked) {
    /* The body is JSON whatever Content-Type says (documented): text/plain
     * and form types are accepted, a missing Content-Type too. */
    rresp_t r = post("/rerank", "text/plain", k_good, strlen(k_good));
    CHECK(n_results(&r) == 3);
    rr_free_resp(&r);
    r = post("/rerank", "application/x-www-form-urlencoded", k_good, strlen(k_good));
    CHECK(n_results(&r) == 3);
    rr_free_resp(&r);
    char m[1024];
    int k = snprintf(m, sizeof m, "POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(k_good), k_good);
    r = raw(m, (size_t)k);
    CHECK(n_results(&r) == 3);
    rr_free_resp(&r);
    /* ... but a non-JSON body under text/plain is still a 400. */
    r = post("/rerank", "text/plain", "query=q&texts=a", 15);
    CHECK_ERR(r, 400, "validation");
    rr_free_resp(&r);
    CHECK_GOOD();
}

TEST(oversized_headers) {
    /* One 64 KB header: beyond the per-connection memory pool. */
    size_t n = 64u << 10;
    char *m = malloc(n + 256);
    size_t k = (size_t)sprintf(m, "GET /health HTTP/1.1\r\nHost: h\r\nX-Big: ");
    memset(m + k, 'a', n);
    k += n;
    k += (size_t)sprintf(m + k, "\r\nConnection: close\r\n\r\n");
    rresp_t r = raw(m, k);
    CHECK_MSG(r.status == 431, "64 KB header: got %d", r.status);
    rr_free_resp(&r);
    /* Many small headers adding up to 64 KB. */
    k = (size_t)sprintf(m, "GET /health HTTP/1.1\r\nHost: h\r\n");
    while (k < n) k += (size_t)sprintf(m + k, "X-H%zu: v\r\n", k);
    k += (size_t)sprintf(m + k, "\r\n");
    r = raw(m, k);
    CHECK_MSG(r.status == 431, "many headers: got %d", r.status);
    rr_free_resp(&r);
    /* A 64 KB URL. */
    k = (size_t)sprintf(m, "GET /");
    memset(m + k, 'u', n);
    k += n;
    k += (size_t)sprintf(m + k, " HTTP/1.1\r\nHost: h\r\n\r\n");
    r = raw(m, k);
    CHECK_MSG(r.status == 414, "64 KB URL: got %d", r.status);
    rr_free_resp(&r);
    free(m);
    CHECK_GOOD();
}

TEST(request_line_garbage) {
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n",
        "GET\r\n\r\n",
        "GET /health HTTP/9.9\r\nHost: h\r\n\r\n",
        "GET /health FOO/1.1\r\nHost: h\r\n\r\n",
        "GET /health HTTP/1.1\r\nBad Header Line\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n",
        "POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n12345",
        "POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    };
    /* 0: closed without a response (MHD gives up on a request line it
     * cannot split into method, URI and version). */
    const int want[] = {0, 0, 0, 505, 400, 400, 400, 400, 400};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rconn_t c;
        CHECK(rc_open(&c) == 0);
        rc_write(&c, bad[i], strlen(bad[i]));
        rresp_t r = rc_read(&c, 10);
        /* MHD answers these itself (HTML body, Connection: close) or just
         * closes; either way the connection ends. */
        CHECK_MSG(r.status == want[i], "request %zu (%.20s): got %d want %d", i, bad[i], r.status, want[i]);
        CHECK_MSG(rc_closed_within(&c, TIMEOUT_S + 3.0), "request %zu: connection left open", i);
        rr_free_resp(&r);
        rc_close(&c);
    }
    /* Random binary garbage: closed (or 400), never a crash. */
    unsigned st = 12345;
    for (int i = 0; i < 20; i++) {
        char g[512];
        for (size_t j = 0; j < sizeof g; j++) {
            st = st * 1103515245u + 12345u;
            g[j] = (char)(st >> 16);
        }
        rconn_t c;
        CHECK(rc_open(&c) == 0);
        rc_write(&c, g, sizeof g);
        rc_write(&c, "\r\n\r\n", 4);
        rresp_t r = rc_read(&c, 10);
        CHECK_MSG(r.status == 0 || r.status == 400, "garbage %d: got %d", i, r.status);
        rr_free_resp(&r);
        rc_close(&c);
    }
    CHECK_GOOD();
}

TEST(http10_without_host) {
    /* HTTP/1.0 needs no Host: served, then closed (no keep-alive). */
    char m[1024];
    int k = snprintf(m, sizeof m, "POST /rerank HTTP/1.0\r\nContent-Length: %zu\r\n\r\n%s", strlen(k_good), k_good);
    rconn_t c;
    CHECK(rc_open(&c) == 0);
    rc_write(&c, m, (size_t)k);
    rresp_t r = rc_read(&c, 30);
    CHECK(n_results(&r) == 3);
    CHECK(rc_closed_within(&c, 5));
    rr_free_resp(&r);
    rc_close(&c);
    r = raw("GET /health HTTP/1.0\r\n\r\n", 24);
    CHECK(r.status == 200);
    rr_free_resp(&r);
    /* HTTP/1.1 without Host: MHD (0.9.75) is lenient and serves it; the
     * server binds 127.0.0.1 by default and routes on the path only. */
    r = raw("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", 43);
    CHECK_MSG(r.status == 200, "HTTP/1.1 without Host: got %d", r.status);
    rr_free_resp(&r);
    CHECK_GOOD();
}

TEST(chunked_body) {
    /* A chunked body is reassembled and served like any other. */
    char m[2048];
    size_t n = strlen(k_good), h = n / 3;
    int k = snprintf(m, sizeof m,
                     "POST /rerank HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                     "%zx\r\n%.*s\r\n%zx;ext=1\r\n%s\r\n0\r\n\r\n",
                     h, (int)h, k_good, n - h, k_good + h);
    rresp_t r = raw(m, (size_t)k);
    CHECK_MSG(n_results(&r) == 3, "got %d %s", r.status, r.body ? r.body : "");
    rr_free_resp(&r);
    /* Chunked bodies have no Content-Length: the size limit applies while
     * streaming (2 MB in 64 KB chunks > --max-body-bytes): 413. */
    rconn_t c;
    CHECK(rc_open(&c) == 0);
    const char *hd = "POST /rerank HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    rc_write(&c, hd, strlen(hd));
    char *chunk = malloc(70000);
    int ck = sprintf(chunk, "10000\r\n");
    memset(chunk + ck, ' ', 0x10000);
    memcpy(chunk + ck + 0x10000, "\r\n", 2);
    for (int i = 0; i < 32; i++) rc_write(&c, chunk, (size_t)ck + 0x10000 + 2);
    rc_write(&c, "0\r\n\r\n", 5);
    r = rc_read(&c, 30);
    CHECK(is_error(&r, 413, "validation"));
    rr_free_resp(&r);
    rc_close(&c);
    free(chunk);
    /* A bad chunk size line: 400 or closed, never a hang. */
    const char *bad = "POST /rerank HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n";
    CHECK(rc_open(&c) == 0);
    rc_write(&c, bad, strlen(bad));
    r = rc_read(&c, 10);
    CHECK_MSG(r.status == 400 || r.status == 0, "bad chunk: got %d", r.status);
    CHECK(rc_closed_within(&c, TIMEOUT_S + 3.0));
    rr_free_resp(&r);
    rc_close(&c);
    CHECK_GOOD();
}

TEST(content_length_lies) {
    /* Content-Length beyond the limit: 413 from the header alone. */
    const char *m = "POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n";
    rresp_t r = raw(m, strlen(m));
    CHECK(is_error(&r, 413, "validation"));
    rr_free_resp(&r);
    /* Shorter than the body: the rest is parsed as the next request. */
    char b[1024];
    int k = snprintf(b, sizeof b, "POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nConnection: close\r\n\r\n%s", k_good);
    r = raw(b, (size_t)k);
    CHECK(is_error(&r, 400, "validation"));
    rr_free_resp(&r);
    CHECK_GOOD();
}

TEST(server_survived) {
    CHECK_MSG(sp_alive(&S), "server process died");
    CHECK_GOOD();
    pthread_mutex_lock(&S.mu);
    int bad = S.log && (strstr(S.log, "AddressSanitizer") || strstr(S.log, "runtime error") || strstr(S.log, " 500 "));
    pthread_mutex_unlock(&S.mu);
    CHECK_MSG(!bad, "server stderr reports a sanitizer error or a 500:\n%s", S.log);
}


/* ---------------- CLI / loader rows ---------------- */
/* Run `rerank ARGS` (shell words) with stdout+stderr captured; returns the
 * exit status and fills out (NUL-terminated, truncated to cap). */
static int run_cli(const char *args, char *out, size_t cap) {
    char cmd[PATH_MAX + 4200];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", g_bin, args);
    return sp_run(cmd, out, cap);
}

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* dir/name -> absolute path of src (a symlink). */
static void link_into(const char *dir, const char *name, const char *src) {
    char from[PATH_MAX], to[PATH_MAX];
    if (!realpath(src, from)) return;
    snprintf(to, sizeof to, "%s/%s", dir, name);
    if (symlink(from, to) != 0) fprintf(stderr, "    symlink %s failed\n", to);
}

TEST(cli_bad_input) {
    char tmp[] = "/tmp/rr_raw_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char bert[1024], xlmr[1024], p[1024], args[4096], out[8192];
    snprintf(bert, sizeof bert, "%s/fixtures/models/tiny-bert", t_shared());
    snprintf(xlmr, sizeof xlmr, "%s/fixtures/models/tiny-xlmr", t_shared());

    /* Invalid UTF-8 / overlong encoding in --query or --doc: exit 1, an
     * error record naming the byte offset. */
    snprintf(args, sizeof args, "score --model %s --query \"$(printf '\\300\\257')\" --doc a", bert);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "not valid UTF-8"));
    snprintf(args, sizeof args, "score --model %s --query q --doc \"$(printf 'ab\\377')\"", bert);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "not valid UTF-8"));
    /* ... and in an --input JSONL line (jansson refuses it): exit 1. */
    snprintf(p, sizeof p, "%s/bad.jsonl", tmp);
    const char bad[] = "{\"query\":\"q\",\"doc\":\"a\"}\n{\"query\":\"q\",\"doc\":\"a\xff\"}\n";
    write_file(p, bad, sizeof bad - 1);
    snprintf(args, sizeof args, "score --model %s --input %s", bert, p);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "\"index\": 0, \"score\"") && strstr(out, "line 2: expected"));
    /* A line beyond 2 x RR_MAX_TEXT_BYTES + 4 KiB: skipped with an error. */
    size_t n = (33u << 20) + 16;
    char *big = malloc(n);
    memset(big, 'a', n);
    memcpy(big, "{\"query\":\"q\",\"doc\":\"", 20);
    memcpy(big + n - 3, "\"}\n", 3);
    snprintf(p, sizeof p, "%s/long.jsonl", tmp);
    write_file(p, big, n);
    free(big);
    snprintf(args, sizeof args, "score --model %s --input %s", bert, p);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "line 1: line too long"));
    unlink(p);

    /* Missing model directory / files: exit 1. */
    CHECK(run_cli("score --model /nonexistent/model --query q --doc a", out, sizeof out) == 1 &&
          strstr(out, "no such model directory"));
    snprintf(p, sizeof p, "%s/nofiles", tmp);
    mkdir(p, 0700);
    snprintf(args, sizeof args, "score --model %s --query q --doc a", p);
    CHECK(run_cli(args, out, sizeof out) == 1);
    rmdir(p);

    /* A weight of an unsupported dtype (F32 renamed I32, same size). */
    snprintf(p, sizeof p, "%s/dtype", tmp);
    mkdir(p, 0700);
    link_into(p, "config.json", strcat(strcpy(args, bert), "/config.json"));
    link_into(p, "tokenizer.json", strcat(strcpy(args, bert), "/tokenizer.json"));
    snprintf(args, sizeof args, "%s/model.safetensors", bert);
    FILE *f = fopen(args, "rb");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *st = malloc((size_t)sz);
        CHECK(fread(st, 1, (size_t)sz, f) == (size_t)sz);
        fclose(f);
        char *d = memmem(st, 4096, "\"dtype\":\"F32\"", 13);
        CHECK(d != NULL);
        if (d) memcpy(d, "\"dtype\":\"I32\"", 13);
        char sp[2048];
        snprintf(sp, sizeof sp, "%s/model.safetensors", p);
        write_file(sp, st, (size_t)sz);
        free(st);
        snprintf(args, sizeof args, "score --model %s --query q --doc a", p);
        CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "only F32, F16 and BF16"));
        /* The server refuses to start with it (exit 1). */
        snprintf(args, sizeof args, "serve --model %s --port 0", p);
        CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "cannot load model"));
        unlink(sp);
    }
    snprintf(args, sizeof args, "%s/config.json", p); unlink(args);
    snprintf(args, sizeof args, "%s/tokenizer.json", p); unlink(args);
    rmdir(p);

    /* The XLM-R tokenizer.json beside a BERT checkpoint: refused at load
     * (its ids exceed the model's vocab_size). */
    snprintf(p, sizeof p, "%s/tok", tmp);
    mkdir(p, 0700);
    link_into(p, "config.json", strcat(strcpy(args, bert), "/config.json"));
    link_into(p, "model.safetensors", strcat(strcpy(args, bert), "/model.safetensors"));
    link_into(p, "tokenizer.json", strcat(strcpy(args, xlmr), "/tokenizer.json"));
    snprintf(args, sizeof args, "score --model %s --query q --doc a", p);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "tokenizer of another model"));
    const char *names[] = {"config.json", "model.safetensors", "tokenizer.json"};
    for (int i = 0; i < 3; i++) { snprintf(args, sizeof args, "%s/%s", p, names[i]); unlink(args); }
    rmdir(p);
    rmdir(tmp);
}

int main(int argc, char **argv) {
    (void)argc;
    char exe[PATH_MAX - 16]; /* room for "/rerank" in g_bin */
    sp_build_dir(argv[0], exe, sizeof exe);
    snprintf(g_bin, sizeof g_bin, "%s/rerank", exe);
    snprintf(g_model, sizeof g_model, "%s/fixtures/models/tiny-xlmr", t_shared());
    signal(SIGPIPE, SIG_IGN);
    static const char *extra[] = {"--threads", "1", "--http-threads", "2", "--max-body-bytes", "1M",
                                  "--max-text-bytes", "64K", "--max-docs", "64", "--timeout", "2", NULL};
    if (sp_start(&S, g_bin, g_model, extra, NULL) != 0) S.port = 0;
    RUN(valid_baseline);
    if (S.port) {
        RUN(malformed_json);
        RUN(truncated_json);
        RUN(deep_nesting);
        RUN(wrong_types);
        RUN(invalid_utf8);
        RUN(nul_bytes);
        RUN(one_megabyte_document);
        RUN(too_many_documents);
        RUN(empty_values);
        RUN(top_n_values);
        RUN(duplicate_keys);
        RUN(slowloris);
        RUN(pipelined_requests);
        RUN(dropped_mid_request);
        RUN(unknown_routes_and_methods);
        RUN(content_type_not_checked);
        RUN(oversized_headers);
        RUN(request_line_garbage);
        RUN(http10_without_host);
        RUN(chunked_body);
        RUN(content_length_lies);
        RUN(server_survived);
        RUN(cli_bad_input);
        t_cur_name = "clean_exit";
        t_cur_failed = 0;
        int rc = sp_stop(&S, SIGTERM);
        CHECK_MSG(rc == 0, "server exit status %d; its stderr tail:\n%s", rc,
                  S.log && S.len > 3000 ? S.log + S.len - 3000 : S.log);
        if (t_cur_failed) { t_failed++; printf("not ok clean_exit\n"); } else { t_passed++; printf("ok clean_exit\n"); }
    }
    free(S.log);
    TEST_MAIN_END();
}
