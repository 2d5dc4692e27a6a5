/* Linear layer out = inp @ w^T + bias and its backward.
 *
 * Every output element is a sum in a fixed order that does not depend on the
 * thread count: dot products use 8 interleaved partial sums (lane k takes
 * elements i = k mod 8, combined pairwise at the end), which compilers turn
 * into one SIMD register without -ffast-math. */
#include "ref_ops.h"
#include "ref_par.h"

enum { LANES = 8, ROWS = 8, NTILE = 64 };

static inline float dot_lanes(const float *a, const float *b, int n)
{
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++)
            acc[k] += a[i + k] * b[i + k];
    for (int k = 0; i < n; i++, k++)
        acc[k] += a[i] * b[i];
    float s0 = (acc[0] + acc[4]) + (acc[1] + acc[5]);
    float s1 = (acc[2] + acc[6]) + (acc[3] + acc[7]);
    return s0 + s1;
}

void ref_matmul_fwd(float *out, const float *inp, const float *w, const float *bias,
                    int N, int IC, int OC)
{
    /* Blocks of ROWS input rows share each weight row while it is in cache. */
    int nblk = (N + ROWS - 1) / ROWS;
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * IC * OC)
    for (int blk = 0; blk < nblk; blk++) {
        int n0 = blk * ROWS, n1 = n0 + ROWS < N ? n0 + ROWS : N;
        for (int o = 0; o < OC; o++) {
            const float *wr = w + (size_t)o * IC;
            float bv = bias ? bias[o] : 0.0f;
            for (int n = n0; n < n1; n++)
                out[(size_t)n * OC + o] = bv + dot_lanes(inp + (size_t)n * IC, wr, IC);
        }
    }
}

void ref_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout,
                    const float *inp, const float *w, int N, int IC, int OC)
{
    if (dinp) {
        /* dinp[n, :] += sum_o dout[n, o] * w[o, :], o in order; each weight
         * row serves a block of ROWS rows. */
        int nblk = (N + ROWS - 1) / ROWS;
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * IC * OC)
        for (int blk = 0; blk < nblk; blk++) {
            int n0 = blk * ROWS, n1 = n0 + ROWS < N ? n0 + ROWS : N;
            for (int o = 0; o < OC; o++) {
                const float *wr = w + (size_t)o * IC;
                for (int n = n0; n < n1; n++) {
                    float g = dout[(size_t)n * OC + o];
                    float *di = dinp + (size_t)n * IC;
                    for (int i = 0; i < IC; i++)
                        di[i] += g * wr[i];
                }
            }
        }
    }
    /* dw[o, :] += sum_n dout[n, o] * inp[n, :] and dbias[o] += sum_n dout[n, o],
     * n in order. Rows go in tiles small enough to stay in cache while every
     * thread walks its share of the outputs. */
    for (int n0 = 0; n0 < N; n0 += NTILE) {
        int n1 = n0 + NTILE < N ? n0 + NTILE : N;
#pragma omp parallel for schedule(static) REF_PAR((size_t)(n1 - n0) * IC * OC)
        for (int o = 0; o < OC; o++) {
            float *dwr = dw + (size_t)o * IC;
            for (int n = n0; n < n1; n++) {
                float g = dout[(size_t)n * OC + o];
                const float *x = inp + (size_t)n * IC;
                for (int i = 0; i < IC; i++)
                    dwr[i] += g * x[i];
                if (dbias)
                    dbias[o] += g;
            }
        }
    }
}
