/* ingot-dump stats: documents, tokens, the document-length distribution,
 * the most frequent tokens with their pieces, the share of UNK. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_dump.h"
#include "ingot_err.h"

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

/* Nearest-rank percentile of sorted v[0, n). */
static uint64_t pct(const uint64_t *v, uint64_t n, unsigned p)
{
    uint64_t k = (n * p + 99) / 100;
    return v[k ? k - 1 : 0];
}

int dump_stats(const struct dump_opts *o)
{
    struct dump_src s;
    ingot_spm *spm = NULL;
    uint64_t *lens = NULL, *counts = NULL;
    struct top *top = NULL;
    int ret = dump_src_open(o->path, false, &s);
    if (!ret)
        ret = dump_src_select(&s, o->split);
    if (ret)
        goto out;
    uint32_t vocab = s.n_sel ? shard_reader_header(s.sel[0])->vocab_size : 1;
    if (vocab > (1u << 26)) {
        ret = ingot_fail(INGOT_E_USAGE, "%s: vocab_size %u is too large for token statistics",
                         o->path, vocab);
        goto out;
    }
    lens = malloc((s.sel_docs ? s.sel_docs : 1) * sizeof(*lens));
    counts = calloc(vocab, sizeof(*counts));
    if (!lens || !counts) {
        ret = ingot_oom(!lens ? "document lengths" : "token counts",
                        !lens ? s.sel_docs * sizeof(*lens) : (size_t)vocab * sizeof(*counts));
        goto out;
    }
    uint64_t nd = 0;
    for (size_t k = 0; k < s.n_sel; k++) {
        const shard_reader *r = s.sel[k];
        const uint64_t *ix = shard_reader_doc_index(r);
        for (uint64_t d = 0; d < shard_reader_n_docs(r); d++)
            lens[nd++] = ix[d + 1] - ix[d];
        uint64_t nt = shard_reader_n_tokens(r);
        for (uint64_t i = 0; i < nt; i++) {
            uint32_t id = shard_reader_token(r, i);
            if (id < vocab)   /* verify reports ids out of range; stats just skips them */
                counts[id]++;
        }
    }
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
        qsort(lens, nd, sizeof(*lens), cmp_u64);
        printf("document length  mean %.1f, min %llu, p10 %llu, p50 %llu, p90 %llu, p99 %llu, "
               "max %llu tokens\n",
               (double)s.sel_tokens / (double)nd, (ull)lens[0], (ull)pct(lens, nd, 10),
               (ull)pct(lens, nd, 50), (ull)pct(lens, nd, 90), (ull)pct(lens, nd, 99),
               (ull)lens[nd - 1]);
        printf("length histogram (tokens: documents)\n");
        uint64_t lo = 0, i = 0;
        for (uint64_t hi = 1; i < nd; hi *= 2) {
            uint64_t c = 0;
            while (i < nd && lens[i] < hi) {
                c++;
                i++;
            }
            if (c)
                printf("  [%llu, %llu)  %llu  %.2f%%\n", (ull)lo, (ull)hi, (ull)c,
                       100.0 * (double)c / (double)nd);
            lo = hi;
        }
    }
    double tot = s.sel_tokens ? (double)s.sel_tokens : 1.0;
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
        printf("  %u  %llu  %.3f%%  %s\n", top[i].id, (ull)top[i].count,
               100.0 * (double)top[i].count / tot, piece ? piece : "-");
    }
out:
    free(top);
    free(counts);
    free(lens);
    ingot_spm_free(spm);
    dump_src_close(&s);
    return ret;
}
