/* The encoder's counters of a conversion, for pretok's report: words, cache
 * hits (unigram: by the cached path or a Viterbi replay), the stage-2 bound
 * checks, and the thread-seconds of normalization and of the model. Summed
 * over the workers at the end of pt_pipeline_run(); a process runs one
 * pipeline, so the last run's counters are kept (pt_pipeline.c). */
#ifndef INGOT_PT_ENCSTATS_H
#define INGOT_PT_ENCSTATS_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "spm_encode.h"

struct pt_enc_stats {
    bool used;                  /* Ingot's encoder ran (not libsentencepiece) */
    const char *kind, *cut;     /* spe_model_kind(), spe_cut_name() */
    struct spe_stats s;         /* summed over the workers */
    double load_s, shared_s;    /* spe_load_times() */
};

/* The counters of the last pt_pipeline_run() of this process. */
void pt_pipeline_enc_stats(struct pt_enc_stats *out);
/* The run's time line (start-up, first batch, encoding, last write,
 * finish) and, when Ingot's encoder ran, two lines of its counters, on f. */
void pt_pipeline_enc_print(FILE *f);
/* The same as a JSON object (for "run": {"encoder": ...}, the time line
 * as its "timeline" object); NULL when libsentencepiece encoded, or out of
 * memory. */
json_t *pt_pipeline_enc_json(void);

#endif
