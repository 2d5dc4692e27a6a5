/* ingot-train generate with hostile inputs (a review's findings): each case
 * must exit with a usage error and a message, never compute.
 *  1. A prompt encoded by a tokenizer whose ids reach past the model's
 *     vocabulary (a synthetic checkpoint carries no tokenizer hash, so any
 *     --tokenizer is accepted): the cached back end refused such ids, but
 *     --no-cache handed them to the training back end's forward, which read
 *     embedding rows past the table and printed a continuation.
 *  2. The usual refusals stay: --tokens 0, an empty --prompt-ids.
 * usage: test_generate_args INGOT_TRAIN TOKENIZER.model (a SentencePiece
 * model with more pieces than the checkpoint's vocabulary of 40) */
#include <stdio.h>
#include <stdlib.h>

#include "tt_util.h"

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
    char *args = tt_fmt("generate '%s/ck' --prompt-ids 1 --tokens 0", dir);
    fails += tt_expect(bin, out, "--tokens 0", args, 2, "--tokens", NULL);
    free(args);
    args = tt_fmt("generate '%s/ck' --prompt-ids ' , '", dir);
    fails += tt_expect(bin, out, "an empty --prompt-ids", args, 2, "--prompt-ids: no ids given",
                       NULL);
    free(args);
    tt_rmtree(dir);
    free(dir);
    free(out);
    if (fails)
        return 1;
    printf("ok: generate refuses hostile prompts\n");
    return 0;
}
