/* The mpi transport (tr_dist.h): host buffers over MPI, for the CPU back end
 * under mpirun. Rank and world come from MPI itself; the local rank from a
 * shared-memory split. Built with -Dmpi (INGOT_HAVE_MPI). */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "ingot_err.h"
#include "tr_dist_impl.h"

static int mpi_fail(int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return ingot_fail(INGOT_E_MISMATCH, "mpi: %s failed: %.*s", what, len, msg);
}

static int mpi_sum(tr_dist *d, void *buf, size_t n, bool f64)
{
    (void)d;
    /* counts are int: split very large buffers */
    for (size_t off = 0; off < n;) {
        int k = n - off > (1u << 30) ? 1 << 30 : (int)(n - off);
        char *p = (char *)buf + off * (f64 ? sizeof(double) : sizeof(float));
        int rc = MPI_Allreduce(MPI_IN_PLACE, p, k, f64 ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM,
                               MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, "MPI_Allreduce");
        off += (size_t)k;
    }
    return 0;
}

int tr_dist_mpi_gather(tr_dist *d, const void *mine, size_t n, void *all, const char *what)
{
    (void)d;
    int rc = MPI_Gather(mine, (int)n, MPI_BYTE, all, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS)
        return 0;
    char w[96];
    snprintf(w, sizeof(w), "MPI_Gather (%s)", what);
    return mpi_fail(rc, w);
}

int tr_dist_mpi_bcast(tr_dist *d, void *buf, size_t n, const char *what)
{
    (void)d;
    int rc = MPI_Bcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS)
        return 0;
    char w[96];
    snprintf(w, sizeof(w), "MPI_Bcast (%s)", what);
    return mpi_fail(rc, w);
}

static int mpi_count(size_t shard, const char *what)
{
    if (shard > (size_t)(1 << 30))
        return ingot_fail(INGOT_E_USAGE, "mpi: %s of %zu floats per rank exceeds MPI's int "
                          "counts; use more ranks", what, shard);
    return 0;
}

/* MPI_Reduce_scatter_block in place leaves the result at the front of buf;
 * it belongs at this rank's shard. */
static int mpi_reduce_scatter(tr_dist *d, float *buf, size_t shard)
{
    int err = mpi_count(shard, "reduce-scatter"), rc;
    if (err)
        return err;
    rc = MPI_Reduce_scatter_block(MPI_IN_PLACE, buf, (int)shard, MPI_FLOAT, MPI_SUM,
                                  MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "MPI_Reduce_scatter_block");
    if (d->rank)
        memmove(buf + (size_t)d->rank * shard, buf, shard * sizeof(float));
    return 0;
}

static int mpi_all_gather(tr_dist *d, float *buf, size_t shard)
{
    (void)d;
    int err = mpi_count(shard, "all-gather"), rc;
    if (err)
        return err;
    rc = MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, (int)shard, MPI_FLOAT,
                       MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "MPI_Allgather");
}

void tr_dist_mpi_finalize(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin)
        MPI_Finalize();
}

static void mpi_free(tr_dist *d)
{
    (void)d;
    tr_dist_mpi_finalize();
}

/* No abort hook: MPI_Abort from the watchdog thread would need
 * MPI_THREAD_MULTIPLE; a process that exits without MPI_Finalize makes
 * mpirun end the job anyway. */
static const struct tr_dist_ops mpi_ops = {
    .name = "mpi", .sum_host = mpi_sum, .gather = tr_dist_mpi_gather, .bcast = tr_dist_mpi_bcast,
    .reduce_scatter_host = mpi_reduce_scatter, .all_gather_host = mpi_all_gather,
    .free = mpi_free,
};

int tr_dist_mpi_open(tr_dist *d, const struct tr_dist_opts *o)
{
    (void)o;
    d->ops = &mpi_ops;
    return tr_dist_mpi_init(d);
}

int tr_dist_mpi_init(tr_dist *d)
{
    int inited = 0, provided, rc;
    MPI_Initialized(&inited);
    if (!inited && (rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided)) !=
        MPI_SUCCESS)
        return mpi_fail(rc, "MPI_Init_thread");
    /* errors come back as codes, not as an abort inside MPI */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->world);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL,
                            &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &d->local_rank);
        MPI_Comm_free(&node);
    }
    if (d->env.world > 1 && d->env.world != d->world)
        return ingot_fail(INGOT_E_MISMATCH, "--dist %s: MPI has %d ranks, the launcher's "
                          "environment (%s) says %d", d->ops->name, d->world, d->env.launcher,
                          d->env.world);
    return 0;
}
