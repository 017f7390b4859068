/* cuda_backend.h — the optional CUDA backend: an encoder forward pass on one
 * NVIDIA GPU in fp16 (or bf16) with fp32 accumulation, fp32 residual stream
 * and fp32 LayerNorm / softmax / head.
 *
 * Built with `make CUDA=1` (the .cu files of src/cuda, linked against cudart and
 * cuBLASLt); the default build compiles src/cuda/cuda_stub.c instead, where
 * rr_cuda_available() is 0 and rr_cuda_create fails with
 * RERANK_ERR_UNSUPPORTED. Both define every function below, so callers need
 * no #ifdef.
 *
 * Threading: an rr_cuda_t is not thread-safe; the engine serializes calls on
 * a model (its model lock). Any thread may make the calls (each call selects
 * the context's device first). */
#ifndef RR_CUDA_BACKEND_H
#define RR_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "model/config.h"
#include "model/weights.h"
#include "rerank.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rr_cuda rr_cuda_t;

/* Number of usable CUDA devices; 0 if none, if the driver is missing or too
 * old, or in a build without CUDA. Never fails. */
int rr_cuda_available(void);

/* Upload the weights of `w` (described by `cfg`) to device `device` and get
 * a context ready to score. precision: RERANK_PRECISION_FP32 computes in
 * fp16 (fp32 accumulation), RERANK_PRECISION_BF16 in bf16; INT8 is
 * unsupported. `w` is only read during the call (the host copy may be freed
 * afterwards). Needs compute capability >= 8.0. */
rerank_status_t rr_cuda_create(const rr_config_t *cfg, const rr_weights_t *w, int device,
                               rerank_precision_t precision, rr_cuda_t **out);

/* Logits of n_pairs pairs (packed: no padding) through the first `layers`
 * layers (0 = all). Pairs are validated (ids < vocab, type ids < type_vocab,
 * 1 <= n <= usable positions). One host-to-device copy in, one
 * device-to-host copy out; the device workspace grows to the largest batch
 * seen. The caller bounds the batch (the engine splits at RR_CHUNK_TOKENS). */
rerank_status_t rr_cuda_forward(rr_cuda_t *c, const rerank_pair_t *pairs, size_t n_pairs, int32_t layers,
                                float *logits);

void rr_cuda_free(rr_cuda_t *c); /* NULL is a no-op */

/* What the GEMMs compute in: "fp16" or "bf16" ("" for NULL). */
const char *rr_cuda_compute(const rr_cuda_t *c);

/* "NVIDIA H100 80GB HBM3" etc. ("" for NULL). */
const char *rr_cuda_device_name(const rr_cuda_t *c);

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
