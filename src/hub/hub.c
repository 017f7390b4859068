/* hub.c — `rerank pull`: fetch a model from the Hugging Face Hub (or any
 * server with the same URL layout) with libcurl into the shared cache.
 * See hub.h for the layout and the guarantees. */
#include "hub/hub.h"
#include "hub/hub_internal.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"

#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"
#define HUB_MAX_REDIRECTS 10
#define HUB_MAX_FILES (8 + 4096)

static const char *const k_optional[] = {"tokenizer_config.json", "special_tokens_map.json"};

/* ------------------------------------------------------------------------ */
/* One HTTP exchange                                                          */
/* ------------------------------------------------------------------------ */

typedef struct hub_resp {
    long status;
    char commit[80];
    char etag[160], linked_etag[160];
    long long content_length, linked_size; /* -1: absent */
    char error_code[64], error_message[256];
    char content_range[128];
    /* body sink (GET of a blob) */
    FILE *out;
    EVP_MD_CTX *md;
    long long have;        /* bytes already in the file before this request */
    long long received;    /* body bytes written by this request */
    int truncated_restart; /* server ignored Range: file restarted from 0 */
    int range_mismatch;    /* 206 for another offset: abort */
    int write_failed;
    char errbody[256];
    size_t errlen;
    /* progress */
    int show_progress;
    const char *fname;
    long long total;
    double t_start, t_last;
} hub_resp_t;

typedef struct hub_ctx {
    const char *repo;
    const char *revision; /* as requested */
    char commit[65];      /* resolved */
    char endpoint[1024];
    char origin[1200];    /* scheme://host:port of the endpoint */
    char cache[RR_HUB_PATH], repo_dir[RR_HUB_PATH], lock_dir[RR_HUB_PATH];
    char token[1024];
    int has_token, quiet, progress, retries;
    CURL *curl;
    rr_hub_stats_t *stats;
} hub_ctx_t;

typedef struct hub_file {
    char name[256];
    char etag[129];
    long long size; /* -1 unknown */
} hub_file_t;

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Header value into dst (trimmed), when `line` is "Name: value". */
static int header_match(const char *line, size_t len, const char *name, char *dst, size_t dn) {
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl)) return 0;
    const char *v = line + nl + 1, *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t')) v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t')) e--;
    size_t k = (size_t)(e - v);
    if (k >= dn) k = dn - 1;
    memcpy(dst, v, k);
    dst[k] = 0;
    return 1;
}

static size_t on_header(char *buf, size_t sz, size_t nmemb, void *ud) {
    hub_resp_t *r = ud;
    size_t len = sz * nmemb;
    char tmp[64];
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
        /* a new response (after a 100 Continue or similar): start over */
        const char *sp = memchr(buf, ' ', len);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->commit[0] = r->etag[0] = r->linked_etag[0] = r->error_code[0] = 0;
        r->error_message[0] = r->content_range[0] = 0;
        r->content_length = r->linked_size = -1;
        return len;
    }
    if (header_match(buf, len, "X-Repo-Commit", r->commit, sizeof r->commit)) return len;
    if (header_match(buf, len, "X-Linked-Etag", r->linked_etag, sizeof r->linked_etag)) return len;
    if (header_match(buf, len, "ETag", r->etag, sizeof r->etag)) return len;
    if (header_match(buf, len, "X-Error-Code", r->error_code, sizeof r->error_code)) return len;
    if (header_match(buf, len, "X-Error-Message", r->error_message, sizeof r->error_message)) return len;
    if (header_match(buf, len, "Content-Range", r->content_range, sizeof r->content_range)) return len;
    if (header_match(buf, len, "X-Linked-Size", tmp, sizeof tmp)) { r->linked_size = strtoll(tmp, NULL, 10); return len; }
    if (header_match(buf, len, "Content-Length", tmp, sizeof tmp)) { r->content_length = strtoll(tmp, NULL, 10); return len; }
    return len;
}

/* "12.3 MB" style sizes (SI units, like huggingface_hub's tqdm bars). */
static const char *human(double bytes, char *buf, size_t n) {
    if (bytes < 1e3) snprintf(buf, n, "%.0f B", bytes);
    else if (bytes < 1e6) snprintf(buf, n, "%.1f kB", bytes / 1e3);
    else if (bytes < 1e9) snprintf(buf, n, "%.1f MB", bytes / 1e6);
    else snprintf(buf, n, "%.2f GB", bytes / 1e9);
    return buf;
}

static void progress_draw(hub_resp_t *r, int final) {
    if (!r->show_progress) return;
    double t = rr_now_s();
    if (!final && t - r->t_last < 0.1) return;
    r->t_last = t;
    long long done = r->have + r->received;
    double rate = r->received / 1e6 / (t - r->t_start > 1e-3 ? t - r->t_start : 1e-3);
    char name[33];
    snprintf(name, sizeof name, "%s", r->fname);
    if (r->total > 0) {
        int pct = (int)(100.0 * (double)done / (double)r->total);
        int bars = pct / 5;
        char bar[21];
        for (int i = 0; i < 20; i++) bar[i] = i < bars ? '#' : '.';
        bar[20] = 0;
        char a[32], b[32];
        fprintf(stderr, "\r  %-32s [%s] %3d%% %9s / %-9s %7.1f MB/s ", name, bar, pct > 100 ? 100 : pct,
                human((double)done, a, sizeof a), human((double)r->total, b, sizeof b), rate);
    } else {
        char a[32];
        fprintf(stderr, "\r  %-32s %9s %7.1f MB/s ", name, human((double)done, a, sizeof a), rate);
    }
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

/* Parse "bytes START-END/TOTAL"; returns START or -1. */
static long long content_range_start(const char *s) {
    while (*s == ' ') s++;
    if (strncasecmp(s, "bytes", 5)) return -1;
    s += 5;
    while (*s == ' ') s++;
    if (!isdigit((unsigned char)*s)) return -1;
    return strtoll(s, NULL, 10);
}

static size_t on_body(char *buf, size_t sz, size_t nmemb, void *ud) {
    hub_resp_t *r = ud;
    size_t len = sz * nmemb;
    if (!r->out || (r->status != 200 && r->status != 206)) {
        /* redirect or error body: keep the start for the error message */
        size_t room = sizeof r->errbody - 1 - r->errlen;
        size_t k = len < room ? len : room;
        memcpy(r->errbody + r->errlen, buf, k);
        r->errlen += k;
        r->errbody[r->errlen] = 0;
        return len;
    }
    if (r->received == 0) {
        if (r->status == 206) {
            if (content_range_start(r->content_range) != r->have) { r->range_mismatch = 1; return 0; }
        } else if (r->have > 0) {
            /* 200 to a Range request: the server sends the whole file. */
            if (ftruncate(fileno(r->out), 0) || fseek(r->out, 0, SEEK_SET)) { r->write_failed = 1; return 0; }
            EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
            r->have = 0;
            r->truncated_restart = 1;
        }
    }
    if (fwrite(buf, 1, len, r->out) != len) { r->write_failed = 1; return 0; }
    EVP_DigestUpdate(r->md, buf, len);
    r->received += (long long)len;
    progress_draw(r, 0);
    return len;
}

/* scheme://host:port of url (lowercase host), for same-origin checks. */
static int url_origin(const char *url, char *out, size_t n) {
    CURLU *u = curl_url();
    if (!u) return -1;
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        for (char *p = host; *p; p++) *p = (char)tolower((unsigned char)*p);
        for (char *p = scheme; *p; p++) *p = (char)tolower((unsigned char)*p);
        rc = rr_hub_fmt(out, n, "%s://%s:%s", scheme, host, port);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static void pct_encode(const char *s, char *out, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (; *s && k + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out[k++] = (char)c;
        else { out[k++] = '%'; out[k++] = hex[c >> 4]; out[k++] = hex[c & 15]; }
    }
    out[k] = 0;
}

static int file_url(const hub_ctx_t *c, const char *rev, const char *file, char *out, size_t n) {
    char erev[800], efile[800];
    pct_encode(rev, erev, sizeof erev);
    pct_encode(file, efile, sizeof efile);
    return rr_hub_fmt(out, n, "%s/%s/resolve/%s/%s", c->endpoint, c->repo, erev, efile);
}

/* Run one request (no redirect following). `range_from` > 0 adds a Range. */
static CURLcode perform(hub_ctx_t *c, const char *url, int head, long long range_from, hub_resp_t *r,
                        char *errbuf) {
    CURL *h = c->curl;
    curl_easy_reset(h);
    struct curl_slist *hdrs = NULL;
    char line[1200];
    char origin[1200];
    if (c->has_token && url_origin(url, origin, sizeof origin) == 0 && !strcmp(origin, c->origin)) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", c->token);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (range_from > 0) {
        snprintf(line, sizeof line, "Range: bytes=%lld-", range_from);
        hdrs = curl_slist_append(hdrs, line);
    }
    /* identity encoding: the bytes on the wire are the file (Range offsets). */
    hdrs = curl_slist_append(hdrs, "Accept-Encoding: identity");
    snprintf(line, sizeof line, "rerank/%s; %s", rerank_version(), curl_version());
    curl_easy_setopt(h, CURLOPT_USERAGENT, line);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    if (head) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    } else {
        /* a stalled transfer (< 1 KB/s for 60 s) is an error, then resumed */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    errbuf[0] = 0;
    r->status = 0;
    r->errlen = 0;
    r->errbody[0] = 0;
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code) r->status = code;
    curl_slist_free_all(hdrs);
    return rc;
}

static const char *curl_msg(CURLcode rc, const char *errbuf) {
    return errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
}

/* The next URL of a 3xx response (absolute), or -1. */
static int redirect_url(hub_ctx_t *c, char *url, size_t n) {
    char *loc = NULL;
    if (curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc) return -1;
    return rr_hub_fmt(url, n, "%s", loc);
}

/* Human-readable error for a failed status. */
static rerank_status_t http_error(hub_ctx_t *c, const char *file, const hub_resp_t *r) {
    const char *msg = r->error_message[0] ? r->error_message : "";
    /* "set HF_TOKEN" would mislead whoever has set it: then the token sent
     * is the problem (invalid, expired, or without access to this repo). */
    if (r->status == 401 && c->has_token)
        return rr_error(RERANK_ERR_IO,
                        "%s: 401 Unauthorized: the repository does not exist, or the token sent (HF_TOKEN "
                        "or the token file) is invalid or has no access to it%s%s", c->repo, *msg ? ": " : "", msg);
    if (r->status == 401)
        return rr_error(RERANK_ERR_IO,
                        "%s: 401 Unauthorized: the repository does not exist, or it is private or "
                        "gated and needs a token (set HF_TOKEN)%s%s", c->repo, *msg ? ": " : "", msg);
    if (r->status == 403)
        return rr_error(RERANK_ERR_IO,
                        "%s: 403 Forbidden: the token has no access (gated model: accept its terms "
                        "on the Hub first)%s%s", c->repo, *msg ? ": " : "", msg);
    if (r->status == 404 && !strcmp(r->error_code, "RevisionNotFound"))
        return rr_error(RERANK_ERR_IO, "%s: revision '%s' not found", c->repo, c->revision);
    if (r->status == 404 && !strcmp(r->error_code, "RepoNotFound"))
        return rr_error(RERANK_ERR_IO, "%s: repository not found", c->repo);
    if (r->status == 404)
        return rr_error(RERANK_ERR_IO, "%s: %s not found in the repository (revision %s)", c->repo,
                        file, c->revision);
    return rr_error(RERANK_ERR_IO, "%s: %s: HTTP %ld%s%s", c->repo, file, r->status,
                    *msg ? ": " : "", msg);
}

/* HEAD_NETWORK: the Hub cannot be reached or is unavailable (a cached
 * snapshot may stand in for it); HEAD_ERROR: it answered with an error. */
enum { HEAD_OK = 0, HEAD_NOT_FOUND = 1, HEAD_NETWORK = 2, HEAD_ERROR = 3 };

/* 5xx (an outage, a proxy's 502/504) or 429 (rate limited): the Hub is there
 * but cannot serve now. huggingface_hub then uses the cached snapshot, as it
 * does when the Hub cannot be reached at all; so does rr_hub_pull. */
static int hub_unavailable(long status) { return status >= 500 || status == 429; }

static void strip_etag(const char *in, char *out, size_t n) {
    if (!strncmp(in, "W/", 2)) in += 2;
    while (*in == '"') in++;
    size_t k = strlen(in);
    while (k && in[k - 1] == '"') k--;
    if (k >= n) k = n - 1;
    memcpy(out, in, k);
    out[k] = 0;
}

/* HEAD a file: its etag, size and the repo's commit. Redirects to the same
 * origin (renamed repos) are followed; a redirect to another host (the LFS
 * CDN) carries the metadata in X-Linked-* headers and is not followed unless
 * those are missing. */
static int hub_head(hub_ctx_t *c, const char *rev, const char *file, hub_file_t *f, char commit[65]) {
    char url[4096], errbuf[CURL_ERROR_SIZE];
    if (file_url(c, rev, file, url, sizeof url)) {
        rr_error(RERANK_ERR_INVALID_ARGUMENT, "URL too long");
        return HEAD_ERROR;
    }
    hub_resp_t r;
    char seen_commit[80] = ""; /* X-Repo-Commit of an earlier hop */
    for (int hop = 0;; hop++) {
        if (hop > 0 && r.commit[0]) memcpy(seen_commit, r.commit, sizeof seen_commit);
        memset(&r, 0, sizeof r);
        r.content_length = r.linked_size = -1;
        CURLcode rc = perform(c, url, 1, 0, &r, errbuf);
        if (rc != CURLE_OK) {
            rr_error(RERANK_ERR_IO, "%s: cannot reach %s: %s", c->repo, url, curl_msg(rc, errbuf));
            return HEAD_NETWORK;
        }
        int redirect = r.status >= 300 && r.status < 400;
        int has_meta = r.commit[0] && (r.linked_etag[0] || r.etag[0]);
        if (redirect && !(has_meta && r.linked_etag[0])) {
            if (hop >= HUB_MAX_REDIRECTS || redirect_url(c, url, sizeof url)) {
                rr_error(RERANK_ERR_IO, "%s: %s: too many or bad redirects", c->repo, file);
                return HEAD_ERROR;
            }
            continue;
        }
        if (r.status == 404 && strcmp(r.error_code, "RepoNotFound") && strcmp(r.error_code, "RevisionNotFound")) {
            http_error(c, file, &r);
            return HEAD_NOT_FOUND;
        }
        if (r.status != 200 && !redirect) {
            http_error(c, file, &r);
            return hub_unavailable(r.status) ? HEAD_NETWORK : HEAD_ERROR;
        }
        break;
    }
    if (!r.commit[0]) memcpy(r.commit, seen_commit, sizeof r.commit);
    char etag[160];
    strip_etag(r.linked_etag[0] ? r.linked_etag : r.etag, etag, sizeof etag);
    if (!etag[0]) {
        rr_error(RERANK_ERR_FORMAT, "%s: %s: the server sent no ETag (is %s a Hugging Face Hub?)",
                 c->repo, file, c->endpoint);
        return HEAD_ERROR;
    }
    if (!rr_hub_valid_etag(etag)) {
        rr_error(RERANK_ERR_FORMAT, "%s: %s: unusable ETag '%s'", c->repo, file, etag);
        return HEAD_ERROR;
    }
    if (!r.commit[0] || !rr_hub_is_commit(r.commit)) {
        rr_error(RERANK_ERR_FORMAT, "%s: %s: the server sent no valid X-Repo-Commit header ('%s')",
                 c->repo, file, r.commit);
        return HEAD_ERROR;
    }
    snprintf(f->name, sizeof f->name, "%s", file);
    memcpy(f->etag, etag, strlen(etag) + 1);       /* <= 128 bytes: validated */
    f->size = r.linked_size >= 0 ? r.linked_size : (r.status == 200 ? r.content_length : -1);
    memcpy(commit, r.commit, strlen(r.commit) + 1); /* 40 or 64: validated */
    return HEAD_OK;
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) ? -1 : (long long)st.st_size;
}

/* Feed the first `n` bytes of fp (from offset 0) to md. */
static int hash_prefix(FILE *fp, long long n, EVP_MD_CTX *md) {
    char buf[1 << 16];
    if (fseek(fp, 0, SEEK_SET)) return -1;
    while (n > 0) {
        size_t want = n < (long long)sizeof buf ? (size_t)n : sizeof buf;
        size_t k = fread(buf, 1, want, fp);
        if (k == 0) return -1;
        EVP_DigestUpdate(md, buf, k);
        n -= (long long)k;
    }
    return fseek(fp, 0, SEEK_END);
}

static int curl_retryable(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST: case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING: case CURLE_HTTP2: case CURLE_HTTP2_STREAM: case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* Outcome of one step of a blob download. STEP_RESTART: the file was
 * deleted and must be downloaded again from byte 0 (see install_blob). */
typedef enum { STEP_OK = 0, STEP_RETRY, STEP_FAIL, STEP_RESTART } step_t;

/* 1 if blobs/<etag> is there with the expected size (when known). */
static int blob_ready(const char *blob, const hub_file_t *f) {
    long long bs = file_size(blob);
    return bs >= 0 && (f->size < 0 || bs == f->size);
}

/* Wait before attempt number `attempt` (>= 1): 0.5 s, 1 s, 2 s, ... 8 s. */
static void retry_pause(const hub_ctx_t *c, int attempt) {
    double wait = 0.5 * (double)(1 << (attempt - 1 < 4 ? attempt - 1 : 4));
    if (!c->quiet) fprintf(stderr, "rerank pull: %s; retrying in %.1f s\n", rerank_last_error(), wait);
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Open blobs/<etag>.incomplete (created if absent) and feed what it already
 * holds to md, so the download resumes there; *have = its length. */
static step_t open_partial(const char *inc, const hub_file_t *f, EVP_MD_CTX *md, FILE **fp, long long *have,
                           rerank_status_t *st) {
    *have = file_size(inc);
    if (*have < 0) *have = 0;
    *fp = fopen(inc, *have > 0 ? "r+b" : "w+b");
    if (!*fp) {
        *st = rr_error(RERANK_ERR_IO, "%s: %s", inc, strerror(errno));
        return STEP_FAIL;
    }
    if (f->size >= 0 && *have > f->size) { /* longer than the file: start over */
        if (ftruncate(fileno(*fp), 0)) { /* checked later by the size test */ }
        *have = 0;
    }
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    if (*have > 0 && hash_prefix(*fp, *have, md)) {
        fclose(*fp);
        *fp = NULL;
        *st = rr_error(RERANK_ERR_IO, "%s: cannot read the partial download", inc);
        return STEP_FAIL;
    }
    return STEP_OK;
}

/* One line per file when there is no progress bar. */
static void announce(const hub_ctx_t *c, const hub_file_t *f, long long have, int show_progress) {
    if (c->quiet || show_progress) return;
    char a[32], b[32];
    if (have > 0)
        fprintf(stderr, "rerank pull: downloading %s (%s), resuming at %s\n", f->name, human((double)f->size, a, sizeof a),
                human((double)have, b, sizeof b));
    else
        fprintf(stderr, "rerank pull: downloading %s (%s)\n", f->name,
                f->size >= 0 ? human((double)f->size, a, sizeof a) : "size unknown");
}

/* GET the file from byte `have` on into fp (open on `inc`), following
 * redirects. STEP_RETRY: a transient failure (the next attempt resumes);
 * STEP_FAIL: give up; *st holds the message in both cases. */
static step_t download(hub_ctx_t *c, const hub_file_t *f, const char *inc, FILE *fp, EVP_MD_CTX *md, long long have,
                       rerank_status_t *st) {
    hub_resp_t r;
    memset(&r, 0, sizeof r);
    r.out = fp;
    r.md = md;
    r.have = have;
    r.fname = f->name;
    r.total = f->size;
    r.show_progress = c->progress && !c->quiet;
    r.t_start = r.t_last = rr_now_s();
    announce(c, f, have, r.show_progress);
    char url[4096], errbuf[CURL_ERROR_SIZE];
    if (file_url(c, c->commit, f->name, url, sizeof url)) {
        *st = rr_error(RERANK_ERR_INVALID_ARGUMENT, "URL too long");
        return STEP_FAIL;
    }
    CURLcode rc = CURLE_OK;
    int hop;
    for (hop = 0; hop <= HUB_MAX_REDIRECTS; hop++) {
        r.content_length = r.linked_size = -1;
        rc = perform(c, url, 0, r.have, &r, errbuf);
        if (rc != CURLE_OK || r.status < 300 || r.status >= 400) break;
        if (redirect_url(c, url, sizeof url)) { hop = HUB_MAX_REDIRECTS + 1; break; }
    }
    if (r.received > 0) progress_draw(&r, 1);
    if (c->stats) c->stats->bytes += (unsigned long long)r.received;
    int flush_bad = fflush(fp) != 0 || fsync(fileno(fp)) != 0;
    if (hop > HUB_MAX_REDIRECTS) {
        *st = rr_error(RERANK_ERR_IO, "%s: %s: too many or bad redirects", c->repo, f->name);
        return STEP_FAIL;
    }
    if (r.write_failed || flush_bad) {
        *st = rr_error(RERANK_ERR_IO, "%s: write failed: %s", inc, strerror(errno));
        return STEP_FAIL;
    }
    if (r.range_mismatch) { /* wrong piece: start over on the next attempt */
        if (ftruncate(fileno(fp), 0)) { }
        *st = rr_error(RERANK_ERR_IO, "%s: the server answered the Range request with another range (%s)", f->name,
                       r.content_range);
        return STEP_RETRY;
    }
    if (rc == CURLE_OK && r.status == 416) {
        if (ftruncate(fileno(fp), 0)) { }
        *st = rr_error(RERANK_ERR_IO, "%s: the partial download does not fit the file (416)", f->name);
        return STEP_RETRY;
    }
    if (rc != CURLE_OK) {
        *st = rr_error(RERANK_ERR_IO,
                       "%s: download interrupted after %lld of %lld bytes (%s); the partial file "
                       "is kept and the next pull resumes it",
                       f->name, r.have + r.received, f->size, curl_msg(rc, errbuf));
        return curl_retryable(rc) ? STEP_RETRY : STEP_FAIL;
    }
    if (r.status != 200 && r.status != 206) {
        *st = http_error(c, f->name, &r);
        return r.status >= 500 || r.status == 429 ? STEP_RETRY : STEP_FAIL;
    }
    return STEP_OK;
}

/* Check the complete download (size, sha256 when the etag is one) and
 * rename it to blobs/<etag>. `resumed_from` is how many bytes of it came from
 * an earlier blobs/<etag>.incomplete rather than from this download. */
static step_t install_blob(hub_ctx_t *c, const hub_file_t *f, const char *inc, const char *blob, EVP_MD_CTX *md,
                           long long resumed_from, rerank_status_t *st) {
    long long got = file_size(inc);
    if (f->size >= 0 && got != f->size) {
        *st = rr_error(RERANK_ERR_IO, "%s: got %lld bytes, expected %lld; the partial file is kept and the next pull resumes it",
                       f->name, got, f->size);
        return STEP_RETRY;
    }
    unsigned char dig[32];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(md, dig, &dl);
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", dig[i]);
    if (rr_hub_is_sha256(f->etag) && strcmp(hex, f->etag)) {
        unlink(inc);
        if (resumed_from > 0) {
            /* The bytes kept from an earlier pull may be the bad part (a
             * crash can leave zeros at the end of a file, another program may
             * have written it): one fresh download tells them apart. */
            *st = rr_error(RERANK_ERR_FORMAT,
                           "%s: sha256 mismatch after resuming a partial download at byte %lld; the partial "
                           "file was deleted and the download starts over", f->name, resumed_from);
            return STEP_RESTART;
        }
        *st = rr_error(RERANK_ERR_FORMAT,
                       "%s: sha256 mismatch: expected %s, got %s; the download is corrupt and "
                       "was deleted (nothing was added to the snapshot)",
                       f->name, f->etag, hex);
        return STEP_FAIL; /* a corrupt body is not retried: the server would send it again */
    }
    if (rename(inc, blob)) {
        *st = rr_error(RERANK_ERR_IO, "rename %s: %s", inc, strerror(errno));
        return STEP_FAIL;
    }
    if (c->stats) c->stats->downloaded++;
    *st = RERANK_OK;
    return STEP_OK;
}

/* Download, verify and install one blob, with up to c->retries retries
 * (each resumes the partial file). Called with the blob's lock held. A
 * resumed file that fails its sha256 is downloaded once more from byte 0,
 * whatever c->retries says: that try is not a retry of the same transfer. */
static rerank_status_t fetch_locked(hub_ctx_t *c, const hub_file_t *f, const char *inc, const char *blob) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return rr_error(RERANK_ERR_NOMEM, "out of memory");
    rerank_status_t st = RERANK_OK;
    step_t step = STEP_RETRY;
    int restarted = 0;
    for (int attempt = 0; attempt <= c->retries && step == STEP_RETRY; attempt++) {
        if (attempt > 0) retry_pause(c, attempt);
        FILE *fp = NULL;
        long long have = 0;
        if ((step = open_partial(inc, f, md, &fp, &have, &st)) != STEP_OK) break;
        if (c->stats && have > 0 && attempt == 0) c->stats->resumed += (unsigned long long)have;
        if (!(f->size >= 0 && have == f->size)) /* else: already complete, just verify */
            step = download(c, f, inc, fp, md, have, &st);
        fclose(fp);
        if (step == STEP_OK) step = install_blob(c, f, inc, blob, md, have, &st);
        if (step == STEP_RESTART) {
            if (restarted) { step = STEP_FAIL; break; }
            if (!c->quiet) fprintf(stderr, "rerank pull: %s\n", rerank_last_error());
            if (c->stats && attempt == 0) c->stats->resumed -= (unsigned long long)have;
            restarted = 1;
            step = STEP_RETRY;
            attempt--; /* the fresh download is not one of the retries */
        }
    }
    EVP_MD_CTX_free(md);
    return st;
}

/* Make blobs/<etag> hold the file: reuse it if present, otherwise download
 * into blobs/<etag>.incomplete (resuming what is there), verify, rename. */
static rerank_status_t hub_fetch_blob(hub_ctx_t *c, const hub_file_t *f) {
    char blob[RR_HUB_PATH], inc[RR_HUB_PATH], lock[RR_HUB_PATH];
    if (rr_hub_fmt(blob, sizeof blob, "%s/blobs/%s", c->repo_dir, f->etag) ||
        rr_hub_fmt(inc, sizeof inc, "%s.incomplete", blob) ||
        rr_hub_fmt(lock, sizeof lock, "%s/%s.lock", c->lock_dir, f->etag))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cache path too long");
    if (blob_ready(blob, f)) return RERANK_OK;
    /* Same lock file as huggingface_hub (filelock uses flock on Unix), so a
     * Python download and ours never write one blob at once. */
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) return rr_error(RERANK_ERR_IO, "%s: %s", lock, strerror(errno));
    if (flock(lfd, LOCK_EX)) {
        close(lfd);
        return rr_error(RERANK_ERR_IO, "%s: flock: %s", lock, strerror(errno));
    }
    rerank_status_t st = blob_ready(blob, f) ? RERANK_OK : fetch_locked(c, f, inc, blob);
    flock(lfd, LOCK_UN);
    close(lfd);
    return st;
}

/* snapshots/<commit>/<name> -> ../../blobs/<etag> (atomically replaced). */
static rerank_status_t link_file(hub_ctx_t *c, const char *snap, const hub_file_t *f) {
    char lpath[RR_HUB_PATH], target[512], tmp[RR_HUB_PATH], cur[512];
    if (rr_hub_fmt(lpath, sizeof lpath, "%s/%s", snap, f->name) ||
        rr_hub_fmt(target, sizeof target, "../../blobs/%s", f->etag) ||
        rr_hub_fmt(tmp, sizeof tmp, "%s/.%s.%ld.tmp", snap, f->name, (long)getpid()))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cache path too long");
    ssize_t k = readlink(lpath, cur, sizeof cur - 1);
    if (k >= 0) {
        cur[k] = 0;
        if (!strcmp(cur, target) && rr_hub_exists(lpath)) return RERANK_OK;
    }
    unlink(tmp);
    if (symlink(target, tmp)) {
        /* no symlinks (some network file systems): a hard link keeps the dedup */
        char blob[RR_HUB_PATH];
        if (rr_hub_fmt(blob, sizeof blob, "%s/blobs/%s", c->repo_dir, f->etag) || link(blob, tmp))
            return rr_error(RERANK_ERR_IO, "%s: cannot link into the snapshot: %s", lpath, strerror(errno));
    }
    if (rename(tmp, lpath)) {
        int e = errno;
        unlink(tmp);
        return rr_error(RERANK_ERR_IO, "%s: %s", lpath, strerror(e));
    }
    return RERANK_OK;
}

static rerank_status_t write_ref(hub_ctx_t *c) {
    if (!strcmp(c->revision, c->commit)) return RERANK_OK;
    char path[RR_HUB_PATH], tmp[RR_HUB_PATH];
    if (rr_hub_fmt(path, sizeof path, "%s/refs/%s", c->repo_dir, c->revision) ||
        rr_hub_fmt(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cache path too long");
    char dir[RR_HUB_PATH];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0; /* refs/pr/1 needs refs/pr/ */
    if (rr_hub_mkdirs(dir)) return rr_error(RERANK_ERR_IO, "%s: %s", dir, strerror(errno));
    FILE *fp = fopen(tmp, "wb");
    if (!fp) return rr_error(RERANK_ERR_IO, "%s: %s", tmp, strerror(errno));
    int bad = fputs(c->commit, fp) < 0;
    bad |= fclose(fp) != 0;
    if (bad || rename(tmp, path)) {
        unlink(tmp);
        return rr_error(RERANK_ERR_IO, "%s: cannot write", path);
    }
    return RERANK_OK;
}

static rerank_status_t add_file(hub_file_t *files, int *n, const hub_file_t *f) {
    if (*n >= HUB_MAX_FILES) return rr_error(RERANK_ERR_LIMIT, "too many files");
    files[(*n)++] = *f;
    return RERANK_OK;
}

/* HEAD + fetch one file. required=0: a 404 is skipped (*found = 0). */
static rerank_status_t fetch_one(hub_ctx_t *c, const char *name, int required, hub_file_t *files,
                                 int *n, int *found) {
    hub_file_t f;
    char commit[65];
    *found = 0;
    int h = hub_head(c, c->commit, name, &f, commit);
    if (h == HEAD_NOT_FOUND && !required) return RERANK_OK;
    if (h != HEAD_OK) return RERANK_ERR_IO; /* message already set */
    if (strcmp(commit, c->commit))
        return rr_error(RERANK_ERR_IO, "%s: %s: the repository changed during the download "
                        "(commit %s, expected %s); pull again", c->repo, name, commit, c->commit);
    if (c->stats) c->stats->used_network = 1;
    rerank_status_t st = hub_fetch_blob(c, &f);
    if (st) return st;
    *found = 1;
    return add_file(files, n, &f);
}

static rerank_status_t pull_files(hub_ctx_t *c, hub_file_t *files, int *n) {
    int found;
    rerank_status_t st;
    /* config.json is fetched first by the caller (it resolves the commit). */
    if ((st = fetch_one(c, "tokenizer.json", 1, files, n, &found))) return st;
    /* weights: one file, or an index and its shards */
    hub_file_t f;
    char commit[65];
    int h = hub_head(c, c->commit, "model.safetensors", &f, commit);
    if (h == HEAD_OK) {
        if ((st = hub_fetch_blob(c, &f)) || (st = add_file(files, n, &f))) return st;
    } else if (h == HEAD_NOT_FOUND) {
        h = hub_head(c, c->commit, "model.safetensors.index.json", &f, commit);
        if (h == HEAD_NOT_FOUND)
            return rr_error(RERANK_ERR_UNSUPPORTED,
                            "%s has neither model.safetensors nor model.safetensors.index.json "
                            "(only safetensors weights are supported; convert pytorch_model.bin first)",
                            c->repo);
        if (h != HEAD_OK) return RERANK_ERR_IO;
        if ((st = hub_fetch_blob(c, &f)) || (st = add_file(files, n, &f))) return st;
        char index[RR_HUB_PATH];
        if (rr_hub_fmt(index, sizeof index, "%s/blobs/%s", c->repo_dir, f.etag))
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cache path too long");
        char **shards = NULL;
        size_t ns = 0;
        if ((st = rr_hub_index_shards(index, &shards, &ns))) {
            rr_error_prefix("%s: model.safetensors.index.json", c->repo);
            return st;
        }
        for (size_t i = 0; i < ns && !st; i++) st = fetch_one(c, shards[i], 1, files, n, &found);
        rr_hub_free_names(shards, ns);
        if (st) return st;
    } else {
        return RERANK_ERR_IO;
    }
    for (size_t i = 0; i < sizeof k_optional / sizeof k_optional[0]; i++)
        if ((st = fetch_one(c, k_optional[i], 0, files, n, &found))) return st;
    return RERANK_OK;
}

/* Fill c from the options: repository, revision, output settings. */
static void ctx_init(hub_ctx_t *c, const char *repo_id, const char *revision, const rr_hub_options_t *opts,
                     rr_hub_stats_t *stats) {
    c->repo = repo_id;
    c->revision = revision;
    c->quiet = opts->quiet;
    c->progress = opts->progress < 0 ? isatty(2) : opts->progress;
    const char *np = getenv("HF_HUB_DISABLE_PROGRESS_BARS");
    if (opts->progress < 0 && np && *np && strcmp(np, "0")) c->progress = 0;
    c->retries = opts->retries < 0 ? 3 : opts->retries;
    c->stats = stats;
}

/* The cache root, the repository's folder in it and its lock folder. */
static rerank_status_t ctx_paths(hub_ctx_t *c, const char *cache_dir) {
    rerank_status_t st = rr_hub_cache_root(cache_dir, c->cache, sizeof c->cache);
    if (st) return st;
    if (rr_hub_repo_dir(c->cache, c->repo, c->repo_dir, sizeof c->repo_dir) ||
        rr_hub_fmt(c->lock_dir, sizeof c->lock_dir, "%s/.locks/%s", c->cache, strrchr(c->repo_dir, '/') + 1))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cache path too long");
    return RERANK_OK;
}

/* A complete cached snapshot of the revision into out (stats->commit set). */
static rerank_status_t cached_snapshot(hub_ctx_t *c, const char *cache_dir, char *out, size_t n) {
    rerank_status_t st = rr_hub_find_cached(c->repo, c->revision, cache_dir, out, n);
    if (st) return st;
    const char *cm = strrchr(out, '/');
    snprintf(c->stats->commit, sizeof c->stats->commit, "%s", cm ? cm + 1 : "");
    return RERANK_OK;
}

/* Everything the network needs: the endpoint and its origin, the token, a
 * curl handle, the cache folders to download into. */
static rerank_status_t ctx_connect(hub_ctx_t *c, const rr_hub_options_t *opts) {
    const char *ep = opts->endpoint && *opts->endpoint ? opts->endpoint : getenv("HF_ENDPOINT");
    if (!ep || !*ep) ep = HUB_DEFAULT_ENDPOINT;
    if (rr_hub_fmt(c->endpoint, sizeof c->endpoint, "%s", ep))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "endpoint too long");
    size_t el = strlen(c->endpoint);
    while (el && c->endpoint[el - 1] == '/') c->endpoint[--el] = 0;
    if (strncmp(c->endpoint, "http://", 7) && strncmp(c->endpoint, "https://", 8))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "endpoint '%s' must start with http:// or https://", ep);
    pthread_once(&g_curl_once, curl_init_once);
    if (url_origin(c->endpoint, c->origin, sizeof c->origin))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "bad endpoint URL '%s'", ep);
    if (opts->token) {
        if (*opts->token && !rr_hub_fmt(c->token, sizeof c->token, "%s", opts->token)) c->has_token = 1;
    } else {
        c->has_token = rr_hub_read_token(c->token, sizeof c->token);
    }
    c->curl = curl_easy_init();
    if (!c->curl) return rr_error(RERANK_ERR_INTERNAL, "curl_easy_init failed");
    char blobs[RR_HUB_PATH];
    if (rr_hub_fmt(blobs, sizeof blobs, "%s/blobs", c->repo_dir) || rr_hub_mkdirs(blobs) ||
        rr_hub_mkdirs(c->lock_dir))
        return rr_error(RERANK_ERR_IO, "cannot create the cache directories under %s: %s", c->repo_dir,
                        strerror(errno));
    return RERANK_OK;
}

/* The Hub could not be reached: a complete cached snapshot of the revision
 * stands in for it (with a warning), else the network error stands. */
static rerank_status_t fall_back_to_cache(hub_ctx_t *c, const char *cache_dir, char *out, size_t n) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", rerank_last_error());
    if (cached_snapshot(c, cache_dir, out, n) != RERANK_OK) return rr_error(RERANK_ERR_IO, "%s", msg);
    if (!c->quiet) fprintf(stderr, "rerank pull: warning: %s; using the cached snapshot %s\n", msg, out);
    return RERANK_OK;
}

/* Every blob is in place: now (and only now) populate snapshots/<commit>
 * and refs/<revision>, and write the snapshot's path to out. */
static rerank_status_t write_snapshot(hub_ctx_t *c, const hub_file_t *files, int nfiles, char *out, size_t n) {
    char snap[RR_HUB_PATH];
    if (rr_hub_fmt(snap, sizeof snap, "%s/snapshots/%s", c->repo_dir, c->commit))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cache path too long");
    if (rr_hub_mkdirs(snap)) return rr_error(RERANK_ERR_IO, "%s: %s", snap, strerror(errno));
    rerank_status_t st;
    for (int i = 0; i < nfiles; i++)
        if ((st = link_file(c, snap, &files[i]))) return st;
    if ((st = write_ref(c))) return st;
    c->stats->files = nfiles;
    if (rr_hub_fmt(out, n, "%s", snap))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "output buffer too small for %s", snap);
    return RERANK_OK;
}

rerank_status_t rr_hub_pull(const char *repo_id, const rr_hub_options_t *opts, char *snapshot_dir,
                            size_t n_out, rr_hub_stats_t *stats) {
    rr_hub_options_t defaults;
    if (!opts) {
        rr_hub_options_init(&defaults);
        opts = &defaults;
    }
    rr_hub_stats_t local_stats;
    if (!stats) stats = &local_stats;
    memset(stats, 0, sizeof *stats);
    if (!snapshot_dir || n_out == 0) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "no output buffer");
    snapshot_dir[0] = 0;
    if (!rr_hub_valid_repo_id(repo_id))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT,
                        "'%s' is not a valid Hub repo id (expected ORG/NAME: letters, digits, '-', "
                        "'_', '.')", repo_id ? repo_id : "");
    const char *revision = opts->revision && *opts->revision ? opts->revision : "main";
    if (!rr_hub_valid_revision(revision))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "'%s' is not a valid revision", revision);

    hub_ctx_t *c = rr_calloc(1, sizeof *c);
    hub_file_t *files = rr_calloc(HUB_MAX_FILES, sizeof *files);
    if (!c || !files) {
        rr_free(c);
        rr_free(files);
        return rr_error(RERANK_ERR_NOMEM, "out of memory");
    }
    ctx_init(c, repo_id, revision, opts, stats);
    int offline = opts->offline || rr_hub_env_offline();
    int nfiles = 0;
    hub_file_t config;
    rerank_status_t st = ctx_paths(c, opts->cache_dir);
    if (st) goto out;
    /* A commit is immutable: a complete snapshot of it needs no network. */
    if (offline || rr_hub_is_commit(revision)) {
        st = cached_snapshot(c, opts->cache_dir, snapshot_dir, n_out);
        if (st && offline) rr_error_prefix("offline (HF_HUB_OFFLINE)");
        if (st == RERANK_OK || offline) goto out;
    }
    if ((st = ctx_connect(c, opts))) goto out;
    /* config.json first: its HEAD tells the commit the revision points to;
     * every other file is then fetched at that commit. */
    int h = hub_head(c, revision, "config.json", &config, c->commit);
    if (h == HEAD_NETWORK) {
        st = fall_back_to_cache(c, opts->cache_dir, snapshot_dir, n_out);
        goto out;
    }
    if (h != HEAD_OK) { /* message already set */
        st = RERANK_ERR_IO;
        goto out;
    }
    stats->used_network = 1;
    snprintf(stats->commit, sizeof stats->commit, "%s", c->commit);
    if ((st = hub_fetch_blob(c, &config)) || (st = add_file(files, &nfiles, &config)) ||
        (st = pull_files(c, files, &nfiles)))
        goto out;
    st = write_snapshot(c, files, nfiles, snapshot_dir, n_out);
out:
    if (c->curl) curl_easy_cleanup(c->curl);
    memset(c->token, 0, sizeof c->token);
    rr_free(c);
    rr_free(files);
    if (st && snapshot_dir) snapshot_dir[0] = 0;
    return st;
}
