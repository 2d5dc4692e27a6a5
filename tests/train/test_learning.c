/* Learning, end to end through the ingot-train binary:
 *  1. on a small corpus (a Markov "language", written as shards) the first
 *     step's loss is ln(vocab) (padded logits excluded) and the val loss ends
 *     well below the corpus's unigram entropy, which a model that ignores
 *     context cannot beat;
 *  2. a tiny model overfits one fixed batch to near-zero loss (through the
 *     back-end interface directly); eval's per-row losses (a mixture's val
 *     loss by source) average to its loss, which they leave as it was.
 * usage: test_learning INGOT_TRAIN */
#include <math.h>
#include <string.h>

#include "backend.h"
#include "tr_params.h"
#include "tr_rng.h"
#include "tt_util.h"

enum { VOCAB = 200, N_TRAIN = 60000, N_VAL = 4000 };

static void corpus_learning(const char *bin)
{
    char *dir = tt_tmpdir("learn");
    char *data = tt_fmt("%s/data", dir), *metrics = tt_fmt("%s/m.jsonl", dir);
    char *out = tt_fmt("%s/out.txt", dir);
    uint32_t *ids = malloc((N_TRAIN + N_VAL) * sizeof(uint32_t));
    CHECK(ids);
    tt_markov_tokens(ids, N_TRAIN + N_VAL, VOCAB, 11);
    double h1 = tt_unigram_entropy(ids, N_TRAIN, VOCAB);
    struct tt_dataset d = { .dir = data, .vocab = VOCAB, .tokenizer_hash = 77, .bos_id = -1,
                            .train = ids, .n_train = N_TRAIN, .val = ids + N_TRAIN,
                            .n_val = N_VAL, .doc_len = 500, .shard_docs = 40 };
    CHECK_OK(tt_write_dataset(&d));
    char *cmd = tt_fmt("'%s' --data '%s' --model tiny --seq-len 32 --batch 8 --steps 150 "
                       "--lr 3e-3 --warmup 10 --val-every 50 --val-tokens 2048 --metrics '%s' "
                       "--threads 2 --print-every 50", bin, data, metrics);
    int rc = tt_run(cmd, out);
    if (rc != 0) {
        char *s = tt_slurp(out);
        fprintf(stderr, "ingot-train exited %d:\n%s\n", rc, s ? s : "");
        exit(1);
    }
    struct tt_step st[200];
    long vs[10];
    double vl[10];
    int n = tt_read_steps(metrics, st, 200), nv = tt_read_vals(metrics, vs, vl, 10);
    CHECK(n == 150 && nv == 3);
    for (int i = 0; i < n; i++)
        CHECK(st[i].step == i + 1 && isfinite(st[i].loss) && st[i].accuracy >= 0 &&
              st[i].accuracy <= 1 && st[i].lr > 0 && st[i].grad_norm > 0);
    double lnv = log((double)VOCAB);
    printf("corpus: ln V %.4f, unigram entropy %.4f; first loss %.4f, val %.4f -> %.4f -> %.4f\n",
           lnv, h1, st[0].loss, vl[0], vl[1], vl[2]);
    CHECK(fabs(st[0].loss - lnv) < 0.1);
    CHECK(vs[2] == 150);
    CHECK(vl[2] < h1 - 0.5);
    CHECK(vl[2] < vl[0]);
    CHECK(st[n - 1].accuracy > 0.3);
    tt_rmtree(dir);
    free(ids);
    free(cmd);
    free(dir);
    free(data);
    free(metrics);
    free(out);
}

static void overfit_one_batch(void)
{
    struct tr_config c = { .n_layer = 2, .n_head = 2, .n_embd = 32, .seq_len = 16, .vocab = 50 };
    tr_config_pad_vocab(&c);
    const int B = 2;
    float *params = malloc(tr_param_count(&c) * sizeof(float));
    CHECK(params);
    tr_params_init(&c, 3, params);
    struct tr_backend_opts bo = { .cfg = c, .batch = B, .grad_accum = 1, .quiet = true };
    tr_backend *be;
    CHECK_OK(tr_backend_cpu.create(&bo, params, &be));
    int32_t chunk[2 * 17];
    struct tr_rng r;
    tr_rng_seed(&r, 9, 9);
    for (int i = 0; i < 2 * 17; i++)
        chunk[i] = (int32_t)tr_rng_below(&r, 50);
    struct tr_step_result res = { 0 };
    double first = 0;
    for (int t = 1; t <= 300; t++) {
        struct tr_step_hparams hp = { .t = t, .lr = 1e-2f, .weight_decay = 0.0f, .beta1 = 0.9f,
                                      .beta2 = 0.95f, .eps = 1e-8f, .grad_clip = 1.0f };
        CHECK_OK(tr_backend_cpu.submit_step(be, chunk, &hp));
        CHECK_OK(tr_backend_cpu.collect_step(be, &res));
        CHECK(res.t == t);
        if (t == 1)
            first = res.loss;
    }
    double ev;
    CHECK_OK(tr_backend_cpu.eval(be, chunk, B, &ev, NULL));
    printf("overfit: loss %.4f -> %.5f (accuracy %.3f, eval %.5f)\n", first, res.loss,
           res.accuracy, ev);
    CHECK(fabs(first - log(50.0)) < 0.1);
    CHECK(res.loss < 0.02 && res.accuracy == 1.0);
    CHECK(ev < 0.02);
    double ev_rows, rows[2];
    CHECK_OK(tr_backend_cpu.eval(be, chunk, B, &ev_rows, rows));
    printf("overfit: eval by row %.6g %.6g (mean %.6g)\n", rows[0], rows[1],
           (rows[0] + rows[1]) / 2);
    CHECK(ev_rows == ev && fabs((rows[0] + rows[1]) / 2 - ev) <= 1e-12 + 1e-9 * ev);
    tr_backend_cpu.destroy(be);
    free(params);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    overfit_one_batch();
    corpus_learning(argv[1]);
    return 0;
}
