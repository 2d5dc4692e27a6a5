/* Runs a libFuzzer target over every file of the directories given, for
 * builds without -fsanitize=fuzzer (the corpus becomes a regression test). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    size_t n = 0;
    for (int a = 1; a < argc; a++) {
        DIR *d = opendir(argv[a]);
        if (!d) {
            fprintf(stderr, "%s: cannot open\n", argv[a]);
            return 1;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s", argv[a], de->d_name);
            FILE *f = fopen(p, "rb");
            if (!f)
                continue;
            fseek(f, 0, SEEK_END);
            long len = ftell(f);
            fseek(f, 0, SEEK_SET);
            uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
            if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
                fprintf(stderr, "%s: cannot read\n", p);
                return 1;
            }
            fclose(f);
            LLVMFuzzerTestOneInput(buf, (size_t)len);
            free(buf);
            n++;
        }
        closedir(d);
    }
    printf("%zu inputs ran through the fuzz target\n", n);
    return n ? 0 : 1;
}
