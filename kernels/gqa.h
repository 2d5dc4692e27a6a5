/* Grouped-query causal attention on the GPU, the simple correct path: the
 * NKV key/value heads are expanded to the NH query heads (repeat_kv), the
 * materialised multi-head attention of attention.h runs on the expanded
 * [q | k | v] tensor, and the backward sums the expanded dk/dv of each group
 * back onto its kv head. Same layout and math as ref_gqa_* (kernels/cpu/
 * ref_llama.h): qkv [B, T, (NH + 2 NKV) hs] = NH q heads, NKV k heads, NKV v
 * heads; query head h reads kv head h / (NH / NKV); out [B, T, NH hs].
 * Costs an extra 3 B T NH hs elements of traffic each way over a native GQA
 * kernel; a flash kernel that indexes kv heads directly is the fast path
 * (docs/llama.md). */
#ifndef INGOT_GQA_H
#define INGOT_GQA_H

#include "kn_common.h"
#include "matmul.h"

#ifdef __cplusplus
extern "C" {
#endif

/* qkv3 [B, T, 3 NH hs] = [q | repeat_kv(k) | repeat_kv(v)] from qkv. */
int kn_gqa_expand(void *qkv3, const void *qkv, int B, int T, int NH, int NKV, int hs,
                  kn_dtype dt, cudaStream_t s);

/* dqkv [B, T, (NH + 2 NKV) hs] (+)= the gradient of the expansion: dq
 * copied, dk and dv of kv head j the sum, in head order, of the expanded
 * heads j * rep .. j * rep + rep - 1 (rep = NH / NKV), in float32. Added
 * when accumulate != 0, written otherwise. dqkv may not alias dqkv3. */
int kn_gqa_reduce(void *dqkv, const void *dqkv3, int B, int T, int NH, int NKV, int hs,
                  int accumulate, kn_dtype dt, cudaStream_t s);

/* Device scratch bytes of kn_gqa_attention_fwd / _bwd. */
size_t kn_gqa_attention_fwd_scratch_bytes(int B, int T, int NH, int NKV, int hs, kn_dtype dt);
size_t kn_gqa_attention_bwd_scratch_bytes(int B, int T, int NH, int NKV, int hs, kn_dtype dt);

/* out [B, T, NH hs] and att [B, NH, T, T] (probabilities, dtype dt, kept for
 * the backward) from qkv. Requires NH % NKV == 0, 0 < hs <= 256. */
int kn_gqa_attention_fwd(kn_blas *h, void *out, void *att, const void *qkv, int B, int T,
                         int NH, int NKV, int hs, kn_dtype dt, void *scratch,
                         size_t scratch_bytes, cudaStream_t s);

/* dqkv (+)= gradient w.r.t. qkv from dout [B, T, NH hs], the forward's qkv
 * and att (added when accumulate != 0, written otherwise). Re-expands qkv
 * into the scratch, so nothing but att needs keeping from the forward. */
int kn_gqa_attention_bwd(kn_blas *h, void *dqkv, const void *dout, const void *qkv,
                         const void *att, int B, int T, int NH, int NKV, int hs, int accumulate,
                         kn_dtype dt, void *scratch, size_t scratch_bytes, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
