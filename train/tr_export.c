/* ingot-train export: command line, checkpoint and tokenizer loading. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "term_text.h"
#include "cli_num.h"
#include "dataset.h"
#include "fsutil.h"
#include "sig_util.h"
#include "ingot_err.h"
#include "spm_shim.h"
#include "tr_export.h"
#include "tr_export_fmt.h"
#include "tr_settings.h"

static const char usage[] =
    "usage: ingot-train export CKPT --format hf|llmc|safetensors --out DIR\n"
    "                          [options]\n"
    "\n"
    "Write a checkpoint's weights (CKPT: a ckpt-*.bin file, or a --ckpt-dir\n"
    "directory for its newest checkpoint) for other tools:\n"
    "  hf           DIR/config.json, model.safetensors, generation_config.json for\n"
    "               transformers: GPT2LMHeadModel (gpt2: padded vocabulary rows\n"
    "               removed, output head tied to wte, gelu_new) or LlamaForCausalLM\n"
    "               (llama: its own lm_head unless --tie-embeddings); and the\n"
    "               tokenizer: tokenizer.json (AutoTokenizer encodes and decodes as\n"
    "               SentencePiece), tokenizer.model and tokenizer_config.json\n"
    "               (docs/export.md)\n"
    "  llmc         DIR/model.bin in llm.c's gpt2_124M.bin layout (train_gpt2cu -e;\n"
    "               gpt2 only)\n"
    "  safetensors  DIR/model.safetensors: the model's tensors with Ingot's names\n"
    "               and shapes (gpt2: 16, llama: 9, lm_head left out when tied)\n"
    "\n"
    "options:\n"
    "  --out DIR         the output directory (created; not a dataset's or a\n"
    "                    training run's)\n"
    "  --data DIR        the dataset the model was trained on (for its tokenizer;\n"
    "                    default: the one the checkpoint's settings name, if still\n"
    "                    there)\n"
    "  --tokenizer FILE  the SentencePiece model (instead of --data)\n"
    "  --dtype fp32|bf16 llmc only: fp32 (version 3, default) or bf16 (version 5,\n"
    "                    what llm.c's default bf16 build loads)\n"
    "  --quiet           print errors only (no summary line, no notes)\n"
    "  --help            this text\n"
    "  --version         version, git revision and libraries\n"
    "The tokenizer (needed for hf unless the model was trained on --synthetic ids)\n"
    "must be the one the checkpoint was trained with: its hash is checked.\n"
    "\n"
    "exit status: 0 done, 1 error, 2 usage; a signal (SIGINT, SIGTERM, SIGHUP) ends\n"
    "it as usual (128+N), leaving no file half-written\n";

/* Neither --data nor --tokenizer: the training dataset the checkpoint's
 * settings section names, when it is still there and its tokenizer is the
 * checkpoint's; *dir gets it (malloc'd) or NULL, and why not into why. */
static void training_data(const char *section, uint64_t want_hash, char **dir, char *why,
                          size_t len)
{
    *dir = NULL;
    why[0] = '\0';
    if (!section)
        return;
    char *d = tr_settings_data_dir(section, 0);
    struct dataset *ds = NULL;
    if (!d)
        return;
    if (dataset_open(d, false, &ds))
        snprintf(why, len, "; the dataset it was trained on, %s, cannot be read: %s",
                 TERM_SHOW(d), ingot_errmsg());
    else if (want_hash && ds->manifest->tokenizer.hash != want_hash)
        snprintf(why, len, "; the dataset it was trained on, %s, now holds another tokenizer",
                 TERM_SHOW(d));
    else
        *dir = d;
    ingot_clear_err();
    dataset_close(ds);
    if (!*dir)
        free(d);
}

int tr_export_tokenizer(const char *data, const char *model, const char *settings,
                        uint64_t want_hash, bool quiet, struct ingot_spm **spm, char **used)
{
    struct dataset *ds = NULL;
    char *found = NULL;
    int err;
    *spm = NULL;
    if (used)
        *used = NULL;
    if (!model && !data) {
        char why[PATH_MAX + 160];
        training_data(settings, want_hash, &found, why, sizeof(why));
        if (!found)
            return ingot_fail(INGOT_E_USAGE, "no tokenizer: pass --data DIR (the training "
                              "dataset) or --tokenizer FILE.model%s", why);
        data = found;
    }
    if (model) {
        if ((err = ingot_spm_load(model, spm)))
            return err;
        if (used && !(*used = strdup(model)))
            err = ingot_oom("path", strlen(model));
    } else if (!(err = dataset_open(data, false, &ds))) {
        char *note = NULL;
        err = dataset_load_tokenizer(ds, NULL, spm, used, &note);
        if (note && !quiet)
            fprintf(stderr, "ingot-train: note: %s\n", note);
        free(note);
    }
    dataset_close(ds);
    if (!err && want_hash && ingot_spm_model_hash(*spm) != want_hash)
        err = ingot_fail(INGOT_E_MISMATCH, "%s: tokenizer hash %016" PRIx64 ", but the checkpoint "
                         "was trained with %016" PRIx64 "; pass the model it was trained with",
                         TERM_SHOW(model ? model : data), ingot_spm_model_hash(*spm), want_hash);
    if (err) {
        ingot_spm_free(*spm);
        *spm = NULL;
        if (used) {
            free(*used);
            *used = NULL;
        }
    }
    free(found);
    return err;
}

/* pread all of len bytes at off. */
static int read_exact(int fd, void *buf, size_t len, uint64_t off, const char *path)
{
    char *p = buf;
    while (len) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return ingot_fail(r < 0 ? -errno : INGOT_E_TRUNCATED, "%s: reading the weights: %s",
                              TERM_SHOW(path), r < 0 ? strerror(errno) : "file ends early");
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* Every weight finite: a NaN or an infinity (a hand-edited file whose
 * checksums were recomputed, or a run that diverged between its loss checks)
 * would make generate print noise, eval a loss of nan and export a broken
 * model, each with exit status 0. The message names the tensor. */
static int check_finite(const char *path, const struct tr_config *c, const float *p)
{
    size_t n = tr_param_count(c), i = 0;
    while (i < n && isfinite(p[i]))
        i++;
    if (i == n)
        return 0;
    int id = 0;
    while (id + 1 < tr_arch_num_params(c) && tr_param_offset(c, id + 1) <= i)
        id++;
    return ingot_fail(INGOT_E_CORRUPT, "%s: weight %zu of tensor %s is %g; the model is unusable "
                      "(training diverged, or the file was altered): use an earlier checkpoint",
                      TERM_SHOW(path), i - tr_param_offset(c, id), tr_param_name_cfg(c, id),
                      (double)p[i]);
}

static int load_once(const char *ckpt, struct tr_ckpt_state *st, float **params, char **used,
                     char **settings)
{
    char *path = NULL;
    int err, fd = -1;
    *params = NULL;
    if (settings)
        *settings = NULL;
    if ((err = tr_ckpt_resolve(ckpt, &path)))
        return err;
    if ((err = tr_ckpt_read_state(path, st)) || (err = tr_config_check(&st->cfg)))
        goto out;
    size_t bytes = tr_param_count(&st->cfg) * sizeof(float);
    if (!(*params = malloc(bytes))) {
        err = ingot_oom("checkpoint weights", bytes);
        goto out;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        err = ingot_fail(-errno, "%s: %s", TERM_SHOW(path), strerror(errno));
    else
        err = read_exact(fd, *params, bytes, TR_CKPT_HEADER_SIZE, path);
    if (!err)
        err = check_finite(path, &st->cfg, *params);
    if (!err && settings)
        err = tr_ckpt_read_settings(path, settings);
out:
    if (fd >= 0)
        close(fd);
    if (err) {
        free(*params);
        *params = NULL;
        if (settings) {
            free(*settings);
            *settings = NULL;
        }
    }
    if (!err && used)
        *used = path;
    else
        free(path);
    return err;
}

int tr_export_load_run(const char *ckpt, struct tr_ckpt_state *st, float **params, char **used,
                       char **settings)
{
    /* A directory names its newest checkpoint, which a run still training
     * there with --ckpt-keep removes once it has saved a newer one: a file
     * gone while read is taken again from the directory (a few times, not
     * for ever); it failed with 'ckpt-N.bin: No such file or directory'. */
    int err = load_once(ckpt, st, params, used, settings);
    for (int again = 0; err == -ENOENT && again < 8 && fs_is_dir(ckpt) == 1; again++) {
        ingot_clear_err();
        err = load_once(ckpt, st, params, used, settings);
    }
    return err;
}

int tr_export_load(const char *ckpt, struct tr_ckpt_state *st, float **params, char **used)
{
    return tr_export_load_run(ckpt, st, params, used, NULL);
}

/* Every file an export writes, and the formats whose set it belongs to.
 * Each is staged under fs_temp_path(DIR/NAME) (tr_export_fmt.h) and renamed
 * into place by commit_staged() once the whole set is written. A signal
 * during the writes runs the handler below, which removes the temp files
 * (each as large as what it was writing) and dies of the signal as it
 * would have; a failure removes them too (drop_staged). config.json comes
 * last: commit_staged() puts it in place after everything else. */
enum { FMT_HF = 1, FMT_LLMC = 2, FMT_RAW = 4 };
static const struct export_file {
    const char *name;
    unsigned formats;
} export_files[] = {
    { "model.safetensors", FMT_HF | FMT_RAW }, { "model.bin", FMT_LLMC },
    { "generation_config.json", FMT_HF }, { "tokenizer.json", FMT_HF },
    { "tokenizer_config.json", FMT_HF }, { "tokenizer.model", FMT_HF },
    { "spiece.model", FMT_HF },   /* written by exports before tokenizer.json */
    { "config.json", FMT_HF },
};
enum { N_EXPORT_FILES = sizeof(export_files) / sizeof(export_files[0]) };
static const int export_signals[] = { SIGINT, SIGTERM, SIGHUP };
enum { N_EXPORT_SIGNALS = sizeof(export_signals) / sizeof(export_signals[0]) };
static char *export_tmp[N_EXPORT_FILES];

/* After a failed export into a folder it made itself: its files, whole ones
 * included (nothing else can be in that folder). */
static void remove_written(const char *dir)
{
    for (int i = 0; i < N_EXPORT_FILES; i++) {
        char *p = tr_export_path(dir, export_files[i].name);
        if (p)
            unlink(p);
        free(p);
    }
}

/* No directory where the format puts (or removes) a file: the whole export
 * was written, then its rename failed, and the message's "run the same
 * command again" failed the same way every time. Before anything is
 * written; a usage error, as an --out that is a file. */
static int check_names_free(const char *dir, unsigned format)
{
    for (int i = 0; i < N_EXPORT_FILES; i++) {
        if (!(export_files[i].formats & format))
            continue;
        char *p = tr_export_path(dir, export_files[i].name);
        struct stat sb;
        int err = p ? 0 : -ENOMEM;
        if (p && lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            err = ingot_fail(INGOT_E_USAGE, "--out %s: %s is a directory, where the export "
                             "puts (or removes) a file of that name; move it away, or name "
                             "another directory", TERM_SHOW(dir), TERM_SHOW(p));
        free(p);
        if (err)
            return err;
    }
    return 0;
}

/* The staged files of this export (the signal handler's too: unlink only). */
static void drop_staged(void)
{
    for (int i = 0; i < N_EXPORT_FILES; i++)
        if (export_tmp[i])
            unlink(export_tmp[i]);
}

/* File i of export_files in place: its staged file when staged, else the
 * earlier one removed (none there is fine). */
static int put_in_place(const char *dir, int i, bool staged)
{
    char *path = tr_export_path(dir, export_files[i].name);
    int err = 0;
    if (!path)
        err = -ENOMEM;
    else if (staged)
        err = fs_stage_commit(path);
    else if (unlink(path) != 0 && errno != ENOENT)
        err = ingot_fail(-errno, "%s: cannot remove the file of an earlier export: %s",
                         TERM_SHOW(path), strerror(errno));
    free(path);
    return err;
}

/* Put the staged set of the format's files in place. An earlier export's
 * config.json (what loaders open first) goes before anything is replaced
 * and the new one comes last, so a process stopped in between leaves a
 * folder that does not load, not new weights under the old shape. Every
 * other file of the set is replaced by its staged one, or removed when
 * this export staged none: spiece.model of older exports, and for a model
 * without a tokenizer (synthetic ids) the earlier export's tokenizer files,
 * which AutoTokenizer would load as the model's. */
static int commit_staged(const char *dir, unsigned format)
{
    const int cfg = N_EXPORT_FILES - 1;   /* config.json */
    int err = export_files[cfg].formats & format ? put_in_place(dir, cfg, false) : 0;
    bool touched = !err;   /* an earlier file may be gone: say so on a failure */
    for (int i = 0; i < N_EXPORT_FILES && !err; i++)
        if (export_files[i].formats & format)
            err = put_in_place(dir, i, access(export_tmp[i], F_OK) == 0);
    if (!err)
        return fs_fsync_dir(dir);
    if (!touched)
        return err;
    return ingot_fail(err, "%s; the export in %s is incomplete and does not load: run the "
                      "same command again", ingot_errmsg_for(err), TERM_SHOW(dir));
}

/* The folders of --out this export made (fs_mkdir_p_made's list): a signal
 * removes them too once empty, as a failed export does (rmdir is
 * async-signal-safe; a folder holding anything stays). */
static char **export_made;

static void on_export_signal(int sig)
{
    drop_staged();
    fs_rmdir_made(export_made);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void free_tmp_paths(void)
{
    for (int i = 0; i < N_EXPORT_FILES; i++) {
        free(export_tmp[i]);
        export_tmp[i] = NULL;
    }
}

/* Install the handler (not over an ignored signal: nohup's SIGHUP) with the
 * temp paths of dir; old[] gets the handlers that unguard_signals()
 * restores. Nothing to undo when it fails. */
static int guard_signals(const char *dir, struct sigaction old[N_EXPORT_SIGNALS])
{
    for (int i = 0; i < N_EXPORT_FILES; i++) {
        char *p = tr_export_path(dir, export_files[i].name);
        export_tmp[i] = p ? fs_temp_path(p) : NULL;
        free(p);
        if (!export_tmp[i]) {
            free_tmp_paths();
            return ingot_oom("temp file paths", strlen(dir) + 64);
        }
    }
    for (int i = 0; i < N_EXPORT_SIGNALS; i++)
        sig_install_unless_ignored(export_signals[i], on_export_signal, &old[i]);
    return 0;
}

/* The temp files of an export killed outright (SIGKILL, a crash, the
 * machine's end: no handler ran), each as large as what it was writing, are
 * removed when their writer is gone: this names their writer. Only the
 * names an export writes. */
static long export_temp_owner(const char *name)
{
    long pid = -1;
    for (int i = 0; i < N_EXPORT_FILES && pid < 0; i++)
        pid = fs_temp_pid(name, export_files[i].name);
    return pid;
}

static void unguard_signals(const struct sigaction old[N_EXPORT_SIGNALS])
{
    for (int i = 0; i < N_EXPORT_SIGNALS; i++)
        sigaction(export_signals[i], &old[i], NULL);
    free_tmp_paths();
}

enum { O_FORMAT = 256, O_OUT, O_DATA, O_TOKENIZER, O_DTYPE, O_HELP, O_QUIET, O_VERSION };

static int parse(int argc, char **argv, struct tr_export_opts *o)
{
    static const struct option longs[] = {
        { "format", required_argument, NULL, O_FORMAT },
        { "out", required_argument, NULL, O_OUT },
        { "data", required_argument, NULL, O_DATA },
        { "tokenizer", required_argument, NULL, O_TOKENIZER },
        { "dtype", required_argument, NULL, O_DTYPE },
        { "help", no_argument, NULL, O_HELP },
        { "quiet", no_argument, NULL, O_QUIET },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof(*o));
    optind = 1;
    opterr = 0;
    int c, err;
    int idx;
    while ((idx = -1, c = getopt_long(argc, argv, ":h", longs, &idx)) != -1) {
        if (idx >= 0 && optarg && (err = cli_check_value(longs[idx].name, optarg)))
            return err;
        switch (c) {
        case O_FORMAT: o->format = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_TOKENIZER: o->tokenizer = optarg; break;
        case O_DTYPE:
            if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16"))
                return ingot_fail(INGOT_E_USAGE, "--dtype %s: expected fp32 or bf16",
                                  TERM_SHOW(optarg));
            o->bf16 = !strcmp(optarg, "bf16");
            break;
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
    if ((err = tr_cli_ckpt(argc, argv, &o->ckpt)))
        return err;
    if (!o->format || !o->out)
        return ingot_fail(INGOT_E_USAGE, "--format hf|llmc|safetensors and --out DIR "
                          "are required");
    if (strcmp(o->format, "hf") && strcmp(o->format, "llmc") && strcmp(o->format, "safetensors"))
        return ingot_fail(INGOT_E_USAGE, "--format %s: expected hf, llmc or safetensors",
                          TERM_SHOW(o->format));
    if (o->bf16 && strcmp(o->format, "llmc"))
        return ingot_fail(INGOT_E_USAGE, "--dtype bf16 is for --format llmc only");
    return 0;
}

int tr_export_main(int argc, char **argv)
{
    struct tr_export_opts o;
    int err = parse(argc, argv, &o);
    if (err)
        return err;
    struct tr_ckpt_state st;
    float *params = NULL;
    char *path = NULL, *tok_path = NULL, **made = NULL, *settings = NULL;
    bool out_made = false;   /* --out itself made by this export */
    bool done = false;       /* the export is in place: no failure after it removes it */
    struct ingot_spm *spm = NULL;
    if ((err = tr_export_load_run(o.ckpt, &st, &params, &path, &settings)))
        goto out;
    bool want_tok = !strcmp(o.format, "hf") && !(st.flags & TR_CKPT_FLAG_SYNTHETIC);
    if ((want_tok || o.data || o.tokenizer) &&
        (err = tr_export_tokenizer(o.data, o.tokenizer, settings, st.tokenizer_hash, o.quiet,
                                   &spm, &tok_path)))
        goto out;
    /* the tokenizer ships with the hf folder: a larger one than the model's
     * vocabulary (any --tokenizer passes a synthetic checkpoint's hash)
     * encodes text to ids past the embedding table */
    if (spm && !strcmp(o.format, "hf") && ingot_spm_vocab_size(spm) > (uint32_t)st.cfg.vocab) {
        char tn[1024];
        err = ingot_fail(INGOT_E_MISMATCH, "%s: the tokenizer has %" PRIu32 " pieces, more than "
                         "the model's vocabulary of %d: its ids would reach past the embedding "
                         "table; pass the tokenizer the checkpoint was trained with",
                         term_text(tok_path, tn, sizeof(tn)),
                         ingot_spm_vocab_size(spm), st.cfg.vocab);
        goto out;
    }
    /* not into a dataset: hf's tokenizer.model would replace the dataset's */
    if (fs_dir_holds(o.out, INGOT_MANIFEST_NAME) == 1) {
        err = ingot_fail(INGOT_E_USAGE, "--out %s: a dataset directory (it holds "
                         "manifest.json; the export's tokenizer.model would replace the "
                         "dataset's); give another directory", TERM_SHOW(o.out));
        goto out;
    }
    /* not among the checkpoints: hf's config.json would replace the run's */
    if (fs_is_entry_of(path, o.out)) {
        err = ingot_fail(INGOT_E_USAGE, "--out %s: the checkpoint's own directory (the "
                         "export's config.json would replace the run's); give another "
                         "directory", TERM_SHOW(o.out));
        goto out;
    }
    /* nor another run's directory (the same reason): its checkpoints, or
     * before the first one its lock file */
    char *other = NULL;
    if (fs_is_dir(o.out) == 1 && (err = tr_ckpt_find_latest(o.out, &other)))
        goto out;
    if (other || fs_dir_holds(o.out, TR_CKPT_LOCK_NAME) == 1)
        err = ingot_fail(INGOT_E_USAGE, "--out %s: a training run's directory (it holds %s; the "
                         "export's config.json would replace the run's); give another "
                         "directory", TERM_SHOW(o.out),
                         other ? TERM_SHOW(other) : TR_CKPT_LOCK_NAME);
    free(other);
    if (err)
        goto out;
    /* Ingot's tensor names into an hf folder: its config.json and tokenizer would
     * stay, over weights of other names, and transformers loads that with random
     * weights in place of the missing ones and a mere report */
    if (!strcmp(o.format, "safetensors") && fs_dir_holds(o.out, "config.json") == 1) {
        err = ingot_fail(INGOT_E_USAGE, "--out %s holds an hf export (config.json): --format "
                         "safetensors writes Ingot's tensor names, which would replace its "
                         "model.safetensors under its config; give another directory (or "
                         "--format hf to replace that export)", TERM_SHOW(o.out));
        goto out;
    }
    struct stat ob;
    if (stat(o.out, &ob) == 0 && !S_ISDIR(ob.st_mode)) {   /* a command-line slip: exit 2 */
        err = ingot_fail(INGOT_E_USAGE, "--out %s: exists and is not a directory; name a "
                         "directory for the exported files", TERM_SHOW(o.out));
        goto out;
    }
    /* a symbolic link to nothing: the same slip (it failed later, exit 1,
     * as "exists and is not a directory" without the option or a hint) */
    if (stat(o.out, &ob) != 0 && errno == ENOENT && lstat(o.out, &ob) == 0 &&
        S_ISLNK(ob.st_mode)) {
        err = ingot_fail(INGOT_E_USAGE, "--out %s: a symbolic link to something that does not "
                         "exist; create the directory it points to, or name another directory",
                         TERM_SHOW(o.out));
        goto out;
    }
    unsigned format = !strcmp(o.format, "hf") ? FMT_HF : !strcmp(o.format, "llmc") ? FMT_LLMC
                                                                                    : FMT_RAW;
    if ((err = check_names_free(o.out, format)))
        goto out;
    if ((err = fs_mkdir_p_made(o.out, &made, &out_made)))
        goto out;
    int stale = 0;
    if ((err = fs_remove_stale_temps(o.out, export_temp_owner, false, "--out", "export",
                                     &stale)))
        goto out;
    if (stale && !o.quiet)
        printf("removed %d stale temp file%s of a killed export in %s\n", stale,
               stale == 1 ? "" : "s", TERM_SHOW(o.out));
    struct sigaction old[N_EXPORT_SIGNALS];
    export_made = made;
    if ((err = guard_signals(o.out, old)))
        goto out;
    struct tr_export_src src = { .path = path, .st = &st, .params = params, .spm = spm,
                                 .tokenizer_path = tok_path };
    if (format == FMT_HF)
        err = tr_export_hf(&src, o.out);
    else if (format == FMT_LLMC)
        err = tr_export_llmc(&src, o.out, o.bf16);
    else
        err = tr_export_raw(&src, o.out);
    if (!err)
        err = commit_staged(o.out, format);
    done = !err;
    if (err)
        drop_staged();
    unguard_signals(old);
    export_made = NULL;
    char kv[48] = "";
    if (st.cfg.arch == TR_ARCH_LLAMA)
        snprintf(kv, sizeof(kv), " KV%d F%d%s", st.cfg.n_kv_head, st.cfg.ffn_dim,
                 st.cfg.tie_embeddings ? " tied" : "");
    if (!err && !o.quiet)
        printf("exported %s (step %" PRIu64 ", %s L%d H%d%s C%d T%d V%d) as %s to %s\n",
               TERM_SHOW(path), st.step, tr_arch_name(st.cfg.arch), st.cfg.n_layer,
               st.cfg.n_head, kv, st.cfg.n_embd, st.cfg.seq_len, st.cfg.vocab, o.format,
               TERM_SHOW(o.out));
    int e = err ? 0 : fs_flush(stdout);
    if (e)
        /* -EIO, not the write's ENOSPC: the caller's "the disk is full ... run
         * the same command again" would contradict "complete" */
        err = ingot_fail(-EIO, "standard output: cannot write the summary: %s (a full disk or "
                         "a closed pipe?); the export in %s is complete", strerror(-e),
                         TERM_SHOW(o.out));
out:
    /* a folder this export made holds only what it wrote: those files go too
     * (a full disk left the model-sized weights file there, the space the
     * message told the user to free); then the folders, once empty. Not
     * once the export is in place: a summary that standard output did not
     * take (a full disk, a closed pipe) removed the whole export the
     * message called complete. */
    if (err && !done && out_made)
        remove_written(o.out);
    if (err && !done)
        fs_rmdir_made(made);
    fs_free_list(made);
    free(params);
    free(path);
    free(settings);
    free(tok_path);
    ingot_spm_free(spm);
    return err;
}
