/* JSON that may be read on a terminal (ingot-pretok --json, ingot-dump info
 * --json, ingot-train eval --json and --metrics): the names in it are the
 * real ones (a script opens those files), so term_text() cannot show them;
 * escaped instead, so that nothing in a string acts on the terminal, and a
 * parser reads the same text back. */
#ifndef INGOT_JSON_TERM_H
#define INGOT_JSON_TERM_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* json_dumps(j, flags) with JSON_ENSURE_ASCII added (every character past
 * ASCII as \uXXXX: a bidi override, a C1 control, U+2028) and DEL (0x7F)
 * as \u007f, which jansson writes as it is even then (it escapes only what
 * JSON requires, below 0x20). jansson already escapes the C0 controls.
 * Returns the text (the caller frees it), or NULL (out of memory, or a
 * value jansson does not dump, as json_dumps()). */
char *json_term_dumps(const json_t *j, size_t flags);

/* s (a file name or setting of any bytes) with every byte that does not
 * start a well-formed UTF-8 character written as the four characters \xHH:
 * text a JSON string can hold (jansson refuses invalid UTF-8, which read as
 * "out of memory") and a message can show, the bytes still told apart.
 * malloc'd; NULL when out of memory. */
char *json_term_escape(const char *s);

/* json_term_escape(s) as a JSON string; NULL when out of memory (or s is
 * NULL). */
json_t *json_term_name(const char *s);

/* json_term_dumps() written to f. Returns 0, or -1 as json_dumpf() (out of
 * memory or a write error; f's error flag tells which). */
int json_term_dumpf(const json_t *j, FILE *f, size_t flags);

#ifdef __cplusplus
}
#endif
#endif
