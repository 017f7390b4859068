/* evaluate.h — dataset-level quality and agreement figures for `rerank eval`.
 *
 * Scores for a whole data set are one flat array of data->n_pairs doubles:
 * query 0's candidates first, in their stored order, then query 1's, etc.
 * Metrics are means over the data set's queries (see metrics.h for each
 * metric's convention).
 */
#ifndef RR_EVAL_EVALUATE_H
#define RR_EVAL_EVALUATE_H

#include "eval/data.h"
#include "eval/metrics.h"

/* Mean metrics of ranking every query by `scores` (flat, see above); NULL
 * scores = the first-stage scores stored in the data. */
rerank_status_t rr_eval_quality(const rr_eval_data_t *d, const double *scores,
                                double rel_threshold, rr_query_metrics_t *out);

typedef struct rr_eval_agreement {
    double top1;          /* fraction of queries with the same top document   */
    double kendall_tau;   /* mean tau-b over queries where it is defined, NaN
                             when it is defined for none                       */
    size_t tau_queries;   /* queries in that mean                              */
    double max_abs_diff;  /* max |score - reference score| over all pairs      */
} rr_eval_agreement_t;

/* Agreement of `scores` with `ref` (both flat). */
rerank_status_t rr_eval_agreement(const rr_eval_data_t *d, const double *ref,
                                  const double *scores, rr_eval_agreement_t *out);

#endif
