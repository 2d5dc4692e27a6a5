/* ingot-train generate and eval.
 *  1. The key/value-cached forward (tr_backend_cpu_kv) gives the CPU back
 *     end's logits (the full forward; within 1e-5, it measures ~1e-7) for
 *     every context the sampler asks for, growing one token at a time and
 *     then sliding past seq_len, reusing the cache while the context only
 *     grows, and for a new prompt and one that shares a prefix (several new
 *     rows at once); greedy and top-k sampling through tr_sample() pick the
 *     same ids on both. On a random GPT-2 with biases, and on checkpoints
 *     trained here: GPT-2, llama with grouped-query and with multi-query
 *     attention (tied head, another RoPE base).
 *  2. `ingot-train generate --prompt-ids ... --ids` prints the prompt and
 *     the same greedy continuation as the CPU back end computes here from
 *     the checkpoint; its usage errors exit 2.
 *     With --device cuda (where a GPU is present, else the refusal is
 *     checked) the CUDA back end's fp32 logits match the CPU's within 1e-4
 *     and generate runs through them.
 *  3. `ingot-train eval --json` on a dataset or a mixture gives the val loss the trainer
 *     logged at the checkpoint's step (--val-tokens = --tokens), perplexity
 *     exp(loss) and an accuracy; a dataset of another tokenizer is refused.
 * usage: test_generate INGOT_TRAIN */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_ckpt.h"
#include "sampler.h"
#include "tr_export.h"
#include "tr_generate.h"
#include "tt_util.h"

enum { V = 97, T = 16, N_CTX = 40 };

static void check_kv_logits(void)
{
    struct tr_config c = { .n_layer = 2, .n_head = 2, .n_embd = 32, .seq_len = T, .vocab = V };
    tr_config_pad_vocab(&c);
    float *p = malloc(tr_param_count(&c) * sizeof(float));
    CHECK(p);
    tr_params_init(&c, 11, p);
    struct tr_tensors w;   /* biases and gains away from 0 and 1, so that they count */
    tr_tensors_map(&c, p, &w);
    for (int i = 0; i < c.n_layer * 3 * c.n_embd; i++)
        w.qkvb[i] = 0.05f * (float)((i * 7) % 11 - 5);
    for (int i = 0; i < c.n_embd; i++)
        w.lnfw[i] = 1.0f + 0.1f * (float)(i % 3);
    struct tr_backend_opts bo = { .cfg = c, .batch = 1, .grad_accum = 1, .threads = 1,
                                  .quiet = true };
    tr_backend *cpu, *kv;
    CHECK_OK(tr_backend_cpu.create(&bo, p, &cpu));
    CHECK_OK(tr_backend_cpu_kv.create(&bo, p, &kv));
    int32_t ids[N_CTX];
    for (int i = 0; i < N_CTX; i++)
        ids[i] = (i * 37 + 5) % V;
    float a[V], b[V], worst = 0.0f;
    for (int len = 1; len <= N_CTX; len++) {   /* the contexts tr_sample asks for */
        int ctx = len < T ? len : T;
        CHECK_OK(tr_backend_cpu.logits(cpu, ids + len - ctx, ctx, a));
        CHECK_OK(tr_backend_cpu_kv.logits(kv, ids + len - ctx, ctx, b));
        for (int v = 0; v < V; v++)
            worst = fmaxf(worst, fabsf(a[v] - b[v]));
        /* growing: all but the new token cached; sliding: recomputed */
        CHECK(tr_kv_reused(kv) == (len <= T ? len - 1 : 0));
    }
    printf("kv cache: max |logit difference| to the CPU back end %.3g over %d contexts\n",
           (double)worst, N_CTX);
    CHECK(worst <= 1e-5f);
    CHECK_OK(tr_backend_cpu_kv.logits(kv, ids, 5, b));   /* a new prompt: nothing reused */
    CHECK_OK(tr_backend_cpu_kv.logits(kv, ids + 1, 5, b));
    CHECK(tr_kv_reused(kv) == 0);
    for (int k = 1; k <= 40; k += 39) {
        int32_t x[N_CTX], y[N_CTX];
        memcpy(x, ids, 3 * sizeof(int32_t));
        memcpy(y, ids, 3 * sizeof(int32_t));
        struct tr_sample_opts so = { .n_new = N_CTX - 3, .top_k = k, .temperature = 1.0f,
                                     .seed = 9 };
        CHECK_OK(tr_sample(&tr_backend_cpu, cpu, &c, &so, x, 3));
        CHECK_OK(tr_sample(&tr_backend_cpu_kv, kv, &c, &so, y, 3));
        CHECK(!memcmp(x, y, sizeof(x)));
    }
    int32_t bad = V;
    CHECK_FAIL(tr_backend_cpu_kv.logits(kv, &bad, 1, b), INGOT_E_USAGE, "vocabulary");
    tr_backend_cpu.destroy(cpu);
    tr_backend_cpu_kv.destroy(kv);
    free(p);
}

/* The cached forward of a trained checkpoint against the full forward:
 * growing and sliding contexts, several new rows at once (a new prompt, a
 * prompt sharing a prefix with the cache), and sampling. */
static void expect(const char *cmd, const char *out, int rc, const char *text);

static void check_kv_trained(const char *bin, const char *dir)
{
    char *out = tt_fmt("%s/kv.txt", dir);
    enum { N = 40 };
    for (int si = 0; si < gen_n_shapes; si++) {
        char *ck = gen_train(bin, dir, &gen_shapes[si]);
        struct tr_ckpt_state st;
        float *p;
        CHECK_OK(tr_export_load(ck, &st, &p, NULL));
        struct tr_backend_opts bo = { .cfg = st.cfg, .batch = 1, .grad_accum = 1, .threads = 1,
                                      .quiet = true };
        tr_backend *cpu, *kv;
        CHECK_OK(tr_backend_cpu.create(&bo, p, &cpu));
        CHECK_OK(tr_backend_cpu_kv.create(&bo, p, &kv));
        int32_t ids[N];
        int reuse[N];
        for (int i = 0; i < N; i++)
            ids[i] = (i * 53 + 11) % GEN_V;
        double worst = gen_max_diff(&tr_backend_cpu_kv, kv, &tr_backend_cpu, cpu, &st.cfg, ids,
                                    N, reuse);
        for (int len = 1; len <= N; len++)
            CHECK(reuse[len - 1] == (len <= GEN_T ? len - 1 : 0));
        /* several new rows at once: a new prompt of 12, then one sharing 7 */
        float a[GEN_V], b[GEN_V];
        int32_t other[12];
        memcpy(other, ids + 20, sizeof(other));
        CHECK_OK(tr_backend_cpu_kv.logits(kv, other, 12, a));
        CHECK(tr_kv_reused(kv) == 0);
        CHECK_OK(tr_backend_cpu.logits(cpu, other, 12, b));
        for (int v = 0; v < GEN_V; v++)
            worst = fmax(worst, fabs((double)a[v] - b[v]));
        other[7] = (other[7] + 1) % GEN_V;
        CHECK_OK(tr_backend_cpu_kv.logits(kv, other, 12, a));
        CHECK(tr_kv_reused(kv) == 7);
        CHECK_OK(tr_backend_cpu.logits(cpu, other, 12, b));
        for (int v = 0; v < GEN_V; v++)
            worst = fmax(worst, fabs((double)a[v] - b[v]));
        printf("kv cache, trained %s: max |logit difference| to the full forward %.3g\n",
               gen_shapes[si].name, worst);
        CHECK(worst <= 1e-5);
        for (int k = 1; k <= 40; k += 39) {   /* greedy, then top-k 40 */
            int32_t x[N], y[N];
            memcpy(x, ids, 3 * sizeof(int32_t));
            memcpy(y, ids, 3 * sizeof(int32_t));
            struct tr_sample_opts so = { .n_new = N - 3, .top_k = k, .temperature = 1.0f,
                                         .seed = 5 };
            CHECK_OK(tr_sample(&tr_backend_cpu, cpu, &st.cfg, &so, x, 3));
            CHECK_OK(tr_sample(&tr_backend_cpu_kv, kv, &st.cfg, &so, y, 3));
            CHECK(!memcmp(x, y, sizeof(x)));
        }
        /* the command: the full forward's greedy ids */
        int32_t x[N] = { 5, 6, 7 };
        struct tr_sample_opts so = { .n_new = N - 3, .top_k = 1, .temperature = 1.0f };
        CHECK_OK(tr_sample(&tr_backend_cpu, cpu, &st.cfg, &so, x, 3));
        char want[512] = "";
        for (int i = 0; i < N; i++)
            snprintf(want + strlen(want), sizeof(want) - strlen(want), i ? " %d" : "%d", x[i]);
        char *cmd = tt_fmt("'%s' generate '%s' --prompt-ids '5 6 7' --tokens %d --top-k 1 --ids "
                           "--threads 1 2>/dev/null", bin, ck, N - 3);
        expect(cmd, out, 0, want);
        free(cmd);
        tr_backend_cpu.destroy(cpu);
        tr_backend_cpu_kv.destroy(kv);
        free(p);
        free(ck);
    }
    free(out);
}

/* Run a command expecting exit rc and text in its output. */
static void expect(const char *cmd, const char *out, int rc, const char *text)
{
    int got = tt_run(cmd, out);
    char *s = tt_slurp(out);
    if (got != rc || !s || !strstr(s, text)) {
        fprintf(stderr, "%s: exit %d (want %d), output lacks '%s':\n%s\n", cmd, got, rc, text,
                s ? s : "");
        exit(1);
    }
    free(s);
}

/* generate --device cuda: where the build and machine have a GPU, its fp32
 * logits (the back end's logits op) against the CPU's for growing contexts,
 * and the subcommand's run through them; elsewhere, a clear refusal. */
static void check_generate_cuda(const char *bin, const char *ck, const char *out,
                                const struct tr_ckpt_state *st, const float *p, tr_backend *cpu,
                                int n_new, const char *want)
{
    const struct tr_backend_ops *ops;
    char *cmd = tt_fmt("'%s' generate '%s' --prompt-ids '5 6 7' --tokens %d --top-k 1 --ids "
                       "--device cuda --precision fp32", bin, ck, n_new);
    if (tr_backend_select("cuda", &ops)) {
        ingot_clear_err();
        int rc = tt_run(cmd, out);
        char *s = tt_slurp(out);
        CHECK(rc != 0 && s && strstr(s, "--device cuda"));
        printf("generate --device cuda: refused here (%.*s)\n", (int)strcspn(strstr(s, "--device"),
               "\n"), strstr(s, "--device"));
        free(s);
        free(cmd);
        return;
    }
    struct tr_backend_opts bo = { .cfg = st->cfg, .batch = 1, .grad_accum = 1, .quiet = true,
                                  .precision = TR_PREC_FP32 };
    tr_backend *gpu;
    CHECK_OK(ops->create(&bo, p, &gpu));
    float *a = malloc((size_t)st->cfg.vocab * sizeof(float));
    float *b = malloc((size_t)st->cfg.vocab * sizeof(float));
    int32_t ctx[T];
    CHECK(a && b);
    double worst = 0.0;
    for (int n = 1; n <= T; n++) {
        ctx[n - 1] = (int32_t)((n * 37) % V);
        CHECK_OK(tr_backend_cpu.logits(cpu, ctx, n, a));
        CHECK_OK(ops->logits(gpu, ctx, n, b));
        for (int i = 0; i < st->cfg.vocab; i++) {
            double d = fabs((double)a[i] - b[i]);
            worst = d > worst ? d : worst;
        }
    }
    printf("generate --device cuda: fp32 logits within %.2e of the CPU's\n", worst);
    CHECK(worst <= 1e-4);
    ops->destroy(gpu);
    free(a);
    free(b);
    expect(cmd, out, 0, want);   /* the cached GPU path: the CPU's greedy ids */
    free(cmd);
    cmd = tt_fmt("'%s' generate '%s' --prompt-ids '5 6 7' --tokens %d --top-k 1 --ids "
                 "--device cuda --precision fp32 --no-cache", bin, ck, n_new);
    expect(cmd, out, 0, want);   /* the training back end's full forward */
    free(cmd);
}

static void check_generate_cli(const char *bin, const char *dir, const char *out)
{
    char *cmd = tt_fmt("'%s' --synthetic --vocab %d --model tiny --layers 1 --dim 32 --heads 2 "
                       "--seq-len %d --batch 2 --steps 4 --threads 1 --val-every 0 --ckpt-dir "
                       "'%s/syn'", bin, V, T, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    char *ck = tt_fmt("%s/syn", dir);
    struct tr_ckpt_state st;
    float *p;
    CHECK_OK(tr_export_load(ck, &st, &p, NULL));
    struct tr_backend_opts bo = { .cfg = st.cfg, .batch = 1, .grad_accum = 1, .threads = 1,
                                  .quiet = true };
    tr_backend *cpu;
    CHECK_OK(tr_backend_cpu.create(&bo, p, &cpu));
    enum { NEW = 24 };   /* 3 + 24 > T: the window slides */
    int32_t ids[3 + NEW] = { 5, 6, 7 };
    struct tr_sample_opts so = { .n_new = NEW, .top_k = 1, .temperature = 1.0f, .seed = 1 };
    CHECK_OK(tr_sample(&tr_backend_cpu, cpu, &st.cfg, &so, ids, 3));
    char want[512] = "";
    for (int i = 0; i < 3 + NEW; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), i ? " %d" : "%d", ids[i]);
    cmd = tt_fmt("'%s' generate '%s' --prompt-ids '5 6 7' --tokens %d --top-k 1 --ids "
                 "--threads 1 2>/dev/null", bin, ck, NEW);
    expect(cmd, out, 0, want);
    free(cmd);
    check_generate_cuda(bin, ck, out, &st, p, cpu, NEW, want);
    /* the speed line: prompt and decode apart */
    cmd = tt_fmt("'%s' generate '%s' --prompt-ids '5 6 7 8 9' --tokens 4 --ids --threads 1",
                 bin, ck);
    expect(cmd, out, 0, "generate: prompt 5 tokens (prefill of 4 in ");
    expect(cmd, out, 0, "new tokens in ");
    expect(cmd, out, 0, "on cpu (kv cache)");
    free(cmd);
    cmd = tt_fmt("'%s' generate '%s' --prompt-ids '5 6 7' --tokens %d --top-k 1 --ids "
                 "--threads 1 --no-cache 2>/dev/null", bin, ck, NEW);
    expect(cmd, out, 0, want);
    free(cmd);
    cmd = tt_fmt("'%s' generate '%s' --prompt-ids '5 6 7' --precision bf16", bin, ck);
    expect(cmd, out, 2, "needs --device cuda");
    free(cmd);
    const struct { const char *args; const char *msg; } bad[] = {
        { "", "--prompt TEXT, --prompt-file FILE or --prompt-ids" },
        { "--prompt-ids '1 2' --prompt x", "one of them" },
        { "--prompt-ids '1 999'", "outside the model's vocabulary" },
        { "--prompt-ids 1 --top-k 0", "--top-k" },
        { "--prompt x", "no tokenizer" },
        { "--prompt-ids ''", "--prompt-ids: no ids given" },
        /* a value left out, said so (it was "unknown or incomplete option") */
        { "--prompt-ids 1 --tokens", "--tokens needs a value (see ingot-train generate --help)" },
        { "--prompt-ids 1 --device --tokens 3", "--device needs a value (got '--tokens'" },
        { "--prompt-ids 1 --device ''", "--device: empty value" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cmd = tt_fmt("'%s' generate '%s' %s", bin, ck, bad[i].args);
        expect(cmd, out, 2, bad[i].msg);
        free(cmd);
    }
    /* a prompt longer than the context: said, and the model sees its end */
    char *ids_long = tt_fmt("1");
    for (int i = 1; i < T + 3; i++) {
        char *more = tt_fmt("%s %d", ids_long, 1 + i % 50);
        free(ids_long);
        ids_long = more;
    }
    cmd = tt_fmt("'%s' generate '%s' --prompt-ids '%s' --tokens 2 --ids --threads 1", bin, ck,
                 ids_long);
    expect(cmd, out, 0, "exceed the model's context of 16; the model sees its last 16");
    expect(cmd, out, 0, "prompt 19 tokens (prefill of 15 in ");
    free(cmd);
    free(ids_long);
    tr_backend_cpu.destroy(cpu);
    free(p);
    free(ck);
}

static double json_num(const char *s, const char *key)
{
    char *k = tt_fmt("\"%s\":", key);
    const char *at = strstr(s, k);
    CHECK(at);
    double v = strtod(at + strlen(k), NULL);
    free(k);
    return v;
}

static void check_eval_cli(const char *bin, const char *dir, const char *out)
{
    enum { NT = 4000, NV = 700 };
    uint32_t *ids = malloc((NT + NV) * sizeof(uint32_t));
    CHECK(ids);
    tt_markov_tokens(ids, NT + NV, 50, 3);
    char *data = tt_fmt("%s/data", dir), *other = tt_fmt("%s/other", dir);
    struct tt_dataset d = { .dir = data, .vocab = 50, .tokenizer_hash = 77, .bos_id = -1,
                            .train = ids, .n_train = NT, .val = ids + NT, .n_val = NV,
                            .doc_len = 100, .shard_docs = 3 };
    CHECK_OK(tt_write_dataset(&d));
    d.dir = other;
    d.tokenizer_hash = 78;
    CHECK_OK(tt_write_dataset(&d));
    /* --device cpu: eval (CPU) must reproduce the trainer's val loss to 1e-6,
     * which holds for one back end and precision (on a GPU machine the
     * trainer would otherwise pick cuda and bf16). */
    char *cmd = tt_fmt("'%s' --device cpu --data '%s' --model tiny --layers 1 --dim 32 --heads 2 --seq-len 32 "
                       "--batch 4 --steps 10 --lr 1e-2 --threads 1 --val-every 5 --val-tokens 256 "
                       "--metrics '%s/m.jsonl' --ckpt-dir '%s/ck'", bin, data, dir, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    long steps[8];
    double vals[8];
    char *mpath = tt_fmt("%s/m.jsonl", dir);
    int nv = tt_read_vals(mpath, steps, vals, 8);
    CHECK(nv == 2 && steps[1] == 10);
    cmd = tt_fmt("'%s' eval '%s/ck' --data '%s' --tokens 256 --batch 3 --threads 1 --json", bin,
                 dir, data);
    tt_run_ok(cmd, out);
    char *s = tt_slurp(out);
    double loss = json_num(s, "loss"), ppl = json_num(s, "perplexity");
    double acc = json_num(s, "accuracy");
    printf("eval: loss %.9f, trainer's val loss %.9f, perplexity %.4f, accuracy %.4f\n", loss,
           vals[1], ppl, acc);
    CHECK(fabs(loss - vals[1]) <= 1e-6 && json_num(s, "windows") == 8);
    CHECK(fabs(ppl - exp(loss)) <= 1e-9 * ppl && acc > 0.0 && acc <= 1.0);
    free(s);
    free(cmd);
    cmd = tt_fmt("'%s' eval '%s/ck' --data '%s' --split train", bin, dir, data);
    expect(cmd, out, 0, "(train split): 124 windows x 32");
    free(cmd);
    cmd = tt_fmt("'%s' eval '%s/ck' --data '%s'", bin, dir, other);
    expect(cmd, out, 1, "tokenizer");
    free(cmd);
    /* no --data: the data the checkpoint was trained on, the same loss */
    cmd = tt_fmt("'%s' eval '%s/ck' --tokens 256 --batch 3 --threads 1 --json", bin, dir);
    tt_run_ok(cmd, out);
    s = tt_slurp(out);
    CHECK(s && strstr(s, "eval: the checkpoint's data: ") && fabs(json_num(s, "loss") - loss) <= 0);
    free(s);
    free(cmd);
    cmd = tt_fmt("'%s' eval '%s/ck' --data '%s' --data '%s'", bin, dir, data, data);
    expect(cmd, out, 2, "is given twice");
    free(cmd);

    /* a dataset of a val split alone (held-out text): its val loss; the
     * train split is refused by name */
    char *valonly = tt_fmt("%s/valonly", dir);
    d.dir = valonly;
    d.tokenizer_hash = 77;
    d.n_train = 0;
    CHECK_OK(tt_write_dataset(&d));
    d.n_train = NT;
    cmd = tt_fmt("'%s' eval '%s/ck' --data '%s' --tokens 256 --threads 1 --json", bin, dir,
                 valonly);
    tt_run_ok(cmd, out);
    free(cmd);
    s = tt_slurp(out);
    CHECK(fabs(json_num(s, "loss") - vals[1]) <= 1e-6);   /* the same val tokens as data's */
    free(s);
    cmd = tt_fmt("'%s' eval '%s/ck' --data '%s' --split train", bin, dir, valonly);
    expect(cmd, out, 1, "no train tokens");
    free(cmd);
    free(valonly);

    /* a mixture: eval with the trainer's --data list gives its val loss */
    char *mixb = tt_fmt("%s/mixb", dir);
    tt_markov_tokens(ids, NT + NV, 50, 9);
    d.dir = mixb;
    d.tokenizer_hash = 77;
    CHECK_OK(tt_write_dataset(&d));
    cmd = tt_fmt("'%s' --device cpu --data '%s:3' --data '%s' --model tiny --layers 1 --dim 32 "
                 "--heads 2 --seq-len 32 --batch 4 --steps 10 --lr 1e-2 --threads 1 --val-every 5 "
                 "--val-tokens 256 --metrics '%s/mm.jsonl' --ckpt-dir '%s/cm'", bin, data, mixb,
                 dir, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    char *mm = tt_fmt("%s/mm.jsonl", dir);
    CHECK(tt_read_vals(mm, steps, vals, 8) == 2 && steps[1] == 10);
    cmd = tt_fmt("'%s' eval '%s/cm' --data '%s:3' --data '%s' --tokens 256 --batch 3 --threads 1 "
                 "--json", bin, dir, data, mixb);
    tt_run_ok(cmd, out);
    free(cmd);
    s = tt_slurp(out);
    double mloss = json_num(s, "loss");
    printf("eval of a mixture: loss %.9f, trainer's val loss %.9f\n", mloss, vals[1]);
    CHECK(fabs(mloss - vals[1]) <= 1e-6 && json_num(s, "windows") == 8);
    free(s);
    /* other weights draw other windows */
    cmd = tt_fmt("'%s' eval '%s/cm' --data '%s' --data '%s:3' --tokens 256 --threads 1 --json",
                 bin, dir, data, mixb);
    tt_run_ok(cmd, out);
    free(cmd);
    s = tt_slurp(out);
    CHECK(fabs(json_num(s, "loss") - mloss) > 1e-6);
    free(s);
    cmd = tt_fmt("'%s' eval '%s/cm' --data '%s:3' --data '%s' --split train --tokens 320", bin,
                 dir, data, mixb);
    expect(cmd, out, 0, "the mixture of 2 datasets");
    free(cmd);
    free(mm);
    free(mixb);
    free(mpath);
    free(data);
    free(other);
    free(ids);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    check_kv_logits();
    char *dir = tt_tmpdir("generate"), *out = tt_fmt("%s/out.txt", dir);
    check_kv_trained(argv[1], dir);
    check_generate_cli(argv[1], dir, out);
    check_eval_cli(argv[1], dir, out);
    tt_rmtree(dir);
    free(dir);
    free(out);
    printf("ok: kv-cached logits and sampling, generate, eval\n");
    return 0;
}
