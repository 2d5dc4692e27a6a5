/* The LLaMA forward and backward pass on the CPU, composed from the ref_*
 * operations of kernels/cpu (ref_llama.h for RMSNorm, RoPE, SwiGLU and
 * grouped-query attention; ref_ops.h for matmul and cross-entropy). It is
 * the model definition a CUDA LLaMA back end mirrors op for op, and the same
 * API as tr_cpu_model.h so that the trainer can switch on --arch.
 * Parameters and gradients live in the caller's buffers (tr_llama_params.h
 * layout); the model owns activations, backward scratch and the RoPE table,
 * carved from one allocation sized for max_batch x seq_len. */
#ifndef INGOT_TR_CPU_LLAMA_H
#define INGOT_TR_CPU_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "tr_llama_params.h"

typedef struct tr_cpu_llama tr_cpu_llama;

/* Allocate for up to max_batch sequences of c->seq_len tokens. Returns 0,
 * INGOT_E_USAGE for a bad config, or -ENOMEM (message says how much). The
 * config is copied. */
int tr_cpu_llama_create(const struct tr_llama_config *c, int max_batch, tr_cpu_llama **out);
void tr_cpu_llama_free(tr_cpu_llama *m);   /* accepts NULL */
/* Bytes of activation memory held. */
size_t tr_cpu_llama_act_bytes(const tr_cpu_llama *m);

/* Forward pass on B <= max_batch sequences of T <= seq_len tokens (inp and
 * tgt are [B, T], ids < vocab). tgt may be NULL (logits only). With tgt:
 *   *loss_sum = sum of the B*T token losses (double), *n_correct = top-1 hits;
 *   dloss > 0 also turns the logits into dloss * dL/dlogits in place, ready
 *   for tr_cpu_llama_backward() (the logits are then gone).
 * loss_sum/n_correct may be NULL. */
void tr_cpu_llama_forward(tr_cpu_llama *m, const float *params, const int32_t *inp,
                          const int32_t *tgt, int B, int T, float dloss, double *loss_sum,
                          int64_t *n_correct);
/* Logits of the last forward ([B*T, Vp], row-major), valid until the next
 * forward; meaningless after a forward with dloss > 0. */
const float *tr_cpu_llama_logits(const tr_cpu_llama *m);
/* Token losses of the last forward with tgt ([B*T], row b's at b*T), valid
 * until the next forward. */
const float *tr_cpu_llama_losses(const tr_cpu_llama *m);
/* Backward of the last forward (which must have had tgt and dloss > 0):
 * ACCUMULATES into grads (tr_llama_params.h layout). */
void tr_cpu_llama_backward(tr_cpu_llama *m, const float *params, float *grads);

/* One complete forward + backward of a batch, for parity tests: chunk holds
 * B rows of seq_len+1 ids (inputs = row[0, T), targets = row[1, T+1)).
 * Writes the mean token loss, the gradient of that mean into grads
 * (overwritten, tr_llama_param_count floats) and, when logits is not NULL,
 * the [B*T, Vp] logits. Returns 0, INGOT_E_USAGE or -ENOMEM. */
int tr_cpu_llama_forward_backward(const struct tr_llama_config *c, const float *params,
                                  const int32_t *chunk, int B, double *loss, float *grads,
                                  float *logits);

#endif
