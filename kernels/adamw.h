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

/* The step's hyper-parameters as AdamW reads them from DEVICE memory, so a
 * step captured once as a CUDA graph runs every later step unchanged: the
 * host writes this record (with the step's tokens) before each launch.
 * bc1 = 1 - beta1^t and bc2 = 1 - beta2^t are computed by the host (float
 * powf, as ref_adamw), so the update is bit-identical to kn_adamw's. */
typedef struct kn_adamw_hp {
    float lr, beta1, beta2, eps, wd, bc1, bc2, pad;
} kn_adamw_hp;

/* Fills hp from the host scalars (t >= 1). */
void kn_adamw_hp_set(kn_adamw_hp *hp, float lr, float beta1, float beta2, float eps, float wd,
                     int t);

enum { KN_ADAMW_MAX_TENSORS = 32 };

/* Tensors stored back to back in p, g, m, v (and the copy): tensor i ends at
 * element end[i] (exclusive, increasing; end[n - 1] is the total), and gets
 * weight decay when bit i of decay_mask is set. */
typedef struct kn_adamw_tensors {
    int n;
    size_t end[KN_ADAMW_MAX_TENSORS];
    uint32_t decay_mask;
} kn_adamw_tensors;

/* kn_adamw over all tensors in ONE launch (16-byte accesses, 4 elements per
 * thread), hyper-parameters read from hp (a device pointer), weight decay
 * hp->wd on the tensors of decay_mask and 0 on the others. Same arithmetic as
 * kn_adamw per element. p, g, m, v (and p_copy) must be 16-byte aligned. */
int kn_adamw_flat(float *p, const float *g, float *m, float *v, void *p_copy, kn_dtype copy_dt,
                  const kn_adamw_tensors *tensors, const kn_adamw_hp *hp,
                  const float *grad_scale, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
