/* GELU, tanh approximation (GPT-2). */
#include <math.h>

#include "ref_ops.h"
#include "ref_par.h"

#define GELU_K 0.7978845608028654f   /* sqrt(2 / pi) */

/* tanh from one expf: cheaper than tanhf and within a few ulp of 1 - 2/(1+e^2u)
 * in the range that matters; saturates cleanly for large |u|. */
static inline float tanh_fast(float u)
{
    if (u > 15.0f)
        return 1.0f;
    if (u < -15.0f)
        return -1.0f;
    return 1.0f - 2.0f / (1.0f + expf(2.0f * u));
}

void ref_gelu_fwd(float *out, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static) REF_PAR(n * 16)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanh_fast(u));
    }
}

void ref_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n)
{
#pragma omp parallel for schedule(static) REF_PAR(n * 16)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        float th = tanh_fast(u);
        float sech2 = 1.0f - th * th;
        float g = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += g * dout[i];
    }
}
