/* Device-side random fill for kernel_check's --bench mode (GPT-2 sized
 * buffers are too large to generate on the host and upload quickly). */
#ifndef INGOT_KC_FILL_H
#define INGOT_KC_FILL_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* p[i] = uniform in [lo, hi) from a hash of (seed, i), n elements of dt. */
int kc_fill_uniform(void *p, size_t n, kn_dtype dt, uint64_t seed, float lo, float hi,
                    cudaStream_t s);

/* p[i] = uniform integer in [0, V). */
int kc_fill_tokens(int32_t *p, size_t n, int V, uint64_t seed, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
