/* What one training step runs on the compute stream (step_body), in order,
 * and the graphs captured from it: the whole step per slot while it holds at
 * most STEP_GRAPH_CAP layer passes (K micro-steps unrolled: K x layers;
 * looped, below: 2 x layers), else a micro-step's forward and backward. Before
 * capturing, one eager micro-step loads the modules and picks (tunes) the
 * GEMM algorithms, which the captures then reuse.
 *
 * With gradient accumulation the step graph runs micro-steps 0..K-2 as a
 * loop on the device (a WHILE node, kernels/graph_loop.h) and the last one
 * after it, which arms the data-parallel hook: the graph holds two
 * micro-steps' launches whatever K is. Unrolled, a step of K micro-steps is
 * K copies of every launch, which cudaGraphLaunch pushes into the GPU's
 * queue whole; past the queue's room the host spins until the GPU drains
 * it (GPT-2 124M, 16 micro-steps: 255 ms of a 427 ms step in the launch,
 * 55% of a core). INGOT_STEP_LOOP=0 unrolls (for comparisons); a loop the
 * driver refuses falls back to the unrolled graph with a note. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "cuda_check.h"
#include "gradnorm.h"
#include "graph_loop.h"
#include "tr_cuda_be.h"
#include "tr_cuda_sync.h"
#include "tr_dist.h"

void tr_cuda_graphs_destroy(tr_backend *b)
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

/* One training micro-step's forward on the d_cur tokens, adding its loss
 * and hits to d_acc, and its backward, adding to the gradients (or writing
 * them: a step's first, where it runs as its own launches). Fixed pointers
 * and shapes only: this is what the graphs capture. */
static int micro_fwd(tr_backend *b, int unused)
{
    (void)unused;
    const int B = b->o.batch, T = b->o.cfg.seq_len;
    const float dloss = 1.0f / (float)b->rows_tokens;
    return tr_cuda_net_forward(b->model, b->wcopy, b->d_cur, b->d_cur + (size_t)B * T, B, T, dloss,
                           &b->d_acc->loss_sum, &b->d_acc->correct, 1, b->cs);
}

static int micro_bwd(tr_backend *b, int write)
{
    return tr_cuda_net_backward(b->model, b->wcopy, b->grads, write, b->cs);
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

/* Run fn(b, arg) directly, or its graph when there is one (captured with
 * arg 0). */
static int run(tr_backend *b, cudaGraphExec_t g, int (*fn)(tr_backend *, int), int arg)
{
    if (!g)
        return fn(b, arg);
    CUDA_CHECK(cudaGraphLaunch(g, b->cs));
    return 0;
}

/* Micro-step *d_micro's tokens of slot -> d_cur: the loop's load, the index
 * read on the device. */
static int load_micro_looped(tr_backend *b, int slot)
{
    const size_t per = 2 * (size_t)b->o.batch * b->o.cfg.seq_len;
    return kn_load_ids_at(b->d_cur, b->d_tok[slot], b->ids16, per, per, b->d_micro, b->cs);
}

/* -Dtest_hooks=true builds only: INGOT_TRAIN_TEST_LOOP_REFUSE makes the
 * loop's body fail after its forward, so the tests reach the fallback to the
 * unrolled step graph that a refused loop takes: 1, a launch its launcher
 * refuses; 2, what a capture refuses (a stream synchronize, which
 * invalidates the body's capture). A release binary reads no such variable
 * (ingot-train --version says which). */
static int loop_test_refusal(const tr_backend *b)
{
#ifdef INGOT_TEST_HOOKS
    const char *e = getenv("INGOT_TRAIN_TEST_LOOP_REFUSE");
    if (e && !strcmp(e, "1"))
        return kn_load_ids_at(NULL, b->d_tok[0], b->ids16, 1, 1, b->d_micro, b->cs);
    if (e && !strcmp(e, "2")) {
        const cudaError_t r = cudaStreamSynchronize(b->cs);
        return ingot_fail(INGOT_E_CUDA, "cuda: test hook INGOT_TRAIN_TEST_LOOP_REFUSE: %s "
                          "(unset INGOT_TRAIN_TEST_LOOP_REFUSE to train with the loop)",
                          cudaGetErrorString(r));
    }
#else
    (void)b;
#endif
    return 0;
}

/* Captures micro-steps 0..K-2 as the step graph's loop: its body on the loop
 * stream (the micro-step's calls take b->cs, so it stands in for the
 * compute stream while the body is captured). */
static int capture_loop(tr_backend *b, int slot)
{
    kn_graph_loop l;
    const cudaStream_t cs = b->cs;
    int err = kn_graph_loop_begin(&l, b->d_micro, (unsigned)(b->o.grad_accum - 1), cs, b->ls);
    if (err)
        return err;
    b->cs = b->ls;
    if (!(err = load_micro_looped(b, slot)) && !(err = micro_fwd(b, 0)) &&
        !(err = loop_test_refusal(b)))
        err = micro_bwd(b, 0);
    b->cs = cs;
    if (err) {
        if (kn_graph_loop_abort(&l))
            b->graph_undestroyable = true;
        return err;
    }
    /* the body's end fails where its capture was invalidated by a call that
     * returned no error of ours: the same undestroyable graph */
    if ((err = kn_graph_loop_end(&l)))
        b->graph_undestroyable = true;
    return err;
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
    /* The first micro-step's backward writes the gradients where it is a
     * launch sequence of its own (eager, or in an unrolled step graph): no
     * pass clears them, and LLaMA's weight products read no zeros. The
     * loop's body and the micro-step graph serve every micro-step alike:
     * they add, to zeros first. Either way the same values (x + 0 is x);
     * INGOT_GRAD_WRITE=0 always adds (for comparisons). */
    static int grad_write = -1;   /* read once, not every eager step */
    const int looped = capturing && b->step_loop, own = capturing || !b->g_bwd;
    const int first_writes = own && !looped && kn_env_on_once(&grad_write, "INGOT_GRAD_WRITE");
    if (!first_writes)
        CUDA_CHECK(cudaMemsetAsync(b->grads, 0, b->z.n_pad * sizeof(float), cs));
    CUDA_CHECK(cudaMemsetAsync(acc, 0, sizeof(*acc), cs));
    int k0 = 0;
    if (looped) {
        /* the loop's end stands for micro-step K-2's backward end: the
         * profiler splits the loop as it finds the last micro-step */
        k0 = b->o.grad_accum - 1;
        STEP(capture_loop(b, slot));
        STEP(tr_cuda_prof_mark(pf, slot, TR_PROF_BWD_END, k0 - 1, cs, capturing));
    }
    for (int k = k0; k < b->o.grad_accum; k++) {
        STEP(load_micro(b, slot, k));
        STEP(run(b, capturing ? NULL : b->g_fwd, micro_fwd, 0));
        STEP(tr_cuda_prof_mark(pf, slot, TR_PROF_FWD_END, k, cs, capturing));
        /* the last backward reduces block by block as it goes, unless it
         * is a micro-step graph of its own (captured without the hook) */
        if (k == b->o.grad_accum - 1 && (capturing || !b->g_bwd))
            tr_cuda_dp_arm(b->dp, &acc->loss_sum, &acc->correct);
        STEP(run(b, own ? NULL : b->g_bwd, micro_bwd, first_writes && k == 0));
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
    b->graph_undestroyable = false;
    CUDA_CHECK(cudaStreamBeginCapture(b->cs, cudaStreamCaptureModeRelaxed));
    int err = fn(b, arg);
    cudaError_t e = cudaStreamEndCapture(b->cs, &g);
    if (!err && e != cudaSuccess)
        err = ingot_fail(INGOT_E_CUDA, "cuda: graph capture: %s", cudaGetErrorString(e));
    if (!err && (e = cudaGraphInstantiate(out, g, 0)) != cudaSuccess)
        err = ingot_fail(INGOT_E_CUDA, "cuda: graph instantiation: %s", cudaGetErrorString(e));
    if (g && !b->graph_undestroyable)
        cudaGraphDestroy(g);
    b->graph_undestroyable = false;
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

static int capture_steps(tr_backend *b)
{
    int err = 0;
    for (int i = 0; i < NSLOT && !err; i++)
        err = capture(b, capture_step, i, &b->g_step[i]);
    return err;
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

/* Run one micro-step eagerly (loading modules, choosing and timing GEMM
 * algorithms: kn_blas_set_tune) and the step's other kernels on harmless
 * inputs (loading them too), then, unless INGOT_CUDA_GRAPH=0, capture a step graph per slot, or, past STEP_GRAPH_CAP layer passes, the
 * micro-step graphs. A capture failure falls back with a note; an eager
 * failure is a real error. */
int tr_cuda_graphs_make(tr_backend *b)
{
    size_t scb;
    void *sc = tr_cuda_net_scratch(b->model, &scb);
    kn_adamw_tensors one = { .n = 1, .end = { 1 } };   /* a float of scratch: no state touched */
    int err = 0;
    /* the GEMM shapes of the step are planned (and tuned) here, once */
    kn_blas_set_tune(b->blas, 1);
    err = load_micro(b, 0, 0);
    if (!err && !(err = micro_fwd(b, 0)))
        err = micro_bwd(b, 0);
    kn_blas_set_tune(b->blas, 0);
    if (err ||
        (err = kn_global_norm_dev(&b->d_acc->norm, &b->d_acc->clip, b->grads, b->n_params,
                                  &b->d_head[0]->max_norm, sc, scb, b->cs)) ||
        (err = kn_adamw_flat(sc, sc, sc, sc, NULL, KN_F32, &one, &b->d_head[0]->hp, NULL,
                             b->cs)) ||
        (err = dp_warm_up(b, sc, scb)) ||
        (err = tr_cuda_sync_stream(b->cs, "warm-up micro-step")))
        return err;
    if (kn_env_off("INGOT_CUDA_GRAPH"))
        return 0;
    const char *what = "step";
    const int step_graph = !kn_env_off("INGOT_STEP_GRAPH");
    b->step_loop = step_graph && b->o.grad_accum >= 2 && 2 * (int64_t)b->o.cfg.n_layer <=
                   STEP_GRAPH_CAP && !kn_env_off("INGOT_STEP_LOOP");
    if (b->step_loop && (err = capture_steps(b))) {
        if (!b->o.quiet)
            printf("cuda: note: no graph loop for the micro-steps (%s): they are unrolled\n",
                   ingot_errmsg());
        ingot_clear_err();
        tr_cuda_graphs_destroy(b);
        b->step_loop = false;
        err = 0;
    }
    if (b->step_loop) {
        /* the looped step graphs are made */
    } else if ((int64_t)b->o.grad_accum * b->o.cfg.n_layer <= STEP_GRAPH_CAP && step_graph) {
        err = capture_steps(b);
    } else {
        what = "micro-step";
        if (!(err = capture(b, micro_fwd, 0, &b->g_fwd)))
            err = capture(b, micro_bwd, 0, &b->g_bwd);
    }
    if (err) {
        if (!b->o.quiet)
            printf("cuda: note: running without %s graphs (%s)\n", what, ingot_errmsg());
        ingot_clear_err();
        tr_cuda_graphs_destroy(b);
    }
    /* the profiler's marks inside the loop are not recorded (a loop body
     * holds no event nodes): it splits the loop's time */
    tr_cuda_prof_set_looped(b->prof, b->step_loop && b->g_step[0]);
    return 0;
}


int tr_cuda_step_enqueue(tr_backend *b, int slot)
{
    if (!b->g_step[slot])
        return step_body(b, slot, 0);
    CUDA_CHECK(cudaGraphLaunch(b->g_step[slot], b->cs));
    return 0;
}
