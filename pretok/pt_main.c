/* ingot-pretok: convert a corpus once into token shards. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "ingot_err.h"
#include "fsutil.h"
#include "ingot_version.h"
#include "pt_alloc.h"
#include "pt_cli.h"
#include "pt_convert.h"
#include "pt_hooks.h"
#include "pt_import.h"
#include "pt_merge.h"
#include "pt_report.h"
#include "pt_text.h"
#include "sig_util.h"

static volatile sig_atomic_t interrupted;

static void print_version(void)
{
    char zstd[32], alloc[64];
    snprintf(zstd, sizeof(zstd), "zstd %s", ZSTD_versionString());
    snprintf(alloc, sizeof(alloc), "malloc: %s", pt_alloc_name());
    const char *libs[] = { zstd, "sentencepiece " PT_SPM_VERSION, "liburing " PT_URING_VERSION,
                           alloc,
                           PT_HAVE_TEST_HOOKS ? "test hooks: compiled in (a test build)"
                                              : "test hooks: none (release build)",
                           NULL };
    ingot_version_print(stdout, "ingot-pretok", libs);
}

static void on_signal(int sig)
{
    interrupted = sig;
}

int main(int argc, char **argv)
{
    if (fs_std_fds_open()) {
        perror("ingot-pretok: opening /dev/null on a closed standard descriptor");
        return 1;
    }
    sig_file_size_errors();   /* ulimit -f: EFBIG, reported, not SIGXFSZ */
    struct pt_opts o;
    int ret = pt_cli_parse(argc, argv, &o);
    /* every message names the subcommand, as ingot-train's and ingot-dump's */
    const char *prog = o.cmd == PT_CMD_TEXT ? "ingot-pretok text"
                       : o.cmd == PT_CMD_MERGE ? "ingot-pretok merge"
                       : o.cmd == PT_CMD_IMPORT ? "ingot-pretok import-bin" : "ingot-pretok";
    if (ret) {
        fprintf(stderr, "%s: %s\n", prog, ingot_errmsg_for(ret));
        /* --json promises one object on stdout, a usage error included
         * (the parse may have stopped before reaching --json) */
        bool json = o.json;
        for (int i = 1; i < argc && !json && o.cmd == PT_CMD_CONVERT && strcmp(argv[i], "--"); i++)
            json = !strcmp(argv[i], "--json");
        if (json && o.cmd == PT_CMD_CONVERT) {
            pt_report_json_error(stdout, o.out, ingot_errmsg_for(ret), 2);
            fflush(stdout);
        }
        return 2;
    }
    o.allocator = pt_alloc_name();
    if (o.cmd == PT_CMD_HELP) {
        pt_cli_usage(stdout);
        return fs_stdout_status("ingot-pretok");
    }
    if (o.cmd == PT_CMD_VERSION) {
        print_version();
        return fs_stdout_status("ingot-pretok");
    }
    if (o.cmd == PT_CMD_CONVERT || o.cmd == PT_CMD_IMPORT) {
        /* The conversion stops cleanly on these, import-bin removing what it
         * wrote; `text` and `merge` keep the default (merge resumes from its
         * plan). A signal ignored at start stays ignored (a shell's
         * background job, nohup's caller): that conversion runs to the end. */
        sig_install_unless_ignored(SIGINT, on_signal, NULL);
        sig_install_unless_ignored(SIGTERM, on_signal, NULL);
        /* a closed terminal or ssh session: the same clean stop (the temp
         * files stayed until the next run) */
        sig_install_unless_ignored(SIGHUP, on_signal, NULL);
    }

    switch (o.cmd) {
    case PT_CMD_TEXT:
        if (!(ret = fs_stdout_closed("ingot-pretok text")))
            ret = pt_text(&o, stdout);
        break;
    case PT_CMD_MERGE:
        ret = pt_merge(&o);
        break;
    case PT_CMD_IMPORT:
        ret = pt_import_bin(argc, argv, &interrupted);
        break;
    default:
        ret = pt_convert(&o, &interrupted);
        break;
    }
    if (!ret)   /* import-bin writes only its --help to standard output */
        return o.cmd == PT_CMD_IMPORT ? fs_stdout_status("ingot-pretok") : 0;
    fprintf(stderr, "%s: %s\n", prog, ingot_errmsg_for(ret));
    const int status = ret == INGOT_E_INTERRUPTED ? 128 + (interrupted ? interrupted : SIGINT)
                       : ret == INGOT_E_USAGE ? 2 : 1;
    if (o.json && o.cmd == PT_CMD_CONVERT) {
        pt_report_json_error(stdout, o.out, ingot_errmsg_for(ret), status);
        fflush(stdout);
    }
    char limit[96];
    if ((ret == -ENOSPC || ret == -EDQUOT) && (o.cmd == PT_CMD_CONVERT || o.cmd == PT_CMD_MERGE))
        fprintf(stderr, "%s: the disk is full; what was finished is kept: free space "
                "and run the same command again to resume\n", prog);
    else if ((ret == -ENOSPC || ret == -EDQUOT) && o.cmd == PT_CMD_IMPORT)
        fprintf(stderr, "%s: the disk is full; the shards this import wrote were "
                "removed: free space and run the same command again\n", prog);
    else if (o.cmd != PT_CMD_TEXT && sig_file_size_reached(ret, limit, sizeof(limit)))
        fprintf(stderr, "%s: %s; %s: raise the limit (ulimit -f unlimited) and run the same "
                "command again\n", prog, limit,
                o.cmd == PT_CMD_IMPORT ? "the shards this import wrote were removed"
                                       : "what was finished is kept");
    else if (ret == -EIO && o.cmd == PT_CMD_CONVERT)
        fprintf(stderr, "%s: the disk reported an I/O error; what was finished is "
                "kept, and a rerun checks the checksums of every finished shard: check the disk "
                "(the kernel's log, dmesg), then run the same command again to resume\n", prog);
    if (ret == INGOT_E_INTERRUPTED) {
        /* _exit: threads that did not stop in time may still be running
         * (pt_pipeline_stats.abandoned); exit() would run library
         * destructors under them. Every file was written atomically. */
        fflush(NULL);
        _exit(status);
    }
    return status;
}
