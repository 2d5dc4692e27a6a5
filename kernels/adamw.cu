/* Fused AdamW: one pass reads p, g, m, v and writes p, m, v (and the copy). */
#include <math.h>

#include "adamw.h"
#include "cuda_check.h"
#include "kn_device.cuh"

/* The update of one element, shared by both kernels (same rounding). */
static __device__ __forceinline__ float adamw_one(float &pi, float gi, float &mi, float &vi,
                                                  float lr, float beta1, float beta2, float eps,
                                                  float wd, float bc1, float bc2)
{
    mi = beta1 * mi + (1.0f - beta1) * gi;
    vi = beta2 * vi + (1.0f - beta2) * gi * gi;
    float mhat = mi / bc1, vhat = vi / bc2;
    pi -= lr * (mhat / (sqrtf(vhat) + eps) + wd * pi);
    return pi;
}

template <typename C>
static __global__ void adamw_kernel(float *p, const float *g, float *m, float *v, C *p_copy,
                                    size_t n, float lr, float beta1, float beta2, float eps,
                                    float wd, float bc1, float bc2, const float *grad_scale)
{
    float scale = grad_scale ? *grad_scale : 1.0f;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float pi = p[i], mi = m[i], vi = v[i];
        adamw_one(pi, g[i] * scale, mi, vi, lr, beta1, beta2, eps, wd, bc1, bc2);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi;
        if (p_copy)
            p_copy[i] = kn_st<C>(pi);
    }
}

extern "C" void kn_adamw_hp_set(kn_adamw_hp *hp, float lr, float beta1, float beta2, float eps,
                                float wd, int t)
{
    /* Bias corrections exactly as the reference computes them (float powf). */
    *hp = (kn_adamw_hp){lr, beta1, beta2, eps, wd, 1.0f - powf(beta1, (float)t),
                        1.0f - powf(beta2, (float)t), 0.0f};
}

extern "C" int kn_adamw(float *p, const float *g, float *m, float *v, void *p_copy,
                        kn_dtype copy_dt, size_t n, float lr, float beta1, float beta2,
                        float eps, float wd, int t, const float *grad_scale, cudaStream_t s)
{
    KN_ARG_CHECK(p && g && m && v, "NULL buffer (p=%p g=%p m=%p v=%p)", (void *)p,
                 (const void *)g, (void *)m, (void *)v);
    KN_ARG_CHECK(copy_dt == KN_F32 || copy_dt == KN_BF16, "unknown dtype %d", (int)copy_dt);
    KN_ARG_CHECK(t >= 1, "step t=%d must be >= 1", t);
    if (n == 0)
        return 0;
    kn_adamw_hp hp;
    kn_adamw_hp_set(&hp, lr, beta1, beta2, eps, wd, t);
    const unsigned threads = 256;
    unsigned grid = kn_grid_for(n, threads, 132u * 16u);
    if (copy_dt == KN_BF16)
        adamw_kernel<kn_bf16><<<grid, threads, 0, s>>>(p, g, m, v, (kn_bf16 *)p_copy, n, lr,
                                                        beta1, beta2, eps, wd, hp.bc1, hp.bc2,
                                                        grad_scale);
    else
        adamw_kernel<float><<<grid, threads, 0, s>>>(p, g, m, v, (float *)p_copy, n, lr,
                                                      beta1, beta2, eps, wd, hp.bc1, hp.bc2,
                                                      grad_scale);
    KN_LAUNCH_CHECK();
    return 0;
}

/* Four consecutive elements per thread (float4 for p, g, m, v; 8 or 16 bytes
 * for the copy); the tensor of each element, and so its decay, from the
 * boundary table (a chunk may straddle a boundary). The last n % 4 elements
 * go one per thread. */
template <typename C>
static __global__ void adamw_flat_kernel(float *p, const float *g, float *m, float *v, C *p_copy,
                                         kn_adamw_tensors ts, const kn_adamw_hp *hp_dev,
                                         const float *grad_scale)
{
    const kn_adamw_hp hp = *hp_dev;
    const float scale = grad_scale ? *grad_scale : 1.0f;
    const size_t n = ts.end[ts.n - 1], n4 = n / 4;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x; c < n4 + (n & 3);
         c += stride) {
        size_t i0 = c < n4 ? 4 * c : 4 * n4 + (c - n4);
        int cnt = c < n4 ? 4 : 1, seg = 0;
        while (ts.end[seg] <= i0)
            seg++;
        float pv[4], gv[4], mv[4], vv[4];
        if (cnt == 4) {
            *(float4 *)pv = *(const float4 *)(p + i0);
            *(float4 *)gv = *(const float4 *)(g + i0);
            *(float4 *)mv = *(const float4 *)(m + i0);
            *(float4 *)vv = *(const float4 *)(v + i0);
        } else {
            pv[0] = p[i0], gv[0] = g[i0], mv[0] = m[i0], vv[0] = v[i0];
        }
        C cv[4];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            if (j < cnt) {
                while (i0 + j >= ts.end[seg])   /* empty tensors: several */
                    seg++;
                float wd = (ts.decay_mask >> seg) & 1u ? hp.wd : 0.0f;
                adamw_one(pv[j], gv[j] * scale, mv[j], vv[j], hp.lr, hp.beta1, hp.beta2, hp.eps,
                          wd, hp.bc1, hp.bc2);
                cv[j] = kn_st<C>(pv[j]);
            }
        }
        if (cnt == 4) {
            *(float4 *)(p + i0) = *(float4 *)pv;
            *(float4 *)(m + i0) = *(float4 *)mv;
            *(float4 *)(v + i0) = *(float4 *)vv;
            if (p_copy) {
                if (sizeof(C) == 2)
                    *(uint2 *)(p_copy + i0) = *(uint2 *)cv;
                else
                    *(float4 *)(p_copy + i0) = *(float4 *)cv;
            }
        } else {
            p[i0] = pv[0], m[i0] = mv[0], v[i0] = vv[0];
            if (p_copy)
                p_copy[i0] = cv[0];
        }
    }
}

extern "C" int kn_adamw_flat(float *p, const float *g, float *m, float *v, void *p_copy,
                             kn_dtype copy_dt, const kn_adamw_tensors *ts,
                             const kn_adamw_hp *hp, const float *grad_scale, cudaStream_t s)
{
    KN_ARG_CHECK(p && g && m && v && ts && hp, "NULL buffer (p=%p g=%p m=%p v=%p ts=%p hp=%p)",
                 (void *)p, (const void *)g, (void *)m, (void *)v, (const void *)ts,
                 (const void *)hp);
    KN_ARG_CHECK(copy_dt == KN_F32 || copy_dt == KN_BF16, "unknown dtype %d", (int)copy_dt);
    KN_ARG_CHECK(ts->n >= 1 && ts->n <= KN_ADAMW_MAX_TENSORS, "%d tensors (1..%d)", ts->n,
                 (int)KN_ADAMW_MAX_TENSORS);
    for (int i = 1; i < ts->n; i++)
        KN_ARG_CHECK(ts->end[i] >= ts->end[i - 1], "tensor %d ends before tensor %d", i, i - 1);
    KN_ARG_CHECK(kn_aligned16(p, g, m, v) && kn_aligned16(p_copy),
                 "buffers must be 16-byte aligned (p=%p copy=%p)", (void *)p, p_copy);
    const size_t n = ts->end[ts->n - 1];
    if (n == 0)
        return 0;
    const unsigned threads = 256;
    unsigned grid = kn_grid_for(n / 4 + (n & 3), threads, 132u * 16u);
    if (copy_dt == KN_BF16)
        adamw_flat_kernel<kn_bf16><<<grid, threads, 0, s>>>(p, g, m, v, (kn_bf16 *)p_copy, *ts,
                                                             hp, grad_scale);
    else
        adamw_flat_kernel<float><<<grid, threads, 0, s>>>(p, g, m, v, (float *)p_copy, *ts, hp,
                                                           grad_scale);
    KN_LAUNCH_CHECK();
    return 0;
}
