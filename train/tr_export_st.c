/* safetensors writer: JSON header with jansson, payload borrowed from the
 * caller and written in one atomic pass. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "tr_export_st.h"

size_t tr_st_numel(const struct tr_st_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= (size_t)t->shape[d];
    return n;
}

/* The header object: metadata first, then the tensors in file order. NULL
 * only when out of memory. */
static json_t *st_header(const struct tr_st_tensor *t, size_t n, const char *const *meta,
                         size_t n_meta)
{
    json_t *h = json_object(), *md = json_object();
    int bad = !h || !md;
    for (size_t i = 0; !bad && i < n_meta; i++)
        bad = json_object_set_new(md, meta[2 * i], json_string(meta[2 * i + 1]));
    bad = bad || json_object_set(h, "__metadata__", md);
    json_decref(md);
    uint64_t off = 0;
    for (size_t i = 0; !bad && i < n; i++) {
        uint64_t bytes = tr_st_numel(&t[i]) * sizeof(float);
        json_t *shape = json_array();
        bad = !shape;
        for (int d = 0; !bad && d < t[i].ndim; d++)
            bad = json_array_append_new(shape, json_integer(t[i].shape[d]));
        if (bad) {
            json_decref(shape);
            break;
        }
        /* "o" steals the reference to shape, also when the pack fails */
        bad = json_object_set_new(h, t[i].name, json_pack(
            "{s:s, s:o, s:[I,I]}", "dtype", "F32", "shape", shape, "data_offsets",
            (json_int_t)off, (json_int_t)(off + bytes)));
        off += bytes;
    }
    if (bad) {
        json_decref(h);
        return NULL;
    }
    return h;
}

int tr_st_write(const char *path, const struct tr_st_tensor *t, size_t n,
                const char *const *meta, size_t n_meta)
{
    json_t *h = st_header(t, n, meta, n_meta);
    char *text = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(h);
    if (!text)
        return ingot_oom("safetensors header", 0);
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    struct fs_piece *pieces = calloc(n + 2, sizeof(*pieces));
    char *hdr = malloc(8 + padded);
    int err;
    if (!pieces || !hdr) {
        err = ingot_oom("safetensors header", 8 + padded);
        goto out;
    }
    uint64_t hl = padded;
    for (int b = 0; b < 8; b++)   /* little-endian on any host */
        hdr[b] = (char)(hl >> (8 * b));
    memcpy(hdr + 8, text, len);
    memset(hdr + 8 + len, ' ', padded - len);
    pieces[0] = (struct fs_piece){ hdr, 8 + padded };
    for (size_t i = 0; i < n; i++)
        pieces[i + 1] = (struct fs_piece){ t[i].data, tr_st_numel(&t[i]) * sizeof(float) };
    err = fs_stage_pieces(path, pieces, n + 1);
out:
    free(text);
    free(hdr);
    free(pieces);
    return err;
}
