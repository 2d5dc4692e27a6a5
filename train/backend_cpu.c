/* The CPU back end: synchronous, OpenMP inside the reference ops.
 *
 * Data parallelism (o.dist): the gradients are averaged over ranks before
 * the norm, in fp32, or (--grad-reduce bf16) rounded to bf16, averaged and
 * rounded again: the bf16 reduce's numerics (lossy), not its bandwidth,
 * since the host transports carry fp32.
 *
 * --zero 1 (tr_dist_zero.h): params and grads are padded to n_pad; each rank
 * keeps m and v for its shard only, reduce-scatters the gradients, takes the
 * global norm as the sum over ranks of its shard's squares, updates its
 * shard, and all-gathers the parameters. get_opt_state gathers the whole m
 * and v (rank 0 alone may ask: the other ranks serve it at their next step
 * or destroy); set_opt_state takes the whole m and v and keeps the shard, so
 * checkpoints keep today's format at any world size.
 *
 * --profile: the host's time in the forward and the backward passes (summed
 * over the micro-steps) and in the rest of the step (the gradient reduce,
 * the norm, AdamW), and the process's CPU time over the wall time since the
 * previous collect; the GPU's figures are "not available". */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend.h"
#include "ingot_err.h"
#include "mono_clock.h"
#include "ref_ops.h"
#include "tr_cpu_net.h"
#include "tr_dist.h"
#include "tr_dist_zero.h"
#include "tr_mem_check.h"

struct tr_backend {
    struct tr_backend_opts o;
    size_t n_params;
    size_t sizes[TR_NUM_PARAMS];
    float *params, *grads, *m, *v;    /* one allocation each */
    bool zero;                        /* --zero 1: m, v hold z's shard only */
    bool serving;                     /* created: destroy ends the command channel */
    struct tr_zero z;                 /* params and grads hold z.n_pad floats */
    int32_t *inp, *tgt;               /* [batch * T] each, one allocation */
    tr_cpu_net *model;               /* the architecture's (tr_cpu_net.h) */
    bool have_result;
    struct tr_step_result result;
    /* --profile (o.profile) */
    double fwd_ms, bwd_ms, opt_ms;    /* the submitted step's phases */
    struct cpu_meter cpu;             /* since the previous collect (or create) */
    bool have_prof;
    struct tr_step_prof prof;         /* the last collected step's */
};

static bool cpu_available(char *why, size_t why_len)
{
    (void)why;
    (void)why_len;
    return true;
}

static int serve_gather(void *ctx, int arg);

static void cpu_destroy(tr_backend *b)
{
    if (!b)
        return;
    /* --zero 1: rank 0 may still gather the shards (a last checkpoint) */
    if (b->serving)
        (void)tr_zero_end(b->o.dist, serve_gather, b);
    tr_cpu_net_free(b->model);
    free(b->params);
    free(b->grads);
    free(b->m);
    free(b->v);
    free(b->inp);
    free(b);
}

static int cpu_create(const struct tr_backend_opts *o, const float *params, tr_backend **out)
{
    *out = NULL;
    tr_backend *b = calloc(1, sizeof(*b));
    if (!b)
        return ingot_oom("cpu back end", sizeof(*b));
    b->o = *o;
#ifdef _OPENMP
    if (o->threads > 0)
        omp_set_num_threads(o->threads);
#endif
    b->n_params = tr_param_count(&o->cfg);
    tr_param_sizes(&o->cfg, b->sizes);
    b->zero = o->zero == 1;
    tr_zero_layout(b->n_params, b->zero ? o->dist : NULL, &b->z);
    if (!b->zero)
        b->z.n_pad = b->z.shard = b->n_params;
    size_t bytes = b->n_params * sizeof(float);
    size_t N = (size_t)o->batch * o->cfg.seq_len;
    /* the model first: its activations are zeroed (touched) as they are
     * allocated, so the check of the state below sees them as used, where
     * the state's calloc'd pages are touched only by the first step */
    int err = tr_cpu_net_create(&o->cfg, o->batch, &b->model);
    if (err) {
        cpu_destroy(b);
        return err;
    }
    uint64_t state = 2 * (uint64_t)b->z.n_pad * sizeof(float) +
                     2 * (uint64_t)b->z.shard * sizeof(float) + o->host_later;
    /* what the caller frees once this back end is made is in use now */
    state = state > o->host_freed ? state - o->host_freed : 0;
    if ((err = tr_mem_check(state, o->host_later ? "cpu: the parameters, gradients and AdamW "
                            "state, with each checkpoint's copies of them" : "cpu: the "
                            "parameters, gradients and AdamW state",
                            "a smaller --model, --zero 1 over more ranks, or train on a GPU "
                            "(--device cuda)"))) {
        cpu_destroy(b);
        return err;
    }
    b->params = calloc(b->z.n_pad, sizeof(float));
    b->grads = calloc(b->z.n_pad, sizeof(float));
    b->m = calloc(b->z.shard, sizeof(float));
    b->v = calloc(b->z.shard, sizeof(float));
    b->inp = malloc(2 * N * sizeof(int32_t));
    if (!b->params || !b->grads || !b->m || !b->v || !b->inp) {
        size_t full = b->z.n_pad * sizeof(float), part = b->z.shard * sizeof(float);
        cpu_destroy(b);
        return ingot_fail(-ENOMEM, "cpu: cannot allocate 2 x %zu + 2 x %zu MiB for parameters, "
                          "gradients and AdamW state", full >> 20, part >> 20);
    }
    b->tgt = b->inp + N;
    memcpy(b->params, params, bytes);
    b->serving = b->zero && tr_dist_world(o->dist) > 1;
    cpu_meter_start(&b->cpu);
    *out = b;
    return 0;
}

/* --grad-reduce bf16: x rounded to the nearest bfloat16 (ties to even), as
 * the GPU's conversion does; NaN stays NaN. */
static float bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof(u));
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu))
        u |= 0x00400000u;
    else
        u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&x, &u, sizeof(x));
    return x;
}

static void round_bf16(float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] = bf16_round(g[i]);
}

/* The mean over ranks of every gradient (--zero 0), or of this rank's shard
 * (--zero 1), in fp32 or through bf16. */
static int reduce_grads(tr_backend *b)
{
    const bool bf16 = b->o.grad_reduce_bf16;
    float *mine = b->grads + b->z.lo;
    int err;
    if (bf16)
        round_bf16(b->grads, b->n_params);
    if (b->zero)
        err = tr_dist_reduce_scatter_f32(b->o.dist, b->grads, b->z.shard);
    else
        err = tr_dist_mean_f32(b->o.dist, b->grads, b->n_params);
    if (!err && bf16)
        round_bf16(mine, b->zero ? b->z.shard : b->n_params);
    return err;
}

/* The whole m (arg 0) or v (arg 1) gathered through the gradient buffer
 * (n_pad floats, rewritten by the next step anyway) into out (n floats;
 * NULL: only this rank's part of the collective). */
static int gather_state(tr_backend *b, int arg, float *out)
{
    const float *mine = arg ? b->v : b->m;
    memcpy(b->grads + b->z.lo, mine, b->z.shard * sizeof(float));
    int err = tr_dist_all_gather_f32(b->o.dist, b->grads, b->z.shard);
    if (!err && out)
        memcpy(out, b->grads, b->n_params * sizeof(float));
    return err;
}

static int serve_gather(void *ctx, int arg)
{
    return gather_state(ctx, arg, NULL);
}

/* Split n rows of T + 1 ids into inputs and targets. */
static void split_rows(tr_backend *b, const int32_t *rows, int n)
{
    int T = b->o.cfg.seq_len;
    for (int r = 0; r < n; r++) {
        const int32_t *row = rows + (size_t)r * (T + 1);
        memcpy(b->inp + (size_t)r * T, row, (size_t)T * sizeof(int32_t));
        memcpy(b->tgt + (size_t)r * T, row + 1, (size_t)T * sizeof(int32_t));
    }
}

static int cpu_submit_step(tr_backend *b, const int32_t *chunk, const struct tr_step_hparams *hp)
{
    if (b->have_result)
        return ingot_fail(INGOT_E_USAGE, "cpu: a step was submitted before the last was collected");
    const struct tr_config *c = &b->o.cfg;
    int B = b->o.batch, T = c->seq_len, K = b->o.grad_accum;
    size_t N = (size_t)B * T;
    float dloss = 1.0f / (float)(N * (size_t)K);
    double loss = 0.0;
    int64_t hits = 0;

    int err;
    /* --zero 1: rank 0 says "step", the others first serve its gathers */
    if (b->serving && (err = tr_dist_rank(b->o.dist) == 0 ?
                       tr_zero_post(b->o.dist, TR_ZERO_STEP, 0) :
                       tr_zero_serve(b->o.dist, TR_ZERO_STEP, serve_gather, b)))
        return err;
    memset(b->grads, 0, b->z.n_pad * sizeof(float));
    double t0 = mono_now(), t1 = t0, t2 = t0;
    b->fwd_ms = b->bwd_ms = 0.0;
    for (int k = 0; k < K; k++) {
        double ls;
        int64_t h;
        split_rows(b, chunk + (size_t)k * B * (T + 1), B);
        tr_cpu_net_forward(b->model, b->params, b->inp, b->tgt, B, T, dloss, &ls, &h);
        if (b->o.profile)
            t1 = mono_now();
        tr_cpu_net_backward(b->model, b->params, b->grads);
        if (b->o.profile) {
            t2 = mono_now();
            b->fwd_ms += 1e3 * (t1 - t0);
            b->bwd_ms += 1e3 * (t2 - t1);
            t0 = t2;
        }
        loss += ls;
        hits += h;
    }
    /* Data parallelism: every rank's gradient, loss and accuracy are means
     * over its equal share of the batch, so their mean over ranks is the
     * whole batch's, and every rank then makes the same update. */
    double stats[2] = { loss / (double)(N * (size_t)K), (double)hits / (double)(N * (size_t)K) };
    if ((err = reduce_grads(b)) || (err = tr_dist_mean_f64(b->o.dist, stats, 2)))
        return err;
#ifdef INGOT_TEST_HOOKS
    /* a gradient gone NaN at step INGOT_TRAIN_TEST_NAN_GRAD_STEP, as an
     * overflow in a backward makes one, so that a test sees the run stop
     * before that step's update is saved */
    const char *nan_step = getenv("INGOT_TRAIN_TEST_NAN_GRAD_STEP");
    if (nan_step && atoi(nan_step) == hp->t)
        b->grads[b->z.lo] = NAN;
#endif
    /* the global norm: every rank's shard's squares, summed over ranks */
    double ss = ref_sum_squares(b->grads + b->z.lo, b->zero ? b->z.shard : b->n_params);
    if (b->zero && (err = tr_dist_sum_f64(b->o.dist, &ss, 1)))
        return err;
    double norm = sqrt(ss);
    float scale = ref_clip_factor(norm, hp->grad_clip);
    size_t off = 0, a, e;
    for (int id = 0; id < tr_arch_num_params(c); off += b->sizes[id], id++) {
        if (!tr_zero_clip(&b->z, off, b->sizes[id], &a, &e))
            continue;   /* --zero 1: another rank's */
        ref_adamw(b->params + a, b->grads + a, b->m + (a - b->z.lo), b->v + (a - b->z.lo), e - a,
                  hp->lr, hp->beta1, hp->beta2, hp->eps,
                  tr_param_decays_cfg(c, id) ? hp->weight_decay : 0.0f, hp->t, scale);
    }
    if (b->zero && (err = tr_dist_all_gather_f32(b->o.dist, b->params, b->z.shard)))
        return err;
    b->result.t = hp->t;
    b->result.loss = stats[0];
    b->result.accuracy = stats[1];
    b->result.grad_norm = norm;
    b->result.period_s = -1.0; /* the host's interval is the step's */
    b->have_result = true;
    if (b->o.profile)
        b->opt_ms = 1e3 * (mono_now() - t2);
    return 0;
}

/* --profile: the step just collected; the GPU's figures are not available. */
static void profile_collect(tr_backend *b)
{
    double wall;
    const double cpu_pct = cpu_meter_read(&b->cpu, &wall);
    b->prof = (struct tr_step_prof){
        .upload_ms = -1, .fwd_ms = b->fwd_ms, .bwd_ms = b->bwd_ms, .opt_ms = b->opt_ms,
        .gpu_idle_ms = -1, .gpu_busy_pct = -1,
        .cpu_pct = cpu_pct, .host_wall_s = wall,
        .syncs = -1, .host_allocs = -1, .gpu_util_pct = -1, .sm_clock_mhz = -1,
        .power_w = -1, .power_capped = -1, .dp_reduce_ms = -1, .dp_exposed_ms = -1,
        .dp_busbw_gbs = -1, .gpu_mem_mib = -1,
    };
    b->have_prof = true;
}

static int cpu_step_profile(tr_backend *b, struct tr_step_prof *p)
{
    if (!b->have_prof)
        return ingot_fail(INGOT_E_USAGE, "cpu: %s", b->o.profile ? "no step collected yet"
                                                                  : "profiling is off (--profile)");
    *p = b->prof;
    return 0;
}

static int cpu_collect_step(tr_backend *b, struct tr_step_result *res)
{
    if (!b->have_result)
        return ingot_fail(INGOT_E_USAGE, "cpu: collect without a submitted step");
    *res = b->result;
    b->have_result = false;
    if (b->o.profile)
        profile_collect(b);
    return 0;
}

static int cpu_eval(tr_backend *b, const int32_t *rows, int n_seqs, double *loss,
                    double *row_loss)
{
    int T = b->o.cfg.seq_len;
    if (n_seqs < 1 || n_seqs > b->o.batch)
        return ingot_fail(INGOT_E_USAGE, "cpu: eval of %d sequences (batch %d)", n_seqs, b->o.batch);
    double ls;
    split_rows(b, rows, n_seqs);
    tr_cpu_net_forward(b->model, b->params, b->inp, b->tgt, n_seqs, T, 0.0f, &ls, NULL);
    *loss = ls / ((double)n_seqs * T);
    if (row_loss)
        tr_cpu_net_row_losses(b->model, n_seqs, T, row_loss);
    return 0;
}

static int cpu_logits(tr_backend *b, const int32_t *ids, int n, float *out)
{
    const struct tr_config *c = &b->o.cfg;
    if (n < 1 || n > c->seq_len)
        return ingot_fail(INGOT_E_USAGE, "cpu: logits for a context of %d tokens (seq-len %d)",
                          n, c->seq_len);
    /* The model is causal: a forward over exactly n positions gives the
     * same last row as any longer one. */
    tr_cpu_net_forward(b->model, b->params, ids, NULL, 1, n, 0.0f, NULL, NULL);
    memcpy(out, tr_cpu_net_logits(b->model) + (size_t)(n - 1) * c->vocab_padded,
           (size_t)c->vocab * sizeof(float));
    return 0;
}

static int cpu_get_params(tr_backend *b, float *params)
{
    memcpy(params, b->params, b->n_params * sizeof(float));
    return 0;
}

static int cpu_set_params(tr_backend *b, const float *params)
{
    memcpy(b->params, params, b->n_params * sizeof(float));
    return 0;
}

/* --zero 1 over several ranks: collective. Rank 0 announces the gathers,
 * which the others serve where they are (their next step, or destroy); a
 * rank > 0 that calls it itself takes part in rank 0's next gathers and gets
 * the whole state too. */
static int cpu_get_opt_state(tr_backend *b, float *m, float *v)
{
    if (!b->zero) {
        memcpy(m, b->m, b->n_params * sizeof(float));
        memcpy(v, b->v, b->n_params * sizeof(float));
        return 0;
    }
    tr_dist *d = b->o.dist;
    bool root = tr_dist_rank(d) == 0;
    int err = 0;
    for (int arg = 0; arg < 2 && !err; arg++) {
        int cmd = TR_ZERO_GATHER, got = arg;
        if (b->serving)
            err = root ? tr_zero_post(d, TR_ZERO_GATHER, arg) : tr_zero_next(d, &cmd, &got);
        if (!err && (cmd != TR_ZERO_GATHER || got != arg))
            err = ingot_fail(INGOT_E_MISMATCH, "rank %d: --zero 1: rank 0 is not gathering the "
                             "AdamW state here", tr_dist_rank(d));
        if (!err)
            err = gather_state(b, arg, arg ? v : m);
    }
    return err;
}

/* Every rank gets the whole m and v (a checkpoint) and keeps its shard. */
static int cpu_set_opt_state(tr_backend *b, const float *m, const float *v)
{
    size_t a, e;
    memset(b->m, 0, b->z.shard * sizeof(float));
    memset(b->v, 0, b->z.shard * sizeof(float));
    if (tr_zero_clip(&b->z, 0, b->n_params, &a, &e)) {
        memcpy(b->m, m + a, (e - a) * sizeof(float));
        memcpy(b->v, v + a, (e - a) * sizeof(float));
    }
    return 0;
}

static size_t cpu_mem_bytes(const tr_backend *b)
{
    return 2 * (b->z.n_pad + b->z.shard) * sizeof(float) + tr_cpu_net_act_bytes(b->model);
}

const struct tr_backend_ops tr_backend_cpu = {
    .name = "cpu",
    .max_in_flight = 1,
    .available = cpu_available,
    .create = cpu_create,
    .submit_step = cpu_submit_step,
    .collect_step = cpu_collect_step,
    .step_profile = cpu_step_profile,
    .eval = cpu_eval,
    .logits = cpu_logits,
    .get_params = cpu_get_params,
    .set_params = cpu_set_params,
    .get_opt_state = cpu_get_opt_state,
    .set_opt_state = cpu_set_opt_state,
    .mem_bytes = cpu_mem_bytes,
    .destroy = cpu_destroy,
};
