/* Counting interposer of the C allocator. Defining malloc & co. in the
 * executable makes every shared library (cudart, cuBLAS, jansson) call these;
 * they forward to glibc's exported __libc_* entry points, which is the same
 * allocator, so free() of either kind of pointer is fine. */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

#include "tr_cuda_alloc.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || \
    __has_feature(thread_sanitizer)
#define TR_NO_INTERPOSE 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__GLIBC__)
#define TR_NO_INTERPOSE 1
#endif

static atomic_uint_fast64_t n_allocs;

uint64_t tr_cuda_alloc_count(void)
{
    return atomic_load_explicit(&n_allocs, memory_order_relaxed);
}

#ifdef TR_NO_INTERPOSE

bool tr_cuda_allocs_counted(void)
{
    return false;
}

#else

bool tr_cuda_allocs_counted(void)
{
    return true;
}

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

/* The interposed entry points: public by necessity, so declared here to keep
 * -Wmissing-prototypes quiet (their real prototypes are in stdlib.h, which
 * this file does not include to avoid attribute clashes). */
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
void *aligned_alloc(size_t align, size_t n);
void *memalign(size_t align, size_t n);
int posix_memalign(void **out, size_t align, size_t n);

static inline void count(void)
{
    atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
}

void *malloc(size_t n)
{
    count();
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    count();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    count();
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

void *aligned_alloc(size_t align, size_t n)
{
    count();
    return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
    count();
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    count();
    void *p = __libc_memalign(align, n);
    if (!p && n)
        return ENOMEM;
    *out = p;
    return 0;
}

#endif
