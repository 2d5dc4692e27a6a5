/* Settings that resume (docs/training.md, docs/checkpoint-format.md):
 * - a run stopped with --stop-after and continued with nothing but
 *   --ckpt-dir D --resume logs bit-identical losses to an uninterrupted run,
 *   and ends with identical weights (the checkpoint carries the settings);
 * - a flag given on that command line overrides the checkpoint and is
 *   reported once, naming only what differs;
 * - a checkpoint whose settings name another architecture is refused by
 *   name; a version-1 file (no settings) still resumes with the flags;
 * - a checkpoint records how many ranks wrote it (world_size; 1 here), and
 *   a resume with another number says so in one note; one from before the
 *   field resumes without it;
 * - --config FILE (JSON and TOML lines) gives the same run as the flags,
 *   flags override it, D/config.json holds the effective settings and is
 *   itself a valid --config; a bad key is refused by name;
 * - --resume before the first checkpoint restarts from D/config.json;
 * - --init-from starts a new run from a checkpoint's weights and shape
 *   (the dumped batch holds exactly those weights), and refuses another
 *   shape.
 * usage: test_settings INGOT_TRAIN */
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "fsutil.h"
#include "ingot_hash.h"
#include "parity_dump.h"
#include "tr_schedule.h"
#include "tr_settings.h"
#include "tt_util.h"

enum { VOCAB = 90, N_TRAIN = 3 * 2 * 4 * 32 + 1, N_VAL = 400, STEPS = 10 };

static const char *bin;
static char *out;
static int failures;

/* Every string the test formats, freed at the end (sanitizer builds check
 * leaks). */
static char *strs[256];
static int n_strs;

static char *keep(char *s)
{
    CHECK(s && n_strs < (int)(sizeof(strs) / sizeof(strs[0])));
    strs[n_strs++] = s;
    return s;
}
#define F(...) keep(tt_fmt(__VA_ARGS__))

static void expect(const char *what, const char *args, int rc, const char *n1, const char *n2)
{
    failures += tt_expect(bin, out, what, args, rc, n1, n2);
}

/* The per-step records of two metrics files agree bit for bit. */
static void same_steps(const char *what, const char *a, const char *b, int n)
{
    struct tt_step x[64], y[64];
    int nx = tt_read_steps(a, x, 64), ny = tt_read_steps(b, y, 64);
    bool ok = nx == n && ny == n;
    for (int i = 0; ok && i < n; i++)
        ok = x[i].step == y[i].step && x[i].loss == y[i].loss && x[i].lr == y[i].lr &&
             x[i].grad_norm == y[i].grad_norm && x[i].accuracy == y[i].accuracy;
    printf("%-34s %s (%d and %d steps)\n", what, ok ? "same" : "DIFFER  FAIL", nx, ny);
    failures += !ok;
}

/* Rewrite a checkpoint: f(buffer, header) edits it, then both checksums
 * are recomputed, so only the reader's meaning checks can refuse it. */
static void rewrite(const char *src, const char *dst, void (*f)(char **b, size_t *n))
{
    char *b;
    size_t n;
    CHECK_OK(fs_read_all(src, &b, &n));
    f(&b, &n);
    struct tr_ckpt_header *h = (void *)b;
    if (h->version >= 2)
        h->settings_checksum = ingot_xxh3(b + h->settings_offset, h->settings_size);
    h->header_checksum = ingot_xxh3(h, offsetof(struct tr_ckpt_header, header_checksum));
    CHECK_OK(fs_write_atomic(dst, b, n));
    free(b);
}

static void other_arch(char **b, size_t *n)
{
    struct tr_ckpt_header *h = (void *)*b;
    char *p = memmem(*b + h->settings_offset, *n - h->settings_offset, "\"arch\":\"gpt2\"", 13);
    CHECK(p);
    memcpy(p, "\"arch\":\"rwkv\"", 13);
}

/* In the settings section of checkpoint b (n bytes): the first `what`,
 * which is there, byte `at` of it set to c (or all of it blanked to spaces,
 * which JSON reads as nothing, when c is ' '). Same length: the section's
 * size holds; rewrite() reseals the checksums. */
static void settings_poke(char **b, size_t *n, const char *what, int at, char c)
{
    struct tr_ckpt_header *h = (void *)*b;
    char *p = memmem(*b + h->settings_offset, *n - h->settings_offset, what, strlen(what));
    CHECK(p);
    if (c == ' ')
        memset(p, ' ', strlen(what));
    else
        p[at] = c;
}

/* A checkpoint whose --metrics file is not on this machine: b.jsonl (the
 * run's) renamed g.jsonl, which nobody wrote. */
static void to_gone_metrics(char **b, size_t *n) { settings_poke(b, n, "/b.jsonl\"", 1, 'g'); }

/* A checkpoint from before --lr-schedule: its settings name no schedule. */
static void to_pre_schedule(char **b, size_t *n)
{
    settings_poke(b, n, "\"lr-schedule\":\"cosine\",", 0, ' ');
}

/* A bit flipped in the parameters: the payload checksum no longer holds
 * (rewrite() recomputes only the header's and the settings'). */
static void flip_param(char **b, size_t *n)
{
    struct tr_ckpt_header *h = (void *)*b;
    CHECK(h->params_offset + 5 < *n);
    (*b)[h->params_offset + 5] ^= 0x40;
}

/* The checkpoint of a run of 2 ranks (this one's "world_size":1 made 2). */
static void to_world2(char **b, size_t *n) { settings_poke(b, n, "\"world_size\":1}", 13, '2'); }

/* A value no flag takes (checksums right): "cosine" -> "cosinf". */
static void to_bad_schedule(char **b, size_t *n) { settings_poke(b, n, "\"cosine\"", 6, 'f'); }

/* A damaged world size: 0 ranks. */
static void to_world0(char **b, size_t *n) { settings_poke(b, n, "\"world_size\":1}", 13, '0'); }

/* A checkpoint from before the world size was recorded: the key blanked. */
static void to_pre_world(char **b, size_t *n) { settings_poke(b, n, ",\"world_size\":1", 0, ' '); }

static void to_version1(char **b, size_t *n)
{
    struct tr_ckpt_header *h = (void *)*b;
    *n = h->settings_offset;
    h->file_size = h->settings_offset;
    h->version = 1;
    h->settings_offset = h->settings_size = h->settings_checksum = 0;
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    bin = argv[1];
    char *dir = tt_tmpdir("settings");
    char *data = F("%s/data", dir);
    out = F("%s/out.txt", dir);
    uint32_t *ids = malloc((N_TRAIN + N_VAL) * sizeof(uint32_t));
    CHECK(ids);
    tt_markov_tokens(ids, N_TRAIN + N_VAL, VOCAB, 7);
    struct tt_dataset d = { .dir = data, .vocab = VOCAB, .tokenizer_hash = 7, .bos_id = -1,
                            .train = ids, .n_train = N_TRAIN, .val = ids + N_TRAIN,
                            .n_val = N_VAL, .doc_len = 64, .shard_docs = 5 };
    CHECK_OK(tt_write_dataset(&d));
    /* not the defaults anywhere, so that a setting lost on resume shows */
    char *flags = F("--data '%s' --model tiny --layers 1 --dim 32 --seq-len 32 --batch 4 "
                         "--batch-tokens 256 --steps %d --warmup 2 --lr 1e-2 --min-lr 2e-3 "
                         "--weight-decay 0.05 --grad-clip 0.5 --seed 99 --val-every 5 "
                         "--val-tokens 128 --print-every 1", data, STEPS);

    /* 1. straight vs --stop-after + --resume alone */
    char *a = F("%s --metrics '%s/a.jsonl' --ckpt-dir '%s/ca'", flags, dir, dir);
    expect("straight run", a, 0, "ETA", NULL);
    char *b = F("%s --metrics '%s/b.jsonl' --ckpt-dir '%s/cb' --stop-after 4", flags, dir,
                     dir);
    expect("stopped at 4", b, 0, "ckpt-00000004.bin", NULL);
    char *r = F("--ckpt-dir '%s/cb' --resume", dir);
    expect("--ckpt-dir --resume alone", r, 0, "resumed from", "ckpt-00000010.bin");
    char *s = tt_slurp(out), *x0;
    CHECK(s && !strstr(s, "override"));   /* nothing differs, nothing reported */
    /* ... the number of ranks neither */
    bool no_world = !strstr(s, "resuming a checkpoint written by");
    printf("%-34s %s\n", "same world size: no note", no_world ? "ok" : "FAIL");
    failures += !no_world;
    /* the metrics file the command line did not name, and where it came from */
    bool named = strstr(s, F("metrics: %s/b.jsonl (from checkpoint %s/cb/ckpt-00000004.bin)",
                             dir, dir)) != NULL;
    printf("%-34s %s\n", "inherited --metrics named", named ? "ok" : "FAIL");
    failures += !named;
    free(s);
    char *ma = F("%s/a.jsonl", dir), *mb = F("%s/b.jsonl", dir);
    same_steps("losses straight vs resumed", ma, mb, STEPS);
    char *ca = F("%s/ca/ckpt-%08d.bin", dir, STEPS), *cb = F("%s/cb/ckpt-%08d.bin", dir,
                                                                        STEPS);
    bool same_w = tt_ckpt_payload_equal(ca, cb);
    printf("%-34s %s\n", "final weights and AdamW state", same_w ? "same" : "DIFFER  FAIL");
    failures += !same_w;

    /* the default --min-lr is a tenth of --lr as written: 1e-3 -> 0.0001 in
     * config.json (it was 1e-3f * 0.1f, written 0.000100000005) */
    char *cm = F("%s/cm", dir);
    x0 = F("--synthetic --vocab 64 --model tiny --steps 1 --lr 1e-3 --val-every 0 --ckpt-dir '%s'",
           cm);
    expect("default --min-lr", x0, 0, NULL, NULL);
    CHECK_OK(tr_ckpt_read_settings(F("%s/ckpt-00000001.bin", cm), &s));
    const char *ml = s ? strstr(s, "\"min-lr\":") : NULL;
    CHECK(ml);
    ml += strlen("\"min-lr\":");
    ml += strspn(ml, " ");
    CHECK(!strncmp(ml, "0.0001", 6) && !isdigit((unsigned char)ml[6]));
    free(s);
    /* synthetic ids have no epoch or window to resume at (it said "epoch 0,
     * window 0") */
    x0 = F("--ckpt-dir '%s' --resume --steps 2", cm);
    expect("synthetic resume line", x0, 0, "ckpt-00000001.bin (step 1, synthetic ids)", NULL);

    /* a run killed before its first checkpoint: --resume restarts it from
     * the settings it wrote to D/config.json */
    char *cf = F("%s/cf", dir);
    CHECK_OK(fs_mkdir_p(cf));
    char *cfg_a = F("%s/ca/config.json", dir), *cfg_f = F("%s/config.json", cf);
    s = tt_slurp(cfg_a);
    CHECK(s);
    CHECK_OK(fs_write_atomic(cfg_f, s, strlen(s)));
    free(s);
    char *x = F("--ckpt-dir '%s' --resume --metrics '%s/f.jsonl'", cf, dir);
    expect("--resume before a checkpoint", x, 0, "no checkpoint in", "starting from scratch");
    same_steps("config.json restart vs straight", ma, F("%s/f.jsonl", dir), STEPS);
    /* ... and where that run writes is never the file's to choose: a copied
     * --ckpt-dir's config.json naming "dump-batch" overwrote that file */
    char *cv = F("%s/cv", dir), *victim = F("%s/victim.txt", dir);
    CHECK_OK(fs_mkdir_p(cv));
    CHECK_OK(fs_write_atomic(victim, "mine\n", 5));
    s = tt_slurp(cfg_a);
    CHECK(s && s[0] == '{');
    char *cws = F("{\"dump-batch\": \"%s\", \"metrics\": \"%s/v.jsonl\", %s", victim, dir,
                  s + 1);
    free(s);
    CHECK_OK(fs_write_atomic(F("%s/config.json", cv), cws, strlen(cws)));
    x = F("--ckpt-dir '%s' --resume --steps 2 --warmup 1", cv);
    expect("--resume, config.json's own outputs", x, 0, "starting from scratch", NULL);
    s = tt_slurp(victim);
    bool kept_v = s && !strcmp(s, "mine\n") && access(F("%s/v.jsonl", dir), F_OK) != 0;
    printf("%-34s %s\n", "config.json: no outputs of its own", kept_v ? "ok" : "WRITTEN  FAIL");
    failures += !kept_v;
    free(s);
    /* ... but not from a damaged one: an empty file (ingot-train never
     * writes one) restarted some other run, the defaults plus the flags */
    char *cdmg = F("%s/cdmg", dir), *cfg_e = F("%s/config.json", cdmg);
    CHECK_OK(fs_mkdir_p(cdmg));
    CHECK_OK(fs_write_atomic(cfg_e, "", 0));
    x = F("--ckpt-dir '%s' --resume --synthetic --steps 2 --model tiny", cdmg);
    expect("--resume, empty config.json", x, 2,
           F("ingot-train: %s: sets nothing (an empty file). It holds", cfg_e), "repair it");
    CHECK_OK(fs_write_atomic(cfg_e, "{\"steps\": 5,", 12));
    x = F("--ckpt-dir '%s' --resume", cdmg);
    expect("--resume, broken config.json", x, 2, F("ingot-train: %s:1: not a JSON object", cfg_e),
           "repair it");
    /* a value its flag refuses: named as the file alone, with the advice,
     * as the syntax error above is (it read "--config D/config.json:1" in
     * one message and "D/config.json:1" without the advice in the other) */
    static const char badval[] = "{\"synthetic\": true, \"steps\": \"abc\"}";
    CHECK_OK(fs_write_atomic(cfg_e, badval, sizeof(badval) - 1));
    expect("--resume, config.json bad value", x, 2,
           F("ingot-train: %s:1: --steps 'abc'", cfg_e), "repair it");
    static const char badkey[] = "{\"synthetic\": true, \"stepz\": 5}";
    CHECK_OK(fs_write_atomic(cfg_e, badkey, sizeof(badkey) - 1));
    expect("--resume, config.json bad key", x, 2,
           F("ingot-train: %s:1: unknown key \"stepz\"", cfg_e), "repair it");

    /* 2. an override is reported once, naming only what differs */
    char *c4 = F("%s/cb/ckpt-00000004.bin", dir);
    char *cc = F("%s/cc", dir);
    CHECK_OK(fs_mkdir_p(cc));
    char *c4c = F("%s/ckpt-00000004.bin", cc);
    char *buf;
    size_t blen;
    CHECK_OK(fs_read_all(c4, &buf, &blen));
    CHECK_OK(fs_write_atomic(c4c, buf, blen));
    free(buf);
    /* another --batch that no longer divides the checkpoint's --batch-tokens: the
     * --batch that keeps the global batch is named */
    char *o = F("--ckpt-dir '%s' --resume --batch 16", cc);
    expect("resume with a --batch past --batch-tokens", o, 2, "(from checkpoint ",
           "--batch 8 keeps it");
    o = F("--ckpt-dir '%s' --resume --lr 5e-3 --steps 6 --metrics /dev/null", cc);
    expect("override on resume", o, 0, "override the checkpoint's: ", "lr 0.005 (checkpoint: 0.01)");
    s = tt_slurp(out);
    /* only lr, steps and metrics differ, on one line */
    const char *line = s ? strstr(s, "override the checkpoint's: ") : NULL;
    char *eol = line ? strchr(line, '\n') : NULL;
    if (eol)
        *eol = '\0';
    bool once = line && strstr(line, "steps 6") && strstr(line, "metrics") && !strstr(line, "seed") &&
           !strstr(line, "batch") && !strstr(line, "data") && !strstr(line, "warmup") &&
           (!eol || !strstr(eol + 1, "override the checkpoint"));
    printf("%-34s %s\n", "override names only lr, steps, metrics", once ? "ok" : "FAIL");
    if (!once)
        fprintf(stderr, "%s\n", line ? line : "(no override line)");
    failures += !once;
    free(s);

    /* a checkpoint copied from elsewhere names a metrics file of that
     * machine: not created here (it was, silently, wherever it pointed) */
    char *cg = F("%s/cg", dir);
    CHECK_OK(fs_mkdir_p(cg));
    rewrite(c4, F("%s/ckpt-00000004.bin", cg), to_gone_metrics);
    o = F("--ckpt-dir '%s' --resume --steps 5", cg);
    expect("inherited --metrics not there", o, 0, F("%s/g.jsonl, the --metrics of checkpoint",
                                                     dir), "no metrics file this time");
    bool gone = access(F("%s/g.jsonl", dir), F_OK) != 0;
    printf("%-34s %s\n", "inherited --metrics not created", gone ? "ok" : "CREATED  FAIL");
    failures += !gone;

    /* the ranks that wrote it: recorded beside the settings (1 here), a
     * resume with another number says so once (it said nothing), and a
     * checkpoint from before the field resumes as ever, without the note */
    CHECK_OK(tr_ckpt_read_settings(c4, &s));
    int world = -1;
    bool world1 = s && !tr_settings_world_size(c4, s, &world) && world == 1;
    printf("%-34s %s\n", "checkpoint records world_size 1", world1 ? "ok" : "FAIL");
    failures += !world1;
    free(s);
    char *cw = F("%s/cworld2", dir), *cw0 = F("%s/cworld0", dir), *cwb = F("%s/cworldbad", dir);
    CHECK_OK(fs_mkdir_p(cw));
    CHECK_OK(fs_mkdir_p(cw0));
    CHECK_OK(fs_mkdir_p(cwb));
    rewrite(c4, F("%s/ckpt-00000004.bin", cw), to_world2);
    rewrite(c4, F("%s/ckpt-00000004.bin", cw0), to_pre_world);
    rewrite(c4, F("%s/ckpt-00000004.bin", cwb), to_world0);
    /* a settings value its flag refuses: a damaged file (exit 1), not a
     * usage error (exit 2) of flags no one gave */
    char *cbs = F("%s/cbadsched", dir);
    CHECK_OK(fs_mkdir_p(cbs));
    rewrite(c4, F("%s/ckpt-00000004.bin", cbs), to_bad_schedule);
    expect("resume, a bad settings value", F("--ckpt-dir '%s' --resume --steps 5", cbs), 1,
           "--lr-schedule: 'cosinf'", "the file is damaged (restore it from a copy)");
    /* a world size of 0 ranks (checksums right): damaged, not "unrecorded" */
    expect("resume, world size 0 refused", F("--ckpt-dir '%s' --resume --steps 5", cwb), 1,
           "settings field world_size is not a whole number of ranks", "the file is damaged");
    x0 = F("--ckpt-dir '%s' --resume --steps 5 --metrics /dev/null", cw);
    expect("resume of 2 ranks' checkpoint", x0, 0, "note: resuming a checkpoint written by 2 "
           "ranks with 1: this process now takes all 2 micro-steps of a step (each of the 2 "
           "ranks took 1); the batches and their order do not depend on the ranks", NULL);
    s = tt_slurp(out);
    const char *note = s ? strstr(s, "resuming a checkpoint written by") : NULL;
    bool one_note = note && !strstr(note + 1, "resuming a checkpoint written by");
    printf("%-34s %s\n", "another world size: one note", one_note ? "ok" : "FAIL");
    failures += !one_note;
    free(s);
    x0 = F("--ckpt-dir '%s' --resume --steps 5 --metrics /dev/null", cw0);
    expect("resume, world size not recorded", x0, 0, "resumed from", NULL);
    s = tt_slurp(out);
    char *sec = NULL;
    CHECK_OK(tr_ckpt_read_settings(F("%s/ckpt-00000004.bin", cw0), &sec));
    world = -1;
    bool old_ok = s && !strstr(s, "resuming a checkpoint written by") && sec &&
                  !tr_settings_world_size(F("%s/ckpt-00000004.bin", cw0), sec, &world) &&
                  world == 0;
    printf("%-34s %s\n", "no world_size: no note", old_ok ? "ok" : "FAIL");
    failures += !old_ok;
    free(s);
    free(sec);

    /* 3. another architecture is refused by name; version 1 resumes with
     * the command line's settings */
    char *cd = F("%s/cd", dir), *ce = F("%s/ce", dir);
    CHECK_OK(fs_mkdir_p(cd));
    CHECK_OK(fs_mkdir_p(ce));
    char *cdp = F("%s/ckpt-00000004.bin", cd), *cep = F("%s/ckpt-00000004.bin", ce);
    rewrite(c4, cdp, other_arch);
    x = F("--ckpt-dir '%s' --resume", cd);
    expect("checkpoint of another arch", x, 1, "architecture 'rwkv'", "knows only 'gpt2' and 'llama'");
    x = F("export '%s' --format safetensors --out '%s/st'", cdp, dir);
    expect("export of another arch", x, 1, "architecture 'rwkv'", NULL);
    rewrite(c4, cep, to_version1);
    x = F("--ckpt-dir '%s' --resume", ce);
    expect("version 1 without flags", x, 2, "no data", NULL);
    x = F("%s --metrics '%s/e.jsonl' --ckpt-dir '%s' --resume", flags, dir, ce);
    expect("version 1 with the flags", x, 0, "resumed from", NULL);
    char *me = F("%s/e.jsonl", dir);
    struct tt_step sa[64], se[64];
    int na = tt_read_steps(ma, sa, 64), ne = tt_read_steps(me, se, 64);
    bool v1 = na == STEPS && ne == STEPS - 4;
    for (int i = 0; v1 && i < ne; i++)
        v1 = sa[i + 4].step == se[i].step && sa[i + 4].loss == se[i].loss;
    printf("%-34s %s\n", "version 1 resume is exact", v1 ? "ok" : "FAIL");
    failures += !v1;

    /* 4. --config: JSON and TOML, flags win, config.json round-trips */
    char *tj = F("%s/run.json", dir), *tt = F("%s/run.toml", dir);
    char *json = F("{\"data\": [\"%s\"], \"model\": \"tiny\", \"layers\": 1, \"dim\": 32,\n"
                        " \"seq_len\": 32, \"batch\": 4, \"batch-tokens\": 256, \"steps\": 99,\n"
                        " \"warmup\": 2, \"lr\": 1e-2, \"min-lr\": 0.002, \"weight-decay\": 0.05,\n"
                        " \"grad-clip\": 0.5, \"seed\": 99, \"val-every\": 5, \"val-tokens\": 128}\n",
                        data);
    char *toml = F("# the same run\ndata = [\"%s\"]\nmodel = \"tiny\"\nlayers = 1\n"
                        "dim = 32\nseq-len = 32\nbatch = 4\nbatch_tokens = \"256\"\nsteps = 99\n"
                        "warmup = 2\nlr = 1e-2   # peak\nmin-lr = 0.002\nweight-decay = 0.05\n"
                        "grad-clip = 0.5\nseed = 99\nval-every = 5\nval-tokens = 128\n", data);
    CHECK_OK(fs_write_atomic(tj, json, strlen(json)));
    CHECK_OK(fs_write_atomic(tt, toml, strlen(toml)));
    x = F("--config '%s' --steps %d --print-every 1 --metrics '%s/j.jsonl' --ckpt-dir "
               "'%s/cj'", tj, STEPS, dir, dir);
    expect("--config JSON, --steps overrides", x, 0, NULL, NULL);
    char *mj = F("%s/j.jsonl", dir);
    same_steps("--config JSON vs flags", ma, mj, STEPS);
    x = F("--config '%s' --steps %d --metrics '%s/t.jsonl'", tt, STEPS, dir);
    expect("--config TOML", x, 0, NULL, NULL);
    char *mt = F("%s/t.jsonl", dir);
    same_steps("--config TOML vs flags", ma, mt, STEPS);
    /* where a run writes, given by a --config file rather than typed: named
     * with the file (a downloaded ck/config.json may name any path) */
    char *tw = F("%s/where.json", dir);
    char *wj = F("{\"data\": [\"%s\"], \"model\": \"tiny\", \"layers\": 1, \"dim\": 32, "
                 "\"seq-len\": 32, \"batch\": 4, \"steps\": 2, \"warmup\": 1, "
                 "\"metrics\": \"%s/wm.jsonl\", \"ckpt-dir\": \"%s/cwc\"}", data, dir, dir);
    CHECK_OK(fs_write_atomic(tw, wj, strlen(wj)));
    x = F("--config '%s'", tw);
    expect("--config's outputs named", x, 0, F("metrics: %s/wm.jsonl (from --config %s)", dir, tw),
           F("checkpoints: %s/cwc (from --config %s)", dir, tw));
    wj = F("{\"data\": [\"%s\"], \"model\": \"tiny\", \"layers\": 1, \"dim\": 32, "
           "\"seq-len\": 32, \"batch\": 4, \"dump-batch\": \"%s/wb.bin\"}", data, dir);
    CHECK_OK(fs_write_atomic(tw, wj, strlen(wj)));
    expect("--config's --dump-batch named", x, 0, F("wrote %s/wb.bin (from --config %s)", dir, tw),
           NULL);
    /* the same file with a UTF-8 byte order mark (was "expected key = value") */
    char *tb = F("%s/bom.toml", dir), *bom = F("\xEF\xBB\xBF%s", toml);
    CHECK_OK(fs_write_atomic(tb, bom, strlen(bom)));
    x = F("--config '%s' --steps %d --metrics '%s/tb.jsonl'", tb, STEPS, dir);
    expect("--config TOML with a BOM", x, 0, NULL, NULL);
    same_steps("--config TOML with a BOM vs flags", ma, F("%s/tb.jsonl", dir), STEPS);
    char *cfgout = F("%s/cj/config.json", dir);
    s = tt_slurp(cfgout);
    bool cj = s && strstr(s, "\"arch\": \"gpt2\"") && strstr(s, "\"steps\": 10,") &&
              strstr(s, "\"seq-len\": 32") && strstr(s, "\"lr\": 0.01,");
    printf("%-34s %s\n", "D/config.json effective settings", cj ? "ok" : "FAIL");
    failures += !cj;
    free(s);
    x = F("--config '%s' --metrics '%s/k.jsonl'", cfgout, dir);
    expect("config.json as --config", x, 0, NULL, NULL);
    char *mk = F("%s/k.jsonl", dir);
    same_steps("config.json run vs flags", ma, mk, STEPS);
    /* config.json holds what was chosen: the derived schedule values (lr
     * from the preset, min-lr, warmup, batch-tokens), the metrics path and
     * ckpt-dir are left out, so a run started from it derives them again,
     * cannot truncate the first run's metrics, and its ckpt-every waits for
     * a --ckpt-dir (the audit: refused, then min-lr above a new --lr, then
     * the first run's metrics.jsonl truncated to 2 records) */
    x = F("--data '%s' --model tiny --layers 1 --dim 32 --seq-len 32 --batch 4 --steps %d "
          "--val-every 5 --val-tokens 128 --ckpt-dir '%s/cdv' --ckpt-every 5 --metrics "
          "'%s/d.jsonl'", data, STEPS, dir, dir);
    expect("a run with derived values", x, 0, NULL, NULL);
    char *cfgd = F("%s/cdv/config.json", dir), *md = F("%s/d.jsonl", dir);
    s = tt_slurp(cfgd);
    bool chosen = s && strstr(s, "\"ckpt-every\": 5") && !strstr(s, "\"metrics\"") &&
                  !strstr(s, "\"lr\"") && !strstr(s, "\"min-lr\"") &&
                  !strstr(s, "\"warmup\"") && !strstr(s, "\"batch-tokens\"") &&
                  !strstr(s, "ckpt-dir");
    printf("%-34s %s\n", "config.json: chosen values only", chosen ? "ok" : "FAIL");
    failures += !chosen;
    free(s);
    struct tt_step d0[64], d1[64];
    const int nd0 = tt_read_steps(md, d0, 64);
    x = F("--config '%s' --stop-after 2", cfgd);
    expect("config.json, no --ckpt-dir", x, 0, "no checkpoints in this run", NULL);
    x = F("--config '%s' --lr 1e-4 --steps 100 --stop-after 2 --metrics '%s/d2.jsonl'", cfgd,
          dir);
    expect("config.json, another --lr and --steps", x, 0, NULL, NULL);
    char *md2 = F("%s/d2.jsonl", dir);
    struct tt_step e[8];
    /* warmup derived again: 100 / 20 = 5 steps, so step 1 is below the peak */
    bool rederived = tt_read_steps(md2, e, 8) == 2 && e[0].lr < 0.5e-4 && e[1].lr > e[0].lr;
    bool kept = nd0 == STEPS && tt_read_steps(md, d1, 64) == STEPS &&
                d1[STEPS - 1].loss == d0[STEPS - 1].loss;
    printf("%-34s %s (step 1 lr %.3g)\n", "config.json: schedule derived anew",
           rederived ? "ok" : "FAIL", e[0].lr);
    printf("%-34s %s\n", "config.json: first run's metrics", kept ? "kept" : "LOST  FAIL");
    failures += !rederived + !kept;
    x = F("--synthetic --steps 2 --ckpt-every 5");
    expect("--ckpt-every without --ckpt-dir (flags)", x, 2, "need --ckpt-dir", NULL);
    /* a resume leaves config.json as the first run wrote it (it wrote the
     * derived values as chosen, the audit's second round) */
    char *before = tt_slurp(cfgd);
    x = F("--ckpt-dir '%s/cdv' --resume --steps 12 --metrics '%s/d3.jsonl'", dir, dir);
    expect("resume with --steps 12", x, 0, "resumed from", NULL);
    char *after = tt_slurp(cfgd);
    bool same_cfg = before && after && !strcmp(before, after);
    printf("%-34s %s\n", "config.json after a resume", same_cfg ? "unchanged" : "REWRITTEN  FAIL");
    failures += !same_cfg;
    free(before);
    free(after);
    /* a new run into a directory with another run's checkpoints: refused (its
     * own were rotated away behind the old run's higher steps); a file named
     * otherwise than a save names it is no checkpoint */
    x = F("--config '%s' --ckpt-dir '%s/cdv' --stop-after 2", cfgd, dir);
    expect("a new run into a used --ckpt-dir", x, 2, "already holds checkpoints", "--resume");
    x = F("--config '%s' --ckpt-dir '%s/cdv' --init-from '%s/cdv/ckpt-00000010.bin' "
          "--stop-after 2", cfgd, dir, dir);
    expect("--init-from into a used --ckpt-dir", x, 2, "already holds checkpoints", NULL);
    char *odd = F("%s/odd", dir), *odd_ck = F("%s/odd/ckpt-999.bin", dir), *raw;
    size_t raw_len;
    CHECK_OK(fs_mkdir_p(odd));
    CHECK_OK(fs_read_all(F("%s/cdv/ckpt-00000010.bin", dir), &raw, &raw_len));
    CHECK_OK(fs_write_atomic(odd_ck, raw, raw_len));
    free(raw);
    x = F("--config '%s' --ckpt-dir '%s' --stop-after 2", cfgd, odd);
    expect("ckpt-999.bin is not a checkpoint name", x, 0, NULL, NULL);

    char *bad = F("%s/bad.toml", dir);
    CHECK_OK(fs_write_atomic(bad, "lerning-rate = 3\n", 17));
    x = F("--config '%s' --synthetic", bad);
    expect("--config unknown key", x, 2, "unknown key \"lerning-rate\"", bad);
    CHECK_OK(fs_write_atomic(bad, "steps = 10\nsteps = 20\n", 22));
    x = F("--config '%s' --synthetic", bad);
    expect("--config key twice", x, 2, ":2: steps given twice", NULL);
    CHECK_OK(fs_write_atomic(bad, "{\"data\": [1, 2]}", 16));   /* read as dirs "1", "2" */
    x = F("--config '%s'", bad);
    expect("--config data of numbers", x, 2, "\"data\" holds 1, not a string", NULL);
    x = F("--config a.json --config b.json %s", flags);   /* the first was dropped unsaid */
    expect("--config twice", x, 2, "--config given twice (a.json, then b.json)", NULL);
    CHECK_OK(fs_write_atomic(bad, "{\"batch\": 0}", 12));
    x = F("--config '%s' --synthetic", bad);
    expect("--config bad value", x, 2, bad, "--batch '0'");
    /* a decimal as the file wrote it, not 17 digits (-0.10000000000000001) */
    CHECK_OK(fs_write_atomic(bad, "{\"grad-clip\": -0.1}", 19));
    x = F("--config '%s' --synthetic", bad);
    expect("--config bad decimal", x, 2, bad, "--grad-clip '-0.1'");
    /* read as something else before, without a word: a NUL byte ended the
     * text (steps = 5 was dropped), "C:\data" lost its backslash, a string
     * ran on into the next lines, seq_len and seq-len both set one key (the
     * second won), 1e-400 became lr 0; now refused by line and key. Each
     * case: the file's bytes (NULs included) and what the run must say as
     * it exits 2, BAD standing for the file's path. */
    static const char BAD[] = "the file";
    static const struct {
        const char *what, *text;
        size_t len;
        const char *n1, *n2;
    } bad_cases[] = {
#define BAD_CASE(what, lit, n1, n2) { what, lit, sizeof(lit) - 1, n1, n2 }
        BAD_CASE("--config NUL byte", "model = \"tiny\"\n\0steps = 5\n",
                 ":2: a NUL byte: not a text file", BAD),
        /* in JSON too: the parser read past it and applied "seed" */
        BAD_CASE("--config JSON NUL byte", "{\"warmup\": 1\0, \"seed\": 5}",
                 ":1: a NUL byte: not a text file", BAD),
        /* a JSON array is no TOML table */
        BAD_CASE("--config JSON array", "[1, 2, 3]",
                 ":1: a TOML table or a JSON array, neither supported", NULL),
        BAD_CASE("--config unknown escape", "tokenizer = \"C:\\data\\sp.model\"\n",
                 ":1: bad value for tokenizer: an escape", NULL),
        BAD_CASE("--config string over lines", "model = \"tiny\n# \"\nsteps = 5\n",
                 ":1: bad value for model: a string without its closing quote", NULL),
        BAD_CASE("--config seq_len and seq-len", "seq_len = 32\nseq-len = 64\n",
                 ":2: seq-len given twice (first on line 1", NULL),
        BAD_CASE("--config JSON seq_len and seq-len", "{\"seq_len\": 32, \"seq-len\": 64}",
                 "\"seq-len\" given twice", BAD),
        BAD_CASE("--config lr 1e-400", "lr = 1e-400\n",
                 BAD, "--lr '1e-400'"),

        /* a value its flag refuses, or a key no flag has: named by line, in TOML and in JSON
         * (the message named the file alone) */
        BAD_CASE("--config TOML bad value's line", "model = \"tiny\"\n\n# the rate\nlr = \"abc\"\n",
                 ":4: --lr 'abc'", BAD),
        BAD_CASE("--config JSON value's line",
                 "{\"model\": \"tiny\",\n \"steps\": {\"a\": 1},\n \"lr\": \"abc\"}",
                 ":2: \"steps\" has a value", BAD),
        BAD_CASE("--config JSON key's line past a nested one",
                 "{\"model\": \"tiny\",\n \"nested\": {\"lr\": 1},\n \"lr\": \"abc\"}",
                 ":2: unknown key \"nested\"", BAD),
        /* a JSON key with an escape, or past ASCII, is found by its line too (the walk compared
         * the file's bytes between the quotes with the decoded key, and the message named the
         * file alone), as is a long one */
        BAD_CASE("--config JSON escaped key's line", "{\"model\": \"tiny\",\n \"st\\u0065pz\": 1}",
                 ":2: unknown key \"stepz\"", BAD),
        BAD_CASE("--config JSON non-ASCII key's line",
                 "{\"model\": \"tiny\",\n\n \"x\\u00e9\\\"\": 1}",
                 ":3: unknown key \"x\xc3\xa9\"\"", BAD),
        BAD_CASE("--config JSON escaped key's value", "{\"model\": \"tiny\",\n \"b\\u0061tch\": 0}",
                 ":2: --batch '0'", BAD),
        /* TOML keys are bare ASCII words: one past ASCII is refused by its line */
        BAD_CASE("--config TOML non-ASCII key's line", "model = \"tiny\"\nst\xc3\xa9ps = 1\n",
                 ":2: expected key = value", BAD),
        BAD_CASE("--config TOML quoted key's line", "model = \"tiny\"\n\"st\\u0065ps\" = 1\n",
                 ":2: expected key = value", BAD),
        BAD_CASE("--config JSON bad value's line",
                 "{\"model\": \"tiny\",\n \"warmup\": 1,\n \"lr\": \"abc\"}",
                 ":3: --lr 'abc'", BAD),
        BAD_CASE("--config empty value", "{\"metrics\": \"\"}",
                 "\"metrics\" is empty", BAD),
        /* null read as the default without a word */
        BAD_CASE("--config null", "{\"steps\": null}",
                 "\"steps\" is null (leave the key out", BAD),
#undef BAD_CASE
    };
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        CHECK_OK(fs_write_atomic(bad, bad_cases[i].text, bad_cases[i].len));
        x = F("--config '%s' --synthetic", bad);
        expect(bad_cases[i].what, x, 2, bad_cases[i].n1 == BAD ? bad : bad_cases[i].n1,
               bad_cases[i].n2 == BAD ? bad : bad_cases[i].n2);
    }
    /* Files that ran without a word: with a small run's flags, so that a
     * build that takes them trains two steps instead of the defaults */
    const struct { const char *what, *text; size_t len; const char *n1; } quiet_cases[] = {
#define QUIET_CASE(what, lit, n1) { what, lit, sizeof(lit) - 1, n1 }
        /* in JSON the parser made them 0: lr 0, clipping off */
        QUIET_CASE("--config JSON lr 1e-400", "{\"lr\": 1e-400, \"seed\": 5}",
                   ":1: --lr '1e-400': too small to compute with"),
        QUIET_CASE("--config JSON grad-clip -1E-999", "{\"seed\": 5,\n \"grad-clip\":\t-1E-999}",
                   ":2: --grad-clip '-1E-999': too small to compute with"),
        /* a file that sets nothing: the defaults */
        QUIET_CASE("--config empty file", "", ": sets nothing (an empty file)"),
        QUIET_CASE("--config comments only", "# the run\n\n  # lr = 1\n",
                   ": sets nothing (only blank lines and comments)"),
        QUIET_CASE("--config JSON {}", " {\n}\n", ": sets nothing (an empty JSON object)"),
#undef QUIET_CASE
    };
    for (size_t i = 0; i < sizeof(quiet_cases) / sizeof(quiet_cases[0]); i++) {
        CHECK_OK(fs_write_atomic(bad, quiet_cases[i].text, quiet_cases[i].len));
        x = F("--config '%s' --synthetic --model tiny --layers 1 --dim 32 --heads 2 --seq-len 16 "
              "--batch 2 --steps 2 --threads 1 --val-every 0", bad);
        expect(quiet_cases[i].what, x, 2, quiet_cases[i].n1, bad);
    }
    {
        char longkey[400];
        memset(longkey, 'k', sizeof(longkey) - 1);
        longkey[sizeof(longkey) - 1] = '\0';
        char *text = F("{\"model\": \"tiny\",\n \"%s\": 1}", longkey);
        CHECK_OK(fs_write_atomic(bad, text, strlen(text)));
        x = F("--config '%s' --synthetic", bad);
        expect("--config JSON long key's line", x, 2, ":2: unknown key \"kkk", bad);
        /* a key of 3000 bytes is cut, and the hint after it stays (it was
         * shown whole, which pushed the hint out of the message) */
        static char huge[3001];
        memset(huge, 'k', sizeof(huge) - 1);
        text = F("{\"model\": \"tiny\",\n \"%s\": 1}", huge);
        CHECK_OK(fs_write_atomic(bad, text, strlen(text)));
        x = F("--config '%s' --synthetic", bad);
        expect("--config JSON huge key: cut", x, 2, "kkk...\" (the keys are the long flags", bad);
    }
#define PUT_BAD(lit) CHECK_OK(fs_write_atomic(bad, lit, sizeof(lit) - 1))
    /* whole numbers written as reals (Python's json.dump of a float, 1e3):
     * an integer flag takes them, as it did before the shortest-text change */
    PUT_BAD("{\"steps\": 1000.0, \"warmup\": 1e2}");
    x = F("--config '%s' --synthetic --model tiny --layers 1 --dim 32 --heads 2 --seq-len 16 "
          "--batch 2 --threads 1 --val-every 0 --stop-after 1", bad);
    expect("--config whole reals", x, 0, "1000 steps, warmup 100,", NULL);
    /* a tokenizer the file names is checked at start, as one typed is (it
     * was taken for the checkpoint's settings, and the run trained on with
     * a note at the first sample, if any) */
    char *tk = F("{\"tokenizer\": \"%s/no-such.model\"}", dir);
    CHECK_OK(fs_write_atomic(bad, tk, strlen(tk)));
    x = F("--config '%s' --data '%s' --batch 4 --steps 1 --threads 1", bad, data);
    expect("--config tokenizer checked", x, 1, F("--tokenizer (from --config %s)", bad),
           "tokenizer model not found");
#undef PUT_BAD

    /* 5. --init-from: the checkpoint's weights and shape, a new run */
    x = F("--init-from '%s' --data '%s' --batch 4 --dump-batch '%s/init.bin'", c4, data, dir);
    expect("--init-from takes the shape", x, 0, "initialised from", "after step 0");
    char *ib = F("%s/init.bin", dir), *ck;
    size_t ilen, clen;
    CHECK_OK(fs_read_all(ib, &buf, &ilen));
    CHECK_OK(fs_read_all(c4, &ck, &clen));
    const struct tr_dump_header *dh = (const void *)buf;
    size_t ids_bytes = (size_t)dh->batch * (dh->seq_len + 1) * sizeof(int32_t);
    bool w = dh->n_params > 0 && ilen >= TR_DUMP_HEADER_SIZE + ids_bytes + dh->n_params * 4 &&
             !memcmp(buf + TR_DUMP_HEADER_SIZE + ids_bytes, ck + TR_CKPT_HEADER_SIZE,
                     dh->n_params * 4) && dh->step == 0;
    printf("%-34s %s\n", "--init-from weights exact", w ? "ok" : "FAIL");
    failures += !w;
    free(buf);
    free(ck);
    /* a --ckpt-dir as --init-from: its newest checkpoint, as export takes it */
    x = F("--init-from '%s/cb' --data '%s' --batch 4 --dump-batch '%s/init2.bin'", dir, data,
          dir);
    expect("--init-from a --ckpt-dir", x, 0, "initialised from", "/cb/ckpt-");
    x = F("--init-from '%s' --data '%s' --batch 4 --steps 1", data, data);
    expect("--init-from a directory without checkpoints", x, 1, "no checkpoint in this directory",
           "ckpt-<8 digits>.bin");
    x = F("--init-from '%s' --data '%s' --batch 4 --steps 3 --lr 1e-3 --print-every 1 "
               "--ckpt-dir '%s/ci'", c4, data, dir);
    expect("--init-from trains a new run", x, 0, "step      1/3", "ckpt-00000003.bin");
    /* its config.json names the checkpoint it started from: a fine-tuning killed
     * before its first save is not resumed from new weights (--resume from its
     * settings alone trained from random ones, without a word), and --config of it
     * repeats the fine-tuning */
    {
        char *s = tt_slurp(F("%s/ci/config.json", dir)), *fk = F("%s/cik", dir);
        CHECK(s && strstr(s, "\"init-from\""));
        CHECK_OK(fs_mkdir_p(fk));
        CHECK_OK(fs_write_atomic(F("%s/config.json", fk), s, strlen(s)));
        free(s);
        x = F("--ckpt-dir '%s' --resume", fk);
        expect("fine-tuning: --resume before a save", x, 2, "is that of a fine-tuning from",
               F("ingot-train --config %s/config.json --ckpt-dir %s", fk, fk));
        x = F("--config '%s/config.json' --ckpt-dir '%s'", fk, fk);
        expect("fine-tuning started again", x, 0, "initialised from", "ckpt-00000003.bin");
    }
    x = F("--init-from '%s' --data '%s' --dim 64 --steps 2", c4, data);
    expect("--init-from another shape", x, 1, "another model configuration", "--init-from");
    /* the vocabulary alone (--synthetic's default 50257): --vocab named, not the shape */
    x = F("--init-from '%s' --synthetic --steps 1", c4);
    expect("--init-from, another vocabulary", x, 1, "the checkpoint's vocabulary is",
           "pass --vocab");

    /* 6. --lr-schedule: the rates a wsd run logs are the schedule's, a run
     * stopped and resumed with --resume alone keeps the schedule and its
     * cooldown (the checkpoint's settings), another schedule given on resume
     * drops the cooldown, and misuse is refused by name */
    char *wsd = F("%s --lr-schedule wsd --cooldown 0.3", flags);
    x = F("%s --metrics '%s/w.jsonl' --ckpt-dir '%s/cw'", wsd, dir, dir);
    expect("--lr-schedule wsd", x, 0, "wsd: held to step 7, then linear", NULL);
    x = F("%s --metrics '%s/w2.jsonl' --ckpt-dir '%s/cw2' --stop-after 5", wsd, dir, dir);
    expect("wsd stopped at 5", x, 0, NULL, NULL);
    x = F("--ckpt-dir '%s/cw2' --resume", dir);
    expect("wsd --resume alone", x, 0, "resumed from", NULL);
    same_steps("wsd straight vs resumed", F("%s/w.jsonl", dir), F("%s/w2.jsonl", dir), STEPS);
    struct tt_step st[64];
    int n = tt_read_steps(F("%s/w.jsonl", dir), st, 64);
    struct tr_schedule ws = { .lr = 1e-2f, .min_lr = 2e-3f, .warmup = 2, .steps = STEPS,
                              .kind = TR_SCHED_WSD, .cooldown = 3 };
    bool rates = n == STEPS;
    for (int i = 0; rates && i < n; i++)
        rates = fabs(st[i].lr - tr_schedule_lr(&ws, (int)st[i].step)) <= 1e-9;
    rates = rates && st[6].lr == st[2].lr && st[9].lr < st[8].lr;   /* held, then down */
    printf("%-34s %s\n", "wsd rates: warmup, held, cooldown", rates ? "ok" : "FAIL");
    failures += !rates;
    CHECK_OK(tr_ckpt_read_settings(F("%s/cw/ckpt-%08d.bin", dir, STEPS), &s));
    bool wkept = s && strstr(s, "\"lr-schedule\":\"wsd\"") && strstr(s, "\"cooldown\":0.3");
    printf("%-34s %s\n", "checkpoint settings: wsd, 0.3", wkept ? "ok" : "FAIL");
    failures += !wkept;
    free(s);
    x = F("%s --steps 2 --lr-schedule cosine --cooldown 0.2", flags);
    expect("--cooldown with cosine", x, 2, "--cooldown 0.2 is for --lr-schedule wsd", NULL);
    x = F("%s --steps 2 --lr-schedule cosinus", flags);
    expect("--lr-schedule unknown", x, 2, "--lr-schedule: 'cosinus'", "wsd");
    x = F("%s --lr-schedule wsd --cooldown 0.9 --warmup 2", flags);
    expect("wsd: warmup + cooldown > steps", x, 2, "add up to more than --steps", NULL);
    CHECK_OK(fs_mkdir_p(F("%s/cw3", dir)));
    CHECK_OK(fs_read_all(F("%s/cw2/ckpt-00000005.bin", dir), &buf, &blen));
    CHECK_OK(fs_write_atomic(F("%s/cw3/ckpt-00000005.bin", dir), buf, blen));
    free(buf);
    x = F("--ckpt-dir '%s/cw3' --resume --lr-schedule linear", dir);
    expect("wsd resumed as linear", x, 0, "lr-schedule \"linear\" (checkpoint: \"wsd\")",
           "cooldown unset (checkpoint: 0.3)");
    /* a checkpoint from before --lr-schedule ran the cosine schedule: a
     * resume reports no schedule override (it said 'lr-schedule "cosine"
     * (checkpoint: unset)', nothing given) and goes on as the straight run
     * did (--metrics: its own file, the one override) */
    char *cold = F("%s/cold", dir);
    CHECK_OK(fs_mkdir_p(cold));
    rewrite(c4, F("%s/ckpt-00000004.bin", cold), to_pre_schedule);
    x = F("--ckpt-dir '%s' --resume --metrics '%s/old.jsonl'", cold, dir);
    expect("pre-schedule checkpoint resumed", x, 0, "resumed from", NULL);
    s = tt_slurp(out);
    bool quiet = s && !strstr(s, "lr-schedule");
    printf("%-34s %s\n", "pre-schedule: no schedule override", quiet ? "ok" : "FAIL");
    if (!quiet && s)
        fprintf(stderr, "%s\n", strstr(s, "lr-schedule"));
    failures += !quiet;
    free(s);
    struct tt_step so[64];
    int no = tt_read_steps(F("%s/old.jsonl", dir), so, 64);
    na = tt_read_steps(ma, sa, 64);
    bool old_same = na == STEPS && no == STEPS - 4;
    for (int i = 0; old_same && i < no; i++)
        old_same = sa[i + 4].step == so[i].step && sa[i + 4].loss == so[i].loss &&
                   sa[i + 4].lr == so[i].lr;
    printf("%-34s %s\n", "pre-schedule resume is exact", old_same ? "ok" : "FAIL");
    failures += !old_same;

    /* 7. --cooldown-steps N: the cooldown in steps. The same run as
     * --cooldown 0.3 of 10 steps, kept in the settings under its own key.
     * The docs' branch: a cooldown from the stable checkpoint at step 5 is
     * --resume --steps 7 --cooldown-steps 2 (before: --cooldown F with
     * 7 - round(7F) = 5, i.e. F = 2/7 written out to enough digits), with its
     * own --metrics. A resume that raises the rate of a decaying run says so
     * (before: the lr jumped back to the peak without a word). */
    x = F("%s --lr-schedule wsd --cooldown-steps 3 --metrics '%s/ws.jsonl' --ckpt-dir '%s/cws'",
          flags, dir, dir);
    expect("--cooldown-steps 3", x, 0, "wsd: held to step 7, then linear", NULL);
    same_steps("--cooldown-steps 3 = --cooldown 0.3", F("%s/w.jsonl", dir),
               F("%s/ws.jsonl", dir), STEPS);
    CHECK_OK(tr_ckpt_read_settings(F("%s/cws/ckpt-%08d.bin", dir, STEPS), &s));
    wkept = s && strstr(s, "\"cooldown-steps\":3") && !strstr(s, "\"cooldown\":");
    printf("%-34s %s\n", "checkpoint settings: cooldown-steps", wkept ? "ok" : "FAIL");
    failures += !wkept;
    free(s);
    CHECK_OK(fs_mkdir_p(F("%s/cw4", dir)));
    CHECK_OK(fs_read_all(F("%s/cw2/ckpt-00000005.bin", dir), &buf, &blen));
    CHECK_OK(fs_write_atomic(F("%s/cw4/ckpt-00000005.bin", dir), buf, blen));
    free(buf);
    x = F("--ckpt-dir '%s/cw4' --resume --steps 7 --cooldown-steps 2 --metrics '%s/w4.jsonl'",
          dir, dir);
    expect("branch: --cooldown-steps from 5", x, 0, "wsd: held to step 5, then linear",
           "cooldown-steps 2 (checkpoint: unset)");
    n = tt_read_steps(F("%s/w4.jsonl", dir), st, 64);
    bool branch = n == 2 && st[0].step == 6 && st[1].step == 7 && st[0].lr < 1e-2 &&
                  st[0].lr > 2e-3 && fabs(st[1].lr - 2e-3) < 1e-9;
    printf("%-34s %s\n", "branch: steps 6, 7 decay to min-lr", branch ? "ok" : "FAIL");
    failures += !branch;
    x = F("--ckpt-dir '%s/cw4' --resume --steps 12 --stop-after 8 --metrics '%s/w5.jsonl'", dir,
          dir);
    expect("extending a cooled run: noted", x, 0, "the learning rate jumps from 2.00e-03",
           "up to 1.00e-02 (step 8");
    CHECK_OK(fs_mkdir_p(F("%s/cw5", dir)));
    CHECK_OK(fs_read_all(F("%s/cw2/ckpt-00000005.bin", dir), &buf, &blen));
    CHECK_OK(fs_write_atomic(F("%s/cw5/ckpt-00000005.bin", dir), buf, blen));
    free(buf);
    x = F("--ckpt-dir '%s/cw5' --resume --steps 12 --stop-after 6 --metrics '%s/w6.jsonl'", dir,
          dir);
    expect("extending a stable run", x, 0, "held to step 8", NULL);
    s = tt_slurp(out);
    CHECK(s);
    bool calm = !strstr(s, "learning rate jumps");
    printf("%-34s %s\n", "extending before the cooldown", calm ? "ok" : "FAIL");
    failures += !calm;
    free(s);
    x = F("%s --steps 4 --cooldown-steps 2", flags);
    expect("--cooldown-steps with cosine", x, 2, "--cooldown-steps 2 is for --lr-schedule wsd",
           NULL);
    x = F("%s --lr-schedule wsd --cooldown-steps 9", flags);
    expect("wsd: warmup + cooldown-steps", x, 2, "(--cooldown-steps 9) add up to more than "
           "--steps 10", NULL);
    x = F("%s --lr-schedule wsd --cooldown-steps 2 --cooldown 0.2", flags);
    expect("--cooldown and --cooldown-steps", x, 2, "exclude each other", NULL);

    /* 7. --resume-from: a branch of run cb from its step-4 checkpoint into a
     * directory of its own: the losses of steps 5-10 and the final weights
     * are the straight run's, bit for bit; the original run's metrics file
     * is not touched (its path is not inherited) */
    char *mb_before = tt_slurp(mb);
    x = F("--resume-from '%s/cb/ckpt-00000004.bin' --ckpt-dir '%s/br' --metrics '%s/br.jsonl'",
          dir, dir, dir);
    expect("--resume-from a checkpoint", x, 0, "resumed from", "ckpt-00000010.bin");
    {
        struct tt_step st_a[64], st_b[64];
        int na = tt_read_steps(ma, st_a, 64), nb = tt_read_steps(F("%s/br.jsonl", dir), st_b, 64);
        bool same = na == STEPS && nb == STEPS - 4;
        for (int i = 0; same && i < nb; i++)
            same = st_b[i].step == st_a[i + 4].step && st_b[i].loss == st_a[i + 4].loss &&
                   st_b[i].lr == st_a[i + 4].lr;
        printf("%-34s %s (%d steps)\n", "branch = straight run, steps 5-10", same ? "same" :
               "DIFFER  FAIL", nb);
        failures += !same;
    }
    bool w_same = tt_ckpt_payload_equal(ca, F("%s/br/ckpt-%08d.bin", dir, STEPS));
    char *mb_after = tt_slurp(mb);
    bool untouched = mb_before && mb_after && !strcmp(mb_before, mb_after);
    printf("%-34s %s\n", "branch: final weights, run's metrics", w_same && untouched ? "same" :
           "DIFFER  FAIL");
    failures += !(w_same && untouched);
    free(mb_before);
    free(mb_after);
    /* a branch killed before its first save: --resume is refused, saying how
     * to start the branch again (before: it trained from step 0 with new
     * weights, from the branch's settings alone), and that command repeats
     * the branch */
    {
        char *bk = F("%s/brk", dir);
        CHECK_OK(fs_mkdir_p(bk));
        s = tt_slurp(F("%s/br/config.json", dir));
        CHECK(s && strstr(s, "\"resume-from\""));
        CHECK_OK(fs_write_atomic(F("%s/config.json", bk), s, strlen(s)));
        free(s);
        x = F("--ckpt-dir '%s' --resume --metrics '%s/brk.jsonl'", bk, dir);
        expect("branch: --resume before a save", x, 2, "is that of a branch from",
               F("ingot-train --config %s/config.json --ckpt-dir %s", bk, bk));
        x = F("--config '%s/config.json' --ckpt-dir '%s' --metrics '%s/brk.jsonl'", bk, bk, dir);
        expect("branch started again", x, 0, "resumed from", "ckpt-00000010.bin");
        same_steps("branch again = branch", F("%s/br.jsonl", dir), F("%s/brk.jsonl", dir),
                   STEPS - 4);
        /* its config.json as a job script's --config with --resume: the
         * branch's own checkpoints go on (not '--resume-from excludes
         * --resume', a flag never typed) */
        x = F("--config '%s/config.json' --ckpt-dir '%s' --resume", bk, bk);
        expect("branch: --config its config.json --resume", x, 0, "resumed from",
               F("%s/ckpt-00000010.bin", bk));
    }
    x = F("--resume-from '%s/cb' --ckpt-dir '%s/br'", dir, dir);
    expect("--resume-from into a used dir", x, 2, "--resume-from saves its branch into a new", NULL);
    x = F("--resume-from '%s/cb' --resume --ckpt-dir '%s/br2'", dir, dir);
    expect("--resume-from with --resume", x, 2, "--resume-from excludes --resume", NULL);
    /* a damaged checkpoint named by --resume-from: what to do names its own
     * directory's checkpoint before it, with or without a --ckpt-dir
     * (before: without one a crash, opendir(NULL); with one "the only
     * checkpoint of --ckpt-dir BRANCH ... --resume starts the run again") */
    {
        char *dd = F("%s/dmg", dir), *d2 = F("%s/dmg2", dir), *sb;
        size_t sn;
        CHECK_OK(fs_mkdir_p(dd));
        CHECK_OK(fs_mkdir_p(d2));
        CHECK_OK(fs_read_all(c4, &buf, &blen));
        CHECK_OK(fs_write_atomic(F("%s/ckpt-00000004.bin", dd), buf, blen));
        CHECK_OK(fs_write_atomic(F("%s/ckpt-00000004.bin", d2), buf, blen));
        free(buf);
        rewrite(cb, F("%s/ckpt-%08d.bin", dd, STEPS), flip_param);
        /* one in the settings section: refused while the settings are read */
        CHECK_OK(fs_read_all(cb, &sb, &sn));
        struct tr_ckpt_header *h = (void *)sb;
        sb[h->settings_offset + 2] ^= 0x01;
        CHECK_OK(fs_write_atomic(F("%s/ckpt-%08d.bin", d2, STEPS), sb, sn));
        free(sb);
        for (int k = 0; k < 2; k++)
            for (int w = 0; w < 2; w++) {
                const char *src = w ? d2 : dd;
                x = k ? F("--resume-from '%s/ckpt-%08d.bin' --ckpt-dir '%s/br3'", src, STEPS, dir)
                      : F("--resume-from '%s/ckpt-%08d.bin'", src, STEPS);
                expect(w ? "--resume-from, settings damaged" : "--resume-from, damaged", x, 1,
                       "--resume-from names it: branch from the checkpoint before it",
                       F("%s/ckpt-00000004.bin, or restore it", src));
                s = tt_slurp(out);
                CHECK(s);
                if (strstr(s, "--ckpt-dir")) {
                    printf("%-34s FAIL: %s\n", "--resume-from, damaged: no --ckpt-dir", s);
                    failures++;
                }
                free(s);
            }
    }

    /* a --metrics file that is not one (a 2 MiB line): refused and left as it
     * was, not read whole into memory (metrics.c reads a line at a time) */
    {
        char *junk = F("%s/junk.jsonl", dir);
        size_t jn = (size_t)2 << 20;
        char *jb = malloc(jn);
        CHECK(jb);
        memset(jb, 'x', jn);
        CHECK_OK(fs_write_atomic(junk, jb, jn));
        free(jb);
        x = F("--synthetic --vocab 64 --model tiny --steps 1 --val-every 0 --metrics '%s'", junk);
        expect("--metrics not a metrics file", x, 1, "a line longer than 1024 KiB",
               "nothing was changed");
        struct stat jsb;
        bool kept_junk = stat(junk, &jsb) == 0 && (size_t)jsb.st_size == jn;
        printf("%-34s %s\n", "--metrics junk left as it was", kept_junk ? "ok" : "FAIL");
        failures += !kept_junk;
    }

    tt_rmtree(dir);
    free(dir);
    free(ids);
    for (int i = 0; i < n_strs; i++)
        free(strs[i]);
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
