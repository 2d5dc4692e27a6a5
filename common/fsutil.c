/* File-system helpers: atomic writes, directory fsync, whole-file reads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "term_text.h"

/* A path in a message: paths come from the command line, from directories
 * walked and from files (a manifest's tokenizer.file and tokenizer.source),
 * and a control byte in one would reach the terminal of whoever reads the
 * message. */
#define SHOWN(path, buf) term_text((path), (buf), sizeof(buf))

int fs_write_full(int fd, const void *buf, size_t len, const char *what)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            char tw[1024];
            return ingot_fail(-e, "%s: write failed: %s", SHOWN(what, tw), strerror(e));
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fs_pwrite_full(int fd, const void *buf, size_t len, uint64_t off, const char *what)
{
    const char *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            char tw[1024];
            return ingot_fail(-e, "%s: write at offset %llu failed: %s", SHOWN(what, tw),
                              (unsigned long long)off, strerror(e));
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

char *fs_path_join(const char *dir, const char *name)
{
    if (!dir || !dir[0] || name[0] == '/')
        return strdup(name);
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dir[dl - 1] != '/';
    char *p = malloc(dl + (size_t)slash + nl + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

char *fs_abs_path(const char *p)
{
    char buf[PATH_MAX], cwd[PATH_MAX];
    if (realpath(p, buf))
        return strdup(buf);
    if (p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
        return strdup(p);
    return fs_path_join(cwd, p);
}

const char *fs_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int fs_is_dir(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        int e = errno;
        char tp[1024];
        return ingot_fail(-e, "%s: %s", SHOWN(path, tp), strerror(e));
    }
    return S_ISDIR(st.st_mode) ? 1 : 0;
}

int fs_free_bytes(const char *path, uint64_t *bytes)
{
    struct statvfs sv;
    if (statvfs(path, &sv) != 0)
        return -errno;
    *bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    return 0;
}

uint64_t fs_file_size_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    return (uint64_t)rl.rlim_cur;
}

int fs_is_entry_of(const char *path, const char *dir)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')   /* "out/" names the entry "out" */
        n--;
    size_t cut = n;
    while (cut > 0 && path[cut - 1] != '/')
        cut--;
    char *parent = cut == 0 ? strdup(".") : strndup(path, cut);
    if (!parent)
        return 0;
    struct stat a, b;
    int same = stat(parent, &a) == 0 && stat(dir, &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
    free(parent);
    return same;
}

int fs_fsync_dir(const char *path)
{
    char *dir = NULL, tp[1024];
    int isdir = fs_is_dir(path);
    if (isdir < 0)
        return isdir;
    if (isdir) {
        dir = strdup(path);
    } else {
        const char *slash = strrchr(path, '/');
        if (!slash)
            dir = strdup(".");
        else if (slash == path)
            dir = strdup("/");
        else
            dir = strndup(path, (size_t)(slash - path));
    }
    if (!dir)
        return ingot_fail(-ENOMEM, "%s: out of memory", SHOWN(path, tp));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ingot_fail(-e, "%s: cannot open directory to fsync: %s", SHOWN(dir, tp), strerror(e));
        free(dir);
        return -e;
    }
    int ret = 0;
    /* Some file systems refuse fsync on directories (EINVAL); nothing more
     * can be done there, so that is not an error. */
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
        int e = errno;
        ret = ingot_fail(-e, "%s: fsync of directory failed: %s", SHOWN(dir, tp), strerror(e));
    }
    close(fd);
    free(dir);
    return ret;
}

char *fs_temp_path(const char *path)
{
    size_t tl = strlen(path) + 32;
    char *tmp = malloc(tl);
    if (tmp)
        snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    return tmp;
}

long fs_temp_pid(const char *name, const char *base)
{
    size_t bl = strlen(base);
    if (strncmp(name, base, bl) || strncmp(name + bl, ".tmp.", 5))
        return -1;
    const char *p = name + bl + 5, *d = p;
    long pid = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (pid > 99999999)
            return -1;
        pid = pid * 10 + (*p - '0');
    }
    return p == d || *p || pid < 1 ? -1 : pid;
}

bool fs_pid_gone(long pid)
{
    return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

void fs_temp_claim(int fd)
{
    (void)flock(fd, LOCK_EX | LOCK_NB);
}

/* Whether a writer still holds path (fs_temp_claim): its pid may be gone
 * from this host because it runs on another one. */
static bool temp_claimed(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    bool held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

int fs_remove_stale_temps(const char *dir, long (*owner)(const char *name), bool own_stale,
                          const char *what, const char *kind, int *removed)
{
    *removed = 0;
    char tp[1024];
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        return ingot_fail(-e, "%s %s: cannot list: %s", what, SHOWN(dir, tp), strerror(e));
    }
    struct dirent *e;
    int err = 0;
    while (!err && (e = readdir(d))) {
        long pid = owner(e->d_name);
        if (pid < 0 || (pid == (long)getpid() ? !own_stale : !fs_pid_gone(pid)))
            continue;
        char *p = fs_path_join(dir, e->d_name);
        if (!p)
            err = ingot_oom("a temp file's path", strlen(dir) + strlen(e->d_name) + 2);
        else if (temp_claimed(p))
            ;   /* a live writer on another host (a shared file system) */
        else if (unlink(p) != 0 && errno != ENOENT) {
            int en = errno;
            err = ingot_fail(-en, "%s: cannot remove a stale temp file of a killed %s: %s",
                             SHOWN(p, tp), kind, strerror(en));
        }
        else
            ++*removed;
        free(p);
    }
    closedir(d);
    return err;
}

/* The base name fs_remove_stale_temps_of() looks for (owner() takes no
 * context). */
static _Thread_local const char *stale_base;

static long stale_owner(const char *name)
{
    return fs_temp_pid(name, stale_base);
}

int fs_remove_stale_temps_of(const char *path, const char *what, const char *kind,
                             int *removed)
{
    const char *slash = strrchr(path, '/');
    char *dir = !slash ? strdup(".") : slash == path ? strdup("/")
                                                     : strndup(path, (size_t)(slash - path));
    if (!dir)
        return ingot_oom("a path", strlen(path) + 1);
    stale_base = fs_basename(path);
    int err = fs_remove_stale_temps(dir, stale_owner, false, what, kind, removed);
    stale_base = NULL;
    free(dir);
    return err;
}

int fs_flush(FILE *f)
{
    errno = 0;   /* fflush may succeed with the error flag set by an earlier write */
    if (fflush(f) == 0 && !ferror(f))
        return 0;
    return errno ? -errno : -EIO;
}

void fs_rmdir_made(char **made)
{
    size_t n = 0;
    while (made && made[n])
        n++;
    while (n-- > 0)
        (void)rmdir(made[n]);
}

int fs_stdout_status(const char *prog)
{
    int e = fs_flush(stdout);
    if (!e)
        return 0;
    fprintf(stderr, "%s: standard output: cannot write: %s (a full disk or a closed pipe?)\n",
            prog, strerror(-e));
    return 1;
}

struct pieces {
    const struct fs_piece *p;
    size_t n;
};

static int write_pieces(int fd, const char *tmp, void *arg)
{
    const struct pieces *ps = arg;
    int ret = 0;
    for (size_t i = 0; i < ps->n && !ret; i++)
        ret = fs_write_full(fd, ps->p[i].buf, ps->p[i].len, tmp);
    return ret;
}

int fs_write_atomic_pieces(const char *path, const struct fs_piece *pieces, size_t n)
{
    struct pieces ps = { pieces, n };
    return fs_write_atomic_with(path, write_pieces, &ps);
}

int fs_stage_with(const char *path, int (*fill)(int fd, const char *tmp, void *arg), void *arg)
{
    char *tmp = fs_temp_path(path);
    char tp[1024], tt[1024];
    if (!tmp)
        return ingot_fail(-ENOMEM, "%s: out of memory", SHOWN(path, tp));
    SHOWN(path, tp);
    SHOWN(tmp, tt);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0)
        fs_temp_claim(fd);
    if (fd < 0) {
        int e = errno;
        /* named by the file the user asked for; the directory is what to check */
        ingot_fail(-e, "%s: cannot write it (creating its temporary file %s: %s)%s", tp,
                   fs_basename(tt), strerror(e),
                   e == EACCES || e == EROFS ? "; is its directory writable?" : "");
        free(tmp);
        return -e;
    }
    int ret = fill(fd, tmp, arg);
    if (!ret && fsync(fd) != 0) {
        int e = errno;
        ret = ingot_fail(-e, "%s: fsync failed: %s", tt, strerror(e));
    }
    if (close(fd) != 0 && !ret) {
        int e = errno;
        ret = ingot_fail(-e, "%s: close failed: %s", tt, strerror(e));
    }
    if (ret)
        unlink(tmp);
    free(tmp);
    return ret;
}

int fs_stage_pieces(const char *path, const struct fs_piece *pieces, size_t n)
{
    struct pieces ps = { pieces, n };
    return fs_stage_with(path, write_pieces, &ps);
}

int fs_stage_commit(const char *path)
{
    char *tmp = fs_temp_path(path);
    char tp[1024], tt[1024];
    if (!tmp)
        return ingot_fail(-ENOMEM, "%s: out of memory", SHOWN(path, tp));
    int ret = 0;
    if (rename(tmp, path) != 0) {
        int e = errno;
        ret = ingot_fail(-e, "%s: cannot rename %s into place: %s", SHOWN(path, tp),
                         SHOWN(tmp, tt), strerror(e));
        unlink(tmp);
    }
    free(tmp);
    return ret;
}

int fs_write_atomic_with(const char *path, int (*fill)(int fd, const char *tmp, void *arg),
                         void *arg)
{
    int ret = fs_stage_with(path, fill, arg);
    if (!ret)
        ret = fs_stage_commit(path);
    if (!ret)
        ret = fs_fsync_dir(path);
    return ret;
}

int fs_write_atomic(const char *path, const void *buf, size_t len)
{
    struct fs_piece one = { buf, len };
    return fs_write_atomic_pieces(path, &one, 1);
}

void fs_free_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

int fs_mkdir_p(const char *path)
{
    return fs_mkdir_p_made(path, NULL, NULL);
}

/* Append a copy of s to the NULL-terminated *list of *n. */
static int list_add(char ***list, size_t *n, const char *s)
{
    char ts[1024];
    char **l = realloc(*list, (*n + 2) * sizeof(*l));
    if (!l)
        return ingot_fail(-ENOMEM, "%s: out of memory", SHOWN(s, ts));
    *list = l;
    if (!(l[*n] = strdup(s))) {
        l[*n] = NULL;
        return ingot_fail(-ENOMEM, "%s: out of memory", SHOWN(s, ts));
    }
    l[++*n] = NULL;
    return 0;
}

int fs_mkdir_p_made(const char *path, char ***made, bool *leaf)
{
    if (made)
        *made = NULL;
    if (leaf)
        *leaf = false;
    if (!*path)   /* the walk below starts at path + 1 */
        return ingot_fail(-EINVAL, "empty directory name: give a directory path");
    char *p = strdup(path), tp[1024];   /* paths as term_text shows them */
    if (!p)
        return ingot_fail(-ENOMEM, "%s: out of memory", SHOWN(path, tp));
    size_t n = strlen(p), n_made = 0;
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    int ret = 0;
    char **list = NULL;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) == 0) {
            if (leaf && !c)
                *leaf = true;
            if (made && (ret = list_add(&list, &n_made, p)))
                break;
        } else if (errno != EEXIST) {
            int e = errno;
            ret = ingot_fail(-e, "%s: cannot create directory: %s", SHOWN(p, tp), strerror(e));
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    if (!ret) {
        int d = fs_is_dir(path);
        if (d == 0)
            ret = ingot_fail(-ENOTDIR, "%s: exists and is not a directory", SHOWN(path, tp));
        else if (d < 0)
            ret = d;
    }
    free(p);
    if (made)
        *made = list;
    return ret;
}

const char *fs_file_kind(mode_t mode)
{
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO (named pipe)";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    return "not a regular file";
}

int fs_open_regular(const char *path, const char *what, uint64_t max_size, uint64_t *size)
{
    char tp[1024];
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer forever; for a regular file the flag means nothing. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return ingot_fail(-e, "%s: cannot open %s: %s", SHOWN(path, tp), what, strerror(e));
    }
    struct stat st;
    int ret = 0;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        ret = ingot_fail(-e, "%s: cannot stat %s: %s", SHOWN(path, tp), what, strerror(e));
    } else if (!S_ISREG(st.st_mode)) {
        ret = ingot_fail(INGOT_E_FORMAT, "%s: is %s, but the %s must be a regular file",
                         SHOWN(path, tp), fs_file_kind(st.st_mode), what);
    } else if ((uint64_t)st.st_size > max_size) {
        ret = ingot_fail(-EFBIG, "%s: %s is %llu bytes, more than the %llu this program reads; "
                         "is it the right file?", SHOWN(path, tp), what,
                         (unsigned long long)st.st_size, (unsigned long long)max_size);
    } else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        int e = errno;
        ret = ingot_fail(-e, "%s: fcntl: %s", SHOWN(path, tp), strerror(e));
    }
    if (ret) {
        close(fd);
        return ret;
    }
    if (size)
        *size = (uint64_t)st.st_size;
    return fd;
}

/* One read(2) of up to n bytes, retried on EINTR: bytes read (0 at end of
 * file), or a recorded negative error. */
static ssize_t read_some(int fd, void *b, size_t n, const char *path)
{
    for (;;) {
        ssize_t r = read(fd, b, n);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        int e = errno;
        char tp[1024];
        return ingot_fail(-e, "%s: read failed: %s", SHOWN(path, tp), strerror(e));
    }
}

int fs_read_capped(const char *path, const char *what, size_t max_size, char **buf, size_t *len)
{
    *buf = NULL;
    if (len)
        *len = 0;
    if (max_size > SIZE_MAX - 2)
        max_size = SIZE_MAX - 2;   /* room for the extra byte and the NUL */
    uint64_t size = 0;
    int fd = fs_open_regular(path, what, max_size, &size);
    if (fd < 0)
        return fd;
    /* The stat size is a hint: the file may change while it is read, so the
     * loop grows the buffer but never past max_size + 1 bytes read (that one
     * extra byte tells "grew past the cap" from "exactly the cap"). */
    size_t cap = (size_t)size + 2, n = 0;
    char *b = malloc(cap);
    char tp[1024];
    int ret = 0;
    if (!b) {
        ret = ingot_oom(what, cap);
        goto out;
    }
    for (;;) {
        if (n + 1 >= cap) {
            size_t ncap = cap > max_size / 2 ? max_size + 2 : cap * 2;
            if (ncap <= cap) {
                ret = ingot_fail(-EFBIG, "%s: %s grew past %zu bytes while being read",
                                 SHOWN(path, tp), what, max_size);
                goto out;
            }
            char *nb = realloc(b, ncap);
            if (!nb) {
                ret = ingot_oom(what, ncap);
                goto out;
            }
            b = nb;
            cap = ncap;
        }
        ssize_t r = read_some(fd, b + n, cap - 1 - n, path);
        if (r < 0) {
            ret = (int)r;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max_size) {
            ret = ingot_fail(-EFBIG, "%s: %s grew past %zu bytes while being read",
                             SHOWN(path, tp), what, max_size);
            goto out;
        }
    }
    b[n] = '\0';
    *buf = b;
    b = NULL;
    if (len)
        *len = n;
out:
    free(b);
    close(fd);
    return ret;
}

int fs_read_all(const char *path, char **buf, size_t *len)
{
    return fs_read_capped(path, "file", FS_READ_ALL_MAX, buf, len);
}

int fs_hash_file(const char *path, uint64_t *hash)
{
    int fd = fs_open_regular(path, "file", FS_READ_ALL_MAX, NULL);
    if (fd < 0)
        return fd;
    enum { CHUNK = 1 << 20 };
    char *b = malloc(CHUNK);
    ingot_xxh3_stream *s = ingot_xxh3_new();
    int ret = 0;
    if (!b || !s) {
        char tp[1024];
        ret = ingot_fail(-ENOMEM, "%s: out of memory hashing the file", SHOWN(path, tp));
        goto out;
    }
    /* The stat size is a hint (a /proc file says 0 and reads on for hundreds of
     * GB): what is read is capped too, as fs_read_capped caps it. */
    size_t n = 0;
    for (;;) {
        ssize_t r = read_some(fd, b, CHUNK, path);
        if (r < 0) {
            ret = (int)r;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > FS_READ_ALL_MAX) {
            char tp[1024];
            ret = ingot_fail(-EFBIG, "%s: file grew past %zu bytes while being read",
                             SHOWN(path, tp), FS_READ_ALL_MAX);
            goto out;
        }
        ingot_xxh3_update(s, b, (size_t)r);
    }
    *hash = ingot_xxh3_digest(s);
out:
    ingot_xxh3_free(s);
    free(b);
    close(fd);
    return ret;
}

/* Which of 0, 1, 2 fs_std_fds_open() found closed (bit fd). */
static unsigned std_closed;

int fs_std_fds_open(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        std_closed |= 1u << fd;
        /* the lowest free descriptor: this one (the ones below are open) */
        int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (nfd < 0)
            return -errno;
        if (nfd != fd) {   /* cannot happen with 0..fd-1 open; be sure */
            close(nfd);
            return -EBADF;
        }
    }
    return 0;
}

int fs_stdout_closed(const char *prog)
{
    if (!(std_closed & 2u))
        return 0;
    return ingot_fail(INGOT_E_USAGE, "standard output is closed (>&-), and %s writes its result "
                      "there: it would go nowhere; send it to a file (> FILE), a pipe, or "
                      "/dev/null to discard it", prog);
}

int fs_stdin_closed(const char *what)
{
    if (!(std_closed & 1u))
        return 0;
    return ingot_fail(INGOT_E_USAGE, "%s: standard input is closed (<&-): it would read as "
                      "empty; give the input on standard input (< FILE, a pipe) or name a file",
                      what);
}

int fs_dir_holds(const char *dir, const char *name)
{
    char *p = fs_path_join(dir, name);
    if (!p)
        return -ENOMEM;
    const int there = access(p, F_OK) == 0;
    free(p);
    return there;
}
