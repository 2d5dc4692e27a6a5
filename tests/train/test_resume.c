/* Resume is bit-exact: a run of N steps straight and the same run stopped at
 * K (--stop-after), continued further, rolled back to the checkpoint at K
 * and resumed to N log identical per-step losses, accuracies, learning
 * rates, gradient norms and val losses, and end with identical weights and
 * AdamW state. The straight run uses 1 thread and the interrupted one 2, so
 * this also checks that results do not depend on the thread count. The
 * epoch is 3 steps long, so the data order wraps mid-run, and steps use
 * gradient accumulation (2 micro-steps).
 * usage: test_resume INGOT_TRAIN */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "fsutil.h"
#include "parity_dump.h"
#include "tt_util.h"

enum { VOCAB = 90, N_TRAIN = 3 * 2 * 4 * 32 + 1, N_VAL = 400 };

static void same_payload(const char *a, const char *b)
{
    char *x = NULL, *y = NULL;
    size_t nx, ny;
    CHECK(tt_ckpt_payload_equal(a, b));
    CHECK_OK(fs_read_all(a, &x, &nx));
    CHECK_OK(fs_read_all(b, &y, &ny));
    const struct tr_ckpt_header *hx = (const void *)x, *hy = (const void *)y;
    CHECK(hx->step == hy->step && hx->data_epoch == hy->data_epoch &&
          hx->data_index == hy->data_index && hx->tokens == hy->tokens);
    free(x);
    free(y);
}

/* Run cmd (freed), which must fail; its output (malloc'd). */
static char *refused(char *cmd, const char *out)
{
    CHECK(tt_run(cmd, out) != 0);
    free(cmd);
    return tt_slurp(out);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    const char *bin = argv[1];
    char *dir = tt_tmpdir("resume");
    char *data = tt_fmt("%s/data", dir), *out = tt_fmt("%s/out.txt", dir);
    uint32_t *ids = malloc((N_TRAIN + N_VAL) * sizeof(uint32_t));
    CHECK(ids);
    tt_markov_tokens(ids, N_TRAIN + N_VAL, VOCAB, 5);
    struct tt_dataset d = { .dir = data, .vocab = VOCAB, .tokenizer_hash = 5, .bos_id = -1,
                            .train = ids, .n_train = N_TRAIN, .val = ids + N_TRAIN,
                            .n_val = N_VAL, .doc_len = 64, .shard_docs = 5 };
    CHECK_OK(tt_write_dataset(&d));
    /* 4 x 32 tokens per micro-step, 2 micro-steps: 8 windows per step; the
     * train split holds 24 windows = 3 steps per epoch. */
    char *common = tt_fmt("'%s' --data '%s' --model tiny --layers 1 --dim 32 --seq-len 32 "
                          "--batch 4 --batch-tokens 256 --steps 12 --warmup 3 --lr 1e-2 "
                          "--val-every 4 --val-tokens 256 --print-every 1", bin, data);

    char *cmd = tt_fmt("%s --threads 1 --metrics '%s/a.jsonl' --ckpt-dir '%s/ca'", common, dir, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    cmd = tt_fmt("%s --threads 2 --metrics '%s/b.jsonl' --ckpt-dir '%s/cb' --stop-after 5",
                 common, dir, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    char *said = tt_slurp(out);   /* where it stands, as an interruption says */
    CHECK(said && strstr(said, "stopped after step 5 of 12 (--stop-after); checkpoint written, "
                         "continue with --resume"));
    free(said);
    /* Go on to 8, then pretend that checkpoint was lost: the metrics file
     * has steps 6-8 that the resumed run must replace, not duplicate. */
    cmd = tt_fmt("%s --threads 2 --metrics '%s/b.jsonl' --ckpt-dir '%s/cb' --stop-after 8 "
                 "--resume", common, dir, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    char *c8 = tt_fmt("%s/cb/ckpt-00000008.bin", dir);
    CHECK(unlink(c8) == 0);
    /* a resume that ends before its checkpoint does nothing, to the metrics
     * too (steps 6-8 went to .dropped though no step replaced them) */
    cmd = tt_fmt("%s --threads 2 --metrics '%s/b.jsonl' --ckpt-dir '%s/cb' --stop-after 3 "
                 "--resume", common, dir, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    said = tt_slurp(out);
    CHECK(said && strstr(said, "nothing to do: the checkpoint is at step 5 and this run ends at "
                         "step 3") && !strstr(said, "moved to"));
    free(said);
    struct tt_step kept8[10];
    char *mb8 = tt_fmt("%s/b.jsonl", dir), *dropped0 = tt_fmt("%s/b.jsonl.dropped", dir);
    struct stat dsb;
    CHECK(tt_read_steps(mb8, kept8, 10) == 8 && stat(dropped0, &dsb) != 0 && errno == ENOENT);
    free(mb8);
    free(dropped0);
    cmd = tt_fmt("%s --threads 2 --metrics '%s/b.jsonl' --ckpt-dir '%s/cb' --resume", common, dir,
                 dir);
    tt_run_ok(cmd, out);
    char *s = tt_slurp(out);
    CHECK(s && strstr(s, "resumed from") && strstr(s, "ckpt-00000005.bin"));
    /* the records it replaces are kept aside, not erased, and it says so */
    CHECK(strstr(s, "b.jsonl: 4 records after step 5 (a run past this checkpoint) moved to "));
    CHECK(!strstr(s, "not the one the checkpoint trained on"));   /* the same data */
    free(s);
    free(cmd);
    char *dropped = tt_fmt("%s/b.jsonl.dropped", dir);
    struct tt_step gone[8];
    CHECK(tt_read_steps(dropped, gone, 8) == 3 && gone[0].step == 6 && gone[2].step == 8);
    free(dropped);

    struct tt_step a[40], b[40];
    char *ma = tt_fmt("%s/a.jsonl", dir), *mb = tt_fmt("%s/b.jsonl", dir);
    int na = tt_read_steps(ma, a, 40), nb = tt_read_steps(mb, b, 40);
    CHECK(na == 12 && nb == 12);
    for (int i = 0; i < 12; i++) {
        if (a[i].step != b[i].step || a[i].loss != b[i].loss || a[i].accuracy != b[i].accuracy ||
            a[i].lr != b[i].lr || a[i].grad_norm != b[i].grad_norm) {
            fprintf(stderr, "step %ld: straight loss %.17g norm %.17g, resumed step %ld loss "
                    "%.17g norm %.17g\n", a[i].step, a[i].loss, a[i].grad_norm, b[i].step,
                    b[i].loss, b[i].grad_norm);
            return 1;
        }
    }
    CHECK(a[11].loss < a[0].loss);   /* it trained */
    long vsa[10], vsb[10];
    double vla[10], vlb[10];
    int nva = tt_read_vals(ma, vsa, vla, 10), nvb = tt_read_vals(mb, vsb, vlb, 10);
    CHECK(nva == 3 && nvb == 3);
    for (int i = 0; i < 3; i++)
        CHECK(vsa[i] == vsb[i] && vla[i] == vlb[i]);
    char *ca = tt_fmt("%s/ca/ckpt-00000012.bin", dir), *cb = tt_fmt("%s/cb/ckpt-00000012.bin", dir);
    same_payload(ca, cb);
    printf("resume: 12 steps straight == 5 + (3 dropped) + 7 resumed, loss %.6f -> %.6f, "
           "val %.6f\n", a[0].loss, a[11].loss, vla[2]);

    /* A dataset of another tokenizer (and so another vocabulary): named as
     * the tokenizer, not as another model shape (that sent the user to
     * --model and --layers) */
    char *data2 = tt_fmt("%s/data2", dir);
    struct tt_dataset d2 = d;
    d2.dir = data2;
    d2.vocab = VOCAB + 50;
    d2.tokenizer_hash = 6;
    CHECK_OK(tt_write_dataset(&d2));
    s = refused(tt_fmt("'%s' --ckpt-dir '%s/cb' --resume --data '%s' --steps 13", bin, dir,
                       data2), out);
    CHECK(s && strstr(s, "the checkpoint's tokenizer") && !strstr(s, "another model configuration"));
    free(s);
    /* the same tokenizer's hash (ids only: both 0 in practice) with another
     * vocabulary: the dataset named, not "pass --vocab", which a dataset
     * run refuses */
    char *data3 = tt_fmt("%s/data3", dir);
    struct tt_dataset d4 = d;
    d4.dir = data3;
    d4.vocab = VOCAB + 50;
    CHECK_OK(tt_write_dataset(&d4));
    s = refused(tt_fmt("'%s' --ckpt-dir '%s/cb' --resume --data '%s' --steps 13", bin, dir,
                       data3), out);
    CHECK(s && strstr(s, "the checkpoint's vocabulary is 90, the dataset's 140 (") &&
          strstr(s, "use the dataset the checkpoint was trained on") && !strstr(s, "--vocab"));
    free(s);
    free(data3);
    /* the dataset its settings name, moved since: the message says where the
     * path came from and what to pass */
    char *moved = tt_fmt("%s/data-moved", dir);
    CHECK(rename(data, moved) == 0);
    s = refused(tt_fmt("'%s' --ckpt-dir '%s/cb' --resume --steps 13", bin, dir), out);
    CHECK(s && strstr(s, "no such dataset directory: the path checkpoint ") &&
          strstr(s, "pass --data DIR where the dataset is now"));
    free(s);
    CHECK(rename(moved, data) == 0);
    free(moved);
    /* ... and refused into a --ckpt-dir this run made: the directory goes
     * again (it was left holding only the lock); one that existed stays */
    char *ckft = tt_fmt("%s/ckft", dir);
    cmd = tt_fmt("'%s' --init-from '%s/cb' --data '%s' --ckpt-dir '%s' --steps 2", bin, dir, data2,
                 ckft);
    CHECK(tt_run(cmd, out) != 0);
    CHECK(access(ckft, F_OK) != 0);
    CHECK(mkdir(ckft, 0755) == 0);
    CHECK(tt_run(cmd, out) != 0);
    CHECK(access(ckft, F_OK) == 0);
    free(cmd);
    /* named through "..": it existed (holding only the lock by now), so it
     * stays (it was taken for new: "newd/.." does not exist by name) */
    cmd = tt_fmt("'%s' --init-from '%s/cb' --data '%s' --ckpt-dir '%s/newd/../ckft' --steps 2",
                 bin, dir, data2, dir);
    CHECK(tt_run(cmd, out) != 0);
    CHECK(access(ckft, F_OK) == 0);
    free(cmd);
    free(ckft);
    free(data2);

    /* --dump-batch after resuming: header and size as documented. */
    cmd = tt_fmt("%s --ckpt-dir '%s/cb' --resume --dump-batch '%s/batch.bin'", common, dir, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    char *bp = tt_fmt("%s/batch.bin", dir), *buf;
    size_t blen;
    CHECK_OK(fs_read_all(bp, &buf, &blen));
    struct tr_config c = { .n_layer = 1, .n_head = 2, .n_embd = 32, .seq_len = 32, .vocab = VOCAB };
    tr_config_pad_vocab(&c);
    size_t np = tr_param_count(&c);
    const struct tr_dump_header *dh = (const void *)buf;
    CHECK(blen == TR_DUMP_HEADER_SIZE + 4 * 33 * 4 + 2 * np * 4 + (size_t)4 * 32 * 128 * 4);
    CHECK(!memcmp(dh->magic, TR_DUMP_MAGIC, 8) && dh->step == 12 && dh->batch == 4 &&
          dh->n_params == np && dh->loss > 0 && dh->loss < 10);
    free(buf);
    free(bp);

    /* --val-tokens below one window: one window, a val loss (it said the
     * dataset had no val split) */
    cmd = tt_fmt("'%s' --data '%s' --model tiny --layers 1 --dim 32 --seq-len 32 --batch 4 "
                 "--steps 1 --val-every 1 --val-tokens 10 --metrics '%s/v.jsonl'", bin, data,
                 dir);
    tt_run_ok(cmd, out);
    free(cmd);
    s = tt_slurp(out);
    CHECK(s && strstr(s, "val: 1 window (32 tokens)") && !strstr(s, "no validation loss"));
    free(s);
    char *mv = tt_fmt("%s/v.jsonl", dir);
    CHECK(tt_read_vals(mv, vsa, vla, 10) == 1);
    free(mv);

    /* a new run over the metrics file of an earlier one: all of it kept aside */
    char *dropped2 = tt_fmt("%s/b.jsonl.dropped", dir);
    struct tt_step kept[8];
    cmd = tt_fmt("%s --threads 2 --steps 3 --warmup 1 --metrics '%s/b.jsonl' --val-every 0",
                 common, dir);
    tt_run_ok(cmd, out);
    s = tt_slurp(out);
    CHECK(s && strstr(s, "b.jsonl held 15 records of an earlier run: moved to "));
    free(s);
    free(cmd);
    CHECK(tt_read_steps(dropped2, kept, 8) == 8);   /* 3 + 12 steps: the first 8 read */
    CHECK(tt_read_steps(mb, kept, 8) == 3);
    free(dropped2);

    /* the dataset converted again at the same path (same tokenizer, other
     * tokens): the resume goes on and says so (it went on without a word) */
    tt_markov_tokens(ids, N_TRAIN + N_VAL, VOCAB, 7);
    char *swap = tt_fmt("%s/data-new", dir);
    struct tt_dataset d3 = d;
    d3.dir = swap;
    CHECK_OK(tt_write_dataset(&d3));
    char *old_data = tt_fmt("%s/data-old", dir);
    CHECK(rename(data, old_data) == 0 && rename(swap, data) == 0);
    cmd = tt_fmt("'%s' --ckpt-dir '%s/cb' --resume --steps 14", bin, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    s = tt_slurp(out);
    CHECK(s && strstr(s, "note: resume: the dataset ") &&
          strstr(s, "is not the one the checkpoint trained on") &&
          strstr(s, "(epoch 4, window 0)"));
    free(s);
    /* ... and a checkpoint written on the new data resumes on it silently */
    cmd = tt_fmt("'%s' --ckpt-dir '%s/cb' --resume --steps 15", bin, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    s = tt_slurp(out);
    CHECK(s && strstr(s, "resumed from") && !strstr(s, "not the one the checkpoint trained on"));
    free(s);
    /* ... and converted again shorter than the checkpoint's place: one
     * message with the way on (it noted "the run goes on", then refused as
     * "the dataset or --seq-len differs") */
    char *small = tt_fmt("%s/data-small", dir);
    struct tt_dataset d5 = d;
    d5.dir = small;
    d5.n_train = 8 * 32 + 1;   /* 8 windows: step 14's place (window 16) is past them */
    CHECK_OK(tt_write_dataset(&d5));
    CHECK(rename(data, swap) == 0 && rename(small, data) == 0);
    s = refused(tt_fmt("'%s' --resume-from '%s/cb/ckpt-00000014.bin' --ckpt-dir '%s/cshort' "
                       "--steps 16", bin, dir, dir), out);
    CHECK(s && strstr(s, "beyond the 8 windows of an epoch") &&
          strstr(s, "its shards changed since the checkpoint") &&
          strstr(s, "--init-from and a new --ckpt-dir") && !strstr(s, "note: resume:"));
    free(s);
    CHECK(rename(data, small) == 0 && rename(swap, data) == 0);
    free(small);
    free(swap);
    free(old_data);

    /* a --ckpt-dir holding only a misnamed copy (ckpt-12.bin): --resume
     * started the run again from step 0 beside it, without a word */
    char *odd = tt_fmt("%s/codd", dir);
    CHECK(mkdir(odd, 0755) == 0);
    cmd = tt_fmt("cp '%s' '%s/ckpt-12.bin' && cp '%s/cb/config.json' '%s/'", cb, odd, dir, odd);
    CHECK(system(cmd) == 0);
    free(cmd);
    char *args = tt_fmt("--ckpt-dir '%s' --resume", odd);
    CHECK(tt_expect(bin, out, "--resume beside a misnamed copy", args, 2,
                    "holds no checkpoint by the name a save gives it",
                    "ckpt-12.bin is passed over; if it is one, rename it ckpt-00000012.bin") == 0);
    free(args);
    free(odd);

    tt_rmtree(dir);
    free(ids); free(dir); free(data); free(out); free(common); free(c8);
    free(ma); free(mb); free(ca); free(cb);
    return 0;
}
