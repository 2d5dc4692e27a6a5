/* SwiGLU (LLaMA MLP activation): silu(gate) * up on a [N, 2F] gate|up row. */
#include <math.h>

#include "ref_llama.h"
#include "ref_par.h"

/* 1 / (1 + e^-g): expf overflows to inf for g < -88 and the quotient goes
 * to 0 cleanly, so no branch is needed. */
static inline float sigmoid(float g)
{
    return 1.0f / (1.0f + expf(-g));
}

void ref_swiglu_fwd(float *out, const float *gu, int N, int F)
{
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * F * 16)
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * F, *u = g + F;
        float *o = out + (size_t)n * F;
        for (int f = 0; f < F; f++)
            o[f] = g[f] * sigmoid(g[f]) * u[f];
    }
}

/* d/dg silu(g) = sig(g) * (1 + g * (1 - sig(g))); d/du = silu(g). */
void ref_swiglu_bwd(float *dgu, const float *dout, const float *gu, int N, int F)
{
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * F * 16)
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * F, *u = g + F;
        const float *d = dout + (size_t)n * F;
        float *dg = dgu + (size_t)n * 2 * F, *du = dg + F;
        for (int f = 0; f < F; f++) {
            float s = sigmoid(g[f]);
            dg[f] += d[f] * u[f] * s * (1.0f + g[f] * (1.0f - s));
            du[f] += d[f] * g[f] * s;
        }
    }
}
