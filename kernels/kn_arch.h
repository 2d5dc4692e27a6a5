/* Which code path the kernels take on the current GPU. The build embeds
 * machine code for each -Dcuda_arch target (default sm_80, sm_90a) and PTX
 * for newer GPUs; kernels that use Hopper-only instructions (wgmma, setmaxnreg:
 * the sm_90a target) exist only in the sm_90a machine code, so the launchers
 * choose them at run time and take the portable kernels everywhere else. */
#ifndef INGOT_KN_ARCH_H
#define INGOT_KN_ARCH_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kn_path {
    KN_PATH_PORTABLE = 0,   /* kernels built for any sm_80+ GPU (mma.sync, cp.async) */
    KN_PATH_SM90A = 1,      /* the sm_90a machine code is loaded: Hopper kernels allowed */
} kn_path;

/* The path for the current device, decided once per process: KN_PATH_SM90A
 * when the loaded machine code was built for sm_90a (a probe kernel compiled
 * with the arch-specific features answers), unless the environment variable
 * INGOT_PORTABLE=1 forces the portable path (for checks on a Hopper GPU; run
 * with CUDA_FORCE_PTX_JIT=1 as well to execute the PTX a newer GPU would get).
 * Synchronises the device once (the probe); 0 or INGOT_E_CUDA. */
int kn_arch_path(kn_path *out);

/* "sm_90a" or "portable". */
const char *kn_path_name(kn_path p);

#ifdef __cplusplus
}
#endif
#endif
