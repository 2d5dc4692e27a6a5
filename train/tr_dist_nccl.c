/* The nccl transport (tr_dist.h): gradients over NCCL on the back end's
 * stream; NCCL's unique id, configuration checks and the stop vote over the
 * rendezvous sockets, or over MPI when mpirun started the ranks and MPI is
 * built in (no MASTER_ADDR needed; INGOT_DIST_RDZV=tcp keeps the sockets). The communicator is non-blocking, so that neither its
 * init nor a collective can hang the host past the deadline, and the
 * watchdog polls ncclCommGetAsyncError. The user's NCCL_* variables are
 * left alone. */
#include <cuda_runtime.h>
#include <errno.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingot_config.h"
#include "ingot_err.h"
#include "mono_clock.h"
#include "term_text.h"
#include "tr_dist_impl.h"

struct nccl_state {
    ncclComm_t comm;
    _Atomic bool aborted;
    bool mpi;               /* host side over MPI (mpirun), else the rendezvous sockets */
};

static ncclComm_t comm_of(tr_dist *d)
{
    return ((struct nccl_state *)d->impl)->comm;
}

static int nccl_fail(tr_dist *d, ncclResult_t r, const char *what)
{
    const char *last = d->impl && comm_of(d) ? ncclGetLastError(comm_of(d)) : NULL;
    return ingot_fail(INGOT_E_CUDA, "rank %d (%s): %s: %s%s%s", d->rank, d->host, what,
                      ncclGetErrorString(r), last && *last ? ": " : "", last ? last : "");
}

/* A non-blocking communicator may answer ncclInProgress: wait (host only,
 * no device sync) until the call is enqueued, or fail past the deadline. */
static ncclResult_t settle(ncclComm_t comm, ncclResult_t r, double deadline)
{
    while (r == ncclInProgress) {
        if (mono_now() > deadline)
            return ncclInProgress;
        nanosleep(&(struct timespec){ 0, 200000 }, NULL);
        if (ncclCommGetAsyncError(comm, &r) != ncclSuccess)
            return ncclSystemError;
    }
    return r;
}

static ncclDataType_t nccl_type(enum tr_dist_dtype t)
{
    return t == TR_DIST_F32 ? ncclFloat32 : t == TR_DIST_BF16 ? ncclBfloat16 : ncclInt32;
}

static size_t type_size(enum tr_dist_dtype t)
{
    return t == TR_DIST_BF16 ? 2 : 4;
}

static int nccl_dev(tr_dist *d, void *buf, size_t n, enum tr_dist_dtype t, bool avg, void *stream)
{
    ncclComm_t c = comm_of(d);
    ncclResult_t r = ncclAllReduce(buf, buf, n, nccl_type(t), avg ? ncclAvg : ncclSum, c,
                                   (cudaStream_t)stream);
    r = settle(c, r, mono_now() + d->timeout_s);
    return r == ncclSuccess ? 0 : nccl_fail(d, r, "ncclAllReduce");
}

/* In place: NCCL's rule is recvbuff == sendbuff + rank * shard. */
static int nccl_reduce_scatter(tr_dist *d, void *buf, size_t shard, enum tr_dist_dtype t,
                               void *stream)
{
    ncclComm_t c = comm_of(d);
    char *mine = (char *)buf + (size_t)d->rank * shard * type_size(t);
    ncclResult_t r = ncclReduceScatter(buf, mine, shard, nccl_type(t), ncclAvg, c,
                                       (cudaStream_t)stream);
    r = settle(c, r, mono_now() + d->timeout_s);
    return r == ncclSuccess ? 0 : nccl_fail(d, r, "ncclReduceScatter");
}

/* In place: sendbuff == recvbuff + rank * shard. */
static int nccl_all_gather(tr_dist *d, void *buf, size_t shard, enum tr_dist_dtype t,
                           void *stream)
{
    ncclComm_t c = comm_of(d);
    char *mine = (char *)buf + (size_t)d->rank * shard * type_size(t);
    ncclResult_t r = ncclAllGather(mine, buf, shard, nccl_type(t), c, (cudaStream_t)stream);
    r = settle(c, r, mono_now() + d->timeout_s);
    return r == ncclSuccess ? 0 : nccl_fail(d, r, "ncclAllGather");
}

static int nccl_group(tr_dist *d, bool begin)
{
    ncclResult_t r = begin ? ncclGroupStart() : ncclGroupEnd();
    if (!begin)
        r = settle(comm_of(d), r, mono_now() + d->timeout_s);
    return r == ncclSuccess ? 0 : nccl_fail(d, r, begin ? "ncclGroupStart" : "ncclGroupEnd");
}

static int nccl_gather(tr_dist *d, const void *mine, size_t n, void *all, const char *what)
{
#if INGOT_HAVE_MPI
    if (((struct nccl_state *)d->impl)->mpi)
        return tr_dist_mpi_gather(d, mine, n, all, what);
#endif
    return tr_rdzv_gather(d->rdzv, mine, n, all, what);
}

static int nccl_bcast(tr_dist *d, void *buf, size_t n, const char *what)
{
#if INGOT_HAVE_MPI
    if (((struct nccl_state *)d->impl)->mpi)
        return tr_dist_mpi_bcast(d, buf, n, what);
#endif
    return tr_rdzv_bcast(d->rdzv, buf, n, what);
}

static int nccl_async(tr_dist *d, char *msg, size_t len)
{
    struct nccl_state *s = d->impl;
    ncclResult_t r;
    if (!s->comm || s->aborted || ncclCommGetAsyncError(s->comm, &r) != ncclSuccess)
        return 0;
    if (r == ncclSuccess || r == ncclInProgress)
        return 0;
    const char *last = ncclGetLastError(s->comm);
    snprintf(msg, len, "NCCL reports %s%s%s", ncclGetErrorString(r), last && *last ? ": " : "",
             last ? last : "");
    return 1;
}

static void nccl_abort(tr_dist *d)
{
    struct nccl_state *s = d->impl;
    if (s && s->comm && !s->aborted) {
        s->aborted = true;
        ncclCommAbort(s->comm);
    }
}

static void nccl_free(tr_dist *d)
{
    struct nccl_state *s = d->impl;
    if (!s)
        return;
    if (s->comm && !s->aborted) {
        /* finalize is collective and may wait on peers: bounded, then abort */
        ncclResult_t r = settle(s->comm, ncclCommFinalize(s->comm), mono_now() + 10.0);
        if (r == ncclSuccess)
            ncclCommDestroy(s->comm);
        else
            ncclCommAbort(s->comm);
    }
#if INGOT_HAVE_MPI
    if (s->mpi)
        tr_dist_mpi_finalize();
#endif
    free(s);
    d->impl = NULL;
}

static const struct tr_dist_ops nccl_ops = {
    .name = "nccl", .gather = nccl_gather, .bcast = nccl_bcast, .allreduce_dev = nccl_dev,
    .group = nccl_group, .reduce_scatter_dev = nccl_reduce_scatter,
    .all_gather_dev = nccl_all_gather, .async_error = nccl_async, .abort = nccl_abort, .free = nccl_free,
};

/* Rank r uses GPU local_rank; one visible GPU (CUDA_VISIBLE_DEVICES per task,
 * e.g. srun --gpus-per-task=1) is device 0. */
static int pick_device(tr_dist *d)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n < 1)
        return ingot_fail(INGOT_E_NOGPU, "rank %d (%s): --dist nccl needs a GPU: %s", d->rank,
                          d->host, e != cudaSuccess ? cudaGetErrorString(e) : "none visible");
    if (n > 1 && d->local_rank >= n) {
        const char *vis = getenv("CUDA_VISIBLE_DEVICES");
        return ingot_fail(INGOT_E_NOGPU, "rank %d (%s): local rank %d but %d GPUs visible "
                          "(CUDA_VISIBLE_DEVICES=%s): start at most one rank per GPU per host",
                          d->rank, d->host, d->local_rank, n, vis ? TERM_SHOW_N(vis, 128) : "unset");
    }
    d->device = n == 1 ? 0 : d->local_rank;
    if ((e = cudaSetDevice(d->device)) != cudaSuccess)
        return ingot_fail(INGOT_E_CUDA, "rank %d: cudaSetDevice(%d): %s", d->rank, d->device,
                          cudaGetErrorString(e));
    /* the back end wants blocking-sync waits; set it before NCCL makes the
     * context, after which the flag can no longer change */
    (void)cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync);
    (void)cudaGetLastError();
    return 0;
}

int tr_dist_nccl_open(tr_dist *d, const struct tr_dist_opts *o)
{
    d->ops = &nccl_ops;
    d->rank = d->env.rank;
    d->world = d->env.world;
    struct nccl_state *s = calloc(1, sizeof(*s));
    if (!s)
        return ingot_oom("nccl state", sizeof(*s));
    d->impl = s;
    ncclUniqueId id;
    ncclResult_t r;
    _Static_assert(sizeof(id) == TR_RDZV_PAYLOAD, "the rendezvous payload is NCCL's id");
    memset(&id, 0, sizeof(id));
    int err = 0;
#if INGOT_HAVE_MPI
    /* mpirun: MPI carries the id (and later the host collectives) */
    const char *rdzv = getenv("INGOT_DIST_RDZV");
    s->mpi = (!strcmp(d->env.launcher, "openmpi") || !strcmp(d->env.launcher, "mpich")) &&
             !(rdzv && !strcmp(rdzv, "tcp"));
    if (s->mpi && (err = tr_dist_mpi_init(d)))
        return err;
#endif
    if (d->rank == 0 && (r = ncclGetUniqueId(&id)) != ncclSuccess)
        return nccl_fail(d, r, "ncclGetUniqueId");
    if (s->mpi)
        err = nccl_bcast(d, &id, sizeof(id), "NCCL's unique id");
    else
        err = tr_dist_rendezvous(d, o, &id);
    if (err || (err = pick_device(d)))
        return err;
    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0;
    double deadline = mono_now() + o->timeout_s;
    r = ncclCommInitRankConfig(&s->comm, d->world, id, d->rank, &cfg);
    if (s->comm)
        r = settle(s->comm, r, deadline);
    if (r == ncclInProgress) {
        nccl_abort(d);
        return ingot_fail(-ETIMEDOUT, "rank %d (%s): NCCL's communicator init did not finish "
                          "within %.0f s (--dist-timeout): a peer stalled, or the network "
                          "between hosts is blocked (NCCL_SOCKET_IFNAME, NCCL_IB_DISABLE, "
                          "NCCL_DEBUG=INFO says more)", d->rank, d->host, o->timeout_s);
    }
    if (r != ncclSuccess) {
        err = nccl_fail(d, r, "ncclCommInitRankConfig");
        nccl_abort(d);
        return err;
    }
    return 0;
}
