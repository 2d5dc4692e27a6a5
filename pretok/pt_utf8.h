/* UTF-8 validation and repair for document text. Valid means: well-formed
 * sequences only, no overlong forms, no surrogates (U+D800..DFFF), nothing
 * above U+10FFFF. */
#ifndef INGOT_PT_UTF8_H
#define INGOT_PT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0, len) is valid UTF-8. If not, *bad_at (may be NULL) gets the
 * byte offset of the first invalid sequence. */
bool pt_utf8_valid(const char *s, size_t len, size_t *bad_at);

/* Copy s[0, len) to dst, replacing each maximal invalid subpart (Unicode's
 * recommended practice, the same as Python's errors="replace") by U+FFFD.
 * dst must hold 3 * len bytes and must not overlap s. Returns the length
 * written; *n_replaced gets the number of replacements. */
size_t pt_utf8_repair(const char *s, size_t len, char *dst, size_t *n_replaced);

/* Remove NUL bytes in place; returns the new length. */
size_t pt_strip_nul(char *s, size_t len);

#endif
