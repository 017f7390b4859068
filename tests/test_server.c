/* test_server.c — integration test of the real `rerank serve` binary with
 * the tiny-xlmr fixture: starts <build>/rerank as a child process on a free
 * port and talks HTTP to it with libcurl. Scores must equal rerank_score()
 * in-process. If the model cannot be loaded, the tests FAIL (they never
 * skip). */
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rerank.h"
#include "server_proc.h"
#include "http_client.h"
#include "test.h"

static char g_bin[PATH_MAX];
static char g_model[PATH_MAX];
static rerank_model_t *g_m; /* in-process reference */

/* ---------------- HTTP (tests/http_client.h) ---------------- */
typedef hc_resp_t resp_t;
static resp_t req(const char *base, const char *method, const char *path, const char *body, const char *auth) {
    return hc_request(NULL, base, method, path, body, -1, auth, 0);
}

/* ---------------- reference scores ---------------- */
static const char *k_query = "what is a panda?";
static const char *k_docs[] = {
    "hi",
    "The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear, is a bear species endemic to China.",
    "Der Große Panda ist eine Bärenart aus China.",
    "パンダは中国に生息するクマの一種です。",
    "",
    "pandas is a Python library for data analysis",
};
#define N_DOCS (sizeof k_docs / sizeof k_docs[0])

static int ref_scores(const char *q, const char *const *docs, size_t n, int normalize, int layers, float *out) {
    rerank_score_options_t o = rerank_score_options_default();
    o.normalize = normalize;
    o.layers = layers;
    o.pair.max_length = 512;
    return rerank_score(g_m, q, strlen(q), docs, NULL, n, &o, out) == RERANK_OK ? 0 : -1;
}

static size_t ref_tokens(const char *q, const char *const *docs, size_t n) {
    size_t total = 0;
    rerank_encoding_t e = {0};
    for (size_t i = 0; i < n; i++) {
        if (rerank_model_tokenize_pair(g_m, q, strlen(q), docs[i], strlen(docs[i]), NULL, &e) == RERANK_OK)
            total += e.n;
    }
    rerank_encoding_free(&e);
    return total;
}

static char *json_body_tei(const char *q, const char *const *docs, size_t n, const char *extra) {
    json_t *t = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(t, json_string(docs[i]));
    json_t *o = json_pack("{s:s, s:o}", "query", q, "texts", t);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (extra) { /* splice extra members before the closing brace */
        size_t n0 = strlen(s);
        s = realloc(s, n0 + strlen(extra) + 3);
        sprintf(s + n0 - 1, ",%s}", extra);
    }
    return s;
}

static srvproc_t A; /* default server with access log */

TEST(server_starts_and_model_loads) {
    CHECK_MSG(g_m != NULL, "rerank_model_load(%s) failed: %s", g_model, rerank_last_error());
    CHECK_MSG(A.port > 0, "server did not start (see its stderr above)");
}

TEST(get_routes) {
    resp_t r = req(A.base, "GET", "/health", NULL, NULL);
    CHECK(r.status == 200);
    hc_free(&r);
    r = req(A.base, "GET", "/ready", NULL, NULL);
    CHECK(r.status == 200);
    hc_free(&r);
    r = req(A.base, "GET", "/info", NULL, NULL);
    json_t *j = hc_json(&r);
    CHECK(r.status == 200);
    CHECK(json_is_string(json_object_get(j, "architecture")) &&
          !strcmp(json_string_value(json_object_get(j, "architecture")), "XLMRobertaForSequenceClassification"));
    CHECK(!strcmp(json_string_value(json_object_get(j, "model_id")), "tiny-xlmr"));
    CHECK(!strcmp(json_string_value(json_object_get(j, "precision")), "fp32"));
    CHECK(json_integer_value(json_object_get(j, "max_input_length")) == 512);
    CHECK(json_integer_value(json_object_get(j, "max_batch_tokens")) == 16384);
    CHECK(json_integer_value(json_object_get(j, "batches_in_flight")) == 1); /* the CPU's default */
    CHECK(!strcmp(json_string_value(json_object_get(j, "version")), rerank_version()));
    json_decref(j);
    hc_free(&r);
    r = req(A.base, "GET", "/openapi.json", NULL, NULL);
    j = hc_json(&r);
    CHECK(r.status == 200 && json_object_get(json_object_get(j, "paths"), "/rerank"));
    json_decref(j);
    hc_free(&r);
}

TEST(tei_scores_match_library) {
    float want[N_DOCS], raw[N_DOCS];
    CHECK(ref_scores(k_query, k_docs, N_DOCS, 1, 0, want) == 0);
    CHECK(ref_scores(k_query, k_docs, N_DOCS, 0, 0, raw) == 0);
    char *body = json_body_tei(k_query, k_docs, N_DOCS, "\"return_text\":true");
    resp_t r = req(A.base, "POST", "/rerank", body, NULL);
    free(body);
    json_t *j = hc_json(&r);
    CHECK(r.status == 200 && json_array_size(j) == N_DOCS);
    double prev = 2;
    for (size_t k = 0; k < json_array_size(j); k++) {
        json_t *o = json_array_get(j, k);
        size_t i = (size_t)json_integer_value(json_object_get(o, "index"));
        double s = json_real_value(json_object_get(o, "score"));
        CHECK(i < N_DOCS && s <= prev);
        prev = s;
        if (i < N_DOCS) {
            CHECK_NEAR(s, want[i], 1e-5);
            CHECK(!strcmp(json_string_value(json_object_get(o, "text")), k_docs[i]));
        }
    }
    json_decref(j);
    hc_free(&r);
    body = json_body_tei(k_query, k_docs, N_DOCS, "\"raw_scores\":true");
    r = req(A.base, "POST", "/rerank", body, NULL);
    free(body);
    j = hc_json(&r);
    CHECK(r.status == 200 && json_array_size(j) == N_DOCS);
    for (size_t k = 0; k < json_array_size(j); k++) {
        json_t *o = json_array_get(j, k);
        size_t i = (size_t)json_integer_value(json_object_get(o, "index"));
        if (i < N_DOCS) CHECK_NEAR(json_real_value(json_object_get(o, "score")), raw[i], 1e-4);
        CHECK(json_object_get(o, "text") == NULL);
    }
    json_decref(j);
    hc_free(&r);
}

TEST(cohere_shapes) {
    float want[N_DOCS];
    CHECK(ref_scores(k_query, k_docs, N_DOCS, 1, 0, want) == 0);
    size_t best = 0;
    for (size_t i = 1; i < N_DOCS; i++)
        if (want[i] > want[best]) best = i;
    json_t *docs = json_array();
    for (size_t i = 0; i < N_DOCS; i++)
        json_array_append_new(docs, i % 2 ? json_pack("{s:s}", "text", k_docs[i]) : json_string(k_docs[i]));
    json_t *o = json_pack("{s:s, s:s, s:o, s:i, s:b}", "model", "tiny-xlmr", "query", k_query, "documents", docs, "top_n", 3,
                          "return_documents", 1);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    for (int v = 1; v <= 2; v++) {
        resp_t r = req(A.base, "POST", v == 1 ? "/v1/rerank" : "/v2/rerank", body, NULL);
        json_t *j = hc_json(&r);
        json_t *res = json_object_get(j, "results");
        CHECK(r.status == 200 && json_array_size(res) == 3);
        CHECK((size_t)json_integer_value(json_object_get(json_array_get(res, 0), "index")) == best);
        for (size_t k = 0; k < json_array_size(res); k++) {
            json_t *x = json_array_get(res, k);
            size_t i = (size_t)json_integer_value(json_object_get(x, "index"));
            if (i < N_DOCS) {
                CHECK_NEAR(json_real_value(json_object_get(x, "relevance_score")), want[i], 1e-5);
                CHECK(!strcmp(json_string_value(json_object_get(json_object_get(x, "document"), "text")), k_docs[i]));
            }
        }
        CHECK(json_string_length(json_object_get(j, "id")) == 36);
        CHECK(!strcmp(json_string_value(json_object_get(j, "model")), "tiny-xlmr"));
        CHECK_MSG((size_t)json_integer_value(json_object_get(json_object_get(j, "usage"), "total_tokens")) ==
                      ref_tokens(k_query, k_docs, N_DOCS),
                  "total_tokens %lld vs %zu", (long long)json_integer_value(json_object_get(json_object_get(j, "usage"), "total_tokens")),
                  ref_tokens(k_query, k_docs, N_DOCS));
        json_decref(j);
        hc_free(&r);
    }
    free(body);
}

TEST(long_document_truncation) {
    size_t n = 20000;
    char *doc = malloc(n + 1);
    for (size_t i = 0; i < n; i++) doc[i] = "panda bamboo forest "[i % 20];
    doc[n] = 0;
    const char *docs[1] = {doc};
    float want;
    CHECK(ref_scores(k_query, docs, 1, 1, 0, &want) == 0);
    char *body = json_body_tei(k_query, docs, 1, NULL);
    resp_t r = req(A.base, "POST", "/rerank", body, NULL);
    json_t *j = hc_json(&r);
    CHECK(r.status == 200);
    CHECK_NEAR(json_real_value(json_object_get(json_array_get(j, 0), "score")), want, 1e-5);
    json_decref(j);
    hc_free(&r);
    free(body);
    body = json_body_tei(k_query, docs, 1, "\"truncate\":false");
    r = req(A.base, "POST", "/rerank", body, NULL);
    CHECK(hc_is_error(&r, 413, NULL));
    hc_free(&r);
    free(body);
    free(doc);
}

/* TEI "truncation_direction": "Left" cuts a too-long document from its
 * start, as rerank_score with RERANK_TRUNC_LEFT does; concurrent Left and
 * Right requests (batched together by the server) each keep their own. */
static char *g_long_doc;          /* ~1000 tokens whose start and end differ */
static float g_long_want[2][2];   /* [right, left][long doc, short doc], sigmoid */

static int direction_ok(const char *dir, int left) {
    const char *docs[2] = {g_long_doc, k_docs[1]};
    char extra[64];
    snprintf(extra, sizeof extra, "\"truncate\":true,\"truncation_direction\":\"%s\"", dir);
    char *body = json_body_tei(k_query, docs, 2, extra);
    resp_t r = req(A.base, "POST", "/rerank", body, NULL);
    free(body);
    json_t *j = hc_json(&r);
    int ok = r.status == 200 && json_array_size(j) == 2;
    for (size_t k = 0; ok && k < 2; k++) {
        json_t *o = json_array_get(j, k);
        size_t i = (size_t)json_integer_value(json_object_get(o, "index"));
        ok = i < 2 && fabs(json_real_value(json_object_get(o, "score")) - g_long_want[left][i]) < 1e-5;
    }
    if (!ok) fprintf(stderr, "    %s: %ld %.300s\n", dir, r.status, r.body ? r.body : "(none)");
    json_decref(j);
    hc_free(&r);
    return ok;
}

/* n client threads running fn(&arg) with arg = {id, ok = 0}; CHECKs that
 * each set ok. */
typedef struct { int id; int ok; } cl_arg_t;
static void run_clients(void *(*fn)(void *), int n) {
    pthread_t th[16];
    cl_arg_t a[16];
    if (n > 16) n = 16;
    for (int i = 0; i < n; i++) {
        a[i] = (cl_arg_t){i, 0};
        pthread_create(&th[i], NULL, fn, &a[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(a[i].ok, "client %d", i);
    }
}

static void *dir_client(void *p) {
    cl_arg_t *a = p;
    a->ok = 1;
    for (int k = 0; k < 4; k++) {
        int left = (a->id + k) % 2;
        if (!direction_ok(left ? "Left" : "Right", left)) a->ok = 0;
    }
    return NULL;
}

TEST(truncation_direction_left) {
    size_t cap = 16384, n = 0;
    g_long_doc = malloc(cap);
    n += (size_t)snprintf(g_long_doc + n, cap - n, "%s ", k_docs[1]);
    for (int i = 0; n + 64 < cap && i < 700; i++) n += (size_t)snprintf(g_long_doc + n, cap - n, "item%d ", i * 7919 % 10007);
    snprintf(g_long_doc + n, cap - n, "%s", k_docs[5]);
    rerank_encoding_t e = {0};
    CHECK(rerank_tokenize(rerank_model_tokenizer(g_m), g_long_doc, strlen(g_long_doc), &e) == RERANK_OK && e.n > 1000);
    rerank_encoding_free(&e);
    const char *docs[2] = {g_long_doc, k_docs[1]};
    for (int left = 0; left < 2; left++) {
        rerank_score_options_t o = rerank_score_options_default();
        o.normalize = 1;
        o.pair.max_length = 512;
        o.pair.direction = left ? RERANK_TRUNC_LEFT : RERANK_TRUNC_RIGHT;
        CHECK(rerank_score(g_m, k_query, strlen(k_query), docs, NULL, 2, &o, g_long_want[left]) == RERANK_OK);
    }
    /* the two ends differ, so do the scores; the short document is not cut */
    CHECK_MSG(fabs(g_long_want[0][0] - g_long_want[1][0]) > 1e-4, "right %.6f left %.6f", g_long_want[0][0],
              g_long_want[1][0]);
    CHECK_NEAR(g_long_want[0][1], g_long_want[1][1], 1e-6);
    /* the default is Right */
    float dflt[2];
    CHECK(ref_scores(k_query, docs, 2, 1, 0, dflt) == 0);
    CHECK_NEAR(dflt[0], g_long_want[0][0], 1e-6);
    rerank_score_options_t bad = rerank_score_options_default();
    bad.pair.direction = (rerank_trunc_direction_t)5;
    CHECK(rerank_score(g_m, k_query, strlen(k_query), docs, NULL, 2, &bad, dflt) == RERANK_ERR_INVALID_ARGUMENT);

    CHECK(direction_ok("Left", 1));
    CHECK(direction_ok("left", 1));
    CHECK(direction_ok("Right", 0));
    run_clients(dir_client, 6);
    /* truncate:false still refuses a pair over the max length */
    char *body = json_body_tei(k_query, docs, 1, "\"truncate\":false,\"truncation_direction\":\"Left\"");
    resp_t r = req(A.base, "POST", "/rerank", body, NULL);
    CHECK(hc_is_error(&r, 413, NULL));
    hc_free(&r);
    free(body);
    free(g_long_doc);
    g_long_doc = NULL;
}

static int good_after(const char *base, const char *auth) {
    float want[2];
    const char *docs[2] = {k_docs[1], k_docs[0]};
    if (ref_scores(k_query, docs, 2, 1, 0, want) != 0) return 0;
    char *body = json_body_tei(k_query, docs, 2, NULL);
    resp_t r = req(base, "POST", "/rerank", body, auth);
    free(body);
    json_t *j = hc_json(&r);
    int ok = r.status == 200 && json_array_size(j) == 2;
    for (size_t k = 0; ok && k < 2; k++) {
        json_t *o = json_array_get(j, k);
        size_t i = (size_t)json_integer_value(json_object_get(o, "index"));
        ok = i < 2 && fabs(json_real_value(json_object_get(o, "score")) - want[i]) < 1e-5;
    }
    json_decref(j);
    hc_free(&r);
    return ok;
}

TEST(errors_then_good) {
    struct { const char *method, *path, *body; long status; } cases[] = {
        {"POST", "/rerank", "{\"query\":\"a\",\"texts\":[\"b\"", 400},
        {"POST", "/rerank", "not json", 400},
        {"POST", "/rerank", "{\"query\":7,\"texts\":[\"b\"]}", 400},
        {"POST", "/rerank", "{\"query\":\"a\",\"texts\":[2]}", 400},
        {"POST", "/rerank", "{\"texts\":[\"b\"]}", 400}, /* no query at all; an empty one is scored */
        {"POST", "/rerank", "{\"query\":\"a\",\"texts\":[]}", 400},
        {"POST", "/rerank", "{\"query\":\"a\xff\",\"texts\":[\"b\"]}", 400},
        {"POST", "/rerank", "{\"query\":\"a\",\"texts\":[\"b\"],\"truncation_direction\":\"Up\"}", 400},
        {"POST", "/v1/rerank", "{\"query\":\"a\",\"documents\":[\"b\"],\"top_n\":0}", 422},
        {"POST", "/v1/rerank", "{\"query\":\"a\",\"documents\":[{\"x\":1}]}", 400},
        {"POST", "/v2/rerank", "{\"query\":\"a\",\"documents\":[]}", 400},
        {"GET", "/v1/rerank", NULL, 405},
        {"POST", "/info", "{}", 405},
        {"GET", "/does-not-exist", NULL, 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        resp_t r = req(A.base, cases[i].method, cases[i].path, cases[i].body, NULL);
        CHECK_MSG(hc_is_error(&r, cases[i].status, NULL), "case %zu", i);
        hc_free(&r);
        CHECK_MSG(good_after(A.base, NULL), "good request after case %zu", i);
    }
    /* too many documents (default --max-docs 1000) */
    size_t cap = 64 + 1001 * 4;
    char *b = malloc(cap), *p = b;
    p += sprintf(p, "{\"query\":\"q\",\"texts\":[");
    for (int i = 0; i < 1001; i++) p += sprintf(p, "%s\"a\"", i ? "," : "");
    sprintf(p, "]}");
    resp_t r = req(A.base, "POST", "/rerank", b, NULL);
    CHECK(hc_is_error(&r, 413, NULL));
    hc_free(&r);
    free(b);
    CHECK(good_after(A.base, NULL));
}

static void *client(void *p) {
    cl_arg_t *a = p;
    a->ok = 1;
    for (int k = 0; k < 8; k++) {
        const char *docs[3] = {k_docs[(a->id + k) % N_DOCS], k_docs[(a->id + 2 * k + 1) % N_DOCS], k_docs[(k + 3) % N_DOCS]};
        float want[3];
        if (ref_scores(k_query, docs, 3, 0, 0, want) != 0) { a->ok = 0; break; }
        char *body = json_body_tei(k_query, docs, 3, "\"raw_scores\":true");
        resp_t r = req(A.base, "POST", "/rerank", body, NULL);
        free(body);
        json_t *j = hc_json(&r);
        if (r.status != 200 || json_array_size(j) != 3) a->ok = 0;
        for (size_t i = 0; i < json_array_size(j); i++) {
            json_t *o = json_array_get(j, i);
            size_t idx = (size_t)json_integer_value(json_object_get(o, "index"));
            if (idx >= 3 || fabs(json_real_value(json_object_get(o, "score")) - want[idx]) > 1e-4) a->ok = 0;
        }
        json_decref(j);
        hc_free(&r);
    }
    return NULL;
}

TEST(concurrent_clients_batched) {
    run_clients(client, 16);
    resp_t r = req(A.base, "GET", "/metrics", NULL, NULL);
    CHECK(r.status == 200);
    CHECK(r.body && strstr(r.body, "rerank_requests_total{route=\"/rerank\",status=\"200\"}"));
    CHECK(r.body && strstr(r.body, "rerank_batch_pairs_count"));
    CHECK(r.body && strstr(r.body, "rerank_model_info{model=\"tiny-xlmr\",architecture=\"XLMRobertaForSequenceClassification\""));
    hc_free(&r);
    CHECK(sp_log_has(&A, "\"POST /rerank\" 200"));
    CHECK(sp_log_has(&A, "\"GET /does-not-exist\" 404"));
}

/* Second server: API key from the environment, --layers 1, no access log. */
TEST(auth_layers_no_log) {
    srvproc_t B;
    const char *extra[] = {"--layers", "1", "--no-access-log", NULL};
    const char *env[] = {"RERANK_API_KEY=topsecret", NULL};
    CHECK(sp_start(&B, g_bin, g_model, extra, env) == 0);
    if (!B.port) { sp_stop(&B, SIGKILL); sp_free(&B); return; }
    resp_t r = req(B.base, "POST", "/rerank", "{\"query\":\"a\",\"texts\":[\"b\"]}", NULL);
    CHECK(hc_is_error(&r, 401, NULL));
    hc_free(&r);
    r = req(B.base, "POST", "/rerank", "{\"query\":\"a\",\"texts\":[\"b\"]}", "Authorization: Bearer topsecreT");
    CHECK(hc_is_error(&r, 401, NULL));
    hc_free(&r);
    r = req(B.base, "GET", "/info", NULL, NULL);
    CHECK(hc_is_error(&r, 401, NULL));
    hc_free(&r);
    r = req(B.base, "GET", "/health", NULL, NULL);
    CHECK(r.status == 200);
    hc_free(&r);
    r = req(B.base, "GET", "/metrics", NULL, NULL);
    CHECK(r.status == 200);
    hc_free(&r);
    /* --layers 1 gives the library's layers=1 scores */
    float want[N_DOCS];
    CHECK(ref_scores(k_query, k_docs, N_DOCS, 0, 1, want) == 0);
    char *body = json_body_tei(k_query, k_docs, N_DOCS, "\"raw_scores\":true");
    r = req(B.base, "POST", "/rerank", body, "Authorization: Bearer topsecret");
    free(body);
    json_t *j = hc_json(&r);
    CHECK(r.status == 200 && json_array_size(j) == N_DOCS);
    for (size_t k = 0; k < json_array_size(j); k++) {
        json_t *o = json_array_get(j, k);
        size_t i = (size_t)json_integer_value(json_object_get(o, "index"));
        if (i < N_DOCS) CHECK_NEAR(json_real_value(json_object_get(o, "score")), want[i], 1e-4);
    }
    json_decref(j);
    hc_free(&r);
    r = req(B.base, "GET", "/info", NULL, "Authorization: Bearer topsecret");
    j = hc_json(&r);
    CHECK(r.status == 200 && json_integer_value(json_object_get(j, "layers_used")) == 1);
    json_decref(j);
    hc_free(&r);
    CHECK(sp_stop(&B, SIGINT) == 0);
    CHECK(!sp_log_has(&B, "\"POST /rerank\""));
    CHECK(!sp_log_has(&B, "topsecret"));
    sp_free(&B);
}

/* Third server: a queue of 4 pairs held for 1.5 s -> 429; then SIGTERM
 * while a request is queued: it is answered and the server exits 0. */
typedef struct { const char *base; resp_t r; } bg_arg_t;
static void *bg_request(void *p) {
    bg_arg_t *a = p;
    a->r = req(a->base, "POST", "/rerank", "{\"query\":\"q\",\"texts\":[\"a\",\"b\",\"c\"]}", NULL);
    return NULL;
}
/* Stop server P with sig while a request's 3 pairs wait for their batch:
 * the request is answered, the exit status is 0 and the log names sig. */
static void graceful_stop(srvproc_t *P, int sig, const char *said) {
    bg_arg_t b = {P->base, {0}};
    pthread_t th;
    pthread_create(&th, NULL, bg_request, &b);
    usleep(300 * 1000); /* 3 pairs are waiting for their batch */
    int rc = sp_stop(P, sig);
    pthread_join(th, NULL);
    CHECK_MSG(b.r.status == 200, "queued request during a stop by signal %d got %ld", sig, b.r.status);
    hc_free(&b.r);
    CHECK_MSG(rc == 0, "exit status %d", rc);
    CHECK_MSG(sp_log_has(P, said), "the log lacks \"%s\"", said);
    CHECK(sp_log_has(P, "rerank: stopped"));
}

TEST(overload_429_and_graceful_sigterm) {
    srvproc_t C;
    const char *extra[] = {"--max-queue-pairs", "4", "--max-docs", "4", "--max-wait-ms", "1500", NULL};
    CHECK(sp_start(&C, g_bin, g_model, extra, NULL) == 0);
    if (!C.port) { sp_stop(&C, SIGKILL); sp_free(&C); return; }
    bg_arg_t a = {C.base, {0}};
    pthread_t th;
    pthread_create(&th, NULL, bg_request, &a);
    usleep(300 * 1000); /* 3 pairs are waiting for their batch */
    double t0 = rr_now_s();
    resp_t r = req(C.base, "POST", "/rerank", "{\"query\":\"q\",\"texts\":[\"a\",\"b\"]}", NULL);
    CHECK(hc_is_error(&r, 429, NULL));
    CHECK(atoi(r.retry_after) >= 1);
    CHECK(rr_now_s() - t0 < 1.0); /* refused at once, not after waiting */
    hc_free(&r);
    pthread_join(th, NULL);
    CHECK(a.r.status == 200);
    hc_free(&a.r);
    CHECK(good_after(C.base, NULL));
    graceful_stop(&C, SIGTERM, "SIGTERM received");
    sp_free(&C);
}

/* Fourth server: SIGHUP (the terminal or ssh session went away) stops it
 * as SIGTERM does: the queued request is answered and the exit is 0 (its
 * default action killed the server mid-request, no drain, no exit status). */
TEST(graceful_sighup) {
    srvproc_t D;
    const char *extra[] = {"--max-wait-ms", "1500", NULL};
    CHECK(sp_start(&D, g_bin, g_model, extra, NULL) == 0);
    if (!D.port) { sp_stop(&D, SIGKILL); sp_free(&D); return; }
    graceful_stop(&D, SIGHUP, "SIGHUP received");
    sp_free(&D);
}

TEST(cli_usage_and_bad_model) {
    char cmd[PATH_MAX + 128];
    snprintf(cmd, sizeof cmd, "%s serve --help >/dev/null 2>&1", g_bin);
    CHECK(WEXITSTATUS(system(cmd)) == 0);
    snprintf(cmd, sizeof cmd, "%s serve --model x --bogus >/dev/null 2>&1", g_bin);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "%s serve >/dev/null 2>&1", g_bin);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "%s serve --model /nonexistent/model --port 0 >/dev/null 2>&1", g_bin);
    CHECK(WEXITSTATUS(system(cmd)) == 1);
}

int main(int argc, char **argv) {
    (void)argc;
    /* <build>/tests/test_server -> <build>/rerank */
    char exe[PATH_MAX - 16]; /* room for "/rerank" in g_bin */
    sp_build_dir(argv[0], exe, sizeof exe);
    snprintf(g_bin, sizeof g_bin, "%s/rerank", exe);
    snprintf(g_model, sizeof g_model, "%s/fixtures/models/tiny-xlmr", t_shared());
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rerank_model_options_t mo = rerank_model_options_default();
    mo.threads = 1;
    if (rerank_model_load(g_model, &mo, &g_m) != RERANK_OK) g_m = NULL;
    if (sp_start(&A, g_bin, g_model, NULL, NULL) != 0) A.port = 0;
    RUN(server_starts_and_model_loads);
    if (g_m && A.port) {
        RUN(get_routes);
        RUN(tei_scores_match_library);
        RUN(cohere_shapes);
        RUN(long_document_truncation);
        RUN(truncation_direction_left);
        RUN(errors_then_good);
        RUN(concurrent_clients_batched);
        RUN(auth_layers_no_log);
        RUN(overload_429_and_graceful_sigterm);
        RUN(graceful_sighup);
    }
    RUN(cli_usage_and_bad_model);
    int rc = sp_stop(&A, SIGTERM);
    if (A.port) {
        t_cur_name = "clean_exit";
        t_cur_failed = 0;
        CHECK_MSG(rc == 0, "server exit status %d", rc);
        if (t_cur_failed) { t_failed++; printf("not ok clean_exit\n"); } else { t_passed++; printf("ok clean_exit\n"); }
    }
    sp_free(&A);
    rerank_model_free(g_m);
    curl_global_cleanup();
    TEST_MAIN_END();
}
