/* Memory left before the OOM killer (mem_avail.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem_avail.h"

uint64_t ingot_meminfo_bytes(const char *text, const char *key)
{
    const size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) != 0 || p[kl] != ':')
            continue;
        char *end;
        unsigned long long kb = strtoull(p + kl + 1, &end, 10);
        if (end == p + kl + 1 || kb > UINT64_MAX / 1024)
            return UINT64_MAX;
        return (uint64_t)kb * 1024;
    }
    return UINT64_MAX;
}

/* The first number of a small file (a cgroup's limit or usage); UINT64_MAX
 * when absent, unreadable or "max". */
static uint64_t file_number(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return UINT64_MAX;
    unsigned long long v;
    int n = fscanf(f, "%llu", &v);
    fclose(f);
    return n == 1 ? (uint64_t)v : UINT64_MAX;
}

/* The process's own cgroup directory under the mount, from
 * /proc/self/cgroup (v2: "0::/path"; v1: "N:memory:/path"); "" when it
 * cannot be read (the root). */
static void cgroup_dir(char *out, size_t len, int *v1)
{
    out[0] = '\0';
    *v1 = 0;
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b)
            continue;
        *b = '\0';
        const char *ctl = a + 1, *path = b + 1;
        if (!strcmp(ctl, "") && !*v1) {
            snprintf(out, len, "%s", path);
        } else if (!strcmp(ctl, "memory") || strstr(ctl, "memory")) {
            snprintf(out, len, "%s", path);
            *v1 = 1;
            break;
        }
    }
    fclose(f);
}

/* limit - usage of the cgroup (UINT64_MAX: no limit known). A container
 * sees its own cgroup as "/", mounted at the root of /sys/fs/cgroup. */
static uint64_t cgroup_room(void)
{
    char dir[900], p1[1024], p2[1024];
    int v1;
    cgroup_dir(dir, sizeof(dir), &v1);
    uint64_t best = UINT64_MAX;
    /* the path as listed, then the mount's root (namespaced containers) */
    const char *cands[2] = { dir, "" };
    for (int i = 0; i < 2; i++) {
        if (i == 1 && !*dir)
            break;
        if (v1) {
            snprintf(p1, sizeof(p1), "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", cands[i]);
            snprintf(p2, sizeof(p2), "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", cands[i]);
        } else {
            snprintf(p1, sizeof(p1), "/sys/fs/cgroup%s/memory.max", cands[i]);
            snprintf(p2, sizeof(p2), "/sys/fs/cgroup%s/memory.current", cands[i]);
        }
        uint64_t lim = file_number(p1), use = file_number(p2);
        /* v1 reports "no limit" as a huge page-rounded number */
        if (lim == UINT64_MAX || lim >= (UINT64_C(1) << 60) || use == UINT64_MAX)
            continue;
        uint64_t room = lim > use ? lim - use : 0;
        if (room < best)
            best = room;
        break;
    }
    return best;
}

uint64_t ingot_mem_available(const char **what)
{
    if (what)
        *what = "MemAvailable + SwapFree";
    char text[8192];
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return UINT64_MAX;
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    uint64_t avail = ingot_meminfo_bytes(text, "MemAvailable");
    uint64_t swap = ingot_meminfo_bytes(text, "SwapFree");
    if (avail != UINT64_MAX && swap != UINT64_MAX)
        avail += swap;
    uint64_t cg = cgroup_room();
    if (cg < avail) {
        avail = cg;
        if (what)
            *what = "the cgroup's memory limit less its usage";
    }
    return avail;
}
