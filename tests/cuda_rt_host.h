// cuda_rt_host.h — the host CUDA runtime of test_cuda_host (cuda_rt_host.cc): what it counts and the faults
// a test arms.
#ifndef RR_TESTS_CUDA_RT_HOST_H
#define RR_TESTS_CUDA_RT_HOST_H

#include <cuda_runtime_api.h>
#include <stddef.h>

struct rr_cuda;

typedef struct rr_rt_host {
    size_t dev_limit;      // device bytes before "out of memory" (0: none)
    size_t dev_bytes;      // held now (cudaMalloc)
    int fault_at_wait;     // > 0: the n-th event wait hits a sticky device error
    int waits;             // event waits so far (counted while a fault is armed)
    cudaError_t sticky;    // after the fault: every call returns it
    long copies_in;        // host-to-device copies (one per chunk)
    long syncs;            // stream synchronizations
    int fail_capture;      // 1: cudaStreamBeginCapture fails (as under another thread's global capture)
    long captured;         // launches recorded into graphs
    long graph_launches;   // graphs launched
    long graphs_live;      // instantiated, not destroyed
} rr_rt_host_t;

extern rr_rt_host_t g_rt;

#ifdef __cplusplus
#include <functional>

#include "rerank.h"
// A launch of the test's launch functions: run now, or recorded while a graph is captured.
rerank_status_t rr_rt_host_launch(std::function<rerank_status_t()> work);
#endif

// A zeroed context made ready for cuda_forward.cu (mutex, ticket condition, stream handle), and everything the
// end of a pass allocated in it released.
void rr_rt_host_ctx_init(struct rr_cuda *c);
void rr_rt_host_ctx_release(struct rr_cuda *c);

#endif
