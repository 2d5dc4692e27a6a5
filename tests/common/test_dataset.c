/* dataset_open(): a directory of shards checked against its manifest. Each
 * disagreement between a shard and the manifest, a missing or misnamed
 * shard, provenance pointing nowhere and damaged bytes are refused with a
 * message naming the file and the field. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "dataset.h"
#include "fsutil.h"
#include "ingot_hash.h"
#include "shard_writer.h"
#include "test_util.h"

#define TOK_HASH 0x1234abcd5678ef00ull

static char *root;
static int n_made;

/* Shards: train-000000, val-000000, train-000001 (manifest order
 * interleaved, as a parallel writer may finish them). prov_file is the
 * input index recorded for every document. */
static char *build(uint32_t prov_file)
{
    char name[32];
    snprintf(name, sizeof(name), "ds%d", n_made++);
    char *dir = tu_path(root, name);
    CHECK_OK(fs_mkdir_p(dir));
    struct manifest *m = manifest_new();
    m->token_width = 2;
    struct manifest_tokenizer t = { .file = "tok.model", .hash = TOK_HASH, .type = "unigram",
                                    .vocab_size = 300, .bos_id = 1, .eos_id = 2, .pad_id = -1,
                                    .unk_id = 0 };
    CHECK_OK(manifest_set_tokenizer(m, &t));
    static const struct { const char *file; uint32_t split; uint64_t seq; int docs; } shards[] = {
        { "train-000000.tok", INGOT_SPLIT_TRAIN, 0, 5 },
        { "val-000000.tok", INGOT_SPLIT_VAL, 0, 2 },
        { "train-000001.tok", INGOT_SPLIT_TRAIN, 1, 3 },
    };
    uint64_t seed = 9, docs = 0, toks = 0;
    for (size_t s = 0; s < 3; s++) {
        char *path = tu_path(dir, shards[s].file);
        struct shard_writer_opts o = { .path = path, .token_width = 2, .vocab_size = 300,
                                       .bos_id = 1, .eos_id = 2, .pad_id = -1, .unk_id = 0,
                                       .split = shards[s].split,
                                       .tokenizer_type = INGOT_TOK_UNIGRAM,
                                       .tokenizer_hash = TOK_HASH, .shard_seq = shards[s].seq };
        shard_writer *w;
        CHECK_OK(shard_writer_create(&o, &w));
        for (int d = 0; d < shards[s].docs; d++) {
            uint32_t ids[20];
            size_t n = 1 + (size_t)(tu_rand(&seed) % 20);
            for (size_t i = 0; i < n; i++)
                ids[i] = (uint32_t)(tu_rand(&seed) % 300);
            CHECK_OK(shard_writer_add_doc(w, ids, n, prov_file, (uint64_t)d + 1));
            docs++;
            toks += n;
        }
        struct shard_summary sum;
        CHECK_OK(shard_writer_finish(w, &sum));
        struct manifest_shard ms = shard_summary_entry(shards[s].file, shards[s].split, &sum);
        CHECK_OK(manifest_add_shard(m, &ms));
        free(path);
    }
    struct manifest_input in = { .name = "corpus.txt", .size = 1000, .n_docs = docs,
                                 .n_tokens = toks };
    CHECK_OK(manifest_add_input(m, &in));
    char *mp = tu_path(dir, INGOT_MANIFEST_NAME);
    CHECK_OK(manifest_write(mp, m));
    manifest_free(m);
    free(mp);
    return dir;
}

static struct manifest *load_manifest(const char *dir)
{
    char *mp = tu_path(dir, INGOT_MANIFEST_NAME);
    struct manifest *m;
    CHECK_OK(manifest_read(mp, &m));
    free(mp);
    return m;
}

static void save_manifest(const char *dir, struct manifest *m)
{
    char *mp = tu_path(dir, INGOT_MANIFEST_NAME);
    CHECK_OK(manifest_write(mp, m));
    free(mp);
    manifest_free(m);
}

/* Open with and without verify: expect want (0 = success) at the first
 * mode that fails; at_open says whether the cheap open already fails. */
static void expect(const char *dir, bool at_open, int want, const char *substr)
{
    struct dataset *ds = NULL;
    if (!at_open) {
        CHECK_OK(dataset_open(dir, false, &ds));
        dataset_close(ds);
        ds = NULL;
    }
    ingot_clear_err();
    int ret = dataset_open(dir, true, &ds);
    const char *msg = ingot_errmsg();
    if (ret != want || !strstr(msg, substr)) {
        fprintf(stderr, "%s: expected %d with \"%s\", got %d: %s\n", dir, want, substr, ret, msg);
        exit(1);
    }
    CHECK(ds == NULL);
    printf("%s\n", msg);
}

/* A fresh dataset whose shard is replaced by a FIFO or a directory. */
static void shard_not_regular(const char *shard, bool fifo, const char *substr)
{
    char *dir = build(0), *p = tu_path(dir, shard);
    CHECK(unlink(p) == 0 && (fifo ? mkfifo(p, 0644) : mkdir(p, 0755)) == 0);
    expect(dir, true, INGOT_E_FORMAT, substr);
    free(p);
    free(dir);
}

static long long count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    long long n = 0;
    int c;
    if (!f)
        return -1;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* A dataset of more shards than the process has memory mappings left
 * (vm.max_map_count): refused before any shard is mapped, naming the limit
 * and how to raise it; a bare "mmap failed: Cannot allocate memory" named
 * one shard before. The mappings are used up with single pages of
 * alternating protection (so that neighbours never merge) until the kernel
 * refuses; then one is given back, so one mapping is free. Skipped
 * where the limit is far beyond the default (too many to use up) or under
 * ASan (its allocator maps memory on demand, so a malloc would fail first). */
static void map_budget(void)
{
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TD_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(TD_ASAN)
    printf("map budget: skipped under ASan\n");
    return;
#else
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    long long limit = -1;
    if (f) {
        if (fscanf(f, "%lld", &limit) != 1)
            limit = -1;
        fclose(f);
    }
    long long used = count_maps();
    if (limit <= 0 || used < 0 || limit > (1 << 20)) {
        printf("map budget: vm.max_map_count %lld: skipped\n", limit);
        return;
    }
    char *dir = build(0);
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), cap = (size_t)(limit - used) + 64, n = 0;
    void **pages = malloc(cap * sizeof(*pages));
    CHECK(pages != NULL);
    for (; n < cap; n++) {
        pages[n] = mmap(NULL, pg, n % 2 ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
        if (pages[n] == MAP_FAILED) {
            CHECK(errno == ENOMEM);
            break;
        }
    }
    CHECK(n < cap && n > 0);
    CHECK(munmap(pages[--n], pg) == 0);   /* a page of its own: one mapping free */
    struct dataset *ds = NULL;
    ingot_clear_err();
    int ret = dataset_open(dir, false, &ds);
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", ingot_errmsg());
    while (n > 0)
        CHECK(munmap(pages[--n], pg) == 0);
    free(pages);
    if (ret != -ENOMEM || !strstr(msg, "3 shards") || !strstr(msg, "vm.max_map_count")) {
        fprintf(stderr, "map budget: expected -ENOMEM naming the shards and vm.max_map_count, "
                "got %d: %s\n", ret, msg);
        exit(1);
    }
    CHECK(ds == NULL);
    printf("%s\n", msg);
    CHECK_OK(dataset_open(dir, false, &ds));   /* with the mappings back */
    dataset_close(ds);
    free(dir);
#endif
}

/* s contains every one of the NULL-terminated substrings. */
static bool has_all(const char *s, ...)
{
    va_list ap;
    va_start(ap, s);
    bool ok = s != NULL;
    for (const char *w; ok && (w = va_arg(ap, const char *));)
        if (!strstr(s, w)) {
            fprintf(stderr, "\"%s\" lacks \"%s\"\n", s, w);
            ok = false;
        }
    va_end(ap);
    return ok;
}

/* Which model dataset_tokenizer_pick() chooses (what docs, ingot-train and
 * merge load; the Python reader chooses the same): the first candidate of
 * the manifest's hash. A replaced copy (another hash, as a FIFO) is passed
 * over for the model given to pretok, with a note naming it, why, and the
 * cp that puts the copy back (the C readers stopped at the first readable
 * candidate and refused it, the Python one used the source); none of that
 * hash: refused, naming every candidate tried and why. */
static void tokenizer_pick(void)
{
    char *dir = tu_path(root, "pick"), *copy = tu_path(dir, INGOT_TOKENIZER_NAME);
    char *src = tu_path(root, "pick-src.model");
    CHECK_OK(fs_mkdir_p(dir));
    static const char good[] = "the model the shards were made with", stale[] = "another model";
    CHECK_OK(fs_write_atomic(src, good, sizeof(good)));
    CHECK_OK(fs_write_atomic(copy, stale, sizeof(stale)));
    uint64_t hs = ingot_xxh3(stale, sizeof(stale));
    struct manifest_tokenizer t = { .file = INGOT_TOKENIZER_NAME, .source = src,
                                    .hash = ingot_xxh3(good, sizeof(good)) };
    char *found = NULL, *note = NULL, w[1024], cpw[2048];
    snprintf(w, sizeof(w), "%s: tokenizer hash %016llx, not the model the dataset was made with",
             copy, (unsigned long long)hs);
    snprintf(cpw, sizeof(cpw), "put the copy back: cp %s %s", src, copy);
    /* a stale copy beside the good source: the source, said */
    CHECK_OK(dataset_tokenizer_pick(dir, &t, &found, &note));
    CHECK(found && !strcmp(found, src));
    CHECK(has_all(note, w, "decoding with the model given to ingot-pretok, ", src,
                  " (tokenizer.source), which has the dataset's hash", cpw, (char *)NULL));
    free(found);
    free(note);
    /* the good copy: no note, whatever the source is */
    CHECK_OK(fs_write_atomic(copy, good, sizeof(good)));
    CHECK_OK(dataset_tokenizer_pick(dir, &t, &found, &note));
    CHECK(!strcmp(found, copy) && note == NULL);
    free(found);
    /* the copy gone: the source, said */
    CHECK(unlink(copy) == 0);
    CHECK_OK(dataset_tokenizer_pick(dir, &t, &found, &note));
    snprintf(w, sizeof(w), "%s: not found", copy);
    CHECK(!strcmp(found, src) && has_all(note, w, "decoding with the model given", cpw,
                                         (char *)NULL));
    free(found);
    free(note);
    /* a FIFO where the copy belongs: passed over (not opened for long) */
    CHECK(mkfifo(copy, 0644) == 0);
    CHECK_OK(dataset_tokenizer_pick(dir, &t, &found, &note));
    CHECK(!strcmp(found, src) && has_all(note, copy, ": is a FIFO", (char *)NULL));
    free(found);
    free(note);
    CHECK(unlink(copy) == 0);
    /* a stale copy and a changed source: refused, both named with why */
    CHECK_OK(fs_write_atomic(copy, stale, sizeof(stale)));
    CHECK_OK(fs_write_atomic(src, stale, sizeof(stale)));
    snprintf(w, sizeof(w), "%s: tokenizer hash %016llx, not the model", copy,
             (unsigned long long)hs);
    snprintf(cpw, sizeof(cpw), "%s (tokenizer.source): tokenizer hash %016llx: it has changed "
             "since ingot-pretok read it", src, (unsigned long long)hs);
    CHECK_FAIL(dataset_tokenizer_pick(dir, &t, &found, &note), INGOT_E_MISMATCH, w);
    CHECK(found == NULL && note == NULL);
    CHECK(has_all(ingot_errmsg(), cpw, "tokenizer.model: not found", "none has the dataset's hash",
                  "pass the model the dataset was made with", (char *)NULL));
    /* nothing there: -ENOENT, every path tried */
    CHECK(unlink(copy) == 0 && unlink(src) == 0);
    snprintf(w, sizeof(w), "not found: tried %s, tokenizer.model, %s (tokenizer.source)", copy,
             src);
    CHECK_FAIL(dataset_tokenizer_pick(dir, &t, &found, &note), -ENOENT, w);
    /* the manifest's names with escape sequences: shown with '?' */
    t.file = "t\033[2J.model";
    t.source = "/nowhere/s\xc2\x9b" "2J.model";
    CHECK_FAIL(dataset_tokenizer_pick(dir, &t, &found, &note), -ENOENT, "t?[2J.model");
    CHECK(has_all(ingot_errmsg(), "/nowhere/s?2J.model (tokenizer.source)", (char *)NULL));
    CHECK(!strchr(ingot_errmsg(), '\033') && !strstr(ingot_errmsg(), "\xc2\x9b"));
    /* none recorded (import-bin --vocab) */
    t.file = NULL;
    CHECK_FAIL(dataset_tokenizer_pick(dir, &t, &found, &note), INGOT_E_TOKENIZER,
               "key tokenizer.file: not recorded");
    free(src);
    free(copy);
    free(dir);
}

/* The one lookup that docs, ingot-train and merge (through
 * dataset_tokenizer_pick()) and ingot-dump verify judge by: every
 * candidate in order, each path once, whether it is inside the dataset,
 * what is there, and the first of the hash; nothing read past it (the
 * source of a dataset whose copy is good). */
static void tokenizer_lookup(void)
{
    char *dir = tu_path(root, "lookup"), *copy = tu_path(dir, "old.model");
    char *old = tu_path(root, "old.model"), *src = tu_path(root, "lookup-src.model");
    CHECK_OK(fs_mkdir_p(dir));
    static const char good[] = "the model of the shards", other[] = "a model of another hash";
    CHECK_OK(fs_write_atomic(old, other, sizeof(other)));
    CHECK_OK(fs_write_atomic(copy, good, sizeof(good)));
    /* an older manifest: tokenizer.file the absolute path given to pretok */
    struct manifest_tokenizer t = { .file = old, .source = src,
                                    .hash = ingot_xxh3(good, sizeof(good)) };
    struct dataset_tok_lookup lk;
    CHECK_OK(dataset_tokenizer_lookup(dir, &t, &lk));
    CHECK(lk.n == 3 && lk.use == 1);
    CHECK(!strcmp(lk.cand[0].path, old) && !lk.cand[0].inside && !lk.cand[0].source &&
          lk.cand[0].state == DATASET_TOK_OTHER &&
          lk.cand[0].hash == ingot_xxh3(other, sizeof(other)));
    CHECK(!strcmp(lk.cand[1].path, copy) && lk.cand[1].inside &&
          lk.cand[1].state == DATASET_TOK_MATCH);
    CHECK(!strcmp(lk.cand[2].path, src) && lk.cand[2].source &&
          lk.cand[2].state == DATASET_TOK_UNTRIED);
    dataset_tokenizer_lookup_free(&lk);
    /* a FIFO at the old path, the copy gone, the source good */
    CHECK(unlink(old) == 0 && mkfifo(old, 0644) == 0 && unlink(copy) == 0);
    CHECK_OK(fs_write_atomic(src, good, sizeof(good)));
    CHECK_OK(dataset_tokenizer_lookup(dir, &t, &lk));
    CHECK(lk.n == 3 && lk.use == 2);
    CHECK(lk.cand[0].state == DATASET_TOK_UNREADABLE && lk.cand[0].err == INGOT_E_FORMAT &&
          !strncmp(lk.cand[0].why, "is a FIFO", 9));
    CHECK(lk.cand[1].state == DATASET_TOK_MISSING && lk.cand[2].state == DATASET_TOK_MATCH);
    dataset_tokenizer_lookup_free(&lk);
    /* pretok's copy by its relative name: inside first, then as given (the
     * working directory), its base name (the same path) once; none there */
    t.file = INGOT_TOKENIZER_NAME;
    t.source = NULL;
    CHECK_OK(dataset_tokenizer_lookup(dir, &t, &lk));
    CHECK(lk.n == 2 && lk.use == 2 && lk.cand[0].inside && !lk.cand[1].inside &&
          !strcmp(lk.cand[1].path, INGOT_TOKENIZER_NAME) &&
          lk.cand[0].state == DATASET_TOK_MISSING);
    dataset_tokenizer_lookup_free(&lk);
    dataset_tokenizer_lookup_free(NULL);
    t.file = "";
    CHECK_FAIL(dataset_tokenizer_lookup(dir, &t, &lk), INGOT_E_TOKENIZER, "not recorded");
    CHECK(unlink(old) == 0 && unlink(src) == 0);
    free(old);
    free(src);
    free(copy);
    free(dir);
}

int main(void)
{
    root = tu_tmpdir("dataset");
    char *dir = build(0);

    struct dataset *ds;
    CHECK_OK(dataset_open(dir, true, &ds));
    CHECK(ds->n_shards == 3 && !strcmp(ds->dir, dir));
    size_t idx[4];
    CHECK(dataset_split_shards(ds, INGOT_SPLIT_TRAIN, idx, 4) == 2 && idx[0] == 0 && idx[1] == 2);
    CHECK(dataset_split_shards(ds, INGOT_SPLIT_VAL, idx, 4) == 1 && idx[0] == 1);
    CHECK(shard_reader_n_docs(ds->shards[2]) == 3);
    CHECK(ds->manifest->total_docs[0] == 8 && ds->manifest->total_docs[1] == 2);
    dataset_close(ds);
    dataset_close(NULL);
    free(dir);

    map_budget();

    struct manifest *m;
    char *a, *b;

    /* a checksum recorded in the manifest differs from the shard's */
    dir = build(0);
    m = load_manifest(dir);
    m->shards[2].tokens_checksum ^= 1;
    save_manifest(dir, m);
    expect(dir, true, INGOT_E_MISMATCH, "train-000001.tok: field tokens_checksum");
    free(dir);

    /* the tokenizer in the manifest is not the one the shards were made with */
    dir = build(0);
    m = load_manifest(dir);
    m->tokenizer.hash = 77;
    save_manifest(dir, m);
    expect(dir, true, INGOT_E_MISMATCH, "train-000000.tok: field tokenizer_hash");
    free(dir);

    /* a shard swapped for another valid one */
    dir = build(0);
    a = tu_path(dir, "train-000000.tok");
    b = tu_path(dir, "train-000001.tok");
    CHECK(rename(b, a) == 0);
    expect(dir, true, INGOT_E_MISMATCH, "train-000000.tok: field n_tokens");
    /* ... and now train-000001.tok is missing */
    m = load_manifest(dir);
    m->shards[0].file[6] = '9';   /* train-900000.tok: not there */
    save_manifest(dir, m);
    expect(dir, true, -ENOENT, "train-900000.tok");
    free(a);
    free(b);
    free(dir);

    /* train shards listed out of order */
    dir = build(0);
    m = load_manifest(dir);
    struct manifest_shard t = m->shards[0];
    m->shards[0] = m->shards[2];
    m->shards[2] = t;
    save_manifest(dir, m);
    expect(dir, true, INGOT_E_MISMATCH, "train-000001.tok: field shard_seq");
    free(dir);

    /* a shard name that leaves the directory */
    dir = build(0);
    m = load_manifest(dir);
    free(m->shards[1].file);
    m->shards[1].file = strdup("../val-000000.tok");
    save_manifest(dir, m);
    expect(dir, true, INGOT_E_JSON, "key shards[1].file");
    free(dir);

    /* split recorded differently */
    dir = build(0);
    m = load_manifest(dir);
    m->shards[1].split = INGOT_SPLIT_TRAIN;
    m->shards[2].split = INGOT_SPLIT_VAL;
    save_manifest(dir, m);
    expect(dir, true, INGOT_E_MISMATCH, "val-000000.tok: field split");
    free(dir);

    /* a flipped token byte: the cheap open passes, verify catches it */
    dir = build(0);
    a = tu_path(dir, "val-000000.tok");
    int fd = open(a, O_RDWR);
    CHECK(fd >= 0);
    uint8_t v;
    CHECK(pread(fd, &v, 1, 4096 + 3) == 1);
    v ^= 0x20;
    CHECK(pwrite(fd, &v, 1, 4096 + 3) == 1);
    close(fd);
    expect(dir, false, INGOT_E_CHECKSUM, "val-000000.tok: field tokens_checksum");
    free(a);
    free(dir);

    /* provenance names an input the manifest does not list */
    dir = build(4);
    expect(dir, false, INGOT_E_CORRUPT, "train-000000.tok: field provenance");
    free(dir);

    /* the inputs do not add up to the shards */
    dir = build(0);
    m = load_manifest(dir);
    m->inputs[0].n_docs++;
    save_manifest(dir, m);
    expect(dir, false, INGOT_E_MISMATCH, "key inputs");
    free(dir);

    /* Not regular files where the manifest names a shard, where the
     * manifest should be, and given as the tokenizer: each refused at once
     * (a FIFO must not block the open; the alarm turns a hang into a
     * failure), naming what the path is. */
    alarm(10);
    shard_not_regular("train-000001.tok", false, "train-000001.tok: is a directory");
    shard_not_regular("train-000000.tok", true, "train-000000.tok: is a FIFO");
    dir = build(0);
    CHECK_OK(dataset_open(dir, false, &ds));
    a = tu_path(dir, "tok.model");
    CHECK(mkfifo(a, 0644) == 0);
    struct ingot_spm *spm = NULL;
    CHECK_FAIL(dataset_load_tokenizer(ds, NULL, &spm, NULL, NULL), INGOT_E_FORMAT, "is a FIFO");
    CHECK(spm == NULL);
    dataset_close(ds);
    /* a manifest naming a device as its tokenizer: /dev/zero never ends */
    m = load_manifest(dir);
    free(m->tokenizer.file);
    m->tokenizer.file = strdup("/dev/zero");
    save_manifest(dir, m);
    CHECK_OK(dataset_open(dir, false, &ds));
    CHECK_FAIL(dataset_load_tokenizer(ds, NULL, &spm, NULL, NULL), INGOT_E_FORMAT,
               "/dev/zero: is a character device");
    dataset_close(ds);
    b = tu_path(dir, INGOT_MANIFEST_NAME);
    CHECK(unlink(b) == 0 && mkfifo(b, 0644) == 0);
    expect(dir, true, INGOT_E_FORMAT, "manifest.json: is a FIFO");
    free(a);
    free(b);
    free(dir);
    alarm(0);

    /* Where a dataset's tokenizer is looked for: a relative name inside the
     * dataset first (pretok's copy), then as given, then its base name in
     * the dataset; an absolute one as given first. */
    char *cand[3];
    size_t nc;
    CHECK_OK(dataset_tokenizer_candidates("/d/s", "tokenizer.model", cand, &nc));
    CHECK(nc == 3 && !strcmp(cand[0], "/d/s/tokenizer.model") &&
          !strcmp(cand[1], "tokenizer.model") && !strcmp(cand[2], "/d/s/tokenizer.model"));
    for (size_t i = 0; i < nc; i++)
        free(cand[i]);
    CHECK_OK(dataset_tokenizer_candidates("/d/s", "/m/tok.model", cand, &nc));
    CHECK(nc == 2 && !strcmp(cand[0], "/m/tok.model") && !strcmp(cand[1], "/d/s/tok.model"));
    for (size_t i = 0; i < nc; i++)
        free(cand[i]);

    /* The copy into a dataset: the bytes, checked against the hash given. */
    dir = tu_path(root, "copy");
    CHECK(fs_mkdir_p(dir) == 0);
    a = tu_path(root, "src.model");
    static const char model_bytes[] = "not really a model, but bytes to copy";
    CHECK_OK(fs_write_atomic(a, model_bytes, sizeof(model_bytes)));
    uint64_t h = ingot_xxh3(model_bytes, sizeof(model_bytes));
    b = tu_path(dir, INGOT_TOKENIZER_NAME);
    CHECK_FAIL(dataset_copy_tokenizer(dir, a, h ^ 1), INGOT_E_MISMATCH, "changed");
    CHECK(access(b, F_OK) != 0);
    CHECK_OK(dataset_copy_tokenizer(dir, a, h));
    char *got = NULL;
    size_t got_len = 0;
    CHECK_OK(fs_read_all(b, &got, &got_len));
    CHECK(got_len == sizeof(model_bytes) && !memcmp(got, model_bytes, got_len));
    free(got);
    CHECK_OK(dataset_copy_tokenizer(dir, a, h));      /* there already: nothing to do */
    free(a);
    free(b);
    free(dir);

    /* no such directory, a file, a directory without a manifest */
    dir = tu_path(root, "nope");
    expect(dir, true, -ENOENT, "no such dataset directory");
    CHECK(fs_mkdir_p(dir) == 0);
    expect(dir, true, -ENOENT, "no manifest.json");
    /* an unfinished conversion, then an unfinished merge: how to finish it */
    char *st = tu_path(dir, INGOT_MERGE_PLAN_NAME);
    CHECK_OK(fs_write_atomic(st, "{}", 2));
    expect(dir, true, -ENOENT, "merge into it is unfinished");
    free(st);
    st = tu_path(dir, INGOT_PRETOK_STATE_NAME);
    CHECK_OK(fs_write_atomic(st, "{}", 2));
    expect(dir, true, -ENOENT, "run the same ingot-pretok command again");
    free(st);
    free(dir);
    dir = build(0);
    a = tu_path(dir, "val-000000.tok");
    expect(a, true, -ENOTDIR, "not a dataset directory");
    free(a);
    free(dir);

    tokenizer_pick();
    tokenizer_lookup();

    tu_rm_rf(root);
    free(root);
    printf("ok\n");
    return 0;
}
