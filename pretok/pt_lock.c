#include "pt_lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "term_text.h"

/* The pid the holder wrote (0 when unreadable). The file is ours: a few
 * bytes, read with one bounded pread. */
static long holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

/* Something other than a regular file at the lock's path (planted, or left
 * by a mistake): named by what it is, and never used. INGOT_E_USAGE (exit 2),
 * as for every other --out that holds what this command did not write
 * (shards, a tokenizer.model, a training run's files): the directory the
 * user chose needs fixing, while exit 1 means the data or the disk failed. */
static int not_a_lock(const char *shown, mode_t mode)
{
    return ingot_fail(INGOT_E_USAGE, "%s: is %s, not ingot-pretok's lock file (always a "
                      "regular file it creates there); remove it and run the same command "
                      "again", shown, fs_file_kind(mode));
}

/* Open the lock file at path (created) into *fd, its identity into *st.
 * O_NOFOLLOW and the type check: a link or a FIFO planted under the name is
 * refused, never followed or blocked on. shown: path for messages. */
static int open_lock_file(const char *path, const char *shown, int *fd, struct stat *st)
{
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (*fd < 0) {
        int e = errno;
        /* a link (ELOOP under O_NOFOLLOW), a directory (EISDIR), a socket
         * (ENXIO): the open's errno alone does not say what is there */
        struct stat l;
        if (!lstat(path, &l) && !S_ISREG(l.st_mode))
            return not_a_lock(shown, l.st_mode);
        return ingot_fail(-e, "%s: cannot open the lock file: %s", shown, strerror(e));
    }
    if (fstat(*fd, st)) {
        int e = errno;
        return ingot_fail(-e, "%s: cannot stat the lock file: %s", shown, strerror(e));
    }
    /* a FIFO (the open did not block: O_NONBLOCK) or a device */
    if (!S_ISREG(st->st_mode))
        return not_a_lock(shown, st->st_mode);
    return 0;
}

/* Lock fd without waiting: 0, or -EBUSY naming the holder. dir and path as
 * messages show them. */
static int lock_now(int fd, const char *dir, const char *path)
{
    while (flock(fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EWOULDBLOCK)
            return ingot_fail(-e, "%s: cannot lock: %s", path, strerror(e));
        long pid = holder_pid(fd);
        char who[48] = "another process";
        if (pid)
            snprintf(who, sizeof(who), "ingot-pretok pid %ld", pid);
        return ingot_fail(-EBUSY, "%s is in use by %s (lock %s); wait for it to finish or "
                          "stop it, or choose another --out", dir, who, path);
    }
    return 0;
}

int pt_lock_acquire(const char *dir)
{
    char *path = fs_path_join(dir, PT_LOCK_NAME);
    if (!path)
        return ingot_oom("the lock file name", strlen(dir) + sizeof(PT_LOCK_NAME) + 1);
    int fd = -1, ret = 0;
    struct stat st, now;
    char td[1024], tp[1024];   /* --out and the lock file, as term_text shows them */
    term_text(dir, td, sizeof(td));
    term_text(path, tp, sizeof(tp));
    /* A failed run removes the lock file of a directory it created (while
     * holding the lock): a file opened before that is no longer the one at
     * the path, and locking it would let a later run lock a new file too.
     * So the file locked must still be the one at the path. */
    for (int tries = 0;; tries++) {
        if ((ret = open_lock_file(path, tp, &fd, &st)) || (ret = lock_now(fd, td, tp)))
            goto out;
        if (!lstat(path, &now) && now.st_ino == st.st_ino && now.st_dev == st.st_dev)
            break;
        close(fd);
        fd = -1;
        if (tries == 100) {
            ret = ingot_fail(-EAGAIN, "%s: the lock file keeps being replaced; is another "
                             "ingot-pretok removing this directory?", tp);
            goto out;
        }
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0)) {
        int e = errno;
        ret = ingot_fail(-e, "%s: cannot write: %s", tp, strerror(e));
        goto out;
    }
    ret = fs_pwrite_full(fd, pid, (size_t)n, 0, tp);
out:
    free(path);
    if (ret) {
        if (fd >= 0)
            close(fd);
        return ret;
    }
    return fd;
}

void pt_lock_release(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* A failed run into a directory it created itself keeps nothing
 * (docs/pretok.md): when OUT is one of the directories this run's mkdir
 * made (out_made; made: fs_mkdir_p_made's list) and holds only pretok's own files (the
 * lock, the state, the tokenizer copy), they and OUT go; then each other
 * directory in made, deepest first, if it is empty. Nothing else is ever
 * removed: not a directory that existed before (however OUT names it, "..",
 * links), nor one another process made meanwhile, nor anything another
 * process put into OUT. The lock file is removed while it is still held:
 * pt_lock_acquire() checks that the file it locked is still the one at the
 * path. Releases the lock. */
void pt_out_abandon(const char *out, char **made, bool out_made, int lock,
                    const char *const *ours, size_t n_ours)
{
    DIR *d = out_made ? opendir(out) : NULL;
    bool only_ours = d != NULL;
    struct dirent *de;
    while (d && only_ours && (de = readdir(d))) {
        bool known = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
        for (size_t k = 0; k < n_ours; k++)
            known |= !strcmp(de->d_name, ours[k]);
        only_ours = known;
    }
    if (d)
        closedir(d);
    for (size_t k = 0; only_ours && k < n_ours; k++) {
        char *f = fs_path_join(out, ours[k]);
        if (f)
            unlink(f);
        free(f);
    }
    /* OUT (empty now, when it was only ours), then the parents this run
     * made; rmdir leaves any that is not empty */
    fs_rmdir_made(made);
    pt_lock_release(lock);
}
