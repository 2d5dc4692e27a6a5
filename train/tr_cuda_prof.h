/* --profile for the CUDA back end, behind calls that do nothing when
 * profiling is off (the profiler pointer is NULL), so the step reads as a
 * straight line: timing events at the phase boundaries of each step slot
 * (upload, start, end of every micro-step's forward and backward, end of the
 * optimizer), and at collection the step's figures: phase times, GPU idle
 * gap, CPU % of a core, syncs, host allocations, NVML utilisation and clock.
 * Inside a stream capture the marks become event-record nodes of the graph,
 * so a step captured once still reports its phases. */
#ifndef INGOT_TR_CUDA_PROF_H
#define INGOT_TR_CUDA_PROF_H

#include <stdint.h>
#include <stdio.h>

#include <cuda_runtime_api.h>

#include "backend.h"

typedef struct tr_cuda_prof tr_cuda_prof;

enum tr_prof_mark {
    TR_PROF_UP0,        /* upload stream: before the token copy */
    TR_PROF_UP1,        /* upload stream: after it */
    TR_PROF_START,      /* compute stream: the step's first operation */
    TR_PROF_FWD_END,    /* end of micro-step k's forward */
    TR_PROF_BWD_END,    /* end of micro-step k's backward */
    TR_PROF_OPT_END,    /* end of norm, clip and AdamW */
};

/* What the figures are computed from (copied). */
struct tr_cuda_prof_cfg {
    int nslot, grad_accum, dev;
    double peak_tflops;         /* dense peak of the precision (0: unknown) */
    double flops_per_token;
};

/* A profiler for cfg: its events, NVML, the CPU and sync marks. 0, -ENOMEM
 * or INGOT_E_CUDA. */
int tr_cuda_prof_create(const struct tr_cuda_prof_cfg *cfg, tr_cuda_prof **out);
void tr_cuda_prof_free(tr_cuda_prof *p);   /* accepts NULL */
/* The step graph runs micro-steps 0..K-2 as a device loop: of those only the
 * loop's end (BWD_END K-2) is marked, and the forward/backward columns split
 * the loop's time as the last micro-step's (measured) divides. p may be NULL. */
void tr_cuda_prof_set_looped(tr_cuda_prof *p, int looped);

/* Record mark m (k: the micro-step, for the FWD/BWD ends) of slot on s;
 * capturing: s is being captured into a graph (the mark becomes an external
 * event-record node). Nothing when p is NULL. */
int tr_cuda_prof_mark(tr_cuda_prof *p, int slot, enum tr_prof_mark m, int k, cudaStream_t s,
                      int capturing);

/* Host-side phases of a step, timed with begin/end pairs (nothing when p
 * is NULL): where a busy loop thread spends its time (INGOT_PROF_HOST=1
 * prints them per step on stderr), and the host allocations of a step's
 * submit and collect. */
enum tr_prof_host {
    TR_HOST_SUBMIT,     /* all of submit_step (the pace wait included) */
    TR_HOST_LAUNCH,     /* the step's graph launch (or direct launches) */
    TR_HOST_WAIT,       /* sleeping on the GPU: submit's pace wait, collect's wait */
    TR_HOST_COLLECT,    /* all of collect_step */
    TR_HOST_N
};
void tr_cuda_prof_begin(tr_cuda_prof *p, enum tr_prof_host h);
/* slot: the step's (its submit's allocations are kept for its collect). */
void tr_cuda_prof_end(tr_cuda_prof *p, enum tr_prof_host h, int slot);

/* Start the CPU, wall and sync marks now (end of set-up). */
void tr_cuda_prof_reset(tr_cuda_prof *p);

/* After slot's step completed (within collect_step, after
 * tr_cuda_prof_begin(TR_HOST_COLLECT)): compute the step's figures.
 * Nothing when p is NULL. */
void tr_cuda_prof_collect(tr_cuda_prof *p, int slot);

/* The figures of the last collected step; INGOT_E_USAGE when profiling is
 * off or no step was collected. */
int tr_cuda_prof_last(const tr_cuda_prof *p, struct tr_step_prof *out);

/* ---- Per-operation GPU times of the CUDA model (tr_cuda_model.c): an event
 * after every launcher call of a forward or backward, run eagerly (not in a
 * graph capture), and at collection the time between consecutive events
 * added to the operation's name. What tests/gpu/gpu_op_bench prints: which
 * kernel of the step costs what, and the GEMMs' TFLOP/s. A measurement
 * tool, not part of the training step (the step graph never records these). */

typedef struct tr_cuda_optime tr_cuda_optime;

/* Room for max_marks events per pass (forward + backward of one micro-step:
 * about 20 per layer). 0, -ENOMEM or INGOT_E_CUDA. */
int tr_cuda_optime_create(int max_marks, tr_cuda_optime **out);
void tr_cuda_optime_free(tr_cuda_optime *t);   /* accepts NULL */

/* Record the end of operation name (a string literal: kept by pointer) on s;
 * name NULL marks the start of a pass. flops: the operation's floating-point
 * operations (0 for none counted). Marks past max_marks are dropped (then
 * tr_cuda_optime_collect says so). Nothing when t is NULL. */
int tr_cuda_optime_mark(tr_cuda_optime *t, const char *name, double flops, cudaStream_t s);

/* Wait for the pass's last event, add each interval to its operation, and
 * start a new pass. 0 or INGOT_E_CUDA. */
int tr_cuda_optime_collect(tr_cuda_optime *t);

/* Print the totals, per pass (divided by passes), largest first: ms, share,
 * calls, TFLOP/s where flops were given. */
void tr_cuda_optime_print(const tr_cuda_optime *t, int passes, FILE *f);

/* Forget the totals (after warm-up passes). */
void tr_cuda_optime_clear(tr_cuda_optime *t);

#endif
