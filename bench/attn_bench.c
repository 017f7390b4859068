/* attn_bench.c — single-threaded attention speed: the engine's old fp32
 * path (pack_keys, scores, softmax, weighted_sum per head, as forward.c
 * calls them) against rr_attend in fp32, bf16 and int8, as GFLOP/s (4 nq nk
 * d per query head, halved for causal) and as a fraction of the one-thread
 * GEMM ceiling of the same precision (rr_gemm_ceiling, M=1024 K=1024
 * N=4096). Variants are timed interleaved, round after round, best round
 * kept; the ceilings are measured again with every shape and the best
 * kept, so both sides see the same machine: compare figures of one run only.
 *
 *   make attn_bench && build/attn_bench [-n 128,256,...] [-r rounds] [-t seconds per timing]
 *
 * Shapes: d = 64, one head, bidirectional (bge-reranker-v2-m3: 16 heads x
 * 64); d = 128, g = 2 query heads per K/V head, causal (Qwen3 rerankers). The
 * old path has no mask and no K/V sharing: for the causal shape it computes
 * the full square per head, and its GFLOP/s counts that work. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "cpu/cpu.h"
#include "cpu/gemm.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"

/* Query rows per block of the old fp32 path (one block of scores per call). */
#define RR_ATTN_QB 64

typedef struct shape {
    int64_t n, d, g;
    int causal;
} shape_t;

typedef struct bufs {
    float *q, *k, *v, *o, *old; /* old: the old path's scratch */
    void *scratch[3];
    size_t scratch_bytes[3];
} bufs_t;

/* The old path for g heads sharing K and V (each head on its own, no mask). */
static void old_path(const shape_t *s, const bufs_t *b) {
    const rr_kernels_t *k = rr_kernels();
    const int64_t n = s->n, d = s->d, n16 = (n + 15) & ~(int64_t)15;
    float *kp = b->old, *sc = kp + n16 * d, norm[RR_ATTN_QB];
    const float scale = 1.0f / sqrtf((float)d);
    for (int64_t h = 0; h < s->g; h++) {
        k->pack_keys(b->k, d, n, d, kp);
        const float *q = b->q + h * n * d;
        float *o = b->o + h * n * d;
        for (int64_t r0 = 0; r0 < n; r0 += RR_ATTN_QB) {
            const int64_t rows = n - r0 < RR_ATTN_QB ? n - r0 : RR_ATTN_QB;
            k->scores(q + r0 * d, d, rows, kp, n16, d, scale, sc, n16);
            for (int64_t r = 0; r < rows; r++) norm[r] = k->softmax(sc + r * n16, n);
            k->weighted_sum(sc, n16, rows, n, b->v, d, d, norm, o + r0 * d, d);
        }
    }
}

static void new_path(const shape_t *s, const bufs_t *b, rerank_precision_t mode) {
    const rr_attn_args_t a = {.q = b->q, .ldq = s->d, .k = b->k, .v = b->v, .ldk = s->d, .ldv = s->d, .o = b->o,
                              .ldo = s->d, .nq = s->n, .nk = s->n, .d = s->d, .g = s->g,
                              .scale = 1.0f / sqrtf((float)s->d), .causal = s->causal, .mode = mode,
                              .scratch = b->scratch[mode], .scratch_bytes = b->scratch_bytes[mode]};
    if (rr_attend(&a)) {
        fprintf(stderr, "attn_bench: %s\n", rerank_last_error());
        exit(1);
    }
}

/* Seconds per call of variant v (0 old, 1 + mode new), over >= min_s. */
static double time_one(const shape_t *s, const bufs_t *b, int v, double min_s) {
    int calls = 0;
    const double t0 = omp_get_wtime();
    double t;
    do {
        if (v == 0)
            old_path(s, b);
        else
            new_path(s, b, (rerank_precision_t)(v - 1));
        calls++;
    } while ((t = omp_get_wtime() - t0) < min_s);
    return t / calls;
}

static float frand(unsigned *seed) {
    *seed = *seed * 1664525u + 1013904223u;
    return (float)(*seed >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* -b: the attention block on one group, in one precision (see the top). */
static int block_bench(rerank_precision_t prec, int64_t pairs, int64_t n, int rounds) {
    const int32_t H = 1024, heads = 16, d = 64, out = 3 * H;
    rr_config_t cfg = {.hidden = H, .layers = 1, .heads = heads, .kv_heads = heads, .head_dim = d, .max_pos = 8194};
    rr_weights_t w = {0};
    float *W = rr_weights_alloc(&w, sizeof(float) * (size_t)out * H), *bias = rr_weights_alloc(&w, sizeof(float) * out);
    rr_dense_t qkv = {.w = {.p = W, .dtype = RR_DT_F32, .rows = out, .cols = H},
                      .b = {.p = bias, .dtype = RR_DT_F32, .rows = 1, .cols = out}};
    w.dense = rr_calloc(1, sizeof *w.dense);
    rr_span_t *sp = calloc((size_t)pairs, sizeof *sp);
    rerank_pair_t *pr = calloc((size_t)pairs, sizeof *pr);
    int32_t *pos = calloc((size_t)(pairs * n), sizeof *pos);
    if (!W || !bias || !w.dense || !sp || !pr || !pos) return fprintf(stderr, "attn_bench: out of memory\n"), 1;
    unsigned seed = 11;
    for (int64_t i = 0; i < (int64_t)out * H; i++) W[i] = frand(&seed) * 0.05f;
    for (int32_t i = 0; i < out; i++) bias[i] = frand(&seed) * 0.1f;
    w.dense[0] = &qkv;
    w.n_dense = w.cap_dense = 1;
    for (int64_t p = 0; p < pairs; p++) {
        sp[p] = (rr_span_t){.start = p * n, .n = n, .idx = (size_t)p};
        pr[p].n = (int32_t)n;
        for (int64_t i = 0; i < n; i++) pos[p * n + i] = (int32_t)(i + 2);
    }
    const rr_batch_t b = {.pairs = pr, .n_pairs = (size_t)pairs, .sp = sp, .pos = pos, .tokens = pairs * n, .max_n = n};
    const rr_attn_t a = {.qkv = &qkv, .heads = heads, .kv_heads = heads, .head_dim = d, .scale = 0.125f};
    void *be = NULL;
    const rr_backend_opts_t o = {.precision = prec, .threads = 1};
    double best_blk = 1e30, best_gemm = 1e30;
    if (rr_blocks_cpu.create(&cfg, &w, &o, &be) || rr_blocks_cpu.begin(be, &b, b.tokens)) goto fail;
    rr_cpu_t *c = be;
    float *x = c->s.x.p;
    for (int64_t i = 0; i < b.tokens * H; i++) x[i] = frand(&seed);
    rr_blocks_cpu.group(be, 0, (size_t)pairs);
    if (rr_blocks_cpu.attention(be, &a, RR_ACT_X, RR_ACT_CTX)) goto fail; /* warm-up: scratch grown */
    for (int r = 0; r < rounds; r++) {
        double t = cpu_seconds();
        if (rr_blocks_cpu.attention(be, &a, RR_ACT_X, RR_ACT_CTX)) goto fail;
        t = cpu_seconds() - t;
        best_blk = t < best_blk ? t : best_blk;
        rr_raw_out_t raw;
        t = cpu_seconds();
        if (rr_linear_raw(c->gemm, &c->lin[0], x, b.tokens, c->s.wide.p, &raw)) goto fail;
        t = cpu_seconds() - t;
        best_gemm = t < best_gemm ? t : best_gemm;
    }
    const double attn = best_blk - best_gemm, flops = 4.0 * (double)n * (double)n * H * (double)pairs;
    const double gemm_rate = 2.0 * (double)b.tokens * H * out / best_gemm;
    printf("block %-5s (compute %s) %lld x %lld: attention %.3f ms = %.1f GFLOP/s, %.2f of its QKV GEMM (%.1f GFLOP/s)\n",
           rerank_precision_str(prec), rerank_precision_str(c->prec), (long long)pairs, (long long)n, attn * 1e3,
           flops / attn / 1e9, flops / attn / gemm_rate, gemm_rate / 1e9);
    rr_blocks_cpu.end(be);
    rr_blocks_cpu.destroy(be);
    rr_weights_release(&w);
    free(sp); free(pr); free(pos);
    return 0;
fail:
    fprintf(stderr, "attn_bench: %s\n", rerank_last_error());
    return 1;
}

int main(int argc, char **argv) {
    int64_t ns[16] = {128, 256, 512, 1024, 4096};
    int n_ns = 5, rounds = 5;
    long long block_pairs = 0, block_n = 0;
    double min_s = 0.05;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n")) {
            n_ns = 0;
            for (char *t = strtok(argv[i + 1], ","); t && n_ns < 16; t = strtok(NULL, ",")) ns[n_ns++] = atoll(t);
        } else if (!strcmp(argv[i], "-r")) {
            rounds = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "-t")) {
            min_s = atof(argv[i + 1]);
        } else if (!strcmp(argv[i], "-b") && sscanf(argv[i + 1], "%lld:%lld", &block_pairs, &block_n) == 2 &&
                   block_pairs > 0 && block_n > 0) {
        } else {
            fprintf(stderr, "usage: attn_bench [-n 128,256,...] [-r rounds] [-t seconds] | -b PAIRS:TOKENS [-r rounds]\n");
            return 2;
        }
    }
    omp_set_num_threads(1);
    if (block_pairs > 0) {
        for (int p = 0; p < 3; p++)
            if (block_bench((rerank_precision_t)p, block_pairs, block_n, rounds)) return 1;
        return 0;
    }
    double ceiling[3] = {0, 0, 0};
    const shape_t kinds[2] = {{0, 64, 1, 0}, {0, 128, 2, 1}};
    const char *names[2] = {"d=64 g=1 bidirectional", "d=128 g=2 causal"};
    double gflops[2][16][4];
    for (int kind = 0; kind < 2; kind++)
        for (int t = 0; t < n_ns; t++) {
            for (int p = 0; p < 3; p++) { /* the ceilings, again with every shape */
                double c;
                if (rr_gemm_ceiling((rerank_precision_t)p, 1024, 1024, 4096, 3, 1, &c)) {
                    fprintf(stderr, "attn_bench: GEMM ceiling: %s\n", rerank_last_error());
                    return 1;
                }
                ceiling[p] = c > ceiling[p] ? c : ceiling[p];
            }
            shape_t s = kinds[kind];
            s.n = ns[t];
            const size_t nd = (size_t)(s.n * s.d);
            bufs_t b = {0};
            b.q = malloc(nd * (size_t)s.g * sizeof(float));
            b.o = malloc(nd * (size_t)s.g * sizeof(float));
            b.k = malloc(nd * sizeof(float));
            b.v = malloc(nd * sizeof(float));
            b.old = malloc((size_t)(((s.n + 15) & ~15) * (s.d + RR_ATTN_QB)) * sizeof(float));
            for (int m = 0; m < 3; m++) {
                b.scratch_bytes[m] = rr_attn_scratch_size(s.n, s.d, (rerank_precision_t)m);
                b.scratch[m] = aligned_alloc(64, (b.scratch_bytes[m] + 63) & ~(size_t)63);
            }
            if (!b.q || !b.o || !b.k || !b.v || !b.old || !b.scratch[0] || !b.scratch[1] || !b.scratch[2]) {
                fprintf(stderr, "attn_bench: out of memory\n");
                return 1;
            }
            unsigned seed = 7;
            for (size_t i = 0; i < nd * (size_t)s.g; i++) b.q[i] = frand(&seed) * 2.0f;
            for (size_t i = 0; i < nd; i++) {
                b.k[i] = frand(&seed) * 2.0f;
                b.v[i] = frand(&seed);
            }
            double best[4] = {1e30, 1e30, 1e30, 1e30};
            for (int r = 0; r < rounds; r++)
                for (int v = 0; v < 4; v++) {
                    const double sec = time_one(&s, &b, v, min_s);
                    best[v] = sec < best[v] ? sec : best[v];
                }
            const double full = 4.0 * (double)s.n * (double)s.n * (double)s.d * (double)s.g;
            for (int v = 0; v < 4; v++) gflops[kind][t][v] = (v > 0 && s.causal ? full / 2 : full) / best[v] / 1e9;
            free(b.q); free(b.o); free(b.k); free(b.v); free(b.old);
            for (int m = 0; m < 3; m++) free(b.scratch[m]);
        }
    printf("one-thread GEMM ceiling (M=1024 K=1024 N=4096, best of the run): fp32 %.1f, bf16 %.1f, int8 %.1f GFLOP/s\n",
           ceiling[0], ceiling[1], ceiling[2]);
    printf("implementations: old %s; fp32 %s, bf16 %s, int8 %s\n", rr_kernels()->name,
           rr_attn_impl(RERANK_PRECISION_FP32)->name, rr_attn_impl(RERANK_PRECISION_BF16)->name,
           rr_attn_impl(RERANK_PRECISION_INT8)->name);
    printf("%-26s %6s | %-15s | %-15s | %-15s | %-15s\n", "shape", "n", "old fp32", "fp32", "bf16", "int8");
    printf("%-26s %6s | %-15s | %-15s | %-15s | %-15s\n", "", "", "GFLOP/s  frac", "GFLOP/s  frac", "GFLOP/s  frac",
           "GFLOP/s  frac");
    for (int kind = 0; kind < 2; kind++)
        for (int t = 0; t < n_ns; t++) {
            printf("%-26s %6lld |", names[kind], (long long)ns[t]);
            for (int v = 0; v < 4; v++)
                printf(" %7.1f  %4.2f |", gflops[kind][t][v], gflops[kind][t][v] / ceiling[v == 0 ? 0 : v - 1]);
            printf("\n");
        }
    return 0;
}
