/* The per-thread word cache (see spm_cache.h): an open-addressing table of
 * words (XXH3-64 of the bytes, then a byte compare) whose keys and values
 * live in one arena; a word is stored at its second sighting (the
 * doorkeeper below); when the table is 3/4 full or the arena is full, both
 * are emptied at once (no eviction bookkeeping; text repeats its common
 * words soon enough to refill them). About 6 MB per thread at most (2 MB
 * table, 4 MB arena, 128 KB doorkeeper), touched as it fills. Entries are
 * small (16-byte slots; a piece in 4 bytes; a unigram bound in 8), so that
 * a hit reads two cache lines, and many threads' caches crowd the
 * last-level cache less. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "ingot_hash.h"
#include "spm_cache.h"

/* 2^17 slots per thread: twice that hit 84.5% of the words of the 40 MB
 * bench corpus instead of 82.5%, at the same speed on one thread and 5-9%
 * slower on two (the tables are random reads, and the threads share the
 * last-level cache). 32 bytes of arena per slot: a word and its value take
 * 24-32 bytes on average, so the table fills (3/4) before the arena. */
#define CACHE_LOG2 17
#define CACHE_ARENA_PER_SLOT 32

/* The slots (log2) of a per-thread table: CACHE_LOG2, or
 * INGOT_SPE_CACHE_LOG2 (10-22) from the environment, to measure smaller
 * tables on many cores (the arena is CACHE_ARENA_PER_SLOT bytes a slot). */
static unsigned cache_log2(void)
{
    const char *e = getenv("INGOT_SPE_CACHE_LOG2");
    long v = e ? strtol(e, NULL, 10) : CACHE_LOG2;
    return v >= 10 && v <= 22 ? (unsigned)v : CACHE_LOG2;
}

/* A cached piece, 4 bytes: its id in the low 24 bits (load_check takes
 * fewer than 2^24 pieces; CP_UNK: the unknown character of a unigram
 * lattice) and its length - 1 in the high 8 (a cached word has at most 256
 * bytes). The pieces of a word are consecutive, so their starts are not
 * stored. */
#define CP_UNK 0xffffffu

static inline uint32_t cp_make(int32_t id, uint32_t len)
{
    return (id < 0 ? CP_UNK : (uint32_t)id) | (len - 1) << 24;
}

static inline int32_t cp_id(uint32_t p)
{
    return (p & CP_UNK) == CP_UNK ? SPE_EDGE_UNK : (int32_t)(p & CP_UNK);
}

static inline uint32_t cp_len(uint32_t p) { return (p >> 24) + 1; }

/* The doorkeeper: a word enters the cache at its second sighting. Most
 * distinct words of real text occur once (72% of 594k in the 40 MB bench
 * corpus); stored, they filled the cache, whose resets then dropped the
 * frequent words too. A bit per hash: a clash only lets a word in early.
 * 2^20 bits (128 KB, in L2), cleared every 131k first sightings: against
 * 2^23 (1 MB), 16% fewer last-level misses (cachegrind, 2 MB LL), the same
 * instructions, and 81.6% hits instead of 81.1% on the generated corpus;
 * 2^18 missed 8% less again but spent 2% more instructions on words that
 * came in on a clash. */
#define DOOR_LOG2 20
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
    s->cache = spe_huge_alloc(slots * sizeof(*s->cache), true);
    s->arena = spe_huge_alloc(arena, false);
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

/* Store the word and its value (bytes of it, val_n pieces) in the arena. */
static void cache_put(struct spe_scratch *s, struct spe_cache_ent *e, const char *t, uint32_t n,
                      uint64_t h, const void *val, size_t bytes, uint32_t val_n)
{
    size_t key_at = (s->arena_len + 7) & ~(size_t)7;
    size_t val_at = (key_at + n + 7) & ~(size_t)7;
    if (val_at + bytes > s->arena_cap || s->cache_used + 1 > (s->cache_mask + 1) / 4 * 3) {
        cache_reset(s);
        e = cache_find(s, t, n, h);
        key_at = 0;
        val_at = (n + 7) & ~(size_t)7;
    }
    memcpy(s->arena + key_at, t, n);
    memcpy(s->arena + val_at, val, bytes);
    s->arena_len = val_at + bytes;
    *e = (struct spe_cache_ent){ h, (uint32_t)key_at, (uint16_t)n, (uint16_t)val_n };
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
    const uint32_t *v = (const uint32_t *)val;
    int ret;
    for (uint32_t i = 0, at = off; i < val_n; at += cp_len(v[i]), i++)
        if ((ret = spe_push_tok(s, cp_id(v[i]), at, cp_len(v[i]))))
            return ret;
    return 0;
}

/* The pieces s->toks[first, n_toks) packed into v; their number. */
static uint32_t bpe_pack(const struct spe_scratch *s, size_t first, uint32_t *v)
{
    uint32_t k = 0;
    for (size_t i = first; i < s->n_toks; i++)
        v[k++] = cp_make(s->toks[i].id, s->toks[i].len);
    return k;
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
        return bpe_emit(s, m->shared.arena + spe_cache_val_off(se), se->val_n, off);
    }
    struct spe_cache_ent *e = cache_find(s, t, n, h);
    int ret;
    if (e->key_len) {
        s->stats.cache_hits++;
        return bpe_emit(s, s->arena + spe_cache_val_off(e), e->val_n, off);
    }
    size_t first = s->n_toks;
    if ((ret = spe_bpe_word(m, s, t, off, n)) || !door_pass(s, h))
        return ret;
    /* At most n pieces: the word's own, packed. */
    uint32_t v[SPE_CACHE_MAX_WORD];
    uint32_t k = bpe_pack(s, first, v);
    cache_put(s, e, t, n, h, v, k * sizeof(*v), k);
    return 0;
}

/* A cached unigram word: its stage-2 bound in two floats, then its best
 * path as packed pieces (cp_make). The floats round outwards (the gap
 * down, a up), so the bound they give holds only where the exact one does;
 * k is (steps + 1) * 2^-23 * 1.01 with the word's bytes as steps, as
 * spe_unigram_bound sets it, so it is not stored. The lattice is not kept:
 * a replay (the bound does not hold: a tie, or a carried score too large)
 * walks the trie again. Replays are rare (0-0.4% of hits on real text) and
 * the lattice took ten times the path's bytes. */
struct ug_val {
    float gap, a;
    /* uint32_t path[val_n]; */
};

static struct ug_val ug_pack(const struct spe_ugbound *b)
{
    float g = (float)b->gap, a = (float)b->a;
    if ((double)g > b->gap)
        g = nextafterf(g, -INFINITY);
    if ((double)a < b->a)
        a = nextafterf(a, INFINITY);
    return (struct ug_val){ g, a };
}

static struct spe_ugbound ug_bound(const struct ug_val *v, uint32_t n)
{
    return (struct spe_ugbound){ v->gap, v->a, (double)(n + 1) * 0x1p-23 * 1.01 };
}

static const uint32_t *ug_path(const struct ug_val *v) { return (const uint32_t *)(v + 1); }

/* The value of a word of n bytes from its bound and s->path, into s->val;
 * its size in bytes. 0 or -ENOMEM. */
static int ug_value(struct spe_scratch *s, const struct spe_ugbound *b, size_t *bytes)
{
    *bytes = sizeof(struct ug_val) + s->n_path * sizeof(uint32_t);
    int ret;
    if (*bytes > s->val_cap &&
        (ret = spe_grow(&s->val, &s->val_cap, *bytes, 1, "the cache value")))
        return ret;
    struct ug_val *v = (struct ug_val *)s->val;
    *v = ug_pack(b);
    uint32_t *p = (uint32_t *)(v + 1);
    for (size_t i = 0; i < s->n_path; i++)
        p[i] = cp_make(s->path[i].id, s->path[i].end - s->path[i].start);
    return 0;
}

/* One piece of a packed path through the Viterbi's float operations: a
 * piece adds its double score to the float carried and rounds to float; the
 * unknown character adds the float unk score. Returns the piece's id. */
static inline int32_t ug_step(const struct spe_model *m, uint32_t piece, float *here)
{
    int32_t id = cp_id(piece);
    if (id >= 0) {
        *here = (float)(m->uscore[id] + (double)*here);
        return id;
    }
    *here = m->unk_score + *here;
    return m->unk_id;
}

/* Append the packed path p[0, n_path) of a word at offset off to s->toks
 * and carry *c through it with the Viterbi's float operations (a piece: its
 * double score plus the float carried, rounded to float; the unknown
 * character: float plus float), so *c ends as the Viterbi would leave it. */
static int ug_emit(const struct spe_model *m, struct spe_scratch *s, const uint32_t *p,
                   size_t n_path, uint32_t off, float *c)
{
    float here = *c;
    for (size_t i = 0; i < n_path; i++) {
        int32_t id = ug_step(m, p[i], &here);
        int ret = spe_push_tok(s, id, off, cp_len(p[i]));
        if (ret)
            return ret;
        off += cp_len(p[i]);
    }
    *c = here;
    return 0;
}

/* Do the pieces s->toks[first, n_toks) and the score c_out, from the
 * Viterbi, equal what the packed path p gives from c_in? */
static bool path_agrees(const struct spe_model *m, const struct spe_scratch *s, size_t first,
                        const uint32_t *p, size_t n_path, uint32_t off, float c_in, float c_out)
{
    if (s->n_toks - first != n_path)
        return false;
    float here = c_in;
    for (size_t i = 0; i < n_path; i++) {
        const struct spe_tok *t = &s->toks[first + i];
        int32_t id = ug_step(m, p[i], &here);
        if (t->id != id || t->off != off || t->len != cp_len(p[i]))
            return false;
        off += cp_len(p[i]);
    }
    return memcmp(&here, &c_out, sizeof(here)) == 0;
}

/* The Viterbi over the word's lattice; with a path to check (p non-NULL,
 * its bound holding at *c), count the check and whether the two agree. */
static int viterbi_checked(const struct spe_model *m, struct spe_scratch *s, uint32_t off,
                           uint32_t n, float *c, const uint32_t *p, size_t n_path)
{
    size_t first = s->n_toks;
    float c_in = *c;
    int ret = spe_unigram_viterbi(m, s, off, n, c);
    if (ret || !p)
        return ret;
    s->stats.bound_checks++;
    if (!path_agrees(m, s, first, p, n_path, off, c_in, *c))
        s->stats.bound_fails++;
    return 0;
}

/* A cached unigram word v with n_path steps (from either table) at
 * s->norm[off, off + n): its path when the bound holds at the carried
 * score, else the Viterbi. */
static int ug_hit(const struct spe_model *m, struct spe_scratch *s, const struct ug_val *v,
                  uint32_t n_path, uint32_t off, uint32_t n, float *c)
{
    const char *t = s->norm + off;
    const uint32_t *path = ug_path(v);
    struct spe_ugbound b = ug_bound(v, n);
    int ret;
    s->stats.cache_hits++;
    if (spe_ugbound_holds(&b, *c)) {
        s->stats.path_hits++;
        if (s->verify) {
            /* The Viterbi first, then (when they agree) its pieces
             * dropped and the path's emitted, so the path code runs. */
            size_t first = s->n_toks, fails = s->stats.bound_fails;
            float c_in = *c;
            if ((ret = spe_unigram_lattice(m, s, t, n)))
                return ret;
            ret = viterbi_checked(m, s, off, n, c, path, n_path);
            if (ret || s->stats.bound_fails != fails)
                return ret;
            s->n_toks = first;
            *c = c_in;
        }
        return ug_emit(m, s, path, n_path, off, c);
    }
    s->stats.replays++;
    if ((ret = spe_unigram_lattice(m, s, t, n)))
        return ret;
    return spe_unigram_viterbi(m, s, off, n, c);
}

static int unigram_word(const struct spe_model *m, struct spe_scratch *s, uint32_t off,
                        uint32_t n, uint64_t h, float *c)
{
    const char *t = s->norm + off;
    int ret;
    if (!s->cache_on || n > SPE_CACHE_MAX_WORD) {
        if ((ret = spe_unigram_lattice(m, s, t, n)))
            return ret;
        return spe_unigram_viterbi(m, s, off, n, c);
    }
    const struct spe_cache_ent *se = shared_find(&m->shared, t, n, h);
    if (se) {
        s->stats.shared_hits++;
        return ug_hit(m, s, (const struct ug_val *)(m->shared.arena + spe_cache_val_off(se)),
                      se->val_n, off, n, c);
    }
    struct spe_cache_ent *e = cache_find(s, t, n, h);
    if (e->key_len)
        return ug_hit(m, s, (const struct ug_val *)(s->arena + spe_cache_val_off(e)), e->val_n,
                      off, n, c);
    if ((ret = spe_unigram_lattice(m, s, t, n)))
        return ret;
    if (!door_pass(s, h))   /* first sighting: the Viterbi, nothing stored */
        return spe_unigram_viterbi(m, s, off, n, c);
    struct spe_ugbound b;
    size_t bytes;
    if ((ret = spe_unigram_bound(s, n, &b)) || (ret = ug_value(s, &b, &bytes)))
        return ret;
    /* Where the stored (rounded) bound holds, the path is the Viterbi's
     * (checked in verify mode); else the Viterbi runs. */
    const struct ug_val *v = (const struct ug_val *)s->val;
    struct spe_ugbound stored = ug_bound(v, n);
    bool holds = spe_ugbound_holds(&stored, *c);
    if (holds && !s->verify)
        ret = ug_emit(m, s, ug_path(v), s->n_path, off, c);
    else
        ret = viterbi_checked(m, s, off, n, c, holds ? ug_path(v) : NULL,
                              s->n_path);
    if (ret)
        return ret;
    cache_put(s, e, t, n, h, v, bytes, (uint32_t)s->n_path);
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
    size_t bytes;
    uint32_t val_n;
    const void *val;
    uint32_t bv[SPE_CACHE_MAX_WORD];
    if (m->p.model_type == SPE_BPE) {
        s->n_toks = 0;
        if ((ret = spe_bpe_word(m, s, w, 0, n)))
            return ret;
        val_n = bpe_pack(s, 0, bv);
        val = bv;
        bytes = val_n * sizeof(*bv);
    } else {
        struct spe_ugbound b;
        if ((ret = spe_unigram_lattice(m, s, w, n)) || (ret = spe_unigram_bound(s, n, &b)) ||
            (ret = ug_value(s, &b, &bytes)))
            return ret;
        val = s->val;
        val_n = (uint32_t)s->n_path;
    }
    size_t key_at = (t->arena_len + 7) & ~(size_t)7;
    size_t val_at = (key_at + n + 7) & ~(size_t)7;
    size_t need = val_at + bytes;
    if (need > t->arena_cap &&
        (ret = spe_grow(&t->arena, &t->arena_cap, need, 1, "the shared word table")))
        return ret;
    memcpy(t->arena + key_at, w, n);
    memcpy(t->arena + val_at, val, bytes);
    t->arena_len = need;
    *e = (struct spe_cache_ent){ h, (uint32_t)key_at, (uint16_t)n, (uint16_t)val_n };
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

/* A candidate piece and its score, sorted best first (ties: lower id), the
 * score carried along so that the comparison needs no global (spe_load may
 * run on several threads at once). */
struct cand {
    float score;
    uint32_t id;
};

static int cmp_score(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int spe_shared_build(struct spe_model *m)
{
    struct spe_shared *t = &m->shared;
    const char *env = getenv("INGOT_SPE_SHARED");
    long want = env ? strtol(env, NULL, 10) : SHARED_WORDS;
    if (m->cut == SPE_CUT_NONE || want <= 0)
        return 0;
    const struct spe_proto *p = &m->p;
    struct cand *cand = malloc(p->n_pieces * sizeof(*cand));
    if (!cand)
        return ingot_oom("the shared word table", p->n_pieces * sizeof(*cand));
    size_t n_words = 0;
    for (uint32_t i = 0; i < p->n_pieces; i++)
        if (is_word_piece(m, &p->pieces[i]))
            cand[n_words++] = (struct cand){ p->pieces[i].score, i };
    if (n_words > (size_t)want) {
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
        const struct spe_piece *pc = &p->pieces[cand[j].id];
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
    /* A scratch may serve several models in turn: entries are per model,
     * told apart by address and by the hash of their bytes (the address
     * alone: a model loaded where a freed one was found its entries). */
    if (s->cache_on && (s->cache_model != m || s->cache_model_hash != m->hash)) {
        if (s->cache_used)
            cache_reset(s);
        s->cache_model = m;
        s->cache_model_hash = m->hash;
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
