/* Ingot's CPU logits of a checkpoint, for the Hugging Face export tests:
 *   ex_logits CKPT OUT B T SEED
 * runs the checkpoint's model (any --arch, tr_cpu_net.h) forward on B rows
 * of T ids drawn from SEED (uniform below the vocabulary) and writes OUT:
 * int32 B, T, V, then the ids [B, T] int32, then the logits [B, T, V]
 * float32 (the real vocabulary, padding dropped). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkpoint.h"
#include "ingot_err.h"
#include "tr_cpu_net.h"
#include "tr_export.h"
#include "tr_rng.h"

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s CKPT OUT B T SEED\n", argv[0]);
        return 2;
    }
    int B = atoi(argv[3]), T = atoi(argv[4]);
    struct tr_ckpt_state st;
    float *params = NULL;
    tr_cpu_net *net = NULL;
    int err = tr_export_load(argv[1], &st, &params, NULL);
    if (!err && (B < 1 || T < 1 || T > st.cfg.seq_len))
        err = ingot_fail(INGOT_E_USAGE, "B %d, T %d (seq-len %d)", B, T, st.cfg.seq_len);
    if (!err)
        err = tr_cpu_net_create(&st.cfg, B, &net);
    int32_t *ids = err ? NULL : malloc((size_t)B * T * sizeof(int32_t));
    if (!err && !ids)
        err = ingot_oom("ids", (size_t)B * T * sizeof(int32_t));
    FILE *f = NULL;
    if (!err) {
        struct tr_rng r;
        tr_rng_seed(&r, (uint64_t)atoll(argv[5]), TR_STREAM_INIT);
        for (int i = 0; i < B * T; i++)
            ids[i] = (int32_t)(tr_rng_next(&r) % (uint64_t)st.cfg.vocab);
        tr_cpu_net_forward(net, params, ids, NULL, B, T, 0.0f, NULL, NULL);
        const float *lg = tr_cpu_net_logits(net);
        int32_t hdr[3] = { B, T, st.cfg.vocab };
        f = fopen(argv[2], "wb");
        bool ok = f && fwrite(hdr, sizeof(hdr), 1, f) == 1 &&
                  fwrite(ids, sizeof(int32_t), (size_t)B * T, f) == (size_t)B * T;
        for (size_t row = 0; ok && row < (size_t)B * T; row++)
            ok = fwrite(lg + row * st.cfg.vocab_padded, sizeof(float), (size_t)st.cfg.vocab, f) ==
                 (size_t)st.cfg.vocab;
        if (!f || fclose(f) != 0 || !ok)
            err = ingot_fail(-EIO, "%s: cannot write", argv[2]);
    }
    if (err)
        fprintf(stderr, "ex_logits: %s\n", ingot_errmsg_for(err));
    tr_cpu_net_free(net);
    free(ids);
    free(params);
    return err ? 1 : 0;
}
