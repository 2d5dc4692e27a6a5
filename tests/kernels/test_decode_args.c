/* kn_decode_attention refuses bad shapes and arguments with -EINVAL and a
 * message naming them, before any CUDA call: runs (and must pass) on a
 * machine without a GPU. Also the scratch-size formula. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "decode.h"
#include "ingot_err.h"

static int failures;

/* Non-NULL pointers that are never dereferenced (the checks come first);
 * far apart so that only the overlap case overlaps. */
static char mem[4][1 << 16];
#define OUT ((void *)mem[0])
#define Q ((void *)mem[1])
#define K ((void *)mem[2])
#define V ((void *)mem[3])

static void expect_einval(int line, const char *what, int got, const char *needle)
{
    const char *msg = ingot_errmsg();
    if (got != -EINVAL || !strstr(msg, needle)) {
        printf("FAIL line %d: %s returned %d (want -EINVAL), message \"%s\" (want \"%s\")\n",
               line, what, got, msg, needle);
        failures++;
    } else {
        printf("ok   %s: %s\n", what, msg);
    }
    ingot_clear_err();
}

#define EXPECT(needle, ...) \
    expect_einval(__LINE__, #__VA_ARGS__, kn_decode_attention(__VA_ARGS__), needle)

int main(void)
{
    /* out, q, q_stride, k, v, kv_stride, n, p0, NH, NKV, hs, dt, scratch, bytes, stream */
    EXPECT("unknown dtype", OUT, Q, 64, K, V, 64, 1, 0, 2, 2, 32, (kn_dtype)7, NULL, 0, 0);
    EXPECT("NULL buffer", OUT, NULL, 64, K, V, 64, 1, 0, 2, 2, 32, KN_F32, NULL, 0, 0);
    EXPECT("NULL buffer", OUT, Q, 64, K, NULL, 64, 1, 0, 2, 2, 32, KN_F32, NULL, 0, 0);
    EXPECT("n=70000", OUT, Q, 64, K, V, 64, 70000, 0, 2, 2, 32, KN_F32, NULL, 0, 0);
    EXPECT("p0=-1", OUT, Q, 64, K, V, 64, 1, -1, 2, 2, 32, KN_F32, NULL, 0, 0);
    EXPECT("NH=3 NKV=2", OUT, Q, 96, K, V, 64, 1, 0, 3, 2, 32, KN_F32, NULL, 0, 0);
    EXPECT("hs=258", OUT, Q, 516, K, V, 516, 1, 0, 2, 2, 258, KN_F32, NULL, 0, 0);
    EXPECT("hs=0", OUT, Q, 64, K, V, 64, 1, 0, 2, 2, 0, KN_F32, NULL, 0, 0);
    EXPECT("q_stride 32", OUT, Q, 32, K, V, 64, 1, 0, 2, 2, 32, KN_F32, NULL, 0, 0);
    EXPECT("kv_stride 16", OUT, Q, 64, K, V, 16, 1, 0, 2, 1, 32, KN_F32, NULL, 0, 0);
    EXPECT("overlaps", Q, Q, 64, K, V, 64, 1, 0, 2, 2, 32, KN_F32, NULL, 0, 0);
    EXPECT("overlaps", (char *)K + 64, Q, 64, K, V, 64, 4, 0, 2, 2, 32, KN_BF16, NULL, 0, 0);
    /* the split's partials: at most 2 * 512 (head, row) pairs of hs + 2 floats */
    size_t sb = kn_decode_attention_scratch_bytes(32, 128);
    if (sb != (size_t)1024 * 130 * sizeof(float)) {
        printf("FAIL: kn_decode_attention_scratch_bytes(32, 128) = %zu\n", sb);
        failures++;
    } else {
        printf("ok   kn_decode_attention_scratch_bytes(32, 128) = %zu\n", sb);
    }
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}
