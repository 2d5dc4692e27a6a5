/* Fused softmax + cross-entropy over the first V of Vp logits per row. */
#include <math.h>

#include "ref_ops.h"
#include "ref_par.h"

void ref_softmax_xent(float *losses, float *dlogits, int *correct, const float *logits,
                      const int32_t *targets, int N, int V, int Vp, float dloss)
{
#pragma omp parallel for schedule(static) REF_PAR((size_t)N * V * 8)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * Vp;
        int tgt = targets[n];
        float mx = x[0];
        int arg = 0;
        for (int v = 1; v < V; v++)
            if (x[v] > mx) {
                mx = x[v];
                arg = v;
            }
        /* The sum runs in double: V is large and the result feeds the loss. */
        double sum = 0.0;
        for (int v = 0; v < V; v++)
            sum += exp((double)(x[v] - mx));
        losses[n] = (float)(log(sum) - (double)(x[tgt] - mx));
        if (correct)
            correct[n] = arg == tgt;
        if (dlogits) {
            float *d = dlogits + (size_t)n * Vp;
            float inv = (float)(1.0 / sum);
            for (int v = 0; v < V; v++) {
                float p = expf(x[v] - mx) * inv;
                d[v] = (p - (v == tgt ? 1.0f : 0.0f)) * dloss;
            }
            for (int v = V; v < Vp; v++)
                d[v] = 0.0f;
        }
    }
}
