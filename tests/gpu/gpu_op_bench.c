/* Where the GPU time of a training micro-step goes, operation by operation:
 * the CUDA model's forward (with the fused classifier) and backward run
 * eagerly with an event after every launcher call (tr_cuda_optime in
 * tr_cuda_prof.h), and the per-operation totals are printed per pass,
 * largest first, with the GEMMs' and attention's TFLOP/s. Random weights
 * and ids; 2 warm-up passes, then --passes timed ones. The sum is a little
 * above the step's fwd + bwd (an event between kernels costs a few µs).
 * Defaults: --arch gpt2, GPT-2 124M (L12 H12 C768 T1024, vocab 50304),
 * batch 16; --arch llama, the llama-1b preset (TinyLlama: L22 H32 KV4 C2048
 * F5632 T2048), vocab 32000, batch 8; bf16. Skips with 77 without a GPU.
 * usage: gpu_op_bench [--arch gpt2|llama] [--layers N] [--heads N] [--dim N]
 *                     [--seq-len N] [--vocab N] [--batch N] [--passes N]
 *                     [--precision fp32|bf16]
 *                     llama only: [--kv-heads N] [--ffn-dim N] */
#include <math.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "gpu_step_bufs.h"
#include "kn_common.h"
#include "matmul.h"
#include "tr_cuda_llama.h"
#include "tr_cuda_model.h"
#include "tr_cuda_prof.h"
#include "tr_llama_params.h"
#include "tr_params.h"
#include "tr_rng.h"
#include "tt_util.h"

#define CK(call) CHECK((call) == cudaSuccess)

/* The model under test, by c->arch (the other pointer NULL). Not
 * tr_cuda_net.h: that hides the models, and with them the op timer. */
struct bench_net {
    tr_cuda_model *gpt2;
    tr_cuda_llama *llama;
};

static int net_create(struct bench_net *n, const struct tr_config *c, int B, kn_dtype dt,
                      kn_blas *blas)
{
    if (c->arch != TR_ARCH_LLAMA)
        return tr_cuda_model_create(c, B, dt, blas, &n->gpt2);
    struct tr_llama_config l;
    tr_config_to_llama(c, &l);
    return tr_cuda_llama_create(&l, B, dt, blas, &n->llama);
}

static const char *net_attention(const struct bench_net *n)
{
    if (n->llama)
        return tr_cuda_llama_attention(n->llama);
    return tr_cuda_model_flash(n->gpt2) ? "flash" : "materialised";
}

/* One training micro-step (forward with the loss gradient, backward), timed
 * by t (NULL: untimed), as a step's only micro-step: its backward writes the
 * gradients. */
static int net_pass(struct bench_net *n, tr_cuda_optime *t, const void *w, const int32_t *ids,
                    int B, int T, float *grads, float *loss, cudaStream_t s)
{
    const int32_t *tgt = ids + (size_t)B * T;
    const float dloss = 1.0f / (float)(B * T);
    int err;
    if (n->llama) {
        tr_cuda_llama_set_optime(n->llama, t);
        if ((err = tr_cuda_llama_forward(n->llama, w, ids, tgt, B, T, dloss, loss, NULL, 0, s)))
            return err;
        return tr_cuda_llama_backward(n->llama, w, grads, 1, s);
    }
    tr_cuda_model_set_optime(n->gpt2, t);
    if ((err = tr_cuda_forward(n->gpt2, w, ids, tgt, B, T, dloss, loss, NULL, 0, s)))
        return err;
    return tr_cuda_backward(n->gpt2, w, grads, 1, s);
}

static void net_free(struct bench_net *n)
{
    tr_cuda_model_free(n->gpt2);
    tr_cuda_llama_free(n->llama);
}

/* The shape --arch names before the other options change it; exit 2 on an
 * unknown architecture. */
static void arch_defaults(int argc, char **argv, struct tr_config *c, int *B)
{
    const char *arch = "gpt2";
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--arch"))
            arch = argv[i + 1];
    if (!strcmp(arch, "gpt2")) {
        *c = (struct tr_config){ .n_layer = 12, .n_head = 12, .n_embd = 768, .seq_len = 1024,
                                 .vocab = 50304 };
        *B = 16;
        return;
    }
    const struct tr_llama_preset *p = tr_llama_preset_find("llama-1b");
    if (strcmp(arch, "llama") || !p) {
        fprintf(stderr, "gpu_op_bench: --arch %s: use gpt2 or llama\n", arch);
        exit(2);
    }
    *c = (struct tr_config){ .arch = TR_ARCH_LLAMA, .n_layer = p->n_layer, .n_head = p->n_head,
                             .n_kv_head = p->n_kv_head, .n_embd = p->n_embd,
                             .ffn_dim = p->ffn_dim, .seq_len = p->seq_len, .vocab = 32000,
                             .rope_theta = 10000.0, .norm_eps = 1e-5f };
    *B = 8;
}

int main(int argc, char **argv)
{
    struct tr_config c;
    int B, passes = 5;
    kn_dtype dt = KN_BF16;
    arch_defaults(argc, argv, &c, &B);
    const bool llama = c.arch == TR_ARCH_LLAMA;
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "gpu_op_bench: %s needs a value\n", k);
            return 2;
        }
        int x = atoi(v);
        if (!strcmp(k, "--arch")) {}   /* read by arch_defaults() */
        else if (!strcmp(k, "--layers")) c.n_layer = x;
        else if (!strcmp(k, "--heads")) c.n_head = x;
        else if (!strcmp(k, "--dim")) c.n_embd = x;
        else if (!strcmp(k, "--seq-len")) c.seq_len = x;
        else if (!strcmp(k, "--vocab")) c.vocab = x;
        else if (!strcmp(k, "--batch")) B = x;
        else if (!strcmp(k, "--passes")) passes = x;
        else if (!strcmp(k, "--precision")) dt = !strcmp(v, "fp32") ? KN_F32 : KN_BF16;
        else if (llama && !strcmp(k, "--kv-heads")) c.n_kv_head = x;
        else if (llama && !strcmp(k, "--ffn-dim")) c.ffn_dim = x;
        else {
            fprintf(stderr, "gpu_op_bench: unknown option %s%s\n", k,
                    llama ? "" : " (--kv-heads and --ffn-dim need --arch llama)");
            return 2;
        }
    }
    if (kn_device_check()) {
        printf("SKIP: %s\n", ingot_errmsg());
        return TT_SKIP;
    }
    tr_config_pad_vocab(&c);
    CHECK_OK(tr_config_check(&c));
    CHECK(B >= 1 && passes >= 1);
    const int T = c.seq_len;
    const size_t n = tr_param_count(&c), N = (size_t)B * T;
    float *params = malloc(n * sizeof(float));
    int32_t *ids = malloc(2 * N * sizeof(int32_t));
    CHECK(params && ids);
    tr_params_init(&c, 1, params);
    struct tr_rng r;
    tr_rng_seed(&r, 7, 7);
    for (size_t i = 0; i < 2 * N; i++)
        ids[i] = (int32_t)tr_rng_below(&r, (uint64_t)c.vocab);

    cudaStream_t s;
    CK(cudaStreamCreate(&s));
    struct gpu_step_bufs d;
    gpu_step_bufs_upload(&d, params, n, ids, N, dt, s);

    kn_blas *blas;
    struct bench_net net = { 0 };
    tr_cuda_optime *ot;
    CHECK_OK(kn_blas_create(&blas, 0));
    CHECK_OK(net_create(&net, &c, B, dt, blas));
    CHECK_OK(tr_cuda_optime_create(64 + 32 * c.n_layer, &ot));
    if (llama)
        printf("llama L%d H%d KV%d C%d F%d T%d V%d", c.n_layer, c.n_head, c.n_kv_head, c.n_embd,
               c.ffn_dim, T, c.vocab_padded);
    else
        printf("gpt2 L%d H%d C%d T%d V%d", c.n_layer, c.n_head, c.n_embd, T, c.vocab_padded);
    printf(", batch %d, %s, %.1f M params, attention %s\n", B, kn_dtype_name(dt), n / 1e6,
           net_attention(&net));
    for (int p = 0; p < 2 + passes; p++) {
        if (p == 2)
            tr_cuda_optime_clear(ot);
        /* the warm-up passes pick every GEMM algorithm untimed */
        CHECK_OK(net_pass(&net, p >= 1 ? ot : NULL, d.w, d.ids, B, T, d.grads, d.loss, s));
        CHECK_OK(tr_cuda_optime_collect(ot));
    }
    float loss = 0.0f;
    CK(cudaMemcpy(&loss, d.loss, sizeof(float), cudaMemcpyDeviceToHost));
    CHECK(isfinite(loss));
    printf("mean loss %.4f (ln V = %.4f)\n", loss / (float)N, log((double)c.vocab));
    tr_cuda_optime_print(ot, passes, stdout);

    tr_cuda_optime_free(ot);
    net_free(&net);
    kn_blas_free(blas);
    gpu_step_bufs_free(&d);
    cudaStreamDestroy(s);
    free(params);
    free(ids);
    return 0;
}
