#include "pt_input.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "manifest.h"
#include "term_text.h"
#include "pt_merge.h"
#include "pt_state.h"
#include "pt_str.h"

/* A set of file identities (open addressing; val: the input index of a
 * file, unused for directories). */
struct id_set {
    struct id_slot { dev_t dev; ino_t ino; size_t val; bool used; } *v;
    size_t cap, n;
};

static size_t id_hash(dev_t dev, ino_t ino, size_t cap)
{
    uint64_t h = ((uint64_t)dev * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)ino * 0xC2B2AE3D27D4EB4Full);
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static struct id_slot *id_find(const struct id_set *s, dev_t dev, ino_t ino)
{
    if (!s->cap)
        return NULL;
    for (size_t i = id_hash(dev, ino, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (!s->v[i].used)
            return NULL;
        if (s->v[i].dev == dev && s->v[i].ino == ino)
            return &s->v[i];
    }
}

static int id_add(struct id_set *s, dev_t dev, ino_t ino, size_t val)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 256;
        struct id_slot *nv = calloc(nc, sizeof(*nv));
        if (!nv)
            return ingot_oom("the input identity table", nc * sizeof(*nv));
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->v[i].used)
                continue;
            size_t j = id_hash(s->v[i].dev, s->v[i].ino, nc);
            while (nv[j].used)
                j = (j + 1) & (nc - 1);
            nv[j] = s->v[i];
        }
        free(s->v);
        s->v = nv;
        s->cap = nc;
    }
    size_t i = id_hash(dev, ino, s->cap);
    while (s->v[i].used)
        i = (i + 1) & (s->cap - 1);
    s->v[i] = (struct id_slot){ dev, ino, val, true };
    s->n++;
    return 0;
}

struct expand {
    struct pt_inputs *in;
    size_t cap;
    struct id_set dirs, files;
    struct id_set explicit;  /* files named on the command line (globs expanded) */
    bool have_out;
    dev_t out_dev;
    ino_t out_ino;
    char *out_real;         /* realpath of --out, NULL when it does not exist */
};

/* Names taken from a directory walk. */
static bool wanted_name(const char *name)
{
    static const char *const suf[] = { ".jsonl", ".json", ".jsonl.zst", ".json.zst",
                                       ".txt", ".txt.zst", ".jsonl.gz", ".json.gz",
                                       ".txt.gz" };
    for (size_t i = 0; i < sizeof(suf) / sizeof(suf[0]); i++)
        if (pt_ends_with(name, suf[i]))
            return true;
    return false;
}

const char pt_input_suffixes[] = ".jsonl, .json, .txt, each also with .zst or .gz";

/* A dataset's own files: they end in .json but are never corpus text. */
static bool dataset_file(const char *name)
{
    static const char *const own[] = { INGOT_MANIFEST_NAME, PT_STATE_NAME, PT_MERGE_PLAN_NAME,
                                       PT_MERGE_PENDING_NAME, PT_MERGE_RETIRED_NAME };
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (!strcmp(name, own[i]))
            return true;
    return false;
}

static int note(struct pt_inputs *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int note(struct pt_inputs *in, const char *fmt, ...)
{
    in->n_notes++;
    if (in->n_notes_kept == PT_INPUT_MAX_NOTES)
        return 0;
    if (!in->notes && !(in->notes = calloc(PT_INPUT_MAX_NOTES, sizeof(*in->notes))))
        return ingot_oom("the input notes", PT_INPUT_MAX_NOTES * sizeof(*in->notes));
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&in->notes[in->n_notes_kept], fmt, ap);
    va_end(ap);
    if (n < 0) {
        in->notes[in->n_notes_kept] = NULL;
        return ingot_oom("an input note", 256);
    }
    in->n_notes_kept++;
    return 0;
}

/* A file of another format in a walked directory: counted, and the first
 * few named in the report (a corpus of .parquet or .csv files must not
 * convert to an empty dataset without a word). */
static int unknown_file(struct pt_inputs *in, const char *path)
{
    in->ignored++;
    if (in->n_unknown_kept == PT_INPUT_MAX_UNKNOWN)
        return 0;
    if (!in->unknown && !(in->unknown = calloc(PT_INPUT_MAX_UNKNOWN, sizeof(*in->unknown))))
        return ingot_oom("the list of unknown files", PT_INPUT_MAX_UNKNOWN * sizeof(char *));
    if (!(in->unknown[in->n_unknown_kept] = strdup(path)))
        return ingot_oom("an unknown file's path", strlen(path) + 1);
    in->n_unknown_kept++;
    return 0;
}

static int add_file(struct expand *x, const char *path, const struct stat *st)
{
    struct pt_inputs *in = x->in;
    if (st) {
        struct id_slot *seen = id_find(&x->files, st->st_dev, st->st_ino);
        if (seen) {
            char tp[1024], ts[1024];   /* names from the command line and directories */
            return note(in, "%s is the same file as %s; read once",
                        term_text(path, tp, sizeof(tp)),
                        term_text(in->v[seen->val].path, ts, sizeof(ts)));
        }
    }
    if (in->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 64;
        struct pt_input *v = realloc(in->v, nc * sizeof(*v));
        if (!v)
            return ingot_oom("the input list", nc * sizeof(*v));
        in->v = v;
        x->cap = nc;
    }
    struct pt_input *f = &in->v[in->n];
    memset(f, 0, sizeof(*f));
    if (!(f->path = strdup(path)))
        return ingot_oom("an input path", strlen(path) + 1);
    /* Only regular files have a size to balance parts by; anything else is
     * refused by the reader as not_regular_file. */
    f->size = st && S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
    f->mtime_ns = st && S_ISREG(st->st_mode)
                      ? (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec : 0;
    f->name_zst = pt_ends_with(path, ".zst");
    f->name_gz = pt_ends_with(path, ".gz");
    f->format = pt_ends_with(path, ".txt") || pt_ends_with(path, ".txt.zst") ||
                pt_ends_with(path, ".txt.gz") ? PT_FMT_TEXT : PT_FMT_JSONL;
    if (st && id_add(&x->files, st->st_dev, st->st_ino, in->n))
        return -ENOMEM;
    in->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort order for the duplicate check: by path, then by position. */
static int cmp_index(const void *a, const void *b, void *arg)
{
    const struct pt_input *v = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(v[x].path, v[y].path);
    return c ? c : (x > y) - (x < y);
}

/* Entries without an identity (stat failed: dangling links, no permission)
 * named twice by the same path are read once, at their first place.
 * O(n log n): corpora have tens of thousands of files. */
static int dedup_paths(struct pt_inputs *in)
{
    if (in->n < 2)
        return 0;
    size_t *idx = malloc(in->n * sizeof(*idx));
    bool *dup = calloc(in->n, sizeof(*dup));
    if (!idx || !dup) {
        free(idx);
        free(dup);
        return ingot_oom("the duplicate check", in->n * (sizeof(*idx) + sizeof(*dup)));
    }
    for (size_t i = 0; i < in->n; i++)
        idx[i] = i;
    qsort_r(idx, in->n, sizeof(*idx), cmp_index, in->v);
    for (size_t i = 1; i < in->n; i++)
        if (!strcmp(in->v[idx[i]].path, in->v[idx[i - 1]].path))
            dup[idx[i]] = true;
    size_t o = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (dup[i])
            free(in->v[i].path);
        else
            in->v[o++] = in->v[i];
    }
    in->n = o;
    free(idx);
    free(dup);
    return 0;
}

/* Enter directory dir (stat'ed as *st) unless it was walked already or is
 * the output. Returns 1 to walk it, 0 to pass over it, or an error. */
static int enter_dir(struct expand *x, const char *dir, const struct stat *st)
{
    char td[1024];
    if (x->have_out && st->st_dev == x->out_dev && st->st_ino == x->out_ino) {
        int ret = note(x->in, "%s is the output directory (--out); not read",
                       term_text(dir, td, sizeof(td)));
        return ret ? ret : 0;
    }
    if (id_find(&x->dirs, st->st_dev, st->st_ino)) {
        int ret = note(x->in, "%s: this directory was walked already under another name "
                       "(a symlink loop?); not walked again", term_text(dir, td, sizeof(td)));
        return ret ? ret : 0;
    }
    int ret = id_add(&x->dirs, st->st_dev, st->st_ino, 0);
    return ret ? ret : 1;
}

static int walk(struct expand *x, const char *dir, const struct stat *dst, int depth)
{
    int ret = enter_dir(x, dir, dst);
    if (ret <= 0)
        return ret;
    char td[1024];
    /* Identity ends loops; the depth cap bounds the recursion itself. */
    if (depth > 256)
        return ingot_fail(INGOT_E_USAGE, "%s: directories nested deeper than 256",
                          term_text(dir, td, sizeof(td)));
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        return ingot_fail(-e, "%s: cannot open directory: %s", term_text(dir, td, sizeof(td)),
                          strerror(e));
    }
    char **names = NULL;
    size_t n = 0, ncap = 0;
    ret = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == ncap) {
            ncap = ncap ? ncap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (!nn) {
                ret = ingot_oom("a directory listing", ncap * sizeof(*nn));
                goto out;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            ret = ingot_oom("a directory entry", strlen(de->d_name) + 1);
            goto out;
        }
        n++;
    }
    if (n)   /* an empty directory: names is NULL, which qsort may not take */
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n && !ret; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *p = malloc(len);
        if (!p) {
            ret = ingot_oom("a path", len);
            break;
        }
        snprintf(p, len, "%s%s%s", dir, pt_ends_with(dir, "/") ? "" : "/", names[i]);
        struct stat st;
        bool ok = stat(p, &st) == 0;
        if (ok && S_ISDIR(st.st_mode)) {
            ret = walk(x, p, &st, depth + 1);
        } else if (wanted_name(names[i]) && dataset_file(names[i])) {
            char tp[1024];
            ret = note(x->in, "%s: a dataset's own file, not corpus text; not read",
                       term_text(p, tp, sizeof(tp)));
        } else if (wanted_name(names[i])) {
            /* Dangling links and unreadable entries are kept: reading them
             * fails later and is reported as a skipped file. */
            ret = add_file(x, p, ok ? &st : NULL);
        } else if (!ok || !id_find(&x->explicit, st.st_dev, st.st_ino)) {
            ret = unknown_file(x->in, p);
        }   /* else named on the command line too: read at that place, not unknown */
        free(p);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return ret;
}

/* A file named on the command line inside --out (by its real path, so links
 * count too). */
static bool inside_out(const struct expand *x, const char *path)
{
    if (!x->out_real)
        return false;
    char *real = realpath(path, NULL);
    if (!real)
        return false;
    size_t n = strlen(x->out_real);
    bool in = !strncmp(real, x->out_real, n) && (real[n] == '/' || (n == 1 && real[0] == '/'));
    free(real);
    return in;
}

static int add_path(struct expand *x, const char *arg)
{
    struct stat st;
    char ta[1024];
    if (stat(arg, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return walk(x, arg, &st, 0);
        if (inside_out(x, arg))
            return ingot_fail(INGOT_E_USAGE, "%s is inside the output directory (--out); "
                              "the output is never an input", term_text(arg, ta, sizeof(ta)));
        if (dataset_file(strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg))
            return ingot_fail(INGOT_E_USAGE, "%s is a dataset's own file (manifest or "
                              "resume state), not corpus text", term_text(arg, ta, sizeof(ta)));
        return add_file(x, arg, &st);
    }
    /* There but unreadable (no permission, a dangling link): kept, so that
     * it is reported as a skipped file like one found in a directory. */
    if (errno == EACCES || lstat(arg, &st) == 0)
        return add_file(x, arg, NULL);
    return ingot_fail(INGOT_E_USAGE, "%s: no such file or directory",
                      term_text(arg, ta, sizeof(ta)));
}

/* "-": standard input, one entry without identity or size. */
static int add_stdin(struct expand *x, enum pt_format format)
{
    for (size_t i = 0; i < x->in->n; i++)
        if (x->in->v[i].is_stdin)
            return ingot_fail(INGOT_E_USAGE, "'-' (standard input) is named twice; it can be "
                              "read only once");
    int ret = fs_stdin_closed("'-' (standard input)");
    if (!ret)
        ret = add_file(x, PT_STDIN_NAME, NULL);
    if (ret)
        return ret;
    struct pt_input *f = &x->in->v[x->in->n - 1];
    f->is_stdin = true;
    f->format = format;
    return 0;
}

int pt_inputs_expand(char *const *args, size_t n_args, const char *out_dir,
                     struct pt_inputs *out)
{
    return pt_inputs_expand_stdin(args, n_args, out_dir, PT_FMT_JSONL, out);
}

/* The identities of the files (not directories) the arguments name, globs
 * expanded, so that a walk does not list one of them as a file of unknown
 * format when it is read anyway, at its place on the command line. */
static int collect_explicit(struct expand *x, char *const *args, size_t n_args)
{
    int ret = 0;
    for (size_t a = 0; a < n_args && !ret; a++) {
        const char *arg = args[a];
        struct stat st;
        if (!strcmp(arg, "-"))
            continue;
        if (stat(arg, &st) == 0) {
            if (!S_ISDIR(st.st_mode) && !id_find(&x->explicit, st.st_dev, st.st_ino))
                ret = id_add(&x->explicit, st.st_dev, st.st_ino, 0);
            continue;
        }
        glob_t g;
        if (!strpbrk(arg, "*?[") || glob(arg, 0, NULL, &g))
            continue;   /* no match or an error: the expansion proper says so */
        for (size_t i = 0; i < g.gl_pathc && !ret; i++)
            if (stat(g.gl_pathv[i], &st) == 0 && !S_ISDIR(st.st_mode) &&
                !id_find(&x->explicit, st.st_dev, st.st_ino))
                ret = id_add(&x->explicit, st.st_dev, st.st_ino, 0);
        globfree(&g);
    }
    return ret;
}

int pt_inputs_expand_stdin(char *const *args, size_t n_args, const char *out_dir,
                           enum pt_format stdin_format, struct pt_inputs *out)
{
    memset(out, 0, sizeof(*out));
    struct expand x = { .in = out };
    struct stat ost;
    if (out_dir && stat(out_dir, &ost) == 0 && S_ISDIR(ost.st_mode)) {
        x.have_out = true;
        x.out_dev = ost.st_dev;
        x.out_ino = ost.st_ino;
        x.out_real = realpath(out_dir, NULL);
    }
    int ret = collect_explicit(&x, args, n_args);
    for (size_t a = 0; a < n_args && !ret; a++) {
        const char *arg = args[a];
        struct stat st;
        if (!strcmp(arg, "-")) {
            ret = add_stdin(&x, stdin_format);
        } else if (strpbrk(arg, "*?[") && stat(arg, &st) != 0) {
            glob_t g;
            int gr = glob(arg, 0, NULL, &g);
            char ta[1024];
            if (gr == GLOB_NOMATCH) {
                ret = ingot_fail(INGOT_E_USAGE, "%s: the pattern matches no file",
                                 term_text(arg, ta, sizeof(ta)));
            } else if (gr) {
                ret = ingot_fail(-ENOMEM, "%s: glob failed", term_text(arg, ta, sizeof(ta)));
            } else {
                for (size_t i = 0; i < g.gl_pathc && !ret; i++)
                    ret = add_path(&x, g.gl_pathv[i]);
                globfree(&g);
            }
        } else {
            ret = add_path(&x, arg);
        }
    }
    if (!ret)
        ret = dedup_paths(out);
    if (!ret && out->n > UINT32_MAX)
        ret = ingot_fail(INGOT_E_USAGE, "more than 2^32 input files");
    free(x.dirs.v);
    free(x.files.v);
    free(x.explicit.v);
    free(x.out_real);
    if (ret) {
        pt_inputs_free(out);
        return ret;
    }
    for (size_t i = 0; i < out->n; i++)
        out->v[i].index = (uint32_t)i;
    return 0;
}

void pt_inputs_print_notes(const struct pt_inputs *in, const char *prog, FILE *f)
{
    for (size_t i = 0; i < in->n_notes_kept; i++)
        fprintf(f, "%s: note: %s\n", prog, in->notes[i]);
    if (in->n_notes > in->n_notes_kept)
        fprintf(f, "%s: note: ... and %zu more like these\n", prog,
                in->n_notes - in->n_notes_kept);
}

void pt_inputs_free(struct pt_inputs *in)
{
    for (size_t i = 0; i < in->n; i++)
        free(in->v[i].path);
    free(in->v);
    for (size_t i = 0; i < in->n_notes_kept; i++)
        free(in->notes[i]);
    free(in->notes);
    for (size_t i = 0; i < in->n_unknown_kept; i++)
        free(in->unknown[i]);
    free(in->unknown);
    memset(in, 0, sizeof(*in));
}
void pt_inputs_part(const struct pt_inputs *in, unsigned k, unsigned n_parts,
                    size_t *first, size_t *end)
{
    /* File i goes to the part whose byte range holds the file's midpoint;
     * empty files count one byte so that lists of empty files still spread. */
    uint64_t total = 0;
    for (size_t i = 0; i < in->n; i++)
        total += in->v[i].size + 1;
    uint64_t acc = 0;
    *first = *end = 0;
    bool started = false;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t w = in->v[i].size + 1;
        /* floor(midpoint * n_parts / total), in exact integer arithmetic */
        unsigned __int128 num = ((unsigned __int128)(2 * acc + w)) * n_parts;
        unsigned part = (unsigned)(num / ((unsigned __int128)2 * total));
        if (part >= n_parts)
            part = n_parts - 1;
        acc += w;
        if (part + 1 == k) {
            if (!started) {
                *first = i;
                started = true;
            }
            *end = i + 1;
        } else if (part + 1 > k) {
            break;
        }
    }
    if (!started)
        *first = *end = 0;
}
