/* cuda_context.cu — device discovery, context create / free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"

rerank_status_t rr_cu_fail(cudaError_t e, const char *call) {
    return rr_error(RERANK_ERR_INTERNAL, "cuda: %s: %s", call, cudaGetErrorString(e));
}

extern "C" int rr_cuda_available(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); /* no driver / no device: not sticky, clear it */
        return 0;
    }
    return n > 0 ? n : 0;
}

extern "C" const char *rr_cuda_device_name(const rr_cuda_t *c) { return c ? c->name : ""; }

extern "C" const char *rr_cuda_compute(const rr_cuda_t *c) {
    return !c ? "" : c->dt == RR_CU_BF16 ? "bf16" : "fp16";
}

extern "C" void rr_cuda_free(rr_cuda_t *c) {
    if (!c) return;
    if (cudaSetDevice(c->device) == cudaSuccess) {
        if (c->stream) cudaStreamSynchronize(c->stream);
        if (c->ws) cudaFree(c->ws);
        if (c->h_in) cudaFreeHost(c->h_in);
        if (c->h_logits) cudaFreeHost(c->h_logits);
        rr_cu_free_weights(c);
        rr_cu_gemm_destroy(&c->gemm);
        if (c->stream) cudaStreamDestroy(c->stream);
    } else {
        rr_free(c->allocs);
        rr_free(c->layer);
    }
    rr_free(c);
}

static rerank_status_t check_config(const rr_config_t *cfg) {
    if (cfg->hidden < 1 || cfg->heads < 1 || cfg->layers < 1 || cfg->ffn < 1 || cfg->head_dim * cfg->heads != cfg->hidden)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cuda: inconsistent model dimensions");
    if (cfg->head_dim > RR_CU_ATTN_MAX_D)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: head_dim %d is not supported (at most %d)", (int)cfg->head_dim,
                        RR_CU_ATTN_MAX_D);
    if (cfg->num_labels != 1)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: %d labels (only single-logit heads)", (int)cfg->num_labels);
    return RERANK_OK;
}

static rerank_status_t create(rr_cuda_t *c, const rr_weights_t *w) {
    cudaDeviceProp prop;
    CU(cudaSetDevice(c->device));
    CU(cudaGetDeviceProperties(&prop, c->device));
    snprintf(c->name, sizeof c->name, "%s", prop.name);
    if (prop.major < 8)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: %s has compute capability %d.%d; rerank needs 8.0 or newer",
                        prop.name, prop.major, prop.minor);
    CU(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    rerank_status_t s = rr_cu_gemm_init(&c->gemm, c->dt, c->cfg.hidden, c->cfg.ffn);
    if (s) return s;
    if ((s = rr_cu_upload_weights(c, w))) return s;
    /* RERANK_CUDA_ATTN=simple forces the CUDA-core attention kernel. */
    const char *attn = getenv("RERANK_CUDA_ATTN");
    c->attn_tc = rr_cu_attention_tc_ok(c->cfg.head_dim) && !(attn && !strcmp(attn, "simple"));
    return RERANK_OK;
}

extern "C" rerank_status_t rr_cuda_create(const rr_config_t *cfg, const rr_weights_t *w, int device,
                                          rerank_precision_t precision, rr_cuda_t **out) {
    if (!out) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rr_cuda_create: out is NULL");
    *out = NULL;
    if (!cfg || !w) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rr_cuda_create: cfg or weights is NULL");
    rr_cu_dtype_t dt;
    switch (precision) {
    case RERANK_PRECISION_FP32: /* fp16 storage, fp32 accumulation */
    case RERANK_PRECISION_FP16: dt = RR_CU_F16; break;
    case RERANK_PRECISION_BF16: dt = RR_CU_BF16; break;
    default:
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: precision %s is not supported (fp16, bf16; fp32 computes in fp16)",
                        rerank_precision_str(precision));
    }
    rerank_status_t s = check_config(cfg);
    if (s) return s;
    const int n = rr_cuda_available();
    if (n == 0) return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: no CUDA device found");
    if (device < 0 || device >= n)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cuda: device %d does not exist (%d device%s)", device, n,
                        n == 1 ? "" : "s");
    rr_cuda_t *c = (rr_cuda_t *)rr_calloc(1, sizeof *c);
    if (!c) return rr_error(RERANK_ERR_NOMEM, "out of memory (cuda context)");
    c->device = device;
    c->dt = dt;
    c->cfg = *cfg;
    if ((s = create(c, w))) {
        rr_cuda_free(c);
        return s;
    }
    *out = c;
    return RERANK_OK;
}
