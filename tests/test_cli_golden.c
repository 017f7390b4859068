/* test_cli_golden.c — the `rerank` commands as a user runs them, against
 * golden files (tests/cli/NAME.txt): exit status, stdout and stderr exactly,
 * so every message and default a user sees is pinned down.
 *
 * A golden file is a list of cases:
 *     # comment (what the case shows)
 *     $ rerank score --model @SHARED@/fixtures/models/tiny-xlmr --query q --doc a
 *     exit 0
 *     --- stdout
 *     | {"index": 0, "score": <num>}
 *     --- stderr
 *     | (a line of stderr; "|" alone is an empty line)
 * The command runs in /bin/sh from the current directory with BUILD first on
 * PATH (so `rerank` is the binary under test); @SHARED@ is the shared test
 * data, @TMP@ a scratch directory holding the inputs made by make_inputs().
 * In the output, those paths are written back as @SHARED@ / @TMP@ and every
 * decimal number with a fraction or exponent as <num> (scores differ in the
 * last bits between CPUs; the tests of the engine check their values). A
 * section left out means that stream must be empty.
 * RERANK_UPDATE_GOLDEN=1 rewrites the files from what the commands print
 * (review the diff before committing it). */
#include <dirent.h>
#include <limits.h>
#include <regex.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server_proc.h"
#include "test.h"

static char g_build[PATH_MAX] = "build";
static char g_tmp[] = "/tmp/rr_cli_golden_XXXXXX";

typedef struct text {
    char *p;
    size_t n, cap;
} text_t;

static void text_add(text_t *t, const char *s, size_t n) {
    if (t->n + n + 1 > t->cap) {
        t->cap = (t->n + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        if (!t->p) abort();
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = 0;
}
static void text_adds(text_t *t, const char *s) { text_add(t, s, strlen(s)); }
static const char *text_str(const text_t *t) { return t->p ? t->p : ""; }

typedef struct gcase {
    text_t comment; /* lines before the command, '#' included */
    char *cmd;      /* after "$ "                             */
    int exit_code;
    text_t out, err; /* expected */
    int has_out, has_err;
} gcase_t;

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    text_t t = {0};
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) text_add(&t, buf, k);
    fclose(f);
    if (!t.p) text_adds(&t, "");
    return t.p;
}

/* Parse a golden file into cases; returns the count (cases malloc'd). */
static size_t parse_golden(char *src, gcase_t **out) {
    size_t n = 0, cap = 0;
    gcase_t *cs = NULL, *c = NULL;
    text_t comment = {0};
    text_t *section = NULL;
    for (char *line = src; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *next = nl ? nl + 1 : NULL;
        if (!strncmp(line, "$ ", 2)) {
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                cs = realloc(cs, cap * sizeof *cs);
                if (!cs) abort();
            }
            c = &cs[n++];
            memset(c, 0, sizeof *c);
            c->comment = comment;
            memset(&comment, 0, sizeof comment);
            c->cmd = strndup(line + 2, len - 2);
            section = NULL;
        } else if (c && !strncmp(line, "exit ", 5)) {
            c->exit_code = atoi(line + 5);
        } else if (c && len == 10 && !strncmp(line, "--- stdout", 10)) {
            section = &c->out;
            c->has_out = 1;
        } else if (c && len == 10 && !strncmp(line, "--- stderr", 10)) {
            section = &c->err;
            c->has_err = 1;
        } else if (section && line[0] == '|') { /* "| text" or "|" (an empty line) */
            size_t skip = len > 1 && line[1] == ' ' ? 2 : 1;
            text_add(section, line + skip, len - skip);
            text_adds(section, "\n");
        } else if (section && !strncmp(line, "\\ no newline", 13)) {
            if (section->n) section->p[--section->n] = 0;
        } else {
            section = NULL; /* a comment or a blank line: the next case's */
            text_add(&comment, line, len);
            text_adds(&comment, "\n");
        }
        line = next;
    }
    free(comment.p);
    *out = cs;
    return n;
}

/* Replace every `from` in t by `to`. */
static void replace_all(text_t *t, const char *from, const char *to) {
    if (!t->p || !*from) return;
    text_t r = {0};
    const char *p = t->p, *q;
    while ((q = strstr(p, from))) {
        text_add(&r, p, (size_t)(q - p));
        text_adds(&r, to);
        p = q + strlen(from);
    }
    text_adds(&r, p);
    free(t->p);
    *t = r;
}

/* Decimal numbers with a fraction or an exponent -> <num>, with their sign
 * and the spaces that pad them into a column (one space is kept), so that
 * a table's layout does not depend on how many digits a speed has. */
static void mask_numbers(text_t *t) {
    if (!t->p) return;
    regex_t re;
    if (regcomp(&re, "( *)[-+]?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?", REG_EXTENDED)) abort();
    text_t r = {0};
    const char *p = t->p;
    regmatch_t m;
    while (!regexec(&re, p, 1, &m, p == t->p ? 0 : REG_NOTBOL)) {
        const char *s = p + m.rm_so, *e = p + m.rm_eo;
        int is_float = memchr(s, '.', (size_t)(e - s)) || memchr(s, 'e', (size_t)(e - s)) ||
                       memchr(s, 'E', (size_t)(e - s));
        /* part of a word (an id like "W1", a name like "fp32"): keep */
        int in_word = *s != ' ' && s > t->p &&
                      (s[-1] == '_' || (s[-1] >= 'a' && s[-1] <= 'z') || (s[-1] >= 'A' && s[-1] <= 'Z'));
        text_add(&r, p, (size_t)(s - p));
        if (is_float && !in_word) text_adds(&r, *s == ' ' ? " <num>" : "<num>");
        else text_add(&r, s, (size_t)(e - s));
        p = e;
        if (m.rm_eo == 0) { text_add(&r, p, 1); p++; }
    }
    text_adds(&r, p);
    regfree(&re);
    free(t->p);
    *t = r;
}

static void expand(const char *cmd, text_t *out) {
    text_adds(out, cmd);
    replace_all(out, "@SHARED@", t_shared());
    replace_all(out, "@TMP@", g_tmp);
}

static void normalize(text_t *t) {
    if (!t->p) text_adds(t, "");
    replace_all(t, g_tmp, "@TMP@");
    replace_all(t, t_shared(), "@SHARED@");
    replace_all(t, "../shared", "@SHARED@"); /* as the help texts write it */
    mask_numbers(t);
}

/* Run one case; fills the actual exit status and streams. */
static int run_case(const gcase_t *c, text_t *out, text_t *err) {
    char op[PATH_MAX + 32], ep[PATH_MAX + 32];
    snprintf(op, sizeof op, "%s/stdout", g_tmp);
    snprintf(ep, sizeof ep, "%s/stderr", g_tmp);
    text_t cmd = {0}, sh = {0};
    expand(c->cmd, &cmd);
    text_adds(&sh, "PATH='");
    text_adds(&sh, g_build);
    text_adds(&sh, "':\"$PATH\"; export PATH; (");
    text_adds(&sh, text_str(&cmd));
    text_adds(&sh, ") >'");
    text_adds(&sh, op);
    text_adds(&sh, "' 2>'");
    text_adds(&sh, ep);
    text_adds(&sh, "' </dev/null");
    int st = sp_run(text_str(&sh), NULL, 0);
    free(cmd.p);
    free(sh.p);
    char *o = read_file(op), *e = read_file(ep);
    text_adds(out, o ? o : "");
    text_adds(err, e ? e : "");
    free(o);
    free(e);
    normalize(out);
    normalize(err);
    return st;
}

static void write_section(FILE *f, const char *name, const text_t *t) {
    if (!t->n) return;
    fprintf(f, "--- %s\n", name);
    for (const char *p = t->p; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(f, len ? "| %.*s\n" : "|\n", (int)len, p);
        if (!nl) { fputs("\\ no newline\n", f); break; }
        p = nl + 1;
    }
}

static void write_golden(const char *path, gcase_t *cs, size_t n, text_t *outs, text_t *errs, const int *codes) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    for (size_t i = 0; i < n; i++) {
        fputs(text_str(&cs[i].comment), f);
        fprintf(f, "$ %s\nexit %d\n", cs[i].cmd, codes[i]);
        write_section(f, "stdout", &outs[i]);
        write_section(f, "stderr", &errs[i]);
    }
    fclose(f);
}

/* Print the first line where two texts differ. */
static void show_diff(const char *what, const char *want, const char *got) {
    int line = 1;
    while (*want && *want == *got) {
        if (*want == '\n') line++;
        want++;
        got++;
    }
    const char *we = strchr(want, '\n'), *ge = strchr(got, '\n');
    fprintf(stderr, "    %s differs at line %d:\n      want: %.*s\n      got:  %.*s\n", what, line,
            (int)(we ? we - want : (long)strlen(want)), want, (int)(ge ? ge - got : (long)strlen(got)), got);
}

static void check_file(const char *path) {
    char *src = read_file(path);
    CHECK_MSG(src != NULL, "cannot read %s", path);
    if (!src) return;
    gcase_t *cs = NULL;
    size_t n = parse_golden(src, &cs);
    CHECK_MSG(n > 0, "%s has no cases", path);
    text_t *outs = calloc(n + 1, sizeof *outs), *errs = calloc(n + 1, sizeof *errs);
    int *codes = calloc(n + 1, sizeof *codes);
    const char *update = getenv("RERANK_UPDATE_GOLDEN");
    for (size_t i = 0; i < n; i++) {
        codes[i] = run_case(&cs[i], &outs[i], &errs[i]);
        int ok_exit = codes[i] == cs[i].exit_code;
        int ok_out = !strcmp(text_str(&outs[i]), text_str(&cs[i].out));
        int ok_err = !strcmp(text_str(&errs[i]), text_str(&cs[i].err));
        if (update && *update == '1') continue;
        CHECK_MSG(ok_exit && ok_out && ok_err, "%s: $ %s (exit %d, want %d)", path, cs[i].cmd, codes[i],
                  cs[i].exit_code);
        if (!ok_out) show_diff("stdout", text_str(&cs[i].out), text_str(&outs[i]));
        if (!ok_err) show_diff("stderr", text_str(&cs[i].err), text_str(&errs[i]));
    }
    if (update && *update == '1') {
        write_golden(path, cs, n, outs, errs, codes);
        printf("  rewrote %s (%zu cases)\n", path, n);
    }
    for (size_t i = 0; i < n; i++) {
        free(cs[i].comment.p);
        free(cs[i].cmd);
        free(cs[i].out.p);
        free(cs[i].err.p);
        free(outs[i].p);
        free(errs[i].p);
    }
    free(cs);
    free(outs);
    free(errs);
    free(codes);
    free(src);
}

/* ---- inputs the golden files use --------------------------------------- */

static void write_text(const char *name, const char *s) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", g_tmp, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(s, f);
        fclose(f);
    }
}

static void make_inputs(void) {
    /* a document of 3000 x "panda bear ": about 9000 tokens, far over 512 */
    text_t doc = {0}, t = {0};
    for (int i = 0; i < 3000; i++) text_adds(&doc, "panda bear ");
    write_text("long_doc.txt", doc.p);
    text_adds(&t, "{\"query\": \"what is panda?\", \"doc\": \"");
    text_adds(&t, doc.p);
    text_adds(&t, "\"}\n{\"query\": \"what is panda?\", \"doc\": \"hi\"}\n");
    write_text("long.jsonl", t.p);
    write_text("empty_query.jsonl", "{\"query\": \"\", \"doc\": \"a bear\"}\n{\"query\": \"q\", \"doc\": \"a bear\"}\n");
    write_text("tokenize.jsonl", "{\"text\": \"what is panda?\"}\n"
                                 "{\"query\": \"what is panda?\", \"doc\": \"The giant panda is a bear.\"}\n"
                                 "{\"query\": 1}\n");
    /* what Notepad or Excel's "CSV UTF-8" saves: a byte order mark, CRLF line ends */
    write_text("bom_crlf.jsonl", "\xef\xbb\xbf{\"query\": \"q\", \"doc\": \"a\"}\r\n{\"query\": \"q\", \"doc\": \"b\"}\r\n");
    write_text("bom_text.jsonl", "\xef\xbb\xbf{\"text\": \"what is panda?\"}\r\n");
    /* lines a parser refuses (not JSON, invalid UTF-8) and one without "doc" */
    write_text("bad_lines.jsonl", "{bad\n{\"query\": \"q\", \"doc\": \"a\xff\"}\n{\"query\": \"q\"}\n"
                                  "{\"query\": \"q\", \"doc\": \"a\"}\n");
    free(doc.p);
    free(t.p);
}

static void remove_inputs(void) {
    DIR *d = opendir(g_tmp);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", g_tmp, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(g_tmp);
}

/* ---- --device cuda in a build without CUDA -------------------------------- */

#ifndef RR_WITH_CUDA
/* Run `rerank ARGS` with stderr captured; the exit status. */
static int run_stderr(const char *args, char *err, size_t cap) {
    char cmd[PATH_MAX * 2 + 2048];
    snprintf(cmd, sizeof cmd, "%s 2>&1 >/dev/null </dev/null", args);
    text_t c = {0};
    expand(cmd, &c);
    text_t sh = {0};
    text_adds(&sh, "PATH='");
    text_adds(&sh, g_build);
    text_adds(&sh, "':\"$PATH\"; export PATH; ");
    text_adds(&sh, c.p);
    int rc = sp_run(sh.p, err, cap);
    free(c.p);
    free(sh.p);
    return rc;
}
#endif

/* Every command says clearly that CUDA is not built in (the library's
 * message from src/cuda/cuda_stub.c), whether the device comes from
 * --device or RERANK_DEVICE, and exits 1 (a runtime failure). */
TEST(device_cuda_without_cuda) {
#ifdef RR_WITH_CUDA
    printf("  skip: this build has CUDA (make CUDA=1): --device cuda is expected to work here\n");
#else
    static const char *cmds[] = {
        "rerank score --model @SHARED@/fixtures/models/tiny-xlmr --query q --doc a --device cuda",
        "RERANK_DEVICE=cuda:1 rerank score --model @SHARED@/fixtures/models/tiny-xlmr --query q --doc a",
        "rerank tokenize --model @SHARED@/fixtures/models/tiny-xlmr --query q --doc a >/dev/null && "
        "rerank bench --model @SHARED@/fixtures/models/tiny-xlmr --workload @SHARED@/bench/workloads.json:W3 "
        "--device cuda",
        "RERANK_DEVICE=cuda rerank eval --model @SHARED@/fixtures/models/tiny-xlmr --data "
        "@SHARED@/eval/toy/reranker_examples_msmarco.jsonl --max-queries 1",
        "rerank serve --model @SHARED@/fixtures/models/tiny-xlmr --port 0 --device cuda:0",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char err[4096];
        int rc = run_stderr(cmds[i], err, sizeof err);
        CHECK_MSG(rc == 1 && strstr(err, "built without CUDA") && strstr(err, "make CUDA=1"), "$ %s: exit %d: %s",
                  cmds[i], rc, err);
    }
#endif
}

/* ---- the golden files ---------------------------------------------------- */

TEST(score_golden) { check_file("tests/cli/score.txt"); }
TEST(tokenize_golden) { check_file("tests/cli/tokenize.txt"); }
TEST(device_golden) { check_file("tests/cli/device.txt"); }
TEST(bench_golden) { check_file("tests/cli/bench.txt"); }
TEST(eval_golden) { check_file("tests/cli/eval.txt"); }
TEST(help_golden) { check_file("tests/cli/help.txt"); }
TEST(qwen3_golden) { check_file("tests/cli/qwen3.txt"); }

int main(int argc, char **argv) {
    (void)argc;
    sp_build_dir(argv[0], g_build, sizeof g_build);
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        printf("RESULT passed=0 failed=1\n");
        return 1;
    }
    make_inputs();
    RUN(score_golden);
    RUN(tokenize_golden);
    RUN(device_golden);
    RUN(bench_golden);
    RUN(eval_golden);
    RUN(help_golden);
    RUN(qwen3_golden);
    RUN(device_cuda_without_cuda);
    remove_inputs();
    TEST_MAIN_END();
}
