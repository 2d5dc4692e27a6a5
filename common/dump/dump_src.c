/* What ingot-dump reads: one shard, or a dataset directory through
 * dataset_open(), and the tokenizer that belongs to it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_dump.h"
#include "ingot_err.h"
#include "term_text.h"

typedef unsigned long long ull;

/* manifest.json in the directory holding a lone shard, when there is one
 * and it lists this shard, the same bytes by its header checksum (then the
 * tokenizer and the input names can be found through it; a shard of
 * another dataset copied under that name must not borrow them). */
static void find_side_manifest(struct dump_src *s)
{
    const char *slash = strrchr(s->path, '/');
    char *dir = slash ? strndup(s->path, (size_t)(slash - s->path + 1)) : strdup("");
    if (!dir)
        return;
    char *mp = fs_path_join(dir, INGOT_MANIFEST_NAME);
    free(dir);
    if (!mp)
        return;
    struct manifest *m = NULL;
    if (access(mp, R_OK) == 0 && manifest_read(mp, &m) == 0) {
        const char *base = fs_basename(s->path);
        for (size_t i = 0; i < m->n_shards; i++)
            if (!strcmp(m->shards[i].file, base) &&
                m->shards[i].header_checksum ==
                    shard_reader_header(s->single)->header_checksum) {
                s->side = m;
                m = NULL;
                break;
            }
    }
    ingot_clear_err();
    manifest_free(m);
    free(mp);
}

/* Whether dir holds what ingot-train writes into a --ckpt-dir (its lock, or
 * a file named ckpt-*.bin). */
static bool is_run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    bool run = false;
    for (struct dirent *e; d && !run && (e = readdir(d));)
        run = !strcmp(e->d_name, INGOT_TRAIN_LOCK_NAME) || ingot_train_ckpt_like(e->d_name);
    if (d)
        closedir(d);
    return run;
}

/* Whether path starts with a checkpoint's magic. */
static bool is_checkpoint(const char *path)
{
    char m[sizeof(INGOT_TRAIN_CKPT_MAGIC) - 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    bool ck = fd >= 0 && read(fd, m, sizeof(m)) == (ssize_t)sizeof(m) &&
              !memcmp(m, INGOT_TRAIN_CKPT_MAGIC, sizeof(m));
    if (fd >= 0)
        close(fd);
    return ck;
}

/* A training run's directory or checkpoint given for PATH: said as such
 * ("no manifest.json; is this a dataset?", "not an Ingot shard" left the
 * user to guess), keeping err's exit status. */
static int not_data(int err, const char *shown, bool dir)
{
    return ingot_fail(err, "%s: %s, not a %s: ingot-dump reads datasets and shards; a "
                      "checkpoint is read by ingot-train export, generate or eval, or from "
                      "Python (scripts/python/ingot: open_checkpoint)", shown,
                      dir ? "a training run's --ckpt-dir (checkpoints, ckpt-*.bin)" :
                            "an ingot-train checkpoint", dir ? "dataset" : "shard");
}

int dump_src_open(const char *path, bool verify, struct dump_src *s)
{
    memset(s, 0, sizeof(*s));
    s->path = path;
    term_text(path, s->shown, sizeof(s->shown));
    int isdir = fs_is_dir(path);
    if (isdir < 0)
        return isdir;
    if (isdir) {
        int ret = dataset_open(path, verify, &s->ds);
        return ret == -ENOENT && is_run_dir(path) ? not_data(ret, s->shown, true) : ret;
    }
    if (access(path, F_OK) != 0) {
        int e = errno;
        return ingot_fail(-e, "%s: %s", s->shown, strerror(e));
    }
    int ret = shard_reader_open(path, &s->single);
    if (ret && ret != -ENOMEM && is_checkpoint(path))
        return not_data(ret, s->shown, false);
    if (!ret && verify)
        ret = shard_reader_verify(s->single);
    if (!ret)
        find_side_manifest(s);
    return ret;
}

int dump_src_select(struct dump_src *s, const char *split)
{
    free(s->sel);
    s->sel = NULL;
    s->n_sel = 0;
    s->sel_docs = s->sel_tokens = 0;
    int all = split && !strcmp(split, "all");
    uint32_t want = INGOT_SPLIT_TRAIN;
    char ts[1024];
    if (split && !all && ingot_split_parse(split, &want))
        return ingot_fail(INGOT_E_USAGE, "--split %s: expected train, val or all",
                          term_text(split, ts, sizeof(ts)));
    size_t n = s->ds ? s->ds->n_shards : 1;
    s->sel = calloc(n, sizeof(*s->sel));
    if (!s->sel)
        return ingot_oom("shard selection", n * sizeof(*s->sel));
    if (s->single) {
        if (!split || all || shard_reader_header(s->single)->split == want)
            s->sel[s->n_sel++] = s->single;
    } else {
        /* dataset order: train shards, then val shards for "all" */
        for (uint32_t sp = INGOT_SPLIT_TRAIN; sp <= INGOT_SPLIT_VAL; sp++) {
            if (!all && sp != want)
                continue;
            for (size_t i = 0; i < s->ds->n_shards; i++)
                if (s->ds->manifest->shards[i].split == sp)
                    s->sel[s->n_sel++] = s->ds->shards[i];
        }
    }
    for (size_t i = 0; i < s->n_sel; i++) {
        s->sel_docs += shard_reader_n_docs(s->sel[i]);
        s->sel_tokens += shard_reader_n_tokens(s->sel[i]);
    }
    return 0;
}

int dump_src_need_tokens(const struct dump_src *s, const char *split, const char *what)
{
    if (s->n_sel && s->sel_tokens)
        return 0;
    if (s->single && !s->n_sel)   /* --split names the other split */
        return ingot_fail(INGOT_E_NODATA, "%s: a %s shard, not in --split %s: nothing %s "
                          "(--split %s or all selects it)", s->shown,
                          ingot_split_name(shard_reader_header(s->single)->split), split, what,
                          ingot_split_name(shard_reader_header(s->single)->split));
    const char *sp = split ? split : s->ds ? "train" : "shard";
    if (!s->n_sel)
        return ingot_fail(INGOT_E_NODATA, "%s: no %s shard: nothing %s", s->shown, sp, what);
    return ingot_fail(INGOT_E_NODATA, "%s: the selection (%s: %zu shard%s) holds no token: "
                      "nothing %s", s->shown, sp, s->n_sel, s->n_sel == 1 ? "" : "s", what);
}

/* dataset_load_tokenizer(), saying so when a candidate there was passed
 * over (a replaced copy) or the model given to pretok was used (the copy
 * gone). */
static int load_dataset_model(const struct dataset *ds, const char *model, ingot_spm **out)
{
    char *note = NULL;
    int ret = dataset_load_tokenizer(ds, model, out, NULL, &note);
    if (note)
        fprintf(stderr, "ingot-dump: note: %s\n", note);
    free(note);
    return ret;
}

/* The vocabulary PATH records: the manifest's, or the lone shard's. */
static uint32_t src_vocab(const struct dump_src *s)
{
    return s->ds ? s->ds->manifest->tokenizer.vocab_size :
                   shard_reader_header(s->single)->vocab_size;
}

/* A dataset (or lone shard) that records no tokenizer (hash 0: ids only,
 * from import-bin --vocab) takes any model of its vocab_size ids: nothing
 * else can be checked, and the note says so. */
static int load_unchecked_model(const struct dump_src *s, const char *model, ingot_spm **out)
{
    const uint32_t vocab = src_vocab(s);
    ingot_spm *spm = NULL;
    int ret = ingot_spm_load(model, &spm);
    if (ret)
        return ret;
    char tm[1024];
    term_text(model, tm, sizeof(tm));
    if (ingot_spm_vocab_size(spm) != vocab) {
        ret = ingot_fail(INGOT_E_MISMATCH, "%s: a vocabulary of %u pieces, but the shards of %s "
                         "have vocab_size %u: not a model of these ids; pass one of %u pieces",
                         tm, ingot_spm_vocab_size(spm), s->shown, vocab, vocab);
        ingot_spm_free(spm);
        return ret;
    }
    fprintf(stderr, "ingot-dump: note: %s records no tokenizer (ids only, made by import-bin "
            "--vocab): %s could not be checked against the shards, only its size (%u pieces); "
            "its pieces and text are right only if the ids were made with it\n", s->shown, tm, vocab);
    *out = spm;
    return 0;
}

int dump_src_model(const struct dump_src *s, const char *model, ingot_spm **out)
{
    *out = NULL;
    /* A dataset imported from token files by id (import-bin --vocab, e.g.
     * llm.c's GPT-2 files) records no model: a usage matter, so that ids,
     * tokens and stats still print (without pieces) and docs asks for one. */
    const struct manifest *m = s->ds ? s->ds->manifest : s->side;
    uint64_t want = s->ds ? m->tokenizer.hash : shard_reader_header(s->single)->tokenizer_hash;
    bool none = want == 0 || (m && (!m->tokenizer.file || !m->tokenizer.file[0]));
    if (none && !model)
        return ingot_fail(INGOT_E_USAGE, "%s: the %s records no tokenizer model (made by "
                          "import-bin --vocab, ids only); pass the SentencePiece model of its "
                          "%u ids with --model M, or print ids: docs --ids, tokens, stats",
                          s->shown, s->ds ? "dataset" : "shard", src_vocab(s));
    if (want == 0)
        return load_unchecked_model(s, model, out);
    if (s->ds)
        return load_dataset_model(s->ds, model, out);
    ingot_spm *spm = NULL;
    int ret;
    if (model) {
        ret = ingot_spm_load(model, &spm);
    } else if (s->side) {
        /* borrow the manifest next to the shard to locate the model */
        struct dataset tmp = { .manifest = s->side };
        const char *slash = strrchr(s->path, '/');
        tmp.dir = slash ? strndup(s->path, (size_t)(slash - s->path)) : strdup(".");
        if (!tmp.dir)
            return ingot_fail(-ENOMEM, "out of memory");
        ret = load_dataset_model(&tmp, NULL, &spm);
        free(tmp.dir);
    } else {
        return ingot_fail(INGOT_E_USAGE,
                          "%s: no manifest.json next to the shard lists it (by name and "
                          "header checksum) to find the tokenizer; pass --model M", s->shown);
    }
    if (ret)
        return ret;
    if (ingot_spm_model_hash(spm) != want) {
        char tm[1024];
        ret = ingot_fail(INGOT_E_MISMATCH,
                         "%s: tokenizer hash %016llx differs from the shard's tokenizer_hash "
                         "%016llx in %s: not the model the shard was made with",
                         model ? term_text(model, tm, sizeof(tm)) : "tokenizer",
                         (ull)ingot_spm_model_hash(spm), (ull)want, s->shown);
        ingot_spm_free(spm);
        return ret;
    }
    *out = spm;
    return 0;
}

const char *dump_src_input_name(const struct dump_src *s, uint32_t file_index, char *buf,
                                size_t len)
{
    const struct manifest *m = s->ds ? s->ds->manifest : s->side;
    if (m && file_index < m->n_inputs && m->inputs[file_index].name)
        return term_text(m->inputs[file_index].name, buf, len);   /* printed */
    snprintf(buf, len, "input #%u", file_index);
    return buf;
}

void dump_src_specials(const struct dump_src *s, int32_t *bos, int32_t *eos, int32_t *unk)
{
    if (s->ds) {
        const struct manifest_tokenizer *t = &s->ds->manifest->tokenizer;
        *bos = t->bos_id;
        *eos = t->eos_id;
        *unk = t->unk_id;
        return;
    }
    const struct ingot_shard_header *h = shard_reader_header(s->single);
    *bos = h->bos_id;
    *eos = h->eos_id;
    *unk = h->unk_id;
}

void dump_src_close(struct dump_src *s)
{
    free(s->sel);
    dataset_close(s->ds);
    shard_reader_close(s->single);
    manifest_free(s->side);
    memset(s, 0, sizeof(*s));
}

int dump_out_of_vocab(uint64_t n, uint32_t vocab, uint32_t id, uint64_t pos, const char *shard)
{
    return ingot_fail(INGOT_E_CORRUPT, "%llu token id%s %s outside the vocabulary of %u ids "
                      "(the first: id %u at position %llu, in %s): the shard is damaged or was "
                      "written with another tokenizer; ingot-dump verify checks every shard",
                      (unsigned long long)n, n == 1 ? "" : "s", n == 1 ? "is" : "are", vocab,
                      id, (unsigned long long)pos, shard);
}
