/* json_term_dumps(): JSON that may be read on a terminal. DEL (0x7F),
 * which jansson writes as it is even with JSON_ENSURE_ASCII, comes out as
 * \u007f, in a value and in a key; every character past ASCII as \uXXXX;
 * the text reads back as the same strings, and text without DEL is
 * jansson's own. */
#include <jansson.h>

#include "json_term.h"
#include "test_util.h"

int main(void)
{
    static const char name[] = "a\x7f" "b\xe2\x80\xae" "c\x1b" "d\x7f";
    json_t *j = json_pack("{s:s, s:i}", name, name, "n", 7);
    CHECK(j);
    char *t = json_term_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    CHECK(t);
    /* the key and the value: DEL, U+202E and ESC escaped, nothing raw */
    const char *want = "{\"a\\u007fb\\u202Ec\\u001Bd\\u007f\":\"a\\u007fb\\u202Ec\\u001Bd\\u007f\","
                       "\"n\":7}";
    if (strcmp(t, want)) {
        fprintf(stderr, "json_term_dumps: %s\n  want %s\n", t, want);
        return 1;
    }
    for (const char *p = t; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7F);
    json_t *back = json_loads(t, 0, NULL);
    CHECK(back && json_equal(back, j));
    json_decref(back);
    free(t);
    /* no DEL: jansson's text with JSON_ENSURE_ASCII, as it is */
    json_t *plain = json_pack("{s:s}", "k", "caf\xc3\xa9");
    char *a = json_term_dumps(plain, JSON_COMPACT), *b = json_dumps(plain, JSON_COMPACT |
                                                                      JSON_ENSURE_ASCII);
    CHECK(a && b && !strcmp(a, b) && !strcmp(a, "{\"k\":\"caf\\u00E9\"}"));
    free(a);
    free(b);
    /* json_term_dumpf: the same text on a stream */
    char buf[256] = "";
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
    CHECK(f);
    CHECK(json_term_dumpf(j, f, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0);
    fclose(f);
    CHECK(!strcmp(buf, want));
    json_decref(plain);
    json_decref(j);
    puts("json_term: ok");
    return 0;
}
