// cuda_rt_host.cc — the few CUDA runtime calls the end of a pass makes (src/cuda/cuda_forward.cu,
// cuda_errors.cu), on the host, so that test_cuda_host runs the real chunk loop, workspace plan, tickets and
// fault handling, and cuda_weights.cu's upload, without a GPU. The "stream" runs everything at once, in order: a copy is a memcpy when
// enqueued, an event is complete when recorded, a launch (rr_rt_host_launch, which the test's launch
// functions go through) runs when made. A capture records the launches instead, and launching the graph
// replays them, so cuda_graph.cu runs as it is. Device memory is the heap, under a limit the test sets (out
// of memory on demand); a fault can be armed to hit the n-th event wait, after which every call returns it,
// as a sticky device error does; a capture can be made to fail.
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include <functional>
#include <map>
#include <vector>

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
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered (host run)";
    case cudaErrorMemoryAllocation: return "out of memory (host run)";
    default: return "error (host run)";
    }
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

// ---- device memory: the heap under a limit ---------------------------------------------------------------

namespace {
std::map<void *, size_t> g_dev; // live device allocations and their sizes
}

extern "C" {

cudaError_t cudaMalloc(void **p, size_t n) {
    *p = NULL;
    if (g_rt.sticky) return g_rt.sticky;
    if (g_rt.dev_limit && g_rt.dev_bytes + n > g_rt.dev_limit) return cudaErrorMemoryAllocation;
    *p = calloc(1, n ? n : 1);
    if (!*p) return cudaErrorMemoryAllocation;
    g_dev[*p] = n;
    g_rt.dev_bytes += n;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    auto it = g_dev.find(p);
    if (it == g_dev.end()) return cudaErrorInvalidValue;
    g_rt.dev_bytes -= it->second;
    g_dev.erase(it);
    free(p);
    return cudaSuccess;
}

} // extern "C"

// ---- graphs: a capture records each launch (with its arguments by value), a launch of the graph replays
// them in order ------------------------------------------------------------------------------------------

struct CUgraph_st {
    std::vector<std::function<rerank_status_t()>> ops;
};
struct CUgraphExec_st {
    std::vector<std::function<rerank_status_t()>> ops;
};

namespace {
CUgraph_st *g_capture; // the graph being captured (one capture at a time: they happen under the model lock)
}

rerank_status_t rr_rt_host_launch(std::function<rerank_status_t()> work) {
    if (g_rt.sticky) return rr_error(RERANK_ERR_INTERNAL, "host run: %s", cudaGetErrorString(g_rt.sticky));
    if (g_capture) {
        g_capture->ops.push_back(std::move(work));
        g_rt.captured++;
        return RERANK_OK;
    }
    return work();
}

extern "C" {

cudaError_t cudaStreamBeginCapture(cudaStream_t s, enum cudaStreamCaptureMode mode) {
    (void)s, (void)mode;
    if (g_capture) return cudaErrorIllegalState;
    if (g_rt.fail_capture) return cudaErrorStreamCaptureUnsupported;
    g_capture = new CUgraph_st;
    return g_rt.sticky;
}

cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *g) {
    (void)s;
    *g = g_capture;
    g_capture = NULL;
    return *g ? cudaSuccess : cudaErrorIllegalState;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *e, cudaGraph_t g, unsigned long long flags) {
    (void)flags;
    *e = new CUgraphExec_st{g->ops};
    g_rt.graphs_live++;
    return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s) {
    (void)s;
    if (g_rt.sticky) return g_rt.sticky;
    g_rt.graph_launches++;
    for (auto &op : e->ops)
        if (op() != RERANK_OK) return cudaErrorLaunchFailure;
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
    delete e;
    g_rt.graphs_live--;
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t g) {
    delete g;
    return cudaSuccess;
}

} // extern "C"

// ---- a context for the real end of a pass --------------------------------------------------------------

void rr_rt_host_ctx_init(rr_cuda_t *c) {
    if (rr_cu_tickets_init(c)) abort(); // (a host mutex: nothing to test when it cannot be made)
    c->stream = (cudaStream_t)&g_rt; // any non-null handle: the host stream
}

// As rr_cuda_free gives them back (cuda_context.cu is not compiled for the host).
void rr_rt_host_ctx_release(rr_cuda_t *c) {
    rr_cu_pass_buffers_free(c, 1);
    rr_cu_tickets_destroy(c);
}
