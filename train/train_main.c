/* ingot-train: parse the command line, check where output goes, run,
 * report the error. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "data_loader.h"
#include "ingot_config.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "tr_dist_env.h"
#include "tr_dist_run.h"
#include "ingot_version.h"
#include "sig_util.h"
#include "term_text.h"
#include "tr_export.h"
#include "tr_settings.h"
#include "train_loop.h"
#include "train_opts.h"
#if INGOT_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#endif

static void on_signal(int sig)
{
    tr_request_stop(sig);
}

/* --version: the release, the git revision and the libraries linked (the
 * CUDA runtime and cuBLAS as loaded, which may be newer than the headers). */
static void print_version(void)
{
    char lib[4][64];
    const char *libs[6];
    int n = 0;
#if INGOT_HAVE_CUDA
    int rt = 0, maj = 0, min = 0, pat = 0;
    if (cudaRuntimeGetVersion(&rt) == cudaSuccess)
        snprintf(lib[n], sizeof(lib[n]), "CUDA runtime %d.%d", rt / 1000, rt % 1000 / 10);
    else
        snprintf(lib[n], sizeof(lib[n]), "CUDA runtime (version unavailable)");
    libs[n] = lib[n];
    n++;
    if (cublasGetProperty(MAJOR_VERSION, &maj) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(MINOR_VERSION, &min) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(PATCH_LEVEL, &pat) == CUBLAS_STATUS_SUCCESS)
        snprintf(lib[n], sizeof(lib[n]), "cuBLAS %d.%d.%d", maj, min, pat);
    else
        snprintf(lib[n], sizeof(lib[n]), "cuBLAS (version unavailable)");
    libs[n] = lib[n];
    n++;
#else
    snprintf(lib[n], sizeof(lib[n]), "CUDA: not built (CPU trainer only)");
    libs[n] = lib[n];
    n++;
#endif
#ifdef _OPENMP
    snprintf(lib[n], sizeof(lib[n]), "OpenMP %d", _OPENMP);
    libs[n] = lib[n];
    n++;
#endif
#ifdef INGOT_TEST_HOOKS
    libs[n++] = "test hooks: compiled in (a test build)";
#else
    libs[n++] = "test hooks: none (release build)";
#endif
    libs[n] = NULL;
    ingot_version_print(stdout, "ingot-train", libs);
}

/* SIGINT, SIGTERM and SIGHUP (a closed terminal or ssh session) stop at the
 * next step boundary with a checkpoint; so does SIGPIPE, the reader of the
 * run's output gone (`| tee log` whose ssh session dropped, `| head`): it
 * killed the run at its next line, before any save. SIGBUS from a shard
 * truncated under its mapping becomes an error naming the shard
 * (data_loader.h). A SIGHUP or SIGPIPE ignored from the start (nohup, a
 * parent that ignores it) stays ignored: that run asked to outlive its
 * output. */
static void install_handlers(void)
{
    /* SIGUSR1: what Slurm's --signal=USR1@SECONDS sends before the time limit */
    static const int stops[] = { SIGINT, SIGTERM, SIGUSR1 };
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
        sigaction(stops[i], &sa, NULL);
    sig_install_unless_ignored(SIGHUP, on_signal, NULL);
    sig_install_unless_ignored(SIGPIPE, on_signal, NULL);
}

/* After a run failed on a full or failing disk: what is kept and what to
 * do, naming the checkpoint a --resume would continue from. */
static void disk_hint(int err, const char *ckpt_dir)
{
    char limit[96];
    const bool fsize = sig_file_size_reached(err, limit, sizeof(limit)) != NULL;
    if (err != -ENOSPC && err != -EDQUOT && err != -EIO && !fsize)
        return;
    const char *what = fsize ? limit : err == -EIO ? "the disk reported an I/O error"
                                                   : "the disk is full";
    const char *fix = fsize ? "raise the limit (ulimit -f unlimited)"
                      : err == -EIO ? "check the disk (the kernel's log, dmesg, says more)"
                                    : "free space";
    char *last = NULL;
    if (ckpt_dir && tr_ckpt_find_latest(ckpt_dir, &last))
        ingot_clear_err();   /* a directory the failed run removed again */
    if (last)
        fprintf(stderr, "ingot-train: %s; the checkpoints written before are whole (saves are "
                "atomic, and a resume verifies them): %s, then add --resume to continue from "
                "%s\n", what, fix, TERM_SHOW(last));
    else
        fprintf(stderr, "ingot-train: %s; %s: %s, then run the same command again\n", what,
                ckpt_dir ? "no checkpoint was written" : "nothing was saved (no --ckpt-dir)", fix);
    free(last);
}

/* " (rank R of W on HOST)" in a job of several ranks, from the launcher's
 * variables: an error a rank meets before the rendezvous (a --ckpt-dir it
 * cannot create, a batch that does not divide) came once per rank with
 * nothing to tell the ranks or hosts apart. "" for one process. */
static char who[320];
/* The launcher's rank and world of this process (0 and 1 when there is
 * none), read here once and passed down: the default batch, and which rank
 * saves and speaks before the communicator exists. */
static int launcher_rank, launcher_world = 1;
/* The launcher's variables could not be read: reported once the command line
 * is known (--dist none ignores them), before any directory is made or a
 * dataset opened. */
static bool launcher_bad;
/* Another launcher's variables, set and not used (tr_dist_env's note): said
 * once the command line is known (under --dist none none are used) */
static char launcher_note[sizeof(((struct tr_dist_env *)0)->note)];

static void read_launcher(void)
{
    extern char **environ;
    struct tr_dist_env e;
    if (tr_dist_env_read((const char *const *)environ, &e)) {
        ingot_clear_err();   /* said after the settings (launcher_check) */
        launcher_bad = true;
        return;
    }
    snprintf(launcher_note, sizeof(launcher_note), "%s", e.note);
    char host[256] = "";
    launcher_rank = e.world > 1 ? e.rank : 0;
    launcher_world = e.world > 1 ? e.world : 1;
    if (e.world > 1 && gethostname(host, sizeof(host) - 1) == 0)
        snprintf(who, sizeof(who), " (rank %d of %d on %s)", e.rank, e.world,
                 TERM_SHOW_N(host, 256));   /* any byte may be set as a host name */
}

/* "ingot-train: MESSAGE" with who, unless the message names its rank already. */
static void report(int err)
{
    const char *m = ingot_errmsg_for(err);
    fprintf(stderr, "ingot-train%s: %s\n", strncmp(m, "rank ", 5) ? who : "", m);
}

/* After the settings: --dist none is one process whatever the environment
 * says; else launcher variables that could not be read end the run now (every
 * rank would have made its --ckpt-dir and opened and verified the dataset
 * before the communicator said so). Returns the error, reported. */
static int launcher_check(const struct tr_opts *o)
{
    extern char **environ;
    if (o->dist && !strcmp(o->dist, "none")) {
        launcher_rank = 0;
        launcher_world = 1;
        who[0] = '\0';
        return 0;
    }
    if (launcher_note[0])
        fprintf(stderr, "ingot-train: note: %s\n", launcher_note);
    if (!launcher_bad)
        return 0;
    struct tr_dist_env e;
    int err = tr_dist_env_read((const char *const *)environ, &e);
    if (err)
        report(err);
    return err;
}

/* The directory a --metrics or --dump-batch file goes into, checked before
 * the model is built: one that is not there failed the run at its first
 * record, exit 1, after the start-up (minutes for a large model), blaming the
 * lock file beside it ("cannot open the lock file nodir/m.jsonl.lock ...:
 * remove it if it is not a regular file"); --dump-batch's, after the model
 * and the batch. A path a checkpoint's settings carry over is not checked
 * here: the run says it is not there and goes on without it. */
static int check_out_dir(const struct tr_opts *o, const char *key, const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash || tr_opts_carried(o, key))   /* no slash: the working directory */
        return 0;
    char *dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (!dir)
        return ingot_oom("a directory name", strlen(path));
    struct stat st;
    int err = 0;
    char from[512];
    tr_opts_origin(o, key, from, sizeof(from));
    const int rc = stat(dir, &st);
    if (rc != 0 && (errno == ENOENT || errno == ENOTDIR))
        err = ingot_fail(INGOT_E_USAGE, "--%s %s%s: the directory %s is not there; create it "
                         "(mkdir -p), or name a file in a directory that is", key,
                         TERM_SHOW(path), from, TERM_SHOW(dir));
    else if (rc == 0 && !S_ISDIR(st.st_mode))
        err = ingot_fail(INGOT_E_USAGE, "--%s %s%s: %s is %s, not a directory; name a file in "
                         "a directory", key, TERM_SHOW(path), from, TERM_SHOW(dir),
                         S_ISREG(st.st_mode) ? "a file" : fs_file_kind(st.st_mode));
    free(dir);
    return err;
}

/* Data-parallel flags typed for a run of one process with no transport
 * (no launcher, --dist auto or none): --zero 1 on one GPU saved no memory,
 * and none of them did anything, without a word. */
static void single_process_note(const struct tr_opts *o)
{
    if (launcher_world > 1 || (o->dist && strcmp(o->dist, "auto") && strcmp(o->dist, "none")))
        return;
    static const char *const keys[] = { "zero", "grad-reduce", "dist-port", "dist-timeout" };
    char list[128] = "";
    size_t len = 0;
    int n = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!tr_opts_cmdline_gave(o, keys[i]) || (i == 0 && o->zero != 1) ||
            (i == 1 && !o->grad_reduce_bf16))
            continue;
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s--%s%s", n++ ? ", " : "",
                                keys[i], i == 0 ? " 1" : i == 1 ? " bf16" : "");
    }
    if (n)
        printf("note: not used by this run: %s: for data parallelism, and this run is a "
               "single process (start several with torchrun, srun, mpirun or "
               "scripts/launch/; docs/multi-gpu.md)\n", list);
}

int main(int argc, char **argv)
{
    if (fs_std_fds_open()) {
        perror("ingot-train: opening /dev/null on a closed standard descriptor");
        return 1;
    }
    sig_file_size_errors();   /* ulimit -f: EFBIG, reported, not SIGXFSZ */
    read_launcher();
    /* eval reads shards through the loader too: a shard truncated under it
     * died of SIGBUS (the handler came with training's, below) */
    tr_loader_trap_sigbus();
    int sub = tr_subcommand(argc, argv, print_version);   /* export, generate, eval */
    if (sub >= 0)
        return sub;
    struct tr_opts o;
    /* the command line, --config FILE and (--resume) the checkpoint's settings */
    int err = tr_settings_resolve(argc, argv, &o);
    if (err == TR_OPTS_VERSION) {
        print_version();
        return fs_stdout_status("ingot-train");
    }
    if (err == TR_OPTS_HELP)
        return fs_stdout_status("ingot-train");
    if (err) {
        report(err);
        return err == INGOT_E_USAGE ? 2 : 1;   /* a checkpoint or config that cannot be read: 1 */
    }
    install_handlers();
    if ((err = launcher_check(&o))) {
        tr_opts_free(&o);
        return 2;
    }
    tr_dist_run_default_batch(&o, launcher_world);
    /* --dump-batch writes no checkpoint: its --ckpt-dir is only read (with
     * --resume), never made or prepared (it left an empty directory) */
    if (o.ckpt_dir && !o.dump_batch) {
        /* every rank of a data-parallel run prepares the directory at
         * once: rank 0 alone (it saves) removes the temp files of killed
         * saves and says so, where the note came from whichever rank won */
        const bool saver = tr_dist_run_first(&o, launcher_rank);
        int removed = 0;
        /* made by this run (its mkdir), not merely absent by name: a path
         * through ".." can name a directory that existed */
        if (fs_mkdir_p_made(o.ckpt_dir, NULL, &o.ckpt_dir_made))
            ingot_clear_err();   /* a directory that cannot be made: prepare says so */
        if ((err = tr_ckpt_dir_prepare(o.ckpt_dir, saver ? &removed : NULL))) {
            report(err);
            tr_opts_free(&o);
            return err == INGOT_E_USAGE ? 2 : 1;
        }
        if (removed && !o.quiet)
            printf("removed %d stale temp file%s of killed saves in %s\n", removed,
                   removed == 1 ? "" : "s", TERM_SHOW(o.ckpt_dir));
        /* A new run among another run's checkpoints would lose its own: the
         * rotation keeps the highest steps (the old run's) and a later
         * --resume would continue the old run. */
        char *old = NULL;
        if (!o.resume && !o.dump_batch && !(err = tr_ckpt_find_latest(o.ckpt_dir, &old)) && old)
            err = o.resume_from
                ? ingot_fail(INGOT_E_USAGE, "--ckpt-dir %s already holds checkpoints of a run "
                             "(the latest %s): --resume-from saves its branch into a new or "
                             "empty --ckpt-dir", TERM_SHOW(o.ckpt_dir), TERM_SHOW(old))
                : ingot_fail(INGOT_E_USAGE, "--ckpt-dir %s already holds checkpoints of a run "
                             "(the latest %s): add --resume to continue it, or give a new or "
                             "empty --ckpt-dir for a new run", TERM_SHOW(o.ckpt_dir),
                             TERM_SHOW(old));
        free(old);
        if (err) {
            report(err);
            tr_opts_free(&o);
            return err == INGOT_E_USAGE ? 2 : 1;
        }
    }
    /* after --ckpt-dir is made: --metrics ck/m.jsonl goes into it */
    if ((o.dump_batch && (err = check_out_dir(&o, "dump-batch", o.dump_batch))) ||
        (!o.dump_batch && o.metrics && tr_dist_run_first(&o, launcher_rank) &&
         (err = check_out_dir(&o, "metrics", o.metrics)))) {
        report(err);
        if (o.ckpt_dir_made)   /* made by this run, and left as it was: empty */
            (void)rmdir(o.ckpt_dir);
        tr_opts_free(&o);
        return err == INGOT_E_USAGE ? 2 : 1;
    }
    if (o.unused_note && !o.quiet && tr_dist_run_first(&o, launcher_rank))
        printf("note: not used by this run: %s\n", TERM_SHOW(o.unused_note));
    if (!o.quiet)
        single_process_note(&o);
    err = tr_train(&o, launcher_rank);
    if (err) {
        report(err);
        disk_hint(err, o.ckpt_dir);
    }
    tr_opts_free(&o);
    return tr_exit_status(err);   /* a stop by signal N: 128 + N, as a shell reports one */
}
