/* The communicator table (tr_dist.h): selection, the none and tcp
 * transports, and the collectives every transport shares (mean, vote,
 * check) built on its sum, gather and bcast. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingot_config.h"
#include "ingot_err.h"
#include "mono_clock.h"
#include "term_text.h"
#include "tr_dist_impl.h"

/* ---- none: one process ---- */

static int none_sum(tr_dist *d, void *buf, size_t n, bool f64)
{
    (void)d, (void)buf, (void)n, (void)f64;
    return 0;
}

static int none_gather(tr_dist *d, const void *mine, size_t n, void *all, const char *what)
{
    (void)d, (void)what;
    memcpy(all, mine, n);
    return 0;
}

static int none_bcast(tr_dist *d, void *buf, size_t n, const char *what)
{
    (void)d, (void)buf, (void)n, (void)what;
    return 0;
}

static int none_dev(tr_dist *d, void *buf, size_t n, enum tr_dist_dtype t, bool avg, void *s)
{
    (void)d, (void)buf, (void)n, (void)t, (void)avg, (void)s;
    return 0;
}

static int none_group(tr_dist *d, bool begin)
{
    (void)d, (void)begin;
    return 0;
}

static int none_shard_host(tr_dist *d, float *buf, size_t shard)
{
    (void)d, (void)buf, (void)shard;
    return 0;
}

static int none_shard_dev(tr_dist *d, void *buf, size_t shard, enum tr_dist_dtype t, void *s)
{
    (void)d, (void)buf, (void)shard, (void)t, (void)s;
    return 0;
}

static const struct tr_dist_ops none_ops = {
    .name = "none", .sum_host = none_sum, .gather = none_gather, .bcast = none_bcast,
    .allreduce_dev = none_dev, .group = none_group, .reduce_scatter_host = none_shard_host,
    .all_gather_host = none_shard_host, .reduce_scatter_dev = none_shard_dev,
    .all_gather_dev = none_shard_dev,
};

/* ---- tcp: host buffers over the rendezvous sockets ---- */

/* A tcp exchange has its own deadline, and its error names the rank that
 * failed it (rank 0 tells the others which): while one runs, the watchdog
 * waits for that error (tr_dist_watchdog.c) instead of ending the process
 * first with a line that names nobody. */
static void tcp_enter(tr_dist *d, bool in)
{
    atomic_store_explicit(&d->beat_ns, mono_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&d->in_tcp, in, memory_order_release);
}

static int tcp_gather(tr_dist *d, const void *mine, size_t n, void *all, const char *what)
{
    tcp_enter(d, true);
    int err = tr_rdzv_gather(d->rdzv, mine, n, all, what);
    tcp_enter(d, false);
    return err;
}

static int tcp_bcast(tr_dist *d, void *buf, size_t n, const char *what)
{
    tcp_enter(d, true);
    int err = tr_rdzv_bcast(d->rdzv, buf, n, what);
    tcp_enter(d, false);
    return err;
}

/* Gather to rank 0, add in rank order (so the result does not depend on
 * arrival order), send back. O(world * n) at rank 0: for the CPU back end
 * and tests, not for large models (use mpi). */
static int tcp_sum(tr_dist *d, void *buf, size_t n, bool f64)
{
    size_t es = f64 ? sizeof(double) : sizeof(float), bytes = n * es;
    char *all = NULL;
    int err;
    if (d->rank == 0 && !(all = malloc(bytes * (size_t)d->world)))
        return ingot_oom("tcp all-reduce buffer", bytes * (size_t)d->world);
    if (!(err = tcp_gather(d, buf, bytes, all, "all-reduce")) && d->rank == 0) {
        for (size_t i = 0; i < n; i++) {
            double s = 0.0;
            float sf = 0.0f;
            for (int r = 0; r < d->world; r++) {
                if (f64)
                    s += ((const double *)(all + (size_t)r * bytes))[i];
                else
                    sf += ((const float *)(all + (size_t)r * bytes))[i];
            }
            if (f64)
                ((double *)buf)[i] = s;
            else
                ((float *)buf)[i] = sf;
        }
    }
    free(all);
    return err ? err : tcp_bcast(d, buf, bytes, "all-reduce");
}

/* The whole buffer summed as tcp_sum does (rank order at rank 0), so a
 * shard's sums are bit-identical to the all-reduce's: simple, and O(world *
 * n) at rank 0 like it. */
static int tcp_reduce_scatter(tr_dist *d, float *buf, size_t shard)
{
    return tcp_sum(d, buf, shard * (size_t)d->world, false);
}

/* Every shard to rank 0, the whole buffer back. */
static int tcp_all_gather(tr_dist *d, float *buf, size_t shard)
{
    size_t bytes = shard * sizeof(float);
    int err = tcp_gather(d, buf + (size_t)d->rank * shard, bytes, d->rank == 0 ? buf : NULL,
                         "all-gather");
    return err ? err : tcp_bcast(d, buf, bytes * (size_t)d->world, "all-gather");
}

static const struct tr_dist_ops tcp_ops = {
    .name = "tcp", .sum_host = tcp_sum, .gather = tcp_gather, .bcast = tcp_bcast,
    .reduce_scatter_host = tcp_reduce_scatter, .all_gather_host = tcp_all_gather,
};

/* ---- open ---- */

_Static_assert((int)TR_DIST_HOST == (int)TR_RDZV_HOST, "one host name size");

/* On the wire: each rank's cause and time flag to rank 0; the outcome back. */
struct stop_in {
    int32_t cause, time_up;
};

/* Every rank's host name at rank 0, whatever the transport (mpi has no
 * rendezvous table): the stop vote names the rank that asked, and where.
 * Rank 0 also takes the stop vote's gather buffer here, once: allocated at
 * every step, a failure would have left rank 0 out of a gather the others
 * were in (a hang under mpi), and the loop allocates nothing. */
static int gather_hosts(tr_dist *d)
{
    char mine[TR_DIST_HOST] = { 0 };
    snprintf(mine, sizeof(mine), "%s", d->host);
    if (d->rank == 0 && !(d->hosts = calloc((size_t)d->world, TR_DIST_HOST)))
        return ingot_oom("host table", (size_t)d->world * TR_DIST_HOST);
    if (d->rank == 0 && !(d->stop_all = calloc((size_t)d->world, sizeof(struct stop_in))))
        return ingot_oom("stop vote", (size_t)d->world * sizeof(struct stop_in));
    int err = d->ops->gather(d, mine, sizeof(mine), d->hosts, "host names");
    for (int r = 0; !err && d->hosts && r < d->world; r++) {
        char shown[TR_DIST_HOST];   /* as a rank sent it: shown again */
        term_text_n(d->hosts[r], TR_DIST_HOST, shown, sizeof(shown));
        memcpy(d->hosts[r], shown, TR_DIST_HOST);
    }
    return err;
}

int tr_dist_rendezvous(tr_dist *d, const struct tr_dist_opts *o, void *payload)
{
    const struct tr_dist_env *e = &d->env;
    if (e->world > 1 && !e->master_addr[0])
        return ingot_fail(INGOT_E_USAGE, "--dist %s: %s started %d ranks across hosts but did "
                          "not say where rank 0 is: export MASTER_ADDR (rank 0's host) to every "
                          "rank", d->ops ? d->ops->name : "tcp", e->launcher, e->world);
    struct tr_rdzv_opts ro = {
        .addr = e->master_addr, .port = o->port > 0 ? o->port : e->rdzv_port, .rank = e->rank,
        .world = e->world, .local_rank = e->local_rank,
        .job_key = e->job_id[0] ? tr_dist_hash(e->job_id) : 0, .config = o->config,
        .host = d->host_raw, .timeout_s = o->timeout_s, .stop = o->stop,
        .stop_sig = o->stop_sig,
        .report_s = 30.0,   /* a long wait says whom it waits for */
    };
    int err = tr_rdzv_open(&ro, payload, &d->rdzv);
    if (err)
        return err;
    d->local_rank = tr_rdzv_local_rank(d->rdzv);
    return 0;
}

const char *tr_dist_modes(void)
{
    return "none, tcp"
#if INGOT_HAVE_MPI
           ", mpi"
#endif
#if INGOT_HAVE_NCCL
           ", nccl"
#endif
        ;
}

/* --dist auto: one process without a launcher; NCCL for a GPU; MPI when an
 * MPI launcher started us and MPI is built in; else tcp. */
static const char *pick(const struct tr_dist_opts *o, const struct tr_dist_env *e)
{
    if (strcmp(o->mode, "auto"))
        return o->mode;
    if (e->world == 1)
        return "none";
    if (o->gpu)
        return "nccl";
    if (INGOT_HAVE_MPI && (!strcmp(e->launcher, "openmpi") || !strcmp(e->launcher, "mpich")))
        return "mpi";
    return "tcp";
}

int tr_dist_open(const struct tr_dist_opts *o, tr_dist **out)
{
    *out = NULL;
    tr_dist *d = calloc(1, sizeof(*d));
    if (!d)
        return ingot_oom("communicator", sizeof(*d));
    /* --dist none: one process whatever the environment says (docs/multi-gpu.md),
     * so a malformed or leftover launcher variable is not read at all */
    int err = tr_dist_env_read(o->mode && !strcmp(o->mode, "none") ? NULL : o->envp, &d->env);
    if (err) {
        free(d);
        return err;
    }
    if (gethostname(d->host_raw, sizeof(d->host_raw)))
        snprintf(d->host_raw, sizeof(d->host_raw), "?");
    d->host_raw[sizeof(d->host_raw) - 1] = '\0';
    /* in messages: any byte may be set as a host name (sethostname(2)) */
    term_text(d->host_raw, d->host, sizeof(d->host));
    d->timeout_s = o->timeout_s;
    d->rank = 0;
    d->world = 1;
    d->local_rank = d->env.local_rank >= 0 ? d->env.local_rank : 0;
    const char *mode = pick(o, &d->env);
    if (!strcmp(mode, "none")) {
        d->ops = &none_ops;
    } else if (!strcmp(mode, "tcp")) {
        d->ops = &tcp_ops;
        d->rank = d->env.rank;
        d->world = d->env.world;
        unsigned char payload[TR_RDZV_PAYLOAD] = { 0 };
        err = tr_dist_rendezvous(d, o, payload);
    } else if (!strcmp(mode, "mpi") && INGOT_HAVE_MPI) {
        err = tr_dist_mpi_open(d, o);
    } else if (!strcmp(mode, "nccl") && INGOT_HAVE_NCCL) {
        err = tr_dist_nccl_open(d, o);
    } else {
        err = ingot_fail(INGOT_E_USAGE, "--dist %s: %s; this build has %s%s", TERM_SHOW(mode),
                         !strcmp(mode, "mpi") || !strcmp(mode, "nccl") ? "not built in" :
                         "unknown", tr_dist_modes(),
                         !strcmp(mode, "mpi") ? " (install libopenmpi-dev and reconfigure with "
                         "-Dmpi=enabled)" : !strcmp(mode, "nccl") ? " (NCCL comes with a CUDA "
                         "build: -Dcuda=enabled)" : "");
    }
    if (!err && d->world > 1)
        err = tr_dist_check(d, o->config ? o->config : "", "configuration");
    if (!err && d->world > 1)
        err = gather_hosts(d);
    if (!err && d->world > 1)
        err = tr_dist_watchdog_start(d);
    if (err) {
        tr_dist_free(d);
        return err;
    }
    *out = d;
    return 0;
}

void tr_dist_free(tr_dist *d)
{
    if (!d)
        return;
    tr_dist_watchdog_stop(d);
    if (d->ops && d->ops->free)
        d->ops->free(d);
    tr_rdzv_close(d->rdzv);
    free(d->hosts);
    free(d->stop_all);
    free(d);
}

int tr_dist_rank(const tr_dist *d) { return d ? d->rank : 0; }
int tr_dist_world(const tr_dist *d) { return d ? d->world : 1; }
int tr_dist_local_rank(const tr_dist *d) { return d ? d->local_rank : 0; }
int tr_dist_device(const tr_dist *d) { return d ? d->device : 0; }
const char *tr_dist_name(const tr_dist *d) { return d ? d->ops->name : "none"; }
const char *tr_dist_launcher(const tr_dist *d) { return d ? d->env.launcher : "none"; }
const char *tr_dist_host(const tr_dist *d) { return d ? d->host : "?"; }

/* ---- shared collectives ---- */

int tr_dist_mean_f32(tr_dist *d, float *buf, size_t n)
{
    if (!d || d->world == 1)
        return 0;
    if (!d->ops->sum_host)
        return ingot_fail(INGOT_E_USAGE, "--dist %s reduces device buffers only", d->ops->name);
    int err = d->ops->sum_host(d, buf, n, false);
    const float s = 1.0f / (float)d->world;
    for (size_t i = 0; !err && i < n; i++)
        buf[i] *= s;
    return err;
}

int tr_dist_mean_f64(tr_dist *d, double *buf, size_t n)
{
    if (!d || d->world == 1)
        return 0;
    int err = tr_dist_sum_f64(d, buf, n);
    for (size_t i = 0; !err && i < n; i++)
        buf[i] /= d->world;
    return err;
}

int tr_dist_sum_f64(tr_dist *d, double *buf, size_t n)
{
    if (!d || d->world == 1)
        return 0;
    int err;
    if (d->ops->sum_host) {
        err = d->ops->sum_host(d, buf, n, true);
    } else {
        /* nccl: its host side is the rendezvous sockets */
        double *all = d->rank == 0 ? malloc(n * sizeof(double) * (size_t)d->world) : NULL;
        if (d->rank == 0 && !all)
            return ingot_oom("mean buffer", n * sizeof(double) * (size_t)d->world);
        err = d->ops->gather(d, buf, n * sizeof(double), all, "mean");
        for (size_t i = 0; !err && all && i < n; i++) {
            double s = 0.0;
            for (int r = 0; r < d->world; r++)
                s += all[(size_t)r * n + i];
            buf[i] = s;
        }
        free(all);
        if (!err)
            err = d->ops->bcast(d, buf, n * sizeof(double), "mean");
    }
    return err;
}

int tr_dist_bcast(tr_dist *d, void *buf, size_t n, const char *what)
{
    if (!d || d->world == 1)
        return 0;
    return d->ops->bcast(d, buf, n, what);
}

static int no_shards(tr_dist *d, const char *where)
{
    return ingot_fail(INGOT_E_USAGE, "--zero 1: --dist %s has no %s collectives", d->ops->name,
                      where);
}

int tr_dist_reduce_scatter_f32(tr_dist *d, float *buf, size_t shard)
{
    if (!d || d->world == 1)
        return 0;
    if (!d->ops->reduce_scatter_host)
        return no_shards(d, "host");
    int err = d->ops->reduce_scatter_host(d, buf, shard);
    const float s = 1.0f / (float)d->world;
    float *mine = buf + (size_t)d->rank * shard;
    for (size_t i = 0; !err && i < shard; i++)
        mine[i] *= s;
    return err;
}

int tr_dist_all_gather_f32(tr_dist *d, float *buf, size_t shard)
{
    if (!d || d->world == 1)
        return 0;
    if (!d->ops->all_gather_host)
        return no_shards(d, "host");
    return d->ops->all_gather_host(d, buf, shard);
}

int tr_dist_reduce_scatter_dev(tr_dist *d, void *buf, size_t shard, enum tr_dist_dtype t,
                               void *stream)
{
    if (!d)
        return 0;
    if (!d->ops->reduce_scatter_dev)
        return no_shards(d, "device");
    return d->ops->reduce_scatter_dev(d, buf, shard, t, stream);
}

int tr_dist_all_gather_dev(tr_dist *d, void *buf, size_t shard, enum tr_dist_dtype t,
                           void *stream)
{
    if (!d)
        return 0;
    if (!d->ops->all_gather_dev)
        return no_shards(d, "device");
    return d->ops->all_gather_dev(d, buf, shard, t, stream);
}


struct stop_out {
    int32_t cause, time_up, asked, who;
    char host[TR_DIST_HOST];
};

int tr_dist_stop_vote(tr_dist *d, const struct tr_dist_stop *in, struct tr_dist_stop *out,
                      const char *what)
{
    struct stop_in mine = { in->cause, in->time_up };
    struct stop_out o = { .cause = mine.cause, .time_up = mine.time_up, .asked = !!mine.cause,
                          .who = mine.cause ? 0 : -1 };
    snprintf(o.host, sizeof(o.host), "%s", tr_dist_host(d));
    if (d && d->world > 1) {
        struct stop_in *all = d->rank == 0 ? d->stop_all : NULL;
        int err = d->ops->gather(d, &mine, sizeof(mine), all, what);
        if (!err && all) {
            o = (struct stop_out){ .who = -1 };
            for (int r = 0; r < d->world; r++) {
                o.time_up |= all[r].time_up != 0;
                if (all[r].cause && !o.asked++) {
                    o.who = r;
                    o.cause = all[r].cause;
                    snprintf(o.host, sizeof(o.host), "%s", d->hosts[r]);
                }
            }
        }
        if (!err)
            err = d->ops->bcast(d, &o, sizeof(o), what);
        if (err)   /* the transport's message names the rank and the exchange */
            return err;
        char shown[TR_DIST_HOST];   /* as rank 0 sent it: shown again */
        term_text_n(o.host, TR_DIST_HOST, shown, sizeof(shown));
        memcpy(o.host, shown, TR_DIST_HOST);
    }
    *out = (struct tr_dist_stop){ .cause = o.cause, .time_up = o.time_up != 0, .asked = o.asked,
                                  .who = o.who };
    memcpy(out->host, o.host, TR_DIST_HOST);
    return 0;
}

int tr_dist_check(tr_dist *d, const char *mine, const char *what)
{
    if (!d || d->world == 1)
        return 0;
    enum { N = TR_RDZV_CONFIG };
    char buf[N] = { 0 }, verdict[N + 256] = { 0 };
    snprintf(buf, sizeof(buf), "%s", mine);
    char *all = d->rank == 0 ? calloc((size_t)d->world, N) : NULL;
    if (d->rank == 0 && !all)
        return ingot_oom("check buffer", (size_t)d->world * N);
    int err = d->ops->gather(d, buf, N, all, what);
    for (int r = 1; !err && all && r < d->world && !verdict[0]; r++) {
        char diff[N + 64], *theirs = all + (size_t)r * N;
        theirs[N - 1] = '\0';
        if (tr_config_diff(buf, theirs, diff, sizeof(diff)))
            snprintf(verdict, sizeof(verdict), "rank %d differs in its %s: it has %s", r, what,
                     diff);
    }
    free(all);
    if (!err)
        err = d->ops->bcast(d, verdict, sizeof(verdict), what);
    if (err)
        return err;
    verdict[sizeof(verdict) - 1] = '\0';
    if (verdict[0])
        /* the settings compared hold paths (data=, ckpt-dir=): shown through term_text() */
        return ingot_fail(INGOT_E_MISMATCH, "rank %d (%s): %s", d->rank, d->host,
                          TERM_SHOW(verdict));
    return 0;
}

int tr_dist_allreduce_dev(tr_dist *d, void *buf, size_t n, enum tr_dist_dtype t, bool op_avg,
                          void *stream)
{
    if (!d)
        return 0;
    if (!d->ops->allreduce_dev)
        return ingot_fail(INGOT_E_USAGE, "--dist %s carries host buffers only; a GPU run needs "
                          "--dist nccl", d->ops->name);
    return d->ops->allreduce_dev(d, buf, n, t, op_avg, stream);
}

int tr_dist_group_begin(tr_dist *d)
{
    return d && d->ops->group ? d->ops->group(d, true) : 0;
}

int tr_dist_group_end(tr_dist *d)
{
    return d && d->ops->group ? d->ops->group(d, false) : 0;
}
