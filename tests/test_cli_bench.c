/* test_cli_bench.c — `rerank bench` as a user runs it (BUILD/rerank): the
 * JSON line of the token-id and text modes on the tiny fixture, its figures
 * consistent with each other, and the errors for bad arguments; and
 * BUILD/gemm_rows's lines. */
#include <limits.h>
#include <unistd.h>
#include <sys/wait.h>

#include <jansson.h>

#include "server_proc.h"
#include "test.h"

static char g_build[PATH_MAX] = "build";

/* Run `BUILD/rerank bench ARGS`; the exit status, *out its stdout as one
 * JSON object (NULL if it is not one), *err the start of its stderr. */
static int bench(const char *args, json_t **out, char *err, size_t errsz) {
    char cmd[PATH_MAX + 2048], buf[8192], errpath[] = "/tmp/rr_bench_err_XXXXXX";
    int fd = mkstemp(errpath);
    if (fd < 0) return -1;
    close(fd);
    snprintf(cmd, sizeof cmd, "%s/rerank bench --threads 1 %s 2>%s", g_build, args, errpath);
    int rc = sp_run(cmd, buf, sizeof buf);
    if (out) *out = json_loads(buf, 0, NULL);
    if (err) {
        FILE *f = fopen(errpath, "r");
        size_t k = f ? fread(err, 1, errsz - 1, f) : 0;
        err[k] = 0;
        if (f) fclose(f);
    }
    unlink(errpath);
    return rc;
}

static double num(json_t *j, const char *k) { return json_number_value(json_object_get(j, k)); }
static const char *str(json_t *j, const char *k) {
    const char *s = json_string_value(json_object_get(j, k));
    return s ? s : "";
}

/* Fields every bench line carries, and the relations between them. */
static void check_line(json_t *j, double pairs, double tokens) {
    static const char *fields[] = {"model", "workload", "compute", "device", "precision", "threads", "layers", "runs",
                                   "pairs", "tokens", "pairs_per_s", "pairs_per_s_min", "pairs_per_s_max",
                                   "tokens_per_s", "gflops_per_s", "gemm_ceiling_gflops", "fraction_of_ceiling",
                                   "gemm_batch_m", "gemm_at_batch_m_gflops", "peak_rss_mb", "load_s",
                                   "forward_s", "gemm_s", "attention_s", "other_s", "linear_gflops_per_s"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        CHECK_MSG(json_object_get(j, fields[i]) != NULL, "missing field %s", fields[i]);
    CHECK(num(j, "pairs") == pairs);
    CHECK_MSG(num(j, "tokens") == tokens, "tokens %g, expected %g", num(j, "tokens"), tokens);
    double p = num(j, "pairs_per_s");
    CHECK(p > 0 && num(j, "pairs_per_s_min") <= p && p <= num(j, "pairs_per_s_max"));
    /* tokens/s = pairs/s x tokens per pair (all from the median run) */
    CHECK_NEAR(num(j, "tokens_per_s"), p * tokens / pairs, 0.06 + 1e-3 * num(j, "tokens_per_s"));
    CHECK(num(j, "gemm_ceiling_gflops") > 0 && num(j, "gemm_at_batch_m_gflops") > 0);
    /* the ceiling: the larger of the one before loading and the one after the runs */
    const double before = num(j, "gemm_ceiling_before_gflops"), after = num(j, "gemm_ceiling_after_gflops");
    CHECK_MSG(json_object_get(j, "gemm_ceiling_before_gflops") && json_object_get(j, "gemm_ceiling_after_gflops") &&
                  before >= 0 && after > 0 && fabs(num(j, "gemm_ceiling_gflops") - fmax(before, after)) <= 0.01,
              "ceiling %g, before %g, after %g", num(j, "gemm_ceiling_gflops"), before, after);
    CHECK_NEAR(num(j, "fraction_of_ceiling"), num(j, "gflops_per_s") / num(j, "gemm_ceiling_gflops"), 1e-3);
    /* the ceiling's row count: M = 8192 or one layer group's 1024 */
    CHECK_MSG(num(j, "gemm_ceiling_m") == 8192 || num(j, "gemm_ceiling_m") == 1024, "gemm_ceiling_m %g",
              num(j, "gemm_ceiling_m"));
    CHECK(num(j, "peak_rss_mb") > 0 && num(j, "load_s") > 0);
    /* The time split: GEMM and attention run inside the forward pass, one
     * after the other, so they add up to at most its time (6-digit JSON
     * rounding aside), and a forward pass is at most a whole run. */
    double fwd = num(j, "forward_s"), gemm = num(j, "gemm_s"), attn = num(j, "attention_s");
    CHECK_MSG(gemm > 0 && attn > 0 && gemm + attn <= fwd + 2e-6, "gemm %g + attention %g vs forward %g", gemm, attn,
              fwd);
    CHECK_NEAR(num(j, "other_s"), fwd - gemm - attn, 2e-6);
    CHECK_MSG(fwd <= pairs / num(j, "pairs_per_s_min") + 1e-3, "forward %g s, slowest run %g s", fwd,
              pairs / num(j, "pairs_per_s_min"));
    CHECK(num(j, "linear_gflops_per_s") > 0);
    /* gemm_s by layer shape (CPU): the shapes add up to it */
    json_t *shapes = json_object_get(j, "gemm_shapes");
    CHECK(json_is_array(shapes) && json_array_size(shapes) > 0);
    double sum = 0;
    size_t i;
    json_t *sh;
    json_array_foreach(shapes, i, sh) {
        CHECK(num(sh, "in") > 0 && num(sh, "out") > 0 && num(sh, "calls") > 0 && num(sh, "gflops") > 0);
        sum += num(sh, "s");
    }
    CHECK_MSG(fabs(sum - gemm) <= 1e-6 * (double)(json_array_size(shapes) + 1), "shapes %g s, gemm_s %g", sum, gemm);
}

TEST(workload_w3) {
    char args[PATH_MAX];
    json_t *j = NULL;
    snprintf(args, sizeof args, "--model %s/fixtures/models/tiny-xlmr --workload %s/bench/workloads.json:W3 --runs 3",
             t_shared(), t_shared());
    int rc = bench(args, &j, NULL, 0);
    CHECK_MSG(rc == 0 && j, "exit %d", rc);
    if (!j) return;
    check_line(j, 1, 128); /* W3: one pair of 128 tokens */
    CHECK(!strcmp(str(j, "precision"), "fp32") && !strcmp(str(j, "compute"), "fp32"));
    CHECK(!strcmp(str(j, "device"), "cpu"));
    CHECK(num(j, "runs") == 3 && num(j, "layers") == 2 && num(j, "threads") >= 1);
    CHECK(num(j, "gemm_batch_m") == 128);
    /* useful FLOPs of the README of ../shared/bench for H=32, I=64, 2 layers */
    double n = 128, flops = (2 * n * (4 * 32 * 32 + 2 * 32 * 64) + 4 * n * n * 32) * 2;
    /* bench prints gflops_per_s with 2 decimals (±0.005) and pairs_per_s
     * with 4 (±5e-5): a slow build (ASan: ~4 GFLOP/s) sits near 1e-3. */
    CHECK_NEAR(num(j, "gflops_per_s"), flops * num(j, "pairs_per_s") / 1e9,
               1e-3 * num(j, "gflops_per_s") + 0.005 + 5e-5 * flops / 1e9);
    json_decref(j);
}

TEST(workload_layers_and_int8) {
    char args[PATH_MAX];
    json_t *j = NULL;
    snprintf(args, sizeof args,
             "--model %s/fixtures/models/tiny-xlmr --workload %s/bench/workloads.json:W1 --runs 1 --layers 1 "
             "--precision int8",
             t_shared(), t_shared());
    int rc = bench(args, &j, NULL, 0);
    CHECK_MSG(rc == 0 && j, "exit %d", rc);
    if (!j) return;
    check_line(j, 32, 32 * 256); /* W1: 32 pairs x 256 tokens */
    CHECK(num(j, "layers") == 1 && num(j, "gemm_batch_m") == 8192);
    CHECK(!strcmp(str(j, "precision"), "int8") && !strcmp(str(j, "compute"), "int8"));
    json_decref(j);
}

/* Text mode: two queries of two and one documents -> two scoring calls. */
TEST(text_input) {
    char path[] = "/tmp/rr_bench_in_XXXXXX", args[PATH_MAX + 256];
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    fprintf(f, "{\"query\": \"where do pandas live\", \"doc\": \"Giant pandas live in the mountains of China.\"}\n"
               "{\"query\": \"where do pandas live\", \"doc\": \"Bamboo \\u00e9t\\u00e9 \\\"forest\\\".\"}\n"
               "{\"query\": \"capital of France\", \"doc\": \"Paris\"}\n");
    fclose(f);
    json_t *j = NULL;
    snprintf(args, sizeof args, "--model %s/fixtures/models/tiny-xlmr --input %s --runs 1", t_shared(), path);
    int rc = bench(args, &j, NULL, 0);
    CHECK_MSG(rc == 0 && j, "exit %d", rc);
    if (j) {
        CHECK(num(j, "pairs") == 3 && num(j, "tokens") > 3 * 4);
        CHECK(num(j, "gemm_batch_m") == (long long)(num(j, "tokens") / 2 + 0.5));
        json_decref(j);
    }
    unlink(path);
}

TEST(bad_arguments) {
    char args[PATH_MAX], err[1024];
    CHECK(bench("--workload x.json:W1", NULL, err, sizeof err) == 2); /* no model */
    snprintf(args, sizeof args, "--model %s/fixtures/models/tiny-xlmr --workload %s/bench/workloads.json:W1 --precision fp64",
             t_shared(), t_shared());
    CHECK(bench(args, NULL, err, sizeof err) == 2 && strstr(err, "precision"));
    snprintf(args, sizeof args, "--model %s/fixtures/models/tiny-xlmr --workload %s/bench/workloads.json:W9", t_shared(),
             t_shared());
    CHECK_MSG(bench(args, NULL, err, sizeof err) != 0 && strstr(err, "W9"), "stderr: %s", err);
    snprintf(args, sizeof args, "--model /nonexistent/model --workload %s/bench/workloads.json:W3", t_shared());
    CHECK_MSG(bench(args, NULL, err, sizeof err) == 1 && err[0], "stderr: %s", err);
    snprintf(args, sizeof args, "--model %s/fixtures/models/tiny-xlmr --workload %s/bench/workloads.json:W3 --runs 0",
             t_shared(), t_shared());
    CHECK(bench(args, NULL, err, sizeof err) == 2);
}

/* gemm_rows: a line per M with both rates, then the summary over them;
 * bad arguments exit 2. */
TEST(gemm_rows) {
    char cmd[PATH_MAX + 256], buf[8192];
    snprintf(cmd, sizeof cmd, "%s/gemm_rows -p bf16 -m 17,64,130 -k 64 -n 128 -r 1 -T 1", g_build);
    CHECK(sp_run(cmd, buf, sizeof buf) == 0);
    int lines = 0;
    json_t *last = NULL;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        CHECK_MSG(j != NULL, "not JSON: %s", line);
        if (!j) continue;
        if (json_object_get(j, "m")) {
            static const double ms[] = {17, 64, 130};
            CHECK(lines < 3 && num(j, "m") == ms[lines]);
            CHECK(num(j, "whole_gflops") > 0 && num(j, "split_gflops") > 0);
            lines++;
            json_decref(j);
        } else {
            json_decref(last);
            last = j;
        }
    }
    CHECK(lines == 3 && last != NULL);
    if (last) {
        CHECK(num(last, "m_values") == 3 && num(last, "k") == 64 && num(last, "n") == 128);
        CHECK(num(last, "worst_whole_over_split") > 0 && num(last, "geomean_split_over_whole") > 0);
        CHECK(strcmp(str(last, "layout"), "?") != 0);
    }
    json_decref(last);
    snprintf(cmd, sizeof cmd, "%s/gemm_rows -m 0:5 2>/dev/null", g_build);
    CHECK(sp_run(cmd, buf, sizeof buf) == 2);
    snprintf(cmd, sizeof cmd, "%s/gemm_rows -p fp64 2>/dev/null", g_build);
    CHECK(sp_run(cmd, buf, sizeof buf) == 2);
}

int main(int argc, char **argv) {
    (void)argc;
    sp_build_dir(argv[0], g_build, sizeof g_build);
    RUN(workload_w3);
    RUN(workload_layers_and_int8);
    RUN(text_input);
    RUN(bad_arguments);
    RUN(gemm_rows);
    TEST_MAIN_END();
}
