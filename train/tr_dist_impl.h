/* Inside tr_dist: the communicator table each transport fills (tr_dist.c:
 * none and tcp; tr_dist_mpi.c; tr_dist_nccl.c) and the watchdog. Not for
 * users of tr_dist.h. */
#ifndef INGOT_TR_DIST_IMPL_H
#define INGOT_TR_DIST_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "tr_dist.h"
#include "tr_dist_env.h"
#include "tr_dist_rdzv.h"

struct tr_dist_ops {
    const char *name;
    /* In-place sum of n host values (float or double) over ranks. */
    int (*sum_host)(tr_dist *d, void *buf, size_t n, bool f64);
    int (*gather)(tr_dist *d, const void *mine, size_t n, void *all, const char *what);
    int (*bcast)(tr_dist *d, void *buf, size_t n, const char *what);
    /* Device all-reduce and grouping; NULL: host-only transport. */
    int (*allreduce_dev)(tr_dist *d, void *buf, size_t n, enum tr_dist_dtype t, bool avg,
                         void *stream);
    int (*group)(tr_dist *d, bool begin);
    /* ZeRO-1 (see tr_dist.h); NULL: not carried by this transport. Host:
     * reduce_scatter sums (the caller scales). */
    int (*reduce_scatter_host)(tr_dist *d, float *buf, size_t shard);
    int (*all_gather_host)(tr_dist *d, float *buf, size_t shard);
    int (*reduce_scatter_dev)(tr_dist *d, void *buf, size_t shard, enum tr_dist_dtype t,
                              void *stream);
    int (*all_gather_dev)(tr_dist *d, void *buf, size_t shard, enum tr_dist_dtype t,
                          void *stream);
    /* Watchdog hooks (may be NULL): an asynchronous error into msg (returns
     * nonzero when there is one), and abort of the communicator. */
    int (*async_error)(tr_dist *d, char *msg, size_t len);
    void (*abort)(tr_dist *d);
    void (*free)(tr_dist *d);
};

struct tr_dist {
    const struct tr_dist_ops *ops;
    struct tr_dist_env env;
    int rank, world, local_rank, device;
    /* this rank's host name: gethostname()'s bytes, by which the rendezvous
     * tells hosts apart, and as term_text() shows them (messages) */
    char host_raw[TR_RDZV_HOST], host[TR_RDZV_HOST];
    char (*hosts)[TR_DIST_HOST];   /* rank 0, world > 1: every rank's host, shown (messages) */
    void *stop_all;             /* rank 0, world > 1: the stop vote's gather buffer */
    double timeout_s;
    tr_rdzv *rdzv;              /* tcp and nccl */
    void *impl;                 /* the transport's own state */
    /* watchdog */
    pthread_t wd;
    bool wd_running;
    atomic_bool wd_stop;
    _Atomic int64_t beat_ns, step;
    _Atomic(const char *) op;
    atomic_bool local;          /* tr_dist_local_work .. _done or _end: not timed */
    _Atomic int64_t slack_ns;   /* tr_dist_local_done .. _end: added to the limit */
    atomic_bool in_tcp;         /* in a tcp exchange, which times itself (tr_dist.c) */
};

/* Transports compiled in only when their library is (INGOT_HAVE_MPI,
 * INGOT_HAVE_NCCL); each fills d->ops, rank, world, local_rank, device. */
int tr_dist_mpi_open(tr_dist *d, const struct tr_dist_opts *o);
/* MPI's side for nccl under mpirun (INGOT_HAVE_MPI): init (rank, world and
 * local rank from MPI), rank 0's bytes to all, every rank's bytes to rank 0,
 * finalize. */
int tr_dist_mpi_init(tr_dist *d);
int tr_dist_mpi_bcast(tr_dist *d, void *buf, size_t n, const char *what);
int tr_dist_mpi_gather(tr_dist *d, const void *mine, size_t n, void *all, const char *what);
void tr_dist_mpi_finalize(void);
int tr_dist_nccl_open(tr_dist *d, const struct tr_dist_opts *o);

/* The rendezvous from d->env and o (tcp, nccl): payload in/out as
 * tr_rdzv_open; fills d->rdzv, local_rank. */
int tr_dist_rendezvous(tr_dist *d, const struct tr_dist_opts *o, void *payload);

/* Watchdog (tr_dist_watchdog.c). */
int tr_dist_watchdog_start(tr_dist *d);
void tr_dist_watchdog_stop(tr_dist *d);

#endif
