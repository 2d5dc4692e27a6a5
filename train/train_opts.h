/* ingot-train's command line: options, presets, defaults and checks. */
#ifndef INGOT_TRAIN_OPTS_H
#define INGOT_TRAIN_OPTS_H

#include <stdbool.h>
#include <stdint.h>

struct tr_opts {
    /* data */
    const char *data;           /* --data DIR */
    bool synthetic;             /* --synthetic */
    int vocab;                  /* --vocab (synthetic only) */
    bool sequential;            /* --data-order sequential */
    bool verify;                /* checksums on open (--no-verify turns off) */
    const char *tokenizer;      /* --tokenizer FILE (decoding samples) */
    /* model */
    const char *device;         /* --device auto|cpu|cuda */
    const char *model;          /* --model PRESET */
    int layers, heads, dim, seq_len;
    /* optimisation */
    int batch;                  /* sequences per micro-step */
    int64_t batch_tokens;       /* tokens per optimizer step */
    int grad_accum;             /* derived: batch_tokens / (batch * seq_len) */
    int steps, stop_after;
    float lr, min_lr, weight_decay, grad_clip;
    int warmup;
    uint64_t seed;
    int threads;
    /* evaluation, sampling */
    int val_every;
    int64_t val_tokens;
    int sample_every, sample_tokens, top_k;
    float temperature;
    /* checkpoints, output */
    const char *ckpt_dir;
    int ckpt_every, ckpt_keep;
    bool resume;
    const char *metrics;
    int print_every;
    bool quiet;
    const char *dump_batch;     /* --dump-batch FILE (parity with PyTorch) */
    /* GPU */
    const char *precision;      /* --precision fp32|bf16 (NULL: the device's default) */
    int profile;                /* --profile N: N steps with per-step diagnostics (0: off) */
    float peak_tflops;          /* --peak-tflops X for MFU (0: the GPU's table entry) */
    /* data parallelism (docs/multi-gpu.md) */
    const char *dist;           /* --dist auto|none|tcp|mpi|nccl */
    double dist_timeout;        /* --dist-timeout S: rendezvous, init, no-progress limit */
    int dist_port;              /* --dist-port P (0: from the launcher's environment) */
    int zero;                   /* --zero 0|1: 1 shards AdamW state (m, v, fp32 master
                                   weights) across ranks */
    bool grad_reduce_bf16;      /* --grad-reduce bf16 (default fp32) */
};

/* The most optimizer steps a run (and a checkpoint) may count: steps are
 * int in the loop and the schedule. */
#define TR_MAX_STEPS (1 << 30)
/* The largest vocabulary: ids are int32 and rows of wte are padded. */
#define TR_MAX_VOCAB (1 << 30)

/* tr_opts_parse() results other than 0 and errors. */
enum { TR_OPTS_HELP = 1, TR_OPTS_VERSION = 2 };

/* Parse argv into o (presets applied, explicit flags win, defaults filled,
 * ranges checked). Returns 0, TR_OPTS_HELP when --help was printed,
 * TR_OPTS_VERSION for --version (main prints it: it knows the libraries),
 * or INGOT_E_USAGE with a message. The vocabulary is not known here; the
 * model's shape is completed by the caller once the data is open. */
int tr_opts_parse(int argc, char **argv, struct tr_opts *o);

/* Print the usage text to stdout. */
void tr_opts_help(const char *prog);

#endif
