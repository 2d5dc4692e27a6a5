/* BPE, a port of libsentencepiece 0.1.97's bpe::Model::SampleEncode with
 * alpha 0 (what Encode runs): symbols are characters or frozen
 * user-defined matches; the adjacent pair with the highest score merges
 * first, the leftmost on a tie; stale queue entries are skipped. Strings
 * become ids: a symbol is a piece id, or a pseudo id for a character that
 * is no piece but occurs inside one, and "is concat(l, r) a piece" is one
 * probe of a pair table built at load time. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "ingot_hash.h"
#include "spm_enc.h"

static inline uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

/* A character's bytes as one key (never 0 for a non-ASCII lead byte). */
static inline uint32_t char_key(const unsigned char *t, uint32_t len)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < len; i++)
        k = k << 8 | t[i];
    return k;
}

static int32_t chars_get(const struct spe_bpe *b, uint32_t key)
{
    for (size_t h = mix64(key) & b->chars_mask;; h = (h + 1) & b->chars_mask) {
        uint64_t e = b->chars[h];
        if (!e)
            return -1;
        if ((uint32_t)(e >> 32) == key)
            return (int32_t)(uint32_t)e;
    }
}

static void chars_put(struct spe_bpe *b, uint32_t key, int32_t sym)
{
    size_t h = mix64(key) & b->chars_mask;
    while (b->chars[h]) {
        if ((uint32_t)(b->chars[h] >> 32) == key)
            return;
        h = (h + 1) & b->chars_mask;
    }
    b->chars[h] = (uint64_t)key << 32 | (uint32_t)sym;
}

/* Symbol of a single character t[0, len), -1 when it pairs with nothing. */
static inline int32_t char_sym(const struct spe_bpe *b, const unsigned char *t, uint32_t len)
{
    if (len == 1 && t[0] < 0x80)
        return b->ascii_sym[t[0]];
    return chars_get(b, char_key(t, len));
}

static inline uint64_t pair_key(int32_t l, int32_t r)
{
    return ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1;
}

static const struct spe_pair *pair_get(const struct spe_bpe *b, int32_t l, int32_t r)
{
    uint64_t key = pair_key(l, r);
    for (size_t h = mix64(key) & b->pairs_mask;; h = (h + 1) & b->pairs_mask) {
        const struct spe_pair *e = &b->pairs[h];
        if (e->key == key)
            return e;
        if (!e->key)
            return NULL;
    }
}

static bool is_one_char(const char *s, uint32_t len)
{
    return len && spe_char_len((unsigned char)s[0]) == len;
}

/* Symbol of a character that is no piece: a pseudo id, the same for every
 * occurrence of the character. */
static int32_t pseudo_sym(struct spe_bpe *b, const char *s, uint32_t len, int32_t *next_pseudo)
{
    if (len == 1 && (unsigned char)s[0] < 0x80) {
        if (b->ascii_sym[(unsigned char)s[0]] < 0)
            b->ascii_sym[(unsigned char)s[0]] = (*next_pseudo)++;
        return b->ascii_sym[(unsigned char)s[0]];
    }
    uint32_t key = char_key((const unsigned char *)s, len);
    int32_t sym = chars_get(b, key);
    if (sym < 0) {
        sym = (*next_pseudo)++;
        chars_put(b, key, sym);
    }
    return sym;
}

/* The NORMAL and USER_DEFINED pieces by string (XXH3, then a compare), to
 * look up every suffix of every piece at load: one probe per suffix, where
 * a trie walk per suffix costs one probe per byte (the load of a 32k model
 * took 45 ms that way). Slot: hash (upper 40 bits) | piece index + 1. */
struct piece_map {
    uint64_t *slot;
    size_t mask;
};

static bool is_pair_kind(uint8_t t) { return t == SPE_NORMAL || t == SPE_USER_DEFINED; }

static int32_t map_get(const struct piece_map *pm, const struct spe_proto *p, const char *s,
                       uint32_t len)
{
    uint64_t h = ingot_xxh3(s, len) & ~0xffffffull;
    for (size_t k = h >> 24 & pm->mask;; k = (k + 1) & pm->mask) {
        uint64_t e = pm->slot[k];
        if (!e)
            return -1;
        uint32_t j = (uint32_t)(e & 0xffffff) - 1;
        if ((e & ~0xffffffull) == h && p->pieces[j].len == len &&
            memcmp(p->pieces[j].s, s, len) == 0)
            return (int32_t)j;
    }
}

static int map_build(struct piece_map *pm, const struct spe_proto *p)
{
    size_t slots = 64;
    while (slots < 2 * (size_t)p->n_pieces)
        slots *= 2;
    pm->slot = calloc(slots, sizeof(*pm->slot));
    if (!pm->slot)
        return ingot_oom("the BPE piece map", slots * sizeof(*pm->slot));
    pm->mask = slots - 1;
    for (uint32_t i = 0; i < p->n_pieces; i++) {
        const struct spe_piece *pc = &p->pieces[i];
        /* Pieces of these kinds are unique (load_check); a duplicate would
         * keep the first, as the trie does. */
        if (!is_pair_kind(pc->type) || map_get(pm, p, pc->s, pc->len) >= 0)
            continue;
        uint64_t h = ingot_xxh3(pc->s, pc->len) & ~0xffffffull;
        size_t k = h >> 24 & pm->mask;
        while (pm->slot[k])
            k = (k + 1) & pm->mask;
        pm->slot[k] = h | (i + 1);
    }
    return 0;
}

int spe_bpe_init(struct spe_model *m)
{
    const struct spe_proto *p = &m->p;
    struct spe_bpe *b = &m->bpe;
    size_t total = 0;
    for (uint32_t i = 0; i < p->n_pieces; i++)
        total += p->pieces[i].len;
    size_t cs = 64;
    while (cs < 2 * (total + 1))
        cs *= 2;
    b->chars = calloc(cs, sizeof(*b->chars));
    if (!b->chars)
        return ingot_oom("the BPE character table", cs * sizeof(*b->chars));
    b->chars_mask = cs - 1;
    for (int c = 0; c < 128; c++)
        b->ascii_sym[c] = -1;
    /* Single-character pieces are their own symbols. */
    for (uint32_t i = 0; i < p->n_pieces; i++) {
        const struct spe_piece *pc = &p->pieces[i];
        if (!is_pair_kind(pc->type) || !is_one_char(pc->s, pc->len))
            continue;
        if (pc->len == 1 && (unsigned char)pc->s[0] < 0x80)
            b->ascii_sym[(unsigned char)pc->s[0]] = (int32_t)i;
        else
            chars_put(b, char_key((const unsigned char *)pc->s, pc->len), (int32_t)i);
    }
    struct piece_map pm = { NULL, 0 };
    int ret = map_build(&pm, p);
    if (ret)
        return ret;
    /* The pairs are listed first and hashed once their number is known: a
     * table sized by the vocabulary's bytes was mostly empty, and its
     * first-touch page faults and cache misses were most of the load time. */
    struct spe_pair *list = NULL;
    size_t n_list = 0, list_cap = 0;
    /* Every split of every piece into (left, right) symbols: a symbol is a
     * piece (the trie value of a NORMAL or USER_DEFINED piece; the left one
     * from one walk along the piece, the right one from the map), else a
     * single character (a pseudo id), else the split is impossible. */
    const struct spe_trie *tr = &m->vocab;
    int32_t next_pseudo = (int32_t)p->n_pieces;
    for (uint32_t i = 0; i < p->n_pieces; i++) {
        const struct spe_piece *pc = &p->pieces[i];
        if (!is_pair_kind(pc->type))
            continue;
        uint32_t node = 0;
        for (uint32_t k = 1; k < pc->len; k++) {
            if (k == 1 || node)
                node = spe_trie_next(tr, node, (unsigned char)pc->s[k - 1]);
            int32_t l = node ? tr->value[node] : -1;
            if (l < 0 && is_one_char(pc->s, k))
                l = pseudo_sym(b, pc->s, k, &next_pseudo);
            if (l < 0)
                continue;
            int32_t r = map_get(&pm, p, pc->s + k, pc->len - k);
            if (r < 0 && is_one_char(pc->s + k, pc->len - k))
                r = pseudo_sym(b, pc->s + k, pc->len - k, &next_pseudo);
            if (r < 0)
                continue;
            if (n_list == list_cap &&
                (ret = spe_grow(&list, &list_cap, n_list + 1, sizeof(*list), "the BPE pairs")))
                goto out;
            list[n_list++] = (struct spe_pair){ pair_key(l, r), (int32_t)i, pc->score };
        }
    }
    size_t ps = 64;
    while (ps < 2 * n_list)
        ps *= 2;
    b->pairs = calloc(ps, sizeof(*b->pairs));
    if (!b->pairs) {
        ret = ingot_oom("the BPE pair table", ps * sizeof(*b->pairs));
        goto out;
    }
    b->pairs_mask = ps - 1;
    /* In piece order: a pair two pieces can make keeps the first. */
    for (size_t k = 0; k < n_list; k++) {
        size_t h = mix64(list[k].key) & b->pairs_mask;
        while (b->pairs[h].key && b->pairs[h].key != list[k].key)
            h = (h + 1) & b->pairs_mask;
        if (!b->pairs[h].key)
            b->pairs[h] = list[k];
    }
out:
    free(list);
    free(pm.slot);
    return ret;
}

void spe_bpe_free(struct spe_bpe *b)
{
    if (!b)
        return;
    free(b->chars);
    free(b->pairs);
    memset(b, 0, sizeof(*b));
}

/* Max-heap on (score, then smaller left), as SymbolPairComparator. */
static inline bool heap_before(const struct spe_heap_ent *a, const struct spe_heap_ent *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(struct spe_scratch *s, size_t *n, struct spe_heap_ent e)
{
    if (*n == s->heap_cap) {
        int ret = spe_grow(&s->heap, &s->heap_cap, *n + 1, sizeof(*s->heap), "the BPE queue");
        if (ret)
            return ret;
    }
    struct spe_heap_ent *h = s->heap;
    size_t i = (*n)++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!heap_before(&e, &h[up]))
            break;
        h[i] = h[up];
        i = up;
    }
    h[i] = e;
    return 0;
}

static struct spe_heap_ent heap_pop(struct spe_heap_ent *h, size_t *n)
{
    struct spe_heap_ent top = h[0], last = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m)
            break;
        if (c + 1 < m && heap_before(&h[c + 1], &h[c]))
            c++;
        if (!heap_before(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (m)
        h[i] = last;
    return top;
}

static int try_pair(const struct spe_model *m, struct spe_scratch *s, size_t *hn, int32_t l,
                    int32_t r)
{
    if (l < 0 || r < 0)
        return 0;
    const struct spe_sym *sl = &s->syms[l], *sr = &s->syms[r];
    if (sl->freeze || sr->freeze || sl->sym < 0 || sr->sym < 0)
        return 0;
    const struct spe_pair *p = pair_get(&m->bpe, sl->sym, sr->sym);
    if (!p)
        return 0;
    return heap_push(s, hn, (struct spe_heap_ent){ p->score, l, r, sl->len + sr->len, p->id });
}

int spe_bpe_word(const struct spe_model *m, struct spe_scratch *s, const char *t_, uint32_t off,
                 uint32_t n)
{
    const unsigned char *t = (const unsigned char *)t_;
    const struct spe_norm *nm = &m->norm;
    int ret;
    if (n > s->syms_cap &&
        (ret = spe_grow(&s->syms, &s->syms_cap, n, sizeof(*s->syms), "the BPE symbols")))
        return ret;
    struct spe_sym *sy = s->syms;
    int32_t ns = 0;
    for (uint32_t pos = 0; pos < n;) {
        struct spe_sym *x = &sy[ns];
        uint32_t len = 0;
        x->freeze = false;
        if (nm->has_ud && nm->ud_first[t[pos]]) {
            uint32_t node = 0;
            for (uint32_t i = pos; i < n; i++) {
                node = spe_trie_next(&nm->ud, node, t[i]);
                if (!node)
                    break;
                if (nm->ud.value[node] >= 0) {
                    len = i + 1 - pos;
                    x->sym = nm->ud.value[node];
                }
            }
            x->freeze = len > 0;
        }
        if (!len) {
            len = spe_char_len(t[pos]);
            if (len > n - pos)
                len = n - pos;
            x->sym = char_sym(&m->bpe, t + pos, len);
        }
        x->off = pos;
        x->len = len;
        x->prev = ns - 1;
        x->next = pos + len < n ? ns + 1 : -1;
        pos += len;
        ns++;
    }
    size_t hn = 0;
    for (int32_t i = 1; i < ns; i++)
        if ((ret = try_pair(m, s, &hn, i - 1, i)))
            return ret;
    while (hn) {
        struct spe_heap_ent top = heap_pop(s->heap, &hn);
        struct spe_sym *l = &sy[top.left], *r = &sy[top.right];
        if (!l->len || !r->len || l->len + r->len != top.size)
            continue;
        l->len += r->len;
        l->sym = top.id;
        l->next = r->next;
        if (r->next >= 0)
            sy[r->next].prev = top.left;
        r->len = 0;
        if ((ret = try_pair(m, s, &hn, l->prev, top.left)) ||
            (ret = try_pair(m, s, &hn, top.left, l->next)))
            return ret;
    }
    const int32_t n_pieces = (int32_t)m->p.n_pieces;
    for (int32_t i = 0; i >= 0 && ns > 0; i = sy[i].next) {
        int32_t id = sy[i].sym >= 0 && sy[i].sym < n_pieces ? sy[i].sym : m->unk_id;
        if ((ret = spe_push_tok(s, id, off + sy[i].off, sy[i].len)))
            return ret;
    }
    return 0;
}
