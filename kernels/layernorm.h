/* LayerNorm over the last dimension (eps 1e-5), rows of C elements of dtype
 * dt; statistics in float32. Same math as ref_layernorm_fwd/bwd. */
#ifndef INGOT_LAYERNORM_H
#define INGOT_LAYERNORM_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[n,:] = (inp[n,:] - mean[n]) * rstd[n] * w + b for n < N; inp, out: [N, C];
 * w, b: [C] (dtype dt, the forward copy of the parameters); mean, rstd: [N]
 * float32, written for the backward pass (either may be NULL). Two-pass
 * statistics; one warp per row, held in registers when C is a whole number
 * of 16-byte packs (INGOT_LN_VEC=0: the scalar kernel, for comparisons).
 * Requires N >= 0, 0 < C <= 16384. */
int kn_layernorm_fwd(void *out, float *mean, float *rstd, const void *inp, const void *w,
                     const void *b, int N, int C, kn_dtype dt, cudaStream_t s);

/* The residual add fused with the LayerNorm that follows it:
 *   res = a + b (rounded to dt and stored), out = LayerNorm(res) with w, bias,
 * mean and rstd of res written as kn_layernorm_fwd does (either may be NULL).
 * One pass: a and b read once, res and out written once (when the shape or
 * alignment does not suit the vectorised kernel: kn_residual_fwd, then
 * kn_layernorm_fwd, same values). res may alias a or b; out may alias none.
 * Requires N >= 0, 0 < C <= 16384. */
int kn_residual_layernorm_fwd(void *res, void *out, float *mean, float *rstd, const void *a,
                              const void *b, const void *w, const void *bias, int N, int C,
                              kn_dtype dt, cudaStream_t s);

/* Device scratch bytes kn_layernorm_bwd needs for these shapes. */
size_t kn_layernorm_bwd_scratch_bytes(int N, int C);

/* dinp (+)= dLoss/dinp (added when accumulate != 0, as the reference does,
 * written otherwise); dw += sum_n dout * xhat, db += sum_n dout (float32,
 * always accumulated). Deterministic: each block sums a fixed set of rows per
 * channel, then one pass adds the block partials in order; no atomics. dinp
 * may not alias dout or inp. Requires 0 < C <= 3072. */
int kn_layernorm_bwd(void *dinp, float *dw, float *db, const void *dout, const void *inp,
                     const void *w, const float *mean, const float *rstd, int N, int C,
                     int accumulate, kn_dtype dt, void *scratch, size_t scratch_bytes,
                     cudaStream_t s);

/* kn_layernorm_bwd, and dsum += sum_n dinp[n, :] of the dinp it wrote (as
 * stored, after the accumulation), in the same fixed order: in GPT-2 that
 * sum is the bias gradient of the projection whose output is this
 * residual-stream gradient, so no bias pass has to read it again.
 * dsum NULL: kn_layernorm_bwd. With dsum, 0 < C <= 2048. */
int kn_layernorm_bwd_sum(void *dinp, float *dw, float *db, float *dsum, const void *dout,
                         const void *inp, const void *w, const float *mean, const float *rstd,
                         int N, int C, int accumulate, kn_dtype dt, void *scratch,
                         size_t scratch_bytes, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
