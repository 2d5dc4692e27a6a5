/* Command-line parsing for ingot-train. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_num.h"
#include "cli_opt.h"
#include "ingot_config.h"
#include "ingot_err.h"
#include "term_text.h"
#include "tr_llama_params.h"
#include "train_opts.h"
#include "tr_schedule.h"

/* The origin of the command line's settings layer; messages name the other
 * layers (a config file, a checkpoint) by theirs. */
#define CMDLINE_ORIGIN "the command line"

struct preset {
    const char *name;
    int layers, heads, dim, seq_len;
    float lr;
    const char *what;
};

static const struct preset presets[] = {
    { "tiny", 2, 2, 64, 64, 3e-3f, "tests and smoke runs (~0.1M + embeddings)" },
    { "small", 4, 4, 128, 128, 1e-3f, "the CPU demo (~0.8M + embeddings)" },
    { "medium", 6, 6, 384, 256, 6e-4f, "a larger CPU or small GPU run (~10.6M + embeddings)" },
    { "gpt2-124m", 12, 12, 768, 1024, 6e-4f, "GPT-2 small (124M with the GPT-2 vocabulary)" },
    { "gpt2-350m", 24, 16, 1024, 1024, 3e-4f, "GPT-2 medium (350M with the GPT-2 vocabulary)" },
    { "gpt2-774m", 36, 20, 1280, 1024, 2.5e-4f, "GPT-2 large (774M; bf16 on one GPU)" },
    { "gpt2-1558m", 48, 25, 1600, 1024, 2e-4f, "GPT-2 XL (1.56B; bf16 on one GPU)" },
};
enum { N_PRESETS = sizeof(presets) / sizeof(presets[0]) };

/* --dist's choices beyond none and tcp, as this build has them */
#if INGOT_HAVE_MPI && INGOT_HAVE_NCCL
#define DIST_BUILT ", mpi, nccl"
#elif INGOT_HAVE_MPI
#define DIST_BUILT ", mpi"
#elif INGOT_HAVE_NCCL
#define DIST_BUILT ", nccl"
#else
#define DIST_BUILT ""
#endif

void tr_opts_help(const char *prog)
{
    printf("usage: %s --data DIR [options]\n"
           "       %s --synthetic [--vocab N] [options]\n"
           "       %s export|generate|eval CHECKPOINT [options]  (each has --help)\n"
           "Train a GPT-2 or LLaMA-style model on token shards made by ingot-pretok.\n"
           "Integers take k M G T (x1000) or Ki Mi Gi Ti (x1024) suffixes: 512k = 512000,\n"
           "512Ki = 524288. Step counts (--steps, --stop-after, --warmup, --cooldown-steps,\n"
           "--profile, the --*-every options) are at most 1Gi (2^30).\n"
           "\n"
           "Subcommands, on a checkpoint file or a --ckpt-dir directory:\n"
           "  export    write it for Hugging Face, llm.c or as safetensors (--format)\n"
           "  generate  continue a prompt, on the CPU or a GPU\n"
           "  eval      its loss on a dataset's val (or train) split\n"
           "\n", prog, prog, prog);
    printf(
        "Settings:\n"
        "  --config FILE           settings from a JSON object or TOML key = value lines,\n"
        "                          keys as the long flags (\"batch-tokens\": 32768);\n"
        "                          flags on the command line win (docs/training.md)\n"
        "\n"
        "Data:\n"
        "  --data DIR[:WEIGHT]     dataset directory (manifest.json + *.tok); repeat for\n"
        "                          a mixture whose windows are drawn with these weights\n"
        "                          (default 1 each; one tokenizer for all)\n"
        "  --data-order ORDER      shuffled (default: a seeded permutation of the\n"
        "                          windows per epoch) or sequential\n"
        "  --synthetic             random token ids instead of a dataset (compute only)\n"
        "  --vocab N               vocabulary of --synthetic ids, 2..1Gi (default 50257)\n"
        "  --no-verify             skip recomputing shard checksums at start\n"
        "  --tokenizer FILE        SentencePiece model for decoding samples\n"
        "                          (default: the one the manifest names)\n"
        "\n"
        "Model:\n"
        "  --device DEV            auto (default), cpu or cuda\n"
        "  --precision P           fp32 or bf16 (default: bf16 on cuda; the CPU is fp32)\n"
        "  --arch A                gpt2 (default) or llama (RMSNorm, RoPE, SwiGLU,\n"
        "                          grouped-query attention, no biases; docs/llama.md);\n"
        "                          a llama-* preset implies llama\n"
        "  --model PRESET          shape preset (default small; llama-tiny for llama);\n"
        "                          L --layers, H --heads (/--kv-heads), C --dim,\n"
        "                          F --ffn-dim, T --seq-len:\n");
    for (int i = 0; i < N_PRESETS; i++)
        printf("                          %-10s L%-2d H%-2d C%-4d T%d\n"
               "                            %s\n", presets[i].name, presets[i].layers,
               presets[i].heads, presets[i].dim, presets[i].seq_len, presets[i].what);
    for (const struct tr_llama_preset *q = tr_llama_presets; q->name; q++)
        printf("                          %-10s L%-2d H%-2d/%-2d C%-4d F%-4d T%d\n"
               "                            %s\n", q->name, q->n_layer, q->n_head,
               q->n_kv_head, q->n_embd, q->ffn_dim, q->seq_len, q->what);
    printf(
        "  --layers N --heads N --dim N --seq-len N\n"
        "                          override the preset's shape: --layers 1..4096, the\n"
        "                          others 1..1Mi (--dim a multiple of --heads; llama:\n"
        "                          --dim / --heads even, for RoPE's pairs)\n"
        "  --kv-heads N            llama: key/value heads, dividing --heads\n"
        "                          (grouped-query; = --heads is multi-head; default the\n"
        "                          preset's, or --heads)\n"
        "  --ffn-dim N             llama: SwiGLU hidden size, 1..256Ki (default\n"
        "                          the preset's, or 8/3 --dim rounded up to a\n"
        "                          multiple of 256)\n"
        "  --rope-theta X          llama: RoPE base, 1 < X <= 1e12 (default 10000)\n"
        "  --norm-eps X            llama: RMSNorm epsilon, 1e-30..0.5 (default 1e-5)\n"
        "  --tie-embeddings        llama: the output head is the token embedding\n"
        "                          (default: a separate lm_head)\n"
        "\n"
        "Optimisation:\n"
        "  --batch N               sequences per micro-step (default 8); batch x seq-len\n"
        "                          at most 16Mi\n"
        "  --batch-tokens N        tokens per optimizer step; a multiple of batch x\n"
        "                          seq-len, the rest is gradient accumulation (at most\n"
        "                          1Mi micro-steps; default batch x seq-len x ranks: one\n"
        "                          micro-step per rank)\n"
        "  --steps N               optimizer steps of the whole run; sets the schedule\n"
        "                          (default 1000)\n"
        "  --stop-after K          end this run after step K with a checkpoint (resume\n"
        "                          later; past --steps: to the end)\n"
        "  --lr X                  peak learning rate, 0..10 (default: per preset,\n"
        "                          1e-3 for small)\n"
        "  --lr-schedule S         after the warmup: cosine (default) or linear decay to\n"
        "                          --min-lr at the last step, constant, or wsd (warmup-\n"
        "                          stable-decay: lr held, then a linear decay to\n"
        "                          --min-lr over the last --cooldown share of the steps)\n"
        "  --cooldown F            wsd: the share of --steps that decays, 0 < F <= 1\n"
        "                          (default 0.2)\n"
        "  --cooldown-steps N      wsd: the last N steps decay (instead of --cooldown);\n"
        "                          to cool down from a stable checkpoint at step k:\n"
        "                          --resume --steps k+N --cooldown-steps N\n"
        "                          (docs/training.md)\n"
        "  --min-lr X              final learning rate of the decay, 0..--lr\n"
        "                          (default lr/10)\n"
        "  --warmup N              linear warmup steps, 0..--steps (default steps/20)\n"
        "  --weight-decay X        AdamW decoupled decay on the matrices, 0..10\n"
        "                          (default 0.1)\n"
        "  --grad-clip X           global gradient-norm limit, 0..1e6, 0 = off\n"
        "                          (default 1.0)\n"
        "  --seed N                seeds init, data order and sampling, 0..2^63-1\n"
        "                          (default 1337)\n"
        "  --threads N             CPU threads, 1..4096 (default: all; OMP_NUM_THREADS)\n"
        "\n"
        "Data parallelism (torchrun, srun, mpirun or RANK/WORLD_SIZE; docs/multi-gpu.md):\n"
        "  --dist M                auto (default: the launcher's world, nccl on GPUs,\n"
        "                          mpi under mpirun, else tcp), or one this build has:\n"
        "                          none, tcp" DIST_BUILT "\n"
        "  --dist-timeout S        rendezvous deadline and no-progress limit, in\n"
        "                          seconds, 1..1e6 (default 600)\n"
        "  --dist-port P           rendezvous port, 1..65535 (default: MASTER_PORT,\n"
        "                          +1 under torchrun)\n"
        "  --zero 1                shard AdamW state (m, v, fp32 master weights) across\n"
        "                          ranks: reduce-scatter, update own shard, all-gather\n"
        "                          (default 0: every rank holds all of it)\n"
        "  --grad-reduce T         gradient all-reduce in fp32 (default) or bf16\n"
        "\n"
        "Evaluation and sampling:\n"
        "  --val-every N           val loss every N steps and at the end, 0 = off\n"
        "                          (default 100); a mixture's also by source\n"
        "  --val-tokens N          tokens of the fixed val set, at most 1Ti, in whole\n"
        "                          windows, at least one (default 32768)\n"
        "  --sample-every N        print generated text every N steps, 0 = off\n"
        "                          (default 0)\n"
        "  --sample-tokens N       tokens per sample, 1..1Mi (default 64)\n"
        "  --top-k K               sample from the K likeliest, 1 = greedy, 1..256\n"
        "                          (default 40)\n"
        "  --temperature X         sampling temperature, 0.001..100 (default 1.0)\n"
        "\n"
        "Checkpoints and output:\n"
        "  --ckpt-dir D            write checkpoints to D (always at the end of the run)\n"
        "  --ckpt-every N          also every N steps (default 0: only at the end)\n"
        "  --ckpt-keep N           keep only the newest N checkpoints, 0..1Mi\n"
        "                          (default 0: all)\n"
        "  --time-limit D          end this run with a checkpoint before D has passed\n"
        "                          since its start (room left for a step, the\n"
        "                          evaluations due and a save); exit 0, continue with\n"
        "                          --resume. Slurm's --time forms (90 = 90 minutes,\n"
        "                          3:50:00, 1-00:00:00) or 3h50m\n"
        "  --resume                continue from the newest checkpoint in --ckpt-dir\n"
        "                          with its settings (model, schedule, batch, data);\n"
        "                          flags given here override them and are reported\n"
        "  --resume-from CKPT      continue CKPT's run (a file, or a --ckpt-dir's\n"
        "                          newest) as --resume does, saving into this\n"
        "                          --ckpt-dir, which holds no checkpoint yet: a branch\n"
        "                          (a cooldown, other data); its --metrics is not\n"
        "                          inherited\n"
        "  --init-from CKPT        a new run (step 0, fresh optimizer and schedule) from\n"
        "                          CKPT's weights and shape, e.g. to fine-tune (a\n"
        "                          --ckpt-dir: its newest checkpoint)\n"
        "  --metrics FILE          JSON Lines: one object per step and per evaluation\n"
        "  --print-every N         progress line every N steps (default 10)\n"
        "  --quiet                 print errors only\n"
        "  --profile N             run N steps, printing per step: chunk assembly,\n"
        "                          upload, forward/backward/optimizer GPU time, GPU\n"
        "                          idle and busy, host<->device syncs, host\n"
        "                          allocations, CPU %% of a core, GPU utilisation,\n"
        "                          clock, power and whether the power cap holds the\n"
        "                          clock (NVML), tok/s and MFU (also into --metrics);\n"
        "                          docs/performance.md\n"
        "  --peak-tflops X         the GPU's dense peak for MFU, 0.001..1e6\n"
        "                          (default: a table of A100/H100/H200 figures)\n"
        "  --dump-batch FILE       write the next batch with the CPU model's loss,\n"
        "                          logits and gradients (for scripts/torch-reference.py)\n"
        "                          and exit\n"
        "  --help                  this text\n"
        "  --version               version, git revision and libraries\n"
        "\n"
        "Example:\n"
        "  %s --data data/ --model small --steps 2k --batch 16 \\\n"
        "      --batch-tokens 32Ki --ckpt-dir ckpt/ --ckpt-every 500 \\\n"
        "      --metrics metrics.jsonl --sample-every 500\n"
        "\n"
        "exit status: 0 done (a --stop-after or --time-limit stop too), 1 error, 2 usage,\n"
        "128+N stopped by signal N: SIGINT 130, SIGTERM 143, SIGHUP 129, SIGUSR1 138,\n"
        "SIGPIPE 141 (its output's reader gone), after the step and the checkpoint of\n"
        "--ckpt-dir (--resume continues); with ranks, every rank exits as the\n"
        "signalled one\n",
        prog);
}

enum {
    O_DATA = 256, O_DATA_ORDER, O_SYNTHETIC, O_VOCAB, O_NO_VERIFY, O_TOKENIZER, O_DEVICE,
    O_MODEL, O_LAYERS, O_HEADS, O_DIM, O_SEQ_LEN, O_BATCH, O_BATCH_TOKENS, O_STEPS,
    O_STOP_AFTER, O_LR, O_MIN_LR, O_LR_SCHEDULE, O_COOLDOWN, O_COOLDOWN_STEPS, O_WARMUP, O_WD, O_CLIP, O_SEED, O_THREADS, O_VAL_EVERY,
    O_VAL_TOKENS, O_SAMPLE_EVERY, O_SAMPLE_TOKENS, O_TOP_K, O_TEMPERATURE, O_CKPT_DIR,
    O_CKPT_EVERY, O_CKPT_KEEP, O_TIME_LIMIT, O_RESUME, O_RESUME_FROM, O_METRICS, O_PRINT_EVERY, O_QUIET, O_DUMP_BATCH, O_HELP,
    O_PRECISION, O_PROFILE, O_PEAK_TFLOPS, O_VERSION,
    O_DIST, O_DIST_TIMEOUT, O_DIST_PORT, O_ZERO, O_GRAD_REDUCE, O_INIT_FROM, O_CONFIG,
    O_ARCH, O_KV_HEADS, O_FFN_DIM, O_ROPE_THETA, O_NORM_EPS, O_TIE_EMB,
};

static const struct option long_opts[] = {
    { "data", required_argument, NULL, O_DATA },
    { "data-order", required_argument, NULL, O_DATA_ORDER },
    { "synthetic", no_argument, NULL, O_SYNTHETIC },
    { "vocab", required_argument, NULL, O_VOCAB },
    { "no-verify", no_argument, NULL, O_NO_VERIFY },
    { "tokenizer", required_argument, NULL, O_TOKENIZER },
    { "device", required_argument, NULL, O_DEVICE },
    { "model", required_argument, NULL, O_MODEL },
    { "layers", required_argument, NULL, O_LAYERS },
    { "heads", required_argument, NULL, O_HEADS },
    { "dim", required_argument, NULL, O_DIM },
    { "seq-len", required_argument, NULL, O_SEQ_LEN },
    { "batch", required_argument, NULL, O_BATCH },
    { "batch-tokens", required_argument, NULL, O_BATCH_TOKENS },
    { "steps", required_argument, NULL, O_STEPS },
    { "stop-after", required_argument, NULL, O_STOP_AFTER },
    { "lr", required_argument, NULL, O_LR },
    { "min-lr", required_argument, NULL, O_MIN_LR },
    { "lr-schedule", required_argument, NULL, O_LR_SCHEDULE },
    { "cooldown", required_argument, NULL, O_COOLDOWN },
    { "cooldown-steps", required_argument, NULL, O_COOLDOWN_STEPS },
    { "warmup", required_argument, NULL, O_WARMUP },
    { "weight-decay", required_argument, NULL, O_WD },
    { "grad-clip", required_argument, NULL, O_CLIP },
    { "seed", required_argument, NULL, O_SEED },
    { "threads", required_argument, NULL, O_THREADS },
    { "val-every", required_argument, NULL, O_VAL_EVERY },
    { "val-tokens", required_argument, NULL, O_VAL_TOKENS },
    { "sample-every", required_argument, NULL, O_SAMPLE_EVERY },
    { "sample-tokens", required_argument, NULL, O_SAMPLE_TOKENS },
    { "top-k", required_argument, NULL, O_TOP_K },
    { "temperature", required_argument, NULL, O_TEMPERATURE },
    { "ckpt-dir", required_argument, NULL, O_CKPT_DIR },
    { "ckpt-every", required_argument, NULL, O_CKPT_EVERY },
    { "ckpt-keep", required_argument, NULL, O_CKPT_KEEP },
    { "time-limit", required_argument, NULL, O_TIME_LIMIT },
    { "resume", no_argument, NULL, O_RESUME },
    { "resume-from", required_argument, NULL, O_RESUME_FROM },
    { "metrics", required_argument, NULL, O_METRICS },
    { "print-every", required_argument, NULL, O_PRINT_EVERY },
    { "quiet", no_argument, NULL, O_QUIET },
    { "dump-batch", required_argument, NULL, O_DUMP_BATCH },
    { "help", no_argument, NULL, O_HELP },
    { "version", no_argument, NULL, O_VERSION },
    { "precision", required_argument, NULL, O_PRECISION },
    { "profile", required_argument, NULL, O_PROFILE },
    { "peak-tflops", required_argument, NULL, O_PEAK_TFLOPS },
    { "dist", required_argument, NULL, O_DIST },
    { "dist-timeout", required_argument, NULL, O_DIST_TIMEOUT },
    { "dist-port", required_argument, NULL, O_DIST_PORT },
    { "zero", required_argument, NULL, O_ZERO },
    { "grad-reduce", required_argument, NULL, O_GRAD_REDUCE },
    { "init-from", required_argument, NULL, O_INIT_FROM },
    { "config", required_argument, NULL, O_CONFIG },
    { "arch", required_argument, NULL, O_ARCH },
    { "kv-heads", required_argument, NULL, O_KV_HEADS },
    { "ffn-dim", required_argument, NULL, O_FFN_DIM },
    { "rope-theta", required_argument, NULL, O_ROPE_THETA },
    { "norm-eps", required_argument, NULL, O_NORM_EPS },
    { "tie-embeddings", no_argument, NULL, O_TIE_EMB },
    { NULL, 0, NULL, 0 },
};

/* Every number goes through common/cli_num.h (k M G T, Ki Mi Gi Ti
 * suffixes; one wording of range errors for every program); a float is
 * range-checked as a double first, so 1e300 never becomes inf. */
int tr_optlist_add(struct tr_optlist *l, const char *key, const char *val)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct tr_optkv *kv = realloc(l->kv, cap * sizeof(*kv));
        if (!kv)
            return ingot_oom("settings list", cap * sizeof(*kv));
        l->kv = kv;
        l->cap = cap;
    }
    char *k = strdup(key), *v = strdup(val);
    if (!k || !v) {
        free(k);
        free(v);
        return ingot_oom("a setting", strlen(key) + strlen(val) + 2);
    }
    l->kv[l->n++] = (struct tr_optkv){ k, v, 0 };
    return 0;
}

const char *tr_optlist_get(const struct tr_optlist *l, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->kv[i].key, key))
            v = l->kv[i].val;
    return v;
}

void tr_optlist_remove(struct tr_optlist *l, const char *key)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->kv[i].key, key)) {
            l->kv[k++] = l->kv[i];
            continue;
        }
        free(l->kv[i].key);
        free(l->kv[i].val);
    }
    l->n = k;
}

void tr_optlist_free(struct tr_optlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->kv[i].key);
        free(l->kv[i].val);
    }
    free(l->kv);
    free(l->origin);
    free(l->fix);
    memset(l, 0, sizeof(*l));
}

int tr_opts_cooldown(const struct tr_opts *o)
{
    if (o->lr_schedule != TR_SCHED_WSD)
        return 0;
    if (o->cooldown_steps > 0)
        return o->cooldown_steps;
    return tr_schedule_cooldown_steps(o->cooldown, o->steps);
}

void tr_opts_free(struct tr_opts *o)
{
    for (int i = 0; i < o->n_src; i++)
        tr_optlist_free(&o->src[i]);
    o->n_src = 0;
    free(o->resume_path);
    free(o->init_path);
    free(o->settings_note);
    free(o->unused_note);
    o->resume_path = o->init_path = o->settings_note = o->unused_note = NULL;
}

static const struct option *find_opt(const char *key)
{
    for (const struct option *p = long_opts; p->name; p++)
        if (!strcmp(p->name, key))
            return p;
    return NULL;
}

bool tr_opts_is_switch(const char *key)
{
    const struct option *p = find_opt(key);
    return p && p->has_arg == no_argument;
}

bool tr_opts_known(const char *key)
{
    const struct option *p = find_opt(key);
    return p && p->val != O_HELP && p->val != O_VERSION;
}

/* Whether a switch's value is on: "true" (the command line, JSON true) or
 * "false"; anything else is an error. */
static int switch_value(const char *flag, const char *v, bool *on)
{
    if (!strcmp(v, "true") || !strcmp(v, "1"))
        *on = true;
    else if (!strcmp(v, "false") || !strcmp(v, "0"))
        *on = false;
    else
        return ingot_fail(INGOT_E_USAGE, "--%s: '%s'; a switch is true or false", flag,
                          TERM_SHOW(v));
    return 0;
}

/* Apply one flag's value to o. */
static int apply(struct tr_opts *o, const struct option *opt, char *v)
{
    int err = 0;
    bool on = false;
    int64_t v64 = 0;
    if (opt->has_arg == no_argument && (err = switch_value(opt->name, v, &on)))
        return err;
    switch (opt->val) {
    case O_DATA: err = tr_loader_source_add(o->data_src, &o->n_data, v); break;
    case O_DATA_ORDER:
        if (!strcmp(v, "sequential"))
            o->sequential = true;
        else if (!strcmp(v, "shuffled"))
            o->sequential = false;
        else
            err = ingot_fail(INGOT_E_USAGE, "--data-order: '%s'; use shuffled or sequential",
                             TERM_SHOW(v));
        break;
    case O_SYNTHETIC: o->synthetic = on; break;
    case O_VOCAB: err = cli_parse_int("--vocab", v, 2, TR_MAX_VOCAB, &o->vocab); break;
    case O_NO_VERIFY: o->verify = !on; break;
    case O_TOKENIZER: o->tokenizer = v; break;
    case O_DEVICE: o->device = v; break;
    case O_MODEL: o->model = v; break;
    case O_ARCH:
        if (strcmp(v, "gpt2") && strcmp(v, "llama"))
            err = ingot_fail(INGOT_E_USAGE, "--arch: '%s'; use gpt2 or llama", TERM_SHOW(v));
        o->arch = v;
        break;
    case O_KV_HEADS: err = cli_parse_int("--kv-heads", v, 1, 1 << 20, &o->kv_heads); break;
    /* the model's own limit (tr_llama_config_check), so the message names the flag */
    case O_FFN_DIM: err = cli_parse_int("--ffn-dim", v, 1, 1 << 18, &o->ffn_dim); break;
    case O_ROPE_THETA:
        err = cli_parse_double("--rope-theta", v, 1.0, 1e12, &o->rope_theta);
        if (!err && !(o->rope_theta > 1.0 && o->rope_theta <= 1e12))
            err = ingot_fail(INGOT_E_USAGE, "--rope-theta %s: the RoPE base must be above 1 "
                             "and at most 1e12 (LLaMA 2 uses 10000, LLaMA 3 500000)", TERM_SHOW(v));
        break;
    case O_NORM_EPS: err = cli_parse_float("--norm-eps", v, 1e-30, 0.5, &o->norm_eps); break;
    case O_TIE_EMB: o->tie_embeddings = on; break;
    case O_LAYERS: err = cli_parse_int("--layers", v, 1, 4096, &o->layers); break;
    case O_HEADS: err = cli_parse_int("--heads", v, 1, 1 << 20, &o->heads); break;
    case O_DIM: err = cli_parse_int("--dim", v, 1, 1 << 20, &o->dim); break;
    case O_SEQ_LEN: err = cli_parse_int("--seq-len", v, 1, 1 << 20, &o->seq_len); break;
    case O_BATCH: err = cli_parse_int("--batch", v, 1, 1 << 24, &o->batch); break;
    case O_BATCH_TOKENS:
        err = cli_parse_i64("--batch-tokens", v, 1, INT64_C(1) << 44, &o->batch_tokens);
        break;
    case O_STEPS: err = cli_parse_int("--steps", v, 1, TR_MAX_STEPS, &o->steps); break;
    case O_STOP_AFTER: err = cli_parse_int("--stop-after", v, 1, TR_MAX_STEPS, &o->stop_after); break;
    case O_LR: err = cli_parse_float("--lr", v, 0.0, 10.0, &o->lr); break;
    case O_MIN_LR: err = cli_parse_float("--min-lr", v, 0.0, 10.0, &o->min_lr); break;
    case O_LR_SCHEDULE:
        if ((o->lr_schedule = tr_schedule_parse(v)) < 0)
            err = ingot_fail(INGOT_E_USAGE, "--lr-schedule: '%s'; use cosine, linear, constant "
                             "or wsd", TERM_SHOW(v));
        break;
    case O_COOLDOWN:
        err = cli_parse_double("--cooldown", v, 1e-9, 1.0, &o->cooldown);
        break;
    case O_COOLDOWN_STEPS:
        err = cli_parse_int("--cooldown-steps", v, 1, TR_MAX_STEPS, &o->cooldown_steps);
        break;
    case O_WARMUP: err = cli_parse_int("--warmup", v, 0, TR_MAX_STEPS, &o->warmup); break;
    case O_WD: err = cli_parse_float("--weight-decay", v, 0.0, 10.0, &o->weight_decay); break;
    case O_CLIP: err = cli_parse_float("--grad-clip", v, 0.0, 1e6, &o->grad_clip); break;
    case O_SEED:
        err = cli_parse_i64("--seed", v, 0, INT64_MAX, &v64);
        o->seed = (uint64_t)v64;
        break;
    case O_THREADS: err = cli_parse_int("--threads", v, 1, 4096, &o->threads); break;
    case O_VAL_EVERY: err = cli_parse_int("--val-every", v, 0, TR_MAX_STEPS, &o->val_every); break;
    case O_VAL_TOKENS:
        err = cli_parse_i64("--val-tokens", v, 0, INT64_C(1) << 40, &o->val_tokens);
        if (!err && !o->val_tokens)   /* it turned validation off without a word */
            err = ingot_fail(INGOT_E_USAGE, "--val-tokens 0: the val set is at least one "
                             "window; --val-every 0 turns validation off");
        break;
    case O_SAMPLE_EVERY: err = cli_parse_int("--sample-every", v, 0, TR_MAX_STEPS, &o->sample_every); break;
    case O_SAMPLE_TOKENS: err = cli_parse_int("--sample-tokens", v, 1, 1 << 20, &o->sample_tokens); break;
    case O_TOP_K: err = cli_parse_int("--top-k", v, 1, 256, &o->top_k); break;
    case O_TEMPERATURE: err = cli_parse_float("--temperature", v, 1e-3, 100.0, &o->temperature); break;
    case O_CKPT_DIR: o->ckpt_dir = v; break;
    case O_CKPT_EVERY: err = cli_parse_int("--ckpt-every", v, 0, TR_MAX_STEPS, &o->ckpt_every); break;
    case O_CKPT_KEEP: err = cli_parse_int("--ckpt-keep", v, 0, 1 << 20, &o->ckpt_keep); break;
    case O_TIME_LIMIT: err = cli_parse_duration("--time-limit", v, &o->time_limit); break;
    case O_RESUME: o->resume = on; break;
    case O_RESUME_FROM: o->resume_from = v; break;
    case O_INIT_FROM: o->init_from = v; break;
    case O_CONFIG: o->config = v; break;
    case O_METRICS: o->metrics = v; break;
    case O_PRINT_EVERY: err = cli_parse_int("--print-every", v, 1, TR_MAX_STEPS, &o->print_every); break;
    case O_QUIET: o->quiet = on; break;
    case O_DUMP_BATCH: o->dump_batch = v; break;
    case O_PRECISION:
        if (strcmp(v, "fp32") && strcmp(v, "bf16"))
            err = ingot_fail(INGOT_E_USAGE, "--precision: '%s'; use fp32 or bf16", TERM_SHOW(v));
        o->precision = v;
        break;
    case O_PROFILE: err = cli_parse_int("--profile", v, 1, TR_MAX_STEPS, &o->profile); break;
    case O_PEAK_TFLOPS: err = cli_parse_float("--peak-tflops", v, 1e-3, 1e6, &o->peak_tflops); break;
    case O_DIST: o->dist = v; break;
    case O_DIST_TIMEOUT: err = cli_parse_double("--dist-timeout", v, 1.0, 1e6, &o->dist_timeout); break;
    case O_DIST_PORT: err = cli_parse_int("--dist-port", v, 1, 65535, &o->dist_port); break;
    case O_ZERO: err = cli_parse_int("--zero", v, 0, 1, &o->zero); break;
    case O_GRAD_REDUCE:
        if (!strcmp(v, "bf16") || !strcmp(v, "fp32"))
            o->grad_reduce_bf16 = !strcmp(v, "bf16");
        else
            err = ingot_fail(INGOT_E_USAGE, "--grad-reduce: '%s'; use fp32 or bf16", TERM_SHOW(v));
        break;
    default:
        err = ingot_fail(INGOT_E_USAGE, "unknown setting '%s'", opt->name);
        break;
    }
    return err;
}

int tr_opts_argv(int argc, char **argv, struct tr_optlist *cl)
{
    const char *prog = argc > 0 && strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 :
                       argc > 0 ? argv[0] : "ingot-train";
    int c, idx, err = 0;
    memset(cl, 0, sizeof(*cl));
    if (!(cl->origin = strdup(CMDLINE_ORIGIN)))
        return ingot_oom("settings origin", 32);
    opterr = 0;
    optind = 1;
    /* ":" first: a flag at the end without its value is ':' (not '?') */
    while (!err && (idx = -1, c = getopt_long(argc, argv, ":h", long_opts, &idx)) != -1) {
        if (c == O_HELP || c == 'h') {
            tr_opts_help(prog);
            return TR_OPTS_HELP;
        }
        if (c == O_VERSION)
            return TR_OPTS_VERSION;
        if (c == ':' || c == '?' || idx < 0)
            err = cli_opt_error(c, argv, long_opts, "ingot-train --help");
        else if (!strcmp(long_opts[idx].name, "config") && tr_optlist_get(cl, "config"))
            /* one file is read: a second one silently replaced the first */
            err = ingot_fail(INGOT_E_USAGE, "--config given twice (%s, then %s): one file is "
                             "read; put the settings of both in one",
                             TERM_SHOW(tr_optlist_get(cl, "config")), TERM_SHOW(optarg));
        else if (!(err = optarg ? cli_check_value(long_opts[idx].name, optarg) : 0))
            err = tr_optlist_add(cl, long_opts[idx].name, optarg ? optarg : "true");
    }
    if (err)
        return err;
    if (optind < argc)
        return ingot_fail(INGOT_E_USAGE, "unexpected argument '%s' (options start with --; see "
                          "--help)", TERM_SHOW(argv[optind]));
    return 0;
}

int tr_opts_parse(int argc, char **argv, struct tr_opts *o)
{
    struct tr_optlist cl;
    memset(o, 0, sizeof(*o));
    int err = tr_opts_argv(argc, argv, &cl);
    if (err) {
        tr_optlist_free(&cl);
        return err;
    }
    return tr_opts_build(&cl, 1, o);
}

/* Apply one layer: a --model in it resets the shape lower layers gave (the
 * preset fills it unless this layer names it too); its first --data
 * replaces lower layers' data, and --synthetic drops it. */
static int apply_layer_values(struct tr_opts *o, struct tr_optlist *l)
{
    /* a lower layer's wsd cooldown does not hold for another schedule, and
     * one form of it replaces the other */
    const char *sched = tr_optlist_get(l, "lr-schedule");
    bool share = tr_optlist_get(l, "cooldown"), steps = tr_optlist_get(l, "cooldown-steps");
    if (share && steps)
        return ingot_fail(INGOT_E_USAGE, "%s: --cooldown (a share of --steps) and "
                          "--cooldown-steps (a number of steps) exclude each other; give one",
                          l->origin);
    if ((sched && strcmp(sched, "wsd")) || steps)
        o->cooldown = -1.0;
    if ((sched && strcmp(sched, "wsd")) || share)
        o->cooldown_steps = -1;
    if (tr_optlist_get(l, "model")) {
        o->layers = o->heads = o->dim = o->seq_len = o->kv_heads = o->ffn_dim = -1;
        if (!tr_optlist_get(l, "arch"))
            o->arch = NULL;     /* the preset's family, unless this layer names one */
    }
    const char *syn = tr_optlist_get(l, "synthetic");
    if (tr_optlist_get(l, "data") && syn && !strcmp(syn, "true"))
        return ingot_fail(INGOT_E_USAGE, "%s: --synthetic and --data exclude each other",
                          l->origin);
    bool data_seen = false;
    for (size_t i = 0; i < l->n; i++) {
        const char *k = l->kv[i].key;
        const struct option *opt = find_opt(k);
        if (!opt || opt->val == O_HELP || opt->val == O_VERSION)
            return ingot_fail(INGOT_E_USAGE, "%s: unknown setting '%s' (the keys are the long "
                              "flags of --help, without the dashes)", l->origin, TERM_SHOW(k));
        if (opt->val == O_DATA && !data_seen) {
            data_seen = true;
            o->n_data = 0;
            o->synthetic = false;
            o->vocab = -1;
        }
        if (opt->val == O_SYNTHETIC && !strcmp(l->kv[i].val, "true"))
            o->n_data = 0;
        int err = apply(o, opt, l->kv[i].val);
        if (err) {
            if (l->kv[i].line > 0)
                err = ingot_fail(err, "%s:%d: %s", l->origin, l->kv[i].line,
                                 ingot_errmsg_for(err));
            else if (l->from_ckpt)
                err = ingot_fail(INGOT_E_CORRUPT, "%s: %s; the file is damaged (restore it "
                                 "from a copy)", l->origin, ingot_errmsg_for(err));
            else if (strcmp(l->origin, CMDLINE_ORIGIN))
                err = ingot_fail(err, "%s: %s", l->origin, ingot_errmsg_for(err));
            return err;
        }
    }
    return 0;
}

/* apply_layer_values(), and the layer's advice added to a refusal */
static int apply_layer(struct tr_opts *o, struct tr_optlist *l)
{
    int err = apply_layer_values(o, l);
    if (err && l->fix)
        err = ingot_fail(err, "%s. %s", ingot_errmsg_for(err), l->fix);
    return err;
}

/* Whether the command line itself gives key (not a --config file or a
 * checkpoint's settings, which carry a whole run's values, used or not). */
bool tr_opts_cmdline_gave(const struct tr_opts *o, const char *key)
{
    for (int i = 0; i < o->n_src; i++)
        if (o->src[i].origin && !strcmp(o->src[i].origin, CMDLINE_ORIGIN) &&
            tr_optlist_get(&o->src[i], key))
            return true;
    return false;
}

/* Append one sentence to the note on unused flags (o->unused_note). */
static int note_unused(struct tr_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int note_unused(struct tr_opts *o, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    size_t had = o->unused_note ? strlen(o->unused_note) : 0;
    char *n = realloc(o->unused_note, had + strlen(text) + 3);
    if (!n)
        return ingot_oom("a note", had + strlen(text) + 3);
    sprintf(n + had, "%s%s", had ? "; " : "", text);
    o->unused_note = n;
    return 0;
}

/* A flag typed on the command line that this run has no use for is named in
 * a note at the start, with what would use it: "--top-k 5" without
 * --sample-every trained without a word, as did --val-tokens under
 * --val-every 0, --peak-tflops without --profile (or on the CPU), --min-lr
 * under a constant schedule and --data-order or a --tokenizer (never even
 * opened) with --synthetic. Said, not refused: a job script's fixed flags
 * with an override appended (`$BASE --val-every 0`) are a run as meant. A
 * --config file or a checkpoint's settings hold every key of a run, used or
 * not: only the command line's are named. */
static int unused_flags(struct tr_opts *o)
{
    char from[512], list[96] = "";
    int err = 0;
    if (o->sample_every == 0) {
        static const char *const keys[] = { "sample-tokens", "top-k", "temperature" };
        size_t len = 0, n = 0;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (tr_opts_cmdline_gave(o, keys[i]))
                len += (size_t)snprintf(list + len, sizeof(list) - len, "%s--%s",
                                        n++ ? ", " : "", keys[i]);
        if (n)
            err = note_unused(o, "%s: for the samples of --sample-every, which is 0%s: this "
                              "run prints none (add --sample-every N)", list,
                              tr_opts_origin(o, "sample-every", from, sizeof(from)));
    }
    if (!err && o->val_every == 0 && tr_opts_cmdline_gave(o, "val-tokens"))
        err = note_unused(o, "--val-tokens: for the val loss, which --val-every 0%s turns off",
                          tr_opts_origin(o, "val-every", from, sizeof(from)));
    if (!err && tr_opts_cmdline_gave(o, "peak-tflops") && !strcmp(o->device, "cpu"))
        err = note_unused(o, "--peak-tflops: a GPU's peak, for --profile's MFU, which the CPU "
                          "back end (--device cpu%s) does not report",
                          tr_opts_origin(o, "device", from, sizeof(from)));
    else if (!err && tr_opts_cmdline_gave(o, "peak-tflops") && o->profile <= 0)
        err = note_unused(o, "--peak-tflops: for the MFU of --profile N, which is not given");
    if (!err && tr_opts_cmdline_gave(o, "min-lr") && o->lr_schedule == TR_SCHED_CONSTANT)
        err = note_unused(o, "--min-lr: --lr-schedule constant%s holds --lr to the end and never "
                          "decays to it (cosine, linear and wsd do)",
                          tr_opts_origin(o, "lr-schedule", from, sizeof(from)));
    if (!err && o->synthetic && tr_opts_cmdline_gave(o, "data-order"))
        err = note_unused(o, "--data-order: --synthetic%s draws random ids, not the windows of "
                          "a dataset, and has no order to choose",
                          tr_opts_origin(o, "synthetic", from, sizeof(from)));
    if (!err && o->synthetic && tr_opts_cmdline_gave(o, "tokenizer"))
        err = note_unused(o, "--tokenizer: --synthetic%s ids have no tokenizer (samples print "
                          "the ids); the file is not read",
                          tr_opts_origin(o, "synthetic", from, sizeof(from)));
    return err;
}

/* Schedule, batch and checkpoint checks common to every architecture. */
static int finish(struct tr_opts *o)
{
    /* schedule */
    if (o->min_lr < 0.0f) {
        /* a tenth of the lr as written (1e-3 -> 1e-4; in float arithmetic
         * 1e-3f * 0.1f is one ulp above 1e-4f and read 0.000100000005) */
        o->min_lr = (float)(cli_float_decimal(o->lr) / 10.0);
        o->derived |= TR_DERIVED_MIN_LR;
    }
    /* Each value named with where it came from: on --resume a lower --lr met
     * the checkpoint's min-lr (its lr/10), and "--min-lr 0.0003 is above --lr
     * 0.0001" named a flag the user never gave */
    char from_a[512], from_b[512];
    if (o->min_lr > o->lr)
        return ingot_fail(INGOT_E_USAGE, "--min-lr %g%s is above --lr %g%s: the decay ends at "
                          "--min-lr; give a --min-lr of at most --lr", (double)o->min_lr,
                          tr_opts_origin(o, "min-lr", from_a, sizeof(from_a)), (double)o->lr,
                          tr_opts_origin(o, "lr", from_b, sizeof(from_b)));
    if (o->warmup < 0) {
        o->warmup = o->steps / 20;
        o->derived |= TR_DERIVED_WARMUP;
    }
    if (o->warmup > o->steps)
        return ingot_fail(INGOT_E_USAGE, "--warmup %d%s is longer than --steps %d%s; give a "
                          "--warmup of at most --steps", o->warmup,
                          tr_opts_origin(o, "warmup", from_a, sizeof(from_a)), o->steps,
                          tr_opts_origin(o, "steps", from_b, sizeof(from_b)));
    if (o->lr_schedule != TR_SCHED_WSD && o->cooldown >= 0.0)
        return ingot_fail(INGOT_E_USAGE, "--cooldown %g is for --lr-schedule wsd (this run's "
                          "schedule is %s)", o->cooldown, tr_schedule_name(o->lr_schedule));
    if (o->lr_schedule != TR_SCHED_WSD && o->cooldown_steps >= 0)
        return ingot_fail(INGOT_E_USAGE, "--cooldown-steps %d is for --lr-schedule wsd (this "
                          "run's schedule is %s)", o->cooldown_steps,
                          tr_schedule_name(o->lr_schedule));
    if (o->lr_schedule == TR_SCHED_WSD) {
        if (o->cooldown < 0.0 && o->cooldown_steps < 0)
            o->cooldown = 0.2;
        int cool = tr_opts_cooldown(o);
        char given[64];
        if (o->cooldown_steps >= 0)
            snprintf(given, sizeof(given), "--cooldown-steps %d", o->cooldown_steps);
        else
            snprintf(given, sizeof(given), "--cooldown %g of --steps %d", o->cooldown, o->steps);
        if (o->warmup + cool > o->steps)
            return ingot_fail(INGOT_E_USAGE, "--lr-schedule wsd: --warmup %d and the cooldown "
                              "of %d steps (%s) add up to more than --steps %d; shorten one of "
                              "them", o->warmup, cool, given, o->steps);
    }
    /* past the end means "to the end": a job script that adds a fixed
     * --stop-after to each job's reaches the last one without failing */
    if (o->stop_after > o->steps)
        o->stop_after = o->steps;

    /* batch (the ops index rows of a micro-step with int) */
    int64_t micro = (int64_t)o->batch * o->seq_len;
    if (micro > (1 << 24))
        return ingot_fail(INGOT_E_USAGE, "--batch %d x --seq-len %d = %lld tokens per micro-step "
                          "is more than 2^24; use a smaller --batch and --batch-tokens for "
                          "accumulation", o->batch, o->seq_len, (long long)micro);
    if (o->batch_tokens < 0) {
        o->batch_tokens = micro;
        o->derived |= TR_DERIVED_BATCH_TOKENS;
    }
    if (o->batch_tokens % micro) {
        char from[512], fix[160] = "";   /* a checkpoint's or config file's value: say so */
        tr_opts_origin(o, "batch-tokens", from, sizeof(from));
        /* a resumed run keeps its global batch: the --batch that fits it */
        const int b = *from ? tr_opts_batch_keeping(o, 1) : 0;
        if (b)
            snprintf(fix, sizeof(fix), "; --batch %d keeps it (or give --batch-tokens for "
                     "another global batch)", b);
        return ingot_fail(INGOT_E_USAGE, "--batch-tokens %lld%s is not a multiple of --batch x "
                          "--seq-len = %lld%s", (long long)o->batch_tokens, from,
                          (long long)micro, fix);
    }
    if (o->batch_tokens / micro > 1 << 20)
        return ingot_fail(INGOT_E_USAGE, "--batch-tokens %lld means more than 2^20 micro-steps",
                          (long long)o->batch_tokens);
    o->grad_accum = (int)(o->batch_tokens / micro);

    if (o->resume_from && (o->resume || o->init_from))   /* tr_settings_resolve's too */
        return ingot_fail(INGOT_E_USAGE, "--resume-from excludes %s: it is the resume, from "
                          "the checkpoint it names", o->resume ? "--resume" : "--init-from");
    if (o->time_limit > 0.0 && !o->ckpt_dir)
        return ingot_fail(INGOT_E_USAGE, "--time-limit needs --ckpt-dir: the run ends with a "
                          "checkpoint to --resume from");
    if ((o->ckpt_every || o->ckpt_keep) && !o->ckpt_dir) {
        /* A config file (a run's own config.json, say) carries the cadence
         * but never the directory: it applies once --ckpt-dir is given. */
        for (int i = 0; i < o->n_src; i++) {
            const struct tr_optlist *l = &o->src[i];
            if (l->origin && !strcmp(l->origin, CMDLINE_ORIGIN) &&
                (tr_optlist_get(l, "ckpt-every") || tr_optlist_get(l, "ckpt-keep")))
                return ingot_fail(INGOT_E_USAGE, "--ckpt-every/--ckpt-keep need --ckpt-dir");
        }
        /* kept as they are (every save needs --ckpt-dir anyway): zeroed, a
         * --resume-from listed them as overrides nobody gave */
        o->ckpt_cadence_unused = true;
    }
    return unused_flags(o);
}

const char *tr_opts_source(const struct tr_opts *o, const char *key)
{
    for (int i = o->n_src - 1; i >= 0; i--) {
        const struct tr_optlist *l = &o->src[i];
        if (tr_optlist_get(l, key))
            return l->origin && strcmp(l->origin, CMDLINE_ORIGIN) ? l->origin : NULL;
    }
    return NULL;
}

bool tr_opts_carried(const struct tr_opts *o, const char *key)
{
    for (int i = o->n_src - 1; i >= 0; i--)
        if (tr_optlist_get(&o->src[i], key))
            return o->src[i].carried;
    return false;
}

const char *tr_opts_origin(const struct tr_opts *o, const char *key, char *buf, size_t n)
{
    const char *src = tr_opts_source(o, key);
    buf[0] = 0;
    if (src)
        snprintf(buf, n, " (from %s)", src);
    return buf;
}

int tr_opts_batch_keeping(const struct tr_opts *o, int world)
{
    for (int b = o->batch - 1; b >= 1; b--)
        if (o->batch_tokens % ((int64_t)b * o->seq_len * world) == 0)
            return b;
    return 0;
}

#define LLAMA_NOT_PRESET "not a llama preset (--arch llama)"

/* An unknown --model: "did you mean" the nearest preset of either
 * architecture, and both lists. */
static int unknown_preset(struct tr_opts *o, const char *what)
{
    const char *cands[64];
    size_t n = 0;
    char gpt2[256] = "", llama[256] = "", from[512], hint[640] = "";
    /* under --arch llama the spelling is matched against llama's presets
     * only: "small" was "did you mean small?" */
    const bool llama_only = !strcmp(what, LLAMA_NOT_PRESET);
    bool is_gpt2 = false;
    for (int i = 0; i < N_PRESETS && n < 64; i++) {
        snprintf(gpt2 + strlen(gpt2), sizeof(gpt2) - strlen(gpt2), "%s%s", i ? ", " : "",
                 presets[i].name);
        is_gpt2 |= !strcmp(o->model, presets[i].name);
        if (!llama_only)
            cands[n++] = presets[i].name;
    }
    for (const struct tr_llama_preset *q = tr_llama_presets; q->name && n < 64; q++) {
        snprintf(llama + strlen(llama), sizeof(llama) - strlen(llama), "%s%s",
                 q == tr_llama_presets ? "" : ", ", q->name);
        cands[n++] = q->name;
    }
    /* --arch llama --model tiny: the llama preset of that name, before the
     * nearest spelling (which would be tiny itself) */
    char prefixed[64];
    snprintf(prefixed, sizeof(prefixed), "llama-%s", o->model);
    const char *near = llama_only && tr_llama_preset_find(prefixed)
                       ? tr_llama_preset_find(prefixed)->name : cli_closest(o->model, cands, n);
    char arch_from[512];
    if (llama_only && is_gpt2)
        snprintf(hint, sizeof(hint), "; %s is a GPT-2 preset: leave out --arch llama%s, or "
                 "give a LLaMA preset%s%s%s;", o->model,
                 tr_opts_origin(o, "arch", arch_from, sizeof(arch_from)), near ? " (" : "",
                 near ? near : "", near ? "?)" : "");
    else if (near)
        snprintf(hint, sizeof(hint), "; did you mean %s?", near);
    return ingot_fail(INGOT_E_USAGE, "--model %s%s: %s%s GPT-2 presets: %s; LLaMA presets (--arch "
                      "llama): %s", TERM_SHOW(o->model),
                      tr_opts_origin(o, "model", from, sizeof(from)), what,
                      hint[0] ? hint : ";", gpt2, llama);
}

/* --arch llama: the shape from a llama-* preset and the flags
 * (tr_llama_params.h); the vocabulary comes later, from the data. */
static int llama_shape(struct tr_opts *o)
{
    const struct tr_llama_preset *p = tr_llama_preset_find(o->model);
    if (!p)
        return unknown_preset(o, LLAMA_NOT_PRESET);
    bool same_heads = o->heads < 0 || o->heads == p->n_head;
    bool same_dim = o->dim < 0 || o->dim == p->n_embd;
    if (o->layers < 0) o->layers = p->n_layer;
    if (o->heads < 0) o->heads = p->n_head;
    if (o->dim < 0) o->dim = p->n_embd;
    if (o->seq_len < 0) o->seq_len = p->seq_len;
    if (o->lr < 0.0f) {
        o->lr = p->lr;
        o->derived |= TR_DERIVED_LR;
    }
    if (o->kv_heads < 0) o->kv_heads = same_heads ? p->n_kv_head : o->heads;
    if (o->ffn_dim < 0) o->ffn_dim = same_dim ? p->ffn_dim : tr_llama_default_ffn(o->dim);
    if (o->rope_theta < 0.0) o->rope_theta = 10000.0;
    if (o->norm_eps < 0.0f) o->norm_eps = 1e-5f;
    if (o->dim % o->heads)
        return ingot_fail(INGOT_E_USAGE, "--dim %d is not a multiple of --heads %d", o->dim,
                          o->heads);
    if (o->heads % o->kv_heads)
        return ingot_fail(INGOT_E_USAGE, "--heads %d is not a multiple of --kv-heads %d",
                          o->heads, o->kv_heads);
    if ((o->dim / o->heads) % 2)
        return ingot_fail(INGOT_E_USAGE, "--dim %d / --heads %d = head size %d is odd; RoPE "
                          "rotates pairs of channels", o->dim, o->heads, o->dim / o->heads);
    return finish(o);
}

int tr_opts_build(struct tr_optlist *layers, int n, struct tr_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < n && i < (int)(sizeof(o->src) / sizeof(o->src[0])); i++) {
        o->src[i] = layers[i];
        memset(&layers[i], 0, sizeof(layers[i]));
        o->n_src = i + 1;
    }
    o->device = "auto";
    o->model = NULL;
    o->arch = NULL;
    o->kv_heads = o->ffn_dim = -1;
    o->rope_theta = -1.0;
    o->norm_eps = -1.0f;
    o->verify = true;
    o->vocab = -1;
    o->layers = o->heads = o->dim = o->seq_len = -1;
    o->batch = 8;
    o->batch_tokens = -1;
    o->steps = 1000;
    o->stop_after = -1;
    o->lr = o->min_lr = -1.0f;
    o->lr_schedule = TR_SCHED_COSINE;
    o->time_limit = -1.0;
    o->cooldown = -1.0;
    o->cooldown_steps = -1;
    o->warmup = -1;
    o->weight_decay = 0.1f;
    o->grad_clip = 1.0f;
    o->seed = 1337;
    o->val_every = 100;
    o->val_tokens = 32768;
    o->sample_tokens = 64;
    o->top_k = 40;
    o->temperature = 1.0f;
    o->print_every = 10;
    o->dist = "auto";
    o->dist_timeout = 600.0;
    int err = 0;
    for (int i = 0; i < o->n_src && !err; i++)
        err = apply_layer(o, &o->src[i]);
    if (err)
        return err;
    o->data = o->n_data ? o->data_src[0].dir : NULL;

    /* --resume alone (no --ckpt-dir): the data is whatever the checkpoint
     * would have said; what is missing is where the checkpoints are */
    if (o->resume && !o->ckpt_dir)
        return ingot_fail(INGOT_E_USAGE, "--resume needs --ckpt-dir (where the checkpoints are)");
    /* data source */
    if (o->synthetic && o->data)
        return ingot_fail(INGOT_E_USAGE, "--synthetic and --data exclude each other");
    if (!o->synthetic && !o->data)
        return ingot_fail(INGOT_E_USAGE, "no data: pass --data DIR (a dataset made by "
                          "ingot-pretok) or --synthetic; see --help");
    if (o->vocab > 0 && !o->synthetic)
        return ingot_fail(INGOT_E_USAGE, "--vocab is for --synthetic; a dataset's vocabulary "
                          "comes from its manifest");
    if (o->vocab < 0)
        o->vocab = 50257;

    /* architecture: --arch, else the preset's family */
    if (!o->arch)
        o->arch = o->model && tr_llama_preset_find(o->model) ? "llama" : "gpt2";
    bool llama = !strcmp(o->arch, "llama");
    if (!o->model)
        o->model = llama ? "llama-tiny" : "small";
    if (llama)
        return llama_shape(o);
    if (o->kv_heads > 0 || o->ffn_dim > 0 || o->rope_theta > 0.0 || o->norm_eps > 0.0f ||
        o->tie_embeddings) {
        /* name the flags set, and where each came from (a checkpoint's
         * settings when --resume --arch gpt2 meets a llama run) */
        const struct { bool set; const char *key; } f[] = {
            { o->kv_heads > 0, "kv-heads" }, { o->ffn_dim > 0, "ffn-dim" },
            { o->rope_theta > 0.0, "rope-theta" }, { o->norm_eps > 0.0f, "norm-eps" },
            { o->tie_embeddings, "tie-embeddings" } };
        char list[2048] = "", from[512], first[512] = "", arch_from[512];
        size_t len = 0;
        bool one_origin = true, seen = false;   /* all from one place: say it once */
        for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
            if (f[i].set) {
                tr_opts_origin(o, f[i].key, from, sizeof(from));
                if (!seen)
                    snprintf(first, sizeof(first), "%s", from);
                seen = true;
                one_origin = one_origin && !strcmp(from, first);
            }
        for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
            if (f[i].set && len < sizeof(list))
                len += (size_t)snprintf(list + len, sizeof(list) - len, "%s--%s%s",
                                        len ? ", " : "", f[i].key,
                                        one_origin ? "" : tr_opts_origin(o, f[i].key, from,
                                                                       sizeof(from)));
        return ingot_fail(INGOT_E_USAGE, "%s%s: for --arch llama only; this run is gpt2%s",
                          list, one_origin ? first : "",
                          tr_opts_origin(o, "arch", arch_from, sizeof(arch_from)));
    }

    /* model shape: preset, then explicit flags */
    const struct preset *p = NULL;
    for (int i = 0; i < N_PRESETS; i++)
        if (!strcmp(o->model, presets[i].name))
            p = &presets[i];
    char from[512], arch_from[512];
    if (!p && tr_llama_preset_find(o->model))
        return ingot_fail(INGOT_E_USAGE, "--model %s%s is a llama preset; this run is --arch "
                          "gpt2%s (leave --arch out or pass --arch llama)", o->model,
                          tr_opts_origin(o, "model", from, sizeof(from)),
                          tr_opts_origin(o, "arch", arch_from, sizeof(arch_from)));
    if (!p)
        return unknown_preset(o, "unknown preset");
    if (o->layers < 0) o->layers = p->layers;
    if (o->heads < 0) o->heads = p->heads;
    if (o->dim < 0) o->dim = p->dim;
    if (o->seq_len < 0) o->seq_len = p->seq_len;
    if (o->lr < 0.0f) {
        o->lr = p->lr;
        o->derived |= TR_DERIVED_LR;
    }
    if (o->dim % o->heads)
        return ingot_fail(INGOT_E_USAGE, "--dim %d is not a multiple of --heads %d", o->dim,
                          o->heads);

    return finish(o);
}
