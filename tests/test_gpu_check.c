/* test_gpu_check.c — scripts/gpu-check.sh up to the GPU steps: --dry-run prints the plan (every step with a
 * time limit inside the deadline) and the pack / run commands, --steps picks steps; without an NVIDIA GPU
 * the script stops at once with exit code 3 and says why; bad options are usage errors (2). The serve step
 * is rehearsed on the CPU (SERVE_DEVICE=cpu, tiny-xlmr as $FULL, this build's rerank and loadgen as the
 * bundle's bin/), through the script's inside part as the device runs it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "server_proc.h"
#include "test.h"

static char g_build[PATH_MAX];

/* j's string member `key`, or "". */
static const char *str_of(json_t *j, const char *key) {
    const char *v = json_string_value(json_object_get(j, key));
    return v ? v : "";
}

/* Run a shell command; its output (up to cap bytes) in out; returns the exit code (-1 if it did not exit). */
static int run(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(dry_run_plan) {
    static char out[8192];
    CHECK(run("bash scripts/gpu-check.sh --dry-run 2>&1", out, sizeof out) == 0);
    const char *want[] = {"test_cuda", "bench", "torch", "agreement", "summary", "pack.sh", "carry",
                          "bash scripts/gpu-check.sh", "W1 W2 W3 L", "fp16 bf16 fp8"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) CHECK_MSG(strstr(out, want[i]) != NULL, "missing '%s'", want[i]);
    /* the deadline keeps the device call well inside 8 minutes */
    const char *d = strstr(out, "deadline ");
    CHECK(d != NULL && atoi(d + 9) > 0 && atoi(d + 9) <= 420);
    CHECK(run("bash scripts/gpu-check.sh --dry-run --ncu 2>&1", out, sizeof out) == 0 && strstr(out, "ncu") != NULL);
}

TEST(steps_pick) {
    static char out[8192];
    CHECK(run("bash scripts/gpu-check.sh --dry-run --steps serve,agreement 2>&1", out, sizeof out) == 0);
    CHECK(strstr(out, "serve ") && strstr(out, "agreement") && strstr(out, "summary") && strstr(out, "gpu "));
    CHECK_MSG(!strstr(out, "bench  ") && !strstr(out, "test_cuda  ") && !strstr(out, "torch  "), "%s", out);
    CHECK(strstr(out, "build-cuda/loadgen") != NULL); /* the serve step's load generator travels */
    CHECK(run("bash scripts/gpu-check.sh --dry-run --steps qwen3 2>&1", out, sizeof out) == 0);
    CHECK(strstr(out, "qwen3 ") && strstr(out, "Qwen3-Reranker-0.6B") && !strstr(out, "serve "));
    CHECK(run("bash scripts/gpu-check.sh --dry-run --steps bench,nope 2>&1", out, sizeof out) == 2);
    CHECK(strstr(out, "unknown step nope") != NULL);
    CHECK(run("bash scripts/gpu-check.sh --dry-run --steps 'a b' 2>&1", out, sizeof out) == 2);
}

/* The serve step on the CPU: two servers come up (2 batches in flight, then 1); for each, loadgen's JSON,
 * /info and /metrics land in one record. */
TEST(serve_step_rehearsed) {
    char dir[] = "/tmp/rr_gpucheck_XXXXXX", root[PATH_MAX], shared[PATH_MAX];
    static char out[65536], cmd[8 * PATH_MAX];
    CHECK(mkdtemp(dir) != NULL && getcwd(root, sizeof root) != NULL);
    /* the script runs in dir: the fixtures' path must not be relative to here */
    if (!realpath(t_shared(), shared)) {
        CHECK_MSG(0, "cannot resolve the test data directory %s", t_shared());
        rmdir(dir);
        return;
    }
    const int len = snprintf(cmd, sizeof cmd,
             "mkdir -p %s/bin && ln -s %s/rerank %s/bin/rerank && ln -s %s/loadgen %s/bin/loadgen && cd %s && "
             "FULL=%s/fixtures/models/tiny-xlmr RERANK_SHARED=%s OUT=%s/out SERVE_DEVICE=cpu SERVE_SECONDS=5 "
             "bash %s/scripts/gpu-check.sh --inside --steps serve >/dev/null 2>&1; cat %s/out/gpu-check.jsonl",
             dir, g_build, dir, g_build, dir, dir, shared, shared, dir, root, dir);
    CHECK(len > 0 && (size_t)len < sizeof cmd);
    const int rc = run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "rc %d", rc);
    json_error_t e;
    json_t *rec[2] = {NULL, NULL};
    int n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, &e);
        if (j && !strcmp(str_of(j, "step"), "serve") && n < 2) {
            rec[n++] = j;
            continue;
        }
        json_decref(j);
    }
    CHECK_MSG(n == 2, "%d serve records (want 2)", n);
    for (int i = 0; i < n; i++) {
        json_t *r = rec[i], *lg = json_object_get(r, "loadgen"), *info = json_object_get(r, "info");
        const json_int_t flight = json_integer_value(json_object_get(r, "batches_in_flight"));
        CHECK_MSG(flight == 2 - i, "record %d: %lld batches in flight", i, (long long)flight);
        CHECK_MSG(lg && json_number_value(json_object_get(lg, "req_per_s")) > 0, "%s", json_dumps(r, 0));
        CHECK(json_integer_value(json_object_get(lg, "ok")) > 0 && json_integer_value(json_object_get(lg, "non_200")) == 0);
        CHECK(info && !strcmp(str_of(info, "device"), "cpu"));
        CHECK_MSG(json_integer_value(json_object_get(info, "batches_in_flight")) == flight, "/info: %s", json_dumps(info, 0));
        CHECK(json_array_size(json_object_get(r, "metrics")) >= 4);
        printf("  serve step (cpu, tiny-xlmr, %lld in flight): %.0f req/s\n", (long long)flight,
               json_number_value(json_object_get(lg, "req_per_s")));
        json_decref(r);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

TEST(usage_errors) {
    static char out[8192];
    CHECK(run("bash scripts/gpu-check.sh --bogus 2>&1", out, sizeof out) == 2);
    CHECK(strstr(out, "unknown option --bogus") != NULL);
    CHECK(run("bash scripts/gpu-check.sh --budget soon 2>&1", out, sizeof out) == 2);
}

TEST(no_gpu_exit) {
    static char out[8192];
    if (system("nvidia-smi -L >/dev/null 2>&1") == 0) {
        printf("SKIP no_gpu_exit: this machine has an NVIDIA GPU\n");
        return;
    }
    CHECK(run("bash scripts/gpu-check.sh 2>&1", out, sizeof out) == 3);
    CHECK_MSG(strstr(out, "no NVIDIA GPU") != NULL, "%s", out);
}

int main(int argc, char **argv) {
    (void)argc;
    sp_build_dir(argv[0], g_build, sizeof g_build);
    RUN(dry_run_plan);
    RUN(steps_pick);
    RUN(serve_step_rehearsed);
    RUN(usage_errors);
    RUN(no_gpu_exit);
    TEST_MAIN_END();
}
