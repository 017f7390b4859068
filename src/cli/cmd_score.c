/* cmd_score.c — `rerank score`: one {"index": i, "score": s} line per pair,
 * in input order. Pairs come from --query/--doc flags or a JSONL file of
 * {"query", "doc"} lines; they are tokenized and scored in packed batches of
 * up to --batch-tokens tokens. A line that cannot be scored gives
 * {"index": i, "error": "..."} and the command exits 1 at the end. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "common/limits.h"

#define MAX_BATCH_PAIRS 256

static void usage(FILE *f) {
    fprintf(f,
            "usage: rerank score --model DIR (--input FILE.jsonl | --query Q --doc D [--doc D ...])\n"
            "                    [--max-length N] [--truncation flag|longest_first]\n"
            "                    [--truncation-direction right|left] [--layers N]\n"
            "                    [--normalize] [--threads N] [--precision fp32|bf16|int8]\n"
            "                    [--batch-tokens N]\n\n"
            "  --model DIR        Hugging Face model directory (config.json, model.safetensors, tokenizer.json)\n"
            "  --input FILE       JSONL of {\"query\": ..., \"doc\": ...} lines ('-' = stdin)\n"
            "  --query Q --doc D  score Q against each D (repeat --doc)\n"
            "  --max-length N     pair length cap in tokens (default 512)\n"
            "  --truncation S     flag (FlagEmbedding, default) or longest_first (transformers)\n"
            "  --truncation-direction D\n"
            "                     right (default): cut the end of a too-long query/doc; left: cut its start\n"
            "  --layers N         run only the first N encoder layers (early exit; default all)\n"
            "  --normalize        print sigmoid(logit) instead of the raw logit\n"
            "  --threads N        worker threads (default: all cores)\n"
            "  --precision P      fp32 (default), bf16 or int8\n"
            "  --batch-tokens N   tokens per packed batch (default 8192)\n");
}

typedef struct {
    rerank_encoding_t enc[MAX_BATCH_PAIRS];
    char *err[MAX_BATCH_PAIRS]; /* NULL = tokenized fine */
    int n;                      /* pairs pending */
    size_t tokens;
    long first_index; /* input index of enc[0] */
} batch_t;

static void print_error(long index, const char *msg) {
    fprintf(stderr, "rerank score: pair %ld: %s\n", index, msg);
    printf("{\"index\": %ld, \"error\": ", index);
    rr_cli_json_string(stdout, msg, strlen(msg));
    puts("}");
}

/* Score and print the pending pairs; returns 1 if any pair failed. */
static int flush(rerank_model_t *model, batch_t *b, const rerank_score_options_t *opts) {
    rerank_pair_t pairs[MAX_BATCH_PAIRS];
    float scores[MAX_BATCH_PAIRS];
    int n_ok = 0, failed = 0;
    for (int i = 0; i < b->n; i++)
        if (!b->err[i])
            pairs[n_ok++] = (rerank_pair_t){b->enc[i].ids, b->enc[i].type_ids, (int32_t)b->enc[i].n};
    /* One call for the whole batch; if it fails, score pair by pair so that
     * one bad pair does not take the others with it. */
    char *pair_err[MAX_BATCH_PAIRS] = {0};
    if (n_ok && rerank_score_tokens(model, pairs, (size_t)n_ok, opts, scores) != RERANK_OK) {
        for (int k = 0; k < n_ok; k++)
            if (rerank_score_tokens(model, &pairs[k], 1, opts, &scores[k]) != RERANK_OK)
                pair_err[k] = strdup(rerank_last_error());
    }
    for (int i = 0, k = 0; i < b->n; i++) {
        long index = b->first_index + i;
        if (b->err[i]) { print_error(index, b->err[i]); failed = 1; free(b->err[i]); b->err[i] = NULL; continue; }
        if (pair_err[k]) { print_error(index, pair_err[k]); failed = 1; free(pair_err[k]); }
        else printf("{\"index\": %ld, \"score\": %.9g}\n", index, (double)scores[k]);
        k++;
    }
    fflush(stdout);
    b->first_index += b->n;
    b->n = 0;
    b->tokens = 0;
    return failed;
}

/* Tokenize one pair into the batch (recording an error message on failure). */
static void add_pair(const rerank_tokenizer_t *tok, batch_t *b, const char *q, size_t ql, const char *d,
                     size_t dl, const rerank_score_options_t *o) {
    int i = b->n++;
    if (rerank_tokenize_pair_ex(tok, q, ql, d, dl, o->max_length, o->truncation, o->direction, &b->enc[i]) !=
        RERANK_OK)
        b->err[i] = strdup(rerank_last_error());
    else
        b->tokens += b->enc[i].n;
}

static void add_error(batch_t *b, const char *msg) { b->err[b->n++] = strdup(msg); }

int rr_cmd_score(int argc, char **argv) {
    const char *model_dir = NULL, *input = NULL, *query = NULL, *prec = "fp32";
    const char **docs = calloc((size_t)argc + 1, sizeof *docs);
    int n_docs = 0, rc = 0;
    int32_t batch_tokens = 8192, threads = 0;
    rerank_score_options_t opts = rerank_score_options_default();
    if (!docs) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); free(docs); return 0; }
        if (!strcmp(a, "--normalize")) { opts.normalize = 1; continue; }
        if (strncmp(a, "--", 2) || !(v = rr_cli_value("score", argc, argv, &i))) {
            if (!v && !strncmp(a, "--", 2)) { free(docs); return 2; }
            fprintf(stderr, "rerank score: unexpected argument '%s'\n", a);
            usage(stderr);
            free(docs);
            return 2;
        }
        int bad = 0;
        if (!strcmp(a, "--model")) model_dir = v;
        else if (!strcmp(a, "--input")) input = v;
        else if (!strcmp(a, "--query")) query = v;
        else if (!strcmp(a, "--doc")) docs[n_docs++] = v;
        else if (!strcmp(a, "--precision")) prec = v;
        else if (!strcmp(a, "--max-length")) bad = rr_cli_int("score", a, v, 1, RR_MAX_SEQ_TOKENS, &opts.max_length);
        else if (!strcmp(a, "--layers")) bad = rr_cli_int("score", a, v, 0, RR_MAX_LAYERS, &opts.layers);
        else if (!strcmp(a, "--threads")) bad = rr_cli_int("score", a, v, 0, RR_MAX_THREADS, &threads);
        else if (!strcmp(a, "--batch-tokens")) bad = rr_cli_int("score", a, v, 1, 1 << 24, &batch_tokens);
        else if (!strcmp(a, "--truncation")) bad = rr_cli_truncation("score", v, &opts.truncation);
        else if (!strcmp(a, "--truncation-direction")) bad = rr_cli_direction("score", v, &opts.direction);
        else { fprintf(stderr, "rerank score: unknown option '%s'\n", a); usage(stderr); bad = 1; }
        if (bad) { free(docs); return 2; }
    }
    rerank_model_options_t mopts = rerank_model_options_default();
    mopts.threads = threads;
    if (rerank_precision_parse(prec, &mopts.precision) != 0) {
        fprintf(stderr, "rerank score: --precision expects fp32, bf16 or int8, got '%s'\n", prec);
        free(docs);
        return 2;
    }
    if (!model_dir || (!input && !query) || (input && query) || (query && n_docs == 0)) {
        fprintf(stderr, "rerank score: need --model and either --input FILE or --query Q with --doc D\n");
        usage(stderr);
        free(docs);
        return 2;
    }
    FILE *in = NULL;
    if (input && !(in = strcmp(input, "-") ? fopen(input, "rb") : stdin)) {
        fprintf(stderr, "rerank score: cannot open %s\n", input);
        free(docs);
        return 1;
    }
    rerank_model_t *model = NULL;
    char resolved[4096];
    if (rr_cli_model_dir("score", model_dir, resolved, sizeof resolved)) {
        if (in && in != stdin) fclose(in);
        free(docs);
        return 1;
    }
    if (rerank_model_load(resolved, &mopts, &model) != RERANK_OK) {
        fprintf(stderr, "rerank score: %s\n", rerank_last_error());
        if (in && in != stdin) fclose(in);
        free(docs);
        return 1;
    }
    const rerank_tokenizer_t *tok = rerank_model_tokenizer(model);
    batch_t *b = calloc(1, sizeof *b);
    if (!b) { rerank_model_free(model); free(docs); return 1; }
    if (query) {
        for (int i = 0; i < n_docs; i++) {
            add_pair(tok, b, query, strlen(query), docs[i], strlen(docs[i]), &opts);
            if (b->n == MAX_BATCH_PAIRS || b->tokens >= (size_t)batch_tokens) rc |= flush(model, b, &opts);
        }
    } else {
        char *line = NULL, msg[256];
        size_t cap = 0;
        long n, lineno = 0;
        while ((n = rr_cli_getline(in, &line, &cap, 2 * (size_t)RR_MAX_TEXT_BYTES + 4096)) != -1) {
            lineno++;
            json_t *obj = n >= 0 ? json_loadb(line, (size_t)n, JSON_ALLOW_NUL, NULL) : NULL;
            json_t *q = json_object_get(obj, "query"), *d = json_object_get(obj, "doc");
            if (json_is_string(q) && json_is_string(d)) {
                add_pair(tok, b, json_string_value(q), json_string_length(q), json_string_value(d),
                         json_string_length(d), &opts);
            } else if (n < 0) {
                snprintf(msg, sizeof msg, "line %ld: line too long (more than %zu bytes) or out of memory", lineno,
                         2 * (size_t)RR_MAX_TEXT_BYTES + 4096);
                add_error(b, msg);
            } else {
                snprintf(msg, sizeof msg, "line %ld: expected a JSON object {\"query\": string, \"doc\": string}",
                         lineno);
                add_error(b, msg);
            }
            json_decref(obj);
            if (b->n == MAX_BATCH_PAIRS || b->tokens >= (size_t)batch_tokens) rc |= flush(model, b, &opts);
        }
        free(line);
    }
    if (b->n) rc |= flush(model, b, &opts);
    for (int i = 0; i < MAX_BATCH_PAIRS; i++) rerank_encoding_free(&b->enc[i]);
    free(b);
    rerank_model_free(model);
    if (in && in != stdin) fclose(in);
    free(docs);
    return rc;
}
