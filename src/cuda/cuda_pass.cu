/* cuda_pass.cu — the recorded steps of a pass (cuda_blocks.cu) on one packed chunk, all on c->stream. For
 * the BERT / XLM-R family the steps become
 *
 *   embed                  x32 = LN(word[id] + type[t] + pos[p]); xh = x32 in the GEMM input type (1 kernel)
 *   attention X -> CTX     wide = xh Wqkv^T + bqkv (cuBLASLt, bias epilogue); ctx = flash attention (wide)
 *   linear CTX -> X (acc)  [fp8: xh = E4M3 rows of ctx]; y32 = ctx Wo^T (cuBLASLt, fp32 out): pending
 *   norm X -> X            x32 = LN(x32 + y32 + bo), xh = x32 (the pending residual, one kernel)
 *   ffn X -> X             wide = xh W1^T; wide = gelu(wide + b1) (fp8: into xh as E4M3); y32 = . W2^T: pending
 *   norm X -> X            x32 = LN(x32 + y32 + b2), xh = x32
 *   pool, linear, classify logits = head(x32[first token of each pair]) (one fp32 kernel)
 *
 * so a layer is 8 launches (9 in fp8 mode), 4 of them GEMMs. Decoders and the rotary encoders add one
 * kernel after the QKV GEMM (per-head q / k RMSNorm and rotary positions, in place), and pooled heads
 * (Qwen3: last token, norm, yes - no; ModernBERT: mean, dense + GELU, norm) are one kernel too.
 * A residual linear layer or FFN leaves its output in y32 and the next norm adds it (x + y + b, then the
 * norm: post-norm into X, pre-norm into H, where X keeps the sum); xh holds the normalized rows in the GEMM
 * input type, so no step converts separately. Nothing here waits for the host, so the steps can be captured as a CUDA graph. */
#include <stdarg.h>
#include <stdio.h>

#include "cuda/cuda_ctx.h"

typedef enum held { HELD_NONE = 0, HELD_X, HELD_H } held_t;

/* What the steps so far left where. */
typedef struct pass {
    rr_cuda_t *c;
    int64_t T, P;
    int32_t max_n;
    int dry;
    held_t xh;            /* what xh holds in the GEMM input type */
    const float *pending; /* y32 waits to be added to X with this bias; NULL: nothing pending */
    int has_pending;
} pass_t;

/* Whether to launch: not in a dry pass, where a trace names the launch instead. */
static int launch(pass_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int launch(pass_t *p, const char *fmt, ...) {
    rr_cuda_t *c = p->c;
    if (!p->dry) {
        c->launches++;
        return 1;
    }
    if (p->dry == 2 && c->trace && c->trace_len + 1 < c->trace_cap) {
        va_list ap;
        va_start(ap, fmt);
        const int n = vsnprintf(c->trace + c->trace_len, c->trace_cap - c->trace_len, fmt, ap);
        va_end(ap);
        if (n > 0) c->trace_len = c->trace_len + (size_t)n < c->trace_cap ? c->trace_len + (size_t)n : c->trace_cap - 1;
    }
    return 0;
}

static const char *dt_name(rr_cu_dtype_t t) {
    return t == RR_CU_F16 ? "f16" : t == RR_CU_BF16 ? "bf16" : t == RR_CU_E4M3 ? "e4m3" : "f32";
}

static rerank_status_t gemm(pass_t *p, const rr_cu_dense_t *D, rr_cu_dtype_t out_dt, const void *bias,
                            const rr_cu_mat_t *x, void *y) {
    rr_cu_linear_t L = D->L;
    L.out_dt = out_dt;
    L.bias = bias;
    if (p->dry == 2) {
        launch(p, " gemm:%dx%d:%s>%s%s", (int)L.out, (int)L.in, dt_name(L.in_dt), dt_name(out_dt), bias ? "+b" : "");
        return RERANK_OK;
    }
    if (p->dry) return rr_cu_gemm_prepare(&p->c->gemm, &L, p->T);
    return rr_cu_linear(&p->c->gemm, &L, p->T, x, y, p->c->stream);
}

static rr_cu_mat_t xin_of(const rr_cuda_t *c) {
    return (rr_cu_mat_t){c->ws.xh, c->wdt, c->wdt == RR_CU_E4M3 ? c->ws.xs : NULL};
}

static rr_cu_norm_t norm_of(const rr_cuda_t *c, const rr_norm_t *n) {
    return (rr_cu_norm_t){(const float *)rr_cu_tensor_get(c, &n->g, RR_CU_F32),
                          n->kind == RR_NORM_RMS ? NULL : (const float *)rr_cu_tensor_get(c, &n->b, RR_CU_F32),
                          n->eps, n->kind == RR_NORM_RMS};
}

/* xh = the rows of `src` (X: converted from x32 if xh holds something else; H: must be there). */
static rerank_status_t need_input(pass_t *p, rr_act_t src) {
    rr_cuda_t *c = p->c;
    if (p->has_pending)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: a residual output must be normalized before the next layer "
                        "reads X");
    if (src == RR_ACT_H) {
        if (p->xh != HELD_H) return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: H read before a norm wrote it");
        return RERANK_OK;
    }
    if (p->xh == HELD_X) return RERANK_OK;
    const int64_t T = p->T, H = c->cfg->hidden;
    if (launch(p, c->wdt == RR_CU_E4M3 ? " quantize" : " convert")) {
        const rr_cu_mat_t xin = xin_of(c);
        rerank_status_t st = c->wdt == RR_CU_E4M3
                                 ? rr_cu_quantize_rows(c->ws.x32, RR_CU_F32, T, (int32_t)H, 0.0f, &xin, c->stream)
                                 : rr_cu_convert(c->ws.x32, RR_DT_F32, c->ws.xh, c->wdt, (size_t)(T * H), c->stream);
        if (st) return st;
    }
    p->xh = HELD_X;
    return RERANK_OK;
}

static rerank_status_t embed(pass_t *p, const rr_embed_t *e) {
    rr_cuda_t *c = p->c;
    const rr_cu_ws_t *w = &c->ws;
    p->xh = HELD_X;
    p->has_pending = 0;
    if (!launch(p, "%s>%s", e->norm ? "embed_norm" : "embed", dt_name(c->wdt))) return RERANK_OK;
    const int64_t T = p->T;
    const rr_cu_embed_t emb = {w->d_in, w->d_in + T, w->d_in + 2 * T, rr_cu_tensor_get(c, &e->word, c->dt), c->dt,
                               (const float *)rr_cu_tensor_get(c, &e->pos, RR_CU_F32),
                               (const float *)rr_cu_tensor_get(c, &e->type, RR_CU_F32)};
    const rr_cu_norm_t nm = e->norm ? norm_of(c, e->norm) : rr_cu_norm_t{NULL, NULL, 0.0f, 0};
    const rr_cu_mat_t xin = xin_of(c);
    return rr_cu_embed_norm(&emb, e->norm ? &nm : NULL, w->x32, T, c->cfg->hidden, &xin, c->stream);
}

/* The pending residual (if any) added into X, then the norm: into X (post-norm) or H (pre-norm). (A norm of
 * POOL or HEAD is a head's: its kernel applies it.) */
static rerank_status_t norm(pass_t *p, const rr_norm_t *n, rr_act_t src, rr_act_t dst) {
    rr_cuda_t *c = p->c;
    if (src == RR_ACT_POOL || src == RR_ACT_HEAD) return RERANK_OK;
    const int pending = p->has_pending;
    const float *bias = p->pending;
    p->has_pending = 0;
    p->pending = NULL;
    p->xh = dst == RR_ACT_H ? HELD_H : HELD_X;
    if (!launch(p, " %s%s>%s%s", pending ? "add_" : "", n->kind == RR_NORM_RMS ? "rmsnorm" : "layernorm",
                dst == RR_ACT_H ? "H" : "X", pending && bias ? "+b" : ""))
        return RERANK_OK;
    const rr_cu_norm_t nm = norm_of(c, n);
    const rr_cu_mat_t xin = xin_of(c);
    return rr_cu_add_norm(&nm, c->ws.x32, pending ? c->ws.y32 : NULL, c->res_dt, bias, dst == RR_ACT_H, p->T,
                          c->cfg->hidden, &xin, c->stream);
}

static rerank_status_t attention(pass_t *p, const rr_attn_t *a, rr_act_t src) {
    rr_cuda_t *c = p->c;
    rerank_status_t st = need_input(p, src);
    if (st) return st;
    const rr_cu_dense_t *D = &c->dense[a->qkv->id];
    const rr_cu_mat_t xin = xin_of(c);
    /* q | k | v = xh Wqkv^T + b (the bias in the epilogue) */
    if ((st = gemm(p, D, c->dt, D->bdt, &xin, c->ws.wide))) return st;
    /* q, k = rope(norm(q)), rope(norm(k)) per head, in place (decoders) */
    if ((a->q_norm || a->k_norm || a->rope) &&
        launch(p, " %s%s", a->q_norm || a->k_norm ? "qk_norm" : "qk", a->rope ? "_rope" : "")) {
        const rr_tensor_t rc = rr_cu_rope_table(a->rope, 0), rs = rr_cu_rope_table(a->rope, 1);
        const rr_cu_qk_t qk = {a->heads,
                               a->kv_heads,
                               a->head_dim,
                               a->q_norm ? (const float *)rr_cu_tensor_get(c, &a->q_norm->g, RR_CU_F32) : NULL,
                               a->k_norm ? (const float *)rr_cu_tensor_get(c, &a->k_norm->g, RR_CU_F32) : NULL,
                               a->q_norm ? a->q_norm->eps : a->k_norm ? a->k_norm->eps : 0.0f,
                               a->rope ? (const float *)rr_cu_tensor_get(c, &rc, RR_CU_F32) : NULL,
                               a->rope ? (const float *)rr_cu_tensor_get(c, &rs, RR_CU_F32) : NULL};
        if ((st = rr_cu_qk_norm_rope(c->ws.wide, c->dt, c->ws.d_in + 2 * p->T, p->T, &qk, c->stream))) return st;
    }
    /* ctx = softmax(q k^T * scale, masked) v per pair and head */
    if (!launch(p, " attention:%dx%d/%d%s", (int)a->heads, (int)a->head_dim, (int)a->kv_heads, a->causal ? ":causal" : ""))
        return RERANK_OK;
    const rr_cu_attn_t at = {a->heads, a->kv_heads, a->head_dim, a->causal, a->window > 0 ? a->window : -1, a->scale};
    const int32_t *cu = c->ws.d_in + 3 * p->T, *pre = cu + p->P + 1; /* shared-prefix keys (cuda_chunks.cu) */
    return rr_cu_attention(c->ws.wide, c->ws.ctx, cu, pre, p->P, p->max_n, &at, c->dt, c->attn_impl, c->stream);
}

/* y32 = ctx W^T, added into X (with the bias) by the next norm. */
static rerank_status_t residual_linear(pass_t *p, const rr_dense_t *d) {
    rr_cuda_t *c = p->c;
    if (p->has_pending) return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: two residual outputs without a norm between");
    const rr_cu_dense_t *D = &c->dense[d->id];
    const rr_cu_mat_t xin = xin_of(c), ctx = {c->ws.ctx, c->dt, NULL};
    rerank_status_t st;
    if (c->wdt == RR_CU_E4M3) { /* the GEMM reads E4M3 rows of ctx */
        p->xh = HELD_NONE;
        if (launch(p, " quantize") &&
            (st = rr_cu_quantize_rows(c->ws.ctx, c->dt, p->T, c->ctx_cols, 0.0f, &xin, c->stream)))
            return st;
    }
    if ((st = gemm(p, D, c->res_dt, NULL, c->wdt == RR_CU_E4M3 ? &xin : &ctx, c->ws.y32))) return st;
    p->has_pending = 1;
    p->pending = D->b32;
    return RERANK_OK;
}

/* y32 = act(xh W1^T + b1) W2^T (gated: act of the first half times the second, or of the second times the
 * first: GTE), added into X by the next
 * norm. The activation is written in place (wide), or into xh when it must differ from its input (gated) or
 * be E4M3 (fp8). */
static rerank_status_t ffn(pass_t *p, const rr_ffn_t *f, rr_act_t src) {
    rr_cuda_t *c = p->c;
    rerank_status_t st = need_input(p, src);
    if (st) return st;
    const rr_cu_dense_t *U = &c->dense[f->up->id], *Dn = &c->dense[f->down->id];
    const int32_t I = Dn->L.in;
    const int gated = f->gate != RR_GATE_NONE, in_xh = gated || c->wdt == RR_CU_E4M3;
    const rr_cu_mat_t xin = xin_of(c), wide = {c->ws.wide, c->dt, NULL};
    const rr_cu_mat_t act = in_xh ? xin : wide;
    if ((st = gemm(p, U, c->dt, NULL, &xin, c->ws.wide))) return st;
    const int mode = f->gate == RR_GATE_SECOND ? 2 : gated;
    if (launch(p, " bias_%s%s>%s", f->act == RR_FN_SILU ? "silu" : "gelu",
               mode == 2 ? "_gated_second" : gated ? "_gated" : "", dt_name(act.dt)) &&
        (st = rr_cu_bias_act(c->ws.wide, c->dt, U->b32, f->act == RR_FN_SILU ? RR_ACT_SILU : RR_ACT_GELU, mode, p->T,
                             I, &act, c->stream)))
        return st;
    if (in_xh) p->xh = HELD_NONE;
    if ((st = gemm(p, Dn, c->res_dt, NULL, &act, c->ws.y32))) return st;
    p->has_pending = 1;
    p->pending = Dn->b32;
    return RERANK_OK;
}

/* logits = b + w . tanh(Wd x[first token] + bd) per pair, from x32 (cuda_blocks.cu checked the pattern). */
static rerank_status_t classify(pass_t *p, const rr_classifier_t *cl, const rr_dense_t *d) {
    rr_cuda_t *c = p->c;
    if (p->has_pending) return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: the head reads X before its last norm");
    if (!launch(p, " head")) return RERANK_OK;
    const rr_cu_dense_t *D = &c->dense[d->id];
    return rr_cu_head(c->ws.x32, c->ws.d_in + 3 * p->T, p->P, c->cfg->hidden, (const float *)D->L.w, D->b32,
                      (const float *)rr_cu_tensor_get(c, &cl->w, RR_CU_F32),
                      (const float *)rr_cu_tensor_get(c, &cl->b, RR_CU_F32), c->ws.d_logits, c->stream);
}

/* A pooled head (cuda_blocks.cu checked its steps: pool, optional dense layer and norm, classify at tape[i]):
 * per pair, its first or last token of x32 or their mean, plus the pending residual, then the rest, in one
 * kernel. */
static rerank_status_t pooled_head(pass_t *p, const rr_classifier_t *cl, size_t i) {
    rr_cuda_t *c = p->c;
    rr_cu_head_steps_t h;
    if (!rr_cu_head_steps(c->tape, i, &h)) return rr_error(RERANK_ERR_INTERNAL, "cuda: the head's steps changed");
    const int pending = p->has_pending, pool = h.pool->arg;
    const float *bias = p->pending;
    p->has_pending = 0;
    p->pending = NULL;
    if (!launch(p, " %shead_%s%s%s%s%s", pending ? "add_" : "",
                pool == RR_POOL_LAST ? "last" : pool == RR_POOL_MEAN ? "mean" : "first",
                h.dense ? (h.epi == RR_EPI_GELU ? "_dense_gelu" : "_dense") : "",
                h.norm ? (h.norm->kind == RR_NORM_RMS ? "_rmsnorm" : "_layernorm") : "",
                cl->f == RR_FN_TANH ? "_tanh" : "", cl->w.rows == 2 ? "_yes_no" : ""))
        return RERANK_OK;
    const rr_cu_norm_t nm = h.norm ? norm_of(c, h.norm) : rr_cu_norm_t{NULL, NULL, 0.0f, 0};
    const rr_cu_dense_t *D = h.dense ? &c->dense[h.dense->id] : NULL;
    const rr_cu_pool_head_t ph = {c->ws.x32,
                                  pending ? c->ws.y32 : NULL,
                                  c->res_dt,
                                  bias,
                                  c->ws.d_in + 3 * p->T,
                                  pool == RR_POOL_LAST ? 1 : pool == RR_POOL_MEAN ? 2 : 0,
                                  D ? (const float *)D->L.w : NULL,
                                  D ? D->b32 : NULL,
                                  h.epi == RR_EPI_GELU,
                                  h.norm ? &nm : NULL,
                                  cl->f == RR_FN_TANH,
                                  (const float *)rr_cu_tensor_get(c, &cl->w, RR_CU_F32),
                                  cl->b.p ? (const float *)rr_cu_tensor_get(c, &cl->b, RR_CU_F32) : NULL,
                                  cl->w.rows};
    return rr_cu_pool_head(&ph, p->P, c->cfg->hidden, c->ws.d_logits, c->stream);
}

rerank_status_t rr_cu_run_chunk(rr_cuda_t *c, int64_t T, int64_t P, int32_t max_n, int dry) {
    pass_t p = {c, T, P, max_n, dry, HELD_NONE, NULL, 0};
    rerank_status_t st = RERANK_OK;
    for (size_t i = 0; i < c->n_ops && !st; i++) {
        const rr_cu_op_t *o = &c->tape[i];
        switch (o->kind) {
        case RR_OP_EMBED: st = embed(&p, (const rr_embed_t *)o->desc); break;
        case RR_OP_NORM: st = norm(&p, (const rr_norm_t *)o->desc, o->src, o->dst); break;
        case RR_OP_ATTN: st = attention(&p, (const rr_attn_t *)o->desc, o->src); break;
        case RR_OP_LINEAR:
            if (o->src == RR_ACT_CTX) st = residual_linear(&p, (const rr_dense_t *)o->desc);
            break; /* the head's layer runs with classify */
        case RR_OP_FFN: st = ffn(&p, (const rr_ffn_t *)o->desc, o->src); break;
        case RR_OP_POOL: break; /* the head kernels pool the rows themselves */
        case RR_OP_CLASSIFY:
            if (o->arg == RR_CU_HEAD_POOLED) st = pooled_head(&p, (const rr_classifier_t *)o->desc, i);
            else st = classify(&p, (const rr_classifier_t *)o->desc, (const rr_dense_t *)c->tape[i - 1].desc);
            break;
        }
    }
    return st;
}
