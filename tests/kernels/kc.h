/* kernel-check's harness (kc_harness.c) and the check files' entry points.
 *
 * A check file (kc_gpt2.c, kc_llama.c, ...) holds, per kernel or group of
 * kernels, a check function and optionally a bench function of type kc_fn:
 * random inputs, the plain-C reference, the CUDA launcher, then kc_check_*
 * per output with a tolerance |gpu - ref| <= abs + rel * |ref|. Everything
 * comes from the per-run arenas (kc_dalloc, kc_halloc), which the driver
 * resets before each call, so a check frees nothing.
 *
 * To add a check file: declare its functions below under its name (or in
 * its own header), add one line per kernel to entries[] in kernel_check.c,
 * and list the file among kernel_check's sources in tests/kernels/meson.build. A file with its
 * own runner, int f(seed, prec_mask, bench, reps, stream) returning the
 * failed checks (kc_decode.h), registers through run_unit() in one line. */
#ifndef INGOT_KC_H
#define INGOT_KC_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "ingot_err.h"
#include "kc_fill.h"
#include "kn_common.h"
#include "matmul.h"

typedef struct kc {
    uint64_t seed, rng;
    int bench, verbose, reps, batch;
    int prec_mask; /* bit 0: fp32, bit 1: bf16 */
    const char *filter;
    cudaStream_t s;
    kn_blas *blas; /* NULL under CUDA_FORCE_PTX_JIT: GEMM-based checks are skipped */
    /* Arenas: one device and one host block per run, reset per check. */
    char *dbase, *hbase;
    size_t dcap, dused, hcap, hused;
    int oom;
    void *flush; /* bench: buffer written between reps to evict L2 */
    size_t flush_bytes;
    int npass, nfail, nerr;
} kc;

typedef struct tol {
    double abs, rel;
} tol;

/* A check or bench function: 0, or nonzero after printing why. */
typedef int (*kc_fn)(kc *c, kn_dtype dt);

/* One kernel (or group) of kernel_check's table. */
struct kc_entry {
    const char *name;
    kc_fn check, bench; /* bench may be NULL */
    int typed;          /* runs once per precision (else once, as fp32) */
    int needs_blas;     /* skipped when there is no cuBLAS (forced PTX JIT) */
};

/* ---- errors: the macros return from the calling check ---- */

/* An infrastructure failure (CUDA error, arena exhausted): counted apart
 * from tolerance failures, and fatal for the exit status. Returns -1. */
int kc_error(kc *c, const char *kernel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define KC_TRY(kernel, call)                                                             \
    do {                                                                                 \
        int kc_e_ = (call);                                                              \
        if (kc_e_)                                                                       \
            return kc_error(c, kernel, "%s -> %d: %s", #call, kc_e_, ingot_errmsg());    \
    } while (0)

#define KC_CUDA(kernel, call)                                                            \
    do {                                                                                 \
        cudaError_t kc_e_ = (call);                                                      \
        if (kc_e_ != cudaSuccess)                                                        \
            return kc_error(c, kernel, "%s: %s", #call, cudaGetErrorString(kc_e_));      \
    } while (0)

#define KC_OOM(kernel)                                                                   \
    do {                                                                                 \
        if (c->oom)                                                                      \
            return kc_error(c, kernel, "arena exhausted (device %zu/%zu, host %zu/%zu)", \
                            c->dused, c->dcap, c->hused, c->hcap);                       \
    } while (0)

#define KC_SYNC(kernel) KC_CUDA(kernel, cudaStreamSynchronize(c->s))

/* Bench inputs: a device-side random fill (needs `K` and `c` in scope). */
#define KC_DFILL(ptr, n, dt, lo, hi)                                                     \
    KC_TRY(K, kc_fill_uniform(ptr, n, dt, c->seed + __LINE__, lo, hi, c->s))

/* ---- random numbers, arenas ---- */
uint64_t kc_rng_next(kc *c);                  /* splitmix64 */
float kc_rnd(kc *c, float lo, float hi);      /* uniform in [lo, hi) */
void *kc_dalloc(kc *c, size_t bytes);         /* device, 256-aligned; NULL + c->oom */
float *kc_halloc(kc *c, size_t n);            /* host floats; NULL + c->oom */
void kc_arena_reset(kc *c);

/* ---- bf16 on the host (round to nearest even, as __float2bfloat16_rn) ---- */
uint16_t kc_f2bf(float f);
float kc_bf2f(uint16_t h);
void kc_round_dt(float *x, size_t n, kn_dtype dt);   /* no-op for KN_F32 */

/* ---- host data, device buffers ---- */
/* n uniform values in [lo, hi), rounded to dt. */
void kc_fill(kc *c, float *x, size_t n, float lo, float hi, kn_dtype dt);
int kc_upload(kc *c, void *dev, const float *h, size_t n, kn_dtype dt);
int kc_download(kc *c, float *h, const void *dev, size_t n, kn_dtype dt);
void *kc_dup(kc *c, const float *h, size_t n, kn_dtype dt);   /* device copy as dt */
void *kc_poisoned(kc *c, size_t n, kn_dtype dt);              /* every bit set (NaN) */
float *kc_copy_of(kc *c, const float *x, size_t n);
float *kc_zeros(kc *c, size_t n);

/* ---- comparison: one printed line per call, counted pass or fail ---- */
tol kc_tol2(kn_dtype dt, double a32, double r32, double a16, double r16);
int kc_compare(kc *c, const char *kernel, kn_dtype dt, const char *what, const float *gpu,
               const float *ref, size_t n, tol t);
/* Download n elements stored as dl and compare, in a run labelled dt. */
int kc_check_as(kc *c, const char *kernel, kn_dtype dt, kn_dtype dl, const char *what,
                const void *dev, const float *ref, size_t n, tol t);
/* ... stored as dt (activations) / as float32 (gradients, statistics). */
int kc_check_dev(kc *c, const char *kernel, kn_dtype dt, const char *what, const void *dev,
                 const float *ref, size_t n, tol t);
int kc_check_f32(kc *c, const char *kernel, kn_dtype dt, const char *what, const void *dev,
                 const float *ref, size_t n, tol t);
/* Ends a check of the caller's own: frees the host arena back to mark (as
 * taken from c->hused before the check's allocations), counts a pass or a
 * failure; returns 1 if failed, else 0. */
int kc_tally(kc *c, size_t mark, int failed);
int kc_check_ints(kc *c, const char *kernel, kn_dtype dt, const char *what, const int *dev,
                  const int *ref, size_t n);

/* ---- benchmarks ---- */
typedef int (*kc_bench_call)(kc *c, void *arg);
/* Median µs of c->reps calls of fn (3 warm-ups first), each after an L2
 * flush; prints the line with bytes -> GB/s or flops -> TFLOP/s. */
int kc_bench_run(kc *c, const char *kernel, kn_dtype dt, const char *what, kc_bench_call fn,
                 void *arg, double bytes, double flops);

/* ---- kc_gpt2.c: GPT-2's kernels; benches at GPT-2 124M shapes ---- */
int kc_chk_encoder_fwd(kc *c, kn_dtype dt);
int kc_chk_encoder_bwd(kc *c, kn_dtype dt);
int kc_chk_layernorm_fwd(kc *c, kn_dtype dt);
int kc_chk_layernorm_bwd(kc *c, kn_dtype dt);
int kc_chk_matmul_fwd(kc *c, kn_dtype dt);
int kc_chk_matmul_bwd(kc *c, kn_dtype dt);
int kc_chk_attention_fwd(kc *c, kn_dtype dt);
int kc_chk_attention_bwd(kc *c, kn_dtype dt);
int kc_chk_flash_fwd(kc *c, kn_dtype dt);
int kc_chk_flash_bwd(kc *c, kn_dtype dt);
int kc_chk_gelu(kc *c, kn_dtype dt);
int kc_chk_residual(kc *c, kn_dtype dt);
int kc_chk_residual_ln(kc *c, kn_dtype dt);
int kc_chk_softmax_xent(kc *c, kn_dtype dt);
int kc_chk_global_norm(kc *c, kn_dtype dt);
int kc_chk_adamw(kc *c, kn_dtype dt);
int kc_chk_adamw_flat(kc *c, kn_dtype dt);
int kc_chk_convert(kc *c, kn_dtype dt);
int kc_chk_graph_loop(kc *c, kn_dtype dt);
int kc_bench_encoder(kc *c, kn_dtype dt);
int kc_bench_layernorm(kc *c, kn_dtype dt);
int kc_bench_matmul(kc *c, kn_dtype dt);
int kc_bench_attention(kc *c, kn_dtype dt);
int kc_bench_flash(kc *c, kn_dtype dt);
int kc_bench_elementwise(kc *c, kn_dtype dt);
int kc_bench_xent(kc *c, kn_dtype dt);
int kc_bench_optimizer(kc *c, kn_dtype dt);
int kc_bench_convert(kc *c, kn_dtype dt);

/* ---- kc_llama.c: the LLaMA kernels; benches at TinyLlama-1.1B's shape ---- */
int kc_chk_rmsnorm_fwd(kc *c, kn_dtype dt);
int kc_chk_residual_rmsnorm_fwd(kc *c, kn_dtype dt);
int kc_chk_rmsnorm_bwd(kc *c, kn_dtype dt);
int kc_chk_rope_table(kc *c, kn_dtype dt);
int kc_chk_rope(kc *c, kn_dtype dt);
int kc_chk_rope_expand(kc *c, kn_dtype dt);
int kc_chk_swiglu(kc *c, kn_dtype dt);
int kc_chk_matmul_swiglu(kc *c, kn_dtype dt);
int kc_chk_matmul_rope(kc *c, kn_dtype dt);
int kc_chk_gqa_expand(kc *c, kn_dtype dt);
int kc_chk_gqa_attention_fwd(kc *c, kn_dtype dt);
int kc_chk_gqa_attention_bwd(kc *c, kn_dtype dt);
int kc_bench_llama_norm(kc *c, kn_dtype dt);
int kc_bench_llama_rope(kc *c, kn_dtype dt);
int kc_bench_llama_swiglu(kc *c, kn_dtype dt);
int kc_bench_llama_attention(kc *c, kn_dtype dt);

#endif
