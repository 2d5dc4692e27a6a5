/* Unigram Viterbi, a port of libsentencepiece 0.1.97's
 * unigram::Model::EncodeOptimized with its exact arithmetic
 * (fast-encoder.md §3): a candidate is the piece's score as a double plus
 * the float best score at its start; it replaces the stored float only when
 * strictly greater (a tie keeps the earlier start); the unknown-character
 * candidate is summed and compared in float. Build with
 * -ffp-contract=off and without -ffast-math (meson does).
 *
 * The original interleaves the trie walk and the update; here the walk
 * lists the edges first, in the same order (by start, then length), and
 * the update runs over the list. The result is the same: an update reads
 * only best[start], which edges of later starts never write. */
#include <errno.h>
#include <string.h>

#include "spm_enc.h"

static inline int push_edge(struct spe_scratch *s, uint32_t start, uint32_t end, int32_t id)
{
    if (s->n_edges == s->edges_cap) {
        int ret = spe_grow(&s->edges, &s->edges_cap, s->n_edges + 1, sizeof(*s->edges),
                           "the unigram lattice");
        if (ret)
            return ret;
    }
    s->edges[s->n_edges++] = (struct spe_edge){ start, end, id };
    return 0;
}

int spe_unigram_lattice(const struct spe_model *m, struct spe_scratch *s, const char *t_,
                        uint32_t n)
{
    const unsigned char *t = (const unsigned char *)t_;
    const struct spe_trie *tr = &m->vocab;
    int ret;
    s->n_edges = 0;
    for (uint32_t start = 0; start < n;) {
        uint32_t mblen = spe_char_len(t[start]);
        if (mblen > n - start)
            mblen = n - start;
        bool has_single = false;
        uint32_t node = 0;
        for (uint32_t k = start; k < n; k++) {
            node = spe_trie_next(tr, node, t[k]);
            if (!node)
                break;
            int32_t id = tr->value[node];
            if (id < 0)
                continue;   /* no piece ends here, or an UNUSED one */
            if ((ret = push_edge(s, start, k + 1, id)))
                return ret;
            has_single |= k + 1 - start == mblen;
        }
        if (!has_single && (ret = push_edge(s, start, start + mblen, SPE_EDGE_UNK)))
            return ret;
        start += mblen;
    }
    return 0;
}

int spe_unigram_viterbi(const struct spe_model *m, struct spe_scratch *s,
                        const struct spe_edge *e, size_t n_edges, uint32_t off, uint32_t n,
                        float *c)
{
    if (n + 1 > s->best_cap) {
        int ret = spe_grow(&s->best, &s->best_cap, n + 1, sizeof(*s->best), "the Viterbi table");
        if (ret)
            return ret;
    }
    struct spe_ugnode *best = s->best;
    for (uint32_t i = 0; i <= n; i++)
        best[i] = (struct spe_ugnode){ 0.0f, -1, -1 };
    /* The path score carried from the words before (0 at a document's
     * start): every path of the document passes through this position. */
    best[0].score = *c;
    for (size_t i = 0; i < n_edges; i++) {
        const float here = best[e[i].start].score;
        struct spe_ugnode *tg = &best[e[i].end];
        if (e[i].id >= 0) {
            const double cand = m->uscore[e[i].id] + (double)here;
            if (tg->start == -1 || cand > (double)tg->score) {
                tg->score = (float)cand;
                tg->start = (int32_t)e[i].start;
                tg->id = e[i].id;
            }
        } else {
            const float cand = m->unk_score + here;
            if (tg->start == -1 || cand > tg->score) {
                tg->score = cand;
                tg->start = (int32_t)e[i].start;
                tg->id = m->unk_id;
            }
        }
    }
    *c = best[n].score;
    /* Backtrack, then reverse the word's pieces in place. */
    size_t first = s->n_toks;
    for (uint32_t end = n; end > 0;) {
        const struct spe_ugnode *nd = &best[end];
        if (nd->start < 0)
            break;   /* unreachable: every character start is reached */
        int ret = spe_push_tok(s, nd->id, off + (uint32_t)nd->start, end - (uint32_t)nd->start);
        if (ret)
            return ret;
        end = (uint32_t)nd->start;
    }
    for (size_t i = first, j = s->n_toks - 1; i < j; i++, j--) {
        struct spe_tok x = s->toks[i];
        s->toks[i] = s->toks[j];
        s->toks[j] = x;
    }
    return 0;
}
