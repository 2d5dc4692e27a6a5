/* The communicator of a data-parallel run: which rank this process is, and
 * the few collectives the trainer needs, behind one table whatever carries
 * them:
 *   none  one process: every collective is the identity (today's run);
 *   tcp   host buffers over the rendezvous sockets (sum in rank order at
 *         rank 0): CPU back end without MPI, and tests;
 *   mpi   host buffers over MPI (CPU back end under mpirun; -Dmpi);
 *   nccl  device buffers over NCCL on the back end's stream, the host
 *         collectives over the rendezvous sockets (CUDA back end).
 * A watchdog thread (multi-rank runs) ends the process when the run makes no
 * progress for the timeout or NCCL reports an asynchronous error: it prints
 * one line (rank, host, step, operation, the error), aborts the communicator
 * and exits with status 3 -- a hung collective cannot return an error, and
 * the launcher then ends the other ranks. */
#ifndef INGOT_TR_DIST_H
#define INGOT_TR_DIST_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tr_dist tr_dist;

struct tr_dist_opts {
    const char *mode;           /* --dist: auto, none, tcp, mpi, nccl */
    bool gpu;                   /* the back end computes on a GPU (auto picks nccl) */
    const char *config;         /* this run's configuration in words (all ranks must agree) */
    double timeout_s;           /* --dist-timeout: rendezvous, init, and progress */
    int port;                   /* --dist-port; 0: from the environment */
    const char *const *envp;    /* environment to read (environ) */
    volatile sig_atomic_t *stop;   /* set by a signal: the rendezvous gives up (may be NULL) */
    int *stop_sig;              /* NULL, or as tr_rdzv_opts' */
};

enum tr_dist_dtype { TR_DIST_F32, TR_DIST_I32, TR_DIST_BF16 };

/* Discover the world, rendezvous, create the communicator and (world > 1)
 * start the watchdog. For nccl, selects the GPU (local rank, or 0 when one
 * GPU is visible) before NCCL's init. Returns 0, INGOT_E_USAGE (unknown
 * mode, a mode this build lacks, a bad launcher variable), INGOT_E_MISMATCH
 * (ranks disagree: named), -ETIMEDOUT, or INGOT_E_CUDA, with a message. */
int tr_dist_open(const struct tr_dist_opts *o, tr_dist **out);
/* Stop the watchdog, finalize the communicator. Accepts NULL. */
void tr_dist_free(tr_dist *d);

/* Accept NULL as "one process, rank 0". */
int tr_dist_rank(const tr_dist *d);
int tr_dist_world(const tr_dist *d);
int tr_dist_local_rank(const tr_dist *d);
int tr_dist_device(const tr_dist *d);            /* GPU index to use (nccl) */
const char *tr_dist_name(const tr_dist *d);      /* "none", "tcp", "mpi", "nccl" */
const char *tr_dist_launcher(const tr_dist *d);  /* tr_dist_env's launcher name */
const char *tr_dist_host(const tr_dist *d);      /* this rank's host name */
/* Names of the communicators built into this binary, e.g. "none, tcp, mpi". */
const char *tr_dist_modes(void);

/* Host collectives (every rank calls them in the same order). */
/* buf := mean over ranks of buf (float32, n values). nccl: host buffers are
 * not its business (INGOT_E_USAGE). */
int tr_dist_mean_f32(tr_dist *d, float *buf, size_t n);
/* buf := mean over ranks (float64). Every communicator. */
int tr_dist_mean_f64(tr_dist *d, double *buf, size_t n);
/* buf := sum over ranks (float64). Every communicator. */
int tr_dist_sum_f64(tr_dist *d, double *buf, size_t n);
/* Rank 0's n bytes of buf reach every rank (host; every communicator). */
int tr_dist_bcast(tr_dist *d, void *buf, size_t n, const char *what);
/* ZeRO-1 on host buffers (tcp, mpi; the identity for none and one rank).
 * buf holds world * shard floats, rank r's shard at [r * shard, (r + 1) *
 * shard). reduce_scatter: rank r's shard := the mean over ranks of that
 * shard (the same float arithmetic as tr_dist_mean_f32: sum, then times
 * 1/world); the rest of buf is left undefined. all_gather: every rank's
 * shard reaches every rank. INGOT_E_USAGE for nccl, or a shard too large
 * for the transport's counts. */
int tr_dist_reduce_scatter_f32(tr_dist *d, float *buf, size_t shard);
int tr_dist_all_gather_f32(tr_dist *d, float *buf, size_t shard);

enum { TR_DIST_HOST = 64 };   /* bytes of a host name, NUL included */

/* The stop vote after a step. Each rank brings why it would stop; every rank
 * learns whether any would, and which rank asked and why, so that a rank
 * stopped because of another one says so ("rank 1 (gpu02) was interrupted
 * by SIGTERM") instead of telling of a signal it never received. */
struct tr_dist_stop {
    int cause;          /* in: 0, the signal this rank received, or -1 (another
                         * request of its own: its output failed); out: the
                         * cause of rank `who` */
    bool time_up;       /* in: this rank's --time-limit is reached; out: any rank's */
    int asked;          /* out: how many ranks have a cause */
    int who;            /* out: the lowest rank with a cause, -1 when none */
    char host[TR_DIST_HOST];   /* out: who's host */
};
/* One collective (gather to rank 0, which knows every rank's host, and a
 * broadcast). in and out may be the same. */
int tr_dist_stop_vote(tr_dist *d, const struct tr_dist_stop *in, struct tr_dist_stop *out,
                      const char *what);
/* Every rank's text must equal rank 0's; else every rank fails with
 * INGOT_E_MISMATCH naming the first rank that differs and how. */
int tr_dist_check(tr_dist *d, const char *mine, const char *what);

/* Device collectives (nccl; the identity for none): in-place all-reduce on
 * stream (a cudaStream_t), enqueued only -- no host wait. op_avg: mean, else
 * sum. Between group_begin and group_end the calls are fused into one NCCL
 * group. INGOT_E_USAGE for tcp/mpi (host only). */
int tr_dist_allreduce_dev(tr_dist *d, void *buf, size_t n, enum tr_dist_dtype t, bool op_avg,
                          void *stream);
/* Device ZeRO-1 collectives, in place, enqueued on stream: buf holds world *
 * shard elements of t. reduce_scatter: rank r's shard := the mean over ranks
 * (NCCL's ncclAvg); all_gather: every shard everywhere. The identity for
 * none. */
int tr_dist_reduce_scatter_dev(tr_dist *d, void *buf, size_t shard, enum tr_dist_dtype t,
                               void *stream);
int tr_dist_all_gather_dev(tr_dist *d, void *buf, size_t shard, enum tr_dist_dtype t,
                           void *stream);
int tr_dist_group_begin(tr_dist *d);
int tr_dist_group_end(tr_dist *d);

/* Tell the watchdog the run is alive and what it does next (step, a short
 * static name such as "step" or "checkpoint"). Cheap: two relaxed stores. */
void tr_dist_progress(tr_dist *d, int64_t step, const char *op);
/* Work of one rank alone (evaluation, rank 0's sample and checkpoint save)
 * may take longer than --dist-timeout: from tr_dist_local_work() to
 * tr_dist_local_end() the watchdog does not time this rank, and the tcp
 * transport's collectives have no deadline. The caller ends the window once
 * every rank is past the work: after the next step's first collective, where
 * the other ranks waited for it (they serve --zero 1's gathers there too, so
 * no barrier of its own could be added). A rank that dies meanwhile is still
 * noticed: its connection closes (tcp), the transport reports it (nccl's
 * async error), mpirun ends the job. */
void tr_dist_local_work(tr_dist *d, int64_t step, const char *op);
void tr_dist_local_end(tr_dist *d);
/* This rank's local work is done and no other rank's can outlast it by more
 * than slack_s: its waits are timed again, from now, with --dist-timeout +
 * slack_s, until tr_dist_local_end. Without it a peer that hung (alive)
 * while rank 0 saved left every rank waiting for ever. The caller knows
 * when it holds: rank 0 always (the others only evaluate, as it did: slack
 * its own evaluation's time), any rank when rank 0 only evaluated too. */
void tr_dist_local_done(tr_dist *d, double slack_s);

#endif
