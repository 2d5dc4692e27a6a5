/* The counted host<->device synchronisation points. */
#include <stdatomic.h>

#include "cuda_check.h"
#include "tr_cuda_sync.h"

static atomic_uint_fast64_t n_syncs;

uint64_t tr_cuda_sync_count(void)
{
    return atomic_load(&n_syncs);
}

/* The result of a wait on queued work: an error here was raised by some
 * earlier asynchronous launch, not by the wait itself. */
static int waited(cudaError_t e, const char *why)
{
    if (e != cudaSuccess)
        return ingot_fail(INGOT_E_CUDA, "cuda: waiting for the %s: %s (an earlier kernel "
                          "failed; rerun under compute-sanitizer to find it)", why,
                          cudaGetErrorString(e));
    return 0;
}

int tr_cuda_sync_event(cudaEvent_t ev, const char *why)
{
    atomic_fetch_add(&n_syncs, 1);
    return waited(cudaEventSynchronize(ev), why);
}

int tr_cuda_sync_stream(cudaStream_t s, const char *why)
{
    atomic_fetch_add(&n_syncs, 1);
    return waited(cudaStreamSynchronize(s), why);
}

int tr_cuda_sync_device(const char *why)
{
    atomic_fetch_add(&n_syncs, 1);
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess)
        return ingot_fail(INGOT_E_CUDA, "cuda: waiting for the %s: %s", why,
                          cudaGetErrorString(e));
    return 0;
}

int tr_cuda_sync_copy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                      cudaStream_t s, const char *why)
{
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, s));
    return tr_cuda_sync_stream(s, why);
}

void tr_cuda_sync_quiet(cudaStream_t s)
{
    atomic_fetch_add(&n_syncs, 1);
    if (cudaStreamSynchronize(s) != cudaSuccess)
        (void)cudaGetLastError();
}
