/* C interface to SentencePiece (a C++ library), implemented in spm_shim.cc.
 * One loaded model may be shared by many threads: encode and decode are
 * thread-safe. */
#ifndef INGOT_SPM_SHIM_H
#define INGOT_SPM_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ingot_spm ingot_spm;

/* Limits of the loader's checks: a model file above this size, or with
 * fewer or more pieces, is refused (the largest published SentencePiece
 * models have a few hundred thousand pieces and tens of MB). */
#define INGOT_SPM_MAX_MODEL_BYTES ((size_t)256 << 20)
#define INGOT_SPM_MIN_VOCAB 2
#define INGOT_SPM_MAX_VOCAB (1 << 24)

/* Load a .model file and hash its bytes. The file must be regular and at
 * most INGOT_SPM_MAX_MODEL_BYTES (checked before reading); the model must
 * be one complete, well-formed ModelProto (both specs present, so a file
 * cut short at a piece boundary is refused), with a vocabulary of
 * INGOT_SPM_MIN_VOCAB..INGOT_SPM_MAX_VOCAB pieces, exactly one unknown
 * piece at unk_id, and control pieces at the bos/eos/pad ids it declares.
 * Returns 0, -errno, INGOT_E_FORMAT / -EFBIG (not a regular file, too
 * large) or INGOT_E_TOKENIZER (message names the file and the problem). Every
 * message shows the path through term_text(), as later encode and decode
 * messages do. */
int ingot_spm_load(const char *model_path, ingot_spm **out);
void ingot_spm_free(ingot_spm *spm);   /* accepts NULL */

/* Encode text[0, len) into ids. *ids is a growable buffer owned by the
 * caller (realloc'd as needed, free() it), *cap its capacity in elements.
 * Sets *n_ids. Returns 0, -ENOMEM or INGOT_E_TOKENIZER. */
int ingot_spm_encode(const ingot_spm *spm, const char *text, size_t len,
                     uint32_t **ids, size_t *cap, size_t *n_ids);

/* Decode ids to UTF-8 text; *text is malloc'd (caller frees), *len its
 * length without the terminating NUL. */
int ingot_spm_decode(const ingot_spm *spm, const uint32_t *ids, size_t n_ids,
                     char **text, size_t *len);

uint32_t ingot_spm_vocab_size(const ingot_spm *spm);
int32_t ingot_spm_bos_id(const ingot_spm *spm);   /* -1 if none */
int32_t ingot_spm_eos_id(const ingot_spm *spm);
int32_t ingot_spm_pad_id(const ingot_spm *spm);
int32_t ingot_spm_unk_id(const ingot_spm *spm);
/* Piece string of id (valid as long as spm), or NULL when out of range. */
const char *ingot_spm_id_to_piece(const ingot_spm *spm, uint32_t id);
/* XXH3-64 of the model file's bytes. */
uint64_t ingot_spm_model_hash(const ingot_spm *spm);
/* enum ingot_tokenizer_type of the model. */
uint32_t ingot_spm_model_type(const ingot_spm *spm);

#ifdef __cplusplus
}
#endif
#endif
