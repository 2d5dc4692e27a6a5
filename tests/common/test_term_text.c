/* common/term_text: text from files shown on a terminal, every control
 * character as '?': C0 and DEL; C1 (U+0080..U+009F, the 8-bit CSI U+009B
 * among them) written in UTF-8; the bytes 0x80..0x9F of text that is not
 * UTF-8 (an 8-bit terminal reads them as C1). Other UTF-8 text unchanged,
 * a cut never inside a character. */
#include <stdio.h>

#include "term_text.h"
#include "test_util.h"

/* term_text(s) into a buffer of n bytes must read want. */
static void same(const char *s, size_t n, const char *want)
{
    char buf[256];
    CHECK(n <= sizeof(buf));
    const char *got = term_text(s, buf, n);
    if (got != buf || strcmp(got, want) != 0) {
        fprintf(stderr, "term_text(\"%s\", %zu): got \"%s\", want \"%s\"\n", s, n, got, want);
        CHECK(!"term_text");
    }
    CHECK(strlen(got) < n);
    CHECK(term_text_plain(got));   /* what it shows is plain text */
}

int main(void)
{
    /* C0, DEL, NULL: as before */
    same("a\033[2Jb\x7f", 64, "a?[2Jb?");
    same(NULL, 64, "?");
    same("plain", 64, "plain");
    /* C1 in UTF-8: U+009B (CSI), U+0085 (NEL), U+0080, U+009F; the
     * characters around them (U+00A0, U+00E9) kept */
    same("x\xc2\x9b" "2Jy", 64, "x?2Jy");
    same("\xc2\x80\xc2\x85\xc2\x9f\xc2\xa0\xc3\xa9", 64, "???\xc2\xa0\xc3\xa9");
    /* continuation bytes 0x80..0x9F inside other characters are not C1:
     * U+20AC (E2 82 AC), U+209B (E2 82 9B), U+1F600 (F0 9F 98 80) */
    same("\xe2\x82\xac \xe2\x82\x9b \xf0\x9f\x98\x80", 64, "\xe2\x82\xac \xe2\x82\x9b \xf0\x9f\x98\x80");
    /* not UTF-8 (Latin-1 text, a stray byte): every byte 0x80..0x9F is '?',
     * the rest as it is */
    same("caf\xe9 \x9b" "2J", 64, "caf\xe9 ?2J");
    same("\x80\x9f\xa0\xff", 64, "??\xa0\xff");
    same("\xe2\x82\xac\x9b", 64, "\xe2?\xac?");   /* 0x82 too: the text is not UTF-8 */
    /* overlong, surrogate and beyond U+10FFFF forms are not UTF-8 */
    same("\xc1\x9b", 64, "\xc1?");
    same("\xed\xa0\x80", 64, "\xed\xa0?");
    same("\xf4\x90\x80\x80", 64, "\xf4???");
    /* cut with "...", never inside a character */
    same("abcdefgh", 8, "abcd...");
    same("ab\xc3\xa9\xc3\xa9\xc3\xa9", 8, "ab\xc3\xa9...");
    same("a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, "a\xc3\xa9...");
    same("a\xc3\xa9\xc3\xa9\xc3\xa9", 8, "a\xc3\xa9\xc3\xa9\xc3\xa9");
    same("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 8, "\xf0\x9f\x98\x80...");
    same("\xc2\x9b\xc2\x9b\xc2\x9b\xc2\x9b\xc2\x9b\xc2\x9b\xc2\x9b\xc2\x9b", 8, "????...");
    same("abcdefg", 8, "abcdefg");
    /* term_text_plain: what a name check uses */
    CHECK(term_text_plain("train-000000.tok") && term_text_plain("\xc3\xa9\xe2\x82\xac"));
    CHECK(!term_text_plain(NULL) && !term_text_plain("a\nb") && !term_text_plain("\x7f"));
    CHECK(!term_text_plain("\xc2\x9b") && !term_text_plain("\xe9\x85") && !term_text_plain("\x9b"));
    CHECK(term_text_plain("\xe9\xa0"));   /* Latin-1, no C1 byte */
    printf("term_text: ok\n");
    return 0;
}
