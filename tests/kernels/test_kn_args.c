/* The CUDA launchers refuse bad shapes and arguments with -EINVAL and a
 * message, before any CUDA call: this runs (and must pass) on a machine
 * without a GPU. Also checks the host-side scratch-size formulas. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "adamw.h"
#include "attention.h"
#include "convert.h"
#include "encoder.h"
#include "flash_attention.h"
#include "flash_attention_sm90.h"
#include "gelu.h"
#include "gradnorm.h"
#include "graph_loop.h"
#include "ingot_err.h"
#include "layernorm.h"
#include "matmul.h"
#include "residual.h"
#include "rmsnorm.h"
#include "xent.h"

static int failures;

/* A non-NULL pointer that must never be dereferenced (the checks come first). */
static _Alignas(16) char dummy_mem[64];
#define P ((void *)dummy_mem)
#define F ((float *)dummy_mem)
#define I ((int32_t *)dummy_mem)

static void expect_einval(int line, const char *what, int got, const char *needle)
{
    if (got != -EINVAL) {
        printf("FAIL line %d: %s returned %d, want -EINVAL (%d)\n", line, what, got, -EINVAL);
        failures++;
        return;
    }
    const char *msg = ingot_errmsg();
    if (needle && !strstr(msg, needle)) {
        printf("FAIL line %d: %s: message \"%s\" lacks \"%s\"\n", line, what, msg, needle);
        failures++;
        return;
    }
    printf("ok   %s: %s\n", what, msg);
}

#define EXPECT(call, needle) expect_einval(__LINE__, #call, (call), needle)

static void expect_eq(int line, const char *what, size_t got, size_t want)
{
    if (got != want) {
        printf("FAIL line %d: %s = %zu, want %zu\n", line, what, got, want);
        failures++;
    } else {
        printf("ok   %s = %zu\n", what, got);
    }
}

#define EQ(expr, want) expect_eq(__LINE__, #expr, (expr), (want))

int main(void)
{
    cudaStream_t s = 0;
    /* dtype and NULL checks */
    EXPECT(kn_gelu_fwd(P, P, 10, (kn_dtype)7, s), "dtype");
    EXPECT(kn_gelu_fwd(NULL, P, 10, KN_F32, s), "NULL");
    EXPECT(kn_gelu_bwd(P, NULL, P, 10, 0, KN_BF16, s), "NULL");
    EXPECT(kn_residual_fwd(P, P, NULL, 10, KN_F32, s), "NULL");
    EXPECT(kn_convert(P, (kn_dtype)3, P, KN_F32, 4, s), "dtype");
    EXPECT(kn_widen_u16(NULL, (const uint16_t *)P, 4, s), "NULL");
    EXPECT(kn_load_ids_at(I, P, 1, 4, 4, NULL, s), "NULL");
    {
        kn_graph_loop l = { 0 };
        EXPECT(kn_graph_loop_begin(&l, I, 0, s, (cudaStream_t)P), "n 0");
        EXPECT(kn_graph_loop_begin(&l, I, 2, s, s), "a stream of its own");   /* the body needs its own stream */
        EXPECT(kn_graph_loop_end(&l), "is not open");
        kn_graph_loop_abort(&l);   /* not open: nothing to end */
    }
    /* shapes */
    EXPECT(kn_layernorm_fwd(P, F, F, P, P, P, 4, 0, KN_F32, s), "C=0");
    EXPECT(kn_layernorm_fwd(P, F, F, P, P, P, -1, 8, KN_F32, s), "N=-1");
    EXPECT(kn_residual_layernorm_fwd(P, P, F, F, P, P, P, P, 4, 0, KN_BF16, s), "C=0");
    EXPECT(kn_residual_layernorm_fwd(P, P, F, F, P, NULL, P, P, 4, 8, KN_F32, s), "b=(nil)");
    EXPECT(kn_residual_layernorm_fwd(P, P, F, F, P, P, P, P, 4, 8, KN_F32, s), "may not alias");
    EXPECT(kn_layernorm_bwd(P, F, F, P, P, P, F, F, 4, 100000, 1, KN_F32, P, 1 << 20, s),
           "C=100000");
    EXPECT(kn_layernorm_bwd(P, F, F, P, P, P, F, F, 64, 96, 1, KN_F32, P, 16, s), "scratch");
    EXPECT(kn_encoder_fwd(P, I, P, P, 2, 0, 8, 10, KN_F32, s), "T=0");
    EXPECT(kn_encoder_fwd(P, I, P, P, 2, 4, 8, 0, KN_BF16, s), "V=0");
    EXPECT(kn_encoder_bwd(F, F, P, I, 2, 4, 8, -3, KN_F32, P, 1 << 20, s), "V=-3");
    EXPECT(kn_softmax_xent(F, P, NULL, P, I, 4, 1025, 1024, 1.0f, KN_F32, s), "V <= Vp");
    EXPECT(kn_softmax_xent(F, P, NULL, P, I, 4, 0, 1024, 1.0f, KN_F32, s), "V <= Vp");
    EXPECT(kn_xent_sum(F, NULL, NULL, NULL, 4, 0, s), "loss_sum without losses");
    EXPECT(kn_global_norm(F, F, F, 100, 1.0f, P, 8, s), "scratch");
    EXPECT(kn_adamw(F, F, F, F, NULL, KN_F32, 10, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f, 0, NULL, s),
           "t=0");
    EXPECT(kn_matmul_bwd_bias(F, P, 10, 0, KN_F32, NULL, 0, s), "OC=0");
    /* kn_blas-taking launchers refuse a NULL context before anything else */
    EXPECT(kn_matmul_fwd(NULL, P, NULL, P, P, NULL, 4, 4, 4, KN_F32, s), "NULL");
    EXPECT(kn_matmul_bwd_inp(NULL, P, P, P, NULL, 4, 4, 4, 0, KN_F32, s), "NULL");
    EXPECT(kn_matmul_bwd_weight(NULL, F, P, P, 4, 4, 4, 1, KN_F32, s), "NULL");
    EXPECT(kn_matmul_fwd_residual(NULL, P, P, P, P, 4, 4, 4, KN_F32, s), "NULL");
    /* a context is needed past the NULL check: any non-NULL pointer will do,
     * the overlap checks come before it is used */
    kn_blas *hb = (kn_blas *)dummy_mem;
    EXPECT(kn_matmul_fwd_residual(hb, dummy_mem, dummy_mem + 32, dummy_mem, dummy_mem + 32, 2,
                                  2, 2, KN_F32, s), "overlaps");
    EXPECT(kn_matmul_fwd_residual(hb, dummy_mem, dummy_mem + 4, dummy_mem + 32,
                                  dummy_mem + 48, 1, 2, 2, KN_F32, s), "overlaps");
    EXPECT(kn_matmul_bwd_inp_dgelu_bias(NULL, P, F, P, P, P, 4, 4, 4, KN_F32, P, 1 << 20, s),
           "NULL");
    EXPECT(kn_gemm_run(NULL, NULL, s), "h=");
    EXPECT(kn_attention_fwd(NULL, P, P, P, 2, 8, 96, 5, KN_F32, P, 1 << 20, s), "C % NH");
    EXPECT(kn_attention_fwd(NULL, P, P, P, 2, 8, 1024, 2, KN_F32, P, 1 << 20, s), "head size");
    EXPECT(kn_attention_bwd(NULL, P, P, P, P, 2, 8, 96, 4, 0, KN_F32, P, 16, s), "NULL");
    /* flash attention: bf16 only, hs in {32, 64} */
    EXPECT(kn_flash_attention_fwd(P, F, P, 2, 8, 768, 12, KN_F32, s), "needs bf16");
    EXPECT(kn_flash_attention_fwd(P, F, P, 2, 8, 96, 4, KN_BF16, s), "hs in");
    EXPECT(kn_flash_attention_fwd(NULL, F, P, 2, 8, 768, 12, KN_BF16, s), "NULL");
    EXPECT(kn_flash_attention_fwd(dummy_mem + 2, F, P, 2, 8, 768, 12, KN_BF16, s), "aligned");
    EXPECT(kn_flash_attention_bwd(P, P, P, P, F, 2, 8, 768, 12, 0, KN_BF16, P, 4, s), "scratch");
    /* with RoPE's backward: the table is needed, then the backward's checks */
    EXPECT(kn_flash_gqa_rope_bwd(P, P, P, P, F, NULL, 2, 8, 32, 4, 64, KN_BF16, P, 1 << 20, s),
           "NULL or not 16-byte aligned");
    EXPECT(kn_flash_gqa_rope_bwd(P, P, P, P, F, (const float *)((const char *)F + 4), 2, 8, 32, 4,
                                 64, KN_BF16, P, 1 << 20, s),
           "not 16-byte aligned");
    EXPECT(kn_flash_gqa_rope_bwd(P, P, P, P, F, F, 2, 8, 32, 4, 64, KN_BF16, P, 4, s), "scratch");
    /* with qkv's bias gradient: dbias needed, its scratch in front of the
     * backward's (column sums, the bias pass's), bad shapes size 0 */
    EXPECT(kn_flash_attention_bwd_dbias(P, NULL, P, P, P, F, 2, 8, 768, 12, KN_BF16, P, 1 << 20,
                                        s),
           "NULL buffer (dbias");
    EXPECT(kn_flash_attention_bwd_dbias(P, F, P, P, P, F, 2, 8, 768, 12, KN_BF16, P, 4, s),
           "scratch");
    EXPECT(kn_flash_attention_bwd_dbias(P, F, P, P, P, F, 0, 8, 768, 12, KN_BF16, P, 1 << 20, s),
           "B, T > 0");
    EQ(kn_flash_attention_bwd_dbias_scratch_bytes(2, 8, 96, 5), (size_t)0);
    EQ(kn_flash_attention_bwd_dbias_scratch_bytes(0, 8, 768, 12), (size_t)0);
    {
        /* [B ceil(T / 128), 3C] float sums, the larger bias-pass scratch of
         * its two inputs (B T rows of dqkv, B ceil(T / 128) of sums), each
         * rounded up to 256 bytes, then the backward's own */
        const size_t sums = ((size_t)2 * 1 * 3 * 768 * 4 + 255) & ~(size_t)255;
        size_t pass = kn_matmul_bwd_bias_scratch_bytes(2 * 8, 3 * 768);
        if (kn_matmul_bwd_bias_scratch_bytes(2, 3 * 768) > pass)
            pass = kn_matmul_bwd_bias_scratch_bytes(2, 3 * 768);
        const size_t bwd = kn_flash_attention_bwd_scratch_bytes(2, 8, 768, 12);
        EQ(kn_flash_attention_bwd_dbias_scratch_bytes(2, 8, 768, 12),
           sums + ((pass + 255) & ~(size_t)255) + bwd);
    }
    EQ((size_t)kn_flash_attention_supported(768, 12, KN_BF16), (size_t)1);
    EQ((size_t)kn_flash_attention_supported(768, 12, KN_F32), (size_t)0);
    /* hs 128: only the Hopper kernels take it (where the sm_90a code runs) */
    EQ((size_t)kn_flash_attention_supported(1024, 8, KN_BF16),
       (size_t)(strcmp(kn_flash_attention_impl_name(128), "sm90") == 0));
    /* Dsum (2 * 12 * 37 floats, rounded up to 256 bytes), and where the
     * Hopper kernels run the fused backward's float32 dq (whole 64-query
     * blocks) and one counter per 64-query block */
    EQ(kn_flash_attention_bwd_scratch_bytes(2, 37, 768, 12),
       (size_t)3584 + (strcmp(kn_flash_attention_impl_name(64), "sm90") == 0
                           ? (size_t)2 * 12 * 64 * 64 * 4 + 2 * 12 * 1 * 4
                           : 0));
    {
        kn_blas *h = NULL;
        EXPECT(kn_blas_create(NULL, 0), "out=");
        (void)h;
        kn_blas_free(NULL); /* accepts NULL */
    }

    /* scratch sizes (pure host arithmetic) */
    EQ(kn_global_norm_scratch_bytes(), (size_t)8192);
    /* 4*B*T*C elements, each slot 256-byte aligned: 2*37*96*4 = 28416 -> 28416 */
    EQ(kn_attention_fwd_scratch_bytes(2, 37, 96, 4, KN_F32), (size_t)4 * 28416);
    /* bf16 slot: 14208 -> 14336; att: 2*4*37*37*2 = 21904 -> 22016 */
    EQ(kn_attention_bwd_scratch_bytes(2, 37, 96, 4, KN_BF16), (size_t)7 * 14336 + 22016);
    /* 74 rows: a block of 8 warps x 4 rows covers 32, so 3 blocks x 2C floats */
    EQ(kn_layernorm_bwd_scratch_bytes(74, 96), (size_t)3 * 3 * 96 * 4);
    /* many rows: capped at 512 blocks */
    EQ(kn_layernorm_bwd_scratch_bytes(1 << 20, 768), (size_t)512 * 3 * 768 * 4);
    /* splits: the larger of the scalar kernel's (256 rows each, <= 64) and the
     * vector kernel's (about 1056 blocks of 256 columns, >= 64 rows, <= 256) */
    EQ(kn_matmul_bwd_bias_scratch_bytes(60, 768), (size_t)0);        /* one split: none */
    EQ(kn_matmul_bwd_bias_scratch_bytes(100, 768), (size_t)2 * 768 * 4);
    EQ(kn_matmul_bwd_bias_scratch_bytes(3000, 100), (size_t)47 * 100 * 4);
    EQ(kn_matmul_bwd_bias_scratch_bytes(16384, 768), (size_t)256 * 768 * 4);
    EQ(kn_matmul_bwd_bias_scratch_bytes(65536, 3072), (size_t)88 * 3072 * 4);
    EQ(kn_layernorm_bwd_scratch_bytes(0, 96), (size_t)0);
    /* the dGELU product's column sums per 16 rows (4096 x 3072 floats), then
     * the bias kernel's splits over those 4096 rows (64) */
    EQ(kn_matmul_bwd_inp_dgelu_bias_scratch_bytes(65536, 3072),
       (size_t)4096 * 3072 * 4 + (size_t)64 * 3072 * 4);
    EQ(kn_matmul_bwd_inp_dgelu_bias_scratch_bytes(0, 3072), (size_t)0);
    /* RMSNorm: the larger of the warp kernel's blocks (32 rows, <= 512) and
     * the row kernel's (16 rows, <= 1024), C floats each */
    EQ(kn_rmsnorm_bwd_scratch_bytes(9, 2048), (size_t)1 * 2048 * 4);
    EQ(kn_rmsnorm_bwd_scratch_bytes(16384, 2048), (size_t)1024 * 2048 * 4);
    EQ(kn_rmsnorm_bwd_scratch_bytes(0, 2048), (size_t)0);
    /* the Hopper fused backward's work: float32 dq [B NH, T rounded up to
     * a 64-row block, hs], where heads are grouped a float32 dk/dv
     * accumulator [B NKV, T rounded up to a 128-row block, 2 hs], one int per
     * 64-query block and (grouped) per (b, kv head, 128-key block); none
     * where it does not run (hs 128, uneven groups) */
    EQ(kn_fa_sm90_bwd_work_bytes(64, 1024, 12, 12, 64),
       (size_t)64 * 12 * 1024 * 64 * 4 + 64 * 12 * 16 * 4);
    EQ(kn_fa_sm90_bwd_work_bytes(8, 2048, 32, 4, 64),
       (size_t)8 * 32 * 2048 * 64 * 4 + 8 * 4 * 2048 * 128 * 4 + (8 * 32 * 32 + 8 * 4 * 16) * 4);
    EQ(kn_fa_sm90_bwd_work_bytes(2, 37, 4, 2, 64),
       (size_t)2 * 4 * 64 * 64 * 4 + 2 * 2 * 128 * 128 * 4 + (2 * 4 + 2 * 2) * 4);
    EQ(kn_fa_sm90_bwd_work_bytes(8, 2048, 16, 16, 128), (size_t)0);
    EQ(kn_fa_sm90_bwd_work_bytes(8, 2048, 6, 4, 64), (size_t)0);
    EQ(kn_fa_sm90_bwd_work_bytes(0, 2048, 32, 4, 64), (size_t)0);

    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
