/* ingot-train's error cases: each a clear message naming the problem and a
 * non-zero exit (2 for usage, 1 otherwise), never a crash.
 * usage: test_train_errors INGOT_TRAIN */
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_config.h"
#include "tt_util.h"

static const char *bin;
static char *out;
static int failures;

/* Run ingot-train with args; expect exit code rc and every needle in the
 * output. */
static void expect(const char *what, const char *args, int rc, const char *n1, const char *n2)
{
    failures += tt_expect(bin, out, what, args, rc, n1, n2);
}

static void flip_byte(const char *path, long off)
{
    FILE *f = fopen(path, "r+b");
    CHECK(f);
    CHECK(fseek(f, off, SEEK_SET) == 0);
    int c = fgetc(f);
    CHECK(c != EOF);
    CHECK(fseek(f, off, SEEK_SET) == 0);
    fputc(c ^ 0x5a, f);
    CHECK(fclose(f) == 0);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    bin = argv[1];
    char *dir = tt_tmpdir("errors");
    out = tt_fmt("%s/out.txt", dir);
    enum { V = 64, N = 2000 };
    uint32_t ids[N];
    tt_markov_tokens(ids, N, V, 3);
    char *good = tt_fmt("%s/good", dir), *other = tt_fmt("%s/other-tok", dir);
    char *corrupt = tt_fmt("%s/corrupt", dir), *noval = tt_fmt("%s/noval", dir);
    char *notrain = tt_fmt("%s/notrain", dir), *empty = tt_fmt("%s/empty", dir);
    struct tt_dataset d = { .dir = good, .vocab = V, .tokenizer_hash = 1, .bos_id = -1,
                            .train = ids, .n_train = 1800, .val = ids + 1800, .n_val = 200,
                            .doc_len = 100, .shard_docs = 5 };
    CHECK_OK(tt_write_dataset(&d));
    d.dir = other;
    d.tokenizer_hash = 2;
    CHECK_OK(tt_write_dataset(&d));
    d.dir = corrupt;
    d.tokenizer_hash = 1;
    CHECK_OK(tt_write_dataset(&d));
    d.dir = noval;
    d.n_val = 0;
    CHECK_OK(tt_write_dataset(&d));
    d.dir = notrain;
    d.n_train = 0;
    d.n_val = 200;
    CHECK_OK(tt_write_dataset(&d));
    CHECK_OK(fs_mkdir_p(empty));
    char *shard = tt_fmt("%s/train-000001.tok", corrupt);
    flip_byte(shard, 4096 + 10);   /* a token: only the checksum can tell */

    const char *tiny = "--model tiny --layers 1 --dim 32 --seq-len 16 --batch 2 --val-tokens 64";
    char *a;

    /* command line */
    expect("no data", "--steps 3", 2, "--data", NULL);
    expect("unknown option", "--synthetic --bogus", 2, "--bogus", NULL);
    expect("bad number", "--synthetic --batch 0", 2, "--batch", NULL);
    expect("batch-tokens not a multiple", "--synthetic --model tiny --batch 2 --batch-tokens 100",
           2, "--batch-tokens", "multiple");
    expect("dim not a multiple of heads", "--synthetic --dim 30 --heads 4", 2, "--dim", NULL);
    expect("unknown preset", "--synthetic --model gpt5", 2, "gpt5", "tiny");
    expect("resume without ckpt-dir", "--synthetic --resume", 2, "--ckpt-dir", NULL);
    /* numbers: one parser with suffixes (k = 1000, Ki = 1024) and honest ranges */
    expect("batch-tokens 1Ki (= 32 micro-steps)", "--synthetic --vocab 64 --model tiny --layers 1 "
           "--dim 32 --seq-len 16 --batch 2 --batch-tokens 1Ki --steps 1 --val-every 0", 0,
           "x 32 micro-steps", NULL);
    expect("batch-tokens 1k is 1000", "--synthetic --model tiny --layers 1 --dim 32 --seq-len 16 "
           "--batch 2 --batch-tokens 1k", 2, "--batch-tokens 1000", "multiple");
    expect("lr that overflows a float", "--synthetic --lr 1e300", 2, "--lr", "[0, 10]");
    expect("top-k beyond the sampler's 256", "--synthetic --top-k 1000", 2, "--top-k", "256");
    expect("steps beyond an int", "--synthetic --steps 4G", 2, "--steps", "1073741824");
    expect("threads 0", "--synthetic --threads 0", 2, "--threads", NULL);
    expect("version", "--version", 0, "ingot-train 0.1.0", "jansson");
    expect("unknown device", "--synthetic --device tpu", 2, "tpu", NULL);
#if !INGOT_HAVE_CUDA
    expect("cuda in a build without CUDA", "--synthetic --model tiny --steps 1 --device cuda", 2,
           "cuda", NULL);
#endif

    /* data */
    a = tt_fmt("--data '%s/missing' %s --steps 2", dir, tiny);
    expect("missing data directory", a, 1, "missing", "no such");
    free(a);
    a = tt_fmt("--data '%s' %s --steps 2", empty, tiny);
    expect("empty data directory", a, 1, "manifest.json", NULL);
    free(a);
    a = tt_fmt("--data '%s' %s --steps 2", notrain, tiny);
    expect("no train tokens", a, 1, "no train tokens", NULL);
    free(a);
    a = tt_fmt("--data '%s' %s --steps 2", corrupt, tiny);
    expect("corrupt shard", a, 1, "train-000001.tok", "checksum");
    free(a);
    a = tt_fmt("--data '%s' --model tiny --seq-len 4096 --steps 2", good);
    expect("seq-len longer than the data", a, 1, "--seq-len 4096", "needs at least");
    free(a);
    a = tt_fmt("--data '%s' %s --steps 2 --val-every 1", noval, tiny);
    expect("no val split: note, trains", a, 0, "no val", NULL);
    free(a);

    /* checkpoints */
    a = tt_fmt("--data '%s' %s --steps 2 --ckpt-dir '%s/ck'", good, tiny, dir);
    expect("train 2 steps with checkpoint", a, 0, "ckpt-00000002.bin", NULL);
    free(a);
    a = tt_fmt("--data '%s' --model tiny --layers 1 --dim 64 --seq-len 16 --batch 2 --steps 4 "
               "--ckpt-dir '%s/ck' --resume", good, dir);
    expect("checkpoint of another config", a, 1, "another model configuration", "dim 32");
    free(a);
    a = tt_fmt("--data '%s' %s --steps 4 --ckpt-dir '%s/ck' --resume", other, tiny, dir);
    expect("dataset with another tokenizer", a, 1, "tokenizer", NULL);
    free(a);
    a = tt_fmt("--synthetic --vocab 64 %s --steps 4 --ckpt-dir '%s/ck' --resume", tiny, dir);
    expect("synthetic vs dataset checkpoint", a, 1, "synthetic", NULL);
    free(a);
    a = tt_fmt("--data '%s' %s --steps 4 --ckpt-dir '%s/fresh' --resume", good, tiny, dir);
    expect("resume with no checkpoint yet", a, 0, "starting from scratch", NULL);
    free(a);
    char *ck = tt_fmt("%s/ck/ckpt-00000002.bin", dir);
    flip_byte(ck, 4096 + 100);
    a = tt_fmt("--data '%s' %s --steps 4 --ckpt-dir '%s/ck' --resume", good, tiny, dir);
    expect("corrupt checkpoint", a, 1, "ckpt-00000002.bin", "checksum");
    free(a);
    CHECK(truncate(ck, 5000) == 0);
    a = tt_fmt("--data '%s' %s --steps 4 --ckpt-dir '%s/ck' --resume", good, tiny, dir);
    expect("truncated checkpoint", a, 1, "ckpt-00000002.bin", NULL);
    free(a);

    tt_rmtree(dir);
    free(dir); free(out); free(good); free(other); free(corrupt); free(noval); free(notrain);
    free(empty); free(shard); free(ck);
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
