/* cuda_stub.c — the CUDA backend in a build without CUDA (the default):
 * no devices, every entry point fails with RERANK_ERR_UNSUPPORTED. */
#include "common/error.h"
#include "cuda/cuda_backend.h"

#define NO_CUDA "rerank was built without CUDA (make CUDA=1)"

int rr_cuda_available(void) { return 0; }

static rerank_status_t stub_create(const rr_config_t *cfg, rr_weights_t *w, const rr_backend_opts_t *o, void **be) {
    (void)cfg, (void)w, (void)o;
    *be = NULL;
    return rr_error(RERANK_ERR_UNSUPPORTED, NO_CUDA);
}

static void stub_destroy(void *be) { (void)be; }

const rr_blocks_t rr_blocks_cuda = {.name = "cuda", .create = stub_create, .destroy = stub_destroy};

rerank_status_t rr_cuda_attention_selftest(int device, int heads, int head_dim, const int32_t *lens, size_t n,
                                           int bf16, double *max_err_simple, double *max_err_tc) {
    return rr_error(RERANK_ERR_UNSUPPORTED, NO_CUDA);
}
