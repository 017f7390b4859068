/* test_server_models.c — several models in one `rerank serve` (issue 17.2):
 * the real binary serving tiny-xlmr, tiny-bert and tiny-xlmr with layers=1
 * answers each by name (Cohere / Jina "model"; TEI and no "model": the
 * first), concurrently, with the scores of one-model servers; an unknown
 * model is a 404 naming the served ones; /info, /v1/models and the metrics'
 * model label; one model's full queue (429s) never refuses another's
 * requests; bad --model specs are usage errors. */
#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "rerank.h"
#include "server/model_spec.h"
#include "server_proc.h"
#include "http_client.h"
#include "test.h"

static char g_bin[PATH_MAX];
static char g_xlmr[PATH_MAX], g_bert[PATH_MAX];
static srvproc_t M, X1, B1; /* three models; xlmr alone; bert alone */

/* ---- HTTP (tests/http_client.h) ---- */
typedef hc_resp_t resp_t;
static resp_t http(const char *base, const char *path, const char *body) {
    return hc_request(NULL, base, NULL, path, body, -1, NULL, 0);
}

static const char *k_query = "what is a panda?";
static const char *k_docs[] = {
    "hi",
    "The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear, is a bear species endemic to China.",
    "Der Große Panda ist eine Bärenart aus China.",
    "pandas is a Python library for data analysis",
};
#define N_DOCS (sizeof k_docs / sizeof k_docs[0])

/* A Cohere body (model NULL: no "model" field) asking for raw logits. */
static char *cohere_body(const char *model) {
    json_t *d = json_array();
    for (size_t i = 0; i < N_DOCS; i++) json_array_append_new(d, json_string(k_docs[i]));
    json_t *o = json_pack("{s:s, s:o, s:b}", "query", k_query, "documents", d, "raw_scores", 1);
    if (model) json_object_set_new(o, "model", json_string(model));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* POST a rerank request; scores by index into out (raw logits). Returns
 * the HTTP status; *model_out gets the answer's "model" (Cohere). */
static long scores_of(const char *base, const char *path, const char *model, float *out, char *model_out, size_t cap) {
    char *body;
    if (!strcmp(path, "/rerank")) {
        json_t *t = json_array();
        for (size_t i = 0; i < N_DOCS; i++) json_array_append_new(t, json_string(k_docs[i]));
        json_t *o = json_pack("{s:s, s:o, s:b}", "query", k_query, "texts", t, "raw_scores", 1);
        body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    } else {
        body = cohere_body(model);
    }
    resp_t r = http(base, path, body);
    free(body);
    json_t *j = hc_json(&r);
    json_t *res = json_is_array(j) ? j : json_object_get(j, "results");
    for (size_t i = 0; i < N_DOCS; i++) out[i] = NAN;
    for (size_t k = 0; k < json_array_size(res); k++) {
        json_t *o = json_array_get(res, k);
        size_t i = (size_t)json_integer_value(json_object_get(o, "index"));
        json_t *s = json_object_get(o, json_is_array(j) ? "score" : "relevance_score");
        if (i < N_DOCS) out[i] = (float)json_real_value(s);
    }
    if (model_out) snprintf(model_out, cap, "%s", json_string_value(json_object_get(j, "model")) ?: "");
    json_decref(j);
    free(r.body);
    return r.status;
}

static int same_scores(const float *a, const float *b) {
    for (size_t i = 0; i < N_DOCS; i++)
        if (!(fabs((double)a[i] - (double)b[i]) <= 1e-5)) {
            fprintf(stderr, "    doc %zu: %.9g vs %.9g\n", i, (double)a[i], (double)b[i]);
            return 0;
        }
    return 1;
}

/* Scores of the one-model servers (and in-process, for layers=1). */
static float g_want_xlmr[N_DOCS], g_want_bert[N_DOCS], g_want_fast[N_DOCS];

TEST(servers_start) {
    CHECK(M.port && X1.port && B1.port);
    CHECK(scores_of(X1.base, "/v1/rerank", NULL, g_want_xlmr, NULL, 0) == 200);
    CHECK(scores_of(B1.base, "/v1/rerank", NULL, g_want_bert, NULL, 0) == 200);
    /* layers=1 in-process: the per-model option is the library's layers */
    rerank_model_options_t mo = rerank_model_options_default();
    mo.threads = 1;
    rerank_model_t *m = NULL;
    CHECK(rerank_model_load(g_xlmr, &mo, &m) == RERANK_OK);
    rerank_score_options_t so = rerank_score_options_default();
    so.layers = 1;
    so.pair.max_length = 512;
    CHECK(m && rerank_score(m, k_query, strlen(k_query), k_docs, NULL, N_DOCS, &so, g_want_fast) == RERANK_OK);
    rerank_model_free(m);
    /* the two models really differ, and so do 1 and 2 layers */
    CHECK(fabs(g_want_xlmr[1] - g_want_bert[1]) > 1e-3 && fabs(g_want_xlmr[1] - g_want_fast[1]) > 1e-3);
}

TEST(answered_by_name_as_one_model_servers) {
    float got[N_DOCS];
    char model[128];
    CHECK(scores_of(M.base, "/v1/rerank", "tiny-xlmr", got, model, sizeof model) == 200);
    CHECK(same_scores(got, g_want_xlmr) && !strcmp(model, "tiny-xlmr"));
    CHECK(scores_of(M.base, "/v1/rerank", "bert", got, model, sizeof model) == 200);
    CHECK(same_scores(got, g_want_bert) && !strcmp(model, "bert"));
    CHECK(scores_of(M.base, "/v2/rerank", "bert", got, model, sizeof model) == 200);
    CHECK(same_scores(got, g_want_bert) && !strcmp(model, "bert"));
    CHECK(scores_of(M.base, "/v2/rerank", "fast", got, model, sizeof model) == 200);
    CHECK(same_scores(got, g_want_fast) && !strcmp(model, "fast"));
    /* no "model", an empty one, and TEI's shape: the first model */
    CHECK(scores_of(M.base, "/v1/rerank", NULL, got, model, sizeof model) == 200);
    CHECK(same_scores(got, g_want_xlmr) && !strcmp(model, "tiny-xlmr"));
    CHECK(scores_of(M.base, "/v1/rerank", "", got, model, sizeof model) == 200);
    CHECK(same_scores(got, g_want_xlmr) && !strcmp(model, "tiny-xlmr"));
    CHECK(scores_of(M.base, "/rerank", NULL, got, NULL, 0) == 200);
    CHECK(same_scores(got, g_want_xlmr));
    /* a one-model server answers whatever "model" a client sends (as before) */
    CHECK(scores_of(B1.base, "/v1/rerank", "rerank-english-v3.0", got, model, sizeof model) == 200);
    CHECK(same_scores(got, g_want_bert) && !strcmp(model, "tiny-bert"));
}

typedef struct worker { int id, bad, done; } worker_t;

static void *worker_main(void *arg) {
    worker_t *w = arg;
    static const char *names[3] = {"tiny-xlmr", "bert", "fast"};
    const float *want[3] = {g_want_xlmr, g_want_bert, g_want_fast};
    for (int k = 0; k < 12; k++) {
        int which = (w->id + k) % 3;
        float got[N_DOCS];
        char model[128];
        long st = scores_of(M.base, k % 2 ? "/v1/rerank" : "/v2/rerank", names[which], got, model, sizeof model);
        if (st != 200 || !same_scores(got, want[which]) || strcmp(model, names[which])) w->bad++;
        w->done++;
    }
    return NULL;
}

TEST(concurrent_clients_on_all_models) {
    enum { N = 6 };
    pthread_t th[N];
    worker_t w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker_t){.id = i};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    int bad = 0, done = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        bad += w[i].bad;
        done += w[i].done;
    }
    CHECK_MSG(bad == 0 && done == N * 12, "%d of %d requests wrong", bad, done);
}

TEST(unknown_model_404) {
    char *body = cohere_body("nope");
    resp_t r = http(M.base, "/v1/rerank", body);
    free(body);
    json_t *j = hc_json(&r);
    json_t *e = json_object_get(j, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    CHECK_MSG(r.status == 404 && !strcmp(json_string_value(json_object_get(e, "type")) ?: "", "not_found") && msg &&
                  strstr(msg, "'nope'") && strstr(msg, "'tiny-xlmr'") && strstr(msg, "'bert'") && strstr(msg, "'fast'"),
              "%ld %s", r.status, r.body ? r.body : "");
    json_decref(j);
    free(r.body);
    /* a name is case-sensitive, and "model" must be a string */
    body = cohere_body("BERT");
    r = http(M.base, "/v2/rerank", body);
    free(body);
    CHECK(r.status == 404);
    free(r.body);
    r = http(M.base, "/v1/rerank", "{\"model\": 3, \"query\": \"q\", \"documents\": [\"d\"]}");
    CHECK(r.status == 400);
    free(r.body);
    /* a long name is echoed cut to 128 bytes: never inside a UTF-8
     * character, which would leave the 404 without its JSON body */
    char name[160];
    memset(name, 'a', 127);
    strcpy(name + 127, "\xc3\xa9\xc3\xa9");
    body = cohere_body(name);
    r = http(M.base, "/v1/rerank", body);
    free(body);
    j = hc_json(&r);
    e = json_object_get(j, "error");
    msg = json_string_value(json_object_get(e, "message"));
    CHECK_MSG(r.status == 404 && !strcmp(json_string_value(json_object_get(e, "type")) ?: "", "not_found") && msg &&
                  strstr(msg, "aaa' is not served here"),
              "%ld %s", r.status, r.body ? r.body : "");
    json_decref(j);
    free(r.body);
    /* the server still answers */
    float got[N_DOCS];
    CHECK(scores_of(M.base, "/v1/rerank", "bert", got, NULL, 0) == 200 && same_scores(got, g_want_bert));
}

TEST(info_and_models_list) {
    resp_t r = http(M.base, "/info", NULL);
    json_t *j = hc_json(&r);
    json_t *ms = json_object_get(j, "models");
    CHECK(r.status == 200 && !strcmp(json_string_value(json_object_get(j, "model_id")) ?: "", "tiny-xlmr"));
    CHECK(json_array_size(ms) == 3);
    static const char *names[3] = {"tiny-xlmr", "bert", "fast"};
    static const char *archs[3] = {"XLMRobertaForSequenceClassification", "BertForSequenceClassification",
                                   "XLMRobertaForSequenceClassification"};
    static const int layers[3] = {2, 2, 1};
    for (size_t i = 0; i < 3 && i < json_array_size(ms); i++) {
        json_t *o = json_array_get(ms, i);
        CHECK(!strcmp(json_string_value(json_object_get(o, "model_id")) ?: "", names[i]));
        CHECK(!strcmp(json_string_value(json_object_get(o, "architecture")) ?: "", archs[i]));
        CHECK(json_integer_value(json_object_get(o, "layers_used")) == layers[i]);
    }
    json_decref(j);
    free(r.body);
    r = http(M.base, "/v1/models", NULL);
    j = hc_json(&r);
    json_t *d = json_object_get(j, "data");
    CHECK(r.status == 200 && !strcmp(json_string_value(json_object_get(j, "object")) ?: "", "list") &&
          json_array_size(d) == 3);
    for (size_t i = 0; i < 3 && i < json_array_size(d); i++) {
        json_t *o = json_array_get(d, i);
        CHECK(!strcmp(json_string_value(json_object_get(o, "id")) ?: "", names[i]));
        CHECK(!strcmp(json_string_value(json_object_get(o, "object")) ?: "", "model"));
        CHECK(json_is_true(json_object_get(o, "default")) == (i == 0));
    }
    json_decref(j);
    free(r.body);
    /* the OpenAPI description names the route (and is still valid JSON) */
    r = http(M.base, "/openapi.json", NULL);
    j = hc_json(&r);
    CHECK(r.status == 200 && json_object_get(json_object_get(j, "paths"), "/v1/models"));
    json_decref(j);
    free(r.body);
    /* a one-model server lists its one model */
    r = http(X1.base, "/v1/models", NULL);
    j = hc_json(&r);
    CHECK(r.status == 200 && json_array_size(json_object_get(j, "data")) == 1);
    json_decref(j);
    free(r.body);
}

TEST(metrics_model_label) {
    resp_t r = http(M.base, "/metrics", NULL);
    const char *b = r.body ? r.body : "";
    static const char *want[] = {
        "rerank_requests_total{model=\"bert\",route=\"/v1/rerank\",status=\"200\"}",
        "rerank_requests_total{model=\"fast\",route=\"/v2/rerank\",status=\"200\"}",
        "rerank_requests_total{model=\"tiny-xlmr\",route=\"/rerank\",status=\"200\"}",
        "rerank_requests_total{route=\"/v1/rerank\",status=\"404\"}", /* no model was chosen */
        "rerank_request_duration_seconds_count{model=\"bert\",route=\"/v1/rerank\"}",
        "rerank_queue_wait_seconds_count{model=\"fast\"}",
        "rerank_batch_pairs_bucket{model=\"bert\",le=\"1\"}",
        "rerank_queue_pairs{model=\"bert\"} 0\n",
        "rerank_queue_pairs{model=\"fast\"} 0\n",
        "rerank_model_healthy{model=\"tiny-xlmr\"} 1\n",
        "rerank_model_info{model=\"bert\",architecture=\"BertForSequenceClassification\"",
        "rerank_model_info{model=\"fast\",architecture=\"XLMRobertaForSequenceClassification\"",
        "rerank_ready 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) CHECK_MSG(strstr(b, want[i]), "missing %s", want[i]);
    /* no unlabelled per-model series beside the labelled ones (no double counting) */
    CHECK(!strstr(b, "\nrerank_pairs_scored_total ") && !strstr(b, "\nrerank_queue_pairs "));
    /* each model's pair count is its own: bert scored what was sent to it */
    const char *p = strstr(b, "rerank_pairs_scored_total{model=\"bert\"} ");
    CHECK(p && atof(p + strlen("rerank_pairs_scored_total{model=\"bert\"} ")) >= 6 * N_DOCS);
    free(r.body);
    /* a one-model server keeps its unlabelled series */
    r = http(X1.base, "/metrics", NULL);
    CHECK(r.body && strstr(r.body, "rerank_queue_pairs 0\n") && !strstr(r.body, "{model=\"tiny-xlmr\",route"));
    free(r.body);
}

/* bench/loadgen --model NAME: every body names the model (cohere API). */
TEST(loadgen_model_flag) {
    char cmd[PATH_MAX * 2], out[8192];
    snprintf(cmd, sizeof cmd, "%.*s/loadgen --url %s --api cohere --model bert --requests 6 -c 2 --docs 3 --json",
             (int)(strlen(g_bin) - strlen("/rerank")), g_bin, M.base);
    int rc = sp_run(cmd, out, sizeof out);
    json_t *j = json_loads(out, 0, NULL);
    CHECK_MSG(rc == 0 && json_integer_value(json_object_get(j, "ok")) == 6, "exit %d: %s", rc, out);
    json_decref(j);
    snprintf(cmd, sizeof cmd, "%.*s/loadgen --url %s --api cohere --model nope --requests 4 -c 1 --docs 3 --json",
             (int)(strlen(g_bin) - strlen("/rerank")), g_bin, M.base);
    sp_run(cmd, out, sizeof out);
    j = json_loads(out, 0, NULL);
    CHECK_MSG(json_integer_value(json_object_get(j, "non_200")) == 4 && json_integer_value(json_object_get(j, "ok")) == 0,
              "%s", out);
    json_decref(j);
    /* "model" is a Cohere / Jina field: with TEI's shape it is a usage error */
    snprintf(cmd, sizeof cmd, "%.*s/loadgen --url %s --api tei --model bert --requests 1 2>/dev/null",
             (int)(strlen(g_bin) - strlen("/rerank")), g_bin, M.base);
    CHECK(sp_run(cmd, NULL, 0) == 2);
}

TEST(clean_exit) {
    CHECK(sp_stop(&M, SIGTERM) == 0 && sp_stop(&X1, SIGTERM) == 0 && sp_stop(&B1, SIGTERM) == 0);
    CHECK(sp_log_has(&M, "rerank: ready: model bert (BertForSequenceClassification") &&
          sp_log_has(&M, "rerank: ready: model fast (XLMRobertaForSequenceClassification, fp32 on cpu, 1 layers"));
}

/* ---- isolation: model A's flood fills its own queue only ---- */
static srvproc_t Q;
static atomic_int g_flood_stop, g_flood_429, g_flood_200;

static void *flood_main(void *arg) {
    const char *body = arg;
    while (!atomic_load(&g_flood_stop)) {
        resp_t r = http(Q.base, "/v1/rerank", body);
        if (r.status == 429) atomic_fetch_add(&g_flood_429, 1);
        else if (r.status == 200) atomic_fetch_add(&g_flood_200, 1);
        free(r.body);
    }
    return NULL;
}

TEST(flood_on_one_model_never_refuses_another) {
    const char *extra[] = {"--model", NULL, "--threads", "1", "--max-queue-pairs", "64", "--max-docs", "64",
                           "--no-access-log", NULL};
    char spec[PATH_MAX + 16];
    snprintf(spec, sizeof spec, "b=%s", g_bert);
    extra[1] = spec;
    CHECK(sp_start(&Q, g_bin, g_xlmr, extra, NULL) == 0);
    if (!Q.port) return;
    /* 64 documents of ~60 words each to tiny-xlmr, from 6 clients */
    json_t *d = json_array();
    for (int i = 0; i < 64; i++) {
        char t[512];
        snprintf(t, sizeof t, "document %d about the giant panda, a bear species endemic to China, living in "
                              "mountain forests of Sichuan, Shaanxi and Gansu, eating bamboo shoots and leaves "
                              "almost exclusively, and climbing trees to rest", i);
        json_array_append_new(d, json_string(t));
    }
    json_t *o = json_pack("{s:s, s:s, s:o}", "model", "tiny-xlmr", "query", "what do pandas eat?", "documents", d);
    char *flood = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    enum { NF = 6 };
    pthread_t th[NF];
    for (int i = 0; i < NF; i++) pthread_create(&th[i], NULL, flood_main, flood);
    int b_ok = 0, b_bad = 0;
    double end = rr_now_s() + 20;
    /* until the flood has been refused a few times (and 30 "b" requests at least) */
    while (rr_now_s() < end && (atomic_load(&g_flood_429) < 20 || b_ok + b_bad < 30)) {
        float got[N_DOCS];
        long st = scores_of(Q.base, "/v1/rerank", "b", got, NULL, 0);
        if (st == 200 && same_scores(got, g_want_bert)) b_ok++;
        else b_bad++;
    }
    atomic_store(&g_flood_stop, 1);
    for (int i = 0; i < NF; i++) pthread_join(th[i], NULL);
    free(flood);
    printf("  flood on tiny-xlmr: %d answered 429, %d 200; model b meanwhile: %d ok, %d not\n",
           atomic_load(&g_flood_429), atomic_load(&g_flood_200), b_ok, b_bad);
    CHECK_MSG(atomic_load(&g_flood_429) >= 20 && atomic_load(&g_flood_200) > 0 && b_bad == 0 && b_ok >= 30,
              "flood: %d 429, %d 200; other model: %d ok, %d not", atomic_load(&g_flood_429),
              atomic_load(&g_flood_200), b_ok, b_bad);
    CHECK(sp_stop(&Q, SIGTERM) == 0);
    sp_free(&Q);
}

/* ---- bad --model specs: usage errors before anything loads ---- */
static int run(const char *args, char *out, size_t cap) {
    char cmd[PATH_MAX * 5];
    snprintf(cmd, sizeof cmd, "%s serve --port 0 %s 2>&1 </dev/null", g_bin, args);
    return sp_run(cmd, out, cap);
}

TEST(bad_model_specs) {
    static const struct { const char *fmt; int rc; const char *msg; } k_cases[] = {
        {"--model a=%1$s --model a=%2$s", 2, "rerank serve: two models are named 'a'\n"},
        {"--model %1$s --model %1$s", 2, "two models are named 'tiny-xlmr' (give one a name: --model NAME=DIR)"},
        {"--model %1$s,colour=red", 2, "unknown key 'colour'"},
        {"--model %1$s,layers=x", 2, "layers='x' is not a number"},
        {"--model %1$s,layers=1,layers=2", 2, "layers is given twice"},
        {"--model '%1$s,layers'", 2, "'layers' is not key=value"},
        {"--model 'bad name=%1$s'", 2, "'bad name' is not a model name"},
        {"--model =%1$s", 2, "'' is not a model name"},
        {"--model a=", 2, "the model directory is empty"},
        {"--model %1$s,precision=fp64", 2, "fp64"},
        {"--model %1$s,device=tpu", 2, "tpu"},
        {"--model %1$s --model b=%2$s,layers=5", 2, "--layers 5 is out of range: the model has 2 layers"},
        {"--model '%1$s,instruction=Judge it, briefly'", 2, "instruction= is for LLM rerankers; tiny-xlmr is a cross-encoder"},
        {"--model a=%1$s --model b=%1$s --model c=%1$s --model d=%1$s --model e=%1$s --model f=%1$s --model g=%1$s "
         "--model h=%1$s --model i=%1$s",
         2, "at most 8 models"},
        {"--model %1$s --model x=/nonexistent/model", 1, "cannot find model '/nonexistent/model'"},
    };
    for (size_t i = 0; i < sizeof k_cases / sizeof *k_cases; i++) {
        char args[PATH_MAX * 3], out[8192];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(args, sizeof args, k_cases[i].fmt, g_xlmr, g_bert);
#pragma GCC diagnostic pop
        int rc = run(args, out, sizeof out);
        CHECK_MSG(rc == k_cases[i].rc && strstr(out, k_cases[i].msg) && !strstr(out, "listening"),
                  "case %zu: exit %d (want %d), output:\n%s", i, rc, k_cases[i].rc, out);
    }
}

/* The parser alone: names, keys, instruction= taking the rest. */
TEST(model_spec_parse) {
    rr_model_spec_t sp;
    char err[256], buf[256];
    CHECK(rr_model_spec_parse("/models/bge-m3/", &sp, err, sizeof err) == 0);
    CHECK(!sp.name && !strcmp(sp.dir, "/models/bge-m3/") && sp.layers == -1 && sp.max_length == -1 && !sp.precision);
    CHECK(!strcmp(rr_model_spec_name(&sp, NULL, 0, buf, sizeof buf), "bge-m3"));
    CHECK(!strcmp(rr_model_spec_name(&sp, "given", 0, buf, sizeof buf), "given"));
    rr_model_spec_release(&sp);
    CHECK(rr_model_spec_parse("BAAI/bge-reranker-v2-m3@main", &sp, err, sizeof err) == 0);
    CHECK(!strcmp(rr_model_spec_name(&sp, NULL, 1, buf, sizeof buf), "BAAI/bge-reranker-v2-m3@main"));
    rr_model_spec_release(&sp);
    CHECK(rr_model_spec_parse("fast=d,precision=int8,layers=8,max-length=256,threads=2,device=cpu,"
                              "instruction=Given a query, find passages, a=b",
                              &sp, err, sizeof err) == 0);
    CHECK(!strcmp(sp.name, "fast") && !strcmp(sp.dir, "d") && !strcmp(sp.precision, "int8") && sp.layers == 8 &&
          sp.max_length == 256 && sp.threads == 2 && !strcmp(sp.device, "cpu") &&
          !strcmp(sp.instruction, "Given a query, find passages, a=b"));
    CHECK(!strcmp(rr_model_spec_name(&sp, "ignored", 0, buf, sizeof buf), "fast"));
    rr_model_spec_release(&sp);
    static const char *k_bad[] = {"", "a=", "=d", "a b=d", "d,", "d,=1", "d,layers=", "d,layers=-1", "d,layers=999",
                                  "d,precision=", "d,x=1", "d,threads=1,threads=1"};
    for (size_t i = 0; i < sizeof k_bad / sizeof *k_bad; i++) {
        err[0] = 0;
        CHECK_MSG(rr_model_spec_parse(k_bad[i], &sp, err, sizeof err) == -1 && err[0] && !sp.dir && !sp.name,
                  "'%s' accepted", k_bad[i]);
    }
}

int main(int argc, char **argv) {
    (void)argc;
    char exe[PATH_MAX - 16];
    sp_build_dir(argv[0], exe, sizeof exe);
    snprintf(g_bin, sizeof g_bin, "%s/rerank", exe);
    snprintf(g_xlmr, sizeof g_xlmr, "%s/fixtures/models/tiny-xlmr", t_shared());
    snprintf(g_bert, sizeof g_bert, "%s/fixtures/models/tiny-bert", t_shared());
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(model_spec_parse);
    char bert_spec[PATH_MAX + 8], fast_spec[PATH_MAX + 16];
    snprintf(bert_spec, sizeof bert_spec, "bert=%s", g_bert);
    snprintf(fast_spec, sizeof fast_spec, "fast=%s,layers=1", g_xlmr);
    const char *m_extra[] = {"--model", bert_spec, "--model", fast_spec, "--threads", "1", "--no-access-log", NULL};
    const char *one_extra[] = {"--threads", "1", "--no-access-log", NULL};
    if (sp_start(&M, g_bin, g_xlmr, m_extra, NULL) != 0) M.port = 0;
    if (sp_start(&X1, g_bin, g_xlmr, one_extra, NULL) != 0) X1.port = 0;
    if (sp_start(&B1, g_bin, g_bert, one_extra, NULL) != 0) B1.port = 0;
    RUN(servers_start);
    if (M.port && X1.port && B1.port) {
        RUN(answered_by_name_as_one_model_servers);
        RUN(concurrent_clients_on_all_models);
        RUN(unknown_model_404);
        RUN(info_and_models_list);
        RUN(metrics_model_label);
        RUN(loadgen_model_flag);
    }
    RUN(clean_exit);
    RUN(flood_on_one_model_never_refuses_another);
    RUN(bad_model_specs);
    sp_free(&M);
    sp_free(&X1);
    sp_free(&B1);
    curl_global_cleanup();
    TEST_MAIN_END();
}
