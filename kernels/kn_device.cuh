/* Device-side helpers shared by the .cu files of kernels/ (internal: not part
 * of the launcher API). Element conversion between float and the storage
 * types, warp reductions, 16-byte packs for vectorised memory access, and a
 * dispatch macro from kn_dtype to a template type. */
#ifndef INGOT_KN_DEVICE_CUH
#define INGOT_KN_DEVICE_CUH

#include <stdint.h>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kn_common.h"

typedef __nv_bfloat16 kn_bf16;

/* GELU's tanh form, 0.5 x (1 + tanh(K (x + C x^3))): the constants of
 * gelu.cu and of gemm_sm90.cu's epilogue. */
#define KN_GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define KN_GELU_C 0.044715f

/* Storage type -> float and back (bf16: round to nearest even). */
static __device__ __forceinline__ float kn_f(float x) { return x; }
static __device__ __forceinline__ float kn_f(kn_bf16 x) { return __bfloat162float(x); }

template <typename T> static __device__ __forceinline__ T kn_st(float x);
template <> __device__ __forceinline__ float kn_st<float>(float x) { return x; }
template <> __device__ __forceinline__ kn_bf16 kn_st<kn_bf16>(float x)
{
    return __float2bfloat16_rn(x);
}

/* Full-warp reductions: every lane must take part (mask 0xffffffff); every
 * lane gets the result. */
static __device__ __forceinline__ float kn_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float kn_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

static __device__ __forceinline__ double kn_warp_sum_d(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* 16 bytes of T: 4 floats or 8 bf16. Loaded and stored with one 128-bit
 * access; the address must be 16-byte aligned. */
template <typename T> struct alignas(16) kn_pack {
    static constexpr int n = 16 / sizeof(T);
    T v[16 / sizeof(T)];
};

template <typename T>
static __device__ __forceinline__ kn_pack<T> kn_ld_pack(const T *p)
{
    kn_pack<T> r;
    *reinterpret_cast<int4 *>(&r) = *reinterpret_cast<const int4 *>(p);
    return r;
}

template <typename T>
static __device__ __forceinline__ void kn_st_pack(T *p, const kn_pack<T> &r)
{
    *reinterpret_cast<int4 *>(p) = *reinterpret_cast<const int4 *>(&r);
}

/* 16 bytes from shared memory at a shared-space address (from
 * __cvta_generic_to_shared); the memory clobber keeps the load after the
 * barrier or cp.async wait that published the bytes. */
static __device__ __forceinline__ uint4 kn_lds16(uint32_t a)
{
    uint4 v;
    asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "r"(a)
                 : "memory");
    return v;
}

/* 16 bytes global -> shared (a shared-space address) without passing
 * through registers: cp.async, sm_80+ (every target of this build is sm_80
 * or later; the #else keeps a file compiling for older ones). .cg: cached
 * in L2 only, for data used once. */
static __device__ __forceinline__ void kn_cp16(uint32_t smem, const void *gmem)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem), "l"(gmem) : "memory");
#else
    *reinterpret_cast<int4 *>(__cvta_shared_to_generic(smem)) =
        *reinterpret_cast<const int4 *>(gmem);
#endif
}

/* Closes this thread's group of kn_cp16 copies (kn_cp_wait waits for every
 * group). */
static __device__ __forceinline__ void kn_cp_commit(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

/* Waits for this thread's kn_cp16 copies and makes them visible to it
 * (other threads see them after a barrier). */
static __device__ __forceinline__ void kn_cp_wait(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

/* Host: true when every pointer is 16-byte aligned (NULL counts as aligned). */
static inline bool kn_aligned16(const void *a, const void *b = 0, const void *c = 0,
                                const void *d = 0)
{
    uintptr_t m = (uintptr_t)a | (uintptr_t)b | (uintptr_t)c | (uintptr_t)d;
    return (m & 15u) == 0;
}

/* Number of blocks for a grid-stride loop over n items, capped so that huge
 * n does not overflow gridDim.x; the loops handle any n. */
static inline unsigned kn_grid_for(size_t n, unsigned threads, unsigned cap = 65536u * 8u)
{
    size_t b = (n + threads - 1) / threads;
    if (b < 1)
        b = 1;
    if (b > cap)
        b = cap;
    return (unsigned)b;
}

/* Element-wise grid-stride loop over n items of T, any n with any grid.
 * VEC: pack(e) for each 16-byte pack starting at element e over
 * [0, n - n % P), then one(i) for the scalar tail; without VEC one(i) for
 * every i. Launch with kn_grid_elems. */
template <typename T, bool VEC, typename Pack, typename One>
static __device__ __forceinline__ void kn_elementwise(size_t n, Pack pack, One one)
{
    size_t tid = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    size_t done = 0;
    if (VEC) {
        const int P = kn_pack<T>::n;
        size_t np = n / P;
        for (size_t i = tid; i < np; i += stride)
            pack(i * P);
        done = np * P;
    }
    for (size_t i = done + tid; i < n; i += stride)
        one(i);
}

/* Blocks for a kn_elementwise kernel over n items of T: one thread per
 * pack when vec, else per item. */
template <typename T>
static inline unsigned kn_grid_elems(size_t n, bool vec, unsigned threads)
{
    const int P = kn_pack<T>::n;
    return kn_grid_for(vec ? (n + P - 1) / P : n, threads);
}

/* Runs the statement with T = float or T = kn_bf16 according to dt. */
#define KN_DISPATCH(dt, T, ...)          \
    do {                                 \
        if ((dt) == KN_BF16) {           \
            typedef kn_bf16 T;           \
            __VA_ARGS__;                 \
        } else {                         \
            typedef float T;             \
            __VA_ARGS__;                 \
        }                                \
    } while (0)

#endif
