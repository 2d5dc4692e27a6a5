/* A shard with more than 2^32 tokens, made as a sparse file so the test
 * writes only a few KiB: 64-bit counts and offsets must work end to end in
 * the cheap open, the index and the token accessors, and a truncation of
 * such a file must still be reported. The holes are never read. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>

#include "fsutil.h"
#include "ingot_hash.h"
#include "shard_reader.h"
#include "test_util.h"

static int make_big(const char *path, uint32_t width, uint64_t n_tokens, const uint32_t *tail,
                    size_t n_tail)
{
    const uint64_t index[4] = { 0, 5, n_tokens - n_tail - 2, n_tokens };
    const struct ingot_doc_prov prov[3] = { { 0, 0, 1 }, { 1, 0, 2 }, { 1, 0, 1ull << 33 } };
    struct ingot_shard_header h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, INGOT_SHARD_MAGIC, 8);
    h.version = INGOT_SHARD_VERSION;
    h.header_size = INGOT_SHARD_HEADER_SIZE;
    h.endian_mark = INGOT_ENDIAN_MARK;
    h.token_width = width;
    h.vocab_size = width == 2 ? 50000 : 200000;
    h.bos_id = h.eos_id = h.pad_id = h.unk_id = -1;
    h.n_tokens = n_tokens;
    h.n_docs = 3;
    h.tokens_offset = INGOT_SHARD_HEADER_SIZE;
    h.index_offset = (h.tokens_offset + n_tokens * width + 7) & ~(uint64_t)7;
    h.prov_offset = h.index_offset + sizeof(index);
    h.file_size = h.prov_offset + sizeof(prov);
    h.index_checksum = ingot_xxh3(index, sizeof(index));
    h.prov_checksum = ingot_xxh3(prov, sizeof(prov));
    /* tokens_checksum left 0: computing it would read the 8+ GiB of holes */
    h.header_checksum = ingot_xxh3(&h, offsetof(struct ingot_shard_header, header_checksum));

    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    if (ftruncate(fd, (off_t)h.file_size) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    uint8_t b[64];
    CHECK_OK(fs_pwrite_full(fd, &h, sizeof(h), 0, path));
    /* the first document's 5 tokens: 1..5 */
    for (uint32_t i = 0; i < 5; i++) {
        uint32_t v = i + 1;
        memcpy(b + i * width, &v, width);
    }
    CHECK_OK(fs_pwrite_full(fd, b, 5 * width, h.tokens_offset, path));
    for (size_t i = 0; i < n_tail; i++)
        memcpy(b + i * width, &tail[i], width);
    CHECK_OK(fs_pwrite_full(fd, b, n_tail * width, h.tokens_offset + (n_tokens - n_tail) * width,
                            path));
    CHECK_OK(fs_pwrite_full(fd, index, sizeof(index), h.index_offset, path));
    CHECK_OK(fs_pwrite_full(fd, prov, sizeof(prov), h.prov_offset, path));
    close(fd);
    return 0;
}

static int run(const char *dir, uint32_t width)
{
    char name[32];
    snprintf(name, sizeof(name), "big-w%u.tok", width);
    char *path = tu_path(dir, name);
    const uint64_t n = (1ull << 32) + 10;
    const uint32_t tail[8] = { 7, 8, 9, 10, 11, 12, 40000, width == 2 ? 49999 : 199999 };
    int ret = make_big(path, width, n, tail, 8);
    if (ret) {
        fprintf(stderr, "cannot make a %llu-byte sparse file here (%s): skipping\n",
                (unsigned long long)(n * width), strerror(-ret));
        free(path);
        return TEST_SKIP;
    }
    shard_reader *r;
    CHECK_OK(shard_reader_open(path, &r));
    CHECK(shard_reader_n_tokens(r) == n && shard_reader_n_docs(r) == 3);
    const uint64_t *ix = shard_reader_doc_index(r);
    CHECK(ix[3] == n && ix[2] == n - 10);
    /* the last document: two zero tokens (a hole) then the tail */
    uint32_t got[10];
    shard_reader_copy_u32(r, ix[2], 10, got);
    CHECK(got[0] == 0 && got[1] == 0);
    CHECK(!memcmp(got + 2, tail, sizeof(tail)));
    CHECK(shard_reader_token(r, n - 1) == tail[7]);
    CHECK(shard_reader_token(r, 4) == 5);
    CHECK(shard_reader_doc_of_token(r, 4) == 0);
    CHECK(shard_reader_doc_of_token(r, 5) == 1);
    CHECK(shard_reader_doc_of_token(r, (1ull << 32) - 1) == 1);
    CHECK(shard_reader_doc_of_token(r, n - 10) == 2);
    CHECK(shard_reader_doc_of_token(r, n - 1) == 2);
    CHECK(shard_reader_doc_of_token(r, n) == 3);
    CHECK(shard_reader_doc_prov(r, 2)->record == 1ull << 33);
    shard_reader_close(r);

    /* cut 4 bytes off the end: the size check reports 64-bit sizes */
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    CHECK(ftruncate(fd, size - 4) == 0);
    close(fd);
    char expect[128];
    snprintf(expect, sizeof(expect), "file is %llu bytes but the header says %llu",
             (unsigned long long)size - 4, (unsigned long long)size);
    CHECK_FAIL(shard_reader_open(path, &r), INGOT_E_TRUNCATED, expect);
    unlink(path);
    free(path);
    printf("width %u: %llu tokens ok\n", width, (unsigned long long)n);
    return 0;
}

int main(void)
{
    if (sizeof(size_t) < 8) {
        fprintf(stderr, "32-bit host: cannot map an 8 GiB shard, skipping\n");
        return TEST_SKIP;
    }
    char *dir = tu_tmpdir("sparse");
    int ret = run(dir, 2);
    if (!ret)
        ret = run(dir, 4);
    tu_rm_rf(dir);
    free(dir);
    if (!ret)
        printf("ok\n");
    return ret;
}
