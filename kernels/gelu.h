/* GELU, tanh approximation (GPT-2): gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * Element-wise over n elements of dtype dt; math in float32. Vectorised
 * (16-byte accesses) when every pointer is 16-byte aligned, scalar otherwise. */
#ifndef INGOT_GELU_H
#define INGOT_GELU_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out = gelu(inp). out may alias inp. */
int kn_gelu_fwd(void *out, const void *inp, size_t n, kn_dtype dt, cudaStream_t s);

/* dinp = gelu'(inp) * dout, added to dinp when accumulate != 0 (the
 * reference's += semantics), written otherwise. dinp may alias dout. */
int kn_gelu_bwd(void *dinp, const void *inp, const void *dout, size_t n, int accumulate,
                kn_dtype dt, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
