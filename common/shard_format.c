/* Names of the enum values in shard_format.h. */
#include <string.h>

#include "ingot_err.h"
#include "shard_format.h"

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
