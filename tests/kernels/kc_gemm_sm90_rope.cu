/* kc_gemm_sm90_rope: the own Hopper GEMM's RoPE epilogue (KN_G9_ROPE,
 * kernels/gemm_sm90.h: LLaMA's QKV product with q and k rotated) and its
 * wrapper kn_matmul_fwd_rope (kernels/matmul.h).
 * Per shape (heads of 16 to 256 channels, all, some or none of them
 * rotated, partial tiles in M, N and K, a bias, padded rows, positions
 * restarting every T rows; M a multiple of T, as the trainer's B T rows):
 *   - against a double-precision reference on every row_step-th row: the
 *     product (+ bias) rounded to bf16, as the unfused path stores it,
 *     then rotated with the same float table; within 1e-2 + 1e-2 |ref|;
 *   - bit for bit against the own GEMM's plain product of the same tiles
 *     followed by kn_rope_fwd in place (the unfused path's rotation,
 *     rope_math.cuh): the epilogue rotates exactly as the pass does;
 *   - padding columns and GUARD_ROWS rows past M untouched, a second run
 *     bit-identical;
 * then shapes and layouts the epilogue must refuse (-ENOTSUP), and
 * kn_matmul_fwd_rope both ways (own GEMM on and off) against the
 * reference at one shape.
 *
 *   kc_gemm_sm90_rope          checks; exit 0, 1 on a mismatch, 77 without
 *                              a GPU running the sm_90a code
 *   kc_gemm_sm90_rope --bench  also TinyLlama's QKV product (16384 x 2560 x
 *                              2048): fused against cuBLASLt + kn_rope_fwd
 *                              and against the own plain product */
#include <errno.h>

#include "gemm_sm90.h"
#include "kc_standalone.h"
#include "kn_arch.h"
#include "matmul.h"
#include "ref_llama.h"
#include "rope.h"

enum { GUARD_ROWS = 16 };

struct rcase {
    int M, T, K, hs, nrot, nall; /* N = nall heads of hs; the first nrot rotate */
    int bias, pad, row_step;
};

static const struct rcase rcases[] = {
    {300, 100, 200, 64, 6, 8, 0, 0, 1},    /* llama-60m-like heads; partial M and K tiles */
    {256, 128, 64, 128, 6, 8, 1, 0, 1},    /* hs 128, a bias */
    {130, 65, 72, 32, 8, 10, 0, 8, 1},     /* hs 32, padded rows, partial N tile */
    {64, 64, 64, 16, 6, 8, 0, 0, 1},       /* hs 16 (a lane's 8 channels: half a head) */
    {4096, 1024, 128, 64, 36, 40, 0, 0, 9}, /* TinyLlama's 2560 columns: 320 tiles */
    {256, 64, 64, 256, 2, 3, 0, 0, 1},     /* hs 256: a head is a whole tile */
    {128, 64, 64, 64, 4, 4, 1, 0, 1},      /* every column rotates */
    {128, 64, 64, 64, 0, 4, 0, 0, 1},      /* none does (the epilogue stores the product) */
};

/* The [T, hs/2, 2] table of theta 10000 (the reference's, ref_llama.h). */
static float *rope_table(int T, int hs)
{
    float *cs = (float *)kc_xmalloc((size_t)T * hs * 4);
    ref_rope_table(cs, T, hs, 10000.0);
    return cs;
}

/* The reference [nrows, N] of rows 0, row_step, ... */
static float *reference(const struct rcase *c, const float *a, const float *b, const float *bias,
                        const float *cs, size_t *nrows)
{
    const int N = c->nall * c->hs, K = c->K, half = c->hs / 2;
    size_t n = 0;
    for (int m = 0; m < c->M; m += c->row_step)
        n++;
    float *ref = (float *)kc_xmalloc(n * N * 4);
    double *row = (double *)kc_xmalloc((size_t)N * 8);
    n = 0;
    for (int m = 0; m < c->M; m += c->row_step, n++) {
        for (int j = 0; j < N; j++) {
            double acc = c->bias ? bias[j] : 0.0;
            for (int k = 0; k < K; k++)
                acc += (double)a[(size_t)m * K + k] * b[(size_t)j * K + k];
            row[j] = kc_round_bf16(acc);
        }
        const float *t = cs + (size_t)(m % c->T) * half * 2;
        for (int j = 0; j < N; j++) {
            const int h = j / c->hs, i = j % c->hs;
            double v = row[j];
            if (h < c->nrot) {
                const int f = i < half ? i : i - half;
                const double co = t[2 * f], si = t[2 * f + 1];
                const double x1 = row[h * c->hs + f], x2 = row[h * c->hs + f + half];
                v = i < half ? x1 * co - x2 * si : x2 * co + x1 * si;
            }
            ref[n * N + j] = (float)v;
        }
    }
    free(row);
    *nrows = n;
    return ref;
}

static int check_rope(const struct rcase *c)
{
    const int M = c->M, K = c->K, N = c->nall * c->hs;
    const long long ldc = N + c->pad;
    const size_t na = (size_t)M * K, nb = (size_t)N * K, nall = ((size_t)M + GUARD_ROWS) * ldc;
    float *a = (float *)kc_xmalloc(na * 4), *b = (float *)kc_xmalloc(nb * 4),
          *bias = (float *)kc_xmalloc((size_t)N * 4);
    uint16_t *ha = (uint16_t *)kc_xmalloc(na * 2), *hb = (uint16_t *)kc_xmalloc(nb * 2),
             *hbias = (uint16_t *)kc_xmalloc((size_t)N * 2);
    uint16_t *out[3];
    for (int i = 0; i < 3; i++)
        out[i] = (uint16_t *)kc_xmalloc(nall * 2);
    rng = 0xA24BAED4963EE407ull ^ ((uint64_t)M << 32) ^ ((uint64_t)N << 12) ^ (uint64_t)K;
    fill(a, ha, na);
    const float bs = 2.0f / sqrtf((float)K); /* sums of O(1) */
    for (size_t i = 0; i < nb; i++) {
        hb[i] = to_bf16(urand() * bs);
        b[i] = from_bf16(hb[i]);
    }
    fill(bias, hbias, N);
    float *cs = rope_table(c->T, c->hs);
    void *da = dcopy(ha, na), *db = dcopy(hb, nb), *dbias = dcopy(hbias, N), *dc = NULL;
    void *dcs = dev_floats(cs, (size_t)c->T * c->hs);
    CK(cudaMalloc(&dc, nall * 2));
    /* runs 0 and 1: the epilogue; run 2: the plain product, then the pass */
    for (int run = 0; run < 3; run++) {
        CK(cudaMemset(dc, 0xFF, nall * 2)); /* bf16 NaN: padding and guards must stay so */
        const kn_g9_rope r = {(const float *)dcs, c->T, c->hs, c->nrot * c->hs};
        kn_g9 g = {M,  N,  K,  da, K, db, K, 1, dc, ldc, c->bias ? dbias : NULL, NULL, 0,
                   KN_G9_ROPE, NULL, &r};
        if (run == 2) {
            g.epi = KN_G9_PLAIN;
            g.rope = NULL;
        }
        CHECK_OK(kn_gemm_sm90(&g, 0));
        if (run == 2 && c->nrot > 0)
            CHECK_OK(kn_rope_fwd(dc, dc, (const float *)dcs, M / c->T, c->T, c->nrot, c->hs,
                                 (int)ldc, KN_BF16, 0));
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(out[run], dc, nall * 2, cudaMemcpyDeviceToHost));
    }
    size_t guard = 0, differ = 0, unequal = 0;
    for (size_t r = 0; r < (size_t)M + GUARD_ROWS; r++)
        for (long long j = r < (size_t)M ? N : 0; j < ldc; j++)
            for (int run = 0; run < 2; run++)
                guard += out[run][r * ldc + j] != 0xFFFF;
    for (int m = 0; m < M; m++) {
        differ += memcmp(out[0] + (size_t)m * ldc, out[1] + (size_t)m * ldc, (size_t)N * 2) != 0;
        unequal += memcmp(out[0] + (size_t)m * ldc, out[2] + (size_t)m * ldc, (size_t)N * 2) != 0;
    }
    size_t nrows = 0, at = 0, k = 0;
    float *ref = reference(c, a, b, bias, cs, &nrows);
    for (int m = 0; m < M; m += c->row_step, k++)
        memmove(out[0] + k * N, out[0] + (size_t)m * ldc, (size_t)N * 2);
    const double w = worst_host(out[0], ref, nrows * N, 1e-2, 1e-2, &at);
    const int ok = w <= 1.0 && !guard && !differ && !unequal;
    printf("%-4s %dx%dx%d hs %d, %d of %d heads rotated, T %d%s%s: err %.3f; pad/guard %zu "
           "differ %zu, rows unlike plain + kn_rope_fwd %zu (rows %zu)\n",
           ok ? "ok" : "FAIL", M, N, K, c->hs, c->nrot, c->nall, c->T, c->bias ? " +bias" : "",
           c->pad ? " padded" : "", w, guard, differ, unequal, nrows);
    if (w > 1.0)
        fprintf(stderr, "  worst at row %zu col %zu: gpu %g ref %g\n", at / N * c->row_step,
                at % N, from_bf16(out[0][at]), ref[at]);
    cudaFree(da), cudaFree(db), cudaFree(dbias), cudaFree(dc), cudaFree(dcs);
    free(a), free(b), free(bias), free(ha), free(hb), free(hbias), free(cs), free(ref);
    for (int i = 0; i < 3; i++)
        free(out[i]);
    return !ok;
}

/* What the RoPE epilogue refuses (-ENOTSUP, nothing launched). */
static int check_refusals(void)
{
    void *p = (void *)256; /* never dereferenced: refused before any launch */
    const float *t = (const float *)p;
    struct {
        const char *what;
        int b_kmajor, hs, cols, T, epi;
        const float *rope;
    } bad[] = {
        {"B [K, N]", 0, 64, 128, 8, KN_G9_ROPE, t},
        {"hs 48 (not a power of two)", 1, 48, 96, 8, KN_G9_ROPE, t},
        {"hs 8 (below a lane's 16)", 1, 8, 64, 8, KN_G9_ROPE, t},
        {"hs 512 (wider than a tile)", 1, 512, 0, 8, KN_G9_ROPE, t},
        {"columns not whole heads", 1, 64, 96, 8, KN_G9_ROPE, t},
        {"columns past N", 1, 64, 320, 8, KN_G9_ROPE, t},
        {"T 0", 1, 64, 128, 0, KN_G9_ROPE, t},
        {"table not 16-byte aligned", 1, 64, 128, 8, KN_G9_ROPE, t + 1},
        {"a table with another epilogue", 1, 64, 128, 8, KN_G9_PLAIN, t},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const kn_g9_rope r = {bad[i].rope, bad[i].T, bad[i].hs, bad[i].cols};
        kn_g9 g = {64, 256, 64, p, 64, p, 64, bad[i].b_kmajor, p, 256, NULL, NULL, 0,
                   (kn_g9_epi)bad[i].epi, NULL, &r};
        if (!bad[i].b_kmajor)
            g.ldb = 256;
        if (kn_gemm_sm90_supports(&g) || kn_gemm_sm90(&g, 0) != -ENOTSUP) {
            printf("FAIL refusal: %s was taken\n", bad[i].what);
            n++;
        }
    }
    /* the rotation and its table are required (argument errors, not shape
     * refusals) */
    const kn_g9_rope nt = {NULL, 8, 64, 128};
    const kn_g9 g[2] = {
        {64, 256, 64, p, 64, p, 64, 1, p, 256, NULL, NULL, 0, KN_G9_ROPE, NULL, NULL},
        {64, 256, 64, p, 64, p, 64, 1, p, 256, NULL, NULL, 0, KN_G9_ROPE, NULL, &nt}};
    for (int i = 0; i < 2; i++)
        if (kn_gemm_sm90(&g[i], 0) != -EINVAL) {
            printf("FAIL refusal: the RoPE epilogue without %s was not -EINVAL\n",
                   i ? "its table" : "its kn_g9_rope");
            n++;
        }
    printf("%-4s RoPE refusals (%zu shapes, no rotation, no table)\n", n ? "FAIL" : "ok",
           sizeof bad / sizeof bad[0]);
    return n;
}

/* kn_matmul_fwd_rope, own GEMM on (the epilogue) and off (cuBLASLt's
 * product, then kn_rope_fwd), against the reference of one shape: B 3, T
 * 100, 8 heads of 64 (6 rotated), K 136. Own GEMM on, its output must equal
 * kn_gemm_sm90's RoPE epilogue bit for bit (the wrapper took the fused
 * path, not its fallback). */
static int check_wrapper(void)
{
    const struct rcase c = {300, 100, 136, 64, 6, 8, 0, 0, 1};
    const int M = c.M, K = c.K, N = c.nall * c.hs;
    float *a = (float *)kc_xmalloc((size_t)M * K * 4), *b = (float *)kc_xmalloc((size_t)N * K * 4);
    uint16_t *ha = (uint16_t *)kc_xmalloc((size_t)M * K * 2),
             *hb = (uint16_t *)kc_xmalloc((size_t)N * K * 2),
             *hc = (uint16_t *)kc_xmalloc((size_t)M * N * 2);
    rng = 0x2545F4914F6CDD1Dull;
    fill(a, ha, (size_t)M * K);
    for (size_t i = 0; i < (size_t)N * K; i++) {
        hb[i] = to_bf16(urand() * 2.0f / sqrtf((float)K));
        b[i] = from_bf16(hb[i]);
    }
    float *cs = rope_table(c.T, c.hs);
    size_t nrows = 0, at = 0;
    float *ref = reference(&c, a, b, NULL, cs, &nrows);
    void *da = dcopy(ha, (size_t)M * K), *db = dcopy(hb, (size_t)N * K), *dc = NULL;
    void *dcs = dev_floats(cs, (size_t)c.T * c.hs);
    CK(cudaMalloc(&dc, (size_t)M * N * 2));
    kn_blas *blas = NULL;
    CHECK_OK(kn_blas_create(&blas, 32u << 20));
    int bad = 0;
    uint16_t *hf = (uint16_t *)kc_xmalloc((size_t)M * N * 2); /* the epilogue's own output */
    const kn_g9_rope rr = {(const float *)dcs, c.T, c.hs, c.nrot * c.hs};
    const kn_g9 g = {M, N, K, da, K, db, K, 1, dc, N, NULL, NULL, 0, KN_G9_ROPE, NULL, &rr};
    CK(cudaMemset(dc, 0xFF, (size_t)M * N * 2));
    CHECK_OK(kn_gemm_sm90(&g, 0));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(hf, dc, (size_t)M * N * 2, cudaMemcpyDeviceToHost));
    for (int own = 1; own >= 0; own--) {
        kn_blas_set_own_gemm(blas, own);
        CK(cudaMemset(dc, 0xFF, (size_t)M * N * 2));
        CHECK_OK(kn_matmul_fwd_rope(blas, dc, da, db, (const float *)dcs, M / c.T, c.T, K, N,
                                    c.nrot, c.hs, KN_BF16, 0));
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(hc, dc, (size_t)M * N * 2, cudaMemcpyDeviceToHost));
        const double w = worst_host(hc, ref, (size_t)M * N, 1e-2, 1e-2, &at);
        const int fused = !memcmp(hc, hf, (size_t)M * N * 2), ok = w <= 1.0 && (!own || fused);
        printf("%-4s kn_matmul_fwd_rope, own GEMM %s: err %.3f%s\n", ok ? "ok" : "FAIL",
               own ? "on (the epilogue)" : "off (cuBLASLt + kn_rope_fwd)", w,
               own ? (fused ? ", the epilogue's bits" : ", NOT the epilogue's bits") : "");
        bad += !ok;
    }
    free(hf);
    kn_blas_free(blas);
    cudaFree(da), cudaFree(db), cudaFree(dc), cudaFree(dcs);
    free(a), free(b), free(ha), free(hb), free(hc), free(cs), free(ref);
    return bad;
}

/* ------------------------------------------------------------- bench */

struct rb {
    kn_blas *blas;
    int B, T, C, W, nh, hs, mode; /* 0: kn_matmul_fwd_rope; 1: the own plain product */
    void *x, *w, *out;
    const float *cs;
};

static void bench_one(void *arg)
{
    const struct rb *b = (const struct rb *)arg;
    const int M = b->B * b->T;
    if (b->mode == 0) {
        CHECK_OK(kn_matmul_fwd_rope(b->blas, b->out, b->x, b->w, b->cs, b->B, b->T, b->C, b->W,
                                    b->nh, b->hs, KN_BF16, 0));
    } else {
        const kn_g9 g = {M, b->W, b->C, b->x, b->C, b->w, b->C, 1, b->out, b->W, NULL, NULL, 0,
                         KN_G9_PLAIN, NULL, NULL};
        CHECK_OK(kn_gemm_sm90(&g, 0));
    }
}

/* TinyLlama's QKV product: 8 x 2048 tokens, C 2048, 32 + 4 rotated heads
 * of 64, 2560 columns. */
static void run_bench(void)
{
    struct rb b = {NULL, 8, 2048, 2048, 2560, 36, 64, 0, NULL, NULL, NULL, NULL};
    const int M = b.B * b.T;
    const size_t nx = (size_t)M * b.C, nw = (size_t)b.W * b.C;
    uint16_t *h = (uint16_t *)kc_xmalloc(nx * 2);
    float *f = (float *)kc_xmalloc(nx * 4);
    fill(f, h, nx);
    b.x = dcopy(h, nx);
    b.w = dcopy(h, nw);
    CK(cudaMalloc(&b.out, (size_t)M * b.W * 2));
    float *cs = rope_table(b.T, b.hs);
    b.cs = (const float *)dev_floats(cs, (size_t)b.T * b.hs);
    CHECK_OK(kn_blas_create(&b.blas, 32u << 20));
    const double gflop = 2.0 * M * b.W * b.C * 1e-9;
    printf("\nllama-1b QKV (16384 x 2560 x 2048)        ms   TFLOP/s\n");
    const char *name[3] = {"own GEMM + RoPE epilogue", "cuBLASLt + kn_rope_fwd",
                           "own GEMM, plain (no RoPE)"};
    for (int v = 0; v < 3; v++) {
        b.mode = v == 2;
        kn_blas_set_own_gemm(b.blas, v == 0);
        const double ms = kc_median_ms(bench_one, &b, 10);
        printf("%-36s %8.3f %8.1f\n", name[v], ms, gflop / ms);
    }
    kn_blas_free(b.blas);
    cudaFree(b.x), cudaFree(b.w), cudaFree(b.out), cudaFree((void *)b.cs);
    free(h), free(f), free(cs);
}

int main(int argc, char **argv)
{
    const int bench = argc > 1 && !strcmp(argv[1], "--bench");
    if (kc_no_sm90("kc_gemm_sm90_rope"))
        return TEST_SKIP;
    int bad = 0;
    for (size_t i = 0; i < sizeof rcases / sizeof rcases[0]; i++)
        bad += check_rope(&rcases[i]);
    bad += check_refusals();
    bad += check_wrapper();
    printf("%s: %d failure(s)\n", bad ? "FAIL" : "PASS", bad);
    if (bench && !bad)
        run_bench();
    return bad ? 1 : 0;
}
