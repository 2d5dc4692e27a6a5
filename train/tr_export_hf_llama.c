/* The Hugging Face export of an --arch llama checkpoint: LlamaForCausalLM.
 *
 * Ingot's LLaMA follows transformers' conventions (docs/llama.md: RoPE pairs
 * channel i with i + hs/2 as rotate_half does, [q; k; v] and [gate; up] row
 * blocks, repeat_kv grouping), so every HF tensor is a contiguous row slice
 * of the flat buffer that tr_llama_hf_tensor() names: no permutation, no
 * transpose (nn.Linear keeps [out, in], as Ingot does). The embedding and
 * head keep their V real rows; the padding rows are Ingot's. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fsutil.h"
#include "cli_num.h"
#include "ingot_err.h"
#include "tr_export_fmt.h"
#include "tr_llama_params.h"

int tr_export_hf_llama_weights(const struct tr_export_src *s, const char *dir)
{
    struct tr_llama_config c;
    tr_config_to_llama(&s->st->cfg, &c);
    int n = tr_llama_hf_count(&c), err = 0;
    struct tr_st_tensor *t = calloc((size_t)n, sizeof(*t));
    char *path = tr_export_path(dir, "model.safetensors");
    if (!t || !path) {
        err = path ? ingot_oom("safetensors table", (size_t)n * sizeof(*t)) : -ENOMEM;
        goto out;
    }
    for (int i = 0; i < n && !err; i++) {
        struct tr_llama_hf_slice sl;
        if ((err = tr_llama_hf_tensor(&c, i, &sl)))
            break;
        snprintf(t[i].name, sizeof(t[i].name), "%s", sl.name);
        t[i].data = s->params + sl.offset;
        t[i].ndim = sl.ndim;
        t[i].shape[0] = sl.ndim == 1 ? sl.cols : sl.rows;
        t[i].shape[1] = sl.ndim == 1 ? 0 : sl.cols;
    }
    static const char *const meta[] = { "format", "pt", "producer", "ingot-train export" };
    if (!err)
        err = tr_st_write(path, t, (size_t)n, meta, 2);
out:
    free(t);
    free(path);
    return err;
}

json_t *tr_export_hf_llama_config(const struct tr_export_src *s, json_t *bos, json_t *eos,
                                  json_t *pad)
{
    const struct tr_config *c = &s->st->cfg;
    char hash[24];
    snprintf(hash, sizeof(hash), "%016" PRIx64, s->st->tokenizer_hash);
    return json_pack(
        "{s:[s], s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:f, s:f, s:f, s:b, s:b,"
        " s:b, s:f, s:n, s:b, s:o, s:o, s:o, s:s, s:{s:I, s:s, s:o}}",
        "architectures", "LlamaForCausalLM", "model_type", "llama", "vocab_size", c->vocab,
        "hidden_size", c->n_embd, "intermediate_size", c->ffn_dim,
        "num_hidden_layers", c->n_layer, "num_attention_heads", c->n_head,
        "num_key_value_heads", c->n_kv_head, "head_dim", c->n_embd / c->n_head,
        "max_position_embeddings", c->seq_len, "hidden_act", "silu",
        "rms_norm_eps", cli_float_decimal(c->norm_eps), "rope_theta", c->rope_theta,
        "initializer_range", 0.02, "attention_bias", 0, "mlp_bias", 0,
        "tie_word_embeddings", c->tie_embeddings, "attention_dropout", 0.0, "rope_scaling",
        "use_cache", 1, "bos_token_id", bos, "eos_token_id", eos, "pad_token_id", pad,
        "torch_dtype", "float32", "ingot", "step", (json_int_t)s->st->step, "tokenizer_hash",
        hash, "checkpoint", tr_export_json_text(fs_basename(s->path)));
}
