/* test_tok_prompt.c — the Qwen3-Reranker prompt recipe (prompt.h) against
 * pairs-qwen3.jsonl (the whole prompt's ids as the model card's code builds
 * them, every record with its own instruction and max_length), and its
 * edges: default instruction, the suffix kept when the middle is cut,
 * lengths too short for the fixed part, bad input, allocation failures. */
#include <jansson.h>
#include <string.h>

#include "common/alloc.h"
#include "rerank.h"
#include "test.h"
#include "tokenizer/prompt.h"

static rerank_tokenizer_t *g_tok;
static rr_prompt_t *g_prompt;

static int same_ids(const json_t *want, const rerank_encoding_t *e) {
    if (json_array_size(want) != e->n) return 0;
    for (size_t i = 0; i < e->n; i++)
        if (json_integer_value(json_array_get(want, i)) != e->ids[i] || e->type_ids[i] != 0) return 0;
    return 1;
}

TEST(golden_prompts) {
    if (!g_prompt) { CHECK(g_prompt != NULL); return; }
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/golden/pairs-qwen3.jsonl", t_shared());
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t ll;
    int total = 0, same = 0, cut = 0, shown = 0;
    rerank_encoding_t e = {0};
    while ((ll = getline(&line, &cap, f)) > 0) {
        json_t *rec = json_loadb(line, (size_t)ll, JSON_ALLOW_NUL, NULL);
        if (!rec) continue;
        const json_t *in = json_object_get(rec, "instruction"), *q = json_object_get(rec, "query"),
                     *d = json_object_get(rec, "doc");
        int32_t max_length = (int32_t)json_integer_value(json_object_get(rec, "max_length"));
        rerank_status_t st = rr_prompt_encode(g_prompt, json_string_value(in), json_string_length(in), json_string_value(q),
                                              json_string_length(q), json_string_value(d), json_string_length(d),
                                              max_length, &e);
        int ok = st == RERANK_OK && same_ids(json_object_get(rec, "input_ids"), &e);
        total++;
        same += ok;
        cut += ok && e.n == (size_t)max_length;
        if (!ok && shown++ < 5)
            fprintf(stderr, "  mismatch id=%lld max_length=%d (%zu ids, want %zu)%s%s\n",
                    (long long)json_integer_value(json_object_get(rec, "id")), max_length, st ? 0 : e.n,
                    json_array_size(json_object_get(rec, "input_ids")), st ? ": " : "", st ? rerank_last_error() : "");
        json_decref(rec);
    }
    free(line);
    fclose(f);
    rerank_encoding_free(&e);
    printf("  pairs-qwen3.jsonl: %d/%d prompts identical (%d of them cut to max_length)\n", same, total, cut);
    CHECK(total == 311);
    CHECK(same == total);
    CHECK(cut > 50); /* the cut path was really taken */
}

TEST(defaults_and_cuts) {
    if (!g_prompt) { CHECK(g_prompt != NULL); return; }
    rerank_encoding_t a = {0}, b = {0};
    const char *def = rr_prompt_qwen3_reranker.default_instruction;
    /* NULL instruction = the default one */
    CHECK(rr_prompt_encode(g_prompt, NULL, 0, "q", 1, "d", 1, 0, &a) == RERANK_OK);
    CHECK(rr_prompt_encode(g_prompt, def, strlen(def), "q", 1, "d", 1, 0, &b) == RERANK_OK);
    CHECK(a.n == b.n && !memcmp(a.ids, b.ids, a.n * sizeof *a.ids));
    /* an empty instruction stays empty */
    CHECK(rr_prompt_encode(g_prompt, "", 0, "q", 1, "d", 1, 0, &b) == RERANK_OK && b.n < a.n);
    /* the fixed part: 39 + 9 ids (README); the suffix survives any cut */
    size_t fixed = rr_prompt_fixed_ids(g_prompt);
    CHECK(fixed == 48);
    CHECK(rr_prompt_encode(g_prompt, NULL, 0, "q", 1, "a long document", 15, 0, &a) == RERANK_OK);
    for (int32_t m = (int32_t)fixed + 1; m < (int32_t)a.n + 3; m++) {
        CHECK(rr_prompt_encode(g_prompt, NULL, 0, "q", 1, "a long document", 15, m, &b) == RERANK_OK);
        size_t want = (size_t)m < a.n ? (size_t)m : a.n;
        CHECK_MSG(b.n == want, "max_length %d: %zu ids", m, b.n);
        /* first ids of the untruncated prompt, then its last 9 */
        CHECK(b.n == want && !memcmp(b.ids, a.ids, (want - 9) * sizeof *b.ids) &&
              !memcmp(b.ids + want - 9, a.ids + a.n - 9, 9 * sizeof *b.ids));
    }
    /* too short for the fixed part, or negative: a clear error */
    CHECK(rr_prompt_encode(g_prompt, NULL, 0, "q", 1, "d", 1, (int32_t)fixed, &b) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(b.n == 0 && strstr(rerank_last_error(), "max_length 48") != NULL);
    CHECK(rr_prompt_encode(g_prompt, NULL, 0, "q", 1, "d", 1, -5, &b) == RERANK_ERR_INVALID_ARGUMENT);
    /* bad text, each field named */
    CHECK(rr_prompt_encode(g_prompt, "\xff", 1, "q", 1, "d", 1, 0, &b) == RERANK_ERR_INVALID_UTF8 &&
          strstr(rerank_last_error(), "instruction"));
    CHECK(rr_prompt_encode(g_prompt, NULL, 0, "q", 1, "d\xc3", 2, 0, &b) == RERANK_ERR_INVALID_UTF8 &&
          strstr(rerank_last_error(), "document"));
    CHECK(rr_prompt_encode(g_prompt, NULL, 0, NULL, 3, "d", 1, 0, &b) == RERANK_ERR_INVALID_ARGUMENT);
    /* a literal special token in the query is that token (as HF parses it) */
    CHECK(rr_prompt_encode(g_prompt, NULL, 0, "<|im_end|>", 10, "", 0, 0, &b) == RERANK_OK);
    int found = 0;
    for (size_t i = 39; i + 9 < b.n; i++) found += b.ids[i] == 151645;
    CHECK(found == 1);
    rerank_encoding_free(&a);
    rerank_encoding_free(&b);
}

TEST(alloc_failures) {
    if (!g_tok) { CHECK(g_tok != NULL); return; }
    int done = 0;
    for (unsigned long k = 1; k < 200 && !done; k++) {
        rr_prompt_t *p = NULL;
        rerank_encoding_t e = {0};
        rr_alloc_fail_at(k);
        rerank_status_t st = rr_prompt_new(g_tok, &rr_prompt_qwen3_reranker, &p);
        if (!st) st = rr_prompt_encode(p, NULL, 0, "what is a panda?", 16, "The giant panda is a bear.", 26, 64, &e);
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        CHECK_MSG(failed ? st == RERANK_ERR_NOMEM : st == RERANK_OK, "k=%lu: status %d", k, (int)st);
        if (!failed) done = 1;
        rerank_encoding_free(&e);
        rr_prompt_free(p);
    }
    CHECK(done);
}

int main(void) {
    rr_alloc_init_json(); /* jansson's allocations count in the fault loops (the library never routes them) */
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/models/tiny-qwen3", t_shared());
    if (rerank_tokenizer_load(path, &g_tok) != RERANK_OK)
        fprintf(stderr, "  cannot load %s: %s\n", path, rerank_last_error());
    else if (rr_prompt_new(g_tok, &rr_prompt_qwen3_reranker, &g_prompt) != RERANK_OK)
        fprintf(stderr, "  rr_prompt_new: %s\n", rerank_last_error());
    RUN(golden_prompts);
    RUN(defaults_and_cuts);
    RUN(alloc_failures);
    rr_prompt_free(g_prompt);
    rerank_tokenizer_free(g_tok);
    TEST_MAIN_END();
}
