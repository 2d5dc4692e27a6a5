/* Building the vocabulary trie (see spm_trie.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "spm_trie.h"

static void edge_put(struct spe_trie *t, uint32_t key, uint32_t child)
{
    size_t h = spe_trie_hash(key) & t->mask;
    while (t->slots[h].key)
        h = (h + 1) & t->mask;
    t->slots[h] = (struct spe_trie_slot){ key, child, -1 };
}

int spe_trie_build(struct spe_trie *t, size_t n, const char *const *keys,
                   const uint32_t *lens, const int32_t *vals)
{
    memset(t, 0, sizeof(*t));
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += lens[i];
    /* Node ids must fit the 24 bits of the edge key. */
    if (total >= (1u << 24))
        return ingot_fail(INGOT_E_TOKENIZER, "vocabulary too large for the trie (%zu bytes)", total);
    /* At most total edges; a load of at most 2/3. */
    size_t slots = 16;
    while (slots < total + total / 2)
        slots *= 2;
    t->slots = calloc(slots, sizeof(*t->slots));
    t->value = malloc(total * sizeof(*t->value));
    if (!t->slots || !t->value) {
        spe_trie_free(t);
        return ingot_oom("the vocabulary trie", slots * sizeof(*t->slots) + total * 4);
    }
    t->mask = slots - 1;
    t->value[0] = -1;
    t->n_nodes = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t node = 0;
        for (uint32_t j = 0; j < lens[i]; j++) {
            unsigned char c = (unsigned char)keys[i][j];
            uint32_t next = spe_trie_next(t, node, c);
            if (!next) {
                next = t->n_nodes++;
                t->value[next] = -1;
                if (node == 0)
                    t->root[c] = next;
                else
                    edge_put(t, (node << 8 | c) + 1, next);
            }
            node = next;
        }
        if (node && t->value[node] < 0)
            t->value[node] = vals[i];
    }
    /* The values beside the edges, now that every key is in. */
    for (int c = 0; c < 256; c++)
        t->root_value[c] = t->root[c] ? t->value[t->root[c]] : -1;
    for (size_t h = 0; h < slots; h++)
        if (t->slots[h].key)
            t->slots[h].value = t->value[t->slots[h].child];
    return 0;
}

void spe_trie_free(struct spe_trie *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t->value);
    memset(t, 0, sizeof(*t));
}
