/* The key/value-cached forward of tr_backend_cpu_kv: GPT-2 here, LLaMA in
 * tr_generate_kv_llama.c. The GPT-2 arithmetic is tr_cpu_forward()'s (the
 * same ref_* ops, same order), restricted to the new rows: each layer's q, k,
 * v rows are kept for every position, so a new token costs one row through
 * every matmul plus attention over the cache (ref_decode_attention). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ingot_err.h"
#include "ref_decode.h"
#include "ref_ops.h"
#include "tr_generate.h"
#include "tr_generate_kv.h"

struct tr_backend {
    struct tr_kv_head hd;   /* first: tr_kv_reused() */
    struct tr_config c;
    float *params;          /* a copy: the caller's buffer may go away */
    float *qkv;             /* [L, T, 3C] the cache */
    int32_t *ids;           /* [T] the context the cache holds */
    int n_cached;
    tr_kv_llama *llama;     /* --arch llama: its forward and cache; GPT-2's below unused */
    float *mem;             /* one allocation for the activations below */
    float *x, *ln, *mean, *rstd, *y, *h, *hg, *tmp, *logits;
};

static bool kv_available(char *why, size_t why_len)
{
    (void)why;
    (void)why_len;
    return true;
}

static void kv_destroy(tr_backend *b)
{
    if (!b)
        return;
    tr_kv_llama_free(b->llama);
    free(b->params);
    free(b->qkv);
    free(b->ids);
    free(b->mem);
    free(b);
}

static int kv_create(const struct tr_backend_opts *o, const float *params, tr_backend **out)
{
    const struct tr_config *c = &o->cfg;
    size_t T = (size_t)c->seq_len, C = (size_t)c->n_embd, P = tr_param_count(c);
    bool llama = c->arch == TR_ARCH_LLAMA;
    *out = NULL;
    if (c->arch != TR_ARCH_GPT2 && !llama)
        return ingot_fail(INGOT_E_USAGE, "the key/value-cache sampler has no forward for %s",
                          tr_arch_name(c->arch));
    tr_backend *b = calloc(1, sizeof(*b));
    if (!b)
        return ingot_oom("inference state", sizeof(*b));
    b->c = *c;
    /* GPT-2's activations for up to T new rows at once (a whole-window
     * prefill); llama keeps its own (tr_kv_llama) and needs the logits only */
    size_t sizes[] = { T * C, T * C, T, T, T * C, T * 4 * C, T * 4 * C, T * C,
                       (size_t)c->vocab_padded };
    float **ptrs[] = { &b->x, &b->ln, &b->mean, &b->rstd, &b->y, &b->h, &b->hg, &b->tmp,
                       &b->logits };
    size_t n_arr = sizeof(sizes) / sizeof(sizes[0]), first = llama ? n_arr - 1 : 0;
    size_t total = 0;
    for (size_t i = first; i < n_arr; i++)
        total += sizes[i];
    size_t cache = llama ? 0 : (size_t)c->n_layer * T * 3 * C;
    b->params = malloc(P * sizeof(float));
    b->qkv = cache ? malloc(cache * sizeof(float)) : NULL;
    b->ids = malloc(T * sizeof(int32_t));
    b->mem = malloc(total * sizeof(float));
    if (!b->params || (cache && !b->qkv) || !b->ids || !b->mem) {
        kv_destroy(b);
        return ingot_oom("inference weights, cache and activations",
                         (P + cache + total) * sizeof(float));
    }
    float *m = b->mem;
    for (size_t i = first; i < n_arr; i++) {
        *ptrs[i] = m;
        m += sizes[i];
    }
    memcpy(b->params, params, P * sizeof(float));
    int err = llama ? tr_kv_llama_create(c, b->params, &b->llama) : 0;
    if (err) {
        kv_destroy(b);
        return err;
    }
#ifdef _OPENMP
    if (o->threads > 0)
        omp_set_num_threads(o->threads);
#endif
    *out = b;
    return 0;
}

/* Forward of ids[p0, p0 + n) given the cache of [0, p0); leaves the logits
 * of the last new row in b->logits. */
static void forward_new(tr_backend *b, const int32_t *ids, int p0, int n)
{
    const struct tr_config *c = &b->c;
    int C = c->n_embd, T = c->seq_len;
    struct tr_tensors p;
    tr_tensors_map(c, b->params, &p);
    for (int i = 0; i < n; i++) {
        const float *te = p.wte + (size_t)ids[p0 + i] * C, *pe = p.wpe + (size_t)(p0 + i) * C;
        for (int j = 0; j < C; j++)
            b->x[(size_t)i * C + j] = te[j] + pe[j];
    }
    size_t nC = (size_t)n * C;
    for (int l = 0; l < c->n_layer; l++) {
        size_t lC = (size_t)l * C;
        float *cache = b->qkv + (size_t)l * T * 3 * C;
        ref_layernorm_fwd(b->ln, b->mean, b->rstd, b->x, p.ln1w + lC, p.ln1b + lC, n, C);
        ref_matmul_fwd(cache + (size_t)p0 * 3 * C, b->ln, p.qkvw + lC * 3 * C, p.qkvb + lC * 3,
                       n, C, 3 * C);
        ref_decode_attention(b->y, cache + (size_t)p0 * 3 * C, 3 * (size_t)C, cache + C,
                             cache + 2 * C, 3 * (size_t)C, n, p0, c->n_head, c->n_head,
                             C / c->n_head);
        ref_matmul_fwd(b->tmp, b->y, p.attprojw + lC * C, p.attprojb + lC, n, C, C);
        ref_residual_fwd(b->x, b->x, b->tmp, nC);
        ref_layernorm_fwd(b->ln, b->mean, b->rstd, b->x, p.ln2w + lC, p.ln2b + lC, n, C);
        ref_matmul_fwd(b->h, b->ln, p.fcw + lC * 4 * C, p.fcb + lC * 4, n, C, 4 * C);
        ref_gelu_fwd(b->hg, b->h, nC * 4);
        ref_matmul_fwd(b->tmp, b->hg, p.fcprojw + lC * 4 * C, p.fcprojb + lC, n, 4 * C, C);
        ref_residual_fwd(b->x, b->x, b->tmp, nC);
    }
    /* only the last row's logits are wanted */
    const float *last = b->x + (size_t)(n - 1) * C;
    ref_layernorm_fwd(b->ln, b->mean, b->rstd, last, p.lnfw, p.lnfb, 1, C);
    ref_matmul_fwd(b->logits, b->ln, p.wte, NULL, 1, C, c->vocab_padded);
}

int tr_kv_keep(const int32_t *cached, int n_cached, const int32_t *ids, int n)
{
    int keep = 0;
    while (keep < n_cached && keep < n - 1 && cached[keep] == ids[keep])
        keep++;
    return keep;
}

int tr_kv_check_context(const struct tr_config *c, const int32_t *ids, int n, const char *who)
{
    if (n < 1 || n > c->seq_len)
        return ingot_fail(INGOT_E_USAGE, "%s: logits for a context of %d tokens (seq-len %d)",
                          who, n, c->seq_len);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return ingot_fail(INGOT_E_USAGE, "%s: token id %d is outside the model's "
                              "vocabulary of %d", who, ids[i], c->vocab);
    return 0;
}

static int kv_logits(tr_backend *b, const int32_t *ids, int n, float *out)
{
    const struct tr_config *c = &b->c;
    int err = tr_kv_check_context(c, ids, n, "generate");
    if (err)
        return err;
    /* reuse the longest cached prefix; at least the last token is computed */
    int keep = tr_kv_keep(b->ids, b->n_cached, ids, n);
    memcpy(b->ids + keep, ids + keep, (size_t)(n - keep) * sizeof(int32_t));
    if (b->llama)
        tr_kv_llama_forward(b->llama, ids, keep, n - keep, b->logits);
    else
        forward_new(b, ids, keep, n - keep);
    b->n_cached = n;
    b->hd.reused = keep;
    memcpy(out, b->logits, (size_t)c->vocab * sizeof(float));
    return 0;
}

static size_t kv_mem_bytes(const tr_backend *b)
{
    const struct tr_config *c = &b->c;
    size_t T = (size_t)c->seq_len, C = (size_t)c->n_embd;
    if (b->llama)
        return (tr_param_count(c) + (size_t)c->vocab_padded) * sizeof(float) +
               tr_kv_llama_bytes(b->llama);
    return (tr_param_count(c) + (size_t)c->n_layer * T * 3 * C + 12 * T * C +
            (size_t)c->vocab_padded) * sizeof(float);
}

int tr_kv_reused(const tr_backend *b)
{
    return ((const struct tr_kv_head *)b)->reused;
}

const struct tr_backend_ops tr_backend_cpu_kv = {
    .name = "cpu-kv",
    .max_in_flight = 1,
    .available = kv_available,
    .create = kv_create,
    .logits = kv_logits,
    .mem_bytes = kv_mem_bytes,
    .destroy = kv_destroy,
};
