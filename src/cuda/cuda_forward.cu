/* cuda_forward.cu — rr_cuda_forward: validate the pairs, split them into chunks of whole pairs (at most
 * c->chunk_tokens tokens), and for each chunk
 *   pack ids | type ids | positions | cu_seqlens into a pinned buffer (two of them, alternating), copy it in,
 *   run the device pass (cuda_pass.cu; a CUDA graph for small chunks, cuda_graph.cu), copy the logits out;
 * everything is enqueued on the context's stream, so the host packs chunk k+1 while the GPU computes chunk
 * k; one synchronize at the end. The device workspace is sized for the largest chunk of the call and kept
 * (it only grows). When it does not fit in device memory, chunks are halved and the call goes on; only a
 * single pair that does not fit fails (RERANK_ERR_NOMEM). A sticky device error marks the context unhealthy
 * (rr_cuda_healthy) and every later call fails at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"

void rr_cu_ws_release(rr_cuda_t *c) {
    if (c->ws.base) rr_cu_free(c, c->ws.base, c->ws.bytes);
    memset(&c->ws, 0, sizeof c->ws);
    rr_cu_graphs_clear(c);
}

/* Device buffers for T tokens and P pairs (kept when large enough). */
static rerank_status_t reserve(rr_cuda_t *c, size_t T, size_t P) {
    rr_cu_ws_t *w = &c->ws;
    if (T <= w->cap_tokens && P <= w->cap_pairs && w->base) return RERANK_OK;
    size_t capT = T > w->cap_tokens ? T : w->cap_tokens, capP = P > w->cap_pairs ? P : w->cap_pairs;
    capT = (capT + 255) & ~(size_t)255; /* fewer regrowths for slowly growing batches */
    capP = (capP + 63) & ~(size_t)63;
    const size_t H = (size_t)c->cfg.hidden, I = (size_t)c->cfg.ffn, ds = rr_cu_dtype_size(c->dt),
                 ws = rr_cu_dtype_size(c->wdt), HI = H > I ? H : I;
    const size_t sz[10] = {rr_cu_align((3 * capT + capP + 1) * sizeof(int32_t)),
                           rr_cu_align(capT * H * 4),
                           rr_cu_align(capT * H * 4),
                           rr_cu_align(capT * HI * ws),
                           rr_cu_align(capT * sizeof(float)),
                           rr_cu_align(capT * 3 * H * ds),
                           rr_cu_align(capT * H * ds),
                           rr_cu_align(capT * I * ds),
                           rr_cu_align(capP * sizeof(float)),
                           0};
    size_t total = 0;
    for (int i = 0; i < 10; i++) total += sz[i];
    if (c->ws_limit && total > c->ws_limit)
        return rr_error(RERANK_ERR_NOMEM, "cuda: a workspace of %zu bytes for %zu tokens exceeds RERANK_CUDA_WORKSPACE_MB",
                        total, T);
    CU(cudaStreamSynchronize(c->stream)); /* earlier chunks may still use the old buffers */
    rr_cu_ws_release(c);
    void *base = NULL;
    rerank_status_t st = rr_cu_malloc(c, &base, total, "the batch workspace");
    if (st) {
        rr_error_prefix("%zu tokens", T);
        return st;
    }
    char *p = (char *)base;
    w->base = base;
    w->bytes = total;
    w->d_in = (int32_t *)p;  p += sz[0];
    w->x32 = (float *)p;     p += sz[1];
    w->y32 = (float *)p;     p += sz[2];
    w->xh = p;               p += sz[3];
    w->xs = (float *)p;      p += sz[4];
    w->qkv = p;              p += sz[5];
    w->ctx = p;              p += sz[6];
    w->ffn = p;              p += sz[7];
    w->d_logits = (float *)p;
    w->cap_tokens = capT;
    w->cap_pairs = capP;
    return RERANK_OK;
}

/* Pinned host buffers: the packed input of a chunk (n int32 values, buffer i) and the logits of a call. */
static rerank_status_t reserve_host(rr_cuda_t *c, size_t n_in, size_t n_logits) {
    if (n_in > c->h_in_cap) {
        for (int i = 0; i < 2; i++) {
            CU(cudaEventSynchronize(c->in_done[i])); /* no copy reads it any more */
            if (c->h_in[i]) cudaFreeHost(c->h_in[i]);
            c->h_in[i] = NULL;
        }
        c->h_in_cap = 0;
        for (int i = 0; i < 2; i++) CU(cudaMallocHost((void **)&c->h_in[i], n_in * sizeof(int32_t)));
        c->h_in_cap = n_in;
    }
    if (n_logits > c->h_logits_cap) {
        CU(cudaStreamSynchronize(c->stream));
        if (c->h_logits) cudaFreeHost(c->h_logits);
        c->h_logits = NULL;
        c->h_logits_cap = 0;
        CU(cudaMallocHost((void **)&c->h_logits, n_logits * sizeof(float)));
        c->h_logits_cap = n_logits;
    }
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

/* ids | types | positions | cu_seqlens for T (>= the pairs' tokens) tokens and P (>= n_pairs) pairs, as the
 * CPU engine computes them: BERT positions count from 0; RoBERTa counts non-padding tokens from pad_id + 1
 * and gives padding tokens pad_id. Tokens past the pairs (graph padding) get id / type / position 0 and
 * belong to no pair; pairs past n_pairs are empty. */
static void pack(const rr_config_t *cfg, const rerank_pair_t *pairs, size_t n_pairs, size_t T, size_t P,
                 int32_t *h) {
    int32_t *ids = h, *types = h + T, *pos = h + 2 * T, *cu = h + 3 * T;
    size_t at = 0;
    for (size_t p = 0; p < n_pairs; p++) {
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
    for (size_t p = n_pairs; p <= P; p++) cu[p] = (int32_t)at;
    for (; at < T; at++) ids[at] = types[at] = pos[at] = 0;
}

/* The chunk starting at pair a: pairs [a, *b), *tokens of them, the longest *max_n. */
static void next_chunk(const rerank_pair_t *pairs, size_t n_pairs, size_t a, size_t cap, size_t *b, size_t *tokens,
                       int32_t *max_n) {
    size_t e = a, t = 0;
    int32_t m = 0;
    while (e < n_pairs && (e == a || t + (size_t)pairs[e].n <= cap)) {
        t += (size_t)pairs[e].n;
        if (pairs[e].n > m) m = pairs[e].n;
        e++;
    }
    *b = e;
    *tokens = t;
    *max_n = m;
}

/* Shape the device sees for a chunk: bucketed for graphs, else exact. */
static int shape_of(const rr_cuda_t *c, size_t T, size_t P, int32_t max_n, int64_t *sT, int64_t *sP, int32_t *smax) {
    if (rr_cu_graph_bucket(c, (int64_t)T, (int64_t)P, max_n, sT, sP, smax)) return 1;
    *sT = (int64_t)T;
    *sP = (int64_t)P;
    *smax = max_n;
    return 0;
}

/* Size the device workspace and the pinned buffers for the largest chunk, halving the chunk size while the
 * workspace does not fit in device memory. */
static rerank_status_t plan_memory(rr_cuda_t *c, const rerank_pair_t *pairs, size_t n_pairs) {
    int32_t longest = 0;
    for (size_t i = 0; i < n_pairs; i++)
        if (pairs[i].n > longest) longest = pairs[i].n;
    for (;;) {
        int64_t maxT = 0, maxP = 0;
        for (size_t a = 0, b, t; a < n_pairs; a = b) {
            int32_t m, sm;
            int64_t sT, sP;
            next_chunk(pairs, n_pairs, a, c->chunk_tokens, &b, &t, &m);
            shape_of(c, t, b - a, m, &sT, &sP, &sm);
            if (sT > maxT) maxT = sT;
            if (sP > maxP) maxP = sP;
        }
        rerank_status_t st = reserve(c, (size_t)maxT, (size_t)maxP);
        if (!st) return reserve_host(c, 3 * (size_t)maxT + (size_t)maxP + 1, n_pairs);
        if (st != RERANK_ERR_NOMEM || c->chunk_tokens <= (size_t)longest) return st; /* one pair does not fit */
        c->chunk_tokens = c->chunk_tokens / 2 > (size_t)longest ? c->chunk_tokens / 2 : (size_t)longest;
    }
}

static rerank_status_t run(rr_cuda_t *c, const rerank_pair_t *pairs, size_t n_pairs, int32_t layers) {
    rerank_status_t st = plan_memory(c, pairs, n_pairs);
    if (st) return st;
    cudaStream_t s = c->stream;
    size_t k = 0;
    for (size_t a = 0, b, t; a < n_pairs; a = b, k++) {
        int32_t m, sm;
        int64_t sT, sP;
        next_chunk(pairs, n_pairs, a, c->chunk_tokens, &b, &t, &m);
        const int graph = shape_of(c, t, b - a, m, &sT, &sP, &sm);
        const size_t n_in = 3 * (size_t)sT + (size_t)sP + 1;
        int32_t *h = c->h_in[k & 1];
        CU(cudaEventSynchronize(c->in_done[k & 1])); /* chunk k - 2's copy from this buffer is done */
        pack(&c->cfg, pairs + a, b - a, (size_t)sT, (size_t)sP, h);
        CU(cudaMemcpyAsync(c->ws.d_in, h, n_in * sizeof(int32_t), cudaMemcpyHostToDevice, s));
        CU(cudaEventRecord(c->in_done[k & 1], s));
        st = graph ? rr_cu_graph_run(c, sT, sP, sm, layers) : rr_cu_forward_chunk(c, sT, sP, sm, layers);
        if (st && graph && st != RERANK_ERR_NOMEM) { /* capture trouble: go on without graphs */
            (void)cudaGetLastError();
            c->use_graphs = 0;
            rr_cu_graphs_clear(c);
            st = rr_cu_forward_chunk(c, sT, sP, sm, layers);
        }
        if (st) return st;
        CU(cudaMemcpyAsync(c->h_logits + a, c->ws.d_logits, (b - a) * sizeof(float), cudaMemcpyDeviceToHost, s));
    }
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
    rerank_status_t st;
    for (size_t p = 0; p < n_pairs; p++) {
        if ((st = check_pair(cfg, &pairs[p], p))) return st;
        T += (size_t)pairs[p].n;
    }
    if (T > (size_t)INT32_MAX / 4 || n_pairs > (size_t)INT32_MAX / 4)
        return rr_error(RERANK_ERR_LIMIT, "cuda: batch of %zu tokens is too large", T);
    if (!c->healthy)
        return rr_error(RERANK_ERR_INTERNAL, "cuda: %s had an unrecoverable error earlier (%s); reload the model",
                        c->name, c->fault);
    CU(cudaSetDevice(c->device));
    if ((st = run(c, pairs, n_pairs, layers))) return rr_cu_note_failure(c, st);
    memcpy(logits, c->h_logits, n_pairs * sizeof(float));
    return RERANK_OK;
}
