/* RMSNorm over the last dimension (LLaMA), rows of C elements of dtype dt;
 * statistics in float32. Same math as ref_rmsnorm_fwd/bwd and
 * ref_residual_rmsnorm_fwd (kernels/cpu/ref_llama.h):
 *   out[n, c] = inp[n, c] * rstd[n] * w[c], rstd = 1 / sqrt(mean(inp^2) + eps). */
#ifndef INGOT_RMSNORM_H
#define INGOT_RMSNORM_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* inp, out: [N, C]; w: [C] (dtype dt, the forward copy of the parameters);
 * rstd: [N] float32 for the backward pass (may be NULL). One warp per row.
 * out may alias inp. Requires N >= 0, 0 < C <= 16384. */
int kn_rmsnorm_fwd(void *out, float *rstd, const void *inp, const void *w, float eps, int N,
                   int C, kn_dtype dt, cudaStream_t s);

/* Fused residual add + RMSNorm: res_out = res + x (rounded to dt), out =
 * rmsnorm(res_out) with the statistics of the rounded sum, which is what
 * the backward reads. res_out may alias res or x (the residual stream
 * updated in place); out may not alias the inputs. Same limits. */
int kn_residual_rmsnorm_fwd(void *res_out, void *out, float *rstd, const void *res,
                            const void *x, const void *w, float eps, int N, int C, kn_dtype dt,
                            cudaStream_t s);

/* Device scratch bytes kn_rmsnorm_bwd needs for these shapes. */
size_t kn_rmsnorm_bwd_scratch_bytes(int N, int C);

/* dinp (+)= dLoss/dinp (added when accumulate != 0, written otherwise);
 * dw (+)= sum_n dout * inp * rstd (float32; added when dw_accumulate != 0,
 * written otherwise).
 * The backward of the fused residual add is this call with accumulate = 1
 * and dinp = the residual stream's gradient: the add passes its gradient to
 * both inputs unchanged, so dres += rmsnorm_bwd(dout) is the whole of it.
 * Deterministic: per-block partials of dw over a row split that depends on
 * N only, added in block order; no atomics. dinp may not alias dout or inp.
 * Requires 0 < C <= 8192. */
int kn_rmsnorm_bwd(void *dinp, float *dw, const void *dout, const void *inp, const void *w,
                   const float *rstd, int N, int C, int accumulate, int dw_accumulate,
                   kn_dtype dt, void *scratch, size_t scratch_bytes, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
