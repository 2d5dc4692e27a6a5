/* Helpers for the train tests: checks, temp directories, running
 * ingot-train, reading metrics, writing small datasets with common's shard
 * writer (no pretok or tokenizer needed). */
#ifndef INGOT_TT_UTIL_H
#define INGOT_TT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ingot_err.h"
#include "../test_check.h"

#define TT_SKIP TEST_SKIP

/* A fresh directory under $TMPDIR (or /tmp), removed by tt_rmtree(). */
char *tt_tmpdir(const char *tag);
void tt_rmtree(const char *dir);
/* printf into a malloc'd string. */
char *tt_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command with stdout+stderr captured to out_path. Returns the
 * exit status, or 1000 + N when it died of signal N. A simple command runs
 * in the shell's place, so that its own exit 128 + N (ingot-train stopped
 * by signal N) reads 128 + N; a compound one (cd x && ..., { ...; }) reads
 * 128 + N for both. */
int tt_run(const char *cmd, const char *out_path);
/* tt_run() that must succeed: otherwise prints the command and its output
 * and exits 1. */
void tt_run_ok(const char *cmd, const char *out_path);
/* Run "'bin' args" (output captured to out_path) and check that it exits
 * with rc and that its output holds every non-NULL needle; prints one line
 * per case (and the error line of a failure exit). Returns 1 on a
 * mismatch (after printing the output), else 0, so that a test can count
 * failures and go on. */
int tt_expect(const char *bin, const char *out_path, const char *what, const char *args, int rc,
              const char *n1, const char *n2);
/* Whether two checkpoint files hold the same bytes after their header
 * up to the settings section (weights, AdamW state): the header and the
 * settings carry run-specific fields. */
bool tt_ckpt_payload_equal(const char *a, const char *b);
/* Whole file as a NUL-terminated malloc'd string (NULL when missing). */
char *tt_slurp(const char *path);

/* Per-step records of a metrics file: up to max entries with "loss", indexed
 * by position; returns how many. Each field NULL-terminated copies of the
 * JSON values as written (so that comparisons are exact). */
struct tt_step { long step; double loss, accuracy, lr, grad_norm; };
int tt_read_steps(const char *path, struct tt_step *out, int max);
/* Val records: step and val_loss; returns how many. */
int tt_read_vals(const char *path, long *steps, double *vals, int max);
/* Val records with a mixture's loss by source: val_src (null read as NaN)
 * and val_src_windows, n_src entries each (0: the record has neither; -1:
 * the two differ in length or are not arrays). Returns how many records. */
enum { TT_MAX_SRC = 16 };
struct tt_val {
    long step;
    double loss;
    int n_src;
    double src[TT_MAX_SRC];
    long windows[TT_MAX_SRC];
};
int tt_read_val_src(const char *path, struct tt_val *out, int max);

/* Write a dataset: the train stream cut into documents of doc_len tokens and
 * shards of at most shard_docs documents, the val stream likewise (n_val may
 * be 0: no val split). Token width 2 when vocab <= 65536, else 4. */
struct tt_dataset {
    const char *dir;
    uint32_t vocab;
    uint64_t tokenizer_hash;
    int32_t bos_id;
    const uint32_t *train;
    size_t n_train;
    const uint32_t *val;
    size_t n_val;
    size_t doc_len, shard_docs;
    const char *damage;         /* the input's damage line (NULL: intact) */
    bool damaged_accepted;      /* ingot-pretok --allow-damaged-inputs */
};
int tt_write_dataset(const struct tt_dataset *d);

/* A Markov "language" over vocab ids: each id has 3 successors with
 * probabilities 0.7, 0.2, 0.1. Fills ids[0, n) from seed. */
void tt_markov_tokens(uint32_t *ids, size_t n, uint32_t vocab, uint64_t seed);
/* Unigram entropy (nats) of ids[0, n). */
double tt_unigram_entropy(const uint32_t *ids, size_t n, uint32_t vocab);

#endif
