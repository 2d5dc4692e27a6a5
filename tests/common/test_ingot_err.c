/* common/ingot_err: a message that adds context to the last one, passing
 * ingot_errmsg() as an argument, keeps both (it was formatted into its own
 * buffer: undefined, seen garbled as "ingot-train: : every rank must ...");
 * ingot_errmsg_for() gives the text only for the code it was set with; a
 * message cut at the buffer's end is cut at a character's start. */
#include <stdio.h>
#include <string.h>

#include "ingot_err.h"
#include "test_util.h"

int main(void)
{
    ingot_fail(INGOT_E_MISMATCH, "resume point: step=12 differs from rank 0's step=10");
    int err = ingot_fail(INGOT_E_MISMATCH, "%s: every rank must see the same --ckpt-dir",
                         ingot_errmsg());
    CHECK(err == INGOT_E_MISMATCH);
    CHECK(!strcmp(ingot_errmsg(), "resume point: step=12 differs from rank 0's step=10: "
                                  "every rank must see the same --ckpt-dir"));
    /* twice over, and at the buffer's end: cut, never overrun */
    enum { M = INGOT_ERRMSG_MAX };
    static char big[M + 500];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ingot_fail(INGOT_E_USAGE, "%s", big);
    ingot_fail(INGOT_E_USAGE, "a: %s", ingot_errmsg());
    CHECK(!strncmp(ingot_errmsg(), "a: xxx", 6) && strlen(ingot_errmsg()) == M - 1);
    /* cut at a character's start: "日" (3 bytes) over the last byte */
    memset(big, 'x', M - 3);
    memcpy(big + M - 3, "\xe6\x97\xa5\xe6\x97\xa5", 7);
    ingot_fail(INGOT_E_USAGE, "%s", big);
    CHECK(strlen(ingot_errmsg()) == M - 3);
    big[M - 4] = '\0';
    ingot_fail(INGOT_E_USAGE, "%s\xe6\x97\xa5z", big);   /* M - 4 + 3 fits whole */
    CHECK(strlen(ingot_errmsg()) == M - 1 && !strcmp(ingot_errmsg() + M - 4, "\xe6\x97\xa5"));
    /* two paths of PATH_MAX and the text around them: whole */
    char path[4096];
    memset(path, 'p', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    ingot_fail(INGOT_E_USAGE, "--ckpt-dir %s: not a directory (%s); name a directory", path,
               path);
    CHECK(strlen(ingot_errmsg()) == 2 * 4095 + 49 &&
          !strcmp(ingot_errmsg() + strlen(ingot_errmsg()) - 18, "; name a directory"));
    CHECK(!strcmp(ingot_errmsg_for(INGOT_E_CHECKSUM), "checksum mismatch"));
    printf("ok\n");
    return 0;
}
