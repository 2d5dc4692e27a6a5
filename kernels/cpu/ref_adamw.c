/* Global-norm helpers and the AdamW update. */
#include <math.h>

#include "ref_ops.h"
#include "ref_par.h"

/* Fixed-size chunks summed in chunk order: the result does not depend on the
 * number of threads. */
enum { SUMSQ_CHUNK = 1 << 14 };

double ref_sum_squares(const float *g, size_t n)
{
    size_t nchunk = (n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
    double total = 0.0;
    /* Partials in a small stack array per group of chunks keeps this
     * allocation-free; groups are summed in order. */
    enum { GROUP = 256 };
    double part[GROUP];
    for (size_t g0 = 0; g0 < nchunk; g0 += GROUP) {
        size_t gn = nchunk - g0 < GROUP ? nchunk - g0 : GROUP;
#pragma omp parallel for schedule(static) REF_PAR(n)
        for (size_t k = 0; k < gn; k++) {
            size_t i0 = (g0 + k) * SUMSQ_CHUNK;
            size_t i1 = i0 + SUMSQ_CHUNK < n ? i0 + SUMSQ_CHUNK : n;
            double s = 0.0;
            for (size_t i = i0; i < i1; i++)
                s += (double)g[i] * g[i];
            part[k] = s;
        }
        for (size_t k = 0; k < gn; k++)
            total += part[k];
    }
    return total;
}

float ref_clip_factor(double norm, float max_norm)
{
    if (max_norm <= 0.0f)
        return 1.0f;
    double f = (double)max_norm / (norm + 1e-6);
    return f < 1.0 ? (float)f : 1.0f;
}

void ref_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr,
               float beta1, float beta2, float eps, float wd, int t, float grad_scale)
{
    float bc1 = 1.0f - powf(beta1, (float)t);
    float bc2 = 1.0f - powf(beta2, (float)t);
#pragma omp parallel for schedule(static) REF_PAR(n * 8)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / bc1, vhat = vi / bc2;
        p[i] -= lr * (mhat / (sqrtf(vhat) + eps) + wd * p[i]);
    }
}
