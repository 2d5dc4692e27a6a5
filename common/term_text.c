#include "term_text.h"

#include <string.h>

/* The length of the well-formed UTF-8 sequence at s (1 to 4 bytes), 0 when
 * there is none (a stray continuation byte, an overlong form, a surrogate,
 * past U+10FFFF, cut short by the NUL). */
static size_t utf8_len(const unsigned char *s)
{
    const unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    size_t k = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;   /* also stops at the NUL */
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return k;
}

static bool valid_utf8(const unsigned char *s)
{
    for (size_t k; *s; s += k)
        if (!(k = utf8_len(s)))
            return false;
    return true;
}

/* The length of the character at s (1 byte when s is not UTF-8), and
 * whether it is a control character. */
static size_t next_char(const unsigned char *s, bool utf8, bool *ctl)
{
    const unsigned char c = s[0];
    size_t k = utf8 ? utf8_len(s) : 1;
    *ctl = c < 0x20 || c == 0x7F || (utf8 ? c == 0xC2 && s[1] <= 0x9F : c >= 0x80 && c <= 0x9F);
    return k;
}

const char *term_text(const char *s, char *buf, size_t n)
{
    if (!s)
        s = "?";
    const unsigned char *u = (const unsigned char *)s;
    const bool utf8 = valid_utf8(u);
    size_t i = 0, o = 0;
    bool ctl;
    while (u[i]) {
        size_t k = next_char(u + i, utf8, &ctl);
        size_t w = ctl ? 1 : k;
        if (o + w + 1 > n)
            break;
        if (ctl)
            buf[o] = '?';
        else
            memcpy(buf + o, u + i, k);
        o += w;
        i += k;
    }
    if (u[i] && n >= 4) {   /* cut: say so, after a whole character */
        if (o > n - 4) {
            o = n - 4;
            while (utf8 && o > 0 && ((unsigned char)buf[o] & 0xC0) == 0x80)
                o--;
        }
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = 0;
    return buf;
}

bool term_text_plain(const char *s)
{
    if (!s)
        return false;
    const unsigned char *u = (const unsigned char *)s;
    const bool utf8 = valid_utf8(u);
    bool ctl;
    for (size_t i = 0, k; u[i]; i += k) {
        k = next_char(u + i, utf8, &ctl);
        if (ctl)
            return false;
    }
    return true;
}
