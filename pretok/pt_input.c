#include "pt_input.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ingot_err.h"

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Names taken from a directory walk. */
static bool wanted_name(const char *name)
{
    static const char *const suf[] = { ".jsonl", ".json", ".jsonl.zst", ".json.zst",
                                       ".txt", ".txt.zst" };
    for (size_t i = 0; i < sizeof(suf) / sizeof(suf[0]); i++)
        if (ends_with(name, suf[i]))
            return true;
    return false;
}

static int add_file(struct pt_inputs *in, size_t *cap, const char *path, uint64_t size)
{
    if (in->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        struct pt_input *v = realloc(in->v, nc * sizeof(*v));
        if (!v)
            return -ENOMEM;
        in->v = v;
        *cap = nc;
    }
    struct pt_input *f = &in->v[in->n];
    memset(f, 0, sizeof(*f));
    f->path = strdup(path);
    if (!f->path)
        return -ENOMEM;
    f->size = size;
    f->name_zst = ends_with(path, ".zst");
    f->format = ends_with(path, ".txt") || ends_with(path, ".txt.zst") ? PT_FMT_TEXT
                                                                       : PT_FMT_JSONL;
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

/* A file named twice (or found twice) is read once, at its first place.
 * O(n log n): corpora have tens of thousands of files. */
static int dedup(struct pt_inputs *in)
{
    if (in->n < 2)
        return 0;
    size_t *idx = malloc(in->n * sizeof(*idx));
    bool *dup = calloc(in->n, sizeof(*dup));
    if (!idx || !dup) {
        free(idx);
        free(dup);
        return -ENOMEM;
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

static int walk(struct pt_inputs *in, size_t *cap, const char *dir, int depth)
{
    if (depth > 64)
        return ingot_fail(INGOT_E_USAGE, "%s: directories nested too deep (symlink loop?)", dir);
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        return ingot_fail(-e, "%s: cannot open directory: %s", dir, strerror(e));
    }
    char **names = NULL;
    size_t n = 0, ncap = 0;
    int ret = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == ncap) {
            ncap = ncap ? ncap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (!nn) {
                ret = -ENOMEM;
                goto out;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            ret = -ENOMEM;
            goto out;
        }
        n++;
    }
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n && !ret; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *p = malloc(len);
        if (!p) {
            ret = -ENOMEM;
            break;
        }
        snprintf(p, len, "%s%s%s", dir, ends_with(dir, "/") ? "" : "/", names[i]);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            ret = walk(in, cap, p, depth + 1);
        } else if (wanted_name(names[i])) {
            /* Dangling links and unreadable entries are kept: reading them
             * fails later and is reported as a skipped file. */
            ret = add_file(in, cap, p, stat(p, &st) == 0 ? (uint64_t)st.st_size : 0);
        } else {
            in->ignored++;
        }
        free(p);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return ret;
}

static int add_path(struct pt_inputs *in, size_t *cap, const char *arg)
{
    struct stat st;
    if (stat(arg, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return walk(in, cap, arg, 0);
        return add_file(in, cap, arg, (uint64_t)st.st_size);
    }
    /* There but unreadable (no permission, a dangling link): kept, so that
     * it is reported as a skipped file like one found in a directory. */
    if (errno == EACCES || lstat(arg, &st) == 0)
        return add_file(in, cap, arg, 0);
    return ingot_fail(INGOT_E_USAGE, "%s: no such file or directory", arg);
}

int pt_inputs_expand(char *const *args, size_t n_args, struct pt_inputs *out)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    int ret = 0;
    for (size_t a = 0; a < n_args && !ret; a++) {
        const char *arg = args[a];
        struct stat st;
        if (strpbrk(arg, "*?[") && stat(arg, &st) != 0) {
            glob_t g;
            int gr = glob(arg, 0, NULL, &g);
            if (gr == GLOB_NOMATCH) {
                ret = ingot_fail(INGOT_E_USAGE, "%s: the pattern matches no file", arg);
            } else if (gr) {
                ret = ingot_fail(-ENOMEM, "%s: glob failed", arg);
            } else {
                for (size_t i = 0; i < g.gl_pathc && !ret; i++)
                    ret = add_path(out, &cap, g.gl_pathv[i]);
                globfree(&g);
            }
        } else {
            ret = add_path(out, &cap, arg);
        }
    }
    if (!ret)
        ret = dedup(out);
    if (!ret && out->n > UINT32_MAX)
        ret = ingot_fail(INGOT_E_USAGE, "more than 2^32 input files");
    if (ret) {
        if (ret == -ENOMEM)
            ingot_fail(-ENOMEM, "out of memory while listing the inputs");
        pt_inputs_free(out);
        return ret;
    }
    for (size_t i = 0; i < out->n; i++)
        out->v[i].index = (uint32_t)i;
    return 0;
}

void pt_inputs_free(struct pt_inputs *in)
{
    for (size_t i = 0; i < in->n; i++)
        free(in->v[i].path);
    free(in->v);
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
