/* The record file that tests/llama's dump drivers write for
 * scripts/torch-llama-reference.py.
 *
 * Format (little-endian): "INGOTLLR", u32 version (2), u32 record count;
 * each record: char name[64] (NUL-padded), u32 dtype (1 float32, 2 float64),
 * u32 ndim (1..4), u32 dims[4], then the elements row-major. (Version 1 had
 * 32-byte names; the script reads both.) Written to PATH.tmp and renamed,
 * so a reader never sees half a file. */
#ifndef INGOT_LL_DUMPFILE_H
#define INGOT_LL_DUMPFILE_H

#include <stdio.h>

enum { LL_DT_F32 = 1, LL_DT_F64 = 2, LL_NAME_LEN = 64 };

struct ll_dump {
    FILE *f;
    unsigned count;
    int failed;
    char path[4096], tmp[4120];
};

/* Start a dump at path. Returns 0, or 1 with a message on stderr. */
int ll_dump_open(struct ll_dump *d, const char *path);
/* One record named "tag.field" (tag may be NULL: the name is field). */
void ll_dump_put(struct ll_dump *d, const char *tag, const char *field, unsigned dtype,
                 const void *data, int ndim, const unsigned *dims);
/* A float32 tensor of 1 to 3 dims (trailing zero dims: fewer). */
void ll_dump_f32(struct ll_dump *d, const char *tag, const char *field, const float *p,
                 unsigned d0, unsigned d1, unsigned d2);
/* n float64 values (scalars, configs, token ids). */
void ll_dump_f64(struct ll_dump *d, const char *tag, const char *field, const double *v,
                 unsigned n);
/* Patch the record count, close and rename. Returns 0, or 1 with a message. */
int ll_dump_close(struct ll_dump *d);

#endif
