/* cuda_stub.c — the CUDA backend in a build without CUDA (the default):
 * no devices, every entry point fails with RERANK_ERR_UNSUPPORTED. */
#include "common/error.h"
#include "cuda/cuda_backend.h"

#define NO_CUDA "rerank was built without CUDA (make CUDA=1)"

int rr_cuda_available(void) { return 0; }

rerank_status_t rr_cuda_create(const rr_config_t *cfg, const rr_weights_t *w, int device,
                               rerank_precision_t precision, rr_cuda_t **out) {
    if (out) *out = NULL;
    return rr_error(RERANK_ERR_UNSUPPORTED, NO_CUDA);
}

rerank_status_t rr_cuda_forward(rr_cuda_t *c, const rerank_pair_t *pairs, size_t n_pairs, int32_t layers,
                                float *logits) {
    return rr_error(RERANK_ERR_UNSUPPORTED, NO_CUDA);
}

void rr_cuda_free(rr_cuda_t *c) { (void)c; }

const char *rr_cuda_device_name(const rr_cuda_t *c) { return ""; }

const char *rr_cuda_compute(const rr_cuda_t *c) { return ""; }

rerank_status_t rr_cuda_attention_selftest(int device, int heads, int head_dim, const int32_t *lens, size_t n,
                                           int bf16, double *max_err_simple, double *max_err_tc) {
    return rr_error(RERANK_ERR_UNSUPPORTED, NO_CUDA);
}
