/* Internals of the key/value-cached inference back ends (tr_generate.h):
 * what the CPU GPT-2 cache (tr_generate_kv.c), the CPU LLaMA cache
 * (tr_generate_kv_llama.c) and the CUDA cache (tr_generate_kv_cuda.c)
 * share. Not for use outside train/tr_generate*. */
#ifndef INGOT_TR_GENERATE_KV_H
#define INGOT_TR_GENERATE_KV_H

#include <stdint.h>

#include "tr_params.h"

/* The first member of every cached back end's state, so that tr_kv_reused()
 * reads any of them. */
struct tr_kv_head {
    int reused;         /* cached positions the last logits() call kept */
};

/* How many leading positions of the cached context (cached[0, n_cached))
 * ids[0, n) can keep: the longest common prefix, less than n so that at
 * least the last token is computed (its logits are the answer). */
int tr_kv_keep(const int32_t *cached, int n_cached, const int32_t *ids, int n);

/* 0, or INGOT_E_USAGE naming `who` when n is outside [1, seq_len] or an id
 * outside the vocabulary. */
int tr_kv_check_context(const struct tr_config *c, const int32_t *ids, int n, const char *who);

/* The LLaMA forward over new rows with a cache of NKV key/value heads per
 * layer (tr_generate_kv_llama.c). params is borrowed (it must outlive m). */
typedef struct tr_kv_llama tr_kv_llama;
int tr_kv_llama_create(const struct tr_config *c, const float *params, tr_kv_llama **out);
void tr_kv_llama_free(tr_kv_llama *m);   /* accepts NULL */
/* Forward of ids[p0, p0 + n) at positions p0.. given the cache of [0, p0);
 * stores their keys and values (after RoPE) at p0.. and writes the last
 * row's logits ([vocab_padded]) to logits. */
void tr_kv_llama_forward(tr_kv_llama *m, const int32_t *ids, int p0, int n, float *logits);
size_t tr_kv_llama_bytes(const tr_kv_llama *m);

#endif
