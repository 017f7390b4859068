/* common.c — small pieces several model families share. */
#include <math.h>

#include "common/error.h"
#include "families/family.h"

void rr_positions_from_zero(const rr_config_t *c, const int32_t *ids, int64_t n, int32_t *pos) {
    (void)c;
    (void)ids;
    for (int64_t i = 0; i < n; i++) pos[i] = (int32_t)i;
}

rerank_status_t rr_rope_build(rr_weights_t *w, double theta, double ntk_factor, int32_t dim, int32_t positions,
                              rr_rope_t *rope) {
    if (dim < 2 || dim % 2 || positions < 1 || !(theta > 1))
        return rr_error(RERANK_ERR_FORMAT, "rotary embeddings: head size %d, %d positions, theta %g", dim, positions,
                        theta);
    const int32_t half = dim / 2;
    float *cs = rr_weights_alloc(w, 2 * (size_t)positions * (size_t)half * sizeof *cs);
    if (!cs) return rr_error(RERANK_ERR_NOMEM, "out of memory for rotary tables of %d positions", positions);
    float *sn = cs + (size_t)positions * (size_t)half;
    for (int32_t i = 0; i < half; i++) {
        double inv = ntk_factor > 0 ? pow(theta * ntk_factor, -2.0 * i / dim) / pow(ntk_factor, 2.0 / dim)
                                    : pow(theta, -2.0 * i / dim);
        for (int32_t p = 0; p < positions; p++) {
            double a = (double)p * inv;
            cs[(size_t)p * half + i] = (float)cos(a);
            sn[(size_t)p * half + i] = (float)sin(a);
        }
    }
    *rope = (rr_rope_t){.cos = cs, .sin = sn, .dim = dim, .positions = positions};
    return RERANK_OK;
}

/* dst += linear(src) or ffn(src) (or neither), then ndst = norm(dst): the
 * backend's fused block where it has one, else the blocks one by one. */
static rerank_status_t residual_norm(const rr_run_t *r, const rr_residual_norm_t *rn) {
    if (r->B->residual_norm) return RR_BLOCK(r, residual_norm, rn);
    rerank_status_t st = RERANK_OK;
    if (rn->linear) st = RR_BLOCK(r, linear, rn->linear, rn->src, rn->dst, RR_EPI_ACC);
    else if (rn->ffn) st = RR_BLOCK(r, ffn, rn->ffn, rn->src, rn->dst);
    return st ? st : RR_BLOCK(r, norm, rn->norm, rn->dst, rn->ndst);
}

rerank_status_t rr_layer_post_norm(const rr_run_t *r, const rr_attn_t *attn, const rr_dense_t *o,
                                   const rr_norm_t *attn_norm, const rr_ffn_t *ffn, const rr_norm_t *ffn_norm) {
    rerank_status_t st;
    /* ctx = attention(x) */
    if ((st = RR_BLOCK(r, attention, attn, RR_ACT_X, RR_ACT_CTX))) return st;
    /* x = norm(x + ctx Wo + bo): the residual is added by the GEMM; the FFN reads x next */
    if ((st = residual_norm(r, &(rr_residual_norm_t){.linear = o, .src = RR_ACT_CTX, .dst = RR_ACT_X,
                                                      .norm = attn_norm, .ndst = RR_ACT_X, .feeds_gemm = 1})))
        return st;
    /* x = norm(x + ffn(x)) */
    return residual_norm(r, &(rr_residual_norm_t){.ffn = ffn, .src = RR_ACT_X, .dst = RR_ACT_X, .norm = ffn_norm,
                                                   .ndst = RR_ACT_X});
}

rerank_status_t rr_layer_pre_norm(const rr_run_t *r, const rr_norm_t *attn_norm, const rr_attn_t *attn,
                                  const rr_dense_t *o, const rr_norm_t *ffn_norm, const rr_ffn_t *ffn) {
    rerank_status_t st;
    /* h = norm(x), or x itself without a norm; attention's QKV GEMM reads it next */
    rr_act_t h = RR_ACT_X;
    if (attn_norm) {
        if ((st = residual_norm(r, &(rr_residual_norm_t){.dst = RR_ACT_X, .norm = attn_norm, .ndst = RR_ACT_H,
                                                          .feeds_gemm = 1})))
            return st;
        h = RR_ACT_H;
    }
    /* ctx = attention(h) */
    if ((st = RR_BLOCK(r, attention, attn, h, RR_ACT_CTX))) return st;
    /* x = x + ctx Wo (the residual is added by the GEMM); h = norm(x), read by the FFN next */
    if ((st = residual_norm(r, &(rr_residual_norm_t){.linear = o, .src = RR_ACT_CTX, .dst = RR_ACT_X,
                                                      .norm = ffn_norm, .ndst = RR_ACT_H, .feeds_gemm = 1})))
        return st;
    /* x = x + ffn(h) */
    return RR_BLOCK(r, ffn, ffn, RR_ACT_H, RR_ACT_X);
}

rerank_status_t rr_head_dense(const rr_run_t *r, rr_pooling_t how, const rr_dense_t *dense, rr_epilogue_t epi,
                              const rr_norm_t *norm, const rr_classifier_t *cls, float *logits) {
    rerank_status_t st;
    /* p = one row per pair; y = norm(epi(p Wd + bd)) */
    if ((st = RR_BLOCK(r, pool, how)) || (st = RR_BLOCK(r, linear, dense, RR_ACT_POOL, RR_ACT_HEAD, epi))) return st;
    if (norm && (st = RR_BLOCK(r, norm, norm, RR_ACT_HEAD, RR_ACT_HEAD))) return st;
    /* logit = classifier(y) */
    return RR_BLOCK(r, classify, cls, RR_ACT_HEAD, logits);
}
