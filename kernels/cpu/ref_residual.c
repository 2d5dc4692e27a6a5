/* Residual add. */
#include "ref_ops.h"
#include "ref_par.h"

void ref_residual_fwd(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static) REF_PAR(n)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}
