/* cmd_tokenize.c — `rerank tokenize`: token ids exactly as HF tokenizers.
 *
 * Input JSONL, one object per line:
 *   {"text": T}             -> {"ids": [...]}                      (no special tokens)
 *   {"query": Q, "doc": D}  -> {"input_ids": [...], "token_type_ids": [...]}
 * A line that cannot be processed gives {"error": "..."} on that output line
 * (order is kept) and the command exits 1 at the end. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "common/limits.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: rerank tokenize --model DIR --input FILE.jsonl [--max-length N]\n"
            "                       [--truncation flag|longest_first] [--truncation-direction right|left]\n\n"
            "  --model DIR        model directory (or tokenizer.json path)\n"
            "  --input FILE       JSONL input ('-' = stdin); lines {\"text\"} or {\"query\",\"doc\"}\n"
            "  --max-length N     pair length cap in tokens (default 512; 0 = none)\n"
            "  --truncation S     flag (FlagEmbedding, default) or longest_first (transformers)\n"
            "  --truncation-direction D\n"
            "                     right (default): cut the end of a too-long query/doc; left: cut its start\n");
}

static void print_ids(const char *key, const int32_t *v, size_t n) {
    printf("\"%s\": [", key);
    for (size_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", v[i]);
    putchar(']');
}

static void print_error(const char *msg) {
    fputs("{\"error\": ", stdout);
    rr_cli_json_string(stdout, msg, strlen(msg));
    puts("}");
}

int rr_cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *input = NULL;
    rerank_pair_options_t po = rerank_pair_options_default();
    po.max_length = RR_DEFAULT_MAX_LENGTH;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!strcmp(a, "--model")) { if (!(model = rr_cli_value("tokenize", argc, argv, &i))) return 2; }
        else if (!strcmp(a, "--input")) { if (!(input = rr_cli_value("tokenize", argc, argv, &i))) return 2; }
        else if (!strcmp(a, "--max-length")) {
            /* a tokenizer alone has no positions to cap the length at */
            if (!(v = rr_cli_value("tokenize", argc, argv, &i)) ||
                rr_cli_int("tokenize", a, v, 0, INT32_MAX, &po.max_length)) return 2;
        } else if (!strcmp(a, "--truncation")) {
            if (!(v = rr_cli_value("tokenize", argc, argv, &i)) || rr_cli_truncation("tokenize", v, &po.truncation))
                return 2;
        } else if (!strcmp(a, "--truncation-direction")) {
            if (!(v = rr_cli_value("tokenize", argc, argv, &i)) || rr_cli_direction("tokenize", v, &po.direction))
                return 2;
        } else {
            fprintf(stderr, "rerank tokenize: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!model || !input) {
        fprintf(stderr, "rerank tokenize: --model and --input are required\n");
        usage(stderr);
        return 2;
    }
    FILE *in = strcmp(input, "-") ? fopen(input, "rb") : stdin;
    if (!in) { fprintf(stderr, "rerank tokenize: cannot open %s\n", input); return 1; }
    rerank_tokenizer_t *tok = NULL;
    char resolved[4096];
    if (rr_cli_model_dir("tokenize", model, resolved, sizeof resolved)) {
        if (in != stdin) fclose(in);
        return 1;
    }
    if (rerank_tokenizer_load(resolved, &tok) != RERANK_OK) {
        fprintf(stderr, "rerank tokenize: %s\n", rerank_last_error());
        if (in != stdin) fclose(in);
        return 1;
    }
    rerank_encoding_t enc = {0};
    char *line = NULL, msg[1200];
    size_t cap = 0;
    long n, lineno = 0;
    int failed = 0;
    while ((n = rr_cli_getline(in, &line, &cap, 2 * (size_t)RR_MAX_TEXT_BYTES + 4096)) != -1) {
        lineno++;
        if (n == -2) {
            snprintf(msg, sizeof msg, "line %ld: line too long or out of memory", lineno);
            goto bad;
        }
        json_error_t jerr;
        json_t *obj = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &jerr);
        if (!obj || !json_is_object(obj)) {
            snprintf(msg, sizeof msg, "line %ld: invalid JSON object: %s", lineno, obj ? "not an object" : jerr.text);
            json_decref(obj);
            goto bad;
        }
        json_t *text = json_object_get(obj, "text"), *q = json_object_get(obj, "query"),
               *d = json_object_get(obj, "doc");
        rerank_status_t st;
        if (json_is_string(text)) {
            st = rerank_tokenize(tok, json_string_value(text), json_string_length(text), &enc);
            if (st == RERANK_OK) { putchar('{'); print_ids("ids", enc.ids, enc.n); puts("}"); }
        } else if (json_is_string(q) && json_is_string(d)) {
            st = rerank_tokenize_pair(tok, json_string_value(q), json_string_length(q), json_string_value(d),
                                      json_string_length(d), &po, &enc);
            if (st == RERANK_OK) {
                putchar('{');
                print_ids("input_ids", enc.ids, enc.n);
                fputs(", ", stdout);
                print_ids("token_type_ids", enc.type_ids, enc.n);
                puts("}");
            }
        } else {
            json_decref(obj);
            snprintf(msg, sizeof msg, "line %ld: expected {\"text\": string} or {\"query\": string, \"doc\": string}", lineno);
            goto bad;
        }
        json_decref(obj);
        if (st == RERANK_OK) continue;
        snprintf(msg, sizeof msg, "line %ld: %s", lineno, rerank_last_error());
    bad:
        fprintf(stderr, "rerank tokenize: %s\n", msg);
        print_error(msg);
        failed = 1;
    }
    free(line);
    rerank_encoding_free(&enc);
    rerank_tokenizer_free(tok);
    if (in != stdin) fclose(in);
    return failed;
}
