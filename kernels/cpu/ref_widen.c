/* Token id widening. */
#include "ref_ops.h"
#include "ref_par.h"

void ref_widen_u16(int32_t *out, const uint16_t *in, size_t n)
{
#pragma omp parallel for schedule(static) REF_PAR(n)
    for (size_t i = 0; i < n; i++)
        out[i] = in[i];
}
