/* kernel-check entries for GPT-2's kernels (encoder, LayerNorm, matmul,
 * attention, flash attention, GELU, residual, cross-entropy, optimizer,
 * conversions): checks at small odd shapes against ref_ops.h, benches at
 * GPT-2 124M shapes (kc.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "attention.h"
#include "convert.h"
#include "encoder.h"
#include "flash_attention.h"
#include "gelu.h"
#include "gradnorm.h"
#include "graph_loop.h"
#include "kc.h"
#include "layernorm.h"
#include "ref_ops.h"
#include "residual.h"
#include "xent.h"

/* ------------------------------------------------------------------ */
/* Correctness checks. Each returns 0, or nonzero after reporting.      */

int kc_chk_encoder_fwd(kc *c, kn_dtype dt)
{
    const char *K = "encoder_fwd";
    const int B = 2, T = 37, C = 96, V = 1000;
    const size_t N = (size_t)B * T;
    int32_t *tok = (int32_t *)kc_halloc(c, N);
    float *wte = kc_halloc(c, (size_t)V * C), *wpe = kc_halloc(c, (size_t)T * C);
    float *ref = kc_halloc(c, N * C);
    KC_OOM(K);
    for (size_t i = 0; i < N; i++) /* half the ids from a few values: repeats */
        tok[i] = (int32_t)(kc_rng_next(c) % (i % 2 ? 8 : V));
    kc_fill(c, wte, (size_t)V * C, -1, 1, dt);
    kc_fill(c, wpe, (size_t)T * C, -1, 1, dt);
    ref_encoder_fwd(ref, tok, wte, wpe, B, T, C);
    int32_t *dtok = (int32_t *)kc_dalloc(c, N * 4);
    void *dwte = kc_dup(c, wte, (size_t)V * C, dt), *dwpe = kc_dup(c, wpe, (size_t)T * C, dt);
    void *dout = kc_poisoned(c, N * C, dt);
    KC_OOM(K);
    KC_CUDA(K, cudaMemcpy(dtok, tok, N * 4, cudaMemcpyHostToDevice));
    KC_TRY(K, kn_encoder_fwd(dout, dtok, dwte, dwpe, B, T, C, V, dt, c->s));
    KC_SYNC(K);
    return kc_check_dev(c, K, dt, "out", dout, ref, N * C, kc_tol2(dt, 0, 1e-7, 0, 4e-3));
}

int kc_chk_encoder_bwd(kc *c, kn_dtype dt)
{
    const char *K = "encoder_bwd";
    const int B = 3, T = 37, C = 100, V = 1000;
    const size_t N = (size_t)B * T;
    int32_t *tok = (int32_t *)kc_halloc(c, N);
    float *dout = kc_halloc(c, N * C), *dwte = kc_halloc(c, (size_t)V * C);
    float *dwpe = kc_halloc(c, (size_t)T * C);
    KC_OOM(K);
    for (size_t i = 0; i < N; i++)
        tok[i] = (int32_t)(kc_rng_next(c) % (i % 2 ? 5 : V));
    kc_fill(c, dout, N * C, -1, 1, dt);
    kc_fill(c, dwte, (size_t)V * C, -1, 1, KN_F32);
    kc_fill(c, dwpe, (size_t)T * C, -1, 1, KN_F32);
    int32_t *dtok = (int32_t *)kc_dalloc(c, N * 4);
    void *ddout = kc_dup(c, dout, N * C, dt);
    void *ddwte = kc_dup(c, dwte, (size_t)V * C, KN_F32);
    void *ddwpe = kc_dup(c, dwpe, (size_t)T * C, KN_F32);
    KC_OOM(K);
    size_t sb = 0;
    KC_TRY(K, kn_encoder_bwd_scratch_bytes(&sb, B, T, V));
    void *scratch = kc_dalloc(c, sb);
    KC_OOM(K);
    KC_CUDA(K, cudaMemcpy(dtok, tok, N * 4, cudaMemcpyHostToDevice));
    ref_encoder_bwd(dwte, dwpe, dout, tok, B, T, C);
    KC_TRY(K, kn_encoder_bwd((float *)ddwte, (float *)ddwpe, ddout, dtok, B, T, C, V, dt, scratch,
                             sb, c->s));
    KC_SYNC(K);
    /* Sums of bf16 inputs in float32: float32 accuracy in both modes. */
    tol t = {1e-5, 1e-5};
    int r = kc_check_f32(c, K, dt, "dwte (+=)", ddwte, dwte, (size_t)V * C, t);
    r |= kc_check_f32(c, K, dt, "dwpe (+=)", ddwpe, dwpe, (size_t)T * C, t);
    return r;
}

int kc_chk_layernorm_fwd(kc *c, kn_dtype dt)
{
    const char *K = "layernorm_fwd";
    /* 96, 1600: the vectorised kernel (whole 16-byte packs); 770: scalar */
    const int Ns[3] = {74, 33, 40}, Cs[3] = {96, 770, 1600};
    int r = 0;
    for (int v = 0; v < 3; v++) {
        int N = Ns[v], C = Cs[v];
        size_t NC = (size_t)N * C;
        float *inp = kc_halloc(c, NC), *w = kc_halloc(c, C), *b = kc_halloc(c, C);
        float *out = kc_halloc(c, NC), *mean = kc_halloc(c, N), *rstd = kc_halloc(c, N);
        KC_OOM(K);
        kc_fill(c, inp, NC, -1.5f, 2.5f, dt);
        kc_fill(c, w, C, 0.5f, 1.5f, dt);
        kc_fill(c, b, C, -0.5f, 0.5f, dt);
        ref_layernorm_fwd(out, mean, rstd, inp, w, b, N, C);
        void *dinp = kc_dup(c, inp, NC, dt), *dw = kc_dup(c, w, C, dt), *db = kc_dup(c, b, C, dt);
        void *dout = kc_poisoned(c, NC, dt), *dmean = kc_poisoned(c, N, KN_F32);
        void *drstd = kc_poisoned(c, N, KN_F32);
        KC_OOM(K);
        KC_TRY(K, kn_layernorm_fwd(dout, (float *)dmean, (float *)drstd, dinp, dw, db, N, C, dt,
                                   c->s));
        KC_SYNC(K);
        char what[64];
        snprintf(what, sizeof what, "N%d C%d out", N, C);
        r |= kc_check_dev(c, K, dt, what, dout, out, NC, kc_tol2(dt, 1e-5, 1e-5, 1e-2, 8e-3));
        snprintf(what, sizeof what, "N%d C%d mean", N, C);
        r |= kc_check_f32(c, K, dt, what, dmean, mean, N, (tol){1e-6, 1e-5});
        snprintf(what, sizeof what, "N%d C%d rstd", N, C);
        r |= kc_check_f32(c, K, dt, what, drstd, rstd, N, (tol){1e-6, 1e-5});
    }
    return r;
}

int kc_chk_layernorm_bwd(kc *c, kn_dtype dt)
{
    const char *K = "layernorm_bwd";
    /* 96, 200, 1600: the vectorised kernel (1600: 7 packs per lane in bf16);
     * 100: scalar in bf16 (not a whole number of 8-element packs); 768 and
     * 1024 (GPT-2 124M, 350M): 3 and 4 packs per lane in bf16, the kernel's
     * two ways of loading rows ahead, and 1024 the gradient added to by
     * cp.async; 512: that way in float32 (4 packs per lane) */
    const int Ns[7] = {74, 1100, 300, 90, 600, 333, 130};
    const int Cs[7] = {96, 200, 1600, 100, 768, 1024, 512};
    int r = 0;
    for (int v = 0; v < 7; v++) {
        int N = Ns[v], C = Cs[v];
        size_t NC = (size_t)N * C;
        float *inp = kc_halloc(c, NC), *w = kc_halloc(c, C), *b = kc_halloc(c, C);
        float *dout = kc_halloc(c, NC);
        float *tmp = kc_halloc(c, NC), *mean = kc_halloc(c, N), *rstd = kc_halloc(c, N);
        float *dinp = kc_halloc(c, NC), *dw = kc_halloc(c, C), *db = kc_halloc(c, C);
        KC_OOM(K);
        kc_fill(c, inp, NC, -1.5f, 2.5f, dt);
        kc_fill(c, w, C, 0.5f, 1.5f, dt);
        kc_fill(c, b, C, -0.5f, 0.5f, dt);
        kc_fill(c, dout, NC, -1, 1, dt);
        kc_fill(c, dinp, NC, -1, 1, dt);
        kc_fill(c, dw, C, -1, 1, KN_F32);
        kc_fill(c, db, C, -1, 1, KN_F32);
        ref_layernorm_fwd(tmp, mean, rstd, inp, w, b, N, C);
        void *ddout = kc_dup(c, dout, NC, dt), *dinpv = kc_dup(c, inp, NC, dt);
        void *dwv = kc_dup(c, w, C, dt), *dmean = kc_dup(c, mean, N, KN_F32);
        void *drstd = kc_dup(c, rstd, N, KN_F32), *ddinp = kc_dup(c, dinp, NC, dt);
        void *ddw = kc_dup(c, dw, C, KN_F32), *ddb = kc_dup(c, db, C, KN_F32);
        size_t sb = kn_layernorm_bwd_scratch_bytes(N, C);
        void *scratch = kc_dalloc(c, sb);
        float *dinp0 = kc_zeros(c, NC), *dw0 = kc_copy_of(c, dw, C), *db0 = kc_copy_of(c, db, C);
        void *ddinp0 = kc_poisoned(c, NC, dt);
        KC_OOM(K);
        /* Run 1: accumulate into dinp (reference semantics). */
        ref_layernorm_bwd(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
        KC_TRY(K, kn_layernorm_bwd(ddinp, (float *)ddw, (float *)ddb, ddout, dinpv, dwv,
                                   (const float *)dmean, (const float *)drstd, N, C, 1, dt,
                                   scratch, sb, c->s));
        KC_SYNC(K);
        char what[64];
        tol tg = kc_tol2(dt, 1e-5, 1e-4, 2e-2, 2e-2), tp = kc_tol2(dt, 1e-4, 1e-5, 1e-4, 1e-4);
        snprintf(what, sizeof what, "N%d C%d dinp (+=)", N, C);
        r |= kc_check_dev(c, K, dt, what, ddinp, dinp, NC, tg);
        snprintf(what, sizeof what, "N%d C%d dw (+=)", N, C);
        r |= kc_check_f32(c, K, dt, what, ddw, dw, C, tp);
        snprintf(what, sizeof what, "N%d C%d db (+=)", N, C);
        r |= kc_check_f32(c, K, dt, what, ddb, db, C, tp);
        /* Run 2: overwrite a poisoned dinp (accumulate = 0). */
        ref_layernorm_bwd(dinp0, dw0, db0, dout, inp, w, mean, rstd, N, C);
        KC_TRY(K, kn_layernorm_bwd(ddinp0, (float *)ddw, (float *)ddb, ddout, dinpv, dwv,
                                   (const float *)dmean, (const float *)drstd, N, C, 0, dt,
                                   scratch, sb, c->s));
        KC_SYNC(K);
        snprintf(what, sizeof what, "N%d C%d dinp (=)", N, C);
        r |= kc_check_dev(c, K, dt, what, ddinp0, dinp0, NC, tg);
        /* Run 3: with the column sums of what it writes (kn_layernorm_bwd_sum,
         * accumulating onto dinp): dsum += sum_n dinp as stored. Checked
         * against the sums of the GPU's own dinp, so the tolerance is only
         * the order of the float32 additions. */
        float *hsum = kc_halloc(c, C), *hout = kc_halloc(c, NC);
        KC_OOM(K);
        kc_fill(c, hsum, C, -1, 1, KN_F32);
        void *ddsum = kc_dup(c, hsum, C, KN_F32);
        KC_OOM(K);
        KC_TRY(K, kn_layernorm_bwd_sum(ddinp, (float *)ddw, (float *)ddb, (float *)ddsum, ddout,
                                       dinpv, dwv, (const float *)dmean, (const float *)drstd,
                                       N, C, 1, dt, scratch, sb, c->s));
        KC_SYNC(K);
        KC_TRY(K, kc_download(c, hout, ddinp, NC, dt));
        for (int ch = 0; ch < C; ch++) {
            double t = 0.0;
            for (int n = 0; n < N; n++)
                t += hout[(size_t)n * C + ch];
            hsum[ch] += (float)t;
        }
        snprintf(what, sizeof what, "N%d C%d dsum (+=)", N, C);
        r |= kc_check_f32(c, K, dt, what, ddsum, hsum, C, kc_tol2(dt, 1e-3, 1e-5, 1e-3, 1e-5));
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

/* kn_matmul_fwd_residual: out = res + inp @ w^T (no bias) into a separate
 * buffer and in place over res; inp and w (host, and their device copies
 * dinp and dw) as the caller filled them. */
static int chk_matmul_residual(kc *c, const struct mm_shape *m, const float *inp, const float *w,
                               const void *dinp, const void *dw, kn_dtype dt, tol t)
{
    const char *K = "matmul_fwd";
    const size_t NO = (size_t)m->N * m->OC;
    float *res = kc_halloc(c, NO), *want = kc_halloc(c, NO);
    KC_OOM(K);
    kc_fill(c, res, NO, -2, 2, dt);
    ref_matmul_fwd(want, inp, w, NULL, m->N, m->IC, m->OC);
    for (size_t i = 0; i < NO; i++)
        want[i] += res[i];
    void *dres = kc_dup(c, res, NO, dt), *dout = kc_poisoned(c, NO, dt);
    KC_OOM(K);
    int r = 0;
    for (int in_place = 0; in_place <= 1; in_place++) {
        void *o = in_place ? dres : dout;
        KC_TRY(K, kn_matmul_fwd_residual(c->blas, o, dres, dinp, dw, m->N, m->IC, m->OC, dt,
                                         c->s));
        KC_SYNC(K);
        char what[64];
        snprintf(what, sizeof what, "%dx%dx%d residual%s", m->N, m->IC, m->OC,
                 in_place ? " in place" : "");
        r |= kc_check_dev(c, K, dt, what, o, want, NO, t);
    }
    return r;
}

int kc_chk_matmul_fwd(kc *c, kn_dtype dt)
{
    const char *K = "matmul_fwd";
    int r = 0;
    for (size_t v = 0; v < sizeof mm_shapes / sizeof mm_shapes[0]; v++) {
        const struct mm_shape *m = &mm_shapes[v];
        size_t NI = (size_t)m->N * m->IC, NO = (size_t)m->N * m->OC, WO = (size_t)m->OC * m->IC;
        float *inp = kc_halloc(c, NI), *w = kc_halloc(c, WO), *bias = kc_halloc(c, m->OC);
        float *pre = kc_halloc(c, NO), *out = kc_halloc(c, NO);
        KC_OOM(K);
        float ws = 1.0f / sqrtf((float)m->IC);
        kc_fill(c, inp, NI, -1, 1, dt);
        kc_fill(c, w, WO, -ws, ws, dt);
        kc_fill(c, bias, m->OC, -0.5f, 0.5f, dt);
        ref_matmul_fwd(pre, inp, w, m->bias ? bias : NULL, m->N, m->IC, m->OC);
        if (m->gelu)
            ref_gelu_fwd(out, pre, NO);
        void *dinp = kc_dup(c, inp, NI, dt), *dw = kc_dup(c, w, WO, dt);
        void *db = kc_dup(c, bias, m->OC, dt);
        KC_OOM(K);
        tol t = kc_tol2(dt, 2e-5, 1e-4, 1e-2, 1e-2);
        for (int fuse = 1; fuse >= (m->gelu ? 0 : 1); fuse--) {
            void *dout = kc_poisoned(c, NO, dt), *dpre = m->gelu ? kc_poisoned(c, NO, dt) : NULL;
            KC_OOM(K);
            kn_blas_set_fuse_gelu(c->blas, fuse);
            KC_TRY(K, kn_matmul_fwd(c->blas, dout, dpre, dinp, dw, m->bias ? db : NULL, m->N,
                                    m->IC, m->OC, dt, c->s));
            KC_SYNC(K);
            kn_blas_set_fuse_gelu(c->blas, 1);
            char what[64];
            const char *tag = m->gelu ? (fuse ? " gelu-fused" : " gelu-unfused") : "";
            snprintf(what, sizeof what, "%dx%dx%d%s%s out", m->N, m->IC, m->OC,
                     m->bias ? " bias" : "", tag);
            r |= kc_check_dev(c, K, dt, what, dout, m->gelu ? out : pre, NO, t);
            if (m->gelu) {
                snprintf(what, sizeof what, "%dx%dx%d%s%s pre", m->N, m->IC, m->OC,
                         m->bias ? " bias" : "", tag);
                r |= kc_check_dev(c, K, dt, what, dpre, pre, NO, t);
            }
        }
        r |= chk_matmul_residual(c, m, inp, w, dinp, dw, dt, t);
    }
    return r;
}

int kc_chk_matmul_bwd(kc *c, kn_dtype dt)
{
    const char *K = "matmul_bwd";
    int r = 0;
    for (size_t v = 0; v < sizeof mm_shapes / sizeof mm_shapes[0]; v++) {
        const struct mm_shape *m = &mm_shapes[v];
        size_t NI = (size_t)m->N * m->IC, NO = (size_t)m->N * m->OC, WO = (size_t)m->OC * m->IC;
        float *inp = kc_halloc(c, NI), *w = kc_halloc(c, WO), *dout = kc_halloc(c, NO);
        float *dinp = kc_halloc(c, NI), *dw = kc_halloc(c, WO), *db = kc_halloc(c, m->OC);
        KC_OOM(K);
        float ws = 1.0f / sqrtf((float)m->IC);
        kc_fill(c, inp, NI, -1, 1, dt);
        kc_fill(c, w, WO, -ws, ws, dt);
        kc_fill(c, dout, NO, -1, 1, dt);
        kc_fill(c, dinp, NI, -1, 1, dt);
        kc_fill(c, dw, WO, -1, 1, KN_F32);
        kc_fill(c, db, m->OC, -1, 1, KN_F32);
        void *dinpv = kc_dup(c, inp, NI, dt), *dwv = kc_dup(c, w, WO, dt);
        void *ddout = kc_dup(c, dout, NO, dt), *ddinp = kc_dup(c, dinp, NI, dt);
        void *ddw = kc_dup(c, dw, WO, KN_F32), *ddb = kc_dup(c, db, m->OC, KN_F32);
        /* the second run (bias kernel) starts from the same gradients */
        void *ddinp2 = kc_dup(c, dinp, NI, dt), *ddw2 = kc_dup(c, dw, WO, KN_F32);
        void *ddb2 = kc_dup(c, db, m->OC, KN_F32);
        size_t sb = kn_matmul_bwd_scratch_bytes(m->N, m->OC);
        void *scratch = kc_dalloc(c, sb);
        KC_OOM(K);
        ref_matmul_bwd(dinp, dw, db, dout, inp, w, m->N, m->IC, m->OC);
        /* fused: dbias from the weight GEMM's epilogue (BGRADB) where
         * cuBLASLt has it; unfused: the bias kernel */
        for (int fuse = 1; fuse >= 0; fuse--) {
            void *di = fuse ? ddinp : ddinp2, *dwg = fuse ? ddw : ddw2, *dbg = fuse ? ddb : ddb2;
            kn_blas_set_fuse_bgrad(c->blas, fuse);
            KC_TRY(K, kn_matmul_bwd(c->blas, di, (float *)dwg, (float *)dbg, ddout, dinpv, dwv,
                                    m->N, m->IC, m->OC, 1, dt, scratch, sb, c->s));
            KC_SYNC(K);
            kn_blas_set_fuse_bgrad(c->blas, 0); /* the default */
            const char *tag = fuse ? "bgrad-fused" : "bgrad-unfused";
            char what[80];
            snprintf(what, sizeof what, "%dx%dx%d %s dinp (+=)", m->N, m->IC, m->OC, tag);
            r |= kc_check_dev(c, K, dt, what, di, dinp, NI, kc_tol2(dt, 2e-5, 1e-4, 2e-2, 1e-2));
            snprintf(what, sizeof what, "%dx%dx%d %s dw (+=)", m->N, m->IC, m->OC, tag);
            r |= kc_check_f32(c, K, dt, what, dwg, dw, WO, kc_tol2(dt, 2e-5, 1e-4, 1e-4, 1e-4));
            snprintf(what, sizeof what, "%dx%dx%d %s dbias (+=)", m->N, m->IC, m->OC, tag);
            r |= kc_check_f32(c, K, dt, what, dbg, db, m->OC, (tol){2e-5, 1e-5});
        }
        /* dw written over a poisoned buffer (a step's first micro-step): alone,
         * and with the bias gradient from the weight product's epilogue (fused)
         * or its kernel, added to zeros */
        float *dw1 = kc_zeros(c, WO), *db1 = kc_zeros(c, m->OC), *dscr = kc_zeros(c, NI);
        float *zb = kc_zeros(c, m->OC);
        KC_OOM(K);
        ref_matmul_bwd(dscr, dw1, db1, dout, inp, w, m->N, m->IC, m->OC);
        for (int way = 0; way < 3; way++) {
            void *ddw1 = kc_poisoned(c, WO, KN_F32), *ddb1 = kc_dup(c, zb, m->OC, KN_F32);
            KC_OOM(K);
            if (way == 0) {
                KC_TRY(K, kn_matmul_bwd_weight(c->blas, (float *)ddw1, ddout, dinpv, m->N, m->IC,
                                               m->OC, 0, dt, c->s));
            } else {
                kn_blas_set_fuse_bgrad(c->blas, way == 1);
                KC_TRY(K, kn_matmul_bwd(c->blas, NULL, (float *)ddw1, (float *)ddb1, ddout, dinpv,
                                        dwv, m->N, m->IC, m->OC, 0, dt, scratch, sb, c->s));
                kn_blas_set_fuse_bgrad(c->blas, 0);
            }
            KC_SYNC(K);
            static const char *const ways[3] = {"weight", "bwd bgrad-fused", "bwd bgrad-unfused"};
            char w1[80];
            snprintf(w1, sizeof w1, "%dx%dx%d %s dw (=)", m->N, m->IC, m->OC, ways[way]);
            r |= kc_check_f32(c, K, dt, w1, ddw1, dw1, WO, kc_tol2(dt, 2e-5, 1e-4, 1e-4, 1e-4));
            if (way) {
                snprintf(w1, sizeof w1, "%dx%dx%d %s dbias (+= 0)", m->N, m->IC, m->OC,
                         ways[way]);
                r |= kc_check_f32(c, K, dt, w1, ddb1, db1, m->OC, (tol){2e-5, 1e-5});
            }
        }
        if (!m->gelu)
            continue;
        /* dinp through GELU: the gradient w.r.t. the pre-activation whose
         * GELU was this layer's input; written, not accumulated. */
        float *pre = kc_halloc(c, NI), *tmp = kc_zeros(c, NI), *dwx = kc_zeros(c, WO);
        float *dpre = kc_zeros(c, NI);
        KC_OOM(K);
        kc_fill(c, pre, NI, -3, 3, dt);
        ref_matmul_bwd(tmp, dwx, NULL, dout, inp, w, m->N, m->IC, m->OC);
        kc_round_dt(tmp, NI, dt); /* the unfused path stores dout @ w in dt first */
        ref_gelu_bwd(dpre, pre, tmp, NI);
        void *dprev = kc_dup(c, pre, NI, dt);
        KC_OOM(K);
        for (int fuse = 1; fuse >= 0; fuse--) {
            void *dd = kc_poisoned(c, NI, dt);
            KC_OOM(K);
            kn_blas_set_fuse_gelu(c->blas, fuse);
            KC_TRY(K, kn_matmul_bwd_inp(c->blas, dd, ddout, dwv, dprev, m->N, m->IC, m->OC, 0, dt,
                                        c->s));
            KC_SYNC(K);
            kn_blas_set_fuse_gelu(c->blas, 1);
            char what[64];
            snprintf(what, sizeof what, "%dx%dx%d dpre %s", m->N, m->IC, m->OC,
                     fuse ? "dgelu-fused" : "dgelu-unfused");
            r |= kc_check_dev(c, K, dt, what, dd, dpre, NI, kc_tol2(dt, 2e-5, 1e-4, 2e-2, 2e-2));
        }
        /* and the bias gradient of dpre (fc's) summed as well: by the
         * product where it can (fused), else by the bias kernel after it;
         * the reference sums dpre rounded to dt, as stored */
        float *dbx = kc_halloc(c, m->IC), *dbref = kc_halloc(c, m->IC), *dprer = kc_halloc(c, NI);
        KC_OOM(K);
        kc_fill(c, dbx, m->IC, -1, 1, KN_F32);
        memcpy(dprer, dpre, NI * sizeof(float));
        kc_round_dt(dprer, NI, dt);
        for (int i = 0; i < m->IC; i++) {
            double t = dbx[i];
            for (int n = 0; n < m->N; n++)
                t += dprer[(size_t)n * m->IC + i];
            dbref[i] = (float)t;
        }
        size_t sbd = kn_matmul_bwd_inp_dgelu_bias_scratch_bytes(m->N, m->IC);
        void *scd = kc_dalloc(c, sbd);
        KC_OOM(K);
        for (int fuse = 1; fuse >= 0; fuse--) {
            void *dd = kc_poisoned(c, NI, dt), *ddbx = kc_dup(c, dbx, m->IC, KN_F32);
            KC_OOM(K);
            kn_blas_set_fuse_dbias(c->blas, fuse);
            int e = kn_matmul_bwd_inp_dgelu_bias(c->blas, dd, (float *)ddbx, ddout, dwv, dprev,
                                                 m->N, m->IC, m->OC, dt, scd, sbd, c->s);
            kn_blas_set_fuse_dbias(c->blas, 1); /* the default */
            KC_TRY(K, e);
            KC_SYNC(K);
            const char *tag = fuse ? "dgelu+dbias-fused" : "dgelu+dbias-unfused";
            char what[80];
            snprintf(what, sizeof what, "%dx%dx%d dpre %s", m->N, m->IC, m->OC, tag);
            r |= kc_check_dev(c, K, dt, what, dd, dpre, NI, kc_tol2(dt, 2e-5, 1e-4, 2e-2, 2e-2));
            snprintf(what, sizeof what, "%dx%dx%d dbias %s (+=)", m->N, m->IC, m->OC, tag);
            r |= kc_check_f32(c, K, dt, what, ddbx, dbref, m->IC,
                              kc_tol2(dt, 1e-4, 1e-5, 2e-2, 1e-2));
        }
    }
    /* dbias alone over many rows: the split + ordered-partials path, with
     * the scalar kernel and then with the vector kernel allowed (OC 100 stays
     * scalar in bf16: not whole 8-element packs; 3001 rows leave a tail that
     * is not a multiple of four warps' steps). */
    const int dbN[4] = {3000, 3001, 3000, 3001}, dbOC[4] = {100, 768, 100, 768};
    for (int v = 0; v < 4; v++) {
        const int N = dbN[v], OC = dbOC[v], vec = v >= 2; /* scalar, then vector kernel */
        float *dout = kc_halloc(c, (size_t)N * OC), *db = kc_halloc(c, OC);
        KC_OOM(K);
        kc_fill(c, dout, (size_t)N * OC, -1, 1, dt);
        kc_fill(c, db, OC, -1, 1, KN_F32);
        void *ddout = kc_dup(c, dout, (size_t)N * OC, dt), *ddb = kc_dup(c, db, OC, KN_F32);
        size_t sb = kn_matmul_bwd_bias_scratch_bytes(N, OC);
        void *scratch = kc_dalloc(c, sb);
        float *dwx = kc_zeros(c, (size_t)OC), *inpx = kc_zeros(c, (size_t)N);
        KC_OOM(K);
        ref_matmul_bwd(NULL, dwx, db, dout, inpx, NULL, N, 1, OC);
        kn_matmul_set_db_vec(vec);
        int e = kn_matmul_bwd_bias((float *)ddb, ddout, N, OC, dt, scratch, sb, c->s);
        kn_matmul_set_db_vec(1); /* the default */
        KC_TRY(K, e);
        KC_SYNC(K);
        char what[64];
        snprintf(what, sizeof what, "%dx%d dbias split %s (+=)", N, OC, vec ? "vec" : "scalar");
        r |= kc_check_f32(c, K, dt, what, ddb, db, OC, (tol){5e-4, 1e-5});
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
    return kc_check_dev(c, kernel, dt, what, dev, ref, n, t);
}

int kc_chk_attention_fwd(kc *c, kn_dtype dt)
{
    const char *K = "attention_fwd";
    int r = 0;
    for (size_t v = 0; v < sizeof att_shapes / sizeof att_shapes[0]; v++) {
        const struct att_shape *a = &att_shapes[v];
        size_t BTC = (size_t)a->B * a->T * a->C, ATT = (size_t)a->B * a->NH * a->T * a->T;
        float *qkv = kc_halloc(c, 3 * BTC), *out = kc_halloc(c, BTC), *att = kc_halloc(c, ATT);
        KC_OOM(K);
        kc_fill(c, qkv, 3 * BTC, -1, 1, dt);
        ref_attention_fwd(out, att, qkv, a->B, a->T, a->C, a->NH);
        size_t sb = kn_attention_fwd_scratch_bytes(a->B, a->T, a->C, a->NH, dt);
        void *dqkv = kc_dup(c, qkv, 3 * BTC, dt), *dout = kc_poisoned(c, BTC, dt);
        void *datt = kc_poisoned(c, ATT, dt), *scratch = kc_dalloc(c, sb);
        KC_OOM(K);
        KC_TRY(K, kn_attention_fwd(c->blas, dout, datt, dqkv, a->B, a->T, a->C, a->NH, dt,
                                   scratch, sb, c->s));
        KC_SYNC(K);
        r |= check_att(c, K, dt, a, "out", dout, out, BTC, kc_tol2(dt, 1e-5, 1e-4, 1e-2, 1e-2));
        r |= check_att(c, K, dt, a, "att", datt, att, ATT, kc_tol2(dt, 1e-6, 1e-4, 2e-3, 1e-2));
    }
    return r;
}

int kc_chk_attention_bwd(kc *c, kn_dtype dt)
{
    const char *K = "attention_bwd";
    int r = 0;
    for (size_t v = 0; v < sizeof att_shapes / sizeof att_shapes[0]; v++) {
        const struct att_shape *a = &att_shapes[v];
        size_t BTC = (size_t)a->B * a->T * a->C, ATT = (size_t)a->B * a->NH * a->T * a->T;
        float *qkv = kc_halloc(c, 3 * BTC), *out = kc_halloc(c, BTC), *att = kc_halloc(c, ATT);
        float *dout = kc_halloc(c, BTC), *dqkv = kc_halloc(c, 3 * BTC);
        float *dqkv0 = kc_zeros(c, 3 * BTC);
        float *scr = kc_halloc(c, ATT);
        KC_OOM(K);
        kc_fill(c, qkv, 3 * BTC, -1, 1, dt);
        kc_fill(c, dout, BTC, -1, 1, dt);
        kc_fill(c, dqkv, 3 * BTC, -1, 1, dt);
        ref_attention_fwd(out, att, qkv, a->B, a->T, a->C, a->NH);
        kc_round_dt(att, ATT, dt); /* the GPU keeps att in dt */
        void *dqkvv = kc_dup(c, qkv, 3 * BTC, dt), *ddout = kc_dup(c, dout, BTC, dt);
        void *datt = kc_dup(c, att, ATT, dt), *ddqkv = kc_dup(c, dqkv, 3 * BTC, dt);
        void *ddqkv0 = kc_poisoned(c, 3 * BTC, dt);
        size_t sb = kn_attention_bwd_scratch_bytes(a->B, a->T, a->C, a->NH, dt);
        void *scratch = kc_dalloc(c, sb);
        KC_OOM(K);
        ref_attention_bwd(dqkv, scr, dout, qkv, att, a->B, a->T, a->C, a->NH);
        ref_attention_bwd(dqkv0, scr, dout, qkv, att, a->B, a->T, a->C, a->NH);
        KC_TRY(K, kn_attention_bwd(c->blas, ddqkv, ddout, dqkvv, datt, a->B, a->T, a->C, a->NH, 1,
                                   dt, scratch, sb, c->s));
        KC_TRY(K, kn_attention_bwd(c->blas, ddqkv0, ddout, dqkvv, datt, a->B, a->T, a->C, a->NH,
                                   0, dt, scratch, sb, c->s));
        KC_SYNC(K);
        tol t = kc_tol2(dt, 2e-5, 1e-4, 3e-2, 3e-2);
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
    printf("%-20s %-4s %-34s returns %d (-EINVAL expected) %s\n", K, "fp32", "refused", e,
           ok ? "PASS" : "FAIL");
    if (ok)
        c->npass++;
    else
        c->nfail++;
    return !ok;
}

int kc_chk_flash_fwd(kc *c, kn_dtype dt)
{
    const char *K = "flash_attn_fwd";
    if (dt != KN_BF16)
        return fa_refuses_fp32(c, K);
    int r = 0;
    for (size_t v = 0; v < sizeof fa_shapes / sizeof fa_shapes[0]; v++) {
        const struct att_shape *a = &fa_shapes[v];
        size_t BTC = (size_t)a->B * a->T * a->C, ATT = (size_t)a->B * a->NH * a->T * a->T;
        size_t BHT = (size_t)a->B * a->NH * a->T;
        float *qkv = kc_halloc(c, 3 * BTC), *out = kc_halloc(c, BTC), *att = kc_halloc(c, ATT);
        KC_OOM(K);
        kc_fill(c, qkv, 3 * BTC, -1, 1, dt);
        ref_attention_fwd(out, att, qkv, a->B, a->T, a->C, a->NH);
        void *dqkv = kc_dup(c, qkv, 3 * BTC, dt), *dout = kc_poisoned(c, BTC, dt);
        void *dlse = kc_poisoned(c, BHT, KN_F32);
        KC_OOM(K);
        KC_TRY(K, kn_flash_attention_fwd(dout, (float *)dlse, dqkv, a->B, a->T, a->C, a->NH, dt,
                                         c->s));
        KC_SYNC(K);
        r |= check_att(c, K, dt, a, "out", dout, out, BTC, (tol){1e-2, 1e-2});
    }
    return r;
}

/* Column sums of g [rows, W] over rows r0 .. r1 - 1 into sum[W] (plus
 * init when given) and of |g| into mag[W]. */
static void col_sums(double *sum, double *mag, const float *g, size_t r0, size_t r1, int W,
                     const float *init)
{
    for (int j = 0; j < W; j++) {
        sum[j] = init ? init[j] : 0.0;
        mag[j] = 0.0;
        for (size_t i = r0; i < r1; i++) {
            sum[j] += g[i * W + j];
            mag[j] += fabs(g[i * W + j]);
        }
    }
}

/* Counts the values of got that differ from sum by more than the rounding
 * of the summed values to bf16, 4e-3 of mag (bf16's unit roundoff is 2^-8
 * = 3.9e-3 of each value; +1e-5); NaN counts. */
static size_t sums_off(const float *got, const double *sum, const double *mag, int W,
                       double *worst, size_t *first)
{
    size_t bad = 0;
    for (int j = 0; j < W; j++) {
        const double e = fabs(got[j] - sum[j]), lim = 4e-3 * mag[j] + 1e-5;
        if (e / lim > *worst)
            *worst = e / lim;
        if (!(e <= lim) && bad++ == 0)
            *first = (size_t)j;
    }
    return bad;
}

/* One result line of check_colsum: n sums, bad of them off (first: the
 * index of the first), the worst error over its limit. */
static void colsum_line(const char *K, kn_dtype dt, const struct att_shape *a, const char *what,
                        size_t n, double worst, size_t bad, size_t first)
{
    printf("%-20s %-4s B%d T%d C%d NH%d %-16s n=%-6zu worst/limit=%.3f %s", K, kn_dtype_name(dt),
           a->B, a->T, a->C, a->NH, what, n, worst, bad ? "FAIL" : "PASS");
    if (bad)
        printf(" (%zu sums, first %zu)", bad, first);
    printf("\n");
}

/* qkv's bias gradient from kn_flash_attention_bwd_dbias: dbias (float32 on
 * the device) against init + the column sums of the [B T, W] gradient the
 * same call wrote to dev_g (dt). The fused sums come from the float32
 * values before their rounding to dt, so each column may differ by that
 * rounding (at most 2^-8 of its sum of |values| in bf16) and no more. Where the
 * Hopper epilogues summed (the scratch's front, poisoned by the caller, was
 * written), each of its per-128-row sums is checked the same way: dk's
 * columns sum to ~0 over all keys (the softmax gradient's rows do), so only
 * the per-block sums show a wrong or missing dk part. */
static int check_colsum(kc *c, const char *K, kn_dtype dt, const struct att_shape *a,
                        const void *dev_db, const float *init, const void *dev_g,
                        const void *dev_scratch, int W)
{
    const size_t mark = c->hused, rows = (size_t)a->B * a->T, nkb = (size_t)(a->T + 127) / 128;
    float *g = kc_halloc(c, rows * W), *db = kc_halloc(c, W), *part = kc_halloc(c, a->B * nkb * W);
    double *sum = (double *)kc_halloc(c, 2 * (size_t)W); /* W doubles */
    double *mag = (double *)kc_halloc(c, 2 * (size_t)W);
    if (!g || !db || !part || !sum || !mag || kc_download(c, g, dev_g, rows * W, dt) ||
        kc_download(c, db, dev_db, W, KN_F32) ||
        kc_download(c, part, dev_scratch, a->B * nkb * W, KN_F32)) {
        c->hused = mark;
        return kc_error(c, K, "dbias: download failed");
    }
    size_t first = 0, bad;
    double worst = 0.0;
    col_sums(sum, mag, g, 0, rows, W, init);
    bad = sums_off(db, sum, mag, W, &worst, &first);
    colsum_line(K, dt, a, "dbias (+=)", (size_t)W, worst, bad, first);
    int r = kc_tally(c, c->hused, bad != 0);
    size_t written = 0;
    for (size_t i = 0; i < a->B * nkb * W; i++)
        written += !isnan(part[i]);
    if (written == 0) { /* the pass over dqkv ran: nothing per block */
        c->hused = mark;
        return r;
    }
    bad = 0;
    worst = 0.0;
    for (size_t bk = 0; bk < a->B * nkb; bk++) {
        const size_t r0 = (bk / nkb) * a->T + (bk % nkb) * 128;
        const size_t r1 = r0 + 128 < (bk / nkb + 1) * a->T ? r0 + 128 : (bk / nkb + 1) * a->T;
        col_sums(sum, mag, g, r0, r1, W, NULL);
        bad += sums_off(part + bk * W, sum, mag, W, &worst, &first);
    }
    colsum_line(K, dt, a, "sums per 128 rows", a->B * nkb * W, worst, bad, first);
    return r | kc_tally(c, mark, bad != 0);
}

int kc_chk_flash_bwd(kc *c, kn_dtype dt)
{
    const char *K = "flash_attn_bwd";
    if (dt != KN_BF16)
        return 0; /* the forward's check reports the refusal */
    int r = 0;
    for (size_t v = 0; v < sizeof fa_shapes / sizeof fa_shapes[0]; v++) {
        const struct att_shape *a = &fa_shapes[v];
        size_t BTC = (size_t)a->B * a->T * a->C, ATT = (size_t)a->B * a->NH * a->T * a->T;
        size_t BHT = (size_t)a->B * a->NH * a->T;
        float *qkv = kc_halloc(c, 3 * BTC), *out = kc_halloc(c, BTC), *att = kc_halloc(c, ATT);
        float *dout = kc_halloc(c, BTC), *dqkv = kc_halloc(c, 3 * BTC);
        float *dqkv0 = kc_zeros(c, 3 * BTC);
        float *scr = kc_halloc(c, ATT);
        KC_OOM(K);
        kc_fill(c, qkv, 3 * BTC, -1, 1, dt);
        kc_fill(c, dout, BTC, -1, 1, dt);
        kc_fill(c, dqkv, 3 * BTC, -1, 1, dt);
        void *dqkvv = kc_dup(c, qkv, 3 * BTC, dt), *ddout = kc_dup(c, dout, BTC, dt);
        void *dout_f = kc_dalloc(c, BTC * 2), *dlse = kc_dalloc(c, BHT * 4);
        void *ddqkv = kc_dup(c, dqkv, 3 * BTC, dt), *ddqkv0 = kc_poisoned(c, 3 * BTC, dt);
        size_t sb = kn_flash_attention_bwd_scratch_bytes(a->B, a->T, a->C, a->NH);
        void *scratch = kc_dalloc(c, sb);
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
        KC_SYNC(K);
        tol t = {3e-2, 3e-2};
        r |= check_att(c, K, dt, a, "dqkv (+=)", ddqkv, dqkv, 3 * BTC, t);
        r |= check_att(c, K, dt, a, "dqkv (=)", ddqkv0, dqkv0, 3 * BTC, t);
        /* with qkv's bias gradient (kn_flash_attention_bwd_dbias): summed
         * by the Hopper epilogues at hs 64 on sm_90a, else by a pass */
        const int W = 3 * a->C;
        float *db0 = kc_halloc(c, W);
        KC_OOM(K);
        kc_fill(c, db0, W, -1, 1, KN_F32);
        void *ddb = kc_dup(c, db0, W, KN_F32), *ddqkv1 = kc_poisoned(c, 3 * BTC, dt);
        /* poisoned: a per-block sum row the epilogues should write and do
         * not shows as NaN */
        size_t sbd = kn_flash_attention_bwd_dbias_scratch_bytes(a->B, a->T, a->C, a->NH);
        void *scrd = kc_poisoned(c, sbd / 4, KN_F32);
        KC_OOM(K);
        KC_TRY(K, kn_flash_attention_bwd_dbias(ddqkv1, (float *)ddb, ddout, dqkvv, dout_f,
                                               (const float *)dlse, a->B, a->T, a->C, a->NH, dt,
                                               scrd, sbd, c->s));
        KC_SYNC(K);
        r |= check_att(c, K, dt, a, "dqkv (=, +dbias)", ddqkv1, dqkv0, 3 * BTC, t);
        r |= check_colsum(c, K, dt, a, ddb, db0, ddqkv1, scrd, W);
    }
    return r;
}

/* Element-wise kernels run on an aligned and a misaligned (offset by one
 * element: the scalar path) view, with a length that is no multiple of 8. */
int kc_chk_gelu(kc *c, kn_dtype dt)
{
    const char *K = "gelu";
    const size_t n = 10007;
    int r = 0;
    for (int off = 0; off < 2; off++) {
        float *x = kc_halloc(c, n), *out = kc_halloc(c, n), *dout = kc_halloc(c, n);
        float *dinp = kc_halloc(c, n), *dinp0 = kc_zeros(c, n);
        KC_OOM(K);
        kc_fill(c, x, n, -5, 5, dt);
        kc_fill(c, dout, n, -1, 1, dt);
        kc_fill(c, dinp, n, -1, 1, dt);
        ref_gelu_fwd(out, x, n);
        size_t es = kn_dtype_size(dt);
        char *dx = (char *)kc_dalloc(c, (n + 1) * es), *dy = (char *)kc_poisoned(c, n + 1, dt);
        char *dd = (char *)kc_dalloc(c, (n + 1) * es), *dg = (char *)kc_dalloc(c, (n + 1) * es);
        char *dg0 = (char *)kc_poisoned(c, n + 1, dt);
        KC_OOM(K);
        void *px = dx + off * es, *py = dy + off * es, *pd = dd + off * es, *pg = dg + off * es;
        void *pg0 = dg0 + off * es;
        if (kc_upload(c, px, x, n, dt) || kc_upload(c, pd, dout, n, dt) ||
            kc_upload(c, pg, dinp, n, dt))
            return kc_error(c, K, "upload failed");
        ref_gelu_bwd(dinp, x, dout, n);
        ref_gelu_bwd(dinp0, x, dout, n);
        KC_TRY(K, kn_gelu_fwd(py, px, n, dt, c->s));
        KC_TRY(K, kn_gelu_bwd(pg, px, pd, n, 1, dt, c->s));
        KC_TRY(K, kn_gelu_bwd(pg0, px, pd, n, 0, dt, c->s));
        KC_SYNC(K);
        tol t = kc_tol2(dt, 1e-6, 1e-5, 1e-3, 8e-3);
        /* The reference's tanh (1 - 2/(1 + e^2u)) saturates to exactly -1
         * near x = -5, where gelu' is still about -2e-6: abs 5e-6 in fp32. */
        tol tb = kc_tol2(dt, 5e-6, 1e-5, 1e-3, 8e-3);
        r |= kc_check_dev(c, K, dt, off ? "fwd misaligned" : "fwd", py, out, n, t);
        r |= kc_check_dev(c, K, dt, off ? "bwd (+=) misaligned" : "bwd (+=)", pg, dinp, n, tb);
        r |= kc_check_dev(c, K, dt, off ? "bwd (=) misaligned" : "bwd (=)", pg0, dinp0, n, tb);
    }
    return r;
}

int kc_chk_residual(kc *c, kn_dtype dt)
{
    const char *K = "residual";
    const size_t n = 10007;
    int r = 0;
    for (int off = 0; off < 2; off++) {
        float *a = kc_halloc(c, n), *b = kc_halloc(c, n), *out = kc_halloc(c, n);
        KC_OOM(K);
        kc_fill(c, a, n, -2, 2, dt);
        kc_fill(c, b, n, -2, 2, dt);
        ref_residual_fwd(out, a, b, n);
        size_t es = kn_dtype_size(dt);
        char *da = (char *)kc_dalloc(c, (n + 1) * es), *db = (char *)kc_dalloc(c, (n + 1) * es);
        char *dy = (char *)kc_poisoned(c, n + 1, dt);
        KC_OOM(K);
        if (kc_upload(c, da + off * es, a, n, dt) || kc_upload(c, db + off * es, b, n, dt))
            return kc_error(c, K, "upload failed");
        KC_TRY(K, kn_residual_fwd(dy + off * es, da + off * es, db + off * es, n, dt, c->s));
        KC_SYNC(K);
        r |= kc_check_dev(c, K, dt, off ? "out misaligned" : "out", dy + off * es, out, n,
                          kc_tol2(dt, 0, 1e-7, 0, 4e-3));
    }
    return r;
}

/* The fused residual + LayerNorm: C 96 and 1600 take the vectorised kernel
 * (1600: 7 packs per lane in bf16, 16 in float32), 770 the two-pass
 * fallback. The kernel normalises res as stored (rounded to dt), so the
 * reference LayerNorm runs on the rounded res. */
int kc_chk_residual_ln(kc *c, kn_dtype dt)
{
    const char *K = "residual_ln_fwd";
    const int Ns[3] = {74, 33, 40}, Cs[3] = {96, 770, 1600};
    int r = 0;
    for (int v = 0; v < 3; v++) {
        int N = Ns[v], C = Cs[v];
        size_t NC = (size_t)N * C;
        float *a = kc_halloc(c, NC), *b = kc_halloc(c, NC), *w = kc_halloc(c, C);
        float *bias = kc_halloc(c, C);
        float *res = kc_halloc(c, NC), *out = kc_halloc(c, NC), *mean = kc_halloc(c, N);
        float *rstd = kc_halloc(c, N);
        KC_OOM(K);
        kc_fill(c, a, NC, -1.5f, 2.5f, dt);
        kc_fill(c, b, NC, -1.0f, 1.0f, dt);
        kc_fill(c, w, C, 0.5f, 1.5f, dt);
        kc_fill(c, bias, C, -0.5f, 0.5f, dt);
        ref_residual_layernorm_fwd(res, out, mean, rstd, a, b, w, bias, N, C);
        kc_round_dt(res, NC, dt);
        ref_layernorm_fwd(out, mean, rstd, res, w, bias, N, C);
        void *da = kc_dup(c, a, NC, dt), *db = kc_dup(c, b, NC, dt), *dw = kc_dup(c, w, C, dt);
        void *dbias = kc_dup(c, bias, C, dt);
        void *dres = kc_poisoned(c, NC, dt), *dout = kc_poisoned(c, NC, dt);
        void *dmean = kc_poisoned(c, N, KN_F32), *drstd = kc_poisoned(c, N, KN_F32);
        KC_OOM(K);
        KC_TRY(K, kn_residual_layernorm_fwd(dres, dout, (float *)dmean, (float *)drstd, da, db,
                                            dw, dbias, N, C, dt, c->s));
        KC_SYNC(K);
        char what[64];
        snprintf(what, sizeof what, "N%d C%d res", N, C);
        r |= kc_check_dev(c, K, dt, what, dres, res, NC, kc_tol2(dt, 0, 1e-7, 0, 4e-3));
        snprintf(what, sizeof what, "N%d C%d out", N, C);
        r |= kc_check_dev(c, K, dt, what, dout, out, NC, kc_tol2(dt, 1e-5, 1e-5, 1e-2, 8e-3));
        snprintf(what, sizeof what, "N%d C%d mean", N, C);
        r |= kc_check_f32(c, K, dt, what, dmean, mean, N, (tol){1e-6, 1e-5});
        snprintf(what, sizeof what, "N%d C%d rstd", N, C);
        r |= kc_check_f32(c, K, dt, what, drstd, rstd, N, (tol){1e-6, 1e-5});
    }
    return r;
}

/* One shape of the softmax_xent check: N rows, V columns, Vp per row; bad:
 * two rows get an invalid target (-1, V). */
struct xent_shape {
    int N, V, Vp, bad;
};

int kc_chk_softmax_xent(kc *c, kn_dtype dt)
{
    const char *K = "softmax_xent";
    const struct xent_shape shp[5] = {
        {74, 1000, 1024, 0}, {37, 1001, 1003, 0}, {6, 50257, 50304, 0}, {3, 70000, 70016, 0},
        {263, 4093, 4096, 1}};
    /* Each shape under each mode (kn_xent_set_mode). bf16 only leaves the
     * two-read kernels: reg takes 1024, 4096 and 50304 (2, 1 and 7 packs per
     * thread), smem/smem1 take 1024 and 4096 on any GPU, 50304 where two
     * 100 KB blocks fit in an SM (H100/H200, not A100), never 70016; 1003
     * (not whole packs) takes the scalar two-read kernel in every mode. The
     * label names the kernel that ran ("smem->two": the mode's kernel did
     * not take the shape). 4093 ends in a part pack; its shape also has
     * invalid targets. Rows with n % 5 == 0 have a clear winner, 1 and 2 a
     * tie between the target and another column (correct only when the
     * target is the lower index), targets at columns 0 and V - 1 too. */
    const kn_xent_mode modes[4] = {KN_XENT_TWO, KN_XENT_REG, KN_XENT_SMEM, KN_XENT_SMEM1};
    int r = 0;
    for (int vr = 0; vr < 20; vr++) {
        const int v = vr % 5;
        const kn_xent_mode mode = modes[vr / 5];
        int N = shp[v].N, V = shp[v].V, Vp = shp[v].Vp;
        size_t NV = (size_t)N * Vp;
        float *logits = kc_halloc(c, NV), *dl = kc_halloc(c, NV), *loss = kc_halloc(c, N);
        int32_t *tgt = (int32_t *)kc_halloc(c, N), *rtgt = (int32_t *)kc_halloc(c, N);
        int *corr = (int *)kc_halloc(c, N);
        KC_OOM(K);
        for (int n = 0; n < N; n++) {
            float *x = logits + (size_t)n * Vp;
            for (int j = 0; j < Vp; j++)
                x[j] = j < V ? kc_rnd(c, -4, 4) : NAN; /* padding: never read */
            tgt[n] = (int32_t)(kc_rng_next(c) % V);
            if (n % 7 == 3)
                tgt[n] = V - 1;
            else if (n % 7 == 4)
                tgt[n] = 0;
            if (n % 5 == 0) /* make some predictions right */
                x[tgt[n]] = 6.0f;
            if (n % 5 == 1 || n % 5 == 2) { /* ties: the lower index wins */
                x[tgt[n]] = 6.0f;
                x[kc_rng_next(c) % V] = 6.0f;
            }
        }
        kc_round_dt(logits, NV, dt);
        /* The reference takes valid targets only: row N-2 gets -1 and row N-1
         * gets V on the device, 0 in the reference, whose row is then made
         * what the launcher promises (loss NaN, correct 0, no one-hot). */
        memcpy(rtgt, tgt, (size_t)N * sizeof *tgt);
        if (shp[v].bad) {
            tgt[N - 2] = -1;
            tgt[N - 1] = V;
            rtgt[N - 2] = rtgt[N - 1] = 0;
        }
        const float dloss = 1.0f / N;
        ref_softmax_xent(loss, dl, corr, logits, rtgt, N, V, Vp, dloss);
        if (shp[v].bad)
            for (int n = N - 2; n < N; n++) {
                loss[n] = NAN;
                corr[n] = 0;
                dl[(size_t)n * Vp] += dloss;
            }
        void *dlog = kc_dup(c, logits, NV, dt), *ddl = kc_poisoned(c, NV, dt);
        void *dloss_v = kc_poisoned(c, N, KN_F32), *dcorr = kc_poisoned(c, N, KN_F32);
        void *dloss2 = kc_poisoned(c, N, KN_F32);
        void *dtgt = kc_dalloc(c, (size_t)N * 4);
        void *dsum = kc_poisoned(c, 2, KN_F32);
        KC_OOM(K);
        KC_CUDA(K, cudaMemcpy(dtgt, tgt, (size_t)N * 4, cudaMemcpyHostToDevice));
        KC_TRY(K, kn_xent_set_mode(mode));
        kn_xent_mode used = KN_XENT_TWO;
        KC_TRY(K, kn_xent_kernel_for(&used, V, Vp, dt, dlog, ddl));
        KC_TRY(K, kn_softmax_xent((float *)dloss_v, ddl, (int *)dcorr, dlog, (const int32_t *)dtgt,
                                  N, V, Vp, dloss, dt, c->s));
        /* Losses only (no gradient pass), from the same logits. */
        KC_TRY(K, kn_softmax_xent((float *)dloss2, NULL, NULL, dlog, (const int32_t *)dtgt, N, V,
                                  Vp, dloss, dt, c->s));
        char what[80], kt[24];
        if (used == mode)
            snprintf(kt, sizeof kt, " %s", kn_xent_mode_name(mode));
        else
            snprintf(kt, sizeof kt, " %s->%s", kn_xent_mode_name(mode), kn_xent_mode_name(used));
        /* Shapes every sm_80+ GPU gives the mode's own kernel in bf16. */
        if (dt == KN_BF16 && mode != KN_XENT_TWO && (Vp == 1024 || Vp == 4096)) {
            float got = (float)used, want = (float)mode;
            snprintf(what, sizeof what, "Vp%d%s kernel taken", Vp, kt);
            r |= kc_compare(c, K, dt, what, &got, &want, 1, (tol){0, 0});
        }
        tol tl = kc_tol2(dt, 1e-5, 1e-5, 1e-4, 1e-4), tg = kc_tol2(dt, 1e-7, 1e-5, 1e-5, 1e-2);
        KC_SYNC(K);
        snprintf(what, sizeof what, "N%d V%d Vp%d%s losses", N, V, Vp, kt);
        r |= kc_check_f32(c, K, dt, what, dloss_v, loss, N, tl);
        snprintf(what, sizeof what, "N%d V%d Vp%d%s losses only", N, V, Vp, kt);
        r |= kc_check_f32(c, K, dt, what, dloss2, loss, N, tl);
        snprintf(what, sizeof what, "N%d V%d Vp%d%s dlogits", N, V, Vp, kt);
        r |= kc_check_dev(c, K, dt, what, ddl, dl, NV, tg);
        if (shp[v].bad) { /* kc_compare lets any value match a NaN reference */
            float bl[4], nans = 0.0f, want = 4.0f;
            KC_CUDA(K, cudaMemcpy(bl, (float *)dloss_v + N - 2, 8, cudaMemcpyDeviceToHost));
            KC_CUDA(K, cudaMemcpy(bl + 2, (float *)dloss2 + N - 2, 8, cudaMemcpyDeviceToHost));
            for (int i = 0; i < 4; i++)
                nans += isnan(bl[i]) ? 1.0f : 0.0f;
            snprintf(what, sizeof what, "%s invalid-target losses NaN", kt);
            r |= kc_compare(c, K, dt, what, &nans, &want, 1, (tol){0, 0});
        }
        snprintf(what, sizeof what, "N%d V%d Vp%d%s correct", N, V, Vp, kt);
        r |= kc_check_ints(c, K, dt, what, (const int *)dcorr, corr, N);
        /* In place: dlogits over the logits. */
        KC_TRY(K, kn_softmax_xent((float *)dloss_v, dlog, NULL, dlog, (const int32_t *)dtgt, N, V,
                                  Vp, dloss, dt, c->s));
        /* Sums (write, then accumulate onto it: twice the totals). */
        KC_TRY(K, kn_xent_sum((float *)dsum, (int *)dsum + 1, (const float *)dloss_v,
                              (const int *)dcorr, N, 0, c->s));
        KC_TRY(K, kn_xent_sum((float *)dsum, (int *)dsum + 1, (const float *)dloss_v,
                              (const int *)dcorr, N, 1, c->s));
        KC_SYNC(K);
        KC_TRY(K, kn_xent_set_mode(KN_XENT_SMEM)); /* the default */
        snprintf(what, sizeof what, "N%d V%d Vp%d%s dlogits in place", N, V, Vp, kt);
        r |= kc_check_dev(c, K, dt, what, dlog, dl, NV, tg);
        if (shp[v].bad) /* the NaN losses make the sums NaN */
            continue;
        double ls = 0.0;
        int cs = 0;
        for (int n = 0; n < N; n++) {
            ls += loss[n];
            cs += corr[n];
        }
        float lsf = (float)(2.0 * ls);
        int csi = 2 * cs;
        snprintf(what, sizeof what, "N%d xent_sum loss (2x)", N);
        r |= kc_check_dev(c, K, KN_F32, what, dsum, &lsf, 1, (tol){1e-5, 1e-5});
        snprintf(what, sizeof what, "N%d xent_sum correct (2x)", N);
        r |= kc_check_ints(c, K, KN_F32, what, (const int *)dsum + 1, &csi, 1);
    }
    return r;
}

int kc_chk_global_norm(kc *c, kn_dtype dt)
{
    const char *K = "global_norm";
    (void)dt;
    const size_t ns[3] = {5, 4099, 1000003};
    int r = 0;
    char what0[80];
    for (int v = 0; v < 3; v++) {
        size_t n = ns[v];
        float *g = kc_halloc(c, n);
        KC_OOM(K);
        kc_fill(c, g, n, -0.01f, 0.01f, KN_F32);
        double norm = sqrt(ref_sum_squares(g, n));
        float ref[2] = {(float)norm, ref_clip_factor(norm, (float)(norm * 0.5))};
        float ref1 = ref_clip_factor(norm, 0.0f);
        void *dg = kc_dup(c, g, n, KN_F32), *dout = kc_poisoned(c, 3, KN_F32);
        void *dout2 = kc_poisoned(c, 2, KN_F32);
        const float half = (float)(norm * 0.5);
        void *dmax = kc_dup(c, &half, 1, KN_F32);   /* the _dev variant's limit */
        size_t sb = kn_global_norm_scratch_bytes();
        void *scratch = kc_dalloc(c, sb);
        KC_OOM(K);
        KC_TRY(K, kn_global_norm((float *)dout, (float *)dout + 1, (const float *)dg, n, half,
                                 scratch, sb, c->s));
        KC_TRY(K, kn_global_norm(NULL, (float *)dout + 2, (const float *)dg, n, 0.0f, scratch, sb,
                                 c->s));
        KC_TRY(K, kn_global_norm_dev((float *)dout2, (float *)dout2 + 1, (const float *)dg, n,
                                     (const float *)dmax, scratch, sb, c->s));
        KC_SYNC(K);
        snprintf(what0, sizeof what0, "n=%zu _dev: norm, clip(max=norm/2 on the device)", n);
        r |= kc_check_dev(c, K, KN_F32, what0, dout2, ref, 2, (tol){0, 1e-6});
        char what[64];
        snprintf(what, sizeof what, "n=%zu norm, clip(max=norm/2)", n);
        r |= kc_check_dev(c, K, KN_F32, what, dout, ref, 2, (tol){0, 1e-6});
        snprintf(what, sizeof what, "n=%zu clip(max=0) == 1", n);
        r |= kc_check_dev(c, K, KN_F32, what, (float *)dout + 2, &ref1, 1, (tol){0, 0});
        /* a slice that starts off the 16-byte grid (the data-parallel
         * trainer's shards of the gradient): head and tail elements */
        const float unorm = (float)sqrt(ref_sum_squares(g + 1, n - 1));
        KC_TRY(K, kn_global_norm((float *)dout, NULL, (const float *)dg + 1, n - 1, 0.0f, scratch,
                                 sb, c->s));
        KC_SYNC(K);
        snprintf(what, sizeof what, "n=%zu from element 1: norm", n - 1);
        r |= kc_check_dev(c, K, KN_F32, what, dout, &unorm, 1, (tol){0, 1e-6});
    }
    return r;
}

int kc_chk_adamw(kc *c, kn_dtype dt)
{
    const char *K = "adamw";
    const size_t n = 100003;
    float *p = kc_halloc(c, n), *g = kc_halloc(c, n), *m = kc_halloc(c, n), *v = kc_halloc(c, n);
    KC_OOM(K);
    kc_fill(c, p, n, -1, 1, KN_F32);
    kc_fill(c, g, n, -0.1f, 0.1f, KN_F32);
    kc_fill(c, m, n, -0.01f, 0.01f, KN_F32);
    kc_fill(c, v, n, 0, 1e-3f, KN_F32);
    void *dp = kc_dup(c, p, n, KN_F32), *dg = kc_dup(c, g, n, KN_F32);
    void *dm = kc_dup(c, m, n, KN_F32), *dv = kc_dup(c, v, n, KN_F32);
    void *dcopy = kc_poisoned(c, n, dt);
    const float scale = 0.7f;
    void *dscale = kc_dup(c, &scale, 1, KN_F32);
    KC_OOM(K);
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    const int t = 7;
    ref_adamw(p, g, m, v, n, lr, b1, b2, eps, wd, t, scale);
    KC_TRY(K, kn_adamw((float *)dp, (const float *)dg, (float *)dm, (float *)dv, dcopy, dt, n, lr,
                       b1, b2, eps, wd, t, (const float *)dscale, c->s));
    KC_SYNC(K);
    tol tt = {1e-7, 1e-6};
    int r = kc_check_f32(c, K, dt, "p (fp32 master)", dp, p, n, tt);
    r |= kc_check_f32(c, K, dt, "m", dm, m, n, tt);
    r |= kc_check_f32(c, K, dt, "v", dv, v, n, tt);
    r |= kc_check_dev(c, K, dt, "p copy", dcopy, p, n, kc_tol2(dt, 1e-7, 1e-6, 0, 4e-3));
    return r;
}

/* kn_adamw_flat: several tensors back to back (sizes that are not multiples
 * of 4, an empty one, boundaries inside a 4-element chunk), decay on some,
 * hyper-parameters from device memory; the reference updates each tensor
 * with ref_adamw and its own decay. */
int kc_chk_adamw_flat(kc *c, kn_dtype dt)
{
    const char *K = "adamw_flat";
    static const size_t sizes[] = {1001, 0, 4096, 3, 77777, 6, 15}; /* n % 4 == 2 */
    enum { NT = sizeof sizes / sizeof sizes[0] };
    kn_adamw_tensors ts = {.n = NT, .decay_mask = 0x55};
    size_t n = 0;
    for (int i = 0; i < NT; i++)
        ts.end[i] = n += sizes[i];
    float *p = kc_halloc(c, n), *g = kc_halloc(c, n), *m = kc_halloc(c, n), *v = kc_halloc(c, n);
    KC_OOM(K);
    kc_fill(c, p, n, -1, 1, KN_F32);
    kc_fill(c, g, n, -0.1f, 0.1f, KN_F32);
    kc_fill(c, m, n, -0.01f, 0.01f, KN_F32);
    kc_fill(c, v, n, 0, 1e-3f, KN_F32);
    void *dp = kc_dup(c, p, n, KN_F32), *dg = kc_dup(c, g, n, KN_F32);
    void *dm = kc_dup(c, m, n, KN_F32), *dv = kc_dup(c, v, n, KN_F32);
    void *dcopy = kc_poisoned(c, n, dt);
    const float scale = 0.7f, lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    const int t = 7;
    kn_adamw_hp hp;
    kn_adamw_hp_set(&hp, lr, b1, b2, eps, wd, t);
    void *dscale = kc_dup(c, &scale, 1, KN_F32);
    void *dhp = kc_dup(c, (const float *)&hp, sizeof hp / sizeof(float), KN_F32);
    KC_OOM(K);
    for (int i = 0, o = 0; i < NT; o += (int)sizes[i], i++)
        ref_adamw(p + o, g + o, m + o, v + o, sizes[i], lr, b1, b2, eps,
                  (ts.decay_mask >> i) & 1 ? wd : 0.0f, t, scale);
    KC_TRY(K, kn_adamw_flat((float *)dp, (const float *)dg, (float *)dm, (float *)dv, dcopy, dt,
                            &ts, (const kn_adamw_hp *)dhp, (const float *)dscale, c->s));
    KC_SYNC(K);
    tol tt = {1e-7, 1e-6};
    int r = kc_check_f32(c, K, dt, "p (fp32 master)", dp, p, n, tt);
    r |= kc_check_f32(c, K, dt, "m", dm, m, n, tt);
    r |= kc_check_f32(c, K, dt, "v", dv, v, n, tt);
    r |= kc_check_dev(c, K, dt, "p copy", dcopy, p, n, kc_tol2(dt, 1e-7, 1e-6, 0, 4e-3));
    return r;
}

int kc_chk_convert(kc *c, kn_dtype dt)
{
    const char *K = "convert";
    (void)dt;
    const size_t n = 10001;
    uint16_t *in = (uint16_t *)kc_halloc(c, n);
    int *ref = (int *)kc_halloc(c, n);
    float *x = kc_halloc(c, n), *xr = kc_halloc(c, n);
    KC_OOM(K);
    for (size_t i = 0; i < n; i++) {
        in[i] = (uint16_t)(i < 3 ? 65535 - i : kc_rng_next(c));
        ref[i] = in[i];
    }
    kc_fill(c, x, n, -100, 100, KN_F32);
    memcpy(xr, x, n * sizeof(float));
    kc_round_dt(xr, n, KN_BF16);
    void *din = kc_dalloc(c, n * 2), *dout = kc_poisoned(c, n, KN_F32);
    void *dx = kc_dup(c, x, n, KN_F32), *db = kc_poisoned(c, n, KN_BF16);
    void *dx2 = kc_poisoned(c, n, KN_F32);
    KC_OOM(K);
    KC_CUDA(K, cudaMemcpy(din, in, n * 2, cudaMemcpyHostToDevice));
    KC_TRY(K, kn_widen_u16((int32_t *)dout, (const uint16_t *)din, n, c->s));
    KC_TRY(K, kn_cast_f32_to_bf16(db, (const float *)dx, n, c->s));
    KC_TRY(K, kn_cast_bf16_to_f32((float *)dx2, db, n, c->s));
    KC_SYNC(K);
    int r = kc_check_ints(c, K, KN_F32, "widen_u16", (const int *)dout, ref, n);
    r |= kc_check_dev(c, K, KN_BF16, "f32->bf16 (RNE)", db, xr, n, (tol){0, 0});
    r |= kc_check_dev(c, K, KN_F32, "bf16->f32", dx2, xr, n, (tol){0, 0});
    return r;
}

/* One graph captured on s: *cnt's loop of n iterations (body on bs) loading
 * chunk *cnt of in (m ids each) into out; instantiated into *ge. */
static int loop_capture(kc *c, const char *K, cudaStream_t s, cudaStream_t bs, int *cnt,
                        int32_t *out, const void *in, int u16, size_t m, unsigned n,
                        cudaGraphExec_t *ge)
{
    kn_graph_loop l;
    cudaGraph_t g = NULL;
    KC_CUDA(K, cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
    int err = kn_graph_loop_begin(&l, cnt, n, s, bs);
    if (!err && (err = kn_load_ids_at(out, in, u16, m, m, cnt, bs)))
        kn_graph_loop_abort(&l);
    else if (!err)
        err = kn_graph_loop_end(&l);
    cudaError_t e = cudaStreamEndCapture(s, &g);
    if (err)
        return kc_error(c, K, "capture: %s", ingot_errmsg());
    KC_CUDA(K, e);
    e = cudaGraphInstantiate(ge, g, 0);
    cudaGraphDestroy(g);
    KC_CUDA(K, e);
    return 0;
}

/* The step graph's device loop (graph_loop.h) on its own streams: the
 * indexed load against its reference (chunk idx of the buffer, widened from
 * u16 or copied), then loops of 1 and 5 iterations, each graph launched
 * twice: after every launch the counter is n and the output chunk n-1 (so
 * the counter restarts at 0 and the condition at 1 on each launch). */
static int graph_loop_run(kc *c, const char *K, cudaStream_t s, cudaStream_t bs)
{
    const size_t m = 1000, nch = 6;
    uint16_t *in16 = (uint16_t *)kc_halloc(c, m * nch / 2 + 1);
    int *in32 = (int *)kc_halloc(c, m * nch), *ref = (int *)kc_halloc(c, m);
    void *d16 = kc_dalloc(c, m * nch * 2), *d32 = kc_dalloc(c, m * nch * 4);
    int32_t *dout = (int32_t *)kc_dalloc(c, m * 4);
    int *dcnt = (int *)kc_dalloc(c, sizeof(int));
    KC_OOM(K);
    for (size_t i = 0; i < m * nch; i++) {
        in16[i] = (uint16_t)(i < 2 ? 65535 - i : kc_rng_next(c));
        in32[i] = (int)(kc_rng_next(c) & 0x7fffffff);
    }
    KC_CUDA(K, cudaMemcpy(d16, in16, m * nch * 2, cudaMemcpyHostToDevice));
    KC_CUDA(K, cudaMemcpy(d32, in32, m * nch * 4, cudaMemcpyHostToDevice));
    int r = 0;
    for (int u16 = 0; u16 < 2; u16++) {
        const int idx = 3;
        KC_CUDA(K, cudaMemcpy(dcnt, &idx, sizeof idx, cudaMemcpyHostToDevice));
        KC_CUDA(K, cudaMemset(dout, 0xff, m * 4));
        KC_TRY(K, kn_load_ids_at(dout, u16 ? d16 : d32, u16, m, m, dcnt, s));
        KC_CUDA(K, cudaStreamSynchronize(s));
        for (size_t i = 0; i < m; i++)
            ref[i] = u16 ? (int)in16[idx * m + i] : in32[idx * m + i];
        r |= kc_check_ints(c, K, KN_F32, u16 ? "load_ids_at u16, chunk 3" : "load_ids_at i32, chunk 3",
                           dout, ref, m);
    }
    const unsigned loops[] = { 1, 5 };
    for (int li = 0; li < 2; li++) {
        const unsigned n = loops[li];
        cudaGraphExec_t ge = NULL;
        if (loop_capture(c, K, s, bs, dcnt, dout, d16, 1, m, n, &ge))
            return 1;
        for (int launch = 0; launch < 2; launch++) {
            const int want = (int)n;
            KC_CUDA(K, cudaMemset(dout, 0xff, m * 4));
            KC_CUDA(K, cudaGraphLaunch(ge, s));
            KC_CUDA(K, cudaStreamSynchronize(s));
            for (size_t i = 0; i < m; i++)
                ref[i] = in16[(n - 1) * m + i];
            char what[64];
            snprintf(what, sizeof what, "loop of %u, launch %d: counter", n, launch + 1);
            r |= kc_check_ints(c, K, KN_F32, what, dcnt, &want, 1);
            snprintf(what, sizeof what, "loop of %u, launch %d: last chunk", n, launch + 1);
            r |= kc_check_ints(c, K, KN_F32, what, dout, ref, m);
        }
        cudaGraphExecDestroy(ge);
    }
    /* A body that fails while captured, two ways: a load the launcher
     * refuses (abort says the graph may be destroyed), and a synchronize on
     * the body's stream, which invalidates its capture (abort says it may
     * not: destroying that graph crashed driver 580). Either way the loop
     * is aborted, the outer capture ended and discarded, and the same
     * streams then capture a loop that runs (what the trainer's fallback to
     * the unrolled graph relies on). */
    for (int kind = 0; kind < 2; kind++) {
        kn_graph_loop l = { 0 };
        cudaGraph_t g = NULL;
        KC_CUDA(K, cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
        const int began = kn_graph_loop_begin(&l, dcnt, 3, s, bs);
        if (began)
            printf("%-20s begin: %s\n", K, ingot_errmsg());
        /* one launch captured into the body, then the failure */
        const int loaded = began ? -1 : kn_load_ids_at(dout, d16, 1, m, m, dcnt, bs);
        const int refused = began ? 0
                            : kind == 0 ? kn_load_ids_at(NULL, d16, 1, m, m, dcnt, bs)
                                        : cudaStreamSynchronize(bs) != cudaSuccess;
        const int undestroyable = began ? -1 : kn_graph_loop_abort(&l);
        (void)cudaStreamEndCapture(s, &g);
        if (g && !undestroyable)
            cudaGraphDestroy(g);
        (void)cudaGetLastError();
        ingot_clear_err();
        enum cudaStreamCaptureStatus so = cudaStreamCaptureStatusActive, sb = so;
        KC_CUDA(K, cudaStreamIsCapturing(s, &so));
        KC_CUDA(K, cudaStreamIsCapturing(bs, &sb));
        const int bad = began || loaded || !refused || l.open || undestroyable != kind ||
                        so != cudaStreamCaptureStatusNone || sb != cudaStreamCaptureStatusNone;
        printf("%-20s %-4s %-34s %s\n", K, "fp32",
               kind == 0 ? "a refused launch: aborted" : "an invalidated body: aborted, kept",
               bad ? "FAIL" : "PASS");
        r |= kc_tally(c, c->hused, bad);
        cudaGraphExec_t ge = NULL;
        if (loop_capture(c, K, s, bs, dcnt, dout, d16, 1, m, 3, &ge))
            return 1;
        const int want = 3;
        KC_CUDA(K, cudaGraphLaunch(ge, s));
        KC_CUDA(K, cudaStreamSynchronize(s));
        cudaGraphExecDestroy(ge);
        for (size_t i = 0; i < m; i++)
            ref[i] = in16[2 * m + i];
        r |= kc_check_ints(c, K, KN_F32, "after it, a loop of 3: counter", dcnt, &want, 1);
        r |= kc_check_ints(c, K, KN_F32, "after it, a loop of 3: last chunk", dout, ref, m);
    }
    return r;
}

int kc_chk_graph_loop(kc *c, kn_dtype dt)
{
    const char *K = "graph_loop";
    (void)dt;
    if (!kn_graph_loop_supported()) {   /* before CUDA 12.4: the trainer unrolls */
        printf("%-20s skipped: this build has no graph loops (CUDA before 12.4)\n", K);
        return 0;
    }
    cudaStream_t s = NULL, bs = NULL;
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess ||
        cudaStreamCreateWithFlags(&bs, cudaStreamNonBlocking) != cudaSuccess) {
        if (s)
            cudaStreamDestroy(s);
        return kc_error(c, K, "cudaStreamCreate failed");
    }
    int r = graph_loop_run(c, K, s, bs);
    cudaStreamSynchronize(s);
    cudaStreamDestroy(s);
    cudaStreamDestroy(bs);
    return r;
}

/* ------------------------------------------------------------------ */
/* Benchmarks at GPT-2 124M shapes.                                     */

enum { GPT_T = 1024, GPT_C = 768, GPT_NH = 12, GPT_V = 50257, GPT_VP = 50304 };

/* Benchmark argument blocks: pointers and shapes for one call. */
typedef struct bargs {
    kn_dtype dt;
    int B, T, C, NH, V, Vp, N, IC, OC, flag;
    size_t n, sb;
    void *a, *b, *d, *e, *f, *g, *h, *i, *j, *k, *scratch;
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
static int b_ln_bwd_sum(kc *c, void *v)
{
    bargs *a = v;
    return kn_layernorm_bwd_sum(a->h, a->i, a->j, a->k, a->a, a->b, a->d, a->f, a->g, a->N, a->C,
                                a->flag, a->dt, a->scratch, a->sb, c->s);
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
    return kn_matmul_bwd_weight(c->blas, a->g, a->a, a->b, a->N, a->IC, a->OC, 1, a->dt, c->s);
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

int kc_bench_encoder(kc *c, kn_dtype dt)
{
    const char *K = "encoder";
    bargs a = {.dt = dt, .B = c->batch, .T = GPT_T, .C = GPT_C, .V = GPT_V};
    size_t N = (size_t)a.B * a.T, es = kn_dtype_size(dt);
    a.a = kc_dalloc(c, N * a.C * es);
    a.b = kc_dalloc(c, N * 4);
    a.d = kc_dalloc(c, (size_t)GPT_VP * a.C * es);
    a.e = kc_dalloc(c, (size_t)a.T * a.C * es);
    a.f = kc_dalloc(c, (size_t)GPT_VP * a.C * 4);
    a.g = kc_dalloc(c, (size_t)a.T * a.C * 4);
    KC_OOM(K);
    KC_TRY(K, kn_encoder_bwd_scratch_bytes(&a.sb, a.B, a.T, a.V));
    a.scratch = kc_dalloc(c, a.sb);
    KC_OOM(K);
    KC_TRY(K, kc_fill_tokens(a.b, N, a.V, c->seed, c->s));
    KC_DFILL(a.d, (size_t)GPT_VP * a.C, dt, -1, 1);
    KC_DFILL(a.e, (size_t)a.T * a.C, dt, -1, 1);
    KC_DFILL(a.a, N * a.C, dt, -1, 1);
    KC_CUDA(K, cudaMemsetAsync(a.f, 0, (size_t)GPT_VP * a.C * 4, c->s));
    KC_CUDA(K, cudaMemsetAsync(a.g, 0, (size_t)a.T * a.C * 4, c->s));
    double bytes = (double)N * a.C * es * 2 + N * 4;
    int r = kc_bench_run(c, "encoder_fwd", dt, "B*T x C", b_encoder_fwd, &a, bytes, 0);
    /* Backward: dout read once, dwte rows read+written once per distinct id. */
    bytes = (double)N * a.C * es + N * 8 + 2.0 * N * a.C * 4;
    r |= kc_bench_run(c, "encoder_bwd", dt, "B*T x C (sort + sums)", b_encoder_bwd, &a, bytes, 0);
    return r;
}

int kc_bench_layernorm(kc *c, kn_dtype dt)
{
    const char *K = "layernorm";
    bargs a = {.dt = dt, .N = c->batch * GPT_T, .C = GPT_C, .flag = 1};
    size_t NC = (size_t)a.N * a.C, es = kn_dtype_size(dt);
    a.a = kc_dalloc(c, NC * es);          /* out (fwd) / dout (bwd) */
    a.b = kc_dalloc(c, NC * es);          /* inp */
    a.e = kc_dalloc(c, (size_t)a.C * es); /* b */
    a.f = kc_dalloc(c, (size_t)a.N * 4);  /* mean */
    a.g = kc_dalloc(c, (size_t)a.N * 4);  /* rstd */
    a.h = kc_dalloc(c, NC * es);          /* dinp */
    /* the C 1024 rows (GPT-2 350M's width) reuse the buffers: same N C */
    const int N2 = (int)(NC / 1024), C2 = 1024;
    a.d = kc_dalloc(c, (size_t)C2 * es); /* w (C 768 uses the first 768) */
    a.i = kc_dalloc(c, (size_t)C2 * 4);  /* dw */
    a.j = kc_dalloc(c, (size_t)C2 * 4);  /* db */
    a.k = kc_dalloc(c, (size_t)C2 * 4);  /* dsum (the LayerNorm backward's bias sums) */
    a.sb = kn_layernorm_bwd_scratch_bytes(a.N, a.C);
    if (kn_layernorm_bwd_scratch_bytes(N2, C2) > a.sb)
        a.sb = kn_layernorm_bwd_scratch_bytes(N2, C2);
    a.scratch = kc_dalloc(c, a.sb);
    KC_OOM(K);
    KC_DFILL(a.b, NC, dt, -2, 2);
    KC_DFILL(a.d, (size_t)C2, dt, 0.5f, 1.5f);
    KC_DFILL(a.e, (size_t)a.C, dt, -0.5f, 0.5f);
    KC_DFILL(a.h, NC, dt, -1, 1);
    KC_CUDA(K, cudaMemsetAsync(a.i, 0, (size_t)C2 * 4, c->s));
    KC_CUDA(K, cudaMemsetAsync(a.j, 0, (size_t)C2 * 4, c->s));
    KC_CUDA(K, cudaMemsetAsync(a.k, 0, (size_t)C2 * 4, c->s));
    int r = kc_bench_run(c, "layernorm_fwd", dt, "N=B*T C=768", b_ln_fwd, &a, 2.0 * NC * es, 0);
    KC_DFILL(a.a, NC, dt, -1, 1);
    r |= kc_bench_run(c, "layernorm_bwd", dt, "N=B*T C=768 (dinp +=)", b_ln_bwd, &a, 4.0 * NC * es,
                      0);
    r |= kc_bench_run(c, "layernorm_bwd_sum", dt, "N=B*T C=768 (dinp +=, sums)", b_ln_bwd_sum, &a,
                      4.0 * NC * es, 0);
    a.N = N2, a.C = C2;
    r |= kc_bench_run(c, "layernorm_bwd", dt, "N=B*T*3/4 C=1024 (dinp +=)", b_ln_bwd, &a,
                      4.0 * NC * es, 0);
    r |= kc_bench_run(c, "layernorm_bwd_sum", dt, "N=B*T*3/4 C=1024 (dinp +=, sums)", b_ln_bwd_sum,
                      &a, 4.0 * NC * es, 0);
    return r;
}

int kc_bench_matmul(kc *c, kn_dtype dt)
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
        kc_arena_reset(c);
        bargs a = {.dt = dt, .N = c->batch * GPT_T, .IC = shp[v].IC, .OC = shp[v].OC,
                   .flag = shp[v].gelu};
        size_t es = kn_dtype_size(dt), NI = (size_t)a.N * a.IC, NO = (size_t)a.N * a.OC;
        size_t WO = (size_t)a.IC * a.OC;
        a.a = kc_dalloc(c, NO * es); /* out / dout */
        a.b = kc_dalloc(c, NI * es); /* inp */
        a.d = kc_dalloc(c, WO * es); /* w */
        a.e = kc_dalloc(c, (size_t)a.OC * 4); /* bias (dt) / dbias (fp32) */
        a.f = kc_dalloc(c, NI * es); /* dinp */
        a.g = kc_dalloc(c, WO * 4);  /* dw */
        a.h = a.flag ? kc_dalloc(c, NO * es) : NULL; /* pre-gelu */
        a.sb = kn_matmul_bwd_bias_scratch_bytes(a.N, a.OC);
        a.scratch = a.sb ? kc_dalloc(c, a.sb) : NULL;
        KC_OOM(K);
        float ws = 1.0f / sqrtf((float)a.IC);
        KC_DFILL(a.b, NI, dt, -1, 1);
        KC_DFILL(a.d, WO, dt, -ws, ws);
        KC_DFILL(a.e, (size_t)a.OC, dt, -0.1f, 0.1f);
        KC_CUDA(K, cudaMemsetAsync(a.g, 0, WO * 4, c->s));
        double fl = 2.0 * a.N * a.IC * a.OC;
        char what[64];
        snprintf(what, sizeof what, "fwd %s%s", shp[v].name, a.flag ? " +gelu" : "");
        r |= kc_bench_run(c, "matmul_fwd", dt, what, b_mm_fwd, &a, 0, fl);
        KC_DFILL(a.a, NO, dt, -1, 1);
        if (a.flag)
            KC_DFILL(a.h, NO, dt, -2, 2);
        /* Plain bwd_inp here (the dGELU variant is timed below). */
        snprintf(what, sizeof what, "bwd_inp %s", shp[v].name);
        a.flag = 0;
        r |= kc_bench_run(c, "matmul_bwd", dt, what, b_mm_bwd_inp, &a, 0, fl);
        snprintf(what, sizeof what, "bwd_weight %s", shp[v].name);
        r |= kc_bench_run(c, "matmul_bwd", dt, what, b_mm_bwd_w, &a, 0, fl);
        snprintf(what, sizeof what, "bwd_bias %s", shp[v].name);
        a.e = kc_dalloc(c, (size_t)a.OC * 4);
        KC_OOM(K);
        r |= kc_bench_run(c, "matmul_bwd", dt, what, b_mm_bwd_b, &a, (double)NO * es, 0);
    }
    /* proj backward through GELU (dGELU epilogue): dinp [N, 3072]. */
    {
        kc_arena_reset(c);
        bargs a = {.dt = dt, .N = c->batch * GPT_T, .IC = 3072, .OC = 768, .flag = 1};
        size_t es = kn_dtype_size(dt);
        a.a = kc_dalloc(c, (size_t)a.N * a.OC * es);
        a.d = kc_dalloc(c, (size_t)a.IC * a.OC * es);
        a.f = kc_dalloc(c, (size_t)a.N * a.IC * es);
        a.h = kc_dalloc(c, (size_t)a.N * a.IC * es);
        KC_OOM(K);
        KC_DFILL(a.a, (size_t)a.N * a.OC, dt, -1, 1);
        KC_DFILL(a.d, (size_t)a.IC * a.OC, dt, -0.02f, 0.02f);
        KC_DFILL(a.h, (size_t)a.N * a.IC, dt, -2, 2);
        r |= kc_bench_run(c, "matmul_bwd", dt, "bwd_inp proj 3072->768 +dgelu", b_mm_bwd_inp, &a, 0,
                          2.0 * a.N * a.IC * a.OC);
    }
    return r;
}

int kc_bench_attention(kc *c, kn_dtype dt)
{
    const char *K = "attention";
    bargs a = {.dt = dt, .B = c->batch, .T = GPT_T, .C = GPT_C, .NH = GPT_NH};
    size_t es = kn_dtype_size(dt), BTC = (size_t)a.B * a.T * a.C;
    size_t ATT = (size_t)a.B * a.NH * a.T * a.T;
    a.a = kc_dalloc(c, BTC * es);     /* out / dout */
    a.b = kc_dalloc(c, 3 * BTC * es); /* qkv */
    a.d = kc_dalloc(c, ATT * es);     /* att */
    a.e = kc_dalloc(c, 3 * BTC * es); /* dqkv */
    size_t f = kn_attention_fwd_scratch_bytes(a.B, a.T, a.C, a.NH, dt);
    size_t b = kn_attention_bwd_scratch_bytes(a.B, a.T, a.C, a.NH, dt);
    a.sb = f > b ? f : b;
    a.scratch = kc_dalloc(c, a.sb);
    KC_OOM(K);
    KC_DFILL(a.b, 3 * BTC, dt, -1, 1);
    double fl = 4.0 * a.B * a.NH * (double)a.T * a.T * (a.C / a.NH);
    int r = kc_bench_run(c, "attention_fwd", dt, "B*NH x T x T, hs=64", b_att_fwd, &a, 0, fl);
    KC_DFILL(a.a, BTC, dt, -1, 1);
    r |= kc_bench_run(c, "attention_bwd", dt, "B*NH x T x T, hs=64", b_att_bwd, &a, 0, 2 * fl);
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

int kc_bench_flash(kc *c, kn_dtype dt)
{
    const char *K = "flash_attn";
    if (dt != KN_BF16)
        return 0;
    bargs a = {.dt = dt, .B = c->batch, .T = GPT_T, .C = GPT_C, .NH = GPT_NH};
    size_t BTC = (size_t)a.B * a.T * a.C, BHT = (size_t)a.B * a.NH * a.T;
    a.a = kc_dalloc(c, BTC * 2);     /* out */
    a.b = kc_dalloc(c, 3 * BTC * 2); /* qkv */
    a.e = kc_dalloc(c, 3 * BTC * 2); /* dqkv */
    a.f = kc_dalloc(c, BHT * 4);     /* lse */
    a.g = kc_dalloc(c, BTC * 2);     /* dout */
    a.sb = kn_flash_attention_bwd_scratch_bytes(a.B, a.T, a.C, a.NH);
    a.scratch = kc_dalloc(c, a.sb);
    KC_OOM(K);
    KC_DFILL(a.b, 3 * BTC, dt, -1, 1);
    KC_DFILL(a.g, BTC, dt, -1, 1);
    /* Causal work only: half of the T x T products. */
    double fl = 2.0 * a.B * a.NH * (double)a.T * a.T * (a.C / a.NH);
    int r = kc_bench_run(c, "flash_attn_fwd", dt, "causal, hs=64 (half of T x T)", b_fa_fwd, &a, 0,
                         fl);
    r |= kc_bench_run(c, "flash_attn_bwd", dt, "causal, hs=64 (2.5x fwd flops)", b_fa_bwd, &a, 0,
                      2.5 * fl);
    return r;
}

int kc_bench_elementwise(kc *c, kn_dtype dt)
{
    const char *K = "elementwise";
    bargs a = {.dt = dt, .n = (size_t)c->batch * GPT_T * 4 * GPT_C};
    size_t es = kn_dtype_size(dt);
    a.a = kc_dalloc(c, a.n * es);
    a.b = kc_dalloc(c, a.n * es);
    a.d = kc_dalloc(c, a.n * es);
    KC_OOM(K);
    KC_DFILL(a.a, a.n, dt, -1, 1);
    KC_DFILL(a.b, a.n, dt, -3, 3);
    int r = kc_bench_run(c, "gelu", dt, "fwd B*T x 3072", b_gelu_fwd, &a, 2.0 * a.n * es, 0);
    r |= kc_bench_run(c, "gelu", dt, "bwd B*T x 3072", b_gelu_bwd, &a, 3.0 * a.n * es, 0);
    a.n /= 4;
    r |= kc_bench_run(c, "residual", dt, "B*T x 768", b_residual, &a, 3.0 * a.n * es, 0);
    return r;
}

int kc_bench_xent(kc *c, kn_dtype dt)
{
    const char *K = "softmax_xent";
    bargs a = {.dt = dt, .N = c->batch * GPT_T, .V = GPT_V, .Vp = GPT_VP};
    size_t es = kn_dtype_size(dt), NV = (size_t)a.N * a.Vp;
    a.a = kc_dalloc(c, NV * es);
    a.b = kc_dalloc(c, (size_t)a.N * 4);
    a.f = kc_dalloc(c, (size_t)a.N * 4);
    a.g = kc_dalloc(c, (size_t)a.N * 4);
    KC_OOM(K);
    KC_DFILL(a.a, NV, dt, -4, 4);
    KC_TRY(K, kc_fill_tokens(a.b, (size_t)a.N, a.V, c->seed, c->s));
    return kc_bench_run(c, K, dt, "in place, B*T x 50304", b_xent, &a, 2.0 * NV * es, 0);
}

int kc_bench_optimizer(kc *c, kn_dtype dt)
{
    const char *K = "optimizer";
    bargs a = {.dt = dt, .n = 124475904}; /* GPT-2 124M parameter count (Vp = 50304) */
    a.a = kc_dalloc(c, a.n * 4);                   /* p */
    a.b = kc_dalloc(c, a.n * 4);                   /* g */
    a.d = kc_dalloc(c, a.n * 4);                   /* m */
    a.e = kc_dalloc(c, a.n * 4);                   /* v */
    a.f = kc_dalloc(c, a.n * kn_dtype_size(dt));   /* copy */
    a.g = kc_dalloc(c, 16);                        /* [0] norm, [1] clip factor */
    a.sb = kn_global_norm_scratch_bytes();
    a.scratch = kc_dalloc(c, a.sb);
    KC_OOM(K);
    KC_DFILL(a.a, a.n, KN_F32, -1, 1);
    KC_DFILL(a.b, a.n, KN_F32, -0.01f, 0.01f);
    KC_CUDA(K, cudaMemsetAsync(a.d, 0, a.n * 4, c->s));
    KC_CUDA(K, cudaMemsetAsync(a.e, 0, a.n * 4, c->s));
    int r = 0;
    if (dt == KN_F32) /* the norm has no bf16 variant: time it once */
        r = kc_bench_run(c, "global_norm", KN_F32, "124M fp32 grads", b_norm, &a, 4.0 * a.n, 0);
    double bytes = a.n * (4.0 * 2 + 4 + 8 + 8 + kn_dtype_size(dt));
    r |= kc_bench_run(c, "adamw", dt, "124M params (+ copy)", b_adamw, &a, bytes, 0);
    kn_adamw_hp hp;
    kn_adamw_hp_set(&hp, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
    a.h = kc_dup(c, (const float *)&hp, sizeof hp / sizeof(float), KN_F32);
    KC_OOM(K);
    r |= kc_bench_run(c, "adamw_flat", dt, "124M params (+ copy), 1 launch", b_adamw_flat, &a,
                      bytes, 0);
    return r;
}

int kc_bench_convert(kc *c, kn_dtype dt)
{
    const char *K = "convert";
    (void)dt;
    bargs a = {.n = (size_t)c->batch * (GPT_T + 1)};
    a.a = kc_dalloc(c, a.n * 4);
    a.b = kc_dalloc(c, a.n * 2);
    KC_OOM(K);
    KC_CUDA(K, cudaMemsetAsync(a.b, 0x5a, a.n * 2, c->s));
    return kc_bench_run(c, "widen_u16", KN_F32, "B*(T+1) ids", b_widen, &a, 6.0 * a.n, 0);
}
