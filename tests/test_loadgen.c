/* test_loadgen.c — bench/loadgen (BUILD/loadgen) against the real `rerank
 * serve` on the tiny fixture: --pairs bodies (grouping, JSON escaping, the
 * shorter last group), --requests, --json fields, the open-loop schedule
 * (--rate) and a bad pairs file. A few dozen small requests: well under a
 * second of work. */
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "server_proc.h"
#include "test.h"

static char g_dir[PATH_MAX], g_pairs[64] = "/tmp/rr_loadgen_XXXXXX";
static srvproc_t S;

/* Run BUILD/loadgen ARGS (shell words); returns the exit status, *out its
 * stdout parsed as one JSON object (NULL if it is not one). */
static int loadgen(const char *args, json_t **out) {
    char cmd[PATH_MAX + 1024], buf[8192];
    snprintf(cmd, sizeof cmd, "%s/loadgen --url %s %s", g_dir, S.base, args);
    int rc = sp_run(cmd, buf, sizeof buf);
    if (out) *out = json_loads(buf, 0, NULL);
    return rc;
}

static long jint(json_t *j, const char *k) { return (long)json_integer_value(json_object_get(j, k)); }
static double jreal(json_t *j, const char *k) { return json_number_value(json_object_get(j, k)); }

/* 3 queries x 4 docs minus one: groups of 4, 4 and 3 with --docs 4. Texts
 * that need escaping: quotes, backslashes, control characters, non-ASCII. */
static int write_pairs(void) {
    int fd = mkstemp(g_pairs);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "w");
    static const char *docs[] = {"plain text", "say \\\"hi\\\" \\\\ path\\\\to", "tab\\tnew\\nline \\u0001",
                                 "panda \xf0\x9f\x90\xbc \xc3\xa9t\xc3\xa9 \\u00e9"};
    for (int q = 0; q < 3; q++)
        for (int d = 0; d < (q == 2 ? 3 : 4); d++)
            fprintf(f, "{\"query\": \"query %d \\\"quoted\\\"\", \"doc\": \"%s\"}\n", q, docs[d]);
    fprintf(f, "\n");
    return fclose(f);
}

TEST(closed_loop_pairs) {
    char args[256];
    json_t *j = NULL;
    snprintf(args, sizeof args, "--pairs %s --docs 4 -c 2 -d 60 --requests 9 --json", g_pairs);
    int rc = loadgen(args, &j);
    CHECK_MSG(rc == 0 && j, "loadgen exited %d", rc);
    if (!j) return;
    CHECK(!strcmp(json_string_value(json_object_get(j, "mode")), "closed"));
    CHECK(jint(j, "bodies") == 3);
    CHECK_MSG(jint(j, "requests") == 9 && jint(j, "ok") == 9, "requests %ld ok %ld", jint(j, "requests"),
              jint(j, "ok"));
    CHECK(jint(j, "non_200") == 0 && jint(j, "transport_errors") == 0);
    CHECK_MSG(jint(j, "ok_docs") == 3 * (4 + 4 + 3), "ok_docs %ld", jint(j, "ok_docs"));
    CHECK_NEAR(jreal(j, "docs_per_request"), 11.0 / 3.0, 1e-4);
    CHECK(jreal(j, "pairs_per_s") > 0 && jreal(j, "req_per_s") > 0);
    CHECK(jreal(j, "p50_ms") <= jreal(j, "p90_ms") && jreal(j, "p90_ms") <= jreal(j, "p99_ms") &&
          jreal(j, "p99_ms") <= jreal(j, "max_ms"));
    json_decref(j);
}

TEST(open_loop_rate) {
    char args[256];
    json_t *j = NULL;
    /* 40 req/s for 0.5 s: tickets at 0, 25, ..., 475 ms -> 20, sent or unsent */
    snprintf(args, sizeof args, "--pairs %s --docs 4 -c 2 -d 0.5 --rate 40 --api cohere --json", g_pairs);
    int rc = loadgen(args, &j);
    CHECK_MSG(rc == 0 && j, "loadgen exited %d", rc);
    if (!j) return;
    CHECK(!strcmp(json_string_value(json_object_get(j, "mode")), "open"));
    CHECK_NEAR(jreal(j, "rate"), 40, 1e-9);
    long sent = jint(j, "requests"), unsent = jint(j, "unsent");
    CHECK_MSG(sent + unsent >= 19 && sent + unsent <= 21 && jint(j, "ok") == sent && sent > 0,
              "sent %ld unsent %ld ok %ld", sent, unsent, jint(j, "ok"));
    CHECK(jreal(j, "elapsed_s") >= 0.45);
    json_decref(j);
}

TEST(bad_pairs_file) {
    CHECK(loadgen("--pairs /nonexistent/pairs.jsonl --json 2>/dev/null", NULL) == 2);
    char path[] = "/tmp/rr_loadgen_bad_XXXXXX", args[256];
    int fd = mkstemp(path);
    if (fd < 0) { CHECK(fd >= 0); return; }
    FILE *f = fdopen(fd, "w");
    fputs("{\"query\": \"q\", \"doc\": \"d\"}\n{\"query\": \"q\", \"doc\": 42}\n", f);
    fclose(f);
    snprintf(args, sizeof args, "--pairs %s --json 2>/dev/null", path);
    CHECK(loadgen(args, NULL) == 2);
    unlink(path);
}

int main(int argc, char **argv) {
    (void)argc;
    sp_build_dir(argv[0], g_dir, sizeof g_dir);
    char bin[PATH_MAX + 16], model[PATH_MAX], lg[PATH_MAX + 16];
    snprintf(bin, sizeof bin, "%s/rerank", g_dir);
    snprintf(lg, sizeof lg, "%s/loadgen", g_dir);
    snprintf(model, sizeof model, "%s/fixtures/models/tiny-xlmr", t_shared());
    signal(SIGPIPE, SIG_IGN);
    t_cur_name = "setup";
    CHECK_MSG(access(lg, X_OK) == 0, "%s not built (make loadgen)", lg);
    CHECK(write_pairs() == 0);
    static const char *extra[] = {"--threads", "1", "--http-threads", "2", "--no-access-log", NULL};
    CHECK(sp_start(&S, bin, model, extra, NULL) == 0);
    if (t_cur_failed) {
        t_failed++;
        printf("not ok setup\n");
    } else {
        RUN(closed_loop_pairs);
        RUN(open_loop_rate);
        RUN(bad_pairs_file);
    }
    if (S.pid > 0) {
        t_cur_name = "clean_exit";
        t_cur_failed = 0;
        int rc = sp_stop(&S, SIGTERM);
        CHECK_MSG(rc == 0, "server exit status %d", rc);
        if (t_cur_failed) { t_failed++; printf("not ok clean_exit\n"); } else { t_passed++; printf("ok clean_exit\n"); }
    }
    unlink(g_pairs);
    sp_free(&S);
    TEST_MAIN_END();
}
