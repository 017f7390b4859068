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

void rr_cuda_free(rr_cuda_t *c) { (void)c; }

const char *rr_cuda_compute(const rr_cuda_t *c) { return ""; }

const char *rr_cuda_device_name(const rr_cuda_t *c) { return ""; }

int rr_cuda_healthy(const rr_cuda_t *c) { return 0; }

size_t rr_cuda_memory_used(const rr_cuda_t *c) { return 0; }

long rr_cuda_launch_count(const rr_cuda_t *c) { return 0; }

rerank_status_t rr_cuda_attention_selftest(int device, const rr_cuda_attn_case_t *t, const int32_t *lens, size_t n,
                                           double *max_err) {
    return rr_error(RERANK_ERR_UNSUPPORTED, NO_CUDA);
}

rerank_status_t rr_cuda_attention_bench(int device, const rr_cuda_attn_case_t *t, const int32_t *lens, size_t n,
                                        int reps, double *ms) {
    return rr_error(RERANK_ERR_UNSUPPORTED, NO_CUDA);
}

rerank_status_t rr_cuda_rows_selftest(int device, int bf16, char *report, size_t cap, double *worst) {
    return rr_error(RERANK_ERR_UNSUPPORTED, NO_CUDA);
}

rerank_status_t rr_cuda_fp8_gemm_selftest(int device, int n, int out, int in, int tensor_w, double *err_q,
                                          double *err_full) {
    return rr_error(RERANK_ERR_UNSUPPORTED, NO_CUDA);
}

rerank_status_t rr_cuda_gemm_bench(int device, int type, int m, int n, int k, double *tflops) {
    return rr_error(RERANK_ERR_UNSUPPORTED, NO_CUDA);
}

rerank_status_t rr_cuda_inject_fault(rr_cuda_t *c) { return rr_error(RERANK_ERR_UNSUPPORTED, NO_CUDA); }
