/* GPT-2 on the GPU from the kn_* launchers (mirror of tr_cpu_model.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "cuda_check.h"
#include "encoder.h"
#include "flash_attention.h"
#include "gradnorm.h"
#include "layernorm.h"
#include "matmul.h"
#include "residual.h"
#include "tr_carve.h"
#include "tr_cuda_model.h"
#include "tr_cuda_prof.h"
#include "xent.h"

struct layer_acts {
    void *ln1, *qkv, *atty, *res2, *ln2, *fch, *fch_gelu, *res3;   /* dtype */
    void *att;          /* [B, NH, T, T] probabilities (materialised attention) */
    float *lse;         /* [B, NH, T] row log-sum-exps (flash attention) */
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd;
};

struct tr_cuda_model {
    struct tr_config cfg;
    int max_batch;
    kn_dtype dt;
    size_t es;                  /* bytes per activation element */
    bool flash;                 /* flash attention (bf16, hs 32/64) instead of materialised */
    kn_blas *blas;
    int B, T;                   /* shape of the last forward */
    const int32_t *inp;         /* its token ids (the caller's device buffer) */
    size_t off[TR_NUM_PARAMS];  /* element offsets of the parameter tensors */
    void *block;                /* the one allocation */
    size_t block_bytes;
    struct layer_acts *layers;
    void *encoded, *lnf, *logits, *tmp;
    float *lnf_mean, *lnf_rstd, *losses;
    int *correct;
    bool fuse_resln;            /* residual add + next LayerNorm in one kernel */
    bool ln_dbias;              /* attproj/fcproj bias gradients from the LayerNorm backward */
    tr_cuda_optime *optime;     /* per-operation timer (measurement only), or NULL */
    tr_cuda_grads_ready_fn grads_ready;   /* tr_cuda_model_on_grads_ready() */
    void *grads_ready_ctx;
    /* backward: gradients of the residual stream and of layer inputs */
    void *dres, *dC, *dqkv, *dfch;
    void *scratch;
    size_t scratch_bytes;
};

static size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Carve n elements of sz bytes at *off, 256-byte aligned (tr_carve.h:
 * saturating, so an overflowing shape sizes as TR_CARVE_TOO_BIG). base
 * NULL: sizing pass. */
static void *carve(char *base, size_t *off, size_t n, size_t sz)
{
    return tr_carve(base, off, n, sz, 256);
}

/* Scratch: the largest need of any one launcher (they run one after the
 * other on one stream, so they share it). */
static int scratch_need(const struct tr_config *c, int B, kn_dtype dt, bool flash, size_t *out)
{
    int N = B * c->seq_len, C = c->n_embd;
    size_t s = kn_flash_attention_bwd_dbias_scratch_bytes(B, c->seq_len, C, c->n_head);
    if (!flash) {
        s = max_sz(s, kn_attention_fwd_scratch_bytes(B, c->seq_len, C, c->n_head, dt));
        s = max_sz(s, kn_attention_bwd_scratch_bytes(B, c->seq_len, C, c->n_head, dt));
    }
    s = max_sz(s, kn_layernorm_bwd_scratch_bytes(N, C));
    s = max_sz(s, kn_matmul_bwd_scratch_bytes(N, 4 * C));
    s = max_sz(s, kn_matmul_bwd_inp_dgelu_bias_scratch_bytes(N, 4 * C));
    s = max_sz(s, kn_matmul_bwd_scratch_bytes(N, 3 * C));
    s = max_sz(s, kn_matmul_bwd_scratch_bytes(N, C));
    s = max_sz(s, kn_global_norm_scratch_bytes());
    size_t enc = 0;
    int err = kn_encoder_bwd_scratch_bytes(&enc, B, c->seq_len, c->vocab);
    if (err)
        return err;
    *out = max_sz(s, enc);
    return 0;
}

static size_t layout(tr_cuda_model *m, char *base)
{
    const struct tr_config *c = &m->cfg;
    size_t N = (size_t)m->max_batch * c->seq_len, C = c->n_embd, off = 0, es = m->es;
    size_t att = tr_szmul(tr_szmul((size_t)m->max_batch * c->n_head, c->seq_len), c->seq_len);
    size_t rows = (size_t)m->max_batch * c->n_head * c->seq_len;
    size_t F = sizeof(float);
    m->encoded = carve(base, &off, N * C, es);
    for (int l = 0; l < c->n_layer; l++) {
        struct layer_acts *a = &m->layers[l];
        a->ln1 = carve(base, &off, N * C, es);
        a->ln1_mean = carve(base, &off, N, F);
        a->ln1_rstd = carve(base, &off, N, F);
        a->qkv = carve(base, &off, N * 3 * C, es);
        a->atty = carve(base, &off, N * C, es);
        if (m->flash)
            a->lse = carve(base, &off, rows, F);
        else
            a->att = carve(base, &off, att, es);
        a->res2 = carve(base, &off, N * C, es);
        a->ln2 = carve(base, &off, N * C, es);
        a->ln2_mean = carve(base, &off, N, F);
        a->ln2_rstd = carve(base, &off, N, F);
        a->fch = carve(base, &off, N * 4 * C, es);
        a->fch_gelu = carve(base, &off, N * 4 * C, es);
        a->res3 = carve(base, &off, N * C, es);
    }
    m->lnf = carve(base, &off, N * C, es);
    m->lnf_mean = carve(base, &off, N, F);
    m->lnf_rstd = carve(base, &off, N, F);
    m->logits = carve(base, &off, N * c->vocab_padded, es);
    m->losses = carve(base, &off, N, F);
    m->correct = carve(base, &off, N, sizeof(int));
    m->tmp = carve(base, &off, N * C, es);
    m->dres = carve(base, &off, N * C, es);
    m->dC = carve(base, &off, N * C, es);
    m->dqkv = carve(base, &off, N * 3 * C, es);
    m->dfch = carve(base, &off, N * 4 * C, es);
    m->scratch = carve(base, &off, m->scratch_bytes, 1);
    return (off + 255) & ~(size_t)255;
}

int tr_cuda_model_create(const struct tr_config *c, int max_batch, kn_dtype dt, kn_blas *blas,
                         tr_cuda_model **out)
{
    *out = NULL;
    int err = tr_config_check(c);
    if (err)
        return err;
    if (max_batch < 1 || (int64_t)max_batch * c->seq_len > (1 << 30) ||
        (int64_t)max_batch * c->seq_len * c->vocab_padded > (int64_t)1 << 40)
        return ingot_fail(INGOT_E_USAGE, "cuda: batch %d x seq-len %d is out of range",
                          max_batch, c->seq_len);
    tr_cuda_model *m = calloc(1, sizeof(*m));
    if (!m)
        return ingot_oom("cuda model", sizeof(*m));
    m->cfg = *c;
    m->max_batch = max_batch;
    m->dt = dt;
    m->es = kn_dtype_size(dt);
    m->blas = blas;
    for (int id = 0; id < TR_NUM_PARAMS; id++)
        m->off[id] = tr_param_offset(c, id);
    m->layers = calloc((size_t)c->n_layer, sizeof(*m->layers));
    if (!m->layers) {
        free(m);
        return ingot_oom("cuda model layer table", (size_t)c->n_layer * sizeof(*m->layers));
    }
    /* Flash attention where the kernels support the shape; INGOT_FLASH=0
     * forces the materialised path (for comparisons). */
    m->flash = kn_flash_attention_supported(c->n_embd, c->n_head, dt) && !kn_env_off("INGOT_FLASH");
    /* INGOT_FUSE_RESLN=0: separate residual and LayerNorm passes (for
     * before/after timings; same values). */
    m->fuse_resln = !kn_env_off("INGOT_FUSE_RESLN");
    /* The bias gradients of the attention and MLP output projections are the
     * column sums of the residual-stream gradient the LayerNorm backward
     * above them writes, so it sums them there (kn_layernorm_bwd_sum) and
     * the two bias passes over [N, C] go. Timed at C 768 and 1024
     * (docs/performance.md); above 1024 the third shared-memory slice costs
     * the vectorised LayerNorm backward its second block per multiprocessor,
     * untimed, so there it takes INGOT_LN_DBIAS=1 (C up to 2048).
     * INGOT_LN_DBIAS=0: the bias passes everywhere. */
    const char *env = getenv("INGOT_LN_DBIAS");
    m->ln_dbias = env && !strcmp(env, "0")   ? false
                  : env && !strcmp(env, "1") ? c->n_embd <= 2048
                                             : c->n_embd <= 1024;
    if ((err = scratch_need(c, max_batch, dt, m->flash, &m->scratch_bytes))) {
        tr_cuda_model_free(m);
        return err;
    }
    m->block_bytes = layout(m, NULL);
    if ((err = tr_carve_check(m->block_bytes, "cuda model", max_batch, c->seq_len, c->n_layer))) {
        tr_cuda_model_free(m);
        return err;
    }
    cudaError_t e = cudaMalloc(&m->block, m->block_bytes);
    if (e != cudaSuccess) {
        size_t mb = m->block_bytes >> 20, free_b = 0, total_b = 0;
        (void)cudaGetLastError();
        (void)cudaMemGetInfo(&free_b, &total_b);
        m->block = NULL;
        tr_cuda_model_free(m);
        return ingot_fail(e == cudaErrorMemoryAllocation ? -ENOMEM : INGOT_E_CUDA,
                          "cuda: cannot allocate %zu MiB of activations (%zu MiB free of %zu): "
                          "%s; lower --batch (use --batch-tokens to keep the step size) or "
                          "--seq-len", mb, free_b >> 20, total_b >> 20, cudaGetErrorString(e));
    }
    /* Zero once, so that nothing uninitialised is ever read (padded logit
     * columns, attention entries above the diagonal). */
    CUDA_CHECK(cudaMemset(m->block, 0, m->block_bytes));
    layout(m, m->block);
    *out = m;
    return 0;
}

void tr_cuda_model_free(tr_cuda_model *m)
{
    if (!m)
        return;
    if (m->block)
        cudaFree(m->block);
    free(m->layers);
    free(m);
}

bool tr_cuda_model_flash(const tr_cuda_model *m)
{
    return m->flash;
}

size_t tr_cuda_model_bytes(const tr_cuda_model *m)
{
    return m->block_bytes;
}

void *tr_cuda_model_scratch(const tr_cuda_model *m, size_t *bytes)
{
    *bytes = m->scratch_bytes;
    return m->scratch;
}

const void *tr_cuda_logits(const tr_cuda_model *m)
{
    return m->logits;
}

const float *tr_cuda_losses(const tr_cuda_model *m)
{
    return m->losses;
}

/* Tensor id's layer-l slice of per_layer elements: in the dtype copy... */
static const void *wp(const tr_cuda_model *m, const void *w, int id, size_t l, size_t per_layer)
{
    return (const char *)w + (m->off[id] + l * per_layer) * m->es;
}

/* ...and in the float32 gradients. */
static float *gp(const tr_cuda_model *m, float *g, int id, size_t l, size_t per_layer)
{
    return g + m->off[id] + l * per_layer;
}

int tr_cuda_forward(tr_cuda_model *m, const void *w, const int32_t *inp, const int32_t *tgt,
                    int B, int T, float dloss, float *loss_sum, int *correct_sum,
                    int accumulate, cudaStream_t s)
{
    const struct tr_config *c = &m->cfg;
    const kn_dtype dt = m->dt;
    const int C = c->n_embd, NH = c->n_head, N = B * T;
    const size_t NC = (size_t)N * C, uC = (size_t)C;
    int err;
    if (B < 1 || B > m->max_batch || T < 1 || T > c->seq_len)
        return ingot_fail(INGOT_E_USAGE, "cuda: forward of %d x %d tokens (model sized for %d x "
                          "%d)", B, T, m->max_batch, c->seq_len);
    m->B = B;
    m->T = T;
    m->inp = inp;

#define RUN(call)                \
    do {                         \
        if ((err = (call)))      \
            return err;          \
    } while (0)
/* RUN, then (with the op timer on) mark the end of operation name, whose
 * FLOPs are flops. */
#define OP(name, flops, call)                                              \
    do {                                                                   \
        RUN(call);                                                         \
        if (m->optime)                                                     \
            RUN(tr_cuda_optime_mark(m->optime, name, (double)(flops), s)); \
    } while (0)
    /* x IC x OC: the FLOPs of an [N, IC] x [IC, OC] product (2 per multiply-add) */
    const double mmf = 2.0 * N;
    if (m->optime)
        RUN(tr_cuda_optime_mark(m->optime, NULL, 0, s));
    OP("encoder_fwd", 0, kn_encoder_fwd(m->encoded, inp, wp(m, w, TR_WTE, 0, 0),
                                        wp(m, w, TR_WPE, 0, 0), B, T, C, c->vocab, dt, s));
    const void *res = m->encoded;
    /* n_layer >= 1 (tr_config_check) */
    OP("layernorm_fwd", 0, kn_layernorm_fwd(m->layers[0].ln1, m->layers[0].ln1_mean,
                                            m->layers[0].ln1_rstd, res, wp(m, w, TR_LN1W, 0, uC),
                                            wp(m, w, TR_LN1B, 0, uC), N, C, dt, s));
    for (int l = 0; l < c->n_layer; l++) {
        struct layer_acts *a = &m->layers[l];
        size_t L = (size_t)l;
        /* ln1 of this layer was written by the previous layer's last step
         * (or above, for layer 0). */
        OP("matmul_fwd qkv", mmf * C * 3 * C,
           kn_matmul_fwd(m->blas, a->qkv, NULL, a->ln1, wp(m, w, TR_QKVW, L, 3 * uC * uC),
                         wp(m, w, TR_QKVB, L, 3 * uC), N, C, 3 * C, dt, s));
        if (m->flash)
            OP("attention_fwd", 2.0 * B * NH * (double)T * T * (C / NH),
               kn_flash_attention_fwd(a->atty, a->lse, a->qkv, B, T, C, NH, dt, s));
        else
            OP("attention_fwd", 0, kn_attention_fwd(m->blas, a->atty, a->att, a->qkv, B, T, C, NH,
                                                    dt, m->scratch, m->scratch_bytes, s));
        OP("matmul_fwd attproj", mmf * C * C,
           kn_matmul_fwd(m->blas, m->tmp, NULL, a->atty, wp(m, w, TR_ATTPROJW, L, uC * uC),
                         wp(m, w, TR_ATTPROJB, L, uC), N, C, C, dt, s));
        const void *ln2w = wp(m, w, TR_LN2W, L, uC), *ln2b = wp(m, w, TR_LN2B, L, uC);
        if (m->fuse_resln) {
            OP("residual_ln_fwd", 0, kn_residual_layernorm_fwd(a->res2, a->ln2, a->ln2_mean,
                                                               a->ln2_rstd, res, m->tmp, ln2w,
                                                               ln2b, N, C, dt, s));
        } else {
            OP("residual_fwd", 0, kn_residual_fwd(a->res2, res, m->tmp, NC, dt, s));
            OP("layernorm_fwd", 0, kn_layernorm_fwd(a->ln2, a->ln2_mean, a->ln2_rstd, a->res2,
                                                    ln2w, ln2b, N, C, dt, s));
        }
        /* fc with the GELU in the GEMM epilogue; the pre-activation is kept
         * for the backward pass. */
        OP("matmul_fwd fc+gelu", mmf * C * 4 * C,
           kn_matmul_fwd(m->blas, a->fch_gelu, a->fch, a->ln2, wp(m, w, TR_FCW, L, 4 * uC * uC),
                         wp(m, w, TR_FCB, L, 4 * uC), N, C, 4 * C, dt, s));
        OP("matmul_fwd fcproj", mmf * C * 4 * C,
           kn_matmul_fwd(m->blas, m->tmp, NULL, a->fch_gelu, wp(m, w, TR_FCPROJW, L, 4 * uC * uC),
                         wp(m, w, TR_FCPROJB, L, uC), N, 4 * C, C, dt, s));
        /* res3 = res2 + tmp, then the next LayerNorm: the next layer's ln1,
         * or after the last layer the final one. */
        bool last = l == c->n_layer - 1;
        struct layer_acts *nx = last ? NULL : &m->layers[l + 1];
        void *lo = last ? m->lnf : nx->ln1;
        float *lm = last ? m->lnf_mean : nx->ln1_mean, *lr = last ? m->lnf_rstd : nx->ln1_rstd;
        const void *lw = last ? wp(m, w, TR_LNFW, 0, 0) : wp(m, w, TR_LN1W, L + 1, uC);
        const void *lb = last ? wp(m, w, TR_LNFB, 0, 0) : wp(m, w, TR_LN1B, L + 1, uC);
        if (m->fuse_resln) {
            OP("residual_ln_fwd", 0, kn_residual_layernorm_fwd(a->res3, lo, lm, lr, a->res2,
                                                               m->tmp, lw, lb, N, C, dt, s));
        } else {
            OP("residual_fwd", 0, kn_residual_fwd(a->res3, a->res2, m->tmp, NC, dt, s));
            OP("layernorm_fwd", 0, kn_layernorm_fwd(lo, lm, lr, a->res3, lw, lb, N, C, dt, s));
        }
        res = a->res3;
    }
    OP("matmul_fwd lm_head", mmf * C * c->vocab_padded,
       kn_matmul_fwd(m->blas, m->logits, NULL, m->lnf, wp(m, w, TR_WTE, 0, 0), NULL, N, C,
                     c->vocab_padded, dt, s));
    if (!tgt)
        return 0;
    /* The fused classifier: losses, hits and (training) the logit gradient
     * written over the logits. */
    OP("softmax_xent", 0, kn_softmax_xent(m->losses, dloss > 0.0f ? m->logits : NULL, m->correct,
                                          m->logits, tgt, N, c->vocab, c->vocab_padded, dloss, dt,
                                          s));
    if (loss_sum || correct_sum)
        OP("xent_sum", 0, kn_xent_sum(loss_sum, correct_sum, m->losses, m->correct, N,
                                      accumulate, s));
    return 0;
}

/* The tensors the backward writes whole with a product: the weights (wte
 * through the output head's, first). Every other gradient is summed into
 * (biases, LayerNorms, wpe). */
static bool written_by_product(int id)
{
    return id == TR_WTE || id == TR_QKVW || id == TR_ATTPROJW || id == TR_FCW ||
           id == TR_FCPROJW;
}

/* write: the gradients the backward sums into, cleared, one memset per run
 * of them in the layout (5 for GPT-2's 16 tensors, about 1% of the floats). */
static int clear_summed(const tr_cuda_model *m, float *g, cudaStream_t s)
{
    const size_t total = tr_param_count(&m->cfg);
    size_t run0 = 0, run = 0;   /* the run of summed tensors being gathered */
    for (int id = 0; id <= TR_NUM_PARAMS; id++) {
        if (id < TR_NUM_PARAMS && !written_by_product(id)) {
            const size_t end = id + 1 < TR_NUM_PARAMS ? m->off[id + 1] : total;
            if (!run)
                run0 = m->off[id];
            run = end - run0;
        } else if (run) {
            CUDA_CHECK(cudaMemsetAsync(g + run0, 0, run * sizeof(float), s));
            run = 0;
        }
    }
    return 0;
}

int tr_cuda_backward(tr_cuda_model *m, const void *w, float *g, int write, cudaStream_t s)
{
    const struct tr_config *c = &m->cfg;
    const kn_dtype dt = m->dt;
    const int B = m->B, T = m->T, C = c->n_embd, NH = c->n_head, N = B * T;
    const size_t uC = (size_t)C;
    void *sc = m->scratch;
    const size_t scb = m->scratch_bytes;
    const void *last = c->n_layer ? m->layers[c->n_layer - 1].res3 : m->encoded;
    int err;

    const double mmf = 2.0 * N;   /* x IC x OC: FLOPs of one product */
    const int add = !write;       /* the weight gradients: added to, or written */
    if (write)
        RUN(clear_summed(m, g, s));
    if (m->optime)
        RUN(tr_cuda_optime_mark(m->optime, NULL, 0, s));
    /* Output head (tied to wte), then the final LayerNorm; dres carries the
     * gradient of the residual stream downwards (written here, added to by
     * every LayerNorm backward below). */
    OP("matmul_bwd_inp lm_head", mmf * C * c->vocab_padded,
       kn_matmul_bwd_inp(m->blas, m->dC, m->logits, wp(m, w, TR_WTE, 0, 0), NULL, N, C,
                         c->vocab_padded, 0, dt, s));
    OP("matmul_bwd_w lm_head", mmf * C * c->vocab_padded,
       kn_matmul_bwd_weight(m->blas, gp(m, g, TR_WTE, 0, 0), m->logits, m->lnf, N, C,
                            c->vocab_padded, add, dt, s));
    /* With ln_dbias, each LayerNorm backward also sums the residual-stream
     * gradient it writes: the bias gradient of the projection below it
     * (fcproj of the layer below, attproj of its own layer). */
    const size_t Lt = (size_t)c->n_layer - 1;
    OP("layernorm_bwd", 0,
       kn_layernorm_bwd_sum(m->dres, gp(m, g, TR_LNFW, 0, 0), gp(m, g, TR_LNFB, 0, 0),
                            m->ln_dbias ? gp(m, g, TR_FCPROJB, Lt, uC) : NULL, m->dC, last,
                            wp(m, w, TR_LNFW, 0, 0), m->lnf_mean, m->lnf_rstd, N, C, 0, dt, sc,
                            scb, s));
    for (int l = c->n_layer - 1; l >= 0; l--) {
        struct layer_acts *a = &m->layers[l];
        const void *res = l ? m->layers[l - 1].res3 : m->encoded;
        size_t L = (size_t)l;
        /* res3 = res2 + fcproj(gelu(fc(ln2(res2)))); dGELU fused into the
         * GEMM epilogue: dfch is the gradient of the pre-activation, and
         * the product sums it into fc's bias gradient as it goes. */
        OP("matmul_bwd_inp fcproj+dgelu+db", mmf * 4 * C * C,
           kn_matmul_bwd_inp_dgelu_bias(m->blas, m->dfch, gp(m, g, TR_FCB, L, 4 * uC), m->dres,
                                        wp(m, w, TR_FCPROJW, L, 4 * uC * uC), a->fch, N, 4 * C,
                                        C, dt, sc, scb, s));
        OP("matmul_bwd_w+b fcproj", mmf * 4 * C * C,
           kn_matmul_bwd(m->blas, NULL, gp(m, g, TR_FCPROJW, L, 4 * uC * uC),
                         m->ln_dbias ? NULL : gp(m, g, TR_FCPROJB, L, uC), m->dres, a->fch_gelu,
                         NULL, N, 4 * C, C, add, dt, sc, scb, s));
        OP("matmul_bwd_w fc", mmf * 4 * C * C,
           kn_matmul_bwd(m->blas, NULL, gp(m, g, TR_FCW, L, 4 * uC * uC), NULL, m->dfch, a->ln2,
                         wp(m, w, TR_FCW, L, 4 * uC * uC), N, C, 4 * C, add, dt, sc, scb, s));
        OP("matmul_bwd_inp fc", mmf * 4 * C * C,
           kn_matmul_bwd_inp(m->blas, m->dC, m->dfch, wp(m, w, TR_FCW, L, 4 * uC * uC), NULL, N,
                             C, 4 * C, 0, dt, s));
        OP("layernorm_bwd", 0,
           kn_layernorm_bwd_sum(m->dres, gp(m, g, TR_LN2W, L, uC), gp(m, g, TR_LN2B, L, uC),
                                m->ln_dbias ? gp(m, g, TR_ATTPROJB, L, uC) : NULL, m->dC,
                                a->res2, wp(m, w, TR_LN2W, L, uC), a->ln2_mean, a->ln2_rstd, N,
                                C, 1, dt, sc, scb, s));
        /* res2 = res + attproj(attention(qkv(ln1(res)))) */
        OP("matmul_bwd_inp attproj", mmf * C * C,
           kn_matmul_bwd_inp(m->blas, m->dC, m->dres, wp(m, w, TR_ATTPROJW, L, uC * uC), NULL, N,
                             C, C, 0, dt, s));
        OP("matmul_bwd_w+b attproj", mmf * C * C,
           kn_matmul_bwd(m->blas, NULL, gp(m, g, TR_ATTPROJW, L, uC * uC),
                         m->ln_dbias ? NULL : gp(m, g, TR_ATTPROJB, L, uC), m->dres, a->atty,
                         NULL, N, C, C, add, dt, sc, scb, s));
        /* flash: qkv's bias gradient comes with the attention backward
         * (summed by its epilogues where the Hopper kernels run) */
        if (m->flash)
            OP("attention_bwd", 5.0 * B * NH * (double)T * T * (C / NH),
               kn_flash_attention_bwd_dbias(m->dqkv, gp(m, g, TR_QKVB, L, 3 * uC), m->dC, a->qkv,
                                            a->atty, a->lse, B, T, C, NH, dt, sc, scb, s));
        else
            OP("attention_bwd", 0, kn_attention_bwd(m->blas, m->dqkv, m->dC, a->qkv, a->att, B,
                                                    T, C, NH, 0, dt, sc, scb, s));
        OP("matmul_bwd_inp qkv", mmf * 3 * C * C,
           kn_matmul_bwd_inp(m->blas, m->dC, m->dqkv, wp(m, w, TR_QKVW, L, 3 * uC * uC), NULL, N,
                             C, 3 * C, 0, dt, s));
        OP(m->flash ? "matmul_bwd_w qkv" : "matmul_bwd_w+b qkv", mmf * 3 * C * C,
           kn_matmul_bwd(m->blas, NULL, gp(m, g, TR_QKVW, L, 3 * uC * uC),
                         m->flash ? NULL : gp(m, g, TR_QKVB, L, 3 * uC), m->dqkv, a->ln1, NULL, N,
                         C, 3 * C, add, dt, sc, scb, s));
        OP("layernorm_bwd", 0,
           kn_layernorm_bwd_sum(m->dres, gp(m, g, TR_LN1W, L, uC), gp(m, g, TR_LN1B, L, uC),
                                m->ln_dbias && l ? gp(m, g, TR_FCPROJB, L - 1, uC) : NULL, m->dC,
                                res, wp(m, w, TR_LN1W, L, uC), a->ln1_mean, a->ln1_rstd, N, C, 1,
                                dt, sc, scb, s));
        if (m->grads_ready)
            RUN(m->grads_ready(m->grads_ready_ctx, l, s));
    }
    OP("encoder_bwd", 0, kn_encoder_bwd(gp(m, g, TR_WTE, 0, 0), gp(m, g, TR_WPE, 0, 0), m->dres,
                                        m->inp, B, T, C, c->vocab, dt, sc, scb, s));
    if (m->grads_ready)
        RUN(m->grads_ready(m->grads_ready_ctx, -1, s));
#undef OP
#undef RUN
    return 0;
}

void tr_cuda_model_set_optime(tr_cuda_model *m, tr_cuda_optime *t)
{
    m->optime = t;
}

void tr_cuda_model_on_grads_ready(tr_cuda_model *m, tr_cuda_grads_ready_fn fn, void *ctx)
{
    m->grads_ready = fn;
    m->grads_ready_ctx = ctx;
}
