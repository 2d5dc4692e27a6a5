#include "ll_dumpfile.h"

#include <stdio.h>
#include <string.h>

int ll_dump_open(struct ll_dump *d, const char *path)
{
    memset(d, 0, sizeof(*d));
    if (snprintf(d->path, sizeof d->path, "%s", path) >= (int)sizeof d->path) {
        fprintf(stderr, "%s: path too long\n", path);
        return 1;
    }
    snprintf(d->tmp, sizeof d->tmp, "%s.tmp", path);
    d->f = fopen(d->tmp, "wb");
    if (!d->f) {
        perror(d->tmp);
        return 1;
    }
    unsigned head[2] = { 2, 0 };
    if (fwrite("INGOTLLR", 1, 8, d->f) != 8 || fwrite(head, sizeof head, 1, d->f) != 1)
        d->failed = 1;
    return 0;
}

void ll_dump_put(struct ll_dump *d, const char *tag, const char *field, unsigned dtype,
                 const void *data, int ndim, const unsigned *dims)
{
    char nm[LL_NAME_LEN] = { 0 };
    unsigned head[6] = { dtype, (unsigned)ndim, 1, 1, 1, 1 };
    size_t n = 1;
    int len = tag ? snprintf(nm, sizeof nm, "%s.%s", tag, field)
                  : snprintf(nm, sizeof nm, "%s", field);
    if (len >= (int)sizeof nm) {
        fprintf(stderr, "record name %s.%s too long\n", tag ? tag : "", field);
        d->failed = 1;
    }
    for (int i = 0; i < ndim; i++) {
        head[2 + i] = dims[i];
        n *= dims[i];
    }
    size_t es = dtype == LL_DT_F32 ? sizeof(float) : sizeof(double);
    if (fwrite(nm, 1, sizeof nm, d->f) != sizeof nm || fwrite(head, sizeof head, 1, d->f) != 1 ||
        fwrite(data, es, n, d->f) != n)
        d->failed = 1;
    d->count++;
}

void ll_dump_f32(struct ll_dump *d, const char *tag, const char *field, const float *p,
                 unsigned d0, unsigned d1, unsigned d2)
{
    unsigned dims[3] = { d0, d1, d2 };
    ll_dump_put(d, tag, field, LL_DT_F32, p, d2 ? 3 : d1 ? 2 : 1, dims);
}

void ll_dump_f64(struct ll_dump *d, const char *tag, const char *field, const double *v,
                 unsigned n)
{
    ll_dump_put(d, tag, field, LL_DT_F64, v, 1, &n);
}

int ll_dump_close(struct ll_dump *d)
{
    unsigned head[2] = { 2, d->count };   /* the record count, now known */
    if (fseek(d->f, 8, SEEK_SET) != 0 || fwrite(head, sizeof head, 1, d->f) != 1)
        d->failed = 1;
    if (fclose(d->f) != 0 || d->failed || rename(d->tmp, d->path) != 0) {
        fprintf(stderr, "%s: write failed (disk full?)\n", d->path);
        remove(d->tmp);
        return 1;
    }
    return 0;
}
