/* Batch dumps for the PyTorch parity script. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "parity_dump.h"
#include "tr_cpu_model.h"

int tr_dump_batch(const char *path, const struct tr_config *c, const float *params,
                  const int32_t *rows, int B, uint64_t step, double *loss_out)
{
    size_t n = tr_param_count(c);
    size_t n_logits = (size_t)B * c->seq_len * c->vocab_padded;
    float *grads = malloc(n * sizeof(float)), *logits = malloc(n_logits * sizeof(float));
    char *tmp = malloc(strlen(path) + 32);
    struct tr_dump_header h;
    int fd = -1, err;
    if (!grads || !logits || !tmp) {
        err = ingot_fail(-ENOMEM, "%s: out of memory for the dump", path);
        goto out;
    }
    double loss;
    if ((err = tr_cpu_forward_backward(c, params, rows, B, &loss, grads, logits)))
        goto out;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, TR_DUMP_MAGIC, 8);
    h.version = TR_DUMP_VERSION;
    h.header_size = TR_DUMP_HEADER_SIZE;
    h.n_layer = c->n_layer;
    h.n_head = c->n_head;
    h.n_embd = c->n_embd;
    h.seq_len = c->seq_len;
    h.vocab = c->vocab;
    h.vocab_padded = c->vocab_padded;
    h.batch = B;
    h.n_params = n;
    h.step = step;
    h.loss = loss;
    sprintf(tmp, "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = ingot_fail(-errno, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    if ((err = fs_write_full(fd, &h, sizeof(h), tmp)) ||
        (err = fs_write_full(fd, rows, (size_t)B * (c->seq_len + 1) * sizeof(int32_t), tmp)) ||
        (err = fs_write_full(fd, params, n * sizeof(float), tmp)) ||
        (err = fs_write_full(fd, logits, n_logits * sizeof(float), tmp)) ||
        (err = fs_write_full(fd, grads, n * sizeof(float), tmp)))
        goto out;
    if (fsync(fd) != 0) {
        err = ingot_fail(-errno, "%s: fsync: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        err = ingot_fail(-errno, "%s: rename to %s: %s", tmp, path, strerror(errno));
        goto out;
    }
    err = fs_fsync_dir(path);
    if (loss_out)
        *loss_out = loss;
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(grads);
    free(logits);
    free(tmp);
    return err;
}
