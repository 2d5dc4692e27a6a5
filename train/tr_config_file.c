/* --config files: a JSON object or TOML-style key = value lines, read into
 * one JSON object (tr_config_file.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "tr_config_file.h"

/* A quoted string at *p (basic "..." with \" \\ \n \t escapes, or literal
 * '...') as a JSON string; *p moves past it. */
static json_t *toml_string(const char **p)
{
    char q = **p, buf[PATH_MAX + 64];
    size_t n = 0;
    const char *s = *p + 1;
    while (*s && *s != q && n + 1 < sizeof(buf)) {
        if (q == '"' && *s == '\\' && s[1]) {
            s++;
            buf[n++] = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
        } else {
            buf[n++] = *s;
        }
        s++;
    }
    if (*s != q)
        return NULL;
    buf[n] = '\0';
    *p = s + 1;
    return json_string(buf);
}

/* A scalar at *p: a string, true/false, or a number (kept as its text so
 * that nothing is lost to a double). */
static json_t *toml_scalar(const char **p)
{
    if (**p == '"' || **p == '\'')
        return toml_string(p);
    const char *s = *p;
    while (*s && *s != ',' && *s != ']' && !isspace((unsigned char)*s) && *s != '#')
        s++;
    size_t n = (size_t)(s - *p);
    char tok[64];
    if (n == 0 || n >= sizeof(tok))
        return NULL;
    memcpy(tok, *p, n);
    tok[n] = '\0';
    *p = s;
    if (!strcmp(tok, "true"))
        return json_true();
    if (!strcmp(tok, "false"))
        return json_false();
    char *end;
    errno = 0;
    long long i = strtoll(tok, &end, 10);
    if (!*end && !errno)
        return json_integer(i);
    double d = strtod(tok, &end);
    if (!*end)
        return json_real(d);
    return json_string(tok);   /* a bare word such as 512Ki: the flag parser judges it */
}

static int toml_parse(const char *path, const char *text, json_t *obj)
{
    int line = 0;
    for (const char *ln = text; ln && *ln; ln = strchr(ln, '\n') ? strchr(ln, '\n') + 1 : NULL) {
        line++;
        const char *p = ln;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || !*p)
            continue;
        if (*p == '[')
            return ingot_fail(INGOT_E_USAGE, "--config %s:%d: TOML tables are not supported; "
                              "write key = value lines at the top level", path, line);
        char key[64];
        size_t n = 0;
        while ((isalnum((unsigned char)*p) || *p == '-' || *p == '_') && n + 1 < sizeof(key))
            key[n++] = *p++;
        key[n] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (!n || *p != '=')
            return ingot_fail(INGOT_E_USAGE, "--config %s:%d: expected key = value", path, line);
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
                json_t *e = toml_scalar(&p);
                if (!e) {
                    json_decref(v);
                    return ingot_fail(INGOT_E_USAGE, "--config %s:%d: bad list for %s (one "
                                      "line, [\"a\", \"b\"])", path, line, key);
                }
                json_array_append_new(v, e);
            }
        } else if (!(v = toml_scalar(&p))) {
            return ingot_fail(INGOT_E_USAGE, "--config %s:%d: bad value for %s", path, line, key);
        }
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p && *p != '\n' && *p != '#') {
            json_decref(v);
            return ingot_fail(INGOT_E_USAGE, "--config %s:%d: unexpected text after the value of "
                              "%s", path, line, key);
        }
        if (json_object_get(obj, key)) {
            json_decref(v);
            return ingot_fail(INGOT_E_USAGE, "--config %s:%d: %s given twice", path, line, key);
        }
        json_object_set_new(obj, key, v);
    }
    return 0;
}

int tr_config_file_read(const char *path, json_t **out)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int err = fs_read_capped(path, "--config", 1 << 20, &text, &len);
    if (err)
        return err;
    /* a UTF-8 byte order mark (editors on Windows write one) is not text */
    const char *body = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? text + 3 : text;
    const size_t blen = len - (size_t)(body - text);
    const char *p = body;
    while (isspace((unsigned char)*p))
        p++;
    json_t *obj = NULL;
    if (*p == '{') {
        json_error_t je;
        obj = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &je);
        if (!obj || !json_is_object(obj))
            err = ingot_fail(INGOT_E_USAGE, "--config %s:%d: not a JSON object: %s", path,
                             je.line, obj ? "another value" : je.text);
    } else {
        obj = json_object();
        err = obj ? toml_parse(path, body, obj) : ingot_oom("config", 64);
    }
    free(text);
    if (err) {
        json_decref(obj);
        return err;
    }
    *out = obj;
    return 0;
}
