/* A multi-megabyte run of one character (one word: no cut inside it) with
 * a unigram model whose pieces are that character 1..16 times, what
 * spm_train's default max_piece_length gives. The Viterbi used to list
 * every (start, piece length) edge first: 20 bytes per edge, 16 edges per
 * byte, so 4 MiB of '=' took 1.3 GB where libsentencepiece's
 * EncodeOptimized keeps one entry per position. Checks, per model:
 *   - the ids equal libsentencepiece's (through spm_shim), for the pure run
 *     and for a run with unknown characters (byte fallback, a two-byte
 *     one) and a user-defined symbol in it;
 *   - the peak resident memory grows by less than 32 bytes per byte of the
 *     run while Ingot's encoder encodes it (old code: ~330), measured at
 *     the process's first encode (ru_maxrss is a high-water mark).
 * Models, written here as protobuf: "ties" (every '=' piece scores -1, so
 * that most segmentations tie and the tie-breaking decides) and "graded"
 * (longer pieces cheaper per byte, irregular scores: float rounding at
 * path scores of millions). usage: test_spe_longrun */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "spm_encode.h"
#include "spm_shim.h"
#include "test_check.h"

/* Not a multiple of 16: with "ties" many segmentations of the run score the
 * same, and the first start that reached each position decides. */
#define RUN_BYTES (((size_t)4 << 20) + 11)
#define MIXED_BYTES ((size_t)1 << 20)
#define MAX_RSS_PER_BYTE 32

struct buf {
    unsigned char *p;
    size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        CHECK(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_varint(struct buf *b, uint64_t v)
{
    do {
        unsigned char c = (unsigned char)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
        put(b, &c, 1);
        v >>= 7;
    } while (v);
}

static void put_uint(struct buf *b, int field, uint64_t v)
{
    put_varint(b, (uint64_t)field << 3);
    put_varint(b, v);
}

static void put_bytes(struct buf *b, int field, const void *d, size_t n)
{
    put_varint(b, (uint64_t)field << 3 | 2);
    put_varint(b, n);
    put(b, d, n);
}

/* ModelProto.pieces: SentencePiece { piece = 1, score = 2, type = 3 }. */
static void put_piece(struct buf *m, const char *s, size_t len, float score, int type)
{
    struct buf p = { 0 };
    uint32_t u;
    memcpy(&u, &score, sizeof(u));
    unsigned char le[4] = { (unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                            (unsigned char)(u >> 24) };
    put_bytes(&p, 1, s, len);
    put_varint(&p, 2 << 3 | 5);
    put(&p, le, 4);
    put_uint(&p, 3, (uint64_t)type);
    put_bytes(m, 1, p.p, p.n);
    free(p.p);
}

enum { NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, BYTE = 6 };

/* The model as a file (libsentencepiece loads from a path): <unk> <s> </s>,
 * '=' x 1..16, the user-defined "x=", the 256 byte pieces; unigram with
 * byte fallback; identity normalization, no dummy prefix. */
static void write_model(const char *path, int graded)
{
    struct buf m = { 0 }, spec = { 0 };
    put_piece(&m, "<unk>", 5, 0.0f, UNKNOWN);
    put_piece(&m, "<s>", 3, 0.0f, CONTROL);
    put_piece(&m, "</s>", 4, 0.0f, CONTROL);
    char eq[16];
    memset(eq, '=', sizeof(eq));
    for (int k = 1; k <= 16; k++)
        put_piece(&m, eq, (size_t)k,
                  graded ? -3.0f - 0.3f * (float)k - 0.0137f * (float)(k * k % 7) : -1.0f,
                  NORMAL);
    put_piece(&m, "x=", 2, 0.0f, USER_DEFINED);
    for (int i = 0; i < 256; i++) {
        char name[8];
        snprintf(name, sizeof(name), "<0x%02X>", i);
        put_piece(&m, name, 6, 0.0f, BYTE);
    }
    put_uint(&spec, 3, 1);    /* TrainerSpec.model_type = UNIGRAM */
    put_uint(&spec, 35, 1);   /* byte_fallback */
    put_bytes(&m, 2, spec.p, spec.n);
    spec.n = 0;
    put_bytes(&spec, 1, "identity", 8);   /* NormalizerSpec.name */
    put_uint(&spec, 3, 0);                /* add_dummy_prefix */
    put_uint(&spec, 4, 0);                /* remove_extra_whitespaces */
    put_bytes(&m, 3, spec.p, spec.n);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(m.p, 1, m.n, f) == m.n && fclose(f) == 0);
    free(m.p);
    free(spec.p);
}

static long max_rss_kb(void)
{
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
    return ru.ru_maxrss;
}

/* Ingot's ids for text equal libsentencepiece's; returns Ingot's count. */
static size_t same_ids(const char *what, const spe_model *m, spe_scratch *s, const ingot_spm *o,
                       const char *text, size_t len, long *rss_growth_kb)
{
    uint32_t *a = NULL, *b = NULL;
    size_t ca = 0, cb = 0, na, nb;
    long before = max_rss_kb();
    CHECK_OK(spe_encode(m, s, text, len, &a, &ca, &na));
    if (rss_growth_kb)
        *rss_growth_kb = max_rss_kb() - before;
    CHECK_OK(ingot_spm_encode(o, text, len, &b, &cb, &nb));
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i])
        i++;
    if (i < na || i < nb) {
        fprintf(stderr, "%s: Ingot gives %zu ids, libsentencepiece %zu; first difference at id "
                "%zu: %d vs %d\n", what, na, nb, i, i < na ? (int)a[i] : -1,
                i < nb ? (int)b[i] : -1);
        exit(1);
    }
    free(a);
    free(b);
    return na;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[4096];
    snprintf(path, sizeof(path), "%s/test_spe_longrun-%ld.model", tmp, (long)getpid());

    /* The texts first, touched, so that the peak measured below is the
     * encoder's alone. */
    char *run = malloc(RUN_BYTES), *mixed = malloc(MIXED_BYTES);
    CHECK(run && mixed);
    memset(run, '=', RUN_BYTES);
    uint64_t r = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < MIXED_BYTES;) {
        r = r * 6364136223846793005u + 1442695040888963407u;
        unsigned k = (unsigned)(r >> 33) % 4000;
        const char *ins = k == 0 ? "y" : k == 1 ? "\xc3\xa9" : k == 2 ? "x=" : "=";
        size_t l = strlen(ins);
        if (i + l > MIXED_BYTES)
            ins = "=", l = 1;
        memcpy(mixed + i, ins, l);
        i += l;
    }

    int fails = 0;
    for (int graded = 0; graded < 2; graded++) {
        const char *name = graded ? "graded" : "ties";
        write_model(path, graded);
        spe_model *m;
        ingot_spm *o;
        spe_scratch *s;
        CHECK_OK(spe_load(path, &m));
        CHECK_OK(ingot_spm_load(path, &o));
        unlink(path);
        CHECK_OK(spe_scratch_new(true, &s));
        long growth_kb, limit_kb = (long)(RUN_BYTES * MAX_RSS_PER_BYTE / 1024);
        size_t n = same_ids(name, m, s, o, run, RUN_BYTES, graded ? NULL : &growth_kb);
        printf("%s: %zu MiB of '=': %zu ids, libsentencepiece's\n", name, RUN_BYTES >> 20, n);
        if (!graded) {
            printf("%s: peak memory grew %ld MiB encoding it (limit %ld MiB)\n", name,
                   growth_kb >> 10, limit_kb >> 10);
            if (growth_kb > limit_kb) {
                fprintf(stderr, "%s: the encoder's memory grows with word length x piece "
                        "length\n", name);
                fails++;
            }
        }
        n = same_ids(name, m, s, o, mixed, MIXED_BYTES, NULL);
        printf("%s: %zu MiB of '=' with unknowns and \"x=\": %zu ids, libsentencepiece's\n",
               name, MIXED_BYTES >> 20, n);
        spe_scratch_free(s);
        ingot_spm_free(o);
        spe_free(m);
    }
    free(run);
    free(mixed);
    return fails ? 1 : 0;
}
