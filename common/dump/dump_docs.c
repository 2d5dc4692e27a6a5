/* ingot-dump docs and tokens: documents back to text or ids, tokens with
 * their pieces. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_num.h"
#include "fsutil.h"
#include "ingot_dump.h"
#include "ingot_err.h"
#include "term_text.h"

typedef unsigned long long ull;

/* One document's ids without a leading BOS and a trailing EOS. */
static void strip_specials(const uint32_t *ids, size_t *start, size_t *n, int32_t bos, int32_t eos)
{
    if (*n && bos >= 0 && ids[*start] == (uint32_t)bos) {
        (*start)++;
        (*n)--;
    }
    if (*n && eos >= 0 && ids[*start + *n - 1] == (uint32_t)eos)
        (*n)--;
}

/* ids[0..n) as text on stdout: each run of ids below limit decoded, an id
 * at or past it (out of the shards' vocabulary, or the model's) shown as
 * DUMP_OUT_OF_VOCAB between them. */
static int print_text(const ingot_spm *spm, const uint32_t *ids, size_t n, uint32_t limit)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ids[j] < limit)
            j++;
        if (j > i) {
            char *text;
            size_t len;
            int ret = ingot_spm_decode(spm, ids + i, j - i, &text, &len);
            if (ret)
                return ret;
            fwrite(text, 1, len, stdout);
            free(text);
        }
        if (j < n) {
            fputs(DUMP_OUT_OF_VOCAB, stdout);
            j++;
        }
        i = j;
    }
    return 0;
}

int dump_docs(const struct dump_opts *o)
{
    struct dump_src s;
    ingot_spm *spm = NULL;
    uint32_t *buf = NULL;
    size_t cap = 0;
    int ret = dump_src_open(o->path, false, &s);
    if (!ret)
        ret = dump_src_select(&s, o->split);
    if (!ret && !o->ids)
        ret = dump_src_model(&s, o->model, &spm);
    if (ret)
        goto out;
    int32_t bos, eos, unk;
    dump_src_specials(&s, &bos, &eos, &unk);
    if (o->first > s.sel_docs) {
        ret = ingot_fail(INGOT_E_USAGE, "--first %llu: the selection has %llu documents",
                         (ull)o->first, (ull)s.sel_docs);
        goto out;
    }
    uint64_t g = 0, printed = 0;   /* g: document number within the selection */
    /* ids past the vocabulary in the documents printed: shown (text: as
     * DUMP_OUT_OF_VOCAB), then exit 1 as tokens and stats do (it exited 0) */
    uint64_t tbase = 0, bad = 0, bad_pos = 0;   /* tbase: the shard's first token position */
    uint32_t bad_id = 0, bad_vocab = 0;
    const char *bad_shard = NULL;
    for (size_t k = 0; k < s.n_sel && printed < o->count; k++) {
        const shard_reader *r = s.sel[k];
        uint64_t nd = shard_reader_n_docs(r);
        if (g + nd <= o->first) {
            g += nd;
            tbase += shard_reader_n_tokens(r);
            continue;
        }
        uint32_t vocab = shard_reader_header(r)->vocab_size;
        if (spm && ingot_spm_vocab_size(spm) < vocab)
            vocab = ingot_spm_vocab_size(spm);   /* what the model cannot decode */
        const uint64_t *ix = shard_reader_doc_index(r);
        for (uint64_t d = o->first > g ? o->first - g : 0; d < nd && printed < o->count; d++) {
            size_t n = (size_t)(ix[d + 1] - ix[d]);
            if (n > cap) {
                uint32_t *nb = realloc(buf, n * sizeof(*nb));
                if (!nb) {
                    ret = ingot_oom("document token buffer", n * sizeof(*nb));
                    goto out;
                }
                buf = nb;
                cap = n;
            }
            shard_reader_copy_u32(r, ix[d], n, buf);
            /* the header counts the document as stored, BOS/EOS included, as
             * stats and info do (it gave the decoded count, one short) */
            const size_t stored = n;
            for (size_t i = 0; i < n; i++)
                if (buf[i] >= vocab && !bad++) {
                    bad_id = buf[i];
                    bad_vocab = vocab;
                    bad_pos = tbase + ix[d] + i;
                    bad_shard = shard_reader_shown(r);
                }
            size_t start = 0;
            strip_specials(buf, &start, &n, bos, eos);
            if (o->ids) {
                for (size_t i = 0; i < n && !ferror(stdout); i++)
                    printf(i ? " %u" : "%u", buf[start + i]);
                putchar('\n');
            } else {
                if (!o->raw) {
                    const struct ingot_doc_prov *p = shard_reader_doc_prov(r, d);
                    char nb[4096];   /* the input name, its control bytes as ? */
                    printf("### document %llu: %s #%llu, %s record %llu, %zu tokens\n",
                           (ull)(g + d), fs_basename(shard_reader_shown(r)), (ull)d,
                           dump_src_input_name(&s, p->file_index, nb, sizeof(nb)),
                           (ull)p->record, stored);
                }
                if ((ret = print_text(spm, buf + start, n, vocab)))
                    goto out;
                putchar('\n');
            }
            if ((ret = dump_stdout_failed()))
                goto out;
            printed++;
        }
        g += nd;
        tbase += shard_reader_n_tokens(r);
    }
    if (bad)
        ret = dump_out_of_vocab(bad, bad_vocab, bad_id, bad_pos, bad_shard);
out:
    free(buf);
    ingot_spm_free(spm);
    dump_src_close(&s);
    return ret;
}

/* One end of --range: empty keeps *v; else an integer (k/M/G suffixes as
 * everywhere, cli_num.h) in [0, total]. */
static int parse_end(const char *r, const char *s, size_t n, uint64_t total, uint64_t *v)
{
    if (!n)
        return 0;
    char buf[64], tr[1024];
    if (n >= sizeof(buf))
        return ingot_fail(INGOT_E_USAGE, "--range %s: expected A:B",
                          term_text(r, tr, sizeof(tr)));
    memcpy(buf, s, n);
    buf[n] = '\0';
    int64_t x;
    int ret = cli_parse_i64("--range", buf, 0, total > INT64_MAX ? INT64_MAX : (int64_t)total, &x);
    if (ret)
        return ret;
    *v = (uint64_t)x;
    return 0;
}

/* "A:B", "A:" or ":B" over [0, total); B exclusive. */
static int parse_range(const char *r, uint64_t total, uint64_t *a, uint64_t *b)
{
    if (!r)
        return ingot_fail(INGOT_E_USAGE, "--range A:B is required (token positions, B "
                          "exclusive)");
    const char *colon = strchr(r, ':');
    char tr[1024];   /* as typed, through term_text() */
    if (!colon)
        return ingot_fail(INGOT_E_USAGE, "--range %s: expected A:B",
                          term_text(r, tr, sizeof(tr)));
    *a = 0;
    *b = total;
    int ret;
    if ((ret = parse_end(r, r, (size_t)(colon - r), total, a)) ||
        (ret = parse_end(r, colon + 1, strlen(colon + 1), total, b)))
        return ret;
    if (*a > *b)
        return ingot_fail(INGOT_E_USAGE, "--range %s: must satisfy A <= B <= %llu (tokens in the "
                          "selection)", term_text(r, tr, sizeof(tr)), (ull)total);
    return 0;
}

int dump_tokens(const struct dump_opts *o)
{
    struct dump_src s;
    ingot_spm *spm = NULL;
    int ret = dump_src_open(o->path, false, &s);
    if (!ret)
        ret = dump_src_select(&s, o->split);
    if (ret)
        goto out;
    uint64_t a = 0, b = 0;
    if ((ret = parse_range(o->range, s.sel_tokens, &a, &b)))
        goto out;
    /* Pieces are a convenience: without a model the ids still print. */
    int mr = dump_src_model(&s, o->model, &spm);
    if (mr) {
        if (o->model || (mr != -ENOENT && mr != INGOT_E_USAGE)) {
            ret = mr;   /* a wrong model is refused, not ignored */
            goto out;
        }
        fprintf(stderr, "ingot-dump: note: no pieces shown: %s\n", ingot_errmsg());
        ingot_clear_err();
        spm = NULL;
    }
    printf("# position id piece document shard\n");
    uint64_t base = 0, gdoc = 0, bad = 0, bad_pos = 0;
    uint32_t bad_id = 0, vocab = 0;
    const char *bad_shard = NULL;
    for (size_t k = 0; k < s.n_sel && base < b; k++) {
        const shard_reader *r = s.sel[k];
        uint64_t nt = shard_reader_n_tokens(r);
        vocab = shard_reader_header(r)->vocab_size;
        if (base + nt > a) {
            uint64_t lo = a > base ? a - base : 0, hi = b - base < nt ? b - base : nt;
            for (uint64_t i = lo; i < hi; i++) {
                uint32_t id = shard_reader_token(r, i);
                const char *piece = spm ? ingot_spm_id_to_piece(spm, id) : NULL;
                /* a piece is the model's bytes: an ESC in one is not shown,
                 * and a ZWJ or a BOM piece is named, not a bare '?'. An id
                 * past the vocabulary is named too: "-" (no model) read as
                 * the piece "-" */
                char tp[1024];
                if (id >= vocab && !bad++) {
                    bad_id = id;
                    bad_pos = base + i;
                    bad_shard = shard_reader_shown(r);
                }
                printf("%llu %u %s %llu %s\n", (ull)(base + i), id,
                       id >= vocab ? DUMP_OUT_OF_VOCAB :
                       piece ? term_text_esc(piece, tp, sizeof(tp)) : "-",
                       (ull)(gdoc + shard_reader_doc_of_token(r, i)),
                       fs_basename(shard_reader_shown(r)));
                if ((ret = dump_stdout_failed()))
                    goto out;
            }
        }
        base += nt;
        gdoc += shard_reader_n_docs(r);
    }
    if (bad)
        ret = dump_out_of_vocab(bad, vocab, bad_id, bad_pos, bad_shard);
out:
    ingot_spm_free(spm);
    dump_src_close(&s);
    return ret;
}
