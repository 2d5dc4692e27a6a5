#include "pt_cli.h"

#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_num.h"
#include "cli_opt.h"
#include "ingot_err.h"
#include "skip_reason.h"
#include "term_text.h"

void pt_cli_usage(FILE *f)
{
    fputs(
"usage: ingot-pretok --model M.model --out DIR [options] INPUT...\n"
"       ingot-pretok merge OUT PART_DIR...   (or merge --out OUT PART_DIR...)\n"
"       ingot-pretok text [--text-key K] [--txt-doc MODE] [--max-bytes N]\n"
"                         [--every K] [--sample-bytes N] INPUT...\n"
"       ingot-pretok import-bin --format llmc|nanogpt (--vocab N | --tokenizer M)\n"
"                               --out DIR FILE...\n"
"\n"
"Tokenize a corpus once into Ingot token shards (DIR/*.tok + DIR/manifest.json).\n"
"INPUT: files, directories (walked recursively, sorted) or quoted globs. JSON\n"
"Lines (.jsonl, .json) and plain text (.txt), each also zstd- or gzip-compressed\n"
"(.zst, .gz; recognised by content). Files of other names inside a directory are\n"
"counted and listed in the report, not read. \"-\" reads standard input\n"
"(provenance \"<stdin>\"), e.g.\n"
"  scripts/parquet-to-jsonl.py data/*.parquet | ingot-pretok ... -\n"
"Integers take k M G T (x1000) or Ki Mi Gi Ti (x1024) suffixes: 100M, 64Mi.\n"
"\n"
"options:\n"
"  --model M            SentencePiece model (.model); also --tokenizer M, the\n"
"                       name ingot-train, import-bin and ingot-dump give it\n"
"  --encoder ingot|spm  Ingot's own encoder (default; the same ids, faster) or\n"
"                       libsentencepiece; a model Ingot's encoder does not handle\n"
"                       uses libsentencepiece, with a note\n"
"  --out DIR            output directory (created; resumed when it holds an\n"
"                       unfinished conversion made with the same options)\n"
"  --threads N          tokenizer threads, 1..4096 (default: all cores)\n"
"  --shard-tokens N     target tokens per shard, 1..1T (default 100M)\n"
"  --val-fraction F     put a deterministic fraction F of the documents (chosen\n"
"                       by a hash of file and line) into val shards; 0 <= F < 1\n"
"                       (default 0: no val split; not with --val-docs)\n"
"  --val-docs N         put the first N documents into val shards (N >= 1, and\n"
"                       below the number of documents: the train split may not\n"
"                       be empty; not with --val-fraction)\n"
"  --bos / --no-bos     BOS id before each document (default: when the model\n"
"                       has one)\n"
"  --eos / --no-eos     EOS id after each document (default: only when the model\n"
"                       has an EOS but no BOS)\n"
"  --text-key K         JSON field with the text (default text): a dotted path\n"
"                       (meta.body), array elements by index\n"
"                       (messages.0.content), several paths in order of\n"
"                       preference, comma-separated (text,content: the first\n"
"                       that holds a string wins)\n"
"  --stdin-format jsonl|text\n"
"                       what \"-\" (standard input) holds (default jsonl; may be\n"
"                       zstd- or gzip-compressed)\n"
"  --txt-doc MODE       text files: one document per file, paragraph or line\n"
"                       (default file)\n"
"  --on-error skip|fail bad records: skip and count them (default), or\n"
"                       stop with an error naming file and line, leaving no\n"
"                       shard behind\n"
"  --invalid-utf8 replace|skip\n"
"                       invalid UTF-8 / lone surrogates: replace by U+FFFD\n"
"                       (default) or skip the record\n"
"  --max-record-bytes N skip records longer than N bytes, 1..1Gi\n"
"                       (default 64Mi; a record takes 20 to 200 times its\n"
"                       size in memory to encode)\n"
"  --max-skip-fraction F\n"
"                       fail (exit 1) when more than this share of the records is\n"
"                       skipped, 0..1 (default 0.01); the dataset is still\n"
"                       written completely, and the same command with a larger F\n"
"                       accepts it (damaged files are not counted here; see the\n"
"                       next option)\n"
"  --allow-damaged-inputs\n"
"                       accept damaged input files: truncated or corrupt\n"
"                       .zst/.gz, misnamed, unreadable or not regular files.\n"
"                       Without it such a file fails the run (exit 1) once the\n"
"                       dataset is written (what could be read is in it),\n"
"                       naming each file, and the same command with this option\n"
"                       accepts it at once\n"
"  --part K/N           convert only part K of N (contiguous, balanced by bytes)\n"
"                       into DIR, 1 <= K <= N <= 1000000; join the parts with\n"
"                       `ingot-pretok merge`\n"
"  --quiet              no progress line, no report (errors only); the progress\n"
"                       line is redrawn on a terminal, else printed every 30 s\n"
"                       (INGOT_PRETOK_PROGRESS_S=N; 0: none)\n"
"  --json               print the final report as JSON on stdout\n"
"  --help               this text\n"
"  --version            version, git revision and the libraries linked\n"
"\n"
"merge OUT PART_DIR...  move the shards of all parts (made with --part K/N and\n"
"                       otherwise identical options) into OUT, renumbered, with\n"
"                       one manifest; no token is copied. Parts with damaged\n"
"                       inputs that their conversion did not accept need\n"
"                       --allow-damaged-inputs; more skipped records than\n"
"                       --max-skip-fraction (over all the parts) need a\n"
"                       larger one\n"
"import-bin FILE...     llm.c / nanoGPT .bin token files into a dataset, ids kept\n"
"                       (ingot-pretok import-bin --help)\n"
"text INPUT...          print each document's text followed by a newline (for\n"
"                       spm_train); --max-bytes N stops after the document that\n"
"                       brings the output to N bytes (whole documents: it passes\n"
"                       N by up to one; default 0: no limit), --every K keeps one\n"
"                       document in K (default 1: all), --sample-bytes N keeps an\n"
"                       even sample of N to 2N bytes over the whole input (one\n"
"                       pass: the stride doubles whenever 2N are held; a\n"
"                       document longer than N/8 is left out, counted in a note;\n"
"                       not with --every or --max-bytes)\n"
"\n"
"exit status: 0 done, 1 error, 2 usage, 128+N stopped by signal N (130 SIGINT,\n"
"143 SIGTERM, 129 SIGHUP): what was finished is kept, run the same command again\n",
        f);
}

/* The ranges the program can honour (docs/pretok.md, "Options"). */
#define PT_MAX_THREADS 4096
#define PT_MAX_SHARD_TOKENS INT64_C(1000000000000)     /* 1T: 4 TB shards at width 4 */
/* A record is held in memory and encoding takes 20 to 200 bytes per byte
 * of it: 1 GiB already needs 20-200 GiB per thread, and Ingot's encoder counts
 * the normalized text with 32-bit offsets. */
#define PT_MAX_RECORD_BYTES (INT64_C(1) << 30)
#define PT_DEFAULT_RECORD_BYTES (UINT64_C(64) << 20)
#define PT_MAX_PARTS 1000000

/* An integer option into a uint64_t field, through the one parser. */
static int opt_u64(const char *flag, const char *s, int64_t lo, int64_t hi, uint64_t *out)
{
    int64_t v;
    int ret = cli_parse_i64(flag, s, lo, hi, &v);
    if (!ret)
        *out = (uint64_t)v;
    return ret;
}

/* --part K/N. */
static int parse_part(const char *s, unsigned *k, unsigned *n)
{
    const char *slash = strchr(s, '/');
    char kbuf[32];
    int kv, nv;
    char ts[256];
    if (!slash || (size_t)(slash - s) >= sizeof(kbuf))
        return ingot_fail(INGOT_E_USAGE, "--part %s: expected K/N with 1 <= K <= N",
                          term_text(s, ts, sizeof(ts)));
    memcpy(kbuf, s, (size_t)(slash - s));
    kbuf[slash - s] = '\0';
    int ret = cli_parse_int("--part N", slash + 1, 1, PT_MAX_PARTS, &nv);
    if (!ret)
        ret = cli_parse_int("--part K", kbuf, 1, nv, &kv);
    if (ret)
        return ret;
    *k = (unsigned)kv;
    *n = (unsigned)nv;
    return 0;
}

enum {
    O_MODEL = 256, O_OUT, O_THREADS, O_SHARD_TOKENS, O_VAL_FRACTION, O_VAL_DOCS, O_BOS,
    O_NO_BOS, O_EOS, O_NO_EOS, O_TEXT_KEY, O_TXT_DOC, O_ON_ERROR, O_INVALID_UTF8, O_PART,
    O_QUIET, O_JSON, O_HELP, O_MAX_RECORD, O_MAX_BYTES, O_EVERY, O_SAMPLE_BYTES, O_VERSION,
    O_MAX_SKIP, O_ENCODER, O_STDIN_FORMAT, O_ALLOW_DAMAGED,
};

static const struct option long_opts[] = {
    { "model", required_argument, NULL, O_MODEL },
    /* the name import-bin, ingot-train and ingot-dump give the model */
    { "tokenizer", required_argument, NULL, O_MODEL },
    { "encoder", required_argument, NULL, O_ENCODER },
    { "out", required_argument, NULL, O_OUT },
    { "threads", required_argument, NULL, O_THREADS },
    { "shard-tokens", required_argument, NULL, O_SHARD_TOKENS },
    { "val-fraction", required_argument, NULL, O_VAL_FRACTION },
    { "val-docs", required_argument, NULL, O_VAL_DOCS },
    { "bos", no_argument, NULL, O_BOS },
    { "no-bos", no_argument, NULL, O_NO_BOS },
    { "eos", no_argument, NULL, O_EOS },
    { "no-eos", no_argument, NULL, O_NO_EOS },
    { "text-key", required_argument, NULL, O_TEXT_KEY },
    { "stdin-format", required_argument, NULL, O_STDIN_FORMAT },
    { "txt-doc", required_argument, NULL, O_TXT_DOC },
    { "on-error", required_argument, NULL, O_ON_ERROR },
    { "invalid-utf8", required_argument, NULL, O_INVALID_UTF8 },
    { "part", required_argument, NULL, O_PART },
    { "quiet", no_argument, NULL, O_QUIET },
    { "json", no_argument, NULL, O_JSON },
    { "help", no_argument, NULL, O_HELP },
    { "version", no_argument, NULL, O_VERSION },
    { "max-record-bytes", required_argument, NULL, O_MAX_RECORD },
    { "max-skip-fraction", required_argument, NULL, O_MAX_SKIP },
    { "allow-damaged-inputs", no_argument, NULL, O_ALLOW_DAMAGED },
    { "max-bytes", required_argument, NULL, O_MAX_BYTES },
    { "every", required_argument, NULL, O_EVERY },
    { "sample-bytes", required_argument, NULL, O_SAMPLE_BYTES },
    { NULL, 0, NULL, 0 },
};

/* The options each command reads: one the command does not read was
 * ignored without a word (`convert --every 2` converted every document,
 * `merge --bos` and `text --bos` changed nothing). */
#define OPT_BIT(v) (1ull << ((v) - O_MODEL))
static const uint64_t TEXT_ONLY = OPT_BIT(O_MAX_BYTES) | OPT_BIT(O_EVERY) | OPT_BIT(O_SAMPLE_BYTES);
static const uint64_t ANY_CMD = OPT_BIT(O_HELP) | OPT_BIT(O_VERSION) | OPT_BIT(O_QUIET);

static uint64_t cmd_opts(int cmd)
{
    switch (cmd) {
    case PT_CMD_TEXT:
        return ANY_CMD | TEXT_ONLY | OPT_BIT(O_TEXT_KEY) | OPT_BIT(O_TXT_DOC) |
               OPT_BIT(O_INVALID_UTF8) | OPT_BIT(O_MAX_RECORD) | OPT_BIT(O_STDIN_FORMAT);
    case PT_CMD_MERGE:
        return ANY_CMD | OPT_BIT(O_OUT) | OPT_BIT(O_ALLOW_DAMAGED) | OPT_BIT(O_MAX_SKIP);
    default:
        return ~TEXT_ONLY;
    }
}

int pt_cli_parse(int argc, char **argv, struct pt_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->argc = argc;
    o->argv = argv;
    o->shard_tokens = 100000000;
    o->bos = o->eos = -1;
    o->text_key = "text";
    o->stdin_format = PT_FMT_JSONL;
    o->txt_doc = PT_TXT_FILE;
    o->max_record = PT_DEFAULT_RECORD_BYTES;
    o->max_skip_fraction = SKIP_DEFAULT_MAX_FRACTION;
    o->every = 1;
    /* All cores this process may run on (Slurm and taskset restrict the
     * affinity mask), else all online cores. */
    cpu_set_t set;
    long ncpu = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                             : sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = ncpu > PT_MAX_THREADS ? PT_MAX_THREADS : ncpu > 0 ? (unsigned)ncpu : 1;

    int first = 1;
    if (argc > 1 && !strcmp(argv[1], "merge")) {
        o->cmd = PT_CMD_MERGE;
        first = 2;
    } else if (argc > 1 && !strcmp(argv[1], "text")) {
        o->cmd = PT_CMD_TEXT;
        first = 2;
    } else if (argc > 1 && !strcmp(argv[1], "import-bin")) {
        o->cmd = PT_CMD_IMPORT;     /* its own options: pt_import.c */
        return 0;
    } else if (argc > 1 && !strcmp(argv[1], "convert")) {
        first = 2;
    }
    int ret;
    uint64_t v;
    optind = first;
    opterr = 0;
    int c, idx;
    while ((idx = -1, c = getopt_long(argc, argv, ":h", long_opts, &idx)) != -1) {
        if (idx >= 0 && optarg && (ret = cli_check_value(long_opts[idx].name, optarg)))
            return ret;
        char tv[256];   /* a value refused, as term_text shows it */
        if (idx >= 0 && c >= O_MODEL && !(cmd_opts(o->cmd) & OPT_BIT(c)))
            return ingot_fail(INGOT_E_USAGE, "--%s does not apply to %s%s (see %s)",
                              long_opts[idx].name,
                              o->cmd == PT_CMD_TEXT ? "text" : o->cmd == PT_CMD_MERGE ? "merge"
                                                                                     : "a conversion",
                              o->cmd == PT_CMD_MERGE ? ", which takes --out, "
                              "--allow-damaged-inputs, --max-skip-fraction and --quiet" :
                              o->cmd == PT_CMD_TEXT ? "" : "; it is an option of ingot-pretok "
                              "text (a conversion reads every document)",
                              o->cmd == PT_CMD_TEXT ? "ingot-pretok --help, under text" :
                              "ingot-pretok --help");
        switch (c) {
        case O_MODEL: o->model = optarg; break;
        case O_ENCODER:
            if (strcmp(optarg, "ingot") && strcmp(optarg, "spm"))
                return ingot_fail(INGOT_E_USAGE, "--encoder %s: expected ingot or spm",
                                  term_text(optarg, tv, sizeof(tv)));
            o->encoder_spm = !strcmp(optarg, "spm");
            break;
        case O_OUT: o->out = optarg; break;
        case O_THREADS:
            if ((ret = opt_u64("--threads", optarg, 1, PT_MAX_THREADS, &v)))
                return ret;
            o->threads = (unsigned)v;
            break;
        case O_SHARD_TOKENS:
            if ((ret = opt_u64("--shard-tokens", optarg, 1, PT_MAX_SHARD_TOKENS,
                               &o->shard_tokens)))
                return ret;
            break;
        case O_VAL_FRACTION: {
            /* 1 and above are refused with their reason first: the range
             * message "[0, 1]" sent the user to 1, refused next (as
             * --val-docs N >= the documents is) */
            char *end;
            const double f = strtod(optarg, &end);
            if (end != optarg && !*end && isfinite(f) && f >= 1.0)
                return ingot_fail(INGOT_E_USAGE, "--val-fraction '%s': %s no documents for "
                                  "training; give a fraction below 1 (0.001, say)", optarg,
                                  f == 1.0 ? "1 leaves" : "a share of 1 or more leaves");
            if ((ret = cli_parse_double("--val-fraction", optarg, 0, 1, &o->val_fraction)))
                return ret;
            /* the threshold pt_convert.c compares the split hash with */
            if (o->val_fraction > 0.0 && o->val_fraction * 18446744073709551616.0 < 1.0)
                return ingot_fail(INGOT_E_USAGE, "--val-fraction '%s': too small to choose any "
                                  "document (a document goes to val when a 64-bit hash of it is "
                                  "below F*2^64, so an F below 2^-64, about 5.4e-20, chooses "
                                  "none); give a larger fraction (0.001, say), or 0 for no val "
                                  "split", optarg);
            if (o->val_mode == PT_VAL_DOCS)
                return ingot_fail(INGOT_E_USAGE, "--val-fraction and --val-docs exclude each other");
            o->val_mode = PT_VAL_FRACTION;
            break;
        }
        case O_VAL_DOCS:
            if ((ret = opt_u64("--val-docs", optarg, 1, INT64_MAX, &o->val_docs)))
                return ret;
            if (o->val_mode == PT_VAL_FRACTION)
                return ingot_fail(INGOT_E_USAGE, "--val-fraction and --val-docs exclude each other");
            o->val_mode = PT_VAL_DOCS;
            break;
        case O_BOS: o->bos = 1; break;
        case O_NO_BOS: o->bos = 0; break;
        case O_EOS: o->eos = 1; break;
        case O_NO_EOS: o->eos = 0; break;
        case O_TEXT_KEY: o->text_key = optarg; break;
        case O_STDIN_FORMAT:
            if (strcmp(optarg, "jsonl") && strcmp(optarg, "text"))
                return ingot_fail(INGOT_E_USAGE, "--stdin-format %s: expected jsonl or text",
                                  term_text(optarg, tv, sizeof(tv)));
            o->stdin_format = !strcmp(optarg, "text") ? PT_FMT_TEXT : PT_FMT_JSONL;
            break;
        case O_TXT_DOC:
            if (!strcmp(optarg, "file"))
                o->txt_doc = PT_TXT_FILE;
            else if (!strcmp(optarg, "paragraph"))
                o->txt_doc = PT_TXT_PARAGRAPH;
            else if (!strcmp(optarg, "line"))
                o->txt_doc = PT_TXT_LINE;
            else
                return ingot_fail(INGOT_E_USAGE, "--txt-doc %s: expected file, paragraph or line",
                                  term_text(optarg, tv, sizeof(tv)));
            break;
        case O_ON_ERROR:
            if (strcmp(optarg, "skip") && strcmp(optarg, "fail"))
                return ingot_fail(INGOT_E_USAGE, "--on-error %s: expected skip or fail",
                                  term_text(optarg, tv, sizeof(tv)));
            o->on_error_fail = !strcmp(optarg, "fail");
            break;
        case O_INVALID_UTF8:
            if (strcmp(optarg, "skip") && strcmp(optarg, "replace"))
                return ingot_fail(INGOT_E_USAGE, "--invalid-utf8 %s: expected replace or skip",
                                  term_text(optarg, tv, sizeof(tv)));
            o->invalid_utf8_skip = !strcmp(optarg, "skip");
            break;
        case O_PART:
            if ((ret = parse_part(optarg, &o->part_k, &o->part_n)))
                return ret;
            break;
        case O_QUIET: o->quiet = true; break;
        case O_JSON: o->json = true; break;
        case O_MAX_RECORD:
            if ((ret = opt_u64("--max-record-bytes", optarg, 1, PT_MAX_RECORD_BYTES,
                               &o->max_record)))
                return ret;
            break;
        case O_MAX_SKIP:
            if ((ret = cli_parse_double("--max-skip-fraction", optarg, 0, 1,
                                        &o->max_skip_fraction)))
                return ret;
            break;
        case O_ALLOW_DAMAGED: o->allow_damaged = true; break;
        case O_MAX_BYTES:
            if ((ret = opt_u64("--max-bytes", optarg, 0, INT64_MAX, &o->max_bytes)))
                return ret;
            break;
        case O_EVERY:
            if ((ret = opt_u64("--every", optarg, 1, INT64_MAX, &o->every)))
                return ret;
            break;
        case O_SAMPLE_BYTES:
            if ((ret = opt_u64("--sample-bytes", optarg, 1, INT64_MAX / 4, &o->sample_bytes)))
                return ret;
            break;
        case 'h':
        case O_HELP:
            o->cmd = PT_CMD_HELP;
            return 0;
        case O_VERSION:
            o->cmd = PT_CMD_VERSION;
            return 0;
        default:   /* '?', ':' */
            return cli_opt_error(c, argv, long_opts,
                                 o->cmd == PT_CMD_TEXT ? "ingot-pretok text --help"
                                 : o->cmd == PT_CMD_MERGE ? "ingot-pretok merge --help"
                                 : "ingot-pretok --help");
        }
    }
    o->inputs = argv + optind;
    o->n_inputs = (size_t)(argc - optind);
    for (size_t i = 0; i < o->n_inputs; i++)
        if (!o->inputs[i][0])
            return ingot_fail(INGOT_E_USAGE, "argument %zu is empty: give a path", i + 1);

    switch (o->cmd) {
    case PT_CMD_CONVERT:
        if (!o->model)
            return ingot_fail(INGOT_E_USAGE, "--model is required (see --help)");
        if (!o->out)
            return ingot_fail(INGOT_E_USAGE, "--out is required (see --help)");
        if (!o->n_inputs)
            return ingot_fail(INGOT_E_USAGE, "no INPUT given (see --help)");
        if (o->allow_damaged && o->on_error_fail)
            return ingot_fail(INGOT_E_USAGE, "--allow-damaged-inputs accepts damaged files "
                              "under --on-error skip; --on-error fail stops at the first one "
                              "(use one or the other)");
        break;
    case PT_CMD_TEXT:
        if (!o->n_inputs)
            return ingot_fail(INGOT_E_USAGE, "no INPUT given (see --help)");
        break;
    case PT_CMD_MERGE:
        /* --out OUT as in a conversion, or OUT first (it took the first
         * part for OUT and dropped --out) */
        if (o->out) {
            char to[1024];
            if (!o->n_inputs)
                return ingot_fail(INGOT_E_USAGE, "expected at least one PART_DIR after --out "
                                  "%s (see --help)", term_text(o->out, to, sizeof(to)));
            break;
        }
        if (o->n_inputs < 2)
            return ingot_fail(INGOT_E_USAGE, "expected OUT (or --out OUT) and at least one "
                              "PART_DIR (see --help)");
        o->out = o->inputs[0];
        o->inputs++;
        o->n_inputs--;
        break;
    default:
        break;
    }
    return 0;
}
