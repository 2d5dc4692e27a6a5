/* The --out directory of a new conversion or import-bin, after the lock
 * (pt_lock.h) is taken: what an earlier run left there, and what the
 * command must refuse to write over. One check for both commands, so that
 * neither replaces a file it did not write (a tokenizer.model, another
 * dataset's shards). */
#ifndef INGOT_PT_OUTDIR_H
#define INGOT_PT_OUTDIR_H

#include <stdbool.h>

/* What pt_outdir_scan found in OUT besides temporary files. */
struct pt_outdir {
    bool has_manifest;      /* manifest.json: a dataset */
    bool has_shards;        /* *.tok */
    bool has_tok;           /* a tokenizer.model */
    bool has_state;         /* a conversion's resume state */
    bool merged;            /* manifest.merged.json: a part that merge moved away */
    char run_file[256];     /* a training run's file (its checkpoints, lock,
                               config.json), or "" */
};

/* Scan OUT (locked by the caller): remove the temporary files of an earlier
 * run (shards, state, manifest, the tokenizer copy: a kill -9 mid-write
 * leaves them); report the rest in *sc. 0, or -errno with the message
 * naming OUT. */
int pt_outdir_scan(const char *out, struct pt_outdir *sc);

/* Refuse an OUT that holds what this command must not write into: a part
 * that merge already moved, a training run's or exported model's directory;
 * and, unless own (OUT holds this command's own resume state), a dataset,
 * shards, another conversion's resume state or a tokenizer.model.
 * model_opt names the option whose model the command would copy there
 * ("--model"), NULL when it copies none. Returns 0 or INGOT_E_USAGE (exit
 * 2) with a message that names OUT, what it holds and what to do. */
int pt_outdir_refuse(const char *out, const struct pt_outdir *sc, bool own,
                     const char *model_opt);

#endif
