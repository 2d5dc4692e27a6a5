/* ingot-train --device cuda end to end (skips with 77 without a GPU):
 *  1. fp32 resume is bit-exact: 12 steps straight and 5 + resumed 7 log the
 *     same per-step losses, accuracies, norms and val losses and end with
 *     the same weights and AdamW state (the kernels are deterministic: no
 *     atomics, fixed reduction orders, fixed cuBLASLt algorithms);
 *  2. --device auto picks the GPU;
 *  3. bf16 trains on a learnable corpus (the loss falls), and its resume is
 *     reported (bf16 copies are re-derived from the fp32 master weights, so
 *     it is expected to be exact too);
 *  4. --profile: every step's metrics line carries the profile keys, with
 *     exactly one host<->device synchronisation per step and, where counted,
 *     no more than a handful of host allocations (the CUDA runtime's own)
 *     in the step's submit and collect after warm-up;
 *  5. 50 fp32 steps on the GPU track the CPU trainer's (the reference): per
 *     step loss and gradient norm, and the val losses, within float32
 *     rounding grown over the steps (test_gpu_parity's tolerances);
 *  6. a mixture's val loss by source on the GPU (fp32 and bf16): each val
 *     record's sources, weighted by their windows, give its val loss, the
 *     val line names them, and in fp32 they track the CPU trainer's.
 *  7. a refused micro-step loop (test hook): noted, unrolled, the same
 *     numbers bit for bit as the loop's (-Dtest_hooks builds; else skipped).
 * 1, 4, 5, 6 and 7 run for GPT-2 and for LLaMA (--arch llama, llama-tiny: GQA).
 * usage: test_gpu_cli INGOT_TRAIN */
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "fsutil.h"
#include "kn_common.h"
#include "median.h"
#include "tt_util.h"

enum { VOCAB = 90, N_TRAIN = 40000, N_VAL = 2000 };

/* The tiny model of each architecture the cases run: GPT-2, and LLaMA with
 * grouped-query heads (llama-tiny: 4 query heads over 2 kv heads). */
static const char *model_args(const char *arch)
{
    return !strcmp(arch, "llama") ? "--arch llama --model llama-tiny --layers 2 --dim 64"
                                  : "--model tiny --layers 2 --dim 64";
}

/* Straight 12 steps vs 5 + resume; returns the first differing step (0: none). */
static int resume_case(const char *bin, const char *dir, const char *data, const char *prec,
                       const char *arch)
{
    char *tag = tt_fmt("%s-%s", arch, prec);
    char *out = tt_fmt("%s/out-%s.txt", dir, tag);
    char *common = tt_fmt("'%s' --device cuda --precision %s --data '%s' %s --seq-len 32 "
                          "--batch 4 --batch-tokens 256 --steps 12 --warmup 3 --lr 1e-2 "
                          "--val-every 4 --val-tokens 256 --print-every 1",
                          bin, prec, data, model_args(arch));
    char *cmd = tt_fmt("%s --metrics '%s/a-%s.jsonl' --ckpt-dir '%s/ca-%s'", common, dir, tag,
                       dir, tag);
    tt_run_ok(cmd, out);
    free(cmd);
    cmd = tt_fmt("%s --metrics '%s/b-%s.jsonl' --ckpt-dir '%s/cb-%s' --stop-after 5", common, dir,
                 tag, dir, tag);
    tt_run_ok(cmd, out);
    free(cmd);
    cmd = tt_fmt("%s --metrics '%s/b-%s.jsonl' --ckpt-dir '%s/cb-%s' --resume", common, dir, tag,
                 dir, tag);
    tt_run_ok(cmd, out);
    char *s = tt_slurp(out);
    CHECK(s && strstr(s, "resumed from") && strstr(s, "device cuda"));
    free(s);
    free(cmd);

    struct tt_step a[40], b[40];
    char *ma = tt_fmt("%s/a-%s.jsonl", dir, tag), *mb = tt_fmt("%s/b-%s.jsonl", dir, tag);
    int na = tt_read_steps(ma, a, 40), nb = tt_read_steps(mb, b, 40), differs = 0;
    CHECK(na == 12 && nb == 12);
    for (int i = 0; i < 12 && !differs; i++) {
        CHECK(a[i].step == i + 1 && b[i].step == i + 1 && isfinite(a[i].loss));
        if (a[i].loss != b[i].loss || a[i].accuracy != b[i].accuracy || a[i].lr != b[i].lr ||
            a[i].grad_norm != b[i].grad_norm) {
            printf("%s: step %d: straight loss %.17g norm %.17g, resumed loss %.17g norm %.17g\n",
                   tag, i + 1, a[i].loss, a[i].grad_norm, b[i].loss, b[i].grad_norm);
            differs = i + 1;
        }
    }
    long vsa[10], vsb[10];
    double vla[10], vlb[10];
    int nva = tt_read_vals(ma, vsa, vla, 10), nvb = tt_read_vals(mb, vsb, vlb, 10);
    CHECK(nva == 3 && nvb == 3);
    for (int i = 0; i < 3 && !differs; i++)
        if (vsa[i] != vsb[i] || vla[i] != vlb[i])
            differs = (int)vsa[i];
    char *ca = tt_fmt("%s/ca-%s/ckpt-00000012.bin", dir, tag);
    char *cb = tt_fmt("%s/cb-%s/ckpt-00000012.bin", dir, tag);
    if (!differs && !tt_ckpt_payload_equal(ca, cb))
        differs = 12;
    printf("%s resume: 12 straight %s 5 + 7 resumed; loss %.6f -> %.6f, val %.6f\n", tag,
           differs ? "!=" : "==", a[0].loss, a[11].loss, vla[2]);
    CHECK(a[11].loss < a[0].loss);
    free(ma); free(mb); free(ca); free(cb); free(common); free(out); free(tag);
    return differs;
}

/* 5. 50 fp32 steps, --device cpu (the reference) and --device cuda, same
 * init, data and schedule: each step's loss and gradient norm and the val
 * losses within test_gpu_parity's tolerances (float32 without TF32 in both,
 * different summation orders, the difference allowed to grow with s). */
static void tracks_cpu(const char *bin, const char *dir, const char *data, const char *arch)
{
    enum { STEPS = 50 };
    struct tt_step st[2][STEPS + 4];
    long vs[2][8];
    double vl[2][8];
    int nv[2];
    static const char *const dev[2] = { "cpu", "cuda" };
    for (int d = 0; d < 2; d++) {
        char *out = tt_fmt("%s/track-%s-%s.txt", dir, arch, dev[d]);
        char *m = tt_fmt("%s/track-%s-%s.jsonl", dir, arch, dev[d]);
        char *cmd = tt_fmt("'%s' --device %s --precision fp32 --data '%s' %s --seq-len 32 "
                           "--batch 4 --batch-tokens 256 --steps %d --warmup 5 --lr 1e-2 "
                           "--val-every 25 --val-tokens 512 --print-every 25 --metrics '%s'",
                           bin, dev[d], data, model_args(arch), STEPS, m);
        tt_run_ok(cmd, out);
        CHECK(tt_read_steps(m, st[d], STEPS + 4) == STEPS);
        nv[d] = tt_read_vals(m, vs[d], vl[d], 8);
        free(out); free(m); free(cmd);
    }
    int bad = 0;
    double worst_loss = 0, worst_norm = 0;
    for (int i = 0; i < STEPS; i++) {
        const struct tt_step *c = &st[0][i], *g = &st[1][i];
        const int s = i + 1;
        const double dl = fabs(g->loss - c->loss), dn = fabs(g->grad_norm - c->grad_norm);
        const int ok = c->step == s && g->step == s && isfinite(c->loss) &&
                       dl <= 1e-5 * (1 + s) * (1 + fabs(c->loss)) &&
                       dn <= 1e-3 * (1 + s / 10.0) * c->grad_norm;
        worst_loss = dl > worst_loss ? dl : worst_loss;
        worst_norm = dn / c->grad_norm > worst_norm ? dn / c->grad_norm : worst_norm;
        if (!ok)
            printf("%s step %d: loss cpu %.8f gpu %.8f, norm cpu %.6f gpu %.6f  FAIL\n", arch, s,
                   c->loss, g->loss, c->grad_norm, g->grad_norm);
        bad += !ok;
    }
    CHECK(nv[0] == 2 && nv[1] == 2);
    for (int i = 0; i < 2; i++)
        CHECK(vs[0][i] == vs[1][i] && fabs(vl[1][i] - vl[0][i]) <= 1e-4 * (1 + vl[0][i]));
    printf("%s fp32 %d steps, cuda against cpu: loss %.6f -> %.6f (cpu %.6f), worst |dloss| "
           "%.2e, worst norm rel %.2e, val %.6f / %.6f\n", arch, STEPS, st[1][0].loss,
           st[1][STEPS - 1].loss, st[0][STEPS - 1].loss, worst_loss, worst_norm, vl[1][1],
           vl[0][1]);
    CHECK(bad == 0);
    CHECK(st[0][STEPS - 1].loss < st[0][0].loss - 0.3);
}

/* 6. --data DATA:3 --data DATA2 on the CPU and on the GPU in fp32 and bf16:
 * the val records' sources (window-weighted: the overall val loss, to float
 * rounding of the GPU's sums), the val line, and fp32 against the CPU. */
static void mixture_by_source(const char *bin, const char *dir, const char *data,
                              const char *data2, const char *arch)
{
    static const char *const dev[3] = { "cpu", "cuda", "cuda" };
    static const char *const prec[3] = { "fp32", "fp32", "bf16" };
    struct tt_val v[3][4];
    for (int d = 0; d < 3; d++) {
        char *out = tt_fmt("%s/mix-%s-%d.txt", dir, arch, d);
        char *m = tt_fmt("%s/mix-%s-%d.jsonl", dir, arch, d);
        char *cmd = tt_fmt("'%s' --device %s --precision %s --data '%s:3' --data '%s' %s "
                           "--seq-len 32 --batch 4 --batch-tokens 256 --steps 20 --warmup 5 "
                           "--lr 1e-2 --val-every 10 --val-tokens 512 --print-every 10 "
                           "--metrics '%s'", bin, dev[d], prec[d], data, data2,
                           model_args(arch), m);
        tt_run_ok(cmd, out);
        CHECK(tt_read_val_src(m, v[d], 4) == 2);
        char *s = tt_slurp(out);
        CHECK(s && strstr(s, "(16 windows) | data ") && strstr(s, ", data2 "));
        for (int r = 0; r < 2; r++) {
            const struct tt_val *x = &v[d][r];
            CHECK(x->n_src == 2 && x->windows[0] + x->windows[1] == 16 &&
                  x->windows[0] > 0 && x->windows[1] > 0);
            double w = (x->windows[0] * x->src[0] + x->windows[1] * x->src[1]) / 16.0;
            CHECK(fabs(w - x->loss) <= 1e-5 * (1 + fabs(x->loss)));
            CHECK(x->windows[0] == v[0][r].windows[0] && x->step == v[0][r].step);
        }
        free(s); free(out); free(m); free(cmd);
    }
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 2; i++)
            CHECK(fabs(v[1][r].src[i] - v[0][r].src[i]) <= 1e-4 * (1 + v[0][r].src[i]));
    printf("%s mixture val by source at step 20: cpu %.6f / %.6f, cuda fp32 %.6f / %.6f, "
           "bf16 %.6f / %.6f (%ld + %ld windows)\n", arch, v[0][1].src[0], v[0][1].src[1],
           v[1][1].src[0], v[1][1].src[1], v[2][1].src[0], v[2][1].src[1], v[0][1].windows[0],
           v[0][1].windows[1]);
}

static void auto_device(const char *bin, const char *dir)
{
    char *out = tt_fmt("%s/auto.txt", dir);
    char *cmd = tt_fmt("'%s' --device auto --synthetic --vocab 300 --model tiny --steps 2 "
                       "--print-every 1", bin);
    tt_run_ok(cmd, out);
    char *s = tt_slurp(out);
    CHECK(s && strstr(s, "device cuda") && strstr(s, "precision bf16"));
    printf("--device auto: picked cuda (bf16 by default)\n");
    free(s);
    free(cmd);
    free(out);
}

static void bf16_learns(const char *bin, const char *dir, const char *data)
{
    char *out = tt_fmt("%s/bf16.txt", dir), *m = tt_fmt("%s/bf16.jsonl", dir);
    char *cmd = tt_fmt("'%s' --device cuda --precision bf16 --data '%s' --model tiny --seq-len 64 "
                       "--batch 8 --steps 120 --lr 3e-3 --warmup 10 --val-every 60 "
                       "--val-tokens 1024 --metrics '%s' --print-every 40", bin, data, m);
    tt_run_ok(cmd, out);
    struct tt_step st[200];
    long vs[10];
    double vl[10];
    int n = tt_read_steps(m, st, 200), nv = tt_read_vals(m, vs, vl, 10);
    CHECK(n == 120 && nv == 2);
    printf("bf16 corpus: loss %.4f -> %.4f, val %.4f -> %.4f (ln V %.4f)\n", st[0].loss,
           st[n - 1].loss, vl[0], vl[1], log((double)VOCAB));
    CHECK(fabs(st[0].loss - log((double)VOCAB)) < 0.15);
    CHECK(st[n - 1].loss < st[0].loss - 1.0 && vl[1] < vl[0]);
    free(out); free(m); free(cmd);
}

static double key(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    CHECK(v);   /* present; null means "not available" */
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void profile(const char *bin, const char *dir, const char *arch)
{
    char *out = tt_fmt("%s/prof-%s.txt", dir, arch), *m = tt_fmt("%s/prof-%s.jsonl", dir, arch);
    char *cmd = tt_fmt("'%s' --device cuda --synthetic --vocab 1000 %s --batch 8 "
                       "--batch-tokens 1024 --profile 8 --metrics '%s'", bin,
                       !strcmp(arch, "llama") ? "--arch llama --model llama-tiny" : "--model tiny",
                       m);
    tt_run_ok(cmd, out);
    char *s = tt_slurp(m), *log = tt_slurp(out);
    CHECK(s && log);
    static const char *const keys[] = {
        "tok_per_s", "mfu", "cpu_pct", "syncs", "gpu_busy_pct", "host_assemble_ms", "upload_ms",
        "fwd_ms", "bwd_ms", "opt_ms", "gpu_idle_ms", "host_allocs", "sm_clock_mhz",
        "gpu_util_pct", "power_w", "power_capped",
    };
    int n = 0, with_power = 0;
    double rate[8];
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        CHECK(j);
        if (!json_object_get(j, "loss")) {
            json_decref(j);
            continue;
        }
        n++;
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            (void)key(j, keys[k]);
        double syncs = key(j, "syncs"), allocs = key(j, "host_allocs");
        double fwd = key(j, "fwd_ms"), bwd = key(j, "bwd_ms"), opt = key(j, "opt_ms");
        printf("%s profile step %d: syncs %.0f, host allocs %.0f, fwd %.3f bwd %.3f opt %.3f ms, "
               "busy %.1f%%, cpu %.1f%%\n", arch, n, syncs, allocs, fwd, bwd, opt,
               key(j, "gpu_busy_pct"), key(j, "cpu_pct"));
        CHECK(syncs == 1);
        CHECK(fwd > 0 && bwd > 0 && opt > 0);
        /* NVML's board power (null without NVML) and whether the power cap
         * holds the clocks (true / false, null where NVML cannot say) */
        const double pw = key(j, "power_w");
        const json_t *pc = json_object_get(j, "power_capped");
        CHECK(isnan(pw) || (pw > 0 && pw < 5000));
        CHECK(json_is_boolean(pc) || json_is_null(pc));
        with_power += !isnan(pw);
        if (n <= 8)
            rate[n - 1] = key(j, "tok_per_s");
        /* Ingot's step path allocates nothing; what remains (measured: 1-5
         * per step on an H200, driver 580) happens inside the CUDA runtime's
         * own calls (graph launches, event waits). Direct kernel launches
         * through cuBLAS allocated 270-420 per step, which this catches. */
        if (n >= 3)
            CHECK(isnan(allocs) || (allocs >= 0 && allocs <= 16));
        json_decref(j);
    }
    CHECK(n == 8);
    CHECK(strstr(log, "syncs"));   /* the per-step table was printed */
    /* 2 micro-steps per step: the first as the step graph's device loop */
    CHECK(strstr(log, "one CUDA graph per step (micro-steps looped on the device)"));
    /* Each step's tok/s is over its device period: none of steps 4 .. 8
     * (the pipeline full; 2 and 3 ran back to back while it filled) more
     * than 4x their median (over the host's interval between collects, the
     * drain at the end gave the second-to-last step 50x, session 14) */
    double sorted[5];
    memcpy(sorted, rate + 3, sizeof sorted);
    const double med = ingot_median(sorted, 5);
    for (int i = 3; i < 8; i++)
        CHECK(rate[i] > 0 && rate[i] <= 4.0 * med);
    /* the closing power line where steps after the warm-up had a figure */
    CHECK(!strstr(log, "profile: GPU power") == (with_power <= 3));
    printf("%s profile: %d of %d steps with a power figure\n", arch, with_power, n);
    free(s); free(log); free(out); free(m); free(cmd);
}

/* 7. A step graph whose micro-step loop fails while its body is captured
 * (the test hook INGOT_TRAIN_TEST_LOOP_REFUSE of a -Dtest_hooks build: 1, a
 * launch refused by its launcher; 2, a synchronize on the body's stream,
 * which invalidates its capture and once crashed the driver when the graph
 * was destroyed): the trainer says so, unrolls the micro-steps and trains
 * to the same losses, accuracies and gradient norms, bit for bit, as with
 * the loop and as unrolled by choice (INGOT_STEP_LOOP=0). */
static void loop_refused(const char *bin, const char *dir, const char *data, const char *arch)
{
    char *ver = tt_fmt("%s/version.txt", dir), *vcmd = tt_fmt("'%s' --version", bin);
    tt_run_ok(vcmd, ver);
    char *v = tt_slurp(ver);
    CHECK(v);
    const int hooks = strstr(v, "test hooks: compiled in") != NULL;
    free(v); free(ver); free(vcmd);
    if (!hooks) {
        printf("%s loop refused: skipped (no test hooks in this build)\n", arch);
        return;
    }
    static const char *const env[] = { "", "INGOT_STEP_LOOP=0 ", "INGOT_TRAIN_TEST_LOOP_REFUSE=1 ",
                                       "INGOT_TRAIN_TEST_LOOP_REFUSE=2 " };
    static const char *const name[] = { "looped", "unrolled", "refused launch",
                                        "invalidated body" };
    enum { STEPS = 8, RUNS = 4 };
    struct tt_step st[RUNS][STEPS + 1];
    for (int i = 0; i < RUNS; i++) {
        char *out = tt_fmt("%s/loop-%s-%d.txt", dir, arch, i);
        char *m = tt_fmt("%s/loop-%s-%d.jsonl", dir, arch, i);
        /* 3 micro-steps of 4 x 32 per step: the first two are the loop */
        char *cmd = tt_fmt("%s'%s' --device cuda --data '%s' %s --seq-len 32 --batch 4 "
                           "--batch-tokens 384 --steps %d --warmup 2 --lr 1e-2 --metrics '%s'",
                           env[i], bin, data, model_args(arch), STEPS, m);
        tt_run_ok(cmd, out);
        char *log = tt_slurp(out);
        CHECK(log);
        const int looped = strstr(log, "micro-steps looped on the device") != NULL;
        const char *why = i == 2 ? "no graph loop for the micro-steps (kn_load_ids_at: NULL buffer"
                                 : "no graph loop for the micro-steps (cuda: test hook "
                                   "INGOT_TRAIN_TEST_LOOP_REFUSE: ";
        const int noted = strstr(log, why) != NULL && strstr(log, "they are unrolled") != NULL;
        printf("%s loop %s: looped %d, fallback noted %d\n", arch, name[i], looped, noted);
        CHECK(looped == (i == 0) && noted == (i >= 2));
        CHECK(strstr(log, "one CUDA graph per step"));
        CHECK(tt_read_steps(m, st[i], STEPS + 1) == STEPS);
        free(log); free(cmd); free(m); free(out);
    }
    for (int i = 1; i < RUNS; i++)
        for (int k = 0; k < STEPS; k++) {
            if (st[i][k].loss != st[0][k].loss || st[i][k].accuracy != st[0][k].accuracy ||
                st[i][k].grad_norm != st[0][k].grad_norm)
                printf("%s loop %s: step %d: loss %.17g norm %.17g, looped %.17g %.17g\n", arch,
                       name[i], k + 1, st[i][k].loss, st[i][k].grad_norm, st[0][k].loss,
                       st[0][k].grad_norm);
            CHECK(st[i][k].loss == st[0][k].loss && st[i][k].accuracy == st[0][k].accuracy &&
                  st[i][k].grad_norm == st[0][k].grad_norm);
        }
    printf("%s loop refused (both ways): unrolled after the note, %d steps equal to the loop's "
           "bit for bit (loss %.6f -> %.6f)\n", arch, STEPS, st[0][0].loss,
           st[0][STEPS - 1].loss);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    if (kn_device_check()) {
        printf("SKIP: %s\n", ingot_errmsg());
        return TT_SKIP;
    }
    const char *bin = argv[1];
    char *dir = tt_tmpdir("gpucli"), *data = tt_fmt("%s/data", dir);
    uint32_t *ids = malloc((N_TRAIN + N_VAL) * sizeof(uint32_t));
    CHECK(ids);
    tt_markov_tokens(ids, N_TRAIN + N_VAL, VOCAB, 21);
    struct tt_dataset d = { .dir = data, .vocab = VOCAB, .tokenizer_hash = 9, .bos_id = -1,
                            .train = ids, .n_train = N_TRAIN, .val = ids + N_TRAIN,
                            .n_val = N_VAL, .doc_len = 500, .shard_docs = 20 };
    CHECK_OK(tt_write_dataset(&d));
    /* a second source of the same tokenizer, for the mixture case */
    char *data2 = tt_fmt("%s/data2", dir);
    tt_markov_tokens(ids, N_TRAIN + N_VAL, VOCAB, 22);
    d.dir = data2;
    CHECK_OK(tt_write_dataset(&d));
    static const char *const archs[] = { "gpt2", "llama" };
    for (int a = 0; a < 2; a++) {
        CHECK(resume_case(bin, dir, data, "fp32", archs[a]) == 0);
        int bf = resume_case(bin, dir, data, "bf16", archs[a]);
        printf("%s bf16 resume: %s\n", archs[a],
               bf ? "NOT bit-exact (reported, not required)" : "bit-exact");
        tracks_cpu(bin, dir, data, archs[a]);
        mixture_by_source(bin, dir, data, data2, archs[a]);
        profile(bin, dir, archs[a]);
        loop_refused(bin, dir, data, archs[a]);
    }
    auto_device(bin, dir);
    bf16_learns(bin, dir, data);
    tt_rmtree(dir);
    free(ids);
    free(data);
    free(data2);
    free(dir);
    return 0;
}
