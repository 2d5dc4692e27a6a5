/* SwiGLU's float32 math, shared by swiglu.cu (the separate passes) and
 * gemm_sm90.cu (the same math in the products' epilogues), so that the
 * fused and unfused paths give the same bits. T: the storage type. */
#ifndef INGOT_SWIGLU_MATH_CUH
#define INGOT_SWIGLU_MATH_CUH

#include "kn_device.cuh"

/* 1 / (1 + e^-g). float32 storage: expf and the IEEE division, ~1 ulp from
 * the reference (the CPU parity tests compare float32 runs closely). bf16
 * storage: __expf and __fdividef, a few float32 ulp, far below the bf16
 * rounding of the results; the division's IEEE form is a call with a
 * branch that kept the dSwiGLU epilogue warps at a third of their issue
 * rate (332 TFLOP/s for the product where it ran at 503 unfused, H200).
 * Both forms go to 0 cleanly for g < -88 (e^-g = inf) and to 1 for large g. */
template <typename T> static __device__ __forceinline__ float kn_sigmoid(float g)
{
    return 1.0f / (1.0f + expf(-g));
}
template <> __device__ __forceinline__ float kn_sigmoid<kn_bf16>(float g)
{
    return __fdividef(1.0f, 1.0f + __expf(-g));
}

/* silu(g) u */
template <typename T> static __device__ __forceinline__ float kn_swiglu(float gv, float uv)
{
    return gv * kn_sigmoid<T>(gv) * uv;
}

/* d/dg silu(g) u = u sig(g) (1 + g (1 - sig(g))), d/du = silu(g); d: the
 * gradient of silu(g) u. */
template <typename T>
static __device__ __forceinline__ void kn_swiglu_grad(float d, float gv, float uv, float *dg,
                                                      float *du)
{
    const float sg = kn_sigmoid<T>(gv);
    *dg = d * uv * sg * (1.0f + gv * (1.0f - sg));
    *du = d * gv * sg;
}
#endif
