/* ingot-dump export-bin: the token stream of a split (its documents in
 * dataset order, BOS/EOS ids as stored) as llm.c's .bin file (256 x int32
 * header: magic 20240520, version 1, token count; then uint16 tokens; a
 * vocabulary above 65536 ids: magic 20240801, version 7, uint32 tokens) or
 * nanoGPT's (raw uint16). The inverse of `ingot-pretok import-bin`. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_dump.h"
#include "ingot_err.h"
#include "term_text.h"

/* llm.c's GPT-2 files (uint16) and its LLaMA-3 files (uint32), the two that
 * import-bin reads */
enum { LLMC_HEADER_INTS = 256, LLMC_MAGIC = 20240520, LLMC_VERSION = 1,
       LLMC_MAGIC_U32 = 20240801, LLMC_VERSION_U32 = 7, CHUNK = 1 << 16 };

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* The selection's tokens as little-endian uint16 (width 2) or uint32 into fd. */
static int write_tokens(const struct dump_src *s, int fd, const char *tmp, unsigned width)
{
    uint32_t *ids = malloc(CHUNK * sizeof(*ids));
    unsigned char *out = malloc(CHUNK * 4);
    int ret = 0;
    if (!ids || !out) {
        ret = ingot_oom("the export buffer", CHUNK * 6);
        goto done;
    }
    for (size_t k = 0; k < s->n_sel && !ret; k++) {
        uint64_t n = shard_reader_n_tokens(s->sel[k]);
        /* ids past the vocabulary would index past llm.c's embedding table
         * (the checksums cannot tell: a writer's bug, not a flipped bit) */
        const uint32_t vocab = shard_reader_header(s->sel[k])->vocab_size;
        for (uint64_t at = 0; at < n && !ret; at += CHUNK) {
            size_t m = n - at < CHUNK ? (size_t)(n - at) : CHUNK;
            shard_reader_copy_u32(s->sel[k], at, m, ids);
            for (size_t i = 0; i < m; i++) {
                if ((width == 2 && ids[i] > 0xFFFF) || ids[i] >= vocab) {
                    ret = ingot_fail(INGOT_E_CORRUPT, "%s: token #%" PRIu64 " is %u, beyond "
                                     "%s", shard_reader_shown(s->sel[k]), at + i, ids[i],
                                     ids[i] >= vocab ? "the vocabulary" : "uint16");
                    goto done;
                }
                if (width == 4)
                    put_u32(out + 4 * i, ids[i]);
                else {
                    out[2 * i] = (unsigned char)ids[i];
                    out[2 * i + 1] = (unsigned char)(ids[i] >> 8);
                }
            }
            ret = fs_write_full(fd, out, width * m, tmp);
        }
    }
done:
    free(ids);
    free(out);
    return ret;
}

/* The file has no document index: say which id marks the documents (the
 * first document's BOS, the last one's EOS, as pretok stored them), and so
 * how import-bin cuts them again (not when quiet), or that nothing marks
 * them (a loss, said also when quiet). */
static void note_boundaries(const struct dump_src *s, bool llmc, bool quiet)
{
    int32_t bos, eos, unk;
    dump_src_specials(s, &bos, &eos, &unk);
    const shard_reader *first = NULL, *last = NULL;
    for (size_t k = 0; k < s->n_sel; k++)
        if (shard_reader_n_tokens(s->sel[k])) {
            last = s->sel[k];
            first = first ? first : last;
        }
    if (!first)
        return;
    const char *fmt = llmc ? "llmc" : "nanogpt";
    /* the vocabulary argument import-bin needs: the model that decodes the
     * shards, whenever the manifest (the dataset's, or the one beside a
     * lone shard) names one, found as docs finds it (--vocab alone makes a
     * dataset that nothing decodes) */
    char voc[4200];
    const struct manifest *m = s->ds ? s->ds->manifest : s->side;
    if (m && m->tokenizer.file && m->tokenizer.file[0] && m->tokenizer.hash) {
        char *dir = NULL, *found = NULL;
        if (s->ds) {
            dir = strdup(s->ds->dir);
        } else {   /* the shard's directory, "" beside it: "tokenizer.model" */
            const char *slash = strrchr(s->path, '/');
            dir = slash ? strndup(s->path, (size_t)(slash - s->path + 1)) : strdup("");
        }
        char tf[1024];
        if (dir && dataset_tokenizer_pick(dir, &m->tokenizer, &found, NULL) == 0)
            snprintf(voc, sizeof(voc), "--tokenizer %s", term_text(found, tf, sizeof(tf)));
        else   /* gone or replaced: named by its hash, not a path that holds another */
            snprintf(voc, sizeof(voc), "--tokenizer M.model (the model of hash %016llx the "
                     "shards were made with: %s names %s, not found with that hash)",
                     (unsigned long long)m->tokenizer.hash, INGOT_MANIFEST_NAME,
                     term_text(m->tokenizer.file, tf, sizeof(tf)));
        ingot_clear_err();
        free(found);
        free(dir);
    } else {
        snprintf(voc, sizeof(voc), "--vocab %u", shard_reader_header(first)->vocab_size);
    }
    bool bos_first = bos >= 0 && shard_reader_token(first, 0) == (uint32_t)bos;
    bool eos_last = eos >= 0 && shard_reader_token(last, shard_reader_n_tokens(last) - 1) ==
                                    (uint32_t)eos;
    if (quiet && (bos_first || eos_last))
        return;
    if (bos_first)
        fprintf(stderr, "ingot-dump export-bin: each document starts with BOS %d; back in: "
                "ingot-pretok import-bin --format %s %s --eot %d%s\n", bos, fmt, voc, bos,
                llmc ? "" : " --eot-position before");
    else if (eos_last)
        fprintf(stderr, "ingot-dump export-bin: each document ends with EOS %d; back in: "
                "ingot-pretok import-bin --format %s %s --eot %d%s\n", eos, fmt, voc, eos,
                llmc ? " --eot-position after" : "");
    else
        fprintf(stderr, "ingot-dump export-bin: note: no BOS or EOS id marks the documents "
                "(the first does not start with a BOS, the last does not end with an EOS), and "
                "the file keeps no document index: their boundaries are lost in it\n");
}

/* Under a directory whose entries are the system's (devices, the kernel's
 * files), by the real path of --out's directory: the name of that
 * directory, or NULL. /dev/shm is a tmpfs for ordinary files. */
static const char *system_dir(const char *out)
{
    const char *slash = strrchr(out, '/');
    char *dir = slash == out ? strdup("/") :
                slash ? strndup(out, (size_t)(slash - out)) : strdup(".");
    char real[PATH_MAX];
    const char *sys = NULL;
    if (dir && realpath(dir, real)) {
        static const char *const dirs[] = { "/dev", "/proc", "/sys" };
        for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs) && !sys; i++) {
            size_t n = strlen(dirs[i]);
            if (!strncmp(real, dirs[i], n) && (!real[n] || real[n] == '/'))
                sys = dirs[i];
        }
        if (sys && !strcmp(sys, "/dev") && (!strcmp(real, "/dev/shm") ||
                                            !strncmp(real, "/dev/shm/", 9)))
            sys = NULL;
    }
    free(dir);
    return sys;
}

/* --out names a file that export-bin may replace by a rename: none yet, or a
 * regular file. Not a symbolic link (the rename replaced the link with a
 * regular file: as root, /dev/stdout), nor a device, FIFO or directory, nor
 * anything under /dev, /proc or /sys. */
static int check_out(const struct dump_opts *o)
{
    const char *out = o->out;
    size_t n = strlen(out);
    if (!n)
        return ingot_fail(INGOT_E_USAGE, "--out is empty: give the .bin file to write (or - "
                          "for standard output)");
    if (out[n - 1] == '/')
        return ingot_fail(INGOT_E_USAGE, "--out %s: ends with '/', a directory; give the file "
                          "to write, e.g. --out %strain.bin", o->out_shown, o->out_shown);
    struct stat st;
    if (lstat(out, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX], tt[1024];
            ssize_t len = readlink(out, target, sizeof(target) - 1);
            target[len > 0 ? len : 0] = '\0';
            return ingot_fail(INGOT_E_USAGE, "--out %s: is a symbolic link (to %s); export-bin "
                              "renames a new file into place, which would replace the link, "
                              "not write where it points: give the file itself (or - for "
                              "standard output)", o->out_shown,
                              len > 0 ? term_text(target, tt, sizeof(tt)) : "?");
        }
        if (!S_ISREG(st.st_mode))
            return ingot_fail(INGOT_E_USAGE, "--out %s: is %s, not a regular file; export-bin "
                              "replaces only a regular file (give a file's name, or - for "
                              "standard output)", o->out_shown, fs_file_kind(st.st_mode));
    } else if (errno != ENOENT) {
        int e = errno;
        return ingot_fail(-e, "--out %s: cannot be created: %s%s", o->out_shown, strerror(e),
                          e == ENOTDIR ? " (a directory on its path is a file)" : "");
    }
    const char *sys = system_dir(out);
    if (sys)
        return ingot_fail(INGOT_E_USAGE, "--out %s: in %s, whose entries are %s, not files to "
                          "replace; write the file elsewhere (or - for standard output)",
                          o->out_shown, sys, !strcmp(sys, "/dev") ? "devices" :
                          "the kernel's");
    return 0;
}

/* --out -: the file on standard output (a pipe, or a file the shell opened),
 * not to a terminal; no temporary file, so a failure may leave part of it. */
static int export_stdout(const struct dump_src *s, bool llmc, unsigned width)
{
    if (isatty(STDOUT_FILENO))
        return ingot_fail(INGOT_E_USAGE, "--out -: standard output is a terminal; redirect it "
                          "to a file or a pipe (the tokens are binary)");
    int ret = 0;
    if (llmc) {
        unsigned char hdr[4 * LLMC_HEADER_INTS] = { 0 };
        put_u32(hdr, width == 4 ? LLMC_MAGIC_U32 : LLMC_MAGIC);
        put_u32(hdr + 4, width == 4 ? LLMC_VERSION_U32 : LLMC_VERSION);
        put_u32(hdr + 8, (uint32_t)s->sel_tokens);
        ret = fs_write_full(STDOUT_FILENO, hdr, sizeof(hdr), "standard output");
    }
    if (!ret)
        ret = write_tokens(s, STDOUT_FILENO, "standard output", width);
    return ret;
}

int dump_export_bin(const struct dump_opts *o)
{
    if (!o->out)
        return ingot_fail(INGOT_E_USAGE, "--out FILE.bin is required");
    bool llmc = !o->format || !strcmp(o->format, "llmc");
    char tf[1024];
    if (!llmc && strcmp(o->format, "nanogpt"))
        return ingot_fail(INGOT_E_USAGE, "--format %s: expected llmc or nanogpt",
                          term_text(o->format, tf, sizeof(tf)));
    const bool to_stdout = !strcmp(o->out, "-");
    int ret = to_stdout ? 0 : check_out(o);
    if (ret)
        return ret;
    struct dump_src s;
    ret = dump_src_open(o->path, false, &s);
    if (!ret)
        ret = dump_src_select(&s, o->split);
    if (!ret)
        ret = dump_src_need_tokens(&s, o->split, "to export");
    if (ret)
        goto out;
    uint32_t vocab = shard_reader_header(s.sel[0])->vocab_size;
    /* Above uint16: llm.c's uint32 files (its LLaMA-3 format), which
     * import-bin reads back; nanoGPT has no such variant. */
    unsigned width = vocab > 65536 ? 4 : 2;
    if (width == 4 && !llmc) {
        ret = ingot_fail(INGOT_E_USAGE, "%s: a vocabulary of %u ids does not fit nanoGPT's "
                         "uint16 tokens (ids 0..65535); --format llmc writes llm.c's uint32 "
                         "files (magic %d, version %d) instead", o->path_shown, vocab,
                         LLMC_MAGIC_U32, LLMC_VERSION_U32);
        goto out;
    }
    if (llmc && s.sel_tokens > INT32_MAX) {
        ret = ingot_fail(INGOT_E_USAGE, "%s: %" PRIu64 " tokens, more than llm.c's int32 token "
                         "count holds (2^31 - 1); export a smaller selection (--split) or use "
                         "--format nanogpt", o->path_shown, s.sel_tokens);
        goto out;
    }
    if (to_stdout) {
        if ((ret = export_stdout(&s, llmc, width)))
            goto out;
        goto done;
    }
    /* Never into the dataset being read (its shards and manifest are
     * pretok's), never over the shard being read. */
    struct stat st, in;
    int inside;
    if (s.ds) {
        inside = fs_is_entry_of(o->out, o->path);
    } else if (s.side) {   /* a shard with its manifest beside it: that dataset's */
        const char *slash = strrchr(o->path, '/');
        char *parent = slash ? strndup(o->path, (size_t)(slash - o->path + 1)) : strdup(".");
        if (!parent) {
            ret = ingot_oom("a path", strlen(o->path));
            goto out;
        }
        inside = fs_is_entry_of(o->out, parent);
        free(parent);
    } else {
        inside = stat(o->out, &st) == 0 && stat(o->path, &in) == 0 &&
                 st.st_dev == in.st_dev && st.st_ino == in.st_ino;
    }
    if (inside) {
        ret = ingot_fail(INGOT_E_USAGE, "--out %s: inside the input %s, whose files "
                         "it would replace; write it elsewhere", o->out_shown, o->path_shown);
        goto out;
    }
    /* a kill -9 (no handler runs) left OUT.tmp.<pid>, as large as the
     * export, beside OUT for good: removed once its writer is gone */
    int stale = 0;
    if (fs_remove_stale_temps_of(o->out, "--out", "export-bin", &stale))
        ingot_clear_err();   /* best effort: the export does not need it */
    if (stale)
        fprintf(stderr, "ingot-dump export-bin: removed %d stale temp file%s of a killed "
                "export-bin beside %s\n", stale, stale == 1 ? "" : "s", o->out_shown);
    /* Written next to the target and renamed into place: a reader never
     * sees half a file. */
    char *tmp = fs_temp_path(o->out);
    if (!tmp) {
        ret = ingot_oom("a path", strlen(o->out) + 32);
        goto out;
    }
    dump_remove_on_signal(tmp);     /* Ctrl-C leaves no temporary file */
    char tt[1024];   /* the temporary file in messages */
    term_text(tmp, tt, sizeof(tt));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0)
        fs_temp_claim(fd);   /* a sweep on another host leaves it */
    if (fd < 0) {
        dump_remove_on_signal(NULL);
        int e = errno;
        /* the user's --out first (it named the temporary file alone) */
        ret = ingot_fail(-e, "--out %s: cannot create its temporary file %s: %s%s",
                         o->out_shown, tt, strerror(e), e == ENOENT || e == ENOTDIR ?
                         " (is the directory there?)" : "");
        free(tmp);
        goto out;
    }
    if (llmc) {
        unsigned char hdr[4 * LLMC_HEADER_INTS] = { 0 };
        put_u32(hdr, width == 4 ? LLMC_MAGIC_U32 : LLMC_MAGIC);
        put_u32(hdr + 4, width == 4 ? LLMC_VERSION_U32 : LLMC_VERSION);
        put_u32(hdr + 8, (uint32_t)s.sel_tokens);
        ret = fs_write_full(fd, hdr, sizeof(hdr), tmp);
    }
    if (!ret)
        ret = write_tokens(&s, fd, tmp, width);
    if (!ret && fsync(fd)) {
        int e = errno;
        ret = ingot_fail(-e, "%s: fsync failed: %s", tt, strerror(e));
    }
    /* a file system that writes back late (NFS) reports a lost write here */
    if (close(fd) != 0 && !ret) {
        int e = errno;
        ret = ingot_fail(-e, "%s: close failed: %s", tt, strerror(e));
    }
    if (!ret && rename(tmp, o->out)) {
        int e = errno;
        ret = ingot_fail(-e, "%s: rename to %s failed: %s", tt, o->out_shown, strerror(e));
    }
    if (ret)
        unlink(tmp);
    dump_remove_on_signal(NULL);
    if (!ret)
        ret = fs_fsync_dir(o->out);
    free(tmp);
done:
    if (!ret) {
        if (!o->quiet)   /* the summary */
            fprintf(stderr, "ingot-dump export-bin: %s: %" PRIu64 " tokens of %zu shard%s (%s) "
                    "in %s's format%s\n", to_stdout ? "standard output" : o->out_shown,
                    s.sel_tokens, s.n_sel,
                    s.n_sel == 1 ? "" : "s", o->split ? o->split : s.single ?
                    ingot_split_name(shard_reader_header(s.single)->split) : "train",
                    llmc ? "llm.c" : "nanoGPT", width == 4 ? " (uint32 tokens: magic "
                    "20240801, version 7, as its LLaMA-3 files; its GPT-2 trainer reads only "
                    "uint16)" : "");
        note_boundaries(&s, llmc, o->quiet);
    }
out:
    dump_src_close(&s);
    return ret;
}
