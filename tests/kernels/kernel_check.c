/* kernel-check: every CUDA kernel of kernels/ against its plain-C reference
 * (kernels/cpu/ref_ops.h) on fresh random inputs, in float32 and bfloat16,
 * with a stated tolerance per kernel and precision:
 *     |gpu - ref| <= abs + rel * |ref|     for every element.
 * Outputs are poisoned (all bits set: NaN in float32 and bf16, -1 as int)
 * before each run, so an element the kernel did not write fails. For bf16
 * the inputs are rounded to bf16 first and the reference gets the same
 * rounded values; what remains is the error of the kernel's bf16 outputs
 * and intermediates.
 *
 *   kernel_check [--seed N] [--kernel NAME] [--precision fp32|bf16|all]
 *                [--bench] [--batch B] [--reps N] [--list] [--verbose]
 *
 * --bench times each kernel at GPT-2 124M shapes (B=8 unless --batch,
 * T=1024, C=768, NH=12, V=50257, Vp=50304) with CUDA events: 3 warm-up
 * calls, then the median of --reps (default 20) calls, each preceded by an
 * L2 flush; prints µs per call and GB/s (memory-bound kernels, bytes counted
 * once each way) or TFLOP/s (matrix products; attention counts the full
 * T x T products, causal or not).
 *
 * Exit status: 0 all checks pass, 1 a check failed or CUDA failed, 2 bad
 * usage, 77 no GPU (skip). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "adamw.h"
#include "attention.h"
#include "convert.h"
#include "encoder.h"
#include "flash_attention.h"
#include "gelu.h"
#include "gradnorm.h"
#include "ingot_err.h"
#include "kc_fill.h"
#include "kn_arch.h"
#include "kn_common.h"
#include "layernorm.h"
#include "matmul.h"
#include "ref_ops.h"
#include "residual.h"
#include "xent.h"

/* ------------------------------------------------------------------ */
/* Context: options, stream, cuBLAS context, arenas, counters.          */

typedef struct kc {
    uint64_t seed, rng;
    int bench, verbose, reps, batch;
    int prec_mask; /* bit 0: fp32, bit 1: bf16 */
    const char *filter;
    cudaStream_t s;
    kn_blas *blas;
    /* Arenas: one device and one host block per run, reset per check. */
    char *dbase, *hbase;
    size_t dcap, dused, hcap, hused;
    int oom;
    void *flush; /* bench: buffer written between reps to evict L2 */
    size_t flush_bytes;
    int npass, nfail, nerr;
} kc;

typedef struct tol {
    double abs, rel;
} tol;

static uint64_t rng_next(kc *c)
{
    /* splitmix64 */
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rnd(kc *c, float lo, float hi)
{
    return lo + (hi - lo) * (float)(rng_next(c) >> 40) * (1.0f / 16777216.0f);
}

static void *dalloc(kc *c, size_t bytes)
{
    size_t off = (c->dused + 255) & ~(size_t)255;
    if (off + bytes > c->dcap) {
        c->oom = 1;
        return NULL;
    }
    c->dused = off + bytes;
    return c->dbase + off;
}

static float *halloc(kc *c, size_t n)
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

static void arena_reset(kc *c)
{
    c->dused = c->hused = 0;
    c->oom = 0;
}

/* An infrastructure failure (CUDA error, arena exhausted): counted apart
 * from tolerance failures, and fatal for the exit status. */
static int kc_error(kc *c, const char *kernel, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%-16s ERROR ", kernel);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    c->nerr++;
    return -1;
}

#define KC_TRY(kernel, call)                                                             \
    do {                                                                                 \
        int kc_e_ = (call);                                                              \
        if (kc_e_)                                                                       \
            return kc_error(c, kernel, "%s -> %d: %s", #call, kc_e_, ingot_errmsg());    \
    } while (0)

#define KC_CUDA(kernel, call)                                                            \
    do {                                                                                 \
        cudaError_t kc_e_ = (call);                                                      \
        if (kc_e_ != cudaSuccess)                                                        \
            return kc_error(c, kernel, "%s: %s", #call, cudaGetErrorString(kc_e_));      \
    } while (0)

#define KC_OOM(kernel)                                                                   \
    do {                                                                                 \
        if (c->oom)                                                                      \
            return kc_error(c, kernel, "arena exhausted (device %zu/%zu, host %zu/%zu)", \
                            c->dused, c->dcap, c->hused, c->hcap);                       \
    } while (0)

/* ------------------------------------------------------------------ */
/* bf16 on the host: round to nearest even, as __float2bfloat16_rn.     */

static uint16_t f2bf(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN stays NaN */
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float bf2f(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void round_dt(float *x, size_t n, kn_dtype dt)
{
    if (dt == KN_BF16)
        for (size_t i = 0; i < n; i++)
            x[i] = bf2f(f2bf(x[i]));
}

static void fill(kc *c, float *x, size_t n, float lo, float hi, kn_dtype dt)
{
    for (size_t i = 0; i < n; i++)
        x[i] = rnd(c, lo, hi);
    round_dt(x, n, dt);
}

/* Host float array -> device buffer of dt (uses a staging area of the host
 * arena for bf16). */
static int upload(kc *c, void *dev, const float *h, size_t n, kn_dtype dt)
{
    if (dt == KN_F32)
        return cudaMemcpy(dev, h, n * 4, cudaMemcpyHostToDevice) == cudaSuccess ? 0 : -1;
    size_t mark = c->hused;
    uint16_t *tmp = (uint16_t *)halloc(c, (n + 1) / 2);
    if (!tmp)
        return -1;
    for (size_t i = 0; i < n; i++)
        tmp[i] = f2bf(h[i]);
    int r = cudaMemcpy(dev, tmp, n * 2, cudaMemcpyHostToDevice) == cudaSuccess ? 0 : -1;
    c->hused = mark;
    return r;
}

static int download(kc *c, float *h, const void *dev, size_t n, kn_dtype dt)
{
    if (dt == KN_F32)
        return cudaMemcpy(h, dev, n * 4, cudaMemcpyDeviceToHost) == cudaSuccess ? 0 : -1;
    size_t mark = c->hused;
    uint16_t *tmp = (uint16_t *)halloc(c, (n + 1) / 2);
    if (!tmp)
        return -1;
    int r = cudaMemcpy(tmp, dev, n * 2, cudaMemcpyDeviceToHost) == cudaSuccess ? 0 : -1;
    for (size_t i = 0; r == 0 && i < n; i++)
        h[i] = bf2f(tmp[i]);
    c->hused = mark;
    return r;
}

/* Device copy of host data (dt), NULL on failure. */
static void *dup_dt(kc *c, const float *h, size_t n, kn_dtype dt)
{
    void *d = dalloc(c, n * kn_dtype_size(dt));
    if (d && upload(c, d, h, n, dt)) {
        c->oom = 1;
        return NULL;
    }
    return d;
}

/* Device buffer of n elements of dt, every bit set (NaN). */
static void *poisoned(kc *c, size_t n, kn_dtype dt)
{
    void *d = dalloc(c, n * kn_dtype_size(dt));
    if (d && cudaMemset(d, 0xff, n * kn_dtype_size(dt)) != cudaSuccess) {
        c->oom = 1;
        return NULL;
    }
    return d;
}

/* ------------------------------------------------------------------ */
/* Comparison and reporting.                                            */

/* Compares n GPU results with the reference, prints one line, counts it. */
static int compare(kc *c, const char *kernel, kn_dtype dt, const char *what, const float *gpu,
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
    printf("%-16s %-4s %-34s n=%-8zu max_abs=%.2e max_rel=%.2e rms_ref=%.2e tol=%.0e+%.0e*|ref| %s",
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
static int check_as(kc *c, const char *kernel, kn_dtype dt, kn_dtype dl, const char *what,
                    const void *dev, const float *ref, size_t n, tol t)
{
    float *g = halloc(c, n);
    if (!g || download(c, g, dev, n, dl))
        return kc_error(c, kernel, "%s: download of %zu elements failed", what, n);
    return compare(c, kernel, dt, what, g, ref, n, t);
}

/* Download n elements of dt from dev and compare. */
static int check_dev(kc *c, const char *kernel, kn_dtype dt, const char *what, const void *dev,
                     const float *ref, size_t n, tol t)
{
    return check_as(c, kernel, dt, dt, what, dev, ref, n, t);
}

/* Like check_dev for a float32 buffer (parameter gradients, statistics,
 * losses, optimizer state) in a run labelled dt. */
static int check_f32(kc *c, const char *kernel, kn_dtype dt, const char *what, const void *dev,
                     const float *ref, size_t n, tol t)
{
    return check_as(c, kernel, dt, KN_F32, what, dev, ref, n, t);
}

static int check_ints(kc *c, const char *kernel, kn_dtype dt, const char *what, const int *dev,
                      const int *ref, size_t n)
{
    size_t mark = c->hused;
    int *g = (int *)halloc(c, n);
    if (!g || cudaMemcpy(g, dev, n * sizeof(int), cudaMemcpyDeviceToHost) != cudaSuccess)
        return kc_error(c, kernel, "%s: download failed", what);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (g[i] != ref[i] && bad++ == 0)
            first = i;
    printf("%-16s %-4s %-34s n=%-8zu mismatches=%zu exact %s", kernel, kn_dtype_name(dt), what, n,
           bad, bad ? "FAIL" : "PASS");
    if (bad)
        printf(" (first [%zu] gpu=%d ref=%d)", first, g[first], ref[first]);
    printf("\n");
    c->hused = mark;
    if (bad)
        c->nfail++;
    else
        c->npass++;
    return bad ? 1 : 0;
}

static float *copy_of(kc *c, const float *x, size_t n)
{
    float *y = halloc(c, n);
    if (y)
        memcpy(y, x, n * sizeof(float));
    return y;
}

static float *zeros(kc *c, size_t n)
{
    float *y = halloc(c, n);
    if (y)
        memset(y, 0, n * sizeof(float));
    return y;
}

/* Tolerance by precision. */
static tol T2(kn_dtype dt, double a32, double r32, double a16, double r16)
{
    tol t = {dt == KN_BF16 ? a16 : a32, dt == KN_BF16 ? r16 : r32};
    return t;
}

/* ------------------------------------------------------------------ */
/* Correctness checks. Each returns 0, or nonzero after reporting.      */

#define SYNC(kernel) KC_CUDA(kernel, cudaStreamSynchronize(c->s))

static int chk_encoder_fwd(kc *c, kn_dtype dt)
{
    const char *K = "encoder_fwd";
    const int B = 2, T = 37, C = 96, V = 1000;
    const size_t N = (size_t)B * T;
    int32_t *tok = (int32_t *)halloc(c, N);
    float *wte = halloc(c, (size_t)V * C), *wpe = halloc(c, (size_t)T * C);
    float *ref = halloc(c, N * C);
    KC_OOM(K);
    for (size_t i = 0; i < N; i++) /* half the ids from a few values: repeats */
        tok[i] = (int32_t)(rng_next(c) % (i % 2 ? 8 : V));
    fill(c, wte, (size_t)V * C, -1, 1, dt);
    fill(c, wpe, (size_t)T * C, -1, 1, dt);
    ref_encoder_fwd(ref, tok, wte, wpe, B, T, C);
    int32_t *dtok = (int32_t *)dalloc(c, N * 4);
    void *dwte = dup_dt(c, wte, (size_t)V * C, dt), *dwpe = dup_dt(c, wpe, (size_t)T * C, dt);
    void *dout = poisoned(c, N * C, dt);
    KC_OOM(K);
    KC_CUDA(K, cudaMemcpy(dtok, tok, N * 4, cudaMemcpyHostToDevice));
    KC_TRY(K, kn_encoder_fwd(dout, dtok, dwte, dwpe, B, T, C, V, dt, c->s));
    SYNC(K);
    return check_dev(c, K, dt, "out", dout, ref, N * C, T2(dt, 0, 1e-7, 0, 4e-3));
}

static int chk_encoder_bwd(kc *c, kn_dtype dt)
{
    const char *K = "encoder_bwd";
    const int B = 3, T = 37, C = 100, V = 1000;
    const size_t N = (size_t)B * T;
    int32_t *tok = (int32_t *)halloc(c, N);
    float *dout = halloc(c, N * C), *dwte = halloc(c, (size_t)V * C);
    float *dwpe = halloc(c, (size_t)T * C);
    KC_OOM(K);
    for (size_t i = 0; i < N; i++)
        tok[i] = (int32_t)(rng_next(c) % (i % 2 ? 5 : V));
    fill(c, dout, N * C, -1, 1, dt);
    fill(c, dwte, (size_t)V * C, -1, 1, KN_F32);
    fill(c, dwpe, (size_t)T * C, -1, 1, KN_F32);
    int32_t *dtok = (int32_t *)dalloc(c, N * 4);
    void *ddout = dup_dt(c, dout, N * C, dt);
    void *ddwte = dup_dt(c, dwte, (size_t)V * C, KN_F32);
    void *ddwpe = dup_dt(c, dwpe, (size_t)T * C, KN_F32);
    KC_OOM(K);
    size_t sb = 0;
    KC_TRY(K, kn_encoder_bwd_scratch_bytes(&sb, B, T, V));
    void *scratch = dalloc(c, sb);
    KC_OOM(K);
    KC_CUDA(K, cudaMemcpy(dtok, tok, N * 4, cudaMemcpyHostToDevice));
    ref_encoder_bwd(dwte, dwpe, dout, tok, B, T, C);
    KC_TRY(K, kn_encoder_bwd((float *)ddwte, (float *)ddwpe, ddout, dtok, B, T, C, V, dt, scratch,
                             sb, c->s));
    SYNC(K);
    /* Sums of bf16 inputs in float32: float32 accuracy in both modes. */
    tol t = {1e-5, 1e-5};
    int r = check_f32(c, K, dt, "dwte (+=)", ddwte, dwte, (size_t)V * C, t);
    r |= check_f32(c, K, dt, "dwpe (+=)", ddwpe, dwpe, (size_t)T * C, t);
    return r;
}

static int chk_layernorm_fwd(kc *c, kn_dtype dt)
{
    const char *K = "layernorm_fwd";
    /* 96, 1600: the vectorised kernel (whole 16-byte packs); 770: scalar */
    const int Ns[3] = {74, 33, 40}, Cs[3] = {96, 770, 1600};
    int r = 0;
    for (int v = 0; v < 3; v++) {
        int N = Ns[v], C = Cs[v];
        size_t NC = (size_t)N * C;
        float *inp = halloc(c, NC), *w = halloc(c, C), *b = halloc(c, C);
        float *out = halloc(c, NC), *mean = halloc(c, N), *rstd = halloc(c, N);
        KC_OOM(K);
        fill(c, inp, NC, -1.5f, 2.5f, dt);
        fill(c, w, C, 0.5f, 1.5f, dt);
        fill(c, b, C, -0.5f, 0.5f, dt);
        ref_layernorm_fwd(out, mean, rstd, inp, w, b, N, C);
        void *dinp = dup_dt(c, inp, NC, dt), *dw = dup_dt(c, w, C, dt), *db = dup_dt(c, b, C, dt);
        void *dout = poisoned(c, NC, dt), *dmean = poisoned(c, N, KN_F32);
        void *drstd = poisoned(c, N, KN_F32);
        KC_OOM(K);
        KC_TRY(K, kn_layernorm_fwd(dout, (float *)dmean, (float *)drstd, dinp, dw, db, N, C, dt,
                                   c->s));
        SYNC(K);
        char what[64];
        snprintf(what, sizeof what, "N%d C%d out", N, C);
        r |= check_dev(c, K, dt, what, dout, out, NC, T2(dt, 1e-5, 1e-5, 1e-2, 8e-3));
        snprintf(what, sizeof what, "N%d C%d mean", N, C);
        r |= check_f32(c, K, dt, what, dmean, mean, N, (tol){1e-6, 1e-5});
        snprintf(what, sizeof what, "N%d C%d rstd", N, C);
        r |= check_f32(c, K, dt, what, drstd, rstd, N, (tol){1e-6, 1e-5});
    }
    return r;
}

static int chk_layernorm_bwd(kc *c, kn_dtype dt)
{
    const char *K = "layernorm_bwd";
    /* 96, 200, 1600: the vectorised kernel (1600: 7 packs per lane in bf16);
     * 100: scalar in bf16 (not a whole number of 8-element packs) */
    const int Ns[4] = {74, 1100, 300, 90}, Cs[4] = {96, 200, 1600, 100};
    int r = 0;
    for (int v = 0; v < 4; v++) {
        int N = Ns[v], C = Cs[v];
        size_t NC = (size_t)N * C;
        float *inp = halloc(c, NC), *w = halloc(c, C), *b = halloc(c, C), *dout = halloc(c, NC);
        float *tmp = halloc(c, NC), *mean = halloc(c, N), *rstd = halloc(c, N);
        float *dinp = halloc(c, NC), *dw = halloc(c, C), *db = halloc(c, C);
        KC_OOM(K);
        fill(c, inp, NC, -1.5f, 2.5f, dt);
        fill(c, w, C, 0.5f, 1.5f, dt);
        fill(c, b, C, -0.5f, 0.5f, dt);
        fill(c, dout, NC, -1, 1, dt);
        fill(c, dinp, NC, -1, 1, dt);
        fill(c, dw, C, -1, 1, KN_F32);
        fill(c, db, C, -1, 1, KN_F32);
        ref_layernorm_fwd(tmp, mean, rstd, inp, w, b, N, C);
        void *ddout = dup_dt(c, dout, NC, dt), *dinpv = dup_dt(c, inp, NC, dt);
        void *dwv = dup_dt(c, w, C, dt), *dmean = dup_dt(c, mean, N, KN_F32);
        void *drstd = dup_dt(c, rstd, N, KN_F32), *ddinp = dup_dt(c, dinp, NC, dt);
        void *ddw = dup_dt(c, dw, C, KN_F32), *ddb = dup_dt(c, db, C, KN_F32);
        size_t sb = kn_layernorm_bwd_scratch_bytes(N, C);
        void *scratch = dalloc(c, sb);
        float *dinp0 = zeros(c, NC), *dw0 = copy_of(c, dw, C), *db0 = copy_of(c, db, C);
        void *ddinp0 = poisoned(c, NC, dt);
        KC_OOM(K);
        /* Run 1: accumulate into dinp (reference semantics). */
        ref_layernorm_bwd(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
        KC_TRY(K, kn_layernorm_bwd(ddinp, (float *)ddw, (float *)ddb, ddout, dinpv, dwv,
                                   (const float *)dmean, (const float *)drstd, N, C, 1, dt,
                                   scratch, sb, c->s));
        SYNC(K);
        char what[64];
        tol tg = T2(dt, 1e-5, 1e-4, 2e-2, 2e-2), tp = T2(dt, 1e-4, 1e-5, 1e-4, 1e-4);
        snprintf(what, sizeof what, "N%d C%d dinp (+=)", N, C);
        r |= check_dev(c, K, dt, what, ddinp, dinp, NC, tg);
        snprintf(what, sizeof what, "N%d C%d dw (+=)", N, C);
        r |= check_f32(c, K, dt, what, ddw, dw, C, tp);
        snprintf(what, sizeof what, "N%d C%d db (+=)", N, C);
        r |= check_f32(c, K, dt, what, ddb, db, C, tp);
        /* Run 2: overwrite a poisoned dinp (accumulate = 0). */
        ref_layernorm_bwd(dinp0, dw0, db0, dout, inp, w, mean, rstd, N, C);
        KC_TRY(K, kn_layernorm_bwd(ddinp0, (float *)ddw, (float *)ddb, ddout, dinpv, dwv,
                                   (const float *)dmean, (const float *)drstd, N, C, 0, dt,
                                   scratch, sb, c->s));
        SYNC(K);
        snprintf(what, sizeof what, "N%d C%d dinp (=)", N, C);
        r |= check_dev(c, K, dt, what, ddinp0, dinp0, NC, tg);
    }
    return r;
}

/* Shapes for the linear layers: qkv-like, MLP up (GELU), MLP down, an odd
 * OC (no fused epilogue: fallback path), an lm-head-like without bias. */
static const struct mm_shape {
    int N, IC, OC, bias, gelu;
} mm_shapes[] = {
    {74, 96, 288, 1, 0}, {74, 96, 384, 1, 1}, {74, 384, 96, 1, 0},
    {74, 96, 100, 1, 1}, {74, 96, 1024, 0, 0}, {37, 64, 200, 0, 1},
};

static int chk_matmul_fwd(kc *c, kn_dtype dt)
{
    const char *K = "matmul_fwd";
    int r = 0;
    for (size_t v = 0; v < sizeof mm_shapes / sizeof mm_shapes[0]; v++) {
        const struct mm_shape *m = &mm_shapes[v];
        size_t NI = (size_t)m->N * m->IC, NO = (size_t)m->N * m->OC, WO = (size_t)m->OC * m->IC;
        float *inp = halloc(c, NI), *w = halloc(c, WO), *bias = halloc(c, m->OC);
        float *pre = halloc(c, NO), *out = halloc(c, NO);
        KC_OOM(K);
        float ws = 1.0f / sqrtf((float)m->IC);
        fill(c, inp, NI, -1, 1, dt);
        fill(c, w, WO, -ws, ws, dt);
        fill(c, bias, m->OC, -0.5f, 0.5f, dt);
        ref_matmul_fwd(pre, inp, w, m->bias ? bias : NULL, m->N, m->IC, m->OC);
        if (m->gelu)
            ref_gelu_fwd(out, pre, NO);
        void *dinp = dup_dt(c, inp, NI, dt), *dw = dup_dt(c, w, WO, dt);
        void *db = dup_dt(c, bias, m->OC, dt);
        KC_OOM(K);
        tol t = T2(dt, 2e-5, 1e-4, 1e-2, 1e-2);
        for (int fuse = 1; fuse >= (m->gelu ? 0 : 1); fuse--) {
            void *dout = poisoned(c, NO, dt), *dpre = m->gelu ? poisoned(c, NO, dt) : NULL;
            KC_OOM(K);
            kn_blas_set_fuse_gelu(c->blas, fuse);
            KC_TRY(K, kn_matmul_fwd(c->blas, dout, dpre, dinp, dw, m->bias ? db : NULL, m->N,
                                    m->IC, m->OC, dt, c->s));
            SYNC(K);
            kn_blas_set_fuse_gelu(c->blas, 1);
            char what[64];
            const char *tag = m->gelu ? (fuse ? " gelu-fused" : " gelu-unfused") : "";
            snprintf(what, sizeof what, "%dx%dx%d%s%s out", m->N, m->IC, m->OC,
                     m->bias ? " bias" : "", tag);
            r |= check_dev(c, K, dt, what, dout, m->gelu ? out : pre, NO, t);
            if (m->gelu) {
                snprintf(what, sizeof what, "%dx%dx%d%s%s pre", m->N, m->IC, m->OC,
                         m->bias ? " bias" : "", tag);
                r |= check_dev(c, K, dt, what, dpre, pre, NO, t);
            }
        }
    }
    return r;
}

static int chk_matmul_bwd(kc *c, kn_dtype dt)
{
    const char *K = "matmul_bwd";
    int r = 0;
    for (size_t v = 0; v < sizeof mm_shapes / sizeof mm_shapes[0]; v++) {
        const struct mm_shape *m = &mm_shapes[v];
        size_t NI = (size_t)m->N * m->IC, NO = (size_t)m->N * m->OC, WO = (size_t)m->OC * m->IC;
        float *inp = halloc(c, NI), *w = halloc(c, WO), *dout = halloc(c, NO);
        float *dinp = halloc(c, NI), *dw = halloc(c, WO), *db = halloc(c, m->OC);
        KC_OOM(K);
        float ws = 1.0f / sqrtf((float)m->IC);
        fill(c, inp, NI, -1, 1, dt);
        fill(c, w, WO, -ws, ws, dt);
        fill(c, dout, NO, -1, 1, dt);
        fill(c, dinp, NI, -1, 1, dt);
        fill(c, dw, WO, -1, 1, KN_F32);
        fill(c, db, m->OC, -1, 1, KN_F32);
        void *dinpv = dup_dt(c, inp, NI, dt), *dwv = dup_dt(c, w, WO, dt);
        void *ddout = dup_dt(c, dout, NO, dt), *ddinp = dup_dt(c, dinp, NI, dt);
        void *ddw = dup_dt(c, dw, WO, KN_F32), *ddb = dup_dt(c, db, m->OC, KN_F32);
        /* the second run (bias kernel) starts from the same gradients */
        void *ddinp2 = dup_dt(c, dinp, NI, dt), *ddw2 = dup_dt(c, dw, WO, KN_F32);
        void *ddb2 = dup_dt(c, db, m->OC, KN_F32);
        size_t sb = kn_matmul_bwd_scratch_bytes(m->N, m->OC);
        void *scratch = dalloc(c, sb);
        KC_OOM(K);
        ref_matmul_bwd(dinp, dw, db, dout, inp, w, m->N, m->IC, m->OC);
        /* fused: dbias from the weight GEMM's epilogue (BGRADB) where
         * cuBLASLt has it; unfused: the bias kernel */
        for (int fuse = 1; fuse >= 0; fuse--) {
            void *di = fuse ? ddinp : ddinp2, *dwg = fuse ? ddw : ddw2, *dbg = fuse ? ddb : ddb2;
            kn_blas_set_fuse_bgrad(c->blas, fuse);
            KC_TRY(K, kn_matmul_bwd(c->blas, di, (float *)dwg, (float *)dbg, ddout, dinpv, dwv,
                                    m->N, m->IC, m->OC, dt, scratch, sb, c->s));
            SYNC(K);
            kn_blas_set_fuse_bgrad(c->blas, 0); /* the default */
            const char *tag = fuse ? "bgrad-fused" : "bgrad-unfused";
            char what[80];
            snprintf(what, sizeof what, "%dx%dx%d %s dinp (+=)", m->N, m->IC, m->OC, tag);
            r |= check_dev(c, K, dt, what, di, dinp, NI, T2(dt, 2e-5, 1e-4, 2e-2, 1e-2));
            snprintf(what, sizeof what, "%dx%dx%d %s dw (+=)", m->N, m->IC, m->OC, tag);
            r |= check_f32(c, K, dt, what, dwg, dw, WO, T2(dt, 2e-5, 1e-4, 1e-4, 1e-4));
            snprintf(what, sizeof what, "%dx%dx%d %s dbias (+=)", m->N, m->IC, m->OC, tag);
            r |= check_f32(c, K, dt, what, dbg, db, m->OC, (tol){2e-5, 1e-5});
        }
        if (!m->gelu)
            continue;
        /* dinp through GELU: the gradient w.r.t. the pre-activation whose
         * GELU was this layer's input; written, not accumulated. */
        float *pre = halloc(c, NI), *tmp = zeros(c, NI), *dwx = zeros(c, WO);
        float *dpre = zeros(c, NI);
        KC_OOM(K);
        fill(c, pre, NI, -3, 3, dt);
        ref_matmul_bwd(tmp, dwx, NULL, dout, inp, w, m->N, m->IC, m->OC);
        round_dt(tmp, NI, dt); /* the unfused path stores dout @ w in dt first */
        ref_gelu_bwd(dpre, pre, tmp, NI);
        void *dprev = dup_dt(c, pre, NI, dt);
        KC_OOM(K);
        for (int fuse = 1; fuse >= 0; fuse--) {
            void *dd = poisoned(c, NI, dt);
            KC_OOM(K);
            kn_blas_set_fuse_gelu(c->blas, fuse);
            KC_TRY(K, kn_matmul_bwd_inp(c->blas, dd, ddout, dwv, dprev, m->N, m->IC, m->OC, 0, dt,
                                        c->s));
            SYNC(K);
            kn_blas_set_fuse_gelu(c->blas, 1);
            char what[64];
            snprintf(what, sizeof what, "%dx%dx%d dpre %s", m->N, m->IC, m->OC,
                     fuse ? "dgelu-fused" : "dgelu-unfused");
            r |= check_dev(c, K, dt, what, dd, dpre, NI, T2(dt, 2e-5, 1e-4, 2e-2, 2e-2));
        }
    }
    /* dbias alone over many rows: the split + ordered-partials path, with
     * the scalar kernel and then with the vector kernel allowed (OC 100 stays
     * scalar in bf16: not whole 8-element packs; 3001 rows leave a tail that
     * is not a multiple of four warps' steps). */
    const int dbN[4] = {3000, 3001, 3000, 3001}, dbOC[4] = {100, 768, 100, 768};
    for (int v = 0; v < 4; v++) {
        const int N = dbN[v], OC = dbOC[v], vec = v >= 2; /* scalar, then vector kernel */
        float *dout = halloc(c, (size_t)N * OC), *db = halloc(c, OC);
        KC_OOM(K);
        fill(c, dout, (size_t)N * OC, -1, 1, dt);
        fill(c, db, OC, -1, 1, KN_F32);
        void *ddout = dup_dt(c, dout, (size_t)N * OC, dt), *ddb = dup_dt(c, db, OC, KN_F32);
        size_t sb = kn_matmul_bwd_bias_scratch_bytes(N, OC);
        void *scratch = dalloc(c, sb);
        float *dwx = zeros(c, (size_t)OC), *inpx = zeros(c, (size_t)N);
        KC_OOM(K);
        ref_matmul_bwd(NULL, dwx, db, dout, inpx, NULL, N, 1, OC);
        kn_matmul_set_db_vec(vec);
        int e = kn_matmul_bwd_bias((float *)ddb, ddout, N, OC, dt, scratch, sb, c->s);
        kn_matmul_set_db_vec(0); /* the default */
        KC_TRY(K, e);
        SYNC(K);
        char what[64];
        snprintf(what, sizeof what, "%dx%d dbias split %s (+=)", N, OC, vec ? "vec" : "scalar");
        r |= check_f32(c, K, dt, what, ddb, db, OC, (tol){5e-4, 1e-5});
    }
    return r;
}

static const struct att_shape {
    int B, T, C, NH;
} att_shapes[] = {{2, 37, 96, 4}, {1, 130, 256, 2}, {2, 64, 192, 3}};

/* check_dev with the label "B.. T.. C.. NH.. <part>" of shape a. */
static int check_att(kc *c, const char *kernel, kn_dtype dt, const struct att_shape *a,
                     const char *part, const void *dev, const float *ref, size_t n, tol t)
{
    char what[64];
    snprintf(what, sizeof what, "B%d T%d C%d NH%d %s", a->B, a->T, a->C, a->NH, part);
    return check_dev(c, kernel, dt, what, dev, ref, n, t);
}

static int chk_attention_fwd(kc *c, kn_dtype dt)
{
    const char *K = "attention_fwd";
    int r = 0;
    for (size_t v = 0; v < sizeof att_shapes / sizeof att_shapes[0]; v++) {
        const struct att_shape *a = &att_shapes[v];
        size_t BTC = (size_t)a->B * a->T * a->C, ATT = (size_t)a->B * a->NH * a->T * a->T;
        float *qkv = halloc(c, 3 * BTC), *out = halloc(c, BTC), *att = halloc(c, ATT);
        KC_OOM(K);
        fill(c, qkv, 3 * BTC, -1, 1, dt);
        ref_attention_fwd(out, att, qkv, a->B, a->T, a->C, a->NH);
        size_t sb = kn_attention_fwd_scratch_bytes(a->B, a->T, a->C, a->NH, dt);
        void *dqkv = dup_dt(c, qkv, 3 * BTC, dt), *dout = poisoned(c, BTC, dt);
        void *datt = poisoned(c, ATT, dt), *scratch = dalloc(c, sb);
        KC_OOM(K);
        KC_TRY(K, kn_attention_fwd(c->blas, dout, datt, dqkv, a->B, a->T, a->C, a->NH, dt,
                                   scratch, sb, c->s));
        SYNC(K);
        r |= check_att(c, K, dt, a, "out", dout, out, BTC, T2(dt, 1e-5, 1e-4, 1e-2, 1e-2));
        r |= check_att(c, K, dt, a, "att", datt, att, ATT, T2(dt, 1e-6, 1e-4, 2e-3, 1e-2));
    }
    return r;
}

static int chk_attention_bwd(kc *c, kn_dtype dt)
{
    const char *K = "attention_bwd";
    int r = 0;
    for (size_t v = 0; v < sizeof att_shapes / sizeof att_shapes[0]; v++) {
        const struct att_shape *a = &att_shapes[v];
        size_t BTC = (size_t)a->B * a->T * a->C, ATT = (size_t)a->B * a->NH * a->T * a->T;
        float *qkv = halloc(c, 3 * BTC), *out = halloc(c, BTC), *att = halloc(c, ATT);
        float *dout = halloc(c, BTC), *dqkv = halloc(c, 3 * BTC), *dqkv0 = zeros(c, 3 * BTC);
        float *scr = halloc(c, ATT);
        KC_OOM(K);
        fill(c, qkv, 3 * BTC, -1, 1, dt);
        fill(c, dout, BTC, -1, 1, dt);
        fill(c, dqkv, 3 * BTC, -1, 1, dt);
        ref_attention_fwd(out, att, qkv, a->B, a->T, a->C, a->NH);
        round_dt(att, ATT, dt); /* the GPU keeps att in dt */
        void *dqkvv = dup_dt(c, qkv, 3 * BTC, dt), *ddout = dup_dt(c, dout, BTC, dt);
        void *datt = dup_dt(c, att, ATT, dt), *ddqkv = dup_dt(c, dqkv, 3 * BTC, dt);
        void *ddqkv0 = poisoned(c, 3 * BTC, dt);
        size_t sb = kn_attention_bwd_scratch_bytes(a->B, a->T, a->C, a->NH, dt);
        void *scratch = dalloc(c, sb);
        KC_OOM(K);
        ref_attention_bwd(dqkv, scr, dout, qkv, att, a->B, a->T, a->C, a->NH);
        ref_attention_bwd(dqkv0, scr, dout, qkv, att, a->B, a->T, a->C, a->NH);
        KC_TRY(K, kn_attention_bwd(c->blas, ddqkv, ddout, dqkvv, datt, a->B, a->T, a->C, a->NH, 1,
                                   dt, scratch, sb, c->s));
        KC_TRY(K, kn_attention_bwd(c->blas, ddqkv0, ddout, dqkvv, datt, a->B, a->T, a->C, a->NH,
                                   0, dt, scratch, sb, c->s));
        SYNC(K);
        tol t = T2(dt, 2e-5, 1e-4, 3e-2, 3e-2);
        r |= check_att(c, K, dt, a, "dqkv (+=)", ddqkv, dqkv, 3 * BTC, t);
        r |= check_att(c, K, dt, a, "dqkv (=)", ddqkv0, dqkv0, 3 * BTC, t);
    }
    return r;
}

/* Flash attention (bf16 only): out against the reference forward, dqkv
 * against the reference backward (which uses the exact float32 att). */
static const struct att_shape fa_shapes[] = {
    {2, 37, 128, 4}, {1, 130, 128, 2}, {2, 256, 192, 3}, {1, 64, 64, 1}};

static int fa_refuses_fp32(kc *c, const char *K)
{
    int e = kn_flash_attention_fwd(c->dbase, (float *)c->dbase, c->dbase, 1, 8, 64, 1, KN_F32,
                                   c->s);
    int ok = e == -EINVAL;
    printf("%-16s %-4s %-34s returns %d (-EINVAL expected) %s\n", K, "fp32", "refused", e,
           ok ? "PASS" : "FAIL");
    if (ok)
        c->npass++;
    else
        c->nfail++;
    return !ok;
}

static int chk_flash_fwd(kc *c, kn_dtype dt)
{
    const char *K = "flash_attn_fwd";
    if (dt != KN_BF16)
        return fa_refuses_fp32(c, K);
    int r = 0;
    for (size_t v = 0; v < sizeof fa_shapes / sizeof fa_shapes[0]; v++) {
        const struct att_shape *a = &fa_shapes[v];
        size_t BTC = (size_t)a->B * a->T * a->C, ATT = (size_t)a->B * a->NH * a->T * a->T;
        size_t BHT = (size_t)a->B * a->NH * a->T;
        float *qkv = halloc(c, 3 * BTC), *out = halloc(c, BTC), *att = halloc(c, ATT);
        KC_OOM(K);
        fill(c, qkv, 3 * BTC, -1, 1, dt);
        ref_attention_fwd(out, att, qkv, a->B, a->T, a->C, a->NH);
        void *dqkv = dup_dt(c, qkv, 3 * BTC, dt), *dout = poisoned(c, BTC, dt);
        void *dlse = poisoned(c, BHT, KN_F32);
        KC_OOM(K);
        KC_TRY(K, kn_flash_attention_fwd(dout, (float *)dlse, dqkv, a->B, a->T, a->C, a->NH, dt,
                                         c->s));
        SYNC(K);
        r |= check_att(c, K, dt, a, "out", dout, out, BTC, (tol){1e-2, 1e-2});
    }
    return r;
}

static int chk_flash_bwd(kc *c, kn_dtype dt)
{
    const char *K = "flash_attn_bwd";
    if (dt != KN_BF16)
        return 0; /* the forward's check reports the refusal */
    int r = 0;
    for (size_t v = 0; v < sizeof fa_shapes / sizeof fa_shapes[0]; v++) {
        const struct att_shape *a = &fa_shapes[v];
        size_t BTC = (size_t)a->B * a->T * a->C, ATT = (size_t)a->B * a->NH * a->T * a->T;
        size_t BHT = (size_t)a->B * a->NH * a->T;
        float *qkv = halloc(c, 3 * BTC), *out = halloc(c, BTC), *att = halloc(c, ATT);
        float *dout = halloc(c, BTC), *dqkv = halloc(c, 3 * BTC), *dqkv0 = zeros(c, 3 * BTC);
        float *scr = halloc(c, ATT);
        KC_OOM(K);
        fill(c, qkv, 3 * BTC, -1, 1, dt);
        fill(c, dout, BTC, -1, 1, dt);
        fill(c, dqkv, 3 * BTC, -1, 1, dt);
        void *dqkvv = dup_dt(c, qkv, 3 * BTC, dt), *ddout = dup_dt(c, dout, BTC, dt);
        void *dout_f = dalloc(c, BTC * 2), *dlse = dalloc(c, BHT * 4);
        void *ddqkv = dup_dt(c, dqkv, 3 * BTC, dt), *ddqkv0 = poisoned(c, 3 * BTC, dt);
        size_t sb = kn_flash_attention_bwd_scratch_bytes(a->B, a->T, a->C, a->NH);
        void *scratch = dalloc(c, sb);
        KC_OOM(K);
        ref_attention_fwd(out, att, qkv, a->B, a->T, a->C, a->NH);
        ref_attention_bwd(dqkv, scr, dout, qkv, att, a->B, a->T, a->C, a->NH);
        ref_attention_bwd(dqkv0, scr, dout, qkv, att, a->B, a->T, a->C, a->NH);
        KC_TRY(K, kn_flash_attention_fwd(dout_f, (float *)dlse, dqkvv, a->B, a->T, a->C, a->NH, dt,
                                         c->s));
        KC_TRY(K, kn_flash_attention_bwd(ddqkv, ddout, dqkvv, dout_f, (const float *)dlse, a->B,
                                         a->T, a->C, a->NH, 1, dt, scratch, sb, c->s));
        KC_TRY(K, kn_flash_attention_bwd(ddqkv0, ddout, dqkvv, dout_f, (const float *)dlse, a->B,
                                         a->T, a->C, a->NH, 0, dt, scratch, sb, c->s));
        SYNC(K);
        tol t = {3e-2, 3e-2};
        r |= check_att(c, K, dt, a, "dqkv (+=)", ddqkv, dqkv, 3 * BTC, t);
        r |= check_att(c, K, dt, a, "dqkv (=)", ddqkv0, dqkv0, 3 * BTC, t);
    }
    return r;
}

/* Element-wise kernels run on an aligned and a misaligned (offset by one
 * element: the scalar path) view, with a length that is no multiple of 8. */
static int chk_gelu(kc *c, kn_dtype dt)
{
    const char *K = "gelu";
    const size_t n = 10007;
    int r = 0;
    for (int off = 0; off < 2; off++) {
        float *x = halloc(c, n), *out = halloc(c, n), *dout = halloc(c, n);
        float *dinp = halloc(c, n), *dinp0 = zeros(c, n);
        KC_OOM(K);
        fill(c, x, n, -5, 5, dt);
        fill(c, dout, n, -1, 1, dt);
        fill(c, dinp, n, -1, 1, dt);
        ref_gelu_fwd(out, x, n);
        size_t es = kn_dtype_size(dt);
        char *dx = (char *)dalloc(c, (n + 1) * es), *dy = (char *)poisoned(c, n + 1, dt);
        char *dd = (char *)dalloc(c, (n + 1) * es), *dg = (char *)dalloc(c, (n + 1) * es);
        char *dg0 = (char *)poisoned(c, n + 1, dt);
        KC_OOM(K);
        void *px = dx + off * es, *py = dy + off * es, *pd = dd + off * es, *pg = dg + off * es;
        void *pg0 = dg0 + off * es;
        if (upload(c, px, x, n, dt) || upload(c, pd, dout, n, dt) || upload(c, pg, dinp, n, dt))
            return kc_error(c, K, "upload failed");
        ref_gelu_bwd(dinp, x, dout, n);
        ref_gelu_bwd(dinp0, x, dout, n);
        KC_TRY(K, kn_gelu_fwd(py, px, n, dt, c->s));
        KC_TRY(K, kn_gelu_bwd(pg, px, pd, n, 1, dt, c->s));
        KC_TRY(K, kn_gelu_bwd(pg0, px, pd, n, 0, dt, c->s));
        SYNC(K);
        tol t = T2(dt, 1e-6, 1e-5, 1e-3, 8e-3);
        /* The reference's tanh (1 - 2/(1 + e^2u)) saturates to exactly -1
         * near x = -5, where gelu' is still about -2e-6: abs 5e-6 in fp32. */
        tol tb = T2(dt, 5e-6, 1e-5, 1e-3, 8e-3);
        r |= check_dev(c, K, dt, off ? "fwd misaligned" : "fwd", py, out, n, t);
        r |= check_dev(c, K, dt, off ? "bwd (+=) misaligned" : "bwd (+=)", pg, dinp, n, tb);
        r |= check_dev(c, K, dt, off ? "bwd (=) misaligned" : "bwd (=)", pg0, dinp0, n, tb);
    }
    return r;
}

static int chk_residual(kc *c, kn_dtype dt)
{
    const char *K = "residual";
    const size_t n = 10007;
    int r = 0;
    for (int off = 0; off < 2; off++) {
        float *a = halloc(c, n), *b = halloc(c, n), *out = halloc(c, n);
        KC_OOM(K);
        fill(c, a, n, -2, 2, dt);
        fill(c, b, n, -2, 2, dt);
        ref_residual_fwd(out, a, b, n);
        size_t es = kn_dtype_size(dt);
        char *da = (char *)dalloc(c, (n + 1) * es), *db = (char *)dalloc(c, (n + 1) * es);
        char *dy = (char *)poisoned(c, n + 1, dt);
        KC_OOM(K);
        if (upload(c, da + off * es, a, n, dt) || upload(c, db + off * es, b, n, dt))
            return kc_error(c, K, "upload failed");
        KC_TRY(K, kn_residual_fwd(dy + off * es, da + off * es, db + off * es, n, dt, c->s));
        SYNC(K);
        r |= check_dev(c, K, dt, off ? "out misaligned" : "out", dy + off * es, out, n,
                       T2(dt, 0, 1e-7, 0, 4e-3));
    }
    return r;
}

/* The fused residual + LayerNorm: C 96 and 1600 take the vectorised kernel
 * (1600: 7 packs per lane in bf16, 16 in float32), 770 the two-pass
 * fallback. The kernel normalises res as stored (rounded to dt), so the
 * reference LayerNorm runs on the rounded res. */
static int chk_residual_ln(kc *c, kn_dtype dt)
{
    const char *K = "residual_ln_fwd";
    const int Ns[3] = {74, 33, 40}, Cs[3] = {96, 770, 1600};
    int r = 0;
    for (int v = 0; v < 3; v++) {
        int N = Ns[v], C = Cs[v];
        size_t NC = (size_t)N * C;
        float *a = halloc(c, NC), *b = halloc(c, NC), *w = halloc(c, C), *bias = halloc(c, C);
        float *res = halloc(c, NC), *out = halloc(c, NC), *mean = halloc(c, N);
        float *rstd = halloc(c, N);
        KC_OOM(K);
        fill(c, a, NC, -1.5f, 2.5f, dt);
        fill(c, b, NC, -1.0f, 1.0f, dt);
        fill(c, w, C, 0.5f, 1.5f, dt);
        fill(c, bias, C, -0.5f, 0.5f, dt);
        ref_residual_layernorm_fwd(res, out, mean, rstd, a, b, w, bias, N, C);
        round_dt(res, NC, dt);
        ref_layernorm_fwd(out, mean, rstd, res, w, bias, N, C);
        void *da = dup_dt(c, a, NC, dt), *db = dup_dt(c, b, NC, dt), *dw = dup_dt(c, w, C, dt);
        void *dbias = dup_dt(c, bias, C, dt);
        void *dres = poisoned(c, NC, dt), *dout = poisoned(c, NC, dt);
        void *dmean = poisoned(c, N, KN_F32), *drstd = poisoned(c, N, KN_F32);
        KC_OOM(K);
        KC_TRY(K, kn_residual_layernorm_fwd(dres, dout, (float *)dmean, (float *)drstd, da, db,
                                            dw, dbias, N, C, dt, c->s));
        SYNC(K);
        char what[64];
        snprintf(what, sizeof what, "N%d C%d res", N, C);
        r |= check_dev(c, K, dt, what, dres, res, NC, T2(dt, 0, 1e-7, 0, 4e-3));
        snprintf(what, sizeof what, "N%d C%d out", N, C);
        r |= check_dev(c, K, dt, what, dout, out, NC, T2(dt, 1e-5, 1e-5, 1e-2, 8e-3));
        snprintf(what, sizeof what, "N%d C%d mean", N, C);
        r |= check_f32(c, K, dt, what, dmean, mean, N, (tol){1e-6, 1e-5});
        snprintf(what, sizeof what, "N%d C%d rstd", N, C);
        r |= check_f32(c, K, dt, what, drstd, rstd, N, (tol){1e-6, 1e-5});
    }
    return r;
}

static int chk_softmax_xent(kc *c, kn_dtype dt)
{
    const char *K = "softmax_xent";
    const struct {
        int N, V, Vp;
    } shp[4] = {{74, 1000, 1024}, {37, 1001, 1003}, {6, 50257, 50304}, {3, 70000, 70016}};
    /* bf16 with the registers kernel allowed (kn_xent_set_reg): 1024 and
     * 50304 take it (2 and 7 packs per thread), 1003 the scalar two-read
     * kernel, 70016 (above the registers' 65536) the vectorised two-read one */
    int r = 0;
    for (int vr = 0; vr < 8; vr++) {
        const int v = vr % 4, reg = vr >= 4; /* two-read kernels, then registers allowed */
        int N = shp[v].N, V = shp[v].V, Vp = shp[v].Vp;
        size_t NV = (size_t)N * Vp;
        float *logits = halloc(c, NV), *dl = halloc(c, NV), *loss = halloc(c, N);
        int32_t *tgt = (int32_t *)halloc(c, N);
        int *corr = (int *)halloc(c, N);
        KC_OOM(K);
        for (int n = 0; n < N; n++) {
            for (int j = 0; j < Vp; j++)
                logits[(size_t)n * Vp + j] = j < V ? rnd(c, -4, 4) : NAN; /* padding: never read */
            tgt[n] = (int32_t)(rng_next(c) % V);
            if (n % 5 == 0) /* make some predictions right */
                logits[(size_t)n * Vp + tgt[n]] = 6.0f;
        }
        round_dt(logits, NV, dt);
        const float dloss = 1.0f / N;
        ref_softmax_xent(loss, dl, corr, logits, tgt, N, V, Vp, dloss);
        void *dlog = dup_dt(c, logits, NV, dt), *ddl = poisoned(c, NV, dt);
        void *dloss_v = poisoned(c, N, KN_F32), *dcorr = poisoned(c, N, KN_F32);
        void *dtgt = dalloc(c, (size_t)N * 4);
        void *dsum = poisoned(c, 2, KN_F32);
        KC_OOM(K);
        KC_CUDA(K, cudaMemcpy(dtgt, tgt, (size_t)N * 4, cudaMemcpyHostToDevice));
        kn_xent_set_reg(reg);
        KC_TRY(K, kn_softmax_xent((float *)dloss_v, ddl, (int *)dcorr, dlog, (const int32_t *)dtgt,
                                  N, V, Vp, dloss, dt, c->s));
        char what[64];
        tol tl = T2(dt, 1e-5, 1e-5, 1e-4, 1e-4), tg = T2(dt, 1e-7, 1e-5, 1e-5, 1e-2);
        SYNC(K);
        const char *kt = reg ? " reg" : "";
        snprintf(what, sizeof what, "N%d V%d Vp%d%s losses", N, V, Vp, kt);
        r |= check_f32(c, K, dt, what, dloss_v, loss, N, tl);
        snprintf(what, sizeof what, "N%d V%d Vp%d%s dlogits", N, V, Vp, kt);
        r |= check_dev(c, K, dt, what, ddl, dl, NV, tg);
        snprintf(what, sizeof what, "N%d V%d Vp%d%s correct", N, V, Vp, kt);
        r |= check_ints(c, K, dt, what, (const int *)dcorr, corr, N);
        /* In place: dlogits over the logits. */
        KC_TRY(K, kn_softmax_xent((float *)dloss_v, dlog, NULL, dlog, (const int32_t *)dtgt, N, V,
                                  Vp, dloss, dt, c->s));
        /* Sums (write, then accumulate onto it: twice the totals). */
        KC_TRY(K, kn_xent_sum((float *)dsum, (int *)dsum + 1, (const float *)dloss_v,
                              (const int *)dcorr, N, 0, c->s));
        KC_TRY(K, kn_xent_sum((float *)dsum, (int *)dsum + 1, (const float *)dloss_v,
                              (const int *)dcorr, N, 1, c->s));
        SYNC(K);
        kn_xent_set_reg(0); /* the default */
        snprintf(what, sizeof what, "N%d V%d Vp%d%s dlogits in place", N, V, Vp, kt);
        r |= check_dev(c, K, dt, what, dlog, dl, NV, tg);
        double ls = 0.0;
        int cs = 0;
        for (int n = 0; n < N; n++) {
            ls += loss[n];
            cs += corr[n];
        }
        float lsf = (float)(2.0 * ls);
        int csi = 2 * cs;
        snprintf(what, sizeof what, "N%d xent_sum loss (2x)", N);
        r |= check_dev(c, K, KN_F32, what, dsum, &lsf, 1, (tol){1e-5, 1e-5});
        snprintf(what, sizeof what, "N%d xent_sum correct (2x)", N);
        r |= check_ints(c, K, KN_F32, what, (const int *)dsum + 1, &csi, 1);
    }
    return r;
}

static int chk_global_norm(kc *c, kn_dtype dt)
{
    const char *K = "global_norm";
    (void)dt;
    const size_t ns[3] = {5, 4099, 1000003};
    int r = 0;
    char what0[80];
    for (int v = 0; v < 3; v++) {
        size_t n = ns[v];
        float *g = halloc(c, n);
        KC_OOM(K);
        fill(c, g, n, -0.01f, 0.01f, KN_F32);
        double norm = sqrt(ref_sum_squares(g, n));
        float ref[2] = {(float)norm, ref_clip_factor(norm, (float)(norm * 0.5))};
        float ref1 = ref_clip_factor(norm, 0.0f);
        void *dg = dup_dt(c, g, n, KN_F32), *dout = poisoned(c, 3, KN_F32);
        void *dout2 = poisoned(c, 2, KN_F32);
        const float half = (float)(norm * 0.5);
        void *dmax = dup_dt(c, &half, 1, KN_F32);   /* the _dev variant's limit */
        size_t sb = kn_global_norm_scratch_bytes();
        void *scratch = dalloc(c, sb);
        KC_OOM(K);
        KC_TRY(K, kn_global_norm((float *)dout, (float *)dout + 1, (const float *)dg, n, half,
                                 scratch, sb, c->s));
        KC_TRY(K, kn_global_norm(NULL, (float *)dout + 2, (const float *)dg, n, 0.0f, scratch, sb,
                                 c->s));
        KC_TRY(K, kn_global_norm_dev((float *)dout2, (float *)dout2 + 1, (const float *)dg, n,
                                     (const float *)dmax, scratch, sb, c->s));
        SYNC(K);
        snprintf(what0, sizeof what0, "n=%zu _dev: norm, clip(max=norm/2 on the device)", n);
        r |= check_dev(c, K, KN_F32, what0, dout2, ref, 2, (tol){0, 1e-6});
        char what[64];
        snprintf(what, sizeof what, "n=%zu norm, clip(max=norm/2)", n);
        r |= check_dev(c, K, KN_F32, what, dout, ref, 2, (tol){0, 1e-6});
        snprintf(what, sizeof what, "n=%zu clip(max=0) == 1", n);
        r |= check_dev(c, K, KN_F32, what, (float *)dout + 2, &ref1, 1, (tol){0, 0});
    }
    return r;
}

static int chk_adamw(kc *c, kn_dtype dt)
{
    const char *K = "adamw";
    const size_t n = 100003;
    float *p = halloc(c, n), *g = halloc(c, n), *m = halloc(c, n), *v = halloc(c, n);
    KC_OOM(K);
    fill(c, p, n, -1, 1, KN_F32);
    fill(c, g, n, -0.1f, 0.1f, KN_F32);
    fill(c, m, n, -0.01f, 0.01f, KN_F32);
    fill(c, v, n, 0, 1e-3f, KN_F32);
    void *dp = dup_dt(c, p, n, KN_F32), *dg = dup_dt(c, g, n, KN_F32);
    void *dm = dup_dt(c, m, n, KN_F32), *dv = dup_dt(c, v, n, KN_F32);
    void *dcopy = poisoned(c, n, dt);
    const float scale = 0.7f;
    void *dscale = dup_dt(c, &scale, 1, KN_F32);
    KC_OOM(K);
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    const int t = 7;
    ref_adamw(p, g, m, v, n, lr, b1, b2, eps, wd, t, scale);
    KC_TRY(K, kn_adamw((float *)dp, (const float *)dg, (float *)dm, (float *)dv, dcopy, dt, n, lr,
                       b1, b2, eps, wd, t, (const float *)dscale, c->s));
    SYNC(K);
    tol tt = {1e-7, 1e-6};
    int r = check_f32(c, K, dt, "p (fp32 master)", dp, p, n, tt);
    r |= check_f32(c, K, dt, "m", dm, m, n, tt);
    r |= check_f32(c, K, dt, "v", dv, v, n, tt);
    r |= check_dev(c, K, dt, "p copy", dcopy, p, n, T2(dt, 1e-7, 1e-6, 0, 4e-3));
    return r;
}

/* kn_adamw_flat: several tensors back to back (sizes that are not multiples
 * of 4, an empty one, boundaries inside a 4-element chunk), decay on some,
 * hyper-parameters from device memory; the reference updates each tensor
 * with ref_adamw and its own decay. */
static int chk_adamw_flat(kc *c, kn_dtype dt)
{
    const char *K = "adamw_flat";
    static const size_t sizes[] = {1001, 0, 4096, 3, 77777, 6, 13};
    enum { NT = sizeof sizes / sizeof sizes[0] };
    kn_adamw_tensors ts = {.n = NT, .decay_mask = 0x55};
    size_t n = 0;
    for (int i = 0; i < NT; i++)
        ts.end[i] = n += sizes[i];
    float *p = halloc(c, n), *g = halloc(c, n), *m = halloc(c, n), *v = halloc(c, n);
    KC_OOM(K);
    fill(c, p, n, -1, 1, KN_F32);
    fill(c, g, n, -0.1f, 0.1f, KN_F32);
    fill(c, m, n, -0.01f, 0.01f, KN_F32);
    fill(c, v, n, 0, 1e-3f, KN_F32);
    void *dp = dup_dt(c, p, n, KN_F32), *dg = dup_dt(c, g, n, KN_F32);
    void *dm = dup_dt(c, m, n, KN_F32), *dv = dup_dt(c, v, n, KN_F32);
    void *dcopy = poisoned(c, n, dt);
    const float scale = 0.7f, lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    const int t = 7;
    kn_adamw_hp hp;
    kn_adamw_hp_set(&hp, lr, b1, b2, eps, wd, t);
    void *dscale = dup_dt(c, &scale, 1, KN_F32);
    void *dhp = dup_dt(c, (const float *)&hp, sizeof hp / sizeof(float), KN_F32);
    KC_OOM(K);
    for (int i = 0, o = 0; i < NT; o += (int)sizes[i], i++)
        ref_adamw(p + o, g + o, m + o, v + o, sizes[i], lr, b1, b2, eps,
                  (ts.decay_mask >> i) & 1 ? wd : 0.0f, t, scale);
    KC_TRY(K, kn_adamw_flat((float *)dp, (const float *)dg, (float *)dm, (float *)dv, dcopy, dt,
                            &ts, (const kn_adamw_hp *)dhp, (const float *)dscale, c->s));
    SYNC(K);
    tol tt = {1e-7, 1e-6};
    int r = check_f32(c, K, dt, "p (fp32 master)", dp, p, n, tt);
    r |= check_f32(c, K, dt, "m", dm, m, n, tt);
    r |= check_f32(c, K, dt, "v", dv, v, n, tt);
    r |= check_dev(c, K, dt, "p copy", dcopy, p, n, T2(dt, 1e-7, 1e-6, 0, 4e-3));
    return r;
}

static int chk_convert(kc *c, kn_dtype dt)
{
    const char *K = "convert";
    (void)dt;
    const size_t n = 10001;
    uint16_t *in = (uint16_t *)halloc(c, n);
    int *ref = (int *)halloc(c, n);
    float *x = halloc(c, n), *xr = halloc(c, n);
    KC_OOM(K);
    for (size_t i = 0; i < n; i++) {
        in[i] = (uint16_t)(i < 3 ? 65535 - i : rng_next(c));
        ref[i] = in[i];
    }
    fill(c, x, n, -100, 100, KN_F32);
    memcpy(xr, x, n * sizeof(float));
    round_dt(xr, n, KN_BF16);
    void *din = dalloc(c, n * 2), *dout = poisoned(c, n, KN_F32);
    void *dx = dup_dt(c, x, n, KN_F32), *db = poisoned(c, n, KN_BF16), *dx2 = poisoned(c, n, KN_F32);
    KC_OOM(K);
    KC_CUDA(K, cudaMemcpy(din, in, n * 2, cudaMemcpyHostToDevice));
    KC_TRY(K, kn_widen_u16((int32_t *)dout, (const uint16_t *)din, n, c->s));
    KC_TRY(K, kn_cast_f32_to_bf16(db, (const float *)dx, n, c->s));
    KC_TRY(K, kn_cast_bf16_to_f32((float *)dx2, db, n, c->s));
    SYNC(K);
    int r = check_ints(c, K, KN_F32, "widen_u16", (const int *)dout, ref, n);
    r |= check_dev(c, K, KN_BF16, "f32->bf16 (RNE)", db, xr, n, (tol){0, 0});
    r |= check_dev(c, K, KN_F32, "bf16->f32", dx2, xr, n, (tol){0, 0});
    return r;
}

/* ------------------------------------------------------------------ */
/* Benchmarks at GPT-2 124M shapes.                                     */

enum { GPT_T = 1024, GPT_C = 768, GPT_NH = 12, GPT_V = 50257, GPT_VP = 50304 };

typedef int (*bench_call)(kc *c, void *arg);

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median µs of c->reps calls of fn (3 warm-ups first), each after an L2
 * flush; prints the line with bytes -> GB/s or flops -> TFLOP/s. */
static int bench_run(kc *c, const char *kernel, kn_dtype dt, const char *what, bench_call fn,
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
    qsort(ms, (size_t)reps, sizeof(float), cmp_float);
    double med = ms[reps / 2] * 1e-3; /* seconds */
    printf("%-16s %-4s %-40s %10.1f us", kernel, kn_dtype_name(dt), what, med * 1e6);
    if (flops > 0)
        printf("  %8.1f TFLOP/s", flops / med * 1e-12);
    if (bytes > 0)
        printf("  %8.1f GB/s", bytes / med * 1e-9);
    printf("\n");
    c->npass++;
    return 0;
}

/* Benchmark argument blocks: pointers and shapes for one call. */
typedef struct bargs {
    kn_dtype dt;
    int B, T, C, NH, V, Vp, N, IC, OC, flag;
    size_t n, sb;
    void *a, *b, *d, *e, *f, *g, *h, *i, *j, *scratch;
} bargs;

static int b_encoder_fwd(kc *c, void *v)
{
    bargs *a = v;
    return kn_encoder_fwd(a->a, a->b, a->d, a->e, a->B, a->T, a->C, a->V, a->dt, c->s);
}
static int b_encoder_bwd(kc *c, void *v)
{
    bargs *a = v;
    return kn_encoder_bwd(a->f, a->g, a->a, a->b, a->B, a->T, a->C, a->V, a->dt, a->scratch,
                          a->sb, c->s);
}
static int b_ln_fwd(kc *c, void *v)
{
    bargs *a = v;
    return kn_layernorm_fwd(a->a, a->f, a->g, a->b, a->d, a->e, a->N, a->C, a->dt, c->s);
}
static int b_ln_bwd(kc *c, void *v)
{
    bargs *a = v;
    return kn_layernorm_bwd(a->h, a->i, a->j, a->a, a->b, a->d, a->f, a->g, a->N, a->C, a->flag,
                            a->dt, a->scratch, a->sb, c->s);
}
static int b_mm_fwd(kc *c, void *v)
{
    bargs *a = v;
    return kn_matmul_fwd(c->blas, a->a, a->flag ? a->h : NULL, a->b, a->d, a->e, a->N, a->IC,
                         a->OC, a->dt, c->s);
}
static int b_mm_bwd_inp(kc *c, void *v)
{
    bargs *a = v;
    return kn_matmul_bwd_inp(c->blas, a->f, a->a, a->d, a->flag ? a->h : NULL, a->N, a->IC, a->OC,
                             0, a->dt, c->s);
}
static int b_mm_bwd_w(kc *c, void *v)
{
    bargs *a = v;
    return kn_matmul_bwd_weight(c->blas, a->g, a->a, a->b, a->N, a->IC, a->OC, a->dt, c->s);
}
static int b_mm_bwd_b(kc *c, void *v)
{
    bargs *a = v;
    return kn_matmul_bwd_bias(a->e, a->a, a->N, a->OC, a->dt, a->scratch, a->sb, c->s);
}
static int b_att_fwd(kc *c, void *v)
{
    bargs *a = v;
    return kn_attention_fwd(c->blas, a->a, a->d, a->b, a->B, a->T, a->C, a->NH, a->dt, a->scratch,
                            a->sb, c->s);
}
static int b_att_bwd(kc *c, void *v)
{
    bargs *a = v;
    return kn_attention_bwd(c->blas, a->e, a->a, a->b, a->d, a->B, a->T, a->C, a->NH, 0, a->dt,
                            a->scratch, a->sb, c->s);
}
static int b_gelu_fwd(kc *c, void *v)
{
    bargs *a = v;
    return kn_gelu_fwd(a->a, a->b, a->n, a->dt, c->s);
}
static int b_gelu_bwd(kc *c, void *v)
{
    bargs *a = v;
    return kn_gelu_bwd(a->d, a->b, a->a, a->n, 0, a->dt, c->s);
}
static int b_residual(kc *c, void *v)
{
    bargs *a = v;
    return kn_residual_fwd(a->d, a->a, a->b, a->n, a->dt, c->s);
}
static int b_xent(kc *c, void *v)
{
    bargs *a = v;
    return kn_softmax_xent(a->f, a->a, a->g, a->a, a->b, a->N, a->V, a->Vp, 1.0f / a->N, a->dt,
                           c->s);
}
static int b_norm(kc *c, void *v)
{
    bargs *a = v;
    return kn_global_norm(a->g, (float *)a->g + 1, a->b, a->n, 1.0f, a->scratch, a->sb, c->s);
}
static int b_adamw(kc *c, void *v)
{
    bargs *a = v;
    return kn_adamw(a->a, a->b, a->d, a->e, a->f, a->dt, a->n, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 3,
                    (const float *)a->g + 1, c->s);
}
static int b_adamw_flat(kc *c, void *v)
{
    bargs *a = v;
    kn_adamw_tensors ts = {.n = 2, .end = {a->n / 2, a->n}, .decay_mask = 1};
    return kn_adamw_flat(a->a, a->b, a->d, a->e, a->f, a->dt, &ts, a->h,
                         (const float *)a->g + 1, c->s);
}
static int b_widen(kc *c, void *v)
{
    bargs *a = v;
    return kn_widen_u16(a->a, a->b, a->n, c->s);
}

#define DFILL(ptr, n, dt, lo, hi) KC_TRY(K, kc_fill_uniform(ptr, n, dt, c->seed + __LINE__, lo, hi, c->s))

static int bench_encoder(kc *c, kn_dtype dt)
{
    const char *K = "encoder";
    bargs a = {.dt = dt, .B = c->batch, .T = GPT_T, .C = GPT_C, .V = GPT_V};
    size_t N = (size_t)a.B * a.T, es = kn_dtype_size(dt);
    a.a = dalloc(c, N * a.C * es);
    a.b = dalloc(c, N * 4);
    a.d = dalloc(c, (size_t)GPT_VP * a.C * es);
    a.e = dalloc(c, (size_t)a.T * a.C * es);
    a.f = dalloc(c, (size_t)GPT_VP * a.C * 4);
    a.g = dalloc(c, (size_t)a.T * a.C * 4);
    KC_OOM(K);
    KC_TRY(K, kn_encoder_bwd_scratch_bytes(&a.sb, a.B, a.T, a.V));
    a.scratch = dalloc(c, a.sb);
    KC_OOM(K);
    KC_TRY(K, kc_fill_tokens(a.b, N, a.V, c->seed, c->s));
    DFILL(a.d, (size_t)GPT_VP * a.C, dt, -1, 1);
    DFILL(a.e, (size_t)a.T * a.C, dt, -1, 1);
    DFILL(a.a, N * a.C, dt, -1, 1);
    KC_CUDA(K, cudaMemsetAsync(a.f, 0, (size_t)GPT_VP * a.C * 4, c->s));
    KC_CUDA(K, cudaMemsetAsync(a.g, 0, (size_t)a.T * a.C * 4, c->s));
    double bytes = (double)N * a.C * es * 2 + N * 4;
    int r = bench_run(c, "encoder_fwd", dt, "B*T x C", b_encoder_fwd, &a, bytes, 0);
    /* Backward: dout read once, dwte rows read+written once per distinct id. */
    bytes = (double)N * a.C * es + N * 8 + 2.0 * N * a.C * 4;
    r |= bench_run(c, "encoder_bwd", dt, "B*T x C (sort + sums)", b_encoder_bwd, &a, bytes, 0);
    return r;
}

static int bench_layernorm(kc *c, kn_dtype dt)
{
    const char *K = "layernorm";
    bargs a = {.dt = dt, .N = c->batch * GPT_T, .C = GPT_C, .flag = 1};
    size_t NC = (size_t)a.N * a.C, es = kn_dtype_size(dt);
    a.a = dalloc(c, NC * es);          /* out (fwd) / dout (bwd) */
    a.b = dalloc(c, NC * es);          /* inp */
    a.d = dalloc(c, (size_t)a.C * es); /* w */
    a.e = dalloc(c, (size_t)a.C * es); /* b */
    a.f = dalloc(c, (size_t)a.N * 4);  /* mean */
    a.g = dalloc(c, (size_t)a.N * 4);  /* rstd */
    a.h = dalloc(c, NC * es);          /* dinp */
    a.i = dalloc(c, (size_t)a.C * 4);  /* dw */
    a.j = dalloc(c, (size_t)a.C * 4);  /* db */
    a.sb = kn_layernorm_bwd_scratch_bytes(a.N, a.C);
    a.scratch = dalloc(c, a.sb);
    KC_OOM(K);
    DFILL(a.b, NC, dt, -2, 2);
    DFILL(a.d, (size_t)a.C, dt, 0.5f, 1.5f);
    DFILL(a.e, (size_t)a.C, dt, -0.5f, 0.5f);
    DFILL(a.h, NC, dt, -1, 1);
    KC_CUDA(K, cudaMemsetAsync(a.i, 0, (size_t)a.C * 4, c->s));
    KC_CUDA(K, cudaMemsetAsync(a.j, 0, (size_t)a.C * 4, c->s));
    int r = bench_run(c, "layernorm_fwd", dt, "N=B*T C=768", b_ln_fwd, &a, 2.0 * NC * es, 0);
    DFILL(a.a, NC, dt, -1, 1);
    r |= bench_run(c, "layernorm_bwd", dt, "N=B*T C=768 (dinp +=)", b_ln_bwd, &a, 4.0 * NC * es,
                   0);
    return r;
}

static int bench_matmul(kc *c, kn_dtype dt)
{
    const char *K = "matmul";
    const struct {
        int IC, OC, gelu;
        const char *name;
    } shp[4] = {{768, 2304, 0, "qkv 768->2304"},
                {768, 3072, 1, "fc 768->3072"},
                {3072, 768, 0, "proj 3072->768"},
                {768, GPT_VP, 0, "lm head 768->50304"}};
    int r = 0;
    for (int v = 0; v < 4; v++) {
        arena_reset(c);
        bargs a = {.dt = dt, .N = c->batch * GPT_T, .IC = shp[v].IC, .OC = shp[v].OC,
                   .flag = shp[v].gelu};
        size_t es = kn_dtype_size(dt), NI = (size_t)a.N * a.IC, NO = (size_t)a.N * a.OC;
        size_t WO = (size_t)a.IC * a.OC;
        a.a = dalloc(c, NO * es); /* out / dout */
        a.b = dalloc(c, NI * es); /* inp */
        a.d = dalloc(c, WO * es); /* w */
        a.e = dalloc(c, (size_t)a.OC * 4); /* bias (dt) / dbias (fp32) */
        a.f = dalloc(c, NI * es); /* dinp */
        a.g = dalloc(c, WO * 4);  /* dw */
        a.h = a.flag ? dalloc(c, NO * es) : NULL; /* pre-gelu */
        a.sb = kn_matmul_bwd_bias_scratch_bytes(a.N, a.OC);
        a.scratch = a.sb ? dalloc(c, a.sb) : NULL;
        KC_OOM(K);
        float ws = 1.0f / sqrtf((float)a.IC);
        DFILL(a.b, NI, dt, -1, 1);
        DFILL(a.d, WO, dt, -ws, ws);
        DFILL(a.e, (size_t)a.OC, dt, -0.1f, 0.1f);
        KC_CUDA(K, cudaMemsetAsync(a.g, 0, WO * 4, c->s));
        double fl = 2.0 * a.N * a.IC * a.OC;
        char what[64];
        snprintf(what, sizeof what, "fwd %s%s", shp[v].name, a.flag ? " +gelu" : "");
        r |= bench_run(c, "matmul_fwd", dt, what, b_mm_fwd, &a, 0, fl);
        DFILL(a.a, NO, dt, -1, 1);
        if (a.flag)
            DFILL(a.h, NO, dt, -2, 2);
        /* Plain bwd_inp here (the dGELU variant is timed below). */
        snprintf(what, sizeof what, "bwd_inp %s", shp[v].name);
        a.flag = 0;
        r |= bench_run(c, "matmul_bwd", dt, what, b_mm_bwd_inp, &a, 0, fl);
        snprintf(what, sizeof what, "bwd_weight %s", shp[v].name);
        r |= bench_run(c, "matmul_bwd", dt, what, b_mm_bwd_w, &a, 0, fl);
        snprintf(what, sizeof what, "bwd_bias %s", shp[v].name);
        a.e = dalloc(c, (size_t)a.OC * 4);
        KC_OOM(K);
        r |= bench_run(c, "matmul_bwd", dt, what, b_mm_bwd_b, &a, (double)NO * es, 0);
    }
    /* proj backward through GELU (dGELU epilogue): dinp [N, 3072]. */
    {
        arena_reset(c);
        bargs a = {.dt = dt, .N = c->batch * GPT_T, .IC = 3072, .OC = 768, .flag = 1};
        size_t es = kn_dtype_size(dt);
        a.a = dalloc(c, (size_t)a.N * a.OC * es);
        a.d = dalloc(c, (size_t)a.IC * a.OC * es);
        a.f = dalloc(c, (size_t)a.N * a.IC * es);
        a.h = dalloc(c, (size_t)a.N * a.IC * es);
        KC_OOM(K);
        DFILL(a.a, (size_t)a.N * a.OC, dt, -1, 1);
        DFILL(a.d, (size_t)a.IC * a.OC, dt, -0.02f, 0.02f);
        DFILL(a.h, (size_t)a.N * a.IC, dt, -2, 2);
        r |= bench_run(c, "matmul_bwd", dt, "bwd_inp proj 3072->768 +dgelu", b_mm_bwd_inp, &a, 0,
                       2.0 * a.N * a.IC * a.OC);
    }
    return r;
}

static int bench_attention(kc *c, kn_dtype dt)
{
    const char *K = "attention";
    bargs a = {.dt = dt, .B = c->batch, .T = GPT_T, .C = GPT_C, .NH = GPT_NH};
    size_t es = kn_dtype_size(dt), BTC = (size_t)a.B * a.T * a.C;
    size_t ATT = (size_t)a.B * a.NH * a.T * a.T;
    a.a = dalloc(c, BTC * es);     /* out / dout */
    a.b = dalloc(c, 3 * BTC * es); /* qkv */
    a.d = dalloc(c, ATT * es);     /* att */
    a.e = dalloc(c, 3 * BTC * es); /* dqkv */
    size_t f = kn_attention_fwd_scratch_bytes(a.B, a.T, a.C, a.NH, dt);
    size_t b = kn_attention_bwd_scratch_bytes(a.B, a.T, a.C, a.NH, dt);
    a.sb = f > b ? f : b;
    a.scratch = dalloc(c, a.sb);
    KC_OOM(K);
    DFILL(a.b, 3 * BTC, dt, -1, 1);
    double fl = 4.0 * a.B * a.NH * (double)a.T * a.T * (a.C / a.NH);
    int r = bench_run(c, "attention_fwd", dt, "B*NH x T x T, hs=64", b_att_fwd, &a, 0, fl);
    DFILL(a.a, BTC, dt, -1, 1);
    r |= bench_run(c, "attention_bwd", dt, "B*NH x T x T, hs=64", b_att_bwd, &a, 0, 2 * fl);
    return r;
}

static int b_fa_fwd(kc *c, void *v)
{
    bargs *a = v;
    return kn_flash_attention_fwd(a->a, a->f, a->b, a->B, a->T, a->C, a->NH, a->dt, c->s);
}
static int b_fa_bwd(kc *c, void *v)
{
    bargs *a = v;
    return kn_flash_attention_bwd(a->e, a->g, a->b, a->a, a->f, a->B, a->T, a->C, a->NH, 0, a->dt,
                                  a->scratch, a->sb, c->s);
}

static int bench_flash(kc *c, kn_dtype dt)
{
    const char *K = "flash_attn";
    if (dt != KN_BF16)
        return 0;
    bargs a = {.dt = dt, .B = c->batch, .T = GPT_T, .C = GPT_C, .NH = GPT_NH};
    size_t BTC = (size_t)a.B * a.T * a.C, BHT = (size_t)a.B * a.NH * a.T;
    a.a = dalloc(c, BTC * 2);     /* out */
    a.b = dalloc(c, 3 * BTC * 2); /* qkv */
    a.e = dalloc(c, 3 * BTC * 2); /* dqkv */
    a.f = dalloc(c, BHT * 4);     /* lse */
    a.g = dalloc(c, BTC * 2);     /* dout */
    a.sb = kn_flash_attention_bwd_scratch_bytes(a.B, a.T, a.C, a.NH);
    a.scratch = dalloc(c, a.sb);
    KC_OOM(K);
    DFILL(a.b, 3 * BTC, dt, -1, 1);
    DFILL(a.g, BTC, dt, -1, 1);
    /* Causal work only: half of the T x T products. */
    double fl = 2.0 * a.B * a.NH * (double)a.T * a.T * (a.C / a.NH);
    int r = bench_run(c, "flash_attn_fwd", dt, "causal, hs=64 (half of T x T)", b_fa_fwd, &a, 0,
                      fl);
    r |= bench_run(c, "flash_attn_bwd", dt, "causal, hs=64 (2.5x fwd flops)", b_fa_bwd, &a, 0,
                   2.5 * fl);
    return r;
}

static int bench_elementwise(kc *c, kn_dtype dt)
{
    const char *K = "elementwise";
    bargs a = {.dt = dt, .n = (size_t)c->batch * GPT_T * 4 * GPT_C};
    size_t es = kn_dtype_size(dt);
    a.a = dalloc(c, a.n * es);
    a.b = dalloc(c, a.n * es);
    a.d = dalloc(c, a.n * es);
    KC_OOM(K);
    DFILL(a.a, a.n, dt, -1, 1);
    DFILL(a.b, a.n, dt, -3, 3);
    int r = bench_run(c, "gelu", dt, "fwd B*T x 3072", b_gelu_fwd, &a, 2.0 * a.n * es, 0);
    r |= bench_run(c, "gelu", dt, "bwd B*T x 3072", b_gelu_bwd, &a, 3.0 * a.n * es, 0);
    a.n /= 4;
    r |= bench_run(c, "residual", dt, "B*T x 768", b_residual, &a, 3.0 * a.n * es, 0);
    return r;
}

static int bench_xent(kc *c, kn_dtype dt)
{
    const char *K = "softmax_xent";
    bargs a = {.dt = dt, .N = c->batch * GPT_T, .V = GPT_V, .Vp = GPT_VP};
    size_t es = kn_dtype_size(dt), NV = (size_t)a.N * a.Vp;
    a.a = dalloc(c, NV * es);
    a.b = dalloc(c, (size_t)a.N * 4);
    a.f = dalloc(c, (size_t)a.N * 4);
    a.g = dalloc(c, (size_t)a.N * 4);
    KC_OOM(K);
    DFILL(a.a, NV, dt, -4, 4);
    KC_TRY(K, kc_fill_tokens(a.b, (size_t)a.N, a.V, c->seed, c->s));
    return bench_run(c, K, dt, "in place, B*T x 50304", b_xent, &a, 2.0 * NV * es, 0);
}

static int bench_optimizer(kc *c, kn_dtype dt)
{
    const char *K = "optimizer";
    bargs a = {.dt = dt, .n = 124475904}; /* GPT-2 124M parameter count (Vp = 50304) */
    a.a = dalloc(c, a.n * 4);                   /* p */
    a.b = dalloc(c, a.n * 4);                   /* g */
    a.d = dalloc(c, a.n * 4);                   /* m */
    a.e = dalloc(c, a.n * 4);                   /* v */
    a.f = dalloc(c, a.n * kn_dtype_size(dt));   /* copy */
    a.g = dalloc(c, 16);                        /* [0] norm, [1] clip factor */
    a.sb = kn_global_norm_scratch_bytes();
    a.scratch = dalloc(c, a.sb);
    KC_OOM(K);
    DFILL(a.a, a.n, KN_F32, -1, 1);
    DFILL(a.b, a.n, KN_F32, -0.01f, 0.01f);
    KC_CUDA(K, cudaMemsetAsync(a.d, 0, a.n * 4, c->s));
    KC_CUDA(K, cudaMemsetAsync(a.e, 0, a.n * 4, c->s));
    int r = 0;
    if (dt == KN_F32) /* the norm has no bf16 variant: time it once */
        r = bench_run(c, "global_norm", KN_F32, "124M fp32 grads", b_norm, &a, 4.0 * a.n, 0);
    double bytes = a.n * (4.0 * 2 + 4 + 8 + 8 + kn_dtype_size(dt));
    r |= bench_run(c, "adamw", dt, "124M params (+ copy)", b_adamw, &a, bytes, 0);
    kn_adamw_hp hp;
    kn_adamw_hp_set(&hp, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
    a.h = dup_dt(c, (const float *)&hp, sizeof hp / sizeof(float), KN_F32);
    KC_OOM(K);
    r |= bench_run(c, "adamw_flat", dt, "124M params (+ copy), 1 launch", b_adamw_flat, &a, bytes,
                   0);
    return r;
}

static int bench_convert(kc *c, kn_dtype dt)
{
    const char *K = "convert";
    (void)dt;
    bargs a = {.n = (size_t)c->batch * (GPT_T + 1)};
    a.a = dalloc(c, a.n * 4);
    a.b = dalloc(c, a.n * 2);
    KC_OOM(K);
    KC_CUDA(K, cudaMemsetAsync(a.b, 0x5a, a.n * 2, c->s));
    return bench_run(c, "widen_u16", KN_F32, "B*(T+1) ids", b_widen, &a, 6.0 * a.n, 0);
}

/* ------------------------------------------------------------------ */

typedef int (*kc_fn)(kc *c, kn_dtype dt);

static const struct kc_entry {
    const char *name;
    kc_fn check, bench;
    int typed; /* runs once per precision (else once, as fp32) */
} entries[] = {
    {"encoder_fwd", chk_encoder_fwd, bench_encoder, 1},
    {"encoder_bwd", chk_encoder_bwd, NULL, 1},
    {"layernorm_fwd", chk_layernorm_fwd, bench_layernorm, 1},
    {"layernorm_bwd", chk_layernorm_bwd, NULL, 1},
    {"matmul_fwd", chk_matmul_fwd, bench_matmul, 1},
    {"matmul_bwd", chk_matmul_bwd, NULL, 1},
    {"attention_fwd", chk_attention_fwd, bench_attention, 1},
    {"attention_bwd", chk_attention_bwd, NULL, 1},
    {"flash_attn_fwd", chk_flash_fwd, bench_flash, 1},
    {"flash_attn_bwd", chk_flash_bwd, NULL, 1},
    {"gelu", chk_gelu, bench_elementwise, 1},
    {"residual", chk_residual, NULL, 1},
    {"residual_ln_fwd", chk_residual_ln, NULL, 1},
    {"softmax_xent", chk_softmax_xent, bench_xent, 1},
    {"global_norm", chk_global_norm, NULL, 0},
    {"adamw", chk_adamw, bench_optimizer, 1},
    {"adamw_flat", chk_adamw_flat, NULL, 1},
    {"convert", chk_convert, bench_convert, 0},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: kernel_check [--seed N] [--kernel NAME] [--precision fp32|bf16|all]\n"
               "                    [--bench] [--batch B] [--reps N] [--list]\n"
               "NAME matches any kernel whose name contains it (--list shows them).\n"
               "exit: 0 pass, 1 failure, 2 usage, 77 no GPU (skip)\n");
}

static int matches(const kc *c, const char *name)
{
    return !c->filter || strstr(name, c->filter) != NULL;
}

int main(int argc, char **argv)
{
    kc ctx;
    memset(&ctx, 0, sizeof ctx);
    kc *c = &ctx;
    c->seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    c->prec_mask = 3;
    c->reps = 20;
    c->batch = 8;
    int list = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--bench")) {
            c->bench = 1;
        } else if (!strcmp(a, "--list")) {
            list = 1;
        } else if (!strcmp(a, "--verbose")) {
            c->verbose = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (val && !strcmp(a, "--seed")) {
            c->seed = strtoull(val, NULL, 0);
            i++;
        } else if (val && !strcmp(a, "--kernel")) {
            c->filter = val;
            i++;
        } else if (val && !strcmp(a, "--reps")) {
            c->reps = atoi(val);
            i++;
        } else if (val && !strcmp(a, "--batch")) {
            c->batch = atoi(val);
            i++;
        } else if (val && !strcmp(a, "--precision")) {
            c->prec_mask = !strcmp(val, "fp32") ? 1 : !strcmp(val, "bf16") ? 2
                           : !strcmp(val, "all") ? 3 : 0;
            i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!c->prec_mask || c->reps < 1 || c->batch < 1) {
        usage(stderr);
        return 2;
    }
    if (list) {
        for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
            printf("%s%s\n", entries[i].name, entries[i].bench ? " (bench)" : "");
        return 0;
    }
    if (kn_device_check()) {
        printf("kernel-check: SKIP: %s\n", ingot_errmsg());
        return 77;
    }
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
        printf("kernel-check: cudaGetDeviceProperties failed\n");
        return 1;
    }
    printf("kernel-check on %s (sm_%d%d, %d SMs, %.0f GiB), seed %llu%s\n", prop.name, prop.major,
           prop.minor, prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0,
           (unsigned long long)c->seed, c->bench ? ", bench mode" : "");
    printf("reproduce with: --seed %llu\n", (unsigned long long)c->seed);
    kn_path path;
    if (kn_arch_path(&path)) {
        printf("kernel-check: %s\n", ingot_errmsg());
        return 1;
    }
    /* gpu-check.sh runs this twice on a Hopper GPU: as is, and with
     * INGOT_PORTABLE=1 CUDA_FORCE_PTX_JIT=1 (the other GPUs' path). */
    printf("kernel path: %s%s\n", kn_path_name(path),
           getenv("CUDA_FORCE_PTX_JIT") ? " (CUDA_FORCE_PTX_JIT: the PTX, JIT-compiled)" : "");
    c->rng = c->seed;
    int rc = 1;
    const int forced_jit = getenv("CUDA_FORCE_PTX_JIT") != NULL;
    if (cudaStreamCreate(&c->s) != cudaSuccess) {
        printf("kernel-check: set-up failed: cudaStreamCreate\n");
        goto out;
    }
    if (kn_blas_create(&c->blas, 0)) {
        /* Forced JIT applies to cuBLAS too, which ships no PTX it can JIT
         * here: our own kernels are still checked, the GEMM-based ones not. */
        if (!forced_jit) {
            printf("kernel-check: set-up failed: %s\n", ingot_errmsg());
            goto out;
        }
        printf("kernel-check: no cuBLAS under CUDA_FORCE_PTX_JIT (%s): matmul_* and the "
               "materialised attention_* are skipped\n", ingot_errmsg());
        ingot_clear_err();
        c->blas = NULL;
    }
    c->dcap = c->bench ? ((size_t)c->batch * 1024 * 1024 * 1024 / 2 + (3ull << 30))
                       : (size_t)256 << 20;
    c->hcap = c->bench ? 0 : (size_t)256 << 20;
    if (cudaMalloc((void **)&c->dbase, c->dcap) != cudaSuccess ||
        (c->hcap && !(c->hbase = malloc(c->hcap)))) {
        printf("kernel-check: cannot allocate the %zu-byte device arena\n", c->dcap);
        goto out;
    }
    if (c->bench) {
        c->flush_bytes = (size_t)2 * prop.l2CacheSize;
        if (cudaMalloc(&c->flush, c->flush_bytes) != cudaSuccess) {
            printf("kernel-check: cannot allocate the L2 flush buffer\n");
            goto out;
        }
    }
    int ran = 0;
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        const struct kc_entry *e = &entries[i];
        kc_fn fn = c->bench ? e->bench : e->check;
        if (!fn || !matches(c, e->name))
            continue;
        if (!c->blas && (!strncmp(e->name, "matmul", 6) || !strncmp(e->name, "attention_", 10)))
            continue;   /* they need cuBLAS (see the set-up) */
        for (int p = 0; p < 2; p++) {
            kn_dtype dt = p ? KN_BF16 : KN_F32;
            if (e->typed ? !(c->prec_mask & (1 << p)) : p)
                continue;
            arena_reset(c);
            fn(c, dt);
            ran++;
            if (cudaGetLastError() != cudaSuccess || cudaStreamSynchronize(c->s) != cudaSuccess) {
                printf("kernel-check: CUDA error after %s: stopping\n", e->name);
                c->nerr++;
                goto summary;
            }
        }
    }
    if (!ran) {
        printf("kernel-check: no kernel matches '%s' (see --list)\n", c->filter ? c->filter : "");
        rc = 2;
        goto out;
    }
summary:
    printf("kernel-check summary: %d checks ok, %d failed, %d errors (seed %llu)\n", c->npass,
           c->nfail, c->nerr, (unsigned long long)c->seed);
    rc = c->nfail || c->nerr ? 1 : 0;
out:
    cudaFree(c->flush);
    cudaFree(c->dbase);
    free(c->hbase);
    kn_blas_free(c->blas);
    if (c->s)
        cudaStreamDestroy(c->s);
    return rc;
}
