/* --quiet and --version in ingot-train's subcommands (eval, generate,
 * export), with the main command's meaning (they took neither):
 *  - --quiet: nothing on stderr but errors (eval's "the checkpoint's data"
 *    line, generate's closing line of speeds, export's summary on stdout
 *    all go); the result itself stays (eval's line or JSON, generate's
 *    ids); an error is still printed, with its exit status;
 *  - --version: the version line of `ingot-train --version`, exit 0;
 *  - eval's progress line on stderr (windows and tokens done of the total,
 *    elapsed), at most every 10 s: a test build's INGOT_TRAIN_TEST_PROGRESS_MS=0
 *    gives one after every batch but the last, --quiet none (skipped
 *    without -Dtest_hooks=true).
 * usage: test_subcmd_quiet INGOT_TRAIN */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tt_util.h"

enum { VOCAB = 90, N_TRAIN = 4096, N_VAL = 400 };

static const char *bin;
static char *dir;
static int failures;

/* Run "bin args" with stdout and stderr kept apart; returns the exit
 * status, *out and *err the texts (malloc'd, "" when empty). */
static int run(const char *args, char **out, char **err)
{
    char *o = tt_fmt("%s/stdout.txt", dir), *e = tt_fmt("%s/stderr.txt", dir);
    char *cmd = tt_fmt("'%s' %s >'%s' 2>'%s'", bin, args, o, e);
    int st = system(cmd);
    *out = tt_slurp(o);
    *err = tt_slurp(e);
    if (!*out)
        *out = strdup("");
    if (!*err)
        *err = strdup("");
    CHECK(*out && *err);
    free(cmd);
    free(o);
    free(e);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* "WHAT HOW  ok" (or FAIL, with the outputs). */
static void check(const char *what, const char *how, bool ok, const char *out, const char *err)
{
    char name[128];
    snprintf(name, sizeof(name), "%s%s", what, how);
    printf("%-50s %s\n", name, ok ? "ok" : "FAIL");
    if (!ok) {
        fprintf(stderr, "%s:\nstdout:\n%s\nstderr:\n%s\n", name, out, err);
        failures++;
    }
}

/* Without --quiet: rc 0, want_out in stdout, want_err in stderr. With it:
 * rc 0, want_out still in stdout, stderr empty. */
static void quiet_case(const char *what, const char *args, const char *want_out,
                       const char *want_err)
{
    char *out, *err, *a;
    int rc = run(args, &out, &err);
    check(what, ": says it", rc == 0 && strstr(out, want_out) &&
          strstr(err, want_err), out, err);
    free(out);
    free(err);
    rc = run((a = tt_fmt("%s --quiet", args)), &out, &err);
    check(what, " --quiet: the result, nothing on stderr", rc == 0 && !err[0] &&
          strstr(out, want_out), out, err);
    free(out);
    free(err);
    free(a);
}

/* An error under --quiet: printed, with its exit status. */
static void quiet_error(const char *what, const char *args, int want_rc, const char *want_err)
{
    char *out, *err;
    int rc = run(args, &out, &err);
    check(what, "", rc == want_rc && strstr(err, want_err), out, err);
    free(out);
    free(err);
}

/* Lines of s that start with prefix. */
static int lines_with(const char *s, const char *prefix)
{
    int n = 0;
    for (const char *p = s; *p;) {
        n += !strncmp(p, prefix, strlen(prefix));
        p += strcspn(p, "\n");
        p += *p != '\0';
    }
    return n;
}

/* eval's progress: forced after every batch by the test hook, where the
 * build has it; none under --quiet. windows: the val split's. */
static void eval_progress(const char *ck, const char *vout)
{
    if (!strstr(vout, "test hooks: compiled in")) {
        printf("%-50s skipped (no -Dtest_hooks=true)\n", "eval progress");
        return;
    }
    char *out, *err, *a = tt_fmt("eval '%s' --threads 1 --batch 1", ck);
    CHECK(unsetenv("INGOT_TRAIN_TEST_PROGRESS_MS") == 0);
    int rc = run(a, &out, &err);   /* the default 10 s: none on a run this short */
    check("eval progress", ": none within 10 s", rc == 0 && !strstr(err, " windows, "), out, err);
    free(out);
    free(err);
    CHECK(setenv("INGOT_TRAIN_TEST_PROGRESS_MS", "0", 1) == 0);
    rc = run(a, &out, &err);
    int windows = 0;
    const char *res = strstr(out, "split): ");
    if (res)
        windows = atoi(res + strlen("split): "));
    /* the data line, then one per batch of one window but the last (the
     * result follows it) */
    char *first = tt_fmt("eval: 1 of %d windows, 32 of %d tokens (", windows, windows * 32);
    check("eval progress", ": a line per batch but the last", rc == 0 && windows > 2 &&
          strstr(err, first) && lines_with(err, "eval: ") == 1 + windows - 1 &&
          strstr(err, " s\n"), out, err);
    free(first);
    free(out);
    free(err);
    free(a);
    a = tt_fmt("eval '%s' --threads 1 --batch 1 --quiet", ck);
    rc = run(a, &out, &err);
    check("eval progress", " --quiet: none", rc == 0 && !err[0] && strstr(out, "eval: step"),
          out, err);
    CHECK(unsetenv("INGOT_TRAIN_TEST_PROGRESS_MS") == 0);
    free(out);
    free(err);
    free(a);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    bin = argv[1];
    dir = tt_tmpdir("subcmd-quiet");
    char *data = tt_fmt("%s/data", dir), *ck = tt_fmt("%s/ck", dir);
    uint32_t *ids = malloc((N_TRAIN + N_VAL) * sizeof(uint32_t));
    CHECK(ids);
    tt_markov_tokens(ids, N_TRAIN + N_VAL, VOCAB, 3);
    struct tt_dataset d = { .dir = data, .vocab = VOCAB, .tokenizer_hash = 3, .bos_id = -1,
                            .train = ids, .n_train = N_TRAIN, .val = ids + N_TRAIN,
                            .n_val = N_VAL, .doc_len = 64, .shard_docs = 8 };
    CHECK_OK(tt_write_dataset(&d));
    char *cmd = tt_fmt("'%s' --data '%s' --model tiny --layers 1 --dim 32 --seq-len 32 "
                       "--batch 4 --steps 2 --val-every 0 --threads 1 --quiet --ckpt-dir '%s'",
                       bin, data, ck);
    char *log = tt_fmt("%s/train.txt", dir);
    tt_run_ok(cmd, log);

    char *a = tt_fmt("eval '%s' --threads 1", ck);
    quiet_case("eval", a, "eval: step 2 of", "eval: the checkpoint's data:");
    free(a);
    a = tt_fmt("eval '%s' --threads 1 --json", ck);
    quiet_case("eval --json", a, "\"split\":\"val\"", "eval: the checkpoint's data:");
    free(a);
    a = tt_fmt("generate '%s' --prompt-ids '1 2 3' --tokens 4 --ids --threads 1", ck);
    quiet_case("generate", a, "1 2 3 ", "generate: prompt 3 tokens");
    free(a);
    /* export's result is the files: its summary line goes too */
    char *out, *err;
    a = tt_fmt("export '%s' --format safetensors --out '%s/st'", ck, dir);
    int rc = run(a, &out, &err);
    check("export", ": says it", rc == 0 && strstr(out, "exported "), out, err);
    free(out);
    free(err);
    free(a);
    a = tt_fmt("export '%s' --format safetensors --out '%s/st-quiet' --quiet", ck, dir);
    rc = run(a, &out, &err);
    char *st = tt_fmt("%s/st-quiet/model.safetensors", dir);
    check("export --quiet", ": nothing printed, the file written", rc == 0 && !out[0] &&
          !err[0] && access(st, F_OK) == 0, out, err);
    free(out);
    free(err);
    free(st);
    free(a);

    /* errors stay */
    a = tt_fmt("eval '%s' --quiet --data '%s/none'", ck, dir);
    quiet_error("eval --quiet, no such dataset: said, exit 1", a, 1, "ingot-train eval: ");
    free(a);
    a = tt_fmt("generate '%s/none' --quiet --prompt-ids '1'", dir);
    quiet_error("generate --quiet, no checkpoint: said, exit 1", a, 1, "ingot-train generate: ");
    free(a);
    a = tt_fmt("export '%s' --quiet --format bogus --out '%s/x'", ck, dir);
    quiet_error("export --quiet, bad --format: said, exit 2", a, 2, "--format bogus");
    free(a);

    /* --version: the main command's line */
    char *vout, *verr;
    CHECK(run("--version", &vout, &verr) == 0 && !strncmp(vout, "ingot-train ", 12));
    static const char *const subs[] = { "eval", "generate", "export" };
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        a = tt_fmt("%s --version", subs[i]);
        rc = run(a, &out, &err);
        check(subs[i], " --version: the version, exit 0", rc == 0 && !strcmp(out, vout) && !err[0], out, err);
        free(out);
        free(err);
        free(a);
    }
    eval_progress(ck, vout);
    free(vout);
    free(verr);
    free(ids);
    free(cmd);
    free(log);
    free(data);
    free(ck);
    tt_rmtree(dir);
    free(dir);
    return failures != 0;
}
