/* Which split a document goes to under --val-fraction: a hash of its
 * position (input index, record), so the choice depends on nothing but the
 * document's place in the corpus. The writer routes with it; the producer
 * uses it on a resume to drop documents whose split's shards already hold
 * them before they are tokenized again. */
#ifndef INGOT_PT_SPLIT_H
#define INGOT_PT_SPLIT_H

#include <stdint.h>

#include "ingot_hash.h"
#include "shard_format.h"

/* INGOT_SPLIT_VAL when the position hashes below threshold (fraction * 2^64). */
static inline uint32_t pt_split_by_hash(uint32_t file, uint64_t record, uint64_t threshold)
{
    unsigned char key[12];
    for (int i = 0; i < 4; i++)
        key[i] = (unsigned char)(file >> (8 * i));
    for (int i = 0; i < 8; i++)
        key[4 + i] = (unsigned char)(record >> (8 * i));
    return ingot_xxh3(key, sizeof(key)) < threshold ? INGOT_SPLIT_VAL : INGOT_SPLIT_TRAIN;
}

#endif
