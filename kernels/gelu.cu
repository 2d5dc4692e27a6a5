/* GELU forward and backward (tanh approximation), element-wise. */
#include "cuda_check.h"
#include "gelu.h"
#include "kn_device.cuh"

static __device__ __forceinline__ float gelu_val(float x)
{
    float u = KN_GELU_K * (x + KN_GELU_C * x * x * x);
    return 0.5f * x * (1.0f + tanhf(u));
}

static __device__ __forceinline__ float gelu_grad(float x)
{
    float u = KN_GELU_K * (x + KN_GELU_C * x * x * x);
    float th = tanhf(u);
    float sech2 = 1.0f - th * th;
    return 0.5f * (1.0f + th) + 0.5f * x * sech2 * KN_GELU_K * (1.0f + 3.0f * KN_GELU_C * x * x);
}

/* VEC: packs of 16 bytes, then the scalar tail (kn_elementwise). */
template <typename T, bool VEC>
static __global__ void gelu_fwd_kernel(T *out, const T *inp, size_t n)
{
    kn_elementwise<T, VEC>(
        n,
        [&](size_t e) {
            kn_pack<T> x = kn_ld_pack(inp + e), y;
#pragma unroll
            for (int k = 0; k < kn_pack<T>::n; k++)
                y.v[k] = kn_st<T>(gelu_val(kn_f(x.v[k])));
            kn_st_pack(out + e, y);
        },
        [&](size_t i) { out[i] = kn_st<T>(gelu_val(kn_f(inp[i]))); });
}

template <typename T, bool VEC>
static __global__ void gelu_bwd_kernel(T *dinp, const T *inp, const T *dout, size_t n,
                                       int accumulate)
{
    kn_elementwise<T, VEC>(
        n,
        [&](size_t e) {
            kn_pack<T> x = kn_ld_pack(inp + e), d = kn_ld_pack(dout + e), r;
            kn_pack<T> acc = {};
            if (accumulate)
                acc = kn_ld_pack(dinp + e);
#pragma unroll
            for (int k = 0; k < kn_pack<T>::n; k++) {
                float g = gelu_grad(kn_f(x.v[k])) * kn_f(d.v[k]);
                r.v[k] = kn_st<T>(accumulate ? kn_f(acc.v[k]) + g : g);
            }
            kn_st_pack(dinp + e, r);
        },
        [&](size_t i) {
            float g = gelu_grad(kn_f(inp[i])) * kn_f(dout[i]);
            dinp[i] = kn_st<T>(accumulate ? kn_f(dinp[i]) + g : g);
        });
}

enum { GELU_THREADS = 256 };

extern "C" int kn_gelu_fwd(void *out, const void *inp, size_t n, kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(out && inp, "NULL buffer (out=%p inp=%p)", out, inp);
    if (n == 0)
        return 0;
    bool vec = kn_aligned16(out, inp);
    KN_DISPATCH(dt, T, {
        unsigned g = kn_grid_elems<T>(n, vec, GELU_THREADS);
        if (vec)
            gelu_fwd_kernel<T, true><<<g, GELU_THREADS, 0, s>>>((T *)out, (const T *)inp, n);
        else
            gelu_fwd_kernel<T, false><<<g, GELU_THREADS, 0, s>>>((T *)out, (const T *)inp, n);
    });
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_gelu_bwd(void *dinp, const void *inp, const void *dout, size_t n,
                           int accumulate, kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(dinp && inp && dout, "NULL buffer (dinp=%p inp=%p dout=%p)", dinp, inp, dout);
    if (n == 0)
        return 0;
    bool vec = kn_aligned16(dinp, inp, dout);
    KN_DISPATCH(dt, T, {
        unsigned g = kn_grid_elems<T>(n, vec, GELU_THREADS);
        if (vec)
            gelu_bwd_kernel<T, true><<<g, GELU_THREADS, 0, s>>>(
                (T *)dinp, (const T *)inp, (const T *)dout, n, accumulate);
        else
            gelu_bwd_kernel<T, false><<<g, GELU_THREADS, 0, s>>>(
                (T *)dinp, (const T *)inp, (const T *)dout, n, accumulate);
    });
    KN_LAUNCH_CHECK();
    return 0;
}
