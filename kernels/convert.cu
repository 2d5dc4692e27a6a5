/* Token id widening and float32/bfloat16 casts. These run once per chunk or
 * at start-up, so plain coalesced grid-stride loops are enough. */
#include "convert.h"
#include "cuda_check.h"
#include "kn_device.cuh"

static __global__ void widen_u16_kernel(int32_t *out, const uint16_t *in, size_t n)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        out[i] = (int32_t)in[i];
}

template <typename To, typename Ti>
static __global__ void cast_kernel(To *out, const Ti *in, size_t n)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        out[i] = kn_st<To>(kn_f(in[i]));
}

enum { CONV_THREADS = 256 };

extern "C" int kn_widen_u16(int32_t *out, const uint16_t *in, size_t n, cudaStream_t s)
{
    KN_ARG_CHECK(out && in, "NULL buffer (out=%p in=%p)", (void *)out, (const void *)in);
    if (n == 0)
        return 0;
    widen_u16_kernel<<<kn_grid_for(n, CONV_THREADS), CONV_THREADS, 0, s>>>(out, in, n);
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_convert(void *out, kn_dtype out_dt, const void *in, kn_dtype in_dt,
                          size_t n, cudaStream_t s)
{
    KN_ARG_CHECK((out_dt == KN_F32 || out_dt == KN_BF16) && (in_dt == KN_F32 || in_dt == KN_BF16),
                 "unknown dtype %d or %d", (int)out_dt, (int)in_dt);
    KN_ARG_CHECK(out && in, "NULL buffer (out=%p in=%p)", out, in);
    if (n == 0)
        return 0;
    if (out_dt == in_dt) {
        CUDA_CHECK(cudaMemcpyAsync(out, in, n * kn_dtype_size(in_dt), cudaMemcpyDeviceToDevice, s));
        return 0;
    }
    unsigned g = kn_grid_for(n, CONV_THREADS);
    if (out_dt == KN_BF16)
        cast_kernel<kn_bf16, float><<<g, CONV_THREADS, 0, s>>>((kn_bf16 *)out, (const float *)in, n);
    else
        cast_kernel<float, kn_bf16><<<g, CONV_THREADS, 0, s>>>((float *)out, (const kn_bf16 *)in, n);
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_cast_f32_to_bf16(void *out, const float *in, size_t n, cudaStream_t s)
{
    return kn_convert(out, KN_BF16, in, KN_F32, n, s);
}

extern "C" int kn_cast_bf16_to_f32(float *out, const void *in, size_t n, cudaStream_t s)
{
    return kn_convert(out, KN_F32, in, KN_BF16, n, s);
}
