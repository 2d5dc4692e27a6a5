/* Fused softmax + cross-entropy + gradient + top-1 accuracy over the
 * vocabulary, one block per row, never materialising the probabilities.
 * Kernels (kn_xent_set_mode, or INGOT_XENT=two|reg|smem|smem1):
 *   two   the row is read twice: statistics, then gradient;
 *   reg   bf16, Vp <= 65536, aligned rows: the row held in registers, read
 *         once, one 1024-thread block per SM;
 *   smem  (default) bf16, aligned rows that fit two blocks per SM in shared
 *         memory (Vp up to ~56k on an H100/H200): the row copied to shared
 *         memory, read once, two 512-thread blocks per SM overlap;
 *   smem1 as smem, exp taken once per element (the gradient scales the
 *         stored exp: one more bf16 rounding, the target column exact).
 * Shapes a kernel does not take run the two-read kernel. */
#ifndef INGOT_XENT_H
#define INGOT_XENT_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* For each of N rows of logits [N, Vp] (dtype dt), over the first V columns:
 *   losses[n] = logsumexp(row) - row[target]            (float32)
 *   correct[n] = argmax(row) == target (lowest index on ties), if correct
 *   dlogits[n, v] = (softmax(row)[v] - [v == target]) * dloss for v < V,
 *                   0 for V <= v < Vp, if dlogits (dtype dt).
 * dlogits may be the logits buffer itself (in place: saves N*Vp elements).
 * Columns V..Vp-1 of the logits are never read. A target outside [0, V)
 * gives loss NaN (so it is noticed), correct 0 and no one-hot term.
 * Requires 0 < V <= Vp. */
int kn_softmax_xent(float *losses, void *dlogits, int *correct, const void *logits,
                    const int32_t *targets, int N, int V, int Vp, float dloss, kn_dtype dt,
                    cudaStream_t s);

/* Which classifier kernel kn_softmax_xent may use where the shape allows
 * (see the top of this file); elsewhere it runs KN_XENT_TWO. */
typedef enum kn_xent_mode {
    KN_XENT_TWO = 0,   /* two reads of the row */
    KN_XENT_REG = 1,   /* row in registers */
    KN_XENT_SMEM = 2,  /* row in shared memory (the default) */
    KN_XENT_SMEM1 = 3, /* row in shared memory, exp once per element */
} kn_xent_mode;

/* Sets the mode for later calls, overriding the environment: INGOT_XENT
 * (two, reg, smem, smem1), else INGOT_XENT_REG=1 (reg), else smem. For the
 * kernel check, benchmarks and comparisons; not thread-safe (call before
 * use). -EINVAL for a value outside the enum. */
int kn_xent_set_mode(kn_xent_mode m);

/* Same as kn_xent_set_mode(on ? KN_XENT_REG : KN_XENT_TWO). */
void kn_xent_set_reg(int on);

/* "two", "reg", "smem" or "smem1". */
const char *kn_xent_mode_name(kn_xent_mode m);

/* *out = the mode named s (the names above); -EINVAL naming s otherwise. */
int kn_xent_mode_parse(const char *s, kn_xent_mode *out);

/* *used = the kernel kn_softmax_xent would run for these arguments on the
 * current device under the current mode (KN_XENT_TWO where the mode's
 * kernel does not take the shape). -EINVAL for a bad INGOT_XENT value,
 * INGOT_E_CUDA if a device query fails. The smem kernels' first use per
 * device sets their shared-memory attributes. */
int kn_xent_kernel_for(kn_xent_mode *used, int V, int Vp, kn_dtype dt, const void *logits,
                       const void *dlogits);

/* loss_sum[0] (+)= sum of losses[0..N), correct_sum[0] (+)= sum of
 * correct[0..N) (either output may be NULL; correct may be NULL when
 * correct_sum is). Added to the outputs' contents when accumulate != 0,
 * written otherwise. One block, fixed order (float64): deterministic. */
int kn_xent_sum(float *loss_sum, int *correct_sum, const float *losses, const int *correct,
                int N, int accumulate, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
