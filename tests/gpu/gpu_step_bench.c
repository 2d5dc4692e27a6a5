/* The CUDA back end's step throughput, without the loop or the data loader:
 * random token chunks, as many steps in flight as the back end takes, --profile's per-step figures.
 * Default: GPT-2 124M shape (L12 H12 C768 T1024, vocab 50304), bf16, batch
 * 16. A meson benchmark() (skips with 77 without a GPU).
 * usage: gpu_step_bench [--layers N] [--heads N] [--dim N] [--seq-len N]
 *                       [--vocab N] [--batch N] [--accum N] [--steps N]
 *                       [--precision fp32|bf16] */
#include <math.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "kn_common.h"
#include "median.h"
#include "tr_params.h"
#include "tr_rng.h"
#include "tt_util.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    struct tr_config c = { .n_layer = 12, .n_head = 12, .n_embd = 768, .seq_len = 1024,
                           .vocab = 50304 };
    int B = 16, K = 1, steps = 20;
    enum tr_precision prec = TR_PREC_BF16;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        int x = atoi(v);
        if (!strcmp(k, "--layers")) c.n_layer = x;
        else if (!strcmp(k, "--heads")) c.n_head = x;
        else if (!strcmp(k, "--dim")) c.n_embd = x;
        else if (!strcmp(k, "--seq-len")) c.seq_len = x;
        else if (!strcmp(k, "--vocab")) c.vocab = x;
        else if (!strcmp(k, "--batch")) B = x;
        else if (!strcmp(k, "--accum")) K = x;
        else if (!strcmp(k, "--steps")) steps = x;
        else if (!strcmp(k, "--precision")) prec = !strcmp(v, "fp32") ? TR_PREC_FP32 : TR_PREC_BF16;
        else {
            fprintf(stderr, "gpu_step_bench: unknown option %s\n", k);
            return 2;
        }
    }
    if (kn_device_check()) {
        printf("SKIP: %s\n", ingot_errmsg());
        return TT_SKIP;
    }
    tr_config_pad_vocab(&c);
    CHECK_OK(tr_config_check(&c));
    size_t n = tr_param_count(&c), T1 = (size_t)c.seq_len + 1, chunk_len = (size_t)K * B * T1;
    float *params = malloc(n * sizeof(float));
    int32_t *chunks = malloc(2 * chunk_len * sizeof(int32_t));
    CHECK(params && chunks);
    tr_params_init(&c, 1, params);
    struct tr_rng r;
    tr_rng_seed(&r, 5, 5);
    for (size_t i = 0; i < 2 * chunk_len; i++)
        chunks[i] = (int32_t)tr_rng_below(&r, (uint64_t)c.vocab);
    struct tr_backend_opts o = { .cfg = c, .batch = B, .grad_accum = K, .precision = prec,
                                 .profile = true };
    tr_backend *be;
    CHECK_OK(tr_backend_cuda.create(&o, params, &be));
    printf("L%d H%d C%d T%d V%d, batch %d x %d micro-steps, %s, %.1f M params, %zu MiB on the "
           "GPU\n", c.n_layer, c.n_head, c.n_embd, c.seq_len, c.vocab_padded, B, K,
           prec == TR_PREC_FP32 ? "fp32" : "bf16", n / 1e6,
           tr_backend_cuda.mem_bytes(be) >> 20);
    printf("%4s %9s %9s %6s %7s %7s %7s %6s %7s %6s %5s %6s %6s %6s %6s\n", "step", "loss",
           "tok/s", "MFU%", "fwd_ms", "bwd_ms", "opt_ms", "up_ms", "idle_ms", "busy%", "syncs",
           "allocs", "cpu%", "util%", "MHz");
    double tokens = (double)K * B * c.seq_len, mark = now_s(), rate[1024];
    int inflight = 0, counted = 0;
    for (int t = 1; t <= steps; t++) {
        struct tr_step_hparams hp = { .t = t, .lr = 6e-4f, .weight_decay = 0.1f, .beta1 = 0.9f,
                                      .beta2 = 0.95f, .eps = 1e-8f, .grad_clip = 1.0f };
        CHECK_OK(tr_backend_cuda.submit_step(be, chunks + (size_t)(t % 2) * chunk_len, &hp));
        inflight++;
        while (inflight >= tr_backend_cuda.max_in_flight || (t == steps && inflight)) {
            struct tr_step_result res;
            struct tr_step_prof p;
            CHECK_OK(tr_backend_cuda.collect_step(be, &res));
            CHECK_OK(tr_backend_cuda.step_profile(be, &p));
            inflight--;
            double t1 = now_s(), tps = tokens / (res.period_s > 0 ? res.period_s : t1 - mark);
            mark = t1;
            double mfu = p.peak_tflops > 0 ? 100.0 * tps * p.flops_per_token /
                                                 (p.peak_tflops * 1e12) : -1.0;
            printf("%4d %9.4f %9.0f %6.1f %7.2f %7.2f %7.2f %6.2f %7.3f %6.1f %5lld %6lld %6.1f "
                   "%6.0f %6.0f\n", res.t, res.loss, tps, mfu, p.fwd_ms, p.bwd_ms, p.opt_ms,
                   p.upload_ms, p.gpu_idle_ms, p.gpu_busy_pct, (long long)p.syncs,
                   (long long)p.host_allocs, p.cpu_pct, p.gpu_util_pct, p.sm_clock_mhz);
            /* the device's step period (the host's interval shifts at the
             * drain); the median, not the mean, all the same */
            if (res.t > 3 && counted < 1024) /* (--steps beyond: the first 1024) */
                rate[counted++] = tps;
            CHECK(isfinite(res.loss));
        }
    }
    if (counted)
        printf("median tok/s after 3 warm-up steps: %.0f\n", ingot_median(rate, (size_t)counted));
    tr_backend_cuda.destroy(be);
    free(params);
    free(chunks);
    return 0;
}
