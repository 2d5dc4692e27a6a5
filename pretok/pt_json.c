/* A small validating JSON reader that decodes only the wanted field. It keeps
 * an explicit stack of container kinds (one bit per level) instead of
 * recursing; `match` tracks how many components of the field path the open
 * containers have matched, so only keys of the right object are compared. */
#include "pt_json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "term_text.h"

/* One alternative: components split at '.', digit-only ones also read as
 * array indices. */
/* A --text-key in a message: at most KEY_SHOWN bytes of it, so that the
 * reason after it is never cut off (the message buffer is 1 KB), through
 * term_text() (it comes from the command line). */
#define KEY_SHOWN 100
typedef char key_buf[KEY_SHOWN + 4];
static const char *key_text(const char *k, key_buf buf)
{
    return term_text(k, buf, sizeof(key_buf));
}

/* The n bytes at s quoted for a message: "s", or "start..." (N bytes). */
static int quote_shown(char *dst, size_t cap, const char *s, size_t n)
{
    size_t k = term_text_cut(s, n, PT_JSON_SHOWN);
    if (k == n)
        return snprintf(dst, cap, "\"%.*s\"", (int)n, s);
    return snprintf(dst, cap, "\"%.*s...\" (%zu bytes)", (int)k, s, n);
}

static int alt_init(struct pt_json_alt *a, char *s, const char *whole)
{
    for (;;) {
        char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        key_buf tk;
        if (n == 0 || a->n == PT_JSON_MAX_PATH)
            return ingot_fail(INGOT_E_USAGE, "--text-key '%s': %s", key_text(whole, tk),
                              n == 0 ? "empty component in a dotted path (a..b, a. or an "
                                       "empty alternative between commas)"
                                     : "more than 16 components in one path");
        /* "messages.-1.content" (Python's last element) matched only a key
         * "-1", so every record was skipped as missing the field */
        if (n > 1 && s[0] == '-' && strspn(s + 1, "0123456789") >= n - 1)   /* '-', digits */
            return ingot_fail(INGOT_E_USAGE, "--text-key '%s': '%.*s': array indices "
                              "count from 0 at the start (negative ones from the end are not "
                              "supported)", key_text(whole, tk), n > 40 ? 40 : (int)n, s);
        a->key[a->n] = s;
        a->key_len[a->n] = n;
        a->index[a->n] = -1;
        if (n <= 18 && strspn(s, "0123456789") >= n) {
            long long v = 0;
            for (size_t i = 0; i < n; i++)
                v = v * 10 + (s[i] - '0');
            a->index[a->n] = v;
        }
        a->n++;
        if (!dot)
            return 0;
        s = dot + 1;
    }
}

int pt_json_path_init(struct pt_json_path *p, const char *spec)
{
    memset(p, 0, sizeof(*p));
    p->storage = strdup(spec);
    p->spec = strdup(spec);
    p->shown = malloc(PT_JSON_SHOWN + 32);
    if (!p->storage || !p->spec || !p->shown) {
        pt_json_path_free(p);
        return -ENOMEM;
    }
    quote_shown(p->shown, PT_JSON_SHOWN + 32, spec, strlen(spec));
    /* Split at ',' first (in place: each alternative ends at its comma). */
    char *s = p->storage;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        int err = 0;
        key_buf tk;
        if (p->n_alts == PT_JSON_MAX_ALTS)
            err = ingot_fail(INGOT_E_USAGE, "--text-key '%s': more than %d "
                             "alternatives", key_text(spec, tk), PT_JSON_MAX_ALTS);
        else
            err = alt_init(&p->alt[p->n_alts++], s, spec);
        if (err) {
            pt_json_path_free(p);
            return err;
        }
        if (!comma)
            return 0;
        s = comma + 1;
    }
}

void pt_json_path_free(struct pt_json_path *p)
{
    free(p->storage);
    free(p->spec);
    free(p->shown);
    memset(p, 0, sizeof(*p));
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero when some byte of w is '"', '\\' or below 0x20. */
static inline uint64_t special8(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w)) & HIGHS;
}

struct parser {
    const unsigned char *s;
    size_t len, i;
    struct pt_json_result *res;
    struct pt_buf key;      /* decoded key, only for keys with escapes */
};

static bool fail(struct parser *p, const char *what)
{
    p->res->status = PT_JSON_MALFORMED;
    p->res->err_offset = p->i;
    p->res->err_what = what;
    return false;
}

static inline void skip_ws(struct parser *p)
{
    while (p->i < p->len) {
        unsigned char c = p->s[p->i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        p->i++;
    }
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Read 4 hex digits at p->i (after "\u"). Returns the value or -1. */
static long hex4(struct parser *p)
{
    if (p->len - p->i < 4)
        return -1;
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p->s[p->i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Scan the string whose opening quote is at p->i; leaves p->i after the
 * closing quote. With dst, the decoded bytes are appended to it. Returns 1
 * on success, 0 on a syntax error (recorded), -ENOMEM. *escaped tells whether
 * the raw bytes contained a backslash. */
static int scan_string(struct parser *p, struct pt_buf *dst, bool *escaped, size_t *lone)
{
    const unsigned char *s = p->s;
    size_t i = p->i + 1, run = i;
    bool esc = false;
    for (;;) {
        while (i + 8 <= p->len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (special8(w))
                break;
            i += 8;
        }
        while (i < p->len && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20)
            i++;
        if (i >= p->len) {
            p->i = i;
            return fail(p, "unterminated string");
        }
        unsigned char c = s[i];
        if (c == '"')
            break;
        if (c < 0x20) {
            p->i = i;
            return fail(p, "raw control character in a string (must be escaped)");
        }
        /* A backslash escape. */
        esc = true;
        if (dst && pt_buf_append(dst, s + run, i - run))
            return -ENOMEM;
        if (i + 1 >= p->len) {
            p->i = i;
            return fail(p, "unterminated escape");
        }
        char out[8];
        size_t n = 1;
        switch (s[i + 1]) {
        case '"': out[0] = '"'; break;
        case '\\': out[0] = '\\'; break;
        case '/': out[0] = '/'; break;
        case 'b': out[0] = '\b'; break;
        case 'f': out[0] = '\f'; break;
        case 'n': out[0] = '\n'; break;
        case 'r': out[0] = '\r'; break;
        case 't': out[0] = '\t'; break;
        case 'u': {
            p->i = i + 2;
            long cp = hex4(p);
            if (cp < 0)
                return fail(p, "bad \\u escape (needs 4 hex digits)");
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < p->len && s[i] == '\\' &&
                s[i + 1] == 'u') {
                p->i = i + 2;
                long lo = hex4(p);
                if (lo < 0)
                    return fail(p, "bad \\u escape (needs 4 hex digits)");
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                if (lone)
                    ++*lone;
                cp = 0xFFFD;
            }
            n = put_utf8(out, (uint32_t)cp);
            if (dst && pt_buf_append(dst, out, n))
                return -ENOMEM;
            run = i;
            continue;
        }
        default:
            p->i = i;
            return fail(p, "unknown escape in a string");
        }
        if (dst && pt_buf_append(dst, out, n))
            return -ENOMEM;
        i += 2;
        run = i;
    }
    if (dst && pt_buf_append(dst, s + run, i - run))
        return -ENOMEM;
    p->i = i + 1;
    *escaped = esc;
    return 1;
}

static bool scan_number(struct parser *p)
{
    const unsigned char *s = p->s;
    size_t i = p->i;
#define DIGIT(k) ((k) < p->len && s[k] >= '0' && s[k] <= '9')
    if (i < p->len && s[i] == '-')
        i++;
    if (i < p->len && s[i] == '0') {
        i++;
    } else if (DIGIT(i)) {
        while (DIGIT(i))
            i++;
    } else {
        p->i = i;
        return fail(p, "bad number");
    }
    if (i < p->len && s[i] == '.') {
        i++;
        if (!DIGIT(i)) {
            p->i = i;
            return fail(p, "bad number (digits must follow '.')");
        }
        while (DIGIT(i))
            i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!DIGIT(i)) {
            p->i = i;
            return fail(p, "bad number (digits must follow the exponent)");
        }
        while (DIGIT(i))
            i++;
    }
#undef DIGIT
    p->i = i;
    return true;
}

static bool key_equals(struct parser *p, size_t start, size_t end, bool escaped,
                       const char *want, size_t want_len, int *oom)
{
    if (!escaped)
        return end - start == want_len && !memcmp(p->s + start, want, want_len);
    /* Re-decode a key with escapes (rare) to compare decoded bytes. */
    struct parser q = *p;
    bool e;
    q.i = start - 1;
    p->key.len = 0;
    int r = scan_string(&q, &p->key, &e, NULL);
    if (r < 0) {
        *oom = 1;
        return false;
    }
    return p->key.len == want_len && !memcmp(p->key.p, want, want_len);
}

enum { FOUND_NONE, FOUND_STRING, FOUND_OTHER };

/* The walk over one record for one path alternative. The grammar runs as
 * four stages (a value, what follows a value, a container's close, an
 * object's key), each a function that returns the next, as zstd's decoder
 * names its stages. */
struct walk {
    struct parser p;
    const struct pt_json_alt *path;
    struct pt_buf *out;
    uint8_t stack[PT_JSON_MAX_DEPTH / 8 + 1];   /* bit set: object, clear: array */
    size_t depth;
    long match;               /* path components matched by open containers */
    int found;
    int target;               /* 1: the value about to be parsed is the field;
                                 2: it is a container on the path */
    long long elem[PT_JSON_MAX_PATH];  /* element number in each matched array */
    int rc;                   /* -ENOMEM, else 0 */
    char *keys;               /* pt_json_keys: the top level's keys, ", "-separated */
    size_t keys_cap;
};

enum stage { ST_VALUE, ST_AFTER_VALUE, ST_CLOSE, ST_KEY, ST_DONE };

static bool is_object_level(const uint8_t *stack, size_t depth)
{
    return stack[(depth - 1) / 8] >> ((depth - 1) % 8) & 1;
}

/* The value at p.i becomes the wanted field (1) or a container on the path
 * (2) when the open container at this depth matched the path so far and
 * this is the wanted element. */
static int target_for(const struct walk *w)
{
    return w->depth == w->path->n ? 1 : 2;
}

/* '{' or '[' at p.i: open it; an empty one closes at once. */
static enum stage open_container(struct walk *w, unsigned char c, int this_target)
{
    struct parser *p = &w->p;
    if (w->depth == PT_JSON_MAX_DEPTH) {
        fail(p, "nesting deeper than 10000 levels");
        return ST_DONE;
    }
    if (c == '{')
        w->stack[w->depth / 8] |= (uint8_t)(1u << (w->depth % 8));
    else
        w->stack[w->depth / 8] &= (uint8_t)~(1u << (w->depth % 8));
    w->depth++;
    p->i++;
    const long level = (long)w->depth - 1;
    if (this_target == 1)
        w->found = FOUND_OTHER;
    else if (this_target == 2 && (c == '{' || w->path->index[level] >= 0))
        w->match = level;
    if (this_target == 2)
        w->found = FOUND_NONE;   /* a later duplicate replaces the object */
    skip_ws(p);
    if (p->i < p->len && p->s[p->i] == (c == '{' ? '}' : ']')) {
        p->i++;
        return ST_CLOSE;
    }
    if (c == '{')
        return ST_KEY;
    /* element 0 of an array on the path */
    if (w->match == level) {
        w->elem[level] = 0;
        if (w->path->index[level] == 0)
            w->target = target_for(w);
    }
    return ST_VALUE;
}

static enum stage value(struct walk *w)
{
    struct parser *p = &w->p;
    skip_ws(p);
    if (p->i >= p->len) {
        fail(p, "unexpected end of record");
        return ST_DONE;
    }
    unsigned char c = p->s[p->i];
    int this_target = w->target;
    w->target = 0;
    if (c == '{' || c == '[')
        return open_container(w, c, this_target);
    if (this_target == 1)
        w->found = c == '"' ? FOUND_STRING : FOUND_OTHER;
    else if (this_target == 2)
        w->found = FOUND_NONE;
    if (c == '"') {
        bool e;
        /* the field's own lone surrogates, not the record's (a later
         * duplicate of the key replaces the text and its count) */
        if (this_target == 1) {
            w->out->len = 0;
            p->res->n_lone_surrogates = 0;
        }
        int r = scan_string(p, this_target == 1 ? w->out : NULL, &e,
                            this_target == 1 ? &p->res->n_lone_surrogates : NULL);
        if (r < 0)
            w->rc = r;
        return r > 0 ? ST_AFTER_VALUE : ST_DONE;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        if (!scan_number(p))
            return ST_DONE;
    } else if (p->len - p->i >= 4 && !memcmp(p->s + p->i, "true", 4)) {
        p->i += 4;
    } else if (p->len - p->i >= 5 && !memcmp(p->s + p->i, "false", 5)) {
        p->i += 5;
    } else if (p->len - p->i >= 4 && !memcmp(p->s + p->i, "null", 4)) {
        p->i += 4;
    } else {
        fail(p, "unexpected character where a value should start");
        return ST_DONE;
    }
    return ST_AFTER_VALUE;
}

/* After a value: the record's end at depth 0, else ',' or the container's
 * close. */
static enum stage after_value(struct walk *w)
{
    struct parser *p = &w->p;
    skip_ws(p);
    if (w->depth == 0) {
        if (p->i != p->len)
            fail(p, "extra characters after the JSON value");
        return ST_DONE;
    }
    if (p->i >= p->len) {
        fail(p, "unexpected end of record");
        return ST_DONE;
    }
    const bool is_obj = is_object_level(w->stack, w->depth);
    const unsigned char c = p->s[p->i];
    if (c == ',') {
        p->i++;
        if (is_obj)
            return ST_KEY;
        /* The next element of an array on the path: the wanted one? (A
         * matched array's level is below path->n, and containers inside
         * keep their own counters.) */
        const long level = (long)w->depth - 1;
        if (w->match == level && ++w->elem[level] == w->path->index[level])
            w->target = target_for(w);
        return ST_VALUE;
    }
    if (c != (is_obj ? '}' : ']')) {
        fail(p, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        return ST_DONE;
    }
    p->i++;
    return ST_CLOSE;
}

/* The container at the top of the stack has closed. */
static enum stage close_container(struct walk *w)
{
    if (w->match == (long)w->depth - 1)
        w->match = (long)w->depth - 2;
    w->depth--;
    return ST_AFTER_VALUE;
}

/* An object's key and its ':'; compared only at a level the path reaches. */
static enum stage key(struct walk *w)
{
    struct parser *p = &w->p;
    skip_ws(p);
    if (p->i >= p->len || p->s[p->i] != '"') {
        fail(p, "expected a string key");
        return ST_DONE;
    }
    const size_t start = p->i + 1;
    bool e;
    int r = scan_string(p, NULL, &e, NULL);
    if (r <= 0) {
        w->rc = r < 0 ? r : 0;
        return ST_DONE;
    }
    const size_t level = w->depth - 1;
    if (w->keys && w->depth == 1) {   /* as written (escapes and all), cut at keys_cap */
        size_t at = strlen(w->keys), n = p->i - 1 - start;
        const char *k = (const char *)p->s + start;
        char q[PT_JSON_SHOWN + 32];
        if (term_text_cut(k, n, PT_JSON_SHOWN) < n) {   /* a long key: its start */
            n = (size_t)quote_shown(q, sizeof(q), k, n);
            k = q;
        }
        if (at + n + 3 < w->keys_cap) {
            snprintf(w->keys + at, w->keys_cap - at, "%s%.*s", at ? ", " : "", (int)n, k);
        } else {
            if (at + 6 <= w->keys_cap)
                snprintf(w->keys + at, w->keys_cap - at, ", ...");
            w->keys = NULL;   /* full: no later, shorter key after the "..." */
        }
    }
    if (w->match == (long)level && level < w->path->n && is_object_level(w->stack, w->depth)) {
        int oom = 0;
        if (key_equals(p, start, p->i - 1, e, w->path->key[level], w->path->key_len[level],
                       &oom))
            w->target = target_for(w);
        if (oom) {
            w->rc = -ENOMEM;
            return ST_DONE;
        }
    }
    skip_ws(p);
    if (p->i >= p->len || p->s[p->i] != ':') {
        fail(p, "expected ':' after a key");
        return ST_DONE;
    }
    p->i++;
    return ST_VALUE;
}

static int walk_record(const char *str, size_t len, const struct pt_json_alt *path,
                       struct pt_buf *out, struct pt_json_result *res, char *keys,
                       size_t keys_cap);

static int extract_one(const char *str, size_t len, const struct pt_json_alt *path,
                       struct pt_buf *out, struct pt_json_result *res)
{
    return walk_record(str, len, path, out, res, NULL, 0);
}

int pt_json_keys(const char *s, size_t len, char *keys, size_t cap)
{
    static const struct pt_json_alt none = { .n = 0 };   /* matches no key */
    struct pt_buf out = { 0 };
    struct pt_json_result res;
    if (cap)
        keys[0] = '\0';
    int rc = walk_record(s, len, &none, &out, &res, cap ? keys : NULL, cap);
    pt_buf_free(&out);
    return rc;
}

static int walk_record(const char *str, size_t len, const struct pt_json_alt *path,
                       struct pt_buf *out, struct pt_json_result *res, char *keys,
                       size_t keys_cap)
{
    /* the walk's 1.3 KB stack of container bits is not cleared: each level's
     * bit is written when the level opens */
    struct walk w;
    w.p = (struct parser){ .s = (const unsigned char *)str, .len = len, .res = res };
    w.path = path;
    w.out = out;
    w.depth = 0;
    w.match = 0;
    w.found = FOUND_NONE;
    w.target = 0;
    w.rc = 0;
    w.keys = keys;
    w.keys_cap = keys_cap;

    memset(res, 0, sizeof(*res));
    out->len = 0;
    struct parser *p = &w.p;
    skip_ws(p);
    enum stage st = ST_VALUE;
    if (p->i >= p->len || p->s[p->i] != '{') {
        if (p->i < p->len && (p->s[p->i] == '[' || p->s[p->i] == '"' || p->s[p->i] == '-' ||
                              (p->s[p->i] >= '0' && p->s[p->i] <= '9') || p->s[p->i] == 't' ||
                              p->s[p->i] == 'f' || p->s[p->i] == 'n'))
            fail(p, "the record is not a JSON object");
        else
            fail(p, p->i >= p->len ? "empty record" : "not JSON");
        st = ST_DONE;
    }
    while (st != ST_DONE) {
        switch (st) {
        case ST_VALUE:       st = value(&w); break;
        case ST_AFTER_VALUE: st = after_value(&w); break;
        case ST_CLOSE:       st = close_container(&w); break;
        case ST_KEY:         st = key(&w); break;
        case ST_DONE:        break;
        }
    }
    pt_buf_free(&p->key);
    if (w.rc < 0)
        return w.rc;
    if (res->status == PT_JSON_OK)
        res->status = w.found == FOUND_STRING ? PT_JSON_OK
                    : w.found == FOUND_OTHER  ? PT_JSON_NOT_STRING
                                              : PT_JSON_MISSING;
    return 0;
}

int pt_json_extract(const char *str, size_t len, const struct pt_json_path *path,
                    struct pt_buf *out, struct pt_json_result *res)
{
    bool not_string = false;
    for (size_t a = 0; a < path->n_alts; a++) {
        int rc = extract_one(str, len, &path->alt[a], out, res);
        if (rc < 0 || res->status == PT_JSON_OK || res->status == PT_JSON_MALFORMED)
            return rc;
        not_string |= res->status == PT_JSON_NOT_STRING;
    }
    out->len = 0;
    res->status = not_string ? PT_JSON_NOT_STRING : PT_JSON_MISSING;
    return 0;
}
