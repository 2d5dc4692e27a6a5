/* import-bin: check each .bin file against its format, then read its token
 * stream (pread, in chunks), cut it into documents and append them to
 * shards of the split the file was named for. The files are read, not
 * mapped: a file truncated while it is imported is a short read naming it
 * (a mapping would fault, SIGBUS, killing the import mid-write), and any
 * number of files takes no mapping each (vm.max_map_count). OUT is locked
 * and checked as a conversion's (pt_lock.h, pt_outdir.h). Nothing is
 * resumable (there is no tokenizing to save): a failure removes every shard
 * written, the tokenizer copy, and leaves no manifest, and OUT itself (with
 * the parents it made) when this run created it, as a conversion does. */
#include "pt_import.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
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
#include "pt_outdir.h"
#include "pt_writer.h"
#include "shard_writer.h"
#include "spm_shim.h"
#include "term_text.h"

enum imp_format { IMP_NONE, IMP_LLMC, IMP_NANOGPT };

struct imp_file {
    const char *path;
    uint32_t split;
    uint64_t size;
    dev_t dev;                      /* identity: a file named twice is refused, */
    ino_t ino;                      /* and one replaced since the check too */
    struct timespec mtime;          /* when checked: a file rewritten is refused */
    uint64_t hdr;                   /* bytes before the first token */
    uint64_t n_tokens;
    unsigned width;                 /* 2 or 4 bytes per token in the file */
    uint32_t first_tok, last_tok;   /* for the note on files without --eot */
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
    uint32_t *buf;                  /* the document being read, as uint32 */
    size_t n_buf, buf_cap;
    unsigned char *chunk;           /* IMP_CHUNK bytes of a file */
    bool tok_copied;                /* OUT/tokenizer.model is this run's copy */
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
"  --out DIR            output directory (created; see below)\n"
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
"OUT is locked (.pretok.lock) as a conversion's; one that holds a dataset,\n"
"shards, a conversion's state or a tokenizer.model is refused (exit 2).\n"
"\n"
"exit status: 0 done, 1 error, 2 usage (also a FILE that does not exist),\n"
"128+N stopped by signal N. A FILE changed or truncated while being read is an\n"
"error; on any failure the shards this import wrote are removed\n",
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

/* Bytes read at a time: a few hundred documents of GPT-2 tokens, so that a
 * file truncated while it is imported is seen at the next read. */
#define IMP_CHUNK ((size_t)256 << 10)

/* The file is not what was checked (truncated, rewritten or replaced while
 * the import ran): named, with what changed. INGOT_E_TRUNCATED (exit 1). */
static int changed(const struct imp_file *f, const char *what)
{
    char tp[1024];
    return ingot_fail(INGOT_E_TRUNCATED, "%s: changed or truncated while being read (%s; it "
                      "had %" PRIu64 " bytes when checked): nothing of this import is kept; "
                      "run the same command again once nothing writes to it",
                      term_text(f->path, tp, sizeof(tp)), what, f->size);
}

/* Read len bytes of f at off: a short read is a file truncated since it was
 * checked. */
static int read_full(int fd, const struct imp_file *f, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            char tp[1024];
            return ingot_fail(-e, "%s: read failed at byte %" PRIu64 ": %s",
                              term_text(f->path, tp, sizeof(tp)), off + got, strerror(e));
        }
        if (n == 0) {   /* the end came early: say where it is now */
            char what[96];
            struct stat st;
            if (!fstat(fd, &st) && (uint64_t)st.st_size < off + got)
                snprintf(what, sizeof(what), "it has %" PRIu64 " bytes now",
                         (uint64_t)st.st_size);
            else
                snprintf(what, sizeof(what), "it ended before byte %" PRIu64, off + got);
            return changed(f, what);
        }
        got += (size_t)n;
    }
    return 0;
}

/* Open f: a FILE that does not exist is a usage error (exit 2), as an input
 * of the conversion or of `text` is; one that is there but cannot be read
 * (no permission, a dangling link) stays an error of the file (exit 1), as
 * does one removed after it was checked. */
static int open_file(const struct imp_file *f, bool checked, struct stat *st)
{
    int fd = fs_open_regular(f->path, "token file", UINT64_MAX, NULL);
    char tp[1024];   /* the file, as term_text shows it */
    if (fd == -ENOENT || fd == -ENOTDIR) {
        struct stat l;
        if (checked && lstat(f->path, &l))
            return changed(f, "it was removed");
        if (lstat(f->path, &l))
            return ingot_fail(INGOT_E_USAGE, "%s: no such file or directory",
                              term_text(f->path, tp, sizeof(tp)));
    }
    if (fd < 0)
        return fd;
    if (fstat(fd, st)) {
        int e = errno;
        close(fd);
        return ingot_fail(-e, "%s: fstat failed: %s", term_text(f->path, tp, sizeof(tp)),
                          strerror(e));
    }
    return fd;
}

/* Whether st (the file now) is f as checked; else the error naming what
 * changed. */
static int still_same(const struct imp_file *f, const struct stat *st)
{
    char what[96];
    if (st->st_dev != f->dev || st->st_ino != f->ino)
        return changed(f, "another file is at its path now");
    if ((uint64_t)st->st_size != f->size) {
        snprintf(what, sizeof(what), "it has %" PRIu64 " bytes now", (uint64_t)st->st_size);
        return changed(f, what);
    }
    if (st->st_mtim.tv_sec != f->mtime.tv_sec || st->st_mtim.tv_nsec != f->mtime.tv_nsec)
        return changed(f, "its modification time changed");
    return 0;
}

/* Check a file against its format (its header, its size); every message
 * names the file and the field. Only the header is read here. */
static int check_file(const struct imp *x, struct imp_file *f)
{
    struct stat st;
    int fd = open_file(f, false, &st);
    if (fd < 0)
        return fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->size = (uint64_t)st.st_size;
    f->mtime = st.st_mtim;
    char tp[1024];   /* the file, as term_text shows it */
    term_text(f->path, tp, sizeof(tp));
    const uint64_t hsz = 4 * PT_LLMC_HEADER_INTS;
    unsigned char h[4 * PT_LLMC_HEADER_INTS];
    int ret = read_full(fd, f, h, f->size < hsz ? (size_t)f->size : hsz, 0);
    close(fd);
    if (ret)
        return ret;
    if (x->format == IMP_NANOGPT) {
        if (f->size % 2)
            return ingot_fail(INGOT_E_FORMAT, "%s: %" PRIu64 " byte%s, an odd number: not "
                              "raw uint16 tokens (is it llm.c's format? --format llmc)", tp,
                              f->size, f->size == 1 ? "" : "s");
        /* nanoGPT files have no header; llm.c's magic at the start means
         * the wrong --format was given. */
        if (f->size >= hsz && (rd_i32(h) == PT_LLMC_MAGIC_GPT2 ||
                               rd_i32(h) == PT_LLMC_MAGIC_LLAMA3))
            return ingot_fail(INGOT_E_FORMAT, "%s: starts with llm.c's magic %d: use --format "
                              "llmc", tp, rd_i32(h));
        f->hdr = 0;
        f->width = 2;
        f->n_tokens = f->size / 2;
        return 0;
    }
    if (f->size < hsz)
        return ingot_fail(INGOT_E_FORMAT, "%s: %" PRIu64 " byte%s, shorter than llm.c's %"
                          PRIu64 "-byte header (a nanoGPT file? --format nanogpt)", tp, f->size,
                          f->size == 1 ? "" : "s", hsz);
    int32_t magic = rd_i32(h), version = rd_i32(h + 4), count = rd_i32(h + 8);
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
    f->hdr = hsz;
    f->n_tokens = (uint64_t)count;
    return 0;
}

static uint32_t token_in(const unsigned char *p, unsigned width)
{
    return width == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)rd_i32(p);
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

/* The document read so far (x->buf) of file fi, as document number doc
 * (1-based) of that file. */
static int emit_doc(struct imp *x, uint32_t fi, uint64_t doc)
{
    struct imp_file *f = &x->files[fi];
    if (x->delay_ms > 0)
        usleep((useconds_t)x->delay_ms * 1000);
    int ret = check_interrupt(x);
    if (ret)
        return ret;
    uint32_t s = f->split;
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
    if ((ret = shard_writer_add_doc(x->open[s], x->buf, x->n_buf, fi, doc)))
        return ret;
    f->n_docs++;
    f->out_tokens += x->n_buf;
    x->n_buf = 0;
    if (shard_writer_n_tokens(x->open[s]) >= x->shard_tokens)
        return finish_shard(x, s);
    return 0;
}

/* Room for one more token in the document (at most --max-doc-tokens). */
static int grow_doc(struct imp *x)
{
    size_t cap = x->buf_cap ? 2 * x->buf_cap : (size_t)1 << 16;
    if (cap > x->max_doc)
        cap = (size_t)x->max_doc;
    uint32_t *nb = realloc(x->buf, cap * sizeof(*nb));
    if (!nb)
        return ingot_oom("a document (--max-doc-tokens bounds it)", cap * sizeof(*nb));
    x->buf = nb;
    x->buf_cap = cap;
    return 0;
}

/* Token t, number i of file fi, into the document being read: documents are
 * cut at the EOT id (before or after it), and every max_doc tokens. */
static int take_token(struct imp *x, uint32_t fi, uint64_t i, uint32_t t, uint64_t *doc)
{
    int ret;
    if (t >= x->base.vocab_size) {
        char tp[1024];
        return ingot_fail(INGOT_E_CORRUPT, "%s: token #%" PRIu64 " is %u, not below the "
                          "vocabulary size %u (the wrong --vocab or --tokenizer?)",
                          term_text(x->files[fi].path, tp, sizeof(tp)), i, t,
                          x->base.vocab_size);
    }
    const bool eot = x->eot >= 0 && t == (uint64_t)x->eot;
    if (eot && !x->eot_after && x->n_buf && (ret = emit_doc(x, fi, (*doc)++)))
        return ret;
    if (x->n_buf == x->buf_cap && (ret = grow_doc(x)))
        return ret;
    x->buf[x->n_buf++] = t;
    if ((eot && x->eot_after) || x->n_buf == x->max_doc)
        return emit_doc(x, fi, (*doc)++);
    return 0;
}

/* One file's token stream, read in chunks, cut into documents. The file
 * must still be the one checked, at the start and at the end. */
static int import_file(struct imp *x, uint32_t fi)
{
    struct imp_file *f = &x->files[fi];
    if (!f->n_tokens)
        return 0;
    struct stat st;
    int fd = open_file(f, true, &st);
    if (fd < 0)
        return fd;
    int ret = still_same(f, &st);
    const size_t per = IMP_CHUNK / f->width;
    uint64_t doc = 1;
    x->n_buf = 0;
    for (uint64_t i = 0; i < f->n_tokens && !ret;) {
        const size_t n = f->n_tokens - i < per ? (size_t)(f->n_tokens - i) : per;
        if ((ret = check_interrupt(x)) ||
            (ret = read_full(fd, f, x->chunk, n * f->width, f->hdr + i * f->width)))
            break;
        if (!i)
            f->first_tok = token_in(x->chunk, f->width);
        if (i + n == f->n_tokens)
            f->last_tok = token_in(x->chunk + (n - 1) * f->width, f->width);
        for (size_t k = 0; k < n && !ret; k++, i++)
            ret = take_token(x, fi, i, token_in(x->chunk + k * f->width, f->width), &doc);
    }
    if (!ret && x->n_buf)
        ret = emit_doc(x, fi, doc);
    /* truncated after its last read, or rewritten in place meanwhile */
    if (!ret && fstat(fd, &st)) {
        int e = errno;
        char tp[1024];
        ret = ingot_fail(-e, "%s: fstat failed: %s", term_text(f->path, tp, sizeof(tp)),
                         strerror(e));
    }
    if (!ret)
        ret = still_same(f, &st);
    close(fd);
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
    x->tok_copied = !ret && x->tokenizer;
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

/* Every shard written (the open ones' temp files too) and the tokenizer
 * copy: nothing of a failed import is kept. */
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
    /* this run's own copy (OUT held none before: pt_outdir_refuse) */
    char *tk = x->tok_copied ? fs_path_join(x->out, INGOT_TOKENIZER_NAME) : NULL;
    if (tk)
        unlink(tk);
    free(tk);
    fs_fsync_dir(x->out);
}

/* Without --eot each file became one document (cut into pieces of
 * --max-doc-tokens, when longer): name the id that most likely marks the
 * files' documents. A file first in a split that starts with the
 * tokenizer's BOS (ingot-dump export-bin of a pretok dataset) or ends with
 * its EOS says which; else GPT-2's, llm.c's usual case. */
static void note_no_eot(const struct imp *x)
{
    const struct imp_file *f = NULL;
    size_t cut = 0;     /* files longer than --max-doc-tokens, cut into pieces */
    uint64_t docs = 0;
    for (size_t i = 0; i < x->n_files; i++) {
        if (x->files[i].n_tokens && !f)
            f = &x->files[i];
        cut += x->files[i].n_docs > 1;
        docs += x->files[i].n_docs;
    }
    int32_t bos = x->base.bos_id, eos = x->base.eos_id;
    char pre[320];
    if (!cut)
        snprintf(pre, sizeof(pre), "ingot-pretok import-bin: note: each file is one document;");
    else
        snprintf(pre, sizeof(pre), "ingot-pretok import-bin: note: without --eot each file is "
                 "one document, cut into pieces of --max-doc-tokens %" PRIu64 " (%zu of %zu "
                 "file%s cut, %" PRIu64 " document%s in all);", x->max_doc, cut, x->n_files,
                 x->n_files == 1 ? "" : "s", docs, docs == 1 ? "" : "s");
    char tf[1024], tt[1024];
    if (f && x->tokenizer) {
        term_text(f->path, tf, sizeof(tf));
        term_text(x->tokenizer, tt, sizeof(tt));
    }
    if (f && x->tokenizer && bos >= 0 && f->first_tok == (uint32_t)bos)
        fprintf(stderr, "%s %s starts with %d, the BOS of %s: --eot %d cuts documents before "
                "it%s\n", pre, tf, bos, tt, bos,
                x->format == IMP_NANOGPT ? " with --eot-position before" : "");
    else if (f && x->tokenizer && eos >= 0 && f->last_tok == (uint32_t)eos)
        fprintf(stderr, "%s %s ends with %d, the EOS of %s: --eot %d cuts documents after "
                "it%s\n", pre, tf, eos, tt, eos,
                x->format == IMP_LLMC ? " with --eot-position after" : "");
    else
        fprintf(stderr, "%s --eot ID cuts documents at the end-of-text id (GPT-2's: 50256)\n",
                pre);
}

/* OUT made (when missing), locked and checked as a conversion's: nothing in
 * it that this command did not write is written over. *lock: the lock's fd,
 * or -1. */
static int prepare_out(struct imp *x, char ***made, bool *out_made, int *lock)
{
    int ret = fs_mkdir_p_made(x->out, made, out_made);
    if (ret)
        return ret;
    /* before anything in OUT is looked at: a second import or conversion
     * into it would race on the same shard names */
    if ((*lock = pt_lock_acquire(x->out)) < 0)
        return *lock;
    struct pt_outdir sc;
    if ((ret = pt_outdir_scan(x->out, &sc)))
        return ret;
    return pt_outdir_refuse(x->out, &sc, false, x->tokenizer ? "--tokenizer" : NULL);
}

int pt_import_bin(int argc, char **argv, volatile sig_atomic_t *interrupt)
{
    struct imp x = { .interrupt = interrupt };
    char **made = NULL;     /* the directories this run created for OUT */
    bool out_made = false;
    int lock = -1;
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
        ret = check_file(&x, &x.files[i]);
    if (!ret)
        ret = check_duplicates(&x);
    if (!ret && !(x.chunk = malloc(IMP_CHUNK)))
        ret = ingot_oom("the read buffer", IMP_CHUNK);
    if (!ret)
        ret = prepare_out(&x, &made, &out_made, &lock);
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
    if (ret && lock >= 0) {
        remove_written(&x);
        /* OUT, when this run made it and it holds nothing else now (its
         * lock at most), and the parents it made */
        static const char *const ours[] = { INGOT_TOKENIZER_NAME, PT_LOCK_NAME };
        if (made)
            pt_out_abandon(x.out, made, out_made, lock, ours, sizeof(ours) / sizeof(ours[0]));
        else
            pt_lock_release(lock);
    } else if (!ret && !x.quiet) {
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
    if (!ret)
        pt_lock_release(lock);
    free(x.files);
    free(x.buf);
    free(x.chunk);
    manifest_free(x.m);
    fs_free_list(made);
    return ret;
}
