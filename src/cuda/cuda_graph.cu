/* cuda_graph.cu — small chunks (up to RR_CU_GRAPH_MAX_TOKENS tokens) run as CUDA graphs: a forward pass is
 * 2 + 8 * layers launches (194 for a 24-layer model), whose launch cost (a few microseconds each) is most of
 * the time of a small batch; one graph launch replaces them.
 *
 * A graph is captured once per bucketed shape and recorded steps (the same family, layers and precision
 * record the same steps: rr_cu_tape_sig) and reused: tokens rounded up to a power of two (16 .. 128),
 * then to a multiple of 128; pairs to a power of two; the longest pair to a multiple of 64 (the attention
 * kernel's query tile; it only sizes the grid). The caller packs the padding (cuda_forward.cu): extra
 * tokens belong to no pair (their rows are computed and ignored; no kernel mixes rows of different pairs),
 * extra pairs are empty (logit 0). Graphs hold the workspace's addresses: rr_cu_graphs_clear drops them
 * when it moves. RR_CU_GRAPHS graphs are kept, the least recently used one is replaced. RERANK_CUDA_GRAPHS=0
 * turns graphs off (c->use_graphs). */
#include <string.h>

#include "cuda/cuda_ctx.h"

static int64_t pow2_at_least(int64_t v, int64_t lo) {
    int64_t p = lo;
    while (p < v) p *= 2;
    return p;
}

int rr_cu_graph_bucket(const rr_cuda_t *c, int64_t T, int64_t P, int32_t max_n, int64_t *bT, int64_t *bP,
                       int32_t *bmax_n) {
    if (!c->use_graphs || T > RR_CU_GRAPH_MAX_TOKENS) return 0;
    *bT = T <= 128 ? pow2_at_least(T, 16) : (T + 127) / 128 * 128;
    *bP = pow2_at_least(P, 1);
    *bmax_n = (max_n + 63) / 64 * 64;
    return 1;
}

void rr_cu_graphs_clear(rr_cuda_t *c) {
    for (int i = 0; i < RR_CU_GRAPHS; i++) {
        if (c->graph[i].exec) cudaGraphExecDestroy(c->graph[i].exec);
        memset(&c->graph[i], 0, sizeof c->graph[i]);
    }
}

static rerank_status_t capture(rr_cuda_t *c, int64_t T, int64_t P, int32_t max_n, cudaGraphExec_t *exec) {
    /* GEMM plans first: the heuristic query is not something to do inside a capture */
    rerank_status_t st = rr_cu_run_chunk(c, T, P, max_n, 1);
    if (st) return st;
    /* and the passes queued before it done: while the stream captures, their waits (other threads,
     * rr_cu_wait) must find nothing left to synchronize on it (a capture happens once per shape) */
    CU(cudaStreamSynchronize(c->stream));
    CU(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
    const long launches = c->launches, gemms = c->gemm.launches;
    st = rr_cu_run_chunk(c, T, P, max_n, 0);
    c->launches = launches; /* captured, not launched */
    c->gemm.launches = gemms;
    cudaGraph_t g = NULL;
    const cudaError_t e = cudaStreamEndCapture(c->stream, &g);
    if (!st && e != cudaSuccess) st = rr_cu_fail(e, "cudaStreamEndCapture");
    if (!st) {
        const cudaError_t ei = cudaGraphInstantiate(exec, g, 0);
        if (ei != cudaSuccess) st = rr_cu_fail(ei, "cudaGraphInstantiate");
    }
    if (g) cudaGraphDestroy(g);
    return st;
}

rerank_status_t rr_cu_graph_run(rr_cuda_t *c, int64_t bT, int64_t bP, int32_t bmax_n) {
    const uint64_t sig = rr_cu_tape_sig(c);
    rr_cu_graph_t *slot = NULL, *lru = &c->graph[0];
    for (int i = 0; i < RR_CU_GRAPHS && !slot; i++) {
        rr_cu_graph_t *g = &c->graph[i];
        if (g->exec && g->T == bT && g->P == bP && g->max_n == bmax_n && g->sig == sig) slot = g;
        else if (!g->exec || (lru->exec && g->used < lru->used)) lru = g;
    }
    if (!slot) {
        cudaGraphExec_t exec = NULL;
        rerank_status_t st = capture(c, bT, bP, bmax_n, &exec);
        if (st) return st;
        if (lru->exec) cudaGraphExecDestroy(lru->exec);
        slot = lru;
        slot->T = bT;
        slot->P = bP;
        slot->max_n = bmax_n;
        slot->sig = sig;
        slot->exec = exec;
    }
    slot->used = ++c->graph_clock;
    CU(cudaGraphLaunch(slot->exec, c->stream));
    c->launches++;
    return RERANK_OK;
}
