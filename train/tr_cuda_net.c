/* The GPU model of the run's architecture (tr_cuda_net.h). */
#include <stdlib.h>

#include "ingot_err.h"
#include "tr_cuda_llama.h"
#include "tr_cuda_net.h"
#include "tr_llama_params.h"
#include "xent.h"

struct tr_cuda_net {
    tr_cuda_model *gpt2;
    tr_cuda_llama *llama;
};

int tr_cuda_net_create(const struct tr_config *c, int max_batch, kn_dtype dt, kn_blas *blas,
                       tr_cuda_net **out)
{
    *out = NULL;
    tr_cuda_net *n = calloc(1, sizeof(*n));
    if (!n)
        return ingot_oom("cuda model", sizeof(*n));
    int err;
    if (c->arch == TR_ARCH_LLAMA) {
        struct tr_llama_config l;
        tr_config_to_llama(c, &l);
        err = tr_cuda_llama_create(&l, max_batch, dt, blas, &n->llama);
    } else {
        err = tr_cuda_model_create(c, max_batch, dt, blas, &n->gpt2);
    }
    if (err) {
        free(n);
        return err;
    }
    *out = n;
    return 0;
}

void tr_cuda_net_free(tr_cuda_net *n)
{
    if (!n)
        return;
    tr_cuda_model_free(n->gpt2);
    tr_cuda_llama_free(n->llama);
    free(n);
}

bool tr_cuda_net_flash(const tr_cuda_net *n)
{
    return n->gpt2 ? tr_cuda_model_flash(n->gpt2) : tr_cuda_llama_flash(n->llama);
}

size_t tr_cuda_net_bytes(const tr_cuda_net *n)
{
    return n->llama ? tr_cuda_llama_bytes(n->llama) : tr_cuda_model_bytes(n->gpt2);
}

void *tr_cuda_net_scratch(const tr_cuda_net *n, size_t *bytes)
{
    return n->llama ? tr_cuda_llama_scratch(n->llama, bytes) :
                      tr_cuda_model_scratch(n->gpt2, bytes);
}

int tr_cuda_net_forward(tr_cuda_net *n, const void *w, const int32_t *inp, const int32_t *tgt,
                        int B, int T, float dloss, float *loss_sum, int *correct_sum,
                        int accumulate, cudaStream_t s)
{
    if (n->llama)
        return tr_cuda_llama_forward(n->llama, w, inp, tgt, B, T, dloss, loss_sum, correct_sum,
                                     accumulate, s);
    return tr_cuda_forward(n->gpt2, w, inp, tgt, B, T, dloss, loss_sum, correct_sum, accumulate,
                           s);
}

const void *tr_cuda_net_logits(const tr_cuda_net *n)
{
    return n->llama ? tr_cuda_llama_logits(n->llama) : tr_cuda_logits(n->gpt2);
}

int tr_cuda_net_row_loss_sums(const tr_cuda_net *n, int B, int T, float *row_sum,
                              cudaStream_t s)
{
    const float *l = n->llama ? tr_cuda_llama_losses(n->llama) : tr_cuda_losses(n->gpt2);
    int err = 0;
    /* the loss sum's own kernel, one row each: eval only, B launches */
    for (int b = 0; b < B && !err; b++)
        err = kn_xent_sum(row_sum + b, NULL, l + (size_t)b * T, NULL, T, 0, s);
    return err;
}

int tr_cuda_net_backward(tr_cuda_net *n, const void *w, float *grads, int write, cudaStream_t s)
{
    return n->llama ? tr_cuda_llama_backward(n->llama, w, grads, write, s) :
                      tr_cuda_backward(n->gpt2, w, grads, write, s);
}

void tr_cuda_net_on_grads_ready(tr_cuda_net *n, tr_cuda_grads_ready_fn fn, void *ctx)
{
    /* the same signature (int (*)(void *, int, cudaStream_t)) */
    if (n->llama)
        tr_cuda_llama_on_grads_ready(n->llama, fn, ctx);
    else
        tr_cuda_model_on_grads_ready(n->gpt2, fn, ctx);
}
