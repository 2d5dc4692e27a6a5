/* The watchdog of a multi-rank run (tr_dist.h says what it does and why it
 * ends the process itself). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingot_err.h"
#include "mono_clock.h"
#include "tr_dist_impl.h"

enum { WATCHDOG_EXIT = 3, POLL_MS = 100 };
/* tcp's deadline for a wait on rank-local work: a week */
static const double LOCAL_WAIT_S = 7 * 24 * 3600.0;

void tr_dist_progress(tr_dist *d, int64_t step, const char *op)
{
    if (!d)
        return;
    atomic_store_explicit(&d->step, step, memory_order_relaxed);
    atomic_store_explicit(&d->op, op, memory_order_relaxed);
    atomic_store_explicit(&d->beat_ns, mono_now_ns(), memory_order_relaxed);
}

void tr_dist_local_work(tr_dist *d, int64_t step, const char *op)
{
    if (!d)
        return;
    tr_dist_progress(d, step, op);
    atomic_store_explicit(&d->local, true, memory_order_relaxed);
    if (d->rdzv)   /* the other ranks' wait for it: a deadline no save reaches */
        tr_rdzv_set_timeout(d->rdzv, LOCAL_WAIT_S);
}

/* Timed again from now, with slack_s more than --dist-timeout (none at the
 * end of the window). */
static void timed_again(tr_dist *d, double slack_s)
{
    /* beat, then slack, then local, each published by the next (release):
     * the watchdog reads them in the other order (acquire), so it never
     * pairs a new slack or local with an old beat (hours old after a save) */
    atomic_store_explicit(&d->beat_ns, mono_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&d->slack_ns, (int64_t)(slack_s * 1e9), memory_order_release);
    atomic_store_explicit(&d->local, false, memory_order_release);
    if (d->rdzv)
        tr_rdzv_set_timeout(d->rdzv, d->timeout_s + slack_s);
}

void tr_dist_local_done(tr_dist *d, double slack_s)
{
    if (d && atomic_load_explicit(&d->local, memory_order_relaxed))
        timed_again(d, slack_s > 0.0 ? slack_s : 0.0);
}

void tr_dist_local_end(tr_dist *d)
{
    if (d && (atomic_load_explicit(&d->local, memory_order_relaxed) ||
              atomic_load_explicit(&d->slack_ns, memory_order_relaxed)))
        timed_again(d, 0.0);
}

/* The slack past --dist-timeout of a tcp exchange in progress (see stalled):
 * its own deadline is --dist-timeout from its start (rank 0), plus
 * TR_RDZV_GRACE_S on the others. */
static int64_t tcp_grace_ns(tr_dist *d)
{
    return atomic_load_explicit(&d->in_tcp, memory_order_acquire) ?
           2 * TR_RDZV_GRACE_S * 1000000000LL : 0;
}

/* No progress for --dist-timeout (plus the slack of tr_dist_local_done)
 * outside rank-local work: the reason into why. */
static void stalled(tr_dist *d, char *why, size_t len)
{
    if (atomic_load_explicit(&d->local, memory_order_acquire))
        return;
    const int64_t slack = atomic_load_explicit(&d->slack_ns, memory_order_acquire);
    const int64_t beat = atomic_load_explicit(&d->beat_ns, memory_order_relaxed);
    /* tcp: every exchange has a deadline of its own and beats at its start
     * (tr_dist.c): a hang there ends in an error that names the rank, on
     * every rank (rank 0 tells the others: TR_RDZV_GRACE_S); the watchdog
     * waits for it, and ends at --dist-timeout only a hang elsewhere */
    const int64_t grace = tcp_grace_ns(d);
    if (mono_now_ns() - beat <= (int64_t)(d->timeout_s * 1e9) + slack + grace)
        return;
    char plus[160] = "", ps[64] = "", pg[64] = "";
    if (slack)
        snprintf(ps, sizeof(ps), " plus %.1f s, the time of this rank's evaluation", slack * 1e-9);
    if (grace)
        snprintf(pg, sizeof(pg), " plus %.0f s for a tcp exchange's own deadline", grace * 1e-9);
    if (slack || grace)
        snprintf(plus, sizeof(plus), " %.0f s%s%s", d->timeout_s, ps, pg);
    snprintf(why, len, "no progress for %.0f s (--dist-timeout%s): a peer died, hangs, or is far "
             "slower", d->timeout_s + slack * 1e-9 + grace * 1e-9, plus);
}

static void *watch(void *arg)
{
    tr_dist *d = arg;
    char why[512];
    while (!atomic_load(&d->wd_stop)) {
        nanosleep(&(struct timespec){ 0, POLL_MS * 1000000L }, NULL);
        why[0] = '\0';
        if (!(d->ops->async_error && d->ops->async_error(d, why, sizeof(why))))
            stalled(d, why, sizeof(why));   /* else why holds the transport's error */
        if (!why[0] || atomic_load(&d->wd_stop))
            continue;
        /* one line, whole, so that lines of many ranks do not interleave */
        char line[1024];
        const char *op = atomic_load(&d->op);
        int n = snprintf(line, sizeof(line), "ingot-train: rank %d/%d (%s) step %lld, %s: %s; "
                         "aborting the %s communicator\n", d->rank, d->world, d->host,
                         (long long)atomic_load(&d->step), op ? op : "start", why, d->ops->name);
        if (write(STDERR_FILENO, line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
            (void)0;
        if (d->ops->abort)
            d->ops->abort(d);
        /* the main thread is stuck in a collective that cannot return: the
         * process ends here so the launcher ends the job */
        _exit(WATCHDOG_EXIT);
    }
    return NULL;
}

int tr_dist_watchdog_start(tr_dist *d)
{
    tr_dist_progress(d, 0, "start");
    atomic_store(&d->wd_stop, false);
    int e = pthread_create(&d->wd, NULL, watch, d);
    if (e)
        return ingot_fail(-e, "cannot start the watchdog thread: %s", strerror(e));
    d->wd_running = true;
    return 0;
}

void tr_dist_watchdog_stop(tr_dist *d)
{
    if (!d->wd_running)
        return;
    atomic_store(&d->wd_stop, true);
    pthread_join(d->wd, NULL);
    d->wd_running = false;
}
