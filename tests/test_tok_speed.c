/* test_tok_speed.c — how fast each fixture tokenizer loads and tokenizes
 * the TREC DL 2019 passages (`content` of every hit), one thread. It prints
 * MB/s of text and load times, in this thread's CPU time (machines differ
 * and are shared: nothing here asserts a time); it asserts that every passage tokenizes, and that a
 * passage tokenized twice gives the same ids (no state leaks between calls).
 * The goal (issue #14): >= 5 MB/s per thread, tokenizer load well under 1 s. */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "rerank.h"
#include "test.h"

/* This thread's CPU time: on a shared machine, wall time mostly measures
 * the other processes. */
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static json_t *g_passages; /* array of strings */
static size_t g_bytes;

static void load_passages(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/eval/trec-dl/retrieve_results_dl19.json", t_shared());
    json_error_t e;
    json_t *root = json_load_file(path, 0, &e);
    CHECK_MSG(root != NULL, "cannot load %s: %s", path, e.text);
    if (!root) return;
    g_passages = json_array();
    size_t i, k;
    json_t *q, *h;
    json_array_foreach(root, i, q) {
        json_array_foreach(json_object_get(q, "hits"), k, h) {
            json_t *c = json_object_get(h, "content");
            if (!json_is_string(c)) continue;
            json_array_append(g_passages, c);
            g_bytes += json_string_length(c);
        }
    }
    json_decref(root);
}

static void measure(const char *model) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/models/%s", t_shared(), model);
    rerank_tokenizer_t *tok = NULL;
    double t0 = now();
    rerank_status_t st = rerank_tokenizer_load(path, &tok);
    double load_s = now() - t0;
    CHECK_MSG(st == RERANK_OK, "%s: %s", model, rerank_last_error());
    if (!tok || !g_passages) { rerank_tokenizer_free(tok); return; }
    rerank_encoding_t e = {0}, again = {0};
    size_t n = json_array_size(g_passages), tokens = 0, failed = 0;
    double best = 1e30;
    for (int run = 0; run < 3; run++) { /* best of 3: the machine is shared */
        t0 = now();
        tokens = 0;
        for (size_t i = 0; i < n; i++) {
            const json_t *c = json_array_get(g_passages, i);
            if (rerank_tokenize(tok, json_string_value(c), json_string_length(c), &e) != RERANK_OK) failed++;
            tokens += e.n;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    CHECK_MSG(failed == 0, "%s: %zu passages failed", model, failed);
    const json_t *c = json_array_get(g_passages, n / 2);
    CHECK(rerank_tokenize(tok, json_string_value(c), json_string_length(c), &e) == RERANK_OK &&
          rerank_tokenize(tok, json_string_value(c), json_string_length(c), &again) == RERANK_OK && e.n == again.n &&
          e.n > 0 && !memcmp(e.ids, again.ids, e.n * sizeof *e.ids));
    printf("  %-16s load %.3f s CPU; %zu passages, %.2f MB, %zu tokens: %.1f MB/s, %.2f M tokens/s (one thread, CPU time)\n", model,
           load_s, n, (double)g_bytes / 1e6, tokens, (double)g_bytes / 1e6 / best, (double)tokens / 1e6 / best);
    rerank_encoding_free(&e);
    rerank_encoding_free(&again);
    rerank_tokenizer_free(tok);
}

TEST(trec_dl_speed) {
    load_passages();
    CHECK(g_passages && json_array_size(g_passages) > 4000);
    measure("tiny-qwen3");
    measure("tiny-modernbert");
    measure("tiny-xlmr");
    measure("tiny-bert");
    json_decref(g_passages);
}

int main(void) {
    RUN(trec_dl_speed);
    TEST_MAIN_END();
}
