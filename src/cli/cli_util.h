/* cli_util.h — small helpers shared by the CLI subcommands. */
#ifndef RR_CLI_UTIL_H
#define RR_CLI_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "rerank.h"

/* Parse a decimal integer in [lo, hi]; on error print "rerank CMD: --flag
 * expects ..." to stderr and return -1. */
int rr_cli_int(const char *cmd, const char *flag, const char *s, long lo, long hi, int32_t *out);

/* Fetch the value of a flag at argv[*i] (advancing *i); prints an error and
 * returns NULL when it is missing. */
const char *rr_cli_value(const char *cmd, int argc, char **argv, int *i);

/* Parse "flag" / "longest_first". */
int rr_cli_truncation(const char *cmd, const char *s, rerank_truncation_t *out);
/* Parse "right" / "left" (any case) for --truncation-direction. */
int rr_cli_direction(const char *cmd, const char *s, rerank_trunc_direction_t *out);

/* Read one line (without the newline) into a growing buffer. Returns the
 * length, -1 at EOF, -2 if the line exceeds max_bytes (the rest of the line
 * is consumed). */
long rr_cli_getline(FILE *f, char **buf, size_t *cap, size_t max_bytes);

/* Write s[0..n) as a JSON string literal (with quotes) to f. */
void rr_cli_json_string(FILE *f, const char *s, size_t n);

/* Resolve --model: an existing directory (or file) as is, or a Hugging Face
 * repo id ORG/NAME[@REV] from the local HF cache, downloading it if absent.
 * Prints "rerank CMD: <error>" and returns -1 on failure. */
int rr_cli_model_dir(const char *cmd, const char *arg, char *out, size_t n);

#endif
