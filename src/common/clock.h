/* clock.h — the monotonic clock every module times with (seconds as a double). */
#ifndef RR_CLOCK_H
#define RR_CLOCK_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC: only differences mean anything; never jumps
 * with the wall clock. */
double rr_now_s(void);

/* The CLOCK_MONOTONIC timespec of time t (a value of rr_now_s(), e.g. now +
 * a timeout), for pthread_cond_timedwait on a condition variable whose clock
 * is CLOCK_MONOTONIC. t below 0 gives 0. */
struct timespec rr_clock_timespec(double t);

#endif
