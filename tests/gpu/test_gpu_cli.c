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
 *     in the step's submit and collect after warm-up.
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

/* Straight 12 steps vs 5 + resume; returns the first differing step (0: none). */
static int resume_case(const char *bin, const char *dir, const char *data, const char *prec)
{
    char *out = tt_fmt("%s/out-%s.txt", dir, prec);
    char *common = tt_fmt("'%s' --device cuda --precision %s --data '%s' --model tiny --layers 2 "
                          "--dim 64 --seq-len 32 --batch 4 --batch-tokens 256 --steps 12 "
                          "--warmup 3 --lr 1e-2 --val-every 4 --val-tokens 256 --print-every 1",
                          bin, prec, data);
    char *cmd = tt_fmt("%s --metrics '%s/a-%s.jsonl' --ckpt-dir '%s/ca-%s'", common, dir, prec,
                       dir, prec);
    tt_run_ok(cmd, out);
    free(cmd);
    cmd = tt_fmt("%s --metrics '%s/b-%s.jsonl' --ckpt-dir '%s/cb-%s' --stop-after 5", common, dir,
                 prec, dir, prec);
    tt_run_ok(cmd, out);
    free(cmd);
    cmd = tt_fmt("%s --metrics '%s/b-%s.jsonl' --ckpt-dir '%s/cb-%s' --resume", common, dir, prec,
                 dir, prec);
    tt_run_ok(cmd, out);
    char *s = tt_slurp(out);
    CHECK(s && strstr(s, "resumed from") && strstr(s, "device cuda"));
    free(s);
    free(cmd);

    struct tt_step a[40], b[40];
    char *ma = tt_fmt("%s/a-%s.jsonl", dir, prec), *mb = tt_fmt("%s/b-%s.jsonl", dir, prec);
    int na = tt_read_steps(ma, a, 40), nb = tt_read_steps(mb, b, 40), differs = 0;
    CHECK(na == 12 && nb == 12);
    for (int i = 0; i < 12 && !differs; i++) {
        CHECK(a[i].step == i + 1 && b[i].step == i + 1 && isfinite(a[i].loss));
        if (a[i].loss != b[i].loss || a[i].accuracy != b[i].accuracy || a[i].lr != b[i].lr ||
            a[i].grad_norm != b[i].grad_norm) {
            printf("%s: step %d: straight loss %.17g norm %.17g, resumed loss %.17g norm %.17g\n",
                   prec, i + 1, a[i].loss, a[i].grad_norm, b[i].loss, b[i].grad_norm);
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
    char *ca = tt_fmt("%s/ca-%s/ckpt-00000012.bin", dir, prec);
    char *cb = tt_fmt("%s/cb-%s/ckpt-00000012.bin", dir, prec);
    if (!differs && !tt_ckpt_payload_equal(ca, cb))
        differs = 12;
    printf("%s resume: 12 straight %s 5 + 7 resumed; loss %.6f -> %.6f, val %.6f\n", prec,
           differs ? "!=" : "==", a[0].loss, a[11].loss, vla[2]);
    CHECK(a[11].loss < a[0].loss);
    free(ma); free(mb); free(ca); free(cb); free(common); free(out);
    return differs;
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

static void profile(const char *bin, const char *dir)
{
    char *out = tt_fmt("%s/prof.txt", dir), *m = tt_fmt("%s/prof.jsonl", dir);
    char *cmd = tt_fmt("'%s' --device cuda --synthetic --vocab 1000 --model tiny --batch 8 "
                       "--batch-tokens 1024 --profile 8 --metrics '%s'", bin, m);
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
        printf("profile step %d: syncs %.0f, host allocs %.0f, fwd %.3f bwd %.3f opt %.3f ms, "
               "busy %.1f%%, cpu %.1f%%\n", n, syncs, allocs, fwd, bwd, opt,
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
    printf("profile: %d of %d steps with a power figure\n", with_power, n);
    free(s); free(log); free(out); free(m); free(cmd);
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
    CHECK(resume_case(bin, dir, data, "fp32") == 0);
    int bf = resume_case(bin, dir, data, "bf16");
    printf("bf16 resume: %s\n", bf ? "NOT bit-exact (reported, not required)" : "bit-exact");
    auto_device(bin, dir);
    bf16_learns(bin, dir, data);
    profile(bin, dir);
    tt_rmtree(dir);
    free(ids);
    free(data);
    free(dir);
    return 0;
}
