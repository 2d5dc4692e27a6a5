/* Host allocation counter for --profile, so that "no host allocation in
 * the training loop" is measured, CUDA runtime and cuBLAS included. Opt-in:
 * counted only when libingot-alloc-count.so (train/tr_alloc_preload.c) is
 * loaded with LD_PRELOAD; the release binary does not replace malloc. */
#ifndef INGOT_TR_CUDA_ALLOC_H
#define INGOT_TR_CUDA_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

/* Whether allocations are counted in this process (the library is
 * preloaded). */
bool tr_cuda_allocs_counted(void);
/* malloc/calloc/realloc/aligned allocations so far (all threads); 0 when
 * not counted. */
uint64_t tr_cuda_alloc_count(void);

#endif
