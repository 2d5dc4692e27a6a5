/* --config files: a JSON object or TOML-style key = value lines, read into
 * one JSON object (tr_config_file.h). */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "term_text.h"
#include "tr_config_file.h"

/* A quoted string at *p (basic "..." with the escapes \" \\ \n \t \r \b \f,
 * or literal '...') as a JSON string; *p moves past it. NULL with *why
 * saying what is wrong: a string ends on its line (a newline inside was
 * read as part of the value, and the next lines parsed again), and an
 * escape not in the list (a Windows path "C:\data" lost its backslash, a
 * \u00e9 became "u00e9") or text that is not UTF-8 is refused, never
 * changed. The buffer is the line's length, so nothing is truncated. */
static json_t *toml_string(const char **p, const char **why)
{
    const char q = **p, *s = *p + 1;
    char *buf = malloc(strcspn(s, "\n") + 1);
    size_t n = 0;
    if (!buf) {
        *why = "out of memory";
        return NULL;
    }
    *why = NULL;
    while (*s && *s != q && *s != '\n' && !*why) {
        if (q == '"' && *s == '\\') {
            const char *const esc = "\"\"\\\\n\nt\tr\rb\bf\f";
            const char *e = s[1] && s[1] != '\n' ? strchr(esc, s[1]) : NULL;
            if (e && (e - esc) % 2 == 0) {
                buf[n++] = e[1];
                s += 2;
                continue;
            }
            *why = "an escape other than \\\" \\\\ \\n \\t \\r \\b \\f in a \"...\" string "
                   "(write the character itself, or use a '...' string, which takes "
                   "backslashes as they are)";
        }
        buf[n++] = *s++;
    }
    json_t *v = NULL;
    if (!*why && *s != q)
        *why = "a string without its closing quote (a string ends on its line)";
    if (!*why) {
        buf[n] = '\0';
        if (!(v = json_string(buf)))
            *why = "a string that is not valid UTF-8";
        else
            *p = s + 1;
    }
    free(buf);
    return v;
}

/* A scalar at *p: a string, true/false, or a number (kept as its text so
 * that nothing is lost to a double). NULL with *why saying what is wrong. */
static json_t *toml_scalar(const char **p, const char **why)
{
    if (**p == '"' || **p == '\'')
        return toml_string(p, why);
    const char *s = *p;
    while (*s && *s != ',' && *s != ']' && !isspace((unsigned char)*s) && *s != '#')
        s++;
    size_t n = (size_t)(s - *p);
    char tok[64];
    *why = n ? "a bare value of more than 63 characters (put it in quotes)" : "no value";
    if (n == 0 || n >= sizeof(tok))
        return NULL;
    memcpy(tok, *p, n);
    tok[n] = '\0';
    *p = s;
    if (!strcmp(tok, "true"))
        return json_true();
    if (!strcmp(tok, "false"))
        return json_false();
    /* Decimal numbers only, and only those a double holds: anything else
     * (nan, inf, 0x10, 1e999, 1e-400, an integer past int64) stays text
     * for the flag's parser, which refuses it naming the flag and the text
     * the file holds, as on the command line; as a number it was refused
     * without a reason (nan), or read as another value (1e-400 as 0). */
    if (strspn(tok, "0123456789+-.eE") == n) {
        char *end;
        errno = 0;
        long long i = strtoll(tok, &end, 10);
        if (!*end && !errno)
            return json_integer(i);
        if (*end) {   /* not an integer (past int64, it stays text) */
            errno = 0;
            double d = strtod(tok, &end);
            if (!*end && !errno && isfinite(d))
                return json_real(d);
        }
    }
    json_t *v = json_string(tok);   /* a bare word such as 512Ki: the flag parser judges it */
    *why = v ? NULL : "a value that is not valid UTF-8";
    return v;
}

static int toml_parse(const char *origin, const char *text, json_t *obj, json_t *lines)
{
    /* the keys as tr_settings.c reads them ('_' for '-'), each with its
     * line: seq_len and seq-len are one key, and a second one silently won */
    json_t *seen = json_object();
    if (!seen)
        return ingot_oom("config keys", 64);
    int line = 0, err = 0;
    for (const char *ln = text; !err && ln && *ln;
         ln = strchr(ln, '\n') ? strchr(ln, '\n') + 1 : NULL) {
        line++;
        const char *p = ln, *why = NULL;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || !*p)
            continue;
        if (*p == '[') {
            err = ingot_fail(INGOT_E_USAGE, "%s:%d: a TOML table or a JSON array, "
                             "neither supported; write key = value lines at the top level, or "
                             "one JSON object", origin, line);
            break;
        }
        char key[64], norm[64];
        size_t n = 0;
        while ((isalnum((unsigned char)*p) || *p == '-' || *p == '_') && n + 1 < sizeof(key)) {
            norm[n] = *p == '_' ? '-' : *p;
            key[n++] = *p++;
        }
        key[n] = norm[n] = '\0';
        if (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
            err = ingot_fail(INGOT_E_USAGE, "%s:%d: a key of more than %zu characters "
                             "(the keys are the long flags of --help without the dashes)",
                             origin, line, sizeof(key) - 1);
            break;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (!n || *p != '=') {
            err = ingot_fail(INGOT_E_USAGE, "%s:%d: expected key = value", origin,
                             line);
            break;
        }
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        json_t *v;
        if (*p == '[') {
            v = json_array();
            p++;
            for (;;) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                    p++;
                if (*p == ']') {
                    p++;
                    break;
                }
                json_t *e = toml_scalar(&p, &why);
                if (!e) {
                    json_decref(v);
                    v = NULL;
                    break;
                }
                json_array_append_new(v, e);
            }
            if (!v) {
                err = ingot_fail(INGOT_E_USAGE, "%s:%d: bad list for %s: %s (one line, "
                                 "[\"a\", \"b\"])", origin, line, key, why);
                break;
            }
        } else if (!(v = toml_scalar(&p, &why))) {
            err = ingot_fail(INGOT_E_USAGE, "%s:%d: bad value for %s: %s", origin,
                             line, key, why);
            break;
        }
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p && *p != '\n' && *p != '#') {
            json_decref(v);
            err = ingot_fail(INGOT_E_USAGE, "%s:%d: unexpected text after the value of "
                             "%s", origin, line, key);
            break;
        }
        json_t *first = json_object_get(seen, norm);
        if (first) {
            json_decref(v);
            err = ingot_fail(INGOT_E_USAGE, "%s:%d: %s given twice (first on line %d%s)",
                             origin, line, key, (int)json_integer_value(first),
                             json_object_get(obj, key) ? "" : "; '_' stands for '-'");
            break;
        }
        json_object_set_new(seen, norm, json_integer(line));
        json_object_set_new(lines, key, json_integer(line));
        json_object_set_new(obj, key, v);
    }
    json_decref(seen);
    return err;
}

/* A number that underflows, as JSON text at p (len bytes at most, then a
 * NUL): its length, else 0. The parser reads 1e-400 as 0 and 1e-310 as a
 * subnormal without a word (it refuses only an overflow), so {"lr": 1e-400}
 * trained at lr 0, and {"grad-clip": 1e-400} without clipping, where the
 * command line and TOML refuse the value as too small to compute with. */
static size_t underflow_len(const char *p, size_t len)
{
    size_t n = 0;
    while (n < len && p[n] && strchr("0123456789+-.eE", p[n]))
        n++;
    if (!n || (p[0] != '-' && !isdigit((unsigned char)p[0])))
        return 0;
    char *end;
    errno = 0;
    double d = strtod(p, &end);   /* JSON's number syntax is strtod's, and it ends at p + n */
    if (end != p + n)
        return 0;
    return (d == 0.0 ? errno == ERANGE : fabs(d) < DBL_MIN) ? n : 0;
}

/* The line of each top-level key of JSON text into lines (the parser keeps
 * no positions): a walk that tracks nesting and strings, taking a string
 * at depth 1 followed by ':' as a key, decoded as the parser decoded it
 * (taken as written between the quotes, a key with an escape, "st\u0065ps"
 * or "\u001b...", was not found, and its message lost its line; so was a
 * key of 256 bytes or more). A key's number that underflows (above) goes
 * back into obj as the text the file holds, for the flag's parser to
 * refuse as it refuses the same text on the command line. Only called on
 * text the parser accepted. */
static void json_key_lines(const char *text, size_t len, json_t *obj, json_t *lines)
{
    int depth = 0, line = 1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\n') {
            line++;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '"') {
            size_t start = ++i;
            while (i < len && text[i] != '"')
                i += text[i] == '\\' ? 2 : 1;
            size_t end = i, j = i + 1;
            while (j < len && isspace((unsigned char)text[j]))
                j++;
            if (depth == 1 && j < len && text[j] == ':' && end < len) {
                /* the string, its quotes included, as a JSON value */
                json_t *k = json_loadb(text + start - 1, end - start + 2, JSON_DECODE_ANY, NULL);
                const char *key = json_string_value(k);
                if (key && !json_object_get(lines, key))
                    json_object_set_new(lines, key, json_integer(line));
                size_t v = j + 1, n;
                while (v < len && isspace((unsigned char)text[v]) && text[v] != '\n')
                    v++;
                if (key && (n = underflow_len(text + v, len - v)))
                    json_object_set_new(obj, key, json_stringn(text + v, n));
                json_decref(k);
            }
        }
    }
}

int tr_config_file_read(const char *path, const char *origin, const char *what, json_t **out,
                        json_t **lines_out)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int err = fs_read_capped(path, what, 1 << 20, &text, &len);
    if (err)
        return err;
    /* a UTF-8 byte order mark (editors on Windows write one) is not text */
    const char *body = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? text + 3 : text;
    const size_t blen = len - (size_t)(body - text);
    const char *p = body;
    while (isspace((unsigned char)*p))
        p++;
    /* A NUL byte ended TOML text where it stood: the settings after it were
     * dropped without a word (a binary or UTF-16 file passed for text).
     * JSON's parser read past one as if it were not there. */
    const char *nul = memchr(body, '\0', blen);
    if (nul) {
        int line = 1;
        for (const char *c = body; c < nul; c++)
            line += *c == '\n';
        free(text);
        return ingot_fail(INGOT_E_USAGE, "%s:%d: a NUL byte: not a text file (UTF-8 "
                          "JSON or key = value lines)", origin, line);
    }
    json_t *obj = NULL, *lines = json_object();
    if (!lines) {
        err = ingot_oom("config lines", 64);
    } else if (*p == '{') {
        json_error_t je;
        obj = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &je);
        if (!obj || !json_is_object(obj))
            err = ingot_fail(INGOT_E_USAGE, "%s:%d: not a JSON object: %s",
                             origin, je.line, obj ? "another value" : TERM_SHOW(je.text));
        else
            json_key_lines(body, blen, obj, lines);
    } else {
        obj = json_object();
        err = obj ? toml_parse(origin, body, obj, lines) : ingot_oom("config", 64);
    }
    /* an empty file (or only comments, or {}) trained on the defaults
     * without a word: a file emptied by a failed copy or a full disk, or
     * the wrong file, is not a choice of every default */
    if (!err && !json_object_size(obj))
        err = ingot_fail(INGOT_E_USAGE, "%s: sets nothing (%s)%s", origin,
                         !blen ? "an empty file" : *p == '{' ? "an empty JSON object" :
                         "only blank lines and comments", strcmp(what, "--config") ? "" :
                         "; write the run's settings in it (key = value lines or one JSON "
                         "object), or leave --config out for the defaults");
    free(text);
    if (err) {
        json_decref(obj);
        json_decref(lines);
        return err;
    }
    *out = obj;
    if (lines_out)
        *lines_out = lines;
    else
        json_decref(lines);
    return 0;
}
