/* Writes whole LLaMA models run by train/tr_cpu_llama.c, for
 * scripts/torch-llama-reference.py --model-driver to rebuild as Hugging
 * Face LlamaForCausalLM (loading every tensor by its HF name) and compare.
 *
 *   ll_model_dump OUT.bin
 *
 * Format: ll_dumpfile.h. Per model TAG (gqa: untied, 4 query / 2 kv heads;
 * mqa: tied embeddings, 4 / 1):
 *   TAG.cfg     f64 [L, NH, NKV, C, F, T, V, Vp, theta, eps, tie, B]
 *   TAG.inp, TAG.tgt   f64 [B, T] token ids
 *   TAG.param.<HF name>, TAG.grad.<HF name>   f32, HF shapes (V rows)
 *   TAG.logits  f32 [B, T, V];  TAG.loss  f64 [1] (mean token loss)
 * and for the gqa model, 50 AdamW steps in float32 from the same weights:
 *   train.cfg   f64 [steps, lr, beta1, beta2, eps, weight_decay, K]
 *   train.batches f64 [K, B, T + 1] (step s trains on batch s % K)
 *   train.losses f64 [steps] (the loss of each step's forward, before its
 *   update). Weight decay applies to tr_llama_param_decays() tensors.
 * Exits 1 when the padded vocabulary rows carry a nonzero logit or
 * gradient (Ingot's padding must stay invisible). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "ll_dumpfile.h"
#include "ll_testlib.h"
#include "ref_ops.h"
#include "tr_cpu_llama.h"
#include "tr_llama_params.h"

enum { STEPS = 50, NBATCH = 4 };

/* Every HF tensor of buf as TAG.KIND.<name>. */
static void put_hf(struct ll_dump *d, const struct tr_llama_config *c, const char *tag,
                   const char *kind, const float *buf)
{
    char t[32];
    snprintf(t, sizeof t, "%s.%s", tag, kind);
    for (int i = 0; i < tr_llama_hf_count(c); i++) {
        struct tr_llama_hf_slice s;
        tr_llama_hf_tensor(c, i, &s);
        if (s.ndim == 1)
            ll_dump_f32(d, t, s.name, buf + s.offset, (unsigned)s.cols, 0, 0);
        else
            ll_dump_f32(d, t, s.name, buf + s.offset, (unsigned)s.rows, (unsigned)s.cols, 0);
    }
}

/* The trainer's init, with RMSNorm gains moved off 1 so that their
 * gradients and the weights' paths through them are exercised. */
static void model_params(const struct tr_llama_config *c, float *p)
{
    tr_llama_params_init(c, 1234, p);
    struct tr_llama_tensors t;
    tr_llama_tensors_map(c, p, &t);
    size_t nl = (size_t)c->n_layer * c->n_embd;
    float *r = ll_rnd(2 * nl + c->n_embd, 0.25f);
    for (size_t i = 0; i < nl; i++) {
        t.attn_norm[i] += r[i];
        t.ffn_norm[i] += r[nl + i];
    }
    for (int i = 0; i < c->n_embd; i++)
        t.norm[i] += r[2 * nl + i];
    free(r);
}

static float urand(void)   /* uniform in [-1, 1) */
{
    float *p = ll_rnd(1, 1.0f), u = p[0];
    free(p);
    return u;
}

/* Token rows with structure to learn: mostly next = (3 cur + 1) mod V. */
static void make_chunk(int32_t *chunk, int B, int T, int V)
{
    for (int b = 0; b < B; b++) {
        int32_t tok = (int32_t)((urand() + 1.0f) * 0.5f * V) % V;
        for (int t = 0; t <= T; t++) {
            float u = urand();
            chunk[b * (T + 1) + t] = tok;
            tok = u > 0.6f ? (int32_t)((u + 1.0f) * 1000.0f) % V : (3 * tok + 1) % V;
        }
    }
}

static void split(const int32_t *chunk, int B, int T, int32_t *inp, int32_t *tgt)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            inp[b * T + t] = chunk[b * (T + 1) + t];
            tgt[b * T + t] = chunk[b * (T + 1) + t + 1];
        }
}

static double *widen(const int32_t *v, size_t n)
{
    double *d = malloc(n * sizeof(double));
    if (!d) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        d[i] = v[i];
    return d;
}

/* Padding rows [V, Vp) of a [Vp, C] table all zero. */
static int pad_zero(const struct tr_llama_config *c, const float *rows, const char *what)
{
    for (size_t k = (size_t)c->vocab * c->n_embd; k < (size_t)c->vocab_padded * c->n_embd; k++)
        if (rows[k] != 0.0f) {
            fprintf(stderr, "%s: padded row element %zu is %g, not 0\n", what, k, rows[k]);
            return 1;
        }
    return 0;
}

static int dump_model(struct ll_dump *d, const char *tag, struct tr_llama_config *c, int B,
                      int train)
{
    int T = c->seq_len, N = B * T, V = c->vocab, Vp = c->vocab_padded, bad = 0;
    size_t n = tr_llama_param_count(c);
    float *p = ll_zeros(n), *g = ll_zeros(n), *lg = ll_zeros((size_t)N * Vp);
    float *lv = ll_zeros((size_t)N * V);
    int32_t *chunk = malloc((size_t)NBATCH * B * (T + 1) * sizeof(int32_t));
    int32_t *inp = malloc((size_t)N * 2 * sizeof(int32_t)), *tgt = inp + N;
    if (!chunk || !inp) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    model_params(c, p);
    for (int k = 0; k < NBATCH; k++)
        make_chunk(chunk + (size_t)k * B * (T + 1), B, T, V);
    double loss;
    if (tr_cpu_llama_forward_backward(c, p, chunk, B, &loss, g, lg)) {
        fprintf(stderr, "%s: %s\n", tag, ingot_errmsg());
        exit(1);
    }
    for (int r = 0; r < N; r++) {
        memcpy(lv + (size_t)r * V, lg + (size_t)r * Vp, (size_t)V * sizeof(float));
        for (int v = V; v < Vp; v++)
            if (lg[(size_t)r * Vp + v] != 0.0f) {
                fprintf(stderr, "%s: padded logit [%d, %d] = %g\n", tag, r, v, lg[(size_t)r * Vp + v]);
                bad = 1;
            }
    }
    struct tr_llama_tensors gt;
    tr_llama_tensors_map(c, g, &gt);
    bad |= pad_zero(c, gt.wte, "wte gradient");
    bad |= pad_zero(c, gt.lm_head, "lm_head gradient");

    double cfg[12] = { c->n_layer, c->n_head, c->n_kv_head, c->n_embd, c->ffn_dim, T, V, Vp,
                       c->rope_theta, c->norm_eps, c->tie_embeddings, B };
    ll_dump_f64(d, tag, "cfg", cfg, 12);
    split(chunk, B, T, inp, tgt);
    double *di = widen(inp, (size_t)N), *dt = widen(tgt, (size_t)N);
    unsigned dims[2] = { (unsigned)B, (unsigned)T };
    ll_dump_put(d, tag, "inp", LL_DT_F64, di, 2, dims);
    ll_dump_put(d, tag, "tgt", LL_DT_F64, dt, 2, dims);
    free(di);
    free(dt);
    put_hf(d, c, tag, "param", p);
    put_hf(d, c, tag, "grad", g);
    ll_dump_f32(d, tag, "logits", lv, (unsigned)B, (unsigned)T, (unsigned)V);
    ll_dump_f64(d, tag, "loss", &loss, 1);

    if (train) {
        /* AdamW in float32 over the flat buffer, tensor by tensor (decay per
         * tensor), as the CPU back end steps. */
        const float lr = 3e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
        size_t sizes[TL_NUM_PARAMS];
        tr_llama_param_sizes(c, sizes);
        float *mom = ll_zeros(n), *var = ll_zeros(n);
        double losses[STEPS];
        tr_cpu_llama *m;
        if (tr_cpu_llama_create(c, B, &m)) {
            fprintf(stderr, "%s: %s\n", tag, ingot_errmsg());
            exit(1);
        }
        for (int s = 0; s < STEPS; s++) {
            split(chunk + (size_t)(s % NBATCH) * B * (T + 1), B, T, inp, tgt);
            double sum = 0.0;
            tr_cpu_llama_forward(m, p, inp, tgt, B, T, 1.0f / N, &sum, NULL);
            memset(g, 0, n * sizeof(float));
            tr_cpu_llama_backward(m, p, g);
            losses[s] = sum / N;
            size_t off = 0;
            for (int id = 0; id < TL_NUM_PARAMS; id++) {
                ref_adamw(p + off, g + off, mom + off, var + off, sizes[id], lr, b1, b2, eps,
                          tr_llama_param_decays(id) ? wd : 0.0f, s + 1, 1.0f);
                off += sizes[id];
            }
        }
        tr_cpu_llama_free(m);
        double tc[7] = { STEPS, lr, b1, b2, eps, wd, NBATCH };
        ll_dump_f64(d, "train", "cfg", tc, 7);
        size_t nb = (size_t)NBATCH * B * (T + 1);
        double *db = widen(chunk, nb);
        unsigned bd[3] = { NBATCH, (unsigned)B, (unsigned)T + 1 };
        ll_dump_put(d, "train", "batches", LL_DT_F64, db, 3, bd);
        ll_dump_f64(d, "train", "losses", losses, STEPS);
        printf("%s: %d AdamW steps, loss %.4f -> %.4f\n", tag, STEPS, losses[0], losses[STEPS - 1]);
        free(db);
        free(mom);
        free(var);
    }
    printf("%s: %zu parameters, loss %.6f\n", tag, n, loss);
    free(p);
    free(g);
    free(lg);
    free(lv);
    free(chunk);
    free(inp);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.bin\n", argv[0]);
        return 2;
    }
    struct ll_dump d;
    if (ll_dump_open(&d, argv[1]))
        return 1;
    ll_seed(5);
    int bad = 0;
    struct tr_llama_config c;
    /* 2 layers, C 32 (4 heads of 8), kv 2, F 48, T 12, V 61 (Vp 128) */
    tr_llama_config_defaults(&c, 2, 4, 32, 12, 61);
    c.n_kv_head = 2;
    c.ffn_dim = 48;
    c.rope_theta = 500.0;   /* angles that turn within the 12 positions */
    bad |= dump_model(&d, "gqa", &c, 3, 1);
    tr_llama_config_defaults(&c, 3, 4, 32, 10, 45);
    c.n_kv_head = 1;
    c.ffn_dim = 40;
    c.tie_embeddings = true;
    c.norm_eps = 1e-6f;
    bad |= dump_model(&d, "mqa", &c, 2, 0);
    if (ll_dump_close(&d))
        return 1;
    return bad;
}
