/* Host allocation count for --profile, opt-in: the counter lives in
 * libingot-alloc-count.so (tr_alloc_preload.c), which a profiling or test
 * run loads with LD_PRELOAD; without it the release binary keeps the plain
 * C allocator and the figure is "not available". */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

#include "tr_cuda_alloc.h"

typedef uint64_t (*count_fn)(void);

/* The preloaded counter, looked up once (NULL when not preloaded). */
static count_fn counter(void)
{
    static _Atomic(count_fn) fn;
    static atomic_int looked;
    if (!atomic_load_explicit(&looked, memory_order_acquire)) {
        void *sym = dlsym(RTLD_DEFAULT, "ingot_alloc_count");
        count_fn f;
        /* object to function pointer: POSIX guarantees dlsym's result
         * converts; memcpy keeps -Wpedantic quiet */
        __builtin_memcpy(&f, &sym, sizeof(f));
        atomic_store_explicit(&fn, f, memory_order_relaxed);
        atomic_store_explicit(&looked, 1, memory_order_release);
    }
    return atomic_load_explicit(&fn, memory_order_relaxed);
}

bool tr_cuda_allocs_counted(void)
{
    return counter() != NULL;
}

uint64_t tr_cuda_alloc_count(void)
{
    count_fn f = counter();
    return f ? f() : 0;
}
