/* Text generation for --sample-every: repeated forwards through the back
 * end's logits(), greedy (top_k <= 1) or top-k sampling with temperature
 * from a stream seeded by the caller. The context is the last seq_len
 * tokens. */
#ifndef INGOT_SAMPLER_H
#define INGOT_SAMPLER_H

#include <stdint.h>

#include "backend.h"

struct tr_sample_opts {
    int n_new;              /* tokens to generate */
    int top_k;              /* <= 1: greedy */
    float temperature;      /* > 0 */
    uint64_t seed;
};

/* ids holds n_prompt >= 1 tokens and room for n_new more; on success
 * ids[n_prompt, n_prompt + n_new) are the generated ones. */
int tr_sample(const struct tr_backend_ops *ops, tr_backend *b, const struct tr_config *c,
              const struct tr_sample_opts *o, int32_t *ids, int n_prompt);

#endif
