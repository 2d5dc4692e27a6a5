/* Why a record or file was skipped, or what was repaired in it. Skips lose
 * data and are fatal under --on-error fail; fixes lose nothing and are only
 * counted. The names are stored in the manifest (inputs[].skips) and shown
 * in the report. Damage is the file-level subset of the skips (a file that
 * could not be read or decompressed to its end): under --on-error skip it
 * fails the run at its end unless --allow-damaged-inputs accepts it. */
#ifndef INGOT_PT_REASON_H
#define INGOT_PT_REASON_H

#include <stdbool.h>

enum pt_reason {
    /* skips */
    PT_R_MALFORMED_JSON,
    PT_R_MISSING_TEXT,
    PT_R_TEXT_NOT_STRING,
    PT_R_INVALID_UTF8,
    PT_R_LONE_SURROGATE,
    PT_R_EMPTY_TEXT,
    PT_R_RECORD_TOO_LARGE,
    PT_R_UNREADABLE_FILE,
    PT_R_NOT_REGULAR_FILE,     /* a FIFO, socket or device: never read */
    PT_R_EMPTY_FILE,
    PT_R_NOT_ZSTD,
    PT_R_CORRUPT_ZSTD,
    PT_R_TRUNCATED_ZSTD,
    PT_R_NOT_GZIP,
    PT_R_CORRUPT_GZIP,
    PT_R_TRUNCATED_GZIP,
    /* fixes */
    PT_R_INVALID_UTF8_REPLACED,
    PT_R_LONE_SURROGATE_REPLACED,
    PT_R_NUL_REMOVED,
    PT_R_BOM_REMOVED,
    PT_R_CRLF_LINE,
    PT_R_BLANK_LINE,
    PT_R_NO_FINAL_NEWLINE,
    PT_R__COUNT
};

const char *pt_reason_name(int reason);
bool pt_reason_is_skip(int reason);
/* A damaged or unreadable input file: unreadable_file, not_regular_file,
 * not_/corrupt_/truncated_zstd and _gzip (not empty_file: nothing of it is
 * lost). At most one per file: reading the file stops there. */
bool pt_reason_is_damage(int reason);
/* Reason by name, or -1. */
int pt_reason_parse(const char *name);

#endif
