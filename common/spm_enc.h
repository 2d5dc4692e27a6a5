/* Internals shared by the encoder's files (spm_norm.c, spm_unigram.c,
 * spm_bpe.c, spm_encode.c); users include spm_encode.h only. */
#ifndef INGOT_SPM_ENC_H
#define INGOT_SPM_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spm_encode.h"
#include "spm_model.h"
#include "spm_trie.h"

#define SPE_WS "\xe2\x96\x81" /* U+2581, the escaped space */

/* Where the normalized text may be cut into independently encoded words
 * (fast-encoder.md §2): no piece can span such a position, so both models
 * give the same ids with or without the cut (unigram carries its float
 * path score across it). Chosen at load time from the vocabulary. */
enum spe_cut {
    SPE_CUT_NONE,        /* whole document */
    SPE_CUT_WS_ALL,      /* before every ▁ (no piece has ▁ past its start) */
    SPE_CUT_WS_RUN,      /* before a run of ▁ (▁▁ pieces, no x▁ piece) */
    SPE_CUT_SUF_ALL,     /* after every ▁ (whitespace-as-suffix models) */
    SPE_CUT_SUF_RUN,     /* after a run of ▁ */
};

/* Normalizer (libsentencepiece's normalizer.cc): the precompiled charsmap
 * (a darts-clone double array plus a pool of NUL-terminated replacements),
 * the user-defined symbols copied verbatim, and the whitespace rules. */
struct spe_norm {
    uint32_t *units;          /* darts units (copied, aligned); NULL: identity */
    size_t n_units;
    char *pool;               /* replacements, with one extra NUL at the end */
    size_t pool_len;
    bool add_dummy_prefix, remove_extra_ws, escape_ws, ws_suffix;
    struct spe_trie ud;       /* user-defined symbols (value = piece id) */
    bool has_ud;
    uint8_t ud_first[256];    /* a user-defined symbol starts with this byte */
    /* ASCII fast path: byte b normalizes to itself, alone, when cls[b] is
     * SPE_NC_COPY, or when SPE_NC_COPY_ASCII and the next byte is ASCII
     * (a space then goes through the whitespace rules, still fast). */
    uint8_t cls[128];
};
enum { SPE_NC_SLOW = 0, SPE_NC_COPY = 1, SPE_NC_COPY_ASCII = 2 };

/* BPE: the symbol of a character that is not a piece but occurs inside
 * one, and the pair table (left symbol, right symbol) -> merged piece. */
struct spe_bpe {
    int32_t ascii_sym[128];    /* symbol of an ASCII char, -1: pairs with nothing */
    uint64_t *chars;           /* (utf8 bytes as u32) << 32 | symbol; 0 = empty */
    size_t chars_mask;
    struct spe_pair { uint64_t key; int32_t id; float score; } *pairs; /* key 0 = empty */
    size_t pairs_mask;
};

/* The words every thread is likely to meet, cached once per model: the
 * pieces that are whole words under the cut rule (about two thirds of the
 * words of English text are), with the values the per-thread cache would
 * store for them (spm_cache.c). Built by spe_load, read-only afterwards;
 * one copy of a megabyte or two that all threads read from the shared
 * caches, where sixteen per-thread caches of 12 MB each miss to memory. */
struct spe_shared {
    struct spe_cache_ent *slot;   /* open addressing; key_len 0 = empty */
    size_t mask, n;
    unsigned char *arena;         /* keys and values, as the per-thread arena */
    size_t arena_len, arena_cap;
};

struct spe_model {
    struct spe_proto p;
    char *name;
    uint64_t hash;            /* XXH3-64 of the file */
    struct spe_norm norm;
    struct spe_trie vocab;    /* NORMAL, USER_DEFINED (and UNUSED: no value) */
    double *uscore;           /* unigram: score of piece i in a candidate */
    float unk_score;          /* unigram: min normal score - 10 */
    int32_t unk_id;
    int32_t byte_id[256];     /* byte fallback: id of <0xHH> */
    enum spe_cut cut;
    struct spe_bpe bpe;
    struct spe_shared shared;
    double load_s, shared_s;  /* spe_load_times() */
};

/* One piece of output before byte fallback and unk merging: id and its
 * bytes in the normalized text. */
struct spe_tok {
    int32_t id;
    uint32_t off, len;
};

/* A unigram lattice edge: a piece (id >= 0) or the unknown character
 * (id SPE_EDGE_UNK) from byte start to byte end of a word. */
struct spe_edge {
    uint32_t start, end;
    int32_t id;
};
#define SPE_EDGE_UNK (-2)

struct spe_ugnode {
    float score;
    int32_t start;
    int32_t id;
};

/* Stage 2 of the unigram cache (fast-encoder.md §6, docs/encoder.md): a
 * word's best segmentation in exact arithmetic and how far the runner-up
 * is behind it. The float Viterbi run from a carried score C picks that
 * same path whenever gap > k * (|C| + a): every path's float value is then
 * closer to its exact value than half the gap. */
struct spe_ugbound {
    double gap;    /* best minus second best path score, less the double
                      error; +inf when the word has one segmentation */
    double a;      /* bound on |partial path score| inside the word */
    double k;      /* (steps + 1) * 2^-23 * 1.01: the float error per unit */
};

/* Node of the two-best dynamic programme behind spe_ugbound. */
struct spe_ug2 {
    double b1, b2;
    int32_t back;   /* edge of the best path into this node */
};

struct spe_sym {
    int32_t sym, prev, next;
    uint32_t off, len;
    bool freeze;
};

struct spe_heap_ent {
    float score;
    int32_t left, right;
    uint32_t size;
    int32_t id;         /* the piece the pair merges into */
};

/* One cached word: its bytes live in the arena at key_off, its value right
 * after them at the next multiple of 8 (spe_cache_val_off); val_n is the
 * number of pieces (BPE) or of path steps (unigram). 16 bytes. */
struct spe_cache_ent {
    uint64_t hash;
    uint32_t key_off;
    uint16_t key_len, val_n;
};

static inline uint32_t spe_cache_val_off(const struct spe_cache_ent *e)
{
    return (e->key_off + e->key_len + 7u) & ~7u;
}

struct spe_scratch {
    char *norm;
    size_t norm_cap;
    struct spe_tok *toks;
    size_t n_toks, toks_cap;
    struct spe_ugnode *best;
    size_t best_cap;
    struct spe_edge *edges;
    size_t n_edges, edges_cap;
    double *escore;                  /* the lattice's edge scores (uscore) */
    size_t escore_cap;
    struct spe_sym *syms;
    size_t syms_cap;
    struct spe_heap_ent *heap;
    size_t heap_cap;
    struct spe_ug2 *ug2;
    size_t ug2_cap;
    struct spe_edge *path;           /* a word's best path (stage 2) */
    size_t n_path, path_cap;
    unsigned char *val;              /* a cache value being assembled */
    size_t val_cap;
    bool verify;                     /* check every stage-2 hit by a replay */
    /* per-word cache (spm_encode.c) */
    bool cache_on;
    struct spe_cache_ent *cache;
    size_t cache_mask, cache_used;
    /* The model the entries belong to: its address and its hash (a model
     * freed and another loaded at the same address is another model). */
    const struct spe_model *cache_model;
    uint64_t cache_model_hash;
    uint64_t *door;                  /* words seen once (a bit per hash) */
    size_t door_n;                   /* bits set since the last clear */
    unsigned char *arena;
    size_t arena_len, arena_cap;
    struct spe_stats stats;
    bool timing;
};

/* Normalize in[0, n) into s->norm; *out_len its length. Returns 0 or
 * -ENOMEM. */
int spe_norm_init(struct spe_norm *nm, const struct spe_proto *p, const char *name);
void spe_norm_free(struct spe_norm *nm);
/* The model's precompiled charsmaps (the normalizer's and the
 * denormalizer's) and user-defined symbols checked as spe_norm_init loads
 * them (spe_model_check): bounds, at most 32 charsmap keys prefixing one
 * text and 64 user-defined symbols prefixing one symbol (libsentencepiece's
 * fixed result arrays). 0, INGOT_E_TOKENIZER, -ENOMEM. */
int spe_charsmap_check(const struct spe_proto *p, const char *name);
int spe_normalize(const struct spe_norm *nm, struct spe_scratch *s, const char *in, size_t n,
                  size_t *out_len);

/* Append the pieces of the normalized word t[0, n) (at offset off of the
 * document) to s->toks. Unigram carries the float path score *c across
 * words. Return 0 or -ENOMEM. */
/* Unigram in two steps: the lattice of t[0, n) into s->edges and their
 * scores into s->escore (the trie walk), then the Viterbi over that
 * lattice from the carried score. A word longer than UG_LATTICE_MAX (512)
 * bytes builds no edge list: the Viterbi walks the trie itself, one entry
 * per byte (a multi-MB run of one character), so t must be s->norm + off;
 * spe_unigram_bound() is then -EINVAL (the cache never asks for one). */
int spe_unigram_lattice(const struct spe_model *m, struct spe_scratch *s, const char *t,
                        uint32_t n);
int spe_unigram_viterbi(const struct spe_model *m, struct spe_scratch *s, uint32_t off,
                        uint32_t n, float *c);
/* Stage 2: the exact best path of the word's lattice (s->edges and their
 * scores s->escore, from spe_unigram_lattice) of a word of n bytes into
 * s->path (forward order) and its bound. 0 or -ENOMEM. */
int spe_unigram_bound(struct spe_scratch *s, uint32_t n, struct spe_ugbound *b);
/* Whether the float Viterbi from carried score c must pick b's path. */
static inline bool spe_ugbound_holds(const struct spe_ugbound *b, float c)
{
    double m = (double)c;
    return b->gap > b->k * ((m < 0 ? -m : m) + b->a) + 1e-30;
}
int spe_bpe_init(struct spe_model *m);
void spe_bpe_free(struct spe_bpe *b);
int spe_bpe_word(const struct spe_model *m, struct spe_scratch *s, const char *t, uint32_t off,
                 uint32_t n);

/* End of the word that starts at byte start of the normalized text t[0, n)
 * under the cut rule (see enum spe_cut). */
size_t spe_word_end(enum spe_cut cut, const char *t, size_t n, size_t start);

/* Grow *buf (elements of size elem) to hold at least need; 0 or -ENOMEM. */
int spe_grow(void *buf, size_t *cap, size_t need, size_t elem, const char *what);

static inline int spe_push_tok(struct spe_scratch *s, int32_t id, uint32_t off, uint32_t len)
{
    if (s->n_toks == s->toks_cap) {
        int ret = spe_grow(&s->toks, &s->toks_cap, s->n_toks + 1, sizeof(*s->toks), "pieces");
        if (ret)
            return ret;
    }
    s->toks[s->n_toks++] = (struct spe_tok){ id, off, len };
    return 0;
}

/* Length of the UTF-8 character led by byte c, as libsentencepiece's
 * OneCharLen reads it (by the lead byte only). */
static inline uint32_t spe_char_len(unsigned char c)
{
    return (uint32_t)"\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[c >> 4];
}

#endif
