/* cuda_gemm.cu — the linear layers through cuBLASLt.
 *
 * Row-major y[n, out] = x[n, in] W^T with W [out, in] (PyTorch layout) is,
 * in cuBLASLt's column-major terms, D (out x n, ld out) = op(A) B with
 * A = W seen as a column-major [in x out] matrix (ld in) and op = T, and
 * B = x seen as column-major [in x n] (ld in), op = N (the "TN" layout the
 * tensor-core kernels prefer). The bias epilogue adds bias[out] to every
 * column of D, i.e. to every row of y.
 *
 * A, B: fp16 or bf16; compute and scale fp32. QKV and FFN-up write dt with a
 * dt bias (cuBLASLt's bias type follows D's type). The attention-output and
 * FFN-down projections write the fp32 residual stream in place with
 * beta = 1 (C == D, which cuBLASLt allows with identical layouts), so the
 * residual add is fused and done in fp32, with an fp32 bias.
 *
 * cuBLASLt's GELU epilogues use the tanh approximation (PyTorch's fused
 * addmm+GELU path is documented as tanh-approximate for that reason, see
 * pytorch/pytorch#104061), whereas BERT / XLM-R use the exact erf GELU: FFN-up
 * therefore uses the bias-only epilogue and rr_cu_gelu (cuda_kernels.cu)
 * applies the exact GELU in fp32 afterwards.
 *
 * Algorithms come from cublasLtMatmulAlgoGetHeuristic once per (kind, n)
 * and are cached with their layouts (RR_GEMM_CACHE token counts per kind,
 * round robin). */
#include <string.h>

#include "cuda/cuda_internal.h"

#define RR_LT_WORKSPACE (32u << 20) /* NVIDIA recommends 32 MiB on Hopper */

rerank_status_t rr_cublas_fail(cublasStatus_t s, const char *call) {
    return rr_error(RERANK_ERR_INTERNAL, "cublasLt: %s: %s (%d)", call, cublasLtGetStatusString(s), (int)s);
}

static int accumulates(int k) { return k == RR_GEMM_OUT || k == RR_GEMM_DOWN; }

static rr_cu_dtype_t out_type(const rr_cu_gemm_t *g, int k) { return accumulates(k) ? RR_CU_F32 : g->dt; }

rerank_status_t rr_cu_gemm_init(rr_cu_gemm_t *g, rr_cu_dtype_t dt, int32_t hidden, int32_t ffn) {
    memset(g, 0, sizeof *g);
    g->dt = dt;
    CUBLAS(cublasLtCreate(&g->lt));
    g->ws_size = RR_LT_WORKSPACE;
    CU(cudaMalloc(&g->ws, g->ws_size));
    const int32_t outs[RR_GEMM_KINDS] = {3 * hidden, hidden, ffn, hidden};
    const int32_t ins[RR_GEMM_KINDS] = {hidden, hidden, hidden, ffn};
    for (int k = 0; k < RR_GEMM_KINDS; k++) {
        g->out[k] = outs[k];
        g->in[k] = ins[k];
        CUBLAS(cublasLtMatmulDescCreate(&g->desc[k], CUBLAS_COMPUTE_32F, CUDA_R_32F));
        cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
        cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        CUBLAS(cublasLtMatmulDescSetAttribute(g->desc[k], CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
        CUBLAS(cublasLtMatmulDescSetAttribute(g->desc[k], CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
        CUBLAS(cublasLtMatmulDescSetAttribute(g->desc[k], CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    }
    return RERANK_OK;
}

static void drop_entry(rr_cu_algo_entry_t *e) {
    if (e->a) cublasLtMatrixLayoutDestroy(e->a);
    if (e->b) cublasLtMatrixLayoutDestroy(e->b);
    if (e->c) cublasLtMatrixLayoutDestroy(e->c);
    memset(e, 0, sizeof *e);
}

void rr_cu_gemm_destroy(rr_cu_gemm_t *g) {
    for (int k = 0; k < RR_GEMM_KINDS; k++) {
        for (int i = 0; i < RR_GEMM_CACHE; i++) drop_entry(&g->cache[k][i]);
        if (g->desc[k]) cublasLtMatmulDescDestroy(g->desc[k]);
    }
    if (g->ws) cudaFree(g->ws);
    if (g->lt) cublasLtDestroy(g->lt);
    memset(g, 0, sizeof *g);
}

/* Find, or build, the cache entry of (kind, n). */
static rerank_status_t lookup(rr_cu_gemm_t *g, int k, int64_t n, rr_cu_algo_entry_t **entry) {
    for (int i = 0; i < RR_GEMM_CACHE; i++)
        if (g->cache[k][i].n == n) {
            *entry = &g->cache[k][i];
            return RERANK_OK;
        }
    rr_cu_algo_entry_t *e = &g->cache[k][g->next[k]];
    g->next[k] = (g->next[k] + 1) % RR_GEMM_CACHE;
    drop_entry(e); /* n = 0 until complete */
    const int32_t out = g->out[k], in = g->in[k];
    CUBLAS(cublasLtMatrixLayoutCreate(&e->a, rr_cu_cuda_type(g->dt), (uint64_t)in, (uint64_t)out, in));
    CUBLAS(cublasLtMatrixLayoutCreate(&e->b, rr_cu_cuda_type(g->dt), (uint64_t)in, (uint64_t)n, in));
    CUBLAS(cublasLtMatrixLayoutCreate(&e->c, rr_cu_cuda_type(out_type(g, k)), (uint64_t)out, (uint64_t)n, out));

    cublasLtMatmulPreference_t pref;
    CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t wsz = g->ws_size;
    cublasStatus_t s =
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsz, sizeof wsz);
    cublasLtMatmulHeuristicResult_t res;
    memset(&res, 0, sizeof res);
    int found = 0;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulAlgoGetHeuristic(g->lt, g->desc[k], e->a, e->b, e->c, e->c, pref, 1, &res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS) return rr_cublas_fail(s, "cublasLtMatmulAlgoGetHeuristic");
    if (found < 1)
        return rr_error(RERANK_ERR_INTERNAL, "cublasLt: no algorithm for a %lld x %d x %d GEMM", (long long)n,
                        (int)out, (int)in);
    e->algo = res.algo;
    e->n = n;
    *entry = e;
    return RERANK_OK;
}

rerank_status_t rr_cu_gemm(rr_cu_gemm_t *g, rr_cu_gemm_kind_t k, int64_t n, const void *x, const void *w,
                           const void *bias, void *y, cudaStream_t stream) {
    if (n <= 0) return RERANK_OK;
    rr_cu_algo_entry_t *e = NULL;
    rerank_status_t st = lookup(g, (int)k, n, &e);
    if (st) return st;
    /* The descriptor is read when the call is enqueued, so one descriptor
     * per kind with the bias pointer set per call is safe. */
    CUBLAS(cublasLtMatmulDescSetAttribute(g->desc[k], CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    const float alpha = 1.0f, beta = accumulates((int)k) ? 1.0f : 0.0f;
    CUBLAS(cublasLtMatmul(g->lt, g->desc[k], &alpha, w, e->a, x, e->b, &beta, y, e->c, y, e->c, &e->algo, g->ws,
                          g->ws_size, stream));
    return RERANK_OK;
}
