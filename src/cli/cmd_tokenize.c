/* cmd_tokenize.c — `rerank tokenize`: token ids exactly as HF tokenizers.
 *
 * Input: JSONL (--input), one object per line, or --query Q --doc D flags:
 *   {"text": T}             -> {"ids": [...]}                      (no special tokens)
 *   {"query": Q, "doc": D}  -> {"input_ids": [...], "token_type_ids": [...]}
 *                              (the pair as the model scores it: special tokens, truncated)
 * With a model directory, pairs go through rerank_model_tokenize_pair (what
 * the model scores: its default length, its prompt for an LLM reranker;
 * a cross-encoder given --max-length above its positions goes through its
 * tokenizer at that length, as HF tokenizers would);
 * with a bare tokenizer.json, through rerank_tokenize_pair (default length
 * 512). A line that cannot be processed gives {"error": "..."} on that
 * output line (order is kept) and the command exits 1 at the end. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/instruction.h"
#include "cli/model_notes.h"
#include "common/alloc.h"
#include "common/limits.h"

typedef struct tok_args {
    const char *model, *input, *query, *instruction;
    rr_cli_list_t docs;
    int32_t max_length; /* -1: not given */
    rerank_pair_options_t po;
} tok_args_t;

/* Either a model (pairs as it scores them) or a bare tokenizer. */
typedef struct tok_source {
    rerank_model_t *model;
    rerank_tokenizer_t *tok;
    const rerank_tokenizer_t *use; /* the tokenizer texts go through */
    /* A cross-encoder asked for more than its positions: pairs go through
     * its tokenizer at exactly that length (as HF tokenizers with that
     * max_length), not capped as scoring caps them. */
    int beyond_positions;
} tok_source_t;

static void print_ids(const char *key, const int32_t *v, size_t n) {
    printf("\"%s\": [", key);
    for (size_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", v[i]);
    putchar(']');
}

static void print_error(const char *msg) {
    fprintf(stderr, "rerank tokenize: %s\n", msg);
    fputs("{\"error\": ", stdout);
    rr_cli_json_string(stdout, msg, strlen(msg));
    puts("}");
}

static rerank_status_t encode_pair(const tok_source_t *src, const char *q, size_t qn, const char *d, size_t dn,
                                   const rerank_pair_options_t *po, rerank_encoding_t *enc) {
    if (src->model && !src->beyond_positions) return rerank_model_tokenize_pair(src->model, q, qn, d, dn, po, enc);
    return rerank_tokenize_pair(src->use, q, qn, d, dn, po, enc);
}

/* Tokenize and print one pair; returns 0 or 1 (error line printed). */
static int print_pair(const tok_source_t *src, const char *q, size_t qn, const char *d, size_t dn,
                      const rerank_pair_options_t *po, rerank_encoding_t *enc, const char *where) {
    if (encode_pair(src, q, qn, d, dn, po, enc) != RERANK_OK) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s%s", where, rerank_last_error());
        print_error(msg);
        return 1;
    }
    putchar('{');
    print_ids("input_ids", enc->ids, enc->n);
    fputs(", ", stdout);
    print_ids("token_type_ids", enc->type_ids, enc->n);
    puts("}");
    return 0;
}

/* One JSONL line; returns 0 or 1 (error line printed). */
static int tokenize_line(const tok_source_t *src, const char *line, long n, long lineno,
                         const rerank_pair_options_t *po, rerank_encoding_t *enc) {
    char msg[1200], where[32];
    snprintf(where, sizeof where, "line %ld: ", lineno);
    if (n == -2) {
        snprintf(msg, sizeof msg, "%sline too long or out of memory", where);
        print_error(msg);
        return 1;
    }
    json_error_t jerr;
    json_t *obj = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &jerr);
    json_t *text = json_object_get(obj, "text"), *q = json_object_get(obj, "query"), *d = json_object_get(obj, "doc");
    int rc = 0;
    if (!json_is_object(obj)) {
        snprintf(msg, sizeof msg, "%sinvalid JSON object: %s", where, obj ? "not an object" : jerr.text);
        print_error(msg);
        rc = 1;
    } else if (json_is_string(text)) {
        if (rerank_tokenize(src->use, json_string_value(text), json_string_length(text), enc) != RERANK_OK) {
            snprintf(msg, sizeof msg, "%s%s", where, rerank_last_error());
            print_error(msg);
            rc = 1;
        } else {
            putchar('{');
            print_ids("ids", enc->ids, enc->n);
            puts("}");
        }
    } else if (json_is_string(q) && json_is_string(d)) {
        rerank_pair_options_t lpo;
        char why[96];
        if (rr_cli_line_instruction(obj, po, &lpo, why, sizeof why)) {
            snprintf(msg, sizeof msg, "%s%s", where, why);
            print_error(msg);
            rc = 1;
        } else {
            rc = print_pair(src, json_string_value(q), json_string_length(q), json_string_value(d),
                            json_string_length(d), &lpo, enc, where);
        }
    } else {
        snprintf(msg, sizeof msg, "%sexpected {\"text\": string} or {\"query\": string, \"doc\": string}", where);
        print_error(msg);
        rc = 1;
    }
    json_decref(obj);
    return rc;
}

static int tokenize_file(const tok_source_t *src, FILE *in, const char *path, const rerank_pair_options_t *po) {
    rerank_encoding_t enc = {0};
    char *line = NULL;
    size_t cap = 0;
    long n, lineno = 0;
    int failed = 0;
    while ((n = rr_cli_getline(in, &line, &cap, 2 * (size_t)RR_MAX_TEXT_BYTES + 4096)) != -1) {
        size_t skip = ++lineno == 1 ? rr_cli_bom_len(line, n) : 0;
        failed |= tokenize_line(src, line + skip, n - (long)skip, lineno, po, &enc);
    }
    rr_free(line);
    rerank_encoding_free(&enc);
    return failed | rr_cli_read_failed("tokenize", path, in);
}

static int tokenize_flags(const tok_source_t *src, const tok_args_t *a) {
    rerank_encoding_t enc = {0};
    int failed = 0;
    for (int i = 0; i < a->docs.n; i++)
        failed |= print_pair(src, a->query, strlen(a->query), a->docs.v[i], strlen(a->docs.v[i]), &a->po, &enc, "");
    rerank_encoding_free(&enc);
    return failed;
}

/* A directory with a config.json is a model; anything else a tokenizer
 * (a tokenizer.json, or a directory holding one). */
static int open_source(const char *arg, const tok_args_t *a, tok_source_t *src) {
    char path[4096], cfg[4200];
    struct stat st;
    if (rr_cli_model_dir("tokenize", arg, path, sizeof path)) return 1;
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && stat(cfg, &st) == 0) {
        rerank_model_options_t mo = rerank_model_options_default();
        mo.threads = 1;
        if (rerank_model_load(path, &mo, &src->model) != RERANK_OK) {
            fprintf(stderr, "rerank tokenize: %s\n", rerank_last_error());
            return 1;
        }
        rerank_model_info_t mi;
        rerank_model_get_info(src->model, &mi);
        src->use = rerank_model_tokenizer(src->model);
        if (rr_cli_check_instruction("tokenize", &mi, a->instruction)) return 2;
        src->beyond_positions = !mi.prompt[0] && a->po.max_length > mi.max_positions;
        if (src->beyond_positions)
            fprintf(stderr,
                    "rerank tokenize: --max-length %d is more than the model's %d positions: pairs are cut at %d "
                    "tokens here, but `rerank score` cuts them at %d\n",
                    (int)a->po.max_length, (int)mi.max_positions, (int)a->po.max_length, (int)mi.max_positions);
        else
            rr_cli_note_max_length("tokenize", &mi, a->po.max_length);
        return 0;
    }
    if (rerank_tokenizer_load(path, &src->tok) != RERANK_OK) {
        fprintf(stderr, "rerank tokenize: %s\n", rerank_last_error());
        return 1;
    }
    src->use = src->tok;
    if (a->instruction) {
        fprintf(stderr, "rerank tokenize: --instruction needs a model directory (only a model knows its prompt)\n");
        return 2;
    }
    return 0;
}

static const char k_about[] =
    "Print token ids exactly as Hugging Face tokenizers does, one JSON object per input:\n"
    "  {\"text\": T}            -> {\"ids\": [...]}  (T alone, no special tokens)\n"
    "  {\"query\": Q, \"doc\": D} -> {\"input_ids\": [...], \"token_type_ids\": [...]}  (the pair with its\n"
    "                           special tokens, truncated: what `rerank score` scores)\n"
    "--query Q --doc D gives the pair lines without a file. With a model directory pairs are\n"
    "tokenized as that model scores them (its default length); with a tokenizer.json as its\n"
    "template says (default length 512).";

int rr_cmd_tokenize(int argc, char **argv) {
    tok_args_t a = {.max_length = -1, .po = rerank_pair_options_default()};
    a.docs.cap = argc;
    a.docs.v = rr_calloc((size_t)argc + 1, sizeof *a.docs.v);
    if (!a.docs.v) { fprintf(stderr, "rerank tokenize: out of memory\n"); return 1; }
    const rr_cli_opt_t opts[] = {
        {"--model", RR_CLI_STR, &a.model, "DIR", "model directory (or Hub id), or the path of a tokenizer.json", 0, 0},
        {"--input", RR_CLI_STR, &a.input, "FILE", "JSONL input ('-' = stdin): {\"text\"} or {\"query\", \"doc\"} lines", 0, 0},
        {"--query", RR_CLI_STR, &a.query, "Q", "tokenize the pair (Q, D) for each --doc D", 0, 0},
        {"--doc", RR_CLI_LIST, &a.docs, "D", "a document (repeat --doc)", 0, 0},
        {"--max-length", RR_CLI_INT, &a.max_length, "N",
         "pair length cap in tokens (default: the model's, 512 for a tokenizer.json;\n0 = none; a model caps it at its positions)", 0, INT32_MAX},
        {"--truncation", RR_CLI_TRUNCATION, &a.po.truncation, "S",
         "flag (FlagEmbedding, default), longest_first (transformers) or none", 0, 0},
        {"--truncation-direction", RR_CLI_DIRECTION, &a.po.direction, "D",
         "right (default): cut the end of a too-long query/doc; left: cut its start", 0, 0},
        RR_CLI_OPT_INSTRUCTION(&a.instruction),
    };
    const rr_cli_spec_t spec = {"tokenize", "--model DIR (--input FILE.jsonl | --query Q --doc D [--doc D ...])\n[options]",
                                k_about, opts, sizeof opts / sizeof *opts, NULL};
    int rc = rr_cli_parse(&spec, argc, argv);
    if (rc) { rr_free(a.docs.v); return rc == 1 ? 0 : 2; }
    if (!a.model || !a.input == !a.query || (a.query && a.docs.n == 0) || (a.input && a.docs.n)) {
        fprintf(stderr, "rerank tokenize: need --model and either --input FILE or --query Q with --doc D "
                        "(rerank tokenize --help)\n");
        rr_free(a.docs.v);
        return 2;
    }
    /* --max-length 0: no truncation; not given: the model's default (0) for
     * a model, RR_DEFAULT_MAX_LENGTH for a bare tokenizer (set below). */
    if (a.max_length == 0) a.po.truncation = RERANK_TRUNC_NONE;
    a.po.max_length = a.max_length > 0 ? a.max_length : 0;
    rr_cli_set_instruction(&a.po, a.instruction);
    FILE *in = a.input ? rr_cli_open_input("tokenize", a.input) : NULL;
    tok_source_t src = {0};
    rc = a.input && !in ? 1 : open_source(a.model, &a, &src);
    if (!rc && !src.model && a.max_length < 0) a.po.max_length = RR_DEFAULT_MAX_LENGTH;
    if (!rc) rc = in ? tokenize_file(&src, in, a.input, &a.po) : tokenize_flags(&src, &a);
    rerank_model_free(src.model);
    rerank_tokenizer_free(src.tok);
    rr_cli_close(in);
    rr_free(a.docs.v);
    return rc;
}
