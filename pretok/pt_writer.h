/* The ordered writer: consumes worker output batch by batch, in stream
 * order, routes each document to the train or val split, appends it to that
 * split's open shard and cuts the shard at the first document boundary where
 * it holds --shard-tokens tokens (each split's shards are cut only when full
 * or at the end; a resume starts at the first document of the earliest open
 * shard and skips re-tokenizing what the other split's shards hold). After
 * each finished shard it rewrites the
 * resume state; at the end it writes the manifest. Everything it decides
 * depends on the document stream only, never on threads or timing. */
#ifndef INGOT_PT_WRITER_H
#define INGOT_PT_WRITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "manifest.h"
#include "pt_batch.h"
#include "pt_input.h"
#include "pt_state.h"
#include "shard_writer.h"

enum pt_val_mode { PT_VAL_NONE, PT_VAL_FRACTION, PT_VAL_DOCS };

struct pt_writer_cfg {
    const char *out_dir;
    struct shard_writer_opts base;      /* path, split and shard_seq set per shard */
    uint64_t shard_tokens;
    enum pt_val_mode val_mode;
    uint64_t val_threshold;             /* fraction: val when hash < threshold */
    uint64_t val_docs;                  /* docs: the first val_docs documents */
    bool on_error_fail;
    bool damaged_accepted;              /* --allow-damaged-inputs (the manifest says so) */
    bool allow_empty;                   /* a --part that got no input file */
    bool partial;                       /* --part: other parts hold the rest */
    const struct pt_inputs *inputs;     /* the full list */
    /* manifest fields */
    struct manifest_tokenizer tokenizer;
    int argc;
    char *const *argv;
};

typedef struct pt_writer pt_writer;

/* Start from st (a fresh state or the one read for a resume); the writer
 * takes st over (and frees it). Returns 0 or -ENOMEM. */
int pt_writer_create(const struct pt_writer_cfg *cfg, struct pt_state *st, pt_writer **out);
/* Consume b->out. Returns 0, INGOT_E_INPUT (a bad record under
 * --on-error fail; message names file and line), or a write error. */
int pt_writer_consume(pt_writer *w, const struct pt_batch *b);
/* Finish the open shards, mark the state done, write the manifest. Returns
 * 0, INGOT_E_NODATA when no document was produced, or a write error. */
int pt_writer_finish(pt_writer *w);
/* Remove open temp shards (nothing half-finished stays) and free. */
void pt_writer_free(pt_writer *w);

/* Read access for the report and the progress line. */
const struct pt_state *pt_writer_state(const pt_writer *w);
double pt_writer_seconds(const pt_writer *w);
uint64_t pt_writer_shards_this_run(const pt_writer *w);
/* The finished shards the state on disk lists (earlier runs' included): what
 * an interrupted run keeps. Safe from another thread while the writer runs
 * (an abandoned pipeline's). */
uint64_t pt_writer_shards_kept(pt_writer *w);

/* Write OUT/manifest.json from a finished state (also used when a finished
 * conversion is run again). */
/* A manifest input's skip list from its per-reason counts: sk (SKIP_R__COUNT
 * entries) filled in reason order as in->skips. When the input has no
 * damage detail but a damage reason is counted (a state or a part written
 * by a pretok that kept none), "NAME: reason" becomes its damage, in *bare
 * (malloc'd: free it after manifest_add_input). -ENOMEM. */
int pt_input_skips(struct manifest_input *in, struct manifest_skip *sk, const uint64_t *count,
                   char **bare);
int pt_write_manifest(const struct pt_writer_cfg *cfg, const struct pt_state *st);

/* "<split>-<seq>.tok" (seq with at least 6 digits) into buf. */
void pt_shard_name(char *buf, size_t n, uint32_t split, uint64_t seq);
/* "OUT/<split>-<seq>.tok" in a malloc'd string. */
char *pt_shard_path(const char *out_dir, uint32_t split, uint64_t seq);

#endif
