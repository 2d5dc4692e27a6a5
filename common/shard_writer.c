/* Shard writer: tokens stream through a buffer into "<path>.tmp"; index and
 * provenance are kept in memory (24 bytes per document) and written after
 * the tokens at finish, then the header, then fsync + rename. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "shard_writer.h"
#include "term_text.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "shard format v1 is written by little-endian hosts only"
#endif

enum { WBUF_SIZE = 1 << 20 };

struct shard_writer {
    struct shard_writer_opts o;
    char *path, *tmp;
    char *shown, *tmp_shown;    /* path and tmp in messages, through term_text() */
    int fd;
    uint8_t *buf;
    size_t buf_len;
    ingot_xxh3_stream *tok_hash;
    uint64_t n_tokens;
    uint64_t *index;            /* n_docs+1 entries used */
    struct ingot_doc_prov *prov;
    size_t n_docs, cap_docs;
};

static int check_opts(const struct shard_writer_opts *o)
{
    if (!o->path || !o->path[0])
        return ingot_fail(INGOT_E_USAGE, "shard writer: no output path");
    char tp[1024];   /* in --out, as term_text shows it */
    const char *p = term_text(o->path, tp, sizeof(tp));
    if (o->token_width != 2 && o->token_width != 4)
        return ingot_fail(INGOT_E_USAGE, "%s: token_width %u: must be 2 or 4", p, o->token_width);
    if (o->vocab_size == 0)
        return ingot_fail(INGOT_E_USAGE, "%s: vocab_size is 0", p);
    if (o->token_width == 2 && o->vocab_size > 65536)
        return ingot_fail(INGOT_E_USAGE, "%s: vocab_size %u does not fit 2-byte tokens; use width 4",
                          p, o->vocab_size);
    const int32_t sp[4] = { o->bos_id, o->eos_id, o->pad_id, o->unk_id };
    static const char *const spn[4] = { "bos_id", "eos_id", "pad_id", "unk_id" };
    for (int i = 0; i < 4; i++)
        if (sp[i] < -1 || (sp[i] >= 0 && (uint32_t)sp[i] >= o->vocab_size))
            return ingot_fail(INGOT_E_USAGE, "%s: %s %d: must be -1 or below vocab_size %u", p,
                              spn[i], sp[i], o->vocab_size);
    if (o->split > INGOT_SPLIT_VAL)
        return ingot_fail(INGOT_E_USAGE, "%s: split %u: must be train (0) or val (1)", p, o->split);
    if (o->tokenizer_type > INGOT_TOK_CHAR)
        return ingot_fail(INGOT_E_USAGE, "%s: tokenizer_type %u unknown", p, o->tokenizer_type);
    return 0;
}

static void writer_free(shard_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w->path);
    free(w->tmp);
    free(w->shown);
    free(w->tmp_shown);
    free(w->buf);
    free(w->index);
    free(w->prov);
    ingot_xxh3_free(w->tok_hash);
    free(w);
}

int shard_writer_create(const struct shard_writer_opts *opts, shard_writer **out)
{
    *out = NULL;
    int ret = check_opts(opts);
    if (ret)
        return ret;
    size_t tl = strlen(opts->path) + 5;   /* and ".tmp" */
    char tp[1024];
    shard_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return ingot_fail(-ENOMEM, "%s: out of memory", term_text(opts->path, tp, sizeof(tp)));
    w->fd = -1;
    w->o = *opts;
    w->path = strdup(opts->path);
    if ((w->tmp = malloc(tl)))
        snprintf(w->tmp, tl, "%s.tmp", opts->path);
    w->shown = term_text_dup(opts->path);
    w->tmp_shown = w->tmp ? term_text_dup(w->tmp) : NULL;
    w->buf = malloc(WBUF_SIZE);
    w->tok_hash = ingot_xxh3_new();
    w->cap_docs = 1024;
    w->index = malloc((w->cap_docs + 1) * sizeof(*w->index));
    w->prov = malloc(w->cap_docs * sizeof(*w->prov));
    if (!w->path || !w->tmp || !w->shown || !w->tmp_shown || !w->buf || !w->tok_hash ||
        !w->index || !w->prov) {
        writer_free(w);
        return ingot_fail(-ENOMEM, "%s: out of memory", term_text(opts->path, tp, sizeof(tp)));
    }
    w->o.path = w->path;
    w->index[0] = 0;
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int e = errno;
        ingot_fail(-e, "%s: cannot create: %s", w->tmp_shown, strerror(e));
        writer_free(w);
        return -e;
    }
    /* Tokens start right after the header; the header is written last. */
    if (lseek(w->fd, INGOT_SHARD_HEADER_SIZE, SEEK_SET) < 0) {
        int e = errno;
        ingot_fail(-e, "%s: seek failed: %s", w->tmp_shown, strerror(e));
        unlink(w->tmp);
        writer_free(w);
        return -e;
    }
    *out = w;
    return 0;
}

static int flush_buf(shard_writer *w)
{
    if (!w->buf_len)
        return 0;
    ingot_xxh3_update(w->tok_hash, w->buf, w->buf_len);
    int ret = fs_write_full(w->fd, w->buf, w->buf_len, w->tmp_shown);
    w->buf_len = 0;
    return ret;
}

int shard_writer_add_doc(shard_writer *w, const uint32_t *ids, size_t n_ids,
                         uint32_t file_index, uint64_t record)
{
    uint32_t limit = w->o.vocab_size;
    for (size_t i = 0; i < n_ids; i++)
        if (ids[i] >= limit)
            return ingot_fail(INGOT_E_CORRUPT,
                              "%s: document %zu (input %u, record %llu): token %zu is id %u, "
                              "not below vocab_size %u",
                              w->shown, w->n_docs, file_index, (unsigned long long)record, i,
                              ids[i], limit);
    if (w->n_docs == w->cap_docs) {
        size_t nc = w->cap_docs * 2;
        uint64_t *ni = realloc(w->index, (nc + 1) * sizeof(*ni));
        if (!ni)
            return ingot_fail(-ENOMEM, "%s: out of memory growing the document index", w->shown);
        w->index = ni;
        struct ingot_doc_prov *np = realloc(w->prov, nc * sizeof(*np));
        if (!np)
            return ingot_fail(-ENOMEM, "%s: out of memory growing the provenance table",
                              w->shown);
        w->prov = np;
        w->cap_docs = nc;
    }
    const size_t width = w->o.token_width;
    const size_t per_buf = WBUF_SIZE / width;
    size_t done = 0;
    while (done < n_ids) {
        size_t room = per_buf - w->buf_len / width;
        size_t n = n_ids - done < room ? n_ids - done : room;
        if (width == 4) {
            memcpy(w->buf + w->buf_len, ids + done, n * 4);
        } else {
            uint16_t *dst = (uint16_t *)(void *)(w->buf + w->buf_len);
            for (size_t i = 0; i < n; i++)
                dst[i] = (uint16_t)ids[done + i];
        }
        w->buf_len += n * width;
        done += n;
        if (w->buf_len == WBUF_SIZE) {
            int ret = flush_buf(w);
            if (ret)
                return ret;
        }
    }
    w->n_tokens += n_ids;
    w->prov[w->n_docs] = (struct ingot_doc_prov){ .file_index = file_index, .record = record };
    w->n_docs++;
    w->index[w->n_docs] = w->n_tokens;
    return 0;
}

uint64_t shard_writer_n_tokens(const shard_writer *w)
{
    return w->n_tokens;
}

uint64_t shard_writer_n_docs(const shard_writer *w)
{
    return w->n_docs;
}

struct manifest_shard shard_summary_entry(const char *file, uint32_t split,
                                          const struct shard_summary *sum)
{
    return (struct manifest_shard){
        .file = (char *)file, .split = split, .n_tokens = sum->n_tokens,
        .n_docs = sum->n_docs, .file_size = sum->file_size,
        .tokens_checksum = sum->tokens_checksum, .index_checksum = sum->index_checksum,
        .prov_checksum = sum->prov_checksum, .header_checksum = sum->header_checksum,
    };
}

int shard_writer_finish(shard_writer *w, struct shard_summary *sum)
{
    int ret = flush_buf(w);
    if (ret)
        goto fail;
    struct ingot_shard_header *h = calloc(1, sizeof(*h));
    if (!h) {
        ret = ingot_fail(-ENOMEM, "%s: out of memory", w->shown);
        goto fail;
    }
    const uint64_t tok_end = INGOT_SHARD_HEADER_SIZE + w->n_tokens * w->o.token_width;
    const uint64_t index_off = (tok_end + 7) & ~(uint64_t)7;
    const uint64_t index_len = (w->n_docs + 1) * sizeof(uint64_t);
    const uint64_t prov_off = index_off + index_len;
    const uint64_t prov_len = w->n_docs * sizeof(struct ingot_doc_prov);
    static const uint8_t zeros[8];
    /* Zero padding keeps the index 8-byte aligned for typed mmap access. */
    ret = fs_write_full(w->fd, zeros, (size_t)(index_off - tok_end), w->tmp_shown);
    if (!ret)
        ret = fs_write_full(w->fd, w->index, (size_t)index_len, w->tmp_shown);
    if (!ret)
        ret = fs_write_full(w->fd, w->prov, (size_t)prov_len, w->tmp_shown);
    if (ret) {
        free(h);
        goto fail;
    }
    memcpy(h->magic, INGOT_SHARD_MAGIC, 8);
    h->version = INGOT_SHARD_VERSION;
    h->header_size = INGOT_SHARD_HEADER_SIZE;
    h->endian_mark = INGOT_ENDIAN_MARK;
    h->token_width = w->o.token_width;
    h->vocab_size = w->o.vocab_size;
    h->bos_id = w->o.bos_id;
    h->eos_id = w->o.eos_id;
    h->pad_id = w->o.pad_id;
    h->unk_id = w->o.unk_id;
    h->split = w->o.split;
    h->tokenizer_type = w->o.tokenizer_type;
    h->n_tokens = w->n_tokens;
    h->n_docs = w->n_docs;
    h->tokens_offset = INGOT_SHARD_HEADER_SIZE;
    h->index_offset = index_off;
    h->prov_offset = prov_off;
    h->file_size = prov_off + prov_len;
    h->tokenizer_hash = w->o.tokenizer_hash;
    h->tokens_checksum = ingot_xxh3_digest(w->tok_hash);
    h->index_checksum = ingot_xxh3(w->index, (size_t)index_len);
    h->prov_checksum = ingot_xxh3(w->prov, (size_t)prov_len);
    h->shard_seq = w->o.shard_seq;
    h->header_checksum = ingot_xxh3(h, offsetof(struct ingot_shard_header, header_checksum));
    ret = fs_pwrite_full(w->fd, h, sizeof(*h), 0, w->tmp_shown);
    if (!ret && fsync(w->fd) != 0) {
        int e = errno;
        ret = ingot_fail(-e, "%s: fsync failed: %s", w->tmp_shown, strerror(e));
    }
    if (!ret) {
        int fd = w->fd;
        w->fd = -1;
        if (close(fd) != 0) {
            int e = errno;
            ret = ingot_fail(-e, "%s: close failed: %s", w->tmp_shown, strerror(e));
        }
    }
    if (!ret && rename(w->tmp, w->path) != 0) {
        int e = errno;
        ret = ingot_fail(-e, "%s: cannot rename %s into place: %s", w->shown, w->tmp_shown,
                         strerror(e));
    }
    if (ret) {
        free(h);
        goto fail;
    }
    ret = fs_fsync_dir(w->path);
    if (!ret && sum) {
        sum->n_tokens = h->n_tokens;
        sum->n_docs = h->n_docs;
        sum->file_size = h->file_size;
        sum->tokens_checksum = h->tokens_checksum;
        sum->index_checksum = h->index_checksum;
        sum->prov_checksum = h->prov_checksum;
        sum->header_checksum = h->header_checksum;
    }
    free(h);
    writer_free(w);
    return ret;
fail:
    unlink(w->tmp);
    writer_free(w);
    return ret;
}

void shard_writer_abort(shard_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    unlink(w->tmp);
    writer_free(w);
}
