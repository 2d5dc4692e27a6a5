/* Causal multi-head self-attention on packed qkv [B, T, 3C] (q, k, v each C
 * wide; head h owns channels [h*hs, (h+1)*hs) of each; hs = C/NH), scale
 * 1/sqrt(hs). This is the "materialised" path: batched cuBLAS products and a
 * fused causal softmax, keeping the probabilities att [B, NH, T, T] (dtype
 * dt, zeros above the diagonal) for the backward pass, as ref_attention_*
 * does. Same conventions as ref_ops.h. */
#ifndef INGOT_ATTENTION_H
#define INGOT_ATTENTION_H

#include "kn_common.h"
#include "matmul.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device scratch bytes for kn_attention_fwd / kn_attention_bwd (dtype dt):
 * forward 4*B*T*C elements; backward 7*B*T*C + B*NH*T*T elements. */
size_t kn_attention_fwd_scratch_bytes(int B, int T, int C, int NH, kn_dtype dt);
size_t kn_attention_bwd_scratch_bytes(int B, int T, int C, int NH, kn_dtype dt);

/* out [B, T, C] = softmax(causal(q k^T * scale)) v per head; att receives
 * the probabilities. Requires C % NH == 0, 0 < hs <= 256. */
int kn_attention_fwd(kn_blas *h, void *out, void *att, const void *qkv, int B, int T, int C,
                     int NH, kn_dtype dt, void *scratch, size_t scratch_bytes, cudaStream_t s);

/* dqkv [B, T, 3C] (+)= gradient w.r.t. qkv, from dout [B, T, C], qkv and the
 * forward's att: added when accumulate != 0 (reference semantics), written
 * otherwise. */
int kn_attention_bwd(kn_blas *h, void *dqkv, const void *dout, const void *qkv, const void *att,
                     int B, int T, int C, int NH, int accumulate, kn_dtype dt, void *scratch,
                     size_t scratch_bytes, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
