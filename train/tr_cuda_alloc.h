/* Host allocation counter for --profile: the process's malloc family is
 * interposed (glibc: forwarded to __libc_malloc and friends) and every call
 * counted, so "no host allocation in the training loop" is measured, CUDA
 * runtime and cuBLAS included. Sanitizer builds and non-glibc systems keep
 * their own allocator: the count is then unavailable. */
#ifndef INGOT_TR_CUDA_ALLOC_H
#define INGOT_TR_CUDA_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

/* Whether allocations are counted in this build. */
bool tr_cuda_allocs_counted(void);
/* malloc/calloc/realloc/aligned allocations so far (all threads). */
uint64_t tr_cuda_alloc_count(void);

#endif
