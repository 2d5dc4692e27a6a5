#include "term_text.h"

#include <string.h>

const char *term_text(const char *s, char *buf, size_t n)
{
    if (!s)
        s = "?";
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) {
        const unsigned char c = (unsigned char)s[i];
        buf[i] = c < 0x20 || c == 0x7F ? '?' : (char)c;
    }
    buf[i] = 0;
    if (s[i] && n >= 4)   /* cut: say so */
        memcpy(buf + n - 4, "...", 4);
    return buf;
}
