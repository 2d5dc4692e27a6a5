#include "gpu_step_bufs.h"

#include "convert.h"
#include "tt_util.h"

#define CK(call) CHECK((call) == cudaSuccess)

void gpu_step_bufs_upload(struct gpu_step_bufs *b, const float *params, size_t n,
                          const int32_t *ids, size_t N, kn_dtype dt, cudaStream_t s)
{
    CK(cudaMalloc((void **)&b->params, n * sizeof(float)));
    CK(cudaMalloc((void **)&b->grads, n * sizeof(float)));
    CK(cudaMalloc(&b->w, n * kn_dtype_size(dt)));
    CK(cudaMalloc((void **)&b->ids, 2 * N * sizeof(int32_t)));
    CK(cudaMalloc((void **)&b->loss, sizeof(float)));
    CK(cudaMemcpy(b->params, params, n * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(b->ids, ids, 2 * N * sizeof(int32_t), cudaMemcpyHostToDevice));
    CK(cudaMemset(b->grads, 0, n * sizeof(float)));
    CHECK_OK(kn_convert(b->w, dt, b->params, KN_F32, n, s));
}

void gpu_step_bufs_free(struct gpu_step_bufs *b)
{
    cudaFree(b->params);
    cudaFree(b->grads);
    cudaFree(b->w);
    cudaFree(b->ids);
    cudaFree(b->loss);
}
