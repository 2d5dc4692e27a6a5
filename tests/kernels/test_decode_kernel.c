/* The decode attention kernel against its C reference (kc_decode.h), fp32
 * and bf16; skips with 77 without a GPU.
 *   test_decode_kernel [--seed N] [--bench] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "ingot_err.h"
#include "kc_decode.h"
#include "kn_common.h"

int main(int argc, char **argv)
{
    uint64_t seed = (uint64_t)time(NULL);
    int bench = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bench")) {
            bench = 1;
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 0);
        } else {
            fprintf(stderr, "usage: test_decode_kernel [--seed N] [--bench]\n");
            return 2;
        }
    }
    if (kn_device_check()) {
        printf("SKIP: %s\n", ingot_errmsg());
        return 77;
    }
    cudaStream_t s;
    if (cudaStreamCreate(&s) != cudaSuccess) {
        printf("cudaStreamCreate failed\n");
        return 1;
    }
    printf("decode kernel check, seed %llu (reproduce with --seed)\n", (unsigned long long)seed);
    int fails = kc_decode_run(seed, 3, bench, 20, s);
    cudaStreamDestroy(s);
    printf("%s: %d failed check(s)\n", fails ? "FAIL" : "ok", fails);
    return fails ? 1 : 0;
}
