/* LayerNorm over the channel dimension (eps 1e-5), two-pass statistics. */
#include <math.h>

#include "ref_ops.h"
#include "ref_par.h"

void ref_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C)
{
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * C * 4)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float m = 0.0f;
        for (int c = 0; c < C; c++)
            m += x[c];
        m /= C;
        float var = 0.0f;
        for (int c = 0; c < C; c++) {
            float d = x[c] - m;
            var += d * d;
        }
        var /= C;
        float s = 1.0f / sqrtf(var + 1e-5f);
        for (int c = 0; c < C; c++)
            o[c] = (x[c] - m) * s * w[c] + b[c];
        mean[n] = m;
        rstd[n] = s;
    }
}

void ref_layernorm_bwd(float *dinp, float *dw, float *db, const float *dout,
                       const float *inp, const float *w, const float *mean,
                       const float *rstd, int N, int C)
{
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * C * 4)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        const float *d = dout + (size_t)n * C;
        float *di = dinp + (size_t)n * C;
        float m = mean[n], s = rstd[n];
        /* dnorm = dout * w; dx = s * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)) */
        float sum_dn = 0.0f, sum_dn_xh = 0.0f;
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - m) * s;
            float dn = w[c] * d[c];
            sum_dn += dn;
            sum_dn_xh += dn * xh;
        }
        sum_dn /= C;
        sum_dn_xh /= C;
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - m) * s;
            float dn = w[c] * d[c];
            di[c] += (dn - sum_dn - xh * sum_dn_xh) * s;
        }
    }
    /* Parameter gradients: threads own channel blocks, rows go in order. */
    enum { CB = 64 };
    int nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * C * 4)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * CB, c1 = c0 + CB < C ? c0 + CB : C;
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            const float *d = dout + (size_t)n * C;
            float m = mean[n], s = rstd[n];
            for (int c = c0; c < c1; c++) {
                dw[c] += (x[c] - m) * s * d[c];
                db[c] += d[c];
            }
        }
    }
}

void ref_residual_layernorm_fwd(float *res, float *out, float *mean, float *rstd,
                                const float *a, const float *b, const float *w,
                                const float *bias, int N, int C)
{
    ref_residual_fwd(res, a, b, (size_t)N * C);
    ref_layernorm_fwd(out, mean, rstd, res, w, bias, N, C);
}
