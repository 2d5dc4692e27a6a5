/* Grouped-query causal self-attention on a packed qkv tensor
 * [B, T, (NH + 2 NKV) hs]: NH query heads share NKV key/value heads, query
 * head h reading kv head h / (NH / NKV). With NKV == NH it is GPT-2's
 * multi-head attention (ref_attention.c calls it): keep the summation order,
 * which the bit-exact resume and parity tests rely on. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "ref_llama.h"
#include "ref_par.h"
#include "ref_vec.h"

/* Where each head lives in a qkv row, and the shape's constants. */
struct gqa_layout {
    size_t W;        /* floats per qkv row */
    size_t k0, v0;   /* offsets of the k and v blocks in a row */
    size_t C;        /* floats per out row: NH * hs */
    int rep;         /* query heads per kv head */
    float scale;     /* 1 / sqrt(hs) */
};

static struct gqa_layout gqa_layout(int NH, int NKV, int hs)
{
    assert(NKV > 0 && NH % NKV == 0);
    struct gqa_layout l = {
        .W = (size_t)(NH + 2 * NKV) * hs,
        .k0 = (size_t)NH * hs,
        .v0 = (size_t)(NH + NKV) * hs,
        .C = (size_t)NH * hs,
        .rep = NH / NKV,
        .scale = 1.0f / sqrtf((float)hs),
    };
    return l;
}

void ref_gqa_fwd(float *out, float *att, const float *qkv, int B, int T, int NH, int NKV,
                 int hs)
{
    struct gqa_layout l = gqa_layout(NH, NKV, hs);
#pragma omp parallel for collapse(3) schedule(static) REF_PAR((size_t)B * NH * T * T * hs / 2)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                size_t kvh = (size_t)(h / l.rep) * hs;
                const float *q = qkv + ((size_t)b * T + t) * l.W + (size_t)h * hs;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float mx = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = qkv + ((size_t)b * T + t2) * l.W + l.k0 + kvh;
                    float s = dot_lanes(q, k, hs) * l.scale;
                    a[t2] = s;
                    if (s > mx)
                        mx = s;
                }
                float sum = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    float e = expf(a[t2] - mx);
                    a[t2] = e;
                    sum += e;
                }
                float inv = 1.0f / sum;
                for (int t2 = 0; t2 <= t; t2++)
                    a[t2] *= inv;
                for (int t2 = t + 1; t2 < T; t2++)
                    a[t2] = 0.0f;
                float *o = out + ((size_t)b * T + t) * l.C + (size_t)h * hs;
                memset(o, 0, (size_t)hs * sizeof(float));
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * l.W + l.v0 + kvh;
                    float p = a[t2];
                    for (int i = 0; i < hs; i++)
                        o[i] += p * v[i];
                }
            }
}

/* Three passes, each parallel and writing disjoint outputs:
 * 1. (b, h, t):   dpre[t, t2] = att * (datt - sum_j att * datt), datt = dout[t] . v[t2]
 * 2. (b, h, t):   dq[t]  += scale * sum_t2 dpre[t, t2] k[t2]
 * 3. (b, g, t2):  over the group's query heads h, then t >= t2:
 *                 dk[t2] += scale * dpre[h, t, t2] q_h[t];  dv[t2] += att[h, t, t2] dout_h[t] */
void ref_gqa_bwd(float *dqkv, float *scratch, const float *dout, const float *qkv,
                 const float *att, int B, int T, int NH, int NKV, int hs)
{
    struct gqa_layout l = gqa_layout(NH, NKV, hs);
#pragma omp parallel for collapse(3) schedule(static) REF_PAR((size_t)B * NH * T * T * hs / 2)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                size_t kvh = (size_t)(h / l.rep) * hs;
                const float *d = dout + ((size_t)b * T + t) * l.C + (size_t)h * hs;
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *dp = scratch + (((size_t)b * NH + h) * T + t) * T;
                float dot = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * l.W + l.v0 + kvh;
                    float s = dot_lanes(d, v, hs);
                    dp[t2] = s;
                    dot += a[t2] * s;
                }
                for (int t2 = 0; t2 <= t; t2++)
                    dp[t2] = a[t2] * (dp[t2] - dot);
            }
#pragma omp parallel for collapse(3) schedule(static) REF_PAR((size_t)B * NH * T * T * hs / 2)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                size_t kvh = (size_t)(h / l.rep) * hs;
                const float *dp = scratch + (((size_t)b * NH + h) * T + t) * T;
                float *dq = dqkv + ((size_t)b * T + t) * l.W + (size_t)h * hs;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = qkv + ((size_t)b * T + t2) * l.W + l.k0 + kvh;
                    float g = dp[t2] * l.scale;
                    for (int i = 0; i < hs; i++)
                        dq[i] += g * k[i];
                }
            }
#pragma omp parallel for collapse(3) schedule(static) REF_PAR((size_t)B * NH * T * T * hs / 2)
    for (int b = 0; b < B; b++)
        for (int kv = 0; kv < NKV; kv++)
            for (int t2 = 0; t2 < T; t2++) {
                size_t row = ((size_t)b * T + t2) * l.W + (size_t)kv * hs;
                float *dk = dqkv + row + l.k0;
                float *dv = dqkv + row + l.v0;
                for (int h = kv * l.rep; h < (kv + 1) * l.rep; h++)
                    for (int t = t2; t < T; t++) {
                        size_t ai = (((size_t)b * NH + h) * T + t) * T + t2;
                        const float *q = qkv + ((size_t)b * T + t) * l.W + (size_t)h * hs;
                        const float *d = dout + ((size_t)b * T + t) * l.C + (size_t)h * hs;
                        float g = scratch[ai] * l.scale, p = att[ai];
                        for (int i = 0; i < hs; i++) {
                            dk[i] += g * q[i];
                            dv[i] += p * d[i];
                        }
                    }
            }
}
