/* The CUDA back end's set-up and tear-down: device flags, streams, events,
 * one allocation per lifetime (parameters, gradients, m, v, the bf16 copy,
 * the token/result block and its pinned twin), the parameter upload, the
 * data-parallel and profiling helpers, then the graphs (tr_cuda_graphs.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "cuda_check.h"
#include "kn_arch.h"
#include "tr_cuda_be.h"
#include "tr_cuda_perf.h"
#include "tr_cuda_sync.h"
#include "tr_dist.h"

void tr_cuda_be_destroy(tr_backend *b)
{
    if (!b)
        return;
    tr_cuda_step_dp_summary(b);
    if (b->serving)     /* rank 0 may still gather the shards (a last checkpoint) */
        (void)tr_zero_end(b->o.dist, tr_cuda_be_serve_gather, b);
    /* Nothing may still run on what is freed below (error paths may leave
     * steps in flight). */
    if (b->cs)
        tr_cuda_sync_quiet(b->cs);
    if (b->us)
        tr_cuda_sync_quiet(b->us);
    tr_cuda_graphs_destroy(b);
    tr_cuda_dp_free(b->dp);
    tr_cuda_net_free(b->model);
    kn_blas_free(b->blas);
    tr_cuda_prof_free(b->prof);
    for (int i = 0; i < NSLOT; i++) {
        if (b->up_done[i])
            cudaEventDestroy(b->up_done[i]);
        if (b->done[i])
            cudaEventDestroy(b->done[i]);
        if (b->t_begin[i])
            cudaEventDestroy(b->t_begin[i]);
        if (b->t_end[i])
            cudaEventDestroy(b->t_end[i]);
        if (b->pace[i])
            cudaEventDestroy(b->pace[i]);
    }
    if (b->cs)
        cudaStreamDestroy(b->cs);
    if (b->us)
        cudaStreamDestroy(b->us);
    if (b->ls)
        cudaStreamDestroy(b->ls);
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
        b->d_eval_rows = (float *)(b->d_eval + 1);
    }
    if (host) {
        b->h_out = (struct step_out *)(host + off);
        b->h_eval = b->h_out + NSLOT;
        b->h_eval_rows = (float *)(b->h_eval + 1);
    }
    off += up256((NSLOT + 1) * sizeof(struct step_out) + (size_t)b->o.batch * sizeof(float));
    if (dev)
        b->d_row = (float *)(dev + off);
    if (host)
        b->h_row = (float *)(host + off);
    off += up256((size_t)b->o.cfg.vocab_padded * sizeof(float));
    if (dev)
        b->d_micro = (int *)(dev + off);
    off += up256(sizeof(int));
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
        /* timed, only read once the step is done */
        CUDA_CHECK(cudaEventCreateWithFlags(&b->t_begin[i], cudaEventDefault));
        CUDA_CHECK(cudaEventCreateWithFlags(&b->t_end[i], cudaEventDefault));
    }
    const bool pace = !kn_env_off("INGOT_PACE");
    for (int i = 0; pace && i < NSLOT; i++)
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
int tr_cuda_be_put_shard(tr_backend *b, float *dst, const float *host)
{
    CUDA_CHECK(cudaMemsetAsync(b->grads, 0, b->z.n_pad * sizeof(float), b->cs));
    CUDA_CHECK(cudaMemcpyAsync(b->grads, host, b->n_params * sizeof(float),
                               cudaMemcpyHostToDevice, b->cs));
    CUDA_CHECK(cudaMemcpyAsync(dst, b->grads + b->z.lo, b->z.shard * sizeof(float),
                               cudaMemcpyDeviceToDevice, b->cs));
    return 0;
}

/* Upload host params (tr_params.h layout) and refresh the forward copy. */
int tr_cuda_be_put_params(tr_backend *b, const float *params)
{
    int err;
    if (b->master_shard) {
        if ((err = tr_cuda_be_put_shard(b, b->params, params)) ||
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

int tr_cuda_be_create(const struct tr_backend_opts *o, const float *params, tr_backend **out)
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
    TRY(cuda_ok(cudaStreamCreateWithFlags(&b->ls, cudaStreamNonBlocking), "graph loop stream"));
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
            .bf16 = o->grad_reduce_bf16, .overlap = !kn_env_off("INGOT_DP_OVERLAP"),
            .nslot = NSLOT, .profile = o->profile,
        };
        TRY(tr_cuda_dp_create(&dc, &b->dp));
        tr_cuda_net_on_grads_ready(b->model, tr_cuda_dp_grads_ready, b->dp);
    }
    TRY(tr_cuda_be_put_params(b, params));
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
    TRY(tr_cuda_graphs_make(b));
    if (o->profile && !o->quiet)
        kn_blas_tune_report(b->blas, stdout);
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
        /* which products the own Hopper GEMM takes (matmul.h, kn_blas_set_own_gemm):
         * GPT-2's GELU / dGELU ones, LLaMA's SwiGLU ones, in bf16 */
        const int own = b->dt == KN_BF16 ? kn_blas_own_gemm(b->blas) : 0;
        const int gpt2 = b->o.cfg.arch == TR_ARCH_GPT2;
        const char *gemm = own < 0    ? gpt2 ? "cuBLASLt + Ingot sm90 GEMM (GELU/dGELU by shape)"
                                             : "cuBLASLt + Ingot sm90 GEMM (SwiGLU, 4096+ rows)"
                           : own == 1 ? gpt2 ? "cuBLASLt + Ingot sm90 GEMM (all GELU/dGELU)"
                                             : "cuBLASLt + Ingot sm90 GEMM (both SwiGLU products)"
                                      : "cuBLASLt";
        printf("cuda: device %d: %s (sm_%d%d, %d SMs, %zu MiB, %s kernels), precision %s%s, %s "
               "attention, GEMM %s, %s, %zu MiB free%s\n", b->dev, prop.name, prop.major,
               prop.minor, prop.multiProcessorCount, (size_t)(prop.totalGlobalMem >> 20),
               kn_path_name(path), kn_dtype_name(b->dt), b->dt == KN_F32 ? " (no TF32)" : "",
               tr_cuda_net_flash(b->model) ? "flash" : "materialised", gemm,
               b->g_step[0] ? (b->step_loop ? "one CUDA graph per step (micro-steps looped on "
                                               "the device)" : "one CUDA graph per step") :
               b->g_fwd ? "CUDA graphs per micro-step" : "no graphs", free_b >> 20,
               blocking ? "" : " (note: blocking-sync device flag refused)");
    }
    *out = b;
    return 0;
fail:
    tr_cuda_be_destroy(b);
    return err;
#undef TRY
}

