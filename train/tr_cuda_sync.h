/* Every point where the host waits for the GPU goes through these wrappers,
 * so that the number of host<->device synchronisations per training step is
 * counted, not guessed (--profile prints it; the bar is exactly one per
 * optimizer step). A call that cannot block (cudaEventQuery, an async copy
 * from pinned memory) is not a synchronisation and is not counted. */
#ifndef INGOT_TR_CUDA_SYNC_H
#define INGOT_TR_CUDA_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

/* Block until ev has completed (the thread sleeps when ev was created with
 * cudaEventBlockingSync). Counts one sync. 0 or INGOT_E_CUDA with a message
 * naming why (a short phrase such as "step result"). */
int tr_cuda_sync_event(cudaEvent_t ev, const char *why);
/* Block until all work queued on s has completed. Counts one sync. */
int tr_cuda_sync_stream(cudaStream_t s, const char *why);
/* Block until the whole device is idle (set-up only). Counts one sync. */
int tr_cuda_sync_device(const char *why);
/* Copy bytes between host and device on s and wait for it (set-up,
 * checkpoints, eval results: never inside a training step). Counts one
 * sync. */
int tr_cuda_sync_copy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                      cudaStream_t s, const char *why);
/* Wait for s at tear-down: counted, errors ignored and no message recorded
 * (the error that led to the tear-down keeps its message). */
void tr_cuda_sync_quiet(cudaStream_t s);
/* Synchronisations so far in this process (monotonic; thread-safe). */
uint64_t tr_cuda_sync_count(void);

#endif
