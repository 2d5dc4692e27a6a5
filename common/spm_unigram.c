/* Unigram Viterbi, a port of libsentencepiece 0.1.97's
 * unigram::Model::EncodeOptimized with its exact arithmetic
 * (fast-encoder.md §3): a candidate is the piece's score as a double plus
 * the float best score at its start; it replaces the stored float only when
 * strictly greater (a tie keeps the earlier start); the unknown-character
 * candidate is summed and compared in float. Build with
 * -ffp-contract=off and without -ffast-math (meson does).
 *
 * Two ways through one walk (ug_walk), both giving the original's order of
 * updates: each best[end] is offered its candidates by start, and within a
 * start by length, and an update reads only best[start], which no edge of
 * that or a later start writes.
 * - Words of at most UG_LATTICE_MAX bytes (nearly all): the walk lists
 *   the edges (the lattice), which stage 2 (spe_unigram_bound) needs for
 *   cached words; the Viterbi then runs over the list.
 * - Longer words: no lattice. The Viterbi walks the trie itself and updates
 *   best[] at each edge, as EncodeOptimized does, so memory is best[] (12
 *   bytes a byte), not an edge per (start, piece length): a 64 MB run of
 *   one character with pieces of 1-16 of it listed ~20 GB of edges. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "spm_cache.h"
#include "spm_enc.h"

/* Longest word with a lattice: at least the cache's longest word (stage 2
 * reads the lattice), and a lattice stays small: at most 512 edges a start
 * (a piece per length), 5 MB. test_spe_oom grows one with 300 bytes. */
#define UG_LATTICE_MAX 512
_Static_assert(UG_LATTICE_MAX >= SPE_CACHE_MAX_WORD, "cached words need their lattice");

/* Is the word of n bytes walked inside the Viterbi (no lattice kept)? */
static inline bool ug_streams(uint32_t n) { return n > UG_LATTICE_MAX; }

static inline int push_edge(struct spe_scratch *s, uint32_t start, uint32_t end, int32_t id,
                            double score)
{
    /* Each array with its own capacity: when one grows and the other's
     * realloc fails, the scratch stays consistent for the next document. */
    int ret;
    if (s->n_edges >= s->edges_cap &&
        (ret = spe_grow(&s->edges, &s->edges_cap, s->n_edges + 1, sizeof(*s->edges),
                        "the unigram lattice")))
        return ret;
    if (s->n_edges >= s->escore_cap &&
        (ret = spe_grow(&s->escore, &s->escore_cap, s->n_edges + 1, sizeof(*s->escore),
                        "the unigram lattice")))
        return ret;
    s->escore[s->n_edges] = score;
    s->edges[s->n_edges++] = (struct spe_edge){ start, end, id };
    return 0;
}

/* EncodeOptimized's update of best[end] by the edge (start, end, id): a
 * piece's double score (the trie record's, = m->uscore[id]) plus the float
 * at start, compared in double; the unknown character (id < 0) in float. */
static inline void ug_relax(const struct spe_model *m, struct spe_ugnode *best, uint32_t start,
                            uint32_t end, int32_t id, double score)
{
    const float here = best[start].score;
    struct spe_ugnode *tg = &best[end];
    if (id >= 0) {
        const double cand = score + (double)here;
        if (tg->start == -1 || cand > (double)tg->score)
            *tg = (struct spe_ugnode){ (float)cand, (int32_t)start, id };
    } else {
        const float cand = m->unk_score + here;
        if (tg->start == -1 || cand > tg->score)
            *tg = (struct spe_ugnode){ cand, (int32_t)start, m->unk_id };
    }
}

/* The edges of t[0, n) in EncodeOptimized's order: by character start,
 * the pieces there by length, then the unknown character where no piece is
 * exactly that character. best NULL: into s->edges; else each relaxes best
 * at once (nothing to fail). Always inlined, so each caller gets its own
 * copy with the branch on best folded away. */
static inline __attribute__((always_inline)) int
ug_walk(const struct spe_model *m, struct spe_scratch *s, const unsigned char *t, uint32_t n,
        struct spe_ugnode *best)
{
    const unsigned char *pack = m->vocab.pack;   /* the walk's layout */
    int ret;
    for (uint32_t start = 0; start < n;) {
        uint32_t mblen = spe_char_len(t[start]);
        if (mblen > n - start)
            mblen = n - start;
        bool has_single = false;
        uint32_t node = m->vocab.pack_root[t[start]];
        for (uint32_t k = start; node;) {
            int32_t id = spe_pack_value(pack, node);
            if (id >= 0) {   /* else no piece ends here, or an UNUSED one */
                if (best)
                    ug_relax(m, best, start, k + 1, id, spe_pack_score(pack, node));
                else if ((ret = push_edge(s, start, k + 1, id, spe_pack_score(pack, node))))
                    return ret;
                has_single |= k + 1 - start == mblen;
            }
            if (++k >= n)
                break;
            node = spe_pack_next(pack, node, t[k]);
        }
        if (!has_single) {
            if (best)
                ug_relax(m, best, start, start + mblen, SPE_EDGE_UNK, 0.0);
            else if ((ret = push_edge(s, start, start + mblen, SPE_EDGE_UNK,
                                      (double)m->unk_score)))
                return ret;
        }
        start += mblen;
    }
    return 0;
}

/* t must be s->norm + off of the spe_unigram_viterbi call that follows (a
 * long word is walked there). */
int spe_unigram_lattice(const struct spe_model *m, struct spe_scratch *s, const char *t,
                        uint32_t n)
{
    s->n_edges = 0;
    return ug_streams(n) ? 0 : ug_walk(m, s, (const unsigned char *)t, n, NULL);
}

int spe_unigram_viterbi(const struct spe_model *m, struct spe_scratch *s, uint32_t off,
                        uint32_t n, float *c)
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
    if (ug_streams(n)) {
        ug_walk(m, s, (const unsigned char *)s->norm + off, n, best);
    } else {
        /* Scores from the lattice's own array, in order (the trie
         * record's double): the table by id is a random read per edge. */
        const struct spe_edge *e = s->edges;
        const double *score = s->escore;
        for (size_t i = 0, n_edges = s->n_edges; i < n_edges; i++)
            ug_relax(m, best, e[i].start, e[i].end, e[i].id, score[i]);
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

/* Stage 2 (see struct spe_ugbound). Exact scores are summed in double; a
 * double sum of at most n + 1 terms, each below a in magnitude, is off by
 * less than (n + 1) * a * 2^-53, so the gap loses (n + 1) * a * 2^-50 (four
 * times both paths' errors). A float step of the Viterbi (a double sum
 * rounded to float, or the unknown candidate's float sum) is off by at most
 * 2^-24 * 1.001 of its magnitude, which is below |C| + a; a path has at
 * most n steps. Two paths within 2 * n * 2^-24 * (|C| + a) of each other
 * might swap, so the gap must exceed that (k carries 2^-23 per step and a
 * 1% margin). */
int spe_unigram_bound(struct spe_scratch *s, uint32_t n, struct spe_ugbound *b)
{
    if (ug_streams(n))   /* no lattice kept; the cache never asks */
        return -EINVAL;
    const struct spe_edge *e = s->edges;
    const double *score = s->escore;
    const size_t n_edges = s->n_edges;
    int ret;
    if (n + 1 > s->ug2_cap &&
        (ret = spe_grow(&s->ug2, &s->ug2_cap, n + 1, sizeof(*s->ug2), "the path bound table")))
        return ret;
    struct spe_ug2 *t = s->ug2;
    for (uint32_t i = 0; i <= n; i++)
        t[i] = (struct spe_ug2){ -INFINITY, -INFINITY, -1 };
    t[0].b1 = 0.0;
    /* a: every path leaves each start position by at most one edge, so
     * the sum over starts of the largest |score| bounds every partial sum. */
    double a = 0.0, start_max = 0.0;
    uint32_t cur = UINT32_MAX;
    for (size_t i = 0; i < n_edges; i++) {
        const double sc = score[i];
        if (e[i].start != cur) {
            a += start_max;
            start_max = 0.0;
            cur = e[i].start;
        }
        const double mag = sc < 0 ? -sc : sc;
        start_max = mag > start_max ? mag : start_max;
        const struct spe_ug2 *from = &t[e[i].start];
        struct spe_ug2 *to = &t[e[i].end];
        const double c1 = from->b1 + sc, c2 = from->b2 + sc;
        if (c1 > to->b1) {
            to->b2 = to->b1;
            to->b1 = c1;
            to->back = (int32_t)i;
        } else if (c1 > to->b2) {
            to->b2 = c1;   /* c1 == b1 too: a tie, gap 0 */
        }
        if (c2 > to->b2)
            to->b2 = c2;
    }
    a += start_max;
    const double gap = t[n].b1 - t[n].b2;   /* +inf when b2 is -inf */
    b->gap = gap - (double)(n + 1) * a * 0x1p-50;
    b->a = a;
    b->k = (double)(n + 1) * 0x1p-23 * 1.01;
    /* The best path, backwards, then reversed. */
    s->n_path = 0;
    for (uint32_t end = n; end > 0;) {
        int32_t k = t[end].back;
        if (k < 0)
            break;   /* unreachable: every character start is reached */
        if (s->n_path == s->path_cap &&
            (ret = spe_grow(&s->path, &s->path_cap, s->n_path + 1, sizeof(*s->path),
                            "the best path")))
            return ret;
        s->path[s->n_path++] = e[k];
        end = e[k].start;
    }
    for (size_t i = 0, j = s->n_path ? s->n_path - 1 : 0; i < j; i++, j--) {
        struct spe_edge x = s->path[i];
        s->path[i] = s->path[j];
        s->path[j] = x;
    }
    return 0;
}
