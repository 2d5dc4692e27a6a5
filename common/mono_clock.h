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

/* The process's CPU use over an interval of wall time (--profile's "% of a
 * core", per step): start it, then each read gives the interval since the
 * previous read (or the start) and starts the next. */
struct cpu_meter {
    double wall, cpu;   /* mono_now() and proc_cpu_s() at the interval's start */
};

static inline void cpu_meter_start(struct cpu_meter *m)
{
    m->wall = mono_now();
    m->cpu = proc_cpu_s();
}

/* The CPU time as % of one core over the interval, its wall seconds in
 * *wall_s; -1 for both when no time passed. */
static inline double cpu_meter_read(struct cpu_meter *m, double *wall_s)
{
    const double now = mono_now(), cpu = proc_cpu_s(), wall = now - m->wall;
    const double pct = wall > 0.0 ? 100.0 * (cpu - m->cpu) / wall : -1.0;
    *wall_s = wall > 0.0 ? wall : -1.0;
    m->wall = now;
    m->cpu = cpu;
    return pct;
}

#endif
