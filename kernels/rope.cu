/* RoPE: one thread per channel pair (row, head, i < hs/2); both channels of
 * the pair are read before either is written, so in place is safe. The
 * table is float32 [T, hs/2, 2], built in double. */
#include "cuda_check.h"
#include "kn_device.cuh"
#include "rope.h"

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

/* sign 1: forward rotation; -1: its transpose. */
template <typename T>
static __global__ void rope_kernel(T *out, const T *inp, const float *cs, int BT, int T_,
                                   int nh, int half, int stride, float sign)
{
    size_t n = (size_t)BT * nh * half;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(k % half);
        size_t rh = k / half;
        int h = (int)(rh % nh);
        size_t row = rh / nh;
        int t = (int)(row % T_);
        const float *c = cs + ((size_t)t * half + i) * 2;
        float co = c[0], si = sign * c[1];
        size_t e = row * stride + (size_t)h * 2 * half + i;
        float x1 = kn_f(inp[e]), x2 = kn_f(inp[e + half]);
        out[e] = kn_st<T>(x1 * co - x2 * si);
        out[e + half] = kn_st<T>(x2 * co + x1 * si);
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
        rope_kernel<Tp><<<kn_grid_for(n, ROPE_THREADS), ROPE_THREADS, 0, s>>>(
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
