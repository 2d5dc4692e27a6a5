/* libingot-alloc-count.so: an opt-in counter of host allocations for
 * `ingot-train --profile`, loaded with LD_PRELOAD (the gpu_cli test does;
 * docs/performance.md). Its malloc & co. come before glibc's in symbol
 * lookup, so every shared library (cudart, cuBLAS, jansson) calls them;
 * they count and forward to glibc's exported __libc_* entry points, which
 * are the same allocator, so free() of either kind of pointer is fine.
 * ingot-train finds ingot_alloc_count() with dlsym (tr_cuda_alloc.c); the
 * release binary itself replaces nothing. Built for glibc and without
 * sanitizers only (they bring their own allocator). */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

static atomic_uint_fast64_t n_allocs;

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

/* The interposed entry points and the counter: public by necessity, so
 * declared here to keep -Wmissing-prototypes quiet (stdlib.h is not
 * included, to avoid attribute clashes with its declarations). */
uint64_t ingot_alloc_count(void);
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
void *aligned_alloc(size_t align, size_t n);
void *memalign(size_t align, size_t n);
int posix_memalign(void **out, size_t align, size_t n);

/* malloc/calloc/realloc/aligned allocations so far, all threads. */
uint64_t ingot_alloc_count(void)
{
    return atomic_load_explicit(&n_allocs, memory_order_relaxed);
}

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
