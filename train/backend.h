/* The compute back end of ingot-train: everything that touches the model's
 * tensors for one optimizer step, behind a table of functions, so that the
 * loop, schedule, data loader, checkpoints, metrics and sampling are the same
 * for every device. The CPU back end (backend_cpu.c) is synchronous; a GPU
 * back end may run a step asynchronously and report it later.
 *
 * Data: a step's chunk is grad_accum * batch rows of seq_len + 1 int32 ids
 * (row r of micro-step k is chunk[(k * batch + r) * (T + 1) ...]); inputs are
 * row[0, T), targets row[1, T + 1). Ids are < config.vocab (the loader
 * guarantees it).
 *
 * Host tensors (params, m, v) use the tr_params.h layout, tr_param_count()
 * floats each.
 *
 * Ordering contract, relied on by train_loop.c:
 *   - submit_step() may return before the step is computed but must have
 *     consumed (copied) the chunk: the caller refills it right away.
 *   - collect_step() returns the oldest submitted, not yet collected step,
 *     blocking until it is done. The loop keeps at most max_in_flight steps
 *     submitted and not collected.
 *   - eval, logits, get_* and set_* are only called with no step in flight.
 * Every function returns 0 or a negative error code with ingot_fail(). */
#ifndef INGOT_TR_BACKEND_H
#define INGOT_TR_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tr_params.h"

typedef struct tr_backend tr_backend;   /* a back end's private state */

/* Arithmetic of the step (--precision). */
enum tr_precision {
    TR_PREC_DEFAULT = 0,    /* the back end's choice: fp32 on the CPU, bf16 on CUDA */
    TR_PREC_FP32 = 1,       /* float32 throughout (CUDA: no TF32), for parity */
    TR_PREC_BF16 = 2,       /* bf16 matmul inputs and activations, fp32 master weights,
                               gradients and optimizer state */
};

struct tr_backend_opts {
    struct tr_config cfg;
    int batch;          /* sequences per micro-step */
    int grad_accum;     /* micro-steps per optimizer step */
    int threads;        /* CPU threads (0 = OpenMP default) */
    int device_index;   /* which GPU (GPU back ends) */
    bool quiet;         /* no informational prints (device name, memory) */
    enum tr_precision precision;
    bool profile;       /* time the phases of every step (--profile) */
    double peak_tflops; /* --peak-tflops for MFU; 0: the back end's table */
    struct tr_dist *dist; /* data parallelism (tr_dist.h); NULL: one process. The back
                             end averages the gradients over ranks before the norm, and
                             the step's loss and accuracy */
    int zero;           /* 1: AdamW state sharded over the ranks of dist (--zero 1) */
    bool grad_reduce_bf16; /* reduce gradients in bf16 (--grad-reduce bf16) */
    uint64_t host_later; /* host bytes the run allocates later (each checkpoint's copies of
                            the parameters and AdamW state): the CPU back end counts them
                            in its memory check, less host_freed */
    uint64_t host_freed; /* host bytes the caller holds now and frees once the back end
                            is made (its parameters; on --resume also the AdamW state read) */
};

/* Optimizer hyper-parameters of one step (AdamW, decoupled decay on the
 * tensors tr_param_decays() names). */
struct tr_step_hparams {
    int t;              /* optimizer step, 1-based (bias correction) */
    float lr;
    float weight_decay;
    float beta1, beta2, eps;
    float grad_clip;    /* global-norm limit; <= 0 disables clipping */
};

struct tr_step_result {
    int t;              /* which step (as submitted) */
    double loss;        /* mean token loss over the whole chunk */
    double accuracy;    /* top-1 next-token accuracy over the chunk */
    double grad_norm;   /* global L2 norm before clipping */
    /* The step's period on the device, seconds: from the previous step's
     * end to this one's, or from this one's start where nothing was in
     * flight when it was submitted (after an evaluation, a checkpoint, at
     * the start); what its tok/s is computed from. -1: the back end does
     * not measure it (the loop then takes the host's interval). */
    double period_s;
};

/* Diagnostics of one collected step (--profile). A negative value means "not
 * available" (no NVML, first step, not measured by this back end). */
struct tr_step_prof {
    double upload_ms;       /* host-to-device copy of the step's tokens (events) */
    double fwd_ms, bwd_ms;  /* GPU time of forward and backward, all micro-steps */
    double opt_ms;          /* GPU time of norm, clip and AdamW */
    double gpu_idle_ms;     /* compute stream idle between the previous step and this one */
    double gpu_busy_pct;    /* busy / (busy + idle) */
    double cpu_pct;         /* process CPU time / wall time since the previous collect,
                               in % of one core (getrusage) */
    double host_wall_s;     /* that wall time (s): what the closing mean weighs by */
    int64_t syncs;          /* host<->device synchronisations since the previous collect */
    int64_t host_allocs;    /* host allocations during this step's submit and collect
                               (-1: not counted in this build) */
    double gpu_util_pct;    /* NVML utilisation */
    double sm_clock_mhz;    /* NVML SM clock */
    double power_w;         /* NVML board power draw */
    double power_capped;    /* NVML: 1 when the software power cap holds the clocks, else 0 */
    double peak_tflops;     /* dense peak for the precision (0: unknown) */
    double flops_per_token; /* training FLOPs per token (tr_cuda_perf.h formula) */
    /* data parallelism (tr_cuda_dp.h; -1 without a communicator): this
     * rank's figures */
    double dp_reduce_ms;    /* GPU time of the step's gradient collectives on the comm
                               stream (and with --zero 1 the weights' all-gather) */
    double dp_exposed_ms;   /* of it, the time the compute stream waited (not overlapped) */
    double dp_busbw_gbs;    /* bus bandwidth of those collectives, nccl-tests' definition
                               (all-reduce: bytes x 2(n-1)/n / time; reduce-scatter and
                               all-gather: x (n-1)/n); 0 for one rank */
    double gpu_mem_mib;     /* device memory in use after set-up (cudaMemGetInfo) */
};

struct tr_backend_ops {
    const char *name;         /* "cpu", "cuda" */
    int max_in_flight;        /* steps the loop may submit before collecting */
    /* Whether this back end can run here (e.g. a GPU is present); fills why
     * with a reason when not. */
    bool (*available)(char *why, size_t why_len);
    /* Allocate everything for the run (one allocation each for params,
     * grads, m, v and activations) and upload params. m and v start at 0. */
    int (*create)(const struct tr_backend_opts *o, const float *params, tr_backend **out);
    /* Forward + backward of every micro-step, clip, AdamW update. */
    int (*submit_step)(tr_backend *b, const int32_t *chunk, const struct tr_step_hparams *hp);
    int (*collect_step)(tr_backend *b, struct tr_step_result *res);
    /* Mean token loss over n_seqs (1 <= n_seqs <= batch) rows of T + 1 ids,
     * no parameter change; row_loss (NULL, or n_seqs entries) also gets each
     * row's mean token loss (a mixture's val loss by source), from the same
     * forward and with no further host wait. */
    int (*eval)(tr_backend *b, const int32_t *rows, int n_seqs, double *loss, double *row_loss);
    /* Logits (the first config.vocab) of the last position after a forward
     * on ids[0, n), 1 <= n <= seq_len: what the sampler needs. */
    int (*logits)(tr_backend *b, const int32_t *ids, int n, float *out);
    int (*get_params)(tr_backend *b, float *params);
    int (*set_params)(tr_backend *b, const float *params);
    int (*get_opt_state)(tr_backend *b, float *m, float *v);
    int (*set_opt_state)(tr_backend *b, const float *m, const float *v);
    /* Bytes of memory held for the run (report only). */
    size_t (*mem_bytes)(const tr_backend *b);
    void (*destroy)(tr_backend *b);   /* accepts NULL */
    /* Optional (NULL when the back end has none): diagnostics of the step
     * last returned by collect_step(), when created with profile. */
    int (*step_profile)(tr_backend *b, struct tr_step_prof *p);
};

extern const struct tr_backend_ops tr_backend_cpu;    /* backend_cpu.c */
extern const struct tr_backend_ops tr_backend_cuda;   /* backend_cuda.c, CUDA builds */

/* Pick the back end for --device name ("auto", "cpu", "cuda"). auto takes the
 * first available entry of the table in backend_table.c (GPU first). Returns
 * 0 or INGOT_E_USAGE (unknown name, or a back end this build lacks) or
 * INGOT_E_NOGPU (built in but not available here), with a message. */
int tr_backend_select(const char *name, const struct tr_backend_ops **out);
/* Names of the back ends compiled into this build, e.g. "cpu" or "cuda, cpu". */
const char *tr_backend_list(void);

#endif
