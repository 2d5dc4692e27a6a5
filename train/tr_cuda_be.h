/* The CUDA back end's private state and the calls between its files
 * (backend.h is the public side). By concern:
 *   tr_cuda_buffers.c  create/destroy: streams, events, the device and pinned
 *                      blocks, parameter upload
 *   tr_cuda_graphs.c   what a step runs on the compute stream (step_body),
 *                      the warm-up and the graphs captured from it
 *   tr_cuda_submit.c   submit_step / collect_step: the host side of a step,
 *                      the one-sync pacing
 *   backend_cuda.c     the back-end table: eval, logits, parameter and state
 *                      transfers (--zero 1 gathers), debug gradients
 * See backend_cuda.c's opening comment for the design. */
#ifndef INGOT_TR_CUDA_BE_H
#define INGOT_TR_CUDA_BE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "adamw.h"
#include "backend.h"
#include "kn_common.h"
#include "matmul.h"
#include "tr_cuda_dp.h"
#include "tr_cuda_net.h"
#include "tr_cuda_prof.h"
#include "tr_dist_zero.h"

enum {
    NSLOT = 4,              /* token/result slots in rotation (> MAX_IN_FLIGHT) */
    MAX_IN_FLIGHT = 3,      /* submitted, not yet collected steps */
    SLOT_HEAD = 256,        /* a slot's AdamW record before its tokens */
    STEP_GRAPH_CAP = 1024,  /* layer passes up to which a step is one graph: grad_accum x
                               n_layer unrolled, 2 x n_layer looped (tr_cuda_graphs.c) */
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
    int *d_micro;                   /* the step graph's loop: the running micro-step */
    struct step_out *d_acc;         /* the running step's sums, norm, clip factor */
    struct step_out *d_eval;        /* eval's loss sum, then... */
    float *d_eval_rows;             /* ...[batch]: each row's loss sum (one copy reads both) */
    float *d_row;                   /* [Vp] */
    size_t misc_bytes;
    tr_cuda_net *model;             /* the architecture's (tr_cuda_net.h) */
    kn_blas *blas;
    cudaStream_t cs, us;            /* compute, upload */
    cudaStream_t ls;                /* captures the step graph's loop body */
    /* Graphs (NULL: not made): a whole step per slot, or else a micro-step's
     * forward and backward (make_graphs() says when which). step_loop: the
     * step graph runs micro-steps 0..grad_accum-2 as a device-side loop
     * (kernels/graph_loop.h), the last one after it. */
    cudaGraphExec_t g_step[NSLOT], g_fwd, g_bwd;
    bool step_loop;
    /* a failed loop body left the graph being captured undestroyable
     * (kn_graph_loop_abort): capture() leaves it be */
    bool graph_undestroyable;
    cudaEvent_t up_done[NSLOT], done[NSLOT];
    /* Timing events around each step on the compute stream (never waited
     * on): the step's device period for its tok/s (tr_step_result). fresh:
     * nothing was in flight when the slot's step was submitted, so its
     * period starts at its own t_begin, not at the previous step's t_end. */
    cudaEvent_t t_begin[NSLOT], t_end[NSLOT];
    bool fresh[NSLOT];
    /* Each step records pace[slot] after its last backward; submit sleeps
     * on the previous step's (the step's one sync). NULL with INGOT_PACE=0. */
    cudaEvent_t pace[NSLOT];
    /* pinned host */
    void *pinned;
    struct slot_head *h_head[NSLOT];
    int32_t *h_tok[NSLOT];
    struct step_out *h_out;         /* [NSLOT]: each slot's step result */
    struct step_out *h_eval;
    float *h_eval_rows;             /* [batch], right after h_eval */
    float *h_row;                   /* [Vp] */
    size_t pinned_bytes;
    /* steps: slot = count % NSLOT */
    int64_t n_submitted, n_collected;
    int64_t n_known_done;           /* steps [0, n_known_done) are done (a pace wait saw it) */
    int t_of[NSLOT];
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

/* tr_cuda_buffers.c: the whole back end for o (streams, events, every
 * allocation, the parameters uploaded, the graphs made); destroy accepts
 * NULL and waits for the streams first. */
int tr_cuda_be_create(const struct tr_backend_opts *o, const float *params, tr_backend **out);
void tr_cuda_be_destroy(tr_backend *b);
/* Host params (tr_params.h layout) -> device, the forward copy refreshed;
 * waits (counted: set-up and checkpoints only). */
int tr_cuda_be_put_params(tr_backend *b, const float *params);
/* --zero 1: a whole host tensor -> this rank's shard of it in dst (through
 * the gradient buffer), on the compute stream. */
int tr_cuda_be_put_shard(tr_backend *b, float *dst, const float *host);

/* tr_cuda_graphs.c: the warm-up micro-step and the graphs (make), their
 * release (destroy), and one step of slot on the compute stream: its graph
 * launched, or step_body run directly when there is none. */
int tr_cuda_graphs_make(tr_backend *b);
void tr_cuda_graphs_destroy(tr_backend *b);
int tr_cuda_step_enqueue(tr_backend *b, int slot);

/* tr_cuda_submit.c: the back-end table's submit_step, collect_step and
 * step_profile; the per-rank data-parallel line of --profile (at destroy). */
int tr_cuda_step_submit(tr_backend *b, const int32_t *chunk, const struct tr_step_hparams *hp);
int tr_cuda_step_collect(tr_backend *b, struct tr_step_result *res);
int tr_cuda_step_profile(tr_backend *b, struct tr_step_prof *p);
void tr_cuda_step_dp_summary(const tr_backend *b);
/* n rows of T + 1 ids -> [inputs n*T | targets n*T] at dst (pinned). */
void tr_cuda_split_rows(int32_t *dst, const int32_t *rows, size_t n, int T);

/* backend_cuda.c: --zero 1's gather command served on a rank > 0 (ctx: the
 * back end; arg: which state). */
int tr_cuda_be_serve_gather(void *ctx, int arg);

#endif
