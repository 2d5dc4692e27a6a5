/* Shard reader: mmap the whole file, validate the header and the layout
 * cheaply at open, recompute the checksums on request. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "shard_reader.h"
#include "term_text.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "shard format v1 is read by little-endian hosts only"
#endif

struct shard_reader {
    char *path;
    char *shown;            /* path in messages, through term_text() */
    uint8_t *map;
    size_t map_len;
    const struct ingot_shard_header *h;
    const uint8_t *tokens;
    const uint64_t *index;
    const struct ingot_doc_prov *prov;
};

#define HINT "; re-run ingot-pretok to rebuild the shard"

typedef unsigned long long ull;

static uint64_t header_sum(const struct ingot_shard_header *h)
{
    return ingot_xxh3(h, offsetof(struct ingot_shard_header, header_checksum));
}

/* Fields checked after the header checksum matched: what the writer could
 * not have produced means a bug or a hand-made file, not bit rot. */
static int check_fields(const char *p, const struct ingot_shard_header *h, uint64_t actual_size)
{
    if (h->token_width != 2 && h->token_width != 4)
        return ingot_fail(INGOT_E_CORRUPT, "%s: field token_width: %u, must be 2 or 4" HINT, p,
                          h->token_width);
    if (h->vocab_size == 0 || (h->token_width == 2 && h->vocab_size > 65536))
        return ingot_fail(INGOT_E_CORRUPT,
                          "%s: field vocab_size: %u does not fit token_width %u" HINT, p,
                          h->vocab_size, h->token_width);
    const int32_t sp[4] = { h->bos_id, h->eos_id, h->pad_id, h->unk_id };
    static const char *const spn[4] = { "bos_id", "eos_id", "pad_id", "unk_id" };
    for (int i = 0; i < 4; i++)
        if (sp[i] < -1 || (sp[i] >= 0 && (uint32_t)sp[i] >= h->vocab_size))
            return ingot_fail(INGOT_E_CORRUPT,
                              "%s: field %s: %d, must be -1 or below vocab_size %u" HINT, p,
                              spn[i], sp[i], h->vocab_size);
    if (h->split > INGOT_SPLIT_VAL)
        return ingot_fail(INGOT_E_CORRUPT, "%s: field split: %u, must be 0 (train) or 1 (val)" HINT,
                          p, h->split);
    if (h->tokenizer_type > INGOT_TOK_CHAR)
        return ingot_fail(INGOT_E_CORRUPT, "%s: field tokenizer_type: %u unknown" HINT, p,
                          h->tokenizer_type);
    if (h->flags != 0)
        return ingot_fail(INGOT_E_CORRUPT, "%s: field flags: 0x%x, must be 0 in format v1" HINT, p,
                          h->flags);
    for (size_t i = 0; i < sizeof(h->reserved); i++)
        if (h->reserved[i])
            return ingot_fail(INGOT_E_CORRUPT,
                              "%s: field reserved: byte at header offset %zu is not zero" HINT, p,
                              offsetof(struct ingot_shard_header, reserved) + i);

    /* Exact layout; every product checked for overflow. */
    if (h->tokens_offset != INGOT_SHARD_HEADER_SIZE)
        return ingot_fail(INGOT_E_CORRUPT, "%s: field tokens_offset: %llu, must be %u" HINT, p,
                          (ull)h->tokens_offset, INGOT_SHARD_HEADER_SIZE);
    struct ingot_shard_layout lay;
    int ret = ingot_shard_layout(p, HINT, h->token_width, h->n_tokens, h->n_docs, &lay);
    if (ret)
        return ret;
    const uint64_t index_off = lay.index_offset;
    if (h->index_offset != index_off)
        return ingot_fail(INGOT_E_CORRUPT,
                          "%s: field index_offset: %llu, but n_tokens %llu x %u bytes after the "
                          "header puts the index at %llu" HINT,
                          p, (ull)h->index_offset, (ull)h->n_tokens, h->token_width, (ull)index_off);
    const uint64_t prov_off = lay.prov_offset;
    if (h->prov_offset != prov_off)
        return ingot_fail(INGOT_E_CORRUPT,
                          "%s: field prov_offset: %llu, but n_docs %llu puts provenance at %llu" HINT,
                          p, (ull)h->prov_offset, (ull)h->n_docs, (ull)prov_off);
    const uint64_t end = lay.file_size;
    if (h->file_size != end)
        return ingot_fail(INGOT_E_CORRUPT,
                          "%s: field file_size: %llu, but the layout ends at byte %llu" HINT, p,
                          (ull)h->file_size, (ull)end);
    if (actual_size < h->file_size)
        return ingot_fail(INGOT_E_TRUNCATED,
                          "%s: field file_size: file is %llu bytes but the header says %llu "
                          "(truncated?)" HINT,
                          p, (ull)actual_size, (ull)h->file_size);
    if (actual_size > h->file_size)
        return ingot_fail(INGOT_E_CORRUPT,
                          "%s: field file_size: file is %llu bytes but the header says %llu "
                          "(trailing bytes)" HINT,
                          p, (ull)actual_size, (ull)h->file_size);
    return 0;
}

static int check_index(const shard_reader *r)
{
    const struct ingot_shard_header *h = r->h;
    const char *p = r->shown;
    /* Padding between the tokens and the index is not under any checksum. */
    const uint64_t tok_end = h->tokens_offset + h->n_tokens * h->token_width;
    for (uint64_t o = tok_end; o < h->index_offset; o++)
        if (r->map[o])
            return ingot_fail(INGOT_E_CORRUPT,
                              "%s: field index_offset: padding byte at offset %llu is not zero" HINT,
                              p, (ull)o);
    const uint64_t *ix = r->index;
    if (ix[0] != 0)
        return ingot_fail(INGOT_E_CORRUPT,
                          "%s: field doc_index: entry 0 is %llu, must be 0" HINT, p, (ull)ix[0]);
    for (uint64_t d = 1; d <= h->n_docs; d++) {
        if (ix[d] > h->n_tokens)
            return ingot_fail(INGOT_E_CORRUPT,
                              "%s: field doc_index: entry %llu is %llu, beyond n_tokens %llu "
                              "(offset out of range)" HINT,
                              p, (ull)d, (ull)ix[d], (ull)h->n_tokens);
        if (ix[d] < ix[d - 1])
            return ingot_fail(INGOT_E_CORRUPT,
                              "%s: field doc_index: entry %llu (%llu) is below entry %llu (%llu); "
                              "the index must not decrease" HINT,
                              p, (ull)d, (ull)ix[d], (ull)(d - 1), (ull)ix[d - 1]);
    }
    if (ix[h->n_docs] != h->n_tokens)
        return ingot_fail(INGOT_E_CORRUPT,
                          "%s: field doc_index: last entry %llu is %llu, must equal n_tokens %llu" HINT,
                          p, (ull)h->n_docs, (ull)ix[h->n_docs], (ull)h->n_tokens);
    return 0;
}

/* Header checks before the field checks: identity, version, checksum.
 * buf holds the first len bytes of the file (at least the v1 header). */
static int check_ident(const char *p, const struct ingot_shard_header *h, const uint8_t *buf,
                       size_t len)
{
    if (h->endian_mark == __builtin_bswap32(INGOT_ENDIAN_MARK))
        return ingot_fail(INGOT_E_ENDIAN,
                          "%s: field endian_mark: the shard was written on a big-endian machine; "
                          "this build reads little-endian shards only", p);
    if (h->endian_mark != INGOT_ENDIAN_MARK)
        return ingot_fail(INGOT_E_CORRUPT, "%s: field endian_mark: 0x%08x, expected 0x%08x" HINT, p,
                          h->endian_mark, INGOT_ENDIAN_MARK);
    if (h->version > INGOT_SHARD_VERSION) {
        /* Every version keeps the header checksum in the header's last 8
         * bytes, so a real newer file can be told from a flipped bit. */
        uint32_t hs = h->header_size;
        if (hs >= 16 && hs <= len && hs % 8 == 0) {
            uint64_t stored;
            memcpy(&stored, buf + hs - 8, 8);
            if (stored == ingot_xxh3(buf, hs - 8))
                return ingot_fail(INGOT_E_VERSION,
                                  "%s: field version: format version %u was written by a newer "
                                  "Ingot; this build reads version %u, upgrade ingot",
                                  p, h->version, INGOT_SHARD_VERSION);
        }
        return ingot_fail(INGOT_E_CHECKSUM,
                          "%s: field header_checksum: does not match, and field version reads %u "
                          "(newer than %u): the header is corrupt" HINT,
                          p, h->version, INGOT_SHARD_VERSION);
    }
    if (h->version == 0)
        return ingot_fail(INGOT_E_CORRUPT, "%s: field version: 0 is not a valid version" HINT, p);
    if (h->header_size != INGOT_SHARD_HEADER_SIZE)
        return ingot_fail(INGOT_E_FORMAT, "%s: field header_size: %u, format v1 has %u" HINT, p,
                          h->header_size, INGOT_SHARD_HEADER_SIZE);
    uint64_t sum = header_sum(h);
    if (sum != h->header_checksum)
        return ingot_fail(INGOT_E_CHECKSUM,
                          "%s: field header_checksum: stored %016llx, computed %016llx; the "
                          "header is corrupt" HINT,
                          p, (ull)h->header_checksum, (ull)sum);
    return 0;
}

void shard_reader_close(shard_reader *r)
{
    if (!r)
        return;
    if (r->map)
        munmap(r->map, r->map_len);
    free(r->path);
    free(r->shown);
    free(r);
}

int shard_reader_check_header(const char *name, const void *buf, size_t len,
                              uint64_t file_size)
{
    /* a path from the command line or a manifest: control bytes as '?' */
    char tn[1024];
    name = term_text(name, tn, sizeof(tn));
    const uint8_t *b = buf;
    if (len < 8 || memcmp(b, INGOT_SHARD_MAGIC, 8) != 0)
        return ingot_fail(INGOT_E_FORMAT,
                          "%s: field magic: not an Ingot shard (the file does not start with \"%s\")",
                          name, INGOT_SHARD_MAGIC);
    /* the file's size, not the bytes read to check the magic (was "8 bytes") */
    if (file_size < INGOT_SHARD_HEADER_SIZE)
        return ingot_fail(INGOT_E_TRUNCATED,
                          "%s: field header: file is %llu bytes, shorter than the %u-byte header "
                          "(truncated?)" HINT,
                          name, (ull)file_size, INGOT_SHARD_HEADER_SIZE);
    if (len < INGOT_SHARD_HEADER_SIZE)
        return ingot_fail(INGOT_E_TRUNCATED, "%s: field header: %zu bytes of the %u-byte header "
                          "given", name, len, INGOT_SHARD_HEADER_SIZE);
    /* The header is 8-byte aligned in a mapping but not in any buffer. */
    struct ingot_shard_header h;
    memcpy(&h, b, sizeof(h));
    int ret = check_ident(name, &h, b, len);
    return ret ? ret : check_fields(name, &h, file_size);
}

int shard_reader_open(const char *path, shard_reader **out)
{
    *out = NULL;
    shard_reader *r = calloc(1, sizeof(*r));
    if (!r || !(r->path = strdup(path)) || !(r->shown = term_text_dup(path))) {
        if (r)
            free(r->path);
        free(r);
        return ingot_oom("shard reader", sizeof(*r) + 2 * strlen(path) + 2);
    }
    uint64_t size = 0;
    int ret = 0;
    int fd = fs_open_regular(path, "shard", SIZE_MAX, &size);
    if (fd < 0) {
        ret = fd;
        goto fail;
    }
    /* The magic first, so that any other file is "not a shard", whatever
     * its size. */
    char magic[8] = { 0 };
    ssize_t got = pread(fd, magic, sizeof(magic), 0);
    if (got < 0) {
        int e = errno;
        ret = ingot_fail(-e, "%s: read failed: %s", r->shown, strerror(e));
        goto fail;
    }
    if (size < INGOT_SHARD_HEADER_SIZE || got < 8) {
        ret = shard_reader_check_header(path, magic, (size_t)got, size);
        goto fail;
    }
    r->map_len = (size_t)size;
    void *m = mmap(NULL, r->map_len, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        /* ENOMEM here is rarely memory: the process's count of mappings
         * (vm.max_map_count) or its address space (ulimit -v) ran out */
        ret = ingot_fail(-e, "%s: mmap failed: %s%s", r->shown, strerror(e),
                         e == ENOMEM ? " (the process's limit on memory mappings, "
                                       "vm.max_map_count, or on its address space, ulimit -v, "
                                       "reached?)" : "");
        goto fail;
    }
    r->map = m;
    close(fd);
    fd = -1;
    r->h = (const struct ingot_shard_header *)(const void *)r->map;
    if ((ret = shard_reader_check_header(path, r->map, r->map_len, size)))
        goto fail;
    r->tokens = r->map + r->h->tokens_offset;
    r->index = (const uint64_t *)(const void *)(r->map + r->h->index_offset);
    r->prov = (const struct ingot_doc_prov *)(const void *)(r->map + r->h->prov_offset);
    ret = check_index(r);
    if (ret)
        goto fail;
    *out = r;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    shard_reader_close(r);
    return ret;
}

/* Hash the tokens in chunks and check the ids of each chunk while it is in
 * cache. */
static int verify_tokens(const shard_reader *r)
{
    const struct ingot_shard_header *h = r->h;
    const uint64_t len = h->n_tokens * h->token_width;
    ingot_xxh3_stream *s = ingot_xxh3_new();
    if (!s)
        return ingot_fail(-ENOMEM, "%s: out of memory", r->shown);
    const uint64_t chunk = (uint64_t)1 << 22;   /* bytes, a multiple of 4 */
    const uint32_t vocab = h->vocab_size;
    uint64_t bad = UINT64_MAX;
    uint32_t bad_id = 0;
    for (uint64_t o = 0; o < len; o += chunk) {
        uint64_t n = len - o < chunk ? len - o : chunk;
        ingot_xxh3_update(s, r->tokens + o, (size_t)n);
        if (bad != UINT64_MAX)
            continue;
        uint64_t first = o / h->token_width, cnt = n / h->token_width;
        if (h->token_width == 2) {
            const uint16_t *t = (const uint16_t *)(const void *)(r->tokens + o);
            for (uint64_t i = 0; i < cnt; i++)
                if (t[i] >= vocab) {
                    bad = first + i;
                    bad_id = t[i];
                    break;
                }
        } else {
            const uint32_t *t = (const uint32_t *)(const void *)(r->tokens + o);
            for (uint64_t i = 0; i < cnt; i++)
                if (t[i] >= vocab) {
                    bad = first + i;
                    bad_id = t[i];
                    break;
                }
        }
    }
    uint64_t sum = ingot_xxh3_digest(s);
    ingot_xxh3_free(s);
    if (sum != h->tokens_checksum)
        return ingot_fail(INGOT_E_CHECKSUM,
                          "%s: field tokens_checksum: stored %016llx, computed %016llx; the token "
                          "array is corrupt" HINT,
                          r->shown, (ull)h->tokens_checksum, (ull)sum);
    if (bad != UINT64_MAX)
        return ingot_fail(INGOT_E_CORRUPT,
                          "%s: field tokens: token %llu (document %llu) is id %u, not below "
                          "vocab_size %u" HINT,
                          r->shown, (ull)bad, (ull)shard_reader_doc_of_token(r, bad), bad_id,
                          vocab);
    return 0;
}

int shard_reader_verify(const shard_reader *r)
{
    const struct ingot_shard_header *h = r->h;
    int ret = verify_tokens(r);
    if (ret)
        return ret;
    uint64_t sum = ingot_xxh3(r->index, (size_t)((h->n_docs + 1) * 8));
    if (sum != h->index_checksum)
        return ingot_fail(INGOT_E_CHECKSUM,
                          "%s: field index_checksum: stored %016llx, computed %016llx; the "
                          "document index is corrupt" HINT,
                          r->shown, (ull)h->index_checksum, (ull)sum);
    sum = ingot_xxh3(r->prov, (size_t)(h->n_docs * sizeof(struct ingot_doc_prov)));
    if (sum != h->prov_checksum)
        return ingot_fail(INGOT_E_CHECKSUM,
                          "%s: field prov_checksum: stored %016llx, computed %016llx; the "
                          "provenance table is corrupt" HINT,
                          r->shown, (ull)h->prov_checksum, (ull)sum);
    for (uint64_t d = 0; d < h->n_docs; d++) {
        if (r->prov[d].reserved != 0)
            return ingot_fail(INGOT_E_CORRUPT,
                              "%s: field provenance: record %llu has a non-zero reserved word" HINT,
                              r->shown, (ull)d);
        /* lines, records and paragraphs count from 1 (struct ingot_doc_prov) */
        if (r->prov[d].record == 0)
            return ingot_fail(INGOT_E_CORRUPT,
                              "%s: field provenance: record %llu names line/record 0 of input "
                              "%u; they count from 1" HINT,
                              r->shown, (ull)d, r->prov[d].file_index);
    }
    /* A file cut short while it was read keeps its mapped pages (a byte of
     * zeros lost from the end summed as before): its size, once more */
    struct stat st;
    if (stat(r->path, &st) != 0)
        return ingot_fail(-errno, "%s: %s (after its checksums were read)", r->shown,
                          strerror(errno));
    if ((uint64_t)st.st_size != h->file_size)
        return ingot_fail(INGOT_E_CORRUPT,
                          "%s: field file_size: the file changed while it was verified (%llu "
                          "bytes now, the header says %llu); verify it again once nothing "
                          "writes it" HINT,
                          r->shown, (ull)st.st_size, (ull)h->file_size);
    return 0;
}

const struct ingot_shard_header *shard_reader_header(const shard_reader *r)
{
    return r->h;
}

const char *shard_reader_path(const shard_reader *r)
{
    return r->path;
}

const char *shard_reader_shown(const shard_reader *r)
{
    return r->shown;
}

uint64_t shard_reader_n_tokens(const shard_reader *r)
{
    return r->h->n_tokens;
}

uint64_t shard_reader_n_docs(const shard_reader *r)
{
    return r->h->n_docs;
}

const void *shard_reader_tokens(const shard_reader *r)
{
    return r->tokens;
}

uint32_t shard_reader_token(const shard_reader *r, uint64_t i)
{
    if (r->h->token_width == 2)
        return ((const uint16_t *)(const void *)r->tokens)[i];
    return ((const uint32_t *)(const void *)r->tokens)[i];
}

void shard_reader_copy_u32(const shard_reader *r, uint64_t start, size_t n, uint32_t *dst)
{
    if (r->h->token_width == 4) {
        memcpy(dst, r->tokens + start * 4, n * 4);
        return;
    }
    const uint16_t *t = (const uint16_t *)(const void *)r->tokens + start;
    for (size_t i = 0; i < n; i++)
        dst[i] = t[i];
}

const uint64_t *shard_reader_doc_index(const shard_reader *r)
{
    return r->index;
}

const struct ingot_doc_prov *shard_reader_doc_prov(const shard_reader *r, uint64_t d)
{
    return &r->prov[d];
}

uint64_t shard_reader_doc_of_token(const shard_reader *r, uint64_t i)
{
    const uint64_t n = r->h->n_docs;
    if (i >= r->h->n_tokens)
        return n;
    /* Last d in [0, n) with index[d] <= i; empty documents before it are
     * skipped because their start equals the next one's. */
    uint64_t lo = 0, hi = n;   /* answer in [lo, hi) */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (r->index[mid] <= i)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}
