/* Linear layer out = inp @ w^T + bias and its backward.
 *
 * Results do not depend on the number of threads, and tiling does not change
 * them either:
 *   forward:  each dot product keeps 8 lane sums (lane k takes the elements
 *             i = k mod 8), combined pairwise at the end;
 *   backward: dinp[n, i] and dw[o, i] start from their current value and add
 *             the terms one by one, o (resp. n) ascending; dbias likewise.
 * The kernels work on register tiles with GCC/Clang vector types and are
 * compiled twice, for x86-64-v3 (AVX2 + FMA) and the baseline, the better one
 * picked at load time; so results are reproducible run to run on a machine,
 * not bit-identical across machines with different instruction sets. */
#include "ref_ops.h"
#include "ref_par.h"
#include "ref_vec.h"

enum { LANES = 8, ROWS = 8, OBLK = 16 };

/* Rows [n0, n1), all outputs, in tiles of 4 rows x 2 outputs (6 loads per 8
 * multiply-adds). */
REF_CLONES
static void fwd_rows(float *out, const float *inp, const float *w, const float *bias, int n0,
                     int n1, int IC, int OC)
{
    int n = n0, ICv = IC - IC % LANES;
    for (; n + 4 <= n1; n += 4) {
        const float *x0 = inp + (size_t)n * IC, *x1 = x0 + IC, *x2 = x1 + IC, *x3 = x2 + IC;
        int o = 0;
        for (; o + 2 <= OC && ICv == IC; o += 2) {
            const float *w0 = w + (size_t)o * IC, *w1 = w0 + IC;
            v8f a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0};
            v8f a20 = {0}, a21 = {0}, a30 = {0}, a31 = {0};
            for (int i = 0; i < IC; i += LANES) {
                v8f wa = V8(w0 + i), wb = V8(w1 + i), x;
                x = V8(x0 + i); a00 += x * wa; a01 += x * wb;
                x = V8(x1 + i); a10 += x * wa; a11 += x * wb;
                x = V8(x2 + i); a20 += x * wa; a21 += x * wb;
                x = V8(x3 + i); a30 += x * wa; a31 += x * wb;
            }
            float b0 = bias ? bias[o] : 0.0f, b1 = bias ? bias[o + 1] : 0.0f;
            float *r0 = out + (size_t)n * OC + o;
            r0[0] = b0 + V8SUM(a00);
            r0[1] = b1 + V8SUM(a01);
            r0[OC] = b0 + V8SUM(a10);
            r0[OC + 1] = b1 + V8SUM(a11);
            r0[2 * (size_t)OC] = b0 + V8SUM(a20);
            r0[2 * (size_t)OC + 1] = b1 + V8SUM(a21);
            r0[3 * (size_t)OC] = b0 + V8SUM(a30);
            r0[3 * (size_t)OC + 1] = b1 + V8SUM(a31);
        }
        for (; o < OC; o++) {   /* odd OC, or IC not a multiple of 8 */
            const float *wr = w + (size_t)o * IC;
            float bv = bias ? bias[o] : 0.0f;
            for (int r = 0; r < 4; r++)
                out[(size_t)(n + r) * OC + o] = bv + dot_lanes(x0 + (size_t)r * IC, wr, IC);
        }
    }
    for (; n < n1; n++)
        for (int o = 0; o < OC; o++)
            out[(size_t)n * OC + o] = (bias ? bias[o] : 0.0f) +
                                      dot_lanes(inp + (size_t)n * IC, w + (size_t)o * IC, IC);
}

/* dinp rows [n0, n1) += dout @ w, tiles of 4 rows x 16 channels held in
 * registers while o runs over all outputs. */
REF_CLONES
static void bwd_inp_rows(float *dinp, const float *dout, const float *w, int n0, int n1, int IC,
                         int OC)
{
    int n = n0, IC16 = IC - IC % 16;
    for (; n + 4 <= n1; n += 4) {
        const float *g0 = dout + (size_t)n * OC, *g1 = g0 + OC, *g2 = g1 + OC, *g3 = g2 + OC;
        float *d0 = dinp + (size_t)n * IC, *d1 = d0 + IC, *d2 = d1 + IC, *d3 = d2 + IC;
        for (int i = 0; i < IC16; i += 16) {
            v8f a0 = V8(d0 + i), b0 = V8(d0 + i + 8), a1 = V8(d1 + i), b1 = V8(d1 + i + 8);
            v8f a2 = V8(d2 + i), b2 = V8(d2 + i + 8), a3 = V8(d3 + i), b3 = V8(d3 + i + 8);
            for (int o = 0; o < OC; o++) {
                const float *wr = w + (size_t)o * IC + i;
                v8f wa = V8(wr), wb = V8(wr + 8);
                a0 += g0[o] * wa; b0 += g0[o] * wb;
                a1 += g1[o] * wa; b1 += g1[o] * wb;
                a2 += g2[o] * wa; b2 += g2[o] * wb;
                a3 += g3[o] * wa; b3 += g3[o] * wb;
            }
            V8W(d0 + i) = a0; V8W(d0 + i + 8) = b0; V8W(d1 + i) = a1; V8W(d1 + i + 8) = b1;
            V8W(d2 + i) = a2; V8W(d2 + i + 8) = b2; V8W(d3 + i) = a3; V8W(d3 + i + 8) = b3;
        }
        for (int r = 0; r < 4; r++)   /* channels past the last multiple of 16 */
            for (int o = 0; o < OC; o++) {
                float g = dout[(size_t)(n + r) * OC + o];
                const float *wr = w + (size_t)o * IC;
                float *di = dinp + (size_t)(n + r) * IC;
                for (int i = IC16; i < IC; i++)
                    di[i] += g * wr[i];
            }
    }
    for (; n < n1; n++)
        for (int o = 0; o < OC; o++) {
            float g = dout[(size_t)n * OC + o];
            const float *wr = w + (size_t)o * IC;
            float *di = dinp + (size_t)n * IC;
            for (int i = 0; i < IC; i++)
                di[i] += g * wr[i];
        }
}

/* dw rows [o0, o1) += dout^T @ inp: tiles of 2 outputs x 32 channels held
 * in registers while n runs over all rows. */
REF_CLONES
static void bwd_w_rows(float *dw, const float *dout, const float *inp, int o0, int o1, int N,
                       int IC, int OC)
{
    int IC32 = IC - IC % 32, o = o0;
    for (int i = 0; i < IC32; i += 32) {
        for (o = o0; o + 2 <= o1; o += 2) {
            float *w0 = dw + (size_t)o * IC + i, *w1 = w0 + IC;
            v8f a0 = V8(w0), a1 = V8(w0 + 8), a2 = V8(w0 + 16), a3 = V8(w0 + 24);
            v8f b0 = V8(w1), b1 = V8(w1 + 8), b2 = V8(w1 + 16), b3 = V8(w1 + 24);
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * IC + i;
                float ga = dout[(size_t)n * OC + o], gb = dout[(size_t)n * OC + o + 1];
                v8f x0 = V8(x), x1 = V8(x + 8), x2 = V8(x + 16), x3 = V8(x + 24);
                a0 += ga * x0; a1 += ga * x1; a2 += ga * x2; a3 += ga * x3;
                b0 += gb * x0; b1 += gb * x1; b2 += gb * x2; b3 += gb * x3;
            }
            V8W(w0) = a0; V8W(w0 + 8) = a1; V8W(w0 + 16) = a2; V8W(w0 + 24) = a3;
            V8W(w1) = b0; V8W(w1 + 8) = b1; V8W(w1 + 16) = b2; V8W(w1 + 24) = b3;
        }
    }
    /* the odd output, and channels past the last multiple of 32 */
    for (int oo = o0; oo < o1; oo++) {
        int i0 = oo >= o ? 0 : IC32;
        float *dwr = dw + (size_t)oo * IC;
        for (int n = 0; n < N; n++) {
            float g = dout[(size_t)n * OC + oo];
            const float *x = inp + (size_t)n * IC;
            for (int i = i0; i < IC; i++)
                dwr[i] += g * x[i];
        }
    }
}

void ref_matmul_fwd(float *out, const float *inp, const float *w, const float *bias,
                    int N, int IC, int OC)
{
    /* Blocks of ROWS input rows share each weight row while it is in cache. */
    int nblk = (N + ROWS - 1) / ROWS;
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * IC * OC)
    for (int blk = 0; blk < nblk; blk++) {
        int n0 = blk * ROWS, n1 = n0 + ROWS < N ? n0 + ROWS : N;
        fwd_rows(out, inp, w, bias, n0, n1, IC, OC);
    }
}

void ref_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout,
                    const float *inp, const float *w, int N, int IC, int OC)
{
    if (dinp) {
        int nblk = (N + ROWS - 1) / ROWS;
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * IC * OC)
        for (int blk = 0; blk < nblk; blk++) {
            int n0 = blk * ROWS, n1 = n0 + ROWS < N ? n0 + ROWS : N;
            bwd_inp_rows(dinp, dout, w, n0, n1, IC, OC);
        }
    }
    int oblk = (OC + OBLK - 1) / OBLK;
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * IC * OC)
    for (int b = 0; b < oblk; b++) {
        int o0 = b * OBLK, o1 = o0 + OBLK < OC ? o0 + OBLK : OC;
        bwd_w_rows(dw, dout, inp, o0, o1, N, IC, OC);
        if (dbias)
            for (int o = o0; o < o1; o++)
                for (int n = 0; n < N; n++)
                    dbias[o] += dout[(size_t)n * OC + o];
    }
}
