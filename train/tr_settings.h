/* A run's settings as data: what a checkpoint stores so that
 * `ingot-train --ckpt-dir D --resume` alone continues the run, what
 * --config FILE reads, and what D/config.json holds.
 *
 * The settings are a JSON object whose keys are the long flags
 * ("batch-tokens": 32768, "data": ["/abs/dir:1", ...]) plus "arch" (the
 * model family, "gpt2"), so that a later model adds keys without a new
 * format and a config.json is itself a valid --config file. Precedence,
 * lowest first: defaults and presets, the checkpoint's settings (--resume)
 * or --init-from's model shape, --config FILE, the command line. */
#ifndef INGOT_TR_SETTINGS_H
#define INGOT_TR_SETTINGS_H

#include "data_loader.h"
#include "tr_schedule.h"
#include "train_opts.h"

/* Resolve o from argv, --config FILE and, with --resume, the settings of the
 * newest checkpoint in --ckpt-dir (o->resume_path gets its path; with flags
 * that change them, o->settings_note names each: "lr 0.001 (checkpoint:
 * 0.0006)"), or with --init-from the checkpoint's model shape (o->init_path
 * gets that checkpoint's path, a --ckpt-dir's newest). Returns 0,
 * TR_OPTS_HELP, TR_OPTS_VERSION or an error (INGOT_E_USAGE for bad flags or
 * config files, naming the file and key). tr_opts_free() releases o. */
int tr_settings_resolve(int argc, char **argv, struct tr_opts *o);

/* The settings of o a new run can start from, as JSON object text
 * (malloc'd into *out): what was chosen, without the values a rule derived
 * from others (o->derived) and without the metrics path. */
int tr_settings_json(const struct tr_opts *o, char **out);

/* A checkpoint's settings section: {"settings": {...}, "data_position":
 * {"windows": N, "sources": [{"epoch", "index", "windows", "content"},
 * ...]}, "world_size": W} (malloc'd into *out). content: each source's
 * tr_loader_source_id() (pos->n_src of them; NULL: none written, as for
 * synthetic ids), as 16 hex digits. world: the ranks of the run that saves
 * it (1: one process); beside the settings, not among them, as no flag sets
 * it (the launcher does). */
int tr_settings_section(const struct tr_opts *o, const struct tr_loader_pos *pos,
                        const uint64_t *content, int world, char **out);
/* *id = source i's "content" in a settings section; -ENOENT (and *id 0)
 * where it has none (written before it was recorded). */
int tr_settings_source_content(const char *section, int i, uint64_t *id);

/* *world = the ranks of the run that wrote checkpoint path (its section's
 * world_size), or 0 when the section does not say (written before it was
 * recorded). A world_size that is not a whole number from 1 to 2^24: the
 * file is damaged (INGOT_E_CORRUPT). */
int tr_settings_world_size(const char *path, const char *section, int *world);

/* Fill pos->n_src and pos->src from a section's data_position (left as is
 * when the section has none: one dataset needs only the header's epoch and
 * index). path names the checkpoint in messages. */
int tr_settings_read_position(const char *path, const char *section, struct tr_loader_pos *pos);

/* The learning-rate schedule a checkpoint's settings section describes
 * (lr, min-lr, warmup, steps, lr-schedule with its cooldown; cosine when a
 * section from before --lr-schedule names none), so that a resume can tell
 * the rate of the checkpoint's step under it. 0, or -ENOENT when the section
 * lacks one of them (no message). */
int tr_settings_schedule(const char *section, struct tr_schedule *s);

/* A mixture resumes only from the same sources in the same order (the
 * positions are kept per source, by index): INGOT_E_MISMATCH naming both
 * lists when the checkpoint's section (settings "data") or this run has more
 * than one source and the directories differ. 0 otherwise (also for a
 * section without a data list). path names the checkpoint in messages.
 * *reweighted: the same sources with other weights (allowed; the mixture's
 * val set changes with them). */
int tr_settings_check_sources(const char *path, const char *section, const struct tr_opts *o,
                              bool *reweighted);
/* The directory of the i-th --data source a checkpoint's settings section
 * names (its "DIR:WEIGHT" without the weight), malloc'd; NULL when there is
 * none (synthetic data, an older checkpoint, i past the end). */
char *tr_settings_data_dir(const char *section, size_t i);
/* The same source whole, "DIR:WEIGHT" as --data takes it, malloc'd; NULL
 * when there is none. */
char *tr_settings_data_source(const char *section, size_t i);

/* Write DIR/config.json (tr_settings_json(), atomically); a resumed run
 * (o->resume) leaves an existing one as the first run wrote it. */
int tr_settings_write_config(const char *dir, const struct tr_opts *o);

/* Read --config FILE: a JSON object, or TOML-style `key = value` lines
 * (strings in quotes, numbers, true/false, one-line arrays of strings;
 * '#' comments). Keys as the long flags ('_' may stand for '-'). */
int tr_settings_load_config(const char *path, struct tr_optlist *out);

#endif
