/* cuda_backend.h — the optional CUDA backend: the blocks of engine/blocks.h
 * on one NVIDIA GPU in fp16 (or bf16) with fp32 accumulation, fp32 residual
 * stream and fp32 norms / softmax / head.
 *
 * Built with `make CUDA=1` (the .cu files of src/cuda, linked against cudart and
 * cuBLASLt); the default build compiles src/cuda/cuda_stub.c instead, where
 * rr_cuda_available() is 0 and rr_blocks_cuda.create fails with
 * RERANK_ERR_UNSUPPORTED. Both define everything below, so callers need no
 * #ifdef.
 *
 * Threading: a backend context is not thread-safe; the engine serializes
 * calls on a model (its model lock). Any thread may make the calls (each
 * call selects the context's device first). */
#ifndef RR_CUDA_BACKEND_H
#define RR_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "engine/blocks.h"
#include "rerank.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices; 0 if none, if the driver is missing or too
 * old, or in a build without CUDA. Never fails. */
int rr_cuda_available(void);

/* The backend itself is rr_blocks_cuda (engine/blocks.h): the blocks of a
 * family's forward pass in fp16 (RERANK_PRECISION_FP32 or FP16) or bf16,
 * fp32 accumulation, fp32 residual stream and norms. Needs compute
 * capability >= 8.0. */

/* Test hook: run the attention kernels on random packed sequences of the
 * given lengths (heads x head_dim) on `device` and compare each with an fp64
 * host reference; *max_err_simple / *max_err_tc get the largest absolute
 * error of the CUDA-core kernel and of the tensor-core kernel (-1 when the
 * tensor-core kernel does not support head_dim). */
rerank_status_t rr_cuda_attention_selftest(int device, int heads, int head_dim, const int32_t *lens, size_t n,
                                           int bf16, double *max_err_simple, double *max_err_tc);

#ifdef __cplusplus
}
#endif
#endif
