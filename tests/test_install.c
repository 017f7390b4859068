/* test_install.c — `make install` into a staging directory, then build
 * examples/c/score.c against the installed library with pkg-config and run it
 * on a fixture pair (score checked against the golden value), then
 * `make uninstall`. Runs from the repository root like every test. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "rerank.h"
#include "server_proc.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define SAN_MAKE "SAN=asan OPT=-O1"
#define SAN_CFLAGS "-fsanitize=address,undefined"
#elif defined(__SANITIZE_THREAD__)
#define SAN_MAKE "SAN=tsan OPT=-O1"
#define SAN_CFLAGS "-fsanitize=thread"
#else
#define SAN_MAKE ""
#define SAN_CFLAGS ""
#endif

static char g_build[256] = "build";
static char g_tmp[256], g_root[512];

static int exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

/* Run a shell command, capture its stdout (and stderr) into out. */
static int run(const char *cmd, char *out, size_t n) {
    char full[8192];
    if ((size_t)snprintf(full, sizeof full, "%s 2>&1", cmd) >= sizeof full) return -1; /* too long to run whole */
    return sp_run(full, out, n);
}

/* Run argv (no shell: texts with quotes are safe), capture stdout+stderr. */
static int run_argv(char *const argv[], char *out, size_t n) {
    int fds[2];
    if (pipe(fds)) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        perror(argv[0]);
        _exit(127);
    }
    close(fds[1]);
    size_t k = 0;
    ssize_t r;
    char sink[4096];
    while ((r = read(fds[0], k + 1 < n ? out + k : sink, k + 1 < n ? n - 1 - k : sizeof sink)) > 0)
        if (k + 1 < n) k += (size_t)r;
    out[k] = 0;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char g_make_log[65536];

TEST(test_make_install) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "make -s install BUILD='%s' %s DESTDIR='%s' PREFIX=/usr", g_build,
             SAN_MAKE, g_root);
    int rc = run(cmd, g_make_log, sizeof g_make_log);
    CHECK_MSG(rc == 0, "make install failed (rc=%d):\n%s", rc, g_make_log);
    const char *files[] = {"/usr/bin/rerank", "/usr/lib/librerank.a", "/usr/lib/librerank.so." RERANK_VERSION,
                           "/usr/lib/librerank.so.0.2", "/usr/lib/librerank.so", "/usr/include/rerank.h",
                           "/usr/lib/pkgconfig/rerank.pc", "/usr/share/man/man1/rerank.1"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s%s", g_root, files[i]);
        CHECK_MSG(exists(p), "missing %s", files[i]);
    }
    char out[4096];
    snprintf(cmd, sizeof cmd, "readelf -d '%s/usr/lib/librerank.so." RERANK_VERSION "'", g_root);
    CHECK(run(cmd, out, sizeof out) == 0);
    CHECK_MSG(strstr(out, "Library soname: [librerank.so.0.2]"), "%s", out);
    /* the library exports its API and nothing else: an internal rr_* symbol
     * would be interposed by a host program's own function of that name */
    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s/usr/lib/librerank.so." RERANK_VERSION "' | awk '{print $3}'",
             g_root);
    static char syms[65536];
    CHECK(run(cmd, syms, sizeof syms) == 0);
    int n_api = 0, n_other = 0;
    for (char *line = strtok(syms, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "rerank_", 7)) n_api++;
        else if (n_other++ < 5) fprintf(stderr, "  exported: %s\n", line);
    }
    CHECK_MSG(n_other == 0, "librerank.so exports %d symbols outside rerank_*", n_other);
    CHECK_MSG(n_api >= 27, "librerank.so exports %d rerank_* symbols", n_api);
    /* the version macros agree with each other and with the library */
    char v[64];
    snprintf(v, sizeof v, "%d.%d.%d", RERANK_VERSION_MAJOR, RERANK_VERSION_MINOR, RERANK_VERSION_PATCH);
    CHECK_MSG(!strcmp(v, RERANK_VERSION) && !strcmp(rerank_version(), RERANK_VERSION), "%s %s %s", v, RERANK_VERSION,
              rerank_version());
    snprintf(cmd, sizeof cmd, "'%s/usr/bin/rerank' version", g_root);
    CHECK(run(cmd, out, sizeof out) == 0);
    CHECK_MSG(strstr(out, "rerank " RERANK_VERSION), "%s", out);
    /* the man page renders without warnings */
    snprintf(cmd, sizeof cmd, "command -v groff >/dev/null || exit 0; groff -man -ww -z '%s/usr/share/man/man1/rerank.1'", g_root);
    CHECK(run(cmd, out, sizeof out) == 0);
    CHECK_MSG(out[0] == 0, "%s", out);
}

static char g_pc[2048];

TEST(test_pkg_config) {
    char cmd[4096], out[2048];
    snprintf(cmd, sizeof cmd,
             "PKG_CONFIG_PATH='%s/usr/lib/pkgconfig' PKG_CONFIG_SYSROOT_DIR='%s' pkg-config --modversion rerank",
             g_root, g_root);
    CHECK(run(cmd, out, sizeof out) == 0);
    CHECK_MSG(!strncmp(out, RERANK_VERSION "\n", strlen(RERANK_VERSION) + 1), "%s", out);
    snprintf(cmd, sizeof cmd,
             "PKG_CONFIG_PATH='%s/usr/lib/pkgconfig' PKG_CONFIG_SYSROOT_DIR='%s' pkg-config --cflags --libs rerank",
             g_root, g_root);
    CHECK(run(cmd, g_pc, sizeof g_pc) == 0);
    g_pc[strcspn(g_pc, "\n")] = 0;
    char want[1024];
    snprintf(want, sizeof want, "-I%s/usr/include", g_root);
    CHECK_MSG(strstr(g_pc, want), "%s", g_pc);
    snprintf(want, sizeof want, "-L%s/usr/lib", g_root);
    CHECK_MSG(strstr(g_pc, want) && strstr(g_pc, "-lrerank"), "%s", g_pc);
}

/* The installed header on its own (no other include before it) compiles as
 * strict C99 and as C++17, warnings as errors, and declares its functions
 * with C linkage (a C++ program links against the C library). */
TEST(test_header_c99_cxx) {
    char cmd[8192], out[8192], src[1024];
    snprintf(src, sizeof src, "%s/hdr.c", g_tmp);
    FILE *f = fopen(src, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("#include <rerank.h>\n"
          "int main(void) {\n"
          "    rerank_pair_options_t o = rerank_pair_options_default();\n"
          "    rerank_model_t *m = 0;\n"
          "    const rerank_status_t st = rerank_model_load(\"/nonexistent\", 0, &m);\n"
          "    return (st == RERANK_ERR_IO && !m && o.max_length == 0 && rerank_version()[0] == '0' + RERANK_VERSION_MAJOR) ? 0 : 1;\n"
          "}\n", f);
    fclose(f);
    const char *compilers[] = {"cc -std=c99 -pedantic-errors -Wall -Wextra -Werror -x c",
                               "c++ -std=c++17 -pedantic-errors -Wall -Wextra -Werror -x c++"};
    for (size_t i = 0; i < sizeof compilers / sizeof compilers[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s %s -o '%s/hdr' '%s' -x none %s -Wl,-rpath,'%s/usr/lib' && '%s/hdr'", compilers[i],
                 SAN_CFLAGS, g_tmp, src, g_pc, g_root, g_tmp);
        int rc = run(cmd, out, sizeof out);
        CHECK_MSG(rc == 0, "%s:\n%s", cmd, out);
    }
}

/* Build the example against the installed library and score golden pair 0
 * of pairs-xlmr.jsonl with the tiny-xlmr fixture. Fails (visibly) until the
 * model core is in the library. */
TEST(test_example_score) {
    char cmd[8192], out[8192];
    snprintf(cmd, sizeof cmd, "cc -std=c17 -Wall -Wextra -Werror %s -o '%s/score' examples/c/score.c %s -Wl,-rpath,'%s/usr/lib'",
             SAN_CFLAGS, g_tmp, g_pc, g_root);
    int rc = run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "compiling examples/c/score.c failed:\n%s\n%s", cmd, out);
    if (rc) return;
    /* linked against the installed copy, not build/ */
    snprintf(cmd, sizeof cmd, "ldd '%s/score' | grep librerank", g_tmp);
    CHECK(run(cmd, out, sizeof out) == 0);
    CHECK_MSG(strstr(out, g_root), "%s", out);

    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/golden/pairs-xlmr.jsonl", t_shared());
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "%s: %s", path, strerror(errno));
    if (!f) return;
    static char line[1 << 20];
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    CHECK(ok != NULL);
    if (!ok) return;
    json_error_t jerr;
    json_t *rec = json_loads(line, 0, &jerr);
    CHECK(rec != NULL);
    if (!rec) return;
    const char *query = json_string_value(json_object_get(rec, "query"));
    const char *doc = json_string_value(json_object_get(rec, "doc"));
    double want = json_number_value(json_object_get(json_object_get(rec, "scores"), "tiny-xlmr"));
    CHECK(query && doc && json_integer_value(json_object_get(rec, "max_length")) == 512);
    char exe[1024], model[1024];
    snprintf(exe, sizeof exe, "%s/score", g_tmp);
    snprintf(model, sizeof model, "%s/fixtures/models/tiny-xlmr", t_shared());
    char *argv[] = {exe, model, (char *)query, (char *)doc, "hi", NULL};
    rc = run_argv(argv, out, sizeof out);
    json_decref(rec);
    CHECK_MSG(rc == 0, "examples/c/score.c failed (rc=%d):\n%s", rc, out);
    if (rc) return;
    /* lines "%+.6f  doc": the first is the golden pair */
    const char *p = strstr(out, "\n+");
    const char *m = strstr(out, "\n-");
    const char *first = !p ? m : !m ? p : (p < m ? p : m);
    CHECK_MSG(first != NULL, "no score in output:\n%s", out);
    if (!first) return;
    double got = strtod(first + 1, NULL);
    CHECK_MSG(fabs(got - want) < 1e-3, "score %.6f, golden %.6f\n%s", got, want, out);
}

TEST(test_make_uninstall) {
    char cmd[4096], out[8192];
    snprintf(cmd, sizeof cmd, "make -s uninstall BUILD='%s' %s DESTDIR='%s' PREFIX=/usr", g_build,
             SAN_MAKE, g_root);
    CHECK_MSG(run(cmd, out, sizeof out) == 0, "%s", out);
    snprintf(cmd, sizeof cmd, "find '%s' -type f -o -type l", g_root);
    CHECK(run(cmd, out, sizeof out) == 0);
    CHECK_MSG(out[0] == 0, "left behind:\n%s", out);
}

int main(int argc, char **argv) {
    if (argc > 0 && strstr(argv[0], "/tests/"))
        snprintf(g_build, sizeof g_build, "%.*s", (int)(strstr(argv[0], "/tests/") - argv[0]), argv[0]);
    /* a nested make must not join the jobserver of a `make -j test` */
    unsetenv("MAKEFLAGS");
    unsetenv("MFLAGS");
    unsetenv("MAKELEVEL");
    snprintf(g_tmp, sizeof g_tmp, "/tmp/rr-test-install-XXXXXX");
    if (!mkdtemp(g_tmp)) { perror("mkdtemp"); return 1; }
    snprintf(g_root, sizeof g_root, "%s/root", g_tmp);
    RUN(test_make_install);
    RUN(test_pkg_config);
    RUN(test_header_c99_cxx);
    RUN(test_example_score);
    RUN(test_make_uninstall);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (!getenv("RR_KEEP_TMP") && system(cmd)) { }
    TEST_MAIN_END();
}
