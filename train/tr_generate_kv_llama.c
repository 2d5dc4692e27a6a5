/* The key/value-cached LLaMA forward of tr_backend_cpu_kv. The arithmetic
 * is tr_cpu_llama_forward()'s (the same ref_* ops in the same order, the
 * same RoPE table) restricted to the new rows: RoPE at each row's absolute
 * position in the context, then only the NKV key and value heads of each
 * position are cached ([L, T, NKV hs] each; the queries are never needed
 * again), and attention runs through ref_decode_attention. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "ref_decode.h"
#include "ref_llama.h"
#include "ref_ops.h"
#include "tr_generate_kv.h"
#include "tr_llama_params.h"

struct tr_kv_llama {
    struct tr_llama_config c;
    struct tr_llama_tensors p;   /* into the caller's parameters */
    float *kc, *vc;              /* [L, T, NKV hs] keys (rotated) and values */
    float *mem;                  /* one allocation: the cache, the table, activations */
    size_t mem_floats;
    float *rope;                 /* [T, hs/2, 2] as tr_cpu_llama's */
    float *x, *an, *rstd, *qkv, *y, *tmp, *gu, *h;   /* for up to T rows */
};

int tr_kv_llama_create(const struct tr_config *cfg, const float *params, tr_kv_llama **out)
{
    *out = NULL;
    tr_kv_llama *m = calloc(1, sizeof(*m));
    if (!m)
        return ingot_oom("llama inference state", sizeof(*m));
    tr_config_to_llama(cfg, &m->c);
    const struct tr_llama_config *c = &m->c;
    int err = tr_llama_config_check(c);
    if (err) {
        free(m);
        return err;
    }
    size_t T = (size_t)c->seq_len, C = (size_t)c->n_embd, F = (size_t)c->ffn_dim;
    size_t hs = (size_t)tr_llama_head_dim(c), W = (size_t)tr_llama_qkv_dim(c);
    size_t KV = (size_t)c->n_layer * T * (size_t)c->n_kv_head * hs;
    size_t sizes[] = { KV, KV, T * hs, T * C, T * C, T, T * W, T * C, T * C, T * 2 * F, T * F };
    float **ptrs[] = { &m->kc, &m->vc, &m->rope, &m->x, &m->an, &m->rstd, &m->qkv, &m->y,
                       &m->tmp, &m->gu, &m->h };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        m->mem_floats += sizes[i];
    if (!(m->mem = malloc(m->mem_floats * sizeof(float)))) {
        err = ingot_fail(-ENOMEM, "cannot allocate %zu MiB for the key/value cache "
                         "and activations of the model's context (seq-len %d, %d layers, %d kv "
                         "heads; from the checkpoint)", (m->mem_floats * sizeof(float)) >> 20,
                         c->seq_len, c->n_layer, c->n_kv_head);
        free(m);
        return err;
    }
    float *at = m->mem;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        *ptrs[i] = at;
        at += sizes[i];
    }
    ref_rope_table(m->rope, c->seq_len, (int)hs, c->rope_theta);
    tr_llama_tensors_map(c, (float *)params, &m->p);
    *out = m;
    return 0;
}

void tr_kv_llama_free(tr_kv_llama *m)
{
    if (!m)
        return;
    free(m->mem);
    free(m);
}

size_t tr_kv_llama_bytes(const tr_kv_llama *m)
{
    return sizeof(*m) + m->mem_floats * sizeof(float);
}

void tr_kv_llama_forward(tr_kv_llama *m, const int32_t *ids, int p0, int n, float *logits)
{
    const struct tr_llama_config *c = &m->c;
    const struct tr_llama_tensors *p = &m->p;
    const int C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, F = c->ffn_dim;
    const int hs = tr_llama_head_dim(c), W = tr_llama_qkv_dim(c), KVW = NKV * hs;
    const float eps = c->norm_eps;
    const size_t T = (size_t)c->seq_len, uC = (size_t)C;
    for (int i = 0; i < n; i++)
        memcpy(m->x + (size_t)i * C, p->wte + (size_t)ids[p0 + i] * C, uC * sizeof(float));
    ref_rmsnorm_fwd(m->an, m->rstd, m->x, p->attn_norm, eps, n, C);
    for (int l = 0; l < c->n_layer; l++) {
        size_t lC = (size_t)l * C;
        float *kc = m->kc + (size_t)l * T * KVW, *vc = m->vc + (size_t)l * T * KVW;
        ref_matmul_fwd(m->qkv, m->an, p->wqkv + lC * W, NULL, n, C, W);
        /* row i is at position p0 + i: rotate with that row of the table */
        ref_rope_fwd(m->qkv, m->qkv, m->rope + (size_t)p0 * hs, 1, n, NH + NKV, hs, W);
        for (int i = 0; i < n; i++) {
            const float *row = m->qkv + (size_t)i * W;
            memcpy(kc + (size_t)(p0 + i) * KVW, row + (size_t)NH * hs, (size_t)KVW * sizeof(float));
            memcpy(vc + (size_t)(p0 + i) * KVW, row + (size_t)(NH + NKV) * hs,
                   (size_t)KVW * sizeof(float));
        }
        ref_decode_attention(m->y, m->qkv, (size_t)W, kc, vc, (size_t)KVW, n, p0, NH, NKV, hs);
        ref_matmul_fwd(m->tmp, m->y, p->wo + lC * C, NULL, n, C, C);
        ref_residual_rmsnorm_fwd(m->x, m->an, m->rstd, m->x, m->tmp, p->ffn_norm + lC, eps, n, C);
        ref_matmul_fwd(m->gu, m->an, p->wgateup + lC * 2 * F, NULL, n, C, 2 * F);
        ref_swiglu_fwd(m->h, m->gu, n, F);
        ref_matmul_fwd(m->tmp, m->h, p->wdown + lC * F, NULL, n, F, C);
        /* the add, fused with the next RMSNorm: the next layer's or the final one */
        const float *w = l == c->n_layer - 1 ? p->norm : p->attn_norm + lC + C;
        ref_residual_rmsnorm_fwd(m->x, m->an, m->rstd, m->x, m->tmp, w, eps, n, C);
    }
    /* only the last row's logits are wanted */
    ref_matmul_fwd(logits, m->an + (size_t)(n - 1) * C, p->lm_head, NULL, 1, C,
                   c->vocab_padded);
}
