/* Hopper (sm_90a) kernels behind flash_attention.h: internal to kernels/,
 * called by flash_attention.cu when kn_arch_path() says the sm_90a machine
 * code is loaded. Same layouts, scale and base-2 log-sum-exp as the
 * portable kernels, so either path's forward feeds either path's backward.
 *
 * qkv [B, T, (NH + 2 NKV) hs] (q heads, then k heads, then v heads; query
 * head h reads kv head h / (NH / NKV)); out, dout [B, T, NH hs]; lse and
 * Dsum [B, NH, T] float32. hs in {64, 128}; the caller has checked shapes,
 * alignment and dtype. Deterministic. 0 or INGOT_E_CUDA. */
#ifndef INGOT_FLASH_ATTENTION_SM90_H
#define INGOT_FLASH_ATTENTION_SM90_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

int kn_fa_sm90_fwd(void *out, float *lse, const void *qkv, int B, int T, int NH, int NKV, int hs,
                   cudaStream_t s);

/* Device work bytes for the backward with dq fused into the dk/dv pass
 * (hs 64): a float32 dq accumulator of B NH heads x ceil(T / 64) 64-row
 * blocks x hs (in the kernel's own order within a block), for grouped heads
 * (NKV < NH) a float32 dk/dv accumulator of B NKV x ceil(T / 128) 128-row
 * blocks x 2 hs (the same), and the
 * counters that order the adds; 0 where that path does not apply. */
size_t kn_fa_sm90_bwd_work_bytes(int B, int T, int NH, int NKV, int hs);

/* Dsum = rowsum(dout * out), computed by the caller. dq, dk and dv are
 * written (accumulate == 0) or added to dqkv. With work of at least
 * kn_fa_sm90_bwd_work_bytes(), hs 64 takes the fused pass (deterministic:
 * the dq adds run in a fixed order); otherwise (work NULL) a dq kernel and
 * a dk/dv kernel. colsum, summed (both NULL, or neither): where the fused
 * pass runs with heads not grouped, its epilogues write the column sums of
 * the gradient (float32, before rounding) per 128 rows into colsum
 * [B ceil(T / 128), (NH + 2 NKV) hs] and *summed = 1; else *summed = 0 and
 * colsum is not touched. rope, roped (both NULL, or neither): q and k of qkv
 * were rotated by kn_rope_fwd with the table rope; where the fused pass runs,
 * dq and dk are stored rotated back (kn_rope_bwd's rope^T, in float32 before
 * the one rounding; no column sums then) and *roped = 1; else *roped = 0 and
 * the caller rotates them. */
int kn_fa_sm90_bwd(void *dqkv, const void *dout, const void *qkv, const float *lse,
                   const float *Dsum, int B, int T, int NH, int NKV, int hs, int accumulate,
                   void *work, size_t work_bytes, float *colsum, int *summed, const float *rope,
                   int *roped, cudaStream_t s);

/* The blocks' launch order (rows of (batch, head) per group, forward and
 * fused backward; flash_attention_sm90.cu's s9_block_order): fwd, bwd > 0
 * set them, 0 gives them back to the default (per call, or
 * INGOT_FA_SM90_FWD_GROUP / _BWD_GROUP where set). The results are the same
 * bits in every order; for tests and measurements. */
void kn_fa_sm90_set_groups(int fwd, int bwd);

#ifdef __cplusplus
}
#endif
#endif
