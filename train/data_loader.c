/* Train/val windows over the shards of a dataset. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_num.h"
#include "data_loader.h"
#include "dataset.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "mono_clock.h"
#include "term_text.h"

/* One split's shards seen as one stream. */
struct stream {
    size_t n;                   /* shards */
    const shard_reader **sh;
    uint64_t *start;            /* [n + 1] cumulative token offsets */
};

/* One dataset: its splits, its window order and where it is in it. */
struct source {
    const char *dir;
    double cum;                 /* cumulative normalised weight (mixtures) */
    struct dataset *ds;
    struct stream train, val;
    uint64_t n_windows, n_val_windows;
    uint64_t seed;              /* of its permutations */
    /* [n_windows] this epoch's order (NULL: sequential): 32-bit entries
     * while the windows fit (a 600 GB corpus has ~300M windows of 2048: 1.2
     * GB per source and rank, not 2.4), 64-bit past 2^32 windows */
    void *perm;
    bool perm_wide;
    uint64_t perm_epoch;
    struct tr_loader_src_pos pos;
};

struct tr_loader {
    struct tr_loader_opts o;
    uint32_t vocab;
    int n;                      /* sources (0 when synthetic) */
    struct source src[TR_MAX_SOURCES];
    uint64_t drawn;             /* windows drawn from all sources */
    struct tr_rng synth;
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
                          "in use (SIGBUS reading tokens [%" PRIu64 ", %" PRIu64 ")); restore "
                          "it (ingot-dump verify), then resume the run or run the command "
                          "again", shard_reader_shown(sh), off, off + n);
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
                                  shard_reader_shown(s->sh[i]), off + k, (uint32_t)dst[done + k],
                                  l->vocab);
        done += take;
    }
    if (done < n)
        return ingot_fail(INGOT_E_CORRUPT, "loader: window at %" PRIu64 " runs past the data", pos);
    return 0;
}

/* Window i of this epoch's order. */
static uint64_t perm_at(const struct source *s, uint64_t i)
{
    return s->perm_wide ? ((const uint64_t *)s->perm)[i] : ((const uint32_t *)s->perm)[i];
}

/* The same Fisher-Yates shuffle at either width: the order does not depend
 * on the storage. */
#define FISHER_YATES(T, p, W, r)                                                  \
    do {                                                                          \
        for (uint64_t i_ = 0; i_ < (W); i_++)                                     \
            (p)[i_] = (T)i_;                                                      \
        for (uint64_t i_ = (W) - 1; i_ > 0; i_--) {                               \
            uint64_t j_ = tr_rng_below((r), i_ + 1);                              \
            T t_ = (p)[i_];                                                       \
            (p)[i_] = (p)[j_];                                                    \
            (p)[j_] = t_;                                                         \
        }                                                                         \
    } while (0)

static void build_perm(struct source *s, uint64_t epoch)
{
    uint64_t W = s->n_windows;
    struct tr_rng r;
    tr_rng_seed(&r, s->seed ^ tr_mix64(epoch), TR_STREAM_SHUFFLE);
    if (s->perm_wide)
        FISHER_YATES(uint64_t, (uint64_t *)s->perm, W, &r);
    else
        FISHER_YATES(uint32_t, (uint32_t *)s->perm, W, &r);
    s->perm_epoch = epoch;
}

/* Mixture draws: uniform in [0, 1) from (seed, what, n) alone, so a draw
 * needs no state beyond its index. */
enum { MIX_TRAIN = 0x6d697874, MIX_VAL = 0x6d697876 };

static double mix_uniform(uint64_t seed, uint64_t what, uint64_t n)
{
    uint64_t h = tr_mix64(tr_mix64(seed ^ tr_mix64(what)) + n);
    return (double)(h >> 11) * 0x1.0p-53;
}

/* The source whose cumulative weight first exceeds u. */
static int mix_pick(const tr_loader *l, double u)
{
    for (int i = 0; i < l->n - 1; i++)
        if (u < l->src[i].cum)
            return i;
    return l->n - 1;
}

/* The verify at start reads every byte of the dataset (600 GB of
 * SlimPajama: many minutes, on every rank): it says how far it is. */
struct verify_progress {
    const char *dir;
    double every, start, next;
    bool said;
};

static void verify_progress(void *arg, size_t done, size_t n, uint64_t bytes_done,
                            uint64_t bytes_total)
{
    struct verify_progress *p = arg;
    const double now = mono_now();
    if (now < p->next && !(p->said && done == n))
        return;
    p->next = now + p->every;
    char bd[32], bt[32];
    fprintf(stderr, "ingot-train: verifying %s: %zu of %zu shards, %s of %s (%.0f%%), %.0f s%s\n",
            TERM_SHOW(p->dir), done, n, cli_human_bytes((double)bytes_done, bd, sizeof(bd)),
            cli_human_bytes((double)bytes_total, bt, sizeof(bt)),
            bytes_total ? 100.0 * (double)bytes_done / (double)bytes_total : 100.0,
            now - p->start, p->said ? "" : " (--no-verify skips the checksums)");
    p->said = true;
}

/* A test build's pause before the checksums of each shard are read
 * (INGOT_TRAIN_TEST_VERIFY_PAUSE_MS), announced on stderr, so that a test
 * can cut shards short while they are mapped and not yet verified. */
static void verify_test_pause(const shard_reader *sh)
{
#ifdef INGOT_TEST_HOOKS
    const char *e = getenv("INGOT_TRAIN_TEST_VERIFY_PAUSE_MS");
    if (e && *e) {
        fprintf(stderr, "ingot-train: test hook: %s ms before verifying %s\n", e,
                shard_reader_shown(sh));
        struct timespec ts = { atol(e) / 1000, atol(e) % 1000 * 1000000L };
        nanosleep(&ts, NULL);
    }
#else
    (void)sh;
#endif
}

/* dataset_verify_shard() with a SIGBUS (the shard truncated while its
 * checksums are read, which read every byte of the mapping) turned into
 * INGOT_E_TRUNCATED naming the shard. The jump leaves the checksum's state
 * allocated (a few hundred bytes; the run ends on this error). */
static int verify_guarded(const struct manifest *m, const shard_reader *sh)
{
    if (sigsetjmp(bus_jump, 1))
        return ingot_fail(INGOT_E_TRUNCATED, "%s: the shard was truncated or rewritten while "
                          "its checksums were read (SIGBUS); restore it (ingot-dump verify), "
                          "then run the command again", shard_reader_shown(sh));
    bus_armed = 1;
    int err = dataset_verify_shard(m, sh);
    bus_armed = 0;
    return err;
}

/* Every checksum of an opened dataset, shard by shard under the SIGBUS
 * guard, with the progress lines, then the manifest's totals. */
static int verify_source(const struct dataset *ds, const struct tr_loader_opts *o)
{
    const struct manifest *m = ds->manifest;
    struct verify_progress vp = { .dir = ds->dir, .every = o->progress_s, .start = mono_now() };
    vp.next = vp.start + vp.every;
    uint64_t bytes = 0, done = 0;
    for (size_t i = 0; i < ds->n_shards; i++)
        bytes += m->shards[i].file_size;
    for (size_t i = 0; i < ds->n_shards; i++) {
        verify_test_pause(ds->shards[i]);
        int err = verify_guarded(m, ds->shards[i]);
        if (err)
            return err;
        done += m->shards[i].file_size;
        if (o->progress_s > 0.0)
            verify_progress(&vp, i + 1, ds->n_shards, done, bytes);
    }
    return dataset_check_totals(ds->dir, m);
}

static int source_open(tr_loader *l, struct source *s, const char *dir)
{
    const struct tr_loader_opts *o = &l->o;
    int T = o->seq_len, err;
    s->dir = dir;
    if ((err = dataset_open(dir, false, &s->ds)) || (o->verify && (err = verify_source(s->ds, o))))
        return err;
    const struct manifest *m = s->ds->manifest;
    uint32_t vocab = m->tokenizer.vocab_size;
    for (size_t i = 0; i < s->ds->n_shards; i++) {   /* the manifest may omit it */
        uint32_t sv = shard_reader_header(s->ds->shards[i])->vocab_size;
        if (sv > vocab)
            vocab = sv;
    }
    if (s != &l->src[0]) {
        /* a mixture's ids must mean the same thing in every source */
        const struct manifest *m0 = l->src[0].ds->manifest;
        /* a source of ids only (import-bin --vocab records hash 0): "re-run
         * ingot-pretok with the same --model" sent the user to a conversion
         * it never had; the way is to import its ids again with the model */
        const bool ids0 = !m0->tokenizer.hash, ids = !m->tokenizer.hash;
        if (m->tokenizer.hash != m0->tokenizer.hash && (ids0 || ids))
            return ingot_fail(INGOT_E_MISMATCH, "--data %s holds ids only (made by ingot-pretok "
                              "import-bin --vocab: no tokenizer recorded), and --data %s was "
                              "made with a tokenizer (hash %016" PRIx64 "): a mixture needs one "
                              "tokenizer; if its ids were made with that model, import them "
                              "again with import-bin --tokenizer M", TERM_SHOW(ids ? dir :
                              l->src[0].dir), TERM_SHOW(ids ? l->src[0].dir : dir),
                              ids ? m0->tokenizer.hash : m->tokenizer.hash);
        if (m->tokenizer.hash != m0->tokenizer.hash)
            return ingot_fail(INGOT_E_MISMATCH, "--data %s and --data %s were made with "
                              "different tokenizers (hash %016" PRIx64 " and %016" PRIx64 " in "
                              "their manifest.json): a mixture needs one tokenizer; re-run "
                              "ingot-pretok with the same --model", TERM_SHOW(l->src[0].dir),
                              TERM_SHOW(dir), m0->tokenizer.hash, m->tokenizer.hash);
        if (vocab != l->vocab)
            return ingot_fail(INGOT_E_MISMATCH, "--data %s has a vocabulary of %u and --data %s "
                              "one of %u: a mixture needs one vocabulary", TERM_SHOW(l->src[0].dir),
                              l->vocab, TERM_SHOW(dir), vocab);
    }
    l->vocab = vocab;
    if ((err = stream_init(&s->train, s->ds, INGOT_SPLIT_TRAIN)) ||
        (err = stream_init(&s->val, s->ds, INGOT_SPLIT_VAL)))
        return err;
    uint64_t N = s->train.start[s->train.n];
    if (o->val_only && N < (uint64_t)T + 1)
        N = 0;   /* no train window: none is drawn */
    else if (s->train.n == 0 || N == 0)
        return ingot_fail(INGOT_E_NODATA, "%s: the dataset has no train tokens (%zu train "
                          "shards); run ingot-pretok on a non-empty corpus", TERM_SHOW(dir),
                          s->train.n);
    else if (N < (uint64_t)T + 1)
        return ingot_fail(INGOT_E_NODATA, "%s: the train split has %" PRIu64 " tokens but "
                          "a context of %d (--seq-len, or the checkpoint's) needs at least %d; "
                          "use more data (or, to train, a shorter --seq-len)", TERM_SHOW(dir), N,
                          T, T + 1);
    if (l->vocab < 2)
        return ingot_fail(INGOT_E_CORRUPT, "%s: manifest vocabulary size %u is unusable",
                          TERM_SHOW(dir), l->vocab);
    s->n_windows = N ? (N - 1) / (uint64_t)T : 0;
    uint64_t NV = s->val.start[s->val.n];
    s->n_val_windows = NV > (uint64_t)T ? (NV - 1) / (uint64_t)T : 0;
    /* source 0 keeps the run's seed: one dataset orders its windows as
     * before mixtures existed */
    s->seed = s == &l->src[0] ? o->seed : tr_mix64(o->seed ^ tr_mix64((uint64_t)(s - l->src)));
    if (!o->sequential && s->n_windows) {
        s->perm_wide = s->n_windows > UINT32_MAX;
        const size_t each = s->perm_wide ? sizeof(uint64_t) : sizeof(uint32_t);
        if (s->n_windows > SIZE_MAX / each || !(s->perm = malloc(s->n_windows * each)))
            return ingot_oom("the epoch's window order", s->n_windows * each);
        build_perm(s, 0);
    }
    return 0;
}

/* --data DIR[:WEIGHT]: the weight is what follows the last ':' when that
 * is a number (so a directory name may hold colons). */
int tr_loader_source_add(struct tr_loader_source *src, int *n, char *v)
{
    if (*n == TR_MAX_SOURCES)
        return ingot_fail(INGOT_E_USAGE, "--data: more than %d datasets", TR_MAX_SOURCES);
    struct tr_loader_source *d = &src[*n];
    const char *colon = strrchr(v, ':');
    char *end = NULL;
    double w = 1.0;
    d->dir = v;
    if (colon && colon[1]) {
        /* decimal only ("0x10" is a name, not 16) */
        const bool hex = strpbrk(colon + 1, "xXpP") != NULL;
        w = hex ? 0.0 : strtod(colon + 1, &end);
        if (!hex && *end == '\0') {
            if (!(w > 0.0) || !isfinite(w) || w > 1e9 || w < 1e-9)
                return ingot_fail(INGOT_E_USAGE, "--data %s: weight '%s'; use a number in "
                                  "[1e-9, 1e9] (DIR:WEIGHT; weights are relative)", TERM_SHOW(v),
                                  TERM_SHOW(colon + 1));
            /* a directory named like DIR:WEIGHT itself: which one is meant
             * is not for us to guess (web:5 took web, weight 5, in silence) */
            struct stat whole;
            if (stat(v, &whole) == 0 && S_ISDIR(whole.st_mode))
                return ingot_fail(INGOT_E_USAGE, "--data %s reads as a dataset with weight %s, "
                                  "but %s is a directory itself: write %s:1 to mean that "
                                  "directory, or put a '/' before ':%s' to mean the weight",
                                  TERM_SHOW(v), TERM_SHOW(colon + 1), TERM_SHOW(v), TERM_SHOW(v),
                                  TERM_SHOW(colon + 1));
            v[colon - v] = '\0';   /* the caller owns v: cut the weight off in place */
        } else {
            w = 1.0;
        }
    }
    if (!d->dir[0])
        return ingot_fail(INGOT_E_USAGE, "--data '%s': no directory", TERM_SHOW(v));
    /* twice would be its weights added, unsaid; also under another name
     * (base and ./base/, a symlink): the same directory on disk */
    struct stat a, b;
    const bool here = stat(d->dir, &b) == 0;
    for (int i = 0; i < *n; i++) {
        const bool alias = strcmp(src[i].dir, d->dir) != 0;   /* another spelling */
        if (!alias ||
            (here && stat(src[i].dir, &a) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
            return ingot_fail(INGOT_E_USAGE, "--data %s is given twice%s%s%s; give it once "
                              "with the weight it should have", TERM_SHOW(d->dir),
                              alias ? " (also as " : "", alias ? TERM_SHOW(src[i].dir) : "",
                              alias ? ")" : "");
    }
    d->weight = w;
    (*n)++;
    return 0;
}

int tr_loader_open(const struct tr_loader_opts *o, tr_loader **out)
{
    *out = NULL;
    tr_loader *l = calloc(1, sizeof(*l));
    if (!l)
        return ingot_oom("data loader", sizeof(*l));
    l->o = *o;
    int err = 0;
    tr_rng_seed(&l->synth, o->seed, TR_STREAM_SYNTH);
    if (o->synthetic) {
        l->vocab = o->synth_vocab;
        *out = l;
        return 0;
    }
    struct tr_loader_source one = { o->dir, 1.0 };
    const struct tr_loader_source *srcs = o->n_sources > 0 ? o->sources : &one;
    int n = o->n_sources > 0 ? o->n_sources : 1;
    if (n > TR_MAX_SOURCES) {
        err = ingot_fail(INGOT_E_USAGE, "%d --data sources; at most %d", n, TR_MAX_SOURCES);
        goto fail;
    }
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        if (!(srcs[i].weight > 0.0) || !isfinite(srcs[i].weight)) {
            err = ingot_fail(INGOT_E_USAGE, "--data %s: weight %g; weights are positive numbers",
                             TERM_SHOW(srcs[i].dir), srcs[i].weight);
            goto fail;
        }
        total += srcs[i].weight;
    }
    double cum = 0.0;
    for (int i = 0; i < n; i++) {
        l->n = i + 1;
        if ((err = source_open(l, &l->src[i], srcs[i].dir)))
            goto fail;
        cum += srcs[i].weight;
        l->src[i].cum = i == n - 1 ? 1.0 : cum / total;
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
    for (int i = 0; i < l->n; i++) {
        stream_free(&l->src[i].train);
        stream_free(&l->src[i].val);
        free(l->src[i].perm);
        dataset_close(l->src[i].ds);
    }
    free(l);
}

uint32_t tr_loader_vocab(const tr_loader *l)
{
    return l->vocab;
}

uint64_t tr_loader_tokenizer_hash(const tr_loader *l)
{
    return l->n ? l->src[0].ds->manifest->tokenizer.hash : 0;
}

uint64_t tr_loader_source_id(const tr_loader *l, int i)
{
    const struct manifest *m = l->src[i].ds->manifest;
    uint64_t h = 0;   /* chained: each step hashes the last value and the next ones */
    for (size_t k = 0; k < m->n_shards; k++) {
        const struct manifest_shard *s = &m->shards[k];
        const uint64_t v[4] = { h, s->split, s->tokens_checksum, s->index_checksum };
        h = ingot_xxh3(v, sizeof(v));
    }
    return h;
}

uint64_t tr_loader_data_id(const tr_loader *l)
{
    uint64_t h = 0;
    for (int i = 0; i < l->n; i++) {
        uint64_t w[3] = { h, 0, tr_loader_source_id(l, i) };
        memcpy(&w[1], &l->src[i].cum, sizeof(w[1]));
        h = ingot_xxh3(w, sizeof(w));
    }
    return h;
}

const struct dataset *tr_loader_dataset(const tr_loader *l)
{
    return l->n ? l->src[0].ds : NULL;
}

const struct dataset *tr_loader_source_dataset(const tr_loader *l, int i)
{
    return l->src[i].ds;
}

int tr_loader_n_sources(const tr_loader *l)
{
    return l->n;
}

const char *tr_loader_source_dir(const tr_loader *l, int i)
{
    return l->src[i].dir;
}

double tr_loader_source_weight(const tr_loader *l, int i)
{
    return l->src[i].cum - (i ? l->src[i - 1].cum : 0.0);
}

uint64_t tr_loader_train_tokens(const tr_loader *l)
{
    uint64_t n = 0;
    for (int i = 0; i < l->n; i++)
        n += l->src[i].train.start[l->src[i].train.n];
    return n;
}

uint64_t tr_loader_windows(const tr_loader *l)
{
    uint64_t n = 0;
    for (int i = 0; i < l->n; i++)
        n += l->src[i].n_windows;
    return n;
}

void tr_loader_get_pos(const tr_loader *l, struct tr_loader_pos *pos)
{
    memset(pos, 0, sizeof(*pos));
    pos->synth = l->synth;
    pos->n_src = l->n;
    for (int i = 0; i < l->n; i++)
        pos->src[i] = l->src[i].pos;
    if (l->n == 1) {
        pos->epoch = l->src[0].pos.epoch;
        pos->index = l->src[0].pos.index;
    } else {
        pos->index = l->drawn;
    }
}

int tr_loader_set_pos(tr_loader *l, const struct tr_loader_pos *pos)
{
    l->synth = pos->synth;
    if (l->n == 0)
        return 0;
    struct tr_loader_src_pos one[1];
    const struct tr_loader_src_pos *sp = pos->src;
    if (l->n == 1) {
        /* the header's epoch and index are all a one-dataset position needs
         * (checkpoints before mixtures hold nothing else) */
        const uint64_t n = l->src[0].n_windows;
        one[0] = (struct tr_loader_src_pos){ pos->epoch, pos->index,
                                             pos->epoch <= UINT64_MAX / n
                                                 ? pos->epoch * n + pos->index : 0 };
        sp = one;
    } else if (pos->n_src != l->n) {
        return ingot_fail(INGOT_E_MISMATCH, "loader: the saved position is of %d data sources, "
                          "this run has %d: pass the checkpoint's --data list", pos->n_src, l->n);
    }
    uint64_t sum = 0;
    for (int i = 0; i < l->n; i++) {
        if (sp[i].index >= l->src[i].n_windows)
            return ingot_fail(INGOT_E_MISMATCH, "loader: %s: saved position %" PRIu64 " is "
                              "beyond the %" PRIu64 " windows of an epoch: the dataset or "
                              "--seq-len differs from the checkpoint's", TERM_SHOW(l->src[i].dir),
                              sp[i].index, l->src[i].n_windows);
        /* windows are drawn one after the other: a source's count is its
         * epochs' windows plus the index (not so: another dataset, or an
         * epoch field past any real run) */
        const uint64_t n = l->src[i].n_windows;
        if (sp[i].epoch > (UINT64_MAX - sp[i].index) / n ||
            sp[i].windows != sp[i].epoch * n + sp[i].index)
            return ingot_fail(INGOT_E_MISMATCH, "loader: %s: the saved position (epoch %"
                              PRIu64 ", window %" PRIu64 ", %" PRIu64 " windows drawn) does not "
                              "add up with %" PRIu64 " windows an epoch: the dataset or "
                              "--seq-len differs from the checkpoint's (or the checkpoint is "
                              "corrupt)", TERM_SHOW(l->src[i].dir), sp[i].epoch, sp[i].index,
                              sp[i].windows, n);
        sum += sp[i].windows;
    }
    if (l->n > 1 && sum != pos->index)
        return ingot_fail(INGOT_E_CORRUPT, "loader: the saved per-source positions add up to %"
                          PRIu64 " windows, the mixture's count is %" PRIu64, sum, pos->index);
    for (int i = 0; i < l->n; i++) {
        struct source *s = &l->src[i];
        s->pos = sp[i];
        if (s->perm && s->perm_epoch != s->pos.epoch)
            build_perm(s, s->pos.epoch);
    }
    l->drawn = l->n > 1 ? pos->index : sp[0].windows;
    return 0;
}

static uint64_t source_peek(const tr_loader *l, const struct source *s)
{
    uint64_t w = s->perm ? perm_at(s, s->pos.index) : s->pos.index;
    return w * (uint64_t)l->o.seq_len;
}

/* The source of the next window. */
static int next_source(const tr_loader *l)
{
    return l->n == 1 ? 0 : mix_pick(l, mix_uniform(l->o.seed, MIX_TRAIN, l->drawn));
}

uint64_t tr_loader_peek_start(const tr_loader *l)
{
    return source_peek(l, &l->src[next_source(l)]);
}

int tr_loader_next(tr_loader *l, int32_t *rows, size_t n_rows)
{
    size_t T1 = (size_t)l->o.seq_len + 1;
    if (l->o.synthetic) {
        for (size_t i = 0; i < n_rows * T1; i++)
            rows[i] = (int32_t)tr_rng_below(&l->synth, l->vocab);
        return 0;
    }
    struct tr_loader_pos start;
    tr_loader_get_pos(l, &start);
    for (size_t r = 0; r < n_rows; r++) {
        struct source *s = &l->src[next_source(l)];
        int err = stream_copy(l, &s->train, source_peek(l, s), T1, rows + r * T1);
        if (err) {
            /* back to where this batch began: a checkpoint written after
             * the failure resumes exactly at it */
            tr_loader_set_pos(l, &start);
            return err;
        }
        l->drawn++;
        s->pos.windows++;
        if (++s->pos.index == s->n_windows) {
            s->pos.index = 0;
            s->pos.epoch++;
            if (s->perm)
                build_perm(s, s->pos.epoch);
        }
    }
    return 0;
}

uint64_t tr_loader_val_windows(const tr_loader *l)
{
    uint64_t n = 0;
    for (int i = 0; i < l->n; i++)
        n += l->src[i].n_val_windows;
    return n;
}

uint64_t tr_loader_val_take(const tr_loader *l, int64_t val_tokens, int seq_len)
{
    if (val_tokens <= 0 || seq_len <= 0)
        return 0;
    uint64_t avail = tr_loader_val_windows(l), want = (uint64_t)val_tokens / (uint64_t)seq_len;
    want = want ? want : 1;
    return want < avail ? want : avail;
}

/* The val set's walk: window k of [first, first + n) copied into rows (when
 * rows) and its source written to src (when src). */
static int val_walk(const tr_loader *l, uint64_t first, size_t n, int32_t *rows, int *src)
{
    size_t T1 = (size_t)l->o.seq_len + 1;
    uint64_t total = tr_loader_val_windows(l);
    if (first + n > total)
        return ingot_fail(INGOT_E_USAGE, "loader: val windows [%" PRIu64 ", %" PRIu64 ") of %"
                          PRIu64, first, first + n, total);
    /* a mixture's val order is replayed from its start: the set is read
     * once per run and its draws cost nothing beside the copies */
    uint64_t used[TR_MAX_SOURCES] = { 0 };
    uint64_t k0 = l->n == 1 ? first : 0;   /* one dataset: val window k is window k */
    used[0] = k0;
    for (uint64_t k = k0; k < first + n; k++) {
        int i = 0;
        if (l->n > 1) {
            i = mix_pick(l, mix_uniform(l->o.seed, MIX_VAL, k));
            while (used[i] == l->src[i].n_val_windows)   /* used up: the next one */
                i = (i + 1) % l->n;
        }
        uint64_t w = used[i]++;
        if (k < first)
            continue;
        if (src)
            src[k - first] = i;
        int err = rows ? stream_copy(l, &l->src[i].val, w * (T1 - 1), T1,
                                     rows + (k - first) * T1) : 0;
        if (err)
            return err;
    }
    return 0;
}

int tr_loader_val_rows(const tr_loader *l, uint64_t first, size_t n, int32_t *rows)
{
    return val_walk(l, first, n, rows, NULL);
}

int tr_loader_val_sources(const tr_loader *l, uint64_t first, size_t n, int *src)
{
    return val_walk(l, first, n, NULL, src);
}
