/* The bias gradient's column sums (kn_matmul_bwd_bias, bias_grad.h): a
 * reduction over the rows of a [N, OC] gradient, apart from the products of
 * matmul.cu so that the attention (qkv's bias gradient) can use it without
 * cuBLAS. */
#include <stdlib.h>
#include <string.h>

#include "bias_grad.h"
#include "cuda_check.h"
#include "kn_device.cuh"

/* dbias: gridDim.y splits the rows into contiguous ranges (the split count
 * depends on N, OC and the kernel only, so the sums are the same on every
 * GPU and run).
 * Vectorised kernel (OC a whole number of 16-byte packs, aligned rows):
 * block = 32 lanes x DBV_WARPS warps, lane l owns the pack of columns
 * [(32 * blockIdx.x + l) * P, +P); warp w sums rows w, w + WARPS, ... of the
 * range, four rows per step added in a fixed order. Scalar kernel (any
 * shape): lane = column, DB_WARPS warps. Either way the warps are added in
 * warp order, and the split partials in split order by db_final_kernel (or
 * directly into dbias when there is one split). */
enum {
    DB_WARPS = 16,
    DBV_WARPS = 8,
    DB_TARGET_BLOCKS = 1056,   /* 8 blocks per multiprocessor on a 132-SM H100/H200 */
    DB_MIN_ROWS = 64,          /* rows per split at least */
    DB_MAX_SPLITS = 256,
};

/* Whether the vectorised bias kernel may run: kn_matmul_set_db_vec(), else
 * on unless INGOT_DB_VEC=0 (backward -2.1 ms of 76 at GPT-2 124M batch 64,
 * -3.0 of 109 at 350M batch 32 on the H200: docs/performance.md). */
static int db_vec_mode = -1;

static bool db_vec_enabled(void)
{
    return kn_env_on_once(&db_vec_mode, "INGOT_DB_VEC");
}

extern "C" void kn_matmul_set_db_vec(int on)
{
    db_vec_mode = on != 0;
}

/* Splits of the scalar kernel: 256 rows each, at most 64 (as measured
 * before the vector kernel existed). */
static int db_splits_scalar(int N)
{
    int sp = (N + 255) / 256;
    return sp < 1 ? 1 : sp > 64 ? 64 : sp;
}

/* Splits of the vector kernel. */
static int db_splits(int N, int OC)
{
    int colblocks = (OC + 255) / 256; /* vectorised bf16 blocks: 256 columns */
    int sp = (DB_TARGET_BLOCKS + colblocks - 1) / colblocks;
    int maxsp = (N + DB_MIN_ROWS - 1) / DB_MIN_ROWS;
    if (sp > maxsp)
        sp = maxsp;
    if (sp > DB_MAX_SPLITS)
        sp = DB_MAX_SPLITS;
    return sp < 1 ? 1 : sp;
}

template <typename T>
static __global__ void __launch_bounds__(DB_WARPS * 32)
db_partial_kernel(float *dbias, float *partial, const T *dout, int N, int OC)
{
    __shared__ float sh[DB_WARPS][32];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int o = blockIdx.x * 32 + lane;
    const int nsp = gridDim.y;
    const int per = (N + nsp - 1) / nsp;
    const int r0 = blockIdx.y * per;
    const int r1 = min(N, r0 + per);
    float acc = 0.0f;
    if (o < OC)
        for (int r = r0 + warp; r < r1; r += DB_WARPS)
            acc += kn_f(dout[(size_t)r * OC + o]);
    sh[warp][lane] = acc;
    __syncthreads();
    if (warp == 0 && o < OC) {
        float t = 0.0f;
        for (int w = 0; w < DB_WARPS; w++)
            t += sh[w][lane];
        if (nsp == 1)
            dbias[o] += t;
        else
            partial[(size_t)blockIdx.y * OC + o] = t;
    }
}

template <typename T>
static __global__ void __launch_bounds__(DBV_WARPS * 32)
db_partial_vec_kernel(float *dbias, float *partial, const T *dout, int N, int OC)
{
    constexpr int P = kn_pack<T>::n;
    __shared__ float sh[DBV_WARPS][32 * P];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int o0 = (blockIdx.x * 32 + lane) * P;
    const int nsp = gridDim.y;
    const int per = (N + nsp - 1) / nsp;
    const int r0 = blockIdx.y * per;
    const int r1 = min(N, r0 + per);
    float acc[P];
#pragma unroll
    for (int e = 0; e < P; e++)
        acc[e] = 0.0f;
    if (o0 < OC) {
        const T *col = dout + o0;
        int r = r0 + warp;
        for (; r + 3 * DBV_WARPS < r1; r += 4 * DBV_WARPS) {
            kn_pack<T> a = kn_ld_pack(col + (size_t)r * OC);
            kn_pack<T> b = kn_ld_pack(col + (size_t)(r + DBV_WARPS) * OC);
            kn_pack<T> c = kn_ld_pack(col + (size_t)(r + 2 * DBV_WARPS) * OC);
            kn_pack<T> d = kn_ld_pack(col + (size_t)(r + 3 * DBV_WARPS) * OC);
#pragma unroll
            for (int e = 0; e < P; e++)
                acc[e] += (kn_f(a.v[e]) + kn_f(b.v[e])) + (kn_f(c.v[e]) + kn_f(d.v[e]));
        }
        for (; r < r1; r += DBV_WARPS) {
            kn_pack<T> a = kn_ld_pack(col + (size_t)r * OC);
#pragma unroll
            for (int e = 0; e < P; e++)
                acc[e] += kn_f(a.v[e]);
        }
    }
#pragma unroll
    for (int e = 0; e < P; e++)
        sh[warp][lane * P + e] = acc[e];
    __syncthreads();
    for (int c = threadIdx.x; c < 32 * P; c += blockDim.x) {
        const int o = blockIdx.x * 32 * P + c;
        if (o >= OC)
            continue;
        float t = 0.0f;
        for (int w = 0; w < DBV_WARPS; w++)
            t += sh[w][c];
        if (nsp == 1)
            dbias[o] += t;
        else
            partial[(size_t)blockIdx.y * OC + o] = t;
    }
}

static __global__ void db_final_kernel(float *dbias, const float *partial, int nsp, int OC)
{
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= OC)
        return;
    float t = 0.0f;
    for (int k = 0; k < nsp; k++)
        t += partial[(size_t)k * OC + o];
    dbias[o] += t;
}

extern "C" size_t kn_matmul_bwd_bias_scratch_bytes(int N, int OC)
{
    if (N <= 0 || OC <= 0)
        return 0;
    int sp = db_splits(N, OC), ss = db_splits_scalar(N);
    if (ss > sp)
        sp = ss;
    return sp > 1 ? (size_t)sp * OC * sizeof(float) : 0;
}

extern "C" int kn_matmul_bwd_bias(float *dbias, const void *dout, int N, int OC, kn_dtype dt,
                                  void *scratch, size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(N >= 0 && OC > 0, "need N >= 0, OC > 0 (N=%d OC=%d)", N, OC);
    KN_ARG_CHECK(dbias && dout, "NULL buffer (dbias=%p dout=%p)", (void *)dbias, dout);
    if (N == 0)
        return 0;
    size_t need = kn_matmul_bwd_bias_scratch_bytes(N, OC);
    KN_ARG_CHECK(need == 0 || (scratch && scratch_bytes >= need),
                 "scratch %p of %zu bytes, need %zu", scratch, scratch_bytes, need);
    int sp = 1;
    KN_DISPATCH(dt, T, {
        const int P = kn_pack<T>::n;
        if (OC % P == 0 && kn_aligned16(dout) && db_vec_enabled()) {
            sp = db_splits(N, OC);
            dim3 grid((unsigned)((OC / P + 31) / 32), (unsigned)sp);
            db_partial_vec_kernel<T><<<grid, DBV_WARPS * 32, 0, s>>>(dbias, (float *)scratch,
                                                                     (const T *)dout, N, OC);
        } else {
            sp = db_splits_scalar(N);
            dim3 grid((unsigned)((OC + 31) / 32), (unsigned)sp);
            db_partial_kernel<T><<<grid, DB_WARPS * 32, 0, s>>>(dbias, (float *)scratch,
                                                                (const T *)dout, N, OC);
        }
    });
    KN_LAUNCH_CHECK();
    if (sp > 1) {
        db_final_kernel<<<(OC + 255) / 256, 256, 0, s>>>(dbias, (const float *)scratch, sp, OC);
        KN_LAUNCH_CHECK();
    }
    return 0;
}
