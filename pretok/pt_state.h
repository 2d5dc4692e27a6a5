/* Resume state of a conversion: OUT/.pretok-state.json, rewritten
 * atomically after every finished shard. It records the options hash, the
 * finished shards (with checksums), per split the stream position up to
 * which every document is inside a finished shard, the position up to which
 * counters were taken, and the counters themselves. See docs/pretok.md,
 * "Crash safety and resume". */
#ifndef INGOT_PT_STATE_H
#define INGOT_PT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "skip_reason.h"
#include "shard_format.h"

#define PT_STATE_NAME INGOT_PRETOK_STATE_NAME
#define PT_EXAMPLES_PER_REASON 5

/* A position in the input stream: (global file index, record number). */
struct pt_pos {
    uint32_t file;
    uint64_t record;
};

static inline int pt_pos_cmp(struct pt_pos a, struct pt_pos b)
{
    if (a.file != b.file)
        return a.file < b.file ? -1 : 1;
    return a.record < b.record ? -1 : a.record > b.record;
}

struct pt_file_counts {
    uint64_t docs, tokens;
    uint64_t reason[SKIP_R__COUNT];
    char *damage;       /* "file:line: reason: detail" of a damaged input, or NULL (owned) */
};

struct pt_counts {
    size_t n_files;
    struct pt_file_counts *file;        /* one per input of the full list */
    uint64_t reason[SKIP_R__COUNT];
    uint64_t docs[2], tokens[2];        /* by split */
    uint64_t routed_docs;               /* documents seen, both splits */
    uint64_t unk_tokens;                /* the model's unknown id, both splits */
    char **examples;                    /* "file:line: reason: detail" */
    size_t n_examples;
    uint32_t n_examples_of[SKIP_R__COUNT];
};

struct pt_state {
    uint64_t options_hash;
    uint64_t merge_hash;                /* options hash without --part */
    /* What the options hash covers, to say what changed on a rerun; absent
     * (NULL / 0) in states of earlier versions. */
    char *options_text;                 /* "--key value" lines (owned) */
    char *command_line;                 /* the command that started it (owned) */
    uint64_t model_hash, inputs_hash;
    /* XXH3 of the inputs' modification times (0: a state from before it was
     * recorded): an input edited in place, its size kept, is not the text
     * the finished shards hold */
    uint64_t mtimes_hash;
    /* Each input's modification time, to name the first that changed
     * (NULL / 0 in states from before they were kept; else n_files) */
    int64_t *mtimes;
    size_t n_mtimes;
    /* Standard input's fingerprint (pt_producer.h, PT_STDIN_HEAD): its first
     * stdin_head_len bytes of text hash to stdin_head_hash (0 / 0: no
     * standard input, or a state from before it was kept) */
    uint64_t stdin_head_len, stdin_head_hash;
    /* ... and its records' chain up to record stdin_chain_record (the last
     * record of the newest finished shard that holds standard input's
     * documents), so that a stream that differs after its head is refused
     * too (0 / 0: none, or a state from before it was kept) */
    uint64_t stdin_chain_record, stdin_chain;
    uint32_t part_k, part_n;            /* 0/0 without --part */
    bool done;
    uint64_t next_seq[2];               /* shards finished per split */
    struct pt_pos persisted[2];         /* per split: docs before are in shards */
    struct pt_pos counted_until;        /* items before are counted */
    struct manifest_shard *shards;      /* finished, in finishing order */
    size_t n_shards;
    struct pt_counts counts;
};

int pt_counts_init(struct pt_counts *c, size_t n_files);   /* 0 or -ENOMEM */
void pt_counts_free(struct pt_counts *c);
/* Keep text as an example of reason when fewer than PT_EXAMPLES_PER_REASON
 * are kept. 0 or -ENOMEM. */
int pt_counts_example(struct pt_counts *c, int reason, const char *text);
/* Record text as input file's damage (the first one kept). 0 or -ENOMEM. */
int pt_counts_damage(struct pt_counts *c, size_t file, const char *text);
/* The inputs with a damage reason counted (skip_reason_is_damage()), in [first, end). */
size_t pt_counts_damaged_files(const struct pt_counts *c, size_t first, size_t end);
/* The damage reason counted for file, or -1. */
int pt_counts_damage_reason(const struct pt_counts *c, size_t file);

/* XXH3 of j's compact text in its key order: the "checksum" of a resume
 * state (over the object without it) and of a merge plan (over its moves);
 * integers, strings and booleans only, so a reader's parse and dump gives
 * the same text. 0 and *ok false when out of memory. */
struct json_t;
uint64_t pt_json_checksum(struct json_t *j, bool *ok);

/* Standard input's fingerprint: XXH3 of its first PT_STDIN_HEAD bytes of
 * text (all of them when fewer), taken by the producer and kept in the
 * state, so that a resume fed another stream (other files, another order)
 * is refused instead of mixing the two. */
#define PT_STDIN_HEAD ((size_t)64 << 10)
/* Largest state file read (it lists per-input counters). */
#define PT_STATE_MAX_BYTES ((size_t)256 << 20)
/* Most shards per split a state may list (the names have 6 digits and
 * more; this bounds what a damaged file can make us allocate). */
#define PT_STATE_MAX_SHARDS 100000000u

/* Read path (a regular file of at most PT_STATE_MAX_BYTES) into st. The
 * counters are sized by the state's own n_inputs; n_files, when nonzero, is
 * the length the caller expects (a state of another length is INGOT_E_MISMATCH).
 * Every number is range-checked (positions against the input list, shard
 * names against their sequence numbers, counts against each other).
 * Returns 0, -ENOENT when there is no state, INGOT_E_MISMATCH, or
 * INGOT_E_JSON (message names the field) when damaged. */
int pt_state_read(const char *path, size_t n_files, struct pt_state *st);
/* Write atomically (temp, fsync, rename, fsync dir). */
int pt_state_write(const char *path, const struct pt_state *st);
/* Append a finished shard (strings copied). 0 or -ENOMEM. */
int pt_state_add_shard(struct pt_state *st, const struct manifest_shard *s);
void pt_state_free(struct pt_state *st);

#endif
