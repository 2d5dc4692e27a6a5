/* libFuzzer target: an ingot-train --config file through
 * tr_settings_load_config() (train/tr_config_file.c's JSON or TOML-lines
 * parser, then the key and type checks of tr_settings.c), and, when that
 * succeeds, tr_opts_build() of the one layer (every value checked as the
 * command line's are, then presets and the cross-flag rules). The reader
 * takes a path, so the input goes to an in-memory file; the layer keeps the
 * origin tr_settings_load_config() gives it ("--config PATH"), as
 * tr_settings_resolve() does, so messages are formed as for a real run.
 * Invariants: a failure returns a negative code with a message recorded for
 * that code, and the reader's own failures name the file; nothing leaks. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "ingot_err.h"
#include "tr_settings.h"
#include "train_opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failure's message was recorded for this very code (not just the
 * code's generic text, nor a stale one). */
static void check_failure(int ret)
{
    FUZZ_ASSERT(ret < 0);
    const char *m = ingot_errmsg_for(ret);
    FUZZ_ASSERT(m[0] && strcmp(m, ingot_strerror(ret)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    struct tr_optlist list;
    ingot_clear_err();
    int ret = tr_settings_load_config(path, &list);
    FUZZ_ASSERT(ret <= 0);
    if (ret) {
        check_failure(ret);
        FUZZ_ASSERT(strstr(ingot_errmsg(), path));
        tr_optlist_free(&list);
    } else {
        FUZZ_ASSERT(list.origin && strstr(list.origin, path));
        struct tr_opts o;
        ingot_clear_err();
        ret = tr_opts_build(&list, 1, &o);
        FUZZ_ASSERT(ret <= 0);
        if (ret)
            check_failure(ret);
        tr_opts_free(&o);
    }
    close(fd);
    return 0;
}
