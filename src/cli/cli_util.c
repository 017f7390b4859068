/* cli_util.c — option tables, input and model helpers of the CLI (cli_util.h). */
#include "cli/cli_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/model_notes.h"
#include "common/alloc.h"
#include "hub/hub.h"

/* ---- option tables ------------------------------------------------------ */

int rr_cli_int(const char *cmd, const char *flag, const char *s, long lo, long hi, int32_t *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "rerank %s: %s expects an integer in [%ld, %ld], got '%s'\n", cmd, flag, lo, hi, s);
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

static int parse_truncation(const char *cmd, const char *s, rerank_truncation_t *out) {
    if (!strcmp(s, "flag")) *out = RERANK_TRUNC_FLAG;
    else if (!strcmp(s, "longest_first")) *out = RERANK_TRUNC_LONGEST_FIRST;
    else if (!strcmp(s, "none")) *out = RERANK_TRUNC_NONE;
    else {
        fprintf(stderr, "rerank %s: --truncation expects flag, longest_first or none, got '%s'\n", cmd, s);
        return -1;
    }
    return 0;
}

static int parse_direction(const char *cmd, const char *s, rerank_trunc_direction_t *out) {
    if (!strcasecmp(s, "right")) *out = RERANK_TRUNC_RIGHT;
    else if (!strcasecmp(s, "left")) *out = RERANK_TRUNC_LEFT;
    else {
        fprintf(stderr, "rerank %s: --truncation-direction expects right or left, got '%s'\n", cmd, s);
        return -1;
    }
    return 0;
}

/* Store value v of option o. Returns 0 or -1 (message printed). */
static int set_value(const rr_cli_spec_t *spec, const rr_cli_opt_t *o, const char *v) {
    switch (o->kind) {
    case RR_CLI_STR: *(const char **)o->dst = v; return 0;
    case RR_CLI_LIST: {
        rr_cli_list_t *l = o->dst;
        if (l->n >= l->cap) { fprintf(stderr, "rerank %s: too many %s\n", spec->cmd, o->name); return -1; }
        l->v[l->n++] = v;
        return 0;
    }
    case RR_CLI_INT: return rr_cli_int(spec->cmd, o->name, v, o->lo, o->hi, o->dst);
    case RR_CLI_TRUNCATION: return parse_truncation(spec->cmd, v, o->dst);
    case RR_CLI_DIRECTION: return parse_direction(spec->cmd, v, o->dst);
    case RR_CLI_FLAG: break;
    }
    return -1;
}

static const rr_cli_opt_t *find(const rr_cli_spec_t *spec, const char *name, size_t len) {
    for (size_t k = 0; k < spec->n_opts; k++)
        if (strlen(spec->opts[k].name) == len && !strncmp(spec->opts[k].name, name, len)) return &spec->opts[k];
    return NULL;
}

int rr_cli_parse(const rr_cli_spec_t *spec, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            rr_cli_help(stdout, spec);
            return 1;
        }
        if (strncmp(a, "--", 2)) {
            fprintf(stderr, "rerank %s: unexpected argument '%s' (rerank %s --help lists the options)\n", spec->cmd, a,
                    spec->cmd);
            return 2;
        }
        const char *eq = strchr(a, '=');
        const rr_cli_opt_t *o = find(spec, a, eq ? (size_t)(eq - a) : strlen(a));
        if (!o) {
            fprintf(stderr, "rerank %s: unknown option '%.*s' (rerank %s --help lists the options)\n", spec->cmd,
                    (int)(eq ? eq - a : (long)strlen(a)), a, spec->cmd);
            return 2;
        }
        if (o->kind == RR_CLI_FLAG) {
            if (eq) { fprintf(stderr, "rerank %s: %s takes no value\n", spec->cmd, o->name); return 2; }
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : rr_cli_value(spec->cmd, argc, argv, &i);
        if (!v || set_value(spec, o, v)) return 2;
    }
    return 0;
}

/* Print text, each '\n' followed by `indent` spaces. */
static void put_indented(FILE *f, const char *text, int indent) {
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        if (*p == '\n') fprintf(f, "%*s", indent, "");
    }
}

void rr_cli_help(FILE *f, const rr_cli_spec_t *spec) {
    fprintf(f, "usage: rerank %s ", spec->cmd);
    put_indented(f, spec->usage, 15 + (int)strlen(spec->cmd));
    fputs("\n\n", f);
    if (spec->about) fprintf(f, "%s\n\n", spec->about);
    fputs("options:\n", f);
    for (size_t k = 0; k < spec->n_opts; k++) {
        const rr_cli_opt_t *o = &spec->opts[k];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        if (strlen(left) > 22) fprintf(f, "  %s\n  %-22s ", left, "");
        else fprintf(f, "  %-22s ", left);
        put_indented(f, o->help, 25);
        fputc('\n', f);
    }
    fprintf(f, "  %-22s this text\n", "--help");
    if (spec->notes) fprintf(f, "\n%s\n", spec->notes);
}

/* ---- input -------------------------------------------------------------- */

FILE *rr_cli_open_input(const char *cmd, const char *path) {
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "rerank %s: cannot open %s: %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "rerank %s: cannot open %s: %s\n", cmd, f == stdin ? "stdin" : path, strerror(EISDIR));
        rr_cli_close(f);
        return NULL;
    }
    return f;
}

void rr_cli_close(FILE *f) {
    if (f && f != stdin) fclose(f);
}

int rr_cli_read_failed(const char *cmd, const char *path, FILE *f) {
    if (!ferror(f)) return 0;
    fprintf(stderr, "rerank %s: cannot read %s: read error\n", cmd, strcmp(path, "-") ? path : "stdin");
    return 1;
}

long rr_cli_getline(FILE *f, char **buf, size_t *cap, size_t max_bytes) {
    size_t n = 0;
    int c, too_long = 0;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (too_long) continue;
        if (n >= max_bytes) { too_long = 1; continue; }
        if (n + 1 >= *cap) {
            size_t ncap = *cap ? *cap * 2 : 4096;
            char *nb = rr_realloc(*buf, ncap);
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
        *buf = rr_malloc(1);
        if (!*buf) return -2;
        **buf = 0;
        *cap = 1;
    }
    return (long)n;
}

size_t rr_cli_bom_len(const char *line, long n) {
    return n >= 3 && !memcmp(line, "\xef\xbb\xbf", 3) ? 3 : 0;
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

/* ---- models ------------------------------------------------------------- */

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

int rr_cli_load_model(const char *cmd, const char *arg, const rerank_model_options_t *mo, rerank_model_t **out) {
    char dir[4096];
    *out = NULL;
    if (rr_cli_model_dir(cmd, arg, dir, sizeof dir)) return 1;
    if (rerank_model_load(dir, mo, out) != RERANK_OK) {
        fprintf(stderr, "rerank %s: %s\n", cmd, rerank_last_error());
        return 1;
    }
    rerank_model_info_t mi;
    rerank_model_get_info(*out, &mi);
    rr_cli_note_compute(cmd, &mi);
    return 0;
}
