/* LLaMA-style model configuration and parameter layout: RMSNorm, RoPE,
 * SwiGLU MLP, grouped-query attention, no biases, untied output head by
 * default (docs/llama.md). The counterpart of tr_params.h for GPT-2; the two
 * share nothing but the conventions: one flat float buffer, tensor-major
 * (all layers of one tensor kind are contiguous, as llm.c stores GPT-2), so
 * that parameters, gradients and AdamW moments of every back end, the
 * checkpoints and the PyTorch reference agree on every offset.
 *
 * Two weights are stored fused, as GPT-2's qkvw is, so that each is ONE GEMM
 * on every back end: wqkv = [Wq; Wk; Wv] and w_gateup = [W_gate; W_up]
 * (row blocks). tr_llama_hf_tensor() gives the row slices that are Hugging
 * Face LlamaForCausalLM's q_proj/k_proj/v_proj and gate_proj/up_proj. */
#ifndef INGOT_TR_LLAMA_PARAMS_H
#define INGOT_TR_LLAMA_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tr_llama_config {
    int n_layer;        /* L */
    int n_head;         /* NH query heads */
    int n_kv_head;      /* NKV key/value heads; NH % NKV == 0 (NKV == NH: plain MHA) */
    int n_embd;         /* C; a multiple of NH, head size hs = C / NH even (RoPE pairs) */
    int ffn_dim;        /* F, SwiGLU hidden size; 0 in a request = tr_llama_default_ffn(C) */
    int seq_len;        /* T: the longest context (RoPE table rows) */
    int vocab;          /* V: real vocabulary */
    int vocab_padded;   /* Vp: V rounded up to TR_LLAMA_VOCAB_PAD */
    double rope_theta;  /* RoPE base, 10000 */
    float norm_eps;     /* RMSNorm epsilon, 1e-5 */
    bool tie_embeddings;/* output head = wte (no lm_head tensor); default false */
};

#define TR_LLAMA_VOCAB_PAD 128

/* Tensors in storage order; L = n_layer, C = n_embd, hs = C / NH,
 * W = (NH + 2 NKV) hs, F = ffn_dim. Linear weights are [out, in]. */
enum tr_llama_param_id {
    TL_WTE,        /* [Vp, C]       token embedding (and the head when tied) */
    TL_ATTN_NORM,  /* [L, C]        RMSNorm gain before attention */
    TL_WQKV,       /* [L, W, C]     rows: Wq (NH hs), Wk (NKV hs), Wv (NKV hs) */
    TL_WO,         /* [L, C, NH hs] attention output projection */
    TL_FFN_NORM,   /* [L, C]        RMSNorm gain before the MLP */
    TL_WGATEUP,    /* [L, 2F, C]    rows: W_gate (F), W_up (F) */
    TL_WDOWN,      /* [L, C, F]     MLP down projection */
    TL_NORM,       /* [C]           final RMSNorm gain */
    TL_LM_HEAD,    /* [Vp, C]       output head; 0 elements when tied */
    TL_NUM_PARAMS
};

/* Pointers to every tensor inside one contiguous buffer (lm_head == wte when
 * tied). */
struct tr_llama_tensors {
    float *wte, *attn_norm, *wqkv, *wo, *ffn_norm, *wgateup, *wdown, *norm, *lm_head;
};

/* One named shape. ffn_dim is explicit (presets copy published shapes, which
 * do not all follow the 8/3 rule). */
struct tr_llama_preset {
    const char *name;
    int n_layer, n_head, n_kv_head, n_embd, ffn_dim, seq_len;
    float lr;            /* a reasonable peak learning rate for the shape */
    const char *what;
};
/* The preset table, terminated by an entry with name == NULL. */
extern const struct tr_llama_preset tr_llama_presets[];
/* The preset called name, or NULL. */
const struct tr_llama_preset *tr_llama_preset_find(const char *name);
/* Fill the shape fields of c from p (vocab, theta, eps, tying untouched). */
void tr_llama_preset_apply(const struct tr_llama_preset *p, struct tr_llama_config *c);

/* The LLaMA rule for the SwiGLU width: 8/3 C rounded up to a multiple of 256
 * (C 2048 -> 5632, C 4096 -> 11008). */
int tr_llama_default_ffn(int n_embd);
/* A config with the defaults: n_kv_head = n_head, ffn_dim by the rule,
 * theta 10000, eps 1e-5, untied, vocab_padded from vocab. */
void tr_llama_config_defaults(struct tr_llama_config *c, int n_layer, int n_head, int n_embd,
                              int seq_len, int vocab);
/* Set vocab_padded from vocab. */
void tr_llama_config_pad_vocab(struct tr_llama_config *c);
/* Check the shape is usable: positive sizes, C % NH == 0, even head size,
 * NH % NKV == 0, Vp consistent, theta > 0, eps > 0, sizes that fit the int
 * arguments of the ops. INGOT_E_USAGE with a message naming the option. */
int tr_llama_config_check(const struct tr_llama_config *c);
/* Two configs describe the same model (layout and math). */
bool tr_llama_config_equal(const struct tr_llama_config *a, const struct tr_llama_config *b);
/* Head size C / NH and the packed qkv row width (NH + 2 NKV) hs. */
int tr_llama_head_dim(const struct tr_llama_config *c);
int tr_llama_qkv_dim(const struct tr_llama_config *c);

/* Element counts of every tensor (TL_LM_HEAD is 0 when tied). */
void tr_llama_param_sizes(const struct tr_llama_config *c, size_t sizes[TL_NUM_PARAMS]);
/* Total element count. */
size_t tr_llama_param_count(const struct tr_llama_config *c);
/* Element offset of tensor id inside the buffer. */
size_t tr_llama_param_offset(const struct tr_llama_config *c, int id);
/* "wte", "attn_norm", "wqkv", ... (static strings). */
const char *tr_llama_param_name(int id);
/* Whether AdamW decays tensor id: the matrices (wte, wqkv, wo, w_gateup,
 * w_down, lm_head); never the RMSNorm gains. */
bool tr_llama_param_decays(int id);
/* Fill t with pointers into base (tr_llama_param_count floats). */
void tr_llama_tensors_map(const struct tr_llama_config *c, float *base,
                          struct tr_llama_tensors *t);

/* Training FLOPs per token for MFU, counted as tr_flops_per_token() counts
 * GPT-2 (PaLM appendix B, llm.c):
 *   6 * (matmul weights: wqkv, wo, w_gateup, w_down and the output head;
 *        not the RMSNorm gains, not an untied wte, which is a lookup)
 * + 12 * L * T * NH * hs  (q k^T and att v over the full T x T square).
 * RMSNorm, RoPE, SwiGLU, softmax and the optimizer are not counted. */
double tr_llama_flops_per_token(const struct tr_llama_config *c);

/* Initialisation from seed: wte, wqkv, w_gateup, lm_head N(0, 0.02); the
 * residual output projections wo and w_down N(0, 0.02 / sqrt(2 L)); RMSNorm
 * gains 1; padded rows [V, Vp) of wte and lm_head 0. Sequential and
 * platform-independent (tr_rng). */
void tr_llama_params_init(const struct tr_llama_config *c, uint64_t seed, float *params);

/* One Hugging Face LlamaForCausalLM tensor as a slice of the flat layout:
 * rows [row0, row0 + rows) of `cols` floats starting at element `offset`
 * (the slice is contiguous). */
struct tr_llama_hf_slice {
    char name[64];      /* e.g. "model.layers.3.self_attn.k_proj.weight" */
    size_t offset;      /* element offset in the flat buffer */
    int rows, cols;     /* HF shape [rows, cols] ([cols] for 1-D: rows == 1) */
    int ndim;           /* 1 or 2 */
};
/* Number of HF tensors: 3 + 9 L, less one when tied (lm_head.weight is then
 * wte's, and HF saves it only as model.embed_tokens.weight). */
int tr_llama_hf_count(const struct tr_llama_config *c);
/* The i-th HF tensor (i < tr_llama_hf_count), in HF's state-dict order. The
 * embedding and the head have V rows (the padding is Ingot's). Returns 0 or
 * -EINVAL for i out of range. */
int tr_llama_hf_tensor(const struct tr_llama_config *c, int i, struct tr_llama_hf_slice *s);

#endif
