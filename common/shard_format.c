/* Names of the enum values in shard_format.h and the shard layout. */
#include <string.h>

#include "ingot_err.h"
#include "shard_format.h"

int ingot_train_ckpt_like(const char *name)
{
    const size_t n = strlen(name), p = strlen(INGOT_TRAIN_CKPT_PREFIX);
    const size_t s = strlen(INGOT_TRAIN_CKPT_SUFFIX);
    return n >= p + s && !strncmp(name, INGOT_TRAIN_CKPT_PREFIX, p) &&
           !strcmp(name + n - s, INGOT_TRAIN_CKPT_SUFFIX);
}

const char *ingot_split_name(uint32_t split)
{
    switch (split) {
    case INGOT_SPLIT_TRAIN: return "train";
    case INGOT_SPLIT_VAL: return "val";
    default: return "?";
    }
}

const char *ingot_tokenizer_type_name(uint32_t type)
{
    switch (type) {
    case INGOT_TOK_UNIGRAM: return "unigram";
    case INGOT_TOK_BPE: return "bpe";
    case INGOT_TOK_WORD: return "word";
    case INGOT_TOK_CHAR: return "char";
    default: return "unknown";
    }
}

int ingot_split_parse(const char *s, uint32_t *split)
{
    if (s && !strcmp(s, "train")) {
        *split = INGOT_SPLIT_TRAIN;
        return 0;
    }
    if (s && !strcmp(s, "val")) {
        *split = INGOT_SPLIT_VAL;
        return 0;
    }
    return ingot_fail(INGOT_E_USAGE, "split '%s': expected 'train' or 'val'", s ? s : "(null)");
}

int ingot_tokenizer_type_parse(const char *s, uint32_t *type)
{
    for (uint32_t t = INGOT_TOK_UNKNOWN; t <= INGOT_TOK_CHAR; t++) {
        if (s && !strcmp(s, ingot_tokenizer_type_name(t))) {
            *type = t;
            return 0;
        }
    }
    return ingot_fail(INGOT_E_USAGE, "tokenizer type '%s': expected unigram, bpe, word, char or unknown",
                      s ? s : "(null)");
}

int ingot_shard_layout(const char *name, const char *hint, uint32_t token_width, uint64_t n_tokens,
                       uint64_t n_docs, struct ingot_shard_layout *out)
{
    if (token_width != 2 && token_width != 4)
        return ingot_fail(INGOT_E_CORRUPT, "%s: field token_width: %u, must be 2 or 4%s", name,
                          token_width, hint);
    if (n_tokens > INGOT_SHARD_MAX_COUNT)
        return ingot_fail(INGOT_E_CORRUPT, "%s: field n_tokens: %llu is out of range%s", name,
                          (unsigned long long)n_tokens, hint);
    if (n_docs > INGOT_SHARD_MAX_COUNT)
        return ingot_fail(INGOT_E_CORRUPT, "%s: field n_docs: %llu is out of range%s", name,
                          (unsigned long long)n_docs, hint);
    out->tokens_offset = INGOT_SHARD_HEADER_SIZE;
    out->tokens_end = out->tokens_offset + n_tokens * token_width;
    out->index_offset = (out->tokens_end + 7) & ~(uint64_t)7;
    out->prov_offset = out->index_offset + (n_docs + 1) * 8;
    out->file_size = out->prov_offset + n_docs * sizeof(struct ingot_doc_prov);
    return 0;
}
