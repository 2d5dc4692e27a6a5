/* --ckpt-dir is checked before any training, and a save killed half-way
 * leaves only a hidden temp file that the next start removes:
 * - a path that cannot be a directory (/proc/x, a regular file, a path
 *   under a regular file, a path under /proc/x) or a directory where
 *   nothing can be created (/proc; a 0555 directory when not root) fails
 *   at once, with a message naming the path once and no training step run;
 * - a missing directory is created;
 * - a save past the file-size limit (ulimit -f) fails with EFBIG, named,
 *   with the limit and what to do, and leaves no temp file and no
 *   ckpt-*.bin (SIGXFSZ killed the run without a word, leaving its temp);
 * - a save killed half-way leaves DIR/.ckpt-<step>.bin.tmp.<pid>
 *   (test_train_faults kills one): the next run removes it and the legacy
 *   visible temp of a dead writer, and keeps a live writer's temp and
 *   every file that only looks similar;
 * - a directory another process trains into (it holds the flock of
 *   DIR/.ingot-train.lock) is refused, new run or --resume, naming the
 *   holder, before any step and before the metrics file or the temp files
 *   of the holder's saves are touched; once the lock is free the run goes
 *   on.
 * usage: test_ckpt_dir INGOT_TRAIN */
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "tt_util.h"

static const char *bin;
static char *out;
static int failures;

static const char *const run =
    "--synthetic --vocab 64 --model tiny --layers 1 --dim 32 --seq-len 16 --batch 2 "
    "--val-every 0 --print-every 1 --steps 2";

/* How many times needle is in the error line (the last "ingot-train: "
 * one) of s. */
static int times_in_error(const char *s, const char *needle)
{
    const char *e = NULL;
    for (const char *p = s; (p = strstr(p, "ingot-train: ")); p++)
        e = p;
    if (!e)
        return 0;
    size_t len = strcspn(e, "\n");
    int n = 0;
    for (const char *p = e; (p = strstr(p, needle)) && p < e + len; p += strlen(needle))
        n++;
    return n;
}

/* ingot-train must fail with a message naming path once, before step 1. */
static void refused(const char *what, const char *path, const char *needle)
{
    char *a = tt_fmt("%s --ckpt-dir '%s'", run, path);
    failures += tt_expect(bin, out, what, a, 1, path, needle);
    char *s = tt_slurp(out);
    if (s && strstr(s, "step ")) {
        fprintf(stderr, "%s: trained before refusing the directory:\n%s\n", what, s);
        failures++;
    }
    /* a directory that cannot be made named it twice ("--ckpt-dir x: x:
     * cannot create directory") */
    int named = s ? times_in_error(s, path) : 0;
    if (named != 1) {
        fprintf(stderr, "%s: the error line names %s %d times, want once:\n%s\n", what, path,
                named, s ? s : "");
        failures++;
    }
    free(s);
    free(a);
}

static bool exists(const char *dir, const char *name)
{
    char *p = tt_fmt("%s/%s", dir, name);
    bool e = access(p, F_OK) == 0;
    free(p);
    return e;
}

static void touch(const char *dir, const char *name)
{
    char *p = tt_fmt("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f && fputs("partial", f) >= 0 && fclose(f) == 0);
    free(p);
}

/* A pid that is surely not running: a child that has exited and been
 * reaped. */
static long dead_pid(void)
{
    pid_t c = fork();
    CHECK(c >= 0);
    if (c == 0)
        _exit(0);
    CHECK(waitpid(c, NULL, 0) == c);
    return (long)c;
}

/* The one temp file a killed save left, or NULL. */
/* The one entry of dir besides config.json (the run's settings, written at
 * the start), or NULL. */
static char *only_entry(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d);
    char *name = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            strcmp(e->d_name, "config.json") && strcmp(e->d_name, ".ingot-train.lock")) {
            n++;
            free(name);
            name = strdup(e->d_name);
        }
    closedir(d);
    if (n != 1) {
        free(name);
        return NULL;
    }
    return name;
}

static void killed_save(const char *dir)
{
    char *ck = tt_fmt("%s/killed", dir);
    /* 32 blocks of 512 bytes (dash) or 1 KiB (bash): more than stdout
     * needs, far less than the 100 KB checkpoint of this model */
    char *cmd = tt_fmt("ulimit -f 32; exec '%s' %s --quiet --ckpt-dir '%s'", bin, run, ck);
    int rc = tt_run(cmd, out);
    char *left = only_entry(ck), *said = tt_slurp(out);
    printf("%-34s exit %d, left '%s'\n", "save past ulimit -f", rc, left ? left : "none");
    if (rc != 1 || left || !said || !strstr(said, ".ckpt-00000002.bin.tmp.") ||
        !strstr(said, "File too large") || !strstr(said, "file-size limit (ulimit -f") ||
        !strstr(said, "raise the limit")) {
        fprintf(stderr, "save past ulimit -f: want exit 1 naming the file and the limit, no temp "
                "file left; got exit %d, left %s:\n%s\n", rc, left ? left : "none",
                said ? said : "");
        failures++;
    }
    free(said);
    free(left);
    /* what a save killed half-way leaves (a dead writer's hidden temp) */
    char *want = tt_fmt(".ckpt-00000002.bin.tmp.%ld", dead_pid());
    touch(ck, want);
    left = strdup(want);
    /* The next start removes it (its writer is dead), the legacy visible
     * form of a dead writer and the config.json temp of a run killed while
     * writing it; a live writer's temp file and names outside the rule
     * stay. */
    char *legacy = tt_fmt("ckpt-00000001.bin.tmp.%ld", dead_pid());
    char *config_tmp = tt_fmt("config.json.tmp.%ld", dead_pid());
    char *live = tt_fmt(".ckpt-00000003.bin.tmp.%ld", (long)getpid());
    static const char *const keep[] = {
        ".ckpt-notes", "ckpt-1.bin.tmp.x", ".ckpt-00000004.bin.tmp.", "ckpt-00000005.bin.old",
        "config.json.tmp.x",
    };
    touch(ck, legacy);
    touch(ck, config_tmp);
    touch(ck, live);
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        touch(ck, keep[i]);
    char *a = tt_fmt("%s --ckpt-dir '%s'", run, ck);
    failures += tt_expect(bin, out, "next start cleans stale temps", a, 0,
                          "removed 3 stale temp files", "ckpt-00000002.bin");
    bool ok = (!left || !exists(ck, left)) && !exists(ck, legacy) && !exists(ck, config_tmp) &&
              exists(ck, live) &&
              exists(ck, "ckpt-00000002.bin");
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        ok = ok && exists(ck, keep[i]);
    if (!ok) {
        fprintf(stderr, "cleanup removed the wrong files (or kept a stale one)\n");
        failures++;
    }
    free(a); free(legacy); free(config_tmp); free(live); free(want); free(left); free(cmd);
    free(ck);
}

/* Two runs in one --ckpt-dir would interleave their checkpoints (both
 * ran to the end, the last rename winning), prune each other's and
 * truncate the first one's metrics. This process plays the first run. */
static void locked_dir(const char *dir)
{
    char *ck = tt_fmt("%s/locked", dir), *lock = tt_fmt("%s/.ingot-train.lock", ck);
    char *metrics = tt_fmt("%s/locked-metrics.jsonl", dir);
    CHECK(mkdir(ck, 0755) == 0);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    CHECK(write(fd, "pid 4242 on the-first-run\n", 26) == 26);
    touch(dir, "locked-metrics.jsonl");
    /* a temp of the first run's save in progress, on another host: its pid
     * means nothing here */
    char *temp = tt_fmt(".ckpt-00000003.bin.tmp.%ld", dead_pid());
    touch(ck, temp);
    char *a = tt_fmt("%s --ckpt-dir '%s' --metrics '%s'", run, ck, metrics);
    failures += tt_expect(bin, out, "ckpt-dir locked: new run refused", a, 1,
                          "another ingot-train (pid 4242 on the-first-run)", ck);
    char *r = tt_fmt("%s --resume", a);
    failures += tt_expect(bin, out, "ckpt-dir locked: --resume refused", r, 1,
                          "another ingot-train", "another --ckpt-dir");
    char *m = tt_slurp(metrics);
    if (!m || strcmp(m, "partial") || exists(ck, "ckpt-00000002.bin") || !exists(ck, temp)) {
        fprintf(stderr, "a refused run touched the first run's metrics, checkpoints or save "
                "in progress\n");
        failures++;
    }
    close(fd);   /* the first run ends */
    failures += tt_expect(bin, out, "ckpt-dir lock released: runs", r, 0, "ckpt-00000002.bin",
                          NULL);
    free(m); free(r); free(a); free(metrics); free(lock); free(ck); free(temp);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    bin = argv[1];
    char *dir = tt_tmpdir("ckptdir");
    out = tt_fmt("%s/out.txt", dir);
    char *file = tt_fmt("%s/a-file", dir), *under = tt_fmt("%s/a-file/sub", dir);
    touch(dir, "a-file");

    refused("ckpt-dir /proc/x", "/proc/x", "or create this one first");
    refused("ckpt-dir is a regular file", file, "not a directory");
    refused("ckpt-dir under a regular file", under, "a file is in the way");
    refused("ckpt-dir under /proc/x", "/proc/x/y", "/proc/x: cannot create");
    refused("ckpt-dir not writable (/proc)", "/proc", "cannot write");
    if (geteuid() != 0) {   /* root writes anywhere */
        char *ro = tt_fmt("%s/ro", dir);
        CHECK(mkdir(ro, 0555) == 0);
        refused("ckpt-dir read-only", ro, "cannot write");
        free(ro);
    }

    /* an hf export's or a dataset's folder: refused (exit 2) before its
     * config.json (transformers' entry point) or anything else changes */
    static const char *const foreign[][3] = {
        { "export", "model.safetensors", "exported model" },
        { "export-bin", "model.bin", "exported model" },
        { "dataset", "manifest.json", "dataset directory" },
    };
    for (int i = 0; i < 3; i++) {
        char *fd = tt_fmt("%s/%s", dir, foreign[i][0]);
        CHECK(mkdir(fd, 0755) == 0);
        touch(fd, foreign[i][1]);
        touch(fd, "config.json");
        char *fa = tt_fmt("%s --ckpt-dir '%s'", run, fd);
        char *what = tt_fmt("ckpt-dir holding %s", foreign[i][1]);
        failures += tt_expect(bin, out, what, fa, 2, foreign[i][2], foreign[i][1]);
        char *cj = tt_fmt("%s/config.json", fd), *s = tt_slurp(cj);
        bool kept = s && !strcmp(s, "partial") && !exists(fd, "ckpt-00000002.bin");
        printf("%-34s %s\n", "  its config.json untouched", kept ? "ok" : "FAIL");
        failures += !kept;
        free(s);
        free(cj);
        free(what);
        free(fa);
        free(fd);
    }

    /* --dump-batch writes no checkpoint: a new --ckpt-dir is not made */
    char *dd = tt_fmt("%s/dump-dir", dir);
    char *da = tt_fmt("%s --ckpt-dir '%s' --dump-batch '%s/b.bin'", run, dd, dir);
    failures += tt_expect(bin, out, "--dump-batch, a new ckpt-dir", da, 0, "wrote ", NULL);
    bool made = access(dd, F_OK) == 0;
    printf("%-34s %s\n", "  the ckpt-dir not made", made ? "FAIL" : "ok");
    failures += made;
    free(da);
    free(dd);

    char *a = tt_fmt("%s --ckpt-dir '%s/new/nested'", run, dir);
    failures += tt_expect(bin, out, "missing ckpt-dir is created", a, 0, "ckpt-00000002.bin", NULL);
    free(a);

    killed_save(dir);
    locked_dir(dir);

    /* a probe file left by a killed process with this run's pid (the child
     * makes it, then execs: the pid is kept): removed, not "File exists" */
    char *pd = tt_fmt("%s/probe", dir);
    CHECK(mkdir(pd, 0755) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char name[64];
        snprintf(name, sizeof(name), ".ingot-probe.%ld", (long)getpid());
        touch(pd, name);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(bin, bin, "--synthetic", "--vocab", "64", "--model", "tiny", "--layers", "1",
              "--dim", "32", "--seq-len", "16", "--batch", "2", "--val-every", "0", "--steps",
              "1", "--ckpt-dir", pd, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    bool probe_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && exists(pd, "ckpt-00000001.bin");
    printf("%-34s %s\n", "a stale probe file of our pid", probe_ok ? "ok" : "FAIL");
    failures += !probe_ok;
    free(pd);

    /* --ckpt-keep that cannot remove an old checkpoint (here a directory of
     * its name): a warning, the run goes on and saves (it ended the run) */
    char *kd = tt_fmt("%s/keep", dir);
    a = tt_fmt("%s --ckpt-dir '%s' --ckpt-every 1 --ckpt-keep 1", run, kd);
    failures += tt_expect(bin, out, "--ckpt-keep 1, 2 steps", a, 0, "ckpt-00000002.bin", NULL);
    free(a);
    char *blocker = tt_fmt("%s/ckpt-00000001.bin", kd);
    CHECK(mkdir(blocker, 0755) == 0);
    touch(blocker, "x");   /* not empty: no unlink or rmdir removes it */
    a = tt_fmt("--ckpt-dir '%s' --resume --steps 4", kd);
    failures += tt_expect(bin, out, "--ckpt-keep cannot remove one", a, 0, "warning: --ckpt-keep",
                          "the run goes on");
    if (!exists(kd, "ckpt-00000004.bin") || exists(kd, "ckpt-00000003.bin")) {
        fprintf(stderr, "--ckpt-keep with a blocker: step 4 kept %d, step 3 removed %d\n",
                exists(kd, "ckpt-00000004.bin"), !exists(kd, "ckpt-00000003.bin"));
        failures++;
    }
    free(a); free(blocker); free(kd);

    tt_rmtree(dir);
    free(dir); free(out); free(file); free(under);
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
