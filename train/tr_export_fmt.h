/* The writers behind `ingot-train export` (tr_export.c parses and loads):
 * tr_export_hf.c writes the Hugging Face folder, tr_export_fmt.c llm.c's
 * model file and the raw safetensors. Each returns 0 or a negative code
 * with a message naming the file. Every file is staged (written whole under
 * its temporary name, fs_stage_pieces), and tr_export.c renames the set into
 * place once all of it is written: a failure on the way (a full disk, a
 * refused tokenizer) leaves an earlier export in the folder as it was. */
#ifndef INGOT_TR_EXPORT_FMT_H
#define INGOT_TR_EXPORT_FMT_H

#include <stdbool.h>

#include "checkpoint.h"
#include "tr_export_st.h"

struct ingot_spm;

struct tr_export_opts {
    const char *ckpt, *format, *out, *data, *tokenizer;
    bool bf16;              /* llmc: version 5 (bf16) instead of 3 (fp32) */
    bool quiet;             /* --quiet: errors only (no summary line, no notes) */
};

/* What is exported: borrowed from the caller. */
struct tr_export_src {
    const char *path;                   /* the checkpoint file */
    const struct tr_ckpt_state *st;
    const float *params;                /* tr_params.h layout */
    const struct ingot_spm *spm;        /* NULL: no tokenizer */
    const char *tokenizer_path;         /* the .model file spm came from */
};

/* The Hugging Face folder: GPT2LMHeadModel, or LlamaForCausalLM for an
 * --arch llama checkpoint (tr_export_hf_llama.c: its weights and config). */
int tr_export_hf(const struct tr_export_src *s, const char *dir);
int tr_export_hf_llama_weights(const struct tr_export_src *s, const char *dir);
/* config.json's object (NULL when out of memory); takes the three ids. */
struct json_t;
struct json_t *tr_export_hf_llama_config(const struct tr_export_src *s, struct json_t *bos,
                                         struct json_t *eos, struct json_t *pad);
/* tokenizer.json's document: s->tokenizer_path as a `tokenizers` pipeline
 * that encodes and decodes as SentencePiece (tr_export_hf_tok.c), built
 * whole before the export writes anything, so that a refusal leaves an
 * earlier export as it was. Refuses (INGOT_E_TOKENIZER, naming the field) a
 * WORD model, treat_whitespace_as_suffix, a piece that is not UTF-8, and
 * BPE user-defined symbols. */
int tr_export_hf_tokenizer_build(const struct tr_export_src *s, struct json_t **doc);
/* The bytes of s's tokenizer file (malloc'd into *raw, *len), which must be
 * the model loaded at start (its hash): the export reads the file again
 * for tokenizer.json and tokenizer.model, and a file replaced in between
 * (a new model trained into the same path) went out beside weights whose
 * ids mean the old one's pieces. INGOT_E_MISMATCH naming the file then. */
int tr_export_read_tokenizer(const struct tr_export_src *s, char **raw, size_t *len);
/* s as a JSON string (NULL when out of memory): a file name may hold any
 * byte, and jansson refuses a string that is not UTF-8 (config.json's
 * "checkpoint" of a file named in Latin-1 failed the export as 'out of
 * memory'); each byte that is not part of a UTF-8 character becomes U+FFFD. */
struct json_t *tr_export_json_text(const char *s);
/* Stage j (consumed; NULL counts as out of memory) as dir/name, indented,
 * reals with `precision` significant digits. */
int tr_export_write_json(const char *dir, const char *name, struct json_t *j, int precision);
/* dir/model.bin: int32 header[256] = {20240326, 3 or 5, T, V, L, NH, C, Vp},
 * then every tensor in Ingot's (= llm.c's) order, fp32 or bf16. */
int tr_export_llmc(const struct tr_export_src *s, const char *dir, bool bf16);
/* dir/model.safetensors with Ingot's names and shapes (wte keeps its Vp rows). */
int tr_export_raw(const struct tr_export_src *s, const char *dir);

/* Fill t with the 16 tensors under Ingot's names (shapes of tr_params.h);
 * returns TR_NUM_PARAMS. Shared by the raw export and the tests. */
int tr_export_ingot_tensors(const struct tr_config *c, const float *params,
                            struct tr_st_tensor *t);

/* dir/name, malloc'd, or NULL after recording an out-of-memory error. */
char *tr_export_path(const char *dir, const char *name);

#endif
