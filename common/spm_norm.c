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

/* The charsmap's double array as libsentencepiece walks it, unchecked
 * (darts-clone's commonPrefixSearch reads the unit at base ^ byte for any
 * input byte): from every base the root reaches, all 256 child slots must
 * lie inside the array, and every leaf's replacement must be a
 * NUL-terminated string inside the pool. Arrays darts-clone builds come in
 * blocks of 256 units, so they pass. A damaged one made libsentencepiece
 * read past its buffers (a crash, or ids from stray bytes). */
static int darts_check(const struct spe_norm *nm, const unsigned char *pool, const char *name)
{
    const size_t n = nm->n_units;
    unsigned char *seen = calloc(n, 1);
    size_t *todo = malloc(n * sizeof(*todo));
    int ret = 0;
    if (!seen || !todo) {
        ret = ingot_oom("the charsmap check", n * (1 + sizeof(*todo)));
        goto out;
    }
    size_t top = 0, root = du_offset(nm->units[0]);
    const char *what = NULL;
    if (root < n) {
        seen[root] = 1;
        todo[top++] = root;
    } else {
        what = "its root points past the array";
    }
    while (top && !what) {
        const size_t base = todo[--top];
        if ((base | 255) >= n) {
            what = "a node's children lie past the array";
            break;
        }
        for (uint32_t c = 0; c < 256 && !what; c++) {
            const uint32_t u = nm->units[base ^ c];
            if (du_label(u) != c)
                continue;
            const size_t next = (base ^ c) ^ du_offset(u);
            if ((next | 255) >= n) {
                what = "a node's children lie past the array";
            } else if (du_has_leaf(u)) {
                const uint32_t v = du_value(nm->units[next]);
                if (v >= nm->pool_len || !memchr(pool + v, '\0', nm->pool_len - v))
                    what = "a replacement lies past its string pool";
            }
            if (!what && !seen[next]) {
                seen[next] = 1;
                todo[top++] = next;
            }
        }
    }
    if (what)
        ret = ingot_fail(INGOT_E_TOKENIZER,
                         "%s: the normalizer's precompiled charsmap is broken (%s); retrain the "
                         "model", name, what);
out:
    free(seen);
    free(todo);
    return ret;
}

/* The precompiled charsmap into nm (nothing when the model has none),
 * checked as libsentencepiece will read it. */
static int charsmap_load(struct spe_norm *nm, const struct spe_proto *p, const char *name)
{
    int ret;
    if (p->charsmap) {
        /* <u32 trie bytes><darts units><NUL-terminated replacements>, as
         * Normalizer::DecodePrecompiledCharsMap checks it. */
        const unsigned char *b = p->charsmap;
        size_t len = p->charsmap_len;
        uint32_t tsize = len > 4 ? (uint32_t)b[0] | (uint32_t)b[1] << 8 |
                                       (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
                                 : 0;
        if (len <= 4 || tsize >= len - 4 + 4 || tsize >= len)
            return ingot_fail(INGOT_E_TOKENIZER,
                              "%s: the normalizer's precompiled charsmap is broken (%zu bytes, "
                              "trie of %u); retrain the model",
                              name, len, tsize);
        nm->n_units = tsize / 4;
        if (tsize > len - 4 || nm->n_units == 0)
            return ingot_fail(INGOT_E_TOKENIZER,
                              "%s: the precompiled charsmap's trie (%u bytes) does not fit", name,
                              tsize);
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
        if ((ret = darts_check(nm, b + 4 + tsize, name))) {
            spe_norm_free(nm);
            return ret;
        }
    }
    return 0;
}

int spe_charsmap_check(const struct spe_proto *p, const char *name)
{
    struct spe_norm nm;
    memset(&nm, 0, sizeof(nm));
    int ret = charsmap_load(&nm, p, name);
    spe_norm_free(&nm);
    return ret;
}

int spe_norm_init(struct spe_norm *nm, const struct spe_proto *p, const char *name)
{
    memset(nm, 0, sizeof(*nm));
    nm->add_dummy_prefix = p->add_dummy_prefix;
    nm->remove_extra_ws = p->remove_extra_ws;
    nm->escape_ws = p->escape_ws;
    nm->ws_suffix = p->treat_ws_suffix;
    int ret;
    if ((ret = charsmap_load(nm, p, name)))
        return ret;
    /* User-defined symbols are matched before the charsmap. */
    size_t n_ud = 0;
    for (uint32_t i = 0; i < p->n_pieces; i++)
        n_ud += p->pieces[i].type == SPE_USER_DEFINED;
    if (n_ud) {
        const char **keys = malloc(n_ud * sizeof(*keys));
        uint32_t *lens = malloc(n_ud * sizeof(*lens));
        int32_t *vals = malloc(n_ud * sizeof(*vals));
        if (!keys || !lens || !vals) {
            free(keys), free(lens), free(vals);
            spe_norm_free(nm);
            return ingot_oom("the user-defined symbol table", n_ud * 16);
        }
        size_t k = 0;
        for (uint32_t i = 0; i < p->n_pieces; i++) {
            if (p->pieces[i].type != SPE_USER_DEFINED)
                continue;
            keys[k] = p->pieces[i].s;
            lens[k] = p->pieces[i].len;
            vals[k] = (int32_t)i;
            nm->ud_first[(unsigned char)p->pieces[i].s[0]] = 1;
            k++;
        }
        ret = spe_trie_build(&nm->ud, n_ud, keys, lens, vals);
        free(keys), free(lens), free(vals);
        if (ret) {
            spe_norm_free(nm);
            return ret;
        }
        nm->has_ud = true;
    }
    for (unsigned b = 0; b < 128; b++)
        nm->cls[b] = ascii_class(nm, (unsigned char)b);
    return 0;
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
