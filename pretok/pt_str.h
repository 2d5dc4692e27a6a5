/* Small string helpers shared by pretok's files (header only). */
#ifndef INGOT_PT_STR_H
#define INGOT_PT_STR_H

#include <stdbool.h>
#include <string.h>

/* True when s ends with suf (an empty suf ends every string). */
static inline bool pt_ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !memcmp(s + a - b, suf, b);
}

#endif
