/* metrics.h — ranking-quality and agreement metrics for `rerank eval`.
 *
 * Conventions (they follow trec_eval 9.x so published figures reproduce):
 *  - Ranking rule: candidates are sorted by score descending; equal scores
 *    are broken by document id descending (strcmp order), which is what
 *    trec_eval does when it reads a run. The rule is deterministic and
 *    independent of the order the candidates were given in.
 *  - nDCG@k: gain = the judged grade itself (grades < 0 count as 0),
 *    discount log2(rank + 1) with rank starting at 1, no "2^g - 1". The ideal
 *    DCG is computed from ALL judged documents of the query (not only the
 *    retrieved ones). A query whose judged grades are all 0 has nDCG 0 and is
 *    still counted in the mean. Unjudged documents have grade 0.
 *  - "Relevant" for the binary metrics (MRR, recall, top-1) means
 *    grade >= rel_threshold. The relevance threshold does not change the
 *    nDCG gains (as in trec_eval, where -l only affects binary measures).
 *    rel_threshold must be > 0: unjudged candidates carry grade 0 here, and
 *    trec_eval never counts a document outside the qrels as relevant
 *    (`rerank eval --rel-threshold` refuses G <= 0).
 *  - MRR@k: 1/rank of the first relevant document within the first k, else 0.
 *  - Recall@k: relevant documents within the first k / relevant judged
 *    documents of the query; 0 when the query has no relevant document.
 *  - Top-1: 1 if the first document is relevant, else 0.
 *  - Kendall tau-b with ties (see rr_kendall_tau_b).
 */
#ifndef RR_EVAL_METRICS_H
#define RR_EVAL_METRICS_H

#include <stddef.h>

/* One candidate list as the metrics see it. */
typedef struct rr_ranked_list {
    size_t n;                  /* candidates                                   */
    const double *scores;      /* n scores (higher = better)                   */
    const char *const *docids; /* n document ids for tie-breaking (may be NULL:
                                  ties then keep the given order)               */
    const double *grades;      /* n grades of the candidates (unjudged = 0)    */
    size_t n_judged;           /* judged documents of the query (qrels)        */
    const double *judged;      /* their grades, any order (for the ideal DCG)  */
} rr_ranked_list_t;

typedef struct rr_query_metrics {
    double ndcg10;
    double mrr10;
    double recall100;
    double top1;
} rr_query_metrics_t;

/* Fill order[0..n) with candidate indices in ranking order (rule above). */
void rr_rank_order(size_t n, const double *scores, const char *const *docids, size_t *order);

/* Metrics of one ranked list; `order` is the result of rr_rank_order. */
double rr_ndcg_at(const rr_ranked_list_t *l, const size_t *order, size_t k);
double rr_mrr_at(const rr_ranked_list_t *l, const size_t *order, size_t k, double rel_threshold);
double rr_recall_at(const rr_ranked_list_t *l, const size_t *order, size_t k,
                    double rel_threshold);
double rr_top1(const rr_ranked_list_t *l, const size_t *order, double rel_threshold);

/* All four standard metrics at once. `order` is scratch of l->n entries. */
void rr_query_metrics(const rr_ranked_list_t *l, double rel_threshold, size_t *order,
                      rr_query_metrics_t *out);

/* Kendall tau-b between two score vectors of the same n candidates:
 * (concordant - discordant) / sqrt((n0 - tx) (n0 - ty)), n0 = n(n-1)/2,
 * tx / ty = pairs tied in x / y. Returns 0 and sets *tau, or -1 when tau-b
 * is undefined (n < 2, or every pair tied in x or in y). O(n^2). */
int rr_kendall_tau_b(size_t n, const double *x, const double *y, double *tau);

/* Accumulates per-query metrics into means. */
typedef struct rr_metrics_sum {
    size_t queries;
    rr_query_metrics_t sum;
} rr_metrics_sum_t;

void rr_metrics_add(rr_metrics_sum_t *s, const rr_query_metrics_t *m);
/* Means (all 0 when no query was added). */
void rr_metrics_mean(const rr_metrics_sum_t *s, rr_query_metrics_t *out);

#endif
