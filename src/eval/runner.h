/* runner.h — scoring a data set with the model under one or more
 * configurations, for `rerank eval`.
 *
 * Pairs are scored query by query with rerank_score (all candidates of a
 * query in one call, or chunks of `batch`), raw logits (normalize = 0). The
 * model is loaded once per distinct precision; layers and max_length are
 * per-call score options. Each configuration scores the data set `runs`
 * times (after one untimed warm-up call); its speed is the median pass and
 * the spread the slowest and fastest. A configuration whose model fails to
 * load or score records the error and the others still run. */
#ifndef RR_EVAL_RUNNER_H
#define RR_EVAL_RUNNER_H

#include "eval/config.h"
#include "eval/data.h"
#include "eval/evaluate.h"

typedef struct rr_eval_run {
    rr_eval_config_t cfg;
    int ok;                  /* 1 when every pair was scored           */
    char error[512];         /* why not, when !ok                      */
    double *scores;          /* data->n_pairs scores (flat), owned     */
    size_t pairs;            /* pairs scored (per pass)                */
    double seconds;          /* wall time of the median pass            */
    double pairs_per_s;      /* of the median pass                      */
    double pairs_per_s_min, pairs_per_s_max; /* slowest, fastest pass    */
    int runs;                /* timed passes                            */
    int32_t model_layers;    /* encoder layers of the loaded model      */
    char compute[16];        /* what the linear layers computed in      */
    char device[32];         /* where: "cpu", "cuda:0"                  */
    rr_query_metrics_t quality;
    int has_agreement;       /* agreement with runs[0] computed         */
    rr_eval_agreement_t agree;
} rr_eval_run_t;

#define RR_EVAL_MAX_RUNS 100

typedef struct rr_eval_runner_opts {
    const char *model_dir;
    int32_t threads;     /* 0 = all cores */
    size_t batch;        /* 0 = all candidates of a query per call */
    double rel_threshold;
    const char *device;  /* NULL = the CPU */
    int runs;            /* timed passes, 1..RR_EVAL_MAX_RUNS (0 = 1) */
    const char *instruction; /* an LLM reranker's task instruction (NULL: its default) */
} rr_eval_runner_opts_t;

/* Score `d` with the model under one configuration (already loaded). */
rerank_status_t rr_eval_score(rerank_model_t *model, const rr_eval_data_t *d,
                              const rr_eval_config_t *cfg, size_t batch, const char *instruction,
                              double *scores, double *seconds);

/* Run runs[0..n) (their cfg set by the caller): load, score, measure, and
 * compare each with runs[0]. Returns the number of runs that succeeded. */
size_t rr_eval_run_all(const rr_eval_runner_opts_t *o, const rr_eval_data_t *d,
                       rr_eval_run_t *runs, size_t n);

void rr_eval_runs_free(rr_eval_run_t *runs, size_t n);

#endif
