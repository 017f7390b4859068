/* cuda_adapter.c — the CUDA backend (src/cuda; a stub that reports
 * RERANK_ERR_UNSUPPORTED in builds without CUDA) behind rr_backend_t. */
#include "cuda/cuda_backend.h"
#include "engine/backend.h"

static rerank_status_t cuda_create(const rr_config_t *cfg, const rr_weights_t *w, const rr_backend_opts_t *o,
                                   void **out) {
    rr_cuda_t *c = NULL;
    rerank_status_t st = rr_cuda_create(cfg, w, o->device, o->precision, &c);
    *out = c;
    return st;
}

static rerank_status_t cuda_forward(void *ctx, const rerank_pair_t *pairs, size_t n_pairs, int32_t layers,
                                    float *logits) {
    return rr_cuda_forward(ctx, pairs, n_pairs, layers, logits);
}

static void cuda_destroy(void *ctx) { rr_cuda_free(ctx); }

static const char *cuda_compute(const void *ctx) { return rr_cuda_compute(ctx); }

const rr_backend_t rr_backend_cuda = {
    .name = "cuda",
    .create = cuda_create,
    .forward = cuda_forward,
    .destroy = cuda_destroy,
    .compute = cuda_compute,
};
