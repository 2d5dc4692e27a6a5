/* ingot-train eval: loss, perplexity and top-1 accuracy of a checkpoint on a
 * dataset split, or on a mixture of datasets, without training, on the CPU.
 * The windows are the trainer's: [k*T, k*T + T + 1) of the split's stream, in
 * stream order (a mixture: its weighted draw, data_loader.h), and --tokens N
 * takes as many as --val-tokens N does (tr_loader_val_take's rule), so
 * `--split val --tokens N` on the run's --data list and weights reproduces
 * the val loss a run with --val-tokens N logged at the checkpoint's step, and
 * on a mixture its loss by source (tr_src_loss.h). Only then: the default
 * --tokens is the whole split, not the trainer's 32768; and this is a float32
 * CPU forward, equal to a CPU or --precision fp32 run's to float rounding,
 * not to a bf16 run's. */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli_num.h"
#include "data_loader.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "json_term.h"
#include "term_text.h"
#include "mono_clock.h"
#include "tr_cpu_net.h"
#include "checkpoint.h"
#include "tr_export.h"
#include "tr_settings.h"
#include "tr_generate.h"
#include "tr_src_loss.h"

static const char usage[] =
    "usage: ingot-train eval CKPT [--data DIR[:WEIGHT] ...] [options]\n"
    "\n"
    "Loss, perplexity and next-token accuracy of a checkpoint (a ckpt-*.bin file or\n"
    "a --ckpt-dir directory) on a dataset split, on the CPU, without training.\n"
    "\n"
    "options:\n"
    "  --data DIR        the dataset (its tokenizer must be the checkpoint's); given\n"
    "                    more than once, the mixture, drawn as the trainer draws it;\n"
    "                    default: the data the checkpoint was trained on, as its\n"
    "                    settings name it, with their weights\n"
    "  --split val|train which split (default val)\n"
    "  --tokens N        evaluate the first N / seq-len windows, at least one\n"
    "                    (default: all of the split, not the trainer's 32768 of\n"
    "                    --val-tokens; k/M/G)\n"
    "  --batch N         sequences per forward pass, 1..4096, and batch x the\n"
    "                    checkpoint's seq-len at most 16Mi (default 8)\n"
    "  --threads N       CPU threads, 1..4096 (default: all cores)\n"
    "  --no-verify       skip recomputing the shard checksums\n"
    "  --json            print one JSON line instead of the sentence\n"
    "  --quiet           the result only: no notes or progress on stderr (errors\n"
    "                    are printed)\n"
    "  --help            this text\n"
    "  --version         version, git revision and libraries\n"
    "\n"
    "The loss equals the val loss the trainer logged at the checkpoint's step (a\n"
    "--val-every step or the last) only with --split val, --tokens equal to that\n"
    "run's --val-tokens (default 32768; the same rule picks the same windows) and\n"
    "the run's data and weights (the default without --data), unchanged since; and\n"
    "then to float rounding (~1e-6) for a --device cpu or --precision fp32 run:\n"
    "eval is a float32 forward, and a bf16 run (the GPU's default) logged numbers a\n"
    "little off it. Other settings measure the same loss on other windows.\n"
    "\n"
    "A mixture also gets each source's loss over its windows among those evaluated\n"
    "(JSON: \"src_loss\", null for a source without any, \"src_windows\" and\n"
    "\"src_names\", the names the text uses, in --data order).\n"
    "\n"
    "exit status: 0 done, 1 error, 2 usage\n";

struct eval_opts {
    const char *ckpt, *data;   /* data: the first --data (in messages) */
    int n_data;
    struct tr_loader_source src[TR_MAX_SOURCES];
    bool train, json, no_verify, quiet;
    int64_t tokens;
    int batch, threads;
};

enum { O_DATA = 256, O_SPLIT, O_TOKENS, O_BATCH, O_THREADS, O_NO_VERIFY, O_JSON, O_HELP,
       O_QUIET, O_VERSION };

/* s as a JSON string on stdout (a directory's name may hold any byte),
 * escaped for a terminal (json_term.h). */
static void json_print_string(const char *s)
{
    json_t *j = json_string(s);
    char *t = j ? json_term_dumps(j, JSON_ENCODE_ANY) : NULL;
    fputs(t ? t : "null", stdout);
    free(t);
    json_decref(j);
}

static int parse(int argc, char **argv, struct eval_opts *o)
{
    static const struct option longs[] = {
        { "data", required_argument, NULL, O_DATA },
        { "split", required_argument, NULL, O_SPLIT },
        { "tokens", required_argument, NULL, O_TOKENS },
        { "batch", required_argument, NULL, O_BATCH },
        { "threads", required_argument, NULL, O_THREADS },
        { "no-verify", no_argument, NULL, O_NO_VERIFY },
        { "json", no_argument, NULL, O_JSON },
        { "help", no_argument, NULL, O_HELP },
        { "quiet", no_argument, NULL, O_QUIET },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct eval_opts){ .batch = 8 };
    optind = 1;
    opterr = 0;
    int c, err = 0;
    int idx;
    while (!err && (idx = -1, c = getopt_long(argc, argv, ":h", longs, &idx)) != -1) {
        if (idx >= 0 && optarg && (err = cli_check_value(longs[idx].name, optarg)))
            break;
        switch (c) {
        case O_DATA:
            err = tr_loader_source_add(o->src, &o->n_data, optarg);
            o->data = o->src[0].dir;
            break;
        case O_SPLIT:
            if (strcmp(optarg, "val") && strcmp(optarg, "train"))
                return ingot_fail(INGOT_E_USAGE, "--split %s: expected val or train",
                                  TERM_SHOW(optarg));
            o->train = !strcmp(optarg, "train");
            break;
        case O_TOKENS: err = cli_parse_i64("--tokens", optarg, 1, INT64_MAX, &o->tokens); break;
        case O_BATCH: err = cli_parse_int("--batch", optarg, 1, 4096, &o->batch); break;
        case O_THREADS: err = cli_parse_int("--threads", optarg, 1, 4096, &o->threads); break;
        case O_NO_VERIFY: o->no_verify = true; break;
        case O_JSON: o->json = true; break;
        case O_QUIET: o->quiet = true; break;
        case O_VERSION: return TR_OPTS_VERSION;
        case 'h':
        case O_HELP:
            fputs(usage, stdout);
            return TR_OPTS_HELP;
        default:
            return tr_cli_bad_option(c, argv, longs);
        }
    }
    if (err)
        return err;
    if ((err = tr_cli_ckpt(argc, argv, &o->ckpt)))
        return err;
    return 0;
}

/* dir (and ":weight" when given) as one word a shell reads back: quoted
 * when it holds anything but plain path characters; in $'...' with \xHH
 * for every byte past printable ASCII when term_text() would not show it
 * as it is (an escape sequence in '...' reached the terminal). */
static void shell_word(FILE *f, const char *dir, const char *weight)
{
    bool plain = true;
    for (const char *p = dir; *p && plain; p++)
        plain = isalnum((unsigned char)*p) || strchr("_./:-+=,@%", *p);
    if (plain) {
        fprintf(f, "%s%s%s", dir, weight ? ":" : "", weight ? weight : "");
        return;
    }
    if (!term_text_plain(dir)) {
        fputs("$'", f);
        for (const unsigned char *p = (const unsigned char *)dir; *p; p++) {
            if (*p == '\'' || *p == '\\')
                fprintf(f, "\\%c", *p);
            else if (*p < 0x20 || *p >= 0x7F)
                fprintf(f, "\\x%02x", *p);
            else
                fputc(*p, f);
        }
        fprintf(f, "%s%s'", weight ? ":" : "", weight ? weight : "");
        return;
    }
    fputc('\'', f);
    for (const char *p = dir; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", f);   /* close, an escaped quote, reopen */
        else
            fputc(*p, f);
    }
    fprintf(f, "%s%s'", weight ? ":" : "", weight ? weight : "");
}

/* No --data: the sources the checkpoint was trained on, with their weights
 * (export and generate take its tokenizer the same way); held[] keeps the
 * strings the sources point into. */
static int training_sources(struct eval_opts *o, const char *ckpt_file, const char *section,
                            char *held[TR_MAX_SOURCES])
{
    int err = 0;
    for (size_t i = 0; section && i < TR_MAX_SOURCES; i++) {
        if (!(held[i] = tr_settings_data_source(section, i)))
            break;
        if ((err = tr_loader_source_add(o->src, &o->n_data, held[i])))
            break;
    }
    if (!err && !o->n_data)
        err = ingot_fail(INGOT_E_USAGE, "--data DIR is required: %s names no dataset (trained "
                         "on --synthetic ids, or written before checkpoints kept their "
                         "settings)", TERM_SHOW(ckpt_file));
    if (!err)
        o->data = o->src[0].dir;
    if (!err && !o->quiet) {
        /* every source with its weight: what to type to evaluate another mix */
        fprintf(stderr, "eval: the checkpoint's data:");
        for (int i = 0; i < o->n_data; i++) {
            char w[40];
            fputs(o->n_data > 1 ? " --data " : " ", stderr);
            shell_word(stderr, o->src[i].dir, o->n_data > 1 ?
                       cli_format_double(o->src[i].weight, w, sizeof(w)) : NULL);
        }
        fputc('\n', stderr);
    }
    return err;
}

/* The dataset must be one the model can read: same tokenizer (or, for a
 * model of synthetic ids, ids within its vocabulary). */
static int check_data(const struct eval_opts *o, const struct tr_ckpt_state *st,
                      const tr_loader *l)
{
    uint64_t h = tr_loader_tokenizer_hash(l);
    if (!(st->flags & TR_CKPT_FLAG_SYNTHETIC) && h != st->tokenizer_hash)
        return ingot_fail(INGOT_E_MISMATCH, "%s: the dataset's tokenizer (hash %016" PRIx64 ") is "
                          "not the checkpoint's (%016" PRIx64 "); evaluate on data made with the "
                          "model's tokenizer", TERM_SHOW(o->data), h, st->tokenizer_hash);
    if (tr_loader_vocab(l) > (uint32_t)st->cfg.vocab)
        return ingot_fail(INGOT_E_MISMATCH, "%s: vocabulary %u is larger than the model's %d",
                          TERM_SHOW(o->data), tr_loader_vocab(l), st->cfg.vocab);
    return 0;
}

/* Seconds between eval's progress lines: 10, or in a test build
 * (-Dtest_hooks=true) INGOT_TRAIN_TEST_PROGRESS_MS milliseconds, so that a
 * test sees them on a tiny dataset (0: after every batch). */
static double progress_every(void)
{
#ifdef INGOT_TEST_HOOKS
    const char *e = getenv("INGOT_TRAIN_TEST_PROGRESS_MS");
    if (e && *e)
        return (double)atol(e) / 1000.0;
#endif
    return 10.0;
}

/* A mixture's next n train windows of T + 1 ids, one at a time, each one's
 * source read off the loader's per-source counts (the draw says no more). */
static int next_rows_sources(tr_loader *l, int32_t *rows, int n, int T, int *src)
{
    struct tr_loader_pos before, after;
    for (int r = 0; r < n; r++) {
        tr_loader_get_pos(l, &before);
        int err = tr_loader_next(l, rows + (size_t)r * (T + 1), 1);
        if (err)
            return err;
        tr_loader_get_pos(l, &after);
        src[r] = 0;
        for (int i = 0; i < after.n_src; i++)
            if (after.src[i].windows != before.src[i].windows)
                src[r] = i;
    }
    return 0;
}

int tr_eval_main(int argc, char **argv)
{
    struct eval_opts o;
    int err = parse(argc, argv, &o);
    if (!err)   /* its result is the loss it prints */
        err = fs_stdout_closed("ingot-train eval");
    if (err)
        return err;
    struct tr_ckpt_state st;
    float *params = NULL;
    int32_t *rows = NULL, *inp = NULL, *tgt = NULL;
    int *src_of = NULL;
    double *row_loss = NULL;
    tr_loader *l = NULL;
    tr_cpu_net *m = NULL;
    char *ckpt_file = NULL, *settings = NULL, *held[TR_MAX_SOURCES] = { 0 };
    if ((err = tr_export_load_run(o.ckpt, &st, &params, &ckpt_file, &settings)) ||
        (!o.data && (err = training_sources(&o, ckpt_file, settings, held))))
        goto out;
    const int T = st.cfg.seq_len, B = o.batch;
    /* as in training: the ops index a forward's rows with int */
    if ((int64_t)B * T > (1 << 24)) {
        err = ingot_fail(INGOT_E_USAGE, "--batch %d x the checkpoint's seq-len %d = %lld "
                         "tokens per forward is more than 2^24; use --batch %d or less", B, T,
                         (long long)B * T, (1 << 24) / T > 0 ? (1 << 24) / T : 1);
        goto out;
    }
    struct tr_loader_opts lo = { .dir = o.data, .sources = o.src, .n_sources = o.n_data,
                                 .seq_len = T, .seed = st.seed, .sequential = true,
                                 .verify = !o.no_verify, .val_only = !o.train };
    if ((err = tr_loader_open(&lo, &l)) || (err = check_data(&o, &st, l))) {
        /* a path from the checkpoint's settings: the data has moved since */
        if (held[0] && err != -ENOMEM)
            err = ingot_fail(err, "%s (the dataset the checkpoint's settings name; pass --data "
                             "DIR where it is now)", ingot_errmsg_for(err));
        goto out;
    }
    char what[64 + 4096];   /* what the messages name: the dataset or the mixture */
    if (o.n_data > 1)
        snprintf(what, sizeof(what), "the mixture of %d datasets (%s, ...)", o.n_data,
                 TERM_SHOW(o.data));
    else
        snprintf(what, sizeof(what), "%s", TERM_SHOW(o.data));
    uint64_t n = o.train ? tr_loader_windows(l) : tr_loader_val_windows(l);
    if (o.tokens && (uint64_t)o.tokens / (uint64_t)T < n)
        n = (uint64_t)o.tokens / (uint64_t)T ? (uint64_t)o.tokens / (uint64_t)T : 1;
    if (!n) {
        err = ingot_fail(INGOT_E_NODATA, "%s: the %s split has no window of %d + 1 tokens%s",
                         what, o.train ? "train" : "val", T,
                         o.train ? "" : " (--split train evaluates the training split; "
                                        "ingot-pretok --val-fraction makes a val split)");
        goto out;
    }
#ifdef _OPENMP
    if (o.threads > 0)
        omp_set_num_threads(o.threads);
#endif
    size_t T1 = (size_t)T + 1;
    rows = malloc((size_t)B * T1 * sizeof(int32_t));
    inp = malloc((size_t)B * T * sizeof(int32_t));
    tgt = malloc((size_t)B * T * sizeof(int32_t));
    src_of = malloc((size_t)B * sizeof(int));
    row_loss = malloc((size_t)B * sizeof(double));
    if (!rows || !inp || !tgt || !src_of || !row_loss) {
        err = ingot_oom("eval batch", (size_t)B * (T1 * 3 * sizeof(int32_t) + sizeof(int) +
                                                   sizeof(double)));
        goto out;
    }
    struct tr_src_loss src;   /* a mixture's loss by source (src.n 0: one dataset) */
    tr_src_loss_init(&src, l);
    if ((err = tr_cpu_net_create(&st.cfg, B, &m)))
        goto out;
    double loss = 0.0, t0 = mono_now();
    /* a large --tokens takes minutes on the CPU: say where it is every 10 s
     * (it was silent until the result), unless --quiet */
    const double every = progress_every();
    double next_note = t0 + every;
    int64_t hits = 0;
    for (uint64_t i = 0; i < n; i += (uint64_t)B) {
        int nb = n - i < (uint64_t)B ? (int)(n - i) : B;
        if (o.train && src.n)
            err = next_rows_sources(l, rows, nb, T, src_of);
        else if (o.train)
            err = tr_loader_next(l, rows, (size_t)nb);
        else if (!(err = tr_loader_val_rows(l, i, (size_t)nb, rows)) && src.n)
            err = tr_loader_val_sources(l, i, (size_t)nb, src_of);
        if (err)
            goto out;
        for (int r = 0; r < nb; r++) {   /* inputs row[0, T), targets row[1, T] */
            memcpy(inp + (size_t)r * T, rows + r * T1, (size_t)T * sizeof(int32_t));
            memcpy(tgt + (size_t)r * T, rows + r * T1 + 1, (size_t)T * sizeof(int32_t));
        }
        double ls;
        int64_t h;
        tr_cpu_net_forward(m, params, inp, tgt, nb, T, 0.0f, &ls, &h);
        loss += ls;
        hits += h;
        if (src.n) {
            tr_cpu_net_row_losses(m, nb, T, row_loss);
            for (int r = 0; r < nb; r++)
                tr_src_loss_add(&src, src_of[r], row_loss[r]);
        }
        const uint64_t done = i + (uint64_t)nb;
        if (!o.quiet && done < n && mono_now() >= next_note) {
            fprintf(stderr, "eval: %" PRIu64 " of %" PRIu64 " windows, %" PRIu64 " of %" PRIu64
                    " tokens (%.0f%%), %.0f s\n", done, n, done * (uint64_t)T, n * (uint64_t)T,
                    100.0 * (double)done / (double)n, mono_now() - t0);
            next_note = mono_now() + every;
        }
    }
    double toks = (double)n * T, mean = loss / toks, acc = (double)hits / toks;
    double dt = mono_now() - t0;
    /* finite weights may still overflow the activations: a loss of NaN was
     * printed, and exit 0 said the evaluation had worked */
    if (!isfinite(mean)) {
        err = ingot_fail(INGOT_E_CORRUPT, "%s: the loss on %s is not finite (%g): the weights "
                         "overflow the activations (a diverged or damaged checkpoint); "
                         "evaluate an earlier checkpoint", TERM_SHOW(o.ckpt), what, mean);
        goto out;
    }
    if (o.json) {
        /* exp of a large loss is inf, which JSON has no word for: null */
        char ppl[32];
        if (isfinite(exp(mean)))
            snprintf(ppl, sizeof(ppl), "%.17g", exp(mean));
        else
            snprintf(ppl, sizeof(ppl), "null");
        printf("{\"split\":\"%s\",\"windows\":%" PRIu64 ",\"tokens\":%.0f,\"loss\":%.17g,"
               "\"perplexity\":%s,\"accuracy\":%.17g,\"step\":%" PRIu64 ",\"seconds\":%.3f",
               o.train ? "train" : "val", n, toks, mean, ppl, acc, st.step, dt);
        for (int k = 0; k < 3 && src.n; k++) {
            printf(",\"%s\":[", k == 2 ? "src_names" : k ? "src_windows" : "src_loss");
            for (int s = 0; s < src.n; s++) {
                if (s)
                    putchar(',');
                if (k == 2)
                    json_print_string(src.name[s]);
                else if (k)
                    printf("%" PRIu64, src.windows[s]);
                else if (src.windows[s] && isfinite(tr_src_loss_mean(&src, s)))
                    printf("%.17g", tr_src_loss_mean(&src, s));
                else
                    printf("null");
            }
            putchar(']');
        }
        printf("}\n");
    } else {
        printf("eval: step %" PRIu64 " of %s on %s (%s split): %" PRIu64 " windows x %d = %.0f "
               "tokens: loss %.4f, perplexity %.3f, accuracy %.2f%% (%.1f s)\n", st.step,
               TERM_SHOW(o.ckpt), what, o.train ? "train" : "val", n, T, toks, mean, exp(mean),
               100.0 * acc, dt);
        for (int s = 0; s < src.n; s++) {
            double sm = tr_src_loss_mean(&src, s);
            if (src.windows[s])
                printf("eval: data %d (%s): %" PRIu64 " window%s: loss %.4f, perplexity %.3f\n",
                       s, TERM_SHOW(src.name[s]), src.windows[s], src.windows[s] == 1 ? "" : "s",
                       sm, exp(sm));
            else
                printf("eval: data %d (%s): no window among these: loss n/a\n", s,
                       TERM_SHOW(src.name[s]));
        }
    }
    err = tr_cli_flush_stdout("evaluation");
out:
    tr_cpu_net_free(m);
    tr_loader_close(l);
    free(rows);
    free(inp);
    free(tgt);
    free(src_of);
    free(row_loss);
    free(params);
    free(ckpt_file);
    free(settings);
    for (int i = 0; i < TR_MAX_SOURCES; i++)
        free(held[i]);
    return err;
}
