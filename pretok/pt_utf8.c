/* UTF-8 checks. The ASCII fast path looks at 8 bytes at a time because
 * nearly all corpus text is ASCII; the slow path is a table-free decoder
 * that knows the exact second-byte ranges of each lead byte. */
#include "pt_utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid sequence starting at s[i] (1..4), or 0 when invalid;
 * on 0, *sub gets the length of the maximal invalid subpart (>= 1). */
static size_t seq_len(const unsigned char *s, size_t i, size_t len, size_t *sub)
{
    unsigned c = s[i];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;   /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *sub = 1;
        return 0;
    }
    for (size_t k = 1; k <= need; k++) {
        if (i + k >= len) {
            *sub = k;
            return 0;
        }
        unsigned b = s[i + k];
        unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (b < l || b > h) {
            *sub = k;
            return 0;
        }
    }
    return need + 1;
}

static size_t ascii_run(const unsigned char *s, size_t i, size_t len)
{
    while (i + 8 <= len) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull)
            break;
        i += 8;
    }
    while (i < len && s[i] < 0x80)
        i++;
    return i;
}

bool pt_utf8_valid(const char *str, size_t len, size_t *bad_at)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, sub;
    for (;;) {
        i = ascii_run(s, i, len);
        if (i >= len)
            return true;
        size_t n = seq_len(s, i, len, &sub);
        if (!n) {
            if (bad_at)
                *bad_at = i;
            return false;
        }
        i += n;
    }
}

size_t pt_utf8_repair(const char *str, size_t len, char *dst, size_t *n_replaced)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, o = 0, bad = 0, sub;
    while (i < len) {
        size_t j = ascii_run(s, i, len);
        memcpy(dst + o, s + i, j - i);
        o += j - i;
        i = j;
        if (i >= len)
            break;
        size_t n = seq_len(s, i, len, &sub);
        if (n) {
            memcpy(dst + o, s + i, n);
            o += n;
            i += n;
        } else {
            dst[o++] = (char)0xEF;
            dst[o++] = (char)0xBF;
            dst[o++] = (char)0xBD;
            i += sub;
            bad++;
        }
    }
    *n_replaced = bad;
    return o;
}

size_t pt_strip_nul(char *s, size_t len)
{
    char *z = memchr(s, 0, len);
    if (!z)
        return len;
    size_t o = (size_t)(z - s);
    for (size_t i = o + 1; i < len; i++)
        if (s[i])
            s[o++] = s[i];
    return o;
}

