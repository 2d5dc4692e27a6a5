/* Fused AdamW step over float32 master parameters, with the gradient scaled
 * by a clip factor that lives in device memory (written by kn_global_norm),
 * so the step needs no host round trip. Same formula as ref_adamw:
 *   g' = g * scale; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
 *   p -= lr * (m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd * p)
 * Optionally writes a copy of the updated p in another dtype (the bf16
 * weights the forward pass reads) in the same pass. */
#ifndef INGOT_ADAMW_H
#define INGOT_ADAMW_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* p, g, m, v: n float32 each (p, m, v updated in place; g read only).
 * grad_scale: device pointer to one float, or NULL for 1. p_copy: NULL, or n
 * elements of copy_dt receiving the updated p. t: the step number, 1-based. */
int kn_adamw(float *p, const float *g, float *m, float *v, void *p_copy, kn_dtype copy_dt,
             size_t n, float lr, float beta1, float beta2, float eps, float wd, int t,
             const float *grad_scale, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
