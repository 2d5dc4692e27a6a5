/* The SentencePiece shim against models this test trains itself with
 * spm_train (path in argv[1]) on text it generates: load, vocab and special
 * ids, model type, hash, encode/decode round trip, pieces, errors, and
 * encoding from several threads at once. Without spm_train, only the
 * messages about a damaged model whose path holds ESC and U+202E: '?' in
 * their place (the shim, Ingot's encoder and its .model reader printed the
 * path raw). */
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>

#include "fsutil.h"
#include "shard_format.h"
#include "spm_encode.h"
#include "spm_model.h"
#include "spm_shim.h"
#include "test_util.h"

extern char **environ;

static const char *const words[] = {
    "the", "a", "river", "mountain", "runs", "quietly", "over", "stones", "and", "light",
    "falls", "on", "green", "fields", "where", "old", "trees", "stand", "near", "houses",
    "children", "read", "books", "under", "blue", "sky", "while", "birds", "sing", "songs",
};
enum { NWORDS = sizeof(words) / sizeof(*words) };

/* Thread-local: the encoding threads build their own sentences. */
static char *sentence(uint64_t *seed)
{
    static _Thread_local char buf[512];
    size_t n = 3 + (size_t)(tu_rand(seed) % 12), at = 0;
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%s", i ? " " : "",
                               words[tu_rand(seed) % NWORDS]);
    return buf;
}

static int run(char *const argv[])
{
    pid_t pid;
    int ret = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
    if (ret)
        return -ret;
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *train(const char *spm_train, const char *dir, const char *corpus, const char *type,
                   const char *extra)
{
    char input[4200], prefix[4200], mtype[64], *model = malloc(4300);
    CHECK(model);
    snprintf(input, sizeof(input), "--input=%s", corpus);
    snprintf(prefix, sizeof(prefix), "--model_prefix=%s/%s", dir, type);
    snprintf(mtype, sizeof(mtype), "--model_type=%s", type);
    char *argv[] = { (char *)spm_train, input, prefix, mtype, "--vocab_size=90",
                     "--hard_vocab_limit=false", "--minloglevel=2", (char *)extra, NULL };
    if (!extra[0])
        argv[7] = NULL;
    int ret = run(argv);
    if (ret != 0) {
        fprintf(stderr, "spm_train --model_type=%s failed (%d)\n", type, ret);
        exit(1);
    }
    snprintf(model, 4300, "%s/%s.model", dir, type);
    return model;
}

/* Lines in the .vocab file next to the model: the vocabulary size as
 * spm_train itself reports it. */
static uint32_t vocab_lines(const char *model)
{
    char path[4400];
    snprintf(path, sizeof(path), "%.*s.vocab", (int)(strlen(model) - 6), model);
    char *buf;
    size_t len;
    CHECK_OK(fs_read_all(path, &buf, &len));
    uint32_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    free(buf);
    return n;
}

struct job {
    const ingot_spm *spm;
    uint64_t seed;
    int failures;
};

/* Encode the same 300 sentences twice in each thread; results must match
 * and round-trip. */
static void *encode_many(void *arg)
{
    struct job *j = arg;
    uint32_t *ids = NULL;
    size_t cap = 0, n;
    for (int i = 0; i < 300; i++) {
        char *s = sentence(&j->seed);
        char text[512];
        snprintf(text, sizeof(text), "%s", s);
        if (ingot_spm_encode(j->spm, text, strlen(text), &ids, &cap, &n)) {
            j->failures++;
            continue;
        }
        char *back;
        size_t bl;
        if (ingot_spm_decode(j->spm, ids, n, &back, &bl) || strcmp(back, text))
            j->failures++;
        free(back);
    }
    free(ids);
    return NULL;
}

static void check_model(const char *model, uint32_t want_type, int32_t want_pad, uint64_t *seed)
{
    ingot_spm *spm;
    CHECK_OK(ingot_spm_load(model, &spm));
    uint32_t vocab = ingot_spm_vocab_size(spm);
    CHECK(vocab == vocab_lines(model));
    CHECK(ingot_spm_model_type(spm) == want_type);
    CHECK(ingot_spm_unk_id(spm) == 0 && ingot_spm_bos_id(spm) == 1 && ingot_spm_eos_id(spm) == 2);
    CHECK(ingot_spm_pad_id(spm) == want_pad);
    uint64_t h;
    CHECK_OK(fs_hash_file(model, &h));
    CHECK(ingot_spm_model_hash(spm) == h);
    CHECK(!strcmp(ingot_spm_id_to_piece(spm, 1), "<s>"));
    CHECK(!strcmp(ingot_spm_id_to_piece(spm, 2), "</s>"));
    CHECK(ingot_spm_id_to_piece(spm, vocab) == NULL);

    uint32_t *ids = NULL;
    size_t cap = 0, n;
    for (int i = 0; i < 200; i++) {
        char text[512];
        snprintf(text, sizeof(text), "%s", sentence(seed));
        CHECK_OK(ingot_spm_encode(spm, text, strlen(text), &ids, &cap, &n));
        CHECK(n > 0 && n <= cap);
        for (size_t k = 0; k < n; k++)
            CHECK(ids[k] < vocab && ids[k] != 1 && ids[k] != 2);
        char *back;
        size_t bl;
        CHECK_OK(ingot_spm_decode(spm, ids, n, &back, &bl));
        CHECK(bl == strlen(text) && !strcmp(back, text));
        free(back);
    }
    /* a length, not a terminator: only the first word is encoded */
    const char *two = "river mountain";
    CHECK_OK(ingot_spm_encode(spm, two, 5, &ids, &cap, &n));
    char *back;
    CHECK_OK(ingot_spm_decode(spm, ids, n, &back, NULL));
    CHECK(!strcmp(back, "river"));
    free(back);
    CHECK_OK(ingot_spm_encode(spm, "", 0, &ids, &cap, &n));
    CHECK(n == 0);
    /* characters never seen in training become unk */
    const char *odd = "river \xce\xa9\xce\xa9 stones";
    CHECK_OK(ingot_spm_encode(spm, odd, strlen(odd), &ids, &cap, &n));
    int has_unk = 0;
    for (size_t k = 0; k < n; k++)
        has_unk |= ids[k] == 0;
    CHECK(has_unk);
    /* special ids decode to nothing */
    CHECK_OK(ingot_spm_encode(spm, "river", 5, &ids, &cap, &n));
    CHECK(n + 2 <= 16);
    uint32_t sp[16] = { 1 };
    memcpy(sp + 1, ids, n * sizeof(*ids));
    sp[n + 1] = 2;
    CHECK_OK(ingot_spm_decode(spm, sp, n + 2, &back, NULL));
    CHECK(!strcmp(back, "river"));
    free(back);
    uint32_t bad[2] = { 3, vocab };
    CHECK_FAIL(ingot_spm_decode(spm, bad, 2, &back, NULL), INGOT_E_TOKENIZER, "not below the vocab");

    /* several threads share one model */
    enum { NT = 4 };
    pthread_t th[NT];
    struct job jobs[NT];
    for (int t = 0; t < NT; t++) {
        jobs[t] = (struct job){ .spm = spm, .seed = 1000 + (uint64_t)t };
        CHECK(pthread_create(&th[t], NULL, encode_many, &jobs[t]) == 0);
    }
    for (int t = 0; t < NT; t++) {
        CHECK(pthread_join(th[t], NULL) == 0);
        CHECK(jobs[t].failures == 0);
    }
    free(ids);
    ingot_spm_free(spm);
    printf("%s: %s, vocab %u ok\n", model, ingot_tokenizer_type_name(want_type), vocab);
}

/* The last message names the model as shown, with no byte of the escape
 * sequence or the override in it. */
static void check_shown(const char *shown)
{
    const char *msg = ingot_errmsg();
    if (!strstr(msg, shown) || strchr(msg, '\033') || strchr(msg, '\007') ||
        strstr(msg, "\xe2\x80\xae")) {
        fprintf(stderr, "message: %s\n", msg);
        CHECK(!"the model's path shown through term_text");
    }
}

static void hostile_path(void)
{
    char *dir = tu_tmpdir("spm-path");
    const char *name = "m\033]0;pwned\007\xe2\x80\xaeledom.model";
    const char *shown = "m?]0;pwned??ledom.model";
    char *path = tu_path(dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f && fputs("not a model", f) >= 0 && fclose(f) == 0);
    ingot_spm *spm = NULL;
    CHECK_FAIL(ingot_spm_load(path, &spm), INGOT_E_TOKENIZER, "not a SentencePiece model");
    check_shown(shown);
    spe_model *m = NULL;
    CHECK_FAIL(spe_load(path, &m), INGOT_E_TOKENIZER, "not a SentencePiece model");
    check_shown(shown);
    struct spe_proto p;
    CHECK_FAIL(spe_proto_parse("\xff", 1, name, &p), INGOT_E_TOKENIZER, "malformed varint");
    check_shown(shown);
    free(path);
    tu_rm_rf(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    hostile_path();
    if (argc < 2 || access(argv[1], X_OK) != 0) {
        fprintf(stderr, "spm_train not found: skipping\n");
        return TEST_SKIP;
    }
    char *dir = tu_tmpdir("spm");
    char *corpus = tu_path(dir, "corpus.txt");
    FILE *f = fopen(corpus, "w");
    CHECK(f);
    uint64_t seed = 5;
    for (int i = 0; i < 2000; i++)
        fprintf(f, "%s\n", sentence(&seed));
    /* every word at least once, so decoding never meets an unknown piece */
    for (int i = 0; i < NWORDS; i++)
        fprintf(f, "%s\n", words[i]);
    fclose(f);

    char *uni = train(argv[1], dir, corpus, "unigram", "");
    char *bpe = train(argv[1], dir, corpus, "bpe", "--pad_id=3");
    char *chr = train(argv[1], dir, corpus, "char", "");
    check_model(uni, INGOT_TOK_UNIGRAM, -1, &seed);
    check_model(bpe, INGOT_TOK_BPE, 3, &seed);
    check_model(chr, INGOT_TOK_CHAR, -1, &seed);

    ingot_spm *spm = NULL;
    CHECK_FAIL(ingot_spm_load(corpus, &spm), INGOT_E_TOKENIZER, "corpus.txt");
    char *missing = tu_path(dir, "none.model");
    CHECK_FAIL(ingot_spm_load(missing, &spm), -ENOENT, "none.model");
    CHECK(spm == NULL);
    ingot_spm_free(NULL);

    free(missing);
    free(uni);
    free(bpe);
    free(chr);
    free(corpus);
    tu_rm_rf(dir);
    free(dir);
    printf("ok\n");
    return 0;
}
