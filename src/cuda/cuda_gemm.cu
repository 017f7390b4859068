/* cuda_gemm.cu — linear layers through cuBLASLt.
 *
 * Row-major y[n, out] = x[n, in] W^T with W [out, in] (PyTorch layout) is, in cuBLASLt's column-major
 * terms, D (out x n, ld out) = op(A) B with A = W seen as a column-major [in x out] matrix (ld in) and
 * op = T, and B = x seen as column-major [in x n] (ld in), op = N: the "TN" layout, which FP8 requires and
 * the tensor-core kernels prefer. The bias epilogue adds bias[out] to every column of D, i.e. every row of y.
 *
 * Types: A and B fp16 / bf16 with fp32 compute, D fp16 / bf16 (bias of the same type) or fp32 (no bias:
 * the residual layers add their fp32 bias in the normalization kernel). FP8: A and B E4M3 with outer-vector
 * scaling (CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F): a float per output channel of W (A, length M = out)
 * and per token of x (B, length N = n), D[i][j] = scale_a[i] scale_b[j] sum_k a[i][k] b[k][j]; D fp16 with
 * an fp16 bias, or fp32. Where the library has no such kernel (older cuBLASLt, GPUs below sm_89) the
 * heuristic finds nothing and rr_cu_gemm_prepare reports it.
 *
 * cuBLASLt's GELU epilogues use the tanh approximation, whereas BERT / XLM-R use the exact erf GELU, so the
 * FFN-up layer has no epilogue and rr_cu_bias_act adds the bias and applies the exact GELU in one pass.
 *
 * Plans (descriptor, layouts, algorithm from cublasLtMatmulAlgoGetHeuristic) are cached per (shape, types,
 * bias, tokens), RR_GEMM_CACHE of them, replaced round robin. Per call only the pointers (bias, scales) are
 * set on the plan's descriptor, which cuBLASLt reads when the call is enqueued (graph capture included). */
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"

#define RR_LT_WORKSPACE (32u << 20) /* NVIDIA recommends 32 MiB on Hopper */

rerank_status_t rr_cu_gemm_init(rr_cu_gemm_t *g) {
    memset(g, 0, sizeof *g);
    CUBLAS(cublasLtCreate(&g->lt));
    g->ws_size = RR_LT_WORKSPACE;
    CU(cudaMalloc(&g->ws, g->ws_size));
    const char *fast = getenv("RERANK_CUDA_FP8_FAST");
    g->fp8_fast = fast && !strcmp(fast, "1");
    return RERANK_OK;
}

static void drop_plan(rr_cu_plan_t *p) {
    if (p->a) cublasLtMatrixLayoutDestroy(p->a);
    if (p->b) cublasLtMatrixLayoutDestroy(p->b);
    if (p->c) cublasLtMatrixLayoutDestroy(p->c);
    if (p->desc) cublasLtMatmulDescDestroy(p->desc);
    memset(p, 0, sizeof *p);
}

void rr_cu_gemm_destroy(rr_cu_gemm_t *g) {
    for (int i = 0; i < RR_GEMM_CACHE; i++) drop_plan(&g->plan[i]);
    if (g->ws) cudaFree(g->ws);
    if (g->lt) cublasLtDestroy(g->lt);
    memset(g, 0, sizeof *g);
}

static int same(const rr_cu_plan_t *p, const rr_cu_linear_t *L, int64_t n) {
    return p->n == n && p->out == L->out && p->in == L->in && p->in_dt == L->in_dt && p->out_dt == L->out_dt &&
           p->bias == (L->bias != NULL);
}

static rerank_status_t build(rr_cu_gemm_t *g, rr_cu_plan_t *p, const rr_cu_linear_t *L, int64_t n) {
    const int fp8 = L->in_dt == RR_CU_E4M3;
    CUBLAS(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    const cublasLtEpilogue_t epi = L->bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    CUBLAS(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CUBLAS(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    CUBLAS(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    if (fp8) {
        const int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
        CUBLAS(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof mode));
        CUBLAS(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof mode));
        const int8_t fast = (int8_t)g->fp8_fast;
        CUBLAS(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast));
    }
    const cudaDataType_t ab = rr_cu_cuda_type(L->in_dt), cd = rr_cu_cuda_type(L->out_dt);
    CUBLAS(cublasLtMatrixLayoutCreate(&p->a, ab, (uint64_t)L->in, (uint64_t)L->out, L->in));
    CUBLAS(cublasLtMatrixLayoutCreate(&p->b, ab, (uint64_t)L->in, (uint64_t)n, L->in));
    CUBLAS(cublasLtMatrixLayoutCreate(&p->c, cd, (uint64_t)L->out, (uint64_t)n, L->out));

    cublasLtMatmulPreference_t pref;
    CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t wsz = g->ws_size;
    cublasStatus_t s =
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsz, sizeof wsz);
    cublasLtMatmulHeuristicResult_t res;
    memset(&res, 0, sizeof res);
    int found = 0;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulAlgoGetHeuristic(g->lt, p->desc, p->a, p->b, p->c, p->c, pref, 1, &res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if ((s == CUBLAS_STATUS_SUCCESS && found < 1) || s == CUBLAS_STATUS_NOT_SUPPORTED)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cublasLt %d: no %s GEMM for %lld x %d x %d (%s output%s)",
                        (int)cublasLtGetVersion(), fp8 ? "FP8 (E4M3, per-channel x per-token scales)" : "fp16/bf16",
                        (long long)n, (int)L->out, (int)L->in, L->out_dt == RR_CU_F32 ? "fp32" : "16-bit",
                        L->bias ? ", bias" : "");
    if (s != CUBLAS_STATUS_SUCCESS) return rr_cublas_fail(s, "cublasLtMatmulAlgoGetHeuristic");
    p->algo = res.algo;
    return RERANK_OK;
}

static rerank_status_t lookup(rr_cu_gemm_t *g, const rr_cu_linear_t *L, int64_t n, rr_cu_plan_t **out) {
    for (int i = 0; i < RR_GEMM_CACHE; i++)
        if (same(&g->plan[i], L, n)) {
            *out = &g->plan[i];
            return RERANK_OK;
        }
    rr_cu_plan_t *p = &g->plan[g->next];
    g->next = (g->next + 1) % RR_GEMM_CACHE;
    drop_plan(p); /* n = 0 (empty) until complete */
    rerank_status_t st = build(g, p, L, n);
    if (st) {
        drop_plan(p);
        return st;
    }
    p->out = L->out;
    p->in = L->in;
    p->in_dt = L->in_dt;
    p->out_dt = L->out_dt;
    p->bias = L->bias != NULL;
    p->n = n;
    *out = p;
    return RERANK_OK;
}

rerank_status_t rr_cu_gemm_prepare(rr_cu_gemm_t *g, const rr_cu_linear_t *L, int64_t n) {
    rr_cu_plan_t *p;
    return n > 0 ? lookup(g, L, n, &p) : RERANK_OK;
}

rerank_status_t rr_cu_linear(rr_cu_gemm_t *g, const rr_cu_linear_t *L, int64_t n, const rr_cu_mat_t *x, void *y,
                             cudaStream_t s) {
    if (n <= 0) return RERANK_OK;
    if (x->dt != L->in_dt || (L->bias && L->out_dt == RR_CU_F32) || (L->in_dt == RR_CU_E4M3 && (!x->scale || !L->w_scale)))
        return rr_error(RERANK_ERR_INTERNAL, "cuda: linear layer %d x %d: input type or scales do not match",
                        (int)L->out, (int)L->in);
    rr_cu_plan_t *p;
    rerank_status_t st = lookup(g, L, n, &p);
    if (st) return st;
    if (L->bias) CUBLAS(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &L->bias, sizeof L->bias));
    if (L->in_dt == RR_CU_E4M3) {
        CUBLAS(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &L->w_scale, sizeof L->w_scale));
        CUBLAS(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &x->scale, sizeof x->scale));
    }
    const float alpha = 1.0f, beta = 0.0f;
    CUBLAS(cublasLtMatmul(g->lt, p->desc, &alpha, L->w, p->a, x->data, p->b, &beta, y, p->c, y, p->c, &p->algo, g->ws,
                          g->ws_size, s));
    g->launches++;
    return RERANK_OK;
}
