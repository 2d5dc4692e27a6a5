/* The final report of a conversion: human-readable on stderr, or JSON on
 * stdout with --json. Counts cover the whole dataset (earlier runs of a
 * resumed conversion included); times and rates cover this run. */
#ifndef INGOT_PT_REPORT_H
#define INGOT_PT_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pt_input.h"
#include "pt_pipeline.h"
#include "pt_state.h"

struct pt_report {
    const char *out_dir;
    const struct pt_inputs *inputs;         /* the full list */
    size_t part_first, part_end;            /* the files of this run's part */
    const struct pt_state *st;
    const struct pt_pipeline_stats *ps;     /* NULL when nothing ran */
    uint64_t shards_this_run;
    unsigned threads;
    const char *allocator;                  /* the malloc in use (never NULL) */
    bool resumed, already_done;
    bool damaged_accepted;                  /* --allow-damaged-inputs */
    uint64_t input_bytes;                   /* of the part */
    int32_t unk_id;                         /* the model's unknown id, -1 none */
};

/* Warn above this share of unknown tokens: the model does not cover the
 * corpus (another script, or a model trained on other text). */
#define PT_UNK_WARN_SHARE 0.01

/* Damaged input files listed in the text report and in the failure of a
 * run that did not accept them (the JSON report and the manifest list all). */
#define PT_REPORT_DAMAGED_LIST 20

void pt_report_print(FILE *f, const struct pt_report *r);
/* The report's losses alone: skipped and repaired records by reason, the
 * damaged input files, the first cases (for a failure under --quiet). */
void pt_report_print_skips(FILE *f, const struct pt_report *r);
/* The damaged input files of the part, at most PT_REPORT_DAMAGED_LIST, one
 * per line with its damage and the documents kept from it, then "... and N
 * more". Returns how many there are. */
size_t pt_report_print_damaged(FILE *f, const struct pt_report *r, const char *indent);
/* The share of unknown tokens of the whole dataset, and a warning on f when
 * it is above PT_UNK_WARN_SHARE (printed even under --quiet). */
double pt_report_unk_share(const struct pt_report *r);
void pt_report_warn_unk(FILE *f, const struct pt_report *r);
/* Print the report as JSON on f and flush it: 0, -ENOMEM, or the -errno of
 * a failed write (a full disk, a closed pipe; no message: the caller names
 * what was lost). */
int pt_report_json(FILE *f, const struct pt_report *r);
/* --json when the command failed before a report: {"out", "error", "exit"}
 * on f, so that a script reading stdout always gets one object. Nothing when
 * pt_report_json() already printed the report (a failure after it, such as
 * --max-skip-fraction, is in the exit status and on stderr). */
void pt_report_json_error(FILE *f, const char *out_dir, const char *error, int exit_status);

#endif
