/* GPU presence check shared by the trainer and the tests; the environment
 * switches of kernels/ and train/. */
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "kn_common.h"

extern "C" int kn_env_off(const char *name)
{
    const char *v = getenv(name);
    return v && !strcmp(v, "0");
}

extern "C" int kn_env_on_once(int *cache, const char *name)
{
    if (*cache < 0)
        *cache = !kn_env_off(name);
    return *cache;
}

extern "C" int kn_env_int(const char *name, int lo, int hi, int def)
{
    const char *e = getenv(name);
    char *end = NULL;
    const long v = e && *e ? strtol(e, &end, 10) : 0;
    return e && *e && !*end && v >= lo && v <= hi ? (int)v : def;
}

extern "C" int kn_device_check(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        /* Leave no sticky error behind for later, unrelated checks. */
        (void)cudaGetLastError();
        return ingot_fail(INGOT_E_NOGPU, "no usable CUDA device: %s (%s); run on a machine "
                          "with an NVIDIA GPU and driver, or use --device cpu",
                          cudaGetErrorName(e), cudaGetErrorString(e));
    }
    if (n <= 0)
        return ingot_fail(INGOT_E_NOGPU, "no CUDA device found; run on a machine with an "
                          "NVIDIA GPU, or use --device cpu");
    return 0;
}
