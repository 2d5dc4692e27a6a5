/* --metrics on resume (train/metrics.c): the file is kept up to the
 * checkpoint's step a line at a time, the other lines moved to FILE.dropped
 * byte for byte. A line with NUL bytes is one line (it ran into the next,
 * whose record was then lost); a line of exactly the 1 MiB limit is read and
 * one byte more refuses the file (lines up to 2 MiB were taken); a refused
 * file leaves FILE and FILE.dropped as they were (the records it had moved
 * stayed in FILE.dropped, and each try moved them again). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "metrics.h"
#include "tt_util.h"

#define LINE_MAX_BYTES ((size_t)1 << 20)   /* METRICS_LINE_MAX */

static int failures;

static void check(const char *what, bool ok)
{
    printf("%-52s %s\n", what, ok ? "ok" : "FAIL");
    failures += !ok;
}

/* path holds exactly want[0, n). */
static bool holds(const char *path, const char *want, size_t n)
{
    char *b = NULL;
    size_t len = 0;
    int err = fs_read_all(path, &b, &len);
    bool ok = !err && len == n && !memcmp(b, want, n);
    free(b);
    return ok;
}

/* Open path for a resume from step; 0 or the error. */
static int open_at(const char *path, int64_t step, size_t *moved)
{
    tr_metrics *m = NULL;
    ingot_clear_err();
    int err = tr_metrics_open(path, step, &m, moved);
    tr_metrics_close(m);
    return err;
}

int main(void)
{
    char *dir = tt_tmpdir("metrics");
    char *path = tt_fmt("%s/m.jsonl", dir), *dropped = tt_fmt("%s/m.jsonl.dropped", dir);
    size_t moved;

    /* a NUL inside a line (a page of a file lost in a crash reads as zeros) */
    static const char nul[] = "{\"step\":1}\n{\"step\":2,\"x\":\"a\0b\"}\n{\"step\":3}\n"
                              "{\"step\":5}\n";
    CHECK_OK(fs_write_atomic(path, nul, sizeof(nul) - 1));
    CHECK_OK(open_at(path, 3, &moved));
    static const char kept[] = "{\"step\":1}\n{\"step\":3}\n";
    static const char gone[] = "{\"step\":2,\"x\":\"a\0b\"}\n{\"step\":5}\n";
    check("NUL line: steps 1 and 3 kept", holds(path, kept, sizeof(kept) - 1));
    check("NUL line: moved to .dropped as it was", moved == 2 &&
          holds(dropped, gone, sizeof(gone) - 1));
    unlink(dropped);

    /* a torn last line that parses: kept, ended */
    CHECK_OK(fs_write_atomic(path, "{\"step\":1}\n{\"step\":2}", 21));
    CHECK_OK(open_at(path, 3, &moved));
    check("torn last line kept with a newline", moved == 0 &&
          holds(path, "{\"step\":1}\n{\"step\":2}\n", 22));

    /* lines at the limit: LINE_MAX_BYTES before the newline are read (not a
     * record: moved), one more refuses the file */
    size_t cap = 2 * LINE_MAX_BYTES;
    char *big = malloc(cap), *old_dropped = "{\"step\":9}\n";
    CHECK(big);
    for (int extra = 0; extra < 2; extra++) {
        size_t n = 0;
        n += (size_t)sprintf(big + n, "{\"step\":1}\n{\"step\":7}\n");
        memset(big + n, 'x', LINE_MAX_BYTES + (size_t)extra);
        n += LINE_MAX_BYTES + (size_t)extra;
        big[n++] = '\n';
        n += (size_t)sprintf(big + n, "{\"step\":2}\n");
        CHECK_OK(fs_write_atomic(path, big, n));
        CHECK_OK(fs_write_atomic(dropped, old_dropped, strlen(old_dropped)));
        int err = open_at(path, 3, &moved);
        if (!extra) {
            check("a line of exactly 1 MiB: read", err == 0 && moved == 2 &&
                  holds(path, "{\"step\":1}\n{\"step\":2}\n", 22));
        } else {
            check("a line of 1 MiB + 1 byte: refused", err == INGOT_E_FORMAT &&
                  strstr(ingot_errmsg(), "a line longer than 1024 KiB"));
            check("refused: the file as it was", holds(path, big, n));
            check("refused: .dropped as it was", holds(dropped, old_dropped,
                                                       strlen(old_dropped)));
            unlink(dropped);
            err = open_at(path, 3, &moved);
            struct stat sb;
            check("refused, no .dropped before: none after", err == INGOT_E_FORMAT &&
                  stat(dropped, &sb) != 0 && errno == ENOENT);
        }
    }
    free(big);

    /* a file of lines, none a record (a checkpoint's settings on --resume, or a
     * slip, named it): refused, the file and its .dropped as they were (it was
     * emptied into .dropped and filled with records) */
    static const char notes[] = "precious data\n{\"not\": \"a record\"}\nmore\n";
    CHECK_OK(fs_write_atomic(path, notes, strlen(notes)));
    unlink(dropped);
    int err = open_at(path, 0, &moved);
    struct stat nb;
    check("not a metrics file: refused", err == INGOT_E_FORMAT &&
          strstr(ingot_errmsg(), "not a metrics file of ingot-train"));
    check("not a metrics file: as it was, no .dropped", holds(path, notes, strlen(notes)) &&
          stat(dropped, &nb) != 0 && errno == ENOENT);
    /* ... but a lone torn line (a first record cut by a crash, no newline) is no sign
     * of another file: taken, moved to .dropped */
    CHECK_OK(fs_write_atomic(path, "{\"step\": 1, \"lo", 16));
    err = open_at(path, 0, &moved);
    check("a lone torn record: taken", err == 0 && moved == 1);

    tt_rmtree(dir);
    free(dir);
    free(path);
    free(dropped);
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
