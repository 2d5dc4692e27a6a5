/* Test-only hooks: INGOT_PRETOK_TEST_* environment variables that kill a
 * conversion at a shard boundary or slow it down, so that the tests can
 * reach crash and signal states on a tiny corpus. They exist only in
 * builds configured with -Dtest_hooks=true (scripts/test.sh); a release
 * binary reads no such variable. `ingot-pretok --version` says which. */
#ifndef INGOT_PT_HOOKS_H
#define INGOT_PT_HOOKS_H

#include <stdlib.h>
#include <string.h>

#ifdef INGOT_TEST_HOOKS
#define PT_HAVE_TEST_HOOKS 1
/* The hook's value, or NULL when unset (always NULL without hooks). */
static inline const char *pt_hook_str(const char *name)
{
    const char *e = getenv(name);
    return e && *e ? e : NULL;
}
#else
#define PT_HAVE_TEST_HOOKS 0
static inline const char *pt_hook_str(const char *name)
{
    (void)name;
    return NULL;
}
#endif

/* A positive numeric hook, or 0 when unset, malformed or not positive. */
static inline long pt_hook_pos(const char *name)
{
    const char *e = pt_hook_str(name);
    long v = e ? atol(e) : 0;
    return v > 0 ? v : 0;
}

#endif
