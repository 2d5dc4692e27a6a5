/* kernel-check entries for the LLaMA kernels (rmsnorm.h, rope.h, swiglu.h,
 * gqa.h, and matmul.h's SwiGLU products) against kernels/cpu/ref_llama.h,
 * ref_ops.h and ref_rope_expand.h; benches at
 * TinyLlama-1.1B's shape (kc.h). Shapes include C 4096 (the 4-warp RMSNorm
 * backward), F 5632, MQA and MHA, widths that are and are not whole 16-byte
 * packs (the vectorised SwiGLU and its scalar fallback). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attention.h"
#include "flash_attention.h"
#include "gqa.h"
#include "kc.h"
#include "ref_llama.h"
#include "ref_ops.h"
#include "ref_rope_expand.h"
#include "rmsnorm.h"
#include "rope.h"
#include "swiglu.h"

static const float EPS = 1e-5f;

/* RMSNorm rows: C 96 and 2048 (whole warps of packs), 770 (odd), 4096. */
static const int rms_shapes[][2] = {{37, 96}, {20, 770}, {9, 2048}, {5, 4096}, {300, 1536}};
enum { N_RMS = sizeof rms_shapes / sizeof rms_shapes[0] };

int kc_chk_rmsnorm_fwd(kc *c, kn_dtype dt)
{
    const char *K = "rmsnorm_fwd";
    int r = 0;
    for (int v = 0; v < N_RMS; v++) {
        const int N = rms_shapes[v][0], C = rms_shapes[v][1];
        const size_t n = (size_t)N * C;
        float *x = kc_halloc(c, n), *w = kc_halloc(c, C), *out = kc_halloc(c, n);
        float *rstd = kc_halloc(c, N);
        KC_OOM(K);
        kc_fill(c, x, n, -2, 2, dt);
        kc_fill(c, w, C, -1, 1, dt);
        ref_rmsnorm_fwd(out, rstd, x, w, EPS, N, C);
        void *dx = kc_dup(c, x, n, dt), *dw = kc_dup(c, w, C, dt);
        void *dout = kc_poisoned(c, n, dt), *drstd = kc_poisoned(c, N, KN_F32);
        KC_OOM(K);
        KC_TRY(K, kn_rmsnorm_fwd(dout, drstd, dx, dw, EPS, N, C, dt, c->s));
        KC_SYNC(K);
        char what[64];
        snprintf(what, sizeof what, "N%d C%d out", N, C);
        r |= kc_check_dev(c, K, dt, what, dout, out, n, kc_tol2(dt, 1e-6, 1e-5, 1e-6, 8e-3));
        snprintf(what, sizeof what, "N%d C%d rstd", N, C);
        r |= kc_check_f32(c, K, dt, what, drstd, rstd, N, (tol){0, 1e-5});
    }
    return r;
}

/* In place on the residual stream (res_out = res); the reference
 * normalises the sum as rounded to dt, which is what the kernel stores. */
int kc_chk_residual_rmsnorm_fwd(kc *c, kn_dtype dt)
{
    const char *K = "residual_rmsnorm_fwd";
    int r = 0;
    for (int v = 0; v < N_RMS; v++) {
        const int N = rms_shapes[v][0], C = rms_shapes[v][1];
        const size_t n = (size_t)N * C;
        float *x = kc_halloc(c, n), *res = kc_halloc(c, n), *w = kc_halloc(c, C);
        float *sum = kc_halloc(c, n), *out = kc_halloc(c, n), *rstd = kc_halloc(c, N);
        KC_OOM(K);
        kc_fill(c, x, n, -2, 2, dt);
        kc_fill(c, res, n, -1, 1, dt);
        kc_fill(c, w, C, -1, 1, dt);
        for (size_t i = 0; i < n; i++)
            sum[i] = res[i] + x[i];
        kc_round_dt(sum, n, dt);
        ref_rmsnorm_fwd(out, rstd, sum, w, EPS, N, C);
        void *dx = kc_dup(c, x, n, dt), *dres = kc_dup(c, res, n, dt), *dw = kc_dup(c, w, C, dt);
        void *dout = kc_poisoned(c, n, dt), *drstd = kc_poisoned(c, N, KN_F32);
        KC_OOM(K);
        KC_TRY(K, kn_residual_rmsnorm_fwd(dres, dout, drstd, dres, dx, dw, EPS, N, C, dt, c->s));
        KC_SYNC(K);
        char what[64];
        snprintf(what, sizeof what, "N%d C%d res_out (in place)", N, C);
        r |= kc_check_dev(c, K, dt, what, dres, sum, n, (tol){0, 0});
        snprintf(what, sizeof what, "N%d C%d out", N, C);
        r |= kc_check_dev(c, K, dt, what, dout, out, n, kc_tol2(dt, 1e-6, 1e-5, 1e-6, 8e-3));
        snprintf(what, sizeof what, "N%d C%d rstd", N, C);
        r |= kc_check_f32(c, K, dt, what, drstd, rstd, N, (tol){0, 1e-5});
    }
    return r;
}

/* Accumulating into dinp (the fused residual backward: dinp is the residual
 * stream's gradient) while writing a poisoned dw (a step's first micro-step),
 * then writing a poisoned dinp while adding to that dw. */
int kc_chk_rmsnorm_bwd(kc *c, kn_dtype dt)
{
    const char *K = "rmsnorm_bwd";
    int r = 0;
    for (int v = 0; v < N_RMS; v++) {
        const int N = rms_shapes[v][0], C = rms_shapes[v][1];
        const size_t n = (size_t)N * C;
        float *x = kc_halloc(c, n), *w = kc_halloc(c, C), *tmp = kc_halloc(c, n);
        float *rstd = kc_halloc(c, N), *dy = kc_halloc(c, n), *dx = kc_halloc(c, n);
        float *dw = kc_zeros(c, C), *dx0 = kc_zeros(c, n);
        KC_OOM(K);
        kc_fill(c, x, n, -2, 2, dt);
        kc_fill(c, w, C, -1, 1, dt);
        kc_fill(c, dy, n, -1, 1, dt);
        kc_fill(c, dx, n, -1, 1, dt);
        ref_rmsnorm_fwd(tmp, rstd, x, w, EPS, N, C);
        void *ddy = kc_dup(c, dy, n, dt), *dxv = kc_dup(c, x, n, dt), *dwv = kc_dup(c, w, C, dt);
        void *drs = kc_dup(c, rstd, N, KN_F32), *ddx = kc_dup(c, dx, n, dt);
        void *ddx0 = kc_poisoned(c, n, dt), *ddw = kc_poisoned(c, C, KN_F32);
        size_t sb = kn_rmsnorm_bwd_scratch_bytes(N, C);
        void *scratch = kc_dalloc(c, sb);
        KC_OOM(K);
        /* dw: written by the first call, added to by the second */
        ref_rmsnorm_bwd(dx, dw, dy, x, w, rstd, N, C);
        ref_rmsnorm_bwd(dx0, dw, dy, x, w, rstd, N, C);
        KC_TRY(K, kn_rmsnorm_bwd(ddx, (float *)ddw, ddy, dxv, dwv, (const float *)drs, N, C, 1, 0,
                                 dt, scratch, sb, c->s));
        KC_TRY(K, kn_rmsnorm_bwd(ddx0, (float *)ddw, ddy, dxv, dwv, (const float *)drs, N, C, 0,
                                 1, dt, scratch, sb, c->s));
        KC_SYNC(K);
        tol tdx = kc_tol2(dt, 1e-5, 1e-4, 2e-2, 1e-2), tdw = {1e-5 * N, 1e-4};
        char what[64];
        snprintf(what, sizeof what, "N%d C%d dinp (+=)", N, C);
        r |= kc_check_dev(c, K, dt, what, ddx, dx, n, tdx);
        snprintf(what, sizeof what, "N%d C%d dinp (=)", N, C);
        r |= kc_check_dev(c, K, dt, what, ddx0, dx0, n, tdx);
        snprintf(what, sizeof what, "N%d C%d dw (=, then +=)", N, C);
        r |= kc_check_f32(c, K, dt, what, ddw, dw, C, tdw);
    }
    /* no rows (N 0, e.g. an empty micro-batch): a written dw is zeros, an
     * added one (random values) stays as it was; no scratch needed */
    {
        enum { C0 = 96 };
        float *zero = kc_zeros(c, C0), *vals = kc_halloc(c, C0); /* host: the expected */
        KC_OOM(K);
        kc_fill(c, vals, C0, -1, 1, KN_F32);
        void *ddw = kc_poisoned(c, C0, KN_F32), *ddw2 = kc_dup(c, vals, C0, KN_F32);
        void *dx = kc_poisoned(c, C0, dt), *src = kc_poisoned(c, C0, dt);
        void *drs = kc_poisoned(c, 1, KN_F32);
        KC_OOM(K);
        KC_TRY(K, kn_rmsnorm_bwd(dx, (float *)ddw, src, src, src, (const float *)drs, 0, C0, 0,
                                 0, dt, NULL, 0, c->s));
        KC_TRY(K, kn_rmsnorm_bwd(dx, (float *)ddw2, src, src, src, (const float *)drs, 0, C0, 1,
                                 1, dt, NULL, 0, c->s));
        KC_SYNC(K);
        r |= kc_check_f32(c, K, dt, "N0 C96 dw (=): zeros", ddw, zero, C0, (tol){0, 0});
        r |= kc_check_f32(c, K, dt, "N0 C96 dw (+=): unchanged", ddw2, vals, C0, (tol){0, 0});
    }
    return r;
}

/* The table (T 300, hs 64, theta 5e5: long angles) against the host's. */
int kc_chk_rope_table(kc *c, kn_dtype dt)
{
    const char *K = "rope_table";
    const int T = 300, hs = 64;
    const size_t n = (size_t)T * hs;
    float *cs = kc_halloc(c, n);
    void *dcs = kc_poisoned(c, n, KN_F32);
    KC_OOM(K);
    ref_rope_table(cs, T, hs, 500000.0);
    KC_TRY(K, kn_rope_table(dcs, T, hs, 500000.0, c->s));
    KC_SYNC(K);
    return kc_check_f32(c, K, dt, "T300 hs64 theta 5e5", dcs, cs, n, (tol){2e-7, 0});
}

/* B, T, NH, NKV, hs: GQA, MQA, MHA. */
static const int llama_att_shapes[][5] = {{2, 37, 4, 2, 16}, {1, 130, 8, 1, 64}, {3, 5, 6, 6, 8}};
enum { N_LAS = sizeof llama_att_shapes / sizeof llama_att_shapes[0] };

/* "B.. T.. NH/NKV hs.. <part>" */
static void att_label(char *buf, size_t n, const int *a, const char *part)
{
    snprintf(buf, n, "B%d T%d %d/%d hs%d %s", a[0], a[1], a[2], a[3], a[4], part);
}

/* In place on packed qkv (q and k rotate, v untouched), the backward in
 * place, and out of place on a plain [B, T, NH hs] tensor. */
int kc_chk_rope(kc *c, kn_dtype dt)
{
    const char *K = "rope_fwd_bwd";
    int r = 0;
    for (int v = 0; v < N_LAS; v++) {
        const int *a = llama_att_shapes[v];
        const int B = a[0], T = a[1], NH = a[2], NKV = a[3], hs = a[4];
        const int W = (NH + 2 * NKV) * hs;
        const size_t n = (size_t)B * T * W, nq = (size_t)B * T * NH * hs;
        float *cs = kc_halloc(c, (size_t)T * hs), *x = kc_halloc(c, n), *d = kc_halloc(c, n);
        float *q = kc_halloc(c, nq), *qo = kc_halloc(c, nq);
        KC_OOM(K);
        kc_fill(c, x, n, -1, 1, dt);
        kc_fill(c, d, n, -1, 1, dt);
        kc_fill(c, q, nq, -1, 1, dt);
        ref_rope_table(cs, T, hs, 10000.0);
        void *dcs = kc_dup(c, cs, (size_t)T * hs, KN_F32), *dx = kc_dup(c, x, n, dt);
        void *dd = kc_dup(c, d, n, dt), *dq = kc_dup(c, q, nq, dt);
        void *dqo = kc_poisoned(c, nq, dt);
        KC_OOM(K);
        ref_rope_fwd(x, x, cs, B, T, NH + NKV, hs, W);
        ref_rope_bwd(d, d, cs, B, T, NH + NKV, hs, W);
        ref_rope_fwd(qo, q, cs, B, T, NH, hs, NH * hs);
        KC_TRY(K, kn_rope_fwd(dx, dx, dcs, B, T, NH + NKV, hs, W, dt, c->s));
        KC_TRY(K, kn_rope_bwd(dd, dd, dcs, B, T, NH + NKV, hs, W, dt, c->s));
        KC_TRY(K, kn_rope_fwd(dqo, dq, dcs, B, T, NH, hs, NH * hs, dt, c->s));
        KC_SYNC(K);
        tol t = kc_tol2(dt, 1e-6, 1e-5, 1e-6, 8e-3);
        char what[80];
        att_label(what, sizeof what, a, "fwd qkv in place");
        r |= kc_check_dev(c, K, dt, what, dx, x, n, t);
        att_label(what, sizeof what, a, "bwd dqkv in place");
        r |= kc_check_dev(c, K, dt, what, dd, d, n, t);
        att_label(what, sizeof what, a, "fwd q out of place");
        r |= kc_check_dev(c, K, dt, what, dqo, qo, nq, t);
    }
    return r;
}

/* The fused prologue: rope + repeat_kv into [q | k | v], and its backward
 * (group sums + inverse rotation, rounded once). */
int kc_chk_rope_expand(kc *c, kn_dtype dt)
{
    const char *K = "rope_expand";
    int r = 0;
    for (int v = 0; v < N_LAS; v++) {
        const int *a = llama_att_shapes[v];
        const int B = a[0], T = a[1], NH = a[2], NKV = a[3], hs = a[4];
        const size_t rows = (size_t)B * T, n = rows * (NH + 2 * NKV) * hs;
        const size_t n3 = rows * 3 * NH * hs;
        float *cs = kc_halloc(c, (size_t)T * hs), *x = kc_halloc(c, n), *x3 = kc_halloc(c, n3);
        float *d3 = kc_halloc(c, n3), *dx = kc_halloc(c, n);
        KC_OOM(K);
        kc_fill(c, x, n, -1, 1, dt);
        kc_fill(c, d3, n3, -1, 1, dt);
        ref_rope_table(cs, T, hs, 10000.0);
        ref_rope_expand_fwd(x3, x, cs, B, T, NH, NKV, hs);
        ref_rope_expand_bwd(dx, d3, cs, B, T, NH, NKV, hs);
        void *dcs = kc_dup(c, cs, (size_t)T * hs, KN_F32), *dxv = kc_dup(c, x, n, dt);
        void *dd3 = kc_dup(c, d3, n3, dt), *dout = kc_poisoned(c, n3, dt);
        void *ddx = kc_poisoned(c, n, dt);
        KC_OOM(K);
        KC_TRY(K, kn_rope_expand_fwd(dout, dxv, dcs, B, T, NH, NKV, hs, dt, c->s));
        KC_TRY(K, kn_rope_expand_bwd(ddx, dd3, dcs, B, T, NH, NKV, hs, dt, c->s));
        KC_SYNC(K);
        /* bf16: the same float32 value as the reference's, rounded once */
        tol t = kc_tol2(dt, 1e-6, 1e-5, 1e-6, 8e-3);
        char what[80];
        att_label(what, sizeof what, a, "fwd [q|k|v]");
        r |= kc_check_dev(c, K, dt, what, dout, x3, n3, t);
        att_label(what, sizeof what, a, "bwd dqkv (=)");
        r |= kc_check_dev(c, K, dt, what, ddx, dx, n, t);
    }
    return r;
}

/* F 300 (whole packs in fp32, not in bf16: both paths), 5632, 1. */
int kc_chk_swiglu(kc *c, kn_dtype dt)
{
    const char *K = "swiglu";
    static const int shapes[][2] = {{33, 300}, {4, 5632}, {7, 1}};
    int r = 0;
    for (int v = 0; v < 3; v++) {
        const int N = shapes[v][0], F = shapes[v][1];
        const size_t n = (size_t)N * F;
        float *gu = kc_halloc(c, 2 * n), *out = kc_halloc(c, n), *dy = kc_halloc(c, n);
        float *dgu = kc_halloc(c, 2 * n), *dgu0 = kc_zeros(c, 2 * n);
        KC_OOM(K);
        kc_fill(c, gu, 2 * n, -4, 4, dt);
        kc_fill(c, dy, n, -1, 1, dt);
        kc_fill(c, dgu, 2 * n, -1, 1, dt);
        void *dguv = kc_dup(c, gu, 2 * n, dt), *dout = kc_poisoned(c, n, dt);
        void *ddy = kc_dup(c, dy, n, dt), *ddgu = kc_dup(c, dgu, 2 * n, dt);
        void *ddgu0 = kc_poisoned(c, 2 * n, dt);
        KC_OOM(K);
        ref_swiglu_fwd(out, gu, N, F);
        ref_swiglu_bwd(dgu, dy, gu, N, F);
        ref_swiglu_bwd(dgu0, dy, gu, N, F);
        KC_TRY(K, kn_swiglu_fwd(dout, dguv, N, F, dt, c->s));
        KC_TRY(K, kn_swiglu_bwd(ddgu, ddy, dguv, N, F, 1, dt, c->s));
        KC_TRY(K, kn_swiglu_bwd(ddgu0, ddy, dguv, N, F, 0, dt, c->s));
        KC_SYNC(K);
        char what[64];
        snprintf(what, sizeof what, "N%d F%d fwd", N, F);
        r |= kc_check_dev(c, K, dt, what, dout, out, n, kc_tol2(dt, 1e-6, 1e-5, 1e-6, 8e-3));
        snprintf(what, sizeof what, "N%d F%d bwd dgate|dup (+=)", N, F);
        r |= kc_check_dev(c, K, dt, what, ddgu, dgu, 2 * n, kc_tol2(dt, 4e-6, 1e-5, 1e-2, 8e-3));
        snprintf(what, sizeof what, "N%d F%d bwd dgate|dup (=)", N, F);
        r |= kc_check_dev(c, K, dt, what, ddgu0, dgu0, 2 * n,
                          kc_tol2(dt, 4e-6, 1e-5, 1e-5, 8e-3));
    }
    return r;
}

/* The MLP's products with the SwiGLU (matmul.h: kn_matmul_fwd_swiglu,
 * kn_matmul_bwd_inp_swiglu) against ref_matmul + ref_swiglu: on a Hopper GPU
 * with INGOT_GEMM_SM90=1 the SwiGLU runs in the own GEMM's epilogue
 * (partial tiles in every dimension: F 200 is one and a half 128-column
 * output tiles of the forward); by default at these sizes (under 4096 rows)
 * and elsewhere, the product then kernels/swiglu.cu. F 100 (not a multiple
 * of 8) always takes the unfused path. */
int kc_chk_matmul_swiglu(kc *c, kn_dtype dt)
{
    const char *K = "matmul_swiglu";
    static const int shapes[][3] = {{300, 96, 200}, {129, 64, 256}, {37, 128, 100}};
    int r = 0;
    for (int v = 0; v < 3; v++) {
        const int N = shapes[v][0], C = shapes[v][1], F = shapes[v][2];
        const size_t NC = (size_t)N * C, NF = (size_t)N * F, WF = 2 * (size_t)F * C;
        float *inp = kc_halloc(c, NC), *wgu = kc_halloc(c, WF), *wdn = kc_halloc(c, WF / 2);
        float *gu = kc_halloc(c, 2 * NF), *h = kc_halloc(c, NF), *dout = kc_halloc(c, NC);
        float *dh = kc_zeros(c, NF), *dw = kc_zeros(c, WF / 2), *xz = kc_zeros(c, NF);
        float *dgu = kc_zeros(c, 2 * NF);
        KC_OOM(K);
        kc_fill(c, inp, NC, -1, 1, dt);
        kc_fill(c, wgu, WF, -2.0f / sqrtf((float)C), 2.0f / sqrtf((float)C), dt);
        kc_fill(c, wdn, WF / 2, -1.0f / sqrtf((float)F), 1.0f / sqrtf((float)F), dt);
        kc_fill(c, dout, NC, -1, 1, dt);
        ref_matmul_fwd(gu, inp, wgu, NULL, N, C, 2 * F);
        ref_swiglu_fwd(h, gu, N, F);
        /* the backward's gate | up: the forward's, as stored (rounded to dt) */
        kc_round_dt(gu, 2 * NF, dt);
        ref_matmul_bwd(dh, dw, NULL, dout, xz, wdn, N, F, C); /* dh = dout . wdn */
        ref_swiglu_bwd(dgu, dh, gu, N, F);
        void *dinp = kc_dup(c, inp, NC, dt), *dwgu = kc_dup(c, wgu, WF, dt);
        void *dwdn = kc_dup(c, wdn, WF / 2, dt), *ddout = kc_dup(c, dout, NC, dt);
        void *dgu_in = kc_dup(c, gu, 2 * NF, dt);
        void *d_gu = kc_poisoned(c, 2 * NF, dt), *d_h = kc_poisoned(c, NF, dt);
        void *d_dgu = kc_poisoned(c, 2 * NF, dt), *d_dh = kc_poisoned(c, NF, dt);
        KC_OOM(K);
        KC_TRY(K, kn_matmul_fwd_swiglu(c->blas, d_h, d_gu, dinp, dwgu, N, C, F, dt, c->s));
        KC_TRY(K, kn_matmul_bwd_inp_swiglu(c->blas, d_dgu, d_dh, ddout, dwdn, dgu_in, N, F, C, dt,
                                           c->s));
        KC_SYNC(K);
        const tol t = kc_tol2(dt, 2e-5, 1e-4, 1e-2, 1e-2);
        char what[64];
        snprintf(what, sizeof what, "%dx%dx%d fwd gate|up", N, C, F);
        r |= kc_check_dev(c, K, dt, what, d_gu, gu, 2 * NF, t);
        snprintf(what, sizeof what, "%dx%dx%d fwd silu(g) u", N, C, F);
        r |= kc_check_dev(c, K, dt, what, d_h, h, NF, t);
        snprintf(what, sizeof what, "%dx%dx%d bwd dgate|dup (=)", N, C, F);
        r |= kc_check_dev(c, K, dt, what, d_dgu, dgu, 2 * NF, kc_tol2(dt, 4e-5, 1e-4, 2e-2, 2e-2));
    }
    return r;
}

/* LLaMA's QKV product with RoPE (matmul.h: kn_matmul_fwd_rope) against
 * ref_matmul + ref_rope_fwd on the product as stored (rounded to dt): on a
 * Hopper GPU with INGOT_GEMM_SM90=1 the rotation runs in the own GEMM's
 * epilogue (kc_gemm_sm90_rope checks it at the training shapes too); by
 * default at these sizes (under 4096 rows) and elsewhere, the product then
 * kn_rope_fwd. The attention shapes above: heads of 16 (a lane's 8
 * channels are half a head), 64 and 8 (never fused: under 16). */
int kc_chk_matmul_rope(kc *c, kn_dtype dt)
{
    const char *K = "matmul_rope";
    const int C = 96;
    int r = 0;
    for (int v = 0; v < N_LAS; v++) {
        const int *a = llama_att_shapes[v];
        const int B = a[0], T = a[1], NH = a[2], NKV = a[3], hs = a[4];
        const int W = (NH + 2 * NKV) * hs, N = B * T;
        const size_t NC = (size_t)N * C, NW = (size_t)N * W, WC = (size_t)W * C;
        float *cs = kc_halloc(c, (size_t)T * hs), *inp = kc_halloc(c, NC);
        float *w = kc_halloc(c, WC), *qkv = kc_halloc(c, NW);
        KC_OOM(K);
        kc_fill(c, inp, NC, -1, 1, dt);
        kc_fill(c, w, WC, -2.0f / sqrtf((float)C), 2.0f / sqrtf((float)C), dt);
        ref_rope_table(cs, T, hs, 10000.0);
        ref_matmul_fwd(qkv, inp, w, NULL, N, C, W);
        kc_round_dt(qkv, NW, dt); /* the product as stored, then rotated */
        ref_rope_fwd(qkv, qkv, cs, B, T, NH + NKV, hs, W);
        void *dcs = kc_dup(c, cs, (size_t)T * hs, KN_F32), *dinp = kc_dup(c, inp, NC, dt);
        void *dw = kc_dup(c, w, WC, dt), *dqkv = kc_poisoned(c, NW, dt);
        KC_OOM(K);
        KC_TRY(K, kn_matmul_fwd_rope(c->blas, dqkv, dinp, dw, dcs, B, T, C, W, NH + NKV, hs, dt,
                                     c->s));
        KC_SYNC(K);
        char what[80];
        att_label(what, sizeof what, a, "qkv rotated");
        r |= kc_check_dev(c, K, dt, what, dqkv, qkv, NW, kc_tol2(dt, 2e-5, 1e-4, 1e-2, 1e-2));
    }
    return r;
}

/* The expansion is a copy (exact); reducing it adds the copies back. */
int kc_chk_gqa_expand(kc *c, kn_dtype dt)
{
    const char *K = "gqa_expand";
    const int B = 2, T = 11, NH = 6, NKV = 2, hs = 8, W = (NH + 2 * NKV) * hs, C = NH * hs;
    const int rep = NH / NKV;
    const size_t rows = (size_t)B * T, nq = rows * W, n3 = rows * 3 * C;
    float *qkv = kc_halloc(c, nq), *q3 = kc_halloc(c, n3), *red = kc_halloc(c, nq);
    KC_OOM(K);
    kc_fill(c, qkv, nq, -1, 1, dt);
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < 3 * C; j++) {
            int part = j / C, h = (j % C) / hs, d = j % hs;
            int src = part == 0 ? h * hs + d : (NH + (part - 1) * NKV + h / rep) * hs + d;
            q3[r * 3 * C + j] = qkv[r * W + src];
        }
    for (size_t r = 0; r < rows; r++) /* q once, k and v rep times */
        for (int j = 0; j < W; j++)
            red[r * W + j] = j < C ? qkv[r * W + j] : rep * qkv[r * W + j];
    void *dq = kc_dup(c, qkv, nq, dt), *d3 = kc_poisoned(c, n3, dt);
    void *dred = kc_poisoned(c, nq, dt);
    KC_OOM(K);
    KC_TRY(K, kn_gqa_expand(d3, dq, B, T, NH, NKV, hs, dt, c->s));
    KC_TRY(K, kn_gqa_reduce(dred, d3, B, T, NH, NKV, hs, 0, dt, c->s));
    KC_SYNC(K);
    int r = kc_check_dev(c, K, dt, "repeat_kv 6/2 (exact)", d3, q3, n3, (tol){0, 0});
    r |= kc_check_dev(c, "gqa_reduce", dt, "sum of 3 copies", dred, red, nq,
                      kc_tol2(dt, 0, 1e-7, 0, 8e-3));
    return r;
}

int kc_chk_gqa_attention_fwd(kc *c, kn_dtype dt)
{
    const char *K = "gqa_attention_fwd";
    int r = 0;
    for (int v = 0; v < N_LAS; v++) {
        const int *a = llama_att_shapes[v];
        const int B = a[0], T = a[1], NH = a[2], NKV = a[3], hs = a[4];
        const size_t nq = (size_t)B * T * (NH + 2 * NKV) * hs, no = (size_t)B * T * NH * hs;
        const size_t na = (size_t)B * NH * T * T;
        float *qkv = kc_halloc(c, nq), *out = kc_halloc(c, no), *att = kc_halloc(c, na);
        KC_OOM(K);
        kc_fill(c, qkv, nq, -1, 1, dt);
        ref_gqa_fwd(out, att, qkv, B, T, NH, NKV, hs);
        size_t sb = kn_gqa_attention_fwd_scratch_bytes(B, T, NH, NKV, hs, dt);
        void *dqkv = kc_dup(c, qkv, nq, dt), *dout = kc_poisoned(c, no, dt);
        void *datt = kc_poisoned(c, na, dt), *scratch = kc_dalloc(c, sb);
        KC_OOM(K);
        KC_TRY(K, kn_gqa_attention_fwd(c->blas, dout, datt, dqkv, B, T, NH, NKV, hs, dt, scratch,
                                       sb, c->s));
        KC_SYNC(K);
        char what[80];
        att_label(what, sizeof what, a, "out");
        r |= kc_check_dev(c, K, dt, what, dout, out, no, kc_tol2(dt, 1e-5, 1e-4, 1e-2, 1e-2));
        att_label(what, sizeof what, a, "att");
        r |= kc_check_dev(c, K, dt, what, datt, att, na, kc_tol2(dt, 1e-6, 1e-4, 2e-3, 1e-2));
    }
    return r;
}

/* From the reference's att rounded as the GPU keeps it. */
int kc_chk_gqa_attention_bwd(kc *c, kn_dtype dt)
{
    const char *K = "gqa_attention_bwd";
    int r = 0;
    for (int v = 0; v < N_LAS; v++) {
        const int *a = llama_att_shapes[v];
        const int B = a[0], T = a[1], NH = a[2], NKV = a[3], hs = a[4];
        const size_t nq = (size_t)B * T * (NH + 2 * NKV) * hs, no = (size_t)B * T * NH * hs;
        const size_t na = (size_t)B * NH * T * T;
        float *qkv = kc_halloc(c, nq), *out = kc_halloc(c, no), *att = kc_halloc(c, na);
        float *dy = kc_halloc(c, no), *dq = kc_halloc(c, nq), *dq0 = kc_zeros(c, nq);
        float *scr = kc_halloc(c, na);
        KC_OOM(K);
        kc_fill(c, qkv, nq, -1, 1, dt);
        kc_fill(c, dy, no, -1, 1, dt);
        kc_fill(c, dq, nq, -1, 1, dt);
        ref_gqa_fwd(out, att, qkv, B, T, NH, NKV, hs);
        kc_round_dt(att, na, dt);
        void *dqkv = kc_dup(c, qkv, nq, dt), *datt = kc_dup(c, att, na, dt);
        void *ddy = kc_dup(c, dy, no, dt), *ddq = kc_dup(c, dq, nq, dt);
        void *ddq0 = kc_poisoned(c, nq, dt);
        size_t sb = kn_gqa_attention_bwd_scratch_bytes(B, T, NH, NKV, hs, dt);
        void *scratch = kc_dalloc(c, sb);
        KC_OOM(K);
        ref_gqa_bwd(dq, scr, dy, qkv, att, B, T, NH, NKV, hs);
        ref_gqa_bwd(dq0, scr, dy, qkv, att, B, T, NH, NKV, hs);
        KC_TRY(K, kn_gqa_attention_bwd(c->blas, ddq, ddy, dqkv, datt, B, T, NH, NKV, hs, 1, dt,
                                       scratch, sb, c->s));
        KC_TRY(K, kn_gqa_attention_bwd(c->blas, ddq0, ddy, dqkv, datt, B, T, NH, NKV, hs, 0, dt,
                                       scratch, sb, c->s));
        KC_SYNC(K);
        /* dk, dv sum NH/NKV expanded heads, each rounded in bf16 */
        tol t = kc_tol2(dt, 2e-5, 1e-4, 3e-2 * sqrt((double)(NH / NKV)), 3e-2);
        char what[80];
        att_label(what, sizeof what, a, "dqkv (+=)");
        r |= kc_check_dev(c, K, dt, what, ddq, dq, nq, t);
        att_label(what, sizeof what, a, "dqkv (=)");
        r |= kc_check_dev(c, K, dt, what, ddq0, dq0, nq, t);
    }
    return r;
}

/* ------------------------------------------------------------------ */
/* Benchmarks at TinyLlama-1.1B's shape: --batch / 2 sequences of 2048    */
/* (8192 tokens by default), C 2048, F 5632, 32 query / 4 kv heads of 64. */

enum { TL_T = 2048, TL_C = 2048, TL_F = 5632, TL_NH = 32, TL_NKV = 4, TL_HS = 64 };

typedef struct lbargs {
    kn_dtype dt;
    int B, N;
    size_t sb;
    void *x, *res, *out, *w, *dx, *dy, *gu, *h, *dgu, *qkv, *q3, *d3, *y, *att, *scratch;
    float *rstd, *dw, *cs, *lse;
} lbargs;

static int bench_B(const kc *c)
{
    return c->batch / 2 > 0 ? c->batch / 2 : 1;
}

static int b_rms_fwd(kc *c, void *v)
{
    lbargs *a = v;
    return kn_rmsnorm_fwd(a->out, a->rstd, a->x, a->w, EPS, a->N, TL_C, a->dt, c->s);
}
static int b_res_rms_fwd(kc *c, void *v)
{
    lbargs *a = v;
    return kn_residual_rmsnorm_fwd(a->res, a->out, a->rstd, a->res, a->x, a->w, EPS, a->N, TL_C,
                                   a->dt, c->s);
}
static int b_rms_bwd(kc *c, void *v)
{
    lbargs *a = v;
    return kn_rmsnorm_bwd(a->dx, a->dw, a->dy, a->x, a->w, a->rstd, a->N, TL_C, 1, 1, a->dt,
                          a->scratch, a->sb, c->s);
}

int kc_bench_llama_norm(kc *c, kn_dtype dt)
{
    const char *K = "rmsnorm";
    lbargs a = {.dt = dt, .B = bench_B(c)};
    a.N = a.B * TL_T;
    const size_t NC = (size_t)a.N * TL_C, es = kn_dtype_size(dt);
    a.x = kc_dalloc(c, NC * es);
    a.res = kc_dalloc(c, NC * es);
    a.out = kc_dalloc(c, NC * es);
    a.dx = kc_dalloc(c, NC * es);
    a.dy = kc_dalloc(c, NC * es);
    a.w = kc_dalloc(c, TL_C * es);
    a.rstd = kc_dalloc(c, (size_t)a.N * 4);
    a.dw = kc_dalloc(c, TL_C * 4);
    a.sb = kn_rmsnorm_bwd_scratch_bytes(a.N, TL_C);
    a.scratch = kc_dalloc(c, a.sb);
    KC_OOM(K);
    KC_DFILL(a.x, NC, dt, -2, 2);
    KC_DFILL(a.res, NC, dt, -1, 1);
    KC_DFILL(a.w, (size_t)TL_C, dt, 0.5f, 1.5f);
    KC_DFILL(a.dy, NC, dt, -1, 1);
    KC_DFILL(a.dx, NC, dt, -1, 1);
    KC_CUDA(K, cudaMemsetAsync(a.dw, 0, TL_C * 4, c->s));
    char what[64];
    snprintf(what, sizeof what, "N=%d C=%d", a.N, TL_C);
    int r = kc_bench_run(c, "rmsnorm_fwd", dt, what, b_rms_fwd, &a, 2.0 * NC * es, 0);
    r |= kc_bench_run(c, "residual_rmsnorm_fwd", dt, what, b_res_rms_fwd, &a, 4.0 * NC * es, 0);
    r |= kc_bench_run(c, "rmsnorm_bwd", dt, what, b_rms_bwd, &a, 4.0 * NC * es, 0);
    return r;
}

static int b_rope_fwd(kc *c, void *v)
{
    lbargs *a = v;
    const int W = (TL_NH + 2 * TL_NKV) * TL_HS;
    return kn_rope_fwd(a->qkv, a->qkv, a->cs, a->B, TL_T, TL_NH + TL_NKV, TL_HS, W, a->dt, c->s);
}
static int b_rope_expand_fwd(kc *c, void *v)
{
    lbargs *a = v;
    return kn_rope_expand_fwd(a->q3, a->qkv, a->cs, a->B, TL_T, TL_NH, TL_NKV, TL_HS, a->dt, c->s);
}
static int b_rope_expand_bwd(kc *c, void *v)
{
    lbargs *a = v;
    return kn_rope_expand_bwd(a->qkv, a->d3, a->cs, a->B, TL_T, TL_NH, TL_NKV, TL_HS, a->dt, c->s);
}

int kc_bench_llama_rope(kc *c, kn_dtype dt)
{
    const char *K = "rope";
    lbargs a = {.dt = dt, .B = bench_B(c)};
    a.N = a.B * TL_T;
    const size_t es = kn_dtype_size(dt), W = (TL_NH + 2 * TL_NKV) * TL_HS;
    const size_t n = (size_t)a.N * W, n3 = (size_t)a.N * 3 * TL_C;
    a.qkv = kc_dalloc(c, n * es);
    a.q3 = kc_dalloc(c, n3 * es);
    a.d3 = kc_dalloc(c, n3 * es);
    a.cs = kc_dalloc(c, (size_t)TL_T * TL_HS * 4);
    KC_OOM(K);
    KC_DFILL(a.qkv, n, dt, -1, 1);
    KC_DFILL(a.d3, n3, dt, -1, 1);
    KC_TRY(K, kn_rope_table(a.cs, TL_T, TL_HS, 10000.0, c->s));
    const double qk = (double)a.N * (TL_NH + TL_NKV) * TL_HS * es;
    char what[64];
    snprintf(what, sizeof what, "N=%d q,k in place", a.N);
    int r = kc_bench_run(c, "rope_fwd", dt, what, b_rope_fwd, &a, 2.0 * qk, 0);
    snprintf(what, sizeof what, "N=%d qkv -> [q|k|v] 32/4", a.N);
    r |= kc_bench_run(c, "rope_expand_fwd", dt, what, b_rope_expand_fwd, &a,
                      (double)(n + n3) * es, 0);
    snprintf(what, sizeof what, "N=%d [dq|dk|dv] -> dqkv", a.N);
    r |= kc_bench_run(c, "rope_expand_bwd", dt, what, b_rope_expand_bwd, &a,
                      (double)(n + n3) * es, 0);
    return r;
}

static int b_swiglu_fwd(kc *c, void *v)
{
    lbargs *a = v;
    return kn_swiglu_fwd(a->h, a->gu, a->N, TL_F, a->dt, c->s);
}
static int b_swiglu_bwd(kc *c, void *v)
{
    lbargs *a = v;
    return kn_swiglu_bwd(a->dgu, a->h, a->gu, a->N, TL_F, 0, a->dt, c->s);
}

int kc_bench_llama_swiglu(kc *c, kn_dtype dt)
{
    const char *K = "swiglu";
    lbargs a = {.dt = dt, .B = bench_B(c)};
    a.N = a.B * TL_T;
    const size_t NF = (size_t)a.N * TL_F, es = kn_dtype_size(dt);
    a.gu = kc_dalloc(c, 2 * NF * es);
    a.h = kc_dalloc(c, NF * es);
    a.dgu = kc_dalloc(c, 2 * NF * es);
    KC_OOM(K);
    KC_DFILL(a.gu, 2 * NF, dt, -4, 4);
    KC_DFILL(a.h, NF, dt, -1, 1);
    char what[64];
    snprintf(what, sizeof what, "N=%d F=%d", a.N, TL_F);
    int r = kc_bench_run(c, "swiglu_fwd", dt, what, b_swiglu_fwd, &a, 3.0 * NF * es, 0);
    r |= kc_bench_run(c, "swiglu_bwd", dt, what, b_swiglu_bwd, &a, 5.0 * NF * es, 0);
    return r;
}

static int b_gqa_fwd(kc *c, void *v)
{
    lbargs *a = v;
    return kn_gqa_attention_fwd(c->blas, a->y, a->att, a->qkv, a->B, TL_T, TL_NH, TL_NKV, TL_HS,
                                a->dt, a->scratch, a->sb, c->s);
}
static int b_gqa_bwd(kc *c, void *v)
{
    lbargs *a = v;
    return kn_gqa_attention_bwd(c->blas, a->d3, a->y, a->qkv, a->att, a->B, TL_T, TL_NH, TL_NKV,
                                TL_HS, 0, a->dt, a->scratch, a->sb, c->s);
}
/* The trainer's bf16 path: the fused prologue, then flash attention. */
static int b_flash_fwd(kc *c, void *v)
{
    lbargs *a = v;
    int e = kn_rope_expand_fwd(a->q3, a->qkv, a->cs, a->B, TL_T, TL_NH, TL_NKV, TL_HS, a->dt,
                               c->s);
    return e ? e : kn_flash_attention_fwd(a->y, a->lse, a->q3, a->B, TL_T, TL_C, TL_NH, a->dt,
                                          c->s);
}
static int b_flash_bwd(kc *c, void *v)
{
    lbargs *a = v;
    int e = kn_flash_attention_bwd(a->d3, a->dy, a->q3, a->y, a->lse, a->B, TL_T, TL_C, TL_NH, 0,
                                   a->dt, a->scratch, a->sb, c->s);
    return e ? e : kn_rope_expand_bwd(a->qkv, a->d3, a->cs, a->B, TL_T, TL_NH, TL_NKV, TL_HS,
                                      a->dt, c->s);
}

/* The trainer's default bf16 path: RoPE in place, flash reading kv heads. */
static int b_flash_gqa_fwd(kc *c, void *v)
{
    lbargs *a = v;
    const int W = (TL_NH + 2 * TL_NKV) * TL_HS;
    int e = kn_rope_fwd(a->qkv, a->qkv, a->cs, a->B, TL_T, TL_NH + TL_NKV, TL_HS, W, a->dt, c->s);
    return e ? e : kn_flash_gqa_fwd(a->y, a->lse, a->qkv, a->B, TL_T, TL_NH, TL_NKV, TL_HS, a->dt,
                                    c->s);
}
static int b_flash_gqa_bwd(kc *c, void *v)
{
    lbargs *a = v;
    return kn_flash_gqa_rope_bwd(a->d3, a->dy, a->qkv, a->y, a->lse, a->cs, a->B, TL_T, TL_NH,
                                 TL_NKV, TL_HS, a->dt, a->scratch, a->sb, c->s);
}

/* Materialised GQA on one sequence (its T x T probabilities for 32 heads
 * are 256 MiB in fp32); in bf16 also the flash path at the bench batch. */
int kc_bench_llama_attention(kc *c, kn_dtype dt)
{
    const char *K = "gqa_attention";
    lbargs a = {.dt = dt, .B = 1};
    a.N = TL_T;
    const size_t es = kn_dtype_size(dt), W = (TL_NH + 2 * TL_NKV) * TL_HS;
    a.qkv = kc_dalloc(c, (size_t)a.N * W * es);
    a.y = kc_dalloc(c, (size_t)a.N * TL_C * es);
    a.d3 = kc_dalloc(c, (size_t)a.N * W * es);
    a.att = kc_dalloc(c, (size_t)TL_NH * TL_T * TL_T * es);
    size_t f = kn_gqa_attention_fwd_scratch_bytes(1, TL_T, TL_NH, TL_NKV, TL_HS, dt);
    size_t b = kn_gqa_attention_bwd_scratch_bytes(1, TL_T, TL_NH, TL_NKV, TL_HS, dt);
    a.sb = f > b ? f : b;
    a.scratch = kc_dalloc(c, a.sb);
    KC_OOM(K);
    KC_DFILL(a.qkv, (size_t)a.N * W, dt, -1, 1);
    double fl = 4.0 * TL_NH * (double)TL_T * TL_T * TL_HS; /* full square */
    int r = kc_bench_run(c, "gqa_attention_fwd", dt, "B1 T2048 32/4 hs64", b_gqa_fwd, &a, 0, fl);
    KC_DFILL(a.y, (size_t)a.N * TL_C, dt, -1, 1);
    r |= kc_bench_run(c, "gqa_attention_bwd", dt, "B1 T2048 32/4 hs64", b_gqa_bwd, &a, 0, 2 * fl);
    if (dt != KN_BF16 || !kn_flash_attention_supported(TL_C, TL_NH, dt))
        return r;
    kc_arena_reset(c);
    a = (lbargs){.dt = dt, .B = bench_B(c)};
    a.N = a.B * TL_T;
    const size_t n3 = (size_t)a.N * 3 * TL_C;
    a.qkv = kc_dalloc(c, (size_t)a.N * W * es);
    a.q3 = kc_dalloc(c, n3 * es);
    a.d3 = kc_dalloc(c, n3 * es);
    a.y = kc_dalloc(c, (size_t)a.N * TL_C * es);
    a.dy = kc_dalloc(c, (size_t)a.N * TL_C * es);
    a.lse = kc_dalloc(c, (size_t)a.B * TL_NH * TL_T * 4);
    a.cs = kc_dalloc(c, (size_t)TL_T * TL_HS * 4);
    a.sb = kn_flash_attention_bwd_scratch_bytes(a.B, TL_T, TL_C, TL_NH);
    size_t sg = kn_flash_gqa_bwd_scratch_bytes(a.B, TL_T, TL_NH, TL_NKV, TL_HS);
    a.sb = a.sb > sg ? a.sb : sg;
    a.scratch = kc_dalloc(c, a.sb);
    KC_OOM(K);
    KC_DFILL(a.qkv, (size_t)a.N * W, dt, -1, 1);
    KC_DFILL(a.dy, (size_t)a.N * TL_C, dt, -1, 1);
    KC_TRY(K, kn_rope_table(a.cs, TL_T, TL_HS, 10000.0, c->s));
    fl = 2.0 * a.B * TL_NH * (double)TL_T * TL_T * TL_HS; /* causal half */
    char what[64];
    snprintf(what, sizeof what, "B%d T2048 rope_expand+flash (causal)", a.B);
    r |= kc_bench_run(c, "llama_flash_fwd", dt, what, b_flash_fwd, &a, 0, fl);
    r |= kc_bench_run(c, "llama_flash_bwd", dt, what, b_flash_bwd, &a, 0, 2.5 * fl);
    if (!kn_flash_gqa_supported(TL_NH, TL_NKV, TL_HS, dt))
        return r;
    snprintf(what, sizeof what, "B%d T2048 rope+flash_gqa (causal)", a.B);
    r |= kc_bench_run(c, "llama_flash_fwd", dt, what, b_flash_gqa_fwd, &a, 0, fl);
    r |= kc_bench_run(c, "llama_flash_bwd", dt, what, b_flash_gqa_bwd, &a, 0, 2.5 * fl);
    return r;
}
