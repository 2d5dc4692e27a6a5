/* Helpers for the fuzz targets whose readers take a path: the input goes to
 * an anonymous in-memory file (memfd) named through /proc/self/fd, so no
 * directory fills up and nothing outlives the process. */
#ifndef INGOT_FUZZ_UTIL_H
#define INGOT_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* An in-memory file holding data[0, size); its path goes to path. Aborts
 * when the system refuses (that is not a finding about the target). */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char path[64])
{
    int fd = memfd_create("ingot-fuzz", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

/* The targets check the readers' contract: a failure returns a negative
 * code (never a positive one) with a recorded message. */
#define FUZZ_ASSERT(cond)                                                         \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__,     \
                    __LINE__, #cond);                                             \
            abort();                                                              \
        }                                                                         \
    } while (0)

#endif
