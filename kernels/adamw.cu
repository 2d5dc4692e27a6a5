/* Fused AdamW: one pass reads p, g, m, v and writes p, m, v (and the copy). */
#include <math.h>

#include "adamw.h"
#include "cuda_check.h"
#include "kn_device.cuh"

template <typename C>
static __global__ void adamw_kernel(float *p, const float *g, float *m, float *v, C *p_copy,
                                    size_t n, float lr, float beta1, float beta2, float eps,
                                    float wd, float bc1, float bc2, const float *grad_scale)
{
    float scale = grad_scale ? *grad_scale : 1.0f;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float gi = g[i] * scale;
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / bc1, vhat = vi / bc2;
        float pi = p[i];
        pi -= lr * (mhat / (sqrtf(vhat) + eps) + wd * pi);
        p[i] = pi;
        if (p_copy)
            p_copy[i] = kn_st<C>(pi);
    }
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
    /* Bias corrections exactly as the reference computes them (float powf). */
    float bc1 = 1.0f - powf(beta1, (float)t);
    float bc2 = 1.0f - powf(beta2, (float)t);
    const unsigned threads = 256;
    unsigned grid = kn_grid_for(n, threads, 132u * 16u);
    if (copy_dt == KN_BF16)
        adamw_kernel<kn_bf16><<<grid, threads, 0, s>>>(p, g, m, v, (kn_bf16 *)p_copy, n, lr,
                                                        beta1, beta2, eps, wd, bc1, bc2,
                                                        grad_scale);
    else
        adamw_kernel<float><<<grid, threads, 0, s>>>(p, g, m, v, (float *)p_copy, n, lr,
                                                      beta1, beta2, eps, wd, bc1, bc2,
                                                      grad_scale);
    KN_LAUNCH_CHECK();
    return 0;
}
