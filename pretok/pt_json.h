/* Extraction of one string field from a JSON Lines record. The whole record
 * is validated (RFC 8259 grammar, strict: raw control characters inside
 * strings are errors) without recursion, so hostile nesting cannot overflow
 * the stack; nesting deeper than PT_JSON_MAX_DEPTH is refused. Only the wanted
 * field is decoded: every escape, \uXXXX with surrogate pairs to UTF-8; a lone
 * surrogate becomes U+FFFD and is counted. Duplicate keys: the last wins, as
 * in Python's json module. */
#ifndef INGOT_PT_JSON_H
#define INGOT_PT_JSON_H

#include <stddef.h>

#include "pt_buf.h"

#define PT_JSON_MAX_DEPTH 10000
#define PT_JSON_MAX_PATH 16
#define PT_JSON_MAX_ALTS 16

enum pt_json_status {
    PT_JSON_OK = 0,         /* field found, a string, decoded into out */
    PT_JSON_MALFORMED,      /* not valid JSON (err_offset, err_what) */
    PT_JSON_MISSING,        /* valid JSON without the field */
    PT_JSON_NOT_STRING,     /* the field is there but not a string */
};

/* One dotted path ("text", "meta.body", "messages.0.content"). A component
 * of digits only is an array index when the container is an array and a
 * key when it is an object. */
struct pt_json_alt {
    const char *key[PT_JSON_MAX_PATH];
    size_t key_len[PT_JSON_MAX_PATH];
    long long index[PT_JSON_MAX_PATH];  /* -1: not a number */
    size_t n;
};

/* The field to extract: comma-separated alternatives in order of
 * preference ("text,content,messages.0.content"), split once. */
struct pt_json_path {
    struct pt_json_alt alt[PT_JSON_MAX_ALTS];
    size_t n_alts;
    char *storage;          /* owned copy of the string, split at ',' */
    char *spec;             /* owned copy as given */
    char *shown;            /* owned: spec quoted for a record's message, its first
                               PT_JSON_SHOWN bytes and its length when longer */
};

/* How much of a --text-key, and of each key of a record, a message about a
 * record quotes (it is kept in the manifest's examples: a 5 MB key must not
 * be). */
#define PT_JSON_SHOWN 40

struct pt_json_result {
    enum pt_json_status status;
    size_t err_offset;      /* byte offset of the error in the record */
    const char *err_what;   /* static description of the error */
    size_t n_lone_surrogates;   /* in the extracted field (status OK), made U+FFFD */
};

/* Split "path[,path...]". Returns 0 or INGOT_E_USAGE (empty component or
 * alternative, too many of either) / -ENOMEM. pt_json_path_free() releases
 * it. */
int pt_json_path_init(struct pt_json_path *p, const char *dotted);
void pt_json_path_free(struct pt_json_path *p);

/* Parse s[0, len) as one JSON value and extract the field at `path` into out
 * (out->len is reset; bytes are appended, not NUL-terminated). With several
 * alternatives the first one whose value is a string wins; the status is
 * NOT_STRING when none is a string but some is present, else MISSING.
 * Returns 0 and fills res, or -ENOMEM. */
int pt_json_extract(const char *s, size_t len, const struct pt_json_path *path,
                    struct pt_buf *out, struct pt_json_result *res);

/* The keys of the record's top-level object, as written, ", "-separated,
 * into keys (NUL-terminated; a key longer than PT_JSON_SHOWN bytes as its
 * start, "..." and its length; the list cut with ", ..." at cap) — for a
 * message about a missing field. Returns 0 or -ENOMEM. */
int pt_json_keys(const char *s, size_t len, char *keys, size_t cap);

#endif
