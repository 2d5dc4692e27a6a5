/* The training loop. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend.h"
#include "checkpoint.h"
#include "cli_num.h"
#include "data_loader.h"
#include "dataset.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "median.h"
#include "metrics.h"
#include "mono_clock.h"
#include "parity_dump.h"
#include "sig_util.h"
#include "skip_reason.h"
#include "sampler.h"
#include "spm_shim.h"
#include "term_text.h"
#include "tr_dist.h"
#include "tr_dist_run.h"
#include "tr_mem_check.h"
#include "tr_params.h"
#include "tr_schedule.h"
#include "tr_settings.h"
#include "tr_src_loss.h"
#include "train_loop.h"

/* 0, or why this process was asked to stop: the signal, or -1 (its output
 * failed). Also the rendezvous's stop flag. */
static volatile sig_atomic_t stop_requested;

void tr_request_stop(int sig)
{
    if (!stop_requested)
        stop_requested = sig > 0 ? sig : -1;
}

/* The signal a run that returned INGOT_E_INTERRUPTED was stopped by, for
 * its exit status: this rank's own, or the one of the rank that stopped
 * them all (the stop vote, the rendezvous); 0 while none is known. */
static int stopped_by;

int tr_exit_status(int err)
{
    if (!err)
        return 0;
    if (err == INGOT_E_USAGE)
        return 2;
    if (err == INGOT_E_INTERRUPTED)   /* no signal told (a rank 0 of an older build): SIGINT's */
        return 128 + (stopped_by > 0 && stopped_by < 128 ? stopped_by : SIGINT);
    return 1;
}

/* --profile's closing median: over the last this many steps */
enum { PROF_RATES = 4096 };

/* Everything one run holds; released by run_free(). */
struct run {
    const struct tr_opts *o;
    struct tr_config cfg;
    tr_loader *loader;
    const struct tr_backend_ops *ops;
    tr_backend *be;
    tr_dist *dist;              /* data parallelism (tr_dist_run.h); world 1 when alone */
    struct tr_dist_share share; /* this rank's micro-steps of each step's chunk */
    tr_metrics *metrics;
    int lock_fd;                /* --ckpt-dir's lock (rank 0), or -1 */
    struct tr_schedule sched;
    size_t n_params;
    int32_t *chunk;             /* grad_accum * batch rows of T + 1 */
    int32_t *val_rows;          /* n_val rows of T + 1 */
    uint64_t n_val;
    /* a mixture's val loss by source: each val window's source, a batch of
     * windows' losses, the sums (src.n == 0: one dataset, no split) */
    int *val_src;
    double *val_row_loss;
    struct tr_src_loss src;
    uint64_t tokens_per_step;
    /* progress */
    int64_t start_step;
    uint64_t tokens;
    double elapsed_s;
    double mark;                /* wall clock of the last step boundary */
    /* --time-limit: when this invocation began, and the latest step,
     * evaluation and save times, the room left for the last step */
    double t_start, step_s, eval_s, save_s;
    double session_s;           /* training time of this invocation (for the ETA) */
    int64_t session_steps;
    /* a mixture: tokens taken from each source up to the steps in flight */
    uint64_t src_tokens[4][TR_MAX_SOURCES];
    /* sampling */
    ingot_spm *spm;
    bool spm_tried;
    bool decode_said;       /* a sample that could not be decoded was said */
    /* --profile: chunk assembly time of the steps in flight, and sums for
     * the closing summary (steps after 3 warm-up ones) */
    double assemble_ms[4];
    int prof_n;
    double prof_tps, prof_mfu, prof_syncs, prof_busy;
    double prof_cpu_s, prof_wall_s;     /* the process's CPU seconds over those steps' wall */
    /* the steps' rates for the closing median (the last PROF_RATES of them) */
    double prof_rate[PROF_RATES];
    /* steps with an NVML power figure, their power summed, and of them the
     * steps the power cap held */
    int prof_pw_n, prof_capped_n;
    double prof_pw;
    /* the errno of the first progress line standard output did not take
     * (a full disk); 0: none */
    int out_err;
};

static void run_free(struct run *r)
{
    if (r->be)
        r->ops->destroy(r->be);
    tr_dist_free(r->dist);
    tr_metrics_close(r->metrics);
    tr_ckpt_dir_unlock(r->lock_fd);
    tr_loader_close(r->loader);
    ingot_spm_free(r->spm);
    free(r->chunk);
    free(r->val_rows);
    free(r->val_src);
    free(r->val_row_loss);
}

static void say(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct run *r, const char *fmt, ...)
{
    if (r->o->quiet || tr_dist_rank(r->dist) != 0)   /* rank 0 speaks for all */
        return;
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    bool bad = vprintf(fmt, ap) < 0;
    va_end(ap);
    bad |= fflush(stdout) != 0;
    /* Output that cannot be written stops the run at the next step boundary
     * with a checkpoint, as SIGPIPE does (train_main.c); EPIPE comes only
     * where SIGPIPE is ignored, by a run that asked to outlive its output. */
    if (bad && !r->out_err && errno != EPIPE) {
        r->out_err = errno ? errno : EIO;
        tr_request_stop(0);
    }
}

/* The run's end when its progress lines could not be written (say()). */
static int output_lost(const struct run *r, int64_t s, bool done)
{
    if (done)
        return ingot_fail(-r->out_err, "standard output: cannot write the progress lines: %s "
                          "(a full disk?); the run itself went to its end", strerror(r->out_err));
    return ingot_fail(-r->out_err, "standard output: cannot write the progress lines: %s (a full "
                      "disk?); stopped after step %" PRId64 "%s", strerror(r->out_err), s,
                      r->o->ckpt_dir ? "; checkpoint written, continue with --resume"
                                     : " (no --ckpt-dir, nothing saved)");
}

/* A dataset whose conversion exited 1 on damaged inputs (their loss not
 * accepted: manifest.h) trains, but says so on stderr (also under --quiet):
 * a pipeline that ignored pretok's exit status would not know. */
static void warn_damaged(const struct run *r, const struct dataset *ds)
{
    const struct manifest *m = ds->manifest;
    size_t n = 0, first = 0;
    for (size_t i = 0; i < m->n_inputs; i++)
        if (m->inputs[i].damage && !n++)
            first = i;
    if (!n || m->damaged_accepted || tr_dist_rank(r->dist) != 0)
        return;
    /* the skipped records' share, as ingot-pretok counts it: above its
     * default --max-skip-fraction the acceptance needs that option too (the
     * command given alone exited 1 again) */
    uint64_t skipped, docs;
    manifest_skip_counts(m, &skipped, &docs);
    double share = skip_share(skipped, docs);
    char frac[64] = "";
    if (share > SKIP_DEFAULT_MAX_FRACTION)
        snprintf(frac, sizeof(frac), " --max-skip-fraction %.4g", skip_accept_fraction(share));
    char tb[4096];   /* the manifest's text, its control bytes as '?' */
    fprintf(stderr, "ingot-train: warning: %s: %zu input file%s of this dataset %s damaged and "
            "ingot-pretok exited 1 on %s, the loss not accepted (the first: %s); the dataset "
            "holds what could be read. Accept it with the same ingot-pretok command plus "
            "--allow-damaged-inputs%s (it finishes at once), or repair the input%s and convert "
            "again (ingot-dump info lists them)\n", TERM_SHOW(ds->dir), n, n == 1 ? "" : "s",
            n == 1 ? "was" : "were", n == 1 ? "it" : "them",
            term_text(m->inputs[first].damage, tb, sizeof(tb)), frac,
            n == 1 ? "" : "s");
}

/* Shards of one dataset holding the same tokens (equal token and index
 * checksums: a shard copied under another name and the manifest resealed, a
 * corpus given twice to the conversion): trained on twice, and a val shard
 * equal to a train shard measures text the model trains on. Said, with the
 * first pair; not refused (the data is what the user made). */
struct shard_key {
    uint64_t tokens, index;
    size_t i;
};

static int cmp_shard_key(const void *a, const void *b)
{
    const struct shard_key *x = a, *y = b;
    if (x->tokens != y->tokens)
        return x->tokens < y->tokens ? -1 : 1;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void note_equal_shards(struct run *r, const struct dataset *ds)
{
    const struct manifest *m = ds ? ds->manifest : NULL;
    struct shard_key *k = m && m->n_shards > 1 ? malloc(m->n_shards * sizeof(*k)) : NULL;
    size_t n = 0, pairs = 0, fa = 0, fb = 0;
    for (size_t i = 0; k && i < m->n_shards; i++)
        if (m->shards[i].n_tokens)   /* empty shards are all alike */
            k[n++] = (struct shard_key){ m->shards[i].tokens_checksum,
                                         m->shards[i].index_checksum, i };
    if (n > 1)
        qsort(k, n, sizeof(*k), cmp_shard_key);
    for (size_t j = 1; j < n; j++)
        if (k[j].tokens == k[j - 1].tokens && k[j].index == k[j - 1].index && !pairs++) {
            fa = k[j - 1].i;
            fb = k[j].i;
        }
    free(k);
    if (!pairs)
        return;
    const struct manifest_shard *a = &m->shards[fa], *b = &m->shards[fb];
    say(r, "note: %s: %zu shard%s hold%s the same tokens as another (the first: %s and %s, "
        "equal checksums)%s; was a shard copied, or an input given twice to ingot-pretok?\n",
        TERM_SHOW(ds->dir), pairs, pairs == 1 ? "" : "s", pairs == 1 ? "s" : "",
        TERM_SHOW(a->file), TERM_SHOW(b->file), a->split != b->split ?
        ": a val shard equal to a train shard measures text the model trains on" :
        ": the model sees them twice an epoch");
}

/* A model shape for messages: GPT-2's fields, llama's with its own. */
static void describe_shape(const struct tr_config *c, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s: %d layers, %d heads, dim %d, seq-len %d, vocab %d",
                     tr_arch_name(c->arch), c->n_layer, c->n_head, c->n_embd, c->seq_len,
                     c->vocab);
    /* all their digits: two that differ must read differently (norm-eps as
     * the shortest decimal of the float: 1.0000001e-05, not %g's 1e-05) */
    char theta[32], eps[32];
    if (c->arch == TR_ARCH_LLAMA && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, ", %d kv heads, ffn-dim %d, rope-theta %s, norm-eps "
                 "%s%s", c->n_kv_head, c->ffn_dim,
                 cli_format_double(c->rope_theta, theta, sizeof(theta)),
                 cli_format_double(cli_float_decimal(c->norm_eps), eps, sizeof(eps)),
                 c->tie_embeddings ? ", tied embeddings" : "");
}

/* The checkpoint's config and data must match this run's (init: it is
 * --init-from's, whose weights start a new run). */
static int check_resume(const struct run *r, const char *path, const struct tr_ckpt_state *st,
                        bool init)
{
    /* the data first: another tokenizer changes the vocabulary too, and a
     * message about the model's shape would send the user the wrong way */
    uint64_t hash = tr_loader_tokenizer_hash(r->loader);
    bool synth = r->o->synthetic, ck_synth = st->flags & TR_CKPT_FLAG_SYNTHETIC;
    if (synth != ck_synth && !init)
        return ingot_fail(INGOT_E_MISMATCH, "%s: the checkpoint was trained on %s data, this run "
                          "uses %s", TERM_SHOW(path), ck_synth ? "--synthetic" : "a dataset's",
                          synth ? "--synthetic" : "a dataset");
    /* --init-from with random ids on either side: any vocabulary-sized
     * model will do */
    if (!(init && (synth || ck_synth)) && st->tokenizer_hash != hash)
        return ingot_fail(INGOT_E_MISMATCH, "%s: the checkpoint's tokenizer (hash %016" PRIx64 ") "
                          "differs from the dataset's (%016" PRIx64 " in %s/manifest.json): the "
                          "token ids mean different things; train from scratch or use the "
                          "original dataset", TERM_SHOW(path), st->tokenizer_hash, hash,
                          TERM_SHOW(r->o->data));
    const struct tr_config *a = &st->cfg, *b = &r->cfg;
    /* --init-from of a llama may change the context: RoPE has no table of
     * positions, no weight depends on it (GPT-2's wpe does) */
    struct tr_config same_t = *a;
    if (init && a->arch == TR_ARCH_LLAMA)
        same_t.seq_len = b->seq_len;
    /* the vocabulary alone (--synthetic's --vocab): name that flag, not the shape's */
    struct tr_config same_v = same_t;
    same_v.vocab = b->vocab;
    same_v.vocab_padded = b->vocab_padded;
    /* --vocab is --synthetic's: a dataset's vocabulary is its manifest's
     * (the advice "pass --vocab" was then refused) */
    if (!tr_config_equal(&same_t, b) && tr_config_equal(&same_v, b) && synth)
        return ingot_fail(INGOT_E_MISMATCH, "%s: the checkpoint's vocabulary is %d, this run's "
                          "%d: pass --vocab %d with --synthetic", TERM_SHOW(path), a->vocab,
                          b->vocab, a->vocab);
    if (!tr_config_equal(&same_t, b) && tr_config_equal(&same_v, b))
        return ingot_fail(INGOT_E_MISMATCH, "%s: the checkpoint's vocabulary is %d, the "
                          "dataset's %d (%s/manifest.json): its ids mean other things; %s",
                          TERM_SHOW(path), a->vocab, b->vocab, TERM_SHOW(r->o->data),
                          init ? "fine-tune on a dataset of the checkpoint's tokenizer" :
                                 "use the dataset the checkpoint was trained on");
    if (!tr_config_equal(&same_t, b)) {
        char has[256], want[256];
        describe_shape(a, has, sizeof has);
        describe_shape(b, want, sizeof want);
        return ingot_fail(INGOT_E_MISMATCH,
                          "%s: checkpoint of another model configuration: it is %s; this run is "
                          "%s. Pass the same --arch/--model/--layers/--heads/--dim/--seq-len "
                          "(and llama's --kv-heads, --ffn-dim, --rope-theta, --norm-eps, "
                          "--tie-embeddings), or %s", TERM_SHOW(path), has, want, init ?
                          "leave them out (--init-from takes the checkpoint's shape)" :
                          "use another --ckpt-dir");
    }
    return 0;
}

/* A resume whose schedule puts the next step's rate well above the rate of
 * the checkpoint's own last step, after both warmups: a longer --steps on a
 * run that was already decaying (a wsd run in its cooldown, a cosine run),
 * which silently re-heats the model. Said, not refused: it may be meant
 * (another --lr alone, on a checkpoint that was not decaying, says nothing). */
static void lr_jump_note(struct run *r, const struct tr_schedule *was, int64_t step)
{
    if (step <= was->warmup || step >= r->o->steps || step + 1 <= r->sched.warmup)
        return;
    float before = tr_schedule_lr(was, (int)step), next = tr_schedule_lr(&r->sched, (int)step + 1);
    if (!(before < 0.999f * was->lr && next > 1.05f * before))
        return;
    say(r, "note: resume: the learning rate jumps from %.2e (step %" PRId64 ", the checkpoint's "
        "schedule) up to %.2e (step %" PRId64 ", this one's): the checkpoint was already past "
        "the start of its decay%s\n", (double)before, step, (double)next, step + 1,
        r->sched.kind == TR_SCHED_WSD ? "; a wsd run is extended from a checkpoint before its "
        "cooldown (docs/training.md, Schedule)" : "");
}

/* A source whose shards are not the ones the checkpoint trained on (the
 * same path converted again, grown or shrunk): the position goes on in the
 * new data's order, so documents may come twice or not at all. Said, not
 * refused: appending data to a run is a use. */
static int content_note(struct run *r, const char *section, const struct tr_loader_pos *pos,
                        bool speak)
{
    int changed = 0;
    for (int i = 0; i < pos->n_src && i < tr_loader_n_sources(r->loader); i++) {
        uint64_t had;
        if (tr_settings_source_content(section, i, &had) ||
            had == tr_loader_source_id(r->loader, i))
            continue;
        changed++;
        if (speak)
            say(r, "note: resume: the dataset %s is not the one the checkpoint trained on (its "
                "shards changed since: converted again, or shards added or removed); the run "
                "goes on at the checkpoint's place (epoch %" PRIu64 ", window %" PRIu64 ") in "
                "this data's order, so some documents may be seen twice and others not at all. "
                "Restore the dataset to continue the run exactly, or start this data from its "
                "beginning with --init-from and a new --ckpt-dir\n",
                TERM_SHOW(tr_loader_source_dir(r->loader, i)), pos->src[i].epoch,
                pos->src[i].index);
    }
    return changed;
}

/* --resume: weights, AdamW state, data position and progress of the
 * checkpoint tr_settings_resolve() found (its settings are already in o). */
static int restore(struct run *r, const char *path, float *params, float **m, float **v)
{
    const struct tr_opts *o = r->o;
    /* --resume-from's checkpoint is not among this run's (checkpoint.h) */
    const char *own_dir = o->resume_from ? NULL : o->ckpt_dir;
    struct tr_ckpt_state st;
    char *section = NULL;
    int err;
    if ((err = tr_ckpt_read_state(path, &st)))
        return tr_ckpt_resume_failed(own_dir, path, err);
    if ((err = check_resume(r, path, &st, false)))
        return err;
    *m = malloc(r->n_params * sizeof(float));
    *v = malloc(r->n_params * sizeof(float));
    if (!*m || !*v)
        return ingot_oom("AdamW state of the checkpoint", 2 * r->n_params * sizeof(float));
    if ((err = tr_ckpt_read_tensors(path, r->n_params, params, *m, *v)))
        return tr_ckpt_resume_failed(own_dir, path, err);
    /* a mixture's per-source positions live in the settings section */
    bool reweighted = false;
    struct tr_schedule was;
    bool have_was = false;
    int was_world = 0;   /* the ranks that wrote it; 0: not recorded (older files) */
    if (!(err = tr_ckpt_read_settings(path, &section)) && section &&
        !(err = tr_settings_check_sources(path, section, o, &reweighted)))
        err = tr_settings_read_position(path, section, &st.pos);
    if (!err && section) {
        have_was = tr_settings_schedule(section, &was) == 0;
        err = tr_settings_world_size(path, section, &was_world);
    }
    /* the note after the position is taken: a dataset that shrank past it
     * was noted as going on, then refused as "the dataset or --seq-len
     * differs" (one message now, with the way on) */
    const bool changed = !err && section && content_note(r, section, &st.pos, false);
    if (err) {
        free(section);
        return tr_ckpt_resume_failed(own_dir, path, err);
    }
    if ((err = tr_loader_set_pos(r->loader, &st.pos)) && changed) {
        char msg[INGOT_ERRMSG_MAX];
        snprintf(msg, sizeof(msg), "%s", ingot_errmsg_for(err));
        err = ingot_fail(err, "%s: its shards changed since the checkpoint (converted again, or "
                         "shards removed); restore the dataset to continue the run, or start "
                         "this data from its beginning with --init-from and a new --ckpt-dir",
                         msg);
    } else if (!err && changed) {
        content_note(r, section, &st.pos, true);
    }
    free(section);
    if (err)
        return err;
    r->start_step = (int64_t)st.step;
    r->tokens = st.tokens;
    r->elapsed_s = st.elapsed_s;
    if (st.pos.n_src > 1) {
        /* a mixture's own epoch is always 0 and its index counts the windows
         * drawn from all sources (data_loader.h): each source's place */
        char where[TR_MAX_SOURCES * 64] = "";
        for (int i = 0, off = 0; i < st.pos.n_src && off < (int)sizeof(where); i++)
            off += snprintf(where + off, sizeof(where) - (size_t)off, "; data %d: epoch %" PRIu64
                            ", window %" PRIu64, i, st.pos.src[i].epoch, st.pos.src[i].index);
        say(r, "resumed from %s (step %" PRIu64 ", %" PRIu64 " windows drawn%s)\n", TERM_SHOW(path),
            st.step, st.pos.index, where);
    } else if (o->synthetic) {   /* random ids: a stream state, no window (it said
                                    "epoch 0, window 0" at any step) */
        say(r, "resumed from %s (step %" PRIu64 ", synthetic ids)\n", TERM_SHOW(path), st.step);
    } else {
        say(r, "resumed from %s (step %" PRIu64 ", epoch %" PRIu64 ", window %" PRIu64 ")\n",
            TERM_SHOW(path), st.step, st.pos.epoch, st.pos.index);
    }
    if (o->settings_note) {   /* a list of any length: shown whole */
        char *note = term_text_dup(o->settings_note);
        say(r, "resume: settings given here override the checkpoint's: %s\n",
            note ? note : "(out of memory)");
        free(note);
    }
    if (have_was)
        lr_jump_note(r, &was, (int64_t)st.step);
    char world[512];
    if (tr_dist_run_world_note(was_world, tr_dist_world(r->dist), o->grad_accum, world,
                               sizeof(world)))
        say(r, "note: %s\n", world);
    if (reweighted && o->val_every)   /* drawn with the weights (data_loader.h) */
        say(r, "note: the mixture's weights changed, and its val set is drawn with them: val "
            "losses from step %" PRIu64 " on are not comparable with earlier ones\n", st.step);
    else if (st.version < 2 &&
             (st.steps != (uint64_t)o->steps || st.seed != o->seed || st.batch != o->batch ||
              st.grad_accum != o->grad_accum || st.lr != o->lr || st.min_lr != o->min_lr ||
              st.warmup != o->warmup || st.weight_decay != o->weight_decay ||
              st.grad_clip != o->grad_clip))
        say(r, "note: the checkpoint (format version 1, no stored settings) was written with "
            "other --steps/--seed/--batch/--batch-tokens/--lr/--min-lr/--warmup/--weight-decay/"
            "--grad-clip; the run continues with this command line's values\n");
    return 0;
}

/* --init-from (path: o->init_path, the file whose shape the settings took;
 * a --ckpt-dir given there resolved to its newest): the weights alone;
 * step, schedule, data and AdamW start afresh. */
static int init_from(struct run *r, const char *path, float *params)
{
    struct tr_ckpt_state st;
    float *m = malloc(r->n_params * sizeof(float)), *v = malloc(r->n_params * sizeof(float));
    int err = !m || !v ? ingot_oom("checkpoint AdamW state (read, then dropped)",
                                   2 * r->n_params * sizeof(float)) : 0;
    if (!err && !(err = tr_ckpt_read_state(path, &st)) &&
        !(err = check_resume(r, path, &st, true)) &&
        !(err = tr_ckpt_read_tensors(path, r->n_params, params, m, v)))
        say(r, "initialised from %s (its step %" PRIu64 "): a new run from step 0, optimizer "
            "state reset\n", TERM_SHOW(path), st.step);
    free(m);
    free(v);
    return err;
}

/* Make this process the only run writing into --ckpt-dir, then check that
 * the checkpoint chosen at start-up (tr_settings_resolve(), or none for a
 * new run) is still the newest: another run may have saved in between. */
static int lock_ckpt_dir(struct run *r)
{
    const struct tr_opts *o = r->o;
    char *latest = NULL;
    int err = tr_ckpt_dir_lock(o->ckpt_dir, &r->lock_fd);
    if (!err && r->lock_fd < 0)
        say(r, "note: %s/%s cannot be locked (the file system has no locks): nothing keeps a "
            "second run out of this --ckpt-dir\n", TERM_SHOW(o->ckpt_dir), TR_CKPT_LOCK_NAME);
    /* --resume-from saves into a directory that had none */
    const char *want = o->resume_from ? NULL : o->resume_path;
    if (!err && !(err = tr_ckpt_find_latest(o->ckpt_dir, &latest)) && (latest || want) &&
        (!latest || !want || strcmp(latest, want)))
        err = ingot_fail(INGOT_E_MISMATCH, "--ckpt-dir %s: its newest checkpoint is now %s, not "
                         "%s as this run found at its start: another run wrote there meanwhile; "
                         "start this one again", TERM_SHOW(o->ckpt_dir),
                         latest ? TERM_SHOW(latest) : "none", want ? TERM_SHOW(want) : "none");
    free(latest);
    return err;
}

/* Build or restore parameters, create the back end. */
static int setup_model(struct run *r)
{
    const struct tr_opts *o = r->o;
    int err = 0;
    /* rank 0 saves: the host copies of each checkpoint (save_checkpoint) */
    const uint64_t save_copies = o->ckpt_dir && tr_dist_rank(r->dist) == 0
                                     ? 3 * (uint64_t)r->n_params * sizeof(float) : 0;
    float *params = malloc(r->n_params * sizeof(float)), *m = NULL, *v = NULL;
    if (!params)
        return ingot_oom("parameters", r->n_params * sizeof(float));
    r->start_step = 0;
    if (o->resume && !o->resume_path)   /* its metrics path is per invocation: say so */
        say(r, "resume: no checkpoint in %s yet; starting %s%s\n", TERM_SHOW(o->ckpt_dir),
            o->init_from ? "from --init-from" : "from scratch",
            o->metrics ? "" : " (no --metrics this time: it is not among the settings "
                              "kept, so pass it again for a metrics file)");
    if (o->resume_path)
        err = restore(r, o->resume_path, params, &m, &v);
    else if (o->init_from)
        err = init_from(r, o->init_path, params);
    else
        tr_params_init(&r->cfg, o->seed, params);
    if (err)
        goto out;
    struct tr_backend_opts bo = {
        .cfg = r->cfg, .batch = o->batch, .grad_accum = r->share.k_local,
        .threads = o->threads, .device_index = tr_dist_device(r->dist),
        .quiet = o->quiet || tr_dist_rank(r->dist) != 0, .dist = r->dist,
        .precision = !o->precision ? TR_PREC_DEFAULT :
                     !strcmp(o->precision, "bf16") ? TR_PREC_BF16 : TR_PREC_FP32,
        .profile = o->profile > 0, .peak_tflops = o->peak_tflops,
        .zero = o->zero, .grad_reduce_bf16 = o->grad_reduce_bf16, .host_later = save_copies,
        .host_freed = (uint64_t)r->n_params * sizeof(float) * (m ? 3 : 1),
    };
    if ((err = r->ops->create(&bo, params, &r->be)))
        goto out;
    if (m && (err = r->ops->set_opt_state(r->be, m, v)))
        goto out;
    err = tr_dist_run_check_resume(r->dist, r->start_step, r->loader);
out:
    free(params);
    free(m);
    free(v);
    /* each save copies the parameters and AdamW state to the host: a
     * machine without that room killed the run at its first checkpoint,
     * hours in, with no message (the CPU back end counted them above) */
    if (!err && save_copies)
        err = tr_mem_check(save_copies, "each checkpoint's host copies of the parameters and "
                           "AdamW state", "a machine with more memory, or a smaller --model");
    return err;
}

/* The bytes of one checkpoint of this model, near enough to judge free
 * space by: the header, parameters, AdamW m and v (the settings section is
 * a few kB). */
static uint64_t ckpt_bytes(const struct run *r)
{
    return TR_CKPT_HEADER_SIZE + 3 * (uint64_t)r->n_params * sizeof(float) + 16384;
}

/* A --ckpt-dir without room for one checkpoint fails at the first save,
 * which may be hours away: say so at the start (a warning, as space may be
 * freed meanwhile, and under --quiet too). */
static void ckpt_space_warning(const struct run *r)
{
    uint64_t free_b;
    if (fs_free_bytes(r->o->ckpt_dir, &free_b) || free_b >= ckpt_bytes(r))
        return;
    char a[32], b[32];
    fprintf(stderr, "ingot-train: warning: --ckpt-dir %s has %s free, and a checkpoint of this "
            "model takes about %s: the first save will fail on a full disk unless space is "
            "freed before it (or use a --ckpt-dir on another file system)\n",
            TERM_SHOW(r->o->ckpt_dir), cli_human_bytes((double)free_b, a, sizeof(a)),
            cli_human_bytes((double)ckpt_bytes(r), b, sizeof(b)));
}

static int save_checkpoint(struct run *r, int64_t step)
{
    const struct tr_opts *o = r->o;
    if (tr_dist_rank(r->dist) != 0)   /* rank 0 holds the same state and writes it */
        return 0;
    float *p = malloc(r->n_params * sizeof(float));
    float *m = malloc(r->n_params * sizeof(float));
    float *v = malloc(r->n_params * sizeof(float));
    char *path = NULL;
    int err;
    if (!p || !m || !v) {
        err = ingot_oom("checkpoint copies of parameters and AdamW state",
                        3 * r->n_params * sizeof(float));
        goto out;
    }
    if ((err = r->ops->get_params(r->be, p)) || (err = r->ops->get_opt_state(r->be, m, v)))
        goto out;
    struct tr_ckpt_state st = {
        .cfg = r->cfg, .step = (uint64_t)step, .steps = (uint64_t)o->steps, .seed = o->seed,
        .tokenizer_hash = tr_loader_tokenizer_hash(r->loader), .tokens = r->tokens,
        .elapsed_s = r->elapsed_s,
        .flags = (o->synthetic ? TR_CKPT_FLAG_SYNTHETIC : 0) |
                 (o->sequential ? TR_CKPT_FLAG_SEQUENTIAL : 0),
        .batch = o->batch, .grad_accum = o->grad_accum, .warmup = o->warmup,
        .lr = o->lr, .min_lr = o->min_lr, .weight_decay = o->weight_decay,
        .grad_clip = o->grad_clip,
    };
    tr_loader_get_pos(r->loader, &st.pos);
    uint64_t content[TR_MAX_SOURCES];
    for (int i = 0; i < st.pos.n_src; i++)
        content[i] = tr_loader_source_id(r->loader, i);
    char *section = NULL;
    if ((err = tr_settings_section(o, &st.pos, content, tr_dist_world(r->dist), &section)))
        goto out;
    st.settings = section;
    err = tr_ckpt_save(o->ckpt_dir, &st, p, m, v, &path);
    free(section);
    uint64_t free_b;
    if ((err == -ENOSPC || err == -EDQUOT) && !fs_free_bytes(o->ckpt_dir, &free_b)) {
        char msg[INGOT_ERRMSG_MAX], a[32], b[32];   /* how much is missing */
        snprintf(msg, sizeof(msg), "%s", ingot_errmsg());
        ingot_fail(err, "%s (a checkpoint of this model takes about %s; %s free there now)", msg,
                   cli_human_bytes((double)ckpt_bytes(r), a, sizeof(a)),
                   cli_human_bytes((double)free_b, b, sizeof(b)));
    }
    if (err)
        goto out;
    say(r, "checkpoint %s\n", TERM_SHOW(path));
    /* the checkpoint is saved: an old one that cannot be removed is the
     * user's to clear, not a reason to end the run */
    if (o->ckpt_keep > 0 && tr_ckpt_prune(o->ckpt_dir, o->ckpt_keep))
        fprintf(stderr, "ingot-train: warning: --ckpt-keep %d: %s; the run goes on\n",
                o->ckpt_keep, ingot_errmsg());
out:
    free(path);
    free(p);
    free(m);
    free(v);
    return err;
}

/* A mixture's val set: which source each window is from, room for a batch
 * of per-window losses, and each source's window count (kept in r->src
 * until the first evaluation clears it, for the start-up report). */
static int setup_val_sources(struct run *r)
{
    tr_src_loss_init(&r->src, r->loader);
    if (!r->src.n)
        return 0;
    r->val_src = malloc(r->n_val * sizeof(int));
    r->val_row_loss = malloc((size_t)r->o->batch * sizeof(double));
    if (!r->val_src || !r->val_row_loss)
        return ingot_oom("the val windows' sources", r->n_val * sizeof(int) +
                         (size_t)r->o->batch * sizeof(double));
    int err = tr_loader_val_sources(r->loader, 0, r->n_val, r->val_src);
    for (uint64_t i = 0; !err && i < r->n_val; i++)
        r->src.windows[r->val_src[i]]++;
    return err;
}

static int evaluate(struct run *r, int64_t step)
{
    if (!r->n_val)
        return 0;
    int T1 = r->cfg.seq_len + 1, err = 0;
    double sum = 0.0;
    struct tr_src_loss *src = &r->src;
    tr_src_loss_clear(src);
    for (uint64_t i = 0; i < r->n_val; i += (uint64_t)r->o->batch) {
        int n = r->n_val - i < (uint64_t)r->o->batch ? (int)(r->n_val - i) : r->o->batch;
        double loss;
        if ((err = r->ops->eval(r->be, r->val_rows + i * (size_t)T1, n, &loss,
                                src->n ? r->val_row_loss : NULL)))
            return err;
        sum += loss * n;   /* the overall mean as without sources: its own sums */
        for (int k = 0; src->n && k < n; k++)
            tr_src_loss_add(src, r->val_src[i + (uint64_t)k], r->val_row_loss[k]);
    }
    double val = sum / (double)r->n_val;
    char by[TR_MAX_SOURCES * (TR_SRC_NAME + 16)] = "";
    tr_src_loss_format(src, by, sizeof(by));
    say(r, "step %6" PRId64 " | val loss %.4f (%" PRIu64 " window%s)%s%s\n", step, val, r->n_val,
        r->n_val == 1 ? "" : "s", src->n ? " | " : "", by);
    double mean[TR_MAX_SOURCES];
    const char *names[TR_MAX_SOURCES];
    for (int i = 0; i < src->n; i++) {
        mean[i] = tr_src_loss_mean(src, i);
        names[i] = src->name[i];
    }
    if (r->metrics &&
        (err = tr_metrics_eval(r->metrics, step, val, src->n, mean, src->windows, names)))
        return err;
    return 0;
}

/* A tokenizer of another size than the dataset's vocabulary (a manifest
 * edited, or written by another tool): ids past its pieces cannot be
 * decoded and the model carries rows no token uses; said once, when it is
 * loaded (samples printed raw ids without a word). */
static void tokenizer_size_note(struct run *r)
{
    const uint32_t pieces = r->spm ? ingot_spm_vocab_size(r->spm) : 0;
    if (r->spm && pieces != tr_loader_vocab(r->loader))
        say(r, "note: the tokenizer has %" PRIu32 " pieces, but the dataset's vocabulary is "
            "%" PRIu32 " (manifest.json): %s; was the manifest edited or written by another "
            "tool?\n", pieces, tr_loader_vocab(r->loader), pieces < tr_loader_vocab(r->loader)
            ? "ids past its pieces cannot be decoded, and the model has rows no token of it "
              "uses" : "the model cannot produce its last pieces");
}

static int sample(struct run *r, int64_t step)
{
    const struct tr_opts *o = r->o;
    const struct dataset *ds = tr_loader_dataset(r->loader);
    int n_new = o->sample_tokens, err;
    if (tr_dist_rank(r->dist) != 0)
        return 0;
    int32_t *ids = malloc(((size_t)n_new + 1) * sizeof(int32_t));
    if (!ids)
        return ingot_oom("sample token ids", ((size_t)n_new + 1) * sizeof(int32_t));
    /* Prompt: BOS when the tokenizer has one, else the first val (or
     * train) token. */
    int32_t bos = ds ? ds->manifest->tokenizer.bos_id : -1;
    if (bos >= 0 && bos < r->cfg.vocab)
        ids[0] = bos;
    else if (r->n_val)
        ids[0] = r->val_rows[0];
    else
        ids[0] = 0;
    struct tr_sample_opts so = { .n_new = n_new, .top_k = o->top_k,
        .temperature = o->temperature, .seed = o->seed ^ tr_mix64((uint64_t)step) };
    if ((err = tr_sample(r->ops, r->be, &r->cfg, &so, ids, 1)))
        goto out;
    if (ds && !r->spm_tried) {
        r->spm_tried = true;
        char *note = NULL;
        if (dataset_load_tokenizer(ds, o->tokenizer, &r->spm, NULL, &note)) {
            say(r, "note: cannot decode samples (%s); printing token ids (--tokenizer FILE)\n",
                ingot_errmsg());
            ingot_clear_err();
            r->spm = NULL;
        } else {
            if (note)
                say(r, "note: %s\n", note);
            tokenizer_size_note(r);
        }
        free(note);
    }
    say(r, "---- sample at step %" PRId64 " ----\n", step);
    char *text = NULL;
    size_t len;
    int dec = r->spm ? ingot_spm_decode(r->spm, (const uint32_t *)ids, (size_t)n_new + 1, &text,
                                        &len) : -ENOENT;
    if (!dec) {
        say(r, "%s\n", text);
    } else {
        if (r->spm && !r->decode_said) {   /* why ids, once (it was dropped) */
            r->decode_said = true;
            say(r, "note: the sample cannot be decoded (%s); printing token ids\n",
                ingot_errmsg_for(dec));
        }
        ingot_clear_err();
        for (int i = 0; i <= n_new; i++)
            say(r, "%s%d", i ? " " : "", ids[i]);
        say(r, "\n");
    }
    say(r, "----\n");
    free(text);
out:
    free(ids);
    return err;
}

/* "n/a" for a negative (unavailable) figure. */
static const char *fig(double v, const char *fmt, char *buf, size_t len)
{
    if (v < 0.0)
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, fmt, v);
    return buf;
}

/* --profile: the back end's figures of the step just collected plus the
 * loop's own (chunk assembly, tok/s, MFU); one table row per step. */
static void profile_step(struct run *r, const struct tr_step_result *res, double tps,
                         struct tr_metrics_prof *mp)
{
    struct tr_step_prof p;
    if (!r->ops->step_profile || r->ops->step_profile(r->be, &p)) {
        ingot_clear_err();
        /* designated: fields the back ends add later stay 0 */
        p = (struct tr_step_prof){ .upload_ms = -1, .fwd_ms = -1, .bwd_ms = -1, .opt_ms = -1,
                                   .gpu_idle_ms = -1, .gpu_busy_pct = -1, .cpu_pct = -1,
                                   .host_wall_s = -1,
                                   .syncs = -1, .host_allocs = -1, .gpu_util_pct = -1,
                                   .sm_clock_mhz = -1, .power_w = -1, .power_capped = -1,
                                   .dp_reduce_ms = -1,
                                   .dp_exposed_ms = -1, .dp_busbw_gbs = -1,
                                   .gpu_mem_mib = -1 };
    }
    *mp = (struct tr_metrics_prof){
        .mfu = p.peak_tflops > 0.0 ? tps * p.flops_per_token / (p.peak_tflops * 1e12) : -1.0,
        .cpu_pct = p.cpu_pct, .gpu_busy_pct = p.gpu_busy_pct, .gpu_util_pct = p.gpu_util_pct,
        .sm_clock_mhz = p.sm_clock_mhz, .power_w = p.power_w, .power_capped = p.power_capped,
        .host_assemble_ms = r->assemble_ms[res->t % 4],
        .upload_ms = p.upload_ms, .fwd_ms = p.fwd_ms, .bwd_ms = p.bwd_ms, .opt_ms = p.opt_ms,
        .gpu_idle_ms = p.gpu_idle_ms, .syncs = p.syncs, .host_allocs = p.host_allocs,
        .host_wall_ms = p.host_wall_s > 0.0 ? 1e3 * p.host_wall_s : -1.0,
    };
    if (res->t == r->start_step + 1)
        say(r, "%6s %9s %5s %7s %7s %7s %7s %7s %8s %6s %5s %6s %6s %5s %5s %5s %3s %7s %7s "
            "%6s %7s\n", "step", "tok/s", "MFU%", "asm_ms", "up_ms", "fwd_ms", "bwd_ms",
            "opt_ms", "idle_ms", "busy%", "syncs", "allocs", "cpu%", "util%", "MHz", "W", "cap",
            "red_ms", "exp_ms", "GB/s", "memMiB");
    char b[16][24], w[24];
    const char *cap = p.power_capped < 0.0 ? "n/a" : p.power_capped > 0.0 ? "yes" : "no";
    say(r, "%6d %9.0f %5s %7.3f %7s %7s %7s %7s %8s %6s %5s %6s %6s %5s %5s %5s %3s %7s %7s "
        "%6s %7s\n",
        res->t, tps,
        fig(100.0 * mp->mfu, "%.1f", b[0], 24), mp->host_assemble_ms,
        fig(mp->upload_ms, "%.3f", b[1], 24), fig(mp->fwd_ms, "%.2f", b[2], 24),
        fig(mp->bwd_ms, "%.2f", b[3], 24), fig(mp->opt_ms, "%.2f", b[4], 24),
        fig(mp->gpu_idle_ms, "%.3f", b[5], 24), fig(mp->gpu_busy_pct, "%.1f", b[6], 24),
        fig((double)mp->syncs, "%.0f", b[7], 24), fig((double)mp->host_allocs, "%.0f", b[8], 24),
        fig(mp->cpu_pct, "%.1f", b[9], 24), fig(mp->gpu_util_pct, "%.0f", b[10], 24),
        fig(mp->sm_clock_mhz, "%.0f", b[11], 24), fig(p.power_w, "%.0f", w, 24), cap,
        fig(p.dp_reduce_ms, "%.3f", b[12], 24),
        fig(p.dp_exposed_ms, "%.3f", b[13], 24), fig(p.dp_busbw_gbs, "%.1f", b[14], 24),
        fig(p.gpu_mem_mib, "%.0f", b[15], 24));
    if (res->t > r->start_step + 3) {
        r->prof_n++;
        r->prof_rate[(r->prof_n - 1) % PROF_RATES] = tps;
        r->prof_tps += tps;
        r->prof_mfu += mp->mfu;
        if (mp->cpu_pct >= 0.0 && p.host_wall_s > 0.0) {   /* CPU seconds over wall */
            r->prof_cpu_s += mp->cpu_pct / 100.0 * p.host_wall_s;
            r->prof_wall_s += p.host_wall_s;
        }
        r->prof_syncs += (double)mp->syncs;
        r->prof_busy += mp->gpu_busy_pct;
        if (p.power_w >= 0.0) {
            r->prof_pw_n++;
            r->prof_pw += p.power_w;
            r->prof_capped_n += p.power_capped > 0.0;
        }
    }
}

/* Seconds as "45s", "12m05s", "3h07m" or "2d04h". */
static void fmt_eta(double s, char *buf, size_t len)
{
    long long x = s > 0.0 && s < 1e9 ? (long long)(s + 0.5) : 0;
    if (x < 60)
        snprintf(buf, len, "%llds", x);
    else if (x < 3600)
        snprintf(buf, len, "%lldm%02llds", x / 60, x % 60);
    else if (x < 86400)
        snprintf(buf, len, "%lldh%02lldm", x / 3600, x % 3600 / 60);
    else
        snprintf(buf, len, "%lldd%02lldh", x / 86400, x % 86400 / 3600);
}

/* Account for, print and log one collected step. */
static int report(struct run *r, const struct tr_step_result *res, int64_t end)
{
    double t = mono_now(), dt = t - r->mark;
    r->mark = t;
    r->elapsed_s += dt;
    r->session_s += dt;
    r->session_steps++;
    r->tokens += r->tokens_per_step;
    /* the step's rate: over its device period where the back end measures
     * one (the host's interval shifts where the loop drains), else over the
     * host's interval; the elapsed time and the ETA stay the host's */
    const double rate_s = res->period_s > 0.0 ? res->period_s : dt;
    r->step_s = rate_s;
    double tps = rate_s > 0.0 ? (double)r->tokens_per_step / rate_s : 0.0;
    float lr = tr_schedule_lr(&r->sched, res->t);
    if (!isfinite(res->loss))
        return ingot_fail(INGOT_E_INPUT, "step %d: the loss is %g; training diverged (try a lower "
                          "--lr or --grad-clip 1)", res->t, res->loss);
    /* a gradient that overflowed makes the update NaN while the step's loss
     * (from before the update) is still finite: the checkpoint of that step
     * held NaN weights, which a resume, an export and eval refused, and the
     * run only stopped at the next step's loss. Stopped here, before its save */
    if (!isfinite(res->grad_norm))
        return ingot_fail(INGOT_E_INPUT, "step %d: the gradient norm is %g (loss %.4f); training "
                          "diverged and this step's update is not finite, so it is not saved%s",
                          res->t, res->grad_norm, res->loss, !r->o->ckpt_dir ?
                          " (no --ckpt-dir: run again with a lower --lr or --grad-clip 1)" :
                          " (a checkpoint in --ckpt-dir, if any, is of an earlier step: resume "
                          "from it, or start again, with a lower --lr or --grad-clip 1)");
    struct tr_metrics_prof mp;
    if (r->o->profile > 0)
        profile_step(r, res, tps, &mp);
    if (r->metrics) {
        struct tr_metrics_step ms = {
            .step = res->t, .loss = res->loss, .accuracy = res->accuracy, .lr = lr,
            .grad_norm = res->grad_norm, .tokens = r->tokens, .tok_per_s = tps,
            .elapsed_s = r->elapsed_s, .prof = r->o->profile > 0 ? &mp : NULL,
            .n_src = tr_loader_n_sources(r->loader) > 1 ? tr_loader_n_sources(r->loader) : 0,
            .src_tokens = r->src_tokens[res->t % 4],
        };
        int err = tr_metrics_step(r->metrics, &ms);
        if (err)
            return err;
    }
    if (r->o->profile <= 0 &&
        (res->t % r->o->print_every == 0 || res->t == end || res->t == r->start_step + 1)) {
        char b1[32], eta[32];
        /* ETA to the run's last step at this invocation's mean step time */
        double left = (double)(r->o->steps - res->t) * r->session_s / (double)r->session_steps;
        fmt_eta(left, eta, sizeof(eta));
        say(r, "step %6d/%d | loss %.4f | acc %5.1f%% | lr %.2e | norm %6.3f | %s tok/s | %.1f s "
            "| ETA %s\n", res->t, r->o->steps, res->loss, 100.0 * res->accuracy, (double)lr,
            res->grad_norm, cli_human(tps, b1, sizeof(b1)), r->elapsed_s, eta);
    }
    return 0;
}

static int dump_batch(struct run *r)
{
    float *p = malloc(r->n_params * sizeof(float));
    double loss;
    char from[512];   /* where --dump-batch came from, when not the command line */
    int err;
    if (!p)
        return ingot_oom("parameters for --dump-batch", r->n_params * sizeof(float));
    if (!(err = r->ops->get_params(r->be, p)) &&
        !(err = tr_loader_next(r->loader, r->chunk, (size_t)r->o->batch)) &&
        !(err = tr_dump_batch(r->o->dump_batch, &r->cfg, p, r->chunk, r->o->batch,
                              (uint64_t)r->start_step, &loss)))
        say(r, "wrote %s%s: batch %d x %d after step %" PRId64 ", CPU loss %.6f\n",
            TERM_SHOW(r->o->dump_batch), tr_opts_origin(r->o, "dump-batch", from, sizeof(from)),
            r->o->batch, r->cfg.seq_len, r->start_step, loss);
    free(p);
    return err;
}

/* The data failed under step s + 1 (a shard truncated or corrupted while
 * training): finish the steps in flight, keep them in a checkpoint where
 * --ckpt-dir is set (the loader is back at the start of the failed step),
 * then fail with the loader's message, which names the shard. */
static int data_failed(struct run *r, int64_t s, int inflight, int64_t end, int err)
{
    char msg[INGOT_ERRMSG_MAX];
    snprintf(msg, sizeof(msg), "%s", ingot_errmsg_for(err));
    struct tr_step_result res = {.period_s = -1.0};
    int e = 0;
    for (; inflight > 0 && !e; inflight--)
        if (!(e = r->ops->collect_step(r->be, &res)))
            e = report(r, &res, end);
    if (!e && r->o->ckpt_dir && s > r->start_step) {
        /* as long as it takes, as every save (run_loop) */
        tr_dist_local_work(r->dist, s, "checkpoint after a data error");
        e = save_checkpoint(r, s);
    }
    if (e)
        return e;   /* the later failure is the one to fix first */
    /* rank 0 writes the checkpoints: it writes this one only when its own
     * data failed at the same step (shared storage); with its data whole it
     * learns of this when this rank leaves its next collective, and fails
     * there without a save. This rank cannot tell which (it said "the
     * checkpoint ... is written" either way). */
    if (tr_dist_world(r->dist) > 1 && tr_dist_rank(r->dist) != 0)
        return ingot_fail(err, "%s (rank %d, after step %" PRId64 "; rank 0 writes the "
                          "checkpoint of that step only if its data failed there too, else it "
                          "stops at its next collective without one: --resume from the newest "
                          "checkpoint once every rank's data is whole)", msg,
                          tr_dist_rank(r->dist), s);
    if (!r->o->ckpt_dir || s <= r->start_step)
        return ingot_fail(err, "%s (after step %" PRId64 "; %s)", msg, s, !r->o->ckpt_dir ?
                          "no --ckpt-dir, nothing saved" : "no step finished in this run");
    return ingot_fail(err, "%s (the checkpoint of step %" PRId64 " is written: --resume once "
                      "the data is whole)", msg, s);
}

/* The loader's next chunk for step s; with --profile its assembly time,
 * kept for the step's report (steps in flight: up to 3, hence 4 entries). */
static int next_chunk(struct run *r, int64_t s, size_t rows)
{
    const double t0 = r->o->profile > 0 ? mono_now() : 0.0;
    int err = tr_loader_next(r->loader, r->chunk, rows);
    if (r->o->profile > 0)
        r->assemble_ms[s % 4] = 1e3 * (mono_now() - t0);
    return err;
}

/* --profile's closing line: the steps after 3 warm-up. */
static void profile_summary(struct run *r)
{
    if (r->o->profile <= 0 || r->prof_n <= 0)
        return;
    char b[4][24];
    double n = r->prof_n;
    /* The median rate, as scripts/bench-train.sh takes it, not the mean:
     * one odd step would swamp a mean (before the rates came from the
     * device's step periods, the host's interval made the step before a
     * drain's last one 12.2 M tok/s on an H200, and the mean 1.56 M). */
    const int m = r->prof_n < PROF_RATES ? r->prof_n : PROF_RATES;
    const double tps = ingot_median(r->prof_rate, (size_t)m);
    /* every step's MFU is its rate times the same factor */
    const double mfu = r->prof_tps > 0.0 ? tps * r->prof_mfu / r->prof_tps : -1.0;
    /* the unit inside the figure: a figure not known is "n/a", not "n/a%" */
    /* CPU: the seconds of those steps over their wall time, not the mean of
     * each step's %: a drain collects steps back to back, and one such
     * step (0.2 ms of wall at 90%) made a 2% run read 19% */
    const double cpu = r->prof_wall_s > 0.0 ? 100.0 * r->prof_cpu_s / r->prof_wall_s : -1.0;
    say(r, "profile: median of %d steps after 3 warm-up: %.0f tok/s, MFU %s; means: CPU %s "
        "of a core, %s syncs/step, GPU busy %s\n", m, tps,
        fig(100.0 * mfu, "%.1f%%", b[0], 24), fig(cpu, "%.1f%%", b[1], 24),
        fig(r->prof_syncs / n, "%.2f", b[2], 24), fig(r->prof_busy / n, "%.1f%%", b[3], 24));
    /* at the board's power cap a kernel's speed depends on what runs around
     * it (docs/performance.md, round 14): say so */
    if (r->prof_pw_n > 0)
        say(r, "profile: GPU power %.0f W mean over %d steps, held by the power cap in %d of "
            "them\n", r->prof_pw / r->prof_pw_n, r->prof_pw_n, r->prof_capped_n);
}

/* What --time-limit keeps room for after the vote of step s: the step in
 * flight and the next one, the evaluations due at s and s + 1 and the
 * checkpoints (one due at s, the stop's own at s + 1), each as long as the
 * last took. */
struct time_room {
    double at;                  /* when it was reckoned, seconds since the start */
    double step_s, eval_s, save_s;
    int n_eval, n_save;
    bool eval_est, save_est;    /* none done yet: estimated */
};

/* The seconds a reckoning keeps: the sum its message quotes. */
static double time_room_need(const struct time_room *room)
{
    return 2.0 * room->step_s + room->n_eval * room->eval_s + room->n_save * room->save_s;
}

/* Whether the evaluation runs after step t (tr_step's do_val). */
static bool eval_due(const struct run *r, int64_t t)
{
    return r->n_val && r->o->val_every && (t % r->o->val_every == 0 || t == r->o->steps);
}

/* --time-limit: whether ending after step s is the last chance to end with
 * a checkpoint inside the limit (room, above). Before the first save and
 * evaluation their cost is estimated, not taken as 0 (a 1 GB checkpoint at
 * 200 MB/s; val windows at a third of a training token's time each): the
 * stop's own save overran a limit by 4 s. Only the evaluations due are
 * counted: two at every step stopped a 3 s run of a tiny model after 0.3 s,
 * with 94 steps to go before the first. */
static bool time_is_up(const struct run *r, int64_t s, struct time_room *room)
{
    if (r->o->time_limit <= 0.0)
        return false;
    *room = (struct time_room){ .step_s = r->step_s, .eval_s = r->eval_s, .save_s = r->save_s };
    if (room->save_s <= 0.0 && r->o->ckpt_dir) {
        room->save_s = 0.5 + (double)r->n_params * 12.0 / 200e6;
        room->save_est = true;
    }
    if (room->eval_s <= 0.0 && r->n_val && r->o->val_every && r->tokens_per_step) {
        room->eval_s = r->step_s / 3.0 * (double)(r->n_val * (uint64_t)r->o->seq_len) /
                       (double)r->tokens_per_step;
        room->eval_est = true;
    }
    room->n_eval = eval_due(r, s) + eval_due(r, s + 1);
    room->n_save = 1 + (r->o->ckpt_every && s % r->o->ckpt_every == 0);
    room->at = mono_now() - r->t_start;
    return room->at + time_room_need(room) >= r->o->time_limit;
}

/* The end of a run stopped by a request after step s. With ranks the stop is
 * collective: this rank's line says whether it was signalled itself or
 * stopped because another rank was (named, with its host and signal). Every
 * rank told the truth only about itself before: the ranks never signalled
 * said "interrupted" too, and the job's log could not tell who was. mine:
 * this rank's own cause; v: the vote's outcome. */
static int interrupted(const struct run *r, int64_t s, int mine, const struct tr_dist_stop *v)
{
    const char *saved = r->o->ckpt_dir ? "; checkpoint written, continue with --resume" :
                                         " (no --ckpt-dir, nothing saved)";
    const int w = tr_dist_world(r->dist);
    /* the exit status follows the signal the line names: this rank's own,
     * else the other rank's (128 + N whichever rank received it) */
    stopped_by = w <= 1 ? stop_requested : mine > 0 ? mine : v->cause;
    if (w <= 1)
        return ingot_fail(INGOT_E_INTERRUPTED, "interrupted after step %" PRId64 "%s", s, saved);
    char many[64] = "";
    if (v->asked > 1)
        snprintf(many, sizeof(many), " (%s%d ranks were signalled)", v->asked == w ? "all " : "",
                 v->asked);
    if (mine > 0)
        return ingot_fail(INGOT_E_INTERRUPTED, "interrupted after step %" PRId64 " by %s to "
                          "this rank%s%s%s", s, sig_name(mine), many, v->asked == w ? "" :
                          ", and the other ranks stopped with it", saved);
    if (v->cause < 0)   /* rank 0's progress lines (it alone prints): a failure, exit 1 */
        return ingot_fail(-EPIPE, "stopped after step %" PRId64 ": rank %d (%s) could not write "
                          "its progress lines (standard output), and this rank stops with it%s",
                          s, v->who, v->host, saved);
    return ingot_fail(INGOT_E_INTERRUPTED, "stopped after step %" PRId64 ": rank %d (%s) was "
                      "interrupted by %s%s, and this rank stops with it%s", s, v->who, v->host,
                      sig_name(v->cause), many, saved);
}

/* The step this invocation ends at: --steps, or earlier by --stop-after or
 * --profile's count. */
static int64_t run_end_step(const struct run *r)
{
    const struct tr_opts *o = r->o;
    int64_t end = o->stop_after > 0 ? o->stop_after : o->steps;
    if (o->profile > 0 && r->start_step + o->profile < end)
        end = r->start_step + o->profile;
    return end;
}

static int run_loop(struct run *r)
{
    const struct tr_opts *o = r->o;
    int64_t end = run_end_step(r);
    size_t rows = (size_t)o->grad_accum * o->batch;
    int inflight = 0, err = 0;
    struct tr_step_result res = {.period_s = -1.0};
    if (r->start_step >= end) {
        say(r, "nothing to do: the checkpoint is at step %" PRId64 " and this run ends at step %"
            PRId64 "\n", r->start_step, end);
        return 0;
    }
    /* a signal during start-up (a large model's init takes seconds): stop
     * here, with nothing trained and so nothing to save (it went on through
     * a whole step and a checkpoint first, and further signals changed
     * nothing). With ranks the stop is collective: the first vote has it.
     * Progress lines that could not be written (r->out_err) keep their own
     * end: after step 1, with a checkpoint to resume from. */
    if (stop_requested && !r->out_err && tr_dist_world(r->dist) <= 1) {
        stopped_by = stop_requested;
        return ingot_fail(INGOT_E_INTERRUPTED, "interrupted during start-up, before step %" PRId64
                          ": nothing trained in this run, nothing saved%s", r->start_step + 1,
                          r->start_step ? " (the checkpoint it started from is as it was)" : "");
    }
    r->mark = mono_now();
    for (int64_t s = r->start_step + 1; s <= end; s++) {
        tr_dist_progress(r->dist, s, "step");
        if ((err = next_chunk(r, s, rows)))
            return data_failed(r, s - 1, inflight, end, err);
        if (tr_loader_n_sources(r->loader) > 1) {   /* as of this step, for its report */
            struct tr_loader_pos pos;
            tr_loader_get_pos(r->loader, &pos);
            for (int i = 0; i < pos.n_src; i++)
                r->src_tokens[s % 4][i] = pos.src[i].windows * (uint64_t)r->cfg.seq_len;
        }
        struct tr_step_hparams hp = {
            .t = (int)s, .lr = tr_schedule_lr(&r->sched, (int)s), .weight_decay = o->weight_decay,
            .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .grad_clip = o->grad_clip,
        };
        /* every rank reads the whole step; it computes its own micro-steps */
        if ((err = r->ops->submit_step(r->be, r->chunk + r->share.first_row *
                                       (size_t)(r->cfg.seq_len + 1), &hp)))
            return err;
        inflight++;
        /* a stop is collective: a rank that left alone would hang the rest.
         * Two flags in one vote: a signal (exit 128 + N on every rank) and
         * --time-limit reached (exit 0) */
        const int mine = stop_requested;
        struct time_room room = { 0 };
        const bool my_time = time_is_up(r, s, &room);
        struct tr_dist_stop v = { .cause = mine, .time_up = my_time };
        if ((err = tr_dist_stop_vote(r->dist, &v, &v, "stop vote")))
            return err;
        bool stop = v.asked || v.time_up;
        tr_dist_local_end(r->dist);   /* every rank is past the last local work */
        /* evaluation and samples follow the run's step numbers (and its real
         * end), not where this invocation stops, so that a resumed run logs
         * exactly what an uninterrupted one does */
        bool last = s == o->steps;
        bool do_val = r->n_val && o->val_every && (s % o->val_every == 0 || last);
        bool do_sample = o->sample_every && (s % o->sample_every == 0 || last);
        bool do_ckpt = o->ckpt_dir && ((o->ckpt_every && s % o->ckpt_every == 0) || s == end || stop);
        bool sync = s == end || do_val || do_sample || do_ckpt || stop;
        while (inflight >= r->ops->max_in_flight || (sync && inflight > 0)) {
            if ((err = r->ops->collect_step(r->be, &res)) || (err = report(r, &res, end)))
                return err;
            inflight--;
        }
        if (!sync)
            continue;
        /* each rank evaluates, rank 0 alone samples and saves: as long as it
         * takes (not --dist-timeout), the others waiting for it in the next
         * step's collectives, up to its stop vote (tr_dist_local_end) */
        tr_dist_local_work(r->dist, s, "evaluation, sample or checkpoint");
        const double t_eval = mono_now();
        if (do_val && (err = evaluate(r, s)))
            return err;
        const double eval_s = do_val ? mono_now() - t_eval : 0.0;
        if (do_val)
            r->eval_s = eval_s;
        if (do_sample && (err = sample(r, s)))
            return err;
        const double t_save = mono_now();
        if (do_ckpt && (err = save_checkpoint(r, s)))
            return err;
        if (do_ckpt)
            r->save_s = mono_now() - t_save;
        /* every rank evaluated; only rank 0 samples and saves: the ranks
         * whose work no other rank's can outlast (by more than an
         * evaluation's time) wait on a clock again */
        if (tr_dist_rank(r->dist) == 0 || !(do_sample || do_ckpt))
            tr_dist_local_done(r->dist, eval_s);
        r->mark = mono_now();   /* evaluation and I/O are not training time */
        /* a signal during this step's save: the save is the stop's checkpoint
         * (one process: no vote needed; with ranks the stop waits for the
         * next vote, where the others may be serving --zero 1's gathers) */
        if (!stop && do_ckpt && stop_requested && tr_dist_world(r->dist) <= 1 && s < end) {
            stop = true;
            v.asked = 1;
        }
        if (stop && s < end && v.asked && r->out_err)
            return output_lost(r, s, false);
        if (stop && s < end && v.asked)
            return interrupted(r, s, mine, &v);
        if (stop && s < end) {
            if (my_time) {
                /* the figures the stop was reckoned with, when it was: they
                 * add up to the limit (it quoted the stop's own save,
                 * measured after the decision, and left an estimated
                 * evaluation out: "1 s after the start ... the last took
                 * 0.14 s and 0.03 s" for a limit of 3 s) */
                char ev[96] = "";
                if (room.n_eval)
                    snprintf(ev, sizeof(ev), ", %s of %.2f s%s", room.n_eval == 1 ?
                             "1 evaluation" : "2 evaluations", room.eval_s,
                             room.eval_est ? " (estimated)" : "");
                say(r, "stopped after step %" PRId64 " of %d: at %.1f s after the start the "
                    "--time-limit of %g s left no room for what must follow (%.2f s more: 2 "
                    "steps of %.2f s%s and %d checkpoint%s of %.2f s%s); checkpoint written, "
                    "continue with --resume\n", s, o->steps, room.at, o->time_limit,
                    time_room_need(&room), room.step_s, ev, room.n_save,
                    room.n_save == 1 ? "" : "s", room.save_s,
                    room.save_est ? " (estimated)" : "");
            } else   /* another rank's limit (the ranks may be given different ones) */
                say(r, "stopped after step %" PRId64 " of %d: another rank's --time-limit "
                    "was reached; checkpoint written, continue with --resume\n", s, o->steps);
            return 0;
        }
    }
    /* a run cut short on purpose says where it stands, as an interrupted
     * one does */
    if (o->stop_after > 0 && end == o->stop_after && end < o->steps)
        say(r, "stopped after step %" PRId64 " of %d (--stop-after)%s\n", end, o->steps,
            o->ckpt_dir ? "; checkpoint written, continue with --resume" :
            " (no --ckpt-dir, nothing saved)");
    return 0;
}

/* Seconds between the lines that say how far the verify of the data at
 * start is (a dataset of a few GB is verified before the first line). */
#define TR_VERIFY_PROGRESS_S 10.0

int tr_train(const struct tr_opts *o, int launcher_rank)
{
    struct run r = { .o = o, .lock_fd = -1, .t_start = mono_now() };
    int err;
    struct tr_loader_opts lo = {
        .dir = o->data, .sources = o->data_src, .n_sources = o->n_data, .seq_len = o->seq_len,
        .seed = o->seed, .sequential = o->sequential, .synthetic = o->synthetic,
        .synth_vocab = (uint32_t)o->vocab, .verify = o->verify,
    };
    /* the verify of a large dataset takes minutes: rank 0 says how far it
     * is (the ranks are known by their launcher's variables only here) */
    if (!o->quiet && tr_dist_run_first(o, launcher_rank))
        lo.progress_s = TR_VERIFY_PROGRESS_S;
    if ((err = tr_backend_select(o->device, &r.ops)))
        return err;
    if (o->precision && !strcmp(o->precision, "bf16") && !strcmp(r.ops->name, "cpu"))
        return ingot_fail(INGOT_E_USAGE, "--precision bf16 needs --device cuda (the CPU back "
                          "end computes in fp32)%s", strcmp(o->device, "auto") ? "" :
                          "; --device auto found no usable GPU here");
    if ((err = tr_loader_open(&lo, &r.loader))) {
        /* a dataset the checkpoint's settings name, moved since: say so */
        char msg[INGOT_ERRMSG_MAX];
        const char *who = err == -ENOENT ? tr_opts_source(o, "data") : NULL;
        if (who) {
            snprintf(msg, sizeof(msg), "%s", ingot_errmsg_for(err));
            err = ingot_fail(err, "%s: the path %s names; pass --data DIR where the dataset is "
                             "now (made with the same tokenizer)", msg, who);
        }
        goto out;
    }
    /* a copy of another source (cp -r): the same shards twice, its weight
     * added to the other's and its val windows counted twice; said, not
     * refused (the same directory under another name is refused) */
    for (int i = 1; i < tr_loader_n_sources(r.loader); i++)
        for (int k = 0; k < i; k++)
            if (tr_loader_source_id(r.loader, i) == tr_loader_source_id(r.loader, k))
                say(&r, "note: --data %s holds the same shards as --data %s (a copy: their "
                    "manifests' checksums are equal): the mixture draws them with both "
                    "weights added\n", TERM_SHOW(tr_loader_source_dir(r.loader, i)),
                    TERM_SHOW(tr_loader_source_dir(r.loader, k)));
    /* a manifest's 32-bit vocabulary past a model's int: named, not cast
     * into "vocabulary size -2147483000 is out of range" */
    if (tr_loader_vocab(r.loader) > (uint32_t)(INT_MAX - TR_VOCAB_PAD)) {
        err = ingot_fail(INGOT_E_USAGE, "%s: a vocabulary of %" PRIu32 " ids is past the "
                         "largest a model can have (%d)",
                         o->synthetic ? "--vocab" : TERM_SHOW(o->data),
                         tr_loader_vocab(r.loader), INT_MAX - TR_VOCAB_PAD);
        goto out;
    }
    /* a --tokenizer given now (on the command line or in a --config file):
     * a missing file or another tokenizer's model said at once (it was a
     * note at the first sample, or never without --sample-every); one
     * carried over from the checkpoint's settings stays a note there (a
     * checkpoint from elsewhere names a path of that machine) */
    const struct dataset *tds = tr_loader_dataset(r.loader);
    if (o->tokenizer && tds && !tr_opts_carried(o, "tokenizer")) {
        char *note = NULL, from[512];
        r.spm_tried = true;
        err = dataset_load_tokenizer(tds, o->tokenizer, &r.spm, NULL, &note);
        free(note);
        if (err) {
            err = ingot_fail(err, "--tokenizer%s: %s; pass the dataset's tokenizer (its copy, "
                             "DATA/tokenizer.model, is taken without --tokenizer)",
                             tr_opts_origin(o, "tokenizer", from, sizeof(from)),
                             ingot_errmsg_for(err));
            goto out;
        }
        tokenizer_size_note(&r);
    }
    r.cfg = (struct tr_config){ .n_layer = o->layers, .n_head = o->heads, .n_embd = o->dim,
                                .seq_len = o->seq_len, .vocab = (int)tr_loader_vocab(r.loader) };
    if (!strcmp(o->arch, "llama")) {
        r.cfg.arch = TR_ARCH_LLAMA;
        r.cfg.n_kv_head = o->kv_heads;
        r.cfg.ffn_dim = o->ffn_dim;
        r.cfg.rope_theta = o->rope_theta;
        r.cfg.norm_eps = o->norm_eps;
        r.cfg.tie_embeddings = o->tie_embeddings;
    }
    tr_config_pad_vocab(&r.cfg);
    if ((err = tr_config_check(&r.cfg)) ||
        (err = tr_dist_run_open(o, &r.cfg, r.loader, r.ops->name, &stop_requested, &stopped_by,
                                &r.dist, &r.share)))
        goto out;
    if (o->dump_batch && tr_dist_world(r.dist) > 1) {
        err = ingot_fail(INGOT_E_USAGE, "--dump-batch is for one process, not %d ranks",
                         tr_dist_world(r.dist));
        goto out;
    }
    /* one run per --ckpt-dir (rank 0 writes for all ranks) */
    if (o->ckpt_dir && !o->dump_batch && tr_dist_rank(r.dist) == 0 &&
        (err = lock_ckpt_dir(&r)))
        goto out;
    r.n_params = tr_param_count(&r.cfg);
    if (o->ckpt_dir && !o->dump_batch && tr_dist_rank(r.dist) == 0)
        ckpt_space_warning(&r);
    r.sched = (struct tr_schedule){
        .lr = o->lr, .min_lr = o->min_lr, .warmup = o->warmup, .steps = o->steps,
        .kind = (enum tr_schedule_kind)o->lr_schedule,
        .cooldown = tr_opts_cooldown(o) };
    r.tokens_per_step = (uint64_t)o->grad_accum * o->batch * o->seq_len;
    r.chunk = malloc((size_t)o->grad_accum * o->batch * (o->seq_len + 1) * sizeof(int32_t));
    if (!r.chunk) {
        err = ingot_oom("a step's tokens",
                        (size_t)o->grad_accum * o->batch * (o->seq_len + 1) * sizeof(int32_t));
        goto out;
    }
    if ((err = setup_model(&r)))
        goto out;

    char b1[32], b2[32];
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    char shape[96] = "";
    if (r.cfg.arch == TR_ARCH_LLAMA)
        snprintf(shape, sizeof(shape), "llama KV%d F%d%s ", r.cfg.n_kv_head, r.cfg.ffn_dim,
                 r.cfg.tie_embeddings ? " tied" : "");
    /* The count as llm.c gives it (the padded rows of the embedding, and of
     * an untied head, included) and as Hugging Face does, without them: the
     * export drops them (124.48M against transformers' 124.44M for GPT-2) */
    const size_t pad_rows = (size_t)(r.cfg.vocab_padded - r.cfg.vocab) *
                            (r.cfg.arch == TR_ARCH_LLAMA && !r.cfg.tie_embeddings ? 2 : 1);
    char real[48] = "";
    if (pad_rows)
        snprintf(real, sizeof(real), " (%s without the padding)",
                 cli_human((double)(r.n_params - pad_rows * (size_t)r.cfg.n_embd), b2,
                           sizeof(b2)));
    /* MiB to a tenth (whole MiB in cli_human's decimal k read "1.9k MiB" for
     * 1945 MiB, and "0 MiB" for a model under one) */
    say(&r, "ingot-train: device %s%s, model %sL%d H%d C%d T%d, vocab %d (padded %d), %s "
        "parameters%s, %.1f MiB\n", r.ops->name, !strcmp(r.ops->name, "cpu") ?
        (threads > 1 ? " (OpenMP)" : " (1 thread)") : "", shape, r.cfg.n_layer, r.cfg.n_head,
        r.cfg.n_embd, r.cfg.seq_len, r.cfg.vocab, r.cfg.vocab_padded,
        cli_human((double)r.n_params, b1, sizeof(b1)), real,
        (double)r.ops->mem_bytes(r.be) / (1024.0 * 1024.0));
    if (o->synthetic)
        say(&r, "data: synthetic uniform ids, vocab %d\n", o->vocab);
    else if (tr_loader_n_sources(r.loader) > 1)
        for (int i = 0; i < tr_loader_n_sources(r.loader); i++)
            say(&r, "data %d: %s, weight %.3f%s\n", i, TERM_SHOW(tr_loader_source_dir(r.loader, i)),
                tr_loader_source_weight(r.loader, i), i ? "" : " (the mixture's first source)");
    for (int i = 0; i < tr_loader_n_sources(r.loader); i++)
        warn_damaged(&r, tr_loader_source_dataset(r.loader, i));
    for (int i = 0; i < tr_loader_n_sources(r.loader); i++)
        note_equal_shards(&r, tr_loader_source_dataset(r.loader, i));
    if (!o->synthetic)
        say(&r, "data: %s: %s train tokens (%s window%s of %d per epoch), order %s, seed %"
            PRIu64 "\n", tr_loader_n_sources(r.loader) > 1 ? "the mixture" : TERM_SHOW(o->data),
            cli_human((double)tr_loader_train_tokens(r.loader), b1, sizeof(b1)),
            cli_human((double)tr_loader_windows(r.loader), b2, sizeof(b2)),
            tr_loader_windows(r.loader) == 1 ? "" : "s", o->seq_len,
            o->sequential ? "sequential" : "shuffled", o->seed);
    char sched[96];
    if (o->lr_schedule == TR_SCHED_CONSTANT)
        snprintf(sched, sizeof(sched), "lr %.2e constant", (double)o->lr);
    else if (o->lr_schedule == TR_SCHED_WSD)
        snprintf(sched, sizeof(sched), "lr %.2e, wsd: held to step %d, then linear -> %.2e",
                 (double)o->lr, o->steps - r.sched.cooldown, (double)o->min_lr);
    else
        snprintf(sched, sizeof(sched), "lr %.2e -> %.2e (%s)", (double)o->lr, (double)o->min_lr,
                 tr_schedule_name(r.sched.kind));
    /* --profile N runs N steps of the configured run, at that run's learning
     * rates: the line said "1000 steps" for a --profile 20 */
    char steps[160];
    const int64_t end = run_end_step(&r);
    if (o->profile > 0 && end > r.start_step)
        snprintf(steps, sizeof(steps), "--profile: %" PRId64 " step%s (%" PRId64 " to %" PRId64
                 " of the configured %d, on its schedule)", end - r.start_step,
                 end - r.start_step == 1 ? "" : "s", r.start_step + 1, end, o->steps);
    else
        snprintf(steps, sizeof(steps), "%d steps", o->steps);
    /* the products exactly: rounded ones did not multiply out ("16.4k tokens x 32
     * micro-steps = 524.3k", and 1Ki read "1.0k") */
    say(&r, "batch %d x %d = %lld tokens x %d micro-steps = %" PRIu64 " tokens/step; %s, "
        "warmup %d, %s\n", o->batch, o->seq_len, (long long)o->batch * o->seq_len,
        o->grad_accum, r.tokens_per_step, steps, o->warmup, sched);

    if (o->dump_batch) {
        err = dump_batch(&r);
        goto out;
    }
    /* The fixed val set. */
    if (o->val_every && o->val_tokens > 0) {
        r.n_val = tr_loader_val_take(r.loader, o->val_tokens, o->seq_len);
        if (!r.n_val)
            say(&r, "note: %s; no validation loss\n", o->synthetic ? "synthetic data" :
                "the dataset has no val split long enough for one window");
        else if (!(r.val_rows = malloc(r.n_val * (o->seq_len + 1) * sizeof(int32_t))))
            err = ingot_oom("val windows", r.n_val * (o->seq_len + 1) * sizeof(int32_t));
        else if (!(err = tr_loader_val_rows(r.loader, 0, r.n_val, r.val_rows)))
            err = setup_val_sources(&r);
        if (err)
            goto out;
    }
    if (r.n_val) {   /* a mixture's: how many of them each source has */
        char by[TR_MAX_SOURCES * (TR_SRC_NAME + 24)] = "";
        for (int i = 0, off = 0; i < r.src.n && off < (int)sizeof(by); i++)
            off += snprintf(by + off, sizeof(by) - (size_t)off, "%s%s %" PRIu64, i ? ", " : " (",
                            TERM_SHOW(r.src.name[i]), r.src.windows[i]);
        say(&r, "val: %" PRIu64 " window%s (%s tokens) every %d steps%s%s\n", r.n_val,
            r.n_val == 1 ? "" : "s", cli_human((double)r.n_val * o->seq_len, b1, sizeof(b1)),
            o->val_every, by, r.src.n ? ")" : "");
        for (int i = 0; i < r.src.n; i++)
            if (!r.src.windows[i])
                say(&r, "note: val: %s has no window in the val set (no val split a window "
                    "long, or its weight drew none in --val-tokens): its val loss is n/a\n",
                    TERM_SHOW(r.src.name[i]));
    }
    if (tr_dist_world(r.dist) > 1)
        say(&r, "data parallel: %d ranks over %s (launcher %s), %d of the %d micro-steps each\n",
            tr_dist_world(r.dist), tr_dist_name(r.dist), tr_dist_launcher(r.dist),
            r.share.k_local, o->grad_accum);
    if (o->ckpt_cadence_unused) {
        char from[512];
        tr_opts_origin(o, o->ckpt_every ? "ckpt-every" : "ckpt-keep", from, sizeof(from));
        say(&r, "note: ckpt-every/ckpt-keep%s apply with --ckpt-dir; no checkpoints in this "
            "run\n", from);
    }
    if (o->ckpt_dir && tr_opts_source(o, "ckpt-dir")) {   /* a path not typed here */
        char from[512];
        say(&r, "checkpoints: %s%s\n", TERM_SHOW(o->ckpt_dir),
            tr_opts_origin(o, "ckpt-dir", from, sizeof(from)));
    }
    /* A --metrics path the command line did not give is named with where
     * it came from; one from a checkpoint's settings (--resume) continues
     * the run's own file, and is not created when it is not there: a
     * checkpoint copied from elsewhere names a path of that machine. */
    const char *metrics = o->metrics, *msrc = metrics ? tr_opts_source(o, "metrics") : NULL;
    if (msrc && tr_dist_rank(r.dist) == 0 && r.start_step < run_end_step(&r)) {
        if (!strncmp(msrc, "checkpoint ", 11) && access(metrics, F_OK) != 0) {
            say(&r, "note: metrics: %s, the --metrics of %s, is not there (a checkpoint "
                "copied from elsewhere?): no metrics file this time; pass --metrics FILE for "
                "one\n", TERM_SHOW(metrics), msrc);
            metrics = NULL;
        } else {
            say(&r, "metrics: %s (from %s)\n", TERM_SHOW(metrics), msrc);
        }
    }
    /* a run with nothing to do leaves the records as they are: the ones
     * past its checkpoint went to FILE.dropped though no step replaced them.
     * Opened (and locked: another run may be writing it) before config.json
     * is written, so that a run refused here leaves that file as it was */
    if (metrics && tr_dist_rank(r.dist) == 0 && r.start_step < run_end_step(&r)) {
        size_t moved;
        /* a kill -9 while the file was cut back (tr_metrics_open rewrites
         * it) left FILE.tmp.<pid>, as large as the file, for good */
        int stale = 0;
        if (fs_remove_stale_temps_of(metrics, "--metrics", "run", &stale))
            ingot_clear_err();   /* best effort: the run does not need it */
        if (stale)
            say(&r, "metrics: removed %d stale temp file%s of a killed run beside %s\n", stale,
                stale == 1 ? "" : "s", TERM_SHOW(metrics));
        if ((err = tr_metrics_open(metrics, r.start_step > 0 ? r.start_step : -1,
                                   &r.metrics, &moved)))
            goto out;
        if (moved && r.start_step > 0)
            say(&r, "metrics: %s: %zu record%s after step %" PRId64 " (a run past this "
                "checkpoint) moved to %s.dropped\n", TERM_SHOW(metrics), moved,
                moved == 1 ? "" : "s", r.start_step, TERM_SHOW(metrics));
        else if (moved)
            say(&r, "metrics: %s held %zu record%s of an earlier run: moved to %s.dropped\n",
                TERM_SHOW(metrics), moved, moved == 1 ? "" : "s", TERM_SHOW(metrics));
    }
    /* the chosen settings next to the checkpoints, for people and for
     * --config (the checkpoints hold all of them) */
    if (o->ckpt_dir && !o->dump_batch && tr_dist_rank(r.dist) == 0 &&
        (err = tr_settings_write_config(o->ckpt_dir, o)))
        goto out;
    err = run_loop(&r);
    if (tr_loader_n_sources(r.loader) > 1) {
        struct tr_loader_pos pos;
        tr_loader_get_pos(r.loader, &pos);
        /* with each source's place, as a resume names it: how many times a
         * small source came round is what a mixture's user asks */
        for (int i = 0; i < pos.n_src; i++)
            say(&r, "data %d: %s tokens taken from %s (%.1f%%), now at epoch %" PRIu64
                ", window %" PRIu64 "\n", i,
                cli_human((double)pos.src[i].windows * o->seq_len, b1, sizeof(b1)),
                TERM_SHOW(tr_loader_source_dir(r.loader, i)),
                pos.index ? 100.0 * (double)pos.src[i].windows / (double)pos.index : 0.0,
                pos.src[i].epoch, pos.src[i].index);
    }
    if (!err)
        profile_summary(&r);
    if (!err && r.out_err)
        err = output_lost(&r, 0, true);
out:
    if (err && o->ckpt_dir_made && r.lock_fd >= 0) {
        tr_ckpt_dir_abandon(o->ckpt_dir, r.lock_fd);
        r.lock_fd = -1;
    }
    run_free(&r);
    return err;
}
