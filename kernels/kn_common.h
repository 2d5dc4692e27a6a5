/* Things every CUDA launcher in kernels/ shares: the element type of
 * activations, and the GPU presence check.
 *
 * Precision model (see docs/kernels.md):
 *   - activations, activation gradients and the copy of the parameters that
 *     forward kernels read are of one kn_dtype, KN_F32 or KN_BF16;
 *   - parameter gradients, optimizer state and master weights are always
 *     float32; reductions and statistics (LayerNorm mean/rstd, losses, norms)
 *     are computed and stored in float32 (or float64 where stated).
 * A buffer typed `void *` in a launcher holds elements of the call's dtype.
 *
 * Every launcher returns 0 or a negative code (-EINVAL for a shape or
 * argument it refuses, INGOT_E_CUDA when a CUDA or cuBLAS call fails) with a
 * message recorded by ingot_fail(). Launchers only enqueue work on the given
 * stream: none synchronises, none allocates. */
#ifndef INGOT_KN_COMMON_H
#define INGOT_KN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kn_dtype {
    KN_F32 = 0,  /* IEEE float32 */
    KN_BF16 = 1, /* bfloat16 (8-bit exponent, 7-bit mantissa), round to nearest even */
} kn_dtype;

/* Bytes per element of dt (4 or 2). */
static inline size_t kn_dtype_size(kn_dtype dt)
{
    return dt == KN_BF16 ? 2 : 4;
}

/* "fp32" or "bf16". */
static inline const char *kn_dtype_name(kn_dtype dt)
{
    return dt == KN_BF16 ? "bf16" : "fp32";
}

/* 0 if at least one CUDA device is usable; INGOT_E_NOGPU with a message
 * naming the CUDA error otherwise (no driver, no device). Never aborts. */
int kn_device_check(void);

/* The switches that turn a fused or vectorised path off for comparisons
 * (INGOT_FA_ROPE=0 and the like): 1 when the environment sets name to "0". */
int kn_env_off(const char *name);

/* The same switch read once: *cache is -1 before the first call and holds
 * the answer after it. Returns 1 (on) unless name is "0". */
int kn_env_on_once(int *cache, const char *name);

/* An integer knob (INGOT_G9_GROUP=4 and the like): its value when the
 * environment sets name to a decimal integer in [lo, hi], else def. */
int kn_env_int(const char *name, int lo, int hi, int def);

#ifdef __cplusplus
}
#endif
#endif
