/* A debugging entry point of the CUDA back end for the parity tests
 * (tests/gpu): one forward + backward without an optimizer step. */
#ifndef INGOT_TR_CUDA_DEBUG_H
#define INGOT_TR_CUDA_DEBUG_H

#include <stdint.h>

#include "backend.h"

/* On b (made by tr_backend_cuda.create, no step in flight): forward and
 * backward of n_seqs <= batch rows of seq_len + 1 ids (inputs row[0, T),
 * targets row[1, T + 1)), as tr_cpu_forward_backward() does: *loss = mean
 * token loss, grads (host, tr_param_count floats) = the float32 gradient of
 * that mean. Parameters and optimizer state are unchanged; the device
 * gradient buffer is overwritten. */
int tr_cuda_debug_grads(tr_backend *b, const int32_t *rows, int n_seqs, double *loss,
                        float *grads);

#endif
