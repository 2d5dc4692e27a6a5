/* make-test-dataset: a miniature pretok for the dump tests. Each non-empty
 * line of TEXT is a document, encoded with MODEL, wrapped in BOS/EOS where
 * the model has them. Every Nth document goes to val; shards hold at most
 * --docs-per-shard documents.
 * usage: make-test-dataset MODEL TEXT OUTDIR [--val-every N] [--docs-per-shard N] [--width W]
 *        make-test-dataset --set-version SHARD V   (rewrite the version, reseal the header)
 *        make-test-dataset --set-vocab SHARD V     (rewrite the vocabulary size, reseal) */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <stddef.h>

#include "fsutil.h"
#include "ingot_hash.h"
#include "manifest.h"
#include "shard_writer.h"
#include "spm_shim.h"
#include "test_util.h"

struct out {
    shard_writer *w;
    uint64_t seq;
    size_t docs;
};

static void finish_shard(struct manifest *m, struct out *o, const char *dir, uint32_t split)
{
    if (!o->w)
        return;
    struct shard_summary sum;
    CHECK_OK(shard_writer_finish(o->w, &sum));
    o->w = NULL;
    char name[64];
    snprintf(name, sizeof(name), "%s-%06llu.tok", ingot_split_name(split),
             (unsigned long long)o->seq);
    struct manifest_shard ms = shard_summary_entry(name, split, &sum);
    CHECK_OK(manifest_add_shard(m, &ms));
    (void)dir;
    o->seq++;
    o->docs = 0;
}

/* A shard as a newer Ingot would write it (--set-version: another version),
 * or a buggy writer (--set-vocab: a vocabulary smaller than its ids); the
 * header checksum valid either way. */
static int set_field(const char *path, bool vocab, uint32_t value)
{
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    struct ingot_shard_header h;
    CHECK(pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h));
    if (vocab)
        h.vocab_size = value;
    else
        h.version = value;
    h.header_checksum = ingot_xxh3(&h, offsetof(struct ingot_shard_header, header_checksum));
    CHECK_OK(fs_pwrite_full(fd, &h, sizeof(h), 0, path));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && (!strcmp(argv[1], "--set-version") || !strcmp(argv[1], "--set-vocab")))
        return set_field(argv[2], !strcmp(argv[1], "--set-vocab"),
                         (uint32_t)strtoul(argv[3], NULL, 10));
    if (argc < 4) {
        fprintf(stderr, "usage: make-test-dataset MODEL TEXT OUTDIR [--val-every N] "
                "[--docs-per-shard N] [--width W]\n");
        return 2;
    }
    const char *model = argv[1], *text = argv[2], *dir = argv[3];
    unsigned val_every = 0, per_shard = 4, width = 0;
    for (int i = 4; i + 1 < argc; i += 2) {
        unsigned v = (unsigned)strtoul(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--val-every"))
            val_every = v;
        else if (!strcmp(argv[i], "--docs-per-shard"))
            per_shard = v ? v : 1;
        else if (!strcmp(argv[i], "--width"))
            width = v;
    }
    ingot_spm *spm;
    CHECK_OK(ingot_spm_load(model, &spm));
    CHECK_OK(fs_mkdir_p(dir));
    if (!width)
        width = ingot_spm_vocab_size(spm) <= 65536 ? 2 : 4;
    struct manifest *m = manifest_new();
    CHECK(m);
    CHECK_OK(manifest_set_command_line(m, argc, argv));
    m->token_width = width;
    struct manifest_tokenizer tk = {
        .file = (char *)model, .hash = ingot_spm_model_hash(spm),
        .type = (char *)ingot_tokenizer_type_name(ingot_spm_model_type(spm)),
        .vocab_size = ingot_spm_vocab_size(spm), .bos_id = ingot_spm_bos_id(spm),
        .eos_id = ingot_spm_eos_id(spm), .pad_id = ingot_spm_pad_id(spm),
        .unk_id = ingot_spm_unk_id(spm),
    };
    CHECK_OK(manifest_set_tokenizer(m, &tk));

    char *buf;
    size_t len;
    CHECK_OK(fs_read_all(text, &buf, &len));
    struct out outs[2] = { { 0 }, { 0 } };
    uint32_t *ids = NULL, *doc = NULL;
    size_t cap = 0, n_ids, doc_cap = 0;
    uint64_t line = 0, ndoc = 0, ntok = 0, empty = 0;
    for (char *p = buf; p < buf + len;) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
        line++;
        if (!ll) {
            empty++;
            char ex[64];
            snprintf(ex, sizeof(ex), "%s:%llu: empty", text, (unsigned long long)line);
            if (empty <= 3)
                CHECK_OK(manifest_add_skip_example(m, ex));
            p += ll + 1;
            continue;
        }
        CHECK_OK(ingot_spm_encode(spm, p, ll, &ids, &cap, &n_ids));
        if (n_ids + 2 > doc_cap) {
            doc_cap = n_ids + 2;
            doc = realloc(doc, doc_cap * sizeof(*doc));
            CHECK(doc);
        }
        size_t n = 0;
        if (tk.bos_id >= 0)
            doc[n++] = (uint32_t)tk.bos_id;
        memcpy(doc + n, ids, n_ids * sizeof(*ids));
        n += n_ids;
        if (tk.eos_id >= 0)
            doc[n++] = (uint32_t)tk.eos_id;
        uint32_t split = val_every && ndoc % val_every == val_every - 1 ? INGOT_SPLIT_VAL
                                                                        : INGOT_SPLIT_TRAIN;
        struct out *o = &outs[split];
        if (!o->w) {
            char name[64];
            snprintf(name, sizeof(name), "%s-%06llu.tok", ingot_split_name(split),
                     (unsigned long long)o->seq);
            char *path = tu_path(dir, name);
            struct shard_writer_opts wo = {
                .path = path, .token_width = width, .vocab_size = tk.vocab_size,
                .bos_id = tk.bos_id, .eos_id = tk.eos_id, .pad_id = tk.pad_id,
                .unk_id = tk.unk_id, .split = split, .tokenizer_type = ingot_spm_model_type(spm),
                .tokenizer_hash = tk.hash, .shard_seq = o->seq,
            };
            CHECK_OK(shard_writer_create(&wo, &o->w));
            free(path);
        }
        CHECK_OK(shard_writer_add_doc(o->w, doc, n, 0, line));
        ndoc++;
        ntok += n;
        if (++o->docs == per_shard)
            finish_shard(m, o, dir, split);
        p += ll + 1;
    }
    finish_shard(m, &outs[0], dir, INGOT_SPLIT_TRAIN);
    finish_shard(m, &outs[1], dir, INGOT_SPLIT_VAL);
    /* Shards enter the manifest as they finish, so train and val
     * interleave; each split stays in order, which is all readers need. */
    struct manifest_skip sk = { .reason = "empty", .count = empty };
    struct manifest_input in = { .name = (char *)text, .size = len, .n_docs = ndoc,
                                 .n_tokens = ntok, .skips = &sk, .n_skips = empty ? 1 : 0 };
    CHECK_OK(manifest_add_input(m, &in));
    char *mp = tu_path(dir, INGOT_MANIFEST_NAME);
    CHECK_OK(manifest_write(mp, m));
    printf("%llu documents, %llu tokens, %zu shards\n", (unsigned long long)ndoc,
           (unsigned long long)ntok, m->n_shards);
    free(mp);
    free(ids);
    free(doc);
    free(buf);
    manifest_free(m);
    ingot_spm_free(spm);
    return 0;
}
