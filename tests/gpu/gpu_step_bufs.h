/* The device buffers of one training micro-step for the GPU model tests and
 * benchmarks (gpu_op_bench, test_gpu_optime_llama): float32 parameters and
 * their gradients, the weights in the compute dtype, the input and target
 * ids (2 N, inputs then targets), and one float for the loss sum. Test code:
 * a failed CUDA call ends the program (tt_util.h's CHECK). */
#ifndef INGOT_TESTS_GPU_STEP_BUFS_H
#define INGOT_TESTS_GPU_STEP_BUFS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "kn_common.h"

struct gpu_step_bufs {
    float *params, *grads, *loss;
    void *w;
    int32_t *ids;
};

/* Allocates b for n parameters and N tokens, uploads params and the 2 N ids,
 * converts the weights to dt on s and zeroes the gradients. */
void gpu_step_bufs_upload(struct gpu_step_bufs *b, const float *params, size_t n,
                          const int32_t *ids, size_t N, kn_dtype dt, cudaStream_t s);
void gpu_step_bufs_free(struct gpu_step_bufs *b);

#endif
