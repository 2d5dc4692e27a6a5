/* What a rerun into an existing --out finds there, before anything is
 * written: whether the finished shards its resume state lists are still
 * the bytes that were written (re-hashed in full), and, when the state was
 * made with other options, inputs or model, exactly what changed. */
#ifndef INGOT_PT_RESUME_H
#define INGOT_PT_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "pt_state.h"

/* The identity of this run, compared with the state's. */
struct pt_run_id {
    uint64_t options_hash, model_hash, inputs_hash, mtimes_hash;
    const char *options_text;       /* "--key value" lines */
    const char *model_path;
    const char *const *input_names; /* n_inputs */
    const uint64_t *input_sizes;
    const int64_t *input_mtimes;    /* modification times, ns since the epoch */
    size_t n_inputs;
    uint32_t part_k, part_n;
};

/* Re-hash every finished shard of st in out_dir (tokens, index and
 * provenance against the header, the header against the state). Returns 0
 * when all agree, 1 when one does not (missing, changed, unreadable: the
 * message names the shard and what differs), or -ENOMEM. */
int pt_resume_check_shards(const char *out_dir, const struct pt_state *st);

/* For merge: what differs between the states of two parts whose merge
 * hashes do (the model, each option as "--key b (was a)", the input list),
 * as malloc'd text in *out ("" when the states do not record it). 0 or
 * -ENOMEM. */
int pt_resume_parts_differ(const struct pt_state *a, const struct pt_state *b, char **out);

/* The refusal of a rerun whose options hash differs from st's: names what
 * changed (model, each option, the input list and its first difference,
 * --part), says that the data in out_dir is complete (or how to finish
 * it) and was left as it is. Returns INGOT_E_MISMATCH (message recorded)
 * or -ENOMEM. */
int pt_resume_mismatch(const char *out_dir, const struct pt_state *st,
                       const struct pt_run_id *now);

#endif
