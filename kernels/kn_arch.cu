/* Run-time choice between the Hopper (sm_90a) and the portable kernels. */
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "kn_arch.h"

/* 1 in the sm_90a machine code, 0 in every other target (sm_80 code, or the
 * PTX the driver compiles for a GPU without a matching machine code). */
static __global__ void probe_kernel(int *out)
{
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    *out = 1;
#else
    *out = 0;
#endif
}

static int cached = -1;

extern "C" int kn_arch_path(kn_path *out)
{
    if (cached < 0) {
        const char *env = getenv("INGOT_PORTABLE");
        int *d = NULL, h = 0;
        CUDA_CHECK(cudaMalloc(&d, sizeof(int)));
        probe_kernel<<<1, 1>>>(d);
        cudaError_t e = cudaGetLastError();
        if (e == cudaSuccess)
            e = cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost);
        cudaFree(d);
        CUDA_CHECK(e);
        cached = h && !(env && !strcmp(env, "1")) ? KN_PATH_SM90A : KN_PATH_PORTABLE;
    }
    *out = (kn_path)cached;
    return 0;
}

extern "C" const char *kn_path_name(kn_path p)
{
    return p == KN_PATH_SM90A ? "sm_90a" : "portable";
}
