/* JSON for terminals: jansson's text, DEL escaped (json_term.h). */
#include <stdlib.h>
#include <string.h>

#include "json_term.h"
#include "term_text.h"

char *json_term_dumps(const json_t *j, size_t flags)
{
    char *t = json_dumps(j, flags | JSON_ENSURE_ASCII);
    if (!t)
        return NULL;
    size_t len = 0, n_del = 0;
    for (const char *p = t; *p; p++, len++)
        n_del += *p == 0x7F;
    if (!n_del)
        return t;
    /* With every character past ASCII escaped, a DEL byte of the text is
     * one inside a string (JSON has none between its tokens): \u007f there
     * is the same string. */
    char *out = malloc(len + 5 * n_del + 1), *o = out;
    if (out) {
        for (const char *p = t; *p; p++) {
            if (*p == 0x7F) {
                memcpy(o, "\\u007f", 6);
                o += 6;
            } else {
                *o++ = *p;
            }
        }
        *o = '\0';
    }
    free(t);
    return out;
}

int json_term_dumpf(const json_t *j, FILE *f, size_t flags)
{
    char *t = json_term_dumps(j, flags);
    int ret = t && fputs(t, f) >= 0 ? 0 : -1;
    free(t);
    return ret;
}

char *json_term_escape(const char *s)
{
    size_t len = strlen(s), bad = 0;
    for (size_t i = 0, k; i < len; i += k ? k : 1)
        if (!(k = term_text_char_len(s + i, len - i)))
            bad++;
    char *e = malloc(len + 3 * bad + 1), *o = e;
    if (!e)
        return NULL;
    for (size_t i = 0, k; i < len; i += k ? k : 1) {
        if ((k = term_text_char_len(s + i, len - i))) {
            memcpy(o, s + i, k);
            o += k;
        } else {
            o += sprintf(o, "\\x%02X", (unsigned char)s[i]);
        }
    }
    *o = 0;
    return e;
}

json_t *json_term_name(const char *s)
{
    char *e = s ? json_term_escape(s) : NULL;
    json_t *j = e ? json_string(e) : NULL;
    free(e);
    return j;
}
