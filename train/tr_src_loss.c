/* A mixture's loss split by source (tr_src_loss.h). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "term_text.h"
#include "tr_src_loss.h"

/* The last component of dir, trailing slashes ignored ("data/web/" -> "web");
 * dir itself when that leaves nothing ("/"). Cut to len - 1 bytes at a
 * character's start: cut inside one, the name was not UTF-8, and jansson
 * refused it in eval --json (null) and --metrics (left out of the list). */
static void basename_of(const char *dir, char *out, size_t len)
{
    size_t end = strlen(dir);
    while (end > 1 && dir[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    if (start == end)   /* "/" */
        start = 0;
    /* "." or "..": the directory's own name ("--data ." named the source
     * "." in every val line and metrics key) */
    const size_t n0 = end - start;
    char *abs = (n0 == 1 || n0 == 2) && !strncmp(dir + start, "..", n0) ? fs_abs_path(dir) : NULL;
    if (abs && strcmp(abs, "/") && strcmp(abs, dir)) {
        basename_of(abs, out, len);
        free(abs);
        return;
    }
    free(abs);
    const size_t n = term_text_cut(dir + start, end - start, len - 1);
    snprintf(out, len, "%.*s", (int)n, dir + start);
}

void tr_src_loss_init(struct tr_src_loss *s, const tr_loader *l)
{
    memset(s, 0, sizeof(*s));
    int n = tr_loader_n_sources(l);
    if (n < 2)
        return;
    s->n = n;
    char base[TR_MAX_SOURCES][TR_SRC_NAME];
    for (int i = 0; i < n; i++) {
        basename_of(tr_loader_source_dir(l, i), base[i], sizeof(base[i]));
        /* JSON holds only UTF-8: a name of other bytes (Latin-1) was null in
         * eval --json and left out of --metrics' list, which then named the
         * sources after it wrongly. As term_text() shows it (never longer). */
        if (!term_text_utf8(base[i])) {
            char shown[TR_SRC_NAME];
            memcpy(base[i], term_text(base[i], shown, sizeof(shown)), sizeof(shown));
        }
    }
    for (int i = 0; i < n; i++) {
        bool shared = false;
        for (int j = 0; j < n && !shared; j++)
            shared = j != i && !strcmp(base[i], base[j]);
        if (shared)   /* the base cut short where "#" and the index would not fit */
            snprintf(s->name[i], sizeof(s->name[i]), "%.*s#%d",
                     (int)term_text_cut(base[i], strlen(base[i]), TR_SRC_NAME - 5), base[i],
                     i % TR_MAX_SOURCES);
        else
            memcpy(s->name[i], base[i], sizeof(s->name[i]));
    }
}

void tr_src_loss_clear(struct tr_src_loss *s)
{
    memset(s->windows, 0, sizeof(s->windows));
    memset(s->sum, 0, sizeof(s->sum));
}

void tr_src_loss_add(struct tr_src_loss *s, int src, double loss)
{
    s->windows[src]++;
    s->sum[src] += loss;
}

double tr_src_loss_mean(const struct tr_src_loss *s, int i)
{
    return s->windows[i] ? s->sum[i] / (double)s->windows[i] : NAN;
}

void tr_src_loss_format(const struct tr_src_loss *s, char *buf, size_t len)
{
    if (!len)
        return;
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->n; i++) {
        char v[32], one[TR_SRC_NAME + 64];
        if (s->windows[i])
            snprintf(v, sizeof(v), "%.4f", tr_src_loss_mean(s, i));
        else
            snprintf(v, sizeof(v), "n/a");
        snprintf(one, sizeof(one), "%s%s %s", i ? ", " : "", TERM_SHOW(s->name[i]),
                 v);   /* a directory's name */
        /* cut where buf ends, at a character's start */
        const size_t n = strlen(one), k = term_text_cut(one, n, len - 1 - off);
        memcpy(buf + off, one, k);
        buf[off += k] = '\0';
        if (k < n)
            break;
    }
}
