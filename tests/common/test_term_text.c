/* common/term_text: text from files shown on a terminal, every character
 * term_text.h lists as '?': C0, DEL and C1 controls; the bidirectional
 * controls (overrides, embeddings, isolates, marks); invisible format
 * characters (zero-width ones, U+2060..U+206F, U+FEFF, U+180E); the line
 * and paragraph separators; every byte of text that is not well-formed
 * UTF-8, one '?' a byte. Other text ("café", "日本語", emoji) unchanged, a
 * cut never inside a character.
 *
 * With --hex it is a filter for tests/python/test_py_term_text.py, which
 * checks that the Python package's _term_text agrees: each line of stdin is
 * a string in hex, each line of stdout its term_text() in hex. */
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
    /* plain: shown whole, as it is */
    char whole[256];
    CHECK(term_text_plain(s) == (s && strcmp(term_text(s, whole, sizeof(whole)), s) == 0));
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int hex_filter(void)
{
    static char line[4096], in[2048], out[2048 * 3];
    while (fgets(line, sizeof(line), stdin)) {
        size_t k = 0;
        for (const char *p = line; hexval(p[0]) >= 0 && hexval(p[1]) >= 0; p += 2)
            in[k++] = (char)(hexval(p[0]) << 4 | hexval(p[1]));
        in[k] = 0;
        term_text(in, out, sizeof(out));
        for (const unsigned char *p = (const unsigned char *)out; *p; p++)
            printf("%02x", *p);
        printf(" %d\n", term_text_plain(in));
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--hex") == 0)
        return hex_filter();
    /* C0, DEL, NULL */
    same("a\033[2Jb\x7f", 64, "a?[2Jb?");
    same(NULL, 64, "?");
    same("plain", 64, "plain");
    /* C1 in UTF-8: U+009B (CSI), U+0085 (NEL), U+0080, U+009F; the
     * characters around them (U+00A0, U+00E9) kept */
    same("x\xc2\x9b" "2Jy", 64, "x?2Jy");
    same("\xc2\x80\xc2\x85\xc2\x9f\xc2\xa0\xc3\xa9", 64, "???\xc2\xa0\xc3\xa9");
    /* ordinary text of any script is kept: "café", "日本語", U+20AC, an
     * emoji U+1F600, Arabic "سلام" (right to left by itself, no control),
     * U+209B and U+1F600 whose continuation bytes are 0x9B, 0x9F, 0x80
     * (inside a character, not C1) */
    same("caf\xc3\xa9", 64, "caf\xc3\xa9");
    same("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 64, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    same("\xe2\x82\xac \xe2\x82\x9b \xf0\x9f\x98\x80", 64, "\xe2\x82\xac \xe2\x82\x9b \xf0\x9f\x98\x80");
    same("\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85", 64, "\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85");
    /* the characters next to each hidden range are kept: U+200A (hair
     * space), U+2027, U+202F, U+205F, U+2070, U+FEFE, U+FF00, U+061B,
     * U+180D */
    same("\xe2\x80\x8a\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\x9f\xe2\x81\xb0\xef\xbb\xbe\xef\xbc\x80"
         "\xd8\x9b\xe1\xa0\x8d", 64,
         "\xe2\x80\x8a\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\x9f\xe2\x81\xb0\xef\xbb\xbe\xef\xbc\x80"
         "\xd8\x9b\xe1\xa0\x8d");
    /* bidirectional overrides and embeddings U+202A..U+202E: "exe.txt"
     * behind an RLO would read "txt.exe" */
    same("a\xe2\x80\xae" "txt.exe", 64, "a?txt.exe");
    same("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad\xe2\x80\xae", 64, "?????");
    /* bidirectional isolates U+2066..U+2069, marks U+200E, U+200F, U+061C */
    same("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", 64, "????");
    same("l\xe2\x80\x8er\xe2\x80\x8f" "a\xd8\x9c", 64, "l?r?a?");
    /* invisible: U+200B..U+200D, U+2060..U+2064, U+206A..U+206F (and the
     * unassigned U+2065 of that block), U+FEFF, U+180E */
    same("tr\xe2\x80\x8b" "ain\xe2\x80\x8c\xe2\x80\x8d", 64, "tr?ain??");
    same("\xe2\x81\xa0\xe2\x81\xa4\xe2\x81\xa5\xe2\x81\xaa\xe2\x81\xaf", 64, "?????");
    same("\xef\xbb\xbfx\xe1\xa0\x8ey", 64, "?x?y");
    /* line and paragraph separators U+2028, U+2029 */
    same("one\xe2\x80\xa8two\xe2\x80\xa9", 64, "one?two?");
    /* not well-formed UTF-8: every byte that begins no well-formed sequence
     * is '?', one a byte, the well-formed characters around it kept (before,
     * Latin-1 "caf\xe9" went out raw, and U+FEFF inside text that was not
     * UTF-8 with it) */
    same("caf\xe9 \x9b" "2J", 64, "caf? ?2J");
    same("\x80\x9f\xa0\xff", 64, "????");
    same("\xe2\x82\xac\x9b", 64, "\xe2\x82\xac?");
    same("\xff\xef\xbb\xbf\xe2\x80\xae", 64, "???");
    same("\xe2\x82" "ab", 64, "??ab");   /* cut short by ASCII */
    same("ab\xf0\x9f\x98", 64, "ab???");  /* cut short by the end */
    /* overlong, surrogate and beyond U+10FFFF forms are not UTF-8 */
    same("\xc1\x9b", 64, "??");
    same("\xc0\xaf", 64, "??");
    same("\xed\xa0\x80", 64, "???");
    same("\xf4\x90\x80\x80", 64, "????");
    same("\xe0\x80\xaf", 64, "???");
    /* the edges of the well-formed forms are kept: U+0800, U+D7FF, U+E000,
     * U+10000, U+10FFFF (a private-use character: no control) */
    same("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 64,
         "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
    /* cut with "...", never inside a character */
    same("abcdefgh", 8, "abcd...");
    same("ab\xc3\xa9\xc3\xa9\xc3\xa9", 8, "ab\xc3\xa9...");
    same("a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8, "a\xc3\xa9...");
    same("a\xc3\xa9\xc3\xa9\xc3\xa9", 8, "a\xc3\xa9\xc3\xa9\xc3\xa9");
    same("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 8, "\xf0\x9f\x98\x80...");
    same("\xc2\x9b\xc2\x9b\xc2\x9b\xc2\x9b\xc2\x9b\xc2\x9b\xc2\x9b\xc2\x9b", 8, "????...");
    same("\xe2\x80\xae\xe2\x80\xae\xe2\x80\xae\xe2\x80\xae\xe2\x80\xae\xe2\x80\xae"
         "\xe2\x80\xae\xe2\x80\xae", 8, "????...");
    same("\xe2\x80\xae\xe2\x80\xae\xe2\x80\xae\xe2\x80\xae\xe2\x80\xae", 8, "?????");
    same("\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5", 8, "\xe6\x97\xa5...");
    same("abcdefg", 8, "abcdefg");
    /* term_text_n: the first len bytes only (a term of a list, a field
     * without its NUL); a character the len-th byte cuts is not whole */
    char nb[16];
    CHECK(!strcmp(term_text_n("gpu\033]0;x\a,login", 9, nb, sizeof(nb)), "gpu?]0;x?"));
    CHECK(!strcmp(term_text_n("ab\xc3\xa9z", 3, nb, sizeof(nb)), "ab?"));
    CHECK(!strcmp(term_text_n("ab\xc3\xa9z", 4, nb, sizeof(nb)), "ab\xc3\xa9"));
    CHECK(!strcmp(term_text_n("ab", 9, nb, sizeof(nb)), "ab"));   /* the NUL first */
    CHECK(!strcmp(term_text_n("abcdefghijklmnopq", 17, nb, 8), "abcd..."));
    CHECK(!strcmp(term_text_n(NULL, 0, nb, sizeof(nb)), "?"));
    static const char field[4] = { 'h', '\x1b', 'x', 'y' };   /* no NUL: not read past */
    CHECK(!strcmp(term_text_n(field, sizeof(field), nb, sizeof(nb)), "h?xy"));
    /* TERM_SHOW_N: cut to its n bytes */
    CHECK(!strcmp(TERM_SHOW_N("\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5", 8), "\xe6\x97\xa5..."));
    /* term_text_cut: a name shortened to fit a buffer, never inside a
     * character; bytes that are not UTF-8 are cut anywhere */
    const char *jp = "a\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";   /* "a日本語" */
    CHECK(term_text_cut(jp, 10, 10) == 10 && term_text_cut(jp, 10, 20) == 10);
    CHECK(term_text_cut(jp, 10, 9) == 7 && term_text_cut(jp, 10, 8) == 7);
    CHECK(term_text_cut(jp, 10, 7) == 7 && term_text_cut(jp, 10, 6) == 4);
    CHECK(term_text_cut(jp, 10, 1) == 1 && term_text_cut(jp, 10, 0) == 0);
    CHECK(term_text_cut("\xf0\x9f\x98\x80z", 5, 3) == 0);
    CHECK(term_text_cut("a\x80\x80\x80\x80\x80", 6, 5) == 5);   /* no character there */
    /* term_text_utf8: what JSON holds (controls too) */
    CHECK(term_text_utf8(jp) && term_text_utf8("") && term_text_utf8("\x1b]0;x\a\xe2\x80\xae"));
    CHECK(!term_text_utf8(NULL) && !term_text_utf8("lat\xe9n") && !term_text_utf8("a\xe6\x97"));
    CHECK(term_text_utf8_bad("lat\xe9n") == 3 && term_text_utf8_bad("a\xe6\x97") == 1 &&
          term_text_utf8_bad("\xe6\x97\xa5x") == SIZE_MAX && term_text_utf8_bad("") == SIZE_MAX);
    /* term_text_plain: what a name check uses */
    CHECK(term_text_plain("train-000000.tok") && term_text_plain("\xc3\xa9\xe2\x82\xac"));
    CHECK(term_text_plain("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.tok"));
    CHECK(!term_text_plain(NULL) && !term_text_plain("a\nb") && !term_text_plain("\x7f"));
    CHECK(!term_text_plain("\xc2\x9b") && !term_text_plain("\xe9\x85") && !term_text_plain("\x9b"));
    CHECK(!term_text_plain("x\xe2\x80\xae.tok") && !term_text_plain("x\xe2\x81\xa6.tok"));
    CHECK(!term_text_plain("x\xe2\x80\x8b.tok") && !term_text_plain("\xef\xbb\xbfx.tok"));
    CHECK(!term_text_plain("x\xe2\x80\xa8.tok"));
    CHECK(!term_text_plain("\xe9\xa0"));   /* Latin-1: not UTF-8 */
    /* text of no set bound, and paths up to PATH_MAX, are shown whole: a
     * resume's list of settings and a 1.2 KB --metrics path were cut at
     * 1023 bytes ("ddd...") */
    {
        static char big[3 * 4000 + 1], want[2 * 4000 + 1];
        for (int i = 0; i < 4000; i++)   /* 日 and U+202E (RLO) by turns */
            memcpy(big + 3 * i, i % 2 ? "\xe2\x80\xae" : "\xe6\x97\xa5", 3);
        size_t o = 0;
        for (int i = 0; i < 4000; i++) {
            if (i % 2) {
                want[o++] = '?';
            } else {
                memcpy(want + o, "\xe6\x97\xa5", 3);
                o += 3;
            }
        }
        want[o] = 0;
        char *d = term_text_dup(big);
        CHECK(d && strcmp(d, want) == 0);
        free(d);
        d = term_text_dup(NULL);
        CHECK(d && strcmp(d, "?") == 0);
        free(d);
        char path[4000];
        memset(path, 'd', sizeof(path) - 1);
        path[sizeof(path) - 1] = 0;
        CHECK(strcmp(TERM_SHOW(path), path) == 0);
    }
    /* term_text_esc: what term_text hides, escaped: ZWJ and BOM told apart
     * (two pieces ingot-dump tokens showed both as '?'), a control, a byte
     * that is not UTF-8, a backslash and a space; the rest as it is */
    {
        char eb[64];
        const struct { const char *s; size_t n; const char *want; } es[] = {
            { "\xe2\x80\x8d", 64, "\\u{200D}" },
            { "\xef\xbb\xbf", 64, "\\u{FEFF}" },
            { "a\x1b[2J\x7f", 64, "a\\u{001B}[2J\\u{007F}" },
            { "caf\xe9", 64, "caf\\xE9" },
            { "\xe2\x80\xae" "txt", 64, "\\u{202E}txt" },
            { "a\\b c", 64, "a\\\\b\\x20c" },
            /* the other spaces Python's split() splits on: NBSP, U+2009, U+3000 */
            { "a\xc2\xa0" "b\xe2\x80\x89" "c\xe3\x80\x80", 64,
              "a\\u{00A0}b\\u{2009}c\\u{3000}" },
            { "\xe2\x96\x81the \xe6\x97\xa5", 64, "\xe2\x96\x81the\\x20\xe6\x97\xa5" },
            { NULL, 64, "?" },
            { "", 64, "" },
            /* cut after a whole character or escape, "..." fitting */
            { "abcdefgh", 8, "abcd..." },
            { "abcdefg", 8, "abcdefg" },
            { "\xe2\x80\x8d\xe2\x80\x8d", 16, "\\u{200D}..." },
            { "\xe2\x80\x8d\xe2\x80\x8d", 17, "\\u{200D}\\u{200D}" },
            { "\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5", 8, "\xe6\x97\xa5..." },
        };
        for (size_t i = 0; i < sizeof(es) / sizeof(es[0]); i++) {
            const char *got = term_text_esc(es[i].s, eb, es[i].n);
            if (got != eb || strcmp(got, es[i].want) || strlen(got) >= es[i].n) {
                fprintf(stderr, "term_text_esc case %zu: got \"%s\", want \"%s\"\n", i, got,
                        es[i].want);
                CHECK(!"term_text_esc");
            }
            CHECK(term_text_plain(got));   /* escaped: nothing hidden is left */
        }
    }
    printf("term_text: ok\n");
    return 0;
}
