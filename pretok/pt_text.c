#include "pt_text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#include "cli_num.h"
#include "fsutil.h"
#include "ingot_err.h"
#include "pt_input.h"
#include "pt_producer.h"
#include "pt_reason.h"
#include "pt_worker.h"

struct text_ctx {
    const struct pt_opts *o;
    const struct pt_tok_cfg *cfg;
    struct pt_worker w;
    FILE *out;
    uint64_t docs, kept, bytes, skipped;
    int err;
};

/* Called by the producer with each full batch: handle it right here. */
static int handle(void *arg, struct pt_batch **bp)
{
    struct text_ctx *t = arg;
    struct pt_batch *b = *bp;
    b->n_out = 0;
    for (size_t i = 0; i < b->n_in; i++) {
        const struct pt_item *it = &b->in[i];
        if (it->kind == PT_ITEM_EVENT) {
            t->skipped += pt_reason_is_skip(it->reason);
            continue;
        }
        const char *s;
        size_t n;
        int ret = pt_worker_text(t->cfg, &t->w, b, it, &s, &n);
        if (ret < 0) {
            t->err = ret;
            return 1;
        }
        if (ret == 0) {
            t->skipped++;
            continue;
        }
        if (t->docs++ % t->o->every)
            continue;
        if (fwrite(s, 1, n, t->out) != n || fputc('\n', t->out) == EOF) {
            t->err = -EIO;
            return 1;
        }
        t->kept++;
        t->bytes += n + 1;
        if (t->o->max_bytes && t->bytes >= t->o->max_bytes)
            return 1;
    }
    pt_batch_reset(b);
    return 0;
}

int pt_text(const struct pt_opts *o, FILE *out)
{
    struct pt_inputs in;
    struct pt_json_path path;
    int ret = pt_json_path_init(&path, o->text_key);
    if (ret)
        return ret;
    if ((ret = pt_inputs_expand_stdin(o->inputs, o->n_inputs, NULL, o->stdin_format, &in))) {
        pt_json_path_free(&path);
        return ret;
    }
    if (!o->quiet)
        pt_inputs_print_notes(&in, "ingot-pretok text", stderr);
    if (!in.n) {   /* as convert: a run that reads nothing is not a success */
        pt_inputs_free(&in);
        pt_json_path_free(&path);
        return ingot_fail(INGOT_E_NODATA, "text: no input file found (directories are searched "
                          "for %s)", pt_input_suffixes);
    }
    struct pt_tok_cfg cfg = { .path = &path, .invalid_utf8_skip = o->invalid_utf8_skip,
                              .bos = -1, .eos = -1 };
    struct text_ctx t = { .o = o, .cfg = &cfg, .out = out };
    atomic_int stop;
    atomic_init(&stop, 0);
    struct pt_producer_cfg pc = { .inputs = in.v, .n_inputs = in.n, .txt_doc = o->txt_doc,
                                  .batch_bytes = 1 << 20, .batch_items = 8192,
                                  .max_record = o->max_record, .resume_file = UINT32_MAX,
                                  .stop = &stop };
    struct pt_batch batch = { 0 }, *b = &batch;
    struct pt_producer_stats st = { 0 };
    ret = pt_producer_run(&pc, handle, &t, &b, &st);
    if (ret == 1)
        ret = 0;
    if (!ret && t.err)
        ret = ingot_fail(t.err, t.err == -EIO ? "text: cannot write the output"
                                              : "text: out of memory");
    if (!ret && fs_flush(out))
        ret = ingot_fail(-EIO, "text: cannot write the output");
    if (!ret && !t.kept && t.skipped)
        ret = ingot_fail(INGOT_E_INPUT, "text: every record was skipped (%" PRIu64 " of them; "
                         "a wrong --text-key or input format?), nothing written", t.skipped);
    char hb[32];
    if (!ret && !o->quiet)
        fprintf(stderr, "ingot-pretok text: %" PRIu64 " of %" PRIu64 " documents written "
                "(%s), %" PRIu64 " records skipped, from %zu files\n", t.kept, t.docs,
                cli_human_bytes((double)t.bytes, hb, sizeof(hb)), t.skipped, in.n);
    pt_batch_free(&batch);
    pt_worker_free(&t.w);
    pt_inputs_free(&in);
    pt_json_path_free(&path);
    return ret;
}
