/* Helpers of the standalone kernel checks (kc_attn_check.cu,
 * kc_gemm_sm90.cu, kc_gemm_sm90_rope.cu): programs that test one family of
 * kernels against a plain-C reference without kernel_check's harness.
 * Header-only, one translation unit per program: CUDA failures (CK) and
 * launcher errors (test_check.h's CHECK_OK) end the program with a message
 * (a test failure), the GPU (and sm_90a) presence checks, bf16 conversion on the host,
 * a fixed-seed generator, device copies, the tolerance measure and a
 * median timer. */
#ifndef INGOT_KC_STANDALONE_H
#define INGOT_KC_STANDALONE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "kn_arch.h"
#include "test_check.h" /* CHECK_OK: a launcher's error is a test failure; TEST_SKIP */

#define CK(call)                                                                          \
    do {                                                                                  \
        cudaError_t e_ = (call);                                                          \
        if (e_ != cudaSuccess) {                                                          \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,                 \
                    cudaGetErrorString(e_));                                              \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

/* 0 when a GPU is present; otherwise says so for prog and returns 1 (the
 * caller exits with TEST_SKIP). */
static inline int kc_no_gpu(const char *prog)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) == cudaSuccess && n > 0)
        return 0;
    printf("%s: no GPU, skipped\n", prog);
    return 1;
}

/* 0 when a GPU runs the sm_90a machine code (the Hopper kernels' only
 * body); otherwise says why prog is skipped and returns 1 (the caller
 * exits with TEST_SKIP). */
static inline int kc_no_sm90(const char *prog)
{
    if (kc_no_gpu(prog))
        return 1;
    kn_path p = KN_PATH_PORTABLE;
    CHECK_OK(kn_arch_path(&p));
    if (p == KN_PATH_SM90A)
        return 0;
    printf("%s: kernel path %s (not sm_90a), skipped\n", prog, kn_path_name(p));
    return 1;
}

static inline uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7FFFu + ((u >> 16) & 1u); /* round to nearest even (inputs are finite) */
    return (uint16_t)(u >> 16);
}

static inline float from_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static inline float urand(void) /* uniform in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* x rounded to bf16 (as a product is stored before an epilogue uses it). */
static inline double kc_round_bf16(double x)
{
    return from_bf16(to_bf16((float)x));
}

/* Random bf16 values, with their float copy. */
static inline void fill(float *f, uint16_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h[i] = to_bf16(urand());
        f[i] = from_bf16(h[i]);
    }
}

static inline void *dcopy(const uint16_t *h, size_t n)
{
    void *d = NULL;
    CK(cudaMalloc(&d, n * 2));
    CK(cudaMemcpy(d, h, n * 2, cudaMemcpyHostToDevice));
    return d;
}

/* n floats on the device (a RoPE table and the like). */
static inline void *dev_floats(const float *h, size_t n)
{
    void *d = NULL;
    CK(cudaMalloc(&d, n * 4));
    CK(cudaMemcpy(d, h, n * 4, cudaMemcpyHostToDevice));
    return d;
}

/* Max over i of |gpu - ref| / (abs + rel |ref|) (gpu: n bf16 on the host);
 * > 1 is a failure, NaN counts as infinite. */
static inline double worst_host(const uint16_t *h, const float *ref, size_t n,
                                double abs_tol, double rel_tol, size_t *at)
{
    double w = 0.0;
    for (size_t i = 0; i < n; i++) {
        double g = from_bf16(h[i]), r = ref[i];
        double e = fabs(g - r) / (abs_tol + rel_tol * fabs(r));
        if (!(e <= w)) {
            w = isnan(e) ? INFINITY : e;
            *at = i;
        }
    }
    return w;
}

/* Host memory or the end of the program (a standalone check's own buffers). */
static inline void *kc_xmalloc(size_t bytes)
{
    void *p = malloc(bytes);
    if (!p) {
        fprintf(stderr, "out of host memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

/* The same for n bf16 on the device. */
static inline double worst(const void *dev, const float *ref, size_t n, double abs_tol,
                           double rel_tol, size_t *at)
{
    uint16_t *h = (uint16_t *)kc_xmalloc(n * 2);
    CK(cudaMemcpy(h, dev, n * 2, cudaMemcpyDeviceToHost));
    double w = worst_host(h, ref, n, abs_tol, rel_tol, at);
    free(h);
    return w;
}

/* Milliseconds per call of run(arg) on the default stream: the median of 5
 * runs of `calls` calls after a warm-up run. */
static inline double kc_median_ms(void (*run)(void *), void *arg, int calls)
{
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    double t[5];
    for (int rep = -1; rep < 5; rep++) {
        CK(cudaEventRecord(e0, 0));
        for (int i = 0; i < calls; i++)
            run(arg);
        CK(cudaEventRecord(e1, 0));
        CK(cudaEventSynchronize(e1));
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (rep >= 0)
            t[rep] = ms / calls;
    }
    for (int i = 0; i < 5; i++) /* sort for the median */
        for (int j = i + 1; j < 5; j++)
            if (t[j] < t[i]) {
                double x = t[i];
                t[i] = t[j];
                t[j] = x;
            }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return t[2];
}
#endif
