/* Element type conversions on the device: 16-bit token ids to int32 (the
 * shards store u16 ids; kernels index with int32), and float32 <-> bfloat16
 * (the bf16 copy of the parameters at start-up and after a checkpoint load). */
#ifndef INGOT_CONVERT_H
#define INGOT_CONVERT_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = in[i] for i < n (zero-extension). */
int kn_widen_u16(int32_t *out, const uint16_t *in, size_t n, cudaStream_t s);

/* out (bf16) = round-to-nearest-even(in), n elements. */
int kn_cast_f32_to_bf16(void *out, const float *in, size_t n, cudaStream_t s);

/* out = in (bf16, exact), n elements. */
int kn_cast_bf16_to_f32(float *out, const void *in, size_t n, cudaStream_t s);

/* Converts n elements between any two kn_dtypes (a copy when they agree). */
int kn_convert(void *out, kn_dtype out_dt, const void *in, kn_dtype in_dt, size_t n,
               cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
