/* Differential check of Ingot's encoder (spm_encode.h) against
 * libsentencepiece (the oracle, through spm_shim.h):
 *   spe_diff MODEL TEXT...
 * Each TEXT file is a list of documents separated by a line holding only
 * the byte 0x1E; every document, and every line of it, is encoded by both
 * (and by Ingot's encoder with its cache on and off) and every id must
 * agree. Prints what was compared; exits 1 at a mismatch, naming the first
 * differing position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "spm_encode.h"
#include "spm_shim.h"
#include "test_check.h"

struct ctx {
    ingot_spm *oracle;
    spe_model *enc;
    spe_scratch *cached, *plain;
    uint32_t *a, *b, *c;
    size_t ca, cb, cc;
    size_t compared, ids;
};

static void show(const char *what, const char *text, size_t len)
{
    fprintf(stderr, "%s (%zu bytes): ", what, len);
    for (size_t i = 0; i < len && i < 400; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            fputc(ch, stderr);
        else
            fprintf(stderr, "\\x%02x", ch);
    }
    fputc('\n', stderr);
}

static void dump_ids(const char *who, const uint32_t *v, size_t n, size_t from)
{
    fprintf(stderr, "  %s (%zu ids) from %zu:", who, n, from);
    for (size_t i = from; i < n && i < from + 16; i++)
        fprintf(stderr, " %u", v[i]);
    fputc('\n', stderr);
}

/* 0 when both encoders agree on text[0, len). */
static int compare(struct ctx *x, const char *text, size_t len)
{
    size_t na = 0, nb = 0, nc = 0;
    CHECK_OK(ingot_spm_encode(x->oracle, text, len, &x->a, &x->ca, &na));
    CHECK_OK(spe_encode(x->enc, x->cached, text, len, &x->b, &x->cb, &nb));
    CHECK_OK(spe_encode(x->enc, x->plain, text, len, &x->c, &x->cc, &nc));
    x->compared++;
    x->ids += na;
    const uint32_t *mine[2] = { x->b, x->c };
    size_t nm[2] = { nb, nc };
    for (int k = 0; k < 2; k++) {
        size_t i = 0;
        while (i < na && i < nm[k] && x->a[i] == mine[k][i])
            i++;
        if (i == na && na == nm[k])
            continue;
        show("MISMATCH on", text, len);
        fprintf(stderr, "  cache %s, first difference at id %zu\n", k ? "off" : "on", i);
        size_t from = i > 4 ? i - 4 : 0;
        dump_ids("libsentencepiece", x->a, na, from);
        dump_ids("ingot", mine[k], nm[k], from);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: spe_diff MODEL TEXT...\n");
        return 2;
    }
    struct ctx x = { 0 };
    CHECK_OK(ingot_spm_load(argv[1], &x.oracle));
    int ret = spe_load(argv[1], &x.enc);
    if (ret) {
        fprintf(stderr, "%s\n", ingot_errmsg_for(ret));   /* names the model */
        ingot_spm_free(x.oracle);
        return 1;
    }
    CHECK_OK(spe_scratch_new(true, &x.cached));
    spe_scratch_verify(x.cached, true);
    CHECK_OK(spe_scratch_new(false, &x.plain));
    CHECK(spe_vocab_size(x.enc) == ingot_spm_vocab_size(x.oracle));
    CHECK(spe_model_hash(x.enc) == ingot_spm_model_hash(x.oracle));
    int bad = 0;
    for (int f = 2; f < argc && !bad; f++) {
        char *buf;
        size_t len;
        CHECK_OK(fs_read_all(argv[f], &buf, &len));
        for (size_t p = 0; p < len && !bad;) {
            const char *sep = memmem(buf + p, len - p, "\n\x1e\n", 3);
            size_t e = sep ? (size_t)(sep - buf) : len;
            bad |= compare(&x, buf + p, e - p);
            for (size_t q = p; q < e && !bad;) {
                const char *nl = memchr(buf + q, '\n', e - q);
                size_t le = nl ? (size_t)(nl - buf) : e;
                bad |= compare(&x, buf + q, le - q);
                q = le + 1;
            }
            p = sep ? e + 3 : len;
        }
        free(buf);
    }
    struct spe_stats st;
    spe_scratch_stats(x.cached, &st);
    printf("%s: %s, cut %s: %zu texts, %zu ids compared, %s; cache %llu/%llu words hit "
           "(%llu in the shared table)",
           argv[1], spe_model_kind(x.enc), spe_cut_name(x.enc), x.compared, x.ids,
           bad ? "MISMATCH" : "all equal", (unsigned long long)st.cache_hits,
           (unsigned long long)st.words, (unsigned long long)st.shared_hits);
    if (st.path_hits + st.replays)
        printf(" (%llu by the cached path, %llu replayed); path bound checked %llu times, "
               "%llu disagreed",
               (unsigned long long)st.path_hits, (unsigned long long)st.replays,
               (unsigned long long)st.bound_checks, (unsigned long long)st.bound_fails);
    printf("\n");
    if (st.bound_fails)
        bad = 1;
    spe_scratch_free(x.cached);
    spe_scratch_free(x.plain);
    spe_free(x.enc);
    ingot_spm_free(x.oracle);
    free(x.a), free(x.b), free(x.c);
    return bad;
}
