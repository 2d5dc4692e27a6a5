/* Helpers for the train tests. */
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "fsutil.h"
#include "manifest.h"
#include "shard_writer.h"
#include "tt_util.h"

char *tt_fmt(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    CHECK(s);
    return s;
}

char *tt_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *t = tt_fmt("%s/ingot-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    CHECK(mkdtemp(t));
    return t;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tt_rmtree(const char *dir)
{
    if (dir && !getenv("INGOT_KEEP_TMP"))
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Whether cmd is one simple command that exec env can run: its first word
 * the program in single quotes or NAME=value assignments before it (not a
 * builtin such as cd or ulimit), and no ; & | ( ) { } newline outside
 * single quotes, nor double quotes or backslashes (not followed here). */
static bool simple_command(const char *cmd)
{
    const char *p = cmd;
    while (*p == '_' || (*p >= 'A' && *p <= 'Z')) {   /* NAME=value words */
        const char *n = p;
        while (*n == '_' || (*n >= 'A' && *n <= 'Z') || (*n >= '0' && *n <= '9'))
            n++;
        if (*n != '=')
            return false;
        p = strchr(n, ' ');
        if (!p || strcspn(n, ";&|(){}\n\"\\'$`") < (size_t)(p - n))
            return false;   /* a value with shell syntax: not followed here */
        p++;
    }
    if (*p != '\'')
        return false;
    bool quoted = false;
    for (; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        else if (!quoted && strchr(";&|(){}\n\"\\", *p))
            return false;
    }
    return true;
}

int tt_run(const char *cmd, const char *out_path)
{
    /* A simple command runs in the shell's place (exec), so that a death by
     * signal N reads 1000 + N and the program's own exit 128 + N (ingot-train
     * stopped by signal N, tr_exit_status) reads as itself; through a shell
     * that waits, both would be 128 + N (exec env: a leading NAME=value is
     * env's). A compound command (cd ... &&, { ...; }) ends as its shell
     * does: 128 + N for both. */
    char *full = tt_fmt("%s%s >'%s' 2>&1", simple_command(cmd) ? "exec env " : "", cmd,
                       out_path);
    int st = system(full);
    free(full);
    if (st == -1)
        return 999;
    if (WIFSIGNALED(st))
        return 1000 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

char *tt_slurp(const char *path)
{
    char *buf;
    size_t len;
    if (fs_read_all(path, &buf, &len))
        return NULL;
    return buf;
}

static double getnum(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    return v && json_is_number(v) ? json_number_value(v) : NAN;
}

/* Calls fn(record, ctx, i) for the first max records of the JSON Lines file
 * path that have key (i counts them); returns how many, -1 when the file
 * cannot be read. */
static int each_record(const char *path, const char *key, int max,
                       void (*fn)(json_t *j, void *ctx, int i), void *ctx)
{
    char *s = tt_slurp(path);
    int n = 0;
    if (!s)
        return -1;
    for (char *line = strtok(s, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        CHECK(j);
        if (json_object_get(j, key))
            fn(j, ctx, n++);
        json_decref(j);
    }
    free(s);
    return n;
}

static void get_step(json_t *j, void *ctx, int i)
{
    struct tt_step *st = (struct tt_step *)ctx + i;
    st->step = (long)json_integer_value(json_object_get(j, "step"));
    st->loss = getnum(j, "loss");
    st->accuracy = getnum(j, "accuracy");
    st->lr = getnum(j, "lr");
    st->grad_norm = getnum(j, "grad_norm");
    CHECK(json_object_get(j, "tokens") && json_object_get(j, "tok_per_s") &&
          json_object_get(j, "elapsed_s"));
}

int tt_read_steps(const char *path, struct tt_step *out, int max)
{
    return each_record(path, "loss", max, get_step, out);
}

static void get_val(json_t *j, void *ctx, int i)
{
    struct tt_val *v = (struct tt_val *)ctx + i;
    json_t *a = json_object_get(j, "val_src"), *w = json_object_get(j, "val_src_windows");
    v->step = (long)json_integer_value(json_object_get(j, "step"));
    v->loss = getnum(j, "val_loss");
    v->n_src = !a && !w ? 0 : json_is_array(a) && json_is_array(w) &&
               json_array_size(a) == json_array_size(w) &&
               json_array_size(a) <= TT_MAX_SRC ? (int)json_array_size(a) : -1;
    for (int k = 0; k < v->n_src; k++) {
        json_t *x = json_array_get(a, (size_t)k);
        v->src[k] = json_is_number(x) ? json_number_value(x) : NAN;
        v->windows[k] = (long)json_integer_value(json_array_get(w, (size_t)k));
    }
}

int tt_read_val_src(const char *path, struct tt_val *out, int max)
{
    return each_record(path, "val_loss", max, get_val, out);
}

int tt_read_vals(const char *path, long *steps, double *vals, int max)
{
    struct tt_val *v = malloc((size_t)(max > 0 ? max : 1) * sizeof(*v));
    CHECK(v);
    int n = tt_read_val_src(path, v, max);
    for (int i = 0; i < n; i++) {
        steps[i] = v[i].step;
        vals[i] = v[i].loss;
    }
    free(v);
    return n;
}

static int write_split(struct manifest *m, const struct tt_dataset *d, uint32_t split,
                       const uint32_t *ids, size_t n, uint32_t width, uint64_t *docs)
{
    size_t per_shard = d->doc_len * d->shard_docs, seq = 0;
    for (size_t s0 = 0; s0 < n; s0 += per_shard, seq++) {
        char name[64];
        snprintf(name, sizeof(name), "%s-%06zu.tok", split ? "val" : "train", seq);
        char *path = fs_path_join(d->dir, name);
        struct shard_writer_opts wo = {
            .path = path, .token_width = width, .vocab_size = d->vocab, .bos_id = d->bos_id,
            .eos_id = -1, .pad_id = -1, .unk_id = -1, .split = split,
            .tokenizer_type = INGOT_TOK_UNIGRAM, .tokenizer_hash = d->tokenizer_hash,
            .shard_seq = seq,
        };
        shard_writer *w;
        int err = shard_writer_create(&wo, &w);
        free(path);
        if (err)
            return err;
        size_t s1 = s0 + per_shard < n ? s0 + per_shard : n;
        for (size_t p = s0; p < s1; p += d->doc_len) {
            size_t len = p + d->doc_len < s1 ? d->doc_len : s1 - p;
            if ((err = shard_writer_add_doc(w, ids + p, len, 0, ++*docs))) {
                shard_writer_abort(w);
                return err;
            }
        }
        struct shard_summary sum;
        if ((err = shard_writer_finish(w, &sum)))
            return err;
        struct manifest_shard ms = shard_summary_entry(name, split, &sum);
        if ((err = manifest_add_shard(m, &ms)))
            return err;
    }
    return 0;
}

int tt_write_dataset(const struct tt_dataset *d)
{
    int err = fs_mkdir_p(d->dir);
    if (err)
        return err;
    struct manifest *m = manifest_new();
    CHECK(m);
    uint32_t width = d->vocab <= 65536 ? 2 : 4;
    m->token_width = width;
    struct manifest_tokenizer tk = {
        .file = "test-tokenizer.model", .hash = d->tokenizer_hash, .type = "unigram",
        .vocab_size = d->vocab, .bos_id = d->bos_id, .eos_id = -1, .pad_id = -1, .unk_id = -1,
    };
    uint64_t docs = 0;
    if ((err = manifest_set_tokenizer(m, &tk)) ||
        (err = write_split(m, d, INGOT_SPLIT_TRAIN, d->train, d->n_train, width, &docs)) ||
        (err = write_split(m, d, INGOT_SPLIT_VAL, d->val, d->n_val, width, &docs)))
        goto out;
    struct manifest_input in = {
        .name = "generated", .size = (d->n_train + d->n_val) * 4, .n_docs = docs,
        .n_tokens = d->n_train + d->n_val, .damage = (char *)d->damage,
    };
    m->damaged_accepted = d->damaged_accepted;
    if ((err = manifest_add_input(m, &in)))
        goto out;
    char *mp = fs_path_join(d->dir, "manifest.json");
    err = manifest_write(mp, m);
    free(mp);
out:
    manifest_free(m);
    return err;
}

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void tt_markov_tokens(uint32_t *ids, size_t n, uint32_t vocab, uint64_t seed)
{
    uint64_t s = seed;
    uint32_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        ids[i] = cur;
        uint64_t u = mix(&s) % 10;
        /* successors: a fixed scramble of cur */
        uint32_t k = u < 7 ? 1 : u < 9 ? 2 : 3;
        cur = (uint32_t)((cur * 7u + k * 13u + (cur >> 2)) % vocab);
    }
}

double tt_unigram_entropy(const uint32_t *ids, size_t n, uint32_t vocab)
{
    double *c = calloc(vocab, sizeof(double)), h = 0.0;
    CHECK(c);
    for (size_t i = 0; i < n; i++)
        c[ids[i]] += 1.0;
    for (uint32_t v = 0; v < vocab; v++)
        if (c[v] > 0)
            h -= c[v] / n * log(c[v] / n);
    free(c);
    return h;
}

void tt_run_ok(const char *cmd, const char *out_path)
{
    int rc = tt_run(cmd, out_path);
    if (rc != 0) {
        char *s = tt_slurp(out_path);
        fprintf(stderr, "exit %d: %s\n%s\n", rc, cmd, s ? s : "");
        exit(1);
    }
}

bool tt_ckpt_payload_equal(const char *a, const char *b)
{
    char *x = NULL, *y = NULL;
    size_t nx, ny;
    CHECK_OK(fs_read_all(a, &x, &nx));
    CHECK_OK(fs_read_all(b, &y, &ny));
    /* the tensors only: a version-2 file's settings section names the
     * run's own paths (metrics file, data) */
    const struct tr_ckpt_header *hx = (const void *)x, *hy = (const void *)y;
    size_t end = nx >= TR_CKPT_HEADER_SIZE && hx->version >= 2 ? (size_t)hx->settings_offset : nx;
    size_t end_y = ny >= TR_CKPT_HEADER_SIZE && hy->version >= 2 ? (size_t)hy->settings_offset : ny;
    bool same = end == end_y && end > TR_CKPT_HEADER_SIZE && end <= nx && end <= ny &&
                !memcmp(x + TR_CKPT_HEADER_SIZE, y + TR_CKPT_HEADER_SIZE, end - TR_CKPT_HEADER_SIZE);
    free(x);
    free(y);
    return same;
}

int tt_expect(const char *bin, const char *out_path, const char *what, const char *args, int rc,
              const char *n1, const char *n2)
{
    char *cmd = tt_fmt("'%s' %s", bin, args);
    int got = tt_run(cmd, out_path);
    char *s = tt_slurp(out_path);
    if (!s)
        s = strdup("");
    CHECK(s);
    bool ok = got == rc && (!n1 || strstr(s, n1)) && (!n2 || strstr(s, n2));
    printf("%-34s exit %d%s\n", what, got, ok ? "" : "  FAIL");
    if (!ok) {
        fprintf(stderr, "%s: want exit %d with '%s' '%s', got exit %d:\n%s\n", what, rc,
                n1 ? n1 : "", n2 ? n2 : "", got, s);
    } else if (rc) {
        /* the error line itself (the last "ingot-train: " one), for the log */
        const char *e = NULL;
        for (const char *p = s; (p = strstr(p, "ingot-train: ")); p++)
            e = p;
        if (e)
            printf("    %.*s\n", (int)strcspn(e, "\n"), e);
    }
    free(s);
    free(cmd);
    return !ok;
}
