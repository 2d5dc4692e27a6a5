/* SwiGLU forward and backward, one thread per (row, f). */
#include "cuda_check.h"
#include "kn_device.cuh"
#include "swiglu.h"

enum { SWIGLU_THREADS = 256 };

/* 1 / (1 + e^-g): __expf overflows to inf for g < -88 and the quotient goes
 * to 0 cleanly. expf, not __expf: agrees with the reference to ~1 ulp. */
static __device__ __forceinline__ float sigmoid_f(float g)
{
    return 1.0f / (1.0f + expf(-g));
}

template <typename T>
static __global__ void swiglu_fwd_kernel(T *out, const T *gu, int N, int F)
{
    size_t n = (size_t)N * F;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x) {
        size_t row = k / F, f = k % F;
        const T *g = gu + row * 2 * F;
        float gv = kn_f(g[f]);
        out[k] = kn_st<T>(gv * sigmoid_f(gv) * kn_f(g[F + f]));
    }
}

template <typename T>
static __global__ void swiglu_bwd_kernel(T *dgu, const T *dout, const T *gu, int N, int F,
                                         int accumulate)
{
    size_t n = (size_t)N * F;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x) {
        size_t row = k / F, f = k % F;
        size_t eg = row * 2 * F + f, eu = eg + F;
        float gv = kn_f(gu[eg]), uv = kn_f(gu[eu]), d = kn_f(dout[k]);
        float sg = sigmoid_f(gv);
        float dg = d * uv * sg * (1.0f + gv * (1.0f - sg));
        float du = d * gv * sg;
        dgu[eg] = kn_st<T>(accumulate ? kn_f(dgu[eg]) + dg : dg);
        dgu[eu] = kn_st<T>(accumulate ? kn_f(dgu[eu]) + du : du);
    }
}

extern "C" int kn_swiglu_fwd(void *out, const void *gu, int N, int F, kn_dtype dt,
                             cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(out && gu && out != gu, "NULL or aliased buffer (out=%p gu=%p)", out, gu);
    KN_ARG_CHECK(N >= 0 && F > 0, "need N >= 0, F > 0 (N=%d F=%d)", N, F);
    size_t n = (size_t)N * F;
    if (n == 0)
        return 0;
    KN_DISPATCH(dt, T, {
        swiglu_fwd_kernel<T><<<kn_grid_for(n, SWIGLU_THREADS), SWIGLU_THREADS, 0, s>>>(
            (T *)out, (const T *)gu, N, F);
    });
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_swiglu_bwd(void *dgu, const void *dout, const void *gu, int N, int F,
                             int accumulate, kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(dgu && dout && gu && dgu != dout && dgu != gu,
                 "NULL or aliased buffer (dgu=%p dout=%p gu=%p)", dgu, dout, gu);
    KN_ARG_CHECK(N >= 0 && F > 0, "need N >= 0, F > 0 (N=%d F=%d)", N, F);
    size_t n = (size_t)N * F;
    if (n == 0)
        return 0;
    KN_DISPATCH(dt, T, {
        swiglu_bwd_kernel<T><<<kn_grid_for(n, SWIGLU_THREADS), SWIGLU_THREADS, 0, s>>>(
            (T *)dgu, (const T *)dout, (const T *)gu, N, F, accumulate);
    });
    KN_LAUNCH_CHECK();
    return 0;
}
