/* Attention of new rows over a key/value cache (ref_decode.h). Two passes
 * over the keys (max, then exp-sum and the weighted values) rather than a
 * [T] buffer of scores: the caller's context length needs no workspace. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "ref_decode.h"
#include "ref_par.h"

void ref_decode_attention(float *out, const float *q, size_t q_stride, const float *k,
                          const float *v, size_t kv_stride, int n, int p0, int NH, int NKV,
                          int hs)
{
    assert(n >= 0 && p0 >= 0 && NKV > 0 && NH % NKV == 0 && hs > 0);
    const int rep = NH / NKV;
    const float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static) REF_PAR((size_t)n * NH * (p0 + n) * hs)
    for (int i = 0; i < n; i++)
        for (int h = 0; h < NH; h++) {
            const int len = p0 + i + 1;
            const size_t g = (size_t)(h / rep) * hs;
            const float *qh = q + (size_t)i * q_stride + (size_t)h * hs;
            float *o = out + ((size_t)i * NH + h) * hs;
            float mx = -INFINITY, sum = 0.0f;
            for (int t = 0; t < len; t++) {
                const float *kt = k + (size_t)t * kv_stride + g;
                float s = 0.0f;
                for (int j = 0; j < hs; j++)
                    s += qh[j] * kt[j];
                s *= scale;
                mx = s > mx ? s : mx;
            }
            memset(o, 0, (size_t)hs * sizeof(float));
            for (int t = 0; t < len; t++) {
                const float *kt = k + (size_t)t * kv_stride + g;
                const float *vt = v + (size_t)t * kv_stride + g;
                float s = 0.0f;
                for (int j = 0; j < hs; j++)
                    s += qh[j] * kt[j];
                float e = expf(s * scale - mx);
                sum += e;
                for (int j = 0; j < hs; j++)
                    o[j] += e * vt[j];
            }
            float inv = 1.0f / sum;
            for (int j = 0; j < hs; j++)
                o[j] *= inv;
        }
}
