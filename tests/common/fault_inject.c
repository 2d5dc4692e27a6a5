/* Test-only LD_PRELOAD: makes writes to chosen files fail as on a full or
 * failing disk, so that the tests can check that every writer reports it,
 * leaves no half-written file under a final name, and resumes afterwards.
 * Built only without sanitizers (their runtime must come first in the
 * preload order); never installed.
 *
 *   INGOT_FAULT_PATH=S          files whose path contains S are "matched"
 *                               (opened with open/openat/creat; their fds
 *                               are tracked until closed)
 *   INGOT_FAULT_AFTER_BYTES=N   writes to matched fds fail once N bytes in
 *                               all have gone to them (the write that crosses
 *                               N is cut short at N; default 0)
 *   INGOT_FAULT_ERRNO=E         ENOSPC (default), EIO or EDQUOT
 *   INGOT_FAULT_OPS=a,b         which calls fail (default "write"):
 *                               write   write/pwrite/writev/pwritev, fallocate
 *                                       and ftruncate that grow, after N bytes
 *                               fsync   fsync/fdatasync of a matched fd
 *                               close   close of a matched fd (the fd is
 *                                       closed all the same, as NFS does)
 *                               rename  rename* whose source or target
 *                                       contains S (nothing is renamed)
 *                               create  open* of S with O_CREAT
 *                               vanish  open* of S without O_CREAT
 *                                       unlinks it first: a file removed
 *                                       between a listing and its open,
 *                                       as --ckpt-keep removes an old
 *                                       checkpoint (ENOENT, no error line)
 *   INGOT_FAULT_SIGNAL=N        instead of failing the write that reaches the
 *                               budget, raise signal N there (a Ctrl-C or
 *                               kill in the middle of a file: what is left?)
 *   INGOT_FAULT_STDOUT_AFTER_ERROR=N
 *                               (no INGOT_FAULT_PATH needed) a program that
 *                               goes on printing to a standard output whose
 *                               error flag is set (> /dev/full) is stopped
 *                               at its Nth such call (printf, puts, putchar,
 *                               fwrite, ...) with exit status 99: a long
 *                               listing must end at its first failed write,
 *                               not run to its end for nothing
 *   INGOT_FAULT_FREE_BYTES=N    (no INGOT_FAULT_PATH needed) statvfs() of any
 *                               path says N bytes are available (f_bavail
 *                               scaled to f_frsize): a nearly full disk
 *                               that writes still reach
 *
 * Each injected failure prints "fault_inject: <call> <path>: <error>" on
 * stderr, so that a test can tell that its fault was reached at all.
 *
 * What this cannot reach: stdio's own writes (glibc's fwrite/fflush/fclose
 * call the kernel through internal aliases, not through write(); only the
 * program's calls into stdio are seen, for the check above), and io_uring
 * writes (no Ingot program writes through io_uring; ingot-pretok reads
 * through it only). Test stdio outputs with /dev/full instead. */
/* Both the plain and the 64-bit names are defined here: with meson's
 * _FILE_OFFSET_BITS=64 the headers would rename the plain ones. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_FSYNC = 2, OP_CLOSE = 4, OP_RENAME = 8, OP_CREATE = 16, OP_VANISH = 32 };
enum { MAX_FD = 4096 };

static struct {
    pthread_once_t once;
    pthread_mutex_t mu;
    const char *match;          /* NULL: the shim does nothing */
    unsigned long long left;    /* bytes matched fds may still take */
    int err;
    int sig;                    /* INGOT_FAULT_SIGNAL, 0: none */
    long stdout_limit;          /* INGOT_FAULT_STDOUT_AFTER_ERROR, -1: off */
    long stdout_after;          /* calls made on a failed stdout so far */
    long long free_bytes;       /* INGOT_FAULT_FREE_BYTES, -1: off */
    unsigned ops;
    char *fd_path[MAX_FD];      /* the matched fds' paths (malloc'd) */
} g = { .once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER, .err = ENOSPC, .ops = OP_WRITE,
        .stdout_limit = -1, .free_bytes = -1 };

#define REAL(ret, name, args) \
    static ret(*real_##name) args; \
    if (!real_##name) \
        real_##name = (ret(*) args)dlsym(RTLD_NEXT, #name)

static void init(void)
{
    const char *lim = getenv("INGOT_FAULT_STDOUT_AFTER_ERROR");
    if (lim && *lim)
        g.stdout_limit = atol(lim);
    const char *fb = getenv("INGOT_FAULT_FREE_BYTES");
    if (fb && *fb)
        g.free_bytes = atoll(fb);
    const char *m = getenv("INGOT_FAULT_PATH");
    if (!m || !*m)
        return;
    const char *a = getenv("INGOT_FAULT_AFTER_BYTES");
    g.left = a ? strtoull(a, NULL, 10) : 0;
    const char *sig = getenv("INGOT_FAULT_SIGNAL");
    g.sig = sig ? atoi(sig) : 0;
    const char *e = getenv("INGOT_FAULT_ERRNO");
    if (e && !strcmp(e, "EIO"))
        g.err = EIO;
    else if (e && !strcmp(e, "EDQUOT"))
        g.err = EDQUOT;
    const char *o = getenv("INGOT_FAULT_OPS");
    if (o && *o) {
        g.ops = 0;
        static const struct { const char *name; unsigned bit; } names[] = {
            { "write", OP_WRITE }, { "fsync", OP_FSYNC }, { "close", OP_CLOSE },
            { "rename", OP_RENAME }, { "create", OP_CREATE }, { "vanish", OP_VANISH },
        };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            const char *p = strstr(o, names[i].name);
            size_t n = strlen(names[i].name);
            if (p && (p == o || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
                g.ops |= names[i].bit;
        }
    }
    g.match = m;
}

static bool active(void)
{
    pthread_once(&g.once, init);
    return g.match != NULL;
}

/* One line on stderr through the real write (no stdio: this may run inside
 * a stdio call of the program's own). */
static void report_what(const char *call, const char *path, const char *what)
{
    REAL(ssize_t, write, (int, const void *, size_t));
    char line[4200];
    int n = snprintf(line, sizeof(line), "fault_inject: %s %s: %s\n", call,
                     path ? path : "?", what);
    if (n > 0 && real_write)
        (void)!real_write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n
                                                                        : sizeof(line) - 1);
}

static void report(const char *call, const char *path)
{
    report_what(call, path, strerror(g.err));
}

static void track(int fd, const char *path)
{
    if (fd < 0 || fd >= MAX_FD || !active())
        return;
    pthread_mutex_lock(&g.mu);
    free(g.fd_path[fd]);
    g.fd_path[fd] = strstr(path, g.match) ? strdup(path) : NULL;
    pthread_mutex_unlock(&g.mu);
}

/* The path of a matched fd (copied into buf), or NULL. */
static const char *matched(int fd, char *buf, size_t n)
{
    if (fd < 0 || fd >= MAX_FD || !active())
        return NULL;
    const char *r = NULL;
    pthread_mutex_lock(&g.mu);
    if (g.fd_path[fd]) {
        snprintf(buf, n, "%s", g.fd_path[fd]);
        r = buf;
    }
    pthread_mutex_unlock(&g.mu);
    return r;
}

/* How much of a write of len bytes to fd may go through: len when fd is
 * not matched or the budget allows, less at the boundary, 0 when the write
 * must fail (then errno is set and the failure reported). */
static size_t allow(int fd, size_t len, const char *call, bool *fail)
{
    char path[4096];
    *fail = false;
    if (!(g.ops & OP_WRITE) || !matched(fd, path, sizeof(path)) || len == 0)
        return len;
    pthread_mutex_lock(&g.mu);
    size_t ok = g.left >= len ? len : (size_t)g.left;
    g.left -= ok;
    pthread_mutex_unlock(&g.mu);
    if (ok == 0 && g.sig > 0) {
        char what[64];
        snprintf(what, sizeof(what), "signal %d raised", g.sig);
        report_what(call, path, what);
        raise(g.sig);
        return len;   /* the signal was handled and returned: the write goes on */
    }
    if (ok == 0) {
        report(call, path);
        *fail = true;
        errno = g.err;
    }
    return ok;
}

static int fail_op(unsigned op, int fd, const char *call)
{
    char path[4096];
    if (!(g.ops & op) || !matched(fd, path, sizeof(path)))
        return 0;
    report(call, path);
    return 1;
}

/* ---- opens ---- */

static int create_refused(const char *path, int flags, const char *call)
{
    if (!(flags & O_CREAT) || !active() || !(g.ops & OP_CREATE) || !strstr(path, g.match))
        return 0;
    report(call, path);
    errno = g.err;
    return 1;
}

/* OP_VANISH: a matched path opened for reading is removed just before. */
static void vanish(int dirfd, const char *path, int flags, const char *call)
{
    if ((flags & O_CREAT) || !active() || !(g.ops & OP_VANISH) || !strstr(path, g.match))
        return;
    if (unlinkat(dirfd, path, 0) == 0)
        report_what(call, path, "removed just before the open");
}

#define MODE_ARG(flags, mode) \
    mode_t mode = 0; \
    if ((flags) & (O_CREAT | O_TMPFILE)) { \
        va_list ap; \
        va_start(ap, flags); \
        mode = (mode_t)va_arg(ap, int); \
        va_end(ap); \
    }

int open(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    REAL(int, open, (const char *, int, ...));
    if (create_refused(path, flags, "open"))
        return -1;
    vanish(AT_FDCWD, path, flags, "open");
    int fd = real_open(path, flags, mode);
    track(fd, path);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    REAL(int, open64, (const char *, int, ...));
    if (create_refused(path, flags, "open"))
        return -1;
    vanish(AT_FDCWD, path, flags, "open");
    int fd = real_open64(path, flags, mode);
    track(fd, path);
    return fd;
}

int openat(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    REAL(int, openat, (int, const char *, int, ...));
    if (create_refused(path, flags, "openat"))
        return -1;
    vanish(dirfd, path, flags, "openat");
    int fd = real_openat(dirfd, path, flags, mode);
    track(fd, path);
    return fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    REAL(int, openat64, (int, const char *, int, ...));
    if (create_refused(path, flags, "openat"))
        return -1;
    vanish(dirfd, path, flags, "openat");
    int fd = real_openat64(dirfd, path, flags, mode);
    track(fd, path);
    return fd;
}

/* _FORTIFY_SOURCE's checked opens (called where flags are not constant). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

int __open_2(const char *path, int flags)
{
    return open(path, flags);
}

int __open64_2(const char *path, int flags)
{
    return open64(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags)
{
    return openat(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
    return openat64(dirfd, path, flags);
}

int creat(const char *path, mode_t mode)
{
    return open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
    return open64(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

/* ---- writes ---- */

ssize_t write(int fd, const void *buf, size_t len)
{
    REAL(ssize_t, write, (int, const void *, size_t));
    bool fail;
    size_t n = allow(fd, len, "write", &fail);
    return fail ? -1 : real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    REAL(ssize_t, pwrite, (int, const void *, size_t, off_t));
    bool fail;
    size_t n = allow(fd, len, "pwrite", &fail);
    return fail ? -1 : real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
    REAL(ssize_t, pwrite64, (int, const void *, size_t, off64_t));
    bool fail;
    size_t n = allow(fd, len, "pwrite", &fail);
    return fail ? -1 : real_pwrite64(fd, buf, n, off);
}

/* The vectored writes: cut the vector at the budget. */
static int cut_iov(int fd, const struct iovec *iov, int cnt, struct iovec *out, const char *call)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    bool fail;
    size_t n = allow(fd, total, call, &fail);
    if (fail)
        return -1;
    int k = 0;
    for (int i = 0; i < cnt && n > 0 && k < 1024; i++) {
        out[k] = iov[i];
        if (out[k].iov_len > n)
            out[k].iov_len = n;
        n -= out[k].iov_len;
        k++;
    }
    return k;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(ssize_t, writev, (int, const struct iovec *, int));
    if (cnt > 1024)
        return real_writev(fd, iov, cnt);
    struct iovec v[1024];
    int k = cut_iov(fd, iov, cnt, v, "writev");
    return k < 0 ? -1 : real_writev(fd, v, k);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    REAL(ssize_t, pwritev, (int, const struct iovec *, int, off_t));
    if (cnt > 1024)
        return real_pwritev(fd, iov, cnt, off);
    struct iovec v[1024];
    int k = cut_iov(fd, iov, cnt, v, "pwritev");
    return k < 0 ? -1 : real_pwritev(fd, v, k, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
    REAL(ssize_t, pwritev64, (int, const struct iovec *, int, off64_t));
    if (cnt > 1024)
        return real_pwritev64(fd, iov, cnt, off);
    struct iovec v[1024];
    int k = cut_iov(fd, iov, cnt, v, "pwritev");
    return k < 0 ? -1 : real_pwritev64(fd, v, k, off);
}

/* Growing a matched file by ftruncate or fallocate takes space too: fail it
 * once the budget is spent. */
static int grow_refused(int fd, off64_t to, const char *call)
{
    char path[4096];
    struct stat st;
    if (!(g.ops & OP_WRITE) || !matched(fd, path, sizeof(path)) || fstat(fd, &st) != 0 ||
        to <= st.st_size || g.left >= (unsigned long long)(to - st.st_size))
        return 0;
    report(call, path);
    return 1;
}

int ftruncate(int fd, off_t len)
{
    REAL(int, ftruncate, (int, off_t));
    if (grow_refused(fd, len, "ftruncate")) {
        errno = g.err;
        return -1;
    }
    return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
    REAL(int, ftruncate64, (int, off64_t));
    if (grow_refused(fd, len, "ftruncate")) {
        errno = g.err;
        return -1;
    }
    return real_ftruncate64(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    REAL(int, fallocate, (int, int, off_t, off_t));
    if (grow_refused(fd, off + len, "fallocate")) {
        errno = g.err;
        return -1;
    }
    return real_fallocate(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
    REAL(int, fallocate64, (int, int, off64_t, off64_t));
    if (grow_refused(fd, off + len, "fallocate")) {
        errno = g.err;
        return -1;
    }
    return real_fallocate64(fd, mode, off, len);
}

/* posix_fallocate returns the error instead of setting errno. */
int posix_fallocate(int fd, off_t off, off_t len)
{
    REAL(int, posix_fallocate, (int, off_t, off_t));
    return grow_refused(fd, off + len, "posix_fallocate") ? g.err : real_posix_fallocate(fd, off, len);
}

int posix_fallocate64(int fd, off64_t off, off64_t len)
{
    REAL(int, posix_fallocate64, (int, off64_t, off64_t));
    return grow_refused(fd, off + len, "posix_fallocate") ? g.err
                                                          : real_posix_fallocate64(fd, off, len);
}

/* ---- fsync, close, rename ---- */

int fsync(int fd)
{
    REAL(int, fsync, (int));
    if (fail_op(OP_FSYNC, fd, "fsync")) {
        errno = g.err;
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(int, fdatasync, (int));
    if (fail_op(OP_FSYNC, fd, "fdatasync")) {
        errno = g.err;
        return -1;
    }
    return real_fdatasync(fd);
}

int close(int fd)
{
    REAL(int, close, (int));
    int fail = fail_op(OP_CLOSE, fd, "close");
    if (fd >= 0 && fd < MAX_FD && active()) {
        pthread_mutex_lock(&g.mu);
        free(g.fd_path[fd]);
        g.fd_path[fd] = NULL;
        pthread_mutex_unlock(&g.mu);
    }
    int r = real_close(fd);
    if (fail) {
        errno = g.err;
        return -1;
    }
    return r;
}

static int rename_refused(const char *from, const char *to, const char *call)
{
    if (!active() || !(g.ops & OP_RENAME) || (!strstr(from, g.match) && !strstr(to, g.match)))
        return 0;
    report(call, to);
    errno = g.err;
    return 1;
}

int rename(const char *from, const char *to)
{
    REAL(int, rename, (const char *, const char *));
    return rename_refused(from, to, "rename") ? -1 : real_rename(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
    REAL(int, renameat, (int, const char *, int, const char *));
    return rename_refused(from, to, "renameat") ? -1 : real_renameat(fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
    REAL(int, renameat2, (int, const char *, int, const char *, unsigned));
    return rename_refused(from, to, "renameat2") ? -1 : real_renameat2(fd1, from, fd2, to, flags);
}

/* ---- stdio on a failed standard output (INGOT_FAULT_STDOUT_AFTER_ERROR) ---- */

static void stdout_check(FILE *f)
{
    pthread_once(&g.once, init);
    if (g.stdout_limit < 0 || f != stdout || !ferror(stdout))
        return;
    if (__atomic_add_fetch(&g.stdout_after, 1, __ATOMIC_RELAXED) >= g.stdout_limit) {
        report_what("stdio", "<stdout>", "still printing after standard output failed");
        _exit(99);
    }
}

int printf(const char *fmt, ...)
{
    stdout_check(stdout);
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(stdout, fmt, ap);
    va_end(ap);
    return r;
}

int fprintf(FILE *f, const char *fmt, ...)
{
    stdout_check(f);
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

int vprintf(const char *fmt, va_list ap)
{
    stdout_check(stdout);
    return vfprintf(stdout, fmt, ap);
}

int puts(const char *s)
{
    REAL(int, puts, (const char *));
    stdout_check(stdout);
    return real_puts(s);
}

int putchar(int c)
{
    REAL(int, putchar, (int));
    stdout_check(stdout);
    return real_putchar(c);
}

int fputc(int c, FILE *f)
{
    REAL(int, fputc, (int, FILE *));
    stdout_check(f);
    return real_fputc(c, f);
}

int putc(int c, FILE *f)
{
    REAL(int, putc, (int, FILE *));
    stdout_check(f);
    return real_putc(c, f);
}

int fputs(const char *s, FILE *f)
{
    REAL(int, fputs, (const char *, FILE *));
    stdout_check(f);
    return real_fputs(s, f);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
    REAL(size_t, fwrite, (const void *, size_t, size_t, FILE *));
    stdout_check(f);
    return real_fwrite(p, size, n, f);
}

/* INGOT_FAULT_FREE_BYTES: what statvfs() says is free. */
static void shrink(struct statvfs64 *sv)
{
    pthread_once(&g.once, init);
    if (g.free_bytes < 0 || !sv->f_frsize)
        return;
    sv->f_bavail = (unsigned long long)g.free_bytes / sv->f_frsize;
    if (sv->f_bfree < sv->f_bavail)
        sv->f_bfree = sv->f_bavail;
}

int statvfs64(const char *path, struct statvfs64 *sv)
{
    REAL(int, statvfs64, (const char *, struct statvfs64 *));
    int r = real_statvfs64(path, sv);
    if (r == 0)
        shrink(sv);
    return r;
}

int statvfs(const char *path, struct statvfs *sv)
{
    struct statvfs64 s64;
    int r = statvfs64(path, &s64);
    if (r == 0) {
        sv->f_bsize = s64.f_bsize;
        sv->f_frsize = s64.f_frsize;
        sv->f_blocks = s64.f_blocks;
        sv->f_bfree = s64.f_bfree;
        sv->f_bavail = s64.f_bavail;
        sv->f_files = s64.f_files;
        sv->f_ffree = s64.f_ffree;
        sv->f_favail = s64.f_favail;
        sv->f_fsid = s64.f_fsid;
        sv->f_flag = s64.f_flag;
        sv->f_namemax = s64.f_namemax;
    }
    return r;
}
