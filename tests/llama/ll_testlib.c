#include "ll_testlib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

void ll_seed(uint64_t s)
{
    rng_state = s ? s : 0x9e3779b97f4a7c15ull;
}

static float frand(void)   /* uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / (1ull << 24))) * 2.0f - 1.0f;
}

static float *alloc_or_die(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory (%zu floats)\n", n);
        exit(1);
    }
    return p;
}

float *ll_rnd(size_t n, float scale)
{
    float *p = alloc_or_die(n);
    for (size_t i = 0; i < n; i++)
        p[i] = frand() * scale;
    return p;
}

float *ll_zeros(size_t n)
{
    float *p = alloc_or_die(n);
    memset(p, 0, n * sizeof(float));
    return p;
}

float *ll_copy(const float *src, size_t n)
{
    float *p = alloc_or_die(n);
    memcpy(p, src, n * sizeof(float));
    return p;
}

double ll_dotd(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

double ll_maxdiff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d)
            m = d;
    }
    return m;
}

int ll_fd_check(const char *what, float *x, const float *an, size_t n, ll_objective f,
                void *ctx, double atol, double rtol)
{
    const float h = 1e-3f;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + h;
        double lp = f(ctx);
        x[i] = x0 - h;
        double lm = f(ctx);
        x[i] = x0;
        /* the step actually taken: x0 +- h rounded to float */
        double fd = (lp - lm) / ((double)(x0 + h) - (double)(x0 - h));
        double err = fabs(fd - an[i]), tol = atol + rtol * fabs(an[i]);
        if (err / tol > worst)
            worst = err / tol;
        if (!(err <= tol)) {
            fprintf(stderr, "%s[%zu]: finite difference %.6g, analytic %.6g\n", what, i, fd,
                    an[i]);
            return 1;
        }
    }
    f(ctx);   /* leave the forward's outputs as at x */
    printf("%-28s ok (worst error / tolerance %.3f)\n", what, worst);
    return 0;
}
