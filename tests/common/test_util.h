/* Helpers shared by the tests in tests/common: checks that print where
 * they failed and the library's message, temp directories, a seeded PRNG. */
#ifndef INGOT_TEST_UTIL_H
#define INGOT_TEST_UTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingot_err.h"
#include "../test_check.h"

/* expr must fail with exactly code and a message containing substr. */

static inline uint64_t tu_rand(uint64_t *s)
{
    /* splitmix64: deterministic across platforms */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A fresh directory under $TMPDIR (or /tmp); the caller frees the string. */
static inline char *tu_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *p = malloc(4096);
    CHECK(p);
    snprintf(p, 4096, "%s/ingot-%s-XXXXXX", base && base[0] ? base : "/tmp", tag);
    CHECK(mkdtemp(p));
    return p;
}

static inline int tu_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void tu_rm_rf(const char *dir)
{
    nftw(dir, tu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static inline char *tu_path(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    CHECK(p);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

#endif
