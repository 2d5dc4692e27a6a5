/* JSON Lines metrics with jansson (numbers printed with round-trip
 * precision, so two runs can be compared exactly). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "json_term.h"
#include "metrics.h"
#include "term_text.h"
#include "tr_lockfile.h"

struct tr_metrics {
    FILE *f;
    char *path;
    char *lock_path;    /* FILE.lock, held (lock_fd) while the run writes; NULL: none */
    int lock_fd;
};

/* One writer per file. A second run naming the same file (a branch resumed
 * from a copied --ckpt-dir, or a new run given the same --metrics) cut it
 * back, moving the first run's records to FILE.dropped, and renamed its own
 * copy over it while the first run went on appending to the unlinked old
 * file: every later record of the first run was lost, and both exited 0.
 * The lock is a file beside FILE, not FILE itself: the cut-back replaces
 * FILE (a lock on the old inode guards nothing), and the lock file records
 * who holds it ("pid N on HOST") for the second run's message. It is
 * removed at the end while still held; a taker checks that the file it
 * locked is still the one at the path, so a lock file removed under it is
 * never held by two runs. */
static void unlock(tr_metrics *m)
{
    tr_lockfile_release(m->lock_path, m->lock_fd);
    m->lock_fd = -1;
    free(m->lock_path);
    m->lock_path = NULL;
}

static int lock(tr_metrics *m)
{
    const char *path = m->path;
    size_t plen = strlen(path) + sizeof(".lock");
    if (!(m->lock_path = malloc(plen)))
        return ingot_oom("metrics lock path", plen);
    snprintf(m->lock_path, plen, "%s.lock", path);
    char what[TERM_SHOW_MAX + 16], holder[160];
    snprintf(what, sizeof(what), "--metrics %s", TERM_SHOW(path));
    int err = tr_lockfile_take(m->lock_path, what, &m->lock_fd, holder, sizeof(holder));
    if (err == -EBUSY)
        err = ingot_fail(-EBUSY, "--metrics %s: another ingot-train (%s) is writing its records "
                         "to this file; this run would move them to %s.dropped, and the other "
                         "run's later records would be lost; wait for it to end, or give this "
                         "run another --metrics", TERM_SHOW(path), TERM_SHOW(holder),
                         TERM_SHOW(path));
    if (!err && m->lock_fd < 0) {   /* a file system without locks: unguarded */
        (void)unlink(m->lock_path);
        free(m->lock_path);
        m->lock_path = NULL;
    }
    return err;
}

/* What a metrics file may be: a regular file (read back on --resume, a line
 * at a time, whatever its size), a character device such as /dev/null
 * (written, never read or replaced), or not there yet. A FIFO would block
 * the open, a directory cannot be written. *regular tells the first case. */
static int check_path(const char *path, bool *regular)
{
    struct stat sb;
    *regular = false;
    if (stat(path, &sb) != 0)
        return errno == ENOENT ? 0 : ingot_fail(-errno, "--metrics %s: %s", TERM_SHOW(path),
                                                strerror(errno));
    if (S_ISCHR(sb.st_mode))
        return 0;
    if (!S_ISREG(sb.st_mode))
        return ingot_fail(INGOT_E_USAGE, "--metrics %s: exists and is not a regular file; name a "
                          "file (or /dev/null)", TERM_SHOW(path));
    *regular = true;
    return 0;
}

/* One pass of keep_until() over the file, into the temp file of its
 * replacement (fd) and path.dropped. */
struct keep {
    const char *path;
    FILE *in;
    int64_t max_step;
    char *dropped_path;
    FILE *dropped;      /* opened at the first line that goes */
    size_t moved, kept;
    size_t records;     /* lines that are JSON objects with an integer "step" */
    size_t others;      /* newline-ended lines that are not (a torn last line is no sign) */
};

/* Ingot's records are a few hundred bytes; a longer line is not one of
 * them (a file named by mistake), and reading it whole would hold it. */
#define METRICS_LINE_MAX ((size_t)1 << 20)

/* The next line of f into *line (with its '\n', if any; NUL-terminated;
 * NUL bytes inside are kept, so that such a line goes to FILE.dropped as it
 * was and never runs into the next one): its length, 0 at the end,
 * -EFBIG when more than METRICS_LINE_MAX bytes come before its '\n',
 * -ENOMEM. */
static ssize_t read_line(FILE *f, char **line, size_t *cap)
{
    size_t len = 0;
    int c;
    while ((c = getc_unlocked(f)) != EOF) {
        if (c != '\n' && len == METRICS_LINE_MAX)
            return -EFBIG;
        if (len + 2 > *cap) {   /* room for c and the NUL */
            size_t nc = *cap ? 2 * *cap : 8192;
            if (nc > METRICS_LINE_MAX + 2)
                nc = METRICS_LINE_MAX + 2;
            char *p = realloc(*line, nc);
            if (!p)
                return -ENOMEM;
            *line = p;
            *cap = nc;
        }
        (*line)[len++] = (char)c;
        if (c == '\n')
            break;
    }
    if (len)
        (*line)[len] = '\0';
    return (ssize_t)len;
}

static int keep_fill(int fd, const char *tmp, void *arg)
{
    struct keep *k = arg;
    char *line = NULL, buf[1 << 16];
    size_t cap = 0, used = 0;
    ssize_t n;
    int err = 0;
    errno = 0;
    while (!err && (n = read_line(k->in, &line, &cap)) > 0) {
        size_t len = (size_t)n - (line[n - 1] == '\n');   /* a torn last line has none */
        json_t *j = json_loadb(line, len, 0, NULL);
        json_t *s = j ? json_object_get(j, "step") : NULL;
        bool keep = s && json_is_integer(s) && json_integer_value(s) <= k->max_step;
        k->records += s && json_is_integer(s);
        k->others += !(s && json_is_integer(s)) && len && line[n - 1] == '\n';
        json_decref(j);
        if (!len)
            continue;
        line[len] = '\n';
        if (!keep) {   /* copied before the cut: a failure loses nothing */
            if (!k->dropped && !(k->dropped = fopen(k->dropped_path, "a")))
                err = ingot_fail(-errno, "%s: cannot keep the metrics records this run "
                                 "replaces: %s; nothing was changed in %s",
                                 TERM_SHOW(k->dropped_path), strerror(errno), TERM_SHOW(k->path));
            else if (fwrite(line, 1, len + 1, k->dropped) != len + 1)
                err = ingot_fail(-EIO, "%s: cannot write the metrics records this run "
                                 "replaces; nothing was changed in %s", TERM_SHOW(k->dropped_path),
                                 TERM_SHOW(k->path));
            k->moved++;
            continue;
        }
        k->kept++;
        if (used + len + 1 > sizeof(buf)) {
            err = fs_write_full(fd, buf, used, tmp);
            used = 0;
        }
        if (!err && len + 1 > sizeof(buf))
            err = fs_write_full(fd, line, len + 1, tmp);
        else if (!err) {
            memcpy(buf + used, line, len + 1);
            used += len + 1;
        }
    }
    if (!err && n == -ENOMEM)
        err = ingot_oom("a line of the metrics file", METRICS_LINE_MAX);
    else if (!err && n < 0)
        err = ingot_fail(INGOT_E_FORMAT, "%s: a line longer than %zu KiB (after %zu records): "
                         "not a metrics file of ingot-train; nothing was changed; name another "
                         "--metrics", TERM_SHOW(k->path), METRICS_LINE_MAX >> 10,
                         k->moved + k->kept);
    if (!err && ferror(k->in))
        err = ingot_fail(-EIO, "%s: cannot read the metrics file: %s", TERM_SHOW(k->path),
                         strerror(errno ? errno : EIO));
    /* lines, none of them a record: another file (named by mistake, or by a
     * checkpoint's settings on --resume), which the run would have emptied
     * into path.dropped and filled with its records */
    if (!err && k->others && !k->records)
        err = ingot_fail(INGOT_E_FORMAT, "%s: not a metrics file of ingot-train (none of its "
                         "%zu lines is a JSON record with a \"step\"); nothing was changed; "
                         "name another --metrics", TERM_SHOW(k->path), k->moved + k->kept);
    if (!err && used)
        err = fs_write_full(fd, buf, used, tmp);
    if (!err && k->dropped && fs_flush(k->dropped))
        err = ingot_fail(-EIO, "%s: cannot write the metrics records this run replaces; "
                         "nothing was changed in %s", TERM_SHOW(k->dropped_path),
                         TERM_SHOW(k->path));
    free(line);
    return err;
}

/* Keep the lines of path whose "step" is <= max_step (none: max_step < 0)
 * and append the others to path.dropped, so that a run never erases what
 * another wrote (a branch resumed from a copied --ckpt-dir names the
 * original run's file: its later steps were cut away for good). *moved
 * gets how many lines went. One line at a time: a run of millions of steps
 * holds no more than its longest line. */
static int keep_until(const char *path, int64_t max_step, size_t *moved)
{
    *moved = 0;
    struct keep k = { .path = path, .max_step = max_step };
    if (!(k.in = fopen(path, "r")))
        return errno == ENOENT ? 0 : ingot_fail(-errno, "%s: cannot read the metrics file: %s",
                                                TERM_SHOW(path), strerror(errno));
    size_t plen = strlen(path) + sizeof(".dropped");
    int err = 0;
    if (!(k.dropped_path = malloc(plen)))
        err = ingot_oom("metrics path", plen);
    else
        snprintf(k.dropped_path, plen, "%s.dropped", path);
    struct stat before, orig, now;
    bool existed = !err && stat(k.dropped_path, &before) == 0;
    if (!err && fstat(fileno(k.in), &orig) != 0)
        err = ingot_fail(-errno, "%s: cannot read the metrics file: %s", TERM_SHOW(path),
                         strerror(errno));
    if (!err)
        err = fs_write_atomic_with(path, keep_fill, &k);
    if (k.dropped && fclose(k.dropped) && !err)
        err = ingot_fail(-EIO, "%s: cannot write: %s", TERM_SHOW(k.dropped_path), strerror(errno));
    else if (k.dropped && err && stat(path, &now) == 0 && now.st_ino == orig.st_ino &&
             now.st_dev == orig.st_dev) {
        /* path is as it was (not replaced): so is path.dropped, or a second
         * try would copy the same records there again */
        if (existed)
            (void)truncate(k.dropped_path, before.st_size);
        else
            (void)unlink(k.dropped_path);
    }
    fclose(k.in);
    free(k.dropped_path);
    *moved = k.moved;
    return err;
}

int tr_metrics_open(const char *path, int64_t resume_step, tr_metrics **out, size_t *moved)
{
    *out = NULL;
    *moved = 0;
    bool regular;
    int err = check_path(path, &regular);
    if (err)
        return err;
    tr_metrics *m = calloc(1, sizeof(*m));
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return ingot_oom("metrics state", sizeof(*m) + strlen(path) + 1);
    }
    m->lock_fd = -1;
    struct stat sb;
    /* a character device (/dev/null) is written by any number of runs */
    bool device = stat(path, &sb) == 0 && S_ISCHR(sb.st_mode);
    /* the lock comes first: the cut-back below changes the file */
    if (!device && (err = lock(m)))
        goto fail;
    if (regular && (err = keep_until(path, resume_step, moved)))
        goto fail;
    m->f = fopen(path, "a");
    if (!m->f) {
        err = ingot_fail(-errno, "%s: cannot open metrics file: %s", TERM_SHOW(path),
                         strerror(errno));
        goto fail;
    }
    *out = m;
    return 0;
fail:
    tr_metrics_close(m);
    return err;
}

/* A record that cannot be written stops the run (its caller returns the
 * error): going on would leave a gap in the file. The steps after the last
 * checkpoint are redone on --resume, which cuts the file back to it. */
static int emit(tr_metrics *m, json_t *j, int64_t step)
{
    if (!j)
        return ingot_oom("a metrics record", 1024);
    /* escaped for a terminal (json_term.h): a mixture's names are its
     * directories', and `tail -f` shows the file */
    char *s = json_term_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!s)
        return ingot_oom("a metrics line", 1024);
    errno = 0;
    bool ok = fprintf(m->f, "%s\n", s) >= 0 && fflush(m->f) == 0;
    int e = errno ? errno : EIO;
    free(s);
    return ok ? 0 : ingot_fail(-e, "--metrics %s: cannot write the record of step %lld: %s; "
                               "the run stops here rather than leave a gap in the file",
                               TERM_SHOW(m->path), (long long)step, strerror(e));
}

/* JSON has no NaN/Inf: non-finite values become null. */
static json_t *num(double x)
{
    return x == x && x - x == 0.0 ? json_real(x) : json_null();
}

int tr_metrics_step(tr_metrics *m, const struct tr_metrics_step *s)
{
    json_t *j = json_object();
    if (!j)
        return ingot_oom("a metrics record", 1024);
    json_object_set_new(j, "step", json_integer(s->step));
    json_object_set_new(j, "loss", num(s->loss));
    json_object_set_new(j, "accuracy", num(s->accuracy));
    json_object_set_new(j, "lr", num(s->lr));
    json_object_set_new(j, "grad_norm", num(s->grad_norm));
    json_object_set_new(j, "tokens", json_integer((json_int_t)s->tokens));
    json_object_set_new(j, "tok_per_s", num(s->tok_per_s));
    json_object_set_new(j, "elapsed_s", num(s->elapsed_s));
    if (s->n_src > 0) {
        json_t *a = json_array();
        for (int i = 0; i < s->n_src; i++)
            json_array_append_new(a, json_integer((json_int_t)s->src_tokens[i]));
        json_object_set_new(j, "src_tokens", a);
    }
    const struct tr_metrics_prof *p = s->prof;
    if (p) {
        const struct { const char *key; double v; } f[] = {
            { "mfu", p->mfu }, { "cpu_pct", p->cpu_pct }, { "host_wall_ms", p->host_wall_ms },
            { "gpu_busy_pct", p->gpu_busy_pct },
            { "host_assemble_ms", p->host_assemble_ms }, { "upload_ms", p->upload_ms },
            { "fwd_ms", p->fwd_ms }, { "bwd_ms", p->bwd_ms }, { "opt_ms", p->opt_ms },
            { "gpu_idle_ms", p->gpu_idle_ms }, { "sm_clock_mhz", p->sm_clock_mhz },
            { "gpu_util_pct", p->gpu_util_pct }, { "power_w", p->power_w },
        };
        for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
            json_object_set_new(j, f[i].key, f[i].v >= 0.0 ? num(f[i].v) : json_null());
        json_object_set_new(j, "power_capped",
                            p->power_capped >= 0.0 ? json_boolean(p->power_capped > 0.0) : json_null());
        json_object_set_new(j, "syncs", p->syncs >= 0 ? json_integer(p->syncs) : json_null());
        json_object_set_new(j, "host_allocs", p->host_allocs >= 0 ?
                            json_integer(p->host_allocs) : json_null());
    }
    return emit(m, j, s->step);
}

int tr_metrics_eval(tr_metrics *m, int64_t step, double val_loss, int n_src,
                    const double *src_loss, const uint64_t *src_windows,
                    const char *const *src_names)
{
    json_t *j = json_object();
    if (!j)
        return ingot_oom("a metrics record", 1024);
    json_object_set_new(j, "step", json_integer(step));
    json_object_set_new(j, "val_loss", num(val_loss));
    if (n_src > 0) {
        json_t *a = json_array(), *w = json_array(), *nm = json_array();
        for (int i = 0; i < n_src; i++) {
            json_array_append_new(a, num(src_loss[i]));
            json_array_append_new(w, json_integer((json_int_t)src_windows[i]));
            json_array_append_new(nm, json_string(src_names[i]));
        }
        json_object_set_new(j, "val_src", a);
        json_object_set_new(j, "val_src_windows", w);
        /* so that a plot or a reader names them as the val line does */
        json_object_set_new(j, "val_src_names", nm);
    }
    return emit(m, j, step);
}

void tr_metrics_close(tr_metrics *m)
{
    if (!m)
        return;
    if (m->f)
        fclose(m->f);
    unlock(m);
    free(m->path);
    free(m);
}
