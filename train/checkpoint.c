/* Checkpoint files: write atomically, verify on read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli_num.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "shard_format.h"
#include "term_text.h"
#include "tr_lockfile.h"
#include <jansson.h>
#include "train_opts.h"

#define ENDIAN_MARK 0x01020304u

static void header_from_state(struct tr_ckpt_header *h, const struct tr_ckpt_state *st)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, TR_CKPT_MAGIC, 8);
    h->version = st->cfg.arch == TR_ARCH_GPT2 ? 2u : 3u;   /* GPT-2 files as before */
    h->header_size = TR_CKPT_HEADER_SIZE;
    h->endian_mark = ENDIAN_MARK;
    h->flags = st->flags;
    h->n_layer = st->cfg.n_layer;
    h->n_head = st->cfg.n_head;
    h->n_embd = st->cfg.n_embd;
    h->seq_len = st->cfg.seq_len;
    h->vocab = st->cfg.vocab;
    h->vocab_padded = st->cfg.vocab_padded;
    h->n_params = tr_param_count(&st->cfg);
    h->arch = (uint32_t)st->cfg.arch;
    h->n_kv_head = st->cfg.n_kv_head;
    h->ffn_dim = st->cfg.ffn_dim;
    h->tie_embeddings = st->cfg.tie_embeddings;
    h->rope_theta = st->cfg.rope_theta;
    h->norm_eps = st->cfg.norm_eps;
    h->step = st->step;
    h->steps = st->steps;
    h->seed = st->seed;
    h->tokenizer_hash = st->tokenizer_hash;
    h->data_epoch = st->pos.epoch;
    h->data_index = st->pos.index;
    memcpy(h->synth_rng, st->pos.synth.s, sizeof(h->synth_rng));
    h->tokens = st->tokens;
    h->elapsed_s = st->elapsed_s;
    h->batch = st->batch;
    h->grad_accum = st->grad_accum;
    h->lr = st->lr;
    h->min_lr = st->min_lr;
    h->weight_decay = st->weight_decay;
    h->grad_clip = st->grad_clip;
    h->warmup = st->warmup;
    size_t bytes = h->n_params * sizeof(float);
    h->params_offset = TR_CKPT_HEADER_SIZE;
    h->m_offset = h->params_offset + bytes;
    h->v_offset = h->m_offset + bytes;
    h->settings_offset = h->v_offset + bytes;
    h->settings_size = strlen(st->settings ? st->settings : "{}");
    h->file_size = h->settings_offset + h->settings_size;
}

static void state_from_header(struct tr_ckpt_state *st, const struct tr_ckpt_header *h)
{
    memset(st, 0, sizeof(*st));
    st->flags = h->flags;
    st->cfg.n_layer = h->n_layer;
    st->cfg.n_head = h->n_head;
    st->cfg.n_embd = h->n_embd;
    st->cfg.seq_len = h->seq_len;
    st->cfg.vocab = h->vocab;
    st->cfg.vocab_padded = h->vocab_padded;
    if (h->version >= 3) {
        st->cfg.arch = (int)h->arch;
        st->cfg.n_kv_head = h->n_kv_head;
        st->cfg.ffn_dim = h->ffn_dim;
        st->cfg.tie_embeddings = h->tie_embeddings != 0;
        st->cfg.rope_theta = h->rope_theta;
        st->cfg.norm_eps = h->norm_eps;
    }
    st->step = h->step;
    st->steps = h->steps;
    st->seed = h->seed;
    st->tokenizer_hash = h->tokenizer_hash;
    st->pos.epoch = h->data_epoch;
    st->pos.index = h->data_index;
    memcpy(st->pos.synth.s, h->synth_rng, sizeof(h->synth_rng));
    st->tokens = h->tokens;
    st->elapsed_s = h->elapsed_s;
    st->batch = h->batch;
    st->grad_accum = h->grad_accum;
    st->lr = h->lr;
    st->min_lr = h->min_lr;
    st->weight_decay = h->weight_decay;
    st->grad_clip = h->grad_clip;
    st->warmup = h->warmup;
    st->version = h->version;
}

/* A checkpoint's name: common's, which ingot-pretok's --out check knows too */
#define CKPT_PREFIX INGOT_TRAIN_CKPT_PREFIX
#define CKPT_SUFFIX INGOT_TRAIN_CKPT_SUFFIX
#define PRE_LEN (sizeof(CKPT_PREFIX) - 1)
#define SUF_LEN (sizeof(CKPT_SUFFIX) - 1)

/* DIR/ckpt-<step, 8 digits>.bin (malloc'd; NULL when out of memory). */
static char *ckpt_path(const char *dir, int64_t step)
{
    char name[64];
    snprintf(name, sizeof(name), CKPT_PREFIX "%08" PRId64 CKPT_SUFFIX, step);
    return fs_path_join(dir, name);
}

/* The hidden temp file a save writes first: DIR/.ckpt-<step>.bin.tmp.<pid>.
 * The pid lets tr_ckpt_dir_prepare() tell a save in progress (its writer
 * lives) from one killed half-way (it does not). */
static char *temp_path(const char *dir, uint64_t step)
{
    char name[96];
    snprintf(name, sizeof(name), ".ckpt-%08" PRIu64 ".bin.tmp.%ld", step, (long)getpid());
    return fs_path_join(dir, name);
}

/* Write the pieces to tmp, fsync, rename to path, fsync the directory; tmp
 * is removed on failure, so path is either the old file or the new one. */
static int write_atomic(const char *tmp, const char *path, const struct fs_piece *pieces,
                        size_t n)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ingot_fail(-errno, "%s: cannot create: %s", TERM_SHOW(tmp), strerror(errno));
    fs_temp_claim(fd);
    int err = 0;
    for (size_t i = 0; i < n && !err; i++)
        err = fs_write_full(fd, pieces[i].buf, pieces[i].len, tmp);
    if (!err && fsync(fd) != 0)
        err = ingot_fail(-errno, "%s: fsync failed: %s", TERM_SHOW(tmp), strerror(errno));
    if (close(fd) != 0 && !err)
        err = ingot_fail(-errno, "%s: close failed: %s", TERM_SHOW(tmp), strerror(errno));
    if (!err && rename(tmp, path) != 0)
        err = ingot_fail(-errno, "%s: cannot rename %s into place: %s", TERM_SHOW(path),
                         TERM_SHOW(tmp), strerror(errno));
    if (err)
        unlink(tmp);
    else
        err = fs_fsync_dir(path);
    return err;
}

/* --ckpt-dir DIR could not be made (fs_mkdir_p's err). Its message starts
 * with the part of the path that failed, which is DIR itself for a missing
 * leaf or a file in its place: prefixed with "--ckpt-dir DIR: " it named the
 * path twice ("--ckpt-dir x/y: x/y: cannot create directory: ..."). Keep the
 * part only where it is another (a parent), and say what to do. */
static int mkdir_fail(int err, const char *dir)
{
    if (err == -ENOMEM)
        return err;
    char msg[INGOT_ERRMSG_MAX], shown[TERM_SHOW_MAX];
    snprintf(msg, sizeof(msg), "%s", ingot_errmsg_for(err));
    term_text(dir, shown, sizeof(shown));
    size_t n = strlen(shown);
    while (n > 1 && shown[n - 1] == '/')   /* fs_mkdir_p names it without them */
        n--;
    const char *rest = msg;
    if (!strncmp(msg, shown, n) && !strncmp(msg + n, ": ", 2))
        rest = msg + n + 2;
    return ingot_fail(err, "--ckpt-dir %s: %s; %s", shown, rest, err == -ENOTDIR ?
                      "a file is in the way: name a path that is, or can be made, a directory" :
                      "name a directory you can write to, or create this one first");
}

int tr_ckpt_save(const char *dir, const struct tr_ckpt_state *st, const float *params,
                 const float *m, const float *v, char **path_out)
{
    struct tr_ckpt_header *h = calloc(1, sizeof(*h));
    char *path = NULL, *tmp = NULL;
    int err;
    if (path_out)
        *path_out = NULL;
    if (!h)
        return ingot_oom("checkpoint header", sizeof(*h));
    if ((err = fs_mkdir_p(dir))) {   /* removed since the start, and not made again */
        err = mkdir_fail(err, dir);
        goto out;
    }
    header_from_state(h, st);
    path = ckpt_path(dir, (int64_t)st->step);
    tmp = temp_path(dir, st->step);
    if (!path || !tmp) {
        err = ingot_oom("checkpoint path", strlen(dir) + 64);
        goto out;
    }
    size_t bytes = h->n_params * sizeof(float);
    ingot_xxh3_stream *xs = ingot_xxh3_new();
    if (!xs) {
        err = ingot_oom("checkpoint hash state", 1024);
        goto out;
    }
    ingot_xxh3_update(xs, params, bytes);
    ingot_xxh3_update(xs, m, bytes);
    ingot_xxh3_update(xs, v, bytes);
    h->payload_checksum = ingot_xxh3_digest(xs);
    ingot_xxh3_free(xs);
    const char *settings = st->settings ? st->settings : "{}";
    h->settings_checksum = ingot_xxh3(settings, h->settings_size);
    h->header_checksum = ingot_xxh3(h, offsetof(struct tr_ckpt_header, header_checksum));

    const struct fs_piece pieces[] = {
        { h, sizeof(*h) }, { params, bytes }, { m, bytes }, { v, bytes },
        { settings, h->settings_size },
    };
    err = write_atomic(tmp, path, pieces, sizeof(pieces) / sizeof(pieces[0]));
out:
    if (!err && path_out) {
        *path_out = path;
        path = NULL;
    }
    free(path);
    free(tmp);
    free(h);
    return err;
}

/* ckpt-<digits>.bin -> step, or -1. */
static int64_t parse_name(const char *name)
{
    size_t len = strlen(name);
    if (!ingot_train_ckpt_like(name))   /* no digit: canon below differs */
        return -1;
    int64_t s = 0;
    for (size_t i = PRE_LEN; i < len - SUF_LEN; i++) {
        if (name[i] < '0' || name[i] > '9' || s > INT64_MAX / 10 - 10)
            return -1;
        s = s * 10 + (name[i] - '0');
    }
    /* only the names a save writes (ckpt_path): "ckpt-999.bin", a copy by
     * hand, would be listed as step 999 and opened as ckpt-00000999.bin */
    char canon[64];
    snprintf(canon, sizeof(canon), CKPT_PREFIX "%08" PRId64 CKPT_SUFFIX, s);
    return strcmp(canon, name) ? -1 : s;
}

/* Steps of every checkpoint in dir, ascending (malloc'd). */
static int list_steps(const char *dir, int64_t **steps, size_t *n)
{
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return ingot_fail(-errno, "%s: cannot open checkpoint directory: %s", TERM_SHOW(dir),
                          strerror(errno));
    }
    size_t cap = 0;
    struct dirent *e;
    int err = 0;
    while ((e = readdir(d))) {
        int64_t s = parse_name(e->d_name);
        if (s < 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *p = realloc(*steps, cap * sizeof(int64_t));
            if (!p) {
                err = ingot_oom("checkpoint list", cap * sizeof(int64_t));
                break;
            }
            *steps = p;
        }
        (*steps)[(*n)++] = s;
    }
    closedir(d);
    for (size_t i = 1; i < *n; i++)   /* insertion sort: few files */
        for (size_t j = i; j > 0 && (*steps)[j - 1] > (*steps)[j]; j--) {
            int64_t t = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1];
            (*steps)[j - 1] = t;
        }
    return err;
}

int tr_ckpt_find_latest(const char *dir, char **path)
{
    int64_t *steps;
    size_t n;
    *path = NULL;
    int err = list_steps(dir, &steps, &n);
    if (!err && n) {
        *path = ckpt_path(dir, steps[n - 1]);
        if (!*path)
            err = ingot_oom("checkpoint path", strlen(dir) + 32);
    }
    free(steps);
    return err;
}

int tr_ckpt_prune(const char *dir, int keep)
{
    int64_t *steps;
    size_t n;
    int err = list_steps(dir, &steps, &n);
    if (err)
        return err;
    /* every one tried; the first failure reported */
    for (size_t i = 0; keep > 0 && i + (size_t)keep < n; i++) {
        char *p = ckpt_path(dir, steps[i]);
        int e = !p ? ingot_oom("checkpoint path", strlen(dir) + 32)
                   : unlink(p) != 0 && errno != ENOENT
                         ? ingot_fail(-errno, "%s: cannot remove: %s", TERM_SHOW(p),
                                      strerror(errno)) : 0;
        err = err ? err : e;
        free(p);
    }
    free(steps);
    return err;
}

/* The writer's pid when name is a save's temp file: .ckpt-<digits>.bin.tmp.<pid>
 * (and the visible ckpt-<digits>.bin.tmp.<pid> of builds before the temp
 * files were hidden), or the run's config.json.tmp.<pid> (fs_temp_path of
 * tr_settings_write_config); else -1. Nothing else in the directory
 * matches. */
static long temp_owner(const char *name)
{
    long pid = fs_temp_pid(name, INGOT_TRAIN_CONFIG_NAME);
    if (pid > 0)
        return pid;
    const char *p = name + (name[0] == '.'), *d;
    if (strncmp(p, CKPT_PREFIX, PRE_LEN))
        return -1;
    for (d = p += PRE_LEN; *p >= '0' && *p <= '9'; p++)
        ;
    if (p == d || strncmp(p, CKPT_SUFFIX, SUF_LEN))
        return -1;
    char base[64];
    int n = snprintf(base, sizeof(base), "%.*s", (int)(p + SUF_LEN - name), name);
    return n > 0 && (size_t)n < sizeof(base) ? fs_temp_pid(name, base) : -1;
}

/* Remove the temp files of saves that were killed half-way (their writer
 * is gone); a save in progress by a live process is left alone. */
/* Whether another process holds dir's lock (tr_ckpt_dir_lock()): a run
 * in progress, maybe on another host, where a writer's pid tells nothing,
 * so its temp files are left alone. (Ranks of one run come here before
 * their rank 0 locks: all of them start before the rendezvous.) */
static bool held_by_other(const char *dir)
{
    char *p = fs_path_join(dir, TR_CKPT_LOCK_NAME);
    int fd = p ? open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) : -1;
    bool held = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (fd >= 0)
        close(fd);
    free(p);
    return held;
}

int tr_ckpt_dir_prepare(const char *dir, int *removed)
{
    struct stat sb;
    if (removed)
        *removed = 0;
    int err = fs_mkdir_p(dir);
    if (err)
        return mkdir_fail(err, dir);
    if (stat(dir, &sb) != 0)
        return ingot_fail(-errno, "--ckpt-dir %s: %s", TERM_SHOW(dir), strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return ingot_fail(-ENOTDIR, "--ckpt-dir %s: exists and is not a directory; name a "
                          "directory for the checkpoints", TERM_SHOW(dir));
    /* Not a dataset's or an export's folder: the run writes config.json there
     * (an hf export's would be replaced, and transformers could no longer
     * load it) and its checkpoints among the shards or the weights. */
    static const char *const foreign[][2] = {
        { INGOT_MANIFEST_NAME, "a dataset directory" },
        { "model.safetensors", "an exported model's directory" },
        { "model.bin", "an exported model's directory" },
    };
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        const int there = fs_dir_holds(dir, foreign[i][0]);
        if (there < 0)
            return ingot_oom("checkpoint directory path", strlen(dir) + 32);
        if (there)
            return ingot_fail(INGOT_E_USAGE, "--ckpt-dir %s: %s (it holds %s; the run's "
                              "config.json and checkpoints would go among its files); give "
                              "another directory for the checkpoints", TERM_SHOW(dir),
                              foreign[i][1], foreign[i][0]);
    }
    /* A probe file, created and removed: permissions, read-only mounts and
     * full quotas show here rather than at the first save, after hours. */
    char name[64];
    snprintf(name, sizeof(name), ".ingot-probe.%ld", (long)getpid());
    char *probe = fs_path_join(dir, name);
    if (!probe)
        return ingot_oom("checkpoint probe path", strlen(dir) + sizeof(name));
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        /* left by a killed process that had this pid (or one on another
         * host: a probe lives for two calls); it tells nothing */
        unlink(probe);
        fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0)
        err = ingot_fail(-errno, "--ckpt-dir %s: cannot write there (%s); pass a writable "
                         "directory", dir, strerror(errno));
    else {
        close(fd);
        unlink(probe);
    }
    free(probe);
    return err || !removed ? err : held_by_other(dir) ? 0 :
           /* our own pid is stale too: this process has not saved yet */
           fs_remove_stale_temps(dir, temp_owner, true, "--ckpt-dir", "save", removed);
}

int tr_ckpt_dir_lock(const char *dir, int *fd_out)
{
    char *p = fs_path_join(dir, TR_CKPT_LOCK_NAME), what[TERM_SHOW_MAX + 16], holder[160];
    *fd_out = -1;
    if (!p)
        return ingot_oom("checkpoint lock path", strlen(dir) + sizeof(TR_CKPT_LOCK_NAME) + 1);
    snprintf(what, sizeof(what), "--ckpt-dir %s", TERM_SHOW(dir));
    int err = tr_lockfile_take(p, what, fd_out, holder, sizeof(holder));
    if (err == -EBUSY)
        err = ingot_fail(-EBUSY, "--ckpt-dir %s: another ingot-train (%s) is training into this "
                         "directory, and their checkpoints, rotation and config.json would "
                         "mix; wait for it to end, or give this run another --ckpt-dir",
                         TERM_SHOW(dir), TERM_SHOW(holder));
    free(p);
    return err;
}

void tr_ckpt_dir_unlock(int fd)
{
    if (fd >= 0)
        close(fd);   /* the file stays: removing it would race with a new locker */
}

void tr_ckpt_dir_abandon(const char *dir, int fd)
{
    int others = 0, lock = 0;
    DIR *d = fd >= 0 ? opendir(dir) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!strcmp(e->d_name, TR_CKPT_LOCK_NAME))
            lock++;
        else
            others++;
    }
    if (d)
        closedir(d);
    char *p = d && lock == 1 && !others ? fs_path_join(dir, TR_CKPT_LOCK_NAME) : NULL;
    if (p && unlink(p) == 0) {
        close(fd);
        fd = -1;
        (void)rmdir(dir);   /* fails, harmlessly, if a new file appeared meanwhile */
    }
    free(p);
    tr_ckpt_dir_unlock(fd);
}

int tr_ckpt_resume_failed(const char *dir, const char *path, int err)
{
    if (err != INGOT_E_FORMAT && err != INGOT_E_CORRUPT && err != INGOT_E_CHECKSUM &&
        err != INGOT_E_TRUNCATED)
        return err;
    /* copied: listing the directory may record a message of its own */
    char m[INGOT_ERRMSG_MAX], *prev = NULL;
    snprintf(m, sizeof(m), "%s", ingot_errmsg_for(err));
    int64_t *steps;
    size_t n;
    /* --resume-from names a checkpoint of another run's directory (this
     * run's --ckpt-dir, if any, holds none): the one before is its
     * neighbour there */
    char *own = NULL;
    if (!dir) {
        size_t k = (size_t)(fs_basename(path) - path);   /* "a/ckpt-..." -> "a" */
        if (!(own = k ? strndup(path, k > 1 ? k - 1 : k) : strdup(".")))
            return ingot_fail(err, "%s", m);
    }
    /* the newest checkpoint below path's step */
    int64_t latest = parse_name(fs_basename(path));
    if (!list_steps(dir ? dir : own, &steps, &n)) {
        for (size_t i = n; i-- > 0 && !prev;)
            if (steps[i] < latest)
                prev = ckpt_path(dir ? dir : own, steps[i]);
        free(steps);
    }
    free(own);
    if (!dir && prev)
        err = ingot_fail(err, "%s. --resume-from names it: branch from the checkpoint before "
                         "it, %s, or restore it from a copy", m, TERM_SHOW(prev));
    else if (!dir)
        err = ingot_fail(err, "%s. --resume-from names it: restore it from a copy, or branch "
                         "from another checkpoint of its run", m);
    else if (prev)
        err = ingot_fail(err, "%s. It is the newest checkpoint of --ckpt-dir %s: move it out of "
                         "that directory and --resume continues from the one before, %s (or "
                         "restore it from a copy)", m, TERM_SHOW(dir), TERM_SHOW(prev));
    else
        err = ingot_fail(err, "%s. It is the only checkpoint of --ckpt-dir %s: restore it from "
                         "a copy, or move it out of that directory and --resume starts the run "
                         "again from step 0", m, TERM_SHOW(dir));
    free(prev);
    return err;
}

/* The first name in dir (in strcmp order, so that the message does not
 * depend on the directory's order) that looks like a checkpoint but is not
 * one a save writes: ckpt-30.bin, ckpt-best.bin (copies by hand). Its
 * count into *n; *name empty when none. */
static void passed_over(const char *dir, char *name, size_t cap, int *n)
{
    *n = 0;
    name[0] = '\0';
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!ingot_train_ckpt_like(e->d_name) || parse_name(e->d_name) >= 0)
            continue;
        if (!(*n)++ || strcmp(e->d_name, name) < 0)
            snprintf(name, cap, "%s", e->d_name);
    }
    if (d)
        closedir(d);
}

int tr_ckpt_passed_over(const char *dir, char *hint, size_t len)
{
    char other[256];
    int n;
    passed_over(dir, other, sizeof(other), &n);
    if (len)
        hint[0] = '\0';
    if (!n)
        return 0;
    const char *p = other + PRE_LEN;
    size_t digits = strspn(p, "0123456789");
    char canon[64] = "";
    if (digits && digits < 19 && !strcmp(p + digits, CKPT_SUFFIX))
        snprintf(canon, sizeof(canon), "; if it is one, rename it "
                 CKPT_PREFIX "%08lld" CKPT_SUFFIX, strtoll(p, NULL, 10));
    char more[48] = "";
    if (n > 1)
        snprintf(more, sizeof(more), " (and %d other name%s like it)", n - 1, n > 2 ? "s" : "");
    snprintf(hint, len, "%s%s is passed over%s", TERM_SHOW(other), more, canon);
    return n;
}

int tr_ckpt_resolve(const char *path, char **file)
{
    *file = NULL;
    if (fs_is_dir(path) != 1)
        return (*file = strdup(path)) ? 0 : ingot_oom("a path", strlen(path) + 1);
    int err = tr_ckpt_find_latest(path, file);
    if (err || *file)
        return err;
    /* "no ckpt-*.bin checkpoint" where ckpt-30.bin is: only the names a
     * save writes are read (parse_name), and the message did not say so */
    char hint[640];
    tr_ckpt_passed_over(path, hint, sizeof(hint));
    return ingot_fail(-ENOENT, "%s: no checkpoint in this directory (a checkpoint is read by "
                      "the name a save gives it, ckpt-<8 digits>.bin such as "
                      "ckpt-00000030.bin%s%s)", TERM_SHOW(path), hint[0] ? "; " : "", hint);
}

/* Read exactly len bytes at off. */
static int read_at(int fd, void *buf, size_t len, uint64_t off, const char *path)
{
    char *p = buf;
    while (len) {
        ssize_t r = pread(fd, p, len > (1u << 30) ? (1u << 30) : len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return ingot_fail(-errno, "%s: read: %s", TERM_SHOW(path), strerror(errno));
        if (r == 0)
            return ingot_fail(INGOT_E_TRUNCATED, "%s: file ends early (at byte %" PRIu64 "); the "
                              "checkpoint is truncated", TERM_SHOW(path), off);
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* A float field that the optimizer can use: finite, in [0, hi]. */
static bool float_ok(double x, double hi)
{
    return isfinite(x) && x >= 0.0 && x <= hi;
}

/* Every number of the header that the run uses, against what the program
 * can do (the option ranges of train_opts.c), so that a crafted or
 * bit-flipped header with a valid checksum fails here, naming the field,
 * rather than as an overflow or a NaN later. */
static int check_ranges(const char *path, const struct tr_ckpt_header *h)
{
    const char *field = NULL;
    uint64_t known = TR_CKPT_FLAG_SYNTHETIC | TR_CKPT_FLAG_SEQUENTIAL;
    if (h->flags & ~known)
        field = "flags (unknown bits)";
    else if (h->step > TR_MAX_STEPS)
        field = "step (more than 2^30)";
    else if (h->steps < 1 || h->steps > TR_MAX_STEPS)
        field = "steps (not in [1, 2^30])";
    else if (h->batch < 1 || h->batch > (1 << 24))
        field = "batch (not in [1, 2^24])";
    else if (h->grad_accum < 1 || h->grad_accum > (1 << 20))
        field = "grad_accum (not in [1, 2^20])";
    else if (h->warmup < 0 || h->warmup > TR_MAX_STEPS)
        field = "warmup (not in [0, 2^30])";
    else if (!float_ok(h->lr, 10.0) || !float_ok(h->min_lr, 10.0))
        field = "lr/min_lr (not in [0, 10])";
    else if (!float_ok(h->weight_decay, 10.0))
        field = "weight_decay (not in [0, 10])";
    else if (!float_ok(h->grad_clip, 1e6))
        field = "grad_clip (not in [0, 1e6])";
    else if (!float_ok(h->elapsed_s, 1e12))
        field = "elapsed_s (negative, NaN or absurd)";
    else if (h->tokens > (uint64_t)1 << 62)   /* the run's count goes on adding to it */
        field = "tokens (more than 2^62)";
    if (field)
        return ingot_fail(INGOT_E_CORRUPT, "%s: field %s; the checkpoint is damaged or was not "
                          "written by ingot-train", TERM_SHOW(path), field);
    return 0;
}

static int check_header(const char *path, const struct tr_ckpt_header *h, uint64_t file_size)
{
    if (memcmp(h->magic, TR_CKPT_MAGIC, 8))
        return ingot_fail(INGOT_E_FORMAT, "%s: not an Ingot checkpoint (magic)", TERM_SHOW(path));
    if (h->endian_mark != ENDIAN_MARK)
        return ingot_fail(INGOT_E_ENDIAN, "%s: written on a machine of other endianness",
                          TERM_SHOW(path));
    /* the checksum before the fields it covers, but a newer version may
     * lay its header out otherwise: a flipped version byte read "newer
     * than this build reads", and a newer file must not read "corrupt" */
    const bool sum_ok =
        ingot_xxh3(h, offsetof(struct tr_ckpt_header, header_checksum)) == h->header_checksum;
    if (h->version > TR_CKPT_VERSION)
        return ingot_fail(INGOT_E_VERSION, "%s: checkpoint version %u is newer than this build "
                          "reads (%u)%s", TERM_SHOW(path), h->version, TR_CKPT_VERSION,
                          sum_ok ? "" : ", or the header is damaged (its checksum does not "
                          "match as this build lays the header out): a newer ingot-train "
                          "reads it if it wrote it; else use an earlier checkpoint");
    if (!sum_ok)
        return ingot_fail(INGOT_E_CHECKSUM, "%s: header checksum mismatch; the file is corrupt",
                          TERM_SHOW(path));
    if (h->header_size != TR_CKPT_HEADER_SIZE)
        return ingot_fail(INGOT_E_FORMAT, "%s: header_size %u", TERM_SHOW(path), h->header_size);
    struct tr_config c = { .n_layer = h->n_layer, .n_head = h->n_head, .n_embd = h->n_embd,
                           .seq_len = h->seq_len, .vocab = h->vocab,
                           .vocab_padded = h->vocab_padded };
    if (h->version >= 3) {
        if (h->arch > TR_ARCH_LLAMA || h->tie_embeddings > 1)
            return ingot_fail(INGOT_E_CORRUPT, "%s: field arch (%u) or tie_embeddings (%u) is "
                              "out of range", TERM_SHOW(path), h->arch, h->tie_embeddings);
        /* a gpt2 model has none of llama's fields: values there are damage
         * (and would make two equal shapes compare unequal on --resume) */
        if (h->arch == TR_ARCH_GPT2 && (h->n_kv_head || h->ffn_dim || h->tie_embeddings ||
                                        h->rope_theta != 0.0 || h->norm_eps != 0.0f))
            return ingot_fail(INGOT_E_CORRUPT, "%s: fields n_kv_head..norm_eps (%d, %d, %u, %g, "
                              "%g) are llama's and must be 0 for arch 0 (gpt2); the file is "
                              "damaged", TERM_SHOW(path), h->n_kv_head, h->ffn_dim,
                              h->tie_embeddings, h->rope_theta, (double)h->norm_eps);
        c.arch = (int)h->arch;
        c.n_kv_head = h->n_kv_head;
        c.ffn_dim = h->ffn_dim;
        c.tie_embeddings = h->tie_embeddings != 0;
        c.rope_theta = h->rope_theta;
        c.norm_eps = h->norm_eps;
    }
    int err = tr_config_check(&c);
    if (err)
        return ingot_fail(INGOT_E_CORRUPT, "%s: fields n_layer..vocab_padded%s: %s",
                          TERM_SHOW(path), h->version >= 3 ? ", arch..norm_eps" : "",
                          ingot_errmsg_for(err));
    if ((err = check_ranges(path, h)))
        return err;
    if (h->version < 1)
        return ingot_fail(INGOT_E_CORRUPT, "%s: version 0", TERM_SHOW(path));
    uint64_t bytes = tr_param_count(&c) * sizeof(float);
    /* version 1 ends with v; version 2 adds the settings text after it */
    uint64_t settings = h->version >= 2 ? h->settings_size : 0;
    if (h->version >= 2 && (h->settings_offset != h->v_offset + bytes ||
                            h->settings_size > TR_CKPT_MAX_SETTINGS))
        return ingot_fail(INGOT_E_CORRUPT, "%s: fields settings_offset/settings_size (%" PRIu64
                          ", %" PRIu64 ") do not follow the tensors", TERM_SHOW(path),
                          h->settings_offset, h->settings_size);
    if (h->n_params != tr_param_count(&c) || h->params_offset != TR_CKPT_HEADER_SIZE ||
        h->m_offset != h->params_offset + bytes || h->v_offset != h->m_offset + bytes ||
        h->file_size != h->v_offset + bytes + settings)
        return ingot_fail(INGOT_E_CORRUPT, "%s: tensor offsets do not match the model "
                          "configuration", TERM_SHOW(path));
    if (file_size < h->file_size)
        return ingot_fail(INGOT_E_TRUNCATED, "%s: %" PRIu64 " bytes, header says %" PRIu64
                          " (truncated: a copy cut short, or a disk that filled while it was "
                          "written); use an earlier checkpoint or copy it again",
                          TERM_SHOW(path), file_size, h->file_size);
    if (file_size > h->file_size)
        return ingot_fail(INGOT_E_CORRUPT, "%s: %" PRIu64 " bytes, header says %" PRIu64
                          " (trailing bytes: not a file ingot-train wrote whole); use an "
                          "earlier checkpoint or copy it again",
                          TERM_SHOW(path), file_size, h->file_size);
    return 0;
}

/* Open, read the header, check it and (verify_payload) the payload hash. */
static int open_checked(const char *path, struct tr_ckpt_header *h, bool verify_payload,
                        int *fd_out)
{
    /* a regular file (a FIFO named like a checkpoint would block the read
     * forever); its size is checked against the header below */
    uint64_t size = 0;
    int fd = fs_open_regular(path, "checkpoint", UINT64_MAX, &size);
    if (fd < 0)
        return fd;
    int err = 0;
    if (size < sizeof(*h))
        err = ingot_fail(INGOT_E_TRUNCATED, "%s: %" PRIu64 " bytes is too short for a checkpoint",
                         TERM_SHOW(path), size);
    if (!err)
        err = read_at(fd, h, sizeof(*h), 0, path);
    if (!err)
        err = check_header(path, h, size);
    /* --resume and a --ckpt-dir's newest go by the step in the name: a copy
     * or rename of another checkpoint (or a symlink to one) under a higher
     * step would be taken for the newest, and the run would go back to its
     * step at every resume */
    const int64_t named = parse_name(fs_basename(path));
    if (!err && named >= 0 && (uint64_t)named != h->step)
        err = ingot_fail(INGOT_E_CORRUPT, "%s: its name says step %" PRId64 ", its header step "
                         "%" PRIu64 " (a copy or rename of another checkpoint: ingot-train "
                         "names each after its step, and the newest by name is the one resumed); "
                         "move it out of its directory, or rename it ckpt-%08" PRIu64 ".bin if "
                         "no file there has that name", TERM_SHOW(path), named, h->step, h->step);
    if (!err && verify_payload) {
        ingot_xxh3_stream *xs = ingot_xxh3_new();
        enum { BUF = 1 << 22 };
        char *buf = malloc(BUF);
        if (!xs || !buf)
            err = ingot_oom("checkpoint read buffer", BUF);
        uint64_t end = h->v_offset + h->n_params * sizeof(float);
        for (uint64_t off = h->header_size; !err && off < end; off += BUF) {
            size_t len = end - off < BUF ? (size_t)(end - off) : BUF;
            if (!(err = read_at(fd, buf, len, off, path)))
                ingot_xxh3_update(xs, buf, len);
        }
        if (!err && ingot_xxh3_digest(xs) != h->payload_checksum)
            err = ingot_fail(INGOT_E_CHECKSUM, "%s: payload checksum mismatch; the checkpoint is "
                             "corrupt", TERM_SHOW(path));
        ingot_xxh3_free(xs);
        free(buf);
    }
    if (err) {
        close(fd);
        return err;
    }
    *fd_out = fd;
    return 0;
}

/* The settings text of an open, checked version-2 file. */
static int read_settings(int fd, const char *path, const struct tr_ckpt_header *h, char **text)
{
    *text = NULL;
    if (h->version < 2)
        return 0;
    char *t = malloc(h->settings_size + 1);
    if (!t)
        return ingot_oom("checkpoint settings", h->settings_size + 1);
    int err = read_at(fd, t, h->settings_size, h->settings_offset, path);
    if (!err && ingot_xxh3(t, h->settings_size) != h->settings_checksum)
        err = ingot_fail(INGOT_E_CHECKSUM, "%s: settings checksum mismatch; the checkpoint is "
                         "corrupt", TERM_SHOW(path));
    if (err) {
        free(t);
        return err;
    }
    t[h->settings_size] = '\0';
    /* the JSON is read as a C string: a NUL inside would hide what follows
     * it (the checksum covers it, so only a crafted file has one) */
    const size_t len = strlen(t);
    if (len != h->settings_size) {
        free(t);
        return ingot_fail(INGOT_E_CORRUPT, "%s: a NUL byte at offset %zu of the settings "
                          "section; the file is damaged (restore it from a copy)",
                          TERM_SHOW(path), len);
    }
    *text = t;
    return 0;
}

/* The settings' "arch" must be one this build trains: a checkpoint of a
 * later model family fails here, by name, not as a shape mismatch. */
int tr_ckpt_check_arch(const char *path, const char *text)
{
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root) /* not JSON */
        return ingot_fail(INGOT_E_CORRUPT, "%s: the settings section is not a JSON object "
                          "(line %d: %s)", TERM_SHOW(path), je.line, TERM_SHOW(je.text));
    if (!json_is_object(root)) {
        json_decref(root);
        return ingot_fail(INGOT_E_CORRUPT, "%s: the settings section is JSON but not an object; "
                          "the file is damaged", TERM_SHOW(path));
    }
    const char *arch = json_string_value(json_object_get(json_object_get(root, "settings"),
                                                         "arch"));
    int err = 0;
    if (!arch)
        err = ingot_fail(INGOT_E_CORRUPT, "%s: the settings name no model architecture "
                         "(\"arch\")", TERM_SHOW(path));
    else if (strcmp(arch, "gpt2") && strcmp(arch, "llama"))
        err = ingot_fail(INGOT_E_VERSION, "%s: a model of architecture '%s'; this build of "
                         "ingot-train knows only 'gpt2' and 'llama': use a build that trains "
                         "'%s'", TERM_SHOW(path), TERM_SHOW(arch), TERM_SHOW(arch));
    json_decref(root);
    return err;
}

/* The settings' "arch" (known, checked above) names the header's
 * architecture (version 1 and 2 headers: gpt2). */
static int arch_agrees(const char *path, const char *text, const struct tr_ckpt_header *h)
{
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    json_t *set = json_object_get(root, "settings");
    const char *arch = json_string_value(json_object_get(set, "arch"));
    const bool llama = h->version >= 3 && h->arch == TR_ARCH_LLAMA;
    const char *head = tr_arch_name(h->version >= 3 ? (int)h->arch : TR_ARCH_GPT2);
    int err = 0;
    if (!arch || strcmp(arch, head))
        err = ingot_fail(INGOT_E_CORRUPT, "%s: the settings say architecture '%s', the header "
                         "'%s' (version %u); the file is damaged", TERM_SHOW(path), TERM_SHOW(arch),
                         head, h->version);
    /* and the shape: --resume takes its flags from the settings, so a
     * disagreement would be reported as "this run is another model", and
     * eval/generate/export would silently use the header's */
    const struct { const char *key; double header; bool is_llama; } shape[] = {
        { "layers", h->n_layer, false }, { "heads", h->n_head, false },
        { "dim", h->n_embd, false }, { "seq-len", h->seq_len, false },
        { "kv-heads", h->n_kv_head, true }, { "ffn-dim", h->ffn_dim, true },
        { "rope-theta", h->rope_theta, true }, { "norm-eps", h->norm_eps, true },
        { "tie-embeddings", h->tie_embeddings, true },
    };
    for (size_t i = 0; !err && i < sizeof(shape) / sizeof(shape[0]); i++) {
        if (shape[i].is_llama && !llama)
            continue;
        json_t *v = json_object_get(set, shape[i].key);
        char sb[32], hb[32];
        cli_format_double(shape[i].header, hb, sizeof(hb));
        /* every settings section Ingot wrote holds these keys (the llama
         * ones with the llama header); one missing or of another type
         * would make --resume report "another model" */
        if (!v || !(json_is_number(v) || json_is_boolean(v) || json_is_string(v))) {
            err = ingot_fail(INGOT_E_CORRUPT, "%s: the settings %s \"%s\" (the header says "
                             "%s); the file is damaged (restore it from a copy)",
                             TERM_SHOW(path), v ? "hold no number for" : "have no", shape[i].key,
                             hb);
            break;
        }
        /* rope-theta past 9 digits is written as a string of its decimal */
        const char *str = json_string_value(v);
        char *end = NULL;
        double s = json_is_boolean(v) ? json_is_true(v)
                   : str              ? strtod(str, &end)
                                      : json_number_value(v),
               hv = shape[i].header;
        if (str && (end == str || *end)) {
            err = ingot_fail(INGOT_E_CORRUPT, "%s: the settings' \"%s\" is '%s', not a number "
                             "(the header says %s); the file is damaged (restore it from a "
                             "copy)", TERM_SHOW(path), shape[i].key, TERM_SHOW(str), hb);
            break;
        }
        if (!strcmp(shape[i].key, "norm-eps")) {   /* the header holds the float */
            s = cli_float_decimal((float)s);
            hv = cli_float_decimal((float)hv);
        }
        if (s != hv)
            err = ingot_fail(INGOT_E_CORRUPT, "%s: the settings say %s %s, the header %s; the "
                             "file is damaged (restore it from a copy)", TERM_SHOW(path),
                             shape[i].key,
                             str ? TERM_SHOW(str) : cli_format_double(s, sb, sizeof(sb)),
                             cli_format_double(hv, hb, sizeof(hb)));
    }
    json_decref(root);
    return err;
}

int tr_ckpt_read_state(const char *path, struct tr_ckpt_state *st)
{
    struct tr_ckpt_header h;
    char *text = NULL;
    int fd, err = open_checked(path, &h, true, &fd);
    if (err)
        return err;
    err = read_settings(fd, path, &h, &text);
    close(fd);
    if (!err && text)
        err = tr_ckpt_check_arch(path, text);
    if (!err && text)
        err = arch_agrees(path, text, &h);
    free(text);
    if (err)
        return err;
    state_from_header(st, &h);
    return 0;
}

int tr_ckpt_payload_id(const char *path, uint64_t *id)
{
    struct tr_ckpt_header h;
    int fd, err = open_checked(path, &h, false, &fd);
    if (err)
        return err;
    close(fd);
    *id = h.payload_checksum;
    return 0;
}

int tr_ckpt_read_settings(const char *path, char **text)
{
    struct tr_ckpt_header h;
    int fd, err = open_checked(path, &h, false, &fd);
    *text = NULL;
    if (err)
        return err;
    err = read_settings(fd, path, &h, text);
    close(fd);
    return err;
}

int tr_ckpt_read_tensors(const char *path, size_t n, float *params, float *m, float *v)
{
    struct tr_ckpt_header h;
    int fd, err = open_checked(path, &h, false, &fd);
    if (err)
        return err;
    if (h.n_params != n)
        err = ingot_fail(INGOT_E_MISMATCH, "%s: holds %" PRIu64 " parameters, expected %zu",
                         TERM_SHOW(path), h.n_params, n);
    size_t bytes = n * sizeof(float);
    if (!err)
        err = read_at(fd, params, bytes, h.params_offset, path);
    if (!err)
        err = read_at(fd, m, bytes, h.m_offset, path);
    if (!err)
        err = read_at(fd, v, bytes, h.v_offset, path);
    close(fd);
    /* the bytes read against the payload checksum: the state was verified
     * by an earlier open of the path (tr_ckpt_read_state()), and a file
     * put in its place since (a copy, another run's save) or damaged since
     * was loaded unchecked */
    ingot_xxh3_stream *xs = err ? NULL : ingot_xxh3_new();
    if (!err && !xs)
        err = ingot_oom("checkpoint checksum state", 1);
    if (xs) {
        ingot_xxh3_update(xs, params, bytes);
        ingot_xxh3_update(xs, m, bytes);
        ingot_xxh3_update(xs, v, bytes);
        if (ingot_xxh3_digest(xs) != h.payload_checksum)
            err = ingot_fail(INGOT_E_CHECKSUM, "%s: payload checksum mismatch in the tensors "
                             "read; the file changed or was damaged since it was first checked "
                             "(another run writing it?): run the command again",
                             TERM_SHOW(path));
        ingot_xxh3_free(xs);
    }
    return err;
}
