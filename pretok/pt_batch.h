/* The unit of work that flows producer -> worker -> writer. The producer
 * fills `data` with raw records and `in` with items pointing into it; a
 * worker turns each record into a document (tokens) or events in `out`; the
 * writer consumes `out` in batch order. Batches are recycled, so their
 * buffers keep their capacity. */
#ifndef INGOT_PT_BATCH_H
#define INGOT_PT_BATCH_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pt_buf.h"

enum pt_item_kind {
    PT_ITEM_JSON,       /* in: a JSON Lines record, data[off, off+len) */
    PT_ITEM_TEXT,       /* in: a text document, data[off, off+len) */
    PT_ITEM_EVENT,      /* in/out: reason, detail[off, off+len) */
    PT_ITEM_DOC,        /* out: tokens tok[off, off+len) */
};

struct pt_item {
    uint64_t record;    /* 1-based line / record number in its file */
    uint64_t off, len;
    uint32_t file;      /* global input index */
    uint16_t kind;
    uint16_t reason;    /* events: enum skip_reason */
    /* standard input's records and their documents: XXH3 chained over its
     * records' text up to this one (pt_producer.c), which a resume's stream
     * must reproduce at the last finished shard's record; 0 otherwise */
    uint64_t chain;
};

struct pt_batch {
    uint64_t seq;
    struct pt_buf data;
    struct pt_item *in, *out;
    size_t n_in, cap_in, n_out, cap_out;
    uint32_t *tok;
    size_t n_tok, cap_tok;
    struct pt_buf detail;
    uint64_t in_bytes_end;  /* input bytes consumed once this batch is done */
    /* standard input's fingerprint (pt_state's stdin_head), on the batch in
     * hand when it was complete; head_len 0: not on this batch */
    uint64_t head_len, head_hash;
    int err;                /* worker failure (-ENOMEM, INGOT_E_TOKENIZER) */
    char errmsg[1024];
};

/* What an emptied batch keeps of its buffers: batches are a few hundred KB
 * of text; one that carried a huge document gives its memory back instead
 * of the pool keeping the largest document's size in every batch. */
#define PT_BATCH_KEEP_BYTES ((size_t)8 << 20)

static inline void pt_batch_reset(struct pt_batch *b)
{
    if (b->data.cap > PT_BATCH_KEEP_BYTES)
        pt_buf_free(&b->data);
    if (b->cap_tok * sizeof(*b->tok) > PT_BATCH_KEEP_BYTES) {
        free(b->tok);
        b->tok = NULL;
        b->cap_tok = 0;
    }
    b->data.len = 0;
    b->detail.len = 0;
    b->n_in = b->n_out = b->n_tok = 0;
    b->head_len = b->head_hash = 0;
    b->err = 0;
    b->errmsg[0] = 0;
}

static inline void pt_batch_free(struct pt_batch *b)
{
    pt_buf_free(&b->data);
    pt_buf_free(&b->detail);
    free(b->in);
    free(b->out);
    free(b->tok);
    memset(b, 0, sizeof(*b));
}

/* Append an item to `in` (out=0) or `out` (out=1). 0 or -ENOMEM. */
static inline int pt_batch_push(struct pt_batch *b, int out, const struct pt_item *it)
{
    struct pt_item **arr = out ? &b->out : &b->in;
    size_t *n = out ? &b->n_out : &b->n_in, *cap = out ? &b->cap_out : &b->cap_in;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        struct pt_item *p = realloc(*arr, nc * sizeof(*p));
        if (!p)
            return -ENOMEM;
        *arr = p;
        *cap = nc;
    }
    (*arr)[(*n)++] = *it;
    return 0;
}

/* Append an event item (record, file, reason) to `in` (out=0) or `out`
 * (out=1) whose detail is fmt/ap formatted into `detail`, cut at 255 bytes.
 * 0 or -ENOMEM. */
__attribute__((format(printf, 6, 0)))
static inline int pt_batch_vevent(struct pt_batch *b, int out, uint64_t record, uint32_t file,
                                  int reason, const char *fmt, va_list ap)
{
    char msg[256];
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(msg))
        n = sizeof(msg) - 1;
    struct pt_item it = { .record = record, .off = b->detail.len, .len = (uint64_t)n,
                          .file = file, .kind = PT_ITEM_EVENT, .reason = (uint16_t)reason };
    if (pt_buf_append(&b->detail, msg, (size_t)n) || pt_batch_push(b, out, &it))
        return -ENOMEM;
    return 0;
}

#endif
