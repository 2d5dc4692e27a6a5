/* The training run: open data, build or restore the model, step, evaluate,
 * sample, checkpoint and report. Back-end agnostic (backend.h). */
#ifndef INGOT_TRAIN_LOOP_H
#define INGOT_TRAIN_LOOP_H

#include "train_opts.h"

/* Run training as o says. Returns 0, INGOT_E_INTERRUPTED when a stop was
 * requested (after writing a checkpoint when --ckpt-dir is set), or another
 * error with a message. */
int tr_train(const struct tr_opts *o);

/* Ask the running loop to stop at the next step boundary. Async-signal-safe
 * (for SIGINT/SIGTERM handlers). */
void tr_request_stop(void);

#endif
