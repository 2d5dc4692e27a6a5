#include "term_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The length of the well-formed UTF-8 sequence at s (1 to 4 bytes) and its
 * code point in *cp; 0 when there is none (a stray continuation byte, an
 * overlong form, a surrogate, past U+10FFFF, cut short by the NUL or by the
 * end of the avail bytes that may be read). */
static size_t utf8_len(const unsigned char *s, size_t avail, uint32_t *cp)
{
    const unsigned char c = s[0];
    *cp = c;
    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    size_t k = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (k > avail)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;   /* also stops at the NUL */
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
        return 0;
    *cp = c & (0x7F >> k);
    for (size_t i = 1; i < k; i++)
        *cp = *cp << 6 | (s[i] & 0x3F);
    return k;
}

/* The characters term_text.h lists as shown '?': controls, bidirectional
 * controls, invisible format characters, line and paragraph separators. */
static bool hidden(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||   /* C0, DEL, C1 */
           cp == 0x061C || cp == 0x180E ||                /* ALM; Mongolian vowel sep. */
           (cp >= 0x200B && cp <= 0x200F) ||              /* ZWSP, ZWNJ, ZWJ, LRM, RLM */
           (cp >= 0x2028 && cp <= 0x202E) ||              /* LS, PS; LRE..RLO */
           (cp >= 0x2060 && cp <= 0x206F) ||              /* WJ..; LRI..PDI; deprecated */
           cp == 0xFEFF;                                  /* ZWNBSP (BOM) */
}

/* The length of what is at s, 1 byte when it is not well-formed UTF-8, and
 * whether it is shown as '?'. */
static size_t next_char(const unsigned char *s, size_t avail, bool *q)
{
    uint32_t cp;
    size_t k = utf8_len(s, avail, &cp);
    *q = !k || hidden(cp);
    return k ? k : 1;
}

const char *term_text_n(const char *s, size_t len, char *buf, size_t n)
{
    if (!s) {
        s = "?";
        len = 1;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    bool q;
    while (i < len && u[i]) {
        size_t k = next_char(u + i, len - i, &q);
        size_t w = q ? 1 : k;
        if (o + w + 1 > n)
            break;
        if (q)
            buf[o] = '?';
        else
            memcpy(buf + o, u + i, k);
        o += w;
        i += k;
    }
    if (i < len && u[i] && n >= 4) {   /* cut: say so, after a whole character */
        o = term_text_cut(buf, o, n - 4);
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = 0;
    return buf;
}

const char *term_text(const char *s, char *buf, size_t n)
{
    return term_text_n(s, SIZE_MAX, buf, n);   /* to the NUL */
}

/* term_text_esc's unit at u: the character as it is (*w = u, its length), or
 * its escape written into esc; the bytes of u it takes in *k. */
static size_t esc_unit(const unsigned char *u, char esc[16], const char **w, size_t *k)
{
    uint32_t cp;
    *k = utf8_len(u, SIZE_MAX, &cp);
    *w = esc;
    if (!*k) {
        *k = 1;
        return (size_t)snprintf(esc, 16, "\\x%02X", u[0]);
    }
    if (cp == ' ')
        return (size_t)snprintf(esc, 16, "\\x20");
    /* hidden, or a space other than ' ' (Unicode's White_Space that hidden()
     * keeps: NBSP, U+1680, U+2000..U+200A, U+202F, U+205F, U+3000), which a
     * reader splitting the line on white space would take for a gap */
    if (hidden(cp) || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
        cp == 0x202F || cp == 0x205F || cp == 0x3000)
        return (size_t)snprintf(esc, 16, "\\u{%04X}", (unsigned)cp);
    if (cp == '\\')
        return (size_t)snprintf(esc, 16, "\\\\");
    *w = (const char *)u;
    return *k;
}

const char *term_text_esc(const char *s, char *buf, size_t n)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "?");
    char esc[16];
    const char *w;
    size_t total = 0, k;
    for (size_t i = 0; u[i]; i += k)
        total += esc_unit(u + i, esc, &w, &k);
    /* whole when it fits, else whole units and "..." */
    const size_t room = total + 1 <= n ? n - 1 : n >= 4 ? n - 4 : 0;
    size_t i = 0, o = 0;
    while (u[i]) {
        size_t wn = esc_unit(u + i, esc, &w, &k);
        if (o + wn > room)
            break;
        memcpy(buf + o, w, wn);
        o += wn;
        i += k;
    }
    if (u[i] && n >= 4) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = 0;
    return buf;
}

size_t term_text_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    const unsigned char *u = (const unsigned char *)s;
    size_t k = max;
    while (k > 0 && max - k < 3 && (u[k] & 0xC0) == 0x80)   /* inside a character */
        k--;
    return (u[k] & 0xC0) == 0x80 ? max : k;
}

size_t term_text_char_len(const char *s, size_t avail)
{
    uint32_t cp;
    return avail && *s ? utf8_len((const unsigned char *)s, avail, &cp) : 0;
}

size_t term_text_utf8_bad(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;
    for (size_t i = 0, k; u[i]; i += k)
        if (!(k = utf8_len(u + i, SIZE_MAX, &cp)))
            return i;
    return SIZE_MAX;
}

bool term_text_utf8(const char *s)
{
    return s && term_text_utf8_bad(s) == SIZE_MAX;
}

char *term_text_dup(const char *s)
{
    size_t n = strlen(s ? s : "?") + 1;   /* never longer than s: '?' for a char */
    char *buf = malloc(n);
    return buf ? (char *)term_text(s, buf, n) : NULL;
}

bool term_text_plain(const char *s)
{
    if (!s)
        return false;
    const unsigned char *u = (const unsigned char *)s;
    bool q;
    for (size_t i = 0, k; u[i]; i += k) {
        k = next_char(u + i, SIZE_MAX, &q);
        if (q)
            return false;
    }
    return true;
}
