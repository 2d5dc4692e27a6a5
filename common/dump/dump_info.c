/* ingot-dump info and verify. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_num.h"
#include "fsutil.h"
#include "ingot_dump.h"
#include "ingot_err.h"
#include "json_term.h"
#include "skip_reason.h"
#include "term_text.h"

typedef unsigned long long ull;

static json_t *hex64(uint64_t v)
{
    char b[17];
    snprintf(b, sizeof(b), "%016" PRIx64, v);
    return json_string(b);
}

static json_t *header_json(const shard_reader *r)
{
    const struct ingot_shard_header *h = shard_reader_header(r);
    return json_pack(
        "{s:o, s:i, s:i, s:i, s:I, s:i, s:i, s:i, s:i, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I, s:{s:o, s:o, s:o, s:o}}",
        "file", json_term_name(shard_reader_path(r)), "version", (int)h->version, "header_size", (int)h->header_size,
        "token_width", (int)h->token_width, "vocab_size", (json_int_t)h->vocab_size,
        "bos_id", h->bos_id, "eos_id", h->eos_id, "pad_id", h->pad_id, "unk_id", h->unk_id,
        "split", ingot_split_name(h->split), "tokenizer_type",
        ingot_tokenizer_type_name(h->tokenizer_type), "tokenizer_hash", hex64(h->tokenizer_hash),
        "shard_seq", (json_int_t)h->shard_seq, "tokens", (json_int_t)h->n_tokens,
        "documents", (json_int_t)h->n_docs, "file_size", (json_int_t)h->file_size,
        "tokens_offset", (json_int_t)h->tokens_offset, "index_offset", (json_int_t)h->index_offset,
        "prov_offset", (json_int_t)h->prov_offset,
        "checksums", "tokens", hex64(h->tokens_checksum), "index", hex64(h->index_checksum),
        "provenance", hex64(h->prov_checksum), "header", hex64(h->header_checksum));
}

/* Print root (NULL: out of memory) and free it. The manifest's names and
 * the paths are the real ones, escaped (json_term.h): a U+202E, a C1
 * control or a DEL in one went to the terminal as it was. */
static int info_json_print(json_t *root)
{
    if (!root)
        return ingot_fail(-ENOMEM, "out of memory");
    json_term_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(root);
    return 0;
}

/* info --json of a dataset: the manifest as written, and the header of
 * every shard, or (shards NULL: --brief) none, the lists that grow with the
 * corpus replaced by their lengths. */
static int info_json_dataset(const char *dir, const struct manifest *m,
                             shard_reader *const *shards)
{
    /* The manifest as written (every key, in order), read with the same
     * type check and cap as manifest_read(). */
    char *mp = fs_path_join(dir, INGOT_MANIFEST_NAME), *text = NULL;
    size_t len = 0;
    if (!mp)
        return ingot_oom("manifest path", strlen(dir) + 16);
    int ret = fs_read_capped(mp, "manifest", MANIFEST_MAX_BYTES, &text, &len);
    free(mp);
    if (ret)
        return ret;
    json_error_t je;
    json_t *man = json_loadb(text, len, 0, &je), *root;
    free(text);
    char tb[1024];
    if (!man)
        return ingot_fail(INGOT_E_JSON, "%s: cannot re-read manifest.json",
                          term_text(dir, tb, sizeof(tb)));
    if (!shards) {
        json_object_set_new(man, "inputs", json_integer((json_int_t)m->n_inputs));
        json_object_set_new(man, "shards", json_integer((json_int_t)m->n_shards));
        json_object_del(man, "skip_examples");
        /* no per-shard header list at all (an empty one read as a dataset
         * without shards) */
        root = json_pack("{s:s, s:o, s:o}", "kind", "dataset", "path", json_term_name(dir),
                         "manifest", man);
    } else {
        json_t *list = json_array();
        for (size_t i = 0; list && i < m->n_shards; i++)
            json_array_append_new(list, header_json(shards[i]));
        root = json_pack("{s:s, s:o, s:o, s:o}", "kind", "dataset", "path", json_term_name(dir),
                         "manifest",
                         man, "shards", list);
    }
    return info_json_print(root);
}

static int info_json_shard(const char *path, const shard_reader *r)
{
    return info_json_print(json_pack("{s:s, s:o, s:o}", "kind", "shard", "path", json_term_name(path),
                                     "header", header_json(r)));
}

static void print_header(const shard_reader *r)
{
    const struct ingot_shard_header *h = shard_reader_header(r);
    printf("shard            %s\n", shard_reader_shown(r));
    printf("format           version %u, header %u bytes, little-endian\n", h->version,
           h->header_size);
    printf("split            %s (shard %llu of its split)\n", ingot_split_name(h->split),
           (ull)h->shard_seq);
    char hn[32], hb[32];
    printf("documents        %llu (%s)\n", (ull)h->n_docs, cli_human((double)h->n_docs, hn, sizeof(hn)));
    printf("tokens           %llu (%s) x %u bytes\n", (ull)h->n_tokens,
           cli_human((double)h->n_tokens, hn, sizeof(hn)), h->token_width);
    printf("tokenizer        %s, vocab %u, hash %016llx\n",
           ingot_tokenizer_type_name(h->tokenizer_type), h->vocab_size, (ull)h->tokenizer_hash);
    printf("special ids      bos %d, eos %d, pad %d, unk %d\n", h->bos_id, h->eos_id, h->pad_id,
           h->unk_id);
    printf("layout           tokens @%llu, index @%llu, provenance @%llu, %llu bytes (%s)\n",
           (ull)h->tokens_offset, (ull)h->index_offset, (ull)h->prov_offset, (ull)h->file_size,
           cli_human_bytes((double)h->file_size, hb, sizeof(hb)));
    printf("checksums        tokens %016llx index %016llx provenance %016llx header %016llx\n",
           (ull)h->tokens_checksum, (ull)h->index_checksum, (ull)h->prov_checksum,
           (ull)h->header_checksum);
}

/* "  ... and N more <what> (--list 0 lists all)" when a list was cut. */
static void more(size_t shown, size_t n, const char *what)
{
    if (shown < n)
        printf("  ... and %zu more %s (--list 0 lists all, --json gives them all)\n", n - shown,
               what);
}

/* An example line ("file:line: reason: what") of a noted reason. */
static bool example_noted(const char *ex)
{
    for (const char *p = strstr(ex, ": "); p; p = strstr(p + 1, ": ")) {
        const char *r = p + 2, *e = strchr(r, ':');
        char name[32];
        if (e && (size_t)(e - r) < sizeof(name)) {
            memcpy(name, r, (size_t)(e - r));
            name[e - r] = 0;
            if (skip_reason_name_noted(name))
                return true;
        }
    }
    return false;
}

/* Summary of the dataset in dir, from its manifest m; the inputs and shards
 * are listed up to max_list each (0: all), none with brief: a SlimPajama
 * manifest has tens of thousands. */
static void print_dataset(const char *dir, const struct manifest *m, bool brief,
                          uint64_t max_list)
{
    const struct manifest_tokenizer *t = &m->tokenizer;
    char tb[4096], tb2[256];   /* the manifest's text, its control bytes as '?' */
    printf("dataset          %s\n", term_text(dir, tb, sizeof(tb)));
    printf("format           manifest version %d, written by ingot %s\n", m->format_version,
           term_text(m->ingot_version, tb, sizeof(tb)));
    if (m->command_line)
        printf("command          %s\n", term_text(m->command_line, tb, sizeof(tb)));
    printf("tokenizer        %s (%s), vocab %u, hash %016llx\n", term_text(t->file, tb, sizeof(tb)),
           term_text(t->type, tb2, sizeof(tb2)), t->vocab_size, (ull)t->hash);
    printf("special ids      bos %d, eos %d, pad %d, unk %d\n", t->bos_id, t->eos_id, t->pad_id,
           t->unk_id);
    printf("token width      %u bytes\n", m->token_width);
    char hd[32], ht[32];
    for (int s = 0; s < 2; s++)
        printf("%-16s %llu documents, %llu tokens (%s documents, %s tokens)\n", s ? "val" : "train",
               (ull)m->total_docs[s], (ull)m->total_tokens[s],
               cli_human((double)m->total_docs[s], hd, sizeof(hd)),
               cli_human((double)m->total_tokens[s], ht, sizeof(ht)));
    uint64_t in_bytes = 0, skips = 0, noted = 0, n_train = 0;
    for (size_t i = 0; i < m->n_inputs; i++) {
        in_bytes += m->inputs[i].size;
        for (size_t k = 0; k < m->inputs[i].n_skips; k++)
            *(skip_reason_name_noted(m->inputs[i].skips[k].reason) ? &noted : &skips) +=
                m->inputs[i].skips[k].count;
    }
    for (size_t i = 0; i < m->n_shards; i++)
        n_train += m->shards[i].split == INGOT_SPLIT_TRAIN;
    char hb[32];
    /* skipped records apart from repairs and notes (which summed to "6 records
     * skipped or noted" where pretok skipped 4 of its records) */
    printf("inputs           %zu (%s), %llu records skipped, %llu repaired or noted\n",
           m->n_inputs, cli_human_bytes((double)in_bytes, hb, sizeof(hb)), (ull)skips,
           (ull)noted);
    /* Inputs that could not be read to their end: the dataset lacks the rest
     * of each, and says whether the conversion accepted that. */
    size_t n_damaged = 0;
    for (size_t i = 0; i < m->n_inputs; i++)
        n_damaged += m->inputs[i].damage != NULL;
    if (n_damaged)
        printf("damaged inputs   %zu, %s\n", n_damaged, m->damaged_accepted
               ? "accepted (ingot-pretok --allow-damaged-inputs)"
               : "NOT accepted: the conversion exited 1 on them (accept: its command again "
                 "with --allow-damaged-inputs, or merge --allow-damaged-inputs for parts)");
    for (size_t i = 0, shown = 0; i < m->n_inputs && !brief; i++)
        if (m->inputs[i].damage && (!max_list || shown++ < max_list))
            printf("  damaged: %s (%llu documents kept)\n",
                   term_text(m->inputs[i].damage, tb, sizeof(tb)),
                   (ull)m->inputs[i].n_docs);
    if (!brief && max_list && n_damaged > max_list)
        more((size_t)max_list, n_damaged, "damaged inputs");
    if (brief) {
        printf("shards           %zu (%llu train, %llu val)\n", m->n_shards, (ull)n_train,
               (ull)(m->n_shards - n_train));
        return;
    }
    size_t lim_in = max_list && max_list < m->n_inputs ? (size_t)max_list : m->n_inputs;
    size_t lim_sh = max_list && max_list < m->n_shards ? (size_t)max_list : m->n_shards;
    for (size_t i = 0; i < lim_in; i++) {
        const struct manifest_input *in = &m->inputs[i];
        printf("  [%zu] %s: %llu bytes, %llu documents, %llu tokens", i,
               term_text(in->name, tb, sizeof(tb)),
               (ull)in->size, (ull)in->n_docs, (ull)in->n_tokens);
        for (int pass = 0; pass < 2; pass++)
            for (size_t k = 0, n = 0; k < in->n_skips; k++)
                if (skip_reason_name_noted(in->skips[k].reason) == (pass == 1))
                    printf("%s%s %llu", n++ ? ", " : pass ? "; noted: " : "; skipped: ",
                           term_text(in->skips[k].reason, tb, sizeof(tb)),
                           (ull)in->skips[k].count);
        printf("\n");
    }
    more(lim_in, m->n_inputs, "inputs");
    for (size_t i = 0; i < m->n_skip_examples; i++)
        printf("  %s: %s\n", example_noted(m->skip_examples[i]) ? "noted" : "skipped",
               term_text(m->skip_examples[i], tb, sizeof(tb)));
    printf("shards           %zu (%llu train, %llu val)\n", m->n_shards, (ull)n_train,
           (ull)(m->n_shards - n_train));
    for (size_t i = 0; i < lim_sh; i++) {
        const struct manifest_shard *s = &m->shards[i];
        printf("  %s  %-5s %llu documents, %llu tokens, %llu bytes, checksums tokens %016llx "
               "index %016llx provenance %016llx header %016llx\n",
               s->file, ingot_split_name(s->split), (ull)s->n_docs, (ull)s->n_tokens,
               (ull)s->file_size, (ull)s->tokens_checksum, (ull)s->index_checksum,
               (ull)s->prov_checksum, (ull)s->header_checksum);
    }
    more(lim_sh, m->n_shards, "shards");
}

/* info --brief of a dataset prints what its manifest says, and reads
 * nothing else: no shard is opened (at 40,000 shards, opening each to check
 * its header against the manifest took most of the time); verify checks
 * them. */
static int info_brief(const char *dir, bool json)
{
    struct manifest *m = NULL;
    int ret = dataset_read_manifest(dir, &m);
    if (!ret && json)
        ret = info_json_dataset(dir, m, NULL);
    else if (!ret)
        print_dataset(dir, m, true, 0);
    manifest_free(m);
    return ret;
}

int dump_info(const struct dump_opts *o)
{
    if (o->brief) {
        int isdir = fs_is_dir(o->path);
        if (isdir < 0)
            return isdir;
        if (isdir)
            return info_brief(o->path, o->json);
    }
    struct dump_src s;
    int ret = dump_src_open(o->path, false, &s);
    if (!ret) {
        if (s.ds && o->json)
            ret = info_json_dataset(s.ds->dir, s.ds->manifest, s.ds->shards);
        else if (s.ds)
            print_dataset(s.ds->dir, s.ds->manifest, false, o->max_list);
        else if (o->json)
            ret = info_json_shard(s.path, s.single);
        else
            print_header(s.single);
    }
    dump_src_close(&s);
    return ret;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* *.tok files in the directory that the manifest does not list: harmless
 * for training, but usually left over from an earlier run. The listed names
 * are sorted and searched (a scan of the list per file took 3 of the 5 s
 * of a verify of 40,000 shards, growing with the square of the count). */
static void warn_stray(const struct dataset *ds)
{
    const struct manifest *m = ds->manifest;
    const char **names = malloc((m->n_shards ? m->n_shards : 1) * sizeof(*names));
    DIR *d = names ? opendir(ds->dir) : NULL;
    if (!d) {
        free(names);
        return;
    }
    for (size_t i = 0; i < m->n_shards; i++)
        names[i] = m->shards[i].file;
    qsort(names, m->n_shards, sizeof(*names), cmp_name);
    struct dirent *e;
    size_t sl = strlen(INGOT_SHARD_SUFFIX);
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= sl || strcmp(e->d_name + n - sl, INGOT_SHARD_SUFFIX))
            continue;
        const char *key = e->d_name;
        char tb[512], td[1024];   /* a file name of any bytes, the directory */
        if (!bsearch(&key, names, m->n_shards, sizeof(*names), cmp_name))
            fprintf(stderr, "ingot-dump: warning: %s/%s is not listed in manifest.json (left over "
                    "from another run?)\n", term_text(ds->dir, td, sizeof(td)),
                    term_text(e->d_name, tb, sizeof(tb)));
    }
    closedir(d);
    free(names);
}

/* What verify found wrong in a dataset: a line per problem as it is found,
 * the names of the bad parts kept for the summary. */
struct problems {
    int first;              /* the first problem's code: what verify returns */
    size_t n_shards;        /* bad shards */
    char shards[1024];      /* the first few of them: "train-000001.tok, ..." */
    char others[128];       /* "manifest.json, tokenizer.model" (tokenizer.file) */
};

static void add_name(char *list, size_t cap, const char *name)
{
    char tb[256];   /* a manifest's name: its control bytes as '?' */
    name = term_text(name, tb, sizeof(tb));
    size_t l = strlen(list);
    if (l + strlen(name) + 3 < cap)
        snprintf(list + l, cap - l, "%s%s", l ? ", " : "", name);
}

static void problem(struct problems *p, int err, const char *name, bool shard)
{
    fprintf(stderr, "ingot-dump: verify: %s\n", ingot_errmsg_for(err));
    if (!p->first)
        p->first = err;
    if (!shard)
        add_name(p->others, sizeof(p->others), name);
    else if (++p->n_shards <= 10)
        add_name(p->shards, sizeof(p->shards), name);
}

/* "; X has that hash (docs and ingot-train decode with it meanwhile): copy
 * it back (cp X COPY)" into buf, for u, the model the readers use, and the
 * copy to mend. */
static const char *mend_hint(const struct dataset_tok_cand *u, const char *copy, char *buf,
                             size_t len)
{
    char tu[1024], tc[1024];
    term_text(u->path, tu, sizeof(tu));
    term_text(copy, tc, sizeof(tc));
    snprintf(buf, len, "; %s%s%s has that hash (docs and ingot-train decode with it "
             "meanwhile): copy it back (cp %s %s)", u->source ? "the model given to "
             "ingot-pretok, " : "", tu, u->source ? ", still" : "", tu, tc);
    return buf;
}

/* The copy of the tokenizer that manifest.json's tokenizer.file names,
 * judged from the lookup docs and ingot-train choose by
 * (dataset_tokenizer_lookup()), so that verify looks at the files they
 * look at: the first candidate from tokenizer.file that is there. One
 * inside the dataset directory that is not the model (another hash, a
 * FIFO, too large) is damage, also where the readers decode with another
 * candidate meanwhile (the source); one outside it (an older manifest's
 * path, read from this working directory) is no part of the dataset: passed
 * over with a note, as the readers pass over it, and the next one judged.
 * The copy pretok writes (tokenizer.file tokenizer.model) must be in the
 * dataset: missing is damage (another in the working directory does not
 * stand in for it). Sets *checked when there was a copy to check. A
 * dataset that records no model (import-bin --vocab) has none. */
static int check_tokenizer_copy(const struct dataset *ds, bool *checked)
{
    const struct manifest_tokenizer *t = &ds->manifest->tokenizer;
    *checked = false;
    if (!t->file || !t->file[0])
        return 0;
    struct dataset_tok_lookup lk;
    int ret = dataset_tokenizer_lookup(ds->dir, t, &lk);
    if (ret)
        return ret;
    /* the copy pretok writes into the dataset */
    const bool named = !strcmp(t->file, INGOT_TOKENIZER_NAME);
    const struct dataset_tok_cand *u = lk.use < lk.n ? &lk.cand[lk.use] : NULL, *copy = NULL;
    char tf[1024], tt[1024], td[1024], hint[4096];   /* paths, control bytes as '?' */
    term_text(t->file, tf, sizeof(tf));
    term_text(ds->dir, td, sizeof(td));
    bool noted = false;
    for (size_t i = 0; i < lk.n && !copy; i++) {
        const struct dataset_tok_cand *c = &lk.cand[i];
        if (c->source || c->state == DATASET_TOK_MISSING || c->state == DATASET_TOK_UNTRIED)
            continue;
        if (c->inside || (!named && c->state == DATASET_TOK_MATCH)) {
            copy = c;
            continue;
        }
        if (named)   /* tokenizer.model in the working directory: not the dataset's */
            continue;
        term_text(c->path, tt, sizeof(tt));
        if (c->state == DATASET_TOK_OTHER)
            fprintf(stderr, "ingot-dump: note: %s/%s: key tokenizer.file: %s (the path given "
                    "to ingot-pretok) holds another model now (hash %016llx, the dataset's is "
                    "%016llx), so it is not checked\n", td, INGOT_MANIFEST_NAME, tt,
                    (ull)c->hash, (ull)t->hash);
        else
            fprintf(stderr, "ingot-dump: note: %s/%s: key tokenizer.file: %s (the path given "
                    "to ingot-pretok): %s, so it is not checked\n", td,
                    INGOT_MANIFEST_NAME, tt, c->why);
        noted = true;
    }
    if (!copy && !named) {
        if (!noted)
            fprintf(stderr, "ingot-dump: note: %s/%s: key tokenizer.file: %s (the path given "
                    "to ingot-pretok) is not found, so the tokenizer is not checked (docs and "
                    "tokens take --model M)\n", td, INGOT_MANIFEST_NAME, tf);
        goto out;
    }
    *checked = true;
    if (!copy) {
        term_text(lk.cand[0].path, tt, sizeof(tt));
        const char *src = t->source && t->source[0] ? t->source : NULL;
        char ts[1024];
        if (u)
            mend_hint(u, lk.cand[0].path, hint, sizeof(hint));
        else
            snprintf(hint, sizeof(hint), "; copy that model back to this path%s%s%s",
                     src ? " (the one given to ingot-pretok, " : "",
                     src ? term_text(src, ts, sizeof(ts)) : "",
                     src ? ", is gone or has changed since)" : "");
        ret = ingot_fail(-ENOENT, "%s: missing: manifest.json's tokenizer.file names this "
                         "copy of the tokenizer the shards were made with (hash %016llx)%s",
                         tt, (ull)t->hash, hint);
        goto out;
    }
    term_text(copy->path, tt, sizeof(tt));
    if (copy->state == DATASET_TOK_UNREADABLE) {
        ret = ingot_fail(copy->err, "%s: %s", tt, copy->why);
    } else if (copy->state == DATASET_TOK_OTHER) {
        if (u)
            ret = ingot_fail(INGOT_E_MISMATCH, "%s: hash %016llx, but the manifest's "
                             "tokenizer is %016llx: this file (manifest.json's tokenizer.file: "
                             "%s) does not decode the shards (replaced, or the manifest "
                             "edited?)%s", tt, (ull)copy->hash, (ull)t->hash, tf,
                             mend_hint(u, copy->path, hint, sizeof(hint)));
        else
            ret = ingot_fail(INGOT_E_MISMATCH, "%s: hash %016llx, but the manifest's "
                             "tokenizer is %016llx: this file (manifest.json's tokenizer.file: "
                             "%s) does not decode the shards (replaced, or the manifest "
                             "edited?); copy the tokenizer the dataset was made with back "
                             "(ingot-pretok --model ... wrote it)", tt, (ull)copy->hash,
                             (ull)t->hash, tf);
    }
out:
    dataset_tokenizer_lookup_free(&lk);
    return ret;
}

/* Every shard, the manifest's totals and the tokenizer copy, each checked
 * whatever the others are: one line per problem (stderr), "ok" per intact
 * shard (stdout; not when quiet), then a summary; exit 1 when anything
 * failed. */
static int verify_dataset(const char *path, bool quiet)
{
    struct dataset ds = { .dir = (char *)path };
    int ret = dataset_read_manifest(path, &ds.manifest);
    if (ret)
        return ret;
    const struct manifest *m = ds.manifest;
    struct problems p = { 0 };
    uint64_t seq[2] = { 0, 0 };
    for (size_t i = 0; i < m->n_shards; i++) {
        const struct manifest_shard *ms = &m->shards[i];
        shard_reader *r = NULL;
        int e = dataset_open_shard(path, m, i, seq[ms->split]++, true, &r);
        /* closed at once: a dataset of many shards is never mapped whole */
        shard_reader_close(r);
        if (e) {
            problem(&p, e, ms->file, true);
            continue;
        }
        if (!quiet)   /* one per shard: at 40,000 shards, progress more than result */
            printf("ok  %s  %s, %llu documents, %llu tokens\n", ms->file,
                   ingot_split_name(ms->split), (ull)ms->n_docs, (ull)ms->n_tokens);
    }
    int e = dataset_check_totals(path, m);
    if (e)
        problem(&p, e, INGOT_MANIFEST_NAME, false);
    bool has_tok = false;
    if ((e = check_tokenizer_copy(&ds, &has_tok)))
        problem(&p, e, fs_basename(m->tokenizer.file), false);
    warn_stray(&ds);
    char tp[1024];   /* the dataset's path in messages */
    term_text(path, tp, sizeof(tp));
    if (!p.first) {
        char hd[32], ht[32], tb[256];
        const uint64_t nd = m->total_docs[0] + m->total_docs[1];
        printf("%s: intact (%zu shard%s, %s document%s, %s tokens; manifest, %s%severy "
               "checksum verified)\n", tp, m->n_shards, m->n_shards == 1 ? "" : "s",
               cli_human((double)nd, hd, sizeof(hd)), nd == 1 ? "" : "s",
               cli_human((double)(m->total_tokens[0] + m->total_tokens[1]), ht, sizeof(ht)),
               has_tok ? term_text(fs_basename(m->tokenizer.file), tb, sizeof(tb)) : "",
               has_tok ? ", " : "");
    } else {
        char more[48] = "";
        if (p.n_shards > 10)
            snprintf(more, sizeof(more), " and %zu more", p.n_shards - 10);
        ret = ingot_fail(p.first, "%s: %zu of %zu shards bad%s%s%s%s%s (each problem is on "
                         "its own line above)", tp, p.n_shards, m->n_shards,
                         p.n_shards ? ": " : "", p.shards, more,
                         p.others[0] ? "; also bad: " : "", p.others);
    }
    manifest_free(ds.manifest);
    return ret;
}

int dump_verify(const struct dump_opts *o)
{
    int isdir = fs_is_dir(o->path);
    if (isdir < 0)
        return isdir;
    if (isdir)
        return verify_dataset(o->path, o->quiet);
    struct dump_src s;
    int ret = dump_src_open(o->path, true, &s);
    if (!ret) {
        char hd[32], ht[32];
        printf("%s: intact (%s documents, %s tokens; every checksum verified)\n", s.shown,
               cli_human((double)shard_reader_n_docs(s.single), hd, sizeof(hd)),
               cli_human((double)shard_reader_n_tokens(s.single), ht, sizeof(ht)));
    }
    dump_src_close(&s);
    return ret;
}
