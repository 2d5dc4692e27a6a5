/* Attention of new query rows over a key/value cache: the inference-time
 * (decode) counterpart of ref_gqa_fwd, and the oracle for kn_decode_attention
 * (kernels/decode.h). Plain C, float32, OpenMP over (row, head). */
#ifndef INGOT_REF_DECODE_H
#define INGOT_REF_DECODE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* n query rows at positions p0, p0 + 1, ..., p0 + n - 1 attend causally over
 * cached keys and values: row i reads positions [0, p0 + i]. NH query heads
 * share NKV key/value heads (NH % NKV == 0); query head h reads kv head
 * h / (NH / NKV), as ref_gqa_fwd does (NKV == NH: GPT-2's multi-head).
 *   q:   row i at q + i * q_stride, head h at + h * hs (a packed qkv row is
 *        fine: q_stride = its width)
 *   k,v: position t at k + t * kv_stride, kv head g at + g * hs; the rows of
 *        the new positions must already be in the cache
 *   out: [n, NH * hs], contiguous; may not alias q, k or v.
 * softmax(q . k / sqrt(hs)) v, the max subtracted first, sums in position
 * order. */
void ref_decode_attention(float *out, const float *q, size_t q_stride, const float *k,
                          const float *v, size_t kv_stride, int n, int p0, int NH, int NKV,
                          int hs);

#ifdef __cplusplus
}
#endif
#endif
