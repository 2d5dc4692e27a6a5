/* SwiGLU forward and backward on the gate|up product: one thread per
 * 16-byte pack of (row, f..f+P) where F allows, else per (row, f). */
#include "cuda_check.h"
#include "kn_device.cuh"
#include "swiglu.h"
#include "swiglu_math.cuh"

enum { SWIGLU_THREADS = 256 };

/* out[e] from the gate and up halves of e's row; VEC: 16-byte packs of
 * consecutive f (F a whole number of packs and aligned buffers keep a pack
 * inside one row's gate or up half), so gu is read once in 16-byte loads and
 * out written once. */
template <typename T, bool VEC>
static __global__ void swiglu_fwd_kernel(T *out, const T *gu, int N, int F)
{
    const size_t uF = (size_t)F;
    kn_elementwise<T, VEC>(
        (size_t)N * uF,
        [&](size_t e) {
            const T *g = gu + (e / uF) * 2 * uF + e % uF;
            kn_pack<T> gp = kn_ld_pack(g), up = kn_ld_pack(g + uF), o;
#pragma unroll
            for (int k = 0; k < kn_pack<T>::n; k++) {
                float gv = kn_f(gp.v[k]);
                o.v[k] = kn_st<T>(kn_swiglu<T>(gv, kn_f(up.v[k])));
            }
            kn_st_pack(out + e, o);
        },
        [&](size_t e) {
            const T *g = gu + (e / uF) * 2 * uF + e % uF;
            float gv = kn_f(g[0]);
            out[e] = kn_st<T>(kn_swiglu<T>(gv, kn_f(g[uF])));
        });
}

template <typename T, bool VEC>
static __global__ void swiglu_bwd_kernel(T *dgu, const T *dout, const T *gu, int N, int F,
                                         int accumulate)
{
    const size_t uF = (size_t)F;
    kn_elementwise<T, VEC>(
        (size_t)N * uF,
        [&](size_t e) {
            size_t eg = (e / uF) * 2 * uF + e % uF;
            kn_pack<T> gp = kn_ld_pack(gu + eg), up = kn_ld_pack(gu + eg + uF);
            kn_pack<T> dp = kn_ld_pack(dout + e), og, ou;
            if (accumulate) {
                og = kn_ld_pack(dgu + eg);
                ou = kn_ld_pack(dgu + eg + uF);
            }
#pragma unroll
            for (int k = 0; k < kn_pack<T>::n; k++) {
                float dg, du;
                kn_swiglu_grad<T>(kn_f(dp.v[k]), kn_f(gp.v[k]), kn_f(up.v[k]), &dg, &du);
                og.v[k] = kn_st<T>(accumulate ? kn_f(og.v[k]) + dg : dg);
                ou.v[k] = kn_st<T>(accumulate ? kn_f(ou.v[k]) + du : du);
            }
            kn_st_pack(dgu + eg, og);
            kn_st_pack(dgu + eg + uF, ou);
        },
        [&](size_t e) {
            size_t eg = (e / uF) * 2 * uF + e % uF, eu = eg + uF;
            float dg, du;
            kn_swiglu_grad<T>(kn_f(dout[e]), kn_f(gu[eg]), kn_f(gu[eu]), &dg, &du);
            dgu[eg] = kn_st<T>(accumulate ? kn_f(dgu[eg]) + dg : dg);
            dgu[eu] = kn_st<T>(accumulate ? kn_f(dgu[eu]) + du : du);
        });
}

/* Whole packs per row and 16-byte aligned buffers. */
template <typename T>
static bool swiglu_vec_ok(int F, const void *a, const void *b, const void *c = 0)
{
    return F % kn_pack<T>::n == 0 && kn_aligned16(a, b, c);
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
        bool vec = swiglu_vec_ok<T>(F, out, gu);
        unsigned grid = kn_grid_elems<T>(n, vec, SWIGLU_THREADS);
        if (vec)
            swiglu_fwd_kernel<T, true><<<grid, SWIGLU_THREADS, 0, s>>>((T *)out, (const T *)gu,
                                                                       N, F);
        else
            swiglu_fwd_kernel<T, false><<<grid, SWIGLU_THREADS, 0, s>>>((T *)out, (const T *)gu,
                                                                        N, F);
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
        bool vec = swiglu_vec_ok<T>(F, dgu, dout, gu);
        unsigned grid = kn_grid_elems<T>(n, vec, SWIGLU_THREADS);
        if (vec)
            swiglu_bwd_kernel<T, true><<<grid, SWIGLU_THREADS, 0, s>>>(
                (T *)dgu, (const T *)dout, (const T *)gu, N, F, accumulate);
        else
            swiglu_bwd_kernel<T, false><<<grid, SWIGLU_THREADS, 0, s>>>(
                (T *)dgu, (const T *)dout, (const T *)gu, N, F, accumulate);
    });
    KN_LAUNCH_CHECK();
    return 0;
}
