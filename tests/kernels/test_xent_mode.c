/* The classifier's kernel choice (kernels/xent.h): mode names, the
 * INGOT_XENT / INGOT_XENT_REG environment, kn_xent_set_mode's refusal, and
 * which kernel kn_xent_kernel_for picks for shapes it can decide without a
 * device query (everything but a fitting smem shape). Runs and must pass on
 * a machine without a GPU. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "xent.h"

static int failures;

/* 16-byte aligned and misaligned pointers that are never dereferenced. */
static _Alignas(16) char dummy_mem[64];
#define A ((const void *)dummy_mem)
#define U ((const void *)(dummy_mem + 2))

static void expect_int(int line, const char *what, int got, int want)
{
    if (got != want) {
        printf("FAIL line %d: %s = %d, want %d (%s)\n", line, what, got, want, ingot_errmsg());
        failures++;
    } else {
        printf("ok   %s = %d\n", what, got);
    }
}

static void expect_msg(int line, const char *what, const char *needle)
{
    if (!strstr(ingot_errmsg(), needle)) {
        printf("FAIL line %d: %s: message \"%s\" lacks \"%s\"\n", line, what, ingot_errmsg(),
               needle);
        failures++;
    } else {
        printf("ok   %s: %s\n", what, ingot_errmsg());
    }
}

#define INT(expr, want) expect_int(__LINE__, #expr, (expr), (want))
#define MSG(what, needle) expect_msg(__LINE__, what, needle)

/* The kernel kn_xent_kernel_for picks, or the negative error it returns. */
static int pick(int V, int Vp, kn_dtype dt, const void *logits, const void *dlogits)
{
    kn_xent_mode k = (kn_xent_mode)-1;
    int r = kn_xent_kernel_for(&k, V, Vp, dt, logits, dlogits);
    return r ? r : (int)k;
}

int main(void)
{
    /* Names both ways. */
    const char *names[4] = {"two", "reg", "smem", "smem1"};
    for (int i = 0; i < 4; i++) {
        kn_xent_mode m = (kn_xent_mode)-1;
        INT(kn_xent_mode_parse(names[i], &m), 0);
        INT((int)m, i);
        INT(strcmp(kn_xent_mode_name((kn_xent_mode)i), names[i]), 0);
    }
    kn_xent_mode m = KN_XENT_TWO;
    INT(kn_xent_mode_parse("shared", &m), -EINVAL);
    MSG("parse(shared)", "'shared' unknown");
    INT(kn_xent_set_mode((kn_xent_mode)4), -EINVAL);
    MSG("set_mode(4)", "not a kn_xent_mode");

    /* The environment, read at the first use (a failed read is not kept). */
    setenv("INGOT_XENT", "bogus", 1);
    INT(pick(50257, 50304, KN_BF16, A, A), -EINVAL);
    MSG("INGOT_XENT=bogus", "INGOT_XENT=bogus");
    unsetenv("INGOT_XENT");
    setenv("INGOT_XENT_REG", "1", 1);
    INT(pick(50257, 50304, KN_BF16, A, A), KN_XENT_REG);
    unsetenv("INGOT_XENT_REG");
    INT(pick(50257, 50304, KN_BF16, A, A), KN_XENT_REG); /* kept from the first read */

    /* reg: bf16, whole aligned packs, Vp <= 65536. */
    INT(kn_xent_set_mode(KN_XENT_REG), 0);
    INT(pick(1000, 1024, KN_BF16, A, NULL), KN_XENT_REG);
    INT(pick(50257, 50304, KN_F32, A, A), KN_XENT_TWO);
    INT(pick(1001, 1003, KN_BF16, A, A), KN_XENT_TWO);
    INT(pick(70000, 70016, KN_BF16, A, A), KN_XENT_TWO);
    INT(pick(50257, 50304, KN_BF16, A, U), KN_XENT_TWO);
    kn_xent_set_reg(0);
    INT(pick(1000, 1024, KN_BF16, A, A), KN_XENT_TWO);
    kn_xent_set_reg(1);
    INT(pick(1000, 1024, KN_BF16, A, A), KN_XENT_REG);

    /* smem, smem1: refused before any device query for fp32, part packs,
     * misaligned buffers. */
    for (int s = KN_XENT_SMEM; s <= KN_XENT_SMEM1; s++) {
        INT(kn_xent_set_mode((kn_xent_mode)s), 0);
        INT(pick(50257, 50304, KN_F32, A, A), KN_XENT_TWO);
        INT(pick(1001, 1003, KN_BF16, A, A), KN_XENT_TWO);
        INT(pick(50257, 50304, KN_BF16, U, U), KN_XENT_TWO);
        INT(pick(50257, 50304, KN_BF16, A, U), KN_XENT_TWO);
    }
    INT(kn_xent_set_mode(KN_XENT_TWO), 0);
    INT(pick(1000, 1024, KN_BF16, A, A), KN_XENT_TWO);

    printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}
