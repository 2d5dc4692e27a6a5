/* The own Hopper GEMM with ping-pong consumers (INGOT_G9_PINGPONG=1; not
 * the default until measured: docs/kernels.md, "Next: ping-pong
 * consumers"). One persistent block per SM, 384 threads:
 *   warp 0, one thread: the producer; TMA loads of A 128 x 64 and B
 *     128 x 64 into a ring of GP_ST stages, the block's tiles in order;
 *   warpgroups 1 and 2: consumers on alternate tiles of the block's
 *     sequence, 128 x 128 each (two wgmma m64n128k16 per k-step: 128 float
 *     accumulators per thread, as the 128 x 256 kernel's), each running its
 *     own epilogue through its staging tile while the other runs its main
 *     loop: the producer loads dGELU's pre-activations into that tile by
 *     TMA ahead of the epilogue, the warpgroup turns it into the output in
 *     place, and TMA stores it (measured against the threads' own loads and
 *     stores through a padded tile: the same rates within 1-3% either way,
 *     docs/kernels.md; this one is kept, the base for two-source epilogues). An order barrier hands the main loop over: a warpgroup waits for
 *     its stages only once the other has waited for all of its own, which
 *     keeps every wait on a stage's full barrier within one phase of it (a
 *     warpgroup two fills ahead would take an older phase of the same
 *     parity for its own).
 * Epilogues: PLAIN (+ bias), GELU (pre-activation kept), dGELU; the same
 * math as gemm_sm90.cu's (gemm_sm90_int.cuh). The SwiGLU pair and clusters
 * stay on gemm_sm90.cu's kernel. */
#include <cuda.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "gemm_sm90.h"
#include "gemm_sm90_int.cuh"
#include "sm90_common.cuh"
#include "wgmma_sm90.cuh"

/* The sm_80 pass compiles the kernel's body away. */
#pragma nv_diag_suppress 177

enum {
    GP_BN = 128,
    GP_BK = 64,
    GP_ST = 4,
    GP_THREADS = 384,
    GP_JC = 4, /* gp_frag: column groups whose sources are loaded together */
    GP_A_BYTES = G9_BM * GP_BK * 2,
    GP_B_BYTES = GP_BN * GP_BK * 2,
    /* a staging tile: two 64-column panels of 128 rows in TMA's 128-byte
     * swizzle (gp_sw) */
    GP_TILE = G9_BM * GP_BN * 2,
    GP_NBAR = 2 * GP_ST + 6, /* full[ST], empty[ST], ord[2], pfull[2], sfree[2] */
    /* stages, two staging tiles, the barriers */
    GP_SMEM = 1024 + GP_ST * (GP_A_BYTES + GP_B_BYTES) + 2 * GP_TILE + GP_NBAR * 8,
};

/* Named barrier ID (1, 2: one per consumer warpgroup) over its 128 threads;
 * an immediate, so ptxas knows which barriers the kernel uses. */
template <int ID> static __device__ __forceinline__ void gp_bar_sync(void)
{
    asm volatile("bar.sync %0, 128;\n" ::"n"(ID) : "memory");
}

static __device__ __forceinline__ void gp_wg_sync(int c)
{
    if (c)
        gp_bar_sync<2>();
    else
        gp_bar_sync<1>();
}

/* Barriers after full[ST], empty[ST] and ord[2]: pfull[c] (the dGELU
 * source of warpgroup c's tile has landed in its staging tile) and sfree[c]
 * (warpgroup c's last store has read its staging tile). */
static __device__ __forceinline__ uint32_t gp_pfull(uint32_t bar, int c)
{
    return bar + 8 * (2 * GP_ST + 2 + c);
}

static __device__ __forceinline__ uint32_t gp_sfree(uint32_t bar, int c)
{
    return bar + 8 * (2 * GP_ST + 4 + c);
}

/* Sequence tile i's pre-activations (dGELU's source) into its warpgroup's
 * staging tile, once that warpgroup's store of tile i - 2 has read it. Out
 * of bounds rows and columns arrive as zeros (never stored). */
static __device__ __forceinline__ void gp_load_pre(const CUtensorMap *tx, uint32_t sC,
                                                   uint32_t bar, int i, int m0, int n0)
{
    const int c = i & 1, n = i >> 1;
    const uint32_t tile = sC + (uint32_t)(c * GP_TILE), full = gp_pfull(bar, c);
    sm90_mb_wait(gp_sfree(bar, c), (n & 1) ^ 1); /* passes at once for its first tile */
    sm90_mb_arrive_tx(full, GP_TILE);
#pragma unroll
    for (int q = 0; q < GP_BN / 64; q++)
        sm90_tma_load_2d(tile + q * (GP_TILE / 2), tx, n0 + 64 * q, m0, full);
}

/* Byte offset of (row r, column cc) in a TMA-epilogue staging tile: panel
 * cc / 64, 128-byte rows, the 16-byte chunk index XOR r % 8 (the tile is
 * 1024-byte aligned). */
static __device__ __forceinline__ uint32_t gp_sw(int r, int cc)
{
    return (uint32_t)((cc >> 6) * (GP_TILE / 2) + r * 128 + ((((cc & 63) >> 3) ^ (r & 7)) << 4) +
                      (cc & 7) * 2);
}

enum { GP_PASS_PRE = -1 }; /* gp_frag: GELU's first pass, the pre-activation alone */

/* A warp's share of one wgmma m64n128 (rows r0 + g, + 8 of lane 4 g + q,
 * columns 8 j + 2 q, + 1) through the staging tile in place: PLAIN and
 * GP_PASS_PRE write bf16(acc + bias); GELU replaces the pre-activation the
 * first pass left there by gelu of it (acc unread: its registers are free
 * by then); dGELU reads the pre-activation TMA put there and writes
 * bf16(acc) times gelu' (as gemm_sm90.cu: the function of the bf16-rounded
 * product, once rounded). */
template <int EPI>
static __device__ __forceinline__ void gp_frag(const float (&acc)[GP_BN / 2], const g9_par &p,
                                               uint32_t tile, int r0, int n0, int lane)
{
    const int g = lane >> 2, q = lane & 3;
    /* GP_JC column groups at a time: their 2 GP_JC source values loaded
     * first (the loads are ordered asm, so one at a time they would each
     * wait out shared memory's latency), then 2 GP_JC independent chains */
#pragma unroll
    for (int j0 = 0; j0 < GP_BN / 8; j0 += GP_JC) {
        uint32_t raw[GP_JC][2];
#pragma unroll
        for (int jj = 0; jj < GP_JC; jj++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                raw[jj][h] = 0;
                if (EPI == KN_G9_GELU || EPI == KN_G9_DGELU)
                    asm volatile("ld.shared.b32 %0, [%1];\n"
                                 : "=r"(raw[jj][h])
                                 : "r"(tile + gp_sw(r0 + g + 8 * h, 8 * (j0 + jj) + 2 * q))
                                 : "memory");
            }
#pragma unroll
        for (int jj = 0; jj < GP_JC; jj++) {
            const int j = j0 + jj, cc = 8 * j + 2 * q, col = n0 + cc;
            float b0 = 0.0f, b1 = 0.0f;
            if ((EPI == KN_G9_PLAIN || EPI == GP_PASS_PRE) && p.bias && col < p.N) {
                const __nv_bfloat162 b = *reinterpret_cast<const __nv_bfloat162 *>(p.bias + col);
                b0 = __low2float(b);
                b1 = __high2float(b);
            }
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const uint32_t a = tile + gp_sw(r0 + g + 8 * h, cc);
                const __nv_bfloat162 x = *reinterpret_cast<__nv_bfloat162 *>(&raw[jj][h]);
                __nv_bfloat162 v;
                if (EPI == KN_G9_GELU) {
                    v = __floats2bfloat162_rn(g9_gelu(__low2float(x)), g9_gelu(__high2float(x)));
                } else {
                    v = __floats2bfloat162_rn(acc[4 * j + 2 * h] + b0,
                                              acc[4 * j + 2 * h + 1] + b1);
                    if (EPI == KN_G9_DGELU)
                        v = __floats2bfloat162_rn(__low2float(v) * g9_gelu_grad(__low2float(x)),
                                                  __high2float(v) * g9_gelu_grad(__high2float(x)));
                }
                asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(a),
                             "r"(*reinterpret_cast<uint32_t *>(&v))
                             : "memory");
            }
        }
    }
}

/* Warpgroup c's staging tile to the matrix of map t at (m0, n0) by TMA:
 * every thread's writes made visible to the async proxy, the warpgroup
 * met, then its thread 0 stores the panels inside N and waits until they
 * have read the tile. */
static __device__ __forceinline__ void gp_tma_out(const CUtensorMap *t, uint32_t tile,
                                                  const g9_par &p, int m0, int n0, int c,
                                                  int tid)
{
    sm90_fence_async_smem();
    gp_wg_sync(c);
    if (tid == 0) {
#pragma unroll
        for (int q = 0; q < GP_BN / 64; q++)
            if (n0 + 64 * q < p.N)
                sm90_tma_store_2d(t, tile + q * (GP_TILE / 2), n0 + 64 * q, m0);
        sm90_bulk_commit();
        sm90_bulk_wait_read();
    }
}

/* The TMA epilogue of one tile (both 64-row halves: acc0, acc1). Before
 * its writes: dGELU waits for its source (which the producer loads only
 * once the last store has read the tile); the others meet at the
 * warpgroup barrier, which thread 0 reaches only after that wait. GELU
 * stores the pre-activation first, then gelu of it through the same tile. */
template <int EPI>
static __device__ __forceinline__ void gp_epilogue_tma(const float (&acc0)[GP_BN / 2],
                                                       const float (&acc1)[GP_BN / 2],
                                                       const g9_par &p, const CUtensorMap *tc,
                                                       const CUtensorMap *tx, uint32_t tile,
                                                       uint32_t bar, int m0, int n0, int c,
                                                       int n, int tid)
{
    const int warp = tid >> 5, lane = tid & 31;
    if (EPI == KN_G9_DGELU)
        sm90_mb_wait(gp_pfull(bar, c), n & 1);
    else
        gp_wg_sync(c);
    if (EPI == KN_G9_GELU) {
        gp_frag<GP_PASS_PRE>(acc0, p, tile, 16 * warp, n0, lane);
        gp_frag<GP_PASS_PRE>(acc1, p, tile, 64 + 16 * warp, n0, lane);
        gp_tma_out(tx, tile, p, m0, n0, c, tid);
        gp_wg_sync(c);
    }
    gp_frag<EPI>(acc0, p, tile, 16 * warp, n0, lane);
    gp_frag<EPI>(acc1, p, tile, 64 + 16 * warp, n0, lane);
    gp_tma_out(tc, tile, p, m0, n0, c, tid);
    if (EPI == KN_G9_DGELU && tid == 0)
        sm90_mb_arrive(gp_sfree(bar, c));
}

/* One thread: every k-block of every tile of the block, in order. TB: B is
 * MN-major ([K, N]: two 64-column panels per stage), else K-major ([N, K]:
 * one box of 128 rows). */
template <int TB, int PRE>
static __device__ __forceinline__ void gp_produce(const CUtensorMap *ta, const CUtensorMap *tb,
                                                  const CUtensorMap *tx, uint32_t sA, uint32_t sB,
                                                  uint32_t sC, uint32_t bar, const g9_sched &sc,
                                                  int nk)
{
    sm90_tma_prefetch_desc(ta);
    sm90_tma_prefetch_desc(tb);
    int s = 0, ph = 0, i = 0;
    for (int ct = sc.first; ct < sc.count; ct += sc.stride, i++) {
        int m0, n0;
        g9_tile(sc, ct, m0, n0);
        for (int kt = 0; kt < nk; kt++) {
            if (PRE && kt == 1 % nk) /* after the tile's first stage: the epilogue's source */
                gp_load_pre(tx, sC, bar, i, m0, n0);
            sm90_mb_wait(bar + 8 * (GP_ST + s), ph ^ 1); /* stage free (passes at first) */
            const uint32_t full = bar + 8 * s, b = sB + s * GP_B_BYTES;
            sm90_mb_arrive_tx(full, GP_A_BYTES + GP_B_BYTES);
            sm90_tma_load_2d(sA + s * GP_A_BYTES, ta, kt * GP_BK, m0, full);
            if (TB) {
#pragma unroll
                for (int q = 0; q < GP_BN / 64; q++)
                    sm90_tma_load_2d(b + q * GP_BK * 128, tb, n0 + 64 * q, kt * GP_BK, full);
            } else {
                sm90_tma_load_2d(b, tb, kt * GP_BK, n0, full);
            }
            if (++s == GP_ST) {
                s = 0;
                ph ^= 1;
            }
        }
    }
}

/* Consumer warpgroup c (0, 1): tiles c, c + 2, ... of the block's sequence.
 * The k-blocks of sequence tile i are the ring's fills i nk .. i nk + nk - 1
 * (stage = fill % GP_ST, parity = fill / GP_ST). ord[c]: the other
 * warpgroup has waited for all of its stages (count 4: lane 0 of each of
 * its warps). */
template <int TB, int EPI>
static __device__ __forceinline__ void gp_consume(uint32_t sA, uint32_t sB, uint32_t bar,
                                                  uint32_t sC, const g9_par &p,
                                                  const CUtensorMap *tc, const CUtensorMap *tx,
                                                  int c, int tid, const g9_sched &sc, int nk)
{
    const int lane = tid & 31;
    const uint32_t ord = bar + 8 * 2 * GP_ST;
    int turn = 0; /* main loops this warpgroup has run */
    for (int i = c, ct = sc.first + c * sc.stride; ct < sc.count; i += 2, ct += 2 * sc.stride) {
        int m0, n0;
        g9_tile(sc, ct, m0, n0);
        /* the other warpgroup's main loop of sequence tile i - 1 has waited
         * for its stages (warpgroup 0's first tile has none before it) */
        if (i > 0)
            sm90_mb_wait(ord + 8 * c, c ? turn & 1 : (turn - 1) & 1);
        float acc0[GP_BN / 2], acc1[GP_BN / 2];
#pragma unroll
        for (int k = 0; k < GP_BN / 2; k++)
            acc0[k] = acc1[k] = 0.0f;
        const long long f0 = (long long)i * nk;
        int prev = -1;
        for (int kt = 0; kt < nk; kt++) {
            const long long f = f0 + kt;
            const int s = (int)(f % GP_ST);
            sm90_mb_wait(bar + 8 * s, (int)((f / GP_ST) & 1));
            const uint32_t a = sA + s * GP_A_BYTES, b = sB + s * GP_B_BYTES;
            wg_fence();
#pragma unroll
            for (int ks = 0; ks < GP_BK / 16; ks++) {
                const uint64_t db =
                    TB ? desc_mn(b + ks * 16 * 128, GP_BK * 128) : desc_k(b + ks * 32);
                wg<GP_BN, TB>::ss(acc0, desc_k(a + ks * 32), db, 0);
                wg<GP_BN, TB>::ss(acc1, desc_k(a + 64 * 128 + ks * 32), db, 0);
            }
            wg_commit();
            if (prev >= 0) { /* the previous stage's products are done */
                wg_wait<1>();
                if (lane == 0)
                    sm90_mb_arrive(bar + 8 * (GP_ST + prev));
            }
            prev = s;
        }
        /* every stage of this tile waited for: the other warpgroup's turn */
        if (lane == 0)
            sm90_mb_arrive(ord + 8 * (1 - c));
        turn++;
        wg_wait<0>();
        wg_pin(acc0);
        wg_pin(acc1);
        if (lane == 0)
            sm90_mb_arrive(bar + 8 * (GP_ST + prev));
        gp_epilogue_tma<EPI>(acc0, acc1, p, tc, tx, sC + (uint32_t)(c * GP_TILE), bar, m0, n0,
                             c, turn - 1, tid);
    }
    if (tid == 0)
        sm90_bulk_wait(); /* the last stores written before the block ends */
}

template <int TB, int EPI>
static __global__ void __launch_bounds__(GP_THREADS, 1)
    gp_kernel(const __grid_constant__ CUtensorMap ta, const __grid_constant__ CUtensorMap tb,
              const __grid_constant__ CUtensorMap tc, const __grid_constant__ CUtensorMap tx,
              const g9_par p)
{
#if SM90_ON
    extern __shared__ __align__(1024) uint8_t gp_smem[];
    const uint32_t sA = smem_base1024(gp_smem), sB = sA + GP_ST * GP_A_BYTES;
    const uint32_t sC = sB + GP_ST * GP_B_BYTES, bar = sC + 2 * GP_TILE;
    const int wgi = threadIdx.x >> 7, tid = threadIdx.x & 127;
    const int ntn = (p.N + GP_BN - 1) / GP_BN, ntm = (p.M + G9_BM - 1) / G9_BM;
    const int nk = (p.K + GP_BK - 1) / GP_BK;
    const g9_sched sc = {(int)blockIdx.x, (int)gridDim.x, ntm * ntn, ntn, 0, 1, GP_BN,
                         ntm,             min(p.group, ntm)};
    if (threadIdx.x == 0) {
        for (int s = 0; s < GP_ST; s++) {
            sm90_mb_init(bar + 8 * s, 1);           /* full: the producer's arrival + bytes */
            sm90_mb_init(bar + 8 * (GP_ST + s), 4); /* empty: the consuming warpgroup's warps */
        }
        sm90_mb_init(bar + 8 * 2 * GP_ST, 4);       /* ord[0], ord[1]: the other's warps */
        sm90_mb_init(bar + 8 * (2 * GP_ST + 1), 4);
        for (int c = 0; c < 2; c++) {
            sm90_mb_init(gp_pfull(bar, c), 1); /* the producer's arrival + bytes */
            sm90_mb_init(gp_sfree(bar, c), 1); /* the warpgroup's storing thread */
        }
        sm90_mb_init_fence();
    }
    __syncthreads();
    if (wgi == 0) {
        if (tid == 0)
            gp_produce<TB, EPI == KN_G9_DGELU>(&ta, &tb, &tx, sA, sB, sC, bar, sc, nk);
    } else {
        gp_consume<TB, EPI>(sA, sB, bar, sC, p, &tc, &tx, wgi - 1, tid, sc, nk);
    }
#endif
}

template <int TB, int EPI>
static int gp_launch(const CUtensorMap &ta, const CUtensorMap &tb, const CUtensorMap &tc,
                     const CUtensorMap &tx, const g9_par &p, cudaStream_t s)
{
    void (*kern)(CUtensorMap, CUtensorMap, CUtensorMap, CUtensorMap, g9_par) = gp_kernel<TB, EPI>;
    CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, GP_SMEM));
    int sms, err = g9_sm_count(&sms);
    if (err)
        return err;
    const long long tiles =
        (long long)((p.M + G9_BM - 1) / G9_BM) * ((p.N + GP_BN - 1) / GP_BN);
    const unsigned grid = (unsigned)(tiles < sms ? tiles : sms);
    kern<<<grid, GP_THREADS, GP_SMEM, s>>>(ta, tb, tc, tx, p);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

/* gemm_sm90_int.cuh */
int g9pp_run(const kn_g9 *g, const g9_par &p, cudaStream_t s)
{
    CUtensorMap ta, tb, tc, tx;
    int err = g9_map(&ta, g->A, g->K, g->M, g->lda, G9_BM);
    if (!err)
        err = g->b_kmajor ? g9_map(&tb, g->B, g->K, g->N, g->ldb, GP_BN)
                          : g9_map(&tb, g->B, g->N, g->K, g->ldb, GP_BK);
    /* the TMA epilogue's: C, and aux (GELU's pre-activation out, dGELU's in;
     * PLAIN has none: a copy of C's map stands in) */
    if (!err)
        err = g9_map(&tc, g->C, g->N, g->M, g->ldc, G9_BM);
    if (!err && g->epi != KN_G9_PLAIN)
        err = g9_map(&tx, g->aux, g->N, g->M, g->ldaux, G9_BM);
    else
        tx = tc;
    if (err)
        return err;
    switch (g->epi * 2 + !g->b_kmajor) {
    case KN_G9_PLAIN * 2:
        return gp_launch<0, KN_G9_PLAIN>(ta, tb, tc, tx, p, s);
    case KN_G9_PLAIN * 2 + 1:
        return gp_launch<1, KN_G9_PLAIN>(ta, tb, tc, tx, p, s);
    case KN_G9_GELU * 2:
        return gp_launch<0, KN_G9_GELU>(ta, tb, tc, tx, p, s);
    case KN_G9_GELU * 2 + 1:
        return gp_launch<1, KN_G9_GELU>(ta, tb, tc, tx, p, s);
    case KN_G9_DGELU * 2:
        return gp_launch<0, KN_G9_DGELU>(ta, tb, tc, tx, p, s);
    case KN_G9_DGELU * 2 + 1:
        return gp_launch<1, KN_G9_DGELU>(ta, tb, tc, tx, p, s);
    default:
        return -ENOTSUP;
    }
}
