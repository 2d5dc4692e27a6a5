/* Two launches: fixed grid of partial sums of squares (float64), then one
 * block that adds the partials in index order and derives norm and clip. */
#include "cuda_check.h"
#include "gradnorm.h"
#include "kn_device.cuh"

enum { GN_THREADS = 256, GN_MAX_BLOCKS = 1024, GN_PER_BLOCK_MIN = 4096 };

/* Block sum of one double per thread, in a fixed tree order; result in
 * thread 0. blockDim.x must be a multiple of 32, at most 1024. */
static __device__ double block_sum_d(double x, double *sh)
{
    x = kn_warp_sum_d(x);
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0)
        sh[warp] = x;
    __syncthreads();
    double r = 0.0;
    if (warp == 0) {
        int nw = blockDim.x / 32;
        r = lane < nw ? sh[lane] : 0.0;
        r = kn_warp_sum_d(r);
    }
    return r;
}

/* Each thread sums the squares of its float4 chunks (chunk c of the
 * 16-byte aligned body, c = thread, thread + grid, ...), four chunks per
 * iteration loaded before any is added, so that 64 bytes per thread are in
 * flight (one float per thread and iteration read 2.3 TB/s on the H200);
 * the unaligned head (< 4 elements) and the tail (< 4) go to thread 0 of
 * block 0. The order depends on n and g's alignment only. */
static __global__ void sumsq_partial_kernel(double *partial, const float *g, size_t n)
{
    __shared__ double sh[32];
    double acc = 0.0;
    const size_t head = min(n, (size_t)((16 - ((uintptr_t)g & 15)) & 15) / 4);
    const float4 *body = reinterpret_cast<const float4 *>(g + head);
    const size_t n4 = (n - head) / 4, stride = (size_t)gridDim.x * blockDim.x;
    size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    auto add4 = [&](float4 v) {
        acc = fma((double)v.x, (double)v.x, acc);
        acc = fma((double)v.y, (double)v.y, acc);
        acc = fma((double)v.z, (double)v.z, acc);
        acc = fma((double)v.w, (double)v.w, acc);
    };
    for (; c + 3 * stride < n4; c += 4 * stride) {
        const float4 a = body[c], b = body[c + stride], d = body[c + 2 * stride],
                     e = body[c + 3 * stride];
        add4(a);
        add4(b);
        add4(d);
        add4(e);
    }
    for (; c < n4; c += stride)
        add4(body[c]);
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        for (size_t i = 0; i < head; i++)
            acc = fma((double)g[i], (double)g[i], acc);
        for (size_t i = head + 4 * n4; i < n; i++)
            acc = fma((double)g[i], (double)g[i], acc);
    }
    double r = block_sum_d(acc, sh);
    if (threadIdx.x == 0)
        partial[blockIdx.x] = r;
}

static __global__ void norm_final_kernel(float *norm_out, float *clip_out, const double *partial,
                                         int nparts, float max_norm, const float *max_norm_dev)
{
    if (max_norm_dev)
        max_norm = *max_norm_dev;
    __shared__ double sh[32];
    double acc = 0.0;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x)
        acc += partial[i];
    double total = block_sum_d(acc, sh);
    if (threadIdx.x == 0) {
        double norm = sqrt(total);
        if (norm_out)
            *norm_out = (float)norm;
        if (clip_out) {
            float c = 1.0f;
            if (max_norm > 0.0f) {
                double f = (double)max_norm / (norm + 1e-6);
                c = f < 1.0 ? (float)f : 1.0f;
            }
            *clip_out = c;
        }
    }
}

extern "C" size_t kn_global_norm_scratch_bytes(void)
{
    return GN_MAX_BLOCKS * sizeof(double);
}

static int global_norm(float *norm_out, float *clip_out, const float *g, size_t n,
                       float max_norm, const float *max_norm_dev, void *scratch,
                       size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(g || n == 0, "NULL gradient buffer with n=%zu", n);
    KN_ARG_CHECK(scratch && scratch_bytes >= kn_global_norm_scratch_bytes(),
                 "scratch %p of %zu bytes, need %zu", scratch, scratch_bytes,
                 kn_global_norm_scratch_bytes());
    /* The block count depends on n only, so the summation order (and the
     * bits of the result) depend on n and g's alignment, not on the GPU. */
    size_t nb = (n + GN_PER_BLOCK_MIN - 1) / GN_PER_BLOCK_MIN;
    if (nb < 1)
        nb = 1;
    if (nb > GN_MAX_BLOCKS)
        nb = GN_MAX_BLOCKS;
    double *partial = (double *)scratch;
    sumsq_partial_kernel<<<(unsigned)nb, GN_THREADS, 0, s>>>(partial, g, n);
    KN_LAUNCH_CHECK();
    norm_final_kernel<<<1, GN_MAX_BLOCKS, 0, s>>>(norm_out, clip_out, partial, (int)nb, max_norm,
                                                max_norm_dev);
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_global_norm(float *norm_out, float *clip_out, const float *g, size_t n,
                              float max_norm, void *scratch, size_t scratch_bytes,
                              cudaStream_t s)
{
    return global_norm(norm_out, clip_out, g, n, max_norm, NULL, scratch, scratch_bytes, s);
}

extern "C" int kn_global_norm_dev(float *norm_out, float *clip_out, const float *g, size_t n,
                                  const float *max_norm, void *scratch, size_t scratch_bytes,
                                  cudaStream_t s)
{
    KN_ARG_CHECK(max_norm != NULL, "NULL max_norm (device pointer) for n=%zu", n);
    return global_norm(norm_out, clip_out, g, n, 0.0f, max_norm, scratch, scratch_bytes, s);
}
