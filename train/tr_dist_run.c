/* ingot-train's data-parallel set-up (tr_dist_run.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"
#include "ingot_err.h"
#include "ingot_version.h"
#include "tr_dist_rdzv.h"
#include "tr_dist_run.h"
#include "tr_schedule.h"

extern char **environ;

/* The configuration every rank must share, in words, so that a difference
 * names the field: "batch=8, rank 0 has batch=4". */
static int describe(const struct tr_opts *o, const struct tr_config *c, const tr_loader *l,
                    const char *backend, char *buf, size_t len)
{
    /* the weights every rank starts from: --init-from or --resume on one
     * rank only, or two checkpoints of one step, left the ranks training
     * different copies without a word */
    char from[40] = "new";
    const char *ck = o->resume_path ? o->resume_path : o->init_from ? o->init_path : NULL;
    uint64_t id = 0;
    if (ck && tr_ckpt_payload_id(ck, &id)) {
        snprintf(from, sizeof(from), "unreadable");
        ingot_clear_err();   /* the restore names what is wrong with it */
    } else if (ck) {
        snprintf(from, sizeof(from), "%016" PRIx64, id);
    }
    /* the steps after which the ranks evaluate, sample, save or stop: the
     * others wait there for rank 0 (tr_dist_local_work), and a rank that
     * skipped such a step timed out in its next collective, or stopped
     * while the rest went on */
    char sched[224];
    const uint64_t n_val = o->val_every ? tr_loader_val_take(l, o->val_tokens, o->seq_len) : 0;
    snprintf(sched, sizeof(sched), " val-every=%d val-windows=%" PRIu64 " sample-every=%d "
             "ckpt-dir=%s ckpt-every=%d end=%d profile=%d", n_val ? o->val_every : 0, n_val,
             o->sample_every, o->ckpt_dir ? "given" : "none", o->ckpt_dir ? o->ckpt_every : 0,
             o->stop_after > 0 ? o->stop_after : o->steps, o->profile);
    /* one word per flag, named as the flag, so that a mismatch names it (a
     * packed 'lr=0.003,1e-05,cosine,0' left the user to decode --min-lr) */
    char arch[192] = "gpt2";
    if (c->arch == TR_ARCH_LLAMA)
        snprintf(arch, sizeof(arch), "llama kv-heads=%d ffn-dim=%d rope-theta=%.17g "
                 "norm-eps=%.9g tie-embeddings=%d", c->n_kv_head, c->ffn_dim, c->rope_theta,
                 (double)c->norm_eps, (int)c->tie_embeddings);
    /* the precision the run computes in: no flag on the CPU is fp32, on a GPU bf16 */
    const char *prec = o->precision ? o->precision : strcmp(backend, "cpu") ? "bf16" : "fp32";
    int n = snprintf(buf, len, "version=%s device=%s arch=%s model=L%d,H%d,C%d,T%d vocab=%d batch=%d "
             "batch-tokens=%" PRId64 " steps=%d seed=%" PRIu64 " lr=%g min-lr=%g "
             "lr-schedule=%s cooldown=%d warmup=%d wd=%g "
             "clip=%g precision=%s data=%s tokens=%" PRIu64 " data-content=%016" PRIx64
             " tokenizer=%016" PRIx64 " "
             "order=%s resume=%d zero=%d grad-reduce=%s weights=%s%s", ingot_version(), backend, arch, c->n_layer, c->n_head, c->n_embd,
             c->seq_len, c->vocab, o->batch, o->batch_tokens, o->steps, o->seed, (double)o->lr,
             (double)o->min_lr, tr_schedule_name(o->lr_schedule),
             tr_opts_cooldown(o), o->warmup, (double)o->weight_decay, (double)o->grad_clip,
             prec, o->synthetic ? "synthetic" : "dataset",
             tr_loader_train_tokens(l), tr_loader_data_id(l), tr_loader_tokenizer_hash(l),
             o->sequential ? "sequential" : "shuffled", o->resume, o->zero,
             o->grad_reduce_bf16 ? "bf16" : "fp32", from, sched);
    /* a cut description would compare only its start */
    if (n < 0 || (size_t)n >= len)
        return ingot_fail(INGOT_E_USAGE, "the run's description for the other ranks takes %d "
                          "bytes, more than the rendezvous's %zu (a very long version string?)",
                          n, len - 1);
    return 0;
}

/* No --batch splits o's global batch among w ranks (its sequences are no
 * multiple of w; a --batch was suggested all the same): the numbers of ranks
 * nearest w that do keep it, as ", or run on 2 or 4 ranks (...)". */
static void keeping_ranks(const struct tr_opts *o, int w, char *buf, size_t len)
{
    const int64_t seqs = o->batch_tokens / o->seq_len;
    int64_t below = 1, above = 0;
    for (int64_t d = w - 1; d > 1; d--)
        if (seqs % d == 0) {
            below = d;
            break;
        }
    for (int64_t d = w + 1; d <= seqs && !above; d++)
        if (seqs % d == 0)
            above = d;
    char n[64];
    if (above)
        snprintf(n, sizeof(n), "%" PRId64 " or %" PRId64 " ranks", below, above);
    else
        snprintf(n, sizeof(n), "%" PRId64 " rank%s", below, below == 1 ? "" : "s");
    snprintf(buf, len, ", or run on %s: no --batch splits its %" PRId64 " sequences of "
             "--seq-len %d among %d ranks", n, seqs, o->seq_len, w);
}

int tr_dist_run_open(const struct tr_opts *o, const struct tr_config *cfg, const tr_loader *l,
                     const char *backend, volatile sig_atomic_t *stop, int *stop_sig,
                     tr_dist **out, struct tr_dist_share *share)
{
    char conf[TR_RDZV_CONFIG];
    int err = describe(o, cfg, l, backend, conf, sizeof(conf));
    if (err)
        return err;
    struct tr_dist_opts dopts = {
        .mode = o->dist, .gpu = strcmp(backend, "cpu") != 0, .config = conf,
        .timeout_s = o->dist_timeout, .port = o->dist_port,
        .envp = (const char *const *)environ, .stop = stop, .stop_sig = stop_sig,
    };
    err = tr_dist_open(&dopts, out);
    if (err)
        return err;
    int w = tr_dist_world(*out), K = o->grad_accum;
    if (K % w) {
        long long micro = (long long)o->batch * o->seq_len, unit = micro * w;
        long long lo = (long long)K / w * unit, hi = lo + unit;
        tr_dist_free(*out);
        *out = NULL;
        /* the largest smaller --batch that keeps the global batch (a resumed
         * run's --batch-tokens is the checkpoint's: changing it changes the
         * run) */
        const int keep = tr_opts_batch_keeping(o, w);
        char from[512], alt[96] = "", ranks[160] = "";
        if (keep)
            snprintf(alt, sizeof(alt), "--batch %d (the same %" PRId64 " tokens per step), or ",
                     keep, o->batch_tokens);
        else
            keeping_ranks(o, w, ranks, sizeof(ranks));
        tr_opts_origin(o, "batch-tokens", from, sizeof(from));
        const char *src = tr_opts_source(o, "batch-tokens");
        const bool resumed = src && !strncmp(src, "checkpoint ", 11);
        return ingot_fail(INGOT_E_USAGE, "--batch-tokens %" PRId64 "%s = --batch %d x --seq-len "
                          "%d x %d micro-steps, which do not divide among %d ranks: use %sa "
                          "multiple of batch x seq-len x ranks = %lld (e.g. --batch-tokens %lld "
                          "or %lld%s)%s", o->batch_tokens, from, o->batch, o->seq_len, K, w, alt,
                          unit, lo ? lo : unit, lo ? hi : 2 * unit,
                          resumed ? ": another global batch than the checkpoint's" : "", ranks);
    }
    share->k_local = K / w;
    share->first_row = (size_t)tr_dist_rank(*out) * (size_t)share->k_local * (size_t)o->batch;
    return 0;
}

void tr_dist_run_default_batch(struct tr_opts *o, int world)
{
    if (!(o->derived & TR_DERIVED_BATCH_TOKENS) || !strcmp(o->dist, "none"))
        return;
    if (world > 1 && o->grad_accum <= (1 << 20) / world) {
        o->batch_tokens *= world;
        o->grad_accum *= world;
    }
}

bool tr_dist_run_first(const struct tr_opts *o, int rank)
{
    return !strcmp(o->dist, "none") || rank == 0;
}

bool tr_dist_run_world_note(int was, int now, int grad_accum, char *buf, size_t len)
{
    if (len)
        buf[0] = '\0';
    if (was <= 0 || was == now || now <= 0)
        return false;
    /* the global batch and its order are the same at any world size (this
     * header's first comment): the ranks only share it out differently */
    char share[96], before[64] = "";
    if (now == 1)
        snprintf(share, sizeof(share), "this process now takes all %d micro-steps of a step",
                 grad_accum);
    else
        snprintf(share, sizeof(share), "each rank now takes %d of a step's %d micro-steps",
                 grad_accum / now, grad_accum);
    if (was == 1)
        snprintf(before, sizeof(before), " (one process took them all)");
    else if (grad_accum % was == 0)
        snprintf(before, sizeof(before), " (each of the %d ranks took %d)", was,
                 grad_accum / was);
    snprintf(buf, len, "resuming a checkpoint written by %d rank%s with %d: %s%s; the batches "
             "and their order do not depend on the ranks, so the run goes on as it was, its "
             "losses equal to float rounding (the gradients are summed in another order)", was,
             was == 1 ? "" : "s", now, share, before);
    return true;
}

int tr_dist_run_check_resume(tr_dist *d, int64_t step, const tr_loader *l)
{
    struct tr_loader_pos pos;
    char text[128];
    tr_loader_get_pos(l, &pos);
    snprintf(text, sizeof(text), "step=%" PRId64 " epoch=%" PRIu64 " window=%" PRIu64, step,
             pos.epoch, pos.index);
    int err = tr_dist_check(d, text, "resume point");
    if (err == INGOT_E_MISMATCH)
        return ingot_fail(err, "%s: every rank must see the same --ckpt-dir (a shared file "
                          "system, or the same checkpoint copied to every host)", ingot_errmsg());
    return err;
}
