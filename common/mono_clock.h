/* The one monotonic clock every program uses for rates and timeouts. */
#ifndef INGOT_MONO_CLOCK_H
#define INGOT_MONO_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Seconds since an arbitrary fixed point; CLOCK_MONOTONIC (vDSO, cheap
 * enough per document or per step; never jumps with the wall clock). */
static inline double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The same clock in integer nanoseconds, for values kept in atomics. */
static inline int64_t mono_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
