/* `ingot-pretok merge OUT PART_DIR...`: join the finished parts of a
 * conversion made with --part K/N into one dataset. Shards are moved
 * (rename, so OUT must be on the parts' file system), renamed to their
 * place in the joined sequence, and their header's shard_seq is patched in
 * place (4 KiB per shard; no token is copied). The joined token stream is
 * the single-run stream: parts are contiguous ranges of the input list.
 * A crashed merge is resumed by running it again with the same parts
 * (OUT/.merge-plan.json names them; another set is refused). A new merge
 * refuses an OUT that holds another run's state, shards or model, or lies
 * inside a part. */
#ifndef INGOT_PT_MERGE_H
#define INGOT_PT_MERGE_H

#include "pt_cli.h"
#include "shard_format.h"

/* Files merge keeps in OUT and in the parts (never corpus inputs). */
#define PT_MERGE_PLAN_NAME INGOT_MERGE_PLAN_NAME
#define PT_MERGE_PENDING_NAME ".merge-manifest.json"
#define PT_MERGE_RETIRED_NAME INGOT_MERGE_RETIRED_NAME

/* Returns 0 or an error (message recorded). */
int pt_merge(const struct pt_opts *o);

#endif
