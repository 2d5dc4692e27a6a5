/* A safetensors file writer (https://github.com/huggingface/safetensors):
 * an 8-byte little-endian header length, a JSON header naming every
 * tensor's dtype, shape and byte range, padded with spaces to a multiple of
 * 8, then the tensor bytes back to back in the header's order. Used by
 * `ingot-train export` for the Hugging Face folder and the raw export. */
#ifndef INGOT_TR_EXPORT_ST_H
#define INGOT_TR_EXPORT_ST_H

#include <stddef.h>
#include <stdint.h>

#define TR_ST_MAX_DIMS 4

/* One tensor: float32 data, row-major, shape[0..ndim). The data is borrowed. */
struct tr_st_tensor {
    char name[96];
    int ndim;
    int64_t shape[TR_ST_MAX_DIMS];
    const float *data;
};

/* Elements of t (the product of its shape). */
size_t tr_st_numel(const struct tr_st_tensor *t);

/* Write the n tensors to path's temporary name (fs_stage_pieces: whole and
 * fsynced; `ingot-train export` renames its set of files once all are), with
 * metadata: pairs of strings meta[2i], meta[2i + 1] for i < n_meta, stored
 * under "__metadata__" (safetensors allows strings only). Returns 0 or a
 * negative code (-ENOMEM, I/O errors naming the path). */
int tr_st_write(const char *path, const struct tr_st_tensor *t, size_t n,
                const char *const *meta, size_t n_meta);

#endif
