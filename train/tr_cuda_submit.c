/* The host side of a training step: the chunk into a pinned slot, one
 * upload, the one-sync pacing, the step's launch (submit); its result read
 * back one or two steps later (collect). See backend_cuda.c's opening
 * comment for why the pace wait is the only sync. */
#include <stdio.h>
#include <string.h>

#include "cuda_check.h"
#include "tr_cuda_be.h"
#include "tr_cuda_sync.h"
#include "tr_dist.h"

/* n rows of T + 1 ids -> [inputs n*T | targets n*T] at dst (pinned). */
void tr_cuda_split_rows(int32_t *dst, const int32_t *rows, size_t n, int T)
{
    for (size_t r = 0; r < n; r++) {
        const int32_t *row = rows + r * (size_t)(T + 1);
        memcpy(dst + r * T, row, (size_t)T * sizeof(int32_t));
        memcpy(dst + (n + r) * T, row + 1, (size_t)T * sizeof(int32_t));
    }
}

/* tr_cuda_split_rows() narrowing each id to 16 bits (every id < vocab <= 65536);
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
            tr_cuda_split_rows(b->h_tok[slot] + 2 * (size_t)k * per_micro, rows, (size_t)B, T);
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
    tr_cuda_prof_begin(b->prof, TR_HOST_WAIT);
    int err = b->pace[prev] ? tr_cuda_sync_event(b->pace[prev], "previous step's backward (pace)")
                            : tr_cuda_sync_event(b->done[prev2], "step result");
    tr_cuda_prof_end(b->prof, TR_HOST_WAIT, slot);
    if (!err)   /* steps before s-1 are done: this wait is step s-2's sync */
        b->n_known_done = b->n_submitted - 1;
    return err;
}

/* The pinned slot's previous upload (NSLOT steps ago) finished before that
 * step was collected; this only waits (and counts) if not. */
static int pinned_slot_free(tr_backend *b, int slot)
{
    cudaError_t q = cudaEventQuery(b->up_done[slot]);
    if (q == cudaErrorNotReady)
        return tr_cuda_sync_event(b->up_done[slot], "reuse of a pinned token buffer");
    CUDA_CHECK(q);
    return 0;
}

/* The slot's record and tokens in one copy on the upload stream, once the
 * device slot is free (its last step done); then up_done[slot]. */
static int upload_slot(tr_backend *b, int slot)
{
    const size_t bytes = SLOT_HEAD + 2 * b->rows_tokens * (b->ids16 ? 2 : 4);
    int err;
    CUDA_CHECK(cudaStreamWaitEvent(b->us, b->done[slot], 0));
    if ((err = tr_cuda_prof_mark(b->prof, slot, TR_PROF_UP0, 0, b->us, 0)))
        return err;
    CUDA_CHECK(cudaMemcpyAsync(b->d_head[slot], b->h_head[slot], bytes, cudaMemcpyHostToDevice,
                               b->us));
    if ((err = tr_cuda_prof_mark(b->prof, slot, TR_PROF_UP1, 0, b->us, 0)))
        return err;
    CUDA_CHECK(cudaEventRecord(b->up_done[slot], b->us));
    return 0;
}

int tr_cuda_step_submit(tr_backend *b, const int32_t *chunk, const struct tr_step_hparams *hp)
{
    if (b->n_submitted - b->n_collected >= MAX_IN_FLIGHT)
        return ingot_fail(INGOT_E_USAGE, "cuda: %d steps in flight; collect first",
                          MAX_IN_FLIGHT);
    const int slot = (int)(b->n_submitted % NSLOT);
    int err;
    tr_cuda_prof_begin(b->prof, TR_HOST_SUBMIT);
    /* --zero 1: rank 0 says "step", the others first serve its gathers */
    if (b->serving && (err = tr_dist_rank(b->o.dist) == 0 ?
                       tr_zero_post(b->o.dist, TR_ZERO_STEP, 0) :
                       tr_zero_serve(b->o.dist, TR_ZERO_STEP, tr_cuda_be_serve_gather, b)))
        return err;
    if ((err = pinned_slot_free(b, slot)))
        return err;
    fill_slot(b, slot, chunk, hp);
    if ((err = upload_slot(b, slot)))
        return err;
    /* Compute stream: after the upload, the whole step; the host's one wait
     * comes just before its launch. */
    CUDA_CHECK(cudaStreamWaitEvent(b->cs, b->up_done[slot], 0));
    if ((err = pace_wait(b, slot)))
        return err;
    b->fresh[slot] = b->n_submitted == b->n_collected;
    CUDA_CHECK(cudaEventRecord(b->t_begin[slot], b->cs));
    tr_cuda_prof_begin(b->prof, TR_HOST_LAUNCH);
    if ((err = tr_cuda_step_enqueue(b, slot)))
        return err;
    tr_cuda_prof_end(b->prof, TR_HOST_LAUNCH, slot);
    CUDA_CHECK(cudaEventRecord(b->t_end[slot], b->cs));
    CUDA_CHECK(cudaEventRecord(b->done[slot], b->cs));
    b->t_of[slot] = hp->t;
    b->n_submitted++;
    tr_cuda_prof_end(b->prof, TR_HOST_SUBMIT, slot);
    return 0;
}

/* --profile with data parallelism: the step's collective times, summed for
 * the closing line (the first steps load and warm up: left out). */
static void dp_account(tr_backend *b, int slot)
{
    double *d = b->dp_last;
    struct tr_step_prof p;
    if (!tr_cuda_dp_times(b->dp, slot, &d[0], &d[1], &d[2]) || b->n_collected <= 3 ||
        tr_cuda_prof_last(b->prof, &p))
        return;
    b->dps.n++;
    b->dps.reduce_ms += d[0];
    b->dps.exposed_ms += d[1];
    b->dps.busbw += d[2];
    b->dps.syncs += (double)p.syncs;
}

/* The done step's device period (tr_step_result.period_s): the host's
 * interval between two collects is not it, because a step is normally
 * collected once the next one's backward has ended but, where the loop
 * drains, once it is done itself (the step before the last of a drain then
 * showed a few ms and millions of tok/s). The previous step's t_end is
 * still its own: its slot is reused only by a step submitted after this
 * collect (MAX_IN_FLIGHT < NSLOT). */
_Static_assert(MAX_IN_FLIGHT < NSLOT, "step_period reads the previous step's t_end");

static double step_period(tr_backend *b, int slot)
{
    const cudaEvent_t from = b->fresh[slot] ? b->t_begin[slot] : b->t_end[(slot + NSLOT - 1) % NSLOT];
    float ms = -1.0f;
    if (cudaEventElapsedTime(&ms, from, b->t_end[slot]) != cudaSuccess) {
        (void)cudaGetLastError(); /* not measured: the loop takes the host's interval */
        return -1.0;
    }
    return ms > 0.0f ? ms * 1e-3 : -1.0;
}

int tr_cuda_step_collect(tr_backend *b, struct tr_step_result *res)
{
    if (b->n_collected >= b->n_submitted)
        return ingot_fail(INGOT_E_USAGE, "cuda: collect without a submitted step");
    const int slot = (int)(b->n_collected % NSLOT);
    tr_cuda_prof_begin(b->prof, TR_HOST_COLLECT);
    /* Normally the pace wait of step s+2 has shown step s done and was its
     * sync: then only a query (which also surfaces an earlier kernel's
     * error). Otherwise (the loop drains the pipeline, or keeps fewer steps
     * in flight) the wait here is the step's sync, counted even when the
     * step has finished by itself, so every step counts exactly one. */
    if (b->n_collected >= b->n_known_done || cudaEventQuery(b->done[slot]) != cudaSuccess) {
        tr_cuda_prof_begin(b->prof, TR_HOST_WAIT);
        int err = tr_cuda_sync_event(b->done[slot], "step result");
        if (err)
            return err;
        tr_cuda_prof_end(b->prof, TR_HOST_WAIT, slot);
    }
    const struct step_out *o = &b->h_out[slot];
    double n_tok = (double)b->rows_tokens;
    res->t = b->t_of[slot];
    res->loss = (double)o->loss_sum / n_tok;
    res->accuracy = (double)o->correct / (n_tok * tr_dist_world(b->o.dist));
    res->grad_norm = (double)o->norm;
    res->period_s = step_period(b, slot);
    b->n_collected++;
    tr_cuda_prof_collect(b->prof, slot);
    dp_account(b, slot);
    return 0;
}

int tr_cuda_step_profile(tr_backend *b, struct tr_step_prof *p)
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
void tr_cuda_step_dp_summary(const tr_backend *b)
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
            b->o.grad_reduce_bf16 ? "bf16" : "fp32", kn_env_off("INGOT_DP_OVERLAP") || b->zero ?
            "off" : "on");
}

