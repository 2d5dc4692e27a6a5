/* ingot-train export writes files that parse and hold the checkpoint's
 * weights: a tiny model trained on synthetic ids (vocab 300, so wte has
 * padded rows) is exported in the three formats, and each file is read back
 * here: safetensors headers (8-byte length, JSON, F32 entries, contiguous
 * offsets that cover the file), every tensor against the checkpoint bit for
 * bit (Ingot names; Hugging Face names with the Conv1D transposes and the
 * padded rows removed), config.json, generation_config.json, llm.c's header
 * and fp32/bf16 payloads; and the command's errors, hostile inputs among
 * them (check_hostile).
 * usage: test_export_files INGOT_TRAIN TOKENIZER.model (a SentencePiece
 * model of 95 pieces) */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "fsutil.h"
#include "gen_ckpt.h"
#include "tr_export.h"
#include "tt_util.h"

enum { V = 300, L = 2, C = 32, T = 16 };

/* A safetensors file: its JSON header and where the data starts. */
struct st_file {
    char *raw;
    size_t len;
    json_t *hdr;
    const char *data;
};

static void st_open(const char *path, struct st_file *f)
{
    CHECK_OK(fs_read_all(path, &f->raw, &f->len));
    CHECK(f->len >= 8);
    uint64_t hl = 0;
    for (int b = 7; b >= 0; b--)
        hl = hl << 8 | (unsigned char)f->raw[b];
    CHECK(hl % 8 == 0 && 8 + hl <= f->len);
    json_error_t e;
    f->hdr = json_loadb(f->raw + 8, hl, 0, &e);
    CHECK(f->hdr && json_is_object(f->hdr));
    f->data = f->raw + 8 + hl;
    /* every entry F32 with numel * 4 bytes; the ranges tile the data exactly */
    size_t n = 0, covered = 0;
    const char *key;
    json_t *v;
    json_object_foreach(f->hdr, key, v) {
        if (!strcmp(key, "__metadata__"))
            continue;
        n++;
        CHECK(!strcmp(json_string_value(json_object_get(v, "dtype")), "F32"));
        json_t *sh = json_object_get(v, "shape"), *off = json_object_get(v, "data_offsets");
        size_t numel = 1, i;
        json_t *d;
        json_array_foreach(sh, i, d) numel *= (size_t)json_integer_value(d);
        json_int_t a = json_integer_value(json_array_get(off, 0));
        json_int_t b = json_integer_value(json_array_get(off, 1));
        CHECK(a >= 0 && b - a == (json_int_t)(numel * 4) && (size_t)b <= f->len - 8 - hl);
        covered += (size_t)(b - a);
    }
    CHECK(n > 0 && covered == f->len - 8 - hl);
}

/* Tensor name's data and shape (ndim <= 3); fails the test when absent. */
static const float *st_get(const struct st_file *f, const char *name, int64_t shape[3], int *nd)
{
    json_t *v = json_object_get(f->hdr, name);
    if (!v) {
        fprintf(stderr, "tensor %s missing\n", name);
        exit(1);
    }
    size_t i;
    json_t *d;
    *nd = 0;
    json_array_foreach(json_object_get(v, "shape"), i, d) shape[(*nd)++] = json_integer_value(d);
    return (const float *)(const void *)(f->data +
                                         json_integer_value(json_array_get(json_object_get(v, "data_offsets"), 0)));
}

static void st_close(struct st_file *f)
{
    json_decref(f->hdr);
    free(f->raw);
}

static void check_raw(const char *dir, const struct tr_config *c, const float *p)
{
    char *path = tt_fmt("%s/raw/model.safetensors", dir);
    struct st_file f;
    st_open(path, &f);
    size_t sizes[TR_NUM_PARAMS];
    tr_param_sizes(c, sizes);
    for (int i = 0; i < TR_NUM_PARAMS; i++) {
        int64_t sh[3];
        int nd;
        const float *x = st_get(&f, tr_param_name(i), sh, &nd);
        size_t numel = 1;
        for (int k = 0; k < nd; k++)
            numel *= (size_t)sh[k];
        CHECK(numel == sizes[i] && !memcmp(x, p + tr_param_offset(c, i), numel * 4));
    }
    CHECK(json_object_size(f.hdr) == TR_NUM_PARAMS + 1);
    json_t *md = json_object_get(f.hdr, "__metadata__");
    CHECK(!strcmp(json_string_value(json_object_get(md, "vocab")), "300"));
    CHECK(!strcmp(json_string_value(json_object_get(md, "format")), "pt"));
    st_close(&f);
    free(path);
}

/* HF Conv1D weight [in, out] must be the transpose of Ingot's [out, in]. */
static void check_conv(const struct st_file *f, const char *name, const float *w, int64_t out,
                       int64_t in)
{
    int64_t sh[3];
    int nd;
    const float *x = st_get(f, name, sh, &nd);
    CHECK(nd == 2 && sh[0] == in && sh[1] == out);
    for (int64_t i = 0; i < out; i++)
        for (int64_t j = 0; j < in; j++)
            CHECK(x[j * out + i] == w[i * in + j]);
}

static void check_vec(const struct st_file *f, const char *name, const float *w, int64_t n)
{
    int64_t sh[3];
    int nd;
    const float *x = st_get(f, name, sh, &nd);
    CHECK(nd == 1 && sh[0] == n && !memcmp(x, w, (size_t)n * 4));
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        fprintf(stderr, "%s: %s\n", path, e.text);
    CHECK(j);
    return j;
}

static void check_hf(const char *dir, const struct tr_config *c, float *p)
{
    struct tr_tensors w;
    tr_tensors_map(c, p, &w);
    char *path = tt_fmt("%s/hf/model.safetensors", dir);
    struct st_file f;
    st_open(path, &f);
    CHECK(json_object_size(f.hdr) == 1 + 4 + 12 * L);
    CHECK(!json_object_get(f.hdr, "lm_head.weight"));   /* tied: stated in config.json */
    int64_t sh[3];
    int nd;
    const float *wte = st_get(&f, "transformer.wte.weight", sh, &nd);
    CHECK(nd == 2 && sh[0] == V && sh[1] == C && !memcmp(wte, w.wte, (size_t)V * C * 4));
    check_vec(&f, "transformer.ln_f.weight", w.lnfw, C);
    check_vec(&f, "transformer.ln_f.bias", w.lnfb, C);
    char name[96];
    for (int l = 0; l < L; l++) {
#define NAME(s) (snprintf(name, sizeof(name), "transformer.h.%d.%s", l, s), name)
        check_conv(&f, NAME("attn.c_attn.weight"), w.qkvw + l * 3 * C * C, 3 * C, C);
        check_conv(&f, NAME("attn.c_proj.weight"), w.attprojw + l * C * C, C, C);
        check_conv(&f, NAME("mlp.c_fc.weight"), w.fcw + l * 4 * C * C, 4 * C, C);
        check_conv(&f, NAME("mlp.c_proj.weight"), w.fcprojw + l * 4 * C * C, C, 4 * C);
        check_vec(&f, NAME("attn.c_attn.bias"), w.qkvb + l * 3 * C, 3 * C);
        check_vec(&f, NAME("mlp.c_proj.bias"), w.fcprojb + l * C, C);
        check_vec(&f, NAME("ln_1.weight"), w.ln1w + l * C, C);
        check_vec(&f, NAME("ln_2.bias"), w.ln2b + l * C, C);
#undef NAME
    }
    st_close(&f);
    free(path);
    path = tt_fmt("%s/hf/config.json", dir);
    json_t *cfg = load_json(path);
    CHECK(json_integer_value(json_object_get(cfg, "vocab_size")) == V);
    CHECK(json_integer_value(json_object_get(cfg, "n_positions")) == T);
    CHECK(json_integer_value(json_object_get(cfg, "n_layer")) == L);
    CHECK(json_is_true(json_object_get(cfg, "tie_word_embeddings")));
    CHECK(!strcmp(json_string_value(json_object_get(cfg, "activation_function")), "gelu_new"));
    CHECK(!strcmp(json_string_value(json_array_get(json_object_get(cfg, "architectures"), 0)),
                  "GPT2LMHeadModel"));
    CHECK(fabs(json_real_value(json_object_get(cfg, "layer_norm_epsilon")) - 1e-5) < 1e-12);
    json_decref(cfg);
    free(path);
    path = tt_fmt("%s/hf/generation_config.json", dir);
    cfg = load_json(path);
    /* no max_length: transformers warns on every generate(max_new_tokens=N) */
    CHECK(json_object_get(cfg, "max_length") == NULL);
    CHECK(json_integer_value(json_object_get(cfg, "top_k")) == 40);
    json_decref(cfg);
    free(path);
}

static void check_llmc(const char *dir, const char *sub, const struct tr_config *c,
                       const float *p, int version)
{
    char *path = tt_fmt("%s/%s/model.bin", dir, sub), *raw;
    size_t len, n = tr_param_count(c), width = version == 3 ? 4 : 2;
    CHECK_OK(fs_read_all(path, &raw, &len));
    CHECK(len == 1024 + n * width);
    int32_t h[8];
    memcpy(h, raw, sizeof(h));
    const int32_t want[8] = { 20240326, version, T, V, L, c->n_head, C, c->vocab_padded };
    CHECK(!memcmp(h, want, sizeof(want)));
    for (int k = 8; k < 256; k++)
        CHECK(((int32_t *)(void *)raw)[k] == 0);
    if (version == 3)
        CHECK(!memcmp(raw + 1024, p, n * 4));
    for (size_t i = 0; version == 5 && i < n; i++) {
        uint16_t b;
        memcpy(&b, raw + 1024 + 2 * i, 2);
        uint32_t u = (uint32_t)b << 16;
        float x;
        memcpy(&x, &u, 4);
        CHECK(fabsf(x - p[i]) <= fabsf(p[i]) * (1.0f / 256));   /* 8-bit mantissa, rounded */
    }
    free(raw);
    free(path);
}

/* Files named like an export's temp files (NAME.tmp.PID) in dir. */
static int count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

/* A signal while the export writes: the process dies of it, and leaves no
 * temp file (it left model.safetensors.tmp.PID, as large as the model),
 * and an earlier export's config.json as it was (nothing is put in place
 * before every file is written: it was removed before the first one).
 * The child makes that temp name a FIFO before it execs the export (exec
 * keeps the PID), so the export is held mid-write, with a full pipe, until
 * the signal: no race with the export's speed. */
static void signal_mid_export(const char *bin, const char *dir, const char *ck)
{
    char *out = tt_fmt("%s/sig", dir);
    tt_rmtree(out);
    CHECK(mkdir(out, 0755) == 0);
    /* an earlier export's config.json: kept */
    char *config = tt_fmt("%s/config.json", out);
    FILE *f = fopen(config, "w");
    CHECK(f && fputs("{\"n_layer\": 99}\n", f) >= 0 && fclose(f) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char fifo[4096];
        snprintf(fifo, sizeof(fifo), "%s/model.safetensors.tmp.%ld", out, (long)getpid());
        int null = open("/dev/null", O_WRONLY);
        if (mkfifo(fifo, 0644) != 0 || null < 0)
            _exit(126);
        dup2(null, 1);
        dup2(null, 2);
        execl(bin, bin, "export", ck, "--format", "hf", "--out", out, (char *)NULL);
        _exit(127);
    }
    char *fifo = tt_fmt("%s/model.safetensors.tmp.%ld", out, (long)pid);
    struct stat sb;
    for (int i = 0; i < 10000 && stat(fifo, &sb) != 0; i++)   /* the child makes it */
        usleep(1000);
    alarm(60);   /* an export that failed before its write: a failure, not a hang */
    int fd = open(fifo, O_RDONLY);   /* returns once the export opens it to write */
    CHECK(fd >= 0);
    char buf[4096];
    CHECK(read(fd, buf, sizeof(buf)) > 0);
    alarm(0);
    usleep(100000);   /* the pipe full again: the export blocked inside its write */
    CHECK(kill(pid, SIGTERM) == 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    close(fd);
    char kept[64] = "";
    f = fopen(config, "r");
    if (f) {
        size_t n = fread(kept, 1, sizeof(kept) - 1, f);
        kept[n] = 0;
        fclose(f);
    }
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM || count_temp_files(out) ||
        strcmp(kept, "{\"n_layer\": 99}\n")) {
        fprintf(stderr, "export killed mid-write: status %#x, %d temp files left in %s, the "
                "earlier config.json %s\n", status, count_temp_files(out), out,
                f ? "changed" : "removed");
        exit(1);
    }
    free(config);
    free(fifo);
    free(out);
}

/* The hardening cases: non-finite weights, a tokenizer larger than the
 * model's vocabulary, an earlier export's tokenizer left beside a model that
 * has none, another run's checkpoint directory, a signal mid-export. */
static int check_hostile(const char *bin, const char *dir, const char *out, const char *tok)
{
    char *ck = tt_fmt("%s/ck", dir);
    int fails = 0;
    /* a NaN in ln_f (every logit NaN) and an infinity in wte: refused, named */
    struct tr_ckpt_state st;
    float *p;
    CHECK_OK(tr_export_load(ck, &st, &p, NULL));
    free(p);
    char *nan_ck = gen_resave(ck, dir, "nan", tr_param_offset(&st.cfg, TR_LNFW) + 3, NAN);
    char *inf_ck = gen_resave(ck, dir, "inf", 5, -INFINITY);
    char *args = tt_fmt("export '%s' --format llmc --out '%s/x-nan'", nan_ck, dir);
    fails += tt_expect(bin, out, "export: a NaN weight", args, 1, "tensor lnfw is nan",
                       "earlier checkpoint");
    free(args);
    args = tt_fmt("export '%s' --format safetensors --out '%s/x-inf'", inf_ck, dir);
    fails += tt_expect(bin, out, "export: an infinite weight", args, 1, "weight 5 of tensor wte",
                       "-inf");
    free(args);
    /* a tokenizer of 95 pieces with a model of vocabulary 40 (synthetic:
     * any tokenizer passes its hash) */
    char *cmd = tt_fmt("'%s' --synthetic --vocab 40 --model tiny --layers 1 --dim 32 --heads 2 "
                       "--seq-len 16 --batch 2 --steps 1 --threads 1 --val-every 0 --quiet "
                       "--ckpt-dir '%s/ck40'", bin, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    args = tt_fmt("export '%s/ck40' --format hf --tokenizer '%s' --out '%s/x40'", dir, tok, dir);
    fails += tt_expect(bin, out, "export hf: tokenizer > vocabulary", args, 1, "95 pieces",
                       "vocabulary of 40");
    free(args);
    /* hf with a tokenizer (95 pieces <= 300), then without: its files go */
    /* (over an older export's spiece.model, which goes: tokenizer.json replaced it) */
    char *re_dir = tt_fmt("%s/re", dir), *old = tt_fmt("%s/re/spiece.model", dir);
    CHECK(mkdir(re_dir, 0755) == 0);
    FILE *f_old = fopen(old, "w");
    CHECK(f_old && fclose(f_old) == 0);
    args = tt_fmt("export '%s' --format hf --tokenizer '%s' --out '%s/re'", ck, tok, dir);
    fails += tt_expect(bin, out, "export hf with a tokenizer", args, 0, "as hf", NULL);
    free(args);
    CHECK(access(old, F_OK) != 0);
    free(old);
    free(re_dir);
    /* --format safetensors into that hf folder: refused, its weights untouched (Ingot's
     * names under the hf config loaded in transformers with random weights) */
    char *st_before = tt_fmt("%s/re/model.safetensors", dir);
    struct stat sb0, sb1;
    CHECK(stat(st_before, &sb0) == 0);
    args = tt_fmt("export '%s' --format safetensors --out '%s/re'", ck, dir);
    fails += tt_expect(bin, out, "export safetensors into an hf folder", args, 2,
                       "holds an hf export", NULL);
    CHECK(stat(st_before, &sb1) == 0 && sb1.st_ino == sb0.st_ino &&
          sb1.st_mtime == sb0.st_mtime);
    free(args);
    free(st_before);
    /* tokenizer.json: the pieces in id order, the control pieces as special tokens,
     * and the fast class named */
    char *tj = tt_fmt("%s/re/tokenizer.json", dir);
    json_t *tok_json = load_json(tj);
    json_t *model = json_object_get(tok_json, "model");
    CHECK(!strcmp(json_string_value(json_object_get(model, "type")), "Unigram"));
    CHECK(json_array_size(json_object_get(model, "vocab")) == 95);
    CHECK(json_array_size(json_object_get(tok_json, "added_tokens")) >= 1);
    CHECK(json_is_object(json_object_get(tok_json, "decoder")));
    json_decref(tok_json);
    free(tj);
    tj = tt_fmt("%s/re/tokenizer_config.json", dir);
    tok_json = load_json(tj);
    CHECK(!strcmp(json_string_value(json_object_get(tok_json, "tokenizer_class")),
                  "PreTrainedTokenizerFast"));
    json_decref(tok_json);
    free(tj);
    args = tt_fmt("export '%s' --format hf --out '%s/re'", ck, dir);
    fails += tt_expect(bin, out, "export hf again without", args, 0, "as hf",
                       ", gpt2 L");
    free(args);
    /* a WORD model: tokenizer.json cannot say it; refused, naming the field */
    const char *slash = strrchr(tok, '/');
    args = tt_fmt("export '%s' --format hf --tokenizer '%.*sword.model' --out '%s/word'", ck,
                  slash ? (int)(slash - tok + 1) : 0, tok, dir);
    fails += tt_expect(bin, out, "export hf of a WORD tokenizer", args, 1, "model_type WORD",
                       "--format safetensors");
    free(args);
    const char *stale[] = { "tokenizer.model", "tokenizer.json", "tokenizer_config.json" };
    for (int i = 0; i < 3; i++) {
        char *f = tt_fmt("%s/re/%s", dir, stale[i]);
        if (access(f, F_OK) == 0) {
            fprintf(stderr, "%s: an earlier export's tokenizer left beside a model without "
                    "one\n", f);
            fails++;
        }
        free(f);
    }
    /* a BPE model with user-defined symbols: refused before anything of the
     * earlier export in re/ is touched (the refusal came after the weights) */
    char *cj = tt_fmt("%s/re/config.json", dir), *before = tt_slurp(cj);
    CHECK(before);
    args = tt_fmt("export '%s' --format hf --tokenizer '%.*sbpe-user.model' --out '%s/re'", ck,
                  slash ? (int)(slash - tok + 1) : 0, tok, dir);
    fails += tt_expect(bin, out, "export hf of a BPE tokenizer with user-defined symbols", args,
                       1, "user-defined symbols in a BPE model", "--format safetensors");
    free(args);
    char *after = tt_slurp(cj);
    if (!after || strcmp(before, after)) {
        fprintf(stderr, "%s: an earlier export's config.json changed by a refused export\n", cj);
        fails++;
    }
    free(before);
    free(after);
    free(cj);
    /* another run's --ckpt-dir (its config.json is the run's) */
    args = tt_fmt("export '%s' --format hf --out '%s/ck40'", ck, dir);
    fails += tt_expect(bin, out, "export into another run's directory", args, 2,
                       "a training run's directory", "ckpt-00000001.bin");
    free(args);
    /* a run's directory before its first checkpoint: its lock file tells it */
    char *fresh = tt_fmt("%s/fresh-run", dir);
    CHECK(mkdir(fresh, 0755) == 0);
    char *lockf = tt_fmt("%s/.ingot-train.lock", fresh);
    FILE *lf = fopen(lockf, "w");
    CHECK(lf && fclose(lf) == 0);
    args = tt_fmt("export '%s' --format hf --out '%s'", ck, fresh);
    fails += tt_expect(bin, out, "export into a run's directory (no ckpt yet)", args, 2,
                       "a training run's directory", ".ingot-train.lock");
    free(args);
    free(lockf);
    /* --out naming a file: a command-line slip (exit 2), the file untouched */
    args = tt_fmt("export '%s' --format hf --out '%s'", ck, lockf = tt_fmt("%s/a-file", dir));
    FILE *af = fopen(lockf, "w");
    CHECK(af && fputs("kept", af) >= 0 && fclose(af) == 0);
    fails += tt_expect(bin, out, "export --out naming a file", args, 2, "--out",
                       "exists and is not a directory");
    char *kept = tt_slurp(lockf);
    CHECK(kept && !strcmp(kept, "kept"));
    free(kept);
    free(args);
    free(lockf);
    free(fresh);
    /* a model of 27 MB, written here (zeros and ones need no training) */
    struct tr_ckpt_state big = st;
    big.cfg.n_layer = 2;
    big.cfg.n_embd = 512;
    big.cfg.n_head = 8;
    /* the settings name the shape, as every checkpoint ingot-train writes
     * does (one without is refused as damaged) */
    char *big_set = tt_fmt("{\"settings\":{\"arch\":\"gpt2\",\"layers\":2,\"heads\":8,"
                           "\"dim\":512,\"seq-len\":%d}}", big.cfg.seq_len);
    big.settings = big_set;
    size_t n = tr_param_count(&big.cfg);
    float *w = calloc(n, sizeof(float));
    CHECK(w);
    char *bigdir = tt_fmt("%s/ckbig", dir), *bigck;
    CHECK_OK(tr_ckpt_save(bigdir, &big, w, w, w, &bigck));
    free(w);
    free(big_set);
    signal_mid_export(bin, dir, bigck);
    printf("%-34s %s\n", "SIGTERM mid-export", "no temp file, no old config.json left");
    free(bigdir);
    free(bigck);
    free(nan_ck);
    free(inf_ck);
    free(ck);
    return fails;
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    char *bin = realpath(argv[1], NULL);   /* the error cases run in another directory */
    CHECK(bin);
    char *dir = tt_tmpdir("export"), *out = tt_fmt("%s/out.txt", dir);
    char *cmd = tt_fmt("'%s' --synthetic --vocab %d --model tiny --layers %d --dim %d --heads 2 "
                       "--seq-len %d --batch 2 --steps 3 --threads 1 --val-every 0 --ckpt-dir "
                       "'%s/ck'", bin, V, L, C, T, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    struct tr_ckpt_state st;
    float *p;
    char *ck = tt_fmt("%s/ck", dir);
    CHECK_OK(tr_export_load(ck, &st, &p, NULL));
    CHECK(st.cfg.vocab == V && st.cfg.vocab_padded == 384 && st.step == 3);
    const char *runs[][2] = { { "safetensors", "raw" }, { "llmc", "llmc" }, { "hf", "hf" } };
    for (int i = 0; i < 3; i++) {
        cmd = tt_fmt("'%s' export '%s' --format %s --out '%s/%s'", bin, ck, runs[i][0], dir,
                     runs[i][1]);
        tt_run_ok(cmd, out);
        free(cmd);
    }
    cmd = tt_fmt("'%s' export '%s/ck/ckpt-00000003.bin' --format llmc --dtype bf16 --out "
                 "'%s/bf16'", bin, dir, dir);
    tt_run_ok(cmd, out);
    free(cmd);
    check_raw(dir, &st.cfg, p);
    check_hf(dir, &st.cfg, p);
    check_llmc(dir, "llmc", &st.cfg, p, 3);
    check_llmc(dir, "bf16", &st.cfg, p, 5);

    /* errors: usage (2), a missing or corrupt checkpoint (1), named */
    const struct { const char *args; int rc; const char *msg; } bad[] = {
        { "--format onnx --out x ck", 2, "--format onnx" },
        { "--format hf ck", 2, "--out DIR" },
        { "--format llmc --dtype fp8 --out x ck", 2, "--dtype fp8" },
        { "--format hf --dtype bf16 --out x ck", 2, "llmc only" },
        { "--format hf --out x nowhere", 1, "nowhere" },
        { "--format hf --out x empty", 1, "no checkpoint in this directory" },
        /* a checkpoint copied by hand under another name: said, with the
         * name a save gives (it read "no ckpt-*.bin checkpoint" beside one) */
        { "--format hf --out x misnamed", 1,
          "ckpt-30.bin is passed over; if it is one, rename it ckpt-00000030.bin" },
        { "--format hf --out x bad.bin", 1, "checksum" },
        { "--format hf --out ck ck", 2, "the checkpoint's own directory" },
        { "--format hf --out ck/ ck/ckpt-00000003.bin", 2, "the checkpoint's own directory" },
        { "--format safetensors --out '' ck", 2, "--out: empty value" },
        { "--format hf --out ds ck", 2, "a dataset directory" },
    };
    char *src = tt_fmt("%s/ck/ckpt-00000003.bin", dir), *raw;
    size_t len;
    CHECK_OK(fs_read_all(src, &raw, &len));
    raw[4096 + 100] ^= 4;
    char *badp = tt_fmt("%s/bad.bin", dir), *empty = tt_fmt("%s/empty", dir);
    CHECK_OK(fs_write_atomic(badp, raw, len));
    CHECK_OK(fs_mkdir_p(empty));
    char *misd = tt_fmt("%s/misnamed", dir), *mis = tt_fmt("%s/ckpt-30.bin", misd);
    CHECK_OK(fs_mkdir_p(misd));
    CHECK_OK(fs_write_atomic(mis, raw, len));
    free(mis);
    free(misd);
    /* a directory with a manifest stands for a dataset */
    char *ds = tt_fmt("%s/ds", dir), *dsm = tt_fmt("%s/ds/manifest.json", dir);
    CHECK_OK(fs_mkdir_p(ds));
    CHECK_OK(fs_write_atomic(dsm, "{}", 2));
    free(ds);
    free(dsm);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cmd = tt_fmt("cd '%s' && '%s' export %s", dir, bin, bad[i].args);
        int rc = tt_run(cmd, out);
        char *text = tt_slurp(out);
        if (rc != bad[i].rc || !text || !strstr(text, bad[i].msg)) {
            fprintf(stderr, "export %s: exit %d (want %d), output:\n%s\n", bad[i].args, rc,
                    bad[i].rc, text ? text : "");
            return 1;
        }
        free(text);
        free(cmd);
    }
    if (check_hostile(bin, dir, out, argv[2]))
        return 1;
    free(raw);
    free(src);
    free(badp);
    free(empty);
    free(p);
    free(ck);
    tt_rmtree(dir);
    free(dir);
    free(out);
    free(bin);
    printf("ok: safetensors, hf and llmc (fp32, bf16) exports parse and hold the checkpoint's "
           "weights; errors named\n");
    return 0;
}
