/* LLaMA on the GPU from the kn_* launchers (mirror of tr_cpu_llama.c).
 *
 * Attention, one of three paths (chosen at creation; INGOT_LLAMA_ATTN=gqa,
 * expand or mat forces one, INGOT_FLASH=0 means mat):
 *  gqa     (default where kn_flash_gqa_supported: bf16, hs 32/64, 128 on
 *          Hopper) RoPE on the packed qkv, in the QKV product's epilogue
 *          on Hopper (kn_matmul_fwd_rope; elsewhere, and with
 *          INGOT_LLAMA_ROPE_EPI=0, one pass over q and k after it), then
 *          flash attention reading kv head h / (NH/NKV) directly; the
 *          backward's dqkv comes out packed (group sums inside the kernel)
 *          and the inverse RoPE runs in place on it.
 *  expand  the layer keeps the QKV product unrotated; kn_rope_expand_fwd
 *          rotates and repeats the kv heads into a shared [q | k | v] buffer
 *          in one pass for the multi-head flash kernels; the backward
 *          recomputes that buffer (one memory-bound pass instead of keeping
 *          3C more per token per layer) and kn_rope_expand_bwd folds the
 *          group sums and the inverse rotation into one pass.
 *  mat     as expand, with the materialised attention (fp32; head sizes the
 *          flash kernels do not take). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "cuda_check.h"
#include "encoder.h"
#include "flash_attention.h"
#include "matmul.h"
#include "rmsnorm.h"
#include "rope.h"
#include "tr_carve.h"
#include "tr_cuda_llama.h"
#include "xent.h"

enum llama_attn { LA_GQA, LA_EXPAND, LA_MAT };

struct llama_layer {
    void *an, *qkv, *y, *att, *x2, *fn, *gu, *h, *x3;   /* dtype (see tr_cpu_llama.c) */
    float *an_rstd, *fn_rstd;
    float *lse;   /* [B, NH, T] flash attention's row log-sum-exps; att unused then */
};

struct tr_cuda_llama {
    struct tr_llama_config cfg;
    int max_batch;
    kn_dtype dt;
    size_t es;                     /* bytes per activation element */
    kn_blas *blas;
    enum llama_attn attn;          /* the attention path (see the top) */
    int B, T;                      /* shape of the last forward */
    const int32_t *inp;            /* its token ids (the caller's device buffer) */
    size_t off[TL_NUM_PARAMS];     /* element offsets of the parameter tensors */
    void *block;                   /* the one allocation */
    size_t block_bytes;
    struct llama_layer *layers;
    float *rope;                   /* [seq_len, hs/2, 2] */
    void *emb, *zero_pos;          /* [N,C]; [seq_len,C] zeros: the encoder's wpe */
    float *dpos;                   /* [seq_len,C] the encoder's (unused) dwpe */
    void *xn, *logits, *tmp;
    float *xn_rstd, *losses;
    int *correct;
    void *dres, *dC, *dqkv, *dgu, *dh;
    void *qkv3, *d3;               /* [N, 3C] the expanded [q|k|v] and its gradient */
    void *scratch;
    size_t scratch_bytes;
    bool res_epi;                  /* the residual adds in the products' epilogues */
    bool rope_epi;                 /* RoPE in the QKV product's epilogue (LA_GQA) */
    tr_cuda_llama_grads_ready_fn grads_ready;
    void *grads_ready_ctx;
    struct tr_cuda_optime *optime; /* per-operation timer (measurement only), or NULL */
    tr_cuda_llama_mark_fn mark;    /* its mark function */
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

/* The largest scratch need of any one launcher (they run one after the
 * other on one stream and share it). */
static int scratch_need(const struct tr_llama_config *c, int B, kn_dtype dt,
                        enum llama_attn attn, size_t *out)
{
    const int N = B * c->seq_len, T = c->seq_len, C = c->n_embd, NH = c->n_head;
    /* the gqa path's flash backward; the others run it on expanded heads */
    size_t s = attn == LA_GQA
                   ? kn_flash_gqa_bwd_scratch_bytes(B, T, NH, c->n_kv_head, tr_llama_head_dim(c))
                   : kn_flash_attention_bwd_scratch_bytes(B, T, C, NH);
    if (attn == LA_MAT) {
        s = max_sz(s, kn_attention_fwd_scratch_bytes(B, T, C, NH, dt));
        s = max_sz(s, kn_attention_bwd_scratch_bytes(B, T, C, NH, dt));
    }
    s = max_sz(s, kn_rmsnorm_bwd_scratch_bytes(N, c->n_embd));
    size_t enc = 0;
    int err = kn_encoder_bwd_scratch_bytes(&enc, B, c->seq_len, c->vocab);
    if (err)
        return err;
    *out = max_sz(s, enc);
    return 0;
}

static size_t layout(tr_cuda_llama *m, char *base)
{
    const struct tr_llama_config *c = &m->cfg;
    size_t N = (size_t)m->max_batch * c->seq_len, C = c->n_embd, F = c->ffn_dim, es = m->es;
    size_t W = tr_llama_qkv_dim(c), hs = tr_llama_head_dim(c), off = 0, S = sizeof(float);
    const bool mat = m->attn == LA_MAT;
    size_t att = mat ? tr_szmul(tr_szmul((size_t)m->max_batch * c->n_head, c->seq_len), c->seq_len) : 0;
    size_t lse = mat ? 0 : (size_t)m->max_batch * c->n_head * c->seq_len;
    size_t n3 = m->attn == LA_GQA ? 0 : N * 3 * C;
    m->rope = carve(base, &off, (size_t)c->seq_len * hs, S);
    m->emb = carve(base, &off, N * C, es);
    m->zero_pos = carve(base, &off, (size_t)c->seq_len * C, es);
    m->dpos = carve(base, &off, (size_t)c->seq_len * C, S);
    for (int l = 0; l < c->n_layer; l++) {
        struct llama_layer *a = &m->layers[l];
        a->an = carve(base, &off, N * C, es);
        a->an_rstd = carve(base, &off, N, S);
        a->qkv = carve(base, &off, N * W, es);
        a->y = carve(base, &off, N * C, es);
        a->att = carve(base, &off, att, es);
        a->lse = carve(base, &off, lse, S);
        a->x2 = carve(base, &off, N * C, es);
        a->fn = carve(base, &off, N * C, es);
        a->fn_rstd = carve(base, &off, N, S);
        a->gu = carve(base, &off, N * 2 * F, es);
        a->h = carve(base, &off, N * F, es);
        a->x3 = carve(base, &off, N * C, es);
    }
    m->xn = carve(base, &off, N * C, es);
    m->xn_rstd = carve(base, &off, N, S);
    m->logits = carve(base, &off, N * c->vocab_padded, es);
    m->losses = carve(base, &off, N, S);
    m->correct = carve(base, &off, N, sizeof(int));
    m->tmp = carve(base, &off, N * C, es);
    m->dres = carve(base, &off, N * C, es);
    m->dC = carve(base, &off, N * C, es);
    m->dqkv = carve(base, &off, N * W, es);
    m->dgu = carve(base, &off, N * 2 * F, es);
    m->dh = carve(base, &off, N * F, es);
    m->qkv3 = carve(base, &off, n3, es);
    m->d3 = carve(base, &off, n3, es);
    m->scratch = carve(base, &off, m->scratch_bytes, 1);
    return (off + 255) & ~(size_t)255;
}

/* The fastest path the kernels take for this shape, or the one the
 * environment names (refused by name when the kernels cannot take it). */
static int pick_attention(tr_cuda_llama *m)
{
    const struct tr_llama_config *c = &m->cfg;
    const int hs = tr_llama_head_dim(c);
    const bool gqa = kn_flash_gqa_supported(c->n_head, c->n_kv_head, hs, m->dt);
    const bool mha = kn_flash_attention_supported(c->n_embd, c->n_head, m->dt);
    const char *env = getenv("INGOT_LLAMA_ATTN");
    m->attn = gqa ? LA_GQA : mha ? LA_EXPAND : LA_MAT;
    if (kn_env_off("INGOT_FLASH"))
        m->attn = LA_MAT;
    if (!env || !*env)
        return 0;
    if (!strcmp(env, "mat"))
        m->attn = LA_MAT;
    else if (!strcmp(env, "expand") && mha)
        m->attn = LA_EXPAND;
    else if (!strcmp(env, "gqa") && gqa)
        m->attn = LA_GQA;
    else
        return ingot_fail(INGOT_E_USAGE, "INGOT_LLAMA_ATTN=%s: not one of gqa, expand, mat, or "
                          "the flash kernels do not take %s with head size %d (gqa and expand "
                          "need bf16 and a head size of 32 or 64, or 128 on Hopper)", env,
                          kn_dtype_name(m->dt), hs);
    return 0;
}

int tr_cuda_llama_create(const struct tr_llama_config *c, int max_batch, kn_dtype dt,
                         kn_blas *blas, tr_cuda_llama **out)
{
    *out = NULL;
    int err = tr_llama_config_check(c);
    if (err)
        return err;
    if (max_batch < 1 || (int64_t)max_batch * c->seq_len > (1 << 30) ||
        (int64_t)max_batch * c->seq_len * c->vocab_padded > (int64_t)1 << 40)
        return ingot_fail(INGOT_E_USAGE, "cuda llama: batch %d x seq-len %d is out of range",
                          max_batch, c->seq_len);
    tr_cuda_llama *m = calloc(1, sizeof(*m));
    if (!m)
        return ingot_oom("cuda llama model", sizeof(*m));
    m->cfg = *c;
    m->max_batch = max_batch;
    m->dt = dt;
    m->es = kn_dtype_size(dt);
    m->blas = blas;
    m->res_epi = !kn_env_off("INGOT_LLAMA_RES_EPI");
    m->rope_epi = !kn_env_off("INGOT_LLAMA_ROPE_EPI");
    for (int id = 0; id < TL_NUM_PARAMS; id++)
        m->off[id] = tr_llama_param_offset(c, id);
    if (c->tie_embeddings)
        m->off[TL_LM_HEAD] = m->off[TL_WTE];
    m->layers = calloc((size_t)c->n_layer, sizeof(*m->layers));
    if (!m->layers) {
        free(m);
        return ingot_oom("cuda llama layer table", (size_t)c->n_layer * sizeof(*m->layers));
    }
    if ((err = pick_attention(m))) {
        tr_cuda_llama_free(m);
        return err;
    }
    if ((err = scratch_need(c, max_batch, dt, m->attn, &m->scratch_bytes))) {
        tr_cuda_llama_free(m);
        return err;
    }
    m->block_bytes = layout(m, NULL);
    if ((err = tr_carve_check(m->block_bytes, "cuda llama", max_batch, c->seq_len, c->n_layer))) {
        tr_cuda_llama_free(m);
        return err;
    }
    cudaError_t e = cudaMalloc(&m->block, m->block_bytes);
    if (e != cudaSuccess) {
        size_t mb = m->block_bytes >> 20, free_b = 0, total_b = 0;
        (void)cudaGetLastError();
        (void)cudaMemGetInfo(&free_b, &total_b);
        m->block = NULL;
        tr_cuda_llama_free(m);
        return ingot_fail(e == cudaErrorMemoryAllocation ? -ENOMEM : INGOT_E_CUDA,
                          "cuda llama: cannot allocate %zu MiB of activations (%zu MiB free of "
                          "%zu): %s; lower --batch or --seq-len", mb, free_b >> 20,
                          total_b >> 20, cudaGetErrorString(e));
    }
    /* Zero once: nothing uninitialised is ever read (padded logit columns,
     * attention entries above the diagonal), and zero_pos stays zero. */
    CUDA_CHECK(cudaMemset(m->block, 0, m->block_bytes));
    layout(m, m->block);
    if ((err = kn_rope_table(m->rope, c->seq_len, tr_llama_head_dim(c), c->rope_theta, 0))) {
        tr_cuda_llama_free(m);
        return err;
    }
    CUDA_CHECK(cudaDeviceSynchronize());
    *out = m;
    return 0;
}

void tr_cuda_llama_free(tr_cuda_llama *m)
{
    if (!m)
        return;
    if (m->block)
        cudaFree(m->block);
    free(m->layers);
    free(m);
}

bool tr_cuda_llama_flash(const tr_cuda_llama *m)
{
    return m->attn != LA_MAT;
}

const char *tr_cuda_llama_attention(const tr_cuda_llama *m)
{
    return m->attn == LA_GQA ? "gqa" : m->attn == LA_EXPAND ? "expand" : "mat";
}

size_t tr_cuda_llama_bytes(const tr_cuda_llama *m)
{
    return m->block_bytes;
}

void *tr_cuda_llama_scratch(const tr_cuda_llama *m, size_t *bytes)
{
    *bytes = m->scratch_bytes;
    return m->scratch;
}

void tr_cuda_llama_on_grads_ready(tr_cuda_llama *m, tr_cuda_llama_grads_ready_fn fn, void *ctx)
{
    m->grads_ready = fn;
    m->grads_ready_ctx = ctx;
}

const void *tr_cuda_llama_logits(const tr_cuda_llama *m)
{
    return m->logits;
}

const float *tr_cuda_llama_losses(const tr_cuda_llama *m)
{
    return m->losses;
}

/* Tensor id's layer-l slice of per_layer elements in the dtype copy... */
static const void *wp(const tr_cuda_llama *m, const void *w, int id, size_t l, size_t per_layer)
{
    return (const char *)w + (m->off[id] + l * per_layer) * m->es;
}

/* ...and in the float32 gradients. */
static float *gp(const tr_cuda_llama *m, float *g, int id, size_t l, size_t per_layer)
{
    return g + m->off[id] + l * per_layer;
}

#define RUN(call)           \
    do {                    \
        if ((err = (call))) \
            return err;     \
    } while (0)
/* RUN, then (with the op timer on) mark the end of operation name, which did
 * flops floating-point operations (0: not counted). Needs m and s in scope. */
#define OP(name, flops, call)                                          \
    do {                                                               \
        RUN(call);                                                     \
        if (m->optime)                                                 \
            RUN(m->mark(m->optime, name, (double)(flops), s));         \
    } while (0)

/* The op timer's start of a pass (nothing when it is off). */
static int pass_start(tr_cuda_llama *m, cudaStream_t s)
{
    return m->optime ? m->mark(m->optime, NULL, 0.0, s) : 0;
}

/* FLOPs of causal attention's forward over B x T tokens, counted as
 * tr_cuda_model.c counts them: q k^T and att v over the lower triangle,
 * 2 * 2 * B * NH * T * T * hs / 2 (the backward: 2.5 times that). The
 * materialised path gets 0: it multiplies the full square and its softmax
 * and masking are separate kernels, so a TFLOP/s figure would mislead. */
static double attention_flops(const tr_cuda_llama *m, int B, int T)
{
    if (m->attn == LA_MAT)
        return 0.0;
    return 2.0 * B * m->cfg.n_head * (double)T * T * tr_llama_head_dim(&m->cfg);
}

/* x = res + inp @ wo^T (inp [N, IC]: the attention's output or the SwiGLU),
 * then out, rstd = rmsnorm(x) with wn: the add in the product's epilogue,
 * which writes x directly; with INGOT_LLAMA_RES_EPI=0 (for comparisons) the
 * product into tmp and the add fused with the norm, one [N, C] written and
 * read more. */
static int residual_norm(tr_cuda_llama *m, const char *proj, void *x, void *out, float *rstd,
                         const void *res, const void *inp, const void *wo, int IC,
                         const void *wn, cudaStream_t s)
{
    const int C = m->cfg.n_embd, N = m->B * m->T;
    const double flops = 2.0 * N * (double)IC * C;
    int err;
    if (m->res_epi) {
        OP(proj, flops, kn_matmul_fwd_residual(m->blas, x, res, inp, wo, N, IC, C, m->dt, s));
        OP("rmsnorm_fwd", 0, kn_rmsnorm_fwd(out, rstd, x, wn, m->cfg.norm_eps, N, C, m->dt, s));
        return 0;
    }
    OP(proj, flops, kn_matmul_fwd(m->blas, m->tmp, NULL, inp, wo, NULL, N, IC, C, m->dt, s));
    OP("residual_rmsnorm_fwd", 0, kn_residual_rmsnorm_fwd(x, out, rstd, res, m->tmp, wn,
                                                          m->cfg.norm_eps, N, C, m->dt, s));
    return 0;
}

/* Layer a's qkv = an Wqkv^T; on the grouped-query path with RoPE in the
 * product (kn_matmul_fwd_rope: its epilogue where the own Hopper GEMM
 * takes it, else the product and kn_rope_fwd's pass) unless
 * INGOT_LLAMA_ROPE_EPI=0 (for comparisons: attention_fwd's pass). The
 * op's name stays the product's, so profiles compare. */
static int qkv_fwd(tr_cuda_llama *m, struct llama_layer *a, const void *wqkv, int B, int T,
                   cudaStream_t s)
{
    const struct tr_llama_config *c = &m->cfg;
    const int C = c->n_embd, W = tr_llama_qkv_dim(c), N = B * T;
    const double flops = 2.0 * N * (double)C * W;
    int err;
    if (m->attn == LA_GQA && m->rope_epi) {
        OP("matmul_fwd qkv", flops,
           kn_matmul_fwd_rope(m->blas, a->qkv, a->an, wqkv, m->rope, B, T, C, W,
                              c->n_head + c->n_kv_head, tr_llama_head_dim(c), m->dt, s));
        return 0;
    }
    OP("matmul_fwd qkv", flops,
       kn_matmul_fwd(m->blas, a->qkv, NULL, a->an, wqkv, NULL, N, C, W, m->dt, s));
    return 0;
}

/* y = attention(rope(qkv)) of layer a by the chosen path (see the top);
 * on the grouped-query path qkv_fwd may have rotated q and k already. */
static int attention_fwd(tr_cuda_llama *m, struct llama_layer *a, int B, int T, cudaStream_t s)
{
    const struct tr_llama_config *c = &m->cfg;
    const int C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, hs = tr_llama_head_dim(c);
    const int W = tr_llama_qkv_dim(c);
    const double fl = attention_flops(m, B, T);
    int err;
    if (m->attn == LA_GQA) {
        if (!m->rope_epi)
            OP("rope_fwd", 0,
               kn_rope_fwd(a->qkv, a->qkv, m->rope, B, T, NH + NKV, hs, W, m->dt, s));
        OP("attention_fwd", fl, kn_flash_gqa_fwd(a->y, a->lse, a->qkv, B, T, NH, NKV, hs, m->dt,
                                                 s));
        return 0;
    }
    OP("rope_expand_fwd", 0, kn_rope_expand_fwd(m->qkv3, a->qkv, m->rope, B, T, NH, NKV, hs,
                                                m->dt, s));
    if (m->attn == LA_EXPAND)
        OP("attention_fwd", fl, kn_flash_attention_fwd(a->y, a->lse, m->qkv3, B, T, C, NH, m->dt,
                                                       s));
    else
        OP("attention_fwd", fl, kn_attention_fwd(m->blas, a->y, a->att, m->qkv3, B, T, C, NH,
                                                 m->dt, m->scratch, m->scratch_bytes, s));
    return 0;
}

/* m->dqkv = the gradient w.r.t. layer a's QKV product, from m->dC (dy). */
static int attention_bwd(tr_cuda_llama *m, struct llama_layer *a, int B, int T, cudaStream_t s)
{
    const struct tr_llama_config *c = &m->cfg;
    const int C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, hs = tr_llama_head_dim(c);
    const double fl = 2.5 * attention_flops(m, B, T);
    void *sc = m->scratch;
    const size_t scb = m->scratch_bytes;
    int err;
    if (m->attn == LA_GQA) {
        /* RoPE's backward in the attention backward's stores (fused on
         * Hopper; kn_rope_bwd's pass after it elsewhere) */
        OP("attention_bwd", fl, kn_flash_gqa_rope_bwd(m->dqkv, m->dC, a->qkv, a->y, a->lse,
                                                      m->rope, B, T, NH, NKV, hs, m->dt, sc, scb,
                                                      s));
        return 0;
    }
    /* the forward's [q|k|v] again (not kept: see the top) */
    OP("rope_expand_recompute", 0, kn_rope_expand_fwd(m->qkv3, a->qkv, m->rope, B, T, NH,
                                                            NKV, hs, m->dt, s));
    if (m->attn == LA_EXPAND)
        OP("attention_bwd", fl, kn_flash_attention_bwd(m->d3, m->dC, m->qkv3, a->y, a->lse, B, T,
                                                       C, NH, 0, m->dt, sc, scb, s));
    else
        OP("attention_bwd", fl, kn_attention_bwd(m->blas, m->d3, m->dC, m->qkv3, a->att, B, T, C,
                                                 NH, 0, m->dt, sc, scb, s));
    OP("rope_expand_bwd", 0, kn_rope_expand_bwd(m->dqkv, m->d3, m->rope, B, T, NH, NKV, hs,
                                                m->dt, s));
    return 0;
}

int tr_cuda_llama_forward(tr_cuda_llama *m, const void *w, const int32_t *inp,
                          const int32_t *tgt, int B, int T, float dloss, float *loss_sum,
                          int *correct_sum, int accumulate, cudaStream_t s)
{
    const struct tr_llama_config *c = &m->cfg;
    const kn_dtype dt = m->dt;
    const int C = c->n_embd, F = c->ffn_dim, N = B * T;
    const int W = tr_llama_qkv_dim(c), Vp = c->vocab_padded;
    const size_t uC = (size_t)C, uF = (size_t)F, uW = (size_t)W;
    const float eps = c->norm_eps;
    int err;
    if (B < 1 || B > m->max_batch || T < 1 || T > c->seq_len)
        return ingot_fail(INGOT_E_USAGE, "cuda llama: forward of %d x %d tokens (model sized "
                          "for %d x %d)", B, T, m->max_batch, c->seq_len);
    m->B = B;
    m->T = T;
    m->inp = inp;

    /* x IC x OC: the FLOPs of an [N, IC] x [IC, OC] product (2 per multiply-add) */
    const double mmf = 2.0 * N;
    RUN(pass_start(m, s));
    /* the embedding: the GPT-2 encoder with an all-zero position table */
    OP("encoder_fwd", 0, kn_encoder_fwd(m->emb, inp, wp(m, w, TL_WTE, 0, 0), m->zero_pos, B, T,
                                        C, c->vocab, dt, s));
    OP("rmsnorm_fwd", 0, kn_rmsnorm_fwd(m->layers[0].an, m->layers[0].an_rstd, m->emb,
                                        wp(m, w, TL_ATTN_NORM, 0, uC), eps, N, C, dt, s));
    const void *res = m->emb;
    for (int l = 0; l < c->n_layer; l++) {
        struct llama_layer *a = &m->layers[l];
        size_t L = (size_t)l;
        RUN(qkv_fwd(m, a, wp(m, w, TL_WQKV, L, uW * uC), B, T, s));
        RUN(attention_fwd(m, a, B, T, s));
        RUN(residual_norm(m, "matmul_fwd wo", a->x2, a->fn, a->fn_rstd, res, a->y,
                          wp(m, w, TL_WO, L, uC * uC), C, wp(m, w, TL_FFN_NORM, L, uC), s));
        /* gu = fn Wgateup^T, h = swiglu(gu): one product where the SwiGLU
         * runs in its epilogue (matmul.h); the op's name fits the profile
         * table's column */
        OP("matmul_fwd swiglu", mmf * C * 2 * F,
           kn_matmul_fwd_swiglu(m->blas, a->h, a->gu, a->fn,
                                wp(m, w, TL_WGATEUP, L, 2 * uF * uC), N, C, F, dt, s));
        /* the add, then the next RMSNorm: the next layer's or the final one */
        int last = l == c->n_layer - 1;
        RUN(residual_norm(m, "matmul_fwd down", a->x3, last ? m->xn : m->layers[l + 1].an,
                          last ? m->xn_rstd : m->layers[l + 1].an_rstd, a->x2, a->h,
                          wp(m, w, TL_WDOWN, L, uC * uF), F,
                          last ? wp(m, w, TL_NORM, 0, 0) : wp(m, w, TL_ATTN_NORM, L + 1, uC), s));
        res = a->x3;
    }
    OP("matmul_fwd lm_head", mmf * C * Vp,
       kn_matmul_fwd(m->blas, m->logits, NULL, m->xn, wp(m, w, TL_LM_HEAD, 0, 0), NULL, N, C, Vp,
                     dt, s));
    if (!tgt)
        return 0;
    OP("softmax_xent", 0, kn_softmax_xent(m->losses, dloss > 0.0f ? m->logits : NULL, m->correct,
                                          m->logits, tgt, N, c->vocab, Vp, dloss, dt, s));
    if (loss_sum || correct_sum)
        OP("xent_sum", 0, kn_xent_sum(loss_sum, correct_sum, m->losses, m->correct, N,
                                      accumulate, s));
    return 0;
}

int tr_cuda_llama_backward(tr_cuda_llama *m, const void *w, float *g, int write,
                           cudaStream_t s)
{
    const struct tr_llama_config *c = &m->cfg;
    const kn_dtype dt = m->dt;
    const int B = m->B, T = m->T, C = c->n_embd;
    const int F = c->ffn_dim, N = B * T, W = tr_llama_qkv_dim(c);
    const int Vp = c->vocab_padded;
    const size_t uC = (size_t)C, uF = (size_t)F, uW = (size_t)W;
    void *sc = m->scratch;
    const size_t scb = m->scratch_bytes;
    int err;

    const double mmf = 2.0 * N;   /* x IC x OC: FLOPs of one product */
    const int add = !write;       /* the weight gradients: added to, or written */
    RUN(pass_start(m, s));
    /* Output head (lm_head, or wte when tied: m->off says which), then the
     * final RMSNorm; dres carries the residual stream's gradient down
     * (written here, added to by every RMSNorm backward below). */
    OP("matmul_bwd_inp lm_head", mmf * C * Vp,
       kn_matmul_bwd_inp(m->blas, m->dC, m->logits, wp(m, w, TL_LM_HEAD, 0, 0), NULL, N, C, Vp, 0,
                         dt, s));
    OP("matmul_bwd_w lm_head", mmf * C * Vp,
       kn_matmul_bwd_weight(m->blas, gp(m, g, TL_LM_HEAD, 0, 0), m->logits, m->xn, N, C, Vp, add,
                            dt, s));
    OP("rmsnorm_bwd", 0, kn_rmsnorm_bwd(m->dres, gp(m, g, TL_NORM, 0, 0), m->dC,
                                        m->layers[c->n_layer - 1].x3, wp(m, w, TL_NORM, 0, 0),
                                        m->xn_rstd, N, C, 0, add, dt, sc, scb, s));
    for (int l = c->n_layer - 1; l >= 0; l--) {
        struct llama_layer *a = &m->layers[l];
        const void *res = l ? m->layers[l - 1].x3 : m->emb;
        size_t L = (size_t)l;
        /* x3 = x2 + Wdown(swiglu(Wgateup(ffn_norm(x2)))) */
        /* dgu = swiglu'(dres Wdown) at gu, one product where the SwiGLU
         * backward runs in its epilogue (matmul.h; else through dh) */
        OP("matmul_bwd_inp swiglu", mmf * F * C,
           kn_matmul_bwd_inp_swiglu(m->blas, m->dgu, m->dh, m->dres,
                                    wp(m, w, TL_WDOWN, L, uC * uF), a->gu, N, F, C, dt, s));
        OP("matmul_bwd_w down", mmf * F * C,
           kn_matmul_bwd_weight(m->blas, gp(m, g, TL_WDOWN, L, uC * uF), m->dres, a->h, N, F, C,
                                add, dt, s));
        OP("matmul_bwd_inp gateup", mmf * C * 2 * F,
           kn_matmul_bwd_inp(m->blas, m->dC, m->dgu, wp(m, w, TL_WGATEUP, L, 2 * uF * uC), NULL,
                             N, C, 2 * F, 0, dt, s));
        OP("matmul_bwd_w gateup", mmf * C * 2 * F,
           kn_matmul_bwd_weight(m->blas, gp(m, g, TL_WGATEUP, L, 2 * uF * uC), m->dgu, a->fn, N,
                                C, 2 * F, add, dt, s));
        OP("rmsnorm_bwd", 0, kn_rmsnorm_bwd(m->dres, gp(m, g, TL_FFN_NORM, L, uC), m->dC, a->x2,
                                            wp(m, w, TL_FFN_NORM, L, uC), a->fn_rstd, N, C, 1, add,
                                            dt, sc, scb, s));
        /* x2 = x + Wo(gqa(rope(Wqkv(attn_norm(x))))) */
        OP("matmul_bwd_inp wo", mmf * C * C,
           kn_matmul_bwd_inp(m->blas, m->dC, m->dres, wp(m, w, TL_WO, L, uC * uC), NULL, N, C, C,
                             0, dt, s));
        OP("matmul_bwd_w wo", mmf * C * C,
           kn_matmul_bwd_weight(m->blas, gp(m, g, TL_WO, L, uC * uC), m->dres, a->y, N, C, C, add,
                                dt, s));
        RUN(attention_bwd(m, a, B, T, s)); /* dC -> dqkv */
        OP("matmul_bwd_inp qkv", mmf * C * W,
           kn_matmul_bwd_inp(m->blas, m->dC, m->dqkv, wp(m, w, TL_WQKV, L, uW * uC), NULL, N, C,
                             W, 0, dt, s));
        OP("matmul_bwd_w qkv", mmf * C * W,
           kn_matmul_bwd_weight(m->blas, gp(m, g, TL_WQKV, L, uW * uC), m->dqkv, a->an, N, C, W,
                                add, dt, s));
        OP("rmsnorm_bwd", 0, kn_rmsnorm_bwd(m->dres, gp(m, g, TL_ATTN_NORM, L, uC), m->dC, res,
                                            wp(m, w, TL_ATTN_NORM, L, uC), a->an_rstd, N, C, 1,
                                            add, dt, sc, scb, s));
        if (m->grads_ready)   /* layer l's tensors are final from here on */
            RUN(m->grads_ready(m->grads_ready_ctx, l, s));
    }
    /* the encoder's position gradient goes to a throw-away buffer, cleared
     * so that it never grows to inf (timed apart: not the encoder's cost) */
    CUDA_CHECK(cudaMemsetAsync(m->dpos, 0, (size_t)c->seq_len * C * sizeof(float), s));
    if (m->optime)
        RUN(m->mark(m->optime, "dpos_clear", 0.0, s));
    /* the embedding's gradient is a scatter-add: written, it starts from
     * zeros, unless tied, where the output head's product wrote it above */
    if (write && !c->tie_embeddings)
        CUDA_CHECK(cudaMemsetAsync(gp(m, g, TL_WTE, 0, 0), 0,
                                   (size_t)c->vocab_padded * C * sizeof(float), s));
    OP("encoder_bwd", 0, kn_encoder_bwd(gp(m, g, TL_WTE, 0, 0), m->dpos, m->dres, m->inp, B, T,
                                        C, c->vocab, dt, sc, scb, s));
    if (m->grads_ready)
        RUN(m->grads_ready(m->grads_ready_ctx, -1, s));
    return 0;
}
#undef OP
#undef RUN

void tr_cuda_llama_set_op_marker(tr_cuda_llama *m, struct tr_cuda_optime *t,
                                 tr_cuda_llama_mark_fn mark)
{
    /* both or neither: OP calls mark whenever optime is set */
    m->optime = mark ? t : NULL;
    m->mark = mark;
}
