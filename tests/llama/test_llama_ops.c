/* The LLaMA reference ops (kernels/cpu/ref_llama.h): each backward against
 * central finite differences of its forward, forwards against direct
 * double-precision formulas, the conventions pinned by hand-worked cases
 * (RoPE's rotate_half pairing, repeat_kv's head grouping), and grouped-query
 * attention against the GPT-2 attention reference.
 *
 * Finite differences: L = sum(out * r) for a fixed random r, summed in
 * double; h = 1e-3 (the float step actually taken is used). The forward runs
 * in float, so L carries rounding noise of ~1e-7 relative, ~1e-4 after
 * dividing by 2h; truncation error is O(h^2) ~ 1e-6 at these curvatures.
 * Tolerance per element |fd - an| <= 2e-3 + 2e-2 |an| (as for the GPT-2 ops in
 * tests/train/test_ref_ops.c): 10-20x that noise, while a wrong formula (a
 * missing term, a sign, a wrong head) is off by O(|an|). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ll_testlib.h"
#include "ref_llama.h"
#include "ref_ops.h"
#include "ref_rope_expand.h"

#define FD_ATOL 2e-3
#define FD_RTOL 2e-2

static int failures;

static void expect(int ok, const char *what, double got, double limit)
{
    if (!ok) {
        fprintf(stderr, "%s: %.3g exceeds %.3g\n", what, got, limit);
        failures++;
    } else {
        printf("%-28s ok (%.3g <= %.3g)\n", what, got, limit);
    }
}

/* Backward functions accumulate: start the gradient from random values and
 * hand back what was added. */
static float *added(float *g, const float *g0, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g[i] -= g0[i];
    return g;
}

/* ---- RMSNorm ---- */
struct rn { int N, C; float eps; float *inp, *w, *out, *rstd, *r; };

static double rn_obj(void *p)
{
    struct rn *c = p;
    ref_rmsnorm_fwd(c->out, c->rstd, c->inp, c->w, c->eps, c->N, c->C);
    return ll_dotd(c->out, c->r, (size_t)c->N * c->C);
}

static void test_rmsnorm_eps(float eps, const char *tag)
{
    struct rn c = { .N = 4, .C = 67, .eps = eps };
    size_t n = (size_t)c.N * c.C;
    c.inp = ll_rnd(n, 2); c.w = ll_rnd(c.C, 1); c.out = ll_zeros(n);
    c.rstd = ll_zeros(c.N); c.r = ll_rnd(n, 1);
    rn_obj(&c);
    double worst = 0.0;   /* forward against the formula in double */
    for (int i = 0; i < c.N; i++) {
        double ss = 0.0;
        for (int j = 0; j < c.C; j++)
            ss += (double)c.inp[i * c.C + j] * c.inp[i * c.C + j];
        double s = 1.0 / sqrt(ss / c.C + eps);
        for (int j = 0; j < c.C; j++) {
            double want = c.inp[i * c.C + j] * s * c.w[j];
            double e = fabs(c.out[i * c.C + j] - want) / (1.0 + fabs(want));
            worst = e > worst ? e : worst;
        }
        double e = fabs(c.rstd[i] - s) / s;
        worst = e > worst ? e : worst;
    }
    char what[64];
    snprintf(what, sizeof what, "rmsnorm fwd %s", tag);
    expect(worst <= 1e-6, what, worst, 1e-6);
    float *di0 = ll_rnd(n, 1), *dw0 = ll_rnd(c.C, 1);
    float *di = ll_copy(di0, n), *dw = ll_copy(dw0, c.C);
    ref_rmsnorm_bwd(di, dw, c.r, c.inp, c.w, c.rstd, c.N, c.C);
    added(di, di0, n);
    added(dw, dw0, c.C);
    snprintf(what, sizeof what, "rmsnorm dinp %s", tag);
    failures += ll_fd_check(what, c.inp, di, n, rn_obj, &c, FD_ATOL, FD_RTOL);
    snprintf(what, sizeof what, "rmsnorm dw %s", tag);
    failures += ll_fd_check(what, c.w, dw, c.C, rn_obj, &c, FD_ATOL, FD_RTOL);
    free(c.inp); free(c.w); free(c.out); free(c.rstd); free(c.r);
    free(di0); free(dw0); free(di); free(dw);
}

/* residual + RMSNorm fused == the two ops apart, bit for bit, also in place. */
static void test_residual_rmsnorm(void)
{
    int N = 5, C = 40;
    size_t n = (size_t)N * C;
    float *res = ll_rnd(n, 1), *x = ll_rnd(n, 1), *w = ll_rnd(C, 1);
    float *sum = ll_zeros(n), *o1 = ll_zeros(n), *s1 = ll_zeros(N);
    float *o2 = ll_zeros(n), *s2 = ll_zeros(N), *res2 = ll_copy(res, n);
    ref_residual_fwd(sum, res, x, n);
    ref_rmsnorm_fwd(o1, s1, sum, w, 1e-5f, N, C);
    ref_residual_rmsnorm_fwd(res2, o2, s2, res2, x, w, 1e-5f, N, C);
    double d = ll_maxdiff(sum, res2, n) + ll_maxdiff(o1, o2, n) + ll_maxdiff(s1, s2, N);
    expect(d == 0.0, "residual_rmsnorm == apart", d, 0.0);
    free(res); free(x); free(w); free(sum); free(o1); free(s1); free(o2); free(s2); free(res2);
}

/* ---- RoPE ---- */
struct rp { int B, T, nh, hs, stride; float *inp, *out, *cs, *r; };

static double rp_obj(void *p)
{
    struct rp *c = p;
    ref_rope_fwd(c->out, c->inp, c->cs, c->B, c->T, c->nh, c->hs, c->stride);
    return ll_dotd(c->out, c->r, (size_t)c->B * c->T * c->stride);
}

static void test_rope(void)
{
    /* 3 rotated heads (say 2 q + 1 k) and 1 untouched (v) per row */
    struct rp c = { .B = 2, .T = 6, .nh = 3, .hs = 8, .stride = 4 * 8 };
    size_t n = (size_t)c.B * c.T * c.stride;
    c.cs = ll_zeros((size_t)c.T * c.hs);
    ref_rope_table(c.cs, c.T, c.hs, 10000.0);
    double worst = 0.0;
    for (int t = 0; t < c.T; t++)
        for (int i = 0; i < c.hs / 2; i++) {
            double a = t * pow(10000.0, -2.0 * i / c.hs);
            const float *e = c.cs + ((size_t)t * c.hs / 2 + i) * 2;
            worst = fmax(worst, fmax(fabs(e[0] - cos(a)), fabs(e[1] - sin(a))));
        }
    expect(worst <= 1e-7, "rope table", worst, 1e-7);

    c.inp = ll_rnd(n, 1); c.out = ll_zeros(n); c.r = ll_rnd(n, 1);
    rp_obj(&c);
    /* position 0 is the identity; the v head is not touched (stays 0) */
    double d0 = 0.0, dv = 0.0, dnorm = 0.0;
    for (int b = 0; b < c.B; b++) {
        const float *row = c.inp + (size_t)b * c.T * c.stride, *orow = c.out + (size_t)b * c.T * c.stride;
        d0 = fmax(d0, ll_maxdiff(row, orow, (size_t)c.nh * c.hs));
        for (int t = 0; t < c.T; t++) {
            const float *x = row + (size_t)t * c.stride, *o = orow + (size_t)t * c.stride;
            for (int i = c.nh * c.hs; i < c.stride; i++)
                dv = fmax(dv, fabs(o[i]));
            for (int h = 0; h < c.nh; h++)   /* each (i, i + hs/2) pair keeps its length */
                for (int i = 0; i < c.hs / 2; i++) {
                    const float *xh = x + h * c.hs, *oh = o + h * c.hs;
                    double a = hypot(xh[i], xh[i + c.hs / 2]), b2 = hypot(oh[i], oh[i + c.hs / 2]);
                    dnorm = fmax(dnorm, fabs(a - b2));
                }
        }
    }
    expect(d0 == 0.0, "rope position 0 identity", d0, 0.0);
    expect(dv == 0.0, "rope leaves v channels", dv, 0.0);
    expect(dnorm <= 1e-6, "rope keeps pair norms", dnorm, 1e-6);
    float *inplace = ll_copy(c.inp, n);
    ref_rope_fwd(inplace, inplace, c.cs, c.B, c.T, c.nh, c.hs, c.stride);
    for (size_t i = 0; i < n; i++)   /* the v head of out is 0, of inplace the input */
        if ((int)(i % c.stride) >= c.nh * c.hs)
            inplace[i] = 0.0f;
    double dip = ll_maxdiff(inplace, c.out, n);
    expect(dip == 0.0, "rope in place", dip, 0.0);

    /* HF rotate_half pairing, worked by hand: hs = 4, x = e_0 at position t
     * goes to cos(t) e_0 + sin(t) e_2 (channel 0 pairs with channel 2, not 1). */
    float cs4[3 * 4], x4[3 * 4] = { 0 }, o4[3 * 4];
    ref_rope_table(cs4, 3, 4, 10000.0);
    for (int t = 0; t < 3; t++)
        x4[t * 4] = 1.0f;
    ref_rope_fwd(o4, x4, cs4, 1, 3, 1, 4, 4);
    double dh = 0.0;
    for (int t = 0; t < 3; t++) {
        float want[4] = { (float)cos(t), 0.0f, (float)sin(t), 0.0f };
        dh = fmax(dh, ll_maxdiff(o4 + t * 4, want, 4));
    }
    expect(dh <= 1e-7, "rope rotate_half pairing", dh, 1e-7);

    /* q_m . k_n depends on m - n only: the same q and k at every position */
    struct rp s = { .B = 1, .T = 6, .nh = 2, .hs = 8, .stride = 16 };
    float qk[6 * 16], rq[6 * 16];
    float *q0 = ll_rnd(16, 1);
    for (int t = 0; t < 6; t++)
        memcpy(qk + t * 16, q0, sizeof(float) * 16);
    ref_rope_fwd(rq, qk, c.cs, s.B, s.T, s.nh, s.hs, s.stride);
    double drel = 0.0;
    for (int m = 0; m < 6; m++)
        for (int k = 0; k <= m; k++) {   /* head 0 as q, head 1 as k */
            double a = ll_dotd(rq + m * 16, rq + k * 16 + 8, 8);
            double b = ll_dotd(rq + (m - k) * 16, rq + 8, 8);
            drel = fmax(drel, fabs(a - b));
        }
    expect(drel <= 1e-5, "rope relative positions", drel, 1e-5);

    float *di = ll_zeros(n);
    ref_rope_bwd(di, c.r, c.cs, c.B, c.T, c.nh, c.hs, c.stride);
    failures += ll_fd_check("rope dinp", c.inp, di, n, rp_obj, &c, FD_ATOL, FD_RTOL);
    float *dip2 = ll_copy(c.r, n);   /* backward in place, as on dqkv */
    ref_rope_bwd(dip2, dip2, c.cs, c.B, c.T, c.nh, c.hs, c.stride);
    for (size_t i = 0; i < n; i++)
        if ((int)(i % c.stride) >= c.nh * c.hs)
            dip2[i] = 0.0f;
    double dbi = ll_maxdiff(dip2, di, n);
    expect(dbi == 0.0, "rope bwd in place", dbi, 0.0);
    free(c.cs); free(c.inp); free(c.out); free(c.r); free(inplace); free(q0); free(di); free(dip2);
}

/* ---- SwiGLU ---- */
struct sw { int N, F; float *gu, *out, *r; };

static double sw_obj(void *p)
{
    struct sw *c = p;
    ref_swiglu_fwd(c->out, c->gu, c->N, c->F);
    return ll_dotd(c->out, c->r, (size_t)c->N * c->F);
}

static void test_swiglu(void)
{
    struct sw c = { .N = 5, .F = 24 };
    size_t n = (size_t)c.N * c.F;
    c.gu = ll_rnd(2 * n, 4); c.out = ll_zeros(n); c.r = ll_rnd(n, 1);
    sw_obj(&c);
    double worst = 0.0;
    for (int i = 0; i < c.N; i++)
        for (int f = 0; f < c.F; f++) {
            double g = c.gu[(size_t)i * 2 * c.F + f], u = c.gu[(size_t)i * 2 * c.F + c.F + f];
            double want = g / (1.0 + exp(-g)) * u;
            worst = fmax(worst, fabs(c.out[(size_t)i * c.F + f] - want) / (1.0 + fabs(want)));
        }
    expect(worst <= 1e-6, "swiglu fwd", worst, 1e-6);
    float *d0 = ll_rnd(2 * n, 1), *d = ll_copy(d0, 2 * n);
    ref_swiglu_bwd(d, c.r, c.gu, c.N, c.F);
    added(d, d0, 2 * n);
    failures += ll_fd_check("swiglu dgate|dup", c.gu, d, 2 * n, sw_obj, &c, FD_ATOL, FD_RTOL);
    /* saturated gates: no NaN, silu -> 0 below and -> g above */
    float gu[2 * 4] = { -1000.0f, -100.0f, 100.0f, 1000.0f, 1, 1, 1, 1 }, o[4], dg[8] = { 0 };
    float one[4] = { 1, 1, 1, 1 };
    ref_swiglu_fwd(o, gu, 1, 4);
    ref_swiglu_bwd(dg, one, gu, 1, 4);
    int ok = fabsf(o[0]) < 1e-30f && fabsf(o[1]) < 1e-30f && o[2] == 100.0f && o[3] == 1000.0f &&
             fabsf(dg[0]) < 1e-30f && fabsf(dg[1]) < 1e-30f && dg[2] == 1.0f && dg[3] == 1.0f &&
             isfinite(dg[4]) && dg[6] == 100.0f;
    expect(ok, "swiglu saturated gates", ok ? 0.0 : 1.0, 0.0);
    free(c.gu); free(c.out); free(c.r); free(d0); free(d);
}

/* ---- grouped-query attention ---- */
struct ga { int B, T, NH, NKV, hs; float *qkv, *out, *att, *r; };

static double ga_obj(void *p)
{
    struct ga *c = p;
    ref_gqa_fwd(c->out, c->att, c->qkv, c->B, c->T, c->NH, c->NKV, c->hs);
    return ll_dotd(c->out, c->r, (size_t)c->B * c->T * c->NH * c->hs);
}

static void test_gqa_fd(int NH, int NKV)
{
    struct ga c = { .B = 2, .T = 5, .NH = NH, .NKV = NKV, .hs = 6 };
    size_t W = (size_t)(NH + 2 * NKV) * c.hs;
    size_t nq = c.B * c.T * W, no = (size_t)c.B * c.T * NH * c.hs, na = (size_t)c.B * NH * c.T * c.T;
    c.qkv = ll_rnd(nq, 1); c.out = ll_zeros(no); c.att = ll_zeros(na); c.r = ll_rnd(no, 1);
    ga_obj(&c);
    double drow = 0.0, dup = 0.0;   /* causal rows sum to one, zero above the diagonal */
    for (size_t row = 0; row < (size_t)c.B * NH * c.T; row++) {
        int t = (int)(row % c.T);
        double s = 0.0;
        for (int t2 = 0; t2 < c.T; t2++) {
            s += c.att[row * c.T + t2];
            if (t2 > t)
                dup = fmax(dup, fabs(c.att[row * c.T + t2]));
        }
        drow = fmax(drow, fabs(s - 1.0));
    }
    char what[64];
    snprintf(what, sizeof what, "gqa %d/%d att rows", NH, NKV);
    expect(drow <= 1e-6 && dup == 0.0, what, drow + dup, 1e-6);
    float *d0 = ll_rnd(nq, 1), *d = ll_copy(d0, nq), *scratch = ll_zeros(na);
    ref_gqa_bwd(d, scratch, c.r, c.qkv, c.att, c.B, c.T, NH, NKV, c.hs);
    added(d, d0, nq);
    snprintf(what, sizeof what, "gqa %d/%d dqkv", NH, NKV);
    failures += ll_fd_check(what, c.qkv, d, nq, ga_obj, &c, FD_ATOL, FD_RTOL);
    free(c.qkv); free(c.out); free(c.att); free(c.r); free(d0); free(d); free(scratch);
}

/* NKV == NH is GPT-2's multi-head attention: same layout, same sums. */
static void test_gqa_equals_mha(void)
{
    int B = 2, T = 7, NH = 3, hs = 8, C = NH * hs;
    size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    float *qkv = ll_rnd(nq, 1), *dout = ll_rnd(no, 1);
    float *o1 = ll_zeros(no), *a1 = ll_zeros(na), *o2 = ll_zeros(no), *a2 = ll_zeros(na);
    float *g1 = ll_zeros(nq), *g2 = ll_zeros(nq), *s1 = ll_zeros(na), *s2 = ll_zeros(na);
    ref_attention_fwd(o1, a1, qkv, B, T, C, NH);
    ref_gqa_fwd(o2, a2, qkv, B, T, NH, NH, hs);
    ref_attention_bwd(g1, s1, dout, qkv, a1, B, T, C, NH);
    ref_gqa_bwd(g2, s2, dout, qkv, a2, B, T, NH, NH, hs);
    double d = fmax(fmax(ll_maxdiff(o1, o2, no), ll_maxdiff(a1, a2, na)), ll_maxdiff(g1, g2, nq));
    expect(d <= 1e-6, "gqa NKV=NH == attention", d, 1e-6);
    free(qkv); free(dout); free(o1); free(a1); free(o2); free(a2);
    free(g1); free(g2); free(s1); free(s2);
}

/* GQA == multi-head attention on k and v heads repeated per group (HF's
 * repeat_kv: query head h reads kv head h / (NH / NKV)); the kv gradients
 * are the sums over each group's copies. */
static void test_gqa_repeat_kv(void)
{
    int B = 2, T = 6, NH = 6, NKV = 2, hs = 4, rep = NH / NKV, C = NH * hs;
    size_t Wg = (size_t)(NH + 2 * NKV) * hs, Wm = (size_t)3 * C;
    size_t ng = B * T * Wg, nm = B * T * Wm, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    float *qg = ll_rnd(ng, 1), *qm = ll_zeros(nm), *dout = ll_rnd(no, 1);
    for (int r = 0; r < B * T; r++) {
        const float *src = qg + r * Wg;
        float *dst = qm + r * Wm;
        memcpy(dst, src, sizeof(float) * C);   /* q */
        for (int h = 0; h < NH; h++) {
            memcpy(dst + C + h * hs, src + C + (h / rep) * hs, sizeof(float) * hs);
            memcpy(dst + 2 * C + h * hs, src + C + (NKV + h / rep) * hs, sizeof(float) * hs);
        }
    }
    float *o1 = ll_zeros(no), *a1 = ll_zeros(na), *o2 = ll_zeros(no), *a2 = ll_zeros(na);
    float *gg = ll_zeros(ng), *gm = ll_zeros(nm), *s = ll_zeros(na);
    ref_gqa_fwd(o1, a1, qg, B, T, NH, NKV, hs);
    ref_attention_fwd(o2, a2, qm, B, T, C, NH);
    ref_gqa_bwd(gg, s, dout, qg, a1, B, T, NH, NKV, hs);
    ref_attention_bwd(gm, s, dout, qm, a2, B, T, C, NH);
    double d = fmax(ll_maxdiff(o1, o2, no), ll_maxdiff(a1, a2, na));
    for (int r = 0; r < B * T; r++) {
        const float *g = gg + r * Wg, *m = gm + r * Wm;
        d = fmax(d, ll_maxdiff(g, m, C));   /* dq */
        for (int kv = 0; kv < NKV; kv++)
            for (int i = 0; i < hs; i++) {
                double dk = 0.0, dv = 0.0;
                for (int h = kv * rep; h < (kv + 1) * rep; h++) {
                    dk += m[C + h * hs + i];
                    dv += m[2 * C + h * hs + i];
                }
                d = fmax(d, fabs(g[C + kv * hs + i] - dk));
                d = fmax(d, fabs(g[C + (NKV + kv) * hs + i] - dv));
            }
    }
    expect(d <= 1e-6, "gqa == mha on repeated kv", d, 1e-6);
    free(qg); free(qm); free(dout); free(o1); free(a1); free(o2); free(a2);
    free(gg); free(gm); free(s);
}

/* The GPU trainer's attention (kernels/rope.h kn_rope_expand_*): rotate and
 * expand in one pass, multi-head attention on the result, then the fused
 * group sums + inverse rotation. Must equal rope -> GQA -> rope^T, output
 * and gradient; and the two expansion functions must be each other's
 * transpose: <E x, d> = <x, E^T d>. */
static void test_rope_expand(int NH, int NKV)
{
    int B = 2, T = 9, hs = 8, C = NH * hs, W = (NH + 2 * NKV) * hs;
    size_t ng = (size_t)B * T * W, nm = (size_t)B * T * 3 * C, no = (size_t)B * T * C;
    size_t na = (size_t)B * NH * T * T;
    float *cs = ll_zeros((size_t)T * hs), *qkv = ll_rnd(ng, 1), *dout = ll_rnd(no, 1);
    float *rot = ll_copy(qkv, ng), *q3 = ll_zeros(nm), *d3 = ll_zeros(nm), *dx = ll_zeros(ng);
    float *o1 = ll_zeros(no), *a1 = ll_zeros(na), *o2 = ll_zeros(no), *a2 = ll_zeros(na);
    float *g1 = ll_zeros(ng), *s = ll_zeros(na), *r3 = ll_rnd(nm, 1), *adj = ll_zeros(ng);
    ref_rope_table(cs, T, hs, 10000.0);
    /* the model's definition */
    ref_rope_fwd(rot, rot, cs, B, T, NH + NKV, hs, W);
    ref_gqa_fwd(o1, a1, rot, B, T, NH, NKV, hs);
    ref_gqa_bwd(g1, s, dout, rot, a1, B, T, NH, NKV, hs);
    ref_rope_bwd(g1, g1, cs, B, T, NH + NKV, hs, W);
    /* the fused path */
    ref_rope_expand_fwd(q3, qkv, cs, B, T, NH, NKV, hs);
    ref_attention_fwd(o2, a2, q3, B, T, C, NH);
    ref_attention_bwd(d3, s, dout, q3, a2, B, T, C, NH);
    ref_rope_expand_bwd(dx, d3, cs, B, T, NH, NKV, hs);
    double d = fmax(ll_maxdiff(o1, o2, no), ll_maxdiff(g1, dx, ng));
    char what[64];
    snprintf(what, sizeof what, "rope_expand %d/%d == rope+gqa", NH, NKV);
    expect(d <= 1e-5, what, d, 1e-5);
    ref_rope_expand_bwd(adj, r3, cs, B, T, NH, NKV, hs);
    double lhs = ll_dotd(q3, r3, nm), rhs = ll_dotd(qkv, adj, ng);
    snprintf(what, sizeof what, "rope_expand %d/%d adjoint", NH, NKV);
    expect(fabs(lhs - rhs) <= 1e-5 * fabs(lhs) + 1e-5, what, fabs(lhs - rhs), 1e-5);
    free(cs); free(qkv); free(dout); free(rot); free(q3); free(d3); free(dx);
    free(o1); free(a1); free(o2); free(a2); free(g1); free(s); free(r3); free(adj);
}

int main(void)
{
    ll_seed(1);
    test_rmsnorm_eps(1e-5f, "eps 1e-5");
    test_rmsnorm_eps(0.5f, "eps 0.5");
    test_residual_rmsnorm();
    test_rope();
    test_swiglu();
    test_gqa_fd(4, 2);
    test_gqa_fd(4, 1);
    test_gqa_fd(3, 3);
    test_gqa_equals_mha();
    test_gqa_repeat_kv();
    test_rope_expand(6, 2);
    test_rope_expand(4, 1);
    test_rope_expand(3, 3);
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
