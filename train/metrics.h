/* --metrics FILE: JSON Lines, one object per optimizer step
 *   {"step", "loss", "accuracy", "lr", "grad_norm", "tokens", "tok_per_s", "elapsed_s"}
 * (a mixture adds "src_tokens": [tokens taken from each --data source])
 * and one per evaluation {"step", "val_loss"} (a mixture adds "val_src": the
 * mean val loss of each source's windows in the val set, null for a source
 * without any, "val_src_windows": how many each has, and "val_src_names":
 * the sources' short names, as the val line prints them). Each line is
 * flushed as it is written so that a killed run leaves every finished step
 * on disk. */
#ifndef INGOT_METRICS_H
#define INGOT_METRICS_H

#include <stdint.h>

typedef struct tr_metrics tr_metrics;

/* --profile figures of one step (docs/performance.md). A negative value
 * means "not available" and is written as null. */
struct tr_metrics_prof {
    double mfu;             /* fraction 0..1 */
    double cpu_pct, gpu_busy_pct, gpu_util_pct, sm_clock_mhz;
    double power_w, power_capped;   /* board power; 1 / 0: the power cap holds the clocks */
    double host_assemble_ms, upload_ms, fwd_ms, bwd_ms, opt_ms, gpu_idle_ms;
    double host_wall_ms;    /* the wall time cpu_pct is over */
    int64_t syncs, host_allocs;
};

struct tr_metrics_step {
    int64_t step;
    double loss, accuracy, lr, grad_norm;
    uint64_t tokens;        /* training tokens processed, cumulative */
    double tok_per_s;       /* this step's throughput */
    double elapsed_s;       /* training wall time, cumulative across resumes */
    const struct tr_metrics_prof *prof;   /* NULL unless --profile */
    int n_src;              /* a mixture's sources (0: one dataset, no field) */
    const uint64_t *src_tokens;   /* [n_src] tokens taken from each, cumulative */
};

/* Open path to append. Records of an existing file after resume_step (all
 * of them when resume_step < 0: a new run) are moved to path.dropped
 * (appended; the file keeps the rest, rewritten atomically), so a run that
 * went past its last checkpoint, or another run's file named again, loses
 * nothing; *moved gets how many records went there (for a note). First it
 * takes an exclusive lock on path.lock (created; it records "pid N on
 * HOST"; removed by tr_metrics_close()), so that a file another run is
 * writing is neither cut back nor mixed into: -EBUSY naming that run when
 * it is held (not for a character device such as /dev/null). */
int tr_metrics_open(const char *path, int64_t resume_step, tr_metrics **out, size_t *moved);
int tr_metrics_step(tr_metrics *m, const struct tr_metrics_step *s);
/* n_src > 0 (a mixture): src_loss[n_src] (NaN: null), src_windows[n_src]
 * and src_names[n_src] too. */
int tr_metrics_eval(tr_metrics *m, int64_t step, double val_loss, int n_src,
                    const double *src_loss, const uint64_t *src_windows,
                    const char *const *src_names);
/* Closes the file and releases (removes) its lock. Accepts NULL. */
void tr_metrics_close(tr_metrics *m);

#endif
