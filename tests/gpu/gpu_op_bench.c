/* Where the GPU time of a training micro-step goes, operation by operation:
 * the CUDA model's forward (with the fused classifier) and backward run
 * eagerly with an event after every launcher call (tr_cuda_optime in
 * tr_cuda_prof.h), and the per-operation totals are printed per pass,
 * largest first, with the GEMMs' and attention's TFLOP/s. Random weights
 * and ids; 2 warm-up passes, then --passes timed ones. The sum is a little
 * above the step's fwd + bwd (an event between kernels costs a few µs).
 * Default: GPT-2 124M shape (L12 H12 C768 T1024, vocab 50304), bf16,
 * batch 16. Skips with 77 without a GPU.
 * usage: gpu_op_bench [--layers N] [--heads N] [--dim N] [--seq-len N]
 *                     [--vocab N] [--batch N] [--passes N]
 *                     [--precision fp32|bf16] */
#include <math.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "convert.h"
#include "kn_common.h"
#include "matmul.h"
#include "tr_cuda_model.h"
#include "tr_cuda_prof.h"
#include "tr_params.h"
#include "tr_rng.h"
#include "tt_util.h"

#define CK(call) CHECK((call) == cudaSuccess)

int main(int argc, char **argv)
{
    struct tr_config c = { .n_layer = 12, .n_head = 12, .n_embd = 768, .seq_len = 1024,
                           .vocab = 50304 };
    int B = 16, passes = 5;
    kn_dtype dt = KN_BF16;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        int x = atoi(v);
        if (!strcmp(k, "--layers")) c.n_layer = x;
        else if (!strcmp(k, "--heads")) c.n_head = x;
        else if (!strcmp(k, "--dim")) c.n_embd = x;
        else if (!strcmp(k, "--seq-len")) c.seq_len = x;
        else if (!strcmp(k, "--vocab")) c.vocab = x;
        else if (!strcmp(k, "--batch")) B = x;
        else if (!strcmp(k, "--passes")) passes = x;
        else if (!strcmp(k, "--precision")) dt = !strcmp(v, "fp32") ? KN_F32 : KN_BF16;
        else {
            fprintf(stderr, "gpu_op_bench: unknown option %s\n", k);
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
    float *dparams, *dgrads, *dsum;
    void *w;
    int32_t *dids;
    CK(cudaMalloc((void **)&dparams, n * sizeof(float)));
    CK(cudaMalloc((void **)&dgrads, n * sizeof(float)));
    CK(cudaMalloc(&w, n * kn_dtype_size(dt)));
    CK(cudaMalloc((void **)&dids, 2 * N * sizeof(int32_t)));
    CK(cudaMalloc((void **)&dsum, sizeof(float)));
    CK(cudaMemcpy(dparams, params, n * sizeof(float), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dids, ids, 2 * N * sizeof(int32_t), cudaMemcpyHostToDevice));
    CK(cudaMemset(dgrads, 0, n * sizeof(float)));
    CHECK_OK(kn_convert(w, dt, dparams, KN_F32, n, s));

    kn_blas *blas;
    tr_cuda_model *m;
    tr_cuda_optime *ot;
    CHECK_OK(kn_blas_create(&blas, 0));
    CHECK_OK(tr_cuda_model_create(&c, B, dt, blas, &m));
    CHECK_OK(tr_cuda_optime_create(64 + 32 * c.n_layer, &ot));
    printf("L%d H%d C%d T%d V%d, batch %d, %s, %.1f M params, flash %s\n", c.n_layer, c.n_head,
           c.n_embd, T, c.vocab_padded, B, kn_dtype_name(dt), n / 1e6,
           tr_cuda_model_flash(m) ? "yes" : "no");
    for (int p = 0; p < 2 + passes; p++) {
        if (p == 2)
            tr_cuda_optime_clear(ot);
        /* the warm-up passes pick every GEMM algorithm untimed */
        tr_cuda_model_set_optime(m, p >= 1 ? ot : NULL);
        CHECK_OK(tr_cuda_forward(m, w, dids, dids + N, B, T, 1.0f / (float)N, dsum, NULL, 0, s));
        CHECK_OK(tr_cuda_backward(m, w, dgrads, s));
        CHECK_OK(tr_cuda_optime_collect(ot));
    }
    float loss = 0.0f;
    CK(cudaMemcpy(&loss, dsum, sizeof(float), cudaMemcpyDeviceToHost));
    CHECK(isfinite(loss));
    printf("mean loss %.4f (ln V = %.4f)\n", loss / (float)N, log((double)c.vocab));
    tr_cuda_optime_print(ot, passes, stdout);

    tr_cuda_optime_free(ot);
    tr_cuda_model_free(m);
    kn_blas_free(blas);
    cudaFree(dparams);
    cudaFree(dgrads);
    cudaFree(w);
    cudaFree(dids);
    cudaFree(dsum);
    cudaStreamDestroy(s);
    free(params);
    free(ids);
    return 0;
}
