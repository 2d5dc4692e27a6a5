#include "pt_text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cli_num.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "pt_input.h"
#include "pt_producer.h"
#include "skip_reason.h"
#include "pt_worker.h"
#include "term_text.h"

/* --sample-bytes: the documents held, each one's index in the input */
struct held_doc {
    uint64_t idx;
    size_t off, len;        /* in text_ctx.held, the newline included */
};

struct text_ctx {
    const struct pt_opts *o;
    const struct pt_tok_cfg *cfg;
    struct pt_worker w;
    FILE *out;
    uint64_t docs, kept, bytes, skipped;
    const struct pt_inputs *in;
    size_t files_read;          /* inputs reached (--max-bytes stops before the rest) */
    uint64_t damaged;           /* damaged input files (a warning at the end) */
    uint32_t first_damaged;
    int first_reason;
    int err;
    bool write_failed;          /* err is the -errno of a write to out */
    char first_skip[384];   /* "file:line: reason: detail" of the first skip */
    /* --sample-bytes N: documents whose index is a multiple of stride are
     * held; when they pass 2N bytes the stride doubles and every other one
     * goes. One pass, no size estimate, evenly over the whole input. A
     * document longer than N / PT_SAMPLE_SHARE is left out (counted): held,
     * one longer than 2N made the stride double until it alone was left
     * (document 0 is never thinned out), a 100 KB first document of 20,000
     * the whole "sample" of --sample-bytes 10k. */
    uint64_t stride;
    uint64_t too_long, longest;     /* documents left out, the longest's bytes */
    char first_long[384];           /* "file:record" of the first left out */
    struct pt_buf held;
    struct held_doc *hd;
    size_t n_hd, cap_hd;
};

/* The most of --sample-bytes one document may take: 1/8. */
#define PT_SAMPLE_SHARE 8

/* Hold document idx (s, n) for --sample-bytes; thin the sample when it
 * passes twice the wanted size. 0 or -ENOMEM. */
static int hold(struct text_ctx *t, uint64_t idx, const char *s, size_t n)
{
    if (t->n_hd == t->cap_hd) {
        size_t cap = t->cap_hd ? 2 * t->cap_hd : 1024;
        struct held_doc *v = realloc(t->hd, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        t->hd = v;
        t->cap_hd = cap;
    }
    size_t off = t->held.len;
    if (pt_buf_append(&t->held, s, n) || pt_buf_append(&t->held, "\n", 1))
        return -ENOMEM;
    t->hd[t->n_hd++] = (struct held_doc){ .idx = idx, .off = off, .len = n + 1 };
    while (t->held.len > 2 * t->o->sample_bytes && t->n_hd > 1) {
        t->stride *= 2;
        size_t k = 0, at = 0;
        for (size_t i = 0; i < t->n_hd; i++) {
            if (t->hd[i].idx % t->stride)
                continue;
            memmove(t->held.p + at, t->held.p + t->hd[i].off, t->hd[i].len);
            t->hd[k] = (struct held_doc){ .idx = t->hd[i].idx, .off = at, .len = t->hd[i].len };
            at += t->hd[k++].len;
        }
        t->n_hd = k;
        t->held.len = at;
    }
    return 0;
}

/* Remember the first skipped record, for the message of a run that skips
 * every record (a terminal on standard input, a wrong --text-key); through
 * term_text(): it names the file and quotes the record's keys. */
static void note_skip(struct text_ctx *t, const struct pt_batch *b, const struct pt_item *ev)
{
    if (t->first_skip[0] || !skip_reason_is_skip(ev->reason))
        return;
    const char *name = ev->file < t->in->n ? t->in->v[ev->file].path : "?";
    char raw[sizeof(t->first_skip)];
    if (ev->record)
        snprintf(raw, sizeof(raw), "%s:%" PRIu64 ": %s: %.*s", name, ev->record,
                 skip_reason_name(ev->reason), (int)ev->len, b->detail.p + ev->off);
    else
        snprintf(raw, sizeof(raw), "%s: %s: %.*s", name, skip_reason_name(ev->reason),
                 (int)ev->len, b->detail.p + ev->off);
    term_text(raw, t->first_skip, sizeof(t->first_skip));
}

/* Called by the producer with each full batch: handle it right here. */
static int handle(void *arg, struct pt_batch **bp)
{
    struct text_ctx *t = arg;
    struct pt_batch *b = *bp;
    b->n_out = 0;
    for (size_t i = 0; i < b->n_in; i++) {
        const struct pt_item *it = &b->in[i];
        if (it->file < t->in->n && it->file >= t->files_read)
            t->files_read = (size_t)it->file + 1;
        if (it->kind == PT_ITEM_EVENT) {
            t->skipped += skip_reason_is_skip(it->reason);
            if (skip_reason_is_damage(it->reason) && !t->damaged++) {
                t->first_damaged = it->file;
                t->first_reason = it->reason;
            }
            note_skip(t, b, it);
            continue;
        }
        const char *s;
        size_t n;
        int ret = pt_worker_text(t->cfg, &t->w, b, it, &s, &n);
        if (ret < 0) {
            t->err = ret;
            return 1;
        }
        if (ret == 0) {
            t->skipped++;
            if (b->n_out)
                note_skip(t, b, &b->out[b->n_out - 1]);
            continue;
        }
        const uint64_t idx = t->docs++;
        if (t->o->sample_bytes && n + 1 > t->o->sample_bytes / PT_SAMPLE_SHARE) {
            if (!t->too_long++) {
                char raw[sizeof(t->first_long)];
                snprintf(raw, sizeof(raw), "%s:%" PRIu64,
                         it->file < t->in->n ? t->in->v[it->file].path : "?", it->record);
                term_text(raw, t->first_long, sizeof(t->first_long));
            }
            if (n + 1 > t->longest)
                t->longest = n + 1;
            continue;
        }
        if (t->o->sample_bytes) {
            if (idx % t->stride == 0 && (ret = hold(t, idx, s, n))) {
                t->err = ret;
                return 1;
            }
            continue;
        }
        if (idx % t->o->every)
            continue;
        errno = 0;
        if (fwrite(s, 1, n, t->out) != n || fputc('\n', t->out) == EOF) {
            t->err = errno ? -errno : -EIO;
            t->write_failed = true;
            return 1;
        }
        t->kept++;
        t->bytes += n + 1;
        if (t->o->max_bytes && t->bytes >= t->o->max_bytes)
            return 1;
    }
    pt_batch_reset(b);
    return 0;
}

int pt_text(const struct pt_opts *o, FILE *out)
{
    struct pt_inputs in;
    struct pt_json_path path;
    int ret = pt_json_path_init(&path, o->text_key);
    if (ret)
        return ret;
    if ((ret = pt_inputs_expand_stdin(o->inputs, o->n_inputs, NULL, o->stdin_format, &in))) {
        pt_json_path_free(&path);
        return ret;
    }
    if (!o->quiet)
        pt_inputs_print_notes(&in, "ingot-pretok text", stderr);
    if (!in.n) {   /* as convert: a run that reads nothing is not a success */
        pt_inputs_free(&in);
        pt_json_path_free(&path);
        return ingot_fail(INGOT_E_NODATA, "no input file found (directories are searched "
                          "for %s)", pt_input_suffixes);
    }
    struct pt_tok_cfg cfg = { .path = &path, .invalid_utf8_skip = o->invalid_utf8_skip,
                              .bos = -1, .eos = -1 };
    if (o->sample_bytes && (o->every != 1 || o->max_bytes)) {
        pt_inputs_free(&in);
        pt_json_path_free(&path);
        return ingot_fail(INGOT_E_USAGE, "--sample-bytes chooses its own stride and "
                          "size; leave out --every and --max-bytes");
    }
    struct text_ctx t = { .o = o, .cfg = &cfg, .out = out, .stride = 1, .in = &in };
    atomic_int stop;
    atomic_init(&stop, 0);
    struct pt_producer_cfg pc = { .inputs = in.v, .n_inputs = in.n, .txt_doc = o->txt_doc,
                                  .batch_bytes = 1 << 20, .batch_items = 8192,
                                  .max_record = o->max_record, .resume_file = UINT32_MAX,
                                  .stop = &stop };
    struct pt_batch batch = { 0 }, *b = &batch;
    struct pt_producer_stats st = { 0 };
    ret = pt_producer_run(&pc, handle, &t, &b, &st);
    if (ret == 1)
        ret = 0;
    if (!ret && !t.err && o->sample_bytes) {   /* the sample, in input order */
        errno = 0;
        if (t.held.len && fwrite(t.held.p, 1, t.held.len, out) != t.held.len) {
            t.err = errno ? -errno : -EIO;
            t.write_failed = true;
        }
        t.kept = t.n_hd;
        t.bytes = t.held.len;
    }
    if (!ret && !t.err && (t.err = fs_flush(out)))
        t.write_failed = true;
    if (!ret && t.err && t.write_failed)
        ret = ingot_fail(t.err, "standard output: cannot write the text: %s (a full disk "
                         "or a closed pipe?)", strerror(-t.err));
    else if (!ret && t.err)
        ret = ingot_fail(t.err, "out of memory");
    char cap[32], lg[32];   /* --sample-bytes' share, the longest left out */
    cli_human_bytes((double)(o->sample_bytes / PT_SAMPLE_SHARE), cap, sizeof(cap));
    cli_human_bytes((double)t.longest, lg, sizeof(lg));
    if (!ret && !t.kept && t.too_long)
        ret = ingot_fail(INGOT_E_INPUT, "--sample-bytes %" PRIu64 ": every document (%" PRIu64 ") is "
                         "longer than %s, the most one document may take of the sample (1/%d), "
                         "nothing written; the longest has %s: give --sample-bytes at least %d "
                         "times the documents' size", o->sample_bytes, t.too_long, cap, PT_SAMPLE_SHARE, lg,
                         PT_SAMPLE_SHARE);
    if (!ret && !t.kept && t.skipped)
        ret = ingot_fail(INGOT_E_INPUT, "every record was skipped (%" PRIu64 " of them; "
                         "a wrong --text-key or input format?), nothing written; the first: %s",
                         t.skipped, t.first_skip);
    char hb[32], files[96];
    /* --max-bytes ends the reading early: the files it reached ("from 3
     * files" was said after one) */
    if (t.files_read < in.n)
        snprintf(files, sizeof(files), "from the first %zu of %zu files (--max-bytes reached)",
                 t.files_read, in.n);
    else
        snprintf(files, sizeof(files), "from %zu file%s", in.n, in.n == 1 ? "" : "s");
    if (!ret && !o->quiet)
        fprintf(stderr, "ingot-pretok text: %" PRIu64 " of %" PRIu64 " document%s written "
                "(%s%s), %" PRIu64 " record%s skipped, %s\n", t.kept, t.docs,
                t.docs == 1 ? "" : "s", cli_human_bytes((double)t.bytes, hb, sizeof(hb)),
                o->sample_bytes ? ", an even sample of the whole input" : "", t.skipped,
                t.skipped == 1 ? "" : "s", files);
    /* a sample, not a dataset: said (also under --quiet), not failed */
    if (!ret && t.too_long)
        fprintf(stderr, "ingot-pretok text: note: %" PRIu64 " document%s longer than %s (1/%d "
                "of --sample-bytes %" PRIu64 ") left out of the sample, so that no document takes more "
                "than that share of it (the first: %s; the longest: %s)\n", t.too_long,
                t.too_long == 1 ? "" : "s", cap, PT_SAMPLE_SHARE, o->sample_bytes, t.first_long, lg);
    char tp[1024];
    if (!ret && t.damaged)
        fprintf(stderr, "ingot-pretok text: warning: %" PRIu64 " input file%s damaged or "
                "unreadable (%s: %s%s): the text after the damage is not in the output\n",
                t.damaged, t.damaged == 1 ? " is" : "s are",
                term_text(in.v[t.first_damaged].path, tp, sizeof(tp)),
                skip_reason_name(t.first_reason), t.damaged > 1 ? ", ..." : "");
    pt_buf_free(&t.held);
    free(t.hd);
    pt_batch_free(&batch);
    pt_worker_free(&t.w);
    pt_inputs_free(&in);
    pt_json_path_free(&path);
    return ret;
}
