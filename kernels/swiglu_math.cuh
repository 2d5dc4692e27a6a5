/* SwiGLU's float32 math, shared by swiglu.cu (the separate passes) and
 * gemm_sm90.cu (the same math in the products' epilogues), so that the
 * fused and unfused paths give the same bits. */
#ifndef INGOT_SWIGLU_MATH_CUH
#define INGOT_SWIGLU_MATH_CUH

/* 1 / (1 + e^-g): expf overflows to inf for g < -88 and the quotient goes
 * to 0 cleanly. expf, not __expf: agrees with the reference to ~1 ulp. */
static __device__ __forceinline__ float kn_sigmoid(float g)
{
    return 1.0f / (1.0f + expf(-g));
}

/* silu(g) u */
static __device__ __forceinline__ float kn_swiglu(float gv, float uv)
{
    return gv * kn_sigmoid(gv) * uv;
}

/* d/dg silu(g) u = u sig(g) (1 + g (1 - sig(g))), d/du = silu(g); d: the
 * gradient of silu(g) u. */
static __device__ __forceinline__ void kn_swiglu_grad(float d, float gv, float uv, float *dg,
                                                      float *du)
{
    const float sg = kn_sigmoid(gv);
    *dg = d * uv * sg * (1.0f + gv * (1.0f - sg));
    *du = d * gv * sg;
}
#endif
