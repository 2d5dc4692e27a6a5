/* Causal multi-head self-attention on a packed qkv tensor [B, T, 3C]. */
#include <math.h>
#include <string.h>

#include "ref_ops.h"
#include "ref_par.h"
#include "ref_vec.h"

void ref_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
    int hs = C / NH;
    size_t C3 = (size_t)3 * C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(3) schedule(static) REF_PAR((size_t)B * NH * T * T * hs / 2)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *q = qkv + ((size_t)b * T + t) * C3 + (size_t)h * hs;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float mx = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + (size_t)h * hs;
                    float s = dot_lanes(q, k, hs) * scale;
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
                float *o = out + ((size_t)b * T + t) * C + (size_t)h * hs;
                memset(o, 0, (size_t)hs * sizeof(float));
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + 2 * (size_t)C + (size_t)h * hs;
                    float p = a[t2];
                    for (int i = 0; i < hs; i++)
                        o[i] += p * v[i];
                }
            }
}

/* Three passes, each parallel over (b, h, t) and writing disjoint outputs:
 * 1. dpre[t, t2] = att * (datt - sum_j att * datt), datt = dout[t] . v[t2]
 * 2. dq[t]  += scale * sum_t2 dpre[t, t2] k[t2]
 * 3. dk[t2] += scale * sum_{t>=t2} dpre[t, t2] q[t];  dv[t2] += sum_{t>=t2} att[t, t2] dout[t] */
void ref_attention_bwd(float *dqkv, float *scratch, const float *dout, const float *qkv,
                       const float *att, int B, int T, int C, int NH)
{
    int hs = C / NH;
    size_t C3 = (size_t)3 * C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(3) schedule(static) REF_PAR((size_t)B * NH * T * T * hs / 2)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *d = dout + ((size_t)b * T + t) * C + (size_t)h * hs;
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *dp = scratch + (((size_t)b * NH + h) * T + t) * T;
                float dot = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = qkv + ((size_t)b * T + t2) * C3 + 2 * (size_t)C + (size_t)h * hs;
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
                const float *dp = scratch + (((size_t)b * NH + h) * T + t) * T;
                float *dq = dqkv + ((size_t)b * T + t) * C3 + (size_t)h * hs;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = qkv + ((size_t)b * T + t2) * C3 + C + (size_t)h * hs;
                    float g = dp[t2] * scale;
                    for (int i = 0; i < hs; i++)
                        dq[i] += g * k[i];
                }
            }
#pragma omp parallel for collapse(3) schedule(static) REF_PAR((size_t)B * NH * T * T * hs / 2)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t2 = 0; t2 < T; t2++) {
                size_t base = ((size_t)b * T + t2) * C3 + (size_t)h * hs;
                float *dk = dqkv + base + C;
                float *dv = dqkv + base + 2 * (size_t)C;
                for (int t = t2; t < T; t++) {
                    size_t row = (((size_t)b * NH + h) * T + t) * T + t2;
                    const float *q = qkv + ((size_t)b * T + t) * C3 + (size_t)h * hs;
                    const float *d = dout + ((size_t)b * T + t) * C + (size_t)h * hs;
                    float g = scratch[row] * scale, p = att[row];
                    for (int i = 0; i < hs; i++) {
                        dk[i] += g * q[i];
                        dv[i] += p * d[i];
                    }
                }
            }
}
