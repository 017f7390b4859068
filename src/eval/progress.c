/* progress.c — stderr progress bar (see progress.h). */
#include "eval/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

static void draw(rr_progress_t *p, double now) {
    double el = now - p->start;
    double rate = el > 0 ? (double)p->done / el : 0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;
    int width = 30, fill = p->total ? (int)((double)width * (double)p->done / (double)p->total) : 0;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    char eta_s[32] = "--";
    if (rate > 0) snprintf(eta_s, sizeof eta_s, "%dm%02ds", (int)eta / 60, (int)eta % 60);
    fprintf(stderr, "\r%-16.16s [%s] %zu/%zu pairs  %.1f pairs/s  ETA %s ", p->label, bar,
            p->done, p->total, rate, eta_s);
    fflush(stderr);
    p->last_draw = now;
}

void rr_progress_start(rr_progress_t *p, size_t total, const char *label) {
    memset(p, 0, sizeof *p);
    p->enabled = isatty(STDERR_FILENO);
    p->total = total;
    p->start = rr_now_s();
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    if (p->enabled) draw(p, p->start);
}

void rr_progress_add(rr_progress_t *p, size_t n) {
    p->done += n;
    if (!p->enabled) return;
    double now = rr_now_s();
    if (now - p->last_draw >= 0.1 || p->done >= p->total) draw(p, now);
}

void rr_progress_end(rr_progress_t *p) {
    if (!p->enabled) return;
    fprintf(stderr, "\r%*s\r", 110, "");
    fflush(stderr);
    p->enabled = 0;
}
