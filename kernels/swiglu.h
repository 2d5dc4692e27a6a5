/* SwiGLU on the GPU: out[n, f] = silu(gu[n, f]) * gu[n, F + f] on the
 * [N, 2F] gate|up output of one matmul by [W_gate; W_up], the math of
 * ref_swiglu_* (kernels/cpu/ref_llama.h); float32 arithmetic, storage of
 * dtype dt. The sigmoid (swiglu_math.cuh): expf and the IEEE division in
 * float32 (~1 ulp from the reference), __expf and __fdividef in bf16 (a few
 * float32 ulp, below bf16's rounding). */
#ifndef INGOT_SWIGLU_H
#define INGOT_SWIGLU_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out: [N, F]; gu: [N, 2F]. out may not alias gu. */
int kn_swiglu_fwd(void *out, const void *gu, int N, int F, kn_dtype dt, cudaStream_t s);

/* dgu [N, 2F] (+)= gradient w.r.t. gu from dout [N, F]: added when
 * accumulate != 0 (reference semantics), written otherwise. dgu may not
 * alias dout or gu. */
int kn_swiglu_bwd(void *dgu, const void *dout, const void *gu, int N, int F, int accumulate,
                  kn_dtype dt, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
