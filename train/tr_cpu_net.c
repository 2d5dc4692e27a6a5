/* The CPU model of the run's architecture (tr_cpu_net.h). */
#include <stdlib.h>

#include "ingot_err.h"
#include "tr_cpu_llama.h"
#include "tr_cpu_model.h"
#include "tr_cpu_net.h"
#include "tr_llama_params.h"

struct tr_cpu_net {
    int arch;
    tr_cpu_model *gpt2;
    tr_cpu_llama *llama;
};

int tr_cpu_net_create(const struct tr_config *c, int max_batch, tr_cpu_net **out)
{
    *out = NULL;
    tr_cpu_net *n = calloc(1, sizeof(*n));
    if (!n)
        return ingot_oom("cpu model", sizeof(*n));
    n->arch = c->arch;
    int err;
    if (c->arch == TR_ARCH_LLAMA) {
        struct tr_llama_config l;
        tr_config_to_llama(c, &l);
        err = tr_cpu_llama_create(&l, max_batch, &n->llama);
    } else {
        err = tr_cpu_model_create(c, max_batch, &n->gpt2);
    }
    if (err) {
        free(n);
        return err;
    }
    *out = n;
    return 0;
}

void tr_cpu_net_free(tr_cpu_net *n)
{
    if (!n)
        return;
    tr_cpu_model_free(n->gpt2);
    tr_cpu_llama_free(n->llama);
    free(n);
}

size_t tr_cpu_net_act_bytes(const tr_cpu_net *n)
{
    return n->llama ? tr_cpu_llama_act_bytes(n->llama) : tr_cpu_model_act_bytes(n->gpt2);
}

void tr_cpu_net_forward(tr_cpu_net *n, const float *params, const int32_t *inp,
                        const int32_t *tgt, int B, int T, float dloss, double *loss_sum,
                        int64_t *n_correct)
{
    if (n->llama)
        tr_cpu_llama_forward(n->llama, params, inp, tgt, B, T, dloss, loss_sum, n_correct);
    else
        tr_cpu_forward(n->gpt2, params, inp, tgt, B, T, dloss, loss_sum, n_correct);
}

const float *tr_cpu_net_logits(const tr_cpu_net *n)
{
    return n->llama ? tr_cpu_llama_logits(n->llama) : tr_cpu_logits(n->gpt2);
}

const float *tr_cpu_net_losses(const tr_cpu_net *n)
{
    return n->llama ? tr_cpu_llama_losses(n->llama) : tr_cpu_losses(n->gpt2);
}

void tr_cpu_net_row_losses(const tr_cpu_net *n, int B, int T, double *row_loss)
{
    const float *l = tr_cpu_net_losses(n);
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int t = 0; t < T; t++)
            s += l[(size_t)b * T + t];
        row_loss[b] = s / T;
    }
}

void tr_cpu_net_backward(tr_cpu_net *n, const float *params, float *grads)
{
    if (n->llama)
        tr_cpu_llama_backward(n->llama, params, grads);
    else
        tr_cpu_backward(n->gpt2, params, grads);
}

int tr_cpu_net_forward_backward(const struct tr_config *c, const float *params,
                                const int32_t *chunk, int B, double *loss, float *grads,
                                float *logits)
{
    if (c->arch != TR_ARCH_LLAMA)
        return tr_cpu_forward_backward(c, params, chunk, B, loss, grads, logits);
    struct tr_llama_config l;
    tr_config_to_llama(c, &l);
    return tr_cpu_llama_forward_backward(&l, params, chunk, B, loss, grads, logits);
}
