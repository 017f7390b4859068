/* rows_params.h — the row kernels' parameters (rows.cuh) from the launch functions' arguments
 * (cuda_internal.h): one place for the mapping, shared by cuda_rows.cu's launchers and the host versions
 * of tests/test_cuda_host.cc, so the host run checks the very parameters the GPU gets. C++ only. */
#ifndef RR_CUDA_ROWS_PARAMS_H
#define RR_CUDA_ROWS_PARAMS_H

#include "cuda/cuda_internal.h"
#include "cuda/rows.cuh"

namespace rr_rows {

/* The type code of a 16-bit or fp32 input the kernels take: 0 fp32, 1 fp16, 2 bf16. */
inline int dt_code(rr_cu_dtype_t t) { return t == RR_CU_F16 ? 1 : t == RR_CU_BF16 ? 2 : 0; }

inline out_desc out_of(const rr_cu_mat_t *m) {
    out_desc o;
    o.data = m->data;
    o.scale = m->dt == RR_CU_E4M3 ? m->scale : NULL;
    return o;
}

/* rr_cu_add_norm's; nm NULL: no norm (embeddings of a decoder). */
inline norm_params norm_params_of(const rr_cu_norm_t *nm, float *x, const void *y, rr_cu_dtype_t y_dt,
                                  const float *bias, int prenorm, int32_t w, const rr_cu_mat_t *out) {
    norm_params p;
    p.x = x;
    p.y = y;
    p.y_dt = dt_code(y_dt);
    p.bias = bias;
    p.gamma = nm ? nm->gamma : NULL;
    p.beta = nm && !nm->rms ? nm->beta : NULL;
    p.out = out_of(out);
    p.w = w;
    p.eps = nm ? nm->eps : 0.0f;
    p.rms = nm ? nm->rms : 0;
    p.prenorm = prenorm;
    return p;
}

inline embed_params embed_params_of(const rr_cu_embed_t *e, const rr_cu_norm_t *nm, float *x, int32_t w,
                                    const rr_cu_mat_t *out) {
    embed_params p;
    p.ids = e->ids;
    p.types = e->types;
    p.pos = e->pos;
    p.word = e->word;
    p.pemb = e->pemb;
    p.temb = e->temb;
    p.norm = norm_params_of(nm, x, NULL, RR_CU_F32, NULL, 0, w, out);
    return p;
}

/* gated: 0 none, 1 act of the first half, 2 of the second ([up | gate]). */
inline act_params act_params_of(const void *y, const float *bias, rr_cu_act_t act, int gated, int32_t w,
                                const rr_cu_mat_t *out) {
    act_params p;
    p.y = y;
    p.bias = bias;
    p.out = out_of(out);
    p.w = w;
    p.act = (int)act;
    p.gated = gated == 2 ? 2 : gated != 0;
    return p;
}

inline qk_params qk_params_of(void *qkv, const int32_t *pos, const rr_cu_qk_t *q) {
    qk_params p;
    p.qkv = qkv;
    p.pos = pos;
    p.q_gamma = q->q_gamma;
    p.k_gamma = q->k_gamma;
    p.eps = q->eps;
    p.cos = q->cos;
    p.sin = q->sin;
    p.hq = q->heads;
    p.hkv = q->kv_heads;
    p.d = q->head_dim;
    return p;
}

/* Threads of a q / k block: a warp per head, at most 8 warps (they loop over the rest). */
inline int qk_threads(const rr_cu_qk_t *q) {
    const int heads = q->heads + q->kv_heads;
    return 32 * (heads < 8 ? heads : 8);
}

inline head_params head_params_of(const rr_cu_pool_head_t *h, int32_t hidden, float *logits) {
    head_params p;
    p.x = h->x;
    p.y = h->y;
    p.y_dt = dt_code(h->y_dt);
    p.bias = h->bias;
    p.cu = h->cu;
    p.pool = h->pool;
    p.dw = h->dw;
    p.db = h->db;
    p.dact = h->dgelu ? HEAD_GELU : HEAD_NONE;
    p.gamma = h->nm ? h->nm->gamma : NULL;
    p.beta = h->nm && !h->nm->rms ? h->nm->beta : NULL;
    p.eps = h->nm ? h->nm->eps : 0.0f;
    p.rms = h->nm ? h->nm->rms : 0;
    p.cact = h->ctanh ? HEAD_TANH : HEAD_NONE;
    p.cw = h->cw;
    p.cb = h->cb;
    p.rows = h->rows;
    p.logits = logits;
    p.w = hidden;
    return p;
}

} /* namespace rr_rows */

#endif
