/* Test-only LD_PRELOAD (tests/train/test_ckpt_lock_race.py): holds
 * ingot-train at its --ckpt-dir lock, the exclusive flock of
 * tr_ckpt_dir_lock(), until the file $INGOT_TEST_FLOCK_GATE exists, after
 * creating $INGOT_TEST_FLOCK_GATE.waiting. The test acts in that window,
 * between the run's start (which found the newest checkpoint) and its lock,
 * as another run's save could, with no race on timing. Other flock calls
 * (the shared-lock probe) pass straight through. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

int flock(int fd, int op)
{
    int (*real)(int, int) = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
    const char *gate = getenv("INGOT_TEST_FLOCK_GATE");
    if (gate && (op & LOCK_EX)) {
        char waiting[4096];
        snprintf(waiting, sizeof(waiting), "%s.waiting", gate);
        FILE *f = fopen(waiting, "w");
        if (f)
            fclose(f);
        for (int i = 0; i < 60000 && access(gate, F_OK) != 0; i++)   /* 60 s at most */
            usleep(1000);
    }
    return real ? real(fd, op) : -1;
}
