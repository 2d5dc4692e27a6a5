/* A byte trie over the vocabulary (and over the user-defined symbols): the
 * encoder walks it one byte at a time from each start position. Children
 * of the root sit in a dense table; deeper edges in one open-addressing
 * hash keyed by (node, byte), so a step is one probe and no string compare.
 * Immutable after spe_trie_build(); shared by threads. */
#ifndef INGOT_SPM_TRIE_H
#define INGOT_SPM_TRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* An edge (node, byte) -> child, with the child's value beside it so that
 * a step of the unigram lattice walk reads one slot (the walk is bound by
 * these random reads: a separate value array doubled them). */
struct spe_trie_slot {
    uint32_t key;            /* (node << 8 | byte) + 1; 0 = empty */
    uint32_t child;
    int32_t value;           /* value[child] */
};

struct spe_trie {
    uint32_t root[256];      /* child node of the root, 0 = none */
    int32_t root_value[256]; /* value[root[c]], -1 when none */
    struct spe_trie_slot *slots;
    size_t mask;             /* slots has mask + 1 entries */
    int32_t *value;          /* per node: value, -1 = no key ends here */
    uint32_t n_nodes;
    /* The packed copy (spe_trie_pack), for long walks: one record per
     * node in depth-first order, so the nodes of a walk down the trie lie
     * close together (the hash slots of a walk are scattered over
     * megabytes; the unigram lattice waited on them). A node is the byte
     * offset of its record: int32 value, uint16 number of children, their
     * bytes, padding to 4, their uint32 offsets. Offset 0 is no node. */
    unsigned char *pack;
    uint32_t pack_root[256]; /* offset of the root's child by byte, 0 none */
    /* (A record whose value is >= 0 ends with a double: spe_pack_score.) */
};

/* bytes of memory for a table read at random over megabytes (the packed
 * trie, a thread's word cache): 2 MB-aligned and asked for on huge pages
 * when it spans one, so its TLB entries fit (a thread's cache takes 3, not
 * 1,500). Zeroed when zero is set; free() releases it; NULL when out of
 * memory. INGOT_SPE_HUGE=0 leaves huge pages out, for measurements. */
void *spe_huge_alloc(size_t bytes, bool zero);

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

/* Child of node by byte c, or 0 when there is none; *value its value (-1
 * when no key ends there). Node 0 is the root. */
static inline uint32_t spe_trie_step(const struct spe_trie *t, uint32_t node, unsigned char c,
                                     int32_t *value)
{
    if (node == 0) {
        *value = t->root_value[c];
        return t->root[c];
    }
    uint32_t key = (node << 8 | c) + 1;
    for (size_t h = spe_trie_hash(key) & t->mask;; h = (h + 1) & t->mask) {
        const struct spe_trie_slot *e = &t->slots[h];
        if (e->key == key) {
            *value = e->value;
            return e->child;
        }
        if (!e->key) {
            *value = -1;
            return 0;
        }
    }
}

/* Build t->pack from the hash trie; the record of a node whose value v is
 * >= 0 ends with score[v] (the unigram lattice reads a piece's score from
 * the record it has just loaded, not from a table elsewhere). 0 or -ENOMEM
 * (recorded). */
int spe_trie_pack(struct spe_trie *t, const double *score);

/* In the packed trie: the child of the node at offset o by byte c (its
 * offset), or 0 when there is none. */
static inline uint32_t spe_pack_next(const unsigned char *pack, uint32_t o, unsigned char c)
{
    const unsigned char *r = pack + o;
    uint32_t n;
    memcpy(&n, r + 4, 4);
    n &= 0xffff;
    const unsigned char *lab = r + 6;
    uint32_t i = 0;
    if (n >= 16) {   /* the shallow nodes: a vectorized search */
        const unsigned char *hit = memchr(lab, c, n);
        if (!hit)
            return 0;
        i = (uint32_t)(hit - lab);
    } else {
        while (i < n && lab[i] != c)
            i++;
        if (i == n)
            return 0;
    }
    uint32_t child;
    memcpy(&child, r + ((6 + n + 3) & ~3u) + 4 * i, 4);
    return child;
}

/* The score stored for the node at offset o, whose value is >= 0. */
static inline double spe_pack_score(const unsigned char *pack, uint32_t o)
{
    uint32_t n;
    memcpy(&n, pack + o + 4, 4);
    n &= 0xffff;
    double sc;
    memcpy(&sc, pack + o + ((6 + n + 3) & ~3u) + 4 * n, 8);
    return sc;
}

/* The value of the node at offset o (-1: no key ends there). */
static inline int32_t spe_pack_value(const unsigned char *pack, uint32_t o)
{
    int32_t v;
    memcpy(&v, pack + o, 4);
    return v;
}

/* Child of node by byte c, or 0 when there is none. */
static inline uint32_t spe_trie_next(const struct spe_trie *t, uint32_t node, unsigned char c)
{
    int32_t v;
    return spe_trie_step(t, node, c, &v);
}

#endif
