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
 *                    zero the gradients (or let micro-step 0 write
 *                    them: tr_cuda_graphs.c), every micro-step's token
 *                    widening, forward and backward, [pace], the global
 *                    norm and clip factor, one AdamW launch over all
 *                    parameters (reading the factor and the record from
 *                    device memory), and the copy of {loss sum, hits, norm}
 *                    to the slot's pinned result; then event "done".
 *   collect_step(s)  reads step s's result. The loop collects step s after
 *                    submitting s+2, whose pace wait has already seen step
 *                    s+1's backward end, so step s is done: a query, not a
 *                    wait, and that pace wait counts as step s's sync. A
 *                    step no pace wait covered (the loop draining for an
 *                    eval, a checkpoint or the end) is waited for here, and
 *                    that wait is counted even when the step has finished:
 *                    every step counts exactly one sync.
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
 * that loads the modules and picks and times the GEMM algorithms: matmul.h's
 * autotune), for up to
 * STEP_GRAPH_CAP layer passes per step (grad_accum x layers unrolled; with
 * gradient accumulation the micro-steps but the last run as a loop on the
 * device, 2 x layers: tr_cuda_graphs.c); beyond that,
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
 * command channel when rank 0 alone asks), set_* keep the shard.
 *
 * Files, by concern (tr_cuda_be.h): set-up in tr_cuda_buffers.c, what a step
 * runs and its graphs in tr_cuda_graphs.c, submit/pace/collect in
 * tr_cuda_submit.c; this file is the back-end table and the calls made with
 * no step in flight (eval, logits, transfers). */
#include <stdio.h>
#include <string.h>

#include "convert.h"
#include "cuda_check.h"
#include "kn_common.h"
#include "tr_cuda_be.h"
#include "tr_cuda_debug.h"
#include "tr_cuda_sync.h"
#include "tr_dist.h"

static bool cuda_available(char *why, size_t why_len)
{
    if (kn_device_check() == 0)
        return true;
    snprintf(why, why_len, "%s", ingot_errmsg());
    ingot_clear_err();
    return false;
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
    tr_cuda_split_rows(b->h_tok[0], rows, (size_t)n, T);
    CUDA_CHECK(cudaMemcpyAsync(b->d_tok[0], b->h_tok[0], 2 * (size_t)n * T * sizeof(int32_t),
                               cudaMemcpyHostToDevice, b->cs));
    return 0;
}

static int cuda_eval(tr_backend *b, const int32_t *rows, int n_seqs, double *loss,
                     double *row_loss)
{
    const int T = b->o.cfg.seq_len;
    int err = no_step_in_flight(b, "eval");
    if (err)
        return err;
    if (n_seqs < 1 || n_seqs > b->o.batch)
        return ingot_fail(INGOT_E_USAGE, "cuda: eval of %d sequences (batch %d)", n_seqs,
                          b->o.batch);
    struct step_out *d = b->d_eval, *h = b->h_eval;
    /* the rows' sums lie right after the total: one copy, one sync for both */
    size_t bytes = sizeof(*h) + (row_loss ? (size_t)n_seqs * sizeof(float) : 0);
    if ((err = upload_rows(b, rows, n_seqs, T)) ||
        (err = tr_cuda_net_forward(b->model, b->wcopy, b->d_tok[0], b->d_tok[0] + (size_t)n_seqs * T,
                               n_seqs, T, 0.0f, &d->loss_sum, NULL, 0, b->cs)) ||
        (row_loss && (err = tr_cuda_net_row_loss_sums(b->model, n_seqs, T, b->d_eval_rows,
                                                      b->cs))) ||
        (err = tr_cuda_sync_copy(h, d, bytes, cudaMemcpyDeviceToHost, b->cs, "eval loss")))
        return err;
    *loss = (double)h->loss_sum / ((double)n_seqs * T);
    for (int r = 0; row_loss && r < n_seqs; r++)
        row_loss[r] = (double)b->h_eval_rows[r] / T;
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

int tr_cuda_be_serve_gather(void *ctx, int arg)
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
    return tr_cuda_be_put_params(b, params);
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
        if ((err = tr_cuda_be_put_shard(b, b->m, m)) || (err = tr_cuda_be_put_shard(b, b->v, v)))
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
    if ((err = upload_rows(b, rows, n_seqs, T)) ||
        (err = tr_cuda_net_forward(b->model, b->wcopy, b->d_tok[0], b->d_tok[0] + (size_t)n_seqs * T,
                               n_seqs, T, 1.0f / ((float)n_seqs * T), &d->loss_sum, NULL, 0,
                               b->cs)) ||
        (err = tr_cuda_net_backward(b->model, b->wcopy, b->grads, 1, b->cs)))
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
    .create = tr_cuda_be_create,
    .submit_step = tr_cuda_step_submit,
    .collect_step = tr_cuda_step_collect,
    .eval = cuda_eval,
    .logits = cuda_logits,
    .get_params = cuda_get_params,
    .set_params = cuda_set_params,
    .get_opt_state = cuda_get_opt_state,
    .set_opt_state = cuda_set_opt_state,
    .mem_bytes = cuda_mem_bytes,
    .destroy = tr_cuda_be_destroy,
    .step_profile = tr_cuda_step_profile,
};
