/* Plain-C reference implementations of every operation of the GPT-2 training
 * step. They are the CPU trainer's kernels (parallelised with OpenMP) and the
 * oracle that every CUDA kernel in kernels/ is checked against.
 *
 * Conventions (llm.c / PyTorch layout, all row-major float32):
 *   B batch, T sequence length, C channels, NH heads, hs = C / NH,
 *   N = B*T rows, V vocabulary, Vp = V padded to a multiple of 128.
 *   Linear weights are [OC, IC]: out = inp @ w^T + bias.
 *   qkv is [B, T, 3C]: q = [0, C), k = [C, 2C), v = [2C, 3C); head h owns
 *   channels [h*hs, (h+1)*hs) of each.
 *   Backward functions ACCUMULATE (+=) into parameter gradients (dw, db,
 *   dwte, dwpe) and into dinp, so that gradient accumulation and the
 *   residual stream work without extra buffers; callers zero them first.
 */
#ifndef INGOT_REF_OPS_H
#define INGOT_REF_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[b,t,:] = wte[tok[b,t], :] + wpe[t, :] */
void ref_encoder_fwd(float *out, const int32_t *tok, const float *wte, const float *wpe,
                     int B, int T, int C);
/* dwte[tok[b,t], :] += dout[b,t,:]; dwpe[t, :] += dout[b,t,:] */
void ref_encoder_bwd(float *dwte, float *dwpe, const float *dout, const int32_t *tok,
                     int B, int T, int C);

/* LayerNorm over the last dimension, eps 1e-5. mean, rstd: [N] (saved for
 * backward). */
void ref_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C);
void ref_layernorm_bwd(float *dinp, float *dw, float *db, const float *dout,
                       const float *inp, const float *w, const float *mean,
                       const float *rstd, int N, int C);

/* out[N, OC] = inp[N, IC] @ w[OC, IC]^T + bias[OC] (bias may be NULL). */
void ref_matmul_fwd(float *out, const float *inp, const float *w, const float *bias,
                    int N, int IC, int OC);
/* dinp += dout @ w; dw += dout^T @ inp; dbias += sum_rows(dout) (dbias may be
 * NULL; dinp may be NULL to skip it). */
void ref_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout,
                    const float *inp, const float *w, int N, int IC, int OC);

/* Causal multi-head self-attention. out: [B, T, C]; att: [B, NH, T, T] softmax
 * probabilities (saved for backward; entries above the diagonal are 0);
 * scale 1/sqrt(hs). */
void ref_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int NH);
/* dqkv += gradient w.r.t. qkv. scratch: [B, NH, T, T] floats of workspace. */
void ref_attention_bwd(float *dqkv, float *scratch, const float *dout, const float *qkv,
                       const float *att, int B, int T, int C, int NH);

/* GELU, tanh approximation. */
void ref_gelu_fwd(float *out, const float *inp, size_t n);
/* dinp += gelu'(inp) * dout */
void ref_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n);

/* out = a + b */
void ref_residual_fwd(float *out, const float *a, const float *b, size_t n);
/* res = a + b, then out = LayerNorm(res) (mean, rstd as ref_layernorm_fwd):
 * the CUDA trainer's fused residual + LayerNorm. */
void ref_residual_layernorm_fwd(float *res, float *out, float *mean, float *rstd,
                                const float *a, const float *b, const float *w,
                                const float *bias, int N, int C);

/* Fused softmax + cross-entropy (+ gradient, + top-1 accuracy) over the first
 * V of Vp logits of each of N rows. losses[n] = -log softmax(logits[n])[target].
 * If dlogits != NULL: dlogits[n, v] = (p[v] - [v == target]) * dloss for v < V
 * and 0 for V <= v < Vp. correct[n] = 1 if argmax (lowest index on ties) ==
 * target else 0 (correct may be NULL). dlogits may equal logits (computed in
 * place, as the CPU trainer does to save a [N, Vp] buffer). */
void ref_softmax_xent(float *losses, float *dlogits, int *correct, const float *logits,
                      const int32_t *targets, int N, int V, int Vp, float dloss);

/* Sum of squares of g[0, n) in double. */
double ref_sum_squares(const float *g, size_t n);
/* Clip factor for a global gradient norm: min(1, max_norm / (norm + 1e-6));
 * max_norm <= 0 disables clipping (returns 1). */
float ref_clip_factor(double norm, float max_norm);

/* AdamW step t (1-based) on n parameters. g is scaled by grad_scale (the clip
 * factor) first. Decoupled weight decay: p -= lr * wd * p. */
void ref_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr,
               float beta1, float beta2, float eps, float wd, int t, float grad_scale);

/* Widen 16-bit token ids. */
void ref_widen_u16(int32_t *out, const uint16_t *in, size_t n);

#ifdef __cplusplus
}
#endif
#endif
