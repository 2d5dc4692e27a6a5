/* Host memory checks before large allocations (tr_mem_check.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_num.h"
#include "ingot_err.h"
#include "mem_avail.h"
#include "tr_mem_check.h"

int tr_mem_check(uint64_t need, const char *what, const char *advice)
{
    const char *bound = NULL;
    uint64_t avail = ingot_mem_available(&bound);
#ifdef INGOT_TEST_HOOKS
    const char *e = getenv("INGOT_TRAIN_TEST_MEM_AVAILABLE");
    if (e && *e) {
        avail = strtoull(e, NULL, 10);
        bound = "INGOT_TRAIN_TEST_MEM_AVAILABLE";
    }
#endif
    /* INGOT_MEM_CHECK=0: the user knows better (memory the estimate does
     * not see, such as a ZFS ARC that MemAvailable leaves out) */
    const char *off = getenv("INGOT_MEM_CHECK");
    if (avail == UINT64_MAX || need <= avail || (off && !strcmp(off, "0")))
        return 0;
    char nb[32], ab[32];
    return ingot_fail(-ENOMEM, "%s need %s of memory, and this machine has %s left (%s): the "
                      "kernel would kill the run part-way; %s (INGOT_MEM_CHECK=0 skips "
                      "this check)", what,
                      cli_human_bytes((double)need, nb, sizeof(nb)),
                      cli_human_bytes((double)avail, ab, sizeof(ab)), bound, advice);
}

int tr_mem_check_acts(uint64_t bytes, const char *model, int B, int T)
{
    char what[160];
    snprintf(what, sizeof(what), "%s: the activations of %d sequence%s of %d tokens", model, B,
             B == 1 ? "" : "s", T);
    return tr_mem_check(bytes, what, "lower --batch or --seq-len, or train on a GPU "
                        "(--device cuda)");
}
