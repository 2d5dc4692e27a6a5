/* ingot-train's command line: options, presets, defaults and checks. */
#ifndef INGOT_TRAIN_OPTS_H
#define INGOT_TRAIN_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_loader.h"

/* One source of settings: (flag, value) pairs in the order given. Keys are
 * the long flag names without "--" ("batch-tokens"); a switch has the value
 * "true" or "false"; "data" may repeat. Owns its strings. */
struct tr_optkv {
    char *key, *val;
    int line;                   /* its line in a --config file, 0 elsewhere */
};
struct tr_optlist {
    struct tr_optkv *kv;
    size_t n, cap;
    char *origin;               /* for messages: "the command line", "--config F" */
    /* a checkpoint's settings (which ingot-train wrote, checksummed): a
     * value they refuse means a damaged file, not a wrong flag */
    bool from_ckpt;
    /* what to do about a value of this layer that is refused, added to the
     * message (malloc'd; NULL: none): the run's own config.json on --resume
     * says how to repair it */
    char *fix;
    /* settings carried over from an earlier invocation (a checkpoint's, or
     * the config.json a --resume before the first save starts from), not
     * given in this one */
    bool carried;
};

/* Append a pair (copied). 0 or an allocation failure. */
int tr_optlist_add(struct tr_optlist *l, const char *key, const char *val);
/* The last value of key, or NULL. */
const char *tr_optlist_get(const struct tr_optlist *l, const char *key);
/* Drop every pair of key. */
void tr_optlist_remove(struct tr_optlist *l, const char *key);
void tr_optlist_free(struct tr_optlist *l);   /* accepts a zeroed list */

struct tr_opts {
    /* data */
    const char *data;           /* the first --data DIR (NULL when synthetic) */
    int n_data;                 /* --data DIR[:WEIGHT], repeatable: a mixture */
    struct tr_loader_source data_src[TR_MAX_SOURCES];
    bool synthetic;             /* --synthetic */
    int vocab;                  /* --vocab (synthetic only) */
    bool sequential;            /* --data-order sequential */
    bool verify;                /* checksums on open (--no-verify turns off) */
    const char *tokenizer;      /* --tokenizer FILE (decoding samples) */
    /* model */
    const char *device;         /* --device auto|cpu|cuda */
    const char *model;          /* --model PRESET */
    int layers, heads, dim, seq_len;
    const char *arch;           /* --arch gpt2|llama (default: llama for a llama-* preset) */
    int kv_heads, ffn_dim;      /* llama: --kv-heads, --ffn-dim (preset or default rule) */
    double rope_theta;          /* llama: --rope-theta (10000) */
    float norm_eps;             /* llama: --norm-eps (1e-5) */
    bool tie_embeddings;        /* llama: --tie-embeddings */
    /* optimisation */
    int batch;                  /* sequences per micro-step */
    int64_t batch_tokens;       /* tokens per optimizer step */
    int grad_accum;             /* derived: batch_tokens / (batch * seq_len) */
    int steps, stop_after;
    float lr, min_lr, weight_decay, grad_clip;
    int warmup;
    int lr_schedule;            /* enum tr_schedule_kind (--lr-schedule) */
    double cooldown;            /* wsd: --cooldown, share of --steps (-1: not given) */
    int cooldown_steps;         /* wsd: --cooldown-steps, in steps (-1: not given) */
    uint64_t seed;
    int threads;
    /* evaluation, sampling */
    int val_every;
    int64_t val_tokens;
    int sample_every, sample_tokens, top_k;
    float temperature;
    /* checkpoints, output */
    const char *ckpt_dir;
    bool ckpt_dir_made;         /* set by main: this invocation created --ckpt-dir (a run
                                 * failing before writing into it leaves nothing) */
    int ckpt_every, ckpt_keep;
    double time_limit;          /* --time-limit in seconds (-1: none) */
    bool resume;
    const char *resume_from;    /* --resume-from CKPT: resume it into --ckpt-dir (a branch) */
    const char *init_from;      /* --init-from CKPT: weights only, a new run */
    const char *config;         /* --config FILE */
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

    /* Values no layer named, filled in from others by a rule (TR_DERIVED_*):
     * DIR/config.json leaves them out, so that a run repeated from it with,
     * say, another --lr or --steps derives them again (the checkpoint's
     * settings keep them: a resumed run keeps its schedule). */
    unsigned derived;
    /* --ckpt-every / --ckpt-keep came from a config file or checkpoint
     * without a --ckpt-dir here: checkpoints are off (said at the start) */
    bool ckpt_cadence_unused;

    /* Filled by tr_settings_resolve() (tr_settings.h): the checkpoint that
     * --resume continues (NULL: none yet, or no --resume), and the line that
     * names the settings given here that differ from its own (NULL: none). */
    char *resume_path;
    /* --init-from's checkpoint file (a --ckpt-dir given there: its newest),
     * the one its shape was taken from */
    char *init_path;
    char *settings_note;
    /* Filled by tr_opts_build(): flags the command line gave that this run
     * has no use for, each with what would use it ("--top-k: for the samples
     * of --sample-every, which is 0 ..."), for a note at the start; NULL: none */
    char *unused_note;
    /* the sources the strings above point into, lowest priority first */
    struct tr_optlist src[4];
    int n_src;
};

enum {
    TR_DERIVED_LR = 1 << 0,            /* the preset's */
    TR_DERIVED_MIN_LR = 1 << 1,        /* lr / 10 */
    TR_DERIVED_WARMUP = 1 << 2,        /* steps / 20 */
    TR_DERIVED_BATCH_TOKENS = 1 << 3,  /* one micro-step: batch x seq-len */
};

/* The most optimizer steps a run (and a checkpoint) may count: steps are
 * int in the loop and the schedule. */
#define TR_MAX_STEPS (1 << 30)
/* The largest vocabulary: ids are int32 and rows of wte are padded. */
#define TR_MAX_VOCAB (1 << 30)

/* tr_opts_parse() results other than 0 and errors. */
enum { TR_OPTS_HELP = 1, TR_OPTS_VERSION = 2 };

/* Collect argv's flags into cl (names and values checked, nothing
 * applied). Returns 0, TR_OPTS_HELP when --help was printed,
 * TR_OPTS_VERSION for --version (main prints it: it knows the libraries),
 * or INGOT_E_USAGE with a message. */
int tr_opts_argv(int argc, char **argv, struct tr_optlist *cl);

/* Fill o from layers (lowest priority first; a later layer's value wins; a
 * layer that names --data replaces the data of lower ones, and one that
 * names --model the shape they gave), then presets, derived defaults and
 * checks. o takes ownership of the lists (tr_opts_free() releases them; the
 * caller's copies are zeroed). Returns 0 or INGOT_E_USAGE naming the layer
 * of a bad value. The vocabulary is not known here; the model's shape is
 * completed by the caller once the data is open. */
int tr_opts_build(struct tr_optlist *layers, int n, struct tr_opts *o);

/* tr_opts_argv() then tr_opts_build() of the command line alone. */
int tr_opts_parse(int argc, char **argv, struct tr_opts *o);

/* Release what o owns. */
void tr_opts_free(struct tr_opts *o);
/* The wsd cooldown of built options in steps: --cooldown-steps, or the
 * --cooldown share of --steps rounded (tr_schedule_cooldown_steps()); 0
 * for another schedule. */
int tr_opts_cooldown(const struct tr_opts *o);
/* Where key's value came from: NULL when the command line or nothing set
 * it, else the origin of the settings that did ("checkpoint PATH",
 * "--config FILE": the user did not type it). */
const char *tr_opts_source(const struct tr_opts *o, const char *key);
/* Whether key's value comes from settings carried over from an earlier
 * invocation (lists marked carried), not from this one's command line or
 * --config file; false when nothing set it. */
bool tr_opts_carried(const struct tr_opts *o, const char *key);
/* Whether this invocation's command line gives key (not a --config file
 * or a checkpoint's settings, which hold every key of a run, used or not). */
bool tr_opts_cmdline_gave(const struct tr_opts *o, const char *key);
/* tr_opts_source() for messages: "" or " (from ORIGIN)", in buf. */
const char *tr_opts_origin(const struct tr_opts *o, const char *key, char *buf, size_t n);
/* The largest --batch below o's whose micro-steps over world ranks divide
 * o's --batch-tokens (the same global batch), or 0 when none does. */
int tr_opts_batch_keeping(const struct tr_opts *o, int world);

/* Whether key names a flag that takes no value (--resume, --synthetic). */
bool tr_opts_is_switch(const char *key);
/* Whether key is a flag name ingot-train knows (for config files). */
bool tr_opts_known(const char *key);

/* Print the usage text to stdout. */
void tr_opts_help(const char *prog);

#endif
