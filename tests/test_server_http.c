/* test_server_http.c — the HTTP server in-process with a fake scorer:
 * routes, API shapes, every error status, auth, 429, disconnects, drain.
 * (test_server.c runs the real binary with the tiny model.) */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "server/config.h"
#include "server/route.h"
#include "server/server.h"
#include "server/server_limits.h"
#include "tokenizer/window.h"
#include "http_client.h"
#include "test.h"

/* ---- fake scorer: one token per byte, logit from the pair length ---- */
static atomic_int g_score_sleep_ms;
static atomic_ullong g_pairs_scored;
static atomic_ullong g_score_calls; /* forward passes begun (a request reached the scorer) */
static atomic_int g_unhealthy; /* set by a "FAULT" document, as a device fault would */

/* Too long: the document loses bytes from its end (Right) or its start
 * (Left). */
static rerank_status_t fake_encode(void *ctx, const char *q, size_t qn, const char *d, size_t dn,
                                   const rerank_pair_options_t *po, rerank_encoding_t *enc) {
    (void)ctx;
    const int32_t max_length = po->truncation == RERANK_TRUNC_NONE ? 0 : po->max_length;
    const rerank_trunc_direction_t dir = po->direction;
    size_t n = qn + dn + 3;
    if (max_length > 0 && n > (size_t)max_length) {
        size_t cut = n - (size_t)max_length;
        if (cut > dn) return rr_error(RERANK_ERR_LIMIT, "query too long");
        if (dir == RERANK_TRUNC_LEFT) d += cut;
        dn -= cut;
        n = (size_t)max_length;
    }
    if (enc->cap < n) {
        int32_t *a = rr_realloc(enc->ids, n * sizeof *a), *b;
        if (!a) return rr_error(RERANK_ERR_NOMEM, "oom");
        enc->ids = a;
        b = rr_realloc(enc->type_ids, n * sizeof *b);
        if (!b) return rr_error(RERANK_ERR_NOMEM, "oom");
        enc->type_ids = b;
        enc->cap = n;
    }
    size_t k = 0;
    enc->ids[k] = 1; enc->type_ids[k++] = 0;
    for (size_t i = 0; i < qn; i++) { enc->ids[k] = (unsigned char)q[i]; enc->type_ids[k++] = 0; }
    enc->ids[k] = 2; enc->type_ids[k++] = 0;
    for (size_t i = 0; i < dn; i++) { enc->ids[k] = (unsigned char)d[i]; enc->type_ids[k++] = 1; }
    enc->ids[k] = 2; enc->type_ids[k++] = 1;
    enc->n = k;
    return RERANK_OK;
}

/* logit = (n - 20) / 4, + 100 if the document's first token is '<', + 200
 * if its last is '>' (what truncation kept); a document containing "FAIL"
 * makes the batch fail, one containing "FAULT" fails it and leaves the
 * model unhealthy (as a CUDA error that poisons the context would) */
static rerank_status_t fake_score(void *ctx, const rerank_pair_t *pairs, size_t n, float *scores) {
    (void)ctx;
    atomic_fetch_add(&g_score_calls, 1);
    int ms = atomic_load(&g_score_sleep_ms);
    if (ms) usleep((useconds_t)ms * 1000);
    for (size_t i = 0; i < n; i++) {
        const int32_t *ids = pairs[i].ids, *ty = pairs[i].type_ids;
        int32_t m = pairs[i].n;
        for (int32_t k = 0; k + 3 < m; k++)
            if (ids[k] == 'F' && ids[k + 1] == 'A' && ids[k + 2] == 'I' && ids[k + 3] == 'L')
                return rr_error(RERANK_ERR_INTERNAL, "fake backend failure");
            else if (k + 4 < m && !memcmp((int32_t[]){'F', 'A', 'U', 'L', 'T'}, ids + k, 5 * sizeof *ids)) {
                atomic_store(&g_unhealthy, 1);
                return rr_error(RERANK_ERR_INTERNAL, "fake device fault");
            }
        scores[i] = (float)(m - 20) / 4.0f;
        int32_t first = 0; /* [1] q [2] d [2]: the doc is type 1 between its separator and the last token */
        while (first < m && !(ty && ty[first] == 1)) first++;
        if (first + 1 < m) {
            if (ids[first] == '<') scores[i] += 100.0f;
            if (ids[m - 2] == '>') scores[i] += 200.0f;
        }
    }
    atomic_fetch_add(&g_pairs_scored, n);
    return RERANK_OK;
}

/* Windows as the fake tokenizer makes them: chunk mode cuts the document's
 * bytes into windows of chunk_tokens (0: the whole document), at most
 * max_chunks_per_doc of them; truncate mode is one window, fake_encode's. */
static rerank_status_t fake_window_pair(void *ctx, const char *q, size_t qn, const char *d, size_t dn,
                                        const rerank_pair_options_t *po, const rerank_long_options_t *lo,
                                        rerank_windows_t *out) {
    out->n = out->enc.n = 0;
    rerank_encoding_t e = {0};
    rerank_status_t st = RERANK_OK;
    if (lo->mode == RERANK_LONG_DOCS_TRUNCATE) {
        if (!(st = fake_encode(ctx, q, qn, d, dn, po, &e)))
            st = rr_windows_append(&e, (rerank_chunk_info_t){.n_chunks = 1, .token_end = (int32_t)dn,
                                                            .doc_tokens = (int32_t)dn}, out);
        rerank_encoding_free(&e);
        return st;
    }
    size_t win = lo->chunk_tokens > 0 ? (size_t)lo->chunk_tokens : (dn ? dn : 1);
    size_t n = dn <= win ? 1 : (dn + win - 1) / win;
    if (lo->max_chunks_per_doc > 0 && n > (size_t)lo->max_chunks_per_doc) n = (size_t)lo->max_chunks_per_doc;
    rerank_pair_options_t whole = *po;
    whole.truncation = RERANK_TRUNC_NONE;
    for (size_t w = 0; w < n && !st; w++) {
        size_t a = w * win, b = a + win < dn ? a + win : dn;
        if (!(st = fake_encode(ctx, q, qn, d + a, b - a, &whole, &e)))
            st = rr_windows_append(&e, (rerank_chunk_info_t){.chunk = (int32_t)w, .n_chunks = (int32_t)n,
                                                            .token_start = (int32_t)a, .token_end = (int32_t)b,
                                                            .doc_tokens = (int32_t)dn}, out);
    }
    rerank_encoding_free(&e);
    return st;
}

static void fake_state(void *ctx, rr_scorer_state_t *st) {
    (void)ctx;
    st->healthy = !atomic_load(&g_unhealthy);
    st->device_memory_bytes = 123456789;
}

static double expect_logit(size_t qn, size_t dn) { return ((double)(qn + dn + 3) - 20.0) / 4.0; }
static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* ---- server fixture ---- */
typedef struct fixture {
    rr_server_config_t cfg;
    rr_server_t *srv;
    char base[64];
} fixture_t;

static int fx_start(fixture_t *f, const char **extra, int with_scorer) {
    const char *argv[64] = {"serve", "--model", "fake", "--port", "0", "--no-access-log", "--max-length", "64"};
    int argc = 8;
    for (int i = 0; extra && extra[i]; i++) argv[argc++] = extra[i];
    if (rr_server_config_parse(&f->cfg, argc, (char **)argv, NULL, stdout, stderr) != 0) return -1;
    if (rr_server_start(&f->cfg, &f->srv) != RERANK_OK) {
        fprintf(stderr, "start: %s\n", rerank_last_error());
        return -1;
    }
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", rr_server_port(f->srv));
    if (with_scorer) {
        rr_scorer_t sc = {.ctx = NULL, .encode_pair = fake_encode, .score = fake_score, .state = fake_state};
        rr_server_info_t info = {.model_id = "fake-model", .architecture = "FakeForSequenceClassification",
                                 .model_type = "fake", .precision = "bf16", .compute = "fp32", .weights_dtype = "F32",
                                 .device = "cuda:0",
                                 .num_layers = 2, .layers_used = 2, .max_length = 64};
        if (rr_server_set_scorer(f->srv, &sc, &info) != RERANK_OK) return -1;
    }
    return 0;
}
static void fx_stop(fixture_t *f) {
    rr_server_free(f->srv);
    rr_server_config_release(&f->cfg);
}

/* ---- HTTP client (tests/http_client.h), 20 s unless told ---- */
typedef hc_resp_t resp_t;
static resp_t http_ex(CURL *c, const char *base, const char *method, const char *path, const char *body, long body_len,
                      const char *auth, long timeout_ms) {
    return hc_request(c, base, method, path, body, body_len, auth, timeout_ms ? timeout_ms : 20000L);
}
static resp_t http(const char *base, const char *method, const char *path, const char *body) {
    return http_ex(NULL, base, method, path, body, -1, NULL, 0);
}

/* Waits up to 10 s for /metrics to contain every needle (a request leaves the
 * gauges in libmicrohttpd's completion callback, which on a loaded machine may
 * run well after its client saw the response or hung up). */
static int metrics_settle(const char *base, const char *const *needles) {
    for (int tries = 0;; tries++) {
        resp_t r = http(base, "GET", "/metrics", NULL);
        int all = r.body != NULL;
        for (const char *const *n = needles; all && *n; n++) all = strstr(r.body, *n) != NULL;
        if (!all && tries == 999)
            for (const char *const *n = needles; *n; n++)
                if (!r.body || !strstr(r.body, *n)) fprintf(stderr, "    /metrics lacks \"%s\"\n", *n);
        hc_free(&r);
        if (all) return 1;
        if (tries == 999) return 0;
        usleep(10000);
    }
}

/* Waits up to 10 s for the scorer to have begun more than `before` forward
 * passes: a request sent from another thread has been queued and picked up. */
static int scorer_started(unsigned long long before) {
    for (int tries = 0; tries < 1000 && atomic_load(&g_score_calls) <= before; tries++) usleep(10000);
    return atomic_load(&g_score_calls) > before;
}

static fixture_t fx; /* default server, shared by most tests */

/* The canonical good request and its check, run after each bad request. */
static const char *k_good_tei = "{\"query\":\"abc\",\"texts\":[\"x\",\"xxxxxxxxxxxxxxxxxxxx\",\"xxxxxxxxxx\"]}";
static int good_after(const char *base) {
    resp_t r = http(base, "POST", "/rerank", k_good_tei);
    json_t *j = hc_json(&r);
    int ok = r.status == 200 && json_array_size(j) == 3 &&
             json_integer_value(json_object_get(json_array_get(j, 0), "index")) == 1 &&
             json_integer_value(json_object_get(json_array_get(j, 2), "index")) == 0;
    json_decref(j);
    hc_free(&r);
    return ok;
}

TEST(get_routes) {
    resp_t r = http(fx.base, "GET", "/health", NULL);
    CHECK(r.status == 200 && strstr(r.body, "ok"));
    hc_free(&r);
    r = http(fx.base, "HEAD", "/health", NULL);
    CHECK(r.status == 200);
    hc_free(&r);
    r = http(fx.base, "GET", "/ready", NULL);
    CHECK(r.status == 200);
    hc_free(&r);
    r = http(fx.base, "GET", "/info", NULL);
    json_t *j = hc_json(&r);
    CHECK(r.status == 200 && strstr(r.ctype, "application/json"));
    CHECK(!strcmp(json_string_value(json_object_get(j, "model_id")), "fake-model"));
    CHECK(!strcmp(json_string_value(json_object_get(j, "architecture")), "FakeForSequenceClassification"));
    CHECK(json_integer_value(json_object_get(j, "max_input_length")) == 64);
    CHECK(json_integer_value(json_object_get(j, "max_client_batch_size")) == 1000);
    CHECK(json_is_string(json_object_get(j, "version")));
    json_decref(j);
    hc_free(&r);
    r = http(fx.base, "GET", "/openapi.json", NULL);
    j = hc_json(&r);
    CHECK(r.status == 200 && json_object_get(json_object_get(j, "paths"), "/v2/rerank"));
    /* an empty query is scored (README "Empty query"): the schema must not
     * tell generated clients to refuse it */
    json_t *schemas = json_object_get(json_object_get(j, "components"), "schemas");
    const char *req_schemas[] = {"TeiRequest", "RerankRequest"};
    for (int i = 0; i < 2; i++) {
        json_t *q = json_object_get(json_object_get(json_object_get(schemas, req_schemas[i]), "properties"), "query");
        CHECK_MSG(json_is_object(q) && !json_object_get(q, "minLength"), "%s.query", req_schemas[i]);
    }
    json_decref(j);
    hc_free(&r);
    CHECK(good_after(fx.base));
    /* The previous request leaves the in-flight gauge only in libmicrohttpd's
     * completion callback, which may run just after its client has read the
     * response: give it up to 2 s to settle before reading the gauge. */
    r = http(fx.base, "GET", "/metrics", NULL);
    for (int tries = 0; tries < 200 && r.body && !strstr(r.body, "rerank_in_flight_requests 1\n"); tries++) {
        hc_free(&r);
        usleep(10000);
        r = http(fx.base, "GET", "/metrics", NULL);
    }
    CHECK(r.status == 200 && strstr(r.ctype, "text/plain"));
    CHECK(strstr(r.body, "rerank_requests_total{route=\"/rerank\",status=\"200\"}") != NULL);
    CHECK(strstr(r.body, "rerank_request_duration_seconds_bucket{route=\"/rerank\",le=\"+Inf\"}") != NULL);
    CHECK(strstr(r.body, "rerank_queue_wait_seconds_count") != NULL);
    CHECK(strstr(r.body, "rerank_batch_pairs_bucket") != NULL);
    CHECK(strstr(r.body, "rerank_batch_tokens_bucket") != NULL);
    CHECK(strstr(r.body, "rerank_tokens_scored_total") != NULL);
    CHECK(strstr(r.body, "rerank_queue_pairs 0") != NULL);
    CHECK(strstr(r.body, "# TYPE rerank_batches_running gauge\nrerank_batches_running 0\n") != NULL);
    CHECK(strstr(r.body, "rerank_in_flight_requests 1") != NULL); /* this one */
    CHECK(strstr(r.body, "rerank_model_info{model=\"fake-model\"") != NULL);
    hc_free(&r);
}

TEST(tei_rerank) {
    const char *body = "{\"query\":\"abc\",\"texts\":[\"x\",\"xxxxxxxxxxxxxxxxxxxx\",\"xxxxxxxxxx\",\"\"],\"return_text\":true}";
    resp_t r = http(fx.base, "POST", "/rerank", body);
    json_t *j = hc_json(&r);
    CHECK(r.status == 200 && json_array_size(j) == 4);
    size_t want[4] = {1, 2, 0, 3}, dl[4] = {1, 20, 10, 0};
    const char *texts[4] = {"x", "xxxxxxxxxxxxxxxxxxxx", "xxxxxxxxxx", ""};
    for (size_t k = 0; k < 4 && k < json_array_size(j); k++) {
        json_t *o = json_array_get(j, k);
        size_t i = (size_t)json_integer_value(json_object_get(o, "index"));
        CHECK(i == want[k]);
        CHECK_NEAR(json_real_value(json_object_get(o, "score")), sigm(expect_logit(3, dl[i])), 1e-6);
        CHECK(!strcmp(json_string_value(json_object_get(o, "text")), texts[i]));
    }
    json_decref(j);
    hc_free(&r);
    /* raw scores, no text */
    r = http(fx.base, "POST", "/rerank", "{\"query\":\"abc\",\"texts\":[\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"],\"raw_scores\":true,\"truncate\":true,\"truncation_direction\":\"Right\"}");
    j = hc_json(&r);
    CHECK(r.status == 200 && json_array_size(j) == 1);
    CHECK_NEAR(json_real_value(json_object_get(json_array_get(j, 0), "score")), expect_logit(3, 32), 1e-6);
    CHECK(json_object_get(json_array_get(j, 0), "text") == NULL);
    json_decref(j);
    hc_free(&r);
    /* truncation to --max-length 64: a 100-byte doc is cut to 64 tokens */
    char big[300];
    snprintf(big, sizeof big, "{\"query\":\"q\",\"texts\":[\"%0100d\"],\"raw_scores\":true}", 0);
    r = http(fx.base, "POST", "/rerank", big);
    j = hc_json(&r);
    CHECK(r.status == 200);
    CHECK_NEAR(json_real_value(json_object_get(json_array_get(j, 0), "score")), (64 - 20) / 4.0, 1e-6);
    json_decref(j);
    hc_free(&r);
    /* embedded NUL and non-ASCII are fine */
    r = http(fx.base, "POST", "/rerank", "{\"query\":\"\\u00e9t\\u00e9\",\"texts\":[\"a\\u0000b\",\"\\ud83d\\ude00\"],\"raw_scores\":true}");
    j = hc_json(&r);
    CHECK(r.status == 200 && json_array_size(j) == 2);
    /* query 4 bytes; docs 3 and 4 bytes: index 1 first */
    CHECK(json_integer_value(json_object_get(json_array_get(j, 0), "index")) == 1);
    json_decref(j);
    hc_free(&r);
}

/* TEI's timing headers: characters and tokens computed, the scorer's time
 * within x-inference-time, the parts within x-total-time. */
TEST(tei_timing_headers) {
    atomic_store(&g_score_sleep_ms, 40);
    /* "été" (3 characters, 5 bytes) with "a\0b" (3, 3) and an emoji (1, 4):
     * 3 * 2 + 3 + 1 characters; the fake's tokens are bytes + 3 per pair */
    resp_t r = http(fx.base, "POST", "/rerank",
                    "{\"query\":\"\\u00e9t\\u00e9\",\"texts\":[\"a\\u0000b\",\"\\ud83d\\ude00\"]}");
    atomic_store(&g_score_sleep_ms, 0);
    const long long total = hc_header_num(&r, "x-total-time"), inf = hc_header_num(&r, "x-inference-time"),
                    queue = hc_header_num(&r, "x-queue-time"), tok = hc_header_num(&r, "x-tokenization-time");
    CHECK_MSG(r.status == 200 && hc_header_num(&r, "x-compute-characters") == 10 &&
                  hc_header_num(&r, "x-compute-tokens") == (5 + 3 + 3) + (5 + 4 + 3),
              "%ld %s", r.status, r.headers);
    CHECK_MSG(inf >= 40 && queue >= 0 && tok >= 0 && total >= inf + queue + tok &&
                  hc_header_num(&r, "x-compute-time") >= total && strstr(r.headers, "x-compute-type: "),
              "%s", r.headers);
    hc_free(&r);
    /* errors carry none */
    r = http(fx.base, "POST", "/rerank", "{\"query\":\"q\",\"texts\":[]}");
    CHECK(r.status != 200 && hc_header_num(&r, "x-total-time") == -1);
    hc_free(&r);
}

TEST(cohere_rerank) {
    const char *body = "{\"model\":\"whatever\",\"query\":\"abc\",\"documents\":[\"x\",{\"text\":\"xxxxxxxxxxxxxxxxxxxx\"},"
                       "\"xxxxxxxxxx\"],\"top_n\":2,\"return_documents\":true}";
    for (int v = 1; v <= 2; v++) {
        resp_t r = http(fx.base, "POST", v == 1 ? "/v1/rerank" : "/v2/rerank", body);
        json_t *j = hc_json(&r);
        CHECK(r.status == 200);
        json_t *res = json_object_get(j, "results");
        CHECK(json_array_size(res) == 2);
        CHECK(json_integer_value(json_object_get(json_array_get(res, 0), "index")) == 1);
        CHECK(json_integer_value(json_object_get(json_array_get(res, 1), "index")) == 2);
        CHECK_NEAR(json_real_value(json_object_get(json_array_get(res, 0), "relevance_score")), sigm(expect_logit(3, 20)), 1e-6);
        CHECK(!strcmp(json_string_value(json_object_get(json_object_get(json_array_get(res, 0), "document"), "text")),
                      "xxxxxxxxxxxxxxxxxxxx"));
        CHECK(!strcmp(json_string_value(json_object_get(j, "model")), "fake-model"));
        CHECK(json_string_length(json_object_get(j, "id")) == 36);
        CHECK(json_integer_value(json_object_get(json_object_get(j, "usage"), "total_tokens")) == (3 + 3) * 3 + 1 + 20 + 10);
        const char *ver = json_string_value(json_object_get(json_object_get(json_object_get(j, "meta"), "api_version"), "version"));
        CHECK(ver && ver[0] == '0' + v);
        json_decref(j);
        hc_free(&r);
    }
    /* defaults: all results, no documents; top_n larger than n */
    resp_t r = http(fx.base, "POST", "/v1/rerank", "{\"query\":\"q\",\"documents\":[\"a\",\"bb\"],\"top_n\":10}");
    json_t *j = hc_json(&r);
    json_t *res = json_object_get(j, "results");
    CHECK(r.status == 200 && json_array_size(res) == 2);
    CHECK(json_object_get(json_array_get(res, 0), "document") == NULL);
    CHECK(json_integer_value(json_object_get(json_array_get(res, 0), "index")) == 1);
    json_decref(j);
    hc_free(&r);
}

static void bad(const char *path, const char *body, long status, const char *type) {
    resp_t r = http(fx.base, "POST", path, body);
    CHECK_MSG(hc_is_error(&r, status, type), "%s %s", path, body);
    hc_free(&r);
    CHECK_MSG(good_after(fx.base), "after %s", body);
}

TEST(errors_400) {
    bad("/rerank", "{\"query\":\"a\",\"texts\":[\"b\"", 400, "validation");
    bad("/rerank", "", 400, "validation");
    bad("/rerank", "[1,2]", 400, "validation");
    bad("/rerank", "{\"texts\":[\"b\"]}", 400, "validation");
    bad("/rerank", "{\"query\":\"a\"}", 400, "validation");
    bad("/rerank", "{\"query\":5,\"texts\":[\"b\"]}", 400, "validation");
    bad("/rerank", "{\"query\":\"a\",\"texts\":\"b\"}", 400, "validation");
    bad("/rerank", "{\"query\":\"a\",\"texts\":[1]}", 400, "validation");
    bad("/rerank", "{\"texts\":[\"b\"]}", 400, "validation"); /* an empty query is scored; a missing one is not */
    bad("/rerank", "{\"query\":\"a\",\"texts\":[]}", 400, "validation");
    bad("/rerank", "{\"query\":\"a\",\"texts\":[\"b\"],\"raw_scores\":\"yes\"}", 400, "validation");
    bad("/rerank", "{\"query\":\"a\",\"texts\":[\"b\"],\"truncate\":1}", 400, "validation");
    bad("/rerank", "{\"query\":\"a\",\"texts\":[\"b\"],\"truncation_direction\":\"Up\"}", 400, "validation");
    bad("/rerank", "{\"query\":\"a\",\"query\":\"b\",\"texts\":[\"b\"]}", 400, "validation");
    bad("/rerank", "{\"query\":\"\\ud800\",\"texts\":[\"b\"]}", 400, "validation");
    bad("/v1/rerank", "{\"query\":\"a\",\"documents\":[{\"title\":\"b\"}]}", 400, "validation");
    bad("/v1/rerank", "{\"query\":\"a\",\"documents\":[[\"b\"]]}", 400, "validation");
    bad("/v1/rerank", "{\"query\":\"a\",\"documents\":[\"b\"],\"top_n\":\"2\"}", 400, "validation");
    bad("/v2/rerank", "{\"query\":\"a\",\"documents\":[]}", 400, "validation");
    bad("/v2/rerank", "{\"query\":\"a\"}", 400, "validation");
    /* invalid UTF-8 */
    resp_t r = http_ex(NULL, fx.base, "POST", "/rerank", "{\"query\":\"a\xff\",\"texts\":[\"b\"]}", -1, NULL, 0);
    CHECK(hc_is_error(&r, 400, "validation") && strstr(r.body, "UTF-8"));
    hc_free(&r);
    r = http_ex(NULL, fx.base, "POST", "/rerank", "{\"query\":\"a\xc0\xaf\",\"texts\":[\"b\"]}", -1, NULL, 0);
    CHECK(hc_is_error(&r, 400, "validation"));
    hc_free(&r);
    CHECK(good_after(fx.base));
}

TEST(errors_413_422) {
    bad("/v1/rerank", "{\"query\":\"a\",\"documents\":[\"b\"],\"top_n\":0}", 422, "validation");
    /* truncate:false with a pair over --max-length (64), either direction */
    char big[300];
    snprintf(big, sizeof big, "{\"query\":\"q\",\"texts\":[\"%0100d\"],\"truncate\":false}", 0);
    bad("/rerank", big, 413, "validation");
    snprintf(big, sizeof big, "{\"query\":\"q\",\"texts\":[\"%0100d\"],\"truncate\":false,\"truncation_direction\":\"Left\"}", 0);
    bad("/rerank", big, 413, "validation");
    /* too many documents (limit set to 1000): 1001 */
    size_t cap = 16 + 1001 * 4 + 32;
    char *b = malloc(cap), *p = b;
    p += sprintf(p, "{\"query\":\"q\",\"texts\":[");
    for (int i = 0; i < 1001; i++) p += sprintf(p, "%s\"a\"", i ? "," : "");
    sprintf(p, "]}");
    bad("/rerank", b, 413, "validation");
    free(b);
    /* a flood of JSON values is refused before parsing */
    cap = 64 + 20000 * 2;
    b = malloc(cap);
    p = b;
    p += sprintf(p, "{\"query\":\"q\",\"texts\":[\"a\"],\"junk\":[");
    for (int i = 0; i < 20000; i++) p += sprintf(p, "%s1", i ? "," : "");
    sprintf(p, "]}");
    bad("/rerank", b, 413, "validation");
    free(b);
}

/* limits on a server with small body/text limits */
TEST(errors_size_limits) {
    fixture_t f;
    const char *extra[] = {"--max-body-bytes", "2000", "--max-text-bytes", "100", "--max-docs", "3", NULL};
    CHECK(fx_start(&f, extra, 1) == 0);
    char body[4000];
    snprintf(body, sizeof body, "{\"query\":\"q\",\"texts\":[\"%03000d\"]}", 0);
    resp_t r = http(f.base, "POST", "/rerank", body); /* Content-Length over the limit */
    CHECK(hc_is_error(&r, 413, "validation"));
    hc_free(&r);
    CHECK(good_after(f.base));
    snprintf(body, sizeof body, "{\"query\":\"q\",\"texts\":[\"%0150d\"]}", 0);
    r = http(f.base, "POST", "/rerank", body); /* one text over 100 bytes */
    CHECK(hc_is_error(&r, 413, "validation"));
    hc_free(&r);
    r = http(f.base, "POST", "/rerank", "{\"query\":\"q\",\"texts\":[\"a\",\"b\",\"c\",\"d\"]}");
    CHECK(hc_is_error(&r, 413, "validation"));
    hc_free(&r);
    /* chunked upload over the limit (no Content-Length) */
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    snprintf(body, sizeof body, "{\"query\":\"q\",\"texts\":[\"%03000d\"]}", 0);
    char url[128];
    snprintf(url, sizeof url, "%s/rerank", f.base);
    resp_t rr = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hc_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &rr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rr.status);
    CHECK_MSG(rr.status == 413, "%ld", rr.status);
    free(rr.body);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    CHECK(good_after(f.base));
    fx_stop(&f);
}

TEST(errors_routes) {
    resp_t r = http(fx.base, "GET", "/nope", NULL);
    CHECK(hc_is_error(&r, 404, "not_found"));
    hc_free(&r);
    r = http(fx.base, "GET", "/rerank", NULL);
    CHECK(hc_is_error(&r, 405, "method_not_allowed"));
    hc_free(&r);
    r = http(fx.base, "POST", "/health", "{}");
    CHECK(hc_is_error(&r, 405, "method_not_allowed"));
    hc_free(&r);
    r = http(fx.base, "DELETE", "/v1/rerank", NULL);
    CHECK(hc_is_error(&r, 405, "method_not_allowed"));
    hc_free(&r);
    r = http(fx.base, "GET", "/../../etc/passwd", NULL);
    CHECK(r.status == 404 || r.status == 400);
    hc_free(&r);
    CHECK(good_after(fx.base));
}

/* Every route of the table dispatches with each method it accepts (and its
 * metrics series carries its path); every other method answers 405 with the
 * table's Allow header; a path outside the table answers 404. */
TEST(route_table_dispatch) {
    static const char *const k_methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE"};
    CHECK(rr_route_count() == RR_ROUTE_OTHER);
    for (size_t i = 0; i < rr_route_count(); i++) {
        const rr_route_def_t *d = rr_route_at(i);
        CHECK(d && rr_route_find(d->path) == d && rr_route_get_def(d->route) == d);
        CHECK(!strcmp(rr_route_path(d->route), d->path));
        if (!d) continue;
        for (size_t m = 0; m < sizeof k_methods / sizeof *k_methods; m++) {
            const char *meth = k_methods[m];
            unsigned bit = rr_route_method(meth);
            const char *good = d->route == RR_ROUTE_RERANK ? k_good_tei : "{\"query\":\"abc\",\"documents\":[\"x\",\"y\"]}";
            const char *body = !strcmp(meth, "POST") || !strcmp(meth, "PUT") ? good : NULL;
            resp_t r = http(fx.base, meth, d->path, body);
            if (bit & d->methods) {
                CHECK_MSG(r.status == 200, "%s %s: %ld %s", meth, d->path, r.status, r.body ? r.body : "");
            } else {
                CHECK_MSG(r.status == 405 && !strcmp(r.allow, rr_route_allow(d)), "%s %s: %ld, Allow '%s' (want '%s')",
                          meth, d->path, r.status, r.allow, rr_route_allow(d));
                if (strcmp(meth, "HEAD")) CHECK(hc_is_error(&r, 405, "method_not_allowed"));
            }
            hc_free(&r);
        }
    }
    CHECK(!strcmp(rr_route_allow(rr_route_find("/rerank")), "POST"));
    CHECK(!strcmp(rr_route_allow(rr_route_find("/health")), "GET, HEAD"));
    CHECK(rr_route_find("/nope") == NULL && rr_route_find("/rerank/") == NULL && rr_route_find(NULL) == NULL);
    CHECK(!strcmp(rr_route_path(RR_ROUTE_OTHER), "other"));
    resp_t r = http(fx.base, "GET", "/no/such/route", NULL);
    CHECK(hc_is_error(&r, 404, "not_found") && r.allow[0] == 0);
    hc_free(&r);
    r = http(fx.base, "POST", "/rerank/", k_good_tei);
    CHECK(hc_is_error(&r, 404, "not_found"));
    hc_free(&r);
    /* the metrics series are labelled from the same table */
    char want[RR_ROUTE_COUNT + 1][96];
    const char *series[RR_ROUTE_COUNT + 2];
    size_t n = 0;
    for (size_t i = 0; i < rr_route_count() && i < RR_ROUTE_COUNT; i++, n++) {
        snprintf(want[n], sizeof want[n], "rerank_requests_total{route=\"%s\",status=\"200\"}", rr_route_at(i)->path);
        series[n] = want[n];
    }
    series[n++] = "rerank_requests_total{route=\"other\",status=\"404\"}";
    series[n] = NULL;
    CHECK(metrics_settle(fx.base, series));
}

TEST(backend_failure_500) {
    bad("/rerank", "{\"query\":\"a\",\"texts\":[\"FAIL\"]}", 500, "backend");
}

/* The device fields of /info and /metrics (issue 22.5). */
TEST(info_device_fields) {
    resp_t r = http(fx.base, "GET", "/info", NULL);
    json_t *j = hc_json(&r);
    CHECK(r.status == 200);
    CHECK(!strcmp(json_string_value(json_object_get(j, "device")), "cuda:0"));
    CHECK(!strcmp(json_string_value(json_object_get(j, "precision")), "bf16"));
    CHECK(!strcmp(json_string_value(json_object_get(j, "compute")), "fp32"));
    CHECK(json_integer_value(json_object_get(j, "device_memory_bytes")) == 123456789);
    CHECK(json_is_true(json_object_get(j, "healthy")));
    json_decref(j);
    hc_free(&r);
    r = http(fx.base, "GET", "/metrics", NULL);
    CHECK(r.status == 200 && r.body);
    CHECK(r.body && strstr(r.body, "rerank_device_memory_bytes 123456789\n"));
    CHECK(r.body && strstr(r.body, "rerank_model_healthy 1\n"));
    CHECK(r.body && strstr(r.body, ",precision=\"bf16\",compute=\"fp32\",device=\"cuda:0\","));
    hc_free(&r);
}

/* A batch that leaves the model unable to score (a device fault): the
 * request gets its 500, then /ready, /health and new requests answer 503
 * instead of serving errors, and /metrics says why. */
TEST(unhealthy_model_503) {
    resp_t r = http(fx.base, "GET", "/ready", NULL);
    CHECK(r.status == 200);
    hc_free(&r);
    r = http(fx.base, "POST", "/rerank", "{\"query\":\"a\",\"texts\":[\"FAULT\"]}");
    CHECK(hc_is_error(&r, 500, "backend"));
    hc_free(&r);
    r = http(fx.base, "GET", "/ready", NULL);
    CHECK_MSG(r.status == 503 && r.body && strstr(r.body, "unhealthy"), "%ld %s", r.status, r.body ? r.body : "");
    hc_free(&r);
    r = http(fx.base, "GET", "/health", NULL);
    CHECK(r.status == 503 && r.body && strstr(r.body, "unhealthy"));
    hc_free(&r);
    r = http(fx.base, "POST", "/rerank", k_good_tei);
    CHECK(hc_is_error(&r, 503, "unavailable"));
    hc_free(&r);
    r = http(fx.base, "GET", "/metrics", NULL);
    CHECK(r.body && strstr(r.body, "rerank_ready 0\n") && strstr(r.body, "rerank_model_healthy 0\n"));
    hc_free(&r);
    atomic_store(&g_unhealthy, 0); /* the fake recovers; a real model would be reloaded */
    r = http(fx.base, "GET", "/ready", NULL);
    CHECK(r.status == 200);
    hc_free(&r);
    CHECK(good_after(fx.base));
}

TEST(keep_alive) {
    CURL *c = curl_easy_init();
    resp_t a = http_ex(c, fx.base, "POST", "/rerank", k_good_tei, -1, NULL, 0);
    resp_t b = http_ex(c, fx.base, "POST", "/rerank", k_good_tei, -1, NULL, 0);
    resp_t e = http_ex(c, fx.base, "POST", "/rerank", "{", -1, NULL, 0);
    resp_t d = http_ex(c, fx.base, "GET", "/health", NULL, -1, NULL, 0);
    CHECK(a.status == 200 && b.status == 200 && e.status == 400 && d.status == 200);
    CHECK_MSG(b.connects == 0 && d.connects == 0, "connects %ld %ld", b.connects, d.connects);
    hc_free(&a); hc_free(&b); hc_free(&d); hc_free(&e);
    /* A refusal of a request without a body (404, 405) keeps the
     * connection too: the next request goes over the same one. */
    resp_t n = http_ex(c, fx.base, "GET", "/nope", NULL, -1, NULL, 0);
    resp_t g = http_ex(c, fx.base, "GET", "/rerank", NULL, -1, NULL, 0);
    resp_t h = http_ex(c, fx.base, "GET", "/health", NULL, -1, NULL, 0);
    CHECK(hc_is_error(&n, 404, "not_found") && hc_is_error(&g, 405, "method_not_allowed") && h.status == 200);
    CHECK(!strcmp(g.allow, "POST"));
    CHECK_MSG(g.connects == 0 && h.connects == 0, "connects after 404: %ld, after 405: %ld", g.connects, h.connects);
    hc_free(&n); hc_free(&g); hc_free(&h);
    curl_easy_cleanup(c);
}

TEST(auth) {
    fixture_t f;
    const char *extra[] = {"--api-key", "s3cret-key", NULL};
    CHECK(fx_start(&f, extra, 1) == 0);
    resp_t r = http_ex(NULL, f.base, "POST", "/rerank", k_good_tei, -1, NULL, 0);
    CHECK(hc_is_error(&r, 401, "unauthorized"));
    hc_free(&r);
    r = http_ex(NULL, f.base, "POST", "/v1/rerank", "{}", -1, "Authorization: Bearer wrong", 0);
    CHECK(hc_is_error(&r, 401, "unauthorized"));
    hc_free(&r);
    r = http_ex(NULL, f.base, "POST", "/rerank", k_good_tei, -1, "Authorization: Bearer s3cret-key-", 0);
    CHECK(hc_is_error(&r, 401, "unauthorized"));
    hc_free(&r);
    r = http_ex(NULL, f.base, "POST", "/rerank", k_good_tei, -1, "Authorization: Basic s3cret-key", 0);
    CHECK(hc_is_error(&r, 401, "unauthorized"));
    hc_free(&r);
    r = http_ex(NULL, f.base, "GET", "/info", NULL, -1, NULL, 0);
    CHECK(hc_is_error(&r, 401, "unauthorized"));
    hc_free(&r);
    r = http_ex(NULL, f.base, "POST", "/rerank", k_good_tei, -1, "Authorization: Bearer s3cret-key", 0);
    CHECK(r.status == 200);
    hc_free(&r);
    r = http_ex(NULL, f.base, "POST", "/rerank", k_good_tei, -1, "authorization: bearer   s3cret-key", 0);
    CHECK(r.status == 200);
    hc_free(&r);
    r = http_ex(NULL, f.base, "GET", "/health", NULL, -1, NULL, 0);
    CHECK(r.status == 200);
    hc_free(&r);
    /* a client that forgot its key on a GET keeps its connection */
    CURL *c = curl_easy_init();
    r = http_ex(c, f.base, "GET", "/info", NULL, -1, NULL, 0);
    CHECK(hc_is_error(&r, 401, "unauthorized"));
    hc_free(&r);
    r = http_ex(c, f.base, "GET", "/info", NULL, -1, "Authorization: Bearer s3cret-key", 0);
    CHECK_MSG(r.status == 200 && r.connects == 0, "%ld, connects %ld", r.status, r.connects);
    hc_free(&r);
    curl_easy_cleanup(c);
    const char *series[] = {"status=\"401\"", NULL};
    CHECK(metrics_settle(f.base, series));
    fx_stop(&f);
}

TEST(loading_state) {
    fixture_t f;
    CHECK(fx_start(&f, NULL, 0) == 0);
    resp_t r = http(f.base, "GET", "/health", NULL);
    CHECK(r.status == 503);
    hc_free(&r);
    r = http(f.base, "GET", "/ready", NULL);
    CHECK(r.status == 503);
    hc_free(&r);
    r = http(f.base, "POST", "/rerank", k_good_tei);
    CHECK(hc_is_error(&r, 503, "unavailable") && r.retry_after[0] == '1');
    hc_free(&r);
    r = http(f.base, "GET", "/metrics", NULL);
    CHECK(r.status == 200 && strstr(r.body, "rerank_ready 0"));
    hc_free(&r);
    fx_stop(&f);
}

/* ---- concurrency: many clients, results always right ---- */
typedef struct { const char *base; int id; int ok; } cl_arg_t;

/* n client threads running fn(&arg) with arg = {base, id, ok = 0}; CHECKs
 * that each set ok. */
static void run_clients(void *(*fn)(void *), const char *base, int n) {
    pthread_t th[24];
    cl_arg_t a[24];
    if (n > 24) n = 24;
    for (int i = 0; i < n; i++) {
        a[i] = (cl_arg_t){base, i, 0};
        pthread_create(&th[i], NULL, fn, &a[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(a[i].ok, "client %d", i);
    }
}

static void *client(void *p) {
    cl_arg_t *a = p;
    CURL *c = curl_easy_init();
    a->ok = 1;
    for (int k = 0; k < 15; k++) {
        char body[512];
        int n1 = (a->id + k) % 7, n2 = (a->id * 3 + k) % 11;
        snprintf(body, sizeof body, "{\"query\":\"qq\",\"documents\":[\"%.*s\",\"%.*s\"],\"raw_scores\":true}", n1,
                 "yyyyyyyyyyyy", n2, "zzzzzzzzzzzz");
        resp_t r = http_ex(c, a->base, "POST", "/v1/rerank", body, -1, NULL, 0);
        json_t *j = hc_json(&r);
        json_t *res = json_object_get(j, "results");
        if (r.status != 200 || json_array_size(res) != 2) a->ok = 0;
        for (size_t i = 0; i < json_array_size(res); i++) {
            json_t *o = json_array_get(res, i);
            int idx = (int)json_integer_value(json_object_get(o, "index"));
            double want = expect_logit(2, (size_t)(idx == 0 ? n1 : n2));
            if (fabs(json_real_value(json_object_get(o, "relevance_score")) - want) > 1e-6) a->ok = 0;
        }
        json_decref(j);
        hc_free(&r);
    }
    curl_easy_cleanup(c);
    return NULL;
}

TEST(concurrent_clients) { run_clients(client, fx.base, 24); }

/* ---- several models in one server: each its own batcher (issue 17.2) ---- */
/* The second model: the fake's logits + 1000, so an answer shows which model scored it. */
static rerank_status_t fake_score_plus(void *ctx, const rerank_pair_t *pairs, size_t n, float *scores) {
    rerank_status_t st = fake_score(ctx, pairs, n, scores);
    for (size_t i = 0; st == RERANK_OK && i < n; i++) scores[i] += 1000.0f;
    return st;
}

static void *two_model_client(void *p) {
    cl_arg_t *a = p;
    CURL *c = curl_easy_init();
    a->ok = 1;
    for (int k = 0; k < 12; k++) {
        int second = (a->id + k) % 2;
        char body[512];
        int n1 = (a->id + k) % 7;
        snprintf(body, sizeof body, "{\"model\":\"%s\",\"query\":\"qq\",\"documents\":[\"%.*s\"],\"raw_scores\":true}",
                 second ? "plus" : "fake-model", n1, "yyyyyyyyyyyy");
        resp_t r = http_ex(c, a->base, "POST", k % 3 ? "/v1/rerank" : "/v2/rerank", body, -1, NULL, 0);
        json_t *j = hc_json(&r);
        json_t *o = json_array_get(json_object_get(j, "results"), 0);
        double want = expect_logit(2, (size_t)n1) + (second ? 1000.0 : 0.0);
        if (r.status != 200 || fabs(json_real_value(json_object_get(o, "relevance_score")) - want) > 1e-3 ||
            strcmp(json_string_value(json_object_get(j, "model")) ?: "", second ? "plus" : "fake-model"))
            a->ok = 0;
        json_decref(j);
        hc_free(&r);
    }
    curl_easy_cleanup(c);
    return NULL;
}

TEST(two_models) {
    fixture_t f;
    CHECK(fx_start(&f, NULL, 0) == 0);
    rr_scorer_t sc = {.ctx = NULL, .encode_pair = fake_encode, .score = fake_score, .state = fake_state};
    rr_server_info_t info = {.model_id = "fake-model", .architecture = "FakeForSequenceClassification",
                             .model_type = "fake", .precision = "fp32", .compute = "fp32", .weights_dtype = "F32",
                             .device = "cpu", .num_layers = 2, .layers_used = 2, .max_length = 64};
    CHECK(rr_server_add_scorer(f.srv, &sc, &info) == RERANK_OK);
    /* loading until every model is added and the server is set ready */
    resp_t r = http(f.base, "GET", "/ready", NULL);
    CHECK(r.status == 503);
    hc_free(&r);
    CHECK(rr_server_add_scorer(f.srv, &sc, &info) != RERANK_OK); /* a name twice */
    sc.score = fake_score_plus;
    info.model_id = "plus";
    info.layers_used = 1;
    info.device = "cuda:0"; /* (a model's device= key; the scorer is the fake's): 2 batches in flight by default */
    CHECK(rr_server_add_scorer(f.srv, &sc, &info) == RERANK_OK);
    rr_server_set_ready(f.srv);
    run_clients(two_model_client, f.base, 12);
    /* TEI's shape: the first model */
    r = http(f.base, "POST", "/rerank", "{\"query\":\"qq\",\"texts\":[\"y\"],\"raw_scores\":true}");
    json_t *j = hc_json(&r);
    CHECK(r.status == 200 && fabs(json_real_value(json_object_get(json_array_get(j, 0), "score")) -
                                  expect_logit(2, 1)) < 1e-3);
    json_decref(j);
    hc_free(&r);
    r = http(f.base, "POST", "/v1/rerank", "{\"model\":\"none\",\"query\":\"qq\",\"documents\":[\"y\"]}");
    CHECK(hc_is_error(&r, 404, "not_found") && strstr(r.body, "'fake-model', 'plus'"));
    hc_free(&r);
    r = http(f.base, "GET", "/v1/models", NULL);
    j = hc_json(&r);
    CHECK(r.status == 200 && json_array_size(json_object_get(j, "data")) == 2 &&
          !strcmp(json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), 1), "id")) ?: "", "plus"));
    /* --batches-in-flight left at 0: each model's own device decides */
    CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(j, "data"), 0), "batches_in_flight")) == 1);
    CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(j, "data"), 1), "batches_in_flight")) == 2);
    json_decref(j);
    hc_free(&r);
    r = http(f.base, "GET", "/info", NULL);
    j = hc_json(&r);
    CHECK(r.status == 200 && json_integer_value(json_object_get(j, "batches_in_flight")) == 1); /* the default model's */
    json_decref(j);
    hc_free(&r);
    /* the 404 is counted when its request completes, which may be after
     * its client read the answer */
    const char *series[] = {"rerank_pairs_scored_total{model=\"plus\"} ",
                            "rerank_requests_total{model=\"plus\",route=\"/v1/rerank\",status=\"200\"}",
                            "rerank_requests_total{route=\"/v1/rerank\",status=\"404\"} 1\n",
                            "rerank_queue_pairs{model=\"fake-model\"} 0\n", "rerank_ready 1\n", NULL};
    CHECK(metrics_settle(f.base, series));
    fx_stop(&f);
}

/* ---- TEI truncation_direction: each request's own, also inside one batch ---- */
/* The fake scorer adds 100 when the kept document starts with '<' and 200
 * when it ends with '>': with --max-length 64 and query "q", the 102-byte
 * document "<x...x>" keeps 60 bytes: Right "<x..." (logit 11 + 100), Left
 * "...x>" (11 + 200). */
static double direction_score(CURL *c, const char *base, const char *dir_member) {
    char body[400];
    snprintf(body, sizeof body, "{\"query\":\"q\",\"texts\":[\"<%0100d>\"],\"raw_scores\":true%s%s}", 0,
             dir_member ? "," : "", dir_member ? dir_member : "");
    resp_t r = http_ex(c, base, "POST", "/rerank", body, -1, NULL, 0);
    json_t *j = hc_json(&r);
    double s = r.status == 200 && json_array_size(j) == 1 ? json_real_value(json_object_get(json_array_get(j, 0), "score"))
                                                           : -1e9;
    if (s == -1e9) fprintf(stderr, "    %s -> %ld %s\n", dir_member ? dir_member : "(none)", r.status, r.body ? r.body : "");
    json_decref(j);
    hc_free(&r);
    return s;
}

#define RIGHT_LOGIT (11.0 + 100.0)
#define LEFT_LOGIT (11.0 + 200.0)

TEST(truncation_direction) {
    CHECK_NEAR(direction_score(NULL, fx.base, NULL), RIGHT_LOGIT, 1e-6);
    CHECK_NEAR(direction_score(NULL, fx.base, "\"truncation_direction\":null"), RIGHT_LOGIT, 1e-6);
    CHECK_NEAR(direction_score(NULL, fx.base, "\"truncation_direction\":\"Right\""), RIGHT_LOGIT, 1e-6);
    CHECK_NEAR(direction_score(NULL, fx.base, "\"truncation_direction\":\"right\""), RIGHT_LOGIT, 1e-6);
    CHECK_NEAR(direction_score(NULL, fx.base, "\"truncation_direction\":\"Left\""), LEFT_LOGIT, 1e-6);
    CHECK_NEAR(direction_score(NULL, fx.base, "\"truncation_direction\":\"LEFT\""), LEFT_LOGIT, 1e-6);
    CHECK_NEAR(direction_score(NULL, fx.base, "\"truncation_direction\":\"left\",\"truncate\":true"), LEFT_LOGIT, 1e-6);
    /* short enough: nothing is cut, both ends survive whatever the direction */
    resp_t r = http(fx.base, "POST", "/rerank", "{\"query\":\"q\",\"texts\":[\"<xx>\"],\"raw_scores\":true,\"truncation_direction\":\"Left\"}");
    json_t *j = hc_json(&r);
    CHECK(r.status == 200);
    CHECK_NEAR(json_real_value(json_object_get(json_array_get(j, 0), "score")), expect_logit(1, 4) + 300.0, 1e-6);
    json_decref(j);
    hc_free(&r);
    /* the Cohere routes have no such member: ignored, Right */
    r = http(fx.base, "POST", "/v1/rerank", "{\"query\":\"q\",\"documents\":[\"<xx>\"],\"raw_scores\":true,\"truncation_direction\":\"Left\"}");
    CHECK(r.status == 200);
    hc_free(&r);
}

static void *dir_client(void *p) {
    cl_arg_t *a = p;
    CURL *c = curl_easy_init();
    a->ok = 1;
    for (int k = 0; k < 10; k++) {
        int left = (a->id + k) % 2;
        double s = direction_score(c, a->base, left ? "\"truncation_direction\":\"Left\"" : "\"truncation_direction\":\"Right\"");
        if (fabs(s - (left ? LEFT_LOGIT : RIGHT_LOGIT)) > 1e-6) a->ok = 0;
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* "rerank_batch_pairs_count N" of /metrics: forward passes so far */
static double metric(const char *base, const char *name) {
    resp_t r = http(base, "GET", "/metrics", NULL);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = r.body ? strstr(r.body, key) : NULL;
    double v = p ? strtod(p + strlen(key), NULL) : -1;
    hc_free(&r);
    return v;
}

/* Concurrent Left and Right requests share batches (a slow scorer makes the
 * queue fill up) and each still gets its own direction. */
TEST(truncation_direction_concurrent) {
    atomic_store(&g_score_sleep_ms, 20);
    unsigned long long before = atomic_load(&g_pairs_scored);
    double batches0 = metric(fx.base, "rerank_batch_pairs_count");
    run_clients(dir_client, fx.base, 12);
    atomic_store(&g_score_sleep_ms, 0);
    CHECK(atomic_load(&g_pairs_scored) - before == 120);
    /* 120 pairs in fewer forward passes: requests of both directions were
     * scored together */
    double batches = metric(fx.base, "rerank_batch_pairs_count") - batches0;
    CHECK_MSG(batches0 >= 0 && batches > 0 && batches < 100, "%.0f forward passes for 120 pairs", batches);
}

/* ---- overload: tiny queue, slow scorer -> 429 with Retry-After ---- */
TEST(overload_429) {
    fixture_t f;
    const char *extra[] = {"--max-queue-pairs", "4", "--max-docs", "3", "--max-batch-pairs", "1", NULL};
    CHECK(fx_start(&f, extra, 1) == 0);
    atomic_store(&g_score_sleep_ms, 100);
    CURLM *m = curl_multi_init();
    enum { N = 8 };
    CURL *h[N];
    resp_t r[N];
    char url[128];
    snprintf(url, sizeof url, "%s/rerank", f.base);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    for (int i = 0; i < N; i++) {
        memset(&r[i], 0, sizeof r[i]);
        h[i] = curl_easy_init();
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, "{\"query\":\"q\",\"texts\":[\"a\",\"b\",\"c\"]}");
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, hc_on_body);
        curl_easy_setopt(h[i], CURLOPT_WRITEDATA, &r[i]);
        curl_easy_setopt(h[i], CURLOPT_HEADERFUNCTION, hc_on_header);
        curl_easy_setopt(h[i], CURLOPT_HEADERDATA, &r[i]);
        curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 20L);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    int n200 = 0, n429 = 0;
    for (int i = 0; i < N; i++) {
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &r[i].status);
        if (r[i].status == 200) n200++;
        if (r[i].status == 429) {
            n429++;
            CHECK(hc_is_error(&r[i], 429, "overloaded"));
            CHECK(atoi(r[i].retry_after) >= 1);
        }
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
        free(r[i].body);
    }
    curl_slist_free_all(hd);
    curl_multi_cleanup(m);
    atomic_store(&g_score_sleep_ms, 0);
    CHECK_MSG(n200 >= 1 && n429 >= 1 && n200 + n429 == N, "200: %d, 429: %d", n200, n429);
    CHECK(good_after(f.base));
    fx_stop(&f);
}

/* ---- a client that hangs up while queued frees its queue slots ---- */
TEST(disconnect_cancels) {
    fixture_t f;
    const char *extra[] = {"--max-batch-pairs", "1", NULL};
    CHECK(fx_start(&f, extra, 1) == 0);
    atomic_store(&g_score_sleep_ms, 50);
    unsigned long long before = atomic_load(&g_pairs_scored);
    char body[4096], *p = body;
    p += sprintf(p, "{\"query\":\"q\",\"texts\":[");
    for (int i = 0; i < 100; i++) p += sprintf(p, "%s\"d%d\"", i ? "," : "", i);
    sprintf(p, "]}");
    /* 100 pairs at 50 ms each = 5 s; the client gives up after 300 ms */
    resp_t r = http_ex(NULL, f.base, "POST", "/rerank", body, -1, NULL, 300);
    CHECK(r.rc == CURLE_OPERATION_TIMEDOUT);
    hc_free(&r);
    usleep(500 * 1000);
    unsigned long long scored = atomic_load(&g_pairs_scored) - before;
    CHECK_MSG(scored < 40, "scored %llu pairs of a cancelled request", scored);
    atomic_store(&g_score_sleep_ms, 0);
    /* the queue empties, the request counts as cancelled, with status 499
     * (client went away) */
    const char *settled[] = {"rerank_queue_pairs 0\n", "rerank_cancelled_requests_total 1\n", "status=\"499\"", NULL};
    CHECK(metrics_settle(f.base, settled));
    CHECK(good_after(f.base));
    fx_stop(&f);
}

/* Open file descriptors of this process (the in-process server's sockets
 * among them). */
static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

/* ---- clients that hang up mid-upload: their connections close at once ----
 * libmicrohttpd 0.9.75 (epoll) may miss a FIN that arrives right behind the
 * data (half a body, then close): it kept each such connection, its fd and
 * its in-flight request until the idle timeout (--timeout, 30 s here), and
 * a drain waited for them. The watcher now shuts them down (watch.c:
 * hung_up). */
TEST(hangup_mid_upload_closes) {
    fixture_t f;
    const char *extra[] = {"--http-threads", "1", NULL};
    CHECK(fx_start(&f, extra, 1) == 0);
    CHECK(good_after(f.base));
    const char *settled[] = {"rerank_in_flight_requests 1\n", NULL};
    CHECK(metrics_settle(f.base, settled));
    int fds0 = open_fds();
    enum { N = 16 };
    int fd[N];
    char m[512];
    int k = snprintf(m, sizeof m, "POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Length: 200\r\n\r\n"
                     "{\"query\":\"q\",\"texts\":[\"half a body");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)rr_server_port(f.srv))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    for (int i = 0; i < N; i++) {
        fd[i] = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(fd[i] >= 0 && connect(fd[i], (struct sockaddr *)&a, sizeof a) == 0);
    }
    for (int i = 0; i < N; i++) { /* half a request, the FIN right behind it */
        CHECK(write(fd[i], m, (size_t)k) == k);
        close(fd[i]);
    }
    /* well within the 30 s idle timeout: no request left in flight, every
     * connection closed (metrics_settle waits up to 10 s) */
    CHECK(metrics_settle(f.base, settled));
    int fds = open_fds();
    for (int tries = 0; tries < 1000 && fds > fds0; tries++) {
        usleep(10000);
        fds = open_fds();
    }
    CHECK_MSG(fds <= fds0, "%d open fds, %d before the clients hung up", fds, fds0);
    CHECK(good_after(f.base));
    fx_stop(&f);
}

/* ---- graceful drain: the queued request still gets its answer ---- */
typedef struct { const char *base; resp_t r; } slow_arg_t;
static void *slow_client(void *p) {
    slow_arg_t *a = p;
    a->r = http(a->base, "POST", "/rerank", "{\"query\":\"q\",\"texts\":[\"a\",\"b\",\"c\",\"d\"],\"raw_scores\":true}");
    return NULL;
}
TEST(graceful_drain) {
    fixture_t f;
    const char *extra[] = {"--max-batch-pairs", "1", NULL};
    CHECK(fx_start(&f, extra, 1) == 0);
    atomic_store(&g_score_sleep_ms, 100);
    slow_arg_t a = {f.base, {0}};
    pthread_t th;
    unsigned long long calls = atomic_load(&g_score_calls);
    pthread_create(&th, NULL, slow_client, &a);
    CHECK(scorer_started(calls)); /* the request is queued and being scored */
    rr_server_drain(f.srv, 10.0);
    pthread_join(th, NULL);
    CHECK_MSG(a.r.status == 200, "%ld", a.r.status);
    json_t *j = hc_json(&a.r);
    CHECK(json_array_size(j) == 4);
    json_decref(j);
    hc_free(&a.r);
    resp_t r = http_ex(NULL, f.base, "GET", "/health", NULL, -1, NULL, 2000);
    CHECK(r.rc == CURLE_COULDNT_CONNECT); /* no longer accepting */
    hc_free(&r);
    atomic_store(&g_score_sleep_ms, 0);
    fx_stop(&f);
}

/* ---- rerank_documents_total counts accepted requests only, ----
 * ---- rerank_pairs_scored_total the pairs actually scored ----
 * A chunked request passes the early queue check (its 1 document fits
 * beside a slow request's 6 queued pairs, in 8) but its 8 windows do not:
 * 429 at submit, as long as any of the slow request's pairs is queued
 * (6 batches of 500 ms). Its document was never queued: the counter
 * holds the slow request's 7 documents only. A failing forward pass is a
 * batch run but no pair scored. */
static void *slow7_client(void *p) {
    slow_arg_t *a = p;
    a->r = http(a->base, "POST", "/rerank", "{\"query\":\"q\",\"texts\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\"]}");
    return NULL;
}
TEST(metrics_count_accepted_and_scored) {
    static const char k_chunked[] = "{\"query\":\"q\",\"texts\":[\"abcdefgh\"],\"long_docs\":\"chunk\",\"chunk_tokens\":1}";
    fixture_t f;
    const char *extra[] = {"--max-queue-pairs", "8", "--max-docs", "7", "--max-batch-pairs", "1", NULL};
    CHECK(fx_start(&f, extra, 0) == 0);
    rr_scorer_t sc = {.encode_pair = fake_encode, .score = fake_score, .state = fake_state,
                      .window_pair = fake_window_pair};
    rr_server_info_t info = {.model_id = "fake-model", .architecture = "FakeForSequenceClassification",
                             .model_type = "fake", .precision = "fp32", .compute = "fp32", .weights_dtype = "F32",
                             .device = "cpu", .num_layers = 2, .layers_used = 2, .max_length = 64};
    CHECK(rr_server_set_scorer(f.srv, &sc, &info) == RERANK_OK);
    atomic_store(&g_score_sleep_ms, 500); /* one pair per batch: the slow request's others stay queued */
    slow_arg_t a = {f.base, {0}};
    pthread_t th;
    unsigned long long calls = atomic_load(&g_score_calls);
    pthread_create(&th, NULL, slow7_client, &a);
    CHECK(scorer_started(calls));
    resp_t r = http(f.base, "POST", "/rerank", k_chunked);
    CHECK_MSG(hc_is_error(&r, 429, "overloaded") && atoi(r.retry_after) >= 1, "%ld %s", r.status,
              r.body ? r.body : "");
    hc_free(&r);
    pthread_join(th, NULL);
    CHECK(a.r.status == 200);
    hc_free(&a.r);
    atomic_store(&g_score_sleep_ms, 0);
    /* the same chunked request once the queue is empty: 200, 8 windows */
    r = http(f.base, "POST", "/rerank", k_chunked);
    json_t *j = hc_json(&r);
    CHECK_MSG(r.status == 200 && json_integer_value(json_object_get(json_array_get(j, 0), "chunks")) == 8, "%ld %s",
              r.status, r.body ? r.body : "");
    json_decref(j);
    hc_free(&r);
    const char *want[] = {"rerank_documents_total 8\n", "rerank_pairs_scored_total 15\n", NULL};
    CHECK(metrics_settle(f.base, want));
    /* a forward pass that fails ran (rerank_batches_total) but scored no
     * pair: its request was accepted (a document), its pair not scored */
    r = http(f.base, "POST", "/rerank", "{\"query\":\"q\",\"texts\":[\"FAIL\"]}");
    CHECK(hc_is_error(&r, 500, "backend"));
    hc_free(&r);
    const char *want2[] = {"rerank_documents_total 9\n", "rerank_batches_total 16\n", "rerank_pairs_scored_total 15\n",
                           NULL};
    CHECK(metrics_settle(f.base, want2));
    fx_stop(&f);
}

/* ---- drain past --shutdown-timeout: what is still queued gets 503 ----
 * A request the drain drops (its client still waiting) is answered 503
 * "shutting down" with Retry-After, so the client may retry elsewhere; it
 * was closed without a response, logged 499 and counted as a client that
 * went away. */
static void *long_client(void *p) {
    slow_arg_t *a = p;
    char body[1024], *q = body;
    q += sprintf(q, "{\"query\":\"q\",\"texts\":[");
    for (int i = 0; i < 40; i++) q += sprintf(q, "%s\"d%d\"", i ? "," : "", i);
    sprintf(q, "]}");
    a->r = http(a->base, "POST", "/rerank", body);
    return NULL;
}
TEST(drain_timeout_answers_503) {
    fixture_t f;
    const char *extra[] = {"--max-batch-pairs", "1", NULL};
    CHECK(fx_start(&f, extra, 1) == 0);
    atomic_store(&g_score_sleep_ms, 100); /* 40 pairs, one per batch: 4 s */
    slow_arg_t a = {f.base, {0}};
    pthread_t th;
    unsigned long long calls = atomic_load(&g_score_calls);
    pthread_create(&th, NULL, long_client, &a);
    CHECK(scorer_started(calls)); /* queued and being scored */
    rr_server_drain(f.srv, 0.3); /* gives up long before its last pair */
    pthread_join(th, NULL);
    CHECK_MSG(a.r.rc == CURLE_OK, "curl: %d (no response)", (int)a.r.rc);
    CHECK_MSG(hc_is_error(&a.r, 503, "unavailable"), "%ld %s", a.r.status, a.r.body ? a.r.body : "");
    CHECK(atoi(a.r.retry_after) >= 1);
    CHECK(a.r.body && strstr(a.r.body, "shutting down"));
    hc_free(&a.r);
    atomic_store(&g_score_sleep_ms, 0);
    fx_stop(&f);
}

TEST(config_table) {
    rr_server_config_t c;
    FILE *devnull = fopen("/dev/null", "w");
    const char *a1[] = {"serve", "--model", "m", "--port=0", "--max-body-bytes", "2M", "--max-wait-ms", "0.5", "--no-access-log"};
    CHECK(rr_server_config_parse(&c, 9, (char **)a1, NULL, devnull, devnull) == 0);
    CHECK(c.port == 0 && c.max_body_bytes == 2 << 20 && c.max_wait_ms == 0.5 && c.access_log == 0);
    CHECK(!strcmp(c.host, "127.0.0.1") && c.max_batch_tokens == 16384 && c.max_docs == 1000);
    rr_server_config_release(&c);
    const char *bad1[] = {"serve", "--model", "m", "--port", "70000"};
    CHECK(rr_server_config_parse(&c, 5, (char **)bad1, NULL, devnull, devnull) == -1);
    const char *bad2[] = {"serve", "--port", "1"};
    CHECK(rr_server_config_parse(&c, 3, (char **)bad2, NULL, devnull, devnull) == -1);
    const char *bad3[] = {"serve", "--model", "m", "--bogus"};
    CHECK(rr_server_config_parse(&c, 4, (char **)bad3, NULL, devnull, devnull) == -1);
    const char *bad4[] = {"serve", "--model", "m", "--max-docs", "10", "--max-queue-pairs", "5"};
    CHECK(rr_server_config_parse(&c, 7, (char **)bad4, NULL, devnull, devnull) == -1);
    const char *bad5[] = {"serve", "--model", "m", "--max-batch-tokens", "12x"};
    CHECK(rr_server_config_parse(&c, 5, (char **)bad5, NULL, devnull, devnull) == -1);
    const char *bad6[] = {"serve", "--model"};
    CHECK(rr_server_config_parse(&c, 2, (char **)bad6, NULL, devnull, devnull) == -1);
    const char *help[] = {"serve", "--help"};
    CHECK(rr_server_config_parse(&c, 2, (char **)help, NULL, devnull, devnull) == 1);
    /* The token budget by device (0, the default), unless given. */
    const char *cuda[] = {"serve", "--model", "m", "--device", "cuda:1"};
    CHECK(rr_server_config_parse(&c, 5, (char **)cuda, NULL, devnull, devnull) == 0);
    CHECK(c.max_batch_tokens == RR_SERVE_CUDA_BATCH_TOKENS && c.max_batch_tokens == 65536 && !strcmp(c.device, "cuda:1"));
    rr_server_config_release(&c);
    const char *cuda_given[] = {"serve", "--model", "m", "--device", "cuda", "--max-batch-tokens", "4096"};
    CHECK(rr_server_config_parse(&c, 7, (char **)cuda_given, NULL, devnull, devnull) == 0);
    CHECK(c.max_batch_tokens == 4096);
    rr_server_config_release(&c);
    const char *tiny[] = {"serve", "--model", "m", "--max-batch-tokens", "8"};
    CHECK(rr_server_config_parse(&c, 5, (char **)tiny, NULL, devnull, devnull) == -1);
    fclose(devnull);
}

/* --batches-in-flight: 0 (the default) is 2 on CUDA, 1 on the CPU; a given
 * value wins on either; 1..RR_SRV_MAX_WORKERS. */
TEST(config_batches_in_flight) {
    rr_server_config_t c;
    FILE *devnull = fopen("/dev/null", "w");
    const char *cpu[] = {"serve", "--model", "m"};
    CHECK(rr_server_config_parse(&c, 3, (char **)cpu, NULL, devnull, devnull) == 0);
    CHECK(c.batches_in_flight == RR_SERVE_CPU_BATCHES_IN_FLIGHT && c.batches_in_flight == 1);
    rr_server_config_release(&c);
    const char *cuda[] = {"serve", "--model", "m", "--device", "cuda:1"};
    CHECK(rr_server_config_parse(&c, 5, (char **)cuda, NULL, devnull, devnull) == 0);
    CHECK(c.batches_in_flight == RR_SERVE_CUDA_BATCHES_IN_FLIGHT && c.batches_in_flight == 2);
    rr_server_config_release(&c);
    const char *cuda_one[] = {"serve", "--model", "m", "--device", "cuda", "--batches-in-flight", "1"};
    CHECK(rr_server_config_parse(&c, 7, (char **)cuda_one, NULL, devnull, devnull) == 0);
    CHECK(c.batches_in_flight == 1);
    rr_server_config_release(&c);
    char max[16];
    snprintf(max, sizeof max, "%d", RR_SRV_MAX_WORKERS);
    const char *cpu_max[] = {"serve", "--model", "m", "--batches-in-flight", max};
    CHECK(rr_server_config_parse(&c, 5, (char **)cpu_max, NULL, devnull, devnull) == 0);
    CHECK(c.batches_in_flight == RR_SRV_MAX_WORKERS);
    rr_server_config_release(&c);
    char over[16];
    snprintf(over, sizeof over, "%d", RR_SRV_MAX_WORKERS + 1);
    const char *bad[][5] = {{"serve", "--model", "m", "--batches-in-flight", over},
                            {"serve", "--model", "m", "--batches-in-flight", "-1"},
                            {"serve", "--model", "m", "--batches-in-flight", "2x"},
                            {"serve", "--model", "m", "--batches-in-flight", ""}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(rr_server_config_parse(&c, 5, (char **)bad[i], NULL, devnull, devnull) == -1, "'%s'", bad[i][4]);
    fclose(devnull);
}

static const char *fake_env(const char *name) {
    if (!strcmp(name, "RERANK_MODEL")) return "/env/model";
    if (!strcmp(name, "RERANK_PORT")) return "9999";
    if (!strcmp(name, "RERANK_ACCESS_LOG")) return "false";
    if (!strcmp(name, "RERANK_API_KEY")) return "k";
    if (!strcmp(name, "RERANK_DEVICE")) return "cuda";
    if (!strcmp(name, "RERANK_BATCHES_IN_FLIGHT")) return "3";
    return NULL;
}
TEST(config_env_precedence) {
    rr_server_config_t c;
    const char *a[] = {"serve", "--port", "1234"};
    CHECK(rr_server_config_parse(&c, 3, (char **)a, fake_env, stdout, stderr) == 0);
    CHECK(!strcmp(c.model, "/env/model") && c.port == 1234 && c.access_log == 0 && !strcmp(c.api_key, "k"));
    CHECK(!strcmp(c.device, "cuda") && c.max_batch_tokens == RR_SERVE_CUDA_BATCH_TOKENS); /* RERANK_DEVICE */
    CHECK(c.batches_in_flight == 3); /* RERANK_BATCHES_IN_FLIGHT */
    rr_server_config_release(&c);
    const char *flag_wins[] = {"serve", "--device", "cpu"};
    CHECK(rr_server_config_parse(&c, 3, (char **)flag_wins, fake_env, stdout, stderr) == 0);
    CHECK(!strcmp(c.device, "cpu") && c.max_batch_tokens == RR_SERVE_CPU_BATCH_TOKENS);
    CHECK(c.batches_in_flight == 3); /* given: no default by device */
    rr_server_config_release(&c);
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    rr_server_config_help(m);
    fclose(m);
    const char *flags[] = {"--model", "--host", "--port", "--precision", "--threads", "--max-length", "--max-batch-tokens",
                           "--max-wait-ms", "--max-queue-pairs", "--max-docs", "--max-body-bytes", "--api-key",
                           "--no-access-log", "--layers", "RERANK_PORT", "RERANK_API_KEY", "RERANK_MAX_BATCH_TOKENS",
                           "--device", "RERANK_DEVICE", "--no-auto-truncate", "--batches-in-flight",
                           "RERANK_BATCHES_IN_FLIGHT"};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) CHECK_MSG(strstr(buf, flags[i]) != NULL, "%s", flags[i]);
    free(buf);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rr_alloc_init_json();
    if (fx_start(&fx, NULL, 1) != 0) {
        printf("RESULT passed=0 failed=1\n");
        return 1;
    }
    RUN(config_table);
    RUN(config_batches_in_flight);
    RUN(config_env_precedence);
    RUN(get_routes);
    RUN(tei_rerank);
    RUN(tei_timing_headers);
    RUN(cohere_rerank);
    RUN(errors_400);
    RUN(errors_413_422);
    RUN(errors_size_limits);
    RUN(errors_routes);
    RUN(route_table_dispatch);
    RUN(backend_failure_500);
    RUN(info_device_fields);
    RUN(unhealthy_model_503);
    RUN(keep_alive);
    RUN(auth);
    RUN(loading_state);
    RUN(concurrent_clients);
    RUN(two_models);
    RUN(truncation_direction);
    RUN(truncation_direction_concurrent);
    RUN(overload_429);
    RUN(metrics_count_accepted_and_scored);
    RUN(disconnect_cancels);
    RUN(hangup_mid_upload_closes);
    RUN(graceful_drain);
    RUN(drain_timeout_answers_503);
    fx_stop(&fx);
    curl_global_cleanup();
    TEST_MAIN_END();
}
