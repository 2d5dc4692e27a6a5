/* Eight-lane float vectors for the reference ops (GCC/Clang vector
 * extensions: one AVX register, or two SSE ones on the baseline ISA), and the
 * attribute that compiles a hot kernel twice (AVX2+FMA and baseline) with the
 * better one picked at load time. A dot product through dot_lanes() keeps 8
 * lane sums (lane k takes elements i = k mod 8) combined pairwise at the end:
 * an order fixed by the data, so results never depend on threads. */
#ifndef INGOT_REF_VEC_H
#define INGOT_REF_VEC_H

typedef float v8f __attribute__((vector_size(32), aligned(4), may_alias));
#define V8(p) (*(const v8f *)(const void *)(p))
#define V8W(p) (*(v8f *)(void *)(p))
#define V8SUM(a) ((((a)[0] + (a)[4]) + ((a)[1] + (a)[5])) + (((a)[2] + (a)[6]) + ((a)[3] + (a)[7])))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define REF_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define REF_CLONES
#endif

static inline float dot_lanes(const float *x, const float *y, int n)
{
    v8f a = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        a += V8(x + i) * V8(y + i);
    float t[8] = {0};
    for (int k = 0; i < n; i++, k++)
        t[k] = x[i] * y[i];
    a += V8(t);
    return V8SUM(a);
}

#endif
