/* test_tok_threads.c — one tokenizer shared by several threads gives the same
 * ids as a single thread, for each tokenizer model (Unigram, WordPiece,
 * byte-level BPE); run under ThreadSanitizer by `make tsan`. */
#include <jansson.h>
#include <pthread.h>

#include "rerank.h"
#include "test.h"
#include "tok_pair.h"

#define N_THREADS 4
#define MAX_TEXTS 400

typedef struct {
    const rerank_tokenizer_t *tok;
    const char **texts;
    size_t *lens;
    int n;
    rerank_encoding_t *out; /* one per text */
    int errors;
} job_t;

static void *worker(void *arg) {
    job_t *j = arg;
    for (int i = 0; i < j->n; i++) {
        if (rerank_tokenize(j->tok, j->texts[i], j->lens[i], &j->out[i]) != RERANK_OK) j->errors++;
        /* pairs too, alternating strategies */
        rerank_encoding_t pair = {0};
        int k = (i + 1) % j->n;
        if (tok_pair(j->tok, j->texts[i], j->lens[i], j->texts[k], j->lens[k], 64,
                                 i % 2 ? RERANK_TRUNC_FLAG : RERANK_TRUNC_LONGEST_FIRST, RERANK_TRUNC_RIGHT, &pair) != RERANK_OK)
            j->errors++;
        rerank_encoding_free(&pair);
    }
    return NULL;
}

static void run_model(const char *model, const char *golden) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/models/%s", t_shared(), model);
    rerank_tokenizer_t *tok = NULL;
    CHECK_MSG(rerank_tokenizer_load(path, &tok) == RERANK_OK, "%s", rerank_last_error());
    if (!tok) return;
    snprintf(path, sizeof path, "%s/fixtures/golden/%s", t_shared(), golden);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) { rerank_tokenizer_free(tok); return; }
    static const char *texts[MAX_TEXTS];
    static size_t lens[MAX_TEXTS];
    json_t *objs[MAX_TEXTS];
    int n = 0;
    char line[1 << 16];
    while (n < MAX_TEXTS && fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, JSON_ALLOW_NUL, NULL);
        json_t *t = json_object_get(o, "text");
        if (!json_is_string(t)) { json_decref(o); continue; }
        objs[n] = o;
        texts[n] = json_string_value(t);
        lens[n] = json_string_length(t);
        n++;
    }
    fclose(f);
    CHECK(n > 100);
    /* reference: single thread */
    rerank_encoding_t *ref = calloc((size_t)n, sizeof *ref);
    for (int i = 0; i < n; i++) CHECK(rerank_tokenize(tok, texts[i], lens[i], &ref[i]) == RERANK_OK);
    pthread_t th[N_THREADS];
    job_t jobs[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        jobs[t] = (job_t){tok, texts, lens, n, calloc((size_t)n, sizeof(rerank_encoding_t)), 0};
        pthread_create(&th[t], NULL, worker, &jobs[t]);
    }
    int mismatches = 0;
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK(jobs[t].errors == 0);
        for (int i = 0; i < n; i++) {
            rerank_encoding_t *a = &ref[i], *b = &jobs[t].out[i];
            if (a->n != b->n || (a->n && memcmp(a->ids, b->ids, a->n * sizeof(int32_t)))) mismatches++;
            rerank_encoding_free(b);
        }
        free(jobs[t].out);
    }
    CHECK_MSG(mismatches == 0, "%s: %d texts tokenized differently across threads", model, mismatches);
    printf("  %s: %d texts x %d threads, %d mismatches\n", model, n, N_THREADS, mismatches);
    for (int i = 0; i < n; i++) { rerank_encoding_free(&ref[i]); json_decref(objs[i]); }
    free(ref);
    rerank_tokenizer_free(tok);
}

TEST(xlmr_shared_across_threads) { run_model("tiny-xlmr", "tokenize-xlmr.jsonl"); }
TEST(bert_shared_across_threads) { run_model("tiny-bert", "tokenize-bert.jsonl"); }
/* byte-level BPE: the per-token memo is shared (atomics), the word caches are
 * per thread */
TEST(qwen3_shared_across_threads) { run_model("tiny-qwen3", "tokenize-qwen3.jsonl"); }
TEST(modernbert_shared_across_threads) { run_model("tiny-modernbert", "tokenize-modernbert.jsonl"); }

int main(void) {
    RUN(xlmr_shared_across_threads);
    RUN(bert_shared_across_threads);
    RUN(qwen3_shared_across_threads);
    RUN(modernbert_shared_across_threads);
    TEST_MAIN_END();
}
