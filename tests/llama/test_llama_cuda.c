/* The LLaMA model on the GPU (train/tr_cuda_llama.c) against the CPU model
 * (train/tr_cpu_llama.c, itself checked against PyTorch float64): logits,
 * loss and the gradient of every tensor, fp32 and bf16, on tiny GQA and MQA
 * (tied) models. Each line prints max |gpu - cpu| / max |cpu| for one
 * tensor; fp32 must agree to float rounding (no TF32), bf16 to bf16
 * rounding carried through the layers. Then the same pass with the backward
 * WRITING the gradients (a step's first micro-step) into a buffer of NaNs
 * must equal the one added to zeros on every element.
 *
 * Exit: 0 pass, 1 failure, 77 no GPU (skip). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "ingot_err.h"
#include "kn_common.h"
#include "ll_testlib.h"
#include "matmul.h"
#include "tr_cpu_llama.h"
#include "tr_cuda_llama.h"
#include "tr_llama_params.h"

static int failures;

static int cuda_ok(cudaError_t e, const char *what)
{
    if (e != cudaSuccess) {
        fprintf(stderr, "CUDA: %s: %s\n", what, cudaGetErrorString(e));
        failures++;
        return 0;
    }
    return 1;
}

static uint16_t f2bf(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float bf2f(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* max |a - b| / max |b| over n, printed; fails over tol. */
static void cmp(const char *model, kn_dtype dt, const char *what, const float *gpu,
                const float *cpu, size_t n, double tol)
{
    double e = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)gpu[i] - cpu[i]);
        e = d > e || isnan(d) ? (isnan(d) ? INFINITY : d) : e;
        s = fmax(s, fabs(cpu[i]));
    }
    double rel = s > 0 ? e / s : e;
    int ok = rel <= tol;
    printf("%-8s %-4s %-14s max|err| %9.3e  / max|cpu| %9.3e = %9.3e  (tol %g) %s\n", model,
           kn_dtype_name(dt), what, e, s, rel, tol, ok ? "PASS" : "FAIL");
    failures += !ok;
}

/* The grads-ready callback must come once per layer, top down, then -1. */
struct ready_log {
    int next, bad;
};

static int on_ready(void *ctx, int l, cudaStream_t s)
{
    struct ready_log *r = ctx;
    (void)s;
    if (l != r->next)
        r->bad = 1;
    r->next = l - 1;
    return 0;
}

/* The same pass again, its backward WRITING the gradients (write 1) into a
 * buffer whose every bit is set (NaN): what a step's first micro-step does
 * without a zeroing pass. Host copy of them (NULL and *err set on failure). */
static float *written_grads(tr_cuda_llama *m, const void *dw, const int32_t *dinp,
                            const int32_t *dtgt, int B, int T, size_t n, cudaStream_t st,
                            struct ready_log *ready, const struct tr_llama_config *c, int *err)
{
    float *dg = NULL, *h = ll_zeros(n);
    if (!ready->bad && ready->next == -2) /* the first pass's order is good: log this one */
        *ready = (struct ready_log){ c->n_layer - 1, 0 };
    if (!cuda_ok(cudaMalloc((void **)&dg, n * sizeof(float)), "cudaMalloc") ||
        !cuda_ok(cudaMemset(dg, 0xff, n * sizeof(float)), "memset")) {
        *err = INGOT_E_CUDA;
    } else if (!(*err = tr_cuda_llama_forward(m, dw, dinp, dtgt, B, T, 1.0f / (B * T), NULL,
                                                NULL, 0, st)) &&
               !(*err = tr_cuda_llama_backward(m, dw, dg, 1, st)) &&
               !(cuda_ok(cudaStreamSynchronize(st), "written backward") &&
                 cuda_ok(cudaMemcpy(h, dg, n * sizeof(float), cudaMemcpyDeviceToHost),
                         "download"))) {
        *err = INGOT_E_CUDA;
    }
    cudaFree(dg);
    if (*err) {
        free(h);
        return NULL;
    }
    return h;
}

static void run(const char *model, struct tr_llama_config *c, int B, kn_dtype dt, kn_blas *blas,
                cudaStream_t st)
{
    int T = c->seq_len, N = B * T, Vp = c->vocab_padded;
    size_t n = tr_llama_param_count(c), sizes[TL_NUM_PARAMS];
    tr_llama_param_sizes(c, sizes);
    float *p = ll_zeros(n), *g = ll_zeros(n), *lg = ll_zeros((size_t)N * Vp);
    tr_llama_params_init(c, 77, p);
    /* gains off 1 (their gradients are then exercised) */
    struct tr_llama_tensors t;
    tr_llama_tensors_map(c, p, &t);
    for (size_t i = 0; i < (size_t)c->n_layer * c->n_embd; i++) {
        t.attn_norm[i] += 0.2f * (float)sin(0.7 * i);
        t.ffn_norm[i] += 0.2f * (float)cos(0.3 * i);
    }
    if (dt == KN_BF16)   /* the CPU reads the weights the GPU reads */
        for (size_t i = 0; i < n; i++)
            p[i] = bf2f(f2bf(p[i]));
    int32_t *chunk = malloc((size_t)B * (T + 1) * sizeof(int32_t));
    int32_t *tok = malloc((size_t)N * 2 * sizeof(int32_t));
    for (int i = 0; i < B * (T + 1); i++)
        chunk[i] = (int32_t)((i * 2654435761u) % (unsigned)c->vocab);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < T; k++) {
            tok[b * T + k] = chunk[b * (T + 1) + k];
            tok[N + b * T + k] = chunk[b * (T + 1) + k + 1];
        }
    double loss;
    if (tr_cpu_llama_forward_backward(c, p, chunk, B, &loss, g, lg)) {
        fprintf(stderr, "cpu: %s\n", ingot_errmsg());
        failures++;
        return;
    }

    size_t es = kn_dtype_size(dt);
    void *dw = NULL, *dtok = NULL, *dsum = NULL;
    float *dg = NULL;
    tr_cuda_llama *m = NULL;
    if (!cuda_ok(cudaMalloc(&dw, n * es), "cudaMalloc") ||
        !cuda_ok(cudaMalloc((void **)&dg, n * sizeof(float)), "cudaMalloc") ||
        !cuda_ok(cudaMalloc(&dtok, (size_t)N * 2 * sizeof(int32_t)), "cudaMalloc") ||
        !cuda_ok(cudaMalloc(&dsum, sizeof(float)), "cudaMalloc"))
        return;
    if (dt == KN_F32) {
        cuda_ok(cudaMemcpy(dw, p, n * 4, cudaMemcpyHostToDevice), "upload");
    } else {
        uint16_t *h = malloc(n * 2);
        for (size_t i = 0; i < n; i++)
            h[i] = f2bf(p[i]);
        cuda_ok(cudaMemcpy(dw, h, n * 2, cudaMemcpyHostToDevice), "upload");
        free(h);
    }
    cuda_ok(cudaMemcpy(dtok, tok, (size_t)N * 2 * sizeof(int32_t), cudaMemcpyHostToDevice),
            "upload");
    cuda_ok(cudaMemset(dg, 0, n * sizeof(float)), "memset");
    int32_t *dinp = dtok, *dtgt = (int32_t *)dtok + N;
    struct ready_log ready = { c->n_layer - 1, 0 };
    int err = tr_cuda_llama_create(c, B, dt, blas, &m);
    if (!err)
        tr_cuda_llama_on_grads_ready(m, on_ready, &ready);
    if (!err)
        err = tr_cuda_llama_forward(m, dw, dinp, NULL, B, T, 0.0f, NULL, NULL, 0, st);
    float *glg = ll_zeros((size_t)N * Vp);
    if (!err && cuda_ok(cudaStreamSynchronize(st), "forward")) {
        if (dt == KN_F32) {
            cuda_ok(cudaMemcpy(glg, tr_cuda_llama_logits(m), (size_t)N * Vp * 4,
                               cudaMemcpyDeviceToHost), "download");
        } else {
            uint16_t *h = malloc((size_t)N * Vp * 2);
            cuda_ok(cudaMemcpy(h, tr_cuda_llama_logits(m), (size_t)N * Vp * 2,
                               cudaMemcpyDeviceToHost), "download");
            for (size_t i = 0; i < (size_t)N * Vp; i++)
                glg[i] = bf2f(h[i]);
            free(h);
        }
    }
    if (!err)
        err = tr_cuda_llama_forward(m, dw, dinp, dtgt, B, T, 1.0f / N, dsum, NULL, 0, st);
    if (!err)
        err = tr_cuda_llama_backward(m, dw, dg, 0, st);
    float *gw = err ? NULL : written_grads(m, dw, dinp, dtgt, B, T, n, st, &ready, c, &err);
    if (err) {
        fprintf(stderr, "%s %s: %s\n", model, kn_dtype_name(dt), ingot_errmsg());
        failures++;
    } else if (cuda_ok(cudaStreamSynchronize(st), "backward")) {
        float gsum = 0.0f, *gg = ll_zeros(n);
        cuda_ok(cudaMemcpy(&gsum, dsum, sizeof(float), cudaMemcpyDeviceToHost), "download");
        cuda_ok(cudaMemcpy(gg, dg, n * sizeof(float), cudaMemcpyDeviceToHost), "download");
        int bf = dt == KN_BF16;
        if (ready.bad || ready.next != -2) {
            printf("%-8s %-4s grads-ready calls out of order (next %d)  FAIL\n", model,
                   kn_dtype_name(dt), ready.next);
            failures++;
        }
        cmp(model, dt, "logits", glg, lg, (size_t)N * Vp, bf ? 3e-2 : 1e-5);
        float gl = gsum / N, cl = (float)loss;
        cmp(model, dt, "loss", &gl, &cl, 1, bf ? 1e-2 : 1e-6);
        size_t differ = 0;
        for (size_t i = 0; i < n; i++)
            differ += !(gw[i] == gg[i]); /* equal values, +0 and -0 alike; NaN never */
        printf("%-8s %-4s written gradients == added to zeros: %zu of %zu differ  %s\n", model,
               kn_dtype_name(dt), differ, n, differ ? "FAIL" : "ok");
        failures += differ != 0;
        size_t off = 0;
        for (int id = 0; id < TL_NUM_PARAMS; id++) {
            if (sizes[id])
                cmp(model, dt, tr_llama_param_name(id), gg + off, g + off, sizes[id],
                    bf ? 8e-2 : 1e-4);
            off += sizes[id];
        }
        free(gg);
    }
    free(gw);
    tr_cuda_llama_free(m);
    cudaFree(dw);
    cudaFree(dg);
    cudaFree(dtok);
    cudaFree(dsum);
    free(p); free(g); free(lg); free(glg); free(chunk); free(tok);
}

int main(void)
{
    if (kn_device_check()) {
        printf("skip: %s\n", ingot_errmsg());
        return 77;
    }
    cudaStream_t st;
    kn_blas *blas;
    if (!cuda_ok(cudaStreamCreate(&st), "cudaStreamCreate") || kn_blas_create(&blas, 0)) {
        fprintf(stderr, "setup: %s\n", ingot_errmsg());
        return 1;
    }
    for (int k = 0; k < 2; k++) {
        kn_dtype dt = k ? KN_BF16 : KN_F32;
        struct tr_llama_config c;
        tr_llama_config_defaults(&c, 2, 4, 64, 32, 300);
        c.n_kv_head = 2;
        c.ffn_dim = 160;
        run("gqa", &c, 3, dt, blas, st);
        tr_llama_config_defaults(&c, 3, 8, 128, 24, 200);
        c.n_kv_head = 1;
        c.tie_embeddings = true;
        run("mqa-tied", &c, 2, dt, blas, st);
        /* head size 64: in bf16 the three attention paths of tr_cuda_llama.c
         * (flash GQA with RoPE in place; fused RoPE + kv expansion, then
         * multi-head flash; the same with the materialised attention) */
        tr_llama_config_defaults(&c, 2, 4, 256, 48, 300);
        c.n_kv_head = 2;
        c.ffn_dim = 256;
        run("hs64", &c, 2, dt, blas, st);
        if (dt == KN_BF16) {
            setenv("INGOT_LLAMA_ATTN", "expand", 1);
            run("hs64-exp", &c, 2, dt, blas, st);
            setenv("INGOT_LLAMA_ATTN", "mat", 1);
            run("hs64-mat", &c, 2, dt, blas, st);
            unsetenv("INGOT_LLAMA_ATTN");
        }
    }
    kn_blas_free(blas);
    cudaStreamDestroy(st);
    if (failures) {
        printf("%d failure(s)\n", failures);
        return 1;
    }
    printf("all ok\n");
    return 0;
}
