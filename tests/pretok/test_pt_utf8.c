/* pt_utf8: validation and repair, the replacements checked against Python's
 * bytes.decode("utf-8", "replace") (maximal subparts). */
#include "pt_test.h"
#include "pt_utf8.h"

static const struct {
    const char *in, *out;   /* hex */
    size_t n_bad;
} cases[] = {
    { "61f18080e180c262806380bf64", "61efbfbdefbfbdefbfbd62efbfbd63efbfbdefbfbd64", 6 },
    { "eda080", "efbfbdefbfbdefbfbd", 3 },          /* a surrogate: not UTF-8 */
    { "f4908080", "efbfbdefbfbdefbfbdefbfbd", 4 },   /* above U+10FFFF */
    { "c0af", "efbfbdefbfbd", 2 },                   /* overlong */
    { "e080af", "efbfbdefbfbdefbfbd", 3 },
    { "f09f98", "efbfbd", 1 },                       /* truncated at the end */
    { "6f6b20f09f9880", "6f6b20f09f9880", 0 },
    { "c3", "efbfbd", 1 },
    { "fffe", "efbfbdefbfbd", 2 },
    { "616263e282", "616263efbfbd", 1 },
    { "", "", 0 },
};

int main(void)
{
    unsigned char in[256], want[256];
    char got[3 * 256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = pt_unhex(cases[i].in, in, sizeof(in));
        size_t wn = pt_unhex(cases[i].out, want, sizeof(want));
        size_t bad_at = 12345, n_bad = 99;
        bool valid = pt_utf8_valid((const char *)in, n, &bad_at);
        CHECK(valid == (cases[i].n_bad == 0));
        if (!valid)
            CHECK(bad_at < n);
        size_t gn = pt_utf8_repair((const char *)in, n, got, &n_bad);
        if (gn != wn || memcmp(got, want, wn) || n_bad != cases[i].n_bad) {
            fprintf(stderr, "case %zu (%s): repair differs (%zu bytes, %zu bad)\n", i,
                    cases[i].in, gn, n_bad);
            return 1;
        }
        CHECK(pt_utf8_valid(got, gn, NULL));
    }
    /* Long ASCII runs take the 8-byte path; an error after them is found. */
    char buf[1000];
    memset(buf, 'a', sizeof(buf));
    size_t at;
    CHECK(pt_utf8_valid(buf, sizeof(buf), &at));
    buf[997] = (char)0x80;
    CHECK(!pt_utf8_valid(buf, sizeof(buf), &at) && at == 997);
    /* NUL removal */
    char z[] = { 'a', 0, 'b', 0, 0, 'c' };
    CHECK(pt_strip_nul(z, sizeof(z)) == 3 && !memcmp(z, "abc", 3));
    printf("ok\n");
    return 0;
}
