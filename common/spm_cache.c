/* The per-thread word cache (see spm_cache.h): an open-addressing table of
 * words (XXH3-64 of the bytes, then a byte compare) whose keys and values
 * live in one arena; a word is stored at its second sighting (the
 * doorkeeper below); when the table is 3/4 full or the arena is full, both
 * are emptied at once (no eviction bookkeeping; text repeats its common
 * words soon enough to refill them). About 12 MB per thread at most (3 MB
 * table, 8 MB arena, 1 MB doorkeeper), touched as it fills. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "ingot_hash.h"
#include "spm_cache.h"

/* 3 MB of slots and 8 MB of arena per thread: twice that hit 84.5% of the
 * words of the 40 MB bench corpus instead of 82.5%, at the same speed on
 * one thread and 5-9% slower on two (the tables are random reads, and the
 * threads share the last-level cache). */
#define CACHE_LOG2 17
#define CACHE_ARENA_PER_SLOT 64

/* The slots (log2) of a per-thread table: CACHE_LOG2, or
 * INGOT_SPE_CACHE_LOG2 (10-22) from the environment, to measure smaller
 * tables on many cores (the arena is 64 bytes per slot). */
static unsigned cache_log2(void)
{
    const char *e = getenv("INGOT_SPE_CACHE_LOG2");
    long v = e ? strtol(e, NULL, 10) : CACHE_LOG2;
    return v >= 10 && v <= 22 ? (unsigned)v : CACHE_LOG2;
}

/* A cached BPE piece: its id and length in the word. */
struct bpe_val {
    int32_t id;
    uint32_t len;
};

/* The doorkeeper: a word enters the cache at its second sighting. Most
 * distinct words of real text occur once (72% of 594k in the 40 MB bench
 * corpus); stored, they filled the cache, whose resets then dropped the
 * frequent words too. A bit per hash: a clash only lets a word in early. */
#define DOOR_LOG2 23
#define DOOR_MAX ((size_t)1 << (DOOR_LOG2 - 3))   /* cleared at 1/8 full */

static bool door_pass(struct spe_scratch *s, uint64_t h)
{
    uint64_t i = h >> (64 - DOOR_LOG2), bit = 1ull << (i & 63);
    if (s->door[i >> 6] & bit)
        return true;
    if (s->door_n++ == DOOR_MAX) {
        memset(s->door, 0, ((size_t)1 << DOOR_LOG2) / 8);
        s->door_n = 1;
    }
    s->door[i >> 6] |= bit;
    return false;
}

static int cache_init(struct spe_scratch *s)
{
    size_t slots = (size_t)1 << cache_log2(), arena = slots * CACHE_ARENA_PER_SLOT;
    s->cache = calloc(slots, sizeof(*s->cache));
    s->arena = malloc(arena);
    s->door = calloc(((size_t)1 << DOOR_LOG2) / 64, sizeof(*s->door));
    if (!s->cache || !s->arena || !s->door) {
        spe_cache_free(s);
        return ingot_oom("the encoder's word cache", arena + slots * sizeof(*s->cache) +
                         ((size_t)1 << DOOR_LOG2) / 8);
    }
    s->cache_mask = slots - 1;
    s->arena_cap = arena;
    return 0;
}

static void cache_reset(struct spe_scratch *s)
{
    memset(s->cache, 0, (s->cache_mask + 1) * sizeof(*s->cache));
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
    size_t key_at = (s->arena_len + 7) & ~(size_t)7;
    size_t val_at = (key_at + n + 7) & ~(size_t)7;
    if (val_at + val_n * sz > s->arena_cap || s->cache_used + 1 > (s->cache_mask + 1) / 4 * 3) {
        cache_reset(s);
        e = cache_find(s, t, n, h);
        key_at = 0;
        val_at = (n + 7) & ~(size_t)7;
    }
    memcpy(s->arena + key_at, t, n);
    memcpy(s->arena + val_at, val, val_n * sz);
    s->arena_len = val_at + val_n * sz;
    *e = (struct spe_cache_ent){ h, (uint32_t)key_at, n, (uint32_t)val_at, (uint32_t)val_n };
    s->cache_used++;
}

/* The shared table's entry of word t[0, n) with hash h, or NULL. */
static const struct spe_cache_ent *shared_find(const struct spe_shared *t, const char *w,
                                               uint32_t n, uint64_t h)
{
    if (!t->slot)
        return NULL;
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const struct spe_cache_ent *e = &t->slot[i];
        if (!e->key_len)
            return NULL;
        if (e->hash == h && e->key_len == n && memcmp(t->arena + e->key_off, w, n) == 0)
            return e;
    }
}

/* Append a cached BPE word's pieces (from either table). */
static int bpe_emit(struct spe_scratch *s, const unsigned char *val, uint32_t val_n, uint32_t off)
{
    const struct bpe_val *v = (const struct bpe_val *)val;
    int ret;
    for (uint32_t i = 0, at = off; i < val_n; at += v[i].len, i++)
        if ((ret = spe_push_tok(s, v[i].id, at, v[i].len)))
            return ret;
    return 0;
}

static int bpe_word(const struct spe_model *m, struct spe_scratch *s, uint32_t off, uint32_t n,
                    uint64_t h)
{
    const char *t = s->norm + off;
    if (!s->cache_on || n > SPE_CACHE_MAX_WORD)
        return spe_bpe_word(m, s, t, off, n);
    const struct spe_cache_ent *se = shared_find(&m->shared, t, n, h);
    if (se) {
        s->stats.cache_hits++;
        s->stats.shared_hits++;
        return bpe_emit(s, m->shared.arena + se->val_off, se->val_n, off);
    }
    struct spe_cache_ent *e = cache_find(s, t, n, h);
    int ret;
    if (e->key_len) {
        s->stats.cache_hits++;
        return bpe_emit(s, s->arena + e->val_off, e->val_n, off);
    }
    size_t first = s->n_toks;
    if ((ret = spe_bpe_word(m, s, t, off, n)) || !door_pass(s, h))
        return ret;
    /* At most n pieces of 8 bytes: the word's own pieces, re-packed. */
    struct bpe_val v[SPE_CACHE_MAX_WORD];
    size_t k = 0;
    for (size_t i = first; i < s->n_toks; i++)
        v[k++] = (struct bpe_val){ s->toks[i].id, s->toks[i].len };
    cache_put(s, e, t, n, h, v, k, sizeof(*v));
    return 0;
}

/* A cached unigram word: its stage-2 bound and its best path. 8-aligned.
 * The lattice is not kept: a replay (the bound does not hold: a tie, or a
 * carried score too large) walks the trie again. Replays are rare (0-0.4%
 * of hits on real text) and the lattice took ten times the path's bytes,
 * so the cache held fewer words. */
struct ug_val {
    struct spe_ugbound b;
    uint32_t n_path, pad;
    /* struct spe_edge path[n_path]; */
};

static const struct spe_edge *ug_path(const struct ug_val *v)
{
    return (const struct spe_edge *)(v + 1);
}

/* Do the pieces s->toks[first, n_toks) and the score c_out, from the
 * Viterbi, equal what the path p gives from c_in? */
static bool path_agrees(const struct spe_model *m, const struct spe_scratch *s, size_t first,
                        const struct spe_edge *p, size_t n_path, uint32_t off, float c_in,
                        float c_out)
{
    if (s->n_toks - first != n_path)
        return false;
    float here = c_in;
    for (size_t i = 0; i < n_path; i++) {
        const struct spe_tok *t = &s->toks[first + i];
        int32_t id = p[i].id;
        if (id >= 0) {
            here = (float)(m->uscore[id] + (double)here);
        } else {
            here = m->unk_score + here;
            id = m->unk_id;
        }
        if (t->id != id || t->off != off + p[i].start || t->len != p[i].end - p[i].start)
            return false;
    }
    return memcmp(&here, &c_out, sizeof(here)) == 0;
}

/* The Viterbi over the lattice e; with a path to check (p non-NULL, its
 * bound holding at *c), count the check and whether the two agree. */
static int viterbi_checked(const struct spe_model *m, struct spe_scratch *s,
                           const struct spe_edge *e, size_t n_edges, uint32_t off, uint32_t n,
                           float *c, const struct spe_edge *p, size_t n_path)
{
    size_t first = s->n_toks;
    float c_in = *c;
    int ret = spe_unigram_viterbi(m, s, e, n_edges, off, n, c);
    if (ret || !p)
        return ret;
    s->stats.bound_checks++;
    if (!path_agrees(m, s, first, p, n_path, off, c_in, *c))
        s->stats.bound_fails++;
    return 0;
}

/* A cached unigram word v (from either table) at s->norm[off, off + n):
 * its path when the bound holds at the carried score, else the Viterbi. */
static int ug_hit(const struct spe_model *m, struct spe_scratch *s, const struct ug_val *v,
                  uint32_t off, uint32_t n, float *c)
{
    const char *t = s->norm + off;
    const struct spe_edge *path = ug_path(v);
    int ret;
    s->stats.cache_hits++;
    if (spe_ugbound_holds(&v->b, *c)) {
        s->stats.path_hits++;
        if (s->verify) {
            /* The Viterbi first, then (when they agree) its pieces
             * dropped and the path's emitted, so the path code runs. */
            size_t first = s->n_toks, fails = s->stats.bound_fails;
            float c_in = *c;
            if ((ret = spe_unigram_lattice(m, s, t, n)))
                return ret;
            ret = viterbi_checked(m, s, s->edges, s->n_edges, off, n, c, path, v->n_path);
            if (ret || s->stats.bound_fails != fails)
                return ret;
            s->n_toks = first;
            *c = c_in;
        }
        return spe_unigram_emit_path(m, s, path, v->n_path, off, c);
    }
    s->stats.replays++;
    if ((ret = spe_unigram_lattice(m, s, t, n)))
        return ret;
    return spe_unigram_viterbi(m, s, s->edges, s->n_edges, off, n, c);
}

static int unigram_word(const struct spe_model *m, struct spe_scratch *s, uint32_t off,
                        uint32_t n, uint64_t h, float *c)
{
    const char *t = s->norm + off;
    int ret;
    if (!s->cache_on || n > SPE_CACHE_MAX_WORD) {
        if ((ret = spe_unigram_lattice(m, s, t, n)))
            return ret;
        return spe_unigram_viterbi(m, s, s->edges, s->n_edges, off, n, c);
    }
    const struct spe_cache_ent *se = shared_find(&m->shared, t, n, h);
    if (se) {
        s->stats.shared_hits++;
        return ug_hit(m, s, (const struct ug_val *)(m->shared.arena + se->val_off), off, n, c);
    }
    struct spe_cache_ent *e = cache_find(s, t, n, h);
    if (e->key_len)
        return ug_hit(m, s, (const struct ug_val *)(s->arena + e->val_off), off, n, c);
    if ((ret = spe_unigram_lattice(m, s, t, n)))
        return ret;
    if (!door_pass(s, h))   /* first sighting: the Viterbi, nothing stored */
        return spe_unigram_viterbi(m, s, s->edges, s->n_edges, off, n, c);
    struct spe_ugbound b;
    if ((ret = spe_unigram_bound(s, n, &b)))
        return ret;
    /* Where the bound holds the path is the Viterbi's (checked in verify
     * mode); else the Viterbi runs. */
    bool holds = spe_ugbound_holds(&b, *c);
    if (holds && !s->verify)
        ret = spe_unigram_emit_path(m, s, s->path, s->n_path, off, c);
    else
        ret = viterbi_checked(m, s, s->edges, s->n_edges, off, n, c, holds ? s->path : NULL,
                              s->n_path);
    if (ret)
        return ret;
    size_t bytes = sizeof(struct ug_val) + s->n_path * sizeof(struct spe_edge);
    if (bytes > s->val_cap &&
        (ret = spe_grow(&s->val, &s->val_cap, bytes, 1, "the cache value")))
        return ret;
    struct ug_val *v = (struct ug_val *)s->val;
    *v = (struct ug_val){ b, (uint32_t)s->n_path, 0 };
    memcpy(v + 1, s->path, s->n_path * sizeof(struct spe_edge));
    cache_put(s, e, t, n, h, v, bytes, 1);
    return 0;
}

/* Is piece pc one whole word under m's cut (a word the document loop can
 * hand to the cache as it is)? Prefix cuts: it starts with ▁; suffix cuts:
 * it ends with ▁; and the cut does not split it. */
static bool is_word_piece(const struct spe_model *m, const struct spe_piece *pc)
{
    if ((pc->type != SPE_NORMAL && pc->type != SPE_USER_DEFINED) || pc->len < 3 ||
        pc->len > SPE_CACHE_MAX_WORD)
        return false;
    bool suffix = m->cut == SPE_CUT_SUF_ALL || m->cut == SPE_CUT_SUF_RUN;
    const char *ws = suffix ? pc->s + pc->len - 3 : pc->s;
    return memcmp(ws, SPE_WS, 3) == 0 && spe_word_end(m->cut, pc->s, pc->len, 0) == pc->len;
}

/* Append key w[0, n) and the value the per-thread cache would store for it
 * to the shared arena; *e describes them. */
static int shared_add(const struct spe_model *m, struct spe_shared *t, struct spe_scratch *s,
                      const char *w, uint32_t n, uint64_t h, struct spe_cache_ent *e)
{
    int ret;
    size_t val_n, sz;
    const void *val;
    struct bpe_val bv[SPE_CACHE_MAX_WORD];
    if (m->p.model_type == SPE_BPE) {
        s->n_toks = 0;
        if ((ret = spe_bpe_word(m, s, w, 0, n)))
            return ret;
        for (size_t i = 0; i < s->n_toks; i++)
            bv[i] = (struct bpe_val){ s->toks[i].id, s->toks[i].len };
        val = bv;
        val_n = s->n_toks;
        sz = sizeof(*bv);
    } else {
        struct spe_ugbound b;
        if ((ret = spe_unigram_lattice(m, s, w, n)) || (ret = spe_unigram_bound(s, n, &b)))
            return ret;
        size_t bytes = sizeof(struct ug_val) + s->n_path * sizeof(struct spe_edge);
        if (bytes > s->val_cap &&
            (ret = spe_grow(&s->val, &s->val_cap, bytes, 1, "the cache value")))
            return ret;
        struct ug_val *v = (struct ug_val *)s->val;
        *v = (struct ug_val){ b, (uint32_t)s->n_path, 0 };
        memcpy(v + 1, s->path, s->n_path * sizeof(struct spe_edge));
        val = v;
        val_n = bytes;
        sz = 1;
    }
    size_t key_at = (t->arena_len + 7) & ~(size_t)7;
    size_t val_at = (key_at + n + 7) & ~(size_t)7;
    size_t need = val_at + val_n * sz;
    if (need > t->arena_cap &&
        (ret = spe_grow(&t->arena, &t->arena_cap, need, 1, "the shared word table")))
        return ret;
    memcpy(t->arena + key_at, w, n);
    memcpy(t->arena + val_at, val, val_n * sz);
    t->arena_len = need;
    *e = (struct spe_cache_ent){ h, (uint32_t)key_at, n, (uint32_t)val_at, (uint32_t)val_n };
    return 0;
}

/* How many words the shared table takes: the best-scoring whole-word
 * pieces (a piece's score is its log-frequency in unigram models and falls
 * with its merge rank in BPE ones). On the 32k unigram model the best 4096
 * of its 15,953 whole-word pieces are 61% of the words of English
 * documentation, all of them 66%; 4096 words take about 400 KB, which stay
 * in a core's L2, where all of them (2.5 MB) missed more often than they
 * saved (cachegrind, 2 MB last-level cache). INGOT_SPE_SHARED=N overrides
 * (0: no table). */
#define SHARED_WORDS 4096

static const struct spe_proto *cmp_proto;   /* for cmp_score (qsort has no context) */

static int cmp_score(const void *a, const void *b)
{
    float x = cmp_proto->pieces[*(const uint32_t *)a].score;
    float y = cmp_proto->pieces[*(const uint32_t *)b].score;
    if (x != y)
        return x > y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

int spe_shared_build(struct spe_model *m)
{
    struct spe_shared *t = &m->shared;
    const char *env = getenv("INGOT_SPE_SHARED");
    long want = env ? strtol(env, NULL, 10) : SHARED_WORDS;
    if (m->cut == SPE_CUT_NONE || want <= 0)
        return 0;
    const struct spe_proto *p = &m->p;
    uint32_t *cand = malloc(p->n_pieces * sizeof(*cand));
    if (!cand)
        return ingot_oom("the shared word table", p->n_pieces * sizeof(*cand));
    size_t n_words = 0;
    for (uint32_t i = 0; i < p->n_pieces; i++)
        if (is_word_piece(m, &p->pieces[i]))
            cand[n_words++] = i;
    if (n_words > (size_t)want) {
        cmp_proto = p;
        qsort(cand, n_words, sizeof(*cand), cmp_score);
        n_words = (size_t)want;
    }
    struct spe_scratch *s = NULL;
    int ret = 0;
    if (!n_words || (ret = spe_scratch_new(false, &s)))
        goto out;
    size_t slots = 64;
    while (slots < 2 * n_words)   /* at most half full: probes stay short */
        slots *= 2;
    t->slot = calloc(slots, sizeof(*t->slot));
    if (!t->slot) {
        ret = ingot_oom("the shared word table", slots * sizeof(*t->slot));
        goto out;
    }
    t->mask = slots - 1;
    for (size_t j = 0; j < n_words; j++) {
        const struct spe_piece *pc = &p->pieces[cand[j]];
        uint64_t h = ingot_xxh3(pc->s, pc->len);
        size_t k = h & t->mask;
        while (t->slot[k].key_len)   /* piece strings are distinct (load_check) */
            k = (k + 1) & t->mask;
        if ((ret = shared_add(m, t, s, pc->s, pc->len, h, &t->slot[k])))
            goto out;
        t->n++;
    }
out:
    free(cand);
    spe_scratch_free(s);
    if (ret)
        spe_shared_free(t);
    return ret;
}

void spe_shared_free(struct spe_shared *t)
{
    free(t->slot);
    free(t->arena);
    *t = (struct spe_shared){ 0 };
}

int spe_cache_word(const struct spe_model *m, struct spe_scratch *s, uint32_t off, uint32_t n,
                   uint64_t h, float *c)
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
        return bpe_word(m, s, off, n, h);
    return unigram_word(m, s, off, n, h, c);
}

void spe_cache_free(struct spe_scratch *s)
{
    free(s->cache);
    free(s->arena);
    free(s->door);
    s->door = NULL;
    s->cache = NULL;
    s->arena = NULL;
}
