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
    /* Optional (zero: off). */
    float top_p;            /* nucleus within the top k: the fewest likeliest whose
                             * probabilities reach top_p; off unless in (0, 1) */
    const int32_t *stop_ids;   /* generation ends after any of these (it is kept) */
    int n_stop;
    /* called after each new token with ids[0, n); a nonzero return ends
     * the generation with that error */
    int (*on_token)(void *arg, const int32_t *ids, int n);
    void *arg;
    int *n_done;            /* set to the tokens generated (fewer after a stop id) */
};

/* ids holds n_prompt >= 1 tokens and room for n_new more; on success
 * ids[n_prompt, n_prompt + n_done) are the generated ones (n_done = n_new
 * unless a stop id came first). */
int tr_sample(const struct tr_backend_ops *ops, tr_backend *b, const struct tr_config *c,
              const struct tr_sample_opts *o, int32_t *ids, int n_prompt);

#endif
