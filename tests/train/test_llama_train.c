/* ingot-train --arch llama on the CPU, end to end through the binary:
 *  1. learning: on a Markov corpus the first step's loss is ln(vocab) and
 *     the val loss ends below the corpus's unigram entropy (which a model
 *     that ignores context cannot beat); the start line names the shape;
 *  2. resume: 5 steps, stop, resume with only --ckpt-dir --resume, to 12:
 *     losses, grad norms, val losses and the final weights and AdamW state
 *     identical to an uninterrupted run;
 *  3. the checkpoint is version 3 with the llama fields in the header and
 *     in the settings; a GPT-2 run still writes version 2 with "arch":
 *     "gpt2" and no llama keys;
 *  4. --init-from a llama checkpoint takes its architecture and shape
 *     without --arch; `ingot-train eval` reads a llama checkpoint and gives
 *     the val loss the run logged;
 *  5. --config with "arch": "llama" and the llama keys, and the run's
 *     D/config.json, give the same model;
 *  6. refusals (usage errors exit 2): llama flags with --arch gpt2, a llama preset with --arch
 *     gpt2, --kv-heads not dividing --heads, an odd head size, resuming a
 *     llama checkpoint with another --kv-heads.
 * usage: test_llama_train INGOT_TRAIN */
#include <math.h>
#include <string.h>

#include "checkpoint.h"
#include "fsutil.h"
#include "tt_util.h"

enum { VOCAB = 200, N_TRAIN = 40000, N_VAL = 4000 };

static const char *bin;
static int failures;

static void learning(const char *data, const char *dir, double h1)
{
    char *metrics = tt_fmt("%s/learn.jsonl", dir), *out = tt_fmt("%s/learn.txt", dir);
    char *cmd = tt_fmt("'%s' --device cpu --arch llama --model llama-tiny --data '%s' "
                       "--seq-len 32 --batch 8 --steps 150 --lr 3e-3 --warmup 10 --val-every 50 "
                       "--val-tokens 2048 --metrics '%s' --threads 2 --print-every 50",
                       bin, data, metrics);
    tt_run_ok(cmd, out);
    char *s = tt_slurp(out);
    CHECK(s && strstr(s, "model llama KV2 F256 L2 H4 C64 T32"));
    free(s);
    struct tt_step st[200];
    long vs[10];
    double vl[10];
    int n = tt_read_steps(metrics, st, 200), nv = tt_read_vals(metrics, vs, vl, 10);
    CHECK(n == 150 && nv == 3);
    printf("learning: step 1 loss %.4f (ln V %.4f), val %.4f -> %.4f -> %.4f, unigram entropy "
           "%.4f\n", st[0].loss, log(VOCAB), vl[0], vl[1], vl[2], h1);
    CHECK(fabs(st[0].loss - log(VOCAB)) < 0.05);
    CHECK(vl[2] < h1 - 0.3);
    CHECK(vl[2] < vl[0]);
    free(cmd);
    free(metrics);
    free(out);
}

static void resume(const char *data, const char *dir)
{
    char *out = tt_fmt("%s/resume.txt", dir);
    char *common = tt_fmt("'%s' --device cpu --arch llama --model llama-tiny --layers 1 "
                          "--kv-heads 1 --data '%s' --seq-len 32 --batch 4 --batch-tokens 256 "
                          "--steps 12 --warmup 3 --lr 1e-2 --val-every 4 --val-tokens 256 "
                          "--print-every 1 --tie-embeddings --rope-theta 500000", bin, data);
    char *cmd = tt_fmt("%s --threads 1 --metrics '%s/a.jsonl' --ckpt-dir '%s/ca'", common, dir,
                       dir);
    tt_run_ok(cmd, out);
    free(cmd);
    cmd = tt_fmt("%s --threads 2 --metrics '%s/b.jsonl' --ckpt-dir '%s/cb' --stop-after 5", common,
                 dir, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    /* the rest from the checkpoint's settings alone */
    cmd = tt_fmt("'%s' --threads 2 --ckpt-dir '%s/cb' --resume", bin, dir);
    tt_run_ok(cmd, out);
    char *s = tt_slurp(out);
    CHECK(s && strstr(s, "resumed from") && strstr(s, "model llama KV1 F256 tied L1 H4 C64"));
    free(s);
    free(cmd);

    struct tt_step a[20], b[20];
    char *ma = tt_fmt("%s/a.jsonl", dir), *mb = tt_fmt("%s/b.jsonl", dir);
    int na = tt_read_steps(ma, a, 20), nb = tt_read_steps(mb, b, 20);
    CHECK(na == 12 && nb == 12);
    for (int i = 0; i < 12; i++)
        if (a[i].step != b[i].step || a[i].loss != b[i].loss || a[i].grad_norm != b[i].grad_norm ||
            a[i].accuracy != b[i].accuracy) {
            fprintf(stderr, "step %ld: straight loss %.17g norm %.17g, resumed loss %.17g norm "
                    "%.17g\n", a[i].step, a[i].loss, a[i].grad_norm, b[i].loss, b[i].grad_norm);
            failures++;
        }
    CHECK(a[11].loss < a[0].loss);
    long vsa[5], vsb[5];
    double vla[5], vlb[5];
    int nva = tt_read_vals(ma, vsa, vla, 5), nvb = tt_read_vals(mb, vsb, vlb, 5);
    CHECK(nva == 3 && nvb == 3);
    for (int i = 0; i < 3; i++)
        CHECK(vsa[i] == vsb[i] && vla[i] == vlb[i]);
    char *ca = tt_fmt("%s/ca/ckpt-00000012.bin", dir), *cb = tt_fmt("%s/cb/ckpt-00000012.bin", dir);
    CHECK(tt_ckpt_payload_equal(ca, cb));
    printf("resume: 12 steps straight == 5 + 7 resumed (threads 1 vs 2), loss %.6f -> %.6f, "
           "val %.6f\n", a[0].loss, a[11].loss, vla[2]);

    /* 3. the header and the settings carry the architecture */
    struct tr_ckpt_state st;
    CHECK_OK(tr_ckpt_read_state(ca, &st));
    CHECK(st.version == 3 && st.cfg.arch == TR_ARCH_LLAMA && st.cfg.n_kv_head == 1 &&
          st.cfg.ffn_dim == 256 && st.cfg.tie_embeddings && st.cfg.rope_theta == 500000.0 &&
          st.cfg.norm_eps == 1e-5f && st.cfg.n_layer == 1);
    char *text = NULL;
    CHECK_OK(tr_ckpt_read_settings(ca, &text));
    CHECK(text && strstr(text, "\"arch\":\"llama\"") && strstr(text, "\"kv-heads\":1") &&
          strstr(text, "\"ffn-dim\":256") && strstr(text, "\"tie-embeddings\":true") &&
          strstr(text, "\"rope-theta\":500000"));
    free(text);
    /* a theta of more digits than the settings' reals keep (9): it once came
     * back as 1234567.89, and --resume refused its own checkpoint */
    cmd = tt_fmt("'%s' --device cpu --arch llama --layers 1 --dim 32 --heads 2 --seq-len 16 "
                 "--batch 2 --synthetic --vocab 64 --steps 3 --stop-after 1 --threads 1 "
                 "--val-every 0 --quiet --rope-theta 1234567.891 --ckpt-dir '%s/ct'", bin, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    cmd = tt_fmt("'%s' --threads 1 --ckpt-dir '%s/ct' --resume", bin, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    char *ct = tt_fmt("%s/ct/ckpt-00000003.bin", dir);
    CHECK_OK(tr_ckpt_read_state(ct, &st));
    CHECK(st.cfg.rope_theta == 1234567.891);
    CHECK_OK(tr_ckpt_read_settings(ct, &text));
    CHECK(text && strstr(text, "\"rope-theta\":\"1234567.891\""));
    free(text);
    free(ct);
    printf("resume: rope-theta 1234567.891 kept through the settings\n");

    /* 4. eval of the final checkpoint: the val loss the run logged */
    cmd = tt_fmt("'%s' eval '%s' --data '%s' --tokens 256 --threads 1 --json", bin, ca, data);
    int rc = tt_run(cmd, out);
    s = tt_slurp(out);
    printf("eval: rc %d: %s", rc, s ? s : "");
    CHECK(rc == 0 && s);
    char *p = s ? strstr(s, "\"loss\":") : NULL;
    double ev = p ? strtod(p + 7, NULL) : -1.0;
    CHECK(fabs(ev - vla[2]) < 1e-4);
    free(s);
    free(cmd);
    /* --init-from: the checkpoint's architecture and shape, no --arch; and
     * with another context: RoPE has no table of positions (GPT-2's wpe
     * refuses it, below) */
    static const struct { const char *flag, *shape; } inits[] = {
        { "", "model llama KV1 F256 tied L1 H4 C64 T32" },
        { "--seq-len 16", "model llama KV1 F256 tied L1 H4 C64 T16" },
    };
    for (size_t i = 0; i < sizeof(inits) / sizeof(inits[0]); i++) {
        cmd = tt_fmt("'%s' --device cpu --init-from '%s' --data '%s' --batch 4 --steps 2 "
                     "--val-every 0 --threads 1 %s", bin, ca, data, inits[i].flag);
        tt_run_ok(cmd, out);
        s = tt_slurp(out);
        CHECK(s && strstr(s, inits[i].shape));
        free(s);
        free(cmd);
    }
    /* 5. another --kv-heads against this checkpoint is refused by name */
    cmd = tt_fmt("--threads 1 --ckpt-dir '%s/cb' --resume --kv-heads 2", dir);
    failures += tt_expect(bin, out, "resume with another --kv-heads", cmd, 1,
                          "another model configuration", "--kv-heads");
    free(cmd);
    /* an eps that %g prints as the checkpoint's: the message must show the difference */
    cmd = tt_fmt("--threads 1 --ckpt-dir '%s/cb' --resume --norm-eps 1.0000001e-5", dir);
    failures += tt_expect(bin, out, "resume with a near --norm-eps", cmd, 1,
                          "another model configuration", "norm-eps 1.0000001e-05");
    free(cmd);
    /* --arch gpt2 against it: the llama values came from the checkpoint, said once */
    cmd = tt_fmt("--threads 1 --ckpt-dir '%s/cb' --resume --arch gpt2", dir);
    failures += tt_expect(bin, out, "resume a llama run as gpt2", cmd, 2,
                          "--rope-theta, --norm-eps, --tie-embeddings (from checkpoint",
                          "for --arch llama only; this run is gpt2");
    free(cmd);

    free(ma); free(mb); free(ca); free(cb); free(common); free(out);
}

static void gpt2_unchanged(const char *dir)
{
    char *out = tt_fmt("%s/g.txt", dir);
    char *cmd = tt_fmt("'%s' --device cpu --synthetic --vocab 100 --model tiny --steps 2 "
                       "--batch 2 --seq-len 16 --val-every 0 --threads 1 --ckpt-dir '%s/g'",
                       bin, dir);
    tt_run_ok(cmd, out);
    char *ck = tt_fmt("%s/g/ckpt-00000002.bin", dir), *text = NULL;
    struct tr_ckpt_state st;
    CHECK_OK(tr_ckpt_read_state(ck, &st));
    CHECK(st.version == 2 && st.cfg.arch == TR_ARCH_GPT2);
    CHECK_OK(tr_ckpt_read_settings(ck, &text));
    CHECK(text && strstr(text, "\"arch\":\"gpt2\"") && !strstr(text, "kv-heads") &&
          !strstr(text, "rope-theta"));
    free(text);
    /* GPT-2's position table fixes its context: another one is refused */
    char *c2 = tt_fmt("--device cpu --synthetic --vocab 100 --init-from '%s' --seq-len 8 "
                      "--steps 2 --val-every 0 --threads 1", ck);
    failures += tt_expect(bin, out, "gpt2 --init-from another --seq-len", c2, 1,
                          "another model configuration", "seq-len 16");
    free(c2);
    free(ck);
    free(cmd);
    free(out);
}

/* --config: "arch": "llama" and the llama keys, in JSON; the run's
 * D/config.json names them again and is itself a valid --config. */
static void config_file(const char *dir)
{
    char *out = tt_fmt("%s/cf.txt", dir), *cf = tt_fmt("%s/run.json", dir);
    FILE *f = fopen(cf, "w");
    CHECK(f);
    fprintf(f, "{\"arch\": \"llama\", \"model\": \"llama-tiny\", \"kv-heads\": 1, "
            "\"ffn-dim\": 96, \"tie-embeddings\": true, \"synthetic\": true, \"vocab\": 100, "
            "\"steps\": 2, \"batch\": 2, \"seq-len\": 16, \"val-every\": 0, \"threads\": 1}\n");
    CHECK(fclose(f) == 0);
    char *cmd = tt_fmt("'%s' --device cpu --config '%s' --ckpt-dir '%s/cfd'", bin, cf, dir);
    tt_run_ok(cmd, out);
    char *s = tt_slurp(out);
    CHECK(s && strstr(s, "model llama KV1 F96 tied L2 H4 C64 T16"));
    free(s);
    free(cmd);
    cmd = tt_fmt("'%s' --device cpu --config '%s/cfd/config.json' --ckpt-dir '%s/cfe'", bin, dir,
                 dir);
    tt_run_ok(cmd, out);
    s = tt_slurp(out);
    CHECK(s && strstr(s, "model llama KV1 F96 tied L2 H4 C64 T16"));
    printf("config: --config with \"arch\": \"llama\" and D/config.json give the same model\n");
    free(s);
    free(cmd);
    free(cf);
    free(out);
}

static void refusals(const char *dir)
{
    char *out = tt_fmt("%s/e.txt", dir);
    static const struct { const char *what, *args, *n1, *n2; } cases[] = {
        { "llama flags on gpt2", "--synthetic --kv-heads 2 --tie-embeddings",
          "--kv-heads, --tie-embeddings: for --arch llama only", NULL },
        { "rope-theta 1", "--synthetic --arch llama --rope-theta 1", "must be above 1", NULL },
        { "ffn-dim past the model's limit", "--synthetic --arch llama --ffn-dim 1M",
          "--ffn-dim", "262144" },
        { "llama preset on gpt2", "--synthetic --arch gpt2 --model llama-tiny",
          "--model llama-tiny is a llama preset", NULL },
        { "gpt2 preset on llama", "--synthetic --arch llama --model small",
          "not a llama preset", "small is a GPT-2 preset: leave out --arch llama" },
        /* the spelling is matched against llama's presets (it was "did you mean small?") */
        { "gpt2 preset on llama, no self-suggestion", "--synthetic --arch llama --model medium",
          "medium is a GPT-2 preset", "or give a LLaMA preset;" },
        { "gpt2 preset on llama, the llama one of its name", "--synthetic --arch llama "
          "--model tiny", "tiny is a GPT-2 preset", "give a LLaMA preset (llama-tiny?)" },
        { "kv-heads not dividing", "--synthetic --arch llama --heads 4 --kv-heads 3",
          "--heads 4 is not a multiple of --kv-heads 3", NULL },
        { "odd head size", "--synthetic --arch llama --heads 4 --dim 36",
          "head size 9 is odd", NULL },
        { "bad arch", "--synthetic --arch rwkv", "--arch: 'rwkv'", NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        failures += tt_expect(bin, out, cases[i].what, cases[i].args, 2, cases[i].n1, cases[i].n2);
    /* a preset the user did not type: the message says where it came from */
    char *cf = tt_fmt("%s/gpt2-settings.json", dir);
    FILE *f = fopen(cf, "w");
    CHECK(f && fputs("{\"model\": \"small\"}\n", f) >= 0 && fclose(f) == 0);
    char *args = tt_fmt("--synthetic --config '%s' --arch llama", cf);
    char *from = tt_fmt("--model small (from --config %s): not a llama preset", cf);
    failures += tt_expect(bin, out, "gpt2 preset from a config file", args, 2, from, NULL);
    free(from);
    free(args);
    free(cf);
    free(out);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s INGOT_TRAIN\n", argv[0]);
        return 2;
    }
    bin = argv[1];
    char *dir = tt_tmpdir("llama-train"), *data = tt_fmt("%s/data", dir);
    uint32_t *ids = malloc((N_TRAIN + N_VAL) * sizeof(uint32_t));
    CHECK(ids);
    tt_markov_tokens(ids, N_TRAIN + N_VAL, VOCAB, 11);
    double h1 = tt_unigram_entropy(ids, N_TRAIN, VOCAB);
    struct tt_dataset d = { .dir = data, .vocab = VOCAB, .tokenizer_hash = 77, .bos_id = -1,
                            .train = ids, .n_train = N_TRAIN, .val = ids + N_TRAIN,
                            .n_val = N_VAL, .doc_len = 500, .shard_docs = 40 };
    CHECK_OK(tt_write_dataset(&d));
    refusals(dir);
    config_file(dir);
    gpt2_unchanged(dir);
    resume(data, dir);
    learning(data, dir, h1);
    tt_rmtree(dir);
    free(ids);
    free(data);
    free(dir);
    if (failures)
        fprintf(stderr, "%d case(s) failed\n", failures);
    return failures ? 1 : 0;
}
