/* A counted loop inside a CUDA graph under capture: a WHILE node whose body,
 * captured from a second stream, runs n times on the device. The trainer
 * puts a step's micro-steps in one, so that the step graph holds two
 * micro-steps' launches (the loop's and the last one's), not grad_accum
 * copies: cudaGraphLaunch pushes a graph's launches into the GPU's queue
 * whole, and past the queue's room the launching thread spins until the GPU
 * drains it (55% of a core at GPT-2 124M with 16 micro-steps,
 * docs/performance.md "A step's micro-steps as a graph loop"). Conditional
 * nodes need CUDA 12.4: built with an older toolkit, begin fails (the
 * trainer then unrolls).
 *
 *   kn_graph_loop_begin(&l, counter, n, s, body);   s is capturing
 *   ... launches on body: the loop's body, reading *counter (0..n-1) ...
 *   kn_graph_loop_end(&l);                          s goes on after the loop
 *
 * On an error between the two, kn_graph_loop_abort() ends the body's
 * capture; then end the outer capture and discard its graph (destroy it,
 * unless abort says the body's capture was invalidated). */
#ifndef INGOT_GRAPH_LOOP_H
#define INGOT_GRAPH_LOOP_H

#include "kn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kn_graph_loop {
    cudaStream_t outer, body;
    unsigned long long handle;  /* a cudaGraphConditionalHandle (CUDA 12.4+) */
    int *counter;       /* device: the running iteration, 0..n-1, n after */
    unsigned n;
    int open;           /* the body is being captured */
} kn_graph_loop;

/* Whether this build has graph loops (CUDA 12.4 and later); without them
 * begin fails. */
int kn_graph_loop_supported(void);

/* On the capturing stream outer: the counter set to 0, then the WHILE node;
 * body (not capturing, same device) starts capturing the loop's body. n >= 1. */
int kn_graph_loop_begin(kn_graph_loop *l, int *counter, unsigned n, cudaStream_t outer,
                        cudaStream_t body);

/* The body's last launch: ++*counter, and another iteration while it is < n;
 * then the body's capture ends. */
int kn_graph_loop_end(kn_graph_loop *l);

/* Ends the body's capture if it is open (after an error). Not an error
 * code: returns 1 ("keep the outer graph") when that capture had been
 * invalidated (something a capture refuses, such as a synchronize, was
 * called on the body's stream) or its end failed for any reason, else 0.
 * After a 1 the caller ends the outer capture and leaves its graph
 * undestroyed, a small host-side leak, once: destroying it segfaulted
 * inside the driver (580.159) when the body had been invalidated. */
int kn_graph_loop_abort(kn_graph_loop *l);

/* out[i] = in[*idx * stride + i] for i < n, widened from uint16 (u16) or
 * copied int32: micro-step *idx's tokens, idx read on the device. */
int kn_load_ids_at(int32_t *out, const void *in, int u16, size_t n, size_t stride,
                   const int *idx, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
