/* cmd_score.c — `rerank score`: one {"index": i, "score": s} line per pair,
 * in input order. Pairs come from --query/--doc flags or a JSONL file of
 * {"query", "doc"} lines; they are tokenized as the model scores them (its
 * default length unless --max-length) and scored in packed batches of up to
 * --batch-tokens tokens. With --long-docs chunk a long document is scored
 * in windows (rerank_model_window_pair), its score the best window's, and
 * the line names that window. A pair that cannot be scored gives
 * {"index": i, "error": "..."} and the command exits 1 at the end. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/instruction.h"
#include "cli/model_notes.h"
#include "common/alloc.h"
#include "common/limits.h"
#include "common/sigmoid.h"

#define MAX_BATCH_PAIRS 256
#define ERR_BYTES 256
#define MAX_LINE_BYTES (2 * (size_t)RR_MAX_TEXT_BYTES + 4096)

typedef struct score_args {
    const char *model, *input, *query, *precision, *device, *long_docs, *instruction, *shared_prefix;
    rr_cli_list_t docs;
    int32_t threads, batch_tokens;
    int normalize;
    rerank_score_options_t opts;
    rerank_long_options_t long_opts;
} score_args_t;

typedef struct batch {
    rerank_windows_t win[MAX_BATCH_PAIRS];      /* a pair's windows (1 unless chunked) */
    char err[MAX_BATCH_PAIRS][ERR_BYTES];      /* "" = tokenized fine        */
    char score_err[MAX_BATCH_PAIRS][ERR_BYTES]; /* "" = scored fine (flush)   */
    int n;                                      /* pairs pending              */
    size_t tokens;
    long first_index; /* input index of enc[0] */
} batch_t;

static void print_error(long index, const char *msg) {
    fprintf(stderr, "rerank score: pair %ld: %s\n", index, msg);
    printf("{\"index\": %ld, \"error\": ", index);
    rr_cli_json_string(stdout, msg, strlen(msg));
    puts("}");
}

/* The engine's message for a one-pair call starts "pair 0: ": the index
 * the user knows is printed in front of it instead. */
static void keep_error(char *dst, const char *msg) {
    if (!strncmp(msg, "pair 0: ", 8)) msg += 8;
    snprintf(dst, ERR_BYTES, "%s", msg);
}

/* The pending pairs' windows as one array: pair i's are [first[i], first[i + 1]). */
typedef struct flat {
    rerank_pair_t *pairs;
    float *scores;
    size_t first[MAX_BATCH_PAIRS + 1];
} flat_t;

static int flatten(batch_t *b, flat_t *f) {
    size_t n = 0;
    for (int i = 0; i < b->n; i++) {
        f->first[i] = n;
        if (!b->err[i][0]) n += b->win[i].n;
    }
    f->first[b->n] = n;
    f->pairs = rr_calloc(n ? n : 1, sizeof *f->pairs);
    f->scores = rr_calloc(n ? n : 1, sizeof *f->scores);
    if (!f->pairs || !f->scores) return -1;
    for (int i = 0; i < b->n; i++)
        for (size_t k = f->first[i]; k < f->first[i + 1]; k++) {
            const rerank_windows_t *w = &b->win[i];
            size_t j = k - f->first[i];
            f->pairs[k] = (rerank_pair_t){w->enc.ids + w->offset[j], w->enc.type_ids + w->offset[j], w->len[j]};
        }
    return 0;
}

/* Score and print the pending pairs; returns 1 if any pair failed. */
static int flush(rerank_model_t *model, batch_t *b, const rerank_score_options_t *opts, int chunked) {
    flat_t f = {0};
    int failed = 0;
    rerank_score_options_t raw = *opts;
    raw.normalize = 0; /* the best window is picked on logits */
    if (flatten(b, &f)) {
        for (int i = 0; i < b->n; i++)
            if (!b->err[i][0]) snprintf(b->err[i], ERR_BYTES, "out of memory");
    } else {
        /* One call for the whole batch; if it fails, score pair by pair so
         * that one bad pair does not take the others with it. */
        size_t n = f.first[b->n];
        for (int i = 0; i < b->n; i++) b->score_err[i][0] = 0;
        if (n && rerank_score_tokens(model, f.pairs, n, &raw, f.scores) != RERANK_OK)
            for (int i = 0; i < b->n; i++) {
                size_t a = f.first[i], m = f.first[i + 1] - a;
                if (m && rerank_score_tokens(model, f.pairs + a, m, &raw, f.scores + a) != RERANK_OK)
                    keep_error(b->score_err[i], rerank_last_error());
            }
    }
    for (int i = 0; i < b->n; i++) {
        long index = b->first_index + i;
        const char *err = b->err[i][0] ? b->err[i] : b->score_err[i];
        if (err[0]) {
            print_error(index, err);
            failed = 1;
        } else {
            /* the best window (the first of equals) */
            size_t best = f.first[i];
            for (size_t k = best + 1; k < f.first[i + 1]; k++)
                if (f.scores[k] > f.scores[best]) best = k;
            float score = opts->normalize ? rr_sigmoid(f.scores[best]) : f.scores[best];
            printf("{\"index\": %ld, \"score\": %.9g", index, (double)score);
            if (chunked) {
                const rerank_chunk_info_t *c = &b->win[i].chunks[best - f.first[i]];
                printf(", \"chunk\": %d, \"chunks\": %d, \"token_start\": %d, \"token_end\": %d, \"doc_tokens\": %d",
                       c->chunk, c->n_chunks, c->token_start, c->token_end, c->doc_tokens);
            }
            puts("}");
        }
        b->err[i][0] = 0;
    }
    fflush(stdout);
    rr_free(f.pairs);
    rr_free(f.scores);
    b->first_index += b->n;
    b->n = 0;
    b->tokens = 0;
    return failed;
}

/* Tokenize one pair into the batch (recording why it cannot be scored). */
static void add_pair(const rerank_model_t *model, batch_t *b, const char *q, size_t ql, const char *d, size_t dl,
                     const rerank_pair_options_t *po, const rerank_long_options_t *lo) {
    int i = b->n++;
    if (rerank_model_window_pair(model, q, ql, d, dl, po, lo, &b->win[i]) != RERANK_OK)
        snprintf(b->err[i], ERR_BYTES, "%s", rerank_last_error());
    else
        b->tokens += b->win[i].enc.n;
}

static int chunked(const score_args_t *a) { return a->long_opts.mode == RERANK_LONG_DOCS_CHUNK; }

static int full(const batch_t *b, const score_args_t *a) {
    return b->n == MAX_BATCH_PAIRS || b->tokens >= (size_t)a->batch_tokens;
}

/* The pairs of a JSONL file, scored as they come. */
static int score_lines(rerank_model_t *model, batch_t *b, FILE *in, const score_args_t *a) {
    char *line = NULL;
    size_t cap = 0;
    long n, lineno = 0;
    int rc = 0;
    while ((n = rr_cli_getline(in, &line, &cap, MAX_LINE_BYTES)) != -1) {
        size_t skip = ++lineno == 1 ? rr_cli_bom_len(line, n) : 0;
        json_error_t jerr = {.text = ""};
        json_t *obj = n >= 0 ? json_loadb(line + skip, (size_t)n - skip, JSON_ALLOW_NUL, &jerr) : NULL;
        json_t *q = json_object_get(obj, "query"), *d = json_object_get(obj, "doc");
        rerank_pair_options_t po;
        char why[96];
        if (json_is_string(q) && json_is_string(d) && rr_cli_line_instruction(obj, &a->opts.pair, &po, why, sizeof why))
            snprintf(b->err[b->n++], ERR_BYTES, "line %ld: %s", lineno, why);
        else if (json_is_string(q) && json_is_string(d))
            add_pair(model, b, json_string_value(q), json_string_length(q), json_string_value(d),
                     json_string_length(d), &po, &a->long_opts);
        else if (n < 0)
            snprintf(b->err[b->n++], ERR_BYTES, "line %ld: line too long (more than %zu bytes) or out of memory",
                     lineno, MAX_LINE_BYTES);
        else /* jansson's reason, when it has one: invalid UTF-8 is not a missing field */
            snprintf(b->err[b->n++], ERR_BYTES, "line %ld: expected a JSON object {\"query\": string, \"doc\": string}%s%s",
                     lineno, obj ? "" : ": ", obj ? "" : jerr.text);
        json_decref(obj);
        if (full(b, a)) rc |= flush(model, b, &a->opts, chunked(a));
    }
    rr_free(line);
    return rc | rr_cli_read_failed("score", a->input, in);
}

static int score_flags(rerank_model_t *model, batch_t *b, const score_args_t *a) {
    int rc = 0;
    for (int i = 0; i < a->docs.n; i++) {
        add_pair(model, b, a->query, strlen(a->query), a->docs.v[i], strlen(a->docs.v[i]), &a->opts.pair, &a->long_opts);
        if (full(b, a)) rc |= flush(model, b, &a->opts, chunked(a));
    }
    return rc;
}

static const char k_about[] =
    "Score (query, document) pairs: one {\"index\": i, \"score\": s} line per pair on stdout, in input\n"
    "order. Scores are the model's raw logits (the server returns sigmoid(logit) unless asked for raw\n"
    "scores; --normalize prints it here). A pair that cannot be scored gives {\"index\": i, \"error\": ...}\n"
    "(also on stderr) and the exit status is 1.";

/* Parse argv into *a; returns -1 to go on, else the exit status (0 after
 * --help). */
static int parse(int argc, char **argv, score_args_t *a) {
    const rr_cli_opt_t opts[] = {
        RR_CLI_OPT_MODEL(&a->model),
        {"--input", RR_CLI_STR, &a->input, "FILE", "JSONL of {\"query\": ..., \"doc\": ...} lines ('-' = stdin;\n"
         "an \"instruction\" field overrides --instruction)", 0, 0},
        {"--query", RR_CLI_STR, &a->query, "Q", "score Q against each --doc D", 0, 0},
        {"--doc", RR_CLI_LIST, &a->docs, "D", "a document (repeat --doc)", 0, 0},
        {"--max-length", RR_CLI_INT, &a->opts.pair.max_length, "N",
         "pair length cap in tokens, special tokens included (default: the model's,\n512 for cross-encoders; "
         "capped at its positions)", 1, RR_MAX_SEQ_TOKENS},
        {"--truncation", RR_CLI_TRUNCATION, &a->opts.pair.truncation, "S",
         "flag (FlagEmbedding, default), longest_first (transformers) or none\n(a pair over the model's positions "
         "is an error)", 0, 0},
        {"--truncation-direction", RR_CLI_DIRECTION, &a->opts.pair.direction, "D",
         "right (default): cut the end of a too-long query/doc; left: cut its start", 0, 0},
        RR_CLI_OPT_INSTRUCTION(&a->instruction),
        RR_CLI_OPT_LAYERS(&a->opts.layers),
        {"--normalize", RR_CLI_FLAG, &a->normalize, NULL, "print sigmoid(logit) instead of the raw logit", 0, 0},
        RR_CLI_OPT_THREADS(&a->threads),
        RR_CLI_OPT_PRECISION(&a->precision),
        RR_CLI_OPT_DEVICE(&a->device),
        RR_CLI_OPT_SHARED_PREFIX(&a->shared_prefix),
        {"--batch-tokens", RR_CLI_INT, &a->batch_tokens, "N", "tokens per packed batch (default 8192)", 1, 1 << 24},
        {"--long-docs", RR_CLI_STR, &a->long_docs, "M",
         "truncate (default): a long document is cut to --max-length; chunk: it is\nscored in windows of its tokens, "
         "its score the best window's (the line\nadds \"chunk\", \"chunks\", its \"token_start\"/\"token_end\" "
         "and \"doc_tokens\")", 0, 0},
        {"--chunk-tokens", RR_CLI_INT, &a->long_opts.chunk_tokens, "N",
         "document tokens per window (default 0: all the room the query leaves)", 0, RR_MAX_SEQ_TOKENS},
        {"--chunk-overlap", RR_CLI_INT, &a->long_opts.chunk_overlap, "N",
         "tokens two neighbouring windows share (default 0; below the window)", 0, RR_MAX_SEQ_TOKENS},
        {"--max-chunks-per-doc", RR_CLI_INT, &a->long_opts.max_chunks_per_doc, "K",
         "score at most K windows of a document, the rest is not scored\n(default 0: no bound)", 0, 1 << 20},
        {"--max-tokens-per-doc", RR_CLI_INT, &a->long_opts.max_tokens_per_doc, "N",
         "cut every document to N tokens first, either mode (default 0: no cut)", 0, RR_MAX_TEXT_BYTES},
    };
    const rr_cli_spec_t spec = {"score", "--model DIR (--input FILE.jsonl | --query Q --doc D [--doc D ...])\n[options]",
                                k_about, opts, sizeof opts / sizeof *opts, NULL};
    int rc = rr_cli_parse(&spec, argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    if (!a->model || (!a->input && !a->query) || (a->input && a->query) || (a->query && a->docs.n == 0) ||
        (a->input && a->docs.n)) {
        fprintf(stderr, "rerank score: need --model and either --input FILE or --query Q with --doc D "
                        "(rerank score --help)\n");
        return 2;
    }
    a->opts.normalize = a->normalize;
    if (a->long_docs && !strcmp(a->long_docs, "chunk")) a->long_opts.mode = RERANK_LONG_DOCS_CHUNK;
    else if (a->long_docs && strcmp(a->long_docs, "truncate")) {
        fprintf(stderr, "rerank score: --long-docs expects truncate or chunk, got '%s'\n", a->long_docs);
        return 2;
    }
    if (!chunked(a) && (a->long_opts.chunk_tokens || a->long_opts.chunk_overlap || a->long_opts.max_chunks_per_doc)) {
        fprintf(stderr, "rerank score: --chunk-tokens, --chunk-overlap and --max-chunks-per-doc need --long-docs chunk\n");
        return 2;
    }
    if (a->long_opts.chunk_tokens && a->long_opts.chunk_overlap >= a->long_opts.chunk_tokens) {
        fprintf(stderr, "rerank score: --chunk-overlap %d must be below --chunk-tokens %d\n", a->long_opts.chunk_overlap,
                a->long_opts.chunk_tokens);
        return 2;
    }
    rr_cli_set_instruction(&a->opts.pair, a->instruction);
    return -1;
}

int rr_cmd_score(int argc, char **argv) {
    score_args_t a = {.precision = "fp32",
                      .batch_tokens = 8192,
                      .opts = rerank_score_options_default(),
                      .long_opts = rerank_long_options_default()};
    a.docs.cap = argc;
    a.docs.v = rr_calloc((size_t)argc + 1, sizeof *a.docs.v);
    if (!a.docs.v) { fprintf(stderr, "rerank score: out of memory\n"); return 1; }
    rerank_model_options_t mo = rerank_model_options_default();
    int rc = parse(argc, argv, &a);
    if (rc < 0 && rerank_precision_parse(a.precision, &mo.precision) != RERANK_OK) {
        fprintf(stderr, "rerank score: --precision: %s\n", rerank_last_error());
        rc = 2;
    }
    if (rc < 0 && rr_cli_device("score", a.device, &mo.device)) rc = 2;
    if (rc < 0 && rr_cli_shared_prefix("score", a.shared_prefix, &mo.shared_prefix)) rc = 2;
    FILE *in = NULL;
    if (rc < 0 && a.input && !(in = rr_cli_open_input("score", a.input))) rc = 1;
    rerank_model_t *model = NULL;
    mo.threads = a.threads;
    if (rc < 0 && rr_cli_load_model("score", a.model, &mo, &model)) rc = 1;
    if (rc < 0) {
        rerank_model_info_t mi;
        rerank_model_get_info(model, &mi);
        if (rr_cli_check_layers("score", &mi, a.opts.layers) || rr_cli_check_instruction("score", &mi, a.instruction))
            rc = 2;
        else rr_cli_note_max_length("score", &mi, a.opts.pair.max_length);
    }
    batch_t *b = rc < 0 ? rr_calloc(1, sizeof *b) : NULL;
    if (rc < 0 && !b) {
        fprintf(stderr, "rerank score: out of memory\n");
        rc = 1;
    }
    if (rc < 0) {
        rc = a.query ? score_flags(model, b, &a) : score_lines(model, b, in, &a);
        if (b->n) rc |= flush(model, b, &a.opts, chunked(&a));
        for (int i = 0; i < MAX_BATCH_PAIRS; i++) rerank_windows_free(&b->win[i]);
    }
    rr_free(b);
    rerank_model_free(model);
    rr_cli_close(in);
    rr_free(a.docs.v);
    return rc;
}
