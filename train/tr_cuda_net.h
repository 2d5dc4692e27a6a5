/* The GPU model of a run's architecture behind one interface: GPT-2
 * (tr_cuda_model.h) or LLaMA (tr_cuda_llama.h), which have the same
 * contract (one allocation at creation, every call only enqueues on the
 * given stream, the same gradients-ready hook), so that backend_cuda.c does
 * not care which. LLaMA has no per-operation timer yet. */
#ifndef INGOT_TR_CUDA_NET_H
#define INGOT_TR_CUDA_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kn_common.h"
#include "matmul.h"
#include "tr_cuda_model.h"
#include "tr_params.h"

typedef struct tr_cuda_net tr_cuda_net;

/* tr_cuda_model_create() for c->arch. */
int tr_cuda_net_create(const struct tr_config *c, int max_batch, kn_dtype dt, kn_blas *blas,
                       tr_cuda_net **out);
void tr_cuda_net_free(tr_cuda_net *n);   /* accepts NULL; the device must be idle */
bool tr_cuda_net_flash(const tr_cuda_net *n);
size_t tr_cuda_net_bytes(const tr_cuda_net *n);
void *tr_cuda_net_scratch(const tr_cuda_net *n, size_t *bytes);
/* tr_cuda_forward / tr_cuda_logits / tr_cuda_backward of the architecture. */
int tr_cuda_net_forward(tr_cuda_net *n, const void *w, const int32_t *inp, const int32_t *tgt,
                        int B, int T, float dloss, float *loss_sum, int *correct_sum,
                        int accumulate, cudaStream_t s);
const void *tr_cuda_net_logits(const tr_cuda_net *n);
/* Enqueues on s: row_sum[b] = the sum of row b's T token losses of the last
 * forward (which had tgt) on B rows, for b < B (row_sum: device floats). A
 * mixture's val loss by source; nothing waits. */
int tr_cuda_net_row_loss_sums(const tr_cuda_net *n, int B, int T, float *row_sum,
                              cudaStream_t s);
/* The backward into grads: added to them (write 0), or written (write 1:
 * their old contents never matter, and no pass zeroes them first). */
int tr_cuda_net_backward(tr_cuda_net *n, const void *w, float *grads, int write, cudaStream_t s);
/* tr_cuda_model_on_grads_ready(): layer l's gradients, then l = -1 for the
 * rest (GPT-2: wte, wpe, lnf; llama: wte, norm, lm_head). */
void tr_cuda_net_on_grads_ready(tr_cuda_net *n, tr_cuda_grads_ready_fn fn, void *ctx);

#endif
