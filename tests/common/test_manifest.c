/* manifest.json round trip (every field, 64-bit hashes and counts beyond
 * 2^53 exact), and the reader's errors: malformed JSON, missing keys, wrong
 * types, a newer version, totals that do not add up. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "manifest.h"
#include "shard_format.h"
#include "test_util.h"

static void write_text(const char *path, const char *text)
{
    CHECK_OK(fs_write_atomic(path, text, strlen(text)));
}

static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    CHECK(at);
    size_t a = (size_t)(at - s), fl = strlen(from), tl = strlen(to), sl = strlen(s);
    char *r = malloc(sl - fl + tl + 1);
    CHECK(r);
    memcpy(r, s, a);
    memcpy(r + a, to, tl);
    memcpy(r + a + tl, at + fl, sl - a - fl + 1);
    return r;
}

static void roundtrip(const char *dir)
{
    struct manifest *m = manifest_new();
    CHECK(m);
    CHECK(m->format_version == INGOT_MANIFEST_VERSION && m->ingot_version);
    char *argv[] = { "ingot-pretok", "--out", "my dir", "it's", "" };
    CHECK_OK(manifest_set_command_line(m, 5, argv));
    CHECK(!strcmp(m->command_line, "ingot-pretok --out 'my dir' 'it'\\''s' ''"));
    m->token_width = 4;
    struct manifest_tokenizer t = { .file = "tok/spm 32k.model", .source = "/abs/spm 32k.model",
                                    .hash = 0xffffffffffffffffull,
                                    .type = "bpe", .vocab_size = 100277, .bos_id = 100000,
                                    .eos_id = 0, .pad_id = -1, .unk_id = 3 };
    CHECK_OK(manifest_set_tokenizer(m, &t));
    const uint64_t big = (1ull << 57) + 1;   /* not representable as a double */
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s-%06d.tok", i < 3 ? "train" : "val", i);
        struct manifest_shard s = {
            .file = name, .split = i < 3 ? INGOT_SPLIT_TRAIN : INGOT_SPLIT_VAL,
            .n_tokens = i == 1 ? big : (uint64_t)i * 1000 + 7, .n_docs = (uint64_t)i + 1,
            .tokens_checksum = 0x8000000000000001ull + (uint64_t)i,
            .index_checksum = 0x0123456789abcdefull, .prov_checksum = (uint64_t)i,
            .header_checksum = 0xfedcba9876543210ull,
        };
        struct ingot_shard_layout lay;   /* the reader checks file_size against it */
        CHECK_OK(ingot_shard_layout("test", "", 4, s.n_tokens, s.n_docs, &lay));
        s.file_size = lay.file_size;
        CHECK_OK(manifest_add_shard(m, &s));
    }
    struct manifest_skip sk[2] = { { "malformed_json", 3 }, { "invalid_utf8", big } };
    struct manifest_input in0 = { .name = "data/a.jsonl.zst", .size = big, .n_docs = 10,
                                  .n_tokens = 20, .skips = sk, .n_skips = 2 };
    struct manifest_input in1 = { .name = "data/b.txt", .size = 5, .n_docs = 0, .n_tokens = 0,
                                  .damage = "data/b.txt: unreadable_file: cannot read" };
    m->damaged_accepted = true;
    CHECK_OK(manifest_add_input(m, &in0));
    CHECK_OK(manifest_add_input(m, &in1));
    CHECK_OK(manifest_add_skip_example(m, "data/a.jsonl.zst:17: malformed_json: \"quoted\"\n"));
    manifest_update_totals(m);
    CHECK(m->total_tokens[0] == 7 + big + 2007 && m->total_docs[1] == 4 + 5);

    char *path = tu_path(dir, "manifest.json");
    CHECK_OK(manifest_write(path, m));
    struct manifest *r;
    CHECK_OK(manifest_read(path, &r));
    CHECK(r->format_version == m->format_version);
    CHECK(!strcmp(r->ingot_version, m->ingot_version));
    CHECK(!strcmp(r->command_line, m->command_line));
    CHECK(r->token_width == 4);
    CHECK(!strcmp(r->tokenizer.file, t.file) && !strcmp(r->tokenizer.type, t.type));
    CHECK(r->tokenizer.source && !strcmp(r->tokenizer.source, t.source));
    CHECK(r->tokenizer.hash == t.hash && r->tokenizer.vocab_size == t.vocab_size);
    CHECK(r->tokenizer.bos_id == t.bos_id && r->tokenizer.eos_id == t.eos_id &&
          r->tokenizer.pad_id == t.pad_id && r->tokenizer.unk_id == t.unk_id);
    CHECK(r->n_shards == 5);
    for (size_t i = 0; i < 5; i++) {
        const struct manifest_shard *a = &m->shards[i], *b = &r->shards[i];
        CHECK(!strcmp(a->file, b->file) && a->split == b->split);
        CHECK(a->n_tokens == b->n_tokens && a->n_docs == b->n_docs && a->file_size == b->file_size);
        CHECK(a->tokens_checksum == b->tokens_checksum && a->index_checksum == b->index_checksum &&
              a->prov_checksum == b->prov_checksum && a->header_checksum == b->header_checksum);
    }
    CHECK(r->shards[1].n_tokens == big);
    CHECK(r->n_inputs == 2);
    CHECK(!strcmp(r->inputs[0].name, in0.name) && r->inputs[0].size == big);
    CHECK(r->inputs[0].n_docs == 10 && r->inputs[0].n_tokens == 20);
    CHECK(r->inputs[0].n_skips == 2);
    CHECK(!strcmp(r->inputs[0].skips[0].reason, "malformed_json") && r->inputs[0].skips[0].count == 3);
    CHECK(!strcmp(r->inputs[0].skips[1].reason, "invalid_utf8") && r->inputs[0].skips[1].count == big);
    CHECK(r->inputs[1].n_skips == 0 && !strcmp(r->inputs[1].name, "data/b.txt"));
    /* damage: optional, per input, and whether it was accepted */
    CHECK(!r->inputs[0].damage && !strcmp(r->inputs[1].damage, in1.damage));
    CHECK(r->damaged_accepted);
    CHECK(r->n_skip_examples == 1 && !strcmp(r->skip_examples[0], m->skip_examples[0]));
    for (int s = 0; s < 2; s++)
        CHECK(r->total_tokens[s] == m->total_tokens[s] && r->total_docs[s] == m->total_docs[s]);

    /* hashes are 16 hex digits in the text; counts are plain integers */
    char *text;
    CHECK_OK(fs_read_all(path, &text, NULL));
    CHECK(strstr(text, "\"hash\": \"ffffffffffffffff\""));
    CHECK(strstr(text, "\"tokens\": 144115188075855873"));
    CHECK(strstr(text, "\"format\": \"ingot-dataset\""));
    free(text);
    /* no temp file left behind */
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmp, F_OK) != 0);

    /* an empty manifest round-trips too (the reader wants a token width
     * and a vocabulary that fits it) */
    struct manifest *e = manifest_new();
    e->token_width = 2;
    e->tokenizer.vocab_size = 1;
    CHECK_OK(manifest_write(path, e));
    manifest_free(e);
    CHECK_OK(manifest_read(path, &e));
    CHECK(e->n_shards == 0 && e->n_inputs == 0 && e->tokenizer.file == NULL);
    CHECK(e->tokenizer.source == NULL);   /* optional: older manifests have none */
    CHECK(e->tokenizer.bos_id == -1);
    CHECK(!e->damaged_accepted);   /* no damaged input: the key is not written */
    CHECK_OK(fs_read_all(path, &text, NULL));
    CHECK(!strstr(text, "damage"));
    free(text);
    manifest_free(e);

    /* restore the full one for the error cases */
    CHECK_OK(manifest_write(path, m));
    manifest_free(m);
    manifest_free(r);
    manifest_free(NULL);
    free(path);
}

static void errors(const char *dir)
{
    char *path = tu_path(dir, "manifest.json"), *bad = tu_path(dir, "bad.json");
    char *good;
    CHECK_OK(fs_read_all(path, &good, NULL));
    struct manifest *m = NULL;
    struct {
        const char *from, *to;
        int code;
        const char *substr;
    } cases[] = {
        { "\"format_version\": 1", "\"format_version\": 2", INGOT_E_VERSION, "key format_version" },
        { "\"format\": \"ingot-dataset\"", "\"format\": \"other\"", INGOT_E_JSON, "key format" },
        { "\"token_width\": 4", "\"token_width\": \"4\"", INGOT_E_JSON, "key token_width" },
        { "\"vocab_size\": 100277", "\"vocab_size\": -5", INGOT_E_JSON, "key tokenizer.vocab_size" },
        { "\"hash\": \"ffffffffffffffff\"", "\"hash\": \"fffffffffffffffg\"", INGOT_E_JSON,
          "key tokenizer.hash" },
        { "\"hash\": \"ffffffffffffffff\"", "\"hash\": 1", INGOT_E_JSON, "key tokenizer.hash" },
        { "\"pad_id\": -1", "\"pad_id\": -2", INGOT_E_JSON, "key tokenizer.pad_id" },
        { "\"split\": \"val\"", "\"split\": \"test\"", INGOT_E_JSON, "key shards[3].split" },
        { "\"documents\": 2,", "\"documentz\": 2,", INGOT_E_JSON, "key shards[1].documents" },
        { "\"header\": \"fedcba9876543210\"", "\"header\": \"fedcba987654321\"", INGOT_E_JSON,
          "key shards[0].checksums.header" },
        { "\"malformed_json\": 3", "\"malformed_json\": \"3\"", INGOT_E_JSON,
          "key inputs[0].skipped.malformed_json" },
        { "\"damage\": \"data/b.txt", "\"damage\": 5, \"x\": \"", INGOT_E_JSON,
          "key inputs[1].damage" },
        { "\"damaged_inputs_accepted\": true", "\"damaged_inputs_accepted\": 1", INGOT_E_JSON,
          "key damaged_inputs_accepted" },
        { "\"tokens\": 2007,", "\"tokens\": 2008,", INGOT_E_JSON, "key totals.train" },
        { "\"format_version\": 1,", "\"format_version\": 1", INGOT_E_JSON, "line" },
        { "\"token_width\": 4", "\"token_width\": 4, \"token_width\": 4", INGOT_E_JSON,
          "duplicate" },
        /* numbers beyond what the format and the readers can do */
        { "\"token_width\": 4", "\"token_width\": 3", INGOT_E_JSON, "key token_width: 3" },
        { "\"token_width\": 4", "\"token_width\": 2", INGOT_E_JSON,
          "key tokenizer.vocab_size: 100277 does not fit" },
        { "\"vocab_size\": 100277", "\"vocab_size\": 0", INGOT_E_JSON, "key tokenizer.vocab_size" },
        { "\"eos_id\": 0", "\"eos_id\": 100277", INGOT_E_JSON, "key tokenizer.eos_id" },
        { "\"tokens\": 144115188075855873", "\"tokens\": 9223372036854775807", INGOT_E_JSON,
          "key shards[1].tokens: 9223372036854775807 is more than a shard can hold" },
        { "\"documents\": 2,", "\"documents\": 576460752303423488,", INGOT_E_JSON,
          "key shards[1].documents" },
        { "\"documents\": 2,", "\"documents\": 3,", INGOT_E_JSON, "key shards[1].file_size" },
        /* a tokenizer type no ingot-pretok writes: refused here, naming the key and the
         * names (it passed until a shard header disagreed, and was printed before) */
        { "\"type\": \"bpe\"", "\"type\": \"sentencepiece\"", INGOT_E_JSON,
          "key tokenizer.type: \"sentencepiece\" is not a tokenizer type: expected unigram, "
          "bpe, word, char or unknown" },
        { "\"type\": \"bpe\"", "\"type\": \"BPE\"", INGOT_E_JSON, "key tokenizer.type" },
        { "\"type\": \"bpe\"", "\"type\": \"\"", INGOT_E_JSON, "key tokenizer.type" },
        { "\"type\": \"bpe\"", "\"type\": \"\\u001b[2Jbpe\"", INGOT_E_JSON,
          "key tokenizer.type: \"?[2Jbpe\"" },
        { "\"type\": \"bpe\"", "\"type\": 2", INGOT_E_JSON, "key tokenizer.type" },
        /* the manifest's text in a message: control characters as '?' */
        { "\"hash\": \"ffffffffffffffff\"", "\"hash\": \"\\u001b[2Jfffffffffff\"", INGOT_E_JSON,
          "key tokenizer.hash: \"?[2Jfffffffffff\" is not 16 hex digits" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char *t = replace(good, cases[i].from, cases[i].to);
        write_text(bad, t);
        free(t);
        ingot_clear_err();
        int ret = manifest_read(bad, &m);
        const char *msg = ingot_errmsg();
        if (ret != cases[i].code || !strstr(msg, cases[i].substr) || !strstr(msg, "bad.json")) {
            fprintf(stderr, "case %zu: expected %d with \"%s\", got %d: %s\n", i, cases[i].code,
                    cases[i].substr, ret, msg);
            exit(1);
        }
        CHECK(m == NULL);
        printf("%s\n", msg);
    }
    /* every name ingot-pretok has written (ingot_tokenizer_type_name(); "unknown"
     * for import-bin --vocab), and null (not recorded), still read */
    static const char *const types[] = { "\"unigram\"", "\"bpe\"", "\"word\"", "\"char\"",
                                         "\"unknown\"", "null" };
    for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++) {
        char to[64];
        snprintf(to, sizeof(to), "\"type\": %s", types[i]);
        char *t = replace(good, "\"type\": \"bpe\"", to);
        write_text(bad, t);
        free(t);
        CHECK_OK(manifest_read(bad, &m));
        CHECK(i + 1 == sizeof(types) / sizeof(*types) ? m->tokenizer.type == NULL
              : !strncmp(m->tokenizer.type, types[i] + 1, strlen(types[i]) - 2));
        manifest_free(m);
        m = NULL;
    }
    /* jansson's error quotes the text near it: a raw escape there is shown as '?' */
    static const char raw[] = "{\"format\": \033[2J}";
    CHECK_FAIL(manifest_parse("raw.json", raw, sizeof(raw) - 1, &m), INGOT_E_JSON,
               "raw.json: line 1 column");
    CHECK(!strchr(ingot_errmsg(), '\033') && strstr(ingot_errmsg(), "invalid token near '?'"));
    /* input counts each below 2^63 whose sum is not */
    char *t1 = replace(good, "\"tokens\": 20,", "\"tokens\": 9223372036854775807,");
    char *t2 = replace(t1, "\"tokens\": 0", "\"tokens\": 1");
    write_text(bad, t2);
    free(t1);
    free(t2);
    CHECK_FAIL(manifest_read(bad, &m), INGOT_E_JSON, "key inputs: the counts add up to more than 2^63");
    /* shard counts each in range whose sum passes 2^63 */
    char *many = malloc(64 * 400 + strlen(good));
    CHECK(many);
    const char *sh = strstr(good, "\"shards\": [") + 11;
    size_t at = (size_t)(sh - good), n = at;
    memcpy(many, good, at);
    struct ingot_shard_layout lay;
    CHECK_OK(ingot_shard_layout("test", "", 4, INGOT_SHARD_MAX_COUNT, 0, &lay));
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(many + n, "{\"file\": \"x%d.tok\", \"split\": \"train\", \"tokens\": "
                             "%llu, \"documents\": 0, \"file_size\": %llu, \"checksums\": "
                             "{\"tokens\": \"%016x\", \"index\": \"%016x\", \"provenance\": "
                             "\"%016x\", \"header\": \"%016x\"}}, ", i,
                             (unsigned long long)INGOT_SHARD_MAX_COUNT,
                             (unsigned long long)lay.file_size, 0, 0, 0, 0);
    strcpy(many + n, good + at);
    write_text(bad, many);
    free(many);
    CHECK_FAIL(manifest_read(bad, &m), INGOT_E_JSON, "key shards: the counts add up to more than 2^63");
    write_text(bad, "[1, 2]");
    CHECK_FAIL(manifest_read(bad, &m), INGOT_E_JSON, "not an Ingot manifest");
    write_text(bad, "");
    CHECK_FAIL(manifest_read(bad, &m), INGOT_E_JSON, "bad.json");
    char *missing = tu_path(dir, "none.json");
    CHECK_FAIL(manifest_read(missing, &m), -ENOENT, "none.json");
    /* not a regular file; larger than the cap (sparse: nothing is read) */
    alarm(10);
    CHECK_FAIL(manifest_read(dir, &m), INGOT_E_FORMAT, "is a directory");
    CHECK(mkfifo(missing, 0644) == 0);
    CHECK_FAIL(manifest_read(missing, &m), INGOT_E_FORMAT, "none.json: is a FIFO");
    CHECK(unlink(missing) == 0);
    CHECK_FAIL(manifest_read("/dev/zero", &m), INGOT_E_FORMAT, "is a character device");
    alarm(0);
    int fd = open(bad, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)MANIFEST_MAX_BYTES + 1) == 0);
    close(fd);
    CHECK_FAIL(manifest_read(bad, &m), -EFBIG, "more than the");
    char *nodir = tu_path(dir, "no/such/manifest.json");
    struct manifest *e = manifest_new();
    CHECK_FAIL(manifest_write(nodir, e), -ENOENT, "no/such/manifest.json");
    manifest_free(e);
    free(nodir);
    free(missing);
    free(good);
    free(bad);
    free(path);
}

int main(void)
{
    char *dir = tu_tmpdir("manifest");
    roundtrip(dir);
    errors(dir);
    tu_rm_rf(dir);
    free(dir);
    printf("ok\n");
    return 0;
}
