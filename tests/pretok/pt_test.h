/* Helpers for the pretok unit tests (the checks are in tests/test_check.h). */
#ifndef INGOT_PT_TEST_H
#define INGOT_PT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "../test_check.h"

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
