/* kernel-check's harness: arenas, host bf16, uploads, the comparison that
 * prints one line per output, and the benchmark timer (kc.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc.h"

/* ------------------------------------------------------------------ */
/* Arenas and errors.                                                   */

uint64_t kc_rng_next(kc *c)
{
    /* splitmix64 */
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float kc_rnd(kc *c, float lo, float hi)
{
    return lo + (hi - lo) * (float)(kc_rng_next(c) >> 40) * (1.0f / 16777216.0f);
}

void *kc_dalloc(kc *c, size_t bytes)
{
    size_t off = (c->dused + 255) & ~(size_t)255;
    if (off + bytes > c->dcap) {
        c->oom = 1;
        return NULL;
    }
    c->dused = off + bytes;
    return c->dbase + off;
}

float *kc_halloc(kc *c, size_t n)
{
    size_t off = (c->hused + 63) & ~(size_t)63;
    size_t bytes = n * sizeof(float);
    if (off + bytes > c->hcap) {
        c->oom = 1;
        return NULL;
    }
    c->hused = off + bytes;
    return (float *)(c->hbase + off);
}

void kc_arena_reset(kc *c)
{
    c->dused = c->hused = 0;
    c->oom = 0;
}

/* An infrastructure failure (CUDA error, arena exhausted): counted apart
 * from tolerance failures, and fatal for the exit status. */
int kc_error(kc *c, const char *kernel, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%-20s ERROR ", kernel);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    c->nerr++;
    return -1;
}

/* ------------------------------------------------------------------ */
/* bf16 on the host: round to nearest even, as __float2bfloat16_rn.     */

uint16_t kc_f2bf(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN stays NaN */
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float kc_bf2f(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void kc_round_dt(float *x, size_t n, kn_dtype dt)
{
    if (dt == KN_BF16)
        for (size_t i = 0; i < n; i++)
            x[i] = kc_bf2f(kc_f2bf(x[i]));
}

void kc_fill(kc *c, float *x, size_t n, float lo, float hi, kn_dtype dt)
{
    for (size_t i = 0; i < n; i++)
        x[i] = kc_rnd(c, lo, hi);
    kc_round_dt(x, n, dt);
}

/* Host float array -> device buffer of dt (uses a staging area of the host
 * arena for bf16). */
int kc_upload(kc *c, void *dev, const float *h, size_t n, kn_dtype dt)
{
    if (dt == KN_F32)
        return cudaMemcpy(dev, h, n * 4, cudaMemcpyHostToDevice) == cudaSuccess ? 0 : -1;
    size_t mark = c->hused;
    uint16_t *tmp = (uint16_t *)kc_halloc(c, (n + 1) / 2);
    if (!tmp)
        return -1;
    for (size_t i = 0; i < n; i++)
        tmp[i] = kc_f2bf(h[i]);
    int r = cudaMemcpy(dev, tmp, n * 2, cudaMemcpyHostToDevice) == cudaSuccess ? 0 : -1;
    c->hused = mark;
    return r;
}

int kc_download(kc *c, float *h, const void *dev, size_t n, kn_dtype dt)
{
    if (dt == KN_F32)
        return cudaMemcpy(h, dev, n * 4, cudaMemcpyDeviceToHost) == cudaSuccess ? 0 : -1;
    size_t mark = c->hused;
    uint16_t *tmp = (uint16_t *)kc_halloc(c, (n + 1) / 2);
    if (!tmp)
        return -1;
    int r = cudaMemcpy(tmp, dev, n * 2, cudaMemcpyDeviceToHost) == cudaSuccess ? 0 : -1;
    for (size_t i = 0; r == 0 && i < n; i++)
        h[i] = kc_bf2f(tmp[i]);
    c->hused = mark;
    return r;
}

/* Device copy of host data (dt), NULL on failure. */
void *kc_dup(kc *c, const float *h, size_t n, kn_dtype dt)
{
    void *d = kc_dalloc(c, n * kn_dtype_size(dt));
    if (d && kc_upload(c, d, h, n, dt)) {
        c->oom = 1;
        return NULL;
    }
    return d;
}

/* Device buffer of n elements of dt, every bit set (NaN). */
void *kc_poisoned(kc *c, size_t n, kn_dtype dt)
{
    void *d = kc_dalloc(c, n * kn_dtype_size(dt));
    if (d && cudaMemset(d, 0xff, n * kn_dtype_size(dt)) != cudaSuccess) {
        c->oom = 1;
        return NULL;
    }
    return d;
}

/* ------------------------------------------------------------------ */
/* Comparison and reporting.                                            */

/* Compares n GPU results with the reference, prints one line, counts it. */
int kc_compare(kc *c, const char *kernel, kn_dtype dt, const char *what, const float *gpu,
               const float *ref, size_t n, tol t)
{
    double max_abs = 0.0, max_rel = 0.0, sumsq = 0.0;
    size_t bad = 0, nan = 0, worst = 0;
    double worst_excess = -1.0;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i], g = gpu[i];
        sumsq += r * r;
        if (isnan(g) && !isnan(r)) {
            nan++;
            bad++;
            if (worst_excess < INFINITY) {
                worst_excess = INFINITY;
                worst = i;
            }
            continue;
        }
        double e = fabs(g - r);
        if (isnan(r) && isnan(g))
            e = 0.0;
        if (e > max_abs)
            max_abs = e;
        if (fabs(r) > t.abs && e / fabs(r) > max_rel)
            max_rel = e / fabs(r);
        double lim = t.abs + t.rel * fabs(r);
        if (e > lim)
            bad++;
        if (e - lim > worst_excess) {
            worst_excess = e - lim;
            worst = i;
        }
    }
    int ok = bad == 0;
    double rms = n ? sqrt(sumsq / (double)n) : 0.0;
    printf("%-20s %-4s %-34s n=%-8zu max_abs=%.2e max_rel=%.2e rms_ref=%.2e tol=%.0e+%.0e*|ref| %s",
           kernel, kn_dtype_name(dt), what, n, max_abs, max_rel, rms, t.abs, t.rel,
           ok ? "PASS" : "FAIL");
    if (!ok)
        printf(" (%zu bad, %zu NaN/unwritten; worst [%zu] gpu=%.7g ref=%.7g)", bad, nan, worst,
               (double)gpu[worst], (double)ref[worst]);
    printf("\n");
    if (ok)
        c->npass++;
    else
        c->nfail++;
    return ok ? 0 : 1;
}

/* Download n elements of type dl from dev and compare, in a run labelled dt. */
int kc_check_as(kc *c, const char *kernel, kn_dtype dt, kn_dtype dl, const char *what,
                const void *dev, const float *ref, size_t n, tol t)
{
    float *g = kc_halloc(c, n);
    if (!g || kc_download(c, g, dev, n, dl))
        return kc_error(c, kernel, "%s: download of %zu elements failed", what, n);
    return kc_compare(c, kernel, dt, what, g, ref, n, t);
}

/* Download n elements of dt from dev and compare. */
int kc_check_dev(kc *c, const char *kernel, kn_dtype dt, const char *what, const void *dev,
                 const float *ref, size_t n, tol t)
{
    return kc_check_as(c, kernel, dt, dt, what, dev, ref, n, t);
}

/* Like check_dev for a float32 buffer (parameter gradients, statistics,
 * losses, optimizer state) in a run labelled dt. */
int kc_check_f32(kc *c, const char *kernel, kn_dtype dt, const char *what, const void *dev,
                 const float *ref, size_t n, tol t)
{
    return kc_check_as(c, kernel, dt, KN_F32, what, dev, ref, n, t);
}

int kc_check_ints(kc *c, const char *kernel, kn_dtype dt, const char *what, const int *dev,
                  const int *ref, size_t n)
{
    size_t mark = c->hused;
    int *g = (int *)kc_halloc(c, n);
    if (!g || cudaMemcpy(g, dev, n * sizeof(int), cudaMemcpyDeviceToHost) != cudaSuccess)
        return kc_error(c, kernel, "%s: download failed", what);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (g[i] != ref[i] && bad++ == 0)
            first = i;
    printf("%-20s %-4s %-34s n=%-8zu mismatches=%zu exact %s", kernel, kn_dtype_name(dt), what, n,
           bad, bad ? "FAIL" : "PASS");
    if (bad)
        printf(" (first [%zu] gpu=%d ref=%d)", first, g[first], ref[first]);
    printf("\n");
    return kc_tally(c, mark, bad != 0);
}

int kc_tally(kc *c, size_t mark, int failed)
{
    c->hused = mark;
    if (failed)
        c->nfail++;
    else
        c->npass++;
    return failed ? 1 : 0;
}

float *kc_copy_of(kc *c, const float *x, size_t n)
{
    float *y = kc_halloc(c, n);
    if (y)
        memcpy(y, x, n * sizeof(float));
    return y;
}

float *kc_zeros(kc *c, size_t n)
{
    float *y = kc_halloc(c, n);
    if (y)
        memset(y, 0, n * sizeof(float));
    return y;
}

/* Tolerance by precision. */
tol kc_tol2(kn_dtype dt, double a32, double r32, double a16, double r16)
{
    tol t = {dt == KN_BF16 ? a16 : a32, dt == KN_BF16 ? r16 : r32};
    return t;
}

static int cmp_ms(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median µs of c->reps calls of fn (3 warm-ups first), each after an L2
 * flush; prints the line with bytes -> GB/s or flops -> TFLOP/s. */
int kc_bench_run(kc *c, const char *kernel, kn_dtype dt, const char *what, kc_bench_call fn,
                 void *arg, double bytes, double flops)
{
    for (int i = 0; i < 3; i++)
        if (fn(c, arg))
            return kc_error(c, kernel, "%s: call failed: %s", what, ingot_errmsg());
    cudaEvent_t e0, e1;
    KC_CUDA(kernel, cudaEventCreate(&e0));
    KC_CUDA(kernel, cudaEventCreate(&e1));
    float ms[200];
    int reps = c->reps < 200 ? c->reps : 200;
    for (int i = 0; i < reps; i++) {
        KC_CUDA(kernel, cudaMemsetAsync(c->flush, i & 0xff, c->flush_bytes, c->s));
        KC_CUDA(kernel, cudaEventRecord(e0, c->s));
        if (fn(c, arg))
            return kc_error(c, kernel, "%s: call failed: %s", what, ingot_errmsg());
        KC_CUDA(kernel, cudaEventRecord(e1, c->s));
        KC_CUDA(kernel, cudaEventSynchronize(e1));
        KC_CUDA(kernel, cudaEventElapsedTime(&ms[i], e0, e1));
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    qsort(ms, (size_t)reps, sizeof(float), cmp_ms);
    double med = ms[reps / 2] * 1e-3; /* seconds */
    printf("%-20s %-4s %-40s %10.1f us", kernel, kn_dtype_name(dt), what, med * 1e6);
    if (flops > 0)
        printf("  %8.1f TFLOP/s", flops / med * 1e-12);
    if (bytes > 0)
        printf("  %8.1f GB/s", bytes / med * 1e-9);
    printf("\n");
    c->npass++;
    return 0;
}
