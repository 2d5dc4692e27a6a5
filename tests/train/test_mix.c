/* Data mixtures (--data DIR:WEIGHT repeated; train/data_loader.h):
 * - windows come from each source in proportion to its weight, each a whole
 *   window of that source, each source's windows once per its own epoch;
 * - the sequence depends on the seed alone: drawn one row at a time or in
 *   steps of 8 rows it is the same (so data parallelism, where every rank
 *   reads the whole step, cannot change it), and a saved position continues
 *   it exactly;
 * - one source given as a mixture of one is the plain loader;
 * - sources with another tokenizer or vocabulary are refused, naming both;
 * - the val set draws from every source, and says which source each of its
 *   windows is from;
 * - end to end: a mixture run stopped and resumed with --ckpt-dir --resume
 *   alone logs the same losses as a straight one, and the metrics and the
 *   report show the tokens taken per source;
 * - data parallel (2 ranks over TCP, as torchrun starts them): the same
 *   losses as one process (fp32 summation tolerance) and the same data
 *   position, per source, in the final checkpoint;
 * - the val loss by source (tr_src_loss.h): every val record of a mixture
 *   has each source's mean and window count, which weighted by the counts
 *   give back the overall val loss; the val line shows them by name; a
 *   dataset mixed with a copy of itself (same basename: names "#i") gets
 *   equal means; a source without val windows gets null and "n/a"; one
 *   dataset gets no split; eval on the mixture gives the trainer's numbers;
 *   2 ranks give one process's.
 * Tokens are their own positions plus a per-source offset, so a row says
 * which source and window it is.
 * usage: test_mix INGOT_TRAIN */
#include <math.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "data_loader.h"
#include "tt_util.h"

enum { T = 8, N_A = 8 * 60 + 1, N_B = 8 * 25 + 1, N_VAL = 8 * 6 + 1, VOCAB = 4000,
       B_BASE = 2000, VAL_BASE = 1000, DRAWS = 4000 };

static tr_loader *open_mix(const struct tr_loader_source *src, int n, uint64_t seed)
{
    struct tr_loader_opts o = { .sources = src, .n_sources = n, .seq_len = T, .seed = seed,
                                .verify = true };
    tr_loader *l;
    CHECK_OK(tr_loader_open(&o, &l));
    return l;
}

/* Which source a row is from (0: A, 1: B), checking it is a whole window. */
static int row_source(const int32_t *row)
{
    int base = row[0] >= B_BASE ? B_BASE : 0;
    CHECK((row[0] - base) % T == 0);
    for (int t = 0; t <= T; t++)
        CHECK(row[t] == row[0] + t);
    return base ? 1 : 0;
}

static void write_source_val(const char *dir, uint32_t base, size_t n, uint64_t hash,
                             uint32_t vocab, size_t n_val)
{
    uint32_t *tr = malloc(n * sizeof(uint32_t)), *va = malloc(N_VAL * sizeof(uint32_t));
    CHECK(tr && va);
    for (size_t i = 0; i < n; i++)
        tr[i] = base + (uint32_t)i;
    for (size_t i = 0; i < N_VAL; i++)
        va[i] = VAL_BASE + base / 2 + (uint32_t)i;   /* A: 1000.., B: 2000.. */
    struct tt_dataset d = { .dir = dir, .vocab = vocab, .tokenizer_hash = hash, .bos_id = -1,
                            .train = tr, .n_train = n, .val = va, .n_val = n_val,
                            .doc_len = 7, .shard_docs = 9 };
    CHECK_OK(tt_write_dataset(&d));
    free(tr);
    free(va);
}

static void write_source(const char *dir, uint32_t base, size_t n, uint64_t hash, uint32_t vocab)
{
    write_source_val(dir, base, n, hash, vocab, N_VAL);
}

static void unit(const char *dir)
{
    char *a = tt_fmt("%s/a", dir), *b = tt_fmt("%s/b", dir), *c = tt_fmt("%s/c", dir);
    char *v = tt_fmt("%s/v", dir);
    write_source(a, 0, N_A, 11, VOCAB);
    write_source(b, B_BASE, N_B, 11, VOCAB);
    write_source(c, B_BASE, N_B, 12, VOCAB);           /* another tokenizer */
    write_source(v, B_BASE, N_B, 11, VOCAB + 1000);    /* another vocabulary */
    struct tr_loader_source mix[2] = { { a, 3.0 }, { b, 1.0 } };

    /* weights, whole windows, each source's epoch */
    tr_loader *l = open_mix(mix, 2, 5);
    CHECK(tr_loader_n_sources(l) == 2 && tr_loader_windows(l) == 60 + 25);
    CHECK(tr_loader_source_weight(l, 0) == 0.75 && tr_loader_source_weight(l, 1) == 0.25);
    int32_t *one = malloc((size_t)DRAWS * (T + 1) * sizeof(int32_t));
    int32_t *eight = malloc((size_t)DRAWS * (T + 1) * sizeof(int32_t));
    CHECK(one && eight);
    int n_b = 0, seen_a = 0;
    char a_seen[60] = { 0 };
    for (int i = 0; i < DRAWS; i++) {
        CHECK_OK(tr_loader_next(l, one + (size_t)i * (T + 1), 1));
        int s = row_source(one + (size_t)i * (T + 1));
        n_b += s;
        if (!s && seen_a < 60) {   /* A's first epoch: every window once */
            int w = one[(size_t)i * (T + 1)] / T;
            CHECK(w < 60 && !a_seen[w]);
            a_seen[w] = 1;
            seen_a++;
        }
    }
    double frac = (double)n_b / DRAWS;
    printf("mix: %d of %d windows from the weight-1/4 source (%.3f)\n", n_b, DRAWS, frac);
    CHECK(frac > 0.22 && frac < 0.28);
    struct tr_loader_pos pos;
    tr_loader_get_pos(l, &pos);
    CHECK(pos.n_src == 2 && pos.index == DRAWS && pos.src[1].windows == (uint64_t)n_b &&
          pos.src[0].windows == (uint64_t)(DRAWS - n_b));
    CHECK(pos.src[1].epoch == (uint64_t)n_b / 25 && pos.src[1].index == (uint64_t)n_b % 25);
    tr_loader_close(l);

    /* steps of 8 rows give the same sequence */
    l = open_mix(mix, 2, 5);
    for (int i = 0; i < DRAWS; i += 8)
        CHECK_OK(tr_loader_next(l, eight + (size_t)i * (T + 1), 8));
    CHECK(!memcmp(one, eight, (size_t)DRAWS * (T + 1) * sizeof(int32_t)));
    tr_loader_close(l);

    /* a saved position continues exactly */
    l = open_mix(mix, 2, 5);
    CHECK_OK(tr_loader_next(l, eight, 777));
    tr_loader_get_pos(l, &pos);
    tr_loader_close(l);
    l = open_mix(mix, 2, 5);
    CHECK_OK(tr_loader_set_pos(l, &pos));
    CHECK_OK(tr_loader_next(l, eight, 500));
    CHECK(!memcmp(one + (size_t)777 * (T + 1), eight, (size_t)500 * (T + 1) * sizeof(int32_t)));
    struct tr_loader_pos bad = pos;
    bad.n_src = 1;
    CHECK(tr_loader_set_pos(l, &bad) == INGOT_E_MISMATCH);
    bad = pos;
    bad.src[0].windows++;
    CHECK(tr_loader_set_pos(l, &bad) == INGOT_E_MISMATCH);   /* its own count checked first */
    bad = pos;
    bad.index++;   /* the sources' counts no longer add up to the mixture's */
    CHECK(tr_loader_set_pos(l, &bad) == INGOT_E_CORRUPT);
    /* one source's epoch moved, its windows and the sum left (as a dataset
     * of another size would show it) */
    bad = pos;
    bad.src[1].epoch += UINT64_C(1) << 62;
    CHECK(tr_loader_set_pos(l, &bad) == INGOT_E_MISMATCH);
    CHECK(strstr(ingot_errmsg(), "does not add up") != NULL);
    tr_loader_close(l);

    /* another seed, another sequence */
    l = open_mix(mix, 2, 6);
    CHECK_OK(tr_loader_next(l, eight, 64));
    CHECK(memcmp(one, eight, (size_t)64 * (T + 1) * sizeof(int32_t)));
    tr_loader_close(l);

    /* a mixture of one is the plain loader */
    struct tr_loader_opts po = { .dir = a, .seq_len = T, .seed = 5, .verify = true };
    tr_loader *p;
    CHECK_OK(tr_loader_open(&po, &p));
    l = open_mix(mix, 1, 5);
    CHECK_OK(tr_loader_next(p, one, 150));
    CHECK_OK(tr_loader_next(l, eight, 150));
    CHECK(!memcmp(one, eight, (size_t)150 * (T + 1) * sizeof(int32_t)));
    tr_loader_get_pos(p, &pos);
    CHECK(pos.epoch == 2 && pos.index == 30 && pos.src[0].windows == 150);
    tr_loader_close(p);
    tr_loader_close(l);

    /* val: every source's windows, all of them */
    l = open_mix(mix, 2, 5);
    uint64_t nv = tr_loader_val_windows(l);
    CHECK(nv == 12);
    CHECK_OK(tr_loader_val_rows(l, 0, nv, one));
    int from[2] = { 0, 0 };
    for (uint64_t i = 0; i < nv; i++)
        from[one[i * (T + 1)] >= VAL_BASE + B_BASE / 2]++;
    CHECK(from[0] == 6 && from[1] == 6);
    CHECK_OK(tr_loader_val_rows(l, 5, 3, eight));   /* a slice is the same windows */
    CHECK(!memcmp(one + 5 * (T + 1), eight, 3 * (T + 1) * sizeof(int32_t)));
    /* each val window's source, the whole set and a slice */
    int srcs[12], slice[3];
    CHECK_OK(tr_loader_val_sources(l, 0, nv, srcs));
    CHECK_OK(tr_loader_val_sources(l, 5, 3, slice));
    for (uint64_t i = 0; i < nv; i++)
        CHECK(srcs[i] == (one[i * (T + 1)] >= VAL_BASE + B_BASE / 2));
    CHECK(!memcmp(srcs + 5, slice, sizeof(slice)));
    CHECK(tr_loader_val_sources(l, 11, 2, slice) == INGOT_E_USAGE);
    tr_loader_close(l);

    /* refusals name both datasets */
    struct tr_loader_source badtok[2] = { { a, 1.0 }, { c, 1.0 } };
    struct tr_loader_opts o = { .sources = badtok, .n_sources = 2, .seq_len = T, .seed = 1 };
    CHECK(tr_loader_open(&o, &l) == INGOT_E_MISMATCH && !l);
    printf("mix: %s\n", ingot_errmsg());
    CHECK(strstr(ingot_errmsg(), a) && strstr(ingot_errmsg(), c) &&
          strstr(ingot_errmsg(), "tokenizer"));
    struct tr_loader_source badvoc[2] = { { a, 1.0 }, { v, 1.0 } };
    o.sources = badvoc;
    CHECK(tr_loader_open(&o, &l) == INGOT_E_MISMATCH && !l);
    printf("mix: %s\n", ingot_errmsg());
    CHECK(strstr(ingot_errmsg(), a) && strstr(ingot_errmsg(), v) &&
          strstr(ingot_errmsg(), "vocabulary"));
    free(one);
    free(eight);
    free(a);
    free(b);
    free(c);
    free(v);
}

/* The metrics file's last step record holds src_tokens [x, y] with
 * x + y == tokens. */
static bool src_tokens_ok(const char *path)
{
    char *s = tt_slurp(path), *last = NULL, *p;
    if (!s)
        return false;
    for (p = s; (p = strstr(p, "\"src_tokens\"")); p++)
        last = p;
    bool ok = false;
    if (last) {
        long long x = -1, y = -1, t = -1;
        char *tok = last;
        while (tok > s && *tok != '\n')
            tok--;
        tok = strstr(tok, "\"tokens\":");
        ok = tok && sscanf(tok, "\"tokens\": %lld", &t) == 1 &&
             sscanf(last, "\"src_tokens\": [%lld, %lld]", &x, &y) == 2 && x > 0 && y > 0 &&
             x + y == t;
    }
    free(s);
    return ok;
}

/* The val loss by source in a mixture run's metrics: every val record has
 * n_src means and window counts; the counts add up to n_val, a source has a
 * mean exactly when it has windows, and the means weighted by the counts
 * are the overall val loss (which is computed on its own, as before).
 * Returns how many records there are (0: a check failed, said). */
static int val_src_ok(const char *what, const char *path, int n_src, long n_val,
                      struct tt_val *v, int max)
{
    int n = tt_read_val_src(path, v, max);
    bool ok = n > 0;
    double worst = 0.0;
    for (int r = 0; ok && r < n; r++) {
        long tot = 0;
        double sum = 0.0;
        ok = v[r].n_src == n_src;
        for (int i = 0; ok && i < n_src; i++) {
            tot += v[r].windows[i];
            ok = v[r].windows[i] > 0 ? isfinite(v[r].src[i]) : isnan(v[r].src[i]);
            sum += v[r].windows[i] > 0 ? (double)v[r].windows[i] * v[r].src[i] : 0.0;
        }
        double d = fabs(sum / (double)n_val - v[r].loss);
        worst = d > worst ? d : worst;
        ok = ok && tot == n_val && d <= 1e-9 * (1.0 + fabs(v[r].loss));
    }
    printf("%-34s %s (%d val records, max |weighted sources - overall| %.1e)\n", what,
           ok ? "ok" : "FAIL", n, worst);
    if (!ok) {
        char *s = tt_slurp(path);
        fprintf(stderr, "%s:\n%s\n", path, s ? s : "(missing)");
        free(s);
    }
    return ok ? n : 0;
}

/* The line of out (a run's output) that holds needle, copied (malloc'd;
 * NULL when none). */
static char *line_with(const char *out, const char *needle)
{
    char *s = tt_slurp(out), *line = NULL;
    const char *p = s ? strstr(s, needle) : NULL;
    if (p) {
        while (p > s && p[-1] != '\n')
            p--;
        line = strndup(p, strcspn(p, "\n"));
    }
    free(s);
    return line;
}

/* Whether the output's first val line goes on after "(n windows)" with
 * want_prefix (NULL: ends there). */
static bool val_line_is(const char *out, const char *want_prefix)
{
    char *line = line_with(out, "| val loss ");
    const char *tail = line ? strstr(line, "windows)") : NULL;
    if (tail)
        tail += strlen("windows)");
    bool ok = tail && (want_prefix ? !strncmp(tail, want_prefix, strlen(want_prefix)) : !*tail);
    printf("%-34s %s (%s)\n", "val line by source", ok ? "ok" : "FAIL", line ? line : "none");
    free(line);
    return ok;
}

/* The val loss by source: the straight run's records (a:3, b over 8 val
 * windows), its val lines, a dataset mixed with a copy of itself, a source
 * without val windows, one dataset, and eval on the mixture. */
static int val_by_source(const char *bin, const char *dir, const char *out)
{
    int failures = 0;
    struct tt_val va[8], vs[8];
    char *ma = tt_fmt("%s/a.jsonl", dir);
    int na = val_src_ok("val by source: a:3 + b", ma, 2, 8, va, 8);
    failures += na != 2;   /* steps 4 and 8 */
    for (int r = 0; r < na; r++)
        failures += va[r].windows[0] < 1 || va[r].windows[1] < 1;   /* both drawn (6 + 2) */

    /* the same data twice, in directories of the same name: equal means,
     * told apart by their index */
    char *s1 = tt_fmt("%s/s1/same", dir), *s2 = tt_fmt("%s/s2/same", dir);
    write_source(s1, 0, N_A, 11, VOCAB);
    write_source(s2, 0, N_A, 11, VOCAB);
    char *ms = tt_fmt("%s/self.jsonl", dir);
    char *x = tt_fmt("--data '%s' --data '%s:2' --model tiny --layers 1 --dim 32 --seq-len 8 "
                     "--batch 4 --batch-tokens 64 --steps 4 --warmup 1 --lr 1e-2 --val-every 2 "
                     "--val-tokens 96 --metrics '%s'", s1, s2, ms);
    failures += tt_expect(bin, out, "mixture of a dataset and its copy", x, 0,
                          "(same#0 6, same#1 6)", "| same#0 ");
    free(x);
    /* a source named through "." goes by its directory's name (it was ".") */
    x = tt_fmt("--data '%s/.' --data '%s:2' --model tiny --layers 1 --dim 32 --seq-len 8 "
               "--batch 4 --batch-tokens 64 --steps 2 --warmup 1 --val-every 2 --val-tokens 96",
               s1, s2);
    failures += tt_expect(bin, out, "a source given as DIR/.", x, 0, "(same#0 6, same#1 6)",
                          NULL);
    free(x);
    int ns = val_src_ok("val by source: itself twice", ms, 2, 12, vs, 8);
    bool eq = ns == 2;
    for (int r = 0; eq && r < ns; r++)
        eq = vs[r].windows[0] == 6 && vs[r].windows[1] == 6 &&
             fabs(vs[r].src[0] - vs[r].src[1]) <= 1e-9 * (1.0 + fabs(vs[r].src[0])) &&
             fabs(vs[r].src[0] - vs[r].loss) <= 1e-9 * (1.0 + fabs(vs[r].loss));
    printf("%-34s %s\n", "itself twice: equal means", eq ? "ok" : "FAIL");
    failures += !eq;
    /* the records name the sources as the val line does (before: only
     * positions, and plot-metrics' legend said "val data 0") */
    char *ts = tt_slurp(ms);
    bool named = ts && strstr(ts, "\"val_src_names\":[\"same#0\",\"same#1\"]");
    printf("%-34s %s\n", "val records name the sources", named ? "ok" : "FAIL");
    failures += !named;
    free(ts);

    /* a source with no val split: null, n/a, a note */
    char *nv = tt_fmt("%s/noval", dir), *mn = tt_fmt("%s/noval.jsonl", dir);
    write_source_val(nv, B_BASE, N_B, 11, VOCAB, 0);
    x = tt_fmt("--data '%s/a' --data '%s' --model tiny --layers 1 --dim 32 --seq-len 8 "
               "--batch 4 --batch-tokens 64 --steps 2 --warmup 1 --val-every 2 --val-tokens 64 "
               "--metrics '%s'", dir, nv, mn);
    failures += tt_expect(bin, out, "mixture, a source without val", x, 0,
                          "noval has no window in the val set", "| a ");
    failures += !val_line_is(out, " | a ");
    char *line = line_with(out, "| val loss ");
    bool na_ok = line && strstr(line, ", noval n/a");
    printf("%-34s %s\n", "no val windows: n/a", na_ok ? "ok" : "FAIL");
    failures += !na_ok;
    free(line);
    free(x);
    struct tt_val vn[4];
    failures += val_src_ok("val by source: one without val", mn, 2, 6, vn, 4) != 1 ||
                vn[0].windows[1] != 0;

    /* one dataset: no split anywhere */
    char *m1 = tt_fmt("%s/one.jsonl", dir);
    x = tt_fmt("--data '%s/a' --model tiny --layers 1 --dim 32 --seq-len 8 --batch 4 "
               "--batch-tokens 64 --steps 2 --warmup 1 --val-every 2 --val-tokens 64 "
               "--metrics '%s'", dir, m1);
    failures += tt_expect(bin, out, "one dataset", x, 0, "| val loss ", NULL);
    failures += !val_line_is(out, NULL);
    free(x);
    struct tt_val v1[4];
    char *s = tt_slurp(m1);
    bool plain = tt_read_val_src(m1, v1, 4) == 1 && v1[0].n_src == 0 && s &&
                 !strstr(s, "val_src");
    printf("%-34s %s\n", "one dataset: no val_src", plain ? "ok" : "FAIL");
    failures += !plain;
    free(s);

    /* eval on the mixture: the trainer's val numbers, overall and by source */
    x = tt_fmt("eval '%s/ca/ckpt-00000008.bin' --data '%s/a:3' --data '%s/b' --tokens 64 --json",
               dir, dir, dir);
    failures += tt_expect(bin, out, "eval on the mixture (json)", x, 0, "\"src_loss\":[",
                          "\"src_names\":[\"a\",\"b\"]");
    free(x);
    s = tt_slurp(out);
    const char *j = s ? strstr(s, "{\"split\"") : NULL;
    double loss = NAN, l0 = NAN, l1 = NAN;
    long w0 = -1, w1 = -1;
    const char *lp = j ? strstr(j, "\"loss\":") : NULL, *sp = j ? strstr(j, "\"src_loss\":") : NULL;
    const char *wp = j ? strstr(j, "\"src_windows\":") : NULL;
    bool ev = na == 2 && lp && sp && wp && sscanf(lp, "\"loss\":%lf", &loss) == 1 &&
              sscanf(sp, "\"src_loss\":[%lf,%lf]", &l0, &l1) == 2 &&
              sscanf(wp, "\"src_windows\":[%ld,%ld]", &w0, &w1) == 2 &&
              fabs(loss - va[1].loss) <= 1e-6 * (1.0 + fabs(loss)) &&
              fabs(l0 - va[1].src[0]) <= 1e-6 * (1.0 + fabs(l0)) &&
              fabs(l1 - va[1].src[1]) <= 1e-6 * (1.0 + fabs(l1)) &&
              w0 == va[1].windows[0] && w1 == va[1].windows[1];
    printf("%-34s %s (eval %.6f [%.6f x%ld, %.6f x%ld]; trainer %.6f [%.6f, %.6f])\n",
           "eval = the trainer's val by source", ev ? "ok" : "FAIL", loss, l0, w0, l1, w1,
           na == 2 ? va[1].loss : NAN, na == 2 ? va[1].src[0] : NAN, na == 2 ? va[1].src[1] : NAN);
    failures += !ev;
    free(s);
    x = tt_fmt("eval '%s/ca/ckpt-00000008.bin' --data '%s/a:3' --data '%s/b' --tokens 64", dir,
               dir, dir);
    failures += tt_expect(bin, out, "eval on the mixture (text)", x, 0, "eval: data 0 (a): ",
                          "eval: data 1 (b): ");
    free(x);
    /* without --data: the run's sources, said as --data flags with their
     * weights (before: "a and the rest of its mixture") */
    x = tt_fmt("eval '%s/ca/ckpt-00000008.bin' --tokens 64", dir);
    char *said = tt_fmt("eval: the checkpoint's data: --data %s/a:3 --data %s/b:1", dir, dir);
    failures += tt_expect(bin, out, "eval, the run's mixture", x, 0, said, "eval: data 1 (b): ");
    free(said);
    free(x);
    /* ... as flags a shell reads back: a directory with a quote and a space
     * quoted, a weight %g would round (1.23457e+06) written exactly */
    char *odd = tt_fmt("%s/s1/it's a", dir);
    write_source(odd, 0, N_A, 11, VOCAB);
    x = tt_fmt("--data '%s/s1/it'\\''s a:1234567.5' --data '%s' --model tiny --layers 1 "
               "--dim 32 --seq-len 8 --batch 4 --steps 1 --val-every 0 --ckpt-dir '%s/codd'",
               dir, s2, dir);
    failures += tt_expect(bin, out, "mixture from an odd directory", x, 0, NULL, NULL);
    free(x);
    x = tt_fmt("eval '%s/codd' --tokens 64", dir);
    said = tt_fmt("the checkpoint's data: --data '%s/s1/it'\\''s a:1234567.5' --data %s:1",
                  dir, s2);
    failures += tt_expect(bin, out, "eval, quoted and exact", x, 0, said, NULL);
    free(said);
    free(x);
    free(odd);
    free(ma); free(s1); free(s2); free(ms); free(nv); free(mn); free(m1);
    return failures;
}

/* A TCP port that was free a moment ago. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* The "data_position" object of a checkpoint's settings (malloc'd), without
 * the "world_size" that follows it (the ranks that wrote it differ). */
static char *data_position(const char *ckpt)
{
    char *text = NULL;
    CHECK_OK(tr_ckpt_read_settings(ckpt, &text));
    CHECK(text);
    char *p = strstr(text, "\"data_position\""), *w = strstr(text, ",\"world_size\"");
    CHECK(p && w > p);
    *w = '\0';
    char *d = strdup(p);
    free(text);
    return d;
}

/* The resume line of a mixture names each source's epoch and window, as
 * the checkpoint holds them: it read "epoch 0, window N", N the windows
 * drawn from all sources, whatever the sources' own epochs. Source b (25
 * windows an epoch) at weight 3/4 is in its second epoch by step 5. */
static int resume_line(const char *bin, const char *dir, const char *out)
{
    char *x = tt_fmt("--data '%s/a:1' --data '%s/b:3' --model tiny --layers 1 --dim 32 "
                     "--seq-len 8 --batch 4 --batch-tokens 64 --steps 8 --stop-after 5 "
                     "--val-every 0 --ckpt-dir '%s/cq'", dir, dir, dir);
    int failures = tt_expect(bin, out, "mixture b:3 stopped at 5", x, 0, NULL, NULL);
    free(x);
    x = tt_fmt("--ckpt-dir '%s/cq' --resume --stop-after 6", dir);
    failures += tt_expect(bin, out, "mixture b:3 resumed", x, 0, "resumed from", NULL);
    free(x);
    char *ck = tt_fmt("%s/cq/ckpt-00000005.bin", dir), *pos = data_position(ck);
    unsigned long long w, e[2], i[2];
    bool ok = sscanf(pos, "\"data_position\":{\"windows\":%llu,\"sources\":[{\"epoch\":%llu,"
                     "\"index\":%llu,%*[^{]{\"epoch\":%llu,\"index\":%llu", &w, &e[0], &i[0],
                     &e[1], &i[1]) == 5;
    char *want = tt_fmt("(step 5, %llu windows drawn; data 0: epoch %llu, window %llu; data 1: "
                        "epoch %llu, window %llu)", w, e[0], i[0], e[1], i[1]);
    char *said = tt_slurp(out);
    ok = ok && w == 40 && e[1] == 1 && said && strstr(said, want);
    printf("%-34s %s\n", "mixture resume line", ok ? "ok" : "FAIL");
    if (!ok)
        fprintf(stderr, "want '%s' (position %s) in:\n%s\n", want, pos, said ? said : "");
    free(said);
    free(want);
    free(pos);
    free(ck);
    return failures + !ok;
}

/* Two ranks over TCP against one process: losses within fp32 summation
 * tolerance, the data position (every source's) identical. */
static int dist_check(const char *bin, const char *dir, const char *flags, const char *out)
{
    int port = free_port();
    char *env = tt_fmt("OMP_NUM_THREADS=1 WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 "
                       "MASTER_PORT=%d", port);
    char *cmd = tt_fmt("env %s RANK=1 LOCAL_RANK=1 '%s' %s --dist tcp --dist-timeout 60 "
                       "--ckpt-dir '%s/cw' >'%s/r1.txt' 2>&1 & env %s RANK=0 LOCAL_RANK=0 '%s' %s "
                       "--dist tcp --dist-timeout 60 --metrics '%s/w.jsonl' --ckpt-dir '%s/cw'; "
                       "rc=$?; wait $! || rc=1; exit $rc", env, bin, flags, dir, dir, env, bin,
                       flags, dir, dir);
    int rc = tt_run(cmd, out);
    free(cmd);
    free(env);
    if (rc != 0) {
        char *s = tt_slurp(out);
        fprintf(stderr, "2 ranks: exit %d:\n%s\n", rc, s ? s : "");
        free(s);
        return 1;
    }
    char *ma = tt_fmt("%s/a.jsonl", dir), *mw = tt_fmt("%s/w.jsonl", dir);
    struct tt_step sa[16], sw[16];
    int na = tt_read_steps(ma, sa, 16), nw = tt_read_steps(mw, sw, 16);
    bool close_ok = na == 8 && nw == 8;
    double worst = 0.0;
    for (int i = 0; close_ok && i < 8; i++) {
        double d = fabs(sa[i].loss - sw[i].loss);
        worst = d > worst ? d : worst;
        close_ok = sa[i].step == sw[i].step && d <= 2e-5 * fmax(1.0, fabs(sa[i].loss));
    }
    /* the val loss by source: every rank evaluates the whole val set, rank 0
     * reports it */
    struct tt_val va[8], vw[8];
    int nva = tt_read_val_src(ma, va, 8), nvw = tt_read_val_src(mw, vw, 8);
    bool val_ok = nva == 2 && nvw == 2;
    double worst_val = 0.0;
    for (int r = 0; val_ok && r < nva; r++) {
        val_ok = va[r].step == vw[r].step && va[r].n_src == 2 && vw[r].n_src == 2;
        for (int i = 0; val_ok && i < 2; i++) {
            double d = fabs(va[r].src[i] - vw[r].src[i]);
            worst_val = d > worst_val ? d : worst_val;
            val_ok = va[r].windows[i] == vw[r].windows[i] &&
                     d <= 2e-5 * fmax(1.0, fabs(va[r].src[i]));
        }
    }
    printf("%-34s %s (max |val by source difference| %.2e)\n", "val by source on 2 ranks",
           val_ok ? "ok" : "FAIL", worst_val);
    close_ok = close_ok && val_ok;
    char *ca = tt_fmt("%s/ca/ckpt-00000008.bin", dir), *cw = tt_fmt("%s/cw/ckpt-00000008.bin", dir);
    char *pa = data_position(ca), *pw = data_position(cw);
    bool same_pos = !strcmp(pa, pw);
    printf("%-34s %s (max |loss difference| %.2e; position %s)\n", "mixture on 2 ranks",
           close_ok && same_pos ? "ok" : "FAIL", worst, same_pos ? "identical" : "DIFFERS");
    if (!same_pos)
        fprintf(stderr, "1 process: %s\n2 ranks:   %s\n", pa, pw);
    free(pa); free(pw); free(ca); free(cw); free(ma); free(mw);
    return !(close_ok && same_pos);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    const char *bin = argv[1];
    char *dir = tt_tmpdir("mix");
    unit(dir);

    char *out = tt_fmt("%s/out.txt", dir);
    char *flags = tt_fmt("--data '%s/a:3' --data '%s/b' --model tiny --layers 1 --dim 32 "
                         "--seq-len 8 --batch 4 --batch-tokens 64 --steps 8 --warmup 1 --lr 1e-2 "
                         "--val-every 4 --val-tokens 64 --print-every 1", dir, dir);
    int failures = 0;
    char *x = tt_fmt("%s --metrics '%s/a.jsonl' --ckpt-dir '%s/ca'", flags, dir, dir);
    failures += tt_expect(bin, out, "mixture straight", x, 0, "weight 0.750", "tokens taken from");
    failures += !val_line_is(out, " | a ");
    free(x);
    /* the end lines give each source's place, the one a resume from the last
     * checkpoint reports (they gave the share alone) */
    char *end_text = tt_slurp(out);
    x = tt_fmt("--ckpt-dir '%s/ca' --resume", dir);
    failures += tt_expect(bin, out, "mixture resumed at its end", x, 0, "nothing to do", NULL);
    free(x);
    char *res_text = tt_slurp(out);
    bool places = end_text && res_text;
    for (int i = 0; places && i < 2; i++) {
        char key[32];
        unsigned long long e1 = 0, w1 = 0, e2 = 1, w2 = 1;
        snprintf(key, sizeof(key), "data %d: epoch ", i);
        const char *r = strstr(res_text, key);
        const char *e = strstr(end_text, ", now at epoch ");
        for (int k = 0; e && k < i; k++)
            e = strstr(e + 1, ", now at epoch ");
        places = r && e && sscanf(r + strlen(key), "%llu, window %llu", &e2, &w2) == 2 &&
                 sscanf(e, ", now at epoch %llu, window %llu", &e1, &w1) == 2 && e1 == e2 &&
                 w1 == w2;
    }
    printf("%-34s %s\n", "mixture end: each source's place", places ? "ok" : "FAIL");
    failures += !places;
    free(end_text);
    free(res_text);
    x = tt_fmt("%s --metrics '%s/b.jsonl' --ckpt-dir '%s/cb' --stop-after 3", flags, dir, dir);
    failures += tt_expect(bin, out, "mixture stopped at 3", x, 0, NULL, NULL);
    free(x);
    x = tt_fmt("--ckpt-dir '%s/cb' --resume", dir);
    failures += tt_expect(bin, out, "mixture --resume alone", x, 0, "resumed from", NULL);
    free(x);
    failures += resume_line(bin, dir, out);
    char *ma = tt_fmt("%s/a.jsonl", dir), *mb = tt_fmt("%s/b.jsonl", dir);
    struct tt_step sa[16], sb[16];
    int na = tt_read_steps(ma, sa, 16), nb = tt_read_steps(mb, sb, 16);
    bool same = na == 8 && nb == 8;
    for (int i = 0; same && i < 8; i++)
        same = sa[i].loss == sb[i].loss && sa[i].grad_norm == sb[i].grad_norm;
    printf("%-34s %s\n", "mixture resume bit-exact", same ? "ok" : "FAIL");
    bool st = src_tokens_ok(ma) && src_tokens_ok(mb);
    printf("%-34s %s\n", "metrics src_tokens", st ? "ok" : "FAIL");
    char *ca = tt_fmt("%s/ca/ckpt-00000008.bin", dir), *cb = tt_fmt("%s/cb/ckpt-00000008.bin", dir);
    bool w = tt_ckpt_payload_equal(ca, cb);
    printf("%-34s %s\n", "mixture final weights", w ? "same" : "DIFFER  FAIL");
    failures += !same + !st + !w;
    failures += val_by_source(bin, dir, out);
    failures += dist_check(bin, dir, flags, out);
    /* resumed with other weights: allowed, with a note that the val set (drawn
     * with the weights) changed; the same weights say nothing */
    x = tt_fmt("%s --ckpt-dir '%s/cr' --stop-after 3", flags, dir);
    failures += tt_expect(bin, out, "mixture stopped at 3 (cr)", x, 0, NULL, NULL);
    free(x);
    x = tt_fmt("--ckpt-dir '%s/cr' --resume --stop-after 4", dir);
    failures += tt_expect(bin, out, "mixture resumed, same weights", x, 0, "resumed from", NULL);
    char *said = tt_slurp(out);
    if (!said || strstr(said, "weights changed")) {
        printf("%-34s FAIL (a note without a change)\n", "same weights, no note");
        failures++;
    }
    free(said);
    free(x);
    x = tt_fmt("--ckpt-dir '%s/cr' --resume --data '%s/a:1' --data '%s/b:1'", dir, dir, dir);
    failures += tt_expect(bin, out, "mixture resumed, new weights", x, 0,
                          "the mixture's weights changed", "not comparable");
    free(x);
    x = tt_fmt("--data '%s/a' --data '%s/c' --synthetic", dir, dir);
    failures += tt_expect(bin, out, "--data with --synthetic", x, 2, "exclude", NULL);
    free(x);
    x = tt_fmt("--data '%s/a' --data '%s/c' --model tiny --steps 1", dir, dir);
    failures += tt_expect(bin, out, "mixture of two tokenizers", x, 1, "different tokenizers",
                          "/c");
    free(x);
    /* a source of ids only (import-bin --vocab: hash 0): "re-run ingot-pretok
     * with the same --model" named a conversion it never had */
    char *ids = tt_fmt("%s/ids", dir);
    write_source(ids, B_BASE, N_B, 0, VOCAB);
    x = tt_fmt("--data '%s/a' --data '%s' --model tiny --steps 1", dir, ids);
    failures += tt_expect(bin, out, "mixture with a source of ids only", x, 1,
                          "/ids holds ids only (made by ingot-pretok import-bin --vocab",
                          "import them again with import-bin --tokenizer M");
    free(x);
    free(ids);
    /* one dataset whose train shards 0 and 1 hold the same tokens (its text
     * given twice to the conversion): noted (it trained on them twice
     * without a word) */
    {
        enum { K = 9 * 7 };   /* a shard: shard_docs 9 documents of doc_len 7 */
        uint32_t tr[2 * K + 5], va[N_VAL];
        for (size_t i = 0; i < K; i++)
            tr[i] = tr[K + i] = (uint32_t)(i % 50);
        for (size_t i = 2 * K; i < 2 * K + 5; i++)
            tr[i] = 60;
        for (size_t i = 0; i < N_VAL; i++)
            va[i] = VAL_BASE + (uint32_t)i;
        char *twice = tt_fmt("%s/twice", dir);
        struct tt_dataset d = { .dir = twice, .vocab = VOCAB, .tokenizer_hash = 11,
                                .bos_id = -1, .train = tr, .n_train = 2 * K + 5, .val = va,
                                .n_val = N_VAL, .doc_len = 7, .shard_docs = 9 };
        CHECK_OK(tt_write_dataset(&d));
        x = tt_fmt("--data '%s' --model tiny --layers 1 --dim 32 --seq-len 8 --batch 2 "
                   "--steps 1", twice);
        failures += tt_expect(bin, out, "shards of equal tokens", x, 0,
                              "/twice: 1 shard holds the same tokens as another (the first: "
                              "train-000000.tok and train-000001.tok",
                              "the model sees them twice an epoch");
        free(x);
        free(twice);
    }
    /* a copy of a source (cp -r) in the same mixture: the same shards twice */
    char *cp = tt_fmt("cp -r '%s/a' '%s/acopy'", dir, dir);
    CHECK(system(cp) == 0);
    free(cp);
    x = tt_fmt("--data '%s/a' --data '%s/acopy' --model tiny --layers 1 --dim 32 "
               "--seq-len 16 --batch 2 --steps 1", dir, dir);
    failures += tt_expect(bin, out, "mixture with a copy of a source", x, 0,
                          "note: --data ", "/acopy holds the same shards as --data ");
    free(x);
    x = tt_fmt("--data '%s/a:0' --steps 1", dir);
    failures += tt_expect(bin, out, "weight 0", x, 2, "weight '0'", NULL);
    free(x);
    x = tt_fmt("--data '%s/a:1e300' --data '%s/b' --steps 1", dir, dir);
    failures += tt_expect(bin, out, "weight 1e300", x, 2, "use a number in [1e-9, 1e9]", NULL);
    free(x);
    x = tt_fmt("--data '%s/a:1' --data '%s/a:2' --steps 1", dir, dir);
    failures += tt_expect(bin, out, "one dataset twice", x, 2, "given twice", NULL);
    free(x);
    /* ... and under another spelling of its path: the same directory on disk */
    x = tt_fmt("--data '%s/a' --data '%s/./a/' --steps 1", dir, dir);
    failures += tt_expect(bin, out, "one dataset twice, spelled two ways", x, 2, "given twice",
                          "(also as ");
    free(x);
    /* DIR:WEIGHT when a directory is named that whole (web:5 took web with
     * weight 5 in silence: sweep 3): which is meant is asked */
    char *a5 = tt_fmt("%s/a:5", dir);
    if (mkdir(a5, 0755) != 0) {
        printf("%-34s FAIL (mkdir %s)\n", "a directory named a:5", a5);
        failures++;
    }
    x = tt_fmt("--data '%s/a:5' --steps 1", dir);
    failures += tt_expect(bin, out, "a:5 that is also a directory", x, 2,
                          "is a directory itself", "a:5:1");
    free(x);
    free(a5);
    /* a mixture resumes from its own sources in their order: positions are
     * per source by index (reordered, each took the other's; a single
     * --data took the count of all sources as its position) */
    x = tt_fmt("--ckpt-dir '%s/ca' --resume --steps 10 --data '%s/b' --data '%s/a:3'", dir, dir,
               dir);
    failures += tt_expect(bin, out, "mixture resumed reordered", x, 1, "same order", "/b");
    free(x);
    x = tt_fmt("--ckpt-dir '%s/ca' --resume --steps 10 --data '%s/a'", dir, dir);
    failures += tt_expect(bin, out, "mixture resumed as one --data", x, 1, "same order", NULL);
    free(x);

    tt_rmtree(dir);
    free(dir); free(out); free(flags); free(ma); free(mb); free(ca); free(cb);
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
