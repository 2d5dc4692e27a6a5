/* A counted loop in a CUDA graph (graph_loop.h): a conditional WHILE node
 * (CUDA 12.4+) whose body ends with a one-thread kernel that counts and sets
 * the condition. */
#include "cuda_check.h"
#include "graph_loop.h"
#include "kn_device.cuh"

/* Conditional WHILE nodes, cudaGraphSetConditional and capture into a body
 * graph: CUDA 12.4. From 13.0 the calls with edge data lost their _v2/_v3
 * names. */
#if CUDART_VERSION >= 12040
#define KN_HAVE_GRAPH_LOOP 1
#if CUDART_VERSION >= 13000
#define KN_CAPTURE_INFO cudaStreamGetCaptureInfo
#define KN_ADD_NODE cudaGraphAddNode
#define KN_UPDATE_DEPS cudaStreamUpdateCaptureDependencies
#else
#define KN_CAPTURE_INFO cudaStreamGetCaptureInfo_v3
#define KN_ADD_NODE cudaGraphAddNode_v2
#define KN_UPDATE_DEPS cudaStreamUpdateCaptureDependencies_v2
#endif

static __global__ void loop_next_kernel(int *counter, unsigned n,
                                        cudaGraphConditionalHandle handle)
{
    const int c = *counter + 1;
    *counter = c;
    cudaGraphSetConditional(handle, (unsigned)c < n ? 1u : 0u);
}
#else
#define KN_HAVE_GRAPH_LOOP 0
#endif

extern "C" int kn_graph_loop_supported(void)
{
    return KN_HAVE_GRAPH_LOOP;
}

extern "C" int kn_graph_loop_begin(kn_graph_loop *l, int *counter, unsigned n,
                                   cudaStream_t outer, cudaStream_t body)
{
    KN_ARG_CHECK(l && counter && n >= 1, "loop %p, counter %p, n %u", (void *)l, (void *)counter,
                 n);
    KN_ARG_CHECK(outer != body, "the body needs a stream of its own (both %p)", (void *)body);
    l->outer = outer;
    l->body = body;
    l->counter = counter;
    l->n = n;
    l->handle = 0;
    l->open = 0;
#if KN_HAVE_GRAPH_LOOP
    enum cudaStreamCaptureStatus st;
    cudaGraph_t g = NULL;
    const cudaGraphNode_t *deps = NULL;
    const cudaGraphEdgeData *edges = NULL;
    size_t nd = 0;
    CUDA_CHECK(cudaMemsetAsync(counter, 0, sizeof(int), outer));
    CUDA_CHECK(KN_CAPTURE_INFO(outer, &st, NULL, &g, &deps, &edges, &nd));
    KN_ARG_CHECK(st == cudaStreamCaptureStatusActive, "stream %p is not capturing", (void *)outer);
    /* the condition starts at 1 on every launch of the graph: n >= 1 */
    cudaGraphConditionalHandle h;
    CUDA_CHECK(cudaGraphConditionalHandleCreate(&h, g, 1, cudaGraphCondAssignDefault));
    l->handle = h;
    cudaGraphNodeParams p = {};
    p.type = cudaGraphNodeTypeConditional;
    p.conditional.handle = h;
    p.conditional.type = cudaGraphCondTypeWhile;
    p.conditional.size = 1;
    cudaGraphNode_t node;
    CUDA_CHECK(KN_ADD_NODE(&node, g, deps, edges, nd, &p));
    CUDA_CHECK(KN_UPDATE_DEPS(outer, &node, NULL, 1, cudaStreamSetCaptureDependencies));
    CUDA_CHECK(cudaStreamBeginCaptureToGraph(body, p.conditional.phGraph_out[0], NULL, NULL, 0,
                                             cudaStreamCaptureModeRelaxed));
    l->open = 1;
    return 0;
#else
    return ingot_fail(INGOT_E_CUDA, "kn_graph_loop_begin: built with CUDA %d.%d; graph loops "
                      "(conditional nodes) need 12.4", CUDART_VERSION / 1000,
                      CUDART_VERSION % 1000 / 10);
#endif
}

extern "C" int kn_graph_loop_end(kn_graph_loop *l)
{
    KN_ARG_CHECK(l && l->open, "loop %p is not open", (void *)l);
#if KN_HAVE_GRAPH_LOOP
    loop_next_kernel<<<1, 1, 0, l->body>>>(l->counter, l->n,
                                           (cudaGraphConditionalHandle)l->handle);
    cudaError_t launch = cudaGetLastError();
#else
    cudaError_t launch = cudaErrorNotSupported;
#endif
    cudaGraph_t g = NULL;
    cudaError_t end = cudaStreamEndCapture(l->body, &g);   /* g is the node's: not ours */
    l->open = 0;
    CUDA_CHECK(launch);
    CUDA_CHECK(end);
    return 0;
}

extern "C" int kn_graph_loop_abort(kn_graph_loop *l)
{
    if (!l || !l->open)
        return 0;
    enum cudaStreamCaptureStatus st = cudaStreamCaptureStatusActive;
    const cudaError_t q = cudaStreamIsCapturing(l->body, &st);
    cudaGraph_t g = NULL;
    const cudaError_t e = cudaStreamEndCapture(l->body, &g);
    (void)cudaGetLastError();
    l->open = 0;
    /* after an invalidated body, destroying the outer graph segfaulted
     * inside the driver (cudaGraphDestroy, driver 580.159). Any doubt
     * counts as invalidated: a leak is harmless, a crash is not. */
    return q != cudaSuccess || st != cudaStreamCaptureStatusActive || e != cudaSuccess;
}

template <typename T>
static __global__ void load_ids_at_kernel(int32_t *out, const T *in, size_t n, size_t stride,
                                          const int *idx)
{
    const T *src = in + (size_t)*idx * stride;
    const size_t step = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
        out[i] = (int32_t)src[i];
}

extern "C" int kn_load_ids_at(int32_t *out, const void *in, int u16, size_t n, size_t stride,
                              const int *idx, cudaStream_t s)
{
    KN_ARG_CHECK(out && in && idx, "NULL buffer (out=%p in=%p idx=%p)", (void *)out, in,
                 (const void *)idx);
    if (n == 0)
        return 0;
    const unsigned threads = 256, grid = kn_grid_for(n, threads);
    if (u16)
        load_ids_at_kernel<<<grid, threads, 0, s>>>(out, (const uint16_t *)in, n, stride, idx);
    else
        load_ids_at_kernel<<<grid, threads, 0, s>>>(out, (const int32_t *)in, n, stride, idx);
    KN_LAUNCH_CHECK();
    return 0;
}
