/* Train/val windows over the shards of a dataset. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_loader.h"
#include "dataset.h"
#include "ingot_err.h"

/* One split's shards seen as one stream. */
struct stream {
    size_t n;                   /* shards */
    const shard_reader **sh;
    uint64_t *start;            /* [n + 1] cumulative token offsets */
};

struct tr_loader {
    struct tr_loader_opts o;
    struct dataset *ds;
    uint32_t vocab;
    struct stream train, val;
    uint64_t n_windows, n_val_windows;
    uint64_t *perm;             /* [n_windows] this epoch's order (NULL: sequential) */
    uint64_t perm_epoch;
    struct tr_loader_pos pos;
};

static int stream_init(struct stream *s, const struct dataset *ds, uint32_t split)
{
    size_t n = dataset_split_shards(ds, split, NULL, 0);
    size_t *idx = calloc(n ? n : 1, sizeof(size_t));
    s->sh = calloc(n ? n : 1, sizeof(*s->sh));
    s->start = calloc(n + 1, sizeof(uint64_t));
    if (!idx || !s->sh || !s->start) {
        free(idx);
        return ingot_oom("shard tables", (n + 1) * (2 * sizeof(size_t) + sizeof(uint64_t)));
    }
    dataset_split_shards(ds, split, idx, n);
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        s->sh[i] = ds->shards[idx[i]];
        s->start[i + 1] = s->start[i] + shard_reader_n_tokens(s->sh[i]);
    }
    free(idx);
    return 0;
}

static void stream_free(struct stream *s)
{
    free(s->sh);
    free(s->start);
}

/* SIGBUS: a shard truncated (or replaced in place) while mapped makes the
 * pages past its new end fault. The copy out of the mapping is the only
 * place the training loop touches shard bytes, so it runs armed: the
 * handler jumps back to it (the fault is synchronous, on the copying
 * thread, inside plain loads; nothing is left half-locked) and the copy
 * fails with a message naming the shard. */
static _Thread_local sigjmp_buf bus_jump;
static _Thread_local volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
    if (bus_armed) {
        bus_armed = 0;
        siglongjmp(bus_jump, 1);
    }
    /* A fault elsewhere: say so (write() is async-signal-safe) and die of
     * the signal as before. */
    static const char msg[] = "ingot-train: SIGBUS outside the data loader's copy: a mapped "
                              "file was truncated or a device failed\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

void tr_loader_trap_sigbus(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

/* shard_reader_copy_u32() with a SIGBUS turned into INGOT_E_TRUNCATED. */
static int copy_guarded(const shard_reader *sh, uint64_t off, size_t n, uint32_t *dst)
{
    if (sigsetjmp(bus_jump, 1))
        return ingot_fail(INGOT_E_TRUNCATED, "%s: the shard was truncated or rewritten while "
                          "training (SIGBUS reading tokens [%" PRIu64 ", %" PRIu64 ")); restore "
                          "it (ingot-dump verify) and resume", shard_reader_path(sh), off,
                          off + n);
    bus_armed = 1;
    shard_reader_copy_u32(sh, off, n, dst);
    bus_armed = 0;
    return 0;
}

/* Copy stream tokens [pos, pos + n) as int32, checking the range. */
static int stream_copy(const tr_loader *l, const struct stream *s, uint64_t pos, size_t n,
                       int32_t *dst)
{
    /* last shard whose start <= pos */
    size_t lo = 0, hi = s->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->start[mid] <= pos)
            lo = mid;
        else
            hi = mid;
    }
    size_t done = 0;
    for (size_t i = lo; done < n && i < s->n; i++) {
        uint64_t off = pos + done - s->start[i];
        uint64_t avail = s->start[i + 1] - s->start[i];
        if (off >= avail)
            continue;
        size_t take = avail - off < n - done ? (size_t)(avail - off) : n - done;
        /* int32 and uint32 may alias; ids are checked below */
        int err = copy_guarded(s->sh[i], off, take, (uint32_t *)(void *)(dst + done));
        if (err)
            return err;
        for (size_t k = 0; k < take; k++)
            if ((uint32_t)dst[done + k] >= l->vocab)
                return ingot_fail(INGOT_E_CORRUPT, "%s: token %" PRIu64 " is id %u, beyond the "
                                  "vocabulary of %u; the shard is corrupt (ingot-dump verify)",
                                  shard_reader_path(s->sh[i]), off + k, (uint32_t)dst[done + k],
                                  l->vocab);
        done += take;
    }
    if (done < n)
        return ingot_fail(INGOT_E_CORRUPT, "loader: window at %" PRIu64 " runs past the data", pos);
    return 0;
}

static void build_perm(tr_loader *l, uint64_t epoch)
{
    uint64_t W = l->n_windows;
    struct tr_rng r;
    for (uint64_t i = 0; i < W; i++)
        l->perm[i] = i;
    tr_rng_seed(&r, l->o.seed ^ tr_mix64(epoch), TR_STREAM_SHUFFLE);
    for (uint64_t i = W - 1; i > 0; i--) {   /* Fisher-Yates */
        uint64_t j = tr_rng_below(&r, i + 1);
        uint64_t t = l->perm[i];
        l->perm[i] = l->perm[j];
        l->perm[j] = t;
    }
    l->perm_epoch = epoch;
}

int tr_loader_open(const struct tr_loader_opts *o, tr_loader **out)
{
    *out = NULL;
    tr_loader *l = calloc(1, sizeof(*l));
    if (!l)
        return ingot_oom("data loader", sizeof(*l));
    l->o = *o;
    int T = o->seq_len, err;
    tr_rng_seed(&l->pos.synth, o->seed, TR_STREAM_SYNTH);
    if (o->synthetic) {
        l->vocab = o->synth_vocab;
        *out = l;
        return 0;
    }
    if ((err = dataset_open(o->dir, o->verify, &l->ds)))
        goto fail;
    const struct manifest *m = l->ds->manifest;
    l->vocab = m->tokenizer.vocab_size;
    for (size_t i = 0; i < l->ds->n_shards; i++) {   /* the manifest may omit it */
        uint32_t sv = shard_reader_header(l->ds->shards[i])->vocab_size;
        if (sv > l->vocab)
            l->vocab = sv;
    }
    if ((err = stream_init(&l->train, l->ds, INGOT_SPLIT_TRAIN)) ||
        (err = stream_init(&l->val, l->ds, INGOT_SPLIT_VAL)))
        goto fail;
    uint64_t N = l->train.start[l->train.n];
    if (l->train.n == 0 || N == 0) {
        err = ingot_fail(INGOT_E_NODATA, "%s: the dataset has no train tokens (%zu train shards); "
                         "run ingot-pretok on a non-empty corpus", o->dir, l->train.n);
        goto fail;
    }
    if (N < (uint64_t)T + 1) {
        err = ingot_fail(INGOT_E_NODATA, "%s: the train split has %" PRIu64 " tokens but "
                         "--seq-len %d needs at least %d; use a shorter --seq-len or more data",
                         o->dir, N, T, T + 1);
        goto fail;
    }
    if (l->vocab < 2) {
        err = ingot_fail(INGOT_E_CORRUPT, "%s: manifest vocabulary size %u is unusable", o->dir,
                         l->vocab);
        goto fail;
    }
    l->n_windows = (N - 1) / (uint64_t)T;
    uint64_t NV = l->val.start[l->val.n];
    l->n_val_windows = NV > (uint64_t)T ? (NV - 1) / (uint64_t)T : 0;
    if (!o->sequential) {
        l->perm = malloc(l->n_windows * sizeof(uint64_t));
        if (!l->perm) {
            err = ingot_oom("the epoch's window order", l->n_windows * sizeof(uint64_t));
            goto fail;
        }
        build_perm(l, 0);
    }
    *out = l;
    return 0;
fail:
    tr_loader_close(l);
    return err;
}

void tr_loader_close(tr_loader *l)
{
    if (!l)
        return;
    stream_free(&l->train);
    stream_free(&l->val);
    free(l->perm);
    dataset_close(l->ds);
    free(l);
}

uint32_t tr_loader_vocab(const tr_loader *l)
{
    return l->vocab;
}

uint64_t tr_loader_tokenizer_hash(const tr_loader *l)
{
    return l->ds ? l->ds->manifest->tokenizer.hash : 0;
}

const struct dataset *tr_loader_dataset(const tr_loader *l)
{
    return l->ds;
}

uint64_t tr_loader_train_tokens(const tr_loader *l)
{
    return l->ds ? l->train.start[l->train.n] : 0;
}

uint64_t tr_loader_windows(const tr_loader *l)
{
    return l->n_windows;
}

void tr_loader_get_pos(const tr_loader *l, struct tr_loader_pos *pos)
{
    *pos = l->pos;
}

int tr_loader_set_pos(tr_loader *l, const struct tr_loader_pos *pos)
{
    if (!l->o.synthetic && pos->index >= l->n_windows)
        return ingot_fail(INGOT_E_MISMATCH, "loader: saved position %" PRIu64 " is beyond the "
                          "%" PRIu64 " windows of an epoch: the dataset or --seq-len differs "
                          "from the checkpoint's", pos->index, l->n_windows);
    l->pos = *pos;
    if (l->perm && l->perm_epoch != pos->epoch)
        build_perm(l, pos->epoch);
    return 0;
}

uint64_t tr_loader_peek_start(const tr_loader *l)
{
    uint64_t w = l->perm ? l->perm[l->pos.index] : l->pos.index;
    return w * (uint64_t)l->o.seq_len;
}

int tr_loader_next(tr_loader *l, int32_t *rows, size_t n_rows)
{
    size_t T1 = (size_t)l->o.seq_len + 1;
    if (l->o.synthetic) {
        for (size_t i = 0; i < n_rows * T1; i++)
            rows[i] = (int32_t)tr_rng_below(&l->pos.synth, l->vocab);
        return 0;
    }
    const struct tr_loader_pos start = l->pos;
    for (size_t r = 0; r < n_rows; r++) {
        int err = stream_copy(l, &l->train, tr_loader_peek_start(l), T1, rows + r * T1);
        if (err) {
            /* back to where this batch began: a checkpoint written after
             * the failure resumes exactly at it */
            if (l->perm && l->perm_epoch != start.epoch)
                build_perm(l, start.epoch);
            l->pos = start;
            return err;
        }
        if (++l->pos.index == l->n_windows) {
            l->pos.index = 0;
            l->pos.epoch++;
            if (l->perm)
                build_perm(l, l->pos.epoch);
        }
    }
    return 0;
}

uint64_t tr_loader_val_windows(const tr_loader *l)
{
    return l->n_val_windows;
}

int tr_loader_val_rows(const tr_loader *l, uint64_t first, size_t n, int32_t *rows)
{
    size_t T1 = (size_t)l->o.seq_len + 1;
    if (first + n > l->n_val_windows)
        return ingot_fail(INGOT_E_USAGE, "loader: val windows [%" PRIu64 ", %" PRIu64 ") of %"
                          PRIu64, first, first + n, l->n_val_windows);
    for (size_t r = 0; r < n; r++) {
        int err = stream_copy(l, &l->val, (first + r) * (T1 - 1), T1, rows + r * T1);
        if (err)
            return err;
    }
    return 0;
}
