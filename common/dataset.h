/* A dataset directory opened for reading: its manifest and every shard it
 * lists, mmapped and cheaply validated (and fully verified on request). The
 * shards are checked against the manifest (size, counts, checksums as
 * recorded). Used by ingot-dump and ingot-train. */
#ifndef INGOT_DATASET_H
#define INGOT_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "shard_reader.h"

struct dataset {
    char *dir;
    struct manifest *manifest;
    shard_reader **shards;      /* same order as manifest->shards */
    size_t n_shards;
};

/* Open dir/manifest.json and every shard. verify=true also recomputes every
 * checksum. Errors name the file and the field. */
int dataset_open(const char *dir, bool verify, struct dataset **out);
void dataset_close(struct dataset *ds);   /* accepts NULL */

/* Mappings dataset_open() leaves free for everything else a program maps
 * (thread stacks, large allocations, a GPU driver). */
#define DATASET_MAP_RESERVE 1024

/* Whether n_shards more memory mappings fit under Linux's per-process cap
 * (vm.max_map_count, 65530 by default) with DATASET_MAP_RESERVE to spare:
 * dataset_open() keeps one mapping per shard, and past the cap mmap fails
 * with a bare ENOMEM. 0, or -ENOMEM naming dir, the counts and how to raise
 * the limit. Where the limit cannot be read (not Linux), 0. */
int dataset_check_map_budget(const char *dir, size_t n_shards);

/* The pieces of dataset_open(), for a caller that reports every problem of
 * a dataset instead of stopping at the first (ingot-dump verify). */
/* Read dir/manifest.json into *out (manifest_free() it); a missing one is
 * explained (an unfinished conversion or merge: what to run). 0, -errno or
 * manifest_read()'s codes. */
int dataset_read_manifest(const char *dir, struct manifest **out);
/* Open shard i of manifest m (a file in dir) and check its header against
 * the manifest; seq is its number within its split in manifest order.
 * verify=true also recomputes every checksum and checks that each
 * document's provenance names a listed input. On success *out is the open
 * shard (the caller closes it). Errors name the shard and the field. */
int dataset_open_shard(const char *dir, const struct manifest *m, size_t i, uint64_t seq,
                       bool verify, shard_reader **out);
/* The verify of dataset_open_shard(): every checksum of shard r (opened
 * from manifest m) recomputed, each document's provenance naming a listed
 * input. For a caller that opens without verifying and verifies each shard
 * itself (ingot-train, which reads the mappings under its SIGBUS guard). 0
 * or the error naming the shard and the field. */
int dataset_verify_shard(const struct manifest *m, const shard_reader *r);
/* The inputs' document and token counts add up to the shards'. 0 or
 * INGOT_E_MISMATCH naming manifest.json's key inputs. */
int dataset_check_totals(const char *dir, const struct manifest *m);

struct ingot_spm;
/* Load the dataset's tokenizer: model_path when not NULL, else the model
 * dataset_tokenizer_pick() chooses. The model's hash must equal the
 * manifest's (INGOT_E_MISMATCH otherwise); dataset_tokenizer_pick()'s
 * errors otherwise. On success *used (if not NULL) gets a malloc'd copy of
 * the path loaded, and *note (if not NULL) its note (or NULL): the caller
 * prints it and frees both. */
int dataset_load_tokenizer(const struct dataset *ds, const char *model_path,
                           struct ingot_spm **out, char **used, char **note);

/* Where the tokenizer named `file` in the manifest of dataset dir may be, in
 * the order tried, malloc'd into cand[0, *n) (at most 3; the caller frees
 * them; the same path may come twice): a relative name inside dir first (a
 * dataset is portable: pretok copies the model in as INGOT_TOKENIZER_NAME),
 * then as given (older manifests: the path given to pretok, relative to
 * where it ran), then its basename inside dir. 0 or -ENOMEM. */
int dataset_tokenizer_candidates(const char *dir, const char *file, char **cand, size_t *n);
/* What is at one place the dataset's tokenizer may be. */
enum dataset_tok_state {
    DATASET_TOK_UNTRIED,      /* not looked at: an earlier candidate has the hash */
    DATASET_TOK_MISSING,      /* nothing there */
    DATASET_TOK_UNREADABLE,   /* there, but no model to read (a FIFO, too large, ...) */
    DATASET_TOK_OTHER,        /* a file of another hash */
    DATASET_TOK_MATCH,        /* a file of the manifest's tokenizer.hash */
};
struct dataset_tok_cand {
    char *path;         /* owned by the lookup */
    bool source;        /* tokenizer.source (the model given to pretok), else from
                         * tokenizer.file */
    bool inside;        /* inside the dataset directory, by its spelling (dir/...) */
    int state;          /* enum dataset_tok_state */
    int err;            /* DATASET_TOK_UNREADABLE: the reader's error code */
    uint64_t hash;      /* DATASET_TOK_OTHER, DATASET_TOK_MATCH: the file's */
    char why[512];      /* DATASET_TOK_UNREADABLE: the reader's message less the path,
                         * control bytes as '?' */
};
/* Every place the tokenizer of a dataset may be, each path once, in order:
 * dataset_tokenizer_candidates(tokenizer.file), then tokenizer.source. */
struct dataset_tok_lookup {
    struct dataset_tok_cand cand[4];
    size_t n;
    size_t use;         /* the first of the manifest's hash (what the readers decode
                         * with); n when none has it */
};
/* The one lookup of a dataset's tokenizer, which every reader and ingot-dump
 * verify judge by: each candidate is read and hashed in order until one has
 * t->hash (those after it stay DATASET_TOK_UNTRIED). 0, -ENOMEM, or
 * INGOT_E_TOKENIZER when the manifest records no tokenizer.file. On success
 * the caller frees *lk with dataset_tokenizer_lookup_free(). */
int dataset_tokenizer_lookup(const char *dir, const struct manifest_tokenizer *t,
                             struct dataset_tok_lookup *lk);
void dataset_tokenizer_lookup_free(struct dataset_tok_lookup *lk);   /* accepts NULL */
/* The model that decodes the shards of dataset dir, whose manifest has
 * tokenizer t: dataset_tokenizer_lookup()'s first candidate whose bytes hash
 * to t->hash. A candidate that is not there, cannot be read (not a regular
 * file, too large) or has another hash (a replaced copy, a changed source)
 * is passed over. *found gets the malloc'd path. *note (if not NULL) gets a
 * malloc'd note for the user, or NULL: set when a file there was passed
 * over or the source is used, naming each candidate passed over and why,
 * the one used, and (tokenizer.file relative) the cp that puts the copy
 * back. Errors, each naming every candidate tried and why it was passed
 * over: -ENOENT when none is there; else the code of the first one there
 * (INGOT_E_MISMATCH for another hash, INGOT_E_FORMAT for a FIFO, ...);
 * INGOT_E_TOKENIZER when the manifest records no tokenizer.file. The
 * Python reader (Dataset.tokenizer_path()) chooses the same way. */
int dataset_tokenizer_pick(const char *dir, const struct manifest_tokenizer *t, char **found,
                           char **note);

/* Copy the model at model_path into dir as INGOT_TOKENIZER_NAME, atomically
 * (temp file, fsync, rename), unless a file of that hash is there already.
 * The bytes read and the file written must hash to `hash` (the hash of the
 * model as loaded): a model changed since is refused (INGOT_E_MISMATCH).
 * Returns 0, -errno or INGOT_E_MISMATCH, with a message naming the file. */
int dataset_copy_tokenizer(const char *dir, const char *model_path, uint64_t hash);

/* Shards of one split in dataset order (the manifest's order); fills at most
 * max indices into ds->shards and returns how many there are. */
size_t dataset_split_shards(const struct dataset *ds, uint32_t split, size_t *idx, size_t max);

#endif
