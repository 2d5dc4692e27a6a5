/* Memory left before the OOM killer (mem_avail.h). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem_avail.h"

/* The number after the line that starts "key" and sep in text (meminfo's
 * "MemAvailable:", memory.stat's "inactive_file "); UINT64_MAX when there is
 * no such line or no number on it. */
static uint64_t key_number(const char *text, const char *key, char sep)
{
    const size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) != 0 || p[kl] != sep)
            continue;
        char *end;
        unsigned long long v = strtoull(p + kl + 1, &end, 10);
        return end == p + kl + 1 ? UINT64_MAX : (uint64_t)v;
    }
    return UINT64_MAX;
}

uint64_t ingot_meminfo_bytes(const char *text, const char *key)
{
    uint64_t kb = key_number(text, key, ':');
    return kb > UINT64_MAX / 1024 ? UINT64_MAX : kb * 1024;
}

/* A small file's text (/proc/meminfo, a cgroup's memory.stat) into buf,
 * NUL-terminated; false when it cannot be opened. */
static bool read_small(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return true;
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

/* The file pages of a cgroup (memory.stat: "inactive_file" and
 * "active_file", v1 "total_" of each), which its usage counts and the
 * kernel reclaims before it kills: a dataset verified at start (every
 * shard's bytes read) filled the usage to the limit with page cache, and
 * every check refused a run that fits. 0 when unreadable. */
static uint64_t cgroup_file_pages(const char *dir, int v1)
{
    char p[1024], text[8192];
    snprintf(p, sizeof(p), v1 ? "/sys/fs/cgroup/memory%s/memory.stat" : "/sys/fs/cgroup%s/memory.stat",
             dir);
    if (!read_small(p, text, sizeof(text)))
        return 0;
    uint64_t sum = 0;
    const char *keys[2] = { v1 ? "total_inactive_file" : "inactive_file",
                            v1 ? "total_active_file" : "active_file" };
    for (int k = 0; k < 2; k++) {
        uint64_t v = key_number(text, keys[k], ' ');
        sum += v == UINT64_MAX ? 0 : v;
    }
    return sum;
}

/* limit - (usage - file pages) of one cgroup directory (relative to the
 * controller's mount); UINT64_MAX when it has no limit or none is known. */
static uint64_t room_of(const char *dir, int v1)
{
    char p1[1024], p2[1024];
    if (v1) {
        snprintf(p1, sizeof(p1), "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", dir);
        snprintf(p2, sizeof(p2), "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", dir);
    } else {
        snprintf(p1, sizeof(p1), "/sys/fs/cgroup%s/memory.max", dir);
        snprintf(p2, sizeof(p2), "/sys/fs/cgroup%s/memory.current", dir);
    }
    uint64_t lim = file_number(p1), use = file_number(p2);
    /* v1 reports "no limit" as a huge page-rounded number */
    if (lim == UINT64_MAX || lim >= (UINT64_C(1) << 60) || use == UINT64_MAX)
        return UINT64_MAX;
    uint64_t file = cgroup_file_pages(dir, v1);
    use = use > file ? use - file : 0;
    return lim > use ? lim - use : 0;
}

/* The least room of the process's cgroup and each of its ancestors (a
 * limit set on a parent, a Slurm job's or a systemd slice's, binds too);
 * UINT64_MAX: no limit known. A container sees its own cgroup as "/",
 * mounted at the root of /sys/fs/cgroup. */
static uint64_t cgroup_room(void)
{
    char dir[900];
    int v1;
    cgroup_dir(dir, sizeof(dir), &v1);
    uint64_t best = UINT64_MAX;
    for (;;) {
        uint64_t r = room_of(strcmp(dir, "/") ? dir : "", v1);
        if (r < best)
            best = r;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) {
            if (dir[0] && strcmp(dir, "/")) {   /* then the mount's root */
                r = room_of("", v1);
                if (r < best)
                    best = r;
            }
            break;
        }
        *slash = '\0';
    }
    return best;
}

uint64_t ingot_mem_available(const char **what)
{
    if (what)
        *what = "MemAvailable + SwapFree";
    char text[8192];
    if (!read_small("/proc/meminfo", text, sizeof(text)))
        return UINT64_MAX;
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
