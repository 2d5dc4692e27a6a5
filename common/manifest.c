/* manifest.json read/write with jansson. 64-bit hashes are stored as
 * 16-digit hex strings (JSON numbers are doubles for many readers); counts
 * are JSON integers (exact up to 2^63 in jansson and in Python). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "manifest.h"
#include "shard_format.h"
#include "skip_reason.h"
#include "term_text.h"

#ifndef INGOT_VERSION
#define INGOT_VERSION "unknown"
#endif

typedef unsigned long long ull;

struct manifest *manifest_new(void)
{
    struct manifest *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->format_version = INGOT_MANIFEST_VERSION;
    m->ingot_version = strdup(INGOT_VERSION);
    if (!m->ingot_version) {
        free(m);
        return NULL;
    }
    m->tokenizer.bos_id = m->tokenizer.eos_id = m->tokenizer.pad_id = m->tokenizer.unk_id = -1;
    return m;
}

static void input_free(struct manifest_input *in)
{
    free(in->name);
    for (size_t k = 0; k < in->n_skips; k++)
        free(in->skips[k].reason);
    free(in->skips);
    free(in->damage);
}

void manifest_free(struct manifest *m)
{
    if (!m)
        return;
    free(m->ingot_version);
    free(m->command_line);
    free(m->tokenizer.file);
    free(m->tokenizer.source);
    free(m->tokenizer.type);
    for (size_t i = 0; i < m->n_shards; i++)
        free(m->shards[i].file);
    free(m->shards);
    for (size_t i = 0; i < m->n_inputs; i++)
        input_free(&m->inputs[i]);
    free(m->inputs);
    for (size_t i = 0; i < m->n_skip_examples; i++)
        free(m->skip_examples[i]);
    free(m->skip_examples);
    free(m);
}

static int dup_str(char **dst, const char *src)
{
    char *s = NULL;
    if (src && !(s = strdup(src)))
        return ingot_fail(-ENOMEM, "manifest: out of memory");
    free(*dst);
    *dst = s;
    return 0;
}

int manifest_set_tokenizer(struct manifest *m, const struct manifest_tokenizer *t)
{
    char *file = NULL, *type = NULL, *source = NULL;
    if (dup_str(&file, t->file) || dup_str(&type, t->type) || dup_str(&source, t->source)) {
        free(file);
        free(type);
        return -ENOMEM;
    }
    free(m->tokenizer.file);
    free(m->tokenizer.source);
    free(m->tokenizer.type);
    m->tokenizer = *t;
    m->tokenizer.file = file;
    m->tokenizer.type = type;
    m->tokenizer.source = source;
    return 0;
}

int manifest_set_command_line(struct manifest *m, int argc, char *const *argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) * 4 + 3;   /* worst case: every char a quote */
    char *s = malloc(len), *p = s;
    if (!s)
        return ingot_fail(-ENOMEM, "manifest: out of memory");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i)
            *p++ = ' ';
        int quote = !a[0] || strpbrk(a, " \t\n'\"\\$`*?;&|<>()") != NULL;
        if (quote)
            *p++ = '\'';
        for (; *a; a++) {
            if (*a == '\'') {   /* ' -> '\'' */
                memcpy(p, "'\\''", 4);
                p += 4;
            } else {
                *p++ = *a;
            }
        }
        if (quote)
            *p++ = '\'';
    }
    *p = '\0';
    free(m->command_line);
    m->command_line = s;
    return 0;
}

int manifest_add_shard(struct manifest *m, const struct manifest_shard *s)
{
    struct manifest_shard *n = realloc(m->shards, (m->n_shards + 1) * sizeof(*n));
    if (!n)
        return ingot_fail(-ENOMEM, "manifest: out of memory");
    m->shards = n;
    struct manifest_shard c = *s;
    c.file = NULL;
    if (dup_str(&c.file, s->file))
        return -ENOMEM;
    m->shards[m->n_shards++] = c;
    return 0;
}

int manifest_add_input(struct manifest *m, const struct manifest_input *in)
{
    struct manifest_input *n = realloc(m->inputs, (m->n_inputs + 1) * sizeof(*n));
    if (!n)
        return ingot_fail(-ENOMEM, "manifest: out of memory");
    m->inputs = n;
    struct manifest_input c = *in;
    c.name = NULL;
    c.skips = NULL;
    c.n_skips = 0;
    c.damage = NULL;
    if (dup_str(&c.name, in->name) || dup_str(&c.damage, in->damage)) {
        input_free(&c);
        return -ENOMEM;
    }
    if (in->n_skips) {
        c.skips = calloc(in->n_skips, sizeof(*c.skips));
        if (!c.skips) {
            input_free(&c);
            return ingot_fail(-ENOMEM, "manifest: out of memory");
        }
        for (size_t k = 0; k < in->n_skips; k++) {
            c.skips[k].count = in->skips[k].count;
            c.n_skips = k + 1;
            if (dup_str(&c.skips[k].reason, in->skips[k].reason)) {
                input_free(&c);
                return -ENOMEM;
            }
        }
    }
    m->inputs[m->n_inputs++] = c;
    return 0;
}

int manifest_add_skip_example(struct manifest *m, const char *text)
{
    char **n = realloc(m->skip_examples, (m->n_skip_examples + 1) * sizeof(*n));
    if (!n)
        return ingot_fail(-ENOMEM, "manifest: out of memory");
    m->skip_examples = n;
    char *c = NULL;
    if (dup_str(&c, text))
        return -ENOMEM;
    m->skip_examples[m->n_skip_examples++] = c;
    return 0;
}

void manifest_update_totals(struct manifest *m)
{
    memset(m->total_tokens, 0, sizeof(m->total_tokens));
    memset(m->total_docs, 0, sizeof(m->total_docs));
    for (size_t i = 0; i < m->n_shards; i++) {
        uint32_t s = m->shards[i].split <= INGOT_SPLIT_VAL ? m->shards[i].split : 0;
        m->total_tokens[s] += m->shards[i].n_tokens;
        m->total_docs[s] += m->shards[i].n_docs;
    }
}

void manifest_skip_counts(const struct manifest *m, uint64_t *skipped, uint64_t *docs)
{
    *skipped = 0;
    *docs = m->total_docs[0] + m->total_docs[1];
    for (size_t k = 0; k < m->n_inputs; k++)
        for (size_t j = 0; j < m->inputs[k].n_skips; j++) {
            int r = skip_reason_parse(m->inputs[k].skips[j].reason);
            if (r >= 0 && skip_reason_is_skip(r) && !skip_reason_is_damage(r))
                *skipped += m->inputs[k].skips[j].count;
        }
}

/* ---- writing ---- */

static json_t *jhex(uint64_t v)
{
    char b[17];
    snprintf(b, sizeof(b), "%016" PRIx64, v);
    return json_string(b);
}

/* Counts beyond 2^63 cannot occur in practice; they are refused rather
 * than silently wrapped. */
static json_t *ju64(uint64_t v, int *bad)
{
    if (v > (uint64_t)INT64_MAX) {
        *bad = 1;
        v = 0;
    }
    return json_integer((json_int_t)v);
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *totals_obj(uint64_t tokens, uint64_t docs, int *bad)
{
    return json_pack("{s:o, s:o}", "tokens", ju64(tokens, bad), "documents", ju64(docs, bad));
}

static json_t *manifest_to_json(const struct manifest *m, int *bad)
{
    struct manifest t = *m;
    manifest_update_totals(&t);
    const struct manifest_tokenizer *tk = &m->tokenizer;
    json_t *root = json_pack(
        "{s:s, s:i, s:o, s:o, s:i, s:{s:o, s:o, s:o, s:I, s:i, s:i, s:i, s:i}, s:{s:o, s:o, s:o}}",
        "format", "ingot-dataset",
        "format_version", m->format_version,
        "ingot_version", jstr(m->ingot_version),
        "command_line", jstr(m->command_line),
        "token_width", (int)m->token_width,
        "tokenizer",
        "file", jstr(tk->file), "hash", jhex(tk->hash), "type", jstr(tk->type),
        "vocab_size", (json_int_t)tk->vocab_size, "bos_id", tk->bos_id, "eos_id", tk->eos_id,
        "pad_id", tk->pad_id, "unk_id", tk->unk_id,
        "totals",
        "train", totals_obj(t.total_tokens[0], t.total_docs[0], bad),
        "val", totals_obj(t.total_tokens[1], t.total_docs[1], bad),
        "all", totals_obj(t.total_tokens[0] + t.total_tokens[1], t.total_docs[0] + t.total_docs[1],
                          bad));
    if (!root)
        return NULL;
    if (tk->source)
        json_object_set_new(json_object_get(root, "tokenizer"), "source", jstr(tk->source));
    json_t *shards = json_array(), *inputs = json_array(), *ex = json_array();
    bool any_damage = false;
    json_object_set_new(root, "shards", shards);
    json_object_set_new(root, "inputs", inputs);
    json_object_set_new(root, "skip_examples", ex);
    if (!shards || !inputs || !ex)
        goto oom;
    for (size_t i = 0; i < m->n_shards; i++) {
        const struct manifest_shard *s = &m->shards[i];
        json_t *o = json_pack("{s:o, s:s, s:o, s:o, s:o, s:{s:o, s:o, s:o, s:o}}",
                              "file", jstr(s->file), "split", ingot_split_name(s->split),
                              "tokens", ju64(s->n_tokens, bad), "documents", ju64(s->n_docs, bad),
                              "file_size", ju64(s->file_size, bad),
                              "checksums",
                              "tokens", jhex(s->tokens_checksum), "index", jhex(s->index_checksum),
                              "provenance", jhex(s->prov_checksum),
                              "header", jhex(s->header_checksum));
        if (!o || json_array_append_new(shards, o))
            goto oom;
    }
    for (size_t i = 0; i < m->n_inputs; i++) {
        const struct manifest_input *in = &m->inputs[i];
        json_t *sk = json_object();
        if (!sk)
            goto oom;
        for (size_t k = 0; k < in->n_skips; k++)
            json_object_set_new(sk, in->skips[k].reason ? in->skips[k].reason : "?",
                                ju64(in->skips[k].count, bad));
        json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o}", "name", jstr(in->name),
                              "size", ju64(in->size, bad), "documents", ju64(in->n_docs, bad),
                              "tokens", ju64(in->n_tokens, bad), "skipped", sk);
        if (o && in->damage && json_object_set_new(o, "damage", jstr(in->damage))) {
            json_decref(o);
            goto oom;
        }
        if (!o || json_array_append_new(inputs, o))
            goto oom;
        any_damage |= in->damage != NULL;
    }
    if (any_damage && json_object_set_new(root, "damaged_inputs_accepted",
                                          json_boolean(m->damaged_accepted)))
        goto oom;
    for (size_t i = 0; i < m->n_skip_examples; i++)
        if (json_array_append_new(ex, jstr(m->skip_examples[i])))
            goto oom;
    return root;
oom:
    json_decref(root);
    return NULL;
}

int manifest_format(const struct manifest *m, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    int bad = 0;
    json_t *root = manifest_to_json(m, &bad);
    if (!root)
        return ingot_oom("manifest JSON tree", sizeof(*m));
    if (bad) {
        json_decref(root);
        return ingot_fail(INGOT_E_JSON, "manifest: a count does not fit a signed 64-bit integer");
    }
    char *t = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!t)
        return ingot_oom("manifest text", 0);
    size_t n = strlen(t);
    /* End with a newline like any text file. */
    char *nl = realloc(t, n + 2);
    if (!nl) {
        free(t);
        return ingot_oom("manifest text", n + 2);
    }
    nl[n] = '\n';
    nl[n + 1] = '\0';
    *text = nl;
    *len = n + 1;
    return 0;
}

int manifest_write(const char *path, const struct manifest *m)
{
    char *text, tp[1024];   /* path, as term_text shows it */
    size_t len;
    int ret = manifest_format(m, &text, &len);
    if (ret == INGOT_E_JSON)
        return ingot_fail(ret, "%s: a count does not fit a signed 64-bit integer",
                          term_text(path, tp, sizeof(tp)));
    if (ret)
        return ret;
    if (len > MANIFEST_MAX_BYTES) {   /* one that no reader would open */
        free(text);
        return ingot_fail(-EFBIG, "%s: the manifest would be %zu bytes, more than the %zu its "
                          "readers take; nothing was written (too many inputs or shards for one "
                          "dataset: split the corpus into several)",
                          term_text(path, tp, sizeof(tp)), len, MANIFEST_MAX_BYTES);
    }
    ret = fs_write_atomic(path, text, len);
    free(text);
    return ret;
}

/* ---- reading ---- */

/* Where we are, for messages: the file (through term_text()) and the key
 * path ("shards[2]."). */
struct jctx {
    const char *path;
    char where[96];
};

static json_t *jget(const struct jctx *c, json_t *obj, const char *key, int type, int *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_typeof(v) != (json_type)type) {
        static const char *const names[] = { "an object", "an array", "a string", "an integer",
                                             "a number", "a boolean", "a boolean", "null" };
        *err = ingot_fail(INGOT_E_JSON, "%s: key %s%s: %s (expected %s)", c->path, c->where, key,
                          v ? "wrong type" : "missing", names[type]);
        return NULL;
    }
    return v;
}

static int get_u64(const struct jctx *c, json_t *obj, const char *key, uint64_t *out)
{
    int err = 0;
    json_t *v = jget(c, obj, key, JSON_INTEGER, &err);
    if (!v)
        return err;
    json_int_t x = json_integer_value(v);
    if (x < 0)
        return ingot_fail(INGOT_E_JSON, "%s: key %s%s: %lld is negative", c->path, c->where, key,
                          (long long)x);
    *out = (uint64_t)x;
    return 0;
}

static int get_u32(const struct jctx *c, json_t *obj, const char *key, uint32_t *out)
{
    uint64_t v;
    int ret = get_u64(c, obj, key, &v);
    if (ret)
        return ret;
    if (v > UINT32_MAX)
        return ingot_fail(INGOT_E_JSON, "%s: key %s%s: %llu does not fit 32 bits", c->path,
                          c->where, key, (ull)v);
    *out = (uint32_t)v;
    return 0;
}

static int get_id(const struct jctx *c, json_t *obj, const char *key, int32_t *out)
{
    int err = 0;
    json_t *v = jget(c, obj, key, JSON_INTEGER, &err);
    if (!v)
        return err;
    json_int_t x = json_integer_value(v);
    if (x < -1 || x > INT32_MAX)
        return ingot_fail(INGOT_E_JSON, "%s: key %s%s: %lld is not -1 or a valid id", c->path,
                          c->where, key, (long long)x);
    *out = (int32_t)x;
    return 0;
}

/* A string that may be null (then *out stays NULL). */
static int get_str(const struct jctx *c, json_t *obj, const char *key, char **out)
{
    json_t *v = json_object_get(obj, key);
    if (v && json_is_null(v))
        return 0;
    int err = 0;
    v = jget(c, obj, key, JSON_STRING, &err);
    if (!v)
        return err;
    return dup_str(out, json_string_value(v));
}

static int get_hex(const struct jctx *c, json_t *obj, const char *key, uint64_t *out)
{
    int err = 0;
    json_t *v = jget(c, obj, key, JSON_STRING, &err);
    if (!v)
        return err;
    const char *s = json_string_value(v);
    uint64_t x = 0;
    size_t n = strlen(s);
    if (n != 16)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0'
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0)
            goto bad;
        x = x << 4 | (uint64_t)d;
    }
    *out = x;
    return 0;
bad:;
    char tb[64];   /* the manifest's text, control bytes as '?' */
    return ingot_fail(INGOT_E_JSON, "%s: key %s%s: \"%s\" is not 16 hex digits", c->path, c->where,
                      key, term_text(s, tb, sizeof(tb)));
}

static int read_tokenizer(struct jctx *c, json_t *root, struct manifest *m)
{
    int err = 0;
    json_t *t = jget(c, root, "tokenizer", JSON_OBJECT, &err);
    if (!t)
        return err;
    snprintf(c->where, sizeof(c->where), "tokenizer.");
    struct manifest_tokenizer *tk = &m->tokenizer;
    if ((err = get_str(c, t, "file", &tk->file)) || (err = get_hex(c, t, "hash", &tk->hash)) ||
        (err = get_str(c, t, "type", &tk->type)) ||
        (err = get_u32(c, t, "vocab_size", &tk->vocab_size)) ||
        (err = get_id(c, t, "bos_id", &tk->bos_id)) || (err = get_id(c, t, "eos_id", &tk->eos_id)) ||
        (err = get_id(c, t, "pad_id", &tk->pad_id)) || (err = get_id(c, t, "unk_id", &tk->unk_id)))
        return err;
    /* Optional (issue 13 on). */
    if (json_object_get(t, "source") && (err = get_str(c, t, "source", &tk->source)))
        return err;
    /* One of the names ingot-pretok has always written
     * (ingot_tokenizer_type_name(): "unknown" for import-bin --vocab); null
     * reads as not recorded. Another name would only be caught against the
     * first shard header, as a mismatch, and was printed until then. */
    uint32_t type;
    if (tk->type && ingot_tokenizer_type_parse(tk->type, &type)) {
        char tb[64];
        return ingot_fail(INGOT_E_JSON, "%s: key tokenizer.type: \"%s\" is not a tokenizer "
                          "type: expected unigram, bpe, word, char or unknown (as ingot-pretok "
                          "writes it)", c->path, term_text(tk->type, tb, sizeof(tb)));
    }
    c->where[0] = '\0';
    return 0;
}

/* Counts beyond what the format holds, or a file_size other than the
 * layout of those counts, are refused here, so that no reader of the
 * manifest computes with them. */
static int check_shard_counts(const struct jctx *c, uint32_t width, const struct manifest_shard *s)
{
    if (s->n_tokens > INGOT_SHARD_MAX_COUNT || s->n_docs > INGOT_SHARD_MAX_COUNT)
        return ingot_fail(INGOT_E_JSON,
                          "%s: key %s%s: %llu is more than a shard can hold (%llu)", c->path,
                          c->where, s->n_tokens > INGOT_SHARD_MAX_COUNT ? "tokens" : "documents",
                          (ull)(s->n_tokens > INGOT_SHARD_MAX_COUNT ? s->n_tokens : s->n_docs),
                          (ull)INGOT_SHARD_MAX_COUNT);
    struct ingot_shard_layout lay;
    int ret = ingot_shard_layout(c->path, "", width, s->n_tokens, s->n_docs, &lay);
    if (ret)
        return ret;
    if (s->file_size != lay.file_size)
        return ingot_fail(INGOT_E_JSON,
                          "%s: key %sfile_size: %llu, but %llu tokens of %u bytes and %llu "
                          "documents make a shard of %llu bytes",
                          c->path, c->where, (ull)s->file_size, (ull)s->n_tokens, width,
                          (ull)s->n_docs, (ull)lay.file_size);
    return 0;
}

/* *sum += v, refusing a sum beyond 2^63 (what JSON and the writer hold). */
static int add_count(const struct jctx *c, const char *key, uint64_t *sum, uint64_t v)
{
    if (v > (uint64_t)INT64_MAX - *sum)
        return ingot_fail(INGOT_E_JSON, "%s: key %s: the counts add up to more than 2^63", c->path,
                          key);
    *sum += v;
    return 0;
}

/* What the format can hold: the token width, a vocabulary that fits it,
 * special ids inside the vocabulary. */
static int check_tokenizer_fit(const struct jctx *c, const struct manifest *m)
{
    const struct manifest_tokenizer *t = &m->tokenizer;
    if (m->token_width != 2 && m->token_width != 4)
        return ingot_fail(INGOT_E_JSON, "%s: key token_width: %u, must be 2 or 4", c->path,
                          m->token_width);
    if (t->vocab_size == 0 || (m->token_width == 2 && t->vocab_size > 65536))
        return ingot_fail(INGOT_E_JSON,
                          "%s: key tokenizer.vocab_size: %u does not fit token_width %u", c->path,
                          t->vocab_size, m->token_width);
    const int32_t id[4] = { t->bos_id, t->eos_id, t->pad_id, t->unk_id };
    static const char *const name[4] = { "bos_id", "eos_id", "pad_id", "unk_id" };
    for (int i = 0; i < 4; i++)
        if (id[i] >= 0 && (uint32_t)id[i] >= t->vocab_size)
            return ingot_fail(INGOT_E_JSON,
                              "%s: key tokenizer.%s: %d is not below vocab_size %u", c->path,
                              name[i], id[i], t->vocab_size);
    return 0;
}

static int read_shard(struct jctx *c, json_t *o, size_t i, uint32_t width, struct manifest_shard *s)
{
    snprintf(c->where, sizeof(c->where), "shards[%zu].", i);
    int err = 0;
    if (!json_is_object(o))
        return ingot_fail(INGOT_E_JSON, "%s: key shards[%zu]: not an object", c->path, i);
    char *split = NULL;
    if ((err = get_str(c, o, "file", &s->file)) || (err = get_str(c, o, "split", &split)))
        return err;
    if (!s->file || !s->file[0]) {
        free(split);
        return ingot_fail(INGOT_E_JSON, "%s: key %sfile: empty", c->path, c->where);
    }
    err = ingot_split_parse(split, &s->split);
    free(split);
    if (err)
        return ingot_fail(INGOT_E_JSON, "%s: key %ssplit: must be \"train\" or \"val\"", c->path,
                          c->where);
    if ((err = get_u64(c, o, "tokens", &s->n_tokens)) ||
        (err = get_u64(c, o, "documents", &s->n_docs)) ||
        (err = get_u64(c, o, "file_size", &s->file_size)) ||
        (err = check_shard_counts(c, width, s)))
        return err;
    json_t *ck = jget(c, o, "checksums", JSON_OBJECT, &err);
    if (!ck)
        return err;
    snprintf(c->where, sizeof(c->where), "shards[%zu].checksums.", i);
    if ((err = get_hex(c, ck, "tokens", &s->tokens_checksum)) ||
        (err = get_hex(c, ck, "index", &s->index_checksum)) ||
        (err = get_hex(c, ck, "provenance", &s->prov_checksum)) ||
        (err = get_hex(c, ck, "header", &s->header_checksum)))
        return err;
    return 0;
}

static int read_input(struct jctx *c, json_t *o, size_t i, struct manifest_input *in)
{
    snprintf(c->where, sizeof(c->where), "inputs[%zu].", i);
    int err = 0;
    if (!json_is_object(o))
        return ingot_fail(INGOT_E_JSON, "%s: key inputs[%zu]: not an object", c->path, i);
    if ((err = get_str(c, o, "name", &in->name)) || (err = get_u64(c, o, "size", &in->size)) ||
        (err = get_u64(c, o, "documents", &in->n_docs)) ||
        (err = get_u64(c, o, "tokens", &in->n_tokens)))
        return err;
    if (json_object_get(o, "damage") && (err = get_str(c, o, "damage", &in->damage)))
        return err;
    json_t *sk = jget(c, o, "skipped", JSON_OBJECT, &err);
    if (!sk)
        return err;
    size_t n = json_object_size(sk);
    if (!n)
        return 0;
    in->skips = calloc(n, sizeof(*in->skips));
    if (!in->skips)
        return ingot_fail(-ENOMEM, "%s: out of memory", c->path);
    snprintf(c->where, sizeof(c->where), "inputs[%zu].skipped.", i);
    const char *key;
    json_t *v;
    json_object_foreach(sk, key, v) {
        struct manifest_skip *k = &in->skips[in->n_skips++];
        if ((err = dup_str(&k->reason, key)) || (err = get_u64(c, sk, key, &k->count)))
            return err;
    }
    return 0;
}

static int check_totals(struct jctx *c, json_t *root, const struct manifest *m)
{
    int err = 0;
    json_t *t = jget(c, root, "totals", JSON_OBJECT, &err);
    if (!t)
        return err;
    static const char *const names[3] = { "train", "val", "all" };
    for (int s = 0; s < 3; s++) {
        snprintf(c->where, sizeof(c->where), "totals.");
        json_t *o = jget(c, t, names[s], JSON_OBJECT, &err);
        if (!o)
            return err;
        snprintf(c->where, sizeof(c->where), "totals.%s.", names[s]);
        uint64_t tok, docs;
        if ((err = get_u64(c, o, "tokens", &tok)) || (err = get_u64(c, o, "documents", &docs)))
            return err;
        uint64_t et = s < 2 ? m->total_tokens[s] : m->total_tokens[0] + m->total_tokens[1];
        uint64_t ed = s < 2 ? m->total_docs[s] : m->total_docs[0] + m->total_docs[1];
        if (tok != et || docs != ed)
            return ingot_fail(INGOT_E_JSON,
                              "%s: key totals.%s: %llu tokens / %llu documents, but the shards "
                              "add up to %llu / %llu",
                              c->path, names[s], (ull)tok, (ull)docs, (ull)et, (ull)ed);
    }
    c->where[0] = '\0';
    return 0;
}

static int manifest_from_json(struct jctx *c, json_t *root, struct manifest *m)
{
    int err = 0;
    if (!json_is_object(root))
        return ingot_fail(INGOT_E_JSON, "%s: not a JSON object, so not an Ingot manifest", c->path);
    json_t *fmt = json_object_get(root, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "ingot-dataset"))
        return ingot_fail(INGOT_E_JSON,
                          "%s: key format: missing or not \"ingot-dataset\", so not an Ingot "
                          "manifest", c->path);
    uint64_t ver;
    if ((err = get_u64(c, root, "format_version", &ver)))
        return err;
    if (ver > INGOT_MANIFEST_VERSION)
        return ingot_fail(INGOT_E_VERSION,
                          "%s: key format_version: %llu was written by a newer Ingot; this build "
                          "reads version %d, upgrade ingot",
                          c->path, (ull)ver, INGOT_MANIFEST_VERSION);
    if (ver == 0)
        return ingot_fail(INGOT_E_JSON, "%s: key format_version: 0 is not a valid version", c->path);
    m->format_version = (int)ver;
    if ((err = get_str(c, root, "ingot_version", &m->ingot_version)) ||
        (err = get_str(c, root, "command_line", &m->command_line)) ||
        (err = get_u32(c, root, "token_width", &m->token_width)) ||
        (err = read_tokenizer(c, root, m)) || (err = check_tokenizer_fit(c, m)))
        return err;
    json_t *a = jget(c, root, "shards", JSON_ARRAY, &err);
    if (!a)
        return err;
    size_t n = json_array_size(a);
    m->shards = calloc(n ? n : 1, sizeof(*m->shards));
    if (!m->shards)
        return ingot_fail(-ENOMEM, "%s: out of memory", c->path);
    uint64_t all_tokens = 0, all_docs = 0;
    for (size_t i = 0; i < n; i++) {
        m->n_shards = i + 1;
        if ((err = read_shard(c, json_array_get(a, i), i, m->token_width, &m->shards[i])) ||
            (err = add_count(c, "shards", &all_tokens, m->shards[i].n_tokens)) ||
            (err = add_count(c, "shards", &all_docs, m->shards[i].n_docs)))
            return err;
    }
    c->where[0] = '\0';
    a = jget(c, root, "inputs", JSON_ARRAY, &err);
    if (!a)
        return err;
    n = json_array_size(a);
    m->inputs = calloc(n ? n : 1, sizeof(*m->inputs));
    if (!m->inputs)
        return ingot_fail(-ENOMEM, "%s: out of memory", c->path);
    all_tokens = all_docs = 0;
    for (size_t i = 0; i < n; i++) {
        m->n_inputs = i + 1;
        if ((err = read_input(c, json_array_get(a, i), i, &m->inputs[i])) ||
            (err = add_count(c, "inputs", &all_tokens, m->inputs[i].n_tokens)) ||
            (err = add_count(c, "inputs", &all_docs, m->inputs[i].n_docs)))
            return err;
    }
    c->where[0] = '\0';
    json_t *acc = json_object_get(root, "damaged_inputs_accepted");
    if (acc && !json_is_boolean(acc))
        return ingot_fail(INGOT_E_JSON, "%s: key damaged_inputs_accepted: not a boolean",
                          c->path);
    m->damaged_accepted = json_is_true(acc);
    a = json_object_get(root, "skip_examples");
    if (a && !json_is_array(a))
        return ingot_fail(INGOT_E_JSON, "%s: key skip_examples: not an array", c->path);
    n = a ? json_array_size(a) : 0;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_string(v))
            return ingot_fail(INGOT_E_JSON, "%s: key skip_examples[%zu]: not a string", c->path, i);
        if ((err = manifest_add_skip_example(m, json_string_value(v))))
            return err;
    }
    manifest_update_totals(m);
    return check_totals(c, root, m);
}

int manifest_parse(const char *name, const char *text, size_t len, struct manifest **out)
{
    *out = NULL;
    char tn[1024];   /* a path from the command line or a directory: control bytes as '?' */
    name = term_text(name, tn, sizeof(tn));
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        char tb[sizeof(je.text) + 4];   /* quotes the text near the error */
        return ingot_fail(INGOT_E_JSON, "%s: line %d column %d: %s", name, je.line, je.column,
                          term_text(je.text, tb, sizeof(tb)));
    }
    struct manifest *m = calloc(1, sizeof(*m));
    if (!m) {
        json_decref(root);
        return ingot_oom("manifest", sizeof(*m));
    }
    struct jctx c = { .path = name };
    int ret = manifest_from_json(&c, root, m);
    json_decref(root);
    if (ret) {
        manifest_free(m);
        return ret;
    }
    *out = m;
    return 0;
}

int manifest_read(const char *path, struct manifest **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int ret = fs_read_capped(path, "manifest", MANIFEST_MAX_BYTES, &text, &len);
    if (ret)
        return ret;
    ret = manifest_parse(path, text, len, out);
    free(text);
    return ret;
}
