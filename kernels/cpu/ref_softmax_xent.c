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
        float *d = dlogits ? dlogits + (size_t)n * Vp : NULL;
        int tgt = targets[n];
        float mx = x[0];
        int arg = 0;
        for (int v = 1; v < V; v++)
            if (x[v] > mx) {
                mx = x[v];
                arg = v;
            }
        float xt = x[tgt];   /* read before d (possibly x itself) is written */
        /* exp once (kept in d for the gradient), summed in double */
        double sum = 0.0;
        if (d) {
            for (int v = 0; v < V; v++) {
                float e = expf(x[v] - mx);
                d[v] = e;
                sum += e;
            }
        } else {
            for (int v = 0; v < V; v++)
                sum += expf(x[v] - mx);
        }
        losses[n] = (float)(log(sum) - (double)(xt - mx));
        if (correct)
            correct[n] = arg == tgt;
        if (d) {
            float inv = (float)(1.0 / sum);
            for (int v = 0; v < V; v++)
                d[v] = d[v] * inv * dloss;
            d[tgt] -= dloss;
            for (int v = V; v < Vp; v++)
                d[v] = 0.0f;
        }
    }
}
