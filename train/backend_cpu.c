/* The CPU back end: synchronous, OpenMP inside the reference ops. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend.h"
#include "ingot_err.h"
#include "ref_ops.h"
#include "tr_cpu_model.h"
#include "tr_dist.h"

struct tr_backend {
    struct tr_backend_opts o;
    size_t n_params;
    size_t sizes[TR_NUM_PARAMS];
    float *params, *grads, *m, *v;    /* one allocation each */
    int32_t *inp, *tgt;               /* [batch * T] each, one allocation */
    tr_cpu_model *model;
    bool have_result;
    struct tr_step_result result;
};

static bool cpu_available(char *why, size_t why_len)
{
    (void)why;
    (void)why_len;
    return true;
}

static void cpu_destroy(tr_backend *b)
{
    if (!b)
        return;
    tr_cpu_model_free(b->model);
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
    size_t bytes = b->n_params * sizeof(float);
    size_t N = (size_t)o->batch * o->cfg.seq_len;
    b->params = malloc(bytes);
    b->grads = calloc(b->n_params, sizeof(float));
    b->m = calloc(b->n_params, sizeof(float));
    b->v = calloc(b->n_params, sizeof(float));
    b->inp = malloc(2 * N * sizeof(int32_t));
    if (!b->params || !b->grads || !b->m || !b->v || !b->inp) {
        cpu_destroy(b);
        return ingot_fail(-ENOMEM, "cpu: cannot allocate 4 x %zu MiB for parameters, gradients "
                          "and AdamW state", bytes >> 20);
    }
    b->tgt = b->inp + N;
    memcpy(b->params, params, bytes);
    int err = tr_cpu_model_create(&o->cfg, o->batch, &b->model);
    if (err) {
        cpu_destroy(b);
        return err;
    }
    *out = b;
    return 0;
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

    memset(b->grads, 0, b->n_params * sizeof(float));
    for (int k = 0; k < K; k++) {
        double ls;
        int64_t h;
        split_rows(b, chunk + (size_t)k * B * (T + 1), B);
        tr_cpu_forward(b->model, b->params, b->inp, b->tgt, B, T, dloss, &ls, &h);
        tr_cpu_backward(b->model, b->params, b->grads);
        loss += ls;
        hits += h;
    }
    /* Data parallelism: every rank's gradient, loss and accuracy are means
     * over its equal share of the batch, so their mean over ranks is the
     * whole batch's, and every rank then makes the same update. */
    double stats[2] = { loss / (double)(N * (size_t)K), (double)hits / (double)(N * (size_t)K) };
    int err;
    if ((err = tr_dist_mean_f32(b->o.dist, b->grads, b->n_params)) ||
        (err = tr_dist_mean_f64(b->o.dist, stats, 2)))
        return err;
    double norm = sqrt(ref_sum_squares(b->grads, b->n_params));
    float scale = ref_clip_factor(norm, hp->grad_clip);
    size_t off = 0;
    for (int id = 0; id < TR_NUM_PARAMS; id++) {
        ref_adamw(b->params + off, b->grads + off, b->m + off, b->v + off, b->sizes[id], hp->lr,
                  hp->beta1, hp->beta2, hp->eps, tr_param_decays(id) ? hp->weight_decay : 0.0f,
                  hp->t, scale);
        off += b->sizes[id];
    }
    b->result.t = hp->t;
    b->result.loss = stats[0];
    b->result.accuracy = stats[1];
    b->result.grad_norm = norm;
    b->have_result = true;
    return 0;
}

static int cpu_collect_step(tr_backend *b, struct tr_step_result *res)
{
    if (!b->have_result)
        return ingot_fail(INGOT_E_USAGE, "cpu: collect without a submitted step");
    *res = b->result;
    b->have_result = false;
    return 0;
}

static int cpu_eval(tr_backend *b, const int32_t *rows, int n_seqs, double *loss)
{
    int T = b->o.cfg.seq_len;
    if (n_seqs < 1 || n_seqs > b->o.batch)
        return ingot_fail(INGOT_E_USAGE, "cpu: eval of %d sequences (batch %d)", n_seqs, b->o.batch);
    double ls;
    split_rows(b, rows, n_seqs);
    tr_cpu_forward(b->model, b->params, b->inp, b->tgt, n_seqs, T, 0.0f, &ls, NULL);
    *loss = ls / ((double)n_seqs * T);
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
    tr_cpu_forward(b->model, b->params, ids, NULL, 1, n, 0.0f, NULL, NULL);
    memcpy(out, tr_cpu_logits(b->model) + (size_t)(n - 1) * c->vocab_padded,
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

static int cpu_get_opt_state(tr_backend *b, float *m, float *v)
{
    memcpy(m, b->m, b->n_params * sizeof(float));
    memcpy(v, b->v, b->n_params * sizeof(float));
    return 0;
}

static int cpu_set_opt_state(tr_backend *b, const float *m, const float *v)
{
    memcpy(b->m, m, b->n_params * sizeof(float));
    memcpy(b->v, v, b->n_params * sizeof(float));
    return 0;
}

static size_t cpu_mem_bytes(const tr_backend *b)
{
    return 4 * b->n_params * sizeof(float) + tr_cpu_model_act_bytes(b->model);
}

const struct tr_backend_ops tr_backend_cpu = {
    .name = "cpu",
    .max_in_flight = 1,
    .available = cpu_available,
    .create = cpu_create,
    .submit_step = cpu_submit_step,
    .collect_step = cpu_collect_step,
    .eval = cpu_eval,
    .logits = cpu_logits,
    .get_params = cpu_get_params,
    .set_params = cpu_set_params,
    .get_opt_state = cpu_get_opt_state,
    .set_opt_state = cpu_set_opt_state,
    .mem_bytes = cpu_mem_bytes,
    .destroy = cpu_destroy,
};
