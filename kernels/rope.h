/* Rotary position embeddings on the GPU, Hugging Face "rotate_half" pairing
 * (channel i of a head rotates with i + hs/2 by t * theta^(-2i/hs)), the
 * same math and table layout as ref_rope_* (kernels/cpu/ref_llama.h). */
#ifndef INGOT_ROPE_H
#define INGOT_ROPE_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cs: [T, hs/2, 2] float32 (cos, sin) of the angles t * theta^(-2i/hs),
 * computed in double on the device (as ref_rope_table does on the host,
 * so the two agree to float rounding). Fill once per model. Requires T > 0,
 * hs even and > 0, theta > 0. */
int kn_rope_table(float *cs, int T, int hs, double theta, cudaStream_t s);

/* out = rotate(inp) on the first nh heads (nh * hs channels) of each of B*T
 * rows of `stride` elements (dtype dt); row (b, t) is at position t; other
 * channels of out are not touched. out may alias inp (in place on a packed
 * qkv with nh = NH + NKV: q and k rotate, v stays). Requires nh * hs <=
 * stride, hs even, T rows in cs. */
int kn_rope_fwd(void *out, const void *inp, const float *cs, int B, int T, int nh, int hs,
                int stride, kn_dtype dt, cudaStream_t s);

/* dinp = rotate^T(dout): the inverse rotation. OVERWRITES (RoPE is linear
 * and stateless; meant to run in place on the attention's dqkv). dinp may
 * alias dout. */
int kn_rope_bwd(void *dinp, const void *dout, const float *cs, int B, int T, int nh, int hs,
                int stride, kn_dtype dt, cudaStream_t s);

/* RoPE fused with the grouped-query expansion, the attention's prologue:
 * from the packed qkv [B*T, (NH + 2 NKV) hs] (the QKV product, not rotated)
 * writes out [B*T, 3 NH hs] = [rope(q) | rope(k) | v], query head h taking
 * kv head h / (NH / NKV): the [q | k | v] layout of attention.h and
 * flash_attention.h. One read of qkv, one write of out; k is rotated once per
 * kv head. Same math as ref_rope_expand_fwd (ref_rope_expand.h). out may not
 * alias qkv. Requires NH % NKV == 0, hs even, T rows in cs. */
int kn_rope_expand_fwd(void *out, const void *qkv, const float *cs, int B, int T, int NH,
                       int NKV, int hs, kn_dtype dt, cudaStream_t s);

/* Its backward: dqkv [B*T, (NH + 2 NKV) hs] = [rope^T(dq) | rope^T(group sum
 * of dk) | group sum of dv] from d3 [B*T, 3 NH hs]; the sums run in float32
 * in head order (deterministic) and each output is rounded once. OVERWRITES
 * dqkv, which may not alias d3. */
int kn_rope_expand_bwd(void *dqkv, const void *d3, const float *cs, int B, int T, int NH,
                       int NKV, int hs, kn_dtype dt, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
