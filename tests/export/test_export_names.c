/* ingot-train export and generate with names and text that are not what
 * they should be (an adversarial review's findings; each case failed before
 * its fix):
 *  1. A checkpoint file whose name is not UTF-8 (Latin-1, say): export hf
 *     failed "out of memory allocating config.json", as jansson refused
 *     config.json's "checkpoint" string; now exported (GPT-2 and llama),
 *     the name's stray bytes as U+FFFD.
 *  2. --out a symbolic link to nothing: exit 1 with "exists and is not a
 *     directory", no option named, no hint; now a usage error (2) that says
 *     what it is.
 *  3. --out holding a directory where the format puts (or removes) a file:
 *     the whole export was written, then its rename failed with "run the
 *     same command again", which failed the same way; now refused (2)
 *     before anything is written, naming the directory.
 *  4. A prompt that is not UTF-8 (--prompt, --prompt-file): SentencePiece
 *     read the bytes as the unknown piece, and the prompt printed back and
 *     the model's input held " ⁇ " in their place, exit 0; now refused (2),
 *     naming the option and the byte.
 * usage: test_export_names INGOT_TRAIN TOKENIZER.model (95 pieces) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "checkpoint.h"
#include "fsutil.h"
#include "gen_ckpt.h"
#include "tt_util.h"

/* How many entries dir holds (. and .. aside); -1 when it cannot be read. */
static int n_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* 1: export hf of ck copied as DIR/<name>-\xe9.bin; config.json names it
 * with U+FFFD. */
static int odd_name(const char *bin, const char *dir, const char *out, const char *ck,
                    const char *tag)
{
    char *raw, *src, *odd = tt_fmt("%s/%s-caf\xe9.bin", dir, tag);
    size_t len;
    CHECK_OK(tr_ckpt_resolve(ck, &src));
    CHECK_OK(fs_read_all(src, &raw, &len));
    CHECK_OK(fs_write_atomic(odd, raw, len));
    char *args = tt_fmt("export '%s' --format hf --out '%s/hf-%s'", odd, dir, tag);
    char *what = tt_fmt("export hf of %s-caf\\xe9.bin", tag);
    int fails = tt_expect(bin, out, what, args, 0, "as hf", NULL);
    char *cfg = tt_fmt("%s/hf-%s/config.json", dir, tag), *want = tt_fmt("%s-caf\xef\xbf\xbd.bin",
                                                                           tag);
    json_error_t e;
    json_t *j = json_load_file(cfg, 0, &e);
    const char *got = json_string_value(json_object_get(json_object_get(j, "ingot"),
                                                        "checkpoint"));
    if (!got || strcmp(got, want)) {
        fprintf(stderr, "%s: ingot.checkpoint is %s, not %s\n", cfg, got ? got : "missing",
                want);
        fails++;
    }
    json_decref(j);
    free(cfg);
    free(want);
    free(what);
    free(args);
    free(raw);
    free(src);
    free(odd);
    return fails;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_export_names INGOT_TRAIN TOKENIZER.model\n");
        return 2;
    }
    char *bin = realpath(argv[1], NULL);
    CHECK(bin);
    const char *tok = argv[2];
    char *dir = tt_tmpdir("export-names"), *out = tt_fmt("%s/out.txt", dir);
    int fails = 0;

    /* 1. GPT-2 (synthetic, vocab 128: the 95-piece tokenizer fits) and llama */
    char *cmd = tt_fmt("'%s' --device cpu --synthetic --vocab 128 --seq-len 16 --batch 2 "
                       "--steps 1 --threads 1 --val-every 0 --quiet --model tiny --layers 1 "
                       "--dim 32 --heads 2 --ckpt-dir '%s/ck'", bin, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    char *ck = tt_fmt("%s/ck", dir), *ckl = gen_train(bin, dir, &gen_shapes[1]);
    fails += odd_name(bin, dir, out, ck, "gpt2");
    fails += odd_name(bin, dir, out, ckl, "llama");

    /* 2. --out a dangling symbolic link */
    char *link = tt_fmt("%s/dangling", dir), *args;
    CHECK(symlink("no-such-dir", link) == 0);
    args = tt_fmt("export '%s' --format hf --out '%s'", ck, link);
    fails += tt_expect(bin, out, "export --out a dangling symlink", args, 2, "--out",
                       "a symbolic link to something that does not exist");
    free(args);
    free(link);

    /* 3. a directory in the place of a file of the format: refused, nothing
     * written (the folder holds that directory only) */
    const struct { const char *fmt, *name; } taken[] = {
        { "hf", "model.safetensors" }, { "hf", "config.json" }, { "hf", "spiece.model" },
        { "llmc", "model.bin" }, { "safetensors", "model.safetensors" },
    };
    for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
        char *o = tt_fmt("%s/taken%zu", dir, i), *sub = tt_fmt("%s/%s", o, taken[i].name);
        CHECK_OK(fs_mkdir_p(sub));
        args = tt_fmt("export '%s' --format %s --out '%s'", ck, taken[i].fmt, o);
        char *what = tt_fmt("export %s, %s a directory", taken[i].fmt, taken[i].name);
        fails += tt_expect(bin, out, what, args, 2, "is a directory", "move it away");
        if (n_entries(o) != 1) {
            fprintf(stderr, "%s: %d entries after a refused export, not 1\n", o, n_entries(o));
            fails++;
        }
        free(what);
        free(args);
        free(sub);
        free(o);
    }

    /* 4. a prompt that is not UTF-8 */
    args = tt_fmt("generate '%s' --tokenizer '%s' --prompt 'ab\xff' --tokens 2 --ids "
                  "--threads 1", ck, tok);
    fails += tt_expect(bin, out, "generate --prompt not UTF-8", args, 2,
                       "--prompt: byte 2 (0xff) is not UTF-8", NULL);
    free(args);
    char *pf = tt_fmt("%s/latin1.txt", dir);
    CHECK_OK(fs_write_atomic(pf, "caf\xe9\n", 5));
    args = tt_fmt("generate '%s' --tokenizer '%s' --prompt-file '%s' --tokens 2 --ids "
                  "--threads 1", ck, tok, pf);
    fails += tt_expect(bin, out, "generate --prompt-file not UTF-8", args, 2,
                       "latin1.txt: byte 3 (0xe9) is not UTF-8", NULL);
    free(args);
    /* UTF-8 of 2, 3 and 4 bytes is taken */
    args = tt_fmt("generate '%s' --tokenizer '%s' --prompt 'caf\xc3\xa9 \xe2\x98\x83 "
                  "\xf0\x9f\x98\x80' --tokens 2 --ids --threads 1", ck, tok);
    fails += tt_expect(bin, out, "generate --prompt UTF-8", args, 0, "new tokens", NULL);
    free(args);
    free(pf);

    free(ck);
    free(ckl);
    if (!fails)
        tt_rmtree(dir);
    free(dir);
    free(out);
    free(bin);
    if (fails)
        return 1;
    printf("ok: odd checkpoint names exported; a dangling --out, a directory in a file's "
           "place and a prompt that is not UTF-8 refused\n");
    return 0;
}
