/* Fused softmax + cross-entropy + gradient + top-1 accuracy over the
 * vocabulary, one block per row, never materialising the probabilities; the
 * row is read twice (statistics, then gradient). Optionally (kn_xent_set_reg
 * or INGOT_XENT_REG=1), in bf16 with Vp <= 65536 and aligned rows, the row is
 * held in registers: the logits are read once and the gradient written once. */
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

/* 1: let kn_softmax_xent use the row-in-registers kernel where the shape
 * allows; 0: the two-read kernels only. Default: INGOT_XENT_REG=1 in the
 * environment, else 0 (the registers kernel has not yet run on a GPU). For
 * the kernel check and comparisons; not thread-safe (call before use). */
void kn_xent_set_reg(int on);

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
