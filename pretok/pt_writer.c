#include "pt_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "mono_clock.h"
#include "ingot_hash.h"
#include "pt_hooks.h"
#include "skip_reason.h"
#include "pt_split.h"
#include "json_term.h"
#include "term_text.h"

struct pt_writer {
    const struct pt_writer_cfg *cfg;
    struct pt_state st;
    struct pt_pos count_from;       /* items before were counted by an earlier run */
    shard_writer *open[2];
    struct pt_pos first_pos[2];
    char *state_path;
    double write_s;
    uint64_t shards_this_run;
    _Atomic uint64_t kept;          /* shards the state on disk lists (read by the
                                       main thread while this one may still run) */
    long crash_after;               /* test hook, -1 off */
    bool crash_before_state;
};

void pt_shard_name(char *buf, size_t n, uint32_t split, uint64_t seq)
{
    snprintf(buf, n, "%s-%06" PRIu64 "%s", ingot_split_name(split), seq, INGOT_SHARD_SUFFIX);
}

char *pt_shard_path(const char *out_dir, uint32_t split, uint64_t seq)
{
    char name[64];
    pt_shard_name(name, sizeof(name), split, seq);
    return fs_path_join(out_dir, name);
}

int pt_writer_create(const struct pt_writer_cfg *cfg, struct pt_state *st, pt_writer **out)
{
    *out = NULL;
    pt_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return ingot_fail(-ENOMEM, "out of memory");
    w->cfg = cfg;
    w->st = *st;
    memset(st, 0, sizeof(*st));
    w->count_from = w->st.counted_until;
    atomic_init(&w->kept, w->st.n_shards);
    w->state_path = fs_path_join(cfg->out_dir, PT_STATE_NAME);
    if (!w->state_path) {
        pt_writer_free(w);
        return ingot_fail(-ENOMEM, "out of memory");
    }
    /* Test hook: die with SIGKILL once this many shards are finished, after
     * (or with INGOT_PRETOK_TEST_CRASH_MODE=before_state, before) the state
     * that records the last one is written. */
    const char *e = pt_hook_str("INGOT_PRETOK_TEST_CRASH_AFTER_SHARD");
    w->crash_after = e ? atol(e) : -1;
    e = pt_hook_str("INGOT_PRETOK_TEST_CRASH_MODE");
    w->crash_before_state = e && !strcmp(e, "before_state");
    *out = w;
    return 0;
}

void pt_writer_free(pt_writer *w)
{
    if (!w)
        return;
    for (int s = 0; s < 2; s++)
        shard_writer_abort(w->open[s]);
    pt_state_free(&w->st);
    free(w->state_path);
    free(w);
}

const struct pt_state *pt_writer_state(const pt_writer *w)
{
    return &w->st;
}

double pt_writer_seconds(const pt_writer *w)
{
    return w->write_s;
}

uint64_t pt_writer_shards_this_run(const pt_writer *w)
{
    return w->shards_this_run;
}

uint64_t pt_writer_shards_kept(pt_writer *w)
{
    return atomic_load(&w->kept);
}

static void crash_hook(pt_writer *w, bool before_state)
{
    if (w->crash_after >= 0 && before_state == w->crash_before_state &&
        (long)w->st.n_shards >= w->crash_after) {
        fprintf(stderr, "ingot-pretok: test hook: killing myself after %ld shards\n",
                w->crash_after);
        raise(SIGKILL);
    }
}

/* Finish the open shard of split s and record it in the state. */
static int finish_shard(pt_writer *w, uint32_t s)
{
    struct shard_summary sum;
    char *path = pt_shard_path(w->cfg->out_dir, s, w->st.next_seq[s]);
    if (!path)
        return ingot_fail(-ENOMEM, "out of memory");
    int ret = shard_writer_finish(w->open[s], &sum);
    w->open[s] = NULL;
    if (ret) {
        free(path);
        return ret;
    }
    struct manifest_shard ms = shard_summary_entry(fs_basename(path), s, &sum);
    ret = pt_state_add_shard(&w->st, &ms);
    free(path);
    if (ret)
        return ingot_fail(-ENOMEM, "out of memory");
    w->st.next_seq[s]++;
    w->shards_this_run++;
    return 0;
}

/* Cut the shard of split s after the document at pos (chain: its
 * pt_item.chain), then write the state.
 * Each split's shards are cut only when full (or at the end): a val shard
 * stays open across train shards, and its first document is where a resume
 * starts; the producer drops the train documents before the train split's
 * persisted position there without tokenizing them (pt_producer_cfg.skip). */
static int cut(pt_writer *w, uint32_t s, struct pt_pos pos, uint64_t chain)
{
    int ret = finish_shard(w, s);
    if (ret)
        return ret;
    crash_hook(w, true);
    struct pt_pos c = { pos.file, pos.record + 1 };
    if (w->cfg->inputs->v[pos.file].is_stdin) {   /* where a resume's stream is checked */
        w->st.stdin_chain_record = pos.record;
        w->st.stdin_chain = chain;
    }
    w->st.counted_until = c;
    w->st.persisted[s] = c;
    w->st.persisted[!s] = w->open[!s] ? w->first_pos[!s] : c;
    if ((ret = pt_state_write(w->state_path, &w->st)))
        return ret;
    atomic_store(&w->kept, w->st.n_shards);
    crash_hook(w, false);
    return 0;
}

static uint32_t choose_split(pt_writer *w, struct pt_pos p)
{
    switch (w->cfg->val_mode) {
    case PT_VAL_FRACTION:
        return pt_split_by_hash(p.file, p.record, w->cfg->val_threshold);
    case PT_VAL_DOCS:
        return w->st.counts.routed_docs < w->cfg->val_docs ? INGOT_SPLIT_VAL
                                                           : INGOT_SPLIT_TRAIN;
    default:
        return INGOT_SPLIT_TRAIN;
    }
}

static int on_event(pt_writer *w, const struct pt_batch *b, const struct pt_item *it)
{
    struct pt_counts *c = &w->st.counts;
    const char *path = w->cfg->inputs->v[it->file].path;
    c->file[it->file].reason[it->reason]++;
    c->reason[it->reason]++;
    char where[64] = "";
    if (it->record)
        snprintf(where, sizeof(where), ":%" PRIu64, it->record);
    if (skip_reason_is_skip(it->reason) && w->cfg->on_error_fail) {
        /* the detail quotes the record's keys and the --text-key */
        char d[256], tp[1024], td[sizeof(d)];
        snprintf(d, sizeof(d), "%.*s", (int)it->len, b->detail.p + it->off);
        return ingot_fail(INGOT_E_INPUT, "%s%s: %s: %s (--on-error fail; --on-error skip "
                          "would skip and count it)", term_text(path, tp, sizeof(tp)), where,
                          skip_reason_name(it->reason), term_text(d, td, sizeof(td)));
    }
    bool damage = skip_reason_is_damage(it->reason);
    if (c->n_examples_of[it->reason] < PT_EXAMPLES_PER_REASON || damage) {
        size_t n = strlen(path) + 64 + (size_t)it->len + 32;
        char *msg = malloc(n);
        if (!msg)
            return ingot_fail(-ENOMEM, "out of memory");
        snprintf(msg, n, "%s%s: %s: %.*s", path, where, skip_reason_name(it->reason),
                 (int)it->len, b->detail.p + it->off);
        /* every damaged file keeps its own (the end of the run and the
         * manifest's inputs[].damage list them all); the examples are the
         * first few records of each other reason */
        int ret = damage ? pt_counts_damage(c, it->file, msg)
                         : pt_counts_example(c, it->reason, msg);
        free(msg);
        if (ret)
            return ingot_fail(-ENOMEM, "out of memory");
    }
    return 0;
}

/* Tokens equal to the unknown id: the share tells whether the model covers
 * the corpus (one compare per token, next to the copy into the shard). */
static uint64_t count_unk(const uint32_t *t, size_t n, int32_t unk)
{
    uint64_t k = 0;
    if (unk < 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        k += t[i] == (uint32_t)unk;
    return k;
}

static int on_doc(pt_writer *w, const struct pt_batch *b, const struct pt_item *it)
{
    struct pt_pos p = { it->file, it->record };
    struct pt_counts *c = &w->st.counts;
    uint32_t s = choose_split(w, p);
    if (pt_pos_cmp(p, w->count_from) >= 0) {
        c->file[it->file].docs++;
        c->file[it->file].tokens += it->len;
        c->docs[s]++;
        c->tokens[s] += it->len;
        c->routed_docs++;
        c->unk_tokens += count_unk(b->tok + it->off, (size_t)it->len, w->cfg->base.unk_id);
    }
    if (pt_pos_cmp(p, w->st.persisted[s]) < 0)
        return 0;   /* already inside a finished shard */
    int ret;
    if (!w->open[s]) {
        struct shard_writer_opts o = w->cfg->base;
        char *path = pt_shard_path(w->cfg->out_dir, s, w->st.next_seq[s]);
        if (!path)
            return ingot_fail(-ENOMEM, "out of memory");
        o.path = path;
        o.split = s;
        o.shard_seq = w->st.next_seq[s];
        ret = shard_writer_create(&o, &w->open[s]);
        free(path);
        if (ret)
            return ret;
        w->first_pos[s] = p;
    }
    if ((ret = shard_writer_add_doc(w->open[s], b->tok + it->off, (size_t)it->len, it->file,
                                    it->record)))
        return ret;
    bool full = shard_writer_n_tokens(w->open[s]) >= w->cfg->shard_tokens;
    bool val_done = s == INGOT_SPLIT_VAL && w->cfg->val_mode == PT_VAL_DOCS &&
                    c->routed_docs >= w->cfg->val_docs;
    if (full || val_done)
        return cut(w, s, p, it->chain);
    return 0;
}

int pt_writer_consume(pt_writer *w, const struct pt_batch *b)
{
    double t0 = mono_now();
    int ret = 0;
    if (b->head_len && !w->st.stdin_head_len) {   /* kept from the first run on */
        w->st.stdin_head_len = b->head_len;
        w->st.stdin_head_hash = b->head_hash;
    }
    for (size_t i = 0; i < b->n_out && !ret; i++) {
        const struct pt_item *it = &b->out[i];
        struct pt_pos p = { it->file, it->record };
        if (it->kind == PT_ITEM_EVENT) {
            if (pt_pos_cmp(p, w->count_from) >= 0)
                ret = on_event(w, b, it);
        } else {
            ret = on_doc(w, b, it);
        }
    }
    w->write_s += mono_now() - t0;
    return ret;
}

int pt_writer_finish(pt_writer *w)
{
    double t0 = mono_now();
    int ret = 0;
    for (uint32_t s = 0; s < 2 && !ret; s++)
        if (w->open[s])
            ret = finish_shard(w, s);
    if (ret)
        return ret;
    const struct pt_counts *c = &w->st.counts;
    if (!c->docs[0] && !c->docs[1] && !w->cfg->allow_empty)
        return ingot_fail(INGOT_E_NODATA, "no document was produced from the inputs "
                          "(see the skipped records above)");
    /* --val-docs at or above the corpus size leaves nothing to train on.
     * Known only now; refused like "no document" (nothing is kept). Under
     * --part the other parts hold train documents. */
    const uint64_t nval = c->docs[INGOT_SPLIT_VAL];
    if (w->cfg->val_mode == PT_VAL_DOCS && !c->docs[INGOT_SPLIT_TRAIN] && !w->cfg->partial &&
        nval > 1)
        return ingot_fail(INGOT_E_NODATA, "--val-docs %" PRIu64 " takes every one of the %"
                          PRIu64 " documents, leaving the train split empty; use a --val-docs "
                          "below %" PRIu64 " (e.g. %" PRIu64 ") or --val-fraction",
                          w->cfg->val_docs, nval, nval, nval / 100 ? nval / 100 : 1);
    if (w->cfg->val_mode == PT_VAL_DOCS && !c->docs[INGOT_SPLIT_TRAIN] && !w->cfg->partial)
        return ingot_fail(INGOT_E_NODATA, "--val-docs %" PRIu64 " takes the only document, "
                          "leaving the train split empty; give more input, or leave --val-docs "
                          "out (no val split)", w->cfg->val_docs);
    /* the same for a --val-fraction that drew every document (0.999 of a
     * small corpus): ingot-train would find no train window */
    if (!c->docs[INGOT_SPLIT_TRAIN] && c->docs[INGOT_SPLIT_VAL] == 1 && !w->cfg->partial)
        return ingot_fail(INGOT_E_NODATA, "the validation split took the only document, "
                          "leaving the train split empty; give more input, or a smaller "
                          "--val-fraction");
    if (!c->docs[INGOT_SPLIT_TRAIN] && c->docs[INGOT_SPLIT_VAL] && !w->cfg->partial)
        return ingot_fail(INGOT_E_NODATA, "the validation split took every one of the %" PRIu64
                          " documents, leaving the train split empty; use a smaller "
                          "--val-fraction (or --val-docs below %" PRIu64 ")",
                          c->docs[INGOT_SPLIT_VAL], c->docs[INGOT_SPLIT_VAL]);
    w->st.done = true;
    crash_hook(w, true);
    if ((ret = pt_state_write(w->state_path, &w->st)))
        return ret;
    crash_hook(w, false);   /* between the final state and the manifest */
    ret = pt_write_manifest(w->cfg, &w->st);
    w->write_s += mono_now() - t0;
    return ret;
}

int pt_input_skips(struct manifest_input *in, struct manifest_skip *sk, const uint64_t *count,
                   char **bare)
{
    *bare = NULL;
    in->skips = sk;
    in->n_skips = 0;
    for (int r = 0; r < SKIP_R__COUNT; r++) {
        if (!count[r])
            continue;
        sk[in->n_skips++] = (struct manifest_skip){ (char *)skip_reason_name(r), count[r] };
        if (!in->damage && skip_reason_is_damage(r)) {
            size_t n = strlen(in->name) + 64;
            if (!(*bare = malloc(n)))
                return -ENOMEM;
            snprintf(*bare, n, "%s: %s", in->name, skip_reason_name(r));
            in->damage = *bare;
        }
    }
    return 0;
}

/* manifest_set_command_line() of argv with every argument as JSON text
 * (json_term_escape: an --out or input name of any bytes). */
static int set_command_line(struct manifest *m, int argc, char *const *argv)
{
    char **e = calloc((size_t)argc + 1, sizeof(*e));
    int ret = e ? 0 : -ENOMEM;
    for (int i = 0; i < argc && !ret; i++)
        if (!(e[i] = json_term_escape(argv[i])))
            ret = -ENOMEM;
    if (!ret)
        ret = manifest_set_command_line(m, argc, e);
    for (int i = 0; e && i < argc; i++)
        free(e[i]);
    free(e);
    return ret;
}

int pt_write_manifest(const struct pt_writer_cfg *cfg, const struct pt_state *st)
{
    struct manifest *m = manifest_new();
    int ret = -ENOMEM;
    if (!m)
        goto out;
    m->token_width = cfg->base.token_width;
    m->damaged_accepted = cfg->damaged_accepted;
    if (manifest_set_tokenizer(m, &cfg->tokenizer) ||
        set_command_line(m, cfg->argc, cfg->argv))
        goto out;
    /* Train shards in order, then val shards. */
    for (uint32_t s = 0; s < 2; s++)
        for (size_t i = 0; i < st->n_shards; i++)
            if (st->shards[i].split == s && manifest_add_shard(m, &st->shards[i]))
                goto out;
    const struct pt_counts *c = &st->counts;
    for (size_t i = 0; i < cfg->inputs->n; i++) {
        struct manifest_skip sk[SKIP_R__COUNT];
        char *name = json_term_escape(cfg->inputs->v[i].path);   /* JSON: any bytes as \xHH */
        if (!name)
            goto out;
        struct manifest_input in = { .name = name,
                                     .size = cfg->inputs->v[i].size,
                                     .n_docs = c->file[i].docs, .n_tokens = c->file[i].tokens,
                                     .damage = c->file[i].damage };
        char *bare;
        if (pt_input_skips(&in, sk, c->file[i].reason, &bare)) {
            free(name);
            goto out;
        }
        int added = manifest_add_input(m, &in);
        free(bare);
        free(name);
        if (added)
            goto out;
    }
    for (size_t i = 0; i < c->n_examples; i++)
        if (manifest_add_skip_example(m, c->examples[i]))
            goto out;
    char *path = fs_path_join(cfg->out_dir, INGOT_MANIFEST_NAME);
    if (!path)
        goto out;
    ret = manifest_write(path, m);
    free(path);
out:
    if (ret == -ENOMEM)
        ingot_fail(-ENOMEM, "out of memory while building the manifest");
    manifest_free(m);
    return ret;
}
