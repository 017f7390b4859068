/* cuda_errors.cu — CUDA / cuBLASLt failures as rerank errors, and the context's health after one. */
#include <stdio.h>

#include "cuda/cuda_ctx.h"

rerank_status_t rr_cu_fail(cudaError_t e, const char *call) {
    return rr_error(e == cudaErrorMemoryAllocation ? RERANK_ERR_NOMEM : RERANK_ERR_INTERNAL, "cuda: %s: %s", call,
                    cudaGetErrorString(e));
}

rerank_status_t rr_cublas_fail(cublasStatus_t s, const char *call) {
    return rr_error(s == CUBLAS_STATUS_ALLOC_FAILED ? RERANK_ERR_NOMEM
                    : s == CUBLAS_STATUS_NOT_SUPPORTED ? RERANK_ERR_UNSUPPORTED
                                                       : RERANK_ERR_INTERNAL,
                    "cublasLt: %s: %s (%d)", call, cublasLtGetStatusString(s), (int)s);
}

/* A sticky error (illegal address, launch failure, ECC, ...) corrupts the CUDA context: every later call
 * returns it, so a stream synchronize after clearing the last (non-sticky) error tells them apart. */
rerank_status_t rr_cu_note_failure(rr_cuda_t *c, rerank_status_t st) {
    if (!c->healthy) return st;
    (void)cudaGetLastError();
    const cudaError_t e = c->stream ? cudaStreamSynchronize(c->stream) : cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        c->healthy = 0;
        snprintf(c->fault, sizeof c->fault, "%s", cudaGetErrorString(e));
    }
    return st;
}
