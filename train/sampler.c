/* Greedy / top-k / nucleus sampling. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "ingot_err.h"
#include "sampler.h"
#include "tr_rng.h"

/* Index of the largest logit (lowest index on ties). */
static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static int top_k_pick(float *x, int n, int k, float temperature, float top_p,
                      struct tr_rng *r, int *idx)
{
    if (k > n)
        k = n;
    /* selection of the k largest, kept sorted descending in idx[0, k) */
    int have = 0;
    for (int i = 0; i < n; i++) {
        if (have == k && x[i] <= x[idx[k - 1]])
            continue;
        int j = have < k ? have++ : k - 1;
        while (j > 0 && x[idx[j - 1]] < x[i]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    double p[256], sum = 0.0, mx = x[idx[0]];
    for (int j = 0; j < k; j++) {
        p[j] = exp(((double)x[idx[j]] - mx) / temperature);
        sum += p[j];
    }
    if (top_p > 0.0f && top_p < 1.0f) {
        /* the likeliest first (idx is sorted): keep the fewest whose share
         * reaches top_p, at least one */
        double want = (double)top_p * sum, cum = 0.0;
        int keep = 0;
        while (keep < k && cum < want)
            cum += p[keep++];
        k = keep ? keep : 1;
        sum = cum > 0.0 ? cum : p[0];
    }
    double u = tr_rng_uniform(r) * sum;
    for (int j = 0; j < k; j++) {
        u -= p[j];
        if (u < 0.0)
            return idx[j];
    }
    return idx[k - 1];
}

int tr_sample(const struct tr_backend_ops *ops, tr_backend *b, const struct tr_config *c,
              const struct tr_sample_opts *o, int32_t *ids, int n_prompt)
{
    float *logits = malloc((size_t)c->vocab * sizeof(float));
    int idx[256], err = 0;
    int k = o->top_k > 256 ? 256 : o->top_k;
    struct tr_rng r;
    if (o->n_done)
        *o->n_done = 0;
    if (!logits)
        return ingot_oom("sampling logits", (size_t)c->vocab * sizeof(float));
    tr_rng_seed(&r, o->seed, TR_STREAM_SAMPLE);
    for (int i = 0; i < o->n_new; i++) {
        int len = n_prompt + i;
        int ctx = len < c->seq_len ? len : c->seq_len;
        if ((err = ops->logits(b, ids + len - ctx, ctx, logits)))
            break;
        /* finite weights may still overflow the activations: argmax of NaNs
         * gave id 0 over and over, and the run said nothing */
        for (int v = 0; v < c->vocab && !err; v++)
            if (!isfinite(logits[v]))
                err = ingot_fail(INGOT_E_CORRUPT, "sampling token %d: the model's logits are "
                                 "not finite (id %d: %g): its weights overflow the activations "
                                 "(a diverged or damaged checkpoint); use an earlier checkpoint",
                                 len, v, (double)logits[v]);
        if (err)
            break;
        int32_t t = k <= 1 ? argmax(logits, c->vocab)
                           : top_k_pick(logits, c->vocab, k, o->temperature, o->top_p, &r, idx);
        ids[len] = t;
        if (o->n_done)
            *o->n_done = i + 1;
        if (o->on_token && (err = o->on_token(o->arg, ids, len + 1)))
            break;
        bool stop = false;
        for (int s = 0; s < o->n_stop && !stop; s++)
            stop = t == o->stop_ids[s];
        if (stop)
            break;
    }
    free(logits);
    return err;
}
