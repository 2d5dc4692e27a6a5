/* kc_attn_check: the flash attention kernels (flash_attention.h) against the
 * float32 reference (ref_gqa_fwd/_bwd, kernels/cpu), on both implementations
 * the GPU can run: the portable mma.sync kernels and, on a GPU running the
 * sm_90a code, the Hopper wgmma kernels (forced one after the other with
 * kn_flash_attention_force). Multi-head (NKV == NH) and grouped-query
 * shapes, T not a multiple of the block sizes, hs 32/64/128 where the
 * implementation takes it. Per shape: out (tolerance 1e-2 + 1e-2 |ref|),
 * dqkv written and accumulated (3e-2 + 3e-2 |ref|, as kernel_check's flash
 * checks), the backward bit-identical over six runs (deterministic), and
 * the two implementations' lse equal within 1e-3 (either forward may feed
 * either backward); and the backward with RoPE's (kn_flash_gqa_rope_bwd,
 * fused into the Hopper pass's stores) against the reference gradient
 * rotated back by ref_rope_bwd, bit-identical over two runs.
 *
 *   kc_attn_check            checks; exit 0, 1 on a mismatch, 77 without GPU
 *   kc_attn_check --bench    also TFLOP/s of forward and backward per
 *                            implementation at the training shapes
 *   kc_attn_check --bench-only   the bench alone (for a profiler)
 * INGOT_FA_SM90_ALT=N selects one of the Hopper kernels' alternative
 * configurations (flash_attention_sm90.cu, "Kernel configurations"). */
#include "flash_attention.h"
#include "flash_attention_sm90.h"
#include "kc_standalone.h"
#include "kn_arch.h"
#include "ref_llama.h"

struct shape {
    int B, T, NH, NKV, hs;
    int grow; /* scores growing along the keys (grow_scores) */
};

static const struct shape shapes[] = {
    {2, 256, 4, 4, 64, 0},   /* multi-head, T a multiple of every block */
    {1, 200, 4, 2, 64, 0},   /* grouped, T not a multiple of 64 or 128 */
    {2, 37, 3, 1, 64, 0},    /* one kv head, a single partial block */
    {1, 333, 8, 2, 128, 0},  /* hs 128 (Hopper only) */
    {2, 130, 4, 4, 32, 0},   /* hs 32 (portable only) */
    {1, 1024, 2, 1, 64, 0},  /* a training length */
    {2, 700, 4, 2, 64, 1},   /* growing scores: the forward's max moves on */
    {1, 520, 2, 2, 128, 1},  /* (and at hs 128) */
};

/* Scores that grow along the keys, by ~2.9 (hs 64) or ~4.1 (hs 128) log2
 * units per 64 keys: q positive (0.5 + noise / 2), k rising with the
 * position (t / 128 + noise / 2), so later key blocks keep raising each
 * row's running max past the Hopper forward's lazy bound (8 log2 units,
 * INGOT_FA_SM90_LAZY) and its rescale runs between blocks that stay within
 * it. In place, bf16-exact. */
static void grow_scores(float *f, uint16_t *h, int B, int T, int NH, int NKV, int hs)
{
    const size_t W = (size_t)(NH + 2 * NKV) * hs;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (size_t c = 0; c < (size_t)(NH + NKV) * hs; c++) {
                const size_t i = ((size_t)b * T + t) * W + c;
                const float x = c < (size_t)NH * hs ? 0.5f + 0.5f * f[i]
                                                    : (float)t / 128.0f + 0.5f * f[i];
                h[i] = to_bf16(x);
                f[i] = from_bf16(h[i]);
            }
}

static const char *impl_name(kn_fa_impl im)
{
    return im == KN_FA_SM90 ? "sm90" : "portable";
}

/* One shape on one implementation; lse_out (B NH T floats, host) receives
 * the forward's lse. Returns the number of failed comparisons. */
static int check_one(const struct shape *s, kn_fa_impl im, float *lse_out)
{
    const int B = s->B, T = s->T, NH = s->NH, NKV = s->NKV, hs = s->hs;
    const size_t W = (size_t)(NH + 2 * NKV) * hs, nq = (size_t)B * T * W,
                 no = (size_t)B * T * NH * hs, nl = (size_t)B * NH * T,
                 natt = (size_t)B * NH * T * T;
    float *qkv = (float *)malloc(nq * 4), *dout = (float *)malloc(no * 4);
    float *out = (float *)malloc(no * 4), *att = (float *)malloc(natt * 4);
    float *scr = (float *)malloc(natt * 4), *dqkv = (float *)calloc(nq, 4);
    float *dqkv_acc = (float *)malloc(nq * 4);
    uint16_t *hq = (uint16_t *)malloc(nq * 2), *ho = (uint16_t *)malloc(no * 2);
    uint16_t *hpre = (uint16_t *)malloc(nq * 2), *h1 = (uint16_t *)malloc(nq * 2),
             *h2 = (uint16_t *)malloc(nq * 2);
    if (!qkv || !dout || !out || !att || !scr || !dqkv || !dqkv_acc || !hq || !ho || !hpre ||
        !h1 || !h2) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    /* The same inputs for every implementation of a shape (the lse
     * comparison relies on it). */
    rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)T << 32) ^ ((uint64_t)NH << 16) ^ (uint64_t)hs;
    fill(qkv, hq, nq);
    if (s->grow)
        grow_scores(qkv, hq, B, T, NH, NKV, hs);
    fill(dout, ho, no);
    fill(dqkv_acc, hpre, nq); /* what the accumulating backward adds to */
    ref_gqa_fwd(out, att, qkv, B, T, NH, NKV, hs);
    ref_gqa_bwd(dqkv, scr, dout, qkv, att, B, T, NH, NKV, hs);
    for (size_t i = 0; i < nq; i++)
        dqkv_acc[i] += dqkv[i];

    void *d_qkv = dcopy(hq, nq), *d_dout = dcopy(ho, no), *d_acc = dcopy(hpre, nq);
    void *d_out = NULL, *d_dq = NULL, *d_scr = NULL;
    float *d_lse = NULL;
    size_t sb = kn_flash_gqa_bwd_scratch_bytes(B, T, NH, NKV, hs);
    CK(cudaMalloc(&d_out, no * 2));
    CK(cudaMalloc(&d_dq, nq * 2));
    CK(cudaMalloc(&d_scr, sb));
    CK(cudaMalloc((void **)&d_lse, nl * 4));
    CK(cudaMemset(d_dq, 0xFF, nq * 2)); /* NaN: every element must be written */

    kn_flash_attention_force(im);
    CHECK_OK(kn_flash_gqa_fwd(d_out, d_lse, d_qkv, B, T, NH, NKV, hs, KN_BF16, 0));
    CHECK_OK(kn_flash_gqa_bwd(d_dq, d_dout, d_qkv, d_out, d_lse, B, T, NH, NKV, hs, 0, KN_BF16, d_scr,
                        sb, 0));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(h1, d_dq, nq * 2, cudaMemcpyDeviceToHost));
    CHECK_OK(kn_flash_gqa_bwd(d_dq, d_dout, d_qkv, d_out, d_lse, B, T, NH, NKV, hs, 0, KN_BF16, d_scr,
                        sb, 0));
    CHECK_OK(kn_flash_gqa_bwd(d_acc, d_dout, d_qkv, d_out, d_lse, B, T, NH, NKV, hs, 1, KN_BF16, d_scr,
                        sb, 0));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(h2, d_dq, nq * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(lse_out, d_lse, nl * 4, cudaMemcpyDeviceToHost));
    /* more repeats: the Hopper backward orders its dq adds across blocks
     * at run time, so a wrong order would show as a differing run */
    int det = memcmp(h1, h2, nq * 2) == 0;
    for (int rep = 0; rep < 4 && det; rep++) {
        CHECK_OK(kn_flash_gqa_bwd(d_dq, d_dout, d_qkv, d_out, d_lse, B, T, NH, NKV, hs, 0, KN_BF16,
                            d_scr, sb, 0));
        CK(cudaMemcpy(h2, d_dq, nq * 2, cudaMemcpyDeviceToHost));
        det = memcmp(h1, h2, nq * 2) == 0;
    }
    /* The Hopper kernels in other block orders (s9_block_order's rows per
     * group: the forward one by one, in twos and in threes, the backward in
     * twos, all at once and in fives; the default puts every row of these
     * shapes in one forward group and runs the backward row by row): the
     * same bits as the default order's, forward and backward. */
    int ord = 1;
    if (im == KN_FA_SM90) {
        uint16_t *o1 = (uint16_t *)kc_xmalloc(no * 2), *o2 = (uint16_t *)kc_xmalloc(no * 2);
        float *l2 = (float *)kc_xmalloc(nl * 4);
        CK(cudaMemcpy(o1, d_out, no * 2, cudaMemcpyDeviceToHost));
        static const int orders[][2] = {{1, 2}, {2, 1 << 20}, {3, 5}};
        for (size_t k = 0; k < sizeof orders / sizeof orders[0]; k++) {
            kn_fa_sm90_set_groups(orders[k][0], orders[k][1]);
            CK(cudaMemset(d_out, 0xFF, no * 2));
            CK(cudaMemset(d_dq, 0xFF, nq * 2));
            CHECK_OK(kn_flash_gqa_fwd(d_out, d_lse, d_qkv, B, T, NH, NKV, hs, KN_BF16, 0));
            CHECK_OK(kn_flash_gqa_bwd(d_dq, d_dout, d_qkv, d_out, d_lse, B, T, NH, NKV, hs, 0,
                                      KN_BF16, d_scr, sb, 0));
            CK(cudaMemcpy(o2, d_out, no * 2, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(l2, d_lse, nl * 4, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(h2, d_dq, nq * 2, cudaMemcpyDeviceToHost));
            if (memcmp(o1, o2, no * 2) || memcmp(lse_out, l2, nl * 4) || memcmp(h1, h2, nq * 2)) {
                printf("    block order fwd %d / bwd %d: results differ\n", orders[k][0],
                       orders[k][1]);
                ord = 0;
            }
        }
        kn_fa_sm90_set_groups(0, 0);
        free(o1);
        free(o2);
        free(l2);
    }
    /* With RoPE's backward (kn_flash_gqa_rope_bwd; fused into the Hopper
     * pass's stores): against the reference's gradient rotated back by
     * ref_rope_bwd on the q and k heads, and bit-identical on a second run.
     * Into a second buffer: d_dq holds the plain backward, compared below. */
    float *cs = (float *)kc_xmalloc((size_t)T * hs * 4);
    float *rdq = (float *)kc_xmalloc(nq * 4);
    void *d_rq = NULL;
    ref_rope_table(cs, T, hs, 10000.0);
    memcpy(rdq, dqkv, nq * 4);
    ref_rope_bwd(rdq, rdq, cs, B, T, NH + NKV, hs, (int)W);
    float *d_cs = (float *)dev_floats(cs, (size_t)T * hs);
    CK(cudaMalloc(&d_rq, nq * 2));
    CK(cudaMemset(d_rq, 0xFF, nq * 2));
    CHECK_OK(kn_flash_gqa_rope_bwd(d_rq, d_dout, d_qkv, d_out, d_lse, d_cs, B, T, NH, NKV, hs,
                                   KN_BF16, d_scr, sb, 0));
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(h1, d_rq, nq * 2, cudaMemcpyDeviceToHost));
    CHECK_OK(kn_flash_gqa_rope_bwd(d_rq, d_dout, d_qkv, d_out, d_lse, d_cs, B, T, NH, NKV, hs,
                                   KN_BF16, d_scr, sb, 0));
    CK(cudaMemcpy(h2, d_rq, nq * 2, cudaMemcpyDeviceToHost));
    const int rdet = memcmp(h1, h2, nq * 2) == 0;
    kn_flash_attention_force(KN_FA_AUTO);

    size_t a1 = 0, a2 = 0, a3 = 0, a4 = 0;
    double w_out = worst(d_out, out, no, 1e-2, 1e-2, &a1);
    double w_dq = worst(d_dq, dqkv, nq, 3e-2, 3e-2, &a2);
    double w_acc = worst(d_acc, dqkv_acc, nq, 3e-2, 3e-2, &a3);
    double w_rope = worst(d_rq, rdq, nq, 3e-2, 3e-2, &a4);
    int bad = (w_out > 1) + (w_dq > 1) + (w_acc > 1) + !det + (w_rope > 1) + !rdet + !ord;
    printf("%-8s B=%d T=%-4d NH=%-2d NKV=%-2d hs=%-3d%s  out %.3f  dqkv %.3f  dqkv+= %.3f  "
           "rope^T %.3f  deterministic %s  %s\n",
           impl_name(im), B, T, NH, NKV, hs, s->grow ? " grow" : "", w_out, w_dq, w_acc, w_rope,
           det && rdet && ord ? "yes" : "NO", bad ? "FAIL" : "ok");
    if (w_out > 1)
        printf("    out[%zu] ref %g\n", a1, out[a1]);
    if (w_dq > 1)
        printf("    dqkv[%zu] (row %zu, col %zu) ref %g\n", a2, a2 / W, a2 % W, dqkv[a2]);
    if (w_rope > 1)
        printf("    rope^T dqkv[%zu] (row %zu, col %zu) ref %g\n", a4, a4 / W, a4 % W, rdq[a4]);
    cudaFree(d_cs);
    cudaFree(d_rq);
    free(cs);
    free(rdq);
    cudaFree(d_qkv);
    cudaFree(d_dout);
    cudaFree(d_acc);
    cudaFree(d_out);
    cudaFree(d_dq);
    cudaFree(d_scr);
    cudaFree(d_lse);
    free(qkv);
    free(dout);
    free(out);
    free(att);
    free(scr);
    free(dqkv);
    free(dqkv_acc);
    free(hq);
    free(ho);
    free(hpre);
    free(h1);
    free(h2);
    return bad;
}

/* Applies to the implementation at this head size. */
static int takes(kn_fa_impl im, int hs)
{
    return im == KN_FA_SM90 ? (hs == 64 || hs == 128) : (hs == 32 || hs == 64);
}

static int run_checks(int have_sm90)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const struct shape *s = &shapes[i];
        size_t nl = (size_t)s->B * s->NH * s->T;
        float *l1 = (float *)malloc(nl * 4), *l2 = (float *)malloc(nl * 4);
        int ran = 0;
        if (takes(KN_FA_PORTABLE, s->hs)) {
            bad += check_one(s, KN_FA_PORTABLE, l1);
            ran |= 1;
        }
        if (have_sm90 && takes(KN_FA_SM90, s->hs)) {
            bad += check_one(s, KN_FA_SM90, l2);
            ran |= 2;
        }
        if (ran == 3) {
            double w = 0;
            for (size_t k = 0; k < nl; k++)
                w = fmax(w, fabs((double)l1[k] - l2[k]));
            int ok = w <= 1e-3;
            bad += !ok;
            printf("lse      portable vs sm90 max |diff| %.2e  %s\n", w, ok ? "ok" : "FAIL");
        }
        free(l1);
        free(l2);
    }
    return bad;
}

/* ---------------------------------------------------------------- bench */

struct bcase {
    const char *name;
    int B, T, NH, NKV, hs;
};

static const struct bcase bcases[] = {
    {"gpt2-124m b64", 64, 1024, 12, 12, 64},
    {"b32 nh16", 32, 1024, 16, 16, 64},
    {"tinyllama gqa", 8, 2048, 32, 4, 64},
    {"tinyllama mha", 8, 2048, 32, 32, 64},   /* what grouping costs or saves */
    {"hs128", 16, 2048, 16, 16, 128},
};

struct targs {
    const struct bcase *c;
    int which;
    void *out, *qkv, *dout, *dq, *scr;
    float *lse;
    size_t sb;
};

static void run_one(void *arg)
{
    const struct targs *a = (const struct targs *)arg;
    const struct bcase *c = a->c;
    if (a->which == 0)
        CHECK_OK(kn_flash_gqa_fwd(a->out, a->lse, a->qkv, c->B, c->T, c->NH, c->NKV, c->hs, KN_BF16, 0));
    else
        CHECK_OK(kn_flash_gqa_bwd(a->dq, a->dout, a->qkv, a->out, a->lse, c->B, c->T, c->NH, c->NKV,
                            c->hs, 0, KN_BF16, a->scr, a->sb, 0));
}

/* Milliseconds per call of fwd (which 0) or bwd (1), median of 5 runs of
 * 10 calls after a warm-up. */
static double time_ms(const struct bcase *c, int which, void *out, float *lse, void *qkv,
                      void *dout, void *dq, void *scr, size_t sb)
{
    struct targs a = {c, which, out, qkv, dout, dq, scr, lse, sb};
    return kc_median_ms(run_one, &a, 10);
}

static void run_bench(int have_sm90)
{
    printf("\n%-14s %-8s %9s %9s %9s %9s\n", "case", "impl", "fwd ms", "fwd TF/s", "bwd ms",
           "bwd TF/s");
    for (size_t i = 0; i < sizeof bcases / sizeof bcases[0]; i++) {
        const struct bcase *c = &bcases[i];
        const size_t W = (size_t)(c->NH + 2 * c->NKV) * c->hs, nq = (size_t)c->B * c->T * W,
                     no = (size_t)c->B * c->T * c->NH * c->hs, nl = (size_t)c->B * c->NH * c->T;
        uint16_t *h = (uint16_t *)malloc(nq * 2);
        for (size_t k = 0; k < nq; k++)
            h[k] = to_bf16(urand());
        void *qkv = dcopy(h, nq), *dout = dcopy(h, no), *out = NULL, *dq = NULL, *scr = NULL;
        float *lse = NULL;
        size_t sb = kn_flash_gqa_bwd_scratch_bytes(c->B, c->T, c->NH, c->NKV, c->hs);
        CK(cudaMalloc(&out, no * 2));
        CK(cudaMalloc(&dq, nq * 2));
        CK(cudaMalloc(&scr, sb));
        CK(cudaMalloc((void **)&lse, nl * 4));
        /* causal: half of the 4 B NH T^2 hs of q k^T and p v; backward 2.5x */
        double fl = 2.0 * c->B * c->NH * (double)c->T * c->T * c->hs;
        for (int im = KN_FA_PORTABLE; im <= KN_FA_SM90; im++) {
            if (!takes((kn_fa_impl)im, c->hs) || (im == KN_FA_SM90 && !have_sm90))
                continue;
            kn_flash_attention_force((kn_fa_impl)im);
            double f = time_ms(c, 0, out, lse, qkv, dout, dq, scr, sb);
            double b = time_ms(c, 1, out, lse, qkv, dout, dq, scr, sb);
            printf("%-14s %-8s %9.3f %9.1f %9.3f %9.1f\n", c->name, impl_name((kn_fa_impl)im), f,
                   fl / f * 1e-9, b, 2.5 * fl / b * 1e-9);
        }
        kn_flash_attention_force(KN_FA_AUTO);
        cudaFree(qkv);
        cudaFree(dout);
        cudaFree(out);
        cudaFree(dq);
        cudaFree(scr);
        cudaFree(lse);
        free(h);
    }
}

int main(int argc, char **argv)
{
    /* --bench-only: no checks first, so that a profiler's launch count
     * reaches the bench shapes directly (scripts/bench-attention.sh) */
    int bench_only = argc > 1 && !strcmp(argv[1], "--bench-only");
    int bench = bench_only || (argc > 1 && !strcmp(argv[1], "--bench"));
    if (kc_no_gpu("kc_attn_check"))
        return TEST_SKIP;
    kn_path p = KN_PATH_PORTABLE;
    CHECK_OK(kn_arch_path(&p));
    int have_sm90 = p == KN_PATH_SM90A;
    printf("kernel path %s; default attention impl at hs 64: %s\n", kn_path_name(p),
           kn_flash_attention_impl_name(64));
    int bad = bench_only ? 0 : run_checks(have_sm90);
    if (!bench_only)
        printf("%s: %d failure(s)\n", bad ? "FAIL" : "PASS", bad);
    if (bench)
        run_bench(have_sm90);
    return bad ? 1 : 0;
}
