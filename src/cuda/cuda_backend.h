/* cuda_backend.h — the optional CUDA backend: an encoder forward pass on one
 * NVIDIA GPU in fp16 (or bf16, or FP8 linear layers) with fp32 accumulation,
 * fp32 residual stream and fp32 LayerNorm / softmax / head.
 *
 * Built with `make CUDA=1` (the .cu files of src/cuda, linked against cudart and
 * cuBLASLt); the default build compiles src/cuda/cuda_stub.c instead, where
 * rr_cuda_available() is 0 and rr_blocks_cuda.create fails with
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

#include "engine/blocks.h"
#include "model/config.h"
#include "model/weights.h"
#include "rerank.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rr_cuda rr_cuda_t;

/* Free a context (rr_blocks_cuda.destroy); NULL is a no-op. */
void rr_cuda_free(rr_cuda_t *c);

/* Number of usable CUDA devices; 0 if none, if the driver is missing or too
 * old, or in a build without CUDA. Never fails. */
int rr_cuda_available(void);

/* The backend itself is rr_blocks_cuda (engine/blocks.h): rerank_model_load
 * with device "cuda" / "cuda:N" creates it; its state (rerank_model_t.be) is
 * an rr_cuda_t, which the queries below take.
 *
 * create uploads every linear layer of the weights (w->dense) to the device
 * at the precision asked: RERANK_PRECISION_FP32 and _FP16 compute in fp16
 * (fp32 accumulation), _BF16 in bf16, _FP8 runs the linear layers in FP8
 * E4M3 (per-channel weight and per-token activation scales; compute
 * capability 8.9+) with fp16 activations; INT8 is unsupported. It drops the
 * host copies of the layers it uploaded. Norms, embedding tables and the
 * classifier, which the family names only in its block calls, are uploaded
 * by the first forward pass that uses them. Needs compute capability 8.0+.
 *
 * A forward pass records the family's blocks (begin .. classify) and runs
 * them at end: in chunks of whole pairs, packed without padding, small
 * chunks as CUDA graphs. A batch that does not fit in device memory is split
 * further (only a single pair that does not fit fails, RERANK_ERR_NOMEM). A
 * device fault is RERANK_ERR_INTERNAL and leaves the backend unhealthy. */


/* What the linear layers compute in: "fp16", "bf16" or "fp8" ("" for NULL). */
const char *rr_cuda_compute(const rr_cuda_t *c);

/* "NVIDIA H100 80GB HBM3" etc. ("" for NULL). */
const char *rr_cuda_device_name(const rr_cuda_t *c);

/* 1 while the context can compute; 0 after a sticky device error (illegal
 * address, ECC, ...: every later call fails; reload the model) and for NULL. */
int rr_cuda_healthy(const rr_cuda_t *c);

/* Bytes of device memory this context holds (weights, workspaces). */
size_t rr_cuda_memory_used(const rr_cuda_t *c);

/* Kernel, GEMM and graph launches enqueued so far (a CUDA graph counts once). */
long rr_cuda_launch_count(const rr_cuda_t *c);

/* ---- test hooks (tests/test_cuda.c) ---- */

/* An attention problem for the self-tests: heads / kv_heads of head_dim,
 * causal, window (-1: none), bf16 (else fp16), impl (0 flash, 1 flash with
 * 8 warps, 2 legacy WMMA, 3 CUDA cores). */
typedef struct rr_cuda_attn_case {
    int heads, kv_heads, head_dim, causal, window, bf16, impl;
} rr_cuda_attn_case_t;

/* Run the attention kernel on random packed sequences of the given lengths
 * on `device` and compare with a float64 host reference: *max_err is the
 * largest absolute error (inputs uniform in [-2, 2)). */
rerank_status_t rr_cuda_attention_selftest(int device, const rr_cuda_attn_case_t *t, const int32_t *lens, size_t n,
                                           double *max_err);

/* Time the attention kernel on packed sequences of the given lengths: the
 * median of `reps` runs in milliseconds (CUDA events). */
rerank_status_t rr_cuda_attention_bench(int device, const rr_cuda_attn_case_t *t, const int32_t *lens, size_t n,
                                        int reps, double *ms);

/* The row kernels (residual + LayerNorm, RMSNorm, bias + GELU, gated GELU /
 * SiLU, FP8 outputs, embeddings) on `device` against float64 references:
 * *worst is the largest error / tolerance over all of them (<= 1 passes);
 * one line per check goes to report. */
rerank_status_t rr_cuda_rows_selftest(int device, int bf16, char *report, size_t cap, double *worst);

/* FP8 GEMM y = x W^T through the context's path (E4M3 with per-token and
 * per-channel scales, or per-tensor weight scales when tensor_w) on random
 * x [n, in], W [out, in]: *err_q is the error against the float64 product of
 * the dequantized inputs (the GEMM itself), *err_full against the float64
 * product of the original inputs (quantization included), both relative to
 * the rms of the product. */
rerank_status_t rr_cuda_fp8_gemm_selftest(int device, int n, int out, int in, int tensor_w, double *err_q,
                                          double *err_full);

/* cuBLASLt GEMM rate for m x n x k (fp16, bf16 or fp8 inputs: 0, 1, 2), TFLOP/s. */
rerank_status_t rr_cuda_gemm_bench(int device, int type, int m, int n, int k, double *tflops);

/* Make the context's device hit a fault (a kernel writing to an invalid
 * address): for testing rr_cuda_healthy. The context (and every other one on
 * that device in this process) is unusable afterwards. */
rerank_status_t rr_cuda_inject_fault(rr_cuda_t *c);

#ifdef __cplusplus
}
#endif
#endif
