/* test_server_qwen3.c — `rerank serve` with an LLM reranker (tiny-qwen3):
 * /info names the family and the prompt recipe; the TEI and Cohere/Jina
 * shapes take a per-request "instruction" (else the server's
 * --instruction, else the model card's) and score exactly as the library
 * does in-process; a cross-encoder given an instruction answers 422 (and
 * `serve --instruction` refuses to start with one). */
#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rerank.h"
#include "server_proc.h"
#include "http_client.h"
#include "test.h"

static char g_bin[PATH_MAX], g_qwen[PATH_MAX], g_xlmr[PATH_MAX];
static rerank_model_t *g_m; /* tiny-qwen3 in-process: the reference */

/* GET path (body NULL) or POST body; the parsed JSON answer (or NULL). */
static json_t *http(const srvproc_t *s, const char *path, const char *body, long *status) {
    hc_resp_t r = hc_request(NULL, s->base, NULL, path, body, -1, NULL, 0);
    *status = r.status;
    json_t *j = hc_json(&r);
    if (!j || *status != 200) fprintf(stderr, "    %s -> %ld %s\n", path, *status, r.body ? r.body : "(none)");
    hc_free(&r);
    return j;
}

static const char *k_query = "what is a panda?";
static const char *k_docs[] = {
    "hi",
    "The giant panda (Ailuropoda melanoleuca) is a bear species endemic to China.",
    "",
    "pandas is a Python library for data analysis",
};
#define N_DOCS (sizeof k_docs / sizeof k_docs[0])
static const char *k_instruction = "Given a question, find passages about the animal it names";

/* In-process raw scores with `instruction` (NULL: the recipe's default). */
static int ref_scores(const char *instruction, float *out) {
    rerank_score_options_t o = rerank_score_options_default();
    o.pair.instruction = instruction;
    o.pair.instruction_len = instruction ? strlen(instruction) : 0;
    return rerank_score(g_m, k_query, strlen(k_query), k_docs, NULL, N_DOCS, &o, out) == RERANK_OK ? 0 : -1;
}

/* A TEI body with raw scores, and with "instruction" when not NULL. */
static char *tei_body(const char *instruction) {
    json_t *t = json_array();
    for (size_t i = 0; i < N_DOCS; i++) json_array_append_new(t, json_string(k_docs[i]));
    json_t *o = json_pack("{s:s, s:o, s:b}", "query", k_query, "texts", t, "raw_scores", 1);
    if (instruction) json_object_set_new(o, "instruction", json_string(instruction));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* TEI scores by index into got[]; 0 if the answer has every document. */
static int tei_scores(const srvproc_t *s, const char *instruction, float *got) {
    char *body = tei_body(instruction);
    long st = 0;
    json_t *j = http(s, "/rerank", body, &st);
    free(body);
    size_t seen = 0;
    for (size_t k = 0; st == 200 && k < json_array_size(j); k++) {
        json_t *e = json_array_get(j, k);
        size_t i = (size_t)json_integer_value(json_object_get(e, "index"));
        if (i < N_DOCS) got[i] = (float)json_number_value(json_object_get(e, "score")), seen++;
    }
    json_decref(j);
    return st == 200 && seen == N_DOCS ? 0 : -1;
}

static double max_diff(const float *a, const float *b) {
    double w = 0;
    for (size_t i = 0; i < N_DOCS; i++) w = fabs(a[i] - b[i]) > w ? fabs(a[i] - b[i]) : w;
    return w;
}

static srvproc_t A, B, C; /* tiny-qwen3; tiny-qwen3 --instruction; tiny-xlmr */

TEST(info_names_family_and_recipe) {
    long st = 0;
    json_t *j = http(&A, "/info", NULL, &st);
    CHECK(st == 200);
    CHECK(!strcmp(json_string_value(json_object_get(j, "architecture")), "Qwen3ForCausalLM"));
    CHECK(!strcmp(json_string_value(json_object_get(j, "family")), "qwen3"));
    CHECK(!strcmp(json_string_value(json_object_get(j, "prompt")), "qwen3-reranker"));
    CHECK(json_is_null(json_object_get(j, "instruction")));
    CHECK(json_integer_value(json_object_get(j, "max_input_length")) == 8192);
    json_decref(j);
    j = http(&B, "/info", NULL, &st);
    CHECK(st == 200 && !strcmp(json_string_value(json_object_get(j, "instruction")), k_instruction));
    json_decref(j);
    j = http(&C, "/info", NULL, &st);
    CHECK(st == 200 && !strcmp(json_string_value(json_object_get(j, "family")), "xlm-roberta"));
    CHECK(json_is_null(json_object_get(j, "prompt")));
    json_decref(j);
}

/* TEI: the default instruction, then the request's; each equals the library. */
TEST(tei_instruction) {
    float want_def[N_DOCS], want_ins[N_DOCS], got[N_DOCS];
    CHECK(ref_scores(NULL, want_def) == 0 && ref_scores(k_instruction, want_ins) == 0);
    CHECK(max_diff(want_def, want_ins) > 1e-3); /* the instruction is part of the prompt */
    CHECK(tei_scores(&A, NULL, got) == 0);
    CHECK_MSG(max_diff(got, want_def) <= 1e-5, "default: %g", max_diff(got, want_def));
    CHECK(tei_scores(&A, k_instruction, got) == 0);
    CHECK_MSG(max_diff(got, want_ins) <= 1e-5, "instruction: %g", max_diff(got, want_ins));
    /* The server's --instruction is the default; a request's still wins. */
    CHECK(tei_scores(&B, NULL, got) == 0);
    CHECK_MSG(max_diff(got, want_ins) <= 1e-5, "server default: %g", max_diff(got, want_ins));
    const char *def = "Given a web search query, retrieve relevant passages that answer the query";
    CHECK(tei_scores(&B, def, got) == 0);
    CHECK_MSG(max_diff(got, want_def) <= 1e-5, "request over server default: %g", max_diff(got, want_def));
}

/* Cohere / Jina shapes: relevance_score = sigmoid(raw). */
TEST(cohere_instruction) {
    float raw[N_DOCS];
    CHECK(ref_scores(k_instruction, raw) == 0);
    json_t *d = json_array();
    for (size_t i = 0; i < N_DOCS; i++) json_array_append_new(d, json_pack("{s:s}", "text", k_docs[i]));
    json_t *o = json_pack("{s:s, s:o, s:s}", "query", k_query, "documents", d, "instruction", k_instruction);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    const char *paths[] = {"/v1/rerank", "/v2/rerank"};
    for (int p = 0; p < 2; p++) {
        long st = 0;
        json_t *j = http(&A, paths[p], body, &st);
        json_t *res = json_object_get(j, "results");
        CHECK(st == 200 && json_array_size(res) == N_DOCS);
        for (size_t k = 0; k < json_array_size(res); k++) {
            json_t *e = json_array_get(res, k);
            size_t i = (size_t)json_integer_value(json_object_get(e, "index"));
            CHECK(i < N_DOCS);
            if (i < N_DOCS)
                CHECK_NEAR(json_number_value(json_object_get(e, "relevance_score")), 1.0 / (1.0 + exp(-raw[i])), 1e-6);
        }
        json_decref(j);
    }
    free(body);
}

/* A non-string instruction is a 400; a cross-encoder given one a 422. */
TEST(instruction_errors) {
    long st = 0;
    json_t *j = http(&A, "/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"instruction\": 5}", &st);
    CHECK(st == 400);
    json_decref(j);
    j = http(&C, "/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"instruction\": \"find it\"}", &st);
    CHECK(st == 422);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    CHECK(msg && strstr(msg, "instruction") && strstr(msg, "cross-encoder"));
    json_decref(j);
    j = http(&C, "/v1/rerank", "{\"query\": \"q\", \"documents\": [\"a\"], \"instruction\": \"find it\"}", &st);
    CHECK(st == 422);
    json_decref(j);
    /* null is no instruction */
    j = http(&C, "/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"instruction\": null}", &st);
    CHECK(st == 200);
    json_decref(j);
    /* serve --instruction with a cross-encoder: a usage error at start. */
    char cmd[PATH_MAX * 2 + 128];
    snprintf(cmd, sizeof cmd, "%s serve --model %s --port 0 --instruction x >/dev/null 2>&1", g_bin, g_xlmr);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
}

int main(int argc, char **argv) {
    (void)argc;
    char exe[PATH_MAX - 16];
    sp_build_dir(argv[0], exe, sizeof exe);
    snprintf(g_bin, sizeof g_bin, "%s/rerank", exe);
    snprintf(g_qwen, sizeof g_qwen, "%s/fixtures/models/tiny-qwen3", t_shared());
    snprintf(g_xlmr, sizeof g_xlmr, "%s/fixtures/models/tiny-xlmr", t_shared());
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rerank_model_options_t mo = rerank_model_options_default();
    mo.threads = 1;
    if (rerank_model_load(g_qwen, &mo, &g_m) != RERANK_OK) g_m = NULL;
    const char *one[] = {"--threads", "1", NULL};
    const char *with_ins[] = {"--threads", "1", "--instruction", k_instruction, NULL};
    int up = g_m && !sp_start(&A, g_bin, g_qwen, one, NULL) && !sp_start(&B, g_bin, g_qwen, with_ins, NULL) &&
             !sp_start(&C, g_bin, g_xlmr, one, NULL);
    t_cur_name = "servers_start";
    CHECK_MSG(up, "model or servers did not start: %s", g_m ? "see the server's stderr above" : rerank_last_error());
    if (up) {
        RUN(info_names_family_and_recipe);
        RUN(tei_instruction);
        RUN(cohere_instruction);
        RUN(instruction_errors);
    } else {
        t_failed++;
    }
    srvproc_t *all[] = {&A, &B, &C};
    for (int i = 0; i < 3; i++) {
        if (all[i]->pid > 0) sp_stop(all[i], SIGTERM);
        sp_free(all[i]);
    }
    rerank_model_free(g_m);
    curl_global_cleanup();
    TEST_MAIN_END();
}
