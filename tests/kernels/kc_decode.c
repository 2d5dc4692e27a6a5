/* kc_decode_run (kc_decode.h): the decode attention kernel against its C
 * reference. kernel_check.c includes this file into its own unit, so every
 * file-scope name here carries the kd_ prefix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "ingot_err.h"
#include "kc_decode.h"
#include "kn_common.h"
#include "ref_decode.h"

struct kd_case {
    int n, p0, NH, NKV, hs;
    int q_pad, kv_pad;   /* extra elements per row: strides wider than the heads */
};

static const struct kd_case kd_cases[] = {
    { 1, 0, 4, 4, 16, 0, 0 },        /* the first token */
    { 1, 1, 4, 4, 16, 0, 0 },
    { 1, 7, 2, 2, 64, 3 * 128, 0 },  /* GPT-2-like: q inside a packed qkv row */
    { 1, 37, 8, 2, 32, 0, 0 },       /* GQA */
    { 1, 100, 4, 1, 48, 0, 5 },      /* MQA, hs not a multiple of 32 */
    { 1, 1023, 32, 8, 128, 0, 0 },   /* a long context */
    { 1, 300, 2, 1, 256, 0, 0 },     /* the largest head */
    { 1, 5, 3, 3, 8, 0, 0 },
    { 17, 0, 4, 2, 32, 0, 0 },       /* prefill of a prompt */
    { 5, 100, 8, 4, 64, 0, 0 },      /* several rows after a cached prefix */
    { 3, 500, 4, 2, 64, 0, 0 },      /* rows ending inside the last split */
    { 130, 0, 1, 1, 16, 0, 0 },      /* split: early rows have empty splits */
    { 64, 200, 12, 12, 64, 0, 0 },   /* enough blocks: never split */
};

static uint64_t kd_rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static float kd_uniform(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((kd_rng_next(s) >> 40) * (1.0 / 16777216.0));
}

static uint16_t kd_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);   /* round to nearest even (inputs are finite) */
    return (uint16_t)(u >> 16);
}

static float kd_from_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* h (float32) into dev as dt; for bf16, h is rounded in place so that the
 * reference sees what the kernel sees. */
static int kd_upload(void *dev, float *h, size_t n, kn_dtype dt, void *stage)
{
    if (dt == KN_F32)
        return cudaMemcpy(dev, h, n * 4, cudaMemcpyHostToDevice) == cudaSuccess ? 0 : -1;
    uint16_t *b = stage;
    for (size_t i = 0; i < n; i++) {
        b[i] = kd_to_bf16(h[i]);
        h[i] = kd_from_bf16(b[i]);
    }
    return cudaMemcpy(dev, b, n * 2, cudaMemcpyHostToDevice) == cudaSuccess ? 0 : -1;
}

static int kd_download(float *h, const void *dev, size_t n, kn_dtype dt, void *stage)
{
    if (dt == KN_F32)
        return cudaMemcpy(h, dev, n * 4, cudaMemcpyDeviceToHost) == cudaSuccess ? 0 : -1;
    uint16_t *b = stage;
    if (cudaMemcpy(b, dev, n * 2, cudaMemcpyDeviceToHost) != cudaSuccess)
        return -1;
    for (size_t i = 0; i < n; i++)
        h[i] = kd_from_bf16(b[i]);
    return 0;
}

/* One case in one precision, with the positions split over blocks
 * (scratch) or not: 0 pass, 1 fail. */
static int kd_check_case(const struct kd_case *k, kn_dtype dt, int split, uint64_t *rng,
                      cudaStream_t s)
{
    size_t qs = (size_t)k->NH * k->hs + k->q_pad, kvs = (size_t)k->NKV * k->hs + k->kv_pad;
    size_t len = (size_t)k->p0 + k->n, nq = (size_t)k->n * qs, nkv = len * kvs;
    size_t no = (size_t)k->n * k->NH * k->hs, es = kn_dtype_size(dt);
    size_t big = nkv > nq ? nkv : nq;
    float *q = malloc(nq * 4), *kk = malloc(nkv * 4), *v = malloc(nkv * 4);
    float *ref = malloc(no * 4), *got = malloc(no * 4);
    void *stage = malloc((big > no ? big : no) * 4);
    void *dq = NULL, *dk = NULL, *dv = NULL, *dout = NULL, *scratch = NULL;
    size_t sb = split ? kn_decode_attention_scratch_bytes(k->NH, k->hs) : 0;
    int fail = 1;
    char what[128];
    snprintf(what, sizeof(what), "n %d p0 %d NH %d NKV %d hs %d%s%s", k->n, k->p0, k->NH,
             k->NKV, k->hs, k->q_pad || k->kv_pad ? " strided" : "", split ? " split" : "");
    if (!q || !kk || !v || !ref || !got || !stage || (sb && cudaMalloc(&scratch, sb)) ||
        cudaMalloc(&dq, nq * es) != cudaSuccess || cudaMalloc(&dk, nkv * es) != cudaSuccess ||
        cudaMalloc(&dv, nkv * es) != cudaSuccess || cudaMalloc(&dout, no * es) != cudaSuccess) {
        printf("decode_attention %s %s: FAIL: cannot allocate\n", kn_dtype_name(dt), what);
        goto out;
    }
    /* scores of a few units: the softmax is neither flat nor one-hot */
    for (size_t i = 0; i < nq; i++)
        q[i] = kd_uniform(rng, -1.0f, 1.0f);
    for (size_t i = 0; i < nkv; i++) {
        kk[i] = kd_uniform(rng, -1.0f, 1.0f);
        v[i] = kd_uniform(rng, -1.0f, 1.0f);
    }
    if (kd_upload(dq, q, nq, dt, stage) || kd_upload(dk, kk, nkv, dt, stage) ||
        kd_upload(dv, v, nkv, dt, stage) || cudaMemset(dout, 0xff, no * es) != cudaSuccess) {
        printf("decode_attention %s %s: FAIL: kd_upload\n", kn_dtype_name(dt), what);
        goto out;
    }
    ref_decode_attention(ref, q, qs, kk, v, kvs, k->n, k->p0, k->NH, k->NKV, k->hs);
    if (kn_decode_attention(dout, dq, (long long)qs, dk, dv, (long long)kvs, k->n, k->p0, k->NH,
                            k->NKV, k->hs, dt, scratch, sb, s) ||
        cudaStreamSynchronize(s) != cudaSuccess || kd_download(got, dout, no, dt, stage)) {
        printf("decode_attention %s %s: FAIL: %s\n", kn_dtype_name(dt), what,
               ingot_errmsg()[0] ? ingot_errmsg() : cudaGetErrorString(cudaGetLastError()));
        goto out;
    }
    double abs_t = dt == KN_F32 ? 1e-5 : 1e-2, rel_t = dt == KN_F32 ? 1e-4 : 1e-2;
    double worst = 0.0;
    size_t n_bad = 0, first = 0;
    for (size_t i = 0; i < no; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= abs_t + rel_t * fabs((double)ref[i]))) {   /* NaN fails too */
            if (!n_bad++)
                first = i;
        }
        if (d > worst || d != d)
            worst = d != d ? INFINITY : d;
    }
    fail = n_bad != 0;
    printf("decode_attention %s %s: %s, max |diff| %.2e", kn_dtype_name(dt), what,
           fail ? "FAIL" : "ok", worst);
    if (fail)
        printf(", %zu bad, first [%zu] gpu %g ref %g", n_bad, first, (double)got[first],
               (double)ref[first]);
    printf("\n");
out:
    cudaFree(scratch);
    cudaFree(dq);
    cudaFree(dk);
    cudaFree(dv);
    cudaFree(dout);
    free(q);
    free(kk);
    free(v);
    free(ref);
    free(got);
    free(stage);
    return fail;
}

static int kd_cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median time of a decode step over a cache of len positions. */
static int kd_bench_one(kn_dtype dt, int len, int split, int reps, cudaStream_t s)
{
    const int NH = 32, NKV = 8, hs = 128;
    size_t es = kn_dtype_size(dt), kvs = (size_t)NKV * hs, nkv = (size_t)len * kvs;
    void *dq = NULL, *dk = NULL, *dv = NULL, *dout = NULL, *scratch = NULL;
    size_t sb = split ? kn_decode_attention_scratch_bytes(NH, hs) : 0;
    cudaEvent_t e0 = NULL, e1 = NULL;
    float *ms = malloc((size_t)reps * sizeof(float));
    int fail = 1;
    if (!ms || cudaMalloc(&dq, (size_t)NH * hs * es) != cudaSuccess ||
        cudaMalloc(&dk, nkv * es) != cudaSuccess || cudaMalloc(&dv, nkv * es) != cudaSuccess ||
        cudaMalloc(&dout, (size_t)NH * hs * es) != cudaSuccess ||
        (sb && cudaMalloc(&scratch, sb) != cudaSuccess) ||
        cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess)
        goto out;
    /* zero bits are 0.0 in both dtypes: a uniform softmax, same memory traffic */
    if (cudaMemset(dq, 0, (size_t)NH * hs * es) != cudaSuccess ||
        cudaMemset(dk, 0, nkv * es) != cudaSuccess || cudaMemset(dv, 0, nkv * es) != cudaSuccess)
        goto out;
    for (int r = -3; r < reps; r++) {
        if (cudaEventRecord(e0, s) != cudaSuccess ||
            kn_decode_attention(dout, dq, (long long)NH * hs, dk, dv, (long long)kvs, 1,
                                len - 1, NH, NKV, hs, dt, scratch, sb, s) ||
            cudaEventRecord(e1, s) != cudaSuccess || cudaEventSynchronize(e1) != cudaSuccess)
            goto out;
        if (r >= 0 && cudaEventElapsedTime(&ms[r], e0, e1) != cudaSuccess)
            goto out;
    }
    qsort(ms, (size_t)reps, sizeof(float), kd_cmp_float);
    double us = ms[reps / 2] * 1e3, gb = 2.0 * nkv * es / 1e9;
    printf("decode_attention %s bench: NH 32 NKV 8 hs 128, context %5d, %s: %7.1f us, %5.0f "
           "GB/s of cache read\n", kn_dtype_name(dt), len, split ? "split   " : "no split", us,
           gb / (us * 1e-6));
    fail = 0;
out:
    if (fail)
        printf("decode_attention %s bench context %d: FAIL (CUDA: %s)\n", kn_dtype_name(dt), len,
               cudaGetErrorString(cudaGetLastError()));
    if (e0)
        cudaEventDestroy(e0);
    if (e1)
        cudaEventDestroy(e1);
    cudaFree(scratch);
    cudaFree(dq);
    cudaFree(dk);
    cudaFree(dv);
    cudaFree(dout);
    free(ms);
    return fail;
}

int kc_decode_run(uint64_t seed, int prec_mask, int bench, int reps, cudaStream_t s)
{
    uint64_t rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    int fails = 0;
    for (int p = 0; p < 2; p++) {
        kn_dtype dt = p ? KN_BF16 : KN_F32;
        if (!(prec_mask & (1 << p)))
            continue;
        for (size_t i = 0; i < sizeof(kd_cases) / sizeof(kd_cases[0]); i++)
            for (int split = 0; split < 2; split++)
                fails += kd_check_case(&kd_cases[i], dt, split, &rng, s);
        for (int len = 1024; bench && len <= 32768; len *= 4)
            for (int split = 0; split < 2; split++)
                fails += kd_bench_one(dt, len, split, reps > 0 ? reps : 20, s);
    }
    return fails;
}
