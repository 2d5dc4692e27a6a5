/* RMSNorm over the channel dimension (LLaMA): no mean, no bias. */
#include <math.h>

#include "ref_llama.h"
#include "ref_par.h"
#include "ref_vec.h"

static inline void rms_row(float *o, float *rstd, const float *x, const float *w, float eps,
                           int C)
{
    float s = 1.0f / sqrtf(dot_lanes(x, x, C) / C + eps);
    for (int c = 0; c < C; c++)
        o[c] = x[c] * s * w[c];
    *rstd = s;
}

void ref_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, float eps,
                     int N, int C)
{
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * C * 2)
    for (int n = 0; n < N; n++)
        rms_row(out + (size_t)n * C, rstd + n, inp + (size_t)n * C, w, eps, C);
}

void ref_residual_rmsnorm_fwd(float *res_out, float *out, float *rstd, const float *res,
                              const float *x, const float *w, float eps, int N, int C)
{
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * C * 3)
    for (int n = 0; n < N; n++) {
        size_t o = (size_t)n * C;
        for (int c = 0; c < C; c++)
            res_out[o + c] = res[o + c] + x[o + c];
        rms_row(out + o, rstd + n, res_out + o, w, eps, C);
    }
}

/* y = w * x * s, s = (mean(x^2) + eps)^-1/2, ds/dx_c = -s^3 x_c / C, so with
 * dn = w * dout and xhat = x * s:  dx = s * (dn - xhat * mean(dn * xhat)). */
void ref_rmsnorm_bwd(float *dinp, float *dw, const float *dout, const float *inp,
                     const float *w, const float *rstd, int N, int C)
{
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * C * 4)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        const float *d = dout + (size_t)n * C;
        float *di = dinp + (size_t)n * C;
        float s = rstd[n];
        float sum = 0.0f;
        for (int c = 0; c < C; c++)
            sum += w[c] * d[c] * x[c];
        float k = sum * s * s / C;   /* xhat * mean(dn * xhat) = x * k */
        for (int c = 0; c < C; c++)
            di[c] += (w[c] * d[c] - x[c] * k) * s;
    }
    /* dw: threads own channel blocks, rows go in order (deterministic). */
    enum { CB = 64 };
    int nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * C * 2)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * CB, c1 = c0 + CB < C ? c0 + CB : C;
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            const float *d = dout + (size_t)n * C;
            float s = rstd[n];
            for (int c = c0; c < c1; c++)
                dw[c] += x[c] * s * d[c];
        }
    }
}
