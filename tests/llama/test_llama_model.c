/* The LLaMA model on the CPU (train/tr_cpu_llama.c) and its layout
 * (train/tr_llama_params.c):
 *   - the layout: sizes, offsets, the Hugging Face slices tiling the buffer,
 *     TinyLlama-1.1B's published parameter count, the 8/3 FFN rule;
 *   - initialisation statistics and zero padding;
 *   - the gradient of the summed token loss against central differences of
 *     the loss, on sampled elements of every tensor, for grouped-query and
 *     multi-head shapes, tied and untied heads;
 *   - forward_backward's mean loss and gradient against forward + backward;
 *   - activation sizes past 2^64 refused (tr_carve.h), never wrapped. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "ll_testlib.h"
#include "tr_carve.h"
#include "tr_cpu_llama.h"
#include "tr_cpu_net.h"
#include "tr_llama_params.h"

static int failures;

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
            failures++;                                                                         \
        }                                                                                       \
    } while (0)

static void test_layout(void)
{
    CHECK(tr_llama_default_ffn(2048) == 5632, "ffn(2048) = %d", tr_llama_default_ffn(2048));
    CHECK(tr_llama_default_ffn(4096) == 11008, "ffn(4096) = %d", tr_llama_default_ffn(4096));
    CHECK(tr_llama_default_ffn(64) == 256, "ffn(64) = %d", tr_llama_default_ffn(64));

    /* TinyLlama-1.1B: 1,100,048,384 parameters as published (32000 vocab,
     * untied), and the preset has its shape. */
    struct tr_llama_config c;
    const struct tr_llama_preset *p = tr_llama_preset_find("llama-1b");
    CHECK(p != NULL, "no llama-1b preset");
    if (!p)
        return;
    tr_llama_config_defaults(&c, 1, 1, 2, 1, 32000);
    tr_llama_preset_apply(p, &c);
    CHECK(tr_llama_config_check(&c) == 0, "llama-1b config: %s", ingot_errmsg());
    CHECK(c.vocab_padded == 32000, "Vp %d", c.vocab_padded);
    CHECK(tr_llama_param_count(&c) == 1100048384ull, "llama-1b count %zu",
          tr_llama_param_count(&c));
    /* 6 x 1,034,420,224 matmul weights (all but wte and the 92,160 RMSNorm
     * gains; lm_head included) + 12 x 22 x 2048 x 2048 */
    double fl = tr_llama_flops_per_token(&c);
    CHECK(fl == 6.0 * 1034420224.0 + 12.0 * 22 * 2048 * 2048, "llama-1b flops/token %.0f", fl);
    printf("llama-1b: %.3f GFLOP per trained token at T 2048\n", fl / 1e9);
    for (const struct tr_llama_preset *q = tr_llama_presets; q->name; q++) {
        struct tr_llama_config d;
        tr_llama_config_defaults(&d, 1, 1, 2, 1, 32000);
        tr_llama_preset_apply(q, &d);
        CHECK(tr_llama_config_check(&d) == 0, "preset %s: %s", q->name, ingot_errmsg());
        printf("preset %-11s %6.1fM parameters (32000 vocab)\n", q->name,
               tr_llama_param_count(&d) / 1e6);
    }

    /* The HF slices of a small GQA model, tied and untied: disjoint, in
     * increasing order, and together every element but the padded rows. */
    for (int tie = 0; tie < 2; tie++) {
        tr_llama_config_defaults(&c, 3, 4, 32, 16, 100);
        c.n_kv_head = 2;
        c.ffn_dim = 40;
        c.tie_embeddings = tie;
        size_t n = tr_llama_param_count(&c);
        unsigned char *seen = calloc(n, 1);
        int nt = tr_llama_hf_count(&c);
        CHECK(nt == 3 + 9 * 3 - tie, "hf count %d", nt);
        for (int i = 0; i < nt; i++) {
            struct tr_llama_hf_slice s;
            CHECK(tr_llama_hf_tensor(&c, i, &s) == 0, "slice %d", i);
            for (size_t k = 0; k < (size_t)s.rows * s.cols; k++) {
                CHECK(s.offset + k < n && !seen[s.offset + k], "%s element %zu", s.name, k);
                if (s.offset + k < n)
                    seen[s.offset + k] = 1;
            }
        }
        size_t pad = (size_t)(c.vocab_padded - c.vocab) * c.n_embd;
        size_t covered = 0;
        for (size_t k = 0; k < n; k++)
            covered += seen[k];
        CHECK(covered == n - pad * (tie ? 1 : 2), "covered %zu of %zu (pad %zu)", covered, n, pad);
        struct tr_llama_hf_slice s;
        tr_llama_hf_tensor(&c, 1 + 9 + 1, &s);   /* layer 1's k_proj */
        CHECK(!strcmp(s.name, "model.layers.1.self_attn.k_proj.weight") && s.rows == 16,
              "slice 11 is %s [%d]", s.name, s.rows);
        CHECK(tr_llama_hf_tensor(&c, nt, &s) != 0, "slice past the end accepted");
        free(seen);
    }

    /* bad shapes are refused with a message */
    tr_llama_config_defaults(&c, 2, 4, 32, 16, 100);
    c.n_kv_head = 3;
    CHECK(tr_llama_config_check(&c) != 0, "NH %% NKV != 0 accepted");
    c.n_kv_head = 4;
    c.n_embd = 36;   /* hs 9: odd */
    CHECK(tr_llama_config_check(&c) != 0, "odd head size accepted");
    printf("layout ok\n");
}

static void test_init(void)
{
    struct tr_llama_config c;
    tr_llama_config_defaults(&c, 4, 4, 64, 16, 1000);
    size_t n = tr_llama_param_count(&c), s[TL_NUM_PARAMS];
    float *p = ll_zeros(n);
    tr_llama_params_init(&c, 42, p);
    tr_llama_param_sizes(&c, s);
    struct tr_llama_tensors t;
    tr_llama_tensors_map(&c, p, &t);
    double want[TL_NUM_PARAMS] = { 0.02, 0, 0.02, 0.02 / sqrt(8.0), 0, 0.02, 0.02 / sqrt(8.0), 0,
                                   0.02 };
    float *base[TL_NUM_PARAMS] = { t.wte, t.attn_norm, t.wqkv, t.wo, t.ffn_norm, t.wgateup,
                                   t.wdown, t.norm, t.lm_head };
    for (int i = 0; i < TL_NUM_PARAMS; i++) {
        size_t m = s[i];
        if (i == TL_WTE || i == TL_LM_HEAD)
            m = (size_t)c.vocab * c.n_embd;
        double s2 = 0.0;
        for (size_t k = 0; k < m; k++)
            s2 += want[i] > 0 ? (double)base[i][k] * base[i][k] : fabs(base[i][k] - 1.0);
        if (want[i] > 0) {
            double sd = sqrt(s2 / m);
            CHECK(fabs(sd / want[i] - 1.0) < 0.05, "%s std %.5f want %.5f",
                  tr_llama_param_name(i), sd, want[i]);
        } else {
            CHECK(s2 == 0.0, "%s gains not 1", tr_llama_param_name(i));
        }
    }
    for (size_t k = (size_t)c.vocab * c.n_embd; k < (size_t)c.vocab_padded * c.n_embd; k++)
        CHECK(t.wte[k] == 0.0f && t.lm_head[k] == 0.0f, "padding row element %zu not 0", k);
    float *q = ll_zeros(n);
    tr_llama_params_init(&c, 42, q);
    CHECK(memcmp(p, q, n * sizeof(float)) == 0, "init is not reproducible");
    tr_llama_params_init(&c, 43, q);
    CHECK(memcmp(p, q, n * sizeof(float)) != 0, "seed ignored");
    free(p);
    free(q);
    printf("init ok\n");
}

struct fd_ctx {
    tr_cpu_llama *m;
    float *params;
    const int32_t *inp, *tgt;
    int B, T;
};

static double loss_sum(struct fd_ctx *x)
{
    double s = 0.0;
    tr_cpu_llama_forward(x->m, x->params, x->inp, x->tgt, x->B, x->T, 0.0f, &s, NULL);
    return s;
}

/* Random weights big enough that every path carries gradient (the 0.02 init
 * would leave the attention nearly uniform and the gradients tiny). */
static void random_params(const struct tr_llama_config *c, float *p)
{
    size_t s[TL_NUM_PARAMS];
    tr_llama_param_sizes(c, s);
    size_t off = 0;
    for (int i = 0; i < TL_NUM_PARAMS; i++) {
        int gain = i == TL_ATTN_NORM || i == TL_FFN_NORM || i == TL_NORM;
        float *r = ll_rnd(s[i], gain ? 0.3f : 0.5f);
        for (size_t k = 0; k < s[i]; k++)
            p[off + k] = gain ? 1.0f + r[k] : r[k];
        free(r);
        off += s[i];
    }
}

static void test_gradients(const char *what, int NH, int NKV, int tie)
{
    struct tr_llama_config c;
    tr_llama_config_defaults(&c, 2, NH, 16, 7, 37);
    c.n_kv_head = NKV;
    c.ffn_dim = 24;
    c.tie_embeddings = tie;
    c.rope_theta = 100.0;   /* angles that turn within 7 positions */
    int B = 2, T = 7, N = B * T;
    size_t n = tr_llama_param_count(&c), sizes[TL_NUM_PARAMS];
    tr_llama_param_sizes(&c, sizes);
    float *p = ll_zeros(n), *g = ll_zeros(n);
    random_params(&c, p);
    int32_t inp[14], tgt[14];
    for (int i = 0; i < N; i++) {
        inp[i] = (i * 7 + 3) % 37;
        tgt[i] = (i * 11 + 5) % 37;
    }
    inp[5] = inp[9];   /* a repeated token: its embedding gradient sums two rows */
    tr_cpu_llama *m;
    if (tr_cpu_llama_create(&c, B, &m)) {
        fprintf(stderr, "create: %s\n", ingot_errmsg());
        failures++;
        return;
    }
    struct fd_ctx x = { m, p, inp, tgt, B, T };
    tr_cpu_llama_forward(m, p, inp, tgt, B, T, 1.0f, NULL, NULL);   /* d(sum)/dlogits */
    tr_cpu_llama_backward(m, p, g);

    /* Central differences in double of a float32 forward: the loss sum
     * (~14 * 3.6) carries ~1e-6 of rounding, so h = 1.5e-3 keeps that noise
     * near 7e-4 while the O(h^2) truncation (measured: 3% of the largest
     * embedding gradients at h = 4e-3) stays below the tolerance. */
    const float h = 1.5e-3f;
    const double atol = 2e-3, rtol = 1e-2;
    double worst = 0.0;
    int fails = 0;
    size_t off = 0;
    for (int id = 0; id < TL_NUM_PARAMS; id++) {
        size_t cnt = sizes[id], step = cnt > 48 ? cnt / 48 : 1;
        if (id == TL_WTE)
            step = 1;   /* all of it: used rows, unused rows (0) and padding (0) */
        for (size_t k = 0; k < cnt; k += step) {
            size_t i = off + k;
            float x0 = p[i];
            p[i] = x0 + h;
            double lp = loss_sum(&x);
            p[i] = x0 - h;
            double lm = loss_sum(&x);
            p[i] = x0;
            double fd = (lp - lm) / ((double)(x0 + h) - (double)(x0 - h));
            double err = fabs(fd - g[i]), tol = atol + rtol * fabs(g[i]);
            if (err / tol > worst)
                worst = err / tol;
            if (!(err <= tol) && fails++ < 5)
                fprintf(stderr, "%s: %s[%zu]: finite difference %.6g, analytic %.6g\n", what,
                        tr_llama_param_name(id), k, fd, g[i]);
        }
        off += sizes[id];
    }
    CHECK(fails == 0, "%s: %d gradient elements off", what, fails);
    printf("%-34s gradient vs central differences: worst error / tolerance %.3f\n", what, worst);
    tr_cpu_llama_free(m);
    free(p);
    free(g);
}

/* forward_backward (fresh model, mean loss) equals forward + backward with
 * dloss = 1/N on a long-lived model, and a second backward accumulates. */
static void test_forward_backward(void)
{
    struct tr_llama_config c;
    tr_llama_config_defaults(&c, 2, 4, 32, 9, 50);
    c.n_kv_head = 1;
    int B = 3, T = 9, N = B * T;
    size_t n = tr_llama_param_count(&c);
    float *p = ll_zeros(n), *g1 = ll_zeros(n), *g2 = ll_zeros(n);
    float *lg = ll_zeros((size_t)N * c.vocab_padded);
    tr_llama_params_init(&c, 7, p);
    int32_t chunk[30], inp[27], tgt[27];
    for (int i = 0; i < B * (T + 1); i++)
        chunk[i] = (i * 13 + 1) % 50;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            inp[b * T + t] = chunk[b * (T + 1) + t];
            tgt[b * T + t] = chunk[b * (T + 1) + t + 1];
        }
    double loss = 0.0, sum = 0.0;
    CHECK(tr_cpu_llama_forward_backward(&c, p, chunk, B, &loss, g1, lg) == 0, "fb: %s",
          ingot_errmsg());
    tr_cpu_llama *m;
    if (tr_cpu_llama_create(&c, 4, &m)) {
        failures++;
        return;
    }
    tr_cpu_llama_forward(m, p, inp, NULL, B, T, 0.0f, NULL, NULL);
    CHECK(memcmp(lg, tr_cpu_llama_logits(m), (size_t)N * c.vocab_padded * sizeof(float)) == 0,
          "logits differ");
    tr_cpu_llama_forward(m, p, inp, tgt, B, T, 1.0f / N, &sum, NULL);
    tr_cpu_llama_backward(m, p, g2);
    CHECK(fabs(sum / N - loss) < 1e-12 && fabs(loss - log(50.0)) < 0.05,
          "loss %.9f vs %.9f (ln 50 = %.4f)", loss, sum / N, log(50.0));
    CHECK(memcmp(g1, g2, n * sizeof(float)) == 0, "gradients differ");
    tr_cpu_llama_forward(m, p, inp, tgt, B, T, 1.0f / N, NULL, NULL);
    tr_cpu_llama_backward(m, p, g2);
    /* not bit-equal: the ops add partial sums into the nonzero gradient */
    double md = 0.0, gmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs(g2[i] - 2.0f * g1[i]));
        gmax = fmax(gmax, fabs(g1[i]));
    }
    CHECK(md <= 1e-5 * gmax, "second backward does not accumulate (max diff %g, max |g| %g)", md,
          gmax);
    tr_cpu_llama_free(m);
    free(p);
    free(g1);
    free(g2);
    free(lg);
    printf("forward_backward ok (loss %.5f at init, ln V = %.5f)\n", loss, log(50.0));
}

/* A shape every field check passes whose activation size does not fit 64
 * bits: a crafted checkpoint's (349 layers, 16 heads over 1 kv head, dim 32,
 * ffn 1, seq-len 488280) at eval's --batch 3454. Summed in plain size_t it
 * wrapped to 1.44 GB, which was allocated and written far past; both models
 * must refuse it (-ENOMEM) without allocating. Also the saturating helpers. */
static void test_too_big(void)
{
    CHECK(tr_szmul(SIZE_MAX / 2, 3) == TR_CARVE_TOO_BIG && tr_szmul(1u << 20, 1u << 20) == 1ull << 40,
          "tr_szmul saturates (and multiplies)");
    size_t off = 0;
    tr_carve(NULL, &off, 10, 4, 64);
    tr_carve(NULL, &off, 1, 1, 64);
    CHECK(off == 65, "tr_carve: 40 bytes, then 1 at 64: %zu", off);
    tr_carve(NULL, &off, SIZE_MAX / 2, 4, 64);
    CHECK(off == TR_CARVE_TOO_BIG, "tr_carve: n x sz past 2^64 saturates");
    tr_carve(NULL, &off, 1, 4, 64);
    CHECK(off == TR_CARVE_TOO_BIG, "tr_carve: stays saturated");
    off = SIZE_MAX - 10;
    tr_carve(NULL, &off, 1, 4, 64);
    CHECK(off == TR_CARVE_TOO_BIG, "tr_carve: the alignment past 2^64 saturates");
    off = SIZE_MAX - 300;   /* aligned down to SIZE_MAX - 319; 400 more bytes do not fit */
    tr_carve(NULL, &off, 100, 4, 64);
    CHECK(off == TR_CARVE_TOO_BIG, "tr_carve: the sum past 2^64 saturates");
    off = SIZE_MAX - 1000;
    tr_carve(NULL, &off, 100, 4, 64);
    CHECK(off == SIZE_MAX - 559, "tr_carve: near the top, it still adds up (2^64 - 960 + 400)");

    struct tr_llama_config c;
    tr_llama_config_defaults(&c, 349, 16, 32, 488280, 2000);
    c.n_kv_head = 1;
    c.ffn_dim = 1;
    tr_cpu_llama *m = NULL;
    int err = tr_cpu_llama_create(&c, 3454, &m);
    CHECK(err == -ENOMEM && !m, "llama: the wrapping shape is refused (err %d)", err);
    tr_cpu_llama_free(m);
    struct tr_config g = { .n_layer = 349, .n_head = 16, .n_embd = 32, .seq_len = 488280,
                           .vocab = 2000, .arch = TR_ARCH_GPT2 };
    tr_config_pad_vocab(&g);
    tr_cpu_net *n = NULL;
    err = tr_cpu_net_create(&g, 3454, &n);
    CHECK(err == -ENOMEM && !n, "gpt2: the wrapping shape is refused (err %d)", err);
    tr_cpu_net_free(n);
    printf("activation sizes past 2^64 refused\n");
}

int main(void)
{
    ll_seed(11);
    test_layout();
    test_init();
    test_gradients("GQA 4/2, untied", 4, 2, 0);
    test_gradients("MQA 4/1, tied", 4, 1, 1);
    test_gradients("MHA 2/2, untied", 2, 2, 0);
    test_forward_backward();
    test_too_big();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("all ok\n");
    return 0;
}
