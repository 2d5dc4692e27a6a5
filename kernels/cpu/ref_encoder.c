/* Token + position embedding. */
#include "ref_ops.h"
#include "ref_par.h"

void ref_encoder_fwd(float *out, const int32_t *tok, const float *wte, const float *wpe,
                     int B, int T, int C)
{
#pragma omp parallel for schedule(static) REF_PAR((size_t)B * T * C)
    for (int n = 0; n < B * T; n++) {
        const float *we = wte + (size_t)tok[n] * C;
        const float *pe = wpe + (size_t)(n % T) * C;
        float *o = out + (size_t)n * C;
        for (int c = 0; c < C; c++)
            o[c] = we[c] + pe[c];
    }
}

void ref_encoder_bwd(float *dwte, float *dwpe, const float *dout, const int32_t *tok,
                     int B, int T, int C)
{
    /* dwpe: one thread per position, batch rows added in order. */
#pragma omp parallel for schedule(static) REF_PAR((size_t)B * T * C)
    for (int t = 0; t < T; t++) {
        float *dp = dwpe + (size_t)t * C;
        for (int b = 0; b < B; b++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++)
                dp[c] += d[c];
        }
    }
    /* dwte: rows sharing a token collide, so threads split the channels and
     * every thread walks all rows in order (deterministic, no atomics). */
    enum { CB = 32 };
    int nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) REF_PAR((size_t)B * T * C)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * CB, c1 = c0 + CB < C ? c0 + CB : C;
        for (int n = 0; n < B * T; n++) {
            float *dw = dwte + (size_t)tok[n] * C;
            const float *d = dout + (size_t)n * C;
            for (int c = c0; c < c1; c++)
                dw[c] += d[c];
        }
    }
}
