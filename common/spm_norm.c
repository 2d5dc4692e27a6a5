/* The normalizer, a port of libsentencepiece 0.1.97's normalizer.cc:
 * at each position the longest user-defined symbol is copied verbatim,
 * else the longest key of the precompiled charsmap is replaced, else one
 * character is copied (an invalid byte becomes U+FFFD); then the
 * whitespace rules (leading/extra/trailing spaces, the dummy prefix, ' '
 * -> U+2581). An ASCII fast path copies bytes the charsmap maps to
 * themselves; its table is derived from the charsmap at load time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "spm_enc.h"
#include "term_text.h"

/* darts-clone unit fields (third_party/darts_clone/darts.h). */
static inline int du_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t du_value(uint32_t u) { return u & 0x7fffffffu; }
static inline uint32_t du_label(uint32_t u) { return u & (0x80000000u | 0xffu); }
static inline uint32_t du_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* Longest charsmap key that prefixes s[0, n) (darts commonPrefixSearch);
 * its length, 0 when none; *value the replacement's offset in the pool.
 * Indices past the array (a damaged charsmap) end the search. */
static size_t darts_longest(const struct spe_norm *nm, const unsigned char *s, size_t n,
                            uint32_t *value)
{
    size_t best = 0;
    size_t node = du_offset(nm->units[0]);
    for (size_t i = 0; i < n; i++) {
        node ^= s[i];
        if (node >= nm->n_units)
            return best;
        uint32_t u = nm->units[node];
        if (du_label(u) != s[i])
            return best;
        node ^= du_offset(u);
        if (du_has_leaf(u)) {
            if (node >= nm->n_units)
                return best;
            best = i + 1;
            *value = du_value(nm->units[node]);
        }
    }
    return best;
}

/* libsentencepiece's IsValidDecodeUTF8: the character's length, or 0 when
 * the bytes are not valid UTF-8 (overlong, surrogate, > U+10FFFF). */
static uint32_t utf8_len_valid(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
#define TRAIL(x) (((x) & 0xc0) == 0x80)
    if (n >= 2 && (c & 0xe0) == 0xc0) {
        uint32_t cp = (c & 0x1fu) << 6 | (s[1] & 0x3fu);
        return TRAIL(s[1]) && cp >= 0x80 ? 2 : 0;
    }
    if (n >= 3 && (c & 0xf0) == 0xe0) {
        uint32_t cp = (c & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
        return TRAIL(s[1]) && TRAIL(s[2]) && cp >= 0x800 && (cp < 0xd800 || cp >= 0xe000) ? 3
                                                                                            : 0;
    }
    if (n >= 4 && (c & 0xf8) == 0xf0) {
        uint32_t cp = (c & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 |
                      (s[3] & 0x3fu);
        return TRAIL(s[1]) && TRAIL(s[2]) && TRAIL(s[3]) && cp >= 0x10000 && cp <= 0x10ffff ? 4
                                                                                           : 0;
    }
#undef TRAIL
    return 0;
}

/* Longest user-defined symbol that prefixes s[0, n), 0 when none. */
static size_t ud_longest(const struct spe_trie *t, const unsigned char *s, size_t n)
{
    size_t best = 0;
    uint32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        node = spe_trie_next(t, node, s[i]);
        if (!node)
            break;
        if (t->value[node] >= 0)
            best = i + 1;
    }
    return best;
}

/* NormalizePrefix: bytes consumed, and the replacement in *rep, *rl. */
static size_t norm_prefix(const struct spe_norm *nm, const unsigned char *s, size_t n,
                          const char **rep, size_t *rl)
{
    if (nm->has_ud && nm->ud_first[s[0]]) {
        size_t l = ud_longest(&nm->ud, s, n);
        if (l) {
            *rep = (const char *)s;
            *rl = l;
            return l;
        }
    }
    if (nm->units) {
        uint32_t v = 0;
        size_t l = darts_longest(nm, s, n, &v);
        if (l) {
            *rep = v < nm->pool_len ? nm->pool + v : "";
            *rl = strlen(*rep);
            return l;
        }
    }
    uint32_t l = utf8_len_valid(s, n);
    if (!l) {
        *rep = "\xef\xbf\xbd";
        *rl = 3;
        return 1;
    }
    *rep = (const char *)s;
    *rl = l;
    return l;
}

/* The ASCII fast-path class of byte b (see struct spe_norm). */
static uint8_t ascii_class(const struct spe_norm *nm, unsigned char b)
{
    if (nm->has_ud && nm->ud_first[b])
        return SPE_NC_SLOW;
    if (!nm->units)
        return SPE_NC_COPY;
    uint32_t v = 0;
    if (darts_longest(nm, &b, 1, &v)) {
        const char *rep = v < nm->pool_len ? nm->pool + v : "";
        if (rep[0] != (char)b || rep[1] != '\0')
            return SPE_NC_SLOW;
    }
    /* Keys longer than b itself: with an ASCII or any second byte. */
    size_t node = du_offset(nm->units[0]) ^ b;
    if (node >= nm->n_units || du_label(nm->units[node]) != b)
        return SPE_NC_COPY;
    node ^= du_offset(nm->units[node]);
    bool cont_ascii = false, cont_any = false;
    for (unsigned c = 1; c < 256; c++) {
        size_t ch = node ^ c;
        if (ch < nm->n_units && du_label(nm->units[ch]) == c) {
            cont_any = true;
            cont_ascii |= c < 0x80;
        }
    }
    if (!cont_any)
        return SPE_NC_COPY;
    return cont_ascii ? SPE_NC_SLOW : SPE_NC_COPY_ASCII;
}

/* libsentencepiece's bounds on what one lookup may find: Normalizer::
 * NormalizePrefix keeps the charsmap keys that prefix the text in an array
 * of 32 on its stack (kMaxTrieResultsSize), PrefixMatcher::PrefixMatch the
 * user-defined symbols that do in one of 64. darts-clone's
 * commonPrefixSearch stores no more than that but returns how many there
 * were, and both callers read that many: past the array, a crash (a chain
 * Q, QQ, QQQ, ... of 33 keys; spm_train itself writes 70 user-defined
 * symbols =, ==, ===, ...). */
enum { SPE_LIB_MAX_KEYS = 32, SPE_LIB_MAX_UD = 64 };

/* Whether s[0, n) is well-formed UTF-8 throughout (IsValidDecodeUTF8's
 * rules: no overlong form, surrogate or code point past U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t l = utf8_len_valid(s + i, n - i);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

/* The charsmap's double array as libsentencepiece walks it, unchecked
 * (darts-clone's commonPrefixSearch reads the unit at base ^ byte for any
 * input byte): from every base the root reaches, all 256 child slots must
 * lie inside the array, every leaf's replacement must be a NUL-terminated
 * string inside the pool, and no path from the root may pass more than
 * SPE_LIB_MAX_KEYS leaves (keys; a loop through a leaf passes any number).
 * Arrays darts-clone builds come in blocks of 256 units, so they pass. A
 * damaged one made libsentencepiece read past its buffers (a crash, or ids
 * from stray bytes). *bad_utf8 is set when a replacement is not UTF-8
 * (not damage: see spe_norm_init). */
static int darts_check(const struct spe_norm *nm, const unsigned char *pool, const char *which,
                       const char *name, bool *bad_utf8)
{
    const size_t n = nm->n_units;
    /* keys[base]: the most leaves a path from the root to base passes
     * (0xff: not reached); a base goes back on the stack when that grows,
     * at most SPE_LIB_MAX_KEYS + 1 times */
    uint8_t *keys = malloc(n);
    uint8_t *queued = calloc(n, 1);
    size_t *todo = malloc(n * sizeof(*todo));
    int ret = 0;
    if (!keys || !queued || !todo) {
        ret = ingot_oom("the charsmap check", n * (2 + sizeof(*todo)));
        goto out;
    }
    memset(keys, 0xff, n);
    size_t top = 0, root = du_offset(nm->units[0]);
    const char *what = NULL;
    if (root < n) {
        keys[root] = 0;
        queued[root] = 1;
        todo[top++] = root;
    } else {
        what = "its root points past the array";
    }
    while (top && !what) {
        const size_t base = todo[--top];
        queued[base] = 0;
        if ((base | 255) >= n) {
            what = "a node's children lie past the array";
            break;
        }
        for (uint32_t c = 0; c < 256 && !what; c++) {
            const uint32_t u = nm->units[base ^ c];
            if (du_label(u) != c)
                continue;
            const size_t next = (base ^ c) ^ du_offset(u);
            unsigned k = keys[base];
            if ((next | 255) >= n) {
                what = "a node's children lie past the array";
            } else if (du_has_leaf(u)) {
                const uint32_t v = du_value(nm->units[next]);
                const unsigned char *end =
                    v < nm->pool_len ? memchr(pool + v, '\0', nm->pool_len - v) : NULL;
                if (!end)
                    what = "a replacement lies past its string pool";
                else if (!utf8_valid(pool + v, (size_t)(end - (pool + v))))
                    *bad_utf8 = true;
                if (++k > SPE_LIB_MAX_KEYS)
                    what = "more than 32 of its keys prefix one text, more than libsentencepiece "
                           "takes";
            }
            if (!what && (keys[next] == 0xff || k > keys[next])) {
                keys[next] = (uint8_t)k;
                if (!queued[next]) {
                    queued[next] = 1;
                    todo[top++] = next;
                }
            }
        }
    }
    if (what)
        ret = ingot_fail(INGOT_E_TOKENIZER,
                         "%s: the %s's precompiled charsmap is broken (%s); retrain the model",
                         name, which, what);
out:
    free(keys);
    free(queued);
    free(todo);
    return ret;
}

/* A precompiled charsmap (the normalizer's or, which = "denormalizer",
 * the denormalizer's) into nm, nothing when cm is NULL; checked as
 * libsentencepiece will read it. */
static int charsmap_load(struct spe_norm *nm, const unsigned char *cm, size_t len,
                         const char *which, const char *name, bool *bad_utf8)
{
    int ret;
    if (cm) {
        /* <u32 trie bytes><darts units><NUL-terminated replacements>, as
         * Normalizer::DecodePrecompiledCharsMap checks it. */
        const unsigned char *b = cm;
        uint32_t tsize = len > 4 ? (uint32_t)b[0] | (uint32_t)b[1] << 8 |
                                       (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
                                 : 0;
        if (len <= 4 || tsize >= len - 4 + 4 || tsize >= len)
            return ingot_fail(INGOT_E_TOKENIZER,
                              "%s: the %s's precompiled charsmap is broken (%zu bytes, "
                              "trie of %u); retrain the model",
                              name, which, len, tsize);
        nm->n_units = tsize / 4;
        if (tsize > len - 4 || nm->n_units == 0)
            return ingot_fail(INGOT_E_TOKENIZER,
                              "%s: the %s's precompiled charsmap's trie (%u bytes) does not fit",
                              name, which, tsize);
        nm->units = malloc(nm->n_units * 4);
        nm->pool_len = len - 4 - tsize;
        nm->pool = malloc(nm->pool_len + 1);
        if (!nm->units || !nm->pool) {
            spe_norm_free(nm);
            return ingot_oom("the normalizer's charsmap", len);
        }
        for (size_t i = 0; i < nm->n_units; i++) {
            const unsigned char *q = b + 4 + 4 * i;
            nm->units[i] = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                           (uint32_t)q[3] << 24;
        }
        memcpy(nm->pool, b + 4 + tsize, nm->pool_len);
        nm->pool[nm->pool_len] = '\0';
        if ((ret = darts_check(nm, b + 4 + tsize, which, name, bad_utf8))) {
            spe_norm_free(nm);
            return ret;
        }
    }
    return 0;
}

/* The denormalizer's charsmap, checked and dropped: libsentencepiece runs
 * it over decoded text (ingot-dump docs, ingot-train generate). */
static int denorm_check(const struct spe_proto *p, const char *name)
{
    struct spe_norm dn;
    memset(&dn, 0, sizeof(dn));
    bool bad_utf8 = false;   /* decode only: the encoder never meets it */
    int ret = charsmap_load(&dn, p->denorm_charsmap, p->denorm_charsmap_len, "denormalizer",
                            name, &bad_utf8);
    spe_norm_free(&dn);
    return ret;
}

/* s[0, len) (no NUL in it) for a message, with the bytes that are not
 * UTF-8 as \xHH (term_text_esc): a symbol's bytes are what matters. A long
 * one is cut, with "...". */
static const char *piece_esc(const char *s, uint32_t len, char *buf, size_t n)
{
    char raw[48 + 4];
    size_t k = term_text_cut(s, len, 48);
    memcpy(raw, s, k);
    strcpy(raw + k, k < len ? "..." : "");
    return term_text_esc(raw, buf, n);
}

/* The bytes of user-defined symbol pc libsentencepiece's PrefixMatcher
 * keys on: up to a NUL (it hands darts-clone C strings). */
static uint32_t ud_key_len(const struct spe_piece *pc)
{
    const char *z = memchr(pc->s, '\0', pc->len);
    return z ? (uint32_t)(z - pc->s) : pc->len;
}

/* The trie of the model's user-defined symbols (value: piece id) into t;
 * *n_ud how many there are (t is left zeroed when none). */
static int ud_build(struct spe_trie *t, const struct spe_proto *p, const char *name,
                    size_t *n_ud)
{
    memset(t, 0, sizeof(*t));
    size_t n = 0;
    for (uint32_t i = 0; i < p->n_pieces; i++)
        n += p->pieces[i].type == SPE_USER_DEFINED;
    *n_ud = n;
    if (!n)
        return 0;
    const char **keys = malloc(n * sizeof(*keys));
    uint32_t *lens = malloc(n * sizeof(*lens));
    int32_t *vals = malloc(n * sizeof(*vals));
    int ret;
    if (!keys || !lens || !vals) {
        ret = ingot_oom("the user-defined symbol table", n * 16);
        goto out;
    }
    size_t k = 0;
    for (uint32_t i = 0; i < p->n_pieces; i++) {
        if (p->pieces[i].type != SPE_USER_DEFINED)
            continue;
        keys[k] = p->pieces[i].s;
        lens[k] = ud_key_len(&p->pieces[i]);
        vals[k] = (int32_t)i;
        k++;
    }
    if ((ret = spe_trie_build(t, n, keys, lens, vals)) == -ENOTSUP)
        ret = ingot_fail(-ENOTSUP, "%s: the user-defined symbols: %s", name, ingot_errmsg());
out:
    free(keys), free(lens), free(vals);
    return ret;
}

/* PrefixMatcher's bound: no user-defined symbol may have more than
 * SPE_LIB_MAX_UD user-defined symbols (itself included) as prefixes: the
 * text that is that symbol makes PrefixMatch find them all. */
static int ud_check(const struct spe_trie *t, const struct spe_proto *p, const char *name)
{
    for (uint32_t i = 0; i < p->n_pieces; i++) {
        const struct spe_piece *pc = &p->pieces[i];
        if (pc->type != SPE_USER_DEFINED)
            continue;
        const uint32_t len = ud_key_len(pc);
        uint32_t node = 0, found = 0;
        for (uint32_t j = 0; j < len && (node = spe_trie_next(t, node, (unsigned char)pc->s[j]));
             j++)
            found += t->value[node] >= 0;
        if (found > SPE_LIB_MAX_UD) {
            char shown[160];
            return ingot_fail(INGOT_E_TOKENIZER,
                              "%s: user-defined symbol %u (%s) begins with %u user-defined "
                              "symbols (itself included), more than the %d libsentencepiece "
                              "takes (it crashes on a text that holds it); retrain with fewer "
                              "user-defined symbols that are prefixes of one another",
                              name, i, piece_esc(pc->s, len, shown, sizeof(shown)), found,
                              SPE_LIB_MAX_UD);
        }
    }
    return 0;
}

/* spe_model_check's part here: both charsmaps and the user-defined
 * symbols' prefix chains, everything of the normalizers libsentencepiece
 * reads unchecked (spm_enc.h names it for the charsmap alone). */
int spe_charsmap_check(const struct spe_proto *p, const char *name)
{
    struct spe_norm nm;
    memset(&nm, 0, sizeof(nm));
    bool bad_utf8 = false;   /* libsentencepiece takes it; spe_norm_init falls back */
    int ret = charsmap_load(&nm, p->charsmap, p->charsmap_len, "normalizer", name, &bad_utf8);
    spe_norm_free(&nm);
    if (!ret)
        ret = denorm_check(p, name);
    if (!ret) {
        struct spe_trie ud;
        size_t n_ud;
        if (!(ret = ud_build(&ud, p, name, &n_ud)))
            ret = ud_check(&ud, p, name);
        spe_trie_free(&ud);
    }
    return ret;
}

int spe_norm_init(struct spe_norm *nm, const struct spe_proto *p, const char *name)
{
    memset(nm, 0, sizeof(*nm));
    nm->add_dummy_prefix = p->add_dummy_prefix;
    nm->remove_extra_ws = p->remove_extra_ws;
    nm->escape_ws = p->escape_ws;
    nm->ws_suffix = p->treat_ws_suffix;
    bool bad_rep = false;
    size_t n_ud = 0;
    int ret;
    /* What spe_model_check refuses first (so that a model the library
     * would crash on is refused here too, not handed to it), then what
     * this encoder does not copy (-ENOTSUP). */
    if ((ret = charsmap_load(nm, p->charsmap, p->charsmap_len, "normalizer", name, &bad_rep)) ||
        (ret = denorm_check(p, name)) || (ret = ud_build(&nm->ud, p, name, &n_ud)) ||
        (ret = ud_check(&nm->ud, p, name)))
        goto fail;
    /* A replacement or a user-defined symbol that is not UTF-8 goes into
     * the normalized text as it is, and libsentencepiece takes a
     * character's length from its first byte alone (OneCharLen): one runs
     * on over the next bytes, across a ▁ and the cut between words. The
     * library's ids, through the fallback; spm_train writes neither. */
    if (bad_rep) {
        ret = ingot_fail(-ENOTSUP,
                         "%s: a replacement in the precompiled charsmap is not UTF-8, which "
                         "this encoder does not handle", name);
        goto fail;
    }
    for (uint32_t i = 0; i < p->n_pieces; i++) {
        const struct spe_piece *pc = &p->pieces[i];
        if (pc->type != SPE_USER_DEFINED)
            continue;
        if (!utf8_valid((const unsigned char *)pc->s, pc->len)) {
            char shown[160];
            ret = ingot_fail(-ENOTSUP,
                             "%s: user-defined symbol %u (%s) is not UTF-8, which this encoder "
                             "does not handle",
                             name, i, piece_esc(pc->s, pc->len, shown, sizeof(shown)));
            goto fail;
        }
        nm->ud_first[(unsigned char)pc->s[0]] = 1;
    }
    /* User-defined symbols are matched before the charsmap. */
    nm->has_ud = n_ud > 0;
    for (unsigned b = 0; b < 128; b++)
        nm->cls[b] = ascii_class(nm, (unsigned char)b);
    return 0;
fail:
    spe_norm_free(nm);
    return ret;
}

void spe_norm_free(struct spe_norm *nm)
{
    if (!nm)
        return;
    free(nm->units);
    free(nm->pool);
    spe_trie_free(&nm->ud);
    memset(nm, 0, sizeof(*nm));
}

static int norm_reserve(struct spe_scratch *s, size_t need)
{
    if (need <= s->norm_cap)
        return 0;
    return spe_grow(&s->norm, &s->norm_cap, need, 1, "the normalized text");
}

/* Normalizer::Normalize without norm_to_orig. */
int spe_normalize(const struct spe_norm *nm, struct spe_scratch *s, const char *in_, size_t n,
                  size_t *out_len)
{
    const unsigned char *in = (const unsigned char *)in_;
    const char *rep;
    size_t rl, pos = 0, len = 0;
    *out_len = 0;
    if (n == 0)
        return 0;
    if (nm->remove_extra_ws) {
        while (pos < n) {
            size_t c = norm_prefix(nm, in + pos, n - pos, &rep, &rl);
            if (rl != 1 || rep[0] != ' ')
                break;
            pos += c;
        }
    }
    if (pos == n)
        return 0;
    /* Every path below writes at most 3 bytes per input byte, except a
     * charsmap replacement, which reserves for itself. */
    int ret = norm_reserve(s, 3 * (n - pos) + 8);
    if (ret)
        return ret;
    char *out = s->norm;
    const char *ws = nm->escape_ws ? SPE_WS : " ";
    size_t ws_len = nm->escape_ws ? 3 : 1;
    if (!nm->ws_suffix && nm->add_dummy_prefix) {
        memcpy(out, ws, ws_len);
        len += ws_len;
    }
    bool prev_space = nm->remove_extra_ws;
    while (pos < n) {
        unsigned char b = in[pos];
        if (b < 0x80) {
            uint8_t cls = nm->cls[b];
            if (cls == SPE_NC_COPY ||
                (cls == SPE_NC_COPY_ASCII && (pos + 1 == n || in[pos + 1] < 0x80))) {
                pos++;
                if (b != ' ') {
                    out[len++] = (char)b;
                    prev_space = false;
                } else if (!prev_space) {
                    /* What the slow path does with a space that stays a
                     * space: written (escaped), or dropped after another. */
                    memcpy(out + len, ws, ws_len);
                    len += ws_len;
                    prev_space = nm->remove_extra_ws;
                }
                continue;
            }
        }
        size_t c = norm_prefix(nm, in + pos, n - pos, &rep, &rl);
        if (prev_space)
            while (rl && rep[0] == ' ')
                rep++, rl--;
        if (rl) {
            /* A replacement may be longer than 3 bytes per byte consumed. */
            if (len + 3 * rl + 3 * (n - pos) + 8 > s->norm_cap) {
                if ((ret = norm_reserve(s, len + 3 * rl + 3 * (n - pos) + 8)))
                    return ret;
                out = s->norm;
            }
            for (size_t k = 0; k < rl; k++) {
                if (rep[k] == ' ' && nm->escape_ws) {
                    memcpy(out + len, SPE_WS, 3);
                    len += 3;
                } else {
                    out[len++] = rep[k];
                }
            }
            prev_space = rep[rl - 1] == ' ';
        }
        pos += c;
        if (!nm->remove_extra_ws)
            prev_space = false;
    }
    if (nm->remove_extra_ws)
        while (len >= ws_len && memcmp(out + len - ws_len, ws, ws_len) == 0)
            len -= ws_len;
    if (nm->ws_suffix && nm->add_dummy_prefix) {
        memcpy(out + len, ws, ws_len);
        len += ws_len;
    }
    *out_len = len;
    return 0;
}
