/* The one monotonic clock every program uses for rates and timeouts, and
 * the process's CPU time beside it (--profile's "% of a core"). */
#ifndef INGOT_MONO_CLOCK_H
#define INGOT_MONO_CLOCK_H

#include <stdint.h>
#include <sys/resource.h>
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

/* CPU seconds the process has used, user and system, all its threads
 * (getrusage): over a wall interval, the cores it kept busy. */
static inline double proc_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

#endif
