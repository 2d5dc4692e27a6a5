/* Text from files (a manifest's command line, input names, damage notes)
 * shown on a terminal: escape sequences in it would move the cursor, clear
 * the screen or retitle the window of whoever runs ingot-dump info on a
 * dataset someone else made. */
#ifndef INGOT_TERM_TEXT_H
#define INGOT_TERM_TEXT_H

#include <stddef.h>

/* s (NULL: "?") into buf (n >= 4 bytes) with every control byte (below 0x20,
 * and 0x7F) as '?', cut with "..." when it does not fit. Returns buf. */
const char *term_text(const char *s, char *buf, size_t n);

#endif
