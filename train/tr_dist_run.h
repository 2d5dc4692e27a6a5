/* The training run's side of data parallelism: what ingot-train's loop asks
 * of the communicator, so that train_loop.c stays a straight line.
 *
 * The global batch stays --batch-tokens: grad_accum micro-steps of batch
 * windows per optimizer step. With W ranks each takes grad_accum / W of
 * them, rank r the contiguous micro-steps [r * K, (r + 1) * K) of the step's
 * chunk, which every rank reads whole from the same per-epoch order. So the
 * sequence of global batches and the saved data position do not depend on
 * W, and a checkpoint resumes at any world size. */
#ifndef INGOT_TR_DIST_RUN_H
#define INGOT_TR_DIST_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_loader.h"
#include "tr_dist.h"
#include "tr_params.h"
#include "train_opts.h"

struct tr_dist_share {
    int k_local;            /* micro-steps of this rank per optimizer step */
    size_t first_row;       /* this rank's first row in the step's chunk */
};

/* Open the communicator for o (--dist, --dist-timeout, --dist-port, the
 * process environment), checking that every rank runs the same
 * configuration (model, batch, data, seed, schedule, version) and that the
 * micro-steps divide among the ranks (else INGOT_E_USAGE with the
 * arithmetic). gpu: the back end is a GPU's. stop: the run's stop flag (a
 * signal set it): the rendezvous gives up with INGOT_E_INTERRUPTED, and
 * *stop_sig gets the signal (this rank's, or the one of the rank named). */
int tr_dist_run_open(const struct tr_opts *o, const struct tr_config *cfg, const tr_loader *l,
                     const char *backend, volatile sig_atomic_t *stop, int *stop_sig,
                     tr_dist **out, struct tr_dist_share *share);

/* The default --batch-tokens (not given, nor in a checkpoint's settings) is
 * one micro-step per rank, as a DDP user expects: batch x seq-len x the
 * launcher's world (--dist none: 1). It was one micro-step in all, which no
 * world above 1 divides. world: the launcher's world size, as main() read
 * it once from the environment (1 when there is no launcher, or its
 * variables are wrong: the rendezvous reports them). */
void tr_dist_run_default_batch(struct tr_opts *o, int world);

/* Whether this process speaks and saves for its run before the
 * communicator exists (the --ckpt-dir's sweep, the verify's progress
 * lines): one process (--dist none), or the launcher's rank 0. rank: the
 * launcher's rank, as main() read it (0 when there is none). */
bool tr_dist_run_first(const struct tr_opts *o, int rank);

/* The line a resume gives when the checkpoint was written by another number
 * of ranks (was; 0: not recorded, an older checkpoint) than this run has
 * (now), into buf ("" and false when they agree or was is unknown).
 * grad_accum: this run's micro-steps per step. */
bool tr_dist_run_world_note(int was, int now, int grad_accum, char *buf, size_t len);

/* Every rank must resume at the same step and data position (a checkpoint
 * directory not visible to every rank would otherwise split the run):
 * INGOT_E_MISMATCH naming the rank. */
int tr_dist_run_check_resume(tr_dist *d, int64_t step, const tr_loader *l);

#endif
