/* Batch dumps for the PyTorch parity script. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "term_text.h"
#include "parity_dump.h"
#include "tr_cpu_net.h"

int tr_dump_batch(const char *path, const struct tr_config *c, const float *params,
                  const int32_t *rows, int B, uint64_t step, double *loss_out)
{
    size_t n = tr_param_count(c);
    size_t n_logits = (size_t)B * c->seq_len * c->vocab_padded;
    float *grads = malloc(n * sizeof(float)), *logits = malloc(n_logits * sizeof(float));
    struct tr_dump_header h;
    int err;
    if (!grads || !logits) {
        err = ingot_oom("--dump-batch gradients and logits", (n + n_logits) * sizeof(float));
        goto out;
    }
    /* the dump replaces path atomically (rename): never over a device or
     * FIFO (--dump-batch /dev/null would replace /dev/null for root) */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        err = ingot_fail(INGOT_E_USAGE, "--dump-batch %s: exists and is not a regular file; name "
                         "a file", TERM_SHOW(path));
        goto out;
    }
    double loss;
    if ((err = tr_cpu_net_forward_backward(c, params, rows, B, &loss, grads, logits)))
        goto out;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, TR_DUMP_MAGIC, 8);
    h.version = c->arch == TR_ARCH_GPT2 ? TR_DUMP_VERSION : TR_DUMP_VERSION_ARCH;
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
    if (c->arch != TR_ARCH_GPT2) {
        h.arch = (uint32_t)c->arch;
        h.n_kv_head = c->n_kv_head;
        h.ffn_dim = c->ffn_dim;
        h.tie_embeddings = c->tie_embeddings;
        h.rope_theta = c->rope_theta;
        h.norm_eps = c->norm_eps;
    }
    const struct fs_piece pieces[] = {
        { &h, sizeof(h) },
        { rows, (size_t)B * (c->seq_len + 1) * sizeof(int32_t) },
        { params, n * sizeof(float) },
        { logits, n_logits * sizeof(float) },
        { grads, n * sizeof(float) },
    };
    if ((err = fs_write_atomic_pieces(path, pieces, sizeof(pieces) / sizeof(pieces[0]))))
        goto out;
    if (loss_out)
        *loss_out = loss;
out:
    free(grads);
    free(logits);
    return err;
}
