/* Writes one shard file. Tokens stream to "<path>.tmp" as documents are
 * appended; shard_writer_finish() writes index, provenance and header, fsyncs,
 * renames into place and fsyncs the directory, so a crash never leaves a
 * half-written *.tok visible. */
#ifndef INGOT_SHARD_WRITER_H
#define INGOT_SHARD_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "shard_format.h"

typedef struct shard_writer shard_writer;

struct shard_writer_opts {
    const char *path;           /* final path, e.g. DIR/train-000000.tok */
    uint32_t token_width;       /* 2 or 4 */
    uint32_t vocab_size;
    int32_t bos_id, eos_id, pad_id, unk_id;
    uint32_t split;             /* enum ingot_split */
    uint32_t tokenizer_type;    /* enum ingot_tokenizer_type */
    uint64_t tokenizer_hash;
    uint64_t shard_seq;
};

/* Summary of a finished shard, for the manifest. */
struct shard_summary {
    uint64_t n_tokens;
    uint64_t n_docs;
    uint64_t file_size;
    uint64_t tokens_checksum;
    uint64_t index_checksum;
    uint64_t prov_checksum;
    uint64_t header_checksum;
};

/* The manifest's entry for a finished shard: file is its name inside the
 * dataset directory, not copied (manifest_add_shard copies it). */
struct manifest_shard shard_summary_entry(const char *file, uint32_t split,
                                          const struct shard_summary *sum);

/* Create the temp file. Returns 0 or -errno / INGOT_E_USAGE (bad width). */
int shard_writer_create(const struct shard_writer_opts *opts, shard_writer **out);

/* Append one document. Every id must be < vocab_size and fit token_width
 * (else INGOT_E_CORRUPT, nothing appended). */
int shard_writer_add_doc(shard_writer *w, const uint32_t *ids, size_t n_ids,
                         uint32_t file_index, uint64_t record);

uint64_t shard_writer_n_tokens(const shard_writer *w);
uint64_t shard_writer_n_docs(const shard_writer *w);

/* Complete the file and move it into place. Frees w whatever the outcome;
 * on failure the temp file is removed. `sum` may be NULL. */
int shard_writer_finish(shard_writer *w, struct shard_summary *sum);

/* Discard: remove the temp file and free. Accepts NULL. */
void shard_writer_abort(shard_writer *w);

#endif
