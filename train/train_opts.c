/* Command-line parsing for ingot-train. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_num.h"
#include "ingot_err.h"
#include "train_opts.h"

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

void tr_opts_help(const char *prog)
{
    printf("Usage: %s --data DIR [options]\n"
           "       %s --synthetic [--vocab N] [options]\n"
           "Train a GPT-2 model on token shards made by ingot-pretok.\n"
           "Integers take k M G T (x1000) or Ki Mi Gi Ti (x1024) suffixes: 512k = 512000,\n"
           "512Ki = 524288.\n\n", prog, prog);
    printf(
        "Data:\n"
        "  --data DIR              dataset directory (manifest.json + *.tok)\n"
        "  --data-order ORDER      shuffled (default: a seeded permutation of the\n"
        "                          windows per epoch) or sequential\n"
        "  --synthetic             random token ids instead of a dataset (compute only)\n"
        "  --vocab N               vocabulary of --synthetic ids (default 50257)\n"
        "  --no-verify             skip recomputing shard checksums at start\n"
        "  --tokenizer FILE        SentencePiece model for decoding samples\n"
        "                          (default: the one the manifest names)\n\n"
        "Model:\n"
        "  --device DEV            auto (default), cpu or cuda\n"
        "  --precision P           fp32 or bf16 (default: bf16 on cuda; the CPU is fp32)\n"
        "  --model PRESET          shape preset (default small):\n");
    for (int i = 0; i < N_PRESETS; i++)
        printf("                            %-10s L%-2d H%-2d C%-4d T%-4d  %s\n", presets[i].name,
               presets[i].layers, presets[i].heads, presets[i].dim, presets[i].seq_len,
               presets[i].what);
    printf(
        "  --layers N --heads N --dim N --seq-len N\n"
        "                          override the preset's shape (--dim a multiple of --heads)\n\n"
        "Optimisation:\n"
        "  --batch N               sequences per micro-step (default 8)\n"
        "  --batch-tokens N        tokens per optimizer step; a multiple of batch x seq-len,\n"
        "                          the rest is gradient accumulation (default batch x seq-len)\n"
        "  --steps N               optimizer steps of the whole run; sets the schedule\n"
        "                          (default 1000)\n"
        "  --stop-after K          end this run after step K with a checkpoint (resume later)\n"
        "  --lr X                  peak learning rate (default: per preset, 1e-3 for small)\n"
        "  --min-lr X              final learning rate of the cosine decay (default lr/10)\n"
        "  --warmup N              linear warmup steps (default steps/20)\n"
        "  --weight-decay X        AdamW decoupled decay on the matrices (default 0.1)\n"
        "  --grad-clip X           global gradient-norm limit, 0 = off (default 1.0)\n"
        "  --seed N                seeds init, data order and sampling (default 1337)\n"
        "  --threads N             CPU threads (default: all; OMP_NUM_THREADS)\n\n"
        "Data parallelism (docs/multi-gpu.md; under torchrun, srun, mpirun or RANK/WORLD_SIZE):\n"
        "  --dist M                auto (default: the launcher's world, nccl on GPUs, mpi\n"
        "                          under mpirun, else tcp), none, tcp, mpi, nccl\n"
        "  --dist-timeout S        rendezvous deadline and no-progress limit (default 600)\n"
        "  --dist-port P           rendezvous port (default: MASTER_PORT, +1 under torchrun)\n"
        "  --zero 1                shard AdamW state (m, v, fp32 master weights) across\n"
        "                          ranks: reduce-scatter, update own shard, all-gather\n"
        "                          (default 0: every rank holds all of it)\n"
        "  --grad-reduce T         gradient all-reduce in fp32 (default) or bf16\n\n"
        "Evaluation and sampling:\n"
        "  --val-every N           val loss every N steps and at the end, 0 = off (default 100)\n"
        "  --val-tokens N          tokens of the fixed val set (default 32768)\n"
        "  --sample-every N        print generated text every N steps, 0 = off (default 0)\n"
        "  --sample-tokens N       tokens per sample (default 64)\n"
        "  --top-k K               sample from the K likeliest, 1 = greedy, at most 256\n"
        "                          (default 40)\n"
        "  --temperature X         sampling temperature (default 1.0)\n\n"
        "Checkpoints and output:\n"
        "  --ckpt-dir D            write checkpoints to D (always at the end of the run)\n"
        "  --ckpt-every N          also every N steps (default 0: only at the end)\n"
        "  --ckpt-keep N           keep only the newest N checkpoints (default 0: all)\n"
        "  --resume                continue from the newest checkpoint in --ckpt-dir\n"
        "  --metrics FILE          JSON Lines: one object per step and per evaluation\n"
        "  --print-every N         progress line every N steps (default 10)\n"
        "  --quiet                 print errors only\n"
        "  --profile N             run N steps, printing per step: chunk assembly, upload,\n"
        "                          forward/backward/optimizer GPU time, GPU idle and busy,\n"
        "                          host<->device syncs, host allocations, CPU %% of a core,\n"
        "                          GPU utilisation and clock (NVML), tok/s and MFU (also\n"
        "                          into --metrics); docs/performance.md\n"
        "  --peak-tflops X         the GPU's dense peak for MFU (default: a table of\n"
        "                          A100/H100/H200 figures)\n"
        "  --dump-batch FILE       write the next batch with the CPU model's loss, logits\n"
        "                          and gradients (for scripts/torch-reference.py) and exit\n"
        "  --help                  this text\n"
        "  --version               version, git revision and libraries\n\n"
        "Example:\n"
        "  %s --data data/ --model small --steps 2k --batch 16 --batch-tokens 32Ki \\\n"
        "      --ckpt-dir ckpt/ --ckpt-every 500 --metrics metrics.jsonl --sample-every 500\n",
        prog);
}

enum {
    O_DATA = 256, O_DATA_ORDER, O_SYNTHETIC, O_VOCAB, O_NO_VERIFY, O_TOKENIZER, O_DEVICE,
    O_MODEL, O_LAYERS, O_HEADS, O_DIM, O_SEQ_LEN, O_BATCH, O_BATCH_TOKENS, O_STEPS,
    O_STOP_AFTER, O_LR, O_MIN_LR, O_WARMUP, O_WD, O_CLIP, O_SEED, O_THREADS, O_VAL_EVERY,
    O_VAL_TOKENS, O_SAMPLE_EVERY, O_SAMPLE_TOKENS, O_TOP_K, O_TEMPERATURE, O_CKPT_DIR,
    O_CKPT_EVERY, O_CKPT_KEEP, O_RESUME, O_METRICS, O_PRINT_EVERY, O_QUIET, O_DUMP_BATCH, O_HELP,
    O_PRECISION, O_PROFILE, O_PEAK_TFLOPS, O_VERSION,
    O_DIST, O_DIST_TIMEOUT, O_DIST_PORT, O_ZERO, O_GRAD_REDUCE,
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
    { "resume", no_argument, NULL, O_RESUME },
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
    { NULL, 0, NULL, 0 },
};

/* Every number goes through common/cli_num.h (k M G T, Ki Mi Gi Ti
 * suffixes; one wording of range errors for every program); a float is
 * range-checked as a double first, so 1e300 never becomes inf. */
static int parse_float(const char *flag, const char *s, double lo, double hi, float *out)
{
    double v = 0.0;
    int err = cli_parse_double(flag, s, lo, hi, &v);
    if (!err)
        *out = (float)v;
    return err;
}

int tr_opts_parse(int argc, char **argv, struct tr_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->device = "auto";
    o->model = "small";
    o->verify = true;
    o->vocab = -1;
    o->layers = o->heads = o->dim = o->seq_len = -1;
    o->batch = 8;
    o->batch_tokens = -1;
    o->steps = 1000;
    o->stop_after = -1;
    o->lr = o->min_lr = -1.0f;
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

    const char *prog = argc > 0 && strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 :
                       argc > 0 ? argv[0] : "ingot-train";
    int c, err = 0;
    int64_t v64 = 0;
    opterr = 0;
    optind = 1;
    while (!err && (c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: o->data = optarg; break;
        case O_DATA_ORDER:
            if (!strcmp(optarg, "sequential"))
                o->sequential = true;
            else if (!strcmp(optarg, "shuffled"))
                o->sequential = false;
            else
                err = ingot_fail(INGOT_E_USAGE, "--data-order: '%s'; use shuffled or sequential",
                                 optarg);
            break;
        case O_SYNTHETIC: o->synthetic = true; break;
        case O_VOCAB: err = cli_parse_int("--vocab", optarg, 2, TR_MAX_VOCAB, &o->vocab); break;
        case O_NO_VERIFY: o->verify = false; break;
        case O_TOKENIZER: o->tokenizer = optarg; break;
        case O_DEVICE: o->device = optarg; break;
        case O_MODEL: o->model = optarg; break;
        case O_LAYERS: err = cli_parse_int("--layers", optarg, 1, 4096, &o->layers); break;
        case O_HEADS: err = cli_parse_int("--heads", optarg, 1, 1 << 20, &o->heads); break;
        case O_DIM: err = cli_parse_int("--dim", optarg, 1, 1 << 20, &o->dim); break;
        case O_SEQ_LEN: err = cli_parse_int("--seq-len", optarg, 1, 1 << 20, &o->seq_len); break;
        case O_BATCH: err = cli_parse_int("--batch", optarg, 1, 1 << 24, &o->batch); break;
        case O_BATCH_TOKENS:
            err = cli_parse_i64("--batch-tokens", optarg, 1, INT64_C(1) << 44, &o->batch_tokens);
            break;
        case O_STEPS: err = cli_parse_int("--steps", optarg, 1, TR_MAX_STEPS, &o->steps); break;
        case O_STOP_AFTER: err = cli_parse_int("--stop-after", optarg, 1, TR_MAX_STEPS, &o->stop_after); break;
        case O_LR: err = parse_float("--lr", optarg, 0.0, 10.0, &o->lr); break;
        case O_MIN_LR: err = parse_float("--min-lr", optarg, 0.0, 10.0, &o->min_lr); break;
        case O_WARMUP: err = cli_parse_int("--warmup", optarg, 0, TR_MAX_STEPS, &o->warmup); break;
        case O_WD: err = parse_float("--weight-decay", optarg, 0.0, 10.0, &o->weight_decay); break;
        case O_CLIP: err = parse_float("--grad-clip", optarg, 0.0, 1e6, &o->grad_clip); break;
        case O_SEED:
            err = cli_parse_i64("--seed", optarg, 0, INT64_MAX, &v64);
            o->seed = (uint64_t)v64;
            break;
        case O_THREADS: err = cli_parse_int("--threads", optarg, 1, 4096, &o->threads); break;
        case O_VAL_EVERY: err = cli_parse_int("--val-every", optarg, 0, TR_MAX_STEPS, &o->val_every); break;
        case O_VAL_TOKENS:
            err = cli_parse_i64("--val-tokens", optarg, 0, INT64_C(1) << 40, &o->val_tokens);
            break;
        case O_SAMPLE_EVERY: err = cli_parse_int("--sample-every", optarg, 0, TR_MAX_STEPS, &o->sample_every); break;
        case O_SAMPLE_TOKENS: err = cli_parse_int("--sample-tokens", optarg, 1, 1 << 20, &o->sample_tokens); break;
        case O_TOP_K: err = cli_parse_int("--top-k", optarg, 1, 256, &o->top_k); break;
        case O_TEMPERATURE: err = parse_float("--temperature", optarg, 1e-3, 100.0, &o->temperature); break;
        case O_CKPT_DIR: o->ckpt_dir = optarg; break;
        case O_CKPT_EVERY: err = cli_parse_int("--ckpt-every", optarg, 0, TR_MAX_STEPS, &o->ckpt_every); break;
        case O_CKPT_KEEP: err = cli_parse_int("--ckpt-keep", optarg, 0, 1 << 20, &o->ckpt_keep); break;
        case O_RESUME: o->resume = true; break;
        case O_METRICS: o->metrics = optarg; break;
        case O_PRINT_EVERY: err = cli_parse_int("--print-every", optarg, 1, TR_MAX_STEPS, &o->print_every); break;
        case O_QUIET: o->quiet = true; break;
        case O_DUMP_BATCH: o->dump_batch = optarg; break;
        case O_PRECISION:
            if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16"))
                err = ingot_fail(INGOT_E_USAGE, "--precision: '%s'; use fp32 or bf16", optarg);
            o->precision = optarg;
            break;
        case O_PROFILE: err = cli_parse_int("--profile", optarg, 1, TR_MAX_STEPS, &o->profile); break;
        case O_PEAK_TFLOPS: err = parse_float("--peak-tflops", optarg, 1e-3, 1e6, &o->peak_tflops); break;
        case O_DIST: o->dist = optarg; break;
        case O_DIST_TIMEOUT: err = cli_parse_double("--dist-timeout", optarg, 1.0, 1e6, &o->dist_timeout); break;
        case O_DIST_PORT: err = cli_parse_int("--dist-port", optarg, 1, 65535, &o->dist_port); break;
        case O_ZERO: err = cli_parse_int("--zero", optarg, 0, 1, &o->zero); break;
        case O_GRAD_REDUCE:
            if (!strcmp(optarg, "bf16") || !strcmp(optarg, "fp32"))
                o->grad_reduce_bf16 = !strcmp(optarg, "bf16");
            else
                err = ingot_fail(INGOT_E_USAGE, "--grad-reduce: '%s'; use fp32 or bf16", optarg);
            break;
        case O_HELP:
            tr_opts_help(prog);
            return TR_OPTS_HELP;
        case O_VERSION:
            return TR_OPTS_VERSION;
        case ':':
            err = ingot_fail(INGOT_E_USAGE, "%s needs a value (see --help)", argv[optind - 1]);
            break;
        default:
            err = ingot_fail(INGOT_E_USAGE, "unknown option '%s' (see --help)", argv[optind - 1]);
            break;
        }
    }
    if (err)
        return err;
    if (optind < argc)
        return ingot_fail(INGOT_E_USAGE, "unexpected argument '%s' (options start with --; see "
                          "--help)", argv[optind]);

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

    /* model shape: preset, then explicit flags */
    const struct preset *p = NULL;
    for (int i = 0; i < N_PRESETS; i++)
        if (!strcmp(o->model, presets[i].name))
            p = &presets[i];
    if (!p) {
        char names[256] = "";
        for (int i = 0; i < N_PRESETS; i++) {
            strcat(names, i ? ", " : "");
            strcat(names, presets[i].name);
        }
        return ingot_fail(INGOT_E_USAGE, "--model %s: unknown preset; one of %s", o->model, names);
    }
    if (o->layers < 0) o->layers = p->layers;
    if (o->heads < 0) o->heads = p->heads;
    if (o->dim < 0) o->dim = p->dim;
    if (o->seq_len < 0) o->seq_len = p->seq_len;
    if (o->lr < 0.0f) o->lr = p->lr;
    if (o->dim % o->heads)
        return ingot_fail(INGOT_E_USAGE, "--dim %d is not a multiple of --heads %d", o->dim,
                          o->heads);

    /* schedule */
    if (o->min_lr < 0.0f)
        o->min_lr = o->lr * 0.1f;
    if (o->min_lr > o->lr)
        return ingot_fail(INGOT_E_USAGE, "--min-lr %g is above --lr %g", (double)o->min_lr,
                          (double)o->lr);
    if (o->warmup < 0)
        o->warmup = o->steps / 20;
    if (o->warmup > o->steps)
        return ingot_fail(INGOT_E_USAGE, "--warmup %d is longer than --steps %d", o->warmup,
                          o->steps);
    if (o->stop_after > o->steps)
        return ingot_fail(INGOT_E_USAGE, "--stop-after %d is past --steps %d", o->stop_after,
                          o->steps);

    /* batch (the ops index rows of a micro-step with int) */
    int64_t micro = (int64_t)o->batch * o->seq_len;
    if (micro > (1 << 24))
        return ingot_fail(INGOT_E_USAGE, "--batch %d x --seq-len %d = %lld tokens per micro-step "
                          "is more than 2^24; use a smaller --batch and --batch-tokens for "
                          "accumulation", o->batch, o->seq_len, (long long)micro);
    if (o->batch_tokens < 0)
        o->batch_tokens = micro;
    if (o->batch_tokens % micro)
        return ingot_fail(INGOT_E_USAGE, "--batch-tokens %lld is not a multiple of --batch x "
                          "--seq-len = %lld", (long long)o->batch_tokens, (long long)micro);
    if (o->batch_tokens / micro > 1 << 20)
        return ingot_fail(INGOT_E_USAGE, "--batch-tokens %lld means more than 2^20 micro-steps",
                          (long long)o->batch_tokens);
    o->grad_accum = (int)(o->batch_tokens / micro);

    if (o->resume && !o->ckpt_dir)
        return ingot_fail(INGOT_E_USAGE, "--resume needs --ckpt-dir (where the checkpoints are)");
    if ((o->ckpt_every || o->ckpt_keep) && !o->ckpt_dir)
        return ingot_fail(INGOT_E_USAGE, "--ckpt-every/--ckpt-keep need --ckpt-dir");
    return 0;
}
