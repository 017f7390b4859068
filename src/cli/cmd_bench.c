/* cmd_bench.c — `rerank bench`: throughput on a standard workload.
 *
 *   rerank bench --model DIR --workload FILE:KEY [--precision P] [--threads N]
 *                [--layers N] [--runs R]
 *   rerank bench --model DIR --input FILE.jsonl ...   (text, tokenization included)
 *
 * Prints one JSON line: pairs_per_s (median of R runs after a warm-up),
 * pairs_per_s_min/max, tokens_per_s, gflops_per_s (useful FLOPs as in
 * ../shared/bench/README.md), gemm_ceiling_gflops (oneDNN GEMM M=8192,
 * K=1024, N=4096 at the same precision, measured in this run),
 * fraction_of_ceiling, peak_rss_mb, load_s; and where the time went, per
 * timed run (means): forward_s, gemm_s (inside the GEMM library),
 * attention_s, other_s (the rest: conversions, (de)quantization, GELU,
 * LayerNorm, embeddings; tokenization in text mode sits outside forward_s),
 * and linear_gflops_per_s (the linear layers' FLOPs over gemm_s: the GEMM
 * library's own speed inside the engine). */
#include <jansson.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/limits.h"
#include "engine/engine.h"
#include "engine/gemm.h"
#include "model/json_load.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: rerank bench --model DIR (--workload FILE:KEY | --input FILE.jsonl)\n"
            "                    [--precision fp32|bf16|int8] [--threads N] [--layers N] [--runs R]\n\n"
            "  --workload FILE:KEY  token-id workload, e.g. ../shared/bench/workloads.json:W1\n"
            "  --input FILE.jsonl   {\"query\", \"doc\"} lines: times tokenization + scoring\n"
            "  --runs R             timed runs after one warm-up (default 3); the median is reported\n");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct workload {
    rerank_pair_t *pairs; /* token mode */
    int32_t *ids;
    size_t n_pairs;
    /* text mode */
    char **queries, **docs;
    size_t *qlen, *dlen;
} workload_t;

static void workload_free(workload_t *w) {
    free(w->pairs);
    free(w->ids);
    for (size_t i = 0; w->queries && i < w->n_pairs; i++) { free(w->queries[i]); free(w->docs[i]); }
    free(w->queries); free(w->docs); free(w->qlen); free(w->dlen);
}

static int load_tokens(const char *spec, workload_t *w) {
    const char *colon = strrchr(spec, ':');
    if (!colon) { fprintf(stderr, "rerank bench: --workload expects FILE:KEY\n"); return 2; }
    char *file = strndup(spec, (size_t)(colon - spec));
    json_t *root = NULL;
    rerank_status_t st = file ? rr_json_parse_file(file, RR_MAX_DATA_FILE_BYTES, &root) : rr_error(RERANK_ERR_NOMEM, "out of memory");
    free(file);
    if (st) { fprintf(stderr, "rerank bench: %s: %s\n", spec, rerank_last_error()); return 1; }
    json_t *list = json_object_get(root, colon + 1);
    size_t total = 0, n = json_array_size(list);
    for (size_t i = 0; i < n; i++) total += json_array_size(json_array_get(list, i));
    if (!json_is_array(list) || n == 0) {
        fprintf(stderr, "rerank bench: %s: no workload named '%s'\n", spec, colon + 1);
        json_decref(root);
        return 1;
    }
    w->pairs = calloc(n, sizeof *w->pairs);
    w->ids = calloc(total ? total : 1, sizeof *w->ids);
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

static int load_text(const char *file, workload_t *w) {
    FILE *f = fopen(file, "r");
    if (!f) { fprintf(stderr, "rerank bench: cannot open %s\n", file); return 1; }
    char *line = NULL;
    size_t cap = 0, n = 0, alloc = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *r = json_loads(line, JSON_ALLOW_NUL, &e);
        json_t *q = json_object_get(r, "query"), *d = json_object_get(r, "doc");
        if (json_is_string(q) && json_is_string(d)) {
            if (n == alloc) {
                alloc = alloc ? 2 * alloc : 64;
                w->queries = realloc(w->queries, alloc * sizeof *w->queries);
                w->docs = realloc(w->docs, alloc * sizeof *w->docs);
                w->qlen = realloc(w->qlen, alloc * sizeof *w->qlen);
                w->dlen = realloc(w->dlen, alloc * sizeof *w->dlen);
            }
            w->qlen[n] = json_string_length(q);
            w->dlen[n] = json_string_length(d);
            w->queries[n] = malloc(w->qlen[n] + 1);
            w->docs[n] = malloc(w->dlen[n] + 1);
            memcpy(w->queries[n], json_string_value(q), w->qlen[n] + 1);
            memcpy(w->docs[n], json_string_value(d), w->dlen[n] + 1);
            n++;
        }
        json_decref(r);
    }
    free(line);
    fclose(f);
    w->n_pairs = n;
    if (!n) { fprintf(stderr, "rerank bench: %s has no {\"query\", \"doc\"} lines\n", file); return 1; }
    return 0;
}

/* One pass over the workload; text mode scores consecutive lines that share
 * a query in one call. */
static rerank_status_t run_once(rerank_model_t *m, const workload_t *w, const rerank_score_options_t *o, float *scores) {
    if (w->pairs) return rerank_score_tokens(m, w->pairs, w->n_pairs, o, scores);
    for (size_t a = 0; a < w->n_pairs;) {
        size_t b = a + 1;
        while (b < w->n_pairs && w->qlen[b] == w->qlen[a] && !memcmp(w->queries[b], w->queries[a], w->qlen[a])) b++;
        rerank_status_t st = rerank_score(m, w->queries[a], w->qlen[a], (const char *const *)w->docs + a, w->dlen + a,
                                          b - a, o, scores + a);
        if (st) return st;
        a = b;
    }
    return RERANK_OK;
}

/* Useful FLOPs of a pair of n tokens (../shared/bench/README.md): the
 * linear layers plus attention's two [n, n] x [n, d] products per head. */
static double attention_flops(const rerank_model_info_t *info, int32_t layers, double n) {
    return 2 * 2 * n * n * (double)info->hidden_size * layers;
}

static double pair_flops(const rerank_model_info_t *info, int32_t layers, double n) {
    double H = info->hidden_size, I = info->intermediate_size;
    return 2 * n * (4 * H * H + 2 * H * I) * layers + attention_flops(info, layers, n);
}

int rr_cmd_bench(int argc, char **argv) {
    const char *model_dir = NULL, *workload = NULL, *input = NULL, *prec = "fp32";
    int32_t threads = 0, layers = 0, runs = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (strncmp(a, "--", 2) || !(v = rr_cli_value("bench", argc, argv, &i))) { usage(stderr); return 2; }
        int bad = 0;
        if (!strcmp(a, "--model")) model_dir = v;
        else if (!strcmp(a, "--workload")) workload = v;
        else if (!strcmp(a, "--input")) input = v;
        else if (!strcmp(a, "--precision")) prec = v;
        else if (!strcmp(a, "--threads")) bad = rr_cli_int("bench", a, v, 0, RR_MAX_THREADS, &threads);
        else if (!strcmp(a, "--layers")) bad = rr_cli_int("bench", a, v, 0, 256, &layers);
        else if (!strcmp(a, "--runs")) bad = rr_cli_int("bench", a, v, 1, 1000, &runs);
        else { fprintf(stderr, "rerank bench: unknown option %s\n", a); usage(stderr); return 2; }
        if (bad) return 2;
    }
    if (!model_dir || (!workload == !input)) { usage(stderr); return 2; }
    rerank_model_options_t mo = rerank_model_options_default();
    if (rerank_precision_parse(prec, &mo.precision)) {
        fprintf(stderr, "rerank bench: unknown precision '%s' (fp32, bf16, int8)\n", prec);
        return 2;
    }
    mo.threads = threads;

    workload_t w = {0};
    int rc = workload ? load_tokens(workload, &w) : load_text(input, &w);
    if (rc) { workload_free(&w); return rc; }

    char resolved[4096];
    if (rr_cli_model_dir("bench", model_dir, resolved, sizeof resolved)) { workload_free(&w); return 1; }
    double t0 = rr_now_s();
    rerank_model_t *m = NULL;
    if (rerank_model_load(resolved, &mo, &m) != RERANK_OK) {
        fprintf(stderr, "rerank bench: %s\n", rerank_last_error());
        workload_free(&w);
        return 1;
    }
    double load_s = rr_now_s() - t0;
    rerank_model_info_t info;
    rerank_model_get_info(m, &info);
    rerank_score_options_t o = rerank_score_options_default();
    o.layers = layers;
    int32_t run_layers = layers ? layers : info.num_layers;

    float *scores = calloc(w.n_pairs, sizeof *scores);
    double *times = calloc((size_t)runs, sizeof *times);
    rerank_status_t st = run_once(m, &w, &o, scores); /* warm-up */
    rr_profile_t prof0, prof1;
    rr_model_profile(m, &prof0);
    for (int r = 0; r < runs && !st; r++) {
        double a = rr_now_s();
        st = run_once(m, &w, &o, scores);
        times[r] = rr_now_s() - a;
    }
    if (st) {
        fprintf(stderr, "rerank bench: %s\n", rerank_last_error());
        rerank_model_free(m);
        workload_free(&w);
        free(scores); free(times);
        return 1;
    }
    rr_model_profile(m, &prof1);
    /* Token counts: from the workload, or re-tokenized for text mode. */
    double tokens = 0, flops = 0, attn_flops = 0;
    if (w.pairs) {
        for (size_t i = 0; i < w.n_pairs; i++) {
            tokens += w.pairs[i].n;
            flops += pair_flops(&info, run_layers, w.pairs[i].n);
            attn_flops += attention_flops(&info, run_layers, w.pairs[i].n);
        }
    } else {
        rerank_encoding_t enc = {0};
        for (size_t i = 0; i < w.n_pairs; i++)
            if (!rerank_tokenize_pair(rerank_model_tokenizer(m), w.queries[i], w.qlen[i], w.docs[i], w.dlen[i],
                                      info.max_positions < RR_DEFAULT_MAX_LENGTH ? info.max_positions : RR_DEFAULT_MAX_LENGTH, RERANK_TRUNC_FLAG, &enc)) {
                tokens += (double)enc.n;
                flops += pair_flops(&info, run_layers, (double)enc.n);
                attn_flops += attention_flops(&info, run_layers, (double)enc.n);
            }
        rerank_encoding_free(&enc);
    }
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    double med = runs % 2 ? times[runs / 2] : 0.5 * (times[runs / 2 - 1] + times[runs / 2]);
    /* Peak RSS of loading and scoring, read before the ceiling GEMMs below
     * allocate their own operands (≈170 MB at M = 8192 in fp32). */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* The ceiling (M = 8192), and the same GEMM at the rows one call of this
     * workload gives the linear layers (its tokens per scoring call): what
     * the GEMM library itself reaches at that size. */
    const int nthr = threads ? threads : omp_get_num_procs();
    double ceiling = 0, at_m = 0;
    size_t calls = 1;
    for (size_t i = 1; !w.pairs && i < w.n_pairs; i++)
        calls += w.qlen[i] != w.qlen[i - 1] || memcmp(w.queries[i], w.queries[i - 1], w.qlen[i]);
    int64_t batch_m = (int64_t)(tokens / (double)calls + 0.5);
    if (batch_m > 8192) batch_m = 8192;
    if (batch_m < 1) batch_m = 1;
    if (rr_gemm_ceiling(mo.precision, 8192, 1024, 4096, 10, nthr, &ceiling) ||
        rr_gemm_ceiling(mo.precision, batch_m, 1024, 4096, 3, nthr, &at_m))
        fprintf(stderr, "rerank bench: GEMM ceiling: %s\n", rerank_last_error());
    double gflops = flops / med / 1e9;
    printf("{\"model\": ");
    rr_cli_json_string(stdout, model_dir, strlen(model_dir));
    printf(", \"workload\": ");
    const char *wname = workload ? workload : input;
    rr_cli_json_string(stdout, wname, strlen(wname));
    rerank_model_info_t mi;
    rerank_model_get_info(m, &mi);
    printf(", \"compute\": \"%s\"", mi.compute);
    printf(", \"precision\": \"%s\", \"threads\": %d, \"layers\": %d, \"runs\": %d, \"pairs\": %zu, \"tokens\": %.0f"
           ", \"pairs_per_s\": %.4f, \"pairs_per_s_min\": %.4f, \"pairs_per_s_max\": %.4f, \"tokens_per_s\": %.1f"
           ", \"gflops_per_s\": %.2f, \"gemm_ceiling_gflops\": %.2f, \"fraction_of_ceiling\": %.4f"
           ", \"gemm_batch_m\": %lld, \"gemm_at_batch_m_gflops\": %.2f, \"peak_rss_mb\": %.1f, \"load_s\": %.3f",
           rerank_precision_str(mo.precision), nthr, run_layers, runs, w.n_pairs, tokens, (double)w.n_pairs / med,
           (double)w.n_pairs / times[runs - 1], (double)w.n_pairs / times[0], tokens / med, gflops, ceiling,
           ceiling > 0 ? gflops / ceiling : 0.0, (long long)batch_m, at_m, (double)ru.ru_maxrss / 1024.0, load_s);
    const double fwd = (prof1.forward_s - prof0.forward_s) / runs, gemm = (prof1.gemm_s - prof0.gemm_s) / runs,
                 attn = (prof1.attention_s - prof0.attention_s) / runs;
    printf(", \"forward_s\": %.4f, \"gemm_s\": %.4f, \"attention_s\": %.4f, \"other_s\": %.4f"
           ", \"linear_gflops_per_s\": %.2f}\n",
           fwd, gemm, attn, fwd - gemm - attn, gemm > 0 ? (flops - attn_flops) / gemm / 1e9 : 0.0);
    rerank_model_free(m);
    workload_free(&w);
    free(scores);
    free(times);
    return 0;
}
