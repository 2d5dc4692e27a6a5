/* How much memory this process may still fill before the kernel's OOM
 * killer ends it: a run that cannot fit is refused at start with the sizes,
 * instead of being killed (exit 137, no message) minutes into its first
 * step. */
#ifndef INGOT_MEM_AVAIL_H
#define INGOT_MEM_AVAIL_H

#include <stdint.h>

/* MemAvailable + SwapFree of /proc/meminfo, capped by the process's cgroup
 * (v2 memory.max less memory.current; v1 memory.limit_in_bytes less
 * memory.usage_in_bytes), in bytes; UINT64_MAX where none can be read (not
 * Linux, no /proc). *what (if not NULL) names the bound that applied, for
 * messages. */
uint64_t ingot_mem_available(const char **what);

/* The number of key ("MemAvailable") in /proc/meminfo's text, in bytes
 * (the file says kB); UINT64_MAX when the key is absent or unreadable. */
uint64_t ingot_meminfo_bytes(const char *text, const char *key);

#endif
