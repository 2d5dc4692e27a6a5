/* A growable byte buffer used throughout pretok (batches, decoded text,
 * carry-over of records that straddle reads). Owned by whoever embeds it;
 * pt_buf_free() releases the memory. */
#ifndef INGOT_PT_BUF_H
#define INGOT_PT_BUF_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pt_buf {
    char *p;
    size_t len, cap;
};

/* Make room for at least `extra` more bytes. Returns 0 or -ENOMEM. */
static inline int pt_buf_reserve(struct pt_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > ((size_t)-1 >> 2) - b->len)
        return -ENOMEM;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int pt_buf_append(struct pt_buf *b, const void *src, size_t n)
{
    int err = pt_buf_reserve(b, n);
    if (err)
        return err;
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

static inline void pt_buf_free(struct pt_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

#endif
