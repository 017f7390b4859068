/* evaluate.c — dataset-level metrics and agreement (see evaluate.h). */
#include "eval/evaluate.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

static size_t max_candidates(const rr_eval_data_t *d) {
    size_t m = 1;
    for (size_t i = 0; i < d->n_queries; i++)
        if (d->queries[i].n > m) m = d->queries[i].n;
    return m;
}

rerank_status_t rr_eval_quality(const rr_eval_data_t *d, const double *scores,
                                double rel_threshold, rr_query_metrics_t *out) {
    memset(out, 0, sizeof *out);
    size_t *order = rr_malloc(max_candidates(d) * sizeof *order);
    if (!order) return rr_error(RERANK_ERR_NOMEM, "out of memory");
    rr_metrics_sum_t sum = {0};
    size_t off = 0;
    for (size_t i = 0; i < d->n_queries; i++) {
        const rr_eval_query_t *q = &d->queries[i];
        rr_ranked_list_t l = {
            .n = q->n,
            .scores = scores ? scores + off : q->first_scores,
            .docids = (const char *const *)q->docids,
            .grades = q->grades,
            .n_judged = q->n_judged,
            .judged = q->judged,
        };
        rr_query_metrics_t m;
        rr_query_metrics(&l, rel_threshold, order, &m);
        rr_metrics_add(&sum, &m);
        off += q->n;
    }
    rr_free(order);
    rr_metrics_mean(&sum, out);
    return RERANK_OK;
}

rerank_status_t rr_eval_agreement(const rr_eval_data_t *d, const double *ref,
                                  const double *scores, rr_eval_agreement_t *out) {
    memset(out, 0, sizeof *out);
    size_t mc = max_candidates(d);
    size_t *oa = rr_malloc(mc * sizeof *oa), *ob = rr_malloc(mc * sizeof *ob);
    if (!oa || !ob) {
        rr_free(oa);
        rr_free(ob);
        return rr_error(RERANK_ERR_NOMEM, "out of memory");
    }
    double same_top = 0, tau_sum = 0, maxd = 0;
    size_t off = 0;
    for (size_t i = 0; i < d->n_queries; i++) {
        const rr_eval_query_t *q = &d->queries[i];
        const char *const *ids = (const char *const *)q->docids;
        rr_rank_order(q->n, ref + off, ids, oa);
        rr_rank_order(q->n, scores + off, ids, ob);
        same_top += q->n > 0 && oa[0] == ob[0];
        double tau;
        if (rr_kendall_tau_b(q->n, ref + off, scores + off, &tau) == 0) {
            tau_sum += tau;
            out->tau_queries++;
        }
        for (size_t k = 0; k < q->n; k++) {
            double diff = fabs(scores[off + k] - ref[off + k]);
            if (isnan(diff)) diff = INFINITY;
            if (diff > maxd) maxd = diff;
        }
        off += q->n;
    }
    rr_free(oa);
    rr_free(ob);
    out->top1 = d->n_queries ? same_top / (double)d->n_queries : 0;
    out->kendall_tau = out->tau_queries ? tau_sum / (double)out->tau_queries : NAN;
    out->max_abs_diff = maxd;
    return RERANK_OK;
}
