/* import-bin: map each .bin file, check it against its format, cut its
 * token stream into documents and append them to shards of the split the
 * file was named for. Nothing is resumable (there is no tokenizing to
 * save): a failure removes every shard written and leaves no manifest, and
 * OUT itself (with the parents it made) when this run created it, as a
 * conversion does. */
#include "pt_import.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_num.h"
#include "cli_opt.h"
#include "dataset.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "manifest.h"
#include "pt_hooks.h"
#include "pt_lock.h"
#include "pt_writer.h"
#include "shard_writer.h"
#include "spm_shim.h"
#include "term_text.h"

enum imp_format { IMP_NONE, IMP_LLMC, IMP_NANOGPT };

struct imp_file {
    const char *path;
    uint32_t split;
    uint64_t size;
    dev_t dev;                      /* identity: a file named twice is refused */
    ino_t ino;
    const unsigned char *map;       /* the whole file */
    const unsigned char *tok;       /* first token */
    uint64_t n_tokens;
    unsigned width;                 /* 2 or 4 bytes per token in the file */
    uint64_t n_docs, out_tokens;
};

struct imp {
    enum imp_format format;
    int64_t vocab;                  /* -1: from the tokenizer */
    const char *tokenizer, *out;
    int64_t eot;                    /* -1: one document per file */
    bool eot_after;                 /* nanoGPT: EOT ends a document; llm.c: starts one */
    bool eot_pos_set;
    uint64_t shard_tokens, max_doc;
    bool quiet;
    struct imp_file *files;
    size_t n_files;
    /* output */
    struct shard_writer_opts base;
    struct manifest *m;
    shard_writer *open[2];
    uint64_t seq[2];
    uint32_t *buf;                  /* one document as uint32 */
    size_t buf_cap;
    volatile sig_atomic_t *interrupt;   /* SIGINT/SIGTERM seen (main's flag) */
    long delay_ms;                  /* test hook: sleep per document */
};

void pt_import_usage(FILE *f)
{
    fputs(
"usage: ingot-pretok import-bin --format llmc|nanogpt\n"
"                               (--vocab N | --tokenizer M.model)\n"
"                               --out DIR [options] FILE... [--val FILE]...\n"
"\n"
"Convert token files of llm.c or nanoGPT into an Ingot dataset (no tokenizing;\n"
"the ids are kept as they are). FILEs go to the train split, --val FILEs to val.\n"
"Integers take k M G T (x1000) or Ki Mi Gi Ti (x1024) suffixes: 100M, 256Mi.\n"
"  --format llmc        llm.c: 256 x int32 header (magic 20240520 version 1,\n"
"                       uint16 tokens; or magic 20240801 version 7, uint32\n"
"                       tokens), token count in header[2], then the tokens\n"
"  --format nanogpt     nanoGPT: raw uint16 tokens, no header\n"
"                       (train.bin, val.bin)\n"
"  --vocab N            vocabulary size, 1..2^32-1 (GPT-2: 50257); every id\n"
"                       must be below it\n"
"  --tokenizer M.model  the SentencePiece model the ids come from: vocabulary\n"
"                       and special ids from it, copied into DIR (ingot-dump\n"
"                       docs decodes)\n"
"  --out DIR            output directory (created; one that holds a dataset or\n"
"                       shards is refused)\n"
"  --eot ID             end-of-text id, 0..2^32-2: documents are cut at it\n"
"                       (GPT-2: 50256); without it each file is one document\n"
"  --eot-position before|after\n"
"                       where the id stands: before each document (llm.c, the\n"
"                       default for llmc) or after it (nanoGPT, the default for\n"
"                       nanogpt); the token stream is kept exactly either way\n"
"  --max-doc-tokens N   cut longer documents into pieces of N tokens,\n"
"                       1..4Gi (default 256Mi; a document is held in memory\n"
"                       as uint32 once)\n"
"  --shard-tokens N     target tokens per shard, cut at documents, 1..1T\n"
"                       (default 100M)\n"
"  --val FILE           a file for the val split (repeat for more)\n"
"  --quiet              no summary\n"
"  --help               this text\n"
"Export back to llm.c's format: ingot-dump export-bin DIR --out FILE.bin\n"
"\n"
"exit status: 0 done, 1 error, 2 usage, 128+N stopped by signal N (the shards\n"
"this import wrote are removed)\n",
        f);
}

enum { I_FORMAT = 256, I_VOCAB, I_TOKENIZER, I_EOT, I_EOT_POS, I_OUT, I_VAL, I_SHARD_TOKENS,
       I_MAX_DOC, I_QUIET, I_HELP };

static int add_file(struct imp *x, const char *path, uint32_t split)
{
    struct imp_file *v = realloc(x->files, (x->n_files + 1) * sizeof(*v));
    if (!v)
        return ingot_oom("the file list", (x->n_files + 1) * sizeof(*v));
    x->files = v;
    memset(&v[x->n_files], 0, sizeof(*v));
    v[x->n_files].path = path;
    v[x->n_files].split = split;
    x->n_files++;
    return 0;
}

static int parse(int argc, char **argv, struct imp *x, bool *help)
{
    static const struct option lo[] = {
        { "format", required_argument, NULL, I_FORMAT },
        { "vocab", required_argument, NULL, I_VOCAB },
        { "tokenizer", required_argument, NULL, I_TOKENIZER },
        { "eot", required_argument, NULL, I_EOT },
        { "eot-position", required_argument, NULL, I_EOT_POS },
        { "out", required_argument, NULL, I_OUT },
        { "val", required_argument, NULL, I_VAL },
        { "shard-tokens", required_argument, NULL, I_SHARD_TOKENS },
        { "max-doc-tokens", required_argument, NULL, I_MAX_DOC },
        { "quiet", no_argument, NULL, I_QUIET },
        { "help", no_argument, NULL, I_HELP },
        { NULL, 0, NULL, 0 },
    };
    x->vocab = x->eot = -1;
    x->shard_tokens = 100000000;
    x->max_doc = (uint64_t)1 << 28;
    optind = 1;
    opterr = 0;
    int c, ret;
    int64_t v;
    int idx;
    while ((idx = -1, c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
        if (idx >= 0 && optarg && (ret = cli_check_value(lo[idx].name, optarg)))
            return ret;
        char tv[256];   /* a value refused, as term_text shows it */
        switch (c) {
        case I_FORMAT:
            if (!strcmp(optarg, "llmc"))
                x->format = IMP_LLMC;
            else if (!strcmp(optarg, "nanogpt"))
                x->format = IMP_NANOGPT;
            else
                return ingot_fail(INGOT_E_USAGE, "--format %s: expected llmc or "
                                  "nanogpt", term_text(optarg, tv, sizeof(tv)));
            break;
        case I_VOCAB:
            if ((ret = cli_parse_i64("--vocab", optarg, 1, UINT32_MAX, &x->vocab)))
                return ret;
            break;
        case I_TOKENIZER: x->tokenizer = optarg; break;
        case I_EOT:
            if ((ret = cli_parse_i64("--eot", optarg, 0, UINT32_MAX - 1, &x->eot)))
                return ret;
            break;
        case I_EOT_POS:
            if (strcmp(optarg, "before") && strcmp(optarg, "after"))
                return ingot_fail(INGOT_E_USAGE, "--eot-position %s: expected before or after",
                                  term_text(optarg, tv, sizeof(tv)));
            x->eot_after = !strcmp(optarg, "after");
            x->eot_pos_set = true;
            break;
        case I_OUT: x->out = optarg; break;
        case I_VAL:
            if ((ret = add_file(x, optarg, INGOT_SPLIT_VAL)))
                return ret;
            break;
        case I_SHARD_TOKENS:
            if ((ret = cli_parse_i64("--shard-tokens", optarg, 1, INT64_C(1000000000000), &v)))
                return ret;
            x->shard_tokens = (uint64_t)v;
            break;
        case I_MAX_DOC:
            if ((ret = cli_parse_i64("--max-doc-tokens", optarg, 1, INT64_C(1) << 32, &v)))
                return ret;
            x->max_doc = (uint64_t)v;
            break;
        case I_QUIET: x->quiet = true; break;
        case 'h':
        case I_HELP:
            *help = true;
            return 0;
        default:   /* '?', ':' */
            return cli_opt_error(c, argv, lo, "ingot-pretok import-bin --help");
        }
    }
    for (int i = optind; i < argc; i++)
        if ((ret = add_file(x, argv[i], INGOT_SPLIT_TRAIN)))
            return ret;
    if (x->format == IMP_NONE)
        return ingot_fail(INGOT_E_USAGE, "--format llmc or --format nanogpt is "
                          "required (the files do not say reliably: nanoGPT's have no header)");
    if (x->vocab < 0 && !x->tokenizer)
        return ingot_fail(INGOT_E_USAGE, "name the vocabulary: --vocab N (GPT-2: "
                          "50257) or --tokenizer M.model");
    if (!x->out)
        return ingot_fail(INGOT_E_USAGE, "--out DIR is required");
    if (!x->n_files)
        return ingot_fail(INGOT_E_USAGE, "no FILE given");
    if (!x->eot_pos_set)
        x->eot_after = x->format == IMP_NANOGPT;
    if (x->eot_pos_set && x->eot < 0)
        return ingot_fail(INGOT_E_USAGE, "--eot-position without --eot");
    return 0;
}

static int32_t rd_i32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

/* Map a file and check it against its format; every message names the file
 * and the field. */
static int map_file(const struct imp *x, struct imp_file *f)
{
    int fd = fs_open_regular(f->path, "token file", UINT64_MAX, &f->size);
    if (fd < 0)
        return fd;
    char tp[1024];   /* the file, as term_text shows it */
    term_text(f->path, tp, sizeof(tp));
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        return ingot_fail(-e, "%s: fstat failed: %s", tp, strerror(e));
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (f->size) {
        void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return ingot_fail(-e, "%s: mmap failed: %s", tp, strerror(e));
        }
        madvise(p, f->size, MADV_SEQUENTIAL);
        f->map = p;
    }
    close(fd);
    if (x->format == IMP_NANOGPT) {
        if (f->size % 2)
            return ingot_fail(INGOT_E_FORMAT, "%s: %" PRIu64 " byte%s, an odd number: not "
                              "raw uint16 tokens (is it llm.c's format? --format llmc)", tp,
                              f->size, f->size == 1 ? "" : "s");
        /* nanoGPT files have no header; llm.c's magic at the start means
         * the wrong --format was given. */
        if (f->size >= 4 * PT_LLMC_HEADER_INTS && (rd_i32(f->map) == PT_LLMC_MAGIC_GPT2 ||
                                                  rd_i32(f->map) == PT_LLMC_MAGIC_LLAMA3))
            return ingot_fail(INGOT_E_FORMAT, "%s: starts with llm.c's magic %d: use --format "
                              "llmc", tp, rd_i32(f->map));
        f->tok = f->map;
        f->width = 2;
        f->n_tokens = f->size / 2;
        return 0;
    }
    const uint64_t hsz = 4 * PT_LLMC_HEADER_INTS;
    if (f->size < hsz)
        return ingot_fail(INGOT_E_FORMAT, "%s: %" PRIu64 " byte%s, shorter than llm.c's %"
                          PRIu64 "-byte header (a nanoGPT file? --format nanogpt)", tp, f->size,
                          f->size == 1 ? "" : "s", hsz);
    int32_t magic = rd_i32(f->map), version = rd_i32(f->map + 4), count = rd_i32(f->map + 8);
    if (magic == PT_LLMC_MAGIC_GPT2 && version == 1) {
        f->width = 2;
    } else if (magic == PT_LLMC_MAGIC_LLAMA3 && version == 7) {
        f->width = 4;
    } else if (magic == PT_LLMC_MAGIC_GPT2 || magic == PT_LLMC_MAGIC_LLAMA3) {
        return ingot_fail(INGOT_E_VERSION, "%s: header[1] (version) is %d; llm.c's magic %d goes "
                          "with version %d", tp, version, magic,
                          magic == PT_LLMC_MAGIC_GPT2 ? 1 : 7);
    } else {
        return ingot_fail(INGOT_E_FORMAT, "%s: header[0] (magic) is %d, not llm.c's %d or %d "
                          "(a nanoGPT file? --format nanogpt)", tp, magic,
                          PT_LLMC_MAGIC_GPT2, PT_LLMC_MAGIC_LLAMA3);
    }
    if (count < 0)
        return ingot_fail(INGOT_E_CORRUPT, "%s: header[2] (token count) is negative: %d",
                          tp, count);
    uint64_t want = hsz + (uint64_t)count * f->width;
    if (want != f->size)
        return ingot_fail(want > f->size ? INGOT_E_TRUNCATED : INGOT_E_CORRUPT,
                          "%s: header[2] says %d token%s of %u bytes (%" PRIu64 " bytes with "
                          "the header), the file has %" PRIu64 " bytes%s", tp, count,
                          count == 1 ? "" : "s", f->width, want, f->size,
                          want > f->size ? " (truncated)" : "");
    f->tok = f->map + hsz;
    f->n_tokens = (uint64_t)count;
    return 0;
}

static uint32_t token_at(const struct imp_file *f, uint64_t i)
{
    const unsigned char *p = f->tok + i * f->width;
    return f->width == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8
                         : (uint32_t)rd_i32(p);
}

static int finish_shard(struct imp *x, uint32_t s)
{
    struct shard_summary sum;
    char *path = pt_shard_path(x->out, s, x->seq[s]);
    if (!path)
        return ingot_oom("a shard path", 64);
    int ret = shard_writer_finish(x->open[s], &sum);
    x->open[s] = NULL;
    if (!ret) {
        struct manifest_shard ms = shard_summary_entry(fs_basename(path), s, &sum);
        ret = manifest_add_shard(x->m, &ms);
        x->seq[s]++;
    }
    free(path);
    return ret;
}

/* SIGINT/SIGTERM seen: the error that stops the import (its caller removes
 * what it wrote). */
static int check_interrupt(const struct imp *x)
{
    if (!x->interrupt || !*x->interrupt)
        return 0;
    char to[1024];
    return ingot_fail(INGOT_E_INTERRUPTED, "interrupted: it is not resumable, so "
                      "the shards it wrote into %s were removed; run the same command again",
                      term_text(x->out, to, sizeof(to)));
}

/* Tokens [a, b) of file fi as document number doc (1-based) of that file. */
static int add_doc(struct imp *x, uint32_t fi, uint64_t a, uint64_t b, uint64_t doc)
{
    struct imp_file *f = &x->files[fi];
    if (x->delay_ms > 0)
        usleep((useconds_t)x->delay_ms * 1000);
    int stop = check_interrupt(x);
    if (stop)
        return stop;
    uint32_t s = f->split;
    size_t n = (size_t)(b - a);
    if (n > x->buf_cap) {
        uint32_t *nb = realloc(x->buf, n * sizeof(*nb));
        if (!nb)
            return ingot_oom("a document (--max-doc-tokens bounds it)", n * sizeof(*nb));
        x->buf = nb;
        x->buf_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t t = token_at(f, a + i);
        if (t >= (uint64_t)x->base.vocab_size) {
            char tp[1024];
            return ingot_fail(INGOT_E_CORRUPT, "%s: token #%" PRIu64 " is %u, not below the "
                              "vocabulary size %u (the wrong --vocab or --tokenizer?)",
                              term_text(f->path, tp, sizeof(tp)), a + i, t, x->base.vocab_size);
        }
        x->buf[i] = t;
    }
    int ret;
    if (!x->open[s]) {
        struct shard_writer_opts o = x->base;
        char *path = pt_shard_path(x->out, s, x->seq[s]);
        if (!path)
            return ingot_oom("a shard path", 64);
        o.path = path;
        o.split = s;
        o.shard_seq = x->seq[s];
        ret = shard_writer_create(&o, &x->open[s]);
        free(path);
        if (ret)
            return ret;
    }
    if ((ret = shard_writer_add_doc(x->open[s], x->buf, n, fi, doc)))
        return ret;
    f->n_docs++;
    f->out_tokens += n;
    if (shard_writer_n_tokens(x->open[s]) >= x->shard_tokens)
        return finish_shard(x, s);
    return 0;
}

/* One file's token stream cut into documents: at the EOT id (before or
 * after it), and every max_doc tokens. */
static int import_file(struct imp *x, uint32_t fi)
{
    const struct imp_file *f = &x->files[fi];
    uint64_t start = 0, doc = 1;
    int ret = 0;
    for (uint64_t i = 0; i < f->n_tokens && !ret; i++) {
        bool cut_before = false, cut_after = false;
        if (x->eot >= 0 && token_at(f, i) == (uint64_t)x->eot) {
            cut_before = !x->eot_after && i > start;
            cut_after = x->eot_after;
        }
        if (cut_before) {
            ret = add_doc(x, fi, start, i, doc++);
            start = i;
        }
        if (!ret && (cut_after || i + 1 - start == x->max_doc)) {
            ret = add_doc(x, fi, start, i + 1, doc++);
            start = i + 1;
        }
    }
    if (!ret && start < f->n_tokens)
        ret = add_doc(x, fi, start, f->n_tokens, doc);
    return ret;
}

static int setup_vocab(struct imp *x)
{
    struct shard_writer_opts *b = &x->base;
    b->bos_id = b->eos_id = b->pad_id = b->unk_id = -1;
    struct manifest_tokenizer tk = {
        .type = (char *)ingot_tokenizer_type_name(INGOT_TOK_UNKNOWN) };
    ingot_spm *spm = NULL;
    char *source = NULL;
    int ret = 0;
    if (x->tokenizer) {
        if ((ret = ingot_spm_load(x->tokenizer, &spm)))
            return ret;
        uint32_t v = ingot_spm_vocab_size(spm);
        if (x->vocab >= 0 && (uint64_t)x->vocab != v) {
            char tt[1024];
            ret = ingot_fail(INGOT_E_MISMATCH, "--vocab %" PRId64 " but %s has %u pieces",
                             x->vocab, term_text(x->tokenizer, tt, sizeof(tt)), v);
            goto out;
        }
        x->vocab = v;
        b->bos_id = ingot_spm_bos_id(spm);
        b->eos_id = ingot_spm_eos_id(spm);
        b->pad_id = ingot_spm_pad_id(spm);
        b->unk_id = ingot_spm_unk_id(spm);
        b->tokenizer_type = ingot_spm_model_type(spm);
        b->tokenizer_hash = ingot_spm_model_hash(spm);
        tk.file = INGOT_TOKENIZER_NAME;
        /* absolute, as pretok records it (pt_convert.c) */
        if (!(tk.source = source = fs_abs_path(x->tokenizer))) {
            ret = ingot_oom("the tokenizer's path", strlen(x->tokenizer) + PATH_MAX);
            goto out;
        }
        tk.type = (char *)ingot_tokenizer_type_name(b->tokenizer_type);
    } else if (x->eot >= 0) {
        /* No model to say: the EOT id is the document marker. */
        if (x->eot_after)
            b->eos_id = (int32_t)x->eot;
        else
            b->bos_id = (int32_t)x->eot;
    }
    if (x->eot >= x->vocab) {
        ret = ingot_fail(INGOT_E_USAGE, "--eot %" PRId64 " is not below the vocabulary size %"
                         PRId64, x->eot, x->vocab);
        goto out;
    }
    b->vocab_size = (uint32_t)x->vocab;
    b->token_width = x->vocab <= 65536 ? 2 : 4;
    x->m->token_width = b->token_width;
    tk.hash = b->tokenizer_hash;
    tk.vocab_size = b->vocab_size;
    tk.bos_id = b->bos_id;
    tk.eos_id = b->eos_id;
    tk.pad_id = b->pad_id;
    tk.unk_id = b->unk_id;
    if (manifest_set_tokenizer(x->m, &tk))
        ret = ingot_oom("the manifest", 256);
    if (!ret && x->tokenizer)
        ret = dataset_copy_tokenizer(x->out, x->tokenizer, b->tokenizer_hash);
out:
    free(source);
    ingot_spm_free(spm);
    return ret;
}

static int cmp_identity(const void *a, const void *b, void *arg)
{
    const struct imp_file *v = arg;
    const struct imp_file *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

/* A file named twice (by any path) would be imported twice; named as train
 * and as --val it would put the same documents into both splits. */
static int check_duplicates(const struct imp *x)
{
    if (x->n_files < 2)
        return 0;
    size_t *idx = malloc(x->n_files * sizeof(*idx));
    if (!idx)
        return ingot_oom("the duplicate check", x->n_files * sizeof(*idx));
    for (size_t i = 0; i < x->n_files; i++)
        idx[i] = i;
    qsort_r(idx, x->n_files, sizeof(*idx), cmp_identity, x->files);
    int ret = 0;
    for (size_t i = 1; i < x->n_files && !ret; i++) {
        const struct imp_file *a = &x->files[idx[i - 1]], *b = &x->files[idx[i]];
        char ta[1024], tb[1024];
        if (a->dev == b->dev && a->ino == b->ino)
            ret = ingot_fail(INGOT_E_USAGE, "%s and %s are the same file, named "
                             "twice%s; name each file once", term_text(a->path, ta, sizeof(ta)),
                             term_text(b->path, tb, sizeof(tb)),
                             a->split != b->split ? " (as train and as --val: its documents "
                             "would be in both splits)" : "");
    }
    free(idx);
    return ret;
}

/* OUT must not hold a dataset already. */
static int check_out(const char *out)
{
    char *m = fs_path_join(out, INGOT_MANIFEST_NAME);
    char *s0 = pt_shard_path(out, INGOT_SPLIT_TRAIN, 0), *s1 = pt_shard_path(out, INGOT_SPLIT_VAL, 0);
    int ret = 0;
    char to[1024];   /* --out, as term_text shows it */
    term_text(out, to, sizeof(to));
    if (!m || !s0 || !s1)
        ret = ingot_oom("a path", 256);
    else if (!access(m, F_OK))
        ret = ingot_fail(INGOT_E_USAGE, "%s already holds a dataset; choose an empty or new --out",
                         to);
    else if (!access(s0, F_OK) || !access(s1, F_OK))
        ret = ingot_fail(INGOT_E_USAGE, "%s holds shards but no %s (left by a run that was "
                         "killed?); remove its *%s files or choose an empty or new --out", to,
                         INGOT_MANIFEST_NAME, INGOT_SHARD_SUFFIX);
    free(m);
    free(s0);
    free(s1);
    return ret;
}

static void remove_written(struct imp *x)
{
    for (int s = 0; s < 2; s++)
        shard_writer_abort(x->open[s]);
    for (size_t i = 0; x->m && i < x->m->n_shards; i++) {
        char *p = fs_path_join(x->out, x->m->shards[i].file);
        if (p)
            unlink(p);
        free(p);
    }
}

/* Without --eot each file became one document: name the id that most
 * likely marks the files' documents. A file first in a split that starts
 * with the tokenizer's BOS (ingot-dump export-bin of a pretok dataset) or
 * ends with its EOS says which; else GPT-2's, llm.c's usual case. */
static void note_no_eot(const struct imp *x)
{
    const struct imp_file *f = NULL;
    for (size_t i = 0; i < x->n_files && !f; i++)
        if (x->files[i].n_tokens)
            f = &x->files[i];
    int32_t bos = x->base.bos_id, eos = x->base.eos_id;
    const char *pre = "ingot-pretok import-bin: note: each file is one document;";
    char tf[1024], tt[1024];
    if (f && x->tokenizer) {
        term_text(f->path, tf, sizeof(tf));
        term_text(x->tokenizer, tt, sizeof(tt));
    }
    if (f && x->tokenizer && bos >= 0 && token_at(f, 0) == (uint32_t)bos)
        fprintf(stderr, "%s %s starts with %d, the BOS of %s: --eot %d cuts documents before "
                "it%s\n", pre, tf, bos, tt, bos,
                x->format == IMP_NANOGPT ? " with --eot-position before" : "");
    else if (f && x->tokenizer && eos >= 0 && token_at(f, f->n_tokens - 1) == (uint32_t)eos)
        fprintf(stderr, "%s %s ends with %d, the EOS of %s: --eot %d cuts documents after "
                "it%s\n", pre, tf, eos, tt, eos,
                x->format == IMP_LLMC ? " with --eot-position after" : "");
    else
        fprintf(stderr, "%s --eot ID cuts documents at the end-of-text id (GPT-2's: 50256)\n",
                pre);
}

int pt_import_bin(int argc, char **argv, volatile sig_atomic_t *interrupt)
{
    struct imp x = { .interrupt = interrupt };
    char **made = NULL;     /* the directories this run created for OUT */
    bool out_made = false;
    /* Test hook: a slow import, so that a test can interrupt it mid-way. */
    x.delay_ms = pt_hook_pos("INGOT_PRETOK_TEST_IMPORT_DELAY_MS");
    bool help = false;
    int ret = parse(argc - 1, argv + 1, &x, &help);
    if (!ret && help) {
        pt_import_usage(stdout);
        free(x.files);
        return 0;
    }
    if (!ret && !(x.m = manifest_new()))
        ret = ingot_oom("the manifest", 1024);
    /* The files are checked before anything is created. */
    for (size_t i = 0; i < x.n_files && !ret; i++)
        ret = map_file(&x, &x.files[i]);
    if (!ret)
        ret = check_duplicates(&x);
    if (!ret)
        ret = fs_mkdir_p_made(x.out, &made, &out_made);
    if (!ret)
        ret = check_out(x.out);
    if (!ret)
        ret = setup_vocab(&x);
    /* Train files first, then val, each in the order given. */
    for (uint32_t s = 0; s < 2 && !ret; s++)
        for (size_t i = 0; i < x.n_files && !ret; i++)
            if (x.files[i].split == s)
                ret = import_file(&x, (uint32_t)i);
    for (uint32_t s = 0; s < 2 && !ret; s++)
        if (x.open[s])
            ret = finish_shard(&x, s);
    if (!ret && !x.m->n_shards)
        ret = ingot_fail(INGOT_E_NODATA, "the files hold no token");
    for (size_t i = 0; i < x.n_files && !ret; i++) {
        struct manifest_input in = { .name = (char *)x.files[i].path, .size = x.files[i].size,
                                     .n_docs = x.files[i].n_docs,
                                     .n_tokens = x.files[i].out_tokens };
        if (manifest_add_input(x.m, &in))
            ret = ingot_oom("the manifest", 1024);
    }
    if (!ret && manifest_set_command_line(x.m, argc, argv))
        ret = ingot_oom("the manifest", 1024);
    char *mp = ret ? NULL : fs_path_join(x.out, INGOT_MANIFEST_NAME);
    if (!ret && !mp)
        ret = ingot_oom("a path", 256);
    if (!ret)   /* a signal after the last document (the shards' fsyncs) */
        ret = check_interrupt(&x);
    if (!ret)
        ret = manifest_write(mp, x.m);
    free(mp);
    if (ret) {
        remove_written(&x);
        /* OUT, when this run made it and it holds nothing else now (the
         * tokenizer copy at most), and the parents it made; no lock here */
        static const char *const ours[] = { INGOT_TOKENIZER_NAME };
        if (made)
            pt_out_abandon(x.out, made, out_made, -1, ours, sizeof(ours) / sizeof(ours[0]));
    } else if (!x.quiet) {
        manifest_update_totals(x.m);
        char to[1024];
        fprintf(stderr, "ingot-pretok import-bin: %s: %" PRIu64 " train tokens (%" PRIu64
                " document%s), %" PRIu64 " val tokens (%" PRIu64 " document%s), %zu shard%s from "
                "%zu file%s\n", term_text(x.out, to, sizeof(to)), x.m->total_tokens[0],
                x.m->total_docs[0],
                x.m->total_docs[0] == 1 ? "" : "s", x.m->total_tokens[1], x.m->total_docs[1],
                x.m->total_docs[1] == 1 ? "" : "s", x.m->n_shards,
                x.m->n_shards == 1 ? "" : "s", x.n_files, x.n_files == 1 ? "" : "s");
        if (x.eot < 0)   /* the boundaries the files hold are not seen without it */
            note_no_eot(&x);
    }
    for (size_t i = 0; i < x.n_files; i++)
        if (x.files[i].map)
            munmap((void *)x.files[i].map, x.files[i].size);
    free(x.files);
    free(x.buf);
    manifest_free(x.m);
    fs_free_list(made);
    return ret;
}
