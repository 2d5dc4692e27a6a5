/* Which malloc this executable runs on.
 *
 * Why jemalloc: SentencePiece 0.1.x (Debian's) builds a protobuf message per
 * encoded document, a few small allocations per token. Under glibc malloc
 * those cost about a fifth of a tokenizer thread, more as threads are added;
 * a thread-caching allocator removes most of it (docs/pretok.md, "The
 * allocator", has the measurement). It is linked statically so that the executable's malloc
 * interposes the shared libraries' (libsentencepiece, libstdc++) and the
 * binary runs where libjemalloc is not installed. */
#include "pt_alloc.h"

#include <stdio.h>
#include <string.h>

#ifdef INGOT_JEMALLOC
#include <jemalloc/jemalloc.h>

const char *pt_alloc_name(void)
{
    static char name[48];
    const char *v = NULL;
    size_t sz = sizeof(v);
    if (mallctl("version", (void *)&v, &sz, NULL, 0) || !v)
        return "jemalloc";
    /* "5.3.0-0-g54eaed1..." -> "jemalloc 5.3.0" */
    snprintf(name, sizeof(name), "jemalloc %.*s", (int)strcspn(v, "-"), v);
    return name;
}
#else
const char *pt_alloc_name(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return "sanitizer malloc (ASan)";
#elif defined(__GLIBC__)
    return "glibc malloc";
#else
    return "system malloc";
#endif
}
#endif
