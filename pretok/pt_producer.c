/* Producer: chunks -> (zstd or gzip) -> lines -> records -> batches. A record that
 * straddles chunks is completed in `carry`; records that fit in one chunk
 * are copied straight from it into the batch. */
#include "pt_producer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "ingot_err.h"
#include "mono_clock.h"
#include "pt_hooks.h"
#include "pt_reader.h"
#include "ingot_hash.h"
#include "skip_reason.h"
#include "pt_split.h"
#include "pt_state.h"
#include "term_text.h"

enum { COMP_UNKNOWN, COMP_PLAIN, COMP_ZSTD, COMP_GZIP };
enum { CHUNK_SIZE = 1 << 20, READ_DEPTH = 8 };
#define CARRY_KEEP_BYTES ((size_t)8 << 20)
/* The largest zstd window decoded: 128 MiB, zstd's own default (the zstd
 * program refuses more without --long=N or --memory), set explicitly so
 * that a tiny file declaring a 2 GiB window costs nothing. */
#define PT_ZSTD_WINDOW_LOG_MAX 27

struct prod {
    const struct pt_producer_cfg *cfg;
    pt_emit_fn emit;
    void *ctx;
    struct pt_batch *b;
    struct pt_producer_stats *st;
    int stop_ret;           /* nonzero once emit asked to stop */
    uint64_t progress;      /* input bytes of the chunks done */
    uint64_t chunk_done;    /* bytes of the current chunk consumed so far */
    const char *chunk_data; /* the current chunk (plain files) */

    /* the file being read */
    const struct pt_input *in;
    int comp;
    bool dead;              /* a fatal problem was reported; ignore the rest */
    bool crlf_seen;
    bool skip_line;         /* inside an oversized line: drop to its end */
    bool doc_discard;       /* text modes: the open document is dropped */
    uint64_t line;          /* lines completed */
    uint64_t text_len;      /* text bytes seen */
    uint64_t raw_len;       /* bytes of the file read (compressed ones for .zst, .gz) */
    size_t zret;            /* last ZSTD_decompressStream() result */
    uint64_t zframe_start;  /* compressed offset of the zstd frame being decoded */
    uint64_t zframe_line;   /* lines completed before it */
    struct pt_buf carry;
    struct pt_buf doc;      /* text modes: the document being built */
    bool doc_open;
    bool doc_seen;          /* text document modes: a line with text in this file */
    char *head;             /* standard input's first PT_STDIN_HEAD bytes of text */
    size_t head_len;
    bool head_done;         /* its fingerprint is taken */
    uint64_t chain;         /* its records chained so far (pt_item.chain) */
    bool chain_checked;     /* ... compared with the interrupted run's */
    uint64_t doc_start;
    uint64_t doc_blank;     /* blank lines pending inside a file document */

    ZSTD_DCtx *zd;
    char *zout;
    size_t zout_cap;
    z_stream gz;            /* gzip members (inflateInit2 with 16 + MAX_WBITS) */
    bool gz_ready;          /* gz was initialised */
    bool gz_member_open;    /* inside a gzip member (its end not yet seen) */
    uint64_t gz_member_start;   /* compressed offset of the open member */
    uint64_t gz_members;    /* members read whole */
};

static bool before_resume(const struct prod *p, uint64_t record)
{
    return p->in->index == p->cfg->resume_file && record < p->cfg->resume_record;
}

/* A resumed --val-fraction run: this document's split has it in a finished
 * shard already (the writer would drop it; it is not counted twice either,
 * as everything before a persisted position was counted by the run that
 * wrote it). */
static bool in_finished_shard(const struct prod *p, uint64_t record)
{
    const struct pt_producer_cfg *c = p->cfg;
    if (!c->skip_by_split)
        return false;
    uint32_t f = p->in->index;
    uint32_t s = pt_split_by_hash(f, record, c->val_threshold);
    return f < c->skip[s].file || (f == c->skip[s].file && record < c->skip[s].record);
}

/* Hand the batch over when full. Returns 0 or -ENOMEM; a stop request is
 * remembered in stop_ret. */
static int maybe_emit(struct prod *p, bool force)
{
    struct pt_batch *b = p->b;
    if (!b->n_in || p->stop_ret)
        return 0;
    if (!force && b->data.len < p->cfg->batch_bytes && b->n_in < p->cfg->batch_items)
        return 0;
    b->in_bytes_end = p->progress + p->chunk_done;
    double t0 = mono_now();
    p->stop_ret = p->emit(p->ctx, &p->b);
    p->st->handoff_s += mono_now() - t0;
    return 0;
}

static int event(struct prod *p, int reason, uint64_t record, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int event(struct prod *p, int reason, uint64_t record, const char *fmt, ...)
{
    /* Inside a text document the document's first line is its position, so
     * that positions never go backwards in the stream. */
    if (p->doc_open && record > p->doc_start)
        record = p->doc_start;
    if (before_resume(p, record))
        return 0;
    va_list ap;
    va_start(ap, fmt);
    int err = pt_batch_vevent(p->b, 0, record, p->in->index, reason, fmt, ap);
    va_end(ap);
    if (err)
        return err;
    return maybe_emit(p, false);
}

/* A resume's standard input whose records differ from the interrupted
 * run's up to its last finished shard (at record `at`). */
static int stream_differs(uint64_t at)
{
    return ingot_fail(INGOT_E_MISMATCH, "standard input is not the stream the interrupted run "
                      "read: its records up to line %llu differ (its start matched); the "
                      "finished shards are kept; pipe the same data again to resume (or "
                      "convert into a new --out)", (unsigned long long)at);
}

/* Chain standard input's record rec (every one, also those a resume drops
 * unread): a resumed stream must reproduce the chain at the interrupted
 * run's last finished shard, since its first 64 KiB (stdin_head) do not
 * tell `cat a b` from `cat a c`. */
static int chain_record(struct prod *p, uint64_t rec, const char *s, size_t len)
{
    const uint64_t v[3] = { p->chain, rec, ingot_xxh3(s, len) };
    p->chain = ingot_xxh3(v, sizeof(v));
    const struct pt_producer_cfg *c = p->cfg;
    if (!c->stdin_chain_record || p->chain_checked || rec < c->stdin_chain_record)
        return 0;
    p->chain_checked = true;
    return rec == c->stdin_chain_record && p->chain == c->stdin_chain
               ? 0 : stream_differs(c->stdin_chain_record);
}

static int record(struct prod *p, int kind, uint64_t rec, const char *s, size_t len)
{
    int ret;
    if (p->in->is_stdin && (ret = chain_record(p, rec, s, len)))
        return ret;
    if (before_resume(p, rec) || in_finished_shard(p, rec))
        return 0;
    struct pt_batch *b = p->b;
    struct pt_item it = { .record = rec, .off = b->data.len, .len = len,
                          .file = p->in->index, .kind = (uint16_t)kind,
                          .chain = p->in->is_stdin ? p->chain : 0 };
    if (pt_buf_append(&b->data, s, len) || pt_batch_push(b, 0, &it))
        return -ENOMEM;
    return maybe_emit(p, false);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
            return false;
    return true;
}

static int flush_doc(struct prod *p)
{
    int ret = 0;
    if (p->doc_open && !p->doc_discard)
        ret = record(p, PT_ITEM_TEXT, p->doc_start, p->doc.p, p->doc.len);
    p->doc_open = false;
    p->doc_discard = false;
    p->doc.len = 0;
    if (p->doc.cap > CARRY_KEEP_BYTES)
        pt_buf_free(&p->doc);
    p->doc_blank = 0;
    return ret;
}

/* One complete line (without its '\n'), line number p->line. */
static int line(struct prod *p, const char *s, size_t n)
{
    uint64_t ln = p->line;
    int ret;
    if (n && s[n - 1] == '\r') {
        n--;
        if (!p->crlf_seen) {
            p->crlf_seen = true;
            if ((ret = event(p, SKIP_R_CRLF_LINE, ln, "CRLF line ends (first at this line)")))
                return ret;
        }
    }
    if (ln == 1 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
        s += 3;
        n -= 3;
        if ((ret = event(p, SKIP_R_BOM_REMOVED, ln, "UTF-8 byte order mark removed")))
            return ret;
    }
    bool is_blank = !n || ((s[0] == ' ' || s[0] == '\t' || s[0] == '\r') && blank(s, n));
    if (p->in->format == PT_FMT_JSONL || p->cfg->txt_doc == PT_TXT_LINE) {
        if (is_blank)
            return event(p, SKIP_R_BLANK_LINE, ln, "blank line");
        return record(p, p->in->format == PT_FMT_JSONL ? PT_ITEM_JSON : PT_ITEM_TEXT, ln, s, n);
    }
    /* Text documents made of lines. */
    if (is_blank) {
        if (p->cfg->txt_doc == PT_TXT_PARAGRAPH)
            return flush_doc(p);
        if (p->doc_open)
            p->doc_blank++;
        return 0;
    }
    if (!p->doc_open) {
        p->doc_open = p->doc_seen = true;
        p->doc_start = ln;
        p->doc.len = 0;
    }
    if (p->doc_discard)
        return 0;
    uint64_t need = p->doc.len + (p->doc.len ? p->doc_blank + 1 : 0) + n;
    if (need > p->cfg->max_record) {
        p->doc_discard = true;
        return event(p, SKIP_R_RECORD_TOO_LARGE, p->doc_start,
                     "document longer than %llu byte%s (--max-record-bytes)",
                     (unsigned long long)p->cfg->max_record,
                     p->cfg->max_record == 1 ? "" : "s");
    }
    if (p->doc.len) {
        for (uint64_t k = 0; k <= p->doc_blank; k++)
            if (pt_buf_append(&p->doc, "\n", 1))
                return -ENOMEM;
    }
    p->doc_blank = 0;
    if (pt_buf_append(&p->doc, s, n))
        return -ENOMEM;
    return 0;
}

static bool line_records(const struct prod *p)
{
    return p->in->format == PT_FMT_JSONL || p->cfg->txt_doc == PT_TXT_LINE;
}

/* The line being assembled outgrew max_record: drop it (and in the text
 * modes the document it belongs to). */
static int oversized_line(struct prod *p)
{
    p->skip_line = true;
    pt_buf_free(&p->carry);     /* it held up to max_record bytes */
    if (line_records(p))
        return event(p, SKIP_R_RECORD_TOO_LARGE, p->line + 1,
                     "line longer than %llu byte%s (--max-record-bytes)",
                     (unsigned long long)p->cfg->max_record,
                     p->cfg->max_record == 1 ? "" : "s");
    if (!p->doc_open) {
        /* a document, if skipped: not also "only blank lines" at the end */
        p->doc_open = p->doc_seen = true;
        p->doc_start = p->line + 1;
        p->doc.len = 0;
    }
    if (p->doc_discard)
        return 0;
    p->doc_discard = true;
    return event(p, SKIP_R_RECORD_TOO_LARGE, p->doc_start,
                 "document longer than %llu byte%s (--max-record-bytes)",
                 (unsigned long long)p->cfg->max_record, p->cfg->max_record == 1 ? "" : "s");
}

/* Standard input's fingerprint, once its head is read (or the stream
 * ended): on the batch in hand for the writer's state, and in a resume
 * checked against the interrupted run's. */
static int head_finish(struct prod *p)
{
    if (p->head_done)
        return 0;
    p->head_done = true;
    uint64_t h = ingot_xxh3(p->head ? p->head : "", p->head_len);
    p->b->head_len = p->head_len;
    p->b->head_hash = h;
    const struct pt_producer_cfg *c = p->cfg;
    if (!c->stdin_head_len || (c->stdin_head_len == p->head_len && c->stdin_head_hash == h))
        return 0;
    return ingot_fail(INGOT_E_MISMATCH, "standard input is not the stream the interrupted run "
                      "read: its first %llu bytes of text differ (%llu bytes read now); the "
                      "finished shards are kept; pipe the same data again to resume (or "
                      "convert into a new --out)", (unsigned long long)c->stdin_head_len,
                      (unsigned long long)p->head_len);
}

static int head_take(struct prod *p, const char *s, size_t n)
{
    if (!p->in->is_stdin || p->head_done)
        return 0;
    if (!p->head && !(p->head = malloc(PT_STDIN_HEAD)))
        return -ENOMEM;
    size_t take = n < PT_STDIN_HEAD - p->head_len ? n : PT_STDIN_HEAD - p->head_len;
    memcpy(p->head + p->head_len, s, take);
    p->head_len += take;
    return p->head_len == PT_STDIN_HEAD ? head_finish(p) : 0;
}

/* The first bytes of a file's text: 0xFF or 0xFE begin no UTF-8 text, but
 * a UTF-16 or UTF-32 one (its byte order mark). Read as UTF-8, a UTF-16
 * text file became its ASCII letters with the NULs between them removed and
 * every other character a U+FFFD, "repaired, nothing lost", exit 0; a UTF-16
 * JSON Lines file "malformed_json: not JSON" on every line. The file is
 * refused whole, saying what it is and how to convert it. */
static int wide_text(struct prod *p, const unsigned char *s, size_t n)
{
    const char *enc = NULL;
    if (n >= 4 && !memcmp(s, "\xFF\xFE\0\0", 4))
        enc = "UTF-32LE";
    else if (n >= 4 && !memcmp(s, "\0\0\xFE\xFF", 4))
        enc = "UTF-32BE";
    else if (n >= 2 && s[0] == 0xFF && s[1] == 0xFE)
        enc = "UTF-16LE";
    else if (n >= 2 && s[0] == 0xFE && s[1] == 0xFF)
        enc = "UTF-16BE";
    if (!enc)
        return 0;
    p->dead = true;
    /* iconv's UTF-16 and UTF-32 read the mark and drop it */
    return event(p, SKIP_R_UNREADABLE_FILE, 0, "%s text (it starts with that byte order mark), "
                 "not UTF-8, the only encoding read; file skipped; convert it: iconv -f UTF-%c%c "
                 "-t UTF-8 FILE > NEW (and name NEW as input)", enc, enc[4], enc[5]);
}

/* Split text bytes into lines; keeps a partial last line in carry. */
static int split(struct prod *p, const char *s, size_t n)
{
    int ret;
    if ((ret = head_take(p, s, n)))
        return ret;
    if (p->text_len == 0 && ((ret = wide_text(p, (const unsigned char *)s, n)) || p->dead))
        return ret;
    p->text_len += n;
    p->st->bytes_text += n;
    const char *end = s + n;
    while (s < end && !p->dead) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl) {
            if (p->skip_line)
                return 0;
            if (p->carry.len + (size_t)(end - s) > p->cfg->max_record)
                return oversized_line(p);
            return pt_buf_append(&p->carry, s, (size_t)(end - s));
        }
        if (!p->skip_line && p->carry.len + (size_t)(nl - s) > p->cfg->max_record &&
            (ret = oversized_line(p)))
            return ret;
        p->line++;
        if (p->comp == COMP_PLAIN)
            p->chunk_done = (uint64_t)(nl + 1 - p->chunk_data);
        if (p->skip_line) {
            p->skip_line = false;   /* the oversized line ends here */
            pt_buf_free(&p->carry);
        } else if (p->carry.len) {
            if ((ret = pt_buf_append(&p->carry, s, (size_t)(nl - s))))
                return ret;
            ret = line(p, p->carry.p, p->carry.len);
            p->carry.len = 0;
            if (p->carry.cap > CARRY_KEEP_BYTES)
                pt_buf_free(&p->carry);     /* a huge line: not kept for the rest of the run */
            if (ret)
                return ret;
        } else if ((ret = line(p, s, (size_t)(nl - s)))) {
            return ret;
        }
        s = nl + 1;
    }
    return 0;
}

static bool zstd_magic(const unsigned char *d, size_t n)
{
    if (n < 4)
        return false;
    uint32_t m = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
                 (uint32_t)d[3] << 24;
    return m == 0xFD2FB528u || (m & 0xFFFFFFF0u) == 0x184D2A50u;
}

static bool gzip_magic(const unsigned char *d, size_t n)
{
    return n >= 2 && d[0] == 0x1f && d[1] == 0x8b;
}

static void begin_file(struct prod *p, const struct pt_input *in)
{
    p->in = in;
    p->comp = COMP_UNKNOWN;
    p->dead = p->crlf_seen = p->skip_line = p->doc_discard = false;
    p->line = p->text_len = p->raw_len = 0;
    p->zret = 0;
    p->zframe_start = p->zframe_line = 0;
    p->gz_member_open = false;
    p->gz_member_start = p->gz_members = 0;
    p->carry.len = 0;
    p->doc.len = 0;
    p->doc_open = p->doc_seen = false;
    p->doc_blank = 0;
}

/* Bytes after the last whole gzip member that are not one: what they are,
 * where they start, and how to keep the members before them. end is the
 * file's size where known (0: standard input). */
static int gzip_trailing(struct prod *p, uint64_t at, uint64_t end, const char *what)
{
    char n[40] = "";
    if (end > at)
        snprintf(n, sizeof(n), "%llu byte%s, ", (unsigned long long)(end - at),
                 end - at == 1 ? "" : "s");
    p->dead = true;
    return event(p, SKIP_R_CORRUPT_GZIP, p->line + 1,
                 "gzip: trailing garbage from compressed byte %llu on (%safter %llu whole "
                 "member%s): %s; if nothing is missing, keep the members: head -c %llu FILE "
                 "> FIXED.gz", (unsigned long long)at, n, (unsigned long long)p->gz_members,
                 p->gz_members == 1 ? "" : "s", what, (unsigned long long)at);
}

/* gzip (RFC 1952), several members one after the other as gzip -c a b and
 * Dolma's files have them; bytes after a member that are not another
 * member's header are an error, as gzip -d says "trailing garbage". */
static int feed_gzip(struct prod *p, const struct pt_chunk *c)
{
    z_stream *z = &p->gz;
    z->next_in = (Bytef *)c->data;
    z->avail_in = (uInt)c->len;
    bool out_full = false;      /* inflate may hold more output for these bytes */
    while (z->avail_in > 0 || out_full) {
        if (!p->gz_member_open) {
            /* one byte can be the start of a magic split between chunks */
            const uint64_t at = c->offset + (c->len - z->avail_in);
            if (z->avail_in >= 2 ? !gzip_magic(z->next_in, z->avail_in)
                                 : z->next_in[0] != 0x1f)
                return gzip_trailing(p, at, c->file_size, "not gzip");
            p->gz_member_start = at;
            int zr = p->gz_ready ? inflateReset2(z, 16 + MAX_WBITS)
                                 : inflateInit2(z, 16 + MAX_WBITS);
            if (zr != Z_OK)
                return zr == Z_MEM_ERROR ? -ENOMEM
                                         : ingot_fail(-EINVAL, "zlib inflateInit2 failed (%d)", zr);
            p->gz_ready = true;
            p->gz_member_open = true;
        }
        z->next_out = (Bytef *)p->zout;
        z->avail_out = (uInt)p->zout_cap;
        double t0 = mono_now();
        int zr = inflate(z, Z_NO_FLUSH);
        double t1 = mono_now();
        p->st->decompress_s += t1 - t0;
        if (zr == Z_MEM_ERROR)
            return -ENOMEM;
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
            p->dead = true;
            /* where inflate stopped, not the start of this 1 MB chunk (a
             * small file's every error read "from offset 0 on") */
            return event(p, SKIP_R_CORRUPT_GZIP, p->line + 1,
                         "gzip: %s (near compressed byte %llu); rest of the file skipped",
                         z->msg ? z->msg : "corrupt data",
                         (unsigned long long)(c->offset + (c->len - z->avail_in)));
        }
        if (zr == Z_STREAM_END) {
            p->gz_member_open = false;
            p->gz_members++;
        }
        p->chunk_done = c->len - z->avail_in;
        size_t produced = p->zout_cap - z->avail_out;
        double h0 = p->st->handoff_s;
        int ret = split(p, p->zout, produced);
        p->st->split_s += mono_now() - t1 - (p->st->handoff_s - h0);
        if (ret || p->dead)
            return ret;
        out_full = z->avail_out == 0 && zr != Z_STREAM_END;
        if (zr == Z_BUF_ERROR && !produced)
            break;      /* needs the next chunk */
    }
    return 0;
}

static int feed(struct prod *p, const struct pt_chunk *c)
{
    if (p->comp == COMP_UNKNOWN) {
        if (zstd_magic((const unsigned char *)c->data, c->len)) {
            p->comp = COMP_ZSTD;
            ZSTD_DCtx_reset(p->zd, ZSTD_reset_session_only);
        } else if (gzip_magic((const unsigned char *)c->data, c->len)) {
            p->comp = COMP_GZIP;
        } else if (p->in->name_gz && c->len) {
            p->dead = true;
            return event(p, SKIP_R_NOT_GZIP, 0,
                         "named .gz but is not gzip-compressed (no gzip magic); file skipped");
        } else if (p->in->name_zst && c->len) {
            p->dead = true;
            return event(p, SKIP_R_NOT_ZSTD, 0,
                         "named .zst but is not zstd-compressed (no zstd magic); file skipped");
        } else {
            p->comp = COMP_PLAIN;
        }
    }
    if (p->comp == COMP_PLAIN) {
        p->chunk_data = c->data;
        double t0 = mono_now(), h0 = p->st->handoff_s;
        int ret = split(p, c->data, c->len);
        p->st->split_s += mono_now() - t0 - (p->st->handoff_s - h0);
        return ret;
    }
    if (p->comp == COMP_GZIP)
        return feed_gzip(p, c);
    ZSTD_inBuffer zin = { c->data, c->len, 0 };
    ZSTD_outBuffer zout;
    do {
        zout = (ZSTD_outBuffer){ p->zout, p->zout_cap, 0 };
        double t0 = mono_now();
        size_t r = ZSTD_decompressStream(p->zd, &zout, &zin);
        double t1 = mono_now();
        p->st->decompress_s += t1 - t0;
        if (ZSTD_isError(r) && ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge) {
            /* not damage: a frame made with zstd --long=28..31 or --ultra,
             * whose window the decoder's cap (zstd's own default) refuses */
            p->dead = true;
            return event(p, SKIP_R_CORRUPT_ZSTD, p->line + 1,
                         "zstd: a frame needs a window over the %u MiB this program decodes "
                         "(made with zstd --long); rest of the file skipped; pipe it in: "
                         "zstd -dc --long=31 FILE | ingot-pretok ... -",
                         1u << (PT_ZSTD_WINDOW_LOG_MAX - 20));
        }
        if (ZSTD_isError(r) && ZSTD_getErrorCode(r) == ZSTD_error_dictionary_wrong) {
            /* not damage either: zstd -D DICT made it ("Dictionary mismatch",
             * "damaged ... get the file again" before) */
            char id[48] = "";
            unsigned dict = p->zframe_start >= c->offset
                                ? ZSTD_getDictID_fromFrame(c->data + (p->zframe_start - c->offset),
                                                           c->len - (p->zframe_start - c->offset))
                                : 0;
            if (dict)
                snprintf(id, sizeof(id), " (dictionary id %u)", dict);
            p->dead = true;
            return event(p, SKIP_R_CORRUPT_ZSTD, p->line + 1,
                         "zstd: the frame from compressed byte %llu was compressed with a "
                         "dictionary%s, which this program does not take; rest of the file "
                         "skipped; pipe it in: zstd -dc -D DICT FILE | ingot-pretok ... -",
                         (unsigned long long)p->zframe_start, id);
        }
        if (ZSTD_isError(r) && ZSTD_getErrorCode(r) == ZSTD_error_checksum_wrong) {
            /* checked at the frame's end, after its lines were handed on */
            char kept[96] = "";
            if (p->line > p->zframe_line)
                snprintf(kept, sizeof(kept), "; its lines %llu-%llu were kept and may be wrong",
                         (unsigned long long)p->zframe_line + 1, (unsigned long long)p->line);
            p->dead = true;
            return event(p, SKIP_R_CORRUPT_ZSTD, p->line + 1,
                         "zstd: content checksum mismatch: the frame from compressed byte %llu "
                         "is damaged somewhere (zstd -t FILE)%s; the rest is skipped; get the "
                         "file again", (unsigned long long)p->zframe_start, kept);
        }
        if (ZSTD_isError(r)) {
            /* zin.pos is where this call began: the damage is in the frame,
             * found on reading up to the end of this chunk */
            p->dead = true;
            return event(p, SKIP_R_CORRUPT_ZSTD, p->line + 1,
                         "zstd: %s (in the frame from compressed byte %llu, found reading bytes "
                         "%llu-%llu); rest of the file skipped", ZSTD_getErrorName(r),
                         (unsigned long long)p->zframe_start,
                         (unsigned long long)(c->offset + zin.pos),
                         (unsigned long long)(c->offset + c->len));
        }
        p->zret = r;
        p->chunk_done = zin.pos;
        double h0 = p->st->handoff_s;
        int ret = split(p, p->zout, zout.pos);
        p->st->split_s += mono_now() - t1 - (p->st->handoff_s - h0);
        if (ret || p->dead)
            return ret;
        if (r == 0) {   /* a frame ended (and was flushed): the next starts here */
            p->zframe_start = c->offset + zin.pos;
            p->zframe_line = p->line;
        }
    } while (zin.pos < zin.size || zout.pos == zout.size);
    return 0;
}

static int end_file(struct prod *p)
{
    int ret = 0;
    if (p->dead)
        return 0;
    if (p->comp == COMP_GZIP && p->gz_member_open && p->gz_members && !p->gz.total_out)
        return gzip_trailing(p, p->gz_member_start, p->raw_len,
                             "no data (or a member cut short)");
    if (p->comp == COMP_GZIP && p->gz_member_open) {
        p->carry.len = 0;
        p->doc_open = false;
        return event(p, SKIP_R_TRUNCATED_GZIP, p->line + 1,
                     "gzip stream ends inside a member after %llu compressed bytes "
                     "(truncated file); the partial record at its end is skipped",
                     (unsigned long long)p->raw_len);
    }
    if (p->comp == COMP_ZSTD && p->zret != 0) {
        p->carry.len = 0;
        p->doc_open = false;
        return event(p, SKIP_R_TRUNCATED_ZSTD, p->line + 1,
                     "zstd stream ends inside a frame after %llu compressed bytes "
                     "(truncated file); the partial record at its end is skipped",
                     (unsigned long long)p->raw_len);
    }
    /* No byte at all in a file named .zst or .gz: zstd -d and gzip -d say
     * "unexpected end of file" (a download that never started), not an
     * empty text. */
    if (p->raw_len == 0 && (p->in->name_zst || p->in->name_gz))
        return event(p, p->in->name_zst ? SKIP_R_TRUNCATED_ZSTD : SKIP_R_TRUNCATED_GZIP, 0,
                     "no bytes: a %s file holds at least a header (truncated file)",
                     p->in->name_zst ? "zstd" : "gzip");
    if (p->text_len == 0)
        return event(p, SKIP_R_EMPTY_FILE, 0, "empty file");
    if (p->carry.len || p->skip_line) {
        p->line++;
        if ((ret = event(p, SKIP_R_NO_FINAL_NEWLINE, p->line, "last line has no newline")))
            return ret;
        if (!p->skip_line && (ret = line(p, p->carry.p, p->carry.len)))
            return ret;
        p->skip_line = false;
        p->carry.len = 0;
    }
    if (p->in->format == PT_FMT_TEXT && p->cfg->txt_doc != PT_TXT_LINE) {
        if ((ret = flush_doc(p)))
            return ret;
        /* bytes, but only blank lines: no document, said (it was dropped
         * without a count, and a corpus of such files ended with "see the
         * skipped records above" above nothing) */
        if (!p->doc_seen)
            ret = event(p, SKIP_R_EMPTY_TEXT, 1, "only blank lines (whitespace): no document");
    }
    return ret;
}

/* The file is not the one listed and read whole: it changed between the
 * listing (whose size and time the state and the manifest keep) and its
 * last read, or during the reads (c: its eof chunk). A file still being
 * written (a download, a writer appending) was read up to some point that
 * may cut its last line; one rewritten in place may mix two versions. */
static bool changed_file(const struct pt_input *in, const struct pt_chunk *c)
{
    return c->changed ||
           (in->mtime_ns && (c->mtime_ns != in->mtime_ns || c->file_size != in->size));
}

/* Keep the records read up to the last whole line before the end; the
 * line (or text document) open there is dropped, since the end may cut it;
 * the file counts as damaged, so the run does not end "done" without a
 * word (it read a 2000-line prefix of a 4000-line file with exit 0). */
static int file_changed(struct prod *p, const struct pt_chunk *c)
{
    p->dead = true;
    uint64_t kept = p->doc_open ? p->doc_start - 1 : p->line;
    int ret = event(p, SKIP_R_UNREADABLE_FILE, p->line + 1,
                    "changed while read (%llu bytes when listed, %llu at open, %llu now%s): "
                    "still being written or replaced? Kept up to line %llu, maybe mixed; "
                    "convert into a new --out once it stops changing",
                    (unsigned long long)p->in->size, (unsigned long long)c->file_size,
                    (unsigned long long)c->size_now,
                    c->mtime_now != p->in->mtime_ns ? "; modified" : "",
                    (unsigned long long)kept);
    p->carry.len = 0;
    p->skip_line = false;
    p->doc_open = p->doc_discard = false;
    p->doc.len = 0;
    return ret;
}

/* A failed open or read that says nothing about the file: the process ran
 * out of descriptors or memory. */
static bool process_limit(int err)
{
    return err == -EMFILE || err == -ENFILE || err == -ENOMEM;
}

int pt_producer_run(const struct pt_producer_cfg *cfg, pt_emit_fn emit, void *ctx,
                    struct pt_batch **bp, struct pt_producer_stats *st)
{
    struct prod p = { .cfg = cfg, .emit = emit, .ctx = ctx, .b = *bp, .st = st,
                      .progress = cfg->bytes_before };
    pt_reader *r = NULL;
    struct pt_reader_file *files = calloc(cfg->n_inputs ? cfg->n_inputs : 1, sizeof(*files));
    int ret = -ENOMEM;
    bool named = false;     /* a message for ret is recorded already */
    p.zd = ZSTD_createDCtx();
    if (p.zd && ZSTD_isError(ZSTD_DCtx_setParameter(p.zd, ZSTD_d_windowLogMax,
                                                     PT_ZSTD_WINDOW_LOG_MAX))) {
        ret = ingot_fail(-EINVAL, "zstd: cannot set the window limit");
        goto out;
    }
    p.zout_cap = ZSTD_DStreamOutSize();
    p.zout = malloc(p.zout_cap);
    if (!files || !p.zd || !p.zout)
        goto out;
    for (size_t i = 0; i < cfg->n_inputs; i++) {
        files[i].path = cfg->inputs[i].path;
        files[i].is_stdin = cfg->inputs[i].is_stdin;
    }
    /* Test hook: tiny reads make every record straddle chunk boundaries. */
    long hook_chunk = pt_hook_pos("INGOT_PRETOK_TEST_CHUNK_BYTES");
    size_t chunk = hook_chunk ? (size_t)hook_chunk : CHUNK_SIZE;
    if ((ret = pt_reader_open(files, cfg->n_inputs, chunk, READ_DEPTH, &r)))
        goto out;
    st->uring = pt_reader_uses_uring(r);

    size_t cur = (size_t)-1;
    struct pt_chunk c;
    while (!p.stop_ret && !atomic_load(cfg->stop)) {
        ret = pt_reader_next(r, &c);
        if (ret < 0) {
            ingot_fail(ret, "reading the inputs: io_uring failed: %s", strerror(-ret));
            goto out;
        }
        if (ret == 0)
            break;
        if (c.file != cur) {
            cur = c.file;
            begin_file(&p, &cfg->inputs[cur]);
        }
        st->bytes_read += c.len;
        p.raw_len += c.len;
        p.chunk_done = 0;
        ret = 0;
        if (c.err && c.not_regular && !p.dead && cfg->inputs[cur].is_stdin) {
            p.dead = true;
            ret = event(&p, SKIP_R_NOT_REGULAR_FILE, 0, "standard input is a terminal or a "
                        "device, not a pipe or a file; skipped unread (pipe the corpus in: "
                        "zstdcat x.jsonl.zst | ingot-pretok ... -)");
        } else if (c.err && c.not_regular && !p.dead) {
            p.dead = true;
            ret = event(&p, SKIP_R_NOT_REGULAR_FILE, 0, "not a regular file (a FIFO, socket, "
                        "device or directory); skipped unread (a pipe, such as <(zstdcat "
                        "x.zst), is read as standard input: CMD | ingot-pretok ... -)");
        } else if (c.err && !p.dead && process_limit(c.err)) {
            /* the process, not the file: skipping it would lose a readable file */
            struct rlimit rl = { 0, 0 };
            getrlimit(RLIMIT_NOFILE, &rl);
            char tp[1024];
            ret = ingot_fail(c.err, "%s: cannot open: %s (this process may open %llu files, "
                             "ulimit -n; the system as a whole, fs.file-max; or memory ran "
                             "out): nothing was skipped; free them or raise the limit and run "
                             "the same command again to resume",
                             term_text(cfg->inputs[cur].path, tp, sizeof(tp)),
                             strerror(-c.err), (unsigned long long)rl.rlim_cur);
            named = true;
            pt_reader_release(r, &c);
            goto out;
        } else if (c.err && c.shrank && !p.dead) {
            /* records before this read are kept; the one cut here, and
             * whatever the file holds now past it, are not */
            p.dead = true;
            ret = event(&p, SKIP_R_UNREADABLE_FILE, p.line + 1, "the file shrank while being "
                        "read (%llu bytes when opened, ended before byte %llu); the rest of the "
                        "file is skipped", (unsigned long long)c.file_size,
                        (unsigned long long)(c.offset + c.len + 1));
        } else if (c.err && !p.dead) {
            p.dead = true;
            if (c.first)
                p.progress += cfg->inputs[cur].size;
            ret = event(&p, SKIP_R_UNREADABLE_FILE, c.first ? 0 : p.line + 1,
                        "cannot read: %s%s", strerror(-c.err),
                        c.first ? "" : "; rest of the file skipped");
        } else if (!p.dead) {
            ret = feed(&p, &c);
        }
        p.progress += c.len;
        p.chunk_done = 0;
        if (!ret && c.eof && !c.err && !p.dead && !cfg->inputs[cur].is_stdin &&
            changed_file(&cfg->inputs[cur], &c))
            ret = file_changed(&p, &c);
        if (!ret && c.eof)
            ret = end_file(&p);
        if (!ret && c.eof && cfg->inputs[cur].is_stdin && p.line + 1 < cfg->stdin_need) {
            /* an empty or shorter stream (an upstream command that failed)
             * sealed the dataset with the records of the finished shards
             * only, exit 0 */
            ret = ingot_fail(INGOT_E_MISMATCH, "standard input ended after %llu line%s, but "
                             "the interrupted run's finished shards hold records up to line "
                             "%llu of it: this is not the stream it read; the finished shards "
                             "are kept; pipe the same data again to resume (or convert into a "
                             "new --out)",
                             (unsigned long long)p.line, p.line == 1 ? "" : "s",
                             (unsigned long long)(cfg->stdin_need - 1));
            named = true;
        }
        if (!ret && c.eof && cfg->inputs[cur].is_stdin)
            ret = head_finish(&p);
        /* long enough, but the last finished shard's record is no document
         * in it (a blank or skipped line there, and none after) */
        if (!ret && c.eof && cfg->inputs[cur].is_stdin && cfg->stdin_chain_record &&
            !p.chain_checked) {
            ret = stream_differs(cfg->stdin_chain_record);
            named = true;
        }
        pt_reader_release(r, &c);
        if (ret)
            goto out;
    }
    ret = maybe_emit(&p, true);
    if (!ret)
        ret = p.stop_ret;
out:
    if (ret == -ENOMEM && !named)
        ingot_fail(-ENOMEM, "out of memory while reading the inputs");
    if (r)
        st->read_s += pt_reader_wait_seconds(r);
    pt_reader_close(r);
    free(files);
    ZSTD_freeDCtx(p.zd);
    if (p.gz_ready)
        inflateEnd(&p.gz);
    free(p.zout);
    free(p.head);
    pt_buf_free(&p.carry);
    pt_buf_free(&p.doc);
    *bp = p.b;
    return ret;
}
