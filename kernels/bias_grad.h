/* The bias gradient of a linear layer: the column sums of its output
 * gradient, float32 (bias_grad.cu). Apart from matmul.h's products so that
 * kernels without cuBLAS (the attention's qkv bias gradient) can use it. */
#ifndef INGOT_BIAS_GRAD_H
#define INGOT_BIAS_GRAD_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device scratch bytes kn_matmul_bwd_bias needs (0 for small N). */
size_t kn_matmul_bwd_bias_scratch_bytes(int N, int OC);

/* 1: let kn_matmul_bwd_bias use the vectorised kernel (lanes own 16-byte
 * packs of columns) where OC is a whole number of packs; 0: the scalar
 * kernel. Default: on, unless INGOT_DB_VEC=0 in the environment. Same
 * split of the rows either way. For the kernel check and comparisons; not
 * thread-safe (call before use). */
void kn_matmul_set_db_vec(int on);

/* dbias[o] += sum_n dout[n, o], float32. Deterministic: fixed row split
 * (depends on N only), partial sums added in order; no atomics. */
int kn_matmul_bwd_bias(float *dbias, const void *dout, int N, int OC, kn_dtype dt, void *scratch,
                       size_t scratch_bytes, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
