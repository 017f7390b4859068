/* cuda_forward.cu — the end of a pass (rr_blocks_t.end, or end_async and wait): the family's blocks recorded
 * their steps (cuda_blocks.cu); upload what they name and the device does not have yet, cut the packed batch
 * into chunks of whole spans (at most c->chunk_tokens tokens, with the shared prefixes they read:
 * cuda_chunks.cu), and for each chunk
 *   pack ids | type ids | positions | cu_seqlens | prefixes into a pinned buffer (two of them, alternating),
 *   copy it in, run the steps (cuda_pass.cu; a CUDA graph for small chunks, cuda_graph.cu), copy the logits
 *   out into the pass's ticket;
 * everything is enqueued on the context's stream, so the host packs chunk k+1 while the GPU computes chunk
 * k. end_async returns there, with the ticket (an event after the last copy); wait synchronizes on that
 * event and hands the logits to the caller's pairs. The engine waits without its model lock, so the next
 * pass (another server batch) is packed and queued while this one computes: the stream orders the passes,
 * and each ticket has its own pinned logits. end is end_async then wait. The device workspace is sized for
 * the largest chunk of the call and kept (it only grows). When it does not fit in device memory, chunks
 * are halved and the call goes on; only a single pair that does not fit fails (RERANK_ERR_NOMEM). A sticky
 * device error marks the context unhealthy (rr_cuda_healthy) and every later pass fails at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_ctx.h"

void rr_cu_ws_release(rr_cuda_t *c) {
    if (c->ws.base) rr_cu_free(c, c->ws.base, c->ws.bytes);
    memset(&c->ws, 0, sizeof c->ws);
    rr_cu_graphs_clear(c);
}

/* Device buffers for T tokens and P pairs (kept when large enough; rounded up for fewer regrowths of
 * slowly growing batches, unless only the exact size fits). */
static rerank_status_t reserve_exact(rr_cuda_t *c, size_t capT, size_t capP);
static rerank_status_t reserve(rr_cuda_t *c, size_t T, size_t P) {
    rr_cu_ws_t *w = &c->ws;
    if (T <= w->cap_tokens && P <= w->cap_pairs && w->base) return RERANK_OK;
    const size_t capT = T > w->cap_tokens ? T : w->cap_tokens, capP = P > w->cap_pairs ? P : w->cap_pairs;
    const size_t upT = (capT + 255) & ~(size_t)255, upP = (capP + 63) & ~(size_t)63;
    rerank_status_t st = reserve_exact(c, upT, upP);
    if (st == RERANK_ERR_NOMEM && (upT > T || upP > P)) st = reserve_exact(c, T, P);
    return st;
}

static rerank_status_t reserve_exact(rr_cuda_t *c, size_t capT, size_t capP) {
    rr_cu_ws_t *w = &c->ws;
    const size_t H = (size_t)c->cfg->hidden, ds = rr_cu_dtype_size(c->dt), ws = rr_cu_dtype_size(c->wdt);
    const size_t sz[8] = {rr_cu_align(RR_CU_IN_VALUES(capT, capP) * sizeof(int32_t)),
                          rr_cu_align(capT * H * 4),
                          rr_cu_align(capT * H * 4),
                          rr_cu_align(capT * (size_t)c->xh_cols * ws),
                          rr_cu_align(capT * sizeof(float)),
                          rr_cu_align(capT * (size_t)c->wide_cols * ds),
                          rr_cu_align(capT * (size_t)c->ctx_cols * ds),
                          rr_cu_align(capP * sizeof(float))};
    size_t total = 0;
    for (int i = 0; i < 8; i++) total += sz[i];
    if (c->ws_limit && total > c->ws_limit)
        return rr_error(RERANK_ERR_NOMEM, "cuda: a workspace of %zu bytes for %zu tokens exceeds RERANK_CUDA_WORKSPACE_MB",
                        total, capT);
    CU(cudaStreamSynchronize(c->stream)); /* earlier chunks may still use the old buffers */
    rr_cu_ws_release(c);
    void *base = NULL;
    rerank_status_t st = rr_cu_malloc(c, &base, total, "the batch workspace");
    if (st) {
        rr_error_prefix("%zu tokens", capT);
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
    w->wide = p;             p += sz[5];
    w->ctx = p;              p += sz[6];
    w->d_logits = (float *)p;
    w->cap_tokens = capT;
    w->cap_pairs = capP;
    return RERANK_OK;
}

/* Pinned host buffers: the packed input of a chunk (n int32 values, buffer i); the chunking's scratch (n_mark
 * values, all zero). */
static rerank_status_t reserve_host(rr_cuda_t *c, size_t n_in, size_t n_mark) {
    if (n_mark > c->chunk_mark_cap) {
        int32_t *mk = (int32_t *)rr_realloc(c->chunk_mark, n_mark * sizeof *mk);
        if (!mk) return rr_error(RERANK_ERR_NOMEM, "out of memory chunking %zu shared prefixes", n_mark);
        memset(mk, 0, n_mark * sizeof *mk);
        c->chunk_mark = mk;
        c->chunk_mark_cap = n_mark;
    }
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
    return RERANK_OK;
}

rerank_status_t rr_cu_tickets_init(rr_cuda_t *c) {
    if (pthread_mutex_init(&c->mu, NULL)) return rr_error(RERANK_ERR_INTERNAL, "cuda: cannot create a mutex");
    if (pthread_cond_init(&c->tk_free, NULL)) {
        pthread_mutex_destroy(&c->mu);
        return rr_error(RERANK_ERR_INTERNAL, "cuda: cannot create a condition variable");
    }
    c->mu_ready = 1;
    return RERANK_OK;
}

void rr_cu_tickets_destroy(rr_cuda_t *c) {
    if (!c->mu_ready) return;
    pthread_cond_destroy(&c->tk_free);
    pthread_mutex_destroy(&c->mu);
    c->mu_ready = 0;
}

void rr_cu_pass_buffers_free(rr_cuda_t *c, int device) {
    if (device) { /* (pinned memory and the workspace need the device) */
        rr_cu_ws_release(c);
        for (int i = 0; i < 2; i++) {
            if (c->h_in[i]) cudaFreeHost(c->h_in[i]);
            c->h_in[i] = NULL;
        }
        c->h_in_cap = 0;
        for (int i = 0; i < RR_CU_TICKETS; i++) {
            if (c->tk[i].h_logits) cudaFreeHost(c->tk[i].h_logits);
            c->tk[i].h_logits = NULL;
            c->tk[i].cap = 0;
        }
    }
    for (int i = 0; i < RR_CU_TICKETS; i++) {
        rr_free(c->tk[i].idx);
        c->tk[i].idx = NULL;
        c->tk[i].cap_idx = 0;
    }
    rr_free(c->chunk_mark);
    c->chunk_mark = NULL;
    c->chunk_mark_cap = 0;
}

/* A free ticket, taken (waits while every ticket belongs to a pass not yet waited for: their threads wait
 * without the model lock, so one comes free). */
static rr_cu_ticket_t *ticket_take(rr_cuda_t *c) {
    pthread_mutex_lock(&c->mu);
    for (;;) {
        for (int i = 0; i < RR_CU_TICKETS; i++)
            if (!c->tk[i].busy) {
                c->tk[i].busy = 1;
                pthread_mutex_unlock(&c->mu);
                return &c->tk[i];
            }
        pthread_cond_wait(&c->tk_free, &c->mu);
    }
}

static void ticket_give(rr_cuda_t *c, rr_cu_ticket_t *t) {
    pthread_mutex_lock(&c->mu);
    t->busy = 0;
    pthread_cond_signal(&c->tk_free);
    pthread_mutex_unlock(&c->mu);
}

/* Room in t for a pass of n spans (its pinned logits are not in use: the ticket was free). */
static rerank_status_t ticket_reserve(rr_cu_ticket_t *t, size_t n) {
    if (n > t->cap_idx) {
        size_t *idx = (size_t *)rr_realloc(t->idx, n * sizeof *idx);
        if (!idx) return rr_error(RERANK_ERR_NOMEM, "out of memory for the logits of %zu pairs", n);
        t->idx = idx;
        t->cap_idx = n;
    }
    if (n > t->cap) {
        if (t->h_logits) cudaFreeHost(t->h_logits);
        t->h_logits = NULL;
        t->cap = 0;
        CU(cudaMallocHost((void **)&t->h_logits, n * sizeof(float)));
        t->cap = n;
    }
    return RERANK_OK;
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
static rerank_status_t plan_memory(rr_cuda_t *c, const rr_batch_t *b) {
    const int32_t longest = (int32_t)b->max_n;
    /* the scratch first: the chunking below reads it */
    rerank_status_t st = reserve_host(c, 0, b->n_prefix);
    if (st) return st;
    for (;;) {
        int64_t maxT = 0, maxP = 0;
        rr_cu_chunk_t ch;
        for (size_t a = b->n_prefix; a < b->n_pairs; a = ch.e) {
            int32_t sm;
            int64_t sT, sP;
            rr_cu_chunk_next(b, a, c->chunk_tokens, c->chunk_mark, &ch);
            shape_of(c, ch.tokens, ch.n_pre + ch.e - ch.a, ch.max_n, &sT, &sP, &sm);
            if (sT > maxT) maxT = sT;
            if (sP > maxP) maxP = sP;
        }
        st = reserve(c, (size_t)maxT, (size_t)maxP);
        if (!st) return reserve_host(c, RR_CU_IN_VALUES(maxT, maxP), b->n_prefix);
        if (st != RERANK_ERR_NOMEM || c->chunk_tokens <= (size_t)longest) return st; /* one pair does not fit */
        c->chunk_tokens = c->chunk_tokens / 2 > (size_t)longest ? c->chunk_tokens / 2 : (size_t)longest;
    }
}

/* A norm's weight (and a LayerNorm's bias) on the device. */
static rerank_status_t put_norm(rr_cuda_t *c, const rr_norm_t *n, const char *what) {
    rerank_status_t st = rr_cu_tensor_put(c, &n->g, RR_CU_F32, what);
    if (!st && n->kind == RR_NORM_LAYER) st = rr_cu_tensor_put(c, &n->b, RR_CU_F32, what);
    return st;
}

/* Every tensor the steps name on the device (uploaded by the first pass that uses it). */
rerank_status_t rr_cu_resolve(rr_cuda_t *c) {
    rerank_status_t st = RERANK_OK;
    for (size_t i = 0; i < c->n_ops && !st; i++) {
        const rr_cu_op_t *o = &c->tape[i];
        if (o->kind == RR_OP_EMBED) {
            const rr_embed_t *e = (const rr_embed_t *)o->desc;
            st = rr_cu_tensor_put(c, &e->word, c->dt, "word embeddings");
            if (!st && e->pos.p) st = rr_cu_tensor_put(c, &e->pos, RR_CU_F32, "position embeddings");
            if (!st && e->type.p) st = rr_cu_tensor_put(c, &e->type, RR_CU_F32, "token type embeddings");
            if (!st && e->norm) st = put_norm(c, e->norm, "embeddings norm");
        } else if (o->kind == RR_OP_NORM) {
            st = put_norm(c, (const rr_norm_t *)o->desc, "norm");
        } else if (o->kind == RR_OP_ATTN) {
            const rr_attn_t *a = (const rr_attn_t *)o->desc;
            const rr_tensor_t rc = rr_cu_rope_table(a->rope, 0), rs = rr_cu_rope_table(a->rope, 1);
            if (a->q_norm) st = put_norm(c, a->q_norm, "q norm");
            if (!st && a->k_norm) st = put_norm(c, a->k_norm, "k norm");
            if (!st && a->rope && !(st = rr_cu_tensor_put(c, &rc, RR_CU_F32, "rotary cos table")))
                st = rr_cu_tensor_put(c, &rs, RR_CU_F32, "rotary sin table");
        } else if (o->kind == RR_OP_CLASSIFY) {
            const rr_classifier_t *cl = (const rr_classifier_t *)o->desc;
            st = rr_cu_tensor_put(c, &cl->w, RR_CU_F32, "classifier weight");
            if (!st && (cl->b.p || o->arg == RR_CU_HEAD_BERT)) st = rr_cu_tensor_put(c, &cl->b, RR_CU_F32, "classifier bias");
        }
    }
    return st;
}

/* Enqueue the pass: every chunk copied in, run, its logits copied out into t's pinned buffer; t->done is
 * recorded after the last copy. Nothing here waits for the device (but growing a buffer in use). */
static rerank_status_t run(rr_cuda_t *c, rr_cu_ticket_t *t) {
    const rr_batch_t *b = c->b;
    rerank_status_t st = rr_cu_resolve(c);
    if (!st) st = plan_memory(c, b);
    if (!st) st = ticket_reserve(t, b->n_pairs);
    if (st) return st;
    cudaStream_t s = c->stream;
    size_t k = 0;
    rr_cu_chunk_t ch;
    for (size_t a = b->n_prefix; a < b->n_pairs; a = ch.e, k++) {
        int32_t sm;
        int64_t sT, sP;
        rr_cu_chunk_next(b, a, c->chunk_tokens, c->chunk_mark, &ch);
        const int graph = shape_of(c, ch.tokens, ch.n_pre + ch.e - ch.a, ch.max_n, &sT, &sP, &sm);
        const size_t n_in = RR_CU_IN_VALUES(sT, sP);
        int32_t *h = c->h_in[k & 1];
        CU(cudaEventSynchronize(c->in_done[k & 1])); /* chunk k - 2's copy from this buffer is done */
        rr_cu_chunk_pack(b, &ch, (size_t)sT, (size_t)sP, c->chunk_mark, h);
        CU(cudaMemcpyAsync(c->ws.d_in, h, n_in * sizeof(int32_t), cudaMemcpyHostToDevice, s));
        CU(cudaEventRecord(c->in_done[k & 1], s));
        st = graph ? rr_cu_graph_run(c, sT, sP, sm) : rr_cu_run_chunk(c, sT, sP, sm, 0);
        if (st && graph && st != RERANK_ERR_NOMEM && st != RERANK_ERR_UNSUPPORTED) {
            (void)cudaGetLastError(); /* capture trouble: go on without graphs */
            c->use_graphs = 0;
            rr_cu_graphs_clear(c);
            st = rr_cu_run_chunk(c, sT, sP, sm, 0);
        }
        if (st) return st;
        /* the chunk's own spans' logits (its prefixes' come first) */
        CU(cudaMemcpyAsync(t->h_logits + a, c->ws.d_logits + ch.n_pre, (ch.e - a) * sizeof(float),
                           cudaMemcpyDeviceToHost, s));
    }
    CU(cudaEventRecord(t->done, s));
    /* where the spans' logits go (prefixes have none) */
    t->first = b->n_prefix;
    t->n = b->n_pairs - b->n_prefix;
    for (size_t p = b->n_prefix; p < b->n_pairs; p++) t->idx[p - b->n_prefix] = b->sp[p].idx;
    return RERANK_OK;
}

rerank_status_t rr_cu_end_async(void *be, float *out, void **ticket) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    rerank_status_t st = RERANK_OK;
    *ticket = NULL;
    if (c->b && c->failed == 2) {
        st = rr_error(RERANK_ERR_UNSUPPORTED, "cuda: layer groups smaller than the batch (group_tokens is 0)");
    } else if (c->b && !c->failed && c->b->n_pairs > c->b->n_prefix) { /* (a refused block already said why) */
        if (!c->logits) {
            st = rr_error(RERANK_ERR_UNSUPPORTED, "cuda: the pass ended without a classify step");
        } else {
            rr_cu_ticket_t *t = ticket_take(c);
            const cudaError_t e = cudaSetDevice(c->device);
            st = e != cudaSuccess ? rr_cu_fail(e, "cudaSetDevice") : run(c, t);
            if (st) {
                st = rr_cu_note_failure(c, st); /* (synchronizes: no copy into t is left) */
                ticket_give(c, t);
            } else {
                t->out = out;
                *ticket = t;
            }
        }
    }
    c->b = NULL;
    c->n_ops = 0;
    c->logits = NULL;
    c->failed = 0;
    return st;
}

/* The pass's logits, once its copies are done, to out[idx]; the ticket is free again. No model lock. */
rerank_status_t rr_cu_wait(void *be, void *ticket) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    rr_cu_ticket_t *t = (rr_cu_ticket_t *)ticket;
    if (!t) return RERANK_OK;
    const cudaError_t e = cudaEventSynchronize(t->done);
    rerank_status_t st = RERANK_OK;
    if (e != cudaSuccess) {
        (void)cudaSetDevice(c->device); /* (this thread may not have run a pass) */
        st = rr_cu_note_failure(c, rr_cu_fail(e, "waiting for a pass"));
    } else {
        for (size_t i = 0; i < t->n; i++) t->out[t->idx[i]] = t->h_logits[t->first + i];
    }
    ticket_give(c, t);
    return st;
}

rerank_status_t rr_cu_end(void *be) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    void *t = NULL;
    rerank_status_t st = rr_cu_end_async(be, c->logits, &t);
    return st ? st : rr_cu_wait(be, t);
}
