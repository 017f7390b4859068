/* report.h — `rerank eval` results as a table (stdout) or one JSON object. */
#ifndef RR_EVAL_REPORT_H
#define RR_EVAL_REPORT_H

#include <stdio.h>

#include "eval/runner.h"

typedef struct rr_eval_report {
    const char *model_dir;  /* NULL with --first-stage-only */
    const char *data_path;
    const char *qrels_path; /* NULL for jsonl */
    const rr_eval_data_t *data;
    double rel_threshold;
    int32_t threads;
    size_t batch;
    size_t max_queries;
    rr_query_metrics_t first_stage;
    const rr_eval_run_t *runs; /* runs[0] is "reranked" (the reference) */
    size_t n_runs;             /* 0 with --first-stage-only              */
    int compare;               /* --compare given: list every run        */
} rr_eval_report_t;

/* How the first-stage order was obtained, in words. */
const char *rr_eval_first_stage_note(const rr_eval_data_t *d);

void rr_eval_report_table(FILE *f, const rr_eval_report_t *r);
/* Returns non-zero if the JSON could not be built or written. */
int rr_eval_report_json(FILE *f, const rr_eval_report_t *r);

#endif
