#include "pt_resume.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_num.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "manifest.h"
#include "shard_reader.h"
#include "term_text.h"

/* One finished shard: open (structure, header checksum), the header against
 * the state, then every data checksum recomputed. 0, 1 (differs; message
 * recorded) or -ENOMEM. */
static int check_one(const char *out_dir, const struct manifest_shard *s)
{
    char *path = fs_path_join(out_dir, s->file);
    if (!path)
        return ingot_oom("a shard path", strlen(out_dir) + strlen(s->file) + 2);
    shard_reader *r = NULL;
    int ret = shard_reader_open(path, &r);
    if (!ret) {
        const struct ingot_shard_header *h = shard_reader_header(r);
        if (h->n_tokens != s->n_tokens || h->n_docs != s->n_docs ||
            h->file_size != s->file_size || h->tokens_checksum != s->tokens_checksum ||
            h->index_checksum != s->index_checksum || h->prov_checksum != s->prov_checksum ||
            h->header_checksum != s->header_checksum) {
            char tp[1024];
            ret = ingot_fail(INGOT_E_MISMATCH, "%s: its header differs from the shard recorded "
                             "in %s", term_text(path, tp, sizeof(tp)), PT_STATE_NAME);
        } else {
            ret = shard_reader_verify(r);
        }
    }
    shard_reader_close(r);
    free(path);
    if (ret == -ENOMEM)
        return ret;
    return ret ? 1 : 0;
}

int pt_resume_check_shards(const char *out_dir, const struct pt_state *st)
{
    for (size_t i = 0; i < st->n_shards; i++) {
        int ret = check_one(out_dir, &st->shards[i]);
        if (ret)
            return ret;
    }
    return 0;
}

/* ---- what changed ---- */

struct text {
    char *s;
    size_t len;
    bool oom;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = realloc(t->s, t->len + (size_t)n + 1);
    if (!p) {
        t->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(p + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->s = p;
    t->len += (size_t)n;
}

/* The value of option key in a "--key value" text, as a pointer and a
 * length (NULL when absent). */
static const char *option_value(const char *text, const char *key, size_t klen, size_t *vlen)
{
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (!strncmp(l, key, klen) && l[klen] == ' ') {
            const char *v = l + klen + 1, *e = strchr(v, '\n');
            *vlen = e ? (size_t)(e - v) : strlen(v);
            return v;
        }
    }
    return NULL;
}

/* An option's value for people: --val-fraction, hashed as %.17g
 * (0.10000000000000001), as the shortest text that reads back the same
 * (0.1); anything else as it is (a --text-key 1e5 is no number), through
 * term_text(): a --text-key comes from the command line, and the value it
 * had from the state file. NULL when out of memory. */
static const char *shown(const char *key, size_t klen, const char *v, size_t len, char *buf,
                         size_t cap)
{
    static const char frac[] = "--val-fraction";
    char num[40];
    if (len < sizeof(num) && klen == sizeof(frac) - 1 && !memcmp(key, frac, klen)) {
        snprintf(num, sizeof(num), "%.*s", (int)len, v);
        char *end;
        errno = 0;
        double d = strtod(num, &end);
        if (!*end && !errno && isfinite(d))
            return cli_format_double(d, buf, cap);
    }
    char *raw = strndup(v, len);
    if (!raw)
        return NULL;
    term_text(raw, buf, cap);
    free(raw);
    return buf;
}

static void diff_options(struct text *t, const char *was, const char *now, int *n_changes)
{
    for (const char *l = now; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        size_t klen = strcspn(l, " \n"), nlen, wlen;
        const char *nv = option_value(now, l, klen, &nlen);
        const char *wv = option_value(was, l, klen, &wlen);
        if (nv && (!wv || wlen != nlen || memcmp(nv, wv, nlen))) {
            char a[1024], b[1024];
            if (!(nv = shown(l, klen, nv, nlen, a, sizeof(a))) ||
                (wv && !(wv = shown(l, klen, wv, wlen, b, sizeof(b))))) {
                t->oom = true;
                return;
            }
            add(t, "%s%.*s %s (was %s)", (*n_changes)++ ? "; " : "", (int)klen, l, nv,
                wv ? wv : "not set");
        }
    }
}

/* The first input that differs from the finished dataset's input table. */
static void diff_inputs(struct text *t, const char *out_dir, const struct pt_run_id *now)
{
    char *mp = fs_path_join(out_dir, INGOT_MANIFEST_NAME);
    struct manifest *m = NULL;
    if (!mp || manifest_read(mp, &m)) {
        free(mp);
        return;
    }
    free(mp);
    /* names given now and in the manifest, as term_text shows them */
    char tn[1024], tw[1024];
    size_t n = m->n_inputs < now->n_inputs ? m->n_inputs : now->n_inputs;
    for (size_t i = 0; i <= n; i++) {
        if (i == n) {
            if (m->n_inputs > now->n_inputs)
                add(t, ", first difference: #%zu %s is no longer given", i,
                    term_text(m->inputs[i].name, tw, sizeof(tw)));
            else if (now->n_inputs > m->n_inputs)
                add(t, ", first difference: #%zu %s is new", i,
                    term_text(now->input_names[i], tn, sizeof(tn)));
            break;
        }
        if (strcmp(m->inputs[i].name, now->input_names[i])) {
            add(t, ", first difference: #%zu is %s (was %s)", i,
                term_text(now->input_names[i], tn, sizeof(tn)),
                term_text(m->inputs[i].name, tw, sizeof(tw)));
            break;
        }
        if (m->inputs[i].size != now->input_sizes[i]) {
            add(t, ", first difference: %s has %" PRIu64 " byte%s (had %" PRIu64 ")",
                term_text(now->input_names[i], tn, sizeof(tn)), now->input_sizes[i],
                now->input_sizes[i] == 1 ? "" : "s", m->inputs[i].size);
            break;
        }
    }
    manifest_free(m);
}

/* t as "2026-12-05 09:03:11.123456789 UTC" (nanoseconds: a touch within the
 * same second differs there). */
static const char *time_text(int64_t t, char *buf, size_t len)
{
    int64_t sec = t / 1000000000, ns = t % 1000000000;
    if (ns < 0) {
        ns += 1000000000;
        sec--;
    }
    time_t ts = (time_t)sec;
    struct tm tm;
    char day[32];
    if (!gmtime_r(&ts, &tm) || !strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(day, sizeof(day), "%" PRId64 " s", sec);
    snprintf(buf, len, "%s.%09" PRId64 " UTC", day, ns);
    return buf;
}

/* Inputs of the same names and sizes, another modification time: the first
 * one named (states from before the times were kept have only their hash). */
static void diff_mtimes(struct text *t, const struct pt_state *st, const struct pt_run_id *now,
                        int *n_changes)
{
    add(t, "%san input was modified since the conversion started", (*n_changes)++ ? "; " : "");
    size_t first = now->n_inputs, n_diff = 0;
    if (st->n_mtimes == now->n_inputs && now->input_mtimes)
        for (size_t i = 0; i < now->n_inputs; i++)
            if (st->mtimes[i] != now->input_mtimes[i] && n_diff++ == 0)
                first = i;
    if (!n_diff) {
        add(t, " (a file's modification time differs, its size does not)");
    } else {
        char a[64], b[64], tn[1024];
        add(t, ": %s has the modification time %s (was %s), the same size",
            term_text(now->input_names[first], tn, sizeof(tn)),
            time_text(now->input_mtimes[first], a, sizeof(a)),
            time_text(st->mtimes[first], b, sizeof(b)));
        if (n_diff > 1)
            add(t, " (and %zu more input%s)", n_diff - 1, n_diff == 2 ? "" : "s");
    }
    add(t, ": the finished shards hold the old text");
}

int pt_resume_parts_differ(const struct pt_state *a, const struct pt_state *b, char **out)
{
    struct text what = { 0 };
    int n = 0;
    add(&what, "%s", "");
    if (a->model_hash && b->model_hash && a->model_hash != b->model_hash)
        add(&what, "%sthe model (hash %016" PRIx64 ", was %016" PRIx64 ")", n++ ? "; " : "",
            b->model_hash, a->model_hash);
    if (a->options_text && b->options_text)
        diff_options(&what, a->options_text, b->options_text, &n);
    if (a->inputs_hash && b->inputs_hash && a->inputs_hash != b->inputs_hash)
        add(&what, "%sthe input list (names or sizes: %zu file%s, was %zu)", n++ ? "; " : "",
            b->counts.n_files, b->counts.n_files == 1 ? "" : "s", a->counts.n_files);
    if (what.oom) {
        free(what.s);
        return -ENOMEM;
    }
    *out = what.s;
    return 0;
}

int pt_resume_mismatch(const char *out_dir, const struct pt_state *st,
                       const struct pt_run_id *now)
{
    struct text what = { 0 };
    int n = 0;
    bool settings = true;   /* the model, an option or --part differs (not only the inputs) */
    if (!st->options_text) {
        add(&what, "options, inputs or model (its state comes from an earlier version of "
            "ingot-pretok, which did not record which)");
        n++;
    } else {
        char tm[1024];   /* the --model path, as ingot_spm_load shows it */
        if (st->model_hash != now->model_hash)
            add(&what, "%sthe model: %s (hash %016" PRIx64 ", was %016" PRIx64 ")", n++ ? "; "
                : "", term_text(now->model_path, tm, sizeof(tm)), now->model_hash,
                st->model_hash);
        diff_options(&what, st->options_text, now->options_text, &n);
        settings = n > 0;
        if (st->inputs_hash != now->inputs_hash) {
            add(&what, "%sthe input list (names and sizes): %zu file%s (was %zu file%s)",
                n++ ? "; " : "",
                now->n_inputs, now->n_inputs == 1 ? "" : "s", st->counts.n_files,
                st->counts.n_files == 1 ? "" : "s");
            if (st->done)
                diff_inputs(&what, out_dir, now);
        }
        if (st->inputs_hash == now->inputs_hash && st->mtimes_hash &&
            st->mtimes_hash != now->mtimes_hash)
            diff_mtimes(&what, st, now, &n);
        if (st->part_k != now->part_k || st->part_n != now->part_n) {
            add(&what, "%s--part %u/%u (was %u/%u; 0/0: none)", n++ ? "; " : "", now->part_k,
                now->part_n, st->part_k, st->part_n);
            settings = true;
        }
        if (!n) {
            add(&what, "settings (the options hash differs, but no recorded setting does)");
            settings = true;
        }
    }
    if (what.oom) {
        free(what.s);
        return ingot_oom("the rerun message", what.len + 256);
    }
    uint64_t docs = st->counts.docs[0] + st->counts.docs[1];
    /* --out, and the command line from the state (a name in it of any
     * bytes), as term_text shows them; the latter whole (term_text's text
     * is never longer than what it is given) */
    char to[1024];
    term_text(out_dir, to, sizeof(to));
    const size_t cl = st->command_line ? strlen(st->command_line) + 4 : 0;
    char *tc = cl ? malloc(cl) : NULL;
    if (cl && !tc) {
        free(what.s);
        return ingot_oom("the rerun message", cl);
    }
    int ret;
    if (st->done)
        ret = ingot_fail(INGOT_E_MISMATCH, "%s holds a complete dataset (%zu shard%s, %" PRIu64
                         " document%s) made with other settings: %s. It is complete and was "
                         "left as it is; use it as it is, or convert with the new settings "
                         "into a new --out", to, st->n_shards, st->n_shards == 1 ? "" : "s",
                         docs, docs == 1 ? "" : "s", what.s);
    else if (!settings)   /* its own command is this one: it would fail again */
        ret = ingot_fail(INGOT_E_MISMATCH, "%s holds an unfinished conversion (%zu shard%s so "
                         "far) whose inputs have changed since it started: %s. It was left as "
                         "it is; its finished shards hold the inputs as they were: restore "
                         "them (the same files, sizes and modification times) and run the "
                         "command again to finish it, or convert into a new --out", to,
                         st->n_shards, st->n_shards == 1 ? "" : "s", what.s);
    else
        ret = ingot_fail(INGOT_E_MISMATCH, "%s holds an unfinished conversion (%zu shard%s so "
                         "far) made with other settings: %s. It was left as it is; finish it "
                         "with its own command%s%s, or convert with the new settings into a "
                         "new --out", to, st->n_shards, st->n_shards == 1 ? "" : "s", what.s,
                         tc ? ": " : "",
                         tc ? term_text(st->command_line, tc, cl) : "");
    free(tc);
    free(what.s);
    return ret;
}
