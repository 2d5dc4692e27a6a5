/* The Hugging Face export: a folder that transformers loads as
 * GPT2LMHeadModel (LlamaForCausalLM for --arch llama: tr_export_hf_llama.c),
 * with the SentencePiece tokenizer.
 *
 * Ingot's model is GPT-2 exactly (pre-LN blocks, tanh GELU = "gelu_new",
 * LayerNorm eps 1e-5, learned positions, head tied to wte). transformers'
 * GPT-2 keeps its linear layers as Conv1D, whose weight is [in, out]: the
 * transpose of Ingot's [out, in]. The padded rows [V, Vp) of wte are
 * dropped: they are zero and never predicted.
 *
 * The tokenizer: tokenizer.json (tr_export_hf_tok.c) is the SentencePiece
 * model as a `tokenizers` pipeline, which tokenizer_config.json names
 * (PreTrainedTokenizerFast: transformers 5 loads TokenizersBackend from
 * it); tokenizer.model is the SentencePiece model as trained, for
 * SentencePiece itself. split_special_tokens makes a literal "<s>" in text
 * encode as text, as SentencePiece does. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fsutil.h"
#include "ingot_hash.h"
#include "ingot_err.h"
#include "term_text.h"
#include "spm_shim.h"
#include "tr_export_fmt.h"

/* dst[j, i] = src[i, j] for src [rows, cols]. */
static void transpose(float *dst, const float *src, int64_t rows, int64_t cols)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            dst[j * rows + i] = src[i * cols + j];
}

static void put(struct tr_st_tensor *t, const char *name, const float *data, int64_t d0,
                int64_t d1)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->data = data;
    t->shape[0] = d0;
    t->ndim = 1;
    if (d1) {
        t->shape[1] = d1;
        t->ndim = 2;
    }
}

/* model.safetensors. The Conv1D weights are transposed into one buffer of
 * 12 L C^2 floats. */
static int write_weights(const struct tr_export_src *s, const char *dir)
{
    const struct tr_config *c = &s->st->cfg;
    const int64_t L = c->n_layer, C = c->n_embd;
    struct tr_tensors w;
    tr_tensors_map(c, (float *)s->params, &w);   /* read only from here on */
    size_t n_t = 4 + 12 * (size_t)L, tbytes = (size_t)(12 * L * C * C) * sizeof(float);
    struct tr_st_tensor *t = calloc(n_t, sizeof(*t));
    float *tr = malloc(tbytes);
    char *path = tr_export_path(dir, "model.safetensors");
    int err = 0;
    if (!t || !tr || !path) {
        err = path ? ingot_oom("transposed weights", tbytes) : -ENOMEM;
        goto out;
    }
    size_t k = 0;
    float *q = tr;
    char name[96];
    put(&t[k++], "transformer.wte.weight", w.wte, c->vocab, C);
    put(&t[k++], "transformer.wpe.weight", w.wpe, c->seq_len, C);
    for (int64_t l = 0; l < L; l++) {
        /* (suffix, source, rows, cols of the source; cols 0: a vector) in
         * the order transformers lists a block's parameters */
        const struct { const char *sfx; const float *src; int64_t rows, cols; } m[] = {
            { "ln_1.weight", w.ln1w + l * C, C, 0 },
            { "ln_1.bias", w.ln1b + l * C, C, 0 },
            { "attn.c_attn.weight", w.qkvw + l * 3 * C * C, 3 * C, C },
            { "attn.c_attn.bias", w.qkvb + l * 3 * C, 3 * C, 0 },
            { "attn.c_proj.weight", w.attprojw + l * C * C, C, C },
            { "attn.c_proj.bias", w.attprojb + l * C, C, 0 },
            { "ln_2.weight", w.ln2w + l * C, C, 0 },
            { "ln_2.bias", w.ln2b + l * C, C, 0 },
            { "mlp.c_fc.weight", w.fcw + l * 4 * C * C, 4 * C, C },
            { "mlp.c_fc.bias", w.fcb + l * 4 * C, 4 * C, 0 },
            { "mlp.c_proj.weight", w.fcprojw + l * 4 * C * C, C, 4 * C },
            { "mlp.c_proj.bias", w.fcprojb + l * C, C, 0 },
        };
        for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
            snprintf(name, sizeof(name), "transformer.h.%" PRId64 ".%s", l, m[i].sfx);
            if (!m[i].cols) {
                put(&t[k++], name, m[i].src, m[i].rows, 0);
                continue;
            }
            transpose(q, m[i].src, m[i].rows, m[i].cols);
            put(&t[k++], name, q, m[i].cols, m[i].rows);   /* Conv1D: [in, out] */
            q += m[i].rows * m[i].cols;
        }
    }
    put(&t[k++], "transformer.ln_f.weight", w.lnfw, C, 0);
    put(&t[k++], "transformer.ln_f.bias", w.lnfb, C, 0);
    static const char *const meta[] = { "format", "pt", "producer", "ingot-train export" };
    err = tr_st_write(path, t, k, meta, 2);
out:
    free(t);
    free(tr);
    free(path);
    return err;
}

/* A special id's piece as a JSON string, or null when the id is -1. */
static json_t *piece(const struct ingot_spm *spm, int32_t id)
{
    const char *p = spm && id >= 0 ? ingot_spm_id_to_piece(spm, (uint32_t)id) : NULL;
    return p ? json_string(p) : json_null();
}

/* The significant digits config.json's reals are written with: at least 9
 * (the float rms_norm_eps, held as its shortest decimal, prints as 1e-05
 * with any count from 9 to 16), and as many as rope_theta needs to read
 * back exactly (a --rope-theta 1234567.891 was cut to 1234567.89). */
static int real_digits(double theta)
{
    for (int p = 9; p < 17; p++) {
        char buf[40];
        snprintf(buf, sizeof(buf), "%.*g", p, theta);
        if (strtod(buf, NULL) == theta)
            return p;
    }
    return 17;
}

int tr_export_read_tokenizer(const struct tr_export_src *s, char **raw, size_t *len)
{
    int err = fs_read_all(s->tokenizer_path, raw, len);
    if (!err && ingot_xxh3(*raw, *len) != ingot_spm_model_hash(s->spm)) {
        err = ingot_fail(INGOT_E_MISMATCH, "%s: the tokenizer changed while the export ran "
                         "(hash %016" PRIx64 ", loaded as %016" PRIx64 "); put the model the "
                         "checkpoint was trained with back, and run the command again",
                         TERM_SHOW(s->tokenizer_path), ingot_xxh3(*raw, *len),
                         ingot_spm_model_hash(s->spm));
        free(*raw);
        *raw = NULL;
    }
    return err;
}

json_t *tr_export_json_text(const char *s)
{
    size_t n = strlen(s), k;
    char *u = malloc(3 * n + 1);   /* a byte becomes at most 3 */
    if (!u)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += k) {
        if ((k = term_text_char_len(s + i, n - i))) {
            memcpy(u + o, s + i, k);
            o += k;
        } else {
            memcpy(u + o, "\xef\xbf\xbd", 3);
            o += 3;
            k = 1;
        }
    }
    json_t *j = json_stringn(u, o);
    free(u);
    return j;
}

static json_t *id_or_null(int32_t id)
{
    return id >= 0 ? json_integer(id) : json_null();
}

int tr_export_write_json(const char *dir, const char *name, json_t *j, int precision)
{
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                JSON_REAL_PRECISION(precision)) : NULL;
    json_decref(j);
    char *path = tr_export_path(dir, name);
    int err;
    if (!text || !path)
        err = path ? ingot_oom(name, 0) : -ENOMEM;
    else {
        size_t len = strlen(text);
        text[len] = '\n';   /* json_dumps' terminator becomes the final newline */
        err = fs_stage_pieces(path, &(struct fs_piece){ text, len + 1 }, 1);
    }
    free(text);
    free(path);
    return err;
}

/* generation_config.json and the tokenizer's files (a model without one
 * has none: tr_export.c then removes an earlier export's, as it removes
 * every file of the hf set this export did not stage). */
static int write_rest(const struct tr_export_src *s, const char *dir, json_t *tok_json)
{
    const struct tr_config *c = &s->st->cfg;
    const struct ingot_spm *spm = s->spm;
    int32_t bos = spm ? ingot_spm_bos_id(spm) : -1, eos = spm ? ingot_spm_eos_id(spm) : -1;
    int32_t pad = spm ? ingot_spm_pad_id(spm) : -1, unk = spm ? ingot_spm_unk_id(spm) : -1;
    /* sampling as ingot-train generate does it. No max_length:
     * transformers warns on every generate(max_new_tokens=N) when the
     * generation config sets one; the context is config.json's. A
     * continuation ends at a document boundary, EOS or BOS (an Ingot
     * dataset marks documents with either: BOS by default), as generate
     * stops: transformers takes a list of eos ids. */
    json_t *stops = eos >= 0 && bos >= 0 ? json_pack("[i, i]", eos, bos)
                                         : id_or_null(eos >= 0 ? eos : bos);
    int err = tr_export_write_json(dir, "generation_config.json", json_pack(
        "{s:o, s:o, s:o, s:b, s:i, s:f}", "bos_token_id", id_or_null(bos),
        "eos_token_id", stops, "pad_token_id", id_or_null(pad), "do_sample", 1,
        "top_k", 40, "temperature", 1.0), 9);
    if (err || !spm) {
        json_decref(tok_json);
        return err;
    }
    /* scores as 17 digits: the exact double of each float score */
    err = tr_export_write_json(dir, "tokenizer.json", tok_json, 17);
    char *model = NULL;
    size_t len = 0;
    if (!err)
        err = tr_export_read_tokenizer(s, &model, &len);
    char *path = err ? NULL : tr_export_path(dir, "tokenizer.model");
    if (!err)
        err = path ? fs_stage_pieces(path, &(struct fs_piece){ model, len }, 1)
                   : ingot_oom("export path", strlen(dir) + 32);
    free(path);
    free(model);
    if (!err)
        err = tr_export_write_json(dir, "tokenizer_config.json", json_pack(
            "{s:s, s:o, s:o, s:o, s:o, s:b, s:b, s:i}",
            "tokenizer_class", "PreTrainedTokenizerFast", "bos_token", piece(spm, bos),
            "eos_token", piece(spm, eos), "unk_token", piece(spm, unk),
            "pad_token", piece(spm, pad), "split_special_tokens", 1,
            "clean_up_tokenization_spaces", 0, "model_max_length", c->seq_len), 9);
    return err;
}

int tr_export_hf(const struct tr_export_src *s, const char *dir)
{
    const struct tr_config *c = &s->st->cfg;
    const struct ingot_spm *spm = s->spm;
    int32_t bos = spm ? ingot_spm_bos_id(spm) : -1, eos = spm ? ingot_spm_eos_id(spm) : -1;
    int32_t pad = spm ? ingot_spm_pad_id(spm) : -1;
    char hash[24];
    snprintf(hash, sizeof(hash), "%016" PRIx64, s->st->tokenizer_hash);
    bool llama = c->arch == TR_ARCH_LLAMA;
    json_t *tok_json = NULL;   /* built first: a refused tokenizer stages nothing */
    int err = spm ? tr_export_hf_tokenizer_build(s, &tok_json) : 0;
    if (!err)
        err = llama ? tr_export_hf_llama_weights(s, dir) : write_weights(s, dir);
    if (!err)
        err = write_rest(s, dir, tok_json);
    else
        json_decref(tok_json);
    if (err)
        return err;
    if (llama)
        err = tr_export_write_json(dir, "config.json", tr_export_hf_llama_config(s, id_or_null(bos),
                                                                       id_or_null(eos),
                                                                       id_or_null(pad)),
                                   real_digits(s->st->cfg.rope_theta));
    else
        err = tr_export_write_json(dir, "config.json", json_pack(
        "{s:[s], s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:n, s:s, s:f, s:f, s:f, s:f, s:f,"
        " s:b, s:b, s:b, s:b, s:b, s:o, s:o, s:o, s:s, s:{s:I, s:s, s:o}}",
        "architectures", "GPT2LMHeadModel", "model_type", "gpt2", "vocab_size", c->vocab,
        "n_positions", c->seq_len, "n_ctx", c->seq_len, "n_embd", c->n_embd,
        "n_layer", c->n_layer, "n_head", c->n_head, "n_inner",
        "activation_function", "gelu_new", "layer_norm_epsilon", 1e-5,
        "initializer_range", 0.02, "resid_pdrop", 0.0, "embd_pdrop", 0.0, "attn_pdrop", 0.0,
        "scale_attn_weights", 1, "scale_attn_by_inverse_layer_idx", 0,
        "reorder_and_upcast_attn", 0, "tie_word_embeddings", 1, "use_cache", 1,
        "bos_token_id", id_or_null(bos), "eos_token_id", id_or_null(eos),
        "pad_token_id", id_or_null(pad), "torch_dtype", "float32",
        "ingot", "step", (json_int_t)s->st->step, "tokenizer_hash", hash,
        "checkpoint", tr_export_json_text(fs_basename(s->path))), 9);
    return err;
}
