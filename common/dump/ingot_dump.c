/* ingot-dump: inspect and verify Ingot shards and datasets. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_num.h"
#include "cli_opt.h"
#include "fsutil.h"
#include "ingot_dump.h"
#include "ingot_err.h"
#include "ingot_version.h"
#include "sig_util.h"
#include "term_text.h"

#ifndef DUMP_SPM_VERSION
#define DUMP_SPM_VERSION "unknown"
#endif

static const char usage[] =
    "usage: ingot-dump COMMAND PATH [options]\n"
    "\n"
    "PATH is one shard file (*.tok) or a dataset directory (shards + manifest.json).\n"
    "Numbers take k M G T / Ki Mi Gi Ti suffixes: --count 10k, --range 1M:2M.\n"
    "\n"
    "commands:\n"
    "  info PATH [--json] [--brief] [--list N]\n"
    "                           header, counts, tokenizer, checksums (--json for\n"
    "                           scripts); a dataset's shards and inputs are listed\n"
    "                           up to N each (default 20; --list 0: all) with a\n"
    "                           count of the rest; --brief: the totals only, from\n"
    "                           manifest.json alone (no shard is opened: fast at\n"
    "                           any size; verify checks the shards)\n"
    "  verify PATH              recompute every checksum and check every structural\n"
    "                           field of every shard and the manifest, and the\n"
    "                           tokenizer that the manifest's tokenizer.file names\n"
    "                           (looked up as docs does: the tokenizer.model copy)\n"
    "                           against the manifest's hash; every shard is checked\n"
    "                           (a bad one does not stop the others): 'ok' lines on\n"
    "                           stdout (not with --quiet), one line per problem on\n"
    "                           stderr, then a count; exit 0 when intact\n"
    "  docs PATH [--split train|val|all] [--first N] [--count K] [--ids] [--raw]\n"
    "       [--model M]\n"
    "                           decode documents back to text, each after a\n"
    "                           '### document' line naming its shard and source\n"
    "                           record (--raw: text only); --ids: ids without\n"
    "                           BOS/EOS, space-separated, one document per line\n"
    "                           (the format of spm_encode --output_format=id)\n"
    "  tokens PATH --range A:B [--split S] [--model M]\n"
    "                           tokens at positions [A, B) of the selection with\n"
    "                           their pieces (0 <= A <= B <= the selection's\n"
    "                           tokens; A: and :B run to its end and from its\n"
    "                           start); a piece's controls and invisible\n"
    "                           characters escaped (\\u{200D}; a byte not UTF-8\n"
    "                           \\xFF, a space \\x20, a backslash \\\\)\n"
    "  stats PATH [--split S] [--top N] [--model M]\n"
    "                           documents, tokens, document-length distribution,\n"
    "                           top tokens, share of UNK\n"
    "  export-bin PATH --out FILE.bin [--split S] [--format llmc|nanogpt]\n"
    "                           the split's token stream (default train) as llm.c's\n"
    "                           .bin (llmc, the default; 256 x int32 header:\n"
    "                           20240520, 1, count; uint16 tokens; above 65536 ids:\n"
    "                           20240801, 7, count; uint32 tokens, llm.c's LLaMA-3\n"
    "                           files) or nanoGPT's (raw uint16, at most 65536 ids);\n"
    "                           FILE.bin is replaced whole (a new file renamed over\n"
    "                           it): a regular file, not a symbolic link, nothing\n"
    "                           under /dev or /proc; --out - writes to standard\n"
    "                           output (a pipe or a file, not a terminal)\n"
    "\n"
    "options:\n"
    "  --split S   train (default for a dataset), val, or all (train shards, then\n"
    "              val shards); a single shard is selected whatever its split\n"
    "              unless --split is given\n"
    "  --first N   skip the first N documents of the selection (default 0)\n"
    "  --count K   print at most K documents (default: all)\n"
    "  --top N     how many frequent tokens stats lists (default 20)\n"
    "  --model M   SentencePiece model to decode with (also --tokenizer M, as in\n"
    "              ingot-train and import-bin); by default the manifest's\n"
    "              tokenizer.file: the copy inside the dataset directory\n"
    "              (tokenizer.model), or for older datasets the path given to\n"
    "              pretok; when the copy is missing, the model given to pretok\n"
    "              (tokenizer.source) if it is unchanged; its hash must match the\n"
    "              one the shards were made with; a dataset that records no\n"
    "              tokenizer (import-bin --vocab: ids only) takes a model of its\n"
    "              vocab_size pieces, which nothing else can check (a note says so)\n"
    "  --quiet     verify, stats, export-bin: no progress (verify's 'ok' line per\n"
    "              shard, stats' line every 10 s) and no export-bin summary;\n"
    "              results, problems and errors are printed all the same\n"
    "  -h, --help  this text\n"
    "  --version   the Ingot version\n"
    "  --          ends the options (a PATH that starts with -)\n"
    "\n"
    "An id at or past the shards' vocab_size (a damaged shard) shows as\n"
    "<out-of-vocab> (docs' text, tokens' piece; docs --ids prints the id), and\n"
    "docs, tokens and stats exit 1 after their output; export-bin refuses it.\n"
    "stats and export-bin exit 1 on a selection without tokens.\n"
    "\n"
    "exit status: 0 ok, 1 the data is missing, unreadable or corrupt, 2 usage error\n";

/* --first, --count, --top: integers with the suffixes every program takes
 * (cli_num.h: 10k, 1M, 64Ki). */
static int parse_count(const char *opt, const char *v, uint64_t *out)
{
    int64_t x;
    int ret = cli_parse_i64(opt, v, 0, INT64_MAX, &x);
    if (!ret)
        *out = (uint64_t)x;
    return ret;
}

enum { D_JSON = 256, D_IDS, D_RAW, D_BRIEF, D_SPLIT, D_FIRST, D_COUNT, D_MODEL, D_RANGE,
       D_TOP, D_OUT, D_FORMAT, D_LIST, D_QUIET, D_HELP, D_VERSION };

static const struct option long_opts[] = {
    { "json", no_argument, NULL, D_JSON },
    { "ids", no_argument, NULL, D_IDS },
    { "raw", no_argument, NULL, D_RAW },
    { "brief", no_argument, NULL, D_BRIEF },
    { "split", required_argument, NULL, D_SPLIT },
    { "first", required_argument, NULL, D_FIRST },
    { "count", required_argument, NULL, D_COUNT },
    { "model", required_argument, NULL, D_MODEL },
    /* the name ingot-train and import-bin give the SentencePiece model */
    { "tokenizer", required_argument, NULL, D_MODEL },
    { "range", required_argument, NULL, D_RANGE },
    { "top", required_argument, NULL, D_TOP },
    { "out", required_argument, NULL, D_OUT },
    { "format", required_argument, NULL, D_FORMAT },
    { "list", required_argument, NULL, D_LIST },
    { "quiet", no_argument, NULL, D_QUIET },
    { "help", no_argument, NULL, D_HELP },
    { "version", no_argument, NULL, D_VERSION },
    { NULL, 0, NULL, 0 },
};

static const char *const commands[] = { "info", "verify", "docs", "tokens", "stats",
                                        "export-bin" };

/* The commands each option applies to; any other refuses it (an option that
 * does nothing there, as `info --count 5`, was taken in silence). */
static const struct {
    int id;
    const char *name;
    const char *const cmds[4];
} opt_scope[] = {
    { D_JSON, "--json", { "info" } },
    { D_BRIEF, "--brief", { "info" } },
    { D_LIST, "--list", { "info" } },
    { D_IDS, "--ids", { "docs" } },
    { D_RAW, "--raw", { "docs" } },
    { D_FIRST, "--first", { "docs" } },
    { D_COUNT, "--count", { "docs" } },
    { D_RANGE, "--range", { "tokens" } },
    { D_TOP, "--top", { "stats" } },
    { D_MODEL, "--model", { "docs", "tokens", "stats" } },
    { D_SPLIT, "--split", { "docs", "tokens", "stats", "export-bin" } },
    { D_QUIET, "--quiet", { "verify", "stats", "export-bin" } },
    { D_OUT, "--out", { "export-bin" } },
    { D_FORMAT, "--format", { "export-bin" } },
};

/* INGOT_E_USAGE for the first option given that cmd does not take. */
static int check_scope(const struct dump_opts *o)
{
    for (size_t k = 0; k < sizeof(opt_scope) / sizeof(*opt_scope); k++) {
        if (!(o->given & 1u << (opt_scope[k].id - D_JSON)))
            continue;
        const char *const *c = opt_scope[k].cmds;
        size_t n = 0;
        bool ok = false;
        for (; n < 4 && c[n]; n++)
            ok |= !strcmp(c[n], o->cmd);
        if (ok)
            continue;
        char list[96] = "";
        for (size_t i = 0; i < n; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                     i == 0 ? "" : i + 1 == n ? " and " : ", ", c[i]);
        return ingot_fail(INGOT_E_USAGE, "%s is only for %s (see ingot-dump --help)",
                          opt_scope[k].name, list);
    }
    return 0;
}
enum { N_COMMANDS = sizeof(commands) / sizeof(*commands) };

static bool is_command(const char *s)
{
    for (size_t k = 0; k < N_COMMANDS; k++)
        if (!strcmp(s, commands[k]))
            return true;
    return false;
}

/* COMMAND first, then PATH and the options in any order, through
 * getopt_long as in ingot-pretok and ingot-train: "--opt V" or "--opt=V",
 * -h, "--" before a PATH that starts with '-'. */
static int parse_args(int argc, char **argv, struct dump_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->count = UINT64_MAX;
    o->top = 20;
    o->max_list = 20;
    if (argc < 2)
        return ingot_fail(INGOT_E_USAGE, "no command given (see ingot-dump --help)");
    o->cmd = argv[1];
    /* an option before the command: the help, the version, or the
     * option's own error (a mistyped one is named with the nearest) */
    int first = argv[1][0] == '-' && argv[1][1] ? 0 : 1;
    if (!first)
        o->cmd = NULL;
    optind = 1;
    opterr = 0;
    int c, idx, ret = 0;
    while (!ret && (idx = -1, c = getopt_long(argc - first, argv + first, ":h", long_opts,
                                              &idx)) != -1) {
        const char *val = optarg;
        if (idx >= 0 && val && (ret = cli_check_value(long_opts[idx].name, val)))
            break;
        if (c >= D_JSON && c < D_HELP)
            o->given |= 1u << (c - D_JSON);
        switch (c) {
        case 'h':
        case D_HELP: o->cmd = "help"; return 0;
        case D_VERSION: o->cmd = "--version"; return 0;
        case D_JSON: o->json = true; break;
        case D_IDS: o->ids = true; break;
        case D_RAW: o->raw = true; break;
        case D_BRIEF: o->brief = true; break;
        case D_QUIET: o->quiet = true; break;
        case D_SPLIT:
            if (strcmp(val, "train") && strcmp(val, "val") && strcmp(val, "all")) {
                char tv[1024];
                ret = ingot_fail(INGOT_E_USAGE, "--split %s: expected train, val or all",
                                 term_text(val, tv, sizeof(tv)));
            }
            o->split = val;
            break;
        case D_FIRST: ret = parse_count("--first", val, &o->first); break;
        case D_COUNT: ret = parse_count("--count", val, &o->count); break;
        case D_TOP: ret = parse_count("--top", val, &o->top); break;
        case D_LIST: ret = parse_count("--list", val, &o->max_list); break;
        case D_MODEL: o->model = val; break;
        case D_OUT: o->out = val; break;
        case D_FORMAT: o->format = val; break;
        case D_RANGE: o->range = val; break;
        default: {   /* '?', ':' */
            char help[64] = "ingot-dump --help";
            if (first && is_command(argv[1]))
                snprintf(help, sizeof(help), "ingot-dump %s --help", argv[1]);
            ret = cli_opt_error(c, argv + first, long_opts, help);
            break;
        }
        }
    }
    if (ret)
        return ret;
    if (!o->cmd)
        return ingot_fail(INGOT_E_USAGE, "the command comes first: ingot-dump "
                          "info|verify|docs|tokens|stats|export-bin PATH [options] (see "
                          "ingot-dump --help)");
    for (int i = optind + first; i < argc; i++) {
        char ta[1024];
        if (o->path)
            return ingot_fail(INGOT_E_USAGE, "unexpected argument '%s' (PATH is %s; see "
                              "ingot-dump --help)", term_text(argv[i], ta, sizeof(ta)),
                              o->path_shown);
        if (!argv[i][0])
            return ingot_fail(INGOT_E_USAGE, "PATH is empty: give a shard or a dataset "
                              "directory");
        o->path = argv[i];
        term_text(o->path, o->path_shown, sizeof(o->path_shown));
    }
    if (o->out)
        term_text(o->out, o->out_shown, sizeof(o->out_shown));
    return 0;
}

int dump_stdout_failed(void)
{
    if (!ferror(stdout))
        return 0;
    int e = errno ? errno : EIO;
    return ingot_fail(-e, "writing to standard output failed: %s", strerror(e));
}

/* SIGBUS: a shard truncated or rewritten while it is mapped makes the pages
 * past its new end fault. The handler removes export-bin's temporary file
 * (the only thing ingot-dump writes), says which input it was (write() and
 * unlink() are async-signal-safe) and exits 1 instead of dying with "Bus
 * error". */
static char bus_path[1024];   /* PATH through term_text(), set before the handler */
static const char *volatile remove_path;

void dump_remove_on_signal(const char *path)
{
    remove_path = path;
}

/* SIGINT, SIGTERM, SIGHUP: no half-written temporary file left behind;
 * then the default action, so that the exit status still says which
 * signal. */
static void on_stop(int sig)
{
    const char *p = remove_path;
    if (p)
        unlink(p);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_sigbus(int sig)
{
    const char *p = remove_path;
    if (p)
        unlink(p);
    static const char a[] = "ingot-dump: ";
    static const char b[] = ": a shard was truncated or rewritten while being read (SIGBUS); "
                            "run ingot-dump verify on it once nothing writes to it\n";
    ssize_t w = write(STDERR_FILENO, a, sizeof(a) - 1);
    w = write(STDERR_FILENO, bus_path, strlen(bus_path));
    w = write(STDERR_FILENO, b, sizeof(b) - 1);
    (void)w;
    (void)sig;
    _exit(1);
}

static void trap_signals(const char *path)
{
    term_text(path ? path : "", bus_path, sizeof(bus_path));
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
    /* not over an ignored signal (nohup, a shell's background job) */
    sig_install_unless_ignored(SIGINT, on_stop, NULL);
    sig_install_unless_ignored(SIGTERM, on_stop, NULL);
    sig_install_unless_ignored(SIGHUP, on_stop, NULL);   /* a closed terminal or ssh */
}

int main(int argc, char **argv)
{
    if (fs_std_fds_open()) {
        perror("ingot-dump: opening /dev/null on a closed standard descriptor");
        return 1;
    }
    sig_file_size_errors();   /* ulimit -f: EFBIG, reported, not SIGXFSZ */
    struct dump_opts o;
    int ret = parse_args(argc, argv, &o);
    if (!ret && !strcmp(o.cmd, "help")) {
        fputs(usage, stdout);
        return fs_stdout_status("ingot-dump");
    }
    if (!ret && !strcmp(o.cmd, "--version")) {
        const char *libs[] = { "sentencepiece " DUMP_SPM_VERSION,
#ifdef INGOT_TEST_HOOKS
                               "test hooks: compiled in (a test build)",
#else
                               "test hooks: none (release build)",
#endif
                               NULL };
        ingot_version_print(stdout, "ingot-dump", libs);
        return fs_stdout_status("ingot-dump");
    }
    static const struct {
        const char *name;
        int (*fn)(const struct dump_opts *);
    } cmds[] = {
        { "info", dump_info }, { "verify", dump_verify }, { "docs", dump_docs },
        { "tokens", dump_tokens }, { "stats", dump_stats }, { "export-bin", dump_export_bin },
    };
    int (*fn)(const struct dump_opts *) = NULL;
    for (size_t k = 0; o.cmd && k < sizeof(cmds) / sizeof(*cmds); k++)
        if (!strcmp(o.cmd, cmds[k].name))
            fn = cmds[k].fn;
    if (!ret) {
        if (!fn) {
            const char *near = cli_closest(o.cmd, commands, N_COMMANDS);
            char tc[1024];
            ret = ingot_fail(INGOT_E_USAGE, "unknown command '%s'%s%s%s (see ingot-dump --help)",
                             term_text(o.cmd, tc, sizeof(tc)), near ? "; did you mean " : "",
                             near ? near : "", near ? "?" : "");
        } else if (!o.path) {
            ret = ingot_fail(INGOT_E_USAGE, "PATH (a shard or a dataset directory) is missing "
                             "(see ingot-dump --help)");
        }
        else
            ret = check_scope(&o);
    }
    /* the listings' result is standard output (export-bin's too with
     * --out -); verify's is its exit status */
    if (!ret && fn && strcmp(o.cmd, "verify") &&
        (strcmp(o.cmd, "export-bin") || (o.out && !strcmp(o.out, "-")))) {
        char what[64];
        snprintf(what, sizeof(what), "ingot-dump %s", o.cmd);
        ret = fs_stdout_closed(what);
    }
    /* every message names the command, as ingot-train's subcommands do */
    char prog[64] = "ingot-dump";
    if (fn)
        snprintf(prog, sizeof(prog), "ingot-dump %s", o.cmd);
    if (ret) {
        fprintf(stderr, "%s: %s\n", prog, ingot_errmsg_for(ret));
        return 2;
    }
    trap_signals(o.path);
    ret = fn(&o);
    /* Whatever a command printed: a full disk or a closed stdout must not
     * read as success (info and verify would exit 0 having written nothing). */
    int e = ret ? 0 : fs_flush(stdout);
    if (e)
        ret = ingot_fail(e, "writing to standard output failed: %s", strerror(-e));
    if (ret) {
        fprintf(stderr, "%s: %s\n", prog, ingot_errmsg_for(ret));
        return ret == INGOT_E_USAGE ? 2 : 1;
    }
    return 0;
}
