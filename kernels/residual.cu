/* Residual add, element-wise (vectorised when aligned). */
#include "cuda_check.h"
#include "kn_device.cuh"
#include "residual.h"

template <typename T, bool VEC>
static __global__ void residual_kernel(T *out, const T *a, const T *b, size_t n)
{
    size_t tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t done = 0;
    if (VEC) {
        const int P = kn_pack<T>::n;
        size_t np = n / P;
        for (size_t i = tid; i < np; i += stride) {
            kn_pack<T> x = kn_ld_pack(a + i * P), y = kn_ld_pack(b + i * P), r;
#pragma unroll
            for (int k = 0; k < P; k++)
                r.v[k] = kn_st<T>(kn_f(x.v[k]) + kn_f(y.v[k]));
            kn_st_pack(out + i * P, r);
        }
        done = np * P;
    }
    for (size_t i = done + tid; i < n; i += stride)
        out[i] = kn_st<T>(kn_f(a[i]) + kn_f(b[i]));
}

extern "C" int kn_residual_fwd(void *out, const void *a, const void *b, size_t n, kn_dtype dt,
                               cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(out && a && b, "NULL buffer (out=%p a=%p b=%p)", out, a, b);
    if (n == 0)
        return 0;
    const unsigned threads = 256;
    bool vec = kn_aligned16(out, a, b);
    KN_DISPATCH(dt, T, {
        const int P = kn_pack<T>::n;
        unsigned g = kn_grid_for(vec ? (n + P - 1) / P : n, threads);
        if (vec)
            residual_kernel<T, true><<<g, threads, 0, s>>>((T *)out, (const T *)a,
                                                            (const T *)b, n);
        else
            residual_kernel<T, false><<<g, threads, 0, s>>>((T *)out, (const T *)a,
                                                             (const T *)b, n);
    });
    KN_LAUNCH_CHECK();
    return 0;
}
