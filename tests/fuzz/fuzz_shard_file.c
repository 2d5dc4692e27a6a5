/* libFuzzer target: a whole shard file through shard_reader_open() and
 * shard_reader_verify(), then every accessor a reader uses. An input is
 * tried as given; then (when it is long enough) with the header checksum
 * recomputed, and when that opens, with the data checksums recomputed too,
 * so that mutations of tokens, index and provenance reach the checks behind
 * the checksums. Invariants: whatever opens keeps its promises (index
 * monotonic and within n_tokens, doc_of_token consistent with the index). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "shard_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch what the trainer and ingot-dump touch. */
static void walk(const shard_reader *r)
{
    const uint64_t nt = shard_reader_n_tokens(r), nd = shard_reader_n_docs(r);
    const uint64_t *ix = shard_reader_doc_index(r);
    const uint32_t vocab = shard_reader_header(r)->vocab_size;
    FUZZ_ASSERT(ix[0] == 0 && ix[nd] == nt);
    for (uint64_t d = 0; d < nd && d < 4096; d++) {
        FUZZ_ASSERT(ix[d] <= ix[d + 1]);
        (void)shard_reader_doc_prov(r, d)->file_index;
    }
    uint32_t buf[256];
    size_t n = nt < 256 ? (size_t)nt : 256;
    shard_reader_copy_u32(r, nt - n, n, buf);
    for (uint64_t i = 0; i < nt && i < 512; i++) {
        uint64_t d = shard_reader_doc_of_token(r, i);
        FUZZ_ASSERT(d < nd && ix[d] <= i && i < ix[d + 1]);
        (void)(shard_reader_token(r, i) < vocab);
    }
    FUZZ_ASSERT(shard_reader_doc_of_token(r, nt) == nd);
}

/* Open (and verify) path; 1 when it opened. */
static int try_open(const char *path)
{
    shard_reader *r = NULL;
    ingot_clear_err();
    int ret = shard_reader_open(path, &r);
    FUZZ_ASSERT(ret <= 0 && (ret == 0) == (r != NULL));
    if (ret)
        return 0;
    walk(r);
    ret = shard_reader_verify(r);
    FUZZ_ASSERT(ret <= 0);
    shard_reader_close(r);
    return 1;
}

static void reseal(uint8_t *b)
{
    const size_t cs = offsetof(struct ingot_shard_header, header_checksum);
    uint64_t sum = ingot_xxh3(b, cs);
    memcpy(b + cs, &sum, 8);
}

/* Write b[0, len) to a fresh memfd and open it. */
static int try_bytes(const uint8_t *b, size_t len)
{
    char path[64];
    int fd = fuzz_memfd(b, len, path);
    int ok = try_open(path);
    close(fd);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (try_bytes(data, size) || size < INGOT_SHARD_HEADER_SIZE)
        return 0;
    uint8_t *b = malloc(size);
    FUZZ_ASSERT(b);
    memcpy(b, data, size);
    memcpy(b, INGOT_SHARD_MAGIC, 8);
    reseal(b);
    if (try_bytes(b, size)) {
        /* The layout is known good now: make the data checksums right. */
        struct ingot_shard_header h;
        memcpy(&h, b, sizeof(h));
        h.tokens_checksum = ingot_xxh3(b + h.tokens_offset, h.n_tokens * h.token_width);
        h.index_checksum = ingot_xxh3(b + h.index_offset, (h.n_docs + 1) * 8);
        h.prov_checksum = ingot_xxh3(b + h.prov_offset, h.n_docs * sizeof(struct ingot_doc_prov));
        memcpy(b, &h, sizeof(h));
        reseal(b);
        FUZZ_ASSERT(try_bytes(b, size));
    }
    free(b);
    return 0;
}
