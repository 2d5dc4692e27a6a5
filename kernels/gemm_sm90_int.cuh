/* Internal to kernels/gemm_sm90*.cu: what the own Hopper GEMM's kernels
 * share (gemm_sm90.cu: warp-specialised 128 x 256 tiles; gemm_sm90_pp.cu:
 * ping-pong consumers on 128 x 128 tiles): the launch parameters, the
 * epilogues' GELU math, the tile order, the tensor maps, the knobs. */
#ifndef INGOT_GEMM_SM90_INT_CUH
#define INGOT_GEMM_SM90_INT_CUH

#include <cuda.h>
#include <stdint.h>

#include "gemm_sm90.h"
#include "kn_device.cuh"

enum { G9_BM = 128 }; /* rows of a block's tile */

typedef struct g9_par {
    int M, N, K;
    kn_bf16 *C;
    long long ldc;
    const kn_bf16 *bias;
    kn_bf16 *aux;
    long long ldaux;
    int group; /* tile order: cluster rows per group (g9_sched) */
    float *colsum; /* kn_g9's */
    const float *rope; /* kn_g9's RoPE table, positions, head size, columns */
    int rope_T, rope_hs, rope_cols;
} g9_par;

static __device__ __forceinline__ float g9_tanh(float x)
{
    float y;
    asm("tanh.approx.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

/* GELU, tanh form (gelu.cu's, with the hardware tanh: its ~2^-11 relative
 * error is below the bf16 rounding of the result), written as the fewest
 * operations (the epilogue warps' time per tile is in them):
 * u = x (K + K C x^2), gelu = h + h tanh(u) with h = x / 2,
 * gelu' = (1 + th) / 2 + h (1 - th^2) (K + 3 K C x^2). */
static __device__ __forceinline__ float g9_gelu(float x)
{
    const float x2 = x * x, h = 0.5f * x;
    const float th = g9_tanh(x * fmaf(KN_GELU_K * KN_GELU_C, x2, KN_GELU_K));
    return fmaf(h, th, h);
}

static __device__ __forceinline__ float g9_gelu_grad(float x)
{
    const float x2 = x * x, h = 0.5f * x;
    const float th = g9_tanh(x * fmaf(KN_GELU_K * KN_GELU_C, x2, KN_GELU_K));
    const float d = h * fmaf(3.0f * KN_GELU_K * KN_GELU_C, x2, KN_GELU_K);
    return fmaf(0.5f, th, fmaf(d, fmaf(-th, th, 1.0f), 0.5f));
}

/* The tiles a block owns. With clusters of CL blocks, a cluster owns
 * cluster tiles of CL x 128 rows x 256 product columns (the SwiGLU
 * forward's: 128 output columns, sc.bn) and block rank r of the
 * cluster the rows r * 128 .. of each; the B tile is the same for the
 * cluster's blocks, each loads 1/CL of it for all of them (TMA multicast).
 * Order: groups of `group` cluster rows, in each the row index fastest, then
 * the column: the ~132 tiles in flight cover a few rows and columns of the
 * tile grid, so their A rows and B columns stay in L2 together. Row-major
 * order (group 1) streamed all of B once per two or three rows of tiles,
 * which costs once B outgrows L2 (LLaMA's gate|up weights: 46 MB). */
struct g9_sched {
    int first, stride, count; /* cluster tiles first, first + stride, ... < count */
    int ntn, rank, cl;
    int bn;          /* output columns per tile: G9_BN, or with the SwiGLU forward half of it */
    int ntm, group; /* cluster rows of tiles; cluster rows per group */
};

static __device__ __forceinline__ void g9_tile(const g9_sched &sc, int ct, int &m0, int &n0)
{
    const int per = sc.group * sc.ntn, g = ct / per, in = ct - g * per;
    const int rows = min(sc.group, sc.ntm - g * sc.group);
    m0 = ((g * sc.group + in % rows) * sc.cl + sc.rank) * G9_BM;
    n0 = (in / rows) * sc.bn;
}

/* A row-major bf16 matrix (outer rows of inner elements, ld elements apart)
 * read by TMA in boxes of 64 x box_outer with the 128-byte swizzle. 0 or
 * INGOT_E_CUDA (the message says what to do). */
int g9_map(CUtensorMap *m, const void *p, long long inner, long long outer, long long ld,
           int box_outer);

/* The current device's SM count (the persistent grids' size). 0 or
 * INGOT_E_CUDA. */
int g9_sm_count(int *sms);

/* gemm_sm90_pp.cu: the product on the ping-pong kernel (PLAIN, GELU and
 * dGELU; the caller checked kn_gemm_sm90_supports). 0, -ENOTSUP (another
 * epilogue), INGOT_E_CUDA. */
int g9pp_run(const kn_g9 *g, const g9_par &p, cudaStream_t s);

#endif
