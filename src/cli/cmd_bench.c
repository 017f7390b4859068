/* cmd_bench.c — `rerank bench`: throughput on a standard workload, in three
 * steps: parse the arguments, measure (load the workload and the model,
 * time the runs, count the work, time the bare GEMM ceiling), report (one
 * JSON line). The fields are described by `rerank bench --help` and the
 * README ("Performance"): pairs_per_s is the median of --runs timed runs
 * after a warm-up; forward_s / gemm_s / attention_s / other_s are means
 * per timed run from the engine's profile (engine/bench_api.h). */
#include <jansson.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/model_notes.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/limits.h"
#include "engine/bench_api.h"
#include "model/json_load.h"

#define MAX_LINE_BYTES (2 * (size_t)RR_MAX_TEXT_BYTES + 4096)

typedef struct bench_args {
    const char *model, *workload, *input, *precision, *device, *shared_prefix;
    int32_t threads, layers, runs;
    rerank_model_options_t mo;
} bench_args_t;

typedef struct workload {
    rerank_pair_t *pairs; /* token mode: pairs[i].ids point into ids */
    int32_t *ids;
    size_t n_pairs;
    /* text mode: lines of {"query", "doc"} */
    char **queries, **docs;
    size_t *qlen, *dlen, cap;
} workload_t;

/* A GEMM ceiling: its GFLOP/s (0: not measured) and the row count M that gave it. */
typedef struct ceiling {
    double gflops;
    int64_t m;
} ceiling_t;

/* What one bench run found. */
typedef struct measurement {
    rerank_model_info_t info; /* its strings are only valid while loaded */
    char compute[16], device[32]; /* kept from info for the report     */
    int shared_prefix;     /* info.shared_prefix                          */
    int32_t layers;        /* layers run                                  */
    double load_s;
    double *times;         /* seconds of each timed run, sorted           */
    double tokens, flops, attn_flops;
    size_t calls;          /* scoring calls per run                       */
    rr_profile_t before, after;
    double peak_rss_mb;
    int64_t batch_m;       /* tokens per scoring call, capped at 8192     */
    ceiling_t ceiling_before, ceiling_after, ceiling; /* before / after the runs; the larger */
    double at_m;           /* the ceiling GEMM's GFLOP/s at batch_m       */
    int threads;
} measurement_t;

/* ---- parse -------------------------------------------------------------- */

static const char k_about[] =
    "Measure throughput on a standard workload and print one JSON line.";

static const char k_fields[] =
    "output (one JSON object): model, workload, compute (what the linear layers ran in), precision,\n"
    "device, threads, layers, runs, pairs, tokens; pairs_per_s (median of the timed runs) and its\n"
    "pairs_per_s_min / _max; tokens_per_s; gflops_per_s (useful FLOPs, ../shared/bench/README.md);\n"
    "gemm_ceiling_gflops (the bare oneDNN GEMM K=1024 N=4096 at the same precision on model-like\n"
    "pseudo-random values, the faster of M=8192 and M=1024 (the rows of one layer group),\n"
    "gemm_ceiling_m says which; measured in this run\n"
    "before loading and after the runs: the larger, as gemm_ceiling_before_gflops and _after_gflops\n"
    "say) and fraction_of_ceiling; gemm_batch_m and gemm_at_batch_m_gflops (that GEMM at the\n"
    "workload's tokens per scoring call); peak_rss_mb (loading and scoring); load_s; gemm_layout (CPU:\n"
    "\"blocked\", oneDNN's brgemm weight layout with a primitive per M, or \"plain\"); and per timed\n"
    "run: forward_s, gemm_s (inside the GEMM library), attention_s, other_s (the rest: conversions,\n"
    "(de)quantization, GELU, LayerNorm, embeddings) and linear_gflops_per_s (linear-layer FLOPs computed\n"
    "over gemm_s). shared_prefix (a causal model computing shared prompt prefixes once), tokens_computed,\n"
    "flops_prompt (every pair's full prompt: what gflops_per_s counts), flops_computed and\n"
    "computed_fraction (their ratio), per timed run; gemm_inputs_staged (GEMM inputs converted or\n"
    "quantized by the step before them while its rows were in cache, per run); gemm_shapes (CPU: gemm_s\n"
    "by layer shape, per run: in, out, precision, calls, s, gflops of the rows asked for). A model with\n"
    "sliding-window layers (ModernBERT) adds attention_local_s and attention_global_s (attention_s\n"
    "split by kind of layer) and local_layers / global_layers.\n"
    "Text mode (--input) times tokenization too; it sits outside forward_s.";

/* Returns -1 to go on, else the exit status. */
static int parse(int argc, char **argv, bench_args_t *a) {
    const rr_cli_opt_t opts[] = {
        RR_CLI_OPT_MODEL(&a->model),
        {"--workload", RR_CLI_STR, &a->workload, "FILE:KEY",
         "token-id workload, e.g. ../shared/bench/workloads.json:W1", 0, 0},
        {"--input", RR_CLI_STR, &a->input, "FILE.jsonl",
         "{\"query\", \"doc\"} lines: times tokenization + scoring (lines with the\nsame query in a row are one "
         "scoring call)", 0, 0},
        RR_CLI_OPT_PRECISION(&a->precision),
        RR_CLI_OPT_DEVICE(&a->device),
        RR_CLI_OPT_SHARED_PREFIX(&a->shared_prefix),
        RR_CLI_OPT_THREADS(&a->threads),
        RR_CLI_OPT_LAYERS(&a->layers),
        {"--runs", RR_CLI_INT, &a->runs, "R", "timed runs after one warm-up (default 3); the median is reported", 1,
         1000},
    };
    const rr_cli_spec_t spec = {"bench", "--model DIR (--workload FILE:KEY | --input FILE.jsonl) [options]", k_about,
                                opts, sizeof opts / sizeof *opts, k_fields};
    int rc = rr_cli_parse(&spec, argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    if (!a->model || !a->workload == !a->input) {
        fprintf(stderr, "rerank bench: need --model and one of --workload FILE:KEY or --input FILE.jsonl "
                        "(rerank bench --help)\n");
        return 2;
    }
    a->mo = rerank_model_options_default();
    a->mo.threads = a->threads;
    if (rerank_precision_parse(a->precision, &a->mo.precision) != RERANK_OK) {
        fprintf(stderr, "rerank bench: --precision: %s\n", rerank_last_error());
        return 2;
    }
    if (rr_cli_shared_prefix("bench", a->shared_prefix, &a->mo.shared_prefix)) return 2;
    return rr_cli_device("bench", a->device, &a->mo.device) ? 2 : -1;
}

/* ---- workload ----------------------------------------------------------- */

static void workload_free(workload_t *w) {
    rr_free(w->pairs);
    rr_free(w->ids);
    for (size_t i = 0; w->queries && i < w->n_pairs; i++) {
        rr_free(w->queries[i]);
        rr_free(w->docs[i]);
    }
    rr_free(w->queries);
    rr_free(w->docs);
    rr_free(w->qlen);
    rr_free(w->dlen);
    memset(w, 0, sizeof *w);
}

static int out_of_memory(void) {
    fprintf(stderr, "rerank bench: out of memory\n");
    return 1;
}

/* Token ids from FILE:KEY (a JSON object of lists of id lists). */
static int load_tokens(const char *spec, workload_t *w) {
    const char *colon = strrchr(spec, ':');
    if (!colon) { fprintf(stderr, "rerank bench: --workload expects FILE:KEY\n"); return 2; }
    char *file = rr_strndup(spec, (size_t)(colon - spec));
    if (!file) return out_of_memory();
    json_t *root = NULL;
    rerank_status_t st = rr_json_parse_file(file, RR_MAX_DATA_FILE_BYTES, &root);
    rr_free(file);
    if (st) { fprintf(stderr, "rerank bench: %s: %s\n", spec, rerank_last_error()); return 1; }
    json_t *list = json_object_get(root, colon + 1);
    size_t total = 0, n = json_array_size(list);
    if (!json_is_array(list) || n == 0) {
        fprintf(stderr, "rerank bench: %s: no workload named '%s'\n", spec, colon + 1);
        json_decref(root);
        return 1;
    }
    for (size_t i = 0; i < n; i++) total += json_array_size(json_array_get(list, i));
    w->pairs = rr_calloc(n, sizeof *w->pairs);
    w->ids = rr_calloc(total ? total : 1, sizeof *w->ids);
    if (!w->pairs || !w->ids) { json_decref(root); return out_of_memory(); }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(list, i);
        w->pairs[i] = (rerank_pair_t){w->ids + at, NULL, (int32_t)json_array_size(p)};
        for (size_t j = 0; j < json_array_size(p); j++) w->ids[at++] = (int32_t)json_integer_value(json_array_get(p, j));
    }
    w->n_pairs = n;
    json_decref(root);
    return 0;
}

/* Append one (query, doc) line to a text workload; -1 when out of memory. */
static int add_text(workload_t *w, json_t *q, json_t *d) {
    if (w->n_pairs == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        char **nq = rr_realloc(w->queries, cap * sizeof *nq);
        if (nq) w->queries = nq;
        char **nd = nq ? rr_realloc(w->docs, cap * sizeof *nd) : NULL;
        if (nd) w->docs = nd;
        size_t *nql = nd ? rr_realloc(w->qlen, cap * sizeof *nql) : NULL;
        if (nql) w->qlen = nql;
        size_t *ndl = nql ? rr_realloc(w->dlen, cap * sizeof *ndl) : NULL;
        if (!ndl) return -1;
        w->dlen = ndl;
        w->cap = cap;
    }
    size_t i = w->n_pairs;
    w->qlen[i] = json_string_length(q);
    w->dlen[i] = json_string_length(d);
    w->queries[i] = rr_malloc(w->qlen[i] + 1);
    w->docs[i] = rr_malloc(w->dlen[i] + 1);
    w->n_pairs++; /* counted now, so workload_free releases what was allocated */
    if (!w->queries[i] || !w->docs[i]) return -1;
    memcpy(w->queries[i], json_string_value(q), w->qlen[i] + 1);
    memcpy(w->docs[i], json_string_value(d), w->dlen[i] + 1);
    return 0;
}

static int load_text(const char *file, workload_t *w) {
    FILE *f = rr_cli_open_input("bench", file);
    if (!f) return 1;
    char *line = NULL;
    size_t cap = 0;
    long n;
    int rc = 0;
    while (!rc && (n = rr_cli_getline(f, &line, &cap, MAX_LINE_BYTES)) != -1) {
        json_t *r = n >= 0 ? json_loadb(line, (size_t)n, JSON_ALLOW_NUL, NULL) : NULL;
        json_t *q = json_object_get(r, "query"), *d = json_object_get(r, "doc");
        if (json_is_string(q) && json_is_string(d) && add_text(w, q, d)) rc = out_of_memory();
        json_decref(r);
    }
    rr_free(line);
    rr_cli_close(f);
    if (!rc && !w->n_pairs) {
        fprintf(stderr, "rerank bench: %s has no {\"query\", \"doc\"} lines\n", file);
        rc = 1;
    }
    return rc;
}

/* Text mode: lines [a, end) share a's query. */
static size_t same_query_end(const workload_t *w, size_t a) {
    size_t b = a + 1;
    while (b < w->n_pairs && w->qlen[b] == w->qlen[a] && !memcmp(w->queries[b], w->queries[a], w->qlen[a])) b++;
    return b;
}

/* ---- measure ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One pass over the workload; text mode scores consecutive lines that share
 * a query in one call. */
static rerank_status_t run_once(rerank_model_t *m, const workload_t *w, const rerank_score_options_t *o, float *scores) {
    if (w->pairs) return rerank_score_tokens(m, w->pairs, w->n_pairs, o, scores);
    for (size_t a = 0, b; a < w->n_pairs; a = b) {
        b = same_query_end(w, a);
        rerank_status_t st = rerank_score(m, w->queries[a], w->qlen[a], (const char *const *)w->docs + a,
                                          w->dlen + a, b - a, o, scores + a);
        if (st) return st;
    }
    return RERANK_OK;
}

/* Useful FLOPs of a pair of n tokens (../shared/bench/README.md,
 * README-qwen3.md): the linear layers as bound (grouped-query, gated),
 * attention's two [n, n] x [n, d] products per head (half for a decoder),
 * the head. */
static void count_pair(rerank_model_t *m, measurement_t *r, double n) {
    rr_pair_flops_t f;
    rr_model_pair_flops(m, r->layers, n, &f);
    r->tokens += n;
    r->flops += f.linear + f.attention + f.head;
    r->attn_flops += f.attention;
}

/* Tokens and FLOPs of one run: from the workload, or re-tokenized. */
static void count_work(rerank_model_t *m, const workload_t *w, const rerank_score_options_t *o, measurement_t *r) {
    r->calls = 1;
    if (w->pairs) {
        for (size_t i = 0; i < w->n_pairs; i++) count_pair(m, r, w->pairs[i].n);
        return;
    }
    rerank_encoding_t enc = {0};
    for (size_t i = 0; i < w->n_pairs; i++)
        if (!rerank_model_tokenize_pair(m, w->queries[i], w->qlen[i], w->docs[i], w->dlen[i], &o->pair, &enc))
            count_pair(m, r, (double)enc.n);
    rerank_encoding_free(&enc);
    r->calls = 0;
    for (size_t a = 0; a < w->n_pairs; a = same_query_end(w, a)) r->calls++;
}

/* The warm-up and the timed runs. Returns 0 or 1 (message printed). */
static int time_runs(rerank_model_t *m, const workload_t *w, const bench_args_t *a, measurement_t *r) {
    rerank_score_options_t o = rerank_score_options_default();
    o.layers = a->layers;
    float *scores = rr_calloc(w->n_pairs, sizeof *scores);
    if (!scores) return out_of_memory();
    rerank_status_t st = run_once(m, w, &o, scores); /* warm-up */
    rr_model_profile(m, &r->before);
    for (int i = 0; i < a->runs && !st; i++) {
        double t = rr_now_s();
        st = run_once(m, w, &o, scores);
        r->times[i] = rr_now_s() - t;
    }
    rr_free(scores);
    if (st) {
        fprintf(stderr, "rerank bench: %s\n", rerank_last_error());
        return 1;
    }
    rr_model_profile(m, &r->after);
    qsort(r->times, (size_t)a->runs, sizeof *r->times, cmp_double);
    count_work(m, w, &o, r);
    return 0;
}

/* The ceiling: the bare GEMM K = 1024, N = 4096 at M = 8192 (best of 10)
 * and at M = 1024 (best of 20, the same rows of work about), the faster of
 * the two, and which M gave it. The engine's layer groups run GEMMs of
 * about 1024 rows (512 tokens per thread); where the library is much
 * faster at that size than at 8192 (oneDNN 2.6's AMX matmul on a 2-core
 * Xeon: int8 4.1-4.6 TFLOP/s at M = 1024, 2.1-2.5 at 8192), a ceiling of
 * M = 8192 alone read in-engine GEMMs above the ceiling and W1 fractions
 * near 1 with 46 % of forward_s outside the GEMMs. */
static rerank_status_t ceiling(const bench_args_t *a, const measurement_t *r, ceiling_t *c) {
    double big = 0, group = 0;
    rerank_status_t st = rr_gemm_ceiling(a->mo.precision, 8192, 1024, 4096, 10, r->threads, &big);
    if (!st) st = rr_gemm_ceiling(a->mo.precision, 1024, 1024, 4096, 20, r->threads, &group);
    *c = group > big ? (ceiling_t){group, 1024} : (ceiling_t){big, 8192};
    return st;
}

/* The ceiling before the model is loaded. A CPU that slows
 * under sustained load (turbo budgets; AMX on shared hosts: 3.0 TFLOP/s
 * int8 cool, 1.9 after a Qwen3 run) would otherwise be judged against a
 * ceiling measured in another state than its runs; the larger of before
 * and after is the ceiling. Measured in a child process (nothing has
 * started threads yet), so this process's peak RSS stays the model's. */
static void measure_ceiling_before(const bench_args_t *a, measurement_t *r) {
    int fd[2];
    if (pipe(fd)) return;
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        ceiling_t got;
        if (ceiling(a, r, &got)) got.gflops = 0;
        _exit(write(fd[1], &got, sizeof got) == (ssize_t)sizeof got ? 0 : 1);
    }
    close(fd[1]);
    ceiling_t got;
    if (pid > 0 && read(fd[0], &got, sizeof got) == (ssize_t)sizeof got && got.gflops > 0) r->ceiling_before = got;
    if (pid > 0) waitpid(pid, NULL, 0);
    close(fd[0]);
}

/* The ceiling after the runs, and the same GEMM at the rows one call of
 * this workload gives the linear layers (its tokens per scoring call):
 * what the GEMM library itself reaches at that size. */
static void measure_ceiling(const bench_args_t *a, measurement_t *r) {
    r->batch_m = (int64_t)(r->tokens / (double)r->calls + 0.5);
    if (r->batch_m > 8192) r->batch_m = 8192;
    if (r->batch_m < 1) r->batch_m = 1;
    if (ceiling(a, r, &r->ceiling_after) ||
        rr_gemm_ceiling(a->mo.precision, r->batch_m, 1024, 4096, 3, r->threads, &r->at_m))
        fprintf(stderr, "rerank bench: GEMM ceiling: %s\n", rerank_last_error());
    r->ceiling = r->ceiling_after.gflops > r->ceiling_before.gflops ? r->ceiling_after : r->ceiling_before;
}

/* Load, time, count. Returns 0 or the exit status. */
static int measure(const bench_args_t *a, const workload_t *w, measurement_t *r) {
    r->threads = a->threads ? a->threads : omp_get_num_procs();
    measure_ceiling_before(a, r);
    double t0 = rr_now_s();
    rerank_model_t *m = NULL;
    if (rr_cli_load_model("bench", a->model, &a->mo, &m)) return 1;
    r->load_s = rr_now_s() - t0;
    rerank_model_get_info(m, &r->info);
    int rc = rr_cli_check_layers("bench", &r->info, a->layers) ? 2 : 0;
    r->layers = a->layers ? a->layers : r->info.num_layers;
    if (!rc) rc = time_runs(m, w, a, r);
    /* Peak RSS of loading and scoring, read before the ceiling GEMMs
     * allocate their own operands (≈170 MB at M = 8192 in fp32). */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->peak_rss_mb = (double)ru.ru_maxrss / 1024.0;
    snprintf(r->compute, sizeof r->compute, "%s", r->info.compute);
    r->shared_prefix = r->info.shared_prefix;
    snprintf(r->device, sizeof r->device, "%s", r->info.device);
    rerank_model_free(m);
    if (!rc) measure_ceiling(a, r);
    return rc;
}

/* ---- report ------------------------------------------------------------- */

/* gemm_s by layer shape, per timed run: [{"in", "out", "precision",
 * "calls", "s", "gflops"}] (CPU: shapes that ran in the timed runs). */
static void report_gemm_shapes(const measurement_t *r, int runs) {
    const rr_profile_t *pa = &r->after, *pb = &r->before;
    printf(", \"gemm_shapes\": [");
    int n = 0;
    for (int i = 0; i < pa->n_gemm_shapes; i++) {
        rr_gemm_shape_stat_t d = pa->gemm_shapes[i];
        for (int j = 0; j < pb->n_gemm_shapes; j++)
            if (pb->gemm_shapes[j].in == d.in && pb->gemm_shapes[j].out == d.out &&
                pb->gemm_shapes[j].precision == d.precision) {
                d.calls -= pb->gemm_shapes[j].calls;
                d.seconds -= pb->gemm_shapes[j].seconds;
                d.flops -= pb->gemm_shapes[j].flops;
            }
        if (d.calls <= 0) continue;
        printf("%s{\"in\": %d, \"out\": %d, \"precision\": \"%s\", \"calls\": %.0f, \"s\": %.6f, \"gflops\": %.2f}",
               n++ ? ", " : "", d.in, d.out, rerank_precision_str(d.precision), (double)d.calls / runs, d.seconds / runs,
               d.seconds > 0 ? d.flops / d.seconds / 1e9 : 0.0);
    }
    printf("]");
}

static void report(const bench_args_t *a, const workload_t *w, const measurement_t *r) {
    const int runs = a->runs;
    const double med = runs % 2 ? r->times[runs / 2] : 0.5 * (r->times[runs / 2 - 1] + r->times[runs / 2]);
    const double gflops = r->flops / med / 1e9, pairs = (double)w->n_pairs;
    const char *wname = a->workload ? a->workload : a->input;
    printf("{\"model\": ");
    rr_cli_json_string(stdout, a->model, strlen(a->model));
    printf(", \"workload\": ");
    rr_cli_json_string(stdout, wname, strlen(wname));
    printf(", \"compute\": \"%s\", \"device\": \"%s\"", r->compute, r->device);
    printf(", \"gemm_ceiling_before_gflops\": %.2f, \"gemm_ceiling_after_gflops\": %.2f, \"gemm_ceiling_m\": %lld",
           r->ceiling_before.gflops, r->ceiling_after.gflops, (long long)r->ceiling.m);
    printf(", \"precision\": \"%s\", \"threads\": %d, \"layers\": %d, \"runs\": %d, \"pairs\": %zu, \"tokens\": %.0f"
           ", \"pairs_per_s\": %.4f, \"pairs_per_s_min\": %.4f, \"pairs_per_s_max\": %.4f, \"tokens_per_s\": %.1f"
           ", \"gflops_per_s\": %.2f, \"gemm_ceiling_gflops\": %.2f, \"fraction_of_ceiling\": %.4f"
           ", \"gemm_batch_m\": %lld, \"gemm_at_batch_m_gflops\": %.2f, \"peak_rss_mb\": %.1f, \"load_s\": %.3f",
           rerank_precision_str(a->mo.precision), r->threads, r->layers, runs, w->n_pairs, r->tokens, pairs / med,
           pairs / r->times[runs - 1], pairs / r->times[0], r->tokens / med, gflops, r->ceiling.gflops,
           r->ceiling.gflops > 0 ? gflops / r->ceiling.gflops : 0.0, (long long)r->batch_m, r->at_m, r->peak_rss_mb, r->load_s);
    if (!strcmp(r->device, "cpu")) {
        const char *layout = rr_gemm_layout(a->mo.precision, 1024, 4096);
        printf(", \"gemm_layout\": \"%s\"", layout ? layout : "unknown");
    }
    const double fwd = (r->after.forward_s - r->before.forward_s) / runs,
                 gemm = (r->after.gemm_s - r->before.gemm_s) / runs,
                 attn = (r->after.attention_s - r->before.attention_s) / runs;
    /* What the engine computed per run (less than the prompts' FLOPs when
     * shared prefixes are computed once) */
    const rr_work_t *wa = &r->after.work, *wb = &r->before.work;
    const double tok_done = (wa->tokens_computed - wb->tokens_computed) / runs,
                 lin_done = (wa->computed.linear - wb->computed.linear) / runs,
                 flops_done = lin_done + (wa->computed.attention - wb->computed.attention) / runs +
                              (wa->computed.head - wb->computed.head) / runs;
    printf(", \"shared_prefix\": %s, \"tokens_computed\": %.0f, \"flops_prompt\": %.4g, \"flops_computed\": %.4g"
           ", \"computed_fraction\": %.4f",
           r->shared_prefix ? "true" : "false", tok_done, r->flops, flops_done, r->flops > 0 ? flops_done / r->flops : 0.0);
    /* microseconds: a tiny model's GEMMs take tens of them per pass */
    printf(", \"forward_s\": %.6f, \"gemm_s\": %.6f, \"attention_s\": %.6f, \"other_s\": %.6f"
           ", \"linear_gflops_per_s\": %.2f",
           fwd, gemm, attn, fwd - gemm - attn, gemm > 0 ? lin_done / gemm / 1e9 : 0.0);
    printf(", \"gemm_inputs_staged\": %.0f",
           (double)(r->after.gemm_inputs_staged - r->before.gemm_inputs_staged) / runs);
    report_gemm_shapes(r, runs);
    /* Local (windowed) vs global layers: each kind's share of attention_s
     * and of the layers run (every layer runs the same groups). */
    const int64_t calls = r->after.attention_calls - r->before.attention_calls,
                  local = r->after.attention_local_calls - r->before.attention_local_calls;
    if (local > 0 && calls > 0) {
        const double loc = (r->after.attention_local_s - r->before.attention_local_s) / runs;
        const int32_t ll = (int32_t)((double)r->layers * (double)local / (double)calls + 0.5);
        printf(", \"attention_local_s\": %.6f, \"attention_global_s\": %.6f, \"local_layers\": %d"
               ", \"global_layers\": %d",
               loc, attn - loc, ll, r->layers - ll);
    }
    printf("}\n");
}

int rr_cmd_bench(int argc, char **argv) {
    bench_args_t a = {.precision = "fp32", .runs = 3};
    int rc = parse(argc, argv, &a);
    if (rc >= 0) return rc;
    workload_t w = {0};
    measurement_t r = {0};
    rc = a.workload ? load_tokens(a.workload, &w) : load_text(a.input, &w);
    if (!rc && !(r.times = rr_calloc((size_t)a.runs, sizeof *r.times))) rc = out_of_memory();
    if (!rc) rc = measure(&a, &w, &r);
    if (!rc) report(&a, &w, &r);
    rr_free(r.times);
    workload_free(&w);
    return rc;
}
