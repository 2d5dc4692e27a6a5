/* RoPE: one thread per channel pair (row, head, i < hs/2); both channels of
 * the pair are read before either is written, so in place is safe. The
 * table is float32 [T, hs/2, 2], built in double. The expand variants fuse
 * the rotation with the copy the grouped-query attention needs anyway (kv
 * heads repeated to the query heads' [q | k | v] layout) and its backward
 * with the group sums: one pass each instead of rotate + copy. */
#include "cuda_check.h"
#include "kn_device.cuh"
#include "rope.h"
#include "rope_math.cuh"

enum { ROPE_THREADS = 256 };

static __global__ void rope_table_kernel(float *cs, int T, int half, double theta)
{
    size_t n = (size_t)T * half;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x) {
        int t = (int)(k / half), i = (int)(k % half);
        double inv_freq = pow(theta, -2.0 * i / (2.0 * half));
        double a = t * inv_freq;
        cs[2 * k] = (float)cos(a);
        cs[2 * k + 1] = (float)sin(a);
    }
}

/* sign 1: forward rotation; -1: its transpose. VEC: one thread per 16-byte
 * pack of P consecutive pairs (x1 and x2 each loaded and stored as a pack);
 * needs half % P == 0, stride % P == 0 and aligned buffers. */
template <typename T, bool VEC>
static __global__ void rope_kernel(T *out, const T *inp, const float *cs, int BT, int T_,
                                   int nh, int half, int stride, float sign)
{
    const int P = VEC ? kn_pack<T>::n : 1;
    const int hp = half / P; /* threads per head */
    size_t n = (size_t)BT * nh * hp;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(k % hp) * P;
        size_t rh = k / hp;
        int h = (int)(rh % nh);
        size_t row = rh / nh;
        int t = (int)(row % T_);
        const float *c = cs + ((size_t)t * half + i) * 2;
        size_t e = row * stride + (size_t)h * 2 * half + i;
        if (VEC) {
            kn_pack<T> a = kn_ld_pack(inp + e), b = kn_ld_pack(inp + e + half), oa, ob;
#pragma unroll
            for (int q = 0; q < kn_pack<T>::n; q++) {
                float co = c[2 * q], si = sign * c[2 * q + 1];
                float x1 = kn_f(a.v[q]), x2 = kn_f(b.v[q]);
                oa.v[q] = kn_st<T>(kn_rope_rot(x1, x2, co, -si));
                ob.v[q] = kn_st<T>(kn_rope_rot(x2, x1, co, si));
            }
            kn_st_pack(out + e, oa);
            kn_st_pack(out + e + half, ob);
        } else {
            float co = c[0], si = sign * c[1];
            float x1 = kn_f(inp[e]), x2 = kn_f(inp[e + half]);
            out[e] = kn_st<T>(kn_rope_rot(x1, x2, co, -si));
            out[e + half] = kn_st<T>(kn_rope_rot(x2, x1, co, si));
        }
    }
}

extern "C" int kn_rope_table(float *cs, int T, int hs, double theta, cudaStream_t s)
{
    KN_ARG_CHECK(cs, "NULL table (cs=%p)", (void *)cs);
    KN_ARG_CHECK(T > 0 && hs > 0 && hs % 2 == 0 && theta > 0.0,
                 "need T > 0, even hs > 0, theta > 0 (T=%d hs=%d theta=%g)", T, hs, theta);
    size_t n = (size_t)T * (hs / 2);
    rope_table_kernel<<<kn_grid_for(n, ROPE_THREADS), ROPE_THREADS, 0, s>>>(cs, T, hs / 2, theta);
    KN_LAUNCH_CHECK();
    return 0;
}

static int rope_launch(void *out, const void *inp, const float *cs, int B, int T, int nh,
                       int hs, int stride, kn_dtype dt, float sign, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(out && inp && cs, "NULL buffer (out=%p inp=%p cs=%p)", out, inp,
                 (const void *)cs);
    KN_ARG_CHECK(B >= 0 && T >= 0 && nh > 0 && hs > 0 && hs % 2 == 0 &&
                     (long long)nh * hs <= stride,
                 "need B, T >= 0, nh > 0, even hs > 0, nh*hs <= stride (B=%d T=%d nh=%d hs=%d "
                 "stride=%d)", B, T, nh, hs, stride);
    size_t n = (size_t)B * T * nh * (hs / 2);
    if (n == 0)
        return 0;
    KN_DISPATCH(dt, Tp, {
        const int P = kn_pack<Tp>::n;
        if ((hs / 2) % P == 0 && stride % P == 0 && kn_aligned16(out, inp))
            rope_kernel<Tp, true><<<kn_grid_for(n / P, ROPE_THREADS), ROPE_THREADS, 0, s>>>(
                (Tp *)out, (const Tp *)inp, cs, B * T, T, nh, hs / 2, stride, sign);
        else
            rope_kernel<Tp, false><<<kn_grid_for(n, ROPE_THREADS), ROPE_THREADS, 0, s>>>(
                (Tp *)out, (const Tp *)inp, cs, B * T, T, nh, hs / 2, stride, sign);
    });
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_rope_fwd(void *out, const void *inp, const float *cs, int B, int T, int nh,
                           int hs, int stride, kn_dtype dt, cudaStream_t s)
{
    return rope_launch(out, inp, cs, B, T, nh, hs, stride, dt, 1.0f, s);
}

extern "C" int kn_rope_bwd(void *dinp, const void *dout, const float *cs, int B, int T, int nh,
                           int hs, int stride, kn_dtype dt, cudaStream_t s)
{
    return rope_launch(dinp, dout, cs, B, T, nh, hs, stride, dt, -1.0f, s);
}

/* One thread per (row, slot j < NH + NKV, pair i < hs/2): slot j < NH is
 * query head j; slot NH + g is kv head g, whose rotated k pair and v pair
 * go to the rep query heads of its group. */
template <typename T>
static __global__ void rope_expand_fwd_kernel(T *out, const T *qkv, const float *cs, int BT,
                                              int T_, int NH, int NKV, int half)
{
    const int hs = 2 * half, W = (NH + 2 * NKV) * hs, C = NH * hs, rep = NH / NKV;
    const int slots = NH + NKV;
    size_t n = (size_t)BT * slots * half;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(k % half);
        size_t rj = k / half;
        int j = (int)(rj % slots);
        size_t row = rj / slots;
        const float *c = cs + ((size_t)(row % T_) * half + i) * 2;
        const float co = c[0], si = c[1];
        const T *x = qkv + row * W;
        T *o = out + row * 3 * C;
        float x1 = kn_f(x[(size_t)j * hs + i]), x2 = kn_f(x[(size_t)j * hs + i + half]);
        T r1 = kn_st<T>(kn_rope_rot(x1, x2, co, -si)), r2 = kn_st<T>(kn_rope_rot(x2, x1, co, si));
        if (j < NH) {
            o[(size_t)j * hs + i] = r1;
            o[(size_t)j * hs + i + half] = r2;
            continue;
        }
        const int g = j - NH;
        const T v1 = x[(size_t)(NH + NKV + g) * hs + i];
        const T v2 = x[(size_t)(NH + NKV + g) * hs + i + half];
        for (int r = 0; r < rep; r++) {
            size_t h = (size_t)(g * rep + r) * hs;
            o[C + h + i] = r1;
            o[C + h + i + half] = r2;
            o[2 * C + h + i] = v1;
            o[2 * C + h + i + half] = v2;
        }
    }
}

template <typename T>
static __global__ void rope_expand_bwd_kernel(T *dqkv, const T *d3, const float *cs, int BT,
                                              int T_, int NH, int NKV, int half)
{
    const int hs = 2 * half, W = (NH + 2 * NKV) * hs, C = NH * hs, rep = NH / NKV;
    const int slots = NH + NKV;
    size_t n = (size_t)BT * slots * half;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(k % half);
        size_t rj = k / half;
        int j = (int)(rj % slots);
        size_t row = rj / slots;
        const float *c = cs + ((size_t)(row % T_) * half + i) * 2;
        const float co = c[0], si = -c[1]; /* the transpose: the opposite angle */
        const T *d = d3 + row * 3 * C;
        T *o = dqkv + row * W;
        float x1, x2;
        if (j < NH) {
            x1 = kn_f(d[(size_t)j * hs + i]);
            x2 = kn_f(d[(size_t)j * hs + i + half]);
        } else {
            const int g = j - NH;
            float v1 = 0.0f, v2 = 0.0f;
            x1 = x2 = 0.0f;
            for (int r = 0; r < rep; r++) { /* head order: deterministic */
                size_t h = (size_t)(g * rep + r) * hs;
                x1 += kn_f(d[C + h + i]);
                x2 += kn_f(d[C + h + i + half]);
                v1 += kn_f(d[2 * C + h + i]);
                v2 += kn_f(d[2 * C + h + i + half]);
            }
            o[(size_t)(NH + NKV + g) * hs + i] = kn_st<T>(v1);
            o[(size_t)(NH + NKV + g) * hs + i + half] = kn_st<T>(v2);
        }
        o[(size_t)j * hs + i] = kn_st<T>(kn_rope_rot(x1, x2, co, -si));
        o[(size_t)j * hs + i + half] = kn_st<T>(kn_rope_rot(x2, x1, co, si));
    }
}

static int rope_expand_launch(void *out, const void *in, const float *cs, int B, int T, int NH,
                              int NKV, int hs, kn_dtype dt, bool fwd, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(out && in && cs && out != in, "NULL or aliased buffer (out=%p in=%p cs=%p)", out,
                 in, (const void *)cs);
    KN_ARG_CHECK(B >= 0 && T >= 0 && NKV > 0 && NH > 0 && NH % NKV == 0 && hs > 0 && hs % 2 == 0,
                 "need B, T >= 0, NH a multiple of NKV > 0, even hs > 0 (B=%d T=%d NH=%d NKV=%d "
                 "hs=%d)", B, T, NH, NKV, hs);
    size_t n = (size_t)B * T * (NH + NKV) * (hs / 2);
    if (n == 0)
        return 0;
    KN_DISPATCH(dt, Tp, {
        if (fwd)
            rope_expand_fwd_kernel<Tp><<<kn_grid_for(n, ROPE_THREADS), ROPE_THREADS, 0, s>>>(
                (Tp *)out, (const Tp *)in, cs, B * T, T, NH, NKV, hs / 2);
        else
            rope_expand_bwd_kernel<Tp><<<kn_grid_for(n, ROPE_THREADS), ROPE_THREADS, 0, s>>>(
                (Tp *)out, (const Tp *)in, cs, B * T, T, NH, NKV, hs / 2);
    });
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_rope_expand_fwd(void *out, const void *qkv, const float *cs, int B, int T,
                                  int NH, int NKV, int hs, kn_dtype dt, cudaStream_t s)
{
    return rope_expand_launch(out, qkv, cs, B, T, NH, NKV, hs, dt, true, s);
}

extern "C" int kn_rope_expand_bwd(void *dqkv, const void *d3, const float *cs, int B, int T,
                                  int NH, int NKV, int hs, kn_dtype dt, cudaStream_t s)
{
    return rope_expand_launch(dqkv, d3, cs, B, T, NH, NKV, hs, dt, false, s);
}
