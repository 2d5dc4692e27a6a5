/* Shard file format v1: the on-disk contract between ingot-pretok (writer)
 * and ingot-train / ingot-dump (readers). See docs/shard-format.md.
 *
 * Layout (all integers little-endian):
 *   [0, 4096)              header (struct ingot_shard_header, zero-padded)
 *   [tokens_offset, ...)   n_tokens ids, token_width bytes each (page-aligned)
 *   [index_offset, ...)    n_docs+1 uint64 token offsets; doc i = [off[i], off[i+1])
 *   [prov_offset, ...)     n_docs provenance records (struct ingot_doc_prov)
 *   file_size == prov_offset + n_docs * sizeof(struct ingot_doc_prov)
 */
#ifndef INGOT_SHARD_FORMAT_H
#define INGOT_SHARD_FORMAT_H

#include <stdint.h>

#define INGOT_SHARD_MAGIC "INGOTSHD"       /* 8 bytes, no terminator on disk */
#define INGOT_SHARD_VERSION 1u
#define INGOT_SHARD_HEADER_SIZE 4096u
#define INGOT_ENDIAN_MARK 0x01020304u     /* reads 0x04030201 on a big-endian host */
#define INGOT_SHARD_SUFFIX ".tok"
#define INGOT_MANIFEST_NAME "manifest.json"
/* What an unfinished ingot-pretok conversion or merge leaves in its output
 * directory before manifest.json (pretok/pt_state.h, pt_merge.h): readers
 * name them when the manifest is missing. */
#define INGOT_PRETOK_STATE_NAME ".pretok-state.json"
#define INGOT_MERGE_PLAN_NAME ".merge-plan.json"
/* A part's manifest once ingot-pretok merge has moved its shards away. */
#define INGOT_MERGE_RETIRED_NAME "manifest.merged.json"
/* The lock file of an ingot-train --ckpt-dir (train/checkpoint.h), by which
 * ingot-pretok tells a run's directory from a dataset's. */
#define INGOT_TRAIN_LOCK_NAME ".ingot-train.lock"
/* A --ckpt-dir's checkpoints, INGOT_TRAIN_CKPT_PREFIX <step> INGOT_TRAIN_CKPT_SUFFIX
 * (train/checkpoint.h: "ckpt-00001000.bin"), and the config.json that both a
 * --ckpt-dir (the run's settings) and an hf export (the model's) hold: with
 * the lock, what ingot-pretok refuses to write a dataset beside. */
#define INGOT_TRAIN_CKPT_PREFIX "ckpt-"
#define INGOT_TRAIN_CKPT_SUFFIX ".bin"
#define INGOT_TRAIN_CONFIG_NAME "config.json"
/* The first 8 bytes of a checkpoint (train/checkpoint.h), by which
 * ingot-dump tells one given in place of a shard. */
#define INGOT_TRAIN_CKPT_MAGIC "INGOTCKP"
#define INGOT_MANIFEST_VERSION 1

enum ingot_split { INGOT_SPLIT_TRAIN = 0, INGOT_SPLIT_VAL = 1 };

enum ingot_tokenizer_type {
    INGOT_TOK_UNKNOWN = 0,
    INGOT_TOK_UNIGRAM = 1,
    INGOT_TOK_BPE = 2,
    INGOT_TOK_WORD = 3,
    INGOT_TOK_CHAR = 4,
};

/* Where a document came from: index into the manifest's input-file table and
 * the 1-based line (JSONL) or record/paragraph number inside that file. */
struct ingot_doc_prov {
    uint32_t file_index;
    uint32_t reserved;     /* 0 */
    uint64_t record;
};

/* The first bytes of the 4096-byte header; everything after `reserved_end`
 * up to header_checksum is zero (room for future fields). */
struct ingot_shard_header {
    char magic[8];              /*   0 INGOT_SHARD_MAGIC */
    uint32_t version;           /*   8 INGOT_SHARD_VERSION */
    uint32_t header_size;       /*  12 INGOT_SHARD_HEADER_SIZE */
    uint32_t endian_mark;       /*  16 INGOT_ENDIAN_MARK */
    uint32_t token_width;       /*  20 2 or 4 bytes per id */
    uint32_t vocab_size;        /*  24 ids are < vocab_size */
    int32_t bos_id;             /*  28 -1 if none */
    int32_t eos_id;             /*  32 */
    int32_t pad_id;             /*  36 */
    int32_t unk_id;             /*  40 */
    uint32_t split;             /*  44 enum ingot_split */
    uint32_t tokenizer_type;    /*  48 enum ingot_tokenizer_type */
    uint32_t flags;             /*  52 0 in v1 */
    uint64_t n_tokens;          /*  56 */
    uint64_t n_docs;            /*  64 */
    uint64_t tokens_offset;     /*  72 == header_size */
    uint64_t index_offset;      /*  80 */
    uint64_t prov_offset;       /*  88 */
    uint64_t file_size;         /*  96 */
    uint64_t tokenizer_hash;    /* 104 XXH3-64 of the tokenizer model file's bytes */
    uint64_t tokens_checksum;   /* 112 XXH3-64 of the token array bytes */
    uint64_t index_checksum;    /* 120 XXH3-64 of the document index bytes */
    uint64_t prov_checksum;     /* 128 XXH3-64 of the provenance bytes */
    uint64_t shard_seq;         /* 136 position of this shard in its split */
    uint8_t reserved[INGOT_SHARD_HEADER_SIZE - 144 - 8];
    uint64_t header_checksum;   /* 4088 XXH3-64 of header bytes [0, 4088) */
};

#ifdef __cplusplus   /* included by the SentencePiece shim and CUDA code */
#define INGOT_STATIC_ASSERT static_assert
extern "C" {
#else
#define INGOT_STATIC_ASSERT _Static_assert
#endif

INGOT_STATIC_ASSERT(sizeof(struct ingot_shard_header) == INGOT_SHARD_HEADER_SIZE,
                    "shard header must be exactly 4096 bytes");
INGOT_STATIC_ASSERT(sizeof(struct ingot_doc_prov) == 16, "provenance record is 16 bytes");

/* Largest n_tokens and n_docs a v1 shard may declare: with at most 4 bytes
 * a token and 24 bytes a document (index + provenance), every offset of the
 * layout then stays below 2^64, so no sum or product can wrap. */
#define INGOT_SHARD_MAX_COUNT (UINT64_MAX / 64)

/* Where the sections of a v1 shard lie, from its token width and counts. */
struct ingot_shard_layout {
    uint64_t tokens_offset;   /* == INGOT_SHARD_HEADER_SIZE */
    uint64_t tokens_end;      /* tokens_offset + n_tokens * token_width */
    uint64_t index_offset;    /* tokens_end rounded up to 8 */
    uint64_t prov_offset;     /* index_offset + (n_docs + 1) * 8 */
    uint64_t file_size;       /* prov_offset + n_docs * 16 */
};

/* Compute the layout; token_width must be 2 or 4 and the counts at most
 * INGOT_SHARD_MAX_COUNT, else INGOT_E_CORRUPT with a message naming name
 * and the field, followed by hint (what to do; "" for none). */
int ingot_shard_layout(const char *name, const char *hint, uint32_t token_width, uint64_t n_tokens,
                       uint64_t n_docs, struct ingot_shard_layout *out);

const char *ingot_split_name(uint32_t split);            /* "train", "val", "?" */
const char *ingot_tokenizer_type_name(uint32_t type);    /* "unigram", "bpe", ... */
/* Parse "train"/"val"; returns 0 or INGOT_E_USAGE. */
int ingot_split_parse(const char *s, uint32_t *split);
/* Parse a name from ingot_tokenizer_type_name(); 0 or INGOT_E_USAGE. */
int ingot_tokenizer_type_parse(const char *s, uint32_t *type);
/* Whether a file name looks like a checkpoint's: INGOT_TRAIN_CKPT_PREFIX ...
 * INGOT_TRAIN_CKPT_SUFFIX ("ckpt-*.bin": a save's name, or a copy's). */
int ingot_train_ckpt_like(const char *name);

#ifdef __cplusplus
}
#endif
#endif
