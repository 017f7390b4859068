/* test_server_long.c — long documents through the real `rerank serve`
 * (tiny-xlmr): chunked requests score as rerank_score_long in-process and
 * name the same window (TEI, Cohere v1 max_chunks_per_doc, Cohere v2
 * max_tokens_per_doc), the server's --long-docs defaults, and every bad
 * value a 4xx with its message (docs/bad-input.md), the server still
 * answering after each; and an LLM reranker's windows (tiny-qwen3, with a
 * request's instruction). */
#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include "rerank.h"
#include "server_proc.h"
#include "http_client.h"
#include "test.h"

static char g_bin[PATH_MAX];
static char g_model[PATH_MAX];
static rerank_model_t *g_m;
static srvproc_t A; /* defaults (truncate) */
static srvproc_t B; /* --long-docs chunk --chunk-tokens 64 --chunk-overlap 16 --max-chunks-per-doc 4 */
static srvproc_t Q; /* tiny-qwen3: --long-docs chunk --chunk-tokens 48 --chunk-overlap 8 */
static srvproc_t C; /* --max-docs 64 --max-queue-pairs 64 */
static char g_qwen[PATH_MAX];
static rerank_model_t *g_qm;

typedef hc_resp_t resp_t;
static resp_t post(const char *base, const char *path, const char *body) {
    return hc_request(NULL, base, NULL, path, body, -1, NULL, 0);
}

static const char k_query[] = "what is a panda?";
static char *g_long; /* ~900 tokens */
static const char *k_short = "The giant panda is a bear species endemic to China.";

/* {"query": Q, KEY: [docs], EXTRA} */
static char *body_of(const char *key, const char *const *docs, size_t n, const char *extra) {
    json_t *t = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(t, json_string(docs[i]));
    json_t *o = json_pack("{s:s, s:o}", "query", k_query, key, t);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (extra && *extra) {
        size_t n0 = strlen(s);
        s = realloc(s, n0 + strlen(extra) + 3);
        sprintf(s + n0 - 1, ",%s}", extra);
    }
    return s;
}

/* The in-process scores (sigmoid) and windows of the documents under lo. */
static void want_of(const char *const *docs, size_t n, const rerank_long_options_t *lo, float *s,
                    rerank_chunk_info_t *best) {
    rerank_score_options_t so = rerank_score_options_default();
    so.normalize = 1;
    CHECK(rerank_score_long(g_m, k_query, strlen(k_query), docs, NULL, n, &so, lo, s, best) == RERANK_OK);
}

/* The results of a 200 answer (TEI array or Cohere "results") match. */
static int results_match(const resp_t *r, const char *score_key, const float *want, const rerank_chunk_info_t *best,
                         size_t n, int chunked) {
    json_error_t e;
    json_t *j = r->body ? json_loads(r->body, 0, &e) : NULL;
    json_t *res = json_is_array(j) ? j : json_object_get(j, "results");
    int ok = r->status == 200 && json_array_size(res) == n;
    for (size_t k = 0; ok && k < n; k++) {
        json_t *o = json_array_get(res, k);
        size_t i = (size_t)json_integer_value(json_object_get(o, "index"));
        ok = i < n && fabs(json_real_value(json_object_get(o, score_key)) - want[i]) < 1e-5;
        if (ok && chunked)
            ok = json_integer_value(json_object_get(o, "chunk")) == best[i].chunk &&
                 json_integer_value(json_object_get(o, "chunks")) == best[i].n_chunks &&
                 json_integer_value(json_object_get(o, "token_start")) == best[i].token_start &&
                 json_integer_value(json_object_get(o, "token_end")) == best[i].token_end &&
                 json_integer_value(json_object_get(o, "doc_tokens")) == best[i].doc_tokens;
        if (ok && !chunked) ok = json_object_get(o, "chunk") == NULL;
    }
    if (!ok) fprintf(stderr, "    got %ld %.400s\n", r->status, r->body ? r->body : "(none)");
    json_decref(j);
    return ok;
}

static int ask(const srvproc_t *s, const char *path, const char *key, const char *extra, const char *score_key,
               const rerank_long_options_t *lo) {
    const char *docs[3] = {g_long, k_short, "hi"};
    float want[3];
    rerank_chunk_info_t best[3];
    want_of(docs, 3, lo, want, best);
    char *body = body_of(key, docs, 3, extra);
    resp_t r = post(s->base, path, body);
    int ok = results_match(&r, score_key, want, best, 3, lo->mode == RERANK_LONG_DOCS_CHUNK);
    free(r.body);
    free(body);
    return ok;
}

TEST(servers_start) {
    CHECK_MSG(g_m != NULL, "rerank_model_load(%s): %s", g_model, rerank_last_error());
    CHECK_MSG(A.port > 0 && B.port > 0, "a server did not start (see its stderr above)");
}

/* Each API's fields give the library's scores and windows. */
TEST(chunked_requests_match_library) {
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.chunk_tokens = 100;
    lo.chunk_overlap = 20;
    lo.max_chunks_per_doc = 10; /* the server's default */
    CHECK(ask(&A, "/rerank", "texts", "\"long_docs\":\"chunk\",\"chunk_tokens\":100,\"chunk_overlap\":20", "score", &lo));
    /* Cohere v1: max_chunks_per_doc alone asks for chunks of the whole room */
    lo.chunk_tokens = lo.chunk_overlap = 0;
    lo.max_chunks_per_doc = 2;
    CHECK(ask(&A, "/v1/rerank", "documents", "\"max_chunks_per_doc\":2", "relevance_score", &lo));
    /* Cohere v2: max_tokens_per_doc cuts, then the usual truncation */
    rerank_long_options_t cut = rerank_long_options_default();
    cut.max_tokens_per_doc = 40;
    CHECK(ask(&A, "/v2/rerank", "documents", "\"max_tokens_per_doc\":40", "relevance_score", &cut));
    /* ... and with chunks too */
    lo.max_chunks_per_doc = 10;
    lo.chunk_tokens = 16;
    lo.max_tokens_per_doc = 100;
    CHECK(ask(&A, "/v2/rerank", "documents", "\"long_docs\":\"chunk\",\"chunk_tokens\":16,\"max_tokens_per_doc\":100",
              "relevance_score", &lo));
    /* nothing asked: truncation, no chunk fields */
    rerank_long_options_t none = rerank_long_options_default();
    CHECK(ask(&A, "/rerank", "texts", "", "score", &none));
}

/* --long-docs chunk makes chunks the default; a request can still truncate
 * or pick its own windows. */
TEST(server_defaults) {
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.chunk_tokens = 64;
    lo.chunk_overlap = 16;
    lo.max_chunks_per_doc = 4;
    CHECK(ask(&B, "/rerank", "texts", "", "score", &lo));
    CHECK(ask(&B, "/v1/rerank", "documents", "", "relevance_score", &lo));
    rerank_long_options_t none = rerank_long_options_default();
    CHECK(ask(&B, "/rerank", "texts", "\"long_docs\":\"truncate\"", "score", &none));
    /* a request's chunk_tokens below the server's overlap: no overlap */
    lo.chunk_tokens = 10;
    lo.chunk_overlap = 0;
    CHECK(ask(&B, "/rerank", "texts", "\"chunk_tokens\":10", "score", &lo));
    lo.chunk_overlap = 5;
    lo.max_chunks_per_doc = 7;
    CHECK(ask(&B, "/rerank", "texts", "\"chunk_tokens\":10,\"chunk_overlap\":5,\"max_chunks_per_doc\":7", "score", &lo));
}

/* Bad values: the status and message docs/bad-input.md lists, then a good
 * request on the same server still gives 200. */
TEST(bad_values) {
    static const struct {
        const char *extra;
        long status;
        const char *msg;
    } rows[] = {
        {"\"long_docs\":\"split\"", 422, "\"long_docs\" must be \"truncate\" or \"chunk\""},
        {"\"long_docs\":1", 400, "\"long_docs\" must be \"truncate\" or \"chunk\""},
        {"\"chunk_tokens\":\"64\"", 400, "\"chunk_tokens\" must be an integer"},
        {"\"chunk_tokens\":0", 422, "\"chunk_tokens\" must be in [1, 8192], got 0"},
        {"\"chunk_tokens\":9000", 422, "\"chunk_tokens\" must be in [1, 8192], got 9000"},
        {"\"chunk_overlap\":-1", 422, "\"chunk_overlap\" must be in [0, 8192], got -1"},
        {"\"chunk_tokens\":32,\"chunk_overlap\":32", 422, "\"chunk_overlap\" (32) must be below \"chunk_tokens\" (32)"},
        {"\"max_chunks_per_doc\":0", 422, "\"max_chunks_per_doc\" must be in [1, 1024], got 0"},
        {"\"max_chunks_per_doc\":1.5", 400, "\"max_chunks_per_doc\" must be an integer"},
        {"\"max_tokens_per_doc\":0", 422, "\"max_tokens_per_doc\" must be in [1, 16777216], got 0"},
        {"\"long_docs\":\"truncate\",\"max_chunks_per_doc\":3", 422,
         "\"chunk_tokens\", \"chunk_overlap\" and \"max_chunks_per_doc\" need \"long_docs\": \"chunk\""},
        /* the overlap is checked against the room too: 512 - 4 - the query's 6 tokens */
        {"\"long_docs\":\"chunk\",\"chunk_overlap\":600", 422,
         "texts[0]: chunk_overlap = 600 must be below the window's 502 document tokens"},
        /* windows beyond the queue bound (--max-queue-pairs 64 here) */
        {"\"chunk_tokens\":1,\"max_chunks_per_doc\":1024", 413, "windows; the queue holds 64"},
    };
    const char *docs[2] = {g_long, k_short};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        char *body = body_of("texts", docs, 2, rows[i].extra);
        resp_t r = post(A.base, "/rerank", body);
        CHECK_MSG(r.status == rows[i].status && r.body && strstr(r.body, "\"type\":\"validation\""), "%s: %ld %s",
                  rows[i].extra, r.status, r.body ? r.body : "");
        json_error_t e;
        json_t *j = r.body ? json_loads(r.body, 0, &e) : NULL;
        const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        CHECK_MSG(m && strstr(m, rows[i].msg), "%s: %s", rows[i].extra, m ? m : "(no message)");
        json_decref(j);
        free(r.body);
        free(body);
        rerank_long_options_t none = rerank_long_options_default();
        CHECK(ask(&A, "/rerank", "texts", "", "score", &none));
    }
    /* a query that leaves no room, kept whole by "truncate": false: 413 */
    char *q3 = malloc(3 * strlen(g_long) + 1);
    sprintf(q3, "%s%s%s", g_long, g_long, g_long);
    json_t *o = json_pack("{s:s, s:[s], s:s, s:b}", "query", q3, "texts", k_short, "long_docs", "chunk", "truncate", 0);
    free(q3);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    resp_t r = post(A.base, "/rerank", body);
    CHECK_MSG(r.status == 413 && r.body && strstr(r.body, "texts[0]: chunking: the query (") &&
                  strstr(r.body, "leave no room for the document"),
              "%ld %s", r.status, r.body ? r.body : "");
    free(r.body);
    free(body);
    /* truncate: false with chunks: windows fit by construction, 200 */
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.max_chunks_per_doc = 10;
    CHECK(ask(&A, "/rerank", "texts", "\"long_docs\":\"chunk\",\"truncate\":false", "score", &lo));
}

/* The peak resident memory of a process (VmHWM), in KiB; -1 if unknown. */
static long peak_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kib = atol(line + 6);
    if (f) fclose(f);
    return kib;
}

/* A request whose windows cannot all be queued is refused before they are
 * built: 64 documents of ~1,000 tokens asking for 1,024 one-token windows
 * each, beside a 384-token query, would be 64 x 1,024 copies of the query
 * (~200 MB of ids) for a queue of 64 pairs. The server's peak memory stays
 * where it was, and the answer is the same 413. */
TEST(window_bound_before_allocating) {
    CHECK_MSG(C.port > 0, "server C did not start");
    if (!C.port) return;
    char *q = malloc(4000), *doc = malloc(8000);
    q[0] = doc[0] = 0;
    for (int i = 0; i < 100; i++) strcat(q, "panda bamboo ");
    for (int i = 0; i < 250; i++) strcat(doc, i % 5 ? "forest mountain river " : "panda bear ");
    json_t *docs = json_array();
    for (int i = 0; i < 64; i++) json_array_append_new(docs, json_string(doc));
    json_t *o = json_pack("{s:s, s:o, s:s, s:i, s:i}", "query", q, "texts", docs, "long_docs", "chunk", "chunk_tokens",
                          1, "max_chunks_per_doc", 1024);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    /* warm up: the first request's buffers are part of the baseline */
    const char *few[1] = {k_short};
    char *small = body_of("texts", few, 1, "");
    resp_t r = post(C.base, "/rerank", small);
    CHECK(r.status == 200);
    free(r.body);
    long before = peak_kib(C.pid);
    r = post(C.base, "/rerank", body);
    long after = peak_kib(C.pid);
    CHECK_MSG(r.status == 413 && r.body && strstr(r.body, "windows; the queue holds 64"), "%ld %s", r.status,
              r.body ? r.body : "");
    CHECK_MSG(before > 0 && after - before < 48 * 1024, "peak memory grew by %ld KiB (from %ld KiB)", after - before,
              before);
    free(r.body);
    r = post(C.base, "/rerank", small);
    CHECK(r.status == 200);
    free(r.body);
    free(small);
    free(body);
    free(q);
    free(doc);
}

/* /info reports the long-document defaults and the batch order. */
TEST(info_reports_defaults) {
    resp_t r = hc_request(NULL, B.base, NULL, "/info", NULL, -1, NULL, 30000);
    CHECK(r.rc == CURLE_OK && r.status == 200);
    json_t *j = hc_json(&r);
    const char *mode = json_string_value(json_object_get(j, "long_docs"));
    const char *order = json_string_value(json_object_get(j, "batch_order"));
    CHECK(mode && !strcmp(mode, "chunk"));
    CHECK(order && !strcmp(order, "fair"));
    CHECK(json_integer_value(json_object_get(j, "chunk_tokens")) == 64);
    CHECK(json_integer_value(json_object_get(j, "chunk_overlap")) == 16);
    CHECK(json_integer_value(json_object_get(j, "max_chunks_per_doc")) == 4);
    json_decref(j);
    free(r.body);
}

/* An LLM reranker chunks inside its prompt: the server's windows and
 * scores are the library's, with the request's instruction in every
 * window; a request can still truncate. */
TEST(llm_reranker_chunks) {
    CHECK_MSG(g_qm != NULL && Q.port > 0, "tiny-qwen3: no model or no server");
    if (!g_qm || !Q.port) return;
    const char *docs[3] = {g_long, k_short, "hi"};
    rerank_score_options_t so = rerank_score_options_default();
    so.normalize = 1;
    so.pair.instruction = "Find what pandas eat";
    so.pair.instruction_len = strlen(so.pair.instruction);
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.chunk_tokens = 48;
    lo.chunk_overlap = 8;
    lo.max_chunks_per_doc = 10; /* the server's default */
    float want[3];
    rerank_chunk_info_t best[3];
    CHECK(rerank_score_long(g_qm, k_query, strlen(k_query), docs, NULL, 3, &so, &lo, want, best) == RERANK_OK);
    CHECK(best[0].n_chunks > 1);
    char *body = body_of("texts", docs, 3, "\"instruction\":\"Find what pandas eat\"");
    resp_t r = post(Q.base, "/rerank", body);
    CHECK(results_match(&r, "score", want, best, 3, 1));
    free(r.body);
    free(body);
    /* Cohere v2: truncate mode with max_tokens_per_doc, the default instruction */
    so.pair.instruction = NULL;
    so.pair.instruction_len = 0;
    rerank_long_options_t cut = rerank_long_options_default();
    cut.max_tokens_per_doc = 20;
    CHECK(rerank_score_long(g_qm, k_query, strlen(k_query), docs, NULL, 3, &so, &cut, want, best) == RERANK_OK);
    body = body_of("documents", docs, 3, "\"long_docs\":\"truncate\",\"max_tokens_per_doc\":20");
    r = post(Q.base, "/v2/rerank", body);
    CHECK(results_match(&r, "relevance_score", want, best, 3, 0));
    free(r.body);
    free(body);
}

/* `rerank serve` refuses bad defaults at start. */
TEST(bad_flags) {
    char cmd[2 * PATH_MAX + 256], out[512];
    snprintf(cmd, sizeof cmd, "%s serve --model %s --long-docs split 2>&1", g_bin, g_model);
    CHECK(sp_run(cmd, out, sizeof out) == 2 && strstr(out, "--long-docs must be truncate or chunk"));
    snprintf(cmd, sizeof cmd, "%s serve --model %s --chunk-tokens 8 --chunk-overlap 8 2>&1", g_bin, g_model);
    CHECK(sp_run(cmd, out, sizeof out) == 2 && strstr(out, "--chunk-overlap 8 must be below --chunk-tokens 8"));
    snprintf(cmd, sizeof cmd, "%s serve --model %s --max-chunks-per-doc 0 2>&1", g_bin, g_model);
    CHECK(sp_run(cmd, out, sizeof out) == 2 && strstr(out, "out of range"));
}

int main(int argc, char **argv) {
    (void)argc;
    char exe[PATH_MAX - 16];
    sp_build_dir(argv[0], exe, sizeof exe);
    snprintf(g_bin, sizeof g_bin, "%s/rerank", exe);
    snprintf(g_model, sizeof g_model, "%s/fixtures/models/tiny-xlmr", t_shared());
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_long = malloc(4000);
    g_long[0] = 0;
    for (int i = 0; i < 60; i++) strcat(g_long, i % 7 ? "bamboo forest and mountains " : "panda bear eats ");
    rerank_model_options_t mo = rerank_model_options_default();
    mo.threads = 1;
    if (rerank_model_load(g_model, &mo, &g_m) != RERANK_OK) g_m = NULL;
    const char *a_extra[] = {"--no-access-log", "--max-queue-pairs", "64", "--max-docs", "8", NULL};
    const char *b_extra[] = {"--no-access-log", "--long-docs", "chunk", "--chunk-tokens", "64", "--chunk-overlap",
                             "16", "--max-chunks-per-doc", "4", NULL};
    if (sp_start(&A, g_bin, g_model, a_extra, NULL) != 0) A.port = 0;
    if (sp_start(&B, g_bin, g_model, b_extra, NULL) != 0) B.port = 0;
    snprintf(g_qwen, sizeof g_qwen, "%s/fixtures/models/tiny-qwen3", t_shared());
    if (rerank_model_load(g_qwen, &mo, &g_qm) != RERANK_OK) g_qm = NULL;
    const char *q_extra[] = {"--no-access-log", "--long-docs", "chunk", "--chunk-tokens", "48", "--chunk-overlap", "8",
                             NULL};
    if (sp_start(&Q, g_bin, g_qwen, q_extra, NULL) != 0) Q.port = 0;
    const char *c_extra[] = {"--no-access-log", "--max-queue-pairs", "64", "--max-docs", "64", NULL};
    if (sp_start(&C, g_bin, g_model, c_extra, NULL) != 0) C.port = 0;
    RUN(servers_start);
    if (g_m && A.port && B.port) {
        RUN(chunked_requests_match_library);
        RUN(server_defaults);
        RUN(bad_values);
        RUN(info_reports_defaults);
    }
    RUN(window_bound_before_allocating);
    RUN(llm_reranker_chunks);
    RUN(bad_flags);
    CHECK(sp_stop(&A, SIGTERM) == 0 || !A.port);
    CHECK(sp_stop(&B, SIGTERM) == 0 || !B.port);
    CHECK(sp_stop(&Q, SIGTERM) == 0 || !Q.port);
    CHECK(sp_stop(&C, SIGTERM) == 0 || !C.port);
    sp_free(&A);
    sp_free(&B);
    sp_free(&Q);
    sp_free(&C);
    rerank_model_free(g_m);
    rerank_model_free(g_qm);
    free(g_long);
    curl_global_cleanup();
    TEST_MAIN_END();
}
