/* Causal multi-head self-attention, flash style (bf16 only): the T x T
 * probabilities are never written to memory; the forward keeps one float per
 * row (the log-sum-exp) for the backward pass, which recomputes them.
 * Same qkv/out layout and scale (1/sqrt(hs)) as attention.h / ref_ops.h.
 * bf16 tensor-core products (mma.sync m16n8k16), float32 accumulation and
 * softmax statistics. Deterministic: the backward computes dq in one kernel
 * (per query block) and dk, dv in another (per key block), with no atomics.
 *
 * Requirements: dt == KN_BF16, hs = C / NH in {32, 64}, C % 8 == 0, buffers
 * 16-byte aligned. kn_flash_attention_supported() says whether a shape
 * qualifies; the trainer falls back to attention.h otherwise. */
#ifndef INGOT_FLASH_ATTENTION_H
#define INGOT_FLASH_ATTENTION_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if the flash kernels handle these shapes and dtype, else 0. */
int kn_flash_attention_supported(int C, int NH, kn_dtype dt);

/* out [B, T, C] (bf16) = causal softmax(q k^T / sqrt(hs)) v; lse [B, NH, T]
 * float32 receives each row's log-sum-exp of the scaled scores, in base 2
 * (an internal quantity: pass it to the backward unchanged). */
int kn_flash_attention_fwd(void *out, float *lse, const void *qkv, int B, int T, int C, int NH,
                           kn_dtype dt, cudaStream_t s);

/* Device scratch bytes for the backward: B*NH*T floats (rowsum(dout * out)). */
size_t kn_flash_attention_bwd_scratch_bytes(int B, int T, int C, int NH);

/* dqkv [B, T, 3C] (+)= gradient w.r.t. qkv (added when accumulate != 0,
 * written otherwise), from dout [B, T, C], the forward's qkv, out and lse. */
int kn_flash_attention_bwd(void *dqkv, const void *dout, const void *qkv, const void *out,
                           const float *lse, int B, int T, int C, int NH, int accumulate,
                           kn_dtype dt, void *scratch, size_t scratch_bytes, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
