/* Why pretok skipped a record or file, or what it repaired or noted in one.
 * Skips lose data and are fatal under --on-error fail; repairs ("fixed_*")
 * and notes on the file's form (crlf_line, blank_line, no_final_newline)
 * lose nothing and are only counted. The names are stored in the manifest
 * (inputs[].skips), so the one list lives here: ingot-pretok counts and
 * writes them, ingot-dump info tells skips from repairs and notes by them.
 * Damage is the file-level subset of the skips (a file that could not be
 * read or decompressed to its end): under --on-error skip it fails the run
 * at its end unless --allow-damaged-inputs accepts it. */
#ifndef INGOT_SKIP_REASON_H
#define INGOT_SKIP_REASON_H

#include <stdbool.h>
#include <stdint.h>

enum skip_reason {
    /* skips */
    SKIP_R_MALFORMED_JSON,
    SKIP_R_MISSING_TEXT,
    SKIP_R_TEXT_NOT_STRING,
    SKIP_R_INVALID_UTF8,
    SKIP_R_LONE_SURROGATE,
    SKIP_R_EMPTY_TEXT,
    SKIP_R_RECORD_TOO_LARGE,
    SKIP_R_UNREADABLE_FILE,
    SKIP_R_NOT_REGULAR_FILE,     /* a FIFO, socket or device: never read */
    SKIP_R_EMPTY_FILE,
    SKIP_R_NOT_ZSTD,
    SKIP_R_CORRUPT_ZSTD,
    SKIP_R_TRUNCATED_ZSTD,
    SKIP_R_NOT_GZIP,
    SKIP_R_CORRUPT_GZIP,
    SKIP_R_TRUNCATED_GZIP,
    /* repairs and notes: nothing lost */
    SKIP_R_INVALID_UTF8_REPLACED,
    SKIP_R_LONE_SURROGATE_REPLACED,
    SKIP_R_NUL_REMOVED,
    SKIP_R_BOM_REMOVED,
    SKIP_R_CRLF_LINE,
    SKIP_R_BLANK_LINE,
    SKIP_R_NO_FINAL_NEWLINE,
    SKIP_R__COUNT
};

/* The reason's name as stored in the manifest; "?" for none. */
const char *skip_reason_name(int reason);
/* A skip: the record or file is lost (not a repair or a note). */
bool skip_reason_is_skip(int reason);
/* A damaged or unreadable input file: unreadable_file, not_regular_file,
 * not_/corrupt_/truncated_zstd and _gzip (not empty_file: nothing of it is
 * lost). At most one per file: reading the file stops there. */
bool skip_reason_is_damage(int reason);
/* Reason by name, or -1. */
int skip_reason_parse(const char *name);
/* Whether a manifest's reason name (inputs[].skips, the reason in a
 * skip_examples line) lost nothing: a repair or a note of this list, or any
 * "fixed_*" (the prefix of every repair, those of a newer pretok too).
 * Any other name, unknown ones included, is a skip. */
bool skip_reason_name_noted(const char *name);
/* The share of records skipped (skipped of skipped + docs; 0 for none), as
 * --max-skip-fraction compares it, and the value of that option which
 * accepts it (a hair above, at most 1) that the messages suggest. */
double skip_share(uint64_t skipped, uint64_t docs);
/* ingot-pretok's default --max-skip-fraction. */
#define SKIP_DEFAULT_MAX_FRACTION 0.01
double skip_accept_fraction(double share);

#endif
