/* The LLaMA CUDA kernels (kernels/rmsnorm, rope, swiglu, gqa) against the
 * C reference ops (kernels/cpu/ref_llama.h), fp32 and bf16.
 *
 * Random inputs; for bf16 the inputs are rounded to bf16 first and the
 * reference gets the same rounded values, so what remains is the kernel's
 * own error (float32 arithmetic, bf16 outputs). Outputs are poisoned (all
 * bits set: NaN) before each run, so an element a kernel fails to write
 * fails the check. Each check prints its max |err| and worst err / tol, the
 * tolerance being atol + rtol * |ref| per element.
 *
 *   test_llama_kernels [--precision fp32|bf16|all] [--bench]
 *
 * --bench also times each kernel at TinyLlama-1.1B's shape (B*T = 8192
 * tokens, C 2048, F 5632, 32/4 heads of 64) with CUDA events and prints
 * microseconds and effective GB/s (bytes a kernel must read and write once);
 * it never fails on speed.
 *
 * Exit: 0 pass, 1 failure, 2 usage, 77 no GPU (skip). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "gqa.h"
#include "ingot_err.h"
#include "kn_common.h"
#include "ll_testlib.h"
#include "matmul.h"
#include "ref_llama.h"
#include "rmsnorm.h"
#include "rope.h"
#include "swiglu.h"

typedef struct {
    double atol, rtol;
} tol;

static tol T2(kn_dtype dt, double a32, double r32, double a16, double r16)
{
    tol t = { a32, r32 };
    if (dt == KN_BF16) {
        t.atol = a16;
        t.rtol = r16;
    }
    return t;
}

enum { MAX_ALLOCS = 64 };

static struct {
    cudaStream_t s;
    kn_blas *blas;
    int npass, nfail;
    void *dev[MAX_ALLOCS];
    int ndev;
    int cuda_failed;
} g;

/* ---- host bf16: round to nearest even, as __float2bfloat16_rn ---- */
static uint16_t f2bf(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
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

/* n random floats in [-scale, scale), rounded to dt. */
static float *rnd_dt(size_t n, float scale, kn_dtype dt)
{
    float *p = ll_rnd(n, scale);
    round_dt(p, n, dt);
    return p;
}

static void cuda_ok(cudaError_t e, const char *what)
{
    if (e != cudaSuccess) {
        fprintf(stderr, "CUDA: %s: %s\n", what, cudaGetErrorString(e));
        g.cuda_failed = 1;
    }
}

static void *dalloc(size_t bytes)
{
    void *p = NULL;
    if (g.ndev == MAX_ALLOCS) {
        fprintf(stderr, "test_llama_kernels: raise MAX_ALLOCS\n");
        exit(1);
    }
    cuda_ok(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc");
    if (!p) {
        fprintf(stderr, "cudaMalloc of %zu bytes failed\n", bytes);
        exit(1);
    }
    g.dev[g.ndev++] = p;
    return p;
}

static void dfree_all(void)
{
    for (int i = 0; i < g.ndev; i++)
        cudaFree(g.dev[i]);
    g.ndev = 0;
}

/* Device copy of n host floats as dt. */
static void *dup_dt(const float *h, size_t n, kn_dtype dt)
{
    void *d = dalloc(n * kn_dtype_size(dt));
    if (dt == KN_F32) {
        cuda_ok(cudaMemcpy(d, h, n * 4, cudaMemcpyHostToDevice), "upload");
    } else {
        uint16_t *t = malloc(n * 2 + 2);
        for (size_t i = 0; i < n; i++)
            t[i] = f2bf(h[i]);
        cuda_ok(cudaMemcpy(d, t, n * 2, cudaMemcpyHostToDevice), "upload");
        free(t);
    }
    return d;
}

/* n elements of dt, every bit set (NaN). */
static void *poisoned(size_t n, kn_dtype dt)
{
    void *d = dalloc(n * kn_dtype_size(dt));
    cuda_ok(cudaMemset(d, 0xff, n * kn_dtype_size(dt)), "cudaMemset");
    return d;
}

/* Device buffer of n dt elements -> new host float array. */
static float *down(const void *d, size_t n, kn_dtype dt)
{
    float *h = ll_zeros(n);
    cuda_ok(cudaStreamSynchronize(g.s), "synchronize");
    if (dt == KN_F32) {
        cuda_ok(cudaMemcpy(h, d, n * 4, cudaMemcpyDeviceToHost), "download");
    } else {
        uint16_t *t = malloc(n * 2 + 2);
        cuda_ok(cudaMemcpy(t, d, n * 2, cudaMemcpyDeviceToHost), "download");
        for (size_t i = 0; i < n; i++)
            h[i] = bf2f(t[i]);
        free(t);
    }
    return h;
}

/* A launcher's return code: nonzero counts as a failed check. */
static int launched(const char *kernel, int err)
{
    if (err) {
        printf("%-22s launch failed: %s  FAIL\n", kernel, ingot_errmsg());
        g.nfail++;
    }
    return err;
}

/* Compare n device results (dt) with the reference; print one line. */
static void check(const char *kernel, kn_dtype dt, const char *what, const void *dev,
                  const float *ref, size_t n, tol t)
{
    float *got = down(dev, n, dt);
    double max_abs = 0.0, worst = 0.0;
    size_t bad = 0, at = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        double r = e / (t.atol + t.rtol * fabs(ref[i]));
        if (!(e <= t.atol + t.rtol * fabs(ref[i]))) {
            if (!bad)
                at = i;
            bad++;
            r = isnan(r) ? INFINITY : r;
        }
        if (e > max_abs || isnan(e))
            max_abs = isnan(e) ? INFINITY : e;
        if (r > worst)
            worst = r;
    }
    int ok = bad == 0 && !g.cuda_failed;
    printf("%-22s %-4s %-34s max|err| %9.3e  err/tol %6.3f  %s\n", kernel, kn_dtype_name(dt),
           what, max_abs, worst, ok ? "PASS" : "FAIL");
    if (bad)
        printf("    %zu of %zu over tolerance; first [%zu]: got %.8g, ref %.8g\n", bad, n, at,
               (double)got[at], (double)ref[at]);
    if (ok)
        g.npass++;
    else
        g.nfail++;
    free(got);
}

/* ------------------------------------------------------------------ */

static void chk_rmsnorm(kn_dtype dt)
{
    static const int shapes[][2] = { { 37, 96 }, { 20, 770 }, { 9, 2048 }, { 5, 4096 } };
    const float eps = 1e-5f;
    for (size_t v = 0; v < sizeof shapes / sizeof shapes[0]; v++) {
        int N = shapes[v][0], C = shapes[v][1];
        size_t n = (size_t)N * C;
        char what[64];
        float *x = rnd_dt(n, 2.0f, dt), *res = rnd_dt(n, 1.0f, dt), *w = rnd_dt(C, 1.0f, dt);
        float *out = ll_zeros(n), *rstd = ll_zeros(N);

        /* plain forward */
        ref_rmsnorm_fwd(out, rstd, x, w, eps, N, C);
        void *dx = dup_dt(x, n, dt), *dw = dup_dt(w, C, dt);
        void *dout = poisoned(n, dt), *drstd = poisoned(N, KN_F32);
        if (!launched("rmsnorm_fwd", kn_rmsnorm_fwd(dout, drstd, dx, dw, eps, N, C, dt, g.s))) {
            snprintf(what, sizeof what, "out N%d C%d", N, C);
            check("rmsnorm_fwd", dt, what, dout, out, n, T2(dt, 1e-6, 1e-5, 1e-6, 8e-3));
            snprintf(what, sizeof what, "rstd N%d C%d", N, C);
            check("rmsnorm_fwd", KN_F32, what, drstd, rstd, N, T2(dt, 0, 1e-5, 0, 1e-5));
        }

        /* fused residual add + RMSNorm, in place on the residual stream; the
         * reference normalises the sum as rounded to dt */
        float *sum = ll_zeros(n), *out2 = ll_zeros(n), *rstd2 = ll_zeros(N);
        for (size_t i = 0; i < n; i++)
            sum[i] = res[i] + x[i];
        round_dt(sum, n, dt);
        ref_rmsnorm_fwd(out2, rstd2, sum, w, eps, N, C);
        void *dres = dup_dt(res, n, dt), *dout2 = poisoned(n, dt);
        if (!launched("residual_rmsnorm_fwd",
                      kn_residual_rmsnorm_fwd(dres, dout2, drstd, dres, dx, dw, eps, N, C, dt,
                                              g.s))) {
            snprintf(what, sizeof what, "res_out (in place) N%d C%d", N, C);
            check("residual_rmsnorm_fwd", dt, what, dres, sum, n, T2(dt, 0, 0, 0, 0));
            snprintf(what, sizeof what, "out N%d C%d", N, C);
            check("residual_rmsnorm_fwd", dt, what, dout2, out2, n, T2(dt, 1e-6, 1e-5, 1e-6, 8e-3));
            snprintf(what, sizeof what, "rstd N%d C%d", N, C);
            check("residual_rmsnorm_fwd", KN_F32, what, drstd, rstd2, N, T2(dt, 0, 1e-5, 0, 1e-5));
        }

        /* backward, accumulating (the fused residual backward) and not */
        {
            float *dy = rnd_dt(n, 1.0f, dt), *dx0 = rnd_dt(n, 1.0f, dt), *dw0 = ll_rnd(C, 1.0f);
            float *rdx = ll_copy(dx0, n), *rdw = ll_copy(dw0, C), *rdx0 = ll_zeros(n);
            float *rdw0 = ll_copy(dw0, C);
            ref_rmsnorm_bwd(rdx, rdw, dy, x, w, rstd, N, C);
            ref_rmsnorm_bwd(rdx0, rdw0, dy, x, w, rstd, N, C);
            void *ddy = dup_dt(dy, n, dt), *ddx = dup_dt(dx0, n, dt), *ddx0 = poisoned(n, dt);
            void *ddw = dup_dt(dw0, C, KN_F32), *ddw0 = dup_dt(dw0, C, KN_F32);
            void *drs = dup_dt(rstd, N, KN_F32);
            size_t sb = kn_rmsnorm_bwd_scratch_bytes(N, C);
            void *scr = dalloc(sb);
            tol tdx = T2(dt, 1e-5, 1e-4, 2e-2, 1e-2), tdw = T2(dt, 1e-5 * N, 1e-4, 1e-5 * N, 1e-4);
            if (!launched("rmsnorm_bwd", kn_rmsnorm_bwd(ddx, ddw, ddy, dx, dw, drs, N, C, 1, dt,
                                                        scr, sb, g.s)) &&
                !launched("rmsnorm_bwd", kn_rmsnorm_bwd(ddx0, ddw0, ddy, dx, dw, drs, N, C, 0,
                                                        dt, scr, sb, g.s))) {
                snprintf(what, sizeof what, "dinp (+=) N%d C%d", N, C);
                check("rmsnorm_bwd", dt, what, ddx, rdx, n, tdx);
                snprintf(what, sizeof what, "dinp (=) N%d C%d", N, C);
                check("rmsnorm_bwd", dt, what, ddx0, rdx0, n, tdx);
                snprintf(what, sizeof what, "dw (+=) N%d C%d", N, C);
                check("rmsnorm_bwd", KN_F32, what, ddw, rdw, C, tdw);
            }
            free(dy); free(dx0); free(dw0); free(rdx); free(rdw); free(rdx0); free(rdw0);
        }
        free(x); free(res); free(w); free(out); free(rstd); free(sum); free(out2); free(rstd2);
        dfree_all();
    }
}

static void chk_rope(kn_dtype dt)
{
    /* the table: T 300, hs 64, theta 5e5 (long angles), against the host's */
    {
        int T = 300, hs = 64;
        float *cs = ll_zeros((size_t)T * hs);
        ref_rope_table(cs, T, hs, 500000.0);
        void *dcs = poisoned((size_t)T * hs, KN_F32);
        if (dt == KN_F32 && !launched("rope_table", kn_rope_table(dcs, T, hs, 500000.0, g.s)))
            check("rope_table", KN_F32, "T300 hs64 theta 5e5", dcs, cs, (size_t)T * hs,
                  (tol){ 2e-7, 0 });
        free(cs);
        dfree_all();
    }
    /* in place on packed GQA qkv (q and k heads rotate, v untouched), then
     * the backward in place */
    static const int shapes[][5] = { { 2, 37, 4, 2, 16 }, { 1, 130, 8, 1, 64 }, { 3, 5, 6, 6, 8 } };
    for (size_t v = 0; v < sizeof shapes / sizeof shapes[0]; v++) {
        int B = shapes[v][0], T = shapes[v][1], NH = shapes[v][2], NKV = shapes[v][3];
        int hs = shapes[v][4], W = (NH + 2 * NKV) * hs;
        size_t n = (size_t)B * T * W;
        char what[64];
        float *cs = ll_zeros((size_t)T * hs), *x = rnd_dt(n, 1.0f, dt), *d = rnd_dt(n, 1.0f, dt);
        float *out = ll_copy(x, n), *dx = ll_copy(d, n);
        ref_rope_table(cs, T, hs, 10000.0);
        ref_rope_fwd(out, out, cs, B, T, NH + NKV, hs, W);
        ref_rope_bwd(dx, dx, cs, B, T, NH + NKV, hs, W);
        void *dcs = dup_dt(cs, (size_t)T * hs, KN_F32);
        void *dbuf = dup_dt(x, n, dt), *ddbuf = dup_dt(d, n, dt);
        tol t = T2(dt, 1e-6, 1e-5, 1e-6, 8e-3);
        if (!launched("rope_fwd", kn_rope_fwd(dbuf, dbuf, dcs, B, T, NH + NKV, hs, W, dt, g.s))) {
            snprintf(what, sizeof what, "qkv in place B%d T%d %d/%d hs%d", B, T, NH, NKV, hs);
            check("rope_fwd", dt, what, dbuf, out, n, t);
        }
        if (!launched("rope_bwd", kn_rope_bwd(ddbuf, ddbuf, dcs, B, T, NH + NKV, hs, W, dt, g.s))) {
            snprintf(what, sizeof what, "dqkv in place B%d T%d %d/%d hs%d", B, T, NH, NKV, hs);
            check("rope_bwd", dt, what, ddbuf, dx, n, t);
        }
        /* out of place on a plain [B, T, NH hs] tensor */
        size_t nq = (size_t)B * T * NH * hs;
        float *q = rnd_dt(nq, 1.0f, dt), *qo = ll_zeros(nq);
        ref_rope_fwd(qo, q, cs, B, T, NH, hs, NH * hs);
        void *dq = dup_dt(q, nq, dt), *dqo = poisoned(nq, dt);
        if (!launched("rope_fwd", kn_rope_fwd(dqo, dq, dcs, B, T, NH, hs, NH * hs, dt, g.s))) {
            snprintf(what, sizeof what, "q out of place B%d T%d NH%d hs%d", B, T, NH, hs);
            check("rope_fwd", dt, what, dqo, qo, nq, t);
        }
        free(cs); free(x); free(d); free(out); free(dx); free(q); free(qo);
        dfree_all();
    }
}

static void chk_swiglu(kn_dtype dt)
{
    static const int shapes[][2] = { { 33, 300 }, { 4, 5632 }, { 7, 1 } };
    for (size_t v = 0; v < sizeof shapes / sizeof shapes[0]; v++) {
        int N = shapes[v][0], F = shapes[v][1];
        size_t n = (size_t)N * F;
        char what[64];
        float *gu = rnd_dt(2 * n, 4.0f, dt), *out = ll_zeros(n), *dy = rnd_dt(n, 1.0f, dt);
        float *dgu = rnd_dt(2 * n, 1.0f, dt), *rdgu = ll_copy(dgu, 2 * n);
        float *rdgu0 = ll_zeros(2 * n);
        ref_swiglu_fwd(out, gu, N, F);
        ref_swiglu_bwd(rdgu, dy, gu, N, F);
        ref_swiglu_bwd(rdgu0, dy, gu, N, F);
        void *dgu_in = dup_dt(gu, 2 * n, dt), *dout = poisoned(n, dt), *ddy = dup_dt(dy, n, dt);
        void *ddgu = dup_dt(dgu, 2 * n, dt), *ddgu0 = poisoned(2 * n, dt);
        tol t = T2(dt, 1e-6, 1e-5, 1e-6, 8e-3), tb = T2(dt, 4e-6, 1e-5, 1e-5, 8e-3);
        if (!launched("swiglu_fwd", kn_swiglu_fwd(dout, dgu_in, N, F, dt, g.s))) {
            snprintf(what, sizeof what, "out N%d F%d", N, F);
            check("swiglu_fwd", dt, what, dout, out, n, t);
        }
        if (!launched("swiglu_bwd", kn_swiglu_bwd(ddgu, ddy, dgu_in, N, F, 1, dt, g.s)) &&
            !launched("swiglu_bwd", kn_swiglu_bwd(ddgu0, ddy, dgu_in, N, F, 0, dt, g.s))) {
            snprintf(what, sizeof what, "dgate|dup (+=) N%d F%d", N, F);
            check("swiglu_bwd", dt, what, ddgu, rdgu, 2 * n, T2(dt, 4e-6, 1e-5, 1e-2, 8e-3));
            snprintf(what, sizeof what, "dgate|dup (=) N%d F%d", N, F);
            check("swiglu_bwd", dt, what, ddgu0, rdgu0, 2 * n, tb);
        }
        free(gu); free(out); free(dy); free(dgu); free(rdgu); free(rdgu0);
        dfree_all();
    }
}

static void chk_gqa(kn_dtype dt)
{
    /* B, T, NH, NKV, hs: GQA, MQA, plain MHA */
    static const int shapes[][5] = { { 2, 37, 4, 2, 16 }, { 1, 64, 8, 1, 32 }, { 2, 19, 6, 6, 8 } };
    for (size_t v = 0; v < sizeof shapes / sizeof shapes[0]; v++) {
        int B = shapes[v][0], T = shapes[v][1], NH = shapes[v][2], NKV = shapes[v][3];
        int hs = shapes[v][4], W = (NH + 2 * NKV) * hs, C = NH * hs;
        size_t nq = (size_t)B * T * W, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
        char what[80];
        float *qkv = rnd_dt(nq, 1.0f, dt), *out = ll_zeros(no), *att = ll_zeros(na);
        float *dy = rnd_dt(no, 1.0f, dt), *dq0 = rnd_dt(nq, 1.0f, dt);
        float *rdq = ll_copy(dq0, nq), *rdq0 = ll_zeros(nq), *scr = ll_zeros(na);
        ref_gqa_fwd(out, att, qkv, B, T, NH, NKV, hs);
        void *dqkv = dup_dt(qkv, nq, dt), *dout = poisoned(no, dt), *datt = poisoned(na, dt);
        size_t sf = kn_gqa_attention_fwd_scratch_bytes(B, T, NH, NKV, hs, dt);
        size_t sb = kn_gqa_attention_bwd_scratch_bytes(B, T, NH, NKV, hs, dt);
        void *scratch = dalloc(sf > sb ? sf : sb);
        snprintf(what, sizeof what, "B%d T%d %d/%d hs%d", B, T, NH, NKV, hs);
        if (!launched("gqa_attention_fwd",
                      kn_gqa_attention_fwd(g.blas, dout, datt, dqkv, B, T, NH, NKV, hs, dt,
                                           scratch, sf > sb ? sf : sb, g.s))) {
            char w2[96];
            snprintf(w2, sizeof w2, "out %s", what);
            check("gqa_attention_fwd", dt, w2, dout, out, no, T2(dt, 1e-5, 1e-4, 1e-2, 1e-2));
            snprintf(w2, sizeof w2, "att %s", what);
            check("gqa_attention_fwd", dt, w2, datt, att, na, T2(dt, 1e-6, 1e-4, 2e-3, 1e-2));
        }
        /* backward from the reference's att (rounded as the GPU keeps it) */
        round_dt(att, na, dt);
        ref_gqa_bwd(rdq, scr, dy, qkv, att, B, T, NH, NKV, hs);
        ref_gqa_bwd(rdq0, scr, dy, qkv, att, B, T, NH, NKV, hs);
        void *datt2 = dup_dt(att, na, dt), *ddy = dup_dt(dy, no, dt);
        void *ddq = dup_dt(dq0, nq, dt), *ddq0 = poisoned(nq, dt);
        /* dk, dv sum NH/NKV expanded heads, each rounded in bf16 */
        tol t = T2(dt, 2e-5, 1e-4, 3e-2 * sqrt((double)(NH / NKV)), 3e-2);
        if (!launched("gqa_attention_bwd",
                      kn_gqa_attention_bwd(g.blas, ddq, ddy, dqkv, datt2, B, T, NH, NKV, hs, 1,
                                           dt, scratch, sb, g.s)) &&
            !launched("gqa_attention_bwd",
                      kn_gqa_attention_bwd(g.blas, ddq0, ddy, dqkv, datt2, B, T, NH, NKV, hs, 0,
                                           dt, scratch, sb, g.s))) {
            char w2[96];
            snprintf(w2, sizeof w2, "dqkv (+=) %s", what);
            check("gqa_attention_bwd", dt, w2, ddq, rdq, nq, t);
            snprintf(w2, sizeof w2, "dqkv (=) %s", what);
            check("gqa_attention_bwd", dt, w2, ddq0, rdq0, nq, t);
        }
        free(qkv); free(out); free(att); free(dy); free(dq0); free(rdq); free(rdq0); free(scr);
        dfree_all();
    }
}

/* The expansion is a copy: exact, and its reduction adds the copies back. */
static void chk_gqa_expand(kn_dtype dt)
{
    int B = 2, T = 11, NH = 6, NKV = 2, hs = 8, W = (NH + 2 * NKV) * hs, C = NH * hs;
    int rep = NH / NKV;
    size_t rows = (size_t)B * T, nq = rows * W, n3 = rows * 3 * C;
    float *qkv = rnd_dt(nq, 1.0f, dt), *q3 = ll_zeros(n3), *red = ll_zeros(nq);
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < 3 * C; j++) {
            int part = j / C, h = (j % C) / hs, d = j % hs;
            int src = part == 0 ? h * hs + d : (NH + (part - 1) * NKV + h / rep) * hs + d;
            q3[r * 3 * C + j] = qkv[r * W + src];
        }
    /* reducing the expansion of qkv: q once, k and v rep times */
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < W; j++)
            red[r * W + j] = j < C ? qkv[r * W + j] : rep * qkv[r * W + j];
    void *dq = dup_dt(qkv, nq, dt), *d3 = poisoned(n3, dt), *dred = poisoned(nq, dt);
    if (!launched("gqa_expand", kn_gqa_expand(d3, dq, B, T, NH, NKV, hs, dt, g.s)))
        check("gqa_expand", dt, "repeat_kv 6/2 (exact)", d3, q3, n3, (tol){ 0, 0 });
    if (!launched("gqa_reduce", kn_gqa_reduce(dred, d3, B, T, NH, NKV, hs, 0, dt, g.s)))
        check("gqa_reduce", dt, "sum of 3 copies", dred, red, nq, T2(dt, 0, 1e-7, 0, 8e-3));
    free(qkv); free(q3); free(red);
    dfree_all();
}

/* Mean time of reps launches of fn, in microseconds (one warm-up). */
typedef int (*bench_fn)(void *ctx);

static double time_us(bench_fn fn, void *ctx, int reps)
{
    cudaEvent_t a, b;
    float ms = 0.0f;
    if (fn(ctx)) {
        printf("bench: launch failed: %s\n", ingot_errmsg());
        return -1.0;
    }
    cuda_ok(cudaEventCreate(&a), "cudaEventCreate");
    cuda_ok(cudaEventCreate(&b), "cudaEventCreate");
    cuda_ok(cudaEventRecord(a, g.s), "cudaEventRecord");
    for (int i = 0; i < reps; i++)
        if (fn(ctx))
            return -1.0;
    cuda_ok(cudaEventRecord(b, g.s), "cudaEventRecord");
    cuda_ok(cudaEventSynchronize(b), "cudaEventSynchronize");
    cuda_ok(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return 1000.0 * ms / reps;
}

struct bench {
    kn_dtype dt;
    int N, C, F, B, T, NH, NKV, hs;
    void *x, *res, *out, *w, *dx, *dy, *scr, *gu, *h, *dgu, *qkv, *att, *y, *dqkv;
    float *rstd, *dw, *cs;
    size_t scr_bytes;
};

static int b_rms_fwd(void *p)
{
    struct bench *b = p;
    return kn_rmsnorm_fwd(b->out, b->rstd, b->x, b->w, 1e-5f, b->N, b->C, b->dt, g.s);
}

static int b_res_rms_fwd(void *p)
{
    struct bench *b = p;
    return kn_residual_rmsnorm_fwd(b->res, b->out, b->rstd, b->res, b->x, b->w, 1e-5f, b->N, b->C,
                                   b->dt, g.s);
}

static int b_rms_bwd(void *p)
{
    struct bench *b = p;
    return kn_rmsnorm_bwd(b->dx, b->dw, b->dy, b->x, b->w, b->rstd, b->N, b->C, 1, b->dt, b->scr,
                          b->scr_bytes, g.s);
}

static int b_rope_fwd(void *p)
{
    struct bench *b = p;
    int W = (b->NH + 2 * b->NKV) * b->hs;
    return kn_rope_fwd(b->qkv, b->qkv, b->cs, b->B, b->T, b->NH + b->NKV, b->hs, W, b->dt, g.s);
}

static int b_swiglu_fwd(void *p)
{
    struct bench *b = p;
    return kn_swiglu_fwd(b->h, b->gu, b->N, b->F, b->dt, g.s);
}

static int b_swiglu_bwd(void *p)
{
    struct bench *b = p;
    return kn_swiglu_bwd(b->dgu, b->h, b->gu, b->N, b->F, 0, b->dt, g.s);
}

static int b_gqa_fwd(void *p)
{
    struct bench *b = p;
    return kn_gqa_attention_fwd(g.blas, b->y, b->att, b->qkv, b->B, b->T, b->NH, b->NKV, b->hs,
                                b->dt, b->scr, b->scr_bytes, g.s);
}

static int b_gqa_bwd(void *p)
{
    struct bench *b = p;
    return kn_gqa_attention_bwd(g.blas, b->dqkv, b->y, b->qkv, b->att, b->B, b->T, b->NH, b->NKV,
                                b->hs, 0, b->dt, b->scr, b->scr_bytes, g.s);
}

static void bench(kn_dtype dt)
{
    struct bench b = { .dt = dt, .N = 8192, .C = 2048, .F = 5632, .B = 4, .T = 2048, .NH = 32,
                       .NKV = 4, .hs = 64 };
    size_t es = kn_dtype_size(dt), NC = (size_t)b.N * b.C, NF = (size_t)b.N * b.F;
    size_t W = (size_t)(b.NH + 2 * b.NKV) * b.hs;
    size_t att_b = (size_t)1 * b.NH * b.T * b.T;   /* attention timed at B = 1 */
    b.x = dalloc(NC * es); b.res = dalloc(NC * es); b.out = dalloc(NC * es);
    b.dx = dalloc(NC * es); b.dy = dalloc(NC * es); b.w = dalloc(b.C * es);
    b.rstd = dalloc(b.N * 4); b.dw = dalloc(b.C * 4);
    b.gu = dalloc(2 * NF * es); b.h = dalloc(NF * es); b.dgu = dalloc(2 * NF * es);
    b.qkv = dalloc(b.N * W * es); b.dqkv = dalloc(b.N * W * es); b.y = dalloc(NC * es);
    b.att = dalloc(att_b * es); b.cs = dalloc((size_t)b.T * b.hs * 4);
    size_t s1 = kn_rmsnorm_bwd_scratch_bytes(b.N, b.C);
    size_t s2 = kn_gqa_attention_bwd_scratch_bytes(1, b.T, b.NH, b.NKV, b.hs, dt);
    size_t s3 = kn_gqa_attention_fwd_scratch_bytes(1, b.T, b.NH, b.NKV, b.hs, dt);
    b.scr_bytes = s1 > s2 ? s1 : s2;
    b.scr_bytes = b.scr_bytes > s3 ? b.scr_bytes : s3;
    b.scr = dalloc(b.scr_bytes);
    /* finite inputs: zeros are enough for timing, the rstd of zero rows is
     * finite with eps > 0 */
    void *bufs[] = { b.x, b.res, b.out, b.dx, b.dy, b.w, b.rstd, b.dw, b.gu, b.h, b.dgu,
                     b.qkv, b.dqkv, b.y, b.att };
    size_t sz[] = { NC * es, NC * es, NC * es, NC * es, NC * es, b.C * es, b.N * 4, b.C * 4,
                    2 * NF * es, NF * es, 2 * NF * es, b.N * W * es, b.N * W * es, NC * es,
                    att_b * es };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        cuda_ok(cudaMemset(bufs[i], 0, sz[i]), "cudaMemset");
    kn_rope_table(b.cs, b.T, b.hs, 10000.0, g.s);
    struct { const char *name; bench_fn fn; double bytes; } k[] = {
        { "rmsnorm_fwd", b_rms_fwd, 2.0 * NC * es },
        { "residual_rmsnorm_fwd", b_res_rms_fwd, 4.0 * NC * es },
        { "rmsnorm_bwd (+=)", b_rms_bwd, 4.0 * NC * es },
        { "rope_fwd (q, k in place)", b_rope_fwd, 2.0 * b.N * (b.NH + b.NKV) * b.hs * es },
        { "swiglu_fwd", b_swiglu_fwd, 3.0 * NF * es },
        { "swiglu_bwd", b_swiglu_bwd, 5.0 * NF * es },
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        double us = time_us(k[i].fn, &b, 20);
        printf("bench %-4s %-26s N%d C%d F%d: %9.1f us  %7.1f GB/s\n", kn_dtype_name(dt),
               k[i].name, b.N, b.C, b.F, us, us > 0 ? k[i].bytes / us / 1e3 : 0.0);
    }
    /* attention on one sequence of 2048 (the materialised path's T x T
     * probabilities for 32 heads are 256 MiB in fp32) */
    int B0 = b.B;
    b.B = 1;
    double fl = 4.0 * b.NH * (double)b.T * b.T * b.hs;   /* q k^T and att v, full square */
    double us = time_us(b_gqa_fwd, &b, 5);
    printf("bench %-4s %-26s B1 T%d %d/%d hs%d: %9.1f us  %7.1f TFLOP/s\n", kn_dtype_name(dt),
           "gqa_attention_fwd", b.T, b.NH, b.NKV, b.hs, us, us > 0 ? fl / us / 1e6 : 0.0);
    us = time_us(b_gqa_bwd, &b, 5);
    printf("bench %-4s %-26s B1 T%d %d/%d hs%d: %9.1f us  %7.1f TFLOP/s\n", kn_dtype_name(dt),
           "gqa_attention_bwd", b.T, b.NH, b.NKV, b.hs, us, us > 0 ? 2 * fl / us / 1e6 : 0.0);
    b.B = B0;
    dfree_all();
}

int main(int argc, char **argv)
{
    int mask = 3, do_bench = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bench")) {
            do_bench = 1;
            continue;
        }
        if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            const char *v = argv[++i];
            mask = !strcmp(v, "fp32") ? 1 : !strcmp(v, "bf16") ? 2 : !strcmp(v, "all") ? 3 : 0;
        } else {
            mask = 0;
        }
        if (!mask) {
            fprintf(stderr, "usage: test_llama_kernels [--precision fp32|bf16|all] [--bench]\n"
                            "exit: 0 pass, 1 failure, 2 usage, 77 no GPU (skip)\n");
            return 2;
        }
    }
    if (kn_device_check()) {
        printf("skip: %s\n", ingot_errmsg());
        return 77;
    }
    cuda_ok(cudaStreamCreate(&g.s), "cudaStreamCreate");
    if (g.cuda_failed || kn_blas_create(&g.blas, 0)) {
        fprintf(stderr, "setup failed: %s\n", ingot_errmsg());
        return 1;
    }
    for (int k = 0; k < 2; k++) {
        if (!(mask & (1 << k)))
            continue;
        kn_dtype dt = k ? KN_BF16 : KN_F32;
        ll_seed(1000 + k);
        chk_rmsnorm(dt);
        chk_rope(dt);
        chk_swiglu(dt);
        chk_gqa_expand(dt);
        chk_gqa(dt);
        if (do_bench)
            bench(dt);
    }
    kn_blas_free(g.blas);
    cudaStreamDestroy(g.s);
    printf("%d checks passed, %d failed\n", g.npass, g.nfail);
    return g.nfail || g.cuda_failed ? 1 : 0;
}
