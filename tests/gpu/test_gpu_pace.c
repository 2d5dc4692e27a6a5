/* The CUDA back end's one-sync pacing (train/tr_cuda_submit.c), on a tiny
 * model (skips with 77 without a GPU). Driven as the training loop drives
 * it (max_in_flight steps in flight, then drained), counting the host
 * waits (tr_cuda_sync_count) around every call:
 *  1. while the pipeline fills (fewer than two steps in flight) submit
 *     waits for nothing;
 *  2. in steady state each submit waits exactly once (the pace wait) and
 *     the collect that follows it waits not at all;
 *  3. draining, each collect waits exactly once, whether or not its step
 *     has already finished;
 *  4. so every collected step accounts for exactly one sync;
 *  5. the results are bit-identical to INGOT_PACE=0 (waits on the result
 *     two steps back) and to one step at a time (submit, collect): pacing
 *     changes when the host waits, never what the GPU computes;
 *  6. submitting past max_in_flight is refused with INGOT_E_USAGE.
 * fp32 and bf16, one and two micro-steps per step. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "kn_common.h"
#include "tr_cuda_sync.h"
#include "tr_params.h"
#include "tr_rng.h"
#include "tt_util.h"

enum { B = 4, STEPS = 12 };

static struct tr_config tiny(void)
{
    struct tr_config c = { .n_layer = 2, .n_head = 2, .n_embd = 64, .seq_len = 32, .vocab = 100 };
    tr_config_pad_vocab(&c);
    return c;
}

static struct tr_step_hparams hparams(int t)
{
    return (struct tr_step_hparams){ .t = t, .lr = 1e-3f, .weight_decay = 0.1f, .beta1 = 0.9f,
                                     .beta2 = 0.95f, .eps = 1e-8f, .grad_clip = 1.0f };
}

static tr_backend *make(const struct tr_config *c, enum tr_precision prec, int K,
                        const float *params)
{
    struct tr_backend_opts o = { .cfg = *c, .batch = B, .grad_accum = K, .quiet = true,
                                 .precision = prec };
    tr_backend *be = NULL;
    CHECK_OK(tr_backend_cuda.create(&o, params, &be));
    return be;
}

/* STEPS steps with up to `depth` in flight, drained at the end; res[t - 1]
 * gets step t's result. With check, the waits of every call are checked
 * (1-4 above) and their sum per collected step. */
static void run(tr_backend *be, const int32_t *chunks, size_t chunk_len, int depth, bool check,
                struct tr_step_result *res)
{
    const struct tr_backend_ops *ops = &tr_backend_cuda;
    int inflight = 0;
    uint64_t mark = tr_cuda_sync_count();   /* syncs since the last collect */
    for (int t = 1; t <= STEPS; t++) {
        struct tr_step_hparams hp = hparams(t);
        uint64_t s0 = tr_cuda_sync_count();
        CHECK_OK(ops->submit_step(be, chunks + (size_t)(t - 1) * chunk_len, &hp));
        uint64_t waits = tr_cuda_sync_count() - s0;
        if (check)
            CHECK(waits == (inflight >= 2 ? 1u : 0u));   /* 1 and 2 */
        inflight++;
        bool drain = t == STEPS;
        while (inflight >= depth || (drain && inflight > 0)) {
            struct tr_step_result r;
            bool steady = inflight >= depth && !drain;
            s0 = tr_cuda_sync_count();
            CHECK_OK(ops->collect_step(be, &r));
            uint64_t now = tr_cuda_sync_count();
            if (check) {
                /* 2: covered by the submit's pace wait; 3: draining waits */
                CHECK(now - s0 == (steady || (drain && inflight == depth) ? 0u : 1u));
                CHECK(now - mark == 1u);   /* 4 */
            }
            mark = now;
            CHECK(r.t >= 1 && r.t <= STEPS);
            res[r.t - 1] = r;
            inflight--;
        }
    }
}

static bool same(const struct tr_step_result *a, const struct tr_step_result *b)
{
    for (int i = 0; i < STEPS; i++)
        if (a[i].t != b[i].t || a[i].loss != b[i].loss || a[i].accuracy != b[i].accuracy ||
            a[i].grad_norm != b[i].grad_norm)
            return false;
    return true;
}

static void case_(enum tr_precision prec, int K, const float *params, const int32_t *chunks)
{
    const struct tr_config c = tiny();
    const size_t chunk_len = (size_t)K * B * (c.seq_len + 1);
    const int depth = tr_backend_cuda.max_in_flight;
    struct tr_step_result paced[STEPS], off[STEPS], one[STEPS];
    CHECK(depth == 3);

    tr_backend *be = make(&c, prec, K, params);
    run(be, chunks, chunk_len, depth, true, paced);
    /* 6: a fourth step in flight is refused, and nothing is left pending */
    for (int t = 1; t <= depth; t++) {
        struct tr_step_hparams hp = hparams(t);
        CHECK_OK(tr_backend_cuda.submit_step(be, chunks, &hp));
    }
    struct tr_step_hparams hp = hparams(depth + 1);
    CHECK_FAIL(tr_backend_cuda.submit_step(be, chunks, &hp), INGOT_E_USAGE, "in flight");
    for (int t = 1; t <= depth; t++) {
        struct tr_step_result r;
        CHECK_OK(tr_backend_cuda.collect_step(be, &r));
        CHECK(r.t == t);
    }
    tr_backend_cuda.destroy(be);

    CHECK(setenv("INGOT_PACE", "0", 1) == 0);
    be = make(&c, prec, K, params);
    unsetenv("INGOT_PACE");
    run(be, chunks, chunk_len, depth, true, off);
    tr_backend_cuda.destroy(be);

    be = make(&c, prec, K, params);
    run(be, chunks, chunk_len, 1, false, one);
    tr_backend_cuda.destroy(be);

    printf("%s, %d micro-step(s): step 1 loss %.6f, step %d loss %.6f; paced == INGOT_PACE=0: "
           "%s, paced == one at a time: %s\n", prec == TR_PREC_FP32 ? "fp32" : "bf16", K,
           paced[0].loss, STEPS, paced[STEPS - 1].loss, same(paced, off) ? "yes" : "NO",
           same(paced, one) ? "yes" : "NO");
    CHECK(same(paced, off));   /* 5 */
    CHECK(same(paced, one));
    for (int i = 0; i < STEPS; i++)
        CHECK(paced[i].t == i + 1);
}

int main(void)
{
    if (kn_device_check()) {
        printf("SKIP: %s\n", ingot_errmsg());
        return TT_SKIP;
    }
    const struct tr_config c = tiny();
    const size_t n = tr_param_count(&c), rows = (size_t)STEPS * 3 * B * (c.seq_len + 1);
    float *params = malloc(n * sizeof(float));
    int32_t *chunks = malloc(rows * sizeof(int32_t));
    CHECK(params && chunks);
    tr_params_init(&c, 42, params);
    struct tr_rng r;
    tr_rng_seed(&r, 7, 7);
    for (size_t i = 0; i < rows; i++)
        chunks[i] = (int32_t)tr_rng_below(&r, (uint64_t)c.vocab);
    unsetenv("INGOT_PACE");
    for (int k = 1; k <= 3; k++) {   /* 2 and 3: the step graph's loop */
        case_(TR_PREC_FP32, k, params, chunks);
        case_(TR_PREC_BF16, k, params, chunks);
    }
    free(params);
    free(chunks);
    printf("pacing: pass\n");
    return 0;
}
