/* ingot-train generate with hostile inputs (a review's findings): each case
 * must exit with a usage error and a message, never compute.
 *  1. A prompt encoded by a tokenizer whose ids reach past the model's
 *     vocabulary (a synthetic checkpoint carries no tokenizer hash, so any
 *     --tokenizer is accepted): the cached back end refused such ids, but
 *     --no-cache handed them to the training back end's forward, which read
 *     embedding rows past the table and printed a continuation.
 *  2. The usual refusals stay: --tokens 0, an empty --prompt-ids.
 *  3. A checkpoint with a NaN weight (checksums recomputed): generate
 *     printed noise ('⁇' or one repeated id) and eval "loss nan", both with
 *     exit status 0; now refused (1) naming the tensor, as export does.
 *  4. --prompt-ids from a file ("$(cat ids)" keeps inner newlines, a
 *     list may end in one): a trailing newline or tab was "not a list of
 *     integers"; an id past LONG_MAX was reported as 9223372036854775807.
 *  5. Standard output that cannot be written (> /dev/full, as a full disk):
 *     generate and eval exited 0 with their result lost; now 1, named.
 *  6. --samples N with --top-k 1 gave N identical copies; a --seed whose
 *     last sample's seed (seed + N - 1) --seed cannot take was accepted. Both
 *     refused.
 * usage: test_generate_args INGOT_TRAIN TOKENIZER.model (a SentencePiece
 * model with more pieces than the checkpoint's vocabulary of 40) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen_ckpt.h"
#include "tr_export.h"
#include "tt_util.h"

/* cmd (malloc'd; freed here), which closes a standard stream of the
 * command it runs: exit 2 with want in its output (the /dev/null put on
 * the closed descriptor swallowed the result or read as an empty input,
 * exit 0). 0 or 1 failure. */
static int closed_stream(const char *out, const char *what, char *cmd, const char *want)
{
    int rc = tt_run(cmd, out);
    char *text = tt_slurp(out);
    bool ok = rc == 2 && text && strstr(text, want);
    printf("%-34s exit %d%s\n", what, rc, ok ? "" : "  FAIL");
    if (!ok)
        fprintf(stderr, "%s: want exit 2 with '%s', got %d:\n%s\n", cmd, want, rc,
                text ? text : "");
    free(text);
    free(cmd);
    return !ok;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_generate_args INGOT_TRAIN TOKENIZER.model\n");
        return 2;
    }
    const char *bin = argv[1], *tok = argv[2];
    char *dir = tt_tmpdir("generate-args"), *out = tt_fmt("%s/out.txt", dir);
    char *cmd = tt_fmt("'%s' --device cpu --synthetic --vocab 40 --seq-len 16 --batch 2 --steps 2 "
                       "--threads 1 --val-every 0 --quiet --model tiny --layers 1 --dim 32 "
                       "--heads 2 --ckpt-dir '%s/ck'", bin, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    /* the model's 95 pieces: this text encodes to ids 61, 44 and 40 among others */
    const char *text = "The quick brown fox jumps over the lazy dog, zebra!";
    const struct {
        const char *what, *fmt;
        const char *n1, *n2;
    } cases[] = {
        { "prompt ids past the vocabulary, kv cache",
          "generate '%s/ck' --tokenizer '%s' --prompt '%s' --tokens 2 --ids --threads 1",
          "outside the model's vocabulary of 40", "--tokenizer" },
        { "prompt ids past the vocabulary, --no-cache",
          "generate '%s/ck' --tokenizer '%s' --prompt '%s' --tokens 2 --ids --threads 1 "
          "--no-cache", "outside the model's vocabulary of 40", "--tokenizer" },
    };
    int fails = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *args = tt_fmt(cases[i].fmt, dir, tok, text);
        fails += tt_expect(bin, out, cases[i].what, args, 2, cases[i].n1, cases[i].n2);
        free(args);
    }
    /* ids with no tokenizer to find: no EOS/BOS known, said in the closing line (it
     * went past document boundaries without a word) */
    char *args = tt_fmt("generate '%s/ck' --prompt-ids '1 2' --tokens 3 --ids --threads 1", dir);
    fails += tt_expect(bin, out, "ids without a tokenizer", args, 0,
                       "no tokenizer: EOS/BOS unknown", NULL);
    free(args);
    args = tt_fmt("generate '%s/ck' --prompt-ids 1 --tokens 0", dir);
    fails += tt_expect(bin, out, "--tokens 0", args, 2, "--tokens", NULL);
    free(args);
    /* greedy samples would all be alike; a seed whose last sample's seed
     * --seed cannot give back (it was accepted) */
    args = tt_fmt("generate '%s/ck' --prompt-ids 1 --samples 3 --top-k 1", dir);
    fails += tt_expect(bin, out, "--samples with --top-k 1", args, 2, "3 identical", "--top-k");
    free(args);
    args = tt_fmt("generate '%s/ck' --prompt-ids 1 --samples 3 --seed 9223372036854775806", dir);
    fails += tt_expect(bin, out, "--seed near INT64_MAX with --samples", args, 2,
                       "past the largest --seed", "at most 9223372036854775805");
    free(args);
    args = tt_fmt("generate '%s/ck' --prompt-ids 1 --tokens 2 --ids --threads 1 --samples 2 "
                  "--seed 9223372036854775806", dir);
    fails += tt_expect(bin, out, "--seed at the last that fits --samples", args, 0,
                       "seed 9223372036854775806", NULL);
    free(args);
    args = tt_fmt("generate '%s/ck' --prompt-ids ' , '", dir);
    fails += tt_expect(bin, out, "an empty --prompt-ids", args, 2, "--prompt-ids: no ids given",
                       NULL);
    free(args);
    /* a NaN in the final LayerNorm's weight: every logit NaN */
    char *ck = tt_fmt("%s/ck", dir);
    struct tr_ckpt_state st;
    float *p;
    CHECK_OK(tr_export_load(ck, &st, &p, NULL));
    free(p);
    char *nan_ck = gen_resave(ck, dir, "nan", tr_param_offset(&st.cfg, TR_LNFW), NAN);
    args = tt_fmt("generate '%s' --prompt-ids '1 2' --tokens 3 --ids --threads 1", nan_ck);
    fails += tt_expect(bin, out, "generate: a NaN weight", args, 1, "tensor lnfw is nan", NULL);
    free(args);
    args = tt_fmt("generate '%s' --prompt-ids '1 2' --tokens 3 --ids --threads 1 --no-cache",
                  nan_ck);
    fails += tt_expect(bin, out, "generate --no-cache: a NaN weight", args, 1,
                       "tensor lnfw is nan", NULL);
    free(args);
    /* eval on a dataset it reads (ids below 40; the good checkpoint's loss is finite) */
    uint32_t toks[400];
    tt_markov_tokens(toks, 400, 40, 5);
    char *ds = tt_fmt("%s/ds", dir);
    const struct tt_dataset d = { .dir = ds, .vocab = 40, .bos_id = -1, .train = toks,
                                  .n_train = 300, .val = toks + 300, .n_val = 100,
                                  .doc_len = 50, .shard_docs = 4 };
    CHECK_OK(tt_write_dataset(&d));
    args = tt_fmt("eval '%s' --data '%s' --threads 1", ck, ds);
    fails += tt_expect(bin, out, "eval", args, 0, "loss ", NULL);
    free(args);
    args = tt_fmt("eval '%s' --data '%s' --threads 1", nan_ck, ds);
    fails += tt_expect(bin, out, "eval: a NaN weight", args, 1, "tensor lnfw is nan", NULL);
    free(args);
    /* eval without --data takes the dataset the settings name; moved since, the
     * message says so and what to pass (it named the path alone) */
    args = tt_fmt("'%s' --device cpu --data '%s' --seq-len 16 --batch 2 --steps 1 --threads 1 "
                  "--val-every 0 --quiet --model tiny --layers 1 --dim 32 --heads 2 "
                  "--ckpt-dir '%s/ckds'", bin, ds, dir);
    tt_run_ok(args, out);
    free(args);
    char *moved = tt_fmt("%s/ds-moved", dir);
    CHECK(rename(ds, moved) == 0);
    args = tt_fmt("eval '%s/ckds' --threads 1", dir);
    fails += tt_expect(bin, out, "eval: the settings' dataset moved", args, 1,
                       "the dataset the checkpoint's settings name",
                       "pass --data DIR where it is now");
    free(args);
    CHECK(rename(moved, ds) == 0);
    free(moved);
    /* a tokenizer of fewer pieces (95) than a synthetic model's vocabulary (128):
     * text out is refused at once (the model sampled ids it could not decode and
     * the text stopped midway, exit 1); ids out need no decoding */
    args = tt_fmt("'%s' --device cpu --synthetic --vocab 128 --seq-len 16 --batch 2 --steps 1 "
                  "--threads 1 --val-every 0 --quiet --model tiny --layers 1 --dim 32 "
                  "--heads 2 --ckpt-dir '%s/ck128'", bin, dir);
    tt_run_ok(args, out);
    free(args);
    args = tt_fmt("generate '%s/ck128' --tokenizer '%s' --prompt 'The' --tokens 4 --threads 1",
                  dir, tok);
    fails += tt_expect(bin, out, "generate: tokenizer smaller than vocab", args, 1,
                       "the tokenizer has 95 pieces, fewer than the model's vocabulary of 128",
                       "--ids");
    free(args);
    args = tt_fmt("generate '%s/ck128' --tokenizer '%s' --prompt 'The' --tokens 4 --ids "
                  "--threads 1", dir, tok);
    fails += tt_expect(bin, out, "generate --ids: tokenizer smaller", args, 0, NULL, NULL);
    free(args);
    /* finite weights that overflow the activations: NaN logits and loss were
     * printed (exit 0), the sampler gave id 0 over and over; a loss too large
     * for exp() gave "perplexity":inf, which is no JSON */
    char *huge = gen_rescale(ck, dir, "huge", 1e18f), *big = gen_rescale(ck, dir, "big", 100.0f);
    args = tt_fmt("eval '%s' --data '%s' --threads 1", huge, ds);
    fails += tt_expect(bin, out, "eval: weights that overflow", args, 1, "is not finite",
                       "evaluate an earlier checkpoint");
    free(args);
    args = tt_fmt("generate '%s' --prompt-ids '1 2' --tokens 3 --ids --threads 1", huge);
    fails += tt_expect(bin, out, "generate: weights that overflow", args, 1,
                       "logits are not finite", "use an earlier checkpoint");
    free(args);
    args = tt_fmt("eval '%s' --data '%s' --threads 1 --json", big, ds);
    fails += tt_expect(bin, out, "eval --json: perplexity past a double", args, 0,
                       "\"perplexity\":null", NULL);
    char *js = tt_slurp(out);
    fails += !(js && !strstr(js, "inf") && !strstr(js, "nan"));
    free(js);
    free(args);
    free(huge);
    free(big);
    /* eval's --batch (up to 4096) times a long context past 2^24 tokens per
     * forward: refused, as in training (the ops index rows with int; a
     * crafted checkpoint's seq-len once made the activation size wrap) */
    args = tt_fmt("--synthetic --vocab 64 --arch llama --model llama-tiny --layers 1 --dim 8 "
                  "--heads 2 --kv-heads 1 --ffn-dim 8 --seq-len 4100 --batch 1 --steps 1 "
                  "--val-every 0 --threads 1 --ckpt-dir '%s/long'", dir);
    fails += tt_expect(bin, out, "a model of seq-len 4100", args, 0, "ckpt-00000001.bin", NULL);
    free(args);
    args = tt_fmt("eval '%s/long' --data '%s' --batch 4096 --threads 1", dir, ds);
    fails += tt_expect(bin, out, "eval: --batch x seq-len past 2^24", args, 2, "more than 2^24",
                       "--batch 4092 or less");
    free(args);
    /* results to a full disk */
    const char *full[][2] = {
        { "generate to /dev/full", "generate '%s/ck' --prompt-ids 1 --tokens 2 --threads 1" },
        { "eval --json to /dev/full", "eval '%s/ck' --data '%s' --threads 1 --json" },
    };
    for (int i = 0; i < 2 && access("/dev/full", W_OK) == 0; i++) {
        char *a = tt_fmt(full[i][1], dir, ds);
        char *cmd = tt_fmt("{ '%s' %s >/dev/full; }", bin, a);
        int rc = tt_run(cmd, out);
        char *text = tt_slurp(out);
        bool ok = rc == 1 && text && strstr(text, "standard output: cannot write");
        printf("%-34s exit %d%s\n", full[i][0], rc, ok ? "" : "  FAIL");
        if (!ok)
            fprintf(stderr, "%s: want exit 1 naming standard output, got %d:\n%s\n", cmd, rc,
                    text ? text : "");
        fails += !ok;
        free(text);
        free(cmd);
        free(a);
    }
    /* standard output closed (>&-): the /dev/null in its place swallowed
     * the continuation, exit 0 */
    fails += closed_stream(out, "generate >&-", tt_fmt("{ '%s' generate '%s/ck' --prompt-ids 1 "
                           "--tokens 2 --threads 1 >&-; }", bin, dir), "standard output is closed");
    fails += closed_stream(out, "eval >&-", tt_fmt("{ '%s' eval '%s/ck' --data '%s' --threads 1 "
                           ">&-; }", bin, dir, ds), "standard output is closed");
    /* --prompt-file - with standard input closed: it read as an empty prompt
     * and generated from BOS, exit 0 */
    fails += closed_stream(out, "generate --prompt-file - <&-", tt_fmt("{ '%s' generate '%s/ck' "
                           "--prompt-file - --tokens 2 --threads 1 <&-; }", bin, dir),
                           "--prompt-file -: standard input is closed");
    free(ds);
    /* white space around and between the ids */
    args = tt_fmt("generate '%s' --prompt-ids '\t1\n2,\t3\n' --tokens 2 --ids --threads 1", ck);
    fails += tt_expect(bin, out, "--prompt-ids with newlines and tabs", args, 0, "1 2 3 ", NULL);
    free(args);
    args = tt_fmt("generate '%s' --prompt-ids '1 99999999999999999999999' --tokens 2", ck);
    fails += tt_expect(bin, out, "--prompt-ids: an id past LONG_MAX", args, 2,
                       "99999999999999999999999 is outside", NULL);
    free(args);
    free(nan_ck);
    free(ck);
    tt_rmtree(dir);
    free(dir);
    free(out);
    if (fails)
        return 1;
    printf("ok: generate refuses hostile prompts\n");
    return 0;
}
