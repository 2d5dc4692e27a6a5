/* Causal multi-head self-attention, flash style (bf16 only): the T x T
 * probabilities are never written to memory; the forward keeps one float per
 * row (the log-sum-exp) for the backward pass, which recomputes them.
 * Same qkv/out layout and scale (1/sqrt(hs)) as attention.h / ref_ops.h.
 * bf16 tensor-core products (mma.sync m16n8k16), float32 accumulation and
 * softmax statistics. Deterministic: the backward computes dq in one kernel
 * (per query block) and dk, dv in another (per key block), with no atomics.
 *
 * Requirements: dt == KN_BF16, hs = C / NH in {32, 64} (and 128 on the
 * Hopper path), C % 8 == 0, buffers 16-byte aligned.
 * kn_flash_attention_supported() says whether a shape qualifies; the trainer
 * falls back to attention.h otherwise.
 *
 * Two implementations, chosen per call: on a GPU running the sm_90a machine
 * code (kn_arch.h) and hs in {64, 128}, warpgroup-MMA kernels
 * (flash_attention_sm90.cu); everywhere else, or with INGOT_ATTN=portable
 * (or INGOT_PORTABLE=1) in the environment, the mma.sync kernels. Their
 * lse is the same quantity, so the forward of one may feed the backward of
 * the other. */
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

/* Device scratch bytes for the backward: B*NH*T floats (rowsum(dout *
 * out)), and the Hopper kernels' work where they run fused. */
size_t kn_flash_attention_bwd_scratch_bytes(int B, int T, int C, int NH);

/* dqkv [B, T, 3C] (+)= gradient w.r.t. qkv (added when accumulate != 0,
 * written otherwise), from dout [B, T, C], the forward's qkv, out and lse. */
int kn_flash_attention_bwd(void *dqkv, const void *dout, const void *qkv, const void *out,
                           const float *lse, int B, int T, int C, int NH, int accumulate,
                           kn_dtype dt, void *scratch, size_t scratch_bytes, cudaStream_t s);

/* kn_flash_attention_bwd with accumulate 0 (dqkv written), and dbias [3C]
 * float32 += the column sums of that gradient: qkv's bias gradient. Where
 * the Hopper kernels run the fused backward (hs 64, sm_90a) their
 * epilogues sum it per 128 rows from the float32 values before rounding,
 * and a short pass adds those sums (no pass over dqkv); elsewhere
 * kn_matmul_bwd_bias over dqkv (also with INGOT_FA_DBIAS=0 in the
 * environment). Deterministic either way. Where the epilogues summed, the
 * scratch starts with their sums on return (float32 [B ceil(T / 128), 3C],
 * row b ceil(T / 128) + k: rows 128 k .. of batch b; the kernel check reads
 * them); elsewhere that region is not written. scratch: at
 * least kn_flash_attention_bwd_dbias_scratch_bytes() (0: bad shape). */
size_t kn_flash_attention_bwd_dbias_scratch_bytes(int B, int T, int C, int NH);

int kn_flash_attention_bwd_dbias(void *dqkv, float *dbias, const void *dout, const void *qkv,
                                 const void *out, const float *lse, int B, int T, int C, int NH,
                                 kn_dtype dt, void *scratch, size_t scratch_bytes,
                                 cudaStream_t s);

/* ---- Grouped-query heads (LLaMA): NKV key/value heads, NH % NKV == 0,
 * query head h reads kv head h / (NH / NKV). qkv and dqkv are
 * [B, T, (NH + 2 NKV) hs] (NH q heads, NKV k heads, NKV v heads: the layout
 * of ref_gqa_fwd and gqa.h); out and dout [B, T, NH hs]; lse [B, NH, T].
 * With NKV == NH these are the calls above (C = NH hs). The backward writes
 * dk, dv of a kv head as the sum over its query heads, in head order,
 * accumulated in float32 inside one block: deterministic. */

/* 1 if the flash kernels handle this shape on the current device, else 0
 * (hs 128 needs the Hopper path, which needs the device: 0 without one). */
int kn_flash_gqa_supported(int NH, int NKV, int hs, kn_dtype dt);

int kn_flash_gqa_fwd(void *out, float *lse, const void *qkv, int B, int T, int NH, int NKV,
                     int hs, kn_dtype dt, cudaStream_t s);

/* Device scratch bytes for kn_flash_gqa_bwd: B*NH*T floats (Dsum), and
 * where the Hopper kernels run fused, their accumulators and counters
 * (kn_fa_sm90_bwd_work_bytes). */
size_t kn_flash_gqa_bwd_scratch_bytes(int B, int T, int NH, int NKV, int hs);

int kn_flash_gqa_bwd(void *dqkv, const void *dout, const void *qkv, const void *out,
                     const float *lse, int B, int T, int NH, int NKV, int hs, int accumulate,
                     kn_dtype dt, void *scratch, size_t scratch_bytes, cudaStream_t s);

/* The backward of attention over q and k that kn_rope_fwd rotated (rope:
 * its [T, hs/2, 2] table, at least T rows, 16-byte aligned):
 * dqkv = [rope^T(dq) | rope^T(dk) | dv], the gradient with respect to the
 * unrotated q and k (OVERWRITES dqkv), as
 * kn_flash_gqa_bwd followed by kn_rope_bwd on the q and k heads. Where the
 * Hopper pass runs fused (hs 64 with the scratch of
 * kn_flash_gqa_bwd_scratch_bytes) the rotation is done in its stores, in
 * float32 before the one rounding to bf16 (the separate pass rounds twice),
 * which saves that pass's read and write of dq and dk; else the pass runs. */
int kn_flash_gqa_rope_bwd(void *dqkv, const void *dout, const void *qkv, const void *out,
                          const float *lse, const float *rope, int B, int T, int NH, int NKV,
                          int hs, kn_dtype dt, void *scratch, size_t scratch_bytes,
                          cudaStream_t s);

/* Which kernels the calls above use: KN_FA_AUTO (the default: the device
 * and the environment decide), KN_FA_PORTABLE or KN_FA_SM90 (for kernel
 * checks that compare both on one GPU; KN_FA_SM90 still needs the sm_90a
 * code loaded and hs in {64, 128}, else the call fails with -EINVAL).
 * Process-wide; set it before capturing a graph. */
typedef enum kn_fa_impl { KN_FA_AUTO = 0, KN_FA_PORTABLE = 1, KN_FA_SM90 = 2 } kn_fa_impl;
void kn_flash_attention_force(kn_fa_impl which);

/* The kernels a call with head size hs would use now: "sm90" or "portable". */
const char *kn_flash_attention_impl_name(int hs);

#ifdef __cplusplus
}
#endif
#endif
