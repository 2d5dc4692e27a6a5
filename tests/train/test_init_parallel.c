/* Parallel parameter initialisation (tr_rng_fill_normal_runs in
 * train/tr_rng.c, used by tr_params_init and tr_llama_params_init) must give
 * bit for bit the values of the serial single-stream code it replaced, which
 * is kept below as the reference: GPT-2 and LLaMA (tied and untied) models of
 * one to two million parameters with odd sizes, at INGOT_INIT_THREADS 1, 2,
 * 3 and 7 and the default, so that chunk boundaries fall inside tensors.
 * Output buffers start filled with a NaN pattern, so an element a chunk
 * skips shows up too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_llama_params.h"
#include "tr_params.h"
#include "tr_rng.h"
#include "../test_check.h"

/* ---- the serial reference (the code before the parallel fill) ---- */

static void ref_fill_normal(struct tr_rng *r, float *p, size_t n, double std)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(tr_rng_normal(r) * std);
}

static void ref_fill_const(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        p[i] = v;
}

/* The token embedding: vocab rows drawn, the padding rows zero. */
static void ref_vocab_rows(struct tr_rng *r, float *p, int vocab, int vocab_padded, size_t C,
                           double std)
{
    ref_fill_normal(r, p, (size_t)vocab * C, std);
    memset(p + (size_t)vocab * C, 0, (size_t)(vocab_padded - vocab) * C * sizeof(float));
}

static void ref_gpt2_init(const struct tr_config *c, uint64_t seed, float *params)
{
    size_t s[TR_NUM_PARAMS];
    struct tr_tensors t;
    struct tr_rng r;
    tr_param_sizes(c, s);
    tr_tensors_map(c, params, &t);
    tr_rng_seed(&r, seed, TR_STREAM_INIT);
    double std = 0.02, proj_std = 0.02 / sqrt(2.0 * c->n_layer);
    ref_vocab_rows(&r, t.wte, c->vocab, c->vocab_padded, c->n_embd, std);
    ref_fill_normal(&r, t.wpe, s[TR_WPE], std);
    ref_fill_const(t.ln1w, s[TR_LN1W], 1.0f);
    ref_fill_const(t.ln1b, s[TR_LN1B], 0.0f);
    ref_fill_normal(&r, t.qkvw, s[TR_QKVW], std);
    ref_fill_const(t.qkvb, s[TR_QKVB], 0.0f);
    ref_fill_normal(&r, t.attprojw, s[TR_ATTPROJW], proj_std);
    ref_fill_const(t.attprojb, s[TR_ATTPROJB], 0.0f);
    ref_fill_const(t.ln2w, s[TR_LN2W], 1.0f);
    ref_fill_const(t.ln2b, s[TR_LN2B], 0.0f);
    ref_fill_normal(&r, t.fcw, s[TR_FCW], std);
    ref_fill_const(t.fcb, s[TR_FCB], 0.0f);
    ref_fill_normal(&r, t.fcprojw, s[TR_FCPROJW], proj_std);
    ref_fill_const(t.fcprojb, s[TR_FCPROJB], 0.0f);
    ref_fill_const(t.lnfw, s[TR_LNFW], 1.0f);
    ref_fill_const(t.lnfb, s[TR_LNFB], 0.0f);
}

static void ref_llama_init(const struct tr_llama_config *c, uint64_t seed, float *params)
{
    size_t s[TL_NUM_PARAMS];
    struct tr_llama_tensors t;
    struct tr_rng r;
    tr_llama_param_sizes(c, s);
    tr_llama_tensors_map(c, params, &t);
    tr_rng_seed(&r, seed, TR_STREAM_INIT);
    double std = 0.02, proj_std = 0.02 / sqrt(2.0 * c->n_layer);
    ref_vocab_rows(&r, t.wte, c->vocab, c->vocab_padded, c->n_embd, std);
    ref_fill_const(t.attn_norm, s[TL_ATTN_NORM], 1.0f);
    ref_fill_normal(&r, t.wqkv, s[TL_WQKV], std);
    ref_fill_normal(&r, t.wo, s[TL_WO], proj_std);
    ref_fill_const(t.ffn_norm, s[TL_FFN_NORM], 1.0f);
    ref_fill_normal(&r, t.wgateup, s[TL_WGATEUP], std);
    ref_fill_normal(&r, t.wdown, s[TL_WDOWN], proj_std);
    ref_fill_const(t.norm, s[TL_NORM], 1.0f);
    if (!c->tie_embeddings)
        ref_vocab_rows(&r, t.lm_head, c->vocab, c->vocab_padded, c->n_embd, std);
}

/* ---- comparisons ---- */

static const char *const thread_counts[] = { "1", "2", "3", "7", NULL /* default */ };

static void poison(float *p, size_t n)
{
    memset(p, 0xff, n * sizeof(float));   /* a NaN in every element */
}

static void check_same(const float *want, const float *got, size_t n, const char *what,
                       const char *threads)
{
    if (!memcmp(want, got, n * sizeof(float)))
        return;
    size_t i = 0;
    while (!memcmp(&want[i], &got[i], sizeof(float)))
        i++;
    fprintf(stderr, "%s, %s threads: element %zu of %zu is %.9g, serial %.9g\n", what,
            threads ? threads : "default", i, n, (double)got[i], (double)want[i]);
    exit(1);
}

static void set_threads(const char *v)
{
    if (v)
        CHECK(!setenv("INGOT_INIT_THREADS", v, 1));
    else
        CHECK(!unsetenv("INGOT_INIT_THREADS"));
}

static void check_gpt2(const struct tr_config *c, uint64_t seed, const char *what)
{
    size_t n = tr_param_count(c);
    float *want = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    CHECK(want && got);
    ref_gpt2_init(c, seed, want);
    for (int i = 0; i < 5; i++) {
        set_threads(thread_counts[i]);
        poison(got, n);
        tr_params_init(c, seed, got);
        check_same(want, got, n, what, thread_counts[i]);
    }
    printf("%s: %zu parameters identical to serial at 1, 2, 3, 7 and default threads\n", what, n);
    free(want);
    free(got);
}

static void check_llama(const struct tr_llama_config *c, uint64_t seed, const char *what)
{
    size_t n = tr_llama_param_count(c);
    float *want = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    CHECK(want && got);
    ref_llama_init(c, seed, want);
    struct tr_config tc = { .n_layer = c->n_layer, .n_head = c->n_head, .n_kv_head = c->n_kv_head,
        .n_embd = c->n_embd, .ffn_dim = c->ffn_dim, .seq_len = c->seq_len, .vocab = c->vocab,
        .vocab_padded = c->vocab_padded, .arch = TR_ARCH_LLAMA, .rope_theta = c->rope_theta,
        .norm_eps = c->norm_eps, .tie_embeddings = c->tie_embeddings };
    for (int i = 0; i < 5; i++) {
        set_threads(thread_counts[i]);
        poison(got, n);
        tr_llama_params_init(c, seed, got);
        check_same(want, got, n, what, thread_counts[i]);
        poison(got, n);
        tr_params_init(&tc, seed, got);   /* through the trainer's entry point */
        check_same(want, got, n, what, thread_counts[i]);
    }
    printf("%s: %zu parameters identical to serial at 1, 2, 3, 7 and default threads\n", what, n);
    free(want);
    free(got);
}

/* The fill itself: empty runs, fewer normals than threads, and the stream
 * left where serial calls leave it. */
static void check_runs_edge_cases(void)
{
    float want[5], got[5];
    struct tr_rng a, b;
    tr_rng_seed(&a, 99, 3);
    b = a;
    for (int i = 0; i < 5; i++)
        want[i] = (float)(tr_rng_normal(&a) * (i < 2 ? 1.0 : 0.5));
    const struct tr_rng_normal_run runs[] = {
        { NULL, 0, 3.0 }, { got, 2, 1.0 }, { NULL, 0, 3.0 }, { got + 2, 3, 0.5 }, { NULL, 0, 3.0 },
    };
    for (int i = 0; i < 5; i++) {
        struct tr_rng r = b;
        set_threads(thread_counts[i]);
        poison(got, 5);
        tr_rng_fill_normal_runs(&r, runs, 5);
        check_same(want, got, 5, "5 normals in runs with empty ones", thread_counts[i]);
        CHECK(!memcmp(r.s, a.s, sizeof r.s));
    }
    struct tr_rng r = b;
    tr_rng_fill_normal_runs(&r, runs, 0);
    CHECK(!memcmp(r.s, b.s, sizeof r.s));
    /* A bad INGOT_INIT_THREADS falls back to the default (with a warning). */
    set_threads("many");
    CHECK(tr_rng_fill_threads() >= 1);
    set_threads("3");
    CHECK(tr_rng_fill_threads() == 3);
    printf("runs: empty runs, fewer normals than threads, stream position\n");
}

int main(void)
{
    check_runs_edge_cases();

    struct tr_config g = { .n_layer = 7, .n_head = 5, .n_embd = 120, .seq_len = 67,
                           .vocab = 7001, .arch = TR_ARCH_GPT2 };
    tr_config_pad_vocab(&g);
    CHECK_OK(tr_config_check(&g));
    check_gpt2(&g, 1234, "gpt2 L7 C120 V7001 T67");
    struct tr_config g2 = { .n_layer = 1, .n_head = 3, .n_embd = 33, .seq_len = 5,
                            .vocab = 131, .arch = TR_ARCH_GPT2 };
    tr_config_pad_vocab(&g2);
    check_gpt2(&g2, 5, "gpt2 L1 C33 V131 T5");

    struct tr_llama_config l;
    tr_llama_config_defaults(&l, 5, 6, 120, 64, 5003);
    l.n_kv_head = 2;
    l.ffn_dim = 333;
    CHECK_OK(tr_llama_config_check(&l));
    check_llama(&l, 42, "llama L5 C120 F333 GQA 6/2 V5003");
    l.tie_embeddings = true;
    check_llama(&l, 43, "llama tied");
    return 0;
}
