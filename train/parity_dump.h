/* --dump-batch FILE: one batch with everything the CPU model computes on it,
 * for scripts/torch-reference.py. Layout (little-endian):
 *   [0, 256)   header (struct tr_dump_header)
 *   ids        int32 [B, T + 1]
 *   params     float32 [n_params]      the weights the batch was run with
 *   logits     float32 [B, T, Vp]
 *   grads      float32 [n_params]      d(mean token loss)/d(params)
 * Written atomically. */
#ifndef INGOT_PARITY_DUMP_H
#define INGOT_PARITY_DUMP_H

#include <stdint.h>

#include "tr_params.h"

#define TR_DUMP_MAGIC "INGOTBAT"
#define TR_DUMP_VERSION 1u
#define TR_DUMP_HEADER_SIZE 256u

struct tr_dump_header {
    char magic[8];          /*   0 */
    uint32_t version;       /*   8 */
    uint32_t header_size;   /*  12 */
    int32_t n_layer, n_head, n_embd, seq_len, vocab, vocab_padded;   /* 16..40 */
    int32_t batch;          /*  40 B */
    int32_t reserved0;      /*  44 */
    uint64_t n_params;      /*  48 */
    uint64_t step;          /*  56 optimizer steps the params had taken */
    double loss;            /*  64 mean token loss */
    uint8_t reserved[TR_DUMP_HEADER_SIZE - 72];
};
_Static_assert(sizeof(struct tr_dump_header) == TR_DUMP_HEADER_SIZE, "dump header size");

/* Run tr_cpu_forward_backward() on rows (B rows of T + 1 ids) with params
 * and write the result to path. */
int tr_dump_batch(const char *path, const struct tr_config *c, const float *params,
                  const int32_t *rows, int B, uint64_t step, double *loss_out);

#endif
