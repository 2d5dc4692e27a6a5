/* Linear layers on cuBLASLt with a plan cache.
 *
 * cuBLAS is column-major. A row-major matrix X[r, c] (leading dimension c)
 * is, read column-major, the c x r matrix X^T with ld = c. So each row-major
 * product below is computed as its transpose:
 *
 *   forward    out[N,OC] = inp[N,IC] w[OC,IC]^T
 *              <=> out^T[OC,N] = w[OC,IC] inp^T[IC,N]
 *              A = w stored as (IC x OC, ld IC) -> op(A) = A^T = w: trans_a = T
 *              B = inp stored as (IC x N, ld IC) = inp^T:           trans_b = N
 *              m = OC, n = N, k = IC, ldc = OC; the bias (length m = OC) is
 *              broadcast along columns, i.e. added to every row of out.
 *   dinp       dinp[N,IC] = dout[N,OC] w[OC,IC]
 *              <=> dinp^T[IC,N] = w^T[IC,OC] dout^T[OC,N]
 *              A = w stored as (IC x OC, ld IC) = w^T:              trans_a = N
 *              B = dout stored as (OC x N, ld OC) = dout^T:         trans_b = N
 *              m = IC, n = N, k = OC, ldc = IC
 *   dw         dw[OC,IC] = dout^T[OC,N] inp[N,IC]
 *              <=> dw^T[IC,OC] = inp^T[IC,N] dout[N,OC]
 *              A = inp stored as (IC x N, ld IC) = inp^T:           trans_a = N
 *              B = dout stored as (OC x N, ld OC); op(B) = B^T = dout: trans_b = T
 *              m = IC, n = OC, k = N, ldc = IC, beta = 1 (accumulate) or 0 (write)
 * The GELU aux matrix (pre-activation) has D's layout: [N, OC] row-major =
 * (OC x N, ld OC) forward, (IC x N, ld IC) for dGELU; cuBLASLt wants its ld
 * divisible by 8, else the unfused path runs. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublasLt.h>
#include <cublas_v2.h>

#include "cuda_check.h"
#include "gelu.h"
#include "gemm_sm90.h"
#include "kn_arch.h"
#include "kn_device.cuh"
#include "matmul.h"
#include "rope.h"
#include "swiglu.h"

enum { PLAN_CAP = 96, DEFAULT_WORKSPACE = 32 << 20, TUNE_CANDIDATES = 8, TUNE_REPS = 3 };
/* default: the dGELU epilogue only below this k (kn_matmul_bwd_inp) */
enum { DGELU_EPI_MAX_K = 1024 };
/* Products smaller than this are not tuned: their timing is closer to the
 * noise, and the tests' models (up to C = 256, V = 8192, 2k tokens: the lm
 * head is 8.6 GFLOP) keep the heuristic's choice, which every process makes
 * alike, so that their process-vs-process bit-for-bit comparisons hold. */
static const double TUNE_MIN_FLOPS = 16e9;
/* An algorithm replaces the heuristic's first only when this much faster,
 * so that timing noise does not flip the choice between runs. */
static const float TUNE_MARGIN = 0.97f;

/* Everything that selects a plan; compared with memcmp (zeroed first). */
struct lt_key {
    int ta, tb, m, n, k, batch;
    long long lda, ldb, ldc, sa, sb, sc, aux_ld;
    int ab_dt, c_dt, epi;
    unsigned al_a, al_b, al_c, al_bias, al_aux, al_cin;
};

struct lt_plan {
    lt_key key;
    int ok; /* 1: algo valid; 0: cuBLASLt has none (use the fallback) */
    cublasLtMatmulDescOpaque_t op;
    cublasLtMatrixLayoutOpaque_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
    /* autotune (tune_plan): candidates timed, the heuristic's first and the
     * chosen one (ms for TUNE_REPS runs), the chosen one's rank */
    int tuned, cands, pick, beta1;  /* beta1: an accumulating product (beta != 0) */
    float ms_first, ms_pick;
};

struct kn_blas {
    cublasLtHandle_t lt;
    cublasHandle_t cb;
    void *ws;
    size_t ws_bytes;
    int fuse_gelu;  /* GELU in the forward GEMM's epilogue */
    int fuse_dgelu; /* dGELU in the input-gradient GEMM's epilogue: 1 on, 0 off,
                     * -1 (default) on only when k < DGELU_EPI_MAX_K */
    int fuse_bgrad; /* bias gradient in the weight GEMM's epilogue (BGRADB) */
    int fuse_dbias; /* kn_matmul_bwd_inp_dgelu_bias: the bias gradient summed by the
                     * dGELU product (1, default) or by a pass over its output (0) */
    int own_gemm;   /* GELU / dGELU / SwiGLU / RoPE products on gemm_sm90 (sm_90a only):
                     * 0 never, 1 always, -1 where it measured faster (own_takes) */
    int sm90;       /* the sm_90a machine code is loaded */
    int tune;       /* 1: shapes planned now are tuned (kn_blas_set_tune, tune_plan) */
    int tune_env;   /* INGOT_GEMM_TUNE: -1 unset or 0: never tune; 1: at start-up
                     * (kn_blas_set_tune); 2 ("always"): every new shape */
    int nplans, next_evict;
    lt_plan plans[PLAN_CAP];
};

/* Largest power of two dividing the address, capped at 256 (cuBLASLt's
 * default assumption); NULL counts as 256. */
static unsigned ptr_align(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a == 0)
        return 256;
    unsigned al = 1;
    while (al < 256 && (a & (2 * al - 1)) == 0)
        al *= 2;
    return al;
}

static cudaDataType_t cuda_type(kn_dtype dt)
{
    return dt == KN_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

extern "C" int kn_blas_create(kn_blas **out, size_t workspace_bytes)
{
    KN_ARG_CHECK(out != NULL, "out=%p", (void *)out);
    *out = NULL;
    kn_blas *h = (kn_blas *)calloc(1, sizeof(*h));
    if (!h)
        return ingot_fail(-ENOMEM, "kn_blas_create: out of host memory");
    h->ws_bytes = workspace_bytes ? workspace_bytes : (size_t)DEFAULT_WORKSPACE;
    /* INGOT_FUSE_GELU=0 / INGOT_FUSE_DGELU=0: the GELU / dGELU as separate
     * kernels (for comparisons) */
    h->fuse_gelu = !kn_env_off("INGOT_FUSE_GELU");
    const char *dg = getenv("INGOT_FUSE_DGELU");
    h->fuse_dgelu = !dg || !*dg ? -1 : strcmp(dg, "0") ? 1 : 0;
    /* Off by default: on the H200 the BGRADB GEMM ran slower than the plain
     * GEMM plus the bias kernel (docs/performance.md, issue 12). */
    const char *bg = getenv("INGOT_BGRAD_EPI");
    h->fuse_bgrad = bg && !strcmp(bg, "1");
    h->fuse_dbias = !kn_env_off("INGOT_FUSE_DBIAS");
    const char *tune = getenv("INGOT_GEMM_TUNE");
    h->tune_env = !tune || !*tune ? -1 : !strcmp(tune, "0") ? 0 : !strcmp(tune, "always") ? 2 : 1;
    h->tune = h->tune_env == 2;
    /* Ingot's Hopper GEMM for the GELU, dGELU and SwiGLU products where the
     * sm_90a code runs: INGOT_GEMM_SM90=0 keeps them on cuBLASLt (comparisons). */
    kn_path path = KN_PATH_PORTABLE;
    int err = kn_arch_path(&path);
    cublasStatus_t st;
    cudaError_t ce;
    if (err)
        goto fail;
    h->sm90 = path == KN_PATH_SM90A;
    {
        const char *og = getenv("INGOT_GEMM_SM90");
        kn_blas_set_own_gemm(h, !og || !*og ? -1 : strcmp(og, "0") ? 1 : 0);
    }
    ce = cudaMalloc(&h->ws, h->ws_bytes);
    if (ce != cudaSuccess) {
        err = ingot_fail(INGOT_E_CUDA, "kn_blas_create: cudaMalloc of the %zu-byte GEMM "
                         "workspace: %s", h->ws_bytes, cudaGetErrorString(ce));
        goto fail;
    }
    st = cublasLtCreate(&h->lt);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasCreate(&h->cb);
    /* Classic API: no TF32 (CUBLAS_COMPUTE_32F below also forbids it). */
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasSetMathMode(h->cb, CUBLAS_DEFAULT_MATH);
    if (st != CUBLAS_STATUS_SUCCESS) {
        err = ingot_fail(INGOT_E_CUDA, "kn_blas_create: cuBLAS set-up: %s",
                         cublasGetStatusString(st));
        goto fail;
    }
    *out = h;
    return 0;
fail:
    kn_blas_free(h);
    return err;
}

extern "C" void kn_blas_free(kn_blas *h)
{
    if (!h)
        return;
    if (h->cb)
        cublasDestroy(h->cb);
    if (h->lt)
        cublasLtDestroy(h->lt);
    if (h->ws)
        cudaFree(h->ws);
    free(h);
}

extern "C" void kn_blas_set_own_gemm(kn_blas *h, int on)
{
    if (h)
        h->own_gemm = !h->sm90 ? 0 : on < 0 ? -1 : on != 0;
}

extern "C" int kn_blas_own_gemm(const kn_blas *h)
{
    return h ? h->own_gemm : 0;
}

/* Where gemm_sm90 takes a product by default: where it beat cuBLASLt's
 * path in one call on the H200 (kc_gemm_sm90 --bench, gpu_op_bench;
 * docs/kernels.md "Hopper GEMM"), with at least OWN_MIN_M rows:
 * - the GELU product up to k 1024 (GPT-2 124M 575 against 535 TFLOP/s,
 *   350M level; 1-5% behind at 774M and 1.5B);
 * - the dGELU one from k 768 (since its consumers apply gelu' to
 *   pre-activations the TMA brought: with fc's bias gradient 0.659 against
 *   cuBLASLt's epilogue + pass 0.738 ms at 124M, 0.553 against 0.748 at
 *   350M; before that, with three epilogue warps doing it, 124M's ran at 365
 *   against cuBLASLt's 522 TFLOP/s; without the bias gradient, 124M's product
 *   is level with cuBLASLt's DGELU epilogue: 495 against 497 TFLOP/s);
 * - the SwiGLU backward (the down projection's input gradient with it):
 *   cuBLASLt has no such epilogue; at TinyLlama's shape (gpu_op_bench
 *   --arch llama) 15.7 ms per micro-step against 17.5 for cuBLASLt + the
 *   pass;
 * - the SwiGLU forward (gate|up product, silu(g) u in its epilogue) since
 *   it runs in clusters of two (g9_cluster): at TinyLlama's shape on the
 *   H200 1.055 ms against cuBLASLt + the pass's 1.22-1.32 (kc_gemm_sm90
 *   --bench), llama-1b training 79 634 / 79 014 / 79 529 / 79 491 tok/s
 *   against 78 889 / 79 081 / 78 832 / 78 875 alternating in one call
 *   (+0.8%); in clusters of one it had been level in training;
 * - LLaMA's QKV product with RoPE in its epilogue (kn_matmul_fwd_rope), in
 *   clusters of two: at TinyLlama's shape on the H100 0.257 ms against
 *   0.277 for cuBLASLt + kn_rope_fwd's pass (kc_gemm_sm90_rope --bench),
 *   llama-1b's forward ~0.2 ms a step faster in each of three alternating
 *   pairs, tok/s level. */
enum { OWN_GELU_MAX_K = 1024, OWN_DGELU_MIN_K = 768, OWN_MIN_M = 4096 };
enum own_product { OWN_GELU, OWN_DGELU, OWN_SWIGLU, OWN_DSWIGLU, OWN_ROPE };

/* m: the product's rows (tokens), k its contraction. Below OWN_MIN_M (the
 * shapes timed had 8192 and more; decoding sends single rows) cuBLASLt
 * keeps it. own_gemm 0 / 1 (kn_blas_set_own_gemm): never / always. */
static int own_takes(const kn_blas *h, enum own_product what, int m, int k)
{
    if (h->own_gemm >= 0)
        return h->own_gemm;
    if (m < OWN_MIN_M)
        return 0;
    switch (what) {
    case OWN_GELU:
        return k <= OWN_GELU_MAX_K;
    case OWN_DGELU:
        return k >= OWN_DGELU_MIN_K;
    case OWN_SWIGLU:
    case OWN_DSWIGLU:
    case OWN_ROPE:
        return 1;
    default:
        return 0;
    }
}

extern "C" void kn_blas_set_fuse_gelu(kn_blas *h, int on)
{
    if (h)
        h->fuse_gelu = h->fuse_dgelu = on != 0;
}

extern "C" void kn_blas_set_tune(kn_blas *h, int on)
{
    if (h && h->tune_env == 1)
        h->tune = on != 0;
}

extern "C" void kn_blas_set_fuse_bgrad(kn_blas *h, int on)
{
    if (h)
        h->fuse_bgrad = on != 0;
}

extern "C" void kn_blas_set_fuse_dbias(kn_blas *h, int on)
{
    if (h)
        h->fuse_dbias = on != 0;
}

/* One GEMM with an optional epilogue (bias / GELU aux / dGELU aux).
 * c_in: where beta * C is read from when it is not g.C itself (cuBLASLt's
 * C and D: the same layout, different buffers); NULL: g.C. */
struct gemm_call {
    kn_gemm g;
    cublasLtEpilogue_t epi;
    const void *bias;
    const void *aux;
    long long aux_ld;
    const void *c_in;
};

/* The buffer beta * C is read from. */
static const void *c_src(const gemm_call *c)
{
    return c->c_in ? c->c_in : c->g.C;
}

static int set_attr(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, const void *v,
                    size_t n)
{
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d, a, v, n));
    return 0;
}

/* Bytes from p to one past the last element of C. */
static size_t c_extent(const kn_gemm *g)
{
    size_t el = (size_t)(g->batch - 1) * (size_t)g->stride_c + (size_t)g->ldc * (g->n - 1) +
                (size_t)g->m;
    return el * kn_dtype_size(g->c_dt);
}

static size_t ab_extent(const kn_gemm *g, int b)
{
    long long rows = b ? (g->trans_b ? g->n : g->k) : (g->trans_a ? g->k : g->m);
    long long cols = b ? (g->trans_b ? g->k : g->n) : (g->trans_a ? g->m : g->k);
    long long ld = b ? g->ldb : g->lda, st = b ? g->stride_b : g->stride_a;
    size_t el = (size_t)(g->batch - 1) * (size_t)st + (size_t)ld * (cols - 1) + (size_t)rows;
    return el * kn_dtype_size(g->ab_dt);
}

static int overlaps(const void *a, size_t na, const void *b, size_t nb)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return a && b && x < y + nb && y < x + na;
}

/* Tuning: run each of the heuristic's candidates on c's own buffers (1
 * warm-up, TUNE_REPS timed) and keep the fastest in p when it beats the
 * heuristic's first by TUNE_MARGIN. Only while h->tune is on (the back end's
 * start-up: its eager warm-up micro-step; kn_blas_set_tune), outside a
 * stream capture, for products of at least TUNE_MIN_FLOPS whose output does
 * not overlap an input. With beta != 0 (accumulating products, run several
 * times here) C is saved first and restored after. A candidate that fails is
 * skipped. Numerics: the chosen algorithm computes the same product with
 * float32 accumulation; only its summation order (split-K, tile shape)
 * differs, i.e. rounding, as between GPUs or cuBLAS versions. */
static int tune_plan(kn_blas *h, lt_plan *p, const gemm_call *c,
                     const cublasLtMatmulHeuristicResult_t *res, int nres, cudaStream_t s)
{
    const kn_gemm *g = &c->g;
    cudaStreamCaptureStatus cap;
    CUDA_CHECK(cudaStreamIsCapturing(s, &cap));
    const double flops = 2.0 * g->m * g->n * (double)g->k * g->batch;
    const size_t cb = c_extent(g);
    if (!h->tune || nres < 2 || cap != cudaStreamCaptureStatusNone || flops < TUNE_MIN_FLOPS ||
        overlaps(g->C, cb, g->A, ab_extent(g, 0)) || overlaps(g->C, cb, g->B, ab_extent(g, 1)) ||
        overlaps(g->C, cb, c->aux, cb) || overlaps(g->C, cb, c->c_in, cb))
        return 0;
    void *saved = NULL;
    cudaEvent_t e[2] = {NULL, NULL};
    int err = 0;
    /* beta = 0: the real call after this rewrites C, nothing to keep */
    const int keep = g->beta != 0.0f;
    p->beta1 = keep;
    if ((keep && (cudaMalloc(&saved, cb) != cudaSuccess ||
                  cudaMemcpyAsync(saved, g->C, cb, cudaMemcpyDeviceToDevice, s) != cudaSuccess)) ||
        cudaEventCreate(&e[0]) != cudaSuccess || cudaEventCreate(&e[1]) != cudaSuccess) {
        (void)cudaGetLastError();   /* not tuned: the heuristic's choice stays */
        goto out;
    }
    for (int i = 0; i < nres; i++) {
        float ms = -1.0f;
        int ok = 1;
        for (int r = 0; r <= TUNE_REPS && ok; r++) {
            if (r == 1)
                ok = cudaEventRecord(e[0], s) == cudaSuccess;
            ok = ok && cublasLtMatmul(h->lt, &p->op, &g->alpha, g->A, &p->la, g->B, &p->lb,
                                      &g->beta, c_src(c), &p->lc, g->C, &p->lc, &res[i].algo,
                                      h->ws, h->ws_bytes, s) == CUBLAS_STATUS_SUCCESS;
        }
        ok = ok && cudaEventRecord(e[1], s) == cudaSuccess &&
             cudaEventSynchronize(e[1]) == cudaSuccess &&
             cudaEventElapsedTime(&ms, e[0], e[1]) == cudaSuccess;
        (void)cudaGetLastError();
        if (!ok || ms < 0.0f)
            continue;
        p->cands++;
        if (i == 0) {
            p->ms_first = p->ms_pick = ms;
            p->tuned = 1;
        } else if (p->tuned && ms < TUNE_MARGIN * p->ms_first && ms < p->ms_pick) {
            p->ms_pick = ms;
            p->pick = i;
            p->algo = res[i].algo;
        }
    }
    /* the product as it was before the timing runs */
    if ((keep && cudaMemcpyAsync(g->C, saved, cb, cudaMemcpyDeviceToDevice, s) != cudaSuccess) ||
        cudaStreamSynchronize(s) != cudaSuccess) {
        cudaError_t ce = cudaGetLastError();
        err = ingot_fail(INGOT_E_CUDA, "GEMM autotune: restoring the output: %s",
                         cudaGetErrorString(ce));
    }
out:
    if (e[0])
        cudaEventDestroy(e[0]);
    if (e[1])
        cudaEventDestroy(e[1]);
    if (saved)
        cudaFree(saved);
    return err;
}

extern "C" void kn_blas_tune_report(const kn_blas *h, FILE *f)
{
    if (!h || !f)
        return;
    double first = 0.0, pick = 0.0;
    int n = 0, changed = 0;
    for (int i = 0; i < h->nplans; i++) {
        const lt_plan *p = &h->plans[i];
        if (!p->ok || !p->tuned)
            continue;
        const lt_key *k = &p->key;
        n++;
        changed += p->pick != 0;
        first += p->ms_first;
        pick += p->ms_pick;
        /* TFLOP/s = 2 m n k batch / (ms per call * 1e9) */
        const double gf = 2e-9 * k->m * k->n * (double)k->k * k->batch;
        const double t0 = p->ms_first / TUNE_REPS, t1 = p->ms_pick / TUNE_REPS;
        fprintf(f, "gemm tune: m %6d n %6d k %6d batch %3d %c%c %s epi %2d beta %d: heuristic #0 "
                "%8.3f ms %4.0f TFLOP/s, chosen #%d %8.3f ms %4.0f TFLOP/s (%.3fx, %d "
                "candidates)\n", k->m, k->n, k->k, k->batch, k->ta ? 'T' : 'N',
                k->tb ? 'T' : 'N', k->ab_dt == KN_BF16 ? "bf16" : "fp32", k->epi, p->beta1,
                t0, t0 > 0 ? gf / t0 : 0.0, p->pick, t1, t1 > 0 ? gf / t1 : 0.0,
                t1 > 0 ? t0 / t1 : 0.0, p->cands);
    }
    if (n)
        fprintf(f, "gemm tune: %d shapes timed, %d changed; sum of one call each: heuristic %.3f "
                "ms, chosen %.3f ms (%.3fx)\n", n, changed, first / TUNE_REPS, pick / TUNE_REPS,
                pick > 0 ? first / pick : 0.0);
    else
        fprintf(f, "gemm tune: no shape tuned (%s)\n", h->tune_env <= 0 ?
                "off; INGOT_GEMM_TUNE=1 tunes at start-up" : "none large enough, or not at start-up");
}

/* Test builds (-Dtest_hooks=true): INGOT_TEST_NO_LT_ALGO=1 makes every
 * plan find no algorithm, so that the classic-API fallbacks (which a
 * cuBLASLt without a kernel for a layout or epilogue takes) run in the
 * kernel check. Read once; always 0 in other builds. */
static bool no_lt_algo_hook(void)
{
#ifdef INGOT_TEST_HOOKS
    static const bool on = [] {
        const char *e = getenv("INGOT_TEST_NO_LT_ALGO");
        const bool yes = e && !strcmp(e, "1");
        if (yes) /* the log shows that the run took the fallbacks */
            fprintf(stderr, "INGOT_TEST_NO_LT_ALGO=1: every cuBLASLt plan finds no algorithm "
                            "(the classic-API fallbacks run)\n");
        return yes;
    }();
    return on;
#else
    return false;
#endif
}

/* Fills plan p for call c: descriptors, layouts, and the heuristic's best
 * algorithm (or the fastest of its top candidates: tune_plan). p->ok = 0
 * when cuBLASLt has no algorithm (not an error). */
static int plan_make(kn_blas *h, lt_plan *p, const gemm_call *c, const lt_key *key,
                     cudaStream_t s)
{
    const kn_gemm *g = &c->g;
    memset(p, 0, sizeof(*p));
    p->key = *key;
    cudaDataType_t abt = cuda_type(g->ab_dt), ct = cuda_type(g->c_dt);
    CUBLAS_CHECK(cublasLtMatmulDescInit(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    int32_t ta = g->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = g->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    uint32_t epi = c->epi;
    int err;
    if ((err = set_attr(&p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta))) ||
        (err = set_attr(&p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb))) ||
        (err = set_attr(&p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi))))
        return err;
    /* Pointers are set before the heuristic: it reads their alignment. */
    if (c->bias && (err = set_attr(&p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &c->bias,
                                   sizeof(c->bias))))
        return err;
    if (c->aux) {
        int64_t ld = c->aux_ld;
        if ((err = set_attr(&p->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &c->aux,
                            sizeof(c->aux))) ||
            (err = set_attr(&p->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof(ld))))
            return err;
    }
    /* Stored shapes: op(A) is m x k, so A is (m x k) for N, (k x m) for T. */
    uint64_t ar = g->trans_a ? g->k : g->m, ac = g->trans_a ? g->m : g->k;
    uint64_t br = g->trans_b ? g->n : g->k, bc = g->trans_b ? g->k : g->n;
    CUBLAS_CHECK(cublasLtMatrixLayoutInit(&p->la, abt, ar, ac, g->lda));
    CUBLAS_CHECK(cublasLtMatrixLayoutInit(&p->lb, abt, br, bc, g->ldb));
    CUBLAS_CHECK(cublasLtMatrixLayoutInit(&p->lc, ct, g->m, g->n, g->ldc));
    if (g->batch > 1) {
        int32_t bn = g->batch;
        int64_t s[3] = {g->stride_a, g->stride_b, g->stride_c};
        cublasLtMatrixLayout_t ls[3] = {&p->la, &p->lb, &p->lc};
        for (int i = 0; i < 3; i++) {
            CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(ls[i], CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                                          &bn, sizeof(bn)));
            CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(
                ls[i], CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &s[i], sizeof(s[i])));
        }
    }
    cublasLtMatmulPreferenceOpaque_t pref;
    CUBLAS_CHECK(cublasLtMatmulPreferenceInit(&pref));
    uint64_t wsb = h->ws_bytes;
    uint32_t al[4] = {key->al_a, key->al_b, key->al_c < key->al_cin ? key->al_c : key->al_cin,
                      key->al_c};
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(&pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                      &wsb, sizeof(wsb)));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        &pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al[0], sizeof(al[0])));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        &pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al[1], sizeof(al[1])));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        &pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al[2], sizeof(al[2])));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        &pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al[3], sizeof(al[3])));
    cublasLtMatmulHeuristicResult_t res[TUNE_CANDIDATES];
    int nres = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(h->lt, &p->op, &p->la, &p->lb, &p->lc,
                                                       &p->lc, &pref, h->tune ? TUNE_CANDIDATES : 1,
                                                       res, &nres);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED || (st == CUBLAS_STATUS_SUCCESS && nres == 0) ||
        no_lt_algo_hook()) {
        p->ok = 0;
        return 0;
    }
    CUBLAS_CHECK(st);
    p->algo = res[0].algo;
    p->ok = 1;
    return tune_plan(h, p, c, res, nres, s);
}

static lt_plan *plan_get(kn_blas *h, const gemm_call *c, cudaStream_t s, int *err)
{
    const kn_gemm *g = &c->g;
    lt_key key;
    memset(&key, 0, sizeof(key));
    key.ta = g->trans_a;
    key.tb = g->trans_b;
    key.m = g->m;
    key.n = g->n;
    key.k = g->k;
    key.batch = g->batch;
    key.lda = g->lda;
    key.ldb = g->ldb;
    key.ldc = g->ldc;
    if (g->batch > 1) {
        key.sa = g->stride_a;
        key.sb = g->stride_b;
        key.sc = g->stride_c;
    }
    key.aux_ld = c->aux ? c->aux_ld : 0;
    key.ab_dt = g->ab_dt;
    key.c_dt = g->c_dt;
    key.epi = c->epi;
    key.al_a = ptr_align(g->A);
    key.al_b = ptr_align(g->B);
    key.al_c = ptr_align(g->C);
    key.al_cin = ptr_align(c->c_in);
    key.al_bias = ptr_align(c->bias);
    key.al_aux = ptr_align(c->aux);
    for (int i = 0; i < h->nplans; i++)
        if (memcmp(&h->plans[i].key, &key, sizeof(key)) == 0)
            return &h->plans[i];
    lt_plan *p;
    if (h->nplans < PLAN_CAP) {
        p = &h->plans[h->nplans++];
    } else {
        p = &h->plans[h->next_evict];
        h->next_evict = (h->next_evict + 1) % PLAN_CAP;
    }
    *err = plan_make(h, p, c, &key, s);
    if (*err) {
        memset(&p->key, 0xff, sizeof(p->key)); /* never matches */
        return NULL;
    }
    return p;
}

/* cublasGemmStridedBatchedEx for shapes cuBLASLt declines (no epilogue). */
static int classic_gemm(kn_blas *h, const kn_gemm *g, cudaStream_t s)
{
    CUBLAS_CHECK(cublasSetStream(h->cb, s));
    /* cublasSetStream drops a user workspace: set ours again, so cuBLAS
     * never allocates (and graph capture stays possible). */
    CUBLAS_CHECK(cublasSetWorkspace(h->cb, h->ws, h->ws_bytes));
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        h->cb, g->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, g->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
        g->m, g->n, g->k, &g->alpha, g->A, cuda_type(g->ab_dt), (int)g->lda, g->stride_a, g->B,
        cuda_type(g->ab_dt), (int)g->ldb, g->stride_b, &g->beta, g->C, cuda_type(g->c_dt),
        (int)g->ldc, g->stride_c, g->batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return 0;
}

/* Runs c through cuBLASLt. Returns 1 (not an error) when cuBLASLt has no
 * algorithm for it, so the caller can take another route. */
static int lt_run(kn_blas *h, const gemm_call *c, cudaStream_t s)
{
    int err = 0;
    lt_plan *p = plan_get(h, c, s, &err);
    if (!p)
        return err;
    if (!p->ok)
        return 1;
    if (c->bias && (err = set_attr(&p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &c->bias,
                                   sizeof(c->bias))))
        return err;
    if (c->aux && (err = set_attr(&p->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &c->aux,
                                  sizeof(c->aux))))
        return err;
    const kn_gemm *g = &c->g;
    CUBLAS_CHECK(cublasLtMatmul(h->lt, &p->op, &g->alpha, g->A, &p->la, g->B, &p->lb, &g->beta,
                                c_src(c), &p->lc, g->C, &p->lc, &p->algo, h->ws, h->ws_bytes, s));
    return 0;
}

static int gemm_check(const kn_gemm *g)
{
    KN_ARG_CHECK(g->m > 0 && g->n > 0 && g->k > 0 && g->batch > 0,
                 "need m, n, k, batch > 0 (m=%d n=%d k=%d batch=%d)", g->m, g->n, g->k, g->batch);
    KN_ARG_CHECK(g->A && g->B && g->C, "NULL matrix (A=%p B=%p C=%p)", g->A, g->B, g->C);
    KN_ARG_CHECK((g->ab_dt == KN_F32 || g->ab_dt == KN_BF16) &&
                     (g->c_dt == g->ab_dt || g->c_dt == KN_F32),
                 "unsupported types A/B %d, C %d", (int)g->ab_dt, (int)g->c_dt);
    long long ar = g->trans_a ? g->k : g->m, br = g->trans_b ? g->n : g->k;
    KN_ARG_CHECK(g->lda >= ar && g->ldb >= br && g->ldc >= g->m,
                 "leading dimension too small (lda=%lld/%lld ldb=%lld/%lld ldc=%lld/%d)", g->lda,
                 ar, g->ldb, br, g->ldc, g->m);
    return 0;
}

extern "C" int kn_gemm_run(kn_blas *h, const kn_gemm *g, cudaStream_t s)
{
    KN_ARG_CHECK(h && g, "h=%p g=%p", (void *)h, (const void *)g);
    int err = gemm_check(g);
    if (err)
        return err;
    gemm_call c;
    memset(&c, 0, sizeof(c));
    c.g = *g;
    c.epi = CUBLASLT_EPILOGUE_DEFAULT;
    err = lt_run(h, &c, s);
    if (err == 1)
        return classic_gemm(h, g, s);
    return err;
}

/* out[n, o] += bias[o]: the bias when no fused epilogue is available. */
template <typename T>
static __global__ void add_bias_kernel(T *out, const T *bias, int N, int OC)
{
    size_t total = (size_t)N * OC;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride)
        out[i] = kn_st<T>(kn_f(out[i]) + kn_f(bias[i % OC]));
}

static int shape_check(int N, int IC, int OC, kn_dtype dt)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(N > 0 && IC > 0 && OC > 0, "need N, IC, OC > 0 (N=%d IC=%d OC=%d)", N, IC, OC);
    return 0;
}

/* g = one (batch 1) column-major GEMM C[m,n] = op(A) op(B) + beta C over
 * tightly packed matrices: the leading dimensions follow from the shapes. */
static void packed_gemm(kn_gemm *g, int trans_a, int trans_b, int m, int n, int k, const void *A,
                        const void *B, void *C, kn_dtype ab_dt, kn_dtype c_dt, float beta)
{
    memset(g, 0, sizeof(*g));
    g->trans_a = trans_a;
    g->trans_b = trans_b;
    g->m = m;
    g->n = n;
    g->k = k;
    g->A = A;
    g->lda = trans_a ? k : m;
    g->B = B;
    g->ldb = trans_b ? n : k;
    g->C = C;
    g->ldc = m;
    g->batch = 1;
    g->ab_dt = ab_dt;
    g->c_dt = c_dt;
    g->alpha = 1.0f;
    g->beta = beta;
}

/* Clears c and sets its GEMM to the forward layout out^T[OC,N] = w inp^T
 * (alpha 1, beta 0); the caller sets the epilogue fields. */
static void fwd_call_init(gemm_call *c, void *out, const void *inp, const void *w, int N, int IC,
                          int OC, kn_dtype dt)
{
    memset(c, 0, sizeof(*c));
    packed_gemm(&c->g, 1, 0, OC, N, IC, w, inp, out, dt, dt, 0.0f);
}

/* out^T[OC,N] = w inp^T (+ bias) with epilogue epi; no-fusion fallbacks:
 * plain GEMM then the bias kernel. */
static int fwd_gemm(kn_blas *h, void *out, const void *inp, const void *w, const void *bias,
                    int N, int IC, int OC, kn_dtype dt, cudaStream_t s)
{
    gemm_call c;
    fwd_call_init(&c, out, inp, w, N, IC, OC, dt);
    c.epi = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    c.bias = bias;
    int err = lt_run(h, &c, s);
    if (err != 1)
        return err;
    if ((err = kn_gemm_run(h, &c.g, s)))
        return err;
    if (bias) {
        KN_DISPATCH(dt, T, {
            add_bias_kernel<T><<<kn_grid_for((size_t)N * OC, 256), 256, 0, s>>>(
                (T *)out, (const T *)bias, N, OC);
        });
        KN_LAUNCH_CHECK();
    }
    return 0;
}

extern "C" int kn_matmul_fwd(kn_blas *h, void *out, void *pre_gelu, const void *inp,
                             const void *w, const void *bias, int N, int IC, int OC, kn_dtype dt,
                             cudaStream_t s)
{
    KN_ARG_CHECK(h && out && inp && w, "NULL argument (h=%p out=%p inp=%p w=%p)", (void *)h, out,
                 inp, w);
    int err = shape_check(N, IC, OC, dt);
    if (err)
        return err;
    if (!pre_gelu)
        return fwd_gemm(h, out, inp, w, bias, N, IC, OC, dt, s);
    if (h->fuse_gelu && dt == KN_BF16 && own_takes(h, OWN_GELU, N, IC)) {
        const kn_g9 g = {N,        OC, IC,         inp,  IC,  w, IC, 1, out, OC, bias,
                         pre_gelu, OC, KN_G9_GELU, NULL, NULL};
        err = kn_gemm_sm90(&g, s);
        if (err != -ENOTSUP)
            return err;
    }
    if (h->fuse_gelu && OC % 8 == 0) {
        gemm_call c;
        fwd_call_init(&c, out, inp, w, N, IC, OC, dt);
        c.epi = bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
        c.bias = bias;
        c.aux = pre_gelu;
        c.aux_ld = OC;
        err = lt_run(h, &c, s);
        if (err != 1)
            return err;
    }
    if ((err = fwd_gemm(h, pre_gelu, inp, w, bias, N, IC, OC, dt, s)))
        return err;
    return kn_gelu_fwd(out, pre_gelu, (size_t)N * OC, dt, s);
}

extern "C" int kn_matmul_fwd_residual(kn_blas *h, void *out, const void *res, const void *inp,
                                      const void *w, int N, int IC, int OC, kn_dtype dt,
                                      cudaStream_t s)
{
    KN_ARG_CHECK(h && out && res && inp && w,
                 "NULL argument (h=%p out=%p res=%p inp=%p w=%p)", (void *)h, out, res, inp, w);
    int err = shape_check(N, IC, OC, dt);
    if (err)
        return err;
    const size_t es = kn_dtype_size(dt), ob = (size_t)N * OC * es;
    KN_ARG_CHECK(!overlaps(out, ob, inp, (size_t)N * IC * es) &&
                     !overlaps(out, ob, w, (size_t)OC * IC * es) &&
                     (res == out || !overlaps(out, ob, res, ob)),
                 "out %p overlaps inp %p or w %p, or res %p without being it", out, inp, w, res);
    gemm_call c;
    fwd_call_init(&c, out, inp, w, N, IC, OC, dt);
    c.epi = CUBLASLT_EPILOGUE_DEFAULT;
    c.g.beta = 1.0f;
    c.c_in = res == out ? NULL : res;
    if ((err = lt_run(h, &c, s)) != 1)
        return err;
    /* no cuBLASLt algorithm: the residual first, then the product added */
    if (res != out)
        CUDA_CHECK(cudaMemcpyAsync(out, res, ob, cudaMemcpyDeviceToDevice, s));
    return classic_gemm(h, &c.g, s);
}

/* Whether the dGELU product runs on the own Hopper GEMM. */
static bool own_dgelu(const kn_blas *h, int N, int OC, kn_dtype dt)
{
    return h->fuse_gelu && h->fuse_dgelu != 0 && dt == KN_BF16 && own_takes(h, OWN_DGELU, N, OC);
}

/* The dGELU product on the own GEMM (dinp [N, IC] = dout [N, OC] . w
 * [OC, IC], w as B in [K, N] layout), with column sums into colsum when
 * not NULL (kn_g9). -ENOTSUP: it does not take the shape. */
static int own_dgelu_run(void *dinp, const void *dout, const void *w, const void *pre_gelu,
                         float *colsum, int N, int IC, int OC, cudaStream_t s)
{
    const kn_g9 g = {N, IC, OC, dout, OC, w, IC, 0, dinp, IC, NULL, (void *)pre_gelu, IC,
                     KN_G9_DGELU, colsum, NULL};
    return kn_gemm_sm90(&g, s);
}

extern "C" int kn_matmul_bwd_inp(kn_blas *h, void *dinp, const void *dout, const void *w,
                                 const void *pre_gelu, int N, int IC, int OC, int accumulate,
                                 kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(h && dinp && dout && w, "NULL argument (h=%p dinp=%p dout=%p w=%p)", (void *)h,
                 dinp, dout, w);
    int err = shape_check(N, IC, OC, dt);
    if (err)
        return err;
    KN_ARG_CHECK(!(pre_gelu && accumulate), "pre_gelu=%p needs accumulate=0", pre_gelu);
    /* dinp [N, IC] = dout [N, OC] . w [OC, IC] (w is B in [K, N] layout);
     * INGOT_FUSE_DGELU=0 (fuse_dgelu 0) keeps the plain GEMM + dGELU pass */
    if (pre_gelu && own_dgelu(h, N, OC, dt)) {
        err = own_dgelu_run(dinp, dout, w, pre_gelu, NULL, N, IC, OC, s);
        if (err != -ENOTSUP)
            return err;
    }
    /* dinp^T[IC,N] = w^T dout^T */
    gemm_call c;
    memset(&c, 0, sizeof(c));
    kn_gemm *g = &c.g;
    packed_gemm(g, 0, 0, IC, N, OC, w, dout, dinp, dt, dt, accumulate ? 1.0f : 0.0f);
    /* The DGELU epilogue GEMM (N x 4C output, k = C) runs far below the plain
     * GEMM's rate at k >= 1024 (337 against 700-790 TFLOP/s at GPT-2 350M on
     * the H200), so there the plain GEMM plus one dGELU pass is faster:
     * 350M 203 422 against 198 277 tok/s in one call. At 124M (k = 768) the
     * epilogue keeps 473 TFLOP/s and saves the pass (docs/performance.md). */
    const int fuse = h->fuse_dgelu < 0 ? OC < DGELU_EPI_MAX_K : h->fuse_dgelu;
    if (pre_gelu && fuse && IC % 8 == 0) {
        c.epi = CUBLASLT_EPILOGUE_DGELU;
        c.aux = pre_gelu;
        c.aux_ld = IC;
        err = lt_run(h, &c, s);
        if (err != 1)
            return err;
    }
    if ((err = kn_gemm_run(h, g, s)))
        return err;
    if (pre_gelu)
        return kn_gelu_bwd(dinp, pre_gelu, dinp, (size_t)N * IC, 0, dt, s);
    return 0;
}

extern "C" int kn_matmul_fwd_swiglu(kn_blas *h, void *hout, void *gu, const void *inp,
                                    const void *w, int N, int IC, int F, kn_dtype dt,
                                    cudaStream_t s)
{
    KN_ARG_CHECK(h && hout && gu && inp && w, "NULL argument (h=%p hout=%p gu=%p inp=%p w=%p)",
                 (void *)h, hout, gu, inp, w);
    KN_ARG_CHECK(hout != gu && hout != inp && gu != inp, "aliased buffers (hout=%p gu=%p inp=%p)",
                 hout, gu, inp);
    int err = shape_check(N, IC, F, dt);
    if (err)
        return err;
    KN_ARG_CHECK(F <= INT_MAX / 2, "F=%d: the gate|up width 2F must fit an int", F);
    if (dt == KN_BF16 && own_takes(h, OWN_SWIGLU, N, IC)) {
        const kn_g9 g = {N,  F,       IC,           inp,  IC,  w, IC, 1, hout, F, NULL,
                         gu, 2LL * F, KN_G9_SWIGLU, NULL, NULL};
        err = kn_gemm_sm90(&g, s);
        if (err != -ENOTSUP)
            return err;
    }
    if ((err = kn_matmul_fwd(h, gu, NULL, inp, w, NULL, N, IC, 2 * F, dt, s)))
        return err;
    return kn_swiglu_fwd(hout, gu, N, F, dt, s);
}

extern "C" int kn_matmul_fwd_rope(kn_blas *h, void *out, const void *inp, const void *w,
                                  const float *rope, int B, int T, int IC, int OC, int nh, int hs,
                                  kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(h && out && inp && w && rope,
                 "NULL argument (h=%p out=%p inp=%p w=%p rope=%p)", (void *)h, out, inp, w,
                 (const void *)rope);
    KN_ARG_CHECK(out != inp && out != w, "aliased buffers (out=%p inp=%p w=%p)", out, inp, w);
    KN_ARG_CHECK(B > 0 && T > 0 && (long long)B * T <= INT_MAX && nh > 0 && hs > 0 &&
                     hs % 2 == 0 && (long long)nh * hs <= OC,
                 "need B, T, nh > 0, B T <= INT_MAX, even hs > 0, nh hs <= OC (B=%d T=%d nh=%d "
                 "hs=%d OC=%d)", B, T, nh, hs, OC);
    const int N = B * T;
    int err = shape_check(N, IC, OC, dt);
    if (err)
        return err;
    if (dt == KN_BF16 && own_takes(h, OWN_ROPE, N, IC)) {
        const kn_g9_rope r = {rope, T, hs, nh * hs};
        const kn_g9 g = {N,    OC, IC,         inp,  IC, w, IC, 1, out, OC, NULL,
                         NULL, 0,  KN_G9_ROPE, NULL, &r};
        err = kn_gemm_sm90(&g, s);
        if (err != -ENOTSUP)
            return err;
    }
    if ((err = kn_matmul_fwd(h, out, NULL, inp, w, NULL, N, IC, OC, dt, s)))
        return err;
    return kn_rope_fwd(out, out, rope, B, T, nh, hs, OC, dt, s);
}

extern "C" int kn_matmul_bwd_inp_swiglu(kn_blas *h, void *dgu, void *dh_scratch, const void *dout,
                                        const void *w, const void *gu, int N, int F, int OC,
                                        kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(h && dgu && dh_scratch && dout && w && gu,
                 "NULL argument (h=%p dgu=%p dh_scratch=%p dout=%p w=%p gu=%p)", (void *)h, dgu,
                 dh_scratch, dout, w, gu);
    KN_ARG_CHECK(dgu != gu && dgu != dout && dgu != dh_scratch && dh_scratch != gu &&
                     dh_scratch != dout,
                 "aliased buffers (dgu=%p dh_scratch=%p dout=%p gu=%p)", dgu, dh_scratch, dout,
                 gu);
    int err = shape_check(N, F, OC, dt);
    if (err)
        return err;
    KN_ARG_CHECK(F <= INT_MAX / 2, "F=%d: the gate|up width 2F must fit an int", F);
    if (dt == KN_BF16 && own_takes(h, OWN_DSWIGLU, N, OC)) {
        const kn_g9 g = {N, F, OC, dout, OC, w, F, 0, dgu, 2LL * F, NULL, (void *)gu, 2LL * F,
                         KN_G9_DSWIGLU, NULL, NULL};
        err = kn_gemm_sm90(&g, s);
        if (err != -ENOTSUP)
            return err;
    }
    if ((err = kn_matmul_bwd_inp(h, dh_scratch, dout, w, NULL, N, F, OC, 0, dt, s)))
        return err;
    return kn_swiglu_bwd(dgu, dh_scratch, gu, N, F, 0, dt, s);
}

extern "C" int kn_matmul_bwd_weight(kn_blas *h, float *dw, const void *dout, const void *inp,
                                    int N, int IC, int OC, int accumulate, kn_dtype dt,
                                    cudaStream_t s)
{
    KN_ARG_CHECK(h && dw && dout && inp, "NULL argument (h=%p dw=%p dout=%p inp=%p)", (void *)h,
                 (void *)dw, dout, inp);
    int err = shape_check(N, IC, OC, dt);
    if (err)
        return err;
    /* dw^T[IC,OC] (+)= inp^T dout (fp32 accumulation across micro-steps) */
    kn_gemm g;
    packed_gemm(&g, 0, 1, IC, OC, N, inp, dout, dw, dt, KN_F32, accumulate ? 1.0f : 0.0f);
    return kn_gemm_run(h, &g, s);
}

extern "C" size_t kn_matmul_bwd_scratch_bytes(int N, int OC)
{
    size_t a = kn_matmul_bwd_bias_scratch_bytes(N, OC);
    size_t b = OC > 0 ? (size_t)OC * sizeof(float) : 0;
    return a > b ? a : b;
}

static __global__ void add_f32_kernel(float *acc, const float *x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        acc[i] += x[i];
}

/* dw += dout^T inp with the bias gradient sum_n dout[n, :] written by the
 * GEMM's BGRADB epilogue into scratch (cuBLASLt writes it, it cannot add),
 * then added to dbias. 1 (not an error) when cuBLASLt has no such
 * algorithm: the caller runs the plain GEMM and the bias kernel. The GEMM
 * reads dout once for both: the separate bias kernel's pass over [N, OC] is
 * gone. */
static int bwd_weight_bgrad(kn_blas *h, float *dw, float *dbias, const void *dout,
                            const void *inp, int N, int IC, int OC, int dw_accumulate,
                            kn_dtype dt, float *scratch, cudaStream_t s)
{
    gemm_call c;
    memset(&c, 0, sizeof(c));
    packed_gemm(&c.g, 0, 1, IC, OC, N, inp, dout, dw, dt, KN_F32, dw_accumulate ? 1.0f : 0.0f);
    c.epi = CUBLASLT_EPILOGUE_BGRADB;
    c.bias = scratch;
    int err = lt_run(h, &c, s);
    if (err)
        return err;
    add_f32_kernel<<<(OC + 255) / 256, 256, 0, s>>>(dbias, scratch, OC);
    KN_LAUNCH_CHECK();
    return 0;
}

/* kn_matmul_bwd_inp_dgelu_bias's scratch layout: the own GEMM's partial
 * column sums (ceil(N / 16) rows of IC floats, 256-byte aligned), then
 * kn_matmul_bwd_bias's scratch for adding them up. */
static size_t dgelu_bias_part_bytes(int N, int IC)
{
    return ((size_t)((N + 15) / 16) * (size_t)IC * sizeof(float) + 255) & ~(size_t)255;
}

extern "C" size_t kn_matmul_bwd_inp_dgelu_bias_scratch_bytes(int N, int IC)
{
    if (N <= 0 || IC <= 0)
        return 0;
    size_t own = dgelu_bias_part_bytes(N, IC) + kn_matmul_bwd_bias_scratch_bytes((N + 15) / 16, IC);
    size_t plain = kn_matmul_bwd_bias_scratch_bytes(N, IC); /* the pass */
    return own > plain ? own : plain;
}

extern "C" int kn_matmul_bwd_inp_dgelu_bias(kn_blas *h, void *dinp, float *dbias, const void *dout,
                                            const void *w, const void *pre_gelu, int N, int IC,
                                            int OC, kn_dtype dt, void *scratch,
                                            size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(h && dinp && dbias && dout && w && pre_gelu,
                 "NULL argument (h=%p dinp=%p dbias=%p dout=%p w=%p pre_gelu=%p)", (void *)h, dinp,
                 (void *)dbias, dout, w, pre_gelu);
    int err = shape_check(N, IC, OC, dt);
    if (err)
        return err;
    const size_t need = kn_matmul_bwd_inp_dgelu_bias_scratch_bytes(N, IC);
    KN_ARG_CHECK(scratch && scratch_bytes >= need, "scratch %p of %zu bytes, need %zu", scratch,
                 scratch_bytes, need);
    if (h->fuse_dbias && own_dgelu(h, N, OC, dt)) {
        const int R = (N + 15) / 16;
        const size_t pb = dgelu_bias_part_bytes(N, IC);
        err = own_dgelu_run(dinp, dout, w, pre_gelu, (float *)scratch, N, IC, OC, s);
        if (err != -ENOTSUP)
            return err ? err
                       : kn_matmul_bwd_bias(dbias, scratch, R, IC, KN_F32, (char *)scratch + pb,
                                            scratch_bytes - pb, s);
    }
    /* cuBLASLt's DGELU_BGRAD epilogue would sum it too, but not into float32
     * with a bf16 product (CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE float: the
     * heuristic refuses it on the H200, CUDA 13.0), and a bf16 bias gradient
     * would lose what float32 accumulation keeps */
    if ((err = kn_matmul_bwd_inp(h, dinp, dout, w, pre_gelu, N, IC, OC, 0, dt, s)))
        return err;
    return kn_matmul_bwd_bias(dbias, dinp, N, IC, dt, scratch, scratch_bytes, s);
}

extern "C" int kn_matmul_bwd(kn_blas *h, void *dinp, float *dw, float *dbias, const void *dout,
                             const void *inp, const void *w, int N, int IC, int OC,
                             int dw_accumulate, kn_dtype dt, void *scratch, size_t scratch_bytes,
                             cudaStream_t s)
{
    int err = 0;
    if (dinp && (err = kn_matmul_bwd_inp(h, dinp, dout, w, NULL, N, IC, OC, 1, dt, s)))
        return err;
    if (dbias && h->fuse_bgrad && scratch && scratch_bytes >= (size_t)OC * sizeof(float) &&
        (err = shape_check(N, IC, OC, dt)) == 0 &&
        (err = bwd_weight_bgrad(h, dw, dbias, dout, inp, N, IC, OC, dw_accumulate, dt,
                                 (float *)scratch, s)) != 1)
        return err;
    if ((err = kn_matmul_bwd_weight(h, dw, dout, inp, N, IC, OC, dw_accumulate, dt, s)))
        return err;
    if (dbias)
        err = kn_matmul_bwd_bias(dbias, dout, N, OC, dt, scratch, scratch_bytes, s);
    return err;
}
