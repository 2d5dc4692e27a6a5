/* libFuzzer target: the shard header checks (shard_reader_check_header) on
 * bytes in memory. Each input is tried as given and again with the magic
 * and the header checksum made right, so that mutations reach the field and
 * layout checks behind the checksum. Invariant: a header that passes lays
 * out a file of exactly the size it declares. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "shard_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *buf, size_t len, uint64_t file_size)
{
    ingot_clear_err();
    int ret = shard_reader_check_header("fuzz.tok", buf, len, file_size);
    FUZZ_ASSERT(ret <= 0);
    if (ret) {
        FUZZ_ASSERT(strstr(ingot_errmsg_for(ret), "fuzz.tok"));
        return;
    }
    struct ingot_shard_header h;
    memcpy(&h, buf, sizeof(h));
    struct ingot_shard_layout lay;
    FUZZ_ASSERT(ingot_shard_layout("fuzz.tok", "", h.token_width, h.n_tokens, h.n_docs, &lay) == 0);
    FUZZ_ASSERT(lay.file_size == file_size && h.file_size == file_size);
    FUZZ_ASSERT(lay.index_offset == h.index_offset && lay.prov_offset == h.prov_offset);
    FUZZ_ASSERT(h.vocab_size > 0 && (h.token_width == 4 || h.vocab_size <= 65536));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size, size);
    uint8_t b[INGOT_SHARD_HEADER_SIZE];
    memset(b, 0, sizeof(b));
    memcpy(b, data, size < sizeof(b) ? size : sizeof(b));
    memcpy(b, INGOT_SHARD_MAGIC, 8);
    const size_t cs = offsetof(struct ingot_shard_header, header_checksum);
    uint64_t sum = ingot_xxh3(b, cs);
    memcpy(b + cs, &sum, 8);
    uint64_t declared;
    memcpy(&declared, b + offsetof(struct ingot_shard_header, file_size), 8);
    check(b, sizeof(b), declared);
    check(b, sizeof(b), declared + 1);
    check(b, sizeof(b), size);
    return 0;
}
