/* The conversion driver: inputs, tokenizer, options hash, resume state,
 * pipeline, finish, report, and the clean-up each way of ending needs. */
#include "pt_convert.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_num.h"
#include "dataset.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "pt_hooks.h"
#include "pt_lock.h"
#include "pt_outdir.h"
#include "pt_pipeline.h"
#include "skip_reason.h"
#include "pt_report.h"
#include "pt_resume.h"
#include "json_term.h"
#include "shard_reader.h"
#include "spm_shim.h"
#include "term_text.h"

struct conv {
    const struct pt_opts *o;
    struct pt_inputs inputs;
    size_t first, end;              /* this part's files */
    ingot_spm *spm;
    spe_model *enc;                 /* Ingot's encoder; NULL: libsentencepiece */
    struct pt_json_path path;
    struct pt_tok_cfg tok;
    struct pt_writer_cfg wcfg;
    uint64_t options_hash, merge_hash, inputs_hash;
    uint64_t mtimes_hash;           /* the inputs' modification times (resume only) */
    char *options_text;             /* "--key value" lines (options_hash) */
    char *state_path;
    char *model_abs;                /* --model made absolute (tokenizer.source) */
};

/* Append printf output to a growing string (for the options text). */
static int addf(char **s, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int addf(char **s, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = realloc(*s, *len + (size_t)n + 1);
    if (!p)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(p + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *s = p;
    *len += (size_t)n;
    return 0;
}

static const char *const txt_doc_names[] = { "file", "paragraph", "line" };

/* "--key value" lines of everything that changes the output, and nothing
 * that does not (threads, --quiet, --json, --max-skip-fraction,
 * --allow-damaged-inputs): a resume must use the same, and a refused rerun
 * names the lines that differ. */
static int options_text(const struct conv *c, char **s, size_t *len)
{
    const struct pt_opts *o = c->o;
    char vf[32] = "none", vd[32] = "none", bos[16] = "none", eos[16] = "none";
    if (o->val_mode == PT_VAL_FRACTION)
        snprintf(vf, sizeof(vf), "%.17g", o->val_fraction);
    if (o->val_mode == PT_VAL_DOCS)
        snprintf(vd, sizeof(vd), "%" PRIu64, o->val_docs);
    if (c->tok.bos >= 0)
        snprintf(bos, sizeof(bos), "%d", c->tok.bos);
    if (c->tok.eos >= 0)
        snprintf(eos, sizeof(eos), "%d", c->tok.eos);
    int ret = addf(s, len, "--text-key %s\n--txt-doc %s\n--shard-tokens %" PRIu64 "\n"
                   "--val-fraction %s\n--val-docs %s\n--bos %s\n--eos %s\n--on-error %s\n"
                   "--invalid-utf8 %s\n--max-record-bytes %" PRIu64 "\n", o->text_key,
                   txt_doc_names[o->txt_doc], o->shard_tokens, vf, vd, bos, eos,
                   o->on_error_fail ? "fail" : "skip", o->invalid_utf8_skip ? "skip" : "replace",
                   o->max_record);
    /* Only where standard input is read, so that older states still match. */
    for (size_t i = 0; i < c->inputs.n && !ret; i++)
        if (c->inputs.v[i].is_stdin)
            ret = addf(s, len, "--stdin-format %s\n",
                       o->stdin_format == PT_FMT_TEXT ? "text" : "jsonl");
    return ret;
}

/* The options hash (and its parts, kept for the state): model, options,
 * inputs; the merge hash leaves --part out. */
static int options_hash(struct conv *c)
{
    const struct pt_opts *o = c->o;
    char *s = NULL, *in = NULL;
    size_t len = 0, in_len = 0;
    int ret = addf(&s, &len, "ingot-pretok options v2\nmodel %016" PRIx64 "\n",
                   ingot_spm_model_hash(c->spm));
    size_t opt_at = len;
    if (!ret)
        ret = options_text(c, &s, &len);
    if (!ret) {   /* kept as JSON text (the hash is of the bytes as given) */
        char *t = strndup(s + opt_at, len - opt_at);
        if (!t || !(c->options_text = json_term_escape(t)))
            ret = -ENOMEM;
        free(t);
    }
    for (size_t i = 0; i < c->inputs.n && !ret; i++)
        ret = addf(&in, &in_len, "%s\t%" PRIu64 "\n", c->inputs.v[i].path, c->inputs.v[i].size);
    if (!ret && in_len)
        ret = addf(&s, &len, "%s", in);
    if (!ret)
        c->merge_hash = ingot_xxh3(s, len);
    if (!ret)
        ret = addf(&s, &len, "part %u/%u\n", o->part_k, o->part_n);
    if (!ret) {
        c->options_hash = ingot_xxh3(s, len);
        c->inputs_hash = ingot_xxh3(in ? in : "", in_len);
    }
    /* Apart from the options hash: merge compares parts converted on other
     * machines, whose copies of the corpus have other times. */
    int64_t *t = !ret ? malloc((c->inputs.n + 1) * sizeof(*t)) : NULL;
    if (t) {
        for (size_t i = 0; i < c->inputs.n; i++)
            t[i] = c->inputs.v[i].mtime_ns;
        const uint64_t mt = ingot_xxh3(t, c->inputs.n * sizeof(*t));
        c->mtimes_hash = mt ? mt : 1;   /* 0 means "not recorded" in a state */
        free(t);
    } else if (!ret) {
        ret = -ENOMEM;
    }
    free(s);
    free(in);
    return ret ? ingot_oom("the options text", len + in_len + 4096) : 0;
}

/* The command line in one string, for the state (messages only). */
static char *command_line(const struct pt_opts *o)
{
    char *s = NULL;
    size_t len = 0;
    for (int i = 0; i < o->argc; i++)
        if (addf(&s, &len, i ? (strpbrk(o->argv[i], " \t'\"") ? " '%s'" : " %s") : "%s",
                 o->argv[i])) {
            free(s);
            return NULL;
        }
    char *e = s ? json_term_escape(s) : NULL;   /* JSON text: any bytes of a name as \xHH */
    free(s);
    return e;
}

static int setup_tokenizer(struct conv *c)
{
    const struct pt_opts *o = c->o;
    int ret = ingot_spm_load(o->model, &c->spm);
    if (ret)
        return ret;
    /* Ingot's encoder gives libsentencepiece's ids; a model it does not
     * take (-ENOTSUP) is encoded by libsentencepiece, said once, never
     * different ids. A model it finds damaged is refused: libsentencepiece
     * loaded it, but would read it unchecked. */
    if (!o->encoder_spm && (ret = spe_load(o->model, &c->enc))) {
        if (ret != -ENOTSUP)
            return ret;
        fprintf(stderr, "ingot-pretok: note: %s; encoding with libsentencepiece\n",
                ingot_errmsg_for(ret));
        c->enc = NULL;
    }
    uint32_t vocab = ingot_spm_vocab_size(c->spm);
    int32_t bos = ingot_spm_bos_id(c->spm), eos = ingot_spm_eos_id(c->spm);
    /* Defaults: BOS before each document when the model has one; EOS only
     * when it has an EOS but no BOS (documents must stay separated). */
    int want_bos = o->bos >= 0 ? o->bos : bos >= 0;
    int want_eos = o->eos >= 0 ? o->eos : (bos < 0 && eos >= 0);
    char tm[1024];   /* the --model path, as ingot_spm_load shows it */
    if (want_bos && bos < 0)
        return ingot_fail(INGOT_E_USAGE, "--bos: %s has no BOS piece (train it with "
                          "--bos_id=N, or use --no-bos)", term_text(o->model, tm, sizeof(tm)));
    if (want_eos && eos < 0)
        return ingot_fail(INGOT_E_USAGE, "--eos: %s has no EOS piece (train it with "
                          "--eos_id=N, or use --no-eos)", term_text(o->model, tm, sizeof(tm)));
    /* A model whose trainer_spec names one piece for both: documents would
     * be framed by one token, a start not told from an end. */
    if (want_bos && want_eos && bos == eos) {
        char tp[128];
        return ingot_fail(INGOT_E_USAGE, "--bos and --eos: %s gives BOS and EOS the same id, %d "
                          "(piece %s), so a document's end could not be told from the next one's "
                          "start; use --no-bos or --no-eos, or retrain with distinct "
                          "--bos_piece and --eos_piece", term_text(o->model, tm, sizeof(tm)), bos,
                          term_text(ingot_spm_id_to_piece(c->spm, (uint32_t)bos), tp, sizeof(tp)));
    }
    c->tok = (struct pt_tok_cfg){
        .spm = c->spm, .enc = c->enc, .path = &c->path, .invalid_utf8_skip = o->invalid_utf8_skip,
        .bos = want_bos ? bos : -1, .eos = want_eos ? eos : -1, .vocab_size = vocab,
    };
    struct shard_writer_opts *b = &c->wcfg.base;
    b->token_width = vocab <= 65536 ? 2 : 4;
    b->vocab_size = vocab;
    b->bos_id = bos;
    b->eos_id = eos;
    b->pad_id = ingot_spm_pad_id(c->spm);
    b->unk_id = ingot_spm_unk_id(c->spm);
    b->tokenizer_type = ingot_spm_model_type(c->spm);
    b->tokenizer_hash = ingot_spm_model_hash(c->spm);
    /* The manifest names the copy inside the dataset (portable), and keeps
     * the model given as the source, absolute: a relative path would be
     * looked up from wherever the dataset is read. */
    if (!(c->model_abs = fs_abs_path(o->model)))
        return ingot_oom("the model's path", strlen(o->model) + PATH_MAX);
    c->wcfg.tokenizer = (struct manifest_tokenizer){
        .file = INGOT_TOKENIZER_NAME, .source = c->model_abs, .hash = b->tokenizer_hash,
        .type = (char *)ingot_tokenizer_type_name(b->tokenizer_type), .vocab_size = vocab,
        .bos_id = bos, .eos_id = eos, .pad_id = b->pad_id, .unk_id = b->unk_id,
    };
    return 0;
}

/* Each input's modification time into the state, so that a rerun names the
 * first input that changed (the hash alone said only that one did). */
static int keep_mtimes(const struct conv *c, struct pt_state *st)
{
    free(st->mtimes);
    st->n_mtimes = 0;
    if (c->inputs.n && !(st->mtimes = malloc(c->inputs.n * sizeof(*st->mtimes))))
        return ingot_oom("the inputs' modification times", c->inputs.n * sizeof(*st->mtimes));
    for (size_t i = 0; i < c->inputs.n; i++)
        st->mtimes[i] = c->inputs.v[i].mtime_ns;
    st->n_mtimes = c->inputs.n;
    return 0;
}

/* A fresh state for this run (nothing finished yet). */
static int fresh_state(const struct conv *c, struct pt_state *st)
{
    const struct pt_opts *o = c->o;
    memset(st, 0, sizeof(*st));
    if (pt_counts_init(&st->counts, c->inputs.n))
        return ingot_oom("the counters", c->inputs.n * sizeof(struct pt_file_counts));
    st->options_hash = c->options_hash;
    st->merge_hash = c->merge_hash;
    st->model_hash = ingot_spm_model_hash(c->spm);
    st->inputs_hash = c->inputs_hash;
    st->mtimes_hash = c->mtimes_hash;
    st->part_k = o->part_k;
    st->part_n = o->part_n;
    st->options_text = strdup(c->options_text);
    st->command_line = command_line(o);
    if (!st->options_text || !st->command_line)
        return ingot_oom("the resume state's strings", strlen(c->options_text) + 4096);
    int ret = keep_mtimes(c, st);
    if (ret)
        return ret;
    struct pt_pos start = { (uint32_t)c->first, 0 };
    st->persisted[0] = st->persisted[1] = st->counted_until = start;
    return 0;
}

/* A state made with other settings: say what changed. */
static int refuse_rerun(const struct conv *c, const struct pt_state *st)
{
    const char **names = malloc((c->inputs.n + 1) * sizeof(*names));
    uint64_t *sizes = malloc((c->inputs.n + 1) * sizeof(*sizes));
    int64_t *mtimes = malloc((c->inputs.n + 1) * sizeof(*mtimes));
    int ret;
    if (!names || !sizes || !mtimes) {
        ret = ingot_oom("the input list for the rerun message", c->inputs.n * 24);
    } else {
        for (size_t i = 0; i < c->inputs.n; i++) {
            names[i] = c->inputs.v[i].path;
            sizes[i] = c->inputs.v[i].size;
            mtimes[i] = c->inputs.v[i].mtime_ns;
        }
        struct pt_run_id now = {
            .options_hash = c->options_hash, .model_hash = ingot_spm_model_hash(c->spm),
            .inputs_hash = c->inputs_hash, .mtimes_hash = c->mtimes_hash,
            .options_text = c->options_text,
            .model_path = c->o->model, .input_names = names, .input_sizes = sizes,
            .input_mtimes = mtimes, .n_inputs = c->inputs.n, .part_k = c->o->part_k,
            .part_n = c->o->part_n,
        };
        ret = pt_resume_mismatch(c->o->out, st, &now);
    }
    free(names);
    free(sizes);
    free(mtimes);
    return ret;
}

/* --on-error fail and "no document": leave no shard and no manifest. */
static void remove_outputs(struct conv *c, const struct pt_state *st)
{
    for (size_t i = 0; i < st->n_shards; i++) {
        char *p = fs_path_join(c->o->out, st->shards[i].file);
        if (p)
            unlink(p);
        free(p);
    }
    char *m = fs_path_join(c->o->out, INGOT_MANIFEST_NAME);
    if (m)
        unlink(m);
    free(m);
    char *tk = fs_path_join(c->o->out, INGOT_TOKENIZER_NAME);
    if (tk)
        unlink(tk);
    free(tk);
    unlink(c->state_path);
    fs_fsync_dir(c->o->out);
}

/* The first damaged input of the part, for the one-line message. */
static size_t first_damaged(const struct pt_report *rep)
{
    for (size_t i = rep->part_first; i < rep->part_end; i++)
        if (pt_counts_damage_reason(&rep->st->counts, i) >= 0)
            return i;
    return rep->part_end;
}

/* The end of a finished conversion under --on-error skip: damaged input
 * files (unless --allow-damaged-inputs) and losing more than
 * --max-skip-fraction of the records (one wrong --text-key can lose them
 * all) fail the run, after the dataset was written completely; the message
 * says how to accept it. Damaged files are judged on their own, not as
 * records of the fraction: a file cut in half loses far more than one. */
static int check_end(const struct pt_opts *o, const struct pt_report *rep)
{
    const struct pt_counts *c = &rep->st->counts;
    uint64_t skipped = 0, docs = c->docs[0] + c->docs[1], damaged_docs = 0;
    for (int k = 0; k < SKIP_R__COUNT; k++)
        if (skip_reason_is_skip(k) && !skip_reason_is_damage(k))
            skipped += c->reason[k];
    double share = skip_share(skipped, docs);
    bool too_many = share > o->max_skip_fraction;
    size_t nd = o->allow_damaged ? 0 : pt_counts_damaged_files(c, rep->part_first,
                                                                 rep->part_end);
    if (!too_many && !nd)
        return 0;
    char accept[96];
    snprintf(accept, sizeof(accept), "%s%s", nd ? " --allow-damaged-inputs" : "",
             too_many ? " --max-skip-fraction " : "");
    if (too_many)
        snprintf(accept + strlen(accept), sizeof(accept) - strlen(accept), "%.4g",
                 skip_accept_fraction(share));
    char skips[512] = "", to[1024], tf[1024];   /* --out and an input, as term_text shows them */
    term_text(rep->out_dir, to, sizeof(to));
    if (too_many)
        snprintf(skips, sizeof(skips), "%s%" PRIu64 " of %" PRIu64 " record%s (%.2f%%) %s "
                 "skipped, more than --max-skip-fraction %g allows (reasons and first cases in "
                 "the report; --on-error fail stops at the first)", nd ? "; and " : "", skipped,
                 skipped + docs, skipped + docs == 1 ? "" : "s", 100.0 * share,
                 skipped == 1 ? "was" : "were", o->max_skip_fraction);
    if (!nd)
        return ingot_fail(INGOT_E_INPUT, "%s. The dataset in %s is complete and consistent "
                          "(%" PRIu64 " document%s). If these skips are expected, accept it: "
                          "run the same command with%s (it finishes at once); else fix the "
                          "inputs or options (e.g. --text-key) and convert into a new --out",
                          skips, to, docs, docs == 1 ? "" : "s", accept);
    /* Every damaged file is named: in the report, or here under --quiet. */
    if (o->quiet) {
        fprintf(stderr, "ingot-pretok: damaged input files:\n");
        pt_report_print_damaged(stderr, rep, "  ");
    }
    for (size_t i = rep->part_first; i < rep->part_end; i++)
        if (pt_counts_damage_reason(c, i) >= 0)
            damaged_docs += c->file[i].docs;
    size_t f = first_damaged(rep);
    return ingot_fail(INGOT_E_INPUT, "%zu input file%s damaged or unreadable (%s: %s%s; "
                      "listed above): what %s after the damage is not in the dataset%s. The "
                      "dataset in %s is complete and consistent with what could be read (%"
                      PRIu64 " document%s, %" PRIu64 " from the damaged files). Accept the loss: "
                      "run the same command with%s (it finishes at once); or repair the files "
                      "or download them again and convert into a new --out (a rerun into this "
                      "one refuses inputs whose size or time changed)", nd,
                      nd == 1 ? " is" : "s are", term_text(rep->inputs->v[f].path, tf, sizeof(tf)),
                      skip_reason_name(pt_counts_damage_reason(c, f)), nd > 1 ? ", ..." : "",
                      nd == 1 ? "it held" : "they held", skips, to, docs, docs == 1 ? "" : "s",
                      damaged_docs, accept);
}

/* The end of a finished conversion, this run's or an earlier one's: the
 * report, the unknown-token warning and the skip check. */
static int report_done(const struct conv *c, const struct pt_report *rep)
{
    const struct pt_opts *o = c->o;
    if (!o->quiet)
        pt_report_print(stderr, rep);
    pt_report_warn_unk(stderr, rep);
    int e = o->json ? pt_report_json(stdout, rep) : 0;
    if (e == -ENOMEM)
        return ingot_oom("the --json report", 4096);
    char to[1024];
    if (e)
        return ingot_fail(e, "standard output: cannot write the --json report: %s (a full disk "
                          "or a closed pipe?); the dataset in %s is complete: the same command "
                          "prints the report again", strerror(-e),
                          term_text(rep->out_dir, to, sizeof(to)));
    return check_end(o, rep);
}

/* Seconds between the plain progress lines when stderr is not a terminal:
 * INGOT_PRETOK_PROGRESS_S (default 30; 0 turns them off). */
static double progress_log_period(void)
{
    const char *e = getenv("INGOT_PRETOK_PROGRESS_S");
    char *end;
    double s = e && *e ? strtod(e, &end) : 30.0;
    return e && *e && (*end || !(s >= 0.0) || s > 1e9) ? 30.0 : s;
}

static size_t index_of_file(const struct conv *c, uint32_t global)
{
    return global < c->first ? c->first : global > c->end ? c->end : global;
}

/* The manifest lists every input (a part's too, so --part does not help),
 * and its readers take at most MANIFEST_MAX_BYTES: inputs whose list alone
 * would fill three quarters of that are refused before anything is read,
 * rather than a conversion of days ending in a dataset no reader opens.
 * An entry takes about 150 bytes besides its name. */
static int check_manifest_room(const struct conv *c)
{
    uint64_t est = 0, cap = MANIFEST_MAX_BYTES;
    long hook = pt_hook_pos("INGOT_PRETOK_TEST_MANIFEST_MAX");
    if (hook)
        cap = (uint64_t)hook;
    for (size_t i = 0; i < c->inputs.n; i++)
        est += 150 + strlen(c->inputs.v[i].path);
    if (est <= cap / 4 * 3)
        return 0;
    char e[32], m[32];
    return ingot_fail(INGOT_E_USAGE, "%zu input files: their list alone would make a "
                      "manifest.json of about %s, and readers take at most %s; convert them "
                      "as several datasets (ingot-train --data A --data B trains on them "
                      "together), or join small files into larger ones", c->inputs.n,
                      cli_human_bytes((double)est, e, sizeof(e)),
                      cli_human_bytes((double)cap, m, sizeof(m)));
}

int pt_convert(const struct pt_opts *o, volatile sig_atomic_t *interrupt)
{
    struct conv c = { .o = o };
    struct pt_state st = { 0 };
    pt_writer *w = NULL;
    char **made = NULL;     /* the directories this run created for OUT */
    bool out_made = false;
    int lock = -1;
    int ret;
    if ((ret = pt_json_path_init(&c.path, o->text_key)))
        return ret;
    if ((ret = pt_inputs_expand_stdin(o->inputs, o->n_inputs, o->out, o->stdin_format,
                                      &c.inputs)))
        goto out;
    if (!o->quiet)
        pt_inputs_print_notes(&c.inputs, "ingot-pretok", stderr);
    if (!c.inputs.n) {
        char tu[1024];
        ret = ingot_fail(INGOT_E_NODATA, "no input file found (directories are searched for "
                         "%s; %zu file%s of other formats, e.g. %s; Parquet: "
                         "scripts/parquet-to-jsonl.py FILES | ingot-pretok ... -)%s%s",
                         pt_input_suffixes, c.inputs.ignored, c.inputs.ignored == 1 ? "" : "s",
                         c.inputs.n_unknown_kept ? term_text(c.inputs.unknown[0], tu, sizeof(tu))
                                                 : "none",
                         /* what was passed over, also under --quiet (e.g. --out itself) */
                         c.inputs.n_notes_kept ? "; " : "",
                         c.inputs.n_notes_kept ? c.inputs.notes[0] : "");
        goto out;
    }
    if ((ret = check_manifest_room(&c)))
        goto out;
    c.first = 0;
    c.end = c.inputs.n;
    if (o->part_n)
        pt_inputs_part(&c.inputs, o->part_k, o->part_n, &c.first, &c.end);
    if ((ret = setup_tokenizer(&c)) || (ret = options_hash(&c)))
        goto out;

    c.wcfg.out_dir = o->out;
    c.wcfg.shard_tokens = o->shard_tokens;
    c.wcfg.val_mode = o->val_mode;
    c.wcfg.val_docs = o->val_mode == PT_VAL_DOCS && o->part_n && o->part_k != 1 ? 0 : o->val_docs;
    c.wcfg.val_threshold = o->val_fraction >= 1.0 ? UINT64_MAX
                         : (uint64_t)(o->val_fraction * 18446744073709551616.0);
    c.wcfg.on_error_fail = o->on_error_fail;
    c.wcfg.damaged_accepted = o->allow_damaged;
    /* More parts than files: some parts are empty, and finish as such. */
    c.wcfg.allow_empty = o->part_n && c.first == c.end;
    c.wcfg.partial = o->part_n > 1;
    c.wcfg.inputs = &c.inputs;
    c.wcfg.argc = o->argc;
    c.wcfg.argv = o->argv;

    if ((ret = fs_mkdir_p_made(o->out, &made, &out_made)))
        goto out;
    /* Before anything in OUT is looked at: a second run must not remove the
     * first one's temp files or interleave its shards with them. */
    if ((lock = pt_lock_acquire(o->out)) < 0) {
        ret = lock;
        goto out;
    }
    c.state_path = fs_path_join(o->out, PT_STATE_NAME);
    if (!c.state_path) {
        ret = ingot_fail(-ENOMEM, "out of memory");
        goto out;
    }
    struct pt_outdir sc;
    if ((ret = pt_outdir_scan(o->out, &sc)))
        goto out;
    ret = pt_state_read(c.state_path, 0, &st);
    bool resumed = ret == 0;
    /* a new conversion (no state of its own; a damaged one is reported
     * below) writes over nothing it did not write */
    int refused = pt_outdir_refuse(o->out, &sc, ret != -ENOENT, "--model");
    if (refused) {
        ret = refused;
        goto out;
    }
    if (!ret && (st.options_hash != c.options_hash || st.counts.n_files != c.inputs.n ||
                 (st.mtimes_hash && st.mtimes_hash != c.mtimes_hash))) {
        ret = refuse_rerun(&c, &st);
        goto out;
    }
    if (!ret && (ret = pt_resume_check_shards(o->out, &st)) == 1) {
        /* A finished shard is not the bytes that were written: the counters
         * cannot be unwound to before it, so everything is redone (the
         * inputs are all still here; nothing is lost). */
        if (!o->quiet)
            fprintf(stderr, "ingot-pretok: %s; the conversion is redone from the start "
                    "(%zu finished shard%s)\n", ingot_errmsg(), st.n_shards,
                    st.n_shards == 1 ? "" : "s");
        remove_outputs(&c, &st);
        pt_state_free(&st);
        resumed = false;
        ret = -ENOENT;
    }
    if (ret == -ENOENT)
        ret = fresh_state(&c, &st);
    else if (!ret && st.mtimes_hash && !st.n_mtimes)
        ret = keep_mtimes(&c, &st);   /* a state from before they were kept: the same times */
    if (ret)
        goto out;
    /* A fresh state goes to disk before the first shard: a shard is renamed
     * into place before the state that records it, so a run stopped between
     * the two (kill -9, or a full disk when writing that state) would leave
     * a shard without a state, which a rerun refuses as another command's;
     * and before the model's copy, which a rerun without a state refuses as
     * another's tokenizer.model. */
    if (!resumed && (ret = pt_state_write(c.state_path, &st)))
        goto out;
    /* The model goes into the dataset before any manifest names it. */
    if ((ret = dataset_copy_tokenizer(o->out, o->model, ingot_spm_model_hash(c.spm))))
        goto out;

    struct pt_report rep = { .out_dir = o->out, .inputs = &c.inputs, .part_first = c.first,
                             .part_end = c.end, .threads = o->threads, .resumed = resumed,
                             .allocator = o->allocator ? o->allocator : "malloc not known",
                             .unk_id = c.wcfg.base.unk_id,
                             .damaged_accepted = o->allow_damaged };
    for (size_t i = c.first; i < c.end; i++)
        rep.input_bytes += c.inputs.v[i].size;

    if (st.done) {
        /* Finished before: make sure the manifest is there (a crash may
         * have come between the last state and the manifest). */
        if ((ret = pt_write_manifest(&c.wcfg, &st)))
            goto out;
        rep.st = &st;
        rep.already_done = true;
        rep.shards_this_run = 0;
        ret = report_done(&c, &rep);
        goto out;
    }

    /* Resume from the earliest position not yet inside a finished shard. */
    struct pt_pos from = pt_pos_cmp(st.persisted[0], st.persisted[1]) <= 0 ? st.persisted[0]
                                                                          : st.persisted[1];
    size_t from_i = index_of_file(&c, from.file);
    struct pt_pipeline_cfg pc = {
        .prod = {
            .inputs = c.inputs.v + from_i, .n_inputs = c.end - from_i,
            .resume_file = from.file, .resume_record = from.record, .txt_doc = o->txt_doc,
            .batch_bytes = 256 << 10, .batch_items = 4096, .max_record = o->max_record,
        },
        .tok = &c.tok, .threads = o->threads, .total_bytes = rep.input_bytes,
        .progress = !o->quiet && isatty(2),
        .progress_log_s = o->quiet || isatty(2) ? 0.0 : progress_log_period(),
    };
    c.tok.inputs = c.inputs.v;       /* for messages naming a record */
    c.tok.n_inputs = c.inputs.n;
    c.tok.max_record = o->max_record;
    for (size_t i = c.first; i < from_i; i++)
        pc.prod.bytes_before += c.inputs.v[i].size;
    pc.prod.stdin_head_len = st.stdin_head_len;
    pc.prod.stdin_head_hash = st.stdin_head_hash;
    pc.prod.stdin_chain_record = st.stdin_chain_record;
    pc.prod.stdin_chain = st.stdin_chain;
    for (size_t i = from_i; i < c.end; i++)
        for (int s = 0; s < 2 && c.inputs.v[i].is_stdin; s++)
            if (st.persisted[s].file == c.inputs.v[i].index &&
                st.persisted[s].record > pc.prod.stdin_need)
                pc.prod.stdin_need = st.persisted[s].record;
    if (o->val_mode == PT_VAL_FRACTION) {
        pc.prod.skip_by_split = true;
        pc.prod.val_threshold = c.wcfg.val_threshold;
        for (int s = 0; s < 2; s++) {
            pc.prod.skip[s].file = st.persisted[s].file;
            pc.prod.skip[s].record = st.persisted[s].record;
        }
    }
    /* Test hook: small batches, so that a slowed-down run is interruptible
     * half-way even on a small corpus. */
    if (pt_hook_pos("INGOT_PRETOK_TEST_BATCH_ITEMS"))
        pc.prod.batch_items = (size_t)pt_hook_pos("INGOT_PRETOK_TEST_BATCH_ITEMS");
    if ((ret = pt_writer_create(&c.wcfg, &st, &w)))
        goto out;
    pc.writer = w;
    struct pt_pipeline_stats ps;
    ret = pt_pipeline_run(&pc, interrupt, &ps);
    if (ps.abandoned) {   /* threads still use w, c.spm and c.inputs: free nothing */
        const uint64_t kept = pt_writer_shards_kept(w);
        return ingot_fail(ret, "interrupted: %" PRIu64 " shard%s finished and kept; run the "
                          "same command again to resume", kept, kept == 1 ? "" : "s");
    }
    if (!ret)
        ret = pt_writer_finish(w);
    rep.st = pt_writer_state(w);
    rep.ps = &ps;
    /* standard input has no size beforehand: what was read ("from 1 file (0
     * B)" said it had none) */
    for (size_t i = c.first; i < c.end; i++)
        if (c.inputs.v[i].is_stdin && ps.prod.bytes_read > rep.input_bytes)
            rep.input_bytes = ps.prod.bytes_read;
    rep.shards_this_run = pt_writer_shards_this_run(w);
    if (ret == INGOT_E_INPUT || ret == INGOT_E_NODATA) {
        char msg[INGOT_ERRMSG_MAX];
        snprintf(msg, sizeof(msg), "%s", ingot_errmsg());
        if (ret == INGOT_E_NODATA && !o->quiet)
            pt_report_print(stderr, &rep);
        else if (ret == INGOT_E_NODATA)   /* the message points at what was skipped */
            pt_report_print_skips(stderr, &rep);
        remove_outputs(&c, rep.st);
        pt_writer_free(w);   /* removes the open temp shards */
        w = NULL;
        ingot_fail(ret, "%s", msg);
        goto out;
    }
    if (ret == INGOT_E_INTERRUPTED) {
        const uint64_t kept = pt_writer_shards_kept(w);
        ingot_fail(ret, "interrupted: %" PRIu64 " shard%s finished and kept; run the same "
                   "command again to resume", kept, kept == 1 ? "" : "s");
        goto out;
    }
    if (!ret)
        ret = report_done(&c, &rep);
out:
    pt_writer_free(w);
    /* (an interrupted run keeps its directory: it is resumed) */
    static const char *const ours[] = { PT_STATE_NAME, INGOT_TOKENIZER_NAME, PT_LOCK_NAME };
    if (ret && ret != INGOT_E_INTERRUPTED && made && lock >= 0)
        pt_out_abandon(o->out, made, out_made, lock, ours, sizeof(ours) / sizeof(ours[0]));
    else
        pt_lock_release(lock);
    fs_free_list(made);
    pt_state_free(&st);
    free(c.options_text);
    free(c.state_path);
    free(c.model_abs);
    ingot_spm_free(c.spm);
    spe_free(c.enc);
    pt_json_path_free(&c.path);
    pt_inputs_free(&c.inputs);
    return ret;
}
