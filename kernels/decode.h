/* Attention of new query rows over a key/value cache on the GPU: the decode
 * step of generation (one row per call) and its prefill (the prompt's rows in
 * one call). Same layout and math as ref_decode_attention
 * (kernels/cpu/ref_decode.h): grouped-query aware (query head h reads kv
 * head h / (NH / NKV)), causal by position, float32 arithmetic on storage of
 * dtype dt. */
#ifndef INGOT_DECODE_H
#define INGOT_DECODE_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest head size the kernel holds in registers. */
#define KN_DECODE_MAX_HS 256

/* Device scratch bytes that let kn_decode_attention split long contexts over
 * several blocks per (head, row), for any n (the split is used only while
 * NH * n blocks are too few to fill the GPU). */
size_t kn_decode_attention_scratch_bytes(int NH, int hs);

/* Row i of q (at q + i * q_stride elements; head h at + h * hs) is at
 * position p0 + i and attends over cache positions [0, p0 + i] of k and v
 * (position t at + t * kv_stride elements, kv head g at + g * hs), which
 * must already hold the new rows. out: [n, NH * hs] contiguous, dtype dt; it
 * may not overlap q, k or v.
 * A block serves one (head, row) and a range of positions: its warps split
 * the positions, each keeps a running max, sum and weighted value sum
 * (online softmax), and the block merges them. With scratch (at least
 * kn_decode_attention_scratch_bytes) and few (head, row) pairs, the
 * positions are split over up to 64 blocks each, whose partial results a
 * second kernel merges (flash-decoding); with scratch NULL, one block per
 * pair. No workspace grows with the context.
 * Requires n >= 0 (n <= 65535), p0 >= 0, NH % NKV == 0, 0 < hs <=
 * KN_DECODE_MAX_HS, q_stride >= NH * hs, kv_stride >= NKV * hs. */
int kn_decode_attention(void *out, const void *q, long long q_stride, const void *k,
                        const void *v, long long kv_stride, int n, int p0, int NH, int NKV,
                        int hs, kn_dtype dt, void *scratch, size_t scratch_bytes, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
