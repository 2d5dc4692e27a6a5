/* tokenizer.json of the Hugging Face export: the SentencePiece model
 * written as a `tokenizers` pipeline, so that AutoTokenizer (transformers
 * 5: TokenizersBackend) encodes and decodes as SentencePiece does.
 *
 * Why not the plain SentencePiece class (BertGenerationTokenizer, as
 * before)? transformers 5's SentencePieceBackend decodes by joining the
 * pieces, turning U+2581 into spaces and strip()ping the result: leading
 * and trailing whitespace (newlines too) is lost and byte-fallback pieces
 * come out as "<0x0A>". No setting changes that; tokenizer.json's decoder
 * is ours to write.
 *
 * The pipeline (docs/export.md, "Tokenizer"):
 * - normalizer: the model's precompiled character map (Precompiled) when
 *   it has one; with remove_extra_whitespaces, runs of spaces squeezed and
 *   a leading/trailing space dropped; the dummy prefix (Prepend U+2581,
 *   never on empty text, as SentencePiece); spaces to U+2581. No
 *   pre-tokenizer: the model sees the whole text, as SentencePiece's does.
 * - model: Unigram with the pieces' scores, or BPE with merges made from
 *   the pieces (every split of a piece into two pieces, ranked by the
 *   merged piece's score: SentencePiece merges the best-scoring pair).
 *   Control, unknown, byte and unused pieces are in `tokenizers`' trie
 *   (SentencePiece keeps them out), so in a Unigram model they score far
 *   below any segmentation of their text into known characters: a literal
 *   "<s>" or "<0x0A>" in text is encoded as SentencePiece encodes it.
 * - decoder: control pieces decode to "" and the unknown piece to " ⁇ "
 *   (SentencePiece's surfaces), byte pieces to their UTF-8 text, then the
 *   pieces are joined, the dummy prefix's U+2581 removed from the start
 *   and U+2581 turned into spaces.
 * - added tokens: the control and unknown pieces, special, so that
 *   transformers knows bos/eos/unk/pad; tokenizer_config.json's
 *   split_special_tokens keeps a literal "<s>" in text from matching. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "term_text.h"
#include "spm_model.h"
#include "tr_export_fmt.h"

#define SPACE_SYM "\xe2\x96\x81"   /* U+2581, SentencePiece's kSpaceSymbol */

/* Set by the builders below when jansson refuses a value (out of memory,
 * or a piece that is not UTF-8): the whole document is then dropped. */
struct tok_build {
    const char *path;       /* the .model file, for messages */
    const struct spe_proto *m;
    int err;
};

static json_t *add(struct tok_build *b, json_t *v)
{
    if (!v && !b->err)
        b->err = ingot_oom("tokenizer.json", 64);
    return v;
}

/* Append v to arr, or record the failure: jansson's append and set return
 * -1 (and free v) when out of memory, or when v is NULL because building it
 * failed; an entry dropped unnoticed would write a wrong tokenizer.json. */
static void push(struct tok_build *b, json_t *arr, json_t *v)
{
    if (json_array_append_new(arr, v) && !b->err)
        b->err = ingot_oom("tokenizer.json", 64);
}

static void put(struct tok_build *b, json_t *obj, const char *key, json_t *v)
{
    if (json_object_set_new(obj, key, v) && !b->err)
        b->err = ingot_oom("tokenizer.json", 64);
}

/* A piece SentencePiece matches in text (unused ones aside). */
static bool mergeable(uint8_t type)
{
    return type == SPE_NORMAL || type == SPE_USER_DEFINED;
}

static json_t *piece_str(struct tok_build *b, uint32_t id)
{
    const struct spe_piece *p = &b->m->pieces[id];
    json_t *s = json_stringn(p->s, p->len);
    if (!s && !b->err)
        b->err = ingot_fail(INGOT_E_TOKENIZER, "%s: piece %u is not valid UTF-8; transformers' "
                            "tokenizer.json cannot hold it (export --format safetensors and use "
                            "SentencePiece to decode)", TERM_SHOW(b->path), id);
    return s;
}

/* Number of UTF-8 characters of p. */
static uint32_t n_chars(const struct spe_piece *p)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->len; i++)
        n += ((unsigned char)p->s[i] & 0xc0) != 0x80;
    return n;
}

static json_t *replace(struct tok_build *b, const char *kind, const char *pattern,
                       const char *content)
{
    return add(b, json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern", kind, pattern,
                            "content", content));
}

/* "\A<piece>\z" with the regex metacharacters escaped (Oniguruma). */
static json_t *whole_piece(struct tok_build *b, uint32_t id, const char *content)
{
    const struct spe_piece *p = &b->m->pieces[id];
    char *re = malloc(2 * (size_t)p->len + 8);
    if (!re) {
        add(b, NULL);
        return NULL;
    }
    size_t k = 0;
    memcpy(re, "\\A", 2);
    k = 2;
    for (uint32_t i = 0; i < p->len; i++) {
        if (strchr(".^$|()[]{}*+?\\#-/", p->s[i]) && p->s[i])
            re[k++] = '\\';
        re[k++] = p->s[i];
    }
    memcpy(re + k, "\\z", 3);
    json_t *j = NULL;
    json_t *pat = json_stringn(re, k + 2);
    if (pat)
        j = json_pack("{s:s, s:{s:o}, s:s}", "type", "Replace", "pattern", "Regex", pat,
                      "content", content);
    free(re);
    if (!pat)
        piece_str(b, id);   /* names the piece when it is not UTF-8 */
    return add(b, j);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *base64(struct tok_build *b, const unsigned char *d, size_t n)
{
    char *s = malloc((n + 2) / 3 * 4 + 1);
    if (!s)
        return add(b, NULL);
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
                     (i + 2 < n ? d[i + 2] : 0);
        s[k++] = b64[v >> 18 & 63];
        s[k++] = b64[v >> 12 & 63];
        s[k++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        s[k++] = i + 2 < n ? b64[v & 63] : '=';
    }
    json_t *j = json_stringn(s, k);
    free(s);
    return add(b, j);
}

static bool has_substr(const struct spe_piece *p, const char *s, size_t n)
{
    for (uint32_t i = 0; i + n <= p->len; i++)
        if (!memcmp(p->s + i, s, n))
            return true;
    return false;
}

/* Without byte fallback: every character of a control, unknown, byte or
 * unused piece that no normal or user-defined piece holds becomes U+E000
 * (or the first private-use character no piece holds). Such a character is
 * unknown to SentencePiece, so its id is the unknown piece's either way,
 * but in `tokenizers` it would let the piece's whole text win over the
 * unknown path ("<s>" in a vocabulary without "<"). With byte fallback the
 * character's bytes are its ids, so this cannot be done (docs/export.md). */
static void hide_unknown_chars(struct tok_build *b, json_t *seq)
{
    const struct spe_proto *m = b->m;
    char priv[4] = "";
    for (uint32_t id = 0; !priv[0] && id < m->n_pieces; id++)
        if (m->pieces[id].type == SPE_CONTROL || m->pieces[id].type == SPE_UNKNOWN)
            for (unsigned cp = 0xe000; !priv[0] && cp < 0xf900; cp++) {
                char u[4] = { (char)(0xe0 | cp >> 12), (char)(0x80 | (cp >> 6 & 0x3f)),
                              (char)(0x80 | (cp & 0x3f)), 0 };
                bool used = false;
                for (uint32_t j = 0; !used && j < m->n_pieces; j++)
                    used = has_substr(&m->pieces[j], u, 3);
                if (!used)
                    memcpy(priv, u, 4);
            }
    if (!priv[0])
        return;
    json_t *done = add(b, json_object());
    for (uint32_t id = 0; done && id < m->n_pieces; id++) {
        const struct spe_piece *p = &m->pieces[id];
        if (mergeable(p->type))
            continue;
        for (uint32_t i = 0; i < p->len;) {
            uint32_t n = 1;
            while (i + n < p->len && ((unsigned char)p->s[i + n] & 0xc0) == 0x80)
                n++;
            char c[8] = "";
            if (n < sizeof(c))
                memcpy(c, p->s + i, n);
            i += n;
            /* a space is never hidden: it is every text's word gap (escaped
             * to U+2581 after this), not a piece's own character */
            bool known = !c[0] || !strcmp(c, " ") || json_object_get(done, c);
            for (uint32_t j = 0; !known && j < m->n_pieces; j++)
                known = mergeable(m->pieces[j].type) && has_substr(&m->pieces[j], c, n);
            if (known)
                continue;
            put(b, done, c, json_true());
            push(b, seq, replace(b, "String", c, priv));
        }
    }
    json_decref(done);
}

static json_t *normalizer(struct tok_build *b)
{
    const struct spe_proto *m = b->m;
    json_t *seq = add(b, json_array());
    if (!seq)
        return NULL;
    if (m->charsmap)
        push(b, seq, add(b, json_pack("{s:s, s:o}", "type", "Precompiled",
                                                    "precompiled_charsmap",
                                                    base64(b, m->charsmap, m->charsmap_len))));
    if (!m->byte_fallback)
        hide_unknown_chars(b, seq);
    if (m->remove_extra_ws) {
        push(b, seq, replace(b, "Regex", " {2,}", " "));
        push(b, seq, replace(b, "Regex", "\\A | \\z", ""));
    }
    if (m->add_dummy_prefix)
        push(b, seq, add(b, json_pack("{s:s, s:s}", "type", "Prepend", "prepend",
                                                    m->escape_ws ? SPACE_SYM : " ")));
    if (m->escape_ws)
        push(b, seq, replace(b, "String", " ", SPACE_SYM));
    return add(b, json_pack("{s:s, s:o}", "type", "Sequence", "normalizers", seq));
}

static json_t *decoder(struct tok_build *b)
{
    const struct spe_proto *m = b->m;
    json_t *seq = add(b, json_array());
    if (!seq)
        return NULL;
    for (uint32_t id = 0; id < m->n_pieces; id++) {
        uint8_t t = m->pieces[id].type;
        if (t == SPE_CONTROL || t == SPE_UNKNOWN)   /* " ⁇ ": SentencePiece's default surface */
            push(b, seq, whole_piece(b, id, t == SPE_CONTROL ? "" :
                                                   " \xe2\x81\x87 "));
    }
    if (m->byte_fallback)
        push(b, seq, add(b, json_pack("{s:s}", "type", "ByteFallback")));
    push(b, seq, add(b, json_pack("{s:s}", "type", "Fuse")));
    /* SentencePiece drops the U+2581 that starts the first visible piece
     * (with remove_extra_whitespaces, every leading one) */
    if (m->remove_extra_ws)
        push(b, seq, replace(b, "Regex", "\\A" SPACE_SYM "+", ""));
    else if (m->add_dummy_prefix)
        push(b, seq, replace(b, "Regex", "\\A" SPACE_SYM, ""));
    push(b, seq, replace(b, "String", SPACE_SYM, " "));
    return add(b, json_pack("{s:s, s:o}", "type", "Sequence", "decoders", seq));
}

static json_t *added_tokens(struct tok_build *b)
{
    json_t *a = add(b, json_array());
    for (uint32_t id = 0; a && id < b->m->n_pieces; id++) {
        uint8_t t = b->m->pieces[id].type;
        if (t == SPE_CONTROL || t == SPE_UNKNOWN)
            push(b, a, add(b, json_pack(
                "{s:I, s:o, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)id,
                "content", piece_str(b, id), "single_word", 0, "lstrip", 0, "rstrip", 0,
                "normalized", 0, "special", 1)));
    }
    return a;
}

static int32_t unk_id(const struct spe_proto *m)
{
    for (uint32_t id = 0; id < m->n_pieces; id++)
        if (m->pieces[id].type == SPE_UNKNOWN)
            return (int32_t)id;
    return -1;
}

/* Unigram: [piece, score] in id order. SentencePiece's lattice holds the
 * normal, user-defined and unused pieces, and skips the unused ones; a
 * user-defined piece scores len * max_score - 0.1 (len in bytes, max over
 * normal pieces). The others get `low`: below every segmentation of their
 * text into known characters (at most n_chars(piece) pieces, each scoring
 * at least the lowest normal score). */
static json_t *unigram(struct tok_build *b)
{
    const struct spe_proto *m = b->m;
    float lo = FLT_MAX, hi = -FLT_MAX;
    uint32_t longest = 1;
    for (uint32_t id = 0; id < m->n_pieces; id++) {
        const struct spe_piece *p = &m->pieces[id];
        if (p->type == SPE_NORMAL) {
            lo = fminf(lo, p->score);
            hi = fmaxf(hi, p->score);
        } else if (p->type != SPE_USER_DEFINED && n_chars(p) > longest) {
            longest = n_chars(p);
        }
    }
    if (lo == FLT_MAX)
        lo = hi = 0.0f;
    double low = (double)longest * ((double)fmin(lo, 0.0f) - 10.0) - 100.0;
    json_t *vocab = add(b, json_array());
    for (uint32_t id = 0; vocab && id < m->n_pieces; id++) {
        const struct spe_piece *p = &m->pieces[id];
        double score = p->type == SPE_NORMAL ? (double)p->score :
                       p->type == SPE_USER_DEFINED ? (double)((float)p->len * hi) - 0.1 : low;
        push(b, vocab, add(b, json_pack("[o, f]", piece_str(b, id), score)));
    }
    int32_t unk = unk_id(m);
    return add(b, json_pack("{s:s, s:o, s:o, s:b}", "type", "Unigram", "unk_id",
                            unk >= 0 ? json_integer(unk) : json_null(), "vocab", vocab,
                            "byte_fallback", m->byte_fallback));
}

struct merge {
    float score;            /* of the merged piece */
    uint32_t id, left, right;
};

static int merge_cmp(const void *a, const void *b)
{
    const struct merge *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->left < y->left ? -1 : x->left > y->left;
}

/* BPE: vocab {piece: id}; merges [left, right], best merged score first
 * (ties: the lower id). SentencePiece merges the adjacent pair whose
 * concatenation is the best-scoring piece, so a merge is every split of a
 * normal piece into two normal pieces. */
static json_t *bpe(struct tok_build *b)
{
    const struct spe_proto *m = b->m;
    json_t *vocab = add(b, json_object());
    json_t *merges = add(b, json_array());
    struct merge *mg = NULL;
    size_t n_mg = 0, cap = 0;
    char *key = NULL;
    size_t key_cap = 0;
    for (uint32_t id = 0; !b->err && id < m->n_pieces; id++) {
        const struct spe_piece *p = &m->pieces[id];
        if (p->len + 1 > key_cap) {
            key_cap = 2 * (p->len + 1);
            char *k = realloc(key, key_cap);
            if (!k) {
                add(b, NULL);
                break;
            }
            key = k;
        }
        memcpy(key, p->s, p->len);
        key[p->len] = 0;
        if (strlen(key) != p->len || json_object_get(vocab, key)) {
            b->err = ingot_fail(INGOT_E_TOKENIZER, "%s: piece %u is %s; transformers' BPE "
                                "vocabulary cannot hold it", TERM_SHOW(b->path), id,
                                strlen(key) != p->len ? "holds a NUL byte" : "a duplicate");
            break;
        }
        put(b, vocab, key, add(b, json_integer(id)));
    }
    for (uint32_t id = 0; !b->err && id < m->n_pieces; id++) {
        const struct spe_piece *p = &m->pieces[id];
        if (!mergeable(p->type))
            continue;
        for (uint32_t cut = 1; cut < p->len; cut++) {
            if (((unsigned char)p->s[cut] & 0xc0) == 0x80)
                continue;   /* inside a character */
            memcpy(key, p->s, cut);
            key[cut] = 0;
            json_t *l = json_object_get(vocab, key);
            memcpy(key, p->s + cut, p->len - cut);
            key[p->len - cut] = 0;
            json_t *r = json_object_get(vocab, key);
            if (!l || !r)
                continue;
            uint32_t li = (uint32_t)json_integer_value(l), ri = (uint32_t)json_integer_value(r);
            if (!mergeable(m->pieces[li].type) || !mergeable(m->pieces[ri].type))
                continue;
            if (n_mg == cap) {
                cap = cap ? 2 * cap : 1024;
                struct merge *g = realloc(mg, cap * sizeof(*mg));
                if (!g) {
                    add(b, NULL);
                    break;
                }
                mg = g;
            }
            mg[n_mg++] = (struct merge){ p->score, id, li, ri };
        }
    }
    if (!b->err)
        qsort(mg, n_mg, sizeof(*mg), merge_cmp);
    for (size_t i = 0; !b->err && merges && i < n_mg; i++)
        push(b, merges, add(b, json_pack("[o, o]", piece_str(b, mg[i].left),
                                                       piece_str(b, mg[i].right))));
    free(mg);
    free(key);
    int32_t unk = unk_id(m);
    return add(b, json_pack(
        "{s:s, s:n, s:o, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout",
        "unk_token", unk >= 0 ? piece_str(b, (uint32_t)unk) : json_null(),
        "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 1, "byte_fallback",
        m->byte_fallback, "ignore_merges", 0, "vocab", vocab, "merges", merges));
}

/* What tokenizer.json cannot say: refused with the field and a way out. */
static int check_supported(const struct spe_proto *m, const char *path)
{
    const char *what = NULL;
    if (m->model_type != SPE_UNIGRAM && m->model_type != SPE_BPE && m->model_type != SPE_CHAR)
        what = m->model_type == SPE_WORD ? "model_type WORD" : "an unknown model_type";
    else if (m->treat_ws_suffix)
        what = "treat_whitespace_as_suffix";
    /* SentencePiece matches them before BPE's merges; a merge list cannot
     * (one exists only where both halves are pieces) */
    for (uint32_t id = 0; !what && m->model_type == SPE_BPE && id < m->n_pieces; id++)
        if (m->pieces[id].type == SPE_USER_DEFINED)
            what = "user-defined symbols in a BPE model";
    if (!what)
        return 0;
    return ingot_fail(INGOT_E_TOKENIZER, "%s: --format hf: the tokenizer uses %s, which a "
                      "transformers tokenizer.json cannot reproduce; train the tokenizer with "
                      "scripts/train-tokenizer.sh (unigram or bpe), or export --format "
                      "safetensors and encode with SentencePiece", TERM_SHOW(path), what);
}

int tr_export_hf_tokenizer_build(const struct tr_export_src *s, json_t **out)
{
    *out = NULL;
    char *raw = NULL;
    size_t len = 0;
    struct spe_proto m;
    memset(&m, 0, sizeof(m));
    int err = tr_export_read_tokenizer(s, &raw, &len);
    if (!err)
        err = spe_proto_parse(raw, len, s->tokenizer_path, &m);
    free(raw);
    if (!err)
        err = check_supported(&m, s->tokenizer_path);
    if (err) {
        spe_proto_free(&m);
        return err;
    }
    struct tok_build b = { s->tokenizer_path, &m, 0 };
    /* a CHAR model's pieces are single characters: Unigram finds the same */
    json_t *model = m.model_type == SPE_BPE ? bpe(&b) : unigram(&b);
    json_t *doc = add(&b, json_pack(
        "{s:s, s:n, s:n, s:o, s:o, s:n, s:n, s:o, s:o}", "version", "1.0", "truncation",
        "padding", "added_tokens", added_tokens(&b), "normalizer", normalizer(&b),
        "pre_tokenizer", "post_processor", "decoder", decoder(&b), "model", model));
    err = b.err;
    spe_proto_free(&m);
    if (err) {
        json_decref(doc);
        return err;
    }
    *out = doc;
    return 0;
}
