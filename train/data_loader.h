/* Training and validation tokens for ingot-train.
 *
 * The train split's shards, in manifest order, form one token stream of N
 * tokens. Window k is tokens [k*T, k*T + T + 1) for k < W = (N - 1) / T:
 * consecutive windows share only their boundary token, so every token after
 * the first is a prediction target exactly once per epoch. Each epoch visits
 * all W windows once, in a Fisher-Yates permutation seeded by (seed, epoch)
 * (--data-order shuffled) or in stream order (sequential). The position
 * (epoch, index) is all the state there is, so a checkpoint restores it
 * exactly. Validation uses the first windows of the val split, the same set
 * every time. --synthetic replaces the dataset with uniform random ids from
 * a seeded stream whose state is part of the position.
 *
 * A mixture (--data DIR:WEIGHT repeated) keeps one such window order per
 * source (source 0 seeded with the run's seed, source i with a seed derived
 * from (seed, i)) and draws the source of the n-th window of the run from a
 * counter-based hash of (seed, n) against the normalised weights. Every
 * draw is a pure function of the seed and the count, so the sequence of
 * windows does not depend on how a step's rows are split among ranks, and
 * the position (the count plus each source's epoch and index) restores it
 * exactly. The sources must share the tokenizer and the vocabulary. */
#ifndef INGOT_DATA_LOADER_H
#define INGOT_DATA_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tr_rng.h"

struct dataset;

typedef struct tr_loader tr_loader;

/* Most datasets one mixture may draw from. */
#define TR_MAX_SOURCES 16

/* One dataset of a mixture and its weight (> 0; normalised by the loader). */
struct tr_loader_source {
    const char *dir;
    double weight;
};

/* Appends --data's value v, DIR[:WEIGHT] (the weight: what follows the last
 * ':' when that is a decimal number in [1e-9, 1e9]), to src[0 .. *n); cuts
 * the weight off v in place. Refuses a directory given twice and more than
 * TR_MAX_SOURCES. */
int tr_loader_source_add(struct tr_loader_source *src, int *n, char *v);

struct tr_loader_opts {
    const char *dir;        /* dataset directory (ignored when synthetic or when
                               sources is set) */
    const struct tr_loader_source *sources;   /* a mixture of n_sources datasets */
    int n_sources;
    int seq_len;            /* T */
    uint64_t seed;
    bool sequential;        /* --data-order sequential */
    bool synthetic;         /* random ids, no dataset */
    uint32_t synth_vocab;   /* vocabulary of the synthetic ids */
    bool verify;            /* recompute every shard checksum on open */
    double progress_s;      /* while verifying: a line on stderr every progress_s seconds
                               (the first after progress_s), how far it is; 0: none */
    bool val_only;          /* only val windows will be read (eval --split val): the
                               train split may be empty or shorter than a window */
};

/* One source's place in its own window order. */
struct tr_loader_src_pos {
    uint64_t epoch, index;  /* as in tr_loader_pos for one dataset */
    uint64_t windows;       /* windows taken from it so far in the run */
};

/* Where the loader is; stored in checkpoints. One dataset: epoch and index
 * are its position. A mixture: epoch is 0 and index counts the windows drawn
 * from all sources; src[] holds each source's own position. */
struct tr_loader_pos {
    uint64_t epoch;         /* 0-based */
    uint64_t index;         /* next window of the epoch's order */
    struct tr_rng synth;    /* synthetic stream state */
    int n_src;              /* entries of src (0 when synthetic) */
    struct tr_loader_src_pos src[TR_MAX_SOURCES];
};

/* Open the dataset (or set up synthetic ids). Fails with a message when the
 * directory is missing or holds no train tokens, when a shard is corrupt
 * (named), or when the train split is shorter than seq_len + 1 tokens. */
int tr_loader_open(const struct tr_loader_opts *o, tr_loader **out);
void tr_loader_close(tr_loader *l);   /* accepts NULL */

/* Vocabulary of the ids (manifest tokenizer, or synth_vocab). */
uint32_t tr_loader_vocab(const tr_loader *l);
/* XXH3-64 of the tokenizer model (0 when synthetic). */
uint64_t tr_loader_tokenizer_hash(const tr_loader *l);
/* What the data is, for the ranks to compare: XXH3 of each source's
 * normalised cumulative weight and its shards' split and token and index
 * checksums (the manifest's), in order; 0 when synthetic. Two
 * ranks with other datasets of one size and tokenizer, or another mixture's
 * weights, trained apart without a word. */
uint64_t tr_loader_data_id(const tr_loader *l);
/* What source i's data is (0 <= i < tr_loader_n_sources()): XXH3 of its
 * shards' split and token and index checksums, in order. Checkpoints keep
 * it, so that a resume can tell a dataset converted again (or grown) at the
 * same path from the one it trained on. */
uint64_t tr_loader_source_id(const tr_loader *l, int i);
/* The open dataset (the first source of a mixture), or NULL when synthetic. */
const struct dataset *tr_loader_dataset(const tr_loader *l);
/* Source i's open dataset (0 <= i < tr_loader_n_sources()). */
const struct dataset *tr_loader_source_dataset(const tr_loader *l, int i);
/* Datasets drawn from (0 when synthetic), and source i's directory and
 * normalised weight. */
int tr_loader_n_sources(const tr_loader *l);
const char *tr_loader_source_dir(const tr_loader *l, int i);
double tr_loader_source_weight(const tr_loader *l, int i);
/* Train tokens and windows per epoch (0 when synthetic; a mixture: the sum
 * over its sources). */
uint64_t tr_loader_train_tokens(const tr_loader *l);
uint64_t tr_loader_windows(const tr_loader *l);

void tr_loader_get_pos(const tr_loader *l, struct tr_loader_pos *pos);
/* Restore a position (rebuilding that epoch's permutation). INGOT_E_MISMATCH
 * when index is beyond the epoch (a different dataset or seq_len). */
int tr_loader_set_pos(tr_loader *l, const struct tr_loader_pos *pos);

/* Fill rows[0, n_rows * (T + 1)) with the next n_rows windows, advancing the
 * position (and the epoch when it wraps). INGOT_E_CORRUPT when an id is out of
 * range (a shard that lies about its vocabulary); INGOT_E_TRUNCATED, naming
 * the shard, when its mapping faults (see tr_loader_trap_sigbus()). On
 * failure the position is where it was before the call. */
int tr_loader_next(tr_loader *l, int32_t *rows, size_t n_rows);
/* Install the process's SIGBUS handler: a shard truncated while mapped
 * then fails the copy with INGOT_E_TRUNCATED instead of killing the
 * process; a SIGBUS anywhere else prints a line and kills it as before.
 * Called once by main(). */
void tr_loader_trap_sigbus(void);

/* Stream offset of the next window (for tests and reports; the window's
 * index in the stream times T). */
uint64_t tr_loader_peek_start(const tr_loader *l);

/* Val windows the val split holds (0 when none, or synthetic; a mixture:
 * the sum over its sources). */
uint64_t tr_loader_val_windows(const tr_loader *l);
/* The fixed val set of a run asking for val_tokens tokens of windows of
 * seq_len: whole windows, at least one (fewer tokens than a window still ask
 * for a val loss, as eval --tokens), at most what the split holds. */
uint64_t tr_loader_val_take(const tr_loader *l, int64_t val_tokens, int seq_len);
/* Copy val windows [first, first + n) into rows. A mixture's val windows
 * interleave its sources' in a fixed order drawn with the weights (a source
 * whose val windows are used up gives way to the next), so the first n are
 * a weighted sample of every source. */
int tr_loader_val_rows(const tr_loader *l, uint64_t first, size_t n, int32_t *rows);
/* The source (index into the --data list; 0 for one dataset) of each of val
 * windows [first, first + n), into src[0, n): what splits a mixture's val
 * loss by source. Reads no tokens. */
int tr_loader_val_sources(const tr_loader *l, uint64_t first, size_t n, int *src);

#endif
