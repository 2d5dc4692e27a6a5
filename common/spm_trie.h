/* A byte trie over the vocabulary (and over the user-defined symbols): the
 * encoder walks it one byte at a time from each start position. Children
 * of the root sit in a dense table; deeper edges in one open-addressing
 * hash keyed by (node, byte), so a step is one probe and no string compare.
 * Immutable after spe_trie_build(); shared by threads. */
#ifndef INGOT_SPM_TRIE_H
#define INGOT_SPM_TRIE_H

#include <stddef.h>
#include <stdint.h>

struct spe_trie {
    uint32_t root[256];      /* child node of the root, 0 = none */
    uint64_t *edges;         /* (node << 8 | byte) + 1 << 32 | child; 0 = empty */
    size_t mask;             /* edges has mask + 1 slots */
    int32_t *value;          /* per node: value, -1 = no key ends here */
    uint32_t n_nodes;
};

/* Build from n keys (keys[i], lens[i] bytes, value vals[i] >= 0). A key
 * given twice keeps the first value. Returns 0 or -ENOMEM (recorded). */
int spe_trie_build(struct spe_trie *t, size_t n, const char *const *keys,
                   const uint32_t *lens, const int32_t *vals);
void spe_trie_free(struct spe_trie *t);   /* accepts a zeroed struct */

static inline uint64_t spe_trie_hash(uint64_t k)
{
    k *= 0x9E3779B97F4A7C15ull;
    return k ^ (k >> 29);
}

/* Child of node by byte c, or 0 when there is none. Node 0 is the root. */
static inline uint32_t spe_trie_next(const struct spe_trie *t, uint32_t node, unsigned char c)
{
    if (node == 0)
        return t->root[c];
    uint64_t key = ((uint64_t)node << 8 | c) + 1;
    for (size_t h = spe_trie_hash(key) & t->mask;; h = (h + 1) & t->mask) {
        uint64_t e = t->edges[h];
        if (!e)
            return 0;
        if (e >> 32 == key)
            return (uint32_t)e;
    }
}

#endif
