/* GPU presence check shared by the trainer and the tests. */
#include "cuda_check.h"
#include "kn_common.h"

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
