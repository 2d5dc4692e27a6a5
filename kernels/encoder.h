/* Token + position embedding, forward and backward. */
#ifndef INGOT_ENCODER_H
#define INGOT_ENCODER_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[b,t,:] = wte[tok[b,t],:] + wpe[t,:]. out: [B,T,C], wte: [V,C] (or
 * [Vp,C]), wpe: [>=T, C], all dtype dt; tok: [B,T] int32. A token id outside
 * [0, V) adds a zero row instead of reading out of bounds (the data loader
 * is expected to have rejected it). */
int kn_encoder_fwd(void *out, const int32_t *tok, const void *wte, const void *wpe, int B, int T,
                   int C, int V, kn_dtype dt, cudaStream_t s);

/* Device scratch bytes kn_encoder_bwd needs (sort buffers). The size comes
 * from the CUB radix sort, which asks the device: returns INGOT_E_CUDA where
 * there is no GPU. */
int kn_encoder_bwd_scratch_bytes(size_t *bytes, int B, int T, int V);

/* dwte[tok[b,t],:] += dout[b,t,:]; dwpe[t,:] += dout[b,t,:] (float32
 * gradients; dout of dtype dt). Deterministic, no atomics: token positions
 * are sorted by token (stable radix sort on the device), then each distinct
 * token's rows are summed in position order (one block per token, one
 * thread per channel).
 * dwpe sums the batch rows in order, starting from dwpe's value. Ids outside
 * [0, V) are skipped. */
int kn_encoder_bwd(float *dwte, float *dwpe, const void *dout, const int32_t *tok, int B, int T,
                   int C, int V, kn_dtype dt, void *scratch, size_t scratch_bytes,
                   cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
