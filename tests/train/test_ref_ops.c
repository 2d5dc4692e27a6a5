/* Each reference op's backward against central finite differences of its
 * forward, on small random shapes. The objective is L = sum(out * r) for a
 * fixed random r, evaluated in double so that the only noise is the float
 * rounding of the forward itself; h = 1e-3 and the tolerance
 * |fd - an| <= 2e-3 + 2e-2 * |an| leave a wide margin over that noise while
 * a wrong formula (a missing term, a sign, a transposed index) is off by
 * O(|an|). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_ops.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float frand(void)   /* uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / (1ull << 24))) * 2.0f - 1.0f;
}

static float *rnd(size_t n, float scale)
{
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = frand() * scale;
    return p;
}

static float *zeros(size_t n)
{
    return calloc(n, sizeof(float));
}

static double dotd(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static int failures;

/* Compare an analytic gradient with central differences of f at x. */
typedef double (*objective_fn)(void *ctx);

static void check(const char *what, float *x, const float *an, size_t n, objective_fn f,
                  void *ctx)
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
        double fd = (lp - lm) / (2.0 * h);
        double err = fabs(fd - an[i]);
        double tol = 2e-3 + 2e-2 * fabs(an[i]);
        if (err / tol > worst)
            worst = err / tol;
        if (err > tol) {
            fprintf(stderr, "%s[%zu]: finite difference %.6g, analytic %.6g\n", what, i, fd, an[i]);
            failures++;
            return;
        }
    }
    printf("%-22s ok (worst error / tolerance %.3f)\n", what, worst);
}

/* ---- matmul ---- */
struct mm { int N, IC, OC; float *inp, *w, *b, *out, *r; };

static double mm_obj(void *p)
{
    struct mm *c = p;
    ref_matmul_fwd(c->out, c->inp, c->w, c->b, c->N, c->IC, c->OC);
    return dotd(c->out, c->r, (size_t)c->N * c->OC);
}

static void test_matmul(void)
{
    struct mm c = { .N = 5, .IC = 13, .OC = 7 };
    c.inp = rnd(5 * 13, 1); c.w = rnd(7 * 13, 1); c.b = rnd(7, 1);
    c.out = zeros(5 * 7); c.r = rnd(5 * 7, 1);
    float *di = rnd(5 * 13, 1), *dw = rnd(7 * 13, 1), *db = rnd(7, 1);
    float *di0 = malloc(sizeof(float) * 65), *dw0 = malloc(sizeof(float) * 91), *db0 = malloc(sizeof(float) * 7);
    memcpy(di0, di, sizeof(float) * 65); memcpy(dw0, dw, sizeof(float) * 91); memcpy(db0, db, sizeof(float) * 7);
    ref_matmul_bwd(di, dw, db, c.r, c.inp, c.w, c.N, c.IC, c.OC);
    /* backward accumulates: subtract the starting values */
    for (int i = 0; i < 65; i++) di[i] -= di0[i];
    for (int i = 0; i < 91; i++) dw[i] -= dw0[i];
    for (int i = 0; i < 7; i++) db[i] -= db0[i];
    check("matmul dinp", c.inp, di, 65, mm_obj, &c);
    check("matmul dw", c.w, dw, 91, mm_obj, &c);
    check("matmul dbias", c.b, db, 7, mm_obj, &c);
    free(c.inp); free(c.w); free(c.b); free(c.out); free(c.r);
    free(di); free(dw); free(db); free(di0); free(dw0); free(db0);
}

/* The tiled matmul kernels against a plain double-precision product, on
 * shapes that hit every tile edge (rows not a multiple of 4 or 8, odd
 * outputs, channels not a multiple of 8, 16 or 32). */
static void test_matmul_shapes(void)
{
    static const int shapes[][3] = {
        { 1, 1, 1 }, { 3, 8, 2 }, { 4, 16, 2 }, { 5, 13, 3 }, { 8, 32, 4 }, { 9, 40, 5 },
        { 12, 64, 6 }, { 17, 48, 33 }, { 20, 100, 9 }, { 33, 96, 64 },
    };
    double worst = 0.0;
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        int N = shapes[s][0], IC = shapes[s][1], OC = shapes[s][2];
        float *x = rnd((size_t)N * IC, 1), *w = rnd((size_t)OC * IC, 1), *b = rnd(OC, 1);
        float *out = zeros((size_t)N * OC), *g = rnd((size_t)N * OC, 1);
        float *dx = rnd((size_t)N * IC, 1), *dw = rnd((size_t)OC * IC, 1), *db = rnd(OC, 1);
        float *dx0 = malloc(sizeof(float) * N * IC), *dw0 = malloc(sizeof(float) * OC * IC);
        float *db0 = malloc(sizeof(float) * OC);
        memcpy(dx0, dx, sizeof(float) * N * IC);
        memcpy(dw0, dw, sizeof(float) * OC * IC);
        memcpy(db0, db, sizeof(float) * OC);
        ref_matmul_fwd(out, x, w, b, N, IC, OC);
        ref_matmul_bwd(dx, dw, db, g, x, w, N, IC, OC);
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) {
                double ref = b[o];
                for (int i = 0; i < IC; i++)
                    ref += (double)x[n * IC + i] * w[o * IC + i];
                double e = fabs(out[n * OC + o] - ref) / (1.0 + fabs(ref));
                worst = e > worst ? e : worst;
            }
        for (int n = 0; n < N; n++)
            for (int i = 0; i < IC; i++) {
                double ref = dx0[n * IC + i];
                for (int o = 0; o < OC; o++)
                    ref += (double)g[n * OC + o] * w[o * IC + i];
                double e = fabs(dx[n * IC + i] - ref) / (1.0 + fabs(ref));
                worst = e > worst ? e : worst;
            }
        for (int o = 0; o < OC; o++) {
            double rb = db0[o];
            for (int i = 0; i < IC; i++) {
                double ref = dw0[o * IC + i];
                for (int n = 0; n < N; n++)
                    ref += (double)g[n * OC + o] * x[n * IC + i];
                double e = fabs(dw[o * IC + i] - ref) / (1.0 + fabs(ref));
                worst = e > worst ? e : worst;
            }
            for (int n = 0; n < N; n++)
                rb += g[n * OC + o];
            double e = fabs(db[o] - rb) / (1.0 + fabs(rb));
            worst = e > worst ? e : worst;
        }
        free(x); free(w); free(b); free(out); free(g); free(dx); free(dw); free(db);
        free(dx0); free(dw0); free(db0);
    }
    /* float accumulation of <= 100 products of magnitude <= 1 */
    if (worst > 1e-5) {
        fprintf(stderr, "matmul shapes: worst relative error %g\n", worst);
        failures++;
    }
    printf("%-22s ok (worst relative error %.2e)\n", "matmul tile edges", worst);
}

/* ---- layernorm ---- */
struct ln { int N, C; float *inp, *w, *b, *out, *mean, *rstd, *r; };

static double ln_obj(void *p)
{
    struct ln *c = p;
    ref_layernorm_fwd(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
    return dotd(c->out, c->r, (size_t)c->N * c->C);
}

static void test_layernorm(void)
{
    struct ln c = { .N = 4, .C = 70 };
    size_t n = 4 * 70;
    c.inp = rnd(n, 2); c.w = rnd(70, 1); c.b = rnd(70, 1); c.out = zeros(n);
    c.mean = zeros(4); c.rstd = zeros(4); c.r = rnd(n, 1);
    ln_obj(&c);
    float *di = zeros(n), *dw = zeros(70), *db = zeros(70);
    ref_layernorm_bwd(di, dw, db, c.r, c.inp, c.w, c.mean, c.rstd, c.N, c.C);
    check("layernorm dinp", c.inp, di, n, ln_obj, &c);
    check("layernorm dw", c.w, dw, 70, ln_obj, &c);
    check("layernorm db", c.b, db, 70, ln_obj, &c);
    free(c.inp); free(c.w); free(c.b); free(c.out); free(c.mean); free(c.rstd); free(c.r);
    free(di); free(dw); free(db);
}

/* ---- attention ---- */
struct at { int B, T, C, NH; float *qkv, *out, *att, *r; };

static double at_obj(void *p)
{
    struct at *c = p;
    ref_attention_fwd(c->out, c->att, c->qkv, c->B, c->T, c->C, c->NH);
    return dotd(c->out, c->r, (size_t)c->B * c->T * c->C);
}

static void test_attention(void)
{
    struct at c = { .B = 2, .T = 5, .C = 12, .NH = 3 };
    size_t nq = (size_t)2 * 5 * 36, no = (size_t)2 * 5 * 12, na = (size_t)2 * 3 * 5 * 5;
    c.qkv = rnd(nq, 1); c.out = zeros(no); c.att = zeros(na); c.r = rnd(no, 1);
    at_obj(&c);
    for (int b = 0; b < 2; b++)   /* causal rows sum to one, zeros above the diagonal */
        for (int h = 0; h < 3; h++)
            for (int t = 0; t < 5; t++) {
                const float *a = c.att + (((size_t)b * 3 + h) * 5 + t) * 5;
                double s = 0;
                for (int t2 = 0; t2 < 5; t2++) {
                    s += a[t2];
                    if (t2 > t && a[t2] != 0.0f) {
                        fprintf(stderr, "attention: att above the diagonal is %g\n", a[t2]);
                        failures++;
                    }
                }
                if (fabs(s - 1.0) > 1e-5) {
                    fprintf(stderr, "attention: row sums to %g\n", s);
                    failures++;
                }
            }
    float *dq = zeros(nq), *scratch = zeros(na);
    ref_attention_bwd(dq, scratch, c.r, c.qkv, c.att, c.B, c.T, c.C, c.NH);
    check("attention dqkv", c.qkv, dq, nq, at_obj, &c);
    free(c.qkv); free(c.out); free(c.att); free(c.r); free(dq); free(scratch);
}

/* ---- gelu ---- */
struct ge { size_t n; float *inp, *out, *r; };

static double ge_obj(void *p)
{
    struct ge *c = p;
    ref_gelu_fwd(c->out, c->inp, c->n);
    return dotd(c->out, c->r, c->n);
}

static void test_gelu(void)
{
    struct ge c = { 64, rnd(64, 4), zeros(64), rnd(64, 1) };
    float *di = zeros(64);
    ref_gelu_bwd(di, c.inp, c.r, c.n);
    check("gelu dinp", c.inp, di, 64, ge_obj, &c);
    free(c.inp); free(c.out); free(c.r); free(di);
}

/* ---- softmax + cross-entropy ---- */
struct sx { int N, V, Vp; float *logits, *losses; int32_t *tg; };

static double sx_obj(void *p)
{
    struct sx *c = p;
    ref_softmax_xent(c->losses, NULL, NULL, c->logits, c->tg, c->N, c->V, c->Vp, 1.0f);
    double s = 0;
    for (int i = 0; i < c->N; i++)
        s += c->losses[i];
    return s;
}

static void test_xent(void)
{
    struct sx c = { 3, 50, 128, rnd(3 * 128, 3), zeros(3), NULL };
    int32_t tg[3] = { 0, 17, 49 };
    c.tg = tg;
    float *dl = rnd(3 * 128, 1);
    int correct[3];
    /* padded logits must not matter: make them huge */
    for (int n = 0; n < 3; n++)
        for (int v = 50; v < 128; v++)
            c.logits[n * 128 + v] = 1e4f;
    c.logits[1 * 128 + 17] = 50.0f;   /* row 1 predicts its target */
    ref_softmax_xent(c.losses, dl, correct, c.logits, c.tg, c.N, c.V, c.Vp, 1.0f);
    for (int n = 0; n < 3; n++)
        for (int v = 50; v < 128; v++)
            if (dl[n * 128 + v] != 0.0f) {
                fprintf(stderr, "xent: padded dlogit %d,%d = %g\n", n, v, dl[n * 128 + v]);
                failures++;
            }
    if (correct[1] != 1 || correct[0] != 0) {
        fprintf(stderr, "xent: correct = %d %d %d\n", correct[0], correct[1], correct[2]);
        failures++;
    }
    if (!(c.losses[1] < 1e-6f) || !isfinite(c.losses[0])) {
        fprintf(stderr, "xent: losses %g %g\n", c.losses[0], c.losses[1]);
        failures++;
    }
    for (int n = 0; n < 3; n++)   /* keep FD away from the padded columns */
        for (int v = 50; v < 128; v++)
            c.logits[n * 128 + v] = 0.0f;
    c.logits[1 * 128 + 17] = 2.0f;
    ref_softmax_xent(c.losses, dl, NULL, c.logits, c.tg, c.N, c.V, c.Vp, 1.0f);
    check("softmax_xent dlogits", c.logits, dl, 3 * 128, sx_obj, &c);
    /* uniform logits: loss is ln V */
    memset(c.logits, 0, sizeof(float) * 3 * 128);
    ref_softmax_xent(c.losses, NULL, NULL, c.logits, c.tg, c.N, c.V, c.Vp, 1.0f);
    if (fabs(c.losses[0] - log(50.0)) > 1e-5) {
        fprintf(stderr, "xent: uniform loss %g, want ln 50\n", c.losses[0]);
        failures++;
    }
    free(c.logits); free(c.losses); free(dl);
}

/* ---- encoder ---- */
struct en { int B, T, C; int32_t *tok; float *wte, *wpe, *out, *r; };

static double en_obj(void *p)
{
    struct en *c = p;
    ref_encoder_fwd(c->out, c->tok, c->wte, c->wpe, c->B, c->T, c->C);
    return dotd(c->out, c->r, (size_t)c->B * c->T * c->C);
}

static void test_encoder(void)
{
    int32_t tok[6] = { 1, 3, 1, 0, 3, 3 };
    struct en c = { 2, 3, 40, tok, rnd(5 * 40, 1), rnd(3 * 40, 1), zeros(240), rnd(240, 1) };
    float *dwte = zeros(200), *dwpe = zeros(120);
    ref_encoder_bwd(dwte, dwpe, c.r, c.tok, c.B, c.T, c.C);
    check("encoder dwte", c.wte, dwte, 200, en_obj, &c);
    check("encoder dwpe", c.wpe, dwpe, 120, en_obj, &c);
    free(c.wte); free(c.wpe); free(c.out); free(c.r); free(dwte); free(dwpe);
}

/* ---- AdamW and norms, against values worked out by hand ---- */
static void test_adamw(void)
{
    float p[2] = { 1.0f, -2.0f }, g[2] = { 0.5f, -0.25f }, m[2] = { 0 }, v[2] = { 0 };
    /* step 1: mhat = g, vhat = g^2, update = sign(g) (eps aside) + wd * p */
    ref_adamw(p, g, m, v, 2, 0.1f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, 1.0f);
    float want0 = 1.0f - 0.1f * (1.0f + 0.1f * 1.0f), want1 = -2.0f - 0.1f * (-1.0f + 0.1f * -2.0f);
    if (fabsf(p[0] - want0) > 1e-6f || fabsf(p[1] - want1) > 1e-6f) {
        fprintf(stderr, "adamw: got %g %g want %g %g\n", p[0], p[1], want0, want1);
        failures++;
    }
    if (fabsf(m[0] - 0.05f) > 1e-7f || fabsf(v[1] - 0.05f * 0.0625f) > 1e-8f) {
        fprintf(stderr, "adamw: moments %g %g\n", m[0], v[1]);
        failures++;
    }
    size_t n = 100003;
    float *big = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        big[i] = (i % 3) ? 1.0f : -2.0f;
    double want = 0;
    for (size_t i = 0; i < n; i++)
        want += (i % 3) ? 1.0 : 4.0;
    if (ref_sum_squares(big, n) != want) {
        fprintf(stderr, "sum_squares: %.17g want %.17g\n", ref_sum_squares(big, n), want);
        failures++;
    }
    free(big);
    if (ref_clip_factor(10.0, 1.0f) > 0.1f || ref_clip_factor(0.5, 1.0f) != 1.0f ||
        ref_clip_factor(1e9, 0.0f) != 1.0f) {
        fprintf(stderr, "clip_factor wrong\n");
        failures++;
    }
    uint16_t u[3] = { 0, 65535, 7 };
    int32_t w[3];
    ref_widen_u16(w, u, 3);
    if (w[1] != 65535 || w[2] != 7) {
        fprintf(stderr, "widen_u16 wrong\n");
        failures++;
    }
    printf("%-22s ok\n", "adamw/norm/widen");
}

int main(void)
{
    test_matmul();
    test_matmul_shapes();
    test_layernorm();
    test_attention();
    test_gelu();
    test_xent();
    test_encoder();
    test_adamw();
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
