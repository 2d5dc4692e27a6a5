/* Without a GPU (the CI machine): --device cuda fails with a clear message
 * and a non-zero exit, and --device auto falls back to the CPU. Skips with
 * 77 where a GPU is present (test_gpu_cli covers that side).
 * usage: test_gpu_nogpu INGOT_TRAIN */
#include <string.h>

#include "kn_common.h"
#include "tt_util.h"

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    if (kn_device_check() == 0) {
        printf("SKIP: a GPU is present\n");
        return TT_SKIP;
    }
    ingot_clear_err();
    char *dir = tt_tmpdir("nogpu"), *out = tt_fmt("%s/out.txt", dir);
    char *cmd = tt_fmt("'%s' --device cuda --synthetic --model tiny --steps 1", argv[1]);
    int rc = tt_run(cmd, out);
    char *s = tt_slurp(out);
    printf("--device cuda: exit %d: %s", rc, s ? s : "(no output)\n");
    CHECK(rc != 0 && rc < 1000);                  /* an error exit, not a crash */
    CHECK(s && strstr(s, "--device cuda") && strstr(s, "not available"));
    CHECK(strstr(s, "--device cpu"));             /* says what to do instead */
    free(s);
    free(cmd);

    cmd = tt_fmt("'%s' --device auto --synthetic --model tiny --layers 1 --dim 32 --seq-len 16 "
                 "--batch 2 --steps 2 --print-every 1 --threads 1", argv[1]);
    rc = tt_run(cmd, out);
    s = tt_slurp(out);
    printf("--device auto: exit %d\n", rc);
    CHECK(rc == 0 && s && strstr(s, "device cpu"));
    free(s);
    free(cmd);
    tt_rmtree(dir);
    free(dir);
    free(out);
    return 0;
}
