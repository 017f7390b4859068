/* test_gpu_check.c — scripts/gpu-check.sh up to the GPU steps: --dry-run prints the plan (every step with a
 * time limit inside the deadline) and the pack / run commands; without an NVIDIA GPU the script stops at
 * once with exit code 3 and says why; bad options are usage errors (2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test.h"

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

int main(void) {
    RUN(dry_run_plan);
    RUN(usage_errors);
    RUN(no_gpu_exit);
    TEST_MAIN_END();
}
