/* The CUDA back end against the CPU back end on a tiny model, same init and
 * same batches (skips with 77 without a GPU):
 *  1. fp32: one forward + backward: the mean loss and EVERY gradient tensor;
 *     the eval loss and the sampler's logits; eval's per-row losses (a
 *     mixture's val loss by source) against the CPU back end's, with the
 *     overall loss unchanged and still one host sync per eval call;
 *  2. fp32: 50 optimizer steps (2 micro-steps each, two steps in flight on
 *     the GPU): per-step loss, accuracy and gradient norm track;
 *  3. fp32: parameters and AdamW state survive get/set round trips, and a
 *     second back end given the first one's state continues identically;
 *  4. bf16 (flash attention where the head size allows): loss and gradients
 *     close to the CPU's, the first step close to fp32's, and overfitting
 *     one batch drives the loss down.
 * Tolerances (float32 without TF32, different summation orders; stated per
 * check below):
 *   loss                |gpu - cpu| <= 1e-5 * (1 + |cpu|)
 *   each gradient       max|gpu - cpu| <= 1e-6 + 2e-3 * max|cpu| and
 *   tensor              ||gpu - cpu||_2 <= 1e-4 * ||cpu||_2 (+ 1e-9)
 *   logits (last row)   max|gpu - cpu| <= 1e-4 * (1 + max|cpu|)
 *   eval row loss       |gpu - cpu| <= 1e-5 * (1 + |cpu|) per row
 *   step s of 50        |loss| <= 1e-5 * (1 + s) * (1 + |cpu|),
 *                       |norm| <= 1e-3 * (1 + s / 10) * |cpu norm| */
#include <math.h>
#include <string.h>

#include "backend.h"
#include "kn_common.h"
#include "tr_cpu_model.h"
#include "tr_cuda_debug.h"
#include "tr_cuda_sync.h"
#include "tr_params.h"
#include "tr_rng.h"
#include "tt_util.h"

enum { B = 4, K = 3, STEPS = 50 };   /* K 3: the step graph's loop runs twice */

static struct tr_config tiny(void)
{
    struct tr_config c = { .n_layer = 2, .n_head = 2, .n_embd = 64, .seq_len = 32, .vocab = 100 };
    tr_config_pad_vocab(&c);
    return c;
}

static void random_rows(int32_t *rows, size_t n, int vocab, uint64_t seed)
{
    struct tr_rng r;
    tr_rng_seed(&r, seed, 77);
    for (size_t i = 0; i < n; i++)
        rows[i] = (int32_t)tr_rng_below(&r, (uint64_t)vocab);
}

static tr_backend *make(const struct tr_backend_ops *ops, const struct tr_config *c,
                        enum tr_precision prec, int grad_accum, const float *params)
{
    struct tr_backend_opts o = { .cfg = *c, .batch = B, .grad_accum = grad_accum, .threads = 2,
                                 .quiet = true, .precision = prec };
    tr_backend *be = NULL;
    CHECK_OK(ops->create(&o, params, &be));
    return be;
}

static void check_grads(const struct tr_config *c, const float *gpu, const float *cpu)
{
    size_t sizes[TR_NUM_PARAMS], off = 0;
    tr_param_sizes(c, sizes);
    int bad = 0;
    for (int id = 0; id < TR_NUM_PARAMS; id++) {
        double maxref = 0, maxd = 0, l2d = 0, l2r = 0;
        for (size_t i = off; i < off + sizes[id]; i++) {
            double d = fabs((double)gpu[i] - cpu[i]);
            maxd = d > maxd ? d : maxd;
            maxref = fabs(cpu[i]) > maxref ? fabs(cpu[i]) : maxref;
            l2d += d * d;
            l2r += (double)cpu[i] * cpu[i];
        }
        bool ok = maxd <= 1e-6 + 2e-3 * maxref && sqrt(l2d) <= 1e-4 * sqrt(l2r) + 1e-9;
        printf("  grad %-9s n=%-7zu max|cpu| %.3e  max|d| %.3e  rel l2 %.3e  %s\n",
               tr_param_name(id), sizes[id], maxref, maxd, l2r > 0 ? sqrt(l2d / l2r) : sqrt(l2d),
               ok ? "ok" : "FAIL");
        bad += !ok;
        off += sizes[id];
    }
    CHECK(bad == 0);
}

/* Eval with per-row losses: each row's against the CPU back end's, the
 * overall loss the same as without them (ev), one host sync for both. */
static void eval_rows(const struct tr_config *c, const float *params, tr_backend *be,
                      const int32_t *rows, double ev)
{
    double rg[B], rc[B], lg, lc;
    tr_backend *cpu = make(&tr_backend_cpu, c, TR_PREC_FP32, 1, params);
    CHECK_OK(tr_backend_cpu.eval(cpu, rows, B, &lc, rc));
    tr_backend_cpu.destroy(cpu);
    uint64_t s0 = tr_cuda_sync_count();
    CHECK_OK(tr_backend_cuda.eval(be, rows, B, &lg, rg));
    uint64_t syncs = tr_cuda_sync_count() - s0;
    double mean = 0.0, worst = 0.0;
    for (int r = 0; r < B; r++) {
        mean += rg[r] / B;
        double d = fabs(rg[r] - rc[r]);
        worst = d > worst ? d : worst;
        CHECK(d <= 1e-5 * (1 + fabs(rc[r])));
    }
    printf("fp32 eval by row: max |gpu - cpu| %.2e, mean of rows %.7f, loss %.7f (%.7f without "
           "rows), %llu sync%s\n", worst, mean, lg, ev, (unsigned long long)syncs,
           syncs == 1 ? "" : "s");
    CHECK(fabs(lg - ev) <= 1e-7 * (1 + fabs(ev)) && fabs(lc - ev) <= 1e-5 * (1 + fabs(lc)));
    CHECK(fabs(mean - lg) <= 1e-6 * (1 + fabs(lg)));
    CHECK(syncs == 1);
}

/* 1. One forward + backward, eval and logits. */
static void one_batch(const struct tr_config *c, const float *params)
{
    size_t n = tr_param_count(c), T1 = (size_t)c->seq_len + 1;
    int32_t *rows = malloc(B * T1 * sizeof(int32_t));
    float *gc = malloc(n * sizeof(float)), *gg = malloc(n * sizeof(float));
    float *lc = malloc((size_t)B * c->seq_len * c->vocab_padded * sizeof(float));
    float *lg = malloc((size_t)c->vocab * sizeof(float));
    CHECK(rows && gc && gg && lc && lg);
    random_rows(rows, B * T1, c->vocab, 1);
    double loss_c, loss_g, ev;
    CHECK_OK(tr_cpu_forward_backward(c, params, rows, B, &loss_c, gc, lc));
    tr_backend *be = make(&tr_backend_cuda, c, TR_PREC_FP32, 1, params);
    CHECK_OK(tr_cuda_debug_grads(be, rows, B, &loss_g, gg));
    printf("fp32 one batch: loss cpu %.7f gpu %.7f (|d| %.2e)\n", loss_c, loss_g,
           fabs(loss_g - loss_c));
    CHECK(fabs(loss_g - loss_c) <= 1e-5 * (1 + fabs(loss_c)));
    check_grads(c, gg, gc);
    CHECK_OK(tr_backend_cuda.eval(be, rows, B, &ev, NULL));
    printf("fp32 eval loss %.7f\n", ev);
    CHECK(fabs(ev - loss_c) <= 1e-5 * (1 + fabs(loss_c)));
    eval_rows(c, params, be, rows, ev);
    /* The sampler's logits: a forward over the first n ids of row 1 must
     * give the last position's logits of the CPU's full-length forward of
     * row 1, position n - 1 (causality). */
    int npos = 20;
    CHECK_OK(tr_backend_cuda.logits(be, rows + T1, npos, lg));
    const float *ref = lc + ((size_t)1 * c->seq_len + (npos - 1)) * c->vocab_padded;
    double md = 0, mr = 0;
    for (int v = 0; v < c->vocab; v++) {
        md = fmax(md, fabs((double)lg[v] - ref[v]));
        mr = fmax(mr, fabs(ref[v]));
    }
    printf("fp32 logits of a %d-token context: max|d| %.2e (max|cpu| %.2e)\n", npos, md, mr);
    CHECK(md <= 1e-4 * (1 + mr));
    tr_backend_cuda.destroy(be);
    free(rows);
    free(gc);
    free(gg);
    free(lc);
    free(lg);
}

static struct tr_step_hparams hparams(int t)
{
    return (struct tr_step_hparams){ .t = t, .lr = 3e-3f * (t < 5 ? (float)t / 5 : 1.0f),
                                     .weight_decay = 0.1f, .beta1 = 0.9f, .beta2 = 0.95f,
                                     .eps = 1e-8f, .grad_clip = 1.0f };
}

/* Run steps [first, last] on be with two steps in flight where allowed. */
static void run_steps(const struct tr_backend_ops *ops, tr_backend *be, const int32_t *chunks,
                      size_t chunk_len, int first, int last, struct tr_step_result *out)
{
    int inflight = 0;
    for (int t = first; t <= last; t++) {
        struct tr_step_hparams hp = hparams(t);
        CHECK_OK(ops->submit_step(be, chunks + (size_t)(t - 1) * chunk_len, &hp));
        inflight++;
        while (inflight >= ops->max_in_flight || (t == last && inflight)) {
            struct tr_step_result r;
            CHECK_OK(ops->collect_step(be, &r));
            CHECK(r.t >= first && r.t <= last);
            out[r.t - 1] = r;
            inflight--;
        }
    }
}

/* 2 and 3. Training tracks; state round trips. */
static void training(const struct tr_config *c, const float *params)
{
    size_t n = tr_param_count(c), T1 = (size_t)c->seq_len + 1, chunk_len = (size_t)K * B * T1;
    int32_t *chunks = malloc(STEPS * chunk_len * sizeof(int32_t));
    struct tr_step_result rc[STEPS], rg[STEPS], rh[STEPS];
    CHECK(chunks);
    /* A learnable stream (a Markov chain) so the loss moves. */
    uint32_t *ids = malloc(STEPS * chunk_len * sizeof(uint32_t));
    CHECK(ids);
    tt_markov_tokens(ids, STEPS * chunk_len, (uint32_t)c->vocab, 3);
    for (size_t i = 0; i < STEPS * chunk_len; i++)
        chunks[i] = (int32_t)ids[i];
    free(ids);

    tr_backend *cpu = make(&tr_backend_cpu, c, TR_PREC_FP32, K, params);
    tr_backend *gpu = make(&tr_backend_cuda, c, TR_PREC_FP32, K, params);
    run_steps(&tr_backend_cpu, cpu, chunks, chunk_len, 1, STEPS, rc);
    run_steps(&tr_backend_cuda, gpu, chunks, chunk_len, 1, STEPS / 2, rg);
    /* Hand the GPU state to a second GPU back end mid-run (what a
     * checkpoint does) and continue there. */
    float *p = malloc(n * sizeof(float)), *m = malloc(n * sizeof(float));
    float *v = malloc(n * sizeof(float)), *p2 = malloc(n * sizeof(float));
    float *m2 = malloc(n * sizeof(float)), *v2 = malloc(n * sizeof(float));
    CHECK(p && m && v && p2 && m2 && v2);
    CHECK_OK(tr_backend_cuda.get_params(gpu, p));
    CHECK_OK(tr_backend_cuda.get_opt_state(gpu, m, v));
    tr_backend *gpu2 = make(&tr_backend_cuda, c, TR_PREC_FP32, K, p);
    CHECK_OK(tr_backend_cuda.set_opt_state(gpu2, m, v));
    CHECK_OK(tr_backend_cuda.get_params(gpu2, p2));
    CHECK_OK(tr_backend_cuda.get_opt_state(gpu2, m2, v2));
    CHECK(!memcmp(p, p2, n * sizeof(float)) && !memcmp(m, m2, n * sizeof(float)) &&
          !memcmp(v, v2, n * sizeof(float)));
    memcpy(rh, rg, sizeof(rg));
    run_steps(&tr_backend_cuda, gpu, chunks, chunk_len, STEPS / 2 + 1, STEPS, rg);
    run_steps(&tr_backend_cuda, gpu2, chunks, chunk_len, STEPS / 2 + 1, STEPS, rh);
    int bad = 0;
    for (int s = 1; s <= STEPS; s++) {
        const struct tr_step_result *a = &rc[s - 1], *g = &rg[s - 1], *h = &rh[s - 1];
        double dl = fabs(g->loss - a->loss), dn = fabs(g->grad_norm - a->grad_norm);
        bool ok = g->t == s && dl <= 1e-5 * (1 + s) * (1 + fabs(a->loss)) &&
                  dn <= 1e-3 * (1 + s / 10.0) * a->grad_norm &&
                  fabs(g->accuracy - a->accuracy) <= 0.02;
        /* The continued copy must match the original bit for bit. */
        bool same = h->loss == g->loss && h->grad_norm == g->grad_norm &&
                    h->accuracy == g->accuracy;
        if (s == 1 || s % 10 == 0 || !ok || !same)
            printf("step %2d: loss cpu %.6f gpu %.6f (|d| %.1e)  norm cpu %.5f gpu %.5f  acc "
                   "%.4f %.4f%s%s\n", s, a->loss, g->loss, dl, a->grad_norm, g->grad_norm,
                   a->accuracy, g->accuracy, ok ? "" : "  FAIL", same ? "" : "  RESUME DIFFERS");
        bad += !ok || !same;
    }
    CHECK(bad == 0);
    CHECK(rc[STEPS - 1].loss < rc[0].loss - 0.3);
    tr_backend_cuda.destroy(gpu2);
    tr_backend_cuda.destroy(gpu);
    tr_backend_cpu.destroy(cpu);
    free(chunks);
    free(p);
    free(m);
    free(v);
    free(p2);
    free(m2);
    free(v2);
}

/* 4. bf16: close to fp32 at the start, and it learns. */
static void bf16_smoke(const struct tr_config *c, const float *params)
{
    size_t T1 = (size_t)c->seq_len + 1;
    int32_t *rows = malloc(B * T1 * sizeof(int32_t));
    CHECK(rows);
    random_rows(rows, B * T1, c->vocab, 2);
    tr_backend *f = make(&tr_backend_cuda, c, TR_PREC_FP32, 1, params);
    tr_backend *h = make(&tr_backend_cuda, c, TR_PREC_BF16, 1, params);
    /* bf16 gradients against the CPU's float32 ones: the same direction,
     * within bf16 rounding of activations (rel l2 <= 5e-2 per tensor). */
    size_t n = tr_param_count(c), sizes[TR_NUM_PARAMS], off = 0;
    float *gc = malloc(n * sizeof(float)), *gh = malloc(n * sizeof(float));
    CHECK(gc && gh);
    double lc, lh;
    CHECK_OK(tr_cpu_forward_backward(c, params, rows, B, &lc, gc, NULL));
    CHECK_OK(tr_cuda_debug_grads(h, rows, B, &lh, gh));
    tr_param_sizes(c, sizes);
    double worst = 0;
    for (int id = 0; id < TR_NUM_PARAMS; id++) {
        double d2 = 0, r2 = 0;
        for (size_t i = off; i < off + sizes[id]; i++) {
            d2 += ((double)gh[i] - gc[i]) * ((double)gh[i] - gc[i]);
            r2 += (double)gc[i] * gc[i];
        }
        double rel = r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
        worst = rel > worst ? rel : worst;
        off += sizes[id];
    }
    printf("bf16 one batch: loss %.5f (cpu %.5f), worst per-tensor gradient rel l2 %.2e\n", lh, lc,
           worst);
    CHECK(fabs(lh - lc) <= 1e-2 * lc && worst <= 5e-2);
    free(gc);
    free(gh);
    struct tr_step_result rf, rh, first = { 0 };
    for (int t = 1; t <= 150; t++) {
        struct tr_step_hparams hp = { .t = t, .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f,
                                      .eps = 1e-8f, .grad_clip = 1.0f };
        CHECK_OK(tr_backend_cuda.submit_step(h, rows, &hp));
        CHECK_OK(tr_backend_cuda.collect_step(h, &rh));
        CHECK(rh.t == t && isfinite(rh.loss));
        if (t == 1) {
            CHECK_OK(tr_backend_cuda.submit_step(f, rows, &hp));
            CHECK_OK(tr_backend_cuda.collect_step(f, &rf));
            first = rh;
            printf("bf16 first loss %.5f, fp32 %.5f\n", rh.loss, rf.loss);
            CHECK(fabs(rh.loss - rf.loss) <= 2e-2 * rf.loss);
            CHECK(fabs(rh.grad_norm - rf.grad_norm) <= 0.1 * rf.grad_norm);
        }
    }
    double ev, ev_rows, by_row[B], mean = 0.0;
    CHECK_OK(tr_backend_cuda.eval(h, rows, B, &ev, NULL));
    CHECK_OK(tr_backend_cuda.eval(h, rows, B, &ev_rows, by_row));   /* bf16: the same sums */
    for (int r = 0; r < B; r++)
        mean += by_row[r] / B;
    printf("bf16 eval by row: mean %.6f, loss %.6f\n", mean, ev_rows);
    CHECK(fabs(ev_rows - ev) <= 1e-7 * (1 + ev) && fabs(mean - ev) <= 1e-5 * (1 + ev));
    printf("bf16 overfit one batch: loss %.4f -> %.4f (accuracy %.3f, eval %.4f)\n", first.loss,
           rh.loss, rh.accuracy, ev);
    CHECK(rh.loss < 0.25 * first.loss && ev < 0.25 * first.loss);
    tr_backend_cuda.destroy(f);
    tr_backend_cuda.destroy(h);
    free(rows);
}

int main(void)
{
    if (kn_device_check()) {
        printf("SKIP: %s\n", ingot_errmsg());
        return TT_SKIP;
    }
    struct tr_config c = tiny();
    float *params = malloc(tr_param_count(&c) * sizeof(float));
    CHECK(params);
    tr_params_init(&c, 42, params);
    one_batch(&c, params);
    training(&c, params);
    bf16_smoke(&c, params);
    free(params);
    printf("gpu parity: all checks passed\n");
    return 0;
}
