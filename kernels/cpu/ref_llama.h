/* Plain-C reference implementations of the LLaMA-family operations: RMSNorm,
 * rotary position embeddings (RoPE), SwiGLU and grouped-query causal
 * attention. Same conventions as ref_ops.h (row-major float32, [B, T, C]
 * activations, N = B*T rows, backward functions ACCUMULATE into parameter
 * gradients and into dinp unless a function says otherwise), and the same
 * role: the CPU trainer's kernels and the oracle for the CUDA kernels.
 *
 * The conventions are Hugging Face's LlamaForCausalLM, so that an exported
 * model needs no weight permutation (see ref_rope.c for RoPE's pairing). */
#ifndef INGOT_REF_LLAMA_H
#define INGOT_REF_LLAMA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- RMSNorm (ref_rmsnorm.c) ----
 * out[n, c] = inp[n, c] * rstd[n] * w[c], rstd[n] = 1 / sqrt(mean_c(inp[n]^2) + eps).
 * No mean subtraction, no bias. rstd: [N], saved for backward. */
void ref_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, float eps,
                     int N, int C);
/* dinp += d out / d inp (dout); dw += sum_n dout * inp * rstd. */
void ref_rmsnorm_bwd(float *dinp, float *dw, const float *dout, const float *inp,
                     const float *w, const float *rstd, int N, int C);
/* Fused residual add + RMSNorm: res_out = res + x; out = rmsnorm(res_out).
 * res_out may alias res (the residual stream updated in place). Backward
 * needs nothing fused: the gradient of res_out (what flows down the residual
 * stream plus ref_rmsnorm_bwd's dinp, which accumulates into it) is the
 * gradient of both res and x. */
void ref_residual_rmsnorm_fwd(float *res_out, float *out, float *rstd, const float *res,
                              const float *x, const float *w, float eps, int N, int C);

/* ---- RoPE (ref_rope.c) ----
 * Rotary position embeddings in Hugging Face's "rotate_half" pairing: within
 * a head of hs channels (hs even), channel i is rotated with channel
 * i + hs/2 by the angle pos * theta^(-2i/hs), i < hs/2; row (b, t) is at
 * position t (0..T-1).
 *
 * cs: [T, hs/2, 2] interleaved (cos, sin) table, filled by ref_rope_table()
 * (angles in double, so that long positions stay exact to float rounding). */
void ref_rope_table(float *cs, int T, int hs, double theta);
/* out = rotate(inp) on the first nh heads (nh * hs channels) of each of B*T
 * rows of `stride` floats; channels past nh * hs are not touched (with the
 * packed GQA qkv of ref_gqa_fwd, nh = NH + NKV rotates q and k, not v).
 * out may alias inp (in place). */
void ref_rope_fwd(float *out, const float *inp, const float *cs, int B, int T, int nh, int hs,
                  int stride);
/* dinp = rotate^T(dout) (the inverse rotation; RoPE is linear and keeps no
 * state). OVERWRITES, unlike other backward functions: it is meant to run in
 * place on the attention's dqkv; dinp may alias dout. */
void ref_rope_bwd(float *dinp, const float *dout, const float *cs, int B, int T, int nh, int hs,
                  int stride);

/* ---- SwiGLU (ref_swiglu.c) ----
 * out[n, f] = silu(gu[n, f]) * gu[n, F + f], silu(g) = g * sigmoid(g).
 * gu: [N, 2F], the output of ONE matmul by the concatenated weight
 * [gate_proj; up_proj] of shape [2F, C]: gate = columns [0, F), up = [F, 2F)
 * of each row. Hugging Face's separate gate_proj and up_proj are the two
 * halves of that weight's rows. */
void ref_swiglu_fwd(float *out, const float *gu, int N, int F);
/* dgu += gradient w.r.t. gu ([N, 2F]) from dout ([N, F]). */
void ref_swiglu_bwd(float *dgu, const float *dout, const float *gu, int N, int F);

/* ---- Grouped-query causal attention (ref_gqa.c) ----
 * NH query heads, NKV key/value heads (NH % NKV == 0), head size hs; query
 * head h reads kv head h / (NH / NKV) (Hugging Face's repeat_kv).
 * qkv: [B, T, (NH + 2 NKV) hs] per row: q = NH heads, then k = NKV heads,
 * then v = NKV heads. With NKV == NH this is ref_attention_fwd's [q | k | v]
 * layout and the result is plain multi-head attention.
 * out: [B, T, NH hs]; att: [B, NH, T, T] softmax probabilities (saved for
 * backward, zero above the diagonal); scale 1/sqrt(hs). */
void ref_gqa_fwd(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV,
                 int hs);
/* dqkv += gradient w.r.t. qkv; dk and dv of a kv head sum over the query
 * heads of its group. scratch: [B, NH, T, T] floats of workspace. */
void ref_gqa_bwd(float *dqkv, float *scratch, const float *dout, const float *qkv,
                 const float *att, int B, int T, int NH, int NKV, int hs);

#ifdef __cplusplus
}
#endif
#endif
