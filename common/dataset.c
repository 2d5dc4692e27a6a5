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

/* Shard names are plain file names inside the dataset directory. */
static int check_shard_name(const char *mpath, size_t i, const char *name)
{
    size_t n = strlen(name), sl = strlen(INGOT_SHARD_SUFFIX);
    if (strchr(name, '/') || name[0] == '.' || n <= sl ||
        strcmp(name + n - sl, INGOT_SHARD_SUFFIX) != 0)
        return ingot_fail(INGOT_E_JSON,
                          "%s: key shards[%zu].file: \"%s\" must be a file name ending in %s inside "
                          "the dataset directory",
                          mpath, i, name, INGOT_SHARD_SUFFIX);
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
    const char *p = shard_reader_path(r);
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
    if (t->type && strcmp(t->type, ingot_tokenizer_type_name(h->tokenizer_type)) != 0)
        return ingot_fail(INGOT_E_MISMATCH,
                          "%s: field tokenizer_type: shard header has %s, manifest.json has %s" REPRETOK,
                          p, ingot_tokenizer_type_name(h->tokenizer_type), t->type);
    return 0;
}

/* Full verification beyond the shards' own checksums: provenance points at
 * a listed input, and the inputs add up to the shards. */
static int verify_dataset(const struct dataset *ds, const char *mpath)
{
    const struct manifest *m = ds->manifest;
    for (size_t i = 0; i < ds->n_shards; i++) {
        int ret = shard_reader_verify(ds->shards[i]);
        if (ret)
            return ret;
        uint64_t nd = shard_reader_n_docs(ds->shards[i]);
        for (uint64_t d = 0; d < nd; d++) {
            const struct ingot_doc_prov *pv = shard_reader_doc_prov(ds->shards[i], d);
            if (pv->file_index >= m->n_inputs)
                return ingot_fail(INGOT_E_CORRUPT,
                                  "%s: field provenance: document %llu names input %u, but "
                                  "manifest.json lists %zu inputs" REPRETOK,
                                  shard_reader_path(ds->shards[i]), (ull)d, pv->file_index,
                                  m->n_inputs);
        }
    }
    uint64_t docs = 0, toks = 0;
    for (size_t i = 0; i < m->n_inputs; i++) {
        docs += m->inputs[i].n_docs;
        toks += m->inputs[i].n_tokens;
    }
    uint64_t td = m->total_docs[0] + m->total_docs[1];
    uint64_t tt = m->total_tokens[0] + m->total_tokens[1];
    if (docs != td || toks != tt)
        return ingot_fail(INGOT_E_MISMATCH,
                          "%s: key inputs: the inputs add up to %llu documents / %llu tokens, the "
                          "shards hold %llu / %llu",
                          mpath, (ull)docs, (ull)toks, (ull)td, (ull)tt);
    return 0;
}

int dataset_open(const char *dir, bool verify, struct dataset **out)
{
    *out = NULL;
    int isdir = fs_is_dir(dir);
    if (isdir < 0)
        return isdir;
    if (!isdir) {
        if (access(dir, F_OK) != 0)
            return ingot_fail(-ENOENT, "%s: no such dataset directory", dir);
        return ingot_fail(-ENOTDIR, "%s: not a dataset directory", dir);
    }
    struct dataset *ds = calloc(1, sizeof(*ds));
    char *mpath = fs_path_join(dir, INGOT_MANIFEST_NAME);
    if (!ds || !mpath || !(ds->dir = strdup(dir))) {
        free(ds);
        free(mpath);
        return ingot_fail(-ENOMEM, "%s: out of memory", dir);
    }
    int ret = manifest_read(mpath, &ds->manifest);
    if (ret == -ENOENT) {
        /* an unfinished conversion or merge: say how to finish it */
        char *st = fs_path_join(dir, INGOT_PRETOK_STATE_NAME);
        char *mp = fs_path_join(dir, INGOT_MERGE_PLAN_NAME);
        if (st && access(st, F_OK) == 0)
            ret = ingot_fail(-ENOENT, "%s: no %s yet: an ingot-pretok conversion into it is "
                             "unfinished (%s is there); run the same ingot-pretok command "
                             "again to finish it", dir, INGOT_MANIFEST_NAME,
                             INGOT_PRETOK_STATE_NAME);
        else if (mp && access(mp, F_OK) == 0)
            ret = ingot_fail(-ENOENT, "%s: no %s yet: an ingot-pretok merge into it is "
                             "unfinished (%s is there); run the same merge command again",
                             dir, INGOT_MANIFEST_NAME, INGOT_MERGE_PLAN_NAME);
        else
            ret = ingot_fail(-ENOENT, "%s: no %s; is this a dataset made by ingot-pretok?", dir,
                             INGOT_MANIFEST_NAME);
        free(st);
        free(mp);
    }
    if (ret)
        goto fail;
    const struct manifest *m = ds->manifest;
    ds->shards = calloc(m->n_shards ? m->n_shards : 1, sizeof(*ds->shards));
    if (!ds->shards) {
        ret = ingot_fail(-ENOMEM, "%s: out of memory", dir);
        goto fail;
    }
    uint64_t seq[2] = { 0, 0 };
    for (size_t i = 0; i < m->n_shards; i++) {
        const struct manifest_shard *ms = &m->shards[i];
        if ((ret = check_shard_name(mpath, i, ms->file)))
            goto fail;
        char *sp = fs_path_join(dir, ms->file);
        if (!sp) {
            ret = ingot_fail(-ENOMEM, "%s: out of memory", dir);
            goto fail;
        }
        ret = shard_reader_open(sp, &ds->shards[i]);
        free(sp);
        if (ret)
            goto fail;
        ds->n_shards = i + 1;
        if ((ret = check_against_manifest(m, ms, seq[ms->split]++, ds->shards[i])))
            goto fail;
    }
    if (verify && (ret = verify_dataset(ds, mpath)))
        goto fail;
    free(mpath);
    *out = ds;
    return 0;
fail:
    free(mpath);
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
    for (size_t i = 0; i < *n; i++)
        if (!cand[i])
            return ingot_fail(-ENOMEM, "%s: out of memory", dir);
    return 0;
}

int dataset_copy_tokenizer(const char *dir, const char *model_path, uint64_t hash)
{
    char *dst = fs_path_join(dir, INGOT_TOKENIZER_NAME), *buf = NULL;
    size_t len = 0;
    uint64_t h = 0;
    int ret;
    if (!dst)
        return ingot_fail(-ENOMEM, "%s: out of memory", dir);
    /* Already there (a resumed or repeated conversion): nothing to do. */
    if (access(dst, F_OK) == 0 && fs_hash_file(dst, &h) == 0 && h == hash) {
        ret = 0;
        goto out;
    }
    if ((ret = fs_read_all(model_path, &buf, &len)))
        goto out;
    if ((h = ingot_xxh3(buf, len)) != hash) {
        ret = ingot_fail(INGOT_E_MISMATCH, "%s: the model changed while it was in use (hash "
                         "%016llx, loaded as %016llx); run again", model_path, (ull)h, (ull)hash);
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
                         "not %016llx (a disk or file system fault?)", dst, model_path, (ull)h,
                         (ull)hash);
out:
    free(buf);
    free(dst);
    return ret;
}

int dataset_load_tokenizer(const struct dataset *ds, const char *model_path,
                           struct ingot_spm **out, char **used)
{
    *out = NULL;
    if (used)
        *used = NULL;
    const struct manifest_tokenizer *t = &ds->manifest->tokenizer;
    char *cand[3] = { NULL, NULL, NULL };
    size_t nc = 0;
    if (model_path) {
        cand[nc++] = strdup(model_path);
    } else {
        if (!t->file || !t->file[0])
            return ingot_fail(INGOT_E_TOKENIZER,
                              "%s/%s: key tokenizer.file: not recorded; pass the model with --model",
                              ds->dir, INGOT_MANIFEST_NAME);
        if (dataset_tokenizer_candidates(ds->dir, t->file, cand, &nc)) {
            for (size_t i = 0; i < nc; i++)
                free(cand[i]);
            return -ENOMEM;
        }
    }
    int ret = 0;
    const char *found = NULL;
    for (size_t i = 0; i < nc; i++) {
        if (!cand[i]) {
            ret = ingot_fail(-ENOMEM, "%s: out of memory", ds->dir);
            goto out;
        }
        if (!found && access(cand[i], R_OK) == 0)
            found = cand[i];
    }
    if (!found) {
        if (model_path)
            ret = ingot_fail(-ENOENT, "%s: tokenizer model not found", model_path);
        else
            ret = ingot_fail(-ENOENT,
                             "tokenizer model %s (from %s/%s) not found in %s nor as given; "
                             "pass its path explicitly (ingot-dump --model, ingot-train --tokenizer)",
                             t->file, ds->dir, INGOT_MANIFEST_NAME, ds->dir);
        goto out;
    }
    ingot_spm *spm = NULL;
    if ((ret = ingot_spm_load(found, &spm)))
        goto out;
    uint64_t h = ingot_spm_model_hash(spm);
    if (h != t->hash) {
        ret = ingot_fail(INGOT_E_MISMATCH,
                         "%s: tokenizer hash %016llx differs from the %016llx in %s/%s: this is "
                         "not the model the dataset was made with",
                         found, (ull)h, (ull)t->hash, ds->dir, INGOT_MANIFEST_NAME);
        ingot_spm_free(spm);
        goto out;
    }
    *out = spm;
    if (used && !(*used = strdup(found))) {
        ingot_spm_free(spm);
        *out = NULL;
        ret = ingot_fail(-ENOMEM, "out of memory");
    }
out:
    for (size_t i = 0; i < nc; i++)
        free(cand[i]);
    return ret;
}
