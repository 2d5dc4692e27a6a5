/* Command-line options of `ingot-pretok` (convert), `ingot-pretok text` and
 * `ingot-pretok merge`. */
#ifndef INGOT_PT_CLI_H
#define INGOT_PT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pt_producer.h"
#include "pt_writer.h"

enum pt_command { PT_CMD_CONVERT, PT_CMD_TEXT, PT_CMD_MERGE, PT_CMD_IMPORT, PT_CMD_HELP,
                  PT_CMD_VERSION };

struct pt_opts {
    enum pt_command cmd;
    const char *model, *out;
    bool encoder_spm;           /* --encoder spm: libsentencepiece, not Ingot's */
    char **inputs;              /* positional arguments (argv slices) */
    size_t n_inputs;
    unsigned threads;           /* workers; default: all cores */
    uint64_t shard_tokens;
    enum pt_val_mode val_mode;
    double val_fraction;
    uint64_t val_docs;
    int bos, eos;               /* -1: from the model, 0: no, 1: yes */
    bool on_error_fail;
    bool invalid_utf8_skip;
    const char *text_key;
    enum pt_format stdin_format; /* "-": JSON Lines (default) or text */
    enum pt_txt_doc txt_doc;
    unsigned part_k, part_n;    /* 0/0: no --part */
    bool quiet, json;
    uint64_t max_record;
    double max_skip_fraction;   /* fail when more records than this share are skipped */
    bool allow_damaged;         /* --allow-damaged-inputs: damaged input files do not fail */
    const char *allocator;      /* for the report; set by main() (pt_alloc.h) */
    /* text command */
    uint64_t max_bytes;         /* stop after this much text (0: all) */
    uint64_t every;             /* keep one document in `every` */
    uint64_t sample_bytes;      /* text: an even sample of N to 2N bytes (0: off) */
    int argc;
    char **argv;
};

/* Parse argv. Returns 0 or INGOT_E_USAGE (message says what is wrong). The
 * opts keep pointers into argv. */
int pt_cli_parse(int argc, char **argv, struct pt_opts *o);
/* The --help text. */
void pt_cli_usage(FILE *f);

#endif
