/* Residual add over n elements of dtype dt (float32 math). */
#ifndef INGOT_RESIDUAL_H
#define INGOT_RESIDUAL_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out = a + b. out may alias a or b. */
int kn_residual_fwd(void *out, const void *a, const void *b, size_t n, kn_dtype dt,
                    cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
