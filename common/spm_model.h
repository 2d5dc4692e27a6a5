/* Ingot's own reader of SentencePiece's .model file (ModelProto, protobuf
 * wire format; schema: sentencepiece_model.proto of 0.1.97). Only the
 * fields the encoder needs are kept; proto2 defaults apply to absent ones.
 * No protobuf library: the format is a dozen fields (wire types 0, 1, 2, 5).
 * A group (wire types 3 and 4) is an unknown field to every message here:
 * skipped when well-formed (its end tag has its field number), as
 * libprotobuf skips it; a group left open or closed by another field's end
 * tag is refused, as libprotobuf refuses it. */
#ifndef INGOT_SPM_MODEL_H
#define INGOT_SPM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ModelProto.SentencePiece.Type; an unknown value reads as NORMAL, as
 * proto2 keeps an unrecognised enum value out of the field. */
enum spe_piece_type {
    SPE_NORMAL = 1,
    SPE_UNKNOWN = 2,
    SPE_CONTROL = 3,
    SPE_USER_DEFINED = 4,
    SPE_UNUSED = 5,
    SPE_BYTE = 6,
};

/* TrainerSpec.ModelType. */
enum spe_model_type { SPE_UNIGRAM = 1, SPE_BPE = 2, SPE_WORD = 3, SPE_CHAR = 4 };

/* The longest piece a model may hold (bytes). spm_train's own limit is 512
 * (max_sentencepiece_length, user-defined symbols aside); libsentencepiece
 * overflowed its stack on a piece of 200 KB while building its trie. */
enum { SPE_MAX_PIECE_BYTES = 16384 };

struct spe_piece {
    const char *s;      /* into spe_proto.blob; not NUL-terminated */
    uint32_t len;
    float score;
    uint8_t type;       /* enum spe_piece_type */
};

struct spe_proto {
    unsigned char *blob;          /* owned copy of the file's bytes */
    size_t blob_len;
    struct spe_piece *pieces;     /* id = index */
    uint32_t n_pieces;
    /* TrainerSpec */
    int model_type;               /* enum spe_model_type (unigram unless a known value is set) */
    bool byte_fallback;
    bool treat_ws_suffix;
    bool split_by_ws;
    bool allow_ws_only;
    /* NormalizerSpec */
    const unsigned char *charsmap; /* into blob; NULL when absent/empty */
    size_t charsmap_len;
    bool add_dummy_prefix;
    bool remove_extra_ws;
    bool escape_ws;
    const char *norm_name;         /* into blob, norm_name_len bytes */
    size_t norm_name_len;
    /* ModelProto.denormalizer_spec's precompiled charsmap (decode only:
     * libsentencepiece normalizes decoded text with it, so it is checked as
     * the normalizer's is); into blob, NULL when absent or empty. */
    const unsigned char *denorm_charsmap;
    size_t denorm_charsmap_len;
};

/* Parse buf[0, len) (copied; buf may be freed after). name is used in
 * messages, through term_text(). Returns 0, -ENOMEM or INGOT_E_TOKENIZER
 * (malformed: the message names the field and the byte offset). */
int spe_proto_parse(const void *buf, size_t len, const char *name, struct spe_proto *out);
void spe_proto_free(struct spe_proto *p);   /* accepts a zeroed struct */

#ifdef __cplusplus
}
#endif
#endif
