/* The training run: open data, build or restore the model, step, evaluate,
 * sample, checkpoint and report. Back-end agnostic (backend.h). */
#ifndef INGOT_TRAIN_LOOP_H
#define INGOT_TRAIN_LOOP_H

#include "train_opts.h"

/* Run training as o says. launcher_rank: this process's rank as its
 * launcher numbers it (main() reads it once; 0 when there is none), for
 * what is said before the communicator knows the ranks. Returns 0,
 * INGOT_E_INTERRUPTED when a stop was requested (after writing a checkpoint
 * when --ckpt-dir is set), or another error with a message. */
int tr_train(const struct tr_opts *o, int launcher_rank);

/* ingot-train's exit status for err, as every subcommand returns it: 0, 2
 * for INGOT_E_USAGE, 128 + N for INGOT_E_INTERRUPTED (N: the signal that
 * stopped the run: this rank's own, or with ranks the one of the rank that
 * stopped them all, as its last line names it; SIGINT when none was told),
 * else 1 (rank 0's progress lines lost included). */
int tr_exit_status(int err);

/* Ask the running loop to stop at the next step boundary. sig: the signal
 * that asks (named in the messages of every rank, so that a rank stopped
 * because another one was signalled says so), or 0 for another reason (the
 * progress lines could not be written). The first request's cause is kept.
 * Async-signal-safe (for SIGINT/SIGTERM handlers). */
void tr_request_stop(int sig);

#endif
