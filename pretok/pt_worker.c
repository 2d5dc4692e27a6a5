#include "pt_worker.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ingot_err.h"
#include "mono_clock.h"
#include "skip_reason.h"
#include "pt_utf8.h"
#include "term_text.h"

static int out_event(struct pt_batch *b, const struct pt_item *it, int reason,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int out_event(struct pt_batch *b, const struct pt_item *it, int reason,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int err = pt_batch_vevent(b, 1, it->record, it->file, reason, fmt, ap);
    va_end(ap);
    return err;
}

/* What a malformed record most likely is, where a file's form explains it
 * (else ""): a carriage return with no line feed after it (old Mac line
 * ends: the whole file was one record, "extra characters after the JSON
 * value"), or a UTF-8 byte order mark opening a line past the first (files
 * with one each joined by cat). */
static const char *malformed_hint(const char *s, size_t n, size_t at)
{
    if (at == 0 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
        return " (a UTF-8 byte order mark opens this line: files joined with cat? remove the "
               "marks past the first line, e.g. sed '1!s/^\\xEF\\xBB\\xBF//')";
    for (const char *r = memchr(s, '\r', n); r; r = memchr(r + 1, '\r', n - (size_t)(r + 1 - s)))
        if ((size_t)(r + 1 - s) < n && (r[1] == '{' || r[1] == '['))
            return " (its lines end in a carriage return alone, as old Mac files do: convert "
                   "them, e.g. tr '\\r' '\\n' < FILE > NEW)";
    return "";
}

int pt_worker_text(const struct pt_tok_cfg *cfg, struct pt_worker *w, struct pt_batch *b,
                   const struct pt_item *it, const char **text, size_t *len)
{
    const char *s = b->data.p + it->off;
    size_t n = (size_t)it->len;
    int ret;
    if (it->kind == PT_ITEM_JSON) {
        struct pt_json_result res;
        if ((ret = pt_json_extract(s, n, cfg->path, &w->text, &res)))
            return ret;
        switch (res.status) {
        case PT_JSON_MALFORMED:
            if ((ret = out_event(b, it, SKIP_R_MALFORMED_JSON, "column %zu: %s%s",
                                 res.err_offset + 1, res.err_what,
                                 malformed_hint(s, n, res.err_offset))))
                return ret;
            return 0;
        case PT_JSON_MISSING: {
            char keys[160];   /* what it has instead: a typo in --text-key shows */
            if ((ret = pt_json_keys(s, n, keys, sizeof(keys))))
                return ret;
            if ((ret = out_event(b, it, SKIP_R_MISSING_TEXT, "no field %s (its fields: %s)",
                                 cfg->path->shown, keys[0] ? keys : "none")))
                return ret;
            return 0;
        }
        case PT_JSON_NOT_STRING:
            if ((ret = out_event(b, it, SKIP_R_TEXT_NOT_STRING, "field %s is not a string",
                                 cfg->path->shown)))
                return ret;
            return 0;
        case PT_JSON_OK:
            break;
        }
        if (res.n_lone_surrogates) {
            if (cfg->invalid_utf8_skip)
                return out_event(b, it, SKIP_R_LONE_SURROGATE,
                                 "%zu lone surrogate escape(s) (\\uD800-\\uDFFF unpaired)",
                                 res.n_lone_surrogates) ? -ENOMEM : 0;
            if ((ret = out_event(b, it, SKIP_R_LONE_SURROGATE_REPLACED,
                                 "%zu lone surrogate escape(s) replaced by U+FFFD",
                                 res.n_lone_surrogates)))
                return ret;
        }
        s = w->text.p;
        n = w->text.len;
    }
    size_t bad_at;
    if (n && !pt_utf8_valid(s, n, &bad_at)) {
        if (cfg->invalid_utf8_skip)
            return out_event(b, it, SKIP_R_INVALID_UTF8, "invalid UTF-8 at byte %zu of the text",
                             bad_at) ? -ENOMEM : 0;
        w->fixed.len = 0;
        if ((ret = pt_buf_reserve(&w->fixed, 3 * n)))
            return ret;
        size_t n_bad;
        w->fixed.len = pt_utf8_repair(s, n, w->fixed.p, &n_bad);
        if ((ret = out_event(b, it, SKIP_R_INVALID_UTF8_REPLACED,
                             "%zu invalid UTF-8 sequence(s) replaced by U+FFFD, first at byte %zu",
                             n_bad, bad_at)))
            return ret;
        s = w->fixed.p;
        n = w->fixed.len;
    }
    if (n && memchr(s, 0, n)) {
        /* Make the text writable before removing NULs in place. */
        if (s != w->fixed.p) {
            w->fixed.len = 0;
            if ((ret = pt_buf_append(&w->fixed, s, n)))
                return ret;
        }
        size_t m = pt_strip_nul(w->fixed.p, n);
        if ((ret = out_event(b, it, SKIP_R_NUL_REMOVED, "%zu NUL character(s) removed", n - m)))
            return ret;
        s = w->fixed.p;
        n = w->fixed.len = m;
    }
    if (!n)
        return out_event(b, it, SKIP_R_EMPTY_TEXT, "empty text") ? -ENOMEM : 0;
    *text = s;
    *len = n;
    return 1;
}

static int reserve_tok(struct pt_batch *b, size_t extra)
{
    if (b->cap_tok - b->n_tok >= extra)
        return 0;
    size_t nc = b->cap_tok ? b->cap_tok : 65536;
    while (nc - b->n_tok < extra)
        nc *= 2;
    uint32_t *t = realloc(b->tok, nc * sizeof(*t));
    if (!t)
        return -ENOMEM;
    b->tok = t;
    b->cap_tok = nc;
    return 0;
}

static int tokenize(const struct pt_tok_cfg *cfg, struct pt_worker *w, struct pt_batch *b,
                    const struct pt_item *it, const char *text, size_t len)
{
    size_t n_ids = 0;
    int ret = 0;
    if (cfg->enc && !w->enc_s) {
        ret = spe_scratch_new(true, &w->enc_s);
        if (!ret)   /* two clock reads per document: the report's split */
            spe_scratch_time(w->enc_s, true);
    }
    if (!ret)
        ret = cfg->enc ? spe_encode(cfg->enc, w->enc_s, text, len, &w->ids, &w->ids_cap, &n_ids)
                       : ingot_spm_encode(cfg->spm, text, len, &w->ids, &w->ids_cap, &n_ids);
    if (ret == -E2BIG)   /* past what the encoder's offsets hold */
        return out_event(b, it, SKIP_R_RECORD_TOO_LARGE, "%zu bytes of text: too long for the "
                         "encoder (at most 2 GiB after normalization)", len);
    if (ret)
        return ret;
    if (!n_ids)
        return out_event(b, it, SKIP_R_EMPTY_TEXT, "no tokens: the model's normalizer leaves "
                         "nothing of this text (whitespace, or characters it drops: invalid "
                         "bytes, controls)");
    size_t total = n_ids + (cfg->bos >= 0) + (cfg->eos >= 0);
    if ((ret = reserve_tok(b, total)))
        return ret;
    struct pt_item doc = { .record = it->record, .off = b->n_tok, .len = total,
                           .file = it->file, .kind = PT_ITEM_DOC, .chain = it->chain };
    uint32_t *t = b->tok + b->n_tok;
    if (cfg->bos >= 0)
        *t++ = (uint32_t)cfg->bos;
    for (size_t i = 0; i < n_ids; i++) {
        if (w->ids[i] >= cfg->vocab_size)
            return ingot_fail(INGOT_E_TOKENIZER, "tokenizer returned id %u outside the vocab (%u)",
                              w->ids[i], cfg->vocab_size);
        t[i] = w->ids[i];
    }
    t += n_ids;
    if (cfg->eos >= 0)
        *t = (uint32_t)cfg->eos;
    if ((ret = pt_batch_push(b, 1, &doc)))
        return ret;
    b->n_tok += total;
    return 0;
}

/* Scratch buffers above this are freed after a document of more than
 * PT_WORKER_TRIM_AFTER bytes: a thread keeps what ordinary documents need
 * (a book of a few MB included), not what its largest one needed (encoding
 * takes 20 to 200 bytes per byte of a document). */
#define PT_WORKER_KEEP_BYTES ((size_t)64 << 20)
#define PT_WORKER_TRIM_AFTER ((uint64_t)1 << 20)

static void trim_buf(struct pt_buf *b)
{
    if (b->cap > PT_WORKER_KEEP_BYTES)
        pt_buf_free(b);
}

static void trim(struct pt_worker *w)
{
    trim_buf(&w->text);
    trim_buf(&w->fixed);
    if (w->ids_cap * sizeof(*w->ids) > PT_WORKER_KEEP_BYTES) {
        free(w->ids);
        w->ids = NULL;
        w->ids_cap = 0;
    }
    spe_scratch_trim(w->enc_s, PT_WORKER_KEEP_BYTES);
}

/* The message of a failed record: file:line first, memory explained. */
static void fail_msg(const struct pt_tok_cfg *cfg, struct pt_batch *b, const struct pt_item *it,
                     int ret)
{
    char where[300], tn[284];   /* the name cut at 280 bytes, as term_text shows it */
    const char *name = cfg->inputs && it->file < cfg->n_inputs ? cfg->inputs[it->file].path
                                                                : NULL;
    if (name)
        snprintf(where, sizeof(where), "%s:%llu", term_text(name, tn, sizeof(tn)),
                 (unsigned long long)it->record);
    else
        snprintf(where, sizeof(where), "input %u, record %llu", it->file,
                 (unsigned long long)it->record);
    int n;
    if (ret == -ENOMEM)
        n = snprintf(b->errmsg, sizeof(b->errmsg), "%s: out of memory tokenizing this record "
                     "(%llu bytes; %.200s): encoding holds 20 to 200 bytes per byte of a "
                     "document, in each thread; skip such records with a smaller "
                     "--max-record-bytes (now %llu), or use fewer --threads",
                     where, (unsigned long long)it->len, ingot_errmsg_for(ret),
                     (unsigned long long)cfg->max_record);
    else
        n = snprintf(b->errmsg, sizeof(b->errmsg), "%s: %.600s", where, ingot_errmsg_for(ret));
    (void)n;   /* a message cut at sizeof(errmsg) still names the record */
}

void pt_worker_run(const struct pt_tok_cfg *cfg, struct pt_worker *w, struct pt_batch *b)
{
    int ret = 0;
    double tp = 0, tt = 0;
    uint64_t tb = 0;
    const struct pt_item *it = NULL;
    for (size_t i = 0; i < b->n_in && !ret; i++) {
        it = &b->in[i];
        if (it->kind == PT_ITEM_EVENT) {
            ret = pt_batch_push(b, 1, it);
            continue;
        }
        const char *text;
        size_t len;
        double a = mono_now();
        ret = pt_worker_text(cfg, w, b, it, &text, &len);
        double c = mono_now();
        tp += c - a;
        if (ret == 1) {
            tb += len;
            ret = tokenize(cfg, w, b, it, text, len);
            tt += mono_now() - c;
        }
        if (it->len > PT_WORKER_TRIM_AFTER)
            trim(w);
    }
    w->parse_s += tp;
    w->tokenize_s += tt;
    w->text_bytes += tb;
    if (ret < 0) {
        b->err = ret;
        fail_msg(cfg, b, it, ret);
    }
}

void pt_worker_free(struct pt_worker *w)
{
    pt_buf_free(&w->text);
    pt_buf_free(&w->fixed);
    free(w->ids);
    w->ids = NULL;
    w->ids_cap = 0;
    spe_scratch_free(w->enc_s);
    w->enc_s = NULL;
}
