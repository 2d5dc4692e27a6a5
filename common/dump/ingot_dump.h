/* Internals of ingot-dump shared by its source files: what PATH is (one
 * shard or a dataset directory) and which shards a command walks. */
#ifndef INGOT_DUMP_H
#define INGOT_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "shard_reader.h"
#include "spm_shim.h"

/* Parsed command line. */
struct dump_opts {
    const char *cmd;
    const char *path;
    const char *split;        /* NULL: the command's default */
    const char *model;
    const char *range;
    uint64_t first, count;    /* count UINT64_MAX: all */
    uint64_t top;
    bool json, ids, raw;
    bool brief;               /* info: counts only, no shard or input lists */
    bool quiet;               /* verify, stats, export-bin: no progress or summary lines */
    uint64_t max_list;        /* info: list at most this many inputs/shards */
    const char *out;          /* export-bin: the .bin file */
    const char *format;       /* export-bin: llmc (default) or nanogpt */
    uint32_t given;           /* the options given: bit (option id - the first) */
    /* path and out as messages show them: through term_text() */
    char path_shown[1024], out_shown[1024];
};

struct dump_src {
    const char *path;
    char shown[1024];              /* path through term_text(), for messages */
    struct dataset *ds;            /* PATH is a dataset directory */
    shard_reader *single;          /* PATH is one shard file */
    struct manifest *side;         /* manifest.json next to a single shard, if any */
    shard_reader **sel;            /* selected shards, dataset order */
    size_t n_sel;
    uint64_t sel_docs, sel_tokens;
};

/* Open PATH (a shard or a dataset directory); verify=true recomputes every
 * checksum. Errors name the file and the field. */
int dump_src_open(const char *path, bool verify, struct dump_src *s);
/* Select shards: "train", "val" or "all"; NULL means train for a dataset
 * and the shard itself for a single shard. */
int dump_src_select(struct dump_src *s, const char *split);
/* 0, or INGOT_E_NODATA naming PATH and the split when the selection holds
 * no token (no shard of the split, or only empty ones): nothing to report
 * or write; what ends the message ("to export"). split as dump_src_select. */
int dump_src_need_tokens(const struct dump_src *s, const char *split, const char *what);
/* Load the tokenizer (--model or the manifest's); its hash must match the
 * shards'. A dataset or shard that records none (tokenizer hash 0: ids
 * only) takes a model of its vocab_size pieces, saying on stderr that
 * nothing more could be checked. */
int dump_src_model(const struct dump_src *s, const char *model, ingot_spm **out);
/* Name of input file_index for messages, its control bytes as '?' (term_text;
 * "input #3" when unknown), in buf or the manifest's. */
const char *dump_src_input_name(const struct dump_src *s, uint32_t file_index, char *buf,
                                size_t len);
/* Special ids of the selection (from the first shard or the manifest). */
void dump_src_specials(const struct dump_src *s, int32_t *bos, int32_t *eos, int32_t *unk);
void dump_src_close(struct dump_src *s);

/* Remove path (NULL: nothing) if a signal (SIGINT, SIGTERM, SIGBUS) ends
 * the program: export-bin's temporary file. path must stay valid until it
 * is replaced by NULL. */
void dump_remove_on_signal(const char *path);

/* 0, or the recorded error when a write to standard output has failed (its
 * error flag is set; errno still holds the write's error): a listing stops
 * at once on a full disk instead of decoding the rest for nothing. */
int dump_stdout_failed(void);

/* The piece tokens and stats show for an id at or past the shards'
 * vocabulary (a damaged shard, or one of another tokenizer). */
#define DUMP_OUT_OF_VOCAB "<out-of-vocab>"
/* The error after such a listing: n ids of the selection out of a vocab of
 * vocab ids, the first id at token position pos of the selection, in
 * shard (as shown). Exit 1, as for corrupt data. */
int dump_out_of_vocab(uint64_t n, uint32_t vocab, uint32_t id, uint64_t pos, const char *shard);

int dump_info(const struct dump_opts *o);
int dump_verify(const struct dump_opts *o);
int dump_docs(const struct dump_opts *o);
int dump_tokens(const struct dump_opts *o);
int dump_stats(const struct dump_opts *o);
int dump_export_bin(const struct dump_opts *o);

#endif
