/* Finite-difference check of the full model gradient, every element of every
 * parameter tensor of a tiny GPT-2 (2 layers, 2 heads, C 16, T 8, V 37
 * padded to 128, batch 2).
 *
 * The model runs in float32, so the check is built to keep float noise far
 * below the tolerance: parameters are random at O(0.1-1) scale so that
 * gradients are not vanishingly small, the loss is summed in double, and the
 * central difference uses h = 1e-2 (float rounding of a loss near 4 is ~5e-7,
 * so noise in the difference quotient is ~1e-4 while the O(h^2) truncation
 * error stays below ~1e-4 at this curvature). Tolerance per element:
 *   |fd - analytic| <= 1e-3 * max|analytic of the tensor| + 2e-2 * |analytic|.
 * A missing or wrong backward term shows up as an error of the order of the
 * gradient itself, far beyond that. Padded wte rows must have exactly zero
 * gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_cpu_model.h"
#include "tr_params.h"
#include "tr_rng.h"

int main(void)
{
    struct tr_config c = { .n_layer = 2, .n_head = 2, .n_embd = 16, .seq_len = 8, .vocab = 37 };
    tr_config_pad_vocab(&c);
    const int B = 2, T = c.seq_len;
    size_t n = tr_param_count(&c), sizes[TR_NUM_PARAMS];
    tr_param_sizes(&c, sizes);
    float *params = malloc(n * sizeof(float)), *grads = malloc(n * sizeof(float));
    int32_t chunk[2 * 9];
    struct tr_rng r;
    tr_rng_seed(&r, 42, 99);
    tr_params_init(&c, 7, params);
    /* Larger random parameters than GPT-2's init (see above). */
    struct tr_tensors p;
    tr_tensors_map(&c, params, &p);
    for (size_t i = 0; i < n; i++)
        params[i] += (float)(tr_rng_normal(&r) * 0.3);
    for (size_t i = (size_t)c.vocab * c.n_embd; i < sizes[TR_WTE]; i++)
        p.wte[i] = 0.0f;   /* padded rows as the trainer keeps them */
    for (int i = 0; i < B * (T + 1); i++)
        chunk[i] = (int32_t)tr_rng_below(&r, (uint64_t)c.vocab);
    chunk[3] = chunk[12] = 5;   /* a repeated token: dwte accumulation */

    double loss;
    if (tr_cpu_forward_backward(&c, params, chunk, B, &loss, grads, NULL)) {
        fprintf(stderr, "forward_backward failed\n");
        return 1;
    }
    printf("loss %.6f (ln V = %.6f)\n", loss, log((double)c.vocab));

    tr_cpu_model *m;
    if (tr_cpu_model_create(&c, B, &m))
        return 1;
    int32_t inp[16], tgt[16];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            inp[b * T + t] = chunk[b * (T + 1) + t];
            tgt[b * T + t] = chunk[b * (T + 1) + t + 1];
        }
    const float h = 1e-2f;
    int failures = 0;
    size_t off = 0;
    for (int id = 0; id < TR_NUM_PARAMS; id++) {
        size_t cnt = sizes[id];
        if (id == TR_WTE) {
            for (size_t i = (size_t)c.vocab * c.n_embd; i < cnt; i++)
                if (grads[i] != 0.0f) {
                    fprintf(stderr, "wte: padded row element %zu has gradient %g\n", i, grads[i]);
                    failures++;
                    break;
                }
            cnt = (size_t)c.vocab * c.n_embd;
        }
        double gmax = 0.0, worst = 0.0;
        for (size_t i = 0; i < cnt; i++)
            if (fabs(grads[off + i]) > gmax)
                gmax = fabs(grads[off + i]);
        int bad = 0;
        for (size_t i = 0; i < cnt; i++) {
            float *x = &params[off + i], x0 = *x;
            double lp, lm;
            *x = x0 + h;
            tr_cpu_forward(m, params, inp, tgt, B, T, 0.0f, &lp, NULL);
            *x = x0 - h;
            tr_cpu_forward(m, params, inp, tgt, B, T, 0.0f, &lm, NULL);
            *x = x0;
            double fd = (lp - lm) / (2.0 * h) / (B * T), an = grads[off + i];
            double err = fabs(fd - an), tol = 1e-3 * gmax + 2e-2 * fabs(an);
            if (err / tol > worst)
                worst = err / tol;
            if (err > tol && bad++ < 3)
                fprintf(stderr, "%s[%zu]: finite difference %.6g, analytic %.6g\n",
                        tr_param_name(id), i, fd, an);
        }
        printf("%-9s %6zu elements  max|g| %.3e  worst error/tolerance %.3f%s\n",
               tr_param_name(id), cnt, gmax, worst, bad ? "  FAIL" : "");
        if (gmax == 0.0) {
            fprintf(stderr, "%s: gradient is identically zero\n", tr_param_name(id));
            bad++;
        }
        failures += bad;
        off += sizes[id];
    }
    tr_cpu_model_free(m);
    free(params);
    free(grads);
    if (failures)
        fprintf(stderr, "%d element(s) out of tolerance\n", failures);
    return failures ? 1 : 0;
}
