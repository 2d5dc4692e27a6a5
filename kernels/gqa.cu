/* Grouped-query attention by expansion to multi-head attention (gqa.h). */
#include "attention.h"
#include "cuda_check.h"
#include "gqa.h"
#include "kn_device.cuh"

enum { GQA_THREADS = 256 };

/* One thread per element of a qkv3 row [3, NH, hs]. */
template <typename T>
static __global__ void gqa_expand_kernel(T *qkv3, const T *qkv, size_t rows, int NH, int NKV,
                                         int hs)
{
    const int C = NH * hs, W = (NH + 2 * NKV) * hs, rep = NH / NKV;
    size_t n = rows * 3 * C;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x) {
        size_t row = k / (3 * C);
        int j = (int)(k % (3 * C)), part = j / C, h = (j % C) / hs, d = j % hs;
        int src = part == 0 ? h * hs + d : (NH + (part - 1) * NKV + h / rep) * hs + d;
        qkv3[k] = qkv[row * W + src];
    }
}

/* One thread per element of a dqkv row [(NH + 2 NKV) hs]. */
template <typename T>
static __global__ void gqa_reduce_kernel(T *dqkv, const T *dqkv3, size_t rows, int NH, int NKV,
                                         int hs, int accumulate)
{
    const int C = NH * hs, W = (NH + 2 * NKV) * hs, rep = NH / NKV;
    size_t n = rows * W;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x) {
        size_t row = k / W;
        int j = (int)(k % W);
        const T *src = dqkv3 + row * 3 * C;
        float g;
        if (j < C) {
            g = kn_f(src[j]);
        } else {
            int part = j < (NH + NKV) * hs ? 1 : 2;
            int jj = j - (NH + (part - 1) * NKV) * hs, kvh = jj / hs, d = jj % hs;
            const T *p = src + part * C + (size_t)kvh * rep * hs + d;
            g = 0.0f;
            for (int r = 0; r < rep; r++)
                g += kn_f(p[(size_t)r * hs]);
        }
        dqkv[k] = kn_st<T>(accumulate ? kn_f(dqkv[k]) + g : g);
    }
}

static int gqa_shape_ok(int B, int T, int NH, int NKV, int hs)
{
    return B >= 0 && T >= 0 && NH > 0 && NKV > 0 && NH % NKV == 0 && hs > 0;
}

extern "C" int kn_gqa_expand(void *qkv3, const void *qkv, int B, int T, int NH, int NKV, int hs,
                             kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(qkv3 && qkv && qkv3 != qkv, "NULL or aliased buffer (qkv3=%p qkv=%p)", qkv3,
                 qkv);
    KN_ARG_CHECK(gqa_shape_ok(B, T, NH, NKV, hs),
                 "need B, T >= 0, NH %% NKV == 0, hs > 0 (B=%d T=%d NH=%d NKV=%d hs=%d)", B, T,
                 NH, NKV, hs);
    size_t rows = (size_t)B * T, n = rows * 3 * NH * hs;
    if (n == 0)
        return 0;
    KN_DISPATCH(dt, Tp, {
        gqa_expand_kernel<Tp><<<kn_grid_for(n, GQA_THREADS), GQA_THREADS, 0, s>>>(
            (Tp *)qkv3, (const Tp *)qkv, rows, NH, NKV, hs);
    });
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_gqa_reduce(void *dqkv, const void *dqkv3, int B, int T, int NH, int NKV,
                             int hs, int accumulate, kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(dqkv && dqkv3 && dqkv != dqkv3, "NULL or aliased buffer (dqkv=%p dqkv3=%p)",
                 dqkv, dqkv3);
    KN_ARG_CHECK(gqa_shape_ok(B, T, NH, NKV, hs),
                 "need B, T >= 0, NH %% NKV == 0, hs > 0 (B=%d T=%d NH=%d NKV=%d hs=%d)", B, T,
                 NH, NKV, hs);
    size_t rows = (size_t)B * T, n = rows * (NH + 2 * NKV) * hs;
    if (n == 0)
        return 0;
    KN_DISPATCH(dt, Tp, {
        gqa_reduce_kernel<Tp><<<kn_grid_for(n, GQA_THREADS), GQA_THREADS, 0, s>>>(
            (Tp *)dqkv, (const Tp *)dqkv3, rows, NH, NKV, hs, accumulate);
    });
    KN_LAUNCH_CHECK();
    return 0;
}

/* Scratch carving: [qkv3 | (bwd: dqkv3) | attention scratch], 256-byte
 * aligned pieces. */
static size_t align256(size_t n)
{
    return (n + 255) & ~(size_t)255;
}

static size_t qkv3_bytes(int B, int T, int NH, int hs, kn_dtype dt)
{
    return align256((size_t)B * T * 3 * NH * hs * kn_dtype_size(dt));
}

extern "C" size_t kn_gqa_attention_fwd_scratch_bytes(int B, int T, int NH, int NKV, int hs,
                                                     kn_dtype dt)
{
    (void)NKV;
    return qkv3_bytes(B, T, NH, hs, dt) +
           align256(kn_attention_fwd_scratch_bytes(B, T, NH * hs, NH, dt));
}

extern "C" size_t kn_gqa_attention_bwd_scratch_bytes(int B, int T, int NH, int NKV, int hs,
                                                     kn_dtype dt)
{
    (void)NKV;
    return 2 * qkv3_bytes(B, T, NH, hs, dt) +
           align256(kn_attention_bwd_scratch_bytes(B, T, NH * hs, NH, dt));
}

extern "C" int kn_gqa_attention_fwd(kn_blas *h, void *out, void *att, const void *qkv, int B,
                                    int T, int NH, int NKV, int hs, kn_dtype dt, void *scratch,
                                    size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(gqa_shape_ok(B, T, NH, NKV, hs),
                 "need B, T >= 0, NH %% NKV == 0, hs > 0 (B=%d T=%d NH=%d NKV=%d hs=%d)", B, T,
                 NH, NKV, hs);
    size_t need = kn_gqa_attention_fwd_scratch_bytes(B, T, NH, NKV, hs, dt);
    KN_ARG_CHECK(scratch && scratch_bytes >= need, "scratch %p of %zu bytes, need %zu", scratch,
                 scratch_bytes, need);
    if ((size_t)B * T == 0)
        return 0;
    char *p = (char *)scratch;
    size_t q3 = qkv3_bytes(B, T, NH, hs, dt);
    int err = kn_gqa_expand(p, qkv, B, T, NH, NKV, hs, dt, s);
    if (err)
        return err;
    return kn_attention_fwd(h, out, att, p, B, T, NH * hs, NH, dt, p + q3, scratch_bytes - q3, s);
}

extern "C" int kn_gqa_attention_bwd(kn_blas *h, void *dqkv, const void *dout, const void *qkv,
                                    const void *att, int B, int T, int NH, int NKV, int hs,
                                    int accumulate, kn_dtype dt, void *scratch,
                                    size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(gqa_shape_ok(B, T, NH, NKV, hs),
                 "need B, T >= 0, NH %% NKV == 0, hs > 0 (B=%d T=%d NH=%d NKV=%d hs=%d)", B, T,
                 NH, NKV, hs);
    size_t need = kn_gqa_attention_bwd_scratch_bytes(B, T, NH, NKV, hs, dt);
    KN_ARG_CHECK(scratch && scratch_bytes >= need, "scratch %p of %zu bytes, need %zu", scratch,
                 scratch_bytes, need);
    if ((size_t)B * T == 0)
        return 0;
    char *p = (char *)scratch;
    size_t q3 = qkv3_bytes(B, T, NH, hs, dt);
    int err = kn_gqa_expand(p, qkv, B, T, NH, NKV, hs, dt, s);
    if (!err)
        err = kn_attention_bwd(h, p + q3, dout, p, att, B, T, NH * hs, NH, 0, dt, p + 2 * q3,
                               scratch_bytes - 2 * q3, s);
    if (!err)
        err = kn_gqa_reduce(dqkv, p + q3, B, T, NH, NKV, hs, accumulate, dt, s);
    return err;
}
