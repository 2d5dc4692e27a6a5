/* The subcommands of ingot-train that use a trained model rather than train
 * one: export, generate, eval. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli_opt.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "sig_util.h"
#include "tr_export.h"
#include "tr_generate.h"
#include "train_loop.h"

int tr_subcommand(int argc, char **argv, void (*version)(void))
{
    static const struct {
        const char *name;
        int (*main)(int, char **);
    } cmds[] = {
        { "export", tr_export_main },
        { "generate", tr_generate_main },
        { "eval", tr_eval_main },
    };
    if (argc < 2)
        return -1;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name))
            continue;
        int err = cmds[i].main(argc - 1, argv + 1);
        if (err == TR_OPTS_VERSION)   /* the main command's line */
            version();
        if (err == TR_OPTS_HELP || err == TR_OPTS_VERSION)
            return fs_stdout_status("ingot-train");
        if (err)
            fprintf(stderr, "ingot-train %s: %s\n", cmds[i].name, ingot_errmsg_for(err));
        /* what to do, as training says it (its files are written whole or
         * not at all: the temporary one is gone) */
        if ((err == -ENOSPC || err == -EDQUOT) && !strcmp(cmds[i].name, "export"))
            fprintf(stderr, "ingot-train export: the disk is full; no file of this export is "
                    "left half-written: free space (the model's weights need about as much as "
                    "the checkpoint's parameters, a third of its size), then run the same "
                    "command again\n");
        char limit[96];
        if (!strcmp(cmds[i].name, "export") && sig_file_size_reached(err, limit, sizeof(limit)))
            fprintf(stderr, "ingot-train export: %s; no file of this export is left "
                    "half-written: raise the limit (ulimit -f unlimited), then run the same "
                    "command again\n", limit);
        return tr_exit_status(err);
    }
    return -1;
}

int tr_cli_bad_option(int c, char **argv, const struct option *longs)
{
    char help[64];
    snprintf(help, sizeof(help), "ingot-train %s --help", argv[0]);
    return cli_opt_error(c, argv, longs, help);
}

int tr_cli_ckpt(int argc, char **argv, const char **ckpt)
{
    if (optind != argc - 1)
        return ingot_fail(INGOT_E_USAGE, "expected one checkpoint (file or directory), got %d "
                          "arguments (see ingot-train %s --help)", argc - optind, argv[0]);
    *ckpt = argv[optind];
    return 0;
}

int tr_cli_flush_stdout(const char *what)
{
    int e = fs_flush(stdout);
    return e ? ingot_fail(e, "standard output: cannot write the %s: %s (a full disk or a "
                          "closed pipe?)", what, strerror(-e)) : 0;
}
