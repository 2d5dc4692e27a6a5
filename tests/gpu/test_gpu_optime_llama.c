/* The LLaMA CUDA model's per-operation timer (tr_cuda_llama_set_optime):
 *  - measurement only: a training pass with the timer on gives the same
 *    loss and gradients, bit for bit, as one with it off;
 *  - every launcher call is marked once: the printed table holds exactly the
 *    expected operations with the expected calls per pass (per layer and
 *    once per pass), on each attention path (gqa and expand in bf16, mat in
 *    fp32; gqa both with RoPE in the QKV product and with its own pass);
 *  - a TFLOP/s figure for the products and the flash attention, none for the
 *    memory-bound operations.
 * Tiny model (L2, 4 query / 2 kv heads of 64, F 512, T 128, batch 2).
 * Exit: 0 pass, 1 failure, 77 no GPU (skip). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "gpu_step_bufs.h"
#include "kn_common.h"
#include "matmul.h"
#include "tr_cuda_llama.h"
#include "tr_cuda_prof.h"
#include "tr_llama_params.h"
#include "tr_rng.h"
#include "tt_util.h"

#define CK(call) CHECK((call) == cudaSuccess)

enum { L = 2, B = 2, T = 128 };

/* An operation the table must hold: calls per pass = per_layer * L + fixed. */
struct want {
    const char *name;
    int per_layer, fixed;
    bool flops;   /* a TFLOP/s figure expected */
};

static const struct want common_ops[] = {
    { "encoder_fwd", 0, 1, false },
    { "rmsnorm_fwd", 2, 1, false }, /* the residual adds are in wo's and down's products */
    { "matmul_fwd qkv", 1, 0, true },
    { "matmul_fwd wo", 1, 0, true },
    { "matmul_fwd swiglu", 1, 0, true }, /* gate|up product + SwiGLU */
    { "matmul_fwd down", 1, 0, true },
    { "matmul_fwd lm_head", 0, 1, true },
    { "softmax_xent", 0, 1, false },
    { "xent_sum", 0, 1, false },
    { "matmul_bwd_inp lm_head", 0, 1, true },
    { "matmul_bwd_w lm_head", 0, 1, true },
    { "rmsnorm_bwd", 2, 1, false },
    { "matmul_bwd_inp swiglu", 1, 0, true }, /* down's input gradient + SwiGLU's */
    { "matmul_bwd_w down", 1, 0, true },
    { "matmul_bwd_inp gateup", 1, 0, true },
    { "matmul_bwd_w gateup", 1, 0, true },
    { "matmul_bwd_inp wo", 1, 0, true },
    { "matmul_bwd_w wo", 1, 0, true },
    { "matmul_bwd_inp qkv", 1, 0, true },
    { "matmul_bwd_w qkv", 1, 0, true },
    { "dpos_clear", 0, 1, false },
    { "encoder_bwd", 0, 1, false },
};
/* gqa with INGOT_LLAMA_ROPE_EPI=0: the rotation as an op of its own (by
 * default it is inside "matmul_fwd qkv": kn_matmul_fwd_rope) */
static const struct want gqa_pass_ops[] = {
    { "rope_fwd", 1, 0, false }, /* its backward is in attention_bwd's */
};
static const struct want expand_ops[] = {
    { "rope_expand_fwd", 1, 0, false },
    { "rope_expand_recompute", 1, 0, false },
    { "rope_expand_bwd", 1, 0, false },
};

static int failures;

/* The table's line for name: its calls and whether it has a TFLOP/s figure
 * (tr_cuda_optime_print: the name padded to 22, ms, share, calls, TFLOP/s,
 * the last blank when no FLOPs were given). */
static bool find_op(const char *table, const char *name, long *calls, bool *tflops)
{
    const size_t n = strlen(name), w = n > 22 ? n : 22;
    for (const char *l = table; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char line[160];
        size_t len = strcspn(l, "\n");
        if (len >= sizeof line)
            continue;
        memcpy(line, l, len);
        line[len] = '\0';
        /* the whole name field: "matmul_fwd" is not "matmul_fwd qkv" */
        if (len <= w || strncmp(line, name, n) || strspn(line + n, " ") < w - n)
            continue;
        double ms, share;
        char tf[32] = "";
        int got = sscanf(line + w, "%lf %lf%% %ld %31s", &ms, &share, calls, tf);
        *tflops = got == 4;
        return got >= 3;
    }
    return false;
}

/* Operation lines of the table: those between the header (the first line)
 * and the total. */
static int table_ops(const char *table)
{
    int lines = 0;
    for (const char *l = strchr(table, '\n'); l && l[1] && strncmp(l + 1, "total ", 6);
         l = strchr(l + 1, '\n'))
        lines++;
    return lines;
}

/* The value after a line's label ("total", "kind products", ...), or -1. */
static double table_value(const char *table, const char *label)
{
    const size_t n = strlen(label);
    for (const char *l = table; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, label, n) && l[n] == ' ')
            return strtod(l + n, NULL);
    return -1.0;
}

/* The kinds after the total (products, attention, other) add up to it, and
 * this model has time in each. */
static void check_kinds(const char *path, const char *table)
{
    const double total = table_value(table, "total");
    const double p = table_value(table, "kind products"), a = table_value(table, "kind attention"),
                 o = table_value(table, "kind other");
    if (total <= 0 || p <= 0 || a <= 0 || o <= 0 || fabs(p + a + o - total) > 0.002 + 1e-3 * total) {
        printf("FAIL %s: kinds products %.3f + attention %.3f + other %.3f against total %.3f\n",
               path, p, a, o, total);
        failures++;
    }
}

static void check_ops(const char *path, const char *table, const struct want *w, int n)
{
    for (int i = 0; i < n; i++) {
        long calls = -1;
        bool tf = false;
        long want_calls = (long)w[i].per_layer * L + w[i].fixed;
        if (!find_op(table, w[i].name, &calls, &tf) || calls != want_calls ||
            tf != w[i].flops) {
            printf("FAIL %s: %s: %ld calls per pass (want %ld), TFLOP/s %s (want %s)\n", path,
                   w[i].name, calls, want_calls, tf ? "yes" : "no", w[i].flops ? "yes" : "no");
            failures++;
        }
    }
}

/* One pass on path (INGOT_LLAMA_ATTN) in dt with the timer off, one with it
 * on: the same results, and the table of the timed pass. rope_pass: gqa with
 * INGOT_LLAMA_ROPE_EPI=0. */
static void run_path(const char *path, kn_dtype dt, bool rope_pass)
{
    struct tr_llama_config c;
    tr_llama_config_defaults(&c, L, 4, 256, T, 1000);
    c.n_kv_head = 2;
    c.ffn_dim = 512;
    CHECK_OK(tr_llama_config_check(&c));
    const size_t n = tr_llama_param_count(&c), N = (size_t)B * T;
    float *params = malloc(n * sizeof(float)), *g0 = malloc(n * sizeof(float)),
          *g1 = malloc(n * sizeof(float));
    int32_t *ids = malloc(2 * N * sizeof(int32_t));
    CHECK(params && g0 && g1 && ids);
    tr_llama_params_init(&c, 3, params);
    struct tr_rng r;
    tr_rng_seed(&r, 5, 5);
    for (size_t i = 0; i < 2 * N; i++)
        ids[i] = (int32_t)tr_rng_below(&r, (uint64_t)c.vocab);

    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    struct gpu_step_bufs d;
    gpu_step_bufs_upload(&d, params, n, ids, N, dt, s);

    kn_blas *blas;
    tr_cuda_llama *m;
    tr_cuda_optime *ot;
    CHECK_OK(kn_blas_create(&blas, 0));
    CHECK(setenv("INGOT_LLAMA_ATTN", path, 1) == 0);
    if (rope_pass)
        CHECK(setenv("INGOT_LLAMA_ROPE_EPI", "0", 1) == 0);
    CHECK_OK(tr_cuda_llama_create(&c, B, dt, blas, &m));
    CHECK(unsetenv("INGOT_LLAMA_ATTN") == 0 && unsetenv("INGOT_LLAMA_ROPE_EPI") == 0);
    CHECK(!strcmp(tr_cuda_llama_attention(m), path));
    CHECK_OK(tr_cuda_optime_create(64 + 32 * L, &ot));

    float loss[2];
    for (int p = 0; p < 2; p++) {
        tr_cuda_llama_set_optime(m, p ? ot : NULL);
        CK(cudaMemsetAsync(d.grads, 0, n * sizeof(float), s));
        CHECK_OK(tr_cuda_llama_forward(m, d.w, d.ids, d.ids + N, B, T, 1.0f / (float)N, d.loss,
                                       NULL, 0, s));
        CHECK_OK(tr_cuda_llama_backward(m, d.w, d.grads, 0, s));
        CHECK_OK(tr_cuda_optime_collect(ot));
        CK(cudaStreamSynchronize(s));
        CK(cudaMemcpy(&loss[p], d.loss, sizeof(float), cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(p ? g1 : g0, d.grads, n * sizeof(float), cudaMemcpyDeviceToHost));
    }
    bool same = !memcmp(&loss[0], &loss[1], sizeof(float)) &&
                !memcmp(g0, g1, n * sizeof(float));
    const char *label = rope_pass ? "gqa+pass" : path; /* in FAIL lines too */
    printf("%-8s %s: loss %.6f / %.6f, %zu gradients: timer on %s timer off\n", label,
           kn_dtype_name(dt), loss[0] / (float)N, loss[1] / (float)N, n,
           same ? "==" : "DIFFERS FROM");
    if (!same)
        failures++;

    char *table = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&table, &tlen);
    CHECK(f);
    tr_cuda_optime_print(ot, 1, f);
    CHECK(fclose(f) == 0);
    fputs(table, stdout);
    /* the materialised attention's FLOPs are not counted (tr_cuda_llama.c) */
    const bool flash = strcmp(path, "mat") != 0;
    const struct want attn[] = {
        { "attention_fwd", 1, 0, flash },
        { "attention_bwd", 1, 0, flash },
    };
    const bool gqa = !strcmp(path, "gqa");
    int nw = (int)(sizeof(common_ops) / sizeof(common_ops[0]));
    int np = gqa ? (rope_pass ? 1 : 0) : 3;
    check_ops(label, table, common_ops, nw);
    check_ops(label, table, attn, 2);
    check_ops(label, table, gqa ? gqa_pass_ops : expand_ops, np);
    check_kinds(label, table);
    if (table_ops(table) != nw + 2 + np) {
        printf("FAIL %s: %d operations in the table, want %d\n", label, table_ops(table),
               nw + 2 + np);
        failures++;
    }

    free(table);
    tr_cuda_optime_free(ot);
    tr_cuda_llama_free(m);
    kn_blas_free(blas);
    gpu_step_bufs_free(&d);
    cudaStreamDestroy(s);
    free(params);
    free(g0);
    free(g1);
    free(ids);
}

int main(void)
{
    if (kn_device_check()) {
        printf("SKIP: %s\n", ingot_errmsg());
        return TT_SKIP;
    }
    /* each run sets the RoPE switch it needs (an exported one would change
     * the op list) */
    CHECK(unsetenv("INGOT_LLAMA_ROPE_EPI") == 0);
    run_path("gqa", KN_BF16, false);
    run_path("gqa", KN_BF16, true);
    run_path("expand", KN_BF16, false);
    run_path("mat", KN_F32, false);
    printf("%s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
