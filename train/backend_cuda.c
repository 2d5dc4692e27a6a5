/* The CUDA back end: one optimizer step is ONE CUDA graph launch that the
 * host enqueues without waiting; the host waits once per step, and that
 * wait is also what paces it.
 *
 *   submit_step(s)   chunk -> pinned slot s%4 (inputs and targets, narrowed
 *                    to 16 bits when the vocabulary allows, after the step's
 *                    AdamW record {lr, betas, eps, wd, bias corrections})
 *                    -> one cudaMemcpyAsync on the upload stream -> event;
 *                    the compute stream waits on it; then, with two steps
 *                    in flight, the host sleeps until step s-1 has finished
 *                    its last backward (its "pace" event, recorded inside
 *                    step s-1's graph) and launches slot s%4's step graph:
 *                    zero the gradients, every micro-step's token
 *                    widening, forward and backward, [pace], the global
 *                    norm and clip factor, one AdamW launch over all
 *                    parameters (reading the factor and the record from
 *                    device memory), and the copy of {loss sum, hits, norm}
 *                    to the slot's pinned result; then event "done".
 *   collect_step(s)  reads step s's result. The loop collects step s after
 *                    submitting s+2, whose pace wait has already seen step
 *                    s+1's backward end, so step s is done: a query, not a
 *                    wait. Only when the loop drains (end, eval,
 *                    checkpoint) does collect wait on "done".
 * So the one sync of a step is the pace wait (counted by tr_cuda_sync_*),
 * and it falls where the GPU still has the rest of step s-1 (norm, AdamW:
 * 1.2 ms at 124M, 15 ms at 1.5B) queued while the host launches step s: no
 * bubble, and the launch finds the queue drained instead of spinning in
 * cudaGraphLaunch (docs/performance.md, "one-sync pacing"). The events are
 * blocking-sync ones and the device is set to cudaDeviceScheduleBlockingSync,
 * so the thread sleeps. max_in_flight is 3 (four slots). INGOT_PACE=0 waits
 * on step s-2's "done" instead (the timing of the previous design, for
 * comparisons).
 *
 * Each slot's graph is captured once at start-up (after one eager micro-step
 * that loads the modules and picks the GEMM algorithms), for up to
 * STEP_GRAPH_CAP layer passes per step (grad_accum x layers); beyond that,
 * or with INGOT_STEP_GRAPH=0, each micro-step's forward and backward are
 * graphs of their own and the rest of the step is launched directly
 * (INGOT_CUDA_GRAPH=0: no graphs at all); the pace event is recorded the
 * same way on every path.
 *
 * Memory: params, grads, m, v are one cudaMalloc each (tr_params.h layout);
 * in bf16 mode a fifth holds the bf16 copy of the parameters that forward
 * and backward read (AdamW rewrites it in the same pass); the model's
 * activations are one more; the token slots and result records one more;
 * the pinned host side one cudaHostAlloc. Nothing is allocated per step.
 *
 * Data parallelism (o.dist other than none, or --zero 1, or --grad-reduce
 * bf16): the gradient collectives run on a comm stream of their own inside
 * the same step graph (tr_cuda_dp.h): per block, overlapping the last
 * micro-step's backward. --zero 1: grads and the bf16 copy are padded to
 * z.n_pad, m and v (and in bf16 mode the fp32 master weights) hold this
 * rank's shard only; AdamW updates the shard, an all-gather spreads the
 * weights. get_params/get_opt_state gather the shards (tr_dist_zero.h's
 * command channel when rank 0 alone asks), set_* keep the shard. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "backend.h"
#include "convert.h"
#include "cuda_check.h"
#include "gradnorm.h"
#include "kn_arch.h"
#include "kn_common.h"
#include "matmul.h"
#include "tr_cuda_alloc.h"
#include "tr_cuda_debug.h"
#include "tr_cuda_net.h"
#include "tr_cuda_perf.h"
#include "tr_cuda_prof.h"
#include "tr_cuda_sync.h"
#include "tr_cuda_dp.h"
#include "tr_dist.h"
#include "tr_dist_zero.h"

enum {
    NSLOT = 4,              /* token/result slots in rotation (> MAX_IN_FLIGHT) */
    MAX_IN_FLIGHT = 3,      /* submitted, not yet collected steps */
    SLOT_HEAD = 256,        /* a slot's AdamW record before its tokens */
    STEP_GRAPH_CAP = 1024,  /* grad_accum x n_layer up to which a step is one graph */
};

/* What the host writes before a slot's tokens (uploaded with them): the
 * step's AdamW record and the global-norm limit, read by the step graph. */
struct slot_head {
    kn_adamw_hp hp;
    float max_norm;     /* --grad-clip (<= 0: no clipping) */
};

/* What a step leaves on the device for the host (copied to a pinned slot). */
struct step_out {
    float loss_sum;     /* sum of the chunk's token losses */
    int correct;        /* top-1 hits */
    float norm;         /* global gradient norm before clipping */
    float clip;         /* the clip factor AdamW applied */
};

struct tr_backend {
    struct tr_backend_opts o;
    kn_dtype dt;
    int dev;
    size_t n_params;
    size_t rows_tokens;             /* grad_accum * batch * T: inputs (or targets) per step */
    bool ids16;                     /* ids travel as uint16 (vocab <= 65536): half the upload */
    kn_adamw_tensors tensors;       /* the parameter tensors' ends and decays, for AdamW */
    /* device */
    float *params, *grads, *m, *v;
    void *wcopy;                    /* what forward reads: bf16 copy, or params itself */
    void *misc;                     /* token slots, step records, a logits row */
    struct slot_head *d_head[NSLOT];/* per slot: the step's AdamW record, then... */
    int32_t *d_tok[NSLOT];          /* ...per micro-step k: [inputs B*T | targets B*T] */
    int32_t *d_cur;                 /* the running micro-step's [inputs | targets] */
    struct step_out *d_acc;         /* the running step's sums, norm, clip factor */
    struct step_out *d_eval;        /* eval's loss sum */
    float *d_row;                   /* [Vp] */
    size_t misc_bytes;
    tr_cuda_net *model;             /* the architecture's (tr_cuda_net.h) */
    kn_blas *blas;
    cudaStream_t cs, us;            /* compute, upload */
    /* Graphs (NULL: not made): a whole step per slot, or else a micro-step's
     * forward and backward (make_graphs() says when which). */
    cudaGraphExec_t g_step[NSLOT], g_fwd, g_bwd;
    cudaEvent_t up_done[NSLOT], done[NSLOT];
    /* Each step records pace[slot] after its last backward; submit sleeps
     * on the previous step's (the step's one sync). NULL with INGOT_PACE=0. */
    cudaEvent_t pace[NSLOT];
    /* pinned host */
    void *pinned;
    struct slot_head *h_head[NSLOT];
    int32_t *h_tok[NSLOT];
    struct step_out *h_out;         /* [NSLOT]: each slot's step result */
    struct step_out *h_eval;
    float *h_row;                   /* [Vp] */
    size_t pinned_bytes;
    /* steps: slot = count % NSLOT */
    int64_t n_submitted, n_collected;
    int t_of[NSLOT];
    uint64_t allocs[NSLOT];         /* host allocations during each slot's submit */
    tr_cuda_prof *prof;             /* --profile; NULL: off */
    /* data parallelism */
    tr_cuda_dp *dp;                 /* NULL: one process, --dist none */
    bool zero;                      /* --zero 1 */
    bool master_shard;              /* --zero 1 in bf16: params holds the shard only */
    bool serving;                   /* --zero 1 over ranks: the gather command channel */
    struct tr_zero z;               /* zero 0: n_pad = shard = n_params, lo = 0 */
    kn_adamw_tensors shard_tensors; /* the tensors' parts in this rank's shard */
    double gpu_mem_mib;             /* device memory in use after set-up (all processes) */
    struct dp_sum {                 /* --profile: per-rank sums for the closing line */
        int n;
        double reduce_ms, exposed_ms, busbw, syncs;
    } dps;
    double dp_last[3];              /* the last collected step's reduce, exposed, busbw */
};

static bool cuda_available(char *why, size_t why_len)
{
    if (kn_device_check() == 0)
        return true;
    snprintf(why, why_len, "%s", ingot_errmsg());
    ingot_clear_err();
    return false;
}

static void destroy_graphs(tr_backend *b)
{
    cudaGraphExec_t *all[NSLOT + 2] = { &b->g_fwd, &b->g_bwd };
    for (int i = 0; i < NSLOT; i++)
        all[2 + i] = &b->g_step[i];
    for (int i = 0; i < NSLOT + 2; i++) {
        if (*all[i])
            cudaGraphExecDestroy(*all[i]);
        *all[i] = NULL;
    }
}

static int serve_gather(void *ctx, int arg);
static void print_dp_summary(const tr_backend *b);

static void cuda_destroy(tr_backend *b)
{
    if (!b)
        return;
    print_dp_summary(b);
    if (b->serving)     /* rank 0 may still gather the shards (a last checkpoint) */
        (void)tr_zero_end(b->o.dist, serve_gather, b);
    /* Nothing may still run on what is freed below (error paths may leave
     * steps in flight). */
    if (b->cs)
        tr_cuda_sync_quiet(b->cs);
    if (b->us)
        tr_cuda_sync_quiet(b->us);
    destroy_graphs(b);
    tr_cuda_dp_free(b->dp);
    tr_cuda_net_free(b->model);
    kn_blas_free(b->blas);
    tr_cuda_prof_free(b->prof);
    for (int i = 0; i < NSLOT; i++) {
        if (b->up_done[i])
            cudaEventDestroy(b->up_done[i]);
        if (b->done[i])
            cudaEventDestroy(b->done[i]);
        if (b->pace[i])
            cudaEventDestroy(b->pace[i]);
    }
    if (b->cs)
        cudaStreamDestroy(b->cs);
    if (b->us)
        cudaStreamDestroy(b->us);
    if (b->wcopy && b->wcopy != (void *)b->params)
        cudaFree(b->wcopy);
    cudaFree(b->params);
    cudaFree(b->grads);
    cudaFree(b->m);
    cudaFree(b->v);
    cudaFree(b->misc);
    if (b->pinned)
        cudaFreeHost(b->pinned);
    free(b);
}

/* A CUDA result as an error code with a message (for functions that clean
 * up on failure instead of returning at once). */
static int cuda_ok(cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return 0;
    (void)cudaGetLastError();
    return ingot_fail(INGOT_E_CUDA, "cuda: %s: %s", what, cudaGetErrorString(e));
}

/* cudaMalloc with a message that says what did not fit. */
static int dev_alloc(void **p, size_t bytes, const char *what)
{
    cudaError_t e = cudaMalloc(p, bytes);
    if (e == cudaSuccess)
        return 0;
    *p = NULL;
    (void)cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    (void)cudaMemGetInfo(&free_b, &total_b);
    return ingot_fail(e == cudaErrorMemoryAllocation ? -ENOMEM : INGOT_E_CUDA,
                      "cuda: cannot allocate %zu MiB for %s (%zu MiB free of %zu): %s; use a "
                      "smaller model or --batch", bytes >> 20, what, free_b >> 20, total_b >> 20,
                      cudaGetErrorString(e));
}

static size_t up256(size_t x)
{
    return (x + 255) & ~(size_t)255;
}

/* Slots ([AdamW record | tokens]), the current micro-step's tokens, step
 * records and the logits row: one layout for the device block (misc) and the
 * pinned host block. */
static size_t misc_layout(tr_backend *b, char *dev, char *host)
{
    size_t off = 0, tok = up256(SLOT_HEAD + 2 * b->rows_tokens * sizeof(int32_t));
    for (int i = 0; i < NSLOT; i++) {
        if (dev) {
            b->d_head[i] = (struct slot_head *)(dev + off);
            b->d_tok[i] = (int32_t *)(dev + off + SLOT_HEAD);
        }
        if (host) {
            b->h_head[i] = (struct slot_head *)(host + off);
            b->h_tok[i] = (int32_t *)(host + off + SLOT_HEAD);
        }
        off += tok;
    }
    if (dev)
        b->d_cur = (int32_t *)(dev + off);
    off += up256(2 * (size_t)b->o.batch * b->o.cfg.seq_len * sizeof(int32_t));
    if (dev) {
        b->d_acc = (struct step_out *)(dev + off);
        b->d_eval = b->d_acc + NSLOT;
    }
    if (host) {
        b->h_out = (struct step_out *)(host + off);
        b->h_eval = b->h_out + NSLOT;
    }
    off += up256((NSLOT + 1) * sizeof(struct step_out));
    if (dev)
        b->d_row = (float *)(dev + off);
    if (host)
        b->h_row = (float *)(host + off);
    off += up256((size_t)b->o.cfg.vocab_padded * sizeof(float));
    return off;
}

static int create_events(tr_backend *b)
{
    /* Both kinds may be waited on by the host: blocking ones, so it sleeps. */
    for (int i = 0; i < NSLOT; i++) {
        CUDA_CHECK(cudaEventCreateWithFlags(&b->up_done[i],
                                            cudaEventBlockingSync | cudaEventDisableTiming));
        CUDA_CHECK(cudaEventCreateWithFlags(&b->done[i],
                                            cudaEventBlockingSync | cudaEventDisableTiming));
    }
    const char *pace = getenv("INGOT_PACE");
    for (int i = 0; !(pace && !strcmp(pace, "0")) && i < NSLOT; i++)
        CUDA_CHECK(cudaEventCreateWithFlags(&b->pace[i],
                                            cudaEventBlockingSync | cudaEventDisableTiming));
    return 0;
}

/* The AdamW tensor table: the architecture's tensors in order, decay where
 * tr_param_decays_cfg. */
static void tensor_table(tr_backend *b)
{
    size_t sizes[TR_NUM_PARAMS], end = 0;
    const int n = tr_arch_num_params(&b->o.cfg);
    tr_param_sizes(&b->o.cfg, sizes);
    b->tensors.n = n;
    for (int id = 0; id < n; id++) {
        b->tensors.end[id] = end += sizes[id];
        if (tr_param_decays_cfg(&b->o.cfg, id))
            b->tensors.decay_mask |= 1u << id;
    }
}

/* --zero 1: the tensors' parts inside this rank's shard, relative to its
 * start, and the padding (no decay) up to the shard's end. */
static void shard_table(tr_backend *b)
{
    size_t sizes[TR_NUM_PARAMS], off = 0, a, e;
    tr_param_sizes(&b->o.cfg, sizes);
    kn_adamw_tensors *t = &b->shard_tensors;
    t->n = 0;
    for (int id = 0; id < tr_arch_num_params(&b->o.cfg); off += sizes[id], id++) {
        if (!tr_zero_clip(&b->z, off, sizes[id], &a, &e))
            continue;
        if (tr_param_decays_cfg(&b->o.cfg, id))
            t->decay_mask |= 1u << t->n;
        t->end[t->n++] = e - b->z.lo;
    }
    if (!t->n || t->end[t->n - 1] < b->z.shard)
        t->end[t->n++] = b->z.shard;
}

/* A whole host tensor (n_params floats) -> its shard in dst (shard floats)
 * through the gradient buffer (padded with zeros), on the compute stream. */
static int put_shard(tr_backend *b, float *dst, const float *host)
{
    CUDA_CHECK(cudaMemsetAsync(b->grads, 0, b->z.n_pad * sizeof(float), b->cs));
    CUDA_CHECK(cudaMemcpyAsync(b->grads, host, b->n_params * sizeof(float),
                               cudaMemcpyHostToDevice, b->cs));
    CUDA_CHECK(cudaMemcpyAsync(dst, b->grads + b->z.lo, b->z.shard * sizeof(float),
                               cudaMemcpyDeviceToDevice, b->cs));
    return 0;
}

/* Upload host params (tr_params.h layout) and refresh the forward copy. */
static int put_params(tr_backend *b, const float *params)
{
    int err;
    if (b->master_shard) {
        if ((err = put_shard(b, b->params, params)) ||
            (err = kn_cast_f32_to_bf16(b->wcopy, b->grads, b->z.n_pad, b->cs)))
            return err;
        return tr_cuda_sync_stream(b->cs, "parameter upload");
    }
    CUDA_CHECK(cudaMemcpyAsync(b->params, params, b->n_params * sizeof(float),
                               cudaMemcpyHostToDevice, b->cs));
    if (b->dt == KN_BF16 && (err = kn_cast_f32_to_bf16(b->wcopy, b->params, b->n_params, b->cs)))
        return err;
    return tr_cuda_sync_stream(b->cs, "parameter upload");
}

static int make_graphs(tr_backend *b);
static bool env_off(const char *name);

static int cuda_create(const struct tr_backend_opts *o, const float *params, tr_backend **out)
{
    *out = NULL;
    int err = kn_device_check(), n_dev = 0;
    if (err)
        return err;
    CUDA_CHECK(cudaGetDeviceCount(&n_dev));
    if (o->device_index < 0 || o->device_index >= n_dev)
        return ingot_fail(INGOT_E_NOGPU, "cuda: device %d requested, %d present", o->device_index,
                          n_dev);
    if (o->precision != TR_PREC_DEFAULT && o->precision != TR_PREC_FP32 &&
        o->precision != TR_PREC_BF16)
        return ingot_fail(INGOT_E_USAGE, "cuda: unknown precision %d", (int)o->precision);
    tr_backend *b = calloc(1, sizeof(*b));
    if (!b)
        return ingot_oom("cuda back end", sizeof(*b));
    b->o = *o;
    b->dev = o->device_index;
    b->dt = o->precision == TR_PREC_FP32 ? KN_F32 : KN_BF16;
    b->n_params = tr_param_count(&o->cfg);
    tensor_table(b);
    b->zero = o->zero == 1;
    b->master_shard = b->zero && b->dt == KN_BF16;
    tr_zero_layout(b->n_params, b->zero ? o->dist : NULL, &b->z);
    if (!b->zero)
        b->z.n_pad = b->z.shard = b->n_params;
    else
        shard_table(b);
    b->rows_tokens = (size_t)o->grad_accum * o->batch * o->cfg.seq_len;
    b->ids16 = o->cfg.vocab <= 65536;
    const size_t pbytes = b->n_params * sizeof(float), full = b->z.n_pad * sizeof(float),
                 part = b->z.shard * sizeof(float);

#define TRY(call)                  \
    do {                           \
        if ((err = (call)))        \
            goto fail;             \
    } while (0)
    /* Every wait sleeps instead of spinning a core. */
    TRY(cuda_ok(cudaSetDevice(b->dev), "cudaSetDevice"));
    if (cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync) != cudaSuccess)
        (void)cudaGetLastError();   /* the step's own wait still sleeps: a blocking event */
    unsigned flags = 0;
    bool blocking = cudaGetDeviceFlags(&flags) == cudaSuccess &&
                    (flags & cudaDeviceScheduleMask) == cudaDeviceScheduleBlockingSync;
    struct cudaDeviceProp prop;
    TRY(cuda_ok(cudaGetDeviceProperties(&prop, b->dev), "cudaGetDeviceProperties"));
    kn_path path;
    TRY(kn_arch_path(&path));
    if (prop.major < 8 && b->dt == KN_BF16) {
        err = ingot_fail(INGOT_E_USAGE, "cuda: %s (sm_%d%d) has no bf16 tensor cores; use "
                         "--precision fp32", prop.name, prop.major, prop.minor);
        goto fail;
    }
    TRY(cuda_ok(cudaStreamCreateWithFlags(&b->cs, cudaStreamNonBlocking), "compute stream"));
    TRY(cuda_ok(cudaStreamCreateWithFlags(&b->us, cudaStreamNonBlocking), "upload stream"));
    TRY(create_events(b));
    TRY(dev_alloc((void **)&b->params, b->master_shard ? part : full, "parameters"));
    TRY(dev_alloc((void **)&b->grads, full, "gradients"));
    TRY(dev_alloc((void **)&b->m, part, "AdamW m"));
    TRY(dev_alloc((void **)&b->v, part, "AdamW v"));
    if (b->dt == KN_BF16)
        TRY(dev_alloc(&b->wcopy, b->z.n_pad * kn_dtype_size(b->dt), "the bf16 weight copy"));
    else
        b->wcopy = b->params;
    b->misc_bytes = misc_layout(b, NULL, NULL);
    TRY(dev_alloc(&b->misc, b->misc_bytes, "token buffers"));
    b->pinned_bytes = b->misc_bytes;
    if (cudaHostAlloc(&b->pinned, b->pinned_bytes, cudaHostAllocDefault) != cudaSuccess) {
        (void)cudaGetLastError();
        b->pinned = NULL;
        err = ingot_fail(-ENOMEM, "cuda: cannot pin %zu MiB of host memory for the token "
                         "buffers (ulimit -l?)", b->pinned_bytes >> 20);
        goto fail;
    }
    misc_layout(b, b->misc, b->pinned);
    TRY(cuda_ok(cudaMemset(b->misc, 0, b->misc_bytes), "cudaMemset"));
    memset(b->pinned, 0, b->pinned_bytes);
    TRY(kn_blas_create(&b->blas, 0));
    TRY(tr_cuda_net_create(&o->cfg, o->batch, b->dt, b->blas, &b->model));
    TRY(cuda_ok(cudaMemsetAsync(b->params, 0, b->master_shard ? part : full, b->cs),
                "cudaMemsetAsync"));
    TRY(cuda_ok(cudaMemsetAsync(b->grads, 0, full, b->cs), "cudaMemsetAsync"));
    TRY(cuda_ok(cudaMemsetAsync(b->m, 0, part, b->cs), "cudaMemsetAsync"));
    TRY(cuda_ok(cudaMemsetAsync(b->v, 0, part, b->cs), "cudaMemsetAsync"));
    if (b->dt == KN_BF16)
        TRY(cuda_ok(cudaMemsetAsync(b->wcopy, 0, b->z.n_pad * kn_dtype_size(b->dt), b->cs),
                    "cudaMemsetAsync"));
    (void)pbytes;
    if (o->dist && (strcmp(tr_dist_name(o->dist), "none") || b->zero || o->grad_reduce_bf16)) {
        struct tr_cuda_dp_cfg dc = {
            .dist = o->dist, .cfg = o->cfg, .grads = b->grads, .zero = o->zero, .z = b->z,
            .bf16 = o->grad_reduce_bf16, .overlap = !env_off("INGOT_DP_OVERLAP"),
            .nslot = NSLOT, .profile = o->profile,
        };
        TRY(tr_cuda_dp_create(&dc, &b->dp));
        tr_cuda_net_on_grads_ready(b->model, tr_cuda_dp_grads_ready, b->dp);
    }
    TRY(put_params(b, params));
    if (o->profile) {   /* before the capture: its marks go into the step graphs */
        struct tr_cuda_prof_cfg pc = {
            .nslot = NSLOT, .grad_accum = o->grad_accum, .dev = b->dev,
            .peak_tflops = o->peak_tflops > 0.0 ? o->peak_tflops :
                           tr_peak_tflops(prop.name, b->dt == KN_BF16),
            .flops_per_token = tr_flops_per_token(&o->cfg),
        };
        TRY(tr_cuda_prof_create(&pc, &b->prof));
    }
    /* The memsets above ran on the legacy stream, which the non-blocking
     * streams do not wait for; the warm-up micro-step reads those buffers. */
    TRY(tr_cuda_sync_device("set-up"));
    TRY(make_graphs(b));
    tr_cuda_prof_reset(b->prof);
    b->serving = b->zero && tr_dist_world(o->dist) > 1;
    {
        size_t free_b = 0, total_b = 0;
        if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess)
            (void)cudaGetLastError();
        b->gpu_mem_mib = (double)(total_b - free_b) / (1 << 20);
    }
    if (!o->quiet) {
        size_t free_b = 0, total_b = 0;
        (void)cudaMemGetInfo(&free_b, &total_b);
        printf("cuda: device %d: %s (sm_%d%d, %d SMs, %zu MiB, %s kernels), precision %s%s, %s "
               "attention, %s, %zu MiB free%s\n", b->dev, prop.name, prop.major, prop.minor,
               prop.multiProcessorCount, (size_t)(prop.totalGlobalMem >> 20), kn_path_name(path),
               kn_dtype_name(b->dt), b->dt == KN_F32 ? " (no TF32)" : "",
               tr_cuda_net_flash(b->model) ? "flash" : "materialised",
               b->g_step[0] ? "one CUDA graph per step" :
               b->g_fwd ? "CUDA graphs per micro-step" : "no graphs", free_b >> 20,
               blocking ? "" : " (note: blocking-sync device flag refused)");
    }
    *out = b;
    return 0;
fail:
    cuda_destroy(b);
    return err;
#undef TRY
}

/* n rows of T + 1 ids -> [inputs n*T | targets n*T] at dst (pinned). */
static void split_rows(int32_t *dst, const int32_t *rows, size_t n, int T)
{
    for (size_t r = 0; r < n; r++) {
        const int32_t *row = rows + r * (size_t)(T + 1);
        memcpy(dst + r * T, row, (size_t)T * sizeof(int32_t));
        memcpy(dst + (n + r) * T, row + 1, (size_t)T * sizeof(int32_t));
    }
}

/* split_rows() narrowing each id to 16 bits (every id < vocab <= 65536);
 * the device widens them back (kn_widen_u16). */
static void split_rows16(uint16_t *dst, const int32_t *rows, size_t n, int T)
{
    for (size_t r = 0; r < n; r++) {
        const int32_t *row = rows + r * (size_t)(T + 1);
        uint16_t *in = dst + r * T, *tg = dst + (n + r) * T;
        for (int t = 0; t < T; t++) {
            in[t] = (uint16_t)row[t];
            tg[t] = (uint16_t)row[t + 1];
        }
    }
}

/* One training micro-step's forward on the d_cur tokens, adding its loss
 * and hits to d_acc, and its backward, adding to the gradients. Fixed
 * pointers and shapes only: this is what the graphs capture. */
static int micro_fwd(tr_backend *b, int unused)
{
    (void)unused;
    const int B = b->o.batch, T = b->o.cfg.seq_len;
    const float dloss = 1.0f / (float)b->rows_tokens;
    return tr_cuda_net_forward(b->model, b->wcopy, b->d_cur, b->d_cur + (size_t)B * T, B, T, dloss,
                           &b->d_acc->loss_sum, &b->d_acc->correct, 1, b->cs);
}

static int micro_bwd(tr_backend *b, int unused)
{
    (void)unused;
    return tr_cuda_net_backward(b->model, b->wcopy, b->grads, b->cs);
}

/* Micro-step k's [inputs | targets] of slot -> d_cur (int32). */
static int load_micro(tr_backend *b, int slot, int k)
{
    const size_t per = (size_t)b->o.batch * b->o.cfg.seq_len;
    if (b->ids16)
        return kn_widen_u16(b->d_cur, (const uint16_t *)b->d_tok[slot] + 2 * (size_t)k * per,
                            2 * per, b->cs);
    CUDA_CHECK(cudaMemcpyAsync(b->d_cur, b->d_tok[slot] + 2 * (size_t)k * per,
                               2 * per * sizeof(int32_t), cudaMemcpyDeviceToDevice, b->cs));
    return 0;
}

/* Run fn directly, or its graph when there is one. */
static int run(tr_backend *b, cudaGraphExec_t g, int (*fn)(tr_backend *, int))
{
    if (!g)
        return fn(b, 0);
    CUDA_CHECK(cudaGraphLaunch(g, b->cs));
    return 0;
}

/* The compute stream's part of one step of slot, in order: what the slot's
 * step graph holds (capturing: being captured into it). Reads the slot's
 * tokens and AdamW record, writes the slot's pinned result. */
static int step_body(tr_backend *b, int slot, int capturing)
{
    tr_cuda_prof *pf = b->prof;
    cudaStream_t cs = b->cs;
    struct step_out *acc = b->d_acc;
    int err;
#define STEP(call)          \
    do {                    \
        if ((err = (call))) \
            return err;     \
    } while (0)
    STEP(tr_cuda_prof_mark(pf, slot, TR_PROF_START, 0, cs, capturing));
    tr_cuda_dp_begin(b->dp, slot, capturing);
    CUDA_CHECK(cudaMemsetAsync(b->grads, 0, b->z.n_pad * sizeof(float), cs));
    CUDA_CHECK(cudaMemsetAsync(acc, 0, sizeof(*acc), cs));
    for (int k = 0; k < b->o.grad_accum; k++) {
        STEP(load_micro(b, slot, k));
        STEP(run(b, capturing ? NULL : b->g_fwd, micro_fwd));
        STEP(tr_cuda_prof_mark(pf, slot, TR_PROF_FWD_END, k, cs, capturing));
        /* the last backward reduces block by block as it goes, unless it
         * is a micro-step graph of its own (captured without the hook) */
        if (k == b->o.grad_accum - 1 && (capturing || !b->g_bwd))
            tr_cuda_dp_arm(b->dp, &acc->loss_sum, &acc->correct);
        STEP(run(b, capturing ? NULL : b->g_bwd, micro_bwd));
        STEP(tr_cuda_prof_mark(pf, slot, TR_PROF_BWD_END, k, cs, capturing));
    }
    if (b->pace[slot])
        CUDA_CHECK(cudaEventRecordWithFlags(b->pace[slot], cs,
                                            capturing ? cudaEventRecordExternal : 0));
    /* Data parallelism: the gradients averaged across ranks before the norm
     * (whole, or this rank's shard with --zero 1), so that every rank
     * computes the same norm, clip factor and update; with them the loss sum
     * (averaged: each rank's covers rows_tokens) and the hits (summed). On
     * the comm stream, joined here: no host wait (tr_cuda_dp.h). */
    STEP(tr_cuda_dp_reduce(b->dp, &acc->loss_sum, &acc->correct, cs));
    size_t scb;
    void *sc = tr_cuda_net_scratch(b->model, &scb);
    if (b->zero) {
        /* norm over every shard; AdamW on ours; the weights gathered (the
         * bf16 copy when the fp32 master is sharded, else the fp32 ones) */
        const size_t lo = b->z.lo;
        char *wc = b->dt == KN_BF16 ? (char *)b->wcopy + lo * kn_dtype_size(b->dt) : NULL;
        STEP(tr_cuda_dp_norm(b->dp, &acc->norm, &acc->clip, &b->d_head[slot]->max_norm, sc, scb,
                             cs));
        STEP(kn_adamw_flat(b->master_shard ? b->params : b->params + lo, b->grads + lo, b->m,
                           b->v, wc, b->dt, &b->shard_tensors, &b->d_head[slot]->hp, &acc->clip,
                           cs));
        STEP(tr_cuda_dp_all_gather(b->dp, b->master_shard ? b->wcopy : (void *)b->params,
                                   b->master_shard ? TR_DIST_BF16 : TR_DIST_F32, cs));
    } else {
        STEP(kn_global_norm_dev(&acc->norm, &acc->clip, b->grads, b->n_params,
                                &b->d_head[slot]->max_norm, sc, scb, cs));
        STEP(kn_adamw_flat(b->params, b->grads, b->m, b->v, b->dt == KN_BF16 ? b->wcopy : NULL,
                           b->dt, &b->tensors, &b->d_head[slot]->hp, &acc->clip, cs));
    }
    STEP(tr_cuda_prof_mark(pf, slot, TR_PROF_OPT_END, 0, cs, capturing));
    CUDA_CHECK(cudaMemcpyAsync(&b->h_out[slot], acc, sizeof(*acc), cudaMemcpyDeviceToHost, cs));
    return 0;
#undef STEP
}

/* Capture fn(b, arg)'s launches on the compute stream into *out. On failure
 * the stream is left out of capture mode and the error returned. */
static int capture(tr_backend *b, int (*fn)(tr_backend *, int), int arg, cudaGraphExec_t *out)
{
    cudaGraph_t g = NULL;
    CUDA_CHECK(cudaStreamBeginCapture(b->cs, cudaStreamCaptureModeRelaxed));
    int err = fn(b, arg);
    cudaError_t e = cudaStreamEndCapture(b->cs, &g);
    if (!err && e != cudaSuccess)
        err = ingot_fail(INGOT_E_CUDA, "cuda: graph capture: %s", cudaGetErrorString(e));
    if (!err && (e = cudaGraphInstantiate(out, g, 0)) != cudaSuccess)
        err = ingot_fail(INGOT_E_CUDA, "cuda: graph instantiation: %s", cudaGetErrorString(e));
    if (g)
        cudaGraphDestroy(g);
    if (err) {
        *out = NULL;
        (void)cudaGetLastError();
    }
    return err;
}

static int capture_step(tr_backend *b, int slot)
{
    return step_body(b, slot, 1);
}

static bool env_off(const char *name)
{
    const char *v = getenv(name);
    return v && !strcmp(v, "0");
}

/* The data-parallel collectives and their kernels once, eagerly (NCCL's
 * connections and the modules are set up outside the capture), on what the
 * next step rewrites (gradients, the step record) or every rank holds alike
 * (the weights, which the all-gather leaves unchanged). */
static int dp_warm_up(tr_backend *b, void *sc, size_t scb)
{
    if (!b->dp)
        return 0;
    struct step_out *acc = b->d_acc;
    int err;
    tr_cuda_dp_begin(b->dp, 0, 0);
    if ((err = tr_cuda_dp_reduce(b->dp, &acc->loss_sum, &acc->correct, b->cs)) || !b->zero)
        return err;
    if ((err = tr_cuda_dp_norm(b->dp, &acc->norm, &acc->clip, &b->d_head[0]->max_norm, sc, scb,
                               b->cs)))
        return err;
    return tr_cuda_dp_all_gather(b->dp, b->master_shard ? b->wcopy : (void *)b->params,
                                 b->master_shard ? TR_DIST_BF16 : TR_DIST_F32, b->cs);
}

/* Run one micro-step eagerly (loading modules, choosing GEMM algorithms)
 * and the step's other kernels on harmless inputs (loading them too), then
 * capture a step graph per slot, or, past STEP_GRAPH_CAP layer passes, the
 * micro-step graphs. A capture failure falls back with a note; an eager
 * failure is a real error. */
static int make_graphs(tr_backend *b)
{
    if (env_off("INGOT_CUDA_GRAPH"))
        return 0;
    size_t scb;
    void *sc = tr_cuda_net_scratch(b->model, &scb);
    kn_adamw_tensors one = { .n = 1, .end = { 1 } };   /* a float of scratch: no state touched */
    int err = 0;
    if ((err = load_micro(b, 0, 0)) || (err = micro_fwd(b, 0)) || (err = micro_bwd(b, 0)) ||
        (err = kn_global_norm_dev(&b->d_acc->norm, &b->d_acc->clip, b->grads, b->n_params,
                                  &b->d_head[0]->max_norm, sc, scb, b->cs)) ||
        (err = kn_adamw_flat(sc, sc, sc, sc, NULL, KN_F32, &one, &b->d_head[0]->hp, NULL,
                             b->cs)) ||
        (err = dp_warm_up(b, sc, scb)) ||
        (err = tr_cuda_sync_stream(b->cs, "warm-up micro-step")))
        return err;
    const char *what = "step";
    if ((int64_t)b->o.grad_accum * b->o.cfg.n_layer <= STEP_GRAPH_CAP &&
        !env_off("INGOT_STEP_GRAPH")) {
        for (int i = 0; i < NSLOT && !err; i++)
            err = capture(b, capture_step, i, &b->g_step[i]);
    } else {
        what = "micro-step";
        if (!(err = capture(b, micro_fwd, 0, &b->g_fwd)))
            err = capture(b, micro_bwd, 0, &b->g_bwd);
    }
    if (err) {
        if (!b->o.quiet)
            printf("cuda: note: running without %s graphs (%s)\n", what, ingot_errmsg());
        ingot_clear_err();
        destroy_graphs(b);
    }
    return 0;
}

/* The host's part of a step before the upload: the slot's tokens and AdamW
 * record into its pinned buffer. */
static void fill_slot(tr_backend *b, int slot, const int32_t *chunk,
                      const struct tr_step_hparams *hp)
{
    const int B = b->o.batch, T = b->o.cfg.seq_len;
    const size_t per_micro = (size_t)B * T;
    for (int k = 0; k < b->o.grad_accum; k++) {
        const int32_t *rows = chunk + (size_t)k * B * (T + 1);
        if (b->ids16)
            split_rows16((uint16_t *)b->h_tok[slot] + 2 * (size_t)k * per_micro, rows,
                         (size_t)B, T);
        else
            split_rows(b->h_tok[slot] + 2 * (size_t)k * per_micro, rows, (size_t)B, T);
    }
    kn_adamw_hp_set(&b->h_head[slot]->hp, hp->lr, hp->beta1, hp->beta2, hp->eps,
                    hp->weight_decay, hp->t);
    b->h_head[slot]->max_norm = hp->grad_clip;
}

/* The step's one sync. With two steps in flight (s-2 and s-1), sleep until
 * step s-1 has finished its last backward: its norm and AdamW are still
 * queued, so the GPU does not idle while step s is launched, the launch
 * finds the queue drained instead of spinning, and step s-2 (before s-1
 * on the compute stream) is done when the loop collects it next.
 * INGOT_PACE=0: wait for step s-2's result instead (the previous design's
 * timing). With fewer steps in flight nothing is waited for: the loop is
 * filling the pipeline. */
static int pace_wait(tr_backend *b, int slot)
{
    if (b->n_submitted - b->n_collected < 2)
        return 0;
    const int prev = (slot + NSLOT - 1) % NSLOT, prev2 = (slot + NSLOT - 2) % NSLOT;
    if (b->pace[prev])
        return tr_cuda_sync_event(b->pace[prev], "previous step's backward (pace)");
    return tr_cuda_sync_event(b->done[prev2], "step result");
}

static int cuda_submit_step(tr_backend *b, const int32_t *chunk, const struct tr_step_hparams *hp)
{
    if (b->n_submitted - b->n_collected >= MAX_IN_FLIGHT)
        return ingot_fail(INGOT_E_USAGE, "cuda: %d steps in flight; collect first",
                          MAX_IN_FLIGHT);
    const uint64_t a0 = tr_cuda_alloc_count();
    const int slot = (int)(b->n_submitted % NSLOT);
    const double t0 = tr_cuda_prof_clock(b->prof);
    int err;
    /* --zero 1: rank 0 says "step", the others first serve its gathers */
    if (b->serving && (err = tr_dist_rank(b->o.dist) == 0 ?
                       tr_zero_post(b->o.dist, TR_ZERO_STEP, 0) :
                       tr_zero_serve(b->o.dist, TR_ZERO_STEP, serve_gather, b)))
        return err;

    /* The pinned slot's previous upload (NSLOT steps ago) finished before
     * that step was collected; this only waits (and counts) if not. */
    cudaError_t q = cudaEventQuery(b->up_done[slot]);
    if (q == cudaErrorNotReady) {
        if ((err = tr_cuda_sync_event(b->up_done[slot], "reuse of a pinned token buffer")))
            return err;
    } else if (q != cudaSuccess) {
        CUDA_CHECK(q);
    }
    fill_slot(b, slot, chunk, hp);

    /* Upload stream: the device slot must be free (its last step done). */
    const size_t bytes = SLOT_HEAD + 2 * b->rows_tokens * (b->ids16 ? 2 : 4);
    CUDA_CHECK(cudaStreamWaitEvent(b->us, b->done[slot], 0));
    if ((err = tr_cuda_prof_mark(b->prof, slot, TR_PROF_UP0, 0, b->us, 0)))
        return err;
    CUDA_CHECK(cudaMemcpyAsync(b->d_head[slot], b->h_head[slot], bytes, cudaMemcpyHostToDevice,
                               b->us));
    if ((err = tr_cuda_prof_mark(b->prof, slot, TR_PROF_UP1, 0, b->us, 0)))
        return err;
    CUDA_CHECK(cudaEventRecord(b->up_done[slot], b->us));

    /* Compute stream: the whole step, no host wait. */
    CUDA_CHECK(cudaStreamWaitEvent(b->cs, b->up_done[slot], 0));
    const double tw = tr_cuda_prof_clock(b->prof);
    if ((err = pace_wait(b, slot)))
        return err;
    tr_cuda_prof_host(b->prof, TR_HOST_WAIT, tw);
    const double tl = tr_cuda_prof_clock(b->prof);
    if (b->g_step[slot])
        CUDA_CHECK(cudaGraphLaunch(b->g_step[slot], b->cs));
    else if ((err = step_body(b, slot, 0)))
        return err;
    tr_cuda_prof_host(b->prof, TR_HOST_LAUNCH, tl);
    CUDA_CHECK(cudaEventRecord(b->done[slot], b->cs));
    tr_cuda_prof_host(b->prof, TR_HOST_SUBMIT, t0);
    b->t_of[slot] = hp->t;
    b->n_submitted++;
    b->allocs[slot] = tr_cuda_alloc_count() - a0;
    return 0;
}

static int cuda_collect_step(tr_backend *b, struct tr_step_result *res)
{
    if (b->n_collected >= b->n_submitted)
        return ingot_fail(INGOT_E_USAGE, "cuda: collect without a submitted step");
    const uint64_t a0 = tr_cuda_alloc_count();
    const int slot = (int)(b->n_collected % NSLOT);
    /* Normally done already (pace_wait of a later step saw it): a query,
     * not a sync. Draining the pipeline, the loop waits here instead. */
    const double t0 = tr_cuda_prof_clock(b->prof);
    if (cudaEventQuery(b->done[slot]) != cudaSuccess) {
        int err = tr_cuda_sync_event(b->done[slot], "step result");
        if (err)
            return err;
    }
    tr_cuda_prof_host(b->prof, TR_HOST_WAIT, t0);
    const struct step_out *o = &b->h_out[slot];
    double n_tok = (double)b->rows_tokens;
    res->t = b->t_of[slot];
    res->loss = (double)o->loss_sum / n_tok;
    res->accuracy = (double)o->correct / (n_tok * tr_dist_world(b->o.dist));
    res->grad_norm = (double)o->norm;
    b->n_collected++;
    tr_cuda_prof_collect(b->prof, slot, b->allocs[slot] + (tr_cuda_alloc_count() - a0));
    double *d = b->dp_last;
    if (tr_cuda_dp_times(b->dp, slot, &d[0], &d[1], &d[2])) {
        struct tr_step_prof p;
        /* the first steps load and warm up: the closing line leaves them out */
        if (b->n_collected > 3 && !tr_cuda_prof_last(b->prof, &p)) {
            b->dps.n++;
            b->dps.reduce_ms += d[0];
            b->dps.exposed_ms += d[1];
            b->dps.busbw += d[2];
            b->dps.syncs += (double)p.syncs;
        }
    }
    return 0;
}

static int cuda_step_profile(tr_backend *b, struct tr_step_prof *p)
{
    int err = tr_cuda_prof_last(b->prof, p);
    if (err)
        return err;
    bool dp = b->dp && b->dp_last[0] > 0.0;
    p->dp_reduce_ms = dp ? b->dp_last[0] : -1.0;
    p->dp_exposed_ms = dp ? b->dp_last[1] : -1.0;
    p->dp_busbw_gbs = dp ? b->dp_last[2] : -1.0;
    p->gpu_mem_mib = b->gpu_mem_mib;
    return 0;
}

/* --profile with data parallelism: every rank's own line at the end (the
 * loop prints rank 0's figures only). */
static void print_dp_summary(const tr_backend *b)
{
    const struct dp_sum *s = &b->dps;
    if (!b->dp || !b->prof || !s->n)
        return;
    tr_dist *d = b->o.dist;
    fprintf(stderr, "ingot-train: rank %d/%d (%s) data parallel over %s, %d steps: reduce "
            "%.3f ms/step, exposed %.3f ms/step, bus bandwidth %.1f GB/s, %.2f syncs/step, "
            "GPU memory %.0f MiB (--zero %d, --grad-reduce %s, overlap %s)\n", tr_dist_rank(d),
            tr_dist_world(d), tr_dist_host(d), tr_dist_name(d), s->n, s->reduce_ms / s->n,
            s->exposed_ms / s->n, s->busbw / s->n, s->syncs / s->n, b->gpu_mem_mib, b->o.zero,
            b->o.grad_reduce_bf16 ? "bf16" : "fp32", env_off("INGOT_DP_OVERLAP") || b->zero ?
            "off" : "on");
}

static int no_step_in_flight(const tr_backend *b, const char *what)
{
    if (b->n_submitted != b->n_collected)
        return ingot_fail(INGOT_E_USAGE, "cuda: %s with a step in flight", what);
    return 0;
}

/* n rows of T1 = T + 1 ids -> device [inputs | targets] of slot 0 (nothing
 * is in flight, so every slot is free). */
static int upload_rows(tr_backend *b, const int32_t *rows, int n, int T)
{
    split_rows(b->h_tok[0], rows, (size_t)n, T);
    CUDA_CHECK(cudaMemcpyAsync(b->d_tok[0], b->h_tok[0], 2 * (size_t)n * T * sizeof(int32_t),
                               cudaMemcpyHostToDevice, b->cs));
    return 0;
}

static int cuda_eval(tr_backend *b, const int32_t *rows, int n_seqs, double *loss)
{
    const int T = b->o.cfg.seq_len;
    int err = no_step_in_flight(b, "eval");
    if (err)
        return err;
    if (n_seqs < 1 || n_seqs > b->o.batch)
        return ingot_fail(INGOT_E_USAGE, "cuda: eval of %d sequences (batch %d)", n_seqs,
                          b->o.batch);
    struct step_out *d = b->d_eval, *h = b->h_eval;
    if ((err = upload_rows(b, rows, n_seqs, T)) ||
        (err = tr_cuda_net_forward(b->model, b->wcopy, b->d_tok[0], b->d_tok[0] + (size_t)n_seqs * T,
                               n_seqs, T, 0.0f, &d->loss_sum, NULL, 0, b->cs)) ||
        (err = tr_cuda_sync_copy(h, d, sizeof(*h), cudaMemcpyDeviceToHost, b->cs, "eval loss")))
        return err;
    *loss = (double)h->loss_sum / ((double)n_seqs * T);
    return 0;
}

static int cuda_logits(tr_backend *b, const int32_t *ids, int n, float *out)
{
    const struct tr_config *c = &b->o.cfg;
    int err = no_step_in_flight(b, "logits");
    if (err)
        return err;
    if (n < 1 || n > c->seq_len)
        return ingot_fail(INGOT_E_USAGE, "cuda: logits for a context of %d tokens (seq-len %d)",
                          n, c->seq_len);
    memcpy(b->h_tok[0], ids, (size_t)n * sizeof(int32_t));
    CUDA_CHECK(cudaMemcpyAsync(b->d_tok[0], b->h_tok[0], (size_t)n * sizeof(int32_t),
                               cudaMemcpyHostToDevice, b->cs));
    /* Causal: the last row of a forward over exactly n positions. */
    const char *last = (const char *)tr_cuda_net_logits(b->model) +
                       (size_t)(n - 1) * c->vocab_padded * kn_dtype_size(b->dt);
    if ((err = tr_cuda_net_forward(b->model, b->wcopy, b->d_tok[0], NULL, 1, n, 0.0f, NULL, NULL, 0,
                               b->cs)) ||
        (err = kn_convert(b->d_row, KN_F32, last, b->dt, (size_t)c->vocab_padded, b->cs)) ||
        (err = tr_cuda_sync_copy(b->h_row, b->d_row, (size_t)c->vocab * sizeof(float),
                                 cudaMemcpyDeviceToHost, b->cs, "logits")))
        return err;
    memcpy(out, b->h_row, (size_t)c->vocab * sizeof(float));
    return 0;
}

/* --zero 1: the whole of a sharded tensor (0: m, 1: v, 2: the fp32
 * master weights) gathered through the gradient buffer (rewritten by the
 * next step anyway), downloaded into out when not NULL (rank 0's part of
 * the command channel; the others only take part). */
static int gather_state(tr_backend *b, int arg, float *out)
{
    const float *mine = arg == 0 ? b->m : arg == 1 ? b->v : b->params;
    CUDA_CHECK(cudaMemcpyAsync(b->grads + b->z.lo, mine, b->z.shard * sizeof(float),
                               cudaMemcpyDeviceToDevice, b->cs));
    int err = tr_dist_all_gather_dev(b->o.dist, b->grads, b->z.shard, TR_DIST_F32, b->cs);
    if (err || !out)
        return err;
    return tr_cuda_sync_copy(out, b->grads, b->n_params * sizeof(float), cudaMemcpyDeviceToHost,
                             b->cs, "gather of the sharded state (--zero 1)");
}

static int serve_gather(void *ctx, int arg)
{
    return gather_state(ctx, arg, NULL);
}

/* Rank 0 announces each gather (the others serve it where they are: their
 * next step, or destroy); a rank > 0 that asks itself takes part in rank
 * 0's next gather of the same thing and gets the whole too. */
static int gather_whole(tr_backend *b, int arg, float *out)
{
    tr_dist *d = b->o.dist;
    int cmd = TR_ZERO_GATHER, got = arg, err = 0;
    if (b->serving)
        err = tr_dist_rank(d) == 0 ? tr_zero_post(d, TR_ZERO_GATHER, arg) :
              tr_zero_next(d, &cmd, &got);
    if (!err && (cmd != TR_ZERO_GATHER || got != arg))
        err = ingot_fail(INGOT_E_MISMATCH, "rank %d: --zero 1: rank 0 is not gathering the "
                         "same state here", tr_dist_rank(d));
    return err ? err : gather_state(b, arg, out);
}

static int cuda_get_params(tr_backend *b, float *params)
{
    int err = no_step_in_flight(b, "get_params");
    if (err)
        return err;
    if (b->master_shard)
        return gather_whole(b, 2, params);
    return tr_cuda_sync_copy(params, b->params, b->n_params * sizeof(float),
                             cudaMemcpyDeviceToHost, b->cs, "parameter download");
}

static int cuda_set_params(tr_backend *b, const float *params)
{
    int err = no_step_in_flight(b, "set_params");
    if (err)
        return err;
    return put_params(b, params);
}

static int cuda_get_opt_state(tr_backend *b, float *m, float *v)
{
    int err = no_step_in_flight(b, "get_opt_state");
    if (err)
        return err;
    if (b->zero) {
        if ((err = gather_whole(b, 0, m)))
            return err;
        return gather_whole(b, 1, v);
    }
    size_t bytes = b->n_params * sizeof(float);
    CUDA_CHECK(cudaMemcpyAsync(m, b->m, bytes, cudaMemcpyDeviceToHost, b->cs));
    return tr_cuda_sync_copy(v, b->v, bytes, cudaMemcpyDeviceToHost, b->cs, "AdamW download");
}

static int cuda_set_opt_state(tr_backend *b, const float *m, const float *v)
{
    int err = no_step_in_flight(b, "set_opt_state");
    if (err)
        return err;
    if (b->zero) {   /* the whole state in, this rank's shard kept */
        if ((err = put_shard(b, b->m, m)) || (err = put_shard(b, b->v, v)))
            return err;
        return tr_cuda_sync_stream(b->cs, "AdamW upload");
    }
    size_t bytes = b->n_params * sizeof(float);
    CUDA_CHECK(cudaMemcpyAsync(b->m, m, bytes, cudaMemcpyHostToDevice, b->cs));
    return tr_cuda_sync_copy(b->v, v, bytes, cudaMemcpyHostToDevice, b->cs, "AdamW upload");
}

static size_t cuda_mem_bytes(const tr_backend *b)
{
    size_t full = b->z.n_pad * sizeof(float), part = b->z.shard * sizeof(float);
    return (b->master_shard ? part : full) + full + 2 * part +
           (b->dt == KN_BF16 ? b->z.n_pad * kn_dtype_size(b->dt) : 0) +
           tr_cuda_net_bytes(b->model) + b->misc_bytes + tr_cuda_dp_bytes(b->dp);
}

int tr_cuda_debug_grads(tr_backend *b, const int32_t *rows, int n_seqs, double *loss,
                        float *grads)
{
    const int T = b->o.cfg.seq_len;
    int err = no_step_in_flight(b, "tr_cuda_debug_grads");
    if (err)
        return err;
    if (n_seqs < 1 || n_seqs > b->o.batch)
        return ingot_fail(INGOT_E_USAGE, "cuda: debug pass of %d sequences (batch %d)", n_seqs,
                          b->o.batch);
    struct step_out *d = b->d_eval, *h = b->h_eval;
    CUDA_CHECK(cudaMemsetAsync(b->grads, 0, b->n_params * sizeof(float), b->cs));
    if ((err = upload_rows(b, rows, n_seqs, T)) ||
        (err = tr_cuda_net_forward(b->model, b->wcopy, b->d_tok[0], b->d_tok[0] + (size_t)n_seqs * T,
                               n_seqs, T, 1.0f / ((float)n_seqs * T), &d->loss_sum, NULL, 0,
                               b->cs)) ||
        (err = tr_cuda_net_backward(b->model, b->wcopy, b->grads, b->cs)))
        return err;
    CUDA_CHECK(cudaMemcpyAsync(grads, b->grads, b->n_params * sizeof(float),
                               cudaMemcpyDeviceToHost, b->cs));
    if ((err = tr_cuda_sync_copy(h, d, sizeof(*h), cudaMemcpyDeviceToHost, b->cs,
                                 "debug gradients")))
        return err;
    *loss = (double)h->loss_sum / ((double)n_seqs * T);
    return 0;
}

const struct tr_backend_ops tr_backend_cuda = {
    .name = "cuda",
    .max_in_flight = MAX_IN_FLIGHT,
    .available = cuda_available,
    .create = cuda_create,
    .submit_step = cuda_submit_step,
    .collect_step = cuda_collect_step,
    .eval = cuda_eval,
    .logits = cuda_logits,
    .get_params = cuda_get_params,
    .set_params = cuda_set_params,
    .get_opt_state = cuda_get_opt_state,
    .set_opt_state = cuda_set_opt_state,
    .mem_bytes = cuda_mem_bytes,
    .destroy = cuda_destroy,
    .step_profile = cuda_step_profile,
};
