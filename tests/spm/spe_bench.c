/* Speed of Ingot's encoder against libsentencepiece, one thread, on the
 * same documents in memory (one per line of DOCS):
 *   spe_bench MODEL DOCS [RUNS]
 * Times libsentencepiece's Encode (through spm_shim), Ingot's encoder with
 * its cache and without, and the stages of a timed run (normalization,
 * model); checks every id against the oracle on the way. Best of RUNS
 * (default 3). scripts/bench-encoder.sh runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "mono_clock.h"
#include "spm_encode.h"
#include "spm_shim.h"
#include "test_check.h"

struct doc {
    const char *p;
    size_t n;
};

static uint32_t *ids;
static size_t cap;

static double run_oracle(const ingot_spm *o, const struct doc *d, size_t nd, size_t *tokens)
{
    double t0 = mono_now();
    size_t n, total = 0;
    for (size_t i = 0; i < nd; i++) {
        CHECK_OK(ingot_spm_encode(o, d[i].p, d[i].n, &ids, &cap, &n));
        total += n;
    }
    *tokens = total;
    return mono_now() - t0;
}

static double run_ingot(const spe_model *m, bool cache, bool timing, const struct doc *d,
                        size_t nd, struct spe_stats *st)
{
    spe_scratch *s;
    CHECK_OK(spe_scratch_new(cache, &s));
    spe_scratch_time(s, timing);
    double t0 = mono_now();
    size_t n;
    for (size_t i = 0; i < nd; i++)
        CHECK_OK(spe_encode(m, s, d[i].p, d[i].n, &ids, &cap, &n));
    double t = mono_now() - t0;
    spe_scratch_stats(s, st);
    spe_scratch_free(s);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: spe_bench MODEL DOCS [RUNS]\n");
        return 2;
    }
    int runs = argc > 3 ? atoi(argv[3]) : 3;
    ingot_spm *o;
    spe_model *m;
    CHECK_OK(ingot_spm_load(argv[1], &o));
    CHECK_OK(spe_load(argv[1], &m));
    char *buf;
    size_t len;
    CHECK_OK(fs_read_all(argv[2], &buf, &len));
    size_t nd = 0, bytes = 0;
    struct doc *d = malloc(sizeof(*d) * (len / 2 + 2));
    CHECK(d);
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(buf + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - buf) : len;
        d[nd++] = (struct doc){ buf + p, e - p };
        bytes += e - p;
        p = e + 1;
    }
    if (getenv("SPE_BENCH_PROFILE")) {   /* only Ingot's cached path, for perf */
        struct spe_stats st;
        for (int r = 0; r < runs; r++)
            run_ingot(m, true, false, d, nd, &st);
        return 0;
    }
    /* Exactness on the way: every document's ids. */
    spe_scratch *s;
    CHECK_OK(spe_scratch_new(true, &s));
    spe_scratch_verify(s, true);
    uint32_t *ref = NULL;
    size_t rcap = 0, mism = 0, tokens = 0;
    for (size_t i = 0; i < nd; i++) {
        size_t na, nb;
        CHECK_OK(ingot_spm_encode(o, d[i].p, d[i].n, &ref, &rcap, &na));
        CHECK_OK(spe_encode(m, s, d[i].p, d[i].n, &ids, &cap, &nb));
        mism += na != nb || memcmp(ref, ids, na * sizeof(*ids)) != 0;
    }
    struct spe_stats st_v;
    spe_scratch_stats(s, &st_v);
    spe_scratch_free(s);
    double best_o = 1e9, best_c = 1e9, best_n = 1e9;
    struct spe_stats st_c, st_t;
    for (int r = 0; r < runs; r++) {
        double t = run_oracle(o, d, nd, &tokens);
        best_o = t < best_o ? t : best_o;
        t = run_ingot(m, true, false, d, nd, &st_c);
        best_c = t < best_c ? t : best_c;
        t = run_ingot(m, false, false, d, nd, &st_t);
        best_n = t < best_n ? t : best_n;
    }
    run_ingot(m, true, true, d, nd, &st_t);
    double mb = (double)bytes / 1e6;
    printf("%s (%s, %u pieces, cut %s): %zu docs, %.2f MB, %zu tokens, %zu docs differ\n",
           argv[1], spe_model_kind(m), spe_vocab_size(m), spe_cut_name(m), nd, mb, tokens, mism);
    printf("  libsentencepiece Encode   %7.2f MB/s\n", mb / best_o);
    printf("  ingot, cache on           %7.2f MB/s  %.2fx  (cache hits %.1f%% of %llu words, "
           "%llu resets)\n",
           mb / best_c, best_o / best_c, 100.0 * (double)st_c.cache_hits / (double)st_c.words,
           (unsigned long long)st_c.words, (unsigned long long)st_c.cache_resets);
    if (st_c.path_hits + st_c.replays)
        printf("  unigram hits: %.1f%% the cached path (stage 2), %.1f%% a Viterbi replay; "
               "bound checked %llu times against the Viterbi, %llu disagreed\n",
               100.0 * (double)st_c.path_hits / (double)st_c.cache_hits,
               100.0 * (double)st_c.replays / (double)st_c.cache_hits,
               (unsigned long long)st_v.bound_checks, (unsigned long long)st_v.bound_fails);
    printf("  ingot, cache off          %7.2f MB/s  %.2fx\n", mb / best_n, best_o / best_n);
    printf("  stages (cache on): normalize %.0f%% (%.1f MB/s), words+model+emit %.0f%% "
           "(%.1f MB/s)\n",
           100 * st_t.sec_norm / (st_t.sec_norm + st_t.sec_model), mb / st_t.sec_norm,
           100 * st_t.sec_model / (st_t.sec_norm + st_t.sec_model), mb / st_t.sec_model);
    free(ref);
    free(ids);
    free(d);
    free(buf);
    spe_free(m);
    ingot_spm_free(o);
    return mism || st_v.bound_fails ? 1 : 0;
}
