/* test_tok_cli.c — the pair-truncation golden (pairs-truncation.jsonl)
 * through the CLI contract: `rerank tokenize --model M/tokenizer.json --input F --truncation
 * longest_first --max-length N` on {"query","doc"} lines must print the
 * golden {"input_ids","token_type_ids"} for every record without a note;
 * noted records (max_length below the special tokens: HF's unsigned
 * subtraction wraps and the sides stay as their early exit left them) too,
 * but at max_length 0 ("no limit" here) the pair comes out whole.
 * Both with the tokenizer alone and with the model directory (a cross-encoder
 * asked for more than its positions tokenizes at that length: tokenize is the
 * tokenizer's contract; only scoring caps). Records are grouped by
 * (tokenizer, max_length): one CLI run per group. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_proc.h"
#include "test.h"

static char g_build[1024];
static const char *g_src = "/tokenizer.json"; /* after tiny-X: the tokenizer alone, or "" (the model) */

typedef struct {
    json_t *recs[512];
    size_t n;
    const char *tok;
    long max_length;
} group_t;

#define OUT_CAP (64u << 20)

/* Run one group through the CLI and compare line by line. */
static void run_group(const group_t *g, char *out, int *same, int *plain, int *noted_ok, int *noted) {
    char in_path[] = "/tmp/rr_tok_cli_XXXXXX";
    int fd = mkstemp(in_path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    for (size_t i = 0; i < g->n; i++) {
        json_t *line = json_pack("{s:O,s:O}", "query", json_object_get(g->recs[i], "query"), "doc",
                                 json_object_get(g->recs[i], "doc"));
        char *s = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
        fprintf(f, "%s\n", s);
        free(s);
        json_decref(line);
    }
    fclose(f);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s/rerank tokenize --model %s/fixtures/models/tiny-%s%s --input %s --truncation longest_first "
             "--max-length %ld 2>/dev/null",
             g_build, t_shared(), g->tok, g_src, in_path, g->max_length);
    int rc = sp_run(cmd, out, OUT_CAP);
    unlink(in_path);
    char *p = out;
    for (size_t i = 0; i < g->n; i++) {
        char *nl = p ? strchr(p, '\n') : NULL;
        json_t *got = nl ? json_loadb(p, (size_t)(nl - p), 0, NULL) : NULL;
        p = nl ? nl + 1 : NULL;
        const json_t *rec = g->recs[i];
        int ok;
        if (json_object_get(rec, "note")) {
            (*noted)++;
            /* max_length 0 is "no limit" here: the pair comes out whole */
            ok = g->max_length == 0 ? json_array_size(json_object_get(got, "input_ids")) >=
                                          json_array_size(json_object_get(rec, "input_ids"))
                                    : json_equal(json_object_get(got, "input_ids"), json_object_get(rec, "input_ids")) &&
                                          json_equal(json_object_get(got, "token_type_ids"),
                                                     json_object_get(rec, "token_type_ids"));
            *noted_ok += ok;
        } else {
            (*plain)++;
            ok = json_equal(json_object_get(got, "input_ids"), json_object_get(rec, "input_ids")) &&
                 json_equal(json_object_get(got, "token_type_ids"), json_object_get(rec, "token_type_ids"));
            *same += ok;
        }
        if (!ok)
            fprintf(stderr, "  %s max_length %ld record id=%lld differs (exit %d)\n", g->tok, g->max_length,
                    (long long)json_integer_value(json_object_get(rec, "id")), rc);
        json_decref(got);
    }
    CHECK_MSG(rc == 0, "%s max_length %ld: exit %d", g->tok, g->max_length, rc);
}

static void truncation_golden_cli(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/golden/pairs-truncation.jsonl", t_shared());
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f) return;
    static group_t groups[1024];
    size_t ng = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t ll;
    int total = 0;
    while ((ll = getline(&line, &cap, f)) > 0) {
        json_t *rec = json_loadb(line, (size_t)ll, JSON_ALLOW_NUL, NULL);
        if (!rec) continue;
        total++;
        const char *tok = json_string_value(json_object_get(rec, "tokenizer"));
        long ml = (long)json_integer_value(json_object_get(rec, "max_length"));
        size_t g = 0;
        while (g < ng && !(groups[g].max_length == ml && !strcmp(groups[g].tok, tok))) g++;
        if (g == ng) {
            if (ng == sizeof groups / sizeof *groups) { json_decref(rec); CHECK(0); break; }
            groups[ng].tok = !strcmp(tok, "bert") ? "bert" : "xlmr";
            groups[ng].max_length = ml;
            groups[ng].n = 0;
            ng++;
        }
        if (groups[g].n == sizeof groups[g].recs / sizeof *groups[g].recs) { json_decref(rec); CHECK(0); continue; }
        groups[g].recs[groups[g].n++] = rec;
    }
    free(line);
    fclose(f);
    char *out = malloc(OUT_CAP);
    int same = 0, plain = 0, noted_ok = 0, noted = 0;
    for (size_t g = 0; out && g < ng; g++) run_group(&groups[g], out, &same, &plain, &noted_ok, &noted);
    free(out);
    for (size_t g = 0; g < ng; g++)
        for (size_t i = 0; i < groups[g].n; i++) json_decref(groups[g].recs[i]);
    printf("rerank tokenize --model tiny-X%s on pairs-truncation.jsonl (%zu CLI runs): %d/%d identical; noted records %d/%d "
           "identical (or, at max_length 0, no truncation)\n", g_src, ng, same, plain, noted_ok, noted);
    CHECK(total == 707 && plain == 686 && noted == 21);
    CHECK(same == plain);
    CHECK(noted_ok == noted);
}

TEST(truncation_golden_tokenizer) { g_src = "/tokenizer.json"; truncation_golden_cli(); }
TEST(truncation_golden_model) { g_src = ""; truncation_golden_cli(); }

int main(int argc, char **argv) {
    (void)argc;
    sp_build_dir(argv[0], g_build, sizeof g_build);
    RUN(truncation_golden_tokenizer);
    RUN(truncation_golden_model);
    TEST_MAIN_END();
}
