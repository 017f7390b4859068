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
 * returns it, so a stream synchronize after clearing the last (non-sticky) error tells them apart. Called
 * with or without the model lock (a pass's wait runs without it): mu orders the fault message before the
 * health readers see 0. */
rerank_status_t rr_cu_note_failure(rr_cuda_t *c, rerank_status_t st) {
    if (!__atomic_load_n(&c->healthy, __ATOMIC_ACQUIRE)) return st;
    (void)cudaGetLastError();
    const cudaError_t e = c->stream ? cudaStreamSynchronize(c->stream) : cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        if (c->mu_ready) pthread_mutex_lock(&c->mu);
        if (__atomic_load_n(&c->healthy, __ATOMIC_ACQUIRE)) {
            snprintf(c->fault, sizeof c->fault, "%s", cudaGetErrorString(e));
            __atomic_store_n(&c->healthy, 0, __ATOMIC_RELEASE);
        }
        if (c->mu_ready) pthread_mutex_unlock(&c->mu);
    }
    return st;
}
