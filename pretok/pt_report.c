#include "pt_report.h"
#include "pt_encstats.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "cli_num.h"
#include "fsutil.h"
#include "json_term.h"
#include "skip_reason.h"
#include "shard_format.h"
#include "term_text.h"

static void count_shards(const struct pt_state *st, uint64_t n[2])
{
    n[0] = n[1] = 0;
    for (size_t i = 0; i < st->n_shards; i++)
        n[st->shards[i].split]++;
}

size_t pt_report_print_damaged(FILE *f, const struct pt_report *r, const char *indent)
{
    const struct pt_counts *c = &r->st->counts;
    size_t n = 0;
    for (size_t i = r->part_first; i < r->part_end; i++) {
        int reason = pt_counts_damage_reason(c, i);
        if (reason < 0)
            continue;
        if (n++ >= PT_REPORT_DAMAGED_LIST)
            continue;
        const struct pt_file_counts *fc = &c->file[i];
        char tb[2048];   /* the file's name, in the damage text too */
        if (fc->damage)
            fprintf(f, "%s%s (%" PRIu64 " document%s kept)\n", indent,
                    term_text(fc->damage, tb, sizeof(tb)), fc->docs, fc->docs == 1 ? "" : "s");
        else
            fprintf(f, "%s%s: %s (%" PRIu64 " document%s kept)\n", indent,
                    term_text(r->inputs ? r->inputs->v[i].path : "?", tb, sizeof(tb)),
                    skip_reason_name(reason), fc->docs, fc->docs == 1 ? "" : "s");
    }
    if (n > PT_REPORT_DAMAGED_LIST)
        fprintf(f, "%s... and %zu more (all in --json and in the manifest: inputs[].damage)\n",
                indent, n - PT_REPORT_DAMAGED_LIST);
    return n;
}

void pt_report_print_skips(FILE *f, const struct pt_report *r)
{
    const struct pt_counts *c = &r->st->counts;
    for (int pass = 0; pass < 2; pass++) {
        bool any = false;
        for (int k = 0; k < SKIP_R__COUNT; k++) {
            if (!c->reason[k] || skip_reason_is_skip(k) != (pass == 0))
                continue;
            if (!any)
                fprintf(f, "  %s:\n", pass == 0 ? "skipped (data lost)"
                                                : "repaired or noted (nothing lost)");
            any = true;
            fprintf(f, "    %-22s %" PRIu64 "\n", skip_reason_name(k), c->reason[k]);
        }
    }
    size_t nd = pt_counts_damaged_files(c, r->part_first, r->part_end);
    if (nd) {
        fprintf(f, "  damaged files: %zu (read up to the damage; the rest of each is not in the "
                "dataset)%s:\n", nd, r->damaged_accepted ? ", accepted with "
                "--allow-damaged-inputs" : "");
        pt_report_print_damaged(f, r, "    ");
    }
    if (c->n_examples) {
        fprintf(f, "  first cases (at most %d per reason):\n", PT_EXAMPLES_PER_REASON);
        char tb[2048];   /* a file's name, a record's keys, the --text-key */
        for (size_t i = 0; i < c->n_examples; i++)
            fprintf(f, "    %s\n", term_text(c->examples[i], tb, sizeof(tb)));
    }
}

void pt_report_print(FILE *f, const struct pt_report *r)
{
    const struct pt_counts *c = &r->st->counts;
    uint64_t ns[2];
    count_shards(r->st, ns);
    size_t nf = r->part_end - r->part_first;
    char hb[32], tb[1024];
    const uint64_t docs = c->docs[0] + c->docs[1], toks = c->tokens[0] + c->tokens[1];
    fprintf(f, "ingot-pretok: %s%s: %" PRIu64 " document%s, %" PRIu64 " token%s from %zu "
            "file%s (%s)\n", term_text(r->out_dir, tb, sizeof(tb)),
            r->already_done ? " (already complete)" : "", docs, docs == 1 ? "" : "s", toks,
            toks == 1 ? "" : "s", nf, nf == 1 ? "" : "s",
            cli_human_bytes((double)r->input_bytes, hb, sizeof(hb)));
    fprintf(f, "  train: %" PRIu64 " document%s, %" PRIu64 " token%s, %" PRIu64 " shard%s\n",
            c->docs[0], c->docs[0] == 1 ? "" : "s", c->tokens[0], c->tokens[0] == 1 ? "" : "s",
            ns[0], ns[0] == 1 ? "" : "s");
    if (c->docs[1] || ns[1])
        fprintf(f, "  val:   %" PRIu64 " document%s, %" PRIu64 " token%s, %" PRIu64 " shard%s\n",
                c->docs[1], c->docs[1] == 1 ? "" : "s", c->tokens[1],
                c->tokens[1] == 1 ? "" : "s", ns[1], ns[1] == 1 ? "" : "s");
    pt_report_print_skips(f, r);
    const struct pt_inputs *in = r->inputs;
    if (in && in->ignored) {
        fprintf(f, "  not read: %zu file%s of unknown format in the input directories "
                "(read: %s; Parquet: scripts/parquet-to-jsonl.py):\n", in->ignored,
                in->ignored == 1 ? "" : "s", pt_input_suffixes);
        for (size_t i = 0; i < in->n_unknown_kept; i++)
            fprintf(f, "    %s\n", term_text(in->unknown[i], tb, sizeof(tb)));
        if (in->ignored > in->n_unknown_kept)
            fprintf(f, "    ... and %zu more\n", in->ignored - in->n_unknown_kept);
    }
    if (r->resumed)
        fprintf(f, "  resumed: %" PRIu64 " shard%s already finished\n",
                (uint64_t)r->st->n_shards - r->shards_this_run,
                r->st->n_shards - r->shards_this_run == 1 ? " was" : "s were");
    const struct pt_pipeline_stats *ps = r->ps;
    if (!ps)
        return;
    double wall = ps->wall_s > 0 ? ps->wall_s : 1e-9;
    char rate[96] = "no document produced, so no throughput";
    if (ps->docs)
        snprintf(rate, sizeof(rate), "%.2f MB/s, %.3f Mtok/s", (double)ps->text_bytes / 1e6 / wall,
                 (double)ps->tokens / 1e6 / wall);
    fprintf(f, "  this run: %.2f s wall, %" PRIu64 " document%s, %" PRIu64 " token%s, "
            "%s of text: %s (%u tokenizer thread%s, %s, %s)\n",
            ps->wall_s, ps->docs, ps->docs == 1 ? "" : "s", ps->tokens,
            ps->tokens == 1 ? "" : "s",
            cli_human_bytes((double)ps->text_bytes, hb, sizeof(hb)), rate, r->threads,
            r->threads == 1 ? "" : "s", ps->prod.uring ? "io_uring" : "pread",
            r->allocator);
    fprintf(f, "  time per stage (thread-seconds): read %.2f, decompress %.2f, parse %.2f "
            "(split %.2f + JSON/UTF-8 %.2f), tokenize %.2f, write %.2f\n", ps->prod.read_s,
            ps->prod.decompress_s, ps->prod.split_s + ps->parse_s, ps->prod.split_s,
            ps->parse_s, ps->tokenize_s, ps->write_s);
    pt_pipeline_enc_print(f);
}

double pt_report_unk_share(const struct pt_report *r)
{
    const struct pt_counts *c = &r->st->counts;
    uint64_t t = c->tokens[0] + c->tokens[1];
    return t ? (double)c->unk_tokens / (double)t : 0.0;
}

void pt_report_warn_unk(FILE *f, const struct pt_report *r)
{
    double share = pt_report_unk_share(r);
    if (share <= PT_UNK_WARN_SHARE)
        return;
    fprintf(f, "ingot-pretok: warning: %.2f%% of the tokens (%" PRIu64 ") are the unknown "
            "token (id %d): the model does not cover this text well; train it on a sample "
            "of this corpus (scripts/train-tokenizer.sh), or with --byte_fallback\n",
            100.0 * share, r->st->counts.unk_tokens, r->unk_id);
}

/* pt_report_json_error() prints nothing once the report is out */
static bool json_printed;

/* The report's names are the real ones (a script opens those files), which
 * term_text() would not keep: written through json_term_dumpf() instead
 * (every character past ASCII as \uXXXX, DEL as \u007f; jansson writes
 * those below 0x20 so already), so that a bidirectional override, a C1
 * control or a DEL in a name does not reach a terminal showing the report,
 * and the text read back is the same. */
#define JSON_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII)

int pt_report_json(FILE *f, const struct pt_report *r)
{
    const struct pt_counts *c = &r->st->counts;
    uint64_t ns[2];
    count_shards(r->st, ns);
    json_t *skips = json_object(), *fixes = json_object(), *examples = json_array();
    for (int k = 0; k < SKIP_R__COUNT; k++)
        if (c->reason[k])
            json_object_set_new(skip_reason_is_skip(k) ? skips : fixes, skip_reason_name(k),
                                json_integer((json_int_t)c->reason[k]));
    for (size_t i = 0; i < c->n_examples; i++)
        json_array_append_new(examples, json_string(c->examples[i]));
    json_t *root = json_pack("{s:o,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:o,s:o,s:o}",
        "out", json_term_name(r->out_dir), "already_complete", r->already_done, "resumed", r->resumed,
        "files", (json_int_t)(r->part_end - r->part_first),
        "input_bytes", (json_int_t)r->input_bytes,
        "documents", (json_int_t)(c->docs[0] + c->docs[1]),
        "tokens", (json_int_t)(c->tokens[0] + c->tokens[1]),
        "train_documents", (json_int_t)c->docs[0], "train_tokens", (json_int_t)c->tokens[0],
        "val_documents", (json_int_t)c->docs[1], "val_tokens", (json_int_t)c->tokens[1],
        "train_shards", (json_int_t)ns[0], "val_shards", (json_int_t)ns[1],
        "unk_tokens", (json_int_t)c->unk_tokens, "unk_share", pt_report_unk_share(r),
        "skipped", skips, "fixed", fixes, "skip_examples", examples);
    if (!root)
        return -ENOMEM;
    json_t *damaged = json_array();
    for (size_t i = r->part_first; i < r->part_end && damaged; i++) {
        int reason = pt_counts_damage_reason(c, i);
        if (reason >= 0)
            json_array_append_new(damaged, json_pack("{s:o,s:s,s:s?,s:I}",
                "file", json_term_name(r->inputs ? r->inputs->v[i].path : "?"),
                "reason", skip_reason_name(reason), "damage", c->file[i].damage,
                "documents", (json_int_t)c->file[i].docs));
    }
    json_object_set_new(root, "damaged_files", json_integer((json_int_t)pt_counts_damaged_files(
        c, r->part_first, r->part_end)));
    json_object_set_new(root, "damaged", damaged);
    json_object_set_new(root, "damaged_accepted", json_boolean(r->damaged_accepted));
    if (r->inputs) {
        json_t *unk = json_array();
        for (size_t i = 0; i < r->inputs->n_unknown_kept; i++)
            json_array_append_new(unk, json_term_name(r->inputs->unknown[i]));
        json_object_set_new(root, "unknown_format_files",
                            json_integer((json_int_t)r->inputs->ignored));
        json_object_set_new(root, "unknown_format_examples", unk);
    }
    {
        /* always there, one shape: a rerun of a finished dataset ran
         * nothing (zeros, null rates, encoder null), and a script reading
         * run.stage_s must not meet a KeyError there */
        static const struct pt_pipeline_stats nothing = { 0 };
        const struct pt_pipeline_stats *ps = r->ps ? r->ps : &nothing;
        double wall = ps->wall_s > 0 ? ps->wall_s : 1e-9;
        json_t *run = json_pack(
            "{s:f,s:I,s:I,s:I,s:f,s:f,s:i,s:b,s:s,s:{s:f,s:f,s:f,s:f,s:f,s:f}}",
            "wall_s", ps->wall_s, "documents", (json_int_t)ps->docs,
            "tokens", (json_int_t)ps->tokens, "text_bytes", (json_int_t)ps->text_bytes,
            "text_mb_per_s", (double)ps->text_bytes / 1e6 / wall,
            "mtok_per_s", (double)ps->tokens / 1e6 / wall, "threads", (int)r->threads,
            "io_uring", ps->prod.uring, "allocator", r->allocator,
            "stage_s", "read", ps->prod.read_s, "decompress", ps->prod.decompress_s,
            "split", ps->prod.split_s, "parse", ps->parse_s, "tokenize", ps->tokenize_s,
            "write", ps->write_s);
        if (run && !ps->docs) {
            /* no document: no throughput to report */
            json_object_set_new(run, "text_mb_per_s", json_null());
            json_object_set_new(run, "mtok_per_s", json_null());
        }
        json_object_set_new(root, "run", run);
        /* null: libsentencepiece encoded, or nothing was */
        json_t *enc = r->ps ? pt_pipeline_enc_json() : NULL;
        json_object_set_new(json_object_get(root, "run"), "encoder", enc ? enc : json_null());
    }
    int ret = json_term_dumpf(root, f, JSON_FLAGS);
    fputc('\n', f);
    json_decref(root);
    json_printed = true;
    /* buffered: a full disk shows only at the flush */
    int e = fs_flush(f);
    return e ? e : ret ? -EIO : 0;
}

void pt_report_json_error(FILE *f, const char *out_dir, const char *error, int exit_status)
{
    if (json_printed)
        return;
    json_t *root = json_pack("{s:o,s:o,s:i}", "out", out_dir ? json_term_name(out_dir) : json_null(),
                             "error", json_term_name(error), "exit", exit_status);
    if (root && !json_term_dumpf(root, f, JSON_FLAGS))
        fputc('\n', f);
    json_decref(root);
}
