/* The per-thread word cache (see spm_cache.h): an open-addressing table of
 * words (XXH3-64 of the bytes, then a byte compare) whose keys and values
 * live in one arena; when the table is 3/4 full or the arena is full, both
 * are emptied at once (no eviction bookkeeping; text repeats its common
 * words soon enough to refill them). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "ingot_hash.h"
#include "spm_cache.h"

#define CACHE_SLOTS (1u << 16)
#define CACHE_ARENA ((size_t)8 << 20)
#define CACHE_MAX_WORD 256   /* longer words are rare and skip the cache */

/* A cached BPE piece: its id and length in the word. */
struct bpe_val {
    int32_t id;
    uint32_t len;
};

static int cache_init(struct spe_scratch *s)
{
    s->cache = calloc(CACHE_SLOTS, sizeof(*s->cache));
    s->arena = malloc(CACHE_ARENA);
    if (!s->cache || !s->arena) {
        spe_cache_free(s);
        return ingot_oom("the encoder's word cache", CACHE_ARENA + CACHE_SLOTS * 24);
    }
    s->cache_mask = CACHE_SLOTS - 1;
    s->arena_cap = CACHE_ARENA;
    return 0;
}

static void cache_reset(struct spe_scratch *s)
{
    memset(s->cache, 0, CACHE_SLOTS * sizeof(*s->cache));
    s->cache_used = 0;
    s->arena_len = 0;
    s->stats.cache_resets++;
}

/* The entry of word t[0, n) with hash h, or the empty slot where it goes. */
static struct spe_cache_ent *cache_find(struct spe_scratch *s, const char *t, uint32_t n,
                                        uint64_t h)
{
    for (size_t i = h & s->cache_mask;; i = (i + 1) & s->cache_mask) {
        struct spe_cache_ent *e = &s->cache[i];
        if (!e->key_len)
            return e;
        if (e->hash == h && e->key_len == n && memcmp(s->arena + e->key_off, t, n) == 0)
            return e;
    }
}

/* Store the word and its value (val_n items of size sz) in the arena. */
static void cache_put(struct spe_scratch *s, struct spe_cache_ent *e, const char *t, uint32_t n,
                      uint64_t h, const void *val, size_t val_n, size_t sz)
{
    size_t key_at = (s->arena_len + 3) & ~(size_t)3;
    size_t val_at = (key_at + n + 3) & ~(size_t)3;
    if (val_at + val_n * sz > s->arena_cap || s->cache_used + 1 > CACHE_SLOTS / 4 * 3) {
        cache_reset(s);
        e = cache_find(s, t, n, h);
        key_at = 0;
        val_at = (n + 3) & ~(size_t)3;
    }
    memcpy(s->arena + key_at, t, n);
    memcpy(s->arena + val_at, val, val_n * sz);
    s->arena_len = val_at + val_n * sz;
    *e = (struct spe_cache_ent){ h, (uint32_t)key_at, n, (uint32_t)val_at, (uint32_t)val_n };
    s->cache_used++;
}

static int bpe_word(const struct spe_model *m, struct spe_scratch *s, uint32_t off, uint32_t n)
{
    const char *t = s->norm + off;
    if (!s->cache_on || n > CACHE_MAX_WORD)
        return spe_bpe_word(m, s, t, off, n);
    uint64_t h = ingot_xxh3(t, n);
    struct spe_cache_ent *e = cache_find(s, t, n, h);
    int ret;
    if (e->key_len) {
        s->stats.cache_hits++;
        const struct bpe_val *v = (const struct bpe_val *)(s->arena + e->val_off);
        for (uint32_t i = 0, at = off; i < e->val_n; at += v[i].len, i++)
            if ((ret = spe_push_tok(s, v[i].id, at, v[i].len)))
                return ret;
        return 0;
    }
    size_t first = s->n_toks;
    if ((ret = spe_bpe_word(m, s, t, off, n)))
        return ret;
    /* At most n pieces of 8 bytes: the word's own pieces, re-packed. */
    struct bpe_val v[CACHE_MAX_WORD];
    size_t k = 0;
    for (size_t i = first; i < s->n_toks; i++)
        v[k++] = (struct bpe_val){ s->toks[i].id, s->toks[i].len };
    cache_put(s, e, t, n, h, v, k, sizeof(*v));
    return 0;
}

static int unigram_word(const struct spe_model *m, struct spe_scratch *s, uint32_t off,
                        uint32_t n, float *c)
{
    const char *t = s->norm + off;
    int ret;
    if (!s->cache_on || n > CACHE_MAX_WORD) {
        if ((ret = spe_unigram_lattice(m, s, t, n)))
            return ret;
        return spe_unigram_viterbi(m, s, s->edges, s->n_edges, off, n, c);
    }
    uint64_t h = ingot_xxh3(t, n);
    struct spe_cache_ent *e = cache_find(s, t, n, h);
    if (e->key_len) {
        s->stats.cache_hits++;
        return spe_unigram_viterbi(m, s, (const struct spe_edge *)(s->arena + e->val_off),
                                   e->val_n, off, n, c);
    }
    if ((ret = spe_unigram_lattice(m, s, t, n)))
        return ret;
    if (s->n_edges * sizeof(struct spe_edge) <= s->arena_cap / 16)
        cache_put(s, e, t, n, h, s->edges, s->n_edges, sizeof(struct spe_edge));
    return spe_unigram_viterbi(m, s, s->edges, s->n_edges, off, n, c);
}

int spe_cache_word(const struct spe_model *m, struct spe_scratch *s, uint32_t off, uint32_t n,
                   float *c)
{
    if (s->cache_on && !s->cache) {
        int ret = cache_init(s);
        if (ret)
            return ret;
    }
    /* A scratch may serve several models in turn: entries are per model. */
    if (s->cache_on && s->cache_model != m) {
        if (s->cache_used)
            cache_reset(s);
        s->cache_model = m;
    }
    if (m->p.model_type == SPE_BPE)
        return bpe_word(m, s, off, n);
    return unigram_word(m, s, off, n, c);
}

void spe_cache_free(struct spe_scratch *s)
{
    free(s->cache);
    free(s->arena);
    s->cache = NULL;
    s->arena = NULL;
}
