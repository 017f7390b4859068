/* cuda_forward.cu — one forward pass over a packed batch on the GPU.
 *
 *   host: validate, pack ids | type ids | position ids | cu_seqlens into one
 *         pinned buffer; one async copy to the device
 *   x32 = LN(word[id] + type[t] + pos[p]), xh = (dt)x32          embeddings
 *   per layer:
 *     qkv = xh Wqkv^T + bqkv                                     cuBLASLt, dt out
 *     ctx = attention(qkv) per sequence and head                 flash-style kernel
 *     x32 += ctx Wo^T + bo;  x32 = LN(x32), xh = (dt)x32         cuBLASLt fp32 residual
 *     ffn = gelu_erf(xh W1^T + b1)                               cuBLASLt + GELU kernel
 *     x32 += ffn W2^T + b2;  x32 = LN(x32), xh = (dt)x32
 *   logits = head(x32[first token of each pair])                fp32 kernel
 *   one async copy of the logits back, one stream synchronize.
 *
 * Everything is enqueued on the context's stream; the only host waits are
 * the final synchronize (and a synchronize before the workspace grows).
 * CUDA graphs are not used: the per-layer launches (8 per layer) cost a few
 * microseconds each, small next to a batch's GEMMs; a graph per (T, P)
 * shape would rarely be reused with variable-length batches. */
#include <string.h>

#include "cuda/cuda_internal.h"

/* Grow the workspace (device and pinned host) to T tokens and P pairs. */
static rerank_status_t reserve(rr_cuda_t *c, size_t T, size_t P) {
    if (T <= c->cap_tokens && P <= c->cap_pairs && c->ws) return RERANK_OK;
    size_t capT = T > c->cap_tokens ? T : c->cap_tokens, capP = P > c->cap_pairs ? P : c->cap_pairs;
    capT = (capT + 255) & ~(size_t)255; /* fewer regrowths for slowly growing batches */
    capP = (capP + 63) & ~(size_t)63;
    const size_t H = (size_t)c->cfg.hidden, I = (size_t)c->cfg.ffn, ds = rr_cu_dtype_size(c->dt);
    const size_t in_bytes = (3 * capT + capP + 1) * sizeof(int32_t);
    const size_t sz[7] = {rr_cu_align(in_bytes),          rr_cu_align(capT * H * 4),      rr_cu_align(capT * H * ds),
                          rr_cu_align(capT * 3 * H * ds), rr_cu_align(capT * H * ds),     rr_cu_align(capT * I * ds),
                          rr_cu_align(capP * sizeof(float))};
    size_t total = 0;
    for (int i = 0; i < 7; i++) total += sz[i];

    CU(cudaStreamSynchronize(c->stream));
    if (c->ws) cudaFree(c->ws);
    if (c->h_in) cudaFreeHost(c->h_in);
    if (c->h_logits) cudaFreeHost(c->h_logits);
    c->ws = NULL;
    c->h_in = NULL;
    c->h_logits = NULL;
    c->cap_tokens = c->cap_pairs = 0;
    cudaError_t e = cudaMalloc(&c->ws, total);
    if (e != cudaSuccess) {
        c->ws = NULL;
        return rr_error(e == cudaErrorMemoryAllocation ? RERANK_ERR_NOMEM : RERANK_ERR_INTERNAL,
                        "cuda: cudaMalloc(%zu bytes) for a batch of %zu tokens: %s", total, T, cudaGetErrorString(e));
    }
    if ((e = cudaMallocHost(&c->h_in, in_bytes)) != cudaSuccess ||
        (e = cudaMallocHost(&c->h_logits, capP * sizeof(float))) != cudaSuccess) {
        if (c->h_in) cudaFreeHost(c->h_in);
        c->h_in = NULL;
        c->h_logits = NULL;
        cudaFree(c->ws);
        c->ws = NULL;
        return rr_cu_fail(e, "cudaMallocHost");
    }
    char *p = (char *)c->ws;
    c->d_in = (int32_t *)p;  p += sz[0];
    c->x32 = (float *)p;     p += sz[1];
    c->xh = p;               p += sz[2];
    c->qkv = p;              p += sz[3];
    c->ctx = p;              p += sz[4];
    c->ffn = p;              p += sz[5];
    c->d_logits = (float *)p;
    c->cap_tokens = capT;
    c->cap_pairs = capP;
    return RERANK_OK;
}

static rerank_status_t check_pair(const rr_config_t *cfg, const rerank_pair_t *p, size_t i) {
    if (p->n < 1 || !p->ids)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "pair %zu: %d tokens or NULL ids", i, (int)p->n);
    if (p->n > cfg->usable_pos)
        return rr_error(RERANK_ERR_LIMIT, "pair %zu: %d tokens exceed the model's %d positions", i, (int)p->n,
                        (int)cfg->usable_pos);
    for (int32_t j = 0; j < p->n; j++) {
        if (p->ids[j] < 0 || p->ids[j] >= cfg->vocab)
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "pair %zu: token %d has id %d outside the vocabulary [0, %d)",
                            i, (int)j, (int)p->ids[j], (int)cfg->vocab);
        if (p->type_ids && (p->type_ids[j] < 0 || p->type_ids[j] >= cfg->type_vocab))
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "pair %zu: token %d has type id %d outside [0, %d)", i,
                            (int)j, (int)p->type_ids[j], (int)cfg->type_vocab);
    }
    return RERANK_OK;
}

/* ids | types | positions | cu_seqlens, as the CPU engine computes them:
 * BERT positions count from 0; RoBERTa counts non-padding tokens from
 * pad_id + 1 and gives padding tokens pad_id. */
static void pack(const rr_config_t *cfg, const rerank_pair_t *pairs, size_t P, size_t T, int32_t *h) {
    int32_t *ids = h, *types = h + T, *pos = h + 2 * T, *cu = h + 3 * T;
    size_t at = 0;
    for (size_t p = 0; p < P; p++) {
        const rerank_pair_t *pr = &pairs[p];
        cu[p] = (int32_t)at;
        int32_t count = 0;
        for (int32_t i = 0; i < pr->n; i++, at++) {
            ids[at] = pr->ids[i];
            types[at] = pr->type_ids ? pr->type_ids[i] : 0;
            if (cfg->arch == RR_ARCH_BERT) {
                pos[at] = i;
            } else {
                if (pr->ids[i] != cfg->pad_id) count++;
                pos[at] = pr->ids[i] != cfg->pad_id ? cfg->pad_id + count : cfg->pad_id;
            }
        }
    }
    cu[P] = (int32_t)at;
}

static rerank_status_t run(rr_cuda_t *c, size_t T, size_t P, int32_t max_n, int32_t layers) {
    const rr_config_t *cfg = &c->cfg;
    cudaStream_t s = c->stream;
    rerank_status_t st;
    CU(cudaMemcpyAsync(c->d_in, c->h_in, (3 * T + P + 1) * sizeof(int32_t), cudaMemcpyHostToDevice, s));
    c->ids = c->d_in;
    c->types = c->d_in + T;
    c->posi = c->d_in + 2 * T;
    c->cu = c->d_in + 3 * T;
    const int64_t n = (int64_t)T;
    if ((st = rr_cu_embed(c, n, s))) return st;
    for (int32_t l = 0; l < layers; l++) {
        const rr_cu_layer_t *L = &c->layer[l];
        if ((st = rr_cu_gemm(&c->gemm, RR_GEMM_QKV, n, c->xh, L->wqkv, L->bqkv, c->qkv, s)) ||
            (st = rr_cu_attention(c->qkv, c->ctx, c->cu, (int64_t)P, max_n, cfg->heads, cfg->head_dim, c->dt,
                                  c->attn_tc, s)) ||
            (st = rr_cu_gemm(&c->gemm, RR_GEMM_OUT, n, c->ctx, L->wo, L->bo, c->x32, s)) ||
            (st = rr_cu_layernorm(c, n, L->ln1_g, L->ln1_b, s)) ||
            (st = rr_cu_gemm(&c->gemm, RR_GEMM_UP, n, c->xh, L->w1, L->b1, c->ffn, s)) ||
            (st = rr_cu_gelu(c->ffn, c->dt, n * cfg->ffn, s)) ||
            (st = rr_cu_gemm(&c->gemm, RR_GEMM_DOWN, n, c->ffn, L->w2, L->b2, c->x32, s)) ||
            (st = rr_cu_layernorm(c, n, L->ln2_g, L->ln2_b, s)))
            return st;
    }
    if ((st = rr_cu_head(c, (int64_t)P, s))) return st;
    CU(cudaMemcpyAsync(c->h_logits, c->d_logits, P * sizeof(float), cudaMemcpyDeviceToHost, s));
    CU(cudaStreamSynchronize(s));
    return RERANK_OK;
}

extern "C" rerank_status_t rr_cuda_forward(rr_cuda_t *c, const rerank_pair_t *pairs, size_t n_pairs, int32_t layers,
                                           float *logits) {
    if (!c) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rr_cuda_forward: context is NULL");
    if (n_pairs == 0) return RERANK_OK;
    if (!pairs || !logits) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rr_cuda_forward: pairs or logits is NULL");
    const rr_config_t *cfg = &c->cfg;
    if (layers == 0) layers = cfg->layers;
    if (layers < 0 || layers > cfg->layers)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "layers = %d must be in [0, %d]", (int)layers, (int)cfg->layers);
    size_t T = 0;
    int32_t max_n = 0;
    rerank_status_t st;
    for (size_t p = 0; p < n_pairs; p++) {
        if ((st = check_pair(cfg, &pairs[p], p))) return st;
        T += (size_t)pairs[p].n;
        if (pairs[p].n > max_n) max_n = pairs[p].n;
    }
    if (T > (size_t)INT32_MAX / 4 || n_pairs > (size_t)INT32_MAX / 4)
        return rr_error(RERANK_ERR_LIMIT, "cuda: batch of %zu tokens is too large", T);
    CU(cudaSetDevice(c->device));
    if ((st = reserve(c, T, n_pairs))) return st;
    pack(cfg, pairs, n_pairs, T, c->h_in);
    if ((st = run(c, T, n_pairs, max_n, layers))) {
        cudaStreamSynchronize(c->stream); /* leave nothing in flight on the buffers */
        return st;
    }
    memcpy(logits, c->h_logits, n_pairs * sizeof(float));
    return RERANK_OK;
}
