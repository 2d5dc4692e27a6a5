/* kernel-check: every CUDA kernel of kernels/ against its plain-C reference
 * (kernels/cpu/ref_ops.h, ref_llama.h) on fresh random inputs, in float32
 * and bfloat16, with a stated tolerance per kernel and precision:
 *     |gpu - ref| <= abs + rel * |ref|     for every element.
 * Outputs are poisoned (all bits set: NaN in float32 and bf16, -1 as int)
 * before each run, so an element the kernel did not write fails. For bf16
 * the inputs are rounded to bf16 first and the reference gets the same
 * rounded values; what remains is the error of the kernel's bf16 outputs
 * and intermediates.
 *
 *   kernel_check [--seed N] [--kernel NAME] [--precision fp32|bf16|all]
 *                [--bench] [--batch B] [--reps N] [--list] [--verbose]
 *
 * --bench times each kernel with CUDA events: 3 warm-up calls, then the
 * median of --reps (default 20) calls, each preceded by an L2 flush; prints
 * µs per call and GB/s (memory-bound kernels, bytes counted once each way)
 * or TFLOP/s (matrix products; materialised attention counts the full
 * T x T products, causal or not). GPT-2's kernels run at GPT-2 124M shapes
 * (B=8 unless --batch, T=1024, C=768, NH=12, V=50257, Vp=50304), the LLaMA
 * kernels at TinyLlama-1.1B's (B*T = 8192 tokens unless --batch, C=2048,
 * F=5632, 32 query / 4 kv heads of 64).
 *
 * This file is the driver and the table of kernels; the checks live in
 * kc_<area>.c and the harness in kc_harness.c (kc.h says how to add one).
 *
 * Exit status: 0 all checks pass, 1 a check failed or CUDA failed, 2 bad
 * usage, 77 no GPU (skip). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "flash_attention.h"
#include "ingot_err.h"
#include "kc.h"
#include "kc_decode.h"
#include "kn_arch.h"
#include "kn_common.h"
#include "matmul.h"

/* A unit with its own runner (seed, precision mask, bench, reps, stream ->
 * failed checks; kc_decode.h) as a table entry: it prints its own lines. */
typedef int (*kc_unit_fn)(uint64_t seed, int prec_mask, int bench, int reps, cudaStream_t s);

static int run_unit(kc *c, kn_dtype dt, kc_unit_fn unit)
{
    int fails = unit(c->seed, dt == KN_BF16 ? 2 : 1, c->bench, c->reps, c->s);
    if (fails)
        c->nfail += fails;
    else
        c->npass++;
    return fails != 0;
}

static int chk_decode(kc *c, kn_dtype dt)
{
    return run_unit(c, dt, kc_decode_run);
}

/* Every kernel, in the order they run: name (--kernel matches a part of
 * it), check, bench, once per precision?, needs cuBLAS? */
static const struct kc_entry entries[] = {
    /* GPT-2 (kc_gpt2.c) */
    {"encoder_fwd", kc_chk_encoder_fwd, kc_bench_encoder, 1, 0},
    {"encoder_bwd", kc_chk_encoder_bwd, NULL, 1, 0},
    {"layernorm_fwd", kc_chk_layernorm_fwd, kc_bench_layernorm, 1, 0},
    {"layernorm_bwd", kc_chk_layernorm_bwd, NULL, 1, 0},
    {"matmul_fwd", kc_chk_matmul_fwd, kc_bench_matmul, 1, 1},
    {"matmul_bwd", kc_chk_matmul_bwd, NULL, 1, 1},
    {"attention_fwd", kc_chk_attention_fwd, kc_bench_attention, 1, 1},
    {"attention_bwd", kc_chk_attention_bwd, NULL, 1, 1},
    {"flash_attn_fwd", kc_chk_flash_fwd, kc_bench_flash, 1, 0},
    {"flash_attn_bwd", kc_chk_flash_bwd, NULL, 1, 0},
    {"gelu", kc_chk_gelu, kc_bench_elementwise, 1, 0},
    {"residual", kc_chk_residual, NULL, 1, 0},
    {"residual_ln_fwd", kc_chk_residual_ln, NULL, 1, 0},
    {"softmax_xent", kc_chk_softmax_xent, kc_bench_xent, 1, 0},
    {"global_norm", kc_chk_global_norm, NULL, 0, 0},
    {"adamw", kc_chk_adamw, kc_bench_optimizer, 1, 0},
    {"adamw_flat", kc_chk_adamw_flat, NULL, 1, 0},
    {"convert", kc_chk_convert, kc_bench_convert, 0, 0},
    {"graph_loop", kc_chk_graph_loop, NULL, 0, 0},
    /* LLaMA (kc_llama.c) */
    {"rmsnorm_fwd", kc_chk_rmsnorm_fwd, kc_bench_llama_norm, 1, 0},
    {"residual_rmsnorm_fwd", kc_chk_residual_rmsnorm_fwd, NULL, 1, 0},
    {"rmsnorm_bwd", kc_chk_rmsnorm_bwd, NULL, 1, 0},
    {"rope_table", kc_chk_rope_table, NULL, 0, 0},
    {"rope_fwd_bwd", kc_chk_rope, kc_bench_llama_rope, 1, 0},
    {"rope_expand", kc_chk_rope_expand, NULL, 1, 0},
    {"swiglu", kc_chk_swiglu, kc_bench_llama_swiglu, 1, 0},
    {"matmul_swiglu", kc_chk_matmul_swiglu, NULL, 1, 1},
    {"matmul_rope", kc_chk_matmul_rope, NULL, 1, 1},
    {"gqa_expand", kc_chk_gqa_expand, NULL, 1, 0},
    {"gqa_attention_fwd", kc_chk_gqa_attention_fwd, kc_bench_llama_attention, 1, 1},
    {"gqa_attention_bwd", kc_chk_gqa_attention_bwd, NULL, 1, 1},
    /* units with their own runner */
    {"decode_attention", chk_decode, chk_decode, 1, 0},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: kernel_check [--seed N] [--kernel NAME] [--precision fp32|bf16|all]\n"
               "                    [--bench] [--batch B] [--reps N] [--list]\n"
               "NAME matches any kernel whose name contains it (--list shows them).\n"
               "exit: 0 pass, 1 failure, 2 usage, 77 no GPU (skip)\n");
}

static int matches(const kc *c, const char *name)
{
    return !c->filter || strstr(name, c->filter) != NULL;
}

int main(int argc, char **argv)
{
    kc ctx;
    memset(&ctx, 0, sizeof ctx);
    kc *c = &ctx;
    c->seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    c->prec_mask = 3;
    c->reps = 20;
    c->batch = 8;
    int list = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--bench")) {
            c->bench = 1;
        } else if (!strcmp(a, "--list")) {
            list = 1;
        } else if (!strcmp(a, "--verbose")) {
            c->verbose = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (val && !strcmp(a, "--seed")) {
            c->seed = strtoull(val, NULL, 0);
            i++;
        } else if (val && !strcmp(a, "--kernel")) {
            c->filter = val;
            i++;
        } else if (val && !strcmp(a, "--reps")) {
            c->reps = atoi(val);
            i++;
        } else if (val && !strcmp(a, "--batch")) {
            c->batch = atoi(val);
            i++;
        } else if (val && !strcmp(a, "--precision")) {
            c->prec_mask = !strcmp(val, "fp32") ? 1 : !strcmp(val, "bf16") ? 2
                           : !strcmp(val, "all") ? 3 : 0;
            i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!c->prec_mask || c->reps < 1 || c->batch < 1) {
        usage(stderr);
        return 2;
    }
    if (list) {
        for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
            printf("%s%s\n", entries[i].name, entries[i].bench ? " (bench)" : "");
        return 0;
    }
    if (kn_device_check()) {
        printf("kernel-check: SKIP: %s\n", ingot_errmsg());
        return 77;
    }
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
        printf("kernel-check: cudaGetDeviceProperties failed\n");
        return 1;
    }
    printf("kernel-check on %s (sm_%d%d, %d SMs, %.0f GiB), seed %llu%s\n", prop.name, prop.major,
           prop.minor, prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0,
           (unsigned long long)c->seed, c->bench ? ", bench mode" : "");
    printf("reproduce with: --seed %llu\n", (unsigned long long)c->seed);
    kn_path path;
    if (kn_arch_path(&path)) {
        printf("kernel-check: %s\n", ingot_errmsg());
        return 1;
    }
    /* gpu-check.sh runs this twice on a Hopper GPU: as is, and with
     * INGOT_PORTABLE=1 CUDA_FORCE_PTX_JIT=1 (the other GPUs' path). */
    printf("kernel path: %s%s\n", kn_path_name(path),
           getenv("CUDA_FORCE_PTX_JIT") ? " (CUDA_FORCE_PTX_JIT: the PTX, JIT-compiled)" : "");
    printf("flash attention: %s kernels\n", kn_flash_attention_impl_name(64));
    c->rng = c->seed;
    int rc = 1;
    const int forced_jit = getenv("CUDA_FORCE_PTX_JIT") != NULL;
    if (cudaStreamCreate(&c->s) != cudaSuccess) {
        printf("kernel-check: set-up failed: cudaStreamCreate\n");
        goto out;
    }
    if (kn_blas_create(&c->blas, 0)) {
        /* Forced JIT applies to cuBLAS too, which ships no PTX it can JIT
         * here: our own kernels are still checked, the GEMM-based ones not. */
        if (!forced_jit) {
            printf("kernel-check: set-up failed: %s\n", ingot_errmsg());
            goto out;
        }
        printf("kernel-check: no cuBLAS under CUDA_FORCE_PTX_JIT (%s): the GEMM-based "
               "kernels are skipped\n", ingot_errmsg());
        ingot_clear_err();
        c->blas = NULL;
    }
    c->dcap = c->bench ? ((size_t)c->batch * 1024 * 1024 * 1024 / 2 + (3ull << 30))
                       : (size_t)256 << 20;
    c->hcap = c->bench ? 0 : (size_t)256 << 20;
    if (cudaMalloc((void **)&c->dbase, c->dcap) != cudaSuccess ||
        (c->hcap && !(c->hbase = malloc(c->hcap)))) {
        printf("kernel-check: cannot allocate the %zu-byte device arena\n", c->dcap);
        goto out;
    }
    if (c->bench) {
        c->flush_bytes = (size_t)2 * prop.l2CacheSize;
        if (cudaMalloc(&c->flush, c->flush_bytes) != cudaSuccess) {
            printf("kernel-check: cannot allocate the L2 flush buffer\n");
            goto out;
        }
    }
    int ran = 0;
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        const struct kc_entry *e = &entries[i];
        kc_fn fn = c->bench ? e->bench : e->check;
        if (!fn || !matches(c, e->name))
            continue;
        if (!c->blas && e->needs_blas)
            continue; /* see the set-up */
        for (int p = 0; p < 2; p++) {
            kn_dtype dt = p ? KN_BF16 : KN_F32;
            if (e->typed ? !(c->prec_mask & (1 << p)) : p)
                continue;
            kc_arena_reset(c);
            fn(c, dt);
            ran++;
            if (cudaGetLastError() != cudaSuccess || cudaStreamSynchronize(c->s) != cudaSuccess) {
                printf("kernel-check: CUDA error after %s: stopping\n", e->name);
                c->nerr++;
                goto summary;
            }
        }
    }
    if (!ran) {
        printf("kernel-check: no kernel matches '%s' (see --list)\n", c->filter ? c->filter : "");
        rc = 2;
        goto out;
    }
summary:
    printf("kernel-check summary: %d checks ok, %d failed, %d errors (seed %llu)\n", c->npass,
           c->nfail, c->nerr, (unsigned long long)c->seed);
    rc = c->nfail || c->nerr ? 1 : 0;
out:
    cudaFree(c->flush);
    cudaFree(c->dbase);
    free(c->hbase);
    kn_blas_free(c->blas);
    if (c->s)
        cudaStreamDestroy(c->s);
    return rc;
}
