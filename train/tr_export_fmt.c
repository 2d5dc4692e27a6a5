/* llm.c's model file and the raw safetensors export. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "cli_num.h"
#include "ingot_err.h"
#include "term_text.h"
#include "tr_export_fmt.h"
#include "tr_export_st.h"
#include "tr_llama_params.h"

#define LLMC_MAGIC 20240326
#define LLMC_FP32 3
#define LLMC_BF16 5

char *tr_export_path(const char *dir, const char *name)
{
    char *p = fs_path_join(dir, name);
    if (!p)
        ingot_oom("path", strlen(dir) + strlen(name) + 2);
    return p;
}

int tr_export_ingot_tensors(const struct tr_config *c, const float *params,
                            struct tr_st_tensor *t)
{
    const int64_t L = c->n_layer, C = c->n_embd;
    const int64_t shapes[TR_NUM_PARAMS][4] = {
        { c->vocab_padded, C }, { c->seq_len, C }, { L, C }, { L, C }, { L, 3 * C, C },
        { L, 3 * C }, { L, C, C }, { L, C }, { L, C }, { L, C }, { L, 4 * C, C }, { L, 4 * C },
        { L, C, 4 * C }, { L, C }, { C }, { C },
    };
    for (int i = 0; i < TR_NUM_PARAMS; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        snprintf(t[i].name, sizeof(t[i].name), "%s", tr_param_name(i));
        for (int d = 0; d < 4 && shapes[i][d]; d++)
            t[i].shape[t[i].ndim++] = shapes[i][d];
        t[i].data = params + tr_param_offset(c, i);
    }
    return TR_NUM_PARAMS;
}

/* --arch llama: the tensors of tr_llama_params.h under their names (wte and
 * lm_head keep their Vp rows; a tied lm_head is not written). */
static int llama_tensors(const struct tr_config *c, const float *params, struct tr_st_tensor *t)
{
    struct tr_llama_config l;
    tr_config_to_llama(c, &l);
    const int64_t L = c->n_layer, C = c->n_embd, Vp = c->vocab_padded, F = c->ffn_dim;
    const int64_t W = tr_llama_qkv_dim(&l), A = (int64_t)c->n_head * tr_llama_head_dim(&l);
    const int64_t shapes[TL_NUM_PARAMS][3] = {
        { Vp, C }, { L, C }, { L, W, C }, { L, C, A }, { L, C }, { L, 2 * F, C }, { L, C, F },
        { C }, { Vp, C },
    };
    int n = 0;
    for (int i = 0; i < TL_NUM_PARAMS; i++) {
        if (i == TL_LM_HEAD && c->tie_embeddings)
            continue;
        memset(&t[n], 0, sizeof(t[n]));
        snprintf(t[n].name, sizeof(t[n].name), "%s", tr_llama_param_name(i));
        for (int d = 0; d < 3 && shapes[i][d]; d++)
            t[n].shape[t[n].ndim++] = shapes[i][d];
        t[n].data = params + tr_llama_param_offset(&l, i);
        n++;
    }
    return n;
}

int tr_export_raw(const struct tr_export_src *s, const char *dir)
{
    const struct tr_config *c = &s->st->cfg;
    struct tr_st_tensor t[TR_NUM_PARAMS];
    int n = c->arch == TR_ARCH_LLAMA ? llama_tensors(c, s->params, t) :
                                       tr_export_ingot_tensors(c, s->params, t);
    char v[10][24], step[24], hash[24];
    snprintf(v[0], 24, "%d", c->n_layer);
    snprintf(v[1], 24, "%d", c->n_head);
    snprintf(v[2], 24, "%d", c->n_embd);
    snprintf(v[3], 24, "%d", c->seq_len);
    snprintf(v[4], 24, "%d", c->vocab);
    snprintf(v[5], 24, "%d", c->vocab_padded);
    snprintf(step, sizeof(step), "%" PRIu64, s->st->step);
    snprintf(hash, sizeof(hash), "%016" PRIx64, s->st->tokenizer_hash);
    const char *meta[] = {
        "format", "pt", "producer", "ingot-train export", "n_layer", v[0], "n_head", v[1],
        "n_embd", v[2], "seq_len", v[3], "vocab", v[4], "vocab_padded", v[5], "step", step,
        "tokenizer_hash", hash,
        /* --arch llama only (GPT-2's metadata as before) */
        "arch", tr_arch_name(c->arch), "n_kv_head", v[6], "ffn_dim", v[7], "rope_theta", v[8],
        "norm_eps", v[9], "tie_embeddings", c->tie_embeddings ? "true" : "false",
    };
    snprintf(v[6], 24, "%d", c->n_kv_head);
    snprintf(v[7], 24, "%d", c->ffn_dim);
    snprintf(v[8], 24, "%.17g", c->rope_theta);
    snprintf(v[9], 24, "%.9g", cli_float_decimal(c->norm_eps));   /* 1e-05, not 9.99999975e-06 */
    char *path = tr_export_path(dir, "model.safetensors");
    if (!path)
        return ingot_oom("export path", strlen(dir) + 32);
    size_t n_meta = sizeof(meta) / sizeof(meta[0]) / 2 - (c->arch == TR_ARCH_LLAMA ? 0 : 6);
    int err = tr_st_write(path, t, (size_t)n, meta, n_meta);
    free(path);
    return err;
}

/* fp32 -> bf16, round to nearest even (NaN stays a quiet NaN). */
static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

int tr_export_llmc(const struct tr_export_src *s, const char *dir, bool bf16)
{
    const struct tr_config *c = &s->st->cfg;
    if (c->arch != TR_ARCH_GPT2)
        return ingot_fail(INGOT_E_USAGE, "%s: --format llmc is llm.c's GPT-2 file; this is an "
                          "--arch %s checkpoint: use --format hf or safetensors",
                          TERM_SHOW(s->path), tr_arch_name(c->arch));
    size_t n = tr_param_count(c);
    int32_t header[256] = { LLMC_MAGIC, bf16 ? LLMC_BF16 : LLMC_FP32, c->seq_len, c->vocab,
                            c->n_layer, c->n_head, c->n_embd, c->vocab_padded };
    uint16_t *half = NULL;
    if (bf16) {
        if (!(half = malloc(n * sizeof(uint16_t))))
            return ingot_oom("bf16 weights", n * sizeof(uint16_t));
        for (size_t i = 0; i < n; i++)
            half[i] = to_bf16(s->params[i]);
    }
    const struct fs_piece pieces[] = {
        { header, sizeof(header) },
        { bf16 ? (const void *)half : (const void *)s->params,
          n * (bf16 ? sizeof(uint16_t) : sizeof(float)) },
    };
    char *path = tr_export_path(dir, "model.bin");
    int err = path ? fs_stage_pieces(path, pieces, 2) :
                     ingot_oom("export path", strlen(dir) + 32);
    free(path);
    free(half);
    return err;
}
