/* progress.h — a one-line progress bar on stderr (pairs done, pairs/s, ETA),
 * drawn only when stderr is a terminal and at most ~10 times a second. */
#ifndef RR_EVAL_PROGRESS_H
#define RR_EVAL_PROGRESS_H

#include <stddef.h>

typedef struct rr_progress {
    int enabled;
    size_t total, done;
    double start, last_draw;
    char label[64];
} rr_progress_t;

void rr_progress_start(rr_progress_t *p, size_t total, const char *label);
void rr_progress_add(rr_progress_t *p, size_t n);
/* Erase the bar (call before printing anything else, and at the end). */
void rr_progress_end(rr_progress_t *p);

#endif
