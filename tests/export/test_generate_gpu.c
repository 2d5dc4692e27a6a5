/* generate on a GPU with the key/value cache (tr_backend_cuda_kv) against
 * the CPU's cached path (tr_backend_cpu_kv, itself tested against the full
 * forward in test_generate), on checkpoints trained here: GPT-2, llama with
 * grouped-query and with multi-query attention.
 *  - fp32 logits within 1e-4 of the CPU's for every context the sampler asks
 *    for (growing, then sliding past seq_len), with the same cache reuse, and
 *    for a new prompt and one sharing a prefix (several rows at once: the
 *    prefill path of the decode kernel with p0 > 0);
 *  - greedy generation: the same ids token by token, with exactly one host
 *    synchronisation per generated token (tr_cuda_sync's counter);
 *  - bf16 logits near the CPU's (|d| <= 0.1 + 0.02 |cpu|: rounding, not a
 *    wrong layout, which moves logits by O(1));
 *  - `ingot-train generate --device cuda` prints the CPU's greedy ids.
 * Exit 77 without a usable GPU.
 * usage: test_generate_gpu INGOT_TRAIN */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_ckpt.h"
#include "sampler.h"
#include "tr_cuda_sync.h"
#include "tr_export.h"
#include "tr_generate.h"
#include "tt_util.h"

enum { N = 40, NEW = 30 };

static double one_context(tr_backend *gpu, tr_backend *cpu, const int32_t *ids, int n,
                          int want_reuse, const struct tr_config *c, double abs_tol,
                          double rel_tol, int *bad)
{
    float a[GEN_V], b[GEN_V];
    CHECK_OK(tr_backend_cuda_kv.logits(gpu, ids, n, a));
    CHECK(tr_kv_reused(gpu) == want_reuse);
    CHECK_OK(tr_backend_cpu_kv.logits(cpu, ids, n, b));
    double worst = 0.0;
    for (int v = 0; v < c->vocab; v++) {
        double d = fabs((double)a[v] - b[v]);
        worst = fmax(worst, d);
        *bad += d > abs_tol + rel_tol * fabs((double)b[v]);
    }
    return worst;
}

static void check_shape(const char *bin, const char *dir, const struct gen_shape *s)
{
    char *ck = gen_train(bin, dir, s), *out = tt_fmt("%s/gpu.txt", dir);
    struct tr_ckpt_state st;
    float *p;
    CHECK_OK(tr_export_load(ck, &st, &p, NULL));
    const struct tr_config *c = &st.cfg;
    struct tr_backend_opts bo = { .cfg = st.cfg, .batch = 1, .grad_accum = 1, .threads = 1,
                                  .quiet = true, .precision = TR_PREC_FP32 };
    tr_backend *cpu, *gpu;
    CHECK_OK(tr_backend_cpu_kv.create(&bo, p, &cpu));
    CHECK_OK(tr_backend_cuda_kv.create(&bo, p, &gpu));
    int32_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = (i * 53 + 11) % GEN_V;
    int reuse[N], bad = 0;
    double worst = gen_max_diff(&tr_backend_cuda_kv, gpu, &tr_backend_cpu_kv, cpu, c, ids, N,
                                reuse);
    for (int len = 1; len <= N; len++)
        CHECK(reuse[len - 1] == (len <= GEN_T ? len - 1 : 0));
    int32_t other[12];
    memcpy(other, ids + 20, sizeof(other));
    worst = fmax(worst, one_context(gpu, cpu, other, 12, 0, c, 1e-4, 0.0, &bad));
    other[7] = (other[7] + 1) % GEN_V;
    worst = fmax(worst, one_context(gpu, cpu, other, 12, 7, c, 1e-4, 0.0, &bad));
    printf("%s: cuda kv fp32 logits within %.2e of the cpu kv's\n", s->name, worst);
    CHECK(worst <= 1e-4 && !bad);

    /* greedy, token by token, one host wait per token */
    int32_t x[3 + NEW] = { 5, 6, 7 }, y[3 + NEW] = { 5, 6, 7 };
    struct tr_sample_opts so = { .n_new = NEW, .top_k = 1, .temperature = 1.0f };
    CHECK_OK(tr_sample(&tr_backend_cpu_kv, cpu, c, &so, x, 3));
    uint64_t s0 = tr_cuda_sync_count();
    CHECK_OK(tr_sample(&tr_backend_cuda_kv, gpu, c, &so, y, 3));
    uint64_t syncs = tr_cuda_sync_count() - s0;
    for (int i = 0; i < 3 + NEW; i++)
        if (x[i] != y[i]) {
            fprintf(stderr, "%s: greedy token %d: gpu %d, cpu %d\n", s->name, i, y[i], x[i]);
            exit(1);
        }
    printf("%s: greedy %d tokens equal, %llu host syncs\n", s->name, NEW,
           (unsigned long long)syncs);
    CHECK(syncs == NEW);

    /* bf16: near the CPU's */
    tr_backend *g16;
    bo.precision = TR_PREC_BF16;
    CHECK_OK(tr_backend_cuda_kv.create(&bo, p, &g16));
    double w16 = 0.0;
    for (int len = 1; len <= GEN_T; len++)
        w16 = fmax(w16, one_context(g16, cpu, ids, len, len - 1, c, 0.1, 0.02, &bad));
    printf("%s: cuda kv bf16 logits within %.2e of the cpu kv's\n", s->name, w16);
    CHECK(!bad);
    tr_backend_cuda_kv.destroy(g16);

    /* the command */
    char want[512] = "";
    for (int i = 0; i < 3 + NEW; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), i ? " %d" : "%d", x[i]);
    char *cmd = tt_fmt("'%s' generate '%s' --prompt-ids '5 6 7' --tokens %d --top-k 1 --ids "
                       "--device cuda 2>/dev/null", bin, ck, NEW);
    int rc = tt_run(cmd, out);
    char *txt = tt_slurp(out);
    if (rc != 0 || !txt || !strstr(txt, want)) {
        fprintf(stderr, "%s: exit %d, want '%s':\n%s\n", cmd, rc, want, txt ? txt : "");
        exit(1);
    }
    free(txt);
    free(cmd);
    tr_backend_cpu_kv.destroy(cpu);
    tr_backend_cuda_kv.destroy(gpu);
    free(p);
    free(ck);
    free(out);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    char why[256];
    if (!tr_backend_cuda_kv.available(why, sizeof(why))) {
        printf("SKIP: %s\n", why);
        return 77;
    }
    char *dir = tt_tmpdir("generate-gpu");
    for (int i = 0; i < gen_n_shapes; i++)
        check_shape(argv[1], dir, &gen_shapes[i]);
    tt_rmtree(dir);
    free(dir);
    printf("ok: cached generation on the GPU equals the CPU's\n");
    return 0;
}
