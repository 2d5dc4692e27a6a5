/* The input list: command-line arguments (files, directories walked
 * recursively in sorted order, quoted globs) expanded into one ordered list.
 * Its order and indices are the file table of the manifest and of every
 * shard's provenance.
 *
 * The list is built by file identity (st_dev, st_ino), not by name: each
 * directory is walked once (symlink loops end), each file is listed once at
 * its first place however many names reach it (a/x, ./a/x, hard links,
 * symlinks), with a note. The output directory is never walked, and no
 * dataset's own files (manifest.json, resume state, merge plan) are taken. */
#ifndef INGOT_PT_INPUT_H
#define INGOT_PT_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pt_format { PT_FMT_JSONL, PT_FMT_TEXT };

struct pt_input {
    char *path;             /* owned */
    uint64_t size;          /* bytes on disk (0 when stat failed or not regular) */
    int64_t mtime_ns;       /* modification time (0 when stat failed): resume checks it */
    uint32_t index;         /* global position in the full list */
    enum pt_format format;  /* by name: .txt / .txt.zst / .txt.gz are text, else
                               JSONL; standard input: --stdin-format */
    bool name_zst;          /* the name ends in .zst */
    bool name_gz;           /* the name ends in .gz */
    bool is_stdin;          /* "-": standard input, path "<stdin>", size 0 */
};

/* The name standard input has in the file table and in provenance. */
#define PT_STDIN_NAME "<stdin>"

/* At most this many notes are kept (n_notes counts them all), and this many
 * names of files of unknown formats (ignored counts them all; a file also
 * named on the command line is read there, so it is not one of them). */
#define PT_INPUT_MAX_NOTES 20
#define PT_INPUT_MAX_UNKNOWN 20

struct pt_inputs {
    struct pt_input *v;
    size_t n;
    size_t ignored;         /* files under directories with other suffixes */
    char **unknown;         /* the first PT_INPUT_MAX_UNKNOWN of them, by path (as
                               found: a message shows them through term_text()) */
    size_t n_unknown_kept;
    char **notes;           /* what was passed over and why, for the user (names in
                               them already through term_text()) */
    size_t n_notes, n_notes_kept;
};

/* Expand args into *out. out_dir (may be NULL or not yet exist) is never
 * walked; a file inside it named as an argument, or a dataset's own file
 * (manifest.json, .pretok-state.json, merge files) named as an argument,
 * is an INGOT_E_USAGE error; in directories they are passed over with a
 * note. A missing path (not a glob matching something) is an INGOT_E_USAGE
 * error naming it. */
int pt_inputs_expand(char *const *args, size_t n_args, const char *out_dir,
                     struct pt_inputs *out);
/* As pt_inputs_expand; an argument "-" is standard input (at most once),
 * read as stdin_format. */
int pt_inputs_expand_stdin(char *const *args, size_t n_args, const char *out_dir,
                           enum pt_format stdin_format, struct pt_inputs *out);
/* The names that directory walks read, for messages ("... .txt.gz"). */
extern const char pt_input_suffixes[];
void pt_inputs_free(struct pt_inputs *in);
/* Print the notes ("<prog>: note: ...") to f. */
void pt_inputs_print_notes(const struct pt_inputs *in, const char *prog, FILE *f);

/* The contiguous range [*first, *end) of the list that part k (1-based) of
 * n_parts handles: ranges are balanced by bytes and follow the list order,
 * so parts joined in order give the whole list in order. */
void pt_inputs_part(const struct pt_inputs *in, unsigned k, unsigned n_parts,
                    size_t *first, size_t *end);

#endif
