/* --dump-batch FILE: one batch with everything the CPU model computes on it,
 * for scripts/torch-reference.py. Layout (little-endian):
 *   [0, 256)   header (struct tr_dump_header): version 1 for GPT-2 (the
 *              bytes of the dumps before LLaMA), 2 for --arch llama, whose
 *              shape fields follow the loss
 *   ids        int32 [B, T + 1]
 *   params     float32 [n_params]      the weights the batch was run with
 *   logits     float32 [B, T, Vp]
 *   grads      float32 [n_params]      d(mean token loss)/d(params)
 * Written atomically. */
#ifndef INGOT_PARITY_DUMP_H
#define INGOT_PARITY_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "tr_params.h"

#define TR_DUMP_MAGIC "INGOTBAT"
#define TR_DUMP_VERSION 1u       /* GPT-2 */
#define TR_DUMP_VERSION_ARCH 2u  /* an architecture other than GPT-2: arch .. norm_eps */
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
    /* version 2 (0 in version 1): the checkpoint's version-3 fields */
    uint32_t arch;          /*  72 enum tr_arch */
    int32_t n_kv_head;      /*  76 */
    int32_t ffn_dim;        /*  80 */
    uint32_t tie_embeddings;/*  84 0 or 1 */
    double rope_theta;      /*  88 */
    float norm_eps;         /*  96 */
    uint8_t reserved[TR_DUMP_HEADER_SIZE - 100];
};
_Static_assert(sizeof(struct tr_dump_header) == TR_DUMP_HEADER_SIZE, "dump header size");
_Static_assert(offsetof(struct tr_dump_header, rope_theta) == 88 &&
                   offsetof(struct tr_dump_header, norm_eps) == 96,
               "the offsets docs/checkpoint-format.md gives");

/* Run the CPU model of c->arch (tr_cpu_net_forward_backward()) on rows (B rows of T + 1 ids) with params
 * and write the result to path. */
int tr_dump_batch(const char *path, const struct tr_config *c, const float *params,
                  const int32_t *rows, int B, uint64_t step, double *loss_out);

#endif
