/* GPT-2 forward and backward on the GPU: tr_cpu_model.c op for op, through
 * the kn_* launchers, in float32 or bfloat16 activations. Parameters and
 * gradients live in the caller's device buffers (tr_params.h layout; the
 * forward reads a copy of the parameters in the model's dtype, gradients are
 * float32 and accumulated). Attention uses the flash kernels where they
 * support the shape (bf16, head size 32 or 64; INGOT_FLASH=0 turns them
 * off) and the materialised path otherwise. Each residual add is fused with
 * the LayerNorm that follows it (kn_residual_layernorm_fwd; INGOT_FUSE_RESLN=0
 * runs them apart, for comparisons). The model owns the activations,
 * the backward buffers and one scratch area, all carved from ONE cudaMalloc
 * sized at creation for max_batch x seq_len; nothing is allocated
 * afterwards. Every function only enqueues work on the given stream: none
 * waits. */
#ifndef INGOT_TR_CUDA_MODEL_H
#define INGOT_TR_CUDA_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kn_common.h"
#include "matmul.h"
#include "tr_params.h"

typedef struct tr_cuda_model tr_cuda_model;

/* Allocate for up to max_batch sequences of c->seq_len tokens in dtype dt,
 * using blas (not owned) for the products. 0, or -ENOMEM / INGOT_E_CUDA with
 * a message giving the size (device memory is the usual limit). */
int tr_cuda_model_create(const struct tr_config *c, int max_batch, kn_dtype dt, kn_blas *blas,
                         tr_cuda_model **out);
void tr_cuda_model_free(tr_cuda_model *m);   /* accepts NULL; the device must be idle */
/* Whether attention runs the flash kernels (bf16, head size 32 or 64). */
bool tr_cuda_model_flash(const tr_cuda_model *m);
/* Bytes of device memory held. */
size_t tr_cuda_model_bytes(const tr_cuda_model *m);
/* The scratch area (free between the model's calls on the same stream: the
 * optimizer's global norm uses it) and its size. */
void *tr_cuda_model_scratch(const tr_cuda_model *m, size_t *bytes);

/* Forward on B <= max_batch sequences of T <= seq_len tokens; w: the
 * parameters in the model's dtype; inp, tgt: [B, T] int32 on the device (tgt
 * may be NULL: logits only). With tgt, the B*T token losses are summed into
 * loss_sum[0] and the top-1 hits into correct_sum[0] (device pointers, added
 * when accumulate != 0, written otherwise; either may be NULL), and dloss > 0
 * turns the logits into dloss * dL/dlogits in place for tr_cuda_backward(). */
int tr_cuda_forward(tr_cuda_model *m, const void *w, const int32_t *inp, const int32_t *tgt,
                    int B, int T, float dloss, float *loss_sum, int *correct_sum,
                    int accumulate, cudaStream_t s);
/* Logits of the last forward, [B*T, Vp] in the model's dtype (meaningless
 * after a forward with dloss > 0). */
const void *tr_cuda_logits(const tr_cuda_model *m);
/* Token losses of the last forward with tgt, [B*T] float32 on the device
 * (row b's at b*T), until the next forward. */
const float *tr_cuda_losses(const tr_cuda_model *m);
/* Backward of the last forward (which had tgt and dloss > 0) into grads
 * (float32, tr_params.h layout): ADDED to them when write is 0; with write
 * != 0 their old contents never matter (the weight products write theirs,
 * the few tensors summed into are cleared first), as tr_cuda_llama_backward. */
int tr_cuda_backward(tr_cuda_model *m, const void *w, float *grads, int write, cudaStream_t s);

/* Called by tr_cuda_backward() on its stream s as soon as the gradients of
 * block l are complete (l = n_layer - 1 down to 0), and once more with
 * l = -1 when the rest (wte, wpe, lnf) is complete: what lets data
 * parallelism start reducing block l while the blocks below are still in
 * backward. The callback only enqueues work (e.g. records an event); a
 * non-zero return aborts the backward with that code. NULL: no calls. */
typedef int (*tr_cuda_grads_ready_fn)(void *ctx, int l, cudaStream_t s);
void tr_cuda_model_on_grads_ready(tr_cuda_model *m, tr_cuda_grads_ready_fn fn, void *ctx);

/* Per-operation timing (tr_cuda_optime.h): with t != NULL every launcher
 * call of tr_cuda_forward()/tr_cuda_backward() is followed by an event, so
 * only for eager runs, never while a graph is captured. NULL: off. */
struct tr_cuda_optime;
void tr_cuda_model_set_optime(tr_cuda_model *m, struct tr_cuda_optime *t);

#endif
