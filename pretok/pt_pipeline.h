/* The threads of a conversion: one producer (read, decompress, split), N
 * workers (parse, tokenize) and one ordered writer, joined by a fixed pool
 * of batches (so memory stays bounded whatever the corpus size). The
 * calling thread watches for signals and draws the progress line. */
#ifndef INGOT_PT_PIPELINE_H
#define INGOT_PT_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "pt_producer.h"
#include "pt_worker.h"
#include "pt_writer.h"

struct pt_pipeline_cfg {
    struct pt_producer_cfg prod;    /* its stop field is set by the pipeline */
    const struct pt_tok_cfg *tok;
    pt_writer *writer;
    unsigned threads;
    bool progress;                  /* draw the progress line on stderr */
    double progress_log_s;          /* > 0: stderr is a log, not a terminal: one plain
                                       line each this many seconds instead */
    uint64_t total_bytes;           /* input bytes of the whole job (for %) */
};

struct pt_pipeline_stats {
    struct pt_producer_stats prod;
    double parse_s, tokenize_s, write_s, wall_s;
    uint64_t docs, tokens;          /* produced by this run */
    uint64_t text_bytes;            /* document text tokenized (a JSON record's field,
                                       decoded and repaired), the report's "of text" */
    bool abandoned;                 /* interrupted, and threads were still busy at
                                     * the deadline: they still use the writer and
                                     * the tokenizer, so the caller frees neither
                                     * and the process exits at once */
};

/* After SIGINT/SIGTERM every thread has this long to stop (the run ends
 * within a second whatever its threads are doing). */
#define PT_STOP_GRACE_S 0.7

/* Run until the input is exhausted (the writer is then ready for
 * pt_writer_finish()), an error (returned, message recorded), or *interrupt
 * becomes nonzero (returns INGOT_E_INTERRUPTED within PT_STOP_GRACE_S plus
 * one poll, st->abandoned set when threads had to be left running). */
int pt_pipeline_run(const struct pt_pipeline_cfg *cfg, volatile sig_atomic_t *interrupt,
                    struct pt_pipeline_stats *st);

#endif
