/* Global gradient norm and clip factor, computed and kept on the device so
 * the optimizer can read the factor without a host round trip. */
#ifndef INGOT_GRADNORM_H
#define INGOT_GRADNORM_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of device scratch kn_global_norm needs (a constant: 8 KiB). */
size_t kn_global_norm_scratch_bytes(void);

/* norm_out[0] = sqrt(sum g[i]^2) over n floats, summed in float64 in a fixed
 * order (deterministic: the order depends on n only);
 * clip_out[0] = min(1, max_norm / (norm + 1e-6)), or 1 when max_norm <= 0.
 * norm_out and clip_out are device pointers to one float each (either may be
 * NULL); scratch: kn_global_norm_scratch_bytes() of device memory. */
int kn_global_norm(float *norm_out, float *clip_out, const float *g, size_t n,
                   float max_norm, void *scratch, size_t scratch_bytes, cudaStream_t s);

/* kn_global_norm with max_norm read from device memory (one float) when the
 * kernel runs, so a captured graph follows a value the host rewrites. */
int kn_global_norm_dev(float *norm_out, float *clip_out, const float *g, size_t n,
                       const float *max_norm, void *scratch, size_t scratch_bytes,
                       cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
