/* Tiny trained checkpoints, hand-edited copies and a logits comparison
 * (gen_ckpt.h). */
#include <math.h>
#include <stdlib.h>

#include "checkpoint.h"
#include "gen_ckpt.h"
#include "tr_export.h"
#include "tr_generate.h"
#include "tt_util.h"

/* GPT-2; llama with grouped-query attention (4 heads over 2 kv heads);
 * llama multi-query (1 kv head), tied head, another RoPE base. */
const struct gen_shape gen_shapes[] = {
    { "gpt2", "--model tiny --layers 2 --dim 32 --heads 2" },
    { "llama-gqa", "--arch llama --model llama-tiny --layers 2 --dim 32 --heads 4 "
                   "--kv-heads 2 --ffn-dim 64" },
    { "llama-mqa", "--arch llama --model llama-tiny --layers 2 --dim 32 --heads 4 "
                   "--kv-heads 1 --ffn-dim 48 --tie-embeddings --rope-theta 500000" },
};
const int gen_n_shapes = (int)(sizeof(gen_shapes) / sizeof(gen_shapes[0]));

char *gen_train(const char *bin, const char *dir, const struct gen_shape *s)
{
    char *ck = tt_fmt("%s/%s", dir, s->name), *out = tt_fmt("%s/%s.txt", dir, s->name);
    char *cmd = tt_fmt("'%s' --device cpu --synthetic --vocab %d --seq-len %d --batch 2 "
                       "--steps 6 --lr 1e-2 --threads 1 --val-every 0 --quiet --ckpt-dir '%s' "
                       "%s", bin, GEN_V, GEN_T, ck, s->args);
    tt_run_ok(cmd, out);
    free(cmd);
    free(out);
    return ck;
}

double gen_max_diff(const struct tr_backend_ops *oa, tr_backend *a,
                    const struct tr_backend_ops *ob, tr_backend *b, const struct tr_config *c,
                    const int32_t *ids, int n, int *reuse_a)
{
    float *la = malloc((size_t)c->vocab * sizeof(float));
    float *lb = malloc((size_t)c->vocab * sizeof(float));
    CHECK(la && lb);
    double worst = 0.0;
    for (int len = 1; len <= n; len++) {
        int ctx = len < c->seq_len ? len : c->seq_len;
        CHECK_OK(oa->logits(a, ids + len - ctx, ctx, la));
        if (reuse_a)
            reuse_a[len - 1] = tr_kv_reused(a);
        CHECK_OK(ob->logits(b, ids + len - ctx, ctx, lb));
        for (int v = 0; v < c->vocab; v++)
            worst = fmax(worst, fabs((double)la[v] - lb[v]));
    }
    free(la);
    free(lb);
    return worst;
}

/* gen_resave and gen_rescale: the copy with weight `at` set to x, or (at
 * SIZE_MAX) every weight times x. */
static char *resave(const char *ck, const char *dir, const char *name, size_t at, float x)
{
    struct tr_ckpt_state st;
    float *p;
    char *path, *text, *out = tt_fmt("%s/%s", dir, name), *saved;
    CHECK_OK(tr_export_load(ck, &st, &p, &path));
    CHECK_OK(tr_ckpt_read_settings(path, &text));
    size_t n = tr_param_count(&st.cfg);
    float *zeros = calloc(n, sizeof(float));
    CHECK(zeros && (at < n || at == SIZE_MAX));
    if (at == SIZE_MAX)
        for (size_t i = 0; i < n; i++)
            p[i] *= x;
    else
        p[at] = x;
    st.settings = text;
    CHECK_OK(tr_ckpt_save(out, &st, p, zeros, zeros, &saved));
    free(zeros);
    free(text);
    free(path);
    free(p);
    free(out);
    return saved;
}

char *gen_resave(const char *ck, const char *dir, const char *name, size_t at, float x)
{
    return resave(ck, dir, name, at, x);
}

char *gen_rescale(const char *ck, const char *dir, const char *name, float x)
{
    return resave(ck, dir, name, SIZE_MAX, x);
}
