/* ingot-dump stats: documents, tokens, the document-length distribution,
 * the most frequent tokens with their pieces, the share of UNK. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_dump.h"
#include "ingot_err.h"
#include "mono_clock.h"
#include "term_text.h"

typedef unsigned long long ull;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct top {
    uint32_t id;
    uint64_t count;
};

static int cmp_top(const void *a, const void *b)
{
    const struct top *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Document lengths as counts, not one entry per document (8 bytes each:
 * 4.7 GB for SlimPajama's 590M documents): a count per length below
 * SHORT_LEN, and the rare longer ones kept and sorted. Order statistics
 * from it are exact. */
enum { SHORT_LEN = 1 << 16 };

struct lengths {
    uint64_t *short_n;          /* [SHORT_LEN] documents of each length */
    uint64_t *long_v, n_long, cap_long;
    uint64_t n;                 /* documents */
};

static int lengths_add(struct lengths *L, uint64_t len)
{
    L->n++;
    if (len < SHORT_LEN) {
        L->short_n[len]++;
        return 0;
    }
    if (L->n_long == L->cap_long) {
        uint64_t cap = L->cap_long ? 2 * L->cap_long : 1024;
        uint64_t *v = realloc(L->long_v, cap * sizeof(*v));
        if (!v)
            return ingot_oom("long document lengths", cap * sizeof(*v));
        L->long_v = v;
        L->cap_long = cap;
    }
    L->long_v[L->n_long++] = len;
    return 0;
}

/* The length of rank k (0-based) in the sorted order; long_v sorted. */
static uint64_t lengths_at(const struct lengths *L, uint64_t k)
{
    for (uint64_t len = 0; len < SHORT_LEN; len++) {
        if (k < L->short_n[len])
            return len;
        k -= L->short_n[len];
    }
    return L->long_v[k];
}

/* Nearest-rank percentile. */
static uint64_t pct(const struct lengths *L, unsigned p)
{
    uint64_t k = (L->n * p + 99) / 100;
    return lengths_at(L, k ? k - 1 : 0);
}

/* Documents of length in [lo, hi). */
static uint64_t lengths_between(const struct lengths *L, uint64_t lo, uint64_t hi)
{
    uint64_t c = 0;
    for (uint64_t len = lo; len < hi && len < SHORT_LEN; len++)
        c += L->short_n[len];
    for (uint64_t i = 0; i < L->n_long; i++)
        c += L->long_v[i] >= lo && L->long_v[i] < hi;
    return c;
}

/* Seconds between stats' progress lines: 10, or in a test build
 * (-Dtest_hooks=true) INGOT_DUMP_TEST_PROGRESS_MS milliseconds, so that a
 * test sees them on a tiny dataset (0: after every shard). */
static double progress_every(void)
{
#ifdef INGOT_TEST_HOOKS
    const char *e = getenv("INGOT_DUMP_TEST_PROGRESS_MS");
    if (e && *e)
        return (double)atol(e) / 1000.0;
#endif
    return 10.0;
}

int dump_stats(const struct dump_opts *o)
{
    struct dump_src s;
    ingot_spm *spm = NULL;
    struct lengths L = { 0 };
    uint64_t *counts = NULL;
    struct top *top = NULL;
    int ret = dump_src_open(o->path, false, &s);
    if (!ret)
        ret = dump_src_select(&s, o->split);
    /* no shard or no token: no figure to give (it printed "unk share
     * 0.0000%" and "distinct ids 0 of 1", exit 0), as export-bin refuses */
    if (!ret)
        ret = dump_src_need_tokens(&s, o->split, "to count");
    if (ret)
        goto out;
    uint32_t vocab = shard_reader_header(s.sel[0])->vocab_size;
    if (vocab > (1u << 26)) {
        ret = ingot_fail(INGOT_E_USAGE, "%s: vocab_size %u is too large for token statistics",
                         o->path_shown, vocab);
        goto out;
    }
    L.short_n = calloc(SHORT_LEN, sizeof(*L.short_n));
    counts = calloc(vocab, sizeof(*counts));
    if (!L.short_n || !counts) {
        ret = ingot_oom(!L.short_n ? "document lengths" : "token counts",
                        !L.short_n ? SHORT_LEN * sizeof(*L.short_n) :
                                     (size_t)vocab * sizeof(*counts));
        goto out;
    }
    /* every token is read: on a large dataset that takes minutes, so say
     * where it is every 10 s (it was silent), unless --quiet */
    const double t0 = mono_now(), every = progress_every();
    double next_note = t0 + every;
    uint64_t seen = 0, bad = 0, bad_pos = 0;
    uint32_t bad_id = 0;
    const char *bad_shard = NULL;
    for (size_t k = 0; k < s.n_sel && !ret; k++) {
        const shard_reader *r = s.sel[k];
        const uint64_t *ix = shard_reader_doc_index(r);
        for (uint64_t d = 0; d < shard_reader_n_docs(r) && !ret; d++)
            ret = lengths_add(&L, ix[d + 1] - ix[d]);
        uint64_t nt = shard_reader_n_tokens(r);
        for (uint64_t i = 0; i < nt; i++) {
            uint32_t id = shard_reader_token(r, i);
            if (id < vocab) {
                counts[id]++;
            } else if (!bad++) {   /* counted, reported after the statistics */
                bad_id = id;
                bad_pos = seen + i;
                bad_shard = shard_reader_shown(r);
            }
        }
        seen += nt;
        if (!o->quiet && mono_now() >= next_note && k + 1 < s.n_sel) {
            fprintf(stderr, "ingot-dump stats: %zu of %zu shards, %llu of %llu tokens (%.0f%%), "
                    "%.0f s\n", k + 1, s.n_sel, (ull)seen, (ull)s.sel_tokens,
                    s.sel_tokens ? 100.0 * (double)seen / (double)s.sel_tokens : 100.0,
                    mono_now() - t0);
            next_note = mono_now() + every;
        }
    }
    if (ret)
        goto out;
    if (L.n_long)
        qsort(L.long_v, L.n_long, sizeof(*L.long_v), cmp_u64);
    const uint64_t nd = L.n;
    int mr = dump_src_model(&s, o->model, &spm);
    if (mr) {
        if (o->model || (mr != -ENOENT && mr != INGOT_E_USAGE)) {
            ret = mr;
            goto out;
        }
        fprintf(stderr, "ingot-dump: note: no pieces shown: %s\n", ingot_errmsg());
        ingot_clear_err();
    }
    int32_t bos, eos, unk;
    dump_src_specials(&s, &bos, &eos, &unk);
    const char *split = o->split ? o->split : s.ds ? "train" : "shard";
    printf("selection        %s: %zu shard%s\n", split, s.n_sel, s.n_sel == 1 ? "" : "s");
    printf("documents        %llu\n", (ull)s.sel_docs);
    printf("tokens           %llu\n", (ull)s.sel_tokens);
    if (nd) {
        printf("document length  mean %.1f, min %llu, p10 %llu, p50 %llu, p90 %llu, p99 %llu, "
               "max %llu tokens\n",
               (double)s.sel_tokens / (double)nd, (ull)lengths_at(&L, 0), (ull)pct(&L, 10),
               (ull)pct(&L, 50), (ull)pct(&L, 90), (ull)pct(&L, 99),
               (ull)lengths_at(&L, nd - 1));
        printf("length histogram (tokens: documents)\n");
        uint64_t lo = 0, done = 0;
        for (uint64_t hi = 1; done < nd; hi *= 2) {
            uint64_t c = lengths_between(&L, lo, hi);
            done += c;
            if (c)
                printf("  [%llu, %llu)  %llu  %.2f%%\n", (ull)lo, (ull)hi, (ull)c,
                       100.0 * (double)c / (double)nd);
            lo = hi;
        }
    }
    const double tot = (double)s.sel_tokens;   /* not 0: dump_src_need_tokens() */
    if (unk >= 0 && (uint32_t)unk < vocab)
        printf("unk share        %.4f%% (%llu tokens of id %d)\n", 100.0 * (double)counts[unk] / tot,
               (ull)counts[unk], unk);
    else
        printf("unk share        - (no unk id)\n");
    if (bos >= 0 && (uint32_t)bos < vocab)
        printf("bos tokens       %llu\n", (ull)counts[bos]);
    if (eos >= 0 && (uint32_t)eos < vocab)
        printf("eos tokens       %llu\n", (ull)counts[eos]);
    uint64_t distinct = 0;
    for (uint32_t id = 0; id < vocab; id++)
        distinct += counts[id] != 0;
    printf("distinct ids     %llu of %u\n", (ull)distinct, vocab);
    top = malloc((distinct ? distinct : 1) * sizeof(*top));
    if (!top) {
        ret = ingot_oom("top-token table", distinct * sizeof(*top));
        goto out;
    }
    size_t nt = 0;
    for (uint32_t id = 0; id < vocab; id++)
        if (counts[id])
            top[nt++] = (struct top){ id, counts[id] };
    qsort(top, nt, sizeof(*top), cmp_top);
    size_t show = o->top < nt ? (size_t)o->top : nt;
    printf("top %zu tokens (id count share piece)\n", show);
    for (size_t i = 0; i < show; i++) {
        const char *piece = spm ? ingot_spm_id_to_piece(spm, top[i].id) : NULL;
        /* a piece is the model's bytes: an ESC in one is not shown, and
         * an invisible piece is named (term_text_esc), as in tokens */
        char tp[1024];
        printf("  %u  %llu  %.3f%%  %s\n", top[i].id, (ull)top[i].count,
               100.0 * (double)top[i].count / tot,
               piece ? term_text_esc(piece, tp, sizeof(tp)) : "-");
    }
    if (bad) {   /* left out of every figure above but the token count */
        printf("out-of-vocab ids %llu (%s)\n", (ull)bad, DUMP_OUT_OF_VOCAB);
        ret = dump_out_of_vocab(bad, vocab, bad_id, bad_pos, bad_shard);
    }
out:
    free(top);
    free(counts);
    free(L.short_n);
    free(L.long_v);
    ingot_spm_free(spm);
    dump_src_close(&s);
    return ret;
}
