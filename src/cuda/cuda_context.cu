/* cuda_context.cu — device discovery, the backend's create / destroy, its queries (name, compute type,
 * health, memory, launch count), and rr_blocks_cuda, the CUDA backend as engine/blocks.h describes it. Settings read from the environment at create (for A/B runs on a GPU):
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

#include "cuda/cuda_ctx.h"

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

extern "C" int rr_cuda_healthy(const rr_cuda_t *c) { return c && __atomic_load_n(&c->healthy, __ATOMIC_ACQUIRE); }

extern "C" size_t rr_cuda_memory_used(const rr_cuda_t *c) { return c ? c->dev_bytes : 0; }

extern "C" long rr_cuda_launch_count(const rr_cuda_t *c) { return c ? c->launches + c->gemm.launches : 0; }

extern "C" void rr_cuda_free(rr_cuda_t *c) {
    if (!c) return;
    if (cudaSetDevice(c->device) == cudaSuccess) {
        if (c->stream) cudaStreamSynchronize(c->stream); /* (no pass is in flight: its model is being freed) */
        rr_cu_pass_buffers_free(c, 1);
        for (int i = 0; i < 2; i++)
            if (c->in_done[i]) cudaEventDestroy(c->in_done[i]);
        for (int i = 0; i < RR_CU_TICKETS; i++)
            if (c->tk[i].done) cudaEventDestroy(c->tk[i].done);
        rr_cu_free_weights(c);
        rr_cu_gemm_destroy(&c->gemm);
        if (c->stream) cudaStreamDestroy(c->stream);
    } else {
        rr_free(c->allocs);
        rr_free(c->alloc_bytes);
        rr_free(c->dense);
        rr_free(c->tmap.key), rr_free(c->tmap.dt), rr_free(c->tmap.val);
        rr_cu_pass_buffers_free(c, 0);
    }
    rr_cu_tickets_destroy(c);
    rr_free(c->tape);
    rr_free(c);
}

rerank_status_t rr_cu_precision_types(rerank_precision_t p, rr_cu_dtype_t *dt, rr_cu_dtype_t *wdt) {
    switch (p) {
    case RERANK_PRECISION_FP32: /* fp16 storage, fp32 accumulation: fp32 names the accuracy class here */
    case RERANK_PRECISION_FP16: *dt = *wdt = RR_CU_F16; return RERANK_OK;
    case RERANK_PRECISION_BF16: *dt = *wdt = RR_CU_BF16; return RERANK_OK;
    case RERANK_PRECISION_FP8: *dt = RR_CU_F16, *wdt = RR_CU_E4M3; return RERANK_OK;
    default:
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: precision %s is not supported (fp32 or fp16 -> fp16, bf16, fp8)",
                        rerank_precision_str(p));
    }
}

/* What the device path does not have is refused at load where the config tells (the blocks refuse the
 * rest at their first use: cuda_blocks.cu). */
rerank_status_t rr_cu_check_config(const rr_config_t *cfg) {
    if (cfg->hidden < 1 || cfg->heads < 1 || cfg->layers < 1 || cfg->ffn < 1 || cfg->head_dim < 1)
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

static rerank_status_t create(rr_cuda_t *c, rr_weights_t *w) {
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
    for (int i = 0; i < RR_CU_TICKETS; i++) CU(cudaEventCreateWithFlags(&c->tk[i].done, cudaEventDisableTiming));
    if ((s = rr_cu_gemm_init(&c->gemm))) return s;
    c->dev_bytes += c->gemm.ws_size;
    if ((s = rr_cu_upload_dense(c, w))) return s;
    rr_cu_size_workspace(c);
    /* A GEMM the library cannot run should fail here, not on the first request: every layer shape with a
     * 16-bit output, and the residual layers' fp32 output (where FP8 has no fp32 output, they write fp16 and
     * the norm kernel reads that). */
    c->res_dt = RR_CU_F32;
    for (int32_t i = 0; i < c->n_dense; i++) {
        if (c->dense[i].fp32) continue;
        rr_cu_linear_t L = c->dense[i].L;
        L.out_dt = c->res_dt;
        if (c->wdt == RR_CU_E4M3 && c->res_dt == RR_CU_F32 &&
            rr_cu_gemm_prepare(&c->gemm, &L, 128) == RERANK_ERR_UNSUPPORTED)
            c->res_dt = c->dt;
        L.out_dt = c->res_dt;
        if (!(s = rr_cu_gemm_prepare(&c->gemm, &L, 128))) {
            L.out_dt = c->dt;
            s = rr_cu_gemm_prepare(&c->gemm, &L, 128);
        }
        if (s) {
            rr_error_prefix("%s (compute capability %d.%d), linear layer %d", prop.name, prop.major, prop.minor, (int)i);
            return s;
        }
    }
    c->healthy = 1;
    return RERANK_OK;
}

static rerank_status_t cuda_create(const rr_config_t *cfg, rr_weights_t *w, const rr_backend_opts_t *o, void **out) {
    *out = NULL;
    rr_cu_dtype_t dt, wdt;
    rerank_status_t s = rr_cu_precision_types(o->precision, &dt, &wdt);
    if (!s) s = rr_cu_check_config(cfg);
    if (s) return s;
    const int n = rr_cuda_available();
    if (n == 0) return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: no CUDA device found");
    if (o->device < 0 || o->device >= n)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "cuda: device %d does not exist (%d device%s)", o->device, n,
                        n == 1 ? "" : "s");
    rr_cuda_t *c = (rr_cuda_t *)rr_calloc(1, sizeof *c);
    if (!c) return rr_error(RERANK_ERR_NOMEM, "out of memory (cuda context)");
    if ((s = rr_cu_tickets_init(c))) {
        rr_free(c);
        return s;
    }
    c->device = o->device;
    c->dt = dt;
    c->wdt = wdt;
    c->precision = o->precision;
    c->cfg = cfg;
    if ((s = create(c, w))) {
        rr_cuda_free(c);
        return s;
    }
    *out = c;
    return RERANK_OK;
}

static void cuda_destroy(void *be) { rr_cuda_free((rr_cuda_t *)be); }
static const char *cuda_compute(const void *be) { return rr_cuda_compute((const rr_cuda_t *)be); }
static int64_t cuda_group_tokens(const void *be) { /* 0: the whole batch is one group */
    (void)be;
    return 0;
}
static size_t cuda_memory_used(const void *be) { return rr_cuda_memory_used((const rr_cuda_t *)be); }
static int cuda_healthy(const void *be) { return rr_cuda_healthy((const rr_cuda_t *)be); }

extern "C" const rr_blocks_t rr_blocks_cuda = {
    "cuda",
    cuda_create,
    cuda_destroy,
    cuda_compute,
    NULL, /* profile: the device runs asynchronously; bench reports whole passes */
    cuda_group_tokens,
    cuda_memory_used,
    cuda_healthy,
    rr_cu_begin,
    rr_cu_group,
    rr_cu_end,
    rr_cu_embed,
    rr_cu_norm_block,
    rr_cu_linear_block,
    rr_cu_attention_block,
    rr_cu_ffn,
    NULL, /* residual_norm: the engine calls linear / ffn, then norm (the lowering fuses them) */
    rr_cu_pool,
    rr_cu_classify,
    1, /* shares_prefix: the flash kernel reads a span's prefix keys from its parent's rows (cuda_chunks.cu) */
    rr_cu_end_async, /* the device computes pass k while the host packs and queues pass k + 1 */
    rr_cu_wait,
};
