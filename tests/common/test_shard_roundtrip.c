/* Writer -> reader round trip with random documents for both token widths,
 * an empty shard, and the writer's argument checks. */
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "shard_reader.h"
#include "shard_writer.h"
#include "test_util.h"

struct doc {
    uint32_t *ids;
    size_t n;
    uint32_t file;
    uint64_t record;
};

static void roundtrip(const char *dir, uint32_t width, uint32_t vocab, uint64_t seed)
{
    char name[64];
    snprintf(name, sizeof(name), "rt-w%u-%llu.tok", width, (unsigned long long)seed);
    char *path = tu_path(dir, name);
    enum { NDOCS = 300 };
    struct doc docs[NDOCS];
    uint64_t total = 0;
    for (size_t d = 0; d < NDOCS; d++) {
        uint64_t r = tu_rand(&seed);
        /* mostly short, some empty, a few longer than the 1 MiB write buffer */
        size_t n = d % 97 == 5 ? 0 : d % 101 == 7 ? 300000 + r % 1000 : r % 700;
        docs[d].n = n;
        docs[d].ids = malloc((n ? n : 1) * sizeof(uint32_t));
        CHECK(docs[d].ids);
        for (size_t i = 0; i < n; i++)
            docs[d].ids[i] = (uint32_t)(tu_rand(&seed) % vocab);
        if (n)   /* hit the top of the range */
            docs[d].ids[0] = vocab - 1;
        docs[d].file = (uint32_t)(d % 3);
        docs[d].record = (d + 1) * 1000003ull + (width == 4 ? (1ull << 40) : 0);
        total += n;
    }
    struct shard_writer_opts o = {
        .path = path, .token_width = width, .vocab_size = vocab,
        .bos_id = 1, .eos_id = 2, .pad_id = -1, .unk_id = 0,
        .split = width == 2 ? INGOT_SPLIT_TRAIN : INGOT_SPLIT_VAL,
        .tokenizer_type = INGOT_TOK_BPE, .tokenizer_hash = 0xfedcba9876543210ull,
        .shard_seq = 7,
    };
    shard_writer *w;
    CHECK_OK(shard_writer_create(&o, &w));
    for (size_t d = 0; d < NDOCS; d++) {
        CHECK_OK(shard_writer_add_doc(w, docs[d].ids, docs[d].n, docs[d].file, docs[d].record));
        if (d == 10) {   /* a bad id is refused and nothing is appended */
            uint32_t bad[3] = { 1, vocab, 2 };
            uint64_t before = shard_writer_n_tokens(w);
            CHECK_FAIL(shard_writer_add_doc(w, bad, 3, 0, 1), INGOT_E_CORRUPT, "vocab_size");
            CHECK(shard_writer_n_tokens(w) == before);
            CHECK(shard_writer_n_docs(w) == d + 1);
        }
    }
    CHECK(shard_writer_n_tokens(w) == total);
    CHECK(shard_writer_n_docs(w) == NDOCS);
    struct stat st;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    CHECK(stat(path, &st) != 0);   /* nothing visible before finish */
    struct shard_summary sum;
    CHECK_OK(shard_writer_finish(w, &sum));
    CHECK(stat(tmp, &st) != 0);
    CHECK(stat(path, &st) == 0);
    CHECK((uint64_t)st.st_size == sum.file_size);
    CHECK(sum.n_tokens == total && sum.n_docs == NDOCS);

    shard_reader *r;
    CHECK_OK(shard_reader_open(path, &r));
    CHECK_OK(shard_reader_verify(r));
    const struct ingot_shard_header *h = shard_reader_header(r);
    CHECK(!memcmp(h->magic, INGOT_SHARD_MAGIC, 8));
    CHECK(h->version == INGOT_SHARD_VERSION && h->token_width == width);
    CHECK(h->vocab_size == vocab && h->bos_id == 1 && h->eos_id == 2 && h->pad_id == -1 &&
          h->unk_id == 0);
    CHECK(h->split == o.split && h->tokenizer_type == INGOT_TOK_BPE);
    CHECK(h->tokenizer_hash == o.tokenizer_hash && h->shard_seq == 7);
    CHECK(h->tokens_offset == 4096 && h->index_offset % 8 == 0);
    CHECK(h->tokens_checksum == sum.tokens_checksum && h->index_checksum == sum.index_checksum &&
          h->prov_checksum == sum.prov_checksum && h->header_checksum == sum.header_checksum);
    CHECK(shard_reader_n_tokens(r) == total && shard_reader_n_docs(r) == NDOCS);
    CHECK(!strcmp(shard_reader_path(r), path));
    const uint64_t *ix = shard_reader_doc_index(r);
    uint32_t *buf = malloc(400000 * sizeof(uint32_t));
    CHECK(buf);
    uint64_t at = 0;
    for (size_t d = 0; d < NDOCS; d++) {
        CHECK(ix[d] == at);
        CHECK(ix[d + 1] - ix[d] == docs[d].n);
        shard_reader_copy_u32(r, ix[d], docs[d].n, buf);
        CHECK(!memcmp(buf, docs[d].ids, docs[d].n * sizeof(uint32_t)));
        for (size_t i = 0; i < docs[d].n; i += 37) {
            CHECK(shard_reader_token(r, at + i) == docs[d].ids[i]);
            CHECK(shard_reader_doc_of_token(r, at + i) == d);
        }
        if (docs[d].n)
            CHECK(shard_reader_doc_of_token(r, at + docs[d].n - 1) == d);
        const struct ingot_doc_prov *p = shard_reader_doc_prov(r, d);
        CHECK(p->file_index == docs[d].file && p->record == docs[d].record && p->reserved == 0);
        at += docs[d].n;
    }
    CHECK(shard_reader_doc_of_token(r, total) == NDOCS);
    /* raw typed access to the mapping */
    if (width == 2)
        CHECK(((const uint16_t *)shard_reader_tokens(r))[ix[1]] == docs[1].ids[0]);
    else
        CHECK(((const uint32_t *)shard_reader_tokens(r))[ix[1]] == docs[1].ids[0]);
    shard_reader_close(r);
    free(buf);
    for (size_t d = 0; d < NDOCS; d++)
        free(docs[d].ids);
    free(path);
}

static void empty_shard(const char *dir)
{
    char *path = tu_path(dir, "empty.tok");
    struct shard_writer_opts o = { .path = path, .token_width = 2, .vocab_size = 10,
                                   .bos_id = -1, .eos_id = -1, .pad_id = -1, .unk_id = -1 };
    shard_writer *w;
    CHECK_OK(shard_writer_create(&o, &w));
    struct shard_summary sum;
    CHECK_OK(shard_writer_finish(w, &sum));
    CHECK(sum.n_docs == 0 && sum.n_tokens == 0 && sum.file_size == 4096 + 8);
    shard_reader *r;
    CHECK_OK(shard_reader_open(path, &r));
    CHECK_OK(shard_reader_verify(r));
    CHECK(shard_reader_n_docs(r) == 0 && shard_reader_n_tokens(r) == 0);
    CHECK(shard_reader_doc_index(r)[0] == 0);
    CHECK(shard_reader_doc_of_token(r, 0) == 0);
    shard_reader_close(r);
    free(path);
}

static void writer_args(const char *dir)
{
    char *path = tu_path(dir, "bad.tok");
    shard_writer *w = NULL;
    struct shard_writer_opts o = { .path = path, .token_width = 3, .vocab_size = 10,
                                   .bos_id = -1, .eos_id = -1, .pad_id = -1, .unk_id = -1 };
    CHECK_FAIL(shard_writer_create(&o, &w), INGOT_E_USAGE, "token_width");
    o.token_width = 2;
    o.vocab_size = 70000;
    CHECK_FAIL(shard_writer_create(&o, &w), INGOT_E_USAGE, "vocab_size");
    o.vocab_size = 10;
    o.eos_id = 10;
    CHECK_FAIL(shard_writer_create(&o, &w), INGOT_E_USAGE, "eos_id");
    o.eos_id = -1;
    o.split = 2;
    CHECK_FAIL(shard_writer_create(&o, &w), INGOT_E_USAGE, "split");
    o.split = 0;
    char *nodir = tu_path(dir, "no/such/dir/x.tok");
    o.path = nodir;
    CHECK_FAIL(shard_writer_create(&o, &w), -ENOENT, "no/such/dir/x.tok.tmp");
    /* abort removes the temp file and leaves no shard */
    o.path = path;
    CHECK_OK(shard_writer_create(&o, &w));
    uint32_t ids[2] = { 1, 2 };
    CHECK_OK(shard_writer_add_doc(w, ids, 2, 0, 1));
    shard_writer_abort(w);
    shard_writer_abort(NULL);
    struct stat st;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    CHECK(stat(path, &st) != 0 && stat(tmp, &st) != 0);
    shard_reader_close(NULL);
    free(nodir);
    free(path);
}

int main(void)
{
    char *dir = tu_tmpdir("rt");
    roundtrip(dir, 2, 1000, 1);
    roundtrip(dir, 2, 65536, 2);
    roundtrip(dir, 4, 100000, 3);
    roundtrip(dir, 4, 4000000000u, 4);
    empty_shard(dir);
    writer_args(dir);
    tu_rm_rf(dir);
    free(dir);
    printf("ok\n");
    return 0;
}
