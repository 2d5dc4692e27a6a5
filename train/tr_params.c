/* Parameter layout and initialisation. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "ingot_err.h"
#include "tr_llama_params.h"
#include "tr_params.h"
#include "tr_rng.h"

static const char *const param_names[TR_NUM_PARAMS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};

const char *tr_arch_name(int arch)
{
    return arch == TR_ARCH_LLAMA ? "llama" : arch == TR_ARCH_GPT2 ? "gpt2" : "?";
}

void tr_config_to_llama(const struct tr_config *c, struct tr_llama_config *l)
{
    *l = (struct tr_llama_config){
        .n_layer = c->n_layer, .n_head = c->n_head, .n_kv_head = c->n_kv_head,
        .n_embd = c->n_embd, .ffn_dim = c->ffn_dim, .seq_len = c->seq_len, .vocab = c->vocab,
        .vocab_padded = c->vocab_padded, .rope_theta = c->rope_theta, .norm_eps = c->norm_eps,
        .tie_embeddings = c->tie_embeddings,
    };
}

_Static_assert((int)TL_NUM_PARAMS <= (int)TR_NUM_PARAMS, "llama sizes fit GPT-2's table");

static bool is_llama(const struct tr_config *c)
{
    return c->arch == TR_ARCH_LLAMA;
}

int tr_arch_num_params(const struct tr_config *c)
{
    return is_llama(c) ? TL_NUM_PARAMS : TR_NUM_PARAMS;
}

const char *tr_param_name_cfg(const struct tr_config *c, int id)
{
    return is_llama(c) ? tr_llama_param_name(id) : tr_param_name(id);
}

bool tr_param_decays_cfg(const struct tr_config *c, int id)
{
    return is_llama(c) ? id < TL_NUM_PARAMS && tr_llama_param_decays(id) : tr_param_decays(id);
}

void tr_config_pad_vocab(struct tr_config *c)
{
    c->vocab_padded = (c->vocab + TR_VOCAB_PAD - 1) / TR_VOCAB_PAD * TR_VOCAB_PAD;
}

int tr_config_check(const struct tr_config *c)
{
    if (c->arch != TR_ARCH_GPT2 && c->arch != TR_ARCH_LLAMA)
        return ingot_fail(INGOT_E_USAGE, "model: architecture %d is neither gpt2 nor llama",
                          c->arch);
    if (is_llama(c)) {
        struct tr_llama_config l;
        tr_config_to_llama(c, &l);
        return tr_llama_config_check(&l);
    }
    if (c->n_layer < 1 || c->n_head < 1 || c->n_embd < 1 || c->seq_len < 1)
        return ingot_fail(INGOT_E_USAGE, "model: --layers, --heads, --dim and --seq-len must be "
                          "positive (got %d, %d, %d, %d)", c->n_layer, c->n_head, c->n_embd, c->seq_len);
    if (c->n_embd % c->n_head)
        return ingot_fail(INGOT_E_USAGE, "model: --dim %d is not a multiple of --heads %d",
                          c->n_embd, c->n_head);
    if (c->vocab < 2 || c->vocab > INT_MAX - TR_VOCAB_PAD)
        return ingot_fail(INGOT_E_USAGE, "model: vocabulary size %d is out of range", c->vocab);
    if (c->vocab_padded < c->vocab || c->vocab_padded % TR_VOCAB_PAD)
        return ingot_fail(INGOT_E_USAGE, "model: padded vocabulary %d is not %d rounded up to %d",
                          c->vocab_padded, c->vocab, TR_VOCAB_PAD);
    if (c->n_embd > (1 << 20) || c->seq_len > (1 << 20) || c->n_layer > 4096)
        return ingot_fail(INGOT_E_USAGE, "model: dimensions too large (dim %d, seq-len %d, layers %d)",
                          c->n_embd, c->seq_len, c->n_layer);
    return 0;
}

bool tr_config_equal(const struct tr_config *a, const struct tr_config *b)
{
    return a->n_layer == b->n_layer && a->n_head == b->n_head && a->n_embd == b->n_embd &&
           a->seq_len == b->seq_len && a->vocab == b->vocab && a->vocab_padded == b->vocab_padded &&
           a->arch == b->arch && a->n_kv_head == b->n_kv_head && a->ffn_dim == b->ffn_dim &&
           a->rope_theta == b->rope_theta && a->norm_eps == b->norm_eps &&
           a->tie_embeddings == b->tie_embeddings;
}

void tr_param_sizes(const struct tr_config *c, size_t s[TR_NUM_PARAMS])
{
    if (is_llama(c)) {
        struct tr_llama_config l;
        tr_config_to_llama(c, &l);
        memset(s, 0, TR_NUM_PARAMS * sizeof(s[0]));
        tr_llama_param_sizes(&l, s);   /* TL_NUM_PARAMS <= TR_NUM_PARAMS */
        return;
    }
    size_t L = c->n_layer, C = c->n_embd;
    s[TR_WTE] = (size_t)c->vocab_padded * C;
    s[TR_WPE] = (size_t)c->seq_len * C;
    s[TR_LN1W] = L * C;
    s[TR_LN1B] = L * C;
    s[TR_QKVW] = L * 3 * C * C;
    s[TR_QKVB] = L * 3 * C;
    s[TR_ATTPROJW] = L * C * C;
    s[TR_ATTPROJB] = L * C;
    s[TR_LN2W] = L * C;
    s[TR_LN2B] = L * C;
    s[TR_FCW] = L * 4 * C * C;
    s[TR_FCB] = L * 4 * C;
    s[TR_FCPROJW] = L * C * 4 * C;
    s[TR_FCPROJB] = L * C;
    s[TR_LNFW] = C;
    s[TR_LNFB] = C;
}

size_t tr_param_count(const struct tr_config *c)
{
    size_t s[TR_NUM_PARAMS], n = 0;
    tr_param_sizes(c, s);
    for (int i = 0; i < TR_NUM_PARAMS; i++)
        n += s[i];
    return n;
}

size_t tr_param_offset(const struct tr_config *c, int id)
{
    size_t s[TR_NUM_PARAMS], off = 0;
    tr_param_sizes(c, s);
    for (int i = 0; i < id && i < TR_NUM_PARAMS; i++)
        off += s[i];
    return off;
}

const char *tr_param_name(int id)
{
    return id >= 0 && id < TR_NUM_PARAMS ? param_names[id] : "?";
}

bool tr_param_decays(int id)
{
    /* All 2-D matrices, wpe included (as llm.c and GPT-2 reproductions do). */
    return id == TR_WTE || id == TR_WPE || id == TR_QKVW || id == TR_ATTPROJW ||
           id == TR_FCW || id == TR_FCPROJW;
}

void tr_tensors_map(const struct tr_config *c, float *base, struct tr_tensors *t)
{
    size_t s[TR_NUM_PARAMS];
    float **slot[TR_NUM_PARAMS] = {
        &t->wte, &t->wpe, &t->ln1w, &t->ln1b, &t->qkvw, &t->qkvb, &t->attprojw, &t->attprojb,
        &t->ln2w, &t->ln2b, &t->fcw, &t->fcb, &t->fcprojw, &t->fcprojb, &t->lnfw, &t->lnfb,
    };
    tr_param_sizes(c, s);
    for (int i = 0; i < TR_NUM_PARAMS; i++) {
        *slot[i] = base;
        base += s[i];
    }
}

static void fill_const(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        p[i] = v;
}

void tr_params_init(const struct tr_config *c, uint64_t seed, float *params)
{
    if (is_llama(c)) {
        struct tr_llama_config l;
        tr_config_to_llama(c, &l);
        tr_llama_params_init(&l, seed, params);
        return;
    }
    size_t s[TR_NUM_PARAMS];
    struct tr_tensors t;
    struct tr_rng r;
    tr_param_sizes(c, s);
    tr_tensors_map(c, params, &t);
    tr_rng_seed(&r, seed, TR_STREAM_INIT);
    double std = 0.02, proj_std = 0.02 / sqrt(2.0 * c->n_layer);
    size_t C = c->n_embd;

    /* The normal tensors in the stream's draw order (the order of the serial
     * fills before the parallel fill: checkpoints and tests depend on the
     * exact values), filled on all cores; then the constants. */
    const struct tr_rng_normal_run runs[] = {
        { t.wte, (size_t)c->vocab * C, std },
        { t.wpe, s[TR_WPE], std },
        { t.qkvw, s[TR_QKVW], std },
        { t.attprojw, s[TR_ATTPROJW], proj_std },
        { t.fcw, s[TR_FCW], std },
        { t.fcprojw, s[TR_FCPROJW], proj_std },
    };
    tr_rng_fill_normal_runs(&r, runs, (int)(sizeof runs / sizeof runs[0]));
    memset(t.wte + (size_t)c->vocab * C, 0, (size_t)(c->vocab_padded - c->vocab) * C * sizeof(float));
    fill_const(t.ln1w, s[TR_LN1W], 1.0f);
    fill_const(t.ln1b, s[TR_LN1B], 0.0f);
    fill_const(t.qkvb, s[TR_QKVB], 0.0f);
    fill_const(t.attprojb, s[TR_ATTPROJB], 0.0f);
    fill_const(t.ln2w, s[TR_LN2W], 1.0f);
    fill_const(t.ln2b, s[TR_LN2B], 0.0f);
    fill_const(t.fcb, s[TR_FCB], 0.0f);
    fill_const(t.fcprojb, s[TR_FCPROJB], 0.0f);
    fill_const(t.lnfw, s[TR_LNFW], 1.0f);
    fill_const(t.lnfb, s[TR_LNFB], 0.0f);
}
