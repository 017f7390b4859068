#include "cli/cli_util.h"

#include <sys/stat.h>

#include "hub/hub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int rr_cli_int(const char *cmd, const char *flag, const char *s, long lo, long hi, int32_t *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "rerank %s: %s expects an integer in [%ld, %ld], got '%s'\n", cmd, flag, lo,
                hi, s);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

const char *rr_cli_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "rerank %s: %s needs a value\n", cmd, argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int rr_cli_truncation(const char *cmd, const char *s, rerank_truncation_t *out) {
    if (!strcmp(s, "flag")) *out = RERANK_TRUNC_FLAG;
    else if (!strcmp(s, "longest_first")) *out = RERANK_TRUNC_LONGEST_FIRST;
    else {
        fprintf(stderr, "rerank %s: --truncation expects flag or longest_first, got '%s'\n", cmd, s);
        return -1;
    }
    return 0;
}

int rr_cli_direction(const char *cmd, const char *s, rerank_trunc_direction_t *out) {
    if (!strcasecmp(s, "right")) *out = RERANK_TRUNC_RIGHT;
    else if (!strcasecmp(s, "left")) *out = RERANK_TRUNC_LEFT;
    else {
        fprintf(stderr, "rerank %s: --truncation-direction expects right or left, got '%s'\n", cmd, s);
        return -1;
    }
    return 0;
}

long rr_cli_getline(FILE *f, char **buf, size_t *cap, size_t max_bytes) {
    size_t n = 0;
    int c, too_long = 0;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (too_long) continue;
        if (n >= max_bytes) { too_long = 1; continue; }
        if (n + 1 >= *cap) {
            size_t ncap = *cap ? *cap * 2 : 4096;
            char *nb = realloc(*buf, ncap);
            if (!nb) { too_long = 1; continue; }
            *buf = nb;
            *cap = ncap;
        }
        (*buf)[n++] = (char)c;
    }
    if (c == EOF && n == 0 && !too_long) return -1;
    if (too_long) return -2;
    if (*buf) (*buf)[n] = 0;
    else {
        *buf = malloc(1);
        if (!*buf) return -2;
        **buf = 0;
        *cap = 1;
    }
    return (long)n;
}

void rr_cli_json_string(FILE *f, const char *s, size_t n) {
    putc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20) fprintf(f, "\\u%04x", c);
            else putc(c, f);
        }
    }
    putc('"', f);
}

int rr_cli_model_dir(const char *cmd, const char *arg, char *out, size_t n) {
    struct stat st;
    if (stat(arg, &st) == 0) { /* a directory or a tokenizer.json path: as is */
        if (strlen(arg) >= n) { fprintf(stderr, "rerank %s: path too long\n", cmd); return -1; }
        strcpy(out, arg);
        return 0;
    }
    if (rr_hub_resolve(arg, out, n) != RERANK_OK) {
        fprintf(stderr, "rerank %s: %s\n", cmd, rerank_last_error());
        return -1;
    }
    return 0;
}
