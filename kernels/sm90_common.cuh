/* Device helpers shared by the Hopper (sm_90a) kernels, flash_attention_sm90.cu
 * and gemm_sm90.cu: wgmma shared-memory descriptors for the 128-byte-swizzled
 * tile layout, mbarriers, tensor-memory-access (TMA) loads and thread-block
 * clusters. Every body compiles to nothing outside sm_90a code (the sm_80
 * pass of the build), where the kernels that call them are compiled away
 * too.
 *
 * Tile layout (the canonical SW128 layout, also what a TMA load with
 * CU_TENSOR_MAP_SWIZZLE_128B and a 64-element bf16 inner box writes): a
 * panel is R rows of 64 bf16 (128 bytes); the 16-byte chunk c (0..7) of row
 * r sits at r * 128 + ((c ^ (r % 8)) * 16) from the panel's 1024-byte-aligned
 * base. K-major reading: 8-row groups 1024 bytes apart (SBO), k-step ks (16
 * columns) starts 32 * (ks % 4) bytes into the row of panel ks / 4.
 * MN-major reading (imm-trans-b = 1): one swizzle atom is 8 rows x 64
 * columns; atoms along the contraction 1024 bytes apart (SBO), along the
 * columns one panel apart (LBO); k-step ks starts at row 16 ks. */
#ifndef INGOT_SM90_COMMON_CUH
#define INGOT_SM90_COMMON_CUH
#include <stdint.h>

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define SM90_ON 1
#else
#define SM90_ON 0
#endif

/* K-major descriptor, SW128: start address, LBO unused (1), SBO 1024. */
static __device__ __forceinline__ uint64_t desc_k(uint32_t addr)
{
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) |
           ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

/* MN-major descriptor, SW128: LBO = panel stride (atoms along N), SBO 1024
 * (8-row groups along the contraction). */
static __device__ __forceinline__ uint64_t desc_mn(uint32_t addr, uint32_t panel)
{
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)((panel >> 4) & 0x3FFF) << 16) |
           ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

/* Descriptor d (desc_k / desc_mn) moved on by byte_off bytes. The start
 * address field is (addr >> 4) in the low 14 bits and a shared-memory
 * address stays below 2^18, so one add (of a constant where the k-steps
 * are unrolled) instead of desc_k's masking and shifting again per
 * product: with the base descriptor warp-uniform, the unrolled products
 * take their descriptors from uniform registers without a conversion each
 * (R2UR). */
static __device__ __forceinline__ uint64_t desc_add(uint64_t d, uint32_t byte_off)
{
    return d + (byte_off >> 4);
}

/* The thread's warpgroup index, broadcast from lane 0 so that the compiler
 * knows it is warp-uniform (values derived from it, such as a warpgroup's
 * tile address, then live in uniform registers, as wgmma's descriptors
 * must). */
static __device__ __forceinline__ int sm90_wg_index(void)
{
    return __shfl_sync(0xffffffffu, (int)threadIdx.x / 128, 0);
}

/* Address of k-step ks of a K-major operand: rows r0.. of a tile of R rows. */
template <int R>
static __device__ __forceinline__ uint32_t kstep_k(uint32_t base, int r0, int ks)
{
    return base + (uint32_t)((ks >> 2) * R * 128 + r0 * 128 + (ks & 3) * 32);
}

static __device__ __forceinline__ uint32_t smem_base1024(uint8_t *raw)
{
    return ((uint32_t)__cvta_generic_to_shared(raw) + 1023u) & ~1023u;
}

/* mbarrier helpers (shared::cta addresses). */
static __device__ __forceinline__ void sm90_mb_init(uint32_t mb, int count)
{
#if SM90_ON
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(mb), "r"(count) : "memory");
#endif
}

/* Makes the initialised mbarriers visible to the async proxy (TMA's
 * complete_tx); then a block barrier makes them visible to the threads. */
static __device__ __forceinline__ void sm90_mb_init_fence(void)
{
#if SM90_ON
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

static __device__ __forceinline__ void sm90_mb_arrive(uint32_t mb)
{
#if SM90_ON
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [%0];\n}\n" ::"r"(mb)
                 : "memory");
#endif
}

/* An arrival that orders nothing before it (no release): for a reader
 * whose reads of shared memory have all returned (their values already
 * used), so that it does not wait for its outstanding global stores. */
static __device__ __forceinline__ void sm90_mb_arrive_relaxed(uint32_t mb)
{
#if SM90_ON && (__CUDACC_VER_MAJOR__ > 12 || __CUDACC_VER_MINOR__ >= 8)
    asm volatile("mbarrier.arrive.relaxed.cta.shared::cta.b64 _, [%0];\n" ::"r"(mb) : "memory");
#else /* .relaxed needs PTX ISA 8.6 (CUDA 12.8): the releasing arrival */
    sm90_mb_arrive(mb);
#endif
}

/* Arrives on mb and adds bytes to the transaction count the phase waits for
 * (the bytes the TMA loads of this phase will deliver). */
static __device__ __forceinline__ void sm90_mb_arrive_tx(uint32_t mb, uint32_t bytes)
{
#if SM90_ON
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(mb), "r"(bytes)
                 : "memory");
#endif
}

static __device__ __forceinline__ void sm90_mb_wait(uint32_t mb, int parity)
{
#if SM90_ON
    asm volatile("{\n.reg .pred p;\nW%=:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
                 "@!p bra W%=;\n}\n" ::"r"(mb),
                 "r"(parity)
                 : "memory");
#endif
}

/* 2-D TMA load of the box at element coordinates (c0 inner, c1 outer) of
 * the tensor map into shared address dst; completes on mbarrier mb. Out of
 * bounds elements are zero-filled (and still counted in the bytes). */
static __device__ __forceinline__ void sm90_tma_load_2d(uint32_t dst, const void *tmap, int c0,
                                                        int c1, uint32_t mb)
{
#if SM90_ON
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%2, %3}], [%4];\n" ::"r"(dst),
                 "l"(tmap), "r"(c0), "r"(c1), "r"(mb)
                 : "memory");
#endif
}

/* The same box multicast to the blocks of the cluster in mask (bit r:
 * rank r), at the same shared offset in each, completing on the mbarrier
 * at mb's offset in each. */
static __device__ __forceinline__ void sm90_tma_load_2d_mc(uint32_t dst, const void *tmap, int c0,
                                                           int c1, uint32_t mb, int mask)
{
#if SM90_ON
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                 ".multicast::cluster [%0], [%1, {%2, %3}], [%4], %5;\n" ::"r"(dst),
                 "l"(tmap), "r"(c0), "r"(c1), "r"(mb), "h"((uint16_t)mask)
                 : "memory");
#endif
}

/* Thread block clusters: this block's rank, one arrival on the mbarrier at
 * shared offset mb of block `rank`, and a barrier over every thread of the
 * cluster (the barrier: release / acquire at cluster scope). */
static __device__ __forceinline__ int sm90_cluster_rank(void)
{
    uint32_t r = 0;
#if SM90_ON
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
#endif
    return (int)r;
}

/* (Release at CTA scope, the default: with .release.cluster every arrival
 * waited for all of the thread's outstanding memory operations, ERRBAR, a
 * quarter of the GEMM's stall samples. The stage's readers are wgmma
 * operations already waited for.) */
static __device__ __forceinline__ void sm90_mb_arrive_cluster(uint32_t mb, int rank)
{
#if SM90_ON
    asm volatile("{\n.reg .b32 ra;\nmapa.shared::cluster.u32 ra, %0, %1;\n"
                 "mbarrier.arrive.shared::cluster.b64 _, [ra];\n}\n" ::"r"(mb),
                 "r"(rank)
                 : "memory");
#endif
}

static __device__ __forceinline__ void sm90_cluster_sync(void)
{
#if SM90_ON
    asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;\n" ::: "memory");
#endif
}

static __device__ __forceinline__ void sm90_tma_prefetch_desc(const void *tmap)
{
#if SM90_ON
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(tmap) : "memory");
#endif
}
/* 2-D TMA store of the box at (c0 inner, c1 outer) from shared address src
 * (the tensor map's swizzled layout), in the thread's bulk group; rows and
 * columns past the tensor's bounds are not written. The threads that wrote
 * src must have run sm90_fence_async_smem() and met the storing thread at a
 * barrier first. */
static __device__ __forceinline__ void sm90_tma_store_2d(const void *tmap, uint32_t src, int c0,
                                                         int c1)
{
#if SM90_ON
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%2, %3}], [%1];\n"
                 ::"l"(tmap), "r"(src), "r"(c0), "r"(c1)
                 : "memory");
#endif
}

/* Close the thread's bulk group; wait until its stores have read shared
 * memory (the source may be written again), or have completed. */
static __device__ __forceinline__ void sm90_bulk_commit(void)
{
#if SM90_ON
    asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
#endif
}

static __device__ __forceinline__ void sm90_bulk_wait_read(void)
{
#if SM90_ON
    asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
#endif
}

static __device__ __forceinline__ void sm90_bulk_wait(void)
{
#if SM90_ON
    asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
#endif
}

/* This thread's shared-memory writes, visible to the async proxy (TMA). */
static __device__ __forceinline__ void sm90_fence_async_smem(void)
{
#if SM90_ON
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

#endif
