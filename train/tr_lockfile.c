#include "tr_lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingot_err.h"
#include "term_text.h"

/* Whether fd is the file path names now. */
static bool is_at(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/* The holder's record, its first line ("pid unknown" when it wrote none). */
static void read_holder(int fd, char *holder, size_t len)
{
    if (!len)
        return;
    ssize_t n = len > 1 ? pread(fd, holder, len - 1, 0) : 0;
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    if (!holder[0])
        snprintf(holder, len, "pid unknown");
}

/* Record this process as the holder (best effort: the lock holds all the
 * same when the write fails). */
static void write_holder(int fd)
{
    char host[64] = "?", who[160];
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    int n = snprintf(who, sizeof(who), "pid %ld on %s\n", (long)getpid(), host);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, who, (size_t)n, 0) != n) {
        /* the lock holds all the same */
    }
}

int tr_lockfile_take(const char *path, const char *what, int *fd_out, char *holder,
                     size_t holder_len)
{
    *fd_out = -1;
    /* a lock file removed by its holder between our open and our lock:
     * open the new one (bounded: each round needs another holder to end) */
    for (int tries = 0; tries < 100; tries++) {
        /* no symlink: a planted one would have this process truncate its target */
        int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        struct stat sb;
        if (fd < 0) {
            /* what to do depends on why ("remove it" for a directory that
             * does not allow writing sent the user after a file not there) */
            const int e = errno;
            const char *todo = e == ELOOP ? "it is a symbolic link: remove it"
                               : e == EISDIR ? "it is a directory: move it away"
                               : e == ENOENT || e == ENOTDIR ? "its directory is not there: "
                                                               "create it, or name another"
                               : "name a place this run can write";
            return ingot_fail(-e, "%s: cannot open the lock file %s (%s); %s", what,
                              TERM_SHOW(path), strerror(e), todo);
        }
        if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            close(fd);
            return ingot_fail(-EINVAL, "%s: the lock file %s is not a regular file; remove it",
                              what, TERM_SHOW(path));
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (!is_at(fd, path)) {   /* removed by the run that held it */
                close(fd);
                continue;
            }
            write_holder(fd);
            *fd_out = fd;
            return 0;
        }
        const int e = errno;
        const bool gone = e == EWOULDBLOCK && !is_at(fd, path);   /* its holder just ended */
        if (e == EWOULDBLOCK && !gone)
            read_holder(fd, holder, holder_len);
        close(fd);
        if (gone)
            continue;
        if (e == EWOULDBLOCK)
            return -EBUSY;
        if (e == ENOLCK || e == EOPNOTSUPP || e == ENOSYS)
            return 0;   /* a file system without locks: unguarded */
        return ingot_fail(-e, "%s: cannot lock %s: %s", what, TERM_SHOW(path), strerror(e));
    }
    return ingot_fail(-EAGAIN, "%s: the lock file %s was replaced 100 times while this run tried "
                      "to take it; are many runs starting here at once?", what, TERM_SHOW(path));
}

void tr_lockfile_release(const char *path, int fd)
{
    if (fd < 0)
        return;
    (void)unlink(path);   /* while held: a waiting taker sees it gone */
    close(fd);
}
