/* Residual add, element-wise (vectorised when aligned). */
#include "cuda_check.h"
#include "kn_device.cuh"
#include "residual.h"

template <typename T, bool VEC>
static __global__ void residual_kernel(T *out, const T *a, const T *b, size_t n)
{
    kn_elementwise<T, VEC>(
        n,
        [&](size_t e) {
            kn_pack<T> x = kn_ld_pack(a + e), y = kn_ld_pack(b + e), r;
#pragma unroll
            for (int k = 0; k < kn_pack<T>::n; k++)
                r.v[k] = kn_st<T>(kn_f(x.v[k]) + kn_f(y.v[k]));
            kn_st_pack(out + e, r);
        },
        [&](size_t i) { out[i] = kn_st<T>(kn_f(a[i]) + kn_f(b[i])); });
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
        unsigned g = kn_grid_elems<T>(n, vec, threads);
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
