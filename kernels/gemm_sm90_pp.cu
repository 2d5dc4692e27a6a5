/* The own Hopper GEMM with ping-pong consumers (INGOT_G9_PINGPONG=1; not
 * the default until measured: docs/kernels.md, "Next: ping-pong
 * consumers"). One persistent block per SM, 384 threads:
 *   warp 0, one thread: the producer; TMA loads of A 128 x 64 and B
 *     128 x 64 into a ring of GP_ST stages, the block's tiles in order;
 *   warpgroups 1 and 2: consumers on alternate tiles of the block's
 *     sequence, 128 x 128 each (two wgmma m64n128k16 per k-step: 128 float
 *     accumulators per thread, as the 128 x 256 kernel's), each running its
 *     own epilogue through its staging tile while the other runs its main
 *     loop. An order barrier hands the main loop over: a warpgroup waits for
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
    GP_A_BYTES = G9_BM * GP_BK * 2,
    GP_B_BYTES = GP_BN * GP_BK * 2,
    GP_PRE = 4, /* dGELU: pre-activation rows per lane loaded at once (gp_store) */
    GP_PITCH = GP_BN * 2 + 16, /* staging rows: 16 bytes of padding against bank conflicts */
    GP_STAGING = G9_BM * GP_PITCH,
    /* stages, two staging tiles, full[ST], empty[ST], ord[2] */
    GP_SMEM = 1024 + GP_ST * (GP_A_BYTES + GP_B_BYTES) + 2 * GP_STAGING + (2 * GP_ST + 2) * 8,
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

/* One thread: every k-block of every tile of the block, in order. TB: B is
 * MN-major ([K, N]: two 64-column panels per stage), else K-major ([N, K]:
 * one box of 128 rows). */
template <int TB>
static __device__ __forceinline__ void gp_produce(const CUtensorMap *ta, const CUtensorMap *tb,
                                                  uint32_t sA, uint32_t sB, uint32_t bar,
                                                  const g9_sched &sc, int nk)
{
    sm90_tma_prefetch_desc(ta);
    sm90_tma_prefetch_desc(tb);
    int s = 0, ph = 0;
    for (int ct = sc.first; ct < sc.count; ct += sc.stride) {
        int m0, n0;
        g9_tile(sc, ct, m0, n0);
        for (int kt = 0; kt < nk; kt++) {
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

/* The staging tile to global memory: warp w rows 32 w .. 32 w + 31, two
 * rows per instruction (half a warp, 256 bytes, per row), with the
 * epilogue's function of the bf16-rounded value (as gemm_sm90.cu). dGELU's
 * pre-activations are loaded GP_PRE rows of a lane at a time before those
 * rows are worked on (16 or 8 at once made ptxas spill: the accumulators'
 * registers stay reserved). */
template <int EPI>
static __device__ __forceinline__ void gp_store(const g9_par &p, uint32_t stage, int m0, int n0,
                                                int warp, int lane)
{
    const int c = 8 * (lane & 15), col = n0 + c;
    if (col >= p.N)
        return;
#pragma unroll
    for (int part = 0; part < 16 / GP_PRE; part++) {
        uint4 pre[GP_PRE];
        if (EPI == KN_G9_DGELU) {
#pragma unroll
            for (int i = 0; i < GP_PRE; i++) {
                const int row = m0 + 32 * warp + 2 * (GP_PRE * part + i) + (lane >> 4);
                if (row < p.M)
                    pre[i] =
                        *reinterpret_cast<const uint4 *>(p.aux + (size_t)row * p.ldaux + col);
            }
        }
#pragma unroll
        for (int i = 0; i < GP_PRE; i++) {
            const int rr = 32 * warp + 2 * (GP_PRE * part + i) + (lane >> 4), row = m0 + rr;
            if (row >= p.M)
                return;
            uint4 v = g9_lds16(stage + (uint32_t)(rr * GP_PITCH + c * 2));
            if (EPI == KN_G9_GELU) {
                *reinterpret_cast<uint4 *>(p.aux + (size_t)row * p.ldaux + col) = v;
                g9_gelu_pack<EPI>(v, v);
            } else if (EPI == KN_G9_DGELU) {
                g9_gelu_pack<EPI>(v, pre[i]);
            }
            *reinterpret_cast<uint4 *>(p.C + (size_t)row * p.ldc + col) = v;
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
                                                  uint32_t sC, const g9_par &p, int c, int tid,
                                                  const g9_sched &sc, int nk)
{
    const int warp = tid >> 5, lane = tid & 31;
    const uint32_t stage = sC + (uint32_t)(c * GP_STAGING), ord = bar + 8 * 2 * GP_ST;
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
        /* rows 16 w .. of each 64-row half: the warp's share of each wgmma */
        g9_stage_acc<EPI, GP_BN>(acc0, p, stage + 16 * warp * GP_PITCH, GP_PITCH, n0, lane);
        g9_stage_acc<EPI, GP_BN>(acc1, p, stage + (64 + 16 * warp) * GP_PITCH, GP_PITCH, n0,
                                 lane);
        gp_wg_sync(c); /* the staging tile is written */
        gp_store<EPI>(p, stage, m0, n0, warp, lane);
        gp_wg_sync(c); /* and read: free for the next tile */
    }
}

template <int TB, int EPI>
static __global__ void __launch_bounds__(GP_THREADS, 1)
    gp_kernel(const __grid_constant__ CUtensorMap ta, const __grid_constant__ CUtensorMap tb,
              const g9_par p)
{
#if SM90_ON
    extern __shared__ __align__(1024) uint8_t gp_smem[];
    const uint32_t sA = smem_base1024(gp_smem), sB = sA + GP_ST * GP_A_BYTES;
    const uint32_t sC = sB + GP_ST * GP_B_BYTES, bar = sC + 2 * GP_STAGING;
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
        sm90_mb_init_fence();
    }
    __syncthreads();
    if (wgi == 0) {
        if (tid == 0)
            gp_produce<TB>(&ta, &tb, sA, sB, bar, sc, nk);
    } else {
        gp_consume<TB, EPI>(sA, sB, bar, sC, p, wgi - 1, tid, sc, nk);
    }
#endif
}

template <int TB, int EPI>
static int gp_launch(const CUtensorMap &ta, const CUtensorMap &tb, const g9_par &p,
                     cudaStream_t s)
{
    void (*kern)(CUtensorMap, CUtensorMap, g9_par) = gp_kernel<TB, EPI>;
    CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, GP_SMEM));
    int sms, err = g9_sm_count(&sms);
    if (err)
        return err;
    const long long tiles =
        (long long)((p.M + G9_BM - 1) / G9_BM) * ((p.N + GP_BN - 1) / GP_BN);
    const unsigned grid = (unsigned)(tiles < sms ? tiles : sms);
    kern<<<grid, GP_THREADS, GP_SMEM, s>>>(ta, tb, p);
    CUDA_CHECK(cudaGetLastError());
    return 0;
}

/* gemm_sm90_int.cuh */
int g9pp_run(const kn_g9 *g, const g9_par &p, cudaStream_t s)
{
    CUtensorMap ta, tb;
    int err = g9_map(&ta, g->A, g->K, g->M, g->lda, G9_BM);
    if (!err)
        err = g->b_kmajor ? g9_map(&tb, g->B, g->K, g->N, g->ldb, GP_BN)
                          : g9_map(&tb, g->B, g->N, g->K, g->ldb, GP_BK);
    if (err)
        return err;
    switch (g->epi * 2 + !g->b_kmajor) {
    case KN_G9_PLAIN * 2:
        return gp_launch<0, KN_G9_PLAIN>(ta, tb, p, s);
    case KN_G9_PLAIN * 2 + 1:
        return gp_launch<1, KN_G9_PLAIN>(ta, tb, p, s);
    case KN_G9_GELU * 2:
        return gp_launch<0, KN_G9_GELU>(ta, tb, p, s);
    case KN_G9_GELU * 2 + 1:
        return gp_launch<1, KN_G9_GELU>(ta, tb, p, s);
    case KN_G9_DGELU * 2:
        return gp_launch<0, KN_G9_DGELU>(ta, tb, p, s);
    case KN_G9_DGELU * 2 + 1:
        return gp_launch<1, KN_G9_DGELU>(ta, tb, p, s);
    default:
        return -ENOTSUP;
    }
}
