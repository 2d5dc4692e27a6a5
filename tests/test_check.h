/* Checks shared by every test program: each prints the file, line and the
 * library's message (ingot_errmsg()) and exits 1, so a failure says where and
 * why. Exit code TEST_SKIP (77) tells meson the test was skipped. */
#ifndef INGOT_TEST_CHECK_H
#define INGOT_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"

#define TEST_SKIP 77

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define CHECK_OK(expr)                                                                \
    do {                                                                              \
        int r_ = (expr);                                                              \
        if (r_ != 0) {                                                                \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #expr, \
                    r_, ingot_errmsg());                                              \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* expr must fail with exactly code and a message containing substr. */
#define CHECK_FAIL(expr, code, substr)                                                \
    do {                                                                              \
        ingot_clear_err();                                                            \
        int r_ = (expr);                                                              \
        const char *m_ = ingot_errmsg();                                              \
        if (r_ != (code) || !strstr(m_, (substr))) {                                  \
            fprintf(stderr,                                                           \
                    "%s:%d: %s: expected %d with \"%s\", got %d: %s\n", __FILE__,    \
                    __LINE__, #expr, (int)(code), (substr), r_, m_);                  \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#endif
