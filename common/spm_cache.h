/* The encoder's per-thread word cache (fast-encoder.md §6, docs/encoder.md).
 * A word is the text between two exact cuts. BPE words cache their pieces.
 * Unigram words cache their exact best path and a bound (struct
 * spe_ugbound): a hit takes the path when the bound proves the float
 * Viterbi from the carried score would pick it, else replays the Viterbi;
 * so a hit gives the very ids a miss would (the carried score decides
 * ties, E1 of the study). */
#ifndef INGOT_SPM_CACHE_H
#define INGOT_SPM_CACHE_H

#include "spm_enc.h"

#include "ingot_hash.h"

#define SPE_CACHE_MAX_WORD 256   /* longer words are rare and skip the cache */

/* The hash the word t[0, n) is cached under (0 when it skips the cache). */
static inline uint64_t spe_cache_hash(const struct spe_scratch *s, const char *t, uint32_t n)
{
    return s->cache_on && n <= SPE_CACHE_MAX_WORD ? ingot_xxh3(t, n) : 0;
}

/* Start loading the table slots of hash h: the document loop asks for the
 * next word's slots while it encodes this one (the per-thread table is
 * megabytes; a probe waited on memory). */
static inline void spe_cache_prefetch(const struct spe_model *m, const struct spe_scratch *s,
                                      uint64_t h)
{
    if (m->shared.slot)
        __builtin_prefetch(&m->shared.slot[h & m->shared.mask]);
    if (s->cache)
        __builtin_prefetch(&s->cache[h & s->cache_mask]);
}

/* Start loading the key and value of the word of hash h where its first
 * probe finds it (its slots were prefetched a word earlier; a word found
 * further on, or not cached, gets nothing). */
static inline void spe_cache_prefetch_value(const struct spe_model *m,
                                            const struct spe_scratch *s, uint64_t h)
{
    const struct spe_cache_ent *e;
    if (m->shared.slot && (e = &m->shared.slot[h & m->shared.mask])->hash == h) {
        __builtin_prefetch(m->shared.arena + e->key_off);
        return;
    }
    if (s->cache && (e = &s->cache[h & s->cache_mask])->hash == h) {
        __builtin_prefetch(s->arena + e->key_off);
        __builtin_prefetch(s->arena + spe_cache_val_off(e) + 8);
    }
}

/* Encode the word s->norm[off, off + n) into s->toks, through the cache
 * when it is on; h is spe_cache_hash() of the word. Returns 0 or -ENOMEM. */
int spe_cache_word(const struct spe_model *m, struct spe_scratch *s, uint32_t off, uint32_t n,
                   uint64_t h, float *c);
void spe_cache_free(struct spe_scratch *s);

/* Build m->shared (struct spe_shared) from m's pieces once the model is
 * otherwise loaded; nothing for a model without a cut. The environment
 * variable INGOT_SPE_SHARED=0 leaves it empty (to measure what it gives;
 * the ids are the same either way). Returns 0 or -ENOMEM. */
int spe_shared_build(struct spe_model *m);
void spe_shared_free(struct spe_shared *t);

#endif
