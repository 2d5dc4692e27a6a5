/* Flash attention (FlashAttention-2 schedule) with mma.sync.m16n8k16 (bf16
 * in, float32 accumulate).
 *
 * Blocks of 64 queries (forward, dq) or 64 keys (dk/dv), 4 warps, 16 rows
 * per warp. Tiles go global -> shared (16-byte loads, rows padded by 8
 * elements so fragment loads are bank-conflict free) -> registers.
 *
 * m16n8k16 fragments (PTX ISA), g = lane / 4, q = lane % 4, each 32-bit
 * register holds two bf16, the lower column in the low half:
 *   A (16x16, row-major): a[0] = A[g][2q..2q+1], a[1] = A[g+8][2q..],
 *                         a[2] = A[g][2q+8..],   a[3] = A[g+8][2q+8..]
 *   B (16x8, k x n):      b[0] = B[2q..2q+1][g], b[1] = B[2q+8..2q+9][g]
 *   C (16x8, float):      c[0..1] = C[g][2q..2q+1], c[2..3] = C[g+8][2q..]
 * So A comes from a row-major tile with the contraction dimension contiguous,
 * and B = Y^T comes from a row-major Y (n rows) with the contraction
 * dimension contiguous: b[0] = Y[g][2q..]. Products whose contraction runs
 * over the rows of a tile read its B fragments with ldmatrix.trans. Two
 * adjacent C tiles (16 x 16 of scores) form one A fragment of the next
 * product (FlashAttention-2's register reuse): a[0] = C0[0..1], a[1] =
 * C0[2..3], a[2] = C1[0..1], a[3] = C1[2..3].
 *
 * Scores are kept in base 2: x = (q . k) * scale * log2(e); lse2 =
 * max + log2(sum exp2(x - max)); p = exp2(x - lse2). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "flash_attention.h"
#include "flash_attention_common.cuh"
#include "flash_attention_sm90.h"
#include "kn_arch.h"
#include "kn_device.cuh"
#include "rope.h" /* kn_rope_bwd: kn_flash_gqa_rope_bwd where it is not fused */
#include "bias_grad.h" /* kn_matmul_bwd_bias: the qkv bias gradient's last pass */

enum { FA_BQ = 64, FA_BK = 64, FA_THREADS = 128, FA_PAD = 8 };

static __device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0,
                                                uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

static __device__ __forceinline__ uint32_t pack2(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi); /* .x (low half) = lo */
    return *reinterpret_cast<uint32_t *>(&v);
}

static __device__ __forceinline__ uint32_t ld32(const kn_bf16 *p)
{
    return *reinterpret_cast<const uint32_t *>(p);
}

/* A fragments of a 16-row slab (rows r0..r0+15) of a row-major shared tile
 * with HS columns, for the HS/16 contraction chunks. */
template <int HS, int LD>
static __device__ __forceinline__ void load_a(uint32_t a[HS / 16][4], const kn_bf16 *tile, int r0,
                                              int g, int q)
{
#pragma unroll
    for (int kc = 0; kc < HS / 16; kc++) {
        const kn_bf16 *p = tile + (size_t)(r0 + g) * LD + kc * 16 + 2 * q;
        a[kc][0] = ld32(p);
        a[kc][1] = ld32(p + 8 * LD);
        a[kc][2] = ld32(p + 8);
        a[kc][3] = ld32(p + 8 * LD + 8);
    }
}

/* Tile of 64 rows x HS of one head from a [.., T, rowstride] bf16 tensor
 * (row t at base + t * rowstride), rows >= T zero-filled, written row-major
 * to sh (ld LD). */
template <int HS, int LD>
static __device__ __forceinline__ void load_tile(kn_bf16 *sh, const kn_bf16 *base,
                                                 size_t rowstride, int t0, int T)
{
    /* a fixed trip count, each thread's row and chunk computed once (a
     * loop from threadIdx.x compiles to a generic loop with a division per
     * copy: flash_attention_sm90.cu's s9_load measured the difference) */
    constexpr int CH = HS / 8, RS = FA_THREADS / CH, PASSES = 64 * CH / FA_THREADS;
    static_assert((64 * CH) % FA_THREADS == 0, "whole passes of the block");
    const int r0 = threadIdx.x / CH, c = (threadIdx.x % CH) * 8;
#pragma unroll
    for (int k = 0; k < PASSES; k++) {
        const int r = r0 + k * RS;
        int4 v = make_int4(0, 0, 0, 0);
        if (t0 + r < T)
            v = *reinterpret_cast<const int4 *>(base + (size_t)(t0 + r) * rowstride + c);
        *reinterpret_cast<int4 *>(sh + (size_t)r * LD + c) = v;
    }
}

/* load_tile through cp.async (16 bytes per copy, rows >= T zero-filled by a
 * zero source size); completes at cp_async_wait + a barrier. */
static __device__ __forceinline__ void cp_async16(kn_bf16 *dst, const kn_bf16 *src, bool valid)
{
    uint32_t d = (uint32_t)__cvta_generic_to_shared(dst);
    int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(n));
}

static __device__ __forceinline__ void cp_async_commit(void)
{
    asm volatile("cp.async.commit_group;\n" ::);
}

template <int N> static __device__ __forceinline__ void cp_async_wait(void)
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

template <int HS, int LD>
static __device__ __forceinline__ void load_tile_async(kn_bf16 *sh, const kn_bf16 *base,
                                                       size_t rowstride, int t0, int T)
{
    constexpr int CH = HS / 8, RS = FA_THREADS / CH, PASSES = 64 * CH / FA_THREADS;
    static_assert((64 * CH) % FA_THREADS == 0, "whole passes of the block");
    const int r0 = threadIdx.x / CH, c = (threadIdx.x % CH) * 8;
#pragma unroll 2
    for (int k = 0; k < PASSES; k++) {
        const int r = r0 + k * RS;
        const bool ok = t0 + r < T;
        cp_async16(sh + (size_t)r * LD + c, ok ? base + (size_t)(t0 + r) * rowstride + c : base,
                   ok);
    }
}

/* Four 8x8 b16 matrices from shared memory (ldmatrix): lane l gives the
 * address of row l % 8 of matrix l / 8; register i receives matrix i's
 * element pair [g][2q..2q+1]. */
static __device__ __forceinline__ void ldsm_x4(uint32_t r[4], const kn_bf16 *p)
{
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

/* S[16 x 64] = A (16 x HS, fragments) . Y^T with Y a row-major shared tile
 * of 64 rows x HS (ld LD). B fragments by ldmatrix: matrices (rows j*8,
 * columns kc*16 + {0, 8}) and (rows (j+1)*8, same columns) give b0, b1 of
 * score tiles j and j + 1. */
template <int HS, int LD>
static __device__ __forceinline__ void mma_abt(float s[8][4], const uint32_t a[HS / 16][4],
                                               const kn_bf16 *Y, int lane)
{
    const int mtx = lane / 8, rr = lane % 8;
#pragma unroll
    for (int j = 0; j < 8; j++)
        s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
    for (int kc = 0; kc < HS / 16; kc++)
#pragma unroll
        for (int j = 0; j < 8; j += 2) {
            uint32_t b[4];
            ldsm_x4(b, Y + (size_t)((j + (mtx >> 1)) * 8 + rr) * LD + kc * 16 + (mtx & 1) * 8);
            mma_bf16(s[j], a[kc], b[0], b[1]);
            mma_bf16(s[j + 1], a[kc], b[2], b[3]);
        }
}

/* Four 8x8 b16 matrices from shared memory, transposed (ldmatrix): lane l
 * gives the address of row l % 8 of matrix l / 8; register i receives matrix
 * i's element pair [2q..2q+1][g] (i.e. a B fragment half). */
static __device__ __forceinline__ void ldsm_x4_trans(uint32_t r[4], const kn_bf16 *p)
{
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

/* acc[16 x HS] += P (16 x 64, from score tiles p) . Z, Z a row-major shared
 * tile of 64 rows x HS (ld LD; rows are the contraction dimension). The B
 * fragments come from ldmatrix.trans: matrices (rows kc*16 + {0, 8}, columns
 * nt*8) and (same rows, columns (nt+1)*8) give b0, b1 of nt and nt + 1. */
template <int HS, int LD>
static __device__ __forceinline__ void mma_pz(float acc[HS / 8][4], const float p[8][4],
                                              const kn_bf16 *Z, int lane)
{
    const int mtx = lane / 8, rr = lane % 8;
#pragma unroll
    for (int kc = 0; kc < 4; kc++) {
        uint32_t a[4];
        a[0] = pack2(p[2 * kc][0], p[2 * kc][1]);
        a[1] = pack2(p[2 * kc][2], p[2 * kc][3]);
        a[2] = pack2(p[2 * kc + 1][0], p[2 * kc + 1][1]);
        a[3] = pack2(p[2 * kc + 1][2], p[2 * kc + 1][3]);
#pragma unroll
        for (int nt = 0; nt < HS / 8; nt += 2) {
            uint32_t b[4];
            ldsm_x4_trans(b, Z + (size_t)(kc * 16 + (mtx & 1) * 8 + rr) * LD +
                                 (nt + (mtx >> 1)) * 8);
            mma_bf16(acc[nt], a, b[0], b[1]);
            mma_bf16(acc[nt + 1], a, b[2], b[3]);
        }
    }
}

/* ---------------------------------------------------------------- forward */

template <int HS>
static __global__ void __launch_bounds__(FA_THREADS)
flash_fwd_kernel(kn_bf16 *out, float *lse, const kn_bf16 *qkv, int T, int NH, int NKV,
                 float sl2)
{
    constexpr int LD = HS + FA_PAD;
    /* Two stages of K and V: the next block's copy overlaps this one's math. */
    __shared__ __align__(16) kn_bf16 sK[2][FA_BK * LD]; /* Q first, then K */
    __shared__ __align__(16) kn_bf16 sV[2][FA_BK * LD];
    const int nqb = (T + FA_BQ - 1) / FA_BQ;
    const int qb = nqb - 1 - blockIdx.x; /* heaviest (last) query blocks first */
    const int bh = blockIdx.y, b = bh / NH, h = bh % NH;
    const int C = NH * HS, kvh = h / (NH / NKV);
    const size_t C3 = (size_t)(NH + 2 * NKV) * HS; /* qkv row: NH q, NKV k, NKV v heads */
    const kn_bf16 *base = qkv + (size_t)b * T * C3 + (size_t)h * HS;
    const kn_bf16 *kbase = qkv + (size_t)b * T * C3 + (size_t)(NH + kvh) * HS;
    const kn_bf16 *vbase = kbase + (size_t)NKV * HS;
    const int q0 = qb * FA_BQ;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q = lane % 4;

    load_tile<HS, LD>(sK[0], base, C3, q0, T);
    __syncthreads();
    uint32_t qa[HS / 16][4];
    load_a<HS, LD>(qa, sK[0], warp * 16, g, q);
    __syncthreads(); /* Q is in registers: stage 0 may be overwritten */
    load_tile_async<HS, LD>(sK[0], kbase, C3, 0, T);
    load_tile_async<HS, LD>(sV[0], vbase, C3, 0, T);
    cp_async_commit();

    float o[HS / 8][4];
#pragma unroll
    for (int nt = 0; nt < HS / 8; nt++)
        o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    const int row0 = q0 + warp * 16 + g; /* this thread's rows: row0, row0 + 8 */

    for (int kb = 0; kb <= qb; kb++) {
        const int k0 = kb * FA_BK, cur = kb & 1;
        if (kb < qb) {
            load_tile_async<HS, LD>(sK[cur ^ 1], kbase, C3, k0 + FA_BK, T);
            load_tile_async<HS, LD>(sV[cur ^ 1], vbase, C3, k0 + FA_BK, T);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        float s[8][4];
        mma_abt<HS, LD>(s, qa, sK[cur], lane);
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int row = row0 + (e >> 1) * 8, key = k0 + j * 8 + 2 * q + (e & 1);
                /* max over the raw scores (sl2 > 0): the scale folds
                 * into the exponent's FMA below */
                float x = s[j][e];
                if (kb == qb && key > row)
                    x = -INFINITY;
                s[j][e] = x;
                mx[e >> 1] = fmaxf(mx[e >> 1], x);
            }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            /* Every row sees key k0 <= row here, so mnew is finite. */
            float mnew = fmaxf(m[r], mx[r] * sl2);
            float alpha = kn_fa_ex2(m[r] - mnew); /* m = -inf at first: 0 */
            m[r] = mnew;
            l[r] *= alpha;
#pragma unroll
            for (int nt = 0; nt < HS / 8; nt++) {
                o[nt][2 * r] *= alpha;
                o[nt][2 * r + 1] *= alpha;
            }
        }
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float p = kn_fa_ex2(fmaf(s[j][e], sl2, -m[e >> 1]));
                s[j][e] = p;
                l[e >> 1] += p;
            }
        mma_pz<HS, LD>(o, s, sV[cur], lane);
        __syncthreads(); /* stage cur is refilled next iteration */
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        int row = row0 + r * 8;
        if (row >= T)
            continue;
        float inv = 1.0f / l[r];
        kn_bf16 *dst = out + ((size_t)b * T + row) * C + (size_t)h * HS;
#pragma unroll
        for (int nt = 0; nt < HS / 8; nt++)
            *reinterpret_cast<uint32_t *>(dst + nt * 8 + 2 * q) =
                pack2(o[nt][2 * r] * inv, o[nt][2 * r + 1] * inv);
        if (q == 0)
            lse[(size_t)bh * T + row] = m[r] + log2f(l[r]);
    }
}

/* --------------------------------------------------------------- backward */

/* Dsum[bh, t] = sum_d dout[b, t, h, d] * out[b, t, h, d]. HS / 8 adjacent
 * lanes per row, a 16-byte pack of each tensor per lane (the row read in
 * whole sectors), the lanes' sums added by shuffles in a fixed order. */
template <int HS>
static __global__ void flash_dsum_kernel(float *Dsum, const kn_bf16 *dout, const kn_bf16 *out,
                                         int B, int T, int NH)
{
    constexpr int LPR = HS / 8; /* lanes per row: 2 .. 32, a power of two */
    static_assert(LPR >= 2 && LPR <= 32 && (LPR & (LPR - 1)) == 0, "HS / 8 lanes per row");
    const size_t rows = (size_t)B * NH * T, n = rows * LPR;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    const int lane = threadIdx.x % 32;
    /* the loop test is the warp's first thread's, so whole warps iterate
     * and every lane takes part in the shuffles (rows past the end add 0) */
    for (size_t tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x; tid - lane < n;
         tid += stride) {
        const size_t i = tid / LPR; /* the row: (b NH + h) T + t */
        const int c = (int)(tid % LPR);
        float acc = 0.0f;
        if (i < rows) {
            const int t = (int)(i % T);
            const size_t bh = i / T;
            const int h = (int)(bh % NH), b = (int)(bh / NH);
            const size_t off = ((size_t)b * T + t) * NH * HS + (size_t)h * HS + (size_t)c * 8;
            const kn_pack<kn_bf16> x = kn_ld_pack(dout + off), y = kn_ld_pack(out + off);
#pragma unroll
            for (int k = 0; k < 8; k++)
                acc += kn_f(x.v[k]) * kn_f(y.v[k]);
        }
#pragma unroll
        for (int o = LPR / 2; o > 0; o /= 2)
            acc += __shfl_xor_sync(0xffffffffu, acc, o);
        if (i < rows && c == 0)
            Dsum[i] = acc;
    }
}

/* dq for a block of 64 queries: loop over key blocks kb <= qb;
 * s = q k^T, p = exp2(s * sl2 - lse2), dp = do v^T, ds = p (dp - D),
 * dq += ds k; finally dq *= scale. */
template <int HS>
static __global__ void __launch_bounds__(FA_THREADS)
flash_dq_kernel(kn_bf16 *dqkv, const kn_bf16 *qkv, const kn_bf16 *dout, const float *lse,
                const float *Dsum, int T, int NH, int NKV, float sl2, float scale, int accumulate)
{
    constexpr int LD = HS + FA_PAD;
    __shared__ __align__(16) kn_bf16 sK[2][FA_BK * LD]; /* Q first, then K */
    __shared__ __align__(16) kn_bf16 sV[2][FA_BK * LD]; /* dO first, then V */
    const int nqb = (T + FA_BQ - 1) / FA_BQ;
    const int qb = nqb - 1 - blockIdx.x;
    const int bh = blockIdx.y, b = bh / NH, h = bh % NH;
    const int C = NH * HS, kvh = h / (NH / NKV);
    const size_t C3 = (size_t)(NH + 2 * NKV) * HS; /* qkv row: NH q, NKV k, NKV v heads */
    const kn_bf16 *base = qkv + (size_t)b * T * C3 + (size_t)h * HS;
    const kn_bf16 *kbase = qkv + (size_t)b * T * C3 + (size_t)(NH + kvh) * HS;
    const kn_bf16 *vbase = kbase + (size_t)NKV * HS;
    const kn_bf16 *dbase = dout + (size_t)b * T * C + (size_t)h * HS;
    const int q0 = qb * FA_BQ;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q = lane % 4;
    const int row0 = q0 + warp * 16 + g;

    load_tile<HS, LD>(sK[0], base, C3, q0, T);
    load_tile<HS, LD>(sV[0], dbase, C, q0, T);
    __syncthreads();
    uint32_t qa[HS / 16][4], da[HS / 16][4];
    load_a<HS, LD>(qa, sK[0], warp * 16, g, q);
    load_a<HS, LD>(da, sV[0], warp * 16, g, q);
    __syncthreads();
    load_tile_async<HS, LD>(sK[0], kbase, C3, 0, T);
    load_tile_async<HS, LD>(sV[0], vbase, C3, 0, T);
    cp_async_commit();
    float L[2], D[2];
    kn_fa_row_stats(L, D, lse, Dsum, (size_t)bh, row0, T);
    float dq[HS / 8][4];
#pragma unroll
    for (int nt = 0; nt < HS / 8; nt++)
        dq[nt][0] = dq[nt][1] = dq[nt][2] = dq[nt][3] = 0.0f;

    for (int kb = 0; kb <= qb; kb++) {
        const int k0 = kb * FA_BK, cur = kb & 1;
        if (kb < qb) {
            load_tile_async<HS, LD>(sK[cur ^ 1], kbase, C3, k0 + FA_BK, T);
            load_tile_async<HS, LD>(sV[cur ^ 1], vbase, C3, k0 + FA_BK, T);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        float s[8][4], dp[8][4];
        mma_abt<HS, LD>(s, qa, sK[cur], lane);
        mma_abt<HS, LD>(dp, da, sV[cur], lane);
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int r = e >> 1, row = row0 + 8 * r, key = k0 + j * 8 + 2 * q + (e & 1);
                float p = (kb == qb && key > row) ? 0.0f : kn_fa_ex2(fmaf(s[j][e], sl2, -L[r]));
                s[j][e] = p * (dp[j][e] - D[r]); /* ds */
            }
        mma_pz<HS, LD>(dq, s, sK[cur], lane);
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int row = row0 + 8 * r;
        if (row >= T)
            continue;
        kn_bf16 *dst = dqkv + ((size_t)b * T + row) * C3 + (size_t)h * HS;
#pragma unroll
        for (int nt = 0; nt < HS / 8; nt++) {
            uint32_t *pd = reinterpret_cast<uint32_t *>(dst + nt * 8 + 2 * q);
            float x0 = dq[nt][2 * r] * scale, x1 = dq[nt][2 * r + 1] * scale;
            if (accumulate) {
                __nv_bfloat162 old = *reinterpret_cast<__nv_bfloat162 *>(pd);
                x0 += __low2float(old);
                x1 += __high2float(old);
            }
            *pd = pack2(x0, x1);
        }
    }
}

/* dk, dv for a block of 64 keys: loop over query blocks qb >= kb;
 * st = k q^T, pt = exp2(st * sl2 - lse2[query]), dv += pt do,
 * dpt = v do^T, dst = pt (dpt - D[query]), dk += dst q; finally dk *= scale.
 * Shared memory: sQ, sdO [64][LD], lse, D [64]. */
template <int HS>
static __global__ void __launch_bounds__(FA_THREADS)
flash_dkv_kernel(kn_bf16 *dqkv, const kn_bf16 *qkv, const kn_bf16 *dout, const float *lse,
                 const float *Dsum, int T, int NH, int NKV, float sl2, float scale, int accumulate)
{
    constexpr int LD = HS + FA_PAD;
    __shared__ __align__(16) kn_bf16 sQ[2][FA_BQ * LD];  /* K first, then Q */
    __shared__ __align__(16) kn_bf16 sdO[2][FA_BQ * LD]; /* V first, then dO */
    __shared__ float sL[2][FA_BQ], sD[2][FA_BQ];
    const int nkb = (T + FA_BK - 1) / FA_BK;
    const int kb = blockIdx.x; /* low key blocks see the most queries: first */
    const int b = blockIdx.y / NKV, kvh = blockIdx.y % NKV, rep = NH / NKV;
    const int C = NH * HS;
    const size_t C3 = (size_t)(NH + 2 * NKV) * HS; /* qkv row: NH q, NKV k, NKV v heads */
    const kn_bf16 *kbase = qkv + (size_t)b * T * C3 + (size_t)(NH + kvh) * HS;
    const kn_bf16 *vbase = kbase + (size_t)NKV * HS;
    const int k0 = kb * FA_BK;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q = lane % 4;
    const int key0 = k0 + warp * 16 + g; /* this thread's keys: key0, key0 + 8 */
    /* Iteration it: query head kvh * rep + it / nq (the group's heads in
     * order, so dk, dv sum them deterministically), query block kb + it % nq. */
    const int nq = nkb - kb, nit = rep * nq;

    load_tile<HS, LD>(sQ[0], kbase, C3, k0, T);  /* K rows */
    load_tile<HS, LD>(sdO[0], vbase, C3, k0, T); /* V rows */
    __syncthreads();
    uint32_t ka[HS / 16][4], va[HS / 16][4];
    load_a<HS, LD>(ka, sQ[0], warp * 16, g, q);
    load_a<HS, LD>(va, sdO[0], warp * 16, g, q);
    __syncthreads();
    /* Stage one iteration: Q and dO by cp.async, lse and D by plain stores
     * (visible after the barrier that precedes their use). */
    auto stage = [&](int buf, int it) {
        const int hq = kvh * rep + it / nq, qs = (kb + it % nq) * FA_BQ;
        const size_t bh = (size_t)b * NH + hq;
        load_tile_async<HS, LD>(sQ[buf], qkv + (size_t)b * T * C3 + (size_t)hq * HS, C3, qs, T);
        load_tile_async<HS, LD>(sdO[buf], dout + (size_t)b * T * C + (size_t)hq * HS, C, qs, T);
        cp_async_commit();
        static_assert(FA_BQ <= FA_THREADS, "one row of lse and D per thread");
        if (const int i = threadIdx.x; i < FA_BQ) {
            const int row = qs + i;
            sL[buf][i] = row < T ? lse[bh * T + row] : 0.0f;
            sD[buf][i] = row < T ? Dsum[bh * T + row] : 0.0f;
        }
    };
    stage(0, 0);
    float dk[HS / 8][4], dv[HS / 8][4];
#pragma unroll
    for (int nt = 0; nt < HS / 8; nt++) {
        dk[nt][0] = dk[nt][1] = dk[nt][2] = dk[nt][3] = 0.0f;
        dv[nt][0] = dv[nt][1] = dv[nt][2] = dv[nt][3] = 0.0f;
    }

    for (int it = 0; it < nit; it++) {
        const int q0 = (kb + it % nq) * FA_BQ, cur = it & 1;
        if (it + 1 < nit) {
            stage(cur ^ 1, it + 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const float *sLc = sL[cur], *sDc = sD[cur];
        float st[8][4], dpt[8][4];
        mma_abt<HS, LD>(st, ka, sQ[cur], lane);
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int key = key0 + 8 * (e >> 1), ql = j * 8 + 2 * q + (e & 1), qry = q0 + ql;
                st[j][e] = (qry < key || qry >= T) ? 0.0f : kn_fa_ex2(fmaf(st[j][e], sl2, -sLc[ql]));
            }
        mma_pz<HS, LD>(dv, st, sdO[cur], lane);
        mma_abt<HS, LD>(dpt, va, sdO[cur], lane);
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int ql = j * 8 + 2 * q + (e & 1);
                st[j][e] = st[j][e] * (dpt[j][e] - sDc[ql]);
            }
        mma_pz<HS, LD>(dk, st, sQ[cur], lane);
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int key = key0 + 8 * r;
        if (key >= T)
            continue;
        kn_bf16 *dst = dqkv + ((size_t)b * T + key) * C3 + (size_t)(NH + kvh) * HS;
#pragma unroll
        for (int nt = 0; nt < HS / 8; nt++) {
            uint32_t *pk = reinterpret_cast<uint32_t *>(dst + nt * 8 + 2 * q);
            uint32_t *pv = reinterpret_cast<uint32_t *>(dst + (size_t)NKV * HS + nt * 8 + 2 * q);
            float k0v = dk[nt][2 * r] * scale, k1v = dk[nt][2 * r + 1] * scale;
            float v0 = dv[nt][2 * r], v1 = dv[nt][2 * r + 1];
            if (accumulate) {
                __nv_bfloat162 ok = *reinterpret_cast<__nv_bfloat162 *>(pk);
                __nv_bfloat162 ov = *reinterpret_cast<__nv_bfloat162 *>(pv);
                k0v += __low2float(ok);
                k1v += __high2float(ok);
                v0 += __low2float(ov);
                v1 += __high2float(ov);
            }
            *pk = pack2(k0v, k1v);
            *pv = pack2(v0, v1);
        }
    }
}

/* ---------------------------------------------------------------- host */

static kn_fa_impl fa_forced = KN_FA_AUTO;

extern "C" void kn_flash_attention_force(kn_fa_impl which)
{
    fa_forced = which;
}

/* 1 when the Hopper kernels can run here: the sm_90a code is loaded and
 * neither INGOT_ATTN=portable nor INGOT_PORTABLE=1 (kn_arch.h) is set. */
static int fa_sm90_here(void)
{
    static int cached = -1;
    if (cached < 0) {
        kn_path p = KN_PATH_PORTABLE;
        const char *e = getenv("INGOT_ATTN");
        if (kn_arch_path(&p))
            return 0; /* no device: not cached, the next call asks again */
        cached = p == KN_PATH_SM90A && !(e && !strcmp(e, "portable"));
    }
    return cached;
}

/* 1: the call takes the Hopper kernels. */
static int fa_use_sm90(int hs)
{
    if (fa_forced == KN_FA_PORTABLE || (hs != 64 && hs != 128))
        return 0;
    if (fa_forced == KN_FA_SM90) {
        kn_path p = KN_PATH_PORTABLE;
        return kn_arch_path(&p) == 0 && p == KN_PATH_SM90A;
    }
    return fa_sm90_here();
}

extern "C" const char *kn_flash_attention_impl_name(int hs)
{
    return fa_use_sm90(hs) ? "sm90" : "portable";
}

extern "C" int kn_flash_gqa_supported(int NH, int NKV, int hs, kn_dtype dt)
{
    if (dt != KN_BF16 || NH <= 0 || NKV <= 0 || NH % NKV != 0)
        return 0;
    if (hs == 32 || hs == 64)
        return 1;
    return hs == 128 && fa_use_sm90(hs);
}

extern "C" int kn_flash_attention_supported(int C, int NH, kn_dtype dt)
{
    if (NH <= 0 || C <= 0 || C % NH != 0 || C % 8 != 0)
        return 0;
    return kn_flash_gqa_supported(NH, NH, C / NH, dt);
}

/* Shapes, dtype and grid limits; al1..al4 must be 16-byte aligned (NULL ok). */
static int fa_check(const void *al1, const void *al2, const void *al3, const void *al4, int B,
                    int T, int NH, int NKV, int hs, kn_dtype dt)
{
    KN_ARG_CHECK(kn_flash_gqa_supported(NH, NKV, hs, dt),
                 "needs bf16, NH %% NKV == 0, hs in {32, 64} (128 on the Hopper path) "
                 "(NH=%d NKV=%d hs=%d dtype=%d); use kn_attention_* / kn_gqa_* for other shapes",
                 NH, NKV, hs, (int)dt);
    KN_ARG_CHECK(fa_forced != KN_FA_SM90 || fa_use_sm90(hs),
                 "the Hopper kernels were forced but cannot run here (hs=%d; they need the "
                 "sm_90a code loaded and hs 64 or 128)", hs);
    KN_ARG_CHECK(B > 0 && T > 0, "need B, T > 0 (B=%d T=%d)", B, T);
    KN_ARG_CHECK((long long)B * NH <= 65535, "B*NH=%lld above the grid limit 65535",
                 (long long)B * NH);
    KN_ARG_CHECK(kn_aligned16(al1, al2, al3, al4),
                 "buffers must be 16-byte aligned (%p %p %p %p)", al1, al2, al3, al4);
    return 0;
}

extern "C" int kn_flash_gqa_fwd(void *out, float *lse, const void *qkv, int B, int T, int NH,
                                int NKV, int hs, kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(out && lse && qkv, "NULL buffer (out=%p lse=%p qkv=%p)", out, (void *)lse, qkv);
    int err = fa_check(out, qkv, NULL, NULL, B, T, NH, NKV, hs, dt);
    if (err)
        return err;
    if (fa_use_sm90(hs))
        return kn_fa_sm90_fwd(out, lse, qkv, B, T, NH, NKV, hs, s);
    const float sl2 = (1.0f / sqrtf((float)hs)) * 1.4426950408889634f;
    dim3 grid((unsigned)((T + FA_BQ - 1) / FA_BQ), (unsigned)(B * NH));
    if (hs == 64)
        flash_fwd_kernel<64><<<grid, FA_THREADS, 0, s>>>((kn_bf16 *)out, lse,
                                                         (const kn_bf16 *)qkv, T, NH, NKV, sl2);
    else
        flash_fwd_kernel<32><<<grid, FA_THREADS, 0, s>>>((kn_bf16 *)out, lse,
                                                         (const kn_bf16 *)qkv, T, NH, NKV, sl2);
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_flash_attention_fwd(void *out, float *lse, const void *qkv, int B, int T, int C,
                                      int NH, kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(NH > 0 && C > 0 && C % NH == 0, "C=%d not a multiple of NH=%d", C, NH);
    return kn_flash_gqa_fwd(out, lse, qkv, B, T, NH, NH, C / NH, dt, s);
}

/* Dsum's bytes, rounded up so that what follows is 256-byte aligned. */
static size_t fa_dsum_bytes(int B, int T, int NH)
{
    return ((size_t)B * NH * T * sizeof(float) + 255) & ~(size_t)255;
}

extern "C" size_t kn_flash_gqa_bwd_scratch_bytes(int B, int T, int NH, int NKV, int hs)
{
    if (B <= 0 || T <= 0 || NH <= 0)
        return 0;
    /* the Hopper kernels' dq accumulator, where they will run fused */
    const size_t work = fa_use_sm90(hs) ? kn_fa_sm90_bwd_work_bytes(B, T, NH, NKV, hs) : 0;
    return fa_dsum_bytes(B, T, NH) + work;
}

extern "C" size_t kn_flash_attention_bwd_scratch_bytes(int B, int T, int C, int NH)
{
    return kn_flash_gqa_bwd_scratch_bytes(B, T, NH, NH, NH > 0 ? C / NH : 0);
}

template <int HS>
static int fa_bwd(kn_bf16 *dqkv, const kn_bf16 *dout, const kn_bf16 *qkv, const kn_bf16 *out,
                  const float *lse, float *Dsum, void *work, size_t work_bytes, int B, int T,
                  int NH, int NKV, int accumulate, float *colsum, int *summed, const float *rope,
                  int *roped, cudaStream_t s)
{
    const float scale = 1.0f / sqrtf((float)HS), sl2 = scale * 1.4426950408889634f;
    size_t rows = (size_t)B * NH * T;
    flash_dsum_kernel<HS><<<kn_grid_for(rows * (HS / 8), 256), 256, 0, s>>>(Dsum, dout, out, B,
                                                                             T, NH);
    KN_LAUNCH_CHECK();
    if (fa_use_sm90(HS))
        return kn_fa_sm90_bwd(dqkv, dout, qkv, lse, Dsum, B, T, NH, NKV, HS, accumulate, work,
                              work_bytes, colsum, summed, rope, rope ? roped : NULL, s);
    if constexpr (HS <= 64) {
        dim3 grid((unsigned)((T + FA_BQ - 1) / FA_BQ), (unsigned)(B * NH));
        flash_dq_kernel<HS><<<grid, FA_THREADS, 0, s>>>(dqkv, qkv, dout, lse, Dsum, T, NH, NKV,
                                                        sl2, scale, accumulate);
        KN_LAUNCH_CHECK();
        dim3 gkv((unsigned)((T + FA_BK - 1) / FA_BK), (unsigned)(B * NKV));
        flash_dkv_kernel<HS><<<gkv, FA_THREADS, 0, s>>>(dqkv, qkv, dout, lse, Dsum, T, NH, NKV,
                                                        sl2, scale, accumulate);
        KN_LAUNCH_CHECK();
    }
    return 0;
}

/* kn_flash_gqa_bwd, and with colsum and summed (see kn_fa_sm90_bwd) the
 * column sums of the gradient where the Hopper epilogues can write them;
 * with rope (accumulate 0) kn_flash_gqa_rope_bwd: rotated back in the Hopper
 * pass's stores where it runs fused, else by kn_rope_bwd after. */
static int fa_gqa_bwd(void *dqkv, const void *dout, const void *qkv, const void *out,
                      const float *lse, int B, int T, int NH, int NKV, int hs, int accumulate,
                      kn_dtype dt, void *scratch, size_t scratch_bytes, float *colsum,
                      int *summed, const float *rope, cudaStream_t s)
{
    KN_ARG_CHECK(dqkv && dout && qkv && out && lse,
                 "NULL buffer (dqkv=%p dout=%p qkv=%p out=%p lse=%p)", dqkv, dout, qkv, out,
                 (const void *)lse);
    int err = fa_check(dqkv, dout, qkv, out, B, T, NH, NKV, hs, dt);
    if (err)
        return err;
    /* Dsum at least; the Hopper path's dq accumulator if there is room
     * (a scratch sized while another path was forced still works) */
    const size_t need = fa_dsum_bytes(B, T, NH);
    KN_ARG_CHECK(scratch && scratch_bytes >= need, "scratch %p of %zu bytes, need %zu", scratch,
                 scratch_bytes, need);
    void *work = (char *)scratch + need;
    const size_t work_bytes = scratch_bytes - need;
    kn_bf16 *dq = (kn_bf16 *)dqkv;
    const kn_bf16 *dO = (const kn_bf16 *)dout, *x = (const kn_bf16 *)qkv,
                  *o = (const kn_bf16 *)out;
    float *D = (float *)scratch;
    /* the fallback below rotates all of dqkv: what was there too */
    KN_ARG_CHECK(!rope || !accumulate, "RoPE's backward with accumulate %d (only 0)", accumulate);
    if (summed)
        *summed = 0;
    /* INGOT_FA_ROPE=0: RoPE's backward as its own pass after the attention's
     * (for comparisons) */
    static int rope_fused = -1;
    const float *rope_in = kn_env_on_once(&rope_fused, "INGOT_FA_ROPE") ? rope : NULL;
    int roped = 0;
    if (hs == 128)
        err = fa_bwd<128>(dq, dO, x, o, lse, D, work, work_bytes, B, T, NH, NKV, accumulate,
                          colsum, summed, rope_in, &roped, s);
    else if (hs == 64)
        err = fa_bwd<64>(dq, dO, x, o, lse, D, work, work_bytes, B, T, NH, NKV, accumulate,
                         colsum, summed, rope_in, &roped, s);
    else
        err = fa_bwd<32>(dq, dO, x, o, lse, D, work, work_bytes, B, T, NH, NKV, accumulate,
                         colsum, summed, rope_in, &roped, s);
    if (err || !rope || roped)
        return err;
    return kn_rope_bwd(dqkv, dqkv, rope, B, T, NH + NKV, hs, (NH + 2 * NKV) * hs, dt, s);
}

extern "C" int kn_flash_gqa_bwd(void *dqkv, const void *dout, const void *qkv, const void *out,
                                const float *lse, int B, int T, int NH, int NKV, int hs,
                                int accumulate, kn_dtype dt, void *scratch, size_t scratch_bytes,
                                cudaStream_t s)
{
    return fa_gqa_bwd(dqkv, dout, qkv, out, lse, B, T, NH, NKV, hs, accumulate, dt, scratch,
                      scratch_bytes, NULL, NULL, NULL, s);
}

extern "C" int kn_flash_gqa_rope_bwd(void *dqkv, const void *dout, const void *qkv,
                                     const void *out, const float *lse, const float *rope, int B,
                                     int T, int NH, int NKV, int hs, kn_dtype dt, void *scratch,
                                     size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(rope && kn_aligned16(rope, NULL, NULL, NULL),
                 "rope table %p: NULL or not 16-byte aligned (the fused stores read it as float4)",
                 (const void *)rope);
    return fa_gqa_bwd(dqkv, dout, qkv, out, lse, B, T, NH, NKV, hs, 0, dt, scratch,
                      scratch_bytes, NULL, NULL, rope, s);
}

extern "C" int kn_flash_attention_bwd(void *dqkv, const void *dout, const void *qkv,
                                      const void *out, const float *lse, int B, int T, int C,
                                      int NH, int accumulate, kn_dtype dt, void *scratch,
                                      size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(NH > 0 && C > 0 && C % NH == 0, "C=%d not a multiple of NH=%d", C, NH);
    return kn_flash_gqa_bwd(dqkv, dout, qkv, out, lse, B, T, NH, NH, C / NH, accumulate, dt,
                            scratch, scratch_bytes, s);
}

/* The bias gradient's scratch, in front of the backward's: the epilogues'
 * column sums [B ceil(T / 128), 3C] and kn_matmul_bwd_bias's own (for
 * either of its two inputs), each 256-byte aligned. */
static size_t fa_colsum_rows(int B, int T) { return (size_t)B * ((T + 127) / 128); }

static size_t fa_colsum_bytes(int B, int T, int W)
{
    return (fa_colsum_rows(B, T) * W * sizeof(float) + 255) & ~(size_t)255;
}

static size_t fa_db_bytes(int B, int T, int W)
{
    const size_t a = kn_matmul_bwd_bias_scratch_bytes(B * T, W);
    const size_t b = kn_matmul_bwd_bias_scratch_bytes((int)fa_colsum_rows(B, T), W);
    return ((a > b ? a : b) + 255) & ~(size_t)255;
}

extern "C" size_t kn_flash_attention_bwd_dbias_scratch_bytes(int B, int T, int C, int NH)
{
    if (B <= 0 || T <= 0 || C <= 0 || NH <= 0 || C % NH || (size_t)B * T > INT_MAX / 3)
        return 0;
    return fa_colsum_bytes(B, T, 3 * C) + fa_db_bytes(B, T, 3 * C) +
           kn_flash_attention_bwd_scratch_bytes(B, T, C, NH);
}

extern "C" int kn_flash_attention_bwd_dbias(void *dqkv, float *dbias, const void *dout,
                                            const void *qkv, const void *out, const float *lse,
                                            int B, int T, int C, int NH, kn_dtype dt,
                                            void *scratch, size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(NH > 0 && C > 0 && C % NH == 0, "C=%d not a multiple of NH=%d", C, NH);
    KN_ARG_CHECK(B > 0 && T > 0 && (size_t)B * T <= INT_MAX / 3, "need B, T > 0 (B=%d T=%d)", B,
                 T);
    KN_ARG_CHECK(dbias, "NULL buffer (dbias=%p)", (void *)dbias);
    const int W = 3 * C;
    const size_t cb = fa_colsum_bytes(B, T, W), db = fa_db_bytes(B, T, W);
    KN_ARG_CHECK(scratch && scratch_bytes >= cb + db, "scratch %p of %zu bytes, need %zu",
                 scratch, scratch_bytes, kn_flash_attention_bwd_dbias_scratch_bytes(B, T, C, NH));
    /* INGOT_FA_DBIAS=0: always the pass (for comparisons) */
    static int fused_once = -1;
    const int fused = kn_env_on_once(&fused_once, "INGOT_FA_DBIAS");
    float *colsum = (float *)scratch;
    void *dbs = (char *)scratch + cb;
    int summed = 0;
    int err = fa_gqa_bwd(dqkv, dout, qkv, out, lse, B, T, NH, NH, C / NH, 0, dt,
                         (char *)scratch + cb + db, scratch_bytes - cb - db,
                         fused ? colsum : NULL, fused ? &summed : NULL, NULL, s);
    if (err)
        return err;
    if (summed)
        return kn_matmul_bwd_bias(dbias, colsum, (int)fa_colsum_rows(B, T), W, KN_F32, dbs, db,
                                  s);
    return kn_matmul_bwd_bias(dbias, dqkv, B * T, W, dt, dbs, db, s);
}
