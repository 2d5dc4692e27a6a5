/* ingot-train generate: text in, text out, through a key/value-cached
 * forward (tr_backend_cpu_kv, or tr_backend_cuda_kv with --device cuda; GPT-2
 * and llama) and the trainer's own sampler (tr_sample: greedy or top-k with
 * temperature from a seeded stream). --no-cache runs the training back end's
 * logits op instead (a full forward over the context per token), to compare. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_num.h"
#include "fsutil.h"
#include "ingot_config.h"
#include "ingot_err.h"
#include "term_text.h"
#include "mono_clock.h"
#include "sampler.h"
#include "spm_shim.h"
#include "tr_export.h"
#include "tr_generate.h"
#include "train_opts.h"

static const char usage[] =
    "usage: ingot-train generate CKPT --prompt TEXT [options]\n"
    "\n"
    "Continue a prompt with a trained model (GPT-2 or llama) on the CPU or a GPU,\n"
    "with a key/value cache. CKPT: a ckpt-*.bin file or a --ckpt-dir directory (its\n"
    "newest checkpoint). Prints the prompt and the continuation as text (stdout) and\n"
    "the speed of the prompt and of the generated tokens (stderr). Text is printed\n"
    "as it is generated.\n"
    "\n"
    "options:\n"
    "  --prompt TEXT       the prompt, encoded with the model's SentencePiece\n"
    "                      tokenizer; BOS goes first when the tokenizer has one\n"
    "                      (documents began with it in training) unless --no-bos\n"
    "  --prompt-ids \"I J\"  the prompt as token ids (no tokenizer needed)\n"
    "  --prompt-file F     the prompt's text from file F (- : standard input); one\n"
    "                      final newline (echo's, an editor's) is not part of it\n"
    "  --no-bos            no BOS before the --prompt or --prompt-file text\n"
    "  --data DIR          the training dataset (for its tokenizer; default: the one\n"
    "                      the checkpoint's settings name, if still there), or\n"
    "  --tokenizer FILE    the SentencePiece model\n"
    "  --tokens N          tokens to generate, 1..1Mi (default 64)\n"
    "  --top-k K           sample from the K most likely tokens, 1 = greedy, 1..256\n"
    "                      (default 40)\n"
    "  --top-p P           nucleus sampling within the top k: the fewest likeliest\n"
    "                      tokens whose probabilities add up to P, 1e-6..1\n"
    "                      (default 1: off; below 1 needs --top-k 2 or more)\n"
    "  --temperature X     softmax temperature, 0.001..100 (default 1.0; for greedy\n"
    "                      decoding use --top-k 1)\n"
    "  --seed N            sampling seed, 0..2^63-1 (default 1337; sample i, from 1,\n"
    "                      uses seed + i - 1, which must not pass 2^63-1)\n"
    "  --samples N         N continuations of the prompt, each after a\n"
    "                      '### sample i' line, 1..64Ki (default 1; more than one\n"
    "                      needs --top-k 2 or more)\n"
    "  --no-stop           go on past a document boundary; by default the\n"
    "                      continuation ends at the tokenizer's EOS or BOS (the\n"
    "                      document markers ingot-pretok writes), which is printed\n"
    "                      only with --ids (stderr's closing line says so)\n"
    "  --ids               print token ids instead of text\n"
    "  --threads N         CPU threads, 1..4096 (default: all cores)\n"
    "  --device DEV        cpu (default), cuda or auto (a GPU when there is one)\n"
    "  --precision P       fp32 (default) or bf16, on cuda\n"
    "  --no-cache          no key/value cache: the training back end's full forward\n"
    "                      over the context per token (slow; for comparisons)\n"
    "  --quiet             the text only: no closing line or notes on stderr\n"
    "                      (errors are printed)\n"
    "  --help              this text\n"
    "  --version           version, git revision and libraries\n"
    "\n"
    "exit status: 0 done, 1 error, 2 usage\n";

struct gen_opts {
    const char *ckpt, *prompt, *prompt_ids, *prompt_file, *data, *tokenizer, *device, *precision;
    int tokens, top_k, threads, samples;
    double temperature, top_p;
    int64_t seed;
    bool no_bos, ids, no_cache, no_stop, quiet;
    char *prompt_buf;       /* --prompt-file's text (o->prompt points into it) */
};

enum { O_PROMPT = 256, O_PROMPT_IDS, O_DATA, O_TOKENIZER, O_TOKENS, O_TOP_K, O_TEMP, O_SEED,
       O_NO_BOS, O_IDS, O_THREADS, O_HELP, O_DEVICE, O_PRECISION, O_NO_CACHE, O_PROMPT_FILE,
       O_TOP_P, O_SAMPLES, O_NO_STOP, O_QUIET, O_VERSION };

/* The largest --prompt-file (a prompt beyond a model's context is cut to
 * its last seq_len tokens anyway). */
#define PROMPT_FILE_MAX ((size_t)64 << 20)

/* --prompt-file: a file's text, or standard input's ("-"), NUL-terminated,
 * its length in *len. */
static int read_prompt_file(const char *path, char **text, size_t *len)
{
    *len = 0;
    if (strcmp(path, "-"))
        return fs_read_capped(path, "--prompt-file", PROMPT_FILE_MAX, text, len);
    int err = fs_stdin_closed("--prompt-file -");
    if (err)
        return err;
    size_t cap = 1 << 16;
    char *b = malloc(cap + 1);
    if (!b)
        return ingot_oom("the prompt", cap + 1);
    for (;;) {
        if (*len == cap) {
            if (cap >= PROMPT_FILE_MAX) {
                free(b);
                return ingot_fail(INGOT_E_USAGE, "--prompt-file -: standard input holds more "
                                  "than %zu MiB", PROMPT_FILE_MAX >> 20);
            }
            char *nb = realloc(b, 2 * cap + 1);
            if (!nb) {
                free(b);
                return ingot_oom("the prompt", 2 * cap + 1);
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + *len, 1, cap - *len, stdin);
        *len += got;
        if (got == 0) {
            if (ferror(stdin)) {
                free(b);
                return ingot_fail(-EIO, "--prompt-file -: cannot read standard input");
            }
            break;
        }
    }
    b[*len] = '\0';
    *text = b;
    return 0;
}

/* read_prompt_file(), refusing a NUL inside (the prompt is text; the
 * encoder would stop there). One final newline goes: `echo TEXT |` and
 * editors end a file with one, and a prompt ending in a line break is
 * continued on a new line (llama.cpp's -f drops it too); a file that ends
 * in two keeps one. */
static int load_prompt_file(const char *path, char **text)
{
    size_t len;
    int err = read_prompt_file(path, text, &len);
    if (err)
        return err;
    const char *nul = memchr(*text, '\0', len);
    if (nul) {
        err = ingot_fail(INGOT_E_USAGE, "--prompt-file %s: a NUL byte at offset %zu; the prompt "
                         "must be text", TERM_SHOW(path), (size_t)(nul - *text));
        free(*text);
        *text = NULL;
        return err;
    }
    if (len >= 2 && (*text)[len - 2] == '\r' && (*text)[len - 1] == '\n')
        (*text)[len - 2] = '\0';
    else if (len >= 1 && (*text)[len - 1] == '\n')
        (*text)[len - 1] = '\0';
    return 0;
}

/* The prompt must be UTF-8: SentencePiece reads a byte that is not part of
 * a character (Latin-1 text, a cut multi-byte character) as the unknown
 * piece, and the prompt printed back, and what the model saw, was " \u2047 "
 * in its place, with exit 0. what: the option, for the message. */
static int check_prompt_utf8(const char *what, const char *text)
{
    const size_t i = term_text_utf8_bad(text);
    if (i != SIZE_MAX)
        return ingot_fail(INGOT_E_USAGE, "%s: byte %zu (0x%02x) is not UTF-8; the prompt "
                          "must be UTF-8 text (convert it, e.g. iconv -f latin1 -t utf-8)",
                          what, i, (unsigned char)text[i]);
    return 0;
}

static int parse(int argc, char **argv, struct gen_opts *o)
{
    static const struct option longs[] = {
        { "prompt", required_argument, NULL, O_PROMPT },
        { "prompt-ids", required_argument, NULL, O_PROMPT_IDS },
        { "data", required_argument, NULL, O_DATA },
        { "tokenizer", required_argument, NULL, O_TOKENIZER },
        { "tokens", required_argument, NULL, O_TOKENS },
        { "top-k", required_argument, NULL, O_TOP_K },
        { "temperature", required_argument, NULL, O_TEMP },
        { "seed", required_argument, NULL, O_SEED },
        { "no-bos", no_argument, NULL, O_NO_BOS },
        { "ids", no_argument, NULL, O_IDS },
        { "threads", required_argument, NULL, O_THREADS },
        { "help", no_argument, NULL, O_HELP },
        { "device", required_argument, NULL, O_DEVICE },
        { "precision", required_argument, NULL, O_PRECISION },
        { "no-cache", no_argument, NULL, O_NO_CACHE },
        { "prompt-file", required_argument, NULL, O_PROMPT_FILE },
        { "top-p", required_argument, NULL, O_TOP_P },
        { "samples", required_argument, NULL, O_SAMPLES },
        { "no-stop", no_argument, NULL, O_NO_STOP },
        { "quiet", no_argument, NULL, O_QUIET },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 },
    };
    *o = (struct gen_opts){ .tokens = 64, .top_k = 40, .temperature = 1.0, .seed = 1337,
                            .device = "cpu", .precision = "fp32", .samples = 1, .top_p = 1.0 };
    optind = 1;
    opterr = 0;
    int c, err = 0;
    int idx;
    while (!err && (idx = -1, c = getopt_long(argc, argv, ":h", longs, &idx)) != -1) {
        /* a prompt is text: it may be empty or start with "--" */
        if (idx >= 0 && optarg && c != O_PROMPT && c != O_PROMPT_IDS &&
            (err = cli_check_value(longs[idx].name, optarg)))
            break;
        switch (c) {
        case O_PROMPT: o->prompt = optarg; break;
        case O_PROMPT_IDS: o->prompt_ids = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_TOKENIZER: o->tokenizer = optarg; break;
        case O_TOKENS: err = cli_parse_int("--tokens", optarg, 1, 1 << 20, &o->tokens); break;
        case O_TOP_K: err = cli_parse_int("--top-k", optarg, 1, 256, &o->top_k); break;
        case O_TEMP:
            err = cli_parse_double("--temperature", optarg, 1e-3, 100.0, &o->temperature);
            break;
        case O_SEED: err = cli_parse_i64("--seed", optarg, 0, INT64_MAX, &o->seed); break;
        case O_NO_BOS: o->no_bos = true; break;
        case O_IDS: o->ids = true; break;
        case O_THREADS: err = cli_parse_int("--threads", optarg, 1, 4096, &o->threads); break;
        case O_DEVICE: o->device = optarg; break;
        case O_PRECISION:
            if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16"))
                err = ingot_fail(INGOT_E_USAGE, "--precision: '%s'; use fp32 or bf16",
                                 TERM_SHOW(optarg));
            o->precision = optarg;
            break;
        case O_NO_CACHE: o->no_cache = true; break;
        case O_PROMPT_FILE: o->prompt_file = optarg; break;
        case O_TOP_P: err = cli_parse_double("--top-p", optarg, 1e-6, 1.0, &o->top_p); break;
        case O_SAMPLES: err = cli_parse_int("--samples", optarg, 1, 1 << 16, &o->samples); break;
        case O_NO_STOP: o->no_stop = true; break;
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
    /* `generate CK "Once upon"` or `generate CK -`: the prompt was meant */
    if (argc - optind > 1)
        return ingot_fail(INGOT_E_USAGE, "expected one checkpoint (file or directory), got %d "
                          "arguments ('%s' after %s); the prompt is --prompt TEXT, or "
                          "--prompt-file FILE (--prompt-file - reads standard input)",
                          argc - optind, TERM_SHOW(argv[optind + 1]), TERM_SHOW(argv[optind]));
    if ((err = tr_cli_ckpt(argc, argv, &o->ckpt)))
        return err;
    if ((o->prompt != NULL) + (o->prompt_ids != NULL) + (o->prompt_file != NULL) != 1)
        return ingot_fail(INGOT_E_USAGE, "give the prompt as --prompt TEXT, --prompt-file FILE "
                          "or --prompt-ids \"I J ...\" (one of them)");
    if (o->top_p < 1.0 && o->top_k <= 1)
        return ingot_fail(INGOT_E_USAGE, "--top-p %g with --top-k 1 (greedy) changes nothing; "
                          "raise --top-k (at most 256) for nucleus sampling", o->top_p);
    if (o->samples > 1 && o->top_k <= 1)
        return ingot_fail(INGOT_E_USAGE, "--samples %d with --top-k 1 (greedy) gives %d "
                          "identical continuations; raise --top-k (at most 256) for different "
                          "ones", o->samples, o->samples);
    /* sample i uses seed + i - 1, which --seed must be able to give back
     * (to repeat one sample alone) */
    if (o->seed > INT64_MAX - (o->samples - 1))
        return ingot_fail(INGOT_E_USAGE, "--seed %" PRId64 " with --samples %d: sample %d "
                          "would use seed %" PRId64 " + %d, past the largest --seed (%" PRId64
                          "); give a seed at most %" PRId64, o->seed, o->samples, o->samples,
                          o->seed, o->samples - 1, INT64_MAX, INT64_MAX - (o->samples - 1));
    if (o->prompt_file && (err = load_prompt_file(o->prompt_file, &o->prompt_buf)))
        return err;
    if (o->prompt_file)
        o->prompt = o->prompt_buf;
    if (o->prompt) {
        char what[64 + TERM_SHOW_MAX] = "--prompt";
        if (o->prompt_file)
            snprintf(what, sizeof(what), "--prompt-file %s", TERM_SHOW(o->prompt_file));
        if ((err = check_prompt_utf8(what, o->prompt))) {
            free(o->prompt_buf);   /* the caller frees it only after a parse that worked */
            o->prompt_buf = NULL;
            return err;
        }
    }
    return 0;
}

/* "12 7 99" -> ids (capacity cap); every id must be < vocab. Commas and any
 * white space separate (a list from a file or $(...) may hold tabs and
 * newlines, a trailing one too). */
static int parse_ids(const char *s, int vocab, int32_t *ids, int cap, int *n)
{
    *n = 0;
    while (*s) {
        if (isspace((unsigned char)*s) || *s == ',') {
            s++;
            continue;
        }
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s)
            return ingot_fail(INGOT_E_USAGE, "--prompt-ids: '%s' is not a list of integers",
                              TERM_SHOW(s));
        if (errno || v < 0 || v >= vocab)
            return ingot_fail(INGOT_E_USAGE, "--prompt-ids: %.*s is outside the model's "
                              "vocabulary [0, %d)", (int)(end - s), s, vocab);
        if (*n == cap)
            return ingot_fail(INGOT_E_USAGE, "--prompt-ids: more than %d ids", cap);
        ids[(*n)++] = (int32_t)v;
        s = end;
    }
    return 0;
}

/* The prompt's ids into *ids (malloc'd with room for `extra` more). */
static int prompt_ids(const struct gen_opts *o, const struct ingot_spm *spm, int vocab, int extra,
                      int32_t **ids, int *n)
{
    uint32_t *enc = NULL;
    size_t n_enc = 0, enc_cap = 0;
    int err = 0, cap;
    if (o->prompt) {
        if ((err = ingot_spm_encode(spm, o->prompt, strlen(o->prompt), &enc, &enc_cap, &n_enc))) {
            free(enc);
            return err;
        }
        cap = (int)n_enc + 1;
    } else {
        cap = (int)strlen(o->prompt_ids) / 2 + 2;
    }
    if (!(*ids = malloc(((size_t)cap + (size_t)extra) * sizeof(int32_t)))) {
        free(enc);
        return ingot_oom("prompt", ((size_t)cap + (size_t)extra) * sizeof(int32_t));
    }
    *n = 0;
    if (o->prompt) {
        int32_t bos = ingot_spm_bos_id(spm);
        if (bos >= vocab && !o->no_bos)
            err = ingot_fail(INGOT_E_USAGE, "--prompt: the tokenizer's BOS id %d is outside the "
                             "model's vocabulary of %d; pass the --tokenizer (or --data) the "
                             "checkpoint was trained with", bos, vocab);
        else if (bos >= 0 && !o->no_bos)
            (*ids)[(*n)++] = bos;
        /* A checkpoint without a tokenizer hash (--synthetic) takes any
         * --tokenizer: its ids may reach past the model's embedding table,
         * which only the cached back ends check. */
        for (size_t i = 0; i < n_enc && !err; i++) {
            if (enc[i] >= (uint32_t)vocab)
                err = ingot_fail(INGOT_E_USAGE, "--prompt: the tokenizer gives id %" PRIu32
                                 ", outside the model's vocabulary of %d; pass the --tokenizer "
                                 "(or --data) the checkpoint was trained with", enc[i], vocab);
            else
                (*ids)[(*n)++] = (int32_t)enc[i];
        }
        free(enc);
    } else {
        err = parse_ids(o->prompt_ids, vocab, *ids, cap, n);
    }
    if (!err && *n == 0)
        err = o->prompt_ids ? ingot_fail(INGOT_E_USAGE, "--prompt-ids: no ids given; give at "
                                         "least one (the BOS id, say)")
            : o->no_bos ? ingot_fail(INGOT_E_USAGE, "the prompt is empty and --no-bos leaves "
                                     "nothing to start from; give some text")
            : ingot_fail(INGOT_E_USAGE, "the prompt is empty and the tokenizer has no BOS to "
                         "start from; give some text");
    return err;
}

/* Output as it is generated. Text: the decoded sequence's bytes beyond
 * those printed, less a trailing U+FFFD (a byte-fallback character whose
 * other bytes are still to come: SentencePiece decodes a lone byte piece
 * as U+FFFD); each decode is of the whole sequence, so what is printed in
 * the end is exactly the decode of all the ids. Ids: each as it comes. */
struct gen_stream {
    const struct ingot_spm *spm;    /* NULL: ids */
    int prefix, read;               /* text: ids[prefix, read) decoded last time, printed */
    int n_ids;                      /* ids printed */
};

static int stream_ids(struct gen_stream *g, const int32_t *ids, int n)
{
    for (; g->n_ids < n; g->n_ids++)
        printf(g->n_ids ? " %d" : "%d", ids[g->n_ids]);
    return tr_cli_flush_stdout("generated ids");
}

/* Print the text of ids[0, n) not yet printed; all of it when final.
 * Decoding every id so far for each new one took quadratic time (16k tokens:
 * 78 s against 17 s for ids; a long prompt re-decoded per token). Only a
 * window is decoded: ids[prefix, n) against ids[prefix, read), whose text was
 * printed; the difference is what is new. Both decodes start at the same id,
 * so SentencePiece's dropped leading space cancels out, and the window moves
 * on only where its text ended whole (no partial UTF-8 character, U+FFFD
 * while it is incomplete), so its start is always a character boundary. */
static int stream_text(struct gen_stream *g, const int32_t *ids, int n, bool final)
{
    char *old = NULL, *text = NULL;
    size_t old_len = 0, len = 0;
    int err = ingot_spm_decode(g->spm, (const uint32_t *)ids + g->prefix,
                               (size_t)(g->read - g->prefix), &old, &old_len);
    if (!err)
        err = ingot_spm_decode(g->spm, (const uint32_t *)ids + g->prefix,
                               (size_t)(n - g->prefix), &text, &len);
    if (err) {
        free(old);
        return err;
    }
    static const char fffd[] = "\xef\xbf\xbd";
    const bool whole = len < 3 || memcmp(text + len - 3, fffd, 3);
    if ((whole || final) && len > old_len) {
        fwrite(text + old_len, 1, len - old_len, stdout);
        g->prefix = g->read;
        g->read = n;
    }
    free(old);
    free(text);
    return tr_cli_flush_stdout("generated text");
}

static int on_token(void *arg, const int32_t *ids, int n)
{
    struct gen_stream *g = arg;
    return g->spm ? stream_text(g, ids, n, false) : stream_ids(g, ids, n);
}

/* The prompt as text, a window of ids at a time: printed whole in one call,
 * the window stayed at its start, and the first new tokens decoded the
 * whole prompt twice each (a 64 MiB prompt: 4 tokens in 70 s). The text is
 * the same as one call's (stream_text's windows join exactly). */
static int stream_prompt(struct gen_stream *g, const int32_t *ids, int n)
{
    const int step = g->spm ? 4096 : n;   /* ids: at once */
    int err = 0;
    for (int end = 0; !err && end < n;) {
        end = n - end > step ? end + step : n;
        err = on_token(g, ids, end);
    }
    return err;
}

/* The end of one sample: what is left, and the line's end. */
static int stream_end(struct gen_stream *g, const int32_t *ids, int n)
{
    int err = g->spm ? stream_text(g, ids, n, true) : stream_ids(g, ids, n);
    if (!err) {
        putchar('\n');
        err = tr_cli_flush_stdout(g->spm ? "generated text" : "generated ids");
    }
    return err;
}

/* Ids that end a continuation (a document boundary): the tokenizer's EOS
 * and BOS, those inside the model's vocabulary. */
static int stop_ids(const struct gen_opts *o, const struct ingot_spm *spm, int vocab,
                    int32_t out[2])
{
    int n = 0;
    if (o->no_stop || !spm)
        return 0;
    int32_t cand[2] = { ingot_spm_eos_id(spm), ingot_spm_bos_id(spm) };
    for (int i = 0; i < 2; i++)
        if (cand[i] >= 0 && cand[i] < vocab)
            out[n++] = cand[i];
    return n;
}

/* The back end for --device and --no-cache: the cached one of the device,
 * or the training back end's full forward. */
static int pick_backend(const struct gen_opts *o, const struct tr_backend_ops **ops)
{
    *ops = &tr_backend_cpu;
    int err = strcmp(o->device, "cpu") ? tr_backend_select(o->device, ops) : 0;
    if (err || o->no_cache)
        return err;
    if (!strcmp((*ops)->name, "cpu")) {
        *ops = &tr_backend_cpu_kv;
        return 0;
    }
#if INGOT_HAVE_CUDA
    if (*ops == &tr_backend_cuda) {
        *ops = &tr_backend_cuda_kv;
        return 0;
    }
#endif
    return ingot_fail(INGOT_E_USAGE, "generate: no key/value cache for --device %s; add "
                      "--no-cache", TERM_SHOW(o->device));
}

static const char *backend_label(const struct tr_backend_ops *ops)
{
    return ops == &tr_backend_cpu_kv ? "cpu (kv cache)" :
           ops == &tr_backend_cpu ? "cpu (full forward)" :
           !strcmp(ops->name, "cuda") ? "cuda (full forward)" :
           !strcmp(ops->name, "cuda-kv") ? "cuda (kv cache)" : ops->name;
}

int tr_generate_main(int argc, char **argv)
{
    struct gen_opts o;
    int err = parse(argc, argv, &o);
    if (!err && (err = fs_stdout_closed("ingot-train generate")))
        free(o.prompt_buf);   /* as after a parse that failed */
    if (err)
        return err;
    struct tr_ckpt_state st;
    float *params = NULL, *scratch = NULL;
    int32_t *ids = NULL;
    char *settings = NULL;
    struct ingot_spm *spm = NULL;
    tr_backend *be = NULL;
    const struct tr_backend_ops *ops = NULL;
    if ((err = tr_export_load_run(o.ckpt, &st, &params, NULL, &settings)))
        goto out;
    /* a tokenizer is needed to read the prompt or to print text */
    bool need_tok = o.prompt || (!o.ids && !(st.flags & TR_CKPT_FLAG_SYNTHETIC));
    if ((need_tok || o.data || o.tokenizer) &&
        (err = tr_export_tokenizer(o.data, o.tokenizer, settings, st.tokenizer_hash, o.quiet,
                                   &spm, NULL)))
        goto out;
    /* ids in and out need no tokenizer, but the stop at a document boundary
     * needs its EOS/BOS: the settings' dataset gives them when it is still
     * there (without it, --ids ran past boundaries that the same command
     * printing text stopped at); when it is not, the closing line says so */
    if (!spm && !o.no_stop && !(st.flags & TR_CKPT_FLAG_SYNTHETIC) &&
        tr_export_tokenizer(NULL, NULL, settings, st.tokenizer_hash, o.quiet, &spm, NULL))
        ingot_clear_err();
    /* text out of a tokenizer of fewer pieces than the model's vocabulary (any
     * --tokenizer passes a synthetic checkpoint's hash): the model samples ids
     * it cannot decode, and the text stopped midway with exit 1 */
    if (spm && !o.ids && ingot_spm_vocab_size(spm) < (uint32_t)st.cfg.vocab) {
        err = ingot_fail(INGOT_E_MISMATCH, "the tokenizer has %" PRIu32 " pieces, fewer than "
                         "the model's vocabulary of %d: it cannot decode every id the model "
                         "samples; pass the tokenizer the checkpoint was trained with, or "
                         "--ids", ingot_spm_vocab_size(spm), st.cfg.vocab);
        goto out;
    }
    int n_prompt;
    if ((err = prompt_ids(&o, spm, st.cfg.vocab, o.tokens, &ids, &n_prompt)))
        goto out;
    if ((err = pick_backend(&o, &ops)))
        goto out;
    if ((ops == &tr_backend_cpu_kv || ops == &tr_backend_cpu) && !strcmp(o.precision, "bf16")) {
        err = ingot_fail(INGOT_E_USAGE, "--precision bf16 needs --device cuda (the CPU computes "
                         "in fp32)");
        goto out;
    }
    struct tr_backend_opts bo = { .cfg = st.cfg, .batch = 1, .grad_accum = 1,
                                  .threads = o.threads, .quiet = true,
                                  .precision = !strcmp(o.precision, "bf16") ? TR_PREC_BF16 :
                                               TR_PREC_FP32 };
    if ((err = ops->create(&bo, params, &be)))
        goto out;
    if (!(scratch = malloc((size_t)st.cfg.vocab * sizeof(float)))) {
        err = ingot_oom("logits", (size_t)st.cfg.vocab * sizeof(float));
        goto out;
    }
    /* The prompt alone first (the context tr_sample starts from, less its
     * last token, which tr_sample's first call computes): prefill and decode
     * are timed apart. With a cache nothing is computed twice. */
    int ctx = n_prompt < st.cfg.seq_len ? n_prompt : st.cfg.seq_len;
    if (n_prompt > st.cfg.seq_len && !o.quiet)
        fprintf(stderr, "generate: note: the prompt's %d tokens exceed the model's context of "
                "%d; the model sees its last %d\n", n_prompt, st.cfg.seq_len, st.cfg.seq_len);
    double t0 = mono_now();
    if (ctx > 1 && (err = ops->logits(be, ids + n_prompt - ctx, ctx - 1, scratch)))
        goto out;
    double t1 = mono_now();
    int32_t stops[2];
    struct gen_stream g = { .spm = o.ids ? NULL : spm };
    struct tr_sample_opts so = { .n_new = o.tokens, .top_k = o.top_k,
                                 .temperature = (float)o.temperature, .top_p = (float)o.top_p,
                                 .stop_ids = stops, .n_stop = stop_ids(&o, spm, st.cfg.vocab,
                                                                       stops),
                                 .on_token = on_token, .arg = &g };
    int n_new_total = 0, n_stopped = 0;
    double echo = 0;   /* printing the prompt: not the new tokens' time */
    for (int i = 0; i < o.samples && !err; i++) {
        int done = 0;
        so.seed = (uint64_t)o.seed + (uint64_t)i;
        so.n_done = &done;
        g.prefix = g.read = 0;
        g.n_ids = 0;
        if (o.samples > 1 && g.spm)
            printf("### sample %d\n", i + 1);
        /* the prompt at once (the first token takes a while on a big model) */
        double e0 = mono_now();
        err = stream_prompt(&g, ids, n_prompt);
        echo += mono_now() - e0;
        if (!err &&
            !(err = tr_sample(ops, be, &st.cfg, &so, ids, n_prompt)))
            err = stream_end(&g, ids, n_prompt + done);
        n_new_total += done;
        for (int k = 0; k < so.n_stop && done > 0; k++)
            n_stopped += ids[n_prompt + done - 1] == stops[k];
    }
    if (err)
        goto out;
    double t2 = mono_now(), pre = t1 - t0, dec = t2 - t1 - echo;
    /* prefill: the context less its last token (tr_sample's first call) */
    /* a short continuation is no fault: say where it ended */
    char ended[96] = "";
    /* ids only, and no tokenizer found: no EOS/BOS known, so no stop (said) */
    const char *no_tok = !spm && !o.no_stop ? "; no tokenizer: EOS/BOS unknown, so no stop at "
                                              "a document boundary (--data or --tokenizer "
                                              "gives them)" : "";
    if (so.n_stop && o.samples > 1)
        snprintf(ended, sizeof(ended), " (%d of %d samples ended at a document boundary, "
                 "EOS/BOS)", n_stopped, o.samples);
    else if (so.n_stop && n_stopped)
        snprintf(ended, sizeof(ended), " (ended at a document boundary, EOS/BOS; --no-stop "
                 "goes on)");
    if (!o.quiet)
        fprintf(stderr, "generate: prompt %d tokens (prefill of %d in %.3f s, %.1f tok/s), %d "
                "new tokens%s%s in %.3f s (%.1f tok/s) on %s, step %" PRIu64 " of %s, top-k "
                "%d, top-p %g, temperature %g, seed %" PRId64 "%s\n", n_prompt, ctx - 1, pre,
                (ctx - 1) / (pre > 0 ? pre : 1e-9), n_new_total,
                o.samples > 1 ? " in all samples" : "", ended, dec,
                n_new_total / (dec > 0 ? dec : 1e-9), backend_label(ops), st.step,
                TERM_SHOW(o.ckpt), o.top_k, o.top_p, o.temperature, o.seed, no_tok);
out:
    if (be)
        ops->destroy(be);
    ingot_spm_free(spm);
    free(scratch);
    free(ids);
    free(params);
    free(settings);
    free(o.prompt_buf);
    return err;
}
