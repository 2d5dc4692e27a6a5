/* Runs a libFuzzer target over files, for builds without -fsanitize=fuzzer:
 * each argument is a corpus directory (every file in it, sorted by name) or
 * one file. The committed corpora thus become regression tests that run
 * under the ASan+UBSan build in CI. A crash names the input in progress. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are not corpus files (libFuzzer's -max_len is
 * far below it); refuse them rather than read them whole. */
#define REPLAY_MAX_INPUT ((long)16 << 20)

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    if (len < 0 || len > REPLAY_MAX_INPUT || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: not a corpus file (size %ld)\n", path, len);
        fclose(f);
        return -1;
    }
    /* An exact-size copy, so ASan sees any read past the input's end. */
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    /* Printed before the run, so a crash report follows the input's name. */
    fprintf(stderr, "replay %s (%ld bytes)\n", path, len);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dot(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    size_t n = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) {
            fprintf(stderr, "%s: cannot stat\n", argv[a]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[a]))
                return 1;
            n++;
            continue;
        }
        struct dirent **names;
        int k = scandir(argv[a], &names, skip_dot, by_name);
        if (k < 0) {
            fprintf(stderr, "%s: cannot list\n", argv[a]);
            return 1;
        }
        int bad = 0;
        for (int i = 0; i < k; i++) {
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s", argv[a], names[i]->d_name);
            if (!bad && run_file(p))
                bad = 1;
            n++;
            free(names[i]);
        }
        free(names);
        if (bad)
            return 1;
    }
    printf("%zu inputs ran through the fuzz target\n", n);
    return n ? 0 : 1;
}
