/* gemm_rows.c — the linear layers' GEMM rate as a function of its row count
 * M (tokens in a batch), with the rows given to oneDNN whole and split as
 * the engine splits them on AMX (whole 64-row blocks in one call, the rest
 * padded to 16 rows in another: src/cpu/gemm.c, run). oneDNN 2.6's AMX
 * matmul runs some M values 5-10x slower than their neighbours; this shows
 * which, and what the split gets back. Each M is timed whole and split in
 * turn (best of -r after a warm-up), so both see the same machine.
 *
 *   make gemm_rows && build/gemm_rows [-p bf16|int8|fp32] [-m 16:1024 | -m 885,884] [-k 1024] [-n 4096]
 *                                     [-r reps] [-T threads]
 *
 * One JSON line per M ({"m", "whole_gflops", "split_gflops"}), then a
 * summary line: how many M values run whole at under half their split
 * rate, the worst ratio, and the geometric mean of split / whole. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/bench_api.h"
#include "rerank.h"

#define MAX_MS 8192

static int parse_ms(const char *s, int64_t *ms) {
    int64_t lo, hi;
    int used = 0, n = 0;
    if (sscanf(s, "%lld:%lld%n", (long long *)&lo, (long long *)&hi, &used) == 2 && !s[used]) {
        if (lo < 1 || hi < lo || hi - lo + 1 > MAX_MS) return -1;
        for (int64_t m = lo; m <= hi; m++) ms[n++] = m;
        return n;
    }
    for (const char *p = s; *p && n < MAX_MS;) {
        char *end;
        long long m = strtoll(p, &end, 10);
        if (end == p || m < 1 || m > (1 << 20) || (*end && *end != ',')) return -1;
        ms[n++] = m;
        p = *end ? end + 1 : end;
    }
    return n;
}

int main(int argc, char **argv) {
    static int64_t ms[MAX_MS];
    int n_ms = parse_ms("16:1024", ms), reps = 3, threads = omp_get_max_threads();
    int32_t k = 1024, n = 4096;
    rerank_precision_t prec = RERANK_PRECISION_BF16;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (!strcmp(argv[i], "-p")) {
            if (rerank_precision_parse(v, &prec) != RERANK_OK) goto usage;
        } else if (!strcmp(argv[i], "-m")) {
            if ((n_ms = parse_ms(v, ms)) <= 0) goto usage;
        } else if (!strcmp(argv[i], "-k")) {
            k = atoi(v);
        } else if (!strcmp(argv[i], "-n")) {
            n = atoi(v);
        } else if (!strcmp(argv[i], "-r")) {
            reps = atoi(v);
        } else if (!strcmp(argv[i], "-T")) {
            threads = atoi(v);
        } else {
            goto usage;
        }
        i++;
    }
    if (k < 1 || n < 1 || k > 65536 || n > 65536 || reps < 1 || threads < 1) goto usage;
    int slow = 0, worst_m = 0;
    double worst = 1e30, log_sum = 0;
    for (int i = 0; i < n_ms; i++) {
        double whole = 0, split = 0;
        if (rr_gemm_rate(prec, ms[i], k, n, reps, threads, -1, &whole) ||
            rr_gemm_rate(prec, ms[i], k, n, reps, threads, 1, &split)) {
            fprintf(stderr, "gemm_rows: %s\n", rerank_last_error());
            return 1;
        }
        printf("{\"m\": %lld, \"whole_gflops\": %.1f, \"split_gflops\": %.1f}\n", (long long)ms[i], whole, split);
        fflush(stdout);
        const double r = whole / split;
        slow += r < 0.5;
        if (r < worst) worst = r, worst_m = (int)ms[i];
        log_sum += log(split / whole);
    }
    printf("{\"precision\": \"%s\", \"k\": %d, \"n\": %d, \"threads\": %d, \"layout\": \"%s\", \"m_values\": %d, "
           "\"whole_under_half_of_split\": %d, \"worst_whole_over_split\": %.3f, \"worst_m\": %d, "
           "\"geomean_split_over_whole\": %.3f}\n",
           rerank_precision_str(prec), k, n, threads, rr_gemm_layout(prec, k, n) ? rr_gemm_layout(prec, k, n) : "?",
           n_ms, slow, worst, worst_m, exp(log_sum / n_ms));
    return 0;
usage:
    fprintf(stderr, "usage: gemm_rows [-p bf16|int8|fp32] [-m LO:HI | -m M,M,...] [-k K] [-n N] [-r reps] [-T threads]\n");
    return 2;
}
