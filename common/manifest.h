/* manifest.json of a dataset directory: what the shards are, where they came
 * from and how they were made. Read and written with jansson; writing is
 * atomic (temp file, fsync, rename, fsync dir). All strings are owned by the
 * manifest and freed by manifest_free(). */
#ifndef INGOT_MANIFEST_H
#define INGOT_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The copy of the tokenizer model that ingot-pretok puts into the dataset
 * directory, so that a dataset moved or copied elsewhere keeps it. */
#define INGOT_TOKENIZER_NAME "tokenizer.model"

struct manifest_tokenizer {
    char *file;             /* the model: relative to the dataset directory
                               (INGOT_TOKENIZER_NAME since issue 13), or, in
                               older manifests, the path given to pretok */
    char *source;           /* the path given to pretok (informative; may be NULL) */
    uint64_t hash;          /* XXH3-64 of its bytes (hex in JSON) */
    char *type;             /* "unigram", "bpe", ... */
    uint32_t vocab_size;
    int32_t bos_id, eos_id, pad_id, unk_id;
};

struct manifest_shard {
    char *file;             /* name relative to the dataset directory */
    uint32_t split;         /* enum ingot_split */
    uint64_t n_tokens, n_docs;
    uint64_t file_size;
    uint64_t tokens_checksum, index_checksum, prov_checksum, header_checksum;
};

/* A skip reason and how often it happened. */
struct manifest_skip {
    char *reason;           /* e.g. "malformed_json", "invalid_utf8" */
    uint64_t count;
};

struct manifest_input {
    char *name;             /* path as given (or found under a directory) */
    uint64_t size;          /* bytes on disk */
    uint64_t n_docs, n_tokens;
    struct manifest_skip *skips;
    size_t n_skips;
    /* A damaged or unreadable input (truncated or corrupt compression, not
     * readable): where and why reading it stopped, "file:line: reason:
     * detail"; NULL for an intact input (and in manifests from before it
     * was recorded). Optional key "damage". */
    char *damage;
};

struct manifest {
    int format_version;     /* INGOT_MANIFEST_VERSION */
    char *ingot_version;
    char *command_line;
    uint32_t token_width;
    struct manifest_tokenizer tokenizer;
    struct manifest_shard *shards;   size_t n_shards;
    struct manifest_input *inputs;   size_t n_inputs;
    /* Free-form examples of skipped records ("file:line: reason"), at most a
     * few per reason. */
    char **skip_examples;            size_t n_skip_examples;
    /* Whether the damaged inputs (inputs[].damage) were accepted
     * (ingot-pretok --allow-damaged-inputs); written only when an input is
     * damaged (key "damaged_inputs_accepted"), false when absent. A dataset
     * whose damage was not accepted came from a conversion that exited 1. */
    bool damaged_accepted;
    /* Derived on read and recomputed on write from shards[]: */
    uint64_t total_tokens[2], total_docs[2];   /* by split */
};

/* Largest manifest.json read: about a million inputs or shards. jansson
 * holds several times the text in memory while parsing, so the cap also
 * bounds the reader's memory. */
#define MANIFEST_MAX_BYTES ((size_t)256 << 20)

/* Parse path (a regular file of at most MANIFEST_MAX_BYTES); on error names
 * the file and the key (ingot_errmsg()). Every count is range-checked
 * (shard counts against the shard format, sums against overflow). Returns
 * 0, -errno, -EFBIG, INGOT_E_FORMAT (not a regular file), INGOT_E_JSON or
 * INGOT_E_VERSION. */
int manifest_read(const char *path, struct manifest **out);
/* manifest_read() on text[0, len) in memory; name is used in messages
 * (through term_text()). */
int manifest_parse(const char *name, const char *text, size_t len, struct manifest **out);
/* Write atomically. */
int manifest_write(const char *path, const struct manifest *m);
/* The JSON text manifest_write() writes, malloc'd into *text (the caller
 * frees it; *len excludes the NUL). 0, -ENOMEM or INGOT_E_JSON (a count
 * beyond 2^63). */
int manifest_format(const struct manifest *m, char **text, size_t *len);
void manifest_free(struct manifest *m);   /* accepts NULL */

/* Helpers for building one: duplicate strings into the manifest. */
/* manifest_new() returns an empty manifest (format_version and
 * ingot_version set, special ids -1) or NULL when out of memory. */
struct manifest *manifest_new(void);
/* Copy t (strings duplicated) into m->tokenizer. 0 or -ENOMEM. */
int manifest_set_tokenizer(struct manifest *m, const struct manifest_tokenizer *t);
/* Replace m->command_line with a copy of argv joined by spaces (arguments
 * with spaces or quotes are single-quoted). 0 or -ENOMEM. */
int manifest_set_command_line(struct manifest *m, int argc, char *const *argv);
int manifest_add_shard(struct manifest *m, const struct manifest_shard *s);
int manifest_add_input(struct manifest *m, const struct manifest_input *in);
int manifest_add_skip_example(struct manifest *m, const char *text);
/* Recompute total_tokens / total_docs from shards[] (manifest_write() does
 * this on its own copy; call it to read the totals before writing). */
void manifest_update_totals(struct manifest *m);
/* The records the conversion skipped (lost: the inputs' skip reasons that are
 * not a file's damage, as --max-skip-fraction counts them) and the documents
 * it kept. */
void manifest_skip_counts(const struct manifest *m, uint64_t *skipped, uint64_t *docs);

#endif
