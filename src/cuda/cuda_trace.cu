/* cuda_trace.cu — rr_cuda_trace: a model family's forward pass on the CUDA blocks without a device. A context
 * is made with placeholder device pointers for the linear layers (their shapes and kinds as create would
 * upload them), the family's blocks record and validate their steps exactly as on a GPU, and the lowering
 * (cuda_pass.cu) names each launch instead of making it. So the tests check, on any machine with the CUDA
 * toolkit, what a pass becomes: which GEMMs with which types and epilogues, which kernels, in what order. */
#include <string.h>

extern "C" {
#include "families/family.h"
}
#include "cuda/cuda_ctx.h"

static char placeholder; /* stands for device memory nothing reads */

static rerank_status_t trace(rr_cuda_t *c, const struct rr_family *fam, rr_weights_t *w, int32_t layers,
                             const rerank_pair_t *pairs, size_t n, float *logits) {
    const rr_config_t *cfg = c->cfg;
    rerank_status_t st = rr_cu_check_config(cfg);
    if (st) return st;
    /* the linear layers as create uploads them (no bytes move) */
    c->dense = (rr_cu_dense_t *)rr_calloc(w->n_dense ? (size_t)w->n_dense : 1, sizeof *c->dense);
    if (!c->dense) return rr_error(RERANK_ERR_NOMEM, "out of memory for %d linear layers", (int)w->n_dense);
    c->n_dense = w->n_dense;
    for (int32_t i = 0; i < w->n_dense; i++) {
        const rr_dense_t *d = w->dense[i];
        rr_cu_dense_t *D = &c->dense[i];
        D->fp32 = d->keep_fp32;
        D->L = (rr_cu_linear_t){&placeholder, c->wdt == RR_CU_E4M3 ? (const float *)&placeholder : NULL, NULL,
                                d->w.rows, d->w.cols, D->fp32 ? RR_CU_F32 : c->wdt, c->dt};
        D->b32 = rr_cu_has_bias(d) ? (float *)&placeholder : NULL;
        D->bdt = D->fp32 || !rr_cu_has_bias(d) ? NULL : &placeholder;
    }
    rr_cu_size_workspace(c);

    /* the batch as the engine packs it (here in the caller's order) */
    int64_t tokens = 0, max_n = 0;
    for (size_t p = 0; p < n; p++) {
        tokens += pairs[p].n;
        if (pairs[p].n > max_n) max_n = pairs[p].n;
    }
    rr_span_t *sp = (rr_span_t *)rr_calloc(n, sizeof *sp);
    int32_t *pos = (int32_t *)rr_calloc(tokens ? (size_t)tokens : 1, sizeof *pos);
    if (!sp || !pos) {
        rr_free(sp), rr_free(pos);
        return rr_error(RERANK_ERR_NOMEM, "out of memory tracing %zu pairs", n);
    }
    for (size_t p = 0, at = 0; p < n; at += (size_t)pairs[p].n, p++) {
        sp[p] = (rr_span_t){(int64_t)at, pairs[p].n, p, 0, 0};
        if (pairs[p].n > 0 && pairs[p].ids) fam->positions(cfg, pairs[p].ids, pairs[p].n, pos + at);
    }
    const rr_batch_t b = {pairs, n, sp, pos, tokens, max_n, 0, 0, max_n}; /* no shared prefixes */

    /* the family's steps on the blocks, then the lowering of one chunk, traced */
    const rr_blocks_t *B = &rr_blocks_cuda;
    const rr_run_t r = {B, c, cfg, w->family};
    if (!(st = B->begin(c, &b, tokens))) {
        B->group(c, 0, n);
        st = fam->embed(&r);
        for (int32_t l = 0; l < layers && !st; l++) st = fam->layer(&r, l);
        if (!st) st = fam->head(&r, logits);
        if (!st && c->failed == 2) st = rr_error(RERANK_ERR_UNSUPPORTED, "cuda: layer groups smaller than the batch");
        if (!st && !c->logits) st = rr_error(RERANK_ERR_UNSUPPORTED, "cuda: the pass ended without a classify step");
        if (!st) st = rr_cu_run_chunk(c, tokens, (int64_t)n, (int32_t)max_n, 2);
    }
    c->b = NULL;
    rr_free(sp);
    rr_free(pos);
    return st;
}

extern "C" rerank_status_t rr_cuda_trace(const rr_config_t *cfg, const struct rr_family *family, rr_weights_t *w,
                                         rerank_precision_t precision, int32_t layers, const rerank_pair_t *pairs,
                                         size_t n, char *out, size_t cap) {
    if (out && cap) out[0] = 0;
    if (!cfg || !family || !w || !pairs || !n || !out || cap < 2)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rr_cuda_trace: a NULL or empty argument");
    if (layers < 0 || layers > cfg->layers)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "layers = %d must be in [0, %d]", (int)layers, (int)cfg->layers);
    rr_cuda_t *c = (rr_cuda_t *)rr_calloc(1, sizeof *c);
    float *logits = (float *)rr_calloc(n, sizeof *logits);
    rerank_status_t st;
    if (!c || !logits) {
        st = rr_error(RERANK_ERR_NOMEM, "out of memory (cuda trace)");
    } else {
        c->cfg = cfg;
        c->healthy = 1;
        c->res_dt = RR_CU_F32;
        c->trace = out;
        c->trace_cap = cap;
        if (!(st = rr_cu_precision_types(precision, &c->dt, &c->wdt)))
            st = trace(c, family, w, layers ? layers : cfg->layers, pairs, n, logits);
    }
    if (c) {
        rr_free(c->dense);
        rr_free(c->tape);
    }
    rr_free(c);
    rr_free(logits);
    return st;
}
