/* ZeRO-1 (--zero 1) bookkeeping shared by the back ends: how the flat
 * parameter buffer (tr_params.h layout) is cut into one shard per rank, and
 * the small command channel that lets rank 0 gather the shards when it alone
 * asks for the whole optimizer state (a checkpoint).
 *
 * Layout: the buffer of n elements is padded with zeros to n_pad, a multiple
 * of world * TR_ZERO_ALIGN, and rank r owns [r * shard, (r + 1) * shard),
 * shard = n_pad / world. Padding instead of falling back to replicated state
 * when n does not divide: the pad elements have zero gradient and stay zero.
 *
 * Command channel: the training loop calls get_opt_state on rank 0 only, but
 * gathering the shards needs every rank. So with world > 1, rank 0 posts a
 * command before each step (STEP), before each gather (GATHER, what) and at
 * destroy (END), and the other ranks, at the start of each step and in
 * destroy, serve GATHERs until the STEP or END they wait for. The commands
 * travel over the communicator's host broadcast (tr_dist_bcast), in the
 * same order on every rank as the step's collectives. */
#ifndef INGOT_TR_DIST_ZERO_H
#define INGOT_TR_DIST_ZERO_H

#include <stdbool.h>
#include <stddef.h>

#include "tr_dist.h"

/* Shard alignment in elements: 64 floats = 256 bytes, so every shard starts
 * aligned for the 16-byte vector accesses of the optimizer kernels. */
#define TR_ZERO_ALIGN 64

struct tr_zero {
    int world, rank;
    size_t n;       /* real elements */
    size_t n_pad;   /* n rounded up to a multiple of world * TR_ZERO_ALIGN */
    size_t shard;   /* n_pad / world: the elements each rank owns */
    size_t lo;      /* rank * shard: where this rank's shard starts */
};

/* The layout of n elements over d's ranks (NULL: one rank). */
void tr_zero_layout(size_t n, const tr_dist *d, struct tr_zero *z);

/* [*a, *b): the part of [off, off + len) inside z's shard, clipped to the real
 * elements; returns false when empty. */
bool tr_zero_clip(const struct tr_zero *z, size_t off, size_t len, size_t *a, size_t *b);

enum tr_zero_cmd { TR_ZERO_STEP = 1, TR_ZERO_GATHER = 2, TR_ZERO_END = 3 };

/* Rank 0 (world > 1; otherwise nothing): tell the others what comes next;
 * arg says what to gather. */
int tr_zero_post(tr_dist *d, enum tr_zero_cmd cmd, int arg);

/* Ranks > 0: the next command from rank 0 (one host broadcast);
 * INGOT_E_MISMATCH when what arrives is no command. */
int tr_zero_next(tr_dist *d, int *cmd, int *arg);

/* What a rank > 0 does for rank 0's GATHER of arg: the same collectives. */
typedef int (*tr_zero_serve_fn)(void *ctx, int arg);

/* Ranks > 0 (world > 1; otherwise nothing): serve GATHERs with fn until rank
 * 0 posts `until` (STEP or END). INGOT_E_MISMATCH when rank 0 posts
 * something else (its program and ours went apart). */
int tr_zero_serve(tr_dist *d, enum tr_zero_cmd until, tr_zero_serve_fn fn, void *ctx);

/* The end of the channel, for destroy: rank 0 posts END, the others serve
 * until it. The error the process may be ending with (a stop, a failure)
 * is kept as it was, whatever happens here. */
int tr_zero_end(tr_dist *d, tr_zero_serve_fn fn, void *ctx);

#endif
