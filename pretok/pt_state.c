/* The resume state in JSON (jansson). Hashes are 16-digit hex strings like
 * in the manifest; counters are JSON integers. Only files with nonzero
 * counters are listed, so the file stays small for long input lists. */
#include "pt_state.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "json_term.h"
#include "pt_writer.h"
#include "shard_format.h"
#include "term_text.h"

#define STATE_VERSION 1

int pt_counts_init(struct pt_counts *c, size_t n_files)
{
    memset(c, 0, sizeof(*c));
    c->n_files = n_files;
    c->file = calloc(n_files ? n_files : 1, sizeof(*c->file));
    return c->file ? 0 : -ENOMEM;
}

void pt_counts_free(struct pt_counts *c)
{
    for (size_t i = 0; c->file && i < c->n_files; i++)
        free(c->file[i].damage);
    for (size_t i = 0; i < c->n_examples; i++)
        free(c->examples[i]);
    free(c->examples);
    free(c->file);
    memset(c, 0, sizeof(*c));
}

static int push_example(struct pt_counts *c, const char *text)
{
    char **v = realloc(c->examples, (c->n_examples + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    c->examples = v;
    if (!(v[c->n_examples] = json_term_escape(text)))   /* names a file: any bytes */
        return -ENOMEM;
    c->n_examples++;
    return 0;
}

int pt_counts_example(struct pt_counts *c, int reason, const char *text)
{
    if (c->n_examples_of[reason] >= PT_EXAMPLES_PER_REASON)
        return 0;
    c->n_examples_of[reason]++;
    return push_example(c, text);
}

int pt_counts_damage(struct pt_counts *c, size_t file, const char *text)
{
    if (c->file[file].damage)
        return 0;
    return (c->file[file].damage = json_term_escape(text)) ? 0 : -ENOMEM;
}

int pt_counts_damage_reason(const struct pt_counts *c, size_t file)
{
    for (int k = 0; k < SKIP_R__COUNT; k++)
        if (c->file[file].reason[k] && skip_reason_is_damage(k))
            return k;
    return -1;
}

size_t pt_counts_damaged_files(const struct pt_counts *c, size_t first, size_t end)
{
    size_t n = 0;
    for (size_t i = first; i < end && i < c->n_files; i++)
        n += pt_counts_damage_reason(c, i) >= 0;
    return n;
}

int pt_state_add_shard(struct pt_state *st, const struct manifest_shard *s)
{
    struct manifest_shard *v = realloc(st->shards, (st->n_shards + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    st->shards = v;
    v[st->n_shards] = *s;
    if (!(v[st->n_shards].file = strdup(s->file)))
        return -ENOMEM;
    st->n_shards++;
    return 0;
}

void pt_state_free(struct pt_state *st)
{
    for (size_t i = 0; i < st->n_shards; i++)
        free(st->shards[i].file);
    free(st->shards);
    free(st->options_text);
    free(st->command_line);
    free(st->mtimes);
    pt_counts_free(&st->counts);
    memset(st, 0, sizeof(*st));
}

/* ---- writing ---- */

static json_t *jhex(uint64_t v)
{
    char s[17];
    snprintf(s, sizeof(s), "%016" PRIx64, v);
    return json_string(s);
}

static json_t *jpos(struct pt_pos p)
{
    return json_pack("[II]", (json_int_t)p.file, (json_int_t)p.record);
}

static json_t *state_to_json(const struct pt_state *st)
{
    const struct pt_counts *c = &st->counts;
    json_t *shards = json_array(), *files = json_array(), *examples = json_array();
    json_t *reasons = json_object(), *damage = NULL;
    for (size_t i = 0; i < st->n_shards; i++) {
        const struct manifest_shard *s = &st->shards[i];
        json_array_append_new(shards, json_pack("{s:s,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o}",
            "file", s->file, "split", (json_int_t)s->split,
            "n_tokens", (json_int_t)s->n_tokens, "n_docs", (json_int_t)s->n_docs,
            "file_size", (json_int_t)s->file_size,
            "tokens_checksum", jhex(s->tokens_checksum),
            "index_checksum", jhex(s->index_checksum),
            "prov_checksum", jhex(s->prov_checksum),
            "header_checksum", jhex(s->header_checksum)));
    }
    for (size_t i = 0; i < c->n_files; i++) {
        const struct pt_file_counts *f = &c->file[i];
        json_t *r = json_object();
        bool any = f->docs || f->tokens;
        for (int k = 0; k < SKIP_R__COUNT; k++)
            if (f->reason[k]) {
                json_object_set_new(r, skip_reason_name(k), json_integer((json_int_t)f->reason[k]));
                any = true;
            }
        if (any)
            json_array_append_new(files, json_pack("[IIIo]", (json_int_t)i,
                (json_int_t)f->docs, (json_int_t)f->tokens, r));
        else
            json_decref(r);
        /* apart from "files", whose entries older readers take as 4 items */
        if (f->damage && (damage || (damage = json_array())))
            json_array_append_new(damage, json_pack("[Is]", (json_int_t)i, f->damage));
    }
    for (size_t i = 0; i < c->n_examples; i++)
        json_array_append_new(examples, json_string(c->examples[i]));
    for (int k = 0; k < SKIP_R__COUNT; k++)
        if (c->n_examples_of[k])
            json_object_set_new(reasons, skip_reason_name(k),
                                json_integer(c->n_examples_of[k]));
    json_t *root = json_pack("{s:i,s:o,s:o,s:o,s:o,s:I,s:s?,s:s?,s:[ii],s:b,s:[II],s:[oo],s:o,s:o,"
                             "s:{s:[II],s:[II],s:I,s:I,s:o,s:o,s:o}}",
        "version", STATE_VERSION,
        "options_hash", jhex(st->options_hash),
        "merge_hash", jhex(st->merge_hash),
        "model_hash", jhex(st->model_hash),
        "inputs_hash", jhex(st->inputs_hash),
        "n_inputs", (json_int_t)c->n_files,
        "options", st->options_text,
        "command_line", st->command_line,
        "part", (int)st->part_k, (int)st->part_n,
        "done", st->done,
        "next_seq", (json_int_t)st->next_seq[0], (json_int_t)st->next_seq[1],
        "persisted", jpos(st->persisted[0]), jpos(st->persisted[1]),
        "counted_until", jpos(st->counted_until),
        "shards", shards,
        "counts",
        "docs", (json_int_t)c->docs[0], (json_int_t)c->docs[1],
        "tokens", (json_int_t)c->tokens[0], (json_int_t)c->tokens[1],
        "routed_docs", (json_int_t)c->routed_docs,
        "unk_tokens", (json_int_t)c->unk_tokens,
        "files", files,
        "examples", examples,
        "examples_per_reason", reasons);
    if (root && st->mtimes_hash)
        json_object_set_new(root, "mtimes_hash", jhex(st->mtimes_hash));
    if (root && st->n_mtimes) {   /* after the hash, which older readers go by */
        json_t *t = json_array();
        for (size_t i = 0; t && i < st->n_mtimes; i++)
            json_array_append_new(t, json_integer((json_int_t)st->mtimes[i]));
        if (!t || json_array_size(t) != st->n_mtimes || json_object_set_new(root, "mtimes", t)) {
            json_decref(root);
            root = NULL;
        }
    }
    if (root && damage)
        json_object_set_new(json_object_get(root, "counts"), "damage", damage);
    else
        json_decref(damage);
    if (root && st->stdin_head_len &&
        json_object_set_new(root, "stdin_head", json_pack("[Io]", (json_int_t)st->stdin_head_len,
                                                          jhex(st->stdin_head_hash)))) {
        json_decref(root);
        root = NULL;
    }
    if (root && st->stdin_chain_record &&
        json_object_set_new(root, "stdin_chain", json_pack("[Io]",
                            (json_int_t)st->stdin_chain_record, jhex(st->stdin_chain)))) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

uint64_t pt_json_checksum(json_t *root, bool *ok)
{
    char *t = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    *ok = t != NULL;
    uint64_t h = t ? ingot_xxh3(t, strlen(t)) : 0;
    free(t);
    return h;
}

int pt_state_write(const char *path, const struct pt_state *st)
{
    char tp[1024];   /* path in --out, as term_text shows it */
    term_text(path, tp, sizeof(tp));
    json_t *root = state_to_json(st);
    if (!root)
        return ingot_fail(-ENOMEM, "%s: out of memory", tp);
    /* every number here decides what a resume keeps: a changed one, still
     * in range, silently lost documents (persisted) or made a manifest that
     * does not add up (counts) */
    bool ok;
    const uint64_t sum = pt_json_checksum(root, &ok);
    if (!ok || json_object_set_new(root, "checksum", jhex(sum))) {
        json_decref(root);
        return ingot_fail(-ENOMEM, "%s: out of memory", tp);
    }
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return ingot_fail(-ENOMEM, "%s: out of memory", tp);
    int ret = fs_write_atomic(path, text, strlen(text));
    free(text);
    return ret;
}

/* ---- reading ---- */

/* what: a field's name, or jansson's error, which quotes the file's text */
static int bad(const char *path, const char *what)
{
    char tp[1024], tw[256];
    return ingot_fail(INGOT_E_JSON, "%s: damaged resume state (%s); cannot resume from it. "
                      "The shards and manifest next to it were left as they are (ingot-dump "
                      "verify checks them); to convert again, use a new --out",
                      term_text(path, tp, sizeof(tp)), term_text(what, tw, sizeof(tw)));
}

static int get_hex(json_t *v, uint64_t *out)
{
    const char *s = json_string_value(v);
    char *end;
    if (!s || strlen(s) != 16)
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 16);
    return *end || errno ? -1 : 0;
}

/* An optional hash: absent is 0 (states of earlier versions). */
static int opt_hex(json_t *root, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(root, key);
    *out = 0;
    return v ? get_hex(v, out) : 0;
}

/* An optional string, copied (NULL when absent). False when out of memory. */
static bool opt_string(json_t *root, const char *key, char **out)
{
    const char *s = json_string_value(json_object_get(root, key));
    *out = s ? strdup(s) : NULL;
    return !s || *out;
}

static int get_u64(json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_pos(json_t *v, struct pt_pos *p)
{
    uint64_t f;
    if (!json_is_array(v) || json_array_size(v) != 2 || get_u64(json_array_get(v, 0), &f) ||
        f > UINT32_MAX || get_u64(json_array_get(v, 1), &p->record))
        return -1;
    p->file = (uint32_t)f;
    return 0;
}

static int get_pair(json_t *v, uint64_t out[2])
{
    if (!json_is_array(v) || json_array_size(v) != 2 || get_u64(json_array_get(v, 0), &out[0]) ||
        get_u64(json_array_get(v, 1), &out[1]))
        return -1;
    return 0;
}

int pt_state_read(const char *path, size_t n_files, struct pt_state *st)
{
    memset(st, 0, sizeof(*st));
    char *text = NULL;
    size_t len = 0;
    int ret = fs_read_capped(path, "resume state", PT_STATE_MAX_BYTES, &text, &len);
    if (ret == -ENOENT)
        return -ENOENT;
    if (ret)
        return ret;
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    free(text);
    if (!root)
        return bad(path, je.text);
    /* the checksum first (states of earlier versions have none) */
    json_t *jsum = json_object_get(root, "checksum");
    if (jsum) {
        uint64_t want = 0, got = 0;
        bool mem = true;
        const bool readable = !get_hex(jsum, &want);
        if (readable) {
            json_object_del(root, "checksum");   /* what it was computed over */
            got = pt_json_checksum(root, &mem);
        }
        if (!mem) {
            json_decref(root);
            return ingot_oom("the resume state's checksum", len);
        }
        if (!readable || got != want) {
            json_decref(root);
            return bad(path, "its checksum does not match: the file was changed or damaged");
        }
    } else if (json_object_get(root, "mtimes")) {
        /* every version that records the inputs' times writes a checksum: a
         * renamed or removed key must not turn the check off */
        json_decref(root);
        return bad(path, "it has no checksum, which every state with \"mtimes\" has: the "
                   "file was changed or damaged");
    }
    /* The counters are sized by the state's own input count (a rerun with
     * other inputs must still be read, to say what changed). */
    uint64_t n_in = n_files;
    json_t *jn = json_object_get(root, "n_inputs");
    if (jn && (get_u64(jn, &n_in) || n_in > UINT32_MAX)) {
        json_decref(root);
        return bad(path, "n_inputs");
    }
    if ((ret = pt_counts_init(&st->counts, (size_t)n_in))) {
        json_decref(root);
        return ingot_oom("the resume state's counters", (size_t)n_in * sizeof(struct pt_file_counts));
    }
    if (!opt_string(root, "options", &st->options_text) ||
        !opt_string(root, "command_line", &st->command_line)) {
        json_decref(root);
        pt_state_free(st);
        return ingot_oom("the resume state's strings", 4096);
    }
    struct pt_counts *c = &st->counts;
    uint64_t part[2] = { 0, 0 };
    json_t *v, *counts = json_object_get(root, "counts");
    const char *what = NULL;
    if (!json_is_integer(v = json_object_get(root, "version")) ||
        json_integer_value(v) != STATE_VERSION) {
        what = "version";
    } else if (get_hex(json_object_get(root, "options_hash"), &st->options_hash)) {
        what = "options_hash";
    } else if (get_hex(json_object_get(root, "merge_hash"), &st->merge_hash)) {
        what = "merge_hash";
    } else if (opt_hex(root, "model_hash", &st->model_hash) ||
               opt_hex(root, "inputs_hash", &st->inputs_hash) ||
               opt_hex(root, "mtimes_hash", &st->mtimes_hash)) {
        what = "model_hash/inputs_hash/mtimes_hash";
    } else if ((v = json_object_get(root, "stdin_head")) &&   /* optional */
               (!json_is_array(v) || json_array_size(v) != 2 ||
                get_u64(json_array_get(v, 0), &st->stdin_head_len) ||
                get_hex(json_array_get(v, 1), &st->stdin_head_hash) ||
                !st->stdin_head_len || st->stdin_head_len > PT_STDIN_HEAD)) {
        what = "stdin_head";
    } else if ((v = json_object_get(root, "stdin_chain")) &&   /* optional */
               (!json_is_array(v) || json_array_size(v) != 2 ||
                get_u64(json_array_get(v, 0), &st->stdin_chain_record) ||
                get_hex(json_array_get(v, 1), &st->stdin_chain) || !st->stdin_chain_record)) {
        what = "stdin_chain";
    } else if (get_pair(json_object_get(root, "part"), part) || part[0] > part[1] ||
               part[1] > 1000000 || (part[1] && !part[0])) {
        what = "part";
    } else if (!json_is_boolean(v = json_object_get(root, "done"))) {
        what = "done";
    } else if (get_pair(json_object_get(root, "next_seq"), st->next_seq) ||
               st->next_seq[0] > PT_STATE_MAX_SHARDS || st->next_seq[1] > PT_STATE_MAX_SHARDS) {
        what = "next_seq";
    } else if (!json_is_array(v = json_object_get(root, "persisted")) ||
               json_array_size(v) != 2 || get_pos(json_array_get(v, 0), &st->persisted[0]) ||
               get_pos(json_array_get(v, 1), &st->persisted[1]) ||
               st->persisted[0].file > n_in || st->persisted[1].file > n_in) {
        what = "persisted";
    } else if (get_pos(json_object_get(root, "counted_until"), &st->counted_until) ||
               st->counted_until.file > n_in) {
        what = "counted_until";
    } else if (!json_is_object(counts) || get_pair(json_object_get(counts, "docs"), c->docs) ||
               get_pair(json_object_get(counts, "tokens"), c->tokens) ||
               get_u64(json_object_get(counts, "routed_docs"), &c->routed_docs) ||
               (json_object_get(counts, "unk_tokens") &&
                get_u64(json_object_get(counts, "unk_tokens"), &c->unk_tokens)) ||
               c->routed_docs != c->docs[0] + c->docs[1] || c->docs[0] > c->tokens[0] ||
               c->docs[1] > c->tokens[1] || c->unk_tokens > c->tokens[0] + c->tokens[1] ||
               c->tokens[0] > INT64_MAX || c->tokens[1] > INT64_MAX) {
        what = "counts";
    }
    st->done = json_is_true(json_object_get(root, "done"));
    st->part_k = (uint32_t)part[0];
    st->part_n = (uint32_t)part[1];
    size_t i;
    json_t *e;
    uint64_t seq[2] = { 0, 0 };
    if (!what) {
        json_array_foreach(json_object_get(root, "shards"), i, e) {
            struct manifest_shard s = { 0 };
            uint64_t split;
            s.file = (char *)json_string_value(json_object_get(e, "file"));
            if (!s.file || strchr(s.file, '/') ||
                get_u64(json_object_get(e, "split"), &split) || split > 1 ||
                get_u64(json_object_get(e, "n_tokens"), &s.n_tokens) ||
                get_u64(json_object_get(e, "n_docs"), &s.n_docs) ||
                get_u64(json_object_get(e, "file_size"), &s.file_size) ||
                get_hex(json_object_get(e, "tokens_checksum"), &s.tokens_checksum) ||
                get_hex(json_object_get(e, "index_checksum"), &s.index_checksum) ||
                get_hex(json_object_get(e, "prov_checksum"), &s.prov_checksum) ||
                get_hex(json_object_get(e, "header_checksum"), &s.header_checksum)) {
                what = "shards";
                break;
            }
            s.split = (uint32_t)split;
            /* Shards of a split are numbered in finishing order, and hold
             * at least one document of at least one token. */
            char want[64];
            pt_shard_name(want, sizeof(want), s.split, seq[s.split]++);
            if (strcmp(s.file, want) || seq[s.split] > st->next_seq[s.split] || !s.n_docs ||
                s.n_docs > s.n_tokens || s.n_tokens > INT64_MAX / 4 ||
                s.file_size < INGOT_SHARD_HEADER_SIZE) {
                what = "shards";
                break;
            }
            if (pt_state_add_shard(st, &s)) {
                what = "out of memory";
                break;
            }
        }
        if (!what && (seq[0] != st->next_seq[0] || seq[1] != st->next_seq[1]))
            what = "shards (fewer than next_seq)";
    }
    if (!what) {
        json_array_foreach(json_object_get(counts, "files"), i, e) {
            uint64_t idx;
            if (!json_is_array(e) || json_array_size(e) != 4 ||
                get_u64(json_array_get(e, 0), &idx) || idx >= n_in ||
                get_u64(json_array_get(e, 1), &c->file[idx].docs) ||
                get_u64(json_array_get(e, 2), &c->file[idx].tokens) ||
                !json_is_object(json_array_get(e, 3))) {
                what = "counts.files";
                break;
            }
            const char *key;
            json_t *cnt;
            json_object_foreach(json_array_get(e, 3), key, cnt) {
                int r = skip_reason_parse(key);
                uint64_t n;
                if (r < 0 || get_u64(cnt, &n)) {
                    what = "counts.files reasons";
                    break;
                }
                c->file[idx].reason[r] = n;
                c->reason[r] += n;
            }
        }
    }
    if (!what) {
        /* optional: states of earlier versions have none */
        json_array_foreach(json_object_get(counts, "damage"), i, e) {
            uint64_t idx;
            const char *msg = json_string_value(json_array_get(e, 1));
            if (!json_is_array(e) || json_array_size(e) != 2 ||
                get_u64(json_array_get(e, 0), &idx) || idx >= n_in || !msg ||
                c->file[idx].damage || pt_counts_damage_reason(c, (size_t)idx) < 0) {
                what = "counts.damage";
                break;
            }
            if (pt_counts_damage(c, (size_t)idx, msg)) {
                what = "out of memory";
                break;
            }
        }
    }
    if (!what && (v = json_object_get(root, "mtimes"))) {
        /* optional: states of earlier versions have the hash alone */
        if (!json_is_array(v) || json_array_size(v) != n_in || !st->mtimes_hash) {
            what = "mtimes";
        } else if (n_in && !(st->mtimes = malloc((size_t)n_in * sizeof(*st->mtimes)))) {
            what = "out of memory";
        } else {
            st->n_mtimes = (size_t)n_in;
            json_array_foreach(v, i, e) {
                if (!json_is_integer(e)) {
                    what = "mtimes";
                    break;
                }
                st->mtimes[i] = (int64_t)json_integer_value(e);
            }
        }
    }
    if (!what && json_array_size(json_object_get(counts, "examples")) >
                     (size_t)SKIP_R__COUNT * PT_EXAMPLES_PER_REASON)
        what = "counts.examples (too many)";
    if (!what) {
        json_array_foreach(json_object_get(counts, "examples"), i, e) {
            if (!json_is_string(e) || push_example(c, json_string_value(e))) {
                what = "counts.examples";
                break;
            }
        }
        const char *key;
        json_object_foreach(json_object_get(counts, "examples_per_reason"), key, e) {
            int r = skip_reason_parse(key);
            uint64_t n;
            if (r < 0 || get_u64(e, &n) || n > PT_EXAMPLES_PER_REASON) {
                what = "counts.examples_per_reason";
                break;
            }
            c->n_examples_of[r] = (uint32_t)n;
        }
    }
    json_decref(root);
    if (what) {
        pt_state_free(st);
        return bad(path, what);
    }
    return 0;
}
