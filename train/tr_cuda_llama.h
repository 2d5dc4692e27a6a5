/* The LLaMA forward and backward on the GPU: tr_cpu_llama.c op for op,
 * through the kn_* launchers (rmsnorm.h, rope.h, swiglu.h, gqa.h, matmul.h,
 * encoder.h, xent.h), float32 or bfloat16 activations. Same contract as
 * tr_cuda_model.h: parameters and gradients live in the caller's device
 * buffers (tr_llama_params.h layout; the forward reads a copy of the
 * parameters in the model's dtype, gradients are float32 and accumulated);
 * the model owns activations, backward buffers, the RoPE table and one
 * scratch area, carved from ONE cudaMalloc at creation; nothing is
 * allocated afterwards; every call only enqueues work on the given stream.
 *
 * Attention is the simple grouped-query path of gqa.h (kv heads expanded,
 * materialised attention); not yet here: flash attention, the per-op timer
 * and the grads-ready callback of tr_cuda_model.h (docs/llama.md). */
#ifndef INGOT_TR_CUDA_LLAMA_H
#define INGOT_TR_CUDA_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "kn_common.h"
#include "matmul.h"
#include "tr_llama_params.h"

typedef struct tr_cuda_llama tr_cuda_llama;

/* Allocate for up to max_batch sequences of c->seq_len tokens in dtype dt,
 * using blas (not owned) for the products; fills the RoPE table (and waits
 * for it). 0, INGOT_E_USAGE, or -ENOMEM / INGOT_E_CUDA with the size. */
int tr_cuda_llama_create(const struct tr_llama_config *c, int max_batch, kn_dtype dt,
                         kn_blas *blas, tr_cuda_llama **out);
void tr_cuda_llama_free(tr_cuda_llama *m);   /* accepts NULL; the device must be idle */
/* Bytes of device memory held. */
size_t tr_cuda_llama_bytes(const tr_cuda_llama *m);

/* Forward on B <= max_batch sequences of T <= seq_len tokens; w: the
 * parameters in the model's dtype; inp, tgt: [B, T] int32 on the device
 * (tgt may be NULL: logits only). With tgt, the token losses are summed into
 * loss_sum[0] and the top-1 hits into correct_sum[0] (device pointers, added
 * when accumulate != 0, written otherwise; either may be NULL), and
 * dloss > 0 turns the logits into dloss * dL/dlogits in place for
 * tr_cuda_llama_backward(). */
int tr_cuda_llama_forward(tr_cuda_llama *m, const void *w, const int32_t *inp,
                          const int32_t *tgt, int B, int T, float dloss, float *loss_sum,
                          int *correct_sum, int accumulate, cudaStream_t s);
/* Logits of the last forward, [B*T, Vp] in the model's dtype. */
const void *tr_cuda_llama_logits(const tr_cuda_llama *m);
/* Backward of the last forward (which had tgt and dloss > 0): ACCUMULATES
 * into grads (float32, tr_llama_params.h layout). */
int tr_cuda_llama_backward(tr_cuda_llama *m, const void *w, float *grads, cudaStream_t s);

#endif
