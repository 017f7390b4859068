/* eval_main.c — `rerank eval`: ranking quality of the first stage and of the
 * reranker on labelled data, and speed/quality trade-offs (--compare).
 * Argument handling and orchestration only; the parts live in data.c,
 * metrics.c, evaluate.c, runner.c, report.c, svg.c, config.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/model_notes.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "eval/config.h"
#include "eval/data.h"
#include "eval/evaluate.h"
#include "eval/report.h"
#include "eval/runner.h"
#include "eval/svg.h"
#include "hub/hub.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: rerank eval --data FILE (--model DIR | --first-stage-only) [options]\n"
        "\n"
        "Measures nDCG@10, MRR@10, Recall@100 and top-1 accuracy of the first-stage\n"
        "order and of the reranked order.\n"
        "\n"
        "  --data FILE          TREC DL results ([{query, hits:[{qid, docid, rank, score,\n"
        "                       content}]}]) or JSONL ({query, docs, labels} or\n"
        "                       {query, pos, neg} per line)\n"
        "  --qrels FILE         TREC DL judgments {qid: {docid: grade}}; default: the\n"
        "                       data file name with retrieve_results_ -> qrels_\n"
        "  --format F           trec-dl | jsonl (default: detected from the file)\n"
        "  --model DIR          Hugging Face model directory\n"
        "  --first-stage-only   evaluate the first-stage order only (no model)\n"
        "  --precision P        fp32 | bf16 | int8 (default fp32); where the device has no\n"
        "                       such path it computes in another one (stderr and the table say so)\n"
        "  --device D           cpu (default), cuda or cuda:N (builds with make CUDA=1);\n"
        "                       env RERANK_DEVICE, the flag wins\n"
        "  --layers N           run only the first N encoder layers\n"
        "  --max-length N       pair length cap in tokens (default: model's, 512)\n"
        "  --instruction S      task instruction of an LLM reranker's prompt (Qwen3-Reranker;\n"
        "                       default: the model card's); a cross-encoder takes none\n"
        "  --max-queries N      evaluate only the first N judged queries\n"
        "  --threads N          worker threads (default: all cores)\n"
        "  --batch N            pairs per scoring call (default: all candidates of a query)\n"
        "  --runs N             timed passes over the data per configuration (default 1):\n"
        "                       pairs/s is the median pass, the spread the slowest..fastest\n"
        "  --rel-threshold G    relevant = grade >= G, G > 0 (default 2 for trec-dl, 1 for\n"
        "                       jsonl); unjudged documents are never relevant\n"
        "  --compare LIST       configurations to compare on the same pairs, comma-\n"
        "                       separated; each is '+'-joined settings fp32|bf16|int8,\n"
        "                       layers=N, max_length=N, base (over --precision/--layers/\n"
        "                       --max-length), e.g. \"fp32,bf16,int8,layers=12,bf16+layers=12\".\n"
        "                       The first is the reference for top-1 agreement, Kendall\n"
        "                       tau-b and max |score difference|.\n"
        "  --plot FILE.svg      write pairs/s vs nDCG@10 (one point per configuration)\n"
        "  --plot-y Y           ndcg (default) | agreement\n"
        "  --json               one JSON object on stdout instead of the table\n"
        "\n"
        "Conventions (trec_eval): nDCG gains are the grades, log2(rank+1) discount, ideal\n"
        "DCG over all judged documents; ties by docid descending; queries not in the\n"
        "qrels are skipped; judged queries without relevant documents count as 0.\n"
        "pos/neg JSONL has no first stage: its first-stage order is a deterministic\n"
        "shuffle (a chance baseline). A progress bar goes to stderr when it is a terminal.\n");
}

typedef struct eval_args {
    const char *model, *data, *qrels, *compare, *plot, *device, *instruction;
    rr_eval_format_t format;
    rr_eval_config_t base;
    long max_queries, threads, batch, runs;
    double rel_threshold;
    int has_rel_threshold, json, first_stage_only;
    rr_plot_y_t plot_y;
} eval_args_t;

/* Value of option `name` at argv[*i] ("--name V" or "--name=V"); NULL if
 * argv[*i] is another option. Sets *missing when the value is absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n)) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n]) return NULL;
    if (*i + 1 >= argc) { *missing = 1; return NULL; }
    return argv[++*i];
}

static int bad(const char *opt, const char *val, const char *want) {
    fprintf(stderr, "rerank eval: %s '%s': expected %s\n", opt, val, want);
    return 2;
}

/* --rel-threshold G: a finite G > 0. Unjudged candidates are stored with
 * grade 0 (data.h), so a threshold <= 0 would make every unjudged document
 * "relevant" for MRR and top-1, where trec_eval never counts a document
 * outside the qrels as relevant at any -l level; +-inf would leave no
 * relevant document at all (and cannot be written as JSON). */
static int parse_rel_threshold(const char *v, double *out) {
    char *end;
    double g = strtod(v, &end);
    if (end == v || *end || !isfinite(g) || !(g > 0)) return -1;
    *out = g;
    return 0;
}

static int parse_args(int argc, char **argv, eval_args_t *a) {
    memset(a, 0, sizeof *a);
    a->base.precision = RERANK_PRECISION_FP32;
    a->runs = 1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int missing = 0;
        long n;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return -1; }
        else if (!strcmp(argv[i], "--json")) a->json = 1;
        else if (!strcmp(argv[i], "--first-stage-only")) a->first_stage_only = 1;
        else if ((v = opt_value(argc, argv, &i, "--model", &missing))) a->model = v;
        else if ((v = opt_value(argc, argv, &i, "--data", &missing))) a->data = v;
        else if ((v = opt_value(argc, argv, &i, "--qrels", &missing))) a->qrels = v;
        else if ((v = opt_value(argc, argv, &i, "--compare", &missing))) a->compare = v;
        else if ((v = opt_value(argc, argv, &i, "--device", &missing))) a->device = v;
        else if ((v = opt_value(argc, argv, &i, "--instruction", &missing))) a->instruction = v;
        else if ((v = opt_value(argc, argv, &i, "--runs", &missing))) {
            if (rr_eval_parse_int(v, 1, RR_EVAL_MAX_RUNS, &a->runs)) return bad("--runs", v, "1..100");
        }
        else if ((v = opt_value(argc, argv, &i, "--plot-y", &missing))) {
            if (!strcmp(v, "ndcg")) a->plot_y = RR_PLOT_NDCG;
            else if (!strcmp(v, "agreement")) a->plot_y = RR_PLOT_AGREEMENT;
            else return bad("--plot-y", v, "ndcg or agreement");
        } else if ((v = opt_value(argc, argv, &i, "--plot", &missing))) a->plot = v;
        else if ((v = opt_value(argc, argv, &i, "--format", &missing))) {
            if (rr_eval_format_parse(v, &a->format)) return bad("--format", v, "trec-dl or jsonl");
        } else if ((v = opt_value(argc, argv, &i, "--precision", &missing))) {
            if (rr_eval_precision_parse(v, &a->base.precision))
                return bad("--precision", v, "fp32, bf16 or int8");
        } else if ((v = opt_value(argc, argv, &i, "--layers", &missing))) {
            if (rr_eval_parse_int(v, 1, RR_MAX_LAYERS, &n)) return bad("--layers", v, "1..256");
            a->base.layers = (int32_t)n;
        } else if ((v = opt_value(argc, argv, &i, "--max-length", &missing))) {
            if (rr_eval_parse_int(v, 2, RR_MAX_SEQ_TOKENS, &n))
                return bad("--max-length", v, "2..8192");
            a->base.max_length = (int32_t)n;
        } else if ((v = opt_value(argc, argv, &i, "--max-queries", &missing))) {
            if (rr_eval_parse_int(v, 1, RR_EVAL_MAX_QUERIES, &a->max_queries))
                return bad("--max-queries", v, "a positive integer");
        } else if ((v = opt_value(argc, argv, &i, "--threads", &missing))) {
            if (rr_eval_parse_int(v, 0, RR_MAX_THREADS, &a->threads)) return bad("--threads", v, "0.." RR_LIMIT_STR(RR_MAX_THREADS));
        } else if ((v = opt_value(argc, argv, &i, "--batch", &missing))) {
            if (rr_eval_parse_int(v, 1, RR_EVAL_MAX_CANDIDATES, &a->batch))
                return bad("--batch", v, "a positive integer");
        } else if ((v = opt_value(argc, argv, &i, "--rel-threshold", &missing))) {
            if (parse_rel_threshold(v, &a->rel_threshold))
                return bad("--rel-threshold", v,
                           "a finite number > 0 (grade 0 and unjudged documents are never relevant)");
            a->has_rel_threshold = 1;
        } else {
            if (missing) fprintf(stderr, "rerank eval: %s needs a value\n", argv[i]);
            else fprintf(stderr, "rerank eval: unknown option '%s'\n", argv[i]);
            fprintf(stderr, "run 'rerank eval --help' for usage\n");
            return 2;
        }
    }
    if (!a->data) {
        fprintf(stderr, "rerank eval: --data FILE is required (rerank eval --help)\n");
        return 2;
    }
    if (!a->model && !a->first_stage_only) {
        fprintf(stderr, "rerank eval: --model DIR is required (or --first-stage-only)\n");
        return 2;
    }
    if (!a->first_stage_only && rr_cli_device("eval", a->device, &a->device)) return 2;
    if (a->first_stage_only && (a->compare || a->plot)) {
        fprintf(stderr, "rerank eval: --compare and --plot need a model, not --first-stage-only\n");
        return 2;
    }
    return 0;
}

static int run(const eval_args_t *a) {
    rr_eval_format_t fmt = a->format;
    char *qrels_owned = NULL;
    const char *qrels = a->qrels;
    rr_eval_data_t data = {0};
    rr_eval_config_t cfgs[RR_EVAL_MAX_CONFIGS];
    rr_eval_run_t *runs = NULL;
    size_t n_cfg = 0;
    int rc = 1;

    if (!a->first_stage_only) {
        if (a->compare) {
            if (rr_eval_parse_compare(a->compare, &a->base, cfgs, &n_cfg)) {
                fprintf(stderr, "rerank eval: %s\n", rerank_last_error());
                rc = 2;
                goto out;
            }
        } else {
            cfgs[0] = a->base;
            rr_eval_config_name(&cfgs[0]);
            n_cfg = 1;
        }
    }
    if (fmt == RR_EVAL_FMT_AUTO && rr_eval_detect_format(a->data, &fmt)) goto err;
    if (fmt == RR_EVAL_FMT_JSONL) qrels = NULL;
    else if (!qrels && !(qrels = qrels_owned = rr_eval_default_qrels(a->data))) goto err;
    if (rr_eval_data_load(a->data, qrels, fmt, &data)) goto err;
    rr_eval_data_truncate(&data, (size_t)a->max_queries);
    double thr = a->has_rel_threshold ? a->rel_threshold : data.default_rel_threshold;

    char resolved[4096];
    if (!a->first_stage_only && a->model) {
        /* a directory as is, or a Hub id ORG/NAME from the cache (or downloaded) */
        if (rr_hub_resolve(a->model, resolved, sizeof resolved) != RERANK_OK) goto err;
    }
    rr_eval_report_t rep = {
        .model_dir = a->first_stage_only || !a->model ? NULL : resolved,
        .data_path = a->data,
        .qrels_path = qrels,
        .data = &data,
        .rel_threshold = thr,
        .threads = (int32_t)a->threads,
        .batch = (size_t)a->batch,
        .max_queries = (size_t)a->max_queries,
        .compare = a->compare != NULL,
    };
    if (rr_eval_quality(&data, NULL, thr, &rep.first_stage)) goto err;
    if (n_cfg) {
        runs = rr_calloc(n_cfg, sizeof *runs);
        if (!runs) { rr_error(RERANK_ERR_NOMEM, "out of memory"); goto err; }
        for (size_t i = 0; i < n_cfg; i++) runs[i].cfg = cfgs[i];
        rr_eval_runner_opts_t ro = {resolved, (int32_t)a->threads, (size_t)a->batch, thr, a->device, (int)a->runs,
                                    a->instruction};
        rr_eval_run_all(&ro, &data, runs, n_cfg);
        for (size_t i = 0; i < n_cfg; i++)
            if (!runs[i].ok) fprintf(stderr, "rerank eval: %s: %s\n", runs[i].cfg.name, runs[i].error);
        rep.runs = runs;
        rep.n_runs = n_cfg;
    }
    rc = n_cfg == 0 || runs[0].ok ? 0 : 1;
    if (a->plot && rr_eval_svg_save(a->plot, runs, n_cfg, a->plot_y)) {
        fprintf(stderr, "rerank eval: %s\n", rerank_last_error());
        rc = 1;
    }
    if (a->json) {
        if (rr_eval_report_json(stdout, &rep)) {
            fprintf(stderr, "rerank eval: could not write the JSON report\n");
            rc = 1;
        }
    } else {
        rr_eval_report_table(stdout, &rep);
    }
    if (fflush(stdout) != 0) rc = 1;
    goto out;
err:
    fprintf(stderr, "rerank eval: %s\n", rerank_last_error());
    rc = 1;
out:
    if (runs) rr_eval_runs_free(runs, n_cfg);
    rr_free(runs);
    rr_eval_data_release(&data);
    rr_free(qrels_owned);
    return rc;
}

int rr_cmd_eval(int argc, char **argv) {
    eval_args_t a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    rr_alloc_init_json();
    return run(&a);
}
