/* The LLaMA CUDA launchers (kernels/rmsnorm, rope, swiglu, gqa, matmul's
 * SwiGLU products) refuse bad
 * shapes and arguments with -EINVAL and a message that names them, before
 * any CUDA call: this runs (and must pass) on a machine without a GPU. Also
 * the host-side scratch-size formulas. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "attention.h"
#include "gqa.h"
#include "ingot_err.h"
#include "matmul.h"
#include "rmsnorm.h"
#include "rope.h"
#include "swiglu.h"

static int failures;

/* A non-NULL pointer that must never be dereferenced (the checks come first). */
static _Alignas(16) char dummy_mem[64];
static _Alignas(16) char other_mem[64];
#define P ((void *)dummy_mem)
#define Q ((void *)other_mem)
#define F ((float *)dummy_mem)

static void expect_einval(int line, const char *what, int got, const char *needle)
{
    const char *msg = ingot_errmsg();
    if (got != -EINVAL) {
        printf("FAIL line %d: %s returned %d, want -EINVAL\n", line, what, got);
        failures++;
    } else if (needle && !strstr(msg, needle)) {
        printf("FAIL line %d: %s: message \"%s\" lacks \"%s\"\n", line, what, msg, needle);
        failures++;
    } else {
        printf("ok   %s\n", msg);
    }
}

#define EXPECT(call, needle) expect_einval(__LINE__, #call, (call), needle)

int main(void)
{
    /* rmsnorm */
    EXPECT(kn_rmsnorm_fwd(P, F, P, P, 1e-5f, 4, 0, KN_F32, 0), "C=0");
    EXPECT(kn_rmsnorm_fwd(P, F, P, P, 1e-5f, 4, 20000, KN_F32, 0), "C=20000");
    EXPECT(kn_rmsnorm_fwd(P, F, NULL, P, 1e-5f, 4, 8, KN_F32, 0), "NULL");
    EXPECT(kn_rmsnorm_fwd(P, F, P, P, 0.0f, 4, 8, KN_F32, 0), "eps");
    EXPECT(kn_rmsnorm_fwd(P, F, P, P, 1e-5f, 4, 8, (kn_dtype)7, 0), "dtype");
    EXPECT(kn_residual_rmsnorm_fwd(Q, P, F, P, Q, P, 1e-5f, 4, 8, KN_F32, 0), "aliases");
    EXPECT(kn_rmsnorm_bwd(P, F, P, Q, P, F, 4, 9000, 1, 1, KN_F32, P, 1 << 20, 0), "C=9000");
    EXPECT(kn_rmsnorm_bwd(P, F, P, Q, P, F, 4, 64, 1, 1, KN_F32, P, 1 << 20, 0), "aliases");
    EXPECT(kn_rmsnorm_bwd(P, F, Q, Q, P, F, 100, 64, 1, 1, KN_F32, P, 16, 0), "scratch");
    /* the scratch formula: per-block partials of C floats, fewer blocks
     * than rows, at least one */
    size_t sb = kn_rmsnorm_bwd_scratch_bytes(1000, 64);
    if (sb == 0 || sb % (64 * sizeof(float)) || sb > 1000 * 64 * sizeof(float) ||
        kn_rmsnorm_bwd_scratch_bytes(1, 64) != 64 * sizeof(float)) {
        printf("FAIL rmsnorm scratch %zu bytes for N 1000 C 64\n", sb);
        failures++;
    }
    /* rope */
    EXPECT(kn_rope_table(F, 16, 7, 10000.0, 0), "hs=7");
    EXPECT(kn_rope_table(F, 16, 8, -1.0, 0), "theta");
    EXPECT(kn_rope_fwd(P, P, F, 2, 8, 4, 16, 63, KN_F32, 0), "stride=63");
    EXPECT(kn_rope_fwd(P, P, F, 2, 8, 4, 15, 64, KN_F32, 0), "hs=15");
    EXPECT(kn_rope_bwd(P, NULL, F, 2, 8, 4, 16, 64, KN_BF16, 0), "NULL");
    EXPECT(kn_rope_expand_fwd(P, P, F, 2, 8, 4, 2, 16, KN_BF16, 0), "aliased");
    EXPECT(kn_rope_expand_fwd(P, Q, F, 2, 8, 6, 4, 16, KN_F32, 0), "NKV=4");
    EXPECT(kn_rope_expand_bwd(P, Q, F, 2, 8, 4, 2, 7, KN_F32, 0), "hs=7");
    EXPECT(kn_rope_expand_bwd(P, Q, NULL, 2, 8, 4, 2, 16, KN_F32, 0), "NULL");
    /* swiglu */
    EXPECT(kn_swiglu_fwd(P, P, 4, 8, KN_F32, 0), "aliased");
    EXPECT(kn_swiglu_fwd(P, Q, 4, 0, KN_F32, 0), "F=0");
    EXPECT(kn_swiglu_bwd(P, Q, P, 4, 8, 0, KN_F32, 0), "aliased");
    /* the SwiGLU products (matmul.h): refused before the handle is used */
    kn_blas *const H = (kn_blas *)dummy_mem;
    static _Alignas(16) char third_mem[64];
    void *const R = third_mem;
    EXPECT(kn_matmul_fwd_swiglu(NULL, P, Q, R, P, 4, 8, 8, KN_BF16, 0), "NULL");
    EXPECT(kn_matmul_fwd_swiglu(H, P, P, R, Q, 4, 8, 8, KN_BF16, 0), "aliased");
    EXPECT(kn_matmul_fwd_swiglu(H, P, Q, R, P, 0, 8, 8, KN_BF16, 0), "N=0");
    EXPECT(kn_matmul_fwd_swiglu(H, P, Q, R, P, 4, 8, INT_MAX / 2 + 1, KN_BF16, 0), "2F");
    EXPECT(kn_matmul_bwd_inp_swiglu(H, P, NULL, Q, R, P, 4, 8, 8, KN_BF16, 0), "NULL");
    EXPECT(kn_matmul_bwd_inp_swiglu(H, P, Q, R, P, P, 4, 8, 8, KN_BF16, 0), "aliased");
    EXPECT(kn_matmul_bwd_inp_swiglu(H, P, Q, R, P, third_mem + 32, 4, INT_MAX / 2 + 1, 8,
                                    KN_BF16, 0),
           "2F");
    /* gqa */
    EXPECT(kn_gqa_expand(P, Q, 1, 8, 6, 4, 8, KN_F32, 0), "NKV=4");
    EXPECT(kn_gqa_reduce(P, P, 1, 8, 4, 2, 8, 0, KN_F32, 0), "aliased");
    EXPECT(kn_gqa_attention_fwd(NULL, P, P, Q, 1, 8, 4, 2, 8, KN_F32, P, 16, 0), "scratch");
    EXPECT(kn_gqa_attention_bwd(NULL, P, P, Q, P, 1, 8, 4, 3, 8, 0, KN_F32, P, 1 << 20, 0),
           "NKV=3");
    /* GQA scratch: the expanded qkv (and for the backward its gradient) on
     * top of the attention's own scratch */
    size_t f = kn_gqa_attention_fwd_scratch_bytes(2, 16, 8, 2, 32, KN_BF16);
    size_t b = kn_gqa_attention_bwd_scratch_bytes(2, 16, 8, 2, 32, KN_BF16);
    size_t q3 = (size_t)2 * 16 * 3 * 8 * 32 * 2;
    if (f < q3 + kn_attention_fwd_scratch_bytes(2, 16, 256, 8, KN_BF16) ||
        b < 2 * q3 + kn_attention_bwd_scratch_bytes(2, 16, 256, 8, KN_BF16)) {
        printf("FAIL gqa scratch %zu / %zu bytes too small\n", f, b);
        failures++;
    }
    if (failures) {
        printf("%d failure(s)\n", failures);
        return 1;
    }
    printf("all ok\n");
    return 0;
}
