/* svg.c — speed/quality scatter plot as SVG (see svg.h). */
#include "eval/svg.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "common/error.h"

#define W 760.0
#define H 500.0
#define ML 80.0  /* margins: left, right, top, bottom */
#define MR 40.0
#define MT 50.0
#define MB 70.0

size_t rr_nice_ticks(double lo, double hi, size_t want, double *ticks, size_t max) {
    if (!(hi > lo) || want == 0 || max == 0) return 0;
    double raw = (hi - lo) / (double)want;
    double mag = pow(10.0, floor(log10(raw)));
    double step = mag;
    if (raw / mag > 5) step = 10 * mag;
    else if (raw / mag > 2) step = 5 * mag;
    else if (raw / mag > 1) step = 2 * mag;
    size_t n = 0;
    for (double t = ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9 && n < max; t += step)
        ticks[n++] = fabs(t) < step * 1e-9 ? 0.0 : t;
    return n;
}

static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static double yval(const rr_eval_run_t *r, rr_plot_y_t y) {
    if (y == RR_PLOT_AGREEMENT) return r->has_agreement ? r->agree.top1 : NAN;
    return r->quality.ndcg10;
}

/* Padded axis range around [lo, hi]. */
static void pad_range(double *lo, double *hi, double floor_lo) {
    double span = *hi - *lo;
    if (span <= 0) span = fabs(*hi) > 0 ? fabs(*hi) * 0.2 : 1.0;
    *lo -= span * 0.15;
    *hi += span * 0.15;
    if (*lo < floor_lo) *lo = floor_lo;
}

rerank_status_t rr_eval_svg_write(FILE *f, const rr_eval_run_t *runs, size_t n, rr_plot_y_t y) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    size_t pts = 0;
    for (size_t i = 0; i < n; i++) {
        double yv = yval(&runs[i], y);
        if (!runs[i].ok || !isfinite(yv)) continue;
        pts++;
        x0 = fmin(x0, runs[i].pairs_per_s);
        x1 = fmax(x1, runs[i].pairs_per_s);
        y0 = fmin(y0, yv);
        y1 = fmax(y1, yv);
    }
    if (pts == 0) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    pad_range(&x0, &x1, 0.0);
    pad_range(&y0, &y1, 0.0);
    if (y1 > 1.0 && y0 < 1.0) y1 = fmax(1.0, y1 - (y1 - 1.0) * 0.5);
    const char *ylab = y == RR_PLOT_AGREEMENT ? "top-1 agreement with the reference" : "nDCG@10";
    double pw = W - ML - MR, ph = H - MT - MB;
#define PX(v) (ML + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (MT + ph - ((v) - y0) / (y1 - y0) * ph)
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
               "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n", W, H, W, H);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">rerank eval: "
               "pairs/s vs ", W / 2);
    xml_text(f, ylab);
    fprintf(f, "</text>\n");
    /* axes */
    fprintf(f, "<g stroke=\"black\" stroke-width=\"1\">\n");
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", ML, MT + ph, ML + pw, MT + ph);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", ML, MT, ML, MT + ph);
    fprintf(f, "</g>\n");
    double t[32];
    size_t nt = rr_nice_ticks(x0, x1, 6, t, 32);
    fprintf(f, "<g class=\"xticks\">\n");
    for (size_t i = 0; i < nt; i++) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>",
                PX(t[i]), MT + ph, PX(t[i]), MT + ph + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", PX(t[i]),
                MT + ph + 19, t[i]);
    }
    fprintf(f, "</g>\n<g class=\"yticks\">\n");
    nt = rr_nice_ticks(y0, y1, 6, t, 32);
    for (size_t i = 0; i < nt; i++) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>",
                ML, PY(t[i]), ML + pw, PY(t[i]));
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>",
                ML - 5, PY(t[i]), ML, PY(t[i]));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", ML - 8,
                PY(t[i]) + 4, t[i]);
    }
    fprintf(f, "</g>\n");
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">pairs/s</text>\n", ML + pw / 2,
            H - 28);
    fprintf(f, "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.1f)\">",
            MT + ph / 2, MT + ph / 2);
    xml_text(f, ylab);
    fprintf(f, "</text>\n<g class=\"points\">\n");
    for (size_t i = 0; i < n; i++) {
        double yv = yval(&runs[i], y);
        if (!runs[i].ok || !isfinite(yv)) continue;
        double px = PX(runs[i].pairs_per_s), py = PY(yv);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>", px, py,
                i == 0 ? "#d62728" : "#1f77b4");
        xml_text(f, runs[i].cfg.name);
        fprintf(f, ": %.1f pairs/s, %.4f</title></circle>", runs[i].pairs_per_s, yv);
        /* labels near the right edge go to the left of their point */
        if (px > W - MR - 160)
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", px - 8, py - 8);
        else
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", px + 8, py - 8);
        xml_text(f, runs[i].cfg.name);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n");
    int first_failed = 1;
    for (size_t i = 0; i < n; i++) {
        if (runs[i].ok && isfinite(yval(&runs[i], y))) continue;
        if (first_failed)
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#888\">not plotted (no result): ", ML,
                    H - 8);
        else
            fputs(", ", f);
        xml_text(f, runs[i].cfg.name);
        first_failed = 0;
    }
    if (!first_failed) fputs("</text>\n", f);
    fprintf(f, "</svg>\n");
#undef PX
#undef PY
    return ferror(f) ? rr_error(RERANK_ERR_IO, "writing the SVG failed") : RERANK_OK;
}

rerank_status_t rr_eval_svg_save(const char *path, const rr_eval_run_t *runs, size_t n,
                                 rr_plot_y_t y) {
    FILE *f = fopen(path, "w");
    if (!f) return rr_error(RERANK_ERR_IO, "%s: %s", path, strerror(errno));
    rerank_status_t st = rr_eval_svg_write(f, runs, n, y);
    if (fclose(f) != 0 && !st) st = rr_error(RERANK_ERR_IO, "%s: %s", path, strerror(errno));
    if (st) rr_error_prefix("%s", path);
    return st;
}
