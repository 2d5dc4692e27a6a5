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
        return ingot_fail(-ENOTSUP, "vocabulary too large for the trie (%zu bytes)", total);
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

static size_t rec_size(uint32_t n_kids) { return ((6 + n_kids + 3) & ~(size_t)3) + 4 * n_kids; }

int spe_trie_pack(struct spe_trie *t, const double *score)
{
    const uint32_t nn = t->n_nodes;
    /* The children of every node (CSR, by a counting sort of the edges). */
    uint32_t *first = calloc((size_t)nn + 1, sizeof(*first));
    uint32_t *kid = malloc((size_t)nn * sizeof(*kid));
    unsigned char *lab = malloc(nn);
    uint32_t *off = malloc((size_t)nn * sizeof(*off));
    uint32_t *stack = malloc((size_t)nn * sizeof(*stack));
    int ret = 0;
    if (!first || !kid || !lab || !off || !stack) {
        ret = ingot_oom("the packed trie", (size_t)nn * 17);
        goto out;
    }
    for (int c = 0; c < 256; c++)
        if (t->root[c])
            first[1]++;
    for (size_t h = 0; h <= t->mask; h++)
        if (t->slots[h].key)
            first[((t->slots[h].key - 1) >> 8) + 1]++;
    for (uint32_t i = 0; i < nn; i++)
        first[i + 1] += first[i];
    uint32_t *fill = off;   /* borrowed: the next free place per node */
    memcpy(fill, first, (size_t)nn * sizeof(*fill));
    for (int c = 0; c < 256; c++)
        if (t->root[c]) {
            lab[fill[0]] = (unsigned char)c;
            kid[fill[0]++] = t->root[c];
        }
    for (size_t h = 0; h <= t->mask; h++)
        if (t->slots[h].key) {
            uint32_t parent = (t->slots[h].key - 1) >> 8;
            lab[fill[parent]] = (unsigned char)((t->slots[h].key - 1) & 0xff);
            kid[fill[parent]++] = t->slots[h].child;
        }
    /* Offsets in depth-first pre-order (a record, then its subtrees), from
     * 4 (0 means no node). */
    size_t at = 4, sp = 0;
    stack[sp++] = 0;
    while (sp) {
        uint32_t v = stack[--sp];
        if (at > UINT32_MAX - 1024) {
            ret = ingot_fail(-ENOTSUP, "vocabulary too large for the packed trie");
            goto out;
        }
        off[v] = (uint32_t)at;
        at += rec_size(first[v + 1] - first[v]) + (t->value[v] >= 0 ? 8 : 0);
        for (uint32_t k = first[v + 1]; k-- > first[v];)   /* first child on top */
            stack[sp++] = kid[k];
    }
    t->pack = spe_huge_alloc(at, true);   /* walks read it at random */
    if (!t->pack) {
        ret = ingot_oom("the packed trie", at);
        goto out;
    }
    for (uint32_t v = 0; v < nn; v++) {
        unsigned char *r = t->pack + off[v];
        uint32_t n = first[v + 1] - first[v];
        if (n > 0xffff) {   /* at most 256 children: a byte each */
            ret = ingot_fail(-ENOTSUP, "packed trie: node with %u children", n);
            goto out;
        }
        uint16_t n16 = (uint16_t)n;
        memcpy(r, &t->value[v], 4);
        memcpy(r + 4, &n16, 2);
        memcpy(r + 6, lab + first[v], n);
        for (uint32_t i = 0; i < n; i++)
            memcpy(r + ((6 + n + 3) & ~3u) + 4 * i, &off[kid[first[v] + i]], 4);
        if (t->value[v] >= 0)
            memcpy(r + rec_size(n), &score[t->value[v]], 8);
    }
    for (int c = 0; c < 256; c++)
        t->pack_root[c] = t->root[c] ? off[t->root[c]] : 0;
out:
    if (ret) {
        free(t->pack);
        t->pack = NULL;
    }
    free(first);
    free(kid);
    free(lab);
    free(off);
    free(stack);
    return ret;
}

void spe_trie_free(struct spe_trie *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t->value);
    free(t->pack);
    memset(t, 0, sizeof(*t));
}
