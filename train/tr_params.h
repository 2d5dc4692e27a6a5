/* GPT-2 model configuration and parameter layout (llm.c order). Every back
 * end carves its parameters, gradients and AdamW moments from one buffer
 * each, laid out exactly like this, so that host copies, checkpoints and the
 * PyTorch reference agree on every offset. */
#ifndef INGOT_TR_PARAMS_H
#define INGOT_TR_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The model families ingot-train knows (--arch). */
enum tr_arch { TR_ARCH_GPT2 = 0, TR_ARCH_LLAMA = 1 };

/* The model of a run. GPT-2 uses the first six fields; --arch llama also
 * the LLaMA ones (tr_llama_params.h: RMSNorm, RoPE, SwiGLU, grouped-query
 * attention), which are 0 for GPT-2. The layout functions below dispatch on
 * arch, so that the loop, checkpoints and back ends size buffers alike. */
struct tr_config {
    int n_layer;        /* L */
    int n_head;         /* NH */
    int n_embd;         /* C; a multiple of n_head */
    int seq_len;        /* T: the context (wpe rows) */
    int vocab;          /* V: real vocabulary (from the manifest or --vocab) */
    int vocab_padded;   /* Vp: V rounded up to a multiple of TR_VOCAB_PAD */
    int arch;           /* enum tr_arch */
    int n_kv_head;      /* llama: key/value heads (--kv-heads) */
    int ffn_dim;        /* llama: SwiGLU width (--ffn-dim) */
    double rope_theta;  /* llama: RoPE base (--rope-theta) */
    float norm_eps;     /* llama: RMSNorm epsilon (--norm-eps) */
    bool tie_embeddings;/* llama: lm_head = wte (--tie-embeddings) */
};

struct tr_llama_config;
/* "gpt2" or "llama". */
const char *tr_arch_name(int arch);
/* The LLaMA config of c (c->arch == TR_ARCH_LLAMA). */
void tr_config_to_llama(const struct tr_config *c, struct tr_llama_config *out);
/* Number of tensors of c's layout (16 for GPT-2, TL_NUM_PARAMS for llama):
 * ids [0, n) index tr_param_sizes() and the *_cfg functions below. */
int tr_arch_num_params(const struct tr_config *c);
/* tr_param_name / tr_param_decays for the architecture of c. */
const char *tr_param_name_cfg(const struct tr_config *c, int id);
bool tr_param_decays_cfg(const struct tr_config *c, int id);

#define TR_VOCAB_PAD 128

/* Tensors in storage order; shapes with L = n_layer, C = n_embd. */
enum tr_param_id {
    TR_WTE,        /* [Vp, C]  token embedding, also the output head */
    TR_WPE,        /* [T, C]   position embedding */
    TR_LN1W,       /* [L, C] */
    TR_LN1B,       /* [L, C] */
    TR_QKVW,       /* [L, 3C, C] */
    TR_QKVB,       /* [L, 3C] */
    TR_ATTPROJW,   /* [L, C, C] */
    TR_ATTPROJB,   /* [L, C] */
    TR_LN2W,       /* [L, C] */
    TR_LN2B,       /* [L, C] */
    TR_FCW,        /* [L, 4C, C] */
    TR_FCB,        /* [L, 4C] */
    TR_FCPROJW,    /* [L, C, 4C] */
    TR_FCPROJB,    /* [L, C] */
    TR_LNFW,       /* [C] */
    TR_LNFB,       /* [C] */
    TR_NUM_PARAMS
};

/* Pointers to every tensor inside one contiguous buffer. */
struct tr_tensors {
    float *wte, *wpe, *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb;
    float *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb, *lnfw, *lnfb;
};

/* Set vocab_padded from vocab. */
void tr_config_pad_vocab(struct tr_config *c);
/* Check the shape is usable (positive sizes, C % NH == 0, Vp consistent,
 * sizes that fit the int arguments of the ops). INGOT_E_USAGE with a message. */
int tr_config_check(const struct tr_config *c);
/* Two configs describe the same parameter layout. */
bool tr_config_equal(const struct tr_config *a, const struct tr_config *b);

/* Element counts of every tensor (llama: the first TL_NUM_PARAMS entries,
 * the rest 0). */
void tr_param_sizes(const struct tr_config *c, size_t sizes[TR_NUM_PARAMS]);
/* Total element count (sum of tr_param_sizes). */
size_t tr_param_count(const struct tr_config *c);
/* Element offset of tensor id inside the buffer. */
size_t tr_param_offset(const struct tr_config *c, int id);
/* "wte", "wpe", "ln1w", ... (static strings). */
const char *tr_param_name(int id);
/* Whether AdamW applies weight decay to tensor id: the 2-D matrices (wte,
 * wpe, qkvw, attprojw, fcw, fcprojw); never biases or LayerNorm gains. */
bool tr_param_decays(int id);
/* Fill t with pointers into base (tr_param_count floats). */
void tr_tensors_map(const struct tr_config *c, float *base, struct tr_tensors *t);

/* Initialisation from seed (llama: tr_llama_params_init). GPT-2: matrices and embeddings N(0, 0.02), the
 * residual output projections (attprojw, fcprojw) N(0, 0.02/sqrt(2L)),
 * biases 0, LayerNorm gains 1; the padded wte rows [V, Vp) are 0. Sequential
 * and platform-independent. */
void tr_params_init(const struct tr_config *c, uint64_t seed, float *params);

#endif
