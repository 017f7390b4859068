// cuda_rt_host.cc — the few CUDA runtime calls the end of a pass makes (src/cuda/cuda_forward.cu,
// cuda_errors.cu), on the host, so that test_cuda_host runs the real chunk loop, workspace plan, tickets and
// fault handling without a GPU. The "stream" runs everything at once, in order: a copy is a memcpy when
// enqueued, an event is complete when recorded. Device memory is the heap, under a limit the test sets
// (out of memory on demand); a fault can be armed to hit the n-th event wait, after which every call returns
// it, as a sticky device error does. Graphs are off (rr_cu_graph_bucket says no): capture needs a device.
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_ctx.h"
#include "cuda_rt_host.h"

rr_rt_host_t g_rt;

extern "C" {

cudaError_t cudaSetDevice(int device) {
    (void)device;
    return g_rt.sticky;
}

cudaError_t cudaGetLastError(void) { return g_rt.sticky; }

const char *cudaGetErrorString(cudaError_t e) {
    return e == cudaSuccess ? "no error" : e == cudaErrorIllegalAddress ? "an illegal memory access was encountered (host run)"
                                                                        : "error (host run)";
}

cudaError_t cudaDeviceSynchronize(void) { return g_rt.sticky; }

cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    (void)s;
    g_rt.syncs++;
    return g_rt.sticky;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    (void)e, (void)s;
    return g_rt.sticky;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    (void)e;
    if (g_rt.fault_at_wait && ++g_rt.waits == g_rt.fault_at_wait) g_rt.sticky = cudaErrorIllegalAddress;
    return g_rt.sticky;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind, cudaStream_t s) {
    (void)s;
    if (g_rt.sticky) return g_rt.sticky;
    if (kind == cudaMemcpyHostToDevice) g_rt.copies_in++;
    memcpy(dst, src, n);
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t n) {
    *p = malloc(n ? n : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFreeHost(void *p) {
    free(p);
    return cudaSuccess;
}

const char *cublasLtGetStatusString(cublasStatus_t s) {
    (void)s;
    return "cublasLt (host run)";
}

} // extern "C"

// ---- device memory (cuda_weights.cu's accounting) and graphs (cuda_graph.cu): host stand-ins -------------

rerank_status_t rr_cu_malloc(rr_cuda_t *c, void **p, size_t bytes, const char *what) {
    *p = NULL;
    if (g_rt.dev_limit && g_rt.dev_bytes + bytes > g_rt.dev_limit)
        return rr_error(RERANK_ERR_NOMEM, "cuda: out of memory allocating %zu bytes for %s (host run limit)", bytes,
                        what);
    *p = calloc(1, bytes ? bytes : 1);
    if (!*p) return rr_error(RERANK_ERR_NOMEM, "out of memory for %s", what);
    g_rt.dev_bytes += bytes;
    c->dev_bytes += bytes;
    return RERANK_OK;
}

void rr_cu_free(rr_cuda_t *c, void *p, size_t bytes) {
    if (!p) return;
    free(p);
    g_rt.dev_bytes -= bytes;
    c->dev_bytes -= bytes;
}

int rr_cu_graph_bucket(const rr_cuda_t *c, int64_t T, int64_t P, int32_t max_n, int64_t *bT, int64_t *bP,
                       int32_t *bmax_n) {
    (void)c, (void)T, (void)P, (void)max_n, (void)bT, (void)bP, (void)bmax_n;
    return 0;
}

rerank_status_t rr_cu_graph_run(rr_cuda_t *c, int64_t bT, int64_t bP, int32_t bmax_n) {
    (void)c, (void)bT, (void)bP, (void)bmax_n;
    return rr_error(RERANK_ERR_INTERNAL, "host run: no graphs");
}

void rr_cu_graphs_clear(rr_cuda_t *c) { (void)c; }

// ---- a context for the real end of a pass --------------------------------------------------------------

void rr_rt_host_ctx_init(rr_cuda_t *c) {
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->tk_free, NULL);
    c->mu_ready = 1;
    c->stream = (cudaStream_t)&g_rt; // any non-null handle: the host stream
}

void rr_rt_host_ctx_release(rr_cuda_t *c) {
    rr_cu_ws_release(c);
    for (int i = 0; i < 2; i++) cudaFreeHost(c->h_in[i]);
    for (int i = 0; i < RR_CU_TICKETS; i++) {
        cudaFreeHost(c->tk[i].h_logits);
        rr_free(c->tk[i].idx);
    }
    rr_free(c->chunk_mark);
    pthread_cond_destroy(&c->tk_free);
    pthread_mutex_destroy(&c->mu);
    c->mu_ready = 0;
}
