/* The producer: reads the inputs in order (pt_reader), decompresses zstd
 * streams, splits records (JSON Lines lines; text files by file, paragraph
 * or line) and packs them into batches. File-level problems (unreadable,
 * empty, not zstd, corrupt or truncated zstd) and line-level notes (BOM,
 * CRLF, blank lines, missing final newline) become events in the batch, in
 * stream order. Runs on one thread. */
#ifndef INGOT_PT_PRODUCER_H
#define INGOT_PT_PRODUCER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pt_batch.h"
#include "pt_input.h"

enum pt_txt_doc { PT_TXT_FILE, PT_TXT_PARAGRAPH, PT_TXT_LINE };

struct pt_producer_cfg {
    const struct pt_input *inputs;  /* files to read, in order */
    size_t n_inputs;
    uint32_t resume_file;           /* global index; items before */
    uint64_t resume_record;         /* (resume_file, resume_record) are dropped */
    enum pt_txt_doc txt_doc;
    size_t batch_bytes;             /* hand a batch over at this much data */
    size_t batch_items;             /* ... or this many items */
    uint64_t max_record;            /* longer records are skipped */
    uint64_t bytes_before;          /* input bytes already done (progress) */
    /* A resume under --val-fraction: records routed to split s (by
     * pt_split_by_hash with val_threshold) before skip[s] are in finished
     * shards already and are dropped unread by the workers. */
    bool skip_by_split;
    struct { uint32_t file; uint64_t record; } skip[2];
    uint64_t val_threshold;
    /* A resume reading standard input again: the finished shards hold its
     * records before this one, so a stream that ends sooner is not the one
     * the interrupted run read (0: no such need). */
    uint64_t stdin_need;
    /* ... and its fingerprint (pt_state.h's stdin_head), which the stream
     * read now must have too (len 0: none) */
    uint64_t stdin_head_len, stdin_head_hash;
    /* ... and its records' chain (pt_batch.h's pt_item.chain) at record
     * stdin_chain_record, the last finished shard's (0: none kept) */
    uint64_t stdin_chain_record, stdin_chain;
    const atomic_int *stop;         /* nonzero: stop at the next batch */
};

struct pt_producer_stats {
    double read_s;          /* waiting for reads */
    double decompress_s;
    double split_s;         /* splitting and packing records */
    double handoff_s;       /* waiting for a free batch (back-pressure) */
    uint64_t bytes_read;
    uint64_t bytes_text;    /* after decompression */
    bool uring;
};

/* Hand the full batch *b over and put an empty one in *b. Returns 0, or
 * nonzero to stop producing (the producer then returns that value). */
typedef int (*pt_emit_fn)(void *ctx, struct pt_batch **b);

/* Produce everything into batches. *b is the batch to start filling; on
 * return *b holds the batch in hand (emitted already if it had items).
 * Returns 0, the nonzero value of emit, or -ENOMEM / a ring error (message
 * recorded). */
int pt_producer_run(const struct pt_producer_cfg *cfg, pt_emit_fn emit, void *ctx,
                    struct pt_batch **b, struct pt_producer_stats *st);

#endif
