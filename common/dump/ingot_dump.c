/* ingot-dump: inspect and verify Ingot shards and datasets. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_num.h"
#include "fsutil.h"
#include "ingot_dump.h"
#include "ingot_err.h"
#include "ingot_version.h"
#include "sig_util.h"

#ifndef DUMP_SPM_VERSION
#define DUMP_SPM_VERSION "unknown"
#endif

static const char usage[] =
    "usage: ingot-dump COMMAND PATH [options]\n"
    "\n"
    "PATH is one shard file (*.tok) or a dataset directory (shards + manifest.json).\n"
    "\n"
    "commands:\n"
    "  info PATH [--json] [--brief] [--list N]\n"
    "                           header, counts, tokenizer, checksums (--json for scripts);\n"
    "                           a dataset's shards and inputs are listed up to N each\n"
    "                           (default 20; --list 0: all) with a count of the rest;\n"
    "                           --brief: totals only\n"
    "  verify PATH              recompute every checksum and check every structural field of\n"
    "                           every shard and the manifest, and the tokenizer that the\n"
    "                           manifest's tokenizer.file names (the one docs loads: the\n"
    "                           tokenizer.model copy) against the manifest's hash; every\n"
    "                           shard is checked (a bad one does not stop the others): 'ok'\n"
    "                           lines on stdout, one line per problem on stderr, then a\n"
    "                           count; exit 0 when intact\n"
    "  docs PATH [--split train|val|all] [--first N] [--count K] [--ids] [--raw] [--model M]\n"
    "                           decode documents back to text, each after a '### document'\n"
    "                           line naming its shard and source record (--raw: text only);\n"
    "                           --ids: ids without BOS/EOS, space-separated, one document per\n"
    "                           line (the format of spm_encode --output_format=id)\n"
    "  tokens PATH --range A:B [--split S] [--model M]\n"
    "                           tokens at positions [A, B) of the selection with their pieces\n"
    "  stats PATH [--split S] [--top N] [--model M]\n"
    "                           documents, tokens, document-length distribution, top tokens,\n"
    "                           share of UNK\n"
    "  export-bin PATH --out FILE.bin [--split S] [--format llmc|nanogpt]\n"
    "                           the split's token stream (default train) as llm.c's .bin\n"
    "                           (256 x int32 header: 20240520, 1, count; uint16 tokens;\n"
    "                           above 65536 ids: 20240801, 7, count; uint32 tokens, llm.c's\n"
    "                           LLaMA-3 files) or nanoGPT's (raw uint16, at most 65536 ids)\n"
    "\n"
    "options:\n"
    "  --split S   train (default for a dataset), val, or all (train shards, then val shards);\n"
    "              a single shard is selected whatever its split unless --split is given\n"
    "  --first N   skip the first N documents of the selection (default 0)\n"
    "              (numbers take k M G T / Ki Mi Gi Ti suffixes: --count 10k, --range 1M:2M)\n"
    "  --count K   print at most K documents (default: all)\n"
    "  --top N     how many frequent tokens stats lists (default 20)\n"
    "  --model M   SentencePiece model to decode with; by default the manifest's\n"
    "              tokenizer.file: the copy inside the dataset directory (tokenizer.model),\n"
    "              or for older datasets the path given to pretok; when the copy is\n"
    "              missing, the model given to pretok (tokenizer.source) if it is unchanged;\n"
    "              its hash must match the one the shards were made with\n"
    "  -h, --help  this text;  --version  the Ingot version\n"
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

/* Options take their value as "--opt V" or "--opt=V". */
static int parse_args(int argc, char **argv, struct dump_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->count = UINT64_MAX;
    o->top = 20;
    o->max_list = 20;
    if (argc < 2)
        return ingot_fail(INGOT_E_USAGE, "no command given");
    o->cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (o->path)
                return ingot_fail(INGOT_E_USAGE, "unexpected argument '%s' (PATH is %s)", a,
                                  o->path);
            o->path = a;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->cmd = "help";
            return 0;
        }
        if (!strcmp(a, "--version")) {
            o->cmd = "--version";
            return 0;
        }
        char name[32];
        const char *val = NULL, *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof(name))
            return ingot_fail(INGOT_E_USAGE, "unknown option %s", a);
        memcpy(name, a, nl);
        name[nl] = '\0';
        if (!strcmp(name, "--json") || !strcmp(name, "--ids") || !strcmp(name, "--raw") ||
            !strcmp(name, "--brief")) {
            if (eq)
                return ingot_fail(INGOT_E_USAGE, "%s takes no value", name);
            if (name[2] == 'j')
                o->json = true;
            else if (name[2] == 'i')
                o->ids = true;
            else if (name[2] == 'b')
                o->brief = true;
            else
                o->raw = true;
            continue;
        }
        static const char *const with_value[] = { "--split", "--first", "--count", "--model",
                                                  "--range", "--top", "--out", "--format",
                                                  "--list" };
        int known = 0;
        for (size_t k = 0; k < sizeof(with_value) / sizeof(*with_value); k++)
            known |= !strcmp(name, with_value[k]);
        if (!known)
            return ingot_fail(INGOT_E_USAGE, "unknown option %s", a);
        if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                return ingot_fail(INGOT_E_USAGE, "%s needs a value", name);
            val = argv[++i];
        }
        int ret = cli_check_value(name + 2, val);
        if (ret)
            return ret;
        if (!strcmp(name, "--split")) {
            if (strcmp(val, "train") && strcmp(val, "val") && strcmp(val, "all"))
                return ingot_fail(INGOT_E_USAGE, "--split %s: expected train, val or all", val);
            o->split = val;
        } else if (!strcmp(name, "--first")) {
            ret = parse_count(name, val, &o->first);
        } else if (!strcmp(name, "--count")) {
            ret = parse_count(name, val, &o->count);
        } else if (!strcmp(name, "--top")) {
            ret = parse_count(name, val, &o->top);
        } else if (!strcmp(name, "--list")) {
            ret = parse_count(name, val, &o->max_list);
        } else if (!strcmp(name, "--model")) {
            o->model = val;
        } else if (!strcmp(name, "--out")) {
            o->out = val;
        } else if (!strcmp(name, "--format")) {
            o->format = val;
        } else {
            o->range = val;
        }
        if (ret)
            return ret;
    }
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
static const char *bus_path = "";
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
    bus_path = path ? path : "";
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
    if (!ret && (!strcmp(o.cmd, "help") || !strcmp(o.cmd, "-h") || !strcmp(o.cmd, "--help"))) {
        fputs(usage, stdout);
        return fs_stdout_status("ingot-dump");
    }
    if (!ret && !strcmp(o.cmd, "--version")) {
        const char *libs[] = { "sentencepiece " DUMP_SPM_VERSION, NULL };
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
    if (!ret) {
        for (size_t k = 0; k < sizeof(cmds) / sizeof(*cmds); k++)
            if (!strcmp(o.cmd, cmds[k].name))
                fn = cmds[k].fn;
        if (!fn)
            ret = ingot_fail(INGOT_E_USAGE, "unknown command '%s'", o.cmd);
        else if (!o.path)
            ret = ingot_fail(INGOT_E_USAGE, "%s: PATH (a shard or a dataset directory) is missing",
                             o.cmd);
        else if (o.json && strcmp(o.cmd, "info"))
            ret = ingot_fail(INGOT_E_USAGE, "--json is only for info");
        else if (o.ids && strcmp(o.cmd, "docs"))
            ret = ingot_fail(INGOT_E_USAGE, "--ids is only for docs");
        else if (o.range && strcmp(o.cmd, "tokens"))
            ret = ingot_fail(INGOT_E_USAGE, "--range is only for tokens");
        else if ((o.brief || o.max_list != 20) && strcmp(o.cmd, "info"))
            ret = ingot_fail(INGOT_E_USAGE, "--brief and --list are only for info");
        else if ((o.out || o.format) && strcmp(o.cmd, "export-bin"))
            ret = ingot_fail(INGOT_E_USAGE, "--out and --format are only for export-bin");
    }
    if (ret) {
        fprintf(stderr, "ingot-dump: %s\nTry 'ingot-dump --help'.\n", ingot_errmsg_for(ret));
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
        fprintf(stderr, "ingot-dump: %s: %s\n", o.cmd, ingot_errmsg_for(ret));
        return ret == INGOT_E_USAGE ? 2 : 1;
    }
    return 0;
}
