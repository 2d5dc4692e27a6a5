/* tr_backend_cuda_kv: key/value-cached generation on a GPU, GPT-2 and LLaMA,
 * from the kn_* launchers (no training state: weights, the cache and
 * activations for up to seq_len rows only).
 *
 * One logits() call runs the forward over the rows that extend the cached
 * context, on one stream, and ends with the one host wait of the token: the
 * download of the logits row (pinned), counted by tr_cuda_sync. The prompt
 * goes through the same code as a decode step, as one batch of n rows (one
 * GEMM per weight over all of them, kn_decode_attention giving row i the
 * causal window [0, p0 + i]) rather than token by token: n times fewer
 * launches and weight reads, and no second code path. Each layer caches the
 * NKV key and value heads of every position (after RoPE for llama); the
 * queries are not kept. Past seq_len the window slides and is recomputed,
 * as on the CPU (tr_generate_kv.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "convert.h"
#include "cuda_check.h"
#include "decode.h"
#include "encoder.h"
#include "ingot_err.h"
#include "kn_common.h"
#include "layernorm.h"
#include "matmul.h"
#include "rmsnorm.h"
#include "rope.h"
#include "swiglu.h"
#include "tr_carve.h"
#include "tr_cuda_sync.h"
#include "tr_generate.h"
#include "tr_generate_kv.h"
#include "tr_llama_params.h"

/* The most rows one kvc_forward() takes (kn_decode_attention's limit). */
enum { KVC_MAX_ROWS = 65535 };

/* One layer's weights in the device copy (dtype dt). LLaMA leaves the
 * biases NULL; its up is [W_gate; W_up]. */
struct kvc_layer {
    const void *n1w, *n1b, *qkvw, *qkvb, *ow, *ob, *n2w, *n2b, *upw, *upb, *downw, *downb;
};

struct tr_backend {
    struct tr_kv_head hd;       /* first: tr_kv_reused() */
    struct tr_config c;
    bool llama;
    int NH, NKV, hs, W, F;      /* query heads, kv heads, head size, qkv width, MLP width */
    float eps;
    kn_dtype dt;
    size_t es;
    cudaStream_t s;
    kn_blas *blas;
    void *block;                /* the one device allocation, carved below */
    size_t block_bytes;
    void *w;                    /* the weights, dtype dt, tr_param_count elements */
    void *kc, *vc;              /* [L, T, NKV hs] each */
    void *x, *ln, *qkv, *y, *tmp, *big1, *big2, *logits_dt, *zero_pos;
    float *rope, *logits;       /* [T, hs], [Vp] float32 */
    int32_t *tok;               /* [T] the new rows' ids */
    void *att_scratch;          /* kn_decode_attention's split partials */
    size_t att_scratch_bytes;
    void *pinned;               /* host: ids [T] then logits [Vp] */
    int32_t *h_ids;
    float *h_logits;
    struct kvc_layer *layers;
    const void *wte, *wpe, *nfw, *nfb, *head;
    int32_t *ids;               /* [T] the context the cache holds */
    int n_cached;
};

static bool kvc_available(char *why, size_t why_len)
{
    if (kn_device_check() == 0)
        return true;
    snprintf(why, why_len, "%s", ingot_errmsg());
    ingot_clear_err();
    return false;
}

static void kvc_destroy(tr_backend *b)
{
    if (!b)
        return;
    if (b->s)
        tr_cuda_sync_quiet(b->s);
    kn_blas_free(b->blas);
    if (b->block)
        cudaFree(b->block);
    if (b->pinned)
        cudaFreeHost(b->pinned);
    if (b->s)
        cudaStreamDestroy(b->s);
    free(b->layers);
    free(b->ids);
    free(b);
}

/* Carve n bytes at *off (256-byte aligned; tr_carve.h: saturating); base
 * NULL: sizing pass. */
static void *kvc_carve(char *base, size_t *off, size_t n)
{
    return tr_carve(base, off, n, 1, 256);
}

static size_t kvc_layout(tr_backend *b, char *base)
{
    const struct tr_config *c = &b->c;
    size_t T = (size_t)c->seq_len, C = (size_t)c->n_embd, es = b->es, off = 0;
    size_t kv = (size_t)c->n_layer * T * (size_t)b->NKV * b->hs * es;
    size_t big = T * (size_t)(b->llama ? 2 * b->F : b->F) * es;
    b->w = kvc_carve(base, &off, tr_param_count(c) * es);
    b->kc = kvc_carve(base, &off, kv);
    b->vc = kvc_carve(base, &off, kv);
    b->x = kvc_carve(base, &off, T * C * es);
    b->ln = kvc_carve(base, &off, T * C * es);
    b->qkv = kvc_carve(base, &off, T * (size_t)b->W * es);
    b->y = kvc_carve(base, &off, T * C * es);
    b->tmp = kvc_carve(base, &off, T * C * es);
    b->big1 = kvc_carve(base, &off, big);
    b->big2 = kvc_carve(base, &off, big);
    b->logits_dt = kvc_carve(base, &off, (size_t)c->vocab_padded * es);
    b->zero_pos = b->llama ? kvc_carve(base, &off, T * C * es) : NULL;
    b->rope = b->llama ? kvc_carve(base, &off, T * (size_t)b->hs * sizeof(float)) : NULL;
    b->logits = kvc_carve(base, &off, (size_t)c->vocab_padded * sizeof(float));
    b->tok = kvc_carve(base, &off, T * sizeof(int32_t));
    b->att_scratch_bytes = kn_decode_attention_scratch_bytes(b->NH, b->hs);
    b->att_scratch = kvc_carve(base, &off, b->att_scratch_bytes);
    return off;
}

/* Resolve every layer's weight pointers once. */
static void kvc_map_weights(tr_backend *b)
{
    const struct tr_config *c = &b->c;
    const char *w = b->w;
    size_t C = (size_t)c->n_embd, es = b->es;
#define AT(off) ((const void *)(w + (size_t)(off) * es))
    if (b->llama) {
        struct tr_llama_config lc;
        tr_config_to_llama(c, &lc);
        size_t W = (size_t)b->W, F = (size_t)b->F;
        for (int l = 0; l < c->n_layer; l++) {
            size_t L = (size_t)l;
            b->layers[l] = (struct kvc_layer){
                .n1w = AT(tr_llama_param_offset(&lc, TL_ATTN_NORM) + L * C),
                .qkvw = AT(tr_llama_param_offset(&lc, TL_WQKV) + L * W * C),
                .ow = AT(tr_llama_param_offset(&lc, TL_WO) + L * C * C),
                .n2w = AT(tr_llama_param_offset(&lc, TL_FFN_NORM) + L * C),
                .upw = AT(tr_llama_param_offset(&lc, TL_WGATEUP) + L * 2 * F * C),
                .downw = AT(tr_llama_param_offset(&lc, TL_WDOWN) + L * C * F),
            };
        }
        b->wte = AT(tr_llama_param_offset(&lc, TL_WTE));
        b->nfw = AT(tr_llama_param_offset(&lc, TL_NORM));
        b->head = lc.tie_embeddings ? b->wte : AT(tr_llama_param_offset(&lc, TL_LM_HEAD));
        b->wpe = b->zero_pos;   /* the GPT-2 encoder with an all-zero position table */
        return;
    }
    for (int l = 0; l < c->n_layer; l++) {
        size_t L = (size_t)l;
        b->layers[l] = (struct kvc_layer){
            .n1w = AT(tr_param_offset(c, TR_LN1W) + L * C),
            .n1b = AT(tr_param_offset(c, TR_LN1B) + L * C),
            .qkvw = AT(tr_param_offset(c, TR_QKVW) + L * 3 * C * C),
            .qkvb = AT(tr_param_offset(c, TR_QKVB) + L * 3 * C),
            .ow = AT(tr_param_offset(c, TR_ATTPROJW) + L * C * C),
            .ob = AT(tr_param_offset(c, TR_ATTPROJB) + L * C),
            .n2w = AT(tr_param_offset(c, TR_LN2W) + L * C),
            .n2b = AT(tr_param_offset(c, TR_LN2B) + L * C),
            .upw = AT(tr_param_offset(c, TR_FCW) + L * 4 * C * C),
            .upb = AT(tr_param_offset(c, TR_FCB) + L * 4 * C),
            .downw = AT(tr_param_offset(c, TR_FCPROJW) + L * C * 4 * C),
            .downb = AT(tr_param_offset(c, TR_FCPROJB) + L * C),
        };
    }
    b->wte = b->head = AT(tr_param_offset(c, TR_WTE));
    b->wpe = AT(tr_param_offset(c, TR_WPE));
    b->nfw = AT(tr_param_offset(c, TR_LNFW));
    b->nfb = AT(tr_param_offset(c, TR_LNFB));
#undef AT
}

/* Device, stream, cuBLASLt, the block, the weights (cast to bf16 on the
 * device through a temporary float32 copy), the RoPE table. */
static int kvc_setup(tr_backend *b, const struct tr_backend_opts *o, const float *params)
{
    const struct tr_config *c = &b->c;
    size_t P = tr_param_count(c);
    int err = kn_device_check();
    if (err)
        return err;
    CUDA_CHECK(cudaSetDevice(o->device_index));
    CUDA_CHECK(cudaStreamCreateWithFlags(&b->s, cudaStreamNonBlocking));
    if ((err = kn_blas_create(&b->blas, 0)))
        return err;
    b->block_bytes = kvc_layout(b, NULL);
    if (cudaMalloc(&b->block, b->block_bytes) != cudaSuccess) {
        (void)cudaGetLastError();
        b->block = NULL;
        return ingot_fail(-ENOMEM, "generate: cannot allocate %zu MiB on the GPU for the "
                          "weights, the key/value cache (seq-len %d) and activations",
                          b->block_bytes >> 20, c->seq_len);
    }
    kvc_layout(b, b->block);
    size_t T = (size_t)c->seq_len;
    CUDA_CHECK(cudaMallocHost(&b->pinned, T * sizeof(int32_t) +
                              (size_t)c->vocab_padded * sizeof(float)));
    b->h_ids = b->pinned;
    b->h_logits = (float *)(b->h_ids + T);
    if (b->dt == KN_F32) {
        err = tr_cuda_sync_copy(b->w, params, P * sizeof(float), cudaMemcpyHostToDevice, b->s,
                                "generate weights");
    } else {
        float *tmp = NULL;
        CUDA_CHECK(cudaMalloc((void **)&tmp, P * sizeof(float)));
        err = tr_cuda_sync_copy(tmp, params, P * sizeof(float), cudaMemcpyHostToDevice, b->s,
                                "generate weights");
        if (!err)
            err = kn_cast_f32_to_bf16(b->w, tmp, P, b->s);
        if (!err)
            err = tr_cuda_sync_stream(b->s, "generate weights (bf16)");
        cudaFree(tmp);
    }
    if (err)
        return err;
    if (b->llama) {
        CUDA_CHECK(cudaMemsetAsync(b->zero_pos, 0, T * (size_t)c->n_embd * b->es, b->s));
        if ((err = kn_rope_table(b->rope, c->seq_len, b->hs, c->rope_theta, b->s)))
            return err;
    }
    kvc_map_weights(b);
    return tr_cuda_sync_stream(b->s, "generate set-up");
}

static int kvc_create(const struct tr_backend_opts *o, const float *params, tr_backend **out)
{
    const struct tr_config *c = &o->cfg;
    *out = NULL;
    int err = tr_config_check(c);
    if (err)
        return err;
    if (c->arch != TR_ARCH_GPT2 && c->arch != TR_ARCH_LLAMA)
        return ingot_fail(INGOT_E_USAGE, "the cuda key/value-cache sampler has no forward for "
                          "%s", tr_arch_name(c->arch));
    tr_backend *b = calloc(1, sizeof(*b));
    if (!b)
        return ingot_oom("cuda inference state", sizeof(*b));
    b->c = *c;
    b->llama = c->arch == TR_ARCH_LLAMA;
    b->dt = o->precision == TR_PREC_BF16 ? KN_BF16 : KN_F32;
    b->es = kn_dtype_size(b->dt);
    b->NH = c->n_head;
    if (b->llama) {
        struct tr_llama_config lc;
        tr_config_to_llama(c, &lc);
        b->NKV = lc.n_kv_head;
        b->hs = tr_llama_head_dim(&lc);
        b->W = tr_llama_qkv_dim(&lc);
        b->F = lc.ffn_dim;
        b->eps = lc.norm_eps;
    } else {
        b->NKV = c->n_head;
        b->hs = c->n_embd / c->n_head;
        b->W = 3 * c->n_embd;
        b->F = 4 * c->n_embd;
    }
    if (b->hs > KN_DECODE_MAX_HS) {
        int hs = b->hs;
        free(b);
        return ingot_fail(INGOT_E_USAGE, "generate --device cuda: head size %d is above the "
                          "decode kernel's %d; use --device cpu", hs, KN_DECODE_MAX_HS);
    }
    b->layers = calloc((size_t)c->n_layer, sizeof(*b->layers));
    b->ids = malloc((size_t)c->seq_len * sizeof(int32_t));
    if (!b->layers || !b->ids) {
        kvc_destroy(b);
        return ingot_oom("cuda inference tables", (size_t)c->n_layer * sizeof(*b->layers));
    }
    if ((err = kvc_setup(b, o, params))) {
        kvc_destroy(b);
        return err;
    }
    *out = b;
    return 0;
}

/* Normalise rows [0, n) of the residual stream x into ln with layer weights
 * (w, bias) after adding add (NULL: no add): LayerNorm for GPT-2, RMSNorm
 * for llama. */
static int kvc_norm(tr_backend *b, const void *add, const void *w, const void *bias, int n)
{
    int C = b->c.n_embd;
    if (b->llama)
        return add ? kn_residual_rmsnorm_fwd(b->x, b->ln, NULL, b->x, add, w, b->eps, n, C, b->dt,
                                             b->s)
                   : kn_rmsnorm_fwd(b->ln, NULL, b->x, w, b->eps, n, C, b->dt, b->s);
    return add ? kn_residual_layernorm_fwd(b->x, b->ln, NULL, NULL, b->x, add, w, bias, n, C,
                                           b->dt, b->s)
               : kn_layernorm_fwd(b->ln, NULL, NULL, b->x, w, bias, n, C, b->dt, b->s);
}

/* Forward of ids[p0, p0 + n) at positions p0.. given the cache of [0, p0);
 * leaves the last row's float32 logits in b->h_logits (one host wait). */
static int kvc_forward(tr_backend *b, const int32_t *ids, int p0, int n)
{
    const struct tr_config *c = &b->c;
    const int C = c->n_embd, NH = b->NH, NKV = b->NKV, hs = b->hs, W = b->W, F = b->F;
    const kn_dtype dt = b->dt;
    const size_t es = b->es, T = (size_t)c->seq_len, KVW = (size_t)NKV * hs;
    int err;
#define RUN(call) do { if ((err = (call))) return err; } while (0)
    memcpy(b->h_ids, ids + p0, (size_t)n * sizeof(int32_t));
    CUDA_CHECK(cudaMemcpyAsync(b->tok, b->h_ids, (size_t)n * sizeof(int32_t),
                               cudaMemcpyHostToDevice, b->s));
    const char *wpe = b->llama ? b->wpe : (const char *)b->wpe + (size_t)p0 * C * es;
    RUN(kn_encoder_fwd(b->x, b->tok, b->wte, wpe, 1, n, C, c->vocab, dt, b->s));
    RUN(kvc_norm(b, NULL, b->layers[0].n1w, b->layers[0].n1b, n));
    for (int l = 0; l < c->n_layer; l++) {
        const struct kvc_layer *L = &b->layers[l];
        char *kc = (char *)b->kc + ((size_t)l * T + p0) * KVW * es;
        char *vc = (char *)b->vc + ((size_t)l * T + p0) * KVW * es;
        RUN(kn_matmul_fwd(b->blas, b->qkv, NULL, b->ln, L->qkvw, L->qkvb, n, C, W, dt, b->s));
        if (b->llama)   /* row i at position p0 + i: that row of the table */
            RUN(kn_rope_fwd(b->qkv, b->qkv, b->rope + (size_t)p0 * hs, 1, n, NH + NKV, hs, W,
                            dt, b->s));
        /* the new rows' k and v heads into the cache, then attention over it */
        CUDA_CHECK(cudaMemcpy2DAsync(kc, KVW * es, (char *)b->qkv + (size_t)NH * hs * es,
                                     (size_t)W * es, KVW * es, (size_t)n,
                                     cudaMemcpyDeviceToDevice, b->s));
        CUDA_CHECK(cudaMemcpy2DAsync(vc, KVW * es, (char *)b->qkv + (size_t)(NH + NKV) * hs * es,
                                     (size_t)W * es, KVW * es, (size_t)n,
                                     cudaMemcpyDeviceToDevice, b->s));
        RUN(kn_decode_attention(b->y, b->qkv, W, (char *)b->kc + (size_t)l * T * KVW * es,
                                (char *)b->vc + (size_t)l * T * KVW * es, (long long)KVW, n, p0,
                                NH, NKV, hs, dt, b->att_scratch, b->att_scratch_bytes, b->s));
        RUN(kn_matmul_fwd(b->blas, b->tmp, NULL, b->y, L->ow, L->ob, n, C, C, dt, b->s));
        RUN(kvc_norm(b, b->tmp, L->n2w, L->n2b, n));
        if (b->llama) {
            RUN(kn_matmul_fwd(b->blas, b->big1, NULL, b->ln, L->upw, NULL, n, C, 2 * F, dt, b->s));
            RUN(kn_swiglu_fwd(b->big2, b->big1, n, F, dt, b->s));
        } else {   /* big2 = gelu(big1), big1 the pre-activation */
            RUN(kn_matmul_fwd(b->blas, b->big2, b->big1, b->ln, L->upw, L->upb, n, C, F, dt,
                              b->s));
        }
        RUN(kn_matmul_fwd(b->blas, b->tmp, NULL, b->big2, L->downw, L->downb, n, F, C, dt, b->s));
        /* the add, fused with the next norm: the next layer's or the final one */
        bool last = l == c->n_layer - 1;
        RUN(kvc_norm(b, b->tmp, last ? b->nfw : b->layers[l + 1].n1w,
                     last ? b->nfb : b->layers[l + 1].n1b, n));
    }
    /* only the last row's logits are wanted */
    const char *row = (const char *)b->ln + (size_t)(n - 1) * C * es;
    int Vp = c->vocab_padded;
    if (dt == KN_F32) {
        RUN(kn_matmul_fwd(b->blas, b->logits, NULL, row, b->head, NULL, 1, C, Vp, dt, b->s));
    } else {
        RUN(kn_matmul_fwd(b->blas, b->logits_dt, NULL, row, b->head, NULL, 1, C, Vp, dt, b->s));
        RUN(kn_convert(b->logits, KN_F32, b->logits_dt, dt, (size_t)Vp, b->s));
    }
#undef RUN
    return tr_cuda_sync_copy(b->h_logits, b->logits, (size_t)c->vocab * sizeof(float),
                             cudaMemcpyDeviceToHost, b->s, "generate logits");
}

static int kvc_logits(tr_backend *b, const int32_t *ids, int n, float *out)
{
    const struct tr_config *c = &b->c;
    int err = tr_kv_check_context(c, ids, n, "generate --device cuda");
    if (err)
        return err;
    int keep = tr_kv_keep(b->ids, b->n_cached, ids, n);
    memcpy(b->ids + keep, ids + keep, (size_t)(n - keep) * sizeof(int32_t));
    b->n_cached = keep;   /* a failure below leaves only the kept prefix valid */
    /* kn_decode_attention takes at most KVC_MAX_ROWS rows a call (its grid's
     * y): a longer prefill (seq-len above that) goes in pieces, each over
     * the cache the ones before it filled; the last one's logits are the
     * answer. */
    for (int p0 = keep; p0 < n; p0 += KVC_MAX_ROWS) {
        int rows = n - p0 < KVC_MAX_ROWS ? n - p0 : KVC_MAX_ROWS;
        if ((err = kvc_forward(b, ids, p0, rows)))
            return err;
        b->n_cached = p0 + rows;
    }
    b->hd.reused = keep;
    memcpy(out, b->h_logits, (size_t)c->vocab * sizeof(float));
    return 0;
}

static size_t kvc_mem_bytes(const tr_backend *b)
{
    return b->block_bytes;
}

const struct tr_backend_ops tr_backend_cuda_kv = {
    .name = "cuda-kv",
    .max_in_flight = 1,
    .available = kvc_available,
    .create = kvc_create,
    .logits = kvc_logits,
    .mem_bytes = kvc_mem_bytes,
    .destroy = kvc_destroy,
};
