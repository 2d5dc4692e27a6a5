/* The CPU model of a run's architecture behind one interface: GPT-2
 * (tr_cpu_model.h) or LLaMA (tr_cpu_llama.h), which have the same API, so
 * that the CPU back end, eval and the parity dump do not care which. */
#ifndef INGOT_TR_CPU_NET_H
#define INGOT_TR_CPU_NET_H

#include <stddef.h>
#include <stdint.h>

#include "tr_params.h"

typedef struct tr_cpu_net tr_cpu_net;

/* As tr_cpu_model_create() for c->arch. Returns 0, INGOT_E_USAGE or -ENOMEM. */
int tr_cpu_net_create(const struct tr_config *c, int max_batch, tr_cpu_net **out);
void tr_cpu_net_free(tr_cpu_net *n);   /* accepts NULL */
size_t tr_cpu_net_act_bytes(const tr_cpu_net *n);
/* tr_cpu_forward / tr_cpu_logits / tr_cpu_backward of the architecture. */
void tr_cpu_net_forward(tr_cpu_net *n, const float *params, const int32_t *inp,
                        const int32_t *tgt, int B, int T, float dloss, double *loss_sum,
                        int64_t *n_correct);
const float *tr_cpu_net_logits(const tr_cpu_net *n);
/* The last forward's token losses ([B*T]; it had tgt). */
const float *tr_cpu_net_losses(const tr_cpu_net *n);
/* Each row's mean token loss of the last forward (it had tgt) on B rows of
 * T: row_loss[b] = the in-order sum of row b's T losses / T. */
void tr_cpu_net_row_losses(const tr_cpu_net *n, int B, int T, double *row_loss);
void tr_cpu_net_backward(tr_cpu_net *n, const float *params, float *grads);
/* tr_cpu_forward_backward() of the architecture. */
int tr_cpu_net_forward_backward(const struct tr_config *c, const float *params,
                                const int32_t *chunk, int B, double *loss, float *grads,
                                float *logits);

#endif
