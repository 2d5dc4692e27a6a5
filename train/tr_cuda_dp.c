/* Gradient collectives of the CUDA back end on their own stream
 * (tr_cuda_dp.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "convert.h"
#include "cuda_check.h"
#include "gradnorm.h"
#include "ingot_err.h"
#include "tr_cuda_dp.h"
#include "tr_llama_params.h"

enum { MAX_JOINS = 2, BLOCK_TENSORS = TR_FCPROJB - TR_LN1W + 1 };

struct slice {
    size_t off, len;
};

struct tr_cuda_dp {
    struct tr_cuda_dp_cfg c;
    int L, world, groups_max;
    size_t off[TR_NUM_PARAMS], size[TR_NUM_PARAMS];
    /* the per-layer tensors are ids [blk0, blk0 + nblk); the rest is [0,
     * off[blk0]) and [off[tail], end): GPT-2 ln1w..fcprojb and wte, wpe /
     * lnf; llama attn_norm..w_down and wte / norm, lm_head */
    int blk0, nblk, tail;
    cudaStream_t comm;
    cudaEvent_t *ready;         /* [L + 1]: block l's gradients done (fork), L: the rest */
    cudaEvent_t done;           /* the comm stream's work done (join) */
    void *g16;                  /* --grad-reduce bf16: [n_pad] bf16 */
    float *norms;               /* --zero 1: [world] shard norms */
    /* the step being built */
    int slot, capturing;
    bool armed;                 /* the last backward's hook reduces block by block */
    bool reduced;               /* ...and it did */
    float *loss_sum;
    int *correct;
    int group, join;            /* groups and joins so far in this step */
    /* --profile: per slot, [groups_max][2] around groups on the comm stream,
     * [MAX_JOINS][2] around joins on the compute stream */
    cudaEvent_t *ev;
    int *n_groups, *n_joins;    /* [nslot] as built */
    double *bus_bytes;          /* [nslot]: nccl-tests' bus bytes of the step */
};

static int per_slot(const tr_cuda_dp *dp)
{
    return 2 * dp->groups_max + 2 * MAX_JOINS;
}

static cudaEvent_t *group_ev(tr_cuda_dp *dp, int slot, int g, int end)
{
    return &dp->ev[(size_t)slot * per_slot(dp) + 2 * g + end];
}

static cudaEvent_t *join_ev(tr_cuda_dp *dp, int slot, int j, int end)
{
    return &dp->ev[(size_t)slot * per_slot(dp) + 2 * dp->groups_max + 2 * j + end];
}

void tr_cuda_dp_free(tr_cuda_dp *dp)
{
    if (!dp)
        return;
    if (dp->comm)
        cudaStreamSynchronize(dp->comm);
    for (int i = 0; dp->ready && i <= dp->L; i++)
        if (dp->ready[i])
            cudaEventDestroy(dp->ready[i]);
    free(dp->ready);
    if (dp->done)
        cudaEventDestroy(dp->done);
    for (int i = 0; dp->ev && i < dp->c.nslot * per_slot(dp); i++)
        if (dp->ev[i])
            cudaEventDestroy(dp->ev[i]);
    free(dp->ev);
    free(dp->n_groups);
    free(dp->n_joins);
    free(dp->bus_bytes);
    cudaFree(dp->g16);
    cudaFree(dp->norms);
    if (dp->comm)
        cudaStreamDestroy(dp->comm);
    free(dp);
}

static int dev_alloc(void **p, size_t bytes, const char *what)
{
    cudaError_t e = cudaMalloc(p, bytes);
    if (e == cudaSuccess)
        return 0;
    *p = NULL;
    (void)cudaGetLastError();
    return ingot_fail(e == cudaErrorMemoryAllocation ? -ENOMEM : INGOT_E_CUDA,
                      "cuda: cannot allocate %zu MiB for %s: %s", bytes >> 20, what,
                      cudaGetErrorString(e));
}

int tr_cuda_dp_create(const struct tr_cuda_dp_cfg *c, tr_cuda_dp **out)
{
    *out = NULL;
    tr_cuda_dp *dp = calloc(1, sizeof(*dp));
    if (!dp)
        return ingot_oom("data-parallel state", sizeof(*dp));
    dp->c = *c;
    dp->L = c->cfg.n_layer;
    dp->world = tr_dist_world(c->dist);
    dp->groups_max = dp->L + 2;
    tr_param_sizes(&c->cfg, dp->size);
    for (int id = 0; id < TR_NUM_PARAMS; id++)
        dp->off[id] = tr_param_offset(&c->cfg, id);
    if (c->cfg.arch == TR_ARCH_LLAMA) {
        dp->blk0 = TL_ATTN_NORM;
        dp->nblk = TL_WDOWN - TL_ATTN_NORM + 1;
        dp->tail = TL_NORM;
    } else {
        dp->blk0 = TR_LN1W;
        dp->nblk = BLOCK_TENSORS;
        dp->tail = TR_LNFW;
    }
    int err = 0;
#define TRY(call)           \
    do {                    \
        if ((err = (call))) \
            goto fail;      \
    } while (0)
#define CU(call, what)                                                                   \
    do {                                                                                 \
        cudaError_t e_ = (call);                                                         \
        if (e_ != cudaSuccess) {                                                         \
            (void)cudaGetLastError();                                                    \
            err = ingot_fail(INGOT_E_CUDA, "cuda: %s: %s", what, cudaGetErrorString(e_)); \
            goto fail;                                                                   \
        }                                                                                \
    } while (0)
    CU(cudaStreamCreateWithFlags(&dp->comm, cudaStreamNonBlocking), "the comm stream");
    if (!(dp->ready = calloc((size_t)dp->L + 1, sizeof(cudaEvent_t)))) {
        err = ingot_oom("data-parallel events", ((size_t)dp->L + 1) * sizeof(cudaEvent_t));
        goto fail;
    }
    for (int i = 0; i <= dp->L; i++)
        CU(cudaEventCreateWithFlags(&dp->ready[i], cudaEventDisableTiming), "fork events");
    CU(cudaEventCreateWithFlags(&dp->done, cudaEventDisableTiming), "join event");
    if (c->bf16)
        TRY(dev_alloc(&dp->g16, c->z.n_pad * 2, "the bf16 gradient copy (--grad-reduce bf16)"));
    if (c->zero)
        TRY(dev_alloc((void **)&dp->norms, (size_t)dp->world * sizeof(float),
                      "the shard norms"));
    if (c->profile) {
        size_t n = (size_t)c->nslot * per_slot(dp);
        dp->ev = calloc(n, sizeof(cudaEvent_t));
        dp->n_groups = calloc((size_t)c->nslot, sizeof(int));
        dp->n_joins = calloc((size_t)c->nslot, sizeof(int));
        dp->bus_bytes = calloc((size_t)c->nslot, sizeof(double));
        if (!dp->ev || !dp->n_groups || !dp->n_joins || !dp->bus_bytes) {
            err = ingot_oom("data-parallel profiling events", n * sizeof(cudaEvent_t));
            goto fail;
        }
        for (size_t i = 0; i < n; i++)
            CU(cudaEventCreateWithFlags(&dp->ev[i], cudaEventDefault), "profiling events");
    }
    *out = dp;
    return 0;
fail:
    tr_cuda_dp_free(dp);
    return err;
#undef TRY
#undef CU
}

size_t tr_cuda_dp_bytes(const tr_cuda_dp *dp)
{
    if (!dp)
        return 0;
    return (dp->g16 ? dp->c.z.n_pad * 2 : 0) + (dp->norms ? (size_t)dp->world * 4 : 0);
}

/* An event record that a capture turns into a node (profiling) or an edge. */
static int record(cudaEvent_t ev, cudaStream_t s, int capturing, bool timing)
{
    CUDA_CHECK(cudaEventRecordWithFlags(ev, s, capturing && timing ? cudaEventRecordExternal : 0));
    return 0;
}

/* The comm stream waits for what s has enqueued so far. */
static int fork_comm(tr_cuda_dp *dp, cudaEvent_t ev, cudaStream_t s)
{
    int err = record(ev, s, dp->capturing, false);
    if (err)
        return err;
    CUDA_CHECK(cudaStreamWaitEvent(dp->comm, ev, 0));
    return 0;
}

/* s waits for the comm stream's work; profiled: how long it waited. */
static int join_comm(tr_cuda_dp *dp, cudaStream_t s)
{
    int err, j = dp->join++;
    bool prof = dp->ev && j < MAX_JOINS;
    if ((err = record(dp->done, dp->comm, dp->capturing, false)))
        return err;
    if (prof && (err = record(*join_ev(dp, dp->slot, j, 0), s, dp->capturing, true)))
        return err;
    CUDA_CHECK(cudaStreamWaitEvent(s, dp->done, 0));
    if (prof && (err = record(*join_ev(dp, dp->slot, j, 1), s, dp->capturing, true)))
        return err;
    if (dp->n_joins)
        dp->n_joins[dp->slot] = dp->join;
    return 0;
}

static int mark_group(tr_cuda_dp *dp, int end)
{
    if (!dp->ev || dp->group >= dp->groups_max)
        return 0;
    int err = record(*group_ev(dp, dp->slot, dp->group, end), dp->comm, dp->capturing, true);
    if (!err && end)
        dp->n_groups[dp->slot] = ++dp->group;
    return err;
}

static void add_bus_bytes(tr_cuda_dp *dp, double bytes, bool all_reduce)
{
    if (dp->bus_bytes && dp->world > 1)
        dp->bus_bytes[dp->slot] += bytes * (all_reduce ? 2.0 : 1.0) * (dp->world - 1) / dp->world;
}

/* One NCCL group on the comm stream: the in-place average of n slices of
 * the gradients (through the bf16 copy with --grad-reduce bf16), and the
 * step's loss sum and hits when given. */
static int reduce_slices(tr_cuda_dp *dp, const struct slice *sl, int n, float *loss_sum,
                         int *correct)
{
    tr_dist *d = dp->c.dist;
    float *g = dp->c.grads;
    char *g16 = dp->g16;
    int err = mark_group(dp, 0);
    for (int i = 0; !err && g16 && i < n; i++)
        err = kn_cast_f32_to_bf16(g16 + 2 * sl[i].off, g + sl[i].off, sl[i].len, dp->comm);
    if (err || (err = tr_dist_group_begin(d)))
        return err;
    for (int i = 0; !err && i < n; i++) {
        err = g16 ? tr_dist_allreduce_dev(d, g16 + 2 * sl[i].off, sl[i].len, TR_DIST_BF16, true,
                                          dp->comm)
                  : tr_dist_allreduce_dev(d, g + sl[i].off, sl[i].len, TR_DIST_F32, true,
                                          dp->comm);
        add_bus_bytes(dp, (double)sl[i].len * (g16 ? 2 : 4), true);
    }
    if (!err && loss_sum)
        err = tr_dist_allreduce_dev(d, loss_sum, 1, TR_DIST_F32, true, dp->comm);
    if (!err && correct)
        err = tr_dist_allreduce_dev(d, correct, 1, TR_DIST_I32, false, dp->comm);
    int err2 = tr_dist_group_end(d);
    if (err || (err = err2))
        return err;
    for (int i = 0; !err && g16 && i < n; i++)
        err = kn_cast_bf16_to_f32(g + sl[i].off, g16 + 2 * sl[i].off, sl[i].len, dp->comm);
    return err ? err : mark_group(dp, 1);
}

void tr_cuda_dp_begin(tr_cuda_dp *dp, int slot, int capturing)
{
    if (!dp)
        return;
    dp->slot = slot;
    dp->capturing = capturing;
    dp->armed = dp->reduced = false;
    dp->group = dp->join = 0;
    if (dp->n_groups) {
        dp->n_groups[slot] = dp->n_joins[slot] = 0;
        dp->bus_bytes[slot] = 0.0;
    }
}

void tr_cuda_dp_arm(tr_cuda_dp *dp, float *loss_sum, int *correct)
{
    if (!dp || !dp->c.overlap || dp->c.zero)
        return;
    dp->armed = true;
    dp->loss_sum = loss_sum;
    dp->correct = correct;
}

int tr_cuda_dp_grads_ready(void *ctx, int l, cudaStream_t s)
{
    tr_cuda_dp *dp = ctx;
    if (!dp || !dp->armed)
        return 0;
    int err = fork_comm(dp, dp->ready[l >= 0 ? l : dp->L], s);
    if (err)
        return err;
    if (l >= 0) {
        struct slice sl[BLOCK_TENSORS];
        for (int i = 0; i < dp->nblk; i++) {
            int id = dp->blk0 + i;
            size_t per = dp->size[id] / (size_t)dp->L;
            sl[i] = (struct slice){ dp->off[id] + (size_t)l * per, per };
        }
        return reduce_slices(dp, sl, dp->nblk, NULL, NULL);
    }
    /* the rest: the embeddings (contiguous at the front), the final norm
     * (and llama's lm_head) at the end */
    struct slice rest[2] = {
        { 0, dp->off[dp->blk0] },
        { dp->off[dp->tail], dp->c.z.n - dp->off[dp->tail] },
    };
    dp->armed = false;
    dp->reduced = true;
    return reduce_slices(dp, rest, 2, dp->loss_sum, dp->correct);
}

int tr_cuda_dp_reduce(tr_cuda_dp *dp, float *loss_sum, int *correct, cudaStream_t s)
{
    if (!dp)
        return 0;
    int err;
    dp->armed = false;
    if (dp->reduced)
        return join_comm(dp, s);
    if ((err = fork_comm(dp, dp->ready[dp->L], s)))
        return err;
    if (!dp->c.zero) {
        struct slice all = { 0, dp->c.z.n };
        if ((err = reduce_slices(dp, &all, 1, loss_sum, correct)))
            return err;
        return join_comm(dp, s);
    }
    /* --zero 1: reduce-scatter of the padded buffer into this rank's shard */
    tr_dist *d = dp->c.dist;
    const struct tr_zero *z = &dp->c.z;
    float *g = dp->c.grads;
    if ((err = mark_group(dp, 0)) ||
        (dp->g16 && (err = kn_cast_f32_to_bf16(dp->g16, g, z->n_pad, dp->comm))) ||
        (err = tr_dist_group_begin(d)))
        return err;
    err = tr_dist_reduce_scatter_dev(d, dp->g16 ? dp->g16 : (void *)g, z->shard,
                                     dp->g16 ? TR_DIST_BF16 : TR_DIST_F32, dp->comm);
    add_bus_bytes(dp, (double)z->n_pad * (dp->g16 ? 2 : 4), false);
    if (!err)
        err = tr_dist_allreduce_dev(d, loss_sum, 1, TR_DIST_F32, true, dp->comm);
    if (!err)
        err = tr_dist_allreduce_dev(d, correct, 1, TR_DIST_I32, false, dp->comm);
    int err2 = tr_dist_group_end(d);
    if (err || (err = err2))
        return err;
    if (dp->g16 && (err = kn_cast_bf16_to_f32(g + z->lo, (char *)dp->g16 + 2 * z->lo, z->shard,
                                              dp->comm)))
        return err;
    if ((err = mark_group(dp, 1)))
        return err;
    return join_comm(dp, s);
}

int tr_cuda_dp_norm(tr_cuda_dp *dp, float *norm_out, float *clip_out, const float *max_norm,
                    void *scratch, size_t scratch_bytes, cudaStream_t s)
{
    const struct tr_zero *z = &dp->c.z;
    size_t a, e;
    int err = 0;
    /* every rank's shard norm in its slot of norms, the slots summed over
     * ranks, and the norm of that vector: sqrt(sum of the shards' squares).
     * The shard's real elements only (the padding is zero): with one rank
     * the sum then runs in the order of the unsharded norm. */
    CUDA_CHECK(cudaMemsetAsync(dp->norms, 0, (size_t)dp->world * sizeof(float), s));
    if (tr_zero_clip(z, 0, z->n, &a, &e))
        err = kn_global_norm(dp->norms + z->rank, NULL, dp->c.grads + a, e - a, 0.0f, scratch,
                             scratch_bytes, s);
    if (err || (err = tr_dist_allreduce_dev(dp->c.dist, dp->norms, (size_t)dp->world,
                                            TR_DIST_F32, false, s)))
        return err;
    return kn_global_norm_dev(norm_out, clip_out, dp->norms, (size_t)dp->world, max_norm, scratch,
                              scratch_bytes, s);
}

int tr_cuda_dp_all_gather(tr_cuda_dp *dp, void *buf, enum tr_dist_dtype t, cudaStream_t s)
{
    int err;
    if ((err = fork_comm(dp, dp->ready[dp->L], s)) || (err = mark_group(dp, 0)) ||
        (err = tr_dist_all_gather_dev(dp->c.dist, buf, dp->c.z.shard, t, dp->comm)))
        return err;
    add_bus_bytes(dp, (double)dp->c.z.n_pad * (t == TR_DIST_BF16 ? 2 : 4), false);
    if ((err = mark_group(dp, 1)))
        return err;
    return join_comm(dp, s);
}

static double elapsed(cudaEvent_t a, cudaEvent_t b)
{
    float ms = 0.0f;
    if (cudaEventElapsedTime(&ms, a, b) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0.0;
    }
    return ms;
}

bool tr_cuda_dp_times(tr_cuda_dp *dp, int slot, double *reduce_ms, double *exposed_ms,
                      double *busbw_gbs)
{
    if (!dp || !dp->ev)
        return false;
    double r = 0.0, x = 0.0;
    for (int g = 0; g < dp->n_groups[slot]; g++)
        r += elapsed(*group_ev(dp, slot, g, 0), *group_ev(dp, slot, g, 1));
    for (int j = 0; j < dp->n_joins[slot] && j < MAX_JOINS; j++)
        x += elapsed(*join_ev(dp, slot, j, 0), *join_ev(dp, slot, j, 1));
    *reduce_ms = r;
    *exposed_ms = x;
    *busbw_gbs = r > 0.0 ? dp->bus_bytes[slot] / (r * 1e-3) / 1e9 : 0.0;
    return true;
}
