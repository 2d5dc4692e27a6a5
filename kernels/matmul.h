/* Linear layers through cuBLASLt (float32 accumulation; no TF32 in float32
 * mode, so it agrees with the float32 reference), with bias and GELU fused
 * into the GEMM epilogue where cuBLASLt supports the shape, and plain kernels
 * where it does not.
 *
 * Row-major shapes as in ref_ops.h: inp [N, IC], w [OC, IC], out [N, OC].
 * inp/out/dinp/dout/w/bias are of the call's dtype (in bf16 mode, w and bias
 * are the bf16 copy of the parameters); dw and dbias are always float32 and
 * always accumulated (+=). */
#ifndef INGOT_MATMUL_H
#define INGOT_MATMUL_H

#include <stdio.h>

#include "bias_grad.h" /* kn_matmul_bwd_bias: the bias gradient of the products */
#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cuBLASLt handle, a cuBLAS handle (fallback for shapes cuBLASLt declines),
 * the GEMM workspace, and a cache of matmul plans (descriptors and the
 * heuristic's algorithm, chosen on a shape's first use and reused after:
 * no host allocation, no heuristic query in steady state). One kn_blas must
 * be used from one host thread and one stream at a time. */
typedef struct kn_blas kn_blas;

/* Creates the context on the current device. workspace_bytes: 0 for the
 * default (32 MiB). Returns 0, -ENOMEM, or INGOT_E_CUDA (no GPU included). */
int kn_blas_create(kn_blas **out, size_t workspace_bytes);

/* Frees everything; NULL is fine. The device must be idle for h's work. */
void kn_blas_free(kn_blas *h);

/* Allow (1) or forbid (0) fusing GELU/dGELU into the GEMM epilogue; when
 * forbidden, the GEMM writes the pre-activation and the GELU kernels of
 * gelu.h run after it (same results up to rounding). Default: the GELU is
 * fused; the dGELU only when the product's k is below 1024 (at GPT-2 350M and
 * up the DGELU epilogue GEMM is slower than the plain GEMM plus the pass).
 * INGOT_FUSE_GELU=0 / INGOT_FUSE_DGELU=0|1 in the environment at
 * kn_blas_create forbid / force it for the forward GELU / the dGELU alone
 * (for comparisons). */
void kn_blas_set_fuse_gelu(kn_blas *h, int on);

/* Where the GELU and dGELU products (kn_matmul_fwd with pre_gelu,
 * kn_matmul_bwd_inp with pre_gelu, bf16), and the SwiGLU ones, run on Ingot's own Hopper GEMM
 * (gemm_sm90.h) instead of cuBLASLt: on = -1 (the default where the sm_90a
 * machine code runs): at the shapes where it measured faster (matmul.cu,
 * own_takes); 1: always; 0: never. On other GPUs it stays 0.
 * INGOT_GEMM_SM90=0 / =1 in the environment at kn_blas_create picks 0 / 1.
 * Shapes the kernel does not take fall back to cuBLASLt. Only while fusing
 * is allowed (kn_blas_set_fuse_gelu). The SwiGLU products
 * (kn_matmul_fwd_swiglu, kn_matmul_bwd_inp_swiglu) and the QKV product with
 * RoPE (kn_matmul_fwd_rope) follow the same setting (-1: from 4096 rows)
 * but not kn_blas_set_fuse_gelu.
 * kn_blas_own_gemm returns the setting. */
void kn_blas_set_own_gemm(kn_blas *h, int on);
int kn_blas_own_gemm(const kn_blas *h);

/* Autotune, off by default (measured on an H200: GPT-2 350M 195 273 tok/s
 * tuned vs 195 454 untuned, 124M's tuned sum of one call each 1.05x faster
 * but no step faster beyond noise; docs/performance.md). INGOT_GEMM_TUNE=1
 * in the environment at kn_blas_create makes kn_blas_set_tune(h, 1) effective:
 * each GEMM shape planned while it is on (at least 16 GFLOP, output not
 * overlapping an input, not inside a stream capture) runs cuBLASLt's top 8
 * heuristic algorithms a few times on the call's own buffers (the output is
 * saved and restored, so accumulating products keep their value) and keeps
 * the fastest when it beats the heuristic's first by 3%. Later calls of the
 * shape reuse the choice (the plan cache). The chosen algorithm differs only
 * in summation order, i.e. float32 rounding; but two processes may time
 * differently and choose differently, so with tuning on a resume is exact
 * only to rounding, not bit for bit — the reason it is off by default.
 * INGOT_GEMM_TUNE=always: tune every new shape, whenever planned.
 * Not thread-safe. */
void kn_blas_set_tune(kn_blas *h, int on);

/* Per tuned shape: the heuristic's first and the chosen algorithm's time
 * per call; then the sums (what --profile prints at start-up). */
void kn_blas_tune_report(const kn_blas *h, FILE *f);

/* General column-major GEMM, strided-batched:
 *   C_i = alpha * op(A_i) op(B_i) + beta * C_i,  i < batch,
 * op(A) is m x k, op(B) is k x n, C is m x n with leading dimension ldc;
 * X_i = X + i * stride_x (elements). A and B are of ab_dt; C of c_dt, which
 * is ab_dt or KN_F32. trans_a/trans_b: 0 = N, 1 = T. Goes through the plan
 * cache; falls back to cublasGemmStridedBatchedEx when cuBLASLt has no
 * algorithm for the shape. */
typedef struct kn_gemm {
    int trans_a, trans_b;
    int m, n, k;
    const void *A;
    long long lda, stride_a;
    const void *B;
    long long ldb, stride_b;
    void *C;
    long long ldc, stride_c;
    int batch;
    kn_dtype ab_dt, c_dt;
    float alpha, beta;
} kn_gemm;
int kn_gemm_run(kn_blas *h, const kn_gemm *g, cudaStream_t s);

/* out = inp @ w^T (+ bias, if bias != NULL). With pre_gelu != NULL:
 * pre_gelu = inp @ w^T (+ bias) and out = gelu(pre_gelu) (the pre-activation
 * is kept for the backward pass). out may not alias inp. */
int kn_matmul_fwd(kn_blas *h, void *out, void *pre_gelu, const void *inp, const void *w,
                  const void *bias, int N, int IC, int OC, kn_dtype dt, cudaStream_t s);

/* out = res + inp @ w^T: a residual stream's add in the product's epilogue
 * (cuBLASLt reads res as its C with beta 1), one rounding to dt of the
 * float32 sum; out is res (in place) or overlaps neither it, inp nor w.
 * Where the layer's output
 * would be written and then added to res by a pass (kn_residual_fwd,
 * kn_residual_rmsnorm_fwd), this writes the sum directly: one [N, OC]
 * written and read fewer. */
int kn_matmul_fwd_residual(kn_blas *h, void *out, const void *res, const void *inp,
                           const void *w, int N, int IC, int OC, kn_dtype dt, cudaStream_t s);

/* LLaMA's MLP up-projection and SwiGLU (swiglu.h): gu [N, 2F] = inp [N, IC]
 * @ w^T (w [2F, IC]: the gate rows, then the up rows), hout [N, F] =
 * silu(gate) * up. One product with the SwiGLU in its epilogue where the
 * own Hopper GEMM takes it (bf16, as kn_blas_set_own_gemm allows), else the
 * product then kn_swiglu_fwd: the same SwiGLU math on the bf16 product
 * (the products' summation orders differ, so the last bit of gu may).
 * hout may alias neither inp nor gu. */
int kn_matmul_fwd_swiglu(kn_blas *h, void *hout, void *gu, const void *inp, const void *w,
                         int N, int IC, int F, kn_dtype dt, cudaStream_t s);

/* LLaMA's QKV product with RoPE (rope.h): out [B T, OC] = inp @ w^T, then
 * its first nh heads of hs channels rotated, row (b, t) at position t of
 * the table rope ([T or more, hs/2, 2]): the packed qkv with nh = NH + NKV
 * (q and k rotate, v stays). One product with the rotation in its
 * epilogue where the own Hopper GEMM takes it (bf16, as
 * kn_blas_set_own_gemm allows), else the product then kn_rope_fwd in
 * place: the same rotation of the bf16 product (the products' summation
 * orders differ, so the last bit may). out may not alias inp or w. */
int kn_matmul_fwd_rope(kn_blas *h, void *out, const void *inp, const void *w, const float *rope,
                       int B, int T, int IC, int OC, int nh, int hs, kn_dtype dt,
                       cudaStream_t s);

/* Its backward through the down projection (w [OC, F], dout [N, OC]):
 * dgu [N, 2F] = the SwiGLU backward (swiglu.h, written, not added) of
 * dout @ w at gu. Fused as kn_matmul_fwd_swiglu; the unfused path writes
 * dout @ w into dh_scratch [N, F] first. dgu may alias none of the others. */
int kn_matmul_bwd_inp_swiglu(kn_blas *h, void *dgu, void *dh_scratch, const void *dout,
                             const void *w, const void *gu, int N, int F, int OC, kn_dtype dt,
                             cudaStream_t s);

/* dinp (+)= dout @ w: added when accumulate != 0 (reference semantics),
 * written otherwise. With pre_gelu != NULL (the pre-activation whose GELU
 * was this layer's input): dinp = (dout @ w) * gelu'(pre_gelu), the gradient
 * w.r.t. the pre-activation; then accumulate must be 0. */
int kn_matmul_bwd_inp(kn_blas *h, void *dinp, const void *dout, const void *w,
                      const void *pre_gelu, int N, int IC, int OC, int accumulate, kn_dtype dt,
                      cudaStream_t s);

/* kn_matmul_bwd_inp with pre_gelu (accumulate 0), plus the bias gradient
 * of its output: dinp = (dout @ w) * gelu'(pre_gelu), dbias[i] +=
 * sum_n dinp[n, i] in float32 (GPT-2's fc bias: dinp is the gradient of
 * its pre-activation). Where the product runs on the own Hopper GEMM, its
 * dGELU epilogue writes column sums per 16 rows and kn_matmul_bwd_bias adds
 * those up: its pass over [N, IC] is not run; elsewhere, or with INGOT_FUSE_DBIAS=0 in the environment at
 * kn_blas_create, the product and then that pass. Deterministic (the sums'
 * order depends on the route, not on the run). scratch: at least
 * kn_matmul_bwd_inp_dgelu_bias_scratch_bytes(N, IC) bytes. */
int kn_matmul_bwd_inp_dgelu_bias(kn_blas *h, void *dinp, float *dbias, const void *dout,
                                 const void *w, const void *pre_gelu, int N, int IC, int OC,
                                 kn_dtype dt, void *scratch, size_t scratch_bytes, cudaStream_t s);
size_t kn_matmul_bwd_inp_dgelu_bias_scratch_bytes(int N, int IC);

/* dw (+)= dout^T @ inp, dw float32 [OC, IC] (bf16 inputs, float32 output):
 * added when accumulate != 0, written otherwise (a step's first micro-step:
 * no zeroing pass before it, and the product does not read dw). */
int kn_matmul_bwd_weight(kn_blas *h, float *dw, const void *dout, const void *inp, int N, int IC,
                         int OC, int accumulate, kn_dtype dt, cudaStream_t s);

/* Device scratch bytes kn_matmul_bwd needs to take the fused bias-gradient
 * path (>= kn_matmul_bwd_bias_scratch_bytes). */
size_t kn_matmul_bwd_scratch_bytes(int N, int OC);

/* Allow (1) or forbid (0, the default; INGOT_BGRAD_EPI=1 in the environment
 * at kn_blas_create makes it 1) computing dbias in the weight GEMM's
 * epilogue (cuBLASLt BGRADB) in kn_matmul_bwd; when forbidden, or when
 * cuBLASLt has no algorithm for it, kn_matmul_bwd_bias runs instead. Off by
 * default because on the H200 that GEMM ran slower than the plain GEMM and
 * the bias kernel together. */
void kn_blas_set_fuse_bgrad(kn_blas *h, int on);

/* Allow (1, the default; INGOT_FUSE_DBIAS=0 in the environment at
 * kn_blas_create makes it 0) the dGELU product to sum the bias gradient in
 * kn_matmul_bwd_inp_dgelu_bias; 0: the product, then kn_matmul_bwd_bias. */
void kn_blas_set_fuse_dbias(kn_blas *h, int on);

/* The three backward parts with ref_matmul_bwd's semantics: dinp += (skipped
 * when dinp is NULL), dw += (written when dw_accumulate is 0, as
 * kn_matmul_bwd_weight), dbias += (skipped when NULL). With dbias and
 * scratch_bytes >= kn_matmul_bwd_scratch_bytes(N, OC), the bias gradient
 * comes out of the weight GEMM's epilogue (one read of dout fewer). */
int kn_matmul_bwd(kn_blas *h, void *dinp, float *dw, float *dbias, const void *dout,
                  const void *inp, const void *w, int N, int IC, int OC, int dw_accumulate,
                  kn_dtype dt, void *scratch, size_t scratch_bytes, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
