/* Hash-based random fill (splitmix64 of seed ^ index): any grid gives the
 * same values. */
#include <cuda_bf16.h>

#include "cuda_check.h"
#include "kc_fill.h"

static __device__ __forceinline__ uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static __global__ void fill_kernel(void *p, size_t n, int bf16, uint64_t seed, float lo, float hi)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float u = (float)(mix64(seed ^ (i * 0x2545f4914f6cdd1dull)) >> 40) * (1.0f / 16777216.0f);
        float x = lo + (hi - lo) * u;
        if (bf16)
            ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(x);
        else
            ((float *)p)[i] = x;
    }
}

static __global__ void tokens_kernel(int32_t *p, size_t n, int V, uint64_t seed)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        p[i] = (int32_t)(mix64(seed ^ (i * 0x2545f4914f6cdd1dull)) % (uint64_t)V);
}

extern "C" int kc_fill_uniform(void *p, size_t n, kn_dtype dt, uint64_t seed, float lo, float hi,
                               cudaStream_t s)
{
    if (n == 0)
        return 0;
    fill_kernel<<<2048, 256, 0, s>>>(p, n, dt == KN_BF16, seed, lo, hi);
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kc_fill_tokens(int32_t *p, size_t n, int V, uint64_t seed, cudaStream_t s)
{
    if (n == 0)
        return 0;
    tokens_kernel<<<2048, 256, 0, s>>>(p, n, V, seed);
    KN_LAUNCH_CHECK();
    return 0;
}
