/* common/mem_avail: /proc/meminfo's keys read in bytes (the file says kB),
 * whole keys only, absent or unreadable ones UINT64_MAX; on this machine
 * a bound above 0, with its name. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "mem_avail.h"
#include "test_util.h"

int main(void)
{
    const char *t = "MemTotal:       24606432 kB\n"
                    "MemFree:        19000000 kB\n"
                    "MemAvailableX:  1 kB\n"
                    "MemAvailable:   23000000 kB\n"
                    "SwapFree:              0 kB\n"
                    "Broken:         kB\n";
    CHECK(ingot_meminfo_bytes(t, "MemAvailable") == UINT64_C(23000000) * 1024);
    CHECK(ingot_meminfo_bytes(t, "MemTotal") == UINT64_C(24606432) * 1024);
    CHECK(ingot_meminfo_bytes(t, "SwapFree") == 0);
    CHECK(ingot_meminfo_bytes(t, "Mem") == UINT64_MAX);        /* not a prefix match */
    CHECK(ingot_meminfo_bytes(t, "Broken") == UINT64_MAX);     /* no number */
    CHECK(ingot_meminfo_bytes(t, "Cached") == UINT64_MAX);     /* absent */
    CHECK(ingot_meminfo_bytes("X: 99999999999999999999 kB\n", "X") == UINT64_MAX);
    const char *what = NULL;
    uint64_t a = ingot_mem_available(&what);
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    printf("available: %llu MiB (%s)\n", (unsigned long long)(a >> 20), what ? what : "?");
    if (a != UINT64_MAX && pages > 0 && psz > 0) {
        CHECK(a > 0);
        CHECK(what != NULL);
    }
    printf("mem_avail: ok\n");
    return 0;
}
