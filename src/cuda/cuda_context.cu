/* cuda_context.cu — device discovery, context create / free, and the context's queries (name, compute type,
 * health, memory, launch count). Settings read from the environment at create (for A/B runs on a GPU):
 *   RERANK_CUDA_ATTN          flash (default) | flash8 | legacy | simple   attention kernel
 *   RERANK_CUDA_GRAPHS        0: no CUDA graphs for small chunks
 *   RERANK_CUDA_CHUNK_TOKENS  most tokens per device pass (default 8192, at least 512)
 *   RERANK_CUDA_WORKSPACE_MB  cap on the batch workspace: larger ones are treated as out of memory (the
 *                             batch is split), as on a GPU that is nearly full
 *   RERANK_CUDA_FP8_WEIGHTS   channel (default) | tensor: FP8 weight scales per output channel or per tensor
 *   RERANK_CUDA_FP8_FAST      1: cuBLASLt's FP8 fast accumulation (cuda_gemm.cu) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"

#define DEFAULT_CHUNK_TOKENS 8192

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
    return !c ? "" : c->wdt == RR_CU_E4M3 ? "fp8" : c->dt == RR_CU_BF16 ? "bf16" : "fp16";
}

extern "C" int rr_cuda_healthy(const rr_cuda_t *c) { return c && c->healthy; }

extern "C" size_t rr_cuda_memory_used(const rr_cuda_t *c) { return c ? c->dev_bytes : 0; }

extern "C" long rr_cuda_launch_count(const rr_cuda_t *c) { return c ? c->launches + c->gemm.launches : 0; }

extern "C" void rr_cuda_free(rr_cuda_t *c) {
    if (!c) return;
    if (cudaSetDevice(c->device) == cudaSuccess) {
        if (c->stream) cudaStreamSynchronize(c->stream);
        rr_cu_ws_release(c);
        for (int i = 0; i < 2; i++) {
            if (c->h_in[i]) cudaFreeHost(c->h_in[i]);
            if (c->in_done[i]) cudaEventDestroy(c->in_done[i]);
        }
        if (c->h_logits) cudaFreeHost(c->h_logits);
        rr_cu_free_weights(c);
        rr_cu_gemm_destroy(&c->gemm);
        if (c->stream) cudaStreamDestroy(c->stream);
    } else {
        rr_free(c->allocs);
        rr_free(c->alloc_bytes);
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
    if (cfg->hidden % 16 || cfg->ffn % 16 || cfg->ffn > RR_CU_MAX_ROW || cfg->hidden > RR_CU_MAX_ROW)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: hidden size %d / intermediate size %d: both must be multiples "
                        "of 16 up to %d", (int)cfg->hidden, (int)cfg->ffn, RR_CU_MAX_ROW);
    if (cfg->num_labels != 1)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: %d labels (only single-logit heads)", (int)cfg->num_labels);
    return RERANK_OK;
}

static rerank_status_t read_env(rr_cuda_t *c) {
    const int impl = rr_cu_attn_impl_from_env();
    if (impl < 0)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "RERANK_CUDA_ATTN='%.40s': expected flash, flash8, legacy or simple",
                        getenv("RERANK_CUDA_ATTN"));
    c->attn_impl = (rr_cu_attn_impl_t)impl;
    const char *g = getenv("RERANK_CUDA_GRAPHS");
    c->use_graphs = !(g && !strcmp(g, "0"));
    c->chunk_tokens = DEFAULT_CHUNK_TOKENS;
    const char *ct = getenv("RERANK_CUDA_CHUNK_TOKENS");
    if (ct && *ct) {
        char *end;
        const long v = strtol(ct, &end, 10);
        if (*end || v < 512 || v > (1L << 24))
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "RERANK_CUDA_CHUNK_TOKENS='%.40s': expected 512 .. %ld", ct,
                            1L << 24);
        c->chunk_tokens = (size_t)v;
    }
    const char *wm = getenv("RERANK_CUDA_WORKSPACE_MB");
    if (wm && *wm) {
        char *end;
        const long v = strtol(wm, &end, 10);
        if (*end || v < 1 || v > (1L << 20))
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "RERANK_CUDA_WORKSPACE_MB='%.40s': expected 1 .. %ld", wm,
                            1L << 20);
        c->ws_limit = (size_t)v << 20;
    }
    const char *fw = getenv("RERANK_CUDA_FP8_WEIGHTS");
    if (fw && *fw && strcmp(fw, "channel") && strcmp(fw, "tensor"))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "RERANK_CUDA_FP8_WEIGHTS='%.40s': expected channel or tensor", fw);
    c->fp8_tensor = fw && !strcmp(fw, "tensor");
    return RERANK_OK;
}

static rerank_status_t create(rr_cuda_t *c, const rr_weights_t *w) {
    cudaDeviceProp prop;
    CU(cudaSetDevice(c->device));
    CU(cudaGetDeviceProperties(&prop, c->device));
    snprintf(c->name, sizeof c->name, "%s", prop.name);
    c->cc_major = prop.major;
    c->cc_minor = prop.minor;
    if (prop.major < 8)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: %s has compute capability %d.%d; rerank needs 8.0 or newer",
                        prop.name, prop.major, prop.minor);
    if (c->wdt == RR_CU_E4M3 && prop.major * 10 + prop.minor < 89)
        return rr_error(RERANK_ERR_UNSUPPORTED, "fp8 is not supported by this GPU (%s, compute capability %d.%d; "
                        "FP8 needs 8.9 or newer: L4, L40, H100, H200)", prop.name, prop.major, prop.minor);
    rerank_status_t s = read_env(c);
    if (s) return s;
    CU(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    for (int i = 0; i < 2; i++) CU(cudaEventCreateWithFlags(&c->in_done[i], cudaEventDisableTiming));
    if ((s = rr_cu_gemm_init(&c->gemm))) return s;
    c->dev_bytes += c->gemm.ws_size;
    if ((s = rr_cu_upload_weights(c, w))) return s;
    c->attn = (rr_cu_attn_t){c->cfg.heads, c->cfg.heads, c->cfg.head_dim, 0, -1, 0.0f};
    /* An FP8 GEMM the library cannot run should fail here, not on the first request. Where it has no FP8
     * kernel with fp32 output, the residual layers write fp16 (the norm kernel reads either). */
    const rr_cu_layer_t *L = &c->layer[0];
    if (c->wdt == RR_CU_E4M3 && rr_cu_gemm_prepare(&c->gemm, &L->o, 128) == RERANK_ERR_UNSUPPORTED)
        for (int32_t l = 0; l < c->cfg.layers; l++) c->layer[l].o.out_dt = c->layer[l].down.out_dt = c->dt;
    if ((s = rr_cu_gemm_prepare(&c->gemm, &L->qkv, 128)) || (s = rr_cu_gemm_prepare(&c->gemm, &L->o, 128)) ||
        (s = rr_cu_gemm_prepare(&c->gemm, &L->up, 128)) || (s = rr_cu_gemm_prepare(&c->gemm, &L->down, 128))) {
        rr_error_prefix("%s (compute capability %d.%d)", prop.name, prop.major, prop.minor);
        return s;
    }
    c->healthy = 1;
    return RERANK_OK;
}

extern "C" rerank_status_t rr_cuda_create(const rr_config_t *cfg, const rr_weights_t *w, int device,
                                          rerank_precision_t precision, rr_cuda_t **out) {
    if (!out) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rr_cuda_create: out is NULL");
    *out = NULL;
    if (!cfg || !w) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rr_cuda_create: cfg or weights is NULL");
    rr_cu_dtype_t dt, wdt;
    switch (precision) {
    case RERANK_PRECISION_FP32: /* fp16 storage, fp32 accumulation: fp32 names the accuracy class here */
    case RERANK_PRECISION_FP16: dt = wdt = RR_CU_F16; break;
    case RERANK_PRECISION_BF16: dt = wdt = RR_CU_BF16; break;
    case RERANK_PRECISION_FP8: dt = RR_CU_F16, wdt = RR_CU_E4M3; break;
    default:
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: precision %s is not supported (fp32 or fp16 -> fp16, bf16, fp8)",
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
    c->wdt = wdt;
    c->precision = precision;
    c->cfg = *cfg;
    if ((s = create(c, w))) {
        rr_cuda_free(c);
        return s;
    }
    *out = c;
    return RERANK_OK;
}
