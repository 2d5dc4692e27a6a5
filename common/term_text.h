/* Text from files (a manifest's command line, input names, damage notes,
 * paths) shown on a terminal: escape sequences in it would move the cursor,
 * clear the screen or retitle the window of whoever runs ingot-dump info on
 * a dataset someone else made, and invisible or reordering characters would
 * make one name read as another. */
#ifndef INGOT_TERM_TEXT_H
#define INGOT_TERM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* s (NULL: "?") into buf (n >= 4 bytes) with every character not shown as
 * it is written as '?', cut with "..." when it does not fit (never inside a
 * character). What buf holds is always well-formed UTF-8 with none of these
 * in it:
 *  - C0 controls (below 0x20), DEL (0x7F) and C1 controls (U+0080 to
 *    U+009F, the 8-bit CSI U+009B among them, which some terminals honour):
 *    escape sequences;
 *  - the bidirectional controls U+061C, U+200E, U+200F, U+202A to U+202E
 *    and U+2066 to U+2069 (Unicode's Bidi_Control set): they reorder the
 *    text after them, so that a name reads as another ("Trojan Source");
 *  - the invisible format characters U+200B to U+200D, U+2060 to U+206F
 *    (the whole block is default-ignorable), U+FEFF and U+180E: zero
 *    width, a name with one looks like the name without;
 *  - U+2028 and U+2029 (line and paragraph separators): some terminals and
 *    log viewers break the line there, forging a line of output;
 *  - every byte that does not begin a well-formed UTF-8 sequence (a stray
 *    continuation byte, an overlong form, a surrogate, past U+10FFFF, cut
 *    short): one '?' a byte. A lone byte 0x80 to 0x9F is a C1 control on a
 *    terminal in an 8-bit character set, and a lax UTF-8 decoder takes the
 *    bytes after a bad one into one character, hiding them.
 * Other text, "café", "日本語" or an emoji, is kept as it is. Not caught:
 * letters that look alike, combining marks, variation selectors and tag
 * characters (parts of emoji sequences). Returns buf. */
const char *term_text(const char *s, char *buf, size_t n);

/* term_text() of the first len bytes of s (of all of it when its NUL comes
 * first): a part of a longer text, one name of a list, a field of a record
 * that need not end in a NUL. A character cut by the len-th byte is not
 * well-formed: its bytes are '?'. "..." says that more of s was left out
 * than buf could hold, not that len cut it. Returns buf. */
const char *term_text_n(const char *s, size_t len, char *buf, size_t n);

/* term_text(s) with what it would write as '?' written as an escape
 * instead: a character as \u{200D} (its code point in hex), a byte that is
 * not UTF-8 as \xFF; and a backslash as \\, a space as \x20 and the other
 * spaces of Unicode (U+00A0, U+3000, ...) as \u{3000}, so that the escapes
 * read back unambiguously and the text stays one field of output split on
 * white space. For text where which invisible character it is
 * matters: a tokenizer's pieces (ingot-dump tokens), where a zero-width
 * joiner and a byte-order mark are different tokens. Cut with "..." after
 * a whole character or escape when buf (n >= 4) is too small. Returns buf. */
const char *term_text_esc(const char *s, char *buf, size_t n);

/* term_text(s) whole, in a buffer of its own that the caller frees; NULL
 * when out of memory. For text of no set bound (a list of settings). */
char *term_text_dup(const char *s);

/* term_text(s) into a buffer of TERM_SHOW_MAX bytes that lives to the end
 * of the enclosing block (a compound literal; C only): for the arguments
 * of a message, ingot_fail(err, "%s: ...", TERM_SHOW(path)), where a local
 * buffer for each would crowd the call site. */
#define TERM_SHOW_MAX 4096   /* PATH_MAX: a path is shown whole */
#ifndef __cplusplus
#define TERM_SHOW(s) term_text((s), (char[TERM_SHOW_MAX]){ 0 }, TERM_SHOW_MAX)
/* TERM_SHOW() in n bytes (a constant): text no one bounds (an environment
 * variable, what a peer sent over the network) cut with "..." where one
 * value would push the rest of a message (the hint) past its end. */
#define TERM_SHOW_N(s, n) term_text((s), (char[n]){ 0 }, (n))
#endif

/* How many of the n bytes at s to keep so that at most max remain and no
 * character is cut in the middle: n when n <= max, else max moved back to
 * the start of the character the max-th byte is inside (at most 3 bytes
 * back; bytes that are not UTF-8 are cut anywhere). For a name shortened to
 * fit a buffer: cut inside a character, it is not UTF-8 (jansson refuses
 * it in JSON, a terminal shows a replacement character). */
size_t term_text_cut(const char *s, size_t n, size_t max);

/* The length (1 to 4) of the well-formed UTF-8 character at s, of at most
 * avail bytes; 0 when the bytes there are not one (or s is at its NUL). */
size_t term_text_char_len(const char *s, size_t avail);

/* Whether s is well-formed UTF-8 throughout (what JSON strings hold; every
 * character, controls too, allowed). NULL is not. */
bool term_text_utf8(const char *s);
/* The offset of s's first byte that does not start a well-formed UTF-8
 * character (for a message naming it), or SIZE_MAX when there is none. */
size_t term_text_utf8_bad(const char *s);

/* Whether term_text() shows s as it is: nothing in it that it would write
 * as '?', by the rules above. NULL is not plain. */
bool term_text_plain(const char *s);

#ifdef __cplusplus
}
#endif
#endif
