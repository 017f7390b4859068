/* metrics.c — nDCG / MRR / recall / top-1 / Kendall tau-b (see metrics.h). */
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const double *scores;
    const char *const *docids;
} rank_ctx_t;

/* NaN ranks below every number so a broken score cannot reorder the rest. */
static int cmp_score_desc(double a, double b) {
    int na = isnan(a), nb = isnan(b);
    if (na || nb) return na - nb;
    return a > b ? -1 : a < b ? 1 : 0;
}

static int cmp_rank(const void *pa, const void *pb, void *pctx) {
    const rank_ctx_t *c = pctx;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int r = cmp_score_desc(c->scores[a], c->scores[b]);
    if (r) return r;
    if (c->docids) {
        r = strcmp(c->docids[b], c->docids[a]); /* docid descending */
        if (r) return r;
    }
    return a < b ? -1 : a > b ? 1 : 0;
}

void rr_rank_order(size_t n, const double *scores, const char *const *docids, size_t *order) {
    for (size_t i = 0; i < n; i++) order[i] = i;
    rank_ctx_t ctx = {scores, docids};
    if (n > 1) qsort_r(order, n, sizeof *order, cmp_rank, &ctx);
}

static double gain(double g) { return g > 0 ? g : 0; }

double rr_ndcg_at(const rr_ranked_list_t *l, const size_t *order, size_t k) {
    double dcg = 0;
    for (size_t r = 0; r < k && r < l->n; r++)
        dcg += gain(l->grades[order[r]]) / log2((double)r + 2.0);
    /* Ideal DCG over the k best judged grades: a partial selection keeps
     * this O(n_judged * k) without allocating. */
    double idcg = 0, prev = INFINITY;
    size_t taken = 0;
    while (taken < k) {
        /* next largest grade strictly below `prev`, with its multiplicity;
         * equal-to-prev values were all taken in the previous round */
        double best = -INFINITY;
        size_t cnt = 0;
        for (size_t i = 0; i < l->n_judged; i++) {
            double g = gain(l->judged[i]);
            if (g >= prev) continue;
            if (g > best) { best = g; cnt = 1; }
            else if (g == best) cnt++;
        }
        if (cnt == 0 || best <= 0) break;
        for (size_t j = 0; j < cnt && taken < k; j++, taken++)
            idcg += best / log2((double)taken + 2.0);
        prev = best;
    }
    return idcg > 0 ? dcg / idcg : 0.0;
}

double rr_mrr_at(const rr_ranked_list_t *l, const size_t *order, size_t k, double thr) {
    for (size_t r = 0; r < k && r < l->n; r++)
        if (l->grades[order[r]] >= thr) return 1.0 / (double)(r + 1);
    return 0.0;
}

double rr_recall_at(const rr_ranked_list_t *l, const size_t *order, size_t k, double thr) {
    size_t num_rel = 0, hit = 0;
    for (size_t i = 0; i < l->n_judged; i++) num_rel += l->judged[i] >= thr;
    if (num_rel == 0) return 0.0;
    for (size_t r = 0; r < k && r < l->n; r++) hit += l->grades[order[r]] >= thr;
    if (hit > num_rel) hit = num_rel; /* duplicate candidates cannot exceed 1 */
    return (double)hit / (double)num_rel;
}

double rr_top1(const rr_ranked_list_t *l, const size_t *order, double thr) {
    return l->n > 0 && l->grades[order[0]] >= thr ? 1.0 : 0.0;
}

void rr_query_metrics(const rr_ranked_list_t *l, double thr, size_t *order,
                      rr_query_metrics_t *out) {
    rr_rank_order(l->n, l->scores, l->docids, order);
    out->ndcg10 = rr_ndcg_at(l, order, 10);
    out->mrr10 = rr_mrr_at(l, order, 10, thr);
    out->recall100 = rr_recall_at(l, order, 100, thr);
    out->top1 = rr_top1(l, order, thr);
}

static int sgn(double d) { return (d > 0) - (d < 0); }

int rr_kendall_tau_b(size_t n, const double *x, const double *y, double *tau) {
    if (n < 2) return -1;
    double conc = 0, disc = 0, tx = 0, ty = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            int dx = sgn(x[i] - x[j]), dy = sgn(y[i] - y[j]);
            if (dx == 0) tx++;
            if (dy == 0) ty++;
            if (dx * dy > 0) conc++;
            else if (dx * dy < 0) disc++;
        }
    }
    double n0 = (double)n * (double)(n - 1) / 2.0;
    double den = (n0 - tx) * (n0 - ty);
    if (!(den > 0)) return -1;
    *tau = (conc - disc) / sqrt(den);
    return 0;
}

void rr_metrics_add(rr_metrics_sum_t *s, const rr_query_metrics_t *m) {
    s->queries++;
    s->sum.ndcg10 += m->ndcg10;
    s->sum.mrr10 += m->mrr10;
    s->sum.recall100 += m->recall100;
    s->sum.top1 += m->top1;
}

void rr_metrics_mean(const rr_metrics_sum_t *s, rr_query_metrics_t *out) {
    memset(out, 0, sizeof *out);
    if (s->queries == 0) return;
    double q = (double)s->queries;
    out->ndcg10 = s->sum.ndcg10 / q;
    out->mrr10 = s->sum.mrr10 / q;
    out->recall100 = s->sum.recall100 / q;
    out->top1 = s->sum.top1 / q;
}
