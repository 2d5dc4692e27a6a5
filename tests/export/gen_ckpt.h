/* What the generation and export tests share: tiny checkpoints trained
 * through the binary (GPT-2 and llama shapes), copies with an edited weight,
 * and a comparison of two back ends' logits over the contexts the sampler
 * asks for. */
#ifndef INGOT_GEN_CKPT_H
#define INGOT_GEN_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

enum { GEN_V = 97, GEN_T = 16 };   /* vocabulary and context of the tiny models */

/* The shapes the tests train: a name and the ingot-train flags. */
struct gen_shape {
    const char *name;
    const char *args;
};
extern const struct gen_shape gen_shapes[];
extern const int gen_n_shapes;

/* Train shape s for a few steps on --synthetic ids (--device cpu) into
 * DIR/NAME; returns that path (malloc'd). Exits 1 when training fails. */
char *gen_train(const char *bin, const char *dir, const struct gen_shape *s);

/* Max |logit difference| between back ends a and b over the contexts
 * tr_sample asks for while ids[0, n) is generated: ids[0, len) for len
 * 1..n, the last seq_len of them once len passes seq_len. When reuse_a is
 * not NULL, reuse_a[len - 1] gets tr_kv_reused(a) after that call. */
double gen_max_diff(const struct tr_backend_ops *oa, tr_backend *a,
                    const struct tr_backend_ops *ob, tr_backend *b, const struct tr_config *c,
                    const int32_t *ids, int n, int *reuse_a);

/* A copy of the checkpoint ck (a file or --ckpt-dir) in DIR/name whose
 * weight number `at` is x (AdamW state zero; checksums recomputed by the
 * writer): what a hand-edited file looks like. Returns its path (malloc'd). */
char *gen_resave(const char *ck, const char *dir, const char *name, size_t at, float x);

/* The same with every weight times x: finite weights that overflow the
 * activations (x 1e18), or a loss too large for exp() (x 100). */
char *gen_rescale(const char *ck, const char *dir, const char *name, float x);

#endif
