/* LLaMA on the CPU from the reference ops.
 *
 * One layer, x the residual stream entering it (N = B*T rows of C):
 *   a   = rmsnorm(x) * attn_norm
 *   qkv = a Wqkv^T, RoPE on its q and k heads (in place)
 *   y   = gqa(qkv);  x2 = x + y Wo^T
 *   f   = rmsnorm(x2) * ffn_norm          (fused with the add above)
 *   h   = swiglu(f Wgateup^T);  x3 = x2 + h Wdown^T
 * then logits = (rmsnorm(x_L) * norm) lm_head^T. The add of one sublayer is
 * fused with the next RMSNorm (ref_residual_rmsnorm_fwd), so the residual
 * stream is written once per sublayer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "ref_llama.h"
#include "ref_ops.h"
#include "tr_carve.h"
#include "tr_mem_check.h"
#include "tr_cpu_llama.h"

struct llama_acts {
    float *an, *an_rstd;     /* [N,C], [N]: attention RMSNorm output (input of Wqkv) */
    float *qkv;              /* [N,W] after RoPE (what the attention read) */
    float *y;                /* [N,C] attention output before Wo */
    float *att;              /* [B,NH,T,T] probabilities */
    float *x2;               /* [N,C] residual after attention */
    float *fn, *fn_rstd;     /* [N,C], [N]: MLP RMSNorm output */
    float *gu;               /* [N,2F] gate | up */
    float *h;                /* [N,F] swiglu output */
    float *x3;               /* [N,C] residual after the MLP = layer output */
};

struct tr_cpu_llama {
    struct tr_llama_config cfg;
    int max_batch;
    int B, T;                 /* shape of the last forward */
    void *block;              /* the one allocation */
    size_t block_bytes;
    struct llama_acts *layers;
    float *rope;              /* [seq_len, hs/2, 2] cos/sin table */
    float *emb;               /* [N,C] token embeddings (layer 0's input) */
    float *xn, *xn_rstd;      /* final RMSNorm output and statistics */
    float *logits;            /* [N,Vp]; dlogits in place after a training forward */
    float *losses;            /* [N] */
    int *correct;             /* [N] */
    int32_t *inp, *tgt;       /* [N] copies for backward */
    float *tmp;               /* [N,C] projection output before the residual add */
    /* backward scratch */
    float *dres, *dC, *dqkv, *dgu, *dh, *datt;
};

/* Carve n elements of sz bytes at *off, 64-byte aligned (tr_carve.h:
 * saturating, so an overflowing shape sizes as TR_CARVE_TOO_BIG). base
 * NULL: sizing pass. */
static void *carve(char *base, size_t *off, size_t n, size_t sz)
{
    return tr_carve(base, off, n, sz, 64);
}

static size_t layout(tr_cpu_llama *m, char *base)
{
    const struct tr_llama_config *c = &m->cfg;
    size_t N = (size_t)m->max_batch * c->seq_len, C = c->n_embd, F = c->ffn_dim;
    size_t W = tr_llama_qkv_dim(c), hs = tr_llama_head_dim(c), off = 0;
    size_t att = tr_szmul(tr_szmul((size_t)m->max_batch * c->n_head, c->seq_len), c->seq_len);
    size_t S = sizeof(float);
    m->rope = carve(base, &off, (size_t)c->seq_len * hs, S);
    m->emb = carve(base, &off, N * C, S);
    for (int l = 0; l < c->n_layer; l++) {
        struct llama_acts *a = &m->layers[l];
        a->an = carve(base, &off, N * C, S);
        a->an_rstd = carve(base, &off, N, S);
        a->qkv = carve(base, &off, N * W, S);
        a->y = carve(base, &off, N * C, S);
        a->att = carve(base, &off, att, S);
        a->x2 = carve(base, &off, N * C, S);
        a->fn = carve(base, &off, N * C, S);
        a->fn_rstd = carve(base, &off, N, S);
        a->gu = carve(base, &off, N * 2 * F, S);
        a->h = carve(base, &off, N * F, S);
        a->x3 = carve(base, &off, N * C, S);
    }
    m->xn = carve(base, &off, N * C, S);
    m->xn_rstd = carve(base, &off, N, S);
    m->logits = carve(base, &off, N * c->vocab_padded, S);
    m->losses = carve(base, &off, N, S);
    m->correct = carve(base, &off, N, sizeof(int));
    m->inp = carve(base, &off, N, sizeof(int32_t));
    m->tgt = carve(base, &off, N, sizeof(int32_t));
    m->tmp = carve(base, &off, N * C, S);
    m->dres = carve(base, &off, N * C, S);
    m->dC = carve(base, &off, N * C, S);
    m->dqkv = carve(base, &off, N * W, S);
    m->dgu = carve(base, &off, N * 2 * F, S);
    m->dh = carve(base, &off, N * F, S);
    m->datt = carve(base, &off, att, S);
    return off;
}

int tr_cpu_llama_create(const struct tr_llama_config *c, int max_batch, tr_cpu_llama **out)
{
    *out = NULL;
    int err = tr_llama_config_check(c);
    if (err)
        return err;
    if (max_batch < 1)
        return ingot_fail(INGOT_E_USAGE, "llama cpu model: batch %d must be positive", max_batch);
    tr_cpu_llama *m = calloc(1, sizeof(*m));
    if (!m)
        return ingot_oom("llama cpu model", sizeof(*m));
    m->cfg = *c;
    m->max_batch = max_batch;
    m->layers = calloc((size_t)c->n_layer, sizeof(*m->layers));
    if (!m->layers) {
        free(m);
        return ingot_oom("llama cpu model layer table", (size_t)c->n_layer * sizeof(*m->layers));
    }
    m->block_bytes = layout(m, NULL);
    if ((err = tr_carve_check(m->block_bytes, "llama model", max_batch, c->seq_len, c->n_layer))) {
        tr_cpu_llama_free(m);
        return err;
    }
    if ((err = tr_mem_check_acts(m->block_bytes, "llama model", max_batch, c->seq_len))) {
        tr_cpu_llama_free(m);
        return err;
    }
    m->block = aligned_alloc(64, (m->block_bytes + 63) & ~(size_t)63);
    if (!m->block) {
        size_t mb = m->block_bytes >> 20;
        tr_cpu_llama_free(m);
        return ingot_fail(-ENOMEM, "llama model: cannot allocate %zu MiB of activations; lower "
                          "--batch or --seq-len", mb);
    }
    /* Zero once so that no uninitialised memory is ever read (the attention
     * rows above the diagonal are written by the op anyway). */
    memset(m->block, 0, m->block_bytes);
    layout(m, m->block);
    ref_rope_table(m->rope, c->seq_len, tr_llama_head_dim(c), c->rope_theta);
    *out = m;
    return 0;
}

void tr_cpu_llama_free(tr_cpu_llama *m)
{
    if (!m)
        return;
    free(m->block);
    free(m->layers);
    free(m);
}

size_t tr_cpu_llama_act_bytes(const tr_cpu_llama *m)
{
    return m->block_bytes;
}

const float *tr_cpu_llama_logits(const tr_cpu_llama *m)
{
    return m->logits;
}

const float *tr_cpu_llama_losses(const tr_cpu_llama *m)
{
    return m->losses;
}

void tr_cpu_llama_forward(tr_cpu_llama *m, const float *params, const int32_t *inp,
                          const int32_t *tgt, int B, int T, float dloss, double *loss_sum,
                          int64_t *n_correct)
{
    const struct tr_llama_config *c = &m->cfg;
    int C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, F = c->ffn_dim, N = B * T;
    int W = tr_llama_qkv_dim(c), hs = tr_llama_head_dim(c), Vp = c->vocab_padded;
    float eps = c->norm_eps;
    struct tr_llama_tensors p;
    tr_llama_tensors_map(c, (float *)params, &p);
    m->B = B;
    m->T = T;
    memcpy(m->inp, inp, (size_t)N * sizeof(int32_t));
    if (tgt)
        memcpy(m->tgt, tgt, (size_t)N * sizeof(int32_t));

    for (int n = 0; n < N; n++)
        memcpy(m->emb + (size_t)n * C, p.wte + (size_t)m->inp[n] * C, (size_t)C * sizeof(float));
    ref_rmsnorm_fwd(m->layers[0].an, m->layers[0].an_rstd, m->emb, p.attn_norm, eps, N, C);
    const float *res = m->emb;
    for (int l = 0; l < c->n_layer; l++) {
        struct llama_acts *a = &m->layers[l];
        size_t lC = (size_t)l * C;
        ref_matmul_fwd(a->qkv, a->an, p.wqkv + lC * W, NULL, N, C, W);
        ref_rope_fwd(a->qkv, a->qkv, m->rope, B, T, NH + NKV, hs, W);
        ref_gqa_fwd(a->y, a->att, a->qkv, B, T, NH, NKV, hs);
        ref_matmul_fwd(m->tmp, a->y, p.wo + lC * C, NULL, N, C, C);
        ref_residual_rmsnorm_fwd(a->x2, a->fn, a->fn_rstd, res, m->tmp, p.ffn_norm + lC, eps, N,
                                 C);
        ref_matmul_fwd(a->gu, a->fn, p.wgateup + lC * 2 * F, NULL, N, C, 2 * F);
        ref_swiglu_fwd(a->h, a->gu, N, F);
        ref_matmul_fwd(m->tmp, a->h, p.wdown + lC * F, NULL, N, F, C);
        /* the add, fused with the next RMSNorm: the next layer's or the final one */
        int last = l == c->n_layer - 1;
        ref_residual_rmsnorm_fwd(a->x3, last ? m->xn : m->layers[l + 1].an,
                                 last ? m->xn_rstd : m->layers[l + 1].an_rstd, a->x2, m->tmp,
                                 last ? p.norm : p.attn_norm + lC + C, eps, N, C);
        res = a->x3;
    }
    ref_matmul_fwd(m->logits, m->xn, p.lm_head, NULL, N, C, Vp);
    if (!tgt)
        return;
    ref_softmax_xent(m->losses, dloss > 0.0f ? m->logits : NULL, m->correct, m->logits, m->tgt,
                     N, c->vocab, Vp, dloss);
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

/* dwte[tok[n]] += dres[n]. Threads own channel blocks and visit rows in
 * order, so repeated tokens add up in the same order on any thread count. */
static void embed_bwd(float *dwte, const float *dres, const int32_t *tok, int N, int C)
{
    enum { CB = 64 };
    int nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= ((size_t)1 << 17))
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * CB, c1 = c0 + CB < C ? c0 + CB : C;
        for (int n = 0; n < N; n++) {
            float *d = dwte + (size_t)tok[n] * C;
            const float *s = dres + (size_t)n * C;
            for (int k = c0; k < c1; k++)
                d[k] += s[k];
        }
    }
}

void tr_cpu_llama_backward(tr_cpu_llama *m, const float *params, float *grads)
{
    const struct tr_llama_config *c = &m->cfg;
    int B = m->B, T = m->T, C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head;
    int F = c->ffn_dim, N = B * T, W = tr_llama_qkv_dim(c), hs = tr_llama_head_dim(c);
    size_t NC = (size_t)N * C;
    struct tr_llama_tensors p, g;
    tr_llama_tensors_map(c, (float *)params, &p);
    tr_llama_tensors_map(c, grads, &g);
    const float *last = m->layers[c->n_layer - 1].x3;

    /* Output head (g.lm_head is g.wte when tied), then the final RMSNorm.
     * dres carries the gradient of the residual stream downwards. */
    memset(m->dC, 0, NC * sizeof(float));
    ref_matmul_bwd(m->dC, g.lm_head, NULL, m->logits, m->xn, p.lm_head, N, C, c->vocab_padded);
    memset(m->dres, 0, NC * sizeof(float));
    ref_rmsnorm_bwd(m->dres, g.norm, m->dC, last, p.norm, m->xn_rstd, N, C);

    for (int l = c->n_layer - 1; l >= 0; l--) {
        struct llama_acts *a = &m->layers[l];
        const float *res = l ? m->layers[l - 1].x3 : m->emb;
        size_t lC = (size_t)l * C;
        /* x3 = x2 + Wdown(swiglu(Wgateup(ffn_norm(x2)))) */
        memset(m->dh, 0, (size_t)N * F * sizeof(float));
        ref_matmul_bwd(m->dh, g.wdown + lC * F, NULL, m->dres, a->h, p.wdown + lC * F, N, F, C);
        memset(m->dgu, 0, (size_t)N * 2 * F * sizeof(float));
        ref_swiglu_bwd(m->dgu, m->dh, a->gu, N, F);
        memset(m->dC, 0, NC * sizeof(float));
        ref_matmul_bwd(m->dC, g.wgateup + lC * 2 * F, NULL, m->dgu, a->fn,
                       p.wgateup + lC * 2 * F, N, C, 2 * F);
        ref_rmsnorm_bwd(m->dres, g.ffn_norm + lC, m->dC, a->x2, p.ffn_norm + lC, a->fn_rstd, N,
                        C);
        /* x2 = x + Wo(gqa(rope(Wqkv(attn_norm(x))))) */
        memset(m->dC, 0, NC * sizeof(float));
        ref_matmul_bwd(m->dC, g.wo + lC * C, NULL, m->dres, a->y, p.wo + lC * C, N, C, C);
        memset(m->dqkv, 0, (size_t)N * W * sizeof(float));
        ref_gqa_bwd(m->dqkv, m->datt, m->dC, a->qkv, a->att, B, T, NH, NKV, hs);
        ref_rope_bwd(m->dqkv, m->dqkv, m->rope, B, T, NH + NKV, hs, W);
        memset(m->dC, 0, NC * sizeof(float));
        ref_matmul_bwd(m->dC, g.wqkv + lC * W, NULL, m->dqkv, a->an, p.wqkv + lC * W, N, C, W);
        ref_rmsnorm_bwd(m->dres, g.attn_norm + lC, m->dC, res, p.attn_norm + lC, a->an_rstd, N,
                        C);
    }
    embed_bwd(g.wte, m->dres, m->inp, N, C);
}

int tr_cpu_llama_forward_backward(const struct tr_llama_config *c, const float *params,
                                  const int32_t *chunk, int B, double *loss, float *grads,
                                  float *logits)
{
    int T = c->seq_len;
    size_t N = (size_t)B * T;
    tr_cpu_llama *m;
    int err = tr_cpu_llama_create(c, B, &m);
    if (err)
        return err;
    int32_t *inp = malloc(N * sizeof(int32_t) * 2);
    if (!inp) {
        tr_cpu_llama_free(m);
        return ingot_oom("llama inputs and targets", N * sizeof(int32_t) * 2);
    }
    int32_t *tgt = inp + N;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            inp[(size_t)b * T + t] = chunk[(size_t)b * (T + 1) + t];
            tgt[(size_t)b * T + t] = chunk[(size_t)b * (T + 1) + t + 1];
        }
    if (logits) {
        tr_cpu_llama_forward(m, params, inp, NULL, B, T, 0.0f, NULL, NULL);
        memcpy(logits, m->logits, N * c->vocab_padded * sizeof(float));
    }
    double sum = 0.0;
    tr_cpu_llama_forward(m, params, inp, tgt, B, T, 1.0f / (float)N, &sum, NULL);
    memset(grads, 0, tr_llama_param_count(c) * sizeof(float));
    tr_cpu_llama_backward(m, params, grads);
    *loss = sum / (double)N;
    free(inp);
    tr_cpu_llama_free(m);
    return 0;
}
