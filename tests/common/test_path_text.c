/* The file helpers, the shard reader and writer and the manifest show the
 * paths they are given through term_text(): a path holding an escape
 * sequence (ESC ] 0 ; ... BEL, which retitles a terminal's window) and a
 * right-to-left override (U+202E) shows '?' in their place in the message,
 * none of those bytes in it. Paths come from the command line, directory
 * walks and manifests, and every program prints these messages; they were
 * raw in fs_write_full, fs_pwrite_full, fs_is_dir, fs_fsync_dir,
 * fs_remove_stale_temps, fs_write_atomic*, fs_mkdir_p*, shard_reader_open,
 * shard_reader_check_header, shard_reader_verify, shard_writer_create,
 * manifest_parse and manifest_write, and in the dataset opener's
 * (dataset_read_manifest, dataset_open, dataset_open_shard,
 * dataset_check_totals, dataset_check_map_budget). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "dataset.h"
#include "fsutil.h"
#include "manifest.h"
#include "shard_reader.h"
#include "shard_writer.h"
#include "test_util.h"

#define H "n\x1b]0;pwned\x07\xe2\x80\xaeh"   /* ESC ] 0 ; pwned BEL U+202E */
#define S "n?]0;pwned??h"                     /* as term_text shows it */

static char *dir;
static int failures;

/* ret must be a failure whose message holds want (S for H) and none of
 * ESC, BEL or U+202E; counted, so that every case is reported. */
static void expect(const char *what, int ret, const char *want)
{
    const char *m = ingot_errmsg();
    if (!ret || !strstr(m, want) || strchr(m, '\x1b') || strchr(m, '\x07') ||
        strstr(m, "\xe2\x80\xae")) {
        fprintf(stderr, "%s: returned %d, want a failure saying \"%s\" and no raw byte: %s\n",
                what, ret, want, m);
        failures++;
    }
    ingot_clear_err();
}

static void file_helpers(void)
{
    char *file = tu_path(dir, "f" H), *gone = tu_path(dir, "g" H "/x");
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    close(fd);
    expect("fs_mkdir_p on a file", fs_mkdir_p(file), "f" S ": exists and is not a directory");
    char *sub = tu_path(file, "x");
    expect("fs_mkdir_p under a file", fs_mkdir_p(sub), "f" S "/x: cannot create directory");
    expect("fs_write_atomic into no directory", fs_write_atomic(gone, "x", 1),
           "g" S "/x: cannot write it (creating its temporary file x.tmp.");
    expect("fs_fsync_dir of no directory", fs_fsync_dir(gone),
           "g" S ": cannot open directory to fsync");
    char *loop = tu_path(dir, "l" H);
    CHECK(symlink(loop, loop) == 0);
    expect("fs_is_dir of a link to itself", fs_is_dir(loop), "l" S ": ");
    free(loop);
    expect("fs_write_full to a closed fd", fs_write_full(-1, "x", 1, file),
           "f" S ": write failed");
    expect("fs_pwrite_full to a closed fd", fs_pwrite_full(-1, "x", 1, 0, file),
           "f" S ": write at offset 0 failed");
    int removed;
    char *nodir = tu_path(dir, "d" H);
    expect("fs_remove_stale_temps of no directory",
           fs_remove_stale_temps(nodir, NULL, false, "temp files of", "run", &removed),
           "d" S ": cannot list");
    free(nodir);
    free(sub);
    free(file);
    free(gone);
}

static void shards(void)
{
    char *gone = tu_path(dir, "g" H "/s.tok"), *path = tu_path(dir, "s" H ".tok");
    struct shard_writer_opts o = { .path = gone, .token_width = 2, .vocab_size = 1000,
                                   .bos_id = 1, .eos_id = 2, .pad_id = -1, .unk_id = 0 };
    shard_writer *w = NULL;
    expect("shard_writer_create into no directory", shard_writer_create(&o, &w),
           "g" S "/s.tok.tmp: cannot create");
    o.vocab_size = 0;
    expect("shard_writer_create, no vocabulary", shard_writer_create(&o, &w),
           "g" S "/s.tok: vocab_size is 0");
    o.vocab_size = 1000;
    o.path = path;
    CHECK_OK(shard_writer_create(&o, &w));
    uint32_t ids[3] = { 1, 5000, 2 };
    expect("shard_writer_add_doc, an id past the vocabulary",
           shard_writer_add_doc(w, ids, 3, 0, 1), "s" S ".tok: document 0");
    ids[1] = 7;
    CHECK_OK(shard_writer_add_doc(w, ids, 3, 0, 1));
    CHECK_OK(shard_writer_finish(w, NULL));
    /* one token's byte flipped: verify names the shard */
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    uint8_t b;
    CHECK(pread(fd, &b, 1, INGOT_SHARD_HEADER_SIZE) == 1);
    b ^= 0xFF;
    CHECK(pwrite(fd, &b, 1, INGOT_SHARD_HEADER_SIZE) == 1);
    shard_reader *r = NULL;
    CHECK_OK(shard_reader_open(path, &r));
    expect("shard_reader_verify, a flipped token", shard_reader_verify(r),
           "s" S ".tok: field tokens_checksum");
    shard_reader_close(r);
    /* the magic: the same message from the reader and on bytes in memory */
    CHECK(pwrite(fd, "NOTASHRD", 8, 0) == 8);
    close(fd);
    expect("shard_reader_open, not a shard", shard_reader_open(path, &r),
           "s" S ".tok: field magic: not an Ingot shard");
    CHECK(!r);
    expect("shard_reader_check_header, not a shard",
           shard_reader_check_header(H, "NOTASHRD", 8, 8), S ": field magic");
    free(gone);
    free(path);
}

static void manifests(void)
{
    struct manifest *m = NULL;
    expect("manifest_parse, not JSON", manifest_parse(H, "{", 1, &m), S ": line 1 column 1");
    static const char wrong[] = "{\"format\": 1}";
    expect("manifest_parse, not a manifest", manifest_parse(H, wrong, sizeof(wrong) - 1, &m),
           S ": key format");
    CHECK(!m);
    m = manifest_new();
    CHECK(m);
    char *gone = tu_path(dir, "g" H "/manifest.json");
    expect("manifest_write into no directory", manifest_write(gone, m), "g" S "/manifest.json");
    manifest_free(m);
    free(gone);
}

/* A dataset of one shard in a directory named with H; its manifest. */
static struct manifest *one_shard(const char *ds)
{
    CHECK_OK(fs_mkdir_p(ds));
    char *path = tu_path(ds, "train-000000.tok");
    struct shard_writer_opts o = { .path = path, .token_width = 2, .vocab_size = 300,
                                   .bos_id = 1, .eos_id = 2, .pad_id = -1, .unk_id = 0,
                                   .tokenizer_type = INGOT_TOK_UNIGRAM, .tokenizer_hash = 7 };
    shard_writer *w = NULL;
    CHECK_OK(shard_writer_create(&o, &w));
    uint32_t ids[3] = { 1, 9, 2 };
    CHECK_OK(shard_writer_add_doc(w, ids, 3, 0, 1));
    struct shard_summary sum;
    CHECK_OK(shard_writer_finish(w, &sum));
    free(path);
    struct manifest *m = manifest_new();
    CHECK(m);
    m->token_width = 2;
    struct manifest_tokenizer t = { .file = "tok.model", .hash = 7, .type = "unigram",
                                    .vocab_size = 300, .bos_id = 1, .eos_id = 2, .pad_id = -1,
                                    .unk_id = 0 };
    CHECK_OK(manifest_set_tokenizer(m, &t));
    struct manifest_shard ms = shard_summary_entry("train-000000.tok", INGOT_SPLIT_TRAIN, &sum);
    CHECK_OK(manifest_add_shard(m, &ms));
    struct manifest_input in = { .name = "c.txt", .size = 10, .n_docs = 1, .n_tokens = 3 };
    CHECK_OK(manifest_add_input(m, &in));
    return m;
}

static void datasets(void)
{
    char *ds = tu_path(dir, "d" H), *gone = tu_path(dir, "g" H), *mp;
    struct manifest *m = one_shard(ds), *read = NULL;
    struct dataset *d = NULL;
    shard_reader *r = NULL;
    expect("dataset_read_manifest, no such directory", dataset_read_manifest(gone, &read),
           "g" S ": no such dataset directory");
    expect("dataset_read_manifest, no manifest", dataset_read_manifest(ds, &read),
           "d" S ": no manifest.json; is this a dataset");
    char *st = tu_path(ds, INGOT_PRETOK_STATE_NAME);
    CHECK_OK(fs_write_atomic(st, "{}", 2));
    expect("dataset_read_manifest, an unfinished conversion", dataset_read_manifest(ds, &read),
           "d" S ": no manifest.json yet: an ingot-pretok conversion");
    CHECK(unlink(st) == 0);
    free(st);
    char *shard = tu_path(ds, "train-000000.tok");
    expect("dataset_read_manifest, a file", dataset_read_manifest(shard, &read),
           "train-000000.tok: not a dataset directory");
    CHECK(!strstr(ingot_errmsg(), "\x1b"));
    /* the shard and the manifest disagree: the shard's path in the message */
    m->shards[0].n_tokens++;
    expect("dataset_open_shard, n_tokens", dataset_open_shard(ds, m, 0, 0, false, &r),
           "d" S "/train-000000.tok: field n_tokens");
    m->shards[0].n_tokens--;
    m->shards[0].split = INGOT_SPLIT_VAL;
    expect("dataset_open_shard, split", dataset_open_shard(ds, m, 0, 0, false, &r),
           "d" S "/train-000000.tok: field split");
    m->shards[0].split = INGOT_SPLIT_TRAIN;
    m->tokenizer.bos_id = 5;
    expect("dataset_open_shard, bos_id", dataset_open_shard(ds, m, 0, 0, false, &r),
           "d" S "/train-000000.tok: field bos_id");
    m->tokenizer.bos_id = 1;
    size_t n_inputs = m->n_inputs;
    m->n_inputs = 0;
    expect("dataset_open_shard, provenance", dataset_open_shard(ds, m, 0, 0, true, &r),
           "d" S "/train-000000.tok: field provenance");
    m->n_inputs = n_inputs;
    char *name = m->shards[0].file;
    m->shards[0].file = (char *)"../x.tok";
    expect("dataset_open_shard, a shard outside", dataset_open_shard(ds, m, 0, 0, false, &r),
           "d" S "/manifest.json: key shards[0].file");
    m->shards[0].file = name;
    m->total_docs[0]++;
    expect("dataset_check_totals", dataset_check_totals(ds, m), "d" S "/manifest.json: key inputs");
    m->total_docs[0]--;
    expect("dataset_check_map_budget", dataset_check_map_budget(ds, (size_t)1 << 40),
           "d" S ": 1099511627776 shards");
    /* through dataset_open: a manifest that disagrees with its shard */
    CHECK_OK(manifest_write(mp = tu_path(ds, INGOT_MANIFEST_NAME), m));
    CHECK_OK(dataset_open(ds, true, &d));
    dataset_close(d);
    d = NULL;
    m->tokenizer.eos_id = 5;
    CHECK_OK(manifest_write(mp, m));
    expect("dataset_open, eos_id", dataset_open(ds, false, &d),
           "d" S "/train-000000.tok: field eos_id");
    CHECK(!d);
    manifest_free(m);
    free(mp);
    free(shard);
    free(gone);
    free(ds);
}

int main(void)
{
    dir = tu_tmpdir("path-text");
    file_helpers();
    shards();
    manifests();
    datasets();
    tu_rm_rf(dir);
    free(dir);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("ok: file helpers, shard reader and writer, manifest, dataset: paths through "
           "term_text\n");
    return 0;
}
