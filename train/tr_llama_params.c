/* LLaMA parameter layout, presets, initialisation and the Hugging Face name
 * map. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ingot_err.h"
#include "tr_llama_params.h"
#include "tr_rng.h"

static const char *const param_names[TL_NUM_PARAMS] = {
    "wte", "attn_norm", "wqkv", "wo", "ffn_norm", "w_gateup", "w_down", "norm", "lm_head",
};

/* Published shapes. llama-60m and llama-350m are the LLaMA shapes of the
 * GaLore / ReLoRA pre-training studies (full multi-head attention, their
 * SwiGLU widths); llama-1b is TinyLlama-1.1B (grouped-query, 4 kv heads). */
const struct tr_llama_preset tr_llama_presets[] = {
    { "llama-tiny", 2, 4, 2, 64, 256, 64, 3e-3f, "tests and smoke runs (GQA 4/2)" },
    { "llama-60m", 8, 8, 8, 512, 1376, 1024, 1e-3f, "LLaMA 60M (GaLore shape; 58M with 32k vocab)" },
    { "llama-350m", 24, 16, 16, 1024, 2736, 1024, 3e-4f, "LLaMA 350M (GaLore shape)" },
    { "llama-1b", 22, 32, 4, 2048, 5632, 2048, 4e-4f, "TinyLlama-1.1B (GQA 32/4, 32k vocab)" },
    { NULL, 0, 0, 0, 0, 0, 0, 0.0f, NULL },
};

const struct tr_llama_preset *tr_llama_preset_find(const char *name)
{
    for (const struct tr_llama_preset *p = tr_llama_presets; p->name; p++)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}

void tr_llama_preset_apply(const struct tr_llama_preset *p, struct tr_llama_config *c)
{
    c->n_layer = p->n_layer;
    c->n_head = p->n_head;
    c->n_kv_head = p->n_kv_head;
    c->n_embd = p->n_embd;
    c->ffn_dim = p->ffn_dim;
    c->seq_len = p->seq_len;
}

int tr_llama_default_ffn(int n_embd)
{
    long long f = (8LL * n_embd + 3 * 256 - 1) / (3 * 256) * 256;
    return f > INT_MAX ? INT_MAX : (int)f;
}

void tr_llama_config_defaults(struct tr_llama_config *c, int n_layer, int n_head, int n_embd,
                              int seq_len, int vocab)
{
    memset(c, 0, sizeof(*c));
    c->n_layer = n_layer;
    c->n_head = n_head;
    c->n_kv_head = n_head;
    c->n_embd = n_embd;
    c->ffn_dim = tr_llama_default_ffn(n_embd);
    c->seq_len = seq_len;
    c->vocab = vocab;
    c->rope_theta = 10000.0;
    c->norm_eps = 1e-5f;
    c->tie_embeddings = false;
    tr_llama_config_pad_vocab(c);
}

void tr_llama_config_pad_vocab(struct tr_llama_config *c)
{
    c->vocab_padded = (int)(((long long)c->vocab + TR_LLAMA_VOCAB_PAD - 1) / TR_LLAMA_VOCAB_PAD *
                            TR_LLAMA_VOCAB_PAD);
}

int tr_llama_config_check(const struct tr_llama_config *c)
{
    if (c->n_layer < 1 || c->n_head < 1 || c->n_kv_head < 1 || c->n_embd < 1 ||
        c->ffn_dim < 1 || c->seq_len < 1)
        return ingot_fail(INGOT_E_USAGE, "llama model: --layers, --heads, --kv-heads, --dim, "
                          "--ffn-dim and --seq-len must be positive (got %d, %d, %d, %d, %d, %d)",
                          c->n_layer, c->n_head, c->n_kv_head, c->n_embd, c->ffn_dim, c->seq_len);
    if (c->n_embd % c->n_head)
        return ingot_fail(INGOT_E_USAGE, "llama model: --dim %d is not a multiple of --heads %d",
                          c->n_embd, c->n_head);
    if ((c->n_embd / c->n_head) % 2)
        return ingot_fail(INGOT_E_USAGE, "llama model: head size %d (--dim / --heads) must be "
                          "even for RoPE's channel pairs", c->n_embd / c->n_head);
    if (c->n_head % c->n_kv_head)
        return ingot_fail(INGOT_E_USAGE, "llama model: --heads %d is not a multiple of "
                          "--kv-heads %d", c->n_head, c->n_kv_head);
    if (c->vocab < 2 || c->vocab > INT_MAX - TR_LLAMA_VOCAB_PAD)
        return ingot_fail(INGOT_E_USAGE, "llama model: vocabulary size %d is out of range",
                          c->vocab);
    if (c->vocab_padded < c->vocab || c->vocab_padded % TR_LLAMA_VOCAB_PAD)
        return ingot_fail(INGOT_E_USAGE, "llama model: padded vocabulary %d is not %d rounded "
                          "up to %d", c->vocab_padded, c->vocab, TR_LLAMA_VOCAB_PAD);
    if (c->n_embd > (1 << 16) || c->ffn_dim > (1 << 18) || c->seq_len > (1 << 20) ||
        c->n_layer > 4096)
        return ingot_fail(INGOT_E_USAGE, "llama model: dimensions too large (dim %d, ffn-dim %d, "
                          "seq-len %d, layers %d)", c->n_embd, c->ffn_dim, c->seq_len, c->n_layer);
    if (!(c->rope_theta > 1.0) || !isfinite(c->rope_theta))
        return ingot_fail(INGOT_E_USAGE, "llama model: --rope-theta %g must be a finite number "
                          "above 1", c->rope_theta);
    if (!(c->norm_eps > 0.0f) || !(c->norm_eps < 1.0f))
        return ingot_fail(INGOT_E_USAGE, "llama model: --norm-eps %g must be in (0, 1)",
                          (double)c->norm_eps);
    return 0;
}

bool tr_llama_config_equal(const struct tr_llama_config *a, const struct tr_llama_config *b)
{
    return a->n_layer == b->n_layer && a->n_head == b->n_head && a->n_kv_head == b->n_kv_head &&
           a->n_embd == b->n_embd && a->ffn_dim == b->ffn_dim && a->seq_len == b->seq_len &&
           a->vocab == b->vocab && a->vocab_padded == b->vocab_padded &&
           a->rope_theta == b->rope_theta && a->norm_eps == b->norm_eps &&
           a->tie_embeddings == b->tie_embeddings;
}

int tr_llama_head_dim(const struct tr_llama_config *c)
{
    return c->n_embd / c->n_head;
}

int tr_llama_qkv_dim(const struct tr_llama_config *c)
{
    return (c->n_head + 2 * c->n_kv_head) * tr_llama_head_dim(c);
}

void tr_llama_param_sizes(const struct tr_llama_config *c, size_t s[TL_NUM_PARAMS])
{
    size_t L = c->n_layer, C = c->n_embd, F = c->ffn_dim, W = tr_llama_qkv_dim(c);
    s[TL_WTE] = (size_t)c->vocab_padded * C;
    s[TL_ATTN_NORM] = L * C;
    s[TL_WQKV] = L * W * C;
    s[TL_WO] = L * C * C;
    s[TL_FFN_NORM] = L * C;
    s[TL_WGATEUP] = L * 2 * F * C;
    s[TL_WDOWN] = L * C * F;
    s[TL_NORM] = C;
    s[TL_LM_HEAD] = c->tie_embeddings ? 0 : (size_t)c->vocab_padded * C;
}

size_t tr_llama_param_count(const struct tr_llama_config *c)
{
    size_t s[TL_NUM_PARAMS], n = 0;
    tr_llama_param_sizes(c, s);
    for (int i = 0; i < TL_NUM_PARAMS; i++)
        n += s[i];
    return n;
}

size_t tr_llama_param_offset(const struct tr_llama_config *c, int id)
{
    size_t s[TL_NUM_PARAMS], off = 0;
    tr_llama_param_sizes(c, s);
    for (int i = 0; i < id && i < TL_NUM_PARAMS; i++)
        off += s[i];
    return off;
}

const char *tr_llama_param_name(int id)
{
    return id >= 0 && id < TL_NUM_PARAMS ? param_names[id] : "?";
}

bool tr_llama_param_decays(int id)
{
    return id == TL_WTE || id == TL_WQKV || id == TL_WO || id == TL_WGATEUP || id == TL_WDOWN ||
           id == TL_LM_HEAD;
}

void tr_llama_tensors_map(const struct tr_llama_config *c, float *base,
                          struct tr_llama_tensors *t)
{
    size_t s[TL_NUM_PARAMS];
    float **slot[TL_NUM_PARAMS] = {
        &t->wte, &t->attn_norm, &t->wqkv, &t->wo, &t->ffn_norm, &t->wgateup, &t->wdown,
        &t->norm, &t->lm_head,
    };
    tr_llama_param_sizes(c, s);
    for (int i = 0; i < TL_NUM_PARAMS; i++) {
        *slot[i] = base;
        base += s[i];
    }
    if (c->tie_embeddings)
        t->lm_head = t->wte;
}

double tr_llama_flops_per_token(const struct tr_llama_config *c)
{
    size_t s[TL_NUM_PARAMS];
    tr_llama_param_sizes(c, s);
    double n = (double)(s[TL_WQKV] + s[TL_WO] + s[TL_WGATEUP] + s[TL_WDOWN]) +
               (double)(c->tie_embeddings ? s[TL_WTE] : s[TL_LM_HEAD]);
    return 6.0 * n + 12.0 * c->n_layer * (double)c->seq_len * c->n_embd;
}

static void fill_const(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        p[i] = v;
}

/* The zero padding rows of a [Vp, C] table (its V rows are random). */
static void zero_vocab_padding(float *p, const struct tr_llama_config *c)
{
    size_t C = c->n_embd;
    memset(p + (size_t)c->vocab * C, 0, (size_t)(c->vocab_padded - c->vocab) * C * sizeof(float));
}

void tr_llama_params_init(const struct tr_llama_config *c, uint64_t seed, float *params)
{
    size_t s[TL_NUM_PARAMS];
    struct tr_llama_tensors t;
    struct tr_rng r;
    tr_llama_param_sizes(c, s);
    tr_llama_tensors_map(c, params, &t);
    tr_rng_seed(&r, seed, TR_STREAM_INIT);
    double std = 0.02, proj_std = 0.02 / sqrt(2.0 * c->n_layer);
    size_t vc = (size_t)c->vocab * c->n_embd;

    /* The normal tensors in the stream's draw order (that of the serial fills
     * before the parallel fill: checkpoints and tests depend on the exact
     * values), filled on all cores; lm_head last and only when untied. */
    const struct tr_rng_normal_run runs[] = {
        { t.wte, vc, std },
        { t.wqkv, s[TL_WQKV], std },
        { t.wo, s[TL_WO], proj_std },
        { t.wgateup, s[TL_WGATEUP], std },
        { t.wdown, s[TL_WDOWN], proj_std },
        { t.lm_head, vc, std },
    };
    int nruns = (int)(sizeof runs / sizeof runs[0]) - (c->tie_embeddings ? 1 : 0);
    tr_rng_fill_normal_runs(&r, runs, nruns);
    zero_vocab_padding(t.wte, c);
    if (!c->tie_embeddings)
        zero_vocab_padding(t.lm_head, c);
    fill_const(t.attn_norm, s[TL_ATTN_NORM], 1.0f);
    fill_const(t.ffn_norm, s[TL_FFN_NORM], 1.0f);
    fill_const(t.norm, s[TL_NORM], 1.0f);
}

int tr_llama_hf_count(const struct tr_llama_config *c)
{
    return 3 + 9 * c->n_layer - (c->tie_embeddings ? 1 : 0);
}

static void slice(struct tr_llama_hf_slice *s, const char *name, size_t offset, int rows,
                  int cols, int ndim)
{
    snprintf(s->name, sizeof s->name, "%s", name);
    s->offset = offset;
    s->rows = rows;
    s->cols = cols;
    s->ndim = ndim;
}

int tr_llama_hf_tensor(const struct tr_llama_config *c, int i, struct tr_llama_hf_slice *s)
{
    if (i < 0 || i >= tr_llama_hf_count(c))
        return ingot_fail(-EINVAL, "llama: Hugging Face tensor %d of %d", i, tr_llama_hf_count(c));
    size_t C = c->n_embd, F = c->ffn_dim, W = tr_llama_qkv_dim(c), hs = tr_llama_head_dim(c);
    size_t q = c->n_head * hs, kv = c->n_kv_head * hs;
    char nm[64];
    if (i == 0) {
        slice(s, "model.embed_tokens.weight", tr_llama_param_offset(c, TL_WTE), c->vocab,
              (int)C, 2);
        return 0;
    }
    int k = i - 1;
    if (k < 9 * c->n_layer) {
        size_t l = (size_t)(k / 9);
        static const char *const what[9] = {
            "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm",
            "post_attention_layernorm",
        };
        snprintf(nm, sizeof nm, "model.layers.%zu.%s.weight", l, what[k % 9]);
        size_t qkv = tr_llama_param_offset(c, TL_WQKV) + l * W * C;
        size_t gu = tr_llama_param_offset(c, TL_WGATEUP) + l * 2 * F * C;
        switch (k % 9) {
        case 0: slice(s, nm, qkv, (int)q, (int)C, 2); break;
        case 1: slice(s, nm, qkv + q * C, (int)kv, (int)C, 2); break;
        case 2: slice(s, nm, qkv + (q + kv) * C, (int)kv, (int)C, 2); break;
        case 3: slice(s, nm, tr_llama_param_offset(c, TL_WO) + l * C * q, (int)C, (int)q, 2); break;
        case 4: slice(s, nm, gu, (int)F, (int)C, 2); break;
        case 5: slice(s, nm, gu + F * C, (int)F, (int)C, 2); break;
        case 6: slice(s, nm, tr_llama_param_offset(c, TL_WDOWN) + l * C * F, (int)C, (int)F, 2); break;
        case 7: slice(s, nm, tr_llama_param_offset(c, TL_ATTN_NORM) + l * C, 1, (int)C, 1); break;
        default: slice(s, nm, tr_llama_param_offset(c, TL_FFN_NORM) + l * C, 1, (int)C, 1); break;
        }
        return 0;
    }
    if (k == 9 * c->n_layer) {
        slice(s, "model.norm.weight", tr_llama_param_offset(c, TL_NORM), 1, (int)C, 1);
        return 0;
    }
    slice(s, "lm_head.weight", tr_llama_param_offset(c, TL_LM_HEAD), c->vocab, (int)C, 2);
    return 0;
}
