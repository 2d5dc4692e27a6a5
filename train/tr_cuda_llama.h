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
 * Attention takes one of three paths, chosen at creation (tr_cuda_llama.c's
 * opening comment; INGOT_LLAMA_ATTN): grouped-query flash attention (the
 * default where the flash kernels take the shape), RoPE-expanded multi-head
 * flash, or materialised attention. tr_cuda_llama_set_optime() times every
 * launcher call (tests/gpu/gpu_op_bench --arch llama, docs/llama.md). */
#ifndef INGOT_TR_CUDA_LLAMA_H
#define INGOT_TR_CUDA_LLAMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kn_common.h"
#include "matmul.h"
#include "tr_cuda_prof.h"
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
/* true when attention runs on the flash kernels (gqa or expand path). */
bool tr_cuda_llama_flash(const tr_cuda_llama *m);
/* The attention path chosen at creation: "gqa", "expand" or "mat" (static). */
const char *tr_cuda_llama_attention(const tr_cuda_llama *m);
/* The scratch area (free between the model's calls on the same stream: the
 * optimizer's global norm may use it) and its size. */
void *tr_cuda_llama_scratch(const tr_cuda_llama *m, size_t *bytes);

/* Called by tr_cuda_llama_backward() on its stream as soon as the gradients
 * of layer l are complete (l = n_layer - 1 down to 0), and once more with
 * l = -1 when the rest (wte, norm, lm_head) is complete; the same contract
 * as tr_cuda_model_on_grads_ready() (the callback only enqueues work; a
 * non-zero return aborts the backward with that code). NULL: no calls. */
typedef int (*tr_cuda_llama_grads_ready_fn)(void *ctx, int l, cudaStream_t s);
void tr_cuda_llama_on_grads_ready(tr_cuda_llama *m, tr_cuda_llama_grads_ready_fn fn, void *ctx);

/* Per-operation timing (tr_cuda_prof.h's tr_cuda_optime): with t != NULL,
 * every launcher call of tr_cuda_llama_forward()/_backward() is followed by
 * mark(t, name, flops, s) (the pass's start by mark(t, NULL, 0, s)), so only
 * for eager runs, never while a graph is captured. t NULL: off, and the
 * passes enqueue exactly what they do without it. */
typedef int (*tr_cuda_llama_mark_fn)(struct tr_cuda_optime *t, const char *name, double flops,
                                     cudaStream_t s);
void tr_cuda_llama_set_op_marker(tr_cuda_llama *m, struct tr_cuda_optime *t,
                                 tr_cuda_llama_mark_fn mark);
/* tr_cuda_llama_set_op_marker() with tr_cuda_optime_mark. Inline so that
 * only its callers link the profiler (tr_cuda_prof.c): tests/llama link
 * tr_cuda_llama.c without it (train/meson.build's llama_cuda_lib). */
static inline void tr_cuda_llama_set_optime(tr_cuda_llama *m, struct tr_cuda_optime *t)
{
    tr_cuda_llama_set_op_marker(m, t, t ? tr_cuda_optime_mark : NULL);
}

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
/* Token losses of the last forward with tgt, [B*T] float32 on the device
 * (row b's at b*T), until the next forward. */
const float *tr_cuda_llama_losses(const tr_cuda_llama *m);
/* Backward of the last forward (which had tgt and dloss > 0) into grads
 * (float32, tr_llama_params.h layout): ADDED to them when write is 0;
 * with write != 0 every tensor is written and grads' old contents are never
 * read (a step's first micro-step: no zeroing pass, and the weight products
 * do not read zeros). The same values either way: x + 0 is x. */
int tr_cuda_llama_backward(tr_cuda_llama *m, const void *w, float *grads, int write,
                           cudaStream_t s);

#endif
