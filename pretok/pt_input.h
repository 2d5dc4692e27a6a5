/* The input list: command-line arguments (files, directories walked
 * recursively in sorted order, quoted globs) expanded into one ordered list.
 * Its order and indices are the file table of the manifest and of every
 * shard's provenance. */
#ifndef INGOT_PT_INPUT_H
#define INGOT_PT_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pt_format { PT_FMT_JSONL, PT_FMT_TEXT };

struct pt_input {
    char *path;             /* owned */
    uint64_t size;          /* bytes on disk (0 when stat failed) */
    uint32_t index;         /* global position in the full list */
    enum pt_format format;  /* by name: .txt / .txt.zst are text, else JSONL */
    bool name_zst;          /* the name ends in .zst */
};

struct pt_inputs {
    struct pt_input *v;
    size_t n;
    size_t ignored;         /* files under directories with other suffixes */
};

/* Expand args into *out. A missing path (not a glob matching something) is
 * an INGOT_E_USAGE error naming it. */
int pt_inputs_expand(char *const *args, size_t n_args, struct pt_inputs *out);
void pt_inputs_free(struct pt_inputs *in);

/* The contiguous range [*first, *end) of the list that part k (1-based) of
 * n_parts handles: ranges are balanced by bytes and follow the list order,
 * so parts joined in order give the whole list in order. */
void pt_inputs_part(const struct pt_inputs *in, unsigned k, unsigned n_parts,
                    size_t *first, size_t *end);

#endif
