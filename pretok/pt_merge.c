#include "pt_merge.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "manifest.h"
#include "pt_lock.h"
#include "pt_outdir.h"
#include "skip_reason.h"
#include "pt_resume.h"
#include "pt_state.h"
#include "pt_writer.h"
#include "shard_format.h"
#include "shard_reader.h"
#include "term_text.h"

#define PLAN_NAME PT_MERGE_PLAN_NAME
#define PENDING_MANIFEST PT_MERGE_PENDING_NAME
/* What to do about a plan that cannot be read: it says which shard of which
 * part goes where, and some have moved already. */
#define PLAN_ADVICE "nothing more was moved; it lists which shard of which part goes where, " \
    "and an interrupted merge has moved some of them into OUT already: restore the file " \
    "if you kept a copy, else convert the corpus again into new directories"

struct move {
    char *src;          /* PART_DIR/<name> */
    char *dst;          /* OUT/<name> */
    uint64_t seq;
};

struct part {
    const char *dir;
    char *real;         /* dir, resolved (realpath): the plan's name for it */
    struct manifest *m;
    struct pt_state st;
};

static void free_moves(struct move *mv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(mv[i].src);
        free(mv[i].dst);
    }
    free(mv);
}

/* Set shard_seq in the header of the shard at path and recompute the header
 * checksum; returns the new checksum in *hsum. write=false only computes. */
static int patch_header(const char *path, uint64_t seq, bool write, uint64_t *hsum,
                        const struct manifest_shard *want)
{
    char tp[1024];   /* in a PART_DIR, as term_text shows it */
    term_text(path, tp, sizeof(tp));
    /* O_NONBLOCK and the type check: a FIFO planted under a shard's name
     * is refused, not waited on; the header is checked in full before it
     * is patched. */
    int fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return ingot_fail(-e, "%s: cannot open: %s", tp, strerror(e));
    }
    struct ingot_shard_header h;
    struct stat st;
    int ret = 0;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        ret = ingot_fail(INGOT_E_FORMAT, "%s: not a regular file, not a shard", tp);
        goto out;
    }
    ssize_t n = pread(fd, &h, sizeof(h), 0);
    if (n != (ssize_t)sizeof(h)) {
        ret = ingot_fail(INGOT_E_FORMAT, "%s: not an Ingot shard (shorter than its header)",
                         tp);
        goto out;
    }
    if ((ret = shard_reader_check_header(tp, &h, sizeof(h), (uint64_t)st.st_size)))
        goto out;
    /* want: the part's manifest entry, when planning. Its header checksum
     * covers every field (token count, size, the checksums of the tokens,
     * index and provenance): another shard put in its place (renamed,
     * copied from another part) was moved in, and the merged dataset's
     * manifest listed it with the original's checksums */
    if (want && h.header_checksum != want->header_checksum) {
        ret = ingot_fail(INGOT_E_MISMATCH, "%s: not the shard the part's %s lists (header "
                         "checksum %016" PRIx64 ", listed %016" PRIx64 "; %" PRIu64 " tokens, "
                         "listed %" PRIu64 "): it was replaced or changed after the part was "
                         "converted; nothing was moved: convert this part again into a new "
                         "directory", tp, INGOT_MANIFEST_NAME, h.header_checksum,
                         want->header_checksum, h.n_tokens, want->n_tokens);
        goto out;
    }
    h.shard_seq = seq;
    h.header_checksum = ingot_xxh3(&h, offsetof(struct ingot_shard_header, header_checksum));
    *hsum = h.header_checksum;
    if (write) {
        if ((ret = fs_pwrite_full(fd, &h, sizeof(h), 0, tp)))
            goto out;
        if (fsync(fd)) {
            int e = errno;
            ret = ingot_fail(-e, "%s: fsync failed: %s", tp, strerror(e));
        }
    }
out:
    close(fd);
    return ret;
}

static int read_parts(const struct pt_opts *o, struct part *parts, size_t n)
{
    int ret;
    for (size_t i = 0; i < n; i++) {
        const char *dir = o->inputs[i];
        char td[1024];   /* dir as term_text shows it */
        term_text(dir, td, sizeof(td));
        char *mp = fs_path_join(dir, INGOT_MANIFEST_NAME), *sp = fs_path_join(dir, PT_STATE_NAME);
        if (!mp || !sp) {
            free(mp);
            free(sp);
            return ingot_fail(-ENOMEM, "out of memory");
        }
        struct manifest *m = NULL;
        ret = manifest_read(mp, &m);
        char *retired = ret == -ENOENT ? fs_path_join(dir, PT_MERGE_RETIRED_NAME) : NULL;
        struct stat rs;
        if (retired && stat(retired, &rs) == 0)   /* a second merge of the same parts */
            ret = ingot_fail(INGOT_E_USAGE, "%s: already merged into a dataset (its manifest "
                             "is now %s, its shards moved there); merge parts made since, or "
                             "use the merged dataset", td, PT_MERGE_RETIRED_NAME);
        /* a part still converting, or stopped part-way (killed, out of time):
         * its state but no manifest yet ("cannot open manifest", exit 1) */
        else if (retired && stat(sp, &rs) == 0)
            ret = ingot_fail(INGOT_E_USAGE, "%s: the conversion of this part is not finished "
                             "(it holds its resume state %s but no %s yet); run its command "
                             "again to finish it, then merge", td, PT_STATE_NAME,
                             INGOT_MANIFEST_NAME);
        free(retired);
        if (!ret) {
            ret = pt_state_read(sp, m->n_inputs, &parts[i].st);
            if (ret == -ENOENT)
                ret = ingot_fail(INGOT_E_USAGE, "%s: no %s: not a directory made by "
                                 "ingot-pretok --part", td, PT_STATE_NAME);
            else if (!ret && parts[i].st.counts.n_files != m->n_inputs)
                ret = ingot_fail(INGOT_E_MISMATCH, "%s: its %s lists %zu input%s, its "
                                 "manifest %zu", td, PT_STATE_NAME, parts[i].st.counts.n_files,
                                 parts[i].st.counts.n_files == 1 ? "" : "s", m->n_inputs);
        }
        free(mp);
        free(sp);
        if (ret) {
            manifest_free(m);
            return ret;
        }
        parts[i].dir = dir;
        parts[i].m = m;
        if (!(parts[i].real = realpath(dir, NULL))) {
            int e = errno;
            return ingot_fail(-e, "%s: cannot resolve the path: %s", td, strerror(e));
        }
        /* the plan (JSON text) names each part by its full path: one that is
         * not UTF-8 failed the merge as "out of memory while planning" */
        const size_t bad = term_text_utf8_bad(parts[i].real);
        if (bad != SIZE_MAX)
            return ingot_fail(INGOT_E_USAGE, "%s: its full path has a byte that is not UTF-8 "
                              "(0x%02x at byte %zu), which the merge plan cannot record; "
                              "rename the directories on the way to UTF-8 names", td,
                              (unsigned char)parts[i].real[bad], bad);
        const struct pt_state *st = &parts[i].st;
        if (!st->done)
            return ingot_fail(INGOT_E_USAGE, "%s: the conversion of this part is not finished; "
                              "run its command again first", td);
        if (!st->part_n)
            return ingot_fail(INGOT_E_USAGE, "%s: not made with --part K/N", td);
        if (st->part_n != n)
            return ingot_fail(INGOT_E_USAGE, "%s: part %u of %u, but %zu part %s given; "
                              "merge needs all parts", td, st->part_k, st->part_n, n,
                              n == 1 ? "directory was" : "directories were");
    }
    /* Order by part number and check that they belong together. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (parts[j].st.part_k < parts[i].st.part_k) {
                struct part t = parts[i];
                parts[i] = parts[j];
                parts[j] = t;
            }
    for (size_t i = 0; i < n; i++) {
        const struct part *p = &parts[i], *q = &parts[0];
        char tp[1024], tq[1024];   /* their directories, as term_text shows them */
        term_text(p->dir, tp, sizeof(tp));
        term_text(q->dir, tq, sizeof(tq));
        if (p->st.part_k != i + 1)
            return ingot_fail(INGOT_E_USAGE, "%s: part %u appears twice or part %zu is missing",
                              tp, p->st.part_k, i + 1);
        if (p->st.merge_hash != q->st.merge_hash) {
            char *what = NULL;
            if (pt_resume_parts_differ(&q->st, &p->st, &what))
                return ingot_oom("the merge message", 4096);
            int ret = ingot_fail(INGOT_E_MISMATCH, "%s and %s were made with different "
                                 "options, inputs or models%s%s", tq, tp,
                                 *what ? ": " : "", what);
            free(what);
            return ret;
        }
        if (p->m->tokenizer.hash != q->m->tokenizer.hash || p->m->n_inputs != q->m->n_inputs ||
            p->m->token_width != q->m->token_width)
            return ingot_fail(INGOT_E_MISMATCH, "%s and %s differ in tokenizer or input list",
                              tq, tp);
        for (size_t k = 0; k < p->m->n_inputs; k++)
            if (strcmp(p->m->inputs[k].name, q->m->inputs[k].name))
                return ingot_fail(INGOT_E_MISMATCH, "%s and %s list different inputs (#%zu)",
                                  tq, tp, k);
    }
    return 0;
}

/* Whether input k of a part's manifest is damaged: its damage recorded, or
 * (a part from before it was) a damage reason counted. */
static bool input_damaged(const struct manifest_input *in)
{
    if (in->damage)
        return true;
    for (size_t j = 0; j < in->n_skips; j++)
        if (in->skips[j].count && skip_reason_is_damage(skip_reason_parse(in->skips[j].reason)))
            return true;
    return false;
}

/* Damaged inputs: a part's conversion failed on them (exit 1, its dataset
 * complete) unless it accepted them with --allow-damaged-inputs, which its
 * manifest records. Parts that did not accept them are merged only with
 * --allow-damaged-inputs; refused before anything moves, naming the files. */
static int check_damage(const struct pt_opts *o, const struct part *parts, size_t n)
{
    size_t nd = 0, not_accepted = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < parts[i].m->n_inputs; k++)
            if (input_damaged(&parts[i].m->inputs[k])) {
                if (!nd++)
                    first = k;
                not_accepted += !parts[i].m->damaged_accepted;
            }
    if (!nd)
        return 0;
    if (!not_accepted || o->allow_damaged) {
        if (!o->quiet)
            fprintf(stderr, "ingot-pretok merge: %zu damaged input file%s accepted (%s; the "
                    "manifest lists %s: inputs[].damage)\n", nd, nd == 1 ? "" : "s",
                    o->allow_damaged ? "--allow-damaged-inputs" : "by the parts' conversions",
                    nd == 1 ? "it" : "them");
        return 0;
    }
    fprintf(stderr, "ingot-pretok merge: damaged input files:\n");
    size_t shown = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < parts[i].m->n_inputs; k++) {
            const struct manifest_input *in = &parts[i].m->inputs[k];
            if (!input_damaged(in) || shown++ >= 20)
                continue;
            char tb[1024], td[1024];   /* the part's manifest, the part: control bytes as '?' */
            fprintf(stderr, "  %s (%" PRIu64 " document%s kept; part %s%s)\n",
                    term_text(in->damage ? in->damage : in->name, tb, sizeof(tb)), in->n_docs,
                    in->n_docs == 1 ? "" : "s", term_text(parts[i].dir, td, sizeof(td)),
                    parts[i].m->damaged_accepted ? ", accepted there" : "");
        }
    if (shown > 20)
        fprintf(stderr, "  ... and %zu more (the parts' manifests: inputs[].damage)\n",
                shown - 20);
    char tn[512];
    return ingot_fail(INGOT_E_INPUT, "%zu input file%s damaged or unreadable (%s%s; "
                      "listed above) and %zu of them %s not accepted by %s part's conversion, "
                      "which exited 1 on %s; nothing was moved. Accept the loss: merge with "
                      "--allow-damaged-inputs; or repair the files and convert the parts "
                      "again, into new directories", nd, nd == 1 ? " is" : "s are",
                      term_text(parts[0].m->inputs[first].name, tn, sizeof(tn)),
                      nd > 1 ? ", ..." : "", not_accepted,
                      not_accepted == 1 ? "was" : "were", not_accepted == 1 ? "its" : "their",
                      not_accepted == 1 ? "it" : "them");
}

/* --max-skip-fraction over the joined dataset, as one conversion would
 * have applied it: a part whose conversion exited 1 for its skips is
 * complete, and would otherwise merge without a word. Refused before
 * anything moves, naming the parts over the fraction. */
static int check_skip_share(const struct pt_opts *o, const struct part *parts, size_t n)
{
    uint64_t skipped = 0, docs = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t s, d;
        manifest_skip_counts(parts[i].m, &s, &d);
        skipped += s;
        docs += d;
    }
    double share = skip_share(skipped, docs);
    if (share <= o->max_skip_fraction)
        return 0;
    fprintf(stderr, "ingot-pretok merge: records skipped by part (reasons and first cases in "
            "each part's manifest: inputs[].skipped, skip_examples):\n");
    for (size_t i = 0; i < n; i++) {
        uint64_t s, d;
        manifest_skip_counts(parts[i].m, &s, &d);
        char td[1024];
        if (s)
            fprintf(stderr, "  %s: %" PRIu64 " of %" PRIu64 " (%.2f%%)\n",
                    term_text(parts[i].dir, td, sizeof(td)), s,
                    s + d, 100.0 * (double)s / (double)(s + d));
    }
    return ingot_fail(INGOT_E_INPUT, "%" PRIu64 " of %" PRIu64 " record%s (%.2f%%) %s "
                      "skipped in the parts, more than --max-skip-fraction %g allows; nothing "
                      "was moved. If these skips are expected, accept them: merge with "
                      "--max-skip-fraction %.4g; else fix the inputs or options (e.g. "
                      "--text-key) and convert the parts again", skipped, skipped + docs,
                      skipped + docs == 1 ? "" : "s", 100.0 * share,
                      skipped == 1 ? "was" : "were", o->max_skip_fraction,
                      skip_accept_fraction(share));
}

/* Whether a merge has moved a shard into out: the first move of either
 * split is its shard 0. */
static bool moved_any(const char *out)
{
    bool any = false;
    for (uint32_t split = 0; split < 2 && !any; split++) {
        char *p = pt_shard_path(out, split, 0);
        struct stat sb;
        any = p && lstat(p, &sb) == 0;
        free(p);
    }
    return any;
}

/* The plan's checksum (version 3): over its moves and its parts, so that
 * neither can be changed without the rerun refusing it. 0 and *ok false
 * when out of memory. */
static uint64_t plan_checksum(json_t *moves, json_t *jparts, bool *ok)
{
    json_t *both = json_pack("[O,O]", moves, jparts);
    uint64_t h = both ? pt_json_checksum(both, ok) : 0;
    if (!both)
        *ok = false;
    json_decref(both);
    return h;
}

/* The joined manifest, the list of moves, and both written into OUT. The
 * plan (version 3) names the parts and each shard's source by their
 * resolved paths and each destination by its name in OUT, so that a rerun
 * from another directory, or naming OUT or a part by another path, finds
 * them; and the rerun is checked against the parts it names. */
static int plan(const struct pt_opts *o, struct part *parts, size_t n, struct move **mv_out,
                size_t *n_mv)
{
    struct manifest *m = manifest_new();
    struct move *mv = NULL;
    size_t nm = 0, cap = 0;
    int ret = -ENOMEM;
    json_t *jplan = json_array(), *jparts = json_array();
    if (!m || !jplan || !jparts)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(jparts, json_string(parts[i].real)))
            goto out;
    const struct manifest *p0 = parts[0].m;
    m->token_width = p0->token_width;
    m->damaged_accepted = true;     /* check_damage() let them through */
    if (manifest_set_tokenizer(m, &p0->tokenizer) ||
        manifest_set_command_line(m, o->argc, o->argv))
        goto out;
    uint64_t seq[2] = { 0, 0 };
    for (uint32_t split = 0; split < 2; split++) {
        for (size_t i = 0; i < n; i++) {
            const struct manifest *pm = parts[i].m;
            for (size_t k = 0; k < pm->n_shards; k++) {
                struct manifest_shard s = pm->shards[k];
                if (s.split != split)
                    continue;
                if (nm == cap) {
                    cap = cap ? cap * 2 : 64;
                    struct move *v = realloc(mv, cap * sizeof(*v));
                    if (!v)
                        goto out;
                    mv = v;
                }
                struct move *x = &mv[nm];
                memset(x, 0, sizeof(*x));
                nm++;
                x->seq = seq[split]++;
                x->src = fs_path_join(parts[i].real, s.file);
                x->dst = pt_shard_path(o->out, split, x->seq);
                if (!x->src || !x->dst)
                    goto out;
                if ((ret = patch_header(x->src, x->seq, false, &s.header_checksum,
                                        &pm->shards[k])))
                    goto out;
                ret = -ENOMEM;
                s.file = (char *)fs_basename(x->dst);
                if (manifest_add_shard(m, &s))
                    goto out;
                if (json_array_append_new(jplan, json_pack("{s:s,s:s,s:I}", "src", x->src,
                                                           "dst", fs_basename(x->dst),
                                                           "seq", (json_int_t)x->seq)))
                    goto out;
            }
        }
    }
    /* Inputs: every part lists the whole input table; sum their counters. */
    for (size_t k = 0; k < p0->n_inputs; k++) {
        struct manifest_input in = { .name = p0->inputs[k].name, .size = p0->inputs[k].size };
        struct manifest_skip sk[SKIP_R__COUNT];
        uint64_t cnt[SKIP_R__COUNT] = { 0 };
        for (size_t i = 0; i < n; i++) {
            const struct manifest_input *pi = &parts[i].m->inputs[k];
            in.n_docs += pi->n_docs;
            in.n_tokens += pi->n_tokens;
            if (!in.damage)
                in.damage = pi->damage;     /* only the part that read it has one */
            for (size_t j = 0; j < pi->n_skips; j++) {
                int r = skip_reason_parse(pi->skips[j].reason);
                if (r >= 0)
                    cnt[r] += pi->skips[j].count;
            }
        }
        char *bare;
        if (pt_input_skips(&in, sk, cnt, &bare))
            goto out;
        int added = manifest_add_input(m, &in);
        free(bare);
        if (added)
            goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < parts[i].m->n_skip_examples; k++)
            if (manifest_add_skip_example(m, parts[i].m->skip_examples[k]))
                goto out;
    char *pm = fs_path_join(o->out, PENDING_MANIFEST), *pp = fs_path_join(o->out, PLAN_NAME);
    if (!pm || !pp) {
        free(pm);
        free(pp);
        goto out;
    }
    ret = manifest_write(pm, m);
    /* with a checksum (a version-1 plan has none): a plan edited or damaged
     * between an interrupted merge and its rerun moved the wrong shards (or
     * skipped some) and sealed the dataset */
    bool mem = true;
    char hex[24];
    snprintf(hex, sizeof(hex), "%016" PRIx64, ret ? 0 : plan_checksum(jplan, jparts, &mem));
    if (!mem)
        ret = -ENOMEM;
    if (!ret) {
        json_t *root = json_pack("{s:i,s:O,s:O,s:s}", "version", 3, "parts", jparts, "moves",
                                 jplan, "checksum", hex);
        char *text = root ? json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(root);
        ret = text ? fs_write_atomic(pp, text, strlen(text))
                   : ingot_fail(-ENOMEM, "out of memory");
        free(text);
    }
    free(pm);
    free(pp);
out:
    if (ret == -ENOMEM)
        ingot_fail(-ENOMEM, "out of memory while planning the merge");
    json_decref(jplan);
    json_decref(jparts);
    manifest_free(m);
    if (ret) {
        free_moves(mv, nm);
        return ret;
    }
    *mv_out = mv;
    *n_mv = nm;
    return 0;
}

/* A move of a plan read back: the shard goes to OUT under the name of its
 * sequence number (a damaged plan must not rename anything else); in a
 * version-3 plan, from one of the plan's parts (src "PART/<name>.tok") to
 * that name in OUT (dst), else (versions 1 and 2) to OUT as it was spelled
 * when the plan was written. */
static bool plan_move_ok(const char *out_dir, json_t *jparts, const char *src, const char *dst,
                         json_t *q)
{
    if (!json_is_integer(q) || json_integer_value(q) < 0 ||
        json_integer_value(q) >= PT_STATE_MAX_SHARDS)
        return false;
    uint64_t seq = (uint64_t)json_integer_value(q);
    size_t sl = strlen(src);
    if (sl < 4 || strcmp(src + sl - 4, INGOT_SHARD_SUFFIX))
        return false;
    if (jparts) {
        const char *slash = strrchr(src, '/');
        bool in_part = false;
        size_t k;
        json_t *e;
        json_array_foreach(jparts, k, e) {
            const char *d = json_string_value(e);
            in_part |= slash && (size_t)(slash - src) == strlen(d) && !strncmp(src, d, strlen(d));
        }
        if (!in_part)
            return false;
    }
    for (uint32_t split = 0; split < 2; split++) {
        char want[64];
        pt_shard_name(want, sizeof(want), split, seq);
        char *path = jparts ? NULL : pt_shard_path(out_dir, split, seq);
        bool same = jparts ? !strcmp(want, dst) : path && !strcmp(path, dst);
        free(path);
        if (same)
            return true;
    }
    return false;
}

/* Read OUT's plan: its moves into *mv_out, and (version 3) the parts it
 * names, resolved, into *parts_out (a NULL-terminated list for
 * fs_free_list; NULL for an older plan, which does not name them). */
static int load_plan(const char *out_dir, const char *path, struct move **mv_out, size_t *n_mv,
                     char ***parts_out)
{
    json_error_t je;
    char *text = NULL;
    size_t len = 0;
    *parts_out = NULL;
    int rr = fs_read_capped(path, "merge plan", PT_STATE_MAX_BYTES, &text, &len);
    if (rr)
        return rr;
    json_t *root = json_loadb(text, len, 0, &je);
    free(text);
    json_t *moves = root ? json_object_get(root, "moves") : NULL;
    char tp[1024], tj[sizeof(je.text) + 4];   /* in OUT; jansson quotes the file */
    term_text(path, tp, sizeof(tp));
    const char *why = !root ? term_text(je.text, tj, sizeof(tj))
                      : !json_is_array(moves) ? "no moves" : NULL;
    json_t *jv = json_object_get(root, "version"), *js = json_object_get(root, "checksum");
    json_t *jparts = NULL;
    if (!why && (!json_is_integer(jv) || json_integer_value(jv) < 1 ||
                 json_integer_value(jv) > 3))
        why = "version";
    else if (!why && json_integer_value(jv) >= 2) {
        char hex[24];
        bool mem = true;
        if (json_integer_value(jv) == 3) {
            jparts = json_object_get(root, "parts");
            size_t k;
            json_t *e;
            if (!json_is_array(jparts) || !json_array_size(jparts))
                why = "no parts";
            json_array_foreach(jparts, k, e)
                if (!json_is_string(e) || json_string_value(e)[0] != '/')
                    why = "a part is not an absolute path";
        }
        snprintf(hex, sizeof(hex), "%016" PRIx64, jparts ? plan_checksum(moves, jparts, &mem)
                                                         : pt_json_checksum(moves, &mem));
        if (!mem) {
            json_decref(root);
            return ingot_oom("the merge plan's checksum", len);
        }
        if (!why && (!json_is_string(js) || strcasecmp(json_string_value(js), hex)))
            why = "its checksum does not match: the file was changed or damaged";
    }
    if (why) {
        json_decref(root);
        return ingot_fail(INGOT_E_JSON, "%s: damaged merge plan (%s); " PLAN_ADVICE, tp, why);
    }
    size_t n = json_array_size(moves), i, np = json_array_size(jparts);
    struct move *mv = calloc(n ? n : 1, sizeof(*mv));
    char **pl = jparts ? calloc(np + 1, sizeof(*pl)) : NULL;
    json_t *e;
    int ret = mv && (pl || !jparts) ? 0 : ingot_fail(-ENOMEM, "out of memory");
    for (size_t k = 0; !ret && k < np; k++)
        if (!(pl[k] = strdup(json_string_value(json_array_get(jparts, k)))))
            ret = ingot_fail(-ENOMEM, "out of memory");
    json_array_foreach(moves, i, e) {
        if (ret)
            break;
        const char *s = json_string_value(json_object_get(e, "src"));
        const char *d = json_string_value(json_object_get(e, "dst"));
        json_t *q = json_object_get(e, "seq");
        if (!s || !d || !plan_move_ok(out_dir, jparts, s, d, q)) {
            ret = ingot_fail(INGOT_E_JSON, "%s: damaged merge plan (move %zu); " PLAN_ADVICE, tp,
                             i);
            break;
        }
        mv[i].src = strdup(s);
        mv[i].dst = jparts ? fs_path_join(out_dir, d) : strdup(d);
        mv[i].seq = (uint64_t)json_integer_value(q);
        if (!mv[i].src || !mv[i].dst)
            ret = ingot_fail(-ENOMEM, "out of memory");
    }
    json_decref(root);
    if (ret) {
        free_moves(mv, n);
        fs_free_list(pl);
        return ret;
    }
    *mv_out = mv;
    *n_mv = n;
    *parts_out = pl;
    return 0;
}

/* A rerun of an interrupted merge names the parts of its plan (in any
 * order, by any path): the parts' manifests are retired at the end, and
 * another part's (a rerun naming another conversion's parts) was retired
 * with its shards never moved, while a part left out kept a manifest whose
 * shards had gone. Refused before anything more moves, naming them. */
static int check_resume_parts(const struct pt_opts *o, char *const *plan_parts)
{
    size_t np = 0;
    while (plan_parts[np])
        np++;
    char to[1024];
    term_text(o->out, to, sizeof(to));
    bool *seen = calloc(np ? np : 1, sizeof(*seen));
    if (!seen)
        return ingot_fail(-ENOMEM, "out of memory");
    int ret = 0;
    for (size_t i = 0; i < o->n_inputs && !ret; i++) {
        char td[1024];
        term_text(o->inputs[i], td, sizeof(td));
        char *r = realpath(o->inputs[i], NULL);
        size_t k = 0;
        while (r && k < np && strcmp(r, plan_parts[k]))
            k++;
        free(r);
        char t0[1024];   /* the plan's first part */
        if (k == np || seen[k])
            ret = ingot_fail(INGOT_E_USAGE, "%s holds an interrupted merge, and %s %s; run "
                             "it again with the parts it began with (its plan %s lists %zu: "
                             "%s%s)", to, td, k == np ? "is not one of its parts"
                                                      : "is given twice",
                             PLAN_NAME, np, term_text(plan_parts[0], t0, sizeof(t0)),
                             np > 1 ? ", ..." : "");
        else
            seen[k] = true;
    }
    for (size_t k = 0; k < np && !ret; k++) {
        char tk[1024];
        if (!seen[k])
            ret = ingot_fail(INGOT_E_USAGE, "%s holds an interrupted merge of %zu parts, and "
                             "its part %s is not given; run it again with all the parts it "
                             "began with (its plan %s lists them)", to, np,
                             term_text(plan_parts[k], tk, sizeof(tk)), PLAN_NAME);
    }
    free(seen);
    return ret;
}

static int do_move(const struct move *x)
{
    struct stat st;
    uint64_t hsum;
    char ts[1024], td[1024];   /* a PART_DIR's shard and OUT's, as term_text shows them */
    term_text(x->src, ts, sizeof(ts));
    term_text(x->dst, td, sizeof(td));
    if (lstat(x->dst, &st) == 0) {
        /* moved by an earlier, interrupted merge; unless its source is
         * still there: then what is in OUT under its name is another file,
         * which the dataset would have listed in the shard's place */
        if (lstat(x->src, &st) == 0)
            return ingot_fail(INGOT_E_USAGE, "%s is still in its part, and %s already exists "
                              "(not moved there by this merge); nothing more was moved: remove "
                              "what is not the merge's from OUT and run the merge again", ts, td);
        return 0;
    }
    int ret = patch_header(x->src, x->seq, true, &hsum, NULL);
    if (ret) {
        if (ret == -ENOENT)
            return ingot_fail(ret, "%s: missing, and %s is not there either; the parts "
                              "were changed after the merge began", ts, td);
        return ret;
    }
    if (rename(x->src, x->dst)) {
        int e = errno;
        if (e == EXDEV)
            return ingot_fail(-e, "%s -> %s: on different file systems; merge moves shards "
                              "and never copies them, so put OUT next to the parts", ts, td);
        return ingot_fail(-e, "%s -> %s: rename failed: %s", ts, td, strerror(e));
    }
    return 0;
}

/* A new merge's OUT (no plan there): refuse what it must not write into,
 * as a conversion does (pt_outdir.h), before anything is written: another
 * conversion's resume state or shards (a shard already at a destination
 * was taken as moved by an interrupted merge: the part's was left behind
 * and the dataset listed the other), a training run's directory, a part
 * already merged, a tokenizer.model other than the parts' (replaced), and
 * an OUT inside a part (removing the parts once merged removed it). */
static int check_out(const struct pt_opts *o, const struct part *parts, size_t n)
{
    struct pt_outdir sc;
    int ret = pt_outdir_scan(o->out, &sc);
    if (ret)
        return ret;
    char *tok = fs_path_join(o->out, INGOT_TOKENIZER_NAME);
    uint64_t h = 0;
    if (!tok)
        return ingot_fail(-ENOMEM, "out of memory");
    /* the parts' model: a merge stopped after copying it, before its plan */
    if (sc.has_tok && fs_hash_file(tok, &h) == 0 && h == parts[0].m->tokenizer.hash)
        sc.has_tok = false;
    ingot_clear_err();
    free(tok);
    if ((ret = pt_outdir_refuse(o->out, &sc, false, "the parts' model")))
        return ret;
    char *real = realpath(o->out, NULL);
    if (!real) {
        int e = errno;
        char to[1024];
        return ingot_fail(-e, "%s: cannot resolve the path: %s",
                          term_text(o->out, to, sizeof(to)), strerror(e));
    }
    for (size_t i = 0; i < n && !ret; i++) {
        size_t l = strlen(parts[i].real);
        if (!strncmp(real, parts[i].real, l) && (real[l] == '/' || !real[l] || l == 1)) {
            char to[1024], tp[1024];
            ret = ingot_fail(INGOT_E_USAGE, "%s is inside the part %s: removing the parts once "
                             "they are merged would remove the dataset; choose an OUT outside "
                             "every part (on the same file system)",
                             term_text(o->out, to, sizeof(to)),
                             term_text(parts[i].dir, tp, sizeof(tp)));
        }
    }
    free(real);
    return ret;
}

/* The tokenizer model into OUT (from the first part, where pretok copied
 * it, or the model given to pretok when that copy is gone or replaced: the
 * one of the dataset's hash, as the readers choose it), before the plan: a
 * resumed merge finds it there already. Parts of an older pretok without a
 * copy keep their manifest's path. */
static int copy_tokenizer(const char *out, const struct part *p, bool quiet)
{
    const struct manifest_tokenizer *t = &p->m->tokenizer;
    if (!t->file)
        return 0;
    char *found = NULL, *note = NULL;
    int ret = dataset_tokenizer_pick(p->dir, t, &found, &note);
    if (ret == -ENOENT) {   /* none there: the manifest's path is kept */
        ingot_clear_err();
        return 0;
    }
    if (!ret && note && !quiet)
        fprintf(stderr, "ingot-pretok merge: note: %s\n", note);
    if (!ret)
        ret = dataset_copy_tokenizer(out, found, t->hash);
    free(found);
    free(note);
    return ret;
}

int pt_merge(const struct pt_opts *o)
{
    size_t n = o->n_inputs, n_mv = 0;
    struct part *parts = calloc(n, sizeof(*parts));
    struct move *mv = NULL;
    char *plan_path = fs_path_join(o->out, PLAN_NAME);
    char *pending = fs_path_join(o->out, PENDING_MANIFEST);
    char *final = fs_path_join(o->out, INGOT_MANIFEST_NAME);
    int ret = 0, lock = -1;
    char to[1024], tf[1024];   /* OUT and its manifest, as term_text shows them */
    term_text(o->out, to, sizeof(to));
    char **made = NULL;   /* the directories this merge created for OUT */
    char **plan_parts = NULL;   /* a version-3 plan's parts, resolved */
    bool out_made = false;
    if (!parts || !plan_path || !pending || !final) {
        ret = ingot_fail(-ENOMEM, "out of memory");
        goto out;
    }
    if ((ret = fs_mkdir_p_made(o->out, &made, &out_made)))
        goto out;
    if ((lock = pt_lock_acquire(o->out)) < 0) {
        ret = lock;
        goto out;
    }
    struct stat sb;
    bool resume = stat(plan_path, &sb) == 0;
    if (!resume) {
        if (stat(final, &sb) == 0) {
            ret = ingot_fail(INGOT_E_USAGE, "%s already holds a dataset; choose a new OUT", to);
            goto out;
        }
        /* an interrupted merge whose plan was removed: the parts miss the
         * shards it moved, and reading them said only "cannot open" (the
         * moves go in plan order, so a first shard in OUT means one moved;
         * without one, planning again is safe) */
        if (stat(pending, &sb) == 0 && moved_any(o->out)) {
            ret = ingot_fail(INGOT_E_CORRUPT, "%s holds an interrupted merge (%s) but not its "
                             "plan %s; " PLAN_ADVICE, to, PENDING_MANIFEST, PLAN_NAME);
            goto out;
        }
        if ((ret = read_parts(o, parts, n)) || (ret = check_damage(o, parts, n)) ||
            (ret = check_skip_share(o, parts, n)) || (ret = check_out(o, parts, n)) ||
            (ret = copy_tokenizer(o->out, &parts[0], o->quiet)) ||
            (ret = plan(o, parts, n, &mv, &n_mv)))
            goto out;
    } else if ((ret = load_plan(o->out, plan_path, &mv, &n_mv, &plan_parts)) ||
               (plan_parts && (ret = check_resume_parts(o, plan_parts)))) {
        goto out;
    }
    for (size_t i = 0; i < n_mv && !ret; i++)
        ret = do_move(&mv[i]);
    if (ret)
        goto out;
    if ((ret = fs_fsync_dir(o->out)))
        goto out;
    for (size_t i = 0; i < n; i++)
        fs_fsync_dir(o->inputs[i]);
    if (stat(pending, &sb) == 0 && rename(pending, final)) {
        int e = errno;
        ret = ingot_fail(-e, "%s: rename failed: %s", term_text(final, tf, sizeof(tf)),
                         strerror(e));
        goto out;
    }
    /* The parts have given their shards away: retire their manifests so
     * that nobody opens them as datasets. */
    for (size_t i = 0; i < n; i++) {
        char *a = fs_path_join(o->inputs[i], INGOT_MANIFEST_NAME);
        char *b = fs_path_join(o->inputs[i], PT_MERGE_RETIRED_NAME);
        if (a && b)
            rename(a, b);
        free(a);
        free(b);
    }
    unlink(plan_path);
    ret = fs_fsync_dir(o->out);
    if (!ret && !o->quiet)
        fprintf(stderr, "ingot-pretok merge: %zu shard%s from %zu part%s moved into %s\n",
                n_mv, n_mv == 1 ? "" : "s", n, n == 1 ? "" : "s", to);
out:;
    /* refused before a shard moved (a part missing, another part's model):
     * an OUT it made goes again; once shards moved in, it stays to resume */
    static const char *const ours[] = { PLAN_NAME, PENDING_MANIFEST, INGOT_TOKENIZER_NAME,
                                        PT_LOCK_NAME };
    if (ret && made && lock >= 0)
        pt_out_abandon(o->out, made, out_made, lock, ours, sizeof(ours) / sizeof(ours[0]));
    else
        pt_lock_release(lock);
    fs_free_list(made);
    fs_free_list(plan_parts);
    if (parts)
        for (size_t i = 0; i < n; i++) {
            manifest_free(parts[i].m);
            pt_state_free(&parts[i].st);
            free(parts[i].real);
        }
    free(parts);
    free_moves(mv, n_mv);
    free(plan_path);
    free(pending);
    free(final);
    return ret;
}
