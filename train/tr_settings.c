/* Run settings: resolve, serialise, compare, read config files
 * (tr_settings.h). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "checkpoint.h"
#include "cli_num.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "term_text.h"
#include "tr_config_file.h"
#include "tr_settings.h"
#include "tr_schedule.h"

/* Reals are floats: 9 significant digits round-trip every one. */
#define DUMP_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9))
#define NOTE_FLAGS (JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(9))

/* The shortest decimal that reads back as f, as a JSON real. */
static json_t *jfloat(float f)
{
    return json_real(cli_float_decimal(f));
}

/* A double as a JSON value that keeps it: a real where the dump's 9 digits
 * hold it, else its shortest text as a string, which the settings reader
 * takes as the flag's text. (As a real, --rope-theta 1234567.891 was
 * written as 1234567.89, and --resume then refused its own checkpoint as
 * another model configuration.) */
static json_t *jdouble(double d)
{
    char b[32];
    snprintf(b, sizeof(b), "%.9g", d);
    if (strtod(b, NULL) == d)
        return json_real(d);
    return json_string(cli_format_double(d, b, sizeof(b)));
}

static int set_path(json_t *j, const char *key, const char *p)
{
    char *a = fs_abs_path(p);
    if (!a)
        return ingot_oom("a settings path", strlen(p) + PATH_MAX);
    json_object_set_new(j, key, json_string(a));
    free(a);
    return 0;
}

/* The settings object of o (NULL when out of memory). chosen_only (DIR/
 * config.json, a file to start runs from): without the values derived by a
 * rule (o->derived) and without the metrics path, which a new run started
 * from the file would otherwise truncate (the run that wrote it owns it). */
static json_t *settings_obj(const struct tr_opts *o, bool chosen_only)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    bool llama = !strcmp(o->arch, "llama");
    json_object_set_new(j, "arch", json_string(o->arch));
    json_object_set_new(j, "model", json_string(o->model));
    json_object_set_new(j, "layers", json_integer(o->layers));
    json_object_set_new(j, "heads", json_integer(o->heads));
    json_object_set_new(j, "dim", json_integer(o->dim));
    json_object_set_new(j, "seq-len", json_integer(o->seq_len));
    if (llama) {   /* GPT-2's settings stay as they were */
        json_object_set_new(j, "kv-heads", json_integer(o->kv_heads));
        json_object_set_new(j, "ffn-dim", json_integer(o->ffn_dim));
        json_object_set_new(j, "rope-theta", jdouble(o->rope_theta));
        json_object_set_new(j, "norm-eps", jfloat(o->norm_eps));
        json_object_set_new(j, "tie-embeddings", json_boolean(o->tie_embeddings));
    }
    if (o->synthetic) {
        json_object_set_new(j, "synthetic", json_true());
        json_object_set_new(j, "vocab", json_integer(o->vocab));
    } else {
        json_t *a = json_array();
        json_object_set_new(j, "data", a);
        for (int i = 0; i < o->n_data; i++) {
            char *d = fs_abs_path(o->data_src[i].dir), w[40], *s;
            cli_format_double(o->data_src[i].weight, w, sizeof(w));
            s = d ? malloc(strlen(d) + strlen(w) + 2) : NULL;
            if (!s) {
                free(d);
                json_decref(j);
                return NULL;
            }
            sprintf(s, "%s:%s", d, w);
            json_array_append_new(a, json_string(s));
            free(s);
            free(d);
        }
    }
    json_object_set_new(j, "data-order", json_string(o->sequential ? "sequential" : "shuffled"));
    if (o->tokenizer && set_path(j, "tokenizer", o->tokenizer)) {
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "batch", json_integer(o->batch));
    if (!(chosen_only && (o->derived & TR_DERIVED_BATCH_TOKENS)))
        json_object_set_new(j, "batch-tokens", json_integer(o->batch_tokens));
    json_object_set_new(j, "steps", json_integer(o->steps));
    if (!(chosen_only && (o->derived & TR_DERIVED_LR)))
        json_object_set_new(j, "lr", jfloat(o->lr));
    if (!(chosen_only && (o->derived & TR_DERIVED_MIN_LR)))
        json_object_set_new(j, "min-lr", jfloat(o->min_lr));
    json_object_set_new(j, "lr-schedule", json_string(tr_schedule_name(o->lr_schedule)));
    if (o->lr_schedule == TR_SCHED_WSD && o->cooldown_steps > 0)
        json_object_set_new(j, "cooldown-steps", json_integer(o->cooldown_steps));
    else if (o->lr_schedule == TR_SCHED_WSD)
        json_object_set_new(j, "cooldown", jdouble(o->cooldown));
    if (!(chosen_only && (o->derived & TR_DERIVED_WARMUP)))
        json_object_set_new(j, "warmup", json_integer(o->warmup));
    json_object_set_new(j, "weight-decay", jfloat(o->weight_decay));
    json_object_set_new(j, "grad-clip", jfloat(o->grad_clip));
    json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
    if (o->precision)
        json_object_set_new(j, "precision", json_string(o->precision));
    json_object_set_new(j, "zero", json_integer(o->zero));
    json_object_set_new(j, "grad-reduce", json_string(o->grad_reduce_bf16 ? "bf16" : "fp32"));
    json_object_set_new(j, "val-every", json_integer(o->val_every));
    json_object_set_new(j, "val-tokens", json_integer(o->val_tokens));
    json_object_set_new(j, "sample-every", json_integer(o->sample_every));
    json_object_set_new(j, "sample-tokens", json_integer(o->sample_tokens));
    json_object_set_new(j, "top-k", json_integer(o->top_k));
    json_object_set_new(j, "temperature", jfloat(o->temperature));
    json_object_set_new(j, "ckpt-every", json_integer(o->ckpt_every));
    json_object_set_new(j, "ckpt-keep", json_integer(o->ckpt_keep));
    json_object_set_new(j, "print-every", json_integer(o->print_every));
    if (o->metrics && !chosen_only && set_path(j, "metrics", o->metrics)) {
        json_decref(j);
        return NULL;
    }
    /* a branch's config.json names where it starts (the checkpoint, not a
     * directory whose newest moves on): the run it repeats is that branch */
    if (chosen_only && o->resume_from && o->resume_path &&
        set_path(j, "resume-from", o->resume_path)) {
        json_decref(j);
        return NULL;
    }
    /* ... and a fine-tuning's, the checkpoint its weights start from: without
     * it, the run repeated (--config) or resumed before its first save
     * trained from random weights without a word */
    if (chosen_only && o->init_from && o->init_path && !o->resume_path &&
        set_path(j, "init-from", o->init_path)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int dump(json_t *j, size_t flags, char **out)
{
    *out = j ? json_dumps(j, flags) : NULL;
    json_decref(j);
    return *out ? 0 : ingot_oom("settings text", 4096);
}

int tr_settings_json(const struct tr_opts *o, char **out)
{
    return dump(settings_obj(o, true), DUMP_FLAGS, out);
}

int tr_settings_section(const struct tr_opts *o, const struct tr_loader_pos *pos,
                        const uint64_t *content, int world, char **out)
{
    json_t *root = json_object(), *s = settings_obj(o, false), *dp = json_object();
    json_t *a = json_array();
    if (!root || !s || !dp || !a) {
        json_decref(root);
        json_decref(s);
        json_decref(dp);
        json_decref(a);
        return ingot_oom("checkpoint settings", 4096);
    }
    json_object_set_new(root, "settings", s);
    json_object_set_new(dp, "windows", json_integer((json_int_t)(pos->n_src > 1 ? pos->index :
                        pos->n_src ? pos->src[0].windows : 0)));
    for (int i = 0; i < pos->n_src; i++) {
        char id[20] = "";
        if (content)
            snprintf(id, sizeof(id), "%016" PRIx64, content[i]);
        json_t *e = json_pack("{sIsIsI}", "epoch", (json_int_t)pos->src[i].epoch, "index",
                              (json_int_t)pos->src[i].index, "windows",
                              (json_int_t)pos->src[i].windows);
        if (e && content)
            json_object_set_new(e, "content", json_string(id));
        json_array_append_new(a, e);
    }
    json_object_set_new(dp, "sources", a);
    json_object_set_new(root, "data_position", dp);
    json_object_set_new(root, "world_size", json_integer(world));
    return dump(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9), out);
}

int tr_settings_read_position(const char *path, const char *section, struct tr_loader_pos *pos)
{
    json_t *root = json_loads(section, 0, NULL);
    json_t *a = json_object_get(json_object_get(root, "data_position"), "sources");
    int err = 0;
    if (a && (!json_is_array(a) || json_array_size(a) > TR_MAX_SOURCES))
        err = ingot_fail(INGOT_E_CORRUPT, "%s: settings field data_position.sources is not a "
                         "list of at most %d sources", TERM_SHOW(path), TR_MAX_SOURCES);
    for (size_t i = 0; a && !err && i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        json_int_t ep = json_integer_value(json_object_get(e, "epoch"));
        json_int_t ix = json_integer_value(json_object_get(e, "index"));
        json_int_t w = json_integer_value(json_object_get(e, "windows"));
        if (!json_is_integer(json_object_get(e, "index")) || ep < 0 || ix < 0 || w < 0)
            err = ingot_fail(INGOT_E_CORRUPT, "%s: settings field data_position.sources[%zu] is "
                             "damaged", TERM_SHOW(path), i);
        pos->src[i] = (struct tr_loader_src_pos){ (uint64_t)ep, (uint64_t)ix, (uint64_t)w };
    }
    if (a && !err)
        pos->n_src = (int)json_array_size(a);
    json_decref(root);
    return err;
}

int tr_settings_source_content(const char *section, int i, uint64_t *id)
{
    json_t *root = json_loads(section, 0, NULL);
    json_t *a = json_object_get(json_object_get(root, "data_position"), "sources");
    const char *t = json_string_value(json_object_get(json_array_get(a, (size_t)i), "content"));
    char *end = NULL;
    errno = 0;
    unsigned long long v = t && strlen(t) == 16 ? strtoull(t, &end, 16) : 0;
    const bool ok = end && !*end && !errno;
    json_decref(root);
    *id = ok ? (uint64_t)v : 0;
    return ok ? 0 : -ENOENT;
}

int tr_settings_world_size(const char *path, const char *section, int *world)
{
    json_t *root = json_loads(section, 0, NULL);
    json_t *w = json_object_get(root, "world_size");
    const json_int_t n = json_is_integer(w) ? json_integer_value(w) : 0;
    const bool ok = !w || (n >= 1 && n <= (1 << 24));
    json_decref(root);
    *world = ok && w ? (int)n : 0;
    return ok ? 0 : ingot_fail(INGOT_E_CORRUPT, "%s: settings field world_size is not a whole "
                               "number of ranks from 1 to 2^24; the file is damaged (restore "
                               "it from a copy)", TERM_SHOW(path));
}

int tr_settings_schedule(const char *section, struct tr_schedule *s)
{
    json_t *root = json_loads(section, 0, NULL);
    json_t *st = json_object_get(root, "settings");
    json_t *lr = json_object_get(st, "lr"), *min_lr = json_object_get(st, "min-lr");
    json_t *warmup = json_object_get(st, "warmup"), *steps = json_object_get(st, "steps");
    const char *kind = json_string_value(json_object_get(st, "lr-schedule"));
    int k = kind ? tr_schedule_parse(kind) : TR_SCHED_COSINE;
    int err = 0;
    if (!json_is_number(lr) || !json_is_number(min_lr) || !json_is_integer(warmup) ||
        !json_is_integer(steps) || json_integer_value(steps) < 1 || k < 0) {
        err = -ENOENT;
    } else {
        *s = (struct tr_schedule){
            .lr = (float)json_number_value(lr), .min_lr = (float)json_number_value(min_lr),
            .warmup = (int)json_integer_value(warmup), .steps = (int)json_integer_value(steps),
            .kind = (enum tr_schedule_kind)k };
        json_t *cs = json_object_get(st, "cooldown-steps"), *cf = json_object_get(st, "cooldown");
        if (k == TR_SCHED_WSD && json_is_integer(cs))
            s->cooldown = (int)json_integer_value(cs);
        else if (k == TR_SCHED_WSD && json_is_number(cf))
            s->cooldown = tr_schedule_cooldown_steps(json_number_value(cf), s->steps);
        else if (k == TR_SCHED_WSD)
            err = -ENOENT;
    }
    json_decref(root);
    return err;
}

int tr_settings_check_sources(const char *path, const char *section, const struct tr_opts *o,
                              bool *reweighted)
{
    *reweighted = false;
    json_t *root = json_loads(section, 0, NULL);
    json_t *data = json_object_get(json_object_get(root, "settings"), "data");
    const size_t n = json_is_array(data) ? json_array_size(data) : 0;
    int err = 0;
    if (n && (n > 1 || o->n_data > 1)) {
        bool same = n == (size_t)o->n_data;
        char had[1024] = "", now[1024] = "";
        for (size_t i = 0; i < n || i < (size_t)o->n_data; i++) {
            /* the checkpoint's "DIR:WEIGHT", and this run's directory */
            const char *s = i < n ? json_string_value(json_array_get(data, i)) : NULL;
            const char *colon = s ? strrchr(s, ':') : NULL;
            const size_t len = colon ? (size_t)(colon - s) : s ? strlen(s) : 0;
            if (i < n)
                snprintf(had + strlen(had), sizeof(had) - strlen(had), "%s%.*s", i ? " " : "",
                         (int)len, s ? s : "?");
            char *mine = i < (size_t)o->n_data ? fs_abs_path(o->data_src[i].dir) : NULL;
            if (i < (size_t)o->n_data)
                snprintf(now + strlen(now), sizeof(now) - strlen(now), "%s%s", i ? " " : "",
                         mine ? mine : o->data_src[i].dir);
            same = same && mine && s && strlen(mine) == len && !strncmp(mine, s, len);
            /* the same sources with other weights: allowed, but the val set
             * is drawn with the weights (the caller says so) */
            if (same && colon && i < (size_t)o->n_data &&
                strtod(colon + 1, NULL) != o->data_src[i].weight)
                *reweighted = true;
            free(mine);
        }
        if (!same)
            err = ingot_fail(INGOT_E_MISMATCH, "%s: trained on the data sources [%s]; this run "
                             "has [%s]: a mixture resumes from the same sources in the same "
                             "order (each keeps its own position); leave --data out to take "
                             "the checkpoint's", TERM_SHOW(path), TERM_SHOW(had), TERM_SHOW(now));
    }
    json_decref(root);
    return err;
}

char *tr_settings_data_source(const char *section, size_t i)
{
    json_t *root = section ? json_loads(section, 0, NULL) : NULL;
    json_t *data = json_object_get(json_object_get(root, "settings"), "data");
    /* a list of sources; one string is one source, as --resume reads it */
    const char *s = json_is_string(data) ? (i == 0 ? json_string_value(data) : NULL)
                                         : json_string_value(json_array_get(data, i));
    char *src = s ? strdup(s) : NULL;
    json_decref(root);
    return src;
}

char *tr_settings_data_dir(const char *section, size_t i)
{
    char *src = tr_settings_data_source(section, i), *colon = src ? strrchr(src, ':') : NULL;
    if (colon)
        *colon = '\0';   /* the weight */
    return src;
}

int tr_settings_write_config(const char *dir, const struct tr_opts *o)
{
    char *text = NULL, *path = fs_path_join(dir, INGOT_TRAIN_CONFIG_NAME);
    /* A resumed run leaves the file as the first run wrote it: the settings
     * a resume loads from its checkpoint are all explicit, so it would write
     * the values the first run derived (lr / 10 for min-lr, ...) as chosen,
     * and a run started from the file with another --lr would keep them. */
    if (path && o->resume && access(path, F_OK) == 0) {
        free(path);
        return 0;
    }
    int err = path ? tr_settings_json(o, &text) : ingot_oom("config path", strlen(dir) + 16);
    if (!err) {
        size_t n = strlen(text);
        char *t2 = malloc(n + 2);   /* the text and a final newline */
        if (!t2)
            err = ingot_oom("config text", n + 2);
        else {
            memcpy(t2, text, n);
            t2[n] = '\n';
            err = fs_write_atomic(path, t2, n + 1);
            free(t2);
        }
    }
    free(text);
    free(path);
    return err;
}

/* Settings a checkpoint or config file does not carry over to a resumed
 * run: where and how this invocation runs, not what the run is. */
static bool per_invocation(const char *k)
{
    static const char *const keys[] = {
        "device", "threads", "quiet", "no-verify", "ckpt-dir", "resume", "init-from", "config",
        "resume-from",
        "stop-after", "dump-batch", "profile", "peak-tflops", "dist", "dist-timeout", "dist-port",
        "time-limit",
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!strcmp(k, keys[i]))
            return true;
    return false;
}

/* One JSON value as a flag's text value: a string as it is (it was copied
 * into a PATH_MAX buffer, and one longer was cut short without a word),
 * else formatted into buf. NULL: not a string, number or true/false. */
static const char *value_text(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))   /* as the file says it, in messages and for the flag */
        cli_format_double(json_real_value(v), buf, len);
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    return buf;
}

/* A settings object into pairs. strict (config files): an unknown key is an
 * error (a typo must not be ignored); else (a checkpoint of a newer build)
 * it is skipped, as are per-invocation keys. only: keep just these keys. */
static int json_to_list(json_t *obj, struct tr_optlist *l, bool strict,
                        const char *const *only, json_t *lines)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char k[64], val[64];
        /* "--config F:LINE" where the key's line is known */
        int line = lines ? (int)json_integer_value(json_object_get(lines, key)) : 0;
        char where[4200];
        if (line > 0)
            snprintf(where, sizeof(where), "%s:%d", l->origin, line);
        else
            snprintf(where, sizeof(where), "%s", l->origin);
        snprintf(k, sizeof(k), "%s", key);
        for (char *p = k; *p; p++)
            if (*p == '_')
                *p = '-';
        if (!strcmp(k, "arch") && (!json_is_string(v) ||
                                   (strcmp(json_string_value(v), "gpt2") &&
                                    strcmp(json_string_value(v), "llama"))))
            return ingot_fail(INGOT_E_USAGE, "%s: \"arch\" is %s; this build of ingot-train "
                              "trains \"gpt2\" and \"llama\"", where, json_is_string(v) ?
                              TERM_SHOW(json_string_value(v)) : "not a string");
        if (!strcmp(k, "help") || !strcmp(k, "version") || !tr_opts_known(k)) {
            if (strict)
                return ingot_fail(INGOT_E_USAGE, "%s: unknown key \"%s\" (the keys are the long "
                                  "flags of --help without the dashes)", where,
                                  TERM_SHOW_N(key, 96));   /* a long key leaves the hint */
            continue;
        }
        if (only) {
            bool keep = false;
            for (const char *const *p = only; *p; p++)
                keep |= !strcmp(*p, k);
            if (!keep)
                continue;
        } else if (!strict && per_invocation(k)) {
            continue;
        }
        /* {"seq_len": 32, "seq-len": 64}: one key twice (the JSON parser
         * sees two names), and the second silently won */
        if (tr_optlist_get(l, k))
            return ingot_fail(INGOT_E_USAGE, "%s: \"%s\" given twice ('_' stands for '-' in "
                              "keys)", where, TERM_SHOW(k));
        /* a checkpoint of another build may hold one; in a config file it
         * read as "the default" without a word (the empty string is refused) */
        if (json_is_null(v) && strict)
            return ingot_fail(INGOT_E_USAGE, "%s: \"%s\" is null (leave the key out for the "
                              "default)", where, TERM_SHOW(key));
        if (json_is_null(v))
            continue;
        if (json_is_array(v) && strcmp(k, "data"))
            return ingot_fail(INGOT_E_USAGE, "%s: \"%s\" is a list; only \"data\" takes one",
                              where, TERM_SHOW(key));
        size_t n = json_is_array(v) ? json_array_size(v) : 1;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
            int err;
            const char *text = value_text(e, val, sizeof(val));
            if (!text)
                return ingot_fail(INGOT_E_USAGE, "%s: \"%s\" has a value that is not a string, "
                                  "number or true/false", where, TERM_SHOW(key));
            /* directories are strings: [1, 2] read as the datasets "1" and "2" */
            if (!strcmp(k, "data") && !json_is_string(e))
                return ingot_fail(INGOT_E_USAGE, "%s: \"data\" holds %s, not a string "
                                  "(\"DIR\" or \"DIR:WEIGHT\")", where, TERM_SHOW(text));
            if (tr_opts_is_switch(k) != (json_is_boolean(e) || !strcmp(text, "true") ||
                                         !strcmp(text, "false")))
                return ingot_fail(INGOT_E_USAGE, "%s: \"%s\": %s", where, TERM_SHOW(key),
                                  tr_opts_is_switch(k) ? "a switch takes true or false" :
                                  "takes a value, not true/false");
            /* the command line refuses an empty value (cli_check_value);
             * from a file, "metrics": "" failed only once the model was
             * built, as ": cannot open metrics file" */
            if (strict && !*text)
                return ingot_fail(INGOT_E_USAGE, "%s: \"%s\" is empty (leave the key out for "
                                  "the default)", where, TERM_SHOW(key));
            if ((err = tr_optlist_add(l, k, text)))
                return err;
            l->kv[l->n - 1].line = line;
        }
    }
    return 0;
}

/* A settings file into out, named origin in messages (already shown with
 * term_text(): it goes into format arguments as it is) and as what where it
 * cannot be read. */
static int load_settings_file(const char *path, const char *origin, const char *what,
                              struct tr_optlist *out)
{
    memset(out, 0, sizeof(*out));
    if (!(out->origin = strdup(origin)))
        return ingot_oom("config origin", strlen(origin) + 1);
    json_t *obj = NULL, *lines = NULL;
    int err = tr_config_file_read(path, out->origin, what, &obj, &lines);
    if (!err)
        err = json_to_list(obj, out, true, NULL, lines);
    json_decref(obj);
    json_decref(lines);
    return err;
}

int tr_settings_load_config(const char *path, struct tr_optlist *out)
{
    /* the origin is only for messages: the path as term_text() shows it */
    const char *shown = TERM_SHOW(path);
    char *origin = malloc(strlen(shown) + 16);
    if (!origin) {
        memset(out, 0, sizeof(*out));
        return ingot_oom("config origin", strlen(shown) + 16);
    }
    sprintf(origin, "--config %s", shown);
    int err = load_settings_file(path, origin, "--config", out);
    free(origin);
    return err;
}

/* "key new (checkpoint: old)" for every setting that differs. */
static int diff_note(json_t *ck, json_t *now, char **note)
{
    size_t cap = 256, len = 0;
    char *s = malloc(cap);
    if (!s)
        return ingot_oom("settings note", cap);
    s[0] = '\0';
    json_t *keys = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(ck, k, v) json_object_set(keys, k, json_null());
    json_object_foreach(now, k, v) json_object_set(keys, k, json_null());
    json_object_foreach(keys, k, v) {
        json_t *a = json_object_get(ck, k), *b = json_object_get(now, k);
        if ((a && b && json_equal(a, b)) || per_invocation(k))
            continue;
        char *ta = a ? json_dumps(a, NOTE_FLAGS) : strdup("unset");
        char *tb = b ? json_dumps(b, NOTE_FLAGS) : strdup("unset");
        size_t need = len + strlen(k) + (ta ? strlen(ta) : 0) + (tb ? strlen(tb) : 0) + 32;
        if (need > cap) {
            char *t = realloc(s, need * 2);
            if (!t) {
                free(ta);
                free(tb);
                free(s);
                json_decref(keys);
                return ingot_oom("settings note", need * 2);
            }
            s = t;
            cap = need * 2;
        }
        len += (size_t)sprintf(s + len, "%s%s %s (checkpoint: %s)", len ? ", " : "", k,
                               tb ? tb : "?", ta ? ta : "?");
        free(ta);
        free(tb);
    }
    json_decref(keys);
    if (!len) {
        free(s);
        s = NULL;
    }
    *note = s;
    return 0;
}

static bool on(const char *v)
{
    return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

/* A checkpoint's settings object (owned by *root), or NULL for version 1. */
static int ckpt_settings(const char *path, json_t **root, json_t **settings)
{
    char *text = NULL;
    *root = *settings = NULL;
    int err = tr_ckpt_read_settings(path, &text);
    if (!err && text)
        err = tr_ckpt_check_arch(path, text);
    if (err || !text) {
        free(text);
        return err;
    }
    json_error_t je;
    *root = json_loads(text, 0, &je);
    free(text);
    *settings = json_object_get(*root, "settings");
    if (!json_is_object(*settings))
        return ingot_fail(INGOT_E_CORRUPT, "%s: the settings section holds no \"settings\" "
                          "object", TERM_SHOW(path));
    /* A checkpoint from before --lr-schedule ran the cosine schedule: said
     * so, or a resume reports the default as a setting given here */
    if (!json_object_get(*settings, "lr-schedule") &&
        json_object_set_new(*settings, "lr-schedule", json_string("cosine")))
        return ingot_oom("checkpoint settings", 64);
    return 0;
}

int tr_settings_resolve(int argc, char **argv, struct tr_opts *o)
{
    struct tr_optlist lay[3];
    memset(lay, 0, sizeof(lay));
    memset(o, 0, sizeof(*o));
    struct tr_optlist *base = &lay[0], *cfg = &lay[1], *cl = &lay[2];
    json_t *ck_root = NULL, *ck = NULL;
    char *resume_path = NULL, *init_path = NULL, *origin = NULL;
    int err = tr_opts_argv(argc, argv, cl);
    if (err)
        goto fail;
    const char *cfg_path = tr_optlist_get(cl, "config");
    if (cfg_path && (err = tr_settings_load_config(cfg_path, cfg)))
        goto fail;
    if (tr_optlist_get(cfg, "config")) {
        err = ingot_fail(INGOT_E_USAGE, "%s: a config file cannot name another (\"config\")",
                         cfg->origin);
        goto fail;
    }
    const char *v;
#define PICK(key) ((v = tr_optlist_get(cl, key)) ? v : tr_optlist_get(cfg, key))
    /* a branch's config.json as the --config of a --resume (a job script's
     * fixed flags): the branch's own checkpoints go on, and where it began
     * is moot (before its first save its config.json says what to do) */
    if (on(PICK("resume")) && !tr_optlist_get(cl, "resume-from"))
        tr_optlist_remove(cfg, "resume-from");
    const char *ckdir = PICK("ckpt-dir"), *init = PICK("init-from"), *rfrom = PICK("resume-from");
    bool resume = on(PICK("resume"));
#undef PICK
    if (rfrom && (resume || init)) {
        err = ingot_fail(INGOT_E_USAGE, "--resume-from excludes %s: it is the resume, from the "
                         "checkpoint it names", resume ? "--resume" : "--init-from");
        goto fail;
    }
    if (resume && ckdir && (err = tr_ckpt_find_latest(ckdir, &resume_path)))
        goto fail;
    /* only misnamed copies there: --resume started the run again from step
     * 0 (from config.json) beside them, without a word */
    char hint[640];
    if (resume && ckdir && !resume_path && tr_ckpt_passed_over(ckdir, hint, sizeof(hint))) {
        err = ingot_fail(INGOT_E_USAGE, "--resume: --ckpt-dir %s holds no checkpoint by the name "
                         "a save gives it (ckpt-<8 digits>.bin): %s. Resumed now, the run would "
                         "start again from step 0; rename the file, or move it out of %s to "
                         "start afresh", TERM_SHOW(ckdir), hint, TERM_SHOW(ckdir));
        goto fail;
    }
    /* --resume-from a --ckpt-dir: its newest checkpoint (a branch of it) */
    if (rfrom && (err = tr_ckpt_resolve(rfrom, &resume_path))) {
        err = ingot_fail(err, "--resume-from %s: %s", TERM_SHOW(rfrom), ingot_errmsg_for(err));
        goto fail;
    }
    /* --init-from a --ckpt-dir: its newest checkpoint, as export takes it */
    if (!resume_path && init && (err = tr_ckpt_resolve(init, &init_path)))
        goto fail;
    const char *from = resume_path ? resume_path : init_path;
    if (from && (err = ckpt_settings(from, &ck_root, &ck))) {
        if (resume_path)   /* a damaged newest checkpoint: say what to do */
            err = tr_ckpt_resume_failed(rfrom ? NULL : ckdir, resume_path, err);
        goto fail;
    }
    if (ck) {
        /* --resume: the whole run; --init-from: only the model's shape */
        static const char *const shape[] = { "arch", "model", "layers", "heads", "dim", "seq-len",
                                             "kv-heads", "ffn-dim", "rope-theta", "norm-eps",
                                             "tie-embeddings", NULL };
        const char *shown = TERM_SHOW(from);   /* for messages */
        if (!(origin = malloc(strlen(shown) + 32))) {
            err = ingot_oom("settings origin", strlen(shown) + 32);
            goto fail;
        }
        sprintf(origin, "%s %s", resume_path ? "checkpoint" : "--init-from", shown);
        base->origin = origin;
        base->from_ckpt = base->carried = true;
        origin = NULL;
        /* a branch writes its own metrics, never into the run it came from
         * (whose later records a resume would move to FILE.dropped); put
         * back for the note on a --metrics given (not "checkpoint: unset") */
        json_t *met = rfrom ? json_incref(json_object_get(ck, "metrics")) : NULL;
        if (met)
            json_object_del(ck, "metrics");
        err = json_to_list(ck, base, false, resume_path ? NULL : shape, NULL);
        if (met && (tr_optlist_get(cl, "metrics") || tr_optlist_get(cfg, "metrics")))
            json_object_set_new(ck, "metrics", met);
        else
            json_decref(met);
        if (err)
            goto fail;
    }
    /* --resume before the first checkpoint was written (the run was killed
     * early): the settings it wrote to D/config.json at its start */
    char *cj = resume && ckdir && !resume_path ? fs_path_join(ckdir, INGOT_TRAIN_CONFIG_NAME)
                                               : NULL;
    if (cj && !ck && access(cj, F_OK) == 0) {
        tr_optlist_free(base);
        /* named as the path alone, in every message (the command line named
         * no --config); the run's settings, all that is left of it: a
         * damaged file (ours are never empty) must not start some other run
         * in their place */
        err = load_settings_file(cj, TERM_SHOW(cj), "run's config.json", base);
        base->carried = true;
        /* where this invocation writes (--dump-batch, --metrics, ...) is
         * never in a config.json ingot-train wrote, and a copied --ckpt-dir's
         * file must not choose it: "dump-batch" overwrote a file named
         * nowhere on the command line. Skipped, as a checkpoint's
         * per-invocation keys are; "metrics" too, which ingot-train never
         * writes there (a checkpoint's own is carried over, named). */
        for (size_t i = 0; !err && i < base->n;) {
            /* a copy: tr_optlist_remove frees the entry's own key while it
             * still compares the rest against it */
            char k[64];
            snprintf(k, sizeof(k), "%s", base->kv[i].key);
            if ((per_invocation(k) && strcmp(k, "resume-from") && strcmp(k, "init-from")) ||
                !strcmp(k, "metrics"))
                tr_optlist_remove(base, k);
            else
                i++;
        }
        /* a branch killed before its first save: from these settings alone
         * --resume would train it from step 0 with fresh weights */
        const char *bf = err ? NULL : tr_optlist_get(base, "resume-from");
        const char *fi = err || bf ? NULL : tr_optlist_get(base, "init-from");
        if (bf || fi)
            err = ingot_fail(INGOT_E_USAGE, "--ckpt-dir %s holds no checkpoint yet, and its "
                             "config.json is that of a %s from %s (--%s) that saved none: "
                             "--resume would start it from step 0 with new weights. Start it "
                             "again: ingot-train --config %s --ckpt-dir %s (and its --metrics)",
                             TERM_SHOW(ckdir), bf ? "branch" : "fine-tuning",
                             TERM_SHOW(bf ? bf : fi), bf ? "resume-from" : "init-from",
                             TERM_SHOW(cj), TERM_SHOW(ckdir));
        /* the same advice for a value refused later, as the layers are
         * applied (tr_opts_build): "ck/config.json:1: --steps 'abc': ..." went
         * without it */
        char fix[4200];
        snprintf(fix, sizeof(fix), "It holds the settings --resume starts the run of "
                 "--ckpt-dir %s again from (it wrote no checkpoint yet): repair it, or remove "
                 "it and give the run's settings as flags", TERM_SHOW(ckdir));
        if (err && !bf && !fi)
            err = ingot_fail(err, "%s. %s", ingot_errmsg_for(err), fix);
        else if (!err && !(base->fix = strdup(fix)))
            err = ingot_oom("settings advice", strlen(fix) + 1);
    }
    /* nothing to resume from and no data: a rank other than 0 given a
     * --ckpt-dir of its own (rank 0 alone writes checkpoints and config.json)
     * was told "no data: pass --data DIR" */
    if (!err && cj && !ck && base->n == 0 && !tr_optlist_get(cl, "data") &&
        !tr_optlist_get(cfg, "data") && !on(tr_optlist_get(cl, "synthetic")) &&
        !on(tr_optlist_get(cfg, "synthetic")))
        err = ingot_fail(INGOT_E_USAGE, "--resume: --ckpt-dir %s holds no checkpoint and no "
                         "config.json to take the run's settings from: give them as flags "
                         "(--data DIR or --synthetic, ...) to start the run; a rank of a "
                         "data-parallel run needs rank 0's --ckpt-dir, where rank 0 alone "
                         "writes (a shared file system, or its files copied to every host)",
                         TERM_SHOW(ckdir));
    free(cj);
    if (err)
        goto fail;
    if (!base->origin && !(base->origin = strdup("defaults"))) {
        err = ingot_oom("settings origin", 16);
        goto fail;
    }
    if ((err = tr_opts_build(lay, 3, o)))
        goto fail;
    o->resume_path = resume_path;
    o->init_path = init_path;
    resume_path = init_path = NULL;
    if (ck && o->resume_path) {
        json_t *now = settings_obj(o, false);
        err = now ? diff_note(ck, now, &o->settings_note) : ingot_oom("settings", 4096);
        json_decref(now);
    }
    json_decref(ck_root);
    if (err)
        tr_opts_free(o);
    return err;
fail:
    for (int i = 0; i < 3; i++)
        tr_optlist_free(&lay[i]);
    tr_opts_free(o);
    json_decref(ck_root);
    free(resume_path);
    free(init_path);
    free(origin);
    return err;
}
