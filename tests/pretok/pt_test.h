/* Checks for the pretok unit tests: print where they failed and exit 1. */
#ifndef INGOT_PT_TEST_H
#define INGOT_PT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"

#define PT_CHECK(cond)                                                                \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define PT_CHECK_OK(expr)                                                             \
    do {                                                                              \
        int r_ = (expr);                                                              \
        if (r_ != 0) {                                                                \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #expr, \
                    r_, ingot_errmsg());                                              \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* Parse a hex string into buf (capacity cap); returns the byte count. */
static inline size_t pt_unhex(const char *hex, unsigned char *buf, size_t cap)
{
    size_t n = 0;
    while (hex[0] && hex[1] && n < cap) {
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1)
            break;
        buf[n++] = (unsigned char)v;
        hex += 2;
    }
    return n;
}

#endif
