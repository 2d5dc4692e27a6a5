/* Opening a dataset directory: the manifest, then each shard, each checked
 * against what the manifest recorded when pretok wrote it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "spm_shim.h"
#include "term_text.h"

typedef unsigned long long ull;

#define REPRETOK "; the dataset changed after ingot-pretok wrote it, re-run ingot-pretok"

void dataset_close(struct dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; i < ds->n_shards; i++)
        shard_reader_close(ds->shards[i]);
    free(ds->shards);
    manifest_free(ds->manifest);
    free(ds->dir);
    free(ds);
}

/* Shard names are plain file names inside the dataset directory, and
 * printable: ingot-pretok names them "train-000000.tok", and every tool
 * prints them (a name holding escape sequences retitled or cleared the
 * terminal of whoever ran ingot-dump info or verify on a dataset from
 * elsewhere; the 8-bit CSI U+009B does that on some terminals too). */
static int check_shard_name(const char *mpath, size_t i, const char *name)
{
    size_t n = strlen(name), sl = strlen(INGOT_SHARD_SUFFIX);
    bool ctl = !term_text_plain(name);   /* term_text.h's set: controls, bidi, ... */
    char tb[512], tm[1024];
    if (ctl || strchr(name, '/') || name[0] == '.' || n <= sl ||
        strcmp(name + n - sl, INGOT_SHARD_SUFFIX) != 0)
        return ingot_fail(INGOT_E_JSON,
                          "%s: key shards[%zu].file: \"%s\" must be a file name ending in %s inside "
                          "the dataset directory%s",
                          term_text(mpath, tm, sizeof(tm)), i, term_text(name, tb, sizeof(tb)),
                          INGOT_SHARD_SUFFIX,
                          ctl ? ", without control, format or bidirectional characters or invalid "
                                "UTF-8 (shown as '?')" : "");
    return 0;
}

static int mismatch_u64(const char *shard, const char *field, uint64_t h, uint64_t m, int hex)
{
    if (h == m)
        return 0;
    if (hex)
        return ingot_fail(INGOT_E_MISMATCH,
                          "%s: field %s: shard header has %016llx, manifest.json has %016llx" REPRETOK,
                          shard, field, (ull)h, (ull)m);
    return ingot_fail(INGOT_E_MISMATCH,
                      "%s: field %s: shard header has %llu, manifest.json has %llu" REPRETOK, shard,
                      field, (ull)h, (ull)m);
}

static int mismatch_i64(const char *shard, const char *field, int64_t h, int64_t m)
{
    if (h == m)
        return 0;
    return ingot_fail(INGOT_E_MISMATCH,
                      "%s: field %s: shard header has %lld, manifest.json has %lld" REPRETOK, shard,
                      field, (long long)h, (long long)m);
}

/* Everything the header says must agree with the manifest. */
static int check_against_manifest(const struct manifest *m, const struct manifest_shard *ms,
                                  uint64_t seq, const shard_reader *r)
{
    const struct ingot_shard_header *h = shard_reader_header(r);
    const char *p = shard_reader_shown(r);   /* the path in messages */
    const struct manifest_tokenizer *t = &m->tokenizer;
    int ret;
    if (h->split != ms->split)
        return ingot_fail(INGOT_E_MISMATCH,
                          "%s: field split: shard header has %s, manifest.json has %s" REPRETOK, p,
                          ingot_split_name(h->split), ingot_split_name(ms->split));
    if ((ret = mismatch_u64(p, "n_tokens", h->n_tokens, ms->n_tokens, 0)) ||
        (ret = mismatch_u64(p, "n_docs", h->n_docs, ms->n_docs, 0)) ||
        (ret = mismatch_u64(p, "file_size", h->file_size, ms->file_size, 0)) ||
        (ret = mismatch_u64(p, "header_checksum", h->header_checksum, ms->header_checksum, 1)) ||
        (ret = mismatch_u64(p, "tokens_checksum", h->tokens_checksum, ms->tokens_checksum, 1)) ||
        (ret = mismatch_u64(p, "index_checksum", h->index_checksum, ms->index_checksum, 1)) ||
        (ret = mismatch_u64(p, "prov_checksum", h->prov_checksum, ms->prov_checksum, 1)) ||
        (ret = mismatch_u64(p, "shard_seq", h->shard_seq, seq, 0)) ||
        (ret = mismatch_u64(p, "token_width", h->token_width, m->token_width, 0)) ||
        (ret = mismatch_u64(p, "vocab_size", h->vocab_size, t->vocab_size, 0)) ||
        (ret = mismatch_u64(p, "tokenizer_hash", h->tokenizer_hash, t->hash, 1)) ||
        (ret = mismatch_i64(p, "bos_id", h->bos_id, t->bos_id)) ||
        (ret = mismatch_i64(p, "eos_id", h->eos_id, t->eos_id)) ||
        (ret = mismatch_i64(p, "pad_id", h->pad_id, t->pad_id)) ||
        (ret = mismatch_i64(p, "unk_id", h->unk_id, t->unk_id)))
        return ret;
    char tb[64];
    if (t->type && strcmp(t->type, ingot_tokenizer_type_name(h->tokenizer_type)) != 0)
        return ingot_fail(INGOT_E_MISMATCH,
                          "%s: field tokenizer_type: shard header has %s, manifest.json has %s" REPRETOK,
                          p, ingot_tokenizer_type_name(h->tokenizer_type),
                          term_text(t->type, tb, sizeof(tb)));
    return 0;
}

int dataset_verify_shard(const struct manifest *m, const shard_reader *r)
{
    int ret = shard_reader_verify(r);
    /* beyond the shard's own checksums: provenance names a listed input */
    uint64_t nd = shard_reader_n_docs(r);
    for (uint64_t d = 0; d < nd && !ret; d++) {
        const struct ingot_doc_prov *pv = shard_reader_doc_prov(r, d);
        if (pv->file_index >= m->n_inputs)
            ret = ingot_fail(INGOT_E_CORRUPT,
                             "%s: field provenance: document %llu names input %u, but "
                             "manifest.json lists %zu inputs" REPRETOK,
                             shard_reader_shown(r), (ull)d, pv->file_index, m->n_inputs);
    }
    return ret;
}

int dataset_open_shard(const char *dir, const struct manifest *m, size_t i, uint64_t seq,
                       bool verify, shard_reader **out)
{
    *out = NULL;
    const struct manifest_shard *ms = &m->shards[i];
    char *mpath = fs_path_join(dir, INGOT_MANIFEST_NAME);
    char *sp = fs_path_join(dir, ms->file);
    shard_reader *r = NULL;
    int ret = 0;
    char td[1024];
    if (!mpath || !sp) {
        ret = ingot_fail(-ENOMEM, "%s: out of memory", term_text(dir, td, sizeof(td)));
        goto out;
    }
    if ((ret = check_shard_name(mpath, i, ms->file)) || (ret = shard_reader_open(sp, &r)) ||
        (ret = check_against_manifest(m, ms, seq, r)))
        goto out;
    if (verify)
        ret = dataset_verify_shard(m, r);
out:
    if (ret)
        shard_reader_close(r);
    else
        *out = r;
    free(sp);
    free(mpath);
    return ret;
}

int dataset_check_totals(const char *dir, const struct manifest *m)
{
    uint64_t docs = 0, toks = 0;
    for (size_t i = 0; i < m->n_inputs; i++) {
        docs += m->inputs[i].n_docs;
        toks += m->inputs[i].n_tokens;
    }
    uint64_t td = m->total_docs[0] + m->total_docs[1];
    uint64_t tt = m->total_tokens[0] + m->total_tokens[1];
    char tdir[1024];
    if (docs != td || toks != tt)
        return ingot_fail(INGOT_E_MISMATCH,
                          "%s/%s: key inputs: the inputs add up to %llu documents / %llu tokens, "
                          "the shards hold %llu / %llu", term_text(dir, tdir, sizeof(tdir)),
                          INGOT_MANIFEST_NAME, (ull)docs, (ull)toks, (ull)td, (ull)tt);
    return 0;
}

int dataset_read_manifest(const char *dir, struct manifest **out)
{
    *out = NULL;
    int isdir = fs_is_dir(dir);
    if (isdir < 0)
        return isdir;
    char td[1024];   /* the directory in messages */
    term_text(dir, td, sizeof(td));
    if (!isdir) {
        if (access(dir, F_OK) != 0)
            return ingot_fail(-ENOENT, "%s: no such dataset directory", td);
        return ingot_fail(-ENOTDIR, "%s: not a dataset directory", td);
    }
    char *mpath = fs_path_join(dir, INGOT_MANIFEST_NAME);
    if (!mpath)
        return ingot_fail(-ENOMEM, "%s: out of memory", td);
    int ret = manifest_read(mpath, out);
    free(mpath);
    if (ret != -ENOENT)
        return ret;
    /* an unfinished conversion or merge: say how to finish it */
    char *st = fs_path_join(dir, INGOT_PRETOK_STATE_NAME);
    char *mp = fs_path_join(dir, INGOT_MERGE_PLAN_NAME);
    char *rt = fs_path_join(dir, INGOT_MERGE_RETIRED_NAME);
    if (rt && access(rt, F_OK) == 0)   /* before the state, which a merged part keeps */
        ret = ingot_fail(-ENOENT, "%s: a part of a merged dataset: ingot-pretok merge moved its "
                         "shards into the merged dataset (its manifest is now %s); use that "
                         "dataset", td, INGOT_MERGE_RETIRED_NAME);
    else if (st && access(st, F_OK) == 0)
        ret = ingot_fail(-ENOENT, "%s: no %s yet: an ingot-pretok conversion into it is "
                         "unfinished (%s is there); run the same ingot-pretok command "
                         "again to finish it", td, INGOT_MANIFEST_NAME,
                         INGOT_PRETOK_STATE_NAME);
    else if (mp && access(mp, F_OK) == 0)
        ret = ingot_fail(-ENOENT, "%s: no %s yet: an ingot-pretok merge into it is "
                         "unfinished (%s is there); run the same merge command again",
                         td, INGOT_MANIFEST_NAME, INGOT_MERGE_PLAN_NAME);
    else
        ret = ingot_fail(-ENOENT, "%s: no %s; is this a dataset made by ingot-pretok?", td,
                         INGOT_MANIFEST_NAME);
    free(st);
    free(mp);
    free(rt);
    return ret;
}

/* A number from a /proc file, or -1 where there is none (not Linux). */
static long long proc_number(const char *path)
{
    FILE *f = fopen(path, "re");
    long long v = -1;
    if (f) {
        if (fscanf(f, "%lld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* Memory mappings this process holds now: the lines of /proc/self/maps. */
static long long maps_in_use(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return -1;
    long long n = 0;
    int c;
    while ((c = getc_unlocked(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

int dataset_check_map_budget(const char *dir, size_t n_shards)
{
    long long limit = proc_number("/proc/sys/vm/max_map_count");
    long long used = limit > 0 ? maps_in_use() : -1;
    if (limit <= 0 || used < 0)
        return 0;   /* no such limit to check against */
    long long need = (long long)n_shards + used + DATASET_MAP_RESERVE;
    if (need <= limit)
        return 0;
    long long advise = (need + 65535) / 65536 * 65536;
    char td[1024];
    return ingot_fail(-ENOMEM,
                      "%s: %zu shards, and every shard of an open dataset stays mapped, but "
                      "this process may hold only %lld memory mappings (vm.max_map_count; %lld "
                      "in use, %d kept for the program): raise the limit to at least %lld "
                      "(as root: sysctl -w vm.max_map_count=%lld), or convert the corpus again "
                      "with a larger --shard-tokens",
                      term_text(dir, td, sizeof(td)), n_shards, limit, used, DATASET_MAP_RESERVE,
                      need, advise);
}

int dataset_open(const char *dir, bool verify, struct dataset **out)
{
    *out = NULL;
    struct dataset *ds = calloc(1, sizeof(*ds));
    char td[1024];
    if (!ds || !(ds->dir = strdup(dir))) {
        free(ds);
        return ingot_fail(-ENOMEM, "%s: out of memory", term_text(dir, td, sizeof(td)));
    }
    int ret = dataset_read_manifest(dir, &ds->manifest);
    if (ret)
        goto fail;
    const struct manifest *m = ds->manifest;
    if ((ret = dataset_check_map_budget(dir, m->n_shards)))
        goto fail;
    ds->shards = calloc(m->n_shards ? m->n_shards : 1, sizeof(*ds->shards));
    if (!ds->shards) {
        ret = ingot_fail(-ENOMEM, "%s: out of memory", term_text(dir, td, sizeof(td)));
        goto fail;
    }
    uint64_t seq[2] = { 0, 0 };
    for (size_t i = 0; i < m->n_shards; i++) {
        if ((ret = dataset_open_shard(dir, m, i, seq[m->shards[i].split]++, verify,
                                      &ds->shards[i])))
            goto fail;
        ds->n_shards = i + 1;
    }
    if (verify && (ret = dataset_check_totals(dir, m)))
        goto fail;
    *out = ds;
    return 0;
fail:
    dataset_close(ds);
    return ret;
}

size_t dataset_split_shards(const struct dataset *ds, uint32_t split, size_t *idx, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < ds->n_shards; i++) {
        if (ds->manifest->shards[i].split != split)
            continue;
        if (n < max)
            idx[n] = i;
        n++;
    }
    return n;
}

int dataset_tokenizer_candidates(const char *dir, const char *file, char **cand, size_t *n)
{
    *n = 0;
    if (file[0] != '/')
        cand[(*n)++] = fs_path_join(dir, file);
    cand[(*n)++] = strdup(file);
    cand[(*n)++] = fs_path_join(dir, fs_basename(file));
    char td[1024];
    for (size_t i = 0; i < *n; i++)
        if (!cand[i])
            return ingot_fail(-ENOMEM, "%s: out of memory", term_text(dir, td, sizeof(td)));
    return 0;
}

/* Whether path is inside directory dir by its spelling (dir/...). */
static bool path_in_dir(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return !strncmp(path, dir, n) && path[n] == '/';
}

/* Hash the candidate: there or not, readable, of the hash want. */
static void tok_cand_try(struct dataset_tok_cand *c, uint64_t want)
{
    int ret = fs_hash_file(c->path, &c->hash);
    if (ret == -ENOENT || ret == -ENOTDIR) {
        c->state = DATASET_TOK_MISSING;
    } else if (ret) {
        /* "PATH: is a FIFO (named pipe), but ..." less "PATH: " */
        char tp[512];
        const char *m = ingot_errmsg();
        size_t pl = strlen(term_text(c->path, tp, sizeof(tp)));
        if (!strncmp(m, tp, pl) && !strncmp(m + pl, ": ", 2))
            m += pl + 2;
        term_text(m, c->why, sizeof(c->why));
        c->state = DATASET_TOK_UNREADABLE;
        c->err = ret;
    } else {
        c->state = c->hash == want ? DATASET_TOK_MATCH : DATASET_TOK_OTHER;
    }
    ingot_clear_err();
}

void dataset_tokenizer_lookup_free(struct dataset_tok_lookup *lk)
{
    if (!lk)
        return;
    for (size_t i = 0; i < lk->n; i++)
        free(lk->cand[i].path);
    memset(lk, 0, sizeof(*lk));
}

int dataset_tokenizer_lookup(const char *dir, const struct manifest_tokenizer *t,
                             struct dataset_tok_lookup *lk)
{
    memset(lk, 0, sizeof(*lk));
    char td[512];   /* the dataset's path, control bytes as '?' */
    term_text(dir, td, sizeof(td));
    if (!t->file || !t->file[0])
        return ingot_fail(INGOT_E_TOKENIZER,
                          "%s/%s: key tokenizer.file: not recorded; pass the SentencePiece "
                          "model (ingot-dump --model, ingot-train --tokenizer)",
                          td, INGOT_MANIFEST_NAME);
    char *paths[3] = { NULL, NULL, NULL };
    size_t np = 0;
    int ret = dataset_tokenizer_candidates(dir, t->file, paths, &np);
    /* each path once, in order, then tokenizer.source */
    for (size_t i = 0; i < np && !ret; i++) {
        bool dup = false;
        for (size_t k = 0; k < lk->n && !dup; k++)
            dup = !strcmp(lk->cand[k].path, paths[i]);
        if (dup)
            continue;
        lk->cand[lk->n++] = (struct dataset_tok_cand){ .path = paths[i] };
        paths[i] = NULL;
    }
    for (size_t i = 0; i < np; i++)
        free(paths[i]);
    const char *src = t->source && t->source[0] ? t->source : NULL;
    bool src_dup = false;
    for (size_t k = 0; k < lk->n && src && !src_dup; k++)
        src_dup = !strcmp(lk->cand[k].path, src);
    if (!ret && src && !src_dup) {
        lk->cand[lk->n] = (struct dataset_tok_cand){ .path = strdup(src), .source = true };
        if (!lk->cand[lk->n++].path)
            ret = ingot_fail(-ENOMEM, "%s: out of memory", td);
    }
    lk->use = lk->n;
    for (size_t i = 0; i < lk->n && !ret; i++) {
        struct dataset_tok_cand *c = &lk->cand[i];
        c->inside = path_in_dir(dir, c->path);
        if (lk->use == lk->n) {
            tok_cand_try(c, t->hash);
            if (c->state == DATASET_TOK_MATCH)
                lk->use = i;
        }
    }
    if (ret)
        dataset_tokenizer_lookup_free(lk);
    return ret;
}

/* Append "PATH[ (tokenizer.source)]: why" (sep before it) to buf. */
static void tok_cand_say(char *buf, size_t len, const char *sep, const struct dataset_tok_cand *c)
{
    char tp[512], why[256];
    switch (c->state) {
    case DATASET_TOK_MISSING:
        snprintf(why, sizeof(why), "not found");
        break;
    case DATASET_TOK_UNREADABLE: {
        /* the reader's message up to its advice (the list is separated
         * by "; ") */
        snprintf(why, sizeof(why), "%s", c->why);
        char *semi = strstr(why, "; ");
        if (semi)
            *semi = '\0';
        break;
    }
    case DATASET_TOK_OTHER:
        snprintf(why, sizeof(why), c->source ? "tokenizer hash %016llx: it has changed since "
                 "ingot-pretok read it" : "tokenizer hash %016llx, not the model the dataset "
                 "was made with (replaced?)", (ull)c->hash);
        break;
    default:
        snprintf(why, sizeof(why), "the dataset's hash");
        break;
    }
    size_t at = strlen(buf);
    if (at < len)
        snprintf(buf + at, len - at, "%s%s%s: %s", sep, term_text(c->path, tp, sizeof(tp)),
                 c->source ? " (tokenizer.source)" : "", why);
}

int dataset_tokenizer_pick(const char *dir, const struct manifest_tokenizer *t, char **found,
                           char **note)
{
    *found = NULL;
    if (note)
        *note = NULL;
    struct dataset_tok_lookup lk;
    int ret = dataset_tokenizer_lookup(dir, t, &lk);
    if (ret)
        return ret;
    char tf[512], td[512];   /* the manifest's path and the dataset's, control bytes as '?' */
    term_text(t->file, tf, sizeof(tf));
    term_text(dir, td, sizeof(td));
    const struct dataset_tok_cand *c = lk.cand;
    const size_t nc = lk.n, use = lk.use;
    /* what was passed over, each candidate with its reason */
    char tried[1024] = "";
    for (size_t i = 0; i < use && i < nc; i++)
        tok_cand_say(tried, sizeof(tried), i ? "; " : "", &c[i]);
    if (use == nc) {
        int code = -ENOENT;
        for (size_t i = nc; i-- > 0;)
            if (c[i].state != DATASET_TOK_MISSING)
                code = c[i].state == DATASET_TOK_OTHER ? INGOT_E_MISMATCH : c[i].err;
        if (code == -ENOENT) {   /* nothing there: every path tried */
            tried[0] = '\0';
            for (size_t i = 0; i < nc; i++) {
                char tp[512];
                size_t at = strlen(tried);
                snprintf(tried + at, sizeof(tried) - at, "%s%s%s", i ? ", " : "",
                         term_text(c[i].path, tp, sizeof(tp)),
                         c[i].source ? " (tokenizer.source)" : "");
            }
            ret = ingot_fail(-ENOENT,
                             "tokenizer model %s (from %s/%s) not found: tried %s; pass its "
                             "path explicitly (ingot-dump --model, ingot-train --tokenizer)",
                             tf, td, INGOT_MANIFEST_NAME, tried);
        } else {
            ret = ingot_fail(code,
                             "tokenizer model %s (from %s/%s): none has the dataset's hash "
                             "%016llx: tried %s; pass the model the dataset was made with "
                             "(ingot-dump --model, ingot-train --tokenizer)",
                             tf, td, INGOT_MANIFEST_NAME, (ull)t->hash, tried);
        }
        goto out;
    }
    /* Worth a note: a file there passed over (a replaced copy), or the copy
     * gone and the model given to pretok used. A relative tokenizer.file
     * found from the working directory (an older manifest) is not. */
    bool say = c[use].source;
    for (size_t i = 0; i < use; i++)
        say |= c[i].state != DATASET_TOK_MISSING;
    if (say && note) {
        char tu[512], tc[512], text[2048];
        term_text(c[use].path, tu, sizeof(tu));
        term_text(c[0].path, tc, sizeof(tc));
        int w = snprintf(text, sizeof(text), "%s/%s: tokenizer.file %s: passed over %s; "
                         "decoding with %s%s%s, which has the dataset's hash %016llx",
                         td, INGOT_MANIFEST_NAME, tf, tried,
                         c[use].source ? "the model given to ingot-pretok, " : "", tu,
                         c[use].source ? " (tokenizer.source)" : "", (ull)t->hash);
        /* the copy pretok made, to be restored from the model found */
        if (w > 0 && (size_t)w < sizeof(text) && t->file[0] != '/')
            snprintf(text + w, sizeof(text) - (size_t)w, "; put the copy back: cp %s %s", tu,
                     tc);
        if (!(*note = strdup(text))) {
            ret = ingot_fail(-ENOMEM, "%s: out of memory", td);
            goto out;
        }
    }
    *found = lk.cand[use].path;
    lk.cand[use].path = NULL;
out:
    dataset_tokenizer_lookup_free(&lk);
    return ret;
}

int dataset_copy_tokenizer(const char *dir, const char *model_path, uint64_t hash)
{
    char *dst = fs_path_join(dir, INGOT_TOKENIZER_NAME), *buf = NULL;
    size_t len = 0;
    uint64_t h = 0;
    int ret;
    char td[1024];
    if (!dst)
        return ingot_fail(-ENOMEM, "%s: out of memory", term_text(dir, td, sizeof(td)));
    /* Already there (a resumed or repeated conversion): nothing to do. */
    if (access(dst, F_OK) == 0 && fs_hash_file(dst, &h) == 0 && h == hash) {
        ret = 0;
        goto out;
    }
    if ((ret = fs_read_all(model_path, &buf, &len)))
        goto out;
    char tm[1024];   /* merge copies a path from a part's manifest */
    term_text(model_path, tm, sizeof(tm));
    if ((h = ingot_xxh3(buf, len)) != hash) {
        ret = ingot_fail(INGOT_E_MISMATCH, "%s: the model changed while it was in use (hash "
                         "%016llx, loaded as %016llx); run again", tm, (ull)h, (ull)hash);
        goto out;
    }
    if ((ret = fs_write_atomic(dst, buf, len)))
        goto out;
    /* Read back what reached the disk: the copy is what every reader of the
     * dataset will load. */
    if ((ret = fs_hash_file(dst, &h)))
        goto out;
    if (h != hash)
        ret = ingot_fail(INGOT_E_CHECKSUM, "%s: the copy of %s reads back with hash %016llx, "
                         "not %016llx (a disk or file system fault?)",
                         term_text(dst, td, sizeof(td)), tm, (ull)h, (ull)hash);
out:
    free(buf);
    free(dst);
    return ret;
}

int dataset_load_tokenizer(const struct dataset *ds, const char *model_path,
                           struct ingot_spm **out, char **used, char **note)
{
    *out = NULL;
    if (used)
        *used = NULL;
    if (note)
        *note = NULL;
    const struct manifest_tokenizer *t = &ds->manifest->tokenizer;
    char *found = NULL;
    int ret = 0;
    if (model_path) {
        if (access(model_path, F_OK) != 0) {
            char tn[1024];
            ret = ingot_fail(-ENOENT, "%s: tokenizer model not found",
                             term_text(model_path, tn, sizeof(tn)));
            goto out;
        }
        if (!(found = strdup(model_path))) {
            ret = ingot_fail(-ENOMEM, "out of memory");
            goto out;
        }
    } else if ((ret = dataset_tokenizer_pick(ds->dir, t, &found, note))) {
        goto out;
    }
    ingot_spm *spm = NULL;
    char tp[1024], tm[1024];
    term_text(found, tp, sizeof(tp));
    if ((ret = ingot_spm_load(found, &spm))) {
        /* the path came from the manifest: its message through term_text */
        ret = ingot_fail(ret, "%s", term_text(ingot_errmsg(), tm, sizeof(tm)));
        goto out;
    }
    uint64_t h = ingot_spm_model_hash(spm);
    if (h != t->hash) {   /* --model, or the file changed since it was hashed */
        ret = ingot_fail(INGOT_E_MISMATCH,
                         "%s: tokenizer hash %016llx differs from the %016llx in %s/%s: this is "
                         "not the model the dataset was made with",
                         tp, (ull)h, (ull)t->hash, term_text(ds->dir, tm, sizeof(tm)),
                         INGOT_MANIFEST_NAME);
        ingot_spm_free(spm);
        goto out;
    }
    *out = spm;
    if (used) {
        *used = found;
        found = NULL;
    }
out:
    free(found);
    if (ret && note) {
        free(*note);
        *note = NULL;
    }
    return ret;
}
