/* Times the classifier kernels (kernels/xent.h) at GPT-2 124M batch 64:
 * N = 65536 rows of Vp = 50304 bf16 logits (V = 50257), in place, as the
 * trainer calls kn_softmax_xent. Per mode: the kernel that ran, the median,
 * minimum and mean of the timed calls (CUDA events around each call; fresh
 * logits are written before every call, as the trainer's classifier GEMM
 * would, which also evicts L2), and GB/s of the one-read-one-write floor
 * (2 * N * Vp * 2 bytes, 13.2 GB here). Each mode's losses, number correct
 * and the gradient of the first rows are compared with the first mode's, a
 * sanity check only: the kernel check (softmax_xent) is the real one.
 *   xent_bench [--modes two,reg,smem,smem1] [--n N] [--v V] [--vp VP]
 *              [--warmup 10] [--iters 50] [--seed S]
 * Exit 0; 1 on a CUDA or launcher error; 2 usage; 77 without a GPU. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "ingot_err.h"
#include "kc_fill.h"
#include "kn_common.h"
#include "xent.h"

enum { MAX_MODES = 8, CMP_ROWS = 64 };

typedef struct bench {
    int N, V, Vp, warmup, iters;
    unsigned long long seed;
    cudaStream_t s;
    void *logits;
    int32_t *tgt;
    float *loss;
    int *corr;
    /* the first mode's results, host */
    float *loss0;
    uint16_t *grad0;
    long long corr0;
    /* this mode's, host */
    float *loss1;
    uint16_t *grad1;
    int *corr1;
    float *ms;
    cudaEvent_t *ev;
} bench;

static int cuda_ok(cudaError_t e, const char *what)
{
    if (e != cudaSuccess)
        return ingot_fail(INGOT_E_CUDA, "%s: %s", what, cudaGetErrorString(e));
    return 0;
}

#define CK(call)                                          \
    do {                                                  \
        int ck_r_ = cuda_ok((call), #call);               \
        if (ck_r_)                                        \
            return ck_r_;                                 \
    } while (0)

#define TRY(call)                                         \
    do {                                                  \
        int try_r_ = (call);                              \
        if (try_r_)                                       \
            return try_r_;                                \
    } while (0)

static float bf2f(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Fresh logits, then one in-place call under the current mode. */
static int one_call(bench *b, int timed_slot)
{
    size_t NV = (size_t)b->N * b->Vp;
    TRY(kc_fill_uniform(b->logits, NV, KN_BF16, b->seed, -4.0f, 4.0f, b->s));
    if (timed_slot >= 0)
        CK(cudaEventRecord(b->ev[2 * timed_slot], b->s));
    TRY(kn_softmax_xent(b->loss, b->logits, b->corr, b->logits, b->tgt, b->N, b->V, b->Vp,
                        1.0f / (float)b->N, KN_BF16, b->s));
    if (timed_slot >= 0)
        CK(cudaEventRecord(b->ev[2 * timed_slot + 1], b->s));
    return 0;
}

/* One mode: a checked call (compared with the first mode's, which it
 * becomes when first), warm-up calls, timed calls; prints one line. */
static int run_mode(bench *b, kn_xent_mode mode, int first)
{
    const size_t rows = (size_t)(b->N < CMP_ROWS ? b->N : CMP_ROWS) * b->Vp;
    kn_xent_mode used = KN_XENT_TWO;
    TRY(kn_xent_set_mode(mode));
    TRY(kn_xent_kernel_for(&used, b->V, b->Vp, KN_BF16, b->logits, b->logits));

    TRY(one_call(b, -1));
    CK(cudaStreamSynchronize(b->s));
    CK(cudaMemcpy(b->loss1, b->loss, (size_t)b->N * sizeof(float), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(b->corr1, b->corr, (size_t)b->N * sizeof(int), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(b->grad1, b->logits, rows * 2, cudaMemcpyDeviceToHost));
    long long nc = 0;
    for (int n = 0; n < b->N; n++)
        nc += b->corr1[n];
    if (first) {
        memcpy(b->loss0, b->loss1, (size_t)b->N * sizeof(float));
        memcpy(b->grad0, b->grad1, rows * 2);
        b->corr0 = nc;
    }
    double dl = 0.0, dg = 0.0, nan = 0;
    for (int n = 0; n < b->N; n++) {
        double d = fabs((double)b->loss1[n] - (double)b->loss0[n]);
        if (isnan(b->loss1[n]))
            nan++;
        else if (d > dl)
            dl = d;
    }
    for (size_t i = 0; i < rows; i++) {
        double d = fabs((double)bf2f(b->grad1[i]) - (double)bf2f(b->grad0[i]));
        if (d > dg || isnan(d))
            dg = d;
    }

    for (int w = 0; w < b->warmup; w++)
        TRY(one_call(b, -1));
    for (int i = 0; i < b->iters; i++)
        TRY(one_call(b, i));
    CK(cudaStreamSynchronize(b->s));
    double mean = 0.0;
    for (int i = 0; i < b->iters; i++) {
        CK(cudaEventElapsedTime(&b->ms[i], b->ev[2 * i], b->ev[2 * i + 1]));
        mean += b->ms[i];
    }
    mean /= b->iters;
    qsort(b->ms, (size_t)b->iters, sizeof(float), cmp_float);
    double med = b->ms[b->iters / 2];
    double bytes = 2.0 * (double)b->N * b->Vp * 2.0;
    printf("%-6s kernel %-6s median %7.3f ms  min %7.3f  mean %7.3f  %6.0f GB/s (floor bytes)"
           "  | correct %lld (%+lld)  max|dloss| %.2e  max|dgrad| %.2e (first %d rows)%s\n",
           kn_xent_mode_name(mode), kn_xent_mode_name(used), med, (double)b->ms[0], mean,
           bytes / (med * 1e-3) / 1e9, nc, nc - b->corr0, dl, dg, CMP_ROWS,
           nan ? "  NaN LOSSES" : "");
    fflush(stdout);
    return 0;
}

static int parse_modes(const char *s, kn_xent_mode *modes, int *nmodes)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    *nmodes = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*nmodes == MAX_MODES)
            return ingot_fail(INGOT_E_USAGE, "--modes %s: at most %d modes", s, MAX_MODES);
        TRY(kn_xent_mode_parse(t, &modes[(*nmodes)++]));
    }
    if (!*nmodes)
        return ingot_fail(INGOT_E_USAGE, "--modes is empty: give e.g. two,reg,smem,smem1");
    return 0;
}

static int run(bench *b, const kn_xent_mode *modes, int nmodes)
{
    size_t NV = (size_t)b->N * b->Vp;
    size_t rows = (size_t)(b->N < CMP_ROWS ? b->N : CMP_ROWS) * b->Vp;
    CK(cudaStreamCreate(&b->s));
    CK(cudaMalloc(&b->logits, NV * 2));
    CK(cudaMalloc((void **)&b->tgt, (size_t)b->N * 4));
    CK(cudaMalloc((void **)&b->loss, (size_t)b->N * 4));
    CK(cudaMalloc((void **)&b->corr, (size_t)b->N * 4));
    b->loss0 = malloc((size_t)b->N * sizeof(float));
    b->loss1 = malloc((size_t)b->N * sizeof(float));
    b->corr1 = malloc((size_t)b->N * sizeof(int));
    b->grad0 = malloc(rows * 2);
    b->grad1 = malloc(rows * 2);
    b->ms = malloc((size_t)b->iters * sizeof(float));
    b->ev = calloc((size_t)b->iters * 2, sizeof(cudaEvent_t));
    if (!b->loss0 || !b->loss1 || !b->corr1 || !b->grad0 || !b->grad1 || !b->ms || !b->ev)
        return ingot_fail(-ENOMEM, "host buffers for N=%d Vp=%d", b->N, b->Vp);
    for (int i = 0; i < 2 * b->iters; i++)
        CK(cudaEventCreate(&b->ev[i]));
    TRY(kc_fill_tokens(b->tgt, (size_t)b->N, b->V, b->seed + 1, b->s));
    printf("xent_bench: N %d V %d Vp %d bf16 in place, dloss 1/N, %d warm-up + %d timed calls,"
           " floor %.2f GB\n", b->N, b->V, b->Vp, b->warmup, b->iters,
           2.0 * (double)NV * 2.0 / 1e9);
    for (int i = 0; i < nmodes; i++)
        TRY(run_mode(b, modes[i], i == 0));
    return 0;
}

/* Frees what run() allocated (any subset). */
static void bench_free(bench *b)
{
    if (b->ev)
        for (int i = 0; i < 2 * b->iters; i++)
            if (b->ev[i])
                cudaEventDestroy(b->ev[i]);
    free(b->ev);
    free(b->ms);
    free(b->loss0);
    free(b->loss1);
    free(b->corr1);
    free(b->grad0);
    free(b->grad1);
    cudaFree(b->logits);
    cudaFree(b->tgt);
    cudaFree(b->loss);
    cudaFree(b->corr);
    if (b->s)
        cudaStreamDestroy(b->s);
}

static int usage(void)
{
    fprintf(stderr, "usage: xent_bench [--modes two,reg,smem,smem1] [--n N] [--v V] [--vp VP]\n"
                    "                  [--warmup 10] [--iters 50] [--seed S]\n");
    return 2;
}

int main(int argc, char **argv)
{
    bench b = {.N = 65536, .V = 50257, .Vp = 50304, .warmup = 10, .iters = 50, .seed = 1234};
    const char *modes_s = "two,reg,smem,smem1";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (!strcmp(a, "--modes"))
            modes_s = v;
        else if (!strcmp(a, "--n"))
            b.N = atoi(v);
        else if (!strcmp(a, "--v"))
            b.V = atoi(v);
        else if (!strcmp(a, "--vp"))
            b.Vp = atoi(v);
        else if (!strcmp(a, "--warmup"))
            b.warmup = atoi(v);
        else if (!strcmp(a, "--iters"))
            b.iters = atoi(v);
        else if (!strcmp(a, "--seed"))
            b.seed = strtoull(v, NULL, 0);
        else
            return usage();
        i++;
    }
    if (b.N <= 0 || b.V <= 0 || b.V > b.Vp || b.warmup < 0 || b.iters <= 0) {
        fprintf(stderr, "xent_bench: need N > 0, 0 < V <= Vp, warmup >= 0, iters > 0\n");
        return 2;
    }
    kn_xent_mode modes[MAX_MODES];
    int nmodes = 0;
    if (parse_modes(modes_s, modes, &nmodes)) {
        fprintf(stderr, "xent_bench: %s\n", ingot_errmsg());
        return 2;
    }
    if (kn_device_check()) {
        printf("SKIP: %s\n", ingot_errmsg());
        return 77;
    }
    int r = run(&b, modes, nmodes);
    if (r)
        fprintf(stderr, "xent_bench: %s\n", ingot_errmsg());
    bench_free(&b);
    return r ? 1 : 0;
}
