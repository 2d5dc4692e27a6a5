/* The encoder's public side: loading and checking a model (as
 * libsentencepiece's ModelInterface::InitializePieces checks it), the cut
 * rule, and the document loop: normalize, cut into words, encode each word
 * (through the per-thread cache), then byte fallback and unknown merging
 * as SentencePieceProcessor::PopulateSentencePieceText does them. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "mono_clock.h"
#include "spm_cache.h"
#include "spm_enc.h"
#include "term_text.h"

/* See spm_trie.h. Where the kernel grants transparent huge pages on request
 * (madvise mode) this asks; where it grants them always or never, the
 * request changes nothing. */
void *spe_huge_alloc(size_t bytes, bool zero)
{
    const size_t huge = (size_t)2 << 20;
    const char *e = getenv("INGOT_SPE_HUGE");
    if (bytes < huge / 4 || (e && strcmp(e, "0") == 0))   /* from 512 KB: one huge page */
        return zero ? calloc(1, bytes) : malloc(bytes);
    size_t size = (bytes + huge - 1) & ~(huge - 1);
    void *p = aligned_alloc(huge, size);
    if (!p)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, size, MADV_HUGEPAGE);   /* a hint: refused, the pages stay small */
#endif
    if (zero)
        memset(p, 0, bytes);
    return p;
}

int spe_grow(void *buf, size_t *cap, size_t need, size_t elem, const char *what)
{
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *nb = realloc(*(void **)buf, nc * elem);
    if (!nb)
        return ingot_oom(what, nc * elem);
    *(void **)buf = nb;
    *cap = nc;
    return 0;
}

/* Does the piece contain ▁ somewhere matching the test? (Cut rules.) */
enum ws_probe { WS_AFTER_START, WS_AFTER_OTHER, WS_BEFORE_END, WS_BEFORE_OTHER };

static bool piece_has_ws(const struct spe_piece *pc, enum ws_probe probe)
{
    const char *s = pc->s;
    uint32_t n = pc->len;
    for (uint32_t k = 0; k + 3 <= n; k++) {
        if (memcmp(s + k, SPE_WS, 3) != 0)
            continue;
        switch (probe) {
        case WS_AFTER_START:
            if (k > 0)
                return true;
            break;
        case WS_AFTER_OTHER:
            if (k > 0 && (k < 3 || memcmp(s + k - 3, SPE_WS, 3) != 0))
                return true;
            break;
        case WS_BEFORE_END:
            if (k + 3 < n)
                return true;
            break;
        case WS_BEFORE_OTHER:
            if (k + 3 < n && (k + 6 > n || memcmp(s + k + 3, SPE_WS, 3) != 0))
                return true;
            break;
        }
    }
    return false;
}

static bool any_piece_has_ws(const struct spe_proto *p, enum ws_probe probe)
{
    for (uint32_t i = 0; i < p->n_pieces; i++) {
        uint8_t t = p->pieces[i].type;
        if ((t == SPE_NORMAL || t == SPE_USER_DEFINED || t == SPE_UNUSED) &&
            piece_has_ws(&p->pieces[i], probe))
            return true;
    }
    return false;
}

/* fast-encoder.md §2: a cut is exact where no piece can span it. */
static enum spe_cut choose_cut(const struct spe_proto *p)
{
    if (!p->escape_ws)
        return SPE_CUT_NONE;
    enum spe_cut prefix = !any_piece_has_ws(p, WS_AFTER_START)   ? SPE_CUT_WS_ALL
                          : !any_piece_has_ws(p, WS_AFTER_OTHER) ? SPE_CUT_WS_RUN
                                                                 : SPE_CUT_NONE;
    enum spe_cut suffix = !any_piece_has_ws(p, WS_BEFORE_END)     ? SPE_CUT_SUF_ALL
                          : !any_piece_has_ws(p, WS_BEFORE_OTHER) ? SPE_CUT_SUF_RUN
                                                                  : SPE_CUT_NONE;
    if (p->treat_ws_suffix)
        return suffix != SPE_CUT_NONE ? suffix : prefix;
    return prefix != SPE_CUT_NONE ? prefix : suffix;
}

/* "<0xHH>" (upper-case hex, as ByteToPiece writes it) -> HH, else -1. */
static int byte_of_piece(const struct spe_piece *pc)
{
    static const char hex[] = "0123456789ABCDEF";
    if (pc->len != 6 || memcmp(pc->s, "<0x", 3) != 0 || pc->s[5] != '>')
        return -1;
    const char *h = strchr(hex, pc->s[3]), *l = strchr(hex, pc->s[4]);
    if (!pc->s[3] || !pc->s[4] || !h || !l)
        return -1;
    return (int)((h - hex) * 16 + (l - hex));
}

/* One table of piece strings for the duplicate checks of load_check. */
struct str_set {
    uint64_t *slot;   /* hash (upper 40 bits) | index + 1 (lower 24); 0 = empty */
    size_t mask;
};

/* Index of an equal string already in the set (then not inserted), or -1
 * after inserting piece i. */
static int64_t set_insert(struct str_set *set, const struct spe_proto *p, uint32_t i)
{
    const struct spe_piece *pc = &p->pieces[i];
    uint64_t h = ingot_xxh3(pc->s, pc->len);
    for (size_t k = h & set->mask;; k = (k + 1) & set->mask) {
        uint64_t e = set->slot[k];
        if (!e) {
            set->slot[k] = (h & ~0xffffffull) | (i + 1);
            return -1;
        }
        uint32_t j = (uint32_t)(e & 0xffffff) - 1;
        if ((e & ~0xffffffull) == (h & ~0xffffffull) && p->pieces[j].len == pc->len &&
            memcmp(p->pieces[j].s, pc->s, pc->len) == 0)
            return j;
    }
}

static bool is_normal_kind(uint8_t t)
{
    return t == SPE_NORMAL || t == SPE_USER_DEFINED || t == SPE_UNUSED;
}

/* A piece in a message, through term_text(): its bytes come from the
 * model file and may hold an escape sequence. A piece longer than raw is
 * cut; term_text() then cuts it with "..." (buf is far shorter than raw). */
static const char *piece_text(const struct spe_piece *pc, char *buf, size_t n)
{
    char raw[512];
    size_t k = pc->len < sizeof(raw) - 1 ? pc->len : sizeof(raw) - 1;
    memcpy(raw, pc->s, k);
    raw[k] = 0;
    return term_text(raw, buf, n);
}

/* The checks of InitializePieces (a failure there fails the load in
 * libsentencepiece too), then what this encoder does not handle. */
static int load_check(struct spe_model *m)
{
    const struct spe_proto *p = &m->p;
    const char *name = m->name;
    if (p->model_type == SPE_WORD || p->model_type == SPE_CHAR)
        return ingot_fail(-ENOTSUP, "%s: a %s model: Ingot's encoder handles unigram and BPE only",
                          name, p->model_type == SPE_WORD ? "WORD" : "CHAR");
    if (p->model_type != SPE_UNIGRAM && p->model_type != SPE_BPE)
        return ingot_fail(INGOT_E_TOKENIZER, "%s: unknown model type %d", name, p->model_type);
    if (p->n_pieces == 0)
        return ingot_fail(INGOT_E_TOKENIZER, "%s: the model has no pieces", name);
    if (p->n_pieces >= (1u << 24))
        return ingot_fail(-ENOTSUP, "%s: %u pieces is more than this encoder takes (16M)", name,
                          p->n_pieces);
    size_t slots = 64;
    while (slots < 2 * (size_t)p->n_pieces)
        slots *= 2;
    struct str_set normal = { calloc(slots, 8), slots - 1 };
    struct str_set reserved = { calloc(slots, 8), slots - 1 };
    int ret = 0;
    bool byte_found[256] = { false };
    char tp[128];
    if (!normal.slot || !reserved.slot) {
        ret = ingot_oom("the piece table", 2 * slots * 8);
        goto out;
    }
    m->unk_id = -1;
    for (uint32_t i = 0; i < p->n_pieces && !ret; i++) {
        const struct spe_piece *pc = &p->pieces[i];
        if (pc->len == 0) {
            ret = ingot_fail(INGOT_E_TOKENIZER, "%s: piece %u is empty", name, i);
            break;
        }
        if (memchr(pc->s, '\0', pc->len)) {
            ret = ingot_fail(-ENOTSUP, "%s: piece %u contains a NUL byte", name, i);
            break;
        }
        if (isnan(pc->score)) {
            ret = ingot_fail(-ENOTSUP, "%s: piece %u has a NaN score", name, i);
            break;
        }
        bool normal_kind = is_normal_kind(pc->type);
        if (set_insert(normal_kind ? &normal : &reserved, p, i) >= 0) {
            ret = ingot_fail(INGOT_E_TOKENIZER, "%s: piece %u (%s) is already defined", name, i,
                             piece_text(pc, tp, sizeof(tp)));
            break;
        }
        if (pc->type == SPE_UNKNOWN) {
            if (m->unk_id >= 0)
                ret = ingot_fail(INGOT_E_TOKENIZER, "%s: unk is defined twice (%d and %u)", name,
                                 m->unk_id, i);
            m->unk_id = (int32_t)i;
        }
        if (pc->type == SPE_BYTE) {
            int b = byte_of_piece(pc);
            if (!p->byte_fallback)
                ret = ingot_fail(INGOT_E_TOKENIZER,
                                 "%s: byte piece %s although byte_fallback is false", name,
                                 piece_text(pc, tp, sizeof(tp)));
            else if (b < 0)
                ret = ingot_fail(INGOT_E_TOKENIZER, "%s: byte piece %s is invalid", name,
                                 piece_text(pc, tp, sizeof(tp)));
            else {
                byte_found[b] = true;
                m->byte_id[b] = (int32_t)i;
            }
        }
        if (pc->type == SPE_UNUSED && p->model_type == SPE_BPE)
            ret = ingot_fail(-ENOTSUP,
                             "%s: BPE with UNUSED pieces (piece %u): libsentencepiece re-splits "
                             "them through one document-wide map, which this encoder does not copy",
                             name, i);
    }
    if (ret)
        goto out;
    if (m->unk_id < 0) {
        ret = ingot_fail(INGOT_E_TOKENIZER, "%s: unk is not defined", name);
        goto out;
    }
    for (int b = 0; p->byte_fallback && b < 256; b++)
        if (!byte_found[b]) {
            ret = ingot_fail(INGOT_E_TOKENIZER,
                             "%s: byte_fallback is on but there is no piece <0x%02X>", name, b);
            goto out;
        }
    /* libsentencepiece looks a piece string up among the reserved pieces
     * first: a reserved piece that is also a normal piece, or a single
     * character, would change ids in ways this encoder does not model. */
    for (uint32_t i = 0; i < p->n_pieces; i++) {
        const struct spe_piece *pc = &p->pieces[i];
        if (is_normal_kind(pc->type))
            continue;
        int64_t j = set_insert(&normal, p, i);
        if (j >= 0 || spe_char_len((unsigned char)pc->s[0]) >= pc->len) {
            ret = ingot_fail(-ENOTSUP,
                             "%s: reserved piece %u (%s) is %s, which this encoder does not "
                             "handle",
                             name, i, piece_text(pc, tp, sizeof(tp)),
                             j >= 0 ? "also a normal piece" : "a single character");
            goto out;
        }
    }
out:
    free(normal.slot);
    free(reserved.slot);
    return ret;
}

/* The unigram trie and scores (unigram::Model::Model). */
static int vocab_init(struct spe_model *m)
{
    const struct spe_proto *p = &m->p;
    const char **keys = malloc(p->n_pieces * sizeof(*keys));
    uint32_t *lens = malloc(p->n_pieces * sizeof(*lens));
    int32_t *vals = malloc(p->n_pieces * sizeof(*vals));
    m->uscore = malloc(p->n_pieces * sizeof(*m->uscore));
    int ret = 0;
    if (!keys || !lens || !vals || !m->uscore) {
        ret = ingot_oom("the vocabulary", p->n_pieces * 24);
        goto out;
    }
    float min_score = FLT_MAX, max_score = FLT_MIN;
    for (uint32_t i = 0; i < p->n_pieces; i++)
        if (p->pieces[i].type == SPE_NORMAL) {
            min_score = fminf(min_score, p->pieces[i].score);
            max_score = fmaxf(max_score, p->pieces[i].score);
        }
    size_t k = 0;
    for (uint32_t i = 0; i < p->n_pieces; i++) {
        const struct spe_piece *pc = &p->pieces[i];
        m->uscore[i] = (double)pc->score;
        if (pc->type == SPE_USER_DEFINED) {
            /* (length * max_score_ - 0.1): size_t to float, a float
             * product, then a double difference. */
            const float prod = (float)pc->len * max_score;
            m->uscore[i] = (double)prod - 0.1;
        }
        if (!is_normal_kind(pc->type))
            continue;
        keys[k] = pc->s;
        lens[k] = pc->len;
        vals[k] = pc->type == SPE_UNUSED ? -1 : (int32_t)i;
        k++;
    }
    m->unk_score = min_score - 10.0f;
    if (k == 0) {
        ret = ingot_fail(INGOT_E_TOKENIZER, "%s: no pieces are loaded", m->name);
        goto out;
    }
    /* the trie's message names no model (it builds tries of any keys) */
    if ((ret = spe_trie_build(&m->vocab, k, keys, lens, vals)) == -ENOTSUP)
        ret = ingot_fail(-ENOTSUP, "%s: the pieces: %s", m->name, ingot_errmsg());
    if (!ret && p->model_type == SPE_UNIGRAM)
        ret = spe_trie_pack(&m->vocab, m->uscore);
out:
    free(keys);
    free(lens);
    free(vals);
    return ret;
}

int spe_load_mem(const void *buf, size_t len, const char *name, spe_model **out)
{
    *out = NULL;
    struct spe_model *m = calloc(1, sizeof(*m));
    if (!m)
        return ingot_oom("the encoder model", sizeof(*m));
    int ret;
    /* every message shows the name through term_text(): a path from the
     * command line or a manifest may hold an escape sequence */
    char shown[1024];
    m->name = strdup(term_text(name, shown, sizeof(shown)));
    if (!m->name) {
        ret = ingot_oom("the model name", strlen(shown) + 1);
        goto fail;
    }
    m->hash = ingot_xxh3(buf, len);
    if ((ret = spe_proto_parse(buf, len, m->name, &m->p)) || (ret = load_check(m)) ||
        (ret = spe_norm_init(&m->norm, &m->p, m->name)) || (ret = vocab_init(m)))
        goto fail;
    if (m->p.model_type == SPE_BPE && (ret = spe_bpe_init(m)))
        goto fail;
    m->cut = choose_cut(&m->p);
    double t_shared = mono_now();
    if ((ret = spe_shared_build(m)))
        goto fail;
    m->shared_s = mono_now() - t_shared;
    *out = m;
    return 0;
fail:
    spe_free(m);
    return ret;
}

int spe_model_check(const void *buf, size_t len, const char *name)
{
    char shown[1024];
    term_text(name, shown, sizeof(shown));
    struct spe_proto p;
    memset(&p, 0, sizeof(p));
    int ret = spe_proto_parse(buf, len, shown, &p);
    if (!ret)
        ret = spe_charsmap_check(&p, shown);
    spe_proto_free(&p);
    return ret;
}

int spe_load(const char *path, spe_model **out)
{
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    double t0 = mono_now();
    int ret = fs_read_all(path, &buf, &len);
    if (ret)
        return ret;
    ret = spe_load_mem(buf, len, path, out);
    free(buf);
    if (!ret)
        (*out)->load_s = mono_now() - t0;
    return ret;
}

void spe_free(spe_model *m)
{
    if (!m)
        return;
    spe_bpe_free(&m->bpe);
    spe_shared_free(&m->shared);
    spe_trie_free(&m->vocab);
    spe_norm_free(&m->norm);
    spe_proto_free(&m->p);
    free(m->uscore);
    free(m->name);
    free(m);
}

uint32_t spe_vocab_size(const spe_model *m) { return m->p.n_pieces; }
uint64_t spe_model_hash(const spe_model *m) { return m->hash; }

void spe_load_times(const spe_model *m, double *load_s, double *shared_s)
{
    *load_s = m->load_s;
    *shared_s = m->shared_s;
}

const char *spe_model_kind(const spe_model *m)
{
    return m->p.model_type == SPE_BPE ? "bpe" : "unigram";
}

const char *spe_cut_name(const spe_model *m)
{
    static const char *const names[] = { "none", "ws", "ws-run", "suffix", "suffix-run" };
    return names[m->cut];
}

int spe_scratch_new(bool cache_on, spe_scratch **out)
{
    /* Whole cache lines: the counters change at every word, and threads'
     * scratches must not share a line. */
    size_t size = (sizeof(**out) + 63) & ~(size_t)63;
    *out = aligned_alloc(64, size);
    if (!*out)
        return ingot_oom("encoder scratch", size);
    memset(*out, 0, size);
    (*out)->cache_on = cache_on;
    return 0;
}

void spe_scratch_free(spe_scratch *s)
{
    if (!s)
        return;
    free(s->norm);
    free(s->toks);
    free(s->best);
    free(s->edges);
    free(s->escore);
    free(s->syms);
    free(s->heap);
    free(s->ug2);
    free(s->path);
    free(s->val);
    spe_cache_free(s);
    free(s);
}

/* A per-document buffer of cap elements of elem bytes: freed when larger
 * than keep (the next document grows it again as far as it needs). */
static void trim_one(void *buf, size_t *cap, size_t elem, size_t keep, size_t *n)
{
    if (*cap * elem <= keep)
        return;
    free(*(void **)buf);
    *(void **)buf = NULL;
    *cap = 0;
    if (n)
        *n = 0;
}

void spe_scratch_trim(spe_scratch *s, size_t keep)
{
    if (!s)
        return;
    trim_one(&s->norm, &s->norm_cap, 1, keep, NULL);
    trim_one(&s->toks, &s->toks_cap, sizeof(*s->toks), keep, &s->n_toks);
    trim_one(&s->best, &s->best_cap, sizeof(*s->best), keep, NULL);
    trim_one(&s->edges, &s->edges_cap, sizeof(*s->edges), keep, &s->n_edges);
    trim_one(&s->escore, &s->escore_cap, sizeof(*s->escore), keep, NULL);
    trim_one(&s->syms, &s->syms_cap, sizeof(*s->syms), keep, NULL);
    trim_one(&s->heap, &s->heap_cap, sizeof(*s->heap), keep, NULL);
    trim_one(&s->ug2, &s->ug2_cap, sizeof(*s->ug2), keep, NULL);
    trim_one(&s->path, &s->path_cap, sizeof(*s->path), keep, &s->n_path);
    trim_one(&s->val, &s->val_cap, 1, keep, NULL);
}

void spe_scratch_stats(const spe_scratch *s, struct spe_stats *out) { *out = s->stats; }
void spe_scratch_time(spe_scratch *s, bool on) { s->timing = on; }
void spe_scratch_verify(spe_scratch *s, bool on) { s->verify = on; }

static inline bool ws_at(const char *t, size_t n, size_t p)
{
    return p + 3 <= n && memcmp(t + p, SPE_WS, 3) == 0;
}

/* Next ▁ at or after p (its offset), or n. */
static size_t find_ws(const char *t, size_t n, size_t p)
{
    while (p < n) {
        const char *q = memchr(t + p, 0xe2, n - p);
        if (!q)
            return n;
        p = (size_t)(q - t);
        if (ws_at(t, n, p))
            return p;
        p++;
    }
    return n;
}

size_t spe_word_end(enum spe_cut cut, const char *t, size_t n, size_t start)
{
    size_t p;
    switch (cut) {
    case SPE_CUT_WS_ALL:
        return find_ws(t, n, start + 1);
    case SPE_CUT_WS_RUN:
        for (p = start + 1;; p += 3) {
            p = find_ws(t, n, p);
            if (p >= n || !ws_at(t, n, p - 3))
                return p;
        }
    case SPE_CUT_SUF_ALL:
        p = find_ws(t, n, start);
        return p >= n ? n : p + 3;
    case SPE_CUT_SUF_RUN:
        p = find_ws(t, n, start);
        if (p >= n)
            return n;
        while (ws_at(t, n, p + 3))
            p += 3;
        return p + 3;
    case SPE_CUT_NONE:
    default:
        return n;
    }
}

/* Byte fallback and unknown merging (PopulateSentencePieceText). */
static int emit(const struct spe_model *m, const struct spe_scratch *s, uint32_t **ids,
                size_t *cap, size_t *n_ids)
{
    size_t need = s->n_toks;
    if (m->p.byte_fallback)
        for (size_t i = 0; i < s->n_toks; i++)
            if (s->toks[i].id == m->unk_id)
                need += s->toks[i].len;
    if (need > *cap || !*ids) {
        int ret = spe_grow(ids, cap, need ? need : 1, sizeof(**ids), "token ids");
        if (ret)
            return ret;
    }
    uint32_t *o = *ids;
    size_t k = 0;
    bool prev_unk = false;
    for (size_t i = 0; i < s->n_toks; i++) {
        const struct spe_tok *t = &s->toks[i];
        bool unk = t->id == m->unk_id;
        if (unk && m->p.byte_fallback) {
            for (uint32_t j = 0; j < t->len; j++)
                o[k++] = (uint32_t)m->byte_id[(unsigned char)s->norm[t->off + j]];
        } else if (!(unk && prev_unk)) {
            o[k++] = (uint32_t)t->id;
        }
        prev_unk = unk;
    }
    *n_ids = k;
    return 0;
}

int spe_encode(const spe_model *m, spe_scratch *s, const char *text, size_t len, uint32_t **ids,
               size_t *cap, size_t *n_ids)
{
    *n_ids = 0;
    double t0 = s->timing ? mono_now() : 0;
    size_t n;
    int ret = spe_normalize(&m->norm, s, text, len, &n);
    if (ret)
        return ret;
    if (n > UINT32_MAX / 2)
        return ingot_fail(-E2BIG, "%s: a document of %zu normalized bytes is too long to encode",
                          m->name, n);
    double t1 = s->timing ? mono_now() : 0;
    s->n_toks = 0;
    float c = 0.0f;
    /* Two words ahead: the cache slots of the word after next come from
     * memory while this one is encoded, and the next word's key and value,
     * found through its slot (loaded one word ago), follow them (the table
     * and arena are megabytes; probes waited on both). */
    size_t w = 0, e = n ? spe_word_end(m->cut, s->norm, n, 0) : 0;
    size_t e2 = e < n ? spe_word_end(m->cut, s->norm, n, e) : n;
    uint64_t h = spe_cache_hash(s, s->norm, (uint32_t)e);
    uint64_t h2 = spe_cache_hash(s, s->norm + e, (uint32_t)(e2 - e));
    spe_cache_prefetch(m, s, h2);
    while (w < n) {
        size_t e3 = e2 < n ? spe_word_end(m->cut, s->norm, n, e2) : n;
        uint64_t h3 = spe_cache_hash(s, s->norm + e2, (uint32_t)(e3 - e2));
        spe_cache_prefetch(m, s, h3);
        spe_cache_prefetch_value(m, s, h2);
        ret = spe_cache_word(m, s, (uint32_t)w, (uint32_t)(e - w), h, &c);
        if (ret)
            return ret;
        s->stats.words++;
        w = e;
        e = e2;
        e2 = e3;
        h = h2;
        h2 = h3;
    }
    if ((ret = emit(m, s, ids, cap, n_ids)))
        return ret;
    s->stats.docs++;
    s->stats.bytes_in += len;
    s->stats.bytes_norm += n;
    if (s->timing) {
        double t2 = mono_now();
        s->stats.sec_norm += t1 - t0;
        s->stats.sec_model += t2 - t1;
    }
    return 0;
}
