/* clock.c — the monotonic clock (see clock.h). */
#include "common/clock.h"

double rr_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct timespec rr_clock_timespec(double t) {
    struct timespec ts = {0, 0};
    if (!(t > 0)) return ts;
    ts.tv_sec = (time_t)t;
    long ns = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ns >= 1000000000L) ns = 999999999L;
    if (ns < 0) ns = 0;
    ts.tv_nsec = ns;
    return ts;
}
