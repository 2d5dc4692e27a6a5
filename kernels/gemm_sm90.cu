/* Ingot's own Hopper GEMM (gemm_sm90.h): a persistent, warp-specialised
 * kernel, one block per SM (LLaMA's two SwiGLU products, or every product with
 * INGOT_G9_CLUSTER=2: clusters of two, g9_cluster).
 *   warp 0, one thread: the producer; TMA loads into a ring of G9_ST stages
 *     (A: this block's 128 rows; B: the tile's 256 columns, or in a cluster
 *     this block's half of them, multicast into both blocks, which share
 *     the B tile; the SwiGLU forward's 256 are 128 gate and the 128
 *     matching up columns);
 *   warps 4 .. 11, two consumer warpgroups: each owns 64 rows of the block's
 *     128 x 256 output tile, runs wgmma m64n256k16 on the stage (A and B from
 *     shared memory), then writes its accumulators (+ bias, bf16) into its
 *     warps' staging tiles (dGELU: times gelu' of the pre-activations the
 *     TMA put there, g9_stage_dgelu) and goes on to the next tile;
 *   warps 1 .. 3: the epilogue warps; from the staging tiles to global
 *     memory with the epilogue's function (GELU, SwiGLU forward or
 *     backward; dGELU's column sums, and its next tile's pre-activations
 *     into the staging tile by TMA), while the consumers are already in
 *     the next tile's products.
 * Blocks (clusters) walk the tiles in groups of 8 rows of tiles, the row
 * index fastest (g9_sched), so the ~132 tiles in flight share a few row
 * blocks of A and column blocks of B in L2.
 *
 * Why it exists: cuBLASLt's GELU_AUX and DGELU epilogue products run at
 * 411-495 TFLOP/s on the H200 where its plain products of the same size run
 * at 580-820 (docs/performance.md, round 6); GPT-2's MLP up-projection and
 * its input gradient are those products. cuBLASLt has no SwiGLU epilogue:
 * LLaMA's MLP (gate|up product, then silu(g) u; the down projection's input
 * gradient, then the SwiGLU backward) took a separate pass over [M, 2F] in
 * each direction. Measurements: docs/kernels.md,
 * "Hopper GEMM".
 *
 * Stage layout (sm90_common.cuh's SW128 tiles, written by TMA with
 * CU_TENSOR_MAP_SWIZZLE_128B): A is one K-major panel of 128 rows x 64
 * columns; B K-major ([N, K]) one panel of 256 rows, B MN-major ([K, N]) four
 * panels of 64 rows (k) x 64 columns (n), 8 KiB apart. mbarriers: full[s]
 * (the producer's arrive with the stage's byte count, then TMA's
 * complete_tx, for its own loads and in a cluster the other block's
 * multicast), empty[s] (lane 0 of each consumer warp, in a cluster of both
 * blocks: the other block's producer writes into the stage too, once the
 * wgmma reading the stage has completed),
 * sfull[w] / sempty[w] per consumer warp's staging tile (dGELU: pfull[w]
 * instead of sempty[w], the TMA's pre-activations landed in it). */
#include <cuda.h>
#include <cudaTypedefs.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "gemm_sm90.h"
#include "gemm_sm90_int.cuh"
#include "kn_arch.h"
#include "kn_device.cuh"
#include "rope_math.cuh"
#include "sm90_common.cuh"
#include "swiglu_math.cuh"
#include "wgmma_sm90.cuh"

/* The sm_80 pass compiles the kernel's body away. */
#pragma nv_diag_suppress 177

enum {
    G9_BN = 256,
    G9_BK = 64,
    G9_ST = 3,
    G9_THREADS = 384,
    G9_A_BYTES = G9_BM * G9_BK * 2,
    G9_B_BYTES = G9_BN * G9_BK * 2,
    G9_STAGE_PITCH = G9_BN * 2 + 16, /* a consumer warp's staging tile: 16 rows */
    /* staging tiles 1024 bytes apart: dGELU's is the pre-activations' TMA
     * box layout (g9_swz), whose 128-byte swizzle needs that alignment */
    G9_STAGE_BYTES = (16 * G9_STAGE_PITCH + 1023) / 1024 * 1024,
    G9_SMEM = 1024 + G9_ST * (G9_A_BYTES + G9_B_BYTES) + 8 * G9_STAGE_BYTES + 2 * G9_ST * 8 +
              24 * 8, /* sfull[8], sempty[8], pfull[8] */
    G9_PRE_BYTES = 16 * G9_BN * 2, /* dGELU: a staging tile's pre-activations */
    G9_EWARPS = 3, /* epilogue warps: warps 1 .. 3 of the producer warpgroup */
};

/* Output columns per tile: the SwiGLU forward's 256 product columns are
 * 128 gate and 128 up ones, i.e. 128 output columns. */
static __host__ __device__ __forceinline__ int g9_tile_n(int epi)
{
    return epi == KN_G9_SWIGLU ? G9_BN / 2 : G9_BN;
}

/* One box of a stage's B: alone, or multicast into every block of the
 * cluster. */
template <int CL>
static __device__ __forceinline__ void g9_load_b(uint32_t dst, const CUtensorMap *tb, int c0,
                                                 int c1, uint32_t full)
{
    if (CL == 1)
        sm90_tma_load_2d(dst, tb, c0, c1, full);
    else
        sm90_tma_load_2d_mc(dst, tb, c0, c1, full, (1 << CL) - 1);
}

/* One thread: the loads of every tile this block owns, G9_ST stages ahead
 * of the consumers. TB: B is MN-major ([K, N]). CL 2: this block loads
 * its half of B (rows / panels rank * 128 ..) into both blocks' stage, and
 * a stage is free once the consumers of both blocks have released it (the
 * empty barrier counts 8 warps x CL). */
template <int TB, int EPI, int CL>
static __device__ __forceinline__ void g9_produce(const CUtensorMap *ta, const CUtensorMap *tb,
                                                  uint32_t sA, uint32_t sB, uint32_t bar,
                                                  const g9_sched &sc, int nk, int N)
{
    sm90_tma_prefetch_desc(ta);
    sm90_tma_prefetch_desc(tb);
    int s = 0, ph = 0;
    for (int ct = sc.first; ct < sc.count; ct += sc.stride) {
        int m0, n0;
        g9_tile(sc, ct, m0, n0);
        for (int kt = 0; kt < nk; kt++) {
            sm90_mb_wait(bar + 8 * (G9_ST + s), ph ^ 1); /* stage free (passes at first) */
            const uint32_t full = bar + 8 * s, b = sB + s * G9_B_BYTES;
            sm90_mb_arrive_tx(full, G9_A_BYTES + G9_B_BYTES);
            sm90_tma_load_2d(sA + s * G9_A_BYTES, ta, kt * G9_BK, m0, full);
            if (!TB && EPI == KN_G9_SWIGLU) {
                /* the gate rows n0 .. n0 + 127 and the up rows N + n0 ..
                 * into the panel's halves (in a cluster, block rank r loads
                 * half r); gate rows past N read up rows, whose products
                 * land in columns that are not stored */
#pragma unroll
                for (int q = 0; q < 2 / CL; q++) {
                    const int hf = sc.rank * (2 / CL) + q;
                    g9_load_b<CL>(b + hf * (G9_BN / 2) * 128, tb, kt * G9_BK, hf ? N + n0 : n0,
                                  full);
                }
            } else if (!TB) { /* rows rank * 256 / CL .. of the K-major panel */
                const int r0 = sc.rank * (G9_BN / CL);
                g9_load_b<CL>(b + r0 * 128, tb, kt * G9_BK, n0 + r0, full);
            } else { /* panels rank * 4 / CL .. of the MN-major ones */
#pragma unroll
                for (int q = 0; q < G9_BN / 64 / CL; q++) {
                    const int pn = sc.rank * (G9_BN / 64 / CL) + q;
                    g9_load_b<CL>(b + pn * G9_BK * 128, tb, n0 + 64 * pn, kt * G9_BK, full);
                }
            }
            if (++s == G9_ST) {
                s = 0;
                ph ^= 1;
            }
        }
    }
}

/* Accumulators of a warp's share of one wgmma m64nN (N / 2 floats: lane
 * 4 g + q holds rows g, g + 8 and columns 8 j + 2 q, + 1 in acc[4 j ..
 * 4 j + 3]), plus the bias in float32 (not with dGELU), as bf16 pairs into
 * a staging tile: fragment row r at stage + r * pitch. */
template <int EPI, int N>
static __device__ __forceinline__ void g9_stage_acc(const float (&acc)[N / 2], const g9_par &p,
                                                    uint32_t stage, int pitch, int n0, int lane)
{
    const int g = lane >> 2, q = lane & 3;
#pragma unroll
    for (int j = 0; j < N / 8; j++) {
        const int col = n0 + 8 * j + 2 * q;
        float b0 = 0.0f, b1 = 0.0f;
        if (EPI != KN_G9_DGELU && p.bias && col < p.N) {
            const __nv_bfloat162 b = *reinterpret_cast<const __nv_bfloat162 *>(p.bias + col);
            b0 = __low2float(b);
            b1 = __high2float(b);
        }
#pragma unroll
        for (int h = 0; h < 2; h++) {
            __nv_bfloat162 v = __floats2bfloat162_rn(acc[4 * j + 2 * h] + b0,
                                                     acc[4 * j + 2 * h + 1] + b1);
            const uint32_t a = stage + (uint32_t)((g + 8 * h) * pitch + (8 * j + 2 * q) * 2);
            asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(a),
                         "r"(*reinterpret_cast<uint32_t *>(&v))
                         : "memory");
        }
    }
}

/* dGELU's staging tile: where the TMA puts the pre-activations of its 16
 * rows x 256 columns (four boxes of 64 columns, 2 KiB apart, each row 128
 * bytes with the 16-byte chunks swizzled by the row), and where the
 * consumer then writes the gradient over them: byte offset of (row r,
 * column c). A lane group's fragment accesses (rows 0..7, one chunk each)
 * and a row's 16-byte slices both fall on distinct banks. */
static __device__ __forceinline__ uint32_t g9_swz(int r, int c)
{
    return (uint32_t)((c >> 6) * 2048 + r * 128 + ((((c & 63) >> 3) ^ (r & 7)) << 4) +
                      (c & 7) * 2);
}

/* dGELU's first pass, by the consumer warp (the epilogue warps, three of
 * them, could not keep up with the tanh per element: 124M's product ran at
 * 53% of the plain one's rate): each accumulator pair, rounded to bf16 as
 * the unfused path stores it, times gelu' of the pre-activations the TMA
 * put in the staging tile, rounded again, written over them. Four column
 * groups at a time: their loads first, so they overlap. */
template <int N>
static __device__ __forceinline__ void g9_stage_dgelu(const float (&acc)[N / 2], uint32_t stage,
                                                      int lane)
{
    const int g = lane >> 2, q = lane & 3;
#pragma unroll
    for (int j0 = 0; j0 < N / 8; j0 += 4) {
        uint32_t pre[8], adr[8];
#pragma unroll
        for (int i = 0; i < 8; i++) {
            adr[i] = stage + g9_swz(g + 8 * (i & 1), 8 * (j0 + (i >> 1)) + 2 * q);
            asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(pre[i]) : "r"(adr[i]) : "memory");
        }
#pragma unroll
        for (int i = 0; i < 8; i++) {
            const int k = 4 * (j0 + (i >> 1)) + 2 * (i & 1);
            const __nv_bfloat162 x = __floats2bfloat162_rn(acc[k], acc[k + 1]);
            const __nv_bfloat162 pr = *reinterpret_cast<const __nv_bfloat162 *>(&pre[i]);
            __nv_bfloat162 v = __floats2bfloat162_rn(
                __low2float(x) * g9_gelu_grad(__low2float(pr)),
                __high2float(x) * g9_gelu_grad(__high2float(pr)));
            asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(adr[i]),
                         "r"(*reinterpret_cast<uint32_t *>(&v))
                         : "memory");
        }
    }
}

/* GELU of 8 bf16 pre-activations (stored by the caller), in float32,
 * rounded once. */
static __device__ __forceinline__ void g9_gelu_pack(uint4 &v)
{
    __nv_bfloat162 *x = reinterpret_cast<__nv_bfloat162 *>(&v);
#pragma unroll
    for (int e = 0; e < 4; e++)
        x[e] = __floats2bfloat162_rn(g9_gelu(__low2float(x[e])), g9_gelu(__high2float(x[e])));
}

/* The epilogue of a consumer warp's 16 rows x 256 columns goes through
 * that warp's staging tile in shared memory (G9_STAGE_PITCH bytes per row:
 * 16 bytes of padding put the 8 rows one lane group writes on different
 * banks), in two passes:
 * 1. g9_stage_acc, by the consumer warp, fragment order: lane 4 g + q
 *    holds rows g, g + 8 and columns 8 j + 2 q (+1) in acc[4 j .. 4 j + 3];
 *    it adds the bias in float32 and stores the bf16 pairs.
 * 2. g9_store_rows, row order: lane l owns columns 8 l .. 8 l + 7 of each
 *    of the 16 rows: one 16-byte load from the staging tile and 16-byte
 *    global accesses, so a warp writes a whole 512-byte row per instruction
 *    (stored straight from the fragments, each instruction wrote 8 rows x 16
 *    bytes: the first version, 1.9x slower at GELU), a piece of RP rows at a
 *    time (g9_epi); the SwiGLU forward's pass instead gives each half of
 *    the warp a row (g9_store_swiglu). Every epilogue works on the
 *    bf16-rounded value, as the unfused path (GEMM into bf16, then gelu.cu
 *    or swiglu.cu) does. N % 8 == 0: a lane's 8 columns are wholly inside
 *    or outside. Run by an epilogue warp while the consumer is already in
 *    the next tile's products. */
/* The epilogues that read a pre-activation (aux) as they go. */
template <int EPI> struct g9_epi {
    enum {
        /* (dGELU's pre-activations come by TMA into the staging tile) */
        LOADS = EPI == KN_G9_DSWIGLU,
        /* pieces per staging tile: the dSwiGLU's 16 rows need two values
         * each (gate and up), so it takes 8 rows at a time to keep the
         * same 16 registers of them in flight */
        NP = EPI == KN_G9_DSWIGLU ? 2 : 1,
        RP = 16 / NP, /* rows per piece */
    };
};

/* The pre-activations of one piece (rows row0 .. row0 + RP - 1), lane l's
 * 8 columns, loaded ahead of need: dSwiGLU's gate (pre[2 r]) and up
 * (pre[2 r + 1]) values, N columns apart. */
template <int EPI>
static __device__ __forceinline__ void g9_load_pre(uint4 (&pre)[16], const g9_par &p, int row0,
                                                   int n0, int lane)
{
    const int col = n0 + 8 * lane;
#pragma unroll
    for (int r = 0; r < g9_epi<EPI>::RP; r++) {
        if (col >= p.N || row0 + r >= p.M)
            continue;
        const kn_bf16 *a = p.aux + (size_t)(row0 + r) * p.ldaux + col;
        pre[2 * r] = *reinterpret_cast<const uint4 *>(a);
        pre[2 * r + 1] = *reinterpret_cast<const uint4 *>(a + p.N);
    }
}

/* SwiGLU forward: the staging tile's columns 0 .. 127 are the gate and
 * 128 .. 255 the up values of output columns n0 .. n0 + 127. Both halves of
 * the warp take a row each (lane l: row r + l / 16, columns 8 (l % 16) ..):
 * gate and up to aux ([M, 2N], N apart: what the backward reads), silu(g) u
 * to C. Of the bf16-rounded gate and up, as the unfused path (GEMM into
 * bf16, then swiglu.cu, the same kn_swiglu<kn_bf16>) does. */
static __device__ __forceinline__ void g9_store_swiglu(const g9_par &p, uint32_t stage, int row0,
                                                       int n0, int lane)
{
    const int c = 8 * (lane & 15), col = n0 + c;
    if (col >= p.N)
        return;
#pragma unroll
    for (int r = 0; r < 16; r += 2) {
        const int rr = r + (lane >> 4), row = row0 + rr;
        if (row >= p.M)
            break;
        const uint32_t a = stage + (uint32_t)(rr * G9_STAGE_PITCH + c * 2);
        const uint4 g = kn_lds16(a), u = kn_lds16(a + (G9_BN / 2) * 2);
        kn_bf16 *x = p.aux + (size_t)row * p.ldaux + col;
        *reinterpret_cast<uint4 *>(x) = g;
        *reinterpret_cast<uint4 *>(x + p.N) = u;
        uint4 h;
        const __nv_bfloat162 *gg = reinterpret_cast<const __nv_bfloat162 *>(&g),
                             *uu = reinterpret_cast<const __nv_bfloat162 *>(&u);
        __nv_bfloat162 *hh = reinterpret_cast<__nv_bfloat162 *>(&h);
#pragma unroll
        for (int e = 0; e < 4; e++)
            hh[e] = __floats2bfloat162_rn(
                kn_swiglu<kn_bf16>(__low2float(gg[e]), __low2float(uu[e])),
                kn_swiglu<kn_bf16>(__high2float(gg[e]), __high2float(uu[e])));
        *reinterpret_cast<uint4 *>(p.C + (size_t)row * p.ldc + col) = h;
    }
}

/* RoPE of a lane's 8 bf16 channels x of a row: their partners w (hs/2
 * columns on, lo, or back, in the same head) and the cos and sin of their
 * 8 frequencies at the row's position (c: 4 float4 of the [T, hs/2, 2]
 * table). As kn_rope_fwd on the bf16 product (rope_math.cuh). */
static __device__ __forceinline__ void g9_rope_pack(uint4 &v, const uint4 &w, const float4 (&c)[4],
                                                    bool lo)
{
    __nv_bfloat162 *x = reinterpret_cast<__nv_bfloat162 *>(&v);
    const __nv_bfloat162 *y = reinterpret_cast<const __nv_bfloat162 *>(&w);
#pragma unroll
    for (int e = 0; e < 4; e++) { /* channel i: x1 co - x2 si; i + hs/2: x2 co + x1 si */
        const float s0 = lo ? -c[e].y : c[e].y, s1 = lo ? -c[e].w : c[e].w;
        const float a0 = kn_rope_rot(__low2float(x[e]), __low2float(y[e]), c[e].x, s0),
                    a1 = kn_rope_rot(__high2float(x[e]), __high2float(y[e]), c[e].z, s1);
        x[e] = __floats2bfloat162_rn(a0, a1);
    }
}

/* RoPE's pass 2 (KN_G9_ROPE) over a staging tile of 16 rows, lane l's
 * columns 8 l .. 8 l + 7, rotated where col < rope_cols. Each position is
 * new to the SM (the tiles in flight cover other rows), so its table row
 * comes from L2: the 16 rows' are prefetched to L1 first, then the rows go
 * 4 at a time with every load of the 4 (channels, partners, table) issued
 * before any is used: TinyLlama's QKV product 0.257 ms against 0.233
 * without RoPE (H100). Loading and rotating row by row, each row's loads
 * waited on memory in turn, 0.286 ms (0.281 with the prefetch): the last
 * tile's epilogue of each block is not hidden under products. */
static __device__ __forceinline__ void g9_store_rope(const g9_par &p, uint32_t stage, int row0,
                                                     int n0, int lane)
{
    const int col = n0 + 8 * lane;
    if (col >= p.N)
        return;
    const bool rot = col < p.rope_cols;
    const int half = p.rope_hs >> 1, ci = col & (p.rope_hs - 1);
    const bool lo = ci < half;
    const int pofs = lo ? p.rope_hs : -p.rope_hs; /* hs/2 bf16 on or back, in bytes */
    /* the lane's 8 (cos, sin) pairs of position t: 4 float4 at tab + t half / 2 */
    const float4 *tab = reinterpret_cast<const float4 *>(p.rope) + (lo ? ci : ci - half) / 2;
    int t = row0 % p.rope_T;
    if (rot)
        for (int r = 0, u = t; r < 16; r++) {
            asm volatile("prefetch.global.L1 [%0];\n" ::"l"(tab + (size_t)u * half / 2));
            if (++u == p.rope_T)
                u = 0;
        }
#pragma unroll
    for (int r0 = 0; r0 < 16; r0 += 4) {
        uint4 v[4], w[4];
        float4 c[4][4];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const uint32_t a = stage + (uint32_t)((r0 + i) * G9_STAGE_PITCH + lane * 16);
            v[i] = kn_lds16(a);
            if (rot) {
                w[i] = kn_lds16(a + pofs);
#pragma unroll
                for (int e = 0; e < 4; e++)
                    c[i][e] = __ldg(tab + (size_t)t * half / 2 + e);
            }
            if (++t == p.rope_T)
                t = 0;
        }
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int row = row0 + r0 + i;
            if (row >= p.M)
                return;
            if (rot)
                g9_rope_pack(v[i], w[i], c[i], lo);
            *reinterpret_cast<uint4 *>(p.C + (size_t)row * p.ldc + col) = v[i];
        }
    }
}

/* One piece of a staging tile (RP rows from stage, global rows row0 ..),
 * lane l's columns 8 l .. 8 l + 7: PLAIN, GELU, dGELU, dSwiGLU (C =
 * [M, 2N]: the gate gradient at col, the up one at N + col, from the
 * bf16-rounded product as the unfused swiglu.cu pass reads it); the
 * SwiGLU forward and RoPE have their own (g9_store_swiglu, g9_store_rope). */
template <int EPI>
static __device__ __forceinline__ void g9_store_rows(const g9_par &p, uint32_t stage, int row0,
                                                     int n0, int lane, const uint4 (&pre)[16])
{
    if (EPI == KN_G9_SWIGLU) {
        g9_store_swiglu(p, stage, row0, n0, lane);
        return;
    }
    if (EPI == KN_G9_ROPE) {
        g9_store_rope(p, stage, row0, n0, lane);
        return;
    }
    const int col = n0 + 8 * lane;
    if (col >= p.N)
        return;
    float cs[8]; /* dGELU with colsum: the piece's column sums (RP = 16 rows) */
#pragma unroll
    for (int e = 0; e < 8; e++)
        cs[e] = 0.0f;
#pragma unroll
    for (int r = 0; r < g9_epi<EPI>::RP; r++) {
        const int row = row0 + r;
        if (row >= p.M)
            break;
        uint4 v = kn_lds16(stage + (EPI == KN_G9_DGELU ? g9_swz(r, 8 * lane)
                                                       : (uint32_t)(r * G9_STAGE_PITCH + lane * 16)));
        __nv_bfloat162 *x = reinterpret_cast<__nv_bfloat162 *>(&v);
        kn_bf16 *out = p.C + (size_t)row * p.ldc + col;
        if (EPI == KN_G9_GELU) {
            *reinterpret_cast<uint4 *>(p.aux + (size_t)row * p.ldaux + col) = v;
            g9_gelu_pack(v);
        } else if (EPI == KN_G9_DGELU) { /* the consumer applied gelu' (g9_stage_dgelu) */
#pragma unroll
            for (int e = 0; e < 4; e++) {
                cs[2 * e] += __low2float(x[e]);
                cs[2 * e + 1] += __high2float(x[e]);
            }
        } else if (EPI == KN_G9_DSWIGLU) {
            const __nv_bfloat162 *g = reinterpret_cast<const __nv_bfloat162 *>(&pre[2 * r]),
                                 *u = reinterpret_cast<const __nv_bfloat162 *>(&pre[2 * r + 1]);
            uint4 w;
            __nv_bfloat162 *du = reinterpret_cast<__nv_bfloat162 *>(&w);
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float g0, g1, u0, u1;
                kn_swiglu_grad<kn_bf16>(__low2float(x[e]), __low2float(g[e]), __low2float(u[e]),
                                        &g0, &u0);
                kn_swiglu_grad<kn_bf16>(__high2float(x[e]), __high2float(g[e]),
                                        __high2float(u[e]), &g1, &u1);
                x[e] = __floats2bfloat162_rn(g0, g1);
                du[e] = __floats2bfloat162_rn(u0, u1);
            }
            *reinterpret_cast<uint4 *>(out + p.N) = w;
        }
        *reinterpret_cast<uint4 *>(out) = v;
    }
    /* row0 is a multiple of 16 (the piece is a consumer warp's slice) */
    if (EPI == KN_G9_DGELU && p.colsum && row0 < p.M) {
        float4 *d = reinterpret_cast<float4 *>(p.colsum + (size_t)(row0 / 16) * p.N + col);
        d[0] = make_float4(cs[0], cs[1], cs[2], cs[3]);
        d[1] = make_float4(cs[4], cs[5], cs[6], cs[7]);
    }
}

/* Consumer warp w's staging tile, and its mbarriers at sbar (8 of each
 * kind, 8 bytes apart): sfull[w] (the consumer staged it), sempty[w] (the
 * epilogue warp read it), pfull[w] (dGELU: its pre-activations landed). */
static __device__ __forceinline__ uint32_t g9_stage_of(uint32_t sC, int w)
{
    return sC + (uint32_t)(w * G9_STAGE_BYTES);
}

static __device__ __forceinline__ uint32_t g9_sfull(uint32_t sbar, int w)
{
    return sbar + 8 * w;
}

static __device__ __forceinline__ uint32_t g9_sempty(uint32_t sbar, int w)
{
    return sbar + 8 * (8 + w);
}

static __device__ __forceinline__ uint32_t g9_pfull(uint32_t sbar, int w)
{
    return sbar + 8 * (16 + w);
}

/* dGELU: the pre-activations of consumer warp w's staging tile of the tile
 * at (m0, n0) (rows m0 + 16 w .., columns n0 .. n0 + 255; outside the
 * matrix the TMA writes zeros) into that tile in g9_swz's layout, landing
 * on pfull[w]. One thread. */
static __device__ __forceinline__ void g9_pre_tma(const CUtensorMap *tp, uint32_t sC,
                                                  uint32_t sbar, int w, int m0, int n0)
{
    const uint32_t stage = g9_stage_of(sC, w), full = g9_pfull(sbar, w);
    sm90_mb_arrive_tx(full, G9_PRE_BYTES);
#pragma unroll
    for (int b = 0; b < G9_BN / 64; b++)
        sm90_tma_load_2d(stage + b * 2048, tp, n0 + 64 * b, m0 + 16 * w, full);
}

/* Epilogue warp e (0 .. G9_EWARPS - 1, warps 1.. of the producer
 * warpgroup): pass 2 for the consumer warps e, e + G9_EWARPS, ... of every
 * tile, each behind its staging tile's mbarriers (sfull: the consumer warp
 * staged it; sempty: this warp has read it), a piece (g9_epi::NP per
 * staging tile) at a time. Where the epilogue reads pre-activations, the
 * next piece's are loaded before this one is waited for (the loads'
 * latency was exposed three times per tile: 124M's dGELU product ran at
 * 316 TFLOP/s against 547 for the GELU one). Prefetching the next tile's
 * into L2 as well (cp.async.bulk.prefetch) made it no faster at 124M and
 * slower from 350M (470 -> 411 TFLOP/s): what is left at 124M is the three
 * warps' instruction issue, not the loads' latency. So dGELU's
 * pre-activations now come by TMA straight into the staging tile (lane 0
 * of the warp that owns it issues the next tile's as soon as it has read
 * this one's; pfull[cw] says they landed) and the consumer warp applies
 * gelu' (g9_stage_dgelu): this warp only sums and stores. */
template <int EPI>
static __device__ __forceinline__ void g9_epilogue_warp(const g9_par &p, const CUtensorMap *tp,
                                                        uint32_t sC, uint32_t sbar, int e,
                                                        int lane, const g9_sched &sc)
{
    enum { LOADS = g9_epi<EPI>::LOADS, NP = g9_epi<EPI>::NP, RP = g9_epi<EPI>::RP };
    int tile = sc.first, cw = e, it = 0, hf = 0, m0, n0;
    if (tile >= sc.count)
        return;
    uint4 pre[16];
    g9_tile(sc, tile, m0, n0);
    if (EPI == KN_G9_DGELU && lane == 0) {
        sm90_tma_prefetch_desc(tp);
        for (int w = e; w < 8; w += G9_EWARPS)
            g9_pre_tma(tp, sC, sbar, w, m0, n0);
    }
    if (LOADS)
        g9_load_pre<EPI>(pre, p, m0 + cw * 16, n0, lane);
    for (;;) {
        /* the piece after this one: the next half of this staging tile, or
         * the next staging tile this warp owns */
        int ntile = tile, ncw = cw, nit = it, nhf = hf + 1, nm0 = m0, nn0 = n0;
        if (nhf == NP) {
            /* The same staging tiles in every tile (3, 3 and 2 per warp):
             * each sfull barrier then has one waiter, who cannot be two
             * phases behind it, so its parity wait is unambiguous. Rotating
             * them across tiles (8/3 each; session 14: dSwiGLU 509 -> 536
             * TFLOP/s alone, training level) let a warp wait for phase it + 1
             * of a staging tile whose phase it had not completed yet (its
             * consumer still waiting for another warp's read of it - 1): the
             * completed phase it - 1 has the same parity, so the wait passed
             * and the warp read stale values. Rotating needs a barrier per
             * staging tile and tile mod 3. */
            nhf = 0;
            ncw = cw + G9_EWARPS;
            if (ncw >= 8) {
                ncw = e;
                ntile += sc.stride;
                nit++;
            }
        }
        const bool more = ntile < sc.count;
        uint4 nxt[16];
        if (more) {
            g9_tile(sc, ntile, nm0, nn0);
            if (LOADS)
                g9_load_pre<EPI>(nxt, p, nm0 + ncw * 16 + nhf * RP, nn0, lane);
        }
        if (hf == 0)
            sm90_mb_wait(g9_sfull(sbar, cw), it & 1);
        g9_store_rows<EPI>(p, sC + (uint32_t)(cw * G9_STAGE_BYTES + hf * RP * G9_STAGE_PITCH),
                           m0 + cw * 16 + hf * RP, n0, lane, pre);
        if (hf == NP - 1 && EPI == KN_G9_DGELU) {
            /* the staging tile is read: the next tile's pre-activations
             * into it (the async proxy's writes after every lane's reads) */
            sm90_fence_async_smem();
            __syncwarp();
            if (lane == 0 && tile + sc.stride < sc.count) {
                int tm0, tn0;
                g9_tile(sc, tile + sc.stride, tm0, tn0);
                g9_pre_tma(tp, sC, sbar, cw, tm0, tn0);
            }
        } else if (hf == NP - 1) {
            /* the relaxed arrival orders nothing: it is safe because every
             * value g9_store_rows loaded from the staging tile has been used
             * (stored) before this point; keep it that way */
            __syncwarp();
            if (lane == 0)
                sm90_mb_arrive_relaxed(g9_sempty(sbar, cw));
        }
        if (!more)
            break;
        tile = ntile, cw = ncw, it = nit, hf = nhf, m0 = nm0, n0 = nn0;
        if (LOADS)
#pragma unroll
            for (int r = 0; r < 16; r++)
                pre[r] = nxt[r];
    }
}

/* Releases a stage: one arrival on its empty barrier in every block of
 * the cluster. */
template <int CL>
static __device__ __forceinline__ void g9_release(uint32_t empty, int rank)
{
    sm90_mb_arrive(empty);
#pragma unroll
    for (int r = 0; r < CL; r++)
        if (r != rank)
            sm90_mb_arrive_cluster(empty, r);
}

/* Consumer warpgroup c (0, 1): rows 64 c .. 64 c + 63 of every tile; the
 * second pass of the epilogue is the epilogue warps'. */
template <int TB, int EPI, int CL>
static __device__ __forceinline__ void g9_consume(uint32_t sA, uint32_t sB, uint32_t bar,
                                                  uint32_t sC, uint32_t sbar, const g9_par &p,
                                                  int c, int tid, const g9_sched &sc, int nk)
{
    const int warp = tid >> 5, lane = tid & 31, cw = c * 4 + warp;
    const uint32_t stage = g9_stage_of(sC, cw);
    int s = 0, ph = 0, it = 0;
    for (int ct = sc.first; ct < sc.count; ct += sc.stride, it++) {
        int m0, n0;
        g9_tile(sc, ct, m0, n0);
        float acc[G9_BN / 2];
#pragma unroll
        for (int i = 0; i < G9_BN / 2; i++)
            acc[i] = 0.0f;
        int prev = -1;
        for (int kt = 0; kt < nk; kt++) {
            sm90_mb_wait(bar + 8 * s, ph);
            const uint32_t a = sA + s * G9_A_BYTES + c * 64 * 128, b = sB + s * G9_B_BYTES;
            wg_fence();
#pragma unroll
            for (int ks = 0; ks < G9_BK / 16; ks++) {
                const uint64_t db =
                    TB ? desc_mn(b + ks * 16 * 128, G9_BK * 128) : desc_k(b + ks * 32);
                wg<G9_BN, TB>::ss(acc, desc_k(a + ks * 32), db, 0);
            }
            wg_commit();
            /* the previous stage's products are done: give it back (to
             * every block of the cluster: their producers write into it) */
            if (prev >= 0) {
                wg_wait<1>();
                if (lane == 0)
                    g9_release<CL>(bar + 8 * (G9_ST + prev), sc.rank);
            }
            prev = s;
            if (++s == G9_ST) {
                s = 0;
                ph ^= 1;
            }
        }
        wg_wait<0>();
        wg_pin(acc);
        if (lane == 0)
            g9_release<CL>(bar + 8 * (G9_ST + prev), sc.rank);
        if (EPI == KN_G9_DGELU) { /* the pre-activations landed (the tile was read before) */
            sm90_mb_wait(g9_pfull(sbar, cw), it & 1);
            g9_stage_dgelu<G9_BN>(acc, stage, lane);
        } else {
            sm90_mb_wait(g9_sempty(sbar, cw), (it & 1) ^ 1); /* staging tile read (passes at first) */
            g9_stage_acc<EPI, G9_BN>(acc, p, stage, G9_STAGE_PITCH, n0, lane);
        }
        __syncwarp();
        if (lane == 0)
            sm90_mb_arrive(g9_sfull(sbar, cw));
    }
}

template <int TB, int EPI, int CL>
static __global__ void __launch_bounds__(G9_THREADS, 1)
    g9_kernel(const __grid_constant__ CUtensorMap ta, const __grid_constant__ CUtensorMap tb,
              const __grid_constant__ CUtensorMap tp, const g9_par p)
{
#if SM90_ON
    extern __shared__ __align__(1024) uint8_t g9_smem[];
    const uint32_t sA = smem_base1024(g9_smem), sB = sA + G9_ST * G9_A_BYTES;
    const uint32_t sC = sB + G9_ST * G9_B_BYTES, bar = sC + 8 * G9_STAGE_BYTES;
    const uint32_t sbar = bar + 16 * G9_ST; /* sfull[8], sempty[8], pfull[8] */
    const int wgi = threadIdx.x >> 7, tid = threadIdx.x & 127;
    const int bn = g9_tile_n(EPI);
    const int ntn = (p.N + bn - 1) / bn, ntm = (p.M + G9_BM - 1) / G9_BM;
    const int nk = (p.K + G9_BK - 1) / G9_BK;
    const int ntmc = (ntm + CL - 1) / CL;
    /* a group of at most every row: group * ntn stays within the tile count */
    const g9_sched sc = {(int)blockIdx.x / CL, (int)gridDim.x / CL, ntmc * ntn, ntn,
                         CL > 1 ? sm90_cluster_rank() : 0, CL, bn, ntmc, min(p.group, ntmc)};
    if (threadIdx.x == 0) {
        for (int s = 0; s < G9_ST; s++) {
            sm90_mb_init(bar + 8 * s, 1);
            sm90_mb_init(bar + 8 * (G9_ST + s), 8 * CL);
        }
        for (int w = 0; w < 8; w++) { /* one arrival each */
            sm90_mb_init(g9_sfull(sbar, w), 1);
            sm90_mb_init(g9_sempty(sbar, w), 1);
            sm90_mb_init(g9_pfull(sbar, w), 1);
        }
        sm90_mb_init_fence();
    }
    /* the cluster's barriers are initialised before any block's loads or
     * releases reach them */
    if (CL > 1)
        sm90_cluster_sync();
    else
        __syncthreads();
    if (wgi == 0) {
        if (tid == 0)
            g9_produce<TB, EPI, CL>(&ta, &tb, sA, sB, bar, sc, nk, p.N);
        else if (tid >= 32)
            g9_epilogue_warp<EPI>(p, &tp, sC, sbar, (tid >> 5) - 1, tid & 31, sc);
    } else {
        g9_consume<TB, EPI, CL>(sA, sB, bar, sC, sbar, p, wgi - 1, tid, sc, nk);
    }
    /* no block leaves while the other may still release stages into it */
    if (CL > 1)
        sm90_cluster_sync();
#endif
}

/* cuTensorMapEncodeTiled from the driver, found once through the runtime
 * (no link against libcuda); NULL where the driver lacks it. */
static PFN_cuTensorMapEncodeTiled_v12000 g9_lookup_encode(void)
{
    void *f = NULL;
    cudaDriverEntryPointQueryResult q;
#if CUDART_VERSION >= 12050
    cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000,
                                                     cudaEnableDefault, &q);
#else
    cudaError_t e = cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &f, cudaEnableDefault, &q);
#endif
    return e == cudaSuccess && q == cudaDriverEntryPointSuccess
               ? (PFN_cuTensorMapEncodeTiled_v12000)f
               : NULL;
}

static PFN_cuTensorMapEncodeTiled_v12000 g9_encode_fn(void)
{
    static const PFN_cuTensorMapEncodeTiled_v12000 fn = g9_lookup_encode(); /* once, thread-safe */
    return fn;
}

/* gemm_sm90_int.cuh */
int g9_map(CUtensorMap *m, const void *p, long long inner, long long outer, long long ld,
           int box_outer)
{
    PFN_cuTensorMapEncodeTiled_v12000 enc = g9_encode_fn();
    if (!enc)
        return ingot_fail(INGOT_E_CUDA, "gemm_sm90: cuTensorMapEncodeTiled is not available from "
                                        "the driver: update the NVIDIA driver, or set "
                                        "INGOT_GEMM_SM90=0 to use cuBLASLt");
    const cuuint64_t dim[2] = {(cuuint64_t)inner, (cuuint64_t)outer};
    const cuuint64_t stride[1] = {(cuuint64_t)ld * 2};
    const cuuint32_t box[2] = {64, (cuuint32_t)box_outer}, estr[2] = {1, 1};
    CUresult r = enc(m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, (void *)p, dim, stride, box, estr,
                     CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                     CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS)
        return ingot_fail(INGOT_E_CUDA,
                          "gemm_sm90: cuTensorMapEncodeTiled failed (%d) for a %lld x %lld "
                          "matrix, ld %lld, at %p (INGOT_GEMM_SM90=0 uses cuBLASLt)",
                          (int)r, outer, inner, ld, p);
    return 0;
}

static int g9_aligned(const void *p)
{
    return ((uintptr_t)p & 15) == 0;
}

/* TMA takes row strides below 2^40 bytes; tile origins and coordinates are
 * int (kept clear of overflow by G9_MAX_DIM). */
enum { G9_MAX_DIM = (1 << 30) };

extern "C" int kn_gemm_sm90_supports(const kn_g9 *g)
{
    if (!g || g->M <= 0 || g->N <= 0 || g->K <= 0)
        return 0;
    if (g->M > G9_MAX_DIM || g->N > G9_MAX_DIM || g->K > G9_MAX_DIM)
        return 0;
    const long long ldmax = 1LL << 38; /* elements: 2^39 bytes */
    if (g->lda > ldmax || g->ldb > ldmax || g->ldc > ldmax || g->ldaux > ldmax)
        return 0;
    /* the kernel's body exists only in the sm_90a machine code: on a GPU that
     * runs the PTX (a newer one, or INGOT_PORTABLE=1) it would do nothing */
    kn_path path = KN_PATH_PORTABLE;
    if (kn_arch_path(&path) || path != KN_PATH_SM90A)
        return 0;
    if (g->epi < KN_G9_PLAIN || g->epi > KN_G9_ROPE)
        return 0;
    /* RoPE: a head inside a tile (rope_hs divides G9_BN; the lanes' 8
     * columns inside a half), whole heads, B [N, K], the table aligned */
    if (g->epi == KN_G9_ROPE) {
        const kn_g9_rope *r = g->rope;
        if (!r || !g->b_kmajor || !r->table || r->T <= 0 || r->hs < 16 || r->hs > G9_BN ||
            (r->hs & (r->hs - 1)) || r->cols < 0 || r->cols > g->N || r->cols % r->hs ||
            !g9_aligned(r->table))
            return 0;
    } else if (g->rope) {
        return 0;
    }
    /* the SwiGLU pair: gate and up side by side, N apart, in aux (both) and
     * C (the backward's gradient); B [2N, K] forward, [K, N] backward */
    const int sw = g->epi == KN_G9_SWIGLU || g->epi == KN_G9_DSWIGLU;
    if (sw && (g->bias || g->N > G9_MAX_DIM / 2 ||
               g->b_kmajor != (g->epi == KN_G9_SWIGLU)))
        return 0;
    const long long c_cols = g->epi == KN_G9_DSWIGLU ? 2LL * g->N : g->N;
    const long long aux_cols = sw ? 2LL * g->N : g->N;
    if (g->K % 8 || g->N % 8 || g->lda % 8 || g->ldb % 8 || g->ldc % 8)
        return 0;
    if (g->lda < g->K || g->ldb < (g->b_kmajor ? g->K : g->N) || g->ldc < c_cols)
        return 0;
    if (!g9_aligned(g->A) || !g9_aligned(g->B) || !g9_aligned(g->C))
        return 0;
    if (g->epi != KN_G9_PLAIN && g->epi != KN_G9_ROPE &&
        (g->ldaux % 8 || g->ldaux < aux_cols || !g9_aligned(g->aux)))
        return 0;
    if (g->bias && (g->epi == KN_G9_DGELU || ((uintptr_t)g->bias & 3)))
        return 0;
    if (g->colsum && (g->epi != KN_G9_DGELU || !g9_aligned(g->colsum)))
        return 0;
    return 1;
}

/* INGOT_G9_CLUSTER=1 or 2: the blocks per cluster of every product
 * (comparisons); 0 when unset (g9_cluster decides). Read once. */
static int g9_cluster_knob(void)
{
    static const int knob = kn_env_int("INGOT_G9_CLUSTER", 1, 2, 0);
    return knob;
}

/* Blocks per cluster: 2 shares the B tile between two blocks (TMA
 * multicast), 1 has each block load its whole B tile. By default 2 for
 * LLaMA's two SwiGLU products: the dSwiGLU one (TinyLlama's shape, H100:
 * 0.692 against 0.729 ms, the step's lowest-rate product; llama-1b
 * +0.3-0.9%) and the SwiGLU forward (H200: 1.055 against 1.102 ms;
 * llama-1b +0.8%, which made it the default over cuBLASLt + the pass),
 * and the QKV product with RoPE (H100, its rows then rotated one at a time:
 * 0.281 against 0.309 ms in clusters of one); 1 for the others (the GELU
 * products on the H200 were no faster: not bound by L2 bandwidth at this
 * kernel's rate; docs/kernels.md, "Hopper GEMM"). */
static int g9_cluster(kn_g9_epi epi)
{
    const int knob = g9_cluster_knob();
    return knob ? knob : epi == KN_G9_DSWIGLU || epi == KN_G9_SWIGLU || epi == KN_G9_ROPE ? 2 : 1;
}

/* Cluster rows of tiles per group of the tile order (g9_sched): 8 by
 * default (the ~132 tiles in flight span 8 rows and ~17 columns of tiles);
 * INGOT_G9_GROUP=N (1 .. 1024) for measuring (1: row-major order, the N
 * index fastest). Read once. */
static int g9_group(void)
{
    static const int group = kn_env_int("INGOT_G9_GROUP", 1, 1024, 8);
    return group;
}

/* INGOT_G9_PINGPONG=1: the PLAIN, GELU and dGELU products on the
 * ping-pong kernel (gemm_sm90_pp.cu; not yet measured, so off by default).
 * It has no clusters: with INGOT_G9_CLUSTER=2 this kernel keeps them.
 * Read once. */
static int g9_pingpong(void)
{
    static const int on = kn_env_int("INGOT_G9_PINGPONG", 1, 1, 0);
    return on;
}

/* gemm_sm90_int.cuh */
int g9_sm_count(int *sms)
{
    int dev;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(sms, cudaDevAttrMultiProcessorCount, dev));
    return 0;
}

/* A persistent grid: as many clusters as fit on the GPU at once, at most
 * one per cluster tile. */
template <int TB, int EPI, int CL>
static int g9_launch_cl(const CUtensorMap &ta, const CUtensorMap &tb, const CUtensorMap &tp,
                        const g9_par &p, long long ctiles, cudaStream_t s)
{
    void (*kern)(CUtensorMap, CUtensorMap, CUtensorMap, g9_par) = g9_kernel<TB, EPI, CL>;
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = CL;
    at[0].val.clusterDim.y = 1;
    at[0].val.clusterDim.z = 1;
    cfg.blockDim = dim3(G9_THREADS);
    cfg.dynamicSmemBytes = G9_SMEM;
    cfg.stream = s;
    cfg.attrs = at;
    cfg.numAttrs = 1;
    /* per call, as the attention kernels do: the attribute is per device */
    CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, G9_SMEM));
    int sms, n, err = g9_sm_count(&sms);
    if (err)
        return err;
    n = sms;
    if (CL > 1) { /* a GPC may leave SMs that no whole cluster fits */
        cfg.gridDim = dim3((unsigned)(sms / CL * CL));
        /* no cluster fits, or (on some partitioned GPUs) the query refuses
         * the shape: kn_gemm_sm90 decides what that means; the query's
         * error is not left pending for a later check to find */
        if (cudaOccupancyMaxActiveClusters(&n, kern, &cfg) != cudaSuccess) {
            (void)cudaGetLastError();
            return -EAGAIN;
        }
        if (n <= 0)
            return -EAGAIN;
    }
    const long long nc = ctiles < n ? ctiles : n;
    cfg.gridDim = dim3((unsigned)(nc * CL));
    CUDA_CHECK(cudaLaunchKernelEx(&cfg, kern, ta, tb, tp, p));
    return 0;
}

template <int TB, int EPI>
static int g9_launch(const CUtensorMap &ta, const CUtensorMap &tb, const CUtensorMap &tp,
                     const g9_par &p, int cl, cudaStream_t s)
{
    const int bn = g9_tile_n(EPI);
    const long long ntn = (p.N + bn - 1) / bn, ntm = (p.M + G9_BM - 1) / G9_BM;
    return cl == 2 ? g9_launch_cl<TB, EPI, 2>(ta, tb, tp, p, (ntm + 1) / 2 * ntn, s)
                   : g9_launch_cl<TB, EPI, 1>(ta, tb, tp, p, ntm * ntn, s);
}

/* The maps and the launch of g on the warp-specialised kernel in clusters
 * of cl blocks. 0, -EAGAIN (no cluster of cl fits), INGOT_E_CUDA. */
static int g9_run(const kn_g9 *g, const g9_par &p, int cl, cudaStream_t s)
{
    CUtensorMap ta, tb;
    int err = g9_map(&ta, g->A, g->K, g->M, g->lda, G9_BM);
    /* K-major B: each block of a cluster loads 256 / cl rows; the SwiGLU
     * forward's B [2N, K] in boxes of 128 rows (gate, up) */
    if (!err && g->epi == KN_G9_SWIGLU)
        err = g9_map(&tb, g->B, g->K, 2LL * g->N, g->ldb, G9_BN / 2);
    else if (!err)
        err = g->b_kmajor ? g9_map(&tb, g->B, g->K, g->N, g->ldb, G9_BN / cl)
                          : g9_map(&tb, g->B, g->N, g->K, g->ldb, G9_BK);
    /* dGELU's pre-activations, by TMA into the staging tiles (other
     * epilogues do not read it: A's map stands in) */
    CUtensorMap tp = ta;
    if (!err && g->epi == KN_G9_DGELU)
        err = g9_map(&tp, g->aux, g->N, g->M, g->ldaux, 16);
    if (err)
        return err;
    switch (g->epi * 2 + !g->b_kmajor) {
    case KN_G9_PLAIN * 2:
        return g9_launch<0, KN_G9_PLAIN>(ta, tb, tp, p, cl, s);
    case KN_G9_PLAIN * 2 + 1:
        return g9_launch<1, KN_G9_PLAIN>(ta, tb, tp, p, cl, s);
    case KN_G9_GELU * 2:
        return g9_launch<0, KN_G9_GELU>(ta, tb, tp, p, cl, s);
    case KN_G9_GELU * 2 + 1:
        return g9_launch<1, KN_G9_GELU>(ta, tb, tp, p, cl, s);
    case KN_G9_DGELU * 2:
        return g9_launch<0, KN_G9_DGELU>(ta, tb, tp, p, cl, s);
    case KN_G9_DGELU * 2 + 1:
        return g9_launch<1, KN_G9_DGELU>(ta, tb, tp, p, cl, s);
    case KN_G9_SWIGLU * 2:
        return g9_launch<0, KN_G9_SWIGLU>(ta, tb, tp, p, cl, s);
    case KN_G9_ROPE * 2:
        return g9_launch<0, KN_G9_ROPE>(ta, tb, tp, p, cl, s);
    default: /* KN_G9_DSWIGLU * 2 + 1 (kn_gemm_sm90_supports) */
        return g9_launch<1, KN_G9_DSWIGLU>(ta, tb, tp, p, cl, s);
    }
}

extern "C" int kn_gemm_sm90(const kn_g9 *g, cudaStream_t s)
{
    KN_ARG_CHECK(g && g->A && g->B && g->C, "g=%p: operands must not be NULL", (const void *)g);
    KN_ARG_CHECK(g->epi == KN_G9_PLAIN || g->epi == KN_G9_ROPE || g->aux,
                 "epilogue %d needs aux", (int)g->epi);
    KN_ARG_CHECK(g->epi != KN_G9_ROPE || (g->rope && g->rope->table),
                 "epilogue %d needs its RoPE table", (int)g->epi);
    if (!kn_gemm_sm90_supports(g))
        return -ENOTSUP;
    const kn_g9_rope none = {NULL, 0, 0, 0}, *r = g->rope ? g->rope : &none;
    const g9_par p = {g->M,      g->N,     g->K,  (kn_bf16 *)g->C, g->ldc,
                      (const kn_bf16 *)g->bias,   (kn_bf16 *)g->aux, g->ldaux, g9_group(),
                      g->colsum, r->table, r->T,  r->hs,           r->cols};
    const int cl = g9_cluster(g->epi);
    /* (the ping-pong kernel has no column sums) */
    if (g9_pingpong() && cl == 1 && g->epi <= KN_G9_DGELU && !g->colsum)
        return g9pp_run(g, p, s);
    int err = g9_run(g, p, cl, s);
    if (err != -EAGAIN)
        return err;
    /* no cluster of two fits (a GPU whose partitions leave no two SMs of
     * a GPC free): by default clusters of one; asked for, an error */
    if (!g9_cluster_knob())
        return g9_run(g, p, 1, s);
    return ingot_fail(INGOT_E_CUDA, "gemm_sm90: no cluster of %d blocks of %d bytes of shared "
                                    "memory fits on this GPU: set INGOT_G9_CLUSTER=1 or unset it",
                      cl, (int)G9_SMEM);
}
