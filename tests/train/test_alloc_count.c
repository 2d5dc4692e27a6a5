/* The host allocation counter is opt-in (train/tr_cuda_alloc.h):
 * - preloaded (meson runs this test with LD_PRELOAD=libingot-alloc-count.so),
 *   ingot_alloc_count() is found with dlsym and counts every malloc,
 *   calloc, realloc and aligned allocation of the process;
 * - the ingot-train binary itself defines no malloc (before, a CUDA build
 *   replaced the allocator of every release binary): checked with nm -D
 *   where nm exists.
 * usage: test_alloc_count INGOT_TRAIN */
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

#include "tt_util.h"

typedef uint64_t (*count_fn)(void);

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    void *sym = dlsym(RTLD_DEFAULT, "ingot_alloc_count");
    if (!sym) {
        printf("SKIP: libingot-alloc-count.so is not preloaded\n");
        return TT_SKIP;
    }
    count_fn count;
    memcpy(&count, &sym, sizeof(count));
    enum { N = 1000 };
    static void *p[N];
    uint64_t c0 = count();
    for (int i = 0; i < N; i++) {
        p[i] = i % 4 == 0 ? malloc(16) : i % 4 == 1 ? calloc(2, 8) : aligned_alloc(64, 64);
        CHECK(p[i]);
        if (i % 4 == 3)
            CHECK((p[i] = realloc(p[i], 128)));
    }
    uint64_t c1 = count();
    for (int i = 0; i < N; i++)
        free(p[i]);
    uint64_t c2 = count();
    printf("allocations counted: %llu for %d calls; free counts none: %s\n",
           (unsigned long long)(c1 - c0), N + N / 4, c2 == c1 ? "yes" : "no");
    /* printf may allocate once; nothing else runs between the marks */
    CHECK(c1 - c0 >= (uint64_t)(N + N / 4) && c1 - c0 <= (uint64_t)(N + N / 4) + 8);
    CHECK(c2 - c1 <= 8);

    /* the release binary keeps the C library's allocator */
    char *cmd = tt_fmt("nm -D --defined-only '%s' 2>/dev/null", argv[1]);
    FILE *f = popen(cmd, "r");
    CHECK(f);
    char line[512];
    int lines = 0, defines_malloc = 0;
    while (fgets(line, sizeof(line), f)) {
        lines++;
        line[strcspn(line, "\n")] = '\0';
        const char *name = strrchr(line, ' ');
        if (name && (!strcmp(name + 1, "malloc") || !strcmp(name + 1, "free")))
            defines_malloc = 1;
    }
    int st = pclose(f);
    free(cmd);
    if (st != 0 || lines == 0) {
        printf("nm unavailable: binary check skipped\n");
        return 0;
    }
    printf("ingot-train defines malloc/free: %s\n", defines_malloc ? "yes" : "no");
    CHECK(!defines_malloc);
    return 0;
}
