/* svg.h — the speed/quality plot of `rerank eval --plot`: a self-contained
 * SVG 1.1 document, pairs/s on x, nDCG@10 or top-1 agreement on y, one
 * labelled point (<circle>) per configuration that ran, axes with ticks.
 * Configurations that failed are listed under the plot instead. */
#ifndef RR_EVAL_SVG_H
#define RR_EVAL_SVG_H

#include <stdio.h>

#include "eval/runner.h"

typedef enum rr_plot_y {
    RR_PLOT_NDCG = 0,
    RR_PLOT_AGREEMENT = 1,
} rr_plot_y_t;

rerank_status_t rr_eval_svg_write(FILE *f, const rr_eval_run_t *runs, size_t n, rr_plot_y_t y);
rerank_status_t rr_eval_svg_save(const char *path, const rr_eval_run_t *runs, size_t n,
                                 rr_plot_y_t y);

/* Tick positions for [lo, hi]: a 1/2/5 x 10^k step giving about `want`
 * ticks; writes at most `max` values, returns how many. */
size_t rr_nice_ticks(double lo, double hi, size_t want, double *ticks, size_t max);

#endif
