/* GPT-2 on the CPU from the reference ops. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "ref_ops.h"
#include "tr_carve.h"
#include "tr_mem_check.h"
#include "tr_cpu_model.h"

struct layer_acts {
    float *ln1, *ln1_mean, *ln1_rstd;   /* [N,C], [N], [N] */
    float *qkv;                         /* [N,3C] */
    float *atty;                        /* [N,C] attention output before projection */
    float *att;                         /* [B,NH,T,T] */
    float *res2;                        /* [N,C] residual after attention */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fch, *fch_gelu;              /* [N,4C] */
    float *res3;                        /* [N,C] residual after the MLP = layer output */
};

struct tr_cpu_model {
    struct tr_config cfg;
    int max_batch;
    int B, T;                 /* shape of the last forward */
    void *block;              /* the one allocation */
    size_t block_bytes;
    struct layer_acts *layers;
    float *encoded;           /* [N,C] */
    float *lnf, *lnf_mean, *lnf_rstd;
    float *logits;            /* [N,Vp]; dlogits in place after a training forward */
    float *losses;            /* [N] */
    int *correct;             /* [N] */
    int32_t *inp, *tgt;       /* [N] copies for backward */
    float *tmp;               /* [N,C] projection output before the residual add */
    /* backward scratch */
    float *dres, *dC, *dqkv, *dfch, *dfch_gelu, *datt;
};

/* Carve n elements of sz bytes at *off, 64-byte aligned (tr_carve.h:
 * saturating, so an overflowing shape sizes as TR_CARVE_TOO_BIG). base
 * NULL: sizing pass. */
static void *carve(char *base, size_t *off, size_t n, size_t sz)
{
    return tr_carve(base, off, n, sz, 64);
}

static size_t layout(tr_cpu_model *m, char *base)
{
    const struct tr_config *c = &m->cfg;
    size_t N = (size_t)m->max_batch * c->seq_len, C = c->n_embd, off = 0;
    size_t att = tr_szmul(tr_szmul((size_t)m->max_batch * c->n_head, c->seq_len), c->seq_len);
    size_t F = sizeof(float);
    m->encoded = carve(base, &off, N * C, F);
    for (int l = 0; l < c->n_layer; l++) {
        struct layer_acts *a = &m->layers[l];
        a->ln1 = carve(base, &off, N * C, F);
        a->ln1_mean = carve(base, &off, N, F);
        a->ln1_rstd = carve(base, &off, N, F);
        a->qkv = carve(base, &off, N * 3 * C, F);
        a->atty = carve(base, &off, N * C, F);
        a->att = carve(base, &off, att, F);
        a->res2 = carve(base, &off, N * C, F);
        a->ln2 = carve(base, &off, N * C, F);
        a->ln2_mean = carve(base, &off, N, F);
        a->ln2_rstd = carve(base, &off, N, F);
        a->fch = carve(base, &off, N * 4 * C, F);
        a->fch_gelu = carve(base, &off, N * 4 * C, F);
        a->res3 = carve(base, &off, N * C, F);
    }
    m->lnf = carve(base, &off, N * C, F);
    m->lnf_mean = carve(base, &off, N, F);
    m->lnf_rstd = carve(base, &off, N, F);
    m->logits = carve(base, &off, N * c->vocab_padded, F);
    m->losses = carve(base, &off, N, F);
    m->correct = carve(base, &off, N, sizeof(int));
    m->inp = carve(base, &off, N, sizeof(int32_t));
    m->tgt = carve(base, &off, N, sizeof(int32_t));
    m->tmp = carve(base, &off, N * C, F);
    m->dres = carve(base, &off, N * C, F);
    m->dC = carve(base, &off, N * C, F);
    m->dqkv = carve(base, &off, N * 3 * C, F);
    m->dfch = carve(base, &off, N * 4 * C, F);
    m->dfch_gelu = carve(base, &off, N * 4 * C, F);
    m->datt = carve(base, &off, att, F);
    return off;
}

int tr_cpu_model_create(const struct tr_config *c, int max_batch, tr_cpu_model **out)
{
    *out = NULL;
    int err = tr_config_check(c);
    if (err)
        return err;
    tr_cpu_model *m = calloc(1, sizeof(*m));
    if (!m)
        return ingot_oom("cpu model", sizeof(*m));
    m->cfg = *c;
    m->max_batch = max_batch;
    m->layers = calloc((size_t)c->n_layer, sizeof(*m->layers));
    if (!m->layers) {
        free(m);
        return ingot_oom("cpu model layer table", (size_t)c->n_layer * sizeof(*m->layers));
    }
    m->block_bytes = layout(m, NULL);
    if ((err = tr_carve_check(m->block_bytes, "model", max_batch, c->seq_len, c->n_layer))) {
        tr_cpu_model_free(m);
        return err;
    }
    if ((err = tr_mem_check_acts(m->block_bytes, "model", max_batch, c->seq_len))) {
        tr_cpu_model_free(m);
        return err;
    }
    m->block = aligned_alloc(64, (m->block_bytes + 63) & ~(size_t)63);
    if (!m->block) {
        size_t mb = m->block_bytes >> 20;
        tr_cpu_model_free(m);
        return ingot_fail(-ENOMEM, "model: cannot allocate %zu MiB of activations; lower --batch "
                          "or --seq-len", mb);
    }
    /* Zero once so that no uninitialised memory is ever read (the attention
     * rows above the diagonal are written by the op anyway). */
    memset(m->block, 0, m->block_bytes);
    layout(m, m->block);
    *out = m;
    return 0;
}

void tr_cpu_model_free(tr_cpu_model *m)
{
    if (!m)
        return;
    free(m->block);
    free(m->layers);
    free(m);
}

size_t tr_cpu_model_act_bytes(const tr_cpu_model *m)
{
    return m->block_bytes;
}

const float *tr_cpu_logits(const tr_cpu_model *m)
{
    return m->logits;
}

const float *tr_cpu_losses(const tr_cpu_model *m)
{
    return m->losses;
}

void tr_cpu_forward(tr_cpu_model *m, const float *params, const int32_t *inp,
                    const int32_t *tgt, int B, int T, float dloss, double *loss_sum,
                    int64_t *n_correct)
{
    const struct tr_config *c = &m->cfg;
    int C = c->n_embd, NH = c->n_head, N = B * T;
    struct tr_tensors p;
    tr_tensors_map(c, (float *)params, &p);
    m->B = B;
    m->T = T;
    memcpy(m->inp, inp, (size_t)N * sizeof(int32_t));
    if (tgt)
        memcpy(m->tgt, tgt, (size_t)N * sizeof(int32_t));

    ref_encoder_fwd(m->encoded, m->inp, p.wte, p.wpe, B, T, C);
    const float *res = m->encoded;
    for (int l = 0; l < c->n_layer; l++) {
        struct layer_acts *a = &m->layers[l];
        size_t lC = (size_t)l * C;
        ref_layernorm_fwd(a->ln1, a->ln1_mean, a->ln1_rstd, res, p.ln1w + lC, p.ln1b + lC, N, C);
        ref_matmul_fwd(a->qkv, a->ln1, p.qkvw + lC * 3 * C, p.qkvb + lC * 3, N, C, 3 * C);
        ref_attention_fwd(a->atty, a->att, a->qkv, B, T, C, NH);
        ref_matmul_fwd(m->tmp, a->atty, p.attprojw + lC * C, p.attprojb + lC, N, C, C);
        ref_residual_fwd(a->res2, res, m->tmp, (size_t)N * C);
        ref_layernorm_fwd(a->ln2, a->ln2_mean, a->ln2_rstd, a->res2, p.ln2w + lC, p.ln2b + lC, N, C);
        ref_matmul_fwd(a->fch, a->ln2, p.fcw + lC * 4 * C, p.fcb + lC * 4, N, C, 4 * C);
        ref_gelu_fwd(a->fch_gelu, a->fch, (size_t)N * 4 * C);
        ref_matmul_fwd(m->tmp, a->fch_gelu, p.fcprojw + lC * 4 * C, p.fcprojb + lC, N, 4 * C, C);
        ref_residual_fwd(a->res3, a->res2, m->tmp, (size_t)N * C);
        res = a->res3;
    }
    ref_layernorm_fwd(m->lnf, m->lnf_mean, m->lnf_rstd, res, p.lnfw, p.lnfb, N, C);
    ref_matmul_fwd(m->logits, m->lnf, p.wte, NULL, N, C, c->vocab_padded);
    if (!tgt)
        return;
    ref_softmax_xent(m->losses, dloss > 0.0f ? m->logits : NULL, m->correct, m->logits, m->tgt,
                     N, c->vocab, c->vocab_padded, dloss);
    double s = 0.0;
    int64_t hits = 0;
    for (int i = 0; i < N; i++) {   /* in order: the sum is reproducible */
        s += m->losses[i];
        hits += m->correct[i];
    }
    if (loss_sum)
        *loss_sum = s;
    if (n_correct)
        *n_correct = hits;
}

void tr_cpu_backward(tr_cpu_model *m, const float *params, float *grads)
{
    const struct tr_config *c = &m->cfg;
    int B = m->B, T = m->T, C = c->n_embd, NH = c->n_head, N = B * T;
    size_t NC = (size_t)N * C;
    struct tr_tensors p, g;
    tr_tensors_map(c, (float *)params, &p);
    tr_tensors_map(c, grads, &g);
    const float *last = c->n_layer ? m->layers[c->n_layer - 1].res3 : m->encoded;

    /* Output head (tied to wte), then the final LayerNorm. dres carries the
     * gradient of the residual stream downwards. */
    memset(m->dC, 0, NC * sizeof(float));
    ref_matmul_bwd(m->dC, g.wte, NULL, m->logits, m->lnf, p.wte, N, C, c->vocab_padded);
    memset(m->dres, 0, NC * sizeof(float));
    ref_layernorm_bwd(m->dres, g.lnfw, g.lnfb, m->dC, last, p.lnfw, m->lnf_mean, m->lnf_rstd, N, C);

    for (int l = c->n_layer - 1; l >= 0; l--) {
        struct layer_acts *a = &m->layers[l];
        const float *res = l ? m->layers[l - 1].res3 : m->encoded;
        size_t lC = (size_t)l * C;
        /* res3 = res2 + fcproj(gelu(fc(ln2(res2)))) */
        memset(m->dfch_gelu, 0, NC * 4 * sizeof(float));
        ref_matmul_bwd(m->dfch_gelu, g.fcprojw + lC * 4 * C, g.fcprojb + lC, m->dres, a->fch_gelu,
                       p.fcprojw + lC * 4 * C, N, 4 * C, C);
        memset(m->dfch, 0, NC * 4 * sizeof(float));
        ref_gelu_bwd(m->dfch, a->fch, m->dfch_gelu, NC * 4);
        memset(m->dC, 0, NC * sizeof(float));
        ref_matmul_bwd(m->dC, g.fcw + lC * 4 * C, g.fcb + lC * 4, m->dfch, a->ln2,
                       p.fcw + lC * 4 * C, N, C, 4 * C);
        ref_layernorm_bwd(m->dres, g.ln2w + lC, g.ln2b + lC, m->dC, a->res2, p.ln2w + lC,
                          a->ln2_mean, a->ln2_rstd, N, C);
        /* res2 = res + attproj(attention(qkv(ln1(res)))) */
        memset(m->dC, 0, NC * sizeof(float));
        ref_matmul_bwd(m->dC, g.attprojw + lC * C, g.attprojb + lC, m->dres, a->atty,
                       p.attprojw + lC * C, N, C, C);
        memset(m->dqkv, 0, NC * 3 * sizeof(float));
        ref_attention_bwd(m->dqkv, m->datt, m->dC, a->qkv, a->att, B, T, C, NH);
        memset(m->dC, 0, NC * sizeof(float));
        ref_matmul_bwd(m->dC, g.qkvw + lC * 3 * C, g.qkvb + lC * 3, m->dqkv, a->ln1,
                       p.qkvw + lC * 3 * C, N, C, 3 * C);
        ref_layernorm_bwd(m->dres, g.ln1w + lC, g.ln1b + lC, m->dC, res, p.ln1w + lC,
                          a->ln1_mean, a->ln1_rstd, N, C);
    }
    ref_encoder_bwd(g.wte, g.wpe, m->dres, m->inp, B, T, C);
}

int tr_cpu_forward_backward(const struct tr_config *c, const float *params,
                            const int32_t *chunk, int B, double *loss, float *grads,
                            float *logits)
{
    int T = c->seq_len;
    size_t N = (size_t)B * T;
    tr_cpu_model *m;
    int err = tr_cpu_model_create(c, B, &m);
    if (err)
        return err;
    int32_t *inp = malloc(N * sizeof(int32_t) * 2);
    if (!inp) {
        tr_cpu_model_free(m);
        return ingot_oom("inputs and targets", N * sizeof(int32_t) * 2);
    }
    int32_t *tgt = inp + N;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            inp[(size_t)b * T + t] = chunk[(size_t)b * (T + 1) + t];
            tgt[(size_t)b * T + t] = chunk[(size_t)b * (T + 1) + t + 1];
        }
    if (logits) {
        tr_cpu_forward(m, params, inp, NULL, B, T, 0.0f, NULL, NULL);
        memcpy(logits, m->logits, N * c->vocab_padded * sizeof(float));
    }
    double sum = 0.0;
    tr_cpu_forward(m, params, inp, tgt, B, T, 1.0f / (float)N, &sum, NULL);
    memset(grads, 0, tr_param_count(c) * sizeof(float));
    tr_cpu_backward(m, params, grads);
    *loss = sum / (double)N;
    free(inp);
    tr_cpu_model_free(m);
    return 0;
}
