/* RoPE fused with the grouped-query expansion (the attention's prologue on
 * the GPU, kernels/rope.h kn_rope_expand_*): the plain-C reference, in
 * ref_rope.c. Conventions of ref_llama.h (rotate_half pairing, packed
 * qkv [B, T, (NH + 2 NKV) hs], query head h reads kv head h / (NH / NKV)).
 * (Declared here rather than in ref_llama.h, which another change owns.) */
#ifndef INGOT_REF_ROPE_EXPAND_H
#define INGOT_REF_ROPE_EXPAND_H

#ifdef __cplusplus
extern "C" {
#endif

/* out [B, T, 3 NH hs] = [rope(q) | rope(k) of each query head's kv head |
 * v of each query head's kv head]: the [q | k | v] layout of ref_ops.h's
 * multi-head attention, whose result on it is the grouped-query attention
 * of ref_gqa_fwd on rope(qkv). */
void ref_rope_expand_fwd(float *out, const float *qkv, const float *cs, int B, int T, int NH,
                         int NKV, int hs);
/* The transpose: dqkv [B, T, (NH + 2 NKV) hs] = [rope^T(dq) | rope^T(sum of
 * the group's dk) | sum of the group's dv] from d3 [B, T, 3 NH hs]; each
 * group summed in head order. OVERWRITES dqkv. */
void ref_rope_expand_bwd(float *dqkv, const float *d3, const float *cs, int B, int T, int NH,
                         int NKV, int hs);

#ifdef __cplusplus
}
#endif
#endif
