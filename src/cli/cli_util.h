/* cli_util.h — helpers shared by the CLI subcommands: one option table per
 * command drives both its parsing and its --help, plus input and model
 * helpers. */
#ifndef RR_CLI_UTIL_H
#define RR_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/limits.h"
#include "rerank.h"

typedef enum rr_cli_kind {
    RR_CLI_STR,        /* dst: const char **, the last one given wins       */
    RR_CLI_LIST,       /* dst: rr_cli_list_t *, each occurrence appended     */
    RR_CLI_INT,        /* dst: int32_t *, in [lo, hi]                        */
    RR_CLI_FLAG,       /* dst: int *, set to 1; takes no value               */
    RR_CLI_TRUNCATION, /* dst: rerank_truncation_t *: flag|longest_first|none */
    RR_CLI_DIRECTION,  /* dst: rerank_trunc_direction_t *: right|left        */
} rr_cli_kind_t;

/* A repeatable option's values; `v` holds `cap` entries (the caller sizes it
 * by argc: an option cannot occur more often than that). */
typedef struct rr_cli_list {
    const char **v;
    int n, cap;
} rr_cli_list_t;

typedef struct rr_cli_opt {
    const char *name;  /* "--model"                                          */
    rr_cli_kind_t kind;
    void *dst;
    const char *arg;   /* metavariable shown by --help ("DIR"); NULL: flag    */
    const char *help;  /* description; '\n' starts another indented line     */
    long lo, hi;       /* RR_CLI_INT bounds                                  */
} rr_cli_opt_t;

typedef struct rr_cli_spec {
    const char *cmd;   /* "score"                                            */
    const char *usage; /* the synopsis after "usage: rerank CMD "            */
    const char *about; /* paragraph(s) after the synopsis (may be NULL)      */
    const rr_cli_opt_t *opts;
    size_t n_opts;
    const char *notes; /* text after the option list (may be NULL)           */
} rr_cli_spec_t;

/* The rows every model command shares (score, tokenize, bench). */
#define RR_CLI_OPT_MODEL(dst) \
    {"--model", RR_CLI_STR, (dst), "DIR", "model directory (config.json, model.safetensors, tokenizer.json)\nor Hub id ORG/NAME[@REV]", 0, 0}
#define RR_CLI_OPT_PRECISION(dst) \
    {"--precision", RR_CLI_STR, (dst), "P", "fp32 (default), bf16, int8 (CPU); fp16, fp8 (CUDA). Where the device has\nno such path it computes in another one and says so on stderr", 0, 0}
#define RR_CLI_OPT_THREADS(dst) \
    {"--threads", RR_CLI_INT, (dst), "N", "compute threads (default 0: all cores)", 0, 4096}
#define RR_CLI_OPT_DEVICE(dst) \
    {"--device", RR_CLI_STR, (dst), "D", "cpu (default), cuda or cuda:N (builds with make CUDA=1);\nenv RERANK_DEVICE, the flag wins", 0, 0}
#define RR_CLI_OPT_SHARED_PREFIX(dst) \
    {"--shared-prefix", RR_CLI_STR, (dst), "on|off", "causal (LLM) rerankers: compute the ids a batch's pairs share at the\nstart (the prompt up to the document) once (default on; env\nRERANK_SHARED_PREFIX, the flag wins); off: every pair in full", 0, 0}
#define RR_CLI_OPT_LAYERS(dst) \
    {"--layers", RR_CLI_INT, (dst), "N", "run only the first N encoder layers (early exit; default 0: all)", 0, RR_MAX_LAYERS}

/* Parse argv[1..argc) (argv[0] is the command name) with the table.
 * Returns 0 when parsed, 1 when --help was printed on stdout (exit 0), 2 on
 * a usage error (the message printed on stderr). */
int rr_cli_parse(const rr_cli_spec_t *spec, int argc, char **argv);
/* The --help text generated from the table. */
void rr_cli_help(FILE *f, const rr_cli_spec_t *spec);

/* Parse a decimal integer in [lo, hi]; on error print "rerank CMD: --flag
 * expects ..." to stderr and return -1. */
int rr_cli_int(const char *cmd, const char *flag, const char *s, long lo, long hi, int32_t *out);

/* Fetch the value of a flag at argv[*i] (advancing *i); prints an error and
 * returns NULL when it is missing. */
const char *rr_cli_value(const char *cmd, int argc, char **argv, int *i);

/* Open --input ("-" = stdin); prints "rerank CMD: cannot open F: reason"
 * and returns NULL on failure (a directory too: fopen takes it, and every
 * read then fails). Close with rr_cli_close. */
FILE *rr_cli_open_input(const char *cmd, const char *path);
void rr_cli_close(FILE *f);
/* After the last line: 1 (message printed) if reading f failed, which
 * rr_cli_getline reports as the end of the input; a half-read file must
 * not end as a success. */
int rr_cli_read_failed(const char *cmd, const char *path, FILE *f);

/* Read one line (without the newline) into a growing buffer. Returns the
 * length, -1 at EOF, -2 if the line exceeds max_bytes (the rest of the line
 * is consumed). The buffer is rr_malloc'd: rr_free it. */
long rr_cli_getline(FILE *f, char **buf, size_t *cap, size_t max_bytes);

/* The length of a UTF-8 byte order mark at the start of line[0..n) (3 or
 * 0). Editors on Windows (Notepad, Excel's "CSV UTF-8") start files with
 * one; JSON parsers refuse it, so the first line of a JSONL input skips it. */
size_t rr_cli_bom_len(const char *line, long n);

/* Write s[0..n) as a JSON string literal (with quotes) to f. */
void rr_cli_json_string(FILE *f, const char *s, size_t n);

/* Resolve --model: an existing directory (or file) as is, or a Hugging Face
 * repo id ORG/NAME[@REV] from the local HF cache, downloading it if absent.
 * Prints "rerank CMD: <error>" and returns -1 on failure. */
int rr_cli_model_dir(const char *cmd, const char *arg, char *out, size_t n);

/* Resolve `arg` and load the model with `mo` (mo->device from
 * rr_cli_device), then say on stderr what a user must know about it
 * (model_notes.h). Returns 0, or 1 after printing why it failed. */
int rr_cli_load_model(const char *cmd, const char *arg, const rerank_model_options_t *mo, rerank_model_t **out);

#endif
