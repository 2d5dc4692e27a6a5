/* The data loader: every window exactly once per epoch, across shard
 * boundaries, a different order per epoch and per seed, sequential order,
 * position save/restore, the fixed val windows, and its error cases. The
 * dataset's tokens are their own stream positions (token i has id i), so a
 * row says exactly which window it is. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "data_loader.h"
#include "tt_util.h"

enum { T = 16, N_TRAIN = 16 * 37 + 5, N_VAL = 16 * 4 + 3, VOCAB = 70000 };

static tr_loader *open_loader(const char *dir, uint64_t seed, bool sequential, int seq_len)
{
    struct tr_loader_opts o = { .dir = dir, .seq_len = seq_len, .seed = seed,
                                .sequential = sequential, .verify = true };
    tr_loader *l;
    CHECK_OK(tr_loader_open(&o, &l));
    return l;
}

/* Draw one epoch; check each row is a whole window and each window comes
 * once. order[] gets the window indices. */
static void draw_epoch(tr_loader *l, uint64_t W, uint64_t *order)
{
    int32_t row[T + 1];
    char *seen = calloc(W, 1);
    CHECK(seen);
    for (uint64_t i = 0; i < W; i++) {
        CHECK_OK(tr_loader_next(l, row, 1));
        CHECK(row[0] % T == 0);
        uint64_t w = (uint64_t)row[0] / T;
        CHECK(w < W);
        for (int t = 0; t <= T; t++)
            CHECK(row[t] == row[0] + t);   /* contiguous, also across shards */
        CHECK(!seen[w]);
        seen[w] = 1;
        order[i] = w;
    }
    free(seen);
}

static bool same(const uint64_t *a, const uint64_t *b, uint64_t n)
{
    return !memcmp(a, b, n * sizeof(uint64_t));
}

int main(void)
{
    char *dir = tt_tmpdir("loader");
    uint32_t *train = malloc(N_TRAIN * sizeof(uint32_t)), *val = malloc(N_VAL * sizeof(uint32_t));
    CHECK(train && val);
    for (uint32_t i = 0; i < N_TRAIN; i++)
        train[i] = i;
    for (uint32_t i = 0; i < N_VAL; i++)
        val[i] = 50000 + i;
    /* docs of 7 tokens, 10 docs per shard: windows straddle shard edges */
    struct tt_dataset d = { .dir = dir, .vocab = VOCAB, .tokenizer_hash = 0x1234, .bos_id = -1,
                            .train = train, .n_train = N_TRAIN, .val = val, .n_val = N_VAL,
                            .doc_len = 7, .shard_docs = 10 };
    CHECK_OK(tt_write_dataset(&d));

    const uint64_t W = (N_TRAIN - 1) / T;
    uint64_t *e0 = malloc(W * 8), *e1 = malloc(W * 8), *f0 = malloc(W * 8), *s0 = malloc(W * 8);
    uint64_t *r1 = malloc(W * 8);
    CHECK(e0 && e1 && f0 && s0 && r1);

    tr_loader *l = open_loader(dir, 1, false, T);
    CHECK(tr_loader_windows(l) == W);
    CHECK(tr_loader_vocab(l) == VOCAB);
    CHECK(tr_loader_tokenizer_hash(l) == 0x1234);
    draw_epoch(l, W, e0);
    struct tr_loader_pos pos;
    tr_loader_get_pos(l, &pos);
    CHECK(pos.epoch == 1 && pos.index == 0);
    draw_epoch(l, W, e1);
    CHECK(!same(e0, e1, W));   /* another permutation in epoch 2 */

    /* Same seed, fresh loader: same order. Other seed: other order. */
    tr_loader *l2 = open_loader(dir, 1, false, T);
    draw_epoch(l2, W, f0);
    CHECK(same(e0, f0, W));
    tr_loader_close(l2);
    l2 = open_loader(dir, 2, false, T);
    draw_epoch(l2, W, s0);
    CHECK(!same(e0, s0, W));
    tr_loader_close(l2);

    /* Sequential: stream order. */
    l2 = open_loader(dir, 1, true, T);
    draw_epoch(l2, W, s0);
    for (uint64_t i = 0; i < W; i++)
        CHECK(s0[i] == i);
    tr_loader_close(l2);

    /* Restore a position mid-epoch in a fresh loader: identical rows after. */
    tr_loader_close(l);
    l = open_loader(dir, 1, false, T);
    int32_t rows[3 * (T + 1)], rows2[3 * (T + 1)];
    for (int i = 0; i < 5; i++)
        CHECK_OK(tr_loader_next(l, rows, 3));
    tr_loader_get_pos(l, &pos);
    CHECK_OK(tr_loader_next(l, rows, 3));
    l2 = open_loader(dir, 1, false, T);
    CHECK_OK(tr_loader_set_pos(l2, &pos));
    CHECK_OK(tr_loader_next(l2, rows2, 3));
    CHECK(!memcmp(rows, rows2, sizeof(rows)));
    /* ... also in a later epoch (the permutation is rebuilt). */
    pos.epoch = 3;
    pos.index = 2;
    CHECK_OK(tr_loader_set_pos(l2, &pos));
    tr_loader_close(l);
    l = open_loader(dir, 1, false, T);
    for (int e = 0; e < 3; e++)
        draw_epoch(l, W, r1);
    CHECK_OK(tr_loader_next(l, rows, 3));   /* skip 2 rows, compare the next */
    CHECK_OK(tr_loader_next(l2, rows2, 1));
    CHECK(!memcmp(rows + 2 * (T + 1), rows2, (T + 1) * sizeof(int32_t)));
    pos.index = W;
    CHECK(tr_loader_set_pos(l2, &pos) == INGOT_E_MISMATCH);
    /* an epoch whose windows overflow the count: refused, not a wrapped position */
    pos.index = 2;
    pos.epoch = UINT64_C(1) << 63;
    CHECK(tr_loader_set_pos(l2, &pos) == INGOT_E_MISMATCH);
    CHECK(strstr(ingot_errmsg(), "epoch 9223372036854775808") != NULL);
    tr_loader_close(l2);

    /* Val: the first windows of the val stream, always the same. */
    CHECK(tr_loader_val_windows(l) == (N_VAL - 1) / T);
    CHECK_OK(tr_loader_val_rows(l, 0, 2, rows));
    for (int i = 0; i < 2 * (T + 1); i++)
        CHECK(rows[i] == 50000 + (i / (T + 1)) * T + i % (T + 1));
    CHECK(tr_loader_val_rows(l, 3, 2, rows) != 0);
    tr_loader_close(l);

    /* The verify at start says how far it is on stderr (600 GB of shards
     * took minutes in silence): here a line per shard (a tiny interval), the
     * last at 100%; none without verify. */
    char *log = tt_fmt("%s/progress.log", dir);
    for (int v = 1; v >= 0; v--) {
        fflush(stderr);
        int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        CHECK(saved >= 0 && fd >= 0 && dup2(fd, 2) == 2);
        struct tr_loader_opts po = { .dir = dir, .seq_len = T, .seed = 1, .verify = v,
                                     .progress_s = 1e-9 };
        int err = tr_loader_open(&po, &l);
        fflush(stderr);
        CHECK(dup2(saved, 2) == 2);
        close(fd);
        close(saved);
        CHECK_OK(err);
        tr_loader_close(l);
        char *text = tt_slurp(log), *want = tt_fmt("ingot-train: verifying %s: 1 of ", dir);
        CHECK(text);
        if (v)
            CHECK(strstr(text, want) && strstr(text, "(--no-verify skips the checksums)") &&
                  strstr(text, "(100%)"));
        else
            CHECK(!text[0]);
        free(want);
        free(text);
    }
    unlink(log);
    free(log);

    /* Errors: seq_len longer than the data; missing directory. */
    struct tr_loader_opts o = { .dir = dir, .seq_len = N_TRAIN, .seed = 1, .verify = true };
    ingot_clear_err();
    CHECK(tr_loader_open(&o, &l) == INGOT_E_NODATA);
    CHECK(strstr(ingot_errmsg(), "--seq-len"));
    char *missing = tt_fmt("%s/nope", dir);
    o.dir = missing;
    o.seq_len = T;
    CHECK(tr_loader_open(&o, &l) == -ENOENT);
    CHECK(strstr(ingot_errmsg(), "nope"));

    /* Synthetic ids: in range, reproducible from the saved position. */
    struct tr_loader_opts so = { .seq_len = T, .seed = 5, .synthetic = true, .synth_vocab = 11 };
    CHECK_OK(tr_loader_open(&so, &l));
    CHECK_OK(tr_loader_open(&so, &l2));
    CHECK_OK(tr_loader_next(l, rows, 3));
    for (int i = 0; i < 3 * (T + 1); i++)
        CHECK(rows[i] >= 0 && rows[i] < 11);
    tr_loader_get_pos(l, &pos);
    CHECK_OK(tr_loader_set_pos(l2, &pos));
    CHECK_OK(tr_loader_next(l, rows, 3));
    CHECK_OK(tr_loader_next(l2, rows2, 3));
    CHECK(!memcmp(rows, rows2, sizeof(rows)));
    tr_loader_close(l);
    tr_loader_close(l2);

    free(missing);
    free(e0); free(e1); free(f0); free(s0); free(r1);
    free(train);
    free(val);
    tt_rmtree(dir);
    free(dir);
    printf("loader: %llu windows per epoch, all checks passed\n", (unsigned long long)W);
    return 0;
}
