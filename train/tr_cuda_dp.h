/* The CUDA back end's side of data parallelism: the gradient collectives of
 * a step on their own stream, inside the step's CUDA graph.
 *
 * --zero 0: the gradients are averaged over ranks (fp32, or through a bf16
 * copy with --grad-reduce bf16) on the comm stream. With overlap (the
 * default; INGOT_DP_OVERLAP=0 turns it off) the last micro-step's backward
 * records an event as each block's gradients are complete (the model's
 * grads-ready hook), the comm stream waits on it and reduces that block's
 * 12 tensor slices in one NCCL group (the layout is tensor-major: a block is
 * 12 slices), block L-1 first; wte, wpe and lnf last, with the step's loss
 * sum and hits. Without overlap, one group of everything after backward.
 * Either way the compute stream waits on the comm stream's last event
 * before the norm ("join"): fork and join through events, which a stream
 * capture turns into graph edges, so the step stays one graph and one host
 * sync.
 *
 * --zero 1 (tr_dist_zero.h layout): after backward, one reduce-scatter of
 * the padded gradient buffer into this rank's shard (no overlap: a shard is
 * not a block); the global norm from every rank's shard norm; AdamW on the
 * shard (the back end's); then an all-gather of the updated weights. Both
 * collectives run on the comm stream, joined at once.
 *
 * --profile: events around every group on the comm stream and around every
 * join on the compute stream, per step slot: the reduce's GPU time, the
 * time the compute stream waited for it (exposed communication), and the
 * bus bandwidth by nccl-tests' definition. */
#ifndef INGOT_TR_CUDA_DP_H
#define INGOT_TR_CUDA_DP_H

#include <stdbool.h>
#include <stddef.h>

#include <cuda_runtime_api.h>

#include "tr_dist.h"
#include "tr_dist_zero.h"
#include "tr_params.h"

typedef struct tr_cuda_dp tr_cuda_dp;

struct tr_cuda_dp_cfg {
    tr_dist *dist;
    struct tr_config cfg;
    float *grads;               /* the flat gradient buffer: z.n_pad floats */
    int zero;                   /* --zero */
    struct tr_zero z;           /* the shard layout (zero 0: n_pad = n) */
    bool bf16;                  /* --grad-reduce bf16 */
    bool overlap;               /* per-block reduce during backward (zero 0) */
    int nslot;                  /* step slots (profile events per slot) */
    bool profile;
};

/* The comm stream, its events, (bf16) the bf16 copy of the gradients.
 * 0, -ENOMEM or INGOT_E_CUDA. */
int tr_cuda_dp_create(const struct tr_cuda_dp_cfg *c, tr_cuda_dp **out);
void tr_cuda_dp_free(tr_cuda_dp *dp);   /* accepts NULL */

/* Device bytes it holds (the bf16 copy, the norm slots). */
size_t tr_cuda_dp_bytes(const tr_cuda_dp *dp);

/* The model's grads-ready hook (tr_cuda_model_on_grads_ready, ctx = dp):
 * does something only between tr_cuda_dp_arm and the next finish. */
int tr_cuda_dp_grads_ready(void *ctx, int l, cudaStream_t s);

/* A step of slot begins (capturing: its launches are being captured). */
void tr_cuda_dp_begin(tr_cuda_dp *dp, int slot, int capturing);

/* The next backward is the step's last and runs its launches (not a graph
 * of its own): with overlap (zero 0) its hook reduces block by block, and
 * the last group also averages loss_sum and sums correct (device). */
void tr_cuda_dp_arm(tr_cuda_dp *dp, float *loss_sum, int *correct);

/* After the last backward: the rest of the gradient reduce (all of it
 * without overlap; with zero 1 the reduce-scatter into the shard), with
 * loss_sum averaged and correct summed over ranks; the compute stream s
 * waits for it. */
int tr_cuda_dp_reduce(tr_cuda_dp *dp, float *loss_sum, int *correct, cudaStream_t s);

/* --zero 1: the global gradient norm from the shards: norm_out, clip_out as
 * kn_global_norm_dev over the whole gradient (max_norm: device float). */
int tr_cuda_dp_norm(tr_cuda_dp *dp, float *norm_out, float *clip_out, const float *max_norm,
                    void *scratch, size_t scratch_bytes, cudaStream_t s);

/* --zero 1: every rank's shard of buf (world * shard elements of t) reaches
 * every rank, on the comm stream, joined into s. */
int tr_cuda_dp_all_gather(tr_cuda_dp *dp, void *buf, enum tr_dist_dtype t, cudaStream_t s);

/* --profile, after slot's step completed: its reduce time, exposed time and
 * bus bandwidth (ms, ms, GB/s); false when not profiling. */
bool tr_cuda_dp_times(tr_cuda_dp *dp, int slot, double *reduce_ms, double *exposed_ms,
                      double *busbw_gbs);

#endif
