/* Ingot's own Hopper GEMM (sm_90a): bf16 operands, float32 accumulation,
 * bf16 output, with the epilogues cuBLASLt runs slowly on the H200 (GELU with
 * its pre-activation kept, and dGELU) or lacks (SwiGLU forward and
 * backward, RoPE); docs/kernels.md, "Hopper GEMM".
 * Internal to kernels/: matmul.cu calls it when kn_arch_path() says the
 * sm_90a machine code is loaded; tests/kernels/kc_gemm_sm90.cu checks it
 * against a plain-C reference.
 *
 * Row-major throughout:  C[M, N] = epi(A[M, K] . op(B)),
 *   b_kmajor = 1: B is [N, K] (op(B) = B^T: a linear layer's forward,
 *                 inp @ w^T);
 *   b_kmajor = 0: B is [K, N] (op(B) = B: its input gradient, dout @ w).
 * Epilogues (bias, when not NULL, is a bf16 vector of N):
 *   KN_G9_PLAIN  C = acc (+ bias)
 *   KN_G9_GELU   aux = acc (+ bias) in bf16 (the pre-activation the backward
 *                needs), C = gelu(aux) (tanh form, of the bf16 value: as the
 *                unfused path, GEMM into bf16 then gelu.cu)
 *   KN_G9_DGELU  C = bf16(acc) * gelu'(aux) (aux: the pre-activation, read;
 *                aux may be C itself)
 *   KN_G9_SWIGLU the SwiGLU forward (LLaMA's MLP, kernels/swiglu.h): B is
 *                [2N, K] (b_kmajor 1: the gate rows, then the up rows), aux
 *                [M, 2N] = the product in bf16 (gate | up, what the
 *                backward reads), C [M, N] = silu(gate) * up of the bf16
 *                values (as GEMM into bf16 then kn_swiglu_fwd)
 *   KN_G9_DSWIGLU its backward through the down projection: acc [M, N] is
 *                the gradient of silu(gate) * up (b_kmajor 0), aux [M, 2N]
 *                the forward's gate | up, C [M, 2N] = their gradients (as
 *                GEMM into bf16 then kn_swiglu_bwd); aux may not alias C
 *                (each lane reads before it writes the same elements, as
 *                dGELU in place, but that is not checked by a test)
 *   KN_G9_ROPE   LLaMA's QKV product with RoPE (rope.h) in its epilogue: C =
 *                acc (+ bias) in bf16, then its first rope->cols columns
 *                rotated in heads of rope->hs (rotate_half: channel i with
 *                i + hs/2), row r at position r % rope->T of rope->table;
 *                of the bf16-rounded value, as GEMM into bf16 then
 *                kn_rope_fwd (the same rotation, rope_math.cuh). b_kmajor
 *                1; hs 16, 32, 64, 128 or 256 (a head inside one tile),
 *                cols a multiple of it, the table 16-byte aligned; aux unused
 * Requirements (else -ENOTSUP, nothing launched: the caller falls back to
 * cuBLASLt): M, N, K > 0; K, N, lda, ldb, ldc, ldaux multiples of 8;
 * A, B, C, aux 16-byte aligned, bias 4-byte aligned; no bias with DGELU
 * or the SwiGLU pair, which also need the B layouts named above (as RoPE);
 * M, N, K at most 2^30, leading dimensions below 2^38; the sm_90a machine
 * code loaded (kn_arch_path). */
#ifndef INGOT_GEMM_SM90_H
#define INGOT_GEMM_SM90_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kn_g9_epi {
    KN_G9_PLAIN = 0,
    KN_G9_GELU = 1,
    KN_G9_DGELU = 2,
    KN_G9_SWIGLU = 3,
    KN_G9_DSWIGLU = 4,
    KN_G9_ROPE = 5,
} kn_g9_epi;

/* KN_G9_ROPE's rotation (read by kn_gemm_sm90 before it returns). */
typedef struct kn_g9_rope {
    const float *table; /* [T or more, hs/2, 2] (rope.h) */
    int T;              /* row r is at position r % T */
    int hs;             /* channels per head */
    int cols;           /* the first cols columns rotate: whole heads */
} kn_g9_rope;

typedef struct kn_g9 {
    int M, N, K;
    const void *A;
    long long lda;
    const void *B;
    long long ldb;
    int b_kmajor;
    void *C;
    long long ldc;
    const void *bias; /* [N] or NULL */
    void *aux;        /* with ldaux: written by GELU and SWIGLU, read by DGELU and DSWIGLU */
    long long ldaux;
    kn_g9_epi epi;
    /* DGELU only, or NULL: partial column sums of C in float32 (of the bf16
     * values stored), [ceil(M / 16), N] with ld N: row r sums C's rows
     * 16 r .. 16 r + 15; every row written. A bias gradient is their sum
     * over r (kn_matmul_bwd_bias on them, as float32): the product reads
     * dGELU's output for it instead of a pass over [M, N]. 16-byte aligned. */
    float *colsum;
    const struct kn_g9_rope *rope; /* ROPE only, else NULL */
} kn_g9;

/* Enqueues the product on s. 0, -ENOTSUP (shape or alignment not
 * supported: see above), -EINVAL (a NULL operand, or an epilogue without
 * aux), INGOT_E_CUDA. Deterministic (one owner per output tile, fixed
 * summation order). */
int kn_gemm_sm90(const kn_g9 *g, cudaStream_t s);

/* 1 when kn_gemm_sm90 would take the shape (the checks above without
 * launching). */
int kn_gemm_sm90_supports(const kn_g9 *g);

#ifdef __cplusplus
}
#endif
#endif
