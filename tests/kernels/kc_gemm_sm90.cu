/* kc_gemm_sm90: Ingot's own Hopper GEMM (kernels/gemm_sm90.h) against a
 * plain-C reference in double precision over the same bf16 inputs. Shapes
 * with partial tiles in M, N and K, padded leading dimensions, B in both
 * layouts, every epilogue (plain with and without bias, GELU with the
 * pre-activation kept, dGELU, the SwiGLU forward and backward), more tiles
 * than SMs (the persistent loop and
 * the stage ring across tiles). Per case: C (and for GELU aux) within
 * 1e-2 + 1e-2 |ref| of the reference, the padding columns of C untouched,
 * and a second run bit-identical (deterministic). Large cases compare a
 * sample of the rows (every row's dot products are independent).
 *
 *   kc_gemm_sm90            checks; exit 0, 1 on a mismatch, 77 without a
 *                           GPU running the sm_90a code
 *   kc_gemm_sm90 --bench    also TFLOP/s against cuBLASLt (kernels/matmul.h)
 *                           at GPT-2's MLP shapes, in the same process */
#include <errno.h>

#include "gemm_sm90.h"
#include "kc_standalone.h"
#include "kn_arch.h"
#include "matmul.h"

struct gcase {
    int M, N, K, b_kmajor, epi, bias, pad, row_step;
    int alias; /* dGELU with C = aux (read and written in place) */
};

/* rows past M allocated and poisoned: they must stay so */
enum { GUARD_ROWS = 16 };

static const struct gcase gcases[] = {
    {128, 256, 64, 1, KN_G9_PLAIN, 0, 0, 1, 0},     /* one whole tile */
    {300, 520, 200, 1, KN_G9_PLAIN, 1, 0, 1, 0},    /* partial tiles in M, N and K */
    {300, 520, 200, 0, KN_G9_PLAIN, 0, 16, 1, 0},   /* B [K, N]; padded lds */
    {1000, 776, 136, 1, KN_G9_GELU, 1, 8, 1, 0},    /* GELU + bias, padded */
    {1000, 776, 136, 0, KN_G9_DGELU, 0, 0, 1, 0},   /* dGELU */
    {2048, 3072, 768, 1, KN_G9_GELU, 1, 0, 7, 0},   /* GPT-2 124M's fc: 192 tiles */
    {2048, 3072, 768, 0, KN_G9_DGELU, 0, 0, 7, 0},  /* its input gradient */
    {4100, 2048, 128, 0, KN_G9_PLAIN, 1, 0, 5, 0},  /* 264 tiles, 2 stages each */
    {1, 768, 64, 1, KN_G9_GELU, 1, 0, 1, 0},        /* one row (decoding's shape) */
    {100, 64, 56, 0, KN_G9_PLAIN, 1, 8, 1, 0},      /* N, K below one tile, B [K, N] */
    {7, 8, 8, 1, KN_G9_PLAIN, 0, 0, 1, 0},          /* the smallest shape taken */
    {300, 520, 200, 0, KN_G9_DGELU, 0, 8, 1, 1},    /* dGELU in place, padded */
    /* k-blocks per tile (1, 3, 5) that do not divide the stage rings (3 and
     * 4 stages): tiles start mid-ring, the previous fill of a stage belongs
     * to another tile (the ping-pong kernel's order barrier) */
    {4100, 2048, 64, 0, KN_G9_PLAIN, 1, 0, 5, 0},
    {2048, 3072, 136, 1, KN_G9_GELU, 1, 0, 7, 0},
    {2048, 3072, 320, 0, KN_G9_DGELU, 0, 0, 7, 0},
    /* 768 tiles: ~6 per block (clusters of 2 too), so dGELU's staging
     * tiles and their pre-activation barriers go round several phases, and
     * the consumers' short main loops run ahead into a wait on them */
    {8192, 3072, 64, 0, KN_G9_DGELU, 0, 0, 31, 0},
};

static const char *epi_name(int e)
{
    return e == KN_G9_GELU ? "gelu" : e == KN_G9_DGELU ? "dgelu" : "plain";
}

static double gelu_d(double x)
{
    return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

static double gelu_grad_d(double x)
{
    const double k = 0.7978845608028654, c = 0.044715;
    const double th = tanh(k * (x + c * x * x * x));
    return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * k * (1.0 + 3.0 * c * x * x);
}

static int check_case(const struct gcase *g)
{
    const int M = g->M, N = g->N, K = g->K;
    const long long lda = K + g->pad, ldb = (g->b_kmajor ? K : N) + g->pad, ldc = N + g->pad;
    const size_t na = (size_t)M * lda, nb = (size_t)(g->b_kmajor ? N : K) * ldb,
                 nc = (size_t)M * ldc;
    float *a = (float *)malloc(na * 4), *b = (float *)malloc(nb * 4), *bias = (float *)malloc(N * 4);
    float *aux = (float *)malloc(nc * 4), *refc = (float *)malloc(nc * 4),
          *refaux = (float *)malloc(nc * 4);
    uint16_t *ha = (uint16_t *)malloc(na * 2), *hb = (uint16_t *)malloc(nb * 2),
             *hbias = (uint16_t *)malloc(N * 2), *haux = (uint16_t *)malloc(nc * 2),
             *h1 = (uint16_t *)malloc(nc * 2), *h2 = (uint16_t *)malloc(nc * 2),
             *hx = (uint16_t *)malloc(nc * 2);
    if (!a || !b || !bias || !aux || !refc || !refaux || !ha || !hb || !hbias || !haux || !h1 ||
        !h2 || !hx) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)M << 32) ^ ((uint64_t)N << 12) ^ (uint64_t)K;
    fill(a, ha, na);
    /* B scaled by 1/sqrt(K) (as initialised weights) so that sums are O(1):
     * the GELU's curved part is exercised */
    const float bs = 2.0f / sqrtf((float)K);
    for (size_t i = 0; i < nb; i++) {
        hb[i] = to_bf16(urand() * bs);
        b[i] = from_bf16(hb[i]);
    }
    fill(bias, hbias, N);
    for (size_t i = 0; i < nc; i++) { /* dGELU's pre-activation in [-3, 3) */
        haux[i] = to_bf16(3.0f * urand());
        aux[i] = from_bf16(haux[i]);
    }
    const size_t ng = (size_t)GUARD_ROWS * ldc, nalloc = nc + ng;
    uint16_t *hg = (uint16_t *)kc_xmalloc(ng * 2);
    void *da = dcopy(ha, na), *db = dcopy(hb, nb), *dbias = dcopy(hbias, N), *dc = NULL,
         *daux = NULL;
    CK(cudaMalloc(&dc, nalloc * 2));
    CK(cudaMalloc(&daux, nalloc * 2));
    void *paux = g->alias ? dc : daux;
    /* dGELU: the partial column sums too (kn_g9.colsum), both runs */
    const int R = (M + 15) / 16;
    float *dcs = NULL, *hcs = NULL;
    if (g->epi == KN_G9_DGELU) {
        CK(cudaMalloc(&dcs, (size_t)R * N * 4));
        hcs = (float *)kc_xmalloc((size_t)R * N * 4);
    }
    int bad = 0;
    size_t guard_hit = 0;
    for (int run = 0; run < 2; run++) {
        /* poison (bf16 NaN) everywhere: padding and guard rows must stay so */
        CK(cudaMemset(dc, 0xFF, nalloc * 2));
        CK(cudaMemset(daux, 0xFF, nalloc * 2));
        if (g->epi == KN_G9_DGELU)
            CK(cudaMemcpy(paux, haux, nc * 2, cudaMemcpyHostToDevice));
        kn_g9 p = {M,  N,   K,  da, lda, db, ldb, g->b_kmajor, dc, ldc, g->bias ? dbias : NULL,
                   paux, ldc, (kn_g9_epi)g->epi, NULL, NULL};
        if (dcs) {
            CK(cudaMemset(dcs, 0xFF, (size_t)R * N * 4)); /* NaN: every row must be written */
            p.colsum = dcs;
        }
        CHECK_OK(kn_gemm_sm90(&p, 0));
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(run ? h2 : h1, dc, nc * 2, cudaMemcpyDeviceToHost));
        if (g->epi == KN_G9_GELU)
            CK(cudaMemcpy(hx, daux, nc * 2, cudaMemcpyDeviceToHost));
        for (int t = 0; t < (g->epi == KN_G9_GELU ? 2 : 1); t++) {
            CK(cudaMemcpy(hg, (uint16_t *)(t ? daux : dc) + nc, ng * 2, cudaMemcpyDeviceToHost));
            for (size_t i = 0; i < ng; i++)
                guard_hit += hg[i] != 0xFFFF;
        }
    }
    free(hg);
    /* the column sums of the second run against sums (double) of the bf16
     * values it stored: each of 16 floats, so within float rounding */
    size_t cs_bad = 0;
    if (dcs) {
        CK(cudaMemcpy(hcs, dcs, (size_t)R * N * 4, cudaMemcpyDeviceToHost));
        for (int r = 0; r < R; r++)
            for (int n = 0; n < N; n++) {
                double e = 0.0, mag = 0.0;
                for (int m = 16 * r; m < M && m < 16 * r + 16; m++) {
                    const double v = from_bf16(h2[(size_t)m * ldc + n]);
                    e += v;
                    mag += fabs(v);
                }
                const double d = hcs[(size_t)r * N + n];
                if (!(fabs(d - e) <= 2e-6 * mag + 1e-30)) {
                    if (!cs_bad)
                        fprintf(stderr, "  colsum row %d col %d: gpu %g expected %g\n", r, n, d,
                                e);
                    cs_bad++;
                }
            }
        cudaFree(dcs);
        free(hcs);
    }
    /* the reference on the sampled rows; the rest compare as equal */
    size_t nrows = 0;
    for (int m = 0; m < M; m += g->row_step) {
        for (int n = 0; n < N; n++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                const double bv = g->b_kmajor ? b[(size_t)n * ldb + k] : b[(size_t)k * ldb + n];
                acc += (double)a[(size_t)m * lda + k] * bv;
            }
            if (g->bias)
                acc += bias[n];
            const size_t o = nrows * N + n;
            refaux[o] = (float)acc;
            refc[o] = (float)(g->epi == KN_G9_GELU    ? gelu_d(acc)
                              : g->epi == KN_G9_DGELU ? acc * gelu_grad_d(aux[(size_t)m * ldc + n])
                                                      : acc);
            /* the device's rows packed the same way */
            h1[nrows * N + n] = h1[(size_t)m * ldc + n];
            if (g->epi == KN_G9_GELU)
                hx[nrows * N + n] = hx[(size_t)m * ldc + n];
        }
        nrows++;
    }
    size_t at = 0;
    double w = worst_host(h1, refc, nrows * N, 1e-2, 1e-2, &at);
    double wx = 0.0;
    size_t atx = 0;
    if (g->epi == KN_G9_GELU)
        wx = worst_host(hx, refaux, nrows * N, 1e-2, 1e-2, &atx);
    /* padding untouched (still the 0xFFFF poison; in place: still the
     * pre-activation's padding) and run 2 == run 1 on the sampled rows (h1
     * was compacted in place: compare against h2 in the same packing) */
    size_t pad_hit = guard_hit, differ = 0, r = 0;
    for (int m = 0; m < M; m++)
        for (long long n = N; n < ldc; n++)
            pad_hit += h2[(size_t)m * ldc + n] != (g->alias ? haux[(size_t)m * ldc + n] : 0xFFFF);
    for (int m = 0; m < M; m += g->row_step, r++)
        for (int n = 0; n < N; n++)
            differ += h1[r * N + n] != h2[(size_t)m * ldc + n];
    char what[96];
    snprintf(what, sizeof what, "%dx%dx%d B %s %s%s%s%s", M, N, K,
             g->b_kmajor ? "[N,K]" : "[K,N]", epi_name(g->epi), g->bias ? "+bias" : "",
             g->pad ? " padded" : "", g->alias ? " in place" : "");
    int ok = w <= 1.0 && wx <= 1.0 && !pad_hit && !differ && !cs_bad;
    printf("%-4s %-44s err %.3f%s%s pad/guard %zu differ %zu (rows %zu)\n", ok ? "ok" : "FAIL", what,
           w, g->epi == KN_G9_GELU ? (wx <= 1.0 ? " aux ok" : " aux BAD") : "",
           g->epi == KN_G9_DGELU ? (cs_bad ? " colsum BAD" : " colsum ok") : "", pad_hit, differ,
           nrows);
    if (!ok) {
        bad++;
        if (w > 1.0)
            fprintf(stderr, "  C worst at row %zu col %zu: gpu %g ref %g\n", at / N, at % N,
                    from_bf16(h1[at]), refc[at]);
        if (wx > 1.0)
            fprintf(stderr, "  aux worst at row %zu col %zu: gpu %g ref %g\n", atx / N, atx % N,
                    from_bf16(hx[atx]), refaux[atx]);
    }
    cudaFree(da);
    cudaFree(db);
    cudaFree(dbias);
    cudaFree(dc);
    cudaFree(daux);
    free(a), free(b), free(bias), free(aux), free(refc), free(refaux);
    free(ha), free(hb), free(hbias), free(haux), free(h1), free(h2), free(hx);
    return bad;
}

/* ------------------------------------------------------------ SwiGLU */

/* The SwiGLU pair (gemm_sm90.h) on one shape, F output columns:
 * forward  A [M, K] . B [2F, K]^T -> aux [M, 2F] = gate | up (bf16),
 *          C [M, F] = silu(g) u of the bf16 values;
 * backward A [M, K] . B2 [K, F] = dh (bf16) -> C [M, 2F] = the SwiGLU
 *          gradients at a random gate | up.
 * Against double precision on every row_step-th row; `pad` columns past
 * each output row and GUARD_ROWS rows past M untouched; a second run
 * bit-identical. */
struct swcase {
    int M, F, K, row_step, pad;
};

static const struct swcase swcases[] = {
    {300, 200, 136, 1, 0},  /* partial tiles: M, K, and F (1.5 forward / 0.8 backward tiles) */
    {2048, 1408, 256, 7, 0}, /* 176 forward, 96 backward tiles */
    {7, 8, 8, 1, 0},        /* the smallest shape taken */
    {130, 264, 64, 1, 24},  /* padded leading dimensions: up is N, not ld / 2, apart */
    /* 704 forward, 352 backward tiles: several tiles per block, so every
     * staging tile and its barriers go round several times */
    {4096, 2816, 128, 13, 0},
};

static double sigmoid_d(double g)
{
    return 1.0 / (1.0 + exp(-g));
}

/* One output of check_swiglu: [M, cols] with ld, GUARD_ROWS rows after. */
struct swout {
    size_t cols, ld;
    void *dev;
    uint16_t *run[2];
};

static void swout_init(struct swout *o, int M, size_t cols, size_t ld)
{
    const size_t n = ((size_t)M + GUARD_ROWS) * ld;
    o->cols = cols;
    o->ld = ld;
    o->run[0] = (uint16_t *)kc_xmalloc(n * 2);
    o->run[1] = (uint16_t *)kc_xmalloc(n * 2);
    CK(cudaMalloc(&o->dev, n * 2));
}

/* Poison (bf16 NaN) before a run; keep run r after it. */
static void swout_poison(struct swout *o, int M)
{
    CK(cudaMemset(o->dev, 0xFF, ((size_t)M + GUARD_ROWS) * o->ld * 2));
}

static void swout_keep(struct swout *o, int M, int r)
{
    CK(cudaMemcpy(o->run[r], o->dev, ((size_t)M + GUARD_ROWS) * o->ld * 2,
                  cudaMemcpyDeviceToHost));
}

/* Padding and guard rows still poisoned in both runs, run 1 == run 2 on
 * the outputs; then the sampled rows of run 1 packed to [nrows, cols] for
 * the comparison. Returns the count of bad padding / guard elements. */
static size_t swout_settle(struct swout *o, int M, int row_step, size_t *differ)
{
    size_t bad = 0;
    for (int r = 0; r < 2; r++)
        for (size_t row = 0; row < (size_t)M + GUARD_ROWS; row++)
            for (size_t c = row < (size_t)M ? o->cols : 0; c < o->ld; c++)
                bad += o->run[r][row * o->ld + c] != 0xFFFF;
    for (int m = 0; m < M; m++)
        *differ += memcmp(o->run[0] + (size_t)m * o->ld, o->run[1] + (size_t)m * o->ld,
                          o->cols * 2) != 0;
    size_t k = 0;
    for (int m = 0; m < M; m += row_step, k++)
        memmove(o->run[0] + k * o->cols, o->run[0] + (size_t)m * o->ld, o->cols * 2);
    return bad;
}

static void swout_free(struct swout *o)
{
    cudaFree(o->dev);
    free(o->run[0]);
    free(o->run[1]);
}

static int check_swiglu(const struct swcase *sw)
{
    const int M = sw->M, F = sw->F, K = sw->K;
    const size_t F2 = (size_t)2 * F, ld2 = F2 + sw->pad;
    const size_t na = (size_t)M * K, nb = F2 * K, ngu = (size_t)M * ld2;
    float *a = (float *)malloc(na * 4), *b = (float *)malloc(nb * 4), *gu = (float *)malloc(ngu * 4);
    float *r_gu = (float *)malloc((size_t)M * F2 * 4), *r_h = (float *)malloc((size_t)M * F * 4),
          *r_dgu = (float *)malloc((size_t)M * F2 * 4);
    uint16_t *ha = (uint16_t *)malloc(na * 2), *hb = (uint16_t *)malloc(nb * 2),
             *hgu = (uint16_t *)malloc(ngu * 2);
    if (!a || !b || !gu || !r_gu || !r_h || !r_dgu || !ha || !hb || !hgu) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    rng = 0x5DEECE66Dull ^ ((uint64_t)M << 32) ^ ((uint64_t)F << 12) ^ (uint64_t)K;
    fill(a, ha, na);
    const float bs = 2.0f / sqrtf((float)K); /* sums of O(1): silu's curved part */
    for (size_t i = 0; i < nb; i++) {
        hb[i] = to_bf16(urand() * bs);
        b[i] = from_bf16(hb[i]);
    }
    for (size_t i = 0; i < ngu; i++) { /* the backward's gate | up (padding included) */
        hgu[i] = to_bf16(4.0f * urand());
        gu[i] = from_bf16(hgu[i]);
    }
    void *da = dcopy(ha, na), *db = dcopy(hb, nb), *dgu = dcopy(hgu, ngu);
    struct swout o_aux, o_h, o_dgu; /* gate|up and h of the forward, dgate|dup */
    swout_init(&o_aux, M, F2, ld2);
    swout_init(&o_h, M, (size_t)F, (size_t)F + sw->pad);
    swout_init(&o_dgu, M, F2, ld2);
    for (int run = 0; run < 2; run++) {
        swout_poison(&o_aux, M), swout_poison(&o_h, M), swout_poison(&o_dgu, M);
        /* forward: B [2F, K]; backward: the first F x K of the same values as [K, F] */
        kn_g9 f = {M,   F,         K, da, K, db, K, 1, o_h.dev, (long long)o_h.ld, NULL,
                   o_aux.dev, (long long)ld2, KN_G9_SWIGLU, NULL, NULL};
        kn_g9 g = {M,   F,   K, da, K, db, F, 0, o_dgu.dev, (long long)ld2, NULL,
                   dgu, (long long)ld2, KN_G9_DSWIGLU, NULL, NULL};
        CHECK_OK(kn_gemm_sm90(&f, 0));
        CHECK_OK(kn_gemm_sm90(&g, 0));
        CK(cudaDeviceSynchronize());
        swout_keep(&o_aux, M, run), swout_keep(&o_h, M, run), swout_keep(&o_dgu, M, run);
    }
    size_t nrows = 0;
    for (int m = 0; m < M; m += sw->row_step, nrows++)
        for (int f = 0; f < F; f++) {
            double ag = 0, au = 0, ad = 0;
            for (int k = 0; k < K; k++) {
                const double x = a[(size_t)m * K + k];
                ag += x * b[(size_t)f * K + k];
                au += x * b[(size_t)(F + f) * K + k];
                ad += x * b[(size_t)k * F + f];
            }
            const double g = kc_round_bf16(ag), u = kc_round_bf16(au), s = sigmoid_d(g);
            const size_t r2 = nrows * F2, m2 = (size_t)m * ld2;
            r_gu[r2 + f] = (float)ag;
            r_gu[r2 + F + f] = (float)au;
            r_h[nrows * F + f] = (float)(g * s * u);
            const double dh = kc_round_bf16(ad), gi = gu[m2 + f], ui = gu[m2 + F + f], si = sigmoid_d(gi);
            r_dgu[r2 + f] = (float)(dh * ui * si * (1.0 + gi * (1.0 - si)));
            r_dgu[r2 + F + f] = (float)(dh * gi * si);
        }
    size_t differ = 0, guard = swout_settle(&o_aux, M, sw->row_step, &differ) +
                               swout_settle(&o_h, M, sw->row_step, &differ) +
                               swout_settle(&o_dgu, M, sw->row_step, &differ);
    size_t at[3] = {0, 0, 0};
    const double w[3] = {worst_host(o_aux.run[0], r_gu, nrows * F2, 1e-2, 1e-2, &at[0]),
                         worst_host(o_h.run[0], r_h, nrows * F, 1e-2, 1e-2, &at[1]),
                         worst_host(o_dgu.run[0], r_dgu, nrows * F2, 1e-2, 1e-2, &at[2])};
    const int ok = w[0] <= 1.0 && w[1] <= 1.0 && w[2] <= 1.0 && !guard && !differ;
    printf("%-4s %dx%dx%d%s swiglu fwd gate|up err %.3f h err %.3f, bwd err %.3f; pad/guard "
           "%zu differ %zu (rows %zu)\n",
           ok ? "ok" : "FAIL", M, F, K, sw->pad ? " padded" : "", w[0], w[1], w[2], guard,
           differ, nrows);
    cudaFree(da), cudaFree(db), cudaFree(dgu);
    swout_free(&o_aux), swout_free(&o_h), swout_free(&o_dgu);
    free(a), free(b), free(gu), free(r_gu), free(r_h), free(r_dgu), free(ha), free(hb), free(hgu);
    return !ok;
}

/* Shapes and layouts refused (-ENOTSUP, nothing launched): the SwiGLU
 * pair's, the column sums'. */
static int check_swiglu_refusals(void)
{
    void *p = (void *)256; /* never dereferenced: refused before any launch */
    const kn_g9 bad[] = {
        /* the SwiGLU pair: no bias; B [2N, K] forward, [K, N] backward;
         * ldaux and the backward's ldc at least 2N */
        {64, 64, 64, p, 64, p, 64, 1, p, 64, p, p, 128, KN_G9_SWIGLU, NULL, NULL},
        {64, 64, 64, p, 64, p, 64, 0, p, 64, NULL, p, 128, KN_G9_SWIGLU, NULL, NULL},
        {64, 64, 64, p, 64, p, 64, 1, p, 64, NULL, p, 64, KN_G9_SWIGLU, NULL, NULL},
        {64, 64, 64, p, 64, p, 64, 1, p, 128, NULL, p, 128, KN_G9_DSWIGLU, NULL, NULL},
        {64, 64, 64, p, 64, p, 64, 0, p, 64, NULL, p, 128, KN_G9_DSWIGLU, NULL, NULL},
        {64, 64, 64, p, 64, p, 64, 0, p, 128, NULL, p, 64, KN_G9_DSWIGLU, NULL, NULL},
        /* column sums: dGELU only, 16-byte aligned */
        {64, 64, 64, p, 64, p, 64, 0, p, 64, NULL, NULL, 0, KN_G9_PLAIN, (float *)p, NULL},
        {64, 64, 64, p, 64, p, 64, 0, p, 64, NULL, p, 64, KN_G9_DGELU,
         (float *)((char *)p + 4), NULL},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kn_gemm_sm90_supports(&bad[i]) || kn_gemm_sm90(&bad[i], 0) != -ENOTSUP) {
            printf("FAIL refusal case %zu was taken\n", i);
            n++;
        }
    return n;
}

/* -------------------------------------------------------------- bench */

/* One product of a GPT-2 layer: C [M, N] = A [M, K] . op(B); b_kmajor 1:
 * a forward (inp @ w^T, matmul's kn_matmul_fwd with OC = N, IC = K), 0: an
 * input gradient (dout @ w, kn_matmul_bwd_inp with IC = N, OC = K). */
struct bprod {
    const char *name;
    int nmul, kmul, b_kmajor, epi, bias; /* N = nmul C, K = kmul C */
};

static const struct bprod bprods[] = {
    {"fc fwd +bias +GELU", 4, 1, 1, KN_G9_GELU, 1},
    {"fc fwd +bias (plain)", 4, 1, 1, KN_G9_PLAIN, 1},
    {"fcproj dinp +dGELU", 4, 1, 0, KN_G9_DGELU, 0},
    {"fcproj dinp (plain)", 4, 1, 0, KN_G9_PLAIN, 0},
    {"qkv fwd +bias", 3, 1, 1, KN_G9_PLAIN, 1},
    {"fcproj fwd +bias", 1, 4, 1, KN_G9_PLAIN, 1},
    {"fc dinp", 1, 4, 0, KN_G9_PLAIN, 0},
};

struct bargs {
    kn_blas *blas;
    int M, N, K, own;
    const struct bprod *pr;
    void *a, *b, *bias, *c, *aux;
};

static void bench_one(void *arg)
{
    const struct bargs *x = (const struct bargs *)arg;
    const struct bprod *pr = x->pr;
    if (x->own) {
        kn_g9 g = {x->M, x->N, x->K, x->a, x->K, x->b, pr->b_kmajor ? x->K : x->N, pr->b_kmajor,
                   x->c, x->N, pr->bias ? x->bias : NULL, x->aux, x->N, (kn_g9_epi)pr->epi,
                   NULL, NULL};
        CHECK_OK(kn_gemm_sm90(&g, 0));
    } else if (pr->b_kmajor) {
        CHECK_OK(kn_matmul_fwd(x->blas, x->c, pr->epi == KN_G9_GELU ? x->aux : NULL, x->a, x->b,
                         pr->bias ? x->bias : NULL, x->M, x->K, x->N, KN_BF16, 0));
    } else { /* matmul.cu's default for the dGELU: epilogue or plain GEMM + pass */
        CHECK_OK(kn_matmul_bwd_inp(x->blas, x->c, x->a, x->b, pr->epi == KN_G9_DGELU ? x->aux : NULL,
                             x->M, x->N, x->K, 0, KN_BF16, 0));
    }
}

static void run_bench_swiglu(kn_blas *blas);

/* One row of the bench's table: own GEMM to ms against cuBLASLt's tr ms
 * for a product of gflop GFLOP (TFLOP/s = GFLOP / ms). */
static void bench_row(const char *model, const char *product, double to, double tr,
                      double gflop)
{
    printf("%-9s %-22s %8.3f %8.1f %8.1f %7.3fx\n", model, product, to, gflop / to, gflop / tr,
           tr / to);
}

/* GPT-2's dGELU product with fc's bias gradient (kn_matmul_bwd_inp_dgelu_bias)
 * on five routes: own GEMM (-1: where matmul.cu routes it; 1: always) with
 * the bias summed by the product (fuse 1) or by the bias kernel's pass over
 * the output (fuse 0: the route before the fold), and cuBLASLt (own 0:
 * always the pass). */
struct dbb {
    kn_blas *blas;
    int M, C;
    void *a, *b, *c, *aux, *scratch;
    float *dbias;
    size_t sb;
};

static void bench_dbias_one(void *arg)
{
    const struct dbb *x = (const struct dbb *)arg;
    CHECK_OK(kn_matmul_bwd_inp_dgelu_bias(x->blas, x->c, x->dbias, x->a, x->b, x->aux, x->M,
                                          4 * x->C, x->C, KN_BF16, x->scratch, x->sb, 0));
}

static void run_bench_dbias(kn_blas *blas, int M, int C, const char *name, void *a, void *b,
                            void *c, void *aux)
{
    struct dbb x = {blas, M, C, a, b, c, aux, NULL, NULL, 0};
    x.sb = kn_matmul_bwd_inp_dgelu_bias_scratch_bytes(M, 4 * C);
    CK(cudaMalloc(&x.scratch, x.sb));
    CK(cudaMalloc((void **)&x.dbias, (size_t)4 * C * 4));
    CK(cudaMemset(x.dbias, 0, (size_t)4 * C * 4));
    static const int own[3] = {-1, 1, 0};
    double ms[3][2];
    for (int o = 0; o < 3; o++)
        for (int f = 0; f < (own[o] ? 2 : 1); f++) {
            kn_blas_set_own_gemm(blas, own[o]);
            kn_blas_set_fuse_dbias(blas, f);
            ms[o][f] = kc_median_ms(bench_dbias_one, &x, 10);
        }
    kn_blas_set_own_gemm(blas, 0);
    kn_blas_set_fuse_dbias(blas, 1);
    printf("%-9s dGELU+dbias ms (fused / pass): default %.3f / %.3f  own %.3f / %.3f  "
           "cuBLASLt (pass) %.3f\n",
           name, ms[0][1], ms[0][0], ms[1][1], ms[1][0], ms[2][0]);
    cudaFree(x.scratch), cudaFree(x.dbias);
}

/* n bf16 values in [-0.05, 0.05) on the host: every operand of a bench
 * product is a prefix of them. */
static uint16_t *bench_values(size_t n)
{
    uint16_t *h = (uint16_t *)kc_xmalloc(n * 2);
    for (size_t k = 0; k < n; k++)
        h[k] = to_bf16(urand() * 0.05f);
    return h;
}

static void run_bench(void)
{
    static const struct {
        const char *name;
        int M, C;
    } bs[] = {{"124M b64", 65536, 768}, {"350M b32", 32768, 1024},
              {"774M b16", 16384, 1280}, {"1.5B b8", 8192, 1600}};
    kn_blas *blas = NULL;
    CHECK_OK(kn_blas_create(&blas, 0));
    kn_blas_set_own_gemm(blas, 0); /* its products are the reference */
    printf("\n%-9s %-22s %8s %8s %8s %8s\n", "model", "product", "own ms", "own TF/s",
           "cuBLAS", "ratio");
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++) {
        const int M = bs[i].M, C = bs[i].C;
        const size_t big = (size_t)M * 4 * C, nw = (size_t)16 * C * C;
        uint16_t *h = bench_values(big);
        struct bargs x;
        memset(&x, 0, sizeof x);
        x.blas = blas;
        x.M = M;
        x.a = dcopy(h, big);
        x.b = dcopy(h, nw);
        x.bias = dcopy(h, 4 * C);
        x.aux = dcopy(h, big);
        CK(cudaMalloc(&x.c, big * 2));
        for (size_t k = 0; k < sizeof bprods / sizeof bprods[0]; k++) {
            x.pr = &bprods[k];
            x.N = bprods[k].nmul * C;
            x.K = bprods[k].kmul * C;
            const double fl = 2.0 * M * x.N * x.K * 1e-9;
            x.own = 1;
            double to = kc_median_ms(bench_one, &x, 10);
            x.own = 0;
            double tr = kc_median_ms(bench_one, &x, 10);
            bench_row(bs[i].name, bprods[k].name, to, tr, fl);
        }
        run_bench_dbias(blas, M, C, bs[i].name, x.a, x.b, x.c, x.aux);
        cudaFree(x.a), cudaFree(x.b), cudaFree(x.bias), cudaFree(x.aux), cudaFree(x.c);
        free(h);
    }
    run_bench_swiglu(blas);
    kn_blas_free(blas);
}

/* LLaMA's MLP at TinyLlama's shape (M 16384 = 8 x 2048 tokens, C 2048, F
 * 5632): the SwiGLU products fused on the own GEMM against cuBLASLt's
 * product plus kernels/swiglu.cu's pass (matmul.h, own GEMM off). */
struct swb {
    kn_blas *blas;
    int M, C, F, bwd;
    void *x, *w, *h, *gu, *dgu;
};

static void bench_swiglu_one(void *arg)
{
    const struct swb *b = (const struct swb *)arg;
    if (!b->bwd)
        CHECK_OK(kn_matmul_fwd_swiglu(b->blas, b->h, b->gu, b->x, b->w, b->M, b->C, b->F,
                                      KN_BF16, 0));
    else
        CHECK_OK(kn_matmul_bwd_inp_swiglu(b->blas, b->dgu, b->h, b->x, b->w, b->gu, b->M, b->F,
                                          b->C, KN_BF16, 0));
}

static void run_bench_swiglu(kn_blas *blas)
{
    struct swb b = {blas, 16384, 2048, 5632, 0, NULL, NULL, NULL, NULL, NULL};
    const size_t big = (size_t)b.M * 2 * b.F, nw = (size_t)2 * b.F * b.C;
    uint16_t *h = bench_values(big);
    b.x = dcopy(h, (size_t)b.M * b.C);
    b.w = dcopy(h, nw);
    b.gu = dcopy(h, big);
    CK(cudaMalloc(&b.h, big)); /* [M, F] bf16 */
    CK(cudaMalloc(&b.dgu, big * 2));
    const double fl = 2.0 * b.M * b.C * 2.0 * b.F * 1e-9 / 2; /* per direction: M x C x 2F / 2 */
    for (b.bwd = 0; b.bwd < 2; b.bwd++) {
        kn_blas_set_own_gemm(blas, 1);
        const double to = kc_median_ms(bench_swiglu_one, &b, 10);
        kn_blas_set_own_gemm(blas, 0);
        const double tr = kc_median_ms(bench_swiglu_one, &b, 10);
        const double f = b.bwd ? fl : 2 * fl; /* forward: 2F outputs; backward: F */
        bench_row("llama-1b", b.bwd ? "down dinp +dSwiGLU" : "gateup fwd +SwiGLU", to, tr, f);
    }
    /* the same backward product without the SwiGLU: what the main loop
     * alone reaches (the ping-pong kernel's with INGOT_G9_PINGPONG=1). It
     * runs in clusters of one and the dSwiGLU row in clusters of two,
     * unless INGOT_G9_CLUSTER sets both (gemm_sm90.cu, g9_cluster) */
    static const struct bprod plain = {"down dinp (plain)", 0, 0, 0, KN_G9_PLAIN, 0};
    struct bargs x = {blas, b.M, b.F, b.C, 1, &plain, b.x, b.w, NULL, b.dgu, NULL};
    const double to = kc_median_ms(bench_one, &x, 10);
    x.own = 0;
    const double tr = kc_median_ms(bench_one, &x, 10);
    bench_row("llama-1b", plain.name, to, tr, fl);
    cudaFree(b.x), cudaFree(b.w), cudaFree(b.gu), cudaFree(b.h), cudaFree(b.dgu);
    free(h);
}

int main(int argc, char **argv)
{
    int bench = argc > 1 && !strcmp(argv[1], "--bench");
    if (kc_no_sm90("kc_gemm_sm90"))
        return TEST_SKIP;
    int bad = 0;
    for (size_t i = 0; i < sizeof gcases / sizeof gcases[0]; i++)
        bad += check_case(&gcases[i]);
    for (size_t i = 0; i < sizeof swcases / sizeof swcases[0]; i++)
        bad += check_swiglu(&swcases[i]);
    bad += check_swiglu_refusals();
    /* refused shapes: nothing launched, -ENOTSUP */
    kn_g9 odd = {64, 100, 64, (void *)256, 64, (void *)256, 64, 1, (void *)256, 100, NULL,
                 NULL, 0, KN_G9_PLAIN, NULL, NULL};
    if (kn_gemm_sm90_supports(&odd) || kn_gemm_sm90(&odd, 0) != -ENOTSUP) {
        printf("FAIL N = 100 (not a multiple of 8) should be refused with -ENOTSUP\n");
        bad++;
    }
    printf("%s: %d failure(s)\n", bad ? "FAIL" : "PASS", bad);
    if (bench)
        run_bench();
    return bad ? 1 : 0;
}
