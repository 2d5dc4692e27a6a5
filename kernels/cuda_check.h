/* Error-checking macros for CUDA and cuBLAS calls. Each failing check records
 * the function, file, line, the call's text and the library's message with
 * ingot_fail() and returns INGOT_E_CUDA from the enclosing function, which
 * must return int. KN_ARG_CHECK(cond, fmt, ...) refuses a bad argument with -EINVAL (fmt needs at
 * least one argument). */
#ifndef INGOT_CUDA_CHECK_H
#define INGOT_CUDA_CHECK_H

#include <errno.h>

/* cublas_v2.h, not cublas_api.h: CUDA 12.x's cublas_api.h refuses to be
 * included without CUBLASAPI, which cublas_v2.h defines (found compiling with
 * CUDA 12.4 and 12.5; 13.0 defines it itself) */
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "ingot_err.h"

#define CUDA_CHECK(call)                                                              \
    do {                                                                              \
        cudaError_t kn_e_ = (call);                                                   \
        if (kn_e_ != cudaSuccess)                                                     \
            return ingot_fail(INGOT_E_CUDA, "%s (%s:%d): %s: %s", __func__, __FILE__, \
                              __LINE__, #call, cudaGetErrorString(kn_e_));            \
    } while (0)

#define CUBLAS_CHECK(call)                                                            \
    do {                                                                              \
        cublasStatus_t kn_s_ = (call);                                                \
        if (kn_s_ != CUBLAS_STATUS_SUCCESS)                                           \
            return ingot_fail(INGOT_E_CUDA, "%s (%s:%d): %s: %s", __func__, __FILE__, \
                              __LINE__, #call, cublasGetStatusString(kn_s_));         \
    } while (0)

/* After a kernel launch: catches bad launch configurations at once. */
#define KN_LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())

/* Shape/argument precondition of a launcher. */
#define KN_ARG_CHECK(cond, fmt, ...)                                                  \
    do {                                                                              \
        if (!(cond))                                                                  \
            return ingot_fail(-EINVAL, "%s: " fmt " (caller bug: check shapes/buffers)", \
                              __func__, __VA_ARGS__);                                 \
    } while (0)

#endif
