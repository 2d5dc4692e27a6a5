/* Text from files (a manifest's command line, input names, damage notes)
 * shown on a terminal: escape sequences in it would move the cursor, clear
 * the screen or retitle the window of whoever runs ingot-dump info on a
 * dataset someone else made. */
#ifndef INGOT_TERM_TEXT_H
#define INGOT_TERM_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* s (NULL: "?") into buf (n >= 4 bytes) with every control character as
 * '?', cut with "..." when it does not fit (never inside a UTF-8 sequence).
 * Control characters: C0 (below 0x20) and DEL (0x7F) always; C1 (U+0080 to
 * U+009F, the 8-bit CSI U+009B among them, which some terminals honour)
 * written in UTF-8 as C2 80 to C2 9F when s is valid UTF-8, and every byte
 * 0x80 to 0x9F when it is not (a terminal in an 8-bit character set reads
 * those bytes as C1). Returns buf. */
const char *term_text(const char *s, char *buf, size_t n);

/* Whether term_text() shows s as it is: no control character in it, by the
 * rules above. NULL is not plain. */
bool term_text_plain(const char *s);

#endif
